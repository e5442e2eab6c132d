//! What became of packets: the verdict on one, and the counters the status reply shows.

#![forbid(unsafe_code)]

use crate::state::Refusal;
use crate::wire;

/// Why a packet was not translated. Each has a counter in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Malformed,
    BadChecksum,
    /// IPv6 destination outside the prefix.
    NotInPrefix,
    /// Non-global IPv4 address with the well-known prefix (RFC 6052 §3.1).
    NonGlobal,
    /// Unusable IPv4 address (0/8, loopback, multicast, ...).
    BadAddress,
    UnsupportedProtocol,
    UnsupportedIcmp,
    /// IPv4 source route option (RFC 7915 §4.1).
    SourceRoute,
    NoBinding,
    NoSession,
    PoolExhausted,
    SessionLimit,
    HostLimit,
    /// A non-first fragment whose first fragment did not come within 5 s (or that could
    /// not be parked to wait for it: over 2 KB, or 8 already waiting).
    FragmentNoState,
    /// A fragmented IPv4 UDP datagram without checksum: the checksum cannot be computed.
    UdpZeroChecksumFragment,
    /// Fragmented ICMP that cannot be translated: an error message (its quoted packet is
    /// in pieces), a first fragment above 2 KB, or echo hairpinned to the pool.
    IcmpFragment,
    /// TTL or hop limit ran out here (a Time Exceeded was sent back).
    HopLimit,
}

impl DropReason {
    pub const ALL: [DropReason; 17] = [
        DropReason::Malformed,
        DropReason::BadChecksum,
        DropReason::NotInPrefix,
        DropReason::NonGlobal,
        DropReason::BadAddress,
        DropReason::UnsupportedProtocol,
        DropReason::UnsupportedIcmp,
        DropReason::SourceRoute,
        DropReason::NoBinding,
        DropReason::NoSession,
        DropReason::PoolExhausted,
        DropReason::SessionLimit,
        DropReason::HostLimit,
        DropReason::FragmentNoState,
        DropReason::UdpZeroChecksumFragment,
        DropReason::IcmpFragment,
        DropReason::HopLimit,
    ];
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::NotInPrefix => "not_in_prefix",
            DropReason::NonGlobal => "non_global",
            DropReason::BadAddress => "bad_address",
            DropReason::UnsupportedProtocol => "unsupported_protocol",
            DropReason::UnsupportedIcmp => "unsupported_icmp",
            DropReason::SourceRoute => "source_route",
            DropReason::NoBinding => "no_binding",
            DropReason::NoSession => "no_session",
            DropReason::PoolExhausted => "pool_exhausted",
            DropReason::SessionLimit => "session_limit",
            DropReason::HostLimit => "host_limit",
            DropReason::FragmentNoState => "fragment_no_state",
            DropReason::UdpZeroChecksumFragment => "udp_zero_checksum_fragment",
            DropReason::IcmpFragment => "icmp_fragment",
            DropReason::HopLimit => "hop_limit",
        }
    }
}

impl From<wire::Error> for DropReason {
    fn from(e: wire::Error) -> DropReason {
        match e {
            wire::Error::BadChecksum => DropReason::BadChecksum,
            _ => DropReason::Malformed,
        }
    }
}

impl From<Refusal> for DropReason {
    fn from(r: Refusal) -> DropReason {
        match r {
            Refusal::NoBinding => DropReason::NoBinding,
            Refusal::NoSession => DropReason::NoSession,
            Refusal::PoolExhausted => DropReason::PoolExhausted,
            Refusal::SessionLimit => DropReason::SessionLimit,
            Refusal::HostLimit => DropReason::HostLimit,
        }
    }
}

/// What became of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Translated and emitted as `packets` packets (more than one when fragmented; zero for
    /// the first fragment of an ICMP echo, held until its last fragment arrives).
    Translated {
        packets: usize,
    },
    Dropped(DropReason),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub v6_to_v4: u64,
    pub v4_to_v6: u64,
    pub hairpinned: u64,
    pub fragments_out: u64,
    pub icmp_errors_sent: u64,
    /// Probes sent for established TCP sessions whose lifetime ran out.
    pub tcp_probes: u64,
    /// IPv4 SYNs held for a simultaneous open (RFC 6146 §3.5.2.2).
    pub syns_held: u64,
    pub drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }
    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }
}
