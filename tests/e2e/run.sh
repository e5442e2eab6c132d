#!/usr/bin/env bash
# run.sh - the e2e suite: the whole bundle end to end in the network of tests/e2e/network.sh
# (two OpenWrt labs as routers, an internet with IPv4-only servers, real clients), as the
# seed's router runs it. Ends with "N passed, N failed" and the time it took.
#
#   the network    every daemon runs under procd on router A, ripng on router B; fw-helper's
#                  rules are in fw4
#   client6        dhcpcd asks for option 108 and gets no IPv4 address; SLAAC address, default
#                  route and DNS server from the RAs; dig through dns64 (AAAA synthesized from the
#                  IPv4-only NSD's A), curl over NAT64 to the IPv4-only web server (which sees
#                  router A's WAN address), curl over IPv6 to the IPv6 server, RFC 7050
#                  (ipv4only.arpa gives the prefix), traceroute through the translator
#   client4        udhcpc gets an IPv4 lease (router, DNS), counted by option108-dhcpd as a
#                  lease beside the IPv6-only client; dig and curl over IPv4 (masquerade)
#   routing        router B's LAN from router A's LAN over routes ripng learnt, both ways
#   firewall       a new connection from the internet to client6 refused (from router B's LAN
#                  it works), DNS to router A from the WAN refused (from the LAN it answers),
#                  RIPng from a global source dropped by router A's fw4 before ripng sees it
#                  (the same Response from a link-local source is learnt, then withdrawn)
#   interop        BIRD 2 in place of ripng on router B: routes both ways again
#   reloads        each daemon's config changed and reloaded in place (fw4 and fw-helper too) while
#                  a TCP connection through NAT64 keeps echoing
#   kills          each daemon killed by pid: procd respawns it, the clients get through again
#
#   tests/e2e/run.sh              (as root; DIST, V6ONLY_LAB and LAB_SH as in tests/openwrt/lib.sh)
set -u
START=$SECONDS
. "$(dirname "$0")/network.sh"
lab_ready_or_finish
# shellcheck disable=SC2086 # a word list
setup_or_finish $E2E_PACKAGES
daemons_ready_or_finish
[ -f "$(ipk ripng)" ] || { fail "setup" "no ripng package in $DIST/$ARCH (make -f Makefile.openwrt)"; finish; }
workdir W e2e
chmod 755 "$W"

if e2e_up >"$W/up.log" 2>&1; then
  pass "the network comes up (2 OpenWrt labs with the bundle, an internet, 3 clients)"
else
  fail "the network comes up" "$(tail -n 5 "$W/up.log")"
  finish
fi
check "the clients are configured (leases, SLAAC, RIPng routes)" e2e_wait_clients

# --- helpers
# has TEXT PATTERN: TEXT contains PATTERN (else TEXT is shown)
has() { grep -q -- "$2" <<<"$1" || { echo "$1"; return 1; }; }
status_of() { "${1}_exec" "$2" status 2>/dev/null | "$JF" -e "$3"; } # ROUTER DAEMON PATH
status_ge() { local v; v=$(status_of "$1" "$2" "$3"); [ "${v:-0}" -ge "$4" ] || { echo "$2 $3 = '$v'"; return 1; }; }
new_pid() { local p; p=$(svc_pid "$1" "$2"); [ -n "$p" ] && [ "$p" != "$3" ] && svc_running "$1" "$2"; }
c6() { in_ns c6 "$@"; }
c4() { in_ns c4 "$@"; }
SYNTH=${NAT64_PREFIX}c633:6450 # 198.51.100.80 in the NAT64 prefix
dig6() { c6 dig +short +time=2 +tries=2 "$@" 2>&1; }
curl6() { c6 curl -s --max-time 5 "$@"; }
ra_route_b() { ip -n "$(ns_of ra)" -6 route show 2001:db8:b::/64 | grep -Eq "via fe80::b dev ab0 proto (rip|189|bird)"; }
ping_cb() { c6 ping -6 -c 2 -i 0.3 -W 2 "$(global_addr cb)"; }

# --- the network
for s in dns64 nat64 option108-dhcpd ripng; do
  check "router A: $s running under procd" svc_running ra "$s"
done
check "router B: ripng running under procd" svc_running rb ripng
fw_a() { ip netns exec "$(ns_of ra)" nft list ruleset; }
check "router A: fw-helper's rules in fw4 (NAT64 forwarding, pool masquerade, RIPng on ab0)" \
  eval 'r=$(fw_a) && grep -q "oifname \"nat64\"" <<<"$r" && grep -q "192.168.255.0/30" <<<"$r" &&
    grep -q "iifname \"ab0\" ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept" <<<"$r"'

# --- client6: IPv6-only
check "client6: dhcpcd got option 108 ('IPv6-Only Preferred received (1800 seconds)')" \
  wait_for 10 grep -q "IPv6-Only Preferred received (1800 seconds)" "$W/dhcpcd.log"
check "client6: ... and has no IPv4 address" eval '! c6 ip -4 addr show dev "$(ns_of c6)" | grep -q inet'
a6=$(global_addr c6)
check "client6: its one global address is dhcpcd's SLAAC address from its MAC ($a6)" test "$a6" = 2001:db8:a::ff:fe00:6
check "client6: default route from the RA (via router A's link-local)" \
  eval 'c6 ip -6 route show default | grep -q "via fe80::"'
check "client6: DNS server from the RA's RDNSS: 2001:db8:a::1" test "$(c6_rdnss)" = 2001:db8:a::1
check "option108-dhcpd: one IPv6-only client on lan, option 108 sent" \
  eval '[ "$(status_of ra option108-dhcpd @.pools[0].ipv6_only_clients)" = 1 ] && status_ge ra option108-dhcpd @.counters.ipv6_only 1'
out=$(dig6 AAAA v4only.example)
check "client6: dig AAAA v4only.example -> $SYNTH (synthesized by dns64 from NSD's A)" test "$out" = "$SYNTH"
check "dns64 status counts the synthesis" status_ge ra dns64 @.synthesized 1
out=$(curl6 http://v4only.example/)
check "client6: curl http://v4only.example/ over NAT64 ($out)" test "$out" = "hello from the IPv4-only server"
check "... the IPv4-only server saw router A's WAN address 203.0.113.1" grep -q "^203.0.113.1 .*GET / " "$W/www4.log"
check "nat64 status: translations both ways" \
  eval 'status_ge ra nat64 @.translations.v6_to_v4 1 && status_ge ra nat64 @.translations.v4_to_v6 1'
out=$(dig6 AAAA ipv4only.arpa | sort | paste -sd' ')
check "client6: RFC 7050: ipv4only.arpa AAAA gives the NAT64 prefix ($out)" \
  test "$out" = "${NAT64_PREFIX}c000:aa ${NAT64_PREFIX}c000:ab"
out=$(dig6 AAAA v6.example)
check "client6: v6.example keeps its own AAAA ($out)" test "$out" = "$WEB6"
out=$(curl6 http://v6.example/)
check "client6: curl http://v6.example/ over IPv6 ($out)" test "$out" = "hello from the IPv6 server"
trace=$(c6 traceroute -6 -n -q 1 -w 2 -m 6 v4only.example 2>&1)
check "client6: traceroute through the translator: router A, then $SYNTH (ICMPv4 translated)" \
  eval '[ "$(sed -n "2p" <<<"$trace" | awk "{print \$1, \$2}")" = "1 2001:db8:a::1" ] &&
    [ "$(tail -n 1 <<<"$trace" | awk "{print \$1, \$2}")" = "2 $SYNTH" ] || { echo "$trace"; false; }'

# --- client4: legacy, IPv4
ip4=$(sed -n 's/^ip=//p' "$W/c4.bound" 2>/dev/null)
check "client4: udhcpc got a lease from the pool ($ip4)" \
  eval '[ "${ip4%.*}" = 10.108.0 ] && [ "${ip4##*.}" -ge 100 ] && [ "${ip4##*.}" -le 149 ] && c4 ip -4 addr show dev "$(ns_of c4)" | grep -q "inet $ip4/24"'
check "client4: router and DNS 10.108.0.1" \
  eval 'grep -qx router=10.108.0.1 "$W/c4.bound" && grep -qx dns=10.108.0.1 "$W/c4.bound"'
check "option108-dhcpd: client4 holds the one address in use (lease file too)" \
  eval '[ "$(status_of ra option108-dhcpd @.pools[0].in_use)" = 1 ] && grep -q " $ip4 " "$("$LAB_SH" root "$LA")/tmp/dhcp.leases"'
out=$(c4 dig +short +time=2 +tries=2 A v4only.example 2>&1)
check "client4: dig A v4only.example through dns64 on 10.108.0.1 ($out)" test "$out" = "$WEB4"
out=$(c4 curl -s --max-time 5 http://v4only.example/)
check "client4: curl over IPv4 (fw4 masquerade) ($out)" test "$out" = "hello from the IPv4-only server"

# --- routing: router B's LAN over RIPng
check "router A: 2001:db8:b::/64 learnt by ripng (via fe80::b on ab0)" wait_for 20 ra_route_b
check "router B: 2001:db8:a::/64 learnt by ripng (via fe80::a on ba0)" \
  wait_for 20 eval 'ip -n "$(ns_of rb)" -6 route show 2001:db8:a::/64 | grep -Eq "via fe80::a dev ba0 proto (rip|189)"'
check "router A: 'ripng status' names router B as a neighbour" \
  eval '"$JF" -s "$(ra_exec ripng status)" -e "@.neighbors[@.interface=\"ab0\"].address" | grep -qx "fe80::b"'
check "client6 reaches clientb on router B's LAN ($(global_addr cb))" ping_cb

# --- firewall
spawn "$(ns_of c6)" python3 -m http.server --bind :: 8080 >/dev/null 2>&1
wait_for 5 eval 'c6 ss -Hltn "sport = :8080" | grep -q .'
svc() { in_ns "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://[$a6]:8080/"; }
check "a service on client6 is reachable from router B's LAN (forwarded core -> lan)" eval '[ "$(svc cb)" = 200 ]'
check "... but a new connection from the internet is refused by fw4 (wan -> lan)" eval '[ "$(svc inet)" != 200 ]'
dns_wan=$(in_ns inet dig +time=2 +tries=1 @2001:db8:a::1 AAAA v4only.example 2>&1)
check "DNS to router A (2001:db8:a::1) from the internet: refused by fw4, no answer" \
  eval 'grep -q "connection refused" <<<"$dns_wan" && ! grep -q "$SYNTH" <<<"$dns_wan" || { echo "$dns_wan"; false; }'
check "... from the LAN: answered" eval '[ "$(dig6 @2001:db8:a::1 AAAA v4only.example)" = "$SYNTH" ]'
# ripng_from ROLE DEV SOURCE METRIC: a RIPng Response for 2001:db8:666::/64 (port 521, hop
# limit 255, to ff02::9, as a neighbour sends it) from SOURCE, built on a raw socket (the
# routing daemon there holds port 521).
ripng_from() {
  in_ns "$1" python3 - "$2" "$3" "$4" <<'EOF'
import socket, struct, sys
dev, src, metric = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = socket.if_nametoindex(dev)
rte = socket.inet_pton(socket.AF_INET6, "2001:db8:666::") + struct.pack("!HBB", 0, 64, metric)
payload = struct.pack("!BBH", 2, 1, 0) + rte
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.setsockopt(socket.IPPROTO_IPV6, 7, 6)  # IPV6_CHECKSUM: the kernel fills the UDP checksum
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
s.bind((src, 0, 0, idx))
s.sendto(struct.pack("!HHHH", 521, 521, 8 + len(payload), 0) + payload, ("ff02::9", 0, 0, idx))
EOF
}
route_666() { ip -n "$(ns_of ra)" -6 route show 2001:db8:666::/64 | grep -q .; }
ip -n "$(ns_of rb)" addr add 2001:db8:ab::b/64 dev ba0 nodad
bad_a=$(status_of ra ripng @.counters.bad_source_address)
ripng_from rb ba0 2001:db8:ab::b 1
sleep 1
check "RIPng from a global source: dropped by router A's fw4 (fw-helper's rule) before ripng sees it" \
  eval '[ "$(status_of ra ripng @.counters.bad_source_address)" = "$bad_a" ] && ! route_666'
ip -n "$(ns_of rb)" addr del 2001:db8:ab::b/64 dev ba0
ripng_from rb ba0 fe80::b 1
check "... the same Response from router B's link-local address: router A learns 2001:db8:666::/64" wait_for 5 route_666
ripng_from rb ba0 fe80::b 16
check "... and its withdrawal (metric 16) removes it" wait_for 5 eval '! route_666'

# --- interop: BIRD 2 in place of ripng on router B
rb_sh "/etc/init.d/ripng stop" >/dev/null 2>&1
check "router B: ripng stopped, its routes gone (router A withdrew 2001:db8:b::/64)" \
  wait_for 15 eval '! ra_route_b && ! ip -n "$(ns_of rb)" -6 route show proto 189 | grep -q .'
check "router B: BIRD up" bird_rip_peer "$(ns_of rb)" "$W/bird" 10.0.0.2 lan0 ba0
check "router A: 2001:db8:b::/64 learnt from BIRD" wait_for 30 ra_route_b
check "router B (BIRD): 2001:db8:a::/64 learnt from our ripng" \
  wait_for 30 bird_route "$W/bird" 2001:db8:a::/64 "via fe80::a on ba0"
check "client6 reaches clientb again, over BIRD's routes" wait_for 10 ping_cb

# --- reloads under traffic: one TCP connection through NAT64 to the echo server, a line
# every 0.2 s; $W/tcp.count is the number of lines echoed so far, "error ..." if it broke.
spawn "$(ns_of c6)" python3 -c '
import os, socket, sys, time
def count(what):  # replaced whole: a reader never sees it half written
    open(sys.argv[2] + ".new", "w").write("%s\n" % what)
    os.replace(sys.argv[2] + ".new", sys.argv[2])
s = socket.create_connection((sys.argv[1], 7), timeout=5)
f = s.makefile("rwb", buffering=0)
n = 0
try:
    while True:
        f.write(b"line %d\n" % n)
        if f.readline() != b"line %d\n" % n:
            raise Exception("wrong echo")
        n += 1
        count(n)
        time.sleep(0.2)
except Exception as e:
    count("error after %d: %s" % (n, e))
' "$SYNTH" "$W/tcp.count"
TCP=$SPAWNED_PID
tcp_count() { local n; n=$(cat "$W/tcp.count" 2>/dev/null); [[ $n =~ ^[0-9]+$ ]] && echo "$n" || echo "${n:-none}"; }
# tcp_moves: the connection echoes lines beyond the count when it was called
tcp_moves() {
  local n0 n
  n0=$(tcp_count)
  [[ $n0 =~ ^[0-9]+$ ]] || { echo "tcp.count: $n0"; return 1; }
  wait_for 5 eval 'n=$(tcp_count); [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt "$n0" ]' || { echo "tcp.count: $(tcp_count) (was $n0)"; return 1; }
}
check "a TCP connection through NAT64 echoes" wait_for 5 tcp_moves
# reload_under_traffic ROUTER DAEMON 'uci commands': in place (same pid), the connection lives
reload_under_traffic() {
  local r=$1 d=$2 pid
  pid=$(svc_pid "$r" "$d")
  MARK=$((${MARK:-0} + 1))
  "${r}_exec" logger -t e2e "MARK-$MARK"
  "${r}_sh" "{ $3; } >/dev/null && uci commit && reload_config"
  check "reload $d ($3): reloaded in place (pid $pid)" \
    wait_for 10 eval '"${r}_exec" logread | sed -n "/e2e: MARK-$MARK\$/,\$p" | grep -q "$d\[$pid\]: reloaded" && [ "$(svc_pid "$r" "$d")" = "$pid" ]'
  check "... the TCP connection through NAT64 still echoes" tcp_moves
}
reload_under_traffic ra nat64 "uci set nat64.main.max_sessions=5000"
check "... nat64 has the new limit" eval '[ "$(status_of ra nat64 @.sessions.max)" = 5000 ]'
reload_under_traffic ra dns64 "uci set dns64.main.cache_size=2048"
reload_under_traffic ra option108-dhcpd "uci set dhcp.lan.leasetime=3m"
reload_under_traffic ra ripng "uci set ripng.@interface[0].cost=2"
check "... router A's route to router B's LAN has the new cost (metric 1 + 2)" \
  wait_for 15 eval 'ra_exec ripng routes | grep -Eq "^2001:db8:b::/64 +3 +rip "'
ra_sh "/etc/init.d/firewall reload" >/dev/null 2>&1
check "fw4 reload: the TCP connection through NAT64 still echoes" tcp_moves
ra_sh "/etc/init.d/fw-helper reload" >/dev/null 2>&1
check "fw-helper reload (its snippets rewritten, fw4 reloaded): the connection still echoes" tcp_moves
check "... and fw-helper's rules are in fw4 again" eval 'fw_a | grep -q "oifname \"nat64\""'
check "... it is the one connection the echo server accepted from client6's side" \
  eval '[ "$(grep -c "^accepted " "$W/echo.log")" = 1 ]'
kill "$TCP" 2>/dev/null

# --- kills: procd respawns each daemon, the clients get through again
# kill_respawn DAEMON 'check that clients recover': kill -9 by pid, a new pid, then the check
kill_respawn() {
  local d=$1 pid
  pid=$(svc_pid ra "$d")
  ra_exec kill -9 "$pid"
  check "kill -9 $d (pid $pid): procd respawns it" wait_for 10 new_pid ra "$d" "$pid"
  check "... $2" wait_for 20 eval "$3"
}
kill_respawn dns64 "client6 resolves through it again" '[ "$(dig6 AAAA v4only.example)" = "$SYNTH" ]'
kill_respawn nat64 "client6 reaches the IPv4-only server again" '[ "$(curl6 http://v4only.example/)" = "hello from the IPv4-only server" ]'
pid=$(svc_pid ra option108-dhcpd)
ra_exec kill -9 "$pid"
check "kill -9 option108-dhcpd (pid $pid): procd respawns it" wait_for 10 new_pid ra option108-dhcpd "$pid"
upid=$(ip netns pids "$(ns_of c4)" | while read -r p; do grep -q udhcpc "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done | head -n 1)
rm -f "$W/c4.renew"
kill -USR1 "$upid"
check "... client4 renews its lease ($ip4) with it (journal kept)" \
  wait_for 10 eval 'grep -qx "ip=$ip4" "$W/c4.renew" 2>/dev/null && status_ge ra option108-dhcpd @.counters.acks 1'
kill_respawn ripng "router A learns 2001:db8:b::/64 again, client6 reaches clientb" 'ra_route_b && ping_cb >/dev/null'

echo "e2e: $((SECONDS - START)) s"
finish
