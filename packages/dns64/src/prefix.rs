//! RFC 6052 address synthesis: IPv4 addresses embedded in an IPv6 prefix of length 32, 40, 48,
//! 56, 64 or 96, skipping the "u" octet (bits 64-71, always zero), and the reverse (for PTR).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::Name;

/// The Well-Known Prefix 64:ff9b::/96.
pub const WELL_KNOWN: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Prefix {
    /// A NAT64 prefix: `len` one of 32, 40, 48, 56, 64, 96; the u-octet (byte 8) of a /96 must
    /// be zero (RFC 6052 §2.2); bits after `len` are cleared.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Prefix, String> {
        if ![32, 40, 48, 56, 64, 96].contains(&len) {
            return Err(format!(
                "prefix length /{len} is not one of 32, 40, 48, 56, 64, 96 (RFC 6052)"
            ));
        }
        let mut bytes = addr.octets();
        for b in bytes.iter_mut().skip(len as usize / 8) {
            *b = 0;
        }
        if addr.octets()[8] != 0 {
            return Err("bits 64 to 71 of a NAT64 prefix must be zero (RFC 6052 u-octet)".into());
        }
        Ok(Prefix {
            addr: Ipv6Addr::from(bytes),
            len,
        })
    }
    pub fn well_known() -> Prefix {
        Prefix {
            addr: WELL_KNOWN,
            len: 96,
        }
    }
    pub fn prefix_len(&self) -> u8 {
        self.len
    }
    pub fn is_well_known(&self) -> bool {
        *self == Prefix::well_known()
    }

    /// The byte positions of the four IPv4 octets in the IPv6 address (RFC 6052 §2.2 figure 1).
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

    pub fn synthesize(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut bytes = self.addr.octets();
        for (pos, octet) in self.positions().into_iter().zip(v4.octets()) {
            bytes[pos] = octet;
        }
        Ipv6Addr::from(bytes)
    }

    /// The IPv4 address embedded in `v6`, if `v6` lies in this prefix with a zero u-octet and
    /// a zero suffix.
    pub fn extract(&self, v6: Ipv6Addr) -> Option<Ipv4Addr> {
        let bytes = v6.octets();
        let n = self.len as usize / 8;
        if bytes[..n] != self.addr.octets()[..n] || bytes[8] != 0 {
            return None;
        }
        let positions = self.positions();
        let mut v4 = [0; 4];
        for (i, &pos) in positions.iter().enumerate() {
            v4[i] = bytes[pos];
        }
        // Everything after the prefix that is not an IPv4 octet or the u-octet: the suffix.
        let suffix_clean = (n..16)
            .filter(|&i| i != 8 && !positions.contains(&i))
            .all(|i| bytes[i] == 0);
        suffix_clean.then(|| Ipv4Addr::from(v4))
    }

    /// The ip6.arpa zone of this prefix (len/4 nibbles), e.g. b.9.f.f.4.6.0.0...ip6.arpa.
    pub fn reverse_zone(&self) -> Name {
        let nibbles = self.len as usize / 4;
        let text: String = nibble_labels(&self.addr.octets())[32 - nibbles..].concat();
        Name::from_text(&(text + "ip6.arpa")).expect("a reverse zone is a valid name")
    }
}

fn nibble_labels(bytes: &[u8; 16]) -> Vec<String> {
    let mut labels = Vec::with_capacity(32);
    for b in bytes.iter().rev() {
        labels.push(format!("{:x}.", b & 0xF));
        labels.push(format!("{:x}.", b >> 4));
    }
    labels
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An IPv6 range (for the AAAA exclusion list, RFC 6147 §5.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range6 {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Range6 {
    /// ::ffff:0:0/96, the IPv4-mapped addresses, excluded by default (RFC 6147 §5.1.4).
    pub fn mapped() -> Range6 {
        Range6 {
            addr: Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
            len: 96,
        }
    }
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        let mask = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - self.len.min(128) as u32)
        };
        u128::from(a) & mask == u128::from(self.addr) & mask
    }
}

/// The IPv6 address a full 32-nibble ip6.arpa name stands for.
pub fn parse_ip6_arpa(name: &Name) -> Option<Ipv6Addr> {
    let mut labels = name.labels();
    let mut value: u128 = 0;
    for i in 0..32 {
        let label = labels.next()?;
        let [c] = label else { return None };
        let nibble = (*c as char).to_digit(16)? as u128;
        value |= nibble << (4 * i);
    }
    let arpa = [labels.next()?, labels.next()?];
    if labels.next().is_some()
        || !arpa[0].eq_ignore_ascii_case(b"ip6")
        || !arpa[1].eq_ignore_ascii_case(b"arpa")
    {
        return None;
    }
    Some(Ipv6Addr::from(value))
}

/// d.c.b.a.in-addr.arpa for a.b.c.d.
pub fn in_addr_arpa(v4: Ipv4Addr) -> Name {
    let [a, b, c, d] = v4.octets();
    Name::from_text(&format!("{d}.{c}.{b}.{a}.in-addr.arpa")).expect("valid name")
}

/// IPv4 addresses the Well-Known Prefix must not carry (RFC 6052 §3.1): private, loopback,
/// link-local, unspecified. Network-specific prefixes may carry anything.
pub fn non_global_v4(v4: Ipv4Addr) -> bool {
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.octets()[0] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, len: u8) -> Prefix {
        Prefix::new(s.parse().unwrap(), len).unwrap()
    }

    // RFC 6052 §2.4 examples: 192.0.2.33 in 2001:db8::/n.
    #[test]
    fn rfc6052_examples() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        for (len, expected) in [
            (32, "2001:db8:c000:221::"),
            (40, "2001:db8:1c0:2:21::"),
            (48, "2001:db8:122:c000:2:2100::"),
            (56, "2001:db8:122:3c0:0:221::"),
            (64, "2001:db8:122:344:c0:2:2100:0"),
            (96, "2001:db8:122:344::192.0.2.33"),
        ] {
            let base = if len == 32 {
                "2001:db8::"
            } else if len == 40 {
                "2001:db8:100::"
            } else if len == 48 {
                "2001:db8:122::"
            } else if len == 56 {
                "2001:db8:122:300::"
            } else {
                "2001:db8:122:344::"
            };
            let prefix = p(base, len);
            let v6: Ipv6Addr = expected.parse().unwrap();
            assert_eq!(prefix.synthesize(v4), v6, "/{len}");
            assert_eq!(prefix.extract(v6), Some(v4), "/{len}");
        }
        assert_eq!(
            Prefix::well_known().synthesize(v4),
            "64:ff9b::c000:221".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn u_octet_and_lengths_are_checked() {
        assert!(Prefix::new("2001:db8::".parse().unwrap(), 33).is_err());
        assert!(Prefix::new("2001:db8:0:0:ff00::".parse().unwrap(), 96).is_err());
        let prefix = p("2001:db8::", 64);
        assert_eq!(
            prefix.extract("2001:db8::ff00:0:0:0".parse().unwrap()),
            None,
            "u-octet set"
        );
        assert_eq!(
            prefix.extract("2001:db8::1".parse().unwrap()),
            None,
            "suffix set"
        );
        assert_eq!(
            prefix.extract("2001:db9::".parse().unwrap()),
            None,
            "other prefix"
        );
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            Prefix::well_known().reverse_zone().to_string(),
            "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa."
        );
        let name = Name::from_text(
            "1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.IP6.ARPA",
        )
        .unwrap();
        let v6 = parse_ip6_arpa(&name).unwrap();
        assert_eq!(v6, "64:ff9b::c000:221".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            in_addr_arpa(Ipv4Addr::new(192, 0, 2, 33)).to_string(),
            "33.2.0.192.in-addr.arpa."
        );
        assert!(parse_ip6_arpa(&Name::from_text("1.ip6.arpa").unwrap()).is_none());
    }

    #[test]
    fn exclusion_ranges() {
        assert!(Range6::mapped().contains("::ffff:1.2.3.4".parse().unwrap()));
        assert!(!Range6::mapped().contains("2001:db8::1".parse().unwrap()));
        assert!(Range6 {
            addr: Ipv6Addr::UNSPECIFIED,
            len: 0
        }
        .contains("2001:db8::1".parse().unwrap()));
    }
}
