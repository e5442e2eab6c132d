//! The system side: the interface resolver (netifd via ubus, or the kernel's addresses), the
//! per-device DHCP socket, and the ARP entry that lets a unicast reply reach a client that
//! has no address yet.

use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use v6only_common::netifd::{self, Status};

use crate::config::{Link, Resolver};

/// Kernel `ATF_COM`: the entry is complete (has a hardware address).
const ATF_COM: libc::c_int = 0x02;

pub fn ifindex(device: &str) -> Option<u32> {
    let name = CString::new(device).ok()?;
    // SAFETY: a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// The first IPv4 address and prefix of a kernel device.
pub fn device_ipv4(device: &str) -> Option<(Ipv4Addr, u8)> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we free below; we only read entries while it lives.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return None;
        }
        let mut found = None;
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null()
                || ifa.ifa_netmask.is_null()
                || (*ifa.ifa_addr).sa_family as i32 != libc::AF_INET
            {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name).to_string_lossy();
            if name != device {
                continue;
            }
            let addr = &*(ifa.ifa_addr as *const libc::sockaddr_in);
            let mask = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
            let prefix = u32::from_be(mask.sin_addr.s_addr).count_ones() as u8;
            found = Some((ip, prefix));
            break;
        }
        libc::freeifaddrs(head);
        found
    }
}

/// netifd's answer to `ubus call network.interface.NAME status`, the two things we need:
/// the layer-3 device (the configured one while down) and the first IPv4 address with its
/// mask.
pub fn parse_netifd_status(json: &str) -> Option<(String, Ipv4Addr, u8)> {
    link_of(Status::parse(json)?)
}

fn link_of(status: Status) -> Option<(String, Ipv4Addr, u8)> {
    let (address, mask) = *status.ipv4.first()?;
    Some((status.l3_device.or(status.device)?, address, mask))
}

pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn interface(&self, name: &str) -> Option<Link> {
        let (device, address, prefix_len) = link_of(netifd::status(name)?)?;
        Some(Link {
            ifindex: ifindex(&device)?,
            device,
            address,
            prefix_len,
        })
    }
    fn device(&self, name: &str) -> Option<Link> {
        let (address, prefix_len) = device_ipv4(name)?;
        Some(Link {
            device: name.to_string(),
            ifindex: ifindex(name)?,
            address,
            prefix_len,
        })
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; zero is a valid start.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sa
}

/// Receive buffer asked for: a burst of a few thousand requests fits instead of being dropped
/// by the kernel (the default is about 200 KB, some 300 full-size requests with overhead).
pub const RECEIVE_BUFFER: usize = 1 << 20;

/// Classic BPF for the relay socket, run by the kernel on each datagram with the data at the
/// UDP header (verified by `relay_filter_offsets` below): it keeps BOOTREQUESTs (op 1 at UDP
/// payload byte 0) whose giaddr (payload bytes 24..28) is not zero, so the relay socket no
/// longer gets a copy of every client broadcast, which its device's socket handles. A load
/// beyond the datagram's end makes the kernel drop it, so runts are dropped too. The kernel
/// counts each rejected datagram as a socket drop and in UDP InErrors (/proc/net/snmp).
const RELAY_FILTER: [libc::sock_filter; 6] = {
    const UDP_HEADER: u32 = 8;
    const fn op(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        }
    }
    [
        op(libc::BPF_LD | libc::BPF_B | libc::BPF_ABS, 0, 0, UDP_HEADER),
        op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 3, 1),
        op(
            libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
            0,
            0,
            UDP_HEADER + 24,
        ),
        op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 1, 0, 0),
        op(libc::BPF_RET | libc::BPF_K, 0, 0, u32::MAX),
        op(libc::BPF_RET | libc::BPF_K, 0, 0, 0),
    ]
};

/// UDP port 67 on one device: receives the clients' broadcasts on that device only, sends
/// broadcasts out of it.
pub struct DhcpSocket {
    fd: OwnedFd,
    pub device: String,
    /// The kernel's count of datagrams dropped on this socket (a full receive buffer), as
    /// last reported with a datagram (SO_RXQ_OVFL).
    drops: Cell<u32>,
    /// The kernel took SO_RXQ_OVFL (qemu-user, for one, refuses it).
    counts_drops: bool,
}

impl DhcpSocket {
    pub fn bind(device: &str, port: u16) -> io::Result<DhcpSocket> {
        // SAFETY: plain socket syscalls on an fd we own from here on.
        unsafe {
            let fd = check(libc::socket(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            ))?;
            let fd = OwnedFd::from_raw_fd(fd);
            let one: libc::c_int = 1;
            let set = |level, name, value: *const libc::c_void, len| {
                check(libc::setsockopt(
                    fd.as_raw_fd(),
                    level,
                    name,
                    value,
                    len as libc::socklen_t,
                ))
            };
            set(
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>(),
            )?;
            set(
                libc::SOL_SOCKET,
                libc::SO_BROADCAST,
                (&one as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>(),
            )?;
            // An empty device: the relay socket, not bound to any device.
            if !device.is_empty() {
                set(
                    libc::SOL_SOCKET,
                    libc::SO_BINDTODEVICE,
                    device.as_ptr().cast(),
                    device.len(),
                )?;
            }
            // Best effort: a smaller buffer or no drop counter still serves.
            let size = RECEIVE_BUFFER as libc::c_int;
            let size_ptr = (&size as *const libc::c_int).cast();
            let int_len = mem::size_of::<libc::c_int>();
            // SO_RCVBUFFORCE passes rmem_max (root); else SO_RCVBUF, capped at rmem_max.
            if set(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size_ptr, int_len).is_err() {
                let _ = set(libc::SOL_SOCKET, libc::SO_RCVBUF, size_ptr, int_len);
            }
            let counts_drops = set(
                libc::SOL_SOCKET,
                libc::SO_RXQ_OVFL,
                (&one as *const libc::c_int).cast(),
                int_len,
            )
            .is_ok();
            let sa = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
            check(libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_in).cast(),
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ))?;
            Ok(DhcpSocket {
                fd,
                device: device.to_string(),
                drops: Cell::new(0),
                counts_drops,
            })
        }
    }

    /// Keeps only relayed BOOTREQUESTs (giaddr set) on this socket, in the kernel.
    pub fn attach_relay_filter(&self) -> io::Result<()> {
        let program = libc::sock_fprog {
            len: RELAY_FILTER.len() as libc::c_ushort,
            filter: RELAY_FILTER.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: the kernel copies the program during the call.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&program as *const libc::sock_fprog).cast(),
                mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    /// The receive buffer the kernel granted (it reports twice the usable size).
    pub fn receive_buffer(&self) -> io::Result<usize> {
        let mut size: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the kernel writes an int into size.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut size as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        Ok(size as usize)
    }

    /// The local port (tests bind port 0).
    pub fn local_port(&self) -> io::Result<u16> {
        // SAFETY: sockaddr_in is plain data; the kernel fills it.
        let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        check(unsafe {
            libc::getsockname(
                self.fd.as_raw_fd(),
                (&mut sa as *mut libc::sockaddr_in).cast(),
                &mut len,
            )
        })?;
        Ok(u16::from_be(sa.sin_port))
    }

    /// Datagrams the kernel dropped on this socket for a full buffer, as of the last datagram
    /// received (each carries the count at its queueing).
    pub fn drops(&self) -> u64 {
        self.drops.get() as u64
    }

    /// Whether [`DhcpSocket::drops`] means anything here.
    pub fn counts_drops(&self) -> bool {
        self.counts_drops
    }

    /// One datagram, or `None` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // Room for one cmsg holding the u32 drop counter, u64-aligned.
        let mut control = [0u64; 4];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; zero is a valid start.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control) as _;
        // SAFETY: buf and control are valid for their lengths for the call.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
        if n >= 0 {
            // SAFETY: the CMSG macros walk the control buffer the kernel filled.
            unsafe {
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    if (*cmsg).cmsg_level == libc::SOL_SOCKET
                        && (*cmsg).cmsg_type == libc::SO_RXQ_OVFL
                    {
                        let count = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<u32>());
                        self.drops.set(count);
                    }
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
            }
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        // MSG_TRUNC reports the real size: an oversized datagram shows as longer than buf.
        Ok(Some(n as usize))
    }

    pub fn send_to(&self, bytes: &[u8], to: SocketAddrV4) -> io::Result<()> {
        let sa = sockaddr(to);
        // SAFETY: valid buffer and address.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        check(n as libc::c_int).map(|_| ())
    }

    /// Tells the kernel `ip` is at `mac` on our device, so a unicast to a client that cannot
    /// answer ARP yet (it has no address) goes straight to its MAC (RFC 2131 §4.1).
    pub fn set_arp(&self, ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
        // SAFETY: arpreq is plain data; the ioctl reads it.
        unsafe {
            let mut req: libc::arpreq = mem::zeroed();
            let pa = sockaddr(SocketAddrV4::new(ip, 0));
            std::ptr::copy_nonoverlapping(
                (&pa as *const libc::sockaddr_in).cast::<u8>(),
                (&mut req.arp_pa as *mut libc::sockaddr).cast::<u8>(),
                mem::size_of::<libc::sockaddr_in>(),
            );
            req.arp_ha.sa_family = libc::ARPHRD_ETHER;
            for (i, b) in mac.iter().enumerate() {
                req.arp_ha.sa_data[i] = *b as libc::c_char;
            }
            req.arp_flags = ATF_COM;
            for (i, b) in self.device.bytes().take(15).enumerate() {
                req.arp_dev[i] = b as libc::c_char;
            }
            check(libc::ioctl(self.fd.as_raw_fd(), libc::SIOCSARP as _, &req))?;
        }
        Ok(())
    }
}

impl AsRawFd for DhcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn bootrequest(giaddr: [u8; 4]) -> [u8; 240] {
        let mut m = [0u8; 240];
        m[0] = 1;
        m[24..28].copy_from_slice(&giaddr);
        m
    }

    fn drain(socket: &DhcpSocket) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut buf = [0u8; 1500];
        // The loopback delivers synchronously; a short wait covers a slow machine.
        std::thread::sleep(std::time::Duration::from_millis(50));
        while let Ok(Some(n)) = socket.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    }

    /// The kernel runs a UDP socket's filter with the data at the UDP header: with the
    /// filter's offsets, only the relayed BOOTREQUEST passes. Wrong offsets would pass none
    /// or all of them.
    #[test]
    fn relay_filter_offsets() {
        let relay = DhcpSocket::bind("", 0).unwrap();
        relay.attach_relay_filter().unwrap();
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, relay.local_port().unwrap());
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(&bootrequest([0; 4]), to).unwrap();
        let mut reply = bootrequest([10, 8, 0, 250]);
        reply[0] = 2;
        client.send_to(&reply, to).unwrap();
        client.send_to(&[1, 0, 0, 0], to).unwrap();
        let relayed = bootrequest([10, 8, 0, 250]);
        client.send_to(&relayed, to).unwrap();
        let got = drain(&relay);
        assert_eq!(got, vec![relayed.to_vec()]);

        // The same datagrams without the filter: all four arrive.
        let open = DhcpSocket::bind("", 0).unwrap();
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, open.local_port().unwrap());
        for m in [&bootrequest([0; 4])[..], &reply, &[1, 0, 0, 0], &relayed] {
            client.send_to(m, to).unwrap();
        }
        assert_eq!(drain(&open).len(), 4);
    }

    #[test]
    fn receive_buffer_raised() {
        let socket = DhcpSocket::bind("", 0).unwrap();
        let granted = socket.receive_buffer().unwrap();
        // Root gets it whole (SO_RCVBUFFORCE; the kernel doubles it); others up to rmem_max.
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let is_root = unsafe { libc::geteuid() } == 0;
        if is_root {
            assert!(granted >= 2 * RECEIVE_BUFFER, "granted {granted}");
        } else {
            assert!(
                granted >= 2 * RECEIVE_BUFFER.min(rmem_max),
                "granted {granted}"
            );
        }
    }

    // qemu-user (how the cross tests run) refuses SO_RXQ_OVFL; real kernels of every
    // target have it (since 2.6.33).
    #[test]
    #[cfg_attr(not(target_arch = "x86_64"), ignore = "qemu-user refuses SO_RXQ_OVFL")]
    fn kernel_drops_counted() {
        let socket = DhcpSocket::bind("", 0).unwrap();
        // A tiny buffer (the kernel's minimum) overflows after a few datagrams.
        let small: libc::c_int = 1;
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&small as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, socket.local_port().unwrap());
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..200 {
            client.send_to(&bootrequest([0; 4]), to).unwrap();
        }
        let got = drain(&socket);
        assert!(!got.is_empty() && got.len() < 200);
        // A datagram carries the count as of its own queueing: the next one shows the drops.
        client.send_to(&bootrequest([0; 4]), to).unwrap();
        assert_eq!(drain(&socket).len(), 1);
        assert!(socket.counts_drops());
        assert_eq!(socket.drops(), 200 - got.len() as u64);

        // The kernel counts what a filter rejects as socket drops too (and in UDP InErrors).
        let relay = DhcpSocket::bind("", 0).unwrap();
        relay.attach_relay_filter().unwrap();
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, relay.local_port().unwrap());
        for giaddr in [[0; 4], [0; 4], [0; 4], [10, 8, 0, 250]] {
            client.send_to(&bootrequest(giaddr), to).unwrap();
        }
        assert_eq!(drain(&relay).len(), 1);
        assert_eq!(relay.drops(), 3);
    }

    #[test]
    fn netifd_status() {
        let json = r#"{
	"up": true,
	"l3_device": "br-lan",
	"device": "br-lan",
	"ipv4-address": [
		{
			"address": "192.168.1.1",
			"mask": 24
		}
	],
	"ipv6-address": [ ]
}"#;
        assert_eq!(
            parse_netifd_status(json),
            Some(("br-lan".into(), Ipv4Addr::new(192, 168, 1, 1), 24))
        );
        assert_eq!(
            parse_netifd_status(r#"{"l3_device": "eth0", "ipv4-address": [ ]}"#),
            None
        );
        // Keys are the interface's own, not those of nested objects: the proto handler's
        // `data` and the `inactive` addresses used to be found by a substring search.
        let json = r#"{"up": false, "data": {"l3_device": "x", "device": "y"}, "device": "br-lan",
            "inactive": {"ipv4-address": [{"address": "10.0.0.1", "mask": 8}]},
            "ipv4-address": [{"address": "192.168.1.1", "mask": 24}]}"#;
        assert_eq!(
            parse_netifd_status(json),
            Some(("br-lan".into(), Ipv4Addr::new(192, 168, 1, 1), 24))
        );
    }
}
