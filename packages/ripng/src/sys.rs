//! The RIPng socket: one UDP socket on port 521 for every interface, ff02::9 joined on each,
//! the interface and hop limit of every datagram read from control messages, and every
//! datagram sent with hop limit 255 out of the interface the core names (IPV6_PKTINFO).

use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::router::Arrival;
use crate::wire;

pub struct RipSocket {
    fd: OwnedFd,
}

/// A datagram read: its length in the caller's buffer and how it came.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    pub from: Arrival,
}

fn setsockopt(fd: RawFd, level: i32, name: i32, value: &impl Sized) -> io::Result<()> {
    // SAFETY: `value` is a live object of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const _) as *const libc::c_void,
            mem::size_of_val(value) as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn sockaddr6(addr: Ipv6Addr, port: u16, scope: u32) -> libc::sockaddr_in6 {
    // SAFETY: all-zero is a valid sockaddr_in6.
    let mut sa: libc::sockaddr_in6 = unsafe { mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_port = port.to_be();
    sa.sin6_addr.s6_addr = addr.octets();
    sa.sin6_scope_id = scope;
    sa
}

impl RipSocket {
    /// Binds `[::]:port` (521; another only in tests). Needs CAP_NET_BIND_SERVICE.
    pub fn bind(port: u16) -> io::Result<RipSocket> {
        // SAFETY: plain socket(2); the fd is owned at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET6,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = fd.as_raw_fd();
        let one: libc::c_int = 1;
        let zero: libc::c_int = 0;
        let hops: libc::c_int = wire::HOP_LIMIT.into();
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &one)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &one)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &one)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &hops)?;
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &hops)?;
        // Our own multicasts are not news (and would count as own packets).
        setsockopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &zero)?;
        // A routing update waits behind nothing: the kernel's 256 KB default is plenty
        // for 10,000 routes in flight from a few neighbours; ask for more, quietly.
        let rcvbuf: libc::c_int = 1 << 20;
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, &rcvbuf);
        // A full update of 10,000 routes is ~200 KB per interface: let one go out at once.
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUF, &rcvbuf);
        let sa = sockaddr6(Ipv6Addr::UNSPECIFIED, port, 0);
        // SAFETY: `sa` is a valid sockaddr_in6 of the length passed.
        let r = unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_in6).cast(),
                mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("bind [::]:{port}: {e}")));
        }
        Ok(RipSocket { fd })
    }

    /// Joins (or leaves) ff02::9 on `ifindex`. Joining twice is not an error.
    pub fn membership(&self, ifindex: u32, join: bool) -> io::Result<()> {
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr {
                s6_addr: wire::GROUP.octets(),
            },
            ipv6mr_interface: ifindex,
        };
        let opt = if join {
            libc::IPV6_ADD_MEMBERSHIP
        } else {
            libc::IPV6_DROP_MEMBERSHIP
        };
        match setsockopt(self.fd.as_raw_fd(), libc::IPPROTO_IPV6, opt, &mreq) {
            Err(e) if join && e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            r => r,
        }
    }

    /// One datagram, or None when there is none (EAGAIN). Datagrams without the control
    /// messages (never from this kernel) get hop limit 0, which the core refuses.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        // SAFETY: zeroed sockaddr and msghdr are valid; every pointer set below points into
        // live locals or `buf` for the duration of the call.
        unsafe {
            let mut from: libc::sockaddr_in6 = mem::zeroed();
            let mut control = [0u64; 16];
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut msg: libc::msghdr = mem::zeroed();
            msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
            msg.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = mem::size_of_val(&control) as _;
            let n = libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0);
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    _ => Err(e),
                };
            }
            let mut got = Received {
                // A datagram longer than the buffer is cut (MSG_TRUNC): an RTE cut in half
                // makes it malformed, which the core counts.
                len: if msg.msg_flags & libc::MSG_TRUNC != 0 {
                    buf.len().min(n as usize).saturating_sub(1)
                } else {
                    n as usize
                },
                from: Arrival {
                    ifindex: from.sin6_scope_id,
                    src: Ipv6Addr::from(from.sin6_addr.s6_addr),
                    src_port: u16::from_be(from.sin6_port),
                    hop_limit: 0,
                    to_group: false,
                },
            };
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let data = libc::CMSG_DATA(cmsg);
                match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                        let info: libc::in6_pktinfo = std::ptr::read_unaligned(data.cast());
                        got.from.ifindex = info.ipi6_ifindex as u32;
                        got.from.to_group = info.ipi6_addr.s6_addr[0] == 0xff;
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                        let hops: libc::c_int = std::ptr::read_unaligned(data.cast());
                        got.from.hop_limit = hops.clamp(0, 255) as u8;
                    }
                    _ => {}
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            Ok(Some(got))
        }
    }

    /// Sends `data` to `dst`:`port` out of `ifindex`.
    pub fn send(&self, data: &[u8], ifindex: u32, dst: Ipv6Addr, port: u16) -> io::Result<()> {
        let scope = if crate::router::is_link_local(&dst) || dst.segments()[0] == 0xff02 {
            ifindex
        } else {
            0
        };
        let mut to = sockaddr6(dst, port, scope);
        // SAFETY: as in recv: every pointer is to a live local for the call; the control
        // buffer is large and aligned enough for one in6_pktinfo message.
        unsafe {
            let mut control = [0u64; 8];
            let mut iov = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            let mut msg: libc::msghdr = mem::zeroed();
            msg.msg_name = (&mut to as *mut libc::sockaddr_in6).cast();
            msg.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            let space = libc::CMSG_SPACE(mem::size_of::<libc::in6_pktinfo>() as u32);
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
            (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
            (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<libc::in6_pktinfo>() as u32) as _;
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr { s6_addr: [0; 16] },
                ipi6_ifindex: ifindex as _,
            };
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
            if libc::sendmsg(self.fd.as_raw_fd(), &msg, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

impl AsRawFd for RipSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// 8 bytes of the kernel's randomness, for the timer jitter.
pub fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), libc::GRND_NONBLOCK) };
    if n != 8 {
        // No entropy yet (early boot): the pid and the clock decorrelate routers enough.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32;
    }
    u64::from_ne_bytes(b)
}
