# control.sh - sourced (bash) by the system tests, after tests/lib/netns.sh: control clients
# that hang on to a daemon's control socket, to show that they cost its loop nothing.
#
#   hold_control SOCKET COMMAND...
#       COMMAND (a program or a shell function, run in this shell) while eight clients hold
#       connections to the Unix socket SOCKET: seven that never send a command and one that
#       sends `status` and never reads the reply. They are all connected before COMMAND
#       starts and closed when it ends. Returns COMMAND's status, or 1 (and says why) when
#       they cannot connect. A pathname socket is reached from any network namespace.

_HOLD_CONTROL_PY='
import socket, sys, time
held = []
for _ in range(7):
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    held.append(c)
greedy = socket.socket(socket.AF_UNIX)
greedy.connect(sys.argv[1])
greedy.sendall(b"status\n")
held.append(greedy)
print("held %d" % len(held), flush=True)
time.sleep(3600)
'

hold_control() {
	local sock=$1 out pid rc
	shift
	out=$(mktemp) || return 1
	spawn - python3 -c "$_HOLD_CONTROL_PY" "$sock" >"$out"
	pid=$SPAWNED_PID
	if ! wait_for 5 grep -qx "held 8" "$out"; then
		echo "hold_control: 8 clients could not connect to $sock"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rm -f "$out"
		return 1
	fi
	"$@"
	rc=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$out"
	return "$rc"
}
