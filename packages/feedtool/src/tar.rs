//! A minimal tar writer producing exactly what OpenWrt's `scripts/ipkg-build` gets from
//! `tar --format=gnu --numeric-owner --sort=name --mtime=@EPOCH` run under fakeroot:
//! GNU-format headers (magic "ustar  \0"), uid/gid 0 with empty user/group names, device
//! fields left zero, every member stamped with the same mtime, and the archive padded with
//! zero blocks to a whole 10240-byte record (tar's default blocking factor 20).
//!
//! Also a small reader, used by `index` to pull `./control` out of a package.

use std::collections::BTreeMap;

pub const BLOCK: usize = 512;
pub const RECORD: usize = 20 * BLOCK;
/// Longest member name the writer accepts. GNU tar stores names of 100 bytes and more in an
/// extra `././@LongLink` member; router package paths never get there, so we refuse instead.
pub const MAX_NAME: usize = 99;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Name as stored: `./`, `./usr/`, `./usr/sbin/x` (directories end in `/`).
    pub name: String,
    pub mode: u32,
    pub kind: Kind,
}

impl Entry {
    pub fn dir(name: impl Into<String>, mode: u32) -> Entry {
        Entry {
            name: name.into(),
            mode,
            kind: Kind::Dir,
        }
    }
    pub fn file(name: impl Into<String>, mode: u32, data: impl Into<Vec<u8>>) -> Entry {
        Entry {
            name: name.into(),
            mode,
            kind: Kind::File(data.into()),
        }
    }
}

fn octal(field: &mut [u8], value: u64) -> Result<(), String> {
    // `width - 1` octal digits, zero padded, then NUL (GNU tar's layout for these fields).
    let digits = field.len() - 1;
    let s = format!("{:0width$o}", value, width = digits);
    if s.len() > digits {
        return Err(format!(
            "value {value} does not fit a {}-byte tar field",
            field.len()
        ));
    }
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
    Ok(())
}

/// One 512-byte GNU header.
pub fn header(
    name: &str,
    mode: u32,
    size: u64,
    mtime: u64,
    typeflag: u8,
) -> Result<[u8; BLOCK], String> {
    let mut h = [0u8; BLOCK];
    if name.len() > MAX_NAME {
        return Err(format!(
            "tar member name longer than {MAX_NAME} bytes: {name}"
        ));
    }
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode & 0o7777))?;
    octal(&mut h[108..116], 0)?; // uid
    octal(&mut h[116..124], 0)?; // gid
    octal(&mut h[124..136], size)?;
    octal(&mut h[136..148], mtime)?;
    h[156] = typeflag;
    h[257..265].copy_from_slice(b"ustar  \0");
    // uname/gname stay empty (--numeric-owner); devmajor/devminor stay zero (GNU format).
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{:06o}", sum);
    h[148..154].copy_from_slice(s.as_bytes());
    h[154] = 0;
    h[155] = b' ';
    Ok(h)
}

/// Serialises `entries` in the given order, with the end-of-archive blocks and record padding.
pub fn write(entries: &[Entry], mtime: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for e in entries {
        match &e.kind {
            Kind::Dir => out.extend_from_slice(&header(&e.name, e.mode, 0, mtime, b'5')?),
            Kind::File(data) => {
                out.extend_from_slice(&header(&e.name, e.mode, data.len() as u64, mtime, b'0')?);
                out.extend_from_slice(data);
                let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
                out.extend(std::iter::repeat(0u8).take(pad));
            }
        }
    }
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    let pad = (RECORD - out.len() % RECORD) % RECORD;
    out.extend(std::iter::repeat(0u8).take(pad));
    Ok(out)
}

/// An in-memory directory tree, archived the way `tar --sort=name -c .` walks a directory:
/// the directory itself, then each child in byte order of its name, recursing into
/// subdirectories before moving on to the next sibling.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    /// Paths relative to the root, without leading `./` or trailing `/`: "usr", "usr/sbin/x".
    nodes: BTreeMap<String, (u32, Option<Vec<u8>>)>,
}

impl Tree {
    pub fn new() -> Self {
        Tree::default()
    }

    pub fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || matches!(self.nodes.get(path), Some((_, None)))
    }

    pub fn is_file(&self, path: &str) -> bool {
        matches!(self.nodes.get(path), Some((_, Some(_))))
    }

    /// A regular file's mode and bytes.
    pub fn file(&self, path: &str) -> Option<(u32, &[u8])> {
        match self.nodes.get(path) {
            Some((mode, Some(d))) => Some((*mode, d.as_slice())),
            _ => None,
        }
    }

    /// A directory's mode.
    pub fn dir_mode(&self, path: &str) -> Option<u32> {
        match self.nodes.get(path) {
            Some((mode, None)) => Some(*mode),
            _ => None,
        }
    }

    /// All regular files at or below `path`.
    pub fn files_under(&self, path: &str) -> Vec<String> {
        let prefix = format!("{path}/");
        self.nodes
            .iter()
            .filter(|(p, (_, d))| d.is_some() && (p.as_str() == path || p.starts_with(&prefix)))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// `mkdir -p` with `mode` for every missing component; existing directories are kept.
    pub fn mkdir_p(&mut self, path: &str, mode: u32) -> Result<(), String> {
        let mut cur = String::new();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(comp);
            match self.nodes.get(&cur) {
                Some((_, None)) => {}
                Some((_, Some(_))) => return Err(format!("/{cur} exists and is not a directory")),
                None => {
                    self.nodes.insert(cur.clone(), (mode, None));
                }
            }
        }
        Ok(())
    }

    /// Creates or replaces a regular file; its parent directory must exist (like `install`).
    pub fn put_file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<(), String> {
        let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        if !self.is_dir(parent) {
            return Err(format!(
                "directory /{parent} does not exist (missing $(INSTALL_DIR)?)"
            ));
        }
        if self.is_dir(path) {
            return Err(format!("/{path} is a directory"));
        }
        self.nodes.insert(path.to_string(), (mode, Some(data)));
        Ok(())
    }

    /// Puts a text file (mode 0644) of `lines`, each ending in a newline.
    pub fn put_lines(&mut self, path: &str, lines: &[String]) -> Result<(), String> {
        let mut body = lines.join("\n");
        body.push('\n');
        self.put_file(path, 0o644, body.into_bytes())
    }

    pub fn remove(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.nodes
            .retain(|p, _| p != path && !p.starts_with(&prefix));
    }

    pub fn paths(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// Entries in `tar --sort=name` order, rooted at `./` (mode `root_mode`).
    pub fn entries(&self, root_mode: u32) -> Vec<Entry> {
        let mut out = vec![Entry::dir("./", root_mode)];
        self.walk("", &mut out);
        out
    }

    fn children(&self, dir: &str) -> Vec<&str> {
        let mut kids: Vec<&str> = self
            .nodes
            .keys()
            .filter_map(|p| {
                let rest = if dir.is_empty() {
                    Some(p.as_str())
                } else {
                    p.strip_prefix(dir)?.strip_prefix('/')
                };
                rest.filter(|r| !r.contains('/'))
            })
            .collect();
        kids.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        kids
    }

    fn walk(&self, dir: &str, out: &mut Vec<Entry>) {
        for name in self.children(dir) {
            let path = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            };
            let (mode, data) = &self.nodes[&path];
            match data {
                None => {
                    out.push(Entry::dir(format!("./{path}/"), *mode));
                    self.walk(&path, out);
                }
                Some(d) => out.push(Entry::file(format!("./{path}"), *mode, d.clone())),
            }
        }
    }
}

fn parse_octal(field: &[u8]) -> Result<u64, String> {
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect::<String>();
    let s = s.trim_start_matches(' ');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| format!("bad octal field {s:?} in tar header"))
}

/// Reads the regular files of a tar archive: (name, data). Only what ipkg-build writes is
/// supported (plain headers; GNU long names are rejected).
pub fn read_files(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + BLOCK <= data.len() {
        let h = &data[pos..pos + BLOCK];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let stored: u64 = parse_octal(&h[148..156])?;
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if stored != sum {
            return Err(format!("tar header checksum mismatch at offset {pos}"));
        }
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&h[..name_end]).into_owned();
        let size = parse_octal(&h[124..136])? as usize;
        let typeflag = h[156];
        pos += BLOCK;
        if pos + size > data.len() {
            return Err(format!("tar member {name} is truncated"));
        }
        match typeflag {
            b'0' | 0 => out.push((name, data[pos..pos + size].to_vec())),
            b'5' => {}
            b'L' | b'K' | b'x' | b'g' => {
                return Err(format!("unsupported tar extension header for {name}"))
            }
            _ => {}
        }
        pos += size.div_ceil(BLOCK) * BLOCK;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_gnu_tar() {
        // Bytes GNU tar 1.34 writes for `./` (mode 0755, mtime 1704067200) with
        // --format=gnu --numeric-owner --owner=0 --group=0.
        let h = header("./", 0o755, 0, 1_704_067_200, b'5').unwrap();
        assert_eq!(&h[0..3], b"./\0");
        assert_eq!(&h[100..108], b"0000755\0");
        assert_eq!(&h[108..116], b"0000000\0");
        assert_eq!(&h[116..124], b"0000000\0");
        assert_eq!(&h[124..136], b"00000000000\0");
        assert_eq!(&h[136..148], b"14544400200\0");
        assert_eq!(&h[148..156], b"006072\0 ");
        assert_eq!(h[156], b'5');
        assert_eq!(&h[257..265], b"ustar  \0");
        assert!(h[265..].iter().all(|&b| b == 0));
    }

    #[test]
    fn archive_is_padded_to_records() {
        let t = write(&[Entry::file("./a", 0o644, b"x".to_vec())], 0).unwrap();
        assert_eq!(t.len(), RECORD);
        let t = write(&[Entry::file("./a", 0o644, vec![1; 20 * 512])], 0).unwrap();
        assert_eq!(t.len(), 2 * RECORD);
    }

    #[test]
    fn sort_order_is_per_directory_like_gnu_tar() {
        let mut t = Tree::new();
        t.mkdir_p("a", 0o755).unwrap();
        t.mkdir_p("a-b", 0o755).unwrap();
        t.put_file("a/z", 0o644, vec![]).unwrap();
        t.put_file("a-b/y", 0o644, vec![]).unwrap();
        t.put_file("B", 0o600, vec![]).unwrap();
        let names: Vec<String> = t.entries(0o755).into_iter().map(|e| e.name).collect();
        // A flat byte sort would put "./a-b/" before "./a/z" ('-' < '/'); tar walks "a" first.
        assert_eq!(names, ["./", "./B", "./a/", "./a/z", "./a-b/", "./a-b/y"]);
    }

    #[test]
    fn put_file_needs_parent_and_mkdir_keeps_modes() {
        let mut t = Tree::new();
        assert!(t.put_file("usr/sbin/x", 0o755, vec![]).is_err());
        t.mkdir_p("usr/sbin", 0o755).unwrap();
        t.put_file("usr/sbin/x", 0o755, b"e".to_vec()).unwrap();
        assert!(t.mkdir_p("usr/sbin/x", 0o755).is_err());
        assert!(t.is_file("usr/sbin/x") && t.is_dir("usr") && t.is_dir(""));
        assert_eq!(t.files_under("usr"), ["usr/sbin/x"]);
    }

    #[test]
    fn long_names_are_refused() {
        let long = format!("./{}", "a".repeat(98));
        assert!(header(&long, 0o644, 0, 0, b'0').is_err());
    }

    #[test]
    fn reader_round_trips() {
        let t = write(
            &[
                Entry::dir("./", 0o755),
                Entry::file("./control", 0o644, b"Package: x\n".to_vec()),
                Entry::file("./big", 0o644, vec![7; 1000]),
            ],
            5,
        )
        .unwrap();
        let files = read_files(&t).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0],
            ("./control".to_string(), b"Package: x\n".to_vec())
        );
        assert_eq!(files[1].1, vec![7; 1000]);
    }
}
