//! The text against what iw printed in the same phase of the lab (`tests/fixtures/*-iw*.txt`),
//! the JSON read back with the project's JSON reader.

use super::*;
use crate::model::{Mac, PlinkState};
use crate::nl80211::tests::fixture;
use crate::nl80211::{parse_mesh_config, parse_mpaths, parse_mpps, parse_stations};
use v6only_common::json::Value;

fn iw(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Each of our lines is one of iw's, in iw's order (iw prints more lines: durations, flags,
/// ...). The inactive time moved between the capture and iw's run: only its label counts.
fn lines_up_with_iw(ours: &str, theirs: &str) {
    let theirs: Vec<&str> = theirs.lines().collect();
    let mut at = 0;
    for line in ours.lines() {
        let same = |t: &&str| {
            if line.starts_with("\tinactive time:") {
                t.starts_with("\tinactive time:")
            } else {
                *t == line
            }
        };
        match theirs[at..].iter().position(same) {
            Some(i) => at += i + 1,
            None => panic!("{line:?} is not in iw's output after line {at}"),
        }
    }
    let stations = |s: &str| s.lines().filter(|l| l.starts_with("Station ")).count();
    assert_eq!(
        stations(ours),
        theirs.iter().filter(|l| l.starts_with("Station ")).count()
    );
}

#[test]
fn station_text_lines_up_with_iw() {
    let st = parse_stations("mesh0", &fixture("silent-stations")).unwrap();
    let text = stations_text(&st);
    lines_up_with_iw(&text, &iw("silent-iw-stations"));
    assert_eq!(
        text.lines().count(),
        2 * 22,
        "every field we read, for both peers"
    );
    assert!(text.contains("\ttx bitrate:\t13.0 MBit/s MCS 8\n"));
    assert!(text.contains("\trx bitrate:\t144.4 MBit/s MCS 15 short GI\n"));
    // A peer after `mesh leave`: LISTEN, metric -1 as iw prints it, power mode UNKNOWN.
    let st = parse_stations("mesh0", &fixture("leave-stations")).unwrap();
    let text = stations_text(&st);
    lines_up_with_iw(&text, &iw("leave-iw-stations"));
    assert!(text.contains("\tmesh airtime link metric: -1\n"));
    assert!(text.contains("\tmesh local PS mode:\tUNKNOWN\n"));
}

#[test]
fn mpath_and_mpp_text_as_iw_printed() {
    let p = parse_mpaths("mesh0", &fixture("silent-mpaths")).unwrap();
    assert_eq!(mpaths_text(&p), iw("silent-iw-mpath"));
    let m = parse_mpps("mesh0", &fixture("mpp-mpps")).unwrap();
    assert_eq!(mpps_text(&m), iw("mpp-iw-mpp"));
    // Nothing to show: the header alone, as iw prints it.
    assert_eq!(mpaths_text(&[]), MPATH_HEADER);
    assert_eq!(mpps_text(&[]), MPP_HEADER);
    // A kernel without hop count and path change: iw leaves the columns out.
    let mut old = p[1].clone();
    (old.hop_count, old.path_change) = (None, None);
    assert!(mpaths_text(&[old]).ends_with("\t0\t0\t0x14\n"));
}

#[test]
fn bitrates_as_iw_prints_them() {
    let r = |rate_100kbps, mcs, vht_mcs, short_gi, width_mhz| Bitrate {
        rate_100kbps,
        mcs,
        vht_mcs,
        short_gi,
        width_mhz,
    };
    assert_eq!(
        bitrate_text(&r(195, Some(2), None, false, 20)),
        "19.5 MBit/s MCS 2"
    );
    assert_eq!(
        bitrate_text(&r(8667, None, Some(9), true, 160)),
        "866.7 MBit/s VHT-MCS 9 160MHz short GI"
    );
    assert_eq!(bitrate_text(&r(60, None, None, false, 20)), "6.0 MBit/s");
    assert_eq!(bitrate_text(&r(0, None, None, false, 20)), "(unknown)");
    assert_eq!(
        bitrate_text(&r(1500, Some(7), None, false, 40)),
        "150.0 MBit/s MCS 7 40MHz"
    );
}

#[test]
fn config_text_names_values_units() {
    let c = parse_mesh_config("mesh0", &fixture("full-config"))
        .unwrap()
        .unwrap();
    let text = configs_text(std::slice::from_ref(&c));
    // `NAME = ` and what `iw dev mesh0 get mesh_param NAME` printed, for each NAME.
    assert_eq!(text, iw("iw-config"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 29);
    assert_eq!(lines[0], "mesh_retry_timeout = 100 milliseconds");
    assert!(lines.contains(&"mesh_fwding = 1"));
    assert!(lines.contains(&"mesh_plink_timeout = 1800 seconds"));
    assert!(lines.contains(&"mesh_hwmp_active_path_timeout = 5000 TUs"));
    assert!(lines.contains(&"mesh_power_mode = active"));
    assert!(lines.contains(&"mesh_rssi_threshold = 0 dBm"));
    // Two interfaces: each set under its name.
    let mut c2 = c.clone();
    c2.iface = "mesh1".into();
    let text = configs_text(&[c, c2]);
    assert!(text.starts_with("mesh0:\nmesh_retry_timeout = 100 milliseconds\n"));
    assert!(text.contains("\nmesh1:\nmesh_retry_timeout"));
}

#[test]
fn json_with_the_contract_keys() {
    let p = parse_mpaths("mesh0", &fixture("silent-mpaths")).unwrap();
    let v = Value::parse(&mpaths_json(&p)).unwrap();
    let first = &v.as_array().unwrap()[0];
    let s = |k: &str| first.get(k).and_then(Value::as_str).unwrap().to_string();
    let n = |k: &str| first.get(k).and_then(Value::as_u64).unwrap();
    assert_eq!(s("dest"), "02:00:00:00:02:00");
    assert_eq!(s("next_hop"), "02:00:00:00:01:00");
    assert_eq!(s("iface"), "mesh0");
    assert_eq!(
        [n("sn"), n("metric"), n("qlen"), n("exptime_ms")],
        [4, 1055, 0, 0]
    );
    assert_eq!(
        [n("discovery_timeout_ms"), n("discovery_retries")],
        [800, 3]
    );
    assert_eq!([n("hop_count"), n("path_change")], [2, 2]);
    let flags: Vec<&str> = first
        .get("flags")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(flags, ["RESOLVING", "SN_VALID"]);

    let st = parse_stations("mesh0", &fixture("leave-stations")).unwrap();
    let text = stations_json(&st);
    let v = Value::parse(&text).unwrap();
    let s0 = &v.as_array().unwrap()[0];
    assert_eq!(
        s0.get("mac").and_then(Value::as_str),
        Some("02:00:00:00:01:00")
    );
    assert_eq!(
        s0.get("plink_state").and_then(Value::as_str),
        Some("LISTEN")
    );
    assert_eq!(s0.get("llid").and_then(Value::as_u64), Some(0));
    assert_eq!(
        s0.get("connected_to_gate").and_then(Value::as_bool),
        Some(false)
    );
    assert_eq!(s0.get("tx_failed").and_then(Value::as_u64), Some(2));
    // iw prints -1; so does the JSON (the reader has no signed accessor: the text).
    assert!(text.contains(r#""airtime_metric":-1,"#), "{text}");
    assert!(text.contains(r#""signal_dbm":-30,"#), "{text}");
    assert!(text.contains(r#""tx_bitrate":{"kbps":130000,"mcs":15,"vht_mcs":null,"#));

    let m = parse_mpps("mesh0", &fixture("mpp-mpps")).unwrap();
    assert_eq!(
        mpps_json(&m),
        r#"[{"dest":"26:03:b3:f6:a4:d6","proxy":"02:00:00:00:02:00","iface":"mesh0"}]"#
    );
    assert_eq!(mpps_json(&[]), "[]");

    let c = parse_mesh_config("mesh0", &fixture("full-config"))
        .unwrap()
        .unwrap();
    let text = configs_json(&[c]);
    assert!(text.starts_with(r#"[{"iface":"mesh0","mesh_retry_timeout":100,"#));
    assert!(text.contains(r#""mesh_power_mode":"active","#));
}

#[test]
fn absent_fields_are_null() {
    let s = Station {
        plink_state: Some(PlinkState::OpnSnt),
        ..Station::new("mesh0", Mac([0xAA, 0xBB, 0xCC, 0, 0, 1]))
    };
    let text = stations_json(std::slice::from_ref(&s));
    assert!(text.starts_with(
        r#"[{"mac":"aa:bb:cc:00:00:01","iface":"mesh0","plink_state":"OPN_SNT","llid":null,"#
    ));
    assert!(text.contains(r#""tx_bitrate":null,"#));
    assert_eq!(
        stations_text(&[s]),
        "Station aa:bb:cc:00:00:01 (on mesh0)\n\tmesh plink:\tOPN_SNT\n"
    );
}

#[test]
fn dump_commands_by_name() {
    assert_eq!(Dump::from_command("stations"), Some(Dump::Stations));
    assert_eq!(Dump::from_command("mpath"), Some(Dump::Mpath));
    assert_eq!(Dump::from_command("mpp"), Some(Dump::Mpp));
    assert_eq!(Dump::from_command("config"), Some(Dump::Config));
    assert_eq!(Dump::from_command("status"), None);
}
