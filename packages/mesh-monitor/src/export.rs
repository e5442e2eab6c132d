//! What the monitor knows, for other programs: the lists of the status reply (with the
//! dump commands' objects, `show.rs`), the Prometheus
//! text file (for prometheus-node-exporter-lua's textfile collector, which serves every
//! `/var/prometheus/*.prom` as it is), and the topology (nodes and edges) as JSON and as
//! Graphviz DOT. Pure functions of the snapshots; the driver writes the files.
//!
//! Topology: the nodes are our interfaces' MACs (`self`), their peers (`peer`), the other
//! path destinations (`mesh`) and the proxied hosts outside the mesh (`proxied`); a MAC that
//! is more than one is shown as the first of these. The edges are the peer links (ours to the
//! peer, with the airtime link metric and plink state), the mesh paths (destination to next
//! hop, with the path metric) and the proxies (proxied host to the mesh node that proxies it).

use std::fmt::Write;

use v6only_common::json::Json;

use crate::model::{Mac, MeshPath, PlinkState, Snapshot, Station};
use crate::monitor::{Kind, Monitor};
use crate::show;

fn opt_str(j: &mut Json, name: &str, v: Option<&str>) {
    match v {
        Some(v) => j.field_str(name, v),
        None => j.field_null(name),
    };
}
fn opt_u64(j: &mut Json, name: &str, v: Option<u64>) {
    match v {
        Some(v) => j.field_u64(name, v),
        None => j.field_null(name),
    };
}

/// The status's `interfaces`, `stations`, `paths` and `proxies` arrays.
pub fn status_lists(j: &mut Json, m: &Monitor) {
    j.begin_array("interfaces");
    for (name, present) in m.interfaces() {
        j.item_object().field_str("name", name);
        j.field_bool("present", present);
        match m.snapshots().find(|s| s.iface.name == name) {
            Some(s) => {
                j.field_u64("ifindex", u64::from(s.iface.ifindex))
                    .field_str("mac", &s.iface.mac.to_string());
                opt_str(j, "mesh_id", s.iface.mesh_id.as_deref());
                j.field_u64(
                    "peers",
                    s.stations
                        .iter()
                        .filter(|s| s.plink_state == Some(PlinkState::Estab))
                        .count() as u64,
                )
                .field_u64("paths", s.paths.len() as u64)
                .field_u64("proxies", s.proxies.len() as u64);
            }
            None => {
                j.field_null("ifindex");
            }
        }
        match m.gate(name) {
            Some(g) => j.field_bool("gate_reachable", g),
            None => j.field_null("gate_reachable"),
        };
        j.end();
    }
    j.end();
    // The objects of the dump commands' JSON (show.rs), so that status and `--json` agree.
    j.begin_array("stations");
    for s in m.snapshots().flat_map(|s| &s.stations) {
        j.item_object();
        show::write_station(j, s);
        j.end();
    }
    j.end();
    j.begin_array("paths");
    for p in m.snapshots().flat_map(|s| &s.paths) {
        j.item_object();
        show::write_mpath(j, p);
        j.end();
    }
    j.end();
    j.begin_array("proxies");
    for p in m.snapshots().flat_map(|s| &s.proxies) {
        j.item_object();
        show::write_mpp(j, p);
        j.end();
    }
    j.end();
}

/// A label value as the exposition format wants it: backslash, quote and newline escaped.
fn label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes one metric family: HELP, TYPE and a sample per item that has a value.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                label(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

type StationValue = fn(&Station) -> Option<String>;
type PathValue = fn(&MeshPath) -> Option<String>;
type IfaceValue = fn(&Snapshot) -> usize;

const STATION_METRICS: [(&str, &str, &str, StationValue); 11] = [
    (
        "mesh_station_airtime_metric",
        "gauge",
        "Airtime link metric of the peer link (NL80211_STA_INFO_AIRTIME_LINK_METRIC).",
        |s| s.airtime_metric.map(|v| v.to_string()),
    ),
    (
        "mesh_station_signal_dbm",
        "gauge",
        "Signal of the last frame from the peer, dBm.",
        |s| s.signal_dbm.map(|v| v.to_string()),
    ),
    (
        "mesh_station_signal_avg_dbm",
        "gauge",
        "Average signal from the peer, dBm.",
        |s| s.signal_avg_dbm.map(|v| v.to_string()),
    ),
    (
        "mesh_station_estab",
        "gauge",
        "1 when the peer link is ESTAB.",
        |s| Some(u8::from(s.plink_state == Some(PlinkState::Estab)).to_string()),
    ),
    (
        "mesh_station_connected_to_gate",
        "gauge",
        "1 when the peer says it is connected to a mesh gate.",
        |s| s.connected_to_gate.map(|v| u8::from(v).to_string()),
    ),
    (
        "mesh_station_inactive_seconds",
        "gauge",
        "Time since the last frame from the peer.",
        |s| {
            s.inactive_ms
                .map(|v| format!("{:.3}", f64::from(v) / 1000.0))
        },
    ),
    (
        "mesh_station_connected_seconds",
        "gauge",
        "Time since the station entry was made.",
        |s| s.connected_s.map(|v| v.to_string()),
    ),
    (
        "mesh_station_tx_bitrate_bps",
        "gauge",
        "Bitrate of the last frame sent to the peer, bits per second.",
        |s| {
            s.tx_bitrate
                .map(|b| (u64::from(b.rate_100kbps) * 100_000).to_string())
        },
    ),
    (
        "mesh_station_rx_bitrate_bps",
        "gauge",
        "Bitrate of the last frame from the peer, bits per second.",
        |s| {
            s.rx_bitrate
                .map(|b| (u64::from(b.rate_100kbps) * 100_000).to_string())
        },
    ),
    (
        "mesh_station_tx_retries_total",
        "counter",
        "Retries of frames sent to the peer.",
        |s| s.tx_retries.map(|v| v.to_string()),
    ),
    (
        "mesh_station_tx_failed_total",
        "counter",
        "Frames to the peer that failed.",
        |s| s.tx_failed.map(|v| v.to_string()),
    ),
];

const PATH_METRICS: [(&str, &str, &str, PathValue); 4] = [
    (
        "mesh_path_metric",
        "gauge",
        "Metric of the mesh path (HWMP airtime, summed over the hops).",
        |p| Some(p.metric.to_string()),
    ),
    (
        "mesh_path_hop_count",
        "gauge",
        "Hops of the mesh path.",
        |p| p.hop_count.map(|v| v.to_string()),
    ),
    (
        "mesh_path_active",
        "gauge",
        "1 when the mesh path is active (not expired).",
        |p| Some(u8::from(p.active()).to_string()),
    ),
    (
        "mesh_path_changes_total",
        "counter",
        "Times the kernel changed the path's next hop.",
        |p| p.path_change.map(|v| v.to_string()),
    ),
];

/// The Prometheus text file: per interface, per station, per path, and the monitor's event
/// counts. Labels: `iface`, `mac` (stations), `dest` and `next_hop` (paths).
pub fn prometheus(m: &Monitor) -> String {
    let mut out = String::with_capacity(4096);
    let mut f = Family { out: &mut out };
    let snaps: Vec<&Snapshot> = m.snapshots().collect();
    let per_iface: [(&str, &str, IfaceValue); 4] = [
        (
            "mesh_stations",
            "Stations of the interface (every plink state).",
            |s| s.stations.len(),
        ),
        ("mesh_stations_estab", "Peers in ESTAB.", |s| {
            s.stations
                .iter()
                .filter(|x| x.plink_state == Some(PlinkState::Estab))
                .count()
        }),
        ("mesh_paths", "Mesh paths.", |s| s.paths.len()),
        (
            "mesh_proxies",
            "Destinations proxied by mesh nodes (mpp).",
            |s| s.proxies.len(),
        ),
    ];
    for (name, help, value) in per_iface {
        f.head(name, "gauge", help);
        for s in &snaps {
            f.sample(name, &[("iface", &s.iface.name)], value(s));
        }
    }
    f.head(
        "mesh_gate_reachable",
        "gauge",
        "1 when a peer in ESTAB is connected to a mesh gate (absent: the kernel does not say).",
    );
    for s in &snaps {
        if let Some(g) = m.gate(&s.iface.name) {
            f.sample(
                "mesh_gate_reachable",
                &[("iface", &s.iface.name)],
                u8::from(g),
            );
        }
    }
    for (name, kind, help, value) in STATION_METRICS {
        f.head(name, kind, help);
        for st in snaps.iter().flat_map(|s| &s.stations) {
            if let Some(v) = value(st) {
                f.sample(
                    name,
                    &[("iface", &st.iface), ("mac", &st.mac.to_string())],
                    v,
                );
            }
        }
    }
    for (name, kind, help, value) in PATH_METRICS {
        f.head(name, kind, help);
        for p in snaps.iter().flat_map(|s| &s.paths) {
            if let Some(v) = value(p) {
                let (dest, hop) = (p.dest.to_string(), p.next_hop.to_string());
                f.sample(
                    name,
                    &[("iface", &p.iface), ("dest", &dest), ("next_hop", &hop)],
                    v,
                );
            }
        }
    }
    f.head(
        "mesh_monitor_events_total",
        "counter",
        "Events mesh-monitor recorded since it started, by kind.",
    );
    for k in Kind::ALL {
        f.sample(
            "mesh_monitor_events_total",
            &[("kind", k.name())],
            m.count(k),
        );
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NodeKind {
    /// In this order: a MAC that is several is shown as the first.
    Own,
    Peer,
    Mesh,
    Proxied,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::Own => "self",
            NodeKind::Peer => "peer",
            NodeKind::Mesh => "mesh",
            NodeKind::Proxied => "proxied",
        }
    }
}

struct Node<'a> {
    mac: Mac,
    kind: NodeKind,
    iface: &'a str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    Link,
    Path,
    Proxy,
}

struct Edge<'a> {
    from: Mac,
    to: Mac,
    kind: EdgeKind,
    iface: &'a str,
    metric: Option<u32>,
    plink_state: Option<PlinkState>,
}

struct Topology<'a> {
    nodes: Vec<Node<'a>>,
    edges: Vec<Edge<'a>>,
}

fn topology<'a>(snaps: &[&'a Snapshot]) -> Topology<'a> {
    let mut nodes: Vec<Node<'a>> = Vec::new();
    let mut add =
        |mac: Mac, kind: NodeKind, iface: &'a str| match nodes.iter_mut().find(|n| n.mac == mac) {
            Some(n) if kind < n.kind => {
                n.kind = kind;
                n.iface = iface;
            }
            Some(_) => {}
            None => nodes.push(Node { mac, kind, iface }),
        };
    let mut edges = Vec::new();
    for s in snaps {
        let iface = s.iface.name.as_str();
        add(s.iface.mac, NodeKind::Own, iface);
        for st in &s.stations {
            add(st.mac, NodeKind::Peer, iface);
            edges.push(Edge {
                from: s.iface.mac,
                to: st.mac,
                kind: EdgeKind::Link,
                iface,
                metric: st.airtime_metric,
                plink_state: st.plink_state,
            });
        }
        for p in &s.paths {
            add(p.dest, NodeKind::Mesh, iface);
            // Still being discovered: no next hop yet, no edge.
            if p.next_hop == Mac::default() {
                continue;
            }
            add(p.next_hop, NodeKind::Mesh, iface);
            edges.push(Edge {
                from: p.dest,
                to: p.next_hop,
                kind: EdgeKind::Path,
                iface,
                metric: Some(p.metric),
                plink_state: None,
            });
        }
        for x in &s.proxies {
            add(x.dest, NodeKind::Proxied, iface);
            add(x.proxy, NodeKind::Mesh, iface);
            edges.push(Edge {
                from: x.dest,
                to: x.proxy,
                kind: EdgeKind::Proxy,
                iface,
                metric: None,
                plink_state: None,
            });
        }
    }
    Topology { nodes, edges }
}

/// `{"nodes":[{"id","kind","iface"}...],"edges":[{"from","to","kind","iface","metric"[,
/// "plink_state"]}...]}`; edge kinds `link`, `path`, `proxy`.
pub fn topology_json(m: &Monitor) -> String {
    let snaps: Vec<&Snapshot> = m.snapshots().collect();
    let t = topology(&snaps);
    let mut j = Json::object();
    j.begin_array("nodes");
    for n in &t.nodes {
        j.item_object()
            .field_str("id", &n.mac.to_string())
            .field_str("kind", n.kind.name())
            .field_str("iface", n.iface)
            .end();
    }
    j.end();
    j.begin_array("edges");
    for e in &t.edges {
        j.item_object()
            .field_str("from", &e.from.to_string())
            .field_str("to", &e.to.to_string())
            .field_str(
                "kind",
                match e.kind {
                    EdgeKind::Link => "link",
                    EdgeKind::Path => "path",
                    EdgeKind::Proxy => "proxy",
                },
            )
            .field_str("iface", e.iface);
        if e.kind != EdgeKind::Proxy {
            opt_u64(&mut j, "metric", e.metric.map(u64::from));
        }
        if e.kind == EdgeKind::Link {
            opt_str(&mut j, "plink_state", e.plink_state.map(PlinkState::name));
        }
        j.end();
    }
    j.end();
    let mut text = j.finish();
    text.push('\n');
    text
}

/// The same graph for Graphviz (`dot -Tsvg`): our interfaces double circles, peers circles,
/// other mesh nodes dotted circles, proxied hosts boxes; peer links solid (dashed when not
/// ESTAB) and undirected, paths dashed arrows to the next hop, proxies dotted arrows.
pub fn topology_dot(m: &Monitor) -> String {
    let snaps: Vec<&Snapshot> = m.snapshots().collect();
    let t = topology(&snaps);
    let mut out = String::from("digraph mesh {\n\tnode [fontname=\"monospace\"];\n");
    for n in &t.nodes {
        let (shape, style) = match n.kind {
            NodeKind::Own => ("doublecircle", "solid"),
            NodeKind::Peer => ("circle", "solid"),
            NodeKind::Mesh => ("circle", "dotted"),
            NodeKind::Proxied => ("box", "solid"),
        };
        let label = match n.kind {
            NodeKind::Own => format!("{}\\n{}", n.mac, n.iface),
            _ => n.mac.to_string(),
        };
        let _ = writeln!(
            out,
            "\t\"{}\" [shape={shape}, style={style}, label=\"{label}\"];",
            n.mac
        );
    }
    for e in &t.edges {
        let attrs = match e.kind {
            EdgeKind::Link => {
                let style = if e.plink_state == Some(PlinkState::Estab) {
                    "solid"
                } else {
                    "dashed"
                };
                let mut label = e.metric.map_or(String::new(), |m| m.to_string());
                if e.plink_state != Some(PlinkState::Estab) {
                    let state = e.plink_state.map_or("?", PlinkState::name);
                    label = format!("{label} {state}").trim().to_string();
                }
                format!("dir=none, style={style}, label=\"{label}\"")
            }
            EdgeKind::Path => format!(
                "style=dashed, color=blue, label=\"{}\"",
                e.metric.unwrap_or(0)
            ),
            EdgeKind::Proxy => "style=dotted".to_string(),
        };
        let _ = writeln!(out, "\t\"{}\" -> \"{}\" [{attrs}];", e.from, e.to);
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bitrate, MeshInterface, Mpp};
    use crate::monitor::Settings;
    use std::time::Instant;
    use v6only_common::json::Value;

    const A: Mac = Mac([2, 0, 0, 0, 0, 0]);
    const B: Mac = Mac([2, 0, 0, 0, 1, 0]);
    const C: Mac = Mac([2, 0, 0, 0, 2, 0]);
    const HOST: Mac = Mac([0x52, 0x54, 0, 0, 0, 9]);

    fn station(mac: Mac, state: PlinkState) -> Station {
        Station {
            plink_state: Some(state),
            llid: Some(7),
            plid: Some(8),
            airtime_metric: Some(100),
            connected_to_gate: Some(true),
            signal_dbm: Some(-30),
            tx_bitrate: Some(Bitrate {
                rate_100kbps: 540,
                ..Bitrate::default()
            }),
            tx_retries: Some(3),
            tx_failed: Some(1),
            inactive_ms: Some(1250),
            connected_s: Some(60),
            ..Station::new("mesh0", mac)
        }
    }

    fn mpath(dest: Mac, next_hop: Mac, metric: u32) -> MeshPath {
        MeshPath {
            iface: "mesh0".into(),
            dest,
            next_hop,
            sn: 4,
            metric,
            qlen: 0,
            exptime_ms: 3000,
            discovery_timeout_ms: 100,
            discovery_retries: 0,
            flags: 0x15,
            hop_count: Some(2),
            path_change: Some(1),
        }
    }

    /// A line: we see B (ESTAB) and C only through B; C proxies a LAN host. An OPN_SNT
    /// candidate too.
    fn monitor() -> Monitor {
        let mut m = Monitor::new(Settings::default(), Instant::now());
        m.observe(
            Instant::now(),
            Snapshot {
                iface: MeshInterface {
                    ifindex: 5,
                    name: "mesh0".into(),
                    mac: A,
                    wiphy: 0,
                    mesh_id: Some("lab".into()),
                },
                stations: vec![
                    station(B, PlinkState::Estab),
                    station(Mac([2, 0, 0, 0, 3, 0]), PlinkState::OpnSnt),
                ],
                paths: vec![
                    mpath(B, B, 100),
                    mpath(C, B, 300),
                    // Being discovered: a node, no edge.
                    mpath(Mac([2, 0, 0, 0, 4, 0]), Mac::default(), 0),
                ],
                proxies: vec![Mpp {
                    iface: "mesh0".into(),
                    dest: HOST,
                    proxy: C,
                }],
            },
        );
        m
    }

    #[test]
    fn prometheus_text() {
        let text = prometheus(&monitor());
        for line in [
            "# TYPE mesh_stations_estab gauge",
            "mesh_stations_estab{iface=\"mesh0\"} 1",
            "mesh_stations{iface=\"mesh0\"} 2",
            "mesh_paths{iface=\"mesh0\"} 3",
            "mesh_proxies{iface=\"mesh0\"} 1",
            "mesh_gate_reachable{iface=\"mesh0\"} 1",
            "mesh_station_airtime_metric{iface=\"mesh0\",mac=\"02:00:00:00:01:00\"} 100",
            "mesh_station_signal_dbm{iface=\"mesh0\",mac=\"02:00:00:00:01:00\"} -30",
            "mesh_station_estab{iface=\"mesh0\",mac=\"02:00:00:00:03:00\"} 0",
            "mesh_station_inactive_seconds{iface=\"mesh0\",mac=\"02:00:00:00:01:00\"} 1.250",
            "mesh_station_tx_bitrate_bps{iface=\"mesh0\",mac=\"02:00:00:00:01:00\"} 54000000",
            "# TYPE mesh_station_tx_retries_total counter",
            "mesh_station_tx_retries_total{iface=\"mesh0\",mac=\"02:00:00:00:01:00\"} 3",
            "mesh_path_metric{iface=\"mesh0\",dest=\"02:00:00:00:02:00\",next_hop=\"02:00:00:00:01:00\"} 300",
            "mesh_path_hop_count{iface=\"mesh0\",dest=\"02:00:00:00:02:00\",next_hop=\"02:00:00:00:01:00\"} 2",
            "mesh_path_active{iface=\"mesh0\",dest=\"02:00:00:00:01:00\",next_hop=\"02:00:00:00:01:00\"} 1",
            "mesh_monitor_events_total{kind=\"watching\"} 1",
            "mesh_monitor_events_total{kind=\"peer_down\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing:\n{text}");
        }
        // Absent values give no sample (no rx bitrate, no average signal).
        assert!(!text.contains("mesh_station_rx_bitrate_bps{"), "{text}");
        // Every sample line belongs to a family declared before it, once each.
        let mut declared = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(!declared.contains(&name.to_string()), "{name} twice");
                declared.push(name.to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{l}");
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        label(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn topology_as_json() {
        let text = topology_json(&monitor());
        let v = Value::parse(&text).expect(&text);
        let nodes = v.get("nodes").and_then(Value::as_array).unwrap();
        let kinds: Vec<(&str, &str)> = nodes
            .iter()
            .map(|n| {
                (
                    n.get("id").and_then(Value::as_str).unwrap(),
                    n.get("kind").and_then(Value::as_str).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("02:00:00:00:00:00", "self"),
                ("02:00:00:00:01:00", "peer"),
                ("02:00:00:00:03:00", "peer"),
                ("02:00:00:00:02:00", "mesh"),
                ("02:00:00:00:04:00", "mesh"),
                ("52:54:00:00:00:09", "proxied"),
            ]
        );
        let edges = v.get("edges").and_then(Value::as_array).unwrap();
        let e: Vec<String> = edges
            .iter()
            .map(|e| {
                format!(
                    "{} {}->{} {}",
                    e.get("kind").and_then(Value::as_str).unwrap(),
                    e.get("from").and_then(Value::as_str).unwrap(),
                    e.get("to").and_then(Value::as_str).unwrap(),
                    e.get("metric")
                        .and_then(Value::as_u64)
                        .map_or("-".into(), |m| m.to_string())
                )
            })
            .collect();
        assert_eq!(
            e,
            [
                "link 02:00:00:00:00:00->02:00:00:00:01:00 100",
                "link 02:00:00:00:00:00->02:00:00:00:03:00 100",
                "path 02:00:00:00:01:00->02:00:00:00:01:00 100",
                "path 02:00:00:00:02:00->02:00:00:00:01:00 300",
                "proxy 52:54:00:00:00:09->02:00:00:00:02:00 -",
            ]
        );
        assert_eq!(
            edges[1].get("plink_state").and_then(Value::as_str),
            Some("OPN_SNT")
        );
    }

    #[test]
    fn topology_as_dot() {
        let dot = topology_dot(&monitor());
        assert!(dot.starts_with("digraph mesh {\n"), "{dot}");
        assert!(dot.ends_with("}\n"));
        for line in [
            "\t\"02:00:00:00:00:00\" [shape=doublecircle, style=solid, label=\"02:00:00:00:00:00\\nmesh0\"];",
            "\t\"52:54:00:00:00:09\" [shape=box, style=solid, label=\"52:54:00:00:00:09\"];",
            "\t\"02:00:00:00:00:00\" -> \"02:00:00:00:01:00\" [dir=none, style=solid, label=\"100\"];",
            "\t\"02:00:00:00:00:00\" -> \"02:00:00:00:03:00\" [dir=none, style=dashed, label=\"100 OPN_SNT\"];",
            "\t\"02:00:00:00:02:00\" -> \"02:00:00:00:01:00\" [style=dashed, color=blue, label=\"300\"];",
            "\t\"52:54:00:00:00:09\" -> \"02:00:00:00:02:00\" [style=dotted];",
        ] {
            assert!(dot.lines().any(|l| l == line), "{line:?} missing:\n{dot}");
        }
    }

    #[test]
    fn status_lists_with_the_contract_keys() {
        let mut j = Json::object();
        status_lists(&mut j, &monitor());
        let text = j.finish();
        let v = Value::parse(&text).expect(&text);
        let iface = &v.get("interfaces").and_then(Value::as_array).unwrap()[0];
        assert_eq!(iface.get("peers").and_then(Value::as_u64), Some(1));
        assert_eq!(
            iface.get("gate_reachable").and_then(Value::as_bool),
            Some(true)
        );
        let st = &v.get("stations").and_then(Value::as_array).unwrap()[0];
        for key in [
            "mac",
            "iface",
            "plink_state",
            "llid",
            "plid",
            "signal_dbm",
            "airtime_metric",
            "inactive_ms",
            "tx_retries",
            "tx_failed",
            "connected_to_gate",
        ] {
            assert!(st.get(key).is_some(), "station {key}: {text}");
        }
        assert_eq!(st.get("plink_state").and_then(Value::as_str), Some("ESTAB"));
        let p = &v.get("paths").and_then(Value::as_array).unwrap()[1];
        for key in [
            "dest",
            "next_hop",
            "iface",
            "sn",
            "metric",
            "qlen",
            "exptime_ms",
            "discovery_timeout_ms",
            "discovery_retries",
            "flags",
            "hop_count",
            "path_change",
        ] {
            assert!(p.get(key).is_some(), "path {key}: {text}");
        }
        assert!(
            text.contains(r#""flags":["ACTIVE","SN_VALID","RESOLVED"]"#),
            "{text}"
        );
        let x = &v.get("proxies").and_then(Value::as_array).unwrap()[0];
        assert_eq!(
            x.get("proxy").and_then(Value::as_str),
            Some("02:00:00:00:02:00")
        );
        assert_eq!(
            x.get("dest").and_then(Value::as_str),
            Some("52:54:00:00:00:09")
        );
    }
}
