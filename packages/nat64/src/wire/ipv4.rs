//! The IPv4 header (RFC 791).

use super::{be16, Error, Result, IPV4_HEADER};
use crate::checksum;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET: u16 = 0x1fff;

/// Option types RFC 7915 §4.1 refuses to translate: Loose and Strict Source Route.
const OPTION_END: u8 = 0;
const OPTION_NOP: u8 = 1;
const OPTION_LSRR: u8 = 131;
const OPTION_SSRR: u8 = 137;

/// An IPv4 header view. The buffer may run past the total length (the caller trims).
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    #[inline(always)]
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Checks the version, the header length and that the total length is in the buffer.
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_quoted(buffer)?;
        let total = packet.total_len();
        if total < packet.header_len() || total > packet.buffer.as_ref().len() {
            return Err(Error::BadTotalLength);
        }
        Ok(packet)
    }

    /// For the packet quoted in an ICMP error, cut short by the error's size limit: checks
    /// only that the whole header is there. [`Ipv4Packet::payload`] is then not for use.
    #[inline(always)]
    pub fn new_quoted(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < IPV4_HEADER {
            return Err(Error::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(Error::BadVersion);
        }
        let ihl = (b[field::VER_IHL] & 0xf) as usize * 4;
        if ihl < IPV4_HEADER || ihl > b.len() {
            return Err(Error::BadHeaderLength);
        }
        Ok(Ipv4Packet { buffer })
    }

    #[inline(always)]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        (self.b()[field::VER_IHL] & 0xf) as usize * 4
    }
    #[inline(always)]
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }
    #[inline(always)]
    pub fn total_len(&self) -> usize {
        be16(&self.b()[field::LENGTH]) as usize
    }
    #[inline(always)]
    pub fn ident(&self) -> u16 {
        be16(&self.b()[field::IDENT])
    }
    #[inline(always)]
    fn flags_frag(&self) -> u16 {
        be16(&self.b()[field::FLAGS_FRAG])
    }
    #[inline(always)]
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }
    #[inline(always)]
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    #[inline(always)]
    pub fn frag_offset(&self) -> usize {
        (self.flags_frag() & FRAG_OFFSET) as usize * 8
    }
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    #[inline(always)]
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }
    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[field::CHECKSUM])
    }
    #[inline(always)]
    pub fn src(&self) -> [u8; 4] {
        let b = &self.b()[field::SRC];
        [b[0], b[1], b[2], b[3]]
    }
    #[inline(always)]
    pub fn dst(&self) -> [u8; 4] {
        let b = &self.b()[field::DST];
        [b[0], b[1], b[2], b[3]]
    }
    #[inline(always)]
    pub fn header_checksum_ok(&self) -> bool {
        checksum::fold(checksum::add(0, &self.b()[..self.header_len()])) == 0xffff
    }
    #[inline(always)]
    pub fn options(&self) -> &[u8] {
        &self.b()[IPV4_HEADER..self.header_len()]
    }
    /// Is there a Loose or Strict Source Route option (RFC 7915 §4.1 drops those)?
    pub fn has_source_route(&self) -> bool {
        let options = self.options();
        let mut i = 0;
        while i < options.len() {
            match options[i] {
                OPTION_END => return false,
                OPTION_NOP => i += 1,
                OPTION_LSRR | OPTION_SSRR => return true,
                _ => {
                    let len = options.get(i + 1).copied().unwrap_or(0) as usize;
                    if len < 2 {
                        return false;
                    }
                    i += len;
                }
            }
        }
        false
    }
    #[inline(always)]
    pub fn repr(&self) -> Ipv4Repr {
        Ipv4Repr {
            tos: self.tos(),
            total_len: self.total_len() as u16,
            ident: self.ident(),
            dont_frag: self.dont_frag(),
            more_frags: self.more_frags(),
            frag_offset: self.frag_offset(),
            ttl: self.ttl(),
            protocol: self.protocol(),
            src: self.src(),
            dst: self.dst(),
        }
    }
    /// What follows the header, up to the total length.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }
    /// What follows the header, to the end of the buffer (a quoted packet's piece).
    #[inline(always)]
    pub fn rest(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline(always)]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..self.total_len();
        &mut self.buffer.as_mut()[range]
    }
}

/// The fields of a 20-byte IPv4 header (no options), for writing one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub tos: u8,
    pub total_len: u16,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// In bytes, a multiple of 8.
    pub frag_offset: usize,
    pub ttl: u8,
    pub protocol: u8,
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

impl Ipv4Repr {
    /// Writes the header with its checksum into the first [`IPV4_HEADER`] bytes of `out`.
    pub fn emit(&self, out: &mut [u8]) {
        let flags_frag = ((self.frag_offset / 8) as u16 & FRAG_OFFSET)
            | if self.dont_frag { FLAG_DF } else { 0 }
            | if self.more_frags { FLAG_MF } else { 0 };
        // One array built from the fields, then copied once: at the size-optimised
        // opt-level a `copy_from_slice` per field is a call each, a third of the cost.
        let [len0, len1] = self.total_len.to_be_bytes();
        let [id0, id1] = self.ident.to_be_bytes();
        let [ff0, ff1] = flags_frag.to_be_bytes();
        let [s0, s1, s2, s3] = self.src;
        let [d0, d1, d2, d3] = self.dst;
        let mut h: [u8; IPV4_HEADER] = [
            0x45,
            self.tos,
            len0,
            len1,
            id0,
            id1,
            ff0,
            ff1,
            self.ttl,
            self.protocol,
            0,
            0,
            s0,
            s1,
            s2,
            s3,
            d0,
            d1,
            d2,
            d3,
        ];
        let [sum0, sum1] = checksum::finish(checksum::add(0, &h)).to_be_bytes();
        h[field::CHECKSUM.start] = sum0;
        h[field::CHECKSUM.start + 1] = sum1;
        out[..IPV4_HEADER].copy_from_slice(&h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PROTO_UDP;

    fn header() -> [u8; 28] {
        let mut h = [0u8; 28];
        Ipv4Repr {
            total_len: 28,
            ident: 1,
            dont_frag: true,
            ttl: 64,
            protocol: PROTO_UDP,
            src: [192, 0, 2, 1],
            dst: [198, 51, 100, 1],
            ..Ipv4Repr::default()
        }
        .emit(&mut h);
        h
    }

    #[test]
    fn checked() {
        let mut h = header();
        let p = Ipv4Packet::new_checked(&h[..]).unwrap();
        assert!(p.header_checksum_ok() && p.dont_frag() && !p.is_fragment());
        assert_eq!((p.total_len(), p.payload().len(), p.ttl()), (28, 8, 64));
        assert_eq!(
            Ipv4Packet::new_checked(&h[..19]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Ipv4Packet::new_checked(&h[..27]).err(),
            Some(Error::BadTotalLength)
        );
        h[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(Error::BadHeaderLength)
        );
        h[0] = 0x4f;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(Error::BadHeaderLength)
        );
        h[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(Error::BadVersion)
        );
    }

    #[test]
    fn repr_round_trip() {
        let h = header();
        let repr = Ipv4Packet::new_checked(&h[..]).unwrap().repr();
        let mut again = [0u8; 20];
        repr.emit(&mut again);
        assert_eq!(again, h[..20]);
        // A quoted packet cut short still has a header.
        assert!(Ipv4Packet::new_quoted(&h[..20]).is_ok());
        assert!(Ipv4Packet::new_checked(&h[..20]).is_err());
    }
}
