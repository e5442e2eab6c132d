#!/usr/bin/env bash
# apk.sh - the apk v3 feed (dist/apk/) as OpenWrt 25.12 sees it: every package installed,
# upgraded and removed by the real apk-tools 3.0.2 of the lab, with its signature checks.
#
# Offline roots (`apk --root R --arch A`, no scripts run, as the ImageBuilder does):
#   - every package from dist/apk/x86_64/packages.adb with the public key in R/etc/apk/keys:
#     version from the Makefile, every file of the Makefile's install recipe in place with the
#     recipe's mode and the source's bytes, lib/apk/packages/<pkg>.list, feed dependencies
#     pulled in; an upgrade to a feed built with PKG_RELEASE+1 keeps a user-edited
#     /etc/config/<pkg> (the new default lands in .apk-new); `apk del` leaves only that file,
#     and with no edits leaves nothing;
#   - refused, with nothing installed: a package with one byte changed, a package whose file
#     content was changed and recompressed, an index with one byte changed, an index without
#     its signature, an index signed by another key;
#   - every architecture's packages install into a root of that --arch (and not into another),
#     and its packages.adb has the same ADB block as `apk mkndx` writes for those packages;
#   - two builds of a feed give the same bytes, and dist/'s packages are such a build.
# A running lab (procd, the package's post-install and pre-deinstall run as on a router):
#   the key in /etc/apk/keys, the feed in /etc/apk/repositories.d/customfeeds.list as a
#   file:// URL, `apk update`, `apk add` enables each service (/etc/rc.d/S??<pkg>), `apk del`
#   disables it again and no instance is left.
#
# Environment (see lib.sh): V6ONLY_LAB, DIST; FEEDTOOL (default target/host/release/feedtool),
# XC_DIST (the binaries the feed was packed from, default target/xc/dist).
# shellcheck disable=SC2016 # make's $(...) and snippets for eval are meant literally
set -uo pipefail
# shellcheck source=tests/openwrt/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APK=$HOSTBIN/apk
FEEDTOOL=${FEEDTOOL:-$REPO/target/host/release/feedtool}
XC_DIST=${XC_DIST:-$REPO/target/xc/dist}
PUB=$DIST/keys/apk/v6only.pem
X86=x86_64
FEED=$DIST/apk/$X86

lab_ready_or_finish
for need in "$APK" "$FEEDTOOL"; do
	[ -x "$need" ] || { fail "setup" "$need missing (build the lab and the feed first)"; finish; }
done
if [ ! -f "$PUB" ] || [ ! -f "$FEED/packages.adb" ]; then
	fail "setup" "no apk feed in $DIST (make -f Makefile.openwrt)"
	finish
fi

T=$(mktemp -d /tmp/v6only-apk.XXXXXX)
trap 'labs_cleanup; rm -rf "$T"' EXIT

# Architectures and their binaries, as Makefile.openwrt maps them.
declare -A TRIPLE
while read -r a t; do TRIPLE[$a]=$t; done \
	< <(sed -n 's/^TRIPLE_\([^ ]*\) := \(.*\)$/\1 \2/p' "$REPO/Makefile.openwrt")
mapfile -t ARCHS < <(printf '%s\n' "${!TRIPLE[@]}" | sort)
# The daemons' packages (luci-app-v6only, noarch, has its own checks in luci.sh).
mapfile -t PKGS < <(cd "$REPO/feed" && for m in */Makefile; do [ ! -f "../packages/${m%/Makefile}/Cargo.toml" ] || echo "${m%/Makefile}"; done)
[ "${#ARCHS[@]}" -eq 8 ] || fail "setup" "expected 8 architectures in Makefile.openwrt, got ${#ARCHS[@]}"

mk_var() { sed -n "s/^$2:=//p" "$REPO/feed/$1/Makefile"; }
version() { echo "$(mk_var "$1" PKG_VERSION)-r${2:-$(mk_var "$1" PKG_RELEASE)}"; }
# The +dependencies of a package's DEPENDS line.
deps_of() { sed -n 's/^[[:space:]]*DEPENDS:=//p' "$REPO/feed/$1/Makefile" | tr ' ' '\n' | sed -n 's/^+//p'; }
is_feed_pkg() { printf '%s\n' "${PKGS[@]}" | grep -qxF -- "$1"; }
# What the feed needs from the firmware: libc and every non-feed dependency.
STANDINS=(libc)
for p in "${PKGS[@]}"; do
	for d in $(deps_of "$p"); do
		is_feed_pkg "$d" || printf '%s\n' "${STANDINS[@]}" | grep -qxF -- "$d" || STANDINS+=("$d")
	done
done

# ap ROOT ARCH ARGS...: the lab's apk on an offline root.
ap() { local r=$1 a=$2; shift 2; "$APK" --root "$r" --arch "$a" --no-cache "$@"; }

# new_root DIR ARCH [KEY.pem...]: an empty apk root trusting dist's key (and the given ones),
# with empty stand-ins for what the firmware provides (libc, nftables-json, kmod-tun ...).
new_root() {
	local r=$1 a=$2 k d
	shift 2
	mkdir -p "$r/etc/apk/keys"
	cp "$PUB" "$r/etc/apk/keys/v6only.pem"
	for k in "$@"; do cp "$k" "$r/etc/apk/keys/"; done
	ap "$r" "$a" --initdb add >/dev/null 2>&1 || return 1
	for d in "${STANDINS[@]}"; do ap "$r" "$a" add --virtual "$d" >/dev/null 2>&1 || return 1; done
}

# installed_version ROOT PKG: from apk's installed database (empty when not installed).
installed_version() {
	awk -v p="$2" '/^P:/ { n = substr($0, 3) } /^V:/ && n == p { print substr($0, 3) }' \
		"$1/lib/apk/db/installed" 2>/dev/null
}
installed_arch() {
	awk -v p="$2" '/^P:/ { n = substr($0, 3) } /^A:/ && n == p { print substr($0, 3) }' \
		"$1/lib/apk/db/installed" 2>/dev/null
}
# feed_installed ROOT: the feed packages apk lists as installed (one per line).
feed_installed() {
	local p
	for p in "${PKGS[@]}"; do [ -z "$(installed_version "$1" "$p")" ] || echo "$p"; done
}

# expected PKG BIN_DIR: "path mode source" for every file the Makefile's install recipe writes.
expected() {
	local pkg=$1 bin=$2 cmd mode dst s d src
	sed -n "/^define Package\/$pkg\/install/,/^endef/p" "$REPO/feed/$pkg/Makefile" |
		while read -r cmd rest; do
			case $cmd in
			'$(INSTALL_BIN)') mode=755 ;;
			'$(INSTALL_CONF)') mode=600 ;;
			'$(INSTALL_DATA)') mode=644 ;;
			*) continue ;;
			esac
			rest=${rest//'$(PKG_NAME)'/$pkg}
			# shellcheck disable=SC2086 # the recipe's words
			set -- $rest
			dst=${!#}
			for s in "${@:1:$#-1}"; do
				case $s in
				'$(PKG_INSTALL_DIR)/bin/'*) src=$bin/${s#'$(PKG_INSTALL_DIR)/bin/'} ;;
				./files/*) src=$REPO/feed/$pkg/${s#./} ;;
				*) src="unsupported:$s" ;;
				esac
				d=${dst#'$(1)'}
				[[ $d == */ ]] && d=$d$(basename "$s")
				echo "$d $mode $src"
			done
		done
}

# files_ok ROOT PKG BIN_DIR: each recipe file in ROOT with the recipe's mode and the source's
# bytes, and lib/apk/packages/PKG.list naming exactly those files.
files_ok() {
	local r=$1 pkg=$2 bin=$3 path mode src n=0
	while read -r path mode src; do
		n=$((n + 1))
		[ -f "$r$path" ] || { echo "missing $path"; return 1; }
		cmp -s "$r$path" "$src" || { echo "$path differs from $src"; return 1; }
		[ "$(stat -c %a "$r$path")" = "$mode" ] || { echo "$path mode $(stat -c %a "$r$path"), want $mode"; return 1; }
	done < <(expected "$pkg" "$bin")
	[ "$n" -gt 0 ] || { echo "no install recipe found for $pkg"; return 1; }
	diff <(expected "$pkg" "$bin" | cut -d' ' -f1 | LC_ALL=C sort) "$r/lib/apk/packages/$pkg.list"
}

# leftovers ROOT: every non-directory outside apk's own state (db, keys, world, log, cache).
leftovers() {
	(cd "$1" && find . \( -path ./lib/apk/db -o -path ./etc/apk -o -path ./var \) -prune \
		-o ! -type d -print | LC_ALL=C sort)
}

# flip FILE [OFFSET]: change one byte (default: the middle one).
flip() {
	local f=$1 n off b
	n=$(stat -c %s "$f")
	off=${2:-$((n / 2))}
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the octal escape of the new byte
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$f" bs=1 seek="$off" conv=notrunc 2>/dev/null
}

# adb_edit IN OUT MODE: the ADB stream of IN (ADBd inflated) changed per MODE, written
# uncompressed (apk reads "ADB." files as well): data-byte flips a byte of the last DATA block
# (a file's content), adb-byte flips a byte inside the ADB block, unsigned drops every block
# after the ADB block; adb-block writes only the ADB block's payload.
adb_edit() {
	python3 - "$@" <<'EOF'
import struct, sys, zlib
src, dst, mode = sys.argv[1:4]
b = open(src, "rb").read()
s = bytearray(zlib.decompress(b[4:], -15) if b[:4] == b"ADBd" else b)
blocks, pos = [], 8
while pos < len(s):
    h = struct.unpack("<I", s[pos:pos + 4])[0]
    blocks.append((h >> 30, pos, h & 0x3FFFFFFF))
    pos += ((h & 0x3FFFFFFF) + 7) // 8 * 8
if mode == "data-byte":
    t, p, n = [x for x in blocks if x[0] == 2][-1]
    s[p + n - 1] ^= 1
elif mode == "adb-byte":
    t, p, n = blocks[0]
    s[p + n // 2] ^= 1
elif mode == "unsigned":
    t, p, n = blocks[0]
    s = s[:p + (n + 7) // 8 * 8]
elif mode == "adb-block":
    t, p, n = blocks[0]
    s = s[p + 4:p + n]
open(dst, "wb").write(bytes(s))
EOF
}

bin_x86=$XC_DIST/${TRIPLE[$X86]}

# --- a second feed: the same packages with PKG_RELEASE + 1, signed by a key of the test
UP=$T/up
check "feedtool apk-keygen: a test key" "$FEEDTOOL" apk-keygen --secret "$T/up.pem" --public "$T/up.pub.pem"
build_up() {
	local p
	for p in "${PKGS[@]}"; do
		"$FEEDTOOL" apk --makefile "$REPO/feed/$p/Makefile" --arch "$X86" --bin-dir "$bin_x86" \
			--out-dir "$UP" --release "$(($(mk_var "$p" PKG_RELEASE) + 1))" || return 1
	done
	"$FEEDTOOL" apk-index --key "$T/up.pem" "$UP"
}
check "upgrade feed built with PKG_RELEASE+1" build_up

# --- per package: install, files, upgrade keeping the edited config, del
for pkg in "${PKGS[@]}"; do
	R=$T/root-$pkg
	ver=$(version "$pkg")
	ver2=$(version "$pkg" $(($(mk_var "$pkg" PKG_RELEASE) + 1)))
	conf=/etc/config/$pkg
	if ! new_root "$R" "$X86" "$T/up.pub.pem"; then
		fail "$pkg: new apk root"
		continue
	fi
	check "$pkg: apk add from packages.adb, key in /etc/apk/keys" \
		ap "$R" "$X86" --repository "$FEED/packages.adb" add --no-scripts "$pkg"
	check "$pkg: version $ver installed" test "$(installed_version "$R" "$pkg")" = "$ver"
	check "$pkg: arch $X86 recorded" test "$(installed_arch "$R" "$pkg")" = "$X86"
	check "$pkg: files where the Makefile says (mode, bytes, .list)" files_ok "$R" "$pkg" "$bin_x86"
	for d in $(deps_of "$pkg"); do
		is_feed_pkg "$d" || continue
		check "$pkg: dependency $d pulled in" test -n "$(installed_version "$R" "$d")"
	done
	check "$pkg: conffiles recorded" grep -qxF "$conf" "$R/lib/apk/packages/$pkg.conffiles"

	[ -f "$R$conf" ] && printf '# edited by the user\n' >>"$R$conf"
	cp "$R$conf" "$T/edited-$pkg" 2>/dev/null
	default=$(expected "$pkg" "$bin_x86" | awk -v c="$conf" '$1 == c { print $3 }')
	check "$pkg: apk upgrade to $ver2" \
		ap "$R" "$X86" --repository "$UP/packages.adb" upgrade --no-scripts
	check "$pkg: version $ver2 installed" test "$(installed_version "$R" "$pkg")" = "$ver2"
	check "$pkg: upgrade kept the user-edited $conf" cmp "$R$conf" "$T/edited-$pkg"
	check "$pkg: the new default config is in $conf.apk-new" cmp "$R$conf.apk-new" "$default"
	check "$pkg: apk del" ap "$R" "$X86" del --no-scripts "$pkg"
	check "$pkg: after del only the edited $conf is left" test "$(leftovers "$R")" = ".$conf"
	check "$pkg: after del no feed package is installed" test -z "$(feed_installed "$R")"
done

R=$T/root-all
if new_root "$R" "$X86"; then
	check "all packages: apk add" ap "$R" "$X86" --repository "$FEED/packages.adb" add --no-scripts "${PKGS[@]}"
	check "all packages: apk del" ap "$R" "$X86" del --no-scripts "${PKGS[@]}"
	check "all packages: nothing left after del of unchanged packages" test -z "$(leftovers "$R")"
else
	fail "all packages: new apk root"
fi

# --- what must be refused, with nothing installed
# refused NAME REPO_DIR all|one PKG...: apk add of PKG... fails; with `all` no feed package is
# installed and no file left, with `one` the (single, tampered) PKG is not installed and none of
# its files exists (apk still installs its untouched feed dependencies, as it should).
# $T/out-NAME gets apk's messages.
refused() {
	local name=$1 repo=$2 scope=$3 r p path
	shift 3
	r=$T/refused-$name
	new_root "$r" "$X86" || { echo "new root"; return 1; }
	if ap "$r" "$X86" --repository "$repo/packages.adb" add --no-scripts "$@" >"$T/out-$name" 2>&1; then
		echo "apk add succeeded:"; cat "$T/out-$name"; return 1
	fi
	if [ "$scope" = all ]; then
		[ -z "$(feed_installed "$r")" ] || { echo "installed: $(feed_installed "$r")"; return 1; }
		[ -z "$(leftovers "$r")" ] || { echo "files: $(leftovers "$r")"; return 1; }
	fi
	for p in "$@"; do
		[ -z "$(installed_version "$r" "$p")" ] || { echo "$p installed"; return 1; }
		for path in $(expected "$p" "$bin_x86" | cut -d' ' -f1) "/lib/apk/packages/$p.list"; do
			[ ! -e "$r$path" ] || { echo "$path exists"; return 1; }
		done
	done
}
for pkg in "${PKGS[@]}"; do
	ver=$(version "$pkg")
	cp -r "$FEED" "$T/tp-$pkg"
	flip "$T/tp-$pkg/$pkg-$ver.apk"
	check "$pkg: a package with one byte changed is refused" refused "tp-$pkg" "$T/tp-$pkg" one "$pkg"
	cp -r "$FEED" "$T/tc-$pkg"
	adb_edit "$FEED/$pkg-$ver.apk" "$T/tc-$pkg/$pkg-$ver.apk" data-byte
	check "$pkg: a package with changed file content (recompressed) is refused" \
		refused "tc-$pkg" "$T/tc-$pkg" one "$pkg"
done
untrusted() { grep -q "UNTRUSTED signature" "$T/out-$1"; }
cp -r "$FEED" "$T/ti" && adb_edit "$FEED/packages.adb" "$T/ti/packages.adb" adb-byte
check "index with one byte changed: refused" refused ti "$T/ti" all "${PKGS[@]}"
check "index with one byte changed: apk says UNTRUSTED signature" untrusted ti
cp -r "$FEED" "$T/tu" && adb_edit "$FEED/packages.adb" "$T/tu/packages.adb" unsigned
check "unsigned index: refused" refused tu "$T/tu" all "${PKGS[@]}"
check "unsigned index: apk says UNTRUSTED signature" untrusted tu
cp -r "$FEED" "$T/tk" && "$FEEDTOOL" apk-index --key "$T/up.pem" "$T/tk" 2>/dev/null
check "index signed by another key: refused" refused tk "$T/tk" all "${PKGS[@]}"
check "index signed by another key: apk says UNTRUSTED signature" untrusted tk
# The same index, uncompressed but unchanged, is accepted: the edits above are what apk refuses.
cp -r "$FEED" "$T/tn" && adb_edit "$FEED/packages.adb" "$T/tn/packages.adb" none
R=$T/root-plain
check "the index inflated but unchanged is accepted (control)" eval \
	'new_root "$R" "$X86" && ap "$R" "$X86" --repository "$T/tn/packages.adb" add --no-scripts "${PKGS[@]}"'

# --- every architecture into an offline root of that arch
for a in "${ARCHS[@]}"; do
	R=$T/arch-$a
	if ! new_root "$R" "$a"; then
		fail "$a: new apk root"
		continue
	fi
	check "$a: every package installs with --arch $a" \
		ap "$R" "$a" --repository "$DIST/apk/$a/packages.adb" add --no-scripts "${PKGS[@]}"
	for pkg in "${PKGS[@]}"; do
		check "$a: $pkg files (the $a binary) and arch" eval \
			'files_ok "$R" "$pkg" "$XC_DIST/${TRIPLE[$a]}" && test "$(installed_arch "$R" "$pkg")" = "$a"'
	done
done
other=mips_24kc
R=$T/arch-wrong
check "x86_64 packages are not installable into a $other root" eval \
	'new_root "$R" "$other" && ! ap "$R" "$other" --repository "$FEED/packages.adb" add --no-scripts "${PKGS[0]}" >/dev/null 2>&1 && test -z "$(feed_installed "$R")"'

# --- the index is what the real `apk mkndx` makes of the same packages (ADB block, byte for byte)
same_as_mkndx() { # ARCH
	local d=$T/mkndx-$1
	mkdir -p "$d"
	"$APK" mkndx --allow-untrusted --output "$d/packages.adb" "$DIST/apk/$1"/*.apk >/dev/null || return 1
	adb_edit "$d/packages.adb" "$d/theirs" adb-block && adb_edit "$DIST/apk/$1/packages.adb" "$d/ours" adb-block &&
		cmp "$d/theirs" "$d/ours"
}
for a in "${ARCHS[@]}"; do
	check "$a: packages.adb equals apk mkndx's index of the same packages" same_as_mkndx "$a"
done

# --- reproducible: dist's packages are what feedtool makes from the same inputs, twice
epoch=$("$APK" adbdump "$FEED/${PKGS[0]}-$(version "${PKGS[0]}").apk" 2>/dev/null |
	sed -n 's/^ *mtime: \([0-9]*\)$/\1/p' | head -1)
rebuild() { # DIR
	local p
	for p in "${PKGS[@]}"; do
		SOURCE_DATE_EPOCH=$epoch PKG_SOURCE_DATE_EPOCH='' "$FEEDTOOL" apk --makefile "$REPO/feed/$p/Makefile" \
			--arch "$X86" --bin-dir "$bin_x86" --out-dir "$1" >/dev/null || return 1
	done
	"$FEEDTOOL" apk-index --key "$T/up.pem" "$1" 2>/dev/null
}
check "rebuild 1 (SOURCE_DATE_EPOCH=$epoch from dist's files)" rebuild "$T/rb1"
check "rebuild 2" rebuild "$T/rb2"
check "two builds are byte-identical (packages and signed index)" diff -r "$T/rb1" "$T/rb2"
same_as_dist() {
	local p f
	for p in "${PKGS[@]}"; do
		f=$p-$(version "$p").apk
		cmp "$FEED/$f" "$T/rb1/$f" || return 1
	done
}
check "dist/apk/$X86 packages are byte-identical to a rebuild" same_as_dist

# --- a running lab: the router's view
lab_apk() {
	local p
	cp -r "$FEED" "$L/lab/share/feed" || return 1
	cp "$PUB" "$(lroot)/etc/apk/keys/v6only.pem" || return 1
	lsh 'mkdir -p /etc/apk/repositories.d &&
		echo "file:///lab/share/feed/packages.adb" >/etc/apk/repositories.d/customfeeds.list' || return 1
	# A router's apk database lists its firmware's packages; a lab's may be empty or missing.
	lsh '[ -f /lib/apk/db/installed ]' || lexec apk add --initdb >/dev/null 2>&1 || return 1
	for p in "${STANDINS[@]}"; do
		lexec apk info -e "$p" >/dev/null 2>&1 || lexec apk add --virtual "$p" >/dev/null 2>&1 || return 1
	done
}
# svc PKG: procd's entry for the service (empty when procd has none).
svc() { lsh "ubus call service list '{\"name\":\"$1\"}'" 2>/dev/null | grep -F "\"$1\""; }
lab_upgrade() {
	local p
	for p in "${PKGS[@]}"; do lsh "echo '# edited by the user' >>/etc/config/$p" || return 1; done
	cp -r "$UP" "$L/lab/share/up" && cp "$T/up.pub.pem" "$(lroot)/etc/apk/keys/" &&
		lsh 'echo "file:///lab/share/up/packages.adb" >>/etc/apk/repositories.d/customfeeds.list' &&
		lexec apk update >/dev/null 2>&1 && lexec apk upgrade >"$T/lab-upgrade" 2>&1
}
if lab_start --net; then
	check "lab: feed key in /etc/apk/keys, repository line in customfeeds.list" lab_apk
	check "lab: apk update reads the signed index" eval \
		'lexec apk update >"$T/update" 2>&1 && ! grep -q UNTRUSTED "$T/update" && grep -q "OK:" "$T/update"'
	before=$FAIL
	check "lab: apk add ${PKGS[*]}" eval 'lexec apk add "${PKGS[@]}" >"$T/lab-add" 2>&1'
	for pkg in "${PKGS[@]}"; do
		check "lab: $pkg post-install executed" grep -qF "Executing $pkg-$(version "$pkg").post-install" "$T/lab-add"
		check "lab: $pkg post-install enabled the service (/etc/rc.d/S??$pkg)" lsh "ls /etc/rc.d/S??$pkg"
		check "lab: $pkg post-install started it (procd has the service)" svc "$pkg"
	done
	check "lab: apk upgrade from a second repository line (PKG_RELEASE+1)" lab_upgrade
	for pkg in "${PKGS[@]}"; do
		ver2=$(version "$pkg" $(($(mk_var "$pkg" PKG_RELEASE) + 1)))
		check "lab: $pkg post-upgrade executed" grep -qF "Executing $pkg-$ver2.post-upgrade" "$T/lab-upgrade"
		check "lab: $pkg $ver2 installed" test "$(installed_version "$(lroot)" "$pkg")" = "$ver2"
		check "lab: $pkg edited /etc/config/$pkg kept" lsh "tail -n 1 /etc/config/$pkg | grep -qx '# edited by the user'"
		check "lab: $pkg still enabled and known to procd" eval 'lsh "ls /etc/rc.d/S??$pkg" && svc "$pkg"'
	done
	check "lab: apk del ${PKGS[*]}" eval 'lexec apk del "${PKGS[@]}" >"$T/lab-del" 2>&1'
	# What pre-deinstall undid is only shown when post-install had done it.
	[ "$FAIL" -eq "$before" ] || fail "lab: pre-deinstall" "not checked: the install above failed"
	[ "$FAIL" -eq "$before" ] && for pkg in "${PKGS[@]}"; do
		ver2=$(version "$pkg" $(($(mk_var "$pkg" PKG_RELEASE) + 1)))
		check "lab: $pkg pre-deinstall executed" grep -qF "Executing $pkg-$ver2.pre-deinstall" "$T/lab-del"
		check "lab: $pkg pre-deinstall disabled the service" lsh "! ls /etc/rc.d/*$pkg 2>/dev/null"
		check "lab: $pkg pre-deinstall stopped it (procd has no such service)" eval '! svc "$pkg"'
		check "lab: $pkg files gone but the edited config" \
			lsh "[ ! -e /usr/sbin/$pkg ] && [ ! -e /etc/init.d/$pkg ] && [ -f /etc/config/$pkg ]"
	done
else
	fail "lab: start"
fi

finish
