#!/bin/bash
# fw-helper's snippets under the real firewall4 (ucode + fw4 + nft) in a --net lab: fw-helper
# installed from dist/x86_64/ with opkg, started by procd, its rules loaded by `fw4 reload`
# and tested with real packets; zones that are empty or missing, zone changes after apply,
# and removal (no trace in `nft list ruleset` or /usr/share/nftables.d).
#
# Topology (namespaces created here; the lab's netns is the router):
#   NL (LAN host) eth0 -- veth-lan [lab] veth-wan -- eth0 NW (WAN host, 192.0.2.3)
#                                   [lab] fwstun  -- eth0 NP (stands for the NAT64 TUN side:
#                                                   pool4 192.168.255.1, 64:ff9b::1)
# Zones: lan = veth-lan (+ veth-lan2 for a while), wan = veth-wan, guest (by network: no device
# until a netifd stand-in brings it up on veth-lan2). Policies drop everything; what passes is
# what fw-helper's rules accept.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_ready_or_finish
setup_or_finish nftables iproute2 python3
IPK=$(ls "$DIST"/x86_64/fw-helper_*_x86_64.ipk 2>/dev/null | tail -1)
[ -n "$IPK" ] || { fail "setup" "no $DIST/x86_64/fw-helper_*.ipk: run make -f Makefile.openwrt"; finish; }

NL="fw4t-l-$$" NW="fw4t-w-$$" NP="fw4t-p-$$"
TMPD=$(mktemp -d /tmp/fw4-test.XXXXXX)
cleanup() {
  labs_cleanup
  for n in "$NL" "$NW" "$NP"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$TMPD"
}
trap cleanup EXIT

lab_start --net || finish
for n in "$NL" "$NW" "$NP"; do ip netns add "$n" && ip -n "$n" link set lo up; done
lnet ip link add veth-lan type veth peer name eth0 netns "$NL"
lnet ip link add veth-lan2 type veth peer name eth1 netns "$NL"
lnet ip link add veth-wan type veth peer name eth0 netns "$NW"
lnet ip link add fwstun type veth peer name eth0 netns "$NP"
lnet sh -c 'for d in lo veth-lan veth-lan2 veth-wan fwstun; do ip link set $d up; done
  sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip -6 addr add fe80::1/64 dev veth-lan nodad; ip -6 addr add 2001:db8:1::1/64 dev veth-lan nodad
  ip addr add 192.168.1.1/24 dev veth-lan
  ip -6 addr add 2001:db8:2::1/64 dev veth-wan nodad; ip addr add 192.0.2.1/24 dev veth-wan
  ip addr add 10.99.0.1/24 dev fwstun; ip -6 addr add fd99::1/64 dev fwstun nodad
  ip route add 192.168.255.0/24 via 10.99.0.2; ip -6 route add 64:ff9b::/96 via fd99::2'
ip -n "$NL" link set eth0 up
ip -n "$NL" link set eth1 up
ip -n "$NL" -6 addr add fe80::2/64 dev eth0 nodad
ip -n "$NL" -6 addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$NL" addr add 192.168.1.2/24 dev eth0
ip -n "$NL" -6 route add default via 2001:db8:1::1
ip -n "$NL" -6 addr add 2001:db8:3::2/64 dev eth1 nodad
lnet ip -6 addr add 2001:db8:3::1/64 dev veth-lan2 nodad
ip -n "$NW" link set eth0 up
ip -n "$NW" -6 addr add 2001:db8:2::3/64 dev eth0 nodad
ip -n "$NW" addr add 192.0.2.3/24 dev eth0 # no route back to the pool: replies need masquerade
ip -n "$NW" -6 route add default via 2001:db8:2::1
ip -n "$NP" link set eth0 up
ip -n "$NP" addr add 10.99.0.2/24 dev eth0
ip -n "$NP" -6 addr add fd99::2/64 dev eth0 nodad
ip -n "$NP" addr add 192.168.255.1/32 dev lo
ip -n "$NP" -6 addr add 64:ff9b::1/128 dev lo
ip -n "$NP" route add default via 10.99.0.1
ip -n "$NP" -6 route add default via fd99::1
# IPv6 neighbours fixed: the zones drop ICMPv6 input (no rules but fw-helper's), so NDP would fail.
mac() { if [ "$1" = lab ]; then lnet ip -br link show dev "$2"; else ip -n "$1" -br link show dev "$2"; fi | awk '{print $3}'; }
neigh() { # NS DEV ADDR PEER-NS PEER-DEV: ADDR (on PEER-DEV) resolved permanently on DEV
  local m
  m=$(mac "$4" "$5")
  if [ "$1" = lab ]; then lnet ip -6 neigh replace "$3" lladdr "$m" dev "$2" nud permanent
  else ip -n "$1" -6 neigh replace "$3" lladdr "$m" dev "$2" nud permanent; fi
}
neigh lab veth-lan fe80::2 "$NL" eth0; neigh lab veth-lan 2001:db8:1::2 "$NL" eth0
neigh "$NL" eth0 fe80::1 lab veth-lan; neigh "$NL" eth0 2001:db8:1::1 lab veth-lan
neigh lab veth-lan2 2001:db8:3::2 "$NL" eth1; neigh "$NL" eth1 2001:db8:3::1 lab veth-lan2
neigh lab veth-wan 2001:db8:2::3 "$NW" eth0; neigh "$NW" eth0 2001:db8:2::1 lab veth-wan
neigh lab fwstun fd99::2 "$NP" eth0; neigh "$NP" eth0 fd99::1 lab fwstun

# ---------------------------------------------------------------- traffic helpers
# rx.py PROTO ADDR PORT SECONDS: prints the first datagram/connection's source, exit 0; 1 on timeout.
cat >"$TMPD/rx.py" <<'PY'
import socket, sys
proto, addr, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((addr, port))
s.settimeout(secs)
print("ready", flush=True)
try:
    if proto == "udp":
        _, src = s.recvfrom(2048)
    else:
        s.listen(4)
        c, src = s.accept()
        c.close()
except socket.timeout:
    sys.exit(1)
print(src[0], flush=True)
PY
# tx.py PROTO SRC DST PORT [HOPLIMIT [IFNAME]]: one datagram, or a TCP connect (2 s).
cat >"$TMPD/tx.py" <<'PY'
import socket, sys
proto, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hl = int(sys.argv[5]) if len(sys.argv) > 5 else 0
ifn = sys.argv[6] if len(sys.argv) > 6 else ""
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
scope = socket.if_nametoindex(ifn) if ifn else 0
if src != "-":
    s.bind((src, 0, 0, scope) if fam == socket.AF_INET6 else (src, 0))
if hl:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hl)
d = (dst, port, 0, scope) if fam == socket.AF_INET6 else (dst, port)
s.settimeout(2)
if proto == "udp":
    s.sendto(b"x", d)
else:
    try:
        s.connect(d)
    except OSError:
        pass
PY
# rx_in WHERE PROTO ADDR PORT: a listener in the lab's netns ("lab") or in namespace WHERE.
rx_start() {
  local where=$1
  shift
  if [ "$where" = lab ]; then "$LAB_SH" net "$L" python3 "$TMPD/rx.py" "$@" 20 >"$TMPD/rx.out" 2>&1 &
  else ip netns exec "$where" python3 "$TMPD/rx.py" "$@" 20 >"$TMPD/rx.out" 2>&1 & fi
  RXPID=$!
  wait_for 10 grep -q ready "$TMPD/rx.out"
}
rx_done() { ! kill -0 "$RXPID" 2>/dev/null; }
# expect NAME yes|no RXWHERE "RX ARGS" TXNS "TX ARGS": one packet, received or not.
expect() {
  local name=$1 want=$2 rxw=$3 rxa=$4 txns=$5 txa=$6 got=no
  rx_start "$rxw" $rxa
  # The listener's time starts once the packet is out (a loaded host starts python slowly).
  ip netns exec "$txns" python3 "$TMPD/tx.py" $txa 2>/dev/null
  if wait_for 4 rx_done; then wait "$RXPID" && got=yes; else kill "$RXPID" 2>/dev/null; wait "$RXPID" 2>/dev/null; fi
  if [ "$got" = "$want" ]; then pass "$name"; else fail "$name" "received: $got; $(cat "$TMPD/rx.out")"; fi
}

# ---------------------------------------------------------------- install and configure
cp "$IPK" "$L/lab/share/"
cat >"$L/lab/share/firewall" <<'EOF'
config defaults
	option input 'DROP'
	option output 'ACCEPT'
	option forward 'DROP'

config zone 'lan'
	option name 'lan'
	list device 'veth-lan'
	option input 'DROP'
	option output 'ACCEPT'
	option forward 'DROP'

config zone 'wan'
	option name 'wan'
	list device 'veth-wan'
	option input 'DROP'
	option output 'ACCEPT'
	option forward 'DROP'

config zone 'guest'
	option name 'guest'
	list network 'guest'
	option input 'DROP'
	option output 'ACCEPT'
	option forward 'DROP'
EOF
# What the daemons' init scripts would declare, plus an empty zone (guest) and a missing one.
cat >"$L/lab/share/fw-rules" <<'EOF'
config dhcp
	option zone 'lan'

config dns
	option zone 'lan'

config ripng
	option zone 'lan'

config nat64
	option tun_device 'fwstun'
	option wan_zone 'wan'
	option lan_zone 'lan'
	list masquerade '192.168.255.0/24'
	option mss_clamp '1'
	list static 'tcp:192.168.255.1:8080'

config dns
	option zone 'guest'
	option port '5353'

config dns
	option zone 'nosuchzone'
	option port '5354'
EOF
check "firewall started by procd with the test's zones" \
  lsh 'cp /lab/share/firewall /etc/config/firewall && /etc/init.d/firewall start && nft list chain inet fw4 input_lan'
check "opkg install fw-helper from dist/x86_64 ($(basename "$IPK"))" \
  lsh "opkg install /lab/share/$(basename "$IPK")"
check "installed: /usr/sbin/fw-helper, init script, config, iface hotplug script" \
  lsh 'test -x /usr/sbin/fw-helper && test -x /etc/init.d/fw-helper && test -f /etc/config/fw-helper && test -f /etc/hotplug.d/iface/30-fw-helper'
lsh 'mkdir -p /usr/share/v6only/fw.d && cp /lab/share/fw-rules /usr/share/v6only/fw.d/test'
check "fw4 print defines the empty zone as an empty set (what broke \$guest_devices)" \
  lsh 'fw4 -q print | grep -q "define guest_devices = {  *}"'
check "/etc/init.d/fw-helper restart (procd) applies: snippets written" \
  lsh '/etc/init.d/fw-helper enable; /etc/init.d/fw-helper restart; ls /usr/share/nftables.d/chain-pre/input/v6only-fw-helper.nft /usr/share/nftables.d/chain-pre/forward/v6only-fw-helper.nft'
check "snippets name devices literally (no \$zone_devices, no empty set)" \
  lsh '! grep -lF -e "\$" -e "{ }" -e "{  }" /usr/share/nftables.d/chain-pre/*/v6only-fw-helper.nft'
check "logread warns about the empty and the missing zone" \
  lsh 'logread | grep -q "zone .guest. has no devices" && logread | grep -q "zone .nosuchzone. is not defined"'
check "fw4 check exits 0 with the snippets in place" lsh 'fw4 check'
lsh 'fw4 reload' >"$TMPD/reload.out" 2>&1
check "fw4 reload prints no nft error" bash -c "! grep -qi error '$TMPD/reload.out' || { cat '$TMPD/reload.out'; false; }"
lnet nft list ruleset >"$TMPD/ruleset" 2>&1
has() { grep -qF -- "$1" "$TMPD/ruleset" || { echo "missing: $1"; return 1; }; }
check "nft list ruleset: DHCP, DNS and RIPng from lan in chain input" eval \
  'has "meta nfproto ipv4 iifname \"veth-lan\" udp dport 67 accept" && has "iifname \"veth-lan\" udp dport 53 accept" &&
   has "iifname \"veth-lan\" tcp dport 53 accept" && has "iifname \"veth-lan\" ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept"'
check "nft list ruleset: NAT64 forward (lan only to the prefix), static entry, masquerade, DNAT, MSS clamp" eval \
  'has "iifname \"fwstun\" oifname \"veth-wan\" accept" && has "iifname \"veth-lan\" oifname \"fwstun\" ip6 daddr 64:ff9b::/96 accept" &&
   has "iifname \"veth-wan\" oifname \"fwstun\" ip daddr 192.168.255.1 tcp dport 8080 accept" &&
   has "oifname \"veth-wan\" ip saddr 192.168.255.0/24 masquerade" &&
   has "dnat ip to 192.168.255.1:8080" && has "oifname \"fwstun\" tcp flags syn tcp option maxseg size set rt mtu"'
check "nft list ruleset: no rule for the empty or the missing zone's ports" eval '! grep -E "dport (5353|5354)" "$TMPD/ruleset"'

# ---------------------------------------------------------------- traffic
expect "DNS/udp from lan to the router: accepted" yes lab "udp 2001:db8:1::1 53" "$NL" "udp 2001:db8:1::2 2001:db8:1::1 53"
expect "DNS/tcp from lan to the router: accepted" yes lab "tcp 2001:db8:1::1 53" "$NL" "tcp 2001:db8:1::2 2001:db8:1::1 53"
expect "DNS/udp from wan: dropped" no lab "udp 2001:db8:2::1 53" "$NW" "udp 2001:db8:2::3 2001:db8:2::1 53"
expect "other UDP from lan (port 54): dropped (zone policy)" no lab "udp 2001:db8:1::1 54" "$NL" "udp 2001:db8:1::2 2001:db8:1::1 54"
expect "DHCP (IPv4 UDP 67) from lan: accepted" yes lab "udp 192.168.1.1 67" "$NL" "udp 192.168.1.2 192.168.1.1 67"
expect "DHCP (UDP 67) from wan: dropped" no lab "udp 192.0.2.1 67" "$NW" "udp 192.0.2.3 192.0.2.1 67"
expect "RIPng link-local, hop limit 255, from lan: accepted" yes lab "udp :: 521" "$NL" "udp fe80::2 fe80::1 521 255 eth0"
expect "RIPng hop limit 64: dropped" no lab "udp :: 521" "$NL" "udp fe80::2 fe80::1 521 64 eth0"
expect "RIPng from a global address: dropped" no lab "udp :: 521" "$NL" "udp 2001:db8:1::2 2001:db8:1::1 521 255"
expect "NAT64 TUN side -> wan: forwarded, masqueraded to 192.0.2.1" yes "$NW" "udp 192.0.2.3 7000" "$NP" "udp 192.168.255.1 192.0.2.3 7000"
check "NAT64: the wan host saw the router's address" grep -qx 192.0.2.1 "$TMPD/rx.out"
check "NAT64: ping from the pool address to the wan host is answered (masquerade both ways)" \
  ip netns exec "$NP" ping -c1 -W2 -I 192.168.255.1 192.0.2.3
check "lan -> TUN side (64:ff9b::1): forwarded" ip netns exec "$NL" ping -6 -c1 -W2 64:ff9b::1
check "lan -> TUN side outside the NAT64 prefix (fd99::2): dropped" \
  bash -c "! ip netns exec '$NL' ping -6 -c1 -W1 fd99::2"
check "lan -> wan: dropped (no rule of ours, forward policy drop)" bash -c "! ip netns exec '$NL' ping -6 -c1 -W1 2001:db8:2::3"
expect "wan -> router 192.0.2.1:8080: DNAT to the static entry 192.168.255.1:8080" yes "$NP" "tcp 192.168.255.1 8080" "$NW" "tcp - 192.0.2.1 8080"
expect "wan -> router 192.0.2.1:8081: not forwarded" no "$NP" "tcp 192.168.255.1 8081" "$NW" "tcp - 192.0.2.1 8081"

# ---------------------------------------------------------------- zone changes after apply
# A second lan device through uci + reload_config: the firewall and fw-helper (reload trigger on
# the firewall config) both reload; the rules name both devices.
# (reload_config compares with the checksums of its previous run: one run first, as at boot.)
lsh 'reload_config; uci add_list firewall.lan.device=veth-lan2 && uci commit firewall && reload_config' >/dev/null 2>&1
lan2() { lnet nft list chain inet fw4 input | grep -qF 'iifname { "veth-lan", "veth-lan2" } udp dport 53 accept'; }
check "zone with two devices after reload_config: rules name both (fw-helper's firewall trigger)" wait_for 10 lan2
check "fw4 check still exits 0" lsh 'fw4 check'
# The lan zone deleted and fw4 reloaded by hand (no trigger): the snippets still name veth-lan
# literally, which stays valid; fw4 really reloads (no more jump to input_lan; fw4's flush
# keeps the emptied chain itself).
lsh 'uci delete firewall.lan && uci commit firewall'
check "zone lan deleted, no re-apply: fw4 check exits 0" lsh 'fw4 check'
lsh 'fw4 reload' >/dev/null 2>&1
check "zone lan deleted: fw4 reload took the new ruleset (no jump to input_lan)" \
  bash -c "'$LAB_SH' net '$L' nft list chain inet fw4 input >'$TMPD/input' && ! grep -q 'jump input_lan' '$TMPD/input'"
check "zone lan deleted: our (now stale) rules are loaded, not rejected" bash -c "'$LAB_SH' net '$L' nft list chain inet fw4 input | grep -q 'v6only: DNS'"
check "fw-helper reload: the lan rules are left out, the wan ones stay, fw4 check 0" \
  lsh '/etc/init.d/fw-helper reload; ! grep -q veth-lan /usr/share/nftables.d/chain-pre/input/v6only-fw-helper.nft 2>/dev/null &&
       grep -q "veth-wan" /usr/share/nftables.d/chain-pre/forward/v6only-fw-helper.nft && fw4 check'
check "zone lan missing: nft list ruleset has no veth-lan rule of ours" \
  bash -c "! '$LAB_SH' net '$L' nft list ruleset | grep 'v6only' | grep -q veth-lan"
# Every zone gone: still a valid ruleset.
lsh 'uci delete firewall.wan; uci delete firewall.guest; uci commit firewall; fw-helper apply' >/dev/null 2>&1
check "no zones at all: fw-helper apply + fw4 check exit 0" lsh 'fw-helper apply && fw4 check'
lsh 'cp /lab/share/firewall /etc/config/firewall; fw4 reload; fw-helper apply' >/dev/null 2>&1
check "zones back: rules back" lsh 'nft list chain inet fw4 input | grep -q "iifname \"veth-lan\" udp dport 53 accept"'
# A device joining a zone at an interface event: 20-firewall reloads fw4, then our hotplug script
# (run here as hotplug-call would; the lab has no netifd) re-renders the snippets.
lsh 'uci add_list firewall.lan.device=veth-lan2; uci commit firewall; fw4 -q reload; ACTION=ifdown INTERFACE=lan sh /etc/hotplug.d/iface/30-fw-helper' >/dev/null 2>&1
check "hotplug ifdown: snippets left as they are" lsh '! grep -q veth-lan2 /usr/share/nftables.d/chain-pre/input/v6only-fw-helper.nft'
check "hotplug ifup (30-fw-helper): the new device is in the rules" \
  lsh 'ACTION=ifup INTERFACE=lan DEVICE=veth-lan2 sh /etc/hotplug.d/iface/30-fw-helper &&
       nft list chain inet fw4 input | grep -qF "iifname { \"veth-lan\", \"veth-lan2\" } udp dport 53 accept"'

# ---------------------------------------------------------------- zones by network
# netifd's `network.interface dump` (where fw4 finds a network's device) played by a ucode stub
# on ubus (the lab has no netifd), answering what the test writes to /tmp/interfaces.json:
# zone guest (network 'guest') first without a device, then up on veth-lan2, as when an
# interface comes up after boot: fw4 reloads (20-firewall), then 30-fw-helper re-renders.
cat >"$L/lab/share/netifd.uc" <<'EOF'
import { connect } from 'ubus';
import * as uloop from 'uloop';
import { readfile } from 'fs';
uloop.init();
let bus = connect();
bus.publish("network.interface", {
	dump: {
		call: function(req) { return json(readfile("/tmp/interfaces.json") || '{ "interface": [] }'); },
		args: {}
	}
});
uloop.run();
EOF
lsh 'cp /lab/share/firewall /etc/config/firewall; echo "{ \"interface\": [] }" >/tmp/interfaces.json
     (ucode /lab/share/netifd.uc </dev/null >/dev/null 2>&1 &)'
check "netifd stand-in: ubus network.interface dump answers" wait_for 5 lsh 'ubus call network.interface dump'
lsh 'fw4 -q reload; fw-helper apply' >/dev/null 2>&1
expect "guest (by network) without a device: DNS 5353 on veth-lan2 dropped" no lab "udp 2001:db8:3::1 5353" "$NL" "udp 2001:db8:3::2 2001:db8:3::1 5353"
lsh 'echo "{ \"interface\": [ { \"interface\": \"guest\", \"up\": true, \"device\": \"veth-lan2\", \"l3_device\": \"veth-lan2\" } ] }" >/tmp/interfaces.json
     fw4 -q reload; ACTION=ifup INTERFACE=guest DEVICE=veth-lan2 sh /etc/hotplug.d/iface/30-fw-helper' >/dev/null 2>&1
check "guest up on veth-lan2: fw4 resolves the network (define guest_devices = { \"veth-lan2\" })" \
  lsh 'fw4 -q print | grep -qF "define guest_devices = { \"veth-lan2\" }"'
check "guest up: the guest rule names veth-lan2, fw4 check exits 0" \
  lsh 'nft list chain inet fw4 input | grep -qF "iifname \"veth-lan2\" udp dport 5353 accept" && fw4 check'
expect "guest up: DNS 5353 from veth-lan2 accepted" yes lab "udp 2001:db8:3::1 5353" "$NL" "udp 2001:db8:3::2 2001:db8:3::1 5353"
expect "guest up: DNS 53 from veth-lan2 still dropped (only lan has 53)" no lab "udp 2001:db8:3::1 53" "$NL" "udp 2001:db8:3::2 2001:db8:3::1 53"

# ---------------------------------------------------------------- removal
check "fw-helper remove: snippets gone" \
  lsh 'fw-helper remove && ! find /usr/share/nftables.d -name "*v6only*" | grep -q .'
lsh 'fw4 reload' >/dev/null 2>&1
check "fw4 reload after fw-helper remove: no trace in nft list ruleset" \
  bash -c "! '$LAB_SH' net '$L' nft list ruleset | grep -q 'v6only\|fwstun'"
lsh 'fw-helper apply' >/dev/null 2>&1
check "opkg remove fw-helper (prerm stops it: remove + fw4 reload)" lsh 'opkg remove fw-helper'
lsh 'fw4 reload' >/dev/null 2>&1
check "after opkg remove + fw4 reload: no trace in nft list ruleset or /usr/share/nftables.d" \
  bash -c "! '$LAB_SH' net '$L' nft list ruleset | grep -q 'v6only\|fwstun' && ! '$LAB_SH' sh '$L' 'find /usr/share/nftables.d -name \"*v6only*\"' | grep -q ."
check "fw4 check after removal" lsh 'fw4 check'
finish
