//! The mesh as nl80211 reports it, one snapshot per poll. Field names follow iw's (what
//! `iw dev IF station dump`, `mpath dump`, `mpp dump` and `mesh_param` print), so that the JSON
//! output and the text tables can be compared with iw's. `None`: the kernel did not say.

use std::fmt;

/// A MAC address, printed lower-case `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// A mesh point interface (NL80211_IFTYPE_MESH_POINT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshInterface {
    pub ifindex: u32,
    pub name: String,
    pub mac: Mac,
    pub wiphy: u32,
    /// The mesh ID it has joined (None: not joined).
    pub mesh_id: Option<String>,
}

/// NL80211_PLINK_*: the peer link state, with iw's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlinkState {
    Listen,
    OpnSnt,
    OpnRcvd,
    CnfRcvd,
    Estab,
    Holding,
    Blocked,
    Unknown(u8),
}

impl PlinkState {
    pub fn from_u8(v: u8) -> PlinkState {
        match v {
            0 => PlinkState::Listen,
            1 => PlinkState::OpnSnt,
            2 => PlinkState::OpnRcvd,
            3 => PlinkState::CnfRcvd,
            4 => PlinkState::Estab,
            5 => PlinkState::Holding,
            6 => PlinkState::Blocked,
            v => PlinkState::Unknown(v),
        }
    }

    /// iw's word for it.
    pub fn name(self) -> &'static str {
        match self {
            PlinkState::Listen => "LISTEN",
            PlinkState::OpnSnt => "OPN_SNT",
            PlinkState::OpnRcvd => "OPN_RCVD",
            PlinkState::CnfRcvd => "CNF_RCVD",
            PlinkState::Estab => "ESTAB",
            PlinkState::Holding => "HOLDING",
            PlinkState::Blocked => "BLOCKED",
            PlinkState::Unknown(_) => "UNKNOWN",
        }
    }
}

/// NL80211_MESH_POWER_*, with iw's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerMode {
    Active,
    LightSleep,
    DeepSleep,
    Unknown(u32),
}

impl PowerMode {
    pub fn from_u32(v: u32) -> PowerMode {
        match v {
            1 => PowerMode::Active,
            2 => PowerMode::LightSleep,
            3 => PowerMode::DeepSleep,
            v => PowerMode::Unknown(v),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PowerMode::Active => "ACTIVE",
            PowerMode::LightSleep => "LIGHT SLEEP",
            PowerMode::DeepSleep => "DEEP SLEEP",
            PowerMode::Unknown(_) => "UNKNOWN",
        }
    }
}

/// A bitrate as nl80211 gives it (NL80211_RATE_INFO_BITRATE32, 100 kbit/s units) with the MCS
/// details iw prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bitrate {
    pub rate_100kbps: u32,
    pub mcs: Option<u8>,
    pub vht_mcs: Option<u8>,
    pub short_gi: bool,
    /// 40, 80, 160 MHz; 20 when none of the width flags is set.
    pub width_mhz: u16,
}

/// One peer of a mesh interface (NL80211_CMD_GET_STATION), its mesh fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    pub iface: String,
    pub mac: Mac,
    pub plink_state: Option<PlinkState>,
    pub llid: Option<u16>,
    pub plid: Option<u16>,
    pub local_pm: Option<PowerMode>,
    pub peer_pm: Option<PowerMode>,
    pub nonpeer_pm: Option<PowerMode>,
    pub airtime_metric: Option<u32>,
    pub connected_to_gate: Option<bool>,
    pub connected_to_as: Option<bool>,
    pub signal_dbm: Option<i8>,
    pub signal_avg_dbm: Option<i8>,
    pub tx_bitrate: Option<Bitrate>,
    pub rx_bitrate: Option<Bitrate>,
    pub tx_retries: Option<u32>,
    pub tx_failed: Option<u32>,
    pub inactive_ms: Option<u32>,
    pub connected_s: Option<u32>,
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub rx_packets: Option<u32>,
    pub tx_packets: Option<u32>,
}

impl Station {
    /// A peer `mac` of `iface` the kernel has said nothing more about: every field `None`.
    pub fn new(iface: &str, mac: Mac) -> Station {
        Station {
            iface: iface.to_string(),
            mac,
            plink_state: None,
            llid: None,
            plid: None,
            local_pm: None,
            peer_pm: None,
            nonpeer_pm: None,
            airtime_metric: None,
            connected_to_gate: None,
            connected_to_as: None,
            signal_dbm: None,
            signal_avg_dbm: None,
            tx_bitrate: None,
            rx_bitrate: None,
            tx_retries: None,
            tx_failed: None,
            inactive_ms: None,
            connected_s: None,
            rx_bytes: None,
            tx_bytes: None,
            rx_packets: None,
            tx_packets: None,
        }
    }
}

/// NL80211_MPATH_FLAG_* bits and iw's names for them.
pub const MPATH_FLAGS: [(u8, &str); 5] = [
    (1 << 0, "ACTIVE"),
    (1 << 1, "RESOLVING"),
    (1 << 2, "SN_VALID"),
    (1 << 3, "FIXED"),
    (1 << 4, "RESOLVED"),
];

/// One mesh path (NL80211_CMD_GET_MPATH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshPath {
    pub iface: String,
    pub dest: Mac,
    pub next_hop: Mac,
    pub sn: u32,
    pub metric: u32,
    pub qlen: u32,
    pub exptime_ms: u32,
    pub discovery_timeout_ms: u32,
    pub discovery_retries: u8,
    pub flags: u8,
    /// Kernel 5.x and later.
    pub hop_count: Option<u8>,
    pub path_change: Option<u32>,
}

impl MeshPath {
    pub fn active(&self) -> bool {
        self.flags & 1 != 0
    }

    /// iw's names of the set flags.
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        MPATH_FLAGS
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|(_, name)| *name)
    }
}

/// A destination outside the mesh reached through a mesh node (NL80211_CMD_GET_MPP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mpp {
    pub iface: String,
    pub dest: Mac,
    pub proxy: Mac,
}

/// NL80211_CMD_GET_MESH_CONFIG: the parameters by iw's names (`mesh_retry_timeout`, ...),
/// in the kernel's order, with the unit iw prints (TUs, seconds, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshConfig {
    pub iface: String,
    pub params: Vec<MeshParam>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshParam {
    pub name: &'static str,
    pub value: i64,
    /// What iw appends ("TUs", "seconds", "milliseconds"), or "".
    pub unit: &'static str,
}

/// Everything read from one mesh interface in one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub iface: MeshInterface,
    pub stations: Vec<Station>,
    pub paths: Vec<MeshPath>,
    pub proxies: Vec<Mpp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_iw_prints_them() {
        assert_eq!(Mac([2, 0, 0, 0, 0xab, 0]).to_string(), "02:00:00:00:ab:00");
        assert_eq!(PlinkState::from_u8(4).name(), "ESTAB");
        assert_eq!(PlinkState::from_u8(9), PlinkState::Unknown(9));
        assert_eq!(PowerMode::from_u32(2).name(), "LIGHT SLEEP");
        let p = MeshPath {
            iface: "mesh0".into(),
            dest: Mac::default(),
            next_hop: Mac::default(),
            sn: 1,
            metric: 820,
            qlen: 0,
            exptime_ms: 2840,
            discovery_timeout_ms: 0,
            discovery_retries: 0,
            flags: 0x15,
            hop_count: Some(1),
            path_change: Some(1),
        };
        assert_eq!(
            p.flag_names().collect::<Vec<_>>(),
            ["ACTIVE", "SN_VALID", "RESOLVED"]
        );
        assert!(p.active());
    }
}
