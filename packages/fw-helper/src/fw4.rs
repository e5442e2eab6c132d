//! fw4 include snippets (sans-IO planning). fw4 includes every readable
//! `<root>/chain-pre/<chain>/*.nft` at the top of the chain of that name in `table inet fw4`
//! (before its `ct state established,related accept`). We own one file name in each chain
//! directory.
//!
//! The snippets name devices literally, never fw4's `$<zone>_devices`: fw4 writes
//! `define lan_devices = { }` for a zone without devices and no define for a zone that is not
//! configured, and either makes nft reject fw4's whole ruleset (`fw4 reload` still exits 0 and
//! keeps the old one). A zone's devices are read from `fw4 print` (a fresh render of the
//! current config, not the state of the last reload) each time fw-helper applies, which the
//! init script's firewall reload trigger and the iface hotplug script do after zone changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::model::{Chain, Zones};

pub const DEFAULT_ROOT: &str = "/usr/share/nftables.d";
pub const SNIPPET: &str = "v6only-fw-helper.nft";

pub fn snippet_path(root: &Path, chain: &str) -> PathBuf {
    root.join("chain-pre").join(chain).join(SNIPPET)
}

/// What to change on disk; `old` holds the previous contents for restoring.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<(PathBuf, String)>,
    pub deletes: Vec<PathBuf>,
    pub old: Vec<(PathBuf, Option<String>)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.deletes.is_empty()
    }
}

/// Compares the wanted snippets (chain -> content) with what `read` finds; only files whose
/// content differs are written, and our files in chains no longer used are deleted.
pub fn plan(
    root: &Path,
    wanted: &BTreeMap<&'static str, String>,
    read: impl Fn(&Path) -> Option<String>,
) -> Plan {
    let mut p = Plan::default();
    for c in Chain::ALL {
        let path = snippet_path(root, c.name());
        let cur = read(&path);
        match (wanted.get(c.name()), &cur) {
            (Some(w), Some(cur)) if w == cur => continue,
            (Some(w), _) => p.writes.push((path.clone(), w.clone())),
            (None, Some(_)) => p.deletes.push(path.clone()),
            (None, None) => continue,
        }
        p.old.push((path, cur));
    }
    p
}

/// The zones of `fw4 print` output: its `define <zone>_devices = { "a", "b" }` lines (fw4
/// prefixes zone names starting with a digit with '_').
pub fn zones(print: &str) -> Zones {
    let mut z = Zones::new();
    for l in print.lines() {
        let Some((name, set)) = l
            .trim()
            .strip_prefix("define ")
            .and_then(|r| r.split_once("_devices = "))
        else {
            continue;
        };
        let name = match name.strip_prefix('_') {
            Some(n) if n.starts_with(|c: char| c.is_ascii_digit()) => n,
            _ => name,
        };
        let devs = set
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .split(',')
            .map(|d| d.trim().trim_matches('"'))
            .filter(|d| !d.is_empty())
            .map(String::from)
            .collect();
        z.insert(name.to_string(), devs);
    }
    z
}

/// A warning (file:line of the reference) for each zone the config names that fw4 does not
/// define or that has no devices: the rules for it are left out of the snippets.
pub fn unresolved_zones(cfg: &Config, zones: &Zones) -> Vec<String> {
    let refs = cfg
        .dhcp
        .iter()
        .map(|d| &d.ifaces)
        .chain(cfg.dns.iter().map(|d| &d.ifaces))
        .chain(cfg.ripng.iter().map(|d| &d.ifaces))
        .chain(cfg.nat64.iter().flat_map(|n| [&n.wan, &n.lan]))
        .flat_map(|i| i.zones.iter());
    let mut out = Vec::new();
    for z in refs {
        let why = match zones.get(&z.name) {
            Some(d) if !d.is_empty() => continue,
            Some(_) => "has no devices",
            None => "is not defined",
        };
        out.push(format!(
            "{}:{}: zone '{}' {why} in fw4; its rules are left out",
            z.undefined.path.display(),
            z.undefined.line,
            z.name
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_from_fw4_print() {
        let print = "table inet fw4 {\n\t#\n\t# Defines\n\t#\n\n\
            \tdefine lan_devices = { \"br-lan\", \"wlan0\" }\n\
            \tdefine lan_subnets = { 192.168.1.0/24, fd00::/64 }\n\n\
            \tdefine wan_devices = { \"eth1\" }\n\
            \tdefine wan_subnets = {  }\n\
            \tdefine guest_devices = {  }\n\
            \tdefine _1x_devices = { \"eth*\", 1234 }\n\
            \tdefine _x_devices = { \"x\" }\n\
            \tchain input {\n";
        let z = zones(print);
        assert_eq!(z.len(), 5, "{z:?}");
        assert_eq!(z["lan"], vec!["br-lan", "wlan0"]);
        assert_eq!(z["wan"], vec!["eth1"]);
        assert!(z["guest"].is_empty());
        assert_eq!(z["1x"], vec!["eth*", "1234"]);
        assert_eq!(z["_x"], vec!["x"]);
    }

    #[test]
    fn only_changes_are_planned() {
        let root = Path::new("/r");
        let mut wanted = BTreeMap::new();
        wanted.insert("input", "A\n".to_string());
        wanted.insert("forward", "B\n".to_string());
        let disk = |p: &Path| match p.to_str().unwrap() {
            "/r/chain-pre/input/v6only-fw-helper.nft" => Some("A\n".to_string()),
            "/r/chain-pre/forward/v6only-fw-helper.nft" => Some("old\n".to_string()),
            "/r/chain-pre/srcnat/v6only-fw-helper.nft" => Some("stale\n".to_string()),
            _ => None,
        };
        let p = plan(root, &wanted, disk);
        assert_eq!(
            p.writes,
            vec![(
                PathBuf::from("/r/chain-pre/forward/v6only-fw-helper.nft"),
                "B\n".to_string()
            )]
        );
        assert_eq!(
            p.deletes,
            vec![PathBuf::from("/r/chain-pre/srcnat/v6only-fw-helper.nft")]
        );
        assert_eq!(p.old.len(), 2);
        let same = plan(root, &wanted, |p| {
            let s = p.to_str().unwrap();
            if s.contains("/input/") {
                Some("A\n".into())
            } else if s.contains("/forward/") {
                Some("B\n".into())
            } else {
                None
            }
        });
        assert!(same.is_empty());
    }
}
