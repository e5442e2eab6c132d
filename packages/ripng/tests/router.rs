//! The protocol core driven by hand: packets and time in, packets, kernel changes and
//! deadlines out (RFC 2080 behaviour, section by section).

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use ripng::config::{Config, Direction, Filter, Source, SplitHorizon};
use ripng::prefix::Prefix;
use ripng::router::{Arrival, Interface, KernelOp, LocalRoute, Router, Transmit};
use ripng::wire::{self, Command, Packet, Rte, Writer};

const ETH0: u32 = 2;
const ETH1: u32 = 3;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn p(s: &str) -> Prefix {
    let (addr, len) = s.split_once('/').unwrap();
    Prefix::new(a(addr), len.parse().unwrap()).unwrap()
}

fn iface(ifindex: u32, name: &str, ll: &str) -> Interface {
    Interface {
        ifindex,
        name: name.into(),
        mtu: 1500,
        up: true,
        link_local: vec![a(ll)],
        cost: 1,
        split_horizon: SplitHorizon::Poison,
        passive: false,
        accept_default: false,
    }
}

struct Lab {
    r: Router,
    now: Instant,
}

impl Lab {
    fn new(config: Config) -> Lab {
        let now = Instant::now();
        let mut r = Router::new(&config, now, 42);
        r.set_interface(iface(ETH0, "eth0", "fe80::1"), now);
        r.set_interface(iface(ETH1, "eth1", "fe80::2"), now);
        let mut lab = Lab { r, now };
        lab.drain();
        lab
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let t = self.r.poll_timeout();
            if t > end {
                break;
            }
            self.now = t.max(self.now);
            self.r.handle_timeout(self.now);
        }
        self.now = end;
        self.r.handle_timeout(end);
    }

    /// Everything queued to send: (transmit, rtes).
    fn drain(&mut self) -> Vec<(Transmit, Command, Vec<Rte>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1500];
        while let Some(t) = self.r.poll_transmit(&mut buf) {
            let pkt = Packet::new_checked(&buf[..t.len]).unwrap();
            out.push((t, pkt.command(), pkt.rtes().collect()));
        }
        out
    }

    fn kernel(&mut self) -> Vec<KernelOp> {
        std::iter::from_fn(|| self.r.poll_kernel()).collect()
    }

    fn response(&mut self, ifindex: u32, src: &str, rtes: &[Rte]) {
        self.response_from(ifindex, src, wire::PORT, 255, rtes);
    }

    fn response_from(&mut self, ifindex: u32, src: &str, port: u16, hops: u8, rtes: &[Rte]) {
        let mut buf = [0u8; 1500];
        let mut w = Writer::new(&mut buf, Command::Response).unwrap();
        for r in rtes {
            assert!(w.push(r));
        }
        let n = w.finish();
        self.r
            .handle_packet(self.now, &multicast(ifindex, src, port, hops), &buf[..n]);
    }

    fn status(&self) -> String {
        let mut j = v6only_common::json::Json::object();
        self.r.status(&mut j, self.now);
        j.end();
        j.finish()
    }
}

/// Sent to the group, as periodic and triggered updates are.
fn multicast(ifindex: u32, src: &str, src_port: u16, hop_limit: u8) -> Arrival {
    Arrival {
        ifindex,
        src: a(src),
        src_port,
        hop_limit,
        to_group: true,
    }
}

/// Sent to us alone (answers, diagnostic queries).
fn unicast(ifindex: u32, src: &str, src_port: u16, hop_limit: u8) -> Arrival {
    Arrival {
        to_group: false,
        ..multicast(ifindex, src, src_port, hop_limit)
    }
}

fn rte(prefix: &str, metric: u8) -> Rte {
    let p = p(prefix);
    Rte {
        prefix: p.addr(),
        tag: 0,
        prefix_len: p.prefix_len(),
        metric,
    }
}

/// The metric `prefix` is advertised with in these packets, on `ifindex`.
fn advertised(sent: &[(Transmit, Command, Vec<Rte>)], ifindex: u32, prefix: &str) -> Option<u8> {
    let want = p(prefix);
    sent.iter()
        .filter(|(t, c, _)| t.ifindex == ifindex && *c == Command::Response)
        .flat_map(|(_, _, rtes)| rtes.iter())
        .filter(|r| !r.is_next_hop())
        .find(|r| Prefix::new(r.prefix, r.prefix_len) == Some(want))
        .map(|r| r.metric)
}

fn quick_timers() -> Config {
    let mut c = Config::default();
    c.timers.update = Duration::from_secs(30);
    c.timers.timeout = Duration::from_secs(180);
    c.timers.garbage = Duration::from_secs(120);
    c
}

#[test]
fn interfaces_coming_up_ask_for_tables() {
    let now = Instant::now();
    let mut r = Router::new(&Config::default(), now, 1);
    r.set_interface(iface(ETH0, "eth0", "fe80::1"), now);
    let mut buf = [0u8; 1500];
    let t = r.poll_transmit(&mut buf).unwrap();
    assert_eq!((t.ifindex, t.dst, t.port), (ETH0, wire::GROUP, wire::PORT));
    assert!(Packet::new_checked(&buf[..t.len])
        .unwrap()
        .is_whole_table_request());
    // No routes yet: the initial full update is empty and not sent.
    assert_eq!(r.poll_transmit(&mut buf), None);
}

#[test]
fn learns_installs_and_advertises_with_poisoned_reverse() {
    let mut lab = Lab::new(quick_timers());
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 1)]);
    assert_eq!(
        lab.kernel(),
        vec![KernelOp::Install {
            prefix: p("2001:db8:1::/48"),
            nexthops: vec![(a("fe80::99"), ETH0)],
            replace: false
        }]
    );
    lab.advance(Duration::ZERO);
    let sent = lab.drain();
    // Triggered: metric 1 + cost 1 on eth1, poisoned (16) back on eth0.
    assert_eq!(advertised(&sent, ETH1, "2001:db8:1::/48"), Some(2));
    assert_eq!(advertised(&sent, ETH0, "2001:db8:1::/48"), Some(16));
    let s = lab.status();
    assert!(
        s.contains(r#""prefix":"2001:db8:1::/48","metric":2"#),
        "{s}"
    );
    assert!(
        s.contains(r#""source":"rip","next_hop":"fe80::99","interface":"eth0""#),
        "{s}"
    );
    assert!(
        s.contains(r#""address":"fe80::99","interface":"eth0""#),
        "{s}"
    );
}

#[test]
fn simple_split_horizon_and_none() {
    let mut c = quick_timers();
    c.timers.triggered_min = Duration::ZERO;
    let mut lab = Lab::new(c);
    let mut e0 = iface(ETH0, "eth0", "fe80::1");
    e0.split_horizon = SplitHorizon::Simple;
    lab.r.set_interface(e0.clone(), lab.now);
    lab.drain();
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 1)]);
    lab.advance(Duration::ZERO);
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH0, "2001:db8:1::/48"), None);
    assert_eq!(advertised(&sent, ETH1, "2001:db8:1::/48"), Some(2));
    // Split horizon off: sent back, with us as the next hop (never the neighbour itself).
    e0.split_horizon = SplitHorizon::None;
    lab.r.set_interface(e0, lab.now);
    lab.advance(Duration::from_secs(40));
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH0, "2001:db8:1::/48"), Some(2));
    let back: Vec<&Rte> = sent
        .iter()
        .filter(|(t, _, _)| t.ifindex == ETH0)
        .flat_map(|(_, _, r)| r)
        .collect();
    assert!(back.iter().all(|r| !r.is_next_hop()), "{back:?}");
}

#[test]
fn refuses_bad_sources_and_packets() {
    let mut lab = Lab::new(quick_timers());
    let good = [rte("2001:db8:1::/48", 1)];
    lab.response_from(ETH0, "fe80::99", 5000, 255, &good);
    lab.response_from(ETH0, "2001:db8::99", 521, 255, &good);
    lab.response_from(ETH0, "fe80::99", 521, 254, &good);
    lab.response_from(ETH0, "fe80::1", 521, 255, &good); // our own
    lab.response_from(99, "fe80::99", 521, 255, &good); // not a RIPng interface
    let neighbour = multicast(ETH0, "fe80::99", 521, 255);
    lab.r
        .handle_packet(lab.now, &neighbour, &[2, 1, 0, 0, 0x20, 0x01]);
    lab.r.handle_packet(lab.now, &neighbour, &[2, 2, 0, 0]);
    lab.response(
        ETH0,
        "fe80::98",
        &[
            Rte {
                prefix_len: 129,
                ..rte("2001:db8:2::/48", 1)
            },
            rte("ff02::/16", 1),
            rte("fe80::/64", 1),
            rte("2001:db8:3::/48", 0),
            rte("2001:db8:4::/48", 17),
            rte("::/0", 1),
        ],
    );
    let c = &lab.r.counters;
    assert_eq!(
        (
            c.bad_source_port,
            c.bad_source_address,
            c.bad_hop_limit,
            c.own_packets,
            c.bad_interface,
            c.bad_packet
        ),
        (1, 1, 1, 1, 1, 2)
    );
    assert_eq!((c.bad_prefix, c.bad_metric, c.filtered), (3, 2, 1));
    assert_eq!(lab.r.route_count(), 0);
    assert!(lab.kernel().is_empty());
    assert!(lab.status().contains(r#""bad_routes":5"#));
}

#[test]
fn timeout_then_garbage_then_gone() {
    let mut lab = Lab::new(quick_timers());
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 3)]);
    lab.kernel();
    lab.advance(Duration::from_secs(179));
    assert!(lab.kernel().is_empty());
    lab.drain();
    lab.advance(Duration::from_secs(2));
    assert_eq!(
        lab.kernel(),
        vec![KernelOp::Remove {
            prefix: p("2001:db8:1::/48")
        }]
    );
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH1, "2001:db8:1::/48"), Some(16));
    assert!(lab.status().contains(r#""state":"garbage""#));
    // Timed out at 180 s: collected at 300 s.
    lab.advance(Duration::from_secs(118));
    assert_eq!(lab.r.route_count(), 1);
    lab.advance(Duration::from_secs(1));
    assert_eq!(lab.r.route_count(), 0);
}

#[test]
fn refresh_keeps_route_alive() {
    let mut lab = Lab::new(quick_timers());
    for _ in 0..10 {
        lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 3)]);
        lab.advance(Duration::from_secs(30));
    }
    assert!(lab.status().contains(r#""state":"valid""#));
}

#[test]
fn route_choice() {
    let mut lab = Lab::new(quick_timers());
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 5)]);
    // Worse from another router: ignored. Better: replaces.
    lab.response(ETH1, "fe80::88", &[rte("2001:db8:1::/48", 7)]);
    assert!(lab.status().contains(r#""metric":6"#));
    lab.response(ETH1, "fe80::88", &[rte("2001:db8:1::/48", 2)]);
    assert!(lab.status().contains(r#""metric":3,"tag":0"#));
    assert!(lab
        .status()
        .contains(r#""next_hop":"fe80::88","interface":"eth1""#));
    // The same router's worse word is taken.
    lab.response(ETH1, "fe80::88", &[rte("2001:db8:1::/48", 9)]);
    assert!(lab.status().contains(r#""metric":10"#));
    // And its withdrawal, which takes our route out of the kernel.
    lab.kernel();
    lab.response(ETH1, "fe80::88", &[rte("2001:db8:1::/48", 16)]);
    assert!(lab.status().contains(r#""metric":16"#));
    assert_eq!(
        lab.kernel(),
        vec![KernelOp::Remove {
            prefix: p("2001:db8:1::/48")
        }]
    );
    // During garbage collection anyone's reachable route brings it back.
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 5)]);
    assert!(lab
        .status()
        .contains(r#""metric":6,"tag":0,"age_s":0,"state":"valid""#));
    let ops = lab.kernel();
    assert_eq!(
        ops.last(),
        Some(&KernelOp::Install {
            prefix: p("2001:db8:1::/48"),
            nexthops: vec![(a("fe80::99"), ETH0)],
            replace: false
        })
    );
}

#[test]
fn next_hop_rtes_are_honoured() {
    let mut lab = Lab::new(quick_timers());
    lab.response(
        ETH0,
        "fe80::99",
        &[
            rte("2001:db8:1::/48", 1),
            Rte::next_hop(a("fe80::77")),
            rte("2001:db8:2::/48", 1),
            Rte::next_hop(a("2001:db8::5")), // not link-local: the sender
            rte("2001:db8:3::/48", 1),
            Rte::next_hop(a("fe80::1")), // ours: the sender
            rte("2001:db8:4::/48", 1),
        ],
    );
    let ops = lab.kernel();
    let hop = |prefix: &str| {
        ops.iter()
            .find_map(|o| match o {
                KernelOp::Install {
                    prefix: q,
                    nexthops,
                    ..
                } if *q == p(prefix) => Some(nexthops[0].0),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(hop("2001:db8:1::/48"), a("fe80::99"));
    assert_eq!(hop("2001:db8:2::/48"), a("fe80::77"));
    assert_eq!(hop("2001:db8:3::/48"), a("fe80::99"));
    assert_eq!(hop("2001:db8:4::/48"), a("fe80::99"));
}

#[test]
fn ecmp_paths() {
    let mut c = quick_timers();
    c.max_paths = 2;
    let mut lab = Lab::new(c);
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 2)]);
    lab.response(ETH1, "fe80::88", &[rte("2001:db8:1::/48", 2)]);
    lab.response(ETH1, "fe80::77", &[rte("2001:db8:1::/48", 2)]);
    let ops = lab.kernel();
    assert_eq!(
        ops.last(),
        Some(&KernelOp::Install {
            prefix: p("2001:db8:1::/48"),
            nexthops: vec![(a("fe80::99"), ETH0), (a("fe80::88"), ETH1)],
            replace: true
        })
    );
    // One path withdrawn: the other stays.
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 16)]);
    assert_eq!(
        lab.kernel().last(),
        Some(&KernelOp::Install {
            prefix: p("2001:db8:1::/48"),
            nexthops: vec![(a("fe80::88"), ETH1)],
            replace: true
        })
    );
    assert!(lab.status().contains(r#""metric":3"#));
}

#[test]
fn max_routes_bounds_a_flood() {
    let mut c = quick_timers();
    c.max_routes = 100;
    let mut lab = Lab::new(c);
    let rtes: Vec<Rte> = (0..70u16)
        .map(|i| Rte {
            prefix: Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0),
            ..rte("2001:db8::/48", 1)
        })
        .collect();
    lab.response(ETH0, "fe80::99", &rtes);
    let more: Vec<Rte> = (100..170u16)
        .map(|i| Rte {
            prefix: Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0),
            ..rte("2001:db8::/48", 1)
        })
        .collect();
    lab.response(ETH0, "fe80::99", &more);
    assert_eq!(lab.r.route_count(), 100);
    assert_eq!(lab.r.counters.route_limit, 40);
}

#[test]
fn whole_table_and_specific_requests() {
    let mut lab = Lab::new(quick_timers());
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 1)]);
    lab.r.set_local_routes(
        vec![LocalRoute {
            prefix: p("2001:db8:aa::/64"),
            source: Source::Connected,
            metric: 1,
            tag: 7,
            device: Some("lan".into()),
            gateway: None,
        }],
        lab.now,
    );
    lab.drain();
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf, Command::Request).unwrap();
    w.push(&Rte::WHOLE_TABLE);
    let n = w.finish();
    // From a router on eth0: split horizon applies.
    lab.r
        .handle_packet(lab.now, &multicast(ETH0, "fe80::99", 521, 255), &buf[..n]);
    let sent = lab.drain();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].0.dst, sent[0].0.port), (a("fe80::99"), 521));
    assert_eq!(advertised(&sent, ETH0, "2001:db8:1::/48"), Some(16));
    assert_eq!(advertised(&sent, ETH0, "2001:db8:aa::/64"), Some(1));
    assert_eq!(
        sent[0].2.iter().find(|r| r.prefix_len == 64).unwrap().tag,
        7
    );
    // A diagnostic query from another port, even from afar: the table as it is.
    lab.r
        .handle_packet(lab.now, &unicast(ETH0, "2001:db8::5", 4000, 60), &buf[..n]);
    let sent = lab.drain();
    assert_eq!((sent[0].0.dst, sent[0].0.port), (a("2001:db8::5"), 4000));
    assert_eq!(advertised(&sent, ETH0, "2001:db8:1::/48"), Some(2));
    // Specific entries: each with its metric, unknown ones 16.
    let mut w = Writer::new(&mut buf, Command::Request).unwrap();
    w.push(&rte("2001:db8:1::/48", 0));
    w.push(&rte("2001:db8:77::/48", 0));
    let n = w.finish();
    lab.r
        .handle_packet(lab.now, &unicast(ETH1, "2001:db8::5", 4000, 60), &buf[..n]);
    let sent = lab.drain();
    assert_eq!(
        sent[0].2,
        vec![rte("2001:db8:1::/48", 2), rte("2001:db8:77::/48", 16)]
    );
}

#[test]
fn local_routes_advertised_and_withdrawn() {
    let mut lab = Lab::new(quick_timers());
    let lan = LocalRoute {
        prefix: p("2001:db8:aa::/64"),
        source: Source::Connected,
        metric: 1,
        tag: 0,
        device: Some("lan".into()),
        gateway: None,
    };
    lab.r.set_local_routes(vec![lan.clone()], lab.now);
    lab.advance(Duration::ZERO);
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH0, "2001:db8:aa::/64"), Some(1));
    assert_eq!(advertised(&sent, ETH1, "2001:db8:aa::/64"), Some(1));
    // Our own route beats a learned one and is never put in the kernel by us.
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:aa::/64", 1)]);
    assert!(lab.kernel().is_empty());
    lab.r.set_local_routes(vec![], lab.now);
    lab.advance(Duration::from_secs(6));
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH1, "2001:db8:aa::/64"), Some(16));
}

#[test]
fn triggered_updates_are_rate_limited_and_periodic_jittered() {
    let mut lab = Lab::new(quick_timers());
    let start = lab.now;
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 1)]);
    lab.advance(Duration::ZERO);
    assert!(!lab.drain().is_empty());
    // A second change right after: held back at least triggered_min (1 s).
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:2::/48", 1)]);
    lab.advance(Duration::from_millis(900));
    assert!(lab.drain().is_empty());
    lab.advance(Duration::from_secs(5));
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH1, "2001:db8:2::/48"), Some(2));
    // Only what changed.
    assert_eq!(advertised(&sent, ETH1, "2001:db8:1::/48"), None);
    // Periodic: within 30 s ± 5 s of the start, then again.
    let mut full_at = Vec::new();
    for _ in 0..80 {
        lab.advance(Duration::from_secs(1));
        if advertised(&lab.drain(), ETH1, "2001:db8:1::/48").is_some() {
            full_at.push(lab.now.duration_since(start).as_secs());
        }
        lab.response(
            ETH0,
            "fe80::99",
            &[rte("2001:db8:1::/48", 1), rte("2001:db8:2::/48", 1)],
        );
    }
    assert!(full_at.len() >= 2, "{full_at:?}");
    assert!((25..=36).contains(&full_at[0]), "{full_at:?}");
    let gap = full_at[1] - full_at[0];
    assert!((24..=36).contains(&gap), "{full_at:?}");
}

#[test]
fn input_and_output_filters() {
    let mut c = quick_timers();
    c.filters = vec![
        Filter {
            direction: Direction::In,
            prefix: p("2001:db8:bad::/48"),
            min_length: 48,
            max_length: 128,
            interface: None,
            accept: false,
        },
        Filter {
            direction: Direction::Out,
            prefix: p("2001:db8:1::/48"),
            min_length: 48,
            max_length: 128,
            interface: Some(ripng::config::Link::Device("eth1".into())),
            accept: false,
        },
    ];
    let mut lab = Lab::new(c);
    lab.response(
        ETH0,
        "fe80::99",
        &[rte("2001:db8:bad::/48", 1), rte("2001:db8:1::/48", 1)],
    );
    assert_eq!(lab.r.route_count(), 1);
    assert_eq!(lab.r.counters.filtered, 1);
    lab.advance(Duration::from_secs(40));
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH1, "2001:db8:1::/48"), None);
    assert_eq!(advertised(&sent, ETH0, "2001:db8:1::/48"), Some(16));
}

#[test]
fn interface_down_withdraws_its_routes_and_shutdown_poisons_all() {
    let mut lab = Lab::new(quick_timers());
    lab.response(ETH0, "fe80::99", &[rte("2001:db8:1::/48", 1)]);
    lab.response(ETH1, "fe80::88", &[rte("2001:db8:2::/48", 1)]);
    lab.kernel();
    let mut down = iface(ETH0, "eth0", "fe80::1");
    down.up = false;
    lab.r.set_interface(down, lab.now);
    assert_eq!(
        lab.kernel(),
        vec![KernelOp::Remove {
            prefix: p("2001:db8:1::/48")
        }]
    );
    lab.advance(Duration::ZERO);
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH1, "2001:db8:1::/48"), Some(16));
    assert!(sent.iter().all(|(t, _, _)| t.ifindex != ETH0));
    lab.r.shutdown();
    let sent = lab.drain();
    assert_eq!(advertised(&sent, ETH1, "2001:db8:2::/48"), Some(16));
}

#[test]
fn updates_split_at_the_mtu() {
    let mut lab = Lab::new(quick_timers());
    let rtes: Vec<Rte> = (0..300u16)
        .map(|i| Rte {
            prefix: Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0),
            ..rte("2001:db8::/48", 1)
        })
        .collect();
    for chunk in rtes.chunks(70) {
        lab.response(ETH0, "fe80::99", chunk);
    }
    lab.advance(Duration::ZERO);
    let sent: Vec<_> = lab
        .drain()
        .into_iter()
        .filter(|(t, _, _)| t.ifindex == ETH1)
        .collect();
    let total: usize = sent
        .iter()
        .map(|(_, _, r)| r.iter().filter(|r| !r.is_next_hop()).count())
        .sum();
    assert_eq!(total, 300);
    assert!(sent.iter().all(|(t, _, _)| t.len <= 1500 - 48));
    assert_eq!(sent.len(), 5); // 72 + 72 + 72 + 72 + 12: we are the next hop, no next-hop RTEs
}

#[test]
fn static_routes_through_a_gateway_name_it_as_next_hop_on_its_link() {
    let mut lab = Lab::new(quick_timers());
    lab.r.set_local_routes(
        vec![LocalRoute {
            prefix: p("2001:db8:77::/48"),
            source: Source::Static,
            metric: 1,
            tag: 0,
            device: Some("eth0".into()),
            gateway: Some((a("fe80::77"), ETH0)),
        }],
        lab.now,
    );
    lab.advance(Duration::ZERO);
    let sent = lab.drain();
    let on = |ifindex| -> Vec<Rte> {
        sent.iter()
            .filter(|(t, _, _)| t.ifindex == ifindex)
            .flat_map(|(_, _, r)| r.iter().copied())
            .collect()
    };
    // On the gateway's link: go to the gateway directly (RFC 2080 2.1.1).
    assert_eq!(
        on(ETH0),
        vec![Rte::next_hop(a("fe80::77")), rte("2001:db8:77::/48", 1)]
    );
    // Elsewhere: through us.
    assert_eq!(on(ETH1), vec![rte("2001:db8:77::/48", 1)]);
}

#[test]
fn unicast_answers_need_no_hop_limit_255() {
    // FRR answers a Request unicast with its default hop limit (64): RFC 2080 2.4.2 asks
    // 255 only of what is sent to the group.
    let mut lab = Lab::new(quick_timers());
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf, Command::Response).unwrap();
    w.push(&rte("2001:db8:1::/48", 1));
    let n = w.finish();
    lab.r
        .handle_packet(lab.now, &multicast(ETH0, "fe80::99", 521, 64), &buf[..n]);
    assert_eq!((lab.r.route_count(), lab.r.counters.bad_hop_limit), (0, 1));
    lab.r
        .handle_packet(lab.now, &unicast(ETH0, "fe80::99", 521, 64), &buf[..n]);
    assert_eq!(lab.r.route_count(), 1);
    // Still only from port 521 and a link-local source.
    lab.r
        .handle_packet(lab.now, &unicast(ETH0, "2001:db8::99", 521, 255), &buf[..n]);
    lab.r
        .handle_packet(lab.now, &unicast(ETH0, "fe80::98", 522, 255), &buf[..n]);
    let c = &lab.r.counters;
    assert_eq!((c.bad_source_address, c.bad_source_port), (1, 1));
}

#[test]
fn a_new_gateway_of_a_static_route_is_sent_as_a_change() {
    let mut lab = Lab::new(quick_timers());
    let via = |gw: &str| LocalRoute {
        prefix: p("2001:db8:77::/48"),
        source: Source::Static,
        metric: 1,
        tag: 0,
        device: Some("eth0".into()),
        gateway: Some((a(gw), ETH0)),
    };
    lab.r.set_local_routes(vec![via("fe80::77")], lab.now);
    lab.advance(Duration::ZERO);
    lab.drain();
    // Another gateway on the same link: a triggered update names it.
    lab.r.set_local_routes(vec![via("fe80::78")], lab.now);
    lab.advance(Duration::from_secs(6));
    let on_eth0: Vec<Rte> = lab
        .drain()
        .into_iter()
        .filter(|(t, _, _)| t.ifindex == ETH0)
        .flat_map(|(_, _, r)| r)
        .collect();
    assert_eq!(
        on_eth0,
        vec![Rte::next_hop(a("fe80::78")), rte("2001:db8:77::/48", 1)]
    );
}
