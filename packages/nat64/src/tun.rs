//! The TUN device: `/dev/net/tun` with IFF_TUN | IFF_NO_PI, non-blocking.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Tun {
    fd: OwnedFd,
    pub name: String,
    pub ifindex: u32,
}

impl Tun {
    pub fn open(name: &str) -> io::Result<Tun> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad interface name",
            ));
        }
        // SAFETY: open/ioctl with an ifreq we own and initialise.
        unsafe {
            let fd = libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut req: libc::ifreq = std::mem::zeroed();
            for (slot, byte) in req.ifr_name.iter_mut().zip(name.bytes()) {
                *slot = byte as libc::c_char;
            }
            req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
            if libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) < 0 {
                return Err(io::Error::last_os_error());
            }
            let cname = std::ffi::CString::new(name)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            let ifindex = libc::if_nametoindex(cname.as_ptr());
            if ifindex == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Tun {
                fd,
                name: name.to_string(),
                ifindex,
            })
        }
    }

    /// One packet, `Ok(None)` when none is waiting.
    pub fn recv(&self, into: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: reading into a buffer we own.
            let n =
                unsafe { libc::read(self.fd.as_raw_fd(), into.as_mut_ptr().cast(), into.len()) };
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }

    /// Writes one packet; a full queue drops it (as a router would).
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            let n =
                unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
