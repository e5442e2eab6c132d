#!/usr/bin/env bash
# bench/dns64.sh - our dns64 against unbound's dns64 module, side by side on the same upstream
# (NSD serving a wildcard A-only zone), in a network namespace, with dnsperf (Debian).
#
#   cached:   AAAA for a few names asked over and over (synthesized answers from the cache)
#   uncached: AAAA for unique names (every query: AAAA upstream, NODATA, A upstream, synthesis)
#   memory:   RSS after NAMES distinct names (the uncached run, then topped up to NAMES)
#   floor:    the cached run also against packages/dns64/examples/udp_floor.rs, a responder that
#             answers every query with a fixed AAAA record through the same batched socket calls
#             (poll, recvmmsg/sendmmsg of 32): the least any UDP DNS server here can spend
#
# Prints qps and server CPU time per query (utime+stime from /proc/<pid>/stat, and the user
# part) for all three, and the ratios. When dns64's cached CPU is above 1.15x the floor's,
# perf record (cpu-clock) of one more cached run of dns64 shows where the rest goes.
# Parameters (environment): SECONDS_PER_RUN (default 10), NAMES (default 1000000),
# CLIENTS (dnsperf -c, default 4), OUTSTANDING (dnsperf -q, default 200), ROUNDS (of the
# cached runs, default 3); DNS64 (the binary) or
# BIN_DIR (a directory holding it), else a host release build; FLOOR (the udp_floor example),
# else a host release build. PERF=0 skips the profile, PERF=2 takes it whatever the ratio.
# Run as root.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib/netns.sh"
. "$ROOT/tests/lib/nsd.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
NAMES=${NAMES:-1000000}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-200}
ROUNDS=${ROUNDS:-3}
need_root
need_pkgs nsd unbound dnsperf dnsutils iproute2
# Symbols kept in what is built here, so that the profile below names dns64's functions
# (stripping changes no code).
[ -n "${DNS64:-}${BIN_DIR:-}" ] || export CARGO_PROFILE_RELEASE_STRIP=false
need_bin DNS64 dns64
if [ -z "${FLOOR:-}" ]; then
  floor_target=${CARGO_TARGET_DIR:-$ROOT/target/h-dns64}
  echo "building the udp_floor example (host, release) in $floor_target" >&2
  (cd "$ROOT" && CARGO_TARGET_DIR=$floor_target cargo build -q --release -p dns64 --example udp_floor) ||
    die "cannot build dns64's udp_floor example (or set FLOOR)"
  FLOOR=$floor_target/release/examples/udp_floor
fi
[ -x "$FLOOR" ] || die "no udp_floor at $FLOOR"

NS=d64bench-$$
workdir WORK d64bench
netns_add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }

cat >"$WORK/bench.test.zone" <<'EOF'
$ORIGIN bench.test.
$TTL 3600
@   IN SOA ns admin 1 3600 600 86400 300
@   IN NS  ns
ns  IN A   127.0.0.2
*   IN A   198.51.100.1
EOF
nsd_start "$NS" "$WORK" 127.0.0.2 -- bench.test || die "nsd did not start"

# allow_non_global: the bench zone's 198.51.100.1 is a documentation address, which the
# Well-Known Prefix does not carry (RFC 6052 3.1); unbound synthesizes it, so must we.
printf "config dns64 'main'\n list listen '127.0.0.1'\n list upstream '127.0.0.2'\n option allow_non_global '1'\n option control_socket '%s'\n" "$WORK/dns64.sock" >"$WORK/dns64"
DNS64_CONTROL=$WORK/dns64.sock spawn "$NS" "$DNS64" -c "$WORK/dns64" run 2>"$WORK/dns64.log"
DNS64_PID=$SPAWNED_PID

cat >"$WORK/unbound.conf" <<EOF
server:
  interface: 127.0.0.3
  port: 53
  username: ""
  chroot: ""
  directory: "$WORK"
  pidfile: "$WORK/unbound.pid"
  num-threads: 1
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "dns64 iterator"
  dns64-prefix: 64:ff9b::/96
  # .test is one of unbound's built-in empty zones (RFC 6761); the bench zone lives there.
  local-zone: "test." nodefault
  use-syslog: no
  logfile: "$WORK/unbound.log"
  verbosity: 0
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.2
EOF
spawn "$NS" unbound -d -c "$WORK/unbound.conf"
UNBOUND_PID=$SPAWNED_PID
spawn "$NS" "$FLOOR" 127.0.0.4:53 2>"$WORK/floor.log"
FLOOR_PID=$SPAWNED_PID
for server in 127.0.0.1 127.0.0.3 127.0.0.4; do
  for _ in $(seq 50); do in_ns dig +short +time=1 +tries=1 @$server AAAA probe.bench.test | grep -q 64:ff9b && break; sleep 0.2; done
  in_ns dig +short @$server AAAA probe.bench.test | grep -q 64:ff9b:: ||
    die "$server does not synthesize: $(in_ns dig @$server AAAA probe.bench.test; cat "$WORK"/*.log)"
done
# What each sends per cached answer (dnsperf's queries carry no EDNS): the floor only the
# question and the AAAA record, dns64 the upstream's authority and additional records too.
answer_size() { in_ns dig +noedns @"$1" AAAA c1.bench.test | awk '/MSG SIZE/{print $NF}'; }
echo "answer sizes (bytes): dns64 $(answer_size 127.0.0.1), unbound $(answer_size 127.0.0.3), floor $(answer_size 127.0.0.4)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_ticks() { awk '{print $14}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

# run NAME PID SERVER DATAFILE EXTRA... -> sets QPS, DONE, CPU_US (per query)
run() {
  local pid=$2 server=$3 data=$4; shift 4
  local before after out
  kill -0 "$pid" 2>/dev/null || die "$1 is not running: $(tail -5 "$WORK/$1.log" 2>/dev/null)"
  before=$(cpu_ticks "$pid") ubefore=$(user_ticks "$pid")
  out=$(in_ns dnsperf -s "$server" -d "$data" -l "$SECONDS_PER_RUN" -c "$CLIENTS" -q "$OUTSTANDING" "$@" 2>&1)
  after=$(cpu_ticks "$pid") uafter=$(user_ticks "$pid")
  QPS=$(echo "$out" | awk '/Queries per second/{print $4}')
  DONE=$(echo "$out" | awk '/Queries completed/{print $3}')
  LOST=$(echo "$out" | awk '/Queries lost/{print $3}')
  [ "${DONE:-0}" -gt 0 ] || die "dnsperf against $1 ($server) completed no query: $out"
  TICKS=$((after - before)) UTICKS=$((uafter - ubefore))
  CPU_US=$(per_query "$TICKS" "$DONE")
  USER_US=$(per_query "$UTICKS" "$DONE")
}
# per_query TICKS QUERIES -> microseconds of CPU per query
per_query() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN{printf "%.2f", n ? t / hz * 1e6 / n : 0}'; }

echo "dnsperf: ${SECONDS_PER_RUN}s per run, -c $CLIENTS -q $OUTSTANDING; unbound $(unbound -V | awk 'NR==1{print $2}') num-threads 1, default caches; NAMES=$NAMES"
for i in $(seq 1 100); do echo "c$i.bench.test AAAA"; done >"$WORK/cached"
# Warm both caches.
in_ns dnsperf -s 127.0.0.1 -d "$WORK/cached" -n 1 >/dev/null 2>&1
in_ns dnsperf -s 127.0.0.3 -d "$WORK/cached" -n 1 >/dev/null 2>&1

printf '\n%-28s %12s %12s %10s %14s %14s\n' "run" "qps" "completed" "lost" "CPU us/query" "user us/query"
declare -A R
# Cached: ROUNDS rounds of the three in turn, so that a change in what else runs on the
# machine falls on all three alike; per-query figures are over all rounds.
for round in $(seq "$ROUNDS"); do
  for who in dns64:$DNS64_PID:127.0.0.1 unbound:$UNBOUND_PID:127.0.0.3 floor:$FLOOR_PID:127.0.0.4; do
    IFS=: read -r name pid server <<<"$who"
    run "$name" "$pid" "$server" "$WORK/cached"
    printf '%-28s %12s %12s %10s %14s %14s\n' "cached   $name ($round)" "$QPS" "$DONE" "$LOST" "$CPU_US" "$USER_US"
    R[cached_ticks_$name]=$((${R[cached_ticks_$name]:-0} + TICKS))
    R[cached_uticks_$name]=$((${R[cached_uticks_$name]:-0} + UTICKS))
    R[cached_done_$name]=$((${R[cached_done_$name]:-0} + DONE))
    R[cached_qps_$name]=$(awk -v a="${R[cached_qps_$name]:-0}" -v b="$QPS" -v n="$ROUNDS" 'BEGIN{print a + b / n}')
  done
done
for name in dns64 unbound floor; do
  R[cached_cpu_$name]=$(per_query "${R[cached_ticks_$name]}" "${R[cached_done_$name]}")
  R[cached_user_$name]=$(per_query "${R[cached_uticks_$name]}" "${R[cached_done_$name]}")
  printf '%-28s %12.0f %12s %10s %14s %14s\n' "cached   $name (all)" "${R[cached_qps_$name]}" "${R[cached_done_$name]}" "" \
    "${R[cached_cpu_$name]}" "${R[cached_user_$name]}"
done
for who in dns64:$DNS64_PID:127.0.0.1 unbound:$UNBOUND_PID:127.0.0.3; do
  IFS=: read -r name pid server <<<"$who"
  awk -v n="$NAMES" -v p="$name" 'BEGIN{for (i = 1; i <= n; i++) printf "u%d-%s.bench.test AAAA\n", i, p}' >"$WORK/unique"
  run "$name" "$pid" "$server" "$WORK/unique" -n 1
  printf '%-28s %12s %12s %10s %14s %14s\n' "uncached $name" "$QPS" "$DONE" "$LOST" "$CPU_US" "$USER_US"
  R[uncached_qps_$name]=$QPS R[uncached_cpu_$name]=$CPU_US R[uncached_user_$name]=$USER_US R[uncached_done_$name]=$DONE
done

# Memory: top up each server to NAMES distinct names (bounded by 10 x SECONDS_PER_RUN).
echo
for who in dns64:$DNS64_PID:127.0.0.1 unbound:$UNBOUND_PID:127.0.0.3; do
  IFS=: read -r name pid server <<<"$who"
  done_already=${R[uncached_done_$name]}
  if [ "$done_already" -lt "$NAMES" ]; then
    awk -v s="$((done_already + 1))" -v n="$NAMES" -v p="$name" 'BEGIN{for (i = s; i <= n; i++) printf "m%d-%s.bench.test AAAA\n", i, p}' >"$WORK/more"
    in_ns dnsperf -s "$server" -d "$WORK/more" -n 1 -l $((10 * SECONDS_PER_RUN)) -c "$CLIENTS" -q "$OUTSTANDING" >"$WORK/more.out" 2>&1 || true
    done_already=$((done_already + $(awk '/Queries completed/{print $3}' "$WORK/more.out")))
  fi
  R[rss_$name]=$(rss_kb "$pid")
  printf 'RSS %-8s after %8d distinct names: %8d KB\n' "$name" "$done_already" "${R[rss_$name]}"
done
echo
DNS64_CONTROL=$WORK/dns64.sock "$DNS64" -c "$WORK/dns64" status 2>/dev/null || true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b ? a / b : 0}'; }
echo
echo "ratios (dns64 / unbound):"
echo "  cached CPU per query   $(ratio "${R[cached_cpu_dns64]}" "${R[cached_cpu_unbound]}")  (goal <= 0.5)"
echo "  cached user CPU/query  $(ratio "${R[cached_user_dns64]}" "${R[cached_user_unbound]}")  (the rest is the kernel's UDP path, the same for both)"
echo "  cached qps             $(ratio "${R[cached_qps_dns64]}" "${R[cached_qps_unbound]}")"
echo "  uncached qps           $(ratio "${R[uncached_qps_dns64]}" "${R[uncached_qps_unbound]}")  (goal >= 1.5)"
echo "  uncached CPU per query $(ratio "${R[uncached_cpu_dns64]}" "${R[uncached_cpu_unbound]}")"
echo "  uncached user CPU/query $(ratio "${R[uncached_user_dns64]}" "${R[uncached_user_unbound]}")"
echo "  RSS                    $(ratio "${R[rss_dns64]}" "${R[rss_unbound]}")  (goal: dns64 <= 32 MB)"

# The floor: what is left above it is the server's own work (user) or more kernel work per
# query (smaller batches, more wake-ups, more system calls).
sys_us() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a - b}'; }
echo
echo "against the floor (udp_floor: fixed answers, the same recvmmsg/sendmmsg batches of 32):"
printf '  %-8s %14s %16s %16s %10s\n' "" "CPU us/query" "user us/query" "kernel us/query" "x floor"
for name in floor dns64 unbound; do
  printf '  %-8s %14s %16s %16s %10s\n' "$name" "${R[cached_cpu_$name]}" "${R[cached_user_$name]}" \
    "$(sys_us "${R[cached_cpu_$name]}" "${R[cached_user_$name]}")" "$(ratio "${R[cached_cpu_$name]}" "${R[cached_cpu_floor]}")"
done
FLOOR_RATIO=$(ratio "${R[cached_cpu_dns64]}" "${R[cached_cpu_floor]}")
echo "  cached CPU per query, dns64 / floor    $FLOOR_RATIO  (goal <= 1.15)"
echo "  cached CPU per query, unbound / floor  $(ratio "${R[cached_cpu_unbound]}" "${R[cached_cpu_floor]}")"
if awk -v r="$FLOOR_RATIO" 'BEGIN{exit !(r > 1.15)}' || [ "${PERF:-1}" = 2 ]; then
  signed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%+.2f", a - b}'; }
  kernel_dns64=$(sys_us "${R[cached_cpu_dns64]}" "${R[cached_user_dns64]}")
  kernel_floor=$(sys_us "${R[cached_cpu_floor]}" "${R[cached_user_floor]}")
  echo "  dns64 - floor: $(signed "${R[cached_cpu_dns64]}" "${R[cached_cpu_floor]}") us/query" \
    "(user $(signed "${R[cached_user_dns64]}" "${R[cached_user_floor]}"), kernel $(signed "$kernel_dns64" "$kernel_floor"))"
  if [ "${PERF:-1}" != 0 ] && command -v perf >/dev/null; then
    # One more cached run, profiled (not the measured one: sampling costs a little CPU).
    perf record -q -e cpu-clock -F 2000 -p "$DNS64_PID" -o "$WORK/perf.data" -- sleep "$SECONDS_PER_RUN" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
    in_ns dnsperf -s 127.0.0.1 -d "$WORK/cached" -l "$((SECONDS_PER_RUN - 1))" -c "$CLIENTS" -q "$OUTSTANDING" >/dev/null 2>&1 || true
    wait "$perf_pid" || true
    # awk, not head: head would end perf report early (SIGPIPE, and pipefail).
    echo
    echo "perf record -e cpu-clock of dns64, cached (share of its samples):"
    perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null | awk '/^ +[0-9]/ && n++ < 4 {print "  " $0}'
    echo "  top kernel symbols:"
    perf report -i "$WORK/perf.data" --no-children --sort sym --stdio 2>/dev/null | awk '/^ +[0-9].*\[k\]/ && n++ < 10 {print "  " $0}'
    echo "  top user-space symbols (dns64 and libc):"
    perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | awk '/^ +[0-9].*\[\.\]/ && n++ < 10 {print "  " $0}'
  fi
fi
