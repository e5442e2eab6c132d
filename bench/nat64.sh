#!/bin/bash
# Benchmark: our nat64 side by side with tayga (Debian) on the same namespaces and veths,
# plus plain kernel IPv6 forwarding as the ceiling. Not a test; run as root:
#
#   NAT64=target/release/nat64 bench/nat64.sh      (SECONDS_PER_RUN=5 by default)
#
# Topology: client C (IPv6 only) -- router R -- server S (IPv4; IPv6 too, for the ceiling).
# Prefix 2001:db8:64::/96 for both translators (tayga accepts documentation IPv4 with it).
# Prints iperf3 TCP both ways and UDP 64-byte packets/s for each, the ratios, and RSS with
# 10,000 sessions.

set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
NAT64="${NAT64:-${BIN_DIR:+$BIN_DIR/nat64}}"
NAT64="${NAT64:-$REPO/target/release/nat64}"
DUR="${SECONDS_PER_RUN:-5}"
[ "$(id -u)" = 0 ] || { echo "must run as root"; exit 1; }
need=""
for c in iperf3 tayga python3 ip; do command -v $c >/dev/null || need="$need $c"; done
if [ -n "$need" ]; then
	need="${need/ip/iproute2}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null 2>&1; }
fi
[ -x "$NAT64" ] || { echo "no nat64 binary at $NAT64 (cargo build --release -p nat64, or set NAT64)"; exit 1; }
NAT64="$(cd "$(dirname "$NAT64")" && pwd)/$(basename "$NAT64")"

C="b64c-$$"; R="b64r-$$"; S="b64s-$$"
T="$(mktemp -d /tmp/nat64-bench.XXXXXX)"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in "$C" "$R" "$S"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
inc() { ip netns exec "$C" "$@"; }
inr() { ip netns exec "$R" "$@"; }
ins() { ip netns exec "$S" "$@"; }

ip netns add "$C"; ip netns add "$R"; ip netns add "$S"
ip link add b64c0 netns "$C" type veth peer name b64rc netns "$R"
ip link add b64s0 netns "$S" type veth peer name b64rs netns "$R"
for n in "$C" "$R" "$S"; do ip netns exec "$n" ip link set lo up; done
inc ip link set b64c0 up
inc ip addr add 2001:db8:1::2/64 dev b64c0 nodad
inc ip -6 route add default via 2001:db8:1::1
inr sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
inr ip link set b64rc up; inr ip link set b64rs up
inr ip addr add 2001:db8:1::1/64 dev b64rc nodad
inr ip addr add 192.0.2.1/24 dev b64rs
inr ip addr add 2001:db8:2::1/64 dev b64rs nodad
ins ip link set b64s0 up
ins ip addr add 192.0.2.2/24 dev b64s0
ins ip addr add 2001:db8:2::2/64 dev b64s0 nodad
ins ip route add default via 192.0.2.1
ins ip -6 route add default via 2001:db8:2::1
sleep 0.3

# iperf3 against TARGET; prints "tcp_up_Mbps tcp_down_Mbps udp64_pps"
measure() {
	local target="$1" up down pps
	up="$(run_iperf "$target" "")"
	down="$(run_iperf "$target" "-R")"
	pps="$(run_iperf "$target" "-u -l 64 -b 0")"
	echo "$up $down $pps"
}
run_iperf() {
	local target="$1" opts="$2"
	ip netns exec "$S" iperf3 -s -1 >/dev/null 2>&1 &
	local server=$!
	sleep 0.3
	inc iperf3 -c "$target" -t "$DUR" $opts --json 2>/dev/null >"$T/iperf.json"
	wait "$server" 2>/dev/null
	python3 - "$T/iperf.json" "$opts" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    if "-u" in sys.argv[2]:
        s = d["end"]["sum"]
        print("%.0f" % ((s["packets"] - s["lost_packets"]) / s["seconds"]))
    else:
        print("%.0f" % (d["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print("0")
PY
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
sessions() {
	# 10,000 UDP flows from distinct source ports.
	inc python3 - <<'PY'
import socket, time
for port in range(20000, 30000):
    if port % 250 == 0:
        time.sleep(0.02)  # paced: a burst would overflow the TUN queue (500 packets)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.sendto(b"x", ("2001:db8:64::192.0.2.2", 9))
    s.close()
PY
}

echo "== kernel IPv6 forwarding (ceiling)"
read -r k_up k_down k_pps <<<"$(measure 2001:db8:2::2)"
echo "kernel   TCP up ${k_up} Mbit/s  TCP down ${k_down} Mbit/s  UDP64 ${k_pps} pps"

echo "== nat64"
cat >"$T/nat64" <<CONF
config nat64 'main'
	option prefix '2001:db8:64::/96'
	option tun_device 'b64tun'
	list pool4 '198.51.100.0/30'
	option max_sessions '100000'
	option control_socket '$T/nat64.sock'
CONF
ip netns exec "$R" "$NAT64" -c "$T/nat64" run 2>"$T/nat64.log" &
NPID=$!
PIDS="$PIDS $NPID"
for _ in $(seq 50); do [ -S "$T/nat64.sock" ] && break; sleep 0.1; done
read -r n_up n_down n_pps <<<"$(measure 2001:db8:64::192.0.2.2)"
echo "nat64    TCP up ${n_up} Mbit/s  TCP down ${n_down} Mbit/s  UDP64 ${n_pps} pps"
n_rss0="$(rss_kb $NPID)"
sessions
sleep 0.5
n_sessions="$("$NAT64" -c "$T/nat64" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"]["total"])')"
n_rss="$(rss_kb $NPID)"
echo "nat64    RSS ${n_rss0} kB idle, ${n_rss} kB with ${n_sessions} sessions"
kill "$NPID"; wait "$NPID" 2>/dev/null
sleep 0.3

echo "== tayga"
mkdir -p "$T/tayga"
cat >"$T/tayga.conf" <<CONF
tun-device b64tay
ipv4-addr 198.51.100.254
prefix 2001:db8:64::/96
dynamic-pool 198.51.100.0/24
data-dir $T/tayga
CONF
inr tayga -c "$T/tayga.conf" --mktun >/dev/null 2>&1
inr ip link set b64tay up
inr ip route add 198.51.100.0/24 dev b64tay
inr ip -6 route add 2001:db8:64::/96 dev b64tay
ip netns exec "$R" tayga -c "$T/tayga.conf" --nodetach >/dev/null 2>&1 &
TPID=$!
PIDS="$PIDS $TPID"
sleep 0.5
read -r t_up t_down t_pps <<<"$(measure 2001:db8:64::192.0.2.2)"
echo "tayga    TCP up ${t_up} Mbit/s  TCP down ${t_down} Mbit/s  UDP64 ${t_pps} pps"
sessions
sleep 0.5
echo "tayga    RSS $(rss_kb $TPID) kB after the same 10,000 flows (tayga keeps no sessions)"

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else 'n/a')" "$1" "$2"; }
echo "== ratios"
echo "nat64/tayga   TCP up $(ratio $n_up $t_up)  TCP down $(ratio $n_down $t_down)  UDP64 $(ratio $n_pps $t_pps)"
echo "nat64/kernel  TCP up $(ratio $n_up $k_up)  TCP down $(ratio $n_down $k_down)  UDP64 $(ratio $n_pps $k_pps)"
