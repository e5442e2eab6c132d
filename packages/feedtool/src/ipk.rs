//! Builds `.ipk` files the way OpenWrt 24.10's `include/package-pack.mk` and
//! `scripts/ipkg-build` do:
//!
//! * the package root is filled by executing the Makefile's `Package/<name>/install`;
//! * conffiles that are not regular files in the root are listed in
//!   `/lib/upgrade/keep.d/<name>`; `CONTROL/conffiles` lists the regular files the conffiles
//!   entries name (directories expanded), `LC_ALL=C`-sorted;
//! * `CONTROL/control` is the field list of package-pack.mk plus `Description:` whose lines
//!   have their leading white space replaced by one space; `postinst`/`prerm` are the fixed
//!   scripts calling `default_postinst`/`default_prerm` from /lib/functions.sh;
//! * `data.tar.gz` and `control.tar.gz` are `tar --format=gnu --numeric-owner --sort=name
//!   --mtime=@EPOCH -c . | gzip -n`, with everything owned by 0:0;
//! * `Installed-Size` is the byte length of the uncompressed data tar;
//! * the package is a gzip'd tar (not ar) of `./debian-binary` ("2.0\n"), `./data.tar.gz`,
//!   `./control.tar.gz`, in that order, named `<name>_<version>_<arch>.ipk`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::makefile::{Install, Makefile, Package, Src, MODE_DIR};
use crate::tar::{self, Entry, Tree};

/// Used when neither PKG_SOURCE_DATE_EPOCH nor SOURCE_DATE_EPOCH is set: 2024-01-01T00:00:00Z.
pub const DEFAULT_EPOCH: u64 = 1_704_067_200;

pub const POSTINST: &str = "#!/bin/sh\n\
[ \"${IPKG_NO_SCRIPT}\" = \"1\" ] && exit 0\n\
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n\
. ${IPKG_INSTROOT}/lib/functions.sh\n\
default_postinst $0 $@\n";

pub const PRERM: &str = "#!/bin/sh\n\
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n\
. ${IPKG_INSTROOT}/lib/functions.sh\n\
default_prerm $0 $@\n";

#[derive(Debug, Clone)]
pub struct Options {
    pub makefile: PathBuf,
    pub arch: String,
    pub bin_dir: PathBuf,
    pub out_dir: PathBuf,
    pub package: Option<String>,
    /// The feed name in `Source: feeds/<feed>/<dir>`.
    pub feed: String,
    /// Overrides the whole `Source:` value.
    pub source: Option<String>,
    pub epoch: u64,
    /// Overrides PKG_RELEASE (a test feed with a newer version of the same package).
    pub release: Option<String>,
}

/// PKG_SOURCE_DATE_EPOCH, then SOURCE_DATE_EPOCH (the order ipkg-build uses), else the constant.
pub fn epoch_from_env() -> Result<u64, String> {
    for var in ["PKG_SOURCE_DATE_EPOCH", "SOURCE_DATE_EPOCH"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{var}={v:?} is not a number of seconds"));
            }
        }
    }
    Ok(DEFAULT_EPOCH)
}

pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    // `gzip -n`: no name, mtime 0, OS byte 3 (Unix); XFL follows the level as gzip sets it.
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::new(level));
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    Ok(out)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
}

/// Version as ipkg-build puts it into the file name: an `N:` epoch prefix dropped.
pub fn file_version(version: &str) -> &str {
    let b = version.as_bytes();
    if b.len() > 2 && b[1] == b':' {
        &version[2..]
    } else {
        version
    }
}

/// The architecture a package is built for: `all` for a `PKGARCH:=all` package, else the one
/// asked for.
pub fn package_arch<'a>(pkg: &Package, arch: &'a str) -> &'a str {
    if pkg.noarch {
        "all"
    } else {
        arch
    }
}

pub fn ipk_name(name: &str, version: &str, arch: &str) -> String {
    format!("{name}_{}_{arch}.ipk", file_version(version))
}

/// Executes the install recipe into a fresh package root.
pub fn stage(pkg: &Package, mk_dir: &Path, bin_dir: &Path) -> Result<Tree, String> {
    let mut t = Tree::new();
    for step in &pkg.install {
        match step {
            Install::Dir(dirs, line) => {
                for d in dirs {
                    t.mkdir_p(d, MODE_DIR)
                        .map_err(|e| format!("{}: {e}", line.at()))?;
                }
            }
            Install::Copy {
                srcs,
                dst,
                mode,
                line,
            } => {
                let into_dir = dst.ends_with('/') || t.is_dir(dst.trim_end_matches('/'));
                let dst_base = dst.trim_end_matches('/');
                if !into_dir && srcs.len() > 1 {
                    return Err(format!(
                        "{}: several sources but /{dst_base} is not a directory",
                        line.at()
                    ));
                }
                if dst.ends_with('/') && !t.is_dir(dst_base) {
                    return Err(format!(
                        "{}: directory /{dst_base} does not exist (missing $(INSTALL_DIR)?)",
                        line.at()
                    ));
                }
                for src in srcs {
                    let (path, base) = match src {
                        Src::Bin(n) => (bin_dir.join(n), n.clone()),
                        Src::Local(rel) => (
                            mk_dir.join(rel),
                            rel.rsplit('/').next().unwrap_or(rel).to_string(),
                        ),
                    };
                    let meta = fs::metadata(&path)
                        .map_err(|e| format!("{}: {}: {e}", line.at(), path.display()))?;
                    if !meta.is_file() {
                        return Err(format!(
                            "{}: {} is not a regular file",
                            line.at(),
                            path.display()
                        ));
                    }
                    let data = fs::read(&path)
                        .map_err(|e| format!("{}: {}: {e}", line.at(), path.display()))?;
                    let target = if into_dir {
                        if dst_base.is_empty() {
                            base
                        } else {
                            format!("{dst_base}/{base}")
                        }
                    } else {
                        dst_base.to_string()
                    };
                    t.put_file(&target, *mode, data)
                        .map_err(|e| format!("{}: {e}", line.at()))?;
                }
            }
        }
    }
    // package-pack.mk deletes version-control and editor leftovers from the root.
    for p in t.paths() {
        let base = p.rsplit('/').next().unwrap_or(&p);
        if base == "CVS" || base == ".svn" || base.starts_with(".#") || base.ends_with('~') {
            t.remove(&p);
        }
    }
    Ok(t)
}

/// Returns the `conffiles` text (None when empty) and adds keep.d for entries that are not
/// regular files, as package-pack.mk + ipkg-build do.
pub fn conffiles(pkg: &Package, t: &mut Tree) -> Result<Option<String>, String> {
    let mut resolved = Vec::new();
    let mut keep = Vec::new();
    let mut rels = Vec::new();
    for c in &pkg.conffiles {
        let rel = c
            .strip_prefix('/')
            .ok_or_else(|| format!("conffile {c} of {} is not an absolute path", pkg.name))?
            .trim_end_matches('/');
        if !t.is_file(rel) {
            keep.push(c.clone());
        }
        rels.push(rel.to_string());
    }
    // package-pack.mk writes keep.d before ipkg-build resolves CONTROL/conffiles.
    if !keep.is_empty() {
        t.mkdir_p("lib/upgrade/keep.d", MODE_DIR)?;
        t.put_lines(&format!("lib/upgrade/keep.d/{}", pkg.name), &keep)?;
    }
    for rel in rels.iter().map(String::as_str) {
        if t.is_file(rel) {
            resolved.push(format!("/{rel}"));
        } else if t.is_dir(rel) && !rel.is_empty() {
            resolved.extend(t.files_under(rel).into_iter().map(|f| format!("/{f}")));
        }
    }
    resolved.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    if resolved.is_empty() {
        return Ok(None);
    }
    let mut s = resolved.join("\n");
    s.push('\n');
    Ok(Some(s))
}

pub struct ControlInfo<'a> {
    pub pkg: &'a Package,
    pub arch: &'a str,
    pub source: &'a str,
    pub epoch: u64,
    pub installed_size: u64,
}

/// The control file, field for field as package-pack.mk's CONTROL define + Description.
pub fn render_control(c: &ControlInfo) -> String {
    let p = c.pkg;
    let mut s = String::new();
    let mut field = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            s.push_str(&format!("{k}: {v}\n"));
        }
    };
    field("Package", &p.name);
    field("Version", &p.version);
    field("Depends", &p.depends.join(", "));
    field("Source", c.source);
    field("SourceName", &p.pkg_name);
    field("License", &p.license);
    field("LicenseFiles", &p.license_files);
    field("Section", &p.section);
    field("Require-User", &p.userid);
    field("SourceDateEpoch", &c.epoch.to_string());
    field("URL", &p.url);
    field("Maintainer", &p.maintainer);
    field("Architecture", c.arch);
    field("Installed-Size", &c.installed_size.to_string());
    s.push_str("Description:");
    let lines: Vec<&str> = if p.description.is_empty() {
        vec![""]
    } else {
        p.description.iter().map(String::as_str).collect()
    };
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        // `sed -e 's,^[[:space:]]*, ,g'`, after `printf "Description: "` on the first line.
        if i == 0 {
            s.push(' ');
        }
        s.push(' ');
        s.push_str(l.trim_start_matches([' ', '\t', '\r', '\x0b', '\x0c']));
    }
    s.push('\n');
    s
}

/// `Source:` (ipk) and `origin` (apk): `feeds/<feed>/<directory of the Makefile>`.
pub fn source(pkg: &Package, opts: &Options, mk: &Makefile) -> String {
    let dir_name = mk
        .dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| pkg.pkg_name.clone());
    opts.source
        .clone()
        .unwrap_or_else(|| format!("feeds/{}/{dir_name}", opts.feed))
}

pub struct Built {
    pub path: PathBuf,
}

/// Everything but writing the file: returns the package name and bytes.
pub fn assemble(pkg: &Package, opts: &Options, mk: &Makefile) -> Result<(String, Vec<u8>), String> {
    if !valid_name(&pkg.name) {
        return Err(format!(
            "package name {:?} has characters ipkg-build refuses",
            pkg.name
        ));
    }
    if !valid_name(&opts.arch) {
        return Err(format!(
            "architecture {:?} is not a valid package architecture",
            opts.arch
        ));
    }
    if pkg
        .version
        .chars()
        .any(|c| c.is_whitespace() || c == '_' || c == '/')
    {
        return Err(format!(
            "version {:?} cannot go into a package file name",
            pkg.version
        ));
    }
    let mut root = stage(pkg, &mk.dir, &opts.bin_dir)?;
    let conf = conffiles(pkg, &mut root)?;

    let data_tar = tar::write(&root.entries(MODE_DIR), opts.epoch)?;
    let installed_size = data_tar.len() as u64;
    let source = source(pkg, opts, mk);
    let arch = package_arch(pkg, &opts.arch);
    let control = render_control(&ControlInfo {
        pkg,
        arch,
        source: &source,
        epoch: opts.epoch,
        installed_size,
    });

    let mut ctl = Tree::new();
    if let Some(c) = conf {
        ctl.put_file("conffiles", 0o644, c.into_bytes())?;
    }
    ctl.put_file("control", 0o644, control.into_bytes())?;
    ctl.put_file("postinst", 0o755, POSTINST.as_bytes().to_vec())?;
    ctl.put_file("prerm", 0o755, PRERM.as_bytes().to_vec())?;
    // The package's own scripts, which default_postinst / default_prerm run.
    for (file, script) in [("postinst-pkg", &pkg.postinst), ("prerm-pkg", &pkg.prerm)] {
        if let Some(text) = script {
            ctl.put_file(file, 0o755, text.as_bytes().to_vec())?;
        }
    }
    let control_tar = tar::write(&ctl.entries(MODE_DIR), opts.epoch)?;

    Ok((
        ipk_name(&pkg.name, &pkg.version, arch),
        pack(&data_tar, &control_tar, opts.epoch)?,
    ))
}

/// The .ipk itself, as OpenWrt's ipkg-build writes it: a gzip'd tar of `./debian-binary`,
/// `./data.tar.gz` and `./control.tar.gz`, in that order.
pub fn pack(data_tar: &[u8], control_tar: &[u8], epoch: u64) -> Result<Vec<u8>, String> {
    let outer = tar::write(
        &[
            Entry::file("./debian-binary", 0o644, b"2.0\n".to_vec()),
            Entry::file("./data.tar.gz", 0o644, gzip(data_tar, 6)),
            Entry::file("./control.tar.gz", 0o644, gzip(control_tar, 6)),
        ],
        epoch,
    )?;
    Ok(gzip(&outer, 6))
}

/// The Makefile with `--release` applied.
pub fn load_makefile(opts: &Options) -> Result<Makefile, String> {
    let mut mk = Makefile::load(&opts.makefile)?;
    if let Some(r) = &opts.release {
        if r.is_empty() || !r.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("release {r:?} is not a number"));
        }
        mk.set_var("PKG_RELEASE", r)?;
    }
    Ok(mk)
}

/// What a build of either package format starts from: the Makefile (with `--release`
/// applied), the names of the packages to build (`--package`, else every package it
/// defines), and `out_dir`, created.
pub fn start_build(opts: &Options) -> Result<(Makefile, Vec<String>), String> {
    let mk = load_makefile(opts)?;
    let names: Vec<String> = match &opts.package {
        Some(n) => vec![n.clone()],
        None => mk.packages.clone(),
    };
    if names.is_empty() {
        return Err(format!(
            "{}: no $(eval $(call BuildPackage,...)) line",
            opts.makefile.display()
        ));
    }
    fs::create_dir_all(&opts.out_dir).map_err(|e| format!("{}: {e}", opts.out_dir.display()))?;
    Ok((mk, names))
}

/// Builds every requested package of the Makefile into `out_dir`; replaces older versions of
/// the same package for the same architecture there.
pub fn build(opts: &Options) -> Result<Vec<Built>, String> {
    let (mk, names) = start_build(opts)?;
    let mut out = Vec::new();
    for n in names {
        let pkg = mk.package(Some(&n))?;
        let (file, bytes) = assemble(&pkg, opts, &mk)?;
        let path = opts.out_dir.join(&file);
        let prefix = format!("{}_", pkg.name);
        let suffix = format!("_{}.ipk", package_arch(&pkg, &opts.arch));
        if let Ok(rd) = fs::read_dir(&opts.out_dir) {
            for e in rd.flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                if f != file && f.starts_with(&prefix) && f.ends_with(&suffix) {
                    fs::remove_file(e.path())
                        .map_err(|err| format!("{}: {err}", e.path().display()))?;
                }
            }
        }
        write_atomic(&path, &bytes, 0o644)?;
        out.push(Built { path });
    }
    Ok(out)
}

pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::makefile::Line;
    use crate::tar::Kind;

    fn pkg() -> Package {
        Package {
            name: "fw-helper".into(),
            version: "0.1.0-r1".into(),
            pkg_name: "fw-helper".into(),
            section: "net".into(),
            category: "Network".into(),
            submenu: "v6only".into(),
            title: "t".into(),
            url: String::new(),
            license: "MIT".into(),
            license_files: String::new(),
            maintainer: "v6only developers".into(),
            depends: vec!["libc".into(), "nftables-json".into()],
            description: vec![
                "  Renders the rules,".into(),
                "".into(),
                "\tand more.".into(),
            ],
            conffiles: vec!["/etc/config/fw-helper".into()],
            userid: String::new(),
            noarch: false,
            install: vec![],
            postinst: None,
            prerm: None,
        }
    }

    #[test]
    fn control_matches_package_pack_mk() {
        let p = pkg();
        let c = render_control(&ControlInfo {
            pkg: &p,
            arch: "mips_24kc",
            source: "feeds/v6only/fw-helper",
            epoch: 1_704_067_200,
            installed_size: 10240,
        });
        assert_eq!(
            c,
            "Package: fw-helper\nVersion: 0.1.0-r1\nDepends: libc, nftables-json\nSource: feeds/v6only/fw-helper\n\
SourceName: fw-helper\nLicense: MIT\nSection: net\nSourceDateEpoch: 1704067200\nMaintainer: v6only developers\n\
Architecture: mips_24kc\nInstalled-Size: 10240\nDescription:  Renders the rules,\n \n and more.\n"
        );
    }

    #[test]
    fn require_user_after_section() {
        let p = Package {
            userid: "nat64=6146:nat64=6146".into(),
            ..pkg()
        };
        let c = render_control(&ControlInfo {
            pkg: &p,
            arch: "x86_64",
            source: "feeds/v6only/nat64",
            epoch: 1,
            installed_size: 1,
        });
        assert!(
            c.contains("\nSection: net\nRequire-User: nat64=6146:nat64=6146\nSourceDateEpoch: 1\n"),
            "{c}"
        );
    }

    #[test]
    fn scripts_are_exactly_openwrts() {
        assert_eq!(POSTINST.lines().count(), 5);
        assert!(POSTINST.ends_with("default_postinst $0 $@\n"));
        assert!(
            PRERM.starts_with("#!/bin/sh\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n")
        );
        assert!(PRERM.ends_with(". ${IPKG_INSTROOT}/lib/functions.sh\ndefault_prerm $0 $@\n"));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            ipk_name("fw-helper", "0.1.0-r1", "mips_24kc"),
            "fw-helper_0.1.0-r1_mips_24kc.ipk"
        );
        assert_eq!(ipk_name("x", "1:2.0", "all"), "x_2.0_all.ipk");
    }

    #[test]
    fn gzip_header_is_gzip_n() {
        let g = gzip(b"hello", 6);
        assert_eq!(&g[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(gzip(b"hello", 9)[8], 2);
        assert_eq!(gunzip(&g).unwrap(), b"hello");
    }

    fn line() -> Line {
        Line {
            file: "Makefile".into(),
            no: 1,
            text: String::new(),
        }
    }

    #[test]
    fn staging_and_conffiles() {
        let d = std::env::temp_dir().join(format!("feedtool-stage-{}", std::process::id()));
        fs::create_dir_all(d.join("files")).unwrap();
        fs::create_dir_all(d.join("bin")).unwrap();
        fs::write(d.join("files/x.conf"), "c").unwrap();
        fs::write(d.join("bin/fw-helper"), "ELF").unwrap();
        let mut p = pkg();
        p.conffiles = vec![
            "/etc/config/x".into(),
            "/etc/missing".into(),
            "/etc/dir".into(),
        ];
        p.install = vec![
            Install::Dir(
                vec!["usr/sbin".into(), "etc/config".into(), "etc/dir/sub".into()],
                line(),
            ),
            Install::Copy {
                srcs: vec![Src::Bin("fw-helper".into())],
                dst: "usr/sbin/".into(),
                mode: 0o755,
                line: line(),
            },
            Install::Copy {
                srcs: vec![Src::Local("files/x.conf".into())],
                dst: "etc/config/x".into(),
                mode: 0o600,
                line: line(),
            },
            Install::Copy {
                srcs: vec![Src::Local("files/x.conf".into())],
                dst: "etc/dir/sub".into(),
                mode: 0o644,
                line: line(),
            },
        ];
        let mut t = stage(&p, &d, &d.join("bin")).unwrap();
        assert!(t.is_file("usr/sbin/fw-helper"));
        assert!(
            t.is_file("etc/dir/sub/x.conf"),
            "existing directory destination keeps the name"
        );
        let c = conffiles(&p, &mut t).unwrap().unwrap();
        assert_eq!(c, "/etc/config/x\n/etc/dir/sub/x.conf\n");
        let names: Vec<String> = t.entries(0o755).into_iter().map(|e| e.name).collect();
        assert!(names.contains(&"./lib/upgrade/keep.d/fw-helper".to_string()));
        let keep = t
            .entries(0o755)
            .into_iter()
            .find(|e| e.name.ends_with("keep.d/fw-helper"))
            .unwrap();
        assert_eq!(keep.kind, Kind::File(b"/etc/missing\n/etc/dir\n".to_vec()));

        p.install.push(Install::Copy {
            srcs: vec![Src::Bin("nope".into())],
            dst: "usr/sbin/".into(),
            mode: 0o755,
            line: line(),
        });
        assert!(stage(&p, &d, &d.join("bin")).unwrap_err().contains("nope"));
        p.install.pop();
        p.install.push(Install::Copy {
            srcs: vec![Src::Bin("fw-helper".into())],
            dst: "usr/bin/".into(),
            mode: 0o755,
            line: line(),
        });
        assert!(stage(&p, &d, &d.join("bin"))
            .unwrap_err()
            .contains("does not exist"));
        fs::remove_dir_all(&d).ok();
    }
}
