//! apk v3 packages and the signed `packages.adb` index, as OpenWrt 25.12 makes them with
//! `apk mkpkg` (include/package-pack.mk, CONFIG_USE_APK) and `apk mkndx` (package/Makefile):
//!
//! * the package root is the one the .ipk gets (the Makefile's install recipe, keep.d), plus
//!   `lib/apk/packages/<name>.list` (every file, `/path`, sorted), `<name>.conffiles` (the
//!   Makefile's conffiles define) and `<name>.conffiles_static` (`/path <sha256>` of each
//!   conffile that is a regular file), made in that order, so the list names neither;
//! * info: name, version (PKG_VERSION-rPKG_RELEASE), description (whitespace collapsed, as
//!   make's `strip`), arch, license, origin (`feeds/<feed>/<dir>`), url, maintainer,
//!   `provides: <name>-any`, depends (libc first, then DEPENDS);
//! * scripts post-install, post-upgrade (`PKG_UPGRADE=1` + post-install) and pre-deinstall
//!   calling base-files' `default_postinst` / `default_prerm`;
//! * every directory (the root included, mkpkg's default `--compat 3.0.0_pre1`) owned by
//!   root:root, every file stamped with SOURCE_DATE_EPOCH; one DATA block per non-empty file;
//! * the file is `ADBd` (deflate level 9), named `<name>-<version>.apk`, and not signed:
//!   the index carries the SHA-256 of each package's ADB block and is signed (ECDSA P-256).
//!
//! The ADB calls are made in the order mkpkg / mkndx make them, so the uncompressed bytes equal
//! the real tools' (tests/fixtures/, made by apk 3.0.2).

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::adb::{self, Reader, Val, Writer, NULL, T_OBJECT};
use crate::eckey;
use crate::ipk::{self, write_atomic, Options};
use crate::makefile::{Package, MODE_DIR};
use crate::tar::Tree;

/// pkginfo fields (apk_adb.h ADBI_PI_*).
pub mod pi {
    pub const NAME: usize = 1;
    pub const VERSION: usize = 2;
    pub const HASHES: usize = 3;
    pub const DESCRIPTION: usize = 4;
    pub const ARCH: usize = 5;
    pub const LICENSE: usize = 6;
    pub const ORIGIN: usize = 7;
    pub const MAINTAINER: usize = 8;
    pub const URL: usize = 9;
    pub const INSTALLED_SIZE: usize = 12;
    pub const FILE_SIZE: usize = 13;
    pub const DEPENDS: usize = 15;
    pub const PROVIDES: usize = 16;
    pub const MAX: usize = 21;
}

/// scripts fields (ADBI_SCRPT_*).
pub mod scr {
    pub const POST_INSTALL: usize = 3;
    pub const PRE_DEINSTALL: usize = 4;
    pub const POST_UPGRADE: usize = 7;
    pub const MAX: usize = 7;
}

/// package-pack.mk's post-install: base-files' default, then the package's own postinst
/// without its `#!` lines.
pub fn post_install(name: &str, own: Option<&str>) -> String {
    let mut script = format!(
        "#!/bin/sh\n\
[ \"${{IPKG_NO_SCRIPT}}\" = \"1\" ] && exit 0\n\
[ -s ${{IPKG_INSTROOT}}/lib/functions.sh ] || exit 0\n\
. ${{IPKG_INSTROOT}}/lib/functions.sh\n\
export root=\"${{IPKG_INSTROOT}}\"\n\
export pkgname=\"{name}\"\n\
add_group_and_user\n\
default_postinst\n"
    );
    append_own(&mut script, own);
    script
}

/// What package-pack.mk appends of a package's own script: `sed '/^\s*#!/d'`.
fn append_own(script: &mut String, own: Option<&str>) {
    for line in own.unwrap_or("").lines() {
        if !line.trim_start().starts_with("#!") {
            script.push_str(line);
            script.push('\n');
        }
    }
}

/// post-upgrade: `PKG_UPGRADE=1`, then post-install without its `#!` line.
pub fn post_upgrade(name: &str, own: Option<&str>) -> String {
    let pi = post_install(name, own);
    let body = pi.split_once('\n').map_or("", |(_, b)| b);
    format!("#!/bin/sh\nexport PKG_UPGRADE=1\n{body}")
}

/// pre-deinstall: base-files' default, then the package's own prerm without `#!` lines.
pub fn pre_deinstall(name: &str, own: Option<&str>) -> String {
    let mut script = format!(
        "#!/bin/sh\n\
[ -s ${{IPKG_INSTROOT}}/lib/functions.sh ] || exit 0\n\
. ${{IPKG_INSTROOT}}/lib/functions.sh\n\
export root=\"${{IPKG_INSTROOT}}\"\n\
export pkgname=\"{name}\"\n\
default_prerm\n"
    );
    append_own(&mut script, own);
    script
}

/// What goes into a package's info block, as strings the way mkpkg's `--info` takes them.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
    pub arch: String,
    pub license: String,
    pub origin: String,
    pub maintainer: String,
    pub url: String,
    pub depends: Vec<String>,
    pub provides: Vec<String>,
}

/// One dependency, `[!]name[op version]`: (name, version, match bits) as apk_dep_parse and
/// dependency_fromstring store it (match absent for `=`, 23 for a bare `!name`).
fn parse_dep(s: &str) -> Result<(&str, Option<&str>, Option<u64>), String> {
    const EQUAL: u64 = 1;
    const LESS: u64 = 2;
    const GREATER: u64 = 4;
    const FUZZY: u64 = 8;
    const CONFLICT: u64 = 16;
    let (conflict, rest) = match s.strip_prefix('!') {
        Some(r) => (CONFLICT, r),
        None => (0, s),
    };
    let bad = || format!("dependency {s:?} is not [!]name[op version]");
    let (name, opver) = match rest.find(['<', '>', '=', '~']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-:/".contains(c))
    {
        return Err(bad());
    }
    let Some(opver) = opver else {
        return Ok(match conflict {
            0 => (name, None, None),
            _ => (name, None, Some(conflict | EQUAL | LESS | GREATER)),
        });
    };
    let n = opver
        .find(|c| !matches!(c, '<' | '>' | '=' | '~'))
        .ok_or_else(bad)?;
    let (op, ver) = opver.split_at(n);
    let bits = match op {
        "=" | "==" => EQUAL,
        "<" => LESS,
        ">" => GREATER,
        "<=" => LESS | EQUAL,
        ">=" => GREATER | EQUAL,
        "~" | "=~" => FUZZY | EQUAL,
        _ => return Err(bad()),
    } | conflict;
    if !valid_version(ver) {
        return Err(bad());
    }
    Ok((name, Some(ver), (bits != EQUAL).then_some(bits)))
}

/// apk's version syntax, loosely: digits and dots first, then letters, `_suffixN`, `~hash`,
/// `-rN`. Enough to refuse what mkpkg refuses in practice (empty, spaces, a leading letter).
pub fn valid_version(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c))
}

/// dependencies_fromstring: each dependency object, then the array (sorted, deduplicated).
fn write_deps(w: &mut Writer, deps: &[String]) -> Result<Val, String> {
    let mut items: Vec<(Vec<u8>, Val)> = Vec::new();
    for d in deps {
        let (name, ver, m) = parse_dep(d)?;
        let nv = w.blob(name.as_bytes());
        let vv = ver.map_or(NULL, |v| w.blob(v.as_bytes()));
        let mv = m.map_or(NULL, |m| w.int(m));
        let o = w.obj(T_OBJECT, &[nv, vv, mv]);
        items.push((name.as_bytes().to_vec(), o));
    }
    // Names compare bytewise (shorter prefix first); the feed never has two versions of a
    // name in one list, where apk would compare the versions next.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.dedup_by(|a, b| a.1 == b.1);
    let slots: Vec<Val> = items.into_iter().map(|(_, v)| v).collect();
    Ok(w.obj(T_OBJECT, &slots))
}

/// The ADB payload of a package and its DATA blocks (path index, file index, bytes).
pub struct Built {
    pub adb: Vec<u8>,
    pub data: Vec<(u32, u32, Vec<u8>)>,
}

/// Directories of the tree as mkpkg walks them: the root, then every directory by full path.
fn dirs(t: &Tree) -> Vec<String> {
    let mut d: Vec<String> = t.paths().into_iter().filter(|p| t.is_dir(p)).collect();
    d.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    d.insert(0, String::new());
    d
}

/// Regular files directly in `dir`, by name.
fn files_in(t: &Tree, dir: &str) -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for p in t.paths() {
        let (parent, base) = match p.rsplit_once('/') {
            Some((a, b)) => (a, b),
            None => ("", p.as_str()),
        };
        if parent != dir {
            continue;
        }
        if let Some((mode, data)) = t.file(&p) {
            out.push((base.to_string(), mode, data.to_vec()));
        }
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}

/// `apk mkpkg` of `root` with `info` and `scripts` (field number, text), files stamped `mtime`.
pub fn build_adb(
    info: &Info,
    root: &Tree,
    scripts: &[(usize, String)],
    mtime: u64,
) -> Result<Built, String> {
    let mut w = Writer::new();
    let mut pinfo = [NULL; pi::MAX];
    let set = |slots: &mut [Val], i: usize, v: Val| slots[i - 1] = v;

    // assign_fields: the --info values in field order.
    for (i, s) in [
        (pi::NAME, &info.name),
        (pi::VERSION, &info.version),
        (pi::DESCRIPTION, &info.description),
        (pi::ARCH, &info.arch),
        (pi::LICENSE, &info.license),
        (pi::ORIGIN, &info.origin),
        (pi::MAINTAINER, &info.maintainer),
        (pi::URL, &info.url),
    ] {
        let v = w.blob(s.as_bytes());
        set(&mut pinfo, i, v);
    }
    if !info.depends.is_empty() {
        let v = write_deps(&mut w, &info.depends)?;
        set(&mut pinfo, pi::DEPENDS, v);
    }
    if !info.provides.is_empty() {
        let v = write_deps(&mut w, &info.provides)?;
        set(&mut pinfo, pi::PROVIDES, v);
    }

    // The tree: per directory its files, then the directory itself.
    let mut installed: u64 = 0;
    let mut paths = Vec::new();
    let mut data = Vec::new();
    for (di, dir) in dirs(root).iter().enumerate() {
        let mut files = Vec::new();
        for (fi, (name, mode, bytes)) in files_in(root, dir).into_iter().enumerate() {
            let nv = w.blob(name.as_bytes());
            let hv = w.blob(&Sha256::digest(&bytes));
            let tv = w.int(mtime);
            let sv = w.int(bytes.len() as u64);
            let user = w.blob(b"root");
            let group = w.blob(b"root");
            let acl = w.obj(T_OBJECT, &[w_mode(mode), user, group]);
            files.push(w.obj(T_OBJECT, &[nv, acl, sv, tv, hv]));
            installed += bytes.len() as u64;
            if !bytes.is_empty() {
                data.push((di as u32 + 1, fi as u32 + 1, bytes));
            }
        }
        let nv = w.blob(dir.as_bytes());
        let mode = if dir.is_empty() {
            MODE_DIR
        } else {
            root.dir_mode(dir).unwrap_or(MODE_DIR)
        };
        let user = w.blob(b"root");
        let group = w.blob(b"root");
        let acl = w.obj(T_OBJECT, &[w_mode(mode), user, group]);
        let fv = w.obj(T_OBJECT, &files);
        paths.push(w.obj(T_OBJECT, &[nv, acl, fv]));
    }
    if installed == 0 {
        installed = 1; // mkpkg: a package with a file tree or scripts is never "meta"
    }
    let iv = w.int(installed);
    set(&mut pinfo, pi::INSTALLED_SIZE, iv);
    let (uid, uid_at) = w.blob_unshared(&[0u8; 20]);
    set(&mut pinfo, pi::HASHES, uid);
    let info_v = w.obj(T_OBJECT, &pinfo);
    let paths_v = w.obj(T_OBJECT, &paths);
    let mut sslots = [NULL; scr::MAX];
    let mut scripts = scripts.to_vec();
    scripts.sort_by_key(|(i, _)| *i);
    for (i, text) in &scripts {
        if *i == 0 || *i > scr::MAX {
            return Err(format!("no script field {i}"));
        }
        sslots[i - 1] = w.blob(text.as_bytes());
    }
    let scripts_v = w.obj(T_OBJECT, &sslots);
    let pkg = w.obj(T_OBJECT, &[info_v, paths_v, scripts_v]);
    w.set_root(pkg);

    // The unique id: SHA-256 of the payload while it is still zero, first 20 bytes.
    let digest = Sha256::digest(w.bytes_mut());
    w.bytes_mut()[uid_at..uid_at + 20].copy_from_slice(&digest[..20]);
    Ok(Built {
        adb: w.finish(),
        data,
    })
}

fn w_mode(mode: u32) -> Val {
    // Permission bits fit the inline integer.
    adb::val(adb::T_INT, (mode & 0o7777) as usize)
}

/// The uncompressed .apk stream: header, ADB block, DATA blocks.
pub fn stream(b: &Built) -> Result<Vec<u8>, String> {
    let mut s = adb::file_header(adb::SCHEMA_PACKAGE);
    adb::push_block(&mut s, adb::BLOCK_ADB, &[&b.adb])?;
    for (p, f, bytes) in &b.data {
        adb::push_block(
            &mut s,
            adb::BLOCK_DATA,
            &[&p.to_le_bytes(), &f.to_le_bytes(), bytes],
        )?;
    }
    Ok(s)
}

pub fn apk_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.apk")
}

fn collapse_ws(lines: &[String]) -> String {
    lines
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Adds what package-pack.mk's apk branch puts under lib/apk/packages/.
pub fn add_apk_metadata(pkg: &Package, t: &mut Tree) -> Result<(), String> {
    let dir = "lib/apk/packages";
    t.mkdir_p(dir, MODE_DIR)?;
    let mut list: Vec<String> = t
        .paths()
        .into_iter()
        .filter(|p| t.is_file(p))
        .map(|p| format!("/{p}"))
        .collect();
    list.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    t.put_lines(&format!("{dir}/{}.list", pkg.name), &list)?;
    if !pkg.userid.trim().is_empty() {
        // `echo $(USERID) > <name>.rusers`: add_group_and_user reads it in place of the ipk's
        // Require-User field.
        let words: Vec<&str> = pkg.userid.split_whitespace().collect();
        t.put_file(
            &format!("{dir}/{}.rusers", pkg.name),
            0o644,
            format!("{}\n", words.join(" ")).into_bytes(),
        )?;
    }
    if !pkg.conffiles.is_empty() {
        // `echo "$(Package/<name>/conffiles)" > conffiles`, then a line per regular file.
        let mut c = pkg.conffiles.join("\n");
        c.push('\n');
        let mut stat = String::new();
        for word in c.split_whitespace() {
            let rel = word.trim_start_matches('/');
            if let Some((_, data)) = t.file(rel) {
                stat.push_str(&format!("{word} {:x}\n", Sha256::digest(data)));
            }
        }
        t.put_file(
            &format!("{dir}/{}.conffiles", pkg.name),
            0o644,
            c.into_bytes(),
        )?;
        if !stat.is_empty() {
            t.put_file(
                &format!("{dir}/{}.conffiles_static", pkg.name),
                0o644,
                stat.into_bytes(),
            )?;
        }
    }
    Ok(())
}

/// Package bytes (compressed) and file name for one package of the Makefile.
pub fn assemble(
    pkg: &Package,
    opts: &Options,
    mk: &crate::makefile::Makefile,
) -> Result<(String, Vec<u8>), String> {
    if !valid_version(&pkg.version) {
        return Err(format!(
            "version {:?} of {} is not an apk version",
            pkg.version, pkg.name
        ));
    }
    let mut root = ipk::stage(pkg, &mk.dir, &opts.bin_dir)?;
    ipk::conffiles(pkg, &mut root)?; // keep.d for conffiles that are not regular files
    add_apk_metadata(pkg, &mut root)?;
    let info = Info {
        name: pkg.name.clone(),
        version: pkg.version.clone(),
        description: collapse_ws(&pkg.description),
        // apk installs `noarch` on every architecture (OpenWrt's name for PKGARCH:=all there)
        arch: if pkg.noarch {
            "noarch".to_string()
        } else {
            opts.arch.clone()
        },
        license: pkg.license.clone(),
        origin: ipk::source(pkg, opts, mk),
        maintainer: pkg.maintainer.clone(),
        url: pkg.url.clone(),
        depends: pkg.depends.clone(),
        provides: vec![format!("{}-any", pkg.name)],
    };
    let scripts = [
        (
            scr::POST_INSTALL,
            post_install(&pkg.name, pkg.postinst.as_deref()),
        ),
        (
            scr::PRE_DEINSTALL,
            pre_deinstall(&pkg.name, pkg.prerm.as_deref()),
        ),
        (
            scr::POST_UPGRADE,
            post_upgrade(&pkg.name, pkg.postinst.as_deref()),
        ),
    ];
    let built = build_adb(&info, &root, &scripts, opts.epoch)?;
    Ok((
        apk_name(&pkg.name, &pkg.version),
        adb::deflate(&stream(&built)?),
    ))
}

/// Builds every requested package of the Makefile into `out_dir`, removing other versions of
/// the same package there.
pub fn build(opts: &Options) -> Result<Vec<PathBuf>, String> {
    let (mk, names) = ipk::start_build(opts)?;
    let mut out = Vec::new();
    for n in names {
        let pkg = mk.package(Some(&n))?;
        let (file, bytes) = assemble(&pkg, opts, &mk)?;
        for e in fs::read_dir(&opts.out_dir)
            .map_err(|e| format!("{}: {e}", opts.out_dir.display()))?
            .flatten()
        {
            let f = e.file_name().to_string_lossy().into_owned();
            let other = f
                .strip_prefix(&format!("{}-", pkg.name))
                .and_then(|v| v.strip_suffix(".apk"))
                .is_some_and(valid_version);
            if other && f != file {
                fs::remove_file(e.path())
                    .map_err(|err| format!("{}: {err}", e.path().display()))?;
            }
        }
        let path = opts.out_dir.join(&file);
        write_atomic(&path, &bytes, 0o644)?;
        out.push(path);
    }
    Ok(out)
}

/// The ADB payload of a package file.
pub fn package_adb(file: &[u8]) -> Result<Vec<u8>, String> {
    let s = adb::decompress(file)?;
    let (schema, blocks) = adb::parse(&s)?;
    if schema != adb::SCHEMA_PACKAGE {
        return Err(format!("schema {schema:#010x} is not a package"));
    }
    match blocks.first() {
        Some(b) if b.ty == adb::BLOCK_ADB => Ok(b.payload.to_vec()),
        _ => Err("no ADB block first".into()),
    }
}

/// `apk mkndx` of the given package files (in this order): the index ADB payload.
pub fn index_adb(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let mut w = Writer::new();
    let mut pkgs: Vec<(Vec<u8>, Val)> = Vec::new();
    for (name, bytes) in files {
        let payload = package_adb(bytes).map_err(|e| format!("{name}: {e}"))?;
        let r = Reader::new(&payload).map_err(|e| format!("{name}: {e}"))?;
        let info = r.field(r.root(), 1)?;
        let src = r.slots(info)?;
        // adb_wo_copyobj: each field copied in order, then file-size and the hash replaced.
        let mut slots = vec![NULL; pi::MAX];
        for (i, &v) in src.iter().enumerate() {
            if i < pi::MAX {
                slots[i] = w.copy(&r, v)?;
            }
        }
        slots[pi::FILE_SIZE - 1] = w.int(bytes.len() as u64);
        slots[pi::HASHES - 1] = w.blob(&Sha256::digest(&payload));
        let pkg_name = r
            .blob(src.first().copied().unwrap_or(NULL))?
            .ok_or_else(|| format!("{name}: package without a name"))?
            .to_vec();
        pkgs.push((pkg_name, w.obj(T_OBJECT, &slots)));
    }
    pkgs.sort_by(|a, b| a.0.cmp(&b.0));
    if pkgs.windows(2).any(|p| p[0].0 == p[1].0) {
        return Err("two packages of the same name in one index".into());
    }
    let list: Vec<Val> = pkgs.into_iter().map(|(_, v)| v).collect();
    let lv = w.obj(T_OBJECT, &list);
    let root = w.obj(T_OBJECT, &[NULL, lv]);
    w.set_root(root);
    Ok(w.finish())
}

/// The signed index file (uncompressed stream) for an index payload.
pub fn signed_index(payload: &[u8], key: &p256::SecretKey) -> Result<Vec<u8>, String> {
    let id = eckey::key_id(&key.public_key());
    let msg = adb::signed_message(adb::SCHEMA_INDEX, &id, payload);
    let sig = eckey::sign(key, &msg)?;
    let mut s = adb::file_header(adb::SCHEMA_INDEX);
    adb::push_block(&mut s, adb::BLOCK_ADB, &[payload])?;
    adb::push_block(&mut s, adb::BLOCK_SIG, &[&adb::sig_header(&id), &sig])?;
    Ok(s)
}

/// Writes DIR/packages.adb for DIR/*.apk (byte order of the names, as `*.apk` under LC_ALL=C).
pub fn write_index(dir: &Path, key: &p256::SecretKey) -> Result<usize, String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".apk") && !n.starts_with('.'))
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut files = Vec::new();
    for n in &names {
        let p = dir.join(n);
        files.push((
            n.clone(),
            fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?,
        ));
    }
    let payload = index_adb(&files)?;
    let file = adb::deflate(&signed_index(&payload, key)?);
    write_atomic(&dir.join("packages.adb"), &file, 0o644)?;
    Ok(names.len())
}

/// Checks an index file's signatures against `key`: Ok when one SIG block verifies.
pub fn verify_index(file: &[u8], key: &p256::PublicKey) -> Result<(), String> {
    let s = adb::decompress(file)?;
    let (schema, blocks) = adb::parse(&s)?;
    let adb_block = blocks
        .first()
        .filter(|b| b.ty == adb::BLOCK_ADB)
        .ok_or("no ADB block first")?;
    let id = eckey::key_id(key);
    for b in blocks.iter().skip(1).filter(|b| b.ty == adb::BLOCK_SIG) {
        if b.payload.len() < 18 || b.payload[..2] != [0, 4] || b.payload[2..18] != id {
            continue;
        }
        let msg = adb::signed_message(schema, &id, adb_block.payload);
        if eckey::verify(key, &msg, &b.payload[18..]) {
            return Ok(());
        }
    }
    Err("no valid signature by this key".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &[u8] = include_bytes!("../tests/fixtures/demo-1.2.3-r4.apk");
    const TINY: &[u8] = include_bytes!("../tests/fixtures/tiny-0.1-r1.apk");
    const INDEX: &[u8] = include_bytes!("../tests/fixtures/packages.adb");
    const KEY: &str = include_str!("../tests/fixtures/test-key.pem");
    const PUB: &str = include_str!("../tests/fixtures/test-key.pub.pem");
    const EPOCH: u64 = 1_700_000_000;

    /// The tree make-fixtures.sh gives `apk mkpkg` for demo, built with feedtool's own
    /// metadata code.
    fn demo_tree() -> Tree {
        let mut t = Tree::new();
        for d in ["usr/sbin", "etc/init.d", "etc/config"] {
            t.mkdir_p(d, MODE_DIR).unwrap();
        }
        t.put_file("usr/sbin/demo", 0o755, b"#!/bin/sh\necho demo\n".to_vec())
            .unwrap();
        t.put_file(
            "etc/init.d/demo",
            0o755,
            b"#!/bin/sh /etc/rc.common\nSTART=50\nUSE_PROCD=1\n".to_vec(),
        )
        .unwrap();
        t.put_file(
            "etc/config/demo",
            0o600,
            b"config demo 'main'\n\toption enabled '1'\n".to_vec(),
        )
        .unwrap();
        let pkg = Package {
            name: "demo".into(),
            conffiles: vec!["/etc/config/demo".into()],
            ..Default::default()
        };
        add_apk_metadata(&pkg, &mut t).unwrap();
        t
    }

    fn demo_info() -> Info {
        Info {
            name: "demo".into(),
            version: "1.2.3-r4".into(),
            description: collapse_ws(&["  A demo package".into(), "\tfor the fixtures.".into()]),
            arch: "x86_64".into(),
            license: "MIT".into(),
            origin: "feeds/v6only/demo".into(),
            maintainer: "v6only developers".into(),
            url: String::new(),
            depends: vec!["libc".into(), "fw-helper".into()],
            provides: vec!["demo-any".into()],
        }
    }

    fn demo_scripts() -> Vec<(usize, String)> {
        vec![
            (scr::POST_INSTALL, post_install("demo", None)),
            (scr::POST_UPGRADE, post_upgrade("demo", None)),
            (scr::PRE_DEINSTALL, pre_deinstall("demo", None)),
        ]
    }

    #[test]
    fn package_equals_apk_mkpkg_output() {
        let b = build_adb(&demo_info(), &demo_tree(), &demo_scripts(), EPOCH).unwrap();
        let ours = stream(&b).unwrap();
        let theirs = adb::decompress(DEMO).unwrap();
        assert_eq!(ours.len(), theirs.len());
        // The ADB block first (pkginfo, dependency objects, paths, scripts), then all of it.
        let (_, ob) = adb::parse(&ours).unwrap();
        let (_, tb) = adb::parse(&theirs).unwrap();
        assert_eq!(
            ob[0].payload, tb[0].payload,
            "ADB block differs from apk mkpkg's"
        );
        assert_eq!(ours, theirs);
    }

    #[test]
    fn versioned_dependency_and_empty_file_equal_apk_mkpkg_output() {
        let mut t = Tree::new();
        t.mkdir_p("usr/share/tiny", MODE_DIR).unwrap();
        t.put_file("usr/share/tiny/empty", 0o644, vec![]).unwrap();
        t.put_file("usr/share/tiny/data", 0o644, b"tiny\n".to_vec())
            .unwrap();
        let info = Info {
            name: "tiny".into(),
            version: "0.1-r1".into(),
            description: "Tiny.".into(),
            arch: "x86_64".into(),
            license: "MIT".into(),
            origin: "feeds/v6only/tiny".into(),
            maintainer: "v6only developers".into(),
            url: String::new(),
            depends: vec!["libc".into(), "demo>=1.2.3-r4".into()],
            provides: vec!["tiny-any".into()],
        };
        let b = build_adb(&info, &t, &[], EPOCH).unwrap();
        assert_eq!(stream(&b).unwrap(), adb::decompress(TINY).unwrap());
    }

    #[test]
    fn metadata_files_match_package_pack_mk() {
        let t = demo_tree();
        assert_eq!(
            t.file("lib/apk/packages/demo.list").unwrap().1,
            b"/etc/config/demo\n/etc/init.d/demo\n/usr/sbin/demo\n"
        );
        assert_eq!(
            t.file("lib/apk/packages/demo.conffiles").unwrap().1,
            b"/etc/config/demo\n"
        );
        // sha256sum of the config text, as make-fixtures.sh computed it with coreutils.
        let stat = String::from_utf8(
            t.file("lib/apk/packages/demo.conffiles_static")
                .unwrap()
                .1
                .to_vec(),
        )
        .unwrap();
        assert_eq!(
            stat,
            "/etc/config/demo 1ae5e350d872d76916d37d382bd51dc8a1f9fa594fdda6c1b426357e3fd261d2\n"
        );
    }

    #[test]
    fn dependency_objects() {
        assert_eq!(parse_dep("libc").unwrap(), ("libc", None, None));
        assert_eq!(
            parse_dep("foo>=1.2").unwrap(),
            ("foo", Some("1.2"), Some(5))
        );
        assert_eq!(parse_dep("s<=5").unwrap(), ("s", Some("5"), Some(3)));
        assert_eq!(parse_dep("q=3").unwrap(), ("q", Some("3"), None));
        assert_eq!(parse_dep("baz~1").unwrap(), ("baz", Some("1"), Some(9)));
        assert_eq!(parse_dep("!bar").unwrap(), ("bar", None, Some(23)));
        assert!(parse_dep("x>=").is_err());
        assert!(parse_dep("").is_err());
    }

    #[test]
    fn index_equals_apk_mkndx_output_and_its_signature_verifies() {
        let files = vec![
            ("demo-1.2.3-r4.apk".to_string(), DEMO.to_vec()),
            ("tiny-0.1-r1.apk".to_string(), TINY.to_vec()),
        ];
        let ours = index_adb(&files).unwrap();
        let theirs_stream = adb::decompress(INDEX).unwrap();
        let (schema, tb) = adb::parse(&theirs_stream).unwrap();
        assert_eq!(schema, adb::SCHEMA_INDEX);
        assert_eq!(
            ours, tb[0].payload,
            "index ADB block differs from apk mkndx's"
        );

        // apk's own signature (random nonce) over the message we compute verifies with the
        // public key: the signed message and the key id are apk's.
        let pk = eckey::public_from_pem(PUB).unwrap();
        assert_eq!(tb[1].ty, adb::BLOCK_SIG);
        assert_eq!(tb[1].payload[..2], [0, 4]);
        assert_eq!(tb[1].payload[2..18], eckey::key_id(&pk));
        verify_index(INDEX, &pk).unwrap();
        let msg = adb::signed_message(schema, &eckey::key_id(&pk), tb[0].payload);
        assert_eq!(msg.len(), 86);
        assert!(eckey::verify(&pk, &msg, &tb[1].payload[18..]));

        // Our signed file: same ADB block, one SIG block that verifies, deterministic.
        let sk = eckey::secret_from_pem(KEY).unwrap();
        let mine = signed_index(&ours, &sk).unwrap();
        assert_eq!(mine, signed_index(&ours, &sk).unwrap());
        verify_index(&adb::deflate(&mine), &pk).unwrap();
        let other = eckey::generate().unwrap();
        assert!(verify_index(&mine, &other.public_key()).is_err());
        let mut tampered = mine.clone();
        tampered[20] ^= 1;
        assert!(verify_index(&tampered, &pk).is_err());
    }

    #[test]
    fn rusers_for_add_group_and_user() {
        let mut t = demo_tree();
        assert!(
            t.file("lib/apk/packages/demo.rusers").is_none(),
            "no USERID, no file"
        );
        let pkg = Package {
            name: "demo".into(),
            userid: "demo=6000:demo=6000  other=6001:other=6001".into(),
            ..Default::default()
        };
        add_apk_metadata(&pkg, &mut t).unwrap();
        let (mode, data) = t.file("lib/apk/packages/demo.rusers").unwrap();
        assert_eq!(data, b"demo=6000:demo=6000 other=6001:other=6001\n");
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn metadata_for_conffiles_that_are_not_files() {
        let mut t = demo_tree();
        t.remove("lib/apk");
        t.mkdir_p("etc/demo.d", MODE_DIR).unwrap();
        t.put_file("etc/demo.d/a", 0o644, b"a".to_vec()).unwrap();
        let pkg = Package {
            name: "demo".into(),
            conffiles: vec![
                "/etc/config/demo".into(),
                "/etc/demo.d".into(),
                "/etc/missing".into(),
            ],
            ..Default::default()
        };
        ipk::conffiles(&pkg, &mut t).unwrap();
        add_apk_metadata(&pkg, &mut t).unwrap();
        // package-pack.mk: keep.d for what is not a regular file, made before the .list ...
        assert_eq!(
            t.file("lib/upgrade/keep.d/demo").unwrap().1,
            b"/etc/demo.d\n/etc/missing\n"
        );
        assert!(
            String::from_utf8_lossy(t.file("lib/apk/packages/demo.list").unwrap().1)
                .ends_with("/lib/upgrade/keep.d/demo\n/usr/sbin/demo\n")
        );
        // ... .conffiles is the define's text, .conffiles_static only its regular files.
        assert_eq!(
            t.file("lib/apk/packages/demo.conffiles").unwrap().1,
            b"/etc/config/demo\n/etc/demo.d\n/etc/missing\n"
        );
        assert_eq!(
            t.file("lib/apk/packages/demo.conffiles_static")
                .unwrap()
                .1
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            1
        );
    }

    #[test]
    fn noarch_package_is_all_in_the_ipk_and_noarch_in_the_apk() {
        let d = std::env::temp_dir().join(format!("feedtool-noarch-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("feed/luci-app-demo/files")).unwrap();
        fs::write(
            d.join("feed/luci-app-demo/Makefile"),
            "include $(TOPDIR)/rules.mk\n\nPKG_NAME:=luci-app-demo\nPKG_VERSION:=1.0.0\nPKG_RELEASE:=1\n\
PKG_LICENSE:=MIT\n\ninclude $(INCLUDE_DIR)/package.mk\n\ndefine Package/luci-app-demo\n  SECTION:=luci\n\
  CATEGORY:=LuCI\n  TITLE:=Demo\n  PKGARCH:=all\n  DEPENDS:=+luci-base\nendef\n\n\
define Package/luci-app-demo/install\n\t$(INSTALL_DIR) $(1)/www/view\n\
\t$(INSTALL_DATA) ./files/demo.js $(1)/www/view/\nendef\n\n\
$(eval $(call BuildPackage,luci-app-demo))\n",
        )
        .unwrap();
        fs::write(
            d.join("feed/luci-app-demo/files/demo.js"),
            "'use strict';\n",
        )
        .unwrap();
        let opts = Options {
            makefile: d.join("feed/luci-app-demo/Makefile"),
            arch: "mips_24kc".into(),
            bin_dir: d.join("no-bin"),
            out_dir: d.join("out"),
            package: None,
            feed: "v6only".into(),
            source: None,
            epoch: EPOCH,
            release: None,
        };
        let ipks = ipk::build(&opts).unwrap();
        assert_eq!(ipks[0].path, d.join("out/luci-app-demo_1.0.0-r1_all.ipk"));
        let outer = ipk::gunzip(&fs::read(&ipks[0].path).unwrap()).unwrap();
        let text = String::from_utf8_lossy(&outer).into_owned();
        let ctl_at = text.find("./control.tar.gz").unwrap();
        let ctl_gz = &outer[ctl_at + 512 - (ctl_at % 512)..];
        let ctl = String::from_utf8_lossy(&ipk::gunzip(ctl_gz).unwrap()).into_owned();
        assert!(ctl.contains("\nArchitecture: all\n"), "{ctl}");
        assert!(ctl.contains("\nDepends: libc, luci-base\n"), "{ctl}");
        let apks = build(&opts).unwrap();
        assert_eq!(apks, [d.join("out/luci-app-demo-1.0.0-r1.apk")]);
        let payload = package_adb(&fs::read(&apks[0]).unwrap()).unwrap();
        let r = Reader::new(&payload).unwrap();
        let info = r.field(r.root(), 1).unwrap();
        let arch = r.blob(r.field(info, pi::ARCH).unwrap()).unwrap().unwrap();
        assert_eq!(arch, b"noarch");
        fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn build_from_a_makefile_with_a_release_override() {
        let d = std::env::temp_dir().join(format!("feedtool-apk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("feed/demo/files")).unwrap();
        fs::create_dir_all(d.join("bin")).unwrap();
        fs::write(
            d.join("feed/v6only.mk"),
            "PKG_MAINTAINER:=v6only developers\nPKG_LICENSE:=MIT\n",
        )
        .unwrap();
        fs::write(
            d.join("feed/demo/Makefile"),
            "include $(TOPDIR)/rules.mk\n\nPKG_NAME:=demo\nPKG_VERSION:=1.2.3\nPKG_RELEASE:=4\n\n\
include ../v6only.mk\ninclude $(INCLUDE_DIR)/package.mk\n\ndefine Package/demo\n  SECTION:=net\n\
  CATEGORY:=Network\n  TITLE:=Demo\n  DEPENDS:=$(RUST_ARCH_DEPENDS) +fw-helper\nendef\n\n\
define Package/demo/description\n  A demo package\n\tfor the fixtures.\nendef\n\n\
define Package/demo/conffiles\n/etc/config/demo\nendef\n\n\
define Package/demo/install\n\t$(INSTALL_DIR) $(1)/usr/sbin $(1)/etc/config\n\
\t$(INSTALL_BIN) $(PKG_INSTALL_DIR)/bin/demo $(1)/usr/sbin/\n\
\t$(INSTALL_CONF) ./files/demo.config $(1)/etc/config/demo\nendef\n\n\
$(eval $(call BuildPackage,demo))\n",
        )
        .unwrap();
        fs::write(
            d.join("feed/demo/files/demo.config"),
            "config demo 'main'\n",
        )
        .unwrap();
        fs::write(d.join("bin/demo"), "ELF").unwrap();
        let mut opts = Options {
            makefile: d.join("feed/demo/Makefile"),
            arch: "mips_24kc".into(),
            bin_dir: d.join("bin"),
            out_dir: d.join("out"),
            package: None,
            feed: "v6only".into(),
            source: None,
            epoch: EPOCH,
            release: None,
        };
        let first = build(&opts).unwrap();
        assert_eq!(first, [d.join("out/demo-1.2.3-r4.apk")]);
        opts.release = Some("5".into());
        let second = build(&opts).unwrap();
        assert_eq!(second, [d.join("out/demo-1.2.3-r5.apk")]);
        assert!(!first[0].exists(), "the older version is replaced");
        let file = fs::read(&second[0]).unwrap();
        assert_eq!(&file[..4], b"ADBd");
        let payload = package_adb(&file).unwrap();
        let r = Reader::new(&payload).unwrap();
        let info = r.field(r.root(), 1).unwrap();
        let s = |i| {
            String::from_utf8(r.blob(r.field(info, i).unwrap()).unwrap().unwrap().to_vec()).unwrap()
        };
        assert_eq!(s(pi::NAME), "demo");
        assert_eq!(s(pi::VERSION), "1.2.3-r5");
        assert_eq!(s(pi::ARCH), "mips_24kc");
        assert_eq!(s(pi::DESCRIPTION), "A demo package for the fixtures.");
        assert_eq!(s(pi::ORIGIN), "feeds/v6only/demo");
        let deps = r.slots(r.field(info, pi::DEPENDS).unwrap()).unwrap();
        let names: Vec<String> = deps
            .iter()
            .map(|&o| {
                String::from_utf8(r.blob(r.field(o, 1).unwrap()).unwrap().unwrap().to_vec())
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["fw-helper", "libc"]);
        opts.release = Some("x".into());
        assert!(build(&opts).unwrap_err().contains("not a number"));
        fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn scripts_match_package_pack_mk() {
        let pi = post_install("dns64", None);
        assert!(pi.starts_with("#!/bin/sh\n[ \"${IPKG_NO_SCRIPT}\" = \"1\" ] && exit 0\n"));
        assert!(pi.ends_with("export pkgname=\"dns64\"\nadd_group_and_user\ndefault_postinst\n"));
        assert_eq!(
            post_upgrade("dns64", None),
            format!(
                "#!/bin/sh\nexport PKG_UPGRADE=1\n{}",
                &pi["#!/bin/sh\n".len()..]
            )
        );
        assert!(pre_deinstall("dns64", None).ends_with("export pkgname=\"dns64\"\ndefault_prerm\n"));
        // The package's own scripts follow, their #! lines dropped (sed '/^\s*#!/d').
        let own = "#!/bin/sh\n[ -n \"$IPKG_INSTROOT\" ] || x\n";
        assert_eq!(
            post_install("dns64", Some(own)),
            format!("{pi}[ -n \"$IPKG_INSTROOT\" ] || x\n")
        );
        assert!(post_upgrade("dns64", Some(own))
            .ends_with("default_postinst\n[ -n \"$IPKG_INSTROOT\" ] || x\n"));
        assert!(pre_deinstall("dns64", Some(own))
            .ends_with("default_prerm\n[ -n \"$IPKG_INSTROOT\" ] || x\n"));
    }
}
