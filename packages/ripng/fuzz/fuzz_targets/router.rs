//! The protocol core under arbitrary input: a stream of events (datagrams from any source,
//! port and hop limit on any interface, time passing, an interface going down or up) and
//! the core must never panic, never hold more learned routes than `max_routes`, and every
//! packet it sends must be a valid RIPng packet that fits the interface's MTU.
//!
//! Input: events of a 4-byte head [kind, interface/source, port/hops, length] and, for a
//! datagram, `length` bytes of it (at most what is left). The seeds are the BIRD and FRR
//! packets behind such a head, from a neighbour on eth1, and from two with time between.

#![no_main]

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ripng::config::{Config, SplitHorizon};
use ripng::router::{Arrival, Interface, KernelOp, Router};
use ripng::wire::{Packet, GROUP, HEADER_LEN, PORT};

const MAX_ROUTES: usize = 64;

fn iface(ifindex: u32, split_horizon: SplitHorizon, mtu: u32) -> Interface {
    Interface {
        ifindex,
        name: format!("eth{ifindex}"),
        mtu,
        up: true,
        link_local: vec![Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, ifindex as u16)],
        cost: ifindex as u8,
        split_horizon,
        passive: false,
        accept_default: ifindex == 2,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    config.max_routes = MAX_ROUTES;
    config.max_paths = 2;
    let mut now = Instant::now();
    let mut router = Router::new(&config, now, 7);
    let ifaces = [
        iface(1, SplitHorizon::Poison, 1280),
        iface(2, SplitHorizon::None, 1500),
        iface(3, SplitHorizon::Simple, 9000),
    ];
    for i in &ifaces {
        router.set_interface(i.clone(), now);
    }
    let mut buf = vec![0u8; 9000];
    let mut rest = data;
    while rest.len() >= 4 {
        let (head, tail) = rest.split_at(4);
        let ifindex = u32::from(head[1] % 4); // 0: not a RIPng interface
        match head[0] % 8 {
            0..=4 => {
                let len = (usize::from(head[3]) * 4 + HEADER_LEN).min(tail.len());
                let (datagram, tail) = tail.split_at(len);
                rest = tail;
                // Mostly well-formed sources, sometimes not.
                let src = match head[1] >> 6 {
                    0 => Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
                    1 => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(ifindex as u8)),
                    _ => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100 + u16::from(head[1] & 0x3)),
                };
                let (src_port, hop_limit) = match head[2] % 4 {
                    0 => (4000, 64),
                    1 => (PORT, 254),
                    _ => (PORT, 255),
                };
                let from = Arrival {
                    ifindex,
                    src,
                    src_port,
                    hop_limit,
                    to_group: head[2] & 4 == 0,
                };
                router.handle_packet(now, &from, datagram);
            }
            5 => {
                rest = tail;
                now += Duration::from_secs(u64::from(head[2]) * 2);
                router.handle_timeout(now);
            }
            6 => {
                rest = tail;
                if let Some(i) = ifaces.get(ifindex as usize) {
                    let mut changed = i.clone();
                    changed.up = head[2] & 1 == 0;
                    changed.mtu = 1280 + u32::from(head[3]) * 16;
                    router.set_interface(changed, now);
                }
            }
            _ => {
                rest = tail;
                router.remove_interface(ifindex, now);
            }
        }
        while let Some(op) = router.poll_kernel() {
            if let KernelOp::Install { nexthops, .. } = op {
                assert!(!nexthops.is_empty() && nexthops.len() <= 2);
            }
        }
        while let Some(t) = router.poll_transmit(&mut buf) {
            let mtu = router
                .interfaces()
                .iter()
                .find(|i| i.ifindex == t.ifindex)
                .map(|i| i.mtu)
                .expect("sent on a known interface");
            assert!(t.len + 48 <= mtu as usize, "{} bytes on MTU {mtu}", t.len);
            assert!(t.len >= HEADER_LEN);
            assert!(Packet::new_checked(&buf[..t.len]).is_ok());
            assert!(t.dst == GROUP || t.port != 0);
        }
        // Local routes are none here: every route is learned.
        assert!(router.route_count() <= MAX_ROUTES);
    }
});
