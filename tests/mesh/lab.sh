#!/usr/bin/env bash
# lab.sh - a real 802.11s mesh for mesh-monitor on a host whose kernel has no wireless.
#
# Boots Debian bookworm's own kernel in qemu (TCG) with an initramfs made here from Debian
# packages (busybox-static, iw and its libs, wireless-regdb, the kernel's mac80211_hwsim,
# bridge and veth modules). Nothing is installed from them on the host: `apt-get download` and
# `dpkg -x` into a cache that any run can rebuild from scratch. In the guest, tests/mesh/guest.sh
# makes three hwsim radios into mesh points in three network namespaces and walks the mesh
# through its phases (full mesh, line topology with a 2-hop path, a proxied LAN host, a silent
# peer and its expiry, recovery, `mesh leave`), calling a hook after each. The guest has no
# NIC: nothing it sends leaves the VM.
#
#   ARCH=amd64   linux-image-amd64 (bookworm), qemu-system-x86_64
#   ARCH=mipsel  linux-image-4kc-malta, qemu-system-mipsel -M malta (little-endian MIPS32);
#                its .debs come through a private apt state (the host's dpkg is not touched)
#
# Env:
#   V6ONLY_MESHLAB  cache of .debs and extracted trees (default /var/cache/v6only-meshlab,
#                   or ~/.cache/v6only-meshlab when that is not writable); delete to rebuild
#   WORK            this run's directory: console.log, initrd (default $V6ONLY_MESHLAB/run-$ARCH)
#   BIN             a mesh-monitor binary of ARCH (static) -> /usr/bin/mesh-monitor in the guest
#   HOOK            a guest shell file -> /lab/hook.sh; guest.sh sources it and calls
#                   `hook PHASE` after each phase (see guest.sh for the phases and what a hook
#                   may use)
#   EXTRA           a directory copied to /extra in the guest
#   EXPIRE=0        skip the silent peer's expiry (mesh housekeeping runs every 60 s: saves up
#                   to a minute, and the "expired" phase)
#   TIMEOUT=600 (s) MEM=256 (MiB; Malta's maximum) SMP=2 (amd64) TBSIZE=64 (TCG cache, MiB)
#   ACCEL=auto|kvm|tcg  (auto: KVM only with kvm_intel/kvm_amd; PVM-nested KVM cannot boot a
#                   stock kernel)
#   KPKG            an exact linux-image-... package instead of what the meta package pulls
#
# Output: $WORK/console.log, each line prefixed with the host's seconds since qemu started; a
# summary on stdout. Exit status 0 when the guest printed "LAB-RESULT PASS" (every lab check
# on the iw side held), 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/ci/apt.sh"

ARCH=${ARCH:-amd64}
if [ -z "${V6ONLY_MESHLAB:-}" ]; then
  V6ONLY_MESHLAB=/var/cache/v6only-meshlab
  mkdir -p "$V6ONLY_MESHLAB" 2>/dev/null && [ -w "$V6ONLY_MESHLAB" ] ||
    V6ONLY_MESHLAB=${XDG_CACHE_HOME:-$HOME/.cache}/v6only-meshlab
fi
CACHE=$V6ONLY_MESHLAB/$ARCH
WORK=${WORK:-$V6ONLY_MESHLAB/run-$ARCH}
TIMEOUT=${TIMEOUT:-600}
MEM=${MEM:-256}
SMP=${SMP:-2}
TBSIZE=${TBSIZE:-64}
EXPIRE=${EXPIRE:-1}
ACCEL=${ACCEL:-auto}

say() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

case $ARCH in
  amd64) KMETA=linux-image-amd64 QEMU=qemu-system-x86_64 QPKG=qemu-system-x86 ;;
  mipsel) KMETA=linux-image-4kc-malta QEMU=qemu-system-mipsel QPKG=qemu-system-mips ;;
  *) die "ARCH=$ARCH: amd64 or mipsel" ;;
esac
# Host tools: qemu; cpio and gzip for the initramfs; depmod/modprobe (kmod) to resolve module
# dependencies offline; readelf (binutils) for iw's loader and libraries; file for BIN.
apt_install "$QPKG" cpio gzip kmod binutils file || die "cannot install the host tools"
mkdir -p "$CACHE" "$WORK"
# One run at a time fills or unpacks the cache (the lock goes with this process).
exec 9>"$CACHE/.lock"
flock 9

# ---- guest packages ---------------------------------------------------------------------
# A foreign architecture gets its own apt state (lists, status, archives) under the cache,
# fed by the host's sources; the native one uses the host's lists.
APT=(apt-get -q -o DPkg::Lock::Timeout=600)
CACHEQ=(apt-cache)
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
  a="$CACHE/apt"
  mkdir -p "$a/lists/partial" "$a/archives/partial"
  touch "$a/status"
  o=(-o "Dir::State=$a" -o "Dir::State::Lists=$a/lists" -o "Dir::State::status=$a/status"
     -o "Dir::Cache=$a" -o "Dir::Cache::Archives=$a/archives"
     -o "APT::Architecture=$ARCH" -o "APT::Architectures::=$ARCH")
  APT+=("${o[@]}")
  CACHEQ+=("${o[@]}")
fi
apt_refresh() { "${APT[@]}" update >"$CACHE/apt-update.log" 2>&1 || die "apt-get update ($ARCH) failed, see $CACHE/apt-update.log"; }

GUEST_PKGS="busybox-static iw libnl-3-200 libnl-genl-3-200 libc6 wireless-regdb"
# The cache is complete when a kernel was fetched and every guest package is there; then no
# apt at all (repeatable offline, and the same kernel every run).
cached_kernel() { cat "$CACHE/kernel-package" 2>/dev/null || true; }
KPKG=${KPKG:-$(cached_kernel)}
if [ -z "$KPKG" ]; then
  kmeta_dep() { "${CACHEQ[@]}" depends "$KMETA" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
  if [ "$ARCH" != "$(dpkg --print-architecture)" ] && ! ls "$CACHE/apt/lists/"*_Packages* >/dev/null 2>&1; then
    say "package lists for $ARCH (private apt state, once)"
    apt_refresh
  fi
  KPKG=$(kmeta_dep)
  [ -n "$KPKG" ] || { apt_refresh; KPKG=$(kmeta_dep); }
  [ -n "$KPKG" ] || die "cannot resolve $KMETA to a kernel package"
fi
KV=${KPKG#linux-image-}
mkdir -p "$CACHE/debs"
fetch() {
  local p=$1
  ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1 && return 0
  say "apt-get download $p ($ARCH)"
  (cd "$CACHE/debs" && "${APT[@]}" download "$p" >/dev/null 2>&1) ||
    { apt_refresh; (cd "$CACHE/debs" && "${APT[@]}" download "$p" >/dev/null 2>&1); } ||
    die "apt-get download $p ($ARCH) failed"
}
for p in "$KPKG" $GUEST_PKGS; do fetch "$p"; done
echo "$KPKG" >"$CACHE/kernel-package"

# One tree with every package unpacked; the kernel .deb has no modules.dep (depmod makes it
# at install time), so it is made here against the unpacked tree.
X=$CACHE/x
if [ ! -f "$X/.done-$KV" ]; then
  say "unpacking the .debs"
  rm -rf "$X"
  mkdir -p "$X"
  for d in "$CACHE"/debs/*.deb; do dpkg -x "$d" "$X"; done
  depmod -b "$X" "$KV"
  touch "$X/.done-$KV"
fi
KERNEL=$X/boot/vmlinuz-$KV
[ -f "$KERNEL" ] || KERNEL=$X/boot/vmlinux-$KV
[ -f "$KERNEL" ] || die "no kernel image for $KV in $X/boot"

flock -u 9

# ---- initramfs ---------------------------------------------------------------------------
R=$WORK/root
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lab,lib/firmware}
cp "$X/bin/busybox" "$R/bin/busybox"
cp "$X/sbin/iw" "$R/sbin/iw"

# inx PATH: PATH as found inside the unpacked tree, symlinks followed there (an absolute link
# target means the guest's root, which is $X, never the host's).
inx() {
  local p=$X$1 t hops=0
  while [ -L "$p" ]; do
    hops=$((hops + 1))
    [ $hops -le 16 ] || die "symlink loop at $1"
    t=$(readlink "$p")
    case $t in
      /*) p=$X$t ;;
      *) p=$(dirname "$p")/$t ;;
    esac
  done
  printf '%s\n' "$p"
}
# iw is dynamic: its program interpreter and the libraries it names, from the guest's .debs
# (read with readelf, never run: works for a foreign architecture).
loader=$(readelf -l "$X/sbin/iw" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
[ -n "$loader" ] || die "iw: no program interpreter"
mkdir -p "$R$(dirname "$loader")"
cp "$(inx "$loader")" "$R$loader"
for lib in $(readelf -d "$X/sbin/iw" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  rel=$(cd "$X" && find lib usr/lib -name "$lib" \( -type f -o -type l \) 2>/dev/null | head -n 1)
  [ -n "$rel" ] || die "iw needs $lib, not in the .debs"
  mkdir -p "$R/$(dirname "$rel")"
  cp "$(inx "/$rel")" "$R/$rel"
done
# The regulatory database signed by the upstream key, which Debian's kernels also trust.
cp "$X/lib/firmware/regulatory.db-upstream" "$R/lib/firmware/regulatory.db"
cp "$X/lib/firmware/regulatory.db.p7s-upstream" "$R/lib/firmware/regulatory.db.p7s"
# Kernel modules: what mac80211_hwsim, bridge and veth need, by the kernel's own dependencies.
for m in mac80211_hwsim bridge veth; do
  modprobe -d "$X" -S "$KV" --show-depends "$m" || die "modprobe --show-depends $m"
done | awk '$1 == "insmod" {print $2}' | sort -u | while read -r ko; do
  rel=${ko#"$X"}
  mkdir -p "$R$(dirname "$rel")"
  cp "$ko" "$R$rel"
done
cp "$X/lib/modules/$KV"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KV/"
depmod -b "$R" "$KV"

if [ -n "${BIN:-}" ]; then
  [ -x "$BIN" ] || die "BIN=$BIN is not an executable"
  # The guest has no libraries but iw's: a dynamic binary would not start there.
  file -b "$BIN" | grep -q 'statically linked' || say "warning: $BIN is not statically linked: $(file -b "$BIN")"
  cp "$BIN" "$R/usr/bin/mesh-monitor"
fi
cp "$HERE/guest.sh" "$R/lab/guest.sh"
if [ -n "${HOOK:-}" ]; then cp "$HOOK" "$R/lab/hook.sh"; fi
if [ -n "${EXTRA:-}" ]; then mkdir -p "$R/extra" && cp -a "$EXTRA/." "$R/extra/"; fi

# PID 1: busybox's applets, then the lab; powering off ends qemu (-no-reboot).
cat >"$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
sh /lab/guest.sh
echo "LAB-POWEROFF"
sync
poweroff -f
EOF
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"
say "initramfs $(du -k "$WORK/initrd.gz" | cut -f1) KiB, kernel $KV"

# ---- qemu --------------------------------------------------------------------------------
if [ "$ACCEL" = auto ]; then
  ACCEL=tcg
  if [ "$ARCH" = amd64 ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
    { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    ACCEL=kvm
  fi
fi
# loglevel=1: kernel messages would cut into the dumps the hooks print on the console; the
# guest prints dmesg itself at the end. labexpire=0: EXPIRE=0 for the guest.
APPEND="console=ttyS0 panic=-1 loglevel=1"
[ "$EXPIRE" = 0 ] && APPEND="$APPEND labexpire=0"
case $ARCH in
  amd64)
    if [ "$ACCEL" = kvm ]; then Q=(-accel kvm -cpu host); else Q=(-accel "tcg,tb-size=$TBSIZE" -cpu max); fi
    Q+=(-m "$MEM" -smp "$SMP")
    ;;
  mipsel)
    ACCEL=tcg
    # the default CPU, a 24Kf (MIPS32r2, what mipsel-unknown-linux-musl code needs); the
    # 4kc-malta kernel runs on it
    Q=(-M malta -accel "tcg,tb-size=$TBSIZE" -m "$MEM")
    ;;
esac
say "$QEMU accel=$ACCEL mem=${MEM}M timeout=${TIMEOUT}s -> $WORK/console.log"
t0=$EPOCHREALTIME
set +e
timeout "$TIMEOUT" "$QEMU" "${Q[@]}" -nographic -no-reboot -nic none \
  -kernel "$KERNEL" -initrd "$WORK/initrd.gz" -append "$APPEND" </dev/null 2>&1 |
  while IFS= read -r line; do
    # host seconds since start, as a fixed-point string (no subshell per line)
    us=$((${EPOCHREALTIME/./} - ${t0/./}))
    printf '%4d.%02d %s\n' $((us / 1000000)) $((us % 1000000 / 10000)) "${line%$'\r'}"
  done >"$WORK/console.log"
rc=${PIPESTATUS[0]}
set -e
us=$((${EPOCHREALTIME/./} - ${t0/./}))
say "qemu exit $rc after $((us / 1000000)) s"
grep -E 'LAB-BOOT|@PHASE|LAB (ok|FAIL)|LAB-RESULT' "$WORK/console.log" >&2 || true
grep -q 'LAB-RESULT PASS' "$WORK/console.log"
