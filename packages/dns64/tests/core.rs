//! The sans-IO core driven deterministically: queries in, upstream datagrams checked,
//! scripted upstream answers in, client responses checked.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use dns64::resolver::Config;
use dns64::rfc6052::Prefix;
use dns64::wire::{self, Message, Name, Writer};
use dns64::{Client, Dns64, Output};
use v6only_common::json::Json;

const UP1: &str = "192.0.2.1:53";
const UP2: &str = "192.0.2.2:53";
const TYPE_TXT: u16 = 16;

fn client() -> Client {
    Client::Udp {
        socket: 0,
        addr: "[2001:db8::10]:40000".parse().unwrap(),
        local: None,
    }
}

fn core_with(config: Config) -> Dns64 {
    let mut n = 0x1000u16;
    Dns64::new(
        config,
        vec![UP1.parse().unwrap(), UP2.parse().unwrap()],
        Box::new(move || {
            n = n.wrapping_add(0x101);
            n
        }),
    )
}

/// The default config, except that the documentation addresses (RFC 5737) these tests
/// answer with get AAAA records: the Well-Known Prefix does not carry them (RFC 6052 §3.1,
/// see `well_known_prefix_carries_what_nat64_translates`).
fn lab() -> Config {
    Config {
        allow_non_global: true,
        ..Config::default()
    }
}

fn core() -> Dns64 {
    core_with(lab())
}

fn query(name: &str, qtype: u16, edns: Option<(bool, bool)>) -> Vec<u8> {
    let (do_bit, cd) = edns.unwrap_or((false, false));
    let mut w = Writer::new(0xBEEF, wire::FLAG_RD | if cd { wire::FLAG_CD } else { 0 });
    w.question(
        Name::from_text(name).unwrap().as_wire(),
        qtype,
        wire::CLASS_IN,
    );
    if edns.is_some() {
        w.opt(4096, do_bit);
        w.set_count(3, 1);
    }
    w.into_bytes()
}

struct Sent {
    token: u64,
    server: SocketAddr,
    tcp: bool,
    data: Vec<u8>,
}

fn outputs(core: &mut Dns64) -> (Vec<Sent>, Vec<Vec<u8>>) {
    let (mut up, mut down) = (Vec::new(), Vec::new());
    while let Some(o) = core.poll_output() {
        match o {
            Output::ToUpstream {
                token,
                server,
                tcp,
                data,
            } => up.push(Sent {
                token,
                server,
                tcp,
                data,
            }),
            Output::ToClient { data, .. } => down.push(data),
            Output::Close { .. } => {}
        }
    }
    (up, down)
}

/// An upstream answer to `q`: records (owner, type, ttl, rdata) per section.
fn answer(
    q: &[u8],
    rcode: u8,
    answers: &[(&str, u16, u32, Vec<u8>)],
    authority: &[(&str, u16, u32, Vec<u8>)],
) -> Vec<u8> {
    let m = Message::parse(q).unwrap();
    let mut w = Writer::new(
        m.id(),
        wire::FLAG_QR | wire::FLAG_RD | wire::FLAG_RA | rcode as u16,
    );
    w.question(m.qname().as_wire(), m.qtype(), m.qclass());
    for (section, records) in [(1, answers), (2, authority)] {
        for (owner, t, ttl, rdata) in records {
            w.bytes(Name::from_text(owner).unwrap().as_wire());
            w.u16(*t);
            w.u16(wire::CLASS_IN);
            w.u32(*ttl);
            w.u16(rdata.len() as u16);
            w.bytes(rdata);
        }
        w.set_count(section, records.len() as u16);
    }
    if let Some(e) = m.edns() {
        w.opt(1232, e.dnssec_ok);
        w.set_count(3, 1);
    }
    w.into_bytes()
}

fn soa(minimum: u32) -> Vec<u8> {
    let mut r = Name::from_text("ns.example").unwrap().as_wire().to_vec();
    r.extend_from_slice(Name::from_text("admin.example").unwrap().as_wire());
    for v in [1u32, 3600, 600, 86400, minimum] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r
}

fn name(n: &str) -> Vec<u8> {
    Name::from_text(n).unwrap().as_wire().to_vec()
}

/// (owner, type, ttl, rdata) of the answer section.
fn answers(resp: &[u8]) -> Vec<(String, u16, u32, Vec<u8>)> {
    let m = Message::parse(resp).unwrap();
    m.records(0)
        .map(|rr| {
            let (owner, _) = wire::read_name(resp, rr.name_at()).unwrap();
            (
                owner.to_string(),
                rr.rtype(),
                rr.ttl(),
                rr.rdata(resp).to_vec(),
            )
        })
        .collect()
}

fn aaaa(s: &str) -> Vec<u8> {
    s.parse::<Ipv6Addr>().unwrap().octets().to_vec()
}

fn a(s: &str) -> Vec<u8> {
    s.parse::<Ipv4Addr>().unwrap().octets().to_vec()
}

#[test]
fn a_only_name_is_synthesized_with_the_soa_bounded_ttl() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("v4.Example", wire::TYPE_AAAA, None), client(), t0);
    let (up, down) = outputs(&mut c);
    assert!(down.is_empty());
    assert_eq!(up.len(), 1);
    let q = Message::parse(&up[0].data).unwrap();
    assert_eq!(
        (q.qtype(), q.qname().to_string()),
        (wire::TYPE_AAAA, "v4.Example.".into())
    );
    assert_ne!(q.id(), 0xBEEF, "upstream ID is our own");
    let nodata = answer(
        &up[0].data,
        0,
        &[],
        &[("example", wire::TYPE_SOA, 3600, soa(300))],
    );
    c.handle_response(up[0].token, up[0].server, &nodata, t0);
    let (up, down) = outputs(&mut c);
    assert!(down.is_empty());
    let q = Message::parse(&up[0].data).unwrap();
    assert_eq!(q.qtype(), wire::TYPE_A);
    let resp = answer(
        &up[0].data,
        0,
        &[
            ("v4.example", wire::TYPE_A, 3600, a("198.51.100.7")),
            ("v4.example", wire::TYPE_A, 100, a("198.51.100.8")),
        ],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (_, down) = outputs(&mut c);
    let m = Message::parse(&down[0]).unwrap();
    assert_eq!(m.id(), 0xBEEF);
    assert_eq!(
        m.qname().as_wire(),
        &name("v4.Example")[..],
        "client's spelling"
    );
    assert_eq!(m.qtype(), wire::TYPE_AAAA);
    assert_eq!(
        answers(&down[0]),
        vec![
            (
                "v4.example.".into(),
                wire::TYPE_AAAA,
                300,
                aaaa("64:ff9b::198.51.100.7")
            ),
            (
                "v4.example.".into(),
                wire::TYPE_AAAA,
                100,
                aaaa("64:ff9b::198.51.100.8")
            )
        ]
    );
    assert_eq!(c.stats().synthesized, 1);

    // Cached: answered without upstream, TTLs aged.
    c.handle_query(
        &query("V4.example", wire::TYPE_AAAA, None),
        client(),
        t0 + Duration::from_secs(30),
    );
    let (up, down) = outputs(&mut c);
    assert!(up.is_empty());
    assert_eq!(answers(&down[0])[0].2, 270);
    assert_eq!(
        Message::parse(&down[0]).unwrap().qname().as_wire(),
        &name("V4.example")[..]
    );
    assert_eq!(c.stats().cache_hits, 1);
    // Expired after the shortest TTL (100 s).
    c.handle_query(
        &query("v4.example", wire::TYPE_AAAA, None),
        client(),
        t0 + Duration::from_secs(100),
    );
    assert_eq!(outputs(&mut c).0.len(), 1);
}

#[test]
fn real_aaaa_passes_and_excluded_aaaa_is_replaced() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("both.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let resp = answer(
        &up[0].data,
        0,
        &[
            ("both.example", wire::TYPE_AAAA, 60, aaaa("2001:db8::1")),
            ("both.example", wire::TYPE_AAAA, 60, aaaa("::ffff:1.2.3.4")),
        ],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (up, down) = outputs(&mut c);
    assert!(up.is_empty(), "no A query");
    let got: Vec<_> = answers(&down[0]).into_iter().map(|r| r.3).collect();
    assert_eq!(
        got,
        vec![aaaa("2001:db8::1")],
        "the mapped one removed (5.1.4)"
    );

    c.handle_query(
        &query("mapped.example", wire::TYPE_AAAA, None),
        client(),
        t0,
    );
    let (up, _) = outputs(&mut c);
    let resp = answer(
        &up[0].data,
        0,
        &[(
            "mapped.example",
            wire::TYPE_AAAA,
            60,
            aaaa("::ffff:1.2.3.4"),
        )],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (up, _) = outputs(&mut c);
    assert_eq!(Message::parse(&up[0].data).unwrap().qtype(), wire::TYPE_A);
    let resp = answer(
        &up[0].data,
        0,
        &[("mapped.example", wire::TYPE_A, 7200, a("1.2.3.4"))],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (_, down) = outputs(&mut c);
    assert_eq!(
        answers(&down[0]),
        vec![(
            "mapped.example.".into(),
            wire::TYPE_AAAA,
            600,
            aaaa("64:ff9b::1.2.3.4")
        )],
        "600 s without SOA"
    );
}

#[test]
fn nxdomain_passes_and_cname_chains_are_kept() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("nx.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let resp = answer(
        &up[0].data,
        3,
        &[],
        &[("example", wire::TYPE_SOA, 3600, soa(60))],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (up, down) = outputs(&mut c);
    assert!(up.is_empty());
    assert_eq!(Message::parse(&down[0]).unwrap().rcode(), 3);

    c.handle_query(&query("alias.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let chain = ("alias.example", wire::TYPE_CNAME, 300, name("v4.example"));
    let resp = answer(
        &up[0].data,
        0,
        std::slice::from_ref(&chain),
        &[("example", wire::TYPE_SOA, 3600, soa(900))],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (up, _) = outputs(&mut c);
    let resp = answer(
        &up[0].data,
        0,
        &[chain, ("v4.example", wire::TYPE_A, 1200, a("203.0.113.9"))],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (_, down) = outputs(&mut c);
    assert_eq!(
        answers(&down[0]),
        vec![
            (
                "alias.example.".into(),
                wire::TYPE_CNAME,
                300,
                name("v4.example")
            ),
            (
                "v4.example.".into(),
                wire::TYPE_AAAA,
                900,
                aaaa("64:ff9b::203.0.113.9")
            )
        ]
    );
}

#[test]
fn do_and_cd_together_disable_synthesis() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(
        &query("v4.example", wire::TYPE_AAAA, Some((true, true))),
        client(),
        t0,
    );
    let (up, _) = outputs(&mut c);
    let q = Message::parse(&up[0].data).unwrap();
    assert!(
        q.flags() & wire::FLAG_CD != 0 && q.edns().unwrap().dnssec_ok,
        "bits forwarded"
    );
    let resp = answer(
        &up[0].data,
        0,
        &[],
        &[("example", wire::TYPE_SOA, 3600, soa(300))],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (up, down) = outputs(&mut c);
    assert!(up.is_empty(), "no A query");
    assert!(answers(&down[0]).is_empty());
    // DO alone: synthesis, AD clear.
    c.handle_query(
        &query("v4.example", wire::TYPE_AAAA, Some((true, false))),
        client(),
        t0,
    );
    let (up, _) = outputs(&mut c);
    c.handle_response(
        up[0].token,
        up[0].server,
        &answer(&up[0].data, 0, &[], &[]),
        t0,
    );
    let (up, _) = outputs(&mut c);
    c.handle_response(
        up[0].token,
        up[0].server,
        &answer(
            &up[0].data,
            0,
            &[("v4.example", wire::TYPE_A, 60, a("198.51.100.1"))],
            &[],
        ),
        t0,
    );
    let (_, down) = outputs(&mut c);
    let m = Message::parse(&down[0]).unwrap();
    assert_eq!(m.flags() & wire::FLAG_AD, 0);
    assert!(m.edns().unwrap().dnssec_ok);
    assert_eq!(answers(&down[0])[0].1, wire::TYPE_AAAA);
}

#[test]
fn spoofed_responses_are_ignored() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("v4.example", wire::TYPE_A, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let good = answer(
        &up[0].data,
        0,
        &[("v4.example", wire::TYPE_A, 60, a("198.51.100.1"))],
        &[],
    );
    let mut wrong_id = good.clone();
    wrong_id[0] ^= 1;
    let wrong_q = answer(&query("other.example", wire::TYPE_A, None), 0, &[], &[]);
    c.handle_response(up[0].token, "192.0.2.99:53".parse().unwrap(), &good, t0);
    c.handle_response(up[0].token, up[0].server, &wrong_id, t0);
    c.handle_response(up[0].token, up[0].server, &wrong_q, t0);
    c.handle_response(up[0].token, up[0].server, &good[..20], t0);
    assert!(outputs(&mut c).1.is_empty());
    assert_eq!(c.stats().mismatched_responses, 3);
    assert_eq!(c.stats().malformed_responses, 1);
    c.handle_response(up[0].token, up[0].server, &good, t0);
    assert_eq!(outputs(&mut c).1.len(), 1);
}

#[test]
fn silent_upstreams_fail_over_then_servfail_in_bounded_time() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("slow.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(&mut c);
    assert_eq!(up[0].server, UP1.parse().unwrap());
    let mut servers = vec![up[0].server];
    let mut failed_at = None;
    while let Some(deadline) = c.poll_timeout() {
        let now = deadline;
        c.handle_timeout(now);
        let (up, down) = outputs(&mut c);
        servers.extend(up.iter().map(|s| s.server));
        if !down.is_empty() {
            assert_eq!(
                Message::parse(&down[0]).unwrap().rcode(),
                wire::RCODE_SERVFAIL
            );
            failed_at = Some(now);
        }
    }
    assert_eq!(failed_at, Some(t0 + Config::default().query_timeout));
    assert_eq!(
        &servers[..2],
        &[UP1.parse().unwrap(), UP2.parse().unwrap()],
        "failover"
    );
    assert_eq!(c.pending_len(), 0);
    assert_eq!(c.stats().upstream_failures, 1);
}

#[test]
fn truncated_answers_are_retried_over_tcp() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("big.example", TYPE_TXT, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let mut tc = answer(&up[0].data, 0, &[], &[]);
    tc[2] |= 0x02;
    c.handle_response(up[0].token, up[0].server, &tc, t0);
    let (up2, down) = outputs(&mut c);
    assert!(down.is_empty());
    assert!(up2[0].tcp && up2[0].server == up[0].server);
    // A big answer over TCP goes to a UDP client without EDNS as TC.
    let big: Vec<_> = (0..40)
        .map(|i| ("big.example", 16u16, 60u32, vec![20; 21 + i % 2]))
        .collect();
    c.handle_response(
        up2[0].token,
        up2[0].server,
        &answer(&up2[0].data, 0, &big, &[]),
        t0,
    );
    let (_, down) = outputs(&mut c);
    let m = Message::parse(&down[0]).unwrap();
    assert!(m.flags() & wire::FLAG_TC != 0 && down[0].len() <= 512);
    // Over TCP the client gets it all, from the cache.
    c.handle_query(&query("big.example", 16, None), Client::Tcp { conn: 1 }, t0);
    let (_, down) = outputs(&mut c);
    assert_eq!(answers(&down[0]).len(), 40);
}

/// The AAAA records `c` synthesizes for an A-only name whose A records are `v4s`.
fn synthesized(c: &mut Dns64, v4s: &[&str]) -> Vec<Vec<u8>> {
    let t0 = Instant::now();
    c.handle_query(&query("v4.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(c);
    let soa = [("example", wire::TYPE_SOA, 3600, soa(300))];
    let nodata = answer(&up[0].data, 0, &[], &soa);
    c.handle_response(up[0].token, up[0].server, &nodata, t0);
    let (up, _) = outputs(c);
    let records: Vec<_> = v4s
        .iter()
        .map(|v4| ("v4.example", wire::TYPE_A, 60, a(v4)))
        .collect();
    let resp = answer(&up[0].data, 0, &records, &[]);
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (_, down) = outputs(c);
    answers(&down[0]).into_iter().map(|r| r.3).collect()
}

#[test]
fn well_known_prefix_carries_what_nat64_translates() {
    // RFC 6052 §3.1: not private, CGNAT, documentation, benchmarking, IETF protocol
    // assignments (but 192.0.0.9, global); never loopback, "this network", multicast.
    let all = [
        "10.1.2.3",
        "100.64.0.1",
        "8.8.8.8",
        "192.0.0.8",
        "192.0.0.9",
        "198.18.0.1",
        "198.51.100.7",
        "127.0.0.1",
        "0.1.2.3",
        "224.0.0.1",
        "240.0.0.1",
    ];
    let mut c = core_with(Config::default());
    assert_eq!(
        synthesized(&mut c, &all),
        vec![aaaa("64:ff9b::8.8.8.8"), aaaa("64:ff9b::192.0.0.9")]
    );
    // Only non-global ones: an empty answer, as for a name without A records.
    assert_eq!(
        synthesized(&mut core_with(Config::default()), &all[..2]),
        Vec::<Vec<u8>>::new()
    );

    // allow_non_global, as nat64's: everything a NAT64 can reach.
    let got = synthesized(&mut core_with(lab()), &all);
    assert_eq!(got.len(), 7);
    assert_eq!(got[1], aaaa("64:ff9b::100.64.0.1"));

    // A network-specific prefix carries non-global addresses (§3.1), not unreachable ones.
    let nsp = Config {
        prefix: "2001:db8:64::/96".parse().unwrap(),
        ..Config::default()
    };
    let got = synthesized(&mut core_with(nsp), &all);
    assert_eq!(got.len(), 7);
    assert_eq!(got[6], aaaa("2001:db8:64::198.51.100.7"));
}

#[test]
fn ipv4only_arpa_and_ptr_in_the_prefix() {
    let mut c = core_with(Config {
        prefix: Prefix::new("2001:db8:122::".parse().unwrap(), 48).unwrap(),
        ..Config::default()
    });
    let t0 = Instant::now();
    c.handle_query(&query("ipv4only.arpa", wire::TYPE_AAAA, None), client(), t0);
    let (up, down) = outputs(&mut c);
    assert!(up.is_empty());
    let got: Vec<_> = answers(&down[0]).into_iter().map(|r| r.3).collect();
    assert_eq!(
        got,
        vec![
            aaaa("2001:db8:122:c000:0:aa00::"),
            aaaa("2001:db8:122:c000:0:ab00::")
        ]
    );

    // 2001:db8:122:c000:2:2100:: (192.0.2.33 in /48) reversed.
    let qname = "0.0.0.0.0.0.0.0.0.0.1.2.2.0.0.0.0.0.0.c.2.2.1.0.8.b.d.0.1.0.0.2.ip6.arpa";
    c.handle_query(&query(qname, wire::TYPE_PTR, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let q = Message::parse(&up[0].data).unwrap();
    assert_eq!(q.qname().to_string(), "33.2.0.192.in-addr.arpa.");
    let resp = answer(
        &up[0].data,
        0,
        &[(
            "33.2.0.192.in-addr.arpa",
            wire::TYPE_PTR,
            300,
            name("host.example"),
        )],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    let (_, down) = outputs(&mut c);
    let got = answers(&down[0]);
    assert_eq!(
        got[0],
        (
            format!("{qname}."),
            wire::TYPE_CNAME,
            3600,
            name("33.2.0.192.in-addr.arpa")
        )
    );
    assert_eq!(got[1].3, name("host.example"));
}

#[test]
fn garbage_never_panics_and_the_pending_table_is_bounded() {
    let mut c = core_with(Config {
        max_pending: 10,
        ..Config::default()
    });
    let t0 = Instant::now();
    c.handle_query(&[1, 2, 3], client(), t0);
    let mut bad = query("x.example", wire::TYPE_A, None);
    bad[5] = 2; // two questions
    c.handle_query(&bad, client(), t0);
    let (_, down) = outputs(&mut c);
    assert_eq!(
        Message::parse(&down[0]).map(|_| ()).unwrap_err(),
        wire::Error::BadCount,
        "FORMERR has no question"
    );
    assert_eq!(down[0][3] & 0xF, wire::RCODE_FORMERR);
    for i in 0..20 {
        c.handle_query(
            &query(&format!("n{i}.example"), wire::TYPE_A, None),
            client(),
            t0,
        );
    }
    let (up, down) = outputs(&mut c);
    assert_eq!((up.len(), down.len()), (10, 10));
    assert_eq!(c.stats().overload_drops, 10);
}

#[test]
fn servfail_tries_the_next_upstream_then_counts_as_empty() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("v4.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(&mut c);
    c.handle_response(
        up[0].token,
        up[0].server,
        &answer(&up[0].data, 2, &[], &[]),
        t0,
    );
    let (up2, down) = outputs(&mut c);
    assert!(down.is_empty());
    assert_eq!(up2[0].server, UP2.parse().unwrap(), "next upstream");
    assert_eq!(
        Message::parse(&up2[0].data).unwrap().qtype(),
        wire::TYPE_AAAA
    );
    c.handle_response(
        up2[0].token,
        up2[0].server,
        &answer(&up2[0].data, 2, &[], &[]),
        t0,
    );
    // Both failed the AAAA: treated as an empty answer (RFC 6147 5.1.2), so A is asked.
    let (up3, _) = outputs(&mut c);
    assert_eq!(Message::parse(&up3[0].data).unwrap().qtype(), wire::TYPE_A);
    let resp = answer(
        &up3[0].data,
        0,
        &[("v4.example", wire::TYPE_A, 900, a("198.51.100.3"))],
        &[],
    );
    c.handle_response(up3[0].token, up3[0].server, &resp, t0);
    let (_, down) = outputs(&mut c);
    assert_eq!(
        answers(&down[0]),
        vec![(
            "v4.example.".into(),
            wire::TYPE_AAAA,
            600,
            aaaa("64:ff9b::198.51.100.3")
        )]
    );
}

#[test]
fn negative_answers_are_cached_for_the_soa_negative_ttl() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("nx.example", wire::TYPE_AAAA, None), client(), t0);
    let (up, _) = outputs(&mut c);
    // SOA TTL 3600, MINIMUM 45: cached 45 s.
    let resp = answer(
        &up[0].data,
        3,
        &[],
        &[("example", wire::TYPE_SOA, 3600, soa(45))],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    outputs(&mut c);
    c.handle_query(
        &query("nx.example", wire::TYPE_AAAA, None),
        client(),
        t0 + Duration::from_secs(44),
    );
    let (up, down) = outputs(&mut c);
    assert!(up.is_empty());
    assert_eq!(
        Message::parse(&down[0]).unwrap().rcode(),
        wire::RCODE_NXDOMAIN
    );
    c.handle_query(
        &query("nx.example", wire::TYPE_AAAA, None),
        client(),
        t0 + Duration::from_secs(45),
    );
    assert_eq!(outputs(&mut c).0.len(), 1, "expired");
}

#[test]
fn reconfiguring_keeps_the_cache_unless_synthesis_changes() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("keep.example", wire::TYPE_A, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let resp = answer(
        &up[0].data,
        0,
        &[("keep.example", wire::TYPE_A, 300, a("198.51.100.9"))],
        &[],
    );
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    outputs(&mut c);
    c.reconfigure(Config {
        max_pending: 99,
        ..lab()
    });
    assert_eq!(c.cache_entries(), 1);
    c.reconfigure(Config::default());
    assert_eq!(c.cache_entries(), 0, "allow_non_global changed");
    c.handle_query(&query("keep.example", wire::TYPE_A, None), client(), t0);
    let (up, _) = outputs(&mut c);
    let records = [("keep.example", wire::TYPE_A, 300, a("198.51.100.9"))];
    let resp = answer(&up[0].data, 0, &records, &[]);
    c.handle_response(up[0].token, up[0].server, &resp, t0);
    outputs(&mut c);
    assert_eq!(c.cache_entries(), 1);
    c.reconfigure(Config {
        prefix: Prefix::new("2001:db8::".parse().unwrap(), 32).unwrap(),
        ..Config::default()
    });
    assert_eq!(c.cache_entries(), 0);
}

#[test]
fn a_slow_answer_to_an_earlier_attempt_still_counts() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("slow.example", wire::TYPE_A, None), client(), t0);
    let (first, _) = outputs(&mut c);
    let t1 = c.poll_timeout().unwrap();
    c.handle_timeout(t1);
    let (second, _) = outputs(&mut c);
    assert_eq!(second[0].server, UP2.parse().unwrap());
    // The first server answers late, after the retry went out: accepted, both attempts closed.
    let resp = answer(
        &first[0].data,
        0,
        &[("slow.example", wire::TYPE_A, 60, a("198.51.100.5"))],
        &[],
    );
    c.handle_response(first[0].token, first[0].server, &resp, t1);
    let mut closed = Vec::new();
    let mut answered = 0;
    while let Some(o) = c.poll_output() {
        match o {
            Output::Close { token } => closed.push(token),
            Output::ToClient { .. } => answered += 1,
            Output::ToUpstream { .. } => panic!("no new query"),
        }
    }
    assert_eq!(answered, 1);
    closed.sort();
    assert_eq!(closed, vec![first[0].token, second[0].token]);
    // The second server's answer now finds nobody waiting.
    let resp = answer(&second[0].data, 0, &[], &[]);
    c.handle_response(second[0].token, second[0].server, &resp, t1);
    assert!(c.poll_output().is_none());
    assert_eq!(c.pending_len(), 0);
}

#[test]
fn status_reports_the_counters_the_cache_and_the_upstreams() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_query(&query("v4.example", wire::TYPE_A, None), client(), t0);
    c.handle_query(&[0; 5], client(), t0);
    let mut j = Json::object();
    c.write_status(&mut j);
    assert_eq!(
        j.finish(),
        concat!(
            r#"{"prefix":"64:ff9b::/96","queries":2,"synthesized":0,"ptr_synthesized":0,"#,
            r#""local_answers":0,"cache_hits":0,"cache_misses":1,"upstream_queries":1,"#,
            r#""upstream_timeouts":0,"upstream_failures":0,"tcp_retries":0,"servfail":0,"#,
            r#""malformed_queries":1,"malformed_responses":0,"mismatched_responses":0,"#,
            r#""overload_drops":0,"pending":1,"cache":{"entries":0,"bytes":0,"limit":4194304},"#,
            r#""upstreams":["192.0.2.1:53","192.0.2.2:53"]}"#
        )
    );
}

/// An RRSIG's RDATA up to the fields these tests look at: type covered, then filler.
fn rrsig(covered: u16) -> Vec<u8> {
    let mut r = covered.to_be_bytes().to_vec();
    r.extend_from_slice(&[13, 2, 0, 0, 14, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    r.extend_from_slice(&name("example"));
    r.extend_from_slice(&[0xAB; 64]);
    r
}

/// The AAAA query `q` (client side) sent to the core, answered upstream with `upstream`
/// (answers, authority); returns what the client got and what went upstream after.
fn ask_aaaa(
    c: &mut Dns64,
    q: &[u8],
    answers: &[(&str, u16, u32, Vec<u8>)],
    authority: &[(&str, u16, u32, Vec<u8>)],
    flags: u16,
    t: Instant,
) -> (Vec<Sent>, Vec<Vec<u8>>) {
    c.handle_query(q, client(), t);
    let (up, _) = outputs(c);
    let mut resp = answer(&up[0].data, 0, answers, authority);
    let mut h = wire::Header::new_unchecked(&mut resp[..]);
    h.set_flags(h.flags() | flags);
    c.handle_response(up[0].token, up[0].server, &resp, t);
    outputs(c)
}

#[test]
fn rfc6147_5_1_4_excluded_aaaa_are_removed_from_a_mixed_rrset() {
    let mut c = core();
    let t0 = Instant::now();
    let ns = ("example", wire::TYPE_NS, 7200, name("ns.example"));
    let (up, down) = ask_aaaa(
        &mut c,
        &query("mixed.example", wire::TYPE_AAAA, Some((false, false))),
        &[
            ("mixed.example", wire::TYPE_AAAA, 300, aaaa("2001:db8::1")),
            (
                "mixed.example",
                wire::TYPE_AAAA,
                300,
                aaaa("::ffff:192.0.2.27"),
            ),
            ("mixed.example", wire::TYPE_AAAA, 300, aaaa("2001:db8::2")),
        ],
        std::slice::from_ref(&ns),
        0,
        t0,
    );
    assert!(up.is_empty(), "real AAAA left: no A query, no synthesis");
    assert_eq!(
        answers(&down[0]),
        vec![
            (
                "mixed.example.".into(),
                wire::TYPE_AAAA,
                300,
                aaaa("2001:db8::1")
            ),
            (
                "mixed.example.".into(),
                wire::TYPE_AAAA,
                300,
                aaaa("2001:db8::2")
            ),
        ],
        "the IPv4-mapped record removed, the others and their TTL kept (RFC 6147 5.1.4)"
    );
    let m = Message::parse(&down[0]).unwrap();
    assert_eq!((m.id(), m.rcode()), (0xBEEF, 0));
    assert_eq!(m.counts()[1], 1, "authority copied (RFC 6147 5.4)");
    assert_eq!(m.edns().map(|e| e.udp_size), Some(1232), "EDNS answered");
    assert_eq!(c.stats().synthesized, 0);

    // What is cached is the filtered answer.
    let (up, down) = {
        c.handle_query(
            &query("mixed.example", wire::TYPE_AAAA, Some((false, false))),
            client(),
            t0 + Duration::from_secs(10),
        );
        outputs(&mut c)
    };
    assert!(up.is_empty(), "from the cache");
    let got: Vec<_> = answers(&down[0]).into_iter().map(|r| (r.2, r.3)).collect();
    assert_eq!(
        got,
        vec![(290, aaaa("2001:db8::1")), (290, aaaa("2001:db8::2"))]
    );

    // A configured range, and the mapped default kept alongside it.
    let mut c = core_with(Config {
        exclude: vec![
            dns64::exclude::Range6::mapped(),
            dns64::exclude::Range6 {
                addr: "2001:db8:bad::".parse().unwrap(),
                len: 48,
            },
        ],
        ..lab()
    });
    let (_, down) = ask_aaaa(
        &mut c,
        &query("cfg.example", wire::TYPE_AAAA, None),
        &[
            ("cfg.example", wire::TYPE_AAAA, 60, aaaa("2001:db8:bad::1")),
            ("cfg.example", wire::TYPE_AAAA, 60, aaaa("2001:db8:900d::1")),
        ],
        &[],
        0,
        t0,
    );
    let got: Vec<_> = answers(&down[0]).into_iter().map(|r| r.3).collect();
    assert_eq!(got, vec![aaaa("2001:db8:900d::1")]);
    assert!(
        Message::parse(&down[0]).unwrap().edns().is_none(),
        "no EDNS asked, none answered"
    );

    // Truncation as for any answer: too large for a plain UDP client, TC and no records.
    let mut many: Vec<_> = (1..=30)
        .map(|i| {
            (
                "many.example",
                wire::TYPE_AAAA,
                60,
                aaaa(&format!("2001:db8::{i}")),
            )
        })
        .collect();
    many.push(("many.example", wire::TYPE_AAAA, 60, aaaa("::ffff:1.2.3.4")));
    let (_, down) = ask_aaaa(
        &mut c,
        &query("many.example", wire::TYPE_AAAA, None),
        &many,
        &[],
        0,
        t0,
    );
    let m = Message::parse(&down[0]).unwrap();
    assert!(m.flags() & wire::FLAG_TC != 0 && m.counts()[0] == 0);
}

#[test]
fn rfc6147_5_1_4_and_5_1_5_excluded_aaaa_removed_at_the_end_of_a_cname_chain() {
    let mut c = core();
    let t0 = Instant::now();
    let chain = ("www.example", wire::TYPE_CNAME, 900, name("cdn.example"));
    let (up, down) = ask_aaaa(
        &mut c,
        &query("www.example", wire::TYPE_AAAA, None),
        &[
            chain.clone(),
            (
                "cdn.example",
                wire::TYPE_AAAA,
                120,
                aaaa("::ffff:198.51.100.9"),
            ),
            ("cdn.example", wire::TYPE_AAAA, 120, aaaa("2001:db8::9")),
        ],
        &[],
        0,
        t0,
    );
    assert!(up.is_empty());
    assert_eq!(
        answers(&down[0]),
        vec![
            (
                "www.example.".into(),
                wire::TYPE_CNAME,
                900,
                name("cdn.example")
            ),
            (
                "cdn.example.".into(),
                wire::TYPE_AAAA,
                120,
                aaaa("2001:db8::9")
            ),
        ]
    );

    // Every AAAA at the end of the chain excluded: synthesis from the A answer, as before.
    let (up, _) = ask_aaaa(
        &mut c,
        &query("www2.example", wire::TYPE_AAAA, None),
        &[
            ("www2.example", wire::TYPE_CNAME, 900, name("cdn2.example")),
            (
                "cdn2.example",
                wire::TYPE_AAAA,
                120,
                aaaa("::ffff:198.51.100.9"),
            ),
        ],
        &[],
        0,
        t0,
    );
    assert_eq!(Message::parse(&up[0].data).unwrap().qtype(), wire::TYPE_A);
}

#[test]
fn rfc6147_5_5_excluded_aaaa_and_dnssec() {
    let t0 = Instant::now();
    let signed = [
        ("s.example", wire::TYPE_AAAA, 300, aaaa("2001:db8::5")),
        (
            "s.example",
            wire::TYPE_AAAA,
            300,
            aaaa("::ffff:198.51.100.5"),
        ),
        ("s.example", wire::TYPE_RRSIG, 300, rrsig(wire::TYPE_AAAA)),
    ];
    // DO and CD (5.5 item 3): the validating client gets the data as a plain recursive
    // resolver would return it: the signed RRset whole, its RRSIG, the upstream's AD.
    let mut c = core();
    let (up, down) = ask_aaaa(
        &mut c,
        &query("s.example", wire::TYPE_AAAA, Some((true, true))),
        &signed,
        &[],
        wire::FLAG_AD,
        t0,
    );
    assert!(up.is_empty());
    let got: Vec<_> = answers(&down[0]).into_iter().map(|r| r.1).collect();
    assert_eq!(
        got,
        vec![wire::TYPE_AAAA, wire::TYPE_AAAA, wire::TYPE_RRSIG],
        "nothing removed from a signed RRset the client validates"
    );
    assert!(Message::parse(&down[0]).unwrap().flags() & wire::FLAG_AD != 0);

    // DO without CD: the excluded record goes (5.1.4), so the RRSIG over the whole RRset no
    // longer verifies and goes too, and AD is clear: we changed the data (5.5 item 1/2).
    let mut c = core();
    let (_, down) = ask_aaaa(
        &mut c,
        &query("s.example", wire::TYPE_AAAA, Some((true, false))),
        &signed,
        &[],
        wire::FLAG_AD,
        t0,
    );
    assert_eq!(
        answers(&down[0]),
        vec![(
            "s.example.".into(),
            wire::TYPE_AAAA,
            300,
            aaaa("2001:db8::5")
        )]
    );
    let m = Message::parse(&down[0]).unwrap();
    assert_eq!(m.flags() & wire::FLAG_AD, 0);
    assert!(m.edns().unwrap().dnssec_ok, "DO echoed");
}

fn ptr_query_name(v6: Ipv6Addr) -> String {
    let name = dns64::rfc6052::ip6_arpa(v6);
    name.as_str().trim_end_matches('.').to_string()
}

#[test]
fn rfc8880_7_2_1_ptr_of_the_ipv4only_addresses_is_answered_locally() {
    let t0 = Instant::now();
    for prefix in [
        Prefix::well_known(),
        Prefix::new("2001:db8:122::".parse().unwrap(), 48).unwrap(),
        Prefix::new("2001:db8:122:344::".parse().unwrap(), 64).unwrap(),
    ] {
        let mut c = core_with(Config {
            prefix,
            ..Config::default()
        });
        for (v4, edns) in [("192.0.0.170", None), ("192.0.0.171", Some((true, false)))] {
            let qname = ptr_query_name(prefix.embed(v4.parse().unwrap()));
            c.handle_query(&query(&qname, wire::TYPE_PTR, edns), client(), t0);
            let (up, down) = outputs(&mut c);
            assert!(up.is_empty(), "{prefix} {v4}: no reverse query upstream");
            assert_eq!(
                answers(&down[0]),
                vec![(
                    format!("{qname}."),
                    wire::TYPE_PTR,
                    3600,
                    name("ipv4only.arpa")
                )],
                "{prefix} {v4}"
            );
            let m = Message::parse(&down[0]).unwrap();
            assert_eq!((m.id(), m.rcode(), m.qtype()), (0xBEEF, 0, wire::TYPE_PTR));
            assert_eq!(
                m.flags() & (wire::FLAG_QR | wire::FLAG_AA | wire::FLAG_RD | wire::FLAG_RA),
                wire::FLAG_QR | wire::FLAG_RD | wire::FLAG_RA,
                "not authoritative for the prefix's ip6.arpa zone"
            );
            assert_eq!(m.edns().is_some(), edns.is_some());
        }
        assert_eq!(c.stats().local_answers, 2);

        // The next address is an ordinary one: CNAME to in-addr.arpa, asked upstream.
        let qname = ptr_query_name(prefix.embed("192.0.0.172".parse().unwrap()));
        c.handle_query(&query(&qname, wire::TYPE_PTR, None), client(), t0);
        let (up, _) = outputs(&mut c);
        assert_eq!(
            Message::parse(&up[0].data).unwrap().qname().to_string(),
            "172.0.0.192.in-addr.arpa."
        );
    }

    // 170.0.0.192.in-addr.arpa asked directly: a recursive resolver gives it no special
    // treatment (RFC 8880 7.2 item 4), so it is forwarded as it is.
    let mut c = core();
    c.handle_query(
        &query("170.0.0.192.in-addr.arpa", wire::TYPE_PTR, None),
        client(),
        t0,
    );
    let (up, down) = outputs(&mut c);
    assert!(down.is_empty());
    assert_eq!(
        Message::parse(&up[0].data).unwrap().qname().to_string(),
        "170.0.0.192.in-addr.arpa."
    );
    // DO and CD: the validating client synthesizes itself (RFC 6147 5.5, RFC 8880 7.2.1), so
    // the query goes upstream as any other.
    let qname = ptr_query_name(Prefix::well_known().embed("192.0.0.170".parse().unwrap()));
    c.handle_query(
        &query(&qname, wire::TYPE_PTR, Some((true, true))),
        client(),
        t0,
    );
    let (up, down) = outputs(&mut c);
    assert!(down.is_empty());
    assert_eq!(
        Message::parse(&up[0].data).unwrap().qname().to_string(),
        format!("{qname}.")
    );
}
