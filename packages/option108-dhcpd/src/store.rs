//! Crash-safe lease storage: an append-only journal of checksummed lines, each made durable
//! (fdatasync) before the ACK it records is sent, compacted now and then by writing a snapshot
//! to a temporary file, syncing it and renaming it over the journal. A kill at any moment
//! leaves either the old or the new file, plus at most one torn last line, which the loader
//! recognises by its checksum and drops.
//!
//! Also writes the dnsmasq lease file (`expiry mac ip hostname clientid`) LuCI reads.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::leases::{ClientKey, HostName, State};
use crate::server::{LeaseChange, LeaseRecord, Server};

/// CRC-32 (IEEE 802.3), bit by bit: lines are short and few per second.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn mac_text(mac: &[u8; 6]) -> String {
    let m = mac;
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// One journal line (with its newline).
pub fn encode(change: &LeaseChange) -> String {
    let mut line = String::new();
    encode_into(&mut line, change);
    line
}

/// Appends one journal line to `out` (a reused buffer: no allocation once it is big enough).
pub fn encode_into(out: &mut String, change: &LeaseChange) {
    use std::fmt::Write as _;
    let start = out.len();
    let _ = match change {
        LeaseChange::Bound(r) => {
            let name = if r.host_name.is_empty() {
                "-"
            } else {
                r.host_name.as_str()
            };
            let m = r.mac;
            let _ = write!(
                out,
                "B {} {} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} ",
                r.ip, r.expiry, m[0], m[1], m[2], m[3], m[4], m[5]
            );
            for b in r.client.as_slice() {
                let _ = write!(out, "{b:02x}");
            }
            write!(out, " {name}")
        }
        LeaseChange::Released { ip, at } => write!(out, "R {ip} {at}"),
        LeaseChange::Declined { ip, until } => write!(out, "D {ip} {until}"),
    };
    let crc = crc32(&out.as_bytes()[start..]);
    let _ = writeln!(out, " {crc:08x}");
}

/// A journal line without its newline; `None` when damaged.
pub fn decode(line: &str) -> Option<LeaseChange> {
    let (body, crc) = line.rsplit_once(' ')?;
    if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32(body.as_bytes()) {
        return None;
    }
    let words: Vec<&str> = body.split(' ').collect();
    match words.as_slice() {
        ["B", ip, expiry, mac, client, name] => Some(LeaseChange::Bound(LeaseRecord {
            ip: ip.parse().ok()?,
            expiry: expiry.parse().ok()?,
            mac: parse_mac(mac)?,
            client: ClientKey::from_hex(client)?,
            host_name: if *name == "-" {
                HostName::default()
            } else {
                HostName::new(name.as_bytes())
            },
        })),
        ["R", ip, at] => Some(LeaseChange::Released {
            ip: ip.parse::<Ipv4Addr>().ok()?,
            at: at.parse().ok()?,
        }),
        ["D", ip, until] => Some(LeaseChange::Declined {
            ip: ip.parse::<Ipv4Addr>().ok()?,
            until: until.parse().ok()?,
        }),
        _ => None,
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

fn fdatasync(file: &File) -> io::Result<()> {
    // SAFETY: a plain syscall on an fd we own.
    if unsafe { libc::fdatasync(file.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub struct Journal {
    path: PathBuf,
    file: File,
    /// Reused for each line.
    line: String,
    /// Lines in the file, to decide when to compact.
    lines: usize,
}

/// What the loader found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub changes: Vec<LeaseChange>,
    /// Damaged lines dropped (a torn last write, or worse).
    pub dropped: usize,
}

impl Journal {
    /// Opens (creating) the journal and replays it. A damaged tail is cut off so new lines
    /// follow the last good one.
    pub fn open(path: &Path) -> io::Result<(Journal, Loaded)> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut loaded = Loaded::default();
        let mut good_len = 0usize;
        let mut lines = 0usize;
        let mut offset = 0usize;
        while offset < bytes.len() {
            let Some(end) = bytes[offset..].iter().position(|&b| b == b'\n') else {
                loaded.dropped += 1; // torn last line
                break;
            };
            let line = &bytes[offset..offset + end];
            match std::str::from_utf8(line).ok().and_then(decode) {
                Some(change) => {
                    loaded.changes.push(change);
                    lines += 1;
                    offset += end + 1;
                    good_len = offset;
                }
                None => {
                    // Appends only ever damage the end: nothing after a bad line is trusted.
                    loaded.dropped += bytes[offset..]
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .count();
                    break;
                }
            }
        }
        if good_len != bytes.len() {
            file.set_len(good_len as u64)?;
            file.sync_all()?;
        }
        drop(file);
        let file = OpenOptions::new().append(true).open(path)?;
        sync_dir(path)?;
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                line: String::with_capacity(128),
                lines,
            },
            loaded,
        ))
    }

    /// Appends one change and returns once it is on stable storage.
    pub fn append(&mut self, change: &LeaseChange) -> io::Result<()> {
        self.write(change)?;
        self.sync()
    }

    /// Appends one change without waiting for the disk; [`Journal::sync`] makes a whole
    /// batch durable at once (group commit).
    pub fn write(&mut self, change: &LeaseChange) -> io::Result<()> {
        self.line.clear();
        encode_into(&mut self.line, change);
        self.file.write_all(self.line.as_bytes())?;
        self.lines += 1;
        Ok(())
    }

    pub fn sync(&mut self) -> io::Result<()> {
        fdatasync(&self.file)
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Whether the journal has grown well past what a snapshot would hold.
    pub fn wants_compaction(&self, live: usize) -> bool {
        self.lines > 2 * live + 1024
    }

    /// Replaces the journal by a snapshot of `changes` (temp file, fsync, rename, fsync dir).
    pub fn compact(&mut self, changes: &[LeaseChange]) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            let mut text = String::with_capacity(changes.len() * 80);
            for c in changes {
                text.push_str(&encode(c));
            }
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = changes.len();
        Ok(())
    }
}

/// What a snapshot must hold to rebuild the server's tables: every binding (so a returning
/// client gets its address back), releases, and quarantines still running.
pub fn snapshot(server: &Server, now: u64) -> Vec<LeaseChange> {
    let mut out = Vec::new();
    for p in server.pools() {
        for (ip, slot) in p.table.slots() {
            match slot.state {
                State::Leased | State::Released if slot.client.is_some() => {
                    let client = slot.client.unwrap();
                    let expiry = if slot.state == State::Leased {
                        slot.expiry
                    } else {
                        0
                    };
                    out.push(LeaseChange::Bound(LeaseRecord {
                        ip,
                        client,
                        mac: slot.mac,
                        expiry,
                        host_name: slot.host_name,
                    }));
                    if slot.state == State::Released {
                        out.push(LeaseChange::Released {
                            ip,
                            at: slot.expiry,
                        });
                    }
                }
                State::Declined if slot.expiry > now => out.push(LeaseChange::Declined {
                    ip,
                    until: slot.expiry,
                }),
                _ => {}
            }
        }
        out.extend(
            p.static_leases
                .iter()
                .flatten()
                .map(|r| LeaseChange::Bound(*r)),
        );
    }
    out
}

/// dnsmasq's lease file: `expiry mac ip hostname clientid` per active lease (expiry 0 =
/// infinite), written to a temporary file and renamed so LuCI never reads half of it.
pub fn write_dnsmasq_leases(path: &Path, server: &Server, now: u64) -> io::Result<()> {
    let mut text = String::new();
    for p in server.pools() {
        for r in p.static_leases.iter().flatten().filter(|r| r.expiry > now) {
            let expiry = if r.expiry == u64::MAX { 0 } else { r.expiry };
            let name = if r.host_name.is_empty() {
                "*"
            } else {
                r.host_name.as_str()
            };
            let client = r
                .client
                .as_slice()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            text.push_str(&format!(
                "{expiry} {} {} {name} {client}\n",
                mac_text(&r.mac),
                r.ip
            ));
        }
        for (ip, slot) in p.table.slots() {
            if slot.state != State::Leased || slot.expiry <= now {
                continue;
            }
            let expiry = if slot.expiry == u64::MAX {
                0
            } else {
                slot.expiry
            };
            let name = if slot.host_name.is_empty() {
                "*"
            } else {
                slot.host_name.as_str()
            };
            let client = match slot.client {
                Some(c) => c
                    .as_slice()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
                None => "*".into(),
            };
            text.push_str(&format!(
                "{expiry} {} {ip} {name} {client}\n",
                mac_text(&slot.mac)
            ));
        }
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(n: u8) -> LeaseChange {
        LeaseChange::Bound(LeaseRecord {
            ip: Ipv4Addr::new(10, 0, 0, n),
            client: ClientKey::from_bytes(&[1, 2, 0, 0, 0, 0, n]),
            mac: [2, 0, 0, 0, 0, n],
            expiry: 1_700_000_000 + n as u64,
            host_name: HostName::new(b"host"),
        })
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("o108-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn lines_round_trip_and_damage_is_detected() {
        for c in [
            bound(7),
            LeaseChange::Released {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                at: 5,
            },
            LeaseChange::Declined {
                ip: Ipv4Addr::new(10, 0, 0, 2),
                until: 9,
            },
        ] {
            let line = encode(&c);
            assert_eq!(decode(line.trim_end()), Some(c));
            let mut bad = line.trim_end().to_string().into_bytes();
            bad[3] ^= 1;
            assert_eq!(decode(std::str::from_utf8(&bad).unwrap()), None);
        }
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn torn_tail_is_dropped_and_appends_continue() {
        let d = tmpdir("torn");
        let path = d.join("j");
        {
            let (mut j, loaded) = Journal::open(&path).unwrap();
            assert!(loaded.changes.is_empty());
            j.append(&bound(1)).unwrap();
            j.append(&bound(2)).unwrap();
        }
        // A write cut short by a kill: half a line.
        let half = &encode(&bound(3))[..20];
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(half.as_bytes())
            .unwrap();
        let (mut j, loaded) = Journal::open(&path).unwrap();
        assert_eq!(loaded.changes, vec![bound(1), bound(2)]);
        assert_eq!(loaded.dropped, 1);
        j.append(&bound(4)).unwrap();
        drop(j);
        let (_, loaded) = Journal::open(&path).unwrap();
        assert_eq!(loaded.changes, vec![bound(1), bound(2), bound(4)]);
        assert_eq!(loaded.dropped, 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn compaction_replaces_the_file() {
        let d = tmpdir("compact");
        let path = d.join("j");
        let (mut j, _) = Journal::open(&path).unwrap();
        for _ in 0..5 {
            j.append(&bound(1)).unwrap();
        }
        j.compact(&[bound(1)]).unwrap();
        j.append(&bound(2)).unwrap();
        let (_, loaded) = Journal::open(&path).unwrap();
        assert_eq!(loaded.changes, vec![bound(1), bound(2)]);
        assert!(!path.with_extension("tmp").exists());
        let _ = std::fs::remove_dir_all(&d);
    }
}
