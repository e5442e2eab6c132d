//! What the tests share: the addresses of the test networks, the translator configuration
//! around them, and a UDP packet from the IPv6 side. The crate's own tests see this module
//! through `cfg(test)`, the ones in `tests/` through the `testing` feature (which the
//! crate's dev-dependency on itself turns on); the release binary has none of it.

use crate::checksum::{self, add};
use crate::rfc6052::Prefix;
use crate::state::{PoolRange, StateConfig, Timeouts};
use crate::translate::Config;
use crate::wire::{Ipv6Repr, IPV6_HEADER, PROTO_UDP};

/// The IPv6 host: 2001:db8:1::2.
pub const HOST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// The pool address: 198.51.100.1.
pub const POOL: [u8; 4] = [198, 51, 100, 1];
/// The IPv4 server: 192.0.2.2.
pub const SERVER: [u8; 4] = [192, 0, 2, 2];

/// The network-specific prefix of the tests, 2001:db8:64::/96.
pub fn prefix() -> Prefix {
    Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap()
}

/// The state of one pool address, [`POOL`], with all ports from 1024 up, no static
/// bindings, the default timeouts, and room for `max_sessions` sessions (no limit per host).
pub fn state_config(max_sessions: u32) -> StateConfig {
    StateConfig {
        pool: vec![PoolRange {
            addr: POOL,
            prefix_len: 32,
            ports: (1024, 65535),
        }],
        statics: vec![],
        timeouts: Timeouts::default(),
        max_sessions,
        max_sessions_per_host: 0,
    }
}

/// A translator for [`prefix`] with [`state_config`], global IPv4 destinations only, a TUN
/// MTU of 1500 and IPv6 fragments of at most 1280 bytes.
pub fn config(max_sessions: u32) -> Config {
    Config {
        prefix: prefix(),
        allow_non_global: false,
        state: state_config(max_sessions),
        mtu: 1500,
        lowest_ipv6_mtu: 1280,
        zeroize_traffic_class: false,
        source_icmpv6_errors_better: true,
    }
}

/// Writes `value` big-endian at `at`.
pub fn set_u16(b: &mut [u8], at: usize, value: u16) {
    b[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// A UDP datagram from `src:sport` to `dst:dport` in an IPv6 packet (traffic class 0, hop
/// limit 64) with its checksum (a zero sum goes out as 0xffff: zero means "no checksum",
/// which IPv6 forbids).
pub fn udp6(src: &[u8; 16], dst: &[u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; 8];
    set_u16(&mut l4, 0, sport);
    set_u16(&mut l4, 2, dport);
    set_u16(&mut l4, 4, (8 + payload.len()) as u16);
    l4.extend_from_slice(payload);
    let sum =
        checksum::finish(checksum::pseudo_v6(src, dst, PROTO_UDP, l4.len() as u32) + add(0, &l4));
    set_u16(&mut l4, 6, if sum == 0 { 0xffff } else { sum });
    let mut packet = vec![0u8; IPV6_HEADER];
    Ipv6Repr {
        traffic_class: 0,
        payload_len: l4.len() as u16,
        next_header: PROTO_UDP,
        hop_limit: 64,
        src: *src,
        dst: *dst,
    }
    .emit(&mut packet);
    packet.extend_from_slice(&l4);
    packet
}
