#!/usr/bin/env bash
# build.sh - build the project's OpenWrt 24.10 userland lab (Debian 12, x86_64, as root).
#
#   tests/openwrt/lab/build.sh [--no-apt]
#
#   V6ONLY_LAB      output directory (default /var/cache/v6only-lab):
#                     root/      the rootfs lab.sh runs (overlay lower dir, never written by a lab)
#                     hostbin/   OpenWrt tools that run on the host: apk opkg usign uci jsonfilter
#                                validate_data ucode jshn
#                     log/       one log per step; build/, sysroot/, stamps/, dl/ are internal
#   V6ONLY_VENDOR   the vendored source tarballs (default: ../shared/vendor/openwrt beside the
#                   checkout). Without them, the commits pinned in sources.txt are fetched with git.
#   V6ONLY_LAB_JOBS parallel jobs (default: number of CPUs)
#
# Each component is rebuilt only when its recipe, its tarball or a component it builds on
# changed; the rootfs is re-assembled (atomically) only when something changed. A second run
# with nothing changed takes about a second.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
LAB=${V6ONLY_LAB:-/var/cache/v6only-lab}
VENDOR=${V6ONLY_VENDOR:-$REPO/../shared/vendor/openwrt}
JOBS=${V6ONLY_LAB_JOBS:-$(nproc)}
APT=1
for arg in "$@"; do
	case $arg in
	--no-apt) APT=0 ;;
	-h | --help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
	esac
done

die() { echo "build.sh: error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages and runs ldconfig/chroot on the rootfs)"
[ "$(uname -m)" = x86_64 ] || die "the lab is x86_64 only (this is $(uname -m))"

B=$LAB/build     # unpacked sources, built out of tree in B/<name>/_b
S=$LAB/sysroot   # DESTDIR of every component: the next one finds headers and libraries here
ST=$LAB/stamps
DL=$LAB/dl       # tarballs made from upstream git when there is no vendored one
LOG=$LAB/log
mkdir -p "$B" "$S" "$ST" "$DL" "$LOG"
START=$SECONDS
say() { printf 'lab build [%3ss] %s\n' "$((SECONDS - START))" "$*" >&2; }

# One build per $LAB at a time; a second caller waits.
exec 8>"$LAB/.build.lock"
flock 8

# ------------------------------------------------------------------ Debian build dependencies
# nftables: fw4 runs nft(8), copied from the host into the rootfs.
# libcrypt-dev: rpcd checks login passwords with crypt(3).
DEBS="build-essential cmake ninja-build meson pkg-config patchelf libjson-c-dev libssl-dev
 zlib1g-dev nftables util-linux openssl libcrypt-dev"
if [ "$APT" = 1 ]; then
	. "$REPO/ci/apt.sh"
	# shellcheck disable=SC2086 # a word list
	apt_install $DEBS || die "could not install the Debian packages: $DEBS"
fi
for tool in cc cmake ninja meson pkg-config patchelf nft unshare flock openssl; do
	command -v "$tool" >/dev/null || die "$tool missing (Debian packages: $DEBS)"
done

# ------------------------------------------------------------------ sources
declare -A TGZ URL REF PATHS
while read -r name tgz url ref paths; do
	case $name in '' | '#'*) continue ;; esac
	TGZ[$name]=$tgz URL[$name]=$url REF[$name]=$ref PATHS[$name]=$paths
done <"$HERE/sources.txt"

# fetch NAME: make $DL/<tarball> from the pinned commit, as `git archive` (one top directory).
fetch() {
	local n=$1 out=$DL/${TGZ[$1]} g
	command -v git >/dev/null || { [ "$APT" = 1 ] && apt_install git ca-certificates; } ||
		die "git is needed to fetch $n (no vendored sources in $VENDOR)"
	g=$(mktemp -d "$DL/.git-$n.XXXXXX")
	say "fetching $n (${REF[$n]}) from ${URL[$n]}"
	if [ -n "${PATHS[$n]}" ]; then
		# only some paths of a large repository at a tag: shallow, blobless, sparse
		# shellcheck disable=SC2086,SC2046 # PATHS is a list
		git -c advice.detachedHead=false clone -q --depth 1 --branch "${REF[$n]}" --filter=blob:none \
			--sparse "${URL[$n]}" "$g/r" &&
			git -C "$g/r" sparse-checkout set --no-cone $(printf '/%s ' ${PATHS[$n]}) &&
			git -C "$g/r" archive --format=tar --prefix="${TGZ[$n]%.tar.gz}/" HEAD -- ${PATHS[$n]} |
			gzip -n >"$out.part"
	else
		# one commit: a shallow fetch of it, or a full clone where the server refuses that
		git init -q --bare "$g/r" &&
			{ git -C "$g/r" fetch -q --depth 1 "${URL[$n]}" "${REF[$n]}" ||
				git -C "$g/r" fetch -q "${URL[$n]}" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'; } &&
			git -C "$g/r" archive --format=tar --prefix="${TGZ[$n]%.tar.gz}/" "${REF[$n]}" | gzip -n >"$out.part"
	fi || { rm -rf "$g" "$out.part"; die "could not fetch $n from ${URL[$n]} at ${REF[$n]} (offline? the vendored tarballs are looked for in $VENDOR, V6ONLY_VENDOR to change)"; }
	rm -rf "$g"
	mv "$out.part" "$out"
}

# tarball NAME: the path of its source tarball (vendored, else fetched once into $DL).
tarball() {
	local n=$1
	[ -n "${TGZ[$n]:-}" ] || die "no source '$n' in sources.txt"
	if [ -f "$VENDOR/${TGZ[$n]}" ]; then echo "$VENDOR/${TGZ[$n]}"; return; fi
	[ -f "$DL/${TGZ[$n]}" ] || fetch "$n" >&2
	echo "$DL/${TGZ[$n]}"
}

# unpack NAME: a fresh copy of the source in $B/NAME, top directory stripped.
unpack() {
	rm -rf "${B:?}/$1"
	mkdir -p "$B/$1"
	tar -xzf "$(tarball "$1")" -C "$B/$1" --strip-components=1
}

# OpenWrt's own files (base-files, package files, patches), unpacked once per tarball.
OW=$B/openwrt
openwrt_tree() {
	local t; t=$(tarball openwrt)
	[ "$(cat "$OW/.tarball" 2>/dev/null)" = "$t" ] && return
	unpack openwrt
	echo "$t" >"$OW/.tarball"
}

# ------------------------------------------------------------------ recipes
export PKG_CONFIG_PATH=$S/usr/lib/pkgconfig:$S/usr/share/pkgconfig
export CFLAGS="-O2 -g0 -I$S/usr/include"
export LDFLAGS="-L$S/usr/lib -Wl,-rpath-link,$S/usr/lib"

# cmake_install DIR [CMAKE OPTIONS]: configure, build (in DIR/_b, or in DIR itself when
# IN_TREE=1) and install into the sysroot.
cmake_install() {
	local src=$1 bld=$1/_b; shift
	[ "${IN_TREE:-0}" = 0 ] || bld=$src
	cmake -S "$src" -B "$bld" -G Ninja -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=None \
		-DCMAKE_PREFIX_PATH="$S/usr" -DCMAKE_C_FLAGS="$CFLAGS" \
		-DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" \
		-DCMAKE_MODULE_LINKER_FLAGS="$LDFLAGS" "$@"
	cmake --build "$bld" -j "$JOBS"
	DESTDIR=$S cmake --install "$bld"
}

build_libubox() { unpack libubox; cmake_install "$B/libubox" -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF -DUNIT_TESTING=OFF; }
build_ubus() { unpack ubus; cmake_install "$B/ubus" -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF; }
build_uci() { unpack uci; cmake_install "$B/uci" -DBUILD_LUA=OFF -DBUILD_TESTS=OFF; }
build_udebug() { unpack udebug; cmake_install "$B/udebug"; }
build_ubox() { unpack ubox; cmake_install "$B/ubox"; }
build_jsonpath() { unpack jsonpath; IN_TREE=1 cmake_install "$B/jsonpath"; } # its lemon step wants the source dir
build_usign() { unpack usign; cmake_install "$B/usign"; }
build_procd() {
	# Written for musl: glibc 2.36 has no strlcpy (compat/strlcpy.h supplies one), and gcc 12
	# at -O2 warns where OpenWrt's -Os build does not, so its -Werror goes.
	unpack procd
	local extra=""
	echo 'int main(void){char b[2];return (int)strlcpy(b,"",2);}' |
		cc -include string.h -x c -Werror=implicit-function-declaration -o /dev/null - 2>/dev/null ||
		extra="-include $HERE/compat/strlcpy.h"
	sed -i 's/-Werror\b//' "$B/procd/CMakeLists.txt"
	CFLAGS="$CFLAGS $extra" cmake_install "$B/procd" -DJAIL_SUPPORT=OFF -DSECCOMP_SUPPORT=OFF -DUTRACE_SUPPORT=OFF
}
build_opkg() {
	unpack opkg
	cmake_install "$B/opkg" -DBUILD_TESTS=OFF -DHOST_CPU=x86_64 -DPATH_SPEC=/usr/sbin:/usr/bin:/sbin:/bin \
		-DVERSION="${REF[opkg]:0:7} (2024-10-16)"
}
build_ucode() {
	# with OpenWrt's patch; the modules fw4 needs (fs ubus uci) and a few more for tests
	openwrt_tree
	unpack ucode
	local p
	for p in "$OW"/package/utils/ucode/patches/*.patch; do patch -s -p1 -d "$B/ucode" <"$p"; done
	cmake_install "$B/ucode" -DFS_SUPPORT=ON -DUBUS_SUPPORT=ON -DUCI_SUPPORT=ON -DMATH_SUPPORT=ON \
		-DULOOP_SUPPORT=ON -DSTRUCT_SUPPORT=ON -DLOG_SUPPORT=ON -DSOCKET_SUPPORT=ON -DRESOLV_SUPPORT=ON \
		-DDEBUG_SUPPORT=OFF -DRTNL_SUPPORT=OFF -DNL80211_SUPPORT=OFF -DDIGEST_SUPPORT=OFF -DZLIB_SUPPORT=OFF
}
build_apk() {
	# apk-tools v3.0.2 as OpenWrt 25.12 configures it: openssl, no zstd, wget URL backend, no docs
	unpack apk
	meson setup "$B/apk/_b" "$B/apk" --prefix=/usr --libdir=lib --buildtype=release -Darch=x86_64 \
		-Dcrypto_backend=openssl -Dzstd=disabled -Durl_backend=wget -Ddocs=disabled -Dhelp=disabled \
		-Dcompressed-help=false -Dlua=disabled -Dpython=disabled -Dtests=disabled
	ninja -C "$B/apk/_b" -j "$JOBS"
	DESTDIR=$S meson install -C "$B/apk/_b" --no-rebuild
}
build_busybox() {
	# busybox 1.36.1 with OpenWrt's patches and OpenWrt's default configuration (Config-defaults.in
	# is the config with a BUSYBOX_DEFAULT_ prefix: defaults that depend on other targets are off,
	# the one on IPV6 is on, as on every OpenWrt image). No PAM, SELinux or RPC here.
	openwrt_tree
	unpack busybox
	local p
	for p in "$OW"/package/utils/busybox/patches/*.patch; do patch -s -p1 -d "$B/busybox" <"$p"; done
	awk '
		$1 == "config" { name = $2; sub(/^BUSYBOX_DEFAULT_/, "", name); next }
		$1 == "default" && name != "" {
			line = $0; sub(/^[ \t]*default[ \t]+/, "", line)
			if (line ~ / if IPV6$/) line = "y"
			else if (line ~ / if /) line = "n"
			if (line == "y") print "CONFIG_" name "=y"
			else if (line == "n") print "# CONFIG_" name " is not set"
			else print "CONFIG_" name "=" line
			name = ""
		}' "$OW/package/utils/busybox/Config-defaults.in" >"$B/busybox/.config"
	sed -i -E 's/^CONFIG_(PAM|SELINUX|FEATURE_HAVE_RPC)=y$/# CONFIG_\1 is not set/' "$B/busybox/.config"
	(
		cd "$B/busybox"
		unset CFLAGS LDFLAGS
		yes '' | make oldconfig >/dev/null || true
		grep -q '^CONFIG_FEATURE_IPV6=y' .config
		make -j"$JOBS" busybox
		make CONFIG_PREFIX="$B/busybox/_install" install >/dev/null
	)
}
build_firewall4() { unpack firewall4; }

# --- the web UI (lab.sh start --luci): uhttpd with its ubus and ucode handlers, rpcd with its
# plugins, lucihttp's ucode module, and LuCI as luci.mk installs it. Built for glibc:
# _GNU_SOURCE for vasprintf() in ucode's headers, _DEFAULT_SOURCE for uhttpd.
build_uhttpd() {
	unpack uhttpd
	CFLAGS="$CFLAGS -D_DEFAULT_SOURCE -D_GNU_SOURCE=" cmake_install "$B/uhttpd" -DTLS_SUPPORT=OFF \
		-DLUA_SUPPORT=OFF -DUBUS_SUPPORT=ON -DUCODE_SUPPORT=ON
}
build_rpcd() {
	# no iwinfo plugin: the lab has no wireless
	unpack rpcd
	CFLAGS="$CFLAGS -D_GNU_SOURCE=" LDFLAGS="$LDFLAGS -lcrypt" cmake_install "$B/rpcd" \
		-DFILE_SUPPORT=ON -DIWINFO_SUPPORT=OFF -DRPCSYS_SUPPORT=ON -DUCODE_SUPPORT=ON
}
build_lucihttp() {
	unpack lucihttp
	CFLAGS="$CFLAGS -D_GNU_SOURCE=" cmake_install "$B/lucihttp" -DBUILD_LUA=OFF -DBUILD_UCODE=ON -DBUILD_TESTS=OFF
}
# LuCI's version string: luci.mk takes it from git; the feeds pin is what we know
LUCI_VERSION=git-75e41cb
LUCI_BRANCH="LuCI openwrt-24.10 branch"
LUCI_MODULES="modules/luci-base modules/luci-mod-status themes/luci-theme-bootstrap"
build_webui() {
	# each LuCI module staged in $B/webui/stage/<name>/ where luci.mk puts its files: ucode/ in
	# /usr/share/ucode/luci, htdocs/ in /www, root/ in /, src/ built (luci-base: luci.core,
	# version.uc). JavaScript is served as it is in the sources (OpenWrt minifies it).
	unpack webui
	local W=$B/webui m st
	if [ ! -d "$W/feeds/luci" ]; then # the git fallback: LuCI's repository at the pin
		mkdir -p "$W/feeds/luci"
		tar -xzf "$(tarball luci)" -C "$W/feeds/luci" --strip-components=1
	fi
	for m in $LUCI_MODULES; do
		st=$W/stage/${m##*/}
		mkdir -p "$st"
		if [ -d "$W/feeds/luci/$m/ucode" ]; then
			mkdir -p "$st/usr/share/ucode/luci"
			cp -R "$W/feeds/luci/$m/ucode/." "$st/usr/share/ucode/luci/"
			# luci.mk's SubstituteVersion: the version into templates and resource URLs
			find "$st/usr/share/ucode/luci" -name '*.ut' -exec sed -i \
				-e "s/{# *\([^ ]*\)PKG_VERSION *#}/\1$LUCI_VERSION/g" \
				-e "s/\"\({{ *\(media\|resource\) *}}[^\"]*\.\(js\|css\)\)\"/\"\1?v=$LUCI_VERSION\"/g" {} +
		fi
		[ ! -d "$W/feeds/luci/$m/htdocs" ] || { mkdir -p "$st/www"; cp -R "$W/feeds/luci/$m/htdocs/." "$st/www/"; }
		[ ! -d "$W/feeds/luci/$m/root" ] || cp -R "$W/feeds/luci/$m/root/." "$st/"
	done
	make -C "$W/feeds/luci/modules/luci-base/src" FPIC=-fPIC CFLAGS="$CFLAGS -D_GNU_SOURCE=" \
		LUCI_VERSION="$LUCI_VERSION" LUCI_GITBRANCH="$LUCI_BRANCH" DESTDIR="$W/stage/luci-base" install
	# ucode-mod-html (luci-base's templates import it)
	mkdir -p "$W/stage/ucode-mod-html/usr/lib/ucode"
	cc $CFLAGS -D_GNU_SOURCE= $LDFLAGS -fPIC -shared -o "$W/stage/ucode-mod-html/usr/lib/ucode/html.so" \
		"$W/feeds/luci/contrib/package/ucode-mod-html/src/html.c"
}

# NAME:what it builds on (its stamp includes theirs)
# (udebug builds its ucode module, so ucode comes first)
COMPONENTS="libubox: ubus:libubox uci:libubox ucode:libubox,ubus,uci udebug:libubox,ubus,ucode
 ubox:libubox,ubus,uci,udebug procd:libubox,ubus,uci,udebug jsonpath:libubox usign:libubox
 opkg:libubox firewall4: apk: busybox: uhttpd:libubox,ubus,ucode rpcd:libubox,ubus,uci,ucode
 lucihttp:ucode webui:libubox,ubus,uci,ucode"

# ------------------------------------------------------------------ build what changed
# every source first (a fetch that fails stops here, not inside a $(...))
for item in openwrt: $COMPONENTS; do tarball "${item%%:*}" >/dev/null; done
# (without the vendored webui tarball, LuCI itself comes from its own repository)
[ -f "$VENDOR/${TGZ[webui]}" ] || tarball luci >/dev/null

# Every stamp is a hash of: the recipe's text (and the helpers it uses), the source tarball's
# bytes, the OpenWrt files tarball's name, and the stamps of what the component builds on.
COMMON_KEY=$(
	declare -f cmake_install unpack openwrt_tree
	echo "$CFLAGS $LDFLAGS"
	cat "$HERE/compat/strlcpy.h"
	basename "$(tarball openwrt)"
)
declare -A KEY
for item in $COMPONENTS; do
	c=${item%%:*} deps=${item#*:}
	KEY[$c]=$({
		echo "$COMMON_KEY"
		declare -f "build_$c"
		[ "$c" != webui ] || echo "$LUCI_VERSION $LUCI_BRANCH $LUCI_MODULES"
		md5sum <"$(tarball "$c")"
		for d in ${deps//,/ }; do echo "${KEY[$d]}"; done
	} | sha256sum | cut -c1-20)
done
outdated() { [ "$(cat "$ST/$1" 2>/dev/null)" != "${KEY[$1]}" ]; }

# build_component NAME: build it (log in $LOG/NAME.log), stamp it; its status. Call it with
# errexit off and never under if, || or &&: only then does the subshell's set -e hold.
build_component() {
	local c=$1 rc
	say "building $c"
	rm -f "$ST/$c"
	(set -e; "build_$c") >"$LOG/$c.log" 2>&1
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "build.sh: error: building $c failed; the end of $LOG/$c.log:" >&2
		tail -n 25 "$LOG/$c.log" >&2
		return 1
	fi
	echo "${KEY[$c]}" >"$ST/$c"
}

# busybox (half of a cold build, needs nothing else) builds beside the others
openwrt_tree
set +e
bg_pid="" failed=""
if outdated busybox; then
	build_component busybox &
	bg_pid=$!
fi
for item in $COMPONENTS; do
	c=${item%%:*}
	if [ "$c" = busybox ] || ! outdated "$c"; then continue; fi
	build_component "$c"
	[ $? = 0 ] || { failed=$c; break; }
done
[ -z "$bg_pid" ] || wait "$bg_pid" || failed="$failed busybox"
set -e
[ -z "$failed" ] || die "failed to build:$failed"

# ------------------------------------------------------------------ the rootfs
. "$HERE/rootfs.sh"
ROOT_KEY=$({
	for item in $COMPONENTS; do echo "${KEY[${item%%:*}]}"; done
	cat "$HERE/rootfs.sh" "$HERE/base-packages.txt"
	(cd "$HERE/rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	sha256sum "$(command -v nft)"
} | sha256sum | cut -c1-20)
if [ "$(cat "$ST/root" 2>/dev/null)" != "$ROOT_KEY" ] || [ ! -x "$LAB/root/sbin/procd" ]; then
	say "assembling the rootfs"
	rm -f "$ST/root"
	rm -rf "$LAB/root.new"
	set +e
	(set -e; assemble_rootfs "$LAB/root.new") >"$LOG/rootfs.log" 2>&1
	rc=$?
	set -e
	if [ "$rc" != 0 ]; then
		echo "build.sh: error: assembling the rootfs failed; the end of $LOG/rootfs.log:" >&2
		tail -n 25 "$LOG/rootfs.log" >&2
		exit 1
	fi
	# swap in the new tree (labs still running keep the old one open until they stop)
	rm -rf "$LAB/root.old"
	[ ! -d "$LAB/root" ] || mv "$LAB/root" "$LAB/root.old"
	mv "$LAB/root.new" "$LAB/root"
	rm -rf "$LAB/root.old"
	echo "$ROOT_KEY" >"$ST/root"
fi

# host-side tools: links to the rootfs binaries (RUNPATH $ORIGIN-relative, so they find the
# rootfs libraries from the host); no busybox applets here
mkdir -p "$LAB/hostbin"
for t in usr/bin/apk bin/opkg usr/bin/usign sbin/uci usr/bin/jsonfilter sbin/validate_data usr/bin/ucode usr/bin/jshn; do
	ln -sfn "../root/$t" "$LAB/hostbin/${t##*/}"
done
"$LAB/hostbin/uci" -h 2>&1 | grep -q 'Usage: ' || die "hostbin/uci does not run on the host"
say "lab ready in $LAB (root/, hostbin/, log/)"
