#!/bin/bash
# System tests for option108-dhcpd, as root, with real DHCP clients from Debian (dhcpcd,
# isc-dhcp-client, busybox udhcpc) and a Python client simulator, in network namespaces
# created (and removed) here. Nothing leaves the namespaces.
#
#   BIN_DIR=dir/with/option108-dhcpd tests/system/option108-dhcpd.sh
#   O108=path/to/option108-dhcpd tests/system/option108-dhcpd.sh
#
# Topology: server namespace with bridge dh8br0 (10.8.0.1/24); four client namespaces, each
# with one veth (dh8cN) into the bridge.
# One result line per check, then exactly "N passed, N failed"; exit 1 on any failure.

# No pipefail: `nft ... | grep -q` would fail whenever nft writes after grep has quit.
set -u
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SIM="$REPO/tests/system/option108-dhcpd/dhcpsim.py"
. "$REPO/tests/system/lib.sh"
. "$REPO/tests/lib/control.sh"
setup_or_finish iproute2 python3 dhcpcd-base isc-dhcp-client busybox procps
need_bin O108 option108-dhcpd
echo "binary: $O108"

S="dh8-s-$$"
C=("" "dh8-c1-$$" "dh8-c2-$$" "dh8-c3-$$" "dh8-c4-$$")
workdir T dh8-test
# The config the daemon runs with: `status` reads its control_socket.
export CONF=""
DPID=""

# dhcpcd's privilege-separation helpers outlive a killed dhcpcd: ask each to exit.
# shellcheck disable=SC2016 # expanded at exit
at_exit 'for i in 1 2; do ip netns exec "${C[$i]}" dhcpcd -4 -x "dh8c$i"; done'

netns_add "$S" "${C[@]:1}"
ip -n "$S" link add dh8br0 type bridge forward_delay 0
ip -n "$S" link set dh8br0 up
ip -n "$S" addr add 10.8.0.1/24 dev dh8br0
for i in 1 2 3 4; do
	ip -n "$S" link add "dh8v$i" type veth peer name "dh8c$i" netns "${C[$i]}"
	ip -n "$S" link set "dh8v$i" master dh8br0 up
	ip -n "${C[$i]}" link set "dh8c$i" address "02:c0:00:00:00:0$i"
	ip -n "${C[$i]}" link set "dh8c$i" up
done
sleep 1

# ---------------------------------------------------------------- helpers

write_config() { # FILE, then the dhcp sections on stdin
	local f=$1
	{
		printf "config dnsmasq\n\toption domain 'lan'\n"
		printf "config option108_dhcpd\n\toption journal '%s'\n\toption leasefile '%s'\n\toption control_socket '%s'\n" "$T/journal" "$T/dhcp.leases" "$T/ctl.sock"
		cat
	} >"$f"
}

start_daemon() { # CONFIG
	: >"$T/daemon.log"
	CONF=$1
	spawn "$S" "$O108" -v -c "$1" run 2>>"$T/daemon.log"
	DPID=$SPAWNED_PID
	for _ in $(seq 50); do
		"$O108" -c "$CONF" status >/dev/null 2>&1 && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop_daemon() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	DPID=""
}

status_get() { # PYTHON-EXPR over the status JSON as s
	"$O108" -c "$CONF" status 2>/dev/null | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)" 2>/dev/null
}
export -f status_get
export O108

sim() { # NS-INDEX COMMAND ARGS...
	local i=$1
	shift
	ip netns exec "${C[$i]}" python3 "$SIM" "$1" --iface "dh8c$i" "${@:2}"
}

no_ipv4() { ! ip -n "$1" -4 addr show dev "$2" | grep -q inet; }
has_ipv4() { ip -n "$1" -4 addr show dev "$2" | grep -q "inet $3/"; }
log_count() { grep -c -- "$1" "$T/daemon.log"; }
# A field of the skmem of the server's UDP port 67 socket bound to DEVICE ("" = the relay
# socket, bound to no device): rb = receive buffer, d = datagrams the kernel dropped.
sock_mem() { # FIELD DEVICE
	ip netns exec "$S" ss -uamnH 'sport = :67' | awk -v dev="$2" -v f="$1" '
		/^UNCONN/ { want = ($4 == (dev == "" ? "0.0.0.0:67" : "0.0.0.0%" dev ":67")) ; next }
		want && /skmem/ { if (match($0, "[(,]" f "[0-9]+")) print substr($0, RSTART + 1 + length(f), RLENGTH - 1 - length(f)); want = 0 }'
}

# ---------------------------------------------------------------- the main pool

write_config "$T/dhcp" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option start '100'
	option limit '50'
	option leasetime '1h'
	list dhcp_option '108,1800'
	list dhcp_option '6,10.8.0.53'
config host
	option name 'printer'
	option mac '02:dd:00:00:00:07'
	option ip '10.8.0.7'
EOF

check "starts on a good config" start_daemon "$T/dhcp"
check "logs the pool it serves" grep -q "lan: serving 10.8.0.1 on dh8br0 (50 addresses from 10.8.0.100, IPv6-Only Preferred 1800 s)" "$T/daemon.log"
rb=$(sock_mem rb dh8br0)
check "the pool's socket has a 1 MiB receive buffer (ss rb ${rb:-?})" [ "${rb:-0}" -ge 2097152 ]
relay_d=$(sock_mem d '')
check "the relay socket is open and took its kernel filter (no fallback logged)" \
	bash -c "[ -n '$relay_d' ] && ! grep -q 'no kernel filter' '$T/daemon.log'"

# --- dhcpcd with option ipv6_only_preferred: 108, no IPv4, no lease held
printf 'option ipv6_only_preferred\nnoipv4ll\n' >"$T/dhcpcd-v6.conf"
cat >"$T/hook.sh" <<'EOF'
#!/bin/sh
env | grep -E '^(reason|interface|new_|old_)' | sort >"HOOKDIR/dhcpcd.$interface.$reason"
EOF
sed -i "s|HOOKDIR|$T|" "$T/hook.sh"
chmod +x "$T/hook.sh"
spawn "${C[1]}" dhcpcd -4 -B -f "$T/dhcpcd-v6.conf" -c "$T/hook.sh" -j "$T/dhcpcd1.log" dh8c1 >/dev/null 2>&1
D1=$SPAWNED_PID
if wait_for 15 grep -qs "IPv6-Only Preferred received (1800 seconds)" "$T/dhcpcd1.log"; then
	pass "dhcpcd (option ipv6_only_preferred) logs 'IPv6-Only Preferred received (1800 seconds)'"
else
	fail "dhcpcd (option ipv6_only_preferred) logs 'IPv6-Only Preferred received'" "$(tail -3 "$T/dhcpcd1.log" 2>/dev/null)"
fi
sleep 2
check "dhcpcd (ipv6_only_preferred) ends with no IPv4 address" no_ipv4 "${C[1]}" dh8c1
check "the server holds no lease for the IPv6-only client" \
	bash -c "! grep -q 02:c0:00:00:00:01 '$T/journal' && [ \"\$(status_get 's[\"pools\"][0][\"active_leases\"]')\" = 0 ] && [ \"\$(status_get 's[\"pools\"][0][\"in_use\"]')\" = 0 ]"
check "status counts 1 distinct IPv6-only client" [ "$(status_get 's["pools"][0]["ipv6_only_clients"]')" = 1 ]
kill "$D1" 2>/dev/null
wait "$D1" 2>/dev/null

# --- dhcpcd stock
printf 'noipv4ll\n' >"$T/dhcpcd.conf"
spawn "${C[2]}" dhcpcd -4 -B -f "$T/dhcpcd.conf" -c "$T/hook.sh" -j "$T/dhcpcd2.log" dh8c2 >/dev/null 2>&1
D2=$SPAWNED_PID
if wait_for 15 test -f "$T/dhcpcd.dh8c2.BOUND"; then
	ip2=$(sed -n 's/^new_ip_address=//p' "$T/dhcpcd.dh8c2.BOUND")
	check "dhcpcd gets a lease from the pool ($ip2)" wait_for 3 has_ipv4 "${C[2]}" dh8c2 "$ip2"
	check "dhcpcd: router 10.8.0.1" grep -qx "new_routers=10.8.0.1" "$T/dhcpcd.dh8c2.BOUND"
	check "dhcpcd: DNS server 10.8.0.53 as configured" grep -qx "new_domain_name_servers=10.8.0.53" "$T/dhcpcd.dh8c2.BOUND"
	check "dhcpcd: domain name lan" grep -qx "new_domain_name=lan" "$T/dhcpcd.dh8c2.BOUND"
	acks=$(log_count "DHCPACK $ip2 ")
	ip netns exec "${C[2]}" dhcpcd -4 -N dh8c2 >/dev/null 2>&1
	check "dhcpcd renews (-N): one more DHCPACK for $ip2" wait_for 10 bash -c "[ \$(grep -c 'DHCPACK $ip2 ' '$T/daemon.log') -gt $acks ]"
	ip netns exec "${C[2]}" dhcpcd -4 -k dh8c2 >/dev/null 2>&1
	check "dhcpcd releases (-k): the server frees $ip2" wait_for 10 grep -q "released $ip2" "$T/daemon.log"
else
	fail "dhcpcd gets a lease" "$(tail -3 "$T/dhcpcd2.log" 2>/dev/null)"
fi
kill "$D2" 2>/dev/null
wait "$D2" 2>/dev/null

# --- INIT-REBOOT: a client with a lease restarts as IPv6-only capable (dhcpcd)
rm -f "$T"/dhcpcd.dh8c2.*
spawn "${C[2]}" dhcpcd -4 -B -f "$T/dhcpcd.conf" -c "$T/hook.sh" -j "$T/dhcpcd2b.log" dh8c2 >/dev/null 2>&1
D2=$SPAWNED_PID
if wait_for 15 test -f "$T/dhcpcd.dh8c2.BOUND"; then
	ipr=$(sed -n 's/^new_ip_address=//p' "$T/dhcpcd.dh8c2.BOUND")
	# Stopped without a release (-x): the lease stays in dhcpcd's lease file for INIT-REBOOT.
	ip netns exec "${C[2]}" dhcpcd -4 -x dh8c2 >/dev/null 2>&1
	wait "$D2" 2>/dev/null
	ip -n "${C[2]}" addr flush dev dh8c2
	spawn "${C[2]}" dhcpcd -4 -B -f "$T/dhcpcd-v6.conf" -c "$T/hook.sh" -j "$T/dhcpcd2c.log" dh8c2 >/dev/null 2>&1
	D2=$SPAWNED_PID
	check "dhcpcd in INIT-REBOOT ($ipr) with ipv6_only_preferred gets 108 in the ACK" \
		wait_for 15 grep -qs "IPv6-Only Preferred received (1800 seconds)" "$T/dhcpcd2c.log"
	# RFC 2131 4.3.2: the ACK confirms the address it remembers; RFC 8925 3.2: the binding is
	# the client's to keep or release, so the server keeps it as it was.
	if wait_for 3 bash -c "grep -q 'is IPv6-only preferred: DHCPACK $ipr with option 108' '$T/daemon.log' && [ \"\$(status_get 's[\"pools\"][0][\"active_leases\"]')\" = 1 ]"; then
		pass "... the server's ACK confirmed $ipr (RFC 2131 4.3.2) and kept its lease (1 active)"
	else
		fail "... the server's ACK confirmed $ipr and kept its lease" "$(grep -E 'DHCPACK|IPv6-only' "$T/daemon.log" | tail -3)"
	fi
	sleep 1
	check "... and the client ends with no IPv4 address" no_ipv4 "${C[2]}" dh8c2
	kill "$D2" 2>/dev/null
	wait "$D2" 2>/dev/null
else
	fail "dhcpcd gets a lease for the INIT-REBOOT test" "$(tail -3 "$T/dhcpcd2b.log" 2>/dev/null)"
fi

# --- dhclient (isc-dhcp-client): no broadcast flag, so the OFFER is a unicast to its MAC
cat >"$T/dhclient.sh" <<'EOF'
#!/bin/sh
env | grep -E '^(reason|interface|new_|old_)' | sort >"HOOKDIR/dhclient.$reason"
case "$reason" in
BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"; ip addr add "$new_ip_address/24" dev "$interface" ;;
RELEASE|EXPIRE|FAIL|STOP) ip addr flush dev "$interface" ;;
esac
EOF
sed -i "s|HOOKDIR|$T|" "$T/dhclient.sh"
chmod +x "$T/dhclient.sh"
DHCLIENT=(dhclient -4 -d -sf "$T/dhclient.sh" -lf "$T/dhclient.leases" -pf "$T/dhclient.pid")
spawn "${C[3]}" "${DHCLIENT[@]}" dh8c3 >"$T/dhclient.out" 2>&1
D3=$SPAWNED_PID
if wait_for 15 test -f "$T/dhclient.BOUND"; then
	ip3=$(sed -n 's/^new_ip_address=//p' "$T/dhclient.BOUND")
	check "dhclient gets a lease ($ip3)" wait_for 3 has_ipv4 "${C[3]}" dh8c3 "$ip3"
	check "dhclient: router, DNS and domain" bash -c "grep -qx new_routers=10.8.0.1 '$T/dhclient.BOUND' && grep -qx new_domain_name_servers=10.8.0.53 '$T/dhclient.BOUND' && grep -qx new_domain_name=lan '$T/dhclient.BOUND'"
	check "unicast reply to chaddr: the server set an ARP entry for $ip3" bash -c "ip -n '$S' neigh show '$ip3' | grep -q 02:c0:00:00:00:03"
	check "the dnsmasq-format lease file lists it (expiry mac ip hostname clientid)" \
		wait_for 3 bash -c "awk 'NF==5 && \$2==\"02:c0:00:00:00:03\" && \$3==\"$ip3\" && \$1 > 0' '$T/dhcp.leases' | grep -q ."
	# Renewal after a restart of the client: INIT-REBOOT with the remembered address.
	kill -9 "$D3" 2>/dev/null
	wait "$D3" 2>/dev/null
	spawn "${C[3]}" "${DHCLIENT[@]}" dh8c3 >>"$T/dhclient.out" 2>&1
	D3=$SPAWNED_PID
	check "dhclient renews its lease (REBOOT, same address)" wait_for 10 bash -c "test -f '$T/dhclient.REBOOT' && grep -qx new_ip_address=$ip3 '$T/dhclient.REBOOT'"
	kill "$D3" 2>/dev/null
	wait "$D3" 2>/dev/null
	timeout 10 ip netns exec "${C[3]}" dhclient -4 -r -sf "$T/dhclient.sh" -lf "$T/dhclient.leases" -pf "$T/dhclient.pid" dh8c3 >/dev/null 2>&1
	check "dhclient releases (-r): the server frees $ip3" wait_for 5 grep -q "released $ip3" "$T/daemon.log"
else
	fail "dhclient gets a lease" "$(tail -3 "$T/dhclient.out")"
fi

# --- busybox udhcpc
cat >"$T/udhcpc.sh" <<'EOF'
#!/bin/sh
env | grep -E '^(ip|router|dns|domain|subnet|lease|serverid|interface)=' | sort >"HOOKDIR/udhcpc.$interface.$1"
case "$1" in
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/24" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
EOF
sed -i "s|HOOKDIR|$T|" "$T/udhcpc.sh"
chmod +x "$T/udhcpc.sh"
spawn "${C[4]}" busybox udhcpc -i dh8c4 -f -s "$T/udhcpc.sh" -t 5 -T 1 >"$T/udhcpc.out" 2>&1
D4=$SPAWNED_PID
if wait_for 15 test -f "$T/udhcpc.dh8c4.bound"; then
	ip4=$(sed -n 's/^ip=//p' "$T/udhcpc.dh8c4.bound")
	check "udhcpc gets a lease ($ip4)" wait_for 3 has_ipv4 "${C[4]}" dh8c4 "$ip4"
	check "udhcpc: router, DNS and domain" bash -c "grep -qx router=10.8.0.1 '$T/udhcpc.dh8c4.bound' && grep -qx dns=10.8.0.53 '$T/udhcpc.dh8c4.bound' && grep -qx domain=lan '$T/udhcpc.dh8c4.bound'"
	upid=$(pgrep -f "busybox udhcpc -i dh8c4" | head -1)
	kill -USR1 "$upid"
	check "udhcpc renews (SIGUSR1)" wait_for 10 bash -c "test -f '$T/udhcpc.dh8c4.renew' && grep -qx ip=$ip4 '$T/udhcpc.dh8c4.renew'"
	kill -USR2 "$upid"
	check "udhcpc releases (SIGUSR2): the server frees $ip4" wait_for 10 grep -q "released $ip4" "$T/daemon.log"
	kill "$upid" 2>/dev/null
else
	fail "udhcpc gets a lease" "$(tail -3 "$T/udhcpc.out")"
fi
wait "$D4" 2>/dev/null

# --- static host
ip -n "${C[4]}" link set dh8c4 address 02:dd:00:00:00:07
rm -f "$T"/udhcpc.dh8c4.*
timeout 15 ip netns exec "${C[4]}" busybox udhcpc -i dh8c4 -f -q -n -s "$T/udhcpc.sh" -t 5 -T 1 >>"$T/udhcpc.out" 2>&1
check "a static host gets its fixed address 10.8.0.7" wait_for 3 has_ipv4 "${C[4]}" dh8c4 10.8.0.7
check "... and shows in the lease file for LuCI" wait_for 3 bash -c "awk '\$2==\"02:dd:00:00:00:07\" && \$3==\"10.8.0.7\"' '$T/dhcp.leases' | grep -q ."
ip -n "${C[4]}" addr flush dev dh8c4
ip -n "${C[4]}" link set dh8c4 address 02:c0:00:00:00:04

# --- RFC 8925 on the wire, with the simulator
out=$(sim 4 discover --mac 02:08:00:00:01:08 --prl 1,3,6,108)
check "DISCOVER with 108 in the PRL: OFFER yiaddr 0.0.0.0, option 108 = 00000708 (1800), no lease time" \
	bash -c "grep -qx 'type=2 yiaddr=0.0.0.0' <<<'$out' && grep -qx 'option 108 00000708' <<<'$out' && ! grep -q 'option 51 ' <<<'$out'"
out=$(sim 4 discover --mac 02:08:00:00:01:09 --prl 1,3,6)
check "DISCOVER without 108 on the same pool: an address and no option 108" \
	bash -c "grep -q 'type=2 yiaddr=10.8.0.1' <<<'$out' && ! grep -q 'option 108' <<<'$out'"

# --- RFC 8925 3.3 / RFC 2131 4.3.2: a client offered 0.0.0.0 that REQUESTs (SELECTING, our
# server identifier) an address of the pool is NAKed; nothing is allocated
in_use=$(status_get 's["pools"][0]["in_use"]')
sim 4 discover --mac 02:08:00:00:01:20 --prl 1,3,6,108 >/dev/null
out=$(sim 4 request --mac 02:08:00:00:01:20 --prl 1,3,6,108 --server 10.8.0.1 --requested 10.8.0.140)
check "SELECTING 10.8.0.140 after an OFFER of 0.0.0.0 with 108: a DHCPNAK, nothing allocated (RFC 2131 4.3.2, RFC 8925 3.3)" \
	bash -c "grep -qx 'type=6 yiaddr=0.0.0.0' <<<'$out' && [ \"\$(status_get 's[\"pools\"][0][\"in_use\"]')\" = '${in_use:-x}' ] && ! grep -q 02:08:00:00:01:20 '$T/journal'"
# --- INIT-REBOOT with 108 from a client whose lease is live: ACK with its address and 108
got=$(sim 4 dora --count 1 --base 900 --prl 1,3,6)
iprb=$(awk '/^ACK/ {print $3}' <<<"$got")
out=$(sim 4 request --mac 02:08:00:00:03:84 --prl 1,3,6,108 --requested "${iprb:-10.8.0.0}")
check "INIT-REBOOT with 108 of a live lease ($iprb): ACK yiaddr $iprb with option 108 and a lease time (RFC 2131 4.3.2, RFC 8925 3.3)" \
	bash -c "[ -n '$iprb' ] && grep -qx 'type=5 yiaddr=$iprb' <<<'$out' && grep -qx 'option 108 00000708' <<<'$out' && grep -q '^option 51 ' <<<'$out'"

# --- the relay socket's filter: a client's broadcasts are rejected in the kernel (counted
# there as drops of that socket), not queued for the daemon to read and discard
relay_drops=$(sock_mem d '')
sim 4 dora --count 2 --base 600 >/dev/null
relay_drops2=$(sock_mem d '')
check "the relay socket's filter rejects the broadcasts of 2 DORAs in the kernel (drops ${relay_drops:-?} -> ${relay_drops2:-?})" \
	[ "$((${relay_drops2:-0} - ${relay_drops:-0}))" -ge 4 ]
# --- a relay agent (giaddr) on the link: the reply goes back to it, port 67
ip -n "${C[4]}" addr add 10.8.0.250/24 dev dh8c4
out=$(sim 4 relay --giaddr 10.8.0.250 --server 10.8.0.1 --mac 02:08:00:00:02:50 --timeout 3)
check "a relayed DISCOVER (giaddr 10.8.0.250) gets its OFFER sent to the relay" grep -q "type=2 yiaddr=10.8.0.1" <<<"$out"
ip -n "${C[4]}" addr flush dev dh8c4

# --- DHCPINFORM from a host with a manual address: configuration, unicast to ciaddr, 108 if asked
ip -n "${C[4]}" addr add 10.8.0.240/24 dev dh8c4
out=$(sim 4 inform --ciaddr 10.8.0.240 --mac 02:c0:00:00:00:04 --prl 1,3,6,15,108)
check "DHCPINFORM gets an ACK (unicast to ciaddr) with DNS, domain and 108, no address and no lease time" \
	bash -c "grep -qx 'type=5 yiaddr=0.0.0.0' <<<'$out' && grep -qx 'option 6 0a080035' <<<'$out' && grep -qx 'option 15 6c616e' <<<'$out' && grep -qx 'option 108 00000708' <<<'$out' && ! grep -q 'option 51 ' <<<'$out'"
ip -n "${C[4]}" addr flush dev dh8c4

# --- DHCPDECLINE: the address is quarantined, the next client gets another one
out=$(sim 4 decline --mac 02:08:00:00:03:01)
declined=$(sed -n 's/^DECLINED //p' <<<"$out")
check "DHCPDECLINE of ${declined:-?} is logged as quarantined" wait_for 3 grep -q "declined ${declined:-none} (in use on the link?): quarantined" "$T/daemon.log"
out=$(sim 4 discover --mac 02:08:00:00:03:01 --prl 1)
check "... and the same client is offered another address" bash -c "grep -q 'type=2 yiaddr=10.8.0.' <<<'$out' && ! grep -q 'yiaddr=${declined:-none}\$' <<<'$out'"

# --- control clients that hang on (seven that never send a command, one that asks for
# status and never reads) cost the loop nothing: a client's DORA is served as fast as without
# them
# dora_within SECONDS: one DORA from the simulator, ACKed within SECONDS.
dora_within() {
	local out
	out=$(sim 4 dora --count 1 --base 800 --timeout 5)
	echo "$out"
	awk -v max="$1" '/^done / { done = 1; sub(/seconds=/, "", $4); ok = $2 == "acked=1" && $3 == "failed=0" && $4 + 0 <= max }
		END { exit !(done && ok) }' <<<"$out"
}
check "8 control clients that never send or never read do not delay a lease (DORA within 0.5 s)" \
	hold_control "$T/ctl.sock" dora_within 0.5
check "... and status still answers once they are gone" status_get 's["pools"][0]["size"]'

# --- status, malformed messages, reload
check "status JSON per pool: size, in_use, free, active_leases, ipv6_only_clients" \
	[ "$(status_get 'sorted(k for k in s["pools"][0] if k in ("size","in_use","free","active_leases","ipv6_only_clients"))')" = "['active_leases', 'free', 'in_use', 'ipv6_only_clients', 'size']" ]
check "status: in_use + free = size" [ "$(status_get 's["pools"][0]["in_use"] + s["pools"][0]["free"] == s["pools"][0]["size"]')" = True ]
before=$(status_get 's["counters"]["malformed"]')
sim 4 malformed >/dev/null
sleep 0.5
after=$(status_get 's["counters"]["malformed"]')
check "malformed messages (truncated, bad option lengths, overlong, bad magic) dropped and counted (${before:-?} -> ${after:-?})" [ "$((${after:-0} - ${before:-0}))" -eq 5 ]
check "a BOOTREPLY (wrong op) is dropped and counted" [ "$(status_get 's["counters"]["not_request"]')" -ge 1 ]
check "the daemon is still running" kill -0 "$DPID"
sim 4 dora --count 3 --base 500 >/dev/null
leases=$(status_get 's["pools"][0]["active_leases"]')
sed -i "s/option leasetime '1h'/option leasetime '2h'/" "$T/dhcp"
kill -HUP "$DPID"
check "SIGHUP reloads and keeps the leases ($leases active)" \
	wait_for 3 bash -c "[ '${leases:-0}' -ge 3 ] && grep -q 'reloaded: 1 pool' '$T/daemon.log' && [ \"\$(status_get 's[\"pools\"][0][\"active_leases\"]')\" = '$leases' ]"
check "'option108-dhcpd reload' on the control socket replies {\"reloaded\":true}" \
	bash -c "[ \"\$('$O108' -c '$CONF' reload)\" = '{\"reloaded\":true}' ]"
printf "config dhcp 'bad'\n\toption device 'dh8nonexist'\n" >>"$T/dhcp"
kill -HUP "$DPID"
check "a bad config on reload is logged naming the option, the old one kept" \
	wait_for 3 bash -c "grep -q 'reload: .*dhcp.bad.device.*keeping the running config' '$T/daemon.log' && kill -0 $DPID"
check "'reload' of the bad config: exit 1, a JSON error naming the option" \
	bash -c "out=\$('$O108' -c '$CONF' reload); [ \$? = 1 ] && echo \"\$out\" | python3 -c 'import json,sys; assert \"dhcp.bad.device\" in json.load(sys.stdin)[\"error\"]'"
# --- a flood of IPv6-only DISCOVERs (a lease event each): the log lines are rate-limited
lines=$(log_count "is IPv6-only preferred")
sim 4 flood --count 3000 --prl 1,3,6,108 >/dev/null
sleep 0.5
lines2=$(log_count "is IPv6-only preferred")
suppressed=$(status_get 's["counters"]["log_suppressed"]')
check "3000 IPv6-only DISCOVERs log at most 100 lines ($lines -> $lines2), the rest counted (log_suppressed ${suppressed:-?})" \
	bash -c "[ $((lines2 - lines)) -le 100 ] && [ '${suppressed:-0}' -ge 2500 ]"
# --- kernel drops: a stopped daemon's socket overflows; the status then reports the count
kill -STOP "$DPID"
sim 4 flood --count 6000 --prl 1,3,6,108 >/dev/null
kill -CONT "$DPID"
sleep 1
# One more datagram carries the socket's drop count up to now.
sim 4 flood --count 1 --prl 1,3,6,108 >/dev/null
sleep 0.5
kd=$(status_get 's["counters"]["kernel_drops"]')
ss_d=$(sock_mem d dh8br0)
check "6000 DISCOVERs to a stopped daemon overflow its 1 MiB buffer: status kernel_drops ${kd:-?} = the kernel's count ${ss_d:-?}" \
	[ "${kd:-0}" -ge 1 -a "${kd:-0}" = "${ss_d:-x}" ]
check "status counts the pool socket's kernel drops (kernel_drops $(status_get 's["counters"]["kernel_drops"]'))" \
	bash -c "[ \"\$(status_get 'type(s[\"counters\"][\"kernel_drops\"]).__name__ + str(s[\"counters\"][\"kernel_drops_counted\"])')\" = intTrue ]"
stop_daemon

# ---------------------------------------------------------------- exhaustion and flood

write_config "$T/small" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option start '10'
	option limit '3'
EOF
rm -f "$T/journal"
start_daemon "$T/small"
out=$(sim 4 dora --count 3 --timeout 5)
check "3 clients fill a 3-address pool" grep -q "done acked=3 failed=0" <<<"$out"
out=$(sim 4 dora --count 1 --base 100 --timeout 3 --retry 1 --tries 1)
check "the next client gets no offer" grep -q "done acked=0" <<<"$out"
check "the log says why (pool exhausted)" grep -q "lan: pool exhausted, no address for 02:08:00:00:00:64 (3 addresses" "$T/daemon.log"
stop_daemon

write_config "$T/flood" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option start '10'
	option limit '200'
EOF
rm -f "$T/journal"
start_daemon "$T/flood"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$DPID/status")
sim 4 flood --count 20000 >/dev/null
sleep 1
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$DPID/status")
check "a flood of 20000 DISCOVERs from random MACs does not crash the server" kill -0 "$DPID"
in_use=$(status_get 's["pools"][0]["in_use"]')
check "the flood takes at most the pool (in_use ${in_use:-?} <= 200)" [ "${in_use:-999}" -le 200 ]
check "memory stays bounded under the flood (RSS ${rss_before} -> ${rss_after} kB, growth < 512 kB)" [ "$((rss_after - rss_before))" -lt 512 ]
stop_daemon

# ---------------------------------------------------------------- kill -9 during a burst

write_config "$T/burst" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option start '2'
	option limit '250'
EOF
rm -f "$T/journal" "$T/dhcp.leases"
start_daemon "$T/burst"
# Paced (one new client every 10 ms) so that the kill lands in the middle of the burst.
sim 4 dora --count 240 --window 16 --pace 0.01 --timeout 8 --retry 0.5 --tries 2 >"$T/acked" 2>&1 &
BURST=$!
wait_for 10 bash -c "[ \$(grep -c ^ACK '$T/acked') -ge 60 ]"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
DPID=""
wait "$BURST"
grep '^ACK' "$T/acked" >"$T/acked.ok"
n_acked=$(wc -l <"$T/acked.ok")
check "the kill -9 came in the middle of the burst ($n_acked of 240 ACKed)" [ "$n_acked" -ge 60 -a "$n_acked" -lt 240 ]
# The lease file is rewritten from the journal alone: the one written before the kill goes.
rm -f "$T/dhcp.leases"
check "the daemon restarts after kill -9" start_daemon "$T/burst"
check "the journal was read back (restore logged)" grep -q "started, [0-9]* lease(s) restored" "$T/daemon.log"
# Before any client speaks again: what the journal gave back is all there is.
restored=$(sed -n 's/.*started, \([0-9]*\) lease(s) restored.*/\1/p' "$T/daemon.log")
check "the journal gave back at least every ACKed lease ($restored restored, $n_acked ACKed)" [ "${restored:-0}" -ge "$n_acked" ]
check "every ACKed lease (mac and address) is in the lease file written at restart" \
	wait_for 3 bash -c "while read -r _ m i; do grep -q \" \$m \$i \" '$T/dhcp.leases' || exit 1; done <'$T/acked.ok'"
check "no address and no MAC appears twice in the lease file" \
	bash -c "[ \"\$(awk '{print \$3}' '$T/dhcp.leases' | sort | uniq -d | wc -l)\" = 0 ] && [ \"\$(awk '{print \$2}' '$T/dhcp.leases' | sort | uniq -d | wc -l)\" = 0 ]"
sim 4 reboot --pairs "$T/acked.ok" >"$T/reboot"
check "each of the $n_acked clients gets an ACK for its address on INIT-REBOOT" [ "$(grep -c '^ACK' "$T/reboot")" = "$n_acked" ]
stop_daemon

# ---------------------------------------------------------------- log_leases 0

write_config "$T/quiet" <<'EOF'
config option108_dhcpd 'quiet'
	option log_leases '0'
config dhcp 'lan'
	option device 'dh8br0'
	option start '10'
	option limit '20'
EOF
rm -f "$T/journal"
start_daemon "$T/quiet"
out=$(sim 4 dora --count 2 --base 700)
check "log_leases 0: 2 DORAs ACKed" grep -q "done acked=2 failed=0" <<<"$out"
check "log_leases 0: their DHCPACKs logged at debug, none at info" \
	bash -c "[ \$(grep -c 'debug: lan: DHCPACK' '$T/daemon.log') = 2 ] && ! grep -q 'info: lan: DHCPACK' '$T/daemon.log'"
sed -i "s/option log_leases '0'/option log_leases '1'/" "$T/quiet"
kill -HUP "$DPID"
wait_for 3 grep -q "reloaded" "$T/daemon.log"
sim 4 dora --count 1 --base 710 >/dev/null
check "log_leases 1 after SIGHUP: the next DHCPACK at info" wait_for 3 grep -q "info: lan: DHCPACK" "$T/daemon.log"
stop_daemon

# ---------------------------------------------------------------- configs

bad_config() { # NAME EXPECTED-OPTION, sections on stdin
	mkdir -p "$T/bad"
	write_config "$T/bad/dhcp"
	if timeout 5 ip netns exec "$S" "$O108" -v -c "$T/bad/dhcp" run >"$T/bad.out" 2>&1; then
		fail "$1" "started"
	elif grep -q -- "$2" "$T/bad.out"; then
		pass "$1: refuses to start, naming $2"
	else
		fail "$1" "$(cat "$T/bad.out")"
	fi
}
bad_config "log_leases not a boolean" "dhcp.quiet.log_leases" <<'EOF'
config option108_dhcpd 'quiet'
	option log_leases 'loud'
config dhcp 'lan'
	option device 'dh8br0'
EOF
bad_config "start outside the subnet" "dhcp.lan.start" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option start '300'
EOF
bad_config "limit past the subnet" "dhcp.lan.limit" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option start '200'
	option limit '100'
EOF
bad_config "a malformed dhcp_option" "dhcp.lan.dhcp_option" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	list dhcp_option '6,not-an-address'
EOF
bad_config "an unknown interface" "dhcp.guest.interface" <<'EOF'
config dhcp 'guest'
	option interface 'guest'
EOF
bad_config "a static host outside the subnet" "dhcp.@host\[0\].ip" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
config host
	option mac '02:dd:00:00:00:09'
	option ip '192.168.77.5'
EOF

write_config "$T/v100" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	option ipv6_only_preferred '100'
EOF
check "ipv6_only_preferred 100 starts" start_daemon "$T/v100"
check "... with the warning that clients will wait 300 s anyway" grep -q "V6ONLY_WAIT is 100 s, below MIN_V6ONLY_WAIT: clients will wait 300 s anyway" "$T/daemon.log"
out=$(sim 4 discover --mac 02:08:00:00:01:10 --prl 1,108)
check "... and sends exactly 100 (option 108 00000064)" grep -qx "option 108 00000064" <<<"$out"
stop_daemon

write_config "$T/seed" <<'EOF'
config dhcp 'lan'
	option device 'dh8br0'
	list dhcp_option '108,0000i'
	option rapid_commit '1'
EOF
start_daemon "$T/seed"
out=$(sim 4 discover --mac 02:08:00:00:01:11 --prl 1,108)
check "the seed's dhcp_option 108,0000i sends 108 = 0 to a client that asks" grep -qx "option 108 00000000" <<<"$out"
out=$(sim 4 discover --mac 02:08:00:00:01:12 --prl 1,3)
check "... and not to a client that does not ask" bash -c "! grep -q 'option 108' <<<'$out' && grep -q 'yiaddr=10.8.0' <<<'$out'"
out=$(sim 4 discover --mac 02:08:00:00:01:13 --prl 1,108 --rapid-commit)
check "rapid commit is not honoured when the reply carries 108 (an OFFER without option 80)" \
	bash -c "grep -qx 'type=2 yiaddr=0.0.0.0' <<<'$out' && ! grep -q 'option 80' <<<'$out'"
out=$(sim 4 discover --mac 02:08:00:00:01:14 --prl 1,3 --rapid-commit)
check "... and honoured otherwise (an ACK with option 80)" bash -c "grep -q 'type=5 yiaddr=10.8.0' <<<'$out' && grep -q 'option 80 ' <<<'$out'"
stop_daemon

finish
