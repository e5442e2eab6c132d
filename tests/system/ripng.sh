#!/usr/bin/env bash
# System tests of ripng against BIRD 2 (`protocol rip ng`) and FRR's ripngd (Debian packages):
# routers in network namespaces joined by veth links and a bridged segment, each with a stub
# LAN 2001:db8:ID::/64 (ID in the router's name below) and the link-local fe80::ID on every
# link (tests/lib/ripng.sh). Timers 5/15/10 s everywhere. The topologies run side by side and
# each phase hits all of them at once, so that the whole test takes about two minutes:
#
#   P  bp21 - fp22 - bp23 - fp24       peers only: proves the harness and the peers' behaviour
#   B  b31 - o32 - f33                 ours between BIRD and FRR (both directions through it)
#   C  o41 - b42 - f43 - o44           ours at both ends, BIRD and FRR between
#   D  o51, b52, f53 in a triangle
#   E  o61 - o62 - f63                 two of ours, split horizon with poisoned reverse
#   F  o71 - o72 - f73                 two of ours, no split horizon: a real count to infinity
#                                      (o62/o72's withdrawal is lost: nftables drops it)
#   G  o81, b82, f83, host 85 on one bridged segment: next-hop RTEs both ways, restart
#   H  o91 - host 92                   crafted bad packets
#
# Run as root. RIPNG: the ripng binary, or BIN_DIR: a directory holding it (default: a host
# release build). RIPNG_LOGS=DIR keeps every daemon's config and log there.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/system/lib.sh"
. "$ROOT/tests/lib/ripng.sh"
setup_or_finish iproute2 python3 bird2 frr nftables
need_bin RIPNG ripng

rip_init
at_exit '[ -n "${RIPNG_LOGS:-}" ] && mkdir -p "$RIPNG_LOGS" && cp -r "$RIP_WORK"/. "$RIPNG_LOGS"/'
U=$RIP_UPDATE T=$RIP_TIMEOUT G=$RIP_GARBAGE

# ---- helpers ---------------------------------------------------------------------------------
quiet() { "$@" >/dev/null 2>&1; }
# eventually SECONDS CMD...: CMD succeeds within SECONDS; else CMD's own account of what it saw.
eventually() {
	local t=$1
	shift
	wait_for "$t" quiet "$@" && return 0
	"$@" && echo "held only after the ${t} s allowed"
	return 1
}
# by SECONDS CMD...: CMD succeeds before SECONDS after the current phase's EVENT.
by() {
	local left=$((EVENT + $1 - SECONDS))
	shift
	((left < 1)) && left=1
	eventually "$left" "$@"
}
# still SECONDS CMD...: CMD keeps succeeding for SECONDS (sampled every half second).
still() {
	local end=$((SECONDS + $1))
	shift
	while ((SECONDS < end)); do
		"$@" || return 1
		sleep 0.5
	done
}
phase() {
	EVENT=$SECONDS
	echo "--- $* (t=${SECONDS}s)"
}

# routes SPEC...: each SPEC is ROUTER:ID:METRICS, the metric ROUTER's daemon holds for the stub
# LAN of ID being one of METRICS (slash-separated; "none" = no such route); all are checked and
# every mismatch is printed.
routes() {
	local spec r id ms rc=0
	for spec in "$@"; do
		IFS=: read -r r id ms <<<"$spec"
		# shellcheck disable=SC2086 # METRICS split on purpose
		rip_metric_is "$r" "$(stub "$id")" ${ms//\// } || rc=1
	done
	return $rc
}
# gone SPEC...: ROUTER:ID, no reachable route for the stub LAN of ID (16 while withdrawn).
gone() {
	local spec
	local specs=()
	for spec in "$@"; do specs+=("$spec:16/none"); done
	routes "${specs[@]}"
}
# kernel_via ROUTER PREFIX VIA: ROUTER's kernel reaches PREFIX through fe80::VIA, installed by
# its daemon (ours: proto rip, 189).
kernel_via() {
	local line want="via fe80::$3 dev"
	line=$(rip_kernel "$1" "$2")
	case $(rip_kind "$1") in
	ours) want="$want [^ ]* proto rip " ;;
	bird) want="$want [^ ]* proto bird " ;;
	frr) want="$want [^ ]* proto ripng " ;;
	esac
	grep -q -- "$want" <<<"$line" || { echo "$1: kernel route for $2: '${line:-none}', want '$want'"; return 1; }
}
kernel_none() {
	local line
	line=$(rip_kernel "$1" "$2")
	[ -z "$line" ] || { echo "$1: kernel still has: $line"; return 1; }
}
# stubs_via ROUTER VIA ID...: the kernel routes to those stub LANs go through fe80::VIA.
stubs_via() {
	local r=$1 via=$2 id rc=0
	shift 2
	for id in "$@"; do kernel_via "$r" "$(stub "$id")" "$via" || rc=1; done
	return $rc
}
stubs_none() {
	local r=$1 id rc=0
	shift
	for id in "$@"; do kernel_none "$r" "$(stub "$id")" || rc=1; done
	return $rc
}
status() { "$RIPNG" -c "$RIP_WORK/$1/ripng" status; }
# status_py ROUTER 'python using d (the status object)': an assertion on ours' status JSON.
status_py() {
	status "$1" | python3 -c "import json, sys
d = json.load(sys.stdin)
def route(p):
    rs = [r for r in d['routes'] if r['prefix'] == p]
    assert len(rs) == 1, (p, rs)
    return rs[0]
def counter(k):
    return d['counters'][k]
$2"
}
# frr_next_hop ROUTER PREFIX ADDRESS: FRR's table has PREFIX with next hop ADDRESS.
frr_next_hop() {
	local out
	out=$(vtysh --vty_socket "$RIP_WORK/$1" -c 'show ipv6 ripng')
	python3 -c 'import sys
t = sys.stdin.read().split()
assert sys.argv[1] in t and t[t.index(sys.argv[1]) + 1] == sys.argv[2]' "$2" "$3" <<<"$out" || { echo "$out"; return 1; }
}
# none_taken ROUTER X...: no route to any 2001:db8:X::/64, neither in the status nor the kernel.
none_taken() {
	local r=$1 x rc=0
	shift
	for x in "$@"; do
		rip_metric_is "$r" "2001:db8:$x::/64" none || rc=1
		kernel_none "$r" "2001:db8:$x::/64" || rc=1
	done
	return $rc
}
# block_rip ROUTER DEV / unblock_rip ROUTER: ROUTER's RIPng packets out of DEV dropped, or not.
block_rip() {
	in_rt "$1" nft -f - <<-EOF
		table ip6 ripblock {
			chain out { type filter hook output priority 0; oifname "$2" udp dport 521 drop; }
		}
	EOF
}
unblock_rip() { in_rt "$1" nft delete table ip6 ripblock; }
# cti_monitor OUTER INNER ID: from now on, the seconds until both routers hold the stub LAN of ID
# unreachable, and the highest metric below 16 either showed on the way, in $RIP_WORK/cti-ID.
cti_monitor() {
	local start=$SECONDS max=0 m r
	while ((SECONDS - start < 60)); do
		for r in "$1" "$2"; do
			m=$(rip_metric "$r" "$(stub "$3")")
			[[ $m =~ ^[0-9]+$ ]] && ((m < 16 && m > max)) && max=$m
		done
		if quiet gone "$1:$3" "$2:$3"; then
			echo "$((SECONDS - start)) $max" >"$RIP_WORK/cti-$3"
			return
		fi
		sleep 0.3
	done
	echo "never $max" >"$RIP_WORK/cti-$3"
}
# cti_result ID MAX_SECONDS MAX_METRIC: the monitor saw both unreachable in time, the metric
# never above MAX_METRIC.
cti_result() {
	local took max
	wait_for 60 test -s "$RIP_WORK/cti-$1" || { echo "monitor gave no result"; return 1; }
	read -r took max <"$RIP_WORK/cti-$1"
	echo "unreachable at both after ${took} s (at most $2 s); highest metric on the way: $max (at most $3)"
	[ "$took" != never ] && ((took <= $2 && max <= $3))
}
running() {
	local r rc=0
	for r in "$@"; do kill -0 "$(rip_pid "$r")" 2>/dev/null || { echo "$r is not running"; rc=1; }; done
	return $rc
}

# ---- topologies --------------------------------------------------------------------------------
rip_router bp21 bird 21
rip_router fp22 frr 22
rip_router bp23 bird 23
rip_router fp24 frr 24
rip_link bp21 fp22
rip_link fp22 bp23
rip_link bp23 fp24

rip_router b31 bird 31
rip_router o32 ours 32
rip_router f33 frr 33
rip_link b31 o32
rip_link o32 f33

rip_router o41 ours 41
rip_router b42 bird 42
rip_router f43 frr 43
rip_router o44 ours 44
rip_link o41 b42
rip_link b42 f43
rip_link f43 o44

rip_router o51 ours 51
rip_router b52 bird 52
rip_router f53 frr 53
rip_link o51 b52
rip_link b52 f53
rip_link f53 o51

rip_router o61 ours 61
rip_router o62 ours 62
rip_router f63 frr 63
rip_link o61 o62
rip_link o62 f63
# F: no split horizon between the two of ours, triggered updates at most 2 s apart.
rip_router o71 ours 71
rip_router o72 ours 72
rip_router f73 frr 73
rip_link o71 o72
rip_link o72 f73
for r in o71 o72; do
	rip_opt "$r" "	option triggered_max '2'"$'\n'
done
rip_ifopt o71 o71_o72 "	option split_horizon 'none'"$'\n'
rip_ifopt o72 o72_o71 "	option split_horizon 'none'"$'\n'

# G: one segment; host 85 is a next hop that speaks no RIPng. BIRD announces a static route via
# it, FRR its stub LAN with a route-map next hop, ours a static kernel route via it.
rip_router o81 ours 81
rip_router b82 bird 82
rip_router f83 frr 83
rip_router h85 host 85
rip_segment s80 o81 b82 f83 h85
rip_opt b82 "protocol static { ipv6; route 2001:db8:99::/64 via fe80::85%b82_s80; }"$'\n'
rip_opt f83 "route-map nh permit 10"$'\n'" set ipv6 next-hop local fe80::85"$'\n'
rip_opt f83 "router ripng"$'\n'" redistribute connected route-map nh"$'\n'
in_rt o81 ip -6 route add 2001:db8:98::/64 via fe80::85 dev o81_s80 proto static
rip_opt o81 "config redistribute"$'\n'"	option source 'static'"$'\n'

rip_router o91 ours 91
rip_router x92 host 92
rip_link o91 x92
in_rt x92 ip addr add 2001:db8:ff::92/64 dev x92_o91
rip_opt o91 "	option max_routes '50'"$'\n'

started=$SECONDS
for r in "${!RIP_KIND[@]}"; do
	rip_start "$r" || fail "setup" "$r ($(rip_kind "$r")) did not start"
done
echo "--- $((${#RIP_KIND[@]})) routers started in $((SECONDS - started)) s"

# ---- converged ---------------------------------------------------------------------------------
phase "converged"
check "P (peers only): bp21 - fp22 - bp23 - fp24 converge, metrics 2 to 4 both ways" \
	by 25 routes bp21:22:2 bp21:23:3 bp21:24:4 fp24:21:4 fp24:22:3 fp24:23:2 fp22:24:3 bp23:21:3
check "P: kernel routes of BIRD and FRR through their neighbour" \
	by 5 eval 'stubs_via bp21 22 22 23 24 && stubs_via fp24 23 21 22 23'
check "B: ours learns BIRD's and FRR's stub LANs (metric 2)" by 25 routes o32:31:2 o32:33:2 o32:32:1
check "B: BIRD learns FRR's LAN through ours (3) and FRR BIRD's (3)" by 25 routes b31:33:3 f33:31:3 b31:32:2 f33:32:2
check "B: ours installs both in the kernel, proto rip, via the link-local of each" \
	by 5 stubs_via o32 31 31
check "B: ... and FRR's LAN via fe80::33" stubs_via o32 33 33
check "B: BIRD's kernel reaches FRR's LAN via ours, FRR's reaches BIRD's via ours" \
	eval 'stubs_via b31 32 32 33 && stubs_via f33 32 31 32'
check "B: status routes carry prefix, metric, next_hop, interface, source" status_py o32 "
r = route('2001:db8:31::/64'); assert (r['metric'], r['next_hop'], r['interface'], r['source']) == (2, 'fe80::31', 'o32_b31', 'rip'), r
r = route('2001:db8:33::/64'); assert (r['metric'], r['next_hop'], r['interface'], r['source']) == (2, 'fe80::33', 'o32_f33', 'rip'), r
r = route('2001:db8:32::/64'); assert (r['metric'], r['next_hop'], r['interface'], r['source']) == (1, None, 'stub0', 'connected'), r"
check "B: status neighbors: BIRD and FRR, heard lately, one route each" status_py o32 "
n = {(x['address'], x['interface']): x for x in d['neighbors']}
assert set(n) == {('fe80::31', 'o32_b31'), ('fe80::33', 'o32_f33')}, n
for x in n.values():
    assert x['routes'] == 1 and 0 <= x['last_heard_s'] <= $U + 2, x"
check "B: 'ripng routes': a table with BIRD's LAN, metric 2, via fe80::31 on o32_b31" \
	eval '"$RIPNG" -c "$RIP_WORK/o32/ripng" routes | grep -E "^2001:db8:31::/64 +2 +rip +fe80::31 +o32_b31 "'
check "C: ours at both ends learn across BIRD and FRR (2, 3, 4)" \
	by 25 routes o41:42:2 o41:43:3 o41:44:4 o44:43:2 o44:42:3 o44:41:4
check "C: BIRD and FRR in the middle learn ours' LANs" by 5 routes b42:41:2 b42:44:3 f43:44:2 f43:41:3
check "C: ours' kernel routes via the neighbour's link-local" eval 'stubs_via o41 42 42 43 44 && stubs_via o44 43 41 42 43'
check "D: triangle: everyone reaches the other two directly (metric 2)" \
	by 25 routes o51:52:2 o51:53:2 b52:51:2 b52:53:2 f53:51:2 f53:52:2
check "D: kernel routes: ours via BIRD and FRR, theirs via ours" \
	eval 'stubs_via o51 52 52 && stubs_via o51 53 53 && stubs_via b52 51 51 && stubs_via f53 51 51'
check "E, F: two of ours in a line learn FRR's LAN (2, 3)" by 25 routes o62:63:2 o61:63:3 o72:73:2 o71:73:3 f63:61:3 f73:71:3
check "G: on the segment, ours learns BIRD's and FRR's LANs" by 25 routes o81:82:2 o81:83:2 b82:81:2 f83:81:2
# Next-hop RTEs from the peers honoured: the kernel route goes to fe80::85, not to the sender.
check "G: BIRD's next-hop RTE honoured: 2001:db8:99::/64 via fe80::85 (BIRD sent it)" \
	by 10 kernel_via o81 2001:db8:99::/64 85
check "G: FRR's next-hop RTE honoured: FRR's LAN via fe80::85" by 5 kernel_via o81 "$(stub 83)" 85
check "G: ours sends a next-hop RTE: BIRD installs 2001:db8:98::/64 via fe80::85" \
	by 10 kernel_via b82 2001:db8:98::/64 85
check "G: ... and FRR shows next hop fe80::85 for it" by 5 frr_next_hop f83 2001:db8:98::/64 fe80::85
check "G: FRR installs it via fe80::85 too" by 5 kernel_via f83 2001:db8:98::/64 85

# ---- bad input (H) -----------------------------------------------------------------------------
# A python sender in x92: Responses to ours' link-local, each announcing its own prefix, so
# that what was accepted shows in the table. Only the first one is valid.
SEND_PY='
import ipaddress, socket, struct, sys
def rte(prefix, length, metric, tag=0):
    return ipaddress.IPv6Address(prefix).packed + struct.pack(">HBB", tag, length, metric)
def pkt(*rtes, command=2):
    return struct.pack(">BBH", command, 1, 0) + b"".join(rtes)
ifindex = socket.if_nametoindex("x92_o91")
def send(data, src="fe80::92", sport=521, hops=255, dst="fe80::91"):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.bind((src, sport, 0, ifindex if src.startswith("fe80") else 0))
    s.sendto(data, (dst, 521, 0, ifindex))
    s.close()
'
phase "bad input"
check "H: setup: ours on the link to the sender is up" by 10 status_py o91 "assert d['interfaces'][0]['up']"
in_rt x92 python3 -c "$SEND_PY
send(pkt(rte('2001:db8:e0::', 64, 1)))                                  # valid: the control
send(pkt(rte('2001:db8:e1::', 64, 1)), sport=5210)                      # wrong source port
send(pkt(rte('2001:db8:e2::', 64, 1)), src='2001:db8:ff::92')           # global source
send(pkt(rte('2001:db8:e3::', 64, 1)), hops=254, dst='ff02::9')         # hop limit 254, multicast
send(pkt(rte('2001:db8:e4::', 64, 1))[:-1])                             # truncated RTE
send(pkt(rte('2001:db8:e5::', 129, 1), rte('2001:db8:e6::', 64, 1)))    # bad length, then a good RTE
" || fail "H: sending the crafted packets"
check "H: the valid Response is taken (the sender works): 2001:db8:e0::/64 metric 2" \
	by 5 rip_metric_is o91 2001:db8:e0::/64 2
check "H: the good RTE after a bad prefix length is taken: 2001:db8:e6::/64 metric 2" \
	by 5 rip_metric_is o91 2001:db8:e6::/64 2
check "H: wrong source port, global source, hop limit 254, truncated, /129: none taken" \
	none_taken o91 e1 e2 e3 e4 e5
check "H: counted: bad_source_port 1, bad_source_address 1, bad_hop_limit 1, bad_packet 1, bad_prefix 1" \
	status_py o91 "
c = d['counters']
got = {k: c[k] for k in ('bad_source_port', 'bad_source_address', 'bad_hop_limit', 'bad_packet', 'bad_prefix')}
assert got == {'bad_source_port': 1, 'bad_source_address': 1, 'bad_hop_limit': 1, 'bad_packet': 1, 'bad_prefix': 1}, got"
check "H: a Request from port 5210 (a query) is answered there, unicast, with the table" \
	in_rt x92 python3 -c "$SEND_PY
import select
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('fe80::92', 5210, 0, ifindex))
s.sendto(pkt(rte('::', 0, 16), command=1), ('fe80::91', 521, 0, ifindex))
assert select.select([s], [], [], 3)[0], 'no answer'
data, src = s.recvfrom(2000)
assert src[0].split('%')[0] == 'fe80::91' and src[1] == 521, src
assert data[:2] == bytes([2, 1]), data[:4]
got = {(str(ipaddress.IPv6Address(data[i:i + 16])), data[i + 18], data[i + 19]) for i in range(4, len(data), 20)}
print(got)
assert ('2001:db8:91::', 64, 1) in got and ('2001:db8:e0::', 64, 2) in got, got"
in_rt x92 python3 -c "$SEND_PY
import os, random
random.seed(2080)
for i in range(300):
    n = random.choice([0, 1, 3, 4, 5, 23, 24, 25, 44, 64, 200, 1452])
    b = bytearray(os.urandom(n))
    if n >= 4 and i % 2:
        b[0], b[1] = random.choice([1, 2]), 1   # mostly well-formed headers: the RTEs get read
    for j in range(4, n - 19, 20):
        b[j] = 0x20; b[j + 1] = 0x01; b[j + 2] = 0x0d; b[j + 3] = 0xb8; b[j + 4] = 0xee  # 2001:db8:ee..
    send(bytes(b))
" || fail "H: sending garbage"
check "H: 300 random packets: still running, answering, the valid route kept" \
	eval 'sleep 1; kill -0 $(rip_pid o91) && status_py o91 "assert route(\"2001:db8:e0::/64\")[\"metric\"] == 2"'
# A flood: 200 new routes against max_routes 50.
in_rt x92 python3 -c "$SEND_PY
for k in range(4):
    send(pkt(*[rte('2001:db8:f0:%x::' % (50 * k + i), 64, 1) for i in range(50)]))
" || fail "H: sending the flood"
check "H: a flood of 200 routes: at most max_routes (50) learned and installed, the rest counted" \
	eval 'sleep 1; status_py o91 "
learned = [r for r in d[\"routes\"] if r[\"source\"] == \"rip\"]
print(len(learned), \"learned,\", counter(\"route_limit\"), \"refused\")
assert 0 < len(learned) <= 50 and counter(\"route_limit\") >= 150
" && [ "$(in_rt o91 ip -6 route show proto 189 | wc -l)" -le 50 ]'
check "H: ... logged at most a few times (rate-limited)" \
	eval 'n=$(grep -c max_routes "$RIP_WORK/o91/ripng.log"); echo "$n lines"; [ "$n" -ge 1 ] && [ "$n" -le 5 ]'

# ---- link down, stub down, withdrawal ---------------------------------------------------------
phase "link down / withdrawal"
rip_ifdown fp22 fp22_bp23
rip_ifdown f33 stub0
rip_ifdown b42 b42_f43
rip_ifdown o51 o51_b52
block_rip o62 o62_o61
block_rip o72 o72_o71
rip_ifdown o62 o62_f63
rip_ifdown o72 o72_f73
spawn - cti_monitor o61 o62 63
spawn - cti_monitor o71 o72 73
# E, F first: o62 and o72 lost their link to FRR, and their withdrawals to o61 and o71 are
# dropped. Without split horizon o71 keeps offering FRR's LAN back to o72, which takes it: a
# loop, that counts to infinity once the packets flow again (before o71's timeout, 15 s after
# o72's last update).
check "F: no split horizon, withdrawal lost: o72 takes FRR's LAN back from o71 (4): a loop" \
	by $((U + 4)) routes o72:73:4 o71:73:3
check "E: poisoned reverse, withdrawal lost: o62 does not take it back from o61" routes o62:63:16/none o61:63:3
unblock_rip o62
unblock_rip o72
# Faster than the 15 s timeout: the metric 16 travelled.
check "P: link fp22-bp23 down: both ends lose the far side before the timeout" by 8 gone bp21:23 bp21:24 fp24:21 fp24:22
check "B: FRR's stub down: ours withdraws it (metric 16), its kernel route goes" \
	by 8 eval 'gone o32:33 && stubs_none o32 33'
check "B: ... and propagates metric 16: BIRD drops it before the timeout" by 8 eval 'gone b31:33 && stubs_none b31 33'
check "B: ours keeps a withdrawn route in garbage at metric 16 (state garbage)" status_py o32 "
r = route('2001:db8:33::/64'); assert (r['metric'], r['state']) == (16, 'garbage'), r"
check "C: link b42-f43 down: ours (o41) loses FRR's and o44's LANs before the timeout (BIRD's 16)" \
	by 8 eval 'gone o41:43 o41:44 && stubs_none o41 43 44'
check "C: ... and o44 loses BIRD's and o41's (FRR's 16)" by 8 eval 'gone o44:42 o44:41 && stubs_none o44 41 42'
check "C: ... while each keeps the near side" routes o41:42:2 o44:43:2
check "D: link o51-b52 down: ours reaches BIRD's LAN through FRR (3)" \
	by $((U + 4)) eval 'routes o51:52:3 && stubs_via o51 53 52'
check "D: ... and BIRD reaches ours' LAN through FRR (3)" by $((U + 4)) eval 'routes b52:51:3 && stubs_via b52 53 51'
check "E: poisoned reverse: unreachable at both within a timeout, no count (metric stays <= 3)" \
	cti_result 63 $((T + U + 2)) 3
check "E: ... out of both kernels, and it stays unreachable for 2 updates" \
	eval 'stubs_none o61 63 && stubs_none o62 63 && still $((2 * U)) gone o61:63 o62:63'

# ---- recovery --------------------------------------------------------------------------------
phase "recovery"
rip_ifup fp22 fp22_bp23
rip_ifup f33 stub0
rip_ifup b42 b42_f43
rip_ifup o51 o51_b52
in_rt o32 ip addr add 2001:db8:32:1::1/64 dev stub0
check "P: link up: routes back" by $((U + 5)) routes bp21:24:4 fp24:21:4
check "B: an address added on ours' stub LAN is advertised without restart: BIRD, FRR learn it (2)" \
	by $((U + 4)) rip_metric_is b31 2001:db8:32:1::/64 2
check "B: FRR's stub up: back at ours (2), BIRD (3), kernel" \
	by $((U + 5)) eval 'routes o32:33:2 b31:33:3 && stubs_via o32 33 33 && stubs_via b31 32 33'
check "C: link up: ours at both ends learn the far side again" \
	by $((U + 5)) eval 'routes o41:43:3 o41:44:4 o44:41:4 o44:42:3 && stubs_via o41 42 43 44 && stubs_via o44 43 41 42'
check "D: link up: direct again (2) via BIRD" by $((U + 5)) eval 'routes o51:52:2 b52:51:2 && stubs_via o51 52 52 && stubs_via b52 51 51'

# ---- silent neighbours, reload, restart -------------------------------------------------------
phase "silent neighbours, reload, restart"
rip_signal f33 STOP
rip_signal b42 STOP
in_rt o32 ip addr del 2001:db8:32:1::1/64 dev stub0
check "B: ... removed again: BIRD drops it before the timeout (ours sent 16)" \
	by 8 eval 'rip_metric_is b31 2001:db8:32:1::/64 none && kernel_none b31 2001:db8:32:1::/64'
# D: reload keeps routes, and applies a new cost.
before=$(in_rt o51 ip -6 route show proto 189) # read by the eval checks below
check "D: 'ripng reload': {\"reloaded\":true}" bash -c "[ \"\$($RIPNG -c $RIP_WORK/o51/ripng reload)\" = '{\"reloaded\":true}' ]"
check "D: reload keeps learned routes (kernel and status)" \
	eval '[ "$(in_rt o51 ip -6 route show proto 189)" = "$before" ] && routes o51:52:2 o51:53:2'
rip_signal o51 HUP
sleep 0.5
check "D: SIGHUP keeps them too" eval '[ "$(in_rt o51 ip -6 route show proto 189)" = "$before" ] && routes o51:52:2 o51:53:2'
rip_ifopt o51 o51_f53 "	option cost '5'"$'\n'
_rip_conf_ours o51
rip_signal o51 HUP
check "D: reload with cost 5 towards FRR: FRR's LAN now via BIRD (3)" \
	by $((U + 5)) eval 'routes o51:53:3 && stubs_via o51 52 53'
# D: our routes cannot move to another metric on a reload (the installed ones could then be
# neither replaced nor removed): refused, the running config and routes kept.
cp "$RIP_WORK/o51/ripng" "$RIP_WORK/o51/ripng.good"
sed -i "/^config ripng 'main'/a\\	option kernel_metric '600'" "$RIP_WORK/o51/ripng"
# (Outputs captured before matching: `| grep -q` can end the writer early, a pipefail.)
check "D: reload with another kernel_metric: refused, a restart needed" \
	eval '[[ $($RIPNG -c $RIP_WORK/o51/ripng reload) == *"kernel_metric need a restart"* ]]'
# (Not the same route lines as before: the cost-5 change above may still be settling.)
check "D: ... and our routes stay, at metric 512, none at 600" \
	eval 'routes o51:52:2 && r=$(in_rt o51 ip -6 route show proto 189) && [[ $r == *"metric 512"* && $r != *"metric 600"* ]]'
mv "$RIP_WORK/o51/ripng.good" "$RIP_WORK/o51/ripng"
# G: kill -9 leaves ours' routes in the kernel; the next start flushes what is stale.
rip_stop o81 KILL
check "G: ours killed (-9): its routes stay in the kernel (proto rip)" stubs_via o81 82 82
in_rt o81 ip -6 route add 2001:db8:dead::/64 via fe80::82 dev o81_s80 proto 189
rip_start o81 || fail "G: restart of ours"
restarted=$SECONDS
check "G: restarted: the stale proto-189 route is flushed" eventually 2 kernel_none o81 2001:db8:dead::/64
# At start ours asks for the whole table; the answers come at once, unicast. BIRD sends them
# with hop limit 255, FRR 8.4 with 64: RFC 2080 2.4.2 asks 255 of multicast packets only.
check "G: restarted: BIRD answers the whole-table Request: its routes back at once (2 s)" \
	eval 'EVENT=$restarted by 2 eval "routes o81:82:2 && stubs_via o81 82 82 && kernel_via o81 2001:db8:99::/64 85"'
check "G: restarted: FRR's unicast answer (hop limit 64) taken: its LAN back at once (2 s)" \
	eval 'EVENT=$restarted by 2 eval "routes o81:83:2 && stubs_via o81 85 83" && status_py o81 "assert counter(\"bad_hop_limit\") == 0, d[\"counters\"]"'
check "G: restarted: BIRD and FRR have ours' LAN" by $((U + 4)) routes b82:81:2 f83:81:2
# Silent peers: their routes time out (metric 16, out of the kernel), then go.
check "B: FRR silent (SIGSTOP): its LAN times out at ours (16) and leaves the kernel" \
	by $((U + T + 4)) eval 'routes o32:33:16 && stubs_none o32 33'
check "B: ... ours withdraws it from BIRD too" by 5 eval 'gone b31:33 && stubs_none b31 33'
check "C: BIRD silent: ours (o41) times out everything via BIRD" \
	by $((U + T + 4)) eval 'gone o41:42 o41:43 o41:44 && stubs_none o41 42 43 44'
check "C: ... o44 too, through FRR" by $((2 * U + T + 4)) eval 'gone o44:42 o44:41 && stubs_none o44 41 42'
check "B: silent neighbour's route garbage-collected: gone from ours' status" \
	by $((U + T + G + 5)) routes o32:33:none
check "B: status: the silent neighbour's last_heard_s counts up" status_py o32 "
n = [x for x in d['neighbors'] if x['address'] == 'fe80::33']
assert not n or n[0]['last_heard_s'] >= $T, n"
check "C: garbage-collected at o41" by $((U + T + G + 5)) routes o41:42:none o41:43:none o41:44:none

phase "silent neighbours back"
rip_signal f33 CONT
rip_signal b42 CONT
check "B: FRR back: ours and BIRD learn its LAN again" \
	by $((2 * U + 4)) eval 'routes o32:33:2 b31:33:3 && stubs_via o32 33 33'
check "C: BIRD back: both ends converge again" \
	by $((2 * U + 4)) eval 'routes o41:42:2 o41:44:4 o44:41:4 && stubs_via o41 42 42 43 44'

# ---- count to infinity, bounded (F) ----------------------------------------------------------
check "F: no split horizon: the loop counts to 16 and stops: unreachable at both within 45 s" \
	cti_result 73 45 15
check "F: ... and out of both kernels" eval 'stubs_none o71 73 && stubs_none o72 73'
check "F: ... and stays so" still $((2 * U)) gone o71:73 o72:73
check "every daemon of ours still running" running o32 o41 o44 o51 o61 o62 o71 o72 o81 o91
phase "clean exit"
rip_stop o44 TERM
check "C: ours stopped (TERM): its routes leave the kernel (flush_on_exit)" \
	eval '[ -z "$(in_rt o44 ip -6 route show proto 189)" ] || { in_rt o44 ip -6 route show proto 189; false; }'
check "C: ... and FRR drops its LAN at once (withdrawn with 16 on the way out)" by 4 eval 'gone f43:44 && stubs_none f43 44'
kernel_clean() {
	local r rc=0
	for r in "$@"; do
		status_py "$r" "assert d['kernel']['errors'] == 0, ('$r', d['kernel'])" || rc=1
	done
	return $rc
}
check "no kernel errors at any of ours" kernel_clean o32 o41 o51 o61 o62 o71 o72 o81 o91
echo "--- done in ${SECONDS}s"
finish
