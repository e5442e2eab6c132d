//! dns64's hot loops as micro-benchmarks, for `bench/mips.sh`, through the sans-IO core as
//! the daemon drives it (queries in, outputs polled, upstream answers in):
//!
//!   cached: an AAAA query answered from the cache (the answer synthesized before the loop)
//!   synth:  an AAAA query for a new name each time: AAAA upstream, an empty answer (NODATA),
//!           A upstream, one A record, the AAAA answer synthesized from it and cached
//!
//!   cargo run --release -p dns64 --example bench_synth -- cached|synth ITERATIONS
//!
//! The upstream here is a few lines that patch the core's own upstream query into an answer
//! (no allocation once warm), so the loop is the core's work. Prints the iterations and the
//! wall time per iteration; exits 1 if a query is not answered with one AAAA record (or, when
//! cached, goes upstream).

use std::net::SocketAddr;
use std::time::Instant;

use dns64::resolver::Config;
use dns64::wire::{self, Name, Writer};
use dns64::{Client, Dns64, Output};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "cached".into());
    let iterations: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let cached = match mode.as_str() {
        "cached" => true,
        "synth" => false,
        _ => {
            eprintln!("usage: bench_synth cached|synth ITERATIONS");
            std::process::exit(2);
        }
    };
    let config = Config {
        allow_non_global: true,
        ..Config::default()
    };
    let upstream: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let mut n = 0x1000u16;
    let random = Box::new(move || {
        n = n.wrapping_add(0x101);
        n
    });
    let mut core = Dns64::new(config, vec![upstream], random);
    let client = Client::Udp {
        socket: 0,
        addr: "[2001:db8::10]:40000".parse().unwrap(),
        local: None,
    };
    let now = Instant::now();
    // The query: "u" and 8 digits, patched per iteration in synth mode.
    let mut w = Writer::new(0xbeef, wire::FLAG_RD);
    let name = Name::from_text("u00000000.bench.test").unwrap();
    w.question(name.as_wire(), wire::TYPE_AAAA, wire::CLASS_IN);
    let mut query = w.into_bytes();
    let mut scratch = Vec::with_capacity(512);

    // Warm-up (and, cached, the entry the loop reads).
    let (answers, upstream_queries) = serve(&mut core, &query, client, now, &mut scratch);
    if answers != 1 || upstream_queries != 2 {
        eprintln!("bench_synth: warm-up: {answers} answers, {upstream_queries} upstream queries");
        std::process::exit(1);
    }
    let start = Instant::now();
    for i in 1..=iterations {
        if !cached {
            let mut digits = i;
            for d in query[14..22].iter_mut().rev() {
                *d = b'0' + (digits % 10) as u8;
                digits /= 10;
            }
        }
        let (answers, upstream_queries) = serve(&mut core, &query, client, now, &mut scratch);
        if answers != 1 || upstream_queries != if cached { 0 } else { 2 } {
            eprintln!(
                "bench_synth: query {i}: {answers} answers, {upstream_queries} upstream queries"
            );
            std::process::exit(1);
        }
    }
    let elapsed = start.elapsed();
    println!(
        "iterations {iterations} ns_per_iteration {:.1}",
        elapsed.as_nanos() as f64 / iterations.max(1) as f64
    );
}

/// One client query through the core; returns (answers with one AAAA record, upstream queries).
fn serve(
    core: &mut Dns64,
    query: &[u8],
    client: Client,
    now: Instant,
    scratch: &mut Vec<u8>,
) -> (usize, usize) {
    core.handle_query(query, client, now);
    let (mut answers, mut upstream) = (0, 0);
    while let Some(output) = core.poll_output() {
        match output {
            Output::ToUpstream {
                token,
                server,
                data,
                ..
            } => {
                upstream += 1;
                if upstream_answer(&data, scratch) {
                    core.handle_response(token, server, scratch, now);
                }
            }
            Output::ToClient { data, .. } => {
                // One answer record, and it is an AAAA: the last record, its type 26 bytes from the end.
                let ok = data.len() > 40
                    && data[6..8] == [0, 1]
                    && data[data.len() - 26..data.len() - 24] == [0, 28];
                answers += usize::from(ok);
                // As the daemon does once the answer is sent.
                core.recycle(data);
            }
            Output::Close { .. } => {}
        }
    }
    (answers, upstream)
}

/// The upstream's answer to `query` in `out`: no AAAA record (NODATA), one A record.
fn upstream_answer(query: &[u8], out: &mut Vec<u8>) -> bool {
    let mut end = 12;
    while let Some(&len) = query.get(end) {
        if len == 0 || len > 63 {
            break;
        }
        end += 1 + len as usize;
    }
    if query.get(end) != Some(&0) || end + 5 > query.len() {
        return false;
    }
    let qtype = u16::from_be_bytes([query[end + 1], query[end + 2]]);
    out.clear();
    out.extend_from_slice(&query[..end + 5]);
    out[2] = 0x81; // QR, RD
    out[3] = 0x80; // RA
    let a = qtype == wire::TYPE_A;
    out[4..12].copy_from_slice(&[0, 1, 0, a as u8, 0, 0, 0, 0]);
    if a {
        // The question's name (a pointer to it), A IN, TTL 3600, a global address.
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 203, 0, 114, 7]);
    }
    true
}
