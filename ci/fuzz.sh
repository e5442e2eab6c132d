#!/usr/bin/env bash
# fuzz.sh [DAEMON...] - build every cargo-fuzz target of packages/<daemon>/fuzz/ and run each
# for FUZZ_SECONDS (default 20). A crash, leak or timeout fails the run and leaves the input in
# packages/<daemon>/fuzz/artifacts/<target>/.
#
# cargo fuzz needs -Z flags: the stable compiler with RUSTC_BOOTSTRAP=1 is used (rustup's, which
# carries the AddressSanitizer runtime). Seeds: packages/<daemon>/fuzz/seeds/<target>/, if any.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CARGO_FUZZ_VERSION=0.13.2
TOOLS=${XC_HOME:-$HOME/.cache/v6only-xc}/cargo-fuzz
export RUSTC_BOOTSTRAP=1

if [ "$("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  echo "[fuzz] installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install --quiet --locked --root "$TOOLS" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export PATH="$TOOLS/bin:$PATH"

daemons=${*:-$(cd "$ROOT/packages" && for d in */fuzz; do if [ -f "$d/Cargo.toml" ]; then echo "${d%/fuzz}"; fi; done)}
[ -n "$daemons" ] || { echo "[fuzz] no fuzz targets found" >&2; exit 1; }
rc=0 ran=0
for d in $daemons; do
  cd "$ROOT/packages/$d"
  [ -f fuzz/Cargo.toml ] || { echo "[fuzz] packages/$d has no fuzz/ crate" >&2; rc=1; continue; }
  echo "[fuzz] building packages/$d/fuzz" >&2
  cargo fuzz build -O -s address || { rc=1; continue; }
  for t in $(cargo fuzz list); do
    corpus=$ROOT/target/fuzz-corpus/$d/$t
    mkdir -p "$corpus"
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
    echo "[fuzz] $d/$t for ${FUZZ_SECONDS}s" >&2
    if cargo fuzz run -O -s address "$t" "$corpus" ${seeds[@]+"${seeds[@]}"} -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1; then
      echo "ok: fuzz $d/$t"
    else
      echo "FAIL: fuzz $d/$t"; rc=1
    fi
    ran=$((ran + 1))
  done
done
[ "$ran" -gt 0 ] || rc=1
exit $rc
