//! rtnetlink, written by hand: the requests the daemons make (link up + MTU, IPv4/IPv6 routes,
//! IPv6 routes with ECMP), the dumps of links, addresses and routes, and a socket of change
//! events. A dozen fixed-layout messages do not justify a netlink crate in a 400 KB budget:
//! measured stripped on mips (`ci/xc.sh`'s release recipe), a program adding an IPv6 route and
//! dumping the routes is 198,356 bytes with `neli` 0.7.5 and 168,356 with this module (147,104
//! without netlink): neli costs 51 KB, this 21 KB.
//!
//! Netlink is host byte order: every integer here is read and written with `from_ne_bytes`
//! and `to_ne_bytes` (the daemons run on big-endian MIPS too); addresses are network order.
//! Parsing is pure ([`parse_messages`]) so it is tested with canned replies: a kernel's real
//! replies captured on x86_64 (`tests/fixtures/netlink/`, converted to host order by the
//! tests' loader) and messages built in the tests.
//!
//! What is parsed is checked: a length past the end of the buffer is a [`ParseError`], never
//! a panic; unknown message types and attributes are skipped.
//!
//! The family-independent pieces are public for the other netlink families the daemons speak
//! (mesh-monitor's nl80211 over generic netlink): [`socket`], [`bind`], [`receive`],
//! [`Message`], [`for_each_message`], [`for_each_attr`], [`error_code`] and [`dump_part`].

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
/// The attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
const NLA_TYPE_MASK: u16 = 0x3fff;
const RT_TABLE_UNSPEC: u8 = 0;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
/// A cached (cloned) route, e.g. a PMTU exception: not a route anybody configured.
const RTM_F_CLONED: u32 = 0x200;
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
const RTNLGRP_IPV6_ROUTE: u32 = 11;
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;
const IFF_LOWER_UP: u32 = 0x10000;
const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
const HEADER: usize = 16;
/// Dumps and events arrive in datagrams of up to 32 KB (the kernel's dump skb); twice that
/// leaves room, and a truncated datagram is detected (MSG_TRUNC) rather than misread.
const RECEIVE_BUFFER: usize = 64 * 1024;
/// Receive buffer of the event socket: a burst of route changes must not overrun it.
const EVENTS_RCVBUF: libc::c_int = 1 << 20;

/// A route through the TUN device: destination address (4 or 16 bytes) and prefix length.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub dst: Vec<u8>,
    pub len: u8,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match <[u8; 4]>::try_from(self.dst.as_slice()) {
            Ok(a) => write!(f, "{}/{}", Ipv4Addr::from(a), self.len),
            Err(_) => {
                let a = <[u8; 16]>::try_from(self.dst.as_slice()).unwrap_or([0; 16]);
                write!(f, "{}/{}", Ipv6Addr::from(a), self.len)
            }
        }
    }
}

/// An IPv6 unicast route to install or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route6 {
    pub dst: Ipv6Addr,
    pub len: u8,
    /// Routing table; above 255 it goes in RTA_TABLE only (rtm_table is a byte).
    pub table: u32,
    /// The route's owner (`rtm_protocol`), e.g. the daemon's own number.
    pub protocol: u8,
    /// Metric; 0 leaves it to the kernel (1024 for IPv6) and, on delete, matches any.
    pub priority: u32,
    /// (gateway, output interface index). One: RTA_GATEWAY + RTA_OIF; several: RTA_MULTIPATH
    /// (ECMP). An unspecified gateway (`::`) makes a route onto the link itself.
    pub nexthops: Vec<(Ipv6Addr, u32)>,
}

/// A network interface as RTM_NEWLINK / RTM_DELLINK tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFF_UP: administratively up.
    pub up: bool,
    /// IFF_RUNNING or IFF_LOWER_UP: operationally up (carrier).
    pub running: bool,
    /// 0 when the message carries no IFLA_MTU.
    pub mtu: u32,
}

/// An interface address as RTM_NEWADDR / RTM_DELADDR tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    /// IFA_LOCAL when present (the own end of a point-to-point IPv4 link), else IFA_ADDRESS.
    pub addr: IpAddr,
    pub len: u8,
    pub scope: u8,
    /// IFA_F_* (`libc::IFA_F_TENTATIVE`, ...): the IFA_FLAGS attribute when present (it has
    /// the flags above bit 7), else `ifa_flags`.
    pub flags: u32,
}

/// A route as RTM_NEWROUTE / RTM_DELROUTE tell it (IPv4 or IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub family: u8,
    /// The unspecified address of the family for a default route (no RTA_DST).
    pub dst: IpAddr,
    pub len: u8,
    /// RTA_TABLE when present, else `rtm_table`.
    pub table: u32,
    pub protocol: u8,
    /// `rtm_type`: RTN_UNICAST, RTN_LOCAL, RTN_UNREACHABLE, ...
    pub kind: u8,
    /// RTA_PRIORITY, 0 without it.
    pub priority: u32,
    pub oif: Option<u32>,
    pub gateway: Option<IpAddr>,
    /// RTA_MULTIPATH: (gateway, interface index) of each nexthop; empty for a single path.
    pub multipath: Vec<(Option<IpAddr>, u32)>,
}

/// What [`parse_messages`] and [`Events::read`] hand out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Link(Link),
    LinkGone(Link),
    Addr(Addr),
    AddrGone(Addr),
    Route(RouteInfo),
    RouteGone(RouteInfo),
    /// The kernel dropped events (receive buffer overrun): what the caller knows is stale,
    /// dump again.
    Overrun,
}

/// A malformed message: where (byte offset in the buffer) and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed netlink message at byte {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for io::Error {
    fn from(e: ParseError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn err(offset: usize, what: &'static str) -> ParseError {
    ParseError { offset, what }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One message of a buffer: header fields and what follows the header.
pub struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
    /// Offset of `body` in the whole buffer, for errors.
    pub at: usize,
}

/// Calls `f` on each message of `bytes` (a datagram), checking the lengths.
pub fn for_each_message<'a>(
    bytes: &'a [u8],
    mut f: impl FnMut(Msg<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            return Err(err(at, "truncated header"));
        }
        let len = ne_u32(rest, 0) as usize;
        if len < HEADER || len > rest.len() {
            return Err(err(at, "message length out of bounds"));
        }
        f(Msg {
            kind: ne_u16(rest, 4),
            flags: ne_u16(rest, 6),
            seq: ne_u32(rest, 8),
            body: &rest[HEADER..len],
            at: at + HEADER,
        })?;
        at += align4(len).min(rest.len());
    }
    Ok(())
}

/// Calls `f` with (type, payload) of each attribute in `bytes`; `at` is their offset in the
/// whole buffer. The type is given without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
pub fn for_each_attr<'a>(
    bytes: &'a [u8],
    at: usize,
    mut f: impl FnMut(u16, &'a [u8], usize) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.len() < 4 {
            return Err(err(at + i, "truncated attribute"));
        }
        let len = ne_u16(rest, 0) as usize;
        if len < 4 || len > rest.len() {
            return Err(err(at + i, "attribute length out of bounds"));
        }
        f(ne_u16(rest, 2) & NLA_TYPE_MASK, &rest[4..len], at + i + 4)?;
        i += align4(len).min(rest.len());
    }
    Ok(())
}

fn attr_u32(data: &[u8], at: usize) -> Result<u32, ParseError> {
    if data.len() != 4 {
        return Err(err(at, "attribute is not 32 bits"));
    }
    Ok(ne_u32(data, 0))
}

fn attr_ip(family: u8, data: &[u8], at: usize) -> Result<IpAddr, ParseError> {
    match (family, data.len()) {
        (AF_INET, 4) => Ok(IpAddr::from(<[u8; 4]>::try_from(data).unwrap_or_default())),
        (AF_INET6, 16) => Ok(IpAddr::from(<[u8; 16]>::try_from(data).unwrap_or_default())),
        _ => Err(err(at, "address length does not match family")),
    }
}

fn unspecified(family: u8) -> IpAddr {
    if family == AF_INET {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    }
}

fn parse_link(body: &[u8], at: usize) -> Result<Link, ParseError> {
    // struct ifinfomsg: family, pad, type (u16), index (i32), flags, change
    if body.len() < 16 {
        return Err(err(at, "truncated ifinfomsg"));
    }
    let flags = ne_u32(body, 8);
    let mut link = Link {
        index: ne_u32(body, 4),
        name: String::new(),
        up: flags & IFF_UP != 0,
        running: flags & (IFF_RUNNING | IFF_LOWER_UP) != 0,
        mtu: 0,
    };
    for_each_attr(&body[16..], at + 16, |kind, data, at| {
        match kind {
            IFLA_IFNAME => {
                let name = data.split(|&b| b == 0).next().unwrap_or_default();
                link.name = String::from_utf8_lossy(name).into_owned();
            }
            IFLA_MTU => link.mtu = attr_u32(data, at)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(link)
}

/// `None` for families other than IPv4 and IPv6.
fn parse_addr(body: &[u8], at: usize) -> Result<Option<Addr>, ParseError> {
    // struct ifaddrmsg: family, prefixlen, flags, scope, index (u32)
    if body.len() < 8 {
        return Err(err(at, "truncated ifaddrmsg"));
    }
    let family = body[0];
    if family != AF_INET && family != AF_INET6 {
        return Ok(None);
    }
    let (mut address, mut local, mut flags) = (None, None, u32::from(body[2]));
    for_each_attr(&body[8..], at + 8, |kind, data, at| {
        match kind {
            IFA_ADDRESS => address = Some(attr_ip(family, data, at)?),
            IFA_LOCAL => local = Some(attr_ip(family, data, at)?),
            IFA_FLAGS => flags = attr_u32(data, at)?,
            _ => {}
        }
        Ok(())
    })?;
    let Some(addr) = local.or(address) else {
        return Err(err(at, "address message without address"));
    };
    Ok(Some(Addr {
        index: ne_u32(body, 4),
        addr,
        len: body[1],
        scope: body[3],
        flags,
    }))
}

/// `None` for families other than IPv4 and IPv6 and for cached (cloned) routes.
fn parse_route(body: &[u8], at: usize) -> Result<Option<RouteInfo>, ParseError> {
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32)
    if body.len() < 12 {
        return Err(err(at, "truncated rtmsg"));
    }
    let family = body[0];
    if (family != AF_INET && family != AF_INET6) || ne_u32(body, 8) & RTM_F_CLONED != 0 {
        return Ok(None);
    }
    let mut r = RouteInfo {
        family,
        dst: unspecified(family),
        len: body[1],
        table: u32::from(body[4]),
        protocol: body[5],
        kind: body[7],
        priority: 0,
        oif: None,
        gateway: None,
        multipath: Vec::new(),
    };
    for_each_attr(&body[12..], at + 12, |kind, data, at| {
        match kind {
            RTA_DST => r.dst = attr_ip(family, data, at)?,
            RTA_OIF => r.oif = Some(attr_u32(data, at)?),
            RTA_GATEWAY => r.gateway = Some(attr_ip(family, data, at)?),
            RTA_PRIORITY => r.priority = attr_u32(data, at)?,
            RTA_TABLE => r.table = attr_u32(data, at)?,
            RTA_MULTIPATH => parse_multipath(family, data, at, &mut r.multipath)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(Some(r))
}

/// RTA_MULTIPATH: struct rtnexthop (len u16, flags, hops, ifindex i32) each followed by its
/// own attributes, `len` covering both.
fn parse_multipath(
    family: u8,
    data: &[u8],
    at: usize,
    out: &mut Vec<(Option<IpAddr>, u32)>,
) -> Result<(), ParseError> {
    let mut i = 0;
    while i < data.len() {
        let rest = &data[i..];
        if rest.len() < 8 {
            return Err(err(at + i, "truncated rtnexthop"));
        }
        let len = ne_u16(rest, 0) as usize;
        if len < 8 || len > rest.len() {
            return Err(err(at + i, "rtnexthop length out of bounds"));
        }
        let mut gateway = None;
        for_each_attr(&rest[8..len], at + i + 8, |kind, data, at| {
            if kind == RTA_GATEWAY {
                gateway = Some(attr_ip(family, data, at)?);
            }
            Ok(())
        })?;
        out.push((gateway, ne_u32(rest, 4)));
        i += align4(len).min(rest.len());
    }
    Ok(())
}

/// Parses one message into `out` (when it is one of the [`Event`]s).
fn parse_message(m: &Msg<'_>, out: &mut Vec<Event>) -> Result<(), ParseError> {
    let event = match m.kind {
        RTM_NEWLINK => Event::Link(parse_link(m.body, m.at)?),
        RTM_DELLINK => Event::LinkGone(parse_link(m.body, m.at)?),
        RTM_NEWADDR | RTM_DELADDR => match parse_addr(m.body, m.at)? {
            Some(a) if m.kind == RTM_NEWADDR => Event::Addr(a),
            Some(a) => Event::AddrGone(a),
            None => return Ok(()),
        },
        RTM_NEWROUTE | RTM_DELROUTE => match parse_route(m.body, m.at)? {
            Some(r) if m.kind == RTM_NEWROUTE => Event::Route(r),
            Some(r) => Event::RouteGone(r),
            None => return Ok(()),
        },
        NLMSG_OVERRUN => Event::Overrun,
        // NLMSG_NOOP, NLMSG_DONE, NLMSG_ERROR and what we do not know: nothing to tell.
        _ => return Ok(()),
    };
    out.push(event);
    Ok(())
}

/// Parses the messages of one datagram (a dump's part or events) into `out`: links,
/// addresses and routes of IPv4 and IPv6, in order. Cached (cloned) routes, other families,
/// NLMSG_DONE / NLMSG_ERROR / NLMSG_NOOP and unknown types are skipped; on an error, what
/// came before it is in `out`.
pub fn parse_messages(bytes: &[u8], out: &mut Vec<Event>) -> Result<(), ParseError> {
    for_each_message(bytes, |m| parse_message(&m, out))
}

/// A message under construction: header, fixed part, attributes (4-byte aligned).
pub struct Message(Vec<u8>);

impl Message {
    /// `fixed`: the family's header (rtmsg, genlmsghdr, ...).
    pub fn new(kind: u16, flags: u16, seq: u32, fixed: &[u8]) -> Message {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        b.extend_from_slice(fixed);
        Message(b)
    }
    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Message {
        push_attr(&mut self.0, kind, data);
        self
    }
    /// The bytes to send, with the length set.
    pub fn finish(&mut self) -> &[u8] {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        &self.0
    }
}

fn push_attr(b: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    b.extend_from_slice(&(len as u16).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(data);
    while b.len() % 4 != 0 {
        b.push(0);
    }
}

fn open_socket(flags: libc::c_int) -> io::Result<OwnedFd> {
    socket(libc::NETLINK_ROUTE, flags)
}

/// A netlink socket of `protocol` (`libc::NETLINK_ROUTE`, `libc::NETLINK_GENERIC`, ...);
/// `flags`: SOCK_CLOEXEC, SOCK_NONBLOCK.
pub fn socket(protocol: libc::c_int, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a plain socket syscall; the fd is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | flags, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Binds to a kernel-chosen port id, subscribed to the multicast `groups` (a bit mask of the
/// groups 1 to 32).
pub fn bind(fd: &OwnedFd, groups: u32) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain data; zero is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: addr is a valid sockaddr_nl of the given size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one datagram into `buf` from the kernel (port id 0): its length, or None when a
/// non-blocking socket has nothing. Datagrams from other senders are dropped.
pub fn receive(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: sockaddr_nl is plain data; zero is a valid value.
        let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: buf and from are valid for writes of the given sizes.
        let n = unsafe {
            libc::recvfrom(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
                (&mut from as *mut libc::sockaddr_nl).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(e),
            }
        }
        let n = n as usize;
        if n > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("netlink datagram of {n} bytes truncated"),
            ));
        }
        if from.nl_pid == 0 {
            return Ok(Some(n));
        }
    }
}

/// The request/acknowledgement socket: requests, dumps.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        let fd = open_socket(libc::SOCK_CLOEXEC)?;
        bind(&fd, 0)?;
        Ok(Netlink { fd, seq: 1 })
    }

    fn send(&mut self, message: &mut Message) -> io::Result<u32> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        message.0[8..12].copy_from_slice(&seq.to_ne_bytes());
        let bytes = message.finish();
        // SAFETY: bytes is valid for reads of its length.
        let sent =
            unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(seq)
    }

    /// Sends a request and waits for its acknowledgement.
    fn request(&mut self, message: &mut Message) -> io::Result<()> {
        let seq = self.send(message)?;
        let mut reply = vec![0u8; 8192];
        loop {
            let Some(n) = receive(self.fd.as_raw_fd(), &mut reply)? else {
                continue;
            };
            let mut result = None;
            for_each_message(&reply[..n], |m| {
                if m.kind == NLMSG_ERROR && m.seq == seq {
                    result = Some(error_code(&m)?);
                }
                Ok(())
            })?;
            match result {
                Some(0) => return Ok(()),
                Some(code) => return Err(io::Error::from_raw_os_error(code)),
                None => {}
            }
        }
    }

    /// Sends a dump request and parses the reply, all its parts until NLMSG_DONE. A dump
    /// the kernel marks inconsistent (a change during it, NLM_F_DUMP_INTR) is redone.
    fn dump(&mut self, kind: u16, fixed: &[u8]) -> io::Result<Vec<Event>> {
        let mut buf = vec![0u8; RECEIVE_BUFFER];
        for _ in 0..5 {
            let mut m = Message::new(kind, NLM_F_REQUEST | NLM_F_DUMP, 0, fixed);
            let seq = self.send(&mut m)?;
            let mut out = Vec::new();
            let mut state = DumpState::default();
            while !state.done {
                if let Some(n) = receive(self.fd.as_raw_fd(), &mut buf)? {
                    parse_dump_part(&buf[..n], seq, &mut state, &mut out)?;
                }
            }
            if state.error != 0 {
                return Err(io::Error::from_raw_os_error(state.error));
            }
            if !state.interrupted {
                return Ok(out);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "netlink dump interrupted by changes five times",
        ))
    }

    /// All links.
    pub fn dump_links(&mut self) -> io::Result<Vec<Link>> {
        let events = self.dump(RTM_GETLINK, &[0u8; 16])?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                Event::Link(l) => Some(l),
                _ => None,
            })
            .collect())
    }

    /// The addresses of `family` (`libc::AF_INET6 as u8`, ...; 0 for all) of every link.
    pub fn dump_addrs(&mut self, family: u8) -> io::Result<Vec<Addr>> {
        let mut fixed = [0u8; 8];
        fixed[0] = family;
        let events = self.dump(RTM_GETADDR, &fixed)?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                Event::Addr(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    /// The routes of `family` (0 for all) in `table` (0 for all tables), cached routes left
    /// out. The table is filtered here: without NETLINK_GET_STRICT_CHK the kernel dumps all.
    pub fn dump_routes(&mut self, family: u8, table: u32) -> io::Result<Vec<RouteInfo>> {
        let mut fixed = [0u8; 12];
        fixed[0] = family;
        let events = self.dump(RTM_GETROUTE, &fixed)?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                Event::Route(r) if table == 0 || r.table == table => Some(r),
                _ => None,
            })
            .collect())
    }

    /// Installs an IPv6 route: NLM_F_CREATE|NLM_F_EXCL when `replace` is false (EEXIST if
    /// it is there), NLM_F_CREATE|NLM_F_REPLACE when true (installed whether or not a route
    /// to dst/len with this metric exists; ECMP siblings replaced together). No nexthop is
    /// InvalidInput.
    pub fn add_route6(&mut self, r: &Route6, replace: bool) -> io::Result<()> {
        if r.nexthops.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "route without nexthop",
            ));
        }
        let flags = if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
        let mut m = route6_message(
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | flags,
            r,
        );
        self.request(&mut m)
    }

    /// Removes the IPv6 route matching dst/len/table/protocol/priority (priority 0: any),
    /// with all its nexthops: the nexthops of `r` are not sent (with a gateway the kernel
    /// would remove that nexthop only).
    pub fn del_route6(&mut self, r: &Route6) -> io::Result<()> {
        let bare = Route6 {
            nexthops: Vec::new(),
            ..r.clone()
        };
        let mut m = route6_message(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, &bare);
        self.request(&mut m)
    }

    /// Sets the link up with `mtu`.
    pub fn link_up(&mut self, ifindex: u32, mtu: u32) -> io::Result<()> {
        // struct ifinfomsg: family, pad, type, index, flags, change
        let mut fixed = [0u8; 16];
        fixed[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
        fixed[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
        fixed[12..16].copy_from_slice(&IFF_UP.to_ne_bytes());
        let mut m = Message::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 0, &fixed);
        m.attr(IFLA_MTU, &mtu.to_ne_bytes());
        self.request(&mut m)
    }

    /// Adds (or replaces) a route to `dst/len` (4 or 16 bytes) through the device `ifindex`
    /// in the main table, as a static route (nat64's routes into its TUN device).
    pub fn route(&mut self, dst: &[u8], len: u8, ifindex: u32) -> io::Result<()> {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        let mut m = device_route_message(RTM_NEWROUTE, flags, dst, len, ifindex);
        self.request(&mut m)
    }

    /// Removes the route to `dst/len` through the device `ifindex` (as added by `route`).
    pub fn delete_route(&mut self, dst: &[u8], len: u8, ifindex: u32) -> io::Result<()> {
        let flags = NLM_F_REQUEST | NLM_F_ACK;
        let mut m = device_route_message(RTM_DELROUTE, flags, dst, len, ifindex);
        self.request(&mut m)
    }
}

/// Where the reply to a request is, after the datagrams seen so far.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DumpState {
    /// NLMSG_DONE or NLMSG_ERROR came.
    pub done: bool,
    /// NLM_F_DUMP_INTR: the kernel's view changed during the dump.
    pub interrupted: bool,
    /// errno of the NLMSG_ERROR, or of a failed NLMSG_DONE.
    pub error: i32,
}

/// Walks one datagram of the reply to request `seq` (a dump's part, or a get's reply and
/// acknowledgement), for any netlink family: NLMSG_DONE and NLMSG_ERROR end it, with their
/// errno, and NLM_F_DUMP_INTR is noted in `state`; its other messages go to `f`. Messages of
/// other requests (stale replies) and what comes after the end are skipped.
pub fn dump_part<'a>(
    bytes: &'a [u8],
    seq: u32,
    state: &mut DumpState,
    mut f: impl FnMut(&Msg<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for_each_message(bytes, |m| {
        if m.seq != seq || state.done {
            return Ok(()); // a stale reply to an earlier request
        }
        state.interrupted |= m.flags & NLM_F_DUMP_INTR != 0;
        match m.kind {
            NLMSG_DONE | NLMSG_ERROR => {
                // NLMSG_DONE carries an int too: negative when the dump failed.
                state.error = if m.body.len() >= 4 {
                    error_code(&m)?
                } else {
                    0
                };
                state.done = true;
                Ok(())
            }
            _ => f(&m),
        }
    })
}

/// Parses one datagram of the reply to dump request `seq` into `out`.
fn parse_dump_part(
    bytes: &[u8],
    seq: u32,
    state: &mut DumpState,
    out: &mut Vec<Event>,
) -> Result<(), ParseError> {
    dump_part(bytes, seq, state, |m| parse_message(m, out))
}

/// The errno of an NLMSG_ERROR (or NLMSG_DONE) message: 0 for an acknowledgement.
pub fn error_code(m: &Msg<'_>) -> Result<i32, ParseError> {
    if m.body.len() < 4 {
        return Err(err(m.at, "truncated error message"));
    }
    Ok(ne_u32(m.body, 0).wrapping_neg() as i32)
}

fn device_route_message(kind: u16, flags: u16, dst: &[u8], len: u8, ifindex: u32) -> Message {
    let family = if dst.len() == 4 { AF_INET } else { AF_INET6 };
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
    let mut fixed = [0u8; 12];
    fixed[0] = family;
    fixed[1] = len;
    fixed[4] = RT_TABLE_MAIN;
    fixed[5] = RTPROT_STATIC;
    fixed[6] = RT_SCOPE_LINK;
    fixed[7] = RTN_UNICAST;
    let mut m = Message::new(kind, flags, 0, &fixed);
    m.attr(RTA_DST, dst).attr(RTA_OIF, &ifindex.to_ne_bytes());
    m
}

fn route6_message(kind: u16, flags: u16, r: &Route6) -> Message {
    let mut fixed = [0u8; 12];
    fixed[0] = AF_INET6;
    fixed[1] = r.len;
    fixed[4] = u8::try_from(r.table).unwrap_or(RT_TABLE_UNSPEC);
    fixed[5] = r.protocol;
    fixed[6] = RT_SCOPE_UNIVERSE;
    fixed[7] = RTN_UNICAST;
    let mut m = Message::new(kind, flags, 0, &fixed);
    m.attr(RTA_DST, &r.dst.octets());
    m.attr(RTA_TABLE, &r.table.to_ne_bytes());
    if r.priority != 0 {
        m.attr(RTA_PRIORITY, &r.priority.to_ne_bytes());
    }
    match r.nexthops.as_slice() {
        [] => {}
        [(gateway, oif)] => {
            if !gateway.is_unspecified() {
                m.attr(RTA_GATEWAY, &gateway.octets());
            }
            if *oif != 0 {
                m.attr(RTA_OIF, &oif.to_ne_bytes());
            }
        }
        hops => {
            let mut nested = Vec::with_capacity(hops.len() * 28);
            for (gateway, oif) in hops {
                // struct rtnexthop: len, flags, hops (weight - 1), ifindex; then attributes.
                let start = nested.len();
                nested.extend_from_slice(&0u16.to_ne_bytes());
                nested.extend_from_slice(&[0, 0]);
                nested.extend_from_slice(&oif.to_ne_bytes());
                if !gateway.is_unspecified() {
                    push_attr(&mut nested, RTA_GATEWAY, &gateway.octets());
                }
                let len = (nested.len() - start) as u16;
                nested[start..start + 2].copy_from_slice(&len.to_ne_bytes());
            }
            m.attr(RTA_MULTIPATH, &nested);
        }
    }
    m
}

/// A socket subscribed to link, IPv6 address and IPv6 route changes (RTNLGRP_LINK,
/// RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE); non-blocking, for the poll loop.
pub struct Events {
    fd: OwnedFd,
}

impl Events {
    pub fn open() -> io::Result<Events> {
        Events::open_with(true)
    }

    /// Without `routes`, link and address changes only: a daemon that installs many routes
    /// and needs no one else's is not told of each of its own.
    pub fn open_with(routes: bool) -> io::Result<Events> {
        let fd = open_socket(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?;
        // SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max; SO_RCVBUF is capped by it.
        for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: a c_int option value of the right size.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    option,
                    (&EVENTS_RCVBUF as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r == 0 {
                break;
            }
        }
        let group = |g: u32| 1u32 << (g - 1);
        let mut groups = group(RTNLGRP_LINK) | group(RTNLGRP_IPV6_IFADDR);
        if routes {
            groups |= group(RTNLGRP_IPV6_ROUTE);
        }
        bind(&fd, groups)?;
        Ok(Events { fd })
    }

    /// Reads what is there (until EAGAIN) and parses it into `out`, using `buf` to receive
    /// (grown to 64 KB once). ENOBUFS (events were lost) is [`Event::Overrun`]: the caller
    /// dumps again. A malformed datagram is an InvalidData error (what came before it is in
    /// `out`, the rest stays queued for the next call); the caller should dump again too.
    pub fn read(&mut self, buf: &mut Vec<u8>, out: &mut Vec<Event>) -> io::Result<()> {
        if buf.len() < RECEIVE_BUFFER {
            buf.resize(RECEIVE_BUFFER, 0);
        }
        loop {
            match receive(self.fd.as_raw_fd(), buf) {
                Ok(Some(n)) => parse_messages(&buf[..n], out)?,
                Ok(None) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    if out.last() != Some(&Event::Overrun) {
                        out.push(Event::Overrun);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsRawFd for Events {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests;
