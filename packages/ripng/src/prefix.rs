//! An IPv6 prefix with its host bits cleared: the key of the route table.

use std::fmt;
use std::net::Ipv6Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Prefix {
    /// ::/0.
    pub const DEFAULT: Prefix = Prefix {
        addr: Ipv6Addr::UNSPECIFIED,
        len: 0,
    };

    /// The prefix of `addr` of `len` bits (host bits cleared); None when `len` > 128.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Prefix> {
        (len <= 128).then(|| Prefix {
            addr: mask(addr, len),
            len,
        })
    }

    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn is_default(&self) -> bool {
        self.len == 0
    }

    /// Whether `other` is this prefix or a more specific one inside it.
    pub fn contains(&self, other: &Prefix) -> bool {
        other.len >= self.len && mask(other.addr, self.len) == self.addr
    }
}

fn mask(addr: Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(addr);
    let kept = match len {
        0 => 0,
        l if l >= 128 => bits,
        l => bits & (u128::MAX << (128 - u32::from(l))),
    };
    Ipv6Addr::from(kept)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl v6only_common::validate::Datatype for Prefix {
    const EXPECTED: &'static str = "IPv6 prefix (address/length, length 0-128)";
    fn parse_value(s: &str) -> Option<Prefix> {
        let c = v6only_common::validate::Cidr6::parse_value(s)?;
        Prefix::new(c.addr, c.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
    }

    #[test]
    fn host_bits_cleared_and_containment() {
        assert_eq!(p("2001:db8:1:2::1/48").to_string(), "2001:db8:1::/48");
        assert_eq!(p("2001:db8::1/128").to_string(), "2001:db8::1/128");
        assert_eq!(p("2001:db8::1/0"), Prefix::DEFAULT);
        assert!(p("2001:db8::/32").contains(&p("2001:db8:5::/48")));
        assert!(p("2001:db8::/32").contains(&p("2001:db8::/32")));
        assert!(!p("2001:db8::/32").contains(&p("2001:db8::/31")));
        assert!(!p("2001:db8::/32").contains(&p("2001:db9::/48")));
        assert!(Prefix::DEFAULT.contains(&p("2001:db8::/32")));
        assert_eq!(Prefix::new(Ipv6Addr::LOCALHOST, 129), None);
    }
}
