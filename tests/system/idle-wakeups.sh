#!/bin/bash
# An idle daemon sleeps: dns64, nat64, option108-dhcpd and ripng, each started with a minimal
# config in its own network namespace and left without traffic, wake at most once every 10 s
# (their poll timeout is their core's next deadline, not a tick; ripng's periodic update is
# every 30 s). Counted over 30 s as the voluntary context switches of the process (every poll
# that blocks and returns is one), all in parallel, as root. Each one's RSS is reported.
#
#   BIN_DIR=dir/with/the/daemons tests/system/idle-wakeups.sh
#
# One result line per check, then exactly "N passed, N failed"; exit 1 on any failure.

set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
. "$REPO/tests/system/lib.sh"
setup_or_finish iproute2 procps

WINDOW=30          # seconds watched
MAX_WAKEUPS=3      # at most once every 10 s
SETTLE=3           # seconds for start-up work (logging, first lease file) before counting
DAEMONS="dns64 nat64 option108-dhcpd ripng"

BIN_DIR="${BIN_DIR:-$REPO/target/release}"
for d in $DAEMONS; do
  [ -x "$BIN_DIR/$d" ] || { fail "setup" "no $d in $BIN_DIR (set BIN_DIR)"; finish; }
done

T="$(mktemp -d /tmp/idle-wakeups.XXXXXX)"
declare -A NS PID
for d in $DAEMONS; do NS[$d]="iw-${d%%-*}-$$"; done
cleanup() {
  for d in $DAEMONS; do [ -n "${PID[$d]:-}" ] && kill "${PID[$d]}" 2>/dev/null; done
  sleep 0.2
  for d in $DAEMONS; do
    [ -n "${PID[$d]:-}" ] && kill -9 "${PID[$d]}" 2>/dev/null
    ip netns del "${NS[$d]}" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for d in $DAEMONS; do
  ip netns add "${NS[$d]}" || { fail "setup" "ip netns add ${NS[$d]}"; finish; }
  ip -n "${NS[$d]}" link set lo up
done

# dns64 as on a router: upstreams from the resolv file (watched, not polled).
echo "nameserver 127.0.0.2" >"$T/resolv.conf.auto"
cat >"$T/dns64" <<CONF
config dns64 'main'
	list listen '127.0.0.1'
	option resolv_file '$T/resolv.conf.auto'
	option control_socket '$T/dns64.sock'
CONF

# A router forwards, and a forwarding kernel sends no Router Solicitations: without this, the
# kernel would keep soliciting on the TUN (backing off, forever), and nat64 would read them.
ip netns exec "${NS[nat64]}" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1
cat >"$T/nat64" <<CONF
config nat64 'main'
	option prefix '64:ff9b::/96'
	option tun_device 'iwtun'
	list pool4 '198.51.100.0/30 1024-65535'
	option control_socket '$T/nat64.sock'
CONF

# option108-dhcpd on one end of a veth pair (not every kernel has the dummy driver).
ip -n "${NS[option108-dhcpd]}" link add iw0 type veth peer name iw1
ip -n "${NS[option108-dhcpd]}" link set iw1 up
ip -n "${NS[option108-dhcpd]}" addr add 10.9.0.1/24 dev iw0
ip -n "${NS[option108-dhcpd]}" link set iw0 up
cat >"$T/dhcp" <<CONF
config dnsmasq
	option domain 'lan'

config option108_dhcpd 'main'
	option journal '$T/journal'
	option leasefile '$T/dhcp.leases'
	option control_socket '$T/option108-dhcpd.sock'

config dhcp 'lan'
	option device 'iw0'
	option start '100'
	option limit '50'
	option leasetime '1h'
CONF
export OPTION108_DHCPD_SETTINGS="$T/no-settings"

# ripng on one end of a veth pair, advertising its connected prefix; nobody answers. The
# address is there (DAD done) before it starts: its arrival would be an event to wake for.
ip -n "${NS[ripng]}" link add iw0 type veth peer name iw1
ip -n "${NS[ripng]}" link set iw1 up
ip -n "${NS[ripng]}" addr add 2001:db8:99::1/64 dev iw0 nodad
ip -n "${NS[ripng]}" addr add fe80::99/64 dev iw0 nodad
ip -n "${NS[ripng]}" link set iw0 up
cat >"$T/ripng" <<CONF
config ripng 'main'
	option enabled '1'
	option control_socket '$T/ripng.sock'

config interface
	option device 'iw0'

config redistribute
	option source 'connected'
CONF

CONFIG_dns64="$T/dns64"
CONFIG_nat64="$T/nat64"
CONFIG_option108_dhcpd="$T/dhcp"
CONFIG_ripng="$T/ripng"
config_of() { local v="CONFIG_${1//-/_}"; echo "${!v}"; }

for d in $DAEMONS; do
  # `ip netns exec` execs: $! is the daemon itself.
  ip netns exec "${NS[$d]}" "$BIN_DIR/$d" -v -c "$(config_of "$d")" run 2>"$T/$d.log" &
  PID[$d]=$!
done

up() { # DAEMON: answers on its control socket
  for _ in $(seq 50); do
    "$BIN_DIR/$1" -c "$(config_of "$1")" status >/dev/null 2>&1 && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
for d in $DAEMONS; do
  check "$d starts with a minimal config" up "$d" || tail -5 "$T/$d.log"
done
sleep "$SETTLE"

# Voluntary context switches of every thread of PID.
switches() {
  local n=0 f v
  for f in /proc/"$1"/task/*/status; do
    v=$(awk '/^voluntary_ctxt_switches/{print $2}' "$f" 2>/dev/null) || return 1
    n=$((n + ${v:-0}))
  done
  echo "$n"
}
declare -A BEFORE
for d in $DAEMONS; do BEFORE[$d]=$(switches "${PID[$d]}" || echo x); done
sleep "$WINDOW"
for d in $DAEMONS; do
  after=$(switches "${PID[$d]}" || echo x)
  if [ "${BEFORE[$d]}" = x ] || [ "$after" = x ]; then
    fail "$d idle for $WINDOW s: wakeups" "the process is gone: $(tail -3 "$T/$d.log")"
    continue
  fi
  n=$((after - BEFORE[$d]))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/${PID[$d]}/status")
  if [ "$n" -le "$MAX_WAKEUPS" ]; then
    pass "$d idle for $WINDOW s: $n wakeup(s) <= $MAX_WAKEUPS (RSS $rss kB)"
  else
    fail "$d idle for $WINDOW s: $n wakeups > $MAX_WAKEUPS" "$(tail -3 "$T/$d.log")"
  fi
done
for d in $DAEMONS; do
  check "$d still answers status after sleeping" up "$d"
done
finish
