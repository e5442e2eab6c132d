#!/usr/bin/env bash
# lab.sh - the IPv6-only network of the e2e suite (tests/e2e/network.sh), kept running for a
# person to try (as root). `make -f Makefile.openwrt lab` builds what it needs and runs `start`.
#
#   tests/e2e/lab.sh start           builds the network, prints what to try
#   tests/e2e/lab.sh shell WHO       a shell: client6 client4 clientb internet (bash in that
#                                    namespace), router-a router-b (OpenWrt's ash, in the lab)
#   tests/e2e/lab.sh status          what runs
#   tests/e2e/lab.sh stop            tears down what start made (and nothing else)
#
# State: $E2E_LAB_STATE (default /run/v6only-e2e-lab.state). One such lab at a time.
set -u
STATE=${E2E_LAB_STATE:-/run/v6only-e2e-lab.state}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '2,/^set -u/{/^#/s/^# \{0,1\}//p}' "$0"; }
die() { echo "lab.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

# loaded: the state of the running lab in this shell (TAG, W, LA, LB and what to undo)
load() {
	[ -f "$STATE" ] || die "no lab runs (tests/e2e/lab.sh start)"
	# shellcheck disable=SC1090
	. "$STATE"
}

cmd_start() {
	local log rc=0
	[ ! -f "$STATE" ] || die "a lab already runs ($STATE): tests/e2e/lab.sh stop first"
	echo "starting the network (about 10 s) ..."
	# In a session of its own, output to a file: what it starts outlives this shell, a Ctrl-C
	# in it and a pipe it writes to.
	log=$(mktemp /tmp/v6only-e2e-lab.start.XXXXXX)
	setsid --wait bash "$0" _start >"$log" 2>&1 </dev/null || rc=$?
	cat "$log"
	rm -f "$log"
	return "$rc"
}

cmd__start() {
	TAG=v6lab
	. "$HERE/network.sh"
	# shellcheck disable=SC2086 # a word list
	setup_or_finish $E2E_PACKAGES
	lab_ready_or_finish
	daemons_ready_or_finish
	[ -f "$(ipk ripng)" ] || die "no ripng package in $DIST/$ARCH (make -f Makefile.openwrt)"
	workdir W v6only-e2e-lab
	chmod 755 "$W"
	e2e_up || die "the network did not come up (see above)"
	e2e_wait_clients || echo "lab.sh: the clients are not all configured yet; try 'status' in a moment" >&2
	e2e_keep "$STATE"
	cat <<EOF

The IPv6-only network runs. Shells:
  tests/e2e/lab.sh shell client6     modern client: IPv6 only (dhcpcd got option 108), SLAAC
  tests/e2e/lab.sh shell client4     legacy client: IPv4 lease from option108-dhcpd
  tests/e2e/lab.sh shell clientb     a client on router B's LAN (2001:db8:b::/64)
  tests/e2e/lab.sh shell router-a    OpenWrt's shell on router A (uci, logread, ubus ...)
  tests/e2e/lab.sh shell router-b    ... on router B
  tests/e2e/lab.sh shell internet    the internet: 198.51.100.80 (web, IPv4 only),
                                     198.51.100.53 (DNS, IPv4 only), 2001:db8:f::80 (web, IPv6)
Try, on client6:
  ip addr                                                 # SLAAC address, no IPv4
  dig AAAA v4only.example                                 # synthesized: 2001:db8:64::c633:6450
  curl http://v4only.example/                             # through NAT64
  dig AAAA ipv4only.arpa                                  # RFC 7050: the NAT64 prefix
  traceroute -6 -n v4only.example
  ping -c 2 2001:db8:b::ff:fe00:b                         # clientb, behind router B (RIPng)
On router-a:
  dns64 status; nat64 status; option108-dhcpd status; ripng routes; logread | tail
  uci set dns64.main.cache_size=2048; uci commit dns64; reload_config
Stop it with: make -f Makefile.openwrt lab-stop   (or tests/e2e/lab.sh stop)
EOF
}

cmd_shell() {
	local who=${1:-} ns
	load
	case $who in
	# not a login shell: the lab's /etc/profile has OpenWrt's unsubstituted PATH="%PATH%"
	router-a) exec "$LAB_SH_PATH" exec "$LA" env PS1='root@router-a:\w# ' /bin/sh -i ;;
	router-b) exec "$LAB_SH_PATH" exec "$LB" env PS1='root@router-b:\w# ' /bin/sh -i ;;
	client6) ns=$TAG-c6 ;;
	client4) ns=$TAG-c4 ;;
	clientb) ns=$TAG-cb ;;
	internet) ns=$TAG-inet ;;
	*) die "shell: who? client6 client4 clientb internet router-a router-b" ;;
	esac
	PS1="$who# " exec ip netns exec "$ns" bash --norc -i
}

cmd_status() {
	local s
	load
	for s in dns64 nat64 option108-dhcpd ripng; do
		printf 'router A %-16s %s\n' "$s" "$("$LAB_SH_PATH" exec "$LA" ubus call service list "{\"name\":\"$s\"}" | grep -q '"running": true' && echo running || echo 'NOT running')"
	done
	printf 'router B %-16s %s\n' ripng "$("$LAB_SH_PATH" exec "$LB" ubus call service list '{"name":"ripng"}' | grep -q '"running": true' && echo running || echo 'NOT running')"
	ip netns list | grep "^$TAG-" | sed 's/^/netns /'
}

cmd_stop() {
	load
	. "$HERE/network.sh"
	# the state's lists replace the (empty) ones network.sh made: exiting undoes them all
	. "$STATE"
	rm -f "$STATE"
	echo "stopping the lab ($TAG)"
	exit 0
}

LAB_SH_PATH=$HERE/../openwrt/lab/lab.sh
case ${1:-} in
start) cmd_start ;;
_start) cmd__start ;;
shell) shift; cmd_shell "$@" ;;
status) cmd_status ;;
stop) cmd_stop ;;
*) usage; exit 2 ;;
esac
