//! Canned replies: nl80211 replies captured from mac80211_hwsim on Linux 6.1 in the lab
//! (`tests/fixtures/README.md` says how), and messages built here with `to_ne_bytes`.

use super::*;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_DUMP_INTR: u16 = 0x10;

/// The messages of a fixture file (one netlink message per line, hex) concatenated, in host
/// byte order.
///
/// The captures are little-endian. On a big-endian host each integer the kernel wrote in its
/// order is swapped here: the netlink header, genlmsghdr's reserved field, every attribute
/// header of the attribute sets the parser walks, and their integer payloads (by width: all
/// attributes of STA_INFO, RATE_INFO, MPATH_INFO and MESH_CONFIG are integers, except
/// STA_FLAGS, two u32s; at the top level the u32 ones are listed). Payloads the parser
/// skips are left as they are. On a little-endian host nothing changes.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    for line in text.lines() {
        let mut d: Vec<u8> = (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
            .collect();
        le_to_host(&mut d);
        out.extend_from_slice(&d);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

fn swap16(b: &mut [u8], at: usize) -> usize {
    let v = u16::from_le_bytes([b[at], b[at + 1]]);
    b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
    v as usize
}

fn swap32(b: &mut [u8], at: usize) {
    let v = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn swap64(b: &mut [u8], at: usize) {
    let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

/// Which attribute set a run of attributes is.
#[derive(Clone, Copy, PartialEq)]
enum Set {
    Ctrl,
    CtrlGroups,
    CtrlGroup,
    Nl80211,
    StaInfo,
    /// RATE_INFO, MPATH_INFO, MESH_CONFIG: integers only.
    Integers,
}

fn le_to_host(d: &mut [u8]) {
    let mut at = 0;
    while at < d.len() {
        let len = u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize;
        let kind = u16::from_le_bytes([d[at + 4], d[at + 5]]);
        for (i, width) in [(0, 4), (4, 2), (6, 2), (8, 4), (12, 4)] {
            if width == 4 {
                swap32(d, at + i);
            } else {
                swap16(d, at + i);
            }
        }
        let body = at + 16;
        match kind {
            NLMSG_ERROR | NLMSG_DONE => swap32(d, body),
            kind if kind >= NLMSG_MIN_TYPE => {
                swap16(d, body + 2);
                let set = if kind == GENL_ID_CTRL {
                    Set::Ctrl
                } else {
                    Set::Nl80211
                };
                attrs_to_host(d, body + 4, at + len, set);
            }
            _ => {}
        }
        at += len.next_multiple_of(4);
    }
}

fn attrs_to_host(d: &mut [u8], mut at: usize, end: usize, set: Set) {
    while at < end {
        let len = swap16(d, at);
        let kind = swap16(d, at + 2) as u16 & 0x3fff;
        let (data, data_len) = (at + 4, len - 4);
        let nested = match (set, kind) {
            (Set::Ctrl, CTRL_ATTR_MCAST_GROUPS) => Some(Set::CtrlGroups),
            (Set::CtrlGroups, _) => Some(Set::CtrlGroup),
            (Set::Nl80211, ATTR_STA_INFO) => Some(Set::StaInfo),
            (Set::Nl80211, ATTR_MPATH_INFO | ATTR_MESH_CONFIG) => Some(Set::Integers),
            (Set::StaInfo, STA_TX_BITRATE | STA_RX_BITRATE) => Some(Set::Integers),
            _ => None,
        };
        let integer = match set {
            Set::Ctrl => kind == CTRL_ATTR_FAMILY_ID,
            Set::CtrlGroup => kind == CTRL_ATTR_MCAST_GRP_ID,
            Set::Nl80211 => [ATTR_WIPHY, ATTR_IFINDEX, ATTR_IFTYPE].contains(&kind),
            Set::StaInfo => kind != 17, // STA_FLAGS: struct nl80211_sta_flag_update
            Set::Integers => true,
            Set::CtrlGroups => false,
        };
        if let Some(inner) = nested {
            attrs_to_host(d, data, data + data_len, inner);
        } else if set == Set::StaInfo && kind == 17 && data_len == 8 {
            swap32(d, data);
            swap32(d, data + 4);
        } else if integer {
            match data_len {
                2 => {
                    swap16(d, data);
                }
                4 => swap32(d, data),
                8 => swap64(d, data),
                _ => {}
            }
        }
        at += len.next_multiple_of(4);
    }
}

fn mac(s: &str) -> Mac {
    let mut m = [0u8; 6];
    for (i, part) in s.split(':').enumerate() {
        m[i] = u8::from_str_radix(part, 16).unwrap();
    }
    Mac(m)
}

const MESH0: u32 = 2; // ifindex of mesh0 in the capture's namespace
const ME: &str = "02:00:00:00:00:00";
const MESH1: &str = "02:00:00:00:01:00";
const MESH2: &str = "02:00:00:00:02:00";
/// The LAN host bridged behind mesh2 (a veth with a random MAC).
const LAN_HOST: &str = "26:03:b3:f6:a4:d6";

#[test]
fn family_and_its_groups() {
    let f = parse_family(&fixture("family")).unwrap().unwrap();
    assert!(f.id > GENL_ID_CTRL, "a dynamic id: {}", f.id);
    let names: Vec<&str> = f.groups.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["config", "scan", "regulatory", "mlme", "vendor", "nan"]
    );
    let mlme = f.group("mlme").unwrap();
    let config = f.group("config").unwrap();
    assert!(mlme > 0 && config > 0 && mlme != config);
    assert_eq!(f.group("mesh"), None);
}

#[test]
fn interfaces_mesh_points_only() {
    let ifs = parse_interfaces(&fixture("interfaces")).unwrap();
    assert_eq!(
        ifs,
        [MeshInterface {
            ifindex: MESH0,
            name: "mesh0".into(),
            mac: mac(ME),
            wiphy: 0,
            // Linux 6.1 reports no mesh ID for a mesh point.
            mesh_id: None,
        }]
    );
    // The same message with IFTYPE 2 (station) is not a mesh point.
    let mut bytes = fixture("interfaces");
    let mut found = false;
    for_each_attr(&bytes.clone()[20..], 20, |kind, d, at| {
        if kind == ATTR_IFTYPE {
            assert_eq!(get_u32(d, at).unwrap(), IFTYPE_MESH_POINT);
            bytes[at..at + 4].copy_from_slice(&2u32.to_ne_bytes());
            found = true;
        }
        Ok(())
    })
    .unwrap();
    assert!(found);
    assert_eq!(parse_interfaces(&bytes).unwrap(), []);
}

#[test]
fn stations_of_the_full_mesh() {
    let st = parse_stations("mesh0", &fixture("full-stations")).unwrap();
    assert_eq!(st.len(), 2);
    let macs: Vec<Mac> = st.iter().map(|s| s.mac).collect();
    assert_eq!(macs, [mac(MESH2), mac(MESH1)]);
    for s in &st {
        assert_eq!(s.iface, "mesh0");
        assert_eq!(s.plink_state, Some(PlinkState::Estab));
        assert_eq!(s.local_pm, Some(PowerMode::Active));
        assert_eq!(s.peer_pm, Some(PowerMode::Active));
        assert_eq!(s.nonpeer_pm, Some(PowerMode::Active));
        assert_eq!(s.connected_to_gate, Some(false));
        assert_eq!(s.connected_to_as, Some(false));
        assert_eq!(s.signal_dbm, Some(-30));
        assert_eq!(s.signal_avg_dbm, Some(-30));
        assert_eq!(s.airtime_metric, Some(820));
        assert_eq!(s.tx_retries, Some(0));
        assert_eq!(s.tx_failed, Some(0));
        assert_eq!(s.connected_s, Some(5));
    }
    // As iw printed them in the same phase: link ids, the rates.
    assert_eq!((st[0].llid, st[0].plid), (Some(51489), Some(49125)));
    assert_eq!((st[1].llid, st[1].plid), (Some(11205), Some(23184)));
    let mcs15_sgi = Bitrate {
        rate_100kbps: 1444,
        mcs: Some(15),
        vht_mcs: None,
        short_gi: true,
        width_mhz: 20,
    };
    assert_eq!(st[0].tx_bitrate, Some(mcs15_sgi));
    assert_eq!(st[0].rx_bitrate, Some(mcs15_sgi));
    // Counters: the 64-bit byte counters (the 32-bit ones are there too, equal).
    assert_eq!(st[0].rx_bytes, Some(0xb87));
    assert_eq!(st[0].tx_bytes, Some(0x35b));
    assert_eq!(st[0].rx_packets, Some(37));
    assert_eq!(st[0].tx_packets, Some(9));
    assert_eq!(st[0].inactive_ms, Some(56));
}

#[test]
fn station_after_mesh_leave_is_listen_without_metric() {
    let st = parse_stations("mesh0", &fixture("leave-stations")).unwrap();
    assert_eq!(st.len(), 1);
    let s = &st[0];
    assert_eq!(s.mac, mac(MESH1));
    assert_eq!(s.plink_state, Some(PlinkState::Listen));
    assert_eq!((s.llid, s.plid), (Some(0), Some(0)));
    assert_eq!(s.airtime_metric, Some(u32::MAX));
    assert_eq!(s.local_pm, Some(PowerMode::Unknown(0)));
    assert_eq!(s.peer_pm, Some(PowerMode::Active));
}

#[test]
fn mpaths_direct_then_via_mesh1() {
    let full = parse_mpaths("mesh0", &fixture("full-mpaths")).unwrap();
    assert_eq!(full.len(), 2);
    for p in &full {
        assert_eq!(p.next_hop, p.dest, "full mesh: every path is direct");
        assert_eq!(p.flags, 0x15);
        assert_eq!((p.hop_count, p.path_change), (Some(1), Some(1)));
    }
    let line = parse_mpaths("mesh0", &fixture("line-mpaths")).unwrap();
    let to2 = line.iter().find(|p| p.dest == mac(MESH2)).unwrap();
    assert_eq!(to2.next_hop, mac(MESH1));
    assert_eq!((to2.hop_count, to2.path_change), (Some(2), Some(2)));
    assert_eq!(to2.sn, 2);
    assert_eq!(to2.metric, 1055);
    assert!(to2.active());
}

#[test]
fn mpaths_of_the_silent_peer_as_iw_printed_them() {
    let p = parse_mpaths("mesh0", &fixture("silent-mpaths")).unwrap();
    // iw dev mesh0 mpath dump, right after the capture:
    // 02:00:00:00:02:00 02:00:00:00:01:00 mesh0 4 1055 0 0 800 3 0x6 2 2
    // 02:00:00:00:01:00 02:00:00:00:01:00 mesh0 2 235 0 0 0 0 0x14 1 1
    let want = [
        MeshPath {
            iface: "mesh0".into(),
            dest: mac(MESH2),
            next_hop: mac(MESH1),
            sn: 4,
            metric: 1055,
            qlen: 0,
            exptime_ms: 0,
            discovery_timeout_ms: 800,
            discovery_retries: 3,
            flags: 0x6,
            hop_count: Some(2),
            path_change: Some(2),
        },
        MeshPath {
            iface: "mesh0".into(),
            dest: mac(MESH1),
            next_hop: mac(MESH1),
            sn: 2,
            metric: 235,
            qlen: 0,
            exptime_ms: 0,
            discovery_timeout_ms: 0,
            discovery_retries: 0,
            flags: 0x14,
            hop_count: Some(1),
            path_change: Some(1),
        },
    ];
    assert_eq!(p, want);
}

#[test]
fn mpp_the_lan_host_behind_mesh2() {
    let want = [Mpp {
        iface: "mesh0".into(),
        dest: mac(LAN_HOST),
        proxy: mac(MESH2),
    }];
    assert_eq!(parse_mpps("mesh0", &fixture("mpp-mpps")).unwrap(), want);
    assert_eq!(parse_mpps("mesh0", &fixture("leave-mpps")).unwrap(), want);
    // An empty dump (no proxied destination): nothing.
    assert_eq!(parse_mpps("mesh0", &[]).unwrap(), []);
}

#[test]
fn mesh_config_names_values_units() {
    let c = parse_mesh_config("mesh0", &fixture("full-config"))
        .unwrap()
        .unwrap();
    assert_eq!(c.iface, "mesh0");
    assert_eq!(
        c.params.len(),
        MESH_PARAMS.len(),
        "the kernel sends them all"
    );
    let get = |name: &str| {
        let p = c.params.iter().find(|p| p.name == name).unwrap();
        (p.value, p.unit)
    };
    // Linux 6.1's defaults (net/wireless/mesh.c), as `iw get mesh_param` printed some.
    assert_eq!(get("mesh_retry_timeout"), (100, "milliseconds"));
    // The ifindex (32 bits, attribute 3 too) in the nest is not the holding timeout.
    assert_eq!(get("mesh_holding_timeout"), (100, "milliseconds"));
    assert_eq!(get("mesh_max_peer_links"), (32, ""));
    assert_eq!(get("mesh_fwding"), (1, ""));
    assert_eq!(get("mesh_hwmp_active_path_timeout"), (5000, "TUs"));
    assert_eq!(get("mesh_hwmp_rootmode"), (0, ""));
    assert_eq!(get("mesh_plink_timeout"), (1800, "seconds"));
    assert_eq!(get("mesh_rssi_threshold"), (0, "dBm"));
    assert_eq!(get("mesh_power_mode"), (1, ""));
    assert_eq!(c.params[0].name, "mesh_retry_timeout");
    assert_eq!(c.params[28].name, "mesh_connected_to_as");
    // PHASE4 lowered mesh_plink_timeout to 8 s.
    let silent = parse_mesh_config("mesh0", &fixture("silent-config"))
        .unwrap()
        .unwrap();
    let plink = silent
        .params
        .iter()
        .find(|p| p.name == "mesh_plink_timeout");
    assert_eq!(plink.map(|p| p.value), Some(8));
}

#[test]
fn station_events_as_iw_event_saw_them() {
    let mut out = Vec::new();
    parse_events(&fixture("events"), &mut out).unwrap();
    assert_eq!(
        out,
        [
            Event::DelStation {
                ifindex: MESH0,
                mac: mac(MESH2)
            },
            Event::DelStation {
                ifindex: MESH0,
                mac: mac(MESH1)
            },
            Event::NewStation {
                ifindex: MESH0,
                mac: mac(MESH1)
            },
        ]
    );
}

/// A generic netlink message built here: nlmsghdr, genlmsghdr, attributes.
fn genl(kind: u16, cmd: u8, seq: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = Message::new(kind, 0, seq, &[cmd, 0, 0, 0]);
    for (k, d) in attrs {
        m.attr(*k, d);
    }
    m.finish().to_vec()
}

fn nested(attrs: &[(u16, &[u8])]) -> Vec<u8> {
    // A message's attributes are what follows its 20 bytes of headers.
    genl(30, 0, 0, attrs)[20..].to_vec()
}

#[test]
fn built_station_with_wide_rates_and_32_bit_counters() {
    let rate = nested(&[
        (RATE_BITRATE, &u16::MAX.to_ne_bytes()),
        (RATE_BITRATE32, &86670u32.to_ne_bytes()),
        (RATE_VHT_MCS, &[9]),
        (RATE_160_MHZ, &[]),
        (RATE_SHORT_GI, &[]),
    ]);
    let rate16 = nested(&[(RATE_BITRATE, &65u16.to_ne_bytes()), (RATE_40_MHZ, &[])]);
    let info = nested(&[
        (STA_RX_BYTES, &7u32.to_ne_bytes()),
        (STA_TX_BYTES, &9u32.to_ne_bytes()),
        (STA_SIGNAL, &[(-71i8) as u8]),
        (STA_PLINK_STATE, &[5]),
        (STA_TX_BITRATE, &rate),
        (STA_RX_BITRATE, &rate16),
        (STA_CONNECTED_TO_GATE, &[1]),
        (STA_LOCAL_PM, &3u32.to_ne_bytes()),
    ]);
    let m = genl(
        30,
        NL80211_CMD_NEW_STATION,
        1,
        &[(ATTR_MAC, &[2, 0, 0, 0, 9, 0]), (ATTR_STA_INFO, &info)],
    );
    let s = &parse_stations("mesh9", &m).unwrap()[0];
    assert_eq!(s.iface, "mesh9");
    assert_eq!(s.mac, mac("02:00:00:00:09:00"));
    assert_eq!((s.rx_bytes, s.tx_bytes), (Some(7), Some(9)));
    assert_eq!(s.signal_dbm, Some(-71));
    assert_eq!(s.signal_avg_dbm, None);
    assert_eq!(s.plink_state, Some(PlinkState::Holding));
    assert_eq!(s.connected_to_gate, Some(true));
    assert_eq!(s.local_pm, Some(PowerMode::DeepSleep));
    let want_tx = Bitrate {
        rate_100kbps: 86670,
        mcs: None,
        vht_mcs: Some(9),
        short_gi: true,
        width_mhz: 160,
    };
    assert_eq!(s.tx_bitrate, Some(want_tx));
    assert_eq!(
        s.rx_bitrate.map(|r| (r.rate_100kbps, r.width_mhz)),
        Some((65, 40))
    );
}

#[test]
fn malformed_replies_are_errors_not_panics() {
    let good = fixture("full-stations");
    // Every truncation of a real reply: an error or fewer stations, never a panic.
    for n in 0..good.len() {
        let _ = parse_stations("m", &good[..n]);
        let _ = parse_mpaths("m", &good[..n]);
        let _ = parse_mesh_config("m", &good[..n]);
        let _ = parse_events(&good[..n], &mut Vec::new());
    }
    // A station without its MAC.
    let m = genl(
        30,
        NL80211_CMD_NEW_STATION,
        1,
        &[(ATTR_IFINDEX, &2u32.to_ne_bytes())],
    );
    assert_eq!(
        parse_stations("m", &m).unwrap_err().what,
        "station without MAC address"
    );
    // A 16-bit LLID of 3 bytes.
    let info = nested(&[(STA_LLID, &[1, 2, 3])]);
    let m = genl(
        30,
        NL80211_CMD_NEW_STATION,
        1,
        &[(ATTR_MAC, &[2; 6]), (ATTR_STA_INFO, &info)],
    );
    let e = parse_stations("m", &m).unwrap_err();
    assert_eq!(e.what, "attribute is not 16 bits");
    assert_eq!(e.offset, 20 + 12 + 4 + 4, "the LLID's payload");
    // A MAC of 5 bytes in a path.
    let m = genl(
        30,
        NL80211_CMD_NEW_MPATH,
        1,
        &[(ATTR_MAC, &[1; 5]), (ATTR_MPATH_NEXT_HOP, &[1; 6])],
    );
    assert_eq!(
        parse_mpaths("m", &m).unwrap_err().what,
        "MAC address is not 6 bytes"
    );
    // A generic netlink message shorter than its genlmsghdr.
    let mut m = Message::new(30, 0, 1, &[7, 0]);
    assert_eq!(
        parse_interfaces(m.finish()).unwrap_err().what,
        "truncated genlmsghdr"
    );
}

#[test]
fn reply_collection_ends_at_done_and_reports_errors() {
    let data = genl(30, NL80211_CMD_NEW_MPATH, 7, &[]);
    let stale = genl(30, NL80211_CMD_NEW_MPATH, 6, &[]);
    let done = {
        let mut m = Message::new(NLMSG_DONE, 0, 7, &0i32.to_ne_bytes());
        m.finish().to_vec()
    };
    let mut datagram = [stale, data.clone()].concat();
    let (mut state, mut out) = (DumpState::default(), Vec::new());
    collect_reply(&datagram, 7, &mut state, &mut out).unwrap();
    assert_eq!(out, data, "the stale message of request 6 is dropped");
    assert!(!state.done);
    collect_reply(&done, 7, &mut state, &mut out).unwrap();
    assert_eq!(
        state,
        DumpState {
            done: true,
            interrupted: false,
            error: 0
        }
    );
    // NLMSG_ERROR -ENODEV, with the request's header after the code; DUMP_INTR noted.
    let mut e = Message::new(NLMSG_ERROR, 0, 8, &(-libc::ENODEV).to_ne_bytes());
    e.attr(0, &[0; 12]);
    datagram = genl(30, NL80211_CMD_NEW_MPATH, 8, &[]);
    datagram[6..8].copy_from_slice(&NLM_F_DUMP_INTR.to_ne_bytes());
    datagram.extend_from_slice(e.finish());
    let (mut state, mut out) = (DumpState::default(), Vec::new());
    collect_reply(&datagram, 8, &mut state, &mut out).unwrap();
    assert_eq!(
        state,
        DumpState {
            done: true,
            interrupted: true,
            error: libc::ENODEV
        }
    );
}

#[test]
fn interface_events_and_overrun() {
    let new_if = genl(
        30,
        NL80211_CMD_NEW_INTERFACE,
        0,
        &[
            (ATTR_IFINDEX, &5u32.to_ne_bytes()),
            (ATTR_IFTYPE, &7u32.to_ne_bytes()),
        ],
    );
    let del_if = genl(
        30,
        NL80211_CMD_DEL_INTERFACE,
        0,
        &[(ATTR_IFINDEX, &5u32.to_ne_bytes())],
    );
    let scan = genl(30, 33, 0, &[(ATTR_IFINDEX, &5u32.to_ne_bytes())]);
    let overrun = Message::new(NLMSG_OVERRUN, 0, 0, &[]).finish().to_vec();
    let mut out = Vec::new();
    parse_events(&[new_if, scan, del_if, overrun].concat(), &mut out).unwrap();
    assert_eq!(
        out,
        [
            Event::Interface { ifindex: 5 },
            Event::InterfaceGone { ifindex: 5 },
            Event::Overrun
        ]
    );
}

#[test]
fn interface_events_from_the_config_group() {
    // `iw phy#0 interface add mon0 type monitor` then `iw dev mon0 del`, in mesh0's namespace.
    let mut out = Vec::new();
    parse_events(&fixture("interface-events"), &mut out).unwrap();
    assert_eq!(
        out,
        [
            Event::Interface { ifindex: 3 },
            Event::InterfaceGone { ifindex: 3 }
        ]
    );
}
