#!/bin/bash
# luci.sh - luci-app-v6only in a real browser: the bundle installed from the signed feed by the
# real opkg into a lab that runs uhttpd, rpcd and LuCI 24.10 (lab.sh start --luci), with real
# traffic through it (a dhcpcd client that goes IPv6-only on option 108, dig through dns64, a
# ping through nat64, ripng on the LAN), then headless Chromium (tests/openwrt/luci/ui.py):
# login, each page's figures against the daemons' `status` at that moment, the mesh graph
# against mesh-monitor's topology export, a setting changed with Save & Apply (the UCI file and
# the daemon's reload checked), an invalid value refused; a stopped daemon breaks no page and a
# removed one's pages go. Also: the forms' datatypes against the init scripts
# (luci/datatypes.py) and the noarch .apk installed into a root of another architecture.
#
#   tests/openwrt/luci.sh      (as root; DIST, V6ONLY_LAB and LAB_SH as in lib.sh)
#
# Screenshots of every page: $LOGDIR/luci/ (default target/test-logs/luci/).
set -u
. "$(dirname "$0")/lib.sh"
lab_ready_or_finish
setup_or_finish iproute2 iputils-ping bind9-dnsutils dnsmasq-base dhcpcd-base curl chromium fonts-dejavu-core python3

daemons_ready_or_finish
[ -f "$(ls "$DIST/$ARCH"/luci-app-v6only_*_all.ipk 2>/dev/null)" ] ||
  { fail "setup" "no luci-app-v6only package in $DIST/$ARCH (make -f Makefile.openwrt)"; finish; }
[ -x "$V6ONLY_LAB/root/usr/sbin/uhttpd" ] || { fail "setup" "the lab has no web UI: rebuild it (tests/openwrt/lab/build.sh)"; finish; }
OUT=${LOGDIR:-$REPO/target/test-logs}/luci
mkdir -p "$OUT"
rm -f "$OUT"/luci-*.png

T=$(mktemp -d /tmp/v6only-luci.XXXXXX)
C=v6o-lc-$$ # IPv6-only client (nat64, dns64), on br-lan
S=v6o-ls-$$ # IPv4-only server, behind wan4
D=v6o-ld-$$ # DHCP client that goes IPv6-only, on br-lan
DNSMASQ="" DHCPCD="" HELD=""
cleanup() {
  [ -n "$HELD" ] && kill $HELD 2>/dev/null
  [ -n "$DHCPCD" ] && { ip netns exec "$D" dhcpcd -4 -x d0 >/dev/null 2>&1; kill "$DHCPCD" 2>/dev/null; }
  [ -n "$DNSMASQ" ] && kill "$DNSMASQ" 2>/dev/null
  wait 2>/dev/null
  labs_cleanup
  for n in "$C" "$S" "$D"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
START=$SECONDS

lab_start --luci --bind /dev/net/tun:/dev/net/tun || finish
R=$(lroot)
check "uhttpd answers: LuCI's login page (403)" \
  eval '[ "$(lnet curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1/cgi-bin/luci/)" = 403 ]'
# nat64 depends on kmod-tun: the lab's kernel is the host's, whose TUN is bound in above.
printf 'Package: kmod-tun\nVersion: 6.6.110-1\nStatus: install user installed\nArchitecture: %s\n\n' \
  "$ARCH" >>"$R/usr/lib/opkg/status"
lexec reload_config

# --- the network as in network.sh: br-lan (two veth ports), wan4, netifd's stand-in, fw4
lan_wan_links "$C" "$S" "$D" || { fail "setup" "the lab's links"; finish; }
mkdir -p "$L/lab/share/netifd"
echo '{"up":true,"device":"br-lan","l3_device":"br-lan","ipv4-address":[{"address":"10.108.0.1","mask":24}],"ipv6-address":[{"address":"2001:db8:1::1","mask":64}]}' \
  >"$L/lab/share/netifd/lan.json"
netifd_stand_in
lan_wan_firewall
lsh "/etc/init.d/firewall start" >/dev/null 2>&1

# --- the bundle from the signed feed, as a router owner installs it
mkdir -p "$L/lab/share/feed" && cp "$DIST/$ARCH"/* "$L/lab/share/feed/"
cp "$(find "$DIST/keys" -maxdepth 1 -type f | head -n 1)" "$L/lab/share/key.pub"
lsh 'opkg-key add /lab/share/key.pub && echo "src/gz v6only file:///lab/share/feed" >/etc/opkg/customfeeds.conf && opkg update' \
  >"$T/update" 2>&1
check "opkg update of the signed feed" grep -q 'Updated list of available packages in /var/opkg-lists/v6only' "$T/update"
printf "config dhcp 'lan'\n\toption interface 'lan'\n\toption start '100'\n\toption limit '50'\n\toption leasetime '2m'\n\toption ipv6_only_preferred '1800'\n" \
  >"$R/etc/config/dhcp"
lsh "opkg install luci-app-v6only fw-helper dns64 nat64 option108-dhcpd ripng mesh-monitor" >"$T/install" 2>&1
check "opkg install luci-app-v6only (Architecture: all) and the daemons from the feed" \
  eval 'grep -q "Configuring luci-app-v6only" "$T/install" && [ "$(lsh "opkg status luci-app-v6only" | sed -n "s/^Architecture: //p")" = all ] || { cat "$T/install"; false; }'
check "its postinst ran 40_luci-app-v6only: rpcd reloaded, luci.v6only on ubus, the script gone" \
  eval 'wait_for 5 lexec ubus -S list luci.v6only && [ ! -e "$R/etc/uci-defaults/40_luci-app-v6only" ]'
lexec reload_config

# --- the daemons configured as a v6only router: dnsmasq behind dns64, the NAT64 prefix,
# option 108 on the LAN pool, ripng on br-lan, mesh-monitor exporting its topology
"$LAB_SH" net "$L" dnsmasq -k -C /dev/null --port=5353 --no-resolv --no-hosts --pid-file= \
  --local=/test/ --host-record=v4only.test,198.51.100.10 --log-facility=- 2>>"$T/dnsmasq.log" &
DNSMASQ=$!
TOPOLOGY_FILE=/tmp/mesh-topology.json
lsh "uci add_list dns64.main.upstream='127.0.0.1#5353' && uci set dns64.main.prefix=2001:db8:64::/96 &&
  uci set nat64.main.prefix=2001:db8:64::/96 && uci set nat64.main.max_sessions_per_host=0 &&
  uci set option108-dhcpd.main.enabled=1 &&
  uci set ripng.main.enabled=1 && uci delete ripng.@interface[0].interface && uci set ripng.@interface[0].device=br-lan &&
  uci set mesh-monitor.main.interval=3600 && uci set mesh-monitor.main.topology_file=$TOPOLOGY_FILE &&
  uci commit && reload_config" >/dev/null 2>&1
for d in dns64 nat64 option108-dhcpd ripng mesh-monitor; do
  lsh "/etc/init.d/$d enable; /etc/init.d/$d restart" >/dev/null 2>&1
done
up() { lexec "$1" status >/dev/null 2>&1; }
for d in dns64 nat64 option108-dhcpd ripng mesh-monitor; do check "$d: running, status answers" wait_for 10 up "$d"; done

# --- real traffic
out=$(ip netns exec "$C" dig +short +time=2 +tries=2 @2001:db8:1::1 v4only.test AAAA 2>&1)
check "dig AAAA through dns64: synthesized ($out)" test "$out" = 2001:db8:64::c633:640a
ip netns exec "$C" dig +short +time=2 +tries=1 @2001:db8:1::1 v4only.test AAAA >/dev/null 2>&1 # a cache hit
out=$(ip netns exec "$C" ping -6 -c 3 -i 0.2 -W 2 2001:db8:64::192.0.2.2 2>&1)
check "ping through nat64 to 2001:db8:64::192.0.2.2 (the IPv4-only server)" grep -q ' 0% packet loss' <<<"$out"
# Flows held through the browser's checks, for the NAT64 page's sessions table: a TCP
# connection to the IPv4 server, left open and idle, and a UDP datagram (its session 300 s).
ip netns exec "$S" python3 -c "import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8000)); s.listen(1)
c = s.accept()[0]; time.sleep(900)" &
HELD="$!"
sleep 0.3
ip netns exec "$C" python3 -c "import socket, time
s = socket.create_connection(('2001:db8:64::192.0.2.2', 8000), timeout=5); print('connected', flush=True)
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'x', ('2001:db8:64::192.0.2.2', 9))
time.sleep(900)" >"$T/held" 2>&1 &
HELD="$HELD $!"
check "a TCP connection through nat64 held open, and a UDP datagram, for the sessions table" \
  wait_for 5 grep -q connected "$T/held"
printf 'option ipv6_only_preferred\nnoipv4ll\n' >"$T/dhcpcd.conf"
# Hooks: none (true). dhcpcd's own would rewrite the host's /etc/resolv.conf.
ip netns exec "$D" dhcpcd -4 -B -f "$T/dhcpcd.conf" -c /bin/true -j "$T/dhcpcd.log" d0 >/dev/null 2>&1 &
DHCPCD=$!
check "dhcpcd (option ipv6_only_preferred) goes IPv6-only: 'IPv6-Only Preferred received (1800 seconds)'" \
  wait_for 15 grep -qs "IPv6-Only Preferred received (1800 seconds)" "$T/dhcpcd.log"
# (stopped: its DISCOVERs would go on counting while the pages are compared with status)
ip netns exec "$D" dhcpcd -4 -x d0 >/dev/null 2>&1
kill "$DHCPCD" 2>/dev/null
wait "$DHCPCD" 2>/dev/null
DHCPCD=""
v6only_clients() { [ "$(lexec option108-dhcpd status | "$JF" -e '@.pools[0].ipv6_only_clients')" = 1 ]; }
check "option108-dhcpd status: 1 IPv6-only client" wait_for 5 v6only_clients
has_routes() { [ -n "$(lexec ripng status | "$JF" -e '@.routes[0].prefix')" ]; }
check "ripng status: routes (the LAN's connected prefix)" wait_for 10 has_routes

# mesh-monitor (no wireless here) wrote its export once at start, empty; the one the page must
# draw is a 3-node mesh in that same format: our interface, a peer, a node behind it, a proxy.
check "mesh-monitor wrote its topology export ($TOPOLOGY_FILE)" wait_for 5 test -s "$R$TOPOLOGY_FILE"
cat >"$R$TOPOLOGY_FILE" <<'EOF'
{"nodes":[{"id":"02:00:00:00:00:00","kind":"own","iface":"mesh0"},{"id":"02:00:00:00:01:00","kind":"peer","iface":"mesh0"},{"id":"02:00:00:00:02:00","kind":"mesh","iface":"mesh0"},{"id":"02:aa:00:00:00:01","kind":"proxied","iface":"mesh0"}],"edges":[{"from":"02:00:00:00:00:00","to":"02:00:00:00:01:00","kind":"link","iface":"mesh0","metric":171,"plink_state":"ESTAB"},{"from":"02:00:00:00:02:00","to":"02:00:00:00:01:00","kind":"path","iface":"mesh0","metric":342},{"from":"02:aa:00:00:00:01","to":"02:00:00:00:02:00","kind":"proxy","iface":"mesh0"}]}
EOF

# counted FILE: the PASS/FAIL lines of a helper's output counted as this test's checks
counted() {
  local line n
  while IFS= read -r line; do
    case $line in
    PASS\ *) pass "${line#PASS }" ;;
    FAIL\ *) n=${line#FAIL }; fail "${n%%: *}" "${n#*: }" ;;
    *) echo "    $line" ;;
    esac
  done <"$1"
}

# --- the forms validate as the init scripts (a static check of the package's views)
python3 "$REPO/tests/openwrt/luci/datatypes.py" "$REPO/feed" >"$T/datatypes.out" 2>&1
counted "$T/datatypes.out"

# --- the browser: every page, a setting applied, an invalid one refused, a daemon stopped,
# one removed
LAB_SH=$LAB_SH L=$L OUT=$OUT PASSWORD=v6only TOPOLOGY_FILE=$TOPOLOGY_FILE \
  python3 "$REPO/tests/openwrt/luci/ui.py" >"$T/ui.out" 2>&1
counted "$T/ui.out"
for p in overview nat64 ripng mesh settings-dns64 settings-dns64-invalid settings-nat64 settings-dhcp \
  settings-ripng settings-mesh overview-nat64-stopped; do
  [ -s "$OUT/luci-$p.png" ] || fail "screenshot luci-$p.png" "missing in $OUT"
done

# --- the apk (OpenWrt 25.12): noarch, so it installs on a router of another architecture
APKFEED=$DIST/apk/$ARCH/packages.adb
if [ -f "$APKFEED" ]; then
  AR=$T/apk-root
  ap() { "$HOSTBIN/apk" --root "$AR" --arch mips_24kc --no-cache "$@"; }
  mkdir -p "$AR/etc/apk/keys" && cp "$DIST/keys/apk/v6only.pem" "$AR/etc/apk/keys/"
  ap --initdb add >/dev/null 2>&1
  for d in libc luci-base rpcd-mod-ucode; do ap add --virtual "$d" >/dev/null 2>&1; done
  check "apk add luci-app-v6only (noarch) from the signed index into a mips_24kc root" \
    ap --repository "$APKFEED" add --no-scripts luci-app-v6only
  check "... its files installed (the rpcd plugin, the views)" \
    test -f "$AR/usr/share/rpcd/ucode/v6only.uc" -a -f "$AR/www/luci-static/resources/view/v6only/overview.js"
else
  fail "apk feed" "no $APKFEED (make -f Makefile.openwrt)"
fi
echo "luci.sh: $((SECONDS - START)) s; screenshots in $OUT"
finish
