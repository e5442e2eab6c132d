//! RFC 6052 IPv4-embedded IPv6 addresses: the one place for NAT64 prefixes, shared by dns64
//! (which synthesizes AAAA records) and nat64 (which translates to them), so the two always
//! agree on which IPv4 addresses a prefix carries.
//!
//! - [`Prefix`]: the Well-Known Prefix 64:ff9b::/96 or a network-specific prefix of length 32,
//!   40, 48, 56, 64 or 96, with the "u" octet (bits 64..71) zero (§2.2) and no bits set after
//!   its length.
//! - [`Prefix::embed`] and [`Prefix::extract`]: the address format of §2.2, figure 1.
//! - [`Prefix::check_v4`]: whether a prefix may carry an IPv4 address; the Well-Known Prefix
//!   never carries the non-global ones (§3.1, [`is_non_global`]).
//! - Reverse names: the ip6.arpa name of an embedded address and the in-addr.arpa name of the
//!   IPv4 address inside it (RFC 6147 §5.3.1), on fixed buffers.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The Well-Known Prefix 64:ff9b::/96 (§2.1).
pub const WELL_KNOWN: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

/// The prefix lengths §2.2 defines.
pub const LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// Byte 8 of the address (bits 64..71): the "u" octet, always zero (§2.2).
const U_OCTET: usize = 8;

/// A NAT64 prefix. Only [`Prefix::new`] and [`Prefix::well_known`] make one, so every value
/// is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    octets: [u8; 16],
    len: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixError {
    /// Not one of [`LENGTHS`].
    Length(u8),
    /// Bits are set after the prefix length.
    HostBits,
    /// Bits 64..71 of a /96 are set.
    UOctet,
    /// Not `ADDRESS/LENGTH` (only from [`Prefix::from_str`]).
    Syntax,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrefixError::Length(len) => write!(
                f,
                "prefix length /{len} is not one of 32, 40, 48, 56, 64, 96 (RFC 6052)"
            ),
            PrefixError::HostBits => f.write_str("prefix has bits set beyond its length"),
            PrefixError::UOctet => {
                f.write_str("bits 64-71 (the u octet) of the prefix must be zero (RFC 6052)")
            }
            PrefixError::Syntax => f.write_str("an IPv6 prefix ADDRESS/LENGTH"),
        }
    }
}

impl std::error::Error for PrefixError {}

/// Why a prefix may not carry an IPv4 address ([`Prefix::check_v4`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No NAT64 peer can have it: "this network" 0/8, loopback 127/8, multicast 224/4,
    /// reserved 240/4 and the limited broadcast address. Refused with every prefix.
    NotUnicastPeer,
    /// Non-global ([`is_non_global`]) with the Well-Known Prefix (§3.1).
    NonGlobal,
}

impl Prefix {
    /// A prefix of one of [`LENGTHS`], nothing set after its length, the u octet zero.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Prefix, PrefixError> {
        if !LENGTHS.contains(&len) {
            return Err(PrefixError::Length(len));
        }
        let octets = addr.octets();
        if octets[len as usize / 8..].iter().any(|&b| b != 0) {
            return Err(PrefixError::HostBits);
        }
        // Only a /96 reaches the u octet; shorter prefixes failed as HostBits above.
        if octets[U_OCTET] != 0 {
            return Err(PrefixError::UOctet);
        }
        Ok(Prefix { octets, len })
    }

    pub const fn well_known() -> Prefix {
        Prefix {
            octets: WELL_KNOWN.octets(),
            len: 96,
        }
    }

    pub fn is_well_known(&self) -> bool {
        *self == Prefix::well_known()
    }

    pub fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.octets)
    }

    #[allow(clippy::len_without_is_empty)] // a prefix length, not a collection
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether `v6` starts with this prefix.
    pub fn contains(&self, v6: Ipv6Addr) -> bool {
        let whole = self.len as usize / 8;
        v6.octets()[..whole] == self.octets[..whole]
    }

    /// Where the four IPv4 octets go: right after the prefix, skipping the u octet (§2.2).
    fn positions(&self) -> [usize; 4] {
        match self.len {
            32 => [4, 5, 6, 7],
            40 => [5, 6, 7, 9],
            48 => [6, 7, 9, 10],
            56 => [7, 9, 10, 11],
            64 => [9, 10, 11, 12],
            _ => [12, 13, 14, 15],
        }
    }

    /// The IPv4-embedded IPv6 address of `v4`, u octet and suffix zero.
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut out = self.octets;
        for (pos, octet) in self.positions().into_iter().zip(v4.octets()) {
            out[pos] = octet;
        }
        Ipv6Addr::from(out)
    }

    /// The IPv4 address inside `v6`, if `v6` is under this prefix. The u octet and the
    /// suffix are not looked at: §2.2 asks translators to ignore the suffix's value.
    pub fn extract(&self, v6: Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.contains(v6) {
            return None;
        }
        let octets = v6.octets();
        Some(Ipv4Addr::from(self.positions().map(|pos| octets[pos])))
    }

    /// The IPv4 address inside `v6` if `v6` is exactly what [`Prefix::embed`] makes of it
    /// (u octet and suffix zero): for names, where one address must have one name.
    pub fn extract_exact(&self, v6: Ipv6Addr) -> Option<Ipv4Addr> {
        self.extract(v6).filter(|&v4| self.embed(v4) == v6)
    }

    /// Whether this prefix may carry `v4`: the one rule for what dns64 synthesizes and nat64
    /// translates. `allow_non_global` lifts §3.1's rule for the Well-Known Prefix (a lab
    /// whose "Internet" uses documentation or private addresses).
    pub fn check_v4(&self, v4: Ipv4Addr, allow_non_global: bool) -> Result<(), Refusal> {
        if is_not_unicast_peer(v4) {
            return Err(Refusal::NotUnicastPeer);
        }
        if self.is_well_known() && !allow_non_global && is_non_global(v4) {
            return Err(Refusal::NonGlobal);
        }
        Ok(())
    }

    /// The ip6.arpa zone of this prefix: its len/4 nibbles, e.g.
    /// `0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.` for the Well-Known Prefix.
    pub fn reverse_zone(&self) -> ArpaName {
        let mut name = ip6_arpa(self.addr());
        // Drop the nibbles after the prefix: two bytes ("x.") each, from the front.
        let skip = 2 * (32 - self.len as usize / 4);
        name.buf.copy_within(skip..name.len as usize, 0);
        name.len -= skip as u8;
        name
    }

    /// The IPv4 address a PTR query name stands for: a full 32-nibble ip6.arpa name (labels
    /// in wire order, any case) of an address under this prefix, u octet and suffix zero.
    pub fn ptr_v4<'a>(&self, labels: impl IntoIterator<Item = &'a [u8]>) -> Option<Ipv4Addr> {
        self.extract_exact(parse_ip6_arpa(labels)?)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    /// `ADDRESS/LENGTH`, e.g. `64:ff9b::/96`.
    fn from_str(text: &str) -> Result<Prefix, PrefixError> {
        let (addr, len) = text.split_once('/').ok_or(PrefixError::Syntax)?;
        let addr = addr.parse().map_err(|_| PrefixError::Syntax)?;
        let len = len.parse().map_err(|_| PrefixError::Syntax)?;
        Prefix::new(addr, len)
    }
}

/// IPv4 addresses that are not global (§3.1: "such as those defined in RFC 1918 or listed in
/// Section 3 of RFC 5735"), from the IANA IPv4 Special-Purpose Address Registry (RFC 6890)
/// entries marked "Global: False", as (network, length).
const NON_GLOBAL: [(u32, u8); 15] = [
    (0x0000_0000, 8),  // 0/8 "this network" (RFC 791)
    (0x0a00_0000, 8),  // 10/8 private use (RFC 1918)
    (0x6440_0000, 10), // 100.64/10 shared address space, CGNAT (RFC 6598)
    (0x7f00_0000, 8),  // 127/8 loopback
    (0xa9fe_0000, 16), // 169.254/16 link local (RFC 3927)
    (0xac10_0000, 12), // 172.16/12 private use
    (0xc000_0000, 24), // 192.0.0/24 IETF protocol assignments (two exceptions below)
    (0xc000_0200, 24), // 192.0.2/24 TEST-NET-1 (RFC 5737)
    (0xc058_6300, 24), // 192.88.99/24 6to4 relay anycast, deprecated (RFC 7526)
    (0xc0a8_0000, 16), // 192.168/16 private use
    (0xc612_0000, 15), // 198.18/15 benchmarking (RFC 2544)
    (0xc633_6400, 24), // 198.51.100/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113/24 TEST-NET-3
    (0xe000_0000, 4),  // 224/4 multicast: no unicast peer either
    (0xf000_0000, 4),  // 240/4 reserved, with 255.255.255.255 limited broadcast
];

/// Inside 192.0.0/24 but marked "Global: True" by the registry.
const GLOBAL_EXCEPTIONS: [u32; 2] = [
    0xc000_0009, // 192.0.0.9 PCP anycast (RFC 7723)
    0xc000_000a, // 192.0.0.10 TURN anycast (RFC 8155)
];

/// Whether `v4` is non-global: the Well-Known Prefix must not carry it (§3.1).
pub fn is_non_global(v4: Ipv4Addr) -> bool {
    let a = u32::from(v4);
    !GLOBAL_EXCEPTIONS.contains(&a)
        && NON_GLOBAL
            .iter()
            .any(|&(net, len)| a >> (32 - len) == net >> (32 - len))
}

/// Addresses no NAT64 translates to or from, whatever the prefix: they cannot be a peer.
pub fn is_not_unicast_peer(v4: Ipv4Addr) -> bool {
    let first = v4.octets()[0];
    first == 0 || first == 127 || first >= 224
}

/// A reverse-mapping name in text, with the trailing dot, on a fixed buffer (no allocation).
#[derive(Clone, Copy)]
pub struct ArpaName {
    /// The longest: 32 nibbles "x." (64 bytes) and "ip6.arpa." (9).
    buf: [u8; 73],
    len: u8,
}

impl ArpaName {
    fn new() -> ArpaName {
        ArpaName {
            buf: [0; 73],
            len: 0,
        }
    }
    fn push(&mut self, text: &[u8]) {
        let at = self.len as usize;
        self.buf[at..at + text.len()].copy_from_slice(text);
        self.len += text.len() as u8;
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len as usize]).expect("built from ASCII")
    }
}

impl fmt::Display for ArpaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ArpaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// The ip6.arpa name of `v6`: 32 nibbles, least significant first (RFC 3596 §2.5).
pub fn ip6_arpa(v6: Ipv6Addr) -> ArpaName {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut name = ArpaName::new();
    for byte in v6.octets().iter().rev() {
        name.push(&[
            HEX[(byte & 0xf) as usize],
            b'.',
            HEX[(byte >> 4) as usize],
            b'.',
        ]);
    }
    name.push(b"ip6.arpa.");
    name
}

/// The in-addr.arpa name of `v4`: d.c.b.a.in-addr.arpa. for a.b.c.d.
pub fn in_addr_arpa(v4: Ipv4Addr) -> ArpaName {
    let mut name = ArpaName::new();
    for octet in v4.octets().iter().rev() {
        let digits = [
            b'0' + octet / 100,
            b'0' + octet / 10 % 10,
            b'0' + octet % 10,
        ];
        let first = match octet {
            100.. => 0,
            10..=99 => 1,
            _ => 2,
        };
        name.push(&digits[first..]);
        name.push(b".");
    }
    name.push(b"in-addr.arpa.");
    name
}

/// The IPv6 address of a full ip6.arpa name: exactly 32 one-hex-digit labels, then `ip6`
/// and `arpa` (any case). Labels in wire order, without the root.
pub fn parse_ip6_arpa<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> Option<Ipv6Addr> {
    let mut labels = labels.into_iter();
    let mut value: u128 = 0;
    for shift in (0..128).step_by(4) {
        let &[digit] = labels.next()? else {
            return None;
        };
        value |= u128::from((digit as char).to_digit(16)?) << shift;
    }
    arpa_tail(labels, b"ip6").then_some(Ipv6Addr::from(value))
}

/// The IPv4 address of a full in-addr.arpa name: four decimal labels (0..=255, no leading
/// zeros), then `in-addr` and `arpa` (any case).
pub fn parse_in_addr_arpa<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> Option<Ipv4Addr> {
    let mut labels = labels.into_iter();
    let mut octets = [0u8; 4];
    for octet in octets.iter_mut().rev() {
        let label = labels.next()?;
        if label.is_empty() || label.len() > 3 || (label.len() > 1 && label[0] == b'0') {
            return None;
        }
        let text = std::str::from_utf8(label).ok()?;
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = text.parse().ok()?;
    }
    arpa_tail(labels, b"in-addr").then_some(Ipv4Addr::from(octets))
}

/// Whether the remaining labels are exactly `first` and `arpa`.
fn arpa_tail<'a>(mut labels: impl Iterator<Item = &'a [u8]>, first: &[u8]) -> bool {
    labels.next().is_some_and(|l| l.eq_ignore_ascii_case(first))
        && labels
            .next()
            .is_some_and(|l| l.eq_ignore_ascii_case(b"arpa"))
        && labels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    fn labels(name: &str) -> impl Iterator<Item = &[u8]> {
        name.trim_end_matches('.').split('.').map(str::as_bytes)
    }

    /// RFC 6052 §2.4's table, typed in from the RFC as bytes (not through our writer or
    /// Ipv6Addr's parser): 192.0.2.33 under each prefix length.
    const RFC6052_TABLE: [(&str, u8, [u8; 16]); 7] = [
        (
            "2001:db8::",
            32,
            [
                0x20, 0x01, 0x0d, 0xb8, 0xc0, 0x00, 0x02, 0x21, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "2001:db8:100::",
            40,
            [
                0x20, 0x01, 0x0d, 0xb8, 0x01, 0xc0, 0x00, 0x02, 0x00, 0x21, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "2001:db8:122::",
            48,
            [
                0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0xc0, 0x00, 0x00, 0x02, 0x21, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "2001:db8:122:300::",
            56,
            [
                0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0xc0, 0x00, 0x00, 0x02, 0x21, 0, 0, 0, 0,
            ],
        ),
        (
            "2001:db8:122:344::",
            64,
            [
                0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44, 0x00, 0xc0, 0x00, 0x02, 0x21, 0, 0,
                0,
            ],
        ),
        (
            "2001:db8:122:344::",
            96,
            [
                0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0x44, 0, 0, 0, 0, 0xc0, 0x00, 0x02, 0x21,
            ],
        ),
        (
            "64:ff9b::",
            96,
            [
                0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0x00, 0x02, 0x21,
            ],
        ),
    ];

    #[test]
    fn rfc6052_table() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        for (addr, len, bytes) in RFC6052_TABLE {
            let prefix: Prefix = format!("{addr}/{len}").parse().unwrap();
            assert_eq!(prefix.embed(v4).octets(), bytes, "{prefix}");
            assert_eq!(prefix.extract(Ipv6Addr::from(bytes)), Some(v4), "{prefix}");
            assert_eq!(
                prefix.extract_exact(Ipv6Addr::from(bytes)),
                Some(v4),
                "{prefix}"
            );
        }
        // The table's text forms, as the RFC prints them.
        for (prefix, text) in [
            ("2001:db8::/32", "2001:db8:c000:221::"),
            ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
            ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
            ("64:ff9b::/96", "64:ff9b::192.0.2.33"),
        ] {
            let prefix: Prefix = prefix.parse().unwrap();
            assert_eq!(prefix.embed(Ipv4Addr::new(192, 0, 2, 33)), v6(text));
        }
    }

    #[test]
    fn invalid_prefixes() {
        for (text, error) in [
            ("2001:db8::/33", PrefixError::Length(33)),
            ("2001:db8::/128", PrefixError::Length(128)),
            ("2001:db8::1/96", PrefixError::HostBits),
            ("2001:db8:1::/32", PrefixError::HostBits),
            ("2001:db8:0:0:ff00::/64", PrefixError::HostBits),
            ("2001:db8:0:0:100::/96", PrefixError::UOctet),
            ("2001:db8::", PrefixError::Syntax),
            ("2001:db8::/x", PrefixError::Syntax),
            ("192.0.2.0/96", PrefixError::Syntax),
        ] {
            assert_eq!(text.parse::<Prefix>(), Err(error), "{text}");
        }
        assert!("64:ff9b::/96".parse::<Prefix>().unwrap().is_well_known());
        assert!(!"64:ff9b::/64".parse::<Prefix>().unwrap().is_well_known());
        assert_eq!(Prefix::well_known().to_string(), "64:ff9b::/96");
    }

    #[test]
    fn extraction() {
        let prefix: Prefix = "2001:db8::/64".parse().unwrap();
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        let embedded = prefix.embed(v4);
        assert_eq!(embedded, v6("2001:db8::c0:2:2100:0"));
        // A translator ignores the u octet and the suffix; a name needs the exact form.
        for odd in [v6("2001:db8::ffc0:2:2100:0"), v6("2001:db8::c0:2:2100:1")] {
            assert_eq!(prefix.extract(odd), Some(v4));
            assert_eq!(prefix.extract_exact(odd), None);
        }
        assert_eq!(prefix.extract(v6("2001:db9::c0:2:2100:0")), None);
        assert!(!prefix.contains(v6("2001:db9::")));
        assert!(prefix.contains(embedded));
    }

    #[test]
    fn non_global_ranges() {
        let global = [
            [8, 8, 8, 8],
            [1, 1, 1, 1],
            [9, 255, 255, 255],
            [11, 0, 0, 0],
            [100, 63, 255, 255],
            [100, 128, 0, 0],
            [126, 255, 255, 255],
            [128, 0, 0, 0],
            [169, 253, 255, 255],
            [169, 255, 0, 0],
            [172, 15, 255, 255],
            [172, 32, 0, 0],
            [192, 0, 0, 9],
            [192, 0, 0, 10],
            [192, 0, 1, 0],
            [192, 0, 3, 0],
            [192, 31, 196, 1],
            [192, 88, 98, 255],
            [192, 88, 100, 0],
            [192, 167, 255, 255],
            [192, 169, 0, 0],
            [198, 17, 255, 255],
            [198, 20, 0, 0],
            [198, 51, 99, 255],
            [198, 51, 101, 0],
            [203, 0, 112, 255],
            [203, 0, 114, 0],
            [223, 255, 255, 255],
        ];
        let non_global = [
            [0, 0, 0, 0],
            [0, 255, 255, 255],
            [10, 0, 0, 0],
            [10, 255, 255, 255],
            [100, 64, 0, 0],
            [100, 127, 255, 255],
            [127, 0, 0, 1],
            [169, 254, 0, 0],
            [169, 254, 255, 255],
            [172, 16, 0, 0],
            [172, 31, 255, 255],
            [192, 0, 0, 0],
            [192, 0, 0, 8],
            [192, 0, 0, 11],
            [192, 0, 0, 170],
            [192, 0, 0, 255],
            [192, 0, 2, 33],
            [192, 88, 99, 1],
            [192, 168, 0, 1],
            [198, 18, 0, 0],
            [198, 19, 255, 255],
            [198, 51, 100, 7],
            [203, 0, 113, 9],
            [224, 0, 0, 1],
            [239, 255, 255, 255],
            [240, 0, 0, 0],
            [255, 255, 255, 255],
        ];
        for a in global {
            assert!(!is_non_global(Ipv4Addr::from(a)), "{a:?} is global");
        }
        for a in non_global {
            assert!(is_non_global(Ipv4Addr::from(a)), "{a:?} is not global");
        }
    }

    #[test]
    fn what_a_prefix_carries() {
        let wkp = Prefix::well_known();
        let nsp: Prefix = "2001:db8:64::/96".parse().unwrap();
        let cgnat = Ipv4Addr::new(100, 64, 0, 1);
        assert_eq!(wkp.check_v4(cgnat, false), Err(Refusal::NonGlobal));
        assert_eq!(wkp.check_v4(cgnat, true), Ok(()));
        assert_eq!(nsp.check_v4(cgnat, false), Ok(()));
        assert_eq!(wkp.check_v4(Ipv4Addr::new(8, 8, 8, 8), false), Ok(()));
        for bad in [
            [0, 1, 2, 3],
            [127, 0, 0, 1],
            [224, 0, 0, 1],
            [255, 255, 255, 255],
        ] {
            for prefix in [wkp, nsp] {
                for allow in [false, true] {
                    assert_eq!(
                        prefix.check_v4(Ipv4Addr::from(bad), allow),
                        Err(Refusal::NotUnicastPeer)
                    );
                }
            }
        }
    }

    #[test]
    fn reverse_zones_of_every_length() {
        for (prefix, zone) in [
            ("2001:db8::/32", "8.b.d.0.1.0.0.2.ip6.arpa."),
            ("2001:db8:100::/40", "1.0.8.b.d.0.1.0.0.2.ip6.arpa."),
            ("2001:db8:122::/48", "2.2.1.0.8.b.d.0.1.0.0.2.ip6.arpa."),
            (
                "2001:db8:122:300::/56",
                "3.0.2.2.1.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            ),
            (
                "2001:db8:122:344::/64",
                "4.4.3.0.2.2.1.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            ),
            (
                "64:ff9b::/96",
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.",
            ),
        ] {
            let prefix: Prefix = prefix.parse().unwrap();
            assert_eq!(prefix.reverse_zone().as_str(), zone);
        }
    }

    #[test]
    fn ptr_names() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        assert_eq!(in_addr_arpa(v4).as_str(), "33.2.0.192.in-addr.arpa.");
        assert_eq!(
            in_addr_arpa(Ipv4Addr::new(0, 10, 100, 255)).as_str(),
            "255.100.10.0.in-addr.arpa."
        );
        assert_eq!(
            ip6_arpa(v6("64:ff9b::c000:221")).as_str(),
            "1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa."
        );
        let wkp = Prefix::well_known();
        let upper = "1.2.2.0.0.0.0.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.B.9.F.F.4.6.0.0.IP6.ARPA";
        assert_eq!(wkp.ptr_v4(labels(upper)), Some(v4));
        assert_eq!(
            parse_in_addr_arpa(labels("33.2.0.192.IN-ADDR.ARPA.")),
            Some(v4)
        );
        // Round trips under every length, through the text names.
        for (addr, len, _) in RFC6052_TABLE {
            let prefix: Prefix = format!("{addr}/{len}").parse().unwrap();
            let name = ip6_arpa(prefix.embed(v4));
            assert_eq!(prefix.ptr_v4(labels(name.as_str())), Some(v4), "{prefix}");
            assert!(name.as_str().ends_with(prefix.reverse_zone().as_str()));
            let back = parse_in_addr_arpa(labels(in_addr_arpa(v4).as_str())).unwrap();
            assert_eq!(ip6_arpa(prefix.embed(back)).as_str(), name.as_str());
        }
        // Not a full name, outside the prefix, a suffix bit set, junk.
        for bad in [
            "b.9.f.f.4.6.0.0.ip6.arpa",
            "1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.1.ip6.arpa",
            "1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.com",
            "1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.in-addr.arpa",
            "g.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa",
            "12.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa",
        ] {
            assert_eq!(wkp.ptr_v4(labels(bad)), None, "{bad}");
        }
        let nsp: Prefix = "2001:db8::/64".parse().unwrap();
        let suffix_set = ip6_arpa(v6("2001:db8::c0:2:2100:1"));
        assert_eq!(nsp.ptr_v4(labels(suffix_set.as_str())), None);
        for bad in [
            "1.2.3.in-addr.arpa",
            "1.2.3.4.5.in-addr.arpa",
            "256.2.0.192.in-addr.arpa",
            "01.2.0.192.in-addr.arpa",
            "+1.2.0.192.in-addr.arpa",
            "1.2.0.192.ip6.arpa",
        ] {
            assert_eq!(parse_in_addr_arpa(labels(bad)), None, "{bad}");
        }
    }
}
