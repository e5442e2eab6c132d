#!/usr/bin/env bash
# xc.sh - the v6only cross toolchain: static, size-optimised musl executables for the
# router targets, and the unit tests of every crate run under qemu-user.
#
#   ci/xc.sh setup                     install what a fresh Debian 12 machine lacks (idempotent)
#   ci/xc.sh build [TRIPLE...]         release build of the daemons -> target/xc/dist/<triple>/
#   ci/xc.sh test  [TRIPLE...]         cargo test of the workspace, test binaries run under qemu
#   ci/xc.sh sizes                     table of stripped sizes, checked against the budget
#   . ci/xc.sh                         (sourced) the functions only: bench/mips.sh uses
#                                      cmd_setup and xc_env to cross-build its examples
#
# How: Debian's rustc-web/cargo-web (1.96) with the matching std source (rust-web-src) rebuild
# std for each target with -Zbuild-std (RUSTC_BOOTSTRAP=1 unlocks -Z on a stable compiler);
# zig (PyPI `ziglang`, driven by `cargo-zigbuild`) provides musl, crt objects and the linker.
# On a machine with rustup and internet, nightly + rust-src works the same way: set XC_RUSTUP=1.
# XC_EXTRA_RUSTFLAGS adds flags to every target (for size experiments).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XC_HOME=${XC_HOME:-$HOME/.cache/v6only-xc}
XC_VENV=$XC_HOME/venv
ALL_TARGETS="mips-unknown-linux-musl mipsel-unknown-linux-musl armv7-unknown-linux-musleabihf aarch64-unknown-linux-musl x86_64-unknown-linux-musl"
# The daemons shipped to routers: every package of the feed with a crate of the same name.
DAEMONS=${DAEMONS:-$(cd "$ROOT/feed" && for m in */Makefile; do [ ! -f "../packages/${m%/Makefile}/Cargo.toml" ] || printf '%s ' "${m%/Makefile}"; done)}
# Stripped size budget per daemon on mips, in bytes: 400 KB, read strictly (not KiB).
SIZE_BUDGET=${SIZE_BUDGET:-400000}
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
export CARGO_TARGET_DIR=${XC_TARGET_DIR:-$ROOT/target/xc}

. "$ROOT/ci/apt.sh"

log() { printf '[xc] %s\n' "$*" >&2; }
die() { printf '[xc] error: %s\n' "$*" >&2; exit 1; }

cmd_setup() {
  if [ "${XC_RUSTUP:-0}" = 1 ]; then
    apt_install qemu-user-static file python3-venv
  else
    apt_install rustc-web cargo-web rust-web-src llvm-22 qemu-user-static file python3-venv
    local ver
    ver=$(/usr/bin/rustc -V | awk '{print $2}')
    # build-std needs the std source of exactly this compiler.
    [ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/std/Cargo.toml" ] ||
      die "no std source for rustc $ver (is rust-web-src installed?)"
    [ -d "/usr/src/rustc-$ver" ] || die "rustc $ver does not match rust-web-src: $(ls -d /usr/src/rustc-* 2>/dev/null)"
  fi
  if ! "$XC_VENV/bin/cargo-zigbuild" --version >/dev/null 2>&1 ||
     [ "$("$XC_VENV/bin/python3" -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]; then
    log "venv $XC_VENV: ziglang $ZIGLANG_VERSION, cargo-zigbuild $CARGO_ZIGBUILD_VERSION"
    rm -rf "$XC_VENV"
    /usr/bin/python3 -m venv "$XC_VENV"
    "$XC_VENV/bin/pip" install -q "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
  fi
}

# Environment for the cross build, for this process only (host builds stay untouched).
# xc_env release: the shipped binaries; xc_env test: unit tests (they unwind to report).
xc_env() {
  local mode=$1
  if [ "${XC_RUSTUP:-0}" = 1 ]; then
    export RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-nightly}
    STRIP=${STRIP:-llvm-strip}
  else
    export PATH="/usr/bin:$PATH" CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
    export RUSTC_BOOTSTRAP=1
    STRIP=llvm-strip-22
  fi
  # The venv first: cargo-zigbuild finds zig as `python3 -m ziglang`.
  export PATH="$XC_VENV/bin:$PATH"
  unset RUSTC_WRAPPER RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
  # link-self-contained=no: a build-std sysroot has no crt objects of its own; zig supplies musl's.
  # +crt-static: the mips musl targets default to dynamic linking.
  # max-page-size=4096: lld pads to 64 KiB pages on arm/aarch64/mips; OpenWrt kernels use 4 KiB.
  # force-unwind-tables=no: with panic=abort nothing unwinds; the tables cost ~37 KB on mips.
  # relocation-model=static (MIPS only): a static executable needs no PIC, and MIPS PIC code
  # (GOT loads, calls through $t9) costs ~60 KB per daemon; other targets keep static-pie.
  # Both only for release: tests unwind.
  local t flags
  for t in $ALL_TARGETS; do
    flags="-C link-self-contained=no -C target-feature=+crt-static -C link-arg=-Wl,-z,max-page-size=4096"
    if [ "$mode" = release ]; then
      flags="$flags -C force-unwind-tables=no"
      case $t in mips*) flags="$flags -C relocation-model=static" ;; esac
    fi
    export "CARGO_TARGET_$(upper "$t")_RUSTFLAGS=$flags ${XC_EXTRA_RUSTFLAGS:-}"
  done
}

upper() { printf '%s' "$1" | tr 'a-z.-' 'A-Z__'; }

qemu_for() {
  case "$1" in
    mips-*) echo qemu-mips-static ;;
    mipsel-*) echo qemu-mipsel-static ;;
    armv7-*) echo qemu-arm-static ;;
    aarch64-*) echo qemu-aarch64-static ;;
    x86_64-*) echo "" ;;
    *) die "no qemu for $1" ;;
  esac
}

cmd_build() {
  local targets=${*:-$ALL_TARGETS} t d b pkgs=()
  xc_env release
  for d in $DAEMONS; do pkgs+=(-p "$d"); done
  for t in $targets; do
    local start=$SECONDS
    log "build $t"
    # optimize_for_size drops std's backtrace symbolizer; panics still print their message.
    cargo zigbuild --locked --release --target "$t" "${pkgs[@]}" \
      -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
    mkdir -p "$CARGO_TARGET_DIR/dist/$t"
    for b in $DAEMONS; do
      # LLVM's .pdr section on MIPS (about 2 bytes per byte of code) survives strip=true.
      "$STRIP" --strip-all -R .pdr -R .comment -o "$CARGO_TARGET_DIR/dist/$t/$b" "$CARGO_TARGET_DIR/$t/release/$b"
      file -b "$CARGO_TARGET_DIR/dist/$t/$b" | grep -q 'statically linked' ||
        die "$t/$b is not a static executable: $(file -b "$CARGO_TARGET_DIR/dist/$t/$b")"
    done
    log "$t built in $((SECONDS - start)) s"
  done
}

cmd_test() {
  local targets=${*:-"mips-unknown-linux-musl armv7-unknown-linux-musleabihf"} t q rc=0
  xc_env test
  for t in $targets; do
    q=$(qemu_for "$t")
    [ -n "$q" ] && export "CARGO_TARGET_$(upper "$t")_RUNNER=$q"
    log "test $t${q:+ under $q}"
    # rustdoc links doctests with RUSTDOCFLAGS, not the target's RUSTFLAGS.
    local flags_var="CARGO_TARGET_$(upper "$t")_RUSTFLAGS"
    export RUSTDOCFLAGS="${!flags_var}"
    # Debug profile with unwinding so a failing test reports instead of aborting the binary.
    cargo-zigbuild test --locked --target "$t" --workspace --exclude feedtool -Zbuild-std || { log "$t: tests FAILED"; rc=1; }
  done
  return $rc
}

cmd_sizes() {
  local t b f size over=0
  printf '%-34s' "stripped size (bytes)"
  for b in $DAEMONS; do printf ' %12s' "$b"; done
  echo
  for t in $ALL_TARGETS; do
    printf '%-34s' "$t"
    for b in $DAEMONS; do
      f=$CARGO_TARGET_DIR/dist/$t/$b
      if [ -f "$f" ]; then
        size=$(stat -c %s "$f"); printf ' %12s' "$size"
        case $t in mips-*) [ "$size" -le "$SIZE_BUDGET" ] || { over=1; log "$b on $t: $size > budget $SIZE_BUDGET"; } ;; esac
      else
        printf ' %12s' "-"
      fi
    done
    echo
  done
  return $over
}

[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
case "${1:-}" in
  setup) shift; cmd_setup ;;
  build) shift; cmd_setup; cmd_build "$@" ;;
  test) shift; cmd_setup; cmd_test "$@" ;;
  sizes) shift; cmd_sizes ;;
  targets) echo "$ALL_TARGETS" ;;
  qemu) shift; qemu_for "$1" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
