//! What the sans-IO server logs: lease events at info or (log_leases 0) debug, and never a
//! line per packet without a rate limit. Its own test binary: it installs a capturing logger.

use std::net::Ipv4Addr;
use std::sync::Mutex;

use option108_dhcpd::server::{Pool, Server, EVENT_LOG_BURST};
use option108_dhcpd::wire::{build_request, opt, MessageType, Packet};

const IFINDEX: u32 = 4;
const NOW: u64 = 1_800_000_000;
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

struct Capture(Mutex<Vec<(log::Level, String)>>);
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0
            .lock()
            .unwrap()
            .push((r.level(), r.args().to_string()));
    }
    fn flush(&self) {}
}
static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));
/// The tests share the logger: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn take_lines() -> Vec<(log::Level, String)> {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Debug);
    std::mem::take(&mut *CAPTURE.0.lock().unwrap())
}

fn server(v6only_wait: Option<u32>, count: u32) -> Server {
    Server::new(vec![Pool {
        name: "lan".into(),
        device: "br-lan".into(),
        ifindex: IFINDEX,
        server: SERVER,
        prefix_len: 24,
        first: Ipv4Addr::new(192, 168, 1, 100),
        count,
        lease_time: 3600,
        base_options: vec![(1, vec![255, 255, 255, 0])],
        extra_options: vec![],
        v6only_wait,
        rapid_commit: false,
        authoritative: true,
        hosts: vec![],
    }])
}

fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [2, 0, b[0], b[1], b[2], b[3]]
}

fn discover(n: u32, prl: &[u8]) -> Vec<u8> {
    build_request(MessageType::Discover, mac(n), n, |b| {
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, prl.len() as u8]);
        b.extend_from_slice(prl);
    })
}

fn request(n: u32, ip: Ipv4Addr) -> Vec<u8> {
    build_request(MessageType::Request, mac(n), n, |b| {
        b.extend_from_slice(&[opt::SERVER_ID, 4]);
        b.extend_from_slice(&SERVER.octets());
        b.extend_from_slice(&[opt::REQUESTED_IP, 4]);
        b.extend_from_slice(&ip.octets());
    })
}

fn dora(server: &mut Server, n: u32) {
    let offer = server.handle(&discover(n, &[1, 3]), IFINDEX, NOW);
    let yiaddr = Packet::new_checked(offer.reply.expect("offer").bytes)
        .unwrap()
        .yiaddr();
    let ack = server.handle(&request(n, yiaddr), IFINDEX, NOW);
    assert!(ack.change.is_some(), "acked");
}

fn acks(lines: &[(log::Level, String)]) -> Vec<log::Level> {
    lines
        .iter()
        .filter(|(_, l)| l.contains("DHCPACK"))
        .map(|(level, _)| *level)
        .collect()
}

#[test]
fn lease_events_at_info_by_default_and_at_debug_with_log_leases_0() {
    let _serial = SERIAL.lock().unwrap();
    take_lines();
    let mut s = server(None, 10);
    dora(&mut s, 1);
    assert_eq!(acks(&take_lines()), [log::Level::Info]);
    s.events.set_log_leases(false);
    dora(&mut s, 2);
    assert_eq!(acks(&take_lines()), [log::Level::Debug]);
    s.events.set_log_leases(true);
    dora(&mut s, 3);
    assert_eq!(acks(&take_lines()), [log::Level::Info]);
}

#[test]
fn a_flood_logs_a_bounded_number_of_lines() {
    let _serial = SERIAL.lock().unwrap();
    take_lines();
    // IPv6-only clients (an info line each), NAKs (info), malformed messages and offers
    // (debug): 5000 of each in the same second.
    let mut s = server(Some(1800), 20);
    for n in 0..5000 {
        s.handle(&discover(n, &[1, 3, 108]), IFINDEX, NOW);
        s.handle(&request(n, Ipv4Addr::new(10, 0, 0, 1)), IFINDEX, NOW);
        s.handle(&[1, 2, 3], IFINDEX, NOW);
    }
    let mut plain = server(None, 5000);
    for n in 0..5000 {
        plain.handle(&discover(n, &[1, 3]), IFINDEX, NOW);
    }
    let lines = take_lines();
    assert!(
        lines.len() <= 4 * EVENT_LOG_BURST as usize,
        "{} lines",
        lines.len()
    );
    assert!(s.counters.ipv6_only + s.counters.naks >= 5000);
    assert!(s.events.suppressed() > 10_000 - 2 * EVENT_LOG_BURST as u64);
    // The next period opens with one line that says how many were held back.
    s.handle(&[1, 2, 3], IFINDEX, NOW + 10);
    assert!(take_lines()
        .iter()
        .any(|(level, l)| *level == log::Level::Warn && l.contains("log line(s) suppressed")));
}
