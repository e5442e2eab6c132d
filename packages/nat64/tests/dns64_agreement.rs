//! dns64 synthesizes exactly what nat64 translates: for random IPv4 addresses, the edges of
//! every special-purpose range, every RFC 6052 prefix length (network-specific and the
//! Well-Known Prefix) and both settings of `allow_non_global`, dns64 (its sans-IO core, fed
//! an A-only name) hands out an AAAA record exactly when nat64 (its core, fed a UDP packet
//! to that address) translates, and then to that IPv4 address.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use dns64::wire::{self, Message, Name, Writer};
use nat64::rfc6052::{Prefix, LENGTHS};
use nat64::testing::{self, udp6, HOST};
use nat64::{Config, DropReason, Nat64, PacketBuf, Verdict};

const RANDOM_PER_CASE: usize = 3000;

/// SplitMix64: a small deterministic generator, so a failure is reproducible.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The first and last address of each range of the IPv4 special-purpose registry and of
/// multicast/reserved, and their outside neighbours: where an off-by-one would show.
fn range_edges() -> Vec<Ipv4Addr> {
    let ranges: [([u8; 4], u32); 20] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 0, 0], 29),
        ([192, 0, 0, 9], 32),
        ([192, 0, 0, 10], 32),
        ([192, 0, 0, 170], 31),
        ([192, 0, 2, 0], 24),
        ([192, 31, 196, 0], 24),
        ([192, 88, 99, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    let mut edges = vec![Ipv4Addr::new(255, 255, 255, 255), Ipv4Addr::new(8, 8, 8, 8)];
    for (net, len) in ranges {
        let first = u32::from_be_bytes(net);
        let last = first | u32::MAX.checked_shr(len).unwrap_or(0);
        for a in [first.wrapping_sub(1), first, last, last.wrapping_add(1)] {
            edges.push(Ipv4Addr::from(a));
        }
    }
    edges
}

/// dns64's core, asked for the AAAA records of a fresh name whose only records are one A.
struct Dns64Side {
    core: dns64::Dns64,
    names: u32,
}

impl Dns64Side {
    fn new(prefix: Prefix, allow_non_global: bool) -> Dns64Side {
        let config = dns64::resolver::Config {
            prefix,
            allow_non_global,
            ..Default::default()
        };
        let mut id = 0u16;
        let entropy = Box::new(move || {
            id = id.wrapping_add(1);
            id
        });
        let upstream = vec!["[2001:db8::53]:53".parse().unwrap()];
        Dns64Side {
            core: dns64::Dns64::new(config, upstream, entropy),
            names: 0,
        }
    }

    fn synthesize(&mut self, v4: Ipv4Addr) -> Vec<Ipv6Addr> {
        let now = Instant::now();
        self.names += 1;
        let owner = Name::from_text(&format!("h{}.example", self.names)).unwrap();
        let client = dns64::Client::Udp {
            socket: 0,
            addr: "[2001:db8:1::2]:40000".parse().unwrap(),
            local: None,
        };
        let mut query = Writer::new(7, wire::FLAG_RD);
        query.question(owner.as_wire(), wire::TYPE_AAAA, wire::CLASS_IN);
        self.core.handle_query(query.as_bytes(), client, now);
        // No AAAA upstream, then the A record.
        let (token, server, asked) = self.upstream_query();
        let empty = reply(&Message::parse(&asked).unwrap(), wire::TYPE_AAAA, &[]);
        self.core.handle_response(token, server, &empty, now);
        let (token, server, asked) = self.upstream_query();
        let a = reply(&Message::parse(&asked).unwrap(), wire::TYPE_A, &v4.octets());
        self.core.handle_response(token, server, &a, now);
        let mut synthesized = Vec::new();
        while let Some(output) = self.core.poll_output() {
            if let dns64::Output::ToClient { data, .. } = output {
                let m = Message::parse(&data).unwrap();
                for rr in m.records(0) {
                    assert_eq!(rr.rtype(), wire::TYPE_AAAA);
                    let rdata: [u8; 16] = rr.rdata(&data).try_into().unwrap();
                    synthesized.push(Ipv6Addr::from(rdata));
                }
            }
        }
        synthesized
    }

    fn upstream_query(&mut self) -> (u64, std::net::SocketAddr, Vec<u8>) {
        while let Some(output) = self.core.poll_output() {
            if let dns64::Output::ToUpstream {
                token,
                server,
                data,
                ..
            } = output
            {
                return (token, server, data);
            }
        }
        panic!("dns64 asked no upstream");
    }
}

/// The upstream's answer to `asked` (of type `qtype`): one record with `rdata`, or none.
fn reply(asked: &Message, qtype: u16, rdata: &[u8]) -> Vec<u8> {
    assert_eq!(asked.qtype(), qtype, "dns64 asks AAAA, then A");
    let mut w = Writer::new(asked.id(), wire::FLAG_QR | wire::FLAG_RD | wire::FLAG_RA);
    w.question(asked.qname().as_wire(), asked.qtype(), asked.qclass());
    if !rdata.is_empty() {
        w.bytes(asked.qname().as_wire());
        w.u16(asked.qtype());
        w.u16(wire::CLASS_IN);
        w.u32(300);
        w.u16(rdata.len() as u16);
        w.bytes(rdata);
        w.set_count(1, 1);
    }
    w.into_bytes()
}

/// nat64's core, handed a UDP packet from an IPv6 host to `dst`: the IPv4 destination of
/// the translation, or why it was dropped.
struct Nat64Side {
    nat: Nat64,
    buf: PacketBuf,
}

impl Nat64Side {
    fn new(prefix: Prefix, allow_non_global: bool) -> Nat64Side {
        let config = Config {
            prefix,
            allow_non_global,
            ..testing::config(1 << 20)
        };
        Nat64Side {
            nat: Nat64::new(config, Instant::now()),
            buf: PacketBuf::new(),
        }
    }

    fn translate(&mut self, dst: Ipv6Addr) -> Result<Ipv4Addr, DropReason> {
        self.buf
            .load(&udp6(&HOST, &dst.octets(), 40000, 53, b"ping"));
        let mut sent_to = None;
        let verdict = self
            .nat
            .process(&mut self.buf, Instant::now(), &mut |out, _| {
                sent_to = Some(Ipv4Addr::new(out[16], out[17], out[18], out[19]));
            });
        match verdict {
            Verdict::Translated { packets: 1 } => Ok(sent_to.expect("a packet out")),
            Verdict::Translated { packets } => panic!("{packets} packets for one datagram"),
            Verdict::Dropped(why) => Err(why),
        }
    }
}

/// The network-specific prefixes of RFC 6052 §2.4's table, one per length, and the WKP.
fn prefixes() -> Vec<Prefix> {
    let nsp = [
        "2001:db8::/32",
        "2001:db8:100::/40",
        "2001:db8:122::/48",
        "2001:db8:122:300::/56",
        "2001:db8:122:344::/64",
        "2001:db8:122:344::/96",
    ];
    let mut all: Vec<Prefix> = nsp.iter().map(|p| p.parse().unwrap()).collect();
    assert_eq!(all.iter().map(Prefix::len).collect::<Vec<_>>(), LENGTHS);
    all.push(Prefix::well_known());
    all
}

#[test]
fn dns64_synthesizes_exactly_what_nat64_translates() {
    let mut rng = SplitMix64(0x6052_6146_6147_7915);
    let edges = range_edges();
    for prefix in prefixes() {
        for allow_non_global in [false, true] {
            let mut dns = Dns64Side::new(prefix, allow_non_global);
            let mut nat = Nat64Side::new(prefix, allow_non_global);
            let random = (0..RANDOM_PER_CASE).map(|_| Ipv4Addr::from(rng.next() as u32));
            let (mut synthesized, mut refused) = (0, 0);
            for v4 in edges.iter().copied().chain(random) {
                let case = format!("{v4} under {prefix}, allow_non_global {allow_non_global}");
                let aaaa = dns.synthesize(v4);
                let translated = nat.translate(prefix.embed(v4));
                match (aaaa.as_slice(), translated) {
                    ([aaaa], Ok(to)) => {
                        assert_eq!(*aaaa, prefix.embed(v4), "{case}: dns64's AAAA");
                        assert_eq!(to, v4, "{case}: nat64's IPv4 destination");
                        synthesized += 1;
                    }
                    ([], Err(DropReason::NonGlobal | DropReason::BadAddress)) => refused += 1,
                    (aaaa, translated) => {
                        panic!("{case}: dns64 synthesized {aaaa:?}, nat64 {translated:?}")
                    }
                }
            }
            // Both outcomes happen in every case (0/8, 127/8, 224/4 are always refused).
            assert!(
                synthesized > 0 && refused > 0,
                "{prefix} {allow_non_global}"
            );
        }
    }
}
