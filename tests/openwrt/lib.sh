# lib.sh - sourced by the OpenWrt tests (tests/openwrt/*.sh): the result helpers of the system
# tests, the project's lab (tests/openwrt/lab/), and labs that are stopped however the test ends.
#
#   V6ONLY_LAB   where tests/openwrt/lab/build.sh built the userland (default /var/cache/v6only-lab):
#                $V6ONLY_LAB/root is the rootfs, $V6ONLY_LAB/hostbin/ its tools for the host
#                (apk, opkg, usign, uci, jsonfilter, validate_data ...)
#   DIST         the feed that `make -f Makefile.openwrt` wrote (default dist/ of the checkout)
. "$(dirname "${BASH_SOURCE[0]}")/../system/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export V6ONLY_LAB=${V6ONLY_LAB:-/var/cache/v6only-lab}
LAB_SH=${LAB_SH:-$REPO/tests/openwrt/lab/lab.sh}
HOSTBIN=$V6ONLY_LAB/hostbin
JF=$HOSTBIN/jsonfilter
DIST=${DIST:-$REPO/dist}
# The packages the labs install are x86_64's. ipk PKG: the path of PKG's .ipk (empty: none).
ARCH=x86_64
ipk() { ls "$DIST/$ARCH/$1"_*_"$ARCH.ipk" 2>/dev/null | head -n 1; }

# lab_start [lab.sh start options]: start a lab, set L to its directory; stopped at exit.
LABS=()
lab_start() {
  L=$("$LAB_SH" start "$@") || { fail "lab start $*"; return 1; }
  LABS+=("$L")
}
lab_stop() { # DIR: stop one lab now
  "$LAB_SH" stop "$1" >/dev/null 2>&1
  local keep=() d
  for d in ${LABS[@]+"${LABS[@]}"}; do [ "$d" = "$1" ] || keep+=("$d"); done
  LABS=(${keep[@]+"${keep[@]}"})
}
labs_cleanup() {
  local d
  for d in ${LABS[@]+"${LABS[@]}"}; do "$LAB_SH" stop "$d" >/dev/null 2>&1; done
  LABS=()
}
at_exit labs_cleanup

# lsh 'snippet': busybox ash -c in the current lab ($L); lexec CMD...: a command in it;
# lnet CMD...: a host program in the lab's network namespace (labs started with --net).
lsh() { "$LAB_SH" sh "$L" "$1"; }
lexec() { "$LAB_SH" exec "$L" "$@"; }
lnet() { "$LAB_SH" net "$L" "$@"; }
lroot() { "$LAB_SH" root "$L"; }

# lab_ready_or_finish: the lab's userland is built; else a failed setup (never a skip).
lab_ready_or_finish() {
  [ "$(id -u)" = 0 ] || { fail "setup" "must run as root"; finish; }
  [ -x "$V6ONLY_LAB/root/sbin/procd" ] || { fail "setup" "no lab in $V6ONLY_LAB: run tests/openwrt/lab/build.sh"; finish; }
}

# daemons_ready_or_finish: every package's .ipk is in $DIST/$ARCH, and the host has
# /dev/net/tun (for nat64 in a lab); else a failed setup (never a skip).
daemons_ready_or_finish() {
  local p
  for p in fw-helper dns64 nat64 option108-dhcpd; do
    [ -f "$(ipk "$p")" ] || { fail "setup" "no $p package in $DIST/$ARCH (make -f Makefile.openwrt)"; finish; }
  done
  [ -c /dev/net/tun ] || { fail "setup" "no /dev/net/tun on this host (modprobe tun)"; finish; }
}
# lan_wan_links C S D: the router's links as netifd would make them in lab $L: br-lan
# (10.108.0.1/24, 2001:db8:1::1/64) with ports lan1 to namespace C (an IPv6-only client,
# 2001:db8:1::2) and lan2 to D (left for a DHCP client), and wan4 (192.0.2.1/24) to S (an
# IPv4-only server, 192.0.2.2); the lab forwards both families. Makes the three namespaces.
lan_wan_links() {
  local c=$1 s=$2 d=$3 n pid
  pid=$(cat "$L/pid")
  for n in "$c" "$s" "$d"; do ip netns add "$n" || return 1; done
  ip link add c0 netns "$c" type veth peer name lan1 netns "$pid"
  ip link add d0 netns "$d" type veth peer name lan2 netns "$pid"
  ip link add s0 netns "$s" type veth peer name wan4 netns "$pid"
  for n in "$c" "$s" "$d"; do ip -n "$n" link set lo up; done
  ip -n "$c" link set c0 up
  ip -n "$c" addr add 2001:db8:1::2/64 dev c0 nodad
  ip -n "$c" -6 route add default via 2001:db8:1::1
  ip -n "$s" link set s0 up
  ip -n "$s" addr add 192.0.2.2/24 dev s0
  ip -n "$s" route add default via 192.0.2.1
  ip netns exec "$s" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$d" link set d0 up
  lnet sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
  lnet ip link set lo up
  lnet ip link add br-lan type bridge
  lnet ip link set lan1 master br-lan up
  lnet ip link set lan2 master br-lan up
  lnet ip link set br-lan up
  lnet ip addr add 10.108.0.1/24 dev br-lan
  lnet ip addr add 2001:db8:1::1/64 dev br-lan nodad
  lnet ip link set wan4 up
  lnet ip addr add 192.0.2.1/24 dev wan4
}

# lan_wan_firewall: lab $R's /etc/config/firewall as OpenWrt ships it for the links of
# lan_wan_links (zones by device, as there is no netifd): lan accepts, wan rejects and is
# masqueraded, lan may forward to wan. Started by the caller.
lan_wan_firewall() {
  cat >"$R/etc/config/firewall" <<'EOF'
config defaults
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'
	option synflood_protect '1'

config zone 'lan'
	option name 'lan'
	list device 'br-lan'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'ACCEPT'

config zone 'wan'
	option name 'wan'
	list device 'wan4'
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'
	option masq '1'
	option mtu_fix '1'

config forwarding
	option src 'lan'
	option dest 'wan'
EOF
}

# netifd_stand_in: netifd's ubus objects in the current lab (none runs there), answered from
# the files $L/lab/share/netifd/NAME.json (the test writes them: `ubus call
# network.interface.NAME status` returns one, `network.interface dump` all, each with its
# "interface" name), started under procd as /etc/init.d/netifd-lab. `ubus call
# network.interface lab_notify '{"interface":"NAME"}'` sends netifd's interface.update (or
# interface.down when NAME is not up), so that procd fires interface triggers.
netifd_stand_in() {
  mkdir -p "$L/lab/share/netifd"
  cat >"$L/lab/share/netifd-lab.uc" <<'EOF'
'use strict';
import * as ubus from 'ubus';
import * as uloop from 'uloop';
import { readfile, lsdir } from 'fs';

const dir = ARGV[0];
const iface = (name) => ({ ...json(readfile(`${dir}/${name}.json`)), interface: name });
const names = () => map(filter(lsdir(dir), (f) => match(f, /\.json$/)), (f) => replace(f, /\.json$/, ''));

uloop.init();
const conn = ubus.connect();
let top;
top = conn.publish('network.interface', {
	dump: { call: () => ({ interface: map(names(), iface) }), args: {} },
	lab_notify: {
		call: (req) => {
			let st = iface(req.args.interface);
			top.notify(st.up ? 'interface.update' : 'interface.down', st);
			return {};
		},
		args: { interface: '' }
	}
});
for (let n in names())
	conn.publish(`network.interface.${n}`, { status: { call: () => iface(n), args: {} } });
uloop.run();
EOF
  cat >"$(lroot)/etc/init.d/netifd-lab" <<'EOF'
#!/bin/sh /etc/rc.common
USE_PROCD=1
start_service() {
	procd_open_instance
	procd_set_param command /usr/bin/ucode /lab/share/netifd-lab.uc /lab/share/netifd
	procd_set_param watch network.interface
	procd_set_param stderr 1
	procd_close_instance
}
EOF
  chmod +x "$(lroot)/etc/init.d/netifd-lab"
  lsh "/etc/init.d/netifd-lab start" >/dev/null 2>&1
}
