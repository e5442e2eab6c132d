//! option108-dhcpd's hot loop as a micro-benchmark, for `bench/mips.sh`: lease handling
//! through the sans-IO core (`Server::handle`, as the daemon calls it for each datagram),
//! a DISCOVER answered with an OFFER and the REQUEST for that address with an ACK, for 64
//! clients in turn (each iteration: one client's two messages). The messages are built and
//! each client's lease made before the loop, so the loop is the server's work only.
//!
//!   cargo run --release -p option108-dhcpd --example bench_lease -- ITERATIONS
//!
//! Prints the iterations and the wall time per iteration; exits 1 if a DISCOVER is not
//! answered with an OFFER or a REQUEST with an ACK.

use std::net::Ipv4Addr;
use std::time::Instant;

use option108_dhcpd::server::{Pool, Server};
use option108_dhcpd::wire::{build_request, opt, MessageType};

const CLIENTS: usize = 64;

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    // As the daemon's default LAN pool would be: mask, router, DNS, option 108 on.
    let pool = Pool {
        name: "lan".into(),
        device: "br-lan".into(),
        ifindex: 1,
        server: server_ip,
        prefix_len: 24,
        first: Ipv4Addr::new(10, 0, 0, 100),
        count: 150,
        lease_time: 43200,
        base_options: vec![
            (1, vec![255, 255, 255, 0]),
            (3, server_ip.octets().to_vec()),
            (6, server_ip.octets().to_vec()),
        ],
        extra_options: vec![],
        v6only_wait: Some(1800),
        rapid_commit: false,
        authoritative: true,
        hosts: vec![],
    };
    let mut server = Server::new(vec![pool]);
    let now = 1_000_000;
    // Each client: its DISCOVER, then (from the OFFER) the REQUEST for the offered address.
    let mut messages = Vec::with_capacity(CLIENTS);
    for n in 0..CLIENTS {
        let mac = [2, 0, 0, 0, 1, n as u8];
        let discover = build_request(MessageType::Discover, mac, n as u32, |b| {
            b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 3, 1, 3, 6])
        });
        let offered = match server.handle(&discover, 1, now).reply {
            Some(r) if r.message_type == MessageType::Offer => {
                Ipv4Addr::new(r.bytes[16], r.bytes[17], r.bytes[18], r.bytes[19])
            }
            _ => fail("warm-up DISCOVER not offered"),
        };
        let request = build_request(MessageType::Request, mac, n as u32, |b| {
            b.extend_from_slice(&[opt::SERVER_ID, 4]);
            b.extend_from_slice(&server_ip.octets());
            b.extend_from_slice(&[opt::REQUESTED_IP, 4]);
            b.extend_from_slice(&offered.octets());
            b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 3, 1, 3, 6]);
        });
        match server.handle(&request, 1, now).reply {
            Some(r) if r.message_type == MessageType::Ack => {}
            _ => fail("warm-up REQUEST not acknowledged"),
        }
        messages.push((discover, request));
    }

    let start = Instant::now();
    for i in 0..iterations {
        let (discover, request) = &messages[i % CLIENTS];
        for (message, expected) in [(discover, MessageType::Offer), (request, MessageType::Ack)] {
            match server.handle(message, 1, now).reply {
                Some(r) if r.message_type == expected => {}
                _ => fail("not answered as expected"),
            }
        }
    }
    let elapsed = start.elapsed();
    println!(
        "iterations {iterations} ns_per_iteration {:.1}",
        elapsed.as_nanos() as f64 / iterations.max(1) as f64
    );
}

fn fail(what: &str) -> ! {
    eprintln!("bench_lease: {what}");
    std::process::exit(1);
}
