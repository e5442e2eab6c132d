//! The TUN device: `/dev/net/tun` with IFF_TUN | IFF_NO_PI, blocking (each queue has a
//! thread of its own that waits on it); with offloads,
//! IFF_VNET_HDR too, so that the kernel hands over TCP super-packets (TSO/GRO) with partial
//! checksums and segments what we write back.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::packet_buf::Offload;

/// `struct virtio_net_hdr` (legacy, host byte order), which prefixes every packet.
const VNET_HDR: usize = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

pub struct Tun {
    fd: OwnedFd,
    pub name: String,
    pub ifindex: u32,
    /// Packets carry a virtio_net_hdr (offloads on).
    pub vnet: bool,
}

impl Tun {
    /// The device with one queue, or `queues` of them (IFF_MULTI_QUEUE: the kernel spreads
    /// flows over the queues by their hash, and keeps a flow on the queue that last wrote
    /// it); each queue is a `Tun` of its own.
    pub fn open(name: &str, offload: bool, queues: usize) -> io::Result<Vec<Tun>> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad interface name",
            ));
        }
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
        if offload {
            flags |= libc::IFF_VNET_HDR;
        }
        if queues > 1 {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        let mut fds = Vec::with_capacity(queues);
        for _ in 0..queues.max(1) {
            fds.push(attach(name, flags)?);
        }
        let mut vnet = false;
        if offload {
            // Features are the device's: set once. An old kernel without them: the header
            // stays, with nothing in it.
            vnet = true;
            let features =
                libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
            // SAFETY: an ioctl with an integer argument on a descriptor we own.
            if unsafe {
                libc::ioctl(
                    fds[0].as_raw_fd(),
                    libc::TUNSETOFFLOAD as _,
                    features as libc::c_ulong,
                )
            } < 0
            {
                log::warn!("TUN offloads unavailable: {}", io::Error::last_os_error());
            }
        }
        let cname = std::ffi::CString::new(name)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a NUL-terminated name we own.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fds
            .into_iter()
            .map(|fd| Tun {
                fd,
                name: name.to_string(),
                ifindex,
                vnet,
            })
            .collect())
    }

    /// One packet into `into`, waiting for it.
    pub fn recv(&self, into: &mut [u8]) -> io::Result<(usize, Offload)> {
        let mut hdr = [0u8; VNET_HDR];
        loop {
            let mut iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR,
                },
                libc::iovec {
                    iov_base: into.as_mut_ptr().cast(),
                    iov_len: into.len(),
                },
            ];
            let (iov, count) = if self.vnet {
                (iov.as_mut_ptr(), 2)
            } else {
                (iov[1..].as_mut_ptr(), 1)
            };
            // SAFETY: the iovecs point into buffers we own, with their lengths.
            let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov, count) };
            if n >= 0 {
                let n = n as usize;
                if !self.vnet {
                    return Ok((n, Offload::NONE));
                }
                if n < VNET_HDR {
                    continue;
                }
                return Ok((n - VNET_HDR, parse_vnet(&hdr)));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Writes one packet; a full queue drops it (as a router would).
    pub fn send(&self, packet: &[u8], offload: Offload) -> io::Result<()> {
        let hdr = emit_vnet(packet, offload);
        loop {
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_ptr() as *mut _,
                    iov_len: VNET_HDR,
                },
                libc::iovec {
                    iov_base: packet.as_ptr() as *mut _,
                    iov_len: packet.len(),
                },
            ];
            let (iov, count) = if self.vnet {
                (iov.as_ptr(), 2)
            } else {
                (iov[1..].as_ptr(), 1)
            };
            // SAFETY: the iovecs point into live buffers; writev only reads them.
            let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov, count) };
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

/// A new descriptor on /dev/net/tun attached to device `name` (created by the first).
fn attach(name: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: open/ioctl with an ifreq we own and initialise; the descriptor is owned at once.
    unsafe {
        let fd = libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *slot = byte as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        if libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }
}

fn parse_vnet(h: &[u8; VNET_HDR]) -> Offload {
    let u16_at = |i: usize| u16::from_ne_bytes([h[i], h[i + 1]]);
    let gso = h[1] & !VIRTIO_NET_HDR_GSO_ECN;
    Offload {
        partial: h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0,
        csum_start: u16_at(6),
        csum_offset: u16_at(8),
        gso_size: if gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6 {
            u16_at(4)
        } else {
            0
        },
        gso_ecn: h[1] & VIRTIO_NET_HDR_GSO_ECN != 0,
    }
}

fn emit_vnet(packet: &[u8], o: Offload) -> [u8; VNET_HDR] {
    let mut h = [0u8; VNET_HDR];
    if o.partial {
        h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h[6..8].copy_from_slice(&o.csum_start.to_ne_bytes());
        h[8..10].copy_from_slice(&o.csum_offset.to_ne_bytes());
    }
    if o.gso_size != 0 {
        let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        let mut kind = if v6 {
            VIRTIO_NET_HDR_GSO_TCPV6
        } else {
            VIRTIO_NET_HDR_GSO_TCPV4
        };
        if o.gso_ecn {
            kind |= VIRTIO_NET_HDR_GSO_ECN;
        }
        h[1] = kind;
        // Header length: up to the end of the TCP header.
        let tcp = o.csum_start as usize;
        let hdr_len = tcp + packet.get(tcp + 12).map_or(20, |b| (b >> 4) as usize * 4);
        h[2..4].copy_from_slice(&(hdr_len as u16).to_ne_bytes());
        h[4..6].copy_from_slice(&o.gso_size.to_ne_bytes());
    } else {
        h[1] = VIRTIO_NET_HDR_GSO_NONE;
    }
    h
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_header_round_trip() {
        let mut packet = vec![0x60u8; 40 + 20];
        packet[40 + 12] = 8 << 4; // 32-byte TCP header
        let o = Offload {
            partial: true,
            csum_start: 40,
            csum_offset: 16,
            gso_size: 1388,
            gso_ecn: true,
        };
        let h = emit_vnet(&packet, o);
        assert_eq!(h[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_eq!(h[1], VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN);
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 72);
        assert_eq!(parse_vnet(&h), o);
        assert_eq!(emit_vnet(&packet, Offload::NONE), [0; VNET_HDR]);
    }
}
