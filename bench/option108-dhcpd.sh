#!/bin/bash
# Benchmark: full DORA with unique MACs, many in flight, option108-dhcpd and Kea
# (kea-dhcp4-server from Debian) on the same namespaces, same pool, same client, runs
# alternating ours/Kea; prints leases/s of each and the ratio, the server CPU per lease, and
# the RSS of both with 10,000 active leases. Not a test: numbers only.
#
#   bench/option108-dhcpd.sh            (as root)
#   O108=path/to/option108-dhcpd N=20000 WINDOW=96 RUNS=5 DISK=1 KEA_SEVERITY=WARN LOG_LEASES=0 bench/option108-dhcpd.sh
#
# The client is packages/option108-dhcpd/examples/dora_load.rs (built here): one process, one
# UDP socket on port 68 of the client namespace's veth, batched I/O, WINDOW exchanges in
# flight, every request with the broadcast flag so both servers broadcast their replies (the
# client has no address; unicast replies to yiaddr could not reach it). It prints its own CPU
# per lease (client_cpu_us; client_user_us is its user-space part, under 1 us): when that is
# below a server's, the rate measures the server.
# Over a veth the sender's CPU also runs the receiver's network stack (softirq), so the
# client's CPU includes the servers' receive path (for Kea, its AF_PACKET socket and filter)
# and each server's CPU includes the client's receive path of its replies.
#
# Each run starts the server afresh on an empty lease file, so every run sees the same state.
# Both servers persist leases: ours appends to its journal and fdatasyncs it before sending
# the ACKs of a batch (group commit); Kea appends to its memfile CSV (persist: true, as it
# ships; no fsync). Lease files are on a tmpfs (what /tmp is on OpenWrt); with DISK=1 (the
# default) one more pair of runs puts them on the disk that holds this machine's /tmp.
#
# The machine may be shared: the load average is printed first; the wall-clock rate needs
# two free cores (client and server), the CPU per lease does not.
# No pipefail: `nft ... | grep -q` would fail whenever nft writes after grep has quit.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
N=${N:-20000}
# Exchanges in flight: at 96 neither server dropped a request in our runs. With the default
# 212992-byte socket buffers ours dropped a few at 128 now and then and both did at 256; ours
# now asks for 1 MiB (its status counts the kernel's drops: kernel_drops, printed per run):
# at WINDOW=256 (3 runs, LOG_LEASES=1) it then dropped none (the previous build: about 120
# retransmits per run and a fifth of the rate), while Kea still did.
# Each drop costs a 1 s retransmit, counted in the client's line and visible in the rate.
WINDOW=${WINDOW:-96}
RUNS=${RUNS:-5}
DISK=${DISK:-1}
LEASES=${LEASES:-10000}
# Logging: Kea logs at WARN here, so it does not log per lease; ours runs with log_leases 0
# (lease events at debug, not written) to match. Ours with LOG_LEASES=1 logs DHCPACKs at info
# (stderr -> a file here), rate-limited to 100 lines per 10 s (the rest counted in status
# log_suppressed). Debian's kea-dhcp4.conf ships severity INFO, at which Kea logs every
# allocation (DHCP4_LEASE_ALLOC): KEA_SEVERITY=INFO.
KEA_SEVERITY=${KEA_SEVERITY:-WARN}
LOG_LEASES=${LOG_LEASES:-0}
# Pool for the rate runs: room for every client plus a margin, same for both servers.
POOL=$((N + N / 10))

. "$REPO/tests/lib/netns.sh"
need_root
need_pkgs kea-dhcp4-server iproute2 python3
command -v kea-dhcp4 >/dev/null || die "kea-dhcp4-server is installed, but there is no kea-dhcp4"
# Debian starts Kea as a service on install; this benchmark runs its own instance only.
# The static musl build (as shipped) first: its RSS is what a router sees.
XC_BIN=$REPO/target/xc/dist/x86_64-unknown-linux-musl
[ -z "${O108:-}" ] && [ -z "${BIN_DIR:-}" ] && [ -x "$XC_BIN/option108-dhcpd" ] && BIN_DIR=$XC_BIN
need_bin O108 option108-dhcpd

# The load generator: a host release build of the crate's example.
LOAD_TARGET=${LOAD_TARGET:-$REPO/target/h-option108-bench}
(cd "$REPO" && CARGO_TARGET_DIR="$LOAD_TARGET" cargo build -q -j1 --release -p option108-dhcpd --example dora_load) ||
	{ echo "cannot build the dora_load example"; exit 1; }
LOAD="$LOAD_TARGET/release/examples/dora_load"

S="dhb-s-$$"
C="dhb-c-$$"
workdir T dhb-bench
export OPTION108_DHCPD_SOCKET="$T/ctl.sock"
SPID=""

netns_add "$S" "$C"
veth "$S" dhbs "$C" dhbc
ip -n "$S" addr add 10.9.0.1/16 dev dhbs
sleep 0.5

mkdir -p "$T/ram" "$T/disk"
mount -t tmpfs -o size=64m dhbbench "$T/ram" || die "cannot mount a tmpfs"
at_exit "umount '$T/ram'"

last_pool_addr() { # POOL-SIZE: the last address of a pool starting at 10.9.0.10
	local n=$((10 + $1 - 1))
	echo "10.9.$((n >> 8)).$((n & 255))"
}
write_configs() { # STATE-DIR POOL-SIZE
	cat >"$T/dhcp" <<EOF
config option108_dhcpd
	option journal '$1/o108.journal'
	option leasefile '$1/dhcp.leases'
	option log_leases '$LOG_LEASES'
	option control_socket '$T/ctl.sock'
config dhcp 'lan'
	option device 'dhbs'
	option start '10'
	option limit '$2'
	option leasetime '12h'
EOF
	cat >"$T/kea.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "dhbs" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$1/kea-leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 43200,
    "subnet4": [ { "id": 1, "subnet": "10.9.0.0/16", "pools": [ { "pool": "10.9.0.10 - $(last_pool_addr "$2")" } ],
                   "option-data": [ { "name": "routers", "data": "10.9.0.1" },
                                    { "name": "domain-name-servers", "data": "10.9.0.1" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$T/kea.log" } ], "severity": "$KEA_SEVERITY" } ]
} }
EOF
	STATE=$1
}

port67_bound() { ip netns exec "$S" ss -H -uln 'sport = :67' | grep -q .; }
start_ours() {
	rm -f "$STATE"/o108.journal* "$STATE/dhcp.leases"
	spawn "$S" "$O108" -c "$T/dhcp" run 2>"$T/o108.log"
	SPID=$SPAWNED_PID
	for _ in $(seq 50); do "$O108" -c "$T/dhcp" status >/dev/null 2>&1 && return 0; sleep 0.1; done
	die "option108-dhcpd did not start: $(cat "$T/o108.log")"
}
start_kea() {
	rm -f "$STATE"/kea-leases4.csv*
	KEA_LOCKFILE_DIR="$T" KEA_PIDFILE_DIR="$T" spawn "$S" kea-dhcp4 -c "$T/kea.json" >"$T/kea.out" 2>&1
	SPID=$SPAWNED_PID
	for _ in $(seq 100); do port67_bound && break; sleep 0.05; done
	# Port 67 is bound while the interfaces are opened; a moment more for the rest.
	sleep 0.3
	{ kill -0 "$SPID" 2>/dev/null && port67_bound; } || die "kea-dhcp4 did not start: $(tail -5 "$T/kea.out")"
}
stop_server() {
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}
dora() { # COUNT BASE -> the generator's summary line
	ip netns exec "$C" "$LOAD" --iface dhbc --count "$1" --base "$2" --window "$WINDOW" \
		--timeout-ms 1000 --tries 3 --quiet
}
kv() { # KEY LINE -> value
	local v
	v=$(grep -oE "(^| )$1=[^ ]*" <<<"$2" | head -1)
	echo "${v#*=}"
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user+system, all threads) of a process in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# One run of one server; sets RATE, CPU (server us per lease) and LINE (the client's summary).
one_run() { # ours|kea
	local c0 cpu leases
	"start_$1"
	c0=$(cpu_ticks "$SPID")
	LINE=$(dora "$N" 1)
	cpu=$(($(cpu_ticks "$SPID") - c0))
	EXTRA=""
	if [ "$1" = ours ]; then
		EXTRA=$("$O108" -c "$T/dhcp" status | python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]; print("kernel_drops=%d log_suppressed=%d" % (c["kernel_drops"], c["log_suppressed"]))')
	fi
	stop_server
	leases=$(kv leases "$LINE")
	[ "${leases:-0}" -gt 0 ] || die "$1: no lease acked in the run: ${LINE:-no output from dora_load}"
	RATE=$(kv rate "$LINE")
	CPU=$(awk -v c="$cpu" -v n="$leases" -v t="$TICK" 'BEGIN { printf "%.1f", n ? c / t / n * 1e6 : 0 }')
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

rate_runs() { # LABEL RUNS
	local i r o_rates="" k_rates="" o_cpus="" k_cpus="" o_client="" k_client=""
	echo "lease files on $1:"
	for i in $(seq "$2"); do
		for r in ours kea; do
			one_run "$r"
			printf '  run %d %-16s %7s leases/s  server CPU %5s us/lease  (%s)%s\n' "$i" \
				"$([ "$r" = ours ] && echo option108-dhcpd || echo "kea-dhcp4 $KEA_VERSION")" "$RATE" "$CPU" "$LINE" "${EXTRA:+ $EXTRA}"
			if [ "$r" = ours ]; then
				o_rates+="$RATE "; o_cpus+="$CPU "; o_client+="$(kv client_cpu_us "$LINE") "
			else
				k_rates+="$RATE "; k_cpus+="$CPU "; k_client+="$(kv client_cpu_us "$LINE") "
			fi
		done
	done
	local o_rate k_rate o_cpu k_cpu o_cl k_cl
	o_rate=$(tr ' ' '\n' <<<"$o_rates" | grep . | median)
	k_rate=$(tr ' ' '\n' <<<"$k_rates" | grep . | median)
	o_cpu=$(tr ' ' '\n' <<<"$o_cpus" | grep . | median)
	k_cpu=$(tr ' ' '\n' <<<"$k_cpus" | grep . | median)
	o_cl=$(tr ' ' '\n' <<<"$o_client" | grep . | median)
	k_cl=$(tr ' ' '\n' <<<"$k_client" | grep . | median)
	awk -v o="$o_rate" -v k="$k_rate" -v oc="$o_cpu" -v kc="$k_cpu" -v ol="$o_cl" -v kl="$k_cl" -v n="$2" 'BEGIN {
		printf "  median of %d: option108-dhcpd %.0f leases/s, kea %.0f leases/s: ratio ours/kea %.2fx\n", n, o, k, k ? o / k : 0
		printf "  server CPU per lease (median): option108-dhcpd %.1f us, kea %.1f us: ratio kea/ours %.2fx\n", oc, kc, oc ? kc / oc : 0
		printf "  client (dora_load) CPU per lease (median): %.1f us against option108-dhcpd, %.1f us against kea\n", ol, kl
	}'
}

KEA_VERSION=$(kea-dhcp4 -v 2>/dev/null)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
echo "DORA, $N unique clients per run, pool of $POOL, $WINDOW in flight, client: dora_load (Rust, broadcast flag set), Kea log severity $KEA_SEVERITY, ours log_leases $LOG_LEASES"
write_configs "$T/ram" "$POOL"
rate_runs "tmpfs (as /tmp on OpenWrt)" "$RUNS"
if [ "$DISK" = 1 ]; then
	write_configs "$T/disk" "$POOL"
	rate_runs "disk ($(df -T "$T/disk" | awk 'NR==2 {print $2}'))" 1
fi

# A pool of exactly LEASES addresses: what is measured is the cost of the leases.
write_configs "$T/ram" "$LEASES"
echo
echo "RSS with $LEASES active leases"
start_ours
line=$(dora "$LEASES" 100000)
o_rss=$(rss_kb "$SPID")
active=$("$O108" -c "$T/dhcp" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pools"][0]["active_leases"])')
stop_server
o_acked=$(kv leases "$line")
start_kea
line=$(dora "$LEASES" 100000)
k_rss=$(rss_kb "$SPID")
stop_server
k_acked=$(kv leases "$line")
printf '%-18s RSS %6s kB  (%s leases acked, %s active by status)\n' "option108-dhcpd" "$o_rss" "$o_acked" "$active"
printf '%-18s RSS %6s kB  (%s leases acked)\n' "kea-dhcp4" "$k_rss" "$k_acked"
echo "binary: $O108 ($(stat -c %s "$O108") bytes; $(file -b "$O108" 2>/dev/null | cut -d, -f1-2))"
