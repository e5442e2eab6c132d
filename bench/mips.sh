#!/usr/bin/env bash
# bench/mips.sh - each core's hot loop on the routers' CPU, without a router: micro-benchmarks
# cross-built for mips-unknown-linux-musl (ci/xc.sh's toolchain and release flags, as shipped)
# and run under qemu-user, next to the same loops built for x86_64-unknown-linux-musl.
#
#   nat64 translate   packages/nat64/examples/bench_translate.rs: a UDP packet (64 B payload)
#                     v6 -> v4 and the answer v4 -> v6 through Nat64::process
#   dns64 cached      packages/dns64/examples/bench_synth.rs cached: an AAAA query answered
#                     from the cache with the answer synthesized before
#   dns64 synth       bench_synth synth: an AAAA query for a new name: AAAA upstream, NODATA,
#                     A upstream, one A record, the AAAA answer synthesized and cached
#   dhcpd lease       packages/option108-dhcpd/examples/bench_lease.rs: DISCOVER -> OFFER and
#                     REQUEST -> ACK through Server::handle (64 clients in turn)
#
# Guest instructions per iteration: qemu-user's TCG plugins (libinsn.so) would count them, but
# Debian's qemu-user-static is built without plugin support (no -plugin option) and no Debian
# qemu package ships the contrib plugins. So the count is taken another way, exact too: with
# one guest instruction per translation block (-singlestep, -one-insn-per-tb on newer qemu)
# and block chaining off, `-d exec,nochain` logs one line per instruction executed. Each loop
# runs COUNT_N and 2 x COUNT_N iterations; the difference over COUNT_N is per iteration, with
# start-up and set-up cancelled out. The same for the x86_64 build (under qemu-x86_64: there a
# `rep movs` counts once per repetition, so x86 memcpy-heavy paths count high).
# Wall time per iteration: the x86_64 build natively and the mips build under qemu (best of
# 3): qemu's speed is not a router's, but the same ratio run to run says the code did not
# change; instructions are the number to watch.
#
# Parameters (environment): COUNT_N (default 100); TIME_SCALE (default 100: the wall time runs
# take 200,000 iterations of the cheap loops, 20,000 of dns64 synth, 100,000 of dhcpd lease);
# BIN_MIPS / BIN_X86 (directories holding the examples) skip the build. Not a CI test: prints a table, exit 1 when a loop fails.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The functions only (cmd_setup, xc_env, qemu_for, log, die) and CARGO_TARGET_DIR.
. "$ROOT/ci/xc.sh"
COUNT_N=${COUNT_N:-100}
TIME_SCALE=${TIME_SCALE:-100}
MIPS=mips-unknown-linux-musl
X86=x86_64-unknown-linux-musl
EXAMPLES=(bench_translate bench_synth bench_lease)

if [ -z "${BIN_MIPS:-}" ] || [ -z "${BIN_X86:-}" ]; then
  cmd_setup
  (
    xc_env release
    args=()
    for e in "${EXAMPLES[@]}"; do args+=(--example "$e"); done
    log "building ${EXAMPLES[*]} for $MIPS and $X86 (release, as shipped)"
    # The flags of `ci/xc.sh build`: std rebuilt for size, panics abort.
    cargo zigbuild --locked --release --target "$MIPS" --target "$X86" \
      -p nat64 -p dns64 -p option108-dhcpd "${args[@]}" \
      -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size >&2
  ) || die "cross build failed"
  BIN_MIPS=$CARGO_TARGET_DIR/$MIPS/release/examples
  BIN_X86=$CARGO_TARGET_DIR/$X86/release/examples
fi
for e in "${EXAMPLES[@]}"; do
  [ -x "$BIN_MIPS/$e" ] && [ -x "$BIN_X86/$e" ] || die "no $e in $BIN_MIPS and $BIN_X86"
done
file -b "$BIN_MIPS/bench_translate" | grep -q 'MSB.*MIPS' || die "$BIN_MIPS/bench_translate is not big-endian MIPS"

QEMU_MIPS=$(qemu_for "$MIPS")
QEMU_X86=qemu-x86_64-static
command -v "$QEMU_MIPS" >/dev/null && command -v "$QEMU_X86" >/dev/null ||
  die "needs $QEMU_MIPS and $QEMU_X86 (qemu-user-static)"
if "$QEMU_MIPS" -h | grep -q -- '-one-insn-per-tb'; then ONE_INSN=-one-insn-per-tb; else ONE_INSN=-singlestep; fi
"$QEMU_MIPS" -h | grep -q -- '^-plugin' && plugins="has -plugin (not used: no libinsn.so here)" ||
  plugins="no TCG plugin support in this build"

# instructions QEMU BINARY ARGS... N -> guest instructions executed by BINARY ARGS N.
instructions() {
  local qemu=$1 n
  shift
  # The example's own output line does not start with "Trace ".
  n=$("$qemu" "$ONE_INSN" -d exec,nochain -D /dev/stdout "$@" | awk '/^Trace /{n++} END{print n + 0}') ||
    die "$* failed under $qemu"
  echo "$n"
}

# per_iteration QEMU BINARY ARGS... -> instructions per iteration (runs N and 2N).
per_iteration() {
  local one two
  one=$(instructions "$@" "$COUNT_N")
  two=$(instructions "$@" "$((2 * COUNT_N))")
  [ "$one" -gt 0 ] && [ "$two" -gt "$one" ] || die "no instruction count from $* under $1 ($one, $two)"
  awk -v a="$one" -v b="$two" -v n="$COUNT_N" 'BEGIN{printf "%.0f", (b - a) / n}'
}

# wall_ns RUNNER BINARY ARGS... N -> ns per iteration, best of 3 (RUNNER - for native).
wall_ns() {
  local runner=$1 best="" out ns
  shift
  for _ in 1 2 3; do
    if [ "$runner" = - ]; then out=$("$@") || die "$* failed"; else out=$("$runner" "$@") || die "$* under $runner failed"; fi
    ns=$(awk '{for (i = 1; i < NF; i++) if ($i == "ns_per_iteration") print $(i + 1)}' <<<"$out")
    [ -n "$ns" ] || die "no time from $*: $out"
    best=$(awk -v a="$best" -v b="$ns" 'BEGIN{print (a == "" || b < a) ? b : a}')
  done
  echo "$best"
}

echo "guest instructions: $($QEMU_MIPS -version | head -1), $plugins; counted with $ONE_INSN -d exec,nochain over $COUNT_N iterations"
echo "rustc $(/usr/bin/rustc -V | awk '{print $2}'), release profile and ci/xc.sh build flags on both targets"
echo
printf '%-18s %-44s %12s %12s %9s %12s %14s %8s\n' "hot loop" "one iteration" "mips insn" "x86_64 insn" "mips/x86" \
  "x86_64 ns" "mips-qemu ns" "qemu/x86"
# name | what one iteration is | example | mode argument | wall time iterations (x TIME_SCALE)
while IFS='|' read -r name what example mode scale; do
  mode_args=()
  [ -z "$mode" ] || mode_args=("$mode")
  mips_insn=$(per_iteration "$QEMU_MIPS" "$BIN_MIPS/$example" "${mode_args[@]}")
  x86_insn=$(per_iteration "$QEMU_X86" "$BIN_X86/$example" "${mode_args[@]}")
  iterations=$((scale * TIME_SCALE))
  x86_ns=$(wall_ns - "$BIN_X86/$example" "${mode_args[@]}" "$iterations")
  mips_ns=$(wall_ns "$QEMU_MIPS" "$BIN_MIPS/$example" "${mode_args[@]}" "$iterations")
  printf '%-18s %-44s %12s %12s %9s %12s %14s %8s\n' "$name" "$what" "$mips_insn" "$x86_insn" \
    "$(awk -v a="$mips_insn" -v b="$x86_insn" 'BEGIN{printf "%.2f", b ? a / b : 0}')" "$x86_ns" "$mips_ns" \
    "$(awk -v a="$mips_ns" -v b="$x86_ns" 'BEGIN{printf "%.1f", b ? a / b : 0}')"
done <<'EOF'
nat64 translate|UDP 64 B v6->v4 + answer v4->v6 (2 packets)|bench_translate||2000
dns64 cached|AAAA query answered from the cache|bench_synth|cached|2000
dns64 synth|AAAA query: NODATA, A, synthesis, caching|bench_synth|synth|200
dhcpd lease|DISCOVER->OFFER + REQUEST->ACK (2 messages)|bench_lease||1000
EOF
