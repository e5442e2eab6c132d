# nat64.sh - sourced (bash) by the nat64 system test and bench, after tests/lib/netns.sh: the
# network both translate in.
#
#   nat64_net C R S DEV
#       namespaces C, R and S (removed at exit):
#       client C, IPv6 only:  2001:db8:1::2 on DEVc0, default route via R
#       router R:             2001:db8:1::1 on DEVrc, 192.0.2.1/24 on DEVrs, forwarding on
#       server S, IPv4:       192.0.2.2 on DEVs0, default route via R
#       The translator (on R) and anything more (MTUs, IPv6 on S) are the caller's.

nat64_net() {
	local c=$1 r=$2 s=$3 d=$4
	netns_add "$c" "$r" "$s"
	veth "$c" "${d}c0" "$r" "${d}rc"
	veth "$s" "${d}s0" "$r" "${d}rs"
	ip -n "$c" addr add 2001:db8:1::2/64 dev "${d}c0" nodad
	ip -n "$c" -6 route add default via 2001:db8:1::1
	ip netns exec "$r" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
	ip -n "$r" addr add 2001:db8:1::1/64 dev "${d}rc" nodad
	ip -n "$r" addr add 192.0.2.1/24 dev "${d}rs"
	ip -n "$s" addr add 192.0.2.2/24 dev "${d}s0"
	ip -n "$s" route add default via 192.0.2.1
}
