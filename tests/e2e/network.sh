# network.sh - sourced (bash) by tests/e2e/run.sh (the e2e suite) and tests/e2e/lab.sh (the lab
# for people): the IPv6-only network in a box, built from the project's OpenWrt lab
# (tests/openwrt/lib.sh) and namespaces (tests/lib/netns.sh). Everything it makes goes away
# at exit, unless e2e_keep hands it over to `tests/e2e/lab.sh stop`.
#
#                    internet  (netns $TAG-inet)
#      198.51.100.80   web server, IPv4 only (HTTP :80, echo :7)     v4only.example
#      198.51.100.53   NSD, IPv4 only: the zone example.
#      2001:db8:f::80  web server, IPv6 (HTTP :80)                   v6.example
#            | 203.0.113.254/24  2001:db8:f0a::254/64  (routes 2001:db8:a::/64 to router A)
#            |
#            | wan  203.0.113.1/24  2001:db8:f0a::1/64
#      router A  (OpenWrt lab, netns $TAG-ra): procd, fw4 + fw-helper, dns64, nat64
#            |   (2001:db8:64::/96, pool 192.168.255.0/30), option108-dhcpd, ripng; RAs
#            | br-lan  10.108.0.1/24  2001:db8:a::1/64          ab0 (fe80::a) ---+
#            |                                                                  |
#      +-----+----------------------------+                     ba0 (fe80::b) --+
#      client6 ($TAG-c6)          client4 ($TAG-c4)         router B  (OpenWrt lab, netns
#      dhcpcd: option 108 ->      udhcpc: an IPv4 lease,    $TAG-rb): ripng, fw4 + fw-helper;
#      no IPv4; SLAAC and DNS     no IPv6                   RAs
#      from the RAs                                              | lan0  2001:db8:b::1/64
#      2001:db8:a::ff:fe00:6      10.108.0.100-149          clientb ($TAG-cb): SLAAC
#                                                           2001:db8:b::ff:fe00:b
#
# RAs come from BIRD's radv (tests/lib/bird.sh) in each router's namespace.
# ab0-ba0 is the backbone: link-local addresses only, RIPng between the routers, in router A's
# zone 'core' (input REJECT: only fw-helper's rule lets RIPng in, from fe80::/10).
#
#   e2e_up          builds it all (TAG, W: a work directory); fails with a message on stderr
#   e2e_keep FILE   writes what was made to FILE and forgets it here (the lab keeps running)
#   ra_sh / rb_sh 'snippet'   busybox ash -c in router A / B; ra_exec / rb_exec CMD...
#   in_ns ROLE CMD...         a host program in ROLE's namespace (inet c6 c4 cb ra rb)
. "$(dirname "${BASH_SOURCE[0]}")/../openwrt/lib.sh"
. "$REPO/tests/lib/nsd.sh"
. "$REPO/tests/lib/bird.sh"

# The Debian programs of the network and its clients.
# shellcheck disable=SC2034 # used by run.sh and lab.sh
E2E_PACKAGES="iproute2 nsd dhcpcd-base busybox curl traceroute bind9-dnsutils iputils-ping python3 bird2"
TAG=${TAG:-e2e$$}
NAT64_PREFIX=2001:db8:64::
WEB4=198.51.100.80
DNS4=198.51.100.53
WEB6=2001:db8:f::80

ns_of() { echo "$TAG-$1"; }
in_ns() { local ns; ns=$(ns_of "$1"); shift; ip netns exec "$ns" "$@"; }
ra_sh() { "$LAB_SH" sh "$LA" "$1"; }
rb_sh() { "$LAB_SH" sh "$LB" "$1"; }
ra_exec() { "$LAB_SH" exec "$LA" "$@"; }
rb_exec() { "$LAB_SH" exec "$LB" "$@"; }

# _e2e_internet: the servers, on lo of the internet's namespace.
_e2e_internet() {
	local inet
	inet=$(ns_of inet)
	netns_add "$inet"
	ip -n "$inet" addr add "$WEB4/32" dev lo
	ip -n "$inet" addr add "$DNS4/32" dev lo
	ip -n "$inet" addr add "$WEB6/128" dev lo
	mkdir -p "$W/www4" "$W/www6" "$W/nsd"
	echo "hello from the IPv4-only server" >"$W/www4/index.html"
	echo "hello from the IPv6 server" >"$W/www6/index.html"
	spawn "$inet" python3 -m http.server --bind "$WEB4" --directory "$W/www4" 80 >"$W/www4.log" 2>&1
	spawn "$inet" python3 -m http.server --bind "$WEB6" --directory "$W/www6" 80 >"$W/www6.log" 2>&1
	# echo on port 7: one line back per line, and a line per accepted connection in echo.log
	spawn "$inet" python3 -c '
import socket, sys, threading
s = socket.create_server((sys.argv[1], 7))
def serve(c):
    with c, c.makefile("rwb", buffering=0) as f:
        for line in f:
            f.write(line)
while True:
    c, a = s.accept()
    print("accepted", a[0], flush=True)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$WEB4" >"$W/echo.log" 2>&1
	cat >"$W/nsd/example.zone" <<EOF
\$ORIGIN example.
\$TTL 300
@       IN SOA ns admin 1 3600 600 86400 300
@       IN NS  ns
ns      IN A   $DNS4
v4only  IN A   $WEB4
v6      IN AAAA $WEB6
EOF
	nsd_start "$inet" "$W/nsd" "$DNS4" -- example || return 1
	wait_for 5 in_ns inet curl -sf "http://$WEB4/" >/dev/null || { echo "the IPv4 web server did not start" >&2; return 1; }
	wait_for 5 in_ns inet curl -sf "http://[$WEB6]/" >/dev/null || { echo "the IPv6 web server did not start" >&2; return 1; }
}

# _e2e_router NAME: an OpenWrt lab as router NAME (ra, rb), its network namespace named
# $TAG-NAME; sets LA or LB. The feed's packages go to /lab/share.
_e2e_router() {
	local l p
	lab_start --net --bind /dev/net/tun:/dev/net/tun || return 1
	l=$L
	netns_adopt "$(ns_of "$1")" "$(cat "$l/pid")"
	for p in fw-helper dns64 nat64 option108-dhcpd ripng; do cp "$(ipk "$p")" "$l/lab/share/"; done
	# a router's boot leaves reload_config's snapshot behind: configs installed later are compared
	"$LAB_SH" exec "$l" reload_config
	in_ns "$1" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	case $1 in ra) LA=$l ;; rb) LB=$l ;; esac
}

# _e2e_firewall ROOT LAN WAN CORE INPUT: /etc/config/firewall of a router: the lab's small
# router config (zones by device: there is no netifd in the lab) with LAN and WAN as its lan
# and wan devices and ICMPv6 (NDP) accepted from every zone, and a zone 'core' for the
# backbone device CORE with input INPUT, forwarding to and from lan.
_e2e_firewall() {
	sed -e "s/list device 'lan0'/list device '$2'/" -e "s/list device 'wan0'/list device '$3'/" \
		-e "/name 'Allow-ICMPv6-Input'/,/^\$/s/option src 'wan'/option src '*'/" \
		"$1/usr/share/v6only-lab/firewall.minimal" >"$1/etc/config/firewall"
	cat >>"$1/etc/config/firewall" <<EOF

config zone
	option name 'core'
	list device '$4'
	option input '$5'
	option output 'ACCEPT'
	option forward 'REJECT'

config forwarding
	option src 'lan'
	option dest 'core'

config forwarding
	option src 'core'
	option dest 'lan'
EOF
}

# client_mac NS MAC: a fixed MAC on the client's interface (named as its namespace), so that
# its SLAAC address is known (2001:db8:a::ff:fe00:6 ...); down and up again for a link-local
# address from it.
client_mac() {
	ip -n "$1" link set "$1" down
	ip -n "$1" link set "$1" address "$2"
	ip -n "$1" link set "$1" up
}

# _e2e_links: the veth links and addresses, as netifd would set them up on a router.
_e2e_links() {
	local inet ra rb c6 c4 cb
	inet=$(ns_of inet) ra=$(ns_of ra) rb=$(ns_of rb)
	c6=$(ns_of c6) c4=$(ns_of c4) cb=$(ns_of cb)
	netns_add "$c6" "$c4" "$cb"
	# client6's RAs are dhcpcd's to handle, not the kernel's
	ip netns exec "$c6" sysctl -qw net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0
	# internet - router A
	veth "$inet" wan-a "$ra" wan
	ip -n "$inet" addr add 203.0.113.254/24 dev wan-a
	ip -n "$inet" addr add 2001:db8:f0a::254/64 dev wan-a nodad
	ip -n "$inet" -6 route add 2001:db8:a::/64 via 2001:db8:f0a::1
	ip netns exec "$inet" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
	ip -n "$ra" addr add 203.0.113.1/24 dev wan
	ip -n "$ra" addr add 2001:db8:f0a::1/64 dev wan nodad
	ip -n "$ra" route add default via 203.0.113.254
	ip -n "$ra" -6 route add default via 2001:db8:f0a::254
	# router A's LAN: a bridge, a port per client
	ip -n "$ra" link add br-lan type bridge
	# Each client's interface has its namespace's name: dhcpcd keeps its pid file, control
	# socket and leases per interface name in the host's /run and /var/lib.
	veth "$c6" "$c6" "$ra" lan1
	veth "$c4" "$c4" "$ra" lan2
	ip -n "$ra" link set lan1 master br-lan
	ip -n "$ra" link set lan2 master br-lan
	ip -n "$ra" link set br-lan up
	ip -n "$ra" addr add 10.108.0.1/24 dev br-lan
	ip -n "$ra" addr add 2001:db8:a::1/64 dev br-lan nodad
	client_mac "$c6" 02:00:00:00:00:06
	client_mac "$c4" 02:00:00:00:00:04
	# the legacy client has no IPv6 at all
	ip netns exec "$c4" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	# the backbone: link-local only, fixed addresses
	ip link add ab0 netns "$ra" type veth peer name ba0 netns "$rb"
	for n in "$ra ab0 fe80::a" "$rb ba0 fe80::b"; do
		set -- $n
		ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.addr_gen_mode=1"
		ip -n "$1" link set "$2" up
		ip -n "$1" addr add "$3/64" dev "$2" nodad
	done
	# router B's LAN
	veth "$cb" "$cb" "$rb" lan0
	client_mac "$cb" 02:00:00:00:00:0b
	ip -n "$rb" addr add 2001:db8:b::1/64 dev lan0 nodad
}

# _e2e_netifd_a: netifd's ubus objects for router A's lan (the stand-in of
# tests/openwrt/lib.sh): dns64 listens on lan's addresses, option108-dhcpd serves its subnet.
_e2e_netifd_a() {
	L=$LA
	mkdir -p "$LA/lab/share/netifd"
	printf '{"up":true,"pending":false,"available":true,"autostart":true,"dynamic":false,"uptime":1,"proto":"static","device":"br-lan","l3_device":"br-lan","ipv4-address":[{"address":"10.108.0.1","mask":24}],"ipv6-address":[{"address":"2001:db8:a::1","mask":64}],"data":{}}\n' \
		>"$LA/lab/share/netifd/lan.json"
	netifd_stand_in
	wait_for 5 ra_sh '. /lib/functions/network.sh; network_get_ipaddrs_all a lan; [ "$a" = "10.108.0.1 2001:db8:a::1" ]' ||
		{ echo "the netifd stand-in does not answer for lan" >&2; return 1; }
}

# _e2e_bundle_a: router A's packages, installed and configured as a user would.
_e2e_bundle_a() {
	local root out
	root=$("$LAB_SH" root "$LA")
	_e2e_firewall "$root" br-lan wan ab0 REJECT
	ra_sh "/etc/init.d/firewall start" >/dev/null 2>&1 || { echo "router A: fw4 did not start" >&2; return 1; }
	out=$(ra_sh "opkg install /lab/share/fw-helper_*_$ARCH.ipk /lab/share/dns64_*_$ARCH.ipk /lab/share/nat64_*_$ARCH.ipk /lab/share/option108-dhcpd_*_$ARCH.ipk /lab/share/ripng_*_$ARCH.ipk" 2>&1) ||
		{ echo "router A: opkg install: $out" >&2; return 1; }
	# dns64: the IPv4-only NSD as upstream, the network-specific prefix nat64 translates
	ra_sh "uci set dns64.main.prefix=$NAT64_PREFIX/96 && uci add_list dns64.main.upstream=$DNS4 && uci commit dns64" || return 1
	ra_sh "uci set nat64.main.prefix=$NAT64_PREFIX/96 && uci commit nat64" || return 1
	# option108-dhcpd: one pool on lan, option 108 for the clients that ask for it
	cat >"$root/etc/config/dhcp" <<'EOF'
config dhcp 'lan'
	option interface 'lan'
	option start '100'
	option limit '50'
	option leasetime '2m'
	option ipv6_only_preferred '1800'
EOF
	ra_sh "uci set option108-dhcpd.main.enabled=1 && uci commit option108-dhcpd" || return 1
	_e2e_ripng_conf "$root" ab0
	ra_sh "reload_config; for s in dns64 nat64 option108-dhcpd ripng; do /etc/init.d/\$s restart; done" >/dev/null 2>&1
}

# _e2e_ripng_conf ROOT DEVICE: ripng on the backbone, short timers, the connected prefixes.
_e2e_ripng_conf() {
	cat >"$1/etc/config/ripng" <<EOF
config ripng 'main'
	option enabled '1'
	option update_interval '5'
	option timeout '15'
	option garbage '10'

config interface
	option device '$2'

config redistribute
	option source 'connected'
EOF
}

_e2e_bundle_b() {
	local root out
	root=$("$LAB_SH" root "$LB")
	# router B has no WAN; it trusts its backbone: input from it is accepted (BIRD, which runs
	# there in place of ripng later, has no fw-helper drop-in for RIPng)
	_e2e_firewall "$root" lan0 none ba0 ACCEPT
	rb_sh "/etc/init.d/firewall start" >/dev/null 2>&1 || { echo "router B: fw4 did not start" >&2; return 1; }
	out=$(rb_sh "opkg install /lab/share/fw-helper_*_$ARCH.ipk /lab/share/ripng_*_$ARCH.ipk" 2>&1) ||
		{ echo "router B: opkg install: $out" >&2; return 1; }
	_e2e_ripng_conf "$root" ba0
	rb_sh "reload_config; /etc/init.d/ripng restart" >/dev/null 2>&1
}

# svc_running ROUTER SERVICE: procd runs SERVICE's instance on ROUTER (ra, rb)
svc_pid() { # ROUTER SERVICE: its pid (inside the lab), per procd
	"${1}_exec" ubus call service list "{\"name\":\"$2\"}" | "$JF" -e "@['$2'].instances.*.pid"
}
svc_running() {
	[ "$("${1}_exec" ubus call service list "{\"name\":\"$2\"}" | "$JF" -e "@['$2'].instances.*.running")" = true ]
}

# _e2e_clients: the clients start; their hooks write what they got to $W/<client>.<reason>.
_e2e_clients() {
	cat >"$W/dhcpcd-hook.sh" <<EOF
#!/bin/sh
env | sort >"$W/c6.\$reason"
EOF
	cat >"$W/udhcpc-hook.sh" <<EOF
#!/bin/sh
env | grep -E '^(ip|router|dns|subnet|lease|serverid|interface)=' | sort >"$W/c4.\$1"
case "\$1" in
bound|renew)
	ip addr flush dev "\$interface"
	ip addr add "\$ip/\$subnet" dev "\$interface"
	ip route replace default via "\$router" ;;
deconfig) ip addr flush dev "\$interface" ;;
esac
EOF
	chmod +x "$W/dhcpcd-hook.sh" "$W/udhcpc-hook.sh"
	# modern: dhcpcd asks for option 108 (RFC 8925) and does SLAAC from the RAs
	printf 'option ipv6_only_preferred\nnoipv4ll\nipv6rs\nslaac hwaddr\n' >"$W/dhcpcd.conf"
	local c6 c4 cb
	c6=$(ns_of c6) c4=$(ns_of c4) cb=$(ns_of cb)
	spawn "$c6" dhcpcd -B -f "$W/dhcpcd.conf" -c "$W/dhcpcd-hook.sh" -j "$W/dhcpcd.log" "$c6" >/dev/null 2>&1
	at_exit "ip netns exec $c6 dhcpcd -x $c6; rm -f /var/lib/dhcpcd/$c6.*"
	spawn "$c4" busybox udhcpc -i "$c4" -f -s "$W/udhcpc-hook.sh" -t 20 -T 1 >"$W/udhcpc.log" 2>&1
	# router B's client: the kernel's own SLAAC
	ip netns exec "$cb" sysctl -qw "net.ipv6.conf.$cb.accept_ra=2"
}

e2e_up() {
	_e2e_internet || return 1
	_e2e_router ra || return 1
	_e2e_router rb || return 1
	_e2e_links || return 1
	_e2e_netifd_a || return 1
	_e2e_bundle_a || return 1
	_e2e_bundle_b || return 1
	radv_start "$(ns_of ra)" "$W" br-lan 2001:db8:a::/64 2001:db8:a::1 || return 1
	radv_start "$(ns_of rb)" "$W" lan0 2001:db8:b::/64 || return 1
	_e2e_clients
}

# e2e_keep FILE: the state of what was made, for `tests/e2e/lab.sh stop`; nothing is undone
# at this script's exit any more.
e2e_keep() {
	{
		declare -p _NETNS _WORKDIRS _AT_EXIT LABS
		printf 'TAG=%q W=%q LA=%q LB=%q\n' "$TAG" "$W" "$LA" "$LB"
	} >"$1"
	_NETNS=() _SPAWNED=() _WORKDIRS=() _AT_EXIT=() LABS=()
}

# global_addr ROLE: the client's global IPv6 address (SLAAC), empty if none yet
global_addr() { ip -n "$(ns_of "$1")" -6 -br addr show dev "$(ns_of "$1")" scope global 2>/dev/null | awk '{sub(/\/.*/, "", $3); print $3}'; }
# c6_rdnss: the DNS server client6 learned from the RAs (RFC 8106), as dhcpcd hands it to hooks
c6_rdnss() { sed -n 's/^nd1_rdnss1_servers=//p; s/^new_nd1_rdnss1_servers=//p' "$W/c6.ROUTERADVERT" 2>/dev/null | head -n 1; }
# resolv_conf ROLE SERVER: the client's /etc/resolv.conf (ip netns exec mounts it there)
resolv_conf() {
	mkdir -p "/etc/netns/$(ns_of "$1")"
	echo "nameserver $2" >"/etc/netns/$(ns_of "$1")/resolv.conf"
	at_exit "rm -rf /etc/netns/$(ns_of "$1")"
}

# e2e_wait_clients: the clients are configured (leases, SLAAC, RIPng routes), and client6 and
# client4 use the DNS servers they were given; else fails saying what is missing.
e2e_wait_clients() {
	local rc=0
	wait_for 30 test -f "$W/c4.bound" || { echo "client4: no DHCP lease" >&2; rc=1; }
	wait_for 30 eval '[ -n "$(global_addr c6)" ] && [ -n "$(c6_rdnss)" ]' || { echo "client6: no SLAAC address or no RDNSS" >&2; rc=1; }
	wait_for 30 eval '[ -n "$(global_addr cb)" ]' || { echo "clientb: no SLAAC address" >&2; rc=1; }
	[ -z "$(c6_rdnss)" ] || resolv_conf c6 "$(c6_rdnss)"
	[ ! -f "$W/c4.bound" ] || resolv_conf c4 "$(sed -n 's/^dns=//p' "$W/c4.bound")"
	wait_for 30 eval 'ip -n "$(ns_of ra)" -6 route show 2001:db8:b::/64 | grep -q via' || { echo "router A: no route to 2001:db8:b::/64" >&2; rc=1; }
	return $rc
}
