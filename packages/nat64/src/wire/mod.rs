//! Zero-copy views of the headers the translator reads and rewrites, in the manner of
//! smoltcp's `wire` (and of option108-dhcpd's `wire.rs`): each header has a `mod field` of
//! offsets, a view `Xxx<T: AsRef<[u8]>>` whose `new_checked` validates every length an
//! accessor relies on (after which accessors cannot panic), setters on `T: AsMut<[u8]>`
//! limited to what in-place translation rewrites, and a `XxxRepr` with `emit` for the
//! headers the translator writes whole.
//!
//! The small accessors are `#[inline(always)]`: at the release profile's opt-level "z" LLVM
//! leaves them as calls, which cost the per-packet path 8% more instructions than the byte
//! reads they replace (callgrind, a UDP flow both ways); inlined, it takes 1% fewer than
//! before, and the binary is no larger.

#![forbid(unsafe_code)]

pub mod ipv4;
pub mod ipv6;
pub mod transport;

pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Fragment, FragmentHeader, Ipv6Packet, Ipv6Repr, QuotedIpv6, UpperLayer};
pub use transport::{IcmpPacket, IcmpRepr, TcpRepr, TransportPacket};

pub const PROTO_HOPOPTS: u8 = 0;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ROUTING: u8 = 43;
pub const PROTO_FRAGMENT: u8 = 44;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_DSTOPTS: u8 = 60;
pub const PROTO_NONE: u8 = 59;

pub const IPV4_HEADER: usize = 20;
pub const IPV6_HEADER: usize = 40;
pub const FRAGMENT_HEADER: usize = 8;

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    Truncated,
    BadVersion,
    BadHeaderLength,
    BadTotalLength,
    BadChecksum,
    /// An extension header chain we do not follow (routing header with segments left, ...).
    BadExtension,
    /// A transport protocol the view does not describe.
    BadProtocol,
}

pub type Result<T> = core::result::Result<T, Error>;

impl std::fmt::Display for Error {
    #[inline(always)]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated header",
            Error::BadVersion => "wrong IP version",
            Error::BadHeaderLength => "bad header length",
            Error::BadTotalLength => "bad total length",
            Error::BadChecksum => "bad checksum",
            Error::BadExtension => "unsupported extension header",
            Error::BadProtocol => "unsupported protocol",
        })
    }
}

/// A big-endian `u16` from the two bytes of a field.
#[inline(always)]
fn be16(field: &[u8]) -> u16 {
    u16::from_be_bytes([field[0], field[1]])
}

#[inline(always)]
fn be32(field: &[u8]) -> u32 {
    u32::from_be_bytes([field[0], field[1], field[2], field[3]])
}
