# radvd.sh - sourced (bash) after tests/lib/netns.sh: router advertisements from Debian's radvd,
# for a router that has no odhcpd (the OpenWrt lab runs no netifd, which odhcpd needs).
#
#   radvd_start NS DIR DEV PREFIX [RDNSS]
#       radvd in namespace NS (stopped at exit) advertising PREFIX (a /64, on-link and
#       autonomous: SLAAC) on DEV every 3-10 s, and RDNSS (RFC 8106) when given; its config,
#       pid file and log in DIR/radvd-DEV.*. Returns once radvd runs, else fails with its log.

radvd_start() {
	local ns=$1 dev=$3 prefix=$4 rdnss=${5:-} conf=$2/radvd-$3
	{
		echo "interface $dev {"
		echo "	AdvSendAdvert on;"
		echo "	MinRtrAdvInterval 3;"
		echo "	MaxRtrAdvInterval 10;"
		echo "	prefix $prefix { AdvOnLink on; AdvAutonomous on; };"
		[ -z "$rdnss" ] || echo "	RDNSS $rdnss { };"
		echo "};"
	} >"$conf.conf"
	# radvd refuses a config file others may write.
	chmod 644 "$conf.conf"
	spawn "$ns" radvd -n -C "$conf.conf" -p "$conf.pid" -m logfile -l "$conf.log" >/dev/null 2>&1
	wait_for 5 test -s "$conf.pid" || {
		echo "radvd on $dev in $ns did not start: $(tail -n 5 "$conf.log" 2>/dev/null)" >&2
		return 1
	}
}
