#!/bin/bash
# network.sh - the daemons that need a network, installed by the real opkg into an OpenWrt
# lab with its own network namespace and run by the real procd, each with one real exchange:
#
#   dns64   with a real dnsmasq holding port 53 (as on a stock router): installing dns64
#           leaves it alone (start refused, logread says why, dnsmasq still answers); after
#           the README's steps (dnsmasq on 5353 as dns64's upstream) dig gets an AAAA
#           synthesized from dnsmasq's A record, through dns64 on port 53.
#   nat64   ping from an IPv6-only namespace to <prefix>:<IPv4> reaches an IPv4-only one.
#   option108-dhcpd  dhcpcd in a namespace gets a lease over a veth pair.
#
#   tests/openwrt/network.sh      (as root; DIST, V6ONLY_LAB and LAB_SH as in lib.sh)
#
# The lab is the router, with firewall4 dropping what is not allowed and fw-helper opening
# what the daemons declare; the clients and the IPv4 server are namespaces made here, joined
# to the lab by veth pairs. dnsmasq, dig, ping and dhcpcd are Debian's, run on the host inside
# those namespaces (dnsmasq in the lab's: `lab.sh net`).
set -u
. "$(dirname "$0")/lib.sh"
lab_ready_or_finish
setup_or_finish iproute2 iputils-ping bind9-dnsutils dnsmasq-base dhcpcd-base

ARCH=x86_64
JF=$HOSTBIN/jsonfilter
ipk() { ls "$DIST/$ARCH/$1"_*_"$ARCH.ipk" 2>/dev/null | head -n 1; }
for p in fw-helper dns64 nat64 option108-dhcpd; do
  [ -f "$(ipk "$p")" ] || { fail "setup" "no $p package in $DIST/$ARCH (make -f Makefile.openwrt)"; finish; }
done
[ -c /dev/net/tun ] || { fail "setup" "no /dev/net/tun on this host (modprobe tun)"; finish; }

T=$(mktemp -d /tmp/v6only-network.XXXXXX)
C=v6o-c-$$ # IPv6-only client (nat64, dns64)
S=v6o-s-$$ # IPv4-only server
D=v6o-d-$$ # DHCP client
DNSMASQ=""
DHCPCD=""
cleanup() {
  [ -n "$DHCPCD" ] && { ip netns exec "$D" dhcpcd -4 -x o108c >/dev/null 2>&1; kill "$DHCPCD" 2>/dev/null; }
  [ -n "$DNSMASQ" ] && kill "$DNSMASQ" 2>/dev/null
  wait 2>/dev/null
  labs_cleanup
  for n in "$C" "$S" "$D"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

lab_start --net --bind /dev/net/tun:/dev/net/tun || finish
LABPID=$(cat "$L/pid")
R=$(lroot)
for p in fw-helper dns64 nat64 option108-dhcpd; do cp "$(ipk "$p")" "$L/lab/share/"; done
# nat64 depends on kmod-tun: the lab's kernel is the host's, whose TUN is bound in above.
printf 'Package: kmod-tun\nVersion: 6.6.110-1\nStatus: install user installed\nArchitecture: %s\n\n' \
  "$ARCH" >>"$R/usr/lib/opkg/status"
: >"$R/usr/lib/opkg/info/kmod-tun.list"
lexec reload_config

# has TEXT PATTERN: TEXT contains PATTERN (else TEXT is shown)
has() { grep -q -- "$2" <<<"$1" || { echo "$1"; return 1; }; }
svc_json() { lexec ubus call service list "{\"name\":\"$1\"}"; }
running() { [ "$(svc_json "$1" | "$JF" -e "@['$1'].instances.*.running")" = true ]; }
no_instance() { [ -z "$(svc_json "$1" | "$JF" -e "@['$1'].instances.*")" ]; }
status_of() { lexec "$1" status 2>/dev/null | "$JF" -e "$2"; }
status_ge() { local v; v=$(status_of "$1" "$2"); [ "${v:-0}" -ge "$3" ]; }

# The namespaces and links (the lab side is configured as netifd would: addresses, forwarding)
for n in "$C" "$S" "$D"; do ip netns add "$n" || { fail "setup" "ip netns add $n"; finish; }; done
ip link add c0 netns "$C" type veth peer name lan6 netns "$LABPID"
ip link add s0 netns "$S" type veth peer name wan4 netns "$LABPID"
ip link add o108c netns "$D" type veth peer name o108s netns "$LABPID"
for n in "$C" "$S" "$D"; do ip -n "$n" link set lo up; done
ip -n "$C" link set c0 up
ip -n "$C" addr add 2001:db8:1::2/64 dev c0 nodad
ip -n "$C" -6 route add default via 2001:db8:1::1
ip -n "$S" link set s0 up
ip -n "$S" addr add 192.0.2.2/24 dev s0
ip -n "$S" route add default via 192.0.2.1
ip netns exec "$S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$D" link set o108c up
lnet sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
lnet ip link set lo up
lnet ip link set lan6 up
lnet ip addr add 2001:db8:1::1/64 dev lan6 nodad
lnet ip link set wan4 up
lnet ip addr add 192.0.2.1/24 dev wan4
lnet ip link set o108s up
lnet ip addr add 10.108.0.1/24 dev o108s

# --- the router's firewall as OpenWrt ships it (zones by device: no netifd here): lan accepts,
# wan rejects and is masqueraded, lan may forward to wan. The NAT64's TUN device is in no zone:
# what crosses it needs the rules fw-helper (a dependency of nat64) makes from nat64's drop-in.
cat >"$R/etc/config/firewall" <<'EOF'
config defaults
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'
	option synflood_protect '1'

config zone 'lan'
	option name 'lan'
	list device 'lan6'
	list device 'o108s'
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
lsh "/etc/init.d/firewall start" >/dev/null 2>&1
check "firewall4 running with the lan and wan zones" lnet nft list chain inet fw4 input_lan
out=$(lsh "opkg install /lab/share/fw-helper_*_$ARCH.ipk" 2>&1)
check "fw-helper: opkg install" has "$out" "Configuring fw-helper"

# --- dns64 next to dnsmasq: dnsmasq answers on port 53 first (wildcard, as `dnsmasq` does by
# default), with a local name that has an A record only (a router's dnsmasq has local=/lan/:
# it answers such names itself, NODATA for AAAA)
start_dnsmasq() { # PORT
  # lab.sh net and nsenter exec it: $! is dnsmasq's pid
  "$LAB_SH" net "$L" dnsmasq -k -C /dev/null --port="$1" --no-resolv --no-hosts --pid-file= \
    --local=/test/ --host-record=v4only.test,198.51.100.10 --log-facility=- 2>>"$T/dnsmasq.log" &
  DNSMASQ=$!
  wait_for 5 lnet dig +short +time=1 +tries=1 -p "$1" @127.0.0.1 v4only.test A
}
stop_dnsmasq() { kill "$DNSMASQ"; wait "$DNSMASQ" 2>/dev/null; DNSMASQ=""; }
check "dnsmasq answers on port 53 in the lab" start_dnsmasq 53
out=$(lsh "opkg install /lab/share/dns64_*_$ARCH.ipk" 2>&1)
check "dns64: opkg install (postinst enables and starts it)" has "$out" "Configuring dns64"
sleep 1
check "dns64: port 53 taken: not started, no instance" no_instance dns64
check "dns64: logread says port 53 is in use and what to do" \
  eval 'lexec logread | grep "dns64: port 53 is in use by" | grep -q "dhcp.@dnsmasq\[0\].port"'
out=$(lnet dig +short +time=2 +tries=1 @127.0.0.1 v4only.test A 2>&1)
check "dnsmasq still answers on port 53 ($out)" test "$out" = 198.51.100.10

# The README's way: dnsmasq moves to 5353 and becomes dns64's upstream.
stop_dnsmasq
check "dnsmasq restarted on port 5353" start_dnsmasq 5353
# (the config arrived with the package: reload_config's first run after that only records it)
lexec reload_config
# The network-specific prefix nat64 uses below (the well-known one is for global IPv4 only).
lsh "uci add_list dns64.main.upstream='127.0.0.1#5353' && uci set dns64.main.prefix=2001:db8:64::/96 &&
  uci commit dns64 && reload_config" >/dev/null 2>&1
check "dns64: uci commit + reload_config -> procd starts it" wait_for 10 running dns64
out=$(ip netns exec "$C" dig +short +time=2 +tries=2 @2001:db8:1::1 v4only.test AAAA 2>&1)
check "dig AAAA from the IPv6-only client: synthesized from dnsmasq's A record ($out)" \
  test "$out" = 2001:db8:64::c633:640a
check "dns64 status counts the synthesis" status_ge dns64 @.synthesized 1
out=$(lnet dig +short +time=2 +tries=1 -p 5353 @127.0.0.1 v4only.test A 2>&1)
check "dnsmasq still answers on port 5353 ($out)" test "$out" = 198.51.100.10

# --- nat64: installed as shipped (postinst starts it), then a network-specific prefix
# 2001:db8:64::/96 (the well-known one refuses non-global IPv4 such as 192.0.2.2); pool4 as
# shipped, 192.168.255.0/30, routed by nat64 to its TUN device
out=$(lsh "opkg install /lab/share/nat64_*_$ARCH.ipk" 2>&1)
check "nat64: opkg install" has "$out" "Configuring nat64"
lsh "uci set nat64.main.prefix=2001:db8:64::/96 && uci set nat64.main.max_sessions=1000 &&
  uci set nat64.main.max_sessions_per_host=0 && uci commit nat64 && /etc/init.d/nat64 restart" >/dev/null 2>&1
check "nat64: running under procd" wait_for 10 running nat64
check "nat64: translating the prefix we configured" wait_for 5 eval '[ "$(status_of nat64 @.prefix)" = 2001:db8:64::/96 ]'
out=$(ip netns exec "$C" ping -6 -c 3 -i 0.2 -W 2 2001:db8:64::192.0.2.2 2>&1)
check "ping from the IPv6-only client to 2001:db8:64::192.0.2.2 reaches the IPv4 server" \
  has "$out" " 0% packet loss"
check "nat64 status: v6_to_v4 and v4_to_v6 translations counted" \
  eval 'status_ge nat64 @.translations.v6_to_v4 3 && status_ge nat64 @.translations.v4_to_v6 3'

# --- option108-dhcpd: a pool on o108s (no netifd in the lab: the pool names its device)
printf "config dhcp 'lan'\n\toption device 'o108s'\n\toption start '100'\n\toption limit '50'\n\toption leasetime '2m'\n" \
  >"$R/etc/config/dhcp"
out=$(lsh "opkg install /lab/share/option108-dhcpd_*_$ARCH.ipk" 2>&1)
check "option108-dhcpd: opkg install" has "$out" "Configuring option108-dhcpd"
lexec reload_config
lsh "uci set option108-dhcpd.main.enabled=1 && uci commit option108-dhcpd && reload_config" >/dev/null 2>&1
check "option108-dhcpd: enabled + reload_config -> running under procd" wait_for 10 running option108-dhcpd
cat >"$T/hook.sh" <<EOF
#!/bin/sh
env | grep -E '^(reason|interface|new_)' | sort >"$T/dhcpcd.\$interface.\$reason"
EOF
chmod +x "$T/hook.sh"
printf 'noipv4ll\n' >"$T/dhcpcd.conf"
ip netns exec "$D" dhcpcd -4 -B -f "$T/dhcpcd.conf" -c "$T/hook.sh" -j "$T/dhcpcd.log" o108c >/dev/null 2>&1 &
DHCPCD=$!
if wait_for 20 test -f "$T/dhcpcd.o108c.BOUND"; then
  ip4=$(sed -n 's/^new_ip_address=//p' "$T/dhcpcd.o108c.BOUND")
  pass "dhcpcd gets a lease over the veth ($ip4)"
  check "dhcpcd: the address is in the pool (10.108.0.100-149) and on its interface" \
    eval '[ "${ip4%.*}" = 10.108.0 ] && [ "${ip4##*.}" -ge 100 ] && [ "${ip4##*.}" -le 149 ] && ip -n "$D" -4 addr show dev o108c | grep -q "inet $ip4/24"'
  check "the lab's /tmp/dhcp.leases lists it" grep -q " $ip4 " "$R/tmp/dhcp.leases"
  check "option108-dhcpd status: one ack" status_ge option108-dhcpd @.counters.acks 1
else
  fail "dhcpcd gets a lease over the veth" "$(tail -n 5 "$T/dhcpcd.log" 2>/dev/null)"
fi

finish
