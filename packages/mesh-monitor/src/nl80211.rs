//! nl80211 over generic netlink, written by hand: the family and its multicast groups
//! (CTRL_CMD_GETFAMILY), the mesh points (GET_INTERFACE), their peers (GET_STATION with the
//! mesh fields), mesh paths (GET_MPATH), proxied destinations (GET_MPP), the mesh
//! configuration (GET_MESH_CONFIG), and a socket of station events ("mlme" group) and
//! interface events ("config" group).
//!
//! The project declines netlink crates (see `v6only_common::netlink`): this module reuses that
//! module's message builder, socket calls and length-checked message and attribute walkers.
//! Measured stripped on mips (`ci/xc.sh`'s release recipe, mips-unknown-linux-musl), a program
//! that lists the mesh points and reads each one's stations, paths, proxies, mesh config and
//! events is 177,204 bytes, 143,584 without nl80211: this module costs 33,620 bytes, parsing
//! into the model included (the dump commands' text and JSON, `show`, 13,472 more). neli
//! (0.7.5) cost 51 KB in the same recipe for adding a route and dumping routes (README),
//! before any nl80211 attribute would be mapped to a field: declined here too.
//!
//! Netlink is host byte order: every integer attribute is read with `from_ne_bytes`. MAC
//! addresses are byte strings, in the order they go on the air; nothing here is network
//! order. Parsing is pure (`parse_*` on the bytes of a reply) and tested with replies captured
//! from mac80211_hwsim on Linux 6.1 (`tests/fixtures/`, converted to host order by the tests'
//! loader on a big-endian host). A length past the end of the buffer or an attribute of the
//! wrong size is a [`ParseError`], never a panic; unknown messages and attributes are skipped.
//!
//! What Linux 6.1 does not report: the mesh ID of a mesh point (GET_INTERFACE carries
//! NL80211_ATTR_SSID only for AP, station and IBSS interfaces since 4.15, and never
//! NL80211_ATTR_MESH_ID), so [`MeshInterface::mesh_id`] is `None` there; it is read when a
//! kernel sends either. mac80211 sends no event for mesh path changes: paths are polled.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use v6only_common::netlink::{
    self as nl, for_each_attr, for_each_message, DumpState, Message, Msg, ParseError,
};

use crate::model::{
    Bitrate, Mac, MeshConfig, MeshInterface, MeshParam, MeshPath, Mpp, PlinkState, PowerMode,
    Station,
};

const NETLINK_GENERIC: libc::c_int = 16;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
const NLMSG_OVERRUN: u16 = 4;
/// Message types below this are netlink's own (NOOP, ERROR, DONE, OVERRUN).
const NLMSG_MIN_TYPE: u16 = 0x10;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
/// struct genlmsghdr: cmd, version, reserved (u16).
const GENL_HEADER: usize = 4;

const GENL_ID_CTRL: u16 = 16;
const CTRL_CMD_NEWFAMILY: u8 = 1;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// nl80211 commands (uapi nl80211.h, Linux 6.1).
pub const NL80211_CMD_GET_INTERFACE: u8 = 5;
pub const NL80211_CMD_SET_INTERFACE: u8 = 6;
pub const NL80211_CMD_NEW_INTERFACE: u8 = 7;
pub const NL80211_CMD_DEL_INTERFACE: u8 = 8;
pub const NL80211_CMD_GET_STATION: u8 = 17;
pub const NL80211_CMD_NEW_STATION: u8 = 19;
pub const NL80211_CMD_DEL_STATION: u8 = 20;
pub const NL80211_CMD_GET_MPATH: u8 = 21;
pub const NL80211_CMD_NEW_MPATH: u8 = 23;
pub const NL80211_CMD_GET_MESH_CONFIG: u8 = 28;
pub const NL80211_CMD_GET_MPP: u8 = 107;

const ATTR_WIPHY: u16 = 1;
const ATTR_IFINDEX: u16 = 3;
const ATTR_IFNAME: u16 = 4;
const ATTR_IFTYPE: u16 = 5;
const ATTR_MAC: u16 = 6;
const ATTR_STA_INFO: u16 = 21;
const ATTR_MESH_ID: u16 = 24;
const ATTR_MPATH_NEXT_HOP: u16 = 26;
const ATTR_MPATH_INFO: u16 = 27;
const ATTR_MESH_CONFIG: u16 = 35;
const ATTR_SSID: u16 = 52;
const IFTYPE_MESH_POINT: u32 = 7;

// enum nl80211_sta_info
const STA_INACTIVE_TIME: u16 = 1;
const STA_RX_BYTES: u16 = 2;
const STA_TX_BYTES: u16 = 3;
const STA_LLID: u16 = 4;
const STA_PLID: u16 = 5;
const STA_PLINK_STATE: u16 = 6;
const STA_SIGNAL: u16 = 7;
const STA_TX_BITRATE: u16 = 8;
const STA_RX_PACKETS: u16 = 9;
const STA_TX_PACKETS: u16 = 10;
const STA_TX_RETRIES: u16 = 11;
const STA_TX_FAILED: u16 = 12;
const STA_SIGNAL_AVG: u16 = 13;
const STA_RX_BITRATE: u16 = 14;
const STA_CONNECTED_TIME: u16 = 16;
const STA_LOCAL_PM: u16 = 20;
const STA_PEER_PM: u16 = 21;
const STA_NONPEER_PM: u16 = 22;
const STA_RX_BYTES64: u16 = 23;
const STA_TX_BYTES64: u16 = 24;
const STA_CONNECTED_TO_GATE: u16 = 38;
const STA_AIRTIME_LINK_METRIC: u16 = 41;
const STA_CONNECTED_TO_AS: u16 = 43;

// enum nl80211_rate_info
const RATE_BITRATE: u16 = 1;
const RATE_MCS: u16 = 2;
const RATE_40_MHZ: u16 = 3;
const RATE_SHORT_GI: u16 = 4;
const RATE_BITRATE32: u16 = 5;
const RATE_VHT_MCS: u16 = 6;
const RATE_80_MHZ: u16 = 8;
const RATE_80P80_MHZ: u16 = 9;
const RATE_160_MHZ: u16 = 10;
const RATE_10_MHZ: u16 = 11;
const RATE_5_MHZ: u16 = 12;
const RATE_320_MHZ: u16 = 18;

// enum nl80211_mpath_info
const MPATH_FRAME_QLEN: u16 = 1;
const MPATH_SN: u16 = 2;
const MPATH_METRIC: u16 = 3;
const MPATH_EXPTIME: u16 = 4;
const MPATH_FLAGS: u16 = 5;
const MPATH_DISCOVERY_TIMEOUT: u16 = 6;
const MPATH_DISCOVERY_RETRIES: u16 = 7;
const MPATH_HOP_COUNT: u16 = 8;
const MPATH_PATH_CHANGE: u16 = 9;

/// A mesh parameter: iw's (`iw dev X get mesh_param`) name and unit, its NL80211_MESHCONF_*
/// number, and the width the kernel gives it in bytes (negative: signed).
struct ParamSpec {
    name: &'static str,
    attr: u16,
    width: i8,
    unit: &'static str,
}

const fn p(name: &'static str, attr: u16, width: i8, unit: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        attr,
        width,
        unit,
    }
}

/// iw 5.19's `_mesh_param_descrs` (Debian 12's iw), in its order; widths as Linux 6.1's
/// nl80211_get_mesh_config puts them.
const MESH_PARAMS: [ParamSpec; 29] = [
    p("mesh_retry_timeout", 1, 2, "milliseconds"),
    p("mesh_confirm_timeout", 2, 2, "milliseconds"),
    p("mesh_holding_timeout", 3, 2, "milliseconds"),
    p("mesh_max_peer_links", 4, 2, ""),
    p("mesh_max_retries", 5, 1, ""),
    p("mesh_ttl", 6, 1, ""),
    p("mesh_element_ttl", 15, 1, ""),
    p("mesh_auto_open_plinks", 7, 1, ""),
    p("mesh_hwmp_max_preq_retries", 8, 1, ""),
    p("mesh_path_refresh_time", 9, 4, "milliseconds"),
    p("mesh_min_discovery_timeout", 10, 2, "milliseconds"),
    p("mesh_hwmp_active_path_timeout", 11, 4, "TUs"),
    p("mesh_hwmp_preq_min_interval", 12, 2, "TUs"),
    p("mesh_hwmp_net_diameter_traversal_time", 13, 2, "TUs"),
    p("mesh_hwmp_rootmode", 14, 1, ""),
    p("mesh_hwmp_rann_interval", 16, 2, "TUs"),
    p("mesh_gate_announcements", 17, 1, ""),
    p("mesh_fwding", 19, 1, ""),
    p("mesh_sync_offset_max_neighor", 21, 4, ""),
    p("mesh_rssi_threshold", 20, -4, "dBm"),
    p("mesh_hwmp_active_path_to_root_timeout", 23, 4, "TUs"),
    p("mesh_hwmp_root_interval", 24, 2, "TUs"),
    p("mesh_hwmp_confirmation_interval", 25, 2, "TUs"),
    p("mesh_power_mode", 26, 4, ""),
    p("mesh_awake_window", 27, 2, "TUs"),
    p("mesh_plink_timeout", 28, 4, "seconds"),
    p("mesh_connected_to_gate", 29, 1, ""),
    p("mesh_nolearn", 30, 1, ""),
    p("mesh_connected_to_as", 31, 1, ""),
];

/// Dumps arrive in datagrams of up to 32 KB (the kernel's dump skb); twice that leaves room,
/// and a truncated datagram is detected (MSG_TRUNC) rather than misread.
const RECEIVE_BUFFER: usize = 64 * 1024;
/// Receive buffer of the event socket: a burst of station events must not overrun it.
const EVENTS_RCVBUF: libc::c_int = 256 * 1024;

fn err(offset: usize, what: &'static str) -> ParseError {
    ParseError { offset, what }
}

fn ne_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn get_u8(d: &[u8], at: usize) -> Result<u8, ParseError> {
    match d {
        [v] => Ok(*v),
        _ => Err(err(at, "attribute is not 8 bits")),
    }
}

fn get_u16(d: &[u8], at: usize) -> Result<u16, ParseError> {
    if d.len() != 2 {
        return Err(err(at, "attribute is not 16 bits"));
    }
    Ok(ne_u16(d))
}

fn get_u32(d: &[u8], at: usize) -> Result<u32, ParseError> {
    if d.len() != 4 {
        return Err(err(at, "attribute is not 32 bits"));
    }
    Ok(ne_u32(d))
}

fn get_u64(d: &[u8], at: usize) -> Result<u64, ParseError> {
    let b: [u8; 8] = d
        .try_into()
        .map_err(|_| err(at, "attribute is not 64 bits"))?;
    Ok(u64::from_ne_bytes(b))
}

fn get_mac(d: &[u8], at: usize) -> Result<Mac, ParseError> {
    let b: [u8; 6] = d
        .try_into()
        .map_err(|_| err(at, "MAC address is not 6 bytes"))?;
    Ok(Mac(b))
}

/// A string attribute: up to its first NUL, lossy UTF-8.
fn get_str(d: &[u8]) -> String {
    let s = d.split(|&b| b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(s).into_owned()
}

/// Calls `f` with (genl command, attributes, their offset) of each generic netlink message in
/// `bytes`; netlink's own messages (DONE, ERROR, ...) are skipped.
fn for_each_genl<'a>(
    bytes: &'a [u8],
    mut f: impl FnMut(u8, &'a [u8], usize) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for_each_message(bytes, |m| {
        if m.kind < NLMSG_MIN_TYPE {
            return Ok(());
        }
        if m.body.len() < GENL_HEADER {
            return Err(err(m.at, "truncated genlmsghdr"));
        }
        f(m.body[0], &m.body[GENL_HEADER..], m.at + GENL_HEADER)
    })
}

/// The nl80211 family as the generic netlink controller tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: u16,
    /// (name, id) of each multicast group: "config", "scan", "regulatory", "mlme", ...
    pub groups: Vec<(String, u32)>,
}

impl Family {
    pub fn group(&self, name: &str) -> Option<u32> {
        self.groups.iter().find(|(n, _)| n == name).map(|g| g.1)
    }
}

/// The reply to CTRL_CMD_GETFAMILY: `None` when it holds no CTRL_CMD_NEWFAMILY message.
pub fn parse_family(bytes: &[u8]) -> Result<Option<Family>, ParseError> {
    let mut out = None;
    for_each_genl(bytes, |cmd, attrs, at| {
        if cmd != CTRL_CMD_NEWFAMILY {
            return Ok(());
        }
        let mut family = Family {
            id: 0,
            groups: Vec::new(),
        };
        for_each_attr(attrs, at, |kind, d, at| {
            match kind {
                CTRL_ATTR_FAMILY_ID => family.id = get_u16(d, at)?,
                CTRL_ATTR_MCAST_GROUPS => {
                    // An array: attributes numbered 1, 2, ... each nesting name and id.
                    for_each_attr(d, at, |_, group, at| {
                        let (mut name, mut id) = (None, None);
                        for_each_attr(group, at, |kind, d, at| {
                            match kind {
                                CTRL_ATTR_MCAST_GRP_NAME => name = Some(get_str(d)),
                                CTRL_ATTR_MCAST_GRP_ID => id = Some(get_u32(d, at)?),
                                _ => {}
                            }
                            Ok(())
                        })?;
                        if let (Some(name), Some(id)) = (name, id) {
                            family.groups.push((name, id));
                        }
                        Ok(())
                    })?
                }
                _ => {}
            }
            Ok(())
        })?;
        if family.id == 0 {
            return Err(err(at, "family without id"));
        }
        out = Some(family);
        Ok(())
    })?;
    Ok(out)
}

/// The mesh points (NL80211_IFTYPE_MESH_POINT) of a GET_INTERFACE dump; other interfaces are
/// left out.
pub fn parse_interfaces(bytes: &[u8]) -> Result<Vec<MeshInterface>, ParseError> {
    let mut out = Vec::new();
    for_each_genl(bytes, |cmd, attrs, at| {
        if cmd != NL80211_CMD_NEW_INTERFACE {
            return Ok(());
        }
        let mut ifc = MeshInterface {
            ifindex: 0,
            name: String::new(),
            mac: Mac::default(),
            wiphy: 0,
            mesh_id: None,
        };
        let mut iftype = None;
        for_each_attr(attrs, at, |kind, d, at| {
            match kind {
                ATTR_IFINDEX => ifc.ifindex = get_u32(d, at)?,
                ATTR_IFNAME => ifc.name = get_str(d),
                ATTR_IFTYPE => iftype = Some(get_u32(d, at)?),
                ATTR_MAC => ifc.mac = get_mac(d, at)?,
                ATTR_WIPHY => ifc.wiphy = get_u32(d, at)?,
                // Not NUL-terminated: the mesh ID's bytes.
                ATTR_MESH_ID | ATTR_SSID if !d.is_empty() => {
                    ifc.mesh_id = Some(String::from_utf8_lossy(d).into_owned())
                }
                _ => {}
            }
            Ok(())
        })?;
        if iftype == Some(IFTYPE_MESH_POINT) && ifc.ifindex != 0 {
            out.push(ifc);
        }
        Ok(())
    })?;
    Ok(out)
}

fn parse_bitrate(d: &[u8], at: usize) -> Result<Bitrate, ParseError> {
    let mut r = Bitrate {
        width_mhz: 20,
        ..Bitrate::default()
    };
    let mut rate16 = None;
    let mut rate32 = None;
    for_each_attr(d, at, |kind, d, at| {
        match kind {
            RATE_BITRATE => rate16 = Some(get_u16(d, at)?),
            RATE_BITRATE32 => rate32 = Some(get_u32(d, at)?),
            RATE_MCS => r.mcs = Some(get_u8(d, at)?),
            RATE_VHT_MCS => r.vht_mcs = Some(get_u8(d, at)?),
            RATE_SHORT_GI => r.short_gi = true,
            RATE_5_MHZ => r.width_mhz = 5,
            RATE_10_MHZ => r.width_mhz = 10,
            RATE_40_MHZ => r.width_mhz = 40,
            RATE_80_MHZ => r.width_mhz = 80,
            // 80+80 MHz counts as 160: the same bandwidth.
            RATE_80P80_MHZ | RATE_160_MHZ => r.width_mhz = 160,
            RATE_320_MHZ => r.width_mhz = 320,
            _ => {}
        }
        Ok(())
    })?;
    // BITRATE32 when present: the 16-bit one saturates at 6553.5 Mbit/s.
    r.rate_100kbps = rate32.unwrap_or(u32::from(rate16.unwrap_or(0)));
    Ok(r)
}

fn parse_sta_info(s: &mut Station, d: &[u8], at: usize) -> Result<(), ParseError> {
    let (mut rx32, mut tx32, mut rx64, mut tx64) = (None, None, None, None);
    for_each_attr(d, at, |kind, d, at| {
        match kind {
            STA_INACTIVE_TIME => s.inactive_ms = Some(get_u32(d, at)?),
            STA_RX_BYTES => rx32 = Some(get_u32(d, at)?),
            STA_TX_BYTES => tx32 = Some(get_u32(d, at)?),
            STA_RX_BYTES64 => rx64 = Some(get_u64(d, at)?),
            STA_TX_BYTES64 => tx64 = Some(get_u64(d, at)?),
            STA_LLID => s.llid = Some(get_u16(d, at)?),
            STA_PLID => s.plid = Some(get_u16(d, at)?),
            STA_PLINK_STATE => s.plink_state = Some(PlinkState::from_u8(get_u8(d, at)?)),
            STA_SIGNAL => s.signal_dbm = Some(get_u8(d, at)? as i8),
            STA_SIGNAL_AVG => s.signal_avg_dbm = Some(get_u8(d, at)? as i8),
            STA_TX_BITRATE => s.tx_bitrate = Some(parse_bitrate(d, at)?),
            STA_RX_BITRATE => s.rx_bitrate = Some(parse_bitrate(d, at)?),
            STA_RX_PACKETS => s.rx_packets = Some(get_u32(d, at)?),
            STA_TX_PACKETS => s.tx_packets = Some(get_u32(d, at)?),
            STA_TX_RETRIES => s.tx_retries = Some(get_u32(d, at)?),
            STA_TX_FAILED => s.tx_failed = Some(get_u32(d, at)?),
            STA_CONNECTED_TIME => s.connected_s = Some(get_u32(d, at)?),
            STA_LOCAL_PM => s.local_pm = Some(PowerMode::from_u32(get_u32(d, at)?)),
            STA_PEER_PM => s.peer_pm = Some(PowerMode::from_u32(get_u32(d, at)?)),
            STA_NONPEER_PM => s.nonpeer_pm = Some(PowerMode::from_u32(get_u32(d, at)?)),
            STA_AIRTIME_LINK_METRIC => s.airtime_metric = Some(get_u32(d, at)?),
            STA_CONNECTED_TO_GATE => s.connected_to_gate = Some(get_u8(d, at)? != 0),
            STA_CONNECTED_TO_AS => s.connected_to_as = Some(get_u8(d, at)? != 0),
            // T_OFFSET, durations, TID stats, ...: not shown.
            _ => {}
        }
        Ok(())
    })?;
    // The 64-bit counters when present (iw does the same); the 32-bit ones wrap at 4 GB.
    s.rx_bytes = rx64.or(rx32.map(u64::from));
    s.tx_bytes = tx64.or(tx32.map(u64::from));
    Ok(())
}

/// The peers of a GET_STATION dump (or the station of a NEW_STATION message), for the
/// interface named `iface`.
pub fn parse_stations(iface: &str, bytes: &[u8]) -> Result<Vec<Station>, ParseError> {
    let mut out = Vec::new();
    for_each_genl(bytes, |cmd, attrs, at| {
        if cmd != NL80211_CMD_NEW_STATION {
            return Ok(());
        }
        let mut s = Station::new(iface, Mac::default());
        let mut mac = None;
        for_each_attr(attrs, at, |kind, d, at| {
            match kind {
                ATTR_MAC => mac = Some(get_mac(d, at)?),
                ATTR_STA_INFO => parse_sta_info(&mut s, d, at)?,
                _ => {}
            }
            Ok(())
        })?;
        s.mac = mac.ok_or(err(at, "station without MAC address"))?;
        out.push(s);
        Ok(())
    })?;
    Ok(out)
}

/// The (destination, next hop or proxy, MPATH_INFO attributes) of each NEW_MPATH message.
fn for_each_mpath<'a>(
    bytes: &'a [u8],
    mut f: impl FnMut(Mac, Mac, &'a [u8], usize) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for_each_genl(bytes, |cmd, attrs, at| {
        if cmd != NL80211_CMD_NEW_MPATH {
            return Ok(());
        }
        let (mut dest, mut hop, mut info) = (None, None, (&[][..], at));
        for_each_attr(attrs, at, |kind, d, at| {
            match kind {
                ATTR_MAC => dest = Some(get_mac(d, at)?),
                ATTR_MPATH_NEXT_HOP => hop = Some(get_mac(d, at)?),
                ATTR_MPATH_INFO => info = (d, at),
                _ => {}
            }
            Ok(())
        })?;
        let dest = dest.ok_or(err(at, "mesh path without destination"))?;
        let hop = hop.ok_or(err(at, "mesh path without next hop"))?;
        f(dest, hop, info.0, info.1)
    })
}

/// The mesh paths of a GET_MPATH dump, for the interface named `iface`. A field the kernel
/// leaves out is 0 (hop count and path changes: `None`, they came with Linux 5.x).
pub fn parse_mpaths(iface: &str, bytes: &[u8]) -> Result<Vec<MeshPath>, ParseError> {
    let mut out = Vec::new();
    for_each_mpath(bytes, |dest, next_hop, info, at| {
        let mut p = MeshPath {
            iface: iface.to_string(),
            dest,
            next_hop,
            sn: 0,
            metric: 0,
            qlen: 0,
            exptime_ms: 0,
            discovery_timeout_ms: 0,
            discovery_retries: 0,
            flags: 0,
            hop_count: None,
            path_change: None,
        };
        for_each_attr(info, at, |kind, d, at| {
            match kind {
                MPATH_FRAME_QLEN => p.qlen = get_u32(d, at)?,
                MPATH_SN => p.sn = get_u32(d, at)?,
                MPATH_METRIC => p.metric = get_u32(d, at)?,
                MPATH_EXPTIME => p.exptime_ms = get_u32(d, at)?,
                MPATH_FLAGS => p.flags = get_u8(d, at)?,
                MPATH_DISCOVERY_TIMEOUT => p.discovery_timeout_ms = get_u32(d, at)?,
                MPATH_DISCOVERY_RETRIES => p.discovery_retries = get_u8(d, at)?,
                MPATH_HOP_COUNT => p.hop_count = Some(get_u8(d, at)?),
                MPATH_PATH_CHANGE => p.path_change = Some(get_u32(d, at)?),
                _ => {}
            }
            Ok(())
        })?;
        out.push(p);
        Ok(())
    })?;
    Ok(out)
}

/// The proxied destinations of a GET_MPP dump (NEW_MPATH messages whose next hop is the
/// proxy), for the interface named `iface`.
pub fn parse_mpps(iface: &str, bytes: &[u8]) -> Result<Vec<Mpp>, ParseError> {
    let mut out = Vec::new();
    for_each_mpath(bytes, |dest, proxy, _, _| {
        out.push(Mpp {
            iface: iface.to_string(),
            dest,
            proxy,
        });
        Ok(())
    })?;
    Ok(out)
}

/// The reply to GET_MESH_CONFIG, for the interface named `iface`: the parameters iw knows,
/// in iw's order, those the kernel left out omitted. `None` without a reply message.
///
/// The kernel puts NL80211_ATTR_IFINDEX (3, 32 bits) inside the nest, where 3 is also
/// NL80211_MESHCONF_HOLDING_TIMEOUT (16 bits): attributes of the wrong width are skipped,
/// and the last of a number wins (as iw's nla_parse does).
pub fn parse_mesh_config(iface: &str, bytes: &[u8]) -> Result<Option<MeshConfig>, ParseError> {
    let mut out = None;
    for_each_genl(bytes, |cmd, attrs, at| {
        if cmd != NL80211_CMD_GET_MESH_CONFIG {
            return Ok(());
        }
        let mut values: [Option<i64>; 32] = [None; 32];
        for_each_attr(attrs, at, |kind, d, at| {
            if kind != ATTR_MESH_CONFIG {
                return Ok(());
            }
            for_each_attr(d, at, |kind, d, _| {
                let Some(spec) = MESH_PARAMS.iter().find(|s| s.attr == kind) else {
                    return Ok(());
                };
                let value = match (spec.width, d.len()) {
                    (1, 1) => i64::from(d[0]),
                    (2, 2) => i64::from(ne_u16(d)),
                    (4, 4) => i64::from(ne_u32(d)),
                    (-4, 4) => i64::from(ne_u32(d) as i32),
                    _ => return Ok(()),
                };
                values[usize::from(kind)] = Some(value);
                Ok(())
            })
        })?;
        let params = MESH_PARAMS
            .iter()
            .filter_map(|s| {
                values[usize::from(s.attr)].map(|value| MeshParam {
                    name: s.name,
                    value,
                    unit: s.unit,
                })
            })
            .collect();
        out = Some(MeshConfig {
            iface: iface.to_string(),
            params,
        });
        Ok(())
    })?;
    Ok(out)
}

/// What the event socket reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// NL80211_CMD_NEW_STATION ("mlme"): a peer appeared (mesh: its station entry was made).
    NewStation { ifindex: u32, mac: Mac },
    /// NL80211_CMD_DEL_STATION ("mlme"): a peer's station entry is gone.
    DelStation { ifindex: u32, mac: Mac },
    /// NL80211_CMD_NEW_INTERFACE / SET_INTERFACE ("config"): an interface came or changed
    /// type: list the interfaces again.
    Interface { ifindex: u32 },
    /// NL80211_CMD_DEL_INTERFACE ("config").
    InterfaceGone { ifindex: u32 },
    /// The kernel dropped events (receive buffer overrun): poll everything again.
    Overrun,
}

/// Parses the messages of one datagram from the event socket into `out`; messages of other
/// commands are skipped. On an error, what came before it is in `out`.
pub fn parse_events(bytes: &[u8], out: &mut Vec<Event>) -> Result<(), ParseError> {
    for_each_message(bytes, |m| {
        if m.kind == NLMSG_OVERRUN {
            out.push(Event::Overrun);
            return Ok(());
        }
        if m.kind < NLMSG_MIN_TYPE {
            return Ok(());
        }
        if m.body.len() < GENL_HEADER {
            return Err(err(m.at, "truncated genlmsghdr"));
        }
        let cmd = m.body[0];
        let at = m.at + GENL_HEADER;
        let (mut ifindex, mut mac) = (None, None);
        for_each_attr(&m.body[GENL_HEADER..], at, |kind, d, at| {
            match kind {
                ATTR_IFINDEX => ifindex = Some(get_u32(d, at)?),
                ATTR_MAC => mac = Some(get_mac(d, at)?),
                _ => {}
            }
            Ok(())
        })?;
        let event = match (cmd, ifindex, mac) {
            (NL80211_CMD_NEW_STATION, Some(ifindex), Some(mac)) => {
                Event::NewStation { ifindex, mac }
            }
            (NL80211_CMD_DEL_STATION, Some(ifindex), Some(mac)) => {
                Event::DelStation { ifindex, mac }
            }
            (NL80211_CMD_NEW_INTERFACE | NL80211_CMD_SET_INTERFACE, Some(ifindex), _) => {
                Event::Interface { ifindex }
            }
            (NL80211_CMD_DEL_INTERFACE, Some(ifindex), _) => Event::InterfaceGone { ifindex },
            _ => return Ok(()),
        };
        out.push(event);
        Ok(())
    })
}

/// Appends the data messages of datagram `bytes` that answer request `seq` to `out` (each
/// 4-byte aligned), and notes in `state` how the reply stands ([`nl::dump_part`]).
fn collect_reply(
    bytes: &[u8],
    seq: u32,
    state: &mut DumpState,
    out: &mut Vec<u8>,
) -> Result<(), ParseError> {
    nl::dump_part(bytes, seq, state, |m: &Msg<'_>| {
        if m.kind >= NLMSG_MIN_TYPE {
            let start = m.at - 16;
            out.extend_from_slice(&bytes[start..m.at + m.body.len()]);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        Ok(())
    })
}

/// The request socket: the family, dumps and gets.
pub struct Nl80211 {
    fd: OwnedFd,
    seq: u32,
    family: Family,
    buf: Vec<u8>,
}

impl Nl80211 {
    /// Opens a generic netlink socket and resolves the nl80211 family. NotFound when the
    /// kernel has no nl80211 (no cfg80211).
    pub fn open() -> io::Result<Nl80211> {
        let fd = nl::socket(NETLINK_GENERIC, libc::SOCK_CLOEXEC)?;
        nl::bind(&fd, 0)?;
        // A request the kernel does not answer in 5 s is an error, not a hung daemon.
        let timeout = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
        let mut nl = Nl80211 {
            fd,
            seq: 1,
            family: Family {
                id: 0,
                groups: Vec::new(),
            },
            buf: Vec::new(),
        };
        let reply = nl.raw_family().map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => io::Error::new(io::ErrorKind::NotFound, "no nl80211 family"),
            _ => e,
        })?;
        nl.family = parse_family(&reply)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no nl80211 family"))?;
        Ok(nl)
    }

    pub fn family(&self) -> &Family {
        &self.family
    }

    /// Sends a request (a dump when `dump`) and returns the data messages of its reply. A
    /// dump the kernel marks inconsistent (NLM_F_DUMP_INTR) is redone, up to five times.
    fn request(
        &mut self,
        kind: u16,
        cmd: u8,
        version: u8,
        dump: bool,
        attrs: &[(u16, &[u8])],
    ) -> io::Result<Vec<u8>> {
        if self.buf.len() < RECEIVE_BUFFER {
            self.buf.resize(RECEIVE_BUFFER, 0);
        }
        for _ in 0..5 {
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            let flags = if dump {
                NLM_F_REQUEST | NLM_F_DUMP
            } else {
                NLM_F_REQUEST | NLM_F_ACK
            };
            let mut m = Message::new(kind, flags, seq, &[cmd, version, 0, 0]);
            for (kind, data) in attrs {
                m.attr(*kind, data);
            }
            let bytes = m.finish();
            // SAFETY: bytes is valid for reads of its length.
            let sent =
                unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut out = Vec::new();
            let mut state = DumpState::default();
            while !state.done {
                let Some(n) = nl::receive(self.fd.as_raw_fd(), &mut self.buf)? else {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no reply from nl80211",
                    ));
                };
                collect_reply(&self.buf[..n], seq, &mut state, &mut out)?;
            }
            if state.error != 0 {
                return Err(io::Error::from_raw_os_error(state.error));
            }
            if !state.interrupted {
                return Ok(out);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "nl80211 dump interrupted by changes five times",
        ))
    }

    /// The raw reply (its data messages, host byte order) to nl80211 command `cmd` for
    /// `ifindex` (or none), as the dump or get functions parse it: for captures and tests.
    pub fn raw(&mut self, cmd: u8, ifindex: Option<u32>, dump: bool) -> io::Result<Vec<u8>> {
        let index;
        let attrs: &[(u16, &[u8])] = match ifindex {
            Some(i) => {
                index = i.to_ne_bytes();
                &[(ATTR_IFINDEX, &index)]
            }
            None => &[],
        };
        self.request(self.family.id, cmd, 0, dump, attrs)
    }

    /// The raw reply to CTRL_CMD_GETFAMILY "nl80211", as [`parse_family`] reads it: for
    /// captures and tests.
    pub fn raw_family(&mut self) -> io::Result<Vec<u8>> {
        let mut name = [0u8; 8];
        name[..7].copy_from_slice(b"nl80211");
        let attrs: &[(u16, &[u8])] = &[(CTRL_ATTR_FAMILY_NAME, &name)];
        self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, false, attrs)
    }

    /// The mesh points of this network namespace.
    pub fn interfaces(&mut self) -> io::Result<Vec<MeshInterface>> {
        let reply = self.raw(NL80211_CMD_GET_INTERFACE, None, true)?;
        Ok(parse_interfaces(&reply)?)
    }

    /// The peers of a mesh interface, with their mesh fields.
    pub fn stations(&mut self, ifc: &MeshInterface) -> io::Result<Vec<Station>> {
        let reply = self.raw(NL80211_CMD_GET_STATION, Some(ifc.ifindex), true)?;
        Ok(parse_stations(&ifc.name, &reply)?)
    }

    /// The mesh paths of a mesh interface.
    pub fn mpaths(&mut self, ifc: &MeshInterface) -> io::Result<Vec<MeshPath>> {
        let reply = self.raw(NL80211_CMD_GET_MPATH, Some(ifc.ifindex), true)?;
        Ok(parse_mpaths(&ifc.name, &reply)?)
    }

    /// The destinations a mesh interface reaches through a proxy mesh node.
    pub fn mpps(&mut self, ifc: &MeshInterface) -> io::Result<Vec<Mpp>> {
        let reply = self.raw(NL80211_CMD_GET_MPP, Some(ifc.ifindex), true)?;
        Ok(parse_mpps(&ifc.name, &reply)?)
    }

    /// The mesh configuration of a mesh interface (the defaults when it has not joined).
    pub fn mesh_config(&mut self, ifc: &MeshInterface) -> io::Result<MeshConfig> {
        let reply = self.raw(NL80211_CMD_GET_MESH_CONFIG, Some(ifc.ifindex), false)?;
        parse_mesh_config(&ifc.name, &reply)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "GET_MESH_CONFIG without reply")
        })
    }

    /// A socket of station and interface events, joined to the family's "mlme" and
    /// "config" groups.
    pub fn events(&self) -> io::Result<Events> {
        let groups: Vec<u32> = ["mlme", "config"]
            .iter()
            .filter_map(|g| self.family.group(g))
            .collect();
        if groups.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "nl80211 has no mlme or config multicast group",
            ));
        }
        Events::open(&groups)
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: value is a valid T, its size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A non-blocking socket of nl80211 multicast events, for the poll loop.
pub struct Events {
    fd: OwnedFd,
}

impl Events {
    /// Joins the multicast groups of these ids (generic netlink's ids pass 32, so they are
    /// joined with NETLINK_ADD_MEMBERSHIP, not the bind mask).
    pub fn open(groups: &[u32]) -> io::Result<Events> {
        let fd = nl::socket(NETLINK_GENERIC, libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?;
        // SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max; SO_RCVBUF is capped by it.
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &EVENTS_RCVBUF).is_err() {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &EVENTS_RCVBUF)?;
        }
        nl::bind(&fd, 0)?;
        for group in groups {
            setsockopt(&fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)?;
        }
        Ok(Events { fd })
    }

    /// Reads what is there (until EAGAIN) and parses it into `out`, using `buf` to receive
    /// (grown to 64 KB once). ENOBUFS (events were lost) is [`Event::Overrun`]. A malformed
    /// datagram is an InvalidData error (what came before it is in `out`).
    pub fn read(&mut self, buf: &mut Vec<u8>, out: &mut Vec<Event>) -> io::Result<()> {
        if buf.len() < RECEIVE_BUFFER {
            buf.resize(RECEIVE_BUFFER, 0);
        }
        loop {
            match nl::receive(self.fd.as_raw_fd(), buf) {
                Ok(Some(n)) => parse_events(&buf[..n], out)?,
                Ok(None) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    if out.last() != Some(&Event::Overrun) {
                        out.push(Event::Overrun);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The raw datagrams waiting (until EAGAIN): for captures and tests.
    pub fn read_raw(&mut self, buf: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
        if buf.len() < RECEIVE_BUFFER {
            buf.resize(RECEIVE_BUFFER, 0);
        }
        while let Some(n) = nl::receive(self.fd.as_raw_fd(), buf)? {
            out.push(buf[..n].to_vec());
        }
        Ok(())
    }
}

impl AsRawFd for Events {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
pub(crate) mod tests;
