//! The AAAA exclusion list (RFC 6147 §5.1.4): AAAA records in these ranges count as absent,
//! so the name gets synthesized records instead.

use std::net::Ipv6Addr;

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

#[cfg(test)]
mod tests {
    use super::*;

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
