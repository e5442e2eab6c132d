//! The few rtnetlink requests the daemon needs (link up + MTU, routes), written by hand:
//! a dozen fixed-layout messages do not justify a netlink crate in a 400 KB budget.
//! Netlink is host byte order (this runs on big-endian MIPS too).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_MTU: u16 = 4;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

/// A route through the TUN device: destination address (4 or 16 bytes) and prefix length.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub dst: Vec<u8>,
    pub len: u8,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match <[u8; 4]>::try_from(self.dst.as_slice()) {
            Ok(a) => write!(f, "{}/{}", std::net::Ipv4Addr::from(a), self.len),
            Err(_) => {
                let a = <[u8; 16]>::try_from(self.dst.as_slice()).unwrap_or([0; 16]);
                write!(f, "{}/{}", std::net::Ipv6Addr::from(a), self.len)
            }
        }
    }
}

pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

/// A message under construction: header, fixed part, attributes (4-byte aligned).
struct Message(Vec<u8>);

impl Message {
    fn new(kind: u16, flags: u16, seq: u32, fixed: &[u8]) -> Message {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        b.extend_from_slice(fixed);
        Message(b)
    }
    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Message {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        while self.0.len() % 4 != 0 {
            self.0.push(0);
        }
        self
    }
    fn finish(&mut self) -> &[u8] {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        &self.0
    }
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket syscalls on memory we own.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            if libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(Netlink { fd, seq: 1 })
        }
    }

    /// Sends a request and waits for its acknowledgement.
    fn request(&mut self, message: &mut Message) -> io::Result<()> {
        let bytes = message.finish();
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        // SAFETY: valid buffers for send/recv.
        let sent =
            unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut reply = [0u8; 4096];
        loop {
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    reply.as_mut_ptr().cast(),
                    reply.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut at = 0;
            let n = n as usize;
            while at + 16 <= n {
                let len =
                    u32::from_ne_bytes(reply[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
                let kind = u16::from_ne_bytes([reply[at + 4], reply[at + 5]]);
                let reply_seq =
                    u32::from_ne_bytes(reply[at + 8..at + 12].try_into().unwrap_or([0; 4]));
                if len < 16 || at + len > n {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "malformed netlink reply",
                    ));
                }
                if kind == NLMSG_ERROR && reply_seq == seq && len >= 20 {
                    let code =
                        i32::from_ne_bytes(reply[at + 16..at + 20].try_into().unwrap_or([0; 4]));
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(-code))
                    };
                }
                at += (len + 3) & !3;
            }
        }
    }

    /// Sets the link up with `mtu`.
    pub fn link_up(&mut self, ifindex: u32, mtu: u32) -> io::Result<()> {
        // struct ifinfomsg: family, pad, type, index, flags, change
        let mut fixed = [0u8; 16];
        fixed[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
        fixed[8..12].copy_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
        fixed[12..16].copy_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
        let mut m = Message::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, self.seq, &fixed);
        m.attr(IFLA_MTU, &mtu.to_ne_bytes());
        self.request(&mut m)
    }

    /// Adds (or replaces) a route to `dst/len` through the device `ifindex`.
    pub fn route(&mut self, dst: &[u8], len: u8, ifindex: u32) -> io::Result<()> {
        let mut m = route_message(
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            self.seq,
            dst,
            len,
            ifindex,
        );
        self.request(&mut m)
    }

    /// Removes the route to `dst/len` through the device `ifindex` (as added by `route`).
    pub fn delete_route(&mut self, dst: &[u8], len: u8, ifindex: u32) -> io::Result<()> {
        let mut m = route_message(
            RTM_DELROUTE,
            NLM_F_REQUEST | NLM_F_ACK,
            self.seq,
            dst,
            len,
            ifindex,
        );
        self.request(&mut m)
    }
}

fn route_message(kind: u16, flags: u16, seq: u32, dst: &[u8], len: u8, ifindex: u32) -> Message {
    let family = if dst.len() == 4 {
        libc::AF_INET
    } else {
        libc::AF_INET6
    } as u8;
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
    let mut fixed = [0u8; 12];
    fixed[0] = family;
    fixed[1] = len;
    fixed[4] = RT_TABLE_MAIN;
    fixed[5] = RTPROT_STATIC;
    fixed[6] = RT_SCOPE_LINK;
    fixed[7] = RTN_UNICAST;
    let mut m = Message::new(kind, flags, seq, &fixed);
    m.attr(RTA_DST, dst).attr(RTA_OIF, &ifindex.to_ne_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let mut m = Message::new(RTM_NEWROUTE, NLM_F_REQUEST, 7, &[1, 2, 3, 4]);
        m.attr(RTA_DST, &[10, 0, 0])
            .attr(RTA_OIF, &5u32.to_ne_bytes());
        let b = m.finish().to_vec();
        assert_eq!(b.len(), 16 + 4 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes(b[..4].try_into().unwrap()),
            b.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), RTM_NEWROUTE);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        assert_eq!(
            u16::from_ne_bytes([b[20], b[21]]),
            7,
            "attribute length excludes padding"
        );
        assert_eq!(&b[24..28], &[10, 0, 0, 0]);
        assert_eq!(u16::from_ne_bytes([b[30], b[31]]), RTA_OIF);
    }

    #[test]
    fn delete_matches_what_was_added() {
        let add = route_message(RTM_NEWROUTE, NLM_F_REQUEST, 3, &[198, 51, 100, 0], 30, 9).0;
        let del = route_message(RTM_DELROUTE, NLM_F_REQUEST, 3, &[198, 51, 100, 0], 30, 9).0;
        assert_eq!(u16::from_ne_bytes([del[4], del[5]]), RTM_DELROUTE);
        // Same rtmsg and attributes: the kernel finds the route it added.
        assert_eq!(add[16..], del[16..]);
        assert_eq!(del[16], libc::AF_INET as u8);
        assert_eq!(del[17], 30);
    }

    #[test]
    fn route_text() {
        let r4 = Route {
            dst: vec![198, 51, 100, 0],
            len: 30,
        };
        assert_eq!(r4.to_string(), "198.51.100.0/30");
        let mut a6 = [0u8; 16];
        a6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let r6 = Route {
            dst: a6.to_vec(),
            len: 96,
        };
        assert_eq!(r6.to_string(), "2001:db8::/96");
    }
}
