//! netifd's logical interfaces (`lan`, `wan6`): what `ubus call network.interface.NAME status`
//! says about one, read as JSON (a key is found where it is, not wherever its name occurs).

use std::net::Ipv4Addr;
use std::process::Command;

use crate::json::Value;

/// The parts of netifd's interface status the daemons use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub up: bool,
    /// The device packets go through (`pppoe-wan` for a PPPoE `wan`); only while up.
    pub l3_device: Option<String>,
    /// The configured main device (`eth1` for that `wan`), also while down.
    pub device: Option<String>,
    /// `ipv4-address`: address and prefix length, in netifd's order.
    pub ipv4: Vec<(Ipv4Addr, u8)>,
}

impl Status {
    /// netifd's status object; `None` when the text is not a JSON object.
    pub fn parse(json: &str) -> Option<Status> {
        let v = Value::parse(json)?;
        if !matches!(v, Value::Object(_)) {
            return None;
        }
        let string = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let ipv4 = v
            .get("ipv4-address")
            .and_then(Value::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| {
                let addr = a.get("address")?.as_str()?.parse().ok()?;
                let mask = a.get("mask")?.as_u64().filter(|m| *m <= 32)?;
                Some((addr, mask as u8))
            })
            .collect();
        Some(Status {
            up: v.get("up").and_then(Value::as_bool).unwrap_or(false),
            l3_device: string("l3_device"),
            device: string("device"),
            ipv4,
        })
    }
}

/// netifd's status of the logical interface `name` (through the `ubus` command, at most 5 s).
/// `None` when ubus or the interface is not there.
pub fn status(name: &str) -> Option<Status> {
    // The name becomes part of a ubus object path: no '.' (another object), nothing odd.
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return None;
    }
    let out = Command::new("ubus")
        .args([
            "-t",
            "5",
            "call",
            &format!("network.interface.{name}"),
            "status",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Status::parse(&String::from_utf8_lossy(&out.stdout))
}

/// The device of the logical interface `name` while it is up (`lan` -> `br-lan`).
pub fn device_of(name: &str) -> Option<String> {
    status(name)?.l3_device
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What device_of reads from ubus's answer.
    fn l3_device_from_status(json: &str) -> Option<String> {
        Status::parse(json)?.l3_device
    }

    /// `ubus call network.interface.lan status` on OpenWrt 24.10 (static, bridge, ULA prefix
    /// assigned), as ubus prints it: tabs, and empty arrays over two lines.
    const LAN: &str = "{\n\t\"up\": true,\n\t\"pending\": false,\n\t\"available\": true,\n\t\"autostart\": true,\n\t\"dynamic\": false,\n\t\"uptime\": 1253,\n\t\"l3_device\": \"br-lan\",\n\t\"proto\": \"static\",\n\t\"device\": \"br-lan\",\n\t\"updated\": [\n\t\t\"addresses\"\n\t],\n\t\"metric\": 0,\n\t\"dns_metric\": 0,\n\t\"delegation\": true,\n\t\"ipv4-address\": [\n\t\t{\n\t\t\t\"address\": \"192.168.1.1\",\n\t\t\t\"mask\": 24\n\t\t}\n\t],\n\t\"ipv6-address\": [\n\t\t\n\t],\n\t\"ipv6-prefix\": [\n\t\t\n\t],\n\t\"ipv6-prefix-assignment\": [\n\t\t{\n\t\t\t\"address\": \"fd4c:9a1e:27b3::\",\n\t\t\t\"mask\": 60,\n\t\t\t\"local-address\": {\n\t\t\t\t\"address\": \"fd4c:9a1e:27b3::1\",\n\t\t\t\t\"mask\": 60\n\t\t\t}\n\t\t}\n\t],\n\t\"route\": [\n\t\t\n\t],\n\t\"dns-server\": [\n\t\t\n\t],\n\t\"dns-search\": [\n\t\t\n\t],\n\t\"neighbors\": [\n\t\t\n\t],\n\t\"inactive\": {\n\t\t\"ipv4-address\": [\n\t\t\t\n\t\t],\n\t\t\"ipv6-address\": [\n\t\t\t\n\t\t],\n\t\t\"route\": [\n\t\t\t\n\t\t],\n\t\t\"dns-server\": [\n\t\t\t\n\t\t],\n\t\t\"dns-search\": [\n\t\t\t\n\t\t],\n\t\t\"neighbors\": [\n\t\t\t\n\t\t]\n\t},\n\t\"data\": {\n\t\t\n\t}\n}\n";

    /// A PPPoE `wan` that is up: the layer-3 device is not the configured one, and the
    /// peer's address is in `ptpaddress`.
    const WAN_PPPOE: &str = r#"{
	"up": true,
	"pending": false,
	"available": true,
	"autostart": true,
	"dynamic": false,
	"uptime": 86,
	"l3_device": "pppoe-wan",
	"proto": "pppoe",
	"device": "eth1",
	"updated": [
		"addresses",
		"routes"
	],
	"metric": 0,
	"dns_metric": 0,
	"delegation": true,
	"ipv4-address": [
		{
			"address": "198.51.100.7",
			"mask": 32,
			"ptpaddress": "198.51.100.1"
		}
	],
	"ipv6-address": [
		{
			"address": "fe80::5cf1:2ff:fe3a:91",
			"mask": 128
		}
	],
	"route": [
		{
			"target": "0.0.0.0",
			"mask": 0,
			"nexthop": "198.51.100.1",
			"source": "0.0.0.0/0"
		}
	],
	"dns-server": [
		"192.0.2.53"
	],
	"inactive": {
		"ipv4-address": [],
		"route": []
	},
	"data": {}
}"#;

    /// `wan6` while its device is missing: no l3_device, an error list, and a proto handler's
    /// `data` with keys of its own (here a "device" one level down).
    const WAN6_DOWN: &str = r#"{
	"up": false,
	"pending": false,
	"available": false,
	"autostart": true,
	"dynamic": false,
	"proto": "dhcpv6",
	"data": {
		"device": "eth9",
		"l3_device": "not-this"
	},
	"errors": [
		{
			"subsystem": "interface",
			"code": "NO_DEVICE"
		}
	]
}"#;

    #[test]
    fn lan() {
        let s = Status::parse(LAN).unwrap();
        assert_eq!(
            s,
            Status {
                up: true,
                l3_device: Some("br-lan".into()),
                device: Some("br-lan".into()),
                ipv4: vec![(Ipv4Addr::new(192, 168, 1, 1), 24)],
            }
        );
        assert_eq!(l3_device_from_status(LAN).as_deref(), Some("br-lan"));
    }

    #[test]
    fn pppoe_wan() {
        let s = Status::parse(WAN_PPPOE).unwrap();
        assert_eq!(s.l3_device.as_deref(), Some("pppoe-wan"));
        assert_eq!(s.device.as_deref(), Some("eth1"));
        assert_eq!(s.ipv4, [(Ipv4Addr::new(198, 51, 100, 7), 32)]);
    }

    #[test]
    fn down_interface_has_no_l3_device() {
        // Keys of nested objects are not the interface's (a substring search finds them).
        let s = Status::parse(WAN6_DOWN).unwrap();
        assert_eq!(s, Status::default());
        assert_eq!(l3_device_from_status(WAN6_DOWN), None);
    }

    #[test]
    fn odd_answers() {
        assert_eq!(l3_device_from_status(""), None);
        assert_eq!(l3_device_from_status("Command failed: Not found"), None);
        assert_eq!(l3_device_from_status("[\"l3_device\", \"x\"]"), None);
        assert_eq!(l3_device_from_status(r#"{"l3_device": 5}"#), None);
        assert_eq!(
            l3_device_from_status(r#"{"proto": "x\"l3_device\": \"no\"", "l3_device": "yes"}"#)
                .as_deref(),
            Some("yes")
        );
        // Bad addresses are left out, not fatal.
        let s = Status::parse(
            r#"{"ipv4-address": [{"address": "x", "mask": 24}, {"address": "192.0.2.1", "mask": 33},
               {"address": "192.0.2.2", "mask": 30}]}"#,
        )
        .unwrap();
        assert_eq!(s.ipv4, [(Ipv4Addr::new(192, 0, 2, 2), 30)]);
    }

    #[test]
    fn names_that_are_not_asked_for() {
        // Refused before any ubus call (so this holds without ubus too).
        for name in ["", "lan.x", "-t", "a b", "a/b", "lan\n"] {
            assert_eq!(status(name), None, "{name:?}");
        }
    }
}
