//! RIPng packets on the wire (RFC 2080 §2.1), in the style of smoltcp's `wire`: a checked
//! zero-copy [`Packet`] view whose entries are read as [`Rte`]s, and a [`Writer`] that emits
//! into the caller's buffer. Nothing here allocates.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------+---------------+-------------------------------+
//! |  command (1)  |  version (1)  |       must be zero (2)        |
//! +---------------+---------------+-------------------------------+
//! |                Route Table Entry 1 (20)                       |
//! ~                         ...                                   ~
//! |                Route Table Entry N (20)                       |
//! +---------------------------------------------------------------+
//!
//! RTE: IPv6 prefix (16) | route tag (2) | prefix len (1) | metric (1)
//! ```
//! A next-hop RTE (§2.1.1) has metric 0xFF, tag and length zero, and the next hop in the
//! prefix field: it applies to the RTEs after it, up to the next next-hop RTE.

#![forbid(unsafe_code)]

use std::net::Ipv6Addr;

/// The RIPng UDP port (RFC 2080 §2.3).
pub const PORT: u16 = 521;
/// All RIP routers (RFC 2080 §2.3).
pub const GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 9);
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 4;
pub const RTE_LEN: usize = 20;
/// Unreachable.
pub const INFINITY: u8 = 16;
/// The metric that marks a next-hop RTE.
pub const NEXT_HOP_METRIC: u8 = 0xff;
/// Sent with and required on receipt (RFC 2080 §2.4.2, BIRD's `ttl security`).
pub const HOP_LIMIT: u8 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Request = 1,
    Response = 2,
}

/// Why a packet was not accepted; the core counts each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the header, or not a whole number of RTEs.
    Truncated,
    BadVersion(u8),
    BadCommand(u8),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated packet (not a header plus whole RTEs)"),
            Error::BadVersion(v) => write!(f, "version {v}, not 1"),
            Error::BadCommand(c) => write!(f, "unknown command {c}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

mod field {
    use std::ops::Range;
    pub const COMMAND: usize = 0;
    pub const VERSION: usize = 1;
    pub const ZERO: Range<usize> = 2..4;
}

/// A checked view of a RIPng packet: the header is there and the body is whole RTEs.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the length, the version and the command. The must-be-zero field is not
    /// checked (RFC 2080 leaves it to future use; BIRD and FRR ignore it too).
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN || (b.len() - HEADER_LEN) % RTE_LEN != 0 {
            return Err(Error::Truncated);
        }
        if b[field::VERSION] != VERSION {
            return Err(Error::BadVersion(b[field::VERSION]));
        }
        match b[field::COMMAND] {
            1 | 2 => Ok(Packet { buffer }),
            c => Err(Error::BadCommand(c)),
        }
    }

    pub fn command(&self) -> Command {
        match self.buffer.as_ref()[field::COMMAND] {
            1 => Command::Request,
            _ => Command::Response,
        }
    }

    pub fn rte_count(&self) -> usize {
        (self.buffer.as_ref().len() - HEADER_LEN) / RTE_LEN
    }

    /// The RTEs in order, next-hop RTEs included.
    pub fn rtes(&self) -> impl Iterator<Item = Rte> + '_ {
        self.buffer.as_ref()[HEADER_LEN..]
            .chunks_exact(RTE_LEN)
            .map(Rte::parse)
    }

    /// RFC 2080 §2.4.1: a request for the whole table is one RTE, prefix ::/0, metric 16.
    pub fn is_whole_table_request(&self) -> bool {
        let mut rtes = self.rtes();
        self.command() == Command::Request
            && self.rte_count() == 1
            && rtes.next().is_some_and(|r| {
                r.prefix == Ipv6Addr::UNSPECIFIED && r.prefix_len == 0 && r.metric == INFINITY
            })
    }
}

/// One route table entry as it is on the wire (the prefix may have host bits set; the core
/// validates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rte {
    pub prefix: Ipv6Addr,
    pub tag: u16,
    pub prefix_len: u8,
    pub metric: u8,
}

impl Rte {
    /// A next-hop RTE for `next_hop` (:: = the sender itself).
    pub fn next_hop(next_hop: Ipv6Addr) -> Rte {
        Rte {
            prefix: next_hop,
            tag: 0,
            prefix_len: 0,
            metric: NEXT_HOP_METRIC,
        }
    }

    /// The one RTE of a whole-table request.
    pub const WHOLE_TABLE: Rte = Rte {
        prefix: Ipv6Addr::UNSPECIFIED,
        tag: 0,
        prefix_len: 0,
        metric: INFINITY,
    };

    #[inline(always)]
    pub fn is_next_hop(&self) -> bool {
        self.metric == NEXT_HOP_METRIC
    }

    /// One RTE. Whole arrays moved by patterns: in a size-optimised build the slice
    /// copies and range indexing of the obvious code stay calls, for every RTE in and out.
    #[inline(always)]
    fn parse(bytes: &[u8]) -> Rte {
        let Some(&[prefix @ .., t0, t1, prefix_len, metric]) = bytes.first_chunk::<RTE_LEN>()
        else {
            unreachable!("chunks_exact gives whole RTEs")
        };
        Rte {
            prefix: Ipv6Addr::from(prefix),
            tag: u16::from_be_bytes([t0, t1]),
            prefix_len,
            metric,
        }
    }

    #[inline(always)]
    fn emit(&self, out: &mut [u8; RTE_LEN]) {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = self.prefix.octets();
        let [t0, t1] = self.tag.to_be_bytes();
        *out = [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
            k,
            l,
            m,
            n,
            o,
            p,
            t0,
            t1,
            self.prefix_len,
            self.metric,
        ];
    }
}

/// Builds one packet in the caller's buffer; the buffer's length bounds the packet (the
/// sender sizes it from the interface MTU).
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// None when `buf` cannot hold the header and one RTE.
    pub fn new(buf: &'a mut [u8], command: Command) -> Option<Writer<'a>> {
        if buf.len() < HEADER_LEN + RTE_LEN {
            return None;
        }
        buf[field::COMMAND] = command as u8;
        buf[field::VERSION] = VERSION;
        buf[field::ZERO].fill(0);
        Some(Writer {
            buf,
            len: HEADER_LEN,
        })
    }

    /// Appends `rte`; false (and nothing written) when the packet is full.
    #[inline(always)]
    pub fn push(&mut self, rte: &Rte) -> bool {
        let Some(out) = self.buf[self.len..].first_chunk_mut::<RTE_LEN>() else {
            return false;
        };
        rte.emit(out);
        self.len += RTE_LEN;
        true
    }

    /// RTEs that still fit.
    #[inline(always)]
    pub fn room(&self) -> usize {
        (self.buf.len() - self.len) / RTE_LEN
    }

    pub fn rte_count(&self) -> usize {
        (self.len - HEADER_LEN) / RTE_LEN
    }

    /// The packet's length.
    pub fn finish(self) -> usize {
        self.len
    }
}

/// RTEs in one packet on a link of `mtu` (RFC 2080 §2.1: IPv6 and UDP headers subtracted).
pub fn rtes_per_packet(mtu: u32) -> usize {
    (mtu.saturating_sub(40 + 8) as usize).saturating_sub(HEADER_LEN) / RTE_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Response as RFC 2080 §2.1 lays it out, written here byte by byte: a next-hop RTE
    /// for fe80::1, then 2001:db8:1::/48 tag 0x1234 metric 2.
    static RESPONSE_BYTES: [u8; 44] = [
        0x02, 0x01, 0x00, 0x00, // response, version 1
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // next hop fe80::1
        0x00, 0x00, 0x00, 0xff, //
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 2001:db8:1::
        0x12, 0x34, 48, 2, // tag, /48, metric 2
    ];

    #[test]
    fn parses_fixture() {
        let p = Packet::new_checked(&RESPONSE_BYTES[..]).unwrap();
        assert_eq!(p.command(), Command::Response);
        let rtes: Vec<Rte> = p.rtes().collect();
        assert_eq!(rtes.len(), 2);
        assert!(rtes[0].is_next_hop());
        assert_eq!(rtes[0].prefix, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            rtes[1],
            Rte {
                prefix: "2001:db8:1::".parse().unwrap(),
                tag: 0x1234,
                prefix_len: 48,
                metric: 2
            }
        );
    }

    #[test]
    fn writer_emits_the_fixture() {
        let mut buf = [0xaa; 60];
        let mut w = Writer::new(&mut buf, Command::Response).unwrap();
        assert!(w.push(&Rte::next_hop("fe80::1".parse().unwrap())));
        assert!(w.push(&Rte {
            prefix: "2001:db8:1::".parse().unwrap(),
            tag: 0x1234,
            prefix_len: 48,
            metric: 2
        }));
        assert_eq!(w.room(), 0);
        assert!(!w.push(&Rte::WHOLE_TABLE));
        let n = w.finish();
        assert_eq!(&buf[..n], &RESPONSE_BYTES[..]);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            Packet::new_checked(&[2u8, 1, 0][..]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Packet::new_checked(&RESPONSE_BYTES[..43]).unwrap_err(),
            Error::Truncated
        );
        let mut b = RESPONSE_BYTES;
        b[1] = 2;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::BadVersion(2)
        );
        b[1] = 1;
        b[0] = 3;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::BadCommand(3)
        );
        // A header alone is a valid (empty) packet.
        assert_eq!(
            Packet::new_checked(&[2u8, 1, 0, 0][..])
                .unwrap()
                .rte_count(),
            0
        );
    }

    #[test]
    fn whole_table_request() {
        let mut buf = [0; 24];
        let mut w = Writer::new(&mut buf, Command::Request).unwrap();
        w.push(&Rte::WHOLE_TABLE);
        let n = w.finish();
        assert!(Packet::new_checked(&buf[..n])
            .unwrap()
            .is_whole_table_request());
        buf[23] = 15;
        assert!(!Packet::new_checked(&buf[..n])
            .unwrap()
            .is_whole_table_request());
    }

    #[test]
    fn packet_size_from_mtu() {
        // 1500 - 48 - 4 = 1448 bytes: 72 RTEs.
        assert_eq!(rtes_per_packet(1500), 72);
        assert_eq!(rtes_per_packet(1280), 61);
        assert_eq!(rtes_per_packet(10), 0);
    }
}
