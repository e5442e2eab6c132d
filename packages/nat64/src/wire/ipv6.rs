//! The IPv6 header (RFC 8200), its extension header chain and the Fragment header.

use super::*;

mod field {
    use std::ops::Range;
    pub const VER_TC: usize = 0;
    pub const TC_FLOW: usize = 1;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Hop-by-Hop, Destination Options and Routing headers share these.
mod ext_field {
    pub const NEXT_HEADER: usize = 0;
    /// In 8-octet units, not counting the first 8.
    pub const LENGTH: usize = 1;
    /// Routing header only.
    pub const SEGMENTS_LEFT: usize = 3;
}

mod frag_field {
    use std::ops::Range;
    pub const NEXT_HEADER: usize = 0;
    pub const RESERVED: usize = 1;
    pub const OFFSET_M: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..8;
}

const FRAG_OFFSET: u16 = 0xfff8;
const FRAG_MORE: u16 = 1;

#[inline(always)]
fn address(field: &[u8]) -> [u8; 16] {
    let mut a = [0; 16];
    a.copy_from_slice(field);
    a
}

/// An IPv6 header view with the extension header chain walked.
#[derive(Debug, Clone, Copy)]
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
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < IPV6_HEADER {
            return Err(Error::Truncated);
        }
        if b[field::VER_TC] >> 4 != 6 {
            return Err(Error::BadVersion);
        }
        let payload = be16(&b[field::PAYLOAD_LEN]) as usize;
        // Zero is a jumbogram, which has no place on a TUN device.
        if payload == 0 && b[field::NEXT_HEADER] != PROTO_NONE || IPV6_HEADER + payload > b.len() {
            return Err(Error::BadTotalLength);
        }
        let end = IPV6_HEADER + payload;
        let mut next = b[field::NEXT_HEADER];
        let mut offset = IPV6_HEADER;
        let mut frag_offset = None;
        let mut first = true;
        loop {
            match next {
                PROTO_HOPOPTS if !first => return Err(Error::BadExtension),
                PROTO_HOPOPTS | PROTO_DSTOPTS | PROTO_ROUTING => {
                    if offset + 8 > end {
                        return Err(Error::Truncated);
                    }
                    let len = (b[offset + ext_field::LENGTH] as usize + 1) * 8;
                    if offset + len > end {
                        return Err(Error::Truncated);
                    }
                    if next == PROTO_ROUTING && b[offset + ext_field::SEGMENTS_LEFT] != 0 {
                        return Err(Error::BadExtension);
                    }
                    next = b[offset + ext_field::NEXT_HEADER];
                    offset += len;
                }
                PROTO_FRAGMENT => {
                    if frag_offset.is_some() {
                        return Err(Error::BadExtension);
                    }
                    let header = FragmentHeader::new_checked(b.get(offset..end).unwrap_or(&[]))?;
                    frag_offset = Some(offset);
                    next = header.next_header();
                    offset += FRAGMENT_HEADER;
                    if header.fragment().offset != 0 {
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

    #[inline(always)]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    #[inline(always)]
    pub fn traffic_class(&self) -> u8 {
        let b = self.b();
        (b[field::VER_TC] << 4) | (b[field::TC_FLOW] >> 4)
    }
    #[inline(always)]
    pub fn payload_len(&self) -> usize {
        be16(&self.b()[field::PAYLOAD_LEN]) as usize
    }
    #[inline(always)]
    pub fn total_len(&self) -> usize {
        IPV6_HEADER + self.payload_len()
    }
    /// The Next Header field of the fixed header (not the end of the chain).
    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.b()[field::NEXT_HEADER]
    }
    #[inline(always)]
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }
    #[inline(always)]
    pub fn src(&self) -> [u8; 16] {
        address(&self.b()[field::SRC])
    }
    #[inline(always)]
    pub fn dst(&self) -> [u8; 16] {
        address(&self.b()[field::DST])
    }
    #[inline(always)]
    pub fn upper_offset(&self) -> usize {
        self.upper_offset
    }
    #[inline(always)]
    pub fn upper_protocol(&self) -> u8 {
        self.upper_protocol
    }
    #[inline(always)]
    pub fn fragment(&self) -> Option<Fragment> {
        let at = self.frag_offset?;
        Some(FragmentHeader::new_unchecked(&self.b()[at..]).fragment())
    }
    #[inline(always)]
    pub fn repr(&self) -> Ipv6Repr {
        Ipv6Repr {
            traffic_class: self.traffic_class(),
            payload_len: self.payload_len() as u16,
            next_header: self.next_header(),
            hop_limit: self.hop_limit(),
            src: self.src(),
            dst: self.dst(),
        }
    }
    #[inline(always)]
    pub fn upper_layer(&self) -> UpperLayer {
        UpperLayer {
            offset: self.upper_offset,
            protocol: self.upper_protocol,
            fragment: self.fragment(),
        }
    }
    /// The upper-layer header and data.
    #[inline(always)]
    pub fn upper(&self) -> &[u8] {
        &self.b()[self.upper_offset..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline(always)]
    pub fn upper_mut(&mut self) -> &mut [u8] {
        let range = self.upper_offset..self.total_len();
        &mut self.buffer.as_mut()[range]
    }
}

/// Where the walk of the extension header chain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// Of the upper-layer header (or, in a non-first fragment, of the fragment's data).
    pub offset: usize,
    pub protocol: u8,
    pub fragment: Option<Fragment>,
}

/// The fields of a 40-byte IPv6 header (flow label zero), for writing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub traffic_class: u8,
    pub payload_len: u16,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

impl Ipv6Repr {
    /// Writes the header into the first [`IPV6_HEADER`] bytes of `out`.
    pub fn emit(&self, out: &mut [u8]) {
        let out = &mut out[..IPV6_HEADER];
        // Byte stores but for the addresses: at the size-optimised opt-level a
        // `copy_from_slice` is a call each. The flow label is zero.
        let [len0, len1] = self.payload_len.to_be_bytes();
        out[field::VER_TC] = 0x60 | (self.traffic_class >> 4);
        out[field::TC_FLOW] = self.traffic_class << 4;
        out[2] = 0;
        out[3] = 0;
        out[field::PAYLOAD_LEN.start] = len0;
        out[field::PAYLOAD_LEN.start + 1] = len1;
        out[field::NEXT_HEADER] = self.next_header;
        out[field::HOP_LIMIT] = self.hop_limit;
        out[field::SRC].copy_from_slice(&self.src);
        out[field::DST].copy_from_slice(&self.dst);
    }
}

/// A Fragment header view (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy)]
pub struct FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FragmentHeader<T> {
    #[inline(always)]
    pub fn new_unchecked(buffer: T) -> Self {
        FragmentHeader { buffer }
    }
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < FRAGMENT_HEADER {
            return Err(Error::Truncated);
        }
        Ok(FragmentHeader { buffer })
    }
    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[frag_field::NEXT_HEADER]
    }
    #[inline(always)]
    pub fn fragment(&self) -> Fragment {
        let b = self.buffer.as_ref();
        let offset_m = be16(&b[frag_field::OFFSET_M]);
        Fragment {
            offset: (offset_m & FRAG_OFFSET) as usize,
            more: offset_m & FRAG_MORE != 0,
            ident: be32(&b[frag_field::IDENT]),
        }
    }
}

/// Where a fragment goes in its packet: what IPv4 and IPv6 fragments have in common (the
/// IPv4 identification is the low 16 bits of the IPv6 one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fragment {
    /// In bytes, a multiple of 8.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    pub ident: u32,
}

impl Fragment {
    /// Is this a piece of a larger packet (not offset 0 without more)?
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        self.offset != 0 || self.more
    }
    /// Writes a Fragment header carrying `next_header` into the first [`FRAGMENT_HEADER`]
    /// bytes of `out`.
    pub fn emit(&self, next_header: u8, out: &mut [u8]) {
        let out = &mut out[..FRAGMENT_HEADER];
        let offset_m = (self.offset as u16 & FRAG_OFFSET) | if self.more { FRAG_MORE } else { 0 };
        out[frag_field::NEXT_HEADER] = next_header;
        out[frag_field::RESERVED] = 0;
        out[frag_field::OFFSET_M].copy_from_slice(&offset_m.to_be_bytes());
        out[frag_field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
    }
}

/// The IPv6 packet quoted in an ICMPv6 error, possibly cut short: only the headers present
/// are walked, and nothing is required of the payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedIpv6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub traffic_class: u8,
    pub hop_limit: u8,
    /// The payload length field, as the packet had it.
    pub payload_len: usize,
    pub upper_protocol: u8,
    /// Offset of the upper-layer header, within the quote.
    pub upper_offset: usize,
    pub fragment: Option<Fragment>,
}

impl QuotedIpv6 {
    pub fn parse(b: &[u8]) -> Result<QuotedIpv6> {
        if b.len() < IPV6_HEADER {
            return Err(Error::Truncated);
        }
        if b[field::VER_TC] >> 4 != 6 {
            return Err(Error::BadVersion);
        }
        let mut next = b[field::NEXT_HEADER];
        let mut offset = IPV6_HEADER;
        let mut fragment = None;
        loop {
            match next {
                PROTO_HOPOPTS | PROTO_DSTOPTS | PROTO_ROUTING => {
                    let len = b.get(offset + ext_field::LENGTH).ok_or(Error::Truncated)?;
                    next = b[offset + ext_field::NEXT_HEADER];
                    offset += (*len as usize + 1) * 8;
                }
                PROTO_FRAGMENT if fragment.is_none() => {
                    let header = FragmentHeader::new_checked(b.get(offset..).unwrap_or(&[]))?;
                    fragment = Some(header.fragment());
                    next = header.next_header();
                    offset += FRAGMENT_HEADER;
                }
                _ => break,
            }
        }
        if offset > b.len() {
            return Err(Error::Truncated);
        }
        let ip = Ipv6Packet {
            buffer: b,
            upper_offset: offset,
            upper_protocol: next,
            frag_offset: None,
        };
        Ok(QuotedIpv6 {
            src: ip.src(),
            dst: ip.dst(),
            traffic_class: ip.traffic_class(),
            hop_limit: ip.hop_limit(),
            payload_len: ip.payload_len(),
            upper_protocol: next,
            upper_offset: offset,
            fragment,
        })
    }

    /// The upper-layer length the packet had, which its IPv4 translation carries.
    #[inline(always)]
    pub fn upper_len(&self) -> usize {
        (self.payload_len + IPV6_HEADER).saturating_sub(self.upper_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_chain() {
        let mut p = vec![0u8; 40 + 8 + 8 + 8];
        Ipv6Repr {
            traffic_class: 0xb8,
            payload_len: 24,
            next_header: PROTO_HOPOPTS,
            hop_limit: 64,
            src: [1; 16],
            dst: [2; 16],
        }
        .emit(&mut p);
        p[40] = PROTO_FRAGMENT; // hop-by-hop, 8 bytes
        let first = Fragment {
            offset: 0,
            more: true,
            ident: 9,
        };
        first.emit(PROTO_UDP, &mut p[48..]);
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            (v.upper_offset(), v.upper_protocol(), v.traffic_class()),
            (56, PROTO_UDP, 0xb8)
        );
        assert_eq!(v.fragment(), Some(first));
        // A routing header with segments left is refused.
        p[6] = PROTO_ROUTING;
        p[40] = PROTO_UDP;
        p[43] = 1;
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).err(),
            Some(Error::BadExtension)
        );
        // A header running past the payload length.
        p[6] = PROTO_DSTOPTS;
        p[41] = 5;
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Ipv6Packet::new_checked(&p[..50]).err(),
            Some(Error::BadTotalLength)
        );
    }

    #[test]
    fn quoted_packet_cut_short() {
        let mut p = vec![0u8; 40 + 8 + 4];
        Ipv6Repr {
            traffic_class: 0,
            payload_len: 1000,
            next_header: PROTO_FRAGMENT,
            hop_limit: 7,
            src: [1; 16],
            dst: [2; 16],
        }
        .emit(&mut p);
        let fragment = Fragment {
            offset: 0,
            more: true,
            ident: 0x01020304,
        };
        fragment.emit(PROTO_TCP, &mut p[40..]);
        let q = QuotedIpv6::parse(&p).unwrap();
        assert_eq!(
            (q.upper_protocol, q.upper_offset, q.fragment, q.upper_len()),
            (PROTO_TCP, 48, Some(fragment), 992)
        );
        assert!(Ipv6Packet::new_checked(&p[..]).is_err());
        assert_eq!(QuotedIpv6::parse(&p[..44]).err(), Some(Error::Truncated));
    }
}
