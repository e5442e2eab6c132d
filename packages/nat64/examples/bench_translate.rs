//! nat64's hot loop as a micro-benchmark, for `bench/mips.sh`: one UDP flow, a datagram from
//! the IPv6 host translated to IPv4 and the server's answer translated back, through the
//! sans-IO core ([`Nat64::process`]) as the daemon calls it for each packet from the TUN
//! device. The session exists before the loop (the first packet creates it), so the loop is
//! the established-flow path only.
//!
//!   cargo run --release -p nat64 --example bench_translate -- ITERATIONS
//!
//! Prints the iterations (each: one packet each way) and the wall time per iteration. Exits
//! 1 if a packet is not translated, so a count taken from a broken loop is not reported.

use std::time::Instant;

use nat64::testing::{config, prefix, udp6, HOST};
use nat64::{Nat64, PacketBuf, Verdict};

/// UDP payload bytes: a small packet (IPv6 40 + UDP 8 + 64), where per-packet work dominates.
const PAYLOAD: usize = 64;

fn main() {
    let iterations: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let t0 = Instant::now();
    let mut nat = Nat64::new(config(1000), t0);
    let mut buf = PacketBuf::new();
    // A global IPv4 server (the tests' 192.0.2.2 is documentation space, not translated
    // with allow_non_global off), under the tests' prefix.
    let server = [203, 0, 114, 7];
    let to_server = udp6(
        &HOST,
        &prefix().embed(server.into()).octets(),
        40000,
        53,
        &[0x5a; PAYLOAD],
    );

    // The first packet creates the session; its translation, addresses and ports swapped, is
    // the server's answer (both checksums stay valid: their sums do not depend on order).
    let mut answer = Vec::new();
    buf.load(&to_server);
    let v = nat.process(&mut buf, t0, &mut |out, _| answer = out.to_vec());
    if v != (Verdict::Translated { packets: 1 }) || answer.len() < 28 {
        eprintln!("bench_translate: the first packet was not translated: {v:?}");
        std::process::exit(1);
    }
    for (a, b) in [(12, 16), (20, 22)] {
        let n = if a == 12 { 4 } else { 2 };
        for i in 0..n {
            answer.swap(a + i, b + i);
        }
    }

    let mut bytes = 0usize;
    let start = Instant::now();
    for _ in 0..iterations {
        for packet in [&to_server, &answer] {
            buf.load(packet);
            let v = nat.process(&mut buf, t0, &mut |out, _| bytes += out.len());
            if v != (Verdict::Translated { packets: 1 }) {
                eprintln!("bench_translate: not translated: {v:?}");
                std::process::exit(1);
            }
        }
    }
    let elapsed = start.elapsed();
    // v6 -> v4 loses 20 bytes, v4 -> v6 gains them back.
    assert_eq!(bytes as u64, iterations * (to_server.len() * 2 - 20) as u64);
    println!(
        "iterations {iterations} ns_per_iteration {:.1}",
        elapsed.as_nanos() as f64 / iterations.max(1) as f64
    );
}
