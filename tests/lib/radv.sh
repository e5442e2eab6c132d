# radv.sh - sourced (bash) after tests/lib/netns.sh: router advertisements from BIRD's radv
# protocol, for a router that has no odhcpd (the OpenWrt lab runs no netifd, which odhcpd
# needs). BIRD is already a test peer (tests/lib/ripng.sh), so RAs need no package of their own.
#
#   radv_start NS DIR DEV PREFIX [RDNSS]
#       a BIRD in namespace NS (stopped at exit) advertising PREFIX (a /64 on DEV: on-link and
#       autonomous, for SLAAC) every 3-10 s with this router as the default, and RDNSS
#       (RFC 8106) when given; its config, control socket and log in DIR/radv-DEV.*. Returns
#       once BIRD runs the protocol, else fails with its log.

radv_start() {
	local ns=$1 dev=$3 prefix=$4 rdnss=${5:-} base=$2/radv-$3
	{
		# BIRD wants a router ID even for radv, and an IPv6-only namespace has no IPv4 to take.
		echo "router id 10.255.0.1;"
		echo "log \"$base.log\" all;"
		echo "protocol device { scan time 2; }"
		echo "protocol radv {"
		echo "	interface \"$dev\" {"
		echo "		min ra interval 3;"
		echo "		max ra interval 10;"
		echo "		prefix $prefix { onlink yes; autonomous yes; };"
		[ -z "$rdnss" ] || echo "		rdnss $rdnss;"
		echo "	};"
		echo "}"
	} >"$base.conf"
	spawn "$ns" bird -f -c "$base.conf" -s "$base.ctl" -P "$base.pid" >>"$base.log" 2>&1
	wait_for 5 eval "birdc -s '$base.ctl' show protocols 2>/dev/null | grep -Eq '^radv1 +RAdv +[^ ]+ +up'" || {
		echo "BIRD's radv on $dev in $ns did not start: $(tail -n 5 "$base.log" 2>/dev/null)" >&2
		return 1
	}
}
