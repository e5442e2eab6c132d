//! Zero-copy views of the headers the translator reads, in the manner of smoltcp's `wire`:
//! `new_checked` validates every length an accessor relies on, after which accessors cannot
//! panic. Setters are limited to what in-place translation rewrites.

use crate::checksum;

pub const PROTO_HOPOPTS: u8 = 0;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ROUTING: u8 = 43;
pub const PROTO_FRAGMENT: u8 = 44;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_DSTOPTS: u8 = 60;

pub const IPV4_HEADER: usize = 20;
pub const IPV6_HEADER: usize = 40;
pub const FRAGMENT_HEADER: usize = 8;

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    Truncated,
    BadVersion,
    BadHeaderLength,
    BadTotalLength,
    BadChecksum,
    /// An extension header chain we do not follow (routing header with segments left, ...).
    BadExtension,
}

/// An IPv4 header view. `new_checked` accepts buffers longer than the total length; the
/// caller trims to [`Ipv4Packet::total_len`].
pub struct Ipv4Packet<T: AsRef<[u8]>>(T);

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet(buffer)
    }
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < IPV4_HEADER {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::BadVersion);
        }
        let ihl = (b[0] & 0xf) as usize * 4;
        if ihl < IPV4_HEADER || ihl > b.len() {
            return Err(WireError::BadHeaderLength);
        }
        let total = u16::from_be_bytes([b[2], b[3]]) as usize;
        if total < ihl || total > b.len() {
            return Err(WireError::BadTotalLength);
        }
        Ok(Ipv4Packet(buffer))
    }
    fn b(&self) -> &[u8] {
        self.0.as_ref()
    }
    pub fn header_len(&self) -> usize {
        (self.b()[0] & 0xf) as usize * 4
    }
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }
    pub fn total_len(&self) -> usize {
        u16::from_be_bytes([self.b()[2], self.b()[3]]) as usize
    }
    pub fn ident(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }
    pub fn dont_frag(&self) -> bool {
        self.b()[6] & 0x40 != 0
    }
    pub fn more_frags(&self) -> bool {
        self.b()[6] & 0x20 != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        (u16::from_be_bytes([self.b()[6], self.b()[7]]) & 0x1fff) as usize * 8
    }
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }
    pub fn src(&self) -> [u8; 4] {
        let b = self.b();
        [b[12], b[13], b[14], b[15]]
    }
    pub fn dst(&self) -> [u8; 4] {
        let b = self.b();
        [b[16], b[17], b[18], b[19]]
    }
    pub fn header_checksum_ok(&self) -> bool {
        checksum::fold(checksum::add(0, &self.b()[..self.header_len()])) == 0xffff
    }
    pub fn options(&self) -> &[u8] {
        &self.b()[IPV4_HEADER..self.header_len()]
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }
}

/// Writes a 20-byte IPv4 header (no options) with its checksum.
#[allow(clippy::too_many_arguments)]
pub fn emit_ipv4_header(
    out: &mut [u8],
    tos: u8,
    total_len: u16,
    ident: u16,
    flags_frag: u16,
    ttl: u8,
    protocol: u8,
    src: [u8; 4],
    dst: [u8; 4],
) {
    out[0] = 0x45;
    out[1] = tos;
    out[2..4].copy_from_slice(&total_len.to_be_bytes());
    out[4..6].copy_from_slice(&ident.to_be_bytes());
    out[6..8].copy_from_slice(&flags_frag.to_be_bytes());
    out[8] = ttl;
    out[9] = protocol;
    out[10..12].copy_from_slice(&[0, 0]);
    out[12..16].copy_from_slice(&src);
    out[16..20].copy_from_slice(&dst);
    let csum = checksum::finish(checksum::add(0, &out[..IPV4_HEADER]));
    out[10..12].copy_from_slice(&csum.to_be_bytes());
}

/// Writes a 40-byte IPv6 header.
pub fn emit_ipv6_header(
    out: &mut [u8],
    traffic_class: u8,
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: &[u8; 16],
    dst: &[u8; 16],
) {
    out[0] = 0x60 | (traffic_class >> 4);
    out[1] = traffic_class << 4;
    out[2] = 0;
    out[3] = 0;
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out[6] = next_header;
    out[7] = hop_limit;
    out[8..24].copy_from_slice(src);
    out[24..40].copy_from_slice(dst);
}

/// An IPv6 header view with the extension header chain walked.
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// Offset of the upper-layer header.
    upper_offset: usize,
    upper_protocol: u8,
    /// Offset of the Fragment header, if any.
    frag_offset: Option<usize>,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Checks the fixed header and the payload length, and walks Hop-by-Hop, Destination
    /// Options, Routing (only with segments left zero: RFC 7915 §5.1 drops the others) and
    /// Fragment headers. A Fragment header that is not the first fragment ends the walk: what
    /// follows is not a header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < IPV6_HEADER {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::BadVersion);
        }
        let payload = u16::from_be_bytes([b[4], b[5]]) as usize;
        // Zero is a jumbogram, which has no place on a TUN device.
        if payload == 0 && b[6] != 59 || IPV6_HEADER + payload > b.len() {
            return Err(WireError::BadTotalLength);
        }
        let end = IPV6_HEADER + payload;
        let mut next = b[6];
        let mut offset = IPV6_HEADER;
        let mut frag_offset = None;
        let mut first = true;
        loop {
            match next {
                PROTO_HOPOPTS if !first => return Err(WireError::BadExtension),
                PROTO_HOPOPTS | PROTO_DSTOPTS | PROTO_ROUTING => {
                    if offset + 8 > end {
                        return Err(WireError::Truncated);
                    }
                    let len = (b[offset + 1] as usize + 1) * 8;
                    if offset + len > end {
                        return Err(WireError::Truncated);
                    }
                    if next == PROTO_ROUTING && b[offset + 3] != 0 {
                        return Err(WireError::BadExtension);
                    }
                    next = b[offset];
                    offset += len;
                }
                PROTO_FRAGMENT => {
                    if frag_offset.is_some() {
                        return Err(WireError::BadExtension);
                    }
                    if offset + FRAGMENT_HEADER > end {
                        return Err(WireError::Truncated);
                    }
                    frag_offset = Some(offset);
                    next = b[offset];
                    offset += FRAGMENT_HEADER;
                    if u16::from_be_bytes([b[offset - 6], b[offset - 5]]) & 0xfff8 != 0 {
                        break;
                    }
                }
                _ => break,
            }
            first = false;
        }
        Ok(Ipv6Packet {
            buffer,
            upper_offset: offset,
            upper_protocol: next,
            frag_offset,
        })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn traffic_class(&self) -> u8 {
        let b = self.b();
        (b[0] << 4) | (b[1] >> 4)
    }
    pub fn payload_len(&self) -> usize {
        u16::from_be_bytes([self.b()[4], self.b()[5]]) as usize
    }
    pub fn total_len(&self) -> usize {
        IPV6_HEADER + self.payload_len()
    }
    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }
    pub fn src(&self) -> [u8; 16] {
        self.b()[8..24].try_into().unwrap_or([0; 16])
    }
    pub fn dst(&self) -> [u8; 16] {
        self.b()[24..40].try_into().unwrap_or([0; 16])
    }
    pub fn upper_offset(&self) -> usize {
        self.upper_offset
    }
    pub fn upper_protocol(&self) -> u8 {
        self.upper_protocol
    }
    /// (offset in bytes, more fragments, identification) of a Fragment header.
    pub fn fragment(&self) -> Option<(usize, bool, u32)> {
        let o = self.frag_offset?;
        let b = self.b();
        let field = u16::from_be_bytes([b[o + 2], b[o + 3]]);
        let ident = u32::from_be_bytes([b[o + 4], b[o + 5], b[o + 6], b[o + 7]]);
        Some(((field & 0xfff8) as usize, field & 1 != 0, ident))
    }
    pub fn upper(&self) -> &[u8] {
        &self.b()[self.upper_offset..self.total_len()]
    }
}

/// Ports (or the ICMP identifier) of a transport header; offsets shared by TCP and UDP.
pub fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    if l4.len() < 4 {
        return None;
    }
    Some((
        u16::from_be_bytes([l4[0], l4[1]]),
        u16::from_be_bytes([l4[2], l4[3]]),
    ))
}

/// Offset of the checksum field in a transport header.
pub fn checksum_offset(protocol: u8) -> usize {
    match protocol {
        PROTO_TCP => 16,
        PROTO_UDP => 6,
        _ => 2, // ICMP, ICMPv6
    }
}

/// Minimum header length the translator needs to read of a first fragment.
pub fn min_upper_len(protocol: u8) -> usize {
    match protocol {
        PROTO_TCP => 20,
        _ => 8, // UDP, ICMP echo
    }
}

pub fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub fn set_u16(b: &mut [u8], at: usize, value: u16) {
    b[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_checked() {
        let mut h = [0u8; 28];
        emit_ipv4_header(
            &mut h,
            0,
            28,
            1,
            0x4000,
            64,
            PROTO_UDP,
            [192, 0, 2, 1],
            [198, 51, 100, 1],
        );
        let p = Ipv4Packet::new_checked(&h[..]).unwrap();
        assert!(p.header_checksum_ok() && p.dont_frag() && !p.is_fragment());
        assert_eq!((p.total_len(), p.payload().len(), p.ttl()), (28, 8, 64));
        assert_eq!(
            Ipv4Packet::new_checked(&h[..19]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            Ipv4Packet::new_checked(&h[..27]).err(),
            Some(WireError::BadTotalLength)
        );
        h[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(WireError::BadHeaderLength)
        );
        h[0] = 0x4f;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(WireError::BadHeaderLength)
        );
        h[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(WireError::BadVersion)
        );
    }

    #[test]
    fn ipv6_extension_chain() {
        let mut p = vec![0u8; 40 + 8 + 8 + 8];
        emit_ipv6_header(&mut p, 0xb8, 24, PROTO_HOPOPTS, 64, &[1; 16], &[2; 16]);
        p[40] = PROTO_FRAGMENT; // hop-by-hop, 8 bytes
        p[48] = PROTO_UDP; // fragment header: offset 0, MF
        p[48 + 3] = 1;
        p[48 + 7] = 9;
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            (v.upper_offset(), v.upper_protocol(), v.traffic_class()),
            (56, PROTO_UDP, 0xb8)
        );
        assert_eq!(v.fragment(), Some((0, true, 9)));
        // A routing header with segments left is refused.
        p[6] = PROTO_ROUTING;
        p[40] = PROTO_UDP;
        p[43] = 1;
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).err(),
            Some(WireError::BadExtension)
        );
        // A header running past the payload length.
        p[6] = PROTO_DSTOPTS;
        p[41] = 5;
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            Ipv6Packet::new_checked(&p[..50]).err(),
            Some(WireError::BadTotalLength)
        );
    }
}
