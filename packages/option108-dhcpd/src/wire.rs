//! DHCPv4 messages on the wire (RFC 2131 §2, RFC 2132), in the style of smoltcp's `wire`:
//! a zero-copy [`Packet`] view with checked accessors, a parsed [`Request`] that borrows
//! from the packet, and a [`ReplyWriter`] that emits into a caller's buffer. Nothing here
//! allocates, so the per-packet path of the server does not either.
//!
//! Option 108 (IPv6-Only Preferred, RFC 8925) is handled here by its number; it is not taken
//! from a general-purpose DHCP crate (dhcproto's variant for it carries another code).

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
/// RFC 2131 §3: the first four octets of the options field.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Fixed header (236 octets) plus the magic cookie.
pub const HEADER_LEN: usize = 240;
/// RFC 2131 §2: every host accepts 576-octet IP datagrams, so 548 octets of DHCP.
pub const MIN_MAX_MESSAGE: usize = 548;
/// Largest message we build: an Ethernet frame's UDP payload.
pub const MAX_MESSAGE: usize = 1472;
/// BOOTP relays and some old clients drop messages shorter than a BOOTP packet (RFC 1542).
pub const MIN_REPLY_LEN: usize = 300;

pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;
pub const FLAG_BROADCAST: u16 = 0x8000;

/// Option codes this server reads or writes.
pub mod opt {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS_SERVERS: u8 = 6;
    pub const HOST_NAME: u8 = 12;
    pub const DOMAIN_NAME: u8 = 15;
    pub const BROADCAST_ADDRESS: u8 = 28;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const CLIENT_ID: u8 = 61;
    /// RFC 4039.
    pub const RAPID_COMMIT: u8 = 80;
    /// RFC 8925: IPv6-Only Preferred, a 4-octet V6ONLY_WAIT in seconds.
    pub const IPV6_ONLY_PREFERRED: u8 = 108;
    pub const END: u8 = 255;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

impl MessageType {
    pub fn from_u8(v: u8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
}

/// Why a message was not accepted. Each kind has its own counter in the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the fixed header and cookie.
    Truncated,
    /// Longer than any DHCP message we accept.
    Overlong,
    BadMagic,
    /// `op` is not BOOTREQUEST (a reply, or garbage).
    NotRequest,
    /// htype/hlen that cannot describe a hardware address.
    BadHardwareAddress,
    /// An option runs past the end of its field, or has a length its type forbids.
    BadOption(u8),
    /// No option 53 (plain BOOTP is not served) or an unknown message type.
    NoMessageType,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated message"),
            Error::Overlong => f.write_str("overlong message"),
            Error::BadMagic => f.write_str("bad magic cookie"),
            Error::NotRequest => f.write_str("op is not BOOTREQUEST"),
            Error::BadHardwareAddress => f.write_str("bad hardware address type/length"),
            Error::BadOption(code) => write!(f, "malformed option {code}"),
            Error::NoMessageType => f.write_str("no or unknown DHCP message type"),
        }
    }
}

mod field {
    use std::ops::Range;
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Range<usize> = 4..8;
    pub const SECS: Range<usize> = 8..10;
    pub const FLAGS: Range<usize> = 10..12;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const SIADDR: Range<usize> = 20..24;
    pub const GIADDR: Range<usize> = 24..28;
    pub const CHADDR: Range<usize> = 28..44;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const MAGIC: Range<usize> = 236..240;
    pub const OPTIONS: usize = 240;
}

/// A read-only view of a DHCP message.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }
    /// Checks the length and the magic cookie: every accessor is then in bounds.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if len > MAX_MESSAGE.max(1500) {
            return Err(Error::Overlong);
        }
        let packet = Packet { buffer };
        if packet.buffer.as_ref()[field::MAGIC] != MAGIC_COOKIE {
            return Err(Error::BadMagic);
        }
        Ok(packet)
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn op(&self) -> u8 {
        self.b()[field::OP]
    }
    pub fn htype(&self) -> u8 {
        self.b()[field::HTYPE]
    }
    pub fn hlen(&self) -> u8 {
        self.b()[field::HLEN]
    }
    pub fn hops(&self) -> u8 {
        self.b()[field::HOPS]
    }
    pub fn xid(&self) -> u32 {
        u32::from_be_bytes(self.b()[field::XID].try_into().unwrap())
    }
    pub fn secs(&self) -> u16 {
        u16::from_be_bytes(self.b()[field::SECS].try_into().unwrap())
    }
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes(self.b()[field::FLAGS].try_into().unwrap())
    }
    pub fn ciaddr(&self) -> Ipv4Addr {
        addr(&self.b()[field::CIADDR])
    }
    pub fn yiaddr(&self) -> Ipv4Addr {
        addr(&self.b()[field::YIADDR])
    }
    pub fn siaddr(&self) -> Ipv4Addr {
        addr(&self.b()[field::SIADDR])
    }
    pub fn giaddr(&self) -> Ipv4Addr {
        addr(&self.b()[field::GIADDR])
    }
    /// All 16 octets of chaddr.
    pub fn chaddr(&self) -> &[u8; 16] {
        self.b()[field::CHADDR].try_into().unwrap()
    }
    pub fn sname(&self) -> &[u8] {
        &self.b()[field::SNAME]
    }
    pub fn file(&self) -> &[u8] {
        &self.b()[field::FILE]
    }
    pub fn options(&self) -> &[u8] {
        &self.b()[field::OPTIONS..]
    }
}

/// Iterates over `(code, data)` in one options field; PAD is skipped, END stops.
pub struct Options<'a> {
    data: &'a [u8],
    failed: bool,
}

impl<'a> Options<'a> {
    pub fn new(data: &'a [u8]) -> Options<'a> {
        Options {
            data,
            failed: false,
        }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<(u8, &'a [u8]), Error>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            let (&code, rest) = self.data.split_first()?;
            match code {
                opt::PAD => self.data = rest,
                opt::END => {
                    self.data = &[];
                    return None;
                }
                _ => {
                    let Some((&len, rest)) = rest.split_first() else {
                        self.failed = true;
                        return Some(Err(Error::BadOption(code)));
                    };
                    if rest.len() < len as usize {
                        self.failed = true;
                        return Some(Err(Error::BadOption(code)));
                    }
                    let (value, rest) = rest.split_at(len as usize);
                    self.data = rest;
                    return Some(Ok((code, value)));
                }
            }
        }
    }
}

/// A client's hardware address: up to 16 octets, as chaddr/hlen give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HwAddr {
    pub len: u8,
    pub bytes: [u8; 16],
}

impl HwAddr {
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    /// The Ethernet address, when it is one.
    pub fn mac(&self) -> Option<[u8; 6]> {
        (self.len == 6).then(|| self.bytes[..6].try_into().unwrap())
    }
    pub fn from_mac(mac: [u8; 6]) -> HwAddr {
        let mut bytes = [0; 16];
        bytes[..6].copy_from_slice(&mac);
        HwAddr { len: 6, bytes }
    }
}

/// A client request, parsed: the header fields and the options this server uses.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub message_type: MessageType,
    pub htype: u8,
    pub chaddr: HwAddr,
    pub xid: u32,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub hops: u8,
    pub requested_ip: Option<Ipv4Addr>,
    pub server_id: Option<Ipv4Addr>,
    pub client_id: Option<&'a [u8]>,
    /// Parameter request list; empty when absent.
    pub parameters: &'a [u8],
    pub host_name: Option<&'a [u8]>,
    pub max_message_size: Option<u16>,
    pub rapid_commit: bool,
}

impl<'a> Request<'a> {
    pub fn broadcast_flag(&self) -> bool {
        self.flags & FLAG_BROADCAST != 0
    }
    pub fn requests(&self, code: u8) -> bool {
        self.parameters.contains(&code)
    }

    /// Parses and validates a client message. Options may continue in `file` and `sname`
    /// (option 52, RFC 2132 §9.3); every option's length is checked against its type.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Request<'a>, Error> {
        if packet.op() != BOOTREQUEST {
            return Err(Error::NotRequest);
        }
        let hlen = packet.hlen();
        if hlen == 0 || hlen > 16 {
            return Err(Error::BadHardwareAddress);
        }
        let mut chaddr = HwAddr {
            len: hlen,
            bytes: [0; 16],
        };
        chaddr.bytes[..hlen as usize].copy_from_slice(&packet.chaddr()[..hlen as usize]);

        let mut request = Request {
            message_type: MessageType::Discover,
            htype: packet.htype(),
            chaddr,
            xid: packet.xid(),
            flags: packet.flags(),
            ciaddr: packet.ciaddr(),
            giaddr: packet.giaddr(),
            hops: packet.hops(),
            requested_ip: None,
            server_id: None,
            client_id: None,
            parameters: &[],
            host_name: None,
            max_message_size: None,
            rapid_commit: false,
        };
        // Borrowing from the packet's buffer (not from `packet`) keeps 'a.
        let buffer: &'a [u8] = packet.buffer;
        let mut message_type = None;
        let mut overload = 0u8;
        let fields: [&'a [u8]; 3] = [
            &buffer[field::OPTIONS..],
            &buffer[field::FILE],
            &buffer[field::SNAME],
        ];
        for (i, data) in fields.into_iter().enumerate() {
            // file (bit 1) and sname (bit 2) only carry options when option 52 says so.
            if i == 1 && overload & 1 == 0 || i == 2 && overload & 2 == 0 {
                continue;
            }
            for item in Options::new(data) {
                let (code, value) = item?;
                let bad = Err(Error::BadOption(code));
                match code {
                    opt::MESSAGE_TYPE => {
                        let [t] = value else { return bad };
                        message_type = Some(*t);
                    }
                    opt::REQUESTED_IP => {
                        let Ok(a) = <[u8; 4]>::try_from(value) else {
                            return bad;
                        };
                        request.requested_ip = Some(Ipv4Addr::from(a));
                    }
                    opt::SERVER_ID => {
                        let Ok(a) = <[u8; 4]>::try_from(value) else {
                            return bad;
                        };
                        request.server_id = Some(Ipv4Addr::from(a));
                    }
                    opt::CLIENT_ID => {
                        // RFC 2132 §9.14: a type octet and at least one more.
                        if value.len() < 2 {
                            return bad;
                        }
                        request.client_id = Some(value);
                    }
                    opt::PARAMETER_REQUEST_LIST => request.parameters = value,
                    opt::HOST_NAME => {
                        if value.is_empty() {
                            return bad;
                        }
                        request.host_name = Some(value);
                    }
                    opt::MAX_MESSAGE_SIZE => {
                        let Ok(a) = <[u8; 2]>::try_from(value) else {
                            return bad;
                        };
                        request.max_message_size = Some(u16::from_be_bytes(a));
                    }
                    opt::RAPID_COMMIT => {
                        if !value.is_empty() {
                            return bad;
                        }
                        request.rapid_commit = true;
                    }
                    opt::OVERLOAD if i == 0 => {
                        let [o @ 1..=3] = value else { return bad };
                        overload = *o;
                    }
                    _ => {}
                }
            }
        }
        request.message_type = message_type
            .and_then(MessageType::from_u8)
            .ok_or(Error::NoMessageType)?;
        Ok(request)
    }
}

/// Writes a BOOTREPLY into a caller's buffer: header first, then options in call order.
pub struct ReplyWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// Room for options, leaving one octet for END.
    limit: usize,
}

/// The header fields of a reply.
#[derive(Debug, Clone, Copy)]
pub struct ReplyHeader<'a> {
    pub request: &'a Request<'a>,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub flags: u16,
}

impl<'b> ReplyWriter<'b> {
    /// `max_len` is what the client can take (548 unless it said more in option 57).
    pub fn new(buf: &'b mut [u8], header: &ReplyHeader<'_>, max_len: usize) -> ReplyWriter<'b> {
        let limit = max_len.min(buf.len()) - 1;
        let request = header.request;
        buf[..HEADER_LEN].fill(0);
        buf[field::OP] = BOOTREPLY;
        buf[field::HTYPE] = request.htype;
        buf[field::HLEN] = request.chaddr.len;
        buf[field::HOPS] = 0;
        buf[field::XID].copy_from_slice(&request.xid.to_be_bytes());
        buf[field::FLAGS].copy_from_slice(&header.flags.to_be_bytes());
        buf[field::CIADDR].copy_from_slice(&header.ciaddr.octets());
        buf[field::YIADDR].copy_from_slice(&header.yiaddr.octets());
        buf[field::GIADDR].copy_from_slice(&request.giaddr.octets());
        buf[field::CHADDR].copy_from_slice(&request.chaddr.bytes);
        buf[field::MAGIC].copy_from_slice(&MAGIC_COOKIE);
        ReplyWriter {
            buf,
            len: HEADER_LEN,
            limit,
        }
    }
    /// Appends an option; `false` (and nothing written) when it does not fit. Values longer
    /// than 255 octets are split into several options of the same code (RFC 3396).
    pub fn option(&mut self, code: u8, value: &[u8]) -> bool {
        let pieces = value.len().div_ceil(255).max(1);
        if self.len + value.len() + 2 * pieces > self.limit {
            return false;
        }
        if value.is_empty() {
            self.buf[self.len] = code;
            self.buf[self.len + 1] = 0;
            self.len += 2;
        }
        for chunk in value.chunks(255) {
            self.buf[self.len] = code;
            self.buf[self.len + 1] = chunk.len() as u8;
            self.buf[self.len + 2..self.len + 2 + chunk.len()].copy_from_slice(chunk);
            self.len += 2 + chunk.len();
        }
        true
    }
    pub fn option_u32(&mut self, code: u8, value: u32) -> bool {
        self.option(code, &value.to_be_bytes())
    }
    pub fn option_addr(&mut self, code: u8, value: Ipv4Addr) -> bool {
        self.option(code, &value.octets())
    }
    /// Writes END, pads to the BOOTP minimum, and returns the message length.
    pub fn finish(self) -> usize {
        let mut len = self.len;
        self.buf[len] = opt::END;
        len += 1;
        if len < MIN_REPLY_LEN {
            self.buf[len..MIN_REPLY_LEN].fill(0);
            len = MIN_REPLY_LEN;
        }
        len
    }
}

/// Test helper and fuzz aid: builds a client message (allocates; not for the server's path).
pub fn build_request(
    message_type: MessageType,
    mac: [u8; 6],
    xid: u32,
    fill: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_LEN];
    b[field::OP] = BOOTREQUEST;
    b[field::HTYPE] = 1;
    b[field::HLEN] = 6;
    b[field::XID].copy_from_slice(&xid.to_be_bytes());
    b[field::CHADDR][..6].copy_from_slice(&mac);
    b[field::MAGIC].copy_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(&[opt::MESSAGE_TYPE, 1, message_type as u8]);
    fill(&mut b);
    b.push(opt::END);
    b
}

/// Sets header fields of a message built by [`build_request`].
pub fn set_header(b: &mut [u8], ciaddr: Ipv4Addr, giaddr: Ipv4Addr, flags: u16) {
    b[field::CIADDR].copy_from_slice(&ciaddr.octets());
    b[field::GIADDR].copy_from_slice(&giaddr.octets());
    b[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover() -> Vec<u8> {
        build_request(
            MessageType::Discover,
            [2, 0, 0, 0, 0, 1],
            0x1234_5678,
            |b| {
                b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 3, 1, 3, 108]);
                b.extend_from_slice(&[opt::CLIENT_ID, 7, 1, 2, 0, 0, 0, 0, 1]);
                b.extend_from_slice(&[opt::PAD, opt::PAD]);
                b.extend_from_slice(&[opt::REQUESTED_IP, 4, 192, 168, 1, 7]);
            },
        )
    }

    #[test]
    fn parses_a_discover() {
        let bytes = discover();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Request::parse(&p).unwrap();
        assert_eq!(r.message_type, MessageType::Discover);
        assert_eq!(r.xid, 0x1234_5678);
        assert_eq!(r.chaddr.mac(), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(r.parameters, &[1, 3, 108]);
        assert!(r.requests(108));
        assert_eq!(r.client_id, Some(&[1, 2, 0, 0, 0, 0, 1][..]));
        assert_eq!(r.requested_ip, Some(Ipv4Addr::new(192, 168, 1, 7)));
        assert!(!r.broadcast_flag());
    }

    #[test]
    fn rejects_malformed() {
        let good = discover();
        assert_eq!(
            Packet::new_checked(&good[..239]).unwrap_err(),
            Error::Truncated
        );
        let mut bad = good.clone();
        bad[236] = 0;
        assert_eq!(Packet::new_checked(&bad[..]).unwrap_err(), Error::BadMagic);
        let big = vec![0u8; 4000];
        assert_eq!(Packet::new_checked(&big[..]).unwrap_err(), Error::Overlong);
        let mut reply = good.clone();
        reply[0] = BOOTREPLY;
        assert_eq!(
            Request::parse(&Packet::new_checked(&reply[..]).unwrap()).unwrap_err(),
            Error::NotRequest
        );
        // An option whose length runs past the end.
        let mut overrun = good.clone();
        overrun.pop();
        overrun.extend_from_slice(&[opt::HOST_NAME, 200, b'a']);
        assert_eq!(
            Request::parse(&Packet::new_checked(&overrun[..]).unwrap()).unwrap_err(),
            Error::BadOption(12)
        );
        // A requested address of the wrong length.
        let short = build_request(MessageType::Request, [2; 6], 1, |b| {
            b.extend_from_slice(&[50, 3, 1, 2, 3])
        });
        assert_eq!(
            Request::parse(&Packet::new_checked(&short[..]).unwrap()).unwrap_err(),
            Error::BadOption(50)
        );
        // No message type.
        let mut none = good.clone();
        none[240] = opt::PAD;
        none[241] = opt::PAD;
        none[242] = opt::PAD;
        assert_eq!(
            Request::parse(&Packet::new_checked(&none[..]).unwrap()).unwrap_err(),
            Error::NoMessageType
        );
        let mut hl = good;
        hl[2] = 17;
        assert_eq!(
            Request::parse(&Packet::new_checked(&hl[..]).unwrap()).unwrap_err(),
            Error::BadHardwareAddress
        );
    }

    #[test]
    fn options_continue_in_file_when_overloaded() {
        let mut b = build_request(MessageType::Request, [2; 6], 9, |b| {
            b.extend_from_slice(&[opt::OVERLOAD, 1, 1])
        });
        // file field starts at 108.
        b[108..114].copy_from_slice(&[opt::SERVER_ID, 4, 10, 0, 0, 1]);
        b[114] = opt::END;
        let r = Request::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(r.server_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        // Without option 52 the same bytes in file are not options.
        let mut plain = build_request(MessageType::Request, [2; 6], 9, |_| {});
        plain[108..114].copy_from_slice(&[opt::SERVER_ID, 4, 10, 0, 0, 1]);
        assert_eq!(
            Request::parse(&Packet::new_checked(&plain[..]).unwrap())
                .unwrap()
                .server_id,
            None
        );
    }

    #[test]
    fn writer_emits_header_options_and_padding() {
        let bytes = discover();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Request::parse(&p).unwrap();
        let mut buf = [0xAAu8; MAX_MESSAGE];
        let header = ReplyHeader {
            request: &r,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::new(192, 168, 1, 9),
            flags: 0,
        };
        let mut w = ReplyWriter::new(&mut buf, &header, 700);
        assert!(w.option(opt::MESSAGE_TYPE, &[MessageType::Offer as u8]));
        assert!(w.option_u32(opt::IPV6_ONLY_PREFERRED, 1800));
        let long = [7u8; 300];
        assert!(w.option(200, &long), "split into two options");
        assert!(!w.option(201, &[0; 400]), "does not fit in 700");
        let len = w.finish();
        let out = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(out.op(), BOOTREPLY);
        assert_eq!(out.xid(), 0x1234_5678);
        assert_eq!(out.yiaddr(), Ipv4Addr::new(192, 168, 1, 9));
        assert_eq!(&out.chaddr()[..6], &[2, 0, 0, 0, 0, 1]);
        // Option 108 on the wire: code 108, length 4, big-endian seconds.
        assert_eq!(&buf[240..249], &[53, 1, 2, 108, 4, 0, 0, 0x07, 0x08]);
        let opts: Vec<_> = Options::new(out.options()).map(|o| o.unwrap()).collect();
        assert_eq!(opts.len(), 4);
        assert_eq!(
            (opts[2].0, opts[2].1.len(), opts[3].1.len()),
            (200, 255, 45)
        );
        assert!(len <= 700);
    }
}
