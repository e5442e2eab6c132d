//! Translator tests on packets built from the RFCs' rules: every emitted packet is checked
//! field by field and its checksums recomputed from scratch.

use std::time::{Duration, Instant};

use crate::checksum::{self, add};
use crate::rfc6052::Prefix;
use crate::state::{Proto, StaticEntry, Timeouts};
use crate::testing::{self, prefix, set_u16, HOST, POOL, SERVER};
use crate::translate::{Config, DropReason, Nat64, PacketBuf, Verdict};
use crate::wire::*;

/// Test packets are written and read field by field at the RFCs' offsets.
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The ports of a TCP or UDP header (or the ICMP type, code and checksum).
fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    (l4.len() >= 4).then(|| (get_u16(l4, 0), get_u16(l4, 2)))
}

/// Where the checksum of a transport header is.
fn checksum_offset(protocol: u8) -> usize {
    match protocol {
        PROTO_TCP => 16,
        PROTO_UDP => 6,
        _ => 2,
    }
}

/// An IPv4 header with the flags and fragment offset given as the raw 16-bit field.
fn ipv4_repr(flags_frag: u16, ident: u16, ttl: u8, protocol: u8, total_len: u16) -> Ipv4Repr {
    Ipv4Repr {
        tos: 0x28,
        total_len,
        ident,
        dont_frag: flags_frag & 0x4000 != 0,
        more_frags: flags_frag & 0x2000 != 0,
        frag_offset: (flags_frag & 0x1fff) as usize * 8,
        ttl,
        protocol,
        src: [0; 4],
        dst: [0; 4],
    }
}

/// (type, code, the 4 bytes after the checksum) of an ICMP message.
type IcmpHead = (u8, u8, [u8; 4]);

const HOST2: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
const ROUTER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const ROUTER4: [u8; 4] = [192, 0, 2, 1];

/// The translator of most tests: [`testing::config`] with room for 1000 sessions.
fn config() -> Config {
    testing::config(1000)
}

struct Harness {
    nat: Nat64,
    buf: PacketBuf,
    t0: Instant,
}

impl Harness {
    fn new(config: Config) -> Harness {
        let t0 = Instant::now();
        Harness {
            nat: Nat64::new(config, t0),
            buf: PacketBuf::new(),
            t0,
        }
    }
    fn run_at(&mut self, packet: &[u8], secs: u64) -> (Verdict, Vec<Vec<u8>>) {
        self.buf.load(packet);
        let mut sent = Vec::new();
        let v = self.nat.process(
            &mut self.buf,
            self.t0 + Duration::from_secs(secs),
            &mut |p, _| sent.push(p.to_vec()),
        );
        (v, sent)
    }
    fn run(&mut self, packet: &[u8]) -> (Verdict, Vec<Vec<u8>>) {
        self.run_at(packet, 0)
    }
    /// Translates and expects exactly one packet out.
    fn one(&mut self, packet: &[u8]) -> Vec<u8> {
        let (v, mut sent) = self.run(packet);
        assert_eq!(v, Verdict::Translated { packets: 1 }, "verdict");
        assert_eq!(sent.len(), 1);
        sent.pop().unwrap()
    }
}

fn v6(prefix_v4: [u8; 4]) -> [u8; 16] {
    prefix().embed(prefix_v4.into()).octets()
}

// ------------------------------------------------------------------ packet builders

fn l4_checksum_v6(src: &[u8; 16], dst: &[u8; 16], nh: u8, l4: &mut [u8]) {
    let at = checksum_offset(nh);
    set_u16(l4, at, 0);
    let mut c = checksum::finish(checksum::pseudo_v6(src, dst, nh, l4.len() as u32) + add(0, l4));
    if nh == PROTO_UDP && c == 0 {
        c = 0xffff;
    }
    set_u16(l4, at, c);
}

fn l4_checksum_v4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &mut [u8]) {
    let at = checksum_offset(proto);
    set_u16(l4, at, 0);
    let pseudo = if proto == PROTO_ICMP {
        0
    } else {
        checksum::pseudo_v4(src, dst, proto, l4.len() as u32)
    };
    let mut c = checksum::finish(pseudo + add(0, l4));
    if proto == PROTO_UDP && c == 0 {
        c = 0xffff;
    }
    set_u16(l4, at, c);
}

fn ip6(src: &[u8; 16], dst: &[u8; 16], nh: u8, hop_limit: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0; 40];
    Ipv6Repr {
        traffic_class: 0x28,
        payload_len: l4.len() as u16,
        next_header: nh,
        hop_limit,
        src: *src,
        dst: *dst,
    }
    .emit(&mut p);
    p.extend_from_slice(l4);
    p
}

fn ip4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ttl: u8,
    flags_frag: u16,
    ident: u16,
    l4: &[u8],
) -> Vec<u8> {
    let mut p = vec![0; 20];
    Ipv4Repr {
        src,
        dst,
        ..ipv4_repr(flags_frag, ident, ttl, proto, (20 + l4.len()) as u16)
    }
    .emit(&mut p);
    p.extend_from_slice(l4);
    p
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0; 8];
    set_u16(&mut l4, 0, sport);
    set_u16(&mut l4, 2, dport);
    set_u16(&mut l4, 4, (8 + payload.len()) as u16);
    l4.extend_from_slice(payload);
    l4
}

fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut l4 = vec![0; 20];
    set_u16(&mut l4, 0, sport);
    set_u16(&mut l4, 2, dport);
    l4[4..8].copy_from_slice(&1000u32.to_be_bytes());
    l4[12] = 5 << 4;
    l4[13] = flags;
    set_u16(&mut l4, 14, 65535);
    l4
}

fn icmp_msg(kind: u8, code: u8, rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![kind, code, 0, 0];
    l4.extend_from_slice(&rest);
    l4.extend_from_slice(payload);
    l4
}

fn udp6_packet(src: &[u8; 16], dst: &[u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = udp(sport, dport, payload);
    l4_checksum_v6(src, dst, PROTO_UDP, &mut l4);
    ip6(src, dst, PROTO_UDP, 64, &l4)
}

fn udp4_packet(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = udp(sport, dport, payload);
    l4_checksum_v4(src, dst, PROTO_UDP, &mut l4);
    ip4(src, dst, PROTO_UDP, 64, 0x4000, 0, &l4)
}

fn echo6(src: &[u8; 16], dst: &[u8; 16], kind: u8, id: u16, seq: u16, hop_limit: u8) -> Vec<u8> {
    let mut rest = [0; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    let mut l4 = icmp_msg(kind, 0, rest, b"abcdefghijklmnopq");
    l4_checksum_v6(src, dst, PROTO_ICMPV6, &mut l4);
    ip6(src, dst, PROTO_ICMPV6, hop_limit, &l4)
}

fn echo4(src: [u8; 4], dst: [u8; 4], kind: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut rest = [0; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    let mut l4 = icmp_msg(kind, 0, rest, b"abcdefghijklmnopq");
    l4_checksum_v4(src, dst, PROTO_ICMP, &mut l4);
    ip4(src, dst, PROTO_ICMP, 64, 0, 7, &l4)
}

// ------------------------------------------------------------------ checkers

/// Parses an emitted IPv4 packet and checks both checksums from scratch.
fn check4(p: &[u8]) -> Ipv4Packet<&[u8]> {
    let ip = Ipv4Packet::new_checked(p).expect("valid IPv4");
    assert_eq!(ip.total_len(), p.len());
    assert!(ip.header_checksum_ok(), "IPv4 header checksum");
    if !ip.is_fragment() {
        let l4 = ip.payload();
        let pseudo = if ip.protocol() == PROTO_ICMP {
            0
        } else {
            checksum::pseudo_v4(ip.src(), ip.dst(), ip.protocol(), l4.len() as u32)
        };
        assert_eq!(
            checksum::fold(pseudo + add(0, l4)),
            0xffff,
            "IPv4 transport checksum, proto {}",
            ip.protocol()
        );
    }
    ip
}

fn check6(p: &[u8]) -> Ipv6Packet<&[u8]> {
    let ip = Ipv6Packet::new_checked(p).expect("valid IPv6");
    assert_eq!(ip.total_len(), p.len());
    if ip.fragment().is_none() {
        let l4 = ip.upper();
        assert_eq!(
            checksum::fold(
                checksum::pseudo_v6(&ip.src(), &ip.dst(), ip.upper_protocol(), l4.len() as u32)
                    + add(0, l4)
            ),
            0xffff,
            "IPv6 transport checksum, next header {}",
            ip.upper_protocol()
        );
    }
    ip
}

// ------------------------------------------------------------------ tests

#[test]
fn udp_both_ways() {
    let mut h = Harness::new(config());
    let out = h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"query"));
    let ip = check4(&out);
    assert_eq!(
        (ip.src(), ip.dst(), ip.ttl(), ip.tos(), ip.protocol()),
        (POOL, SERVER, 65, 0x28, PROTO_UDP)
    );
    assert!(
        !ip.dont_frag() && ip.ident() != 0,
        "small packets: DF clear, an identification (RFC 7915 §5.1)"
    );
    assert_eq!(ports(ip.payload()), Some((40000, 53)));
    assert_eq!(&ip.payload()[8..], b"query");

    let out = h.one(&udp4_packet(SERVER, POOL, 53, 40000, b"answer"));
    let ip = check6(&out);
    assert_eq!(
        (ip.src(), ip.dst(), ip.hop_limit(), ip.traffic_class()),
        (v6(SERVER), HOST, 65, 0x28)
    );
    assert_eq!(ports(ip.upper()), Some((53, 40000)));
    assert_eq!(h.nat.stats().v6_to_v4, 1);
    assert_eq!(h.nat.stats().v4_to_v6, 1);
    assert_eq!(h.nat.state().session_count(Proto::Udp), 1);
}

#[test]
fn ipv4_udp_zero_checksum() {
    let mut h = Harness::new(config());
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let mut l4 = udp(53, 40000, b"no checksum here");
    let p = ip4(SERVER, POOL, PROTO_UDP, 64, 0, 0, &l4);
    let ip = check6(&h.one(&p)).upper().to_vec();
    assert_ne!(get_u16(&ip, 6), 0, "IPv6 UDP gets a computed checksum");
    // Fragmented without checksum: cannot be computed, dropped and counted.
    l4.extend_from_slice(&[0; 8]);
    let p = ip4(SERVER, POOL, PROTO_UDP, 64, 0x2000, 9, &l4);
    assert_eq!(
        h.run(&p).0,
        Verdict::Dropped(DropReason::UdpZeroChecksumFragment)
    );
    assert_eq!(
        h.nat.stats().dropped(DropReason::UdpZeroChecksumFragment),
        1
    );
    // IPv6 UDP without checksum is invalid.
    let mut p = udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q");
    set_u16(&mut p, 46, 0);
    assert_eq!(h.run(&p).0, Verdict::Dropped(DropReason::BadChecksum));
}

#[test]
fn tcp_handshake_and_filtering() {
    let mut h = Harness::new(config());
    let ack = {
        let mut l4 = tcp(40000, 80, 0x10);
        l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
        ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4)
    };
    assert_eq!(h.run(&ack).0, Verdict::Dropped(DropReason::NoSession));
    let mut l4 = tcp(40000, 80, 0x02);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    let ip = check4(&h.one(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4)))
        .payload()
        .to_vec();
    assert_eq!(ip[13], 0x02);
    let mut l4 = tcp(80, 40000, 0x12);
    l4_checksum_v4(SERVER, POOL, PROTO_TCP, &mut l4);
    let out = h.one(&ip4(SERVER, POOL, PROTO_TCP, 64, 0x4000, 0, &l4));
    assert_eq!(ports(check6(&out).upper()), Some((80, 40000)));
    assert_eq!(
        h.nat.state().tcp_state(HOST, 40000, SERVER, 80),
        Some(crate::state::TcpState::Established)
    );
    assert_eq!(h.one(&ack).len(), 40);
    // Another IPv4 host may not open a connection to the dynamic binding without SYN.
    let mut l4 = tcp(80, 40000, 0x10);
    l4_checksum_v4([192, 0, 2, 9], POOL, PROTO_TCP, &mut l4);
    assert_eq!(
        h.run(&ip4([192, 0, 2, 9], POOL, PROTO_TCP, 64, 0, 0, &l4))
            .0,
        Verdict::Dropped(DropReason::NoSession)
    );
    // Nobody bound to this port (a SYN would be held: simultaneous_open_*).
    let mut l4 = tcp(80, 40002, 0x10);
    l4_checksum_v4(SERVER, POOL, PROTO_TCP, &mut l4);
    assert_eq!(
        h.run(&ip4(SERVER, POOL, PROTO_TCP, 64, 0, 0, &l4)).0,
        Verdict::Dropped(DropReason::NoBinding)
    );
}

#[test]
fn echo_both_ways() {
    let mut h = Harness::new(config());
    let out = h.one(&echo6(&HOST, &v6(SERVER), 128, 0x1234, 1, 64));
    let ip = check4(&out);
    let l4 = ip.payload();
    assert_eq!((ip.protocol(), l4[0], l4[1]), (PROTO_ICMP, 8, 0));
    let id = get_u16(l4, 4);
    assert_eq!(&l4[8..], b"abcdefghijklmnopq");
    let out = h.one(&echo4(SERVER, POOL, 0, id, 1));
    let ip = check6(&out);
    assert_eq!(
        (
            ip.upper_protocol(),
            ip.upper()[0],
            get_u16(ip.upper(), 4),
            ip.dst()
        ),
        (PROTO_ICMPV6, 129, 0x1234, HOST)
    );
    // Wrong checksums: wrong_checksums_stay_wrong_by_as_much_rfc1624.
    // ICMPv6 informational messages other than echo (here MLD) are not translated.
    let mut l4 = icmp_msg(130, 0, [0; 4], &[0; 16]);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_ICMPV6, &mut l4);
    assert_eq!(
        h.run(&ip6(&HOST, &v6(SERVER), PROTO_ICMPV6, 64, &l4)).0,
        Verdict::Dropped(DropReason::UnsupportedIcmp)
    );
    // ICMPv4 timestamp neither.
    let mut l4 = icmp_msg(13, 0, [0x12, 0x34, 0, 1], &[0; 12]);
    l4_checksum_v4(SERVER, POOL, PROTO_ICMP, &mut l4);
    assert_eq!(
        h.run(&ip4(SERVER, POOL, PROTO_ICMP, 64, 0, 0, &l4)).0,
        Verdict::Dropped(DropReason::UnsupportedIcmp)
    );
}

#[test]
fn hop_limit_exceeded_sends_time_exceeded() {
    let mut h = Harness::new(config());
    // Only a packet of the router's own can come with 0: the kernel forwards none.
    let original = echo6(&HOST, &v6(SERVER), 128, 7, 1, 0);
    let (v, sent) = h.run(&original);
    assert_eq!(v, Verdict::Dropped(DropReason::HopLimit));
    assert_eq!(sent.len(), 1);
    let ip = check6(&sent[0]);
    assert_eq!(
        (ip.dst(), ip.src(), ip.upper()[0], ip.upper()[1]),
        (HOST, v6(POOL), 3, 0)
    );
    assert_eq!(
        &ip.upper()[8..],
        &original[..],
        "the packet in error is quoted"
    );
    assert_eq!(h.nat.stats().icmp_errors_sent, 1);

    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let mut p = udp4_packet(SERVER, POOL, 53, 40000, b"a");
    p[8] = 0;
    p[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::finish(add(0, &p[..20]));
    set_u16(&mut p, 10, c);
    let (v, sent) = h.run(&p);
    assert_eq!(v, Verdict::Dropped(DropReason::HopLimit));
    let ip = check4(&sent[0]);
    assert_eq!(
        (ip.src(), ip.dst(), ip.payload()[0], ip.payload()[1]),
        (POOL, SERVER, 11, 0)
    );
    assert_eq!(&ip.payload()[8..], &p[..]);
}

/// An ICMPv4 error quoting `inner` (a packet the pool sent to the IPv4 side).
fn icmp4_error(from: [u8; 4], kind: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    let mut l4 = icmp_msg(kind, code, rest, inner);
    l4_checksum_v4(from, POOL, PROTO_ICMP, &mut l4);
    ip4(from, POOL, PROTO_ICMP, 64, 0, 0, &l4)
}

#[test]
fn icmpv4_errors_with_embedded_packet() {
    let mut h = Harness::new(config());
    let out = h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, &[7; 100]));
    let pool_port = ports(check4(&out).payload()).unwrap().0;
    // (ICMPv4 type, code, rest) -> (ICMPv6 type, code, rest)
    let cases: [(IcmpHead, IcmpHead); 6] = [
        ((3, 3, [0; 4]), (1, 4, [0; 4])),
        ((3, 1, [0; 4]), (1, 0, [0; 4])),
        ((3, 13, [0; 4]), (1, 1, [0; 4])),
        ((3, 4, [0, 0, 0x05, 0x78]), (2, 0, 1420u32.to_be_bytes())),
        ((11, 0, [0; 4]), (3, 0, [0; 4])),
        ((12, 0, [9, 0, 0, 0]), (4, 0, 6u32.to_be_bytes())),
    ];
    for ((t4, c4, r4), (t6, c6, r6)) in cases {
        let (v, sent) = h.run(&icmp4_error(ROUTER4, t4, c4, r4, &out));
        assert_eq!(v, Verdict::Translated { packets: 1 }, "ICMPv4 {t4}/{c4}");
        let ip = check6(&sent[0]);
        assert_eq!(
            (ip.src(), ip.dst(), ip.hop_limit()),
            (v6(ROUTER4), HOST, 65)
        );
        let m = ip.upper();
        assert_eq!(
            (m[0], m[1], [m[4], m[5], m[6], m[7]]),
            (t6, c6, r6),
            "ICMPv4 {t4}/{c4}"
        );
        // The quoted packet is the IPv6 packet the host sent, checksums included.
        let inner = Ipv6Packet::new_checked(&m[8..]).expect("inner IPv6");
        assert_eq!(
            (inner.src(), inner.dst(), inner.upper_protocol()),
            (HOST, v6(SERVER), PROTO_UDP)
        );
        assert_eq!(ports(inner.upper()), Some((40000, 53)));
        assert_eq!(
            checksum::fold(
                checksum::pseudo_v6(&HOST, &v6(SERVER), PROTO_UDP, 108) + add(0, inner.upper())
            ),
            0xffff
        );
    }
    // Frag Needed with MTU 0 (pre-RFC 1191 router): plateau below 128 bytes is 68, + 20 -> 1280 minimum.
    let (_, sent) = h.run(&icmp4_error(ROUTER4, 3, 4, [0; 4], &out));
    assert_eq!(&check6(&sent[0]).upper()[4..8], &1280u32.to_be_bytes());
    // Not translated: source quench, redirect, parameter problem with a pointer into options.
    for (t, c, r) in [(4, 0, [0; 4]), (5, 1, [0; 4]), (12, 0, [21, 0, 0, 0])] {
        assert_eq!(
            h.run(&icmp4_error(ROUTER4, t, c, r, &out)).0,
            Verdict::Dropped(DropReason::UnsupportedIcmp),
            "{t}/{c}"
        );
    }
    // An error about a port nobody is bound to.
    let mut other = out.clone();
    set_u16(&mut other, 20, pool_port.wrapping_add(1));
    assert_eq!(
        h.run(&icmp4_error(ROUTER4, 3, 3, [0; 4], &other)).0,
        Verdict::Dropped(DropReason::NoBinding)
    );
    // Truncated embedded packet.
    assert_eq!(
        h.run(&icmp4_error(ROUTER4, 3, 3, [0; 4], &out[..12])).0,
        Verdict::Dropped(DropReason::Malformed)
    );
    assert_eq!(
        h.run(&icmp4_error(ROUTER4, 3, 3, [0; 4], &out[..22])).0,
        Verdict::Dropped(DropReason::Malformed)
    );
    // A wrong checksum: wrong_checksums_stay_wrong_by_as_much_rfc1624.
}

fn icmp6_error(
    from: &[u8; 16],
    to: &[u8; 16],
    kind: u8,
    code: u8,
    rest: [u8; 4],
    inner: &[u8],
) -> Vec<u8> {
    let mut l4 = icmp_msg(kind, code, rest, inner);
    l4_checksum_v6(from, to, PROTO_ICMPV6, &mut l4);
    ip6(from, to, PROTO_ICMPV6, 64, &l4)
}

#[test]
fn icmpv6_errors_with_embedded_packet() {
    let mut h = Harness::new(config());
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    // The packet the host got from the server (after translation), quoted by the host's router.
    let inner = udp6_packet(&v6(SERVER), &HOST, 53, 40000, &[1; 64]);
    let cases: [(IcmpHead, IcmpHead); 6] = [
        ((1, 4, [0; 4]), (3, 3, [0; 4])),
        ((1, 0, [0; 4]), (3, 1, [0; 4])),
        ((1, 1, [0; 4]), (3, 10, [0; 4])),
        ((2, 0, 1400u32.to_be_bytes()), (3, 4, [0, 0, 0x05, 0x64])),
        ((3, 0, [0; 4]), (11, 0, [0; 4])),
        ((4, 0, 7u32.to_be_bytes()), (12, 0, [8, 0, 0, 0])),
    ];
    for ((t6, c6, r6), (t4, c4, r4)) in cases {
        let (v, sent) = h.run(&icmp6_error(&ROUTER6, &v6(SERVER), t6, c6, r6, &inner));
        assert_eq!(v, Verdict::Translated { packets: 1 }, "ICMPv6 {t6}/{c6}");
        let ip = check4(&sent[0]);
        assert_eq!(
            (ip.src(), ip.dst()),
            (POOL, SERVER),
            "error comes from the host's pool address"
        );
        let m = ip.payload();
        assert_eq!(
            (m[0], m[1], [m[4], m[5], m[6], m[7]]),
            (t4, c4, r4),
            "ICMPv6 {t6}/{c6}"
        );
        let q = Ipv4Packet::new_checked(&m[8..]).expect("inner IPv4");
        assert!(q.header_checksum_ok());
        assert_eq!(
            (q.src(), q.dst(), q.protocol(), q.total_len()),
            (SERVER, POOL, PROTO_UDP, 20 + 72)
        );
        assert_eq!(ports(q.payload()), Some((53, 40000)));
        assert_eq!(
            checksum::fold(checksum::pseudo_v4(SERVER, POOL, PROTO_UDP, 72) + add(0, q.payload())),
            0xffff
        );
    }
    for (t, c, r) in [
        (1, 5, [0; 4]),
        (4, 2, [0; 4]),
        (4, 0, 40u32.to_be_bytes()),
        (2, 1, [0; 4]),
    ] {
        assert_eq!(
            h.run(&icmp6_error(&ROUTER6, &v6(SERVER), t, c, r, &inner))
                .0,
            Verdict::Dropped(DropReason::UnsupportedIcmp),
            "{t}/{c}"
        );
    }
    assert_eq!(
        h.run(&icmp6_error(
            &ROUTER6,
            &v6(SERVER),
            1,
            4,
            [0; 4],
            &inner[..30]
        ))
        .0,
        Verdict::Dropped(DropReason::Malformed)
    );
    // Errors about a quoted echo request also find the ICMP binding.
    let out = h.one(&echo6(&HOST, &v6(SERVER), 128, 0x4242, 1, 64));
    let pool_id = get_u16(check4(&out).payload(), 4);
    let inner = echo6(&v6(SERVER), &HOST, 129, 0x4242, 1, 60);
    let (_, sent) = h.run(&icmp6_error(&ROUTER6, &v6(SERVER), 1, 4, [0; 4], &inner));
    let m = check4(&sent[0]).payload().to_vec();
    let q = Ipv4Packet::new_checked(&m[8..]).unwrap();
    assert_eq!((q.payload()[0], get_u16(q.payload(), 4)), (0, pool_id));
    assert_eq!(
        checksum::fold(add(0, q.payload())),
        0xffff,
        "inner ICMP checksum translated"
    );
}

#[test]
fn fragments_v6_to_v4() {
    let mut h = Harness::new(config());
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let mut l4 = udp(40000, 53, &payload);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_UDP, &mut l4);
    let frag = |offset: usize, data: &[u8], more: bool| {
        let mut body = vec![PROTO_UDP, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
        set_u16(&mut body, 2, offset as u16 | more as u16);
        body.extend_from_slice(data);
        ip6(&HOST, &v6(SERVER), PROTO_FRAGMENT, 64, &body)
    };
    // In order.
    let a = h.one(&frag(0, &l4[..1448], true));
    let b = h.one(&frag(1448, &l4[1448..], false));
    let (a, b) = (check4(&a), check4(&b));
    assert_eq!(
        (a.ident(), a.more_frags(), a.frag_offset(), a.dont_frag()),
        (0xbeef, true, 0, false)
    );
    assert_eq!(
        (b.ident(), b.more_frags(), b.frag_offset(), b.src()),
        (0xbeef, false, 1448, POOL)
    );
    let whole = [a.payload(), b.payload()].concat();
    assert_eq!(
        checksum::fold(
            checksum::pseudo_v4(POOL, SERVER, PROTO_UDP, whole.len() as u32) + add(0, &whole)
        ),
        0xffff
    );
    assert_eq!(&whole[8..], &payload[..]);
    // Last fragment first (another datagram): parked, then sent after the first one.
    let frag2 = |offset: usize, data: &[u8], more: bool| {
        let mut body = vec![PROTO_UDP, 0, 0, 0, 0, 0, 0, 77];
        set_u16(&mut body, 2, offset as u16 | more as u16);
        body.extend_from_slice(data);
        ip6(&HOST, &v6(SERVER), PROTO_FRAGMENT, 64, &body)
    };
    let (v, sent) = h.run(&frag2(1448, &l4[1448..], false));
    assert_eq!(
        (v, sent.len()),
        (Verdict::Translated { packets: 0 }, 0),
        "parked"
    );
    let (v, sent) = h.run(&frag2(0, &l4[..1448], true));
    assert_eq!(v, Verdict::Translated { packets: 2 });
    let (first, last) = (check4(&sent[0]), check4(&sent[1]));
    assert_eq!(
        (first.frag_offset(), last.frag_offset(), last.ident()),
        (0, 1448, 77)
    );
    let whole = [first.payload(), last.payload()].concat();
    assert_eq!(&whole[8..], &payload[..]);
    // A fragment whose first fragment never comes is dropped when it times out.
    let mut stray = frag2(2000, &l4[2000..], false);
    stray[47] = 78; // an identification never seen
    assert_eq!(h.run(&stray).0, Verdict::Translated { packets: 0 });
    h.nat.expire(h.t0 + Duration::from_secs(3), &mut |_, _| {});
    assert_eq!(h.nat.stats().dropped(DropReason::FragmentNoState), 0);
    h.nat.expire(h.t0 + Duration::from_secs(6), &mut |_, _| {});
    assert_eq!(h.nat.stats().dropped(DropReason::FragmentNoState), 1);
}

#[test]
fn fragments_v4_to_v6() {
    let mut h = Harness::new(config());
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let payload: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let mut l4 = udp(53, 40000, &payload);
    l4_checksum_v4(SERVER, POOL, PROTO_UDP, &mut l4);
    // Two IPv4 fragments of 1000 + the rest, DF clear.
    let a = h.one(&ip4(SERVER, POOL, PROTO_UDP, 64, 0x2000, 77, &l4[..1000]));
    let b = h.one(&ip4(SERVER, POOL, PROTO_UDP, 64, 1000 / 8, 77, &l4[1000..]));
    let (a, b) = (check6(&a), check6(&b));
    assert_eq!(
        a.fragment(),
        Some(Fragment {
            offset: 0,
            more: true,
            ident: 77
        })
    );
    assert_eq!(
        b.fragment(),
        Some(Fragment {
            offset: 1000,
            more: false,
            ident: 77
        })
    );
    assert_eq!((b.dst(), b.upper_protocol()), (HOST, PROTO_UDP));
    let whole = [a.upper(), b.upper()].concat();
    assert_eq!(
        checksum::fold(
            checksum::pseudo_v6(&v6(SERVER), &HOST, PROTO_UDP, whole.len() as u32) + add(0, &whole)
        ),
        0xffff
    );
    // A non-fragmented IPv4 packet without DF bigger than 1280 as IPv6 is fragmented.
    let p = ip4(SERVER, POOL, PROTO_UDP, 64, 0, 78, &l4);
    let (v, sent) = h.run(&p);
    assert_eq!(v, Verdict::Translated { packets: 2 });
    let mut whole = Vec::new();
    for (i, f) in sent.iter().enumerate() {
        assert!(f.len() <= 1280);
        let ip = check6(f);
        let Fragment { offset, more, .. } = ip.fragment().unwrap();
        assert_eq!((offset, more), (whole.len(), i == 0));
        whole.extend_from_slice(ip.upper());
    }
    // Same datagram apart from the destination port and the checksum (checked below).
    assert_eq!(
        (&whole[..2], get_u16(&whole, 2), &whole[4..6], &whole[8..]),
        (&l4[..2], 40000, &l4[4..6], &l4[8..])
    );
    assert_eq!(
        checksum::fold(
            checksum::pseudo_v6(&v6(SERVER), &HOST, PROTO_UDP, whole.len() as u32) + add(0, &whole)
        ),
        0xffff
    );
    // With DF set it stays whole (PMTU discovery is the kernel's when it forwards it).
    let p = ip4(SERVER, POOL, PROTO_UDP, 64, 0x4000, 79, &l4);
    assert_eq!(check6(&h.one(&p)).total_len(), 40 + l4.len());
}

#[test]
fn static_binding_and_hairpinning() {
    let mut c = config();
    c.state.statics.push(StaticEntry {
        proto: Proto::Udp,
        addr6: HOST2,
        port6: 5353,
        addr4: POOL,
        port4: 53,
    });
    let mut h = Harness::new(c);
    // From the IPv4 side to the static binding.
    let out = h.one(&udp4_packet(SERVER, POOL, 4444, 53, b"hello"));
    let ip = check6(&out);
    assert_eq!((ip.dst(), ports(ip.upper())), (HOST2, Some((4444, 5353))));
    // HOST reaches HOST2 through the pool address: out and back in as IPv6.
    let out = h.one(&udp6_packet(&HOST, &v6(POOL), 40000, 53, b"hairpin"));
    let ip = check6(&out);
    assert_eq!(ip.dst(), HOST2);
    assert_eq!(
        ip.src(),
        v6(POOL),
        "the source is HOST's pool address under the prefix"
    );
    assert_eq!(ports(ip.upper()), Some((40000, 5353)));
    assert_eq!(h.nat.stats().hairpinned, 1);
}

#[test]
fn well_known_prefix_and_non_global() {
    let mut c = config();
    c.prefix = Prefix::well_known();
    let mut h = Harness::new(c.clone());
    let private = [192, 168, 1, 1];
    let dst = Prefix::well_known().embed(private.into()).octets();
    assert_eq!(
        h.run(&udp6_packet(&HOST, &dst, 1, 53, b"x")).0,
        Verdict::Dropped(DropReason::NonGlobal)
    );
    let global = Prefix::well_known().embed([8, 8, 8, 8].into()).octets();
    assert!(matches!(
        h.run(&udp6_packet(&HOST, &global, 1, 53, b"x")).0,
        Verdict::Translated { .. }
    ));
    c.allow_non_global = true;
    let mut h = Harness::new(c);
    assert!(matches!(
        h.run(&udp6_packet(&HOST, &dst, 1, 53, b"x")).0,
        Verdict::Translated { .. }
    ));
    // Outside the prefix.
    assert_eq!(
        h.run(&udp6_packet(&HOST, &HOST2, 1, 53, b"x")).0,
        Verdict::Dropped(DropReason::NotInPrefix)
    );
    // Loopback / multicast are never translated.
    let mc = Prefix::well_known().embed([224, 0, 0, 1].into()).octets();
    assert_eq!(
        h.run(&udp6_packet(&HOST, &mc, 1, 53, b"x")).0,
        Verdict::Dropped(DropReason::BadAddress)
    );
}

#[test]
fn session_limit_refuses_new_flows_only() {
    let mut c = config();
    c.state.max_sessions = 2;
    let mut h = Harness::new(c);
    h.one(&udp6_packet(&HOST, &v6(SERVER), 1001, 53, b"x"));
    h.one(&udp6_packet(&HOST, &v6(SERVER), 1002, 53, b"x"));
    let (v, sent) = h.run(&udp6_packet(&HOST, &v6(SERVER), 1003, 53, b"x"));
    assert_eq!(v, Verdict::Dropped(DropReason::SessionLimit));
    // RFC 6146 §3.5.1.1: Destination Unreachable, Address Unreachable, to the host.
    let ip = check6(&sent[0]);
    assert_eq!((ip.dst(), ip.upper()[0], ip.upper()[1]), (HOST, 1, 3));
    h.one(&udp6_packet(&HOST, &v6(SERVER), 1001, 53, b"still works"));
    assert_eq!(h.nat.stats().dropped(DropReason::SessionLimit), 1);
    // Rate-limited: at most 50 errors a second (one already sent in this second).
    let errors: usize = (0..80)
        .map(|i| {
            h.run(&udp6_packet(&HOST, &v6(SERVER), 2000 + i, 53, b"x"))
                .1
                .len()
        })
        .sum();
    assert_eq!(errors, 49);
    assert_eq!(h.nat.stats().dropped(DropReason::SessionLimit), 81);
    // Syslog is rate limited too: the first refusal was logged, the other 80 wait for the
    // next message, at most one per 10 s, which reports them.
    assert_eq!(h.nat.refusal_log(), (80, Some(0)));
    h.run_at(&udp6_packet(&HOST, &v6(SERVER), 3000, 53, b"x"), 9);
    assert_eq!(h.nat.refusal_log(), (81, Some(0)));
    h.run_at(&udp6_packet(&HOST, &v6(SERVER), 3001, 53, b"x"), 10);
    assert_eq!(h.nat.refusal_log(), (0, Some(10)));
    // After expiry there is room again.
    assert_eq!(
        h.nat
            .expire(h.t0 + Duration::from_secs(301), &mut |_, _| {}),
        2
    );
    assert!(matches!(
        h.run_at(&udp6_packet(&HOST, &v6(SERVER), 1003, 53, b"x"), 301)
            .0,
        Verdict::Translated { .. }
    ));
}

#[test]
fn malformed_packets_are_counted_and_leave_state_intact() {
    let mut h = Harness::new(config());
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let good4 = udp4_packet(SERVER, POOL, 53, 40000, b"a");
    let good6 = udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q");
    let mut cases: Vec<(Vec<u8>, DropReason)> = vec![
        (vec![], DropReason::Malformed),
        (vec![0x45], DropReason::Malformed),
        (good4[..19].to_vec(), DropReason::Malformed),
        (good4[..25].to_vec(), DropReason::Malformed), // total length beyond the data
        (good6[..39].to_vec(), DropReason::Malformed),
        (good6[..45].to_vec(), DropReason::Malformed),
        (vec![0x15; 60], DropReason::Malformed), // version 1
    ];
    let mut bad_ihl = good4.clone();
    bad_ihl[0] = 0x43;
    cases.push((bad_ihl, DropReason::Malformed));
    let mut bad_sum = good4.clone();
    bad_sum[10] ^= 1;
    cases.push((bad_sum, DropReason::BadChecksum));
    let mut short_udp = ip4(SERVER, POOL, PROTO_UDP, 64, 0, 0, &[0, 53, 0x9c]);
    short_udp.truncate(23);
    cases.push((short_udp, DropReason::Malformed));
    let gre = ip4(SERVER, POOL, 47, 64, 0, 0, &[0; 8]);
    cases.push((gre, DropReason::UnsupportedProtocol));
    let mut lsrr = vec![0u8; 28];
    Ipv4Repr {
        tos: 0,
        src: SERVER,
        dst: POOL,
        ..ipv4_repr(0, 0, 64, PROTO_UDP, 28)
    }
    .emit(&mut lsrr);
    lsrr[0] = 0x46;
    lsrr[20..24].copy_from_slice(&[131, 3, 4, 0]);
    lsrr[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::finish(add(0, &lsrr[..24]));
    set_u16(&mut lsrr, 10, c);
    cases.push((lsrr, DropReason::SourceRoute));
    for (packet, reason) in &cases {
        let (v, sent) = h.run(packet);
        assert_eq!(v, Verdict::Dropped(*reason), "{packet:02x?}");
        assert!(sent.is_empty());
    }
    let total: u64 = h.nat.stats().drops.iter().sum();
    assert_eq!(total, cases.len() as u64);
    // The flow still works.
    assert_eq!(ports(check6(&h.one(&good4)).upper()), Some((53, 40000)));
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let mut h = Harness::new(config());
    let mut l4 = udp(40000, 53, b"with options");
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_UDP, &mut l4);
    let mut body = vec![PROTO_UDP, 0, 1, 4, 0, 0, 0, 0]; // destination options, PadN
    body.extend_from_slice(&l4);
    let out = h.one(&ip6(&HOST, &v6(SERVER), PROTO_DSTOPTS, 64, &body));
    let ip = check4(&out);
    assert_eq!(
        (ip.total_len(), &ip.payload()[8..]),
        (20 + l4.len(), &b"with options"[..])
    );
}

#[test]
fn large_packets_set_df() {
    let mut h = Harness::new(config());
    let ip = check4(&h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, &[0; 1400]))).dont_frag();
    assert!(
        ip,
        "above 1260 bytes DF is set so PMTU discovery works (RFC 7915 §5.1)"
    );
}

#[test]
fn fragmented_echo_v6_to_v4() {
    let mut h = Harness::new(config());
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 3) as u8).collect();
    let mut l4 = icmp_msg(128, 0, [0x12, 0x34, 0, 1], &data);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_ICMPV6, &mut l4);
    let frag = |offset: usize, part: &[u8], more: bool| {
        let mut body = vec![PROTO_ICMPV6, 0, 0, 0, 0, 0, 0, 42];
        set_u16(&mut body, 2, offset as u16 | more as u16);
        body.extend_from_slice(part);
        ip6(&HOST, &v6(SERVER), PROTO_FRAGMENT, 64, &body)
    };
    let (v, sent) = h.run(&frag(0, &l4[..1448], true));
    assert_eq!(
        (v, sent.len()),
        (Verdict::Translated { packets: 0 }, 0),
        "first fragment held"
    );
    let (v, sent) = h.run(&frag(1448, &l4[1448..], false));
    assert_eq!(v, Verdict::Translated { packets: 2 });
    let (last, first) = (check4(&sent[0]), check4(&sent[1]));
    assert_eq!(
        (first.frag_offset(), first.more_frags(), last.frag_offset()),
        (0, true, 1448)
    );
    let whole = [first.payload(), last.payload()].concat();
    assert_eq!((whole[0], get_u16(&whole, 4)), (8, 0x1234));
    assert_eq!(
        checksum::fold(add(0, &whole)),
        0xffff,
        "ICMPv4 checksum of the reassembled message"
    );
    assert_eq!(&whole[8..], &data[..]);
}

#[test]
fn fragmented_echo_v4_to_v6() {
    let mut h = Harness::new(config());
    let out = h.one(&echo6(&HOST, &v6(SERVER), 128, 0x77, 1, 64));
    let pool_id = get_u16(check4(&out).payload(), 4);
    let data: Vec<u8> = (0..2500u32).map(|i| (i * 5) as u8).collect();
    let mut rest = [0; 4];
    rest[..2].copy_from_slice(&pool_id.to_be_bytes());
    let mut l4 = icmp_msg(0, 0, rest, &data);
    l4_checksum_v4(SERVER, POOL, PROTO_ICMP, &mut l4);
    // IPv4 fragments of 1480 bytes (a 1500-byte link), DF clear.
    let (v, sent) = h.run(&ip4(SERVER, POOL, PROTO_ICMP, 64, 0x2000, 9, &l4[..1480]));
    assert_eq!((v, sent.len()), (Verdict::Translated { packets: 0 }, 0));
    let (v, sent) = h.run(&ip4(SERVER, POOL, PROTO_ICMP, 64, 1480 / 8, 9, &l4[1480..]));
    // The last fragment as one IPv6 packet, then the held first one split to fit 1280.
    assert_eq!(v, Verdict::Translated { packets: 3 });
    let mut pieces: Vec<(usize, Vec<u8>)> = sent
        .iter()
        .map(|p| {
            assert!(p.len() <= 1280);
            let ip = check6(p);
            assert_eq!(ip.dst(), HOST);
            (ip.fragment().unwrap().offset, ip.upper().to_vec())
        })
        .collect();
    pieces.sort();
    let whole: Vec<u8> = pieces.iter().flat_map(|(_, d)| d.clone()).collect();
    assert_eq!(whole.len(), l4.len());
    assert_eq!((whole[0], get_u16(&whole, 4)), (129, 0x77));
    assert_eq!(
        checksum::fold(
            checksum::pseudo_v6(&v6(SERVER), &HOST, PROTO_ICMPV6, whole.len() as u32)
                + add(0, &whole)
        ),
        0xffff
    );
    // Out of order (last fragment first): parked, then both go out after the first.
    let (v, sent) = h.run(&ip4(
        SERVER,
        POOL,
        PROTO_ICMP,
        64,
        1480 / 8,
        10,
        &l4[1480..],
    ));
    assert_eq!((v, sent.len()), (Verdict::Translated { packets: 0 }, 0));
    let (v, sent) = h.run(&ip4(SERVER, POOL, PROTO_ICMP, 64, 0x2000, 10, &l4[..1480]));
    assert_eq!(v, Verdict::Translated { packets: 3 });
    let mut pieces: Vec<(usize, Vec<u8>)> = sent
        .iter()
        .map(|p| {
            let ip = check6(p);
            (ip.fragment().unwrap().offset, ip.upper().to_vec())
        })
        .collect();
    pieces.sort();
    let whole: Vec<u8> = pieces.iter().flat_map(|(_, d)| d.clone()).collect();
    assert_eq!(
        checksum::fold(
            checksum::pseudo_v6(&v6(SERVER), &HOST, PROTO_ICMPV6, whole.len() as u32)
                + add(0, &whole)
        ),
        0xffff
    );
}

/// With TUN offloads, a TCP super-packet's checksum field holds the pseudo-header sum with
/// the whole TCP length, as the kernel's tcp_v4/v6_send_check leaves it. After translation
/// it must hold exactly that sum for the new addresses, so that the kernel's segmentation
/// and the NIC's checksum completion produce correct segments.
#[test]
fn tso_super_packets_keep_a_correct_partial_checksum() {
    use crate::packet_buf::Offload;
    let same = |a: u16, b: u16| a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
    let mut h = Harness::new(config());
    let mut l4 = tcp(40000, 80, 0x02);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4));
    let mut l4 = tcp(80, 40000, 0x12);
    l4_checksum_v4(SERVER, POOL, PROTO_TCP, &mut l4);
    h.one(&ip4(SERVER, POOL, PROTO_TCP, 64, 0x4000, 0, &l4));

    // IPv6 -> IPv4: a 30,000-byte super-packet.
    let mut l4 = tcp(40000, 80, 0x10);
    l4.extend((0..30_000u32).map(|i| i as u8));
    let len = l4.len() as u32;
    set_u16(
        &mut l4,
        16,
        checksum::fold(checksum::pseudo_v6(&HOST, &v6(SERVER), PROTO_TCP, len)),
    );
    let packet = ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4);
    h.buf.load(&packet);
    h.buf.offload = Offload {
        partial: true,
        csum_start: 40,
        csum_offset: 16,
        gso_size: 1440,
        gso_ecn: false,
    };
    let mut sent = Vec::new();
    let v = h
        .nat
        .process(&mut h.buf, h.t0, &mut |p, o| sent.push((p.to_vec(), o)));
    assert_eq!(v, Verdict::Translated { packets: 1 });
    let (out, o) = &sent[0];
    assert_eq!(
        *o,
        Offload {
            partial: true,
            csum_start: 20,
            csum_offset: 16,
            gso_size: 1440,
            gso_ecn: false
        }
    );
    let ip = Ipv4Packet::new_checked(&out[..]).unwrap();
    let field = get_u16(ip.payload(), 16);
    assert!(
        same(
            field,
            checksum::fold(checksum::pseudo_v4(POOL, SERVER, PROTO_TCP, len))
        ),
        "{field:04x}"
    );
    // Completing it as the kernel does gives a valid checksum.
    let mut seg = ip.payload().to_vec();
    let c = checksum::finish(add(0, &seg));
    set_u16(&mut seg, 16, c);
    assert_eq!(
        checksum::fold(checksum::pseudo_v4(POOL, SERVER, PROTO_TCP, len) + add(0, &seg)),
        0xffff
    );

    // IPv4 -> IPv6, and the segment size shrinks to fit the 20 bytes more of header.
    let mut l4 = tcp(80, 40000, 0x10);
    l4.extend((0..20_000u32).map(|i| (i * 7) as u8));
    let len = l4.len() as u32;
    set_u16(
        &mut l4,
        16,
        checksum::fold(checksum::pseudo_v4(SERVER, POOL, PROTO_TCP, len)),
    );
    h.buf
        .load(&ip4(SERVER, POOL, PROTO_TCP, 64, 0x4000, 0, &l4));
    h.buf.offload = Offload {
        partial: true,
        csum_start: 20,
        csum_offset: 16,
        gso_size: 1460,
        gso_ecn: true,
    };
    let mut sent = Vec::new();
    h.nat
        .process(&mut h.buf, h.t0, &mut |p, o| sent.push((p.to_vec(), o)));
    let (out, o) = &sent[0];
    assert_eq!(
        *o,
        Offload {
            partial: true,
            csum_start: 40,
            csum_offset: 16,
            gso_size: 1440,
            gso_ecn: true
        }
    );
    let ip = Ipv6Packet::new_checked(&out[..]).unwrap();
    assert_eq!(ip.dst(), HOST);
    let field = get_u16(ip.upper(), 16);
    assert!(
        same(
            field,
            checksum::fold(checksum::pseudo_v6(&v6(SERVER), &HOST, PROTO_TCP, len))
        ),
        "{field:04x}"
    );

    // A partial checksum on an ordinary packet is completed before translation.
    let mut l4 = udp(40000, 53, b"offloaded");
    let len = l4.len() as u32;
    set_u16(
        &mut l4,
        6,
        checksum::fold(checksum::pseudo_v6(&HOST, &v6(SERVER), PROTO_UDP, len)),
    );
    h.buf.load(&ip6(&HOST, &v6(SERVER), PROTO_UDP, 64, &l4));
    h.buf.offload = Offload {
        partial: true,
        csum_start: 40,
        csum_offset: 6,
        gso_size: 0,
        gso_ecn: false,
    };
    let mut sent = Vec::new();
    h.nat
        .process(&mut h.buf, h.t0, &mut |p, o| sent.push((p.to_vec(), o)));
    assert!(!sent[0].1.partial);
    check4(&sent[0].0);
    // A bogus checksum position is refused.
    h.buf.load(&ip6(&HOST, &v6(SERVER), PROTO_UDP, 64, &l4));
    h.buf.offload = Offload {
        partial: true,
        csum_start: 4000,
        csum_offset: 6,
        gso_size: 0,
        gso_ecn: false,
    };
    assert_eq!(
        h.nat.process(&mut h.buf, h.t0, &mut |_, _| {}),
        Verdict::Dropped(DropReason::Malformed)
    );
}

/// An established TCP session from HOST:40000 to SERVER:80 (SYN out, SYN+ACK back at 0 s).
fn established(h: &mut Harness) {
    let mut l4 = tcp(40000, 80, 0x02);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4));
    let mut l4 = tcp(80, 40000, 0x12);
    l4_checksum_v4(SERVER, POOL, PROTO_TCP, &mut l4);
    h.one(&ip4(SERVER, POOL, PROTO_TCP, 64, 0x4000, 0, &l4));
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Runs expiry at `secs` and returns (sessions removed, packets sent).
fn expire_at(h: &mut Harness, secs: u64) -> (usize, Vec<Vec<u8>>) {
    let mut sent = Vec::new();
    let removed = h
        .nat
        .expire(h.t0 + Duration::from_secs(secs), &mut |p, offload| {
            assert_eq!(offload, crate::Offload::NONE);
            sent.push(p.to_vec())
        });
    (removed, sent)
}

/// The RFC 6146 §3.5.2.2 probe for the session of `established`, byte for byte: IPv6 from
/// the server's address under the prefix to the host, TCP 80 -> 40000, sequence and
/// acknowledgment numbers 0, only ACK, window 8192, checksum 0xd568 (computed apart).
const PROBE: [u8; 60] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, // version, length 20, TCP, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x64, 0x00, 0x00, // 2001:db8:64::192.0.2.2
    0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // 2001:db8:1::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, //
    0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x00, // ports 80 -> 40000, seq 0
    0x00, 0x00, 0x00, 0x00, 0x50, 0x10, 0x20, 0x00, // ack 0, offset 5, ACK, window
    0xd5, 0x68, 0x00, 0x00, // checksum, urgent pointer
];

#[test]
fn expired_established_tcp_session_is_probed_and_kept_by_the_answer() {
    use crate::state::TcpState;
    let mut h = Harness::new(config());
    let t = Timeouts::default();
    established(&mut h);
    let st = |h: &Harness| h.nat.state().tcp_state(HOST, 40000, SERVER, 80);
    assert_eq!(expire_at(&mut h, t.tcp_est as u64 - 1), (0, vec![]));
    assert_eq!(st(&h), Some(TcpState::Established));

    let (removed, sent) = expire_at(&mut h, t.tcp_est as u64);
    assert_eq!((removed, sent.len()), (0, 1), "probed, not removed");
    assert_eq!(sent[0], PROBE);
    let ip = check6(&sent[0]);
    let segment = ip.upper();
    assert_eq!(
        (get_u32(segment, 4), get_u32(segment, 8), segment[13]),
        (0, 0, 0x10),
        "sequence and acknowledgment numbers zero, ACK only"
    );
    assert_eq!(st(&h), Some(TcpState::Trans));
    assert_eq!(
        h.nat.next_expiry(),
        Some(h.t0 + Duration::from_secs((t.tcp_est + t.tcp_trans) as u64)),
        "TRANS for TCP_TRANS"
    );
    assert_eq!(h.nat.stats().tcp_probes, 1);
    assert_eq!(h.nat.state().session_count(Proto::Tcp), 1);
    // No second probe while it waits.
    assert_eq!(expire_at(&mut h, t.tcp_est as u64 + 1), (0, vec![]));

    // The live host answers the out-of-window segment with an ACK of its own: translated
    // to the server as any packet, and the session is ESTABLISHED again for TCP_EST.
    let answer_at = t.tcp_est as u64 + 2;
    let mut l4 = tcp(40000, 80, 0x10);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    let (v, out) = h.run_at(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4), answer_at);
    assert_eq!(v, Verdict::Translated { packets: 1 });
    let ip = check4(&out[0]);
    assert_eq!(
        (ip.src(), ip.dst(), ports(ip.payload())),
        (POOL, SERVER, Some((40000, 80)))
    );
    assert_eq!(st(&h), Some(TcpState::Established));
    let trans_end = (t.tcp_est + t.tcp_trans) as u64;
    assert_eq!(
        expire_at(&mut h, trans_end),
        (0, vec![]),
        "kept past TCP_TRANS"
    );
    assert_eq!(
        h.nat.next_expiry(),
        Some(h.t0 + Duration::from_secs(answer_at + t.tcp_est as u64))
    );
    // Idle again for TCP_EST: probed again.
    let (removed, sent) = expire_at(&mut h, answer_at + t.tcp_est as u64);
    assert_eq!((removed, sent), (0, vec![PROBE.to_vec()]));
    assert_eq!(h.nat.stats().tcp_probes, 2);
}

#[test]
fn probed_session_without_answer_is_removed_after_tcp_trans() {
    let mut h = Harness::new(config());
    let t = Timeouts::default();
    established(&mut h);
    let (_, sent) = expire_at(&mut h, t.tcp_est as u64);
    assert_eq!(sent, vec![PROBE.to_vec()]);
    assert_eq!(
        expire_at(&mut h, (t.tcp_est + t.tcp_trans) as u64 - 1),
        (0, vec![])
    );
    assert_eq!(
        expire_at(&mut h, (t.tcp_est + t.tcp_trans) as u64),
        (1, vec![]),
        "removed after TCP_TRANS, without another probe"
    );
    assert_eq!(h.nat.state().session_count(Proto::Tcp), 0);
    assert_eq!(
        h.nat.state().lookup6(Proto::Tcp, HOST, 40000),
        None,
        "binding gone too"
    );
    // A RST answer (the host no longer has the connection) leaves it in TRANS: removed too.
    established(&mut h);
    let base = (t.tcp_est + t.tcp_trans) as u64;
    let (_, sent) = expire_at(&mut h, base + t.tcp_est as u64);
    assert_eq!(sent.len(), 1);
    let mut l4 = tcp(40000, 80, 0x04);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    h.run_at(
        &ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4),
        base + t.tcp_est as u64 + 1,
    );
    assert_eq!(
        expire_at(&mut h, base + (t.tcp_est + t.tcp_trans) as u64),
        (1, vec![])
    );
}

#[test]
fn only_established_tcp_sessions_are_probed() {
    let mut h = Harness::new(config());
    let t = Timeouts::default();
    // A UDP session, a half-open TCP one (V6 INIT) and one closing (V6 FIN RCV, which has
    // the established lifetime): all removed at expiry, none probed.
    h.one(&udp6_packet(&HOST, &v6(SERVER), 5000, 53, b"q"));
    let mut l4 = tcp(40001, 80, 0x02);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4));
    established(&mut h);
    let mut l4 = tcp(40000, 80, 0x11);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4));
    assert_eq!(
        h.nat.state().tcp_state(HOST, 40000, SERVER, 80),
        Some(crate::state::TcpState::V6FinRcv)
    );
    assert_eq!(expire_at(&mut h, t.tcp_est as u64), (3, vec![]));
    assert_eq!(h.nat.stats().tcp_probes, 0);
}

#[test]
fn probes_for_a_hairpinned_connection_come_from_the_pool_address() {
    // HOST2 has a binding at POOL:40000; HOST reaches it through the pool address. Both
    // ends are IPv6 hosts with a session each: each is probed from its peer's pool address.
    let mut h = Harness::new(config());
    let t = Timeouts::default();
    let mut l4 = tcp(40000, 7000, 0x02);
    l4_checksum_v6(&HOST2, &v6(SERVER), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST2, &v6(SERVER), PROTO_TCP, 64, &l4));
    let mut l4 = tcp(41000, 40000, 0x02);
    l4_checksum_v6(&HOST, &v6(POOL), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST, &v6(POOL), PROTO_TCP, 64, &l4));
    let mut l4 = tcp(40000, 41000, 0x12);
    l4_checksum_v6(&HOST2, &v6(POOL), PROTO_TCP, &mut l4);
    h.one(&ip6(&HOST2, &v6(POOL), PROTO_TCP, 64, &l4));
    assert_eq!(h.nat.stats().hairpinned, 2);
    let (removed, sent) = expire_at(&mut h, t.tcp_est as u64);
    assert_eq!(removed, 1, "HOST2's half-open session to the server");
    let mut probes: Vec<_> = sent
        .iter()
        .map(|p| {
            let ip = check6(p);
            let tcp = ip.upper();
            assert_eq!((get_u32(tcp, 4), get_u32(tcp, 8), tcp[13]), (0, 0, 0x10));
            (ip.src(), ip.dst(), ports(tcp).unwrap())
        })
        .collect();
    probes.sort();
    assert_eq!(
        probes,
        vec![
            (v6(POOL), HOST, (40000, 41000)),
            (v6(POOL), HOST2, (41000, 40000)),
        ]
    );
}

/// RFC 7915 §5.1: the packet quoted in a translated ICMPv6 error is translated by the same
/// rule as the packet itself: DF is set above 1260 bytes (and never with a Fragment header).
#[test]
fn icmp_error_inner_header_df_rfc7915_5_1() {
    let mut h = Harness::new(config());
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    for (payload, df) in [(64, false), (1300, true)] {
        let inner = udp6_packet(&v6(SERVER), &HOST, 53, 40000, &vec![1; payload]);
        let quote = &inner[..inner.len().min(1232)];
        let (_, sent) = h.run(&icmp6_error(&ROUTER6, &v6(SERVER), 1, 4, [0; 4], quote));
        let m = check4(&sent[0]).payload().to_vec();
        let q = Ipv4Packet::new_quoted(&m[8..]).expect("inner IPv4");
        assert_eq!(q.total_len(), 20 + 8 + payload);
        assert_eq!(q.dont_frag(), df, "inner DF for a {payload}-byte payload");
    }
}

/// RFC 7915 §4.1: an IPv4 packet without DF too big for the lowest IPv6 MTU becomes IPv6
/// fragments whose identification is the IPv4 Identification (high 16 bits zero).
#[test]
fn fragment_identification_from_ipv4_rfc7915_4_1() {
    let mut h = Harness::new(config());
    let pool_port =
        ports(check4(&h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"))).payload())
            .unwrap()
            .0;
    for ident in [0x1234, 0xbeef] {
        let mut l4 = udp(53, pool_port, &[5; 1400]);
        l4_checksum_v4(SERVER, POOL, PROTO_UDP, &mut l4);
        let (v, sent) = h.run(&ip4(SERVER, POOL, PROTO_UDP, 64, 0, ident, &l4));
        assert_eq!(v, Verdict::Translated { packets: 2 });
        for p in &sent {
            let f = Ipv6Packet::new_checked(&p[..])
                .unwrap()
                .fragment()
                .expect("a fragment");
            assert_eq!(f.ident, ident as u32);
        }
    }
}

/// One hop per traversal (RFC 7915 §4.1 and §5.1: the translator decrements the hop count
/// once, as a router): the kernel decremented it on the way into the TUN device and will
/// again on the way out, so what we write carries one more than we got. Hairpinned packets
/// the same; the headers quoted in translated ICMP errors keep the value they had.
#[test]
fn one_hop_per_traversal_rfc7915_5_1() {
    let mut c = config();
    c.state.statics.push(StaticEntry {
        proto: Proto::Udp,
        addr6: HOST2,
        port6: 5353,
        addr4: POOL,
        port4: 53,
    });
    let mut h = Harness::new(c);
    // A packet that came in with 2 and was forwarded into the TUN device with 1 still goes.
    let mut p = udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q");
    for hops in [1u8, 63, 255] {
        p[7] = hops;
        let out = h.one(&p);
        assert_eq!(check4(&out).ttl(), hops.saturating_add(1), "IPv6 {hops}");
    }
    let mut p = udp4_packet(SERVER, POOL, 53, 40000, b"a");
    for ttl in [1u8, 63] {
        p[8] = ttl;
        set_u16(&mut p, 10, 0);
        let c = checksum::finish(add(0, &p[..20]));
        set_u16(&mut p, 10, c);
        assert_eq!(check6(&h.one(&p)).hop_limit(), ttl + 1, "IPv4 {ttl}");
    }
    // Hairpinned: out as IPv4 and back in as IPv6 inside the translator, one hop all the same.
    let mut p = udp6_packet(&HOST, &v6(POOL), 40000, 53, b"hairpin");
    p[7] = 63;
    assert_eq!(check6(&h.one(&p)).hop_limit(), 64);
    // ICMP errors: the outer header like any packet, the quoted one untouched.
    let inner = echo6(&v6(SERVER), &HOST, 129, 0x4242, 1, 60);
    h.one(&echo6(&HOST, &v6(SERVER), 128, 0x4242, 1, 64));
    let mut e = icmp6_error(&ROUTER6, &v6(SERVER), 1, 4, [0; 4], &inner);
    e[7] = 30;
    let m = check4(&h.one(&e)).payload().to_vec();
    let q = Ipv4Packet::new_checked(&m[8..]).unwrap();
    assert_eq!((check4(&h.one(&e)).ttl(), q.ttl()), (31, 60));
    let out = h.one(&udp6_packet(&HOST, &v6(SERVER), 40001, 53, b"q"));
    let mut quoted = out.clone();
    quoted[8] = 17;
    set_u16(&mut quoted, 10, 0);
    let c = checksum::finish(add(0, &quoted[..20]));
    set_u16(&mut quoted, 10, c);
    let mut e = icmp4_error(ROUTER4, 3, 3, [0; 4], &quoted);
    e[8] = 30;
    set_u16(&mut e, 10, 0);
    let c = checksum::finish(add(0, &e[..20]));
    set_u16(&mut e, 10, c);
    let ip = check6(&h.one(&e)).hop_limit();
    let out6 = h.one(&e);
    let inner = Ipv6Packet::new_checked(&check6(&out6).upper()[8..])
        .unwrap()
        .hop_limit();
    assert_eq!((ip, inner), (31, 17));
}

/// The folded transport sum of an IPv6 packet (pseudo-header included): 0xffff when right.
fn sum6(p: &[u8]) -> u16 {
    let ip = Ipv6Packet::new_checked(p).unwrap();
    let l4 = ip.upper();
    let pseudo = checksum::pseudo_v6(&ip.src(), &ip.dst(), ip.upper_protocol(), l4.len() as u32);
    checksum::fold(pseudo + add(0, l4))
}

/// The same for IPv4 (ICMP without pseudo-header).
fn sum4(p: &[u8]) -> u16 {
    let ip = Ipv4Packet::new_checked(p).unwrap();
    assert!(ip.header_checksum_ok());
    let l4 = ip.payload();
    let pseudo = match ip.protocol() {
        PROTO_ICMP => 0,
        proto => checksum::pseudo_v4(ip.src(), ip.dst(), proto, l4.len() as u32),
    };
    checksum::fold(pseudo + add(0, l4))
}

/// Spoils the checksum at `at`.
fn spoil(p: &mut [u8], at: usize) {
    let c = get_u16(p, at);
    set_u16(p, at, c ^ 0x0101);
}

/// RFC 1624 on every path: a packet whose transport or ICMP checksum is wrong leaves with a
/// checksum still wrong by the same amount (the same sum), neither fixed nor dropped; the
/// end host decides, as behind any router.
#[test]
fn wrong_checksums_stay_wrong_by_as_much_rfc1624() {
    let mut h = Harness::new(config());
    // (packet, where its checksum is, which way it goes)
    let mut p = udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"query");
    spoil(&mut p, 40 + 6);
    let out = h.one(&p);
    assert_eq!(sum4(&out), sum6(&p), "UDP 6 -> 4");
    assert_ne!(sum6(&p), 0xffff);
    let pool_port = get_u16(&out, 20);
    let mut l4 = udp(53, pool_port, b"answer");
    l4_checksum_v4(SERVER, POOL, PROTO_UDP, &mut l4);
    let mut p = ip4(SERVER, POOL, PROTO_UDP, 64, 0x4000, 0, &l4);
    spoil(&mut p, 20 + 6);
    assert_eq!(sum6(&h.one(&p)), sum4(&p), "UDP 4 -> 6");
    let mut l4 = tcp(40001, 80, 0x02);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    let mut p = ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4);
    spoil(&mut p, 40 + 16);
    assert_eq!(sum4(&h.one(&p)), sum6(&p), "TCP 6 -> 4");
    // ICMP echo: dropped before.
    let mut p = echo6(&HOST, &v6(SERVER), 128, 0x4242, 1, 64);
    spoil(&mut p, 42);
    let out = h.one(&p);
    assert_eq!(sum4(&out), sum6(&p), "echo request 6 -> 4");
    let pool_id = get_u16(&out, 24);
    let mut p = echo4(SERVER, POOL, 0, pool_id, 1);
    spoil(&mut p, 22);
    assert_eq!(sum6(&h.one(&p)), sum4(&p), "echo reply 4 -> 6");
    // ICMP errors: rebuilt, and still as wrong as they came.
    let inner = udp6_packet(&v6(SERVER), &HOST, 53, 40000, &[1; 64]);
    let mut p = icmp6_error(&ROUTER6, &v6(SERVER), 1, 4, [0; 4], &inner);
    spoil(&mut p, 42);
    assert_eq!(sum4(&h.one(&p)), sum6(&p), "ICMPv6 error -> ICMPv4");
    let sent = h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"query"));
    let mut p = icmp4_error(ROUTER4, 3, 3, [0; 4], &sent);
    spoil(&mut p, 22);
    assert_eq!(sum6(&h.one(&p)), sum4(&p), "ICMPv4 error -> ICMPv6");
    assert_eq!(h.nat.stats().dropped(DropReason::BadChecksum), 0);
}

/// RFC 6146 §3.5.1: an IPv4 UDP packet to a pool address and port that nothing is bound to
/// (a free port, or one outside the configured range) gets an ICMP Port Unreachable from
/// that pool address, rate-limited; a hairpinned one gets it as ICMPv6, to its sender.
#[test]
fn udp_without_binding_gets_port_unreachable_rfc6146_3_5_1() {
    let mut h = Harness::new(config());
    for port in [40000, 80] {
        let p = udp4_packet(SERVER, POOL, 53, port, b"stray");
        let (v, sent) = h.run(&p);
        assert_eq!(v, Verdict::Dropped(DropReason::NoBinding));
        assert_eq!(sent.len(), 1, "port {port}");
        let ip = check4(&sent[0]);
        let m = ip.payload();
        assert_eq!((ip.src(), ip.dst(), m[0], m[1]), (POOL, SERVER, 3, 3));
        assert_eq!(&m[8..], &p[..], "the packet is quoted");
    }
    // Not for TCP (RFC 6146 §3.5.2.2 has its own rule) nor for addresses outside the pool.
    let mut l4 = tcp(80, 40000, 0x10);
    l4_checksum_v4(SERVER, POOL, PROTO_TCP, &mut l4);
    assert!(h
        .run(&ip4(SERVER, POOL, PROTO_TCP, 64, 0x4000, 0, &l4))
        .1
        .is_empty());
    assert!(h
        .run(&udp4_packet(SERVER, [198, 51, 100, 9], 53, 40000, b"x"))
        .1
        .is_empty());
    // Rate-limited: 50 a second.
    let p = udp4_packet(SERVER, POOL, 53, 40001, b"stray");
    let errors: usize = (0..100).map(|_| h.run_at(&p, 5).1.len()).sum();
    assert_eq!(errors, 50);
    // Hairpinned: the IPv6 host gets Port Unreachable (ICMPv6 1/4) from the pool address
    // under the prefix, quoting what it sent.
    let (v, sent) = h.run_at(&udp6_packet(&HOST, &v6(POOL), 40002, 9999, b"hairpin"), 7);
    assert_eq!(v, Verdict::Dropped(DropReason::NoBinding));
    assert_eq!(sent.len(), 1);
    let ip = check6(&sent[0]);
    let m = ip.upper();
    assert_eq!((ip.src(), ip.dst(), m[0], m[1]), (v6(POOL), HOST, 1, 4));
    let inner = Ipv6Packet::new_checked(&m[8..]).expect("inner IPv6");
    assert_eq!((inner.src(), inner.dst()), (HOST, v6(POOL)));
    assert_eq!(ports(inner.upper()), Some((40002, 9999)));
}

fn syn4(sport: u16, dport: u16) -> Vec<u8> {
    let mut l4 = tcp(sport, dport, 0x02);
    l4_checksum_v4(SERVER, POOL, PROTO_TCP, &mut l4);
    ip4(SERVER, POOL, PROTO_TCP, 64, 0x4000, 0, &l4)
}

/// RFC 6146 §3.5.2.2: an IPv4 SYN nothing is bound to is held tcp_incoming_syn (6 s): the
/// IPv6 host's SYN for the same flow creates the session and the held SYN is translated
/// after it; unclaimed, it gets ICMP Port Unreachable, and not before. Bounded: 16 held.
#[test]
fn simultaneous_open_holds_the_ipv4_syn_rfc6146_3_5_2_2() {
    let mut h = Harness::new(config());
    let (v, sent) = h.run_at(&syn4(80, 40000), 0);
    assert_eq!((v, sent.len()), (Verdict::Translated { packets: 0 }, 0));
    assert_eq!(h.nat.next_expiry(), Some(h.t0 + Duration::from_secs(6)));
    let mut l4 = tcp(40000, 80, 0x02);
    l4_checksum_v6(&HOST, &v6(SERVER), PROTO_TCP, &mut l4);
    let (v, sent) = h.run_at(&ip6(&HOST, &v6(SERVER), PROTO_TCP, 64, &l4), 3);
    assert_eq!(v, Verdict::Translated { packets: 2 });
    let out4 = check4(&sent[0]);
    assert_eq!(
        (out4.dst(), ports(out4.payload())),
        (SERVER, Some((40000, 80)))
    );
    let out6 = check6(&sent[1]);
    assert_eq!((out6.src(), out6.dst()), (v6(SERVER), HOST));
    assert_eq!(
        (ports(out6.upper()), out6.upper()[13]),
        (Some((80, 40000)), 0x02)
    );
    assert!(h.nat.state().tcp_state(HOST, 40000, SERVER, 80).is_some());
    assert!(expire_at(&mut h, 10).1.is_empty(), "claimed: no error");

    // Unclaimed: Port Unreachable from the pool address once the 6 s are over.
    let stray = syn4(81, 40010);
    assert!(h.run_at(&stray, 20).1.is_empty());
    assert!(expire_at(&mut h, 25).1.is_empty(), "not within the 6 s");
    let (_, sent) = expire_at(&mut h, 26);
    assert_eq!(sent.len(), 1);
    let ip = check4(&sent[0]);
    let m = ip.payload();
    assert_eq!((ip.src(), ip.dst(), m[0], m[1]), (POOL, SERVER, 3, 3));
    assert_eq!(&m[8..], &stray[..]);

    // Bounded: 16 held at most; a retransmission takes no second slot.
    let held = (0..20)
        .filter(|i| h.run_at(&syn4(1000 + i, 50000), 30).0 == Verdict::Translated { packets: 0 })
        .count();
    assert_eq!(held, 16);
    assert_eq!(
        h.run_at(&syn4(1000, 50000), 31).0,
        Verdict::Translated { packets: 0 }
    );
    assert_eq!(h.nat.stats().syns_held, 19);

    // Hairpinned (both ends IPv6 hosts of ours): the sender gets ICMPv6 Port Unreachable.
    let mut l4 = tcp(40020, 9999, 0x02);
    l4_checksum_v6(&HOST, &v6(POOL), PROTO_TCP, &mut l4);
    let (v, sent) = h.run_at(&ip6(&HOST, &v6(POOL), PROTO_TCP, 64, &l4), 32);
    assert_eq!(v, Verdict::Dropped(DropReason::NoBinding));
    assert_eq!(sent.len(), 1);
    let ip = check6(&sent[0]);
    assert_eq!(
        (ip.src(), ip.dst(), ip.upper()[0], ip.upper()[1]),
        (v6(POOL), HOST, 1, 4)
    );
}

/// RFC 4443 §3 / RFC 1812 §4.3.2.3: the ICMP errors the translator originates carry as much
/// of the invoking packet as fits in 1280 bytes (ICMPv6) or 576 (ICMPv4).
#[test]
fn own_icmp_errors_quote_as_much_as_fits_rfc4443_rfc1812() {
    let mut c = config();
    c.state.max_sessions = 1;
    let mut h = Harness::new(c);
    // Time Exceeded, IPv6: a 1448-byte packet, 1232 bytes of it quoted.
    let mut p = udp6_packet(&HOST, &v6(SERVER), 40000, 53, &[9; 1400]);
    p[7] = 0;
    let (_, sent) = h.run(&p);
    assert_eq!(sent[0].len(), 1280);
    assert_eq!(&check6(&sent[0]).upper()[8..], &p[..1232]);
    // Address Unreachable for a refused flow (session limit), IPv6.
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let p = udp6_packet(&HOST, &v6(SERVER), 40001, 53, &[9; 1400]);
    let (v, sent) = h.run_at(&p, 1);
    assert_eq!(v, Verdict::Dropped(DropReason::SessionLimit));
    assert_eq!(sent[0].len(), 1280);
    assert_eq!(&check6(&sent[0]).upper()[8..], &p[..1232]);
    // IPv4: Port Unreachable and Time Exceeded, 548 bytes of a 1000-byte packet.
    let p = udp4_packet(SERVER, POOL, 53, 40002, &[9; 972]);
    let (_, sent) = h.run_at(&p, 2);
    assert_eq!(sent[0].len(), 576);
    assert_eq!(&check4(&sent[0]).payload()[8..], &p[..548]);
    let mut p = udp4_packet(SERVER, POOL, 53, 40000, &[9; 972]);
    p[8] = 0;
    set_u16(&mut p, 10, 0);
    let c = checksum::finish(add(0, &p[..20]));
    set_u16(&mut p, 10, c);
    let (_, sent) = h.run_at(&p, 3);
    assert_eq!(sent[0].len(), 576);
    assert_eq!(&check4(&sent[0]).payload()[8..], &p[..548]);
    // Hairpinned Port Unreachable, ICMPv6: the IPv6 packet quoted up to 1280 bytes.
    let mut h = Harness::new(config());
    let p = udp6_packet(&HOST, &v6(POOL), 40000, 9999, &[9; 1400]);
    let (_, sent) = h.run(&p);
    assert_eq!(sent[0].len(), 1280);
    assert_eq!(&check6(&sent[0]).upper()[8..], &p[..1232]);
}

/// RFC 7915 §4.1: the Traffic Class is the IPv4 TOS, or zero with `zeroize_traffic_class`
/// (the header quoted in a translated ICMP error alike); switched by a reload.
#[test]
fn zeroize_traffic_class_rfc7915_4_1() {
    let mut h = Harness::new(config());
    h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let answer = udp4_packet(SERVER, POOL, 53, 40000, b"a"); // TOS 0x28
    assert_eq!(check6(&h.one(&answer)).traffic_class(), 0x28);
    let mut c = config();
    c.zeroize_traffic_class = true;
    h.nat.reconfigure(c);
    assert_eq!(check6(&h.one(&answer)).traffic_class(), 0);
    let sent = h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let (_, out) = h.run(&icmp4_error(ROUTER4, 3, 3, [0; 4], &sent));
    let m = check6(&out[0]).upper().to_vec();
    assert_eq!(Ipv6Packet::new_checked(&m[8..]).unwrap().traffic_class(), 0);
}

/// The source of ICMPv6 errors translated from ICMPv4: the ICMPv4 error's own source under
/// the prefix (`source_icmpv6_errors_better`, default), or, off, the destination of the
/// packet in error, as RFC 6146 §3.4 has it (which hides the router from traceroute).
#[test]
fn source_icmpv6_errors_better_rfc6146_3_4() {
    let mut h = Harness::new(config());
    let sent = h.one(&udp6_packet(&HOST, &v6(SERVER), 40000, 53, b"q"));
    let error = icmp4_error(ROUTER4, 11, 0, [0; 4], &sent);
    assert_eq!(check6(&h.one(&error)).src(), v6(ROUTER4));
    let mut c = config();
    c.source_icmpv6_errors_better = false;
    h.nat.reconfigure(c);
    assert_eq!(check6(&h.one(&error)).src(), v6(SERVER));
}
