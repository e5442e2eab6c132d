//! Arbitrary bytes as an nl80211 reply through every parser: no panic, and what a parser
//! accepts holds together. The mpp walker accepts whatever the mpath parser accepts (the same
//! messages, minus the MPATH_INFO nest), with the same addresses; the text has one line per
//! path or proxy under iw's header; the JSON reads back as an array of as many objects. The
//! seeds are the replies captured from Linux 6.1 (tests/fixtures/*.hex, one file each).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_monitor::nl80211::{
    parse_events, parse_family, parse_interfaces, parse_mesh_config, parse_mpaths, parse_mpps,
    parse_stations,
};
use mesh_monitor::show;
use v6only_common::json::Value;

fn json_items(text: &str) -> usize {
    let value = Value::parse(text).expect("our JSON reads back");
    value.as_array().expect("a JSON array").len()
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_family(data);
    let _ = parse_interfaces(data);
    let mut events = Vec::new();
    let _ = parse_events(data, &mut events);

    if let Ok(stations) = parse_stations("mesh0", data) {
        assert!(stations.iter().all(|s| s.iface == "mesh0"));
        let text = show::stations_text(&stations);
        let heads = text.lines().filter(|l| l.starts_with("Station ")).count();
        assert_eq!(heads, stations.len());
        assert_eq!(json_items(&show::stations_json(&stations)), stations.len());
    }

    let paths = parse_mpaths("mesh0", data);
    let proxies = parse_mpps("mesh0", data);
    if let Ok(paths) = &paths {
        let proxies = proxies.as_ref().expect("mpp accepts what mpath accepts");
        assert_eq!(paths.len(), proxies.len());
        for (p, m) in paths.iter().zip(proxies) {
            assert_eq!((p.dest, p.next_hop), (m.dest, m.proxy));
        }
        assert_eq!(show::mpaths_text(paths).lines().count(), 1 + paths.len());
        assert_eq!(json_items(&show::mpaths_json(paths)), paths.len());
    }
    if let Ok(proxies) = &proxies {
        assert_eq!(show::mpps_text(proxies).lines().count(), 1 + proxies.len());
        assert_eq!(json_items(&show::mpps_json(proxies)), proxies.len());
    }

    if let Ok(Some(config)) = parse_mesh_config("mesh0", data) {
        assert!(config.params.len() <= 29);
        let text = show::configs_text(std::slice::from_ref(&config));
        assert_eq!(text.lines().count(), config.params.len());
        assert_eq!(json_items(&show::configs_json(&[config])), 1);
    }
});
