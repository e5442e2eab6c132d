//! The system side: the interface resolver (netifd via ubus, or the kernel's addresses), the
//! per-device DHCP socket, and the ARP entry that lets a unicast reply reach a client that
//! has no address yet.

use std::ffi::CString;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;

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
/// the layer-3 device and the first IPv4 address with its mask.
pub fn parse_netifd_status(json: &str) -> Option<(String, Ipv4Addr, u8)> {
    fn string_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
        let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
        let rest = text[at..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start()
            .strip_prefix('"')?;
        Some(&rest[..rest.find('"')?])
    }
    fn number_after(text: &str, key: &str) -> Option<u8> {
        let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
        let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
        rest[..rest.find(|c: char| !c.is_ascii_digit())?]
            .parse()
            .ok()
    }
    let device = string_after(json, "l3_device")
        .or_else(|| string_after(json, "device"))?
        .to_string();
    let v4 = &json[json.find("\"ipv4-address\"")?..];
    let v4 = &v4[..v4.find(']')?];
    let address = string_after(v4, "address")?.parse().ok()?;
    let mask = number_after(v4, "mask").filter(|m| *m <= 32)?;
    Some((device, address, mask))
}

pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn interface(&self, name: &str) -> Option<Link> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if !valid {
            return None;
        }
        let out = Command::new("ubus")
            .args(["call", &format!("network.interface.{name}"), "status"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let (device, address, prefix_len) =
            parse_netifd_status(&String::from_utf8_lossy(&out.stdout))?;
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

/// UDP port 67 on one device: receives the clients' broadcasts on that device only, sends
/// broadcasts out of it.
pub struct DhcpSocket {
    fd: OwnedFd,
    pub device: String,
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
            let sa = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
            check(libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_in).cast(),
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ))?;
            Ok(DhcpSocket {
                fd,
                device: device.to_string(),
            })
        }
    }

    /// One datagram, or `None` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is valid for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
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
    }
}
