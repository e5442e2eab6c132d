//! The wire parser, the TCP framing and the core against DNS messages that dns64's own writer
//! did not make: queries from dig (BIND 9) and answers from NSD, in `fixtures/captured.txt`,
//! captured by `fixtures/capture.sh` (the zones are there). NSD compresses names, dig sends
//! EDNS with a cookie option and the AD bit, and both frame TCP their own way.

use std::net::SocketAddr;
use std::time::Instant;

use dns64::resolver::Config;
use dns64::tcp::{self, FrameDecoder};
use dns64::wire::{self, Message, Name, Record, Writer};
use dns64::{Client, Dns64, Output};

const CAPTURED: &str = include_str!("fixtures/captured.txt");
const UPSTREAM: &str = "127.0.0.2:53";

/// The captured bytes `name` (e.g. "a_two.response"), kept for the test's whole run.
fn bytes(name: &str) -> &'static [u8] {
    let line = CAPTURED
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in captured.txt"));
    let hex = line.split(' ').nth(1).expect("hex after the name");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .leak()
}

/// The messages of a captured TCP stream, split at their length prefixes.
fn stream(name: &str) -> Vec<Vec<u8>> {
    let mut d = FrameDecoder::new();
    d.push(bytes(name));
    let mut messages = Vec::new();
    while let Some(m) = d.next_message() {
        messages.push(m.to_vec());
    }
    assert_eq!(d.buffered(), 0, "{name} ends inside a message");
    messages
}

fn owner(msg: &[u8], rr: &Record) -> String {
    wire::read_name(msg, rr.name_at()).unwrap().0.to_string()
}

fn records(msg: &[u8], section: usize) -> Vec<(String, u16, u32, Vec<u8>)> {
    let m = Message::parse(msg).unwrap();
    m.records(section)
        .map(|rr| {
            (
                owner(msg, &rr),
                rr.rtype(),
                rr.ttl(),
                rr.rdata(msg).to_vec(),
            )
        })
        .collect()
}

/// The records of `section` with every name written out (as the core copies them).
fn expanded(msg: &[u8], section: usize) -> Vec<u8> {
    let m = Message::parse(msg).unwrap();
    let mut w = Writer::new(0, 0);
    for rr in m.records(section) {
        w.copy_record(msg, &rr, rr.ttl()).unwrap();
    }
    w.as_bytes()[wire::HEADER_LEN..].to_vec()
}

fn name(text: &str) -> Vec<u8> {
    Name::from_text(text).unwrap().as_wire().to_vec()
}

#[test]
fn every_captured_message_parses_and_each_answer_matches_its_query() {
    let mut names: Vec<&str> = CAPTURED
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('.').next())
        .collect();
    names.dedup();
    assert_eq!(names.len(), 12);
    for n in names {
        let (queries, answers) = if n.starts_with("tcp_") {
            (
                stream(&format!("{n}.query_stream")),
                stream(&format!("{n}.response_stream")),
            )
        } else {
            (
                vec![bytes(&format!("{n}.query")).to_vec()],
                vec![bytes(&format!("{n}.response")).to_vec()],
            )
        };
        assert_eq!(queries.len(), answers.len(), "{n}");
        for (q, a) in queries.iter().zip(&answers) {
            let (q, a) = (Message::parse(q).unwrap(), Message::parse(a).unwrap());
            assert_eq!(q.flags() & wire::FLAG_QR, 0, "{n}");
            assert_ne!(a.flags() & wire::FLAG_QR, 0, "{n}");
            assert_eq!(
                (a.id(), a.qtype(), a.qclass()),
                (q.id(), q.qtype(), q.qclass())
            );
            assert_eq!(a.qname(), q.qname(), "{n}");
            assert_eq!(a.end(), a.bytes().len(), "{n}: nothing after the records");
        }
    }
}

#[test]
fn digs_queries() {
    let q = bytes("aaaa_nodata.query");
    let m = Message::parse(q).unwrap();
    // dig sets RD and AD in queries (RFC 6840 §5.7).
    assert_eq!(m.flags(), wire::FLAG_RD | wire::FLAG_AD);
    assert_eq!(
        (m.qname().to_string(), m.qtype()),
        ("v4only.fx.test.".into(), wire::TYPE_AAAA)
    );
    assert_eq!(m.counts(), [0, 0, 1]);
    let edns = m.edns().unwrap();
    assert_eq!((edns.udp_size, edns.dnssec_ok), (1232, false));
    // Its OPT record carries a client cookie (RFC 7873: option 10, 8 bytes).
    let opt = m.opt().unwrap();
    assert_eq!(opt.rdata(q)[..4], [0, 10, 0, 8]);
    assert_eq!(opt.rdata_len(), 12);

    let m = Message::parse(bytes("noedns.query")).unwrap();
    assert_eq!((m.edns(), m.counts()), (None, [0, 0, 0]));
    let m = Message::parse(bytes("dnssec_cd.query")).unwrap();
    assert_ne!(m.flags() & wire::FLAG_CD, 0);
    assert!(m.edns().unwrap().dnssec_ok);
    let m = Message::parse(bytes("truncated.query")).unwrap();
    assert_eq!(m.edns().unwrap().udp_size, 512);
    let m = Message::parse(bytes("ptr6.query")).unwrap();
    assert_eq!(m.qtype(), wire::TYPE_PTR);
    assert_eq!(
        m.qname().to_string(),
        "a.0.4.6.3.3.6.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa."
    );
}

#[test]
fn nsds_negative_answers_carry_the_soa() {
    let r = bytes("aaaa_nodata.response");
    let m = Message::parse(r).unwrap();
    assert_eq!((m.rcode(), m.counts()), (wire::RCODE_NOERROR, [0, 1, 1]));
    assert_ne!(m.flags() & wire::FLAG_AA, 0);
    let soa = m.records(1).next().unwrap();
    assert_eq!(
        (owner(r, &soa), soa.rtype()),
        ("fx.test.".into(), wire::TYPE_SOA)
    );
    // NSD gives the SOA the negative TTL (RFC 2308 §3): min(SOA TTL, MINIMUM).
    assert_eq!((soa.ttl(), wire::soa_minimum(r, &soa)), (300, Some(300)));
    // Its names are compressed; copied, they are written out.
    let mut want = name("fx.test");
    want.extend_from_slice(&[0, 6, 0, 1, 0, 0, 1, 44, 0, 47]);
    want.extend(name("ns.fx.test"));
    want.extend(name("admin.fx.test"));
    for v in [1u32, 3600, 600, 86400, 300] {
        want.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(expanded(r, 1), want);

    let m = Message::parse(bytes("nxdomain.response")).unwrap();
    assert_eq!((m.rcode(), m.counts()), (wire::RCODE_NXDOMAIN, [0, 1, 1]));
    let m = Message::parse(bytes("ptr6.response")).unwrap();
    assert_eq!(
        (m.rcode(), m.counts()),
        (wire::RCODE_REFUSED, [0, 0, 1]),
        "REFUSED: not NSD's zone"
    );
}

#[test]
fn nsds_compressed_records_are_followed() {
    let r = bytes("a_two.response");
    let ttl = 3600;
    assert_eq!(
        records(r, 0),
        [
            (
                "v4only.fx.test.".into(),
                wire::TYPE_A,
                ttl,
                vec![198, 51, 100, 10]
            ),
            (
                "v4only.fx.test.".into(),
                wire::TYPE_A,
                ttl,
                vec![198, 51, 100, 11]
            ),
        ]
    );
    let additional = records(r, 2);
    assert_eq!(additional[0].0, "ns.fx.test.");
    assert_eq!(additional[1].1, wire::TYPE_OPT);

    let r = bytes("cname_chain.response");
    let answers = records(r, 0);
    assert_eq!(answers.len(), 3);
    assert_eq!(
        (answers[0].0.as_str(), answers[0].1),
        ("alias.fx.test.", wire::TYPE_CNAME)
    );
    let mut cname = name("alias.fx.test");
    cname.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 16]);
    cname.extend(name("v4only.fx.test"));
    assert!(expanded(r, 0).starts_with(&cname));

    // MX: the preference, then the exchange name, compressed by NSD.
    let r = bytes("mx.response");
    let mx = records(r, 0);
    assert_eq!((mx[0].1, &mx[0].3[..2]), (wire::TYPE_MX, &[0, 10][..]));
    assert!(mx[0].3.len() < 2 + name("v4only.fx.test").len());
    let mut want = name("mail.fx.test");
    want.extend_from_slice(&[0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, 18, 0, 10]);
    want.extend(name("v4only.fx.test"));
    assert_eq!(expanded(r, 0), want);

    let r = bytes("ptr4.response");
    let ptr = Message::parse(r).unwrap().records(0).next().unwrap();
    let (target, end) = wire::read_name(r, ptr.rdata_at()).unwrap();
    assert_eq!(
        (target.to_string(), end),
        ("v4only.fx.test.".into(), ptr.end())
    );
}

#[test]
fn nsd_truncates_to_the_edns_size_dig_asked_for() {
    let m = Message::parse(bytes("truncated.response")).unwrap();
    assert_ne!(m.flags() & wire::FLAG_TC, 0);
    assert_eq!(m.counts(), [0, 0, 1]);
    // Over TCP the same question gets every record.
    let r = &stream("tcp_big.response_stream")[0];
    let m = Message::parse(r).unwrap();
    assert_eq!((m.flags() & wire::FLAG_TC, m.counts()[0]), (0, 60));
    assert!(r.len() > 512);
}

#[test]
fn tcp_streams_split_into_their_messages_and_frame_back_the_same() {
    let queries = stream("tcp_two.query_stream");
    let answers = stream("tcp_two.response_stream");
    let asked: Vec<_> = queries
        .iter()
        .map(|q| {
            let m = Message::parse(q).unwrap();
            (m.qname().to_string(), m.qtype())
        })
        .collect();
    assert_eq!(
        asked,
        [
            ("v4only.fx.test.".to_string(), wire::TYPE_A),
            ("both.fx.test.".to_string(), wire::TYPE_AAAA)
        ]
    );
    assert_eq!(
        records(&answers[1], 0)[0].3,
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20]
    );
    for name in [
        "tcp_two.query_stream",
        "tcp_two.response_stream",
        "tcp_big.response_stream",
    ] {
        let whole = bytes(name);
        let mut framed = Vec::new();
        for m in stream(name) {
            tcp::frame(&mut framed, &m).unwrap();
        }
        assert_eq!(framed, whole, "{name}");
        // Byte by byte, as a slow peer sends them.
        let mut d = FrameDecoder::new();
        let mut n = 0;
        for b in whole {
            d.push(std::slice::from_ref(b));
            while d.next_message().is_some() {
                n += 1;
            }
        }
        assert_eq!(n, stream(name).len());
    }
}

/// The core, with the documentation addresses of the zones let through.
fn core() -> Dns64 {
    let config = Config {
        allow_non_global: true,
        ..Config::default()
    };
    let mut id = 0x4000u16;
    Dns64::new(
        config,
        vec![UPSTREAM.parse().unwrap()],
        Box::new(move || {
            id = id.wrapping_add(0x111);
            id
        }),
    )
}

/// Queries the core sent upstream, with their tokens.
type Upstream = Vec<(u64, Vec<u8>)>;

/// What the core sent upstream and to clients.
fn outputs(core: &mut Dns64) -> (Upstream, Vec<Vec<u8>>) {
    let (mut up, mut down) = (Vec::new(), Vec::new());
    while let Some(o) = core.poll_output() {
        match o {
            Output::ToUpstream { token, data, .. } => up.push((token, data)),
            Output::ToClient { data, .. } => down.push(data),
            Output::Close { .. } => {}
        }
    }
    (up, down)
}

/// NSD's captured answer, given the ID of the query the core sent (the one byte pair that
/// differs between the capture and this run).
fn nsd_answer(name: &str, asked: &[u8]) -> Vec<u8> {
    let mut r = bytes(name).to_vec();
    r[..2].copy_from_slice(&asked[..2]);
    r
}

#[test]
fn the_core_synthesizes_from_nsds_answers_to_digs_query() {
    let mut c = core();
    let t0 = Instant::now();
    let from: SocketAddr = UPSTREAM.parse().unwrap();
    let client = Client::Udp {
        socket: 0,
        addr: "[::1]:40000".parse().unwrap(),
        local: None,
    };
    let query = bytes("aaaa_nodata.query");
    c.handle_query(query, client, t0);
    let (up, _) = outputs(&mut c);
    let m = Message::parse(&up[0].1).unwrap();
    assert_eq!(
        (m.qname().to_string(), m.qtype()),
        ("v4only.fx.test.".into(), wire::TYPE_AAAA)
    );
    c.handle_response(
        up[0].0,
        from,
        &nsd_answer("aaaa_nodata.response", &up[0].1),
        t0,
    );
    let (up, down) = outputs(&mut c);
    assert!(down.is_empty());
    assert_eq!(Message::parse(&up[0].1).unwrap().qtype(), wire::TYPE_A);
    c.handle_response(up[0].0, from, &nsd_answer("a_two.response", &up[0].1), t0);
    let (_, down) = outputs(&mut c);
    let m = Message::parse(&down[0]).unwrap();
    assert_eq!(m.id(), Message::parse(query).unwrap().id());
    // TTL: min(A 3600, the negative TTL 300 of the AAAA answer).
    let want = |last: u8| {
        let mut v6 = vec![0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
        v6.extend_from_slice(&[198, 51, 100, last]);
        ("v4only.fx.test.".to_string(), wire::TYPE_AAAA, 300, v6)
    };
    assert_eq!(records(&down[0], 0), [want(10), want(11)]);
}

#[test]
fn the_core_maps_digs_reverse_query_and_follows_nsds_ptr() {
    let mut c = core();
    let t0 = Instant::now();
    let from: SocketAddr = UPSTREAM.parse().unwrap();
    // Over TCP this time: dig's query framed as dig would send it.
    let mut framed = Vec::new();
    tcp::frame(&mut framed, bytes("ptr6.query")).unwrap();
    let mut conn = tcp::Connection::new(t0);
    conn.received(&framed, t0);
    let query = conn.next_query().unwrap().to_vec();
    c.handle_query(&query, Client::Tcp { conn: 1 }, t0);
    let (up, _) = outputs(&mut c);
    let m = Message::parse(&up[0].1).unwrap();
    assert_eq!(
        (m.qname().to_string(), m.qtype()),
        ("10.100.51.198.in-addr.arpa.".into(), wire::TYPE_PTR)
    );
    c.handle_response(up[0].0, from, &nsd_answer("ptr4.response", &up[0].1), t0);
    let (_, down) = outputs(&mut c);
    let answers = records(&down[0], 0);
    assert_eq!(answers[0].1, wire::TYPE_CNAME);
    assert_eq!(answers[0].3, name("10.100.51.198.in-addr.arpa"));
    assert_eq!(
        (answers[1].1, &answers[1].3),
        (wire::TYPE_PTR, &name("v4only.fx.test"))
    );
    conn.answer(&down[0]);
    assert_eq!(conn.unsent()[2..], down[0][..]);
}
