#!/bin/bash
# Benchmark: full DORA with unique MACs, many in flight, option108-dhcpd and Kea
# (kea-dhcp4-server from Debian) one after the other on the same namespaces, same client
# (tests/system/option108-dhcpd/dhcpsim.py), same pool; prints leases/s of each and the
# ratio, then the RSS of both with 10,000 active leases. Not a test: numbers only.
#
#   bench/option108-dhcpd.sh            (as root; N=3000 clients per rate run by default)
#   O108=path/to/option108-dhcpd N=5000 WINDOW=128 bench/option108-dhcpd.sh
#
# Both servers persist leases: ours appends to its journal and fdatasyncs it before sending
# the ACKs of a batch (group commit); Kea writes its memfile CSV (without fsync). The rate is
# measured twice: with the lease files on a tmpfs (what /tmp is on OpenWrt) and on the disk
# that holds this machine's /tmp.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SIM="$REPO/tests/system/option108-dhcpd/dhcpsim.py"
N=${N:-20000}
WINDOW=${WINDOW:-64}
LEASES=${LEASES:-10000}

[ "$(id -u)" = 0 ] || { echo "must run as root"; exit 1; }
if ! command -v kea-dhcp4 >/dev/null; then
	echo "installing kea-dhcp4-server"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends kea-dhcp4-server >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kea-dhcp4-server >/dev/null 2>&1; }
fi
command -v kea-dhcp4 >/dev/null || { echo "kea-dhcp4 missing"; exit 1; }
# Debian starts Kea as a service on install; this benchmark runs its own instance only.
if [ -z "${O108:-}" ]; then
	# The static musl build (as shipped) first: its RSS is what a router sees.
	for cand in "$REPO/target/xc/dist/x86_64-unknown-linux-musl/option108-dhcpd" \
		"$REPO/target/h-option108-xc/dist/x86_64-unknown-linux-musl/option108-dhcpd" \
		"$REPO/target/h-option108/release/option108-dhcpd" "$REPO/target/release/option108-dhcpd"; do
		[ -x "$cand" ] && { O108="$cand"; break; }
	done
fi
[ -x "${O108:-}" ] || { echo "no release option108-dhcpd binary (set O108)"; exit 1; }

S="dh8b-s-$$"
C="dh8b-c-$$"
T="$(mktemp -d /tmp/dh8-bench.XXXXXX)"
export OPTION108_DHCPD_SOCKET="$T/ctl.sock"
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && sleep 0.3 && kill -9 "$SPID" 2>/dev/null
	umount "$T/ram" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$S"
ip netns add "$C"
ip -n "$S" link set lo up
ip -n "$C" link set lo up
ip -n "$S" link add dh8bs type veth peer name dh8bc netns "$C"
ip -n "$S" addr add 10.9.0.1/16 dev dh8bs
ip -n "$S" link set dh8bs up
ip -n "$C" link set dh8bc up
sleep 0.5

mkdir -p "$T/ram" "$T/disk"
mount -t tmpfs -o size=64m dh8bench "$T/ram" || { echo "cannot mount a tmpfs"; exit 1; }

write_configs() { # STATE-DIR POOL-SIZE
cat >"$T/dhcp" <<EOF
config option108_dhcpd
	option journal '$1/o108.journal'
	option leasefile '$1/dhcp.leases'
config dhcp 'lan'
	option device 'dh8bs'
	option start '10'
	option limit '$2'
	option leasetime '12h'
EOF
cat >"$T/kea.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "dh8bs" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$1/kea-leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 43200,
    "subnet4": [ { "id": 1, "subnet": "10.9.0.0/16", "pools": [ { "pool": "10.9.0.10 - $(python3 -c "import ipaddress; print(ipaddress.IPv4Address('10.9.0.10') + $2 - 1)")" } ],
                   "option-data": [ { "name": "routers", "data": "10.9.0.1" },
                                    { "name": "domain-name-servers", "data": "10.9.0.1" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$T/kea.log" } ], "severity": "WARN" } ]
} }
EOF
STATE=$1
}

start_ours() {
	rm -f "$STATE/o108.journal"
	ip netns exec "$S" "$O108" -c "$T/dhcp" run 2>"$T/o108.log" &
	SPID=$!
	for _ in $(seq 50); do "$O108" status >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "option108-dhcpd did not start: $(cat "$T/o108.log")"
	exit 1
}
start_kea() {
	rm -f "$STATE"/kea-leases4.csv*
	KEA_LOCKFILE_DIR="$T" KEA_PIDFILE_DIR="$T" ip netns exec "$S" kea-dhcp4 -c "$T/kea.json" >"$T/kea.out" 2>&1 &
	SPID=$!
	sleep 2
	kill -0 "$SPID" 2>/dev/null || { echo "kea-dhcp4 did not start: $(tail -5 "$T/kea.out")"; exit 1; }
}
stop_server() {
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}
dora() { # COUNT BASE -> "acked rate"
	ip netns exec "$C" python3 "$SIM" dora --iface dh8bc --count "$1" --base "$2" --window "$WINDOW" \
		--timeout 120 --retry 2 --tries 3 | tail -1 | sed -E 's/.*acked=([0-9]+) failed=([0-9]+) seconds=([0-9.]+) rate=([0-9.]+)/\1 \2 \3 \4/'
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user+system) of a process in clock ticks: on a shared two-core machine the
# wall-clock rate is bounded by the Python client, the server's CPU per lease is not.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

rate_run() { # LABEL
	local c0
	start_ours
	c0=$(cpu_ticks "$SPID")
	read -r o_acked o_failed o_sec o_rate < <(dora "$N" 1)
	o_cpu=$(($(cpu_ticks "$SPID") - c0))
	stop_server
	start_kea
	c0=$(cpu_ticks "$SPID")
	read -r k_acked k_failed k_sec k_rate < <(dora "$N" 1)
	k_cpu=$(($(cpu_ticks "$SPID") - c0))
	stop_server
	echo "lease files on $1:"
	printf '  %-18s %8s leases/s  (%s acked, %s failed, %ss)\n' "option108-dhcpd" "$o_rate" "$o_acked" "$o_failed" "$o_sec"
	printf '  %-18s %8s leases/s  (%s acked, %s failed, %ss)\n' "kea-dhcp4 $(kea-dhcp4 -v 2>/dev/null)" "$k_rate" "$k_acked" "$k_failed" "$k_sec"
	python3 -c "print('  ratio ours/kea (wall clock, client-bound): %.2fx' % ($o_rate / $k_rate if $k_rate else float('nan')))"
	python3 - "$o_cpu" "$o_acked" "$k_cpu" "$k_acked" "$TICK" <<'PY'
import sys
o_cpu, o_n, k_cpu, k_n, tick = (float(x) for x in sys.argv[1:])
def per(cpu, n):
    return (cpu / tick) / n * 1e6 if n else float("nan")
o, k = per(o_cpu, o_n), per(k_cpu, k_n)
print("  server CPU per lease: option108-dhcpd %.1f us (%.0f leases per CPU-second), kea %.1f us (%.0f)" % (o, 1e6 / o if o else 0, k, 1e6 / k if k else 0))
print("  ratio ours/kea (leases per server CPU-second): %.2fx" % (k / o if o else float("nan")))
PY
}

echo "DORA, $N unique MACs, $WINDOW in flight, client: dhcpsim.py (one Python process)"
write_configs "$T/ram" "$N"
rate_run "tmpfs (as /tmp on OpenWrt)"
write_configs "$T/disk" "$N"
rate_run "disk ($(df -T "$T/disk" | awk 'NR==2 {print $2}'))"
# A pool of exactly LEASES addresses: what is measured is the cost of the leases.
write_configs "$T/ram" "$LEASES"

echo
echo "RSS with $LEASES active leases"
start_ours
read -r o_acked _ _ _ < <(dora "$LEASES" 100000)
o_rss=$(rss_kb "$SPID")
active=$("$O108" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pools"][0]["active_leases"])')
stop_server
start_kea
read -r k_acked _ _ _ < <(dora "$LEASES" 100000)
k_rss=$(rss_kb "$SPID")
stop_server
printf '%-18s RSS %6s kB  (%s leases acked, %s active by status)\n' "option108-dhcpd" "$o_rss" "$o_acked" "$active"
printf '%-18s RSS %6s kB  (%s leases acked)\n' "kea-dhcp4" "$k_rss" "$k_acked"
echo "binary: $O108 ($(stat -c %s "$O108") bytes; $(file -b "$O108" 2>/dev/null | cut -d, -f1-2))"
