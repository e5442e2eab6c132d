#!/bin/bash
# network.sh - the daemons that need a network, installed by the real opkg into an OpenWrt
# lab with its own network namespace and run by the real procd, each with one real exchange:
#
#   dns64   with a real dnsmasq holding port 53 (as on a stock router): installing dns64
#           leaves it alone (start refused, logread says why, dnsmasq still answers); after
#           the README's steps (dnsmasq on 5353 as dns64's upstream) dig from an IPv6-only
#           client gets an AAAA synthesized from dnsmasq's A record, from dns64 on the LAN's
#           addresses; a new LAN address (an interface event) restarts it listening there too.
#   nat64   ping from an IPv6-only namespace to <prefix>:<IPv4> reaches an IPv4-only one
#           through firewall4 and the rules fw-helper makes from nat64's drop-in.
#   option108-dhcpd  dhcpcd in a namespace gets a lease on the LAN, the pool configured by
#           its logical interface ('lan') as on a router.
#
#   tests/openwrt/network.sh      (as root; DIST, V6ONLY_LAB and LAB_SH as in lib.sh)
#
# The lab is the router: br-lan (a bridge of two veth ports) and wan4, firewall4 with
# OpenWrt's stock zones, and a stand-in for netifd (none runs in the lab) that answers
# `network.interface` on ubus from a JSON file and notifies procd of changes as netifd does.
# The clients and the IPv4 server are namespaces made here. dnsmasq, dig, ping and dhcpcd are
# Debian's, run on the host inside those namespaces (dnsmasq in the lab's: `lab.sh net`).
set -u
. "$(dirname "$0")/lib.sh"
lab_ready_or_finish
setup_or_finish iproute2 iputils-ping bind9-dnsutils dnsmasq-base dhcpcd-base

daemons_ready_or_finish

T=$(mktemp -d /tmp/v6only-network.XXXXXX)
C=v6o-c-$$ # IPv6-only client (nat64, dns64), on br-lan
S=v6o-s-$$ # IPv4-only server, behind wan4
D=v6o-d-$$ # DHCP client, on br-lan
DNSMASQ=""
DHCPCD=""
cleanup() {
  [ -n "$DHCPCD" ] && { ip netns exec "$D" dhcpcd -4 -x d0 >/dev/null 2>&1; kill "$DHCPCD" 2>/dev/null; }
  [ -n "$DNSMASQ" ] && kill "$DNSMASQ" 2>/dev/null
  wait 2>/dev/null
  labs_cleanup
  for n in "$C" "$S" "$D"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

lab_start --net --bind /dev/net/tun:/dev/net/tun || finish
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
inst() { svc_json "$1" | "$JF" -e "@['$1'].instances.*.$2"; }
running() { [ "$(inst "$1" running)" = true ]; }
no_instance() { [ -z "$(svc_json "$1" | "$JF" -e "@['$1'].instances.*")" ]; }
new_pid() { local p; p=$(inst "$1" pid); [ -n "$p" ] && [ "$p" != "$2" ] && running "$1"; }
status_of() { lexec "$1" status 2>/dev/null | "$JF" -e "$2"; }
status_ge() { local v; v=$(status_of "$1" "$2"); [ "${v:-0}" -ge "$3" ]; }
# reloaded_in_place SERVICE PID: the daemon PID logs its SIGHUP reload and is still the instance
logged_reload() { lexec logread | grep -q "$1\[$2\]: reloaded"; }
reloaded_in_place() { wait_for 10 logged_reload "$1" "$2" && [ "$(inst "$1" pid)" = "$2" ]; }
# dig_aaaa SERVER: the AAAA answer for v4only.test from SERVER, asked by the IPv6-only client
dig_aaaa() { ip netns exec "$C" dig +short +time=2 +tries=2 @"$1" v4only.test AAAA 2>&1; }

# --- the links: the lab side is set up as netifd would (bridge, addresses, forwarding)
lan_wan_links "$C" "$S" "$D" || { fail "setup" "the lab's links"; finish; }

# --- netifd's part on ubus: network.interface (dump, and lab_notify to send netifd's
# "interface.update" notification) and network.interface.<name> (status), from JSON files;
# run by procd with `watch network.interface`, as /etc/init.d/network runs netifd, so that
# procd subscribes and fires the init scripts' interface triggers.
mkdir -p "$L/lab/share/netifd"
lan_state() { # IPV6-ADDRESS...: lan up on br-lan with 10.108.0.1/24 and these /64 addresses
  local a v6=""
  for a in "$@"; do v6+="${v6:+,}{\"address\":\"$a\",\"mask\":64}"; done
  printf '{"interface":"lan","up":true,"device":"br-lan","l3_device":"br-lan","ipv4-address":[{"address":"10.108.0.1","mask":24}],"ipv6-address":[%s]}\n' \
    "$v6" >"$L/lab/share/netifd/lan.json"
}
lan_down() {
  echo '{"interface":"lan","up":false,"device":"br-lan","ipv4-address":[],"ipv6-address":[]}' \
    >"$L/lab/share/netifd/lan.json"
}
lan_state 2001:db8:1::1
netifd_stand_in
lan_is() { # ADDRESSES: what /lib/functions/network.sh reads for lan
  [ "$(lsh '. /lib/functions/network.sh; network_get_ipaddrs_all a lan; echo $a')" = "$1" ]
}
check "netifd stand-in: network_get_ipaddrs_all lan = 10.108.0.1 2001:db8:1::1" \
  wait_for 5 lan_is "10.108.0.1 2001:db8:1::1"
lan_event() { lsh "ubus call network.interface lab_notify '{\"interface\":\"lan\"}'" >/dev/null; }

# --- the router's firewall as OpenWrt ships it (lan_wan_firewall). The NAT64's TUN device
# is in no zone: what crosses it needs the rules fw-helper (a dependency of nat64) makes
# from nat64's drop-in.
lan_wan_firewall
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
env=$(inst dns64 env.DNS64_LISTEN)
check "dns64: listens on the LAN's addresses from netifd (DNS64_LISTEN=$env)" test "$env" = "10.108.0.1 2001:db8:1::1"
out=$(dig_aaaa 2001:db8:1::1)
check "dig AAAA from the IPv6-only client: synthesized from dnsmasq's A record ($out)" \
  test "$out" = 2001:db8:64::c633:640a
check "dns64 status counts the synthesis" status_ge dns64 @.synthesized 1
out=$(lnet dig +short +time=2 +tries=1 -p 5353 @127.0.0.1 v4only.test A 2>&1)
check "dnsmasq still answers on port 5353 ($out)" test "$out" = 198.51.100.10

# An interface event without a change: a reload in place. A new LAN address: a restart.
pid=$(inst dns64 pid)
lan_event
check "dns64: lan interface event, same addresses: reloaded in place (same pid $pid)" \
  reloaded_in_place dns64 "$pid"
lnet ip addr add 2001:db8:1::53/64 dev br-lan nodad
lan_state 2001:db8:1::1 2001:db8:1::53
lan_event
check "dns64: lan gains 2001:db8:1::53 (interface event) -> restarted by procd (new pid)" wait_for 10 new_pid dns64 "$pid"
env=$(inst dns64 env.DNS64_LISTEN)
check "dns64: ... with the new address (DNS64_LISTEN=$env)" test "$env" = "10.108.0.1 2001:db8:1::1 2001:db8:1::53"
out=$(dig_aaaa 2001:db8:1::53)
check "dig AAAA at the new address 2001:db8:1::53 ($out)" test "$out" = 2001:db8:64::c633:640a
# Renumbered to an address of the same length: procd compares env values but their last bytes,
# so the restart must not hang on DNS64_LISTEN alone.
pid=$(inst dns64 pid)
lnet ip addr del 2001:db8:1::53/64 dev br-lan
lnet ip addr add 2001:db8:1::54/64 dev br-lan nodad
lan_state 2001:db8:1::1 2001:db8:1::54
lan_event
check "dns64: lan renumbered ::53 -> ::54 (same length) -> restarted by procd (new pid)" wait_for 10 new_pid dns64 "$pid"
out=$(dig_aaaa 2001:db8:1::54)
check "dig AAAA at 2001:db8:1::54 ($out)" test "$out" = 2001:db8:64::c633:640a

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

# --- option108-dhcpd: a pool for the logical interface 'lan', as in a router's
# /etc/config/dhcp; the daemon asks netifd (here its stand-in) for lan's device and subnet
printf "config dhcp 'lan'\n\toption interface 'lan'\n\toption start '100'\n\toption limit '50'\n\toption leasetime '2m'\n" \
  >"$R/etc/config/dhcp"
out=$(lsh "opkg install /lab/share/option108-dhcpd_*_$ARCH.ipk" 2>&1)
check "option108-dhcpd: opkg install" has "$out" "Configuring option108-dhcpd"
lexec reload_config
# As at boot, lan is not up yet when the daemon is started: refused, then started by the
# interface trigger when netifd says lan is up.
lan_down
lan_event
lsh "uci set option108-dhcpd.main.enabled=1 && uci commit option108-dhcpd && reload_config" >/dev/null 2>&1
o108_refused() { lexec logread | grep -q "option108-dhcpd: error: .*dhcp.lan.interface"; }
check "option108-dhcpd: enabled while lan is down: logread names dhcp.lan.interface" wait_for 10 o108_refused
check "option108-dhcpd: ... not started" no_instance option108-dhcpd
lan_state 2001:db8:1::1 2001:db8:1::53
lan_event
check "option108-dhcpd: lan up (interface event) -> procd starts it" wait_for 10 running option108-dhcpd
check "option108-dhcpd: pool 'lan' on br-lan, as netifd says" \
  eval '[ "$(status_of option108-dhcpd @.pools[0].device)" = br-lan ]'
cat >"$T/hook.sh" <<EOF
#!/bin/sh
env | grep -E '^(reason|interface|new_)' | sort >"$T/dhcpcd.\$interface.\$reason"
EOF
chmod +x "$T/hook.sh"
printf 'noipv4ll\n' >"$T/dhcpcd.conf"
ip netns exec "$D" dhcpcd -4 -B -f "$T/dhcpcd.conf" -c "$T/hook.sh" -j "$T/dhcpcd.log" d0 >/dev/null 2>&1 &
DHCPCD=$!
if wait_for 20 test -f "$T/dhcpcd.d0.BOUND"; then
  ip4=$(sed -n 's/^new_ip_address=//p' "$T/dhcpcd.d0.BOUND")
  pass "dhcpcd gets a lease on the LAN ($ip4)"
  check "dhcpcd: the address is in the pool (10.108.0.100-149) and on its interface" \
    eval '[ "${ip4%.*}" = 10.108.0 ] && [ "${ip4##*.}" -ge 100 ] && [ "${ip4##*.}" -le 149 ] && ip -n "$D" -4 addr show dev d0 | grep -q "inet $ip4/24"'
  check "the lab's /tmp/dhcp.leases lists it" grep -q " $ip4 " "$R/tmp/dhcp.leases"
  check "option108-dhcpd status: one ack" status_ge option108-dhcpd @.counters.acks 1
else
  fail "dhcpcd gets a lease on the LAN" "$(tail -n 5 "$T/dhcpcd.log" 2>/dev/null)"
fi
pid=$(inst option108-dhcpd pid)
lan_event
check "option108-dhcpd: lan interface event -> reloaded in place (same pid $pid)" \
  reloaded_in_place option108-dhcpd "$pid"

finish
