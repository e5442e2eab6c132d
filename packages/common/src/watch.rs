//! Noticing that a file changed without waking up to look: inotify on the file's directory,
//! a pollable fd that becomes readable when the file is written, replaced (netifd writes
//! `resolv.conf.auto` to a temporary file and renames it), created or removed.
//!
//! The directory, not the file: a watch on the file would follow the replaced inode and miss
//! the new one. A symlink's target directory is watched too (`/tmp/resolv.conf.auto` on
//! OpenWrt points into `/tmp/resolv.conf.d/`). A directory that does not exist yet cannot be
//! watched: [`FileWatch::complete`] says so, and the caller looks again now and then.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What happens to a file that counts as a change.
const EVENTS: u32 = libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_ATTRIB;

pub struct FileWatch {
    fd: OwnedFd,
    /// The watches added: descriptor, and the index in `wanted` (one directory may be there
    /// twice, for the link and its target: inotify gives the same descriptor).
    watches: Vec<(i32, usize)>,
    /// Directories to watch: the file's, and its symlink target's.
    wanted: Vec<(PathBuf, OsString)>,
}

impl FileWatch {
    /// Watches `path`'s directory (and its symlink target's, if it is one) for changes of it.
    pub fn new(path: &Path) -> io::Result<FileWatch> {
        // SAFETY: plain inotify_init1; the fd is owned right after the check.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut wanted = Vec::new();
        let mut add = |p: &Path| {
            if let (Some(dir), Some(name)) = (p.parent(), p.file_name()) {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                let entry = (dir.to_path_buf(), name.to_os_string());
                if !wanted.contains(&entry) {
                    wanted.push(entry);
                }
            }
        };
        add(path);
        if let Ok(target) = std::fs::read_link(path) {
            add(&path.parent().unwrap_or(Path::new("/")).join(target));
        }
        let mut watch = FileWatch {
            // SAFETY: fd is a new, valid inotify descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            watches: Vec::new(),
            wanted,
        };
        watch.complete();
        Ok(watch)
    }

    /// Adds the watches still missing (a directory created since); returns whether every
    /// wanted directory is watched now.
    pub fn complete(&mut self) -> bool {
        for (i, (dir, _)) in self.wanted.iter().enumerate() {
            if self.watches.iter().any(|&(_, w)| w == i) {
                continue;
            }
            let Ok(c_dir) = CString::new(dir.as_os_str().as_bytes()) else {
                continue;
            };
            // SAFETY: a valid NUL-terminated path on our own inotify fd.
            let wd = unsafe {
                libc::inotify_add_watch(
                    self.fd.as_raw_fd(),
                    c_dir.as_ptr(),
                    EVENTS | libc::IN_ONLYDIR,
                )
            };
            if wd >= 0 {
                self.watches.push((wd, i));
            }
        }
        self.is_complete()
    }

    /// Whether every wanted directory is watched: otherwise the caller must look itself.
    pub fn is_complete(&self) -> bool {
        self.watches.len() == self.wanted.len()
    }

    /// Reads the pending events; returns whether one was about the file. A watched directory
    /// that went away drops its watch (see [`FileWatch::complete`]).
    pub fn changed(&mut self) -> io::Result<bool> {
        const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
        let mut buf = [0u8; 4096];
        let mut changed = false;
        loop {
            // SAFETY: reads into our own buffer of buf.len() bytes.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return Ok(changed),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                }
            }
            let events = &buf[..n as usize];
            let mut at = 0;
            // Fields read by bytes: the buffer has no particular alignment.
            while at + HEADER <= events.len() {
                let field = |i: usize| {
                    u32::from_ne_bytes(
                        events[at + 4 * i..at + 4 * i + 4]
                            .try_into()
                            .unwrap_or_default(),
                    )
                };
                let (wd, mask, len) = (field(0) as i32, field(1), field(3) as usize);
                let name_bytes = events
                    .get(at + HEADER..at + HEADER + len)
                    .unwrap_or_default();
                let name_end = name_bytes
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(name_bytes.len());
                let name = &name_bytes[..name_end];
                if mask & libc::IN_IGNORED != 0 {
                    self.watches.retain(|&(w, _)| w != wd);
                    changed = true; // the directory is gone, and the file with it
                } else if mask & libc::IN_Q_OVERFLOW != 0
                    || self
                        .watches
                        .iter()
                        .any(|&(w, i)| w == wd && self.wanted[i].1.as_bytes() == name)
                {
                    changed = true;
                }
                at += HEADER + len;
            }
        }
    }
}

impl AsRawFd for FileWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("v6only-watch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_renames_and_removals_of_the_file_are_seen_others_not() {
        let dir = temp_dir("file");
        let file = dir.join("resolv.conf.auto");
        let mut watch = FileWatch::new(&file).unwrap();
        assert!(watch.is_complete());
        assert!(!watch.changed().unwrap(), "nothing yet");

        std::fs::write(dir.join("other"), "x").unwrap();
        assert!(!watch.changed().unwrap(), "another file");

        std::fs::write(&file, "nameserver 192.0.2.1\n").unwrap();
        assert!(watch.changed().unwrap(), "created and written");
        assert!(!watch.changed().unwrap(), "events are consumed");

        // netifd's way: a temporary file renamed over it.
        std::fs::write(dir.join("resolv.conf.auto.tmp"), "nameserver 192.0.2.2\n").unwrap();
        assert!(
            !watch.changed().unwrap(),
            "the temporary file is another file"
        );
        std::fs::rename(dir.join("resolv.conf.auto.tmp"), &file).unwrap();
        assert!(watch.changed().unwrap(), "renamed over");

        std::fs::remove_file(&file).unwrap();
        assert!(watch.changed().unwrap(), "removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_watched_once_it_exists() {
        let dir = temp_dir("missing");
        let sub = dir.join("resolv.conf.d");
        let file = sub.join("resolv.conf.auto");
        let mut watch = FileWatch::new(&file).unwrap();
        assert!(!watch.is_complete());
        std::fs::create_dir(&sub).unwrap();
        assert!(watch.complete());
        std::fs::write(&file, "x").unwrap();
        assert!(watch.changed().unwrap());

        // The directory removed: the watch goes, and comes back with the directory.
        std::fs::remove_dir_all(&sub).unwrap();
        assert!(watch.changed().unwrap());
        assert!(!watch.is_complete());
        std::fs::create_dir(&sub).unwrap();
        assert!(watch.complete());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlinks_target_directory_is_watched_too() {
        let dir = temp_dir("link");
        std::fs::create_dir(dir.join("d")).unwrap();
        let link = dir.join("resolv.conf.auto");
        std::os::unix::fs::symlink("d/resolv.conf.auto", &link).unwrap();
        let mut watch = FileWatch::new(&link).unwrap();
        assert!(watch.is_complete());
        std::fs::write(dir.join("d/resolv.conf.auto"), "x").unwrap();
        assert!(watch.changed().unwrap(), "the target written");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
