# netns.sh - sourced (bash) by the system tests (through tests/system/lib.sh) and the benches:
# network namespaces, background processes and scratch directories that go away however the
# script ends (normal exit, a failed setup, Ctrl-C), and the binaries and Debian packages a
# script needs.
#
#   need_root                  exit unless root
#   need_pkgs PACKAGE...       install the missing Debian packages (ci/apt.sh), or exit
#   need_bin VAR CRATE         the binary of CRATE in VAR: $VAR as given, else $BIN_DIR/CRATE,
#                              else a host release build (target/h-CRATE); absolute; or exit
#   netns_add NAME...          fresh namespaces with lo up; deleted at exit, with every process
#                              still running in them
#   netns_adopt NAME PID       the network namespace of process PID (e.g. an OpenWrt lab's) as
#                              NAME for ip -n / ip netns exec; NAME removed at exit, with every
#                              process still running in that namespace
#   veth NS1 DEV1 NS2 DEV2     a veth pair from NS1 to NS2, both ends up
#   spawn NS|- COMMAND...      COMMAND in the background in namespace NS (- : this one); its pid
#                              in SPAWNED_PID (and $!); stopped at exit
#   workdir VAR PREFIX         a new directory /tmp/PREFIX.XXXXXX in VAR; removed at exit
#   at_exit 'COMMAND'          more to do at exit; runs first, last registered first
#   wait_for SECONDS CMD...    poll CMD every 0.1 s until it succeeds (0) or time is up (1)
#   die MESSAGE                the message on stderr, exit 1 (the system tests' lib.sh makes
#                              it a failed "setup" check)
#
# A script that sources this sets no EXIT trap of its own: at_exit is the way in.

_NETNS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$_NETNS_REPO/ci/apt.sh"

_NETNS=()
_SPAWNED=()
_WORKDIRS=()
_AT_EXIT=()
SPAWNED_PID=""

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root"
}

need_pkgs() {
	apt_install "$@" || die "cannot install the Debian packages: $*"
}

need_bin() {
	local var=$1 crate=$2 path=${!1:-}
	if [ -z "$path" ] && [ -n "${BIN_DIR:-}" ]; then
		path=$BIN_DIR/$crate
	fi
	if [ -z "$path" ]; then
		local target=${CARGO_TARGET_DIR:-$_NETNS_REPO/target/h-$crate}
		echo "building $crate (host, release) in $target" >&2
		(cd "$_NETNS_REPO" && CARGO_TARGET_DIR=$target cargo build -q --release -p "$crate") ||
			die "cannot build $crate (or set $var or BIN_DIR)"
		path=$target/release/$crate
	fi
	[ -x "$path" ] || die "no $crate binary at $path (set $var or BIN_DIR)"
	path=$(cd "$(dirname "$path")" && pwd)/$(basename "$path")
	printf -v "$var" '%s' "$path"
}

netns_add() {
	local ns
	for ns in "$@"; do
		ip netns add "$ns" || die "ip netns add $ns"
		_NETNS+=("$ns")
		ip -n "$ns" link set lo up
	done
}

netns_adopt() {
	mkdir -p /run/netns && touch "/run/netns/$1" &&
		mount --bind "/proc/$2/ns/net" "/run/netns/$1" || die "netns_adopt $*"
	_NETNS+=("$1")
}

veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || die "veth $*"
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

spawn() {
	local ns=$1
	shift
	if [ "$ns" = - ]; then
		"$@" &
	else
		ip netns exec "$ns" "$@" &
	fi
	SPAWNED_PID=$!
	_SPAWNED+=("$SPAWNED_PID")
}

workdir() {
	local dir
	dir=$(mktemp -d "/tmp/$2.XXXXXX") || die "mktemp"
	_WORKDIRS+=("$dir")
	printf -v "$1" '%s' "$dir"
}

at_exit() {
	_AT_EXIT+=("$1")
}

wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# _alive PID: running (a zombie waits only for its parent to reap it).
_alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] && [ "${state:0:1}" != Z ]
}

# _kill_all PID...: TERM, up to a second to go, then KILL; reaped.
_kill_all() {
	local p alive
	(($#)) || return 0
	kill "$@" 2>/dev/null
	for _ in $(seq 10); do
		alive=0
		for p in "$@"; do _alive "$p" && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	kill -9 "$@" 2>/dev/null
	for p in "$@"; do wait "$p" 2>/dev/null; done
}

_netns_cleanup() {
	local rc=$? i ns pids stat
	trap - EXIT INT TERM
	set +eu # whatever the script set: every step of the cleanup is tried
	for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
		(eval "${_AT_EXIT[$i]}") >/dev/null 2>&1
	done
	# Only the spawned processes still running as our children: a pid already reaped may
	# belong to someone else by now.
	pids=()
	for i in ${_SPAWNED[@]+"${_SPAWNED[@]}"}; do
		stat=$(cat "/proc/$i/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		[ "$(cut -d' ' -f2 <<<"$stat")" = "$$" ] && pids+=("$i")
	done
	_kill_all ${pids[@]+"${pids[@]}"}
	for ns in ${_NETNS[@]+"${_NETNS[@]}"}; do
		# Whatever still runs in a namespace of ours was started by this script.
		mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
		_kill_all ${pids[@]+"${pids[@]}"}
		ip netns del "$ns" 2>/dev/null
	done
	for i in ${_WORKDIRS[@]+"${_WORKDIRS[@]}"}; do rm -rf "$i"; done
	exit "$rc"
}
trap _netns_cleanup EXIT
trap 'exit 1' INT TERM
