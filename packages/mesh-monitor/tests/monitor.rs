//! The monitor driven with hand-made snapshot sequences, as the lab's phases produce them:
//! a full mesh of three radios (A is us), C out of A's range (its path through B), recovery,
//! `mesh leave`, gates, the interface going and coming back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mesh_monitor::model::{Mac, MeshInterface, MeshPath, PlinkState, Snapshot, Station};
use mesh_monitor::monitor::{Kind, Monitor, Settings, Subject, What};
use v6only_common::json::{Json, Value};

const A: Mac = Mac([2, 0, 0, 0, 0, 0]);
const B: Mac = Mac([2, 0, 0, 0, 1, 0]);
const C: Mac = Mac([2, 0, 0, 0, 2, 0]);

fn iface(mesh_id: Option<&str>) -> MeshInterface {
    MeshInterface {
        ifindex: 5,
        name: "mesh0".into(),
        mac: A,
        wiphy: 0,
        mesh_id: mesh_id.map(String::from),
    }
}

fn sta(mac: Mac, state: PlinkState, metric: u32) -> Station {
    Station {
        plink_state: Some(state),
        llid: Some(1),
        plid: Some(2),
        airtime_metric: Some(metric),
        connected_to_gate: Some(false),
        connected_to_as: Some(false),
        signal_dbm: Some(-30),
        signal_avg_dbm: Some(-31),
        tx_retries: Some(0),
        tx_failed: Some(0),
        inactive_ms: Some(100),
        connected_s: Some(10),
        ..Station::new("mesh0", mac)
    }
}

fn path(dest: Mac, next_hop: Mac, metric: u32) -> MeshPath {
    MeshPath {
        iface: "mesh0".into(),
        dest,
        next_hop,
        sn: 1,
        metric,
        qlen: 0,
        exptime_ms: 4000,
        discovery_timeout_ms: 0,
        discovery_retries: 0,
        // ACTIVE | SN_VALID | RESOLVED
        flags: 0x15,
        hop_count: Some(if dest == next_hop { 1 } else { 2 }),
        path_change: Some(1),
    }
}

fn snap(stations: Vec<Station>, paths: Vec<MeshPath>) -> Snapshot {
    Snapshot {
        iface: iface(Some("lab")),
        stations,
        paths,
        proxies: Vec::new(),
    }
}

fn full_mesh() -> Snapshot {
    snap(
        vec![
            sta(B, PlinkState::Estab, 100),
            sta(C, PlinkState::Estab, 120),
        ],
        vec![path(B, B, 100), path(C, C, 120)],
    )
}

struct Lab {
    m: Monitor,
    now: Instant,
    seen: u64,
}

impl Lab {
    fn new(settings: Settings) -> Lab {
        let now = Instant::now();
        Lab {
            m: Monitor::new(settings, now),
            now,
            seen: 0,
        }
    }

    /// One poll, 10 s after the last; the events it brought.
    fn poll(&mut self, s: Snapshot) -> Vec<What> {
        self.now += Duration::from_secs(10);
        self.m.observe(self.now, s);
        self.take()
    }

    fn take(&mut self) -> Vec<What> {
        let out: Vec<What> = self
            .m
            .events_since(self.seen)
            .map(|e| e.what.clone())
            .collect();
        self.seen = self.m.next_seq();
        out
    }
}

#[test]
fn the_first_snapshot_is_the_baseline() {
    let mut lab = Lab::new(Settings::default());
    assert_eq!(
        lab.poll(full_mesh()),
        [What::Watching {
            mesh_id: Some("lab".into()),
            peers: 2,
            paths: 2
        }]
    );
    assert_eq!(lab.poll(full_mesh()), [], "nothing changed");
    assert_eq!(lab.m.snapshots().count(), 1);
}

#[test]
fn peer_lost_path_through_the_middle_node_and_recovery() {
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());

    // C out of A's range: the peer link goes to HOLDING, mac80211 flushes the paths through C.
    let holding = snap(
        vec![
            sta(B, PlinkState::Estab, 100),
            sta(C, PlinkState::Holding, 120),
        ],
        vec![path(B, B, 100)],
    );
    assert_eq!(
        lab.poll(holding),
        [
            What::PeerDown {
                peer: C,
                state: Some(PlinkState::Holding)
            },
            What::PathGone {
                dest: C,
                next_hop: C
            },
        ]
    );
    // The station goes; a path request finds C through B.
    let line = snap(
        vec![sta(B, PlinkState::Estab, 100)],
        vec![path(B, B, 100), path(C, B, 300)],
    );
    assert_eq!(
        lab.poll(line.clone()),
        [
            What::Plink {
                peer: C,
                from: Some(PlinkState::Holding),
                to: None
            },
            What::NextHop {
                dest: C,
                from: C,
                to: B,
                metric: 300
            },
            // 300 against the 120 it had directly: more than 50 % worse.
            What::MetricDegraded {
                subject: Subject::Path {
                    dest: C,
                    next_hop: B
                },
                metric: 300,
                baseline: 120
            },
        ]
    );
    assert_eq!(lab.poll(line), [], "steady");

    // Back in range: the peer link comes up, the path goes direct again.
    let events = lab.poll(full_mesh());
    assert_eq!(
        events,
        [
            What::PeerUp {
                peer: C,
                metric: Some(120),
                signal_dbm: Some(-30)
            },
            What::NextHop {
                dest: C,
                from: B,
                to: C,
                metric: 120
            },
            What::MetricRecovered {
                subject: Subject::Path {
                    dest: C,
                    next_hop: C
                },
                metric: 120,
                baseline: 120
            },
        ]
    );
    assert_eq!(lab.m.count(Kind::PeerDown), 1);
    assert_eq!(lab.m.count(Kind::PeerUp), 1);
    assert_eq!(lab.m.count(Kind::NextHop), 2);
}

#[test]
fn a_peer_gone_in_one_poll_and_its_path_found_again_through_another() {
    // Between two polls the station went and the path was flushed and found again via B:
    // a peer down and a next-hop change, not "path gone" and "path new".
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());
    let events = lab.poll(snap(
        vec![sta(B, PlinkState::Estab, 100)],
        vec![path(B, B, 100), path(C, B, 150)],
    ));
    assert_eq!(
        events,
        [
            What::PeerDown {
                peer: C,
                state: None
            },
            What::NextHop {
                dest: C,
                from: C,
                to: B,
                metric: 150
            },
        ],
        "150 is within 50 % of 120: not degraded"
    );
}

#[test]
fn a_path_gone_for_a_while_and_back_by_the_same_next_hop_is_new() {
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());
    let no_c = snap(full_mesh().stations, vec![path(B, B, 100)]);
    assert_eq!(
        lab.poll(no_c),
        [What::PathGone {
            dest: C,
            next_hop: C
        }]
    );
    assert_eq!(
        lab.poll(full_mesh()),
        [What::PathNew {
            dest: C,
            next_hop: C,
            metric: 120
        }]
    );
}

#[test]
fn leave_and_join() {
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());
    // `iw dev mesh0 mesh leave`: no mesh ID, no stations, paths flushed.
    let left = Snapshot {
        iface: iface(None),
        stations: Vec::new(),
        paths: Vec::new(),
        proxies: Vec::new(),
    };
    assert_eq!(
        lab.poll(left),
        [
            What::MeshLeft {
                mesh_id: "lab".into()
            },
            What::PeerDown {
                peer: B,
                state: None
            },
            What::PeerDown {
                peer: C,
                state: None
            },
            What::PathGone {
                dest: B,
                next_hop: B
            },
            What::PathGone {
                dest: C,
                next_hop: C
            },
        ]
    );
    let joined = lab.poll(full_mesh());
    assert_eq!(
        joined[0],
        What::MeshJoined {
            mesh_id: "lab".into()
        }
    );
    assert_eq!(
        joined
            .iter()
            .filter(|w| matches!(w, What::PeerUp { .. }))
            .count(),
        2
    );
    assert_eq!(
        joined
            .iter()
            .filter(|w| matches!(w, What::PathNew { .. }))
            .count(),
        2
    );
}

#[test]
fn plink_states_short_of_estab() {
    let mut lab = Lab::new(Settings::default());
    lab.poll(snap(Vec::new(), Vec::new()));
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Listen, 0)], Vec::new())),
        [What::Plink {
            peer: B,
            from: None,
            to: Some(PlinkState::Listen)
        }]
    );
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::OpnSnt, 0)], Vec::new())),
        [What::Plink {
            peer: B,
            from: Some(PlinkState::Listen),
            to: Some(PlinkState::OpnSnt)
        }]
    );
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Estab, 90)], Vec::new())),
        [What::PeerUp {
            peer: B,
            metric: Some(90),
            signal_dbm: Some(-30)
        }]
    );
}

#[test]
fn link_metric_degrades_and_recovers() {
    let mut lab = Lab::new(Settings {
        metric_percent: 100,
        ..Settings::default()
    });
    lab.poll(snap(vec![sta(B, PlinkState::Estab, 100)], Vec::new()));
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Estab, 200)], Vec::new())),
        [],
        "exactly 100 % worse is not past the threshold"
    );
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Estab, 201)], Vec::new())),
        [What::MetricDegraded {
            subject: Subject::Link { peer: B },
            metric: 201,
            baseline: 100
        }]
    );
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Estab, 400)], Vec::new())),
        [],
        "degraded once, not again"
    );
    // The baseline is the best seen: 80 now, so 170 is degraded...
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Estab, 80)], Vec::new())),
        [What::MetricRecovered {
            subject: Subject::Link { peer: B },
            metric: 80,
            baseline: 80
        }]
    );
    assert_eq!(
        lab.poll(snap(vec![sta(B, PlinkState::Estab, 170)], Vec::new())),
        [What::MetricDegraded {
            subject: Subject::Link { peer: B },
            metric: 170,
            baseline: 80
        }]
    );
}

#[test]
fn absolute_metric_limit_and_off() {
    let mut lab = Lab::new(Settings {
        metric_percent: 0,
        metric_max: Some(1000),
        ..Settings::default()
    });
    lab.poll(snap(Vec::new(), vec![path(C, B, 100)]));
    assert_eq!(
        lab.poll(snap(Vec::new(), vec![path(C, B, 900)])),
        [],
        "percent off"
    );
    assert_eq!(
        lab.poll(snap(Vec::new(), vec![path(C, B, 1001)])),
        [What::MetricDegraded {
            subject: Subject::Path {
                dest: C,
                next_hop: B
            },
            metric: 1001,
            baseline: 100
        }]
    );
    // An expired (inactive) path's metric is stale: not judged.
    let mut stale = path(C, B, 100);
    stale.flags = 0x14;
    assert_eq!(lab.poll(snap(Vec::new(), vec![stale])), []);
    assert_eq!(
        lab.poll(snap(Vec::new(), vec![path(C, B, 500)])),
        [What::MetricRecovered {
            subject: Subject::Path {
                dest: C,
                next_hop: B
            },
            metric: 500,
            baseline: 100
        }]
    );
}

#[test]
fn gate_lost_and_regained() {
    let gate = |b: bool, c: bool| {
        let mut s = full_mesh();
        s.stations[0].connected_to_gate = Some(b);
        s.stations[1].connected_to_gate = Some(c);
        s
    };
    let mut lab = Lab::new(Settings::default());
    lab.poll(gate(false, true));
    assert_eq!(lab.m.gate("mesh0"), Some(true));
    assert_eq!(
        lab.poll(gate(true, true)),
        [],
        "still connected, another way too"
    );
    assert_eq!(lab.poll(gate(false, false)), [What::GateLost]);
    assert_eq!(lab.m.gate("mesh0"), Some(false));
    assert_eq!(
        lab.poll(gate(true, false)),
        [What::GateReachable { via: B }]
    );
    // The gate's peer leaving ESTAB takes the gate with it.
    let mut s = gate(true, false);
    s.stations[0].plink_state = Some(PlinkState::Holding);
    assert_eq!(
        lab.poll(s),
        [
            What::PeerDown {
                peer: B,
                state: Some(PlinkState::Holding)
            },
            What::GateLost
        ]
    );
}

#[test]
fn a_kernel_without_the_gate_attribute_gives_no_gate_events() {
    let none = |mut s: Snapshot| {
        for st in &mut s.stations {
            st.connected_to_gate = None;
        }
        s
    };
    let mut lab = Lab::new(Settings::default());
    lab.poll(none(full_mesh()));
    assert_eq!(lab.m.gate("mesh0"), None);
    assert_eq!(lab.poll(none(snap(Vec::new(), Vec::new()))).len(), 4);
    assert_eq!(lab.m.count(Kind::GateLost), 0);
}

#[test]
fn interface_gone_and_back() {
    let mut lab = Lab::new(Settings::default());
    lab.now += Duration::from_secs(1);
    lab.m.sync(lab.now, vec![full_mesh()]);
    lab.take();
    lab.now += Duration::from_secs(10);
    lab.m.sync(lab.now, Vec::new());
    assert_eq!(lab.take(), [What::InterfaceGone]);
    assert_eq!(lab.m.snapshots().count(), 0);
    assert_eq!(lab.m.interfaces().collect::<Vec<_>>(), [("mesh0", false)]);
    lab.m.sync(lab.now, Vec::new());
    assert_eq!(lab.take(), [], "gone once");
    lab.now += Duration::from_secs(10);
    lab.m.sync(lab.now, vec![full_mesh()]);
    let back = lab.take();
    assert_eq!(back[0], What::InterfaceBack);
    assert_eq!(
        back[1],
        What::MeshJoined {
            mesh_id: "lab".into()
        }
    );
    assert_eq!(back.len(), 6, "{back:?}: back, joined, 2 peers up, 2 paths");
    // Recreated between two polls (another ifindex): gone and back.
    let mut s = full_mesh();
    s.iface.ifindex = 9;
    let again = lab.poll(s);
    assert_eq!(&again[..2], [What::InterfaceGone, What::InterfaceBack]);
}

#[test]
fn the_ring_keeps_the_newest_events() {
    let mut lab = Lab::new(Settings {
        ring: 3,
        ..Settings::default()
    });
    lab.poll(full_mesh());
    let left = Snapshot {
        iface: iface(None),
        stations: Vec::new(),
        paths: Vec::new(),
        proxies: Vec::new(),
    };
    lab.poll(left);
    let kept: Vec<u64> = lab.m.events().map(|e| e.seq).collect();
    assert_eq!(kept, [3, 4, 5], "6 events so far, the last 3 kept");
    assert_eq!(lab.m.next_seq(), 6);
    lab.m.set_settings(Settings {
        ring: 1,
        ..Settings::default()
    });
    assert_eq!(lab.m.events().map(|e| e.seq).collect::<Vec<_>>(), [5]);
}

struct Capture(Mutex<Vec<String>>);
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0.lock().unwrap().push(format!("{}", r.args()));
    }
    fn flush(&self) {}
}
static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn logging_is_rate_limited_per_kind() {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Info);
    let mut lab = Lab::new(Settings {
        log_period: 3600,
        log_burst: 2,
        ..Settings::default()
    });
    // Its own interface name: other tests log too, into the same logger.
    let named = |mut s: Snapshot| {
        s.iface.name = "flap0".into();
        s
    };
    lab.poll(named(full_mesh()));
    let flap = snap(
        vec![sta(B, PlinkState::Estab, 100)],
        vec![path(B, B, 100), path(C, C, 120)],
    );
    for _ in 0..5 {
        lab.poll(named(flap.clone()));
        lab.poll(named(full_mesh()));
    }
    assert_eq!(lab.m.count(Kind::PeerDown), 5);
    assert_eq!(lab.m.count(Kind::PeerUp), 5);
    assert_eq!(
        (
            lab.m.suppressed(Kind::PeerDown),
            lab.m.suppressed(Kind::PeerUp)
        ),
        (3, 3)
    );
    assert_eq!(lab.m.suppressed(Kind::Watching), 0);
    // Only logging is limited; the events are all recorded.
    assert_eq!(lab.m.events().count(), 11);
    let lines: Vec<String> = CAPTURE
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("flap0: "))
        .cloned()
        .collect();
    assert_eq!(
        lines,
        [
            "flap0: watching mesh 'lab': 2 peers in ESTAB, 2 paths",
            "flap0: peer 02:00:00:00:02:00 down (station gone)",
            "flap0: peer 02:00:00:00:02:00 up, airtime metric 120, signal -30 dBm",
            "flap0: peer 02:00:00:00:02:00 down (station gone)",
            "flap0: peer 02:00:00:00:02:00 up, airtime metric 120, signal -30 dBm",
        ]
    );
}

#[test]
fn status_events_json() {
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());
    lab.poll(snap(
        vec![sta(B, PlinkState::Estab, 100)],
        vec![path(B, B, 100), path(C, B, 300)],
    ));
    let mut j = Json::object();
    lab.m
        .status_events(&mut j, lab.now + Duration::from_secs(5), 1_000_000);
    let text = j.finish();
    let v = Value::parse(&text).expect(&text);
    let events = v.get("events").and_then(|e| e.as_array()).unwrap();
    assert_eq!(events.len(), 4);
    let first = &events[0];
    assert_eq!(first.get("event").and_then(Value::as_str), Some("watching"));
    assert_eq!(first.get("age_s").and_then(Value::as_u64), Some(15));
    assert_eq!(first.get("time").and_then(Value::as_u64), Some(999_985));
    let down = &events[1];
    assert_eq!(down.get("event").and_then(Value::as_str), Some("peer_down"));
    assert_eq!(
        down.get("peer").and_then(Value::as_str),
        Some("02:00:00:00:02:00")
    );
    assert!(text.contains(r#""plink_state":null"#), "{text}");
    let hop = &events[2];
    assert_eq!(hop.get("event").and_then(Value::as_str), Some("next_hop"));
    assert_eq!(
        hop.get("next_hop").and_then(Value::as_str),
        Some("02:00:00:00:01:00")
    );
    assert_eq!(
        hop.get("from").and_then(Value::as_str),
        Some("02:00:00:00:02:00")
    );
    assert_eq!(hop.get("metric").and_then(Value::as_u64), Some(300));
    assert_eq!(events[3].get("baseline").and_then(Value::as_u64), Some(120));
    let counts = v.get("event_counts").unwrap();
    assert_eq!(counts.get("peer_down").and_then(Value::as_u64), Some(1));
    assert_eq!(counts.get("gate_lost").and_then(Value::as_u64), Some(0));
}

#[test]
fn log_lines_say_what_happened() {
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());
    lab.poll(snap(
        vec![sta(B, PlinkState::Estab, 100)],
        vec![path(B, B, 100), path(C, B, 300)],
    ));
    let lines: Vec<String> = lab.m.events().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        [
            "mesh0: watching mesh 'lab': 2 peers in ESTAB, 2 paths",
            "mesh0: peer 02:00:00:00:02:00 down (station gone)",
            "mesh0: path to 02:00:00:00:02:00: next hop 02:00:00:00:02:00 -> 02:00:00:00:01:00, metric 300",
            "mesh0: path to 02:00:00:00:02:00 via 02:00:00:00:01:00 metric degraded to 300 (baseline 120)",
        ]
    );
}

#[test]
fn remembered_paths_are_bounded() {
    let mut lab = Lab::new(Settings {
        ring: 0,
        ..Settings::default()
    });
    let many = |n: u8| {
        snap(
            Vec::new(),
            (0..n)
                .map(|i| path(Mac([2, 1, 0, 0, 0, i]), B, 100))
                .collect(),
        )
    };
    lab.poll(many(200));
    lab.poll(snap(Vec::new(), Vec::new()));
    assert_eq!(lab.m.count(Kind::PathGone), 200);
    assert_eq!(lab.m.events().count(), 0, "ring 0 keeps none");
    // Back through another next hop: those still remembered are next-hop changes, the rest
    // (forgotten) new paths.
    let back = snap(
        Vec::new(),
        (0..200)
            .map(|i| path(Mac([2, 1, 0, 0, 0, i]), C, 100))
            .collect(),
    );
    lab.poll(back);
    assert_eq!(
        lab.m.count(Kind::NextHop),
        mesh_monitor::monitor::REMEMBERED_PATHS as u64
    );
    assert_eq!(
        lab.m.count(Kind::PathNew),
        200 - mesh_monitor::monitor::REMEMBERED_PATHS as u64
    );
}

#[test]
fn watching_without_a_mesh_id_claims_nothing_about_joining() {
    // Linux 6.1 reports no mesh ID for mesh points.
    let mut lab = Lab::new(Settings::default());
    let mut s = full_mesh();
    s.iface.mesh_id = None;
    lab.poll(s);
    assert_eq!(
        lab.m.events().next().unwrap().to_string(),
        "mesh0: watching: 2 peers in ESTAB, 2 paths"
    );
}

#[test]
fn a_path_being_discovered_is_no_path() {
    // As Linux 6.1 lists it while a path request is out: no next hop, metric 0, no flags.
    let resolving = |dest: Mac| MeshPath {
        next_hop: Mac::default(),
        metric: 0,
        sn: 0,
        flags: 0,
        hop_count: Some(0),
        path_change: Some(0),
        discovery_retries: 4,
        ..path(dest, B, 0)
    };
    let mut lab = Lab::new(Settings::default());
    lab.poll(full_mesh());
    assert_eq!(
        lab.poll(snap(
            full_mesh().stations,
            vec![path(B, B, 100), resolving(C)]
        )),
        [What::PathGone {
            dest: C,
            next_hop: C
        }],
        "not a next hop of 00:00:00:00:00:00"
    );
    assert_eq!(
        lab.poll(snap(
            full_mesh().stations,
            vec![path(B, B, 100), path(C, B, 150)]
        )),
        [What::NextHop {
            dest: C,
            from: C,
            to: B,
            metric: 150
        }],
        "resolved through B"
    );
}
