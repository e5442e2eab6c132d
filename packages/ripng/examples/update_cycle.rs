//! The core's share of an update cycle with many routes, for profiling (callgrind counts
//! instructions, whatever else the machine does):
//!
//!   cargo build --release -p ripng --example update_cycle
//!   valgrind --tool=callgrind target/release/examples/update_cycle 10000 6 [shuffled]
//!   target/release/examples/update_cycle 10000 30 shuffled cold=32768
//!
//! It prints the router's time per steady cycle; `cold=KB` writes over KB kilobytes between
//! packets (untimed), as the kernel's work between a daemon's packets pushes its table out of
//! the caches: what the daemon pays is closer to that than to the hot loop.
//!
//! A neighbour on eth0 sends ROUTES /64s in full packets every cycle (in prefix order, or
//! shuffled as BIRD's hash order is); the router refreshes them and sends its own full update
//! on both interfaces, as `bench/ripng.sh` makes it do.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use ripng::config::{Config, SplitHorizon};
use ripng::router::{Arrival, Interface, Router};
use ripng::wire::{self, Command, Rte, Writer};

fn iface(ifindex: u32, ll: u16) -> Interface {
    Interface {
        ifindex,
        name: format!("eth{ifindex}"),
        mtu: 1500,
        up: true,
        link_local: vec![Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, ll)],
        cost: 1,
        split_horizon: SplitHorizon::Poison,
        passive: false,
        accept_default: false,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let routes: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let cycles: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(6);
    let flags: Vec<String> = args.collect();
    let shuffled = flags.iter().any(|f| f == "shuffled");
    // A daemon's table is cold: between its packets the kernel runs (sockets, other work).
    // "cold" evicts the caches between packets, untimed, as that would.
    let cold_kb: usize = flags
        .iter()
        .find_map(|f| f.strip_prefix("cold=")?.parse().ok())
        .unwrap_or(0);
    let cold = cold_kb > 0;
    let mut evict = vec![0u8; cold_kb << 10];
    let (mut busy_in, mut busy) = (Duration::ZERO, Duration::ZERO);
    let mut order: Vec<u32> = (0..routes).collect();
    if shuffled {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }
    let config = Config {
        max_routes: routes as usize + 1,
        ..Config::default()
    };
    let mut now = Instant::now();
    let mut router = Router::new(&config, now, 1);
    router.set_interface(iface(1, 1), now);
    router.set_interface(iface(2, 2), now);
    // The neighbour's update, built once.
    let mut packets = Vec::new();
    let per_packet = wire::rtes_per_packet(1500) as u32;
    for first in (0..routes).step_by(per_packet as usize) {
        let mut buf = vec![0u8; 1500];
        let mut w = Writer::new(&mut buf, Command::Response).unwrap();
        for &i in &order[first as usize..(first + per_packet).min(routes) as usize] {
            w.push(&Rte {
                prefix: Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 0),
                tag: 0,
                prefix_len: 64,
                metric: 1,
            });
        }
        let n = w.finish();
        buf.truncate(n);
        packets.push(buf);
    }
    let from = Arrival {
        ifindex: 1,
        src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99),
        src_port: wire::PORT,
        hop_limit: 255,
        to_group: true,
    };
    let mut out = vec![0u8; 1500];
    let (mut sent, mut kernel) = (0u64, 0u64);
    for cycle in 0..=cycles {
        // Cycle 0 learns the routes: only the steady ones after it are timed.
        if cycle == 1 {
            (busy_in, busy) = (Duration::ZERO, Duration::ZERO);
        }
        for p in &packets {
            if cold {
                for b in evict.iter_mut().step_by(64) {
                    *b = b.wrapping_add(1);
                }
            }
            let t = Instant::now();
            router.handle_packet(now, &from, p);
            busy_in += t.elapsed();
        }
        while router.poll_kernel().is_some() {
            kernel += 1;
        }
        now += Duration::from_secs(30);
        router.handle_timeout(now);
        let mut t0 = Instant::now();
        while let Some(t) = router.poll_transmit(&mut out) {
            sent += t.len as u64;
            if cold {
                busy += t0.elapsed();
                for b in evict.iter_mut().step_by(64) {
                    *b = b.wrapping_add(1);
                }
                t0 = Instant::now();
            }
        }
        busy += t0.elapsed();
    }
    println!(
        "{} routes, {cycles} cycles: {kernel} kernel changes, {sent} bytes sent",
        router.route_count()
    );
    println!(
        "router time: {:.3} ms per cycle: {:.3} receiving, {:.3} sending{}",
        (busy_in + busy).as_secs_f64() * 1e3 / f64::from(cycles),
        busy_in.as_secs_f64() * 1e3 / f64::from(cycles),
        busy.as_secs_f64() * 1e3 / f64::from(cycles),
        if cold { " (cold caches)" } else { "" }
    );
}
