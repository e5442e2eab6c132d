//! What one poll costs the daemon beyond the nl80211 dumps, with 32 peers and 32 paths: the
//! snapshot compared by the monitor (with a path moving and a metric changing every poll, so
//! events are made), the Prometheus text and the topology rendered, the status JSON.
//!
//!     cargo run --release -p mesh-monitor --example poll_cost [POLLS]
//!
//! Prints the CPU time per poll (user + system, from getrusage) and the peak RSS.

use std::time::{Duration, Instant};

use mesh_monitor::export;
use mesh_monitor::model::{Mac, MeshInterface, MeshPath, PlinkState, Snapshot, Station};
use mesh_monitor::monitor::{Monitor, Settings};
use v6only_common::json::Json;

fn mac(i: u8) -> Mac {
    Mac([2, 0, 0, 0, i, 0])
}

fn snapshot(round: u32) -> Snapshot {
    let stations = (1..=32)
        .map(|i| Station {
            iface: "mesh0".into(),
            mac: mac(i),
            plink_state: Some(PlinkState::Estab),
            llid: Some(u16::from(i)),
            plid: Some(u16::from(i) + 100),
            local_pm: None,
            peer_pm: None,
            nonpeer_pm: None,
            airtime_metric: Some(100 + (round % 7) * u32::from(i)),
            connected_to_gate: Some(i == 1),
            connected_to_as: Some(false),
            signal_dbm: Some(-40 - i as i8),
            signal_avg_dbm: Some(-41 - i as i8),
            tx_bitrate: None,
            rx_bitrate: None,
            tx_retries: Some(round),
            tx_failed: Some(0),
            inactive_ms: Some(100),
            connected_s: Some(round),
            rx_bytes: Some(1000),
            tx_bytes: Some(1000),
            rx_packets: Some(10),
            tx_packets: Some(10),
        })
        .collect();
    let paths = (1..=32)
        .map(|i| {
            // One destination alternates between direct and through peer 1.
            let via = if i == 32 && round % 2 == 1 {
                mac(1)
            } else {
                mac(i)
            };
            MeshPath {
                iface: "mesh0".into(),
                dest: mac(i),
                next_hop: via,
                sn: round,
                metric: if via == mac(i) { 200 } else { 600 },
                qlen: 0,
                exptime_ms: 4000,
                discovery_timeout_ms: 100,
                discovery_retries: 0,
                flags: 0x15,
                hop_count: Some(1),
                path_change: Some(round),
            }
        })
        .collect();
    Snapshot {
        iface: MeshInterface {
            ifindex: 5,
            name: "mesh0".into(),
            mac: Mac([2, 0, 0, 0, 0, 0]),
            wiphy: 0,
            mesh_id: Some("lab".into()),
        },
        stations,
        paths,
        proxies: Vec::new(),
    }
}

fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    t(u.ru_utime) + t(u.ru_stime)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let polls: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let start = Instant::now();
    let mut m = Monitor::new(Settings::default(), start);
    let mut bytes = 0usize;
    let before = cpu();
    for round in 0..polls {
        let snap = snapshot(round);
        m.observe(start + Duration::from_secs(u64::from(round) * 10), snap);
        bytes += export::prometheus(&m).len();
        bytes += export::topology_json(&m).len();
        let mut j = Json::object();
        export::status_lists(&mut j, &m);
        m.status_events(&mut j, Instant::now(), 0);
        bytes += j.finish().len();
    }
    let spent = cpu() - before;
    println!(
        "{polls} polls of 32 peers and 32 paths: {:.1} us CPU per poll (snapshot built, compared, \
         Prometheus, topology and status rendered); {} events; {} bytes rendered; peak RSS {} kB",
        spent.as_secs_f64() * 1e6 / f64::from(polls),
        m.next_seq(),
        bytes,
        peak_rss_kb()
    );
}
