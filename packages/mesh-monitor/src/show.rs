//! What `mesh-monitor stations|mpath|mpp|config [-i IFACE] [--json]` prints: text that lines
//! up with iw's (`iw dev IF station dump`, `mpath dump`, `mpp dump`, `get mesh_param`), so
//! that the two can be compared line by line, and JSON with the Contract's keys (iw's names;
//! numbers where iw prints numbers; MACs lower-case). The JSON of a dump is an array of
//! objects; `write_*` put one object's fields into a [`Json`] being built, for `status`.
//!
//! Where iw prints a u32 with `%d` (the airtime link metric: -1 for a peer without a link),
//! the text and the JSON say what iw says.

use std::fmt::Write;
use std::io;

use v6only_common::json::Json;

use crate::model::{
    Bitrate, MeshConfig, MeshInterface, MeshParam, MeshPath, Mpp, PowerMode, Snapshot, Station,
};
use crate::nl80211::Nl80211;

/// iw's `mpath dump` header.
pub const MPATH_HEADER: &str = "DEST ADDR         NEXT HOP          IFACE\tSN\tMETRIC\tQLEN\t\
                                EXPTIME\tDTIM\tDRET\tFLAGS\tHOP_COUNT\tPATH_CHANGE\n";
/// iw's `mpp dump` header.
pub const MPP_HEADER: &str = "DEST ADDR         PROXY NODE        IFACE\n";

/// Reads one mesh interface's stations, paths and proxied destinations.
pub fn read_snapshot(nl: &mut Nl80211, ifc: &MeshInterface) -> io::Result<Snapshot> {
    Ok(Snapshot {
        iface: ifc.clone(),
        stations: nl.stations(ifc)?,
        paths: nl.mpaths(ifc)?,
        proxies: nl.mpps(ifc)?,
    })
}

/// The dump commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    Stations,
    Mpath,
    Mpp,
    Config,
}

impl Dump {
    /// The command word: "stations", "mpath", "mpp", "config".
    pub fn from_command(word: &str) -> Option<Dump> {
        match word {
            "stations" => Some(Dump::Stations),
            "mpath" => Some(Dump::Mpath),
            "mpp" => Some(Dump::Mpp),
            "config" => Some(Dump::Config),
            _ => None,
        }
    }
}

/// The mesh interfaces a dump covers: `iface` only (NotFound when it is not a mesh point),
/// or all of them.
pub fn select(nl: &mut Nl80211, iface: Option<&str>) -> io::Result<Vec<MeshInterface>> {
    let mut all = nl.interfaces()?;
    if let Some(name) = iface {
        all.retain(|i| i.name == name);
        if all.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: no such mesh interface"),
            ));
        }
    }
    Ok(all)
}

/// Runs a dump command: what to print (text ends with a newline, JSON does not).
pub fn dump(nl: &mut Nl80211, what: Dump, iface: Option<&str>, json: bool) -> io::Result<String> {
    let ifaces = select(nl, iface)?;
    Ok(match what {
        Dump::Stations => {
            let mut all = Vec::new();
            for i in &ifaces {
                all.extend(nl.stations(i)?);
            }
            if json {
                stations_json(&all)
            } else {
                stations_text(&all)
            }
        }
        Dump::Mpath => {
            let mut all = Vec::new();
            for i in &ifaces {
                all.extend(nl.mpaths(i)?);
            }
            if json {
                mpaths_json(&all)
            } else {
                mpaths_text(&all)
            }
        }
        Dump::Mpp => {
            let mut all = Vec::new();
            for i in &ifaces {
                all.extend(nl.mpps(i)?);
            }
            if json {
                mpps_json(&all)
            } else {
                mpps_text(&all)
            }
        }
        Dump::Config => {
            let mut all = Vec::new();
            for i in &ifaces {
                all.push(nl.mesh_config(i)?);
            }
            if json {
                configs_json(&all)
            } else {
                configs_text(&all)
            }
        }
    })
}

/// As iw prints a rate: "144.4 MBit/s MCS 15 short GI".
pub fn bitrate_text(r: &Bitrate) -> String {
    let mut s = if r.rate_100kbps > 0 {
        format!("{}.{} MBit/s", r.rate_100kbps / 10, r.rate_100kbps % 10)
    } else {
        "(unknown)".to_string()
    };
    if let Some(mcs) = r.mcs {
        let _ = write!(s, " MCS {mcs}");
    }
    if let Some(mcs) = r.vht_mcs {
        let _ = write!(s, " VHT-MCS {mcs}");
    }
    if matches!(r.width_mhz, 40 | 80 | 160 | 320) {
        let _ = write!(s, " {}MHz", r.width_mhz);
    }
    if r.short_gi {
        s.push_str(" short GI");
    }
    s
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// iw prints the metric with `%d`.
fn metric_as_iw(m: u32) -> i32 {
    m as i32
}

/// The lines of `iw dev IF station dump` for the fields we read, in iw's order and format.
pub fn stations_text(stations: &[Station]) -> String {
    let mut out = String::new();
    for s in stations {
        let o = &mut out;
        let _ = writeln!(o, "Station {} (on {})", s.mac, s.iface);
        if let Some(v) = s.inactive_ms {
            let _ = writeln!(o, "\tinactive time:\t{v} ms");
        }
        if let Some(v) = s.rx_bytes {
            let _ = writeln!(o, "\trx bytes:\t{v}");
        }
        if let Some(v) = s.rx_packets {
            let _ = writeln!(o, "\trx packets:\t{v}");
        }
        if let Some(v) = s.tx_bytes {
            let _ = writeln!(o, "\ttx bytes:\t{v}");
        }
        if let Some(v) = s.tx_packets {
            let _ = writeln!(o, "\ttx packets:\t{v}");
        }
        if let Some(v) = s.tx_retries {
            let _ = writeln!(o, "\ttx retries:\t{v}");
        }
        if let Some(v) = s.tx_failed {
            let _ = writeln!(o, "\ttx failed:\t{v}");
        }
        if let Some(v) = s.signal_dbm {
            let _ = writeln!(o, "\tsignal:  \t{v} dBm");
        }
        if let Some(v) = s.signal_avg_dbm {
            let _ = writeln!(o, "\tsignal avg:\t{v} dBm");
        }
        if let Some(r) = &s.tx_bitrate {
            let _ = writeln!(o, "\ttx bitrate:\t{}", bitrate_text(r));
        }
        if let Some(r) = &s.rx_bitrate {
            let _ = writeln!(o, "\trx bitrate:\t{}", bitrate_text(r));
        }
        if let Some(v) = s.llid {
            let _ = writeln!(o, "\tmesh llid:\t{v}");
        }
        if let Some(v) = s.plid {
            let _ = writeln!(o, "\tmesh plid:\t{v}");
        }
        if let Some(v) = s.plink_state {
            let _ = writeln!(o, "\tmesh plink:\t{}", v.name());
        }
        if let Some(v) = s.airtime_metric {
            let _ = writeln!(o, "\tmesh airtime link metric: {}", metric_as_iw(v));
        }
        if let Some(v) = s.connected_to_gate {
            let _ = writeln!(o, "\tmesh connected to gate:\t{}", yes_no(v));
        }
        if let Some(v) = s.connected_to_as {
            let _ = writeln!(o, "\tmesh connected to auth server:\t{}", yes_no(v));
        }
        if let Some(v) = s.local_pm {
            let _ = writeln!(o, "\tmesh local PS mode:\t{}", v.name());
        }
        if let Some(v) = s.peer_pm {
            let _ = writeln!(o, "\tmesh peer PS mode:\t{}", v.name());
        }
        if let Some(v) = s.nonpeer_pm {
            let _ = writeln!(o, "\tmesh non-peer PS mode:\t{}", v.name());
        }
        if let Some(v) = s.connected_s {
            let _ = writeln!(o, "\tconnected time:\t{v} seconds");
        }
    }
    out
}

/// `iw dev IF mpath dump`: its header, then one line per path.
pub fn mpaths_text(paths: &[MeshPath]) -> String {
    let mut out = String::from(MPATH_HEADER);
    for p in paths {
        let _ = write!(
            out,
            "{} {} {}\t{}\t{}\t{}\t{}\t{}\t{}\t0x{:x}",
            p.dest,
            p.next_hop,
            p.iface,
            p.sn,
            p.metric,
            p.qlen,
            p.exptime_ms,
            p.discovery_timeout_ms,
            p.discovery_retries,
            p.flags
        );
        // iw leaves out the columns the kernel did not send (before Linux 5.x).
        if let Some(v) = p.hop_count {
            let _ = write!(out, "\t{v}");
        }
        if let Some(v) = p.path_change {
            let _ = write!(out, "\t{v}");
        }
        out.push('\n');
    }
    out
}

/// `iw dev IF mpp dump`: its header, then one line per proxied destination.
pub fn mpps_text(mpps: &[Mpp]) -> String {
    let mut out = String::from(MPP_HEADER);
    for m in mpps {
        let _ = writeln!(out, "{} {} {}", m.dest, m.proxy, m.iface);
    }
    out
}

/// iw's word for NL80211_MESHCONF_POWER_MODE.
fn power_mode_word(value: i64) -> &'static str {
    match u32::try_from(value).map(PowerMode::from_u32) {
        Ok(PowerMode::Active) => "active",
        Ok(PowerMode::LightSleep) => "light",
        Ok(PowerMode::DeepSleep) => "deep",
        _ => "undefined",
    }
}

fn is_power_mode(p: &MeshParam) -> bool {
    p.name == "mesh_power_mode"
}

/// `name = value unit` per parameter, as `iw dev IF get mesh_param NAME` prints the value
/// and unit; with several interfaces, each set after an `IFACE:` line.
pub fn configs_text(configs: &[MeshConfig]) -> String {
    let mut out = String::new();
    for c in configs {
        if configs.len() > 1 {
            let _ = writeln!(out, "{}:", c.iface);
        }
        for p in &c.params {
            let _ = write!(out, "{} = ", p.name);
            if is_power_mode(p) {
                out.push_str(power_mode_word(p.value));
            } else {
                let _ = write!(out, "{}", p.value);
            }
            if !p.unit.is_empty() {
                let _ = write!(out, " {}", p.unit);
            }
            out.push('\n');
        }
    }
    out
}

fn opt_u64(j: &mut Json, name: &str, v: Option<u64>) {
    match v {
        Some(v) => j.field_u64(name, v),
        None => j.field_null(name),
    };
}

fn opt_i64(j: &mut Json, name: &str, v: Option<i64>) {
    match v {
        Some(v) => j.field_i64(name, v),
        None => j.field_null(name),
    };
}

fn opt_str(j: &mut Json, name: &str, v: Option<&str>) {
    match v {
        Some(v) => j.field_str(name, v),
        None => j.field_null(name),
    };
}

fn opt_bool(j: &mut Json, name: &str, v: Option<bool>) {
    match v {
        Some(v) => j.field_bool(name, v),
        None => j.field_null(name),
    };
}

fn opt_bitrate(j: &mut Json, name: &str, r: Option<&Bitrate>) {
    let Some(r) = r else {
        j.field_null(name);
        return;
    };
    j.begin_object(name);
    // kbit/s: a whole number for iw's "19.5 MBit/s" (19500).
    j.field_u64("kbps", u64::from(r.rate_100kbps) * 100);
    opt_u64(j, "mcs", r.mcs.map(u64::from));
    opt_u64(j, "vht_mcs", r.vht_mcs.map(u64::from));
    j.field_bool("short_gi", r.short_gi);
    j.field_u64("width_mhz", u64::from(r.width_mhz));
    j.end();
}

/// A station's fields, into an open object. The Contract's keys first; a field the kernel
/// did not send is `null`.
pub fn write_station(j: &mut Json, s: &Station) {
    j.field_str("mac", &s.mac.to_string());
    j.field_str("iface", &s.iface);
    opt_str(j, "plink_state", s.plink_state.map(|p| p.name()));
    opt_u64(j, "llid", s.llid.map(u64::from));
    opt_u64(j, "plid", s.plid.map(u64::from));
    opt_i64(j, "signal_dbm", s.signal_dbm.map(i64::from));
    let metric = s.airtime_metric.map(|m| i64::from(metric_as_iw(m)));
    opt_i64(j, "airtime_metric", metric);
    opt_u64(j, "inactive_ms", s.inactive_ms.map(u64::from));
    opt_u64(j, "tx_retries", s.tx_retries.map(u64::from));
    opt_u64(j, "tx_failed", s.tx_failed.map(u64::from));
    opt_bool(j, "connected_to_gate", s.connected_to_gate);
    opt_bool(j, "connected_to_as", s.connected_to_as);
    opt_i64(j, "signal_avg_dbm", s.signal_avg_dbm.map(i64::from));
    opt_bitrate(j, "tx_bitrate", s.tx_bitrate.as_ref());
    opt_bitrate(j, "rx_bitrate", s.rx_bitrate.as_ref());
    opt_str(j, "local_pm", s.local_pm.map(|p| p.name()));
    opt_str(j, "peer_pm", s.peer_pm.map(|p| p.name()));
    opt_str(j, "nonpeer_pm", s.nonpeer_pm.map(|p| p.name()));
    opt_u64(j, "connected_s", s.connected_s.map(u64::from));
    opt_u64(j, "rx_bytes", s.rx_bytes);
    opt_u64(j, "tx_bytes", s.tx_bytes);
    opt_u64(j, "rx_packets", s.rx_packets.map(u64::from));
    opt_u64(j, "tx_packets", s.tx_packets.map(u64::from));
}

/// A mesh path's fields, into an open object; `flags`: iw's names of the set bits.
pub fn write_mpath(j: &mut Json, p: &MeshPath) {
    j.field_str("dest", &p.dest.to_string());
    j.field_str("next_hop", &p.next_hop.to_string());
    j.field_str("iface", &p.iface);
    j.field_u64("sn", u64::from(p.sn));
    j.field_u64("metric", u64::from(p.metric));
    j.field_u64("qlen", u64::from(p.qlen));
    j.field_u64("exptime_ms", u64::from(p.exptime_ms));
    j.field_u64("discovery_timeout_ms", u64::from(p.discovery_timeout_ms));
    j.field_u64("discovery_retries", u64::from(p.discovery_retries));
    j.begin_array("flags");
    for name in p.flag_names() {
        j.item_str(name);
    }
    j.end();
    opt_u64(j, "hop_count", p.hop_count.map(u64::from));
    opt_u64(j, "path_change", p.path_change.map(u64::from));
}

/// A proxied destination's fields, into an open object.
pub fn write_mpp(j: &mut Json, m: &Mpp) {
    j.field_str("dest", &m.dest.to_string());
    j.field_str("proxy", &m.proxy.to_string());
    j.field_str("iface", &m.iface);
}

/// A mesh configuration, into an open object: `iface`, then each parameter by iw's name
/// (numbers; `mesh_power_mode` as iw's word).
pub fn write_config(j: &mut Json, c: &MeshConfig) {
    j.field_str("iface", &c.iface);
    for p in &c.params {
        if is_power_mode(p) {
            j.field_str(p.name, power_mode_word(p.value));
        } else {
            j.field_i64(p.name, p.value);
        }
    }
}

/// A JSON array of the objects `write` makes (the writer's documents are objects).
fn array<T>(items: &[T], write: fn(&mut Json, &T)) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut j = Json::object();
        write(&mut j, item);
        out.push_str(&j.finish());
    }
    out.push(']');
    out
}

pub fn stations_json(stations: &[Station]) -> String {
    array(stations, write_station)
}

pub fn mpaths_json(paths: &[MeshPath]) -> String {
    array(paths, write_mpath)
}

pub fn mpps_json(mpps: &[Mpp]) -> String {
    array(mpps, write_mpp)
}

pub fn configs_json(configs: &[MeshConfig]) -> String {
    array(configs, write_config)
}

#[cfg(test)]
mod tests;
