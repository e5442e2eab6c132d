#!/bin/bash
# System tests for nat64, as root, in network namespaces created (and removed) here.
#
#   NAT64=path/to/nat64 tests/system/nat64.sh   (or BIN_DIR=dir holding nat64; neither: a host
#   release build)
#
# Topology (prefix 2001:db8:64::/96, pool4 198.51.100.0/30):
#   client C (IPv6 only) 2001:db8:1::2 -- 2001:db8:1::1 [router R, nat64 on TUN n64tun]
#   192.0.2.1 (MTU 1300) -- 192.0.2.2 server S (IPv4 only)
# One line per check, then exactly "N passed, N failed"; exit 1 on any failure.

# No pipefail: `nft ... | grep -q` would fail whenever nft writes after grep has quit.
set -u
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$REPO/tests/system/nat64"
. "$REPO/tests/system/lib.sh"
. "$REPO/tests/lib/nat64.sh"
. "$REPO/tests/lib/control.sh"
setup_or_finish iproute2 iputils-ping traceroute python3 nftables
need_bin NAT64 nat64

C="n64c-$$"
R="n64r-$$"
S="n64s-$$"
workdir T nat64-test
DAEMON=""

inc() { ip netns exec "$C" "$@"; }
inr() { ip netns exec "$R" "$@"; }
ins() { ip netns exec "$S" "$@"; }

nat64_net "$C" "$R" "$S" n64
inr ip link set n64rs mtu 1300
ins ip link set n64s0 mtu 1300
# IPv4 only on the server, IPv6 only on the client.
ins sysctl -qw net.ipv6.conf.all.disable_ipv6=1

SERVER6=2001:db8:64::192.0.2.2
cat >"$T/nat64" <<CONF
config nat64 'main'
	option prefix '2001:db8:64::/96'
	option tun_device 'n64tun'
	list pool4 '198.51.100.0/30 1024-65535'
	option max_sessions '1000'
	option workers '2'
	option control_socket '$T/nat64.sock'
	option udp_timeout '3'
	option icmp_timeout '3'
	option tcp_trans_timeout '3'

config static
	option proto 'tcp'
	option ipv6 '2001:db8:1::2'
	option port6 '8080'
	option ipv4 '198.51.100.1'
	option port4 '8080'

config static
	option proto 'icmp'
	option ipv6 '2001:db8:1::2'
	option port6 '4242'
	option ipv4 '198.51.100.2'
	option port4 '4242'
CONF

status() { "$NAT64" -c "$T/nat64" status; }
# json_get KEY.SUB from `nat64 status`
json_get() { status | python3 -c "import json,sys; d=json.load(sys.stdin); k='$1'.split('.'); print(d[k[0]][k[1]] if len(k)>1 else d[k[0]])"; }

# --- configuration errors refuse to start, naming the option
mkdir "$T/bad"
printf "config nat64 'main'\n\tlist pool4 '198.51.100.0/30 9-1'\n" >"$T/bad/nat64"
out="$("$NAT64" -c "$T/bad/nat64" check 2>&1)"
if [ $? -ne 0 ] && echo "$out" | grep -q "nat64.main.pool4"; then pass "bad config refused naming nat64.main.pool4"; else fail "bad config refused" "$out"; fi
out="$(inr "$NAT64" -v -c "$T/bad/nat64" run 2>&1)"
if [ $? -ne 0 ] && echo "$out" | grep -q "nat64.main.pool4"; then pass "daemon refuses to start on a bad config"; else fail "daemon refuses a bad config" "$out"; fi

# --- the init script's fw-helper drop-in is one fw-helper accepts (forwarding, masquerade
# of pool4, MSS clamping)
FW_HELPER="${FW_HELPER:-${BIN_DIR:+$BIN_DIR/fw-helper}}"
FW_HELPER="${FW_HELPER:-$(dirname "$NAT64")/fw-helper}"
# fw_wrapper SCRIPT NS DROPIN-DIR CONFIG: SCRIPT, the fw-helper the init script calls (as
# $FW_HELPER): the real one in namespace NS, with the drop-ins in DROPIN-DIR, the config
# CONFIG, a lock of its own and no fw4 (its `dropin` applies into NS's own table).
fw_wrapper() {
	printf '#!/bin/sh\nexec ip netns exec %s env FW_HELPER_DROPIN_DIRS=%s FW_HELPER_FW4=%s FW_HELPER_FW4_ROOT=%s FW_HELPER_LOCK=%s %s -c %s "$@"\n' \
		"$2" "$3" "$T/no-fw4" "$T/fws-fw4" "$T/fws.lock" "$FW_HELPER" "$4" >"$1"
	chmod +x "$1"
}
if [ -x "$FW_HELPER" ]; then
	mkdir -p "$T/fw.d"
	printf "config fw-helper 'main'\n\toption backend 'nft'\nconfig zone\n\toption name 'wan'\n\tlist device 'eth9'\nconfig zone\n\toption name 'lan'\n\tlist device 'br-lan'\n" >"$T/fw-helper"
	# Applied in a namespace of its own: a table in R now would track the flows of the
	# checks below (and let the guard's checks see them as established).
	netns_add "n64f-$$"
	fw_wrapper "$T/fw-helper.sh" "n64f-$$" "$T/fw.d" "$T/fw-helper"
	(
		. "$REPO/feed/nat64/files/nat64.init"
		config_load() { :; }
		config_foreach() { :; } # no static sections here
		FW_HELPER="$T/fw-helper.sh" tun_device=nat64 wan_zone=wan lan_zone=lan mss_clamp=1 masquerade=1
		pool4="198.51.100.0/30 1024-65535 203.0.113.9"
		write_fw_dropin
	) >/dev/null 2>&1
	out="$(FW_HELPER_DROPIN_DIRS="$T/fw.d" "$FW_HELPER" -c "$T/fw-helper" show 2>&1)"
	if echo "$out" | grep -q 'ip saddr { 198.51.100.0/30, 203.0.113.9/32 } masquerade' &&
		echo "$out" | grep -q 'iifname "nat64" oifname "eth9" accept' &&
		echo "$out" | grep -q 'maxseg size set rt mtu'; then
		pass "init script's fw-helper drop-in: forwarding, pool4 masquerade, MSS clamping"
	else
		fail "fw-helper drop-in" "$out"
	fi
else
	fail "fw-helper drop-in" "no fw-helper binary (set FW_HELPER or BIN_DIR)"
fi

# --- start the daemon
spawn "$R" "$NAT64" -v -c "$T/nat64" run 2>"$T/daemon.log"
DAEMON=$SPAWNED_PID
for _ in $(seq 50); do [ -S "$T/nat64.sock" ] && break; sleep 0.1; done
if [ -S "$T/nat64.sock" ] && inr ip -6 route show 2001:db8:64::/96 | grep -q n64tun && inr ip route show 198.51.100.0/30 | grep -q n64tun; then
	pass "daemon up: TUN n64tun with routes for the prefix and pool4 (netlink)"
else
	fail "daemon up" "$(cat "$T/daemon.log")"
	finish
fi
check "TUN MTU and link up" sh -c "ip netns exec $R ip link show n64tun | grep -q 'mtu 1500' && ip netns exec $R ip link show n64tun | grep -q ',UP'"

spawn "$S" python3 "$HERE/udp_echo.py" 0.0.0.0 7000
spawn "$S" python3 "$HERE/tcp_server.py" 0.0.0.0 8000 1000000
spawn "$C" python3 "$HERE/tcp_server.py" :: 8080 5000
sleep 0.5

# --- ping
out="$(inc ping -6 -c 3 -i 0.2 -W 2 $SERVER6 2>&1)"
if echo "$out" | grep -q " 0% packet loss"; then pass "ping6 through the translator"; else fail "ping" "$out"; fi

# Control clients that hang on (seven that never send a command, one that asks for status
# and never reads) cost the loop nothing: pings through the translator are answered as fast
# as without them.
# pings_prompt MS: 10 pings 0.1 s apart, each answered within MS milliseconds.
pings_prompt() {
	local out
	out="$(inc ping -6 -c 10 -i 0.1 -W 2 $SERVER6 2>&1)"
	echo "$out" | tail -2
	echo "$out" | awk -v max="$1" '/ time=/ { n++; sub(/.* time=/, ""); if ($1 + 0 > worst) worst = $1 + 0 }
		END { printf "%d of 10 answered, slowest %.1f ms\n", n, worst; exit !(n == 10 && worst <= max) }'
}
check "8 control clients that never send or never read do not delay pings (10 at 0.1 s, none above 150 ms)" \
	hold_control "$T/nat64.sock" pings_prompt 150
check "... and status still answers once they are gone" status

out="$(inc ping -6 -c 2 -i 0.3 -W 2 -s 3000 $SERVER6 2>&1)"
if echo "$out" | grep -q " 0% packet loss"; then pass "ping6 with 3000 bytes (fragmented ICMP echo both ways)"; else fail "fragmented ping" "$out"; fi

# --- TCP, 1 MB from the IPv4 server
out="$(inc python3 "$HERE/tcp_client.py" $SERVER6 8000 1000000 2>&1)"
[ "$out" = ok ] && pass "TCP: 1 MB from the IPv4 server intact" || fail "TCP" "$out"

# --- UDP
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 100 2>&1)"
case "$out" in ok*) pass "UDP echo";; *) fail "UDP echo" "$out";; esac

# --- Two workers (multi-queue TUN): 32 flows, each echoed whole; the kernel spreads them
# over both queues (all on one: a chance of 2^-31).
before="$(status | python3 -c 'import json,sys; print(*json.load(sys.stdin)["worker_packets"])')"
out="$(inc python3 - "$SERVER6" <<'PY' 2>&1
import socket, sys
socks = []
for port in range(41000, 41032):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", port))
    s.settimeout(2.0)
    s.connect((sys.argv[1], 7000))
    s.send(port.to_bytes(2, "big") * 50)
    socks.append((port, s))
for port, s in socks:
    if s.recv(200) != port.to_bytes(2, "big") * 50:
        sys.exit("flow from port %d: wrong echo" % port)
print("ok")
PY
)"
after="$(status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["workers"], *d["worker_packets"])')"
read -r b0 b1 <<<"$before"
read -r workers a0 a1 <<<"$after"
if [ "$out" = ok ] && [ "$workers" = 2 ] && [ "$a0" -gt "$b0" ] && [ "$a1" -gt "$b1" ]; then
	pass "2 workers: 32 UDP flows echoed, both queues translated some (packets before: $before, after: $a0 $a1)"
else
	fail "2 workers" "$out / before $before / after $after"
fi

# --- nat64 sessions: live UDP, ICMP and TCP flows through the translator are listed with
# both ends. The TCP connection is held open (from port 40200) while the server's side of it,
# as `ss` in the server shows it, gives the pool address and port it was mapped to; the UDP
# and ICMP flows (source port 40300, identifier 4343, both free in the pool) keep theirs.
cat >"$T/held_tcp.py" <<PY
import os, socket, time
s = socket.socket(socket.AF_INET6); s.bind(('::', 40200)); s.settimeout(5)
s.connect(('$SERVER6', 8000)); print('connected', flush=True)
for _ in range(40):
    if os.path.exists('$T/tcp.done'): break
    time.sleep(0.1)
# Closed cleanly both ways (the server answers a line, then closes): the session goes after
# TCP_TRANS, before the probe checks below count TCP sessions.
s.sendall(b'x\n')
while s.recv(65536): pass
s.close()
PY
spawn "$C" python3 "$T/held_tcp.py" >"$T/held_tcp.out" 2>&1
HELD=$SPAWNED_PID
inc python3 "$HERE/udp_client.py" $SERVER6 7000 10 2 40300 >/dev/null 2>&1
inc ping -6 -c 1 -W 2 -e 4343 $SERVER6 >/dev/null 2>&1
for _ in $(seq 20); do grep -q connected "$T/held_tcp.out" && break; sleep 0.1; done
peer="$(ins ss -Htn state established '( sport = :8000 )' | awk '{print $4}')"
sessions="$("$NAT64" -c "$T/nat64" sessions --json 2>&1)"
table="$("$NAT64" -c "$T/nat64" sessions 2>&1)"
touch "$T/tcp.done"
out="$(echo "$sessions" | python3 -c "
import json, sys
d = json.load(sys.stdin)
peer = '$peer'.rsplit(':', 1)
def one(proto, port6, remote_port):
    m = [s for s in d['sessions'] if s['proto'] == proto and s['ipv6'] == '2001:db8:1::2' and s['ipv6_port'] == port6 and s['remote'] == '192.0.2.2' and s['remote_port'] == remote_port]
    assert len(m) == 1, (proto, port6, d)
    return m[0]
tcp, udp, icmp = one('tcp', 40200, 8000), one('udp', 40300, 7000), one('icmp', 4343, 0)
assert [tcp['ipv4'], str(tcp['ipv4_port'])] == peer, (tcp, peer)
assert tcp['state'] == 'ESTABLISHED' and udp['state'] is None and icmp['state'] is None, d
assert (udp['ipv4'], udp['ipv4_port']) == (tcp['ipv4'], 40300), udp
assert (icmp['ipv4'], icmp['ipv4_port']) == (tcp['ipv4'], 4343), icmp
for s in (tcp, udp, icmp):
    assert s['idle'] <= 2 and s['static'] is False, s
assert udp['expires_in'] in (2, 3) and icmp['expires_in'] in (2, 3) and tcp['expires_in'] > 7000, d
assert d['truncated'] is False and d['total'] == len(d['sessions']), d
print('ok', tcp['ipv4'], tcp['ipv4_port'], d['total'])
" 2>&1)"
case "$out" in ok*) pass "nat64 sessions --json: the live TCP (server sees ${peer}), UDP and ICMP flows with both ends, TCP state and timers";; *) fail "sessions --json" "$out / peer $peer / $sessions";; esac
total="$(echo "$sessions" | python3 -c "import json,sys; print(json.load(sys.stdin)['total'])" 2>/dev/null)"
if [ "$(echo "$table" | head -1 | awk '{print $1}')" = proto ] && [ "$(echo "$table" | tail -n +2 | wc -l)" = "$total" ] &&
	echo "$table" | grep -q "^tcp  *\[2001:db8:1::2\]:40200 .*192.0.2.2:8000 *ESTABLISHED "; then
	pass "nat64 sessions: a table line per session"
else
	fail "sessions table" "$table"
fi
out="$("$NAT64" -c "$T/nat64" status --json 2>&1)"
[ $? = 2 ] && echo "$out" | grep -q "'--json' is for sessions" && pass "--json is refused for other commands" || fail "--json elsewhere" "$out"
wait "$HELD" 2>/dev/null

# --- PMTU: a 1400-byte datagram is too big for the 1300-byte IPv4 link; the router's
# Fragmentation Needed comes back as Packet Too Big (MTU 1320) and the client learns it.
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 1400 4 2>&1)"
route="$(inc ip -6 route get $SERVER6 2>&1)"
if echo "$route" | grep -q "mtu 1320"; then pass "PMTU: Frag Needed (1300) translated to Packet Too Big (1320)"; else fail "PMTU" "$route / $out"; fi
case "$out" in ok*) pass "UDP 1400 bytes echoed after PMTU discovery (fragments both ways)";; *) fail "UDP after PMTU" "$out";; esac

# --- fragmented UDP: 4000 bytes each way (IPv6 fragments from the client, IPv4 fragments
# from the server re-fragmented to 1280-byte IPv6 packets)
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 4000 3 2>&1)"
case "$out" in ok*) pass "fragmented UDP (4000 bytes) both ways";; *) fail "fragmented UDP" "$out";; esac

# --- one hop per traversal (RFC 7915 §4.1/§5.1): the router with the translator counts as
# one hop, like any router (the kernel decrements on the way into the TUN device and again on
# the way out; the translator gives one back). The server sends with TTL 64.
out="$(inc ping -6 -c 1 -W 2 $SERVER6 2>&1)"
if echo "$out" | grep -q "ttl=63 "; then pass "one hop: the server's echo reply (TTL 64) arrives with hop limit 63"; else fail "hop count of a reply" "$out"; fi
out="$(inc ping -6 -c 1 -W 2 -t 2 $SERVER6 2>&1)"
if echo "$out" | grep -q " 0% packet loss"; then pass "one hop: an echo request sent with hop limit 2 reaches the server"; else fail "hop limit 2 through the translator" "$out"; fi
out="$(inc ping -6 -c 1 -W 2 -t 1 $SERVER6 2>&1)"
if echo "$out" | grep -qi "time exceeded"; then pass "one hop: hop limit 1 gets Time Exceeded from the router"; else fail "hop limit 1" "$out"; fi
# Hairpinned: the ICMP static entry (identifier 4242 <-> 198.51.100.2:4242) sends the
# client's echo request to 198.51.100.2 back to the client, and its reply back again.
out="$(inc ping -6 -c 1 -W 2 -e 4242 2001:db8:64::c633:6402 2>&1)"
if echo "$out" | grep -q "ttl=63 "; then pass "one hop: a hairpinned echo reply (sent with 64) arrives with hop limit 63"; else fail "hop count hairpinned" "$out"; fi
out="$(inc traceroute -6 -n -q 1 -w 2 -m 6 $SERVER6 2>&1)"
if [ "$(echo "$out" | tail -1 | awk '{print $1, $2}')" = "2 2001:db8:64::c000:202" ]; then pass "traceroute: the server is hop 2 (Port Unreachable translated)"; else fail "traceroute to the end" "$out"; fi

# --- RFC 6146 §3.5.1: UDP from the IPv4 side to a pool port nothing is bound to gets Port
# Unreachable from the pool address (the server's connected socket sees it as refused).
udp_refused() { ins python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect(('198.51.100.1', $1)); s.send(b'x')
try:
    s.recv(1); print('answered')
except ConnectionRefusedError:
    print('refused')
except OSError as e:
    print(e)"; }
out="$(udp_refused 9)"
[ "$out" = refused ] && pass "UDP to an unbound pool port: Port Unreachable from the pool address" || fail "UDP port unreachable" "$out"

# --- static BIB entry from the IPv4 side
out="$(ins python3 "$HERE/tcp_client.py" 198.51.100.1 8080 5000 2>&1)"
[ "$out" = ok ] && pass "static BIB: IPv4 server reaches the IPv6 client's port 8080" || fail "static BIB" "$out"
# The ICMP static entry: an echo request to 198.51.100.2 with identifier 4242 reaches the
# IPv6 client (whose kernel answers), translated back.
ping4_static() { ins ping -4 -c 2 -i 0.3 -W 1 -e 4242 198.51.100.2 2>&1; }
out="$(ping4_static)"
echo "$out" | grep -q " 0% packet loss" && pass "static BIB: ping from the IPv4 server to the ICMP entry 198.51.100.2 reaches the IPv6 client" || fail "icmp static BIB" "$out"

# --- static BIB entries behind fw-helper's nft backend, whose guard drops any other new
# connection from the WAN (n64rs) into the TUN: the init script's drop-in lists the static
# entry, fw-helper lets it in, and with pool4 masqueraded DNATs the WAN address's port to it.
# attempt4 ADDR PORT: a TCP connection from the IPv4 server, 2 s; prints ok or the error.
attempt4() { ins python3 -c "import socket,sys
try:
    socket.create_connection(('$1', $2), timeout=2).close(); print('ok')
except OSError as e:
    print(e)"; }
tun_tx() { inr cat /sys/class/net/n64tun/statistics/tx_packets; }
if [ -x "$FW_HELPER" ]; then
	mkdir -p "$T/fws.d"
	printf "config fw-helper 'main'\n\toption backend 'nft'\n\toption table 'fws_nat64'\nconfig zone\n\toption name 'wan'\n\tlist device 'n64rs'\n" >"$T/fws-helper"
	fws() { inr env FW_HELPER_DROPIN_DIRS="$T/fws.d" FW_HELPER_FW4="$T/no-fw4" FW_HELPER_FW4_ROOT="$T/fws-fw4" FW_HELPER_LOCK="$T/fws.lock" "$FW_HELPER" -c "$T/fws-helper" "$@"; }
	# fws_dropin MASQUERADE: the init script's drop-in for $T/nat64 (OpenWrt's config_*
	# functions replaced by ones reading its one 'config static' section).
	fws_dropin() {
		(
			. "$REPO/feed/nat64/files/nat64.init"
			config_load() { :; }
			config_foreach() { "$1" static1; "$1" static2; }
			# config_get VAR staticN OPTION [DEFAULT]: from the Nth 'config static' section.
			config_get() {
				local v
				v="$(awk -v n="${2#static}" -v o="$3" '/^config static/ { i++ } i == n && $1 == "option" && $2 == o { gsub("\047", "", $3); print $3 }' "$T/nat64")"
				eval "$1=\"\${v:-\${4:-}}\""
			}
			FW_HELPER="$T/fws-helper.sh" tun_device=n64tun wan_zone=wan lan_zone= mss_clamp=1 masquerade="$1"
			pool4="198.51.100.0/30 1024-65535"
			write_fw_dropin
		) >/dev/null 2>&1
	}
	fw_wrapper "$T/fws-helper.sh" "$R" "$T/fws.d" "$T/fws-helper"
	fws_dropin 0
	if grep -qx "	list static 'tcp:198.51.100.1:8080'" "$T/fws.d/nat64" && grep -qx "	list static 'icmp:198.51.100.2'" "$T/fws.d/nat64"; then pass "init script's drop-in lists the static entries (tcp and icmp)"; else fail "drop-in static entries" "$(cat "$T/fws.d/nat64")"; fi
	# Without the entry (as before): the guard keeps the IPv4 server out.
	grep -v "list static" "$T/fws.d/nat64" >"$T/fws.d/nat64.new" && mv "$T/fws.d/nat64.new" "$T/fws.d/nat64"
	if fws apply >"$T/fws.out" 2>&1; then
		out="$(attempt4 198.51.100.1 8080)"
		[ "$out" != ok ] && pass "fw-helper without the static entry: the guard blocks 198.51.100.1:8080" || fail "guard without static entry" "$out"
		out="$(ping4_static)"
		echo "$out" | grep -q " 100% packet loss" && pass "fw-helper without the static entries: the guard blocks echo requests to the ICMP entry" || fail "guard without icmp static entry" "$out"
	else
		fail "fw-helper apply (no static entry)" "$(cat "$T/fws.out")"
	fi
	fws_dropin 0
	if fws apply >"$T/fws.out" 2>&1; then
		out="$(ins python3 "$HERE/tcp_client.py" 198.51.100.1 8080 5000 2>&1)"
		[ "$out" = ok ] && pass "fw-helper nft backend: IPv4 server reaches the static entry at 198.51.100.1:8080" || fail "static entry through fw-helper" "$out"
		out="$(ping4_static)"
		echo "$out" | grep -q " 0% packet loss" && pass "fw-helper nft backend: ping from the IPv4 server reaches the IPv6 host through the ICMP static entry 198.51.100.2" || fail "icmp static entry through fw-helper" "$out"
		before="$(tun_tx)"
		out="$(attempt4 198.51.100.2 9090)"
		if [ "$out" != ok ] && [ "$(tun_tx)" = "$before" ]; then
			pass "fw-helper nft backend: 198.51.100.2:9090 (no static entry) dropped before the TUN"
		else
			fail "non-static port" "$out, TUN tx $before -> $(tun_tx)"
		fi
	else
		fail "fw-helper apply (public pool4)" "$(cat "$T/fws.out")"
	fi
	fws_dropin 1
	if fws apply >"$T/fws.out" 2>&1 && inr nft list chain inet fws_nat64 dstnat | grep -q 'dnat ip to 198.51.100.1:8080'; then
		out="$(ins python3 "$HERE/tcp_client.py" 192.0.2.1 8080 5000 2>&1)"
		[ "$out" = ok ] && pass "masqueraded pool4: IPv4 server reaches the static entry at the WAN address 192.0.2.1:8080 (DNAT)" || fail "static entry via DNAT" "$out"
		out="$(ins python3 "$HERE/tcp_client.py" 198.51.100.1 8080 5000 2>&1)"
		[ "$out" = ok ] && pass "masqueraded pool4: the static entry at 198.51.100.1:8080 still reachable" || fail "static entry direct (masqueraded)" "$out"
		before="$(tun_tx)"
		out="$(attempt4 192.0.2.1 9090)"
		if [ "$out" != ok ] && [ "$(tun_tx)" = "$before" ]; then pass "masqueraded pool4: WAN address port 9090 (no static entry) not forwarded"; else fail "WAN address non-static port" "$out"; fi
		out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 100 2>&1)"
		case "$out" in ok*) pass "masqueraded pool4: IPv6 client's UDP echo still translated";; *) fail "UDP echo with masquerade" "$out";; esac
	else
		fail "fw-helper apply (masqueraded pool4)" "$(cat "$T/fws.out")"
	fi
	if fws remove >"$T/fws.out" 2>&1 && ! inr nft list table inet fws_nat64 >/dev/null 2>&1; then pass "fw-helper remove: table gone"; else fail "fw-helper remove" "$(cat "$T/fws.out")"; fi
else
	fail "static entries through fw-helper" "no fw-helper binary (set FW_HELPER or BIN_DIR)"
fi

# --- status JSON
st="$(status 2>&1)"
if echo "$st" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['translations']['v6_to_v4']>0 and d['translations']['v4_to_v6']>0 and 'udp' in d['sessions'] and 'bad_checksum' in d['drops'] and d['offload'] is True and d['pool4']==['198.51.100.0/30 1024-65535']"; then
	pass "nat64 status: JSON with sessions, translations, drops"
else
	fail "status" "$st"
fi
check "UDP sessions counted" test "$(json_get sessions.udp)" -ge 1

# --- session expiry (udp/icmp/tcp_trans timeouts 3 s)
sleep 5
st="$(status)"
if echo "$st" | python3 -c "import json,sys; d=json.load(sys.stdin)['sessions']; assert d['udp']==0 and d['icmp']==0, d"; then
	pass "sessions expire after their timeout"
else
	fail "session expiry" "$st"
fi

# --- session limit after a reload (SIGHUP keeps state)
sed -i "s/option max_sessions '1000'/option max_sessions '2'/; s/option udp_timeout '3'/option udp_timeout '60'/" "$T/nat64"
kill -HUP "$DAEMON"
sleep 0.5
check "reload: still running" kill -0 "$DAEMON"
inc python3 "$HERE/udp_client.py" $SERVER6 7000 10 2 40001 >/dev/null 2>&1
inc python3 "$HERE/udp_client.py" $SERVER6 7000 10 2 40002 >/dev/null 2>&1
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 10 1 40003 2>&1)"
# EHOSTUNREACH (113): the translator's ICMPv6 Address Unreachable reached the client.
[ "$out" = "refused 113" ] && pass "session limit: a new flow is refused with ICMPv6 Address Unreachable" || fail "session limit refuses" "$out $(status)"
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 10 1 40001 2>&1)"
case "$out" in ok*) pass "session limit: existing flows keep working";; *) fail "existing flow at limit" "$out";; esac
check "session limit: refusals counted" test "$(json_get drops.session_limit)" -ge 1
check "session limit: logged" grep -q "refusing new flows (session_limit)" "$T/daemon.log"

# --- a bad config on reload is refused, the old one kept
cp "$T/nat64" "$T/nat64.good"
sed -i "s/option max_sessions '2'/option max_sessions 'lots'/" "$T/nat64"
kill -HUP "$DAEMON"
sleep 0.5
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 10 1 40001 2>&1)"
if kill -0 "$DAEMON" && grep -q "reload: .*max_sessions" "$T/daemon.log" && [ "${out%% *}" = ok ]; then
	pass "bad config on reload: logged, old config kept"
else
	fail "bad reload" "$(tail -3 "$T/daemon.log")"
fi
# Another number of workers needs new TUN queues: refused at reload, said so.
sed "s/option workers '2'/option workers '1'/" "$T/nat64.good" >"$T/nat64"
out="$("$NAT64" -c "$T/nat64" reload 2>&1)"
if echo "$out" | grep -q "workers need a restart" && [ "$(json_get workers)" = 2 ]; then
	pass "reload with another number of workers: refused (needs a restart), 2 workers kept"
else
	fail "reload workers" "$out"
fi
cp "$T/nat64.good" "$T/nat64"

# --- a reload with another pool4 and prefix: the old routes through the TUN go, the new ones
# come, and new flows leave from the new pool (the static entries' 198.51.100.1 and .2, now
# outside the pool, keep host routes).
n64routes() { { inr ip -4 route show dev n64tun; inr ip -6 route show dev n64tun; } | awk '{print $1}' | grep -v '^fe80' | sort | tr '\n' ' '; }
sed -i "s|list pool4 '198.51.100.0/30 1024-65535'|list pool4 '203.0.113.4/30 1024-65535'|; s|option prefix '2001:db8:64::/96'|option prefix '2001:db8:46::/96'|; s/option max_sessions '2'/option max_sessions '1000'/" "$T/nat64"
kill -HUP "$DAEMON"
sleep 0.5
routes="$(n64routes)"
[ "$routes" = "198.51.100.1 198.51.100.2 2001:db8:46::/96 203.0.113.4/30 " ] && pass "reload with a new pool4 and prefix: only the new routes through the TUN" || fail "routes after reload" "$routes $(tail -3 "$T/daemon.log")"
# The server tells where a datagram came from.
spawn "$S" timeout 5 python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 7100))
d, a = s.recvfrom(100); s.sendto(d, a); print(a[0])" >"$T/src4" 2>&1
sleep 0.3
out="$(inc python3 "$HERE/udp_client.py" 2001:db8:46::192.0.2.2 7100 10 2 2>&1)"
src="$(sleep 0.2; cat "$T/src4")"
case "$src" in 203.0.113.[4-7]) [ "${out%% *}" = ok ] && pass "reload: new flows translated with the new prefix and pool4 ($src)" || fail "new pool4 reply" "$out";; *) fail "new pool4 source" "$src / $out";; esac
out="$(inc ping -6 -c 1 -W 1 $SERVER6 2>&1)"
echo "$out" | grep -q " 100% packet loss" && pass "reload: the old prefix is no longer translated" || fail "old prefix after reload" "$out"
cp "$T/nat64.good" "$T/nat64"
kill -HUP "$DAEMON"
sleep 0.5
routes="$(n64routes)"
[ "$routes" = "198.51.100.0/30 2001:db8:64::/96 " ] && pass "reload back: the routes follow again" || fail "routes after reload back" "$routes"

# --- RFC 6146 §3.5.2.2: an established TCP session idle for TCP_EST (4 s here) is probed
# (to the IPv6 end: no data, sequence and acknowledgment numbers 0, only ACK) and waits in
# TRANS for TCP_TRANS (3 s). Two idle connections from the client: a live one, whose
# answer to the probe keeps the session, and one behind a host gone silent (its input
# dropped), whose session goes after TCP_TRANS. nft counters in the client count the
# probes as they arrive, matching every field the RFC sets.
sed -i "s/option tcp_trans_timeout '3'/option tcp_trans_timeout '3'\n\toption tcp_est_timeout '4'/; s/option max_sessions '2'/option max_sessions '1000'/" "$T/nat64"
kill -HUP "$DAEMON"
sleep 0.5
inc nft -f - <<NFT
table inet n64probe {
	chain input {
		type filter hook input priority filter;
		ip6 saddr 2001:db8:64::c000:202 tcp sport 8100 tcp dport 40111 tcp sequence 0 tcp ackseq 0 tcp flags == ack counter
		ip6 saddr 2001:db8:64::c000:202 tcp sport 8100 tcp dport 40112 tcp sequence 0 tcp ackseq 0 tcp flags == ack counter
	}
}
NFT
# probes_to PORT: probes the client received for that port
probes_to() { inc nft list chain inet n64probe input | awk -v p="dport $1 " 'index($0, p) && /counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'; }
spawn "$S" python3 -c "import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8100)); s.listen(4)
def echo(c):
    for line in c.makefile('rb'):
        c.sendall(line)
while True:
    threading.Thread(target=echo, args=(s.accept()[0],), daemon=True).start()"
sleep 0.3
# idle_client.py PORT: connects from that port, one echo, waits for $T/go.PORT, one more echo.
cat >"$T/idle_client.py" <<PY
import os, socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET6); s.bind(('::', port)); s.settimeout(5)
s.connect(('$SERVER6', 8100)); f = s.makefile('rb')
s.sendall(b'one\n'); assert f.readline() == b'one\n'
print('connected', flush=True)
while not os.path.exists('$T/go.%d' % port): time.sleep(0.1)
s.sendall(b'two\n'); print('ok' if f.readline() == b'two\n' else 'no echo', flush=True)
PY
spawn "$C" python3 "$T/idle_client.py" 40111 >"$T/live.out" 2>&1
spawn "$C" python3 "$T/idle_client.py" 40112 >"$T/dead.out" 2>&1
sleep 1
# The second client's host goes silent now that its connection is established.
inc nft add rule inet n64probe input tcp dport 40112 drop
tcp0="$(json_get sessions.tcp)"
probes0="$(json_get translations.tcp_probes)"
if grep -q connected "$T/live.out" && grep -q connected "$T/dead.out" && [ "$tcp0" = 2 ]; then
	# Wait for the silent host's probe, then for its session to go.
	for _ in $(seq 80); do [ "$(probes_to 40112)" -ge 1 ] && break; sleep 0.1; done
	probed=$SECONDS
	for _ in $(seq 80); do [ "$(json_get sessions.tcp)" -lt 2 ] && break; sleep 0.1; done
	waited=$((SECONDS - probed))
	probes="$(json_get translations.tcp_probes)"
	if [ "$(probes_to 40112)" = 1 ] && [ "$(probes_to 40111)" -ge 1 ] && [ "$probes" -ge $((probes0 + 2)) ]; then
		pass "idle established TCP sessions probed: one segment with seq 0, ack 0, ACK only to each IPv6 end (status tcp_probes $probes)"
	else
		fail "TCP probes" "live $(probes_to 40111), dead $(probes_to 40112), status $probes0 -> $probes"
	fi
	tcp1="$(json_get sessions.tcp)"
	if [ "$tcp1" = 1 ] && [ "$waited" -ge 2 ] && [ "$waited" -le 5 ]; then
		pass "probe unanswered (host gone silent): session removed after TCP_TRANS (${waited} s)"
	else
		fail "unanswered probe" "tcp sessions $tcp1 after ${waited} s"
	fi
	# By now the live connection has been probed and has outlived TCP_TRANS since.
	sleep 1
	touch "$T/go.40111"
	for _ in $(seq 50); do grep -q '^ok\|no echo' "$T/live.out" && break; sleep 0.1; done
	if [ "$(json_get sessions.tcp)" = 1 ] && grep -q '^ok' "$T/live.out"; then
		pass "probe answered by the live host: session kept past TCP_TRANS, the idle connection still works"
	else
		fail "answered probe" "$(cat "$T/live.out") $(status)"
	fi
else
	fail "idle TCP connections for the probe" "$(cat "$T/live.out" "$T/dead.out") tcp sessions $tcp0"
fi
inc nft delete table inet n64probe
cp "$T/nat64.good" "$T/nat64"

# --- clean stop
kill "$DAEMON"
for _ in $(seq 30); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
if ! kill -0 "$DAEMON" 2>/dev/null && [ ! -e "$T/nat64.sock" ]; then pass "SIGTERM stops it and removes the socket"; else fail "stop"; fi
if sed -n "/stopping/,\$p" "$T/daemon.log" | grep -q "route 198.51.100.0/30 removed" && ! inr ip route | grep -q 198.51.100; then pass "SIGTERM: the daemon removes its routes"; else fail "routes on stop" "$(tail -3 "$T/daemon.log")"; fi
DAEMON=""

# --- the same traffic without TUN offloads (one packet per read, checksums in software)
sed -i "s/option max_sessions '2'/option max_sessions '1000'\n\toption offload '0'/" "$T/nat64"
spawn "$R" "$NAT64" -v -c "$T/nat64" run 2>"$T/daemon2.log"
DAEMON=$SPAWNED_PID
for _ in $(seq 50); do [ -S "$T/nat64.sock" ] && break; sleep 0.1; done
out="$(inc python3 "$HERE/tcp_client.py" $SERVER6 8000 1000000 2>&1)"
[ "$out" = ok ] && pass "offload off: TCP 1 MB intact" || fail "offload off: TCP" "$out $(tail -2 "$T/daemon2.log")"
out="$(inc python3 "$HERE/udp_client.py" $SERVER6 7000 4000 3 2>&1)"
case "$out" in ok*) pass "offload off: fragmented UDP";; *) fail "offload off: fragmented UDP" "$out";; esac
if grep -q "offloads on" "$T/daemon.log" && ! grep -q "offloads on" "$T/daemon2.log"; then pass "offload option honoured"; else fail "offload option"; fi
# Killed without a chance to clean up: the kernel removes the TUN and its routes with it.
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
sleep 0.2
if ! inr ip link show n64tun >/dev/null 2>&1 && ! inr ip route | grep -q 198.51.100 && ! inr ip -6 route | grep -q 2001:db8:64::; then
	pass "SIGKILL: TUN and its routes gone with the process"
else
	fail "routes after SIGKILL" "$(inr ip route; inr ip -6 route)"
fi
DAEMON=""
finish
