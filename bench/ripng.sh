#!/bin/bash
# Benchmark: our ripng side by side with BIRD 2 (`protocol rip ng`, Debian's bird2) in one run,
# in network namespaces, with the same timers for both (update 5 s, timeout 15 s, garbage
# 10 s: RIP_UPDATE, RIP_TIMEOUT, RIP_GARBAGE). Not a test: numbers only. Run as root:
#
#   bench/ripng.sh        (RIPNG=path/to/ripng or BIN_DIR=dir holding it, else the static musl
#                          x86_64 build, made first with ci/xc.sh;
#                          REPS=3 repetitions per event, CYCLES=6 update cycles measured,
#                          ROUTES=10000, FEED_RATE=100mbit)
#
# 1. Convergence, on two lines A - B - C (one all ours, one all BIRD; built and run at the same
#    time, each event applied to both): the time from an event on the link A-B until C's
#    kernel table shows it for A's stub LAN (its route gone, or back), polled every 50 ms with
#    `ip -6 route show PREFIX` (the first poll right after the event); the median of REPS runs.
#      link down:       B's end of A-B set down (the kernel drops its addresses, as it does)
#      link up:         ... set up again, B's link-local added back as the kernel would make one
#      neighbour loss:  A's daemon stopped (SIGSTOP) right after it sent an update: B must time
#                       A's routes out (timeout, 15 s), then tell C
#      neighbour back:  A continued (SIGCONT); shown, not a goal
#    Each event starts from a quiet state (a settled table, more than an update interval after
#    the last change), so that no rate limit of triggered updates left over from it applies.
# 2. ROUTES routes: a feeder (BIRD, the same program and config for both) advertises ROUTES
#    static blackhole /64s to the router under test (F - R - S; S has no daemon, R sends its
#    updates there too) over a link shaped to FEED_RATE. Once R has all of them in its kernel
#    table (`ip -6 route show proto rip|bird`), its CPU over CYCLES periodic update cycles, per
#    cycle: the scheduler's run time of its threads (/proc/PID/task/*/schedstat, ns), with
#    utime+stime (/proc/PID/stat, 10 ms ticks: too coarse for a few ms per cycle) beside it;
#    its RSS (VmRSS); and the datagrams its namespace received and dropped (buffer full).
#
# Goals (issue 10): ours <= BIRD on each convergence event and on CPU per update cycle; our
# RSS <= 4 MB with 10,000 routes. Printed either way, with the ratios. Exits 1, saying why, when
# BIRD (or ours) cannot be installed or started, or a measurement measured nothing (a route
# that never converged, routes missing from a kernel table, no CPU time at all).

# No pipefail: `... | grep -q` would fail whenever the writer goes on after grep has quit.
set -u
export LC_ALL=C # EPOCHREALTIME with a decimal point
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/tests/lib/netns.sh"
. "$REPO/tests/lib/ripng.sh"
REPS=${REPS:-3}
CYCLES=${CYCLES:-6}
ROUTES=${ROUTES:-10000}
# The feeder's link (tc tbf on its end; 0: unshaped). Unshaped, the feeder's update (140
# packets) arrives as one burst at memory speed: BIRD's socket, with the default 208 KB receive
# buffer, overflows and it keeps only about 6,500 of 10,000 routes (the same packets lost every
# time; ours asks for 1 MiB and keeps all). At 100 Mbit/s neither drops a packet.
FEED_RATE=${FEED_RATE:-100mbit}
# More than an update interval (5 s, jittered by up to 1/6): the next event starts quiet.
SETTLE=${SETTLE:-6}
# Longest wait for one convergence: timeout + garbage + an update and then some.
LIMIT=${LIMIT:-40}
need_root
need_pkgs bird2 iproute2 python3
{ command -v bird && command -v birdc; } >/dev/null || die "bird2 is installed, but there is no bird or birdc"
# The static musl build (as shipped), made now from this tree: its RSS is what a router
# sees, and a binary left from an older build would measure older code.
if [ -z "${RIPNG:-}" ] && [ -z "${BIN_DIR:-}" ]; then
  DAEMONS=ripng "$REPO/ci/xc.sh" build x86_64-unknown-linux-musl >&2 ||
    die "building the static ripng (ci/xc.sh build x86_64-unknown-linux-musl) failed"
  BIN_DIR=$REPO/target/xc/dist/x86_64-unknown-linux-musl
fi
need_bin RIPNG ripng
START=$SECONDS

RIP_TAG=rb$$
rip_init
BIRD_VERSION=$(bird --version 2>&1 | awk '{print $NF}')
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
echo "ours: $RIPNG ($(stat -c %s "$RIPNG") bytes; $(file -b "$RIPNG" 2>/dev/null | cut -d, -f1-2))"
echo "BIRD $BIRD_VERSION; timers for both: update $RIP_UPDATE s, timeout $RIP_TIMEOUT s, garbage $RIP_GARBAGE s"

now_us() { echo "${EPOCHREALTIME/./}"; }
# has_route NAME PREFIX: NAME's kernel has a route to PREFIX that leads somewhere.
has_route() { ip -n "$(rip_ns "$1")" -6 route show "$2" 2>/dev/null | grep -qvE '^(unreachable|blackhole|prohibit)'; }
# udp6 NAME COUNTER: a UDP counter of NAME's namespace (/proc/net/snmp6).
udp6() { ip netns exec "$(rip_ns "$1")" cat /proc/net/snmp6 | awk -v c="$2" '$1 == c { print $2 }'; }
kernel_count() { ip -n "$(rip_ns "$1")" -6 route show proto "$2" 2>/dev/null | wc -l; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The same, in ns (the scheduler's run time of every thread): the ticks above are 10 ms.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { print s }'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else if (NR) printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# started NAME: NAME's daemon runs (rip_start said why when it did not).
started() { rip_start "$1" || die "$(rip_kind "$1") in $1 did not start"; }
name_of() { [ "$1" = o ] && echo ours || echo BIRD; }

# ---------------------------------------------------------------------------------------------
# 1. Convergence on A - B - C.
LINES=(o b)
declare -A KIND=([o]=ours [b]=bird) BASE=([o]=0 [b]=10)
for l in "${LINES[@]}"; do
	rip_router "${l}A" "${KIND[$l]}" $((BASE[$l] + 1))
	rip_router "${l}B" "${KIND[$l]}" $((BASE[$l] + 2))
	rip_router "${l}C" "${KIND[$l]}" $((BASE[$l] + 3))
	rip_link "${l}A" "${l}B"
	rip_link "${l}B" "${l}C"
done
for l in "${LINES[@]}"; do for r in A B C; do started "$l$r"; done; done
stub_a() { stub "${RIP_ID[${1}A]}"; }

# converge WANT LIMIT LINE...: poll each line's C every 50 ms until its route to A's stub is
# there (WANT 1) or gone (0); DT[LINE]: seconds from T0[LINE] (the event), or "none".
declare -A T0 DT
converge() {
	local want=$1 limit=$2 l got t next
	shift 2
	local pending=("$@") end=$(($(now_us) + limit * 1000000))
	while ((${#pending[@]})); do
		next=()
		for l in "${pending[@]}"; do
			t=$(now_us)
			has_route "${l}C" "$(stub_a "$l")" && got=1 || got=0
			if [ "$got" = "$want" ]; then
				DT[$l]=$(awk -v d=$((t - T0[$l])) 'BEGIN { printf "%.2f", d / 1e6 }')
			elif ((t > end)); then
				DT[$l]=none
			else
				next+=("$l")
			fi
		done
		pending=(${next[@]+"${next[@]}"})
		((${#pending[@]})) && sleep 0.05
	done
}
# ready: every line's C has the route (the state each event starts from), or the bench ends.
ready() {
	local l
	for l in "${LINES[@]}"; do
		wait_for "$LIMIT" has_route "${l}C" "$(stub_a "$l")" ||
			die "$(name_of "$l"): C has no route to A's stub $(stub_a "$l") (after ${LIMIT} s): $(ip -n "$(rip_ns "${l}C")" -6 route)"
	done
}
link_down() { ip -n "$(rip_ns "${1}B")" link set "${1}B_${1}A" down; }
link_up() {
	local ns
	ns=$(rip_ns "${1}B")
	ip -n "$ns" link set "${1}B_${1}A" up
	ip -n "$ns" addr add "fe80::${RIP_ID[${1}B]}/64" dev "${1}B_${1}A"
}
# A stopped right after it sent (its namespace's Udp6OutDatagrams went up: in a settled table
# only its periodic update): the time is B's timeout and what follows, not where in the update
# interval the stop happened to fall (up to 5 s either way).
stop_a() {
	local n0 end=$(($(now_us) + 2 * RIP_UPDATE * 1000000))
	n0=$(udp6 "${1}A" Udp6OutDatagrams)
	until (($(udp6 "${1}A" Udp6OutDatagrams) > n0)); do
		(($(now_us) < end)) || die "$(name_of "$1"): A sent nothing in $((2 * RIP_UPDATE)) s"
		sleep 0.01
	done
	rip_signal "${1}A" STOP
}
cont_a() { rip_signal "${1}A" CONT; }

declare -A RUNS=() FAILED=()
EVENTS=("link down" "link up" "neighbour loss" "neighbour back")
for label in "${EVENTS[@]}"; do for l in "${LINES[@]}"; do RUNS[$label/$l]=""; done; done
# event LABEL WANT ACTION: ACTION LINE on each line (its T0 right after), then converge.
event() {
	local label=$1 want=$2 action=$3 l
	for l in "${LINES[@]}"; do
		"$action" "$l"
		T0[$l]=$(now_us)
	done
	converge "$want" "$LIMIT" "${LINES[@]}"
	for l in "${LINES[@]}"; do
		RUNS[$label/$l]+="${DT[$l]} "
		[ "${DT[$l]}" = none ] && FAILED[$label/$l]=1
	done
	printf '  %-15s ours %6s s   BIRD %6s s\n' "$label" "${DT[o]}" "${DT[b]}"
}

echo
echo "== convergence on A - B - C (C's kernel route to A's stub; polled every 50 ms)"
ready
sleep "$SETTLE"
for i in $(seq "$REPS"); do
	echo " run $i"
	event "link down" 0 link_down
	sleep "$SETTLE"
	event "link up" 1 link_up
	ready
	sleep "$SETTLE"
done
for i in $(seq "$REPS"); do
	echo " run $i"
	event "neighbour loss" 0 stop_a
	# Not a goal, shown for what it is: A wakes up (SIGCONT) with its timers overdue.
	sleep "$SETTLE"
	event "neighbour back" 1 cont_a
	ready
	sleep "$SETTLE"
done
for l in "${LINES[@]}"; do for r in A B C; do rip_stop "$l$r"; done; done

declare -A MED
echo
printf '%-16s %-22s %-22s %s\n' "event" "ours: median (runs) s" "BIRD: median (runs) s" "ours/BIRD"
for label in "${EVENTS[@]}"; do
	for l in "${LINES[@]}"; do
		MED[$label/$l]=$(tr ' ' '\n' <<<"${RUNS[$label/$l]}" | grep -E '^[0-9.]+$' | median)
	done
	printf '%-16s %-22s %-22s %s\n' "$label" "${MED[$label/o]:-none} (${RUNS[$label/o]% })" \
		"${MED[$label/b]:-none} (${RUNS[$label/b]% })" "$(ratio "${MED[$label/o]:-0}" "${MED[$label/b]:-0}")"
done

# ---------------------------------------------------------------------------------------------
# 2. ROUTES routes from the same feeder, F - R - S.
echo
echo "== $ROUTES routes from a BIRD feeder (static blackhole /64s; its link to R: ${FEED_RATE/#0/unshaped}), F - R - S"
declare -A PROTO=([o]=rip [b]=bird)
# 2001:db8:1000::/64 up: clear of the stubs (2001:db8:ID::/64, ID < 100).
STATICS=$(awk -v n="$ROUTES" 'BEGIN {
	print "protocol static feed {\n  ipv6;"
	for (i = 0; i < n; i++) printf "  route 2001:db8:%x:%x::/64 blackhole;\n", 4096 + int(i / 256), i % 256
	print "}"
}')
for l in "${LINES[@]}"; do
	rip_router "${l}F" bird $((BASE[$l] + 51))
	rip_router "${l}R" "${KIND[$l]}" $((BASE[$l] + 52))
	rip_router "${l}S" host $((BASE[$l] + 53))
	rip_link "${l}F" "${l}R"
	rip_link "${l}R" "${l}S"
	if [ "$FEED_RATE" != 0 ]; then
		ip netns exec "$(rip_ns "${l}F")" tc qdisc add dev "${l}F_${l}R" root tbf rate "$FEED_RATE" burst 16kb latency 2s ||
			die "cannot shape the feeder's link to $FEED_RATE (tc tbf)"
	fi
	rip_opt "${l}F" "$STATICS"
	RIP_BIRD_CHANNEL[${l}F]="import none; export where source = RTS_STATIC;"
done
# Room for all of them (the default, 10,000, would be just enough).
rip_opt oR "	option max_routes '$((ROUTES * 2))'"
for l in "${LINES[@]}"; do started "${l}S"; started "${l}R"; done
for l in "${LINES[@]}"; do
	started "${l}F"
	T0[$l]=$(now_us)
done
# Time until every route is in R's kernel table (informative: both learn at the same time).
declare -A LEARN
waiting="${LINES[*]}"
end=$(($(now_us) + 120 * 1000000))
while [ -n "$waiting" ]; do
	later=""
	for l in $waiting; do
		t=$(now_us)
		n=$(kernel_count "${l}R" "${PROTO[$l]}")
		if [ "$n" -ge "$ROUTES" ]; then
			LEARN[$l]=$(awk -v d=$((t - T0[$l])) 'BEGIN { printf "%.1f", d / 1e6 }')
		elif ((t > end)); then
			die "$(name_of "$l") router: $n of $ROUTES routes in its kernel table (proto ${PROTO[$l]}) after 120 s"
		else
			later="$later $l"
		fi
	done
	waiting=${later# }
	[ -n "$waiting" ] && sleep 0.5
done
printf '  all %d in the kernel after: ours %s s, BIRD %s s (from the feeder'"'"'s start)\n' "$ROUTES" "${LEARN[o]}" "${LEARN[b]}"
# One more cycle: the triggered updates of the learning are over.
sleep "$RIP_UPDATE"
declare -A C0 C1 N0 N1 S0 S1 U0 U1 PID RSS CPU
sample() { # I: the routers' CPU (ticks, ns) and their namespaces' UDP counters into C/N/U/S$I
	local l
	for l in "${LINES[@]}"; do
		printf -v "C$1[$l]" %s "$(cpu_ticks "${PID[$l]}")"
		printf -v "N$1[$l]" %s "$(cpu_ns "${PID[$l]}")"
		printf -v "U$1[$l]" %s "$(udp6 "${l}R" Udp6InDatagrams)"
		printf -v "S$1[$l]" %s "$(udp6 "${l}R" Udp6RcvbufErrors)"
	done
}
for l in "${LINES[@]}"; do PID[$l]=$(rip_pid "${l}R"); done
sample 0
sleep $((CYCLES * RIP_UPDATE))
sample 1
for l in "${LINES[@]}"; do
	kill -0 "${PID[$l]}" 2>/dev/null || die "$(name_of "$l") router (pid ${PID[$l]}) is gone"
	RSS[$l]=$(rss_kb "${PID[$l]}")
	n=$(kernel_count "${l}R" "${PROTO[$l]}")
	[ "$n" -eq "$ROUTES" ] ||
		die "$(name_of "$l") router: $n routes in its kernel table (proto ${PROTO[$l]}) at the end of the window, not $ROUTES"
	d=$((N1[$l] - N0[$l]))
	[ "$d" -gt 0 ] || die "$(name_of "$l") router: no CPU time at all in $((CYCLES * RIP_UPDATE)) s with $ROUTES routes"
	CPU[$l]=$(awk -v d="$d" -v k="$CYCLES" 'BEGIN { printf "%.2f", d / 1e6 / k }')
	printf '  %-5s CPU %6s ms per update cycle (utime+stime: %d ticks of 1/%d s in %d cycles)   RSS %6d kB   %d routes (proto %s)\n' \
		"$(name_of "$l")" "${CPU[$l]}" $((C1[$l] - C0[$l])) "$TICK" "$CYCLES" "${RSS[$l]}" "$n" "${PROTO[$l]}"
	printf '        UDP datagrams received %d, dropped by the kernel (receive buffer full) %d\n' \
		$((U1[$l] - U0[$l])) $((S1[$l] - S0[$l]))
done
echo "  ours' counters: $("$RIPNG" -c "$RIP_WORK/oR/ripng" status 2>/dev/null | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin).get("counters")))' 2>&1)"
echo "  ratios ours/BIRD: CPU per cycle $(ratio "${CPU[o]}" "${CPU[b]}"), RSS $(ratio "${RSS[o]}" "${RSS[b]}")"

# ---------------------------------------------------------------------------------------------
echo
echo "== goals (issue 10)"
goal() { # TEXT MET(0/1)
	if [ "$2" = 1 ]; then echo "  met:     $1"; else echo "  NOT met: $1"; fi
}
for label in "link down" "link up" "neighbour loss"; do
	o=${MED[$label/o]:-} b=${MED[$label/b]:-}
	met=$(awk -v o="$o" -v b="$b" 'BEGIN { print (o != "" && b != "" && o <= b) ? 1 : 0 }')
	goal "$label: ours ${o:-none} s <= BIRD ${b:-none} s" "$met"
done
goal "CPU per update cycle with $ROUTES routes: ours ${CPU[o]} ms <= BIRD ${CPU[b]} ms" \
	"$(awk -v o="${CPU[o]}" -v b="${CPU[b]}" 'BEGIN { print (o <= b) ? 1 : 0 }')"
goal "RSS with $ROUTES routes: ours ${RSS[o]} kB <= 4096 kB (BIRD: ${RSS[b]} kB)" \
	"$([ "${RSS[o]}" -le 4096 ] && echo 1 || echo 0)"
echo "run time: $((SECONDS - START)) s"

# A convergence that never came is a measurement of nothing: said, after everything else.
if ((${#FAILED[@]})); then
	for k in "${!FAILED[@]}"; do
		echo "${0##*/}: ${k%/*}: $(name_of "${k#*/}")'s C never converged within $LIMIT s in some run" >&2
	done
	exit 1
fi
