# ripng.sh - sourced (bash) after tests/lib/netns.sh by tests/system/ripng.sh, the fixture
# capture and the bench: RIPng routers in network namespaces, each running BIRD 2 (`protocol
# rip ng`), FRR's ripngd (with its own zebra) or our ripng, joined by veth links or shared
# segments, and what each of them says about a prefix.
#
#   rip_init                        work directory, short timers (RIP_UPDATE, RIP_TIMEOUT,
#                                   RIP_GARBAGE: 5, 15, 10 s unless set before)
#   rip_router NAME KIND ID         a namespace for router NAME (KIND bird|frr|ours, or host:
#                                   no daemon, addresses only); ID (1-99,
#                                   unique) gives its link-local fe80::ID on every interface,
#                                   its stub LAN 2001:db8:ID::/64 (stub0, a veth pair) and router id
#   rip_link A B                    a veth link A-B (devices "A_B" in A and "B_A" in B: a BIRD symbol)
#   rip_segment SEG R...            a shared segment: a bridge in its own namespace, one port
#                                   per router (device "R_SEG" in R)
#   rip_ifup NAME DEV / rip_ifdown  set NAME's interface DEV up (with its address again: the
#                                   kernel drops IPv6 addresses on admin down, as netifd would
#                                   add them back) or down
#   rip_opt NAME LINE               a line of daemon config for NAME (KIND's own syntax; for
#                                   ours: a UCI line in `config ripng 'main'`, or a section
#                                   with `rip_ifopt`)
#   rip_ifopt NAME DEV LINE         a line for NAME's interface DEV (ours: UCI option; bird:
#                                   inside `interface "DEV" {}`; frr: under `interface DEV`)
#   RIP_BIRD_CHANNEL[NAME]=TEXT     BIRD: the rip protocol's ipv6 channel (default: import all;
#                                   export all;)
#   rip_start NAME                  write NAME's config and start its daemon(s)
#   rip_stop NAME [SIGNAL]          stop them (TERM, or the signal given: KILL for a crash)
#   rip_signal NAME SIGNAL          SIGSTOP/SIGCONT/SIGHUP to the RIPng daemon of NAME
#   rip_metric NAME PREFIX          the metric NAME's daemon holds for PREFIX (the best, 1-16),
#                                   or "none"
#   rip_kernel NAME PREFIX          NAME's kernel route for PREFIX (`ip -6 route` line) or ""
#   in_rt NAME COMMAND...           COMMAND in NAME's namespace
#   stub PREFIX_OF ID               2001:db8:ID::/64
#
# Ours: RIPNG (the binary) must be set before rip_start; status through `ripng -c FILE
# status` (JSON, "routes": [{prefix, metric, next_hop, interface, source}]).

declare -A RIP_KIND RIP_ID RIP_IFS RIP_OPTS RIP_IFOPTS RIP_PIDS RIP_BIRD_CHANNEL

rip_init() {
	RIP_UPDATE=${RIP_UPDATE:-5}
	RIP_TIMEOUT=${RIP_TIMEOUT:-15}
	RIP_GARBAGE=${RIP_GARBAGE:-10}
	RIP_TAG=${RIP_TAG:-rn$$}
	workdir RIP_WORK ripng
	chmod 755 "$RIP_WORK"
}

rip_ns() { echo "$RIP_TAG-$1"; }
in_rt() {
	local ns
	ns=$(rip_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}
stub() { echo "2001:db8:$1::/64"; }
ll() { echo "fe80::${RIP_ID[$1]}"; }

rip_router() {
	local name=$1 kind=$2 id=$3 ns
	ns=$(rip_ns "$name")
	netns_add "$ns"
	RIP_KIND[$name]=$kind
	RIP_ID[$name]=$id
	RIP_IFS[$name]=""
	RIP_OPTS[$name]=""
	mkdir -p "$RIP_WORK/$name"
	# No DAD: the fixed link-locals are usable at once (the daemons bind to them).
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.addr_gen_mode=1 ||
		die "sysctl in $ns"
	# The stub LAN: a veth pair inside the namespace (the dummy module may be missing), up at
	# both ends so that it has carrier.
	ip -n "$ns" link add stub0 type veth peer name stub0p || die "stub0 in $ns"
	ip -n "$ns" addr add "2001:db8:$id::1/64" dev stub0
	ip -n "$ns" link set stub0p up
	ip -n "$ns" link set stub0 up
}

# _rip_port NAME DEV: an interface of NAME with the fixed link-local fe80::ID.
_rip_port() {
	local ns
	ns=$(rip_ns "$1")
	ip -n "$ns" addr add "fe80::${RIP_ID[$1]}/64" dev "$2" || die "address on $2 in $ns"
	RIP_IFS[$1]="${RIP_IFS[$1]} $2"
}

rip_link() {
	local a=$1 b=$2
	# addr_gen_mode 1 (none) from the namespace default: only the fixed link-local.
	veth "$(rip_ns "$a")" "${a}_$b" "$(rip_ns "$b")" "${b}_$a"
	_rip_port "$a" "${a}_$b"
	_rip_port "$b" "${b}_$a"
}

rip_segment() {
	local seg=$1 r ns
	shift
	ns=$(rip_ns "$seg")
	netns_add "$ns"
	ip -n "$ns" link add br0 type bridge || die "bridge in $ns"
	ip -n "$ns" link set br0 up
	for r in "$@"; do
		veth "$(rip_ns "$r")" "${r}_$seg" "$ns" "$r"
		ip -n "$ns" link set "$r" master br0
		_rip_port "$r" "${r}_$seg"
	done
}

rip_ifdown() { ip -n "$(rip_ns "$1")" link set "$2" down; }
rip_ifup() {
	local ns addr
	ns=$(rip_ns "$1")
	if [ "$2" = stub0 ]; then addr="2001:db8:${RIP_ID[$1]}::1/64"; else addr="fe80::${RIP_ID[$1]}/64"; fi
	ip -n "$ns" link set "$2" up && ip -n "$ns" addr replace "$addr" dev "$2"
}

rip_opt() { RIP_OPTS[$1]="${RIP_OPTS[$1]}$2"$'\n'; }
rip_ifopt() { RIP_IFOPTS[$1/$2]="${RIP_IFOPTS[$1/$2]:-}$3"$'\n'; }

_rip_conf_bird() {
	local name=$1 d=$RIP_WORK/$1 dev
	{
		echo "router id 10.0.0.${RIP_ID[$name]};"
		echo "log \"$d/bird.log\" all;"
		echo "protocol device { scan time 10; }"
		echo "protocol direct { ipv6; interface \"stub*\"; }"
		echo "protocol kernel { ipv6 { export where source = RTS_RIP; }; }"
		printf '%s' "${RIP_OPTS[$name]}"
		echo "protocol rip ng rip1 {"
		echo "  ipv6 { ${RIP_BIRD_CHANNEL[$name]:-import all; export all;} };"
		for dev in ${RIP_IFS[$name]}; do
			echo "  interface \"$dev\" {"
			# ttl security: hop limit 255 sent and required (BIRD's default for RIPng, said
			# here so that a peer that sends less is not heard).
			echo "    ttl security on;"
			echo "    update time $RIP_UPDATE; timeout time $RIP_TIMEOUT; garbage time $RIP_GARBAGE;"
			printf '%s' "${RIP_IFOPTS[$name/$dev]:-}"
			echo "  };"
		done
		echo "}"
	} >"$d/bird.conf"
}

_rip_conf_frr() {
	local name=$1 d=$RIP_WORK/$1 dev
	printf 'hostname %s-zebra\n' "$name" >"$d/zebra.conf"
	{
		echo "hostname $name"
		for dev in ${RIP_IFS[$name]}; do
			echo "interface $dev"
			printf '%s' "${RIP_IFOPTS[$name/$dev]:-}"
		done
		echo "router ripng"
		for dev in ${RIP_IFS[$name]}; do echo " network $dev"; done
		echo " redistribute connected"
		echo " timers basic $RIP_UPDATE $RIP_TIMEOUT $RIP_GARBAGE"
		# Last: may add to `router ripng` (another block of it) and replace lines above.
		printf '%s' "${RIP_OPTS[$name]}"
	} >"$d/ripngd.conf"
}

_rip_conf_ours() {
	local name=$1 d=$RIP_WORK/$1 dev
	{
		echo "config ripng 'main'"
		echo "	option control_socket '$d/ripng.sock'"
		echo "	option update_interval '$RIP_UPDATE'"
		echo "	option timeout '$RIP_TIMEOUT'"
		echo "	option garbage '$RIP_GARBAGE'"
		printf '%s' "${RIP_OPTS[$name]}"
		for dev in ${RIP_IFS[$name]}; do
			echo "config interface"
			echo "	option device '$dev'"
			printf '%s' "${RIP_IFOPTS[$name/$dev]:-}"
		done
		echo "config redistribute"
		echo "	option source 'connected'"
	} >"$d/ripng"
}

rip_start() {
	local name=$1 d=$RIP_WORK/$1 ns
	ns=$(rip_ns "$name")
	RIP_PIDS[$name]=""
	case ${RIP_KIND[$name]} in
	host) ;;
	bird)
		_rip_conf_bird "$name"
		spawn "$ns" bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" 2>>"$d/bird.err"
		RIP_PIDS[$name]=$SPAWNED_PID
		wait_for 5 birdc -s "$d/bird.ctl" show status >/dev/null 2>&1 || {
			echo "bird in $name did not start: $(tail -3 "$d/bird.err" "$d/bird.log" 2>/dev/null)" >&2
			return 1
		}
		;;
	frr)
		_rip_conf_frr "$name"
		# FRR drops to its own user (root is not in its vty group): its files are its own.
		chown -R frr:frr "$d"
		spawn "$ns" /usr/lib/frr/zebra -P 0 -f "$d/zebra.conf" -i "$d/zebra.pid" \
			-z "$d/zserv.api" --vty_socket "$d" --log "file:$d/zebra.log" 2>>"$d/frr.err" >/dev/null
		RIP_PIDS[$name]=$SPAWNED_PID
		wait_for 5 test -S "$d/zserv.api" || { echo "zebra in $name did not start: $(tail -3 "$d/frr.err")" >&2; return 1; }
		spawn "$ns" /usr/lib/frr/ripngd -P 0 -f "$d/ripngd.conf" -i "$d/ripngd.pid" \
			-z "$d/zserv.api" --vty_socket "$d" --log "file:$d/ripngd.log" 2>>"$d/frr.err" >/dev/null
		RIP_PIDS[$name]="$SPAWNED_PID ${RIP_PIDS[$name]}"
		wait_for 5 test -S "$d/ripngd.vty" || { echo "ripngd in $name did not start: $(tail -3 "$d/frr.err")" >&2; return 1; }
		;;
	ours)
		_rip_conf_ours "$name"
		spawn "$ns" "$RIPNG" -v -c "$d/ripng" run 2>>"$d/ripng.log" >/dev/null
		RIP_PIDS[$name]=$SPAWNED_PID
		wait_for 5 "$RIPNG" -c "$d/ripng" status >/dev/null 2>&1 || {
			echo "ripng in $name did not start: $(tail -3 "$d/ripng.log")" >&2
			return 1
		}
		;;
	esac
}

# The first pid of RIP_PIDS is the RIPng daemon itself (ripngd, not zebra).
rip_pid() { set -- ${RIP_PIDS[$1]}; echo "${1:-}"; }
rip_signal() { kill -s "$2" "$(rip_pid "$1")"; }

rip_stop() {
	local name=$1 sig=${2:-TERM} p
	for p in ${RIP_PIDS[$name]}; do kill -s "$sig" "$p" 2>/dev/null; done
	for p in ${RIP_PIDS[$name]}; do wait "$p" 2>/dev/null; done
	RIP_PIDS[$name]=""
}

# What each daemon shows, reduced to the best metric for one prefix.
rip_metric() {
	local name=$1 prefix=$2 d=$RIP_WORK/$1
	case ${RIP_KIND[$name]} in
	bird)
		# `show route for` the exact prefix with attributes: "RIP.metric: N" (BIRD 2.0); routes
		# it holds as unreachable are not in the table, so none.
		birdc -s "$d/bird.ctl" show route "$prefix" all 2>/dev/null |
			awk '/RIP.metric:/ { m = $2; if (best == "" || m < best) best = m }
			     /direct1|static/ && /\[/ { best = 0 }
			     END { print (best == "" ? "none" : best) }'
		;;
	frr)
		vtysh --vty_socket "$d" -c "show ipv6 ripng" 2>/dev/null | python3 -c '
import sys
prefix, best = sys.argv[1], None
toks = sys.stdin.read().split()
for i, t in enumerate(toks):
    # A route line: "R(n) PREFIX NEXTHOP VIA METRIC TAG TIME" (self routes: "C(r) PREFIX :: self 1 0")
    if t == prefix:
        for m in toks[i + 1:i + 5]:
            if m.isdigit():
                best = int(m) if best is None else min(best, int(m))
                break
print("none" if best is None else best)' "$prefix"
		;;
	ours)
		"$RIPNG" -c "$d/ripng" status 2>/dev/null | python3 -c '
import json, sys
prefix = sys.argv[1]
ms = [r["metric"] for r in json.load(sys.stdin)["routes"] if r["prefix"] == prefix]
print(min(ms) if ms else "none")' "$prefix"
		;;
	esac
}

# rip_metric_is NAME PREFIX METRIC...: the metric is one of those given ("none" for absent).
rip_metric_is() {
	local got m
	got=$(rip_metric "$1" "$2")
	for m in "${@:3}"; do [ "$got" = "$m" ] && return 0; done
	echo "$1 ($(rip_kind "$1")): $2 metric $got, want ${*:3}"
	return 1
}
rip_kind() { echo "${RIP_KIND[$1]}"; }

rip_kernel() { in_rt "$1" ip -6 route show "$2" 2>/dev/null | grep -v '^unreachable'; }
