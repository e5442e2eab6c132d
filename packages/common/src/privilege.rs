//! Least privilege: a daemon started as root opens what only root may open (sockets on low
//! ports, the TUN device, netlink), then calls [`drop_to`] and goes on as its own user with
//! only the capabilities it still needs (a reload may add a route or bind port 53 again).
//!
//! The daemon drops root itself rather than procd: without ujail (procd built without
//! `JAIL_SUPPORT`, or no `/sbin/ujail`), procd's `user` param switches to the user before
//! `exec` and so takes every capability with it, and its `capabilities` and `no_new_privs`
//! params are ujail's and do nothing. Done here, the same code runs under any procd, and
//! when a daemon is started by hand or by a test as root.
//!
//! The user is the package's (`USERID` in the feed Makefile, created by the postinst). When
//! it does not exist, the daemon says so and keeps root, so that running the binary on a
//! machine without the package (tests, development) still works; when the process is not
//! root to begin with, there is nothing to drop.
//!
//! Call it before starting any thread: capabilities and `PR_SET_KEEPCAPS` are per thread.

use std::io;
use std::path::PathBuf;

/// A capability a daemon may keep (numbers from linux/capability.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// Bind ports below 1024 (DNS 53, DHCP 67).
    NetBindService = 10,
    /// Routes, links, ARP entries, SO_RCVBUFFORCE.
    NetAdmin = 12,
    /// Raw and packet sockets, and moving a socket bound to one device to another.
    NetRaw = 13,
}

impl Cap {
    pub fn name(self) -> &'static str {
        match self {
            Cap::NetBindService => "CAP_NET_BIND_SERVICE",
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::NetRaw => "CAP_NET_RAW",
        }
    }

    /// The set as `/proc/<pid>/status` shows it (`CapEff`: 16 hex digits).
    pub fn mask(caps: &[Cap]) -> u64 {
        caps.iter().fold(0, |m, &c| m | 1 << (c as u32))
    }
}

/// A user from the passwd file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The line of `name` in the text of a passwd file (`name:x:uid:gid:...`).
pub fn find_user(passwd: &str, name: &str) -> Option<User> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(User {
            name: name.to_string(),
            uid,
            gid,
        })
    })
}

/// What [`drop_to`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Now running as this user with the capabilities asked for.
    To(User),
    /// Not root to begin with: nothing to drop.
    NotRoot,
    /// No such user in /etc/passwd: still root (logged as a warning).
    NoUser,
}

/// Switches a root process to `user` keeping only `keep` (effective and permitted; none
/// inheritable), and sets `no_new_privs`. The files in `chown` (those that exist) are
/// handed to the user first, for files the daemon created as root and must later replace
/// (a rename over a file in sticky /tmp needs its owner). Any failure after the user is
/// found is an error: a half-dropped daemon must not go on.
pub fn drop_to(user: &str, keep: &[Cap], chown: &[PathBuf]) -> Result<Dropped, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(Dropped::NotRoot);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let Some(u) = find_user(&passwd, user) else {
        log::warn!("no user '{user}' in /etc/passwd: running as root");
        return Ok(Dropped::NoUser);
    };
    if u.uid == 0 {
        return Err(format!("user '{user}' is root"));
    }
    for path in chown {
        // lchown: a symlink planted in /tmp gives away the link, never what it points to.
        match std::os::unix::fs::lchown(path, Some(u.uid), Some(u.gid)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("chown {} to {user}: {e}", path.display())),
        }
    }
    switch(&u, Cap::mask(keep)).map_err(|e| format!("dropping root for user '{user}': {e}"))?;
    let names: Vec<&str> = keep.iter().map(|c| c.name()).collect();
    log::info!(
        "running as user {user} (uid {}, gid {}) with {}",
        u.uid,
        u.gid,
        if names.is_empty() {
            "no capabilities".to_string()
        } else {
            names.join(", ")
        }
    );
    Ok(Dropped::To(u))
}

fn check(what: &str, ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

// linux/capability.h: _LINUX_CAPABILITY_VERSION_3, two u32 words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn switch(u: &User, keep: u64) -> io::Result<()> {
    // SAFETY: prctl, setgroups, setresgid and setresuid with plain integers (setgroups
    // with none); capset with a header and the two data words the version-3 ABI wants.
    unsafe {
        // Keep the permitted set through the uid change (it clears the effective one).
        check(
            "PR_SET_KEEPCAPS",
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0).into(),
        )?;
        check("setgroups", libc::setgroups(0, std::ptr::null()).into())?;
        check("setresgid", libc::setresgid(u.gid, u.gid, u.gid).into())?;
        check("setresuid", libc::setresuid(u.uid, u.uid, u.uid).into())?;
        let mut header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        for (i, d) in data.iter_mut().enumerate() {
            let word = (keep >> (32 * i)) as u32;
            d.effective = word;
            d.permitted = word;
        }
        check(
            "capset",
            libc::syscall(libc::SYS_capset, &mut header, data.as_mut_ptr()),
        )?;
        check(
            "PR_SET_KEEPCAPS",
            libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0).into(),
        )?;
        check(
            "PR_SET_NO_NEW_PRIVS",
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into(),
        )?;
        // Root must be out of reach now.
        if libc::setresuid(0, 0, 0) == 0 {
            return Err(io::Error::other("could set uid 0 again"));
        }
    }
    Ok(())
}

/// `CapEff` of the calling thread, from /proc/thread-self/status.
pub fn effective() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| io::Error::other("no CapEff line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/ash\n\
        daemon:*:1:1:daemon:/var:/bin/false\n\
        dns64:x:6147:6147:dns64:/var/run/dns64:/bin/false\n\
        broken:x:abc:1::/:/bin/false\n\
        dns64x:x:1:1::/:/bin/false\n";

    #[test]
    fn users_are_found_by_their_whole_name() {
        assert_eq!(
            find_user(PASSWD, "dns64"),
            Some(User {
                name: "dns64".into(),
                uid: 6147,
                gid: 6147
            })
        );
        assert_eq!(find_user(PASSWD, "dns6"), None);
        assert_eq!(find_user(PASSWD, "nat64"), None);
        assert_eq!(find_user(PASSWD, "broken"), None, "a uid that is no number");
        assert_eq!(find_user("", "root"), None);
    }

    #[test]
    fn masks_are_procs_capeff() {
        assert_eq!(Cap::mask(&[]), 0);
        assert_eq!(Cap::mask(&[Cap::NetBindService]), 0x400);
        assert_eq!(Cap::mask(&[Cap::NetAdmin]), 0x1000);
        assert_eq!(Cap::mask(&[Cap::NetAdmin, Cap::NetBindService]), 0x1400);
        assert_eq!(Cap::mask(&[Cap::NetRaw]), 0x2000);
    }

    #[test]
    fn unknown_users_keep_root_and_non_root_keeps_itself() {
        let r = drop_to("v6only-no-such-user", &[Cap::NetAdmin], &[]).unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert_eq!(
            r,
            if root {
                Dropped::NoUser
            } else {
                Dropped::NotRoot
            }
        );
    }

    /// The real drop, in a child process (it cannot be undone): as root with `nobody`.
    /// Not under qemu-user (the cross tests): the child would be a foreign binary to exec.
    #[test]
    #[cfg_attr(not(target_arch = "x86_64"), ignore = "needs to exec itself natively")]
    fn drop_keeps_exactly_the_capabilities_asked_for() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: not root");
            return;
        }
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        if find_user(&passwd, "nobody").is_none() {
            eprintln!("skipped: no user nobody");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "privilege::tests::child_drops",
                "--include-ignored",
                "--nocapture",
            ])
            .env("V6ONLY_PRIVILEGE_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("dropped: uid "), "{text}");
    }

    #[test]
    #[ignore = "run by drop_keeps_exactly_the_capabilities_asked_for in a child process"]
    fn child_drops() {
        if std::env::var_os("V6ONLY_PRIVILEGE_CHILD").is_none() {
            return;
        }
        let tmp = std::env::temp_dir().join(format!("v6only-privilege-{}", std::process::id()));
        std::fs::write(&tmp, b"x").unwrap();
        let r = drop_to(
            "nobody",
            &[Cap::NetAdmin, Cap::NetBindService],
            &[tmp.clone(), PathBuf::from("/nonexistent/file")],
        )
        .unwrap();
        let Dropped::To(u) = r else { panic!("{r:?}") };
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        assert_eq!((uid, gid), (u.uid, u.gid));
        assert_eq!(effective().unwrap(), 0x1400);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&tmp).unwrap().uid(), u.uid);
        std::fs::remove_file(&tmp).unwrap();
        // Root's files are out of reach.
        assert!(
            std::fs::File::open("/etc/shadow").is_err()
                || !std::path::Path::new("/etc/shadow").exists()
        );
        println!("dropped: uid {uid} gid {gid}");
    }
}
