#!/usr/bin/env bash
# mipsel.sh - mesh-monitor's mipsel binary in the mesh lab on Debian's Malta kernel
# (linux-image-4kc-malta, qemu-system-mipsel, TCG): the same phases, hook and checks as
# tests/system/mesh-monitor.sh on amd64, then a digest of what the binary printed. Not part of
# CI (slower, and the cross build of one more target); run it by hand, as root:
#   tests/mesh/mipsel.sh            builds mipsel-unknown-linux-musl with ci/xc.sh first
#   MESH_MONITOR=path tests/mesh/mipsel.sh
# Malta with the 4kc kernel is little-endian MIPS32: big-endian MIPS is covered by the unit
# tests on captured nl80211 replies under qemu-user (ci/xc.sh test mips-unknown-linux-musl).
# Env: WORK (default: a new directory under /tmp, kept), TIMEOUT=1800 (s), the rest as lab.sh.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
bin=${MESH_MONITOR:-}
if [ -z "$bin" ]; then
  echo "== cross-building mesh-monitor for mipsel-unknown-linux-musl"
  DAEMONS=mesh-monitor "$ROOT/ci/xc.sh" build mipsel-unknown-linux-musl >/dev/null ||
    { echo "ci/xc.sh build failed"; exit 1; }
  bin=$ROOT/target/xc/dist/mipsel-unknown-linux-musl/mesh-monitor
fi
echo "== binary: $bin: $(stat -c %s "$bin") bytes, $(file -b "$bin")"
WORK=${WORK:-$(mktemp -d /tmp/meshlab-mipsel.XXXXXX)}
mkdir -p "$WORK"
lab_start=$SECONDS
ARCH=mipsel WORK=$WORK BIN=$bin HOOK=$ROOT/tests/mesh/hook.sh TIMEOUT=${TIMEOUT:-1800} \
  bash "$ROOT/tests/mesh/lab.sh" >"$WORK/lab.out" 2>&1
echo "== lab: exit $? after $((SECONDS - lab_start)) s; console: $WORK/console.log"
L=$WORK/console.log
grep -m1 'LAB-BOOT' "$L"

# block PHASE NODE TAG: what the hook printed between its markers
block() { awk -v b="@@@ BEGIN $1 $2 $3 " '
  index($0, b) { on = 1; next }
  on && /@@@ END / { exit }
  on { sub(/^ *[0-9.]+ /, ""); print }' "$L"; }
echo "== what mesh-monitor printed on mipsel (node 0)"
for ph in full line mpp; do
  echo "-- $ph: mesh-monitor mpath -i mesh0"
  block "$ph" 0 mm-mpath-text
done
echo "-- mpp: mesh-monitor mpp -i mesh0"
block mpp 0 mm-mpp-text
echo "-- line: mesh-monitor stations --json -i mesh0"
block line 0 mm-station
echo "-- line: mesh-monitor topology --dot"
block line 0 mm-topology-dot
echo "-- the daemon's log (mesh-monitor -c /etc/mesh.conf -v run), every phase"
for ph in created full line mpp silent expired recovered gate nogate left end; do
  block "$ph" 0 mmd-log | grep -v ': debug: ' | sed "s/^/[$ph] /"
done
echo "== checks (as tests/system/mesh-monitor.sh on amd64)"
python3 "$ROOT/tests/mesh/compare.py" "$L" | sed 's/\t/ /g'
rc=${PIPESTATUS[0]}
echo "== whole run: $((SECONDS - start)) s"
exit "$rc"
