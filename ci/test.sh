#!/usr/bin/env bash
# test.sh - every test of the project, on a fresh Debian 12 machine, as root.
#
# Installs what it needs, builds the feed (make -f Makefile.openwrt), then runs each suite and
# prints one line per suite and a closing "suites: N passed, N failed". Any failed suite makes
# the exit status non-zero. ONLY="name ..." runs a subset (names as printed).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/ci/apt.sh"
LOGDIR=${LOGDIR:-$ROOT/target/test-logs}
mkdir -p "$LOGDIR"
# Test tools from Debian: nft and ip for the system tests, signify for an independent
# signature check (usign, and openssl for the apk index), python3 for the package checks;
# qemu, cpio, kmod and binutils for the mesh lab (tests/mesh/lab.sh) of the mesh-monitor test.
TEST_PACKAGES="nftables iproute2 signify-openbsd openssl python3 file tar gzip qemu-system-x86 cpio kmod binutils"
X86_BIN=target/xc/dist/x86_64-unknown-linux-musl

passed=0 failed=0 failures=()

# run NAME CMD...: one suite; its output goes to the terminal and to $LOGDIR/NAME.log.
run() {
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && ! grep -qw -- "$name" <<<"$ONLY"; then return 0; fi
  local start=$SECONDS rc resolv
  printf '\n===== %s: %s\n' "$name" "$*"
  # A DHCP client in a namespace runs its hooks in the host's /etc: a suite that lets one
  # rewrite resolv.conf cuts the next suites off the package registries. Caught and undone.
  resolv=$(cat /etc/resolv.conf 2>/dev/null)
  "$@" 2>&1 | tee "$LOGDIR/$name.log"
  rc=${PIPESTATUS[0]}
  if [ "$(cat /etc/resolv.conf 2>/dev/null)" != "$resolv" ]; then
    echo "$name changed the host's /etc/resolv.conf (put back)" | tee -a "$LOGDIR/$name.log"
    printf '%s\n' "$resolv" >/etc/resolv.conf
    [ "$rc" -eq 0 ] && rc=1
  fi
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); printf '===== %s: PASS (%ss)\n' "$name" "$((SECONDS - start))"
  else
    failed=$((failed + 1)); failures+=("$name"); printf '===== %s: FAIL, exit %s (%ss)\n' "$name" "$rc" "$((SECONDS - start))"
  fi
}

install_test_tools() {
  # shellcheck disable=SC2086 # a word list on purpose
  apt_install $TEST_PACKAGES
}

# Each package's test.sh, as openwrt/packages CI calls it (name, version), with the
# package's x86_64 binary first on PATH.
feed_test_sh() {
  local mk pkg version rc=0
  for mk in feed/*/Makefile; do
    pkg=$(basename "$(dirname "$mk")")
    [ -x "feed/$pkg/test.sh" ] || { echo "feed/$pkg/test.sh missing"; rc=1; continue; }
    version=$(sed -n 's/^PKG_VERSION:=//p' "$mk")
    if PATH="$ROOT/$X86_BIN:$PATH" "feed/$pkg/test.sh" "$pkg" "$version"; then
      echo "ok: feed/$pkg/test.sh $pkg $version"
    else
      echo "FAIL: feed/$pkg/test.sh $pkg $version"; rc=1
    fi
  done
  return $rc
}

system_tests() {
  local t rc=0
  for t in tests/system/*.sh; do
    [ "$(basename "$t")" = lib.sh ] && continue
    echo "--- $t"
    # The shipped static x86_64 binaries are the ones under test.
    BIN_DIR="$ROOT/$X86_BIN" FW_HELPER="$ROOT/$X86_BIN/fw-helper" bash "$t" || { echo "FAIL: $t"; rc=1; }
  done
  return $rc
}

# The OpenWrt tests: each tests/openwrt/*.sh against the project's lab (the real OpenWrt
# userland built from source by tests/openwrt/lab/build.sh).
openwrt_tests() {
  local t rc=0
  for t in tests/openwrt/*.sh; do
    [ "$(basename "$t")" = lib.sh ] && continue
    echo "--- $t"
    bash "$t" || { echo "FAIL: $t"; rc=1; }
  done
  return $rc
}

# The house rules: formatting, lints and docs are a gate, not a habit.
lint() {
  cargo fmt --all --check &&
    cargo clippy --workspace --all-targets --locked -- -D warnings &&
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked
}

run tools install_test_tools
run lint lint
run build make -f Makefile.openwrt
run host-unit cargo test --workspace --locked
run qemu-unit ci/xc.sh test mips-unknown-linux-musl armv7-unknown-linux-musleabihf
run packages python3 tests/packages/test_feed.py
run init-options python3 tests/packages/test_init_options.py
run feed-test-sh feed_test_sh
run fuzz ci/fuzz.sh
run system system_tests
run openwrt-lab tests/openwrt/lab/build.sh
run openwrt-lab-selftest bash tests/openwrt/lab/selftest.sh
run openwrt openwrt_tests
run e2e bash tests/e2e/run.sh

echo
((failed)) && echo "failed suites: ${failures[*]} (logs in $LOGDIR)"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
