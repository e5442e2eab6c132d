//! ICMPv4 <-> ICMPv6 type/code mapping (RFC 7915 §4.2 and §5.2).

#![forbid(unsafe_code)]

/// What an ICMP message becomes on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// An informational message (echo): type changes, identifier is the query id.
    Query { kind: u8 },
    /// An error carrying the start of the packet in error.
    Error { kind: u8, code: u8, extra: Extra },
    /// Not translated (RFC 7915 "silently drop").
    Drop,
}

/// What happens to the 4 bytes after type/code/checksum of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Unused: zero.
    Zero,
    /// Packet Too Big / Fragmentation Needed: MTU adjusted by the caller.
    Mtu,
    /// Parameter Problem pointer, translated by a table.
    Pointer,
    /// Parameter Problem with a fixed pointer (ICMPv4 protocol unreachable -> next header).
    FixedPointer(u32),
}

pub const V4_ECHO_REPLY: u8 = 0;
pub const V4_DEST_UNREACH: u8 = 3;
pub const V4_SOURCE_QUENCH: u8 = 4;
pub const V4_REDIRECT: u8 = 5;
pub const V4_ECHO_REQUEST: u8 = 8;
pub const V4_TIME_EXCEEDED: u8 = 11;
pub const V4_PARAM_PROBLEM: u8 = 12;
pub const V6_DEST_UNREACH: u8 = 1;
pub const V6_PACKET_TOO_BIG: u8 = 2;
pub const V6_TIME_EXCEEDED: u8 = 3;
pub const V6_PARAM_PROBLEM: u8 = 4;
pub const V6_ECHO_REQUEST: u8 = 128;
pub const V6_ECHO_REPLY: u8 = 129;

/// Is this ICMPv4 type an error, which quotes a packet (RFC 792)?
pub fn v4_is_error(kind: u8) -> bool {
    matches!(
        kind,
        V4_DEST_UNREACH | V4_SOURCE_QUENCH | V4_REDIRECT | V4_TIME_EXCEEDED | V4_PARAM_PROBLEM
    )
}

/// Is this ICMPv6 type an error (RFC 4443 §2.1: the high-order bit is clear)?
pub fn v6_is_error(kind: u8) -> bool {
    kind < 128
}

/// RFC 7915 §4.2: ICMPv4 -> ICMPv6.
pub fn v4_to_v6(kind: u8, code: u8) -> Mapping {
    let error = |kind, code| Mapping::Error {
        kind,
        code,
        extra: Extra::Zero,
    };
    match (kind, code) {
        (V4_ECHO_REQUEST, 0) => Mapping::Query {
            kind: V6_ECHO_REQUEST,
        },
        (V4_ECHO_REPLY, 0) => Mapping::Query {
            kind: V6_ECHO_REPLY,
        },
        (V4_DEST_UNREACH, 0 | 1 | 5 | 6 | 7 | 8 | 11 | 12) => error(V6_DEST_UNREACH, 0),
        (V4_DEST_UNREACH, 2) => Mapping::Error {
            kind: V6_PARAM_PROBLEM,
            code: 1,
            extra: Extra::FixedPointer(6),
        },
        (V4_DEST_UNREACH, 3) => error(V6_DEST_UNREACH, 4),
        (V4_DEST_UNREACH, 4) => Mapping::Error {
            kind: V6_PACKET_TOO_BIG,
            code: 0,
            extra: Extra::Mtu,
        },
        (V4_DEST_UNREACH, 9 | 10 | 13 | 15) => error(V6_DEST_UNREACH, 1),
        (V4_TIME_EXCEEDED, 0 | 1) => error(V6_TIME_EXCEEDED, code),
        (V4_PARAM_PROBLEM, 0 | 2) => Mapping::Error {
            kind: V6_PARAM_PROBLEM,
            code: 0,
            extra: Extra::Pointer,
        },
        _ => Mapping::Drop,
    }
}

/// RFC 7915 §5.2: ICMPv6 -> ICMPv4.
pub fn v6_to_v4(kind: u8, code: u8) -> Mapping {
    let error = |kind, code| Mapping::Error {
        kind,
        code,
        extra: Extra::Zero,
    };
    match (kind, code) {
        (V6_ECHO_REQUEST, 0) => Mapping::Query {
            kind: V4_ECHO_REQUEST,
        },
        (V6_ECHO_REPLY, 0) => Mapping::Query {
            kind: V4_ECHO_REPLY,
        },
        (V6_DEST_UNREACH, 0 | 2 | 3) => error(V4_DEST_UNREACH, 1),
        (V6_DEST_UNREACH, 1) => error(V4_DEST_UNREACH, 10),
        (V6_DEST_UNREACH, 4) => error(V4_DEST_UNREACH, 3),
        (V6_PACKET_TOO_BIG, 0) => Mapping::Error {
            kind: V4_DEST_UNREACH,
            code: 4,
            extra: Extra::Mtu,
        },
        (V6_TIME_EXCEEDED, 0 | 1) => error(V4_TIME_EXCEEDED, code),
        (V6_PARAM_PROBLEM, 0) => Mapping::Error {
            kind: V4_PARAM_PROBLEM,
            code: 0,
            extra: Extra::Pointer,
        },
        (V6_PARAM_PROBLEM, 1) => error(V4_DEST_UNREACH, 2),
        _ => Mapping::Drop,
    }
}

/// RFC 7915 §4.2 Figure 3: IPv4 header pointer -> IPv6 header pointer.
pub fn pointer_v4_to_v6(ptr: u8) -> Option<u8> {
    Some(match ptr {
        0 => 0,
        1 => 1,
        2 | 3 => 4,
        8 => 7,
        9 => 6,
        12..=15 => 8,
        16..=19 => 24,
        _ => return None,
    })
}

/// RFC 7915 §5.2 Figure 6: IPv6 header pointer -> IPv4 header pointer.
pub fn pointer_v6_to_v4(ptr: u32) -> Option<u8> {
    Some(match ptr {
        0 => 0,
        1 => 1,
        4 | 5 => 2,
        6 => 9,
        7 => 8,
        8..=23 => 12,
        24..=39 => 16,
        _ => return None,
    })
}

/// RFC 1191 plateau table, for Fragmentation Needed with a zero MTU.
const PLATEAUS: [u16; 10] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296];

/// RFC 7915 §4.2: the MTU an ICMPv6 Packet Too Big carries for an ICMPv4 Fragmentation
/// Needed: min(advertised + 20, IPv6 next-hop MTU, IPv4 next-hop MTU + 20); a zero MTU (a
/// router predating RFC 1191) is estimated with the plateau below the inner total length.
/// Never below the IPv6 minimum of 1280.
pub fn ptb_mtu_v4_to_v6(advertised: u16, inner_total_len: u16, mtu6: u32, mtu4: u32) -> u32 {
    let advertised = if advertised == 0 {
        PLATEAUS
            .iter()
            .copied()
            .find(|&p| p < inner_total_len)
            .unwrap_or(68)
    } else {
        advertised
    };
    (advertised as u32 + 20).min(mtu6).min(mtu4 + 20).max(1280)
}

/// RFC 7915 §5.2: the MTU an ICMPv4 Fragmentation Needed carries for an ICMPv6 Packet Too
/// Big: min(advertised - 20, IPv4 next-hop MTU), minus 8 more when the packet in error had a
/// Fragment header (its translation carries none).
pub fn ptb_mtu_v6_to_v4(advertised: u32, inner_had_fragment_header: bool, mtu4: u32) -> u16 {
    let overhead = if inner_had_fragment_header { 28 } else { 20 };
    advertised
        .saturating_sub(overhead)
        .min(mtu4)
        .clamp(68, 65535) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_to_v6_table() {
        use Mapping::*;
        let e = |kind, code| Error {
            kind,
            code,
            extra: Extra::Zero,
        };
        let cases = [
            ((8, 0), Query { kind: 128 }),
            ((0, 0), Query { kind: 129 }),
            ((3, 0), e(1, 0)),
            ((3, 1), e(1, 0)),
            (
                (3, 2),
                Error {
                    kind: 4,
                    code: 1,
                    extra: Extra::FixedPointer(6),
                },
            ),
            ((3, 3), e(1, 4)),
            (
                (3, 4),
                Error {
                    kind: 2,
                    code: 0,
                    extra: Extra::Mtu,
                },
            ),
            ((3, 5), e(1, 0)),
            ((3, 6), e(1, 0)),
            ((3, 7), e(1, 0)),
            ((3, 8), e(1, 0)),
            ((3, 9), e(1, 1)),
            ((3, 10), e(1, 1)),
            ((3, 11), e(1, 0)),
            ((3, 12), e(1, 0)),
            ((3, 13), e(1, 1)),
            ((3, 14), Drop),
            ((3, 15), e(1, 1)),
            ((4, 0), Drop),  // source quench
            ((5, 0), Drop),  // redirect
            ((9, 0), Drop),  // router advertisement
            ((10, 0), Drop), // router solicitation
            ((11, 0), e(3, 0)),
            ((11, 1), e(3, 1)),
            (
                (12, 0),
                Error {
                    kind: 4,
                    code: 0,
                    extra: Extra::Pointer,
                },
            ),
            ((12, 1), Drop),
            (
                (12, 2),
                Error {
                    kind: 4,
                    code: 0,
                    extra: Extra::Pointer,
                },
            ),
            ((13, 0), Drop), // timestamp
            ((15, 0), Drop), // information request
            ((17, 0), Drop), // address mask request
        ];
        for ((t, c), expected) in cases {
            assert_eq!(v4_to_v6(t, c), expected, "ICMPv4 {t}/{c}");
        }
    }

    #[test]
    fn v6_to_v4_table() {
        use Mapping::*;
        let e = |kind, code| Error {
            kind,
            code,
            extra: Extra::Zero,
        };
        let cases = [
            ((128, 0), Query { kind: 8 }),
            ((129, 0), Query { kind: 0 }),
            ((1, 0), e(3, 1)),
            ((1, 1), e(3, 10)),
            ((1, 2), e(3, 1)),
            ((1, 3), e(3, 1)),
            ((1, 4), e(3, 3)),
            ((1, 5), Drop),
            (
                (2, 0),
                Error {
                    kind: 3,
                    code: 4,
                    extra: Extra::Mtu,
                },
            ),
            ((3, 0), e(11, 0)),
            ((3, 1), e(11, 1)),
            (
                (4, 0),
                Error {
                    kind: 12,
                    code: 0,
                    extra: Extra::Pointer,
                },
            ),
            ((4, 1), e(3, 2)),
            ((4, 2), Drop),
            ((130, 0), Drop), // MLD query
            ((133, 0), Drop), // router solicitation
            ((135, 0), Drop), // neighbor solicitation
        ];
        for ((t, c), expected) in cases {
            assert_eq!(v6_to_v4(t, c), expected, "ICMPv6 {t}/{c}");
        }
    }

    #[test]
    fn pointer_tables() {
        for (v4, v6) in [
            (0, 0),
            (1, 1),
            (2, 4),
            (3, 4),
            (8, 7),
            (9, 6),
            (12, 8),
            (15, 8),
            (16, 24),
            (19, 24),
        ] {
            assert_eq!(pointer_v4_to_v6(v4), Some(v6), "{v4}");
        }
        for v4 in [4, 5, 6, 7, 10, 11, 20] {
            assert_eq!(pointer_v4_to_v6(v4), None, "{v4}");
        }
        for (v6, v4) in [
            (0, 0),
            (1, 1),
            (4, 2),
            (5, 2),
            (6, 9),
            (7, 8),
            (8, 12),
            (23, 12),
            (24, 16),
            (39, 16),
        ] {
            assert_eq!(pointer_v6_to_v4(v6), Some(v4), "{v6}");
        }
        for v6 in [2, 3, 40, 1000] {
            assert_eq!(pointer_v6_to_v4(v6), None, "{v6}");
        }
    }

    #[test]
    fn mtu_rules() {
        // Plain +20, bounded by the next hops.
        assert_eq!(ptb_mtu_v4_to_v6(1400, 1500, 1500, 1500), 1420);
        assert_eq!(ptb_mtu_v4_to_v6(1480, 1500, 1450, 1500), 1450);
        assert_eq!(ptb_mtu_v4_to_v6(1480, 1500, 1500, 1400), 1420);
        // Below the IPv6 minimum: 1280.
        assert_eq!(ptb_mtu_v4_to_v6(576, 1500, 1500, 1500), 1280);
        // Zero MTU: plateau below the inner total length (1500 -> 1492 -> +20).
        assert_eq!(ptb_mtu_v4_to_v6(0, 1500, 9000, 9000), 1512);
        assert_eq!(ptb_mtu_v4_to_v6(0, 4000, 9000, 9000), 2022);
        // IPv6 -> IPv4: -20, -28 with a fragment header, bounded by the IPv4 hop.
        assert_eq!(ptb_mtu_v6_to_v4(1400, false, 1500), 1380);
        assert_eq!(ptb_mtu_v6_to_v4(1400, true, 1500), 1372);
        assert_eq!(ptb_mtu_v6_to_v4(9000, false, 1500), 1500);
        assert_eq!(ptb_mtu_v6_to_v4(1280, false, 65535), 1260);
    }
}
