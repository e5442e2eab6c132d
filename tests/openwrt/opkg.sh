#!/bin/bash
# The signed feed (dist/x86_64/) against the real opkg + usign of a running lab: the feed as a
# `src/gz` over file:// with signature checking on, every package installed (the feed packages
# a Makefile DEPENDS on pulled in), files where each feed/<pkg>/Makefile's install recipe puts
# them (compared with the .ipk's data and with the installed system), `opkg remove` leaving
# nothing but changed conffiles, an upgrade to a newer release keeping a user-edited
# /etc/config/<pkg>, and feeds with a wrong signature refused with nothing installed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_ready_or_finish
setup_or_finish python3
FEED=$DIST/x86_64
FEEDTOOL=${FEEDTOOL:-$REPO/target/host/release/feedtool}
KEY=${KEY:-$REPO/keys/v6only.sec} # the key that signed dist/ (as in Makefile.openwrt): signs the second feed
# The usign public key in dist/keys/, named by its fingerprint (that of $KEY's public half).
KEYFILE=$(find "$DIST/keys" -maxdepth 1 -type f 2>/dev/null | head -1)
[ -x "$FEEDTOOL" ] && [ -f "${KEY%.*}.pub" ] && KEYFILE=$DIST/keys/$("$FEEDTOOL" fingerprint "${KEY%.*}.pub")
for f in "$FEED/Packages" "$FEED/Packages.gz" "$FEED/Packages.sig" "$KEYFILE" "$FEEDTOOL" "$KEY"; do
  [ -n "$f" ] && [ -e "$f" ] || { fail "setup" "missing ${f:-dist/keys/<fingerprint>}: run make -f Makefile.openwrt"; finish; }
done
FP=$(basename "$KEYFILE")
# The daemons' packages (luci-app-v6only, PKGARCH:=all, has its own checks in luci.sh).
PKGS=$(cd "$REPO/feed" && for m in */Makefile; do [ ! -f "../packages/${m%/Makefile}/Cargo.toml" ] || printf '%s ' "${m%/Makefile}"; done)
TMPD=$(mktemp -d /tmp/opkg-test.XXXXXX)
trap 'labs_cleanup; rm -rf "$TMPD"' EXIT

# The install recipe of feed/PKG/Makefile -> "MODE PATH" lines (files only).
recipe() {
  awk -v pkg="$1" '
    /^PKG_NAME:=/ { sub(/^PKG_NAME:=/, ""); name = $0 }
    $0 ~ "^define Package/" pkg "/install" { on = 1; next }
    on && /^endef/ { on = 0 }
    on && $1 ~ /^\$\(INSTALL_(BIN|CONF|DATA)\)$/ {
      mode = ($1 == "$(INSTALL_BIN)") ? 755 : ($1 == "$(INSTALL_CONF)") ? 600 : 644
      dst = $NF; gsub(/\$\(1\)/, "", dst); gsub(/\$\(PKG_NAME\)/, name, dst)
      for (i = 2; i < NF; i++) {
        src = $i; gsub(/\$\(PKG_NAME\)/, name, src); n = split(src, p, "/")
        print mode, (dst ~ /\/$/) ? dst p[n] : dst
      }
    }' "$REPO/feed/$1/Makefile" | sort -k2
}
# Depends of PKG from its Makefile (OpenWrt names, without +, @ conditions or arch macros).
declared_deps() {
  sed -n 's/^[[:space:]]*DEPENDS:=//p' "$REPO/feed/$1/Makefile" | tr ' ' '\n' | sed -n 's/^+//p'
}
ipk_of() { ls "$2/$1"_*_x86_64.ipk 2>/dev/null | tail -1; }
ipk_files() { tar -xzOf "$1" ./data.tar.gz | tar -tzvf - | awk '$1 !~ /^d/ { sub(/^\.?\//, "/", $NF); print $NF }' | sort; }

lab_start --net || finish
R=$(lroot)
mkdir -p "$L/lab/share/feed" && cp "$FEED"/* "$L/lab/share/feed/"
check "lab's /etc/opkg.conf has 'option check_signature'" grep -qx 'option check_signature' "$R/etc/opkg.conf"
# Base packages our Depends name must be known to opkg (on a router: installed or in its feeds).
missing=""
for p in $PKGS; do
  for d in $(declared_deps "$p"); do
    case " $PKGS " in *" $d "*) continue ;; esac
    lsh "opkg status $d | grep -q '^Status: .* installed'" || missing="$missing $d"
  done
done
if [ -z "$missing" ]; then pass "lab's opkg status lists every base package our Depends name"
else
  fail "lab's opkg status lacks base packages our Depends name:$missing" "added as placeholder status entries below so the rest can run"
  for d in $(echo $missing | tr ' ' '\n' | sort -u); do
    printf 'Package: %s\nVersion: 0-placeholder\nStatus: install user installed\nArchitecture: x86_64\n\n' "$d" >>"$R/usr/lib/opkg/status"
  done
fi

check "opkg-key add dist/keys/$FP: stored as /etc/opkg/keys/$FP" \
  bash -c "cp '$KEYFILE' '$L/lab/share/key.pub' && '$LAB_SH' sh '$L' 'opkg-key add /lab/share/key.pub' && [ -f '$R/etc/opkg/keys/$FP' ]"
lsh 'echo "src/gz v6only file:///lab/share/feed" >/etc/opkg/customfeeds.conf; : >/etc/opkg/distfeeds.conf'
lsh 'opkg update' >"$TMPD/update" 2>&1
check "opkg update of the signed feed: exit 0, no signature failure" \
  bash -c "grep -q 'Updated list of available packages in /var/opkg-lists/v6only' '$TMPD/update' && ! grep -qi 'signature check failed' '$TMPD/update' && [ -s '$R/var/opkg-lists/v6only.sig' ] || { cat '$TMPD/update'; false; }"
check "opkg list shows every package of the feed ($PKGS)" \
  bash -c "out=\$('$LAB_SH' sh '$L' 'opkg list'); for p in $PKGS; do echo \"\$out\" | grep -q \"^\$p - \" || { echo \"no \$p\"; exit 1; }; done"

# ---------------------------------------------------------------- install, files, remove
for p in $PKGS; do
  lsh "opkg install $p" >"$TMPD/install.$p" 2>&1
  check "opkg install $p: exit 0" bash -c "grep -q 'Configuring $p' '$TMPD/install.$p' || { cat '$TMPD/install.$p'; false; }"
  for d in $(declared_deps "$p"); do
    check "$p: declared dependency $d installed" lsh "opkg status $d | grep -q '^Status: .* installed'"
  done
  recipe "$p" >"$TMPD/recipe.$p"
  ipk_files "$(ipk_of "$p" "$FEED")" >"$TMPD/ipk.$p"
  check "$p: the .ipk's files are exactly those of the Makefile's install recipe" \
    diff <(awk '{print $2}' "$TMPD/recipe.$p") "$TMPD/ipk.$p"
  check "$p: installed where the recipe says, with its modes (BIN 755, CONF 600, DATA 644)" \
    bash -c "while read -r m f; do [ \"\$(stat -c %a '$R'\"\$f\")\" = \"\$m\" ] || { echo \"\$f: \$(stat -c %a '$R'\"\$f\" 2>&1), want \$m\"; exit 1; }; done <'$TMPD/recipe.$p'"
  check "$p: opkg files lists the same files" \
    diff <(lsh "opkg files $p" | grep '^/' | sort) <(awk '{print $2}' "$TMPD/recipe.$p")
done

# The first package's conffile is left as installed (removed with it), the others' edited (kept).
first=1
for p in $PKGS; do
  conf=$(grep -E '^600 ' "$TMPD/recipe.$p" | awk '{print $2}' | head -1)
  [ "$first" = 1 ] && { unchanged=$conf; conf=""; }
  first=0
  [ -n "$conf" ] && echo "# edited by the test" >>"$R$conf"
  lsh "opkg remove --force-depends $p" >"$TMPD/remove.$p" 2>&1
  check "opkg remove $p: exit 0, no longer installed" lsh "! opkg status $p | grep -q installed"
  left=$(while read -r m f; do [ "$f" != "$conf" ] && [ -e "$R$f" ] && echo "$f"; done <"$TMPD/recipe.$p")
  check "opkg remove $p: none of its files left${conf:+ but the changed conffile}${unchanged:+ (conffile $unchanged unchanged: removed)}" test -z "$left"
  unchanged=""
  if [ -n "$conf" ]; then check "opkg remove $p: the changed conffile $conf is kept" grep -q "edited by the test" "$R$conf"; fi
  check "opkg remove $p: no /usr/lib/opkg/info/$p.*, no /etc/rc.d link" \
    bash -c "! ls '$R/usr/lib/opkg/info/$p'.* 2>/dev/null | grep -q . && ! ls '$R/etc/rc.d/' | grep -qE '^[SK][0-9]+$p\$'"
  [ -n "$conf" ] && rm -f "$R$conf"
done
check "after removing everything: no v6only snippets, no fw.d drop-ins" \
  bash -c "! find '$R/usr/share/nftables.d' '$R/usr/share/v6only' -name '*v6only*' -o -path '*fw.d/*' 2>/dev/null | grep -q ."

# ---------------------------------------------------------------- upgrade keeps edited config
# A second feed: every package one release higher, indexed and signed with the same key.
mkdir -p "$TMPD/feed2"
if "$FEEDTOOL" --help 2>&1 | grep -q -- '--release'; then
  for p in $PKGS; do
    rel=$(sed -n 's/^PKG_RELEASE:=//p' "$REPO/feed/$p/Makefile")
    "$FEEDTOOL" ipk --makefile "$REPO/feed/$p/Makefile" --arch x86_64 --release $((rel + 1)) \
      --bin-dir "$REPO/target/xc/dist/x86_64-unknown-linux-musl" --out-dir "$TMPD/feed2" >/dev/null
  done
else # a copy of the feed with PKG_RELEASE raised
  cp -r "$REPO/feed" "$TMPD/src"
  for p in $PKGS; do
    sed -i 's/^PKG_RELEASE:=\(.*\)/echo "PKG_RELEASE:=$((\1 + 1))"/e' "$TMPD/src/$p/Makefile"
    "$FEEDTOOL" ipk --makefile "$TMPD/src/$p/Makefile" --arch x86_64 \
      --bin-dir "$REPO/target/xc/dist/x86_64-unknown-linux-musl" --out-dir "$TMPD/feed2" >/dev/null
  done
fi
"$FEEDTOOL" index "$TMPD/feed2" >/dev/null 2>&1 && "$FEEDTOOL" sign --secret "$KEY" "$TMPD/feed2/Packages" >/dev/null
check "second feed built: every package one release higher, signed" \
  bash -c "ls '$TMPD/feed2/Packages.sig' && [ \$(ls '$TMPD/feed2'/*.ipk | wc -l) = $(echo $PKGS | wc -w) ]"
mkdir -p "$L/lab/share/feed2" && cp "$TMPD/feed2"/* "$L/lab/share/feed2/"
for p in $PKGS; do
  lsh "opkg install $p" >/dev/null 2>&1
done
v1=$(lsh 'opkg list-installed' | sort)
for p in $PKGS; do
  echo "# $p: edited by the user, kept across upgrades" >>"$R/etc/config/$p"
done
lsh 'echo "src/gz v6only file:///lab/share/feed2" >/etc/opkg/customfeeds.conf && opkg update' >"$TMPD/update2" 2>&1
check "opkg update of the second feed" bash -c "! grep -qi 'signature check failed' '$TMPD/update2' && grep -q 'Updated list' '$TMPD/update2' || { cat '$TMPD/update2'; false; }"
lsh "opkg upgrade $PKGS" >"$TMPD/upgrade" 2>&1
v2=$(lsh 'opkg list-installed' | sort)
for p in $PKGS; do
  old=$(echo "$v1" | sed -n "s/^$p - //p") new=$(echo "$v2" | sed -n "s/^$p - //p")
  check "opkg upgrade $p: $old -> $new" bash -c "[ -n '$old' ] && [ -n '$new' ] && [ '$old' != '$new' ] || { cat '$TMPD/upgrade'; false; }"
  check "opkg upgrade $p: the user's edit of /etc/config/$p is kept" grep -q "^# $p: edited by the user" "$R/etc/config/$p"
done

# ---------------------------------------------------------------- wrong signatures
# A fresh lab per case: the feed signed by another key, and Packages changed after signing.
"$FEEDTOOL" keygen --secret "$TMPD/other.sec" --public "$TMPD/other.pub" --comment other >/dev/null
mkdir -p "$TMPD/otherkey" "$TMPD/tampered"
cp "$FEED"/* "$TMPD/otherkey/" && "$FEEDTOOL" sign --secret "$TMPD/other.sec" "$TMPD/otherkey/Packages" >/dev/null
cp "$FEED"/* "$TMPD/tampered/"
sed -i '0,/^Description: /s/^Description: /Description: (tampered) /' "$TMPD/tampered/Packages"
gzip -9nc "$TMPD/tampered/Packages" >"$TMPD/tampered/Packages.gz"
for bad in otherkey tampered; do
  lab_stop "$L"
  lab_start --net || finish
  R=$(lroot)
  mkdir -p "$L/lab/share/feed" && cp "$TMPD/$bad"/* "$L/lab/share/feed/"
  cp "$KEYFILE" "$L/lab/share/key.pub"
  lsh 'opkg-key add /lab/share/key.pub; echo "src/gz v6only file:///lab/share/feed" >/etc/opkg/customfeeds.conf; : >/etc/opkg/distfeeds.conf; opkg update' >"$TMPD/update.$bad" 2>&1
  check "$bad: opkg update says 'Signature check failed'" grep -q 'Signature check failed' "$TMPD/update.$bad"
  lsh "opkg install $PKGS" >"$TMPD/install.$bad" 2>&1
  check "$bad: opkg install fails, nothing installed" \
    bash -c "grep -q 'Unknown package' '$TMPD/install.$bad' && ! '$LAB_SH' sh '$L' 'opkg list-installed' | grep -qE '^($(echo $PKGS | tr ' ' '|')) ' && ! ls '$R/usr/sbin/' | grep -qE '^($(echo $PKGS | tr ' ' '|'))\$'"
done
finish
