//! The header views and the translator against packets Linux sent: bytes the translator's
//! own writer did not make. `fixtures/kernel.txt` holds them, captured by
//! `fixtures/capture.sh` in network namespaces with the addresses used here. Where the kernel
//! sent the same content natively on the other side (a "twin"), the translation must equal
//! it byte for byte, but for what a translator changes by design (the hop limit, and the
//! IPv4 identification, DF and TOS that Linux picks on its own).

use std::time::Instant;

use nat64::checksum::{self, add};
use nat64::state::TCP_SYN;
use nat64::testing::{config, HOST, POOL, SERVER};
use nat64::wire::*;
use nat64::{Nat64, PacketBuf, Verdict};

const KERNEL: &str = include_str!("fixtures/kernel.txt");

// The addresses capture.sh gives the namespaces: HOST, POOL and SERVER of nat64::testing,
// and SERVER under the prefix.
const SERVER6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2,
];
/// The echo identifier capture.sh gives ping.
const ECHO_ID: u16 = 4660;

/// The captured packet `name`.
fn packet(name: &str) -> Vec<u8> {
    let line = KERNEL
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("no packet {name} in kernel.txt"));
    let hex = line.split(' ').nth(1).expect("hex after the name");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

struct Translator {
    nat: Nat64,
    buf: PacketBuf,
    t0: Instant,
}

impl Translator {
    fn new() -> Translator {
        let t0 = Instant::now();
        Translator {
            nat: Nat64::new(config(100), t0),
            buf: PacketBuf::new(),
            t0,
        }
    }
    fn run(&mut self, name: &str) -> (Verdict, Vec<Vec<u8>>) {
        self.buf.load(&packet(name));
        let mut sent = Vec::new();
        let verdict = (self.nat).process(&mut self.buf, self.t0, &mut |p, _| sent.push(p.to_vec()));
        (verdict, sent)
    }
    /// Translates `name` into exactly one packet.
    fn one(&mut self, name: &str) -> Vec<u8> {
        let (verdict, mut sent) = self.run(name);
        assert_eq!(verdict, Verdict::Translated { packets: 1 }, "{name}");
        assert_eq!(sent.len(), 1, "{name}");
        sent.pop().unwrap()
    }
}

/// The transport checksum of an unfragmented packet verifies from scratch.
fn transport_checksum_ok(p: &[u8]) -> bool {
    if p[0] >> 4 == 4 {
        let ip = Ipv4Packet::new_checked(p).unwrap();
        let pseudo = match ip.protocol() {
            PROTO_ICMP => 0,
            proto => checksum::pseudo_v4(ip.src(), ip.dst(), proto, ip.payload().len() as u32),
        };
        checksum::fold(pseudo + add(0, ip.payload())) == 0xffff
    } else {
        let ip = Ipv6Packet::new_checked(p).unwrap();
        let (proto, upper) = (ip.upper_protocol(), ip.upper());
        let pseudo = checksum::pseudo_v6(&ip.src(), &ip.dst(), proto, upper.len() as u32);
        checksum::fold(pseudo + add(0, upper)) == 0xffff
    }
}

#[test]
fn views_read_what_linux_sent() {
    for line in KERNEL.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(' ').next().unwrap();
        let p = packet(name);
        match p[0] >> 4 {
            4 => {
                let ip = Ipv4Packet::new_checked(&p[..]).expect(name);
                assert!(ip.header_checksum_ok(), "{name}");
                assert_eq!(ip.total_len(), p.len(), "{name}");
                assert!(!ip.has_source_route());
            }
            _ => {
                let ip = Ipv6Packet::new_checked(&p[..]).expect(name);
                assert_eq!(ip.total_len(), p.len(), "{name}");
            }
        }
        if !name.contains("fragments") {
            assert!(transport_checksum_ok(&p), "{name}");
        }
    }

    let query = packet("udp6_query");
    let ip = Ipv6Packet::new_checked(&query[..]).unwrap();
    assert_eq!((ip.src(), ip.dst(), ip.hop_limit()), (HOST, SERVER6, 64));
    let udp = TransportPacket::new_checked(ip.upper(), ip.upper_protocol()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (40000, 53));
    assert!(udp.is_udp() && !udp.checksum_absent());

    let syn = packet("tcp6_syn");
    let ip = Ipv6Packet::new_checked(&syn[..]).unwrap();
    let tcp = TransportPacket::new_checked(ip.upper(), PROTO_TCP).unwrap();
    assert_eq!((tcp.dst_port(), tcp.tcp_flags()), (80, TCP_SYN));
    assert_eq!(tcp.tcp_header_len(), 40, "Linux's SYN options");

    let first = packet("echo6_fragments.0");
    let last = packet("echo6_fragments.1");
    let (first, last) = (
        Ipv6Packet::new_checked(&first[..]).unwrap(),
        Ipv6Packet::new_checked(&last[..]).unwrap(),
    );
    let (f, l) = (first.fragment().unwrap(), last.fragment().unwrap());
    assert_eq!((f.offset, f.more, l.offset, l.more), (0, true, 1232, false));
    assert_eq!(f.ident, l.ident);
    assert_eq!(
        (first.upper_protocol(), first.upper_offset()),
        (PROTO_ICMPV6, 48)
    );
    let echo = IcmpPacket::new_checked(first.upper()).unwrap();
    assert_eq!((echo.msg_type(), echo.echo_ident()), (128, ECHO_ID));

    let reply = packet("echo4_reply_fragments.0");
    let ip = Ipv4Packet::new_checked(&reply[..]).unwrap();
    assert!(ip.more_frags() && !ip.dont_frag() && ip.frag_offset() == 0);
    let reply = packet("echo4_reply_fragments.1");
    let ip = Ipv4Packet::new_checked(&reply[..]).unwrap();
    assert!(!ip.more_frags() && ip.frag_offset() == 976);

    let error = packet("icmp4_unreachable");
    let ip = Ipv4Packet::new_checked(&error[..]).unwrap();
    let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((icmp.msg_type(), icmp.code()), (3, 3));
    let quoted = Ipv4Packet::new_quoted(icmp.payload()).unwrap();
    assert_eq!((quoted.src(), quoted.dst()), (POOL, SERVER));
    let udp = TransportPacket::new_quoted(quoted.rest(), quoted.protocol()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (40000, 5353));

    let error = packet("icmp6_unreachable");
    let ip = Ipv6Packet::new_checked(&error[..]).unwrap();
    let icmp = IcmpPacket::new_checked(ip.upper()).unwrap();
    assert_eq!((icmp.msg_type(), icmp.code()), (1, 4));
    let quoted = QuotedIpv6::parse(icmp.payload()).unwrap();
    assert_eq!(
        (quoted.src, quoted.dst, quoted.upper_protocol),
        (SERVER6, HOST, PROTO_UDP)
    );
    let udp = TransportPacket::new_quoted(&icmp.payload()[quoted.upper_offset..], PROTO_UDP);
    assert_eq!(udp.unwrap().dst_port(), 40000);
}

#[test]
fn udp_translates_to_the_kernels_twin() {
    let mut t = Translator::new();
    let out = t.one("udp6_query");
    let twin = packet("udp4_query");
    let (ip, twin_ip) = (
        Ipv4Packet::new_checked(&out[..]).unwrap(),
        Ipv4Packet::new_checked(&twin[..]).unwrap(),
    );
    assert!(ip.header_checksum_ok());
    assert_eq!(
        (ip.src(), ip.dst(), ip.protocol(), ip.total_len(), ip.ttl()),
        (POOL, SERVER, PROTO_UDP, twin_ip.total_len(), 65)
    );
    assert_eq!(ip.payload(), twin_ip.payload(), "UDP header and data");

    // The answer: the same as the server's IPv6 twin; its hop limit one more than it came
    // with, the kernel taking that one on its way out of the TUN device.
    let mut out = t.one("udp4_answer");
    let twin = packet("udp6_answer");
    assert_eq!(out[7], 65);
    out[7] = 64;
    assert_eq!(out, twin);
}

#[test]
fn icmpv4_error_translates_to_the_kernels_icmpv6_error() {
    let mut t = Translator::new();
    t.one("udp6_query");
    let mut out = t.one("icmp4_unreachable");
    let twin = packet("icmp6_unreachable_twin");
    assert_eq!(out[7], 65);
    out[7] = 64;
    assert_eq!(out, twin);
}

#[test]
fn icmpv6_error_translates_to_the_kernels_icmpv4_error() {
    let mut t = Translator::new();
    t.one("udp6_query");
    let out = t.one("icmp6_unreachable");
    let twin = packet("icmp4_unreachable_twin");
    assert!(transport_checksum_ok(&out));
    let (ip, twin_ip) = (
        Ipv4Packet::new_checked(&out[..]).unwrap(),
        Ipv4Packet::new_checked(&twin[..]).unwrap(),
    );
    assert_eq!(
        (ip.src(), ip.dst(), ip.total_len()),
        (POOL, SERVER, twin_ip.total_len())
    );
    let (icmp, twin_icmp) = (
        IcmpPacket::new_checked(ip.payload()).unwrap(),
        IcmpPacket::new_checked(twin_ip.payload()).unwrap(),
    );
    assert_eq!(
        (icmp.msg_type(), icmp.code(), icmp.rest_of_header()),
        (3, 3, 0)
    );
    let (quoted, twin_quoted) = (
        Ipv4Packet::new_quoted(icmp.payload()).unwrap(),
        Ipv4Packet::new_quoted(twin_icmp.payload()).unwrap(),
    );
    assert_eq!(
        (quoted.src(), quoted.dst(), quoted.ttl(), quoted.total_len()),
        (SERVER, POOL, 64, twin_quoted.total_len())
    );
    assert!(quoted.header_checksum_ok());
    assert_eq!(
        quoted.rest(),
        twin_quoted.rest(),
        "quoted UDP header and data"
    );
}

#[test]
fn echo_both_ways() {
    let mut t = Translator::new();
    let request = packet("echo6_request");
    let out = t.one("echo6_request");
    assert!(transport_checksum_ok(&out));
    let ip = Ipv4Packet::new_checked(&out[..]).unwrap();
    let echo = IcmpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(
        (echo.msg_type(), echo.code(), echo.echo_ident()),
        (8, 0, ECHO_ID)
    );
    let original = Ipv6Packet::new_checked(&request[..]).unwrap();
    assert_eq!(
        &ip.payload()[4..],
        &original.upper()[4..],
        "sequence and data"
    );

    let reply = packet("echo4_reply");
    let out = t.one("echo4_reply");
    assert!(transport_checksum_ok(&out));
    let ip = Ipv6Packet::new_checked(&out[..]).unwrap();
    assert_eq!((ip.src(), ip.dst()), (SERVER6, HOST));
    let echo = IcmpPacket::new_checked(ip.upper()).unwrap();
    assert_eq!((echo.msg_type(), echo.echo_ident()), (129, ECHO_ID));
    let original = Ipv4Packet::new_checked(&reply[..]).unwrap();
    assert_eq!(&ip.upper()[4..], &original.payload()[4..]);
}

/// The data of `fragments` in order of offset, with each one's (offset, more fragments).
fn reassemble(fragments: &[(usize, bool, Vec<u8>)]) -> Vec<u8> {
    let mut sorted = fragments.to_vec();
    sorted.sort_by_key(|f| f.0);
    let mut whole = Vec::new();
    for (offset, _, data) in &sorted {
        assert_eq!(*offset, whole.len(), "no gap, no overlap");
        whole.extend_from_slice(data);
    }
    assert!(!sorted.last().unwrap().1 && sorted.iter().rev().skip(1).all(|f| f.1));
    whole
}

#[test]
fn fragmented_echo_from_ipv6() {
    let mut t = Translator::new();
    // The first fragment waits for the last, which tells the checksum its length.
    assert_eq!(
        t.run("echo6_fragments.0"),
        (Verdict::Translated { packets: 0 }, vec![])
    );
    let (verdict, sent) = t.run("echo6_fragments.1");
    assert_eq!(verdict, Verdict::Translated { packets: 2 });
    let pieces: Vec<_> = (sent.iter())
        .map(|p| {
            let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
            assert!(ip.header_checksum_ok());
            assert_eq!(
                (ip.src(), ip.dst(), ip.protocol()),
                (POOL, SERVER, PROTO_ICMP)
            );
            (ip.frag_offset(), ip.more_frags(), ip.payload().to_vec())
        })
        .collect();
    let message = reassemble(&pieces);
    assert_eq!(checksum::fold(add(0, &message)), 0xffff, "ICMP checksum");
    let echo = IcmpPacket::new_checked(&message[..]).unwrap();
    assert_eq!((echo.msg_type(), echo.echo_ident()), (8, ECHO_ID));
    let original: Vec<_> = ["echo6_fragments.0", "echo6_fragments.1"]
        .iter()
        .map(|name| {
            let p = packet(name);
            let ip = Ipv6Packet::new_checked(&p[..]).unwrap();
            let f = ip.fragment().unwrap();
            (f.offset, f.more, p[48..].to_vec())
        })
        .collect();
    assert_eq!(&message[4..], &reassemble(&original)[4..]);
}

#[test]
fn fragmented_echo_reply_from_ipv4() {
    let mut t = Translator::new();
    t.one("echo6_request");
    assert_eq!(
        t.run("echo4_reply_fragments.0"),
        (Verdict::Translated { packets: 0 }, vec![])
    );
    let (verdict, sent) = t.run("echo4_reply_fragments.1");
    assert_eq!(verdict, Verdict::Translated { packets: 2 });
    let pieces: Vec<_> = (sent.iter())
        .map(|p| {
            let ip = Ipv6Packet::new_checked(&p[..]).unwrap();
            assert_eq!((ip.src(), ip.dst()), (SERVER6, HOST));
            let f = ip.fragment().unwrap();
            (f.offset, f.more, p[48..].to_vec())
        })
        .collect();
    let message = reassemble(&pieces);
    let pseudo = checksum::pseudo_v6(&SERVER6, &HOST, PROTO_ICMPV6, message.len() as u32);
    assert_eq!(
        checksum::fold(pseudo + add(0, &message)),
        0xffff,
        "ICMPv6 checksum"
    );
    let echo = IcmpPacket::new_checked(&message[..]).unwrap();
    assert_eq!((echo.msg_type(), echo.echo_ident()), (129, ECHO_ID));
    let original: Vec<_> = ["echo4_reply_fragments.0", "echo4_reply_fragments.1"]
        .iter()
        .map(|name| {
            let p = packet(name);
            let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
            (ip.frag_offset(), ip.more_frags(), ip.payload().to_vec())
        })
        .collect();
    assert_eq!(&message[4..], &reassemble(&original)[4..]);
}

#[test]
fn tcp_syn_keeps_the_kernels_options() {
    let mut t = Translator::new();
    let syn = packet("tcp6_syn");
    let out = t.one("tcp6_syn");
    assert!(transport_checksum_ok(&out));
    let ip = Ipv4Packet::new_checked(&out[..]).unwrap();
    let original = Ipv6Packet::new_checked(&syn[..]).unwrap();
    let (tcp, original_tcp) = (ip.payload(), original.upper());
    assert_eq!(tcp.len(), original_tcp.len());
    assert_eq!(tcp[..4], original_tcp[..4], "ports (40002 was free)");
    assert_eq!(tcp[4..16], original_tcp[4..16], "sequence, flags, window");
    assert_eq!(tcp[18..], original_tcp[18..], "urgent pointer and options");
}
