//! The feed index, as OpenWrt's `scripts/ipkg-make-index.sh` and the `package/index` target
//! of `package/Makefile` write it:
//!
//! * `Packages.manifest`: for every `*.ipk` below the directory (paths sorted, `kernel_*` and
//!   `libc_*` skipped) its `control` file with `Filename:`, `Size:` and `SHA256sum:` inserted
//!   before `Description:`, then a blank line; a directory without packages gives one blank line;
//! * `Packages`: the manifest without lines starting with Maintainer, LicenseFiles, Source
//!   (also SourceName, SourceDateEpoch) and Require (Require-User); two newlines are appended
//!   when (64 + size) % 128 is 110 or 111 (OpenWrt's workaround for an old usign SHA-512 bug);
//! * `Packages.gz`: `gzip -9n` of `Packages`.
//!
//! A `Packages.sig` left from an earlier run no longer matches, so it is removed.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ipk::{gunzip, gzip, write_atomic};
use crate::tar;

pub const DROPPED_PREFIXES: &[&str] = &[
    "Maintainer",
    "LicenseFiles",
    "Source",
    "SourceName",
    "Require",
    "SourceDateEpoch",
];

fn find_ipks(root: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), String> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let rd = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in rd {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().map_err(|e| format!("{}: {e}", e))?;
        if ft.is_dir() {
            find_ipks(root, &r, out)?;
        } else if name.ends_with(".ipk") && !name.starts_with('.') {
            out.push(r);
        }
    }
    Ok(())
}

/// `./control` of a package file.
pub fn control_of(ipk: &[u8]) -> Result<String, String> {
    let outer = tar::read_files(&gunzip(ipk)?)?;
    let (_, ctl_gz) = outer
        .iter()
        .find(|(n, _)| n == "./control.tar.gz")
        .ok_or("no ./control.tar.gz member")?;
    let ctl = tar::read_files(&gunzip(ctl_gz)?)?;
    let (_, control) = ctl
        .iter()
        .find(|(n, _)| n == "./control")
        .ok_or("no ./control in control.tar.gz")?;
    String::from_utf8(control.clone()).map_err(|_| "control is not UTF-8".to_string())
}

pub fn entry(filename: &str, ipk: &[u8]) -> Result<String, String> {
    let control = control_of(ipk)?;
    let sha = hex(&Sha256::digest(ipk));
    let mut out = String::new();
    let mut inserted = false;
    for line in control.split_inclusive('\n') {
        if line.starts_with("Description:") && !inserted {
            out.push_str(&format!(
                "Filename: {filename}\nSize: {}\nSHA256sum: {sha}\n",
                ipk.len()
            ));
            inserted = true;
        }
        out.push_str(line);
    }
    if !inserted {
        return Err("control has no Description: field".into());
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    Ok(out)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn filter(manifest: &str) -> String {
    let mut out: String = manifest
        .split_inclusive('\n')
        .filter(|l| !DROPPED_PREFIXES.iter().any(|p| l.starts_with(p)))
        .collect();
    if matches!((64 + out.len()) % 128, 110 | 111) {
        out.push_str("\n\n");
    }
    out
}

pub struct Index {
    pub manifest: String,
    pub packages: String,
    pub names: Vec<String>,
}

pub fn make(dir: &Path) -> Result<Index, String> {
    let mut ipks = Vec::new();
    find_ipks(dir, "", &mut ipks)?;
    // `find . -name '*.ipk' | sort` under LC_ALL=C: byte order of "./<path>".
    ipks.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut manifest = String::new();
    let mut names = Vec::new();
    for rel in &ipks {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if base.starts_with("kernel_") || base.starts_with("libc_") {
            continue;
        }
        let p: PathBuf = dir.join(rel);
        let bytes = fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        manifest.push_str(&entry(rel, &bytes).map_err(|e| format!("{}: {e}", p.display()))?);
        names.push(rel.clone());
    }
    if ipks.is_empty() {
        manifest.push('\n');
    }
    let packages = filter(&manifest);
    Ok(Index {
        manifest,
        packages,
        names,
    })
}

pub fn write(dir: &Path) -> Result<Index, String> {
    let idx = make(dir)?;
    write_atomic(
        &dir.join("Packages.manifest"),
        idx.manifest.as_bytes(),
        0o644,
    )?;
    write_atomic(&dir.join("Packages"), idx.packages.as_bytes(), 0o644)?;
    write_atomic(
        &dir.join("Packages.gz"),
        &gzip(idx.packages.as_bytes(), 9),
        0o644,
    )?;
    let sig = dir.join("Packages.sig");
    if sig.exists() {
        fs::remove_file(&sig).map_err(|e| format!("{}: {e}", sig.display()))?;
    }
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_drops_the_fields_openwrt_drops() {
        let m = "Package: a\nVersion: 1\nSource: feeds/x/a\nSourceName: a\nSourceDateEpoch: 1\nLicense: MIT\n\
LicenseFiles: L\nRequire-User: u\nMaintainer: m\nArchitecture: x\nDescription:  d\n Source line kept\n\n";
        let p = filter(m);
        assert!(p.starts_with("Package: a\nVersion: 1\nLicense: MIT\nArchitecture: x\nDescription:  d\n Source line kept\n\n"));
    }

    #[test]
    fn padding_rule() {
        // 46 + 64 = 110 -> padded
        let m = format!("Package: {}\n", "x".repeat(46 - 10));
        assert_eq!(m.len(), 46);
        assert_eq!(filter(&m), format!("{m}\n\n"));
        let m = format!("Package: {}\n", "x".repeat(48 - 10));
        assert_eq!(filter(&m), m);
    }

    #[test]
    fn entry_inserts_before_description() {
        use crate::tar::{write, Entry};
        let ctl = write(
            &[
                Entry::dir("./", 0o755),
                Entry::file(
                    "./control",
                    0o644,
                    b"Package: a\nInstalled-Size: 3\nDescription:  x\n y\n".to_vec(),
                ),
            ],
            0,
        )
        .unwrap();
        let ipk = crate::ipk::pack(&[0; 10240], &ctl, 0).unwrap();
        let e = entry("a_1_x.ipk", &ipk).unwrap();
        let sha = hex(&Sha256::digest(&ipk));
        assert_eq!(
            e,
            format!("Package: a\nInstalled-Size: 3\nFilename: a_1_x.ipk\nSize: {}\nSHA256sum: {sha}\nDescription:  x\n y\n\n", ipk.len())
        );
    }
}
