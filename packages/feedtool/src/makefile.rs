//! Reads the restricted subset of an OpenWrt package Makefile that this feed uses, so that the
//! Makefile the OpenWrt SDK builds from stays the single source of package metadata.
//!
//! Understood: `VAR:=`/`VAR=`/`VAR?=`/`VAR+=` assignments, `include ../x.mk` (a relative path,
//! read for its assignments), `define NAME` ... `endef`, and
//! `$(eval $(call BuildPackage,NAME))`. Includes of the OpenWrt build system
//! (`include $(TOPDIR)/...`, `$(INCLUDE_DIR)/...`) are skipped. In values, `$(VAR)` of a
//! variable defined in these files is expanded and `$$` is `$`; any other reference is an
//! error where its value is used.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub file: PathBuf,
    pub no: usize,
    pub text: String,
}

impl Line {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.no)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Makefile {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub vars: BTreeMap<String, (String, Line)>,
    pub defines: BTreeMap<String, (Vec<Line>, Line)>,
    /// Names given to `BuildPackage`, in order.
    pub packages: Vec<String>,
}

/// What one `define Package/<name>` (plus its description/conffiles/install defines) says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub pkg_name: String,
    pub section: String,
    pub category: String,
    pub submenu: String,
    pub title: String,
    pub url: String,
    pub license: String,
    pub license_files: String,
    pub maintainer: String,
    /// Runtime dependencies as they go into the control file (libc first, as OpenWrt adds it).
    pub depends: Vec<String>,
    /// Lines of the description define, verbatim (or the title when there is none).
    pub description: Vec<String>,
    /// Words of the conffiles define.
    pub conffiles: Vec<String>,
    /// The `USERID` field: `user=uid:group=gid` tuples, space-separated, as package-pack.mk
    /// passes them on (ipk `Require-User`, apk `<name>.rusers`) for the postinst's
    /// `add_group_and_user`.
    pub userid: String,
    /// `PKGARCH:=all`: no binaries, one package for every architecture (`Architecture: all`
    /// in an .ipk, `noarch` in an .apk), as LuCI applications are.
    pub noarch: bool,
    pub install: Vec<Install>,
    /// `define Package/<name>/postinst` and `prerm`, expanded (`$$` is `$`): package-pack.mk
    /// packs them as the ipk's `postinst-pkg` / `prerm-pkg` (which base-files'
    /// `default_postinst` / `default_prerm` run) and appends them to the apk's scripts.
    pub postinst: Option<String>,
    pub prerm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Src {
    /// `$(PKG_INSTALL_DIR)/bin/NAME`: NAME from the directory of cross-built binaries.
    Bin(String),
    /// `./files/...`: relative to the Makefile's directory.
    Local(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// `$(INSTALL_DIR) $(1)/a $(1)/b`: paths relative to the package root.
    Dir(Vec<String>, Line),
    /// `$(INSTALL_BIN|CONF|DATA) SRC... DST` with the mode that macro uses.
    Copy {
        srcs: Vec<Src>,
        dst: String,
        mode: u32,
        line: Line,
    },
}

pub const MODE_BIN: u32 = 0o755;
pub const MODE_CONF: u32 = 0o600;
pub const MODE_DATA: u32 = 0o644;
pub const MODE_DIR: u32 = 0o755;

fn err(line: &Line, msg: impl std::fmt::Display) -> String {
    format!("{}: {}\n    {}", line.at(), msg, line.text.trim_end())
}

impl Makefile {
    pub fn load(path: &Path) -> Result<Makefile, String> {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let mut mk = Makefile {
            path: path.to_path_buf(),
            dir,
            ..Default::default()
        };
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        mk.parse(path, &text, true)?;
        Ok(mk)
    }

    /// Parses one file's text; `main` is false for included files (whose defines are ignored).
    pub fn parse(&mut self, file: &Path, text: &str, main: bool) -> Result<(), String> {
        let raw: Vec<&str> = text.split('\n').collect();
        let mut i = 0;
        while i < raw.len() {
            let start = i;
            let mut logical = raw[i].trim_end_matches('\r').to_string();
            i += 1;
            let line = |t: &str| Line {
                file: file.to_path_buf(),
                no: start + 1,
                text: t.to_string(),
            };
            let trimmed = logical.trim_start().to_string();
            if let Some(name) = trimmed
                .strip_prefix("define ")
                .or_else(|| trimmed.strip_prefix("define\t"))
            {
                let head = line(&logical);
                let name = self.expand(name.trim(), &head)?;
                let mut body = Vec::new();
                loop {
                    if i >= raw.len() {
                        return Err(err(&head, "define without endef"));
                    }
                    let l = raw[i].trim_end_matches('\r');
                    i += 1;
                    if l.trim() == "endef" {
                        break;
                    }
                    body.push(Line {
                        file: file.to_path_buf(),
                        no: i,
                        text: l.to_string(),
                    });
                }
                if main {
                    self.defines.insert(name, (body, head));
                }
                continue;
            }
            // Backslash continuations outside defines join with one space, as make does.
            while logical.ends_with('\\') && i < raw.len() {
                logical.pop();
                logical = format!(
                    "{} {}",
                    logical.trim_end(),
                    raw[i].trim_end_matches('\r').trim_start()
                );
                i += 1;
            }
            let l = line(&logical);
            let t = logical.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(inc) = t
                .strip_prefix("include ")
                .or_else(|| t.strip_prefix("-include "))
            {
                let inc = inc.trim();
                if inc.contains("$(") {
                    continue; // the OpenWrt build system itself
                }
                let p = self.dir.join(inc);
                let text = fs::read_to_string(&p)
                    .map_err(|e| err(&l, format!("cannot read {}: {e}", p.display())))?;
                self.parse(&p, &text, false)?;
                continue;
            }
            if t.starts_with("$(eval") {
                if let Some(rest) = t.strip_prefix("$(eval $(call BuildPackage,") {
                    let name = rest.trim_end_matches(')').trim();
                    let name = self.expand(name, &l)?;
                    if main {
                        self.packages.push(name);
                    }
                    continue;
                }
                return Err(err(&l, "unsupported $(eval ...)"));
            }
            if let Some((k, op, v)) = split_assignment(t) {
                let v = v.trim().to_string();
                match op {
                    "?=" if self.vars.contains_key(k) => {}
                    "+=" => {
                        let old = self.vars.get(k).map(|(o, _)| o.clone()).unwrap_or_default();
                        let nv = if old.is_empty() {
                            v
                        } else {
                            format!("{old} {v}")
                        };
                        self.vars.insert(k.to_string(), (nv, l.clone()));
                    }
                    _ => {
                        self.vars.insert(k.to_string(), (v, l.clone()));
                    }
                }
                continue;
            }
            if main {
                return Err(err(&l, "line not understood by feedtool's Makefile reader"));
            }
            // Included helper files may hold rules the SDK needs; they carry no package data.
        }
        Ok(())
    }

    /// Expands `$(VAR)` for variables set in the Makefile (recursively) and `$$`.
    pub fn expand(&self, s: &str, at: &Line) -> Result<String, String> {
        self.expand_depth(s, at, 0)
    }

    fn expand_depth(&self, s: &str, at: &Line, depth: usize) -> Result<String, String> {
        if depth > 16 {
            return Err(err(at, "variable expansion too deep"));
        }
        let mut out = String::new();
        let mut rest = s;
        while let Some(p) = rest.find('$') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            if let Some(a) = after.strip_prefix('$') {
                out.push('$');
                rest = a;
            } else if let Some(a) = after.strip_prefix('(') {
                let end = a.find(')').ok_or_else(|| err(at, "unterminated $("))?;
                let name = &a[..end];
                match self.vars.get(name) {
                    Some((v, _)) if !name.contains(' ') && !name.contains(',') => {
                        out.push_str(&self.expand_depth(v, at, depth + 1)?);
                    }
                    _ => {
                        return Err(err(
                            at,
                            format!("$({name}) is not something feedtool can evaluate"),
                        ))
                    }
                }
                rest = &a[end + 1..];
            } else {
                return Err(err(at, "unsupported $ reference"));
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    fn var(&self, name: &str) -> Result<String, String> {
        match self.vars.get(name) {
            Some((v, l)) => self.expand(v, l),
            None => Ok(String::new()),
        }
    }

    /// Replaces the value of a variable set in the Makefile (e.g. PKG_RELEASE for a rebuild
    /// with a higher release); an error when the Makefile does not set it.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), String> {
        match self.vars.get_mut(name) {
            Some((v, _)) => {
                *v = value.to_string();
                Ok(())
            }
            None => Err(format!("{}: {name} is not set", self.path.display())),
        }
    }

    /// The one package this Makefile builds, or the named one.
    pub fn package(&self, want: Option<&str>) -> Result<Package, String> {
        let name = match want {
            Some(n) => {
                if !self.packages.iter().any(|p| p == n) {
                    return Err(format!(
                        "{}: no $(eval $(call BuildPackage,{n}))",
                        self.path.display()
                    ));
                }
                n.to_string()
            }
            None => match self.packages.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(format!(
                        "{}: no $(eval $(call BuildPackage,...)) line",
                        self.path.display()
                    ))
                }
                _ => {
                    return Err(format!(
                        "{}: several packages; name one",
                        self.path.display()
                    ))
                }
            },
        };
        let (body, head) = self
            .defines
            .get(&format!("Package/{name}"))
            .ok_or_else(|| format!("{}: no define Package/{name}", self.path.display()))?;

        let mut fields: BTreeMap<String, (String, Line)> = BTreeMap::new();
        for l in body {
            let t = l.text.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (k, op, v) = split_assignment(t)
                .ok_or_else(|| err(l, "expected FIELD:=value in package define"))?;
            let v = v.trim().to_string();
            match op {
                "+=" => {
                    let old = fields.get(k).map(|(o, _)| o.clone()).unwrap_or_default();
                    let nv = if old.is_empty() {
                        v
                    } else {
                        format!("{old} {v}")
                    };
                    fields.insert(k.to_string(), (nv, l.clone()));
                }
                _ => {
                    fields.insert(k.to_string(), (v, l.clone()));
                }
            }
        }
        let field = |k: &str| -> Result<String, String> {
            match fields.get(k) {
                Some((v, l)) => self.expand(v, l),
                None => Ok(String::new()),
            }
        };
        for k in fields.keys() {
            const KNOWN: &[&str] = &[
                "SECTION",
                "CATEGORY",
                "SUBMENU",
                "TITLE",
                "URL",
                "DEPENDS",
                "PKGARCH",
                "MAINTAINER",
                "VERSION",
                "LICENSE",
                "LICENSE_FILES",
                "USERID",
            ];
            if !KNOWN.contains(&k.as_str()) {
                let (_, l) = &fields[k];
                return Err(err(l, format!("{k} is not supported by feedtool")));
            }
        }

        let pkg_version = self.var("PKG_VERSION")?;
        let pkg_release = self.var("PKG_RELEASE")?;
        let mut version = match (pkg_version.is_empty(), pkg_release.is_empty()) {
            (false, false) => format!("{pkg_version}-r{pkg_release}"),
            (false, true) => pkg_version.clone(),
            _ => pkg_release.clone(),
        };
        if fields.contains_key("VERSION") {
            version = field("VERSION")?;
        }
        let section = field("SECTION")?;
        let category = field("CATEGORY")?;
        let title = field("TITLE")?;
        for (k, v) in [
            ("TITLE", &title),
            ("CATEGORY", &category),
            ("SECTION", &section),
            ("VERSION", &version),
        ] {
            if v.is_empty() {
                return Err(err(
                    head,
                    format!("Package/{name} is missing the {k} field"),
                ));
            }
        }
        // Only `all` (a package with no binaries): any other value names one architecture,
        // which the per-architecture build here gives every package anyway.
        let noarch =
            match fields.get("PKGARCH") {
                None => false,
                Some(_) if field("PKGARCH")? == "all" => true,
                Some((_, l)) => return Err(err(
                    l,
                    "only PKGARCH:=all is supported (other packages are built per architecture)",
                )),
            };

        let depends = match fields.get("DEPENDS") {
            Some((v, l)) => parse_depends(self, v, l)?,
            None => vec!["libc".to_string()],
        };

        let description = match self.defines.get(&format!("Package/{name}/description")) {
            Some((lines, _)) => {
                let mut out = Vec::new();
                for l in lines {
                    let t = self.expand(&l.text, l)?;
                    out.push(t);
                }
                out
            }
            None => vec![title.clone()],
        };

        let conffiles = match self.defines.get(&format!("Package/{name}/conffiles")) {
            Some((lines, _)) => {
                let mut out = Vec::new();
                for l in lines {
                    let t = self.expand(&l.text, l)?;
                    out.extend(t.split_whitespace().map(str::to_string));
                }
                out
            }
            None => Vec::new(),
        };

        let script_text = |script: &str| -> Result<Option<String>, String> {
            let Some((lines, _)) = self.defines.get(&format!("Package/{name}/{script}")) else {
                return Ok(None);
            };
            let mut text = String::new();
            for l in lines {
                text.push_str(&self.expand(&l.text, l)?);
                text.push('\n');
            }
            Ok(Some(text))
        };
        let postinst = script_text("postinst")?;
        let prerm = script_text("prerm")?;

        for script in ["preinst", "postrm", "install_lib", "install-overlay"] {
            if let Some((_, l)) = self.defines.get(&format!("Package/{name}/{script}")) {
                return Err(err(
                    l,
                    format!("Package/{name}/{script} is not supported by feedtool"),
                ));
            }
        }

        let install = match self.defines.get(&format!("Package/{name}/install")) {
            Some((lines, _)) => {
                let install = parse_install(self, lines)?;
                if noarch {
                    let bin = install.iter().find_map(|i| match i {
                        Install::Copy { srcs, line, .. }
                            if srcs.iter().any(|s| matches!(s, Src::Bin(_))) =>
                        {
                            Some(line)
                        }
                        _ => None,
                    });
                    if let Some(l) = bin {
                        return Err(err(l, "a PKGARCH:=all package installs no binaries"));
                    }
                }
                install
            }
            None => {
                return Err(err(
                    head,
                    format!("Package/{name} has no install define (OpenWrt would skip it)"),
                ))
            }
        };

        let maintainer = match fields.get("MAINTAINER") {
            Some(_) => field("MAINTAINER")?,
            None => self.var("PKG_MAINTAINER")?,
        };
        let license = match fields.get("LICENSE") {
            Some(_) => field("LICENSE")?,
            None => self.var("PKG_LICENSE")?,
        };
        let license_files = match fields.get("LICENSE_FILES") {
            Some(_) => field("LICENSE_FILES")?,
            None => self.var("PKG_LICENSE_FILES")?,
        };
        let userid = match fields.get("USERID") {
            Some((_, l)) => {
                let v = field("USERID")?;
                check_userid(&v, l)?;
                v
            }
            None => String::new(),
        };
        let url = match fields.get("URL") {
            Some(_) => field("URL")?,
            None => self.var("PKG_URL")?,
        };

        Ok(Package {
            name: name.clone(),
            version,
            pkg_name: self.var("PKG_NAME")?,
            section,
            category,
            submenu: field("SUBMENU")?,
            title,
            url,
            license,
            license_files,
            maintainer,
            depends,
            description,
            conffiles,
            userid,
            noarch,
            install,
            postinst,
            prerm,
        })
    }
}

/// `USERID` as base-files' `add_group_and_user` reads it: space-separated
/// `user[=uid]:group[=gid][:group2[=gid],...]` tuples; names a passwd line can hold, ids
/// decimal. Anything else would reach the router's /etc/passwd as it is.
fn check_userid(v: &str, l: &Line) -> Result<(), String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 32
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let part_ok = |p: &str| match p.split_once('=') {
        Some((n, id)) => name_ok(n) && (id.is_empty() || id.parse::<u32>().is_ok()),
        None => name_ok(p),
    };
    for tuple in v.split_whitespace() {
        let mut parts = tuple.split(':');
        let user = parts.next().unwrap_or("");
        let group = parts.next().unwrap_or("");
        let extra = parts.next();
        let ok = parts.next().is_none()
            && (user.is_empty() || part_ok(user))
            && (group.is_empty() || part_ok(group))
            && !(user.is_empty() && group.is_empty())
            && extra.map_or(true, |e| e.split(',').all(part_ok));
        if !ok {
            return Err(err(
                l,
                format!("USERID {tuple:?} is not user=uid:group=gid"),
            ));
        }
    }
    Ok(())
}

/// `NAME:=value` (also `=`, `?=`, `+=`); NAME must look like a make variable.
fn split_assignment(t: &str) -> Option<(&str, &str, &str)> {
    let ops = [":=", "?=", "+=", "="];
    let mut best: Option<(usize, &str)> = None;
    for op in ops {
        if let Some(p) = t.find(op) {
            if best.map_or(true, |(bp, _)| p < bp) {
                best = Some((p, op));
            }
        }
    }
    let (p, op) = best?;
    let k = t[..p].trim();
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '-' || c == '.')
    {
        return None;
    }
    Some((k, op, &t[p + op.len()..]))
}

/// OpenWrt's DEPENDS handling for the subset used here: `$(RUST_ARCH_DEPENDS)` (only `@`
/// conditions) and `@...` words are dropped, `+` is stripped, `+libc` comes first.
fn parse_depends(mk: &Makefile, v: &str, l: &Line) -> Result<Vec<String>, String> {
    let v = v.replace("$(RUST_ARCH_DEPENDS)", " ");
    let v = mk.expand(&v, l)?;
    let mut out = vec!["libc".to_string()];
    for w in v.split_whitespace() {
        if w.starts_with('@') {
            continue;
        }
        if w.contains(':') || w.contains('(') || w.contains('!') {
            return Err(err(
                l,
                format!("conditional dependency {w} is not supported by feedtool"),
            ));
        }
        let d = w.trim_start_matches('+');
        if d.is_empty() {
            return Err(err(l, "empty dependency"));
        }
        if w == "+libc" {
            continue; // PKG_FIXUP_DEPENDS filters the default +libc out before prepending it
        }
        out.push(d.to_string());
    }
    Ok(out)
}

fn dest(word: &str, l: &Line) -> Result<String, String> {
    let rest = word
        .strip_prefix("$(1)")
        .ok_or_else(|| err(l, format!("destination {word} does not start with $(1)")))?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(err(l, format!("destination {word} is not under $(1)/")));
    }
    let mut parts = Vec::new();
    for c in rest.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(err(l, format!("destination {word} leaves $(1)"))),
            c => parts.push(c),
        }
    }
    let mut s = parts.join("/");
    if rest.ends_with('/') && !s.is_empty() {
        s.push('/');
    }
    Ok(s)
}

fn source(word: &str, l: &Line) -> Result<Src, String> {
    if let Some(name) = word.strip_prefix("$(PKG_INSTALL_DIR)/bin/") {
        if name.is_empty() || name.contains('/') || name.contains('$') {
            return Err(err(
                l,
                format!("source {word}: expected $(PKG_INSTALL_DIR)/bin/NAME"),
            ));
        }
        return Ok(Src::Bin(name.to_string()));
    }
    if let Some(rel) = word.strip_prefix("./files/") {
        if rel.is_empty() || rel.split('/').any(|c| c == ".." || c.is_empty()) || rel.contains('$')
        {
            return Err(err(l, format!("source {word}: bad path under ./files/")));
        }
        return Ok(Src::Local(format!("files/{rel}")));
    }
    Err(err(
        l,
        format!("source {word}: only $(PKG_INSTALL_DIR)/bin/NAME and ./files/... are supported"),
    ))
}

/// Expands package variables but leaves `$(1)`, `$(PKG_INSTALL_DIR)` and `$(INSTALL_*)` alone.
fn expand_recipe(mk: &Makefile, text: &str, l: &Line) -> Result<String, String> {
    const KEEP: &[&str] = &[
        "$(1)",
        "$(PKG_INSTALL_DIR)",
        "$(INSTALL_DIR)",
        "$(INSTALL_BIN)",
        "$(INSTALL_CONF)",
        "$(INSTALL_DATA)",
    ];
    let mut s = text.to_string();
    for (i, k) in KEEP.iter().enumerate() {
        s = s.replace(k, &format!("\u{1}{i}\u{2}"));
    }
    let mut s = mk.expand(&s, l)?;
    for (i, k) in KEEP.iter().enumerate() {
        s = s.replace(&format!("\u{1}{i}\u{2}"), k);
    }
    Ok(s)
}

fn parse_install(mk: &Makefile, lines: &[Line]) -> Result<Vec<Install>, String> {
    let mut out = Vec::new();
    for l in lines {
        let t = l.text.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.ends_with('\\')
            || t.contains(';')
            || t.contains('`')
            || t.contains('|')
            || t.contains('&')
            || t.contains('>')
        {
            return Err(err(
                l,
                "only one plain $(INSTALL_*) command per line is supported",
            ));
        }
        let first = t.split_whitespace().next().unwrap_or("");
        if ![
            "$(INSTALL_DIR)",
            "$(INSTALL_BIN)",
            "$(INSTALL_CONF)",
            "$(INSTALL_DATA)",
        ]
        .contains(&first)
        {
            return Err(err(l, format!("unsupported install command {first}")));
        }
        let t = expand_recipe(mk, t, l)?;
        let words: Vec<&str> = t.split_whitespace().collect();
        let (cmd, args) = words.split_first().expect("non-empty line");
        let mode = match *cmd {
            "$(INSTALL_DIR)" => {
                if args.is_empty() {
                    return Err(err(l, "$(INSTALL_DIR) without a directory"));
                }
                let dirs = args
                    .iter()
                    .map(|a| dest(a, l).map(|d| d.trim_end_matches('/').to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(Install::Dir(dirs, l.clone()));
                continue;
            }
            "$(INSTALL_BIN)" => MODE_BIN,
            "$(INSTALL_CONF)" => MODE_CONF,
            "$(INSTALL_DATA)" => MODE_DATA,
            other => return Err(err(l, format!("unsupported install command {other}"))),
        };
        if args.len() < 2 {
            return Err(err(l, format!("{cmd} needs SRC... DST")));
        }
        let (dst, srcs) = args.split_last().expect("two or more");
        let srcs = srcs
            .iter()
            .map(|s| source(s, l))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Install::Copy {
            srcs,
            dst: dest(dst, l)?,
            mode,
            line: l.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(mk: &str, inc: Option<&str>) -> Result<Makefile, String> {
        let d = std::env::temp_dir().join(format!(
            "feedtool-mk-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        fs::create_dir_all(d.join("pkg")).unwrap();
        if let Some(inc) = inc {
            fs::write(d.join("v6only.mk"), inc).unwrap();
        }
        fs::write(d.join("pkg/Makefile"), mk).unwrap();
        let r = Makefile::load(&d.join("pkg/Makefile"));
        fs::remove_dir_all(&d).ok();
        r
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::SeqCst)
    }

    const INC: &str = "V6ONLY_SRC:=$(realpath $(CURDIR)/../..)\nPKG_MAINTAINER:=v6only developers\nPKG_LICENSE:=MIT\n\ndefine Build/Prepare\n\tmkdir -p $(PKG_BUILD_DIR)\nendef\n";

    const MK: &str = "include $(TOPDIR)/rules.mk\n\nPKG_NAME:=fw-helper\nPKG_VERSION:=0.1.0\nPKG_RELEASE:=1\n\ninclude ../v6only.mk\ninclude $(INCLUDE_DIR)/package.mk\n\ndefine Package/fw-helper\n  SECTION:=net\n  CATEGORY:=Network\n  SUBMENU:=v6only\n  TITLE:=nftables rules\n  DEPENDS:=$(RUST_ARCH_DEPENDS) +nftables-json @IPV6\nendef\n\ndefine Package/fw-helper/description\n  Renders rules,\n\n  and more.\nendef\n\ndefine Package/fw-helper/conffiles\n/etc/config/fw-helper\nendef\n\ndefine Package/fw-helper/install\n\t$(INSTALL_DIR) $(1)/usr/sbin $(1)/etc/init.d $(1)/etc/config\n\t$(INSTALL_BIN) $(PKG_INSTALL_DIR)/bin/fw-helper $(1)/usr/sbin/\n\t$(INSTALL_BIN) ./files/$(PKG_NAME).init $(1)/etc/init.d/fw-helper\n\t$(INSTALL_CONF) ./files/fw-helper.config $(1)/etc/config/fw-helper\nendef\n\n$(eval $(call BuildPackage,fw-helper))\n";

    #[test]
    fn parses_the_feed_makefile_shape() {
        let mk = load(MK, Some(INC)).unwrap();
        let p = mk.package(None).unwrap();
        assert_eq!(p.name, "fw-helper");
        assert_eq!(p.version, "0.1.0-r1");
        assert_eq!(p.section, "net");
        assert_eq!(p.category, "Network");
        assert_eq!(p.submenu, "v6only");
        assert_eq!(p.license, "MIT");
        assert_eq!(p.maintainer, "v6only developers");
        assert_eq!(p.depends, ["libc", "nftables-json"]);
        assert_eq!(p.description, ["  Renders rules,", "", "  and more."]);
        assert_eq!(p.conffiles, ["/etc/config/fw-helper"]);
        assert_eq!(p.install.len(), 4);
        match &p.install[0] {
            Install::Dir(d, _) => assert_eq!(d, &["usr/sbin", "etc/init.d", "etc/config"]),
            x => panic!("{x:?}"),
        }
        match &p.install[1] {
            Install::Copy {
                srcs, dst, mode, ..
            } => {
                assert_eq!(srcs, &[Src::Bin("fw-helper".into())]);
                assert_eq!(dst, "usr/sbin/");
                assert_eq!(*mode, 0o755);
            }
            x => panic!("{x:?}"),
        }
        match &p.install[2] {
            Install::Copy { srcs, dst, .. } => {
                assert_eq!(srcs, &[Src::Local("files/fw-helper.init".into())]);
                assert_eq!(dst, "etc/init.d/fw-helper");
            }
            x => panic!("{x:?}"),
        }
        match &p.install[3] {
            Install::Copy { mode, .. } => assert_eq!(*mode, 0o600),
            x => panic!("{x:?}"),
        }
    }

    #[test]
    fn userid_of_the_package() {
        let mk = load(
            &MK.replace(
                "  SUBMENU:=v6only\n",
                "  SUBMENU:=v6only\n  USERID:=dns64=6147:dns64=6147\n",
            ),
            Some(INC),
        )
        .unwrap();
        assert_eq!(mk.package(None).unwrap().userid, "dns64=6147:dns64=6147");
        assert_eq!(
            load(MK, Some(INC)).unwrap().package(None).unwrap().userid,
            ""
        );
        // procd's form (groups only) and dynamic ids pass; what passwd cannot hold does not.
        for good in [
            ":dialout=20 :audio=29",
            "a=:b=",
            "u:g:x=1,y",
            "logd=514:logd=514",
        ] {
            let mk = load(
                &MK.replace("  SUBMENU:=v6only\n", &format!("  USERID:={good}\n")),
                Some(INC),
            )
            .unwrap();
            assert_eq!(mk.package(None).unwrap().userid, good);
        }
        for bad in [
            "dns64=x:dns64",
            "Root=0:root=0",
            "d=-1:d",
            "a:b:c:d",
            ":",
            "a=1:b=2;c",
        ] {
            let mk = load(
                &MK.replace("  SUBMENU:=v6only\n", &format!("  USERID:={bad}\n")),
                Some(INC),
            )
            .unwrap();
            let e = mk.package(None).unwrap_err();
            assert!(e.contains("USERID"), "{bad}: {e}");
        }
    }

    #[test]
    fn pkgarch_all_is_a_package_without_binaries() {
        let all = MK.replace("  SUBMENU:=v6only\n", "  SUBMENU:=v6only\n  PKGARCH:=all\n");
        let e = load(&all, Some(INC)).unwrap().package(None).unwrap_err();
        assert!(
            e.contains("Makefile:31: a PKGARCH:=all package installs no binaries"),
            "{e}"
        );
        let no_bin = all.replace(
            "\t$(INSTALL_BIN) $(PKG_INSTALL_DIR)/bin/fw-helper $(1)/usr/sbin/\n",
            "",
        );
        let p = load(&no_bin, Some(INC)).unwrap().package(None).unwrap();
        assert!(p.noarch);
        assert!(!load(MK, Some(INC)).unwrap().package(None).unwrap().noarch);
        let other = MK.replace(
            "  SUBMENU:=v6only\n",
            "  SUBMENU:=v6only\n  PKGARCH:=mips_24kc\n",
        );
        let e = load(&other, Some(INC)).unwrap().package(None).unwrap_err();
        assert!(e.contains("only PKGARCH:=all is supported"), "{e}");
    }

    #[test]
    fn version_without_release() {
        let mk = load(&MK.replace("PKG_RELEASE:=1\n", ""), Some(INC)).unwrap();
        assert_eq!(mk.package(None).unwrap().version, "0.1.0");
    }

    #[test]
    fn unknown_install_line_names_the_line() {
        let bad = MK.replace(
            "\t$(INSTALL_CONF) ./files",
            "\t$(CP) ./files/x $(1)/etc/\n\t$(INSTALL_CONF) ./files",
        );
        let e = load(&bad, Some(INC)).unwrap().package(None).unwrap_err();
        assert!(e.contains("Makefile:32"), "{e}");
        assert!(e.contains("unsupported install command $(CP)"), "{e}");
    }

    #[test]
    fn other_sources_are_refused() {
        let bad = MK.replace("./files/fw-helper.config", "$(PKG_BUILD_DIR)/x.config");
        let e = load(&bad, Some(INC)).unwrap().package(None).unwrap_err();
        assert!(
            e.contains("Makefile:32: $(PKG_BUILD_DIR) is not something feedtool can evaluate"),
            "{e}"
        );
        let bad = MK.replace("./files/fw-helper.config", "/etc/x.config");
        let e = load(&bad, Some(INC)).unwrap().package(None).unwrap_err();
        assert!(
            e.contains("only $(PKG_INSTALL_DIR)/bin/NAME and ./files/"),
            "{e}"
        );
    }

    #[test]
    fn destinations_must_be_under_root() {
        let bad = MK.replace("$(1)/usr/sbin/\n", "/usr/sbin/\n");
        assert!(load(&bad, Some(INC))
            .unwrap()
            .package(None)
            .unwrap_err()
            .contains("does not start with $(1)"));
        let bad = MK.replace("$(1)/usr/sbin/\n", "$(1)/../x\n");
        assert!(load(&bad, Some(INC))
            .unwrap()
            .package(None)
            .unwrap_err()
            .contains("leaves $(1)"));
    }

    #[test]
    fn conditional_dependencies_are_refused() {
        let bad = MK.replace("+nftables-json", "+USE_GLIBC:librt");
        assert!(load(&bad, Some(INC))
            .unwrap()
            .package(None)
            .unwrap_err()
            .contains("conditional dependency"));
    }

    #[test]
    fn libc_is_not_doubled_and_no_depends_gives_libc() {
        let mk = load(
            &MK.replace("+nftables-json", "+libc +nftables-json"),
            Some(INC),
        )
        .unwrap();
        assert_eq!(mk.package(None).unwrap().depends, ["libc", "nftables-json"]);
        let mk = load(
            &MK.replace("  DEPENDS:=$(RUST_ARCH_DEPENDS) +nftables-json @IPV6\n", ""),
            Some(INC),
        )
        .unwrap();
        assert_eq!(mk.package(None).unwrap().depends, ["libc"]);
    }

    #[test]
    fn missing_include_and_missing_title_are_errors() {
        assert!(load(MK, None).unwrap_err().contains("cannot read"));
        let bad = MK.replace("  TITLE:=nftables rules\n", "");
        assert!(load(&bad, Some(INC))
            .unwrap()
            .package(None)
            .unwrap_err()
            .contains("missing the TITLE field"));
    }

    #[test]
    fn description_defaults_to_title_and_unknown_vars_fail() {
        let no_desc = MK.replace(
            "define Package/fw-helper/description\n  Renders rules,\n\n  and more.\nendef\n",
            "",
        );
        let p = load(&no_desc, Some(INC)).unwrap().package(None).unwrap();
        assert_eq!(p.description, ["nftables rules"]);
        let bad = MK.replace("  and more.", "  and $(SOMETHING).");
        assert!(load(&bad, Some(INC))
            .unwrap()
            .package(None)
            .unwrap_err()
            .contains("$(SOMETHING)"));
    }

    #[test]
    fn stray_top_level_lines_are_errors() {
        let bad = MK.replace("PKG_RELEASE:=1\n", "PKG_RELEASE:=1\nfoo: bar\n");
        assert!(load(&bad, Some(INC))
            .unwrap_err()
            .contains("not understood"));
    }

    #[test]
    fn other_maintainer_scripts_are_refused() {
        let bad = MK.replace(
            "$(eval",
            "define Package/fw-helper/preinst\n#!/bin/sh\nendef\n$(eval",
        );
        assert!(load(&bad, Some(INC))
            .unwrap()
            .package(None)
            .unwrap_err()
            .contains("preinst is not supported"));
    }

    #[test]
    fn postinst_and_prerm_are_kept_expanded() {
        let mk = MK.replace(
            "$(eval",
            "define Package/fw-helper/postinst\n#!/bin/sh\n[ -n \"$${IPKG_INSTROOT}\" ] || rm -f /tmp/x.*\nendef\n\
             define Package/fw-helper/prerm\n#!/bin/sh\n\techo $(PKG_NAME)\nendef\n$(eval",
        );
        let p = load(&mk, Some(INC)).unwrap().package(None).unwrap();
        assert_eq!(
            p.postinst.as_deref(),
            Some("#!/bin/sh\n[ -n \"${IPKG_INSTROOT}\" ] || rm -f /tmp/x.*\n")
        );
        assert_eq!(p.prerm.as_deref(), Some("#!/bin/sh\n\techo fw-helper\n"));
        assert_eq!(
            load(MK, Some(INC)).unwrap().package(None).unwrap().postinst,
            None
        );
    }
}
