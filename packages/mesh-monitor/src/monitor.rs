//! What changed in the mesh, sans IO: the driver reads a [`Snapshot`] of each mesh interface
//! (nl80211 dumps) and hands it to [`Monitor::observe`] with the time; the monitor compares it
//! with the interface's previous one and records [`Event`]s in a bounded ring (the status's
//! "recent events"), logging each through a per-kind rate limit. No sockets, no clock.
//!
//! What counts as a change:
//! - **Peers**: a station that appears in ESTAB, or reaches ESTAB, is a peer up; one that
//!   leaves ESTAB (to HOLDING, LISTEN... or gone from the dump) a peer down. Other peer link
//!   state changes (LISTEN → OPN_SNT, a candidate appearing or going) are plink events.
//! - **Paths**: a path to a new destination, a path gone (mac80211 flushes the paths through a
//!   lost peer, and drops expired ones after ten minutes), a next hop that changed. A path
//!   being discovered (no next hop yet: all zeros) counts as no path. The last
//!   next hop of a path that went is remembered (at most [`REMEMBERED_PATHS`] per interface),
//!   so a path flushed with its peer and found again through another node in the next poll is
//!   a next-hop change, not "gone" then "new".
//! - **Metrics**: a path's metric (while the path is active: an expired path's metric is
//!   stale) and a peer's airtime link metric are compared with their baseline, the lowest
//!   value seen since the path or peer was first seen (a path keeps it across next-hop
//!   changes: going through a middle node shows as the degradation it is). Degraded when the
//!   metric exceeds the baseline by more than [`Settings::metric_percent`] percent, or exceeds
//!   [`Settings::metric_max`]; recovered when it is back within both.
//! - **Gate**: nl80211 says per peer whether it is connected to a mesh gate
//!   (NL80211_STA_INFO_CONNECTED_TO_GATE, kernel 5.5 and later): the "connected to mesh gate"
//!   bit of the peer's Mesh Formation Info, which mac80211 sets when the peer knows a gate
//!   (from gate announcements or root announcements with the gate flag) or is one. The mesh
//!   paths carry no gate flag over nl80211, and the kernel's list of known gates is not
//!   exported, so an interface "has a path to a gate" when at least one ESTAB peer says it is
//!   connected to one. Kernels that do not report the attribute give no gate events.
//! - **Interfaces**: an interface watched before and not in the driver's list any more is
//!   gone ([`Monitor::interface_gone`]); seen again, it is back (a new ifindex, the same name,
//!   is gone and back). A mesh ID appearing or going is a join or a leave (`iw ... mesh
//!   leave`), where the kernel reports the mesh ID (Linux 6.1 does not: there a leave shows
//!   as its peers down and paths gone).
//!
//! The first snapshot of an interface is the baseline: one "watching" event, no per-peer
//! events.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use v6only_common::json::Json;
use v6only_common::ratelimit::RateLimit;

use crate::model::{Mac, MeshPath, PlinkState, Snapshot, Station};

/// Paths gone from the dump whose last next hop and baseline are remembered, per interface.
pub const REMEMBERED_PATHS: usize = 64;

/// What the monitor compares with; the config's main section says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// A metric more than this many percent above its baseline is degraded (0: off).
    pub metric_percent: u32,
    /// A metric above this is degraded, whatever its baseline (None: off).
    pub metric_max: Option<u32>,
    /// Events kept for the status.
    pub ring: usize,
    /// Log lines per event kind: at most `log_burst` per `log_period` seconds.
    pub log_period: u64,
    pub log_burst: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            metric_percent: 50,
            metric_max: None,
            ring: 64,
            log_period: 60,
            log_burst: 10,
        }
    }
}

/// The kinds of event, each with its own log rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Watching,
    InterfaceGone,
    InterfaceBack,
    MeshJoined,
    MeshLeft,
    PeerUp,
    PeerDown,
    Plink,
    PathNew,
    PathGone,
    NextHop,
    MetricDegraded,
    MetricRecovered,
    GateLost,
    GateReachable,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Watching,
        Kind::InterfaceGone,
        Kind::InterfaceBack,
        Kind::MeshJoined,
        Kind::MeshLeft,
        Kind::PeerUp,
        Kind::PeerDown,
        Kind::Plink,
        Kind::PathNew,
        Kind::PathGone,
        Kind::NextHop,
        Kind::MetricDegraded,
        Kind::MetricRecovered,
        Kind::GateLost,
        Kind::GateReachable,
    ];

    /// The name in the status JSON (`"event"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Watching => "watching",
            Kind::InterfaceGone => "interface_gone",
            Kind::InterfaceBack => "interface_back",
            Kind::MeshJoined => "mesh_joined",
            Kind::MeshLeft => "mesh_left",
            Kind::PeerUp => "peer_up",
            Kind::PeerDown => "peer_down",
            Kind::Plink => "plink",
            Kind::PathNew => "path_new",
            Kind::PathGone => "path_gone",
            Kind::NextHop => "next_hop",
            Kind::MetricDegraded => "metric_degraded",
            Kind::MetricRecovered => "metric_recovered",
            Kind::GateLost => "gate_lost",
            Kind::GateReachable => "gate_reachable",
        }
    }

    fn index(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// Losses are warnings; the rest information.
    pub fn level(self) -> log::Level {
        match self {
            Kind::InterfaceGone
            | Kind::MeshLeft
            | Kind::PeerDown
            | Kind::MetricDegraded
            | Kind::GateLost => log::Level::Warn,
            _ => log::Level::Info,
        }
    }
}

/// Whose metric degraded or recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The mesh path to `dest`, now through `next_hop`.
    Path { dest: Mac, next_hop: Mac },
    /// The peer link to `peer` (its airtime link metric).
    Link { peer: Mac },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// The first snapshot of an interface.
    Watching {
        mesh_id: Option<String>,
        peers: usize,
        paths: usize,
    },
    InterfaceGone,
    InterfaceBack,
    MeshJoined {
        mesh_id: String,
    },
    MeshLeft {
        mesh_id: String,
    },
    PeerUp {
        peer: Mac,
        metric: Option<u32>,
        signal_dbm: Option<i8>,
    },
    /// `state`: where it went (None: gone from the station dump).
    PeerDown {
        peer: Mac,
        state: Option<PlinkState>,
    },
    /// A change not into or out of ESTAB; None: not in the dump.
    Plink {
        peer: Mac,
        from: Option<PlinkState>,
        to: Option<PlinkState>,
    },
    PathNew {
        dest: Mac,
        next_hop: Mac,
        metric: u32,
    },
    PathGone {
        dest: Mac,
        next_hop: Mac,
    },
    NextHop {
        dest: Mac,
        from: Mac,
        to: Mac,
        metric: u32,
    },
    MetricDegraded {
        subject: Subject,
        metric: u32,
        baseline: u32,
    },
    MetricRecovered {
        subject: Subject,
        metric: u32,
        baseline: u32,
    },
    GateLost,
    /// A peer says it is connected to a gate (the first such peer).
    GateReachable {
        via: Mac,
    },
}

impl What {
    pub fn kind(&self) -> Kind {
        match self {
            What::Watching { .. } => Kind::Watching,
            What::InterfaceGone => Kind::InterfaceGone,
            What::InterfaceBack => Kind::InterfaceBack,
            What::MeshJoined { .. } => Kind::MeshJoined,
            What::MeshLeft { .. } => Kind::MeshLeft,
            What::PeerUp { .. } => Kind::PeerUp,
            What::PeerDown { .. } => Kind::PeerDown,
            What::Plink { .. } => Kind::Plink,
            What::PathNew { .. } => Kind::PathNew,
            What::PathGone { .. } => Kind::PathGone,
            What::NextHop { .. } => Kind::NextHop,
            What::MetricDegraded { .. } => Kind::MetricDegraded,
            What::MetricRecovered { .. } => Kind::MetricRecovered,
            What::GateLost => Kind::GateLost,
            What::GateReachable { .. } => Kind::GateReachable,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Counts every event since start (also those the ring no longer holds).
    pub seq: u64,
    pub at: Instant,
    pub iface: String,
    pub what: What,
}

fn state_name(s: Option<PlinkState>) -> &'static str {
    s.map_or("(gone)", PlinkState::name)
}

/// The log line (after the program's ident).
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.iface)?;
        match &self.what {
            What::Watching {
                mesh_id,
                peers,
                paths,
            } => {
                // Linux 6.1 reports no mesh ID for a mesh point: None says nothing about
                // whether it has joined.
                write!(f, "watching")?;
                if let Some(id) = mesh_id {
                    write!(f, " mesh '{id}'")?;
                }
                write!(f, ": {peers} peers in ESTAB, {paths} paths")
            }
            What::InterfaceGone => write!(f, "interface gone"),
            What::InterfaceBack => write!(f, "interface back"),
            What::MeshJoined { mesh_id } => write!(f, "joined mesh '{mesh_id}'"),
            What::MeshLeft { mesh_id } => write!(f, "left mesh '{mesh_id}'"),
            What::PeerUp {
                peer,
                metric,
                signal_dbm,
            } => {
                write!(f, "peer {peer} up")?;
                if let Some(m) = metric {
                    write!(f, ", airtime metric {m}")?;
                }
                if let Some(s) = signal_dbm {
                    write!(f, ", signal {s} dBm")?;
                }
                Ok(())
            }
            What::PeerDown { peer, state } => match state {
                Some(s) => write!(f, "peer {peer} down (plink {})", s.name()),
                None => write!(f, "peer {peer} down (station gone)"),
            },
            What::Plink { peer, from, to } => write!(
                f,
                "peer {peer} plink {} -> {}",
                state_name(*from),
                state_name(*to)
            ),
            What::PathNew {
                dest,
                next_hop,
                metric,
            } => write!(f, "path to {dest} via {next_hop}, metric {metric}"),
            What::PathGone { dest, next_hop } => {
                write!(f, "path to {dest} via {next_hop} gone")
            }
            What::NextHop {
                dest,
                from,
                to,
                metric,
            } => write!(
                f,
                "path to {dest}: next hop {from} -> {to}, metric {metric}"
            ),
            What::MetricDegraded {
                subject,
                metric,
                baseline,
            } => {
                write_subject(f, subject)?;
                write!(f, " metric degraded to {metric} (baseline {baseline})")
            }
            What::MetricRecovered {
                subject,
                metric,
                baseline,
            } => {
                write_subject(f, subject)?;
                write!(f, " metric recovered to {metric} (baseline {baseline})")
            }
            What::GateLost => write!(f, "no peer connected to a mesh gate any more"),
            What::GateReachable { via } => write!(f, "mesh gate reachable via peer {via}"),
        }
    }
}

fn write_subject(f: &mut fmt::Formatter<'_>, s: &Subject) -> fmt::Result {
    match s {
        Subject::Path { dest, next_hop } => write!(f, "path to {dest} via {next_hop}"),
        Subject::Link { peer } => write!(f, "link to peer {peer}"),
    }
}

impl Event {
    /// One object of the status's `events`: `time` (Unix seconds, from `wall_now`, the Unix
    /// time at `now`), `age_s`, `iface`, `event` (the kind's name) and the event's fields, MACs
    /// and plink states as iw prints them.
    pub fn json(&self, j: &mut Json, now: Instant, wall_now: u64) {
        let age = now.saturating_duration_since(self.at).as_secs();
        j.item_object()
            .field_u64("seq", self.seq)
            .field_u64("time", wall_now.saturating_sub(age))
            .field_u64("age_s", age)
            .field_str("iface", &self.iface)
            .field_str("event", self.what.kind().name());
        let mac = |j: &mut Json, name: &str, m: &Mac| {
            j.field_str(name, &m.to_string());
        };
        let state = |j: &mut Json, name: &str, s: &Option<PlinkState>| {
            match s {
                Some(s) => j.field_str(name, s.name()),
                None => j.field_null(name),
            };
        };
        match &self.what {
            What::Watching {
                mesh_id,
                peers,
                paths,
            } => {
                match mesh_id {
                    Some(id) => j.field_str("mesh_id", id),
                    None => j.field_null("mesh_id"),
                };
                j.field_u64("peers", *peers as u64)
                    .field_u64("paths", *paths as u64);
            }
            What::InterfaceGone | What::InterfaceBack | What::GateLost => {}
            What::MeshJoined { mesh_id } | What::MeshLeft { mesh_id } => {
                j.field_str("mesh_id", mesh_id);
            }
            What::PeerUp {
                peer,
                metric,
                signal_dbm,
            } => {
                mac(j, "peer", peer);
                match metric {
                    Some(m) => j.field_u64("airtime_metric", u64::from(*m)),
                    None => j.field_null("airtime_metric"),
                };
                match signal_dbm {
                    Some(s) => j.field_i64("signal_dbm", i64::from(*s)),
                    None => j.field_null("signal_dbm"),
                };
            }
            What::PeerDown { peer, state: s } => {
                mac(j, "peer", peer);
                state(j, "plink_state", s);
            }
            What::Plink { peer, from, to } => {
                mac(j, "peer", peer);
                state(j, "from", from);
                state(j, "to", to);
            }
            What::PathNew {
                dest,
                next_hop,
                metric,
            } => {
                mac(j, "dest", dest);
                mac(j, "next_hop", next_hop);
                j.field_u64("metric", u64::from(*metric));
            }
            What::PathGone { dest, next_hop } => {
                mac(j, "dest", dest);
                mac(j, "next_hop", next_hop);
            }
            What::NextHop {
                dest,
                from,
                to,
                metric,
            } => {
                mac(j, "dest", dest);
                mac(j, "from", from);
                mac(j, "next_hop", to);
                j.field_u64("metric", u64::from(*metric));
            }
            What::MetricDegraded {
                subject,
                metric,
                baseline,
            }
            | What::MetricRecovered {
                subject,
                metric,
                baseline,
            } => {
                match subject {
                    Subject::Path { dest, next_hop } => {
                        mac(j, "dest", dest);
                        mac(j, "next_hop", next_hop);
                    }
                    Subject::Link { peer } => mac(j, "peer", peer),
                }
                j.field_u64("metric", u64::from(*metric))
                    .field_u64("baseline", u64::from(*baseline));
            }
            What::GateReachable { via } => mac(j, "via", via),
        }
        j.end();
    }
}

/// A metric compared with its baseline.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    baseline: u32,
    degraded: bool,
}

impl Tracked {
    fn new(metric: u32) -> Tracked {
        Tracked {
            baseline: metric,
            degraded: false,
        }
    }
}

/// A destination's path as last seen (also after it left the dump).
#[derive(Debug, Clone)]
struct PathMemory {
    dest: Mac,
    next_hop: Mac,
    present: bool,
    /// Only for paths seen active.
    metric: Option<Tracked>,
    /// When it left the dump, for forgetting the oldest first.
    gone_seq: u64,
}

#[derive(Debug, Clone)]
struct LinkMemory {
    peer: Mac,
    metric: Tracked,
}

#[derive(Debug, Clone)]
struct IfaceState {
    name: String,
    /// The last snapshot; None while the interface is gone.
    snapshot: Option<Snapshot>,
    paths: Vec<PathMemory>,
    links: Vec<LinkMemory>,
    /// Some once the kernel reported connected_to_gate for a station here: whether an
    /// ESTAB peer is connected to a gate.
    gate: Option<bool>,
}

/// The monitor: the last snapshot of each interface, what is remembered of paths and links,
/// the recent events.
#[derive(Debug)]
pub struct Monitor {
    settings: Settings,
    ifaces: Vec<IfaceState>,
    ring: VecDeque<Event>,
    next_seq: u64,
    /// Per [`Kind::ALL`], events of that kind since start, and their log limit.
    counts: [u64; Kind::ALL.len()],
    limits: Vec<RateLimit>,
    started: Instant,
}

fn estab(s: &Station) -> bool {
    s.plink_state == Some(PlinkState::Estab)
}

impl Monitor {
    pub fn new(settings: Settings, now: Instant) -> Monitor {
        Monitor {
            settings,
            ifaces: Vec::new(),
            ring: VecDeque::with_capacity(settings.ring.min(4096)),
            next_seq: 0,
            counts: [0; Kind::ALL.len()],
            limits: Kind::ALL
                .iter()
                .map(|_| RateLimit::new(settings.log_period, settings.log_burst))
                .collect(),
            started: now,
        }
    }

    /// New settings (a reload): what was seen and the events are kept; the ring shrinks to the
    /// newest events if it must.
    pub fn set_settings(&mut self, settings: Settings) {
        if (settings.log_period, settings.log_burst)
            != (self.settings.log_period, self.settings.log_burst)
        {
            self.limits = Kind::ALL
                .iter()
                .map(|_| RateLimit::new(settings.log_period, settings.log_burst))
                .collect();
        }
        self.settings = settings;
        while self.ring.len() > settings.ring {
            self.ring.pop_front();
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every interface's snapshot, in the order first seen (gone ones left out).
    pub fn snapshots(&self) -> impl Iterator<Item = &Snapshot> {
        self.ifaces.iter().filter_map(|i| i.snapshot.as_ref())
    }

    /// The interfaces ever observed and whether they are there now.
    pub fn interfaces(&self) -> impl Iterator<Item = (&str, bool)> {
        self.ifaces
            .iter()
            .map(|i| (i.name.as_str(), i.snapshot.is_some()))
    }

    /// Whether an ESTAB peer of `iface` is connected to a mesh gate (None: the kernel does
    /// not say, or the interface is unknown).
    pub fn gate(&self, iface: &str) -> Option<bool> {
        self.ifaces
            .iter()
            .find(|i| i.name == iface)
            .and_then(|i| i.gate)
    }

    /// The recent events, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.ring.iter()
    }

    /// The events in the ring from `seq` on (what happened since the caller last looked).
    pub fn events_since(&self, seq: u64) -> impl Iterator<Item = &Event> {
        self.ring.iter().filter(move |e| e.seq >= seq)
    }

    /// The `seq` the next event will have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Events of this kind since start.
    pub fn count(&self, kind: Kind) -> u64 {
        self.counts[kind.index()]
    }

    /// Log lines of this kind held back by the rate limit since start.
    pub fn suppressed(&self, kind: Kind) -> u64 {
        self.limits[kind.index()].suppressed
    }

    /// Every snapshot of one poll: each observed, and the interfaces watched before that are
    /// not among them gone.
    pub fn sync(&mut self, now: Instant, snapshots: Vec<Snapshot>) {
        let present: Vec<String> = snapshots.iter().map(|s| s.iface.name.clone()).collect();
        for s in snapshots {
            self.observe(now, s);
        }
        let gone: Vec<String> = self
            .ifaces
            .iter()
            .filter(|i| i.snapshot.is_some() && !present.contains(&i.name))
            .map(|i| i.name.clone())
            .collect();
        for name in gone {
            self.interface_gone(now, &name);
        }
    }

    /// The interface is not there any more (or no longer a mesh point).
    pub fn interface_gone(&mut self, now: Instant, name: &str) {
        let Some(i) = self.ifaces.iter_mut().find(|i| i.name == name) else {
            return;
        };
        if i.snapshot.take().is_none() {
            return;
        }
        // Its stations and paths went with it; what comes back is new.
        i.paths.clear();
        i.links.clear();
        i.gate = None;
        self.push(now, name, What::InterfaceGone);
    }

    /// One interface's snapshot: compared with the previous one, events recorded.
    pub fn observe(&mut self, now: Instant, snap: Snapshot) {
        let name = snap.iface.name.clone();
        let idx = match self.ifaces.iter().position(|i| i.name == name) {
            Some(idx) => idx,
            None => {
                self.first(now, snap);
                return;
            }
        };
        let mut events = Vec::new();
        let mut state = std::mem::replace(
            &mut self.ifaces[idx],
            IfaceState {
                name: String::new(),
                snapshot: None,
                paths: Vec::new(),
                links: Vec::new(),
                gate: None,
            },
        );
        let prev = match state.snapshot.take() {
            Some(p) if p.iface.ifindex == snap.iface.ifindex => Some(p),
            Some(_) => {
                // The same name, a new ifindex: recreated between two polls.
                events.push(What::InterfaceGone);
                state.paths.clear();
                state.links.clear();
                state.gate = None;
                None
            }
            None => None,
        };
        let (prev_id, prev_stations, prev_paths): (_, &[Station], &[MeshPath]) = match &prev {
            Some(p) => (p.iface.mesh_id.clone(), &p.stations, &p.paths),
            None => {
                events.push(What::InterfaceBack);
                (None, &[], &[])
            }
        };
        if prev_id != snap.iface.mesh_id {
            if let Some(id) = prev_id.clone() {
                events.push(What::MeshLeft { mesh_id: id });
            }
            if let Some(id) = snap.iface.mesh_id.clone() {
                events.push(What::MeshJoined { mesh_id: id });
            }
        }
        self.diff_stations(&mut state, prev_stations, &snap.stations, &mut events);
        let seq = self.next_seq;
        self.diff_paths(&mut state, prev_paths, &snap.paths, seq, &mut events);
        gate_change(&mut state, &snap.stations, &mut events);
        state.snapshot = Some(snap);
        self.ifaces[idx] = state;
        for what in events {
            self.push(now, &name, what);
        }
    }

    fn first(&mut self, now: Instant, snap: Snapshot) {
        let mut state = IfaceState {
            name: snap.iface.name.clone(),
            snapshot: None,
            paths: Vec::new(),
            links: Vec::new(),
            gate: None,
        };
        // The baselines, without events.
        let mut ignored = Vec::new();
        self.diff_stations(&mut state, &snap.stations, &snap.stations, &mut ignored);
        self.diff_paths(&mut state, &snap.paths, &snap.paths, 0, &mut ignored);
        gate_change(&mut state, &snap.stations, &mut ignored);
        let what = What::Watching {
            mesh_id: snap.iface.mesh_id.clone(),
            peers: snap.stations.iter().filter(|s| estab(s)).count(),
            paths: snap.paths.len(),
        };
        let name = state.name.clone();
        state.snapshot = Some(snap);
        self.ifaces.push(state);
        self.push(now, &name, what);
    }

    fn diff_stations(
        &self,
        state: &mut IfaceState,
        prev: &[Station],
        cur: &[Station],
        events: &mut Vec<What>,
    ) {
        for s in cur {
            let before = prev.iter().find(|p| p.mac == s.mac);
            let was = before.and_then(|p| p.plink_state);
            let was_there = before.is_some();
            match (was_there && was == Some(PlinkState::Estab), estab(s)) {
                (false, true) => events.push(What::PeerUp {
                    peer: s.mac,
                    metric: s.airtime_metric,
                    signal_dbm: s.signal_dbm,
                }),
                (true, false) => events.push(What::PeerDown {
                    peer: s.mac,
                    state: s.plink_state,
                }),
                _ if !was_there || was != s.plink_state => events.push(What::Plink {
                    peer: s.mac,
                    from: if was_there { was } else { None },
                    to: s.plink_state,
                }),
                _ => {}
            }
        }
        for p in prev {
            if cur.iter().any(|s| s.mac == p.mac) {
                continue;
            }
            events.push(if estab(p) {
                What::PeerDown {
                    peer: p.mac,
                    state: None,
                }
            } else {
                What::Plink {
                    peer: p.mac,
                    from: p.plink_state,
                    to: None,
                }
            });
        }
        // Link metrics of the ESTAB peers; a peer that leaves ESTAB starts anew.
        state
            .links
            .retain(|l| cur.iter().any(|s| s.mac == l.peer && estab(s)));
        for s in cur.iter().filter(|s| estab(s)) {
            let Some(metric) = s.airtime_metric else {
                continue;
            };
            match state.links.iter_mut().find(|l| l.peer == s.mac) {
                Some(l) => {
                    if let Some(what) =
                        self.track(&mut l.metric, metric, Subject::Link { peer: s.mac })
                    {
                        events.push(what);
                    }
                }
                None => state.links.push(LinkMemory {
                    peer: s.mac,
                    metric: Tracked::new(metric),
                }),
            }
        }
    }

    fn diff_paths(
        &self,
        state: &mut IfaceState,
        prev: &[MeshPath],
        cur: &[MeshPath],
        seq: u64,
        events: &mut Vec<What>,
    ) {
        // A path still being discovered has no next hop yet (00:00:00:00:00:00, metric 0):
        // not a way to its destination, so not a path here.
        let resolved = |p: &&MeshPath| p.next_hop != Mac::default();
        for p in cur.iter().filter(resolved) {
            let subject = Subject::Path {
                dest: p.dest,
                next_hop: p.next_hop,
            };
            match state.paths.iter_mut().find(|m| m.dest == p.dest) {
                Some(m) => {
                    if m.next_hop != p.next_hop {
                        events.push(What::NextHop {
                            dest: p.dest,
                            from: m.next_hop,
                            to: p.next_hop,
                            metric: p.metric,
                        });
                        m.next_hop = p.next_hop;
                    } else if !m.present {
                        events.push(What::PathNew {
                            dest: p.dest,
                            next_hop: p.next_hop,
                            metric: p.metric,
                        });
                    }
                    m.present = true;
                    if p.active() {
                        match &mut m.metric {
                            Some(t) => {
                                if let Some(what) = self.track(t, p.metric, subject) {
                                    events.push(what);
                                }
                            }
                            None => m.metric = Some(Tracked::new(p.metric)),
                        }
                    }
                }
                None => {
                    if !prev.iter().any(|x| x.dest == p.dest) {
                        events.push(What::PathNew {
                            dest: p.dest,
                            next_hop: p.next_hop,
                            metric: p.metric,
                        });
                    }
                    state.paths.push(PathMemory {
                        dest: p.dest,
                        next_hop: p.next_hop,
                        present: true,
                        metric: p.active().then(|| Tracked::new(p.metric)),
                        gone_seq: 0,
                    });
                }
            }
        }
        for m in state.paths.iter_mut().filter(|m| m.present) {
            if !cur.iter().filter(resolved).any(|p| p.dest == m.dest) {
                m.present = false;
                m.gone_seq = seq;
                events.push(What::PathGone {
                    dest: m.dest,
                    next_hop: m.next_hop,
                });
            }
        }
        // Forget the oldest of the gone paths beyond the bound.
        while state.paths.iter().filter(|m| !m.present).count() > REMEMBERED_PATHS {
            let oldest = state
                .paths
                .iter()
                .enumerate()
                .filter(|(_, m)| !m.present)
                .min_by_key(|(_, m)| m.gone_seq)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                state.paths.remove(i);
            }
        }
    }

    /// Compares `metric` with the baseline: an event when it crosses a threshold.
    fn track(&self, t: &mut Tracked, metric: u32, subject: Subject) -> Option<What> {
        t.baseline = t.baseline.min(metric);
        let over_ratio = self.settings.metric_percent > 0
            && u64::from(metric) * 100
                > u64::from(t.baseline.max(1)) * (100 + u64::from(self.settings.metric_percent));
        let over_max = self.settings.metric_max.is_some_and(|max| metric > max);
        let degraded = over_ratio || over_max;
        if degraded == t.degraded {
            return None;
        }
        t.degraded = degraded;
        let baseline = t.baseline;
        Some(if degraded {
            What::MetricDegraded {
                subject,
                metric,
                baseline,
            }
        } else {
            What::MetricRecovered {
                subject,
                metric,
                baseline,
            }
        })
    }

    fn push(&mut self, now: Instant, iface: &str, what: What) {
        let kind = what.kind();
        let event = Event {
            seq: self.next_seq,
            at: now,
            iface: iface.to_string(),
            what,
        };
        self.next_seq += 1;
        self.counts[kind.index()] += 1;
        let secs = now.saturating_duration_since(self.started).as_secs();
        self.limits[kind.index()].log(kind.level(), secs, format_args!("{event}"));
        if self.settings.ring == 0 {
            return;
        }
        if self.ring.len() >= self.settings.ring {
            self.ring.pop_front();
        }
        self.ring.push_back(event);
    }

    /// The status's `events` array (oldest first) and `event_counts` object (per kind, with
    /// the log lines the rate limit held back).
    pub fn status_events(&self, j: &mut Json, now: Instant, wall_now: u64) {
        j.begin_array("events");
        for e in &self.ring {
            e.json(j, now, wall_now);
        }
        j.end();
        j.begin_object("event_counts");
        for k in Kind::ALL {
            j.field_u64(k.name(), self.count(k));
        }
        j.end();
        j.begin_object("log_suppressed");
        for k in Kind::ALL {
            j.field_u64(k.name(), self.suppressed(k));
        }
        j.end();
    }
}

/// The gate state from the ESTAB peers' connected_to_gate.
fn gate_change(state: &mut IfaceState, stations: &[Station], events: &mut Vec<What>) {
    if stations.iter().any(|s| s.connected_to_gate.is_some()) {
        // The kernel reports it (for every mesh station): from now on the state is known.
        state.gate.get_or_insert(false);
    }
    let Some(was) = state.gate else { return };
    let via = stations
        .iter()
        .find(|s| estab(s) && s.connected_to_gate == Some(true))
        .map(|s| s.mac);
    match (was, via) {
        (true, None) => events.push(What::GateLost),
        (false, Some(via)) => events.push(What::GateReachable { via }),
        _ => {}
    }
    state.gate = Some(via.is_some());
}
