#!/usr/bin/env bash
# selftest.sh - shows that each part of the lab works: ubus and procd, uci, validate_data,
# logd/logread, jsonfilter and jshn, a procd service (start, respawn, reload trigger,
# validation, stop), the opkg and apk databases of the base packages, the host-side tools,
# and fw4 with a snippet in a lab with its own network. Builds the lab first (seconds when
# built). One line per check, then "N passed, N failed". As root; about 5-10 s.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"

setup_or_finish iproute2 nftables # the host's ip and nft, in the --net lab's namespace
"$HERE/build.sh" >&2 || { fail "build.sh"; finish; }
lab_ready_or_finish

# ------------------------------------------------------------------ a plain lab
lab_start || finish
L1=$L
pass "lab start: $L1"
check "ubus: procd's service and system objects" lsh 'ubus list service && ubus list system'
check "ubus call service list answers" lsh 'ubus call service list >/dev/null'
check "lab-init is PID 1, procd a service manager beside it" \
	lsh 'grep -q lab-init /proc/1/cmdline && p=$(pidof procd) && [ "$p" -gt 1 ]'
check "/bin/sh is busybox 1.36.1 ash, with OpenWrt's lock applet and IPv6" \
	lsh 'sh --help 2>&1 | grep -q "^BusyBox v1.36.1" && type lock && ping -6 -c1 -W2 ::1'
check "hostname and release are OpenWrt 24.10.4's" \
	lsh '[ "$(cat /proc/sys/kernel/hostname)" = OpenWrt ] && . /etc/openwrt_release && [ "$DISTRIB_RELEASE" = 24.10.4 ]'

# ------------------------------------------------------------------ uci, validate_data, json
check "uci: set, commit, get, show" lsh '
	touch /etc/config/demo && uci set demo.main=demo && uci set demo.main.port=5353 &&
	uci add_list demo.main.upstream=192.0.2.1 && uci commit demo &&
	[ "$(uci get demo.main.port)" = 5353 ] && uci show demo | grep -qx "demo.main.upstream=.192.0.2.1."'
check "uci: a missing option is an error" lsh '! uci -q get demo.main.nothing'
check "validate_data: datatypes of ubox (port, ip6addr, cidr6, device = a /dev path)" lsh '
	validate_data port 53 && ! validate_data port 70000 &&
	validate_data ip6addr 64:ff9b::1 && ! validate_data ip6addr 192.0.2.1 &&
	validate_data cidr6 64:ff9b::/96 && validate_data device /dev/null && ! validate_data device lo'
check "validate_data: a UCI section against rules, defaults exported" lsh '
	out=$(validate_data demo demo main port:port:53 enabled:bool:1) &&
	echo "$out" | grep -q "port=5353" && echo "$out" | grep -q "enabled=1" &&
	uci set demo.main.port=x && ! validate_data demo demo main port:port 2>/dev/null'
check "jsonfilter and jshn" lsh '
	[ "$(echo "{\"a\":[1,{\"b\":\"x\"}]}" | jsonfilter -e "@.a[1].b")" = x ] &&
	. /usr/share/libubox/jshn.sh && json_init && json_add_string k v && [ "$(json_dump)" = "{ \"k\": \"v\" }" ]'

# ------------------------------------------------------------------ logd
lsh 'logger -t selftest hello-from-the-lab'
check "a logger line reaches logread" wait_for 5 lsh 'logread -e selftest | grep -q hello-from-the-lab'

# ------------------------------------------------------------------ a procd service
cat >"$L1/lab/share/demo.init" <<'EOF'
#!/bin/sh /etc/rc.common
START=95
USE_PROCD=1

validate_demo() {
	uci_load_validate demo demo "$1" "$2" 'port:port:53' 'interval:uinteger:600'
}

demo_instance() {
	[ "$2" = 0 ] || { echo "demo: invalid configuration" >&2; return 1; }
	procd_open_instance
	procd_set_param command /bin/sleep "$interval"
	procd_set_param respawn 3600 0 5
	procd_set_param stdout 1
	procd_close_instance
}

start_service() {
	config_load demo
	config_foreach validate_demo demo demo_instance
}

service_triggers() {
	procd_add_reload_trigger demo
	procd_add_validation validate_demo
}
EOF
lsh 'uci set demo.main.port=5353; uci commit demo; cp /lab/share/demo.init /etc/init.d/demo; chmod 755 /etc/init.d/demo'
svc() { lsh "ubus call service list '{\"name\":\"demo\"}' | jsonfilter -e '@.demo.instances.instance1.$1'"; }
check "init script start: procd runs the instance" lsh '/etc/init.d/demo start'
check "ubus service list: running, command line /bin/sleep 600" \
	eval '[ "$(svc running)" = true ] && [ "$(svc 'command[*]' | tr "\n" " ")" = "/bin/sleep 600 " ]'
pid1=$(svc pid)
lsh "kill -9 $pid1"
respawned() { p=$(svc pid) && [ -n "$p" ] && [ "$p" != "$pid1" ] && [ "$(svc running)" = true ]; }
check "kill -9 of the daemon: procd respawns it" wait_for 10 respawned
lsh 'reload_config >/dev/null; uci set demo.main.interval=700; uci commit demo; reload_config'
check "uci commit + reload_config: the reload trigger restarts it with the new value" \
	wait_for 10 eval '[ "$(svc "command[1]")" = 700 ]'
check "a bad value: start refused, nothing running" eval '
	lsh "uci set demo.main.port=99999; uci commit demo; /etc/init.d/demo restart" 2>&1 | grep -q "invalid configuration" &&
	[ -z "$(svc running)" ]'
check "stop: no instance left" \
	lsh 'uci set demo.main.port=53; uci commit demo; /etc/init.d/demo start; /etc/init.d/demo stop;
		[ -z "$(ubus call service list "{\"name\":\"demo\"}" | jsonfilter -e "@.demo.instances")" ]'
check "enable: /etc/rc.d/S95demo" lsh '/etc/init.d/demo enable && [ -L /etc/rc.d/S95demo ]'

# ------------------------------------------------------------------ package databases
check "opkg: base packages installed (libc kmod-tun nftables-json firewall4), arch x86_64" lsh '
	opkg list-installed >/tmp/inst && for p in libc kmod-tun nftables-json firewall4 procd; do
		grep -q "^$p - " /tmp/inst || exit 1; done && opkg print-architecture | grep -q "arch x86_64 "'
check "apk: base packages installed, provides resolve (nftables, uci-firewall)" lsh '
	apk info -e libc kmod-tun nftables-json firewall4 >/dev/null &&
	apk add --no-network --virtual .selftest libc kmod-tun nftables uci-firewall libubox >/dev/null &&
	apk del .selftest >/dev/null && apk info -e libc >/dev/null'

# a tiny package for each manager, depending on base packages (one through a provides),
# with a post-install script: installed from a local file, then removed
P=$L1/lab/share/pkg
mkdir -p "$P/data/usr/share/demo" "$P/control"
echo hello >"$P/data/usr/share/demo/file"
printf '#!/bin/sh\necho "$0" >/tmp/demo.postinst\n' >"$P/postinst"
printf '%s\n' 'Package: demo' 'Version: 1.0-r1' 'Depends: libc, kmod-tun, nftables' \
	'Architecture: x86_64' 'Description: lab selftest' >"$P/control/control"
install -m755 "$P/postinst" "$P/control/postinst"
echo 2.0 >"$P/debian-binary"
tar -C "$P/control" -czf "$P/control.tar.gz" ./control ./postinst &&
	tar -C "$P/data" -czf "$P/data.tar.gz" . &&
	tar -C "$P" -czf "$L1/lab/share/demo_1.0-r1_x86_64.ipk" ./debian-binary ./data.tar.gz ./control.tar.gz
"$HOSTBIN/apk" mkpkg --info name:demo --info version:1.0-r1 --info arch:x86_64 --info description:selftest \
	--info 'depends:libc kmod-tun nftables' --script "post-install:$P/postinst" --files "$P/data" \
	--output "$L1/lab/share/demo-1.0-r1.apk" >/dev/null
check "opkg install of a local .ipk: Depends resolved by the base packages, postinst run; remove" lsh '
	opkg install /lab/share/demo_1.0-r1_x86_64.ipk >/dev/null && [ -f /usr/share/demo/file ] &&
	[ -s /tmp/demo.postinst ] && opkg remove demo >/dev/null && [ ! -e /usr/share/demo/file ] && rm /tmp/demo.postinst'
check "apk add of a local .apk (apk mkpkg): same, and apk del" lsh '
	apk add --allow-untrusted /lab/share/demo-1.0-r1.apk >/dev/null && [ -f /usr/share/demo/file ] &&
	[ -s /tmp/demo.postinst ] && apk del demo >/dev/null && [ ! -e /usr/share/demo/file ]'

# ------------------------------------------------------------------ host-side tools
H=$(mktemp -d)
check "hostbin: uci -c, jsonfilter, validate_data, ucode, jshn run on the host" bash -c "
	cd $H && printf 'config t s\n\toption o v\n' >cfg && [ \"\$($HOSTBIN/uci -c $H get cfg.s.o)\" = v ] &&
	[ \"\$(echo '{\"a\":1}' | $HOSTBIN/jsonfilter -e @.a)\" = 1 ] &&
	$HOSTBIN/validate_data ip6addr ::1 && [ \"\$($HOSTBIN/ucode -e 'print(1+1)')\" = 2 ] &&
	$HOSTBIN/jshn -r '{\"x\":1}' | grep -q x"
check "hostbin: usign signs and verifies, apk and opkg run" bash -c "
	cd $H && $HOSTBIN/usign -G -s k -p k.pub && echo data >f && $HOSTBIN/usign -S -m f -s k &&
	$HOSTBIN/usign -V -m f -p k.pub -q && $HOSTBIN/apk --version | grep -q '^apk-tools 3.0.2' &&
	$HOSTBIN/opkg --help 2>&1 | grep -qi usage"
rm -rf "$H"

# ------------------------------------------------------------------ fw4 in its own network
BD=$(mktemp -d)
echo from-the-host >"$BD/note"
lab_start --net --bind "$BD:/mnt/host:ro" || finish
check "--bind HOST:GUEST:ro: readable, not writable" \
	lsh '[ "$(cat /mnt/host/note)" = from-the-host ] && ! touch /mnt/host/x 2>/dev/null'
check "/dev/net/tun is there (nat64)" lsh '[ -c /dev/net/tun ]'
check "two labs at once, separate (a file of lab 1 is not in lab 2)" \
	eval '[ -e "$L1/ns/upper/etc/init.d/demo" ] && lsh "[ ! -e /etc/init.d/demo ]"'
check "--net: only lo" lsh '[ "$(ls /sys/class/net)" = lo ]'
host_tables=$(nft list tables 2>/dev/null)
lnet ip link add lan0 type veth peer name wan0
lsh 'cp /usr/share/v6only-lab/firewall.minimal /etc/config/firewall &&
	mkdir -p /usr/share/nftables.d/chain-pre/forward &&
	echo "meta l4proto udp udp dport 4242 counter accept comment \"selftest-snippet\"" \
		>/usr/share/nftables.d/chain-pre/forward/50-selftest.nft'
check "fw4 check accepts the minimal config and the snippet" lsh 'fw4 check'
check "/etc/init.d/firewall start, fw4 reload: table inet fw4 with the snippet and the zones' devices" lsh '
	/etc/init.d/firewall start && fw4 reload && nft list chain inet fw4 forward | grep -q selftest-snippet &&
	nft list ruleset | grep -q "iifname \"lan0\""'
check "fw4 check fails on a broken snippet" lsh '
	echo "this is not nft" >/usr/share/nftables.d/chain-pre/forward/60-bad.nft; ! fw4 check >/dev/null 2>&1'
check "the host's nftables tables are untouched" eval '[ "$(nft list tables 2>/dev/null)" = "$host_tables" ]'

# ------------------------------------------------------------------ the web UI (--luci)
lab_start --luci || finish
L3=$L
# login RPC LOGIN PASSWORD: rpcd's session.login over uhttpd's /ubus, as luci.js calls it
rpc_login() {
	lnet curl -s -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"call\",\"params\":[\"00000000000000000000000000000000\",\"session\",\"login\",{\"username\":\"root\",\"password\":\"$1\"}]}" \
		http://127.0.0.1/ubus
}
check "--luci: rpcd and uhttpd run under procd" lsh 'ubus call service list | grep -q "\"rpcd\"" && ubus call service list | grep -q "\"uhttpd\""'
check "--luci: LuCI answers /cgi-bin/luci/ with its login page (403)" \
	eval '[ "$(lnet curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1/cgi-bin/luci/)" = 403 ]'
check "--luci: session login as root with 'v6only' (rpcd checks /etc/shadow), a wrong password refused" \
	eval 'rpc_login v6only | grep -q ubus_rpc_session && rpc_login wrong | grep -q "\"result\":\[6\]"'
lab_stop "$L3"

# ------------------------------------------------------------------ stop
init_pid=$(cat "$L1/pid")
lab_stop "$L1"
check "stop: the lab's directory is gone, its PID 1 too" eval '[ ! -e "$L1" ] && [ ! -d "/proc/$init_pid" ]'
rm -rf "$BD"
finish
