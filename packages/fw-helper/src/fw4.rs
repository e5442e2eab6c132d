//! fw4 include snippets (sans-IO planning). fw4 includes every readable
//! `<root>/chain-pre/<chain>/*.nft` at the top of the chain of that name in `table inet fw4`
//! (before its `ct state established,related accept`), with the zone defines
//! (`$<zone>_devices`) in scope. We own one file name in each chain directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::Chain;

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

#[cfg(test)]
mod tests {
    use super::*;

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
