//! The transport headers the translator rewrites: TCP and UDP (RFC 9293, RFC 768) through
//! one view, ICMPv4 and ICMPv6 (RFC 792, RFC 4443) through another.

use super::*;
use crate::checksum;

/// TCP and UDP put their ports at the same offsets.
mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const UDP_CHECKSUM: Range<usize> = 6..8;
    pub const TCP_SEQ: Range<usize> = 4..8;
    pub const TCP_ACK: Range<usize> = 8..12;
    pub const TCP_DATA_OFFSET: usize = 12;
    pub const TCP_FLAGS: usize = 13;
    pub const TCP_WINDOW: Range<usize> = 14..16;
    pub const TCP_CHECKSUM: Range<usize> = 16..18;
    pub const TCP_URGENT: Range<usize> = 18..20;
}

mod icmp_field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Identifier of an echo; MTU, pointer or unused in an error.
    pub const REST: Range<usize> = 4..8;
    pub const ECHO_IDENT: Range<usize> = 4..6;
}

pub const UDP_HEADER: usize = 8;
pub const TCP_HEADER: usize = 20;
pub const ICMP_HEADER: usize = 8;

/// A TCP or UDP header view. A translator needs the same of both (the ports, the checksum,
/// TCP's flags for the session state), so one view keeps the port rewrite written once for
/// the two protocols; the checksum's place and whether zero means "none" is all that differs.
#[derive(Debug, Clone, Copy)]
pub struct TransportPacket<T: AsRef<[u8]>> {
    buffer: T,
    protocol: u8,
}

impl<T: AsRef<[u8]>> TransportPacket<T> {
    /// Checks that the fixed header of `protocol` (TCP or UDP) is there.
    #[inline(always)]
    pub fn new_checked(buffer: T, protocol: u8) -> Result<Self> {
        let len = match protocol {
            PROTO_TCP => TCP_HEADER,
            PROTO_UDP => UDP_HEADER,
            _ => return Err(Error::BadProtocol),
        };
        if buffer.as_ref().len() < len {
            return Err(Error::Truncated);
        }
        Ok(TransportPacket { buffer, protocol })
    }

    /// For the header quoted in an ICMP error, possibly cut short: checks only the ports.
    /// [`TransportPacket::checksum`] is then not for use unless [`TransportPacket::has_checksum`].
    #[inline(always)]
    pub fn new_quoted(buffer: T, protocol: u8) -> Result<Self> {
        if !matches!(protocol, PROTO_TCP | PROTO_UDP) {
            return Err(Error::BadProtocol);
        }
        if buffer.as_ref().len() < field::DST_PORT.end {
            return Err(Error::Truncated);
        }
        Ok(TransportPacket { buffer, protocol })
    }

    #[inline(always)]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    #[inline(always)]
    fn checksum_field(&self) -> std::ops::Range<usize> {
        if self.protocol == PROTO_TCP {
            field::TCP_CHECKSUM
        } else {
            field::UDP_CHECKSUM
        }
    }
    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.protocol
    }
    #[inline(always)]
    pub fn is_udp(&self) -> bool {
        self.protocol == PROTO_UDP
    }
    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        be16(&self.b()[field::SRC_PORT])
    }
    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        be16(&self.b()[field::DST_PORT])
    }
    /// Whether the checksum field is in the buffer (always, unless quoted).
    #[inline(always)]
    pub fn has_checksum(&self) -> bool {
        self.b().len() >= self.checksum_field().end
    }
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[self.checksum_field()])
    }
    /// A UDP datagram over IPv4 may go without checksum (RFC 768).
    #[inline(always)]
    pub fn checksum_absent(&self) -> bool {
        self.is_udp() && self.checksum() == 0
    }
    /// The length of the segment or datagram: header and data.
    #[inline(always)]
    pub fn segment_len(&self) -> usize {
        self.b().len()
    }
    /// The checksum computed over the whole segment (with the checksum field as it is),
    /// given the pseudo-header's sum.
    #[inline(always)]
    pub fn compute_checksum(&self, pseudo: u32) -> u16 {
        checksum::finish(pseudo + checksum::add(0, self.b()))
    }
    /// TCP's control bits; none for UDP.
    #[inline(always)]
    pub fn tcp_flags(&self) -> u8 {
        if self.protocol == PROTO_TCP {
            self.b()[field::TCP_FLAGS]
        } else {
            0
        }
    }
    /// TCP's header length with options, in bytes.
    #[inline(always)]
    pub fn tcp_header_len(&self) -> usize {
        (self.b()[field::TCP_DATA_OFFSET] >> 4) as usize * 4
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TransportPacket<T> {
    #[inline(always)]
    pub fn set_src_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&port.to_be_bytes());
    }
    #[inline(always)]
    pub fn set_dst_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&port.to_be_bytes());
    }
    #[inline(always)]
    pub fn set_checksum(&mut self, checksum: u16) {
        let at = self.checksum_field();
        self.buffer.as_mut()[at].copy_from_slice(&checksum.to_be_bytes());
    }
}

/// A 20-byte TCP header (no options), for writing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
}

impl TcpRepr {
    /// Writes the header into the first [`TCP_HEADER`] bytes of `out`, with the checksum
    /// of a segment without data whose pseudo-header sums to `pseudo`.
    pub fn emit(&self, out: &mut [u8], pseudo: u32) {
        let out = &mut out[..TCP_HEADER];
        out[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        out[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        out[field::TCP_SEQ].copy_from_slice(&self.seq.to_be_bytes());
        out[field::TCP_ACK].copy_from_slice(&self.ack.to_be_bytes());
        out[field::TCP_DATA_OFFSET] = ((TCP_HEADER / 4) as u8) << 4;
        out[field::TCP_FLAGS] = self.flags;
        out[field::TCP_WINDOW].copy_from_slice(&self.window.to_be_bytes());
        out[field::TCP_CHECKSUM].copy_from_slice(&[0, 0]);
        out[field::TCP_URGENT].copy_from_slice(&[0, 0]);
        let sum = checksum::finish(pseudo + checksum::add(0, out));
        out[field::TCP_CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
}

/// An ICMPv4 or ICMPv6 message view: the two share the layout of their first 8 bytes.
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < ICMP_HEADER {
            return Err(Error::Truncated);
        }
        Ok(IcmpPacket { buffer })
    }
    #[inline(always)]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    #[inline(always)]
    pub fn msg_type(&self) -> u8 {
        self.b()[icmp_field::TYPE]
    }
    #[inline(always)]
    pub fn code(&self) -> u8 {
        self.b()[icmp_field::CODE]
    }
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[icmp_field::CHECKSUM])
    }
    /// Type and code as the one 16-bit word the checksum sums them as.
    #[inline(always)]
    pub fn type_code_word(&self) -> u16 {
        be16(&self.b()[icmp_field::TYPE..])
    }
    /// The message's length: header and payload.
    #[inline(always)]
    pub fn message_len(&self) -> usize {
        self.b().len()
    }
    /// Whether the checksum over the message, given the pseudo-header's sum (zero for
    /// ICMPv4), verifies.
    #[inline(always)]
    pub fn checksum_ok(&self, pseudo: u32) -> bool {
        self.sum(pseudo) == 0xffff
    }
    /// The folded sum of the message and `pseudo`: 0xffff when the checksum is right.
    #[inline(always)]
    pub fn sum(&self, pseudo: u32) -> u16 {
        checksum::fold(pseudo + checksum::add(0, self.b()))
    }
    /// The identifier of an echo request or reply.
    #[inline(always)]
    pub fn echo_ident(&self) -> u16 {
        be16(&self.b()[icmp_field::ECHO_IDENT])
    }
    /// The 4 bytes after the checksum, as one number (an ICMPv6 MTU or pointer).
    #[inline(always)]
    pub fn rest_of_header(&self) -> u32 {
        be32(&self.b()[icmp_field::REST])
    }
    /// The first of the 4 bytes after the checksum (an ICMPv4 pointer).
    #[inline(always)]
    pub fn rest_first_byte(&self) -> u8 {
        self.b()[icmp_field::REST.start]
    }
    /// The last two of the 4 bytes after the checksum (an ICMPv4 next-hop MTU).
    #[inline(always)]
    pub fn rest_low_u16(&self) -> u16 {
        be16(&self.b()[icmp_field::REST.start + 2..])
    }
    /// After the header: an echo's data, an error's quoted packet.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        &self.b()[ICMP_HEADER..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    #[inline(always)]
    pub fn set_msg_type(&mut self, msg_type: u8) {
        self.buffer.as_mut()[icmp_field::TYPE] = msg_type;
    }
    #[inline(always)]
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[icmp_field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }
    #[inline(always)]
    pub fn set_echo_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[icmp_field::ECHO_IDENT].copy_from_slice(&ident.to_be_bytes());
    }
}

/// The first 8 bytes of an ICMP message, for writing an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRepr {
    pub msg_type: u8,
    pub code: u8,
    pub rest: [u8; 4],
}

impl IcmpRepr {
    /// Writes the header into the first [`ICMP_HEADER`] bytes of `out`, checksum zero: it
    /// covers what follows, so the caller completes it with [`IcmpRepr::finish`].
    pub fn emit(&self, out: &mut [u8]) {
        let out = &mut out[..ICMP_HEADER];
        out[icmp_field::TYPE] = self.msg_type;
        out[icmp_field::CODE] = self.code;
        out[icmp_field::CHECKSUM].copy_from_slice(&[0, 0]);
        out[icmp_field::REST].copy_from_slice(&self.rest);
    }
    /// Sets the checksum of the whole `message`, whose pseudo-header (zero for ICMPv4)
    /// sums to `pseudo`.
    pub fn finish(message: &mut [u8], pseudo: u32) {
        let sum = checksum::finish(pseudo + checksum::add(0, message));
        message[icmp_field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
}
