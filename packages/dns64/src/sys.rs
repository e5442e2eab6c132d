//! The socket layer under the driver (what quinn keeps in quinn-udp): an epoll set for the
//! many upstream sockets, recvmmsg/sendmmsg batches on the listening sockets with the
//! IP_PKTINFO / IPV6_PKTINFO control messages that make an answer leave from the address its
//! query was sent to, `sockaddr` conversions, connected upstream sockets (UDP, and TCP
//! connected without blocking), and the process's fd limit. Every `unsafe` of dns64 is here;
//! the protocol is in the library.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Datagrams per recvmmsg/sendmmsg call on the listening sockets (one syscall for many
/// queries is most of what the cached path costs).
pub const BATCH: usize = 32;
/// Largest UDP query we take (bigger ones are truncated by the kernel and then malformed).
pub const MAX_UDP_QUERY: usize = 4096;
/// Datagrams read and dropped from an idle upstream socket before it is reused (its receive
/// buffer holds a few hundred at most; the bound only guards against a livelock).
const MAX_STALE_DATAGRAMS: usize = 4096;

/// The upstream sockets' readiness (one per query in flight: many, so epoll rather than
/// poll); the driver polls its fd with the listening sockets.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: a fresh fd, owned right away.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new, valid descriptor nobody else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }
    /// Adds (or with `modify`, changes) `fd`'s interest; closing the fd removes it.
    pub fn set(&self, fd: i32, events: i32, token: u64, modify: bool) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: token,
        };
        let op = if modify {
            libc::EPOLL_CTL_MOD
        } else {
            libc::EPOLL_CTL_ADD
        };
        // SAFETY: valid fds and a valid event struct.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    pub fn remove(&self, fd: i32) -> io::Result<()> {
        // SAFETY: valid fds; the event argument is ignored for DEL.
        if unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        } < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    /// The tokens of ready fds, without waiting.
    pub fn ready(&self, tokens: &mut Vec<u64>) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 128];
        // SAFETY: the buffer holds 128 events.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                0,
            )
        };
        tokens.clear();
        tokens.extend(events[..n.max(0) as usize].iter().map(|e| e.u64));
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An answer to a UDP client: listening socket index, client, our source address, message.
pub type UdpAnswer = (u16, SocketAddr, Option<IpAddr>, Vec<u8>);

/// Room for one IP_PKTINFO or IPV6_PKTINFO control message (aligned like cmsghdr).
type Control = [u64; 8];

/// Buffers for recvmmsg(2): BATCH datagrams with their source and destination addresses.
pub struct Batch {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    pub addrs: [Option<SocketAddr>; BATCH],
    /// Where each datagram was sent to, when the socket reports it (wildcard sockets).
    pub locals: [Option<IpAddr>; BATCH],
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            bufs: vec![0; BATCH * MAX_UDP_QUERY],
            lens: [0; BATCH],
            addrs: [None; BATCH],
            locals: [None; BATCH],
        }
    }

    /// Receives up to BATCH datagrams; returns how many (0 when none is waiting).
    pub fn receive(&mut self, fd: i32) -> io::Result<usize> {
        // SAFETY: zeroed mmsghdr/iovec/sockaddr_storage are valid; every pointer set below
        // points into self.bufs or the local arrays, which outlive the call.
        unsafe {
            let mut storage: [libc::sockaddr_storage; BATCH] = std::mem::zeroed();
            let mut iov: [libc::iovec; BATCH] = std::mem::zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
            let mut control: [Control; BATCH] = [[0; 8]; BATCH];
            for i in 0..BATCH {
                hdrs[i].msg_hdr.msg_control = control[i].as_mut_ptr().cast();
                hdrs[i].msg_hdr.msg_controllen = std::mem::size_of::<Control>() as _;
                iov[i].iov_base = self.bufs.as_mut_ptr().add(i * MAX_UDP_QUERY).cast();
                iov[i].iov_len = MAX_UDP_QUERY;
                hdrs[i].msg_hdr.msg_name = (&mut storage[i] as *mut libc::sockaddr_storage).cast();
                hdrs[i].msg_hdr.msg_namelen =
                    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                hdrs[i].msg_hdr.msg_iov = &mut iov[i];
                hdrs[i].msg_hdr.msg_iovlen = 1;
            }
            let n = libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            );
            if n < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::WouldBlock {
                    Ok(0)
                } else {
                    Err(e)
                };
            }
            for i in 0..n as usize {
                self.lens[i] = hdrs[i].msg_len as usize;
                self.addrs[i] = socket_addr(&storage[i]);
                self.locals[i] = destination(&hdrs[i].msg_hdr);
            }
            Ok(n as usize)
        }
    }

    pub fn datagram(&self, i: usize) -> &[u8] {
        &self.bufs[i * MAX_UDP_QUERY..i * MAX_UDP_QUERY + self.lens[i]]
    }
}

/// The destination address from a received IP_PKTINFO / IPV6_PKTINFO control message.
///
/// # Safety
/// `hdr` is a msghdr filled by recvmsg(2), its control buffer still alive.
unsafe fn destination(hdr: &libc::msghdr) -> Option<IpAddr> {
    let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
    while !cmsg.is_null() {
        let data = libc::CMSG_DATA(cmsg);
        match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                let info = data.cast::<libc::in6_pktinfo>().read_unaligned();
                return Some(IpAddr::from(info.ipi6_addr.s6_addr));
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                // The local address the packet came in on (ipi_addr would be the broadcast
                // address for a broadcast, which cannot be a source).
                let info = data.cast::<libc::in_pktinfo>().read_unaligned();
                return Some(IpAddr::from(
                    u32::from_be(info.ipi_spec_dst.s_addr).to_be_bytes(),
                ));
            }
            _ => {}
        }
        cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
    }
    None
}

/// Puts a control message in `hdr` that makes `local` the source of the datagram sent.
///
/// # Safety
/// `hdr.msg_control` points to a `Control` buffer that outlives the send.
unsafe fn set_source(hdr: &mut libc::msghdr, local: IpAddr) {
    hdr.msg_controllen = std::mem::size_of::<Control>() as _;
    let cmsg = libc::CMSG_FIRSTHDR(hdr);
    let len = match local {
        IpAddr::V6(ip) => {
            (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
            (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
            let mut info: libc::in6_pktinfo = std::mem::zeroed();
            info.ipi6_addr.s6_addr = ip.octets();
            libc::CMSG_DATA(cmsg)
                .cast::<libc::in6_pktinfo>()
                .write_unaligned(info);
            std::mem::size_of::<libc::in6_pktinfo>()
        }
        IpAddr::V4(ip) => {
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            let mut info: libc::in_pktinfo = std::mem::zeroed();
            info.ipi_spec_dst.s_addr = u32::from(ip).to_be();
            libc::CMSG_DATA(cmsg)
                .cast::<libc::in_pktinfo>()
                .write_unaligned(info);
            std::mem::size_of::<libc::in_pktinfo>()
        }
    };
    (*cmsg).cmsg_len = libc::CMSG_LEN(len as u32) as _;
    hdr.msg_controllen = libc::CMSG_SPACE(len as u32) as _;
}

fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: the family field says which sockaddr type the storage holds.
    unsafe {
        match storage.ss_family as i32 {
            libc::AF_INET => {
                let sin = &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                Some(SocketAddr::new(
                    IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes()),
                    u16::from_be(sin.sin_port),
                ))
            }
            libc::AF_INET6 => {
                let sin6 =
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Sends datagrams to their addresses from one socket with sendmmsg(2), BATCH at a time.
pub fn send_batch(fd: i32, out: &[UdpAnswer]) {
    for chunk in out.chunks(BATCH) {
        // SAFETY: as in Batch::receive; the iovecs point into `chunk`'s buffers, which are
        // only read.
        unsafe {
            let mut storage: [(libc::sockaddr_storage, libc::socklen_t); BATCH] =
                std::mem::zeroed();
            let mut iov: [libc::iovec; BATCH] = std::mem::zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
            let mut control: [Control; BATCH] = [[0; 8]; BATCH];
            for (i, (_, addr, local, data)) in chunk.iter().enumerate() {
                if let Some(local) = local {
                    hdrs[i].msg_hdr.msg_control = control[i].as_mut_ptr().cast();
                    set_source(&mut hdrs[i].msg_hdr, *local);
                }
                storage[i] = sockaddr(*addr);
                iov[i].iov_base = data.as_ptr() as *mut libc::c_void;
                iov[i].iov_len = data.len();
                hdrs[i].msg_hdr.msg_name =
                    (&mut storage[i].0 as *mut libc::sockaddr_storage).cast();
                hdrs[i].msg_hdr.msg_namelen = storage[i].1;
                hdrs[i].msg_hdr.msg_iov = &mut iov[i];
                hdrs[i].msg_hdr.msg_iovlen = 1;
            }
            let mut sent = 0;
            while sent < chunk.len() {
                let n = libc::sendmmsg(
                    fd,
                    hdrs.as_mut_ptr().add(sent),
                    (chunk.len() - sent) as _,
                    0,
                );
                if n <= 0 {
                    // One bad destination must not hold back the others: skip it.
                    log::debug!("sendmmsg: {}", io::Error::last_os_error());
                    sent += 1;
                } else {
                    sent += n as usize;
                }
            }
        }
    }
}

/// Every upstream query has its own socket: allow many more than the usual 1024 fds.
pub fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(16384);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Reads and drops what waits on a non-blocking socket; returns how many datagrams (a pending
/// ICMP error counts as one: reading reports and clears it).
pub fn drain_stale(socket: &UdpSocket) -> u64 {
    let mut stale = [0u8; 1];
    let mut dropped = 0;
    for _ in 0..MAX_STALE_DATAGRAMS {
        match socket.recv(&mut stale) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            _ => dropped += 1,
        }
    }
    dropped
}

/// Non-blocking UDP and TCP listening sockets on `port` of each address; a UDP socket on a
/// wildcard address reports each datagram's destination, the source of its answer.
pub fn bind(addrs: &[IpAddr], port: u16) -> Result<(Vec<UdpSocket>, Vec<TcpListener>), String> {
    let (mut udp, mut tcp) = (Vec::new(), Vec::new());
    for &ip in addrs {
        let addr = SocketAddr::new(ip, port);
        let u = UdpSocket::bind(addr).map_err(|e| format!("UDP {addr}: {e}"))?;
        u.set_nonblocking(true).map_err(|e| e.to_string())?;
        if ip.is_unspecified() {
            // Answers must leave from the address the query was sent to (a client drops
            // others): the kernel tells it per datagram, and we give it back on sending.
            let (level, option) = match ip {
                IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_PKTINFO),
                IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
            };
            let on: libc::c_int = 1;
            // SAFETY: a valid socket and an int option value.
            if unsafe {
                libc::setsockopt(
                    u.as_raw_fd(),
                    level,
                    option,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            } < 0
            {
                return Err(format!("UDP {addr}: {}", io::Error::last_os_error()));
            }
        }
        let t = TcpListener::bind(addr).map_err(|e| format!("TCP {addr}: {e}"))?;
        t.set_nonblocking(true).map_err(|e| e.to_string())?;
        udp.push(u);
        tcp.push(t);
    }
    Ok((udp, tcp))
}

/// A non-blocking TCP connect (EINPROGRESS is the normal case).
pub fn tcp_connect(server: SocketAddr) -> io::Result<TcpStream> {
    let family = if server.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: a fresh socket fd, owned by the TcpStream right away.
    let stream = unsafe {
        let fd = libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        TcpStream::from_raw_fd(fd)
    };
    let (storage, len) = sockaddr(server);
    // SAFETY: storage holds a valid sockaddr of length len.
    let rc = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(stream)
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data large enough for both families.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The index of the interface `name` (a scope in resolv.conf), if there is one.
pub fn if_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// A fresh UDP socket connected to `server` (connect binds a random ephemeral port, and the
/// kernel then drops datagrams from anyone else), with the query sent.
pub fn udp_query(server: SocketAddr, data: &[u8]) -> io::Result<UdpSocket> {
    let family = if server.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: a fresh socket fd, owned by the UdpSocket right away.
    let socket = unsafe {
        let fd = libc::socket(
            family,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        UdpSocket::from_raw_fd(fd)
    };
    let (storage, len) = sockaddr(server);
    // SAFETY: storage holds a valid sockaddr of length len.
    if unsafe {
        libc::connect(
            socket.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    } < 0
    {
        return Err(io::Error::last_os_error());
    }
    socket.send(data)?;
    Ok(socket)
}

/// Writes what the (non-blocking) stream takes of `bytes`; returns how many bytes that was.
pub fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Fills `buf` from getrandom(2), retrying until it is full.
pub fn fill_random(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled part of the buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::drain_stale;
    use std::net::UdpSocket;

    #[test]
    fn an_idle_upstream_socket_is_drained_before_reuse() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
        upstream.connect(server.local_addr().unwrap()).unwrap();
        upstream.set_nonblocking(true).unwrap();
        assert_eq!(drain_stale(&upstream), 0);
        // Forged or late answers queued while idle.
        for id in 0..5u8 {
            server
                .send_to(&[id, 0x81], upstream.local_addr().unwrap())
                .unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(drain_stale(&upstream), 5);
        let mut buf = [0u8; 4];
        assert_eq!(
            upstream.recv(&mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        // The socket still works for the next query's answer.
        server
            .send_to(&[9, 9], upstream.local_addr().unwrap())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(upstream.recv(&mut buf).unwrap(), 2);
    }
}
