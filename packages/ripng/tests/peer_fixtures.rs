//! The wire view on bytes that real routers wrote: the RIPng packets of BIRD 2 and FRR's
//! ripngd in `tests/fixtures/*.bin` (bare UDP payloads), captured by
//! `tests/fixtures/capture.sh`, which says how; `tests/fixtures/README.md` and `captured.txt`
//! name the versions. No network here. The expected values are what TShark 4.0.17 decodes from
//! the capture; a new capture changes them.

use std::net::Ipv6Addr;

use ripng::wire::{Command, Packet, Rte, INFINITY, NEXT_HOP_METRIC};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn rte(prefix: &str, tag: u16, prefix_len: u8, metric: u8) -> Rte {
    Rte {
        prefix: ip(prefix),
        tag,
        prefix_len,
        metric,
    }
}

/// The packet's command and its RTEs in order, after the checks of `new_checked`.
fn parse(name: &str) -> (Command, Vec<Rte>) {
    let bytes = fixture(name);
    let p = Packet::new_checked(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The must-be-zero field is zero in everything both peers sent.
    assert_eq!(&bytes[2..4], &[0, 0], "{name}: must-be-zero field");
    assert_eq!(p.rte_count(), (bytes.len() - 4) / 20);
    (p.command(), p.rtes().collect())
}

#[test]
fn whole_table_requests() {
    for name in ["bird-request", "frr-request"] {
        let bytes = fixture(name);
        assert_eq!(bytes.len(), 24, "{name}");
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.command(), Command::Request, "{name}");
        assert!(p.is_whole_table_request(), "{name}");
        assert_eq!(p.rtes().collect::<Vec<_>>(), [Rte::WHOLE_TABLE], "{name}");
    }
}

/// BIRD's periodic update on the segment: its own routes (the tagged one with the metric its
/// export filter set), FRR's two routes poisoned back (split horizon with poisoned reverse,
/// BIRD's default; the one FRR tagged 77 keeps its tag), and the static route via fe80::3 after
/// a next-hop RTE, which BIRD does not reset to :: at the end of the packet.
#[test]
fn bird_response() {
    let (command, rtes) = parse("bird-response");
    assert_eq!(command, Command::Response);
    assert_eq!(
        rtes,
        [
            rte("2001:db8:1:1::", 0x1234, 64, 3),
            rte("2001:db8:2:1::", 77, 64, INFINITY),
            rte("2001:db8:1::", 0, 64, 1),
            rte("2001:db8:2::", 0, 64, INFINITY),
            Rte::next_hop(ip("fe80::3")),
            rte("2001:db8:1:77::", 0, 64, 1),
        ]
    );
    assert!(rtes[4].is_next_hop());
    assert_eq!(rtes[4].metric, NEXT_HOP_METRIC);
    assert_eq!(rtes.iter().filter(|r| r.is_next_hop()).count(), 1);
}

/// FRR's periodic update: split horizon without poison (its default) leaves out what it
/// learned from BIRD; the route-mapped stub comes after a next-hop RTE for fe80::3, tag 77.
#[test]
fn frr_response() {
    let (command, rtes) = parse("frr-response");
    assert_eq!(command, Command::Response);
    assert_eq!(
        rtes,
        [
            rte("2001:db8:2::", 0, 64, 1),
            Rte::next_hop(ip("fe80::3")),
            rte("2001:db8:2:1::", 77, 64, 1),
        ]
    );
}

/// The triggered updates when the stub1 LANs went down: metric 16. BIRD withdraws its own
/// (tag no longer set: the export filter saw no route) and, still poisoning, FRR's; FRR repeats
/// the next-hop RTE before its withdrawn route.
#[test]
fn triggered_withdrawals() {
    let (command, rtes) = parse("bird-withdraw");
    assert_eq!(command, Command::Response);
    assert_eq!(
        rtes,
        [
            rte("2001:db8:1:1::", 0, 64, INFINITY),
            rte("2001:db8:2:1::", 0, 64, INFINITY),
        ]
    );
    let (command, rtes) = parse("frr-withdraw");
    assert_eq!(command, Command::Response);
    assert_eq!(
        rtes,
        [
            Rte::next_hop(ip("fe80::3")),
            rte("2001:db8:2:1::", 77, 64, INFINITY),
        ]
    );
}

/// Every fixture, cut anywhere inside an RTE, is refused as truncated, never read past.
#[test]
fn fixtures_cut_short_are_truncated() {
    for name in [
        "bird-request",
        "bird-response",
        "bird-withdraw",
        "frr-request",
        "frr-response",
        "frr-withdraw",
    ] {
        let bytes = fixture(name);
        for len in 0..bytes.len() {
            let whole = len >= 4 && (len - 4) % 20 == 0;
            assert_eq!(
                Packet::new_checked(&bytes[..len]).is_ok(),
                whole,
                "{name} cut at {len}"
            );
        }
    }
}
