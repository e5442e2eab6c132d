# bird.sh - sourced (bash) after tests/lib/netns.sh: BIRD 2 as a peer of the lab tests, in a
# namespace: a RIPng neighbour, or the router advertisements of a router that has no odhcpd
# (the OpenWrt lab runs no netifd, which odhcpd needs).
#
#   bird_start NS BASE
#       BIRD in namespace NS (stopped at exit) with the config BASE.conf; control socket
#       BASE.ctl, pid file BASE.pid, messages in BASE.log. Returns once it is up, else fails
#       with its log.
#   bird_rip_peer NS BASE ROUTER_ID LAN DEV
#       BIRD as a RIPng neighbour on DEV (timers 5/15/10 s, TTL security): it sends LAN's
#       prefixes and puts the routes it learns into NS's kernel.
#   bird_route BASE PREFIX PATTERN
#       true when BIRD's `show route PREFIX` matches the extended regex PATTERN
#   radv_start NS DIR DEV PREFIX [RDNSS]
#       BIRD's radv on DEV (base DIR/radv-DEV): PREFIX (a /64 on DEV; on-link and
#       autonomous, for SLAAC) every 3-10 s with this router as the default, and RDNSS
#       (RFC 8106) when given.

bird_start() {
	local ns=$1 base=$2
	spawn "$ns" bird -f -c "$base.conf" -s "$base.ctl" -P "$base.pid" >>"$base.log" 2>&1
	wait_for 5 eval "birdc -s '$base.ctl' show status 2>/dev/null | grep -q 'Daemon is up'" || {
		echo "BIRD in $ns ($base.conf) did not start: $(tail -n 5 "$base.log" 2>/dev/null)" >&2
		return 1
	}
}

bird_rip_peer() {
	local ns=$1 base=$2 id=$3 lan=$4 dev=$5
	cat >"$base.conf" <<-EOF
		router id $id;
		log stderr all;
		protocol device { scan time 1; }
		protocol direct { ipv6; interface "$lan"; }
		protocol kernel { ipv6 { export where source = RTS_RIP; import none; }; }
		protocol rip ng peer {
			ipv6 { import all; export all; };
			interface "$dev" { update time 5; timeout time 15; garbage time 10; ttl security on; };
		}
	EOF
	bird_start "$ns" "$base"
}

bird_route() { birdc -s "$1.ctl" show route "$2" 2>/dev/null | grep -Eq "$3"; }

radv_start() {
	local ns=$1 dev=$3 prefix=$4 rdnss=${5:-} base=$2/radv-$3
	# BIRD wants a router ID even for radv, and an IPv6-only namespace has no IPv4 to take.
	cat >"$base.conf" <<-EOF
		router id 10.255.0.1;
		log stderr all;
		protocol device { scan time 2; }
		protocol radv {
			interface "$dev" {
				min ra interval 3;
				max ra interval 10;
				prefix $prefix { onlink yes; autonomous yes; };
				${rdnss:+rdnss $rdnss;}
			};
		}
	EOF
	bird_start "$ns" "$base" || return 1
	wait_for 5 eval "birdc -s '$base.ctl' show protocols 2>/dev/null | grep -Eq '^radv1 +RAdv +[^ ]+ +up'" || {
		echo "BIRD's radv on $dev in $ns is not up: $(tail -n 5 "$base.log" 2>/dev/null)" >&2
		return 1
	}
}
