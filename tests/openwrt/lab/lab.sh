#!/usr/bin/env bash
# lab.sh - run the OpenWrt userland that build.sh made, in namespaces of its own (as root).
#
#   lab.sh start [--net] [--luci] [--bind HOST:GUEST[:ro]]... [--dir DIR] [--no-logd]
#                [--procd-debug N] [--timeout SECONDS]
#       Starts a lab and prints its directory (default: a new /tmp/v6only-lab.XXXXXX). Returns
#       once `ubus call service list` works. Inside: an overlay over $V6ONLY_LAB/root (changes
#       stay in DIR), own mount, pid, uts and ipc namespaces (--net: a network namespace too,
#       with only lo), fresh /proc /sys /tmp /dev, and /sbin/lab-init as PID 1 running ubusd,
#       procd (service manager) and logd (unless --no-logd). --luci (implies --net) also
#       starts rpcd and uhttpd through their init scripts: LuCI on port 80 of the lab's network
#       (`lab.sh net DIR curl http://127.0.0.1/`), returning once uhttpd listens.
#   lab.sh exec DIR CMD [ARG...]   CMD inside the lab (environment: PATH, HOME, TERM); its status
#   lab.sh sh DIR ['SNIPPET']      busybox ash -c SNIPPET inside; without SNIPPET a login shell
#   lab.sh net DIR CMD [ARG...]    a HOST program in the lab's network namespace (--net labs)
#   lab.sh root DIR                the lab's / as seen from the host (while it runs)
#   lab.sh status DIR              exit status 0 when the lab runs
#   lab.sh stop DIR [--keep]       stops every process of the lab and removes DIR
#                                  (--keep: leaves DIR; DIR/ns/upper holds what the lab changed)
#   lab.sh run [START OPTIONS] -- CMD [ARG...]   start, exec CMD, stop; the status of CMD
#
# DIR/lab is /lab inside: put files for the lab in DIR/lab/share; logs are in DIR/lab/log
# (ubusd.log procd.log init.log). Several labs can run at once.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${V6ONLY_LAB:-/var/cache/v6only-lab}
LAB_PATH=/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "lab.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; }

# lab_pid DIR: host pid of the lab's PID 1 (checked to be ours), else fail
lab_pid() {
	local pid
	pid=$(cat "$1/pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -Eq 'lab-init|lab\.sh _inside' || return 1
	echo "$pid"
}
# alive PID: the process exists and is not a zombie
alive() {
	local state
	state=$({ awk '{print $3}' "/proc/$1/stat"; } 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}
lab_has_net() { grep -qx 'NET=1' "$1/state" 2>/dev/null; }

cmd_start() {
	local dir="" net=0 nologd=0 debug="" timeout=30 binds=() b luci=0
	while [ $# -gt 0 ]; do
		case $1 in
		--net) net=1 ;;
		--luci) luci=1 net=1 ;;
		--no-logd) nologd=1 ;;
		--dir) dir=${2:?--dir needs a directory}; shift ;;
		--bind) b=${2:?--bind needs HOST:GUEST[:ro]}; binds+=("$b"); shift ;;
		--procd-debug) debug=${2:?}; shift ;;
		--timeout) timeout=${2:?}; shift ;;
		*) die "start: unknown option '$1'" ;;
		esac
		shift
	done
	[ "$(id -u)" = 0 ] || die "start: must run as root"
	[ -x "$LAB/root/sbin/procd" ] || die "start: no lab built in $LAB (run tests/openwrt/lab/build.sh)"
	for b in ${binds[@]+"${binds[@]}"}; do
		[ -e "${b%%:*}" ] || die "start: --bind $b: ${b%%:*} does not exist"
	done
	if [ -n "$dir" ]; then mkdir -p "$dir"; else dir=$(mktemp -d /tmp/v6only-lab.XXXXXX); fi
	dir=$(cd "$dir" && pwd)
	! lab_pid "$dir" >/dev/null || die "start: a lab already runs in $dir"
	rm -rf "$dir/ns" "$dir/lab/log" "$dir/lab/ready" "$dir/pid"
	mkdir -p "$dir/ns/upper" "$dir/ns/work" "$dir/ns/root" "$dir/lab/log" "$dir/lab/share"
	{
		echo "NET=$net"
		printf 'LOWER=%q\nNOLOGD=%q\nDEBUG=%q\nLUCI=%q\n' "$LAB/root" "$nologd" "$debug" "$luci"
		echo -n 'BINDS=('
		for b in ${binds[@]+"${binds[@]}"}; do printf '%q ' "$b"; done
		echo ')'
	} >"$dir/state"

	local ns=(--mount --pid --uts --ipc --fork --propagation private)
	[ "$net" = 0 ] || ns+=(--net)
	setsid unshare "${ns[@]}" -- bash "$HERE/lab.sh" _inside "$dir" </dev/null >"$dir/lab/log/start.log" 2>&1 &
	echo $! >"$dir/unshare.pid"

	local tries=$((timeout * 20))
	until [ -e "$dir/lab/ready" ]; do
		tries=$((tries - 1))
		if [ -e "$dir/lab/log/init.err" ] || [ "$tries" -le 0 ] || ! kill -0 "$(cat "$dir/unshare.pid")" 2>/dev/null; then
			sleep 0.2
			{
				echo "lab.sh: the lab in $dir did not come up:"
				cat "$dir/lab/log/start.log" "$dir/lab/log/init.err" 2>/dev/null
				tail -n 15 "$dir/lab/log/procd.log" 2>/dev/null
			} >&2
			cmd_stop "$dir" --keep >/dev/null 2>&1 || true
			exit 1
		fi
		sleep 0.05
	done
	echo "$dir"
}

# Runs as PID 1 of the new namespaces, still seeing the host's filesystem: builds the lab's
# tree in DIR/ns/root and executes lab-init chrooted into it.
cmd__inside() {
	local dir=$1 M=$1/ns/root LOWER NOLOGD DEBUG BINDS NET LUCI=0 hostpid n b src dst mode
	# shellcheck disable=SC1091
	. "$dir/state"
	read -r hostpid _ </proc/self/stat # the host's /proc is still mounted: our host pid
	echo "$hostpid" >"$dir/pid"
	echo OpenWrt >/proc/sys/kernel/hostname # the new uts namespace's

	mount -t overlay v6only-lab -o "lowerdir=$LOWER,upperdir=$dir/ns/upper,workdir=$dir/ns/work" "$M"
	mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
	# reading /proc/kmsg consumes the host's kernel log: logd gets an empty file instead
	mount --bind /dev/null "$M/proc/kmsg"
	mount -t sysfs -o nosuid,nodev,noexec sysfs "$M/sys" 2>/dev/null || mount --rbind /sys "$M/sys"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/tmp"
	mount -t tmpfs -o mode=755,nosuid tmpfs "$M/dev"
	for n in null zero full random urandom tty net/tun; do
		[ -e "/dev/$n" ] || continue
		mkdir -p "$(dirname "$M/dev/$n")"
		touch "$M/dev/$n"
		mount --bind "/dev/$n" "$M/dev/$n"
	done
	mkdir -p "$M/dev/pts" "$M/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$M/dev/pts"
	ln -s pts/ptmx "$M/dev/ptmx"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/dev/shm"
	ln -s /proc/self/fd "$M/dev/fd"
	for n in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${n%%:*}" "$M/dev/${n#*:}"; done
	mount --bind "$dir/lab" "$M/lab"
	for b in ${BINDS[@]+"${BINDS[@]}"}; do
		IFS=: read -r src dst mode <<<"$b"
		dst=${dst:-$src}
		if [ -d "$src" ]; then
			mkdir -p "$M$dst"
		elif [ ! -e "$M$dst" ]; then
			mkdir -p "$(dirname "$M$dst")"
			touch "$M$dst"
		fi
		mount --bind "$src" "$M$dst"
		[ "$mode" != ro ] || mount -o remount,bind,ro "$M$dst"
	done
	cd "$M"
	exec env -i PATH=$LAB_PATH HOME=/root LAB_NO_LOGD="$NOLOGD" LAB_PROCD_DEBUG="$DEBUG" LAB_LUCI="$LUCI" \
		chroot "$M" /sbin/lab-init
}

# enter DIR: the nsenter options for the lab in DIR
enter() {
	local pid
	pid=$(lab_pid "$1") || die "no lab runs in $1"
	ENTER=(nsenter -t "$pid" -m -p -u -i -r -w)
	! lab_has_net "$1" || ENTER+=(-n)
}

cmd_exec() {
	local dir=${1:?usage: lab.sh exec DIR CMD [ARG...]}
	shift
	[ "${1:-}" != -- ] || shift
	[ $# -gt 0 ] || die "exec: no command"
	enter "$dir"
	exec "${ENTER[@]}" -- /usr/bin/env -i PATH=$LAB_PATH HOME=/root TERM="${TERM:-dumb}" "$@"
}

cmd_sh() {
	local dir=${1:?usage: lab.sh sh DIR [SNIPPET]}
	if [ $# -ge 2 ]; then cmd_exec "$dir" /bin/sh -c "$2"; else cmd_exec "$dir" /bin/sh -l; fi
}

cmd_net() {
	local dir=${1:?usage: lab.sh net DIR CMD [ARG...]} pid
	shift
	[ "${1:-}" != -- ] || shift
	[ $# -gt 0 ] || die "net: no command"
	pid=$(lab_pid "$dir") || die "no lab runs in $dir"
	lab_has_net "$dir" || die "net: the lab in $dir shares the host's network (start it with --net)"
	exec nsenter -t "$pid" -n -- "$@"
}

cmd_root() {
	local pid
	pid=$(lab_pid "${1:?usage: lab.sh root DIR}") || die "no lab runs in $1"
	echo "/proc/$pid/root"
}

cmd_status() { lab_pid "${1:?usage: lab.sh status DIR}" >/dev/null; }

cmd_stop() {
	local dir=${1:?usage: lab.sh stop DIR [--keep]} keep=0 pid upid n
	[ "${2:-}" != --keep ] || keep=1
	[ -f "$dir/state" ] || die "stop: $dir is not a lab directory"
	if pid=$(lab_pid "$dir"); then
		kill -TERM "$pid" 2>/dev/null || true # lab-init TERMs the others and exits
		for n in $(seq 40); do alive "$pid" || break; sleep 0.05; done
		# PID 1 gone = the kernel kills the rest of its pid namespace
		! alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	# unshare holds the mount namespace (the overlay) until it exits; once it is a zombie, that is
	# gone too (its reaper is whoever adopted it, not us)
	upid=$(cat "$dir/unshare.pid" 2>/dev/null || true)
	if [ -n "$upid" ]; then
		for n in $(seq 100); do alive "$upid" || break; sleep 0.05; done
	fi
	rm -f "$dir/pid"
	[ "$keep" = 1 ] || rm -rf "$dir"
}

cmd_run() {
	local opts=() dir rc=0
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ "${1:-}" != -- ] || shift
	[ $# -gt 0 ] || die "run: no command (lab.sh run [options] -- CMD ...)"
	dir=$(cmd_start ${opts[@]+"${opts[@]}"})
	(cmd_exec "$dir" "$@") || rc=$?
	cmd_stop "$dir"
	return "$rc"
}

sub=${1:-}
[ $# -eq 0 ] || shift
case $sub in
start) cmd_start "$@" ;;
_inside) cmd__inside "$@" ;;
exec) cmd_exec "$@" ;;
sh) cmd_sh "$@" ;;
net) cmd_net "$@" ;;
root) cmd_root "$@" ;;
status) cmd_status "$@" ;;
stop) cmd_stop "$@" ;;
run) cmd_run "$@" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
