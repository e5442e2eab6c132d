#!/bin/bash
# Benchmark: our nat64 side by side with tayga (Debian) on the same namespaces and veths,
# plus plain kernel IPv6 forwarding as the ceiling. Not a test; run as root:
#
#   bench/nat64.sh        (SECONDS_PER_RUN=5 by default; NAT64=path/to/nat64 or BIN_DIR=dir
#                          holding it, else a host release build)
#
# Topology: client C (IPv6 only) -- router R -- server S (IPv4; IPv6 too, for the ceiling).
# Prefix 2001:db8:64::/96 for both translators (tayga accepts documentation IPv4 with it).
# Prints iperf3 TCP both ways and UDP 64-byte packets/s for each, one flow and FLOWS flows
# (default 4: iperf3 -P, streams from distinct ports, sent by one iperf3 thread, which leaves
# the other cores to the router), the ratios, and RSS with 10,000 sessions. nat64 runs with
# WORKERS workers (default 0: one per CPU), and once more with one worker for the flows.
# PERF=1: perf record (cpu-clock) of each translator during its one-flow run, top symbols.

# No pipefail: `nft ... | grep -q` would fail whenever nft writes after grep has quit.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/tests/lib/netns.sh"
. "$REPO/tests/lib/nat64.sh"
DUR="${SECONDS_PER_RUN:-5}"
FLOWS="${FLOWS:-4}"
WORKERS="${WORKERS:-0}"
need_root
need_pkgs iperf3 tayga python3 iproute2 iputils-ping
need_bin NAT64 nat64

C="b64c-$$"; R="b64r-$$"; S="b64s-$$"
workdir T nat64-bench
inc() { ip netns exec "$C" "$@"; }
inr() { ip netns exec "$R" "$@"; }
ins() { ip netns exec "$S" "$@"; }

nat64_net "$C" "$R" "$S" b64
# IPv6 on the server side too, for the kernel's forwarding as the ceiling.
inr ip addr add 2001:db8:2::1/64 dev b64rs nodad
ins ip addr add 2001:db8:2::2/64 dev b64s0 nodad
ins ip -6 route add default via 2001:db8:2::1
sleep 0.3

# measure WHO TARGET: iperf3 through WHO to TARGET; sets UP and DOWN (TCP, Mbit/s), PPS
# (UDP, 64-byte packets/s, one flow) and PPS_FLOWS (the same, FLOWS flows at once). A run
# that measures nothing ends the bench (no zeros printed).
measure() {
	UP=$(run_iperf "$2" "" 1 2>&1) || die "$1: iperf3 TCP up to $2 failed: $UP"
	DOWN=$(run_iperf "$2" "-R" 1 2>&1) || die "$1: iperf3 TCP down from $2 failed: $DOWN"
	measure_udp "$@"
}
# measure_udp WHO TARGET [PID]: with the translator's PID, also CPU_US: its user and kernel
# CPU time per packet of the one-flow run, in microseconds (from /proc/PID/stat, all threads).
measure_udp() {
	local before after perf=""
	if [ -n "${3:-}" ]; then
		before="$(cpu_ticks "$3")"
		if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
			perf record -q -e cpu-clock -p "$3" -o "$T/perf.$1.data" -- sleep "$DUR" >/dev/null 2>&1 &
			perf=$!
		fi
	fi
	PPS=$(run_iperf "$2" "-u -l 64 -b 0" 1 2>&1) || die "$1: iperf3 UDP to $2 failed: $PPS"
	if [ -n "${3:-}" ]; then
		after="$(cpu_ticks "$3")"
		CPU_US="$(per_packet_us "$before" "$after" "$PPS")"
	fi
	if [ -n "$perf" ]; then
		wait "$perf"
		echo "perf record -e cpu-clock of $1, one flow: top symbols (share of its samples)"
		perf report -i "$T/perf.$1.data" --no-children --sort sym --stdio 2>/dev/null |
			awk '/^ +[0-9]/ && n++ < 14 {print "  " $0}'
	fi
	PPS_FLOWS=$(run_iperf "$2" "-u -l 64 -b 0" "$FLOWS" 2>&1) ||
		die "$1: iperf3 UDP, $FLOWS flows to $2, failed: $PPS_FLOWS"
}
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # user, system (all threads)
per_packet_us() { # "USER SYS" before, after, packets/s: "user U us, kernel K us" per packet
	python3 - "$1" "$2" "$3" "$DUR" "$(getconf CLK_TCK)" <<'PY'
import sys
(u0, s0), (u1, s1) = (map(int, x.split()) for x in sys.argv[1:3])
packets = float(sys.argv[3]) * float(sys.argv[4])
us = 1e6 / int(sys.argv[5]) / packets
print("user %.2f us, kernel %.2f us" % ((u1 - u0) * us, (s1 - s0) * us))
PY
}
run_iperf() { # TARGET OPTIONS STREAMS: prints the number, or why there is none (and fails)
	local target="$1" opts="$2" streams="$3" server
	ip netns exec "$S" iperf3 -s -1 >/dev/null 2>&1 &
	server=$!
	sleep 0.3
	# shellcheck disable=SC2086 # options as words
	inc iperf3 -c "$target" -t "$DUR" -P "$streams" $opts --json 2>/dev/null >"$T/iperf.json"
	wait "$server" 2>/dev/null
	python3 - "$T/iperf.json" "$opts" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    if "error" in d:
        sys.exit(d["error"])
    if "-u" in sys.argv[2]:
        s = d["end"]["sum"]
        v = (s["packets"] - s["lost_packets"]) / s["seconds"]
    else:
        v = d["end"]["sum_received"]["bits_per_second"] / 1e6
except Exception as e:
    sys.exit("no result (%s)" % e)
if v <= 0:
    sys.exit("nothing got through")
print("%.0f" % v)
PY
}
# started NAME PID LOG: the peer still runs and translates a ping, or the bench ends here.
started() {
	kill -0 "$2" 2>/dev/null || die "$1 did not start: $(tail -5 "$3")"
	wait_for 5 inc ping -c1 -W1 2001:db8:64::192.0.2.2 >/dev/null ||
		die "$1 runs but translates no ping to 2001:db8:64::192.0.2.2: $(tail -5 "$3")"
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
measure kernel 2001:db8:2::2
k_up=$UP k_down=$DOWN k_pps=$PPS k_flows=$PPS_FLOWS
echo "kernel   TCP up ${k_up} Mbit/s  TCP down ${k_down} Mbit/s  UDP64 ${k_pps} pps, ${FLOWS} flows ${k_flows} pps"

# start_nat64 WORKERS: our nat64 in R; sets NPID.
start_nat64() {
	cat >"$T/nat64" <<CONF
config nat64 'main'
	option prefix '2001:db8:64::/96'
	option tun_device 'b64tun'
	list pool4 '198.51.100.0/30'
	option max_sessions '100000'
	option workers '$1'
	option control_socket '$T/nat64.sock'
CONF
	rm -f "$T/nat64.sock"
	spawn "$R" "$NAT64" -c "$T/nat64" run 2>"$T/nat64.log"
	NPID=$SPAWNED_PID
	wait_for 5 test -S "$T/nat64.sock"
	started nat64 "$NPID" "$T/nat64.log"
}
echo "== nat64, one worker"
start_nat64 1
measure_udp nat64 2001:db8:64::192.0.2.2 "$NPID"
n1_pps=$PPS n1_flows=$PPS_FLOWS
echo "nat64/1  UDP64 ${n1_pps} pps, ${FLOWS} flows ${n1_flows} pps; one flow: CPU per packet ${CPU_US}"
kill "$NPID"; wait "$NPID" 2>/dev/null
sleep 0.3

echo "== nat64"
start_nat64 "$WORKERS"
workers="$("$NAT64" -c "$T/nat64" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"])')"
measure nat64 2001:db8:64::192.0.2.2 "$NPID"
n_up=$UP n_down=$DOWN n_pps=$PPS n_flows=$PPS_FLOWS
spread="$("$NAT64" -c "$T/nat64" status | python3 -c 'import json,sys; print(*json.load(sys.stdin)["worker_packets"])')"
echo "nat64/${workers}  TCP up ${n_up} Mbit/s  TCP down ${n_down} Mbit/s  UDP64 ${n_pps} pps, ${FLOWS} flows ${n_flows} pps; one flow: CPU per packet ${CPU_US}"
echo "nat64    packets read by each worker: ${spread}"
n_rss0="$(rss_kb "$NPID")"
sessions
sleep 0.5
n_sessions="$("$NAT64" -c "$T/nat64" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"]["total"])')"
n_rss="$(rss_kb "$NPID")"
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
inr tayga -c "$T/tayga.conf" --mktun >"$T/tayga.log" 2>&1 || die "tayga --mktun failed: $(cat "$T/tayga.log")"
inr ip link set b64tay up
inr ip route add 198.51.100.0/24 dev b64tay
inr ip -6 route add 2001:db8:64::/96 dev b64tay
spawn "$R" tayga -c "$T/tayga.conf" --nodetach >>"$T/tayga.log" 2>&1
TPID=$SPAWNED_PID
sleep 0.5
started tayga "$TPID" "$T/tayga.log"
measure tayga 2001:db8:64::192.0.2.2 "$TPID"
t_up=$UP t_down=$DOWN t_pps=$PPS t_flows=$PPS_FLOWS
echo "tayga    TCP up ${t_up} Mbit/s  TCP down ${t_down} Mbit/s  UDP64 ${t_pps} pps, ${FLOWS} flows ${t_flows} pps; one flow: CPU per packet ${CPU_US}"
sessions
sleep 0.5
echo "tayga    RSS $(rss_kb "$TPID") kB after the same 10,000 flows (tayga keeps no sessions)"

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else 'n/a')" "$1" "$2"; }
echo "== ratios"
echo "nat64/tayga   TCP up $(ratio "$n_up" "$t_up")  TCP down $(ratio "$n_down" "$t_down")  UDP64 $(ratio "$n_pps" "$t_pps"), ${FLOWS} flows $(ratio "$n_flows" "$t_flows")"
echo "nat64/kernel  TCP up $(ratio "$n_up" "$k_up")  TCP down $(ratio "$n_down" "$k_down")  UDP64 $(ratio "$n_pps" "$k_pps"), ${FLOWS} flows $(ratio "$n_flows" "$k_flows")"
echo "nat64 ${workers} workers / 1 worker  UDP64 ${FLOWS} flows $(ratio "$n_flows" "$n1_flows")"
