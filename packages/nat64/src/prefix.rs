//! RFC 6052 IPv4-embedded IPv6 addresses: the well-known prefix 64:ff9b::/96 and
//! network-specific prefixes of length 32, 40, 48, 56, 64 or 96, with the "u" octet
//! (bits 64..71) always zero.

use std::fmt;
use std::net::Ipv6Addr;

/// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
pub const WELL_KNOWN: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    bytes: [u8; 16],
    len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixError {
    Length(u8),
    /// Bits beyond the prefix length are set.
    HostBits,
    /// Bits 64..71 (the "u" octet) must be zero (RFC 6052 §2.2).
    UOctet,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrefixError::Length(l) => write!(
                f,
                "prefix length /{l} is not one of 32, 40, 48, 56, 64, 96 (RFC 6052)"
            ),
            PrefixError::HostBits => f.write_str("prefix has bits set beyond its length"),
            PrefixError::UOctet => {
                f.write_str("bits 64-71 (the u octet) of the prefix must be zero (RFC 6052)")
            }
        }
    }
}

impl Prefix {
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Prefix, PrefixError> {
        if ![32, 40, 48, 56, 64, 96].contains(&len) {
            return Err(PrefixError::Length(len));
        }
        let bytes = addr.octets();
        let whole = len as usize / 8;
        if bytes[whole..].iter().any(|&b| b != 0) {
            return Err(PrefixError::HostBits);
        }
        if bytes[8] != 0 {
            return Err(PrefixError::UOctet);
        }
        Ok(Prefix { bytes, len })
    }

    pub fn well_known() -> Prefix {
        Prefix {
            bytes: WELL_KNOWN.octets(),
            len: 96,
        }
    }

    pub fn is_well_known(&self) -> bool {
        self.len == 96 && self.bytes == WELL_KNOWN.octets()
    }

    #[allow(clippy::len_without_is_empty)] // a prefix length, not a collection
    pub fn len(&self) -> u8 {
        self.len
    }

    pub fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.bytes)
    }

    /// Positions of the four IPv4 octets inside the IPv6 address (octet 8 is skipped).
    fn positions(&self) -> [usize; 4] {
        let mut out = [0; 4];
        let mut pos = self.len as usize / 8;
        for slot in &mut out {
            if pos == 8 {
                pos += 1;
            }
            *slot = pos;
            pos += 1;
        }
        out
    }

    /// The IPv4-embedded IPv6 address of `v4` (suffix bits zero).
    pub fn embed(&self, v4: [u8; 4]) -> [u8; 16] {
        let mut out = self.bytes;
        for (octet, pos) in v4.iter().zip(self.positions()) {
            out[pos] = *octet;
        }
        out
    }

    /// The IPv4 address inside `v6`, if `v6` is under this prefix. Per RFC 6052 §2.2 the u
    /// octet and suffix are ignored on extraction... except we require the prefix to match.
    pub fn extract(&self, v6: &[u8; 16]) -> Option<[u8; 4]> {
        let whole = self.len as usize / 8;
        if v6[..whole] != self.bytes[..whole] {
            return None;
        }
        let p = self.positions();
        Some([v6[p[0]], v6[p[1]], v6[p[2]], v6[p[3]]])
    }

    pub fn contains(&self, v6: &[u8; 16]) -> bool {
        let whole = self.len as usize / 8;
        v6[..whole] == self.bytes[..whole]
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

/// Whether `addr` is globally reachable; RFC 6052 §3.1 forbids translating the others with the
/// well-known prefix. The list follows the IANA IPv4 special-purpose registry.
pub fn is_global_v4(addr: [u8; 4]) -> bool {
    let a = u32::from_be_bytes(addr);
    const NON_GLOBAL: [(u32, u8); 15] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
        (0x0a00_0000, 8),  // 10/8
        (0x6440_0000, 10), // 100.64/10 shared address space
        (0x7f00_0000, 8),  // loopback
        (0xa9fe_0000, 16), // link local
        (0xac10_0000, 12), // 172.16/12
        (0xc000_0000, 24), // 192.0.0/24 IETF protocol assignments
        (0xc000_0200, 24), // TEST-NET-1
        (0xc0a8_0000, 16), // 192.168/16
        (0xc612_0000, 15), // 198.18/15 benchmarking
        (0xc633_6400, 24), // TEST-NET-2
        (0xcb00_7100, 24), // TEST-NET-3
        (0xe000_0000, 4),  // multicast
        (0xf000_0000, 4),  // reserved (and broadcast)
        (0xc058_6300, 24), // 192.88.99/24 deprecated 6to4 relay anycast
    ];
    !NON_GLOBAL
        .iter()
        .any(|&(net, len)| a >> (32 - len) == net >> (32 - len))
}

/// Unicast addresses we never translate to or from: they cannot be a real peer.
pub fn is_bad_v4(addr: [u8; 4]) -> bool {
    addr[0] == 0 || addr[0] == 127 || addr[0] >= 224
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    /// RFC 6052 §2.4 table: 192.0.2.33 under 2001:db8::/32 ... /96.
    #[test]
    fn rfc6052_table() {
        let v4 = [192, 0, 2, 33];
        let cases = [
            ("2001:db8::", 32, "2001:db8:c000:221::"),
            ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
            ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::", 96, "2001:db8:122:344::192.0.2.33"),
            ("64:ff9b::", 96, "64:ff9b::192.0.2.33"),
        ];
        for (prefix, len, expected) in cases {
            let p = Prefix::new(prefix.parse().unwrap(), len).unwrap();
            assert_eq!(p.embed(v4), v6(expected), "{prefix}/{len}");
            assert_eq!(p.extract(&v6(expected)), Some(v4), "{prefix}/{len}");
        }
    }

    #[test]
    fn invalid_prefixes() {
        assert_eq!(
            Prefix::new("2001:db8::".parse().unwrap(), 33),
            Err(PrefixError::Length(33))
        );
        assert_eq!(
            Prefix::new("2001:db8::1".parse().unwrap(), 96),
            Err(PrefixError::HostBits)
        );
        assert_eq!(
            Prefix::new("2001:db8:0:0:100::".parse().unwrap(), 96),
            Err(PrefixError::UOctet)
        );
        assert!(Prefix::new("64:ff9b::".parse().unwrap(), 96)
            .unwrap()
            .is_well_known());
    }

    #[test]
    fn extract_outside_prefix() {
        let p = Prefix::well_known();
        assert_eq!(p.extract(&v6("2001:db8::192.0.2.1")), None);
    }

    #[test]
    fn global_addresses() {
        assert!(is_global_v4([8, 8, 8, 8]));
        assert!(is_global_v4([100, 128, 0, 1]));
        for a in [
            [10, 1, 2, 3],
            [192, 168, 1, 1],
            [172, 31, 0, 1],
            [192, 0, 2, 1],
            [127, 0, 0, 1],
            [169, 254, 1, 1],
            [100, 64, 0, 1],
            [224, 0, 0, 1],
            [255, 255, 255, 255],
        ] {
            assert!(!is_global_v4(a), "{a:?}");
        }
        assert!(is_global_v4([172, 32, 0, 1]));
    }
}
