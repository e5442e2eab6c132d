#!/bin/bash
# ripng.sh - the ripng package in the OpenWrt lab: installed with the real opkg (and apk),
# driven by the real procd, ubus, uci, validate_data and logd, routing with a BIRD neighbour.
#
#   - opkg install: shipped disabled, so nothing runs and no firewall drop-in is written;
#   - a bad option (one validate_data refuses, one only `ripng check` refuses): start refused,
#     the option named in logread, nothing running;
#   - a good config starts under procd (the instance in `ubus call service list`), runs as
#     user ripng with CAP_NET_ADMIN only, and has fw-helper's drop-in for UDP 521 on its device;
#   - BIRD 2 (`protocol rip ng`, ttl security on) in a network namespace of its own on the
#     other end of a veth: routes both ways (the lab's kernel table with proto 189, BIRD's
#     table), `ripng status` and `ripng routes` inside the lab name the route and neighbour;
#   - reload (uci commit + reload_config) in place: same pid, the learned route kept;
#     reload with a bad config: the daemon and its route kept, logread says why;
#   - a netifd interface ('option interface lan', through a netifd stand-in on ubus): resolved
#     to its device, and its coming up (interface trigger) brings the reload that starts RIPng;
#   - stop: the drop-in and our kernel routes gone; opkg remove; apk add in a second lab.
#
#   tests/openwrt/ripng.sh        (as root; DIST, V6ONLY_LAB and LAB_SH as in lib.sh)
set -u
. "$(dirname "$0")/lib.sh"
. "$REPO/tests/lib/bird.sh"
lab_ready_or_finish
setup_or_finish iproute2 bird2
for p in fw-helper ripng; do
  [ -f "$(ipk "$p")" ] || { fail "setup" "no $p package in $DIST/$ARCH (make -f Makefile.openwrt)"; finish; }
done
APK_DIR=$DIST/apk/$ARCH
[ -f "$APK_DIR/packages.adb" ] || { fail "setup" "no apk feed in $APK_DIR"; finish; }

# BIRD's namespace: the peer's end of the veth (rip1) and a LAN of its own (2001:db8:b::/64 on
# a veth pair, since the host may lack the dummy module).
PEER=v6only-ripng-peer-$$
netns_add "$PEER"
workdir W ripng-lab
chmod 755 "$W"
ip -n "$PEER" link add blan0 type veth peer name blan1
ip -n "$PEER" link set blan0 up
ip -n "$PEER" link set blan1 up
ip -n "$PEER" addr add 2001:db8:b::1/64 dev blan0

lab_start --net || finish
R=$(lroot)
for p in fw-helper ripng; do cp "$(ipk "$p")" "$L/lab/share/"; done
lexec reload_config
# The lab's end of the veth, with its own LAN prefix on it.
lnet ip link add rip0 type veth peer name rip1 netns "$PEER"
lnet ip link set rip0 up
ip -n "$PEER" link set rip1 up
lnet ip addr add 2001:db8:a::1/64 dev rip0

# --- helpers (ubus answers read with the lab's jsonfilter, run on the host), as procd.sh's
has() { grep -q -- "$2" <<<"$1" || { echo "$1"; return 1; }; }
svc_json() { lexec ubus call service list '{"name":"ripng"}'; }
inst() { svc_json | "$JF" -e "@['ripng'].instances.*.$1"; }
running() { [ "$(inst running)" = true ]; }
cmdline() { svc_json | "$JF" -e "@['ripng'].instances.*.command[*]" | paste -sd' '; }
gone() { [ -z "$(svc_json | "$JF" -e "@['ripng'].instances.*")" ] && ! lexec pidof ripng >/dev/null; }
same_pid() { [ -n "$1" ] && [ "$(inst pid)" = "$1" ] && running; }
new_pid() { local p; p=$(inst pid); [ -n "$p" ] && [ "$p" != "$1" ] && running; }
MARKS=0
mark() { MARKS=$((MARKS + 1)); lexec logger -t ripng-test "MARK-$MARKS"; }
since_mark() { lexec logread | sed -n "/ripng-test: MARK-$MARKS\$/,\$p"; }
logged() { since_mark | grep -q -- "$1" || { since_mark | tail -n 20; return 1; }; }
uci_commit() { lsh "{ $1; } >/dev/null && uci commit ripng && reload_config"; }
dropin() { cat "$R/var/run/v6only/fw.d/ripng" 2>/dev/null; }
no_dropin() { [ ! -e "$R/var/run/v6only/fw.d/ripng" ]; }
# lab_route PREFIX: our route in the lab's kernel (proto 189, shown as 'rip')
lab_route() { lnet ip -6 route show "$1" | grep -Eq "via fe80::[0-9a-f:]+ dev rip0 proto (rip|189) "; }
no_lab_route() { ! lnet ip -6 route show proto 189 | grep -q .; }
peer_route() { bird_route "$W/bird" "$1" "via fe80::.* on rip1"; }
# status_route PREFIX: `ripng status` has the route, learned over RIPng from a link-local hop
status_route() {
  local s
  s=$(lexec ripng status) || return 1
  [ "$("$JF" -s "$s" -e "@.routes[@.prefix='$1'].source")" = rip ] &&
    "$JF" -s "$s" -e "@.routes[@.prefix='$1'].next_hop" | grep -q '^fe80::' &&
    [ "$("$JF" -s "$s" -e "@.routes[@.prefix='$1'].interface")" = rip0 ]
}
neighbour() {
  local s
  s=$(lexec ripng status) || return 1
  "$JF" -s "$s" -e "@.neighbors[@.interface='rip0'].address" | grep -q '^fe80::'
}

# --- install: shipped disabled
out=$(lsh "opkg install /lab/share/fw-helper_*_$ARCH.ipk /lab/share/ripng_*_$ARCH.ipk" 2>&1)
lexec reload_config
check "opkg install fw-helper ripng" has "$out" "Configuring ripng"
check "postinst enabled it (/etc/rc.d/S70ripng)" test -L "$R/etc/rc.d/S70ripng"
check "user ripng (uid 2080) made by the postinst" grep -q '^ripng:[^:]*:2080:2080:' "$R/etc/passwd"
sleep 0.5
check "shipped with enabled '0': no instance, no process" gone
check "... and no firewall drop-in" no_dropin
check "shipped config passes ripng check once enabled" \
  lsh "sed 's/enabled .0./enabled 1/' /etc/config/ripng >/tmp/r && ripng -c /tmp/r check"

# --- a config for rip0 (the shipped 'lan' is netifd's, tested below); fast timers
cat >"$R/etc/config/ripng" <<'EOF'
config ripng 'main'
	option enabled '1'
	option update_interval '5'
	option timeout '15'
	option garbage '10'

config interface
	option device 'rip0'

config redistribute
	option source 'connected'
EOF

# firewall4 as a router runs it, rip0 in a zone that rejects input: only fw-helper's drop-in
# lets RIPng in.
sed "s/list device 'wan0'/list device 'rip0'/" "$R/usr/share/v6only-lab/firewall.minimal" \
  >"$R/etc/config/firewall"
check "firewall4 started, rip0 in the wan zone (input REJECT)" \
  eval 'lsh "/etc/init.d/firewall start" && lnet nft list chain inet fw4 input_wan'

# --- bad options: refused at start, named in logread, nothing running
mark
lsh "uci set ripng.main.update_interval=0 && uci commit ripng && /etc/init.d/ripng start" >/dev/null 2>&1
sleep 0.5
check "start with update_interval 0: nothing running" gone
check "... logread names it (validate_data)" logged "update_interval: '0' is not a valid range(1,3600)"
check "... and says 'not starting'" logged "not starting"
mark
lsh "uci set ripng.main.update_interval=5 && uci set ripng.@interface[0].interface=lan && uci commit ripng && /etc/init.d/ripng start" >/dev/null 2>&1
sleep 0.5
check "start with device and interface both set: nothing running" gone
check "... logread names ripng.@interface[0].interface (ripng check)" logged "ripng.@interface\[0\].interface: 'lan' is not a logical interface in a section without option device"
check "... and no drop-in" no_dropin
mark
lsh "uci delete ripng.@interface[0].interface && uci set ripng.main.kernel_table=255 && uci commit ripng && /etc/init.d/ripng start" >/dev/null 2>&1
sleep 0.5
check "start with kernel_table 255: nothing running" gone
check "... logread names ripng.main.kernel_table" logged "ripng.main.kernel_table: '255' is not a routing table other than local"
lsh "uci delete ripng.main.kernel_table && uci commit ripng"

# --- a good config: procd runs it
check "start: a running procd instance" eval 'lsh "/etc/init.d/ripng start" && wait_for 5 running'
cl=$(cmdline)
if [ "$cl" = "/usr/sbin/ripng run" ]; then pass "ubus service list: command '/usr/sbin/ripng run'"; else fail "command line" "'$cl'"; fi
check "ripng status answers inside the lab" wait_for 5 eval 'lexec ripng status | grep -q "\"routes\""'
check "fw-helper drop-in: UDP 521 on rip0" eval 'dropin | grep -q "config ripng" && dropin | grep -q "device .rip0."'
fw_rule() { lnet nft list ruleset | grep -q 'iifname "rip0" ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept'; }
check "fw-helper put it into fw4: UDP 521 from fe80::/10, hop limit 255, on rip0 (nft)" fw_rule
proc_line() { lexec cat "/proc/$(inst pid)/status" | awk -v f="$1:" '$1 == f {$1 = ""; sub(/^ /, ""); print}'; }
got="uid $(proc_line Uid), CapEff $(proc_line CapEff), CapPrm $(proc_line CapPrm), NoNewPrivs $(proc_line NoNewPrivs)"
want="uid 2080 2080 2080 2080, CapEff 0000000000001000, CapPrm 0000000000001000, NoNewPrivs 1"
if [ "$got" = "$want" ]; then pass "runs as user ripng with CAP_NET_ADMIN only ($got)"; else fail "user and capabilities" "got: $got; want: $want"; fi

# --- BIRD as the neighbour
check "BIRD up in its namespace" bird_rip_peer "$PEER" "$W/bird" 192.0.2.2 blan0 rip1
check "BIRD's 2001:db8:b::/64 in the lab's kernel (proto 189, via fe80:: on rip0)" wait_for 20 lab_route 2001:db8:b::/64
check "... in 'ripng status' (source rip, next hop fe80::, interface rip0)" wait_for 5 status_route 2001:db8:b::/64
check "... and 'ripng routes' shows it" eval 'lexec ripng routes | grep -E "^2001:db8:b::/64 +2 +rip +fe80::"'
check "'ripng status' names BIRD as a neighbour on rip0" neighbour
check "our 2001:db8:a::/64 in BIRD's table (via fe80:: on rip1)" wait_for 20 peer_route 2001:db8:a::/64

# --- reloads keep the learned route
pid=$(inst pid)
uci_commit "uci set ripng.@interface[0].cost=2"
check "reload (cost 2): the route's metric follows" wait_for 15 eval 'lexec ripng routes | grep -Eq "^2001:db8:b::/64 +3 +rip "'
check "... in place (pid $pid, SIGHUP)" same_pid "$pid"
check "... the route stayed in the kernel" lab_route 2001:db8:b::/64
mark
uci_commit "uci set ripng.main.max_paths=99"
check "reload with max_paths 99: logread names it" wait_for 10 logged "max_paths: '99' is not a valid range(1,16)"
check "... and says the running daemon is kept" logged "keeping the running daemon"
sleep 1
check "... still running (pid $pid) with BIRD's route" eval 'same_pid "$pid" && lab_route 2001:db8:b::/64 && status_route 2001:db8:b::/64'
uci_commit "uci set ripng.main.max_paths=1"
# Where the routes go in the kernel is no SIGHUP's business: procd restarts the daemon.
metric_is() { lnet ip -6 route show 2001:db8:b::/64 | grep -q " metric $1 "; }
mark
uci_commit "uci set ripng.main.kernel_metric=600"
check "kernel_metric 600 + reload_config -> restarted (new pid), BIRD's route at metric 600" \
  eval 'wait_for 10 new_pid "$pid" && wait_for 20 metric_is 600'
check "... logread says why" logged "kernel_metric changed: restarting"
pid=$(inst pid)
uci_commit "uci set ripng.@interface[0].cost=1"
check "then cost 1 + reload_config -> in place (pid $pid), metric still 600" \
  eval 'wait_for 15 eval "lexec ripng routes | grep -Eq \"^2001:db8:b::/64 +2 +rip \"" && same_pid "$pid" && metric_is 600'

# --- a netifd interface: 'option interface lan' on rip0, through a stand-in for netifd
# (none runs in the lab) that answers network.interface.lan status from a file and sends
# netifd's interface.update, so that procd fires the init script's interface trigger.
mkdir -p "$L/lab/share/netifd"
echo '{"up":false,"pending":true,"available":true,"autostart":true,"dynamic":false,"proto":"static","device":"rip0","data":{}}' \
  >"$L/lab/share/netifd/lan.json"
netifd_stand_in
check "netifd stand-in answers network.interface.lan status" wait_for 5 lsh 'ubus call network.interface.lan status'
pid=$(inst pid)
mark
uci_commit "uci delete ripng.@interface[0].device && uci set ripng.@interface[0].interface=lan"
lan_trigger() {
  lexec ubus call service list '{"name":"ripng","verbose":true}' | "$JF" -e "@['ripng'].triggers" | grep -q '"lan"'
}
check "reload with 'option interface lan' (down): procd has a trigger for lan now" wait_for 10 lan_trigger
check "... and the daemon kept running (pid $pid)" same_pid "$pid"
check "... lan down: no drop-in for it" no_dropin
check "... and BIRD's route goes (rip0 is no RIPng interface now)" wait_for 40 eval '! lab_route 2001:db8:b::/64'
echo '{"up":true,"pending":false,"available":true,"autostart":true,"dynamic":false,"uptime":1,"l3_device":"rip0","proto":"static","device":"rip0","ipv6-address":[{"address":"2001:db8:a::1","mask":64}],"data":{}}' \
  >"$L/lab/share/netifd/lan.json"
lsh "ubus call network.interface lab_notify '{\"interface\":\"lan\"}'" >/dev/null
check "lan comes up (interface trigger -> reload): the drop-in names rip0" wait_for 10 eval 'dropin | grep -q "device .rip0."'
check "... RIPng runs on lan's device: BIRD's route back (pid $pid)" wait_for 30 eval 'lab_route 2001:db8:b::/64 && same_pid "$pid"'
check "... 'ripng status' has it on rip0" wait_for 5 status_route 2001:db8:b::/64

# --- stop: routes and drop-in go
check "stop: no instance, no process" eval 'lsh "/etc/init.d/ripng stop" && wait_for 5 gone'
check "... our routes left the kernel (flush_on_exit)" wait_for 5 no_lab_route
check "... and the drop-in is gone, its rule out of fw4" eval 'no_dropin && ! fw_rule'
lsh "/etc/init.d/netifd-lab stop" >/dev/null 2>&1

# --- enabled=0 + reload: not started; enabled=1 + reload: running
lsh "uci delete ripng.@interface[0].interface && uci set ripng.@interface[0].device=rip0 && uci commit ripng"
check "start again: running" eval 'lsh "/etc/init.d/ripng start" && wait_for 5 running'
uci_commit "uci set ripng.main.enabled=0"
check "enabled=0 + reload_config -> stopped, no drop-in" wait_for 10 eval 'gone && no_dropin'
uci_commit "uci set ripng.main.enabled=1"
check "enabled=1 + reload_config -> running" wait_for 10 running
check "... BIRD's route back in the kernel" wait_for 30 lab_route 2001:db8:b::/64

lsh "opkg remove ripng" >/dev/null 2>&1
check "opkg remove (prerm): stopped, no links, binary gone, routes flushed" \
  eval 'wait_for 5 gone && ! ls "$R"/etc/rc.d/*ripng >/dev/null 2>&1 && [ ! -e "$R/usr/sbin/ripng" ] && wait_for 5 no_lab_route'
lab_stop "$L"

# --- apk (OpenWrt 25.12) in a second lab: the feed's key and index, then the same service
lab_start --net || finish
R=$(lroot)
cp -r "$APK_DIR" "$L/lab/share/apk"
cp "$DIST/keys/apk/v6only.pem" "$R/etc/apk/keys/v6only.pem"
lsh 'echo "file:///lab/share/apk/packages.adb" >/etc/apk/repositories.d/customfeeds.list'
lsh '[ -f /lib/apk/db/installed ]' || lexec apk add --initdb >/dev/null 2>&1
check "apk update reads the signed index" eval \
  'lexec apk update >"$W/apk-update" 2>&1 && ! grep -q UNTRUSTED "$W/apk-update" || { cat "$W/apk-update"; false; }'
check "apk add ripng (fw-helper with it)" eval 'lexec apk add ripng >"$W/apk.log" 2>&1 || { cat "$W/apk.log"; false; }'
check "... fw-helper and the user came along" eval 'lexec apk info -e fw-helper && grep -q "^ripng:[^:]*:2080:" "$R/etc/passwd"'
lnet ip link add rip0 type veth peer name rip1 netns "$PEER"
lnet ip link set rip0 up
ip -n "$PEER" link set rip1 up
lnet ip addr add 2001:db8:a::1/64 dev rip0
sed -i -e "s/option enabled '0'/option enabled '1'/" -e "s/option interface 'lan'/option device 'rip0'/" \
  -e "s/option update_interval '30'/option update_interval '5'/" -e "s/option timeout '180'/option timeout '15'/" \
  -e "s/option garbage '120'/option garbage '10'/" "$R/etc/config/ripng"
check "the shipped config with enabled '1' and device rip0: start -> running" \
  eval 'lsh "/etc/init.d/ripng start" && wait_for 5 running'
check "... BIRD's route in this lab's kernel" wait_for 30 lab_route 2001:db8:b::/64
lexec apk del ripng >/dev/null 2>&1
check "apk del: stopped, routes flushed" eval 'wait_for 5 gone && wait_for 5 no_lab_route'

finish
