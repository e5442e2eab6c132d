#!/usr/bin/env bash
# System test of mesh-monitor on a real kernel mesh: tests/mesh/lab.sh boots Debian's amd64
# kernel in qemu (TCG) with mac80211_hwsim, three radios form an 802.11s mesh and go through
# full mesh, line topology (2-hop path), proxied LAN host, silent peer and its expiry, recovery
# and `mesh leave`. In each phase the guest runs iw's dumps and mesh-monitor's at the same
# moment (tests/mesh/hook.sh); tests/mesh/compare.py reads them from the console and checks
# that mesh-monitor's JSON and text agree with iw, that topology and status do, and that the
# daemon (run from before the mesh forms to the end) logged each change.
# Run as root. MESH_MONITOR: a static x86_64 mesh-monitor, or BIN_DIR: a directory holding one
# (CI: target/xc/dist/x86_64-unknown-linux-musl); else one is cross-built with ci/xc.sh.
# The .debs are cached in ${V6ONLY_MESHLAB:-/var/cache/v6only-meshlab}. Takes 2-3 minutes.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/system/lib.sh"
setup_or_finish qemu-system-x86 cpio gzip kmod binutils file python3
start=$SECONDS

# The guest has no libraries for it: the binary must be the static musl one.
bin=${MESH_MONITOR:-}
if [ -z "$bin" ] && [ -n "${BIN_DIR:-}" ] && [ -x "$BIN_DIR/mesh-monitor" ]; then bin=$BIN_DIR/mesh-monitor; fi
if [ -z "$bin" ]; then
  echo "cross-building mesh-monitor for x86_64-unknown-linux-musl (ci/xc.sh)"
  if DAEMONS=mesh-monitor "$ROOT/ci/xc.sh" build x86_64-unknown-linux-musl >/dev/null 2>&1; then
    bin=$ROOT/target/xc/dist/x86_64-unknown-linux-musl/mesh-monitor
  fi
fi
if [ -n "$bin" ] && [ -x "$bin" ] && file -b "$bin" | grep -q 'statically linked'; then
  pass "static x86_64 mesh-monitor: $bin"
else
  # the lab still runs: the iw side is checked and every check of ours fails, none is skipped
  fail "static x86_64 mesh-monitor" "${bin:-none built} ($(file -b "${bin:-/nonexistent}" 2>&1))"
  bin=""
fi

workdir WORK meshmon
LOG=${MESHLAB_CONSOLE:-$ROOT/target/test-logs/mesh-monitor-console.log}
lab_start=$SECONDS
ARCH=amd64 WORK=$WORK BIN=$bin HOOK=$ROOT/tests/mesh/hook.sh TIMEOUT=${TIMEOUT:-420} \
  bash "$ROOT/tests/mesh/lab.sh" >"$WORK/lab.out" 2>&1
lab_rc=$?
lab_s=$((SECONDS - lab_start))
mkdir -p "$(dirname "$LOG")" && cp "$WORK/console.log" "$LOG" 2>/dev/null
boot=$(sed -n 's/^ *\([0-9.]*\) .*LAB-BOOT.*/\1/p' "$WORK/console.log" 2>/dev/null | head -n 1)
echo "lab: exit $lab_rc after ${lab_s} s (guest up at ${boot:-?} s); console: $LOG"
grep -q 'LAB-POWEROFF' "$WORK/console.log" 2>/dev/null ||
  { fail "lab ran to the end" "$(tail -n 5 "$WORK/lab.out" | tr '\n' ' ')"; finish; }
pass "lab ran to the end (${lab_s} s)"

# compare.py: "PASS<TAB>name" / "FAIL<TAB>name<TAB>reason" and indented details
python3 "$ROOT/tests/mesh/compare.py" "$WORK/console.log" >"$WORK/compare.out" 2>&1
cmp_rc=$?
fails_before=$FAIL
while IFS= read -r line; do
  IFS=$'\t' read -r verdict name reason <<<"$line"
  case $verdict in
    PASS) pass "$name" ;;
    FAIL) fail "$name" "$reason" ;;
    *) echo "$line" ;;
  esac
done <"$WORK/compare.out"
# a crash of the comparison is a failure even when it printed no FAIL line
[ "$cmp_rc" = 0 ] || [ "$FAIL" -gt "$fails_before" ] || fail "compare.py" "exit $cmp_rc"
echo "whole test: $((SECONDS - start)) s"
finish
