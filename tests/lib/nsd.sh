# nsd.sh - sourced (bash) by the dns64 system test and bench: NSD (Debian's nsd) as the
# authoritative upstream, in a namespace of the caller's (tests/lib/netns.sh removes it, and
# NSD with it, at exit).
#
#   nsd_start NS DIR ADDRESS... -- ZONE...
#       NSD in namespace NS on port 53 of each ADDRESS, serving each ZONE from DIR/ZONE.zone,
#       its own files (nsd.conf, nsd.log, pid, state) in DIR; returns once NSD answers SOA
#       queries for the first ZONE, fails (with nsd.log on stderr) if it does not in 5 s.

nsd_start() {
	local ns=$1 dir=$2 first zone
	shift 2
	{
		echo "server:"
		while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
			echo "  ip-address: $1"
			first=${first:-$1}
			shift
		done
		shift
		cat <<CONF
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$dir"
  pidfile: "$dir/nsd.pid"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  logfile: "$dir/nsd.log"
  server-count: 1
  rrl-ratelimit: 0
  verbosity: 1
remote-control:
  control-enable: no
CONF
		for zone in "$@"; do
			printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$zone" "$zone"
		done
	} >"$dir/nsd.conf"
	if ! ip netns exec "$ns" nsd -c "$dir/nsd.conf" || ! wait_for 5 _nsd_answers "$ns" "$first" "$1"; then
		echo "nsd did not start: $(cat "$dir/nsd.log" 2>/dev/null)" >&2
		return 1
	fi
}

_nsd_answers() { # NS ADDRESS ZONE
	# grep reads all (not -q): under pipefail an early exit would fail the pipeline.
	ip netns exec "$1" dig +short +time=1 +tries=1 "@$2" "$3" SOA 2>/dev/null | grep . >/dev/null
}
