#!/bin/bash
# System tests for fw-helper, as root, with real nft and real traffic, inside network
# namespaces created (and removed) here; nothing touches the host's ruleset or interfaces.
#
#   FW_HELPER=path/to/fw-helper tests/system/fw-helper.sh   (or BIN_DIR=dir holding fw-helper;
#   neither: a host release build)
#
# Topology: namespace L (LAN host, eth0) -- veth-lan [R router] veth-wan -- eth0 (WAN host, W).
# NAT64 static BIB entries: R fwstun -- eth0 (P, standing in for the NAT64 TUN: it holds
# the pool4 addresses 192.168.255.1 (masqueraded) and 203.0.113.5 (public), with TCP
# listeners on 8080, 8081, 9090). W is 192.0.2.3, R's WAN address 192.0.2.1.
# One result line per check, then exactly "N passed, N failed"; exit 1 on any failure.
# A check that cannot run is counted as failed.

# No pipefail: `nft ... | grep -q` would fail whenever nft writes after grep has quit.
set -u
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
. "$REPO/tests/system/lib.sh"
setup_or_finish nftables iproute2 python3
need_bin FW_HELPER fw-helper

R="fwh-r-$$"
L="fwh-l-$$"
W="fwh-w-$$"
P="fws-p-$$"
workdir T fw-helper-test

netns_add "$R" "$L" "$W" "$P"
veth "$R" veth-lan "$L" eth0
veth "$R" veth-wan "$W" eth0
ip -n "$R" -6 addr add fe80::1/64 dev veth-lan nodad
ip -n "$R" -6 addr add 2001:db8:1::1/64 dev veth-lan nodad
ip -n "$R" -6 addr add fe80::1/64 dev veth-wan nodad
ip -n "$R" -6 addr add 2001:db8:2::1/64 dev veth-wan nodad
ip -n "$L" -6 addr add fe80::2/64 dev eth0 nodad
ip -n "$L" -6 addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$W" -6 addr add fe80::3/64 dev eth0 nodad
ip -n "$W" -6 addr add 2001:db8:2::3/64 dev eth0 nodad
# IPv4 for the static BIB entries: W -- R (WAN address 192.0.2.1) -- fwstun -- P (pool4).
veth "$R" fwstun "$P" eth0
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
ip -n "$R" addr add 192.0.2.1/24 dev veth-wan
ip -n "$W" addr add 192.0.2.3/24 dev eth0
ip -n "$W" route add default via 192.0.2.1
ip -n "$R" addr add 10.99.0.1/24 dev fwstun
ip -n "$P" addr add 10.99.0.2/24 dev eth0
ip -n "$P" addr add 192.168.255.1/32 dev lo
ip -n "$P" addr add 203.0.113.5/32 dev lo
ip -n "$P" route add default via 10.99.0.1
ip -n "$R" route add 192.168.255.0/24 via 10.99.0.2
ip -n "$R" route add 203.0.113.0/24 via 10.99.0.2

# ---------------------------------------------------------------- traffic helpers

cat >"$T/listen.py" <<'PY'
import select, socket, sys
log = open(sys.argv[1], "a", buffering=1)
socks = {}
for kind, port in (("udp", 521), ("udp", 53), ("tcp", 53)):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    if kind == "tcp":
        s.listen(8)
    socks[s] = (kind, port)
open(sys.argv[2], "w").write("ready\n")
while True:
    for s in select.select(list(socks), [], [])[0]:
        kind, port = socks[s]
        if kind == "udp":
            data, peer = s.recvfrom(2048)
        else:
            c, peer = s.accept()
            c.settimeout(2)
            try:
                data = c.recv(2048)
            except OSError:
                data = b""
            c.close()
        log.write("%s%d %s %s\n" % (kind, port, peer[0], data.decode(errors="replace").strip()))
PY

cat >"$T/send.py" <<'PY'
import socket, sys
# send.py udp SRC DST PORT HOPS IFNAME TOKEN  |  send.py tcp DST PORT TOKEN
if sys.argv[1] == "udp":
    src, dst, port, hops, ifname, token = sys.argv[2:8]
    idx = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, int(hops))
    s.bind((src, 0, 0, idx if src.startswith("fe80") else 0))
    s.sendto(token.encode(), (dst, int(port), 0, idx if dst.startswith("fe80") else 0))
else:
    dst, port, token = sys.argv[2:5]
    try:
        c = socket.create_connection((dst, int(port)), timeout=2)
        c.sendall(token.encode())
        c.close()
    except OSError as e:
        print("tcp connect failed:", e)
        sys.exit(1)
PY

cat >"$T/listen4.py" <<'PY'
import select, socket, sys
# TCP listeners on the given ports; logs "p:LOCALADDR:PORT PEER TOKEN" per connection.
log = open(sys.argv[1], "a", buffering=1)
socks = []
for port in sys.argv[3:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    s.listen(8)
    socks.append(s)
open(sys.argv[2], "w").write("ready\n")
while True:
    for s in select.select(socks, [], [])[0]:
        c, peer = s.accept()
        c.settimeout(2)
        try:
            data = c.recv(2048)
        except OSError:
            data = b""
        local = c.getsockname()
        c.close()
        log.write("p:%s:%d %s %s\n" % (local[0], local[1], peer[0], data.decode(errors="replace").strip()))
PY

spawn "$R" python3 "$T/listen.py" "$T/got.log" "$T/ready"
spawn "$P" python3 "$T/listen4.py" "$T/got.log" "$T/ready4" 8080 8081 9090
for _ in $(seq 50); do [ -f "$T/ready" ] && [ -f "$T/ready4" ] && break; sleep 0.1; done
[ -f "$T/ready" ] && [ -f "$T/ready4" ] || { fail "setup" "listener did not start"; finish; }

TOKEN=0
# received NS KIND ARGS... : sends a fresh token, returns 0 if the listener logged it.
received() {
	local ns="$1"
	shift
	TOKEN=$((TOKEN + 1))
	local tok="t$TOKEN-$$"
	if [ "$1" = udp ]; then
		ip netns exec "$ns" python3 "$T/send.py" udp "$2" "$3" "$4" "$5" eth0 "$tok" >/dev/null 2>&1
	else
		ip netns exec "$ns" python3 "$T/send.py" tcp "$2" "$3" "$tok" >/dev/null 2>&1
	fi
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q " $tok\$" "$T/got.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
expect_rx() { # name ns args...
	local name="$1"
	shift
	if received "$@"; then pass "$name"; else fail "$name" "not received"; fi
}
expect_no_rx() {
	local name="$1"
	shift
	if received "$@"; then fail "$name" "received"; else pass "$name"; fi
}
# expect_at NAME ADDR:PORT NS tcp DST PORT: received, and by P's listener at ADDR:PORT.
expect_at() {
	local name="$1" at="$2"
	shift 2
	if ! received "$@"; then
		fail "$name" "not received"
	elif grep -q "^p:$at .* t$TOKEN-$$\$" "$T/got.log"; then
		pass "$name"
	else
		fail "$name" "received elsewhere: $(grep " t$TOKEN-$$\$" "$T/got.log")"
	fi
}

# ---------------------------------------------------------------- fw-helper invocation

mkdir -p "$T/d" "$T/fw4root"
FH_ENV=(env FW_HELPER_DROPIN_DIRS="$T/d" FW_HELPER_FW4_ROOT="$T/fw4root" FW_HELPER_FW4="$T/no-fw4" FW_HELPER_LOCK="$T/lock")
fh() { # runs fw-helper in the router namespace; output in $T/out
	ip netns exec "$R" "${FH_ENV[@]}" "$FW_HELPER" -c "$T/config" "$@" >"$T/out" 2>&1
}
ruleset() { ip netns exec "$R" nft list ruleset; }

cat >"$T/config" <<'CFG'
config fw-helper 'main'
	option backend 'nft'
	option table 'v6only_test'

config zone
	option name 'lan'
	list device 'veth-lan'

config zone
	option name 'wan'
	list device 'veth-wan'
CFG
cat >"$T/d/bundle" <<'CFG'
# as the bundle's packages would declare it
config dhcp
	option zone 'lan'

config dns
	option zone 'lan'

config ripng
	option zone 'lan'
CFG
# The NAT64 part (forwarding, masquerade, MSS clamp) refers to its TUN by name; give it one.
ip -n "$R" tuntap add dev nat64 mode tun 2>/dev/null && ip -n "$R" link set nat64 up 2>/dev/null
cat >"$T/d/nat64" <<'CFG'
config nat64
	option tun_device 'nat64'
	option wan_zone 'wan'
	option lan_zone 'lan'
	list masquerade '192.168.255.0/24'
	option mss_clamp '1'

# P stands in for a second translator's TUN: its static BIB entries, one behind a
# masqueraded pool4 address, one public.
config nat64
	option tun_device 'fwstun'
	option wan_zone 'wan'
	list masquerade '192.168.255.0/24'
	option mss_clamp '0'
	list static 'tcp:192.168.255.1:8080'
	list static 'tcp:203.0.113.5:8081'
CFG

# An unrelated table that must survive everything.
ip netns exec "$R" nft -f - <<'NFT'
table ip unrelated {
	set watch { type ipv4_addr; elements = { 10.9.9.9 } }
	chain out {
		type filter hook output priority 10; policy accept;
		ip daddr @watch counter drop
	}
}
NFT
BEFORE="$(ruleset)"

# ---------------------------------------------------------------- nft backend

expect_rx "baseline: DNS/udp from WAN reaches the listener before apply" "$W" udp 2001:db8:2::3 2001:db8:2::1 53 64
expect_rx "baseline: RIPng from a global source reaches the listener before apply" "$L" udp 2001:db8:1::2 2001:db8:1::1 521 255
expect_at "baseline: WAN host reaches 203.0.113.5:9090 (no static entry) before apply" 203.0.113.5:9090 "$W" tcp 203.0.113.5 9090

if fh check && [ "$(ruleset)" = "$BEFORE" ]; then pass "check: valid config passes, ruleset untouched"; else fail "check: valid config" "$(cat "$T/out")"; fi

if fh apply; then pass "apply: exit 0"; else fail "apply" "$(cat "$T/out")"; fi
APPLIED="$(ruleset)"
if ip netns exec "$R" nft list table inet v6only_test >"$T/listed" 2>&1 && fh show && cmp -s "$T/out" "$T/listed"; then
	pass "show prints exactly what nft lists for the applied table"
else
	fail "show == nft list table" "$(diff "$T/out" "$T/listed" | head -20)"
fi
if grep -q "table ip unrelated" <<<"$APPLIED"; then pass "apply keeps the unrelated table"; else fail "apply keeps the unrelated table"; fi

expect_rx "RIPng link-local source, hop limit 255, from LAN: received" "$L" udp fe80::2 fe80::1 521 255
expect_no_rx "RIPng global source, hop limit 255: dropped" "$L" udp 2001:db8:1::2 2001:db8:1::1 521 255
expect_no_rx "RIPng link-local source, hop limit 64: dropped" "$L" udp fe80::2 fe80::1 521 64
expect_no_rx "RIPng link-local, hop limit 255, from WAN (not a RIPng interface): dropped" "$W" udp fe80::3 fe80::1 521 255
expect_rx "DNS/udp from LAN: received" "$L" udp 2001:db8:1::2 2001:db8:1::1 53 64
expect_rx "DNS/tcp from LAN: received" "$L" tcp 2001:db8:1::1 53
expect_no_rx "DNS/udp from WAN: dropped" "$W" udp 2001:db8:2::3 2001:db8:2::1 53 64
expect_no_rx "DNS/tcp from WAN: dropped" "$W" tcp 2001:db8:2::1 53
expect_at "NAT64 static: WAN host reaches the public entry 203.0.113.5:8081" 203.0.113.5:8081 "$W" tcp 203.0.113.5 8081
expect_at "NAT64 static: WAN host reaches the masqueraded entry directly at 192.168.255.1:8080" 192.168.255.1:8080 "$W" tcp 192.168.255.1 8080
expect_at "NAT64 static: WAN address 192.0.2.1:8080 is forwarded (DNAT) to 192.168.255.1:8080" 192.168.255.1:8080 "$W" tcp 192.0.2.1 8080
expect_no_rx "NAT64 static: 203.0.113.5:9090 (no static entry) dropped by the guard" "$W" tcp 203.0.113.5 9090
expect_no_rx "NAT64 static: 192.168.255.1:9090 (no static entry) dropped by the guard" "$W" tcp 192.168.255.1 9090
expect_no_rx "NAT64 static: WAN address 192.0.2.1:8081 not forwarded (that entry is public)" "$W" tcp 192.0.2.1 8081
if grep -q "dnat ip to 192.168.255.1:8080" <<<"$APPLIED" && ! grep -q "dnat ip to 203.0.113.5" <<<"$APPLIED"; then
	pass "NAT64 static: one DNAT rule, for the masqueraded entry only"
else
	fail "NAT64 static: DNAT rules" "$(grep dnat <<<"$APPLIED")"
fi

if fh apply && [ "$(ruleset)" = "$APPLIED" ]; then pass "apply twice: nft list ruleset identical"; else fail "apply twice" "$(cat "$T/out")"; fi
pids=()
for i in 1 2 3 4; do
	ip netns exec "$R" "${FH_ENV[@]}" "$FW_HELPER" -c "$T/config" apply >"$T/par$i" 2>&1 &
	pids+=($!)
done
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
if [ $ok = 1 ] && [ "$(ruleset)" = "$APPLIED" ]; then pass "four concurrent applies: all succeed, ruleset identical"; else fail "concurrent applies" "$(cat "$T"/par*)"; fi

# A bad config value: clear error (file, line, option), exit non-zero, nothing changed.
cat >"$T/d/zz-bad" <<'CFG'
config dns
	option zone 'lan'
	option port 'fifty-three'
CFG
if fh apply; then
	fail "bad config value: apply fails" "exit 0"
else
	if grep -q "$T/d/zz-bad" "$T/out" && grep -q ":3\b\|line 3" "$T/out" && grep -q "port" "$T/out" && [ "$(ruleset)" = "$APPLIED" ]; then
		pass "bad config value: apply fails naming file, line, option; ruleset unchanged"
	else
		fail "bad config value" "message: $(cat "$T/out")"
	fi
fi
if ! fh check && grep -q "port" "$T/out" && [ "$(ruleset)" = "$APPLIED" ]; then pass "bad config value: check fails too, nothing changed"; else fail "bad config value: check" "$(cat "$T/out")"; fi
rm -f "$T/d/zz-bad"

# A value only nft rejects: a device name longer than the kernel's 15 bytes.
cat >"$T/d/zz-nft" <<'CFG'
config ripng
	list device 'a-much-too-long-device-name'
CFG
if fh apply; then
	fail "nft rejects: apply fails" "exit 0"
elif grep -qi "nft" "$T/out" && grep -qi "exceeds maximum length" "$T/out" && [ "$(ruleset)" = "$APPLIED" ]; then
	pass "nft rejects (device name too long): apply fails with nft's message; ruleset unchanged"
else
	fail "nft rejects" "$(cat "$T/out")"
fi
if ! fh check && grep -qi "exceeds maximum length" "$T/out" && [ "$(ruleset)" = "$APPLIED" ]; then pass "nft rejects: check (nft -c) fails too, nothing changed"; else fail "nft rejects: check" "$(cat "$T/out")"; fi
rm -f "$T/d/zz-nft"

# An unknown zone (nft backend resolves zones from 'config zone').
cat >"$T/d/zz-zone" <<'CFG'
config dns
	option zone 'guest'
CFG
if ! fh apply && grep -q "guest" "$T/out" && grep -q "$T/d/zz-zone" "$T/out" && [ "$(ruleset)" = "$APPLIED" ]; then
	pass "unknown zone: apply fails naming the zone and file; ruleset unchanged"
else
	fail "unknown zone" "$(cat "$T/out")"
fi
rm -f "$T/d/zz-zone"

if fh remove && [ "$(ruleset)" = "$BEFORE" ]; then pass "remove restores the prior ruleset byte for byte"; else fail "remove" "$(cat "$T/out"; diff <(echo "$BEFORE") <(ruleset) | head)"; fi
if fh remove && [ "$(ruleset)" = "$BEFORE" ]; then pass "remove again: no error, nothing changed"; else fail "remove again" "$(cat "$T/out")"; fi
expect_rx "after remove: DNS/udp from WAN reaches the listener again" "$W" udp 2001:db8:2::3 2001:db8:2::1 53 64
expect_no_rx "after remove: WAN address 192.0.2.1:8080 no longer forwarded" "$W" tcp 192.0.2.1 8080

# A malformed static entry: refused naming the file, line and option.
cat >"$T/d/zz-static" <<'CFG'
config nat64
	option tun_device 'fwstun'
	option wan_zone 'wan'
	list static 'tcp:192.168.255.1'
CFG
if ! fh check && grep -q "$T/d/zz-static:4" "$T/out" && grep -q "static" "$T/out" && grep -q "PROTO:ADDRESS:PORT" "$T/out"; then
	pass "malformed static entry: check fails naming file:line, option and format"
else
	fail "malformed static entry" "$(cat "$T/out")"
fi
rm -f "$T/d/zz-static"

# ---------------------------------------------------------------- fw4 backend (stub fw4)
# The stub stands for /sbin/fw4: a 'table inet fw4' with the chains and zone defines fw4
# generates, including our snippets where fw4 does (chain-pre/<chain>/*.nft at the top).

cat >"$T/fw4" <<STUB
#!/bin/bash
echo "\$*" >>"$T/fw4.calls"
[ "\$1" = -q ] && shift
render() {
	cat <<EOT
table inet fw4
delete table inet fw4
table inet fw4 {
	define lan_devices = { "veth-lan" }
	define lan_subnets = { 2001:db8:1::/64 }
	define wan_devices = { "veth-wan" }
	define wan_subnets = { 2001:db8:2::/64 }
	define guest_devices = {  }
	define guest_subnets = {  }

	chain input {
		type filter hook input priority filter; policy accept;
		iifname "lo" accept
		include "$T/fw4root/chain-pre/input/*.nft"
		ct state established,related accept
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		include "$T/fw4root/chain-pre/forward/*.nft"
		ct state established,related accept
	}
	chain dstnat {
		type nat hook prerouting priority dstnat; policy accept;
		include "$T/fw4root/chain-pre/dstnat/*.nft"
	}
	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		include "$T/fw4root/chain-pre/srcnat/*.nft"
	}
	chain mangle_forward {
		type filter hook forward priority mangle; policy accept;
		include "$T/fw4root/chain-pre/mangle_forward/*.nft"
	}
}
EOT
}
case "\$1" in
check)
	[ -e "$T/fw4.reject" ] && { echo "Error: stub fw4 rejects the ruleset" >&2; exit 1; }
	render | nft -c -f - && echo "Ruleset passes nftables check." ;;
print) render ;;
reload|start) render | nft -f - ;;
zone)
	case "\$2" in
	lan) echo veth-lan ;;
	wan) echo veth-wan ;;
	*) exit 1 ;;
	esac ;;
*) exit 1 ;;
esac
STUB
chmod +x "$T/fw4"
FH_ENV=(env FW_HELPER_DROPIN_DIRS="$T/d" FW_HELPER_FW4_ROOT="$T/fw4root" FW_HELPER_FW4="$T/fw4" FW_HELPER_LOCK="$T/lock")
sed -i "s/option backend 'nft'/option backend 'auto'/" "$T/config"
ip netns exec "$R" "$T/fw4" start >/dev/null 2>&1 || fail "fw4 stub start"

if fh show && grep -q 'iifname "veth-lan" udp dport 53 accept' "$T/out" && grep -q "$T/fw4root/chain-pre/input/v6only-fw-helper.nft" "$T/out" && ! grep -q '\$' "$T/out"; then
	pass "fw4: auto selects fw4 when it exists; show prints the snippets with the zones' devices (from fw4 print), no \$zone_devices"
else
	fail "fw4: show" "$(cat "$T/out")"
fi
if fh check; then pass "fw4: check (zones resolved through fw4, rules through nft -c)"; else fail "fw4: check" "$(cat "$T/out")"; fi
: >"$T/fw4.calls"
if fh apply; then pass "fw4: apply exit 0"; else fail "fw4: apply" "$(cat "$T/out")"; fi
SN="$T/fw4root/chain-pre"
if [ -f "$SN/input/v6only-fw-helper.nft" ] && [ -f "$SN/forward/v6only-fw-helper.nft" ] && [ -f "$SN/dstnat/v6only-fw-helper.nft" ] && [ -f "$SN/srcnat/v6only-fw-helper.nft" ] && [ -f "$SN/mangle_forward/v6only-fw-helper.nft" ]; then
	pass "fw4: snippets written for input, forward, dstnat, srcnat, mangle_forward"
else
	fail "fw4: snippets" "$(find "$T/fw4root" -type f)"
fi
if grep -qx "check" "$T/fw4.calls" && grep -qx -- "-q reload" "$T/fw4.calls"; then pass "fw4: apply ran fw4 check and fw4 reload"; else fail "fw4: check/reload calls" "$(cat "$T/fw4.calls")"; fi
# Validate the snippets by loading the stub fw4 table and them through nft -c (in the namespace).
if ip netns exec "$R" bash -c "'$T/fw4' check" >"$T/out" 2>&1; then pass "fw4: stub table inet fw4 + snippets pass nft -c"; else fail "fw4: nft -c" "$(cat "$T/out")"; fi
if ip netns exec "$R" nft list chain inet fw4 input | grep -q "ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept"; then
	pass "fw4: the reloaded fw4 table holds the RIPng rule"
else
	fail "fw4: reloaded table"
fi
if ! ip netns exec "$R" nft list table inet v6only_test >/dev/null 2>&1; then pass "fw4: no own table under fw4"; else fail "fw4: own table exists"; fi
expect_rx "fw4: RIPng link-local, hop limit 255, from LAN: received" "$L" udp fe80::2 fe80::1 521 255
expect_no_rx "fw4: RIPng global source: dropped" "$L" udp 2001:db8:1::2 2001:db8:1::1 521 255
expect_no_rx "fw4: RIPng hop limit 64: dropped" "$L" udp fe80::2 fe80::1 521 64
expect_rx "fw4: DNS/tcp from LAN: received" "$L" tcp 2001:db8:1::1 53
if ip netns exec "$R" nft list chain inet fw4 dstnat | grep -qF 'meta nfproto ipv4 iifname "veth-wan" fib daddr type local tcp dport 8080 dnat ip to 192.168.255.1:8080'; then
	pass "fw4: the reloaded fw4 dstnat chain holds the static entry's DNAT"
else
	fail "fw4: dstnat chain" "$(ip netns exec "$R" nft list chain inet fw4 dstnat 2>&1)"
fi
expect_at "fw4: WAN address 192.0.2.1:8080 is forwarded (DNAT) to 192.168.255.1:8080" 192.168.255.1:8080 "$W" tcp 192.0.2.1 8080
expect_no_rx "fw4: WAN address 192.0.2.1:8081 not forwarded (public entry)" "$W" tcp 192.0.2.1 8081

STAMP="$(stat -c '%Y.%y' "$SN"/*/v6only-fw-helper.nft)"
FW4RULES="$(ruleset)"
: >"$T/fw4.calls"
sleep 1
if fh apply && [ "$STAMP" = "$(stat -c '%Y.%y' "$SN"/*/v6only-fw-helper.nft)" ] && ! grep -q reload "$T/fw4.calls" && [ "$(ruleset)" = "$FW4RULES" ]; then
	pass "fw4: apply twice rewrites nothing, no reload, ruleset identical"
else
	fail "fw4: apply twice" "$(cat "$T/out" "$T/fw4.calls")"
fi

# A zone fw4 does not have and a zone without devices: their rules are left out (warned),
# the rest stays; nothing changes on disk or in the ruleset.
cp -r "$T/fw4root" "$T/fw4root.saved"
cat >"$T/d/zz-guest" <<'CFG'
config dns
	option zone 'guest'
	option port '5353'

config ripng
	option zone 'nosuchzone'
CFG
: >"$T/fw4.calls"
if fh apply && grep -q "zz-guest:2: zone 'guest' has no devices" "$T/out" && grep -q "zz-guest:6: zone 'nosuchzone' is not defined" "$T/out" &&
	diff -r "$T/fw4root" "$T/fw4root.saved" >/dev/null && ! grep -q reload "$T/fw4.calls" && [ "$(ruleset)" = "$FW4RULES" ]; then
	pass "fw4: empty and undefined zones: apply warns naming them, leaves their rules out, changes nothing"
else
	fail "fw4: empty/undefined zone" "$(cat "$T/out"; diff -r "$T/fw4root" "$T/fw4root.saved")"
fi
if fh check && grep -q "guest" "$T/out" && grep -q nosuchzone "$T/out"; then pass "fw4: check warns about both zones and passes"; else fail "fw4: check empty/undefined zone" "$(cat "$T/out")"; fi
# fw4 check rejects the new snippets: the previous ones are restored, fw4 is not reloaded.
cat >>"$T/d/zz-guest" <<'CFG'

config dns
	option zone 'lan'
	option port '5353'
CFG
touch "$T/fw4.reject"
: >"$T/fw4.calls"
if ! fh apply && grep -q "stub fw4 rejects" "$T/out" && grep -q "restored" "$T/out" && diff -r "$T/fw4root" "$T/fw4root.saved" >/dev/null &&
	! grep -q reload "$T/fw4.calls" && [ "$(ruleset)" = "$FW4RULES" ]; then
	pass "fw4: fw4 check rejects: apply fails with its message, snippets restored, ruleset unchanged"
else
	fail "fw4: rejected snippet" "$(cat "$T/out"; diff -r "$T/fw4root" "$T/fw4root.saved")"
fi
rm -f "$T/fw4.reject"
rm -f "$T/d/zz-guest"

: >"$T/fw4.calls"
if fh remove && [ -z "$(find "$T/fw4root" -name 'v6only-fw-helper.nft')" ] && grep -q reload "$T/fw4.calls"; then
	pass "fw4: remove deletes the snippets and reloads fw4"
else
	fail "fw4: remove" "$(cat "$T/out"; find "$T/fw4root" -type f)"
fi
if ! ip netns exec "$R" nft list chain inet fw4 input | grep -q "v6only"; then pass "fw4: reloaded fw4 table has none of our rules"; else fail "fw4: rules left after remove"; fi

# fw4 installed but not running: snippets are written (checked), no reload is attempted.
ip netns exec "$R" nft delete table inet fw4
: >"$T/fw4.calls"
if fh apply && [ -f "$SN/input/v6only-fw-helper.nft" ] && grep -qx check "$T/fw4.calls" && ! grep -q reload "$T/fw4.calls"; then
	pass "fw4 not running: apply writes checked snippets, does not reload"
else
	fail "fw4 not running" "$(cat "$T/out" "$T/fw4.calls")"
fi
if fh remove && [ -z "$(find "$T/fw4root" -name 'v6only-fw-helper.nft')" ]; then pass "fw4 not running: remove deletes the snippets"; else fail "fw4 not running: remove" "$(cat "$T/out")"; fi
ip netns exec "$R" "$T/fw4" start >/dev/null 2>&1

# Switching backends: apply with nft takes the fw4 snippets away, and back.
fh apply >/dev/null 2>&1
sed -i "s/option backend 'auto'/option backend 'nft'/" "$T/config"
if fh apply && [ -z "$(find "$T/fw4root" -name 'v6only-fw-helper.nft')" ] && ip netns exec "$R" nft list table inet v6only_test >/dev/null 2>&1; then
	pass "switch fw4 -> nft: snippets removed, own table installed"
else
	fail "switch fw4 -> nft" "$(cat "$T/out")"
fi
sed -i "s/option backend 'nft'/option backend 'fw4'/" "$T/config"
if fh apply && ! ip netns exec "$R" nft list table inet v6only_test >/dev/null 2>&1 && [ -f "$SN/input/v6only-fw-helper.nft" ]; then
	pass "switch nft -> fw4: own table removed, snippets installed"
else
	fail "switch nft -> fw4" "$(cat "$T/out")"
fi

# ---------------------------------------------------------------- CLI and package test

if "$FW_HELPER" --version 2>&1 | grep -q "0\.[0-9]*\.[0-9]*"; then pass "--version prints a version"; else fail "--version" "$("$FW_HELPER" --version 2>&1)"; fi
"$FW_HELPER" bogus >"$T/out" 2>&1
if [ $? = 2 ]; then pass "unknown command: exit status 2"; else fail "unknown command" "$(cat "$T/out")"; fi
mkdir -p "$T/bin" && ln -s "$FW_HELPER" "$T/bin/fw-helper"
VERSION="$(sed -n 's/^PKG_VERSION:=//p' "$REPO/feed/fw-helper/Makefile")"
if PATH="$T/bin:$PATH" sh "$REPO/feed/fw-helper/test.sh" fw-helper "$VERSION-r1" >"$T/out" 2>&1; then
	pass "feed test.sh fw-helper $VERSION-r1"
else
	fail "feed test.sh" "$(cat "$T/out")"
fi

finish
