#!/usr/bin/env bash
# System tests of dns64 in a network namespace: NSD (Debian) serves test zones on 127.0.0.2
# and fd64::53, dns64 answers on 127.0.0.1/::1, dig (dnsutils) asks over UDP and TCP.
# Run as root. DNS64: the dns64 binary, or BIN_DIR: a directory holding it (default: a host
# release build).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/system/lib.sh"
. "$ROOT/tests/lib/nsd.sh"
. "$ROOT/tests/lib/control.sh"
setup_or_finish nsd dnsutils ldnsutils dnsperf python3 iproute2 procps
need_bin DNS64 dns64

NS=d64sys-$$
workdir WORK d64sys
netns_add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip addr add fd64::53/128 dev lo


# ---- zones -------------------------------------------------------------------------------
cat >"$WORK/d64.test.zone" <<'EOF'
$ORIGIN d64.test.
$TTL 3600
@        IN SOA ns admin 1 3600 600 86400 300
@        IN NS  ns
ns       IN A   127.0.0.2
v4only   IN A   198.51.100.10
v4only   IN A   198.51.100.11
short 60 IN A   198.51.100.12
rfc      IN A   192.0.2.33
both     IN A   198.51.100.20
both     IN AAAA 2001:db8::20
mapped   IN A   198.51.100.30
mapped   IN AAAA ::ffff:198.51.100.30
alias    IN CNAME alias2
alias2   IN CNAME v4only
private  IN A   10.1.2.3
mixed    IN A   198.51.100.60
mixed    IN AAAA 2001:db8::60
mixed    IN AAAA ::ffff:198.51.100.60
malias   IN CNAME mixed
txtonly  IN TXT "nothing else"
EOF
for i in $(seq 1 100); do echo "big IN A 198.51.100.$i" >>"$WORK/d64.test.zone"; done
cat >"$WORK/neg30.test.zone" <<'EOF'
$ORIGIN neg30.test.
$TTL 3600
@   IN SOA ns.d64.test. admin.d64.test. 1 3600 600 86400 30
@   IN NS  ns.d64.test.
v4  IN A   198.51.100.40
EOF
cat >"$WORK/2.0.192.in-addr.arpa.zone" <<'EOF'
$ORIGIN 2.0.192.in-addr.arpa.
$TTL 3600
@   IN SOA ns.d64.test. admin.d64.test. 1 3600 600 86400 300
@   IN NS  ns.d64.test.
33  IN PTR rfc.d64.test.
EOF
# The upstream's own (made-up) PTR for 192.0.0.170, to tell a forwarded answer from ours.
cat >"$WORK/0.0.192.in-addr.arpa.zone" <<'EOF'
$ORIGIN 0.0.192.in-addr.arpa.
$TTL 3600
@   IN SOA ns.d64.test. admin.d64.test. 1 3600 600 86400 300
@   IN NS  ns.d64.test.
170 IN PTR upstream.d64.test.
EOF
cat >"$WORK/signed.test.zone.in" <<'EOF'
$ORIGIN signed.test.
$TTL 3600
@   IN SOA ns.d64.test. admin.d64.test. 1 3600 600 86400 300
@   IN NS  ns.d64.test.
v4  IN A   198.51.100.50
mixed IN AAAA 2001:db8::61
mixed IN AAAA ::ffff:198.51.100.61
EOF
(cd "$WORK" && ksk=$(ldns-keygen -k -a ECDSAP256SHA256 signed.test) && zsk=$(ldns-keygen -a ECDSAP256SHA256 signed.test) &&
  ldns-signzone -f signed.test.zone signed.test.zone.in "$zsk" "$ksk") >/dev/null || echo "zone signing failed"

in_ns ip addr add 127.0.0.2/8 dev lo 2>/dev/null
nsd_start "$NS" "$WORK" 127.0.0.2 fd64::53 -- d64.test neg30.test 2.0.192.in-addr.arpa 0.0.192.in-addr.arpa signed.test ||
  fail "setup" "nsd did not start"

# ---- dns64 ---------------------------------------------------------------------------------
# Every config names its control socket (the option every daemon has), so that `status` with
# the same config finds this instance, whatever else runs on the machine.
write_config() { # write_config PREFIX [extra UCI lines]
  {
    echo "config dns64 'main'"
    echo "  option control_socket '$WORK/dns64.sock'"
    echo "  option prefix '$1'"
    echo "  list listen '127.0.0.1'"
    echo "  list listen '::1'"
    echo "  option port '53'"
    echo "  list upstream '127.0.0.2'"
    echo "  list upstream 'fd64::53#53'"
    shift
    for line in "$@"; do echo "  $line"; done
  } >"$WORK/dns64"
}
start_dns64() { # start_dns64 [PORT]
  spawn "$NS" "$DNS64" -v -c "$WORK/dns64" run 2>>"$WORK/dns64.log" >/dev/null
  DNS64_PID=$SPAWNED_PID
  for _ in $(seq 50); do in_ns dig +short +time=1 +tries=1 -p "${1:-53}" @127.0.0.1 ipv4only.arpa A >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "dns64 did not come up"; tail -5 "$WORK/dns64.log"
}
stop_dns64() { kill "$DNS64_PID" 2>/dev/null; wait "$DNS64_PID" 2>/dev/null; }
reload_dns64() { kill -HUP "$DNS64_PID"; sleep 0.3; }
q() { in_ns dig +time=3 +tries=1 "$@"; }
status() { in_ns "$DNS64" -c "$WORK/dns64" status; }
field() { status | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + ''.join('[%r]' % k for k in sys.argv[1].split('.'))))" "$1"; }

# The zones hold documentation addresses (RFC 5737), which the Well-Known Prefix does not
# carry (RFC 6052 3.1): allow_non_global, nat64's lab option, lets them through. Checked
# without it below.
write_config 64:ff9b::/96 "option allow_non_global '1'"
start_dns64

# dig output helpers
answers() { q "$@" +noall +answer | awk '{print $1, $2, $4, $5}'; }
expect_answers() { # expect_answers "EXPECTED LINES" DIG ARGS...
  local expected=$1; shift
  local got; got=$(answers "$@")
  [ "$got" = "$expected" ] || { printf 'expected:\n%s\ngot:\n%s\n' "$expected" "$got"; return 1; }
}
rcode_is() { local want=$1; shift; q "$@" | grep -q "status: $want" || { q "$@"; return 1; }; }

check "A-only name: AAAA synthesized with 64:ff9b::/96 (UDP), TTL min(A 3600, SOA min 300)" \
  expect_answers $'v4only.d64.test. 300 AAAA 64:ff9b::c633:640a\nv4only.d64.test. 300 AAAA 64:ff9b::c633:640b' @127.0.0.1 AAAA v4only.d64.test
check "same over TCP from the cache, TTL aged (<= 300)" \
  bash -c "in_ns() { ip netns exec $NS \"\$@\"; }; out=\$(in_ns dig +tcp +noall +answer @::1 AAAA v4only.d64.test); echo \"\$out\"; echo \"\$out\" | grep -q 'AAAA.*64:ff9b::c633:640a' && [ \$(echo \"\$out\" | awk 'NR==1{print \$2}') -le 300 ]"
check "short A TTL (60) wins over SOA minimum (300)" \
  expect_answers 'short.d64.test. 60 AAAA 64:ff9b::c633:640c' @127.0.0.1 AAAA short.d64.test
check "SOA minimum 30 of the empty AAAA answer bounds the TTL" \
  expect_answers 'v4.neg30.test. 30 AAAA 64:ff9b::c633:6428' @127.0.0.1 AAAA v4.neg30.test
check "real AAAA passes unchanged, no synthesis" \
  expect_answers 'both.d64.test. 3600 AAAA 2001:db8::20' @127.0.0.1 AAAA both.d64.test
check "only excluded (::ffff:0:0/96) AAAA: synthesized, TTL 600 (no SOA)" \
  expect_answers 'mapped.d64.test. 600 AAAA 64:ff9b::c633:641e' @127.0.0.1 AAAA mapped.d64.test
check "CNAME chain into an A-only name is kept" \
  expect_answers $'alias.d64.test. 3600 CNAME alias2.d64.test.\nalias2.d64.test. 3600 CNAME v4only.d64.test.\nv4only.d64.test. 300 AAAA 64:ff9b::c633:640a\nv4only.d64.test. 300 AAAA 64:ff9b::c633:640b' @127.0.0.1 AAAA alias.d64.test
check "NXDOMAIN is not synthesized" rcode_is NXDOMAIN @127.0.0.1 AAAA nope.d64.test
check "NODATA for A and AAAA: NOERROR, no answer, SOA in authority" \
  bash -c "out=\$(ip netns exec $NS dig +time=3 +tries=1 @127.0.0.1 AAAA txtonly.d64.test); echo \"\$out\"; echo \"\$out\" | grep -q 'status: NOERROR' && echo \"\$out\" | grep -q 'ANSWER: 0' && echo \"\$out\" | grep -A1 'AUTHORITY SECTION' | grep -q SOA"
check "allow_non_global: the Well-Known Prefix carries private IPv4 too" \
  expect_answers 'private.d64.test. 300 AAAA 64:ff9b::a01:203' @127.0.0.1 AAAA private.d64.test
check "A queries pass unchanged" expect_answers 'short.d64.test. 60 A 198.51.100.12' @127.0.0.1 A short.d64.test
check "ipv4only.arpa AAAA: 192.0.0.170/171 in the prefix (RFC 7050)" \
  expect_answers $'ipv4only.arpa. 3600 AAAA 64:ff9b::c000:aa\nipv4only.arpa. 3600 AAAA 64:ff9b::c000:ab' @127.0.0.1 AAAA ipv4only.arpa
check "EDNS0 kept: OPT in the answer when asked, none when not" \
  bash -c "ip netns exec $NS dig @127.0.0.1 AAAA v4only.d64.test | grep -q 'OPT PSEUDOSECTION' && ! ip netns exec $NS dig +noedns @127.0.0.1 AAAA v4only.d64.test | grep -q 'OPT PSEUDOSECTION'"
check "signed zone, DO+CD: no synthesis, answer passed through (RFC 6147 5.5)" \
  bash -c "out=\$(ip netns exec $NS dig +dnssec +cd @127.0.0.1 AAAA v4.signed.test); echo \"\$out\"; echo \"\$out\" | grep -q 'ANSWER: 0' && echo \"\$out\" | grep -q 'RRSIG.*NSEC\|NSEC.*RRSIG\|RRSIG'"
check "signed zone, DO without CD: synthesized, no RRSIG over A, no AD, DO echoed" \
  bash -c "out=\$(ip netns exec $NS dig +dnssec @127.0.0.1 AAAA v4.signed.test); echo \"\$out\"; echo \"\$out\" | grep -q 'AAAA.*64:ff9b::c633:6432' && ! echo \"\$out\" | grep -q 'RRSIG.*A 13' && ! echo \"\$out\" | grep -q 'flags:.* ad' && echo \"\$out\" | grep -q 'flags: do'"
check "AAAA RRset partly in ::ffff:0:0/96: the mapped record removed, the real one kept (RFC 6147 5.1.4)" \
  expect_answers 'mixed.d64.test. 3600 AAAA 2001:db8::60' @127.0.0.1 AAAA mixed.d64.test
check "... the same at the end of a CNAME chain (RFC 6147 5.1.4, 5.1.5)" \
  expect_answers $'malias.d64.test. 3600 CNAME mixed.d64.test.\nmixed.d64.test. 3600 AAAA 2001:db8::60' @127.0.0.1 AAAA malias.d64.test
check "... and from the cache over TCP, still without it" \
  bash -c "out=\$(ip netns exec $NS dig +tcp +noall +answer @::1 AAAA mixed.d64.test); echo \"\$out\"; [ \$(echo \"\$out\" | grep -c AAAA) = 1 ] && ! echo \"\$out\" | grep -q ffff"
check "signed partly excluded RRset, DO+CD: passed whole with its RRSIG (RFC 6147 5.5 item 3)" \
  bash -c "out=\$(ip netns exec $NS dig +dnssec +cd +noall +answer @127.0.0.1 AAAA mixed.signed.test); echo \"\$out\"; echo \"\$out\" | grep -q 'AAAA.*::ffff:198.51.100.61' && echo \"\$out\" | grep -q 'AAAA.*2001:db8::61' && echo \"\$out\" | grep -Eq 'RRSIG[[:space:]]+AAAA'"
check "signed partly excluded RRset, DO only: mapped record and the RRSIG it breaks removed, no AD (RFC 6147 5.1.4, 5.5)" \
  bash -c "out=\$(ip netns exec $NS dig +dnssec @127.0.0.1 AAAA mixed.signed.test); echo \"\$out\"; echo \"\$out\" | grep -q 'AAAA.*2001:db8::61' && ! echo \"\$out\" | grep -q 'ffff' && ! echo \"\$out\" | grep -Eq 'RRSIG[[:space:]]+AAAA' && ! echo \"\$out\" | grep -q 'flags:.* ad'"
check "large answer: upstream truncation retried over TCP, client gets TC over UDP and all 100 over TCP" \
  bash -c "ip netns exec $NS dig +ignore +time=3 @127.0.0.1 AAAA big.d64.test | grep -q 'flags:.* tc' && [ \$(ip netns exec $NS dig +tcp +noall +answer @127.0.0.1 AAAA big.d64.test | grep -c AAAA) = 100 ]"
check "status: tcp_retries counted" bash -c "[ \$(ip netns exec $NS $DNS64 -c $WORK/dns64 status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"tcp_retries\"])') -ge 1 ]"

# Reverse: PTR in the prefix via CNAME to in-addr.arpa (5.3.1), for the WKP and below per length.
check "PTR under 64:ff9b::/96: CNAME to 33.2.0.192.in-addr.arpa and its PTR" \
  expect_answers $'1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa. 3600 CNAME 33.2.0.192.in-addr.arpa.\n33.2.0.192.in-addr.arpa. 3600 PTR rfc.d64.test.' @127.0.0.1 -x 64:ff9b::192.0.2.33
check "PTR of 64:ff9b::192.0.0.170: ipv4only.arpa, answered locally, not AA (RFC 8880 7.2.1)" \
  bash -c "out=\$(ip netns exec $NS dig +time=3 +tries=1 @127.0.0.1 -x 64:ff9b::192.0.0.170); echo \"\$out\"; echo \"\$out\" | grep -Eq '^a\.a\.0\.0\.0\.0\.0\.c(\.0)+\.b\.9\.f\.f\.4\.6\.0\.0\.ip6\.arpa\.[[:space:]]+3600[[:space:]]+IN[[:space:]]+PTR[[:space:]]+ipv4only\.arpa\.' && ! echo \"\$out\" | grep -q CNAME && ! echo \"\$out\" | grep -q 'flags:.* aa'"
check "PTR of 64:ff9b::192.0.0.171: ipv4only.arpa (RFC 8880 7.2.1)" \
  bash -c "[ \"\$(ip netns exec $NS dig +short @127.0.0.1 -x 64:ff9b::192.0.0.171)\" = ipv4only.arpa. ]"
check "170.0.0.192.in-addr.arpa asked directly: forwarded, the upstream's answer (RFC 8880 7.2 item 4)" \
  expect_answers '170.0.0.192.in-addr.arpa. 3600 PTR upstream.d64.test.' @127.0.0.1 -x 192.0.0.170
check "PTR outside the prefix is forwarded (NXDOMAIN from upstream root-less NSD: REFUSED/NXDOMAIN, no CNAME)" \
  bash -c "! ip netns exec $NS dig +time=3 +tries=1 @127.0.0.1 -x 2001:db8::1 | grep -q CNAME"

# Cache kept across SIGHUP (same prefix).
hits=$(field cache_hits)
reload_dns64
q @127.0.0.1 AAAA v4only.d64.test >/dev/null
check "SIGHUP reload keeps the cache" bash -c "[ \$(ip netns exec $NS $DNS64 -c $WORK/dns64 status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"cache_hits\"])') -gt $hits ]"

# Without allow_non_global (the default), as nat64 translates: no AAAA for non-global IPv4.
write_config 64:ff9b::/96
reload_dns64
check "Well-Known Prefix never carries private or documentation IPv4 (RFC 6052 3.1)" \
  bash -c "for n in private v4only rfc; do [ -z \"\$(ip netns exec $NS dig +short @127.0.0.1 AAAA \$n.d64.test)\" ] || exit 1; done"
check "Well-Known Prefix: ipv4only.arpa still answered (RFC 7050)" \
  expect_answers $'ipv4only.arpa. 3600 AAAA 64:ff9b::c000:aa\nipv4only.arpa. 3600 AAAA 64:ff9b::c000:ab' @127.0.0.1 AAAA ipv4only.arpa

# Every RFC 6052 prefix length (RFC 6052 2.4 table, 192.0.2.33), switched by reload.
for pl in "2001:db8::/32 2001:db8:c000:221::" "2001:db8:100::/40 2001:db8:1c0:2:21::" \
          "2001:db8:122::/48 2001:db8:122:c000:2:2100::" "2001:db8:122:300::/56 2001:db8:122:3c0:0:221::" \
          "2001:db8:122:344::/64 2001:db8:122:344:c0:2:2100:0" "2001:db8:122:344::/96 2001:db8:122:344::c000:221"; do
  set -- $pl
  write_config "$1"
  reload_dns64
  check "prefix $1: rfc.d64.test AAAA = $2" expect_answers "rfc.d64.test. 300 AAAA $2" @127.0.0.1 AAAA rfc.d64.test
  check "prefix $1: PTR of $2 -> CNAME 33.2.0.192.in-addr.arpa" \
    bash -c "ip netns exec $NS dig +noall +answer @127.0.0.1 -x $2 | grep -q 'CNAME.*33.2.0.192.in-addr.arpa.' && ip netns exec $NS dig +noall +answer @127.0.0.1 -x $2 | grep -q 'PTR.*rfc.d64.test.'"
  check "prefix $1: PTR of each ipv4only.arpa AAAA is ipv4only.arpa (RFC 8880 7.2.1)" \
    bash -c "a=\$(ip netns exec $NS dig +short @127.0.0.1 AAAA ipv4only.arpa); [ \$(echo \"\$a\" | wc -l) = 2 ] || exit 1; for x in \$a; do p=\$(ip netns exec $NS dig +short @127.0.0.1 -x \$x); echo \"\$x -> \$p\"; [ \"\$p\" = ipv4only.arpa. ] || exit 1; done"
done
write_config 2001:db8:122::/48
reload_dns64
check "prefix 2001:db8:122::/48 carries a private A (only the WKP may not)" \
  expect_answers 'private.d64.test. 300 AAAA 2001:db8:122:a01:2:300::' @127.0.0.1 AAAA private.d64.test

check "'dns64 reload' on the control socket replies {\"reloaded\":true}" \
  bash -c "[ \"\$(ip netns exec $NS $DNS64 -c $WORK/dns64 reload)\" = '{\"reloaded\":true}' ]"
# Bad config: reload keeps the old one; start refuses with the option named.
write_config 2001:db8::/33
reload_dns64
check "bad config on reload: old config kept, error logged" \
  bash -c "grep -q 'dns64.main.prefix' $WORK/dns64.log && ip netns exec $NS dig +short @127.0.0.1 AAAA rfc.d64.test | grep -q 2001:db8:122:c000:2:2100::"
check "'dns64 reload' of the bad config: exit 1, a JSON error naming the option" \
  bash -c "out=\$(ip netns exec $NS $DNS64 -c $WORK/dns64 reload); [ \$? = 1 ] && echo \"\$out\" | python3 -c 'import json,sys; assert \"dns64.main.prefix\" in json.load(sys.stdin)[\"error\"]'"
printf "config dns64 'main'\n option colour 'blue'\n" >"$WORK/warn"
check "check: an unknown option is a warning on stderr (not syslog), '<path>: ok', exit 0" \
  bash -c "$DNS64 -c $WORK/warn check 2>$WORK/warn.err >$WORK/warn.out && grep -q \"dns64: warning: warn.main: unknown option 'colour' ignored\" $WORK/warn.err && grep -qx '$WORK/warn: ok' $WORK/warn.out"
check "bad config on start: exit status 1, option named" \
  bash -c "! ip netns exec $NS $DNS64 -v -c $WORK/dns64 run 2>$WORK/bad.log; grep -q 'dns64.main.prefix' $WORK/bad.log"
stop_dns64

# Malformed input: garbage, compression loops, wrong counts, truncated.
write_config 64:ff9b::/96 "option allow_non_global '1'"
start_dns64
in_ns python3 - <<'EOF'
import socket, os, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hdr = lambda qd, an: struct.pack(">HHHHHH", 0x1234, 0x0100, qd, an, 0, 0)
msgs = [b"", b"\x00", os.urandom(11), hdr(1, 0) + b"\xc0\x0c\x00\x1c\x00\x01",  # question pointing at itself
        hdr(1, 0) + b"\x03abc\xc0\x0c\x00\x1c\x00\x01", hdr(5, 5) + b"\x00\x00\x1c\x00\x01",
        hdr(1, 0) + b"\x3fabc", hdr(1, 0) + b"\x80abc\x00\x00\x1c\x00\x01"]
msgs += [os.urandom(n) for n in range(12, 600, 7)]
for m in msgs:
    s.sendto(m, ("127.0.0.1", 53))
EOF
sleep 0.3
check "malformed queries never crash it; counted" \
  bash -c "kill -0 $DNS64_PID && ip netns exec $NS dig +short @127.0.0.1 AAAA v4only.d64.test | grep -q 64:ff9b:: && [ \$(ip netns exec $NS $DNS64 -c $WORK/dns64 status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"malformed_queries\"])') -ge 5 ]"
check "status is JSON with the counters" \
  bash -c "ip netns exec $NS $DNS64 -c $WORK/dns64 status | python3 -c 'import json,sys; d=json.load(sys.stdin); [d[k] for k in (\"queries\",\"synthesized\",\"cache_hits\",\"upstream_failures\")]; print(d)'"
# Control clients that hang on (seven that never send a command, one that asks for status and
# never reads) cost the loop nothing: queries are answered as fast as without them.
check "control clients that never send or never read do not delay queries" \
  hold_control "$WORK/dns64.sock" in_ns python3 - <<'EOF'
import socket, struct, time
name = b"".join(bytes([len(l)]) + l for l in b"v4only.d64.test".split(b".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
worst = 0
for i in range(50):
    t = time.monotonic()
    s.sendto(struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 28, 1), ("127.0.0.1", 53))
    assert s.recv(4096)[:2] == struct.pack(">H", i)
    worst = max(worst, time.monotonic() - t)
    time.sleep(0.02)
print("slowest answer %.0f ms with 8 control clients holding on" % (worst * 1000))
assert worst < 0.15
EOF
check "... and status still answers once they are gone" bash -c "ip netns exec $NS $DNS64 -c $WORK/dns64 status >/dev/null"
stop_dns64

# Upstream down / slow: SERVFAIL in bounded time; failover to a working one.
spawn "$NS" python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.9', 53)); time.sleep(120)"
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.9'\n option timeout '2000'\n" >"$WORK/dns64"
start_dns64
elapsed_servfail() {
  local t0 t1 out; t0=$(date +%s%N)
  out=$(in_ns dig +time=10 +tries=1 @127.0.0.1 AAAA "$1")
  t1=$(date +%s%N)
  echo "$out" | grep -q 'status: SERVFAIL' || { echo "$out"; return 1; }
  echo "elapsed $(( (t1 - t0) / 1000000 )) ms"; [ $(( (t1 - t0) / 1000000 )) -le 3000 ]
}
check "upstream silent: SERVFAIL within 3 s (timeout 2000 ms)" elapsed_servfail v4only.d64.test
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.8'\n option timeout '2000'\n" >"$WORK/dns64"
reload_dns64
check "upstream down (port unreachable): SERVFAIL within 3 s" elapsed_servfail short.d64.test
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.9'\n list upstream '127.0.0.2'\n" >"$WORK/dns64"
reload_dns64
check "failover: silent first upstream, answer from the second" \
  expect_answers 'short.d64.test. 60 AAAA 64:ff9b::c633:640c' @127.0.0.1 AAAA short.d64.test
# Flood towards the silent upstream: the pending table and memory stay bounded, every query
# still gets an answer (SERVFAIL) in bounded time.
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.9'\n option timeout '1000'\n" >"$WORK/dns64"
reload_dns64
for i in $(seq 1 20000); do echo "flood$i.d64.test AAAA"; done >"$WORK/flood"
in_ns dnsperf -s 127.0.0.1 -d "$WORK/flood" -n 1 -l 4 -c 4 -q 3000 -t 3 >"$WORK/flood.out" 2>&1 &
sleep 2
pending=$(field pending)
rss=$(awk '/VmRSS/{print $2}' /proc/$DNS64_PID/status)
wait $! 2>/dev/null
check "flood at a silent upstream: pending ${pending} <= 2048, RSS ${rss} KB <= 16 MB, answered (SERVFAIL)" \
  bash -c "grep -E 'Queries (sent|completed)|SERVFAIL' $WORK/flood.out; [ $pending -le 2048 ] && [ $rss -le 16384 ] && grep -q 'SERVFAIL' $WORK/flood.out"
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.9'\n list upstream '127.0.0.2'\n" >"$WORK/dns64"
reload_dns64
check "status counts upstream failures and timeouts" \
  bash -c "ip netns exec $NS $DNS64 -c $WORK/dns64 status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d); assert d[\"upstream_failures\"] >= 2 and d[\"upstream_timeouts\"] >= 3'"
stop_dns64

# A slow upstream (every answer 1.2 s late, after our 1 s retry): the late answer is taken.
spawn "$NS" python3 -c "
import socket, threading, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.7', 53))
def relay(data, client):
    time.sleep(1.2)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
    u.sendto(data, ('127.0.0.2', 53))
    try: s.sendto(u.recv(4096), client)
    except OSError: pass
while True:
    data, client = s.recvfrom(4096)
    threading.Thread(target=relay, args=(data, client), daemon=True).start()"
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.7'\n option timeout '4000'\n" >"$WORK/dns64"
start_dns64
check "slow upstream (1.2 s per answer): answered, not SERVFAIL" \
  expect_answers $'v4only.d64.test. 300 AAAA 64:ff9b::c633:640a\nv4only.d64.test. 300 AAAA 64:ff9b::c633:640b' +time=8 @127.0.0.1 AAAA v4only.d64.test
stop_dns64

# resolv.conf.auto: no UCI upstream; the file changes under the running daemon.
echo "nameserver 127.0.0.8" >"$WORK/resolv.conf.auto"
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n option resolv_file '%s'\n option timeout '1000'\n" "$WORK/resolv.conf.auto" >"$WORK/dns64"
start_dns64
check "resolv.conf.auto: dead upstream -> SERVFAIL" rcode_is SERVFAIL @127.0.0.1 AAAA v4only.d64.test
printf "# Interface wan\nnameserver 127.0.0.2\n" >"$WORK/resolv.conf.auto"
sleep 1.5
check "resolv.conf.auto re-read when it changes" \
  expect_answers $'v4only.d64.test. 300 AAAA 64:ff9b::c633:640a\nv4only.d64.test. 300 AAAA 64:ff9b::c633:640b' @127.0.0.1 AAAA v4only.d64.test
stop_dns64

# Memory bound: 256 KiB cache under 30000 distinct names.
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.2'\n option cache_size '256'\n" >"$WORK/dns64"
start_dns64
for i in $(seq 1 30000); do echo "n$i.d64.test AAAA"; done >"$WORK/names"
in_ns dnsperf -q 200 -s 127.0.0.1 -d "$WORK/names" -n 1 -l 20 >"$WORK/dnsperf.out" 2>&1
rss=$(awk '/VmRSS/{print $2}' /proc/$DNS64_PID/status)
check "cache bytes <= 256 KiB and RSS ${rss} KB <= 8 MB after 30000 distinct names" \
  bash -c "grep 'Queries completed' $WORK/dnsperf.out; ip netns exec $NS $DNS64 -c $WORK/dns64 status | python3 -c 'import json,sys; d=json.load(sys.stdin); c=d[\"cache\"]; print(c); assert 0 < c[\"bytes\"] <= 262144 and c[\"entries\"] > 100' && [ $rss -le 8192 ]"
stop_dns64

# TCP clients (RFC 7766) and a wildcard listener on an interface with several addresses.
cat >"$WORK/tcp.py" <<'PYEOF'
import socket, struct, subprocess, sys, time, json
def query(qid, name, qtype=28):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)
def framed(m): return struct.pack(">H", len(m)) + m
def read_answers(s, want, timeout=5, until_eof=False):
    """IDs of the answers read (until `want` of them, or EOF with until_eof), and whether EOF came."""
    data, ids, eof = b"", [], False
    end = time.time() + timeout
    while time.time() < end:
        while len(data) >= 2 and len(data) >= 2 + struct.unpack(">H", data[:2])[0]:
            n = struct.unpack(">H", data[:2])[0]
            ids.append(struct.unpack(">H", data[2:4])[0]); data = data[2 + n:]
        if len(ids) >= want and not until_eof: break
        s.settimeout(max(0.01, end - time.time()))
        try: chunk = s.recv(65536)
        except socket.timeout: break
        except ConnectionResetError: break
        if not chunk: eof = True; break
        data += chunk
    return ids, eof
# The daemon's config is next to this script.
CONFIG = sys.argv[0].rsplit("/", 1)[0] + "/dns64"
def status(): return json.loads(subprocess.run([sys.argv[2], "-c", CONFIG, "status"], capture_output=True, text=True).stdout)
def conn(host="127.0.0.1"): return socket.create_connection((host, 53), timeout=5)
def closed_by_peer(s, timeout):
    s.settimeout(timeout)
    try: return s.recv(10) == b""
    except socket.timeout: return False
    except ConnectionResetError: return True
cmd = sys.argv[1]
names = ["v4only.d64.test", "short.d64.test", "ipv4only.arpa", "both.d64.test", "alias.d64.test"]
if cmd == "halfclose":
    s = conn()
    s.sendall(b"".join(framed(query(100 + i, n)) for i, n in enumerate(names[:3])))
    s.shutdown(socket.SHUT_WR)
    ids, eof = read_answers(s, 3, until_eof=True)
    print("answers", sorted(ids), "then closed:", eof); assert sorted(ids) == [100, 101, 102] and eof
elif cmd == "pipeline":
    s = conn()  # uncached names (p1, p3, ...) come from upstream, so answers may come out of order
    s.sendall(b"".join(framed(query(200 + i, "p%d.d64.test" % i if i % 2 else names[i % 5])) for i in range(40)))
    ids, _ = read_answers(s, 40)
    print(len(ids), "answers"); assert sorted(ids) == list(range(200, 240))
elif cmd == "stall":
    s = conn(); s.sendall(b"\x00\x40"); t0 = time.time()
    other = conn(); other.sendall(framed(query(7, names[1])))
    ids, _ = read_answers(other, 1, 3); print("other client answered:", ids); assert ids == [7]
    closed = closed_by_peer(s, 20); dt = time.time() - t0
    print("stalled client closed: %s after %.1f s" % (closed, dt)); assert closed and 8 <= dt <= 15
elif cmd == "noread":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", 53)); s.setblocking(False)
    msg = b"".join(framed(query(i & 0xffff, "big.d64.test")) for i in range(4000))
    sent, gone, end = 0, False, time.time() + 10
    while time.time() < end:
        try: sent += s.send(msg[sent:])
        except OSError: pass
        if status()["tcp_clients"] == 0: gone = True; break
        time.sleep(0.2)
    rss = int([l.split()[1] for l in open("/proc/%s/status" % sys.argv[3]) if l.startswith("VmRSS")][0])
    print("sent %d bytes of queries, read nothing; closed by the daemon: %s; RSS %d KB" % (sent, gone, rss))
    assert gone and rss <= 16384
elif cmd == "maxconn":
    socks = [conn() for _ in range(80)]; time.sleep(0.5)
    n = status()["tcp_clients"]; first_closed = closed_by_peer(socks[0], 2)
    s = conn(); s.sendall(framed(query(9, names[0]))); ids, _ = read_answers(s, 1, 3)
    print("80 idle connections: daemon holds %d, oldest closed %s, a new one answered %s" % (n, first_closed, ids))
    assert n <= 64 and first_closed and ids == [9]
elif cmd == "udpsource":
    # Ask address B from address A of the same interface: the answer must come from B.
    fam, a, b = ((socket.AF_INET6, "fd64::1:1", "fd64::1:2") if sys.argv[3] == "6"
                 else (socket.AF_INET, "127.0.0.3", "127.0.0.4"))
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((a, 0)); s.settimeout(3)
    s.sendto(query(11, names[2]), (b, 5300))
    data, src = s.recvfrom(4096); print("asked", b, "from", a, "answer from", src[0])
    assert src[0] == b and data[:2] == b"\x00\x0b"
PYEOF
tcp_py() { in_ns python3 "$WORK/tcp.py" "$1" "$DNS64" "${2:-$DNS64_PID}"; }
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '127.0.0.1'\n list upstream '127.0.0.2'\n" >"$WORK/dns64"
start_dns64
q +tcp @127.0.0.1 AAAA big.d64.test >/dev/null
check "TCP half-close after 3 queries: all 3 answered, then closed (RFC 7766 6.2.4)" tcp_py halfclose
check "TCP: 40 pipelined queries on one connection all answered" tcp_py pipeline
check "TCP: a client stalled after a length prefix is closed after the idle timeout, others served" tcp_py stall
check "TCP: a client that never reads its answers is closed (output capped), memory bounded" tcp_py noread
check "TCP: connections bounded (64): the oldest idle is closed, a new one is served" tcp_py maxconn
check "still answering over TCP after all that" expect_answers 'short.d64.test. 60 AAAA 64:ff9b::c633:640c' +tcp @127.0.0.1 AAAA short.d64.test
stop_dns64

in_ns ip addr add fd64::1:1/128 dev lo
in_ns ip addr add fd64::1:2/128 dev lo
in_ns ip addr add 127.0.0.3/8 dev lo
in_ns ip addr add 127.0.0.4/8 dev lo
# Port 5300: NSD holds port 53 on two of the addresses, which a wildcard bind would clash with.
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '::'\n option port '5300'\n list upstream '127.0.0.2'\n" >"$WORK/dns64"
start_dns64 5300
check "UDP on a :: listener: the answer comes from the address asked (IPv6, two addresses on lo)" tcp_py udpsource 6
check "UDP on a :: listener: the answer comes from the address asked (IPv4-mapped)" tcp_py udpsource 4
stop_dns64
printf "config dns64 'main'\n option control_socket '$WORK/dns64.sock'\n option allow_non_global '1'\n list listen '0.0.0.0'\n option port '5300'\n list upstream '127.0.0.2'\n" >"$WORK/dns64"
start_dns64 5300
check "UDP on a 0.0.0.0 listener: the answer comes from the address asked (IP_PKTINFO)" tcp_py udpsource 4
stop_dns64

finish
