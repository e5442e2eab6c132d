//! The stateful translator: RFC 7915 header translation in place, driven by the RFC 6146
//! state, behind one sans-IO entry point, [`Nat64::process`].
//!
//! A packet read from the TUN device is either IPv6 (from an IPv6-only host, addressed to the
//! prefix) or IPv4 (from the IPv4 side, addressed to the pool). The common cases (TCP, UDP,
//! ICMP echo, fragments) are rewritten in the caller's buffer: the new IP header is written
//! over the end of the old one, so IPv4 -> IPv6 needs headroom for the 20 (28 with a
//! Fragment header) extra bytes; transport checksums are updated incrementally. ICMP errors,
//! generated errors and IPv6 fragments are built in a scratch buffer allocated once.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use crate::checksum::{self, add};
use crate::icmp::{self, Extra, Mapping};
use crate::rfc6052::{self, Prefix};
use crate::state::{Probe, Proto, Refusal, State, StateConfig};
use crate::wire::*;

/// Bytes kept free before a received packet for the IPv6 header growth.
pub const HEADROOM: usize = 64;
/// The largest packet read from the TUN device.
pub const MAX_PACKET: usize = IPV6_HEADER + 65535;

/// What the kernel left to do on a packet (TUN with IFF_VNET_HDR), and what it is asked
/// to do on the translation: complete a partial checksum, segment a TCP super-packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// The transport checksum field holds only the pseudo-header sum (not complemented).
    pub partial: bool,
    /// For `partial`: where summing starts, and the checksum field's offset from there.
    pub csum_start: u16,
    pub csum_offset: u16,
    /// TCP segmentation offload: payload bytes per segment; 0 for an ordinary packet.
    pub gso_size: u16,
    /// The segments carry ECN (CWR) handling.
    pub gso_ecn: bool,
}

impl Offload {
    pub const NONE: Offload = Offload {
        partial: false,
        csum_start: 0,
        csum_offset: 0,
        gso_size: 0,
        gso_ecn: false,
    };
}

/// A reused packet buffer: the packet is `data[start..end]`.
pub struct PacketBuf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
    /// Offload state of the packet in the buffer.
    pub offload: Offload,
}

impl Default for PacketBuf {
    fn default() -> Self {
        PacketBuf::new()
    }
}

impl PacketBuf {
    pub fn new() -> PacketBuf {
        PacketBuf {
            data: vec![0; HEADROOM + MAX_PACKET].into_boxed_slice(),
            start: HEADROOM,
            end: HEADROOM,
            offload: Offload::NONE,
        }
    }
    /// Where to read the next packet into.
    pub fn recv_area(&mut self) -> &mut [u8] {
        &mut self.data[HEADROOM..]
    }
    /// Marks `len` bytes of [`PacketBuf::recv_area`] as the packet.
    pub fn set_received(&mut self, len: usize) {
        self.start = HEADROOM;
        self.end = HEADROOM + len.min(MAX_PACKET);
        self.offload = Offload::NONE;
    }
    /// Completes a partial checksum in software, as the kernel would have.
    fn complete_checksum(&mut self) -> bool {
        let start = self.offload.csum_start as usize;
        let at = start + self.offload.csum_offset as usize;
        let packet = &mut self.data[self.start..self.end];
        if at + 2 > packet.len() {
            return false;
        }
        let mut csum = checksum::finish(add(0, &packet[start..]));
        if csum == 0 && self.offload.csum_offset == 6 {
            csum = 0xffff; // UDP
        }
        set_u16(packet, at, csum);
        self.offload.partial = false;
        true
    }
    /// Copies `bytes` in as the packet (tests, fuzzing).
    pub fn load(&mut self, bytes: &[u8]) {
        let len = bytes.len().min(MAX_PACKET);
        self.recv_area()[..len].copy_from_slice(&bytes[..len]);
        self.set_received(len);
    }
    pub fn packet(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

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

impl From<WireError> for DropReason {
    fn from(e: WireError) -> DropReason {
        match e {
            WireError::BadChecksum => DropReason::BadChecksum,
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
    pub drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub prefix: Prefix,
    /// Lab use: translate non-global IPv4 addresses with the well-known prefix.
    pub allow_non_global: bool,
    pub state: StateConfig,
    /// MTU of the TUN device, bounding both next hops in PMTU arithmetic.
    pub mtu: u32,
    /// IPv4 packets without DF are fragmented to IPv6 packets of at most this size
    /// (RFC 7915 §4: 1280 unless the IPv6 path is known to carry more).
    pub lowest_ipv6_mtu: u32,
}

/// Where packets to send go, with what the kernel should still do on them.
type Out<'a> = &'a mut dyn FnMut(&[u8], Offload);

/// Fragments seen first carry the ports; later ones only the addresses and the
/// identification. These small caches remember the first fragment's translation.
const FRAG_SLOTS: usize = 64;
const FRAG_LIFETIME: u64 = 5;

#[derive(Clone, Copy)]
struct FragV6 {
    src: [u8; 16],
    dst: [u8; 16],
    ident: u32,
    src4: [u8; 4],
    expires: u64,
}

#[derive(Clone, Copy)]
struct FragV4 {
    src: [u8; 4],
    dst: [u8; 4],
    ident: u16,
    protocol: u8,
    dst6: [u8; 16],
    expires: u64,
}

/// Fragments that arrived before their first fragment (some IPv4 stacks send the last one
/// first), kept untranslated until it comes.
const PARK_SLOTS: usize = 8;
const PARK_BYTES: usize = 2048;

/// A fragmented packet: IPv6 (source, destination, identification) or IPv4 (source,
/// destination, identification, protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FragKey {
    V6([u8; 16], [u8; 16], u32),
    V4([u8; 4], [u8; 4], u16, u8),
}

#[derive(Clone, Copy)]
struct Parked {
    key: FragKey,
    len: usize,
    expires: u64,
}

/// First fragments of ICMP echo messages waiting for their last fragment.
const HOLD_SLOTS: usize = 8;
const HOLD_BYTES: usize = 2048;

#[derive(Clone, Copy, PartialEq, Eq)]
enum HoldKey {
    V6([u8; 16], [u8; 16], u32),
    V4([u8; 4], [u8; 4], u16),
}

#[derive(Clone, Copy)]
struct Hold {
    key: HoldKey,
    len: usize,
    /// Checksum words to take out and put in once the length is known...
    removed: u32,
    added: u32,
    /// ...and on which side the pseudo-header length goes.
    length_added: bool,
    expires: u64,
}

pub struct Nat64 {
    config: Config,
    state: State,
    stats: Stats,
    epoch: Instant,
    scratch: Box<[u8]>,
    frag6: [Option<FragV6>; FRAG_SLOTS],
    frag4: [Option<FragV4>; FRAG_SLOTS],
    frag_next: usize,
    icmp_error_second: u64,
    icmp_error_tokens: u32,
    /// Set by a first fragment's translation: its later fragments may be parked.
    first_fragment: Option<FragKey>,
    parked: [Option<Parked>; PARK_SLOTS],
    park_data: Box<[u8]>,
    /// Where parked fragments are translated once their first fragment has been.
    replay_buf: Option<Box<PacketBuf>>,
    held: [Option<Hold>; HOLD_SLOTS],
    hold_data: Box<[u8]>,
    ident: u16,
    /// Refusals since the last warning, and when it was (rate-limited syslog).
    refusals_unlogged: u64,
    last_refusal_log: Option<u64>,
}

const REFUSAL_LOG_INTERVAL: u64 = 10;
/// ICMP errors the translator itself generates, per second.
const ICMP_ERRORS_PER_SECOND: u32 = 50;

impl Nat64 {
    pub fn new(config: Config, now: Instant) -> Nat64 {
        Nat64 {
            state: State::new(config.state.clone()),
            config,
            stats: Stats::default(),
            epoch: now,
            scratch: vec![0; MAX_PACKET + HEADROOM].into_boxed_slice(),
            frag6: [None; FRAG_SLOTS],
            frag4: [None; FRAG_SLOTS],
            frag_next: 0,
            icmp_error_second: u64::MAX,
            icmp_error_tokens: 0,
            first_fragment: None,
            parked: [None; PARK_SLOTS],
            park_data: vec![0; PARK_SLOTS * PARK_BYTES].into_boxed_slice(),
            replay_buf: Some(Box::new(PacketBuf::new())),
            held: [None; HOLD_SLOTS],
            hold_data: vec![0; HOLD_SLOTS * HOLD_BYTES].into_boxed_slice(),
            ident: 1,
            refusals_unlogged: 0,
            last_refusal_log: None,
        }
    }

    /// New configuration, same state (SIGHUP).
    pub fn reconfigure(&mut self, config: Config) {
        self.state.reconfigure(config.state.clone());
        self.config = config;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn state(&self) -> &State {
        &self.state
    }

    fn seconds(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    /// Expires sessions; call about once a second. Established TCP sessions whose lifetime
    /// ran out are probed (RFC 6146 §3.5.2.2): the probes go to `out`, for the TUN device.
    /// Returns the number of sessions removed.
    pub fn expire(&mut self, now: Instant, out: Out) -> usize {
        let now = self.seconds(now);
        for slot in &mut self.parked {
            if slot.is_some_and(|p| p.expires <= now) {
                *slot = None;
                self.stats.drops[DropReason::FragmentNoState as usize] += 1;
            }
        }
        let (prefix, scratch, stats) = (&self.config.prefix, &mut self.scratch, &mut self.stats);
        self.state.expire(now, &mut |probe| {
            let len = emit_tcp_probe(scratch, prefix, &probe);
            out(&scratch[..len], Offload::NONE);
            stats.tcp_probes += 1;
        })
    }

    /// When [`Nat64::expire`] next has something to do.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.state
            .next_expiry()
            .map(|s| self.epoch + std::time::Duration::from_secs(s))
    }

    /// Translates the packet in `buf`; every packet to send (translated packets, fragments,
    /// ICMP errors) is passed to `out`, which writes it to the TUN device.
    pub fn process(&mut self, buf: &mut PacketBuf, now: Instant, out: Out) -> Verdict {
        let now = self.seconds(now);
        // Only TCP super-packets are left partial: everything else is completed here, so
        // that every other path sees ordinary checksums.
        if buf.offload.partial && buf.offload.gso_size == 0 && !buf.complete_checksum() {
            self.stats.drops[DropReason::Malformed as usize] += 1;
            return Verdict::Dropped(DropReason::Malformed);
        }
        self.first_fragment = None;
        let mut result = match buf.packet().first().map(|b| b >> 4) {
            Some(6) => self.translate_v6(buf, now, out),
            Some(4) => self.translate_v4(buf, now, out, false),
            _ => Err(DropReason::Malformed),
        };
        if let (Ok(sent), Some(key)) = (&mut result, self.first_fragment.take()) {
            *sent += self.replay(key, now, out);
        }
        match result {
            Ok(packets) => Verdict::Translated { packets },
            Err(reason) => {
                self.stats.drops[reason as usize] += 1;
                if matches!(
                    reason,
                    DropReason::SessionLimit | DropReason::HostLimit | DropReason::PoolExhausted
                ) {
                    self.log_refusal(reason, now);
                    // RFC 6146 §3.5.1.1: tell the IPv6 host (Address Unreachable), so that
                    // it fails fast instead of retrying into a full table.
                    let packet = buf.packet();
                    if packet.first().is_some_and(|b| b >> 4 == 6) && packet.len() >= IPV6_HEADER {
                        let src: [u8; 16] = packet[8..24].try_into().unwrap_or([0; 16]);
                        let is_error = packet[6] == PROTO_ICMPV6
                            && packet.get(IPV6_HEADER).is_some_and(|&t| t < 128);
                        if !is_error {
                            let packet = &buf.data[buf.start..buf.end];
                            self.icmpv6_error(packet, &src, icmp::V6_DEST_UNREACH, 3, now, out);
                        }
                    }
                }
                Verdict::Dropped(reason)
            }
        }
    }

    /// Refusals not yet reported, and the second of the last warning (for tests).
    #[cfg(test)]
    pub(crate) fn refusal_log(&self) -> (u64, Option<u64>) {
        (self.refusals_unlogged, self.last_refusal_log)
    }

    /// Per-packet path: one warning per REFUSAL_LOG_INTERVAL at most, carrying the count of
    /// refusals since the previous one (every refusal is counted in the stats as well).
    fn log_refusal(&mut self, reason: DropReason, now: u64) {
        self.refusals_unlogged += 1;
        if self
            .last_refusal_log
            .is_some_and(|t| now < t + REFUSAL_LOG_INTERVAL)
        {
            return;
        }
        log::warn!(
            "refusing new flows ({}): {} refused since the last message; sessions tcp {} udp {} icmp {}, max {}",
            reason.name(),
            self.refusals_unlogged,
            self.state.session_count(Proto::Tcp),
            self.state.session_count(Proto::Udp),
            self.state.session_count(Proto::Icmp),
            self.config.state.max_sessions
        );
        self.refusals_unlogged = 0;
        self.last_refusal_log = Some(now);
    }

    /// An IPv4 address on the far side (destination of IPv6 packets, source of IPv4 ones).
    /// The same rule dns64 applies before it synthesizes an AAAA record.
    fn check_remote4(&self, addr: [u8; 4]) -> Result<(), DropReason> {
        match self
            .config
            .prefix
            .check_v4(Ipv4Addr::from(addr), self.config.allow_non_global)
        {
            Ok(()) => Ok(()),
            Err(rfc6052::Refusal::NotUnicastPeer) => Err(DropReason::BadAddress),
            Err(rfc6052::Refusal::NonGlobal) => Err(DropReason::NonGlobal),
        }
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1).max(1);
        self.ident
    }

    /// The address errors we generate towards IPv6 hosts come from: the first pool
    /// address under the prefix.
    fn own_v6(&self) -> [u8; 16] {
        let v4 = self
            .config
            .state
            .pool
            .first()
            .map_or([192, 0, 0, 1], |r| r.addr);
        embed(&self.config.prefix, v4)
    }

    // ---------------------------------------------------------------- IPv6 -> IPv4

    fn translate_v6(
        &mut self,
        buf: &mut PacketBuf,
        now: u64,
        out: Out,
    ) -> Result<usize, DropReason> {
        let (src6, dst6, total, l4_off, proto, frag, hop_limit, tc) = {
            let ip = Ipv6Packet::new_checked(buf.packet())?;
            (
                ip.src(),
                ip.dst(),
                ip.total_len(),
                ip.upper_offset(),
                ip.upper_protocol(),
                ip.fragment(),
                ip.hop_limit(),
                ip.traffic_class(),
            )
        };
        buf.end = buf.start + total;
        let dst4 = extract(&self.config.prefix, dst6)?;
        self.check_remote4(dst4)?;
        let first = frag.map_or(true, |(offset, _, _)| offset == 0);
        let fragmented = frag.is_some_and(|(offset, more, _)| offset != 0 || more);
        let p = buf.start;
        if total - l4_off > 0xffff - IPV4_HEADER {
            return Err(DropReason::Malformed);
        }
        let is_icmp_error =
            proto == PROTO_ICMPV6 && first && buf.data.get(p + l4_off).is_some_and(|&t| t < 128);
        if hop_limit <= 1 {
            if !is_icmp_error {
                self.time_exceeded_v6(buf.packet(), &src6, now, out);
            }
            return Err(DropReason::HopLimit);
        }
        if is_icmp_error {
            if fragmented {
                return Err(DropReason::IcmpFragment);
            }
            return self.icmp_error_v6_to_v4(buf, l4_off, now, out);
        }

        let mut hold = None;
        let partial = buf.offload.partial;
        let src4 = if first {
            let l4 = &mut buf.data[p + l4_off..p + total];
            let mapped = match proto {
                PROTO_TCP | PROTO_UDP => {
                    if l4.len() < min_upper_len(proto) {
                        return Err(DropReason::Malformed);
                    }
                    let (sport, dport) = ports(l4).ok_or(DropReason::Malformed)?;
                    let csum_at = checksum_offset(proto);
                    let csum = get_u16(l4, csum_at);
                    if proto == PROTO_UDP && csum == 0 && !partial {
                        return Err(DropReason::BadChecksum); // mandatory in IPv6
                    }
                    let (kind, flags) = if proto == PROTO_TCP {
                        (Proto::Tcp, l4[13])
                    } else {
                        (Proto::Udp, 0)
                    };
                    let m = self
                        .state
                        .outbound(kind, src6, sport, dst4, dport, flags, now)?;
                    let removed = add(add(0, &src6), &dst6) + sport as u32;
                    let added = add(add(0, &m.addr), &dst4) + m.port as u32;
                    let new = if partial {
                        // Only the pseudo-header is in the field; the port is summed later.
                        let (removed, added) = (removed - sport as u32, added - m.port as u32);
                        checksum::update_partial(csum, removed, added)
                    } else if proto == PROTO_UDP {
                        checksum::update_udp(csum, removed, added)
                    } else {
                        checksum::update(csum, removed, added)
                    };
                    set_u16(l4, 0, m.port);
                    set_u16(l4, csum_at, new);
                    m
                }
                PROTO_ICMPV6 => {
                    let Mapping::Query { kind } = icmp::v6_to_v4(
                        l4.first().copied().unwrap_or(0),
                        l4.get(1).copied().unwrap_or(0),
                    ) else {
                        return Err(DropReason::UnsupportedIcmp);
                    };
                    if l4.len() < 8 {
                        return Err(DropReason::Malformed);
                    }
                    if fragmented && self.state.in_pool(dst4) {
                        return Err(DropReason::IcmpFragment); // no hairpinning of fragmented echo
                    }
                    let length = l4.len() as u32;
                    // A fragment's checksum covers the whole message: it is checked by the receiver.
                    if !fragmented
                        && checksum::fold(
                            checksum::pseudo_v6(&src6, &dst6, PROTO_ICMPV6, length) + add(0, l4),
                        ) != 0xffff
                    {
                        return Err(DropReason::BadChecksum);
                    }
                    let id = get_u16(l4, 4);
                    let m = self
                        .state
                        .outbound(Proto::Icmp, src6, id, dst4, 0, 0, now)?;
                    let pseudo = add(add(0, &src6), &dst6) + PROTO_ICMPV6 as u32;
                    let removed = pseudo + get_u16(l4, 0) as u32 + id as u32;
                    l4[0] = kind;
                    set_u16(l4, 4, m.port);
                    let added = get_u16(l4, 0) as u32 + m.port as u32;
                    match frag {
                        // The pseudo-header length is the whole message's: known at the last fragment.
                        Some((_, true, ident)) => {
                            hold = Some(Hold {
                                key: HoldKey::V6(src6, dst6, ident),
                                len: 0,
                                removed,
                                added,
                                length_added: false,
                                expires: now + FRAG_LIFETIME,
                            });
                        }
                        _ => {
                            let new = checksum::update(
                                get_u16(l4, 2),
                                removed + (length >> 16) + (length & 0xffff),
                                added,
                            );
                            set_u16(l4, 2, new);
                        }
                    }
                    m
                }
                _ => return Err(DropReason::UnsupportedProtocol),
            };
            if let Some((_, true, ident)) = frag {
                self.first_fragment = Some(FragKey::V6(src6, dst6, ident));
                self.remember_frag6(FragV6 {
                    src: src6,
                    dst: dst6,
                    ident,
                    src4: mapped.addr,
                    expires: now + FRAG_LIFETIME,
                });
            }
            mapped.addr
        } else {
            let (_, _, ident) = frag.unwrap_or_default();
            let found = self
                .frag6
                .iter()
                .flatten()
                .find(|f| f.src == src6 && f.dst == dst6 && f.ident == ident && f.expires > now)
                .map(|f| f.src4);
            match found {
                Some(src4) => src4,
                None => {
                    // Ahead of its first fragment: kept until that one arrives.
                    self.park(buf.packet(), FragKey::V6(src6, dst6, ident), now)?;
                    return Ok(0);
                }
            }
        };

        let new_total = IPV4_HEADER + total - l4_off;
        let (ident, flags_frag) = match frag {
            Some((offset, more, ident)) => (
                ident as u16,
                (offset / 8) as u16 | if more { 0x2000 } else { 0 },
            ),
            // RFC 7915 §5.1: DF only above 1260 bytes, so that small packets can still
            // cross IPv4 links below 1280 by fragmentation.
            None if new_total > 1260 => (0, 0x4000),
            None => (self.next_ident(), 0),
        };
        let protocol = if proto == PROTO_ICMPV6 {
            PROTO_ICMP
        } else {
            proto
        };
        let header = p + l4_off - IPV4_HEADER;
        emit_ipv4_header(
            &mut buf.data[header..header + IPV4_HEADER],
            tc,
            new_total as u16,
            ident,
            flags_frag,
            hop_limit - 1,
            protocol,
            src4,
            dst4,
        );
        buf.start = header;
        buf.offload.csum_start = IPV4_HEADER as u16;
        self.stats.v6_to_v4 += 1;
        if let Some(h) = hold {
            self.hold(buf.packet(), h)?;
            return Ok(0);
        }
        if self.state.in_pool(dst4) {
            // Hairpinning (RFC 6146 §3.8): an IPv6 host reaching another through its pool address.
            self.stats.hairpinned += 1;
            return self.translate_v4(buf, now, out, true);
        }
        out(buf.packet(), buf.offload);
        let mut sent = 1;
        if let Some((offset, false, ident)) = frag {
            if proto == PROTO_ICMPV6 && offset != 0 {
                sent += self.release(
                    HoldKey::V6(src6, dst6, ident),
                    (offset + total - l4_off) as u32,
                    now,
                    out,
                );
            }
        }
        Ok(sent)
    }

    fn remember_frag6(&mut self, entry: FragV6) {
        let slot = self
            .frag6
            .iter()
            .position(|f| f.map_or(true, |f| f.expires <= entry.expires - FRAG_LIFETIME))
            .unwrap_or(self.frag_next % FRAG_SLOTS);
        self.frag_next = self.frag_next.wrapping_add(1);
        self.frag6[slot] = Some(entry);
    }

    fn remember_frag4(&mut self, entry: FragV4) {
        let slot = self
            .frag4
            .iter()
            .position(|f| f.map_or(true, |f| f.expires <= entry.expires - FRAG_LIFETIME))
            .unwrap_or(self.frag_next % FRAG_SLOTS);
        self.frag_next = self.frag_next.wrapping_add(1);
        self.frag4[slot] = Some(entry);
    }

    /// An ICMPv6 error about a packet the IPv6 host got from the IPv4 side: the inner
    /// packet is translated back too, and the error goes to the IPv4 peer from the pool
    /// address the host is bound to.
    fn icmp_error_v6_to_v4(
        &mut self,
        buf: &mut PacketBuf,
        l4_off: usize,
        now: u64,
        out: Out,
    ) -> Result<usize, DropReason> {
        let _ = now;
        let packet = &buf.data[buf.start..buf.end];
        let (src6, dst6, hop_limit) = {
            let ip = Ipv6Packet::new_checked(packet)?;
            (ip.src(), ip.dst(), ip.hop_limit())
        };
        let dst4 = extract(&self.config.prefix, dst6)?;
        let message = &packet[l4_off..];
        if message.len() < 8 + IPV6_HEADER {
            return Err(DropReason::Malformed);
        }
        if checksum::fold(
            checksum::pseudo_v6(&src6, &dst6, PROTO_ICMPV6, message.len() as u32) + add(0, message),
        ) != 0xffff
        {
            return Err(DropReason::BadChecksum);
        }
        let Mapping::Error { kind, code, extra } = icmp::v6_to_v4(message[0], message[1]) else {
            return Err(DropReason::UnsupportedIcmp);
        };
        let inner = &message[8..];
        let inner_ip = InnerV6::parse(inner).ok_or(DropReason::Malformed)?;
        let inner_src4 = extract(&self.config.prefix, inner_ip.src)?;
        let inner_l4 = &inner[inner_ip.l4_off..];
        let (kind_l4, host_port) = match inner_ip.protocol {
            PROTO_TCP => (Proto::Tcp, ports(inner_l4).ok_or(DropReason::Malformed)?.1),
            PROTO_UDP => (Proto::Udp, ports(inner_l4).ok_or(DropReason::Malformed)?.1),
            PROTO_ICMPV6 if inner_l4.len() >= 8 && inner_l4[0] >= 128 => {
                (Proto::Icmp, get_u16(inner_l4, 4))
            }
            _ => return Err(DropReason::UnsupportedProtocol),
        };
        let mapped = self
            .state
            .lookup6(kind_l4, inner_ip.dst, host_port)
            .ok_or(DropReason::NoBinding)?;

        let extra_bytes: [u8; 4] = match extra {
            Extra::Zero => [0; 4],
            Extra::Mtu => {
                let advertised =
                    u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
                let mtu =
                    icmp::ptb_mtu_v6_to_v4(advertised, inner_ip.frag.is_some(), self.config.mtu);
                [0, 0, (mtu >> 8) as u8, mtu as u8]
            }
            Extra::Pointer => {
                let ptr = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
                [
                    icmp::pointer_v6_to_v4(ptr).ok_or(DropReason::UnsupportedIcmp)?,
                    0,
                    0,
                    0,
                ]
            }
            Extra::FixedPointer(p) => [p as u8, 0, 0, 0],
        };

        // Outer IPv4 (20) + ICMP (8) + inner IPv4 (20) + what fits of the inner payload in 576.
        let s = &mut self.scratch[..];
        let inner_payload = &inner_l4[..inner_l4.len().min(576 - 48)];
        let inner_total = IPV4_HEADER + inner_ip.payload_len_after_ext();
        let (inner_ident, inner_flags) = match inner_ip.frag {
            Some((offset, more, ident)) => (
                ident as u16,
                (offset / 8) as u16 | if more { 0x2000 } else { 0 },
            ),
            None => (0, 0),
        };
        let inner_protocol = if inner_ip.protocol == PROTO_ICMPV6 {
            PROTO_ICMP
        } else {
            inner_ip.protocol
        };
        emit_ipv4_header(
            &mut s[28..48],
            inner_ip.traffic_class,
            inner_total.min(0xffff) as u16,
            inner_ident,
            inner_flags,
            inner_ip.hop_limit,
            inner_protocol,
            inner_src4,
            mapped.addr,
        );
        let l4 = &mut s[48..48 + inner_payload.len()];
        l4.copy_from_slice(inner_payload);
        rewrite_inner_v6_to_v4(l4, &inner_ip, inner_src4, &mapped);
        let message_len = 8 + IPV4_HEADER + inner_payload.len();
        s[20] = kind;
        s[21] = code;
        s[22..24].copy_from_slice(&[0, 0]);
        s[24..28].copy_from_slice(&extra_bytes);
        let csum = checksum::finish(add(0, &s[20..20 + message_len]));
        set_u16(s, 22, csum);
        let ident = {
            self.ident = self.ident.wrapping_add(1).max(1);
            self.ident
        };
        let s = &mut self.scratch[..];
        emit_ipv4_header(
            &mut s[..20],
            0,
            (20 + message_len) as u16,
            ident,
            0,
            hop_limit - 1,
            PROTO_ICMP,
            mapped.addr,
            dst4,
        );
        out(&s[..20 + message_len], Offload::NONE);
        self.stats.v6_to_v4 += 1;
        Ok(1)
    }

    /// ICMPv6 Time Exceeded (hop limit) to `dst` about `packet`.
    fn time_exceeded_v6(&mut self, packet: &[u8], dst: &[u8; 16], now: u64, out: Out) {
        self.icmpv6_error(packet, dst, icmp::V6_TIME_EXCEEDED, 0, now, out);
    }

    /// Whether one more ICMP error may be sent now (RFC 4443 §2.4 (f) rate limiting).
    fn icmp_error_allowed(&mut self, now: u64) -> bool {
        if now != self.icmp_error_second {
            self.icmp_error_second = now;
            self.icmp_error_tokens = ICMP_ERRORS_PER_SECOND;
        }
        if self.icmp_error_tokens == 0 {
            return false;
        }
        self.icmp_error_tokens -= 1;
        true
    }

    /// An ICMPv6 error from the translator to `dst` quoting `packet`.
    fn icmpv6_error(
        &mut self,
        packet: &[u8],
        dst: &[u8; 16],
        kind: u8,
        code: u8,
        now: u64,
        out: Out,
    ) {
        if !self.icmp_error_allowed(now) {
            return;
        }
        let src = self.own_v6();
        let quoted = &packet[..packet.len().min(1280 - 48)];
        let s = &mut self.scratch[..];
        let length = 8 + quoted.len();
        emit_ipv6_header(s, 0, length as u16, PROTO_ICMPV6, 64, &src, dst);
        s[40..48].copy_from_slice(&[kind, code, 0, 0, 0, 0, 0, 0]);
        s[48..48 + quoted.len()].copy_from_slice(quoted);
        let csum = checksum::finish(
            checksum::pseudo_v6(&src, dst, PROTO_ICMPV6, length as u32)
                + add(0, &s[40..40 + length]),
        );
        set_u16(s, 42, csum);
        out(&s[..40 + length], Offload::NONE);
        self.stats.icmp_errors_sent += 1;
    }

    // ---------------------------------------------------------------- IPv4 -> IPv6

    fn translate_v4(
        &mut self,
        buf: &mut PacketBuf,
        now: u64,
        out: Out,
        hairpin: bool,
    ) -> Result<usize, DropReason> {
        let (ihl, total, tos, ident, dont_frag, more, offset, ttl, proto, src4, dst4) = {
            let ip = Ipv4Packet::new_checked(buf.packet())?;
            if !ip.header_checksum_ok() {
                return Err(DropReason::BadChecksum);
            }
            if has_source_route(ip.options()) {
                return Err(DropReason::SourceRoute);
            }
            (
                ip.header_len(),
                ip.total_len(),
                ip.tos(),
                ip.ident(),
                ip.dont_frag(),
                ip.more_frags(),
                ip.frag_offset(),
                ip.ttl(),
                ip.protocol(),
                ip.src(),
                ip.dst(),
            )
        };
        buf.end = buf.start + total;
        if !self.state.in_pool(dst4) {
            return Err(DropReason::NoBinding);
        }
        if !hairpin {
            self.check_remote4(src4)?;
        }
        let first = offset == 0;
        let fragmented = more || offset != 0;
        let p = buf.start;
        let is_icmp_error = proto == PROTO_ICMP
            && first
            && buf
                .data
                .get(p + ihl)
                .is_some_and(|&t| matches!(t, 3 | 4 | 5 | 11 | 12));
        if ttl <= 1 {
            if !is_icmp_error && first {
                self.time_exceeded_v4(buf.packet(), src4, dst4, now, out);
            }
            return Err(DropReason::HopLimit);
        }
        if is_icmp_error {
            if fragmented {
                return Err(DropReason::IcmpFragment);
            }
            return self.icmp_error_v4_to_v6(buf, ihl, out);
        }
        let src6 = embed(&self.config.prefix, src4);
        let mut hold = None;
        let partial = buf.offload.partial;
        let dst6 = if first {
            let l4 = &mut buf.data[p + ihl..p + total];
            let mapped = match proto {
                PROTO_TCP | PROTO_UDP => {
                    if l4.len() < min_upper_len(proto) {
                        return Err(DropReason::Malformed);
                    }
                    let (sport, dport) = ports(l4).ok_or(DropReason::Malformed)?;
                    let csum_at = checksum_offset(proto);
                    let csum = get_u16(l4, csum_at);
                    let zero_udp = proto == PROTO_UDP && csum == 0 && !partial;
                    if zero_udp && fragmented {
                        return Err(DropReason::UdpZeroChecksumFragment);
                    }
                    let (kind, flags) = if proto == PROTO_TCP {
                        (Proto::Tcp, l4[13])
                    } else {
                        (Proto::Udp, 0)
                    };
                    let m = self
                        .state
                        .inbound(kind, dst4, dport, src4, sport, flags, now)?;
                    set_u16(l4, 2, m.port);
                    let new = if partial {
                        let removed = add(add(0, &src4), &dst4);
                        let added = add(add(0, &src6), &m.addr);
                        checksum::update_partial(csum, removed, added)
                    } else if zero_udp {
                        // RFC 7915 §4.5: compute the checksum IPv6 requires.
                        let length = l4.len() as u32;
                        checksum::finish(
                            checksum::pseudo_v6(&src6, &m.addr, PROTO_UDP, length) + add(0, l4),
                        )
                    } else {
                        let removed = add(add(0, &src4), &dst4) + dport as u32;
                        let added = add(add(0, &src6), &m.addr) + m.port as u32;
                        if proto == PROTO_UDP {
                            checksum::update_udp(csum, removed, added)
                        } else {
                            checksum::update(csum, removed, added)
                        }
                    };
                    if buf.offload.gso_size != 0 && proto == PROTO_TCP {
                        // Segments grow by 20 bytes of header: keep them within the MTU.
                        let headers = IPV6_HEADER + (l4[12] >> 4) as usize * 4;
                        let room = (self.config.mtu as usize).saturating_sub(headers).max(536);
                        buf.offload.gso_size = buf.offload.gso_size.min(room as u16);
                    }
                    let new = if proto == PROTO_UDP && new == 0 && !partial {
                        0xffff
                    } else {
                        new
                    };
                    set_u16(l4, csum_at, new);
                    m
                }
                PROTO_ICMP => {
                    let Mapping::Query { kind } = icmp::v4_to_v6(
                        l4.first().copied().unwrap_or(0),
                        l4.get(1).copied().unwrap_or(0),
                    ) else {
                        return Err(DropReason::UnsupportedIcmp);
                    };
                    if l4.len() < 8 {
                        return Err(DropReason::Malformed);
                    }
                    if !fragmented && checksum::fold(add(0, l4)) != 0xffff {
                        return Err(DropReason::BadChecksum);
                    }
                    let id = get_u16(l4, 4);
                    let m = self.state.inbound(Proto::Icmp, dst4, id, src4, 0, 0, now)?;
                    let removed = get_u16(l4, 0) as u32 + id as u32;
                    l4[0] = kind;
                    set_u16(l4, 4, m.port);
                    let added = get_u16(l4, 0) as u32
                        + m.port as u32
                        + add(add(0, &src6), &m.addr)
                        + PROTO_ICMPV6 as u32;
                    if more {
                        hold = Some(Hold {
                            key: HoldKey::V4(src4, dst4, ident),
                            len: 0,
                            removed,
                            added,
                            length_added: true,
                            expires: now + FRAG_LIFETIME,
                        });
                    } else {
                        let length = l4.len() as u32;
                        let new = checksum::update(
                            get_u16(l4, 2),
                            removed,
                            added + (length >> 16) + (length & 0xffff),
                        );
                        set_u16(l4, 2, new);
                    }
                    m
                }
                _ => return Err(DropReason::UnsupportedProtocol),
            };
            if more {
                self.first_fragment = Some(FragKey::V4(src4, dst4, ident, proto));
                self.remember_frag4(FragV4 {
                    src: src4,
                    dst: dst4,
                    ident,
                    protocol: proto,
                    dst6: mapped.addr,
                    expires: now + FRAG_LIFETIME,
                });
            }
            mapped.addr
        } else {
            let found = self
                .frag4
                .iter()
                .flatten()
                .find(|f| {
                    f.src == src4
                        && f.dst == dst4
                        && f.ident == ident
                        && f.protocol == proto
                        && f.expires > now
                })
                .map(|f| f.dst6);
            match found {
                Some(dst6) => dst6,
                None => {
                    self.park(buf.packet(), FragKey::V4(src4, dst4, ident, proto), now)?;
                    return Ok(0);
                }
            }
        };

        let next_header = if proto == PROTO_ICMP {
            PROTO_ICMPV6
        } else {
            proto
        };
        let payload_len = total - ihl;
        let header_len = IPV6_HEADER + if fragmented { FRAGMENT_HEADER } else { 0 };
        // The last fragment of a fragmented echo releases its held first fragment.
        let release = (proto == PROTO_ICMP && offset != 0 && !more).then_some((
            HoldKey::V4(src4, dst4, ident),
            (offset + payload_len) as u32,
        ));
        if hold.is_none()
            && buf.offload.gso_size == 0
            && !dont_frag
            && header_len + payload_len > self.config.lowest_ipv6_mtu as usize
        {
            let fields = V6Fields {
                traffic_class: tos,
                hop_limit: ttl - 1,
                next_header,
                src: src6,
                dst: dst6,
            };
            let ident = if fragmented {
                ident as u32
            } else {
                self.next_ident() as u32
            };
            let mut sent = self.emit_v6_fragments(
                &fields,
                &buf.data[p + ihl..p + total],
                offset,
                more,
                ident,
                out,
            );
            if let Some((key, length)) = release {
                sent += self.release(key, length, now, out);
            }
            return Ok(sent);
        }
        let header = p + ihl - header_len;
        let (first_next, payload_field) = if fragmented {
            (PROTO_FRAGMENT, payload_len + FRAGMENT_HEADER)
        } else {
            (next_header, payload_len)
        };
        emit_ipv6_header(
            &mut buf.data[header..header + IPV6_HEADER],
            tos,
            payload_field as u16,
            first_next,
            ttl - 1,
            &src6,
            &dst6,
        );
        if fragmented {
            let f = &mut buf.data[header + IPV6_HEADER..header + IPV6_HEADER + FRAGMENT_HEADER];
            emit_fragment_header(f, next_header, offset, more, ident as u32);
        }
        buf.start = header;
        buf.offload.csum_start = header_len as u16;
        self.stats.v4_to_v6 += 1;
        if let Some(h) = hold {
            self.hold(buf.packet(), h)?;
            return Ok(0);
        }
        out(buf.packet(), buf.offload);
        let mut sent = 1;
        if let Some((key, length)) = release {
            sent += self.release(key, length, now, out);
        }
        Ok(sent)
    }

    /// Keeps a fragment that came before its first fragment.
    fn park(&mut self, packet: &[u8], key: FragKey, now: u64) -> Result<(), DropReason> {
        if packet.len() > PARK_BYTES {
            return Err(DropReason::FragmentNoState);
        }
        let slot = match self
            .parked
            .iter()
            .position(|p| p.map_or(true, |p| p.expires <= now))
        {
            Some(slot) => {
                if self.parked[slot].is_some() {
                    self.stats.drops[DropReason::FragmentNoState as usize] += 1;
                    // expired unclaimed
                }
                slot
            }
            None => return Err(DropReason::FragmentNoState),
        };
        self.park_data[slot * PARK_BYTES..slot * PARK_BYTES + packet.len()].copy_from_slice(packet);
        self.parked[slot] = Some(Parked {
            key,
            len: packet.len(),
            expires: now + FRAG_LIFETIME,
        });
        Ok(())
    }

    /// Translates the fragments parked for `key`, now that the first one has been.
    fn replay(&mut self, key: FragKey, now: u64, out: Out) -> usize {
        let mut sent = 0;
        for slot in 0..PARK_SLOTS {
            let Some(p) = self.parked[slot] else { continue };
            if p.key != key || p.expires <= now {
                continue;
            }
            self.parked[slot] = None;
            let Some(mut replay) = self.replay_buf.take() else {
                break;
            };
            replay.load(&self.park_data[slot * PARK_BYTES..slot * PARK_BYTES + p.len]);
            let result = match key {
                FragKey::V6(..) => self.translate_v6(&mut replay, now, out),
                FragKey::V4(..) => self.translate_v4(&mut replay, now, out, false),
            };
            match result {
                Ok(n) => sent += n,
                Err(reason) => self.stats.drops[reason as usize] += 1,
            }
            self.replay_buf = Some(replay);
        }
        sent
    }

    /// Keeps the translated first fragment of an ICMP echo until the last fragment tells
    /// the message length its checksum needs (the IPv6 pseudo-header has it).
    fn hold(&mut self, packet: &[u8], mut h: Hold) -> Result<(), DropReason> {
        if packet.len() > HOLD_BYTES {
            return Err(DropReason::IcmpFragment);
        }
        let now = h.expires - FRAG_LIFETIME;
        let slot = self
            .held
            .iter()
            .position(|x| x.map_or(true, |x| x.expires <= now))
            .unwrap_or(self.frag_next % HOLD_SLOTS);
        self.frag_next = self.frag_next.wrapping_add(1);
        h.len = packet.len();
        self.hold_data[slot * HOLD_BYTES..slot * HOLD_BYTES + packet.len()].copy_from_slice(packet);
        self.held[slot] = Some(h);
        Ok(())
    }

    /// Completes and sends the held first fragment matching `key`, if any.
    fn release(&mut self, key: HoldKey, message_len: u32, now: u64, out: Out) -> usize {
        let Some(slot) = self
            .held
            .iter()
            .position(|x| x.is_some_and(|x| x.key == key && x.expires > now))
        else {
            return 0;
        };
        let Some(h) = self.held[slot].take() else {
            return 0;
        };
        let mut data = std::mem::take(&mut self.hold_data);
        let packet = &mut data[slot * HOLD_BYTES..slot * HOLD_BYTES + h.len];
        let length = (message_len >> 16) + (message_len & 0xffff);
        let (removed, added) = if h.length_added {
            (h.removed, h.added + length)
        } else {
            (h.removed + length, h.added)
        };
        let sent = if packet[0] >> 4 == 4 {
            let at = (packet[0] & 0xf) as usize * 4 + 2;
            let new = checksum::update(get_u16(packet, at), removed, added);
            set_u16(packet, at, new);
            out(packet, Offload::NONE);
            1
        } else {
            let at = IPV6_HEADER + FRAGMENT_HEADER + 2;
            let new = checksum::update(get_u16(packet, at), removed, added);
            set_u16(packet, at, new);
            if packet.len() > self.config.lowest_ipv6_mtu as usize {
                let fields = V6Fields {
                    traffic_class: (packet[0] << 4) | (packet[1] >> 4),
                    hop_limit: packet[7],
                    next_header: packet[40],
                    src: packet[8..24].try_into().unwrap_or([0; 16]),
                    dst: packet[24..40].try_into().unwrap_or([0; 16]),
                };
                let ident = u32::from_be_bytes([packet[44], packet[45], packet[46], packet[47]]);
                let n = self.emit_v6_fragments(&fields, &packet[48..], 0, true, ident, out);
                self.stats.v4_to_v6 -= 1; // counted once already
                n
            } else {
                out(packet, Offload::NONE);
                1
            }
        };
        self.hold_data = data;
        sent
    }

    /// RFC 7915 §4: an IPv4 packet without DF that becomes too big for `lowest_ipv6_mtu`
    /// is sent as IPv6 fragments (of the original fragment, if it was one).
    fn emit_v6_fragments(
        &mut self,
        f: &V6Fields,
        payload: &[u8],
        base_offset: usize,
        last_more: bool,
        ident: u32,
        out: Out,
    ) -> usize {
        let chunk_max = (self.config.lowest_ipv6_mtu as usize - IPV6_HEADER - FRAGMENT_HEADER) & !7;
        let mut sent = 0;
        let mut pos = 0;
        while pos < payload.len() || (pos == 0 && payload.is_empty()) {
            let len = chunk_max.min(payload.len() - pos);
            let more = pos + len < payload.len() || last_more;
            let s = &mut self.scratch[..];
            emit_ipv6_header(
                s,
                f.traffic_class,
                (FRAGMENT_HEADER + len) as u16,
                PROTO_FRAGMENT,
                f.hop_limit,
                &f.src,
                &f.dst,
            );
            emit_fragment_header(
                &mut s[40..48],
                f.next_header,
                base_offset + pos,
                more,
                ident,
            );
            s[48..48 + len].copy_from_slice(&payload[pos..pos + len]);
            out(&s[..48 + len], Offload::NONE);
            sent += 1;
            pos += len;
            if len == 0 {
                break;
            }
        }
        self.stats.v4_to_v6 += 1;
        self.stats.fragments_out += sent as u64;
        sent
    }

    /// An ICMPv4 error about a packet the IPv4 side got from a pool address: translated
    /// with its inner packet, to the IPv6 host bound to that pool address and port.
    fn icmp_error_v4_to_v6(
        &mut self,
        buf: &mut PacketBuf,
        ihl: usize,
        out: Out,
    ) -> Result<usize, DropReason> {
        let packet = &buf.data[buf.start..buf.end];
        let ip = Ipv4Packet::new_unchecked(packet);
        let (src4, ttl) = (ip.src(), ip.ttl());
        let message = &packet[ihl..];
        if message.len() < 8 + IPV4_HEADER {
            return Err(DropReason::Malformed);
        }
        if checksum::fold(add(0, message)) != 0xffff {
            return Err(DropReason::BadChecksum);
        }
        let Mapping::Error { kind, code, extra } = icmp::v4_to_v6(message[0], message[1]) else {
            return Err(DropReason::UnsupportedIcmp);
        };
        let inner = &message[8..];
        if inner[0] >> 4 != 4 {
            return Err(DropReason::Malformed);
        }
        let inner_ihl = (inner[0] & 0xf) as usize * 4;
        if inner_ihl < IPV4_HEADER || inner_ihl > inner.len() {
            return Err(DropReason::Malformed);
        }
        let inner_ip = Ipv4Packet::new_unchecked(inner);
        let (inner_src4, inner_dst4, inner_proto) =
            (inner_ip.src(), inner_ip.dst(), inner_ip.protocol());
        let inner_total = inner_ip.total_len();
        let inner_fragmented = inner_ip.is_fragment();
        let (inner_offset, inner_more, inner_ident) = (
            inner_ip.frag_offset(),
            inner_ip.more_frags(),
            inner_ip.ident(),
        );
        let (inner_tos, inner_ttl) = (inner_ip.tos(), inner_ip.ttl());
        if inner_total < inner_ihl {
            return Err(DropReason::Malformed);
        }
        let inner_l4 = &inner[inner_ihl..];
        let (kind_l4, pool_port) = match inner_proto {
            PROTO_TCP => (Proto::Tcp, ports(inner_l4).ok_or(DropReason::Malformed)?.0),
            PROTO_UDP => (Proto::Udp, ports(inner_l4).ok_or(DropReason::Malformed)?.0),
            PROTO_ICMP
                if inner_l4.len() >= 8
                    && matches!(inner_l4[0], icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY) =>
            {
                (Proto::Icmp, get_u16(inner_l4, 4))
            }
            _ => return Err(DropReason::UnsupportedProtocol),
        };
        let mapped = self
            .state
            .lookup4(kind_l4, inner_src4, pool_port)
            .ok_or(DropReason::NoBinding)?;
        let extra_bytes: [u8; 4] = match extra {
            Extra::Zero => [0; 4],
            Extra::Mtu => {
                let advertised = get_u16(message, 6);
                icmp::ptb_mtu_v4_to_v6(
                    advertised,
                    inner_total as u16,
                    self.config.mtu,
                    self.config.mtu,
                )
                .to_be_bytes()
            }
            Extra::Pointer => [
                0,
                0,
                0,
                icmp::pointer_v4_to_v6(message[4]).ok_or(DropReason::UnsupportedIcmp)?,
            ],
            Extra::FixedPointer(p) => p.to_be_bytes(),
        };
        let src6 = embed(&self.config.prefix, src4);
        let inner_dst6 = embed(&self.config.prefix, inner_dst4);
        let inner_next = if inner_proto == PROTO_ICMP {
            PROTO_ICMPV6
        } else {
            inner_proto
        };
        let inner_header_len = IPV6_HEADER + if inner_fragmented { FRAGMENT_HEADER } else { 0 };
        let room = 1280 - 48 - inner_header_len;
        let inner_payload = &inner_l4[..inner_l4.len().min(room)];

        let s = &mut self.scratch[..];
        let inner_at = 48;
        let inner_payload_field =
            inner_total - inner_ihl + if inner_fragmented { FRAGMENT_HEADER } else { 0 };
        emit_ipv6_header(
            &mut s[inner_at..inner_at + 40],
            inner_tos,
            inner_payload_field as u16,
            if inner_fragmented {
                PROTO_FRAGMENT
            } else {
                inner_next
            },
            inner_ttl,
            &mapped.addr,
            &inner_dst6,
        );
        if inner_fragmented {
            emit_fragment_header(
                &mut s[inner_at + 40..inner_at + 48],
                inner_next,
                inner_offset,
                inner_more,
                inner_ident as u32,
            );
        }
        let l4_at = inner_at + inner_header_len;
        s[l4_at..l4_at + inner_payload.len()].copy_from_slice(inner_payload);
        let l4 = &mut s[l4_at..l4_at + inner_payload.len()];
        rewrite_inner_v4_to_v6(
            l4,
            inner_proto,
            inner_src4,
            inner_dst4,
            &mapped.addr,
            &inner_dst6,
            mapped.port,
            inner_total - inner_ihl,
        );
        let message_len = 8 + inner_header_len + inner_payload.len();
        s[40] = kind;
        s[41] = code;
        s[42..44].copy_from_slice(&[0, 0]);
        s[44..48].copy_from_slice(&extra_bytes);
        emit_ipv6_header(
            &mut s[..40],
            0,
            message_len as u16,
            PROTO_ICMPV6,
            ttl - 1,
            &src6,
            &mapped.addr,
        );
        let csum = checksum::finish(
            checksum::pseudo_v6(&src6, &mapped.addr, PROTO_ICMPV6, message_len as u32)
                + add(0, &s[40..40 + message_len]),
        );
        set_u16(s, 42, csum);
        out(&s[..40 + message_len], Offload::NONE);
        self.stats.v4_to_v6 += 1;
        Ok(1)
    }

    /// ICMPv4 Time Exceeded to `dst` about `packet`, from the pool address it was sent to.
    fn time_exceeded_v4(
        &mut self,
        packet: &[u8],
        dst: [u8; 4],
        pool_addr: [u8; 4],
        now: u64,
        out: Out,
    ) {
        if !self.icmp_error_allowed(now) {
            return;
        }
        let quoted = &packet[..packet.len().min(576 - 28)];
        let ident = self.next_ident();
        let s = &mut self.scratch[..];
        let length = 8 + quoted.len();
        emit_ipv4_header(
            s,
            0,
            (20 + length) as u16,
            ident,
            0,
            64,
            PROTO_ICMP,
            pool_addr,
            dst,
        );
        s[20..28].copy_from_slice(&[icmp::V4_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0]);
        s[28..28 + quoted.len()].copy_from_slice(quoted);
        let csum = checksum::finish(add(0, &s[20..20 + length]));
        set_u16(s, 22, csum);
        out(&s[..20 + length], Offload::NONE);
        self.stats.icmp_errors_sent += 1;
    }
}

struct V6Fields {
    traffic_class: u8,
    hop_limit: u8,
    next_header: u8,
    src: [u8; 16],
    dst: [u8; 16],
}

fn emit_fragment_header(out: &mut [u8], next_header: u8, offset: usize, more: bool, ident: u32) {
    out[0] = next_header;
    out[1] = 0;
    let field = (offset as u16 & 0xfff8) | more as u16;
    out[2..4].copy_from_slice(&field.to_be_bytes());
    out[4..8].copy_from_slice(&ident.to_be_bytes());
}

/// IPv4 options: is there a Loose or Strict Source Route (RFC 7915 §4.1 drops those)?
fn has_source_route(options: &[u8]) -> bool {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => return false,
            1 => i += 1,
            131 | 137 => return true,
            _ => {
                let len = options.get(i + 1).copied().unwrap_or(0) as usize;
                if len < 2 {
                    return false;
                }
                i += len;
            }
        }
    }
    false
}

/// The IPv4-embedded address of `v4`, on the byte arrays the packet code works with.
fn embed(prefix: &Prefix, v4: [u8; 4]) -> [u8; 16] {
    prefix.embed(Ipv4Addr::from(v4)).octets()
}

/// The IPv4 address inside an IPv6 destination (or inner source) under the prefix.
fn extract(prefix: &Prefix, v6: [u8; 16]) -> Result<[u8; 4], DropReason> {
    prefix
        .extract(Ipv6Addr::from(v6))
        .map(|v4| v4.octets())
        .ok_or(DropReason::NotInPrefix)
}

/// Bytes of an RFC 6146 §3.5.2.2 probe.
pub const TCP_PROBE_LEN: usize = IPV6_HEADER + 20;

/// Writes the probe for an expired established session into `s` and returns its length:
/// a TCP segment without data from the IPv4 end (under the prefix) to the IPv6 end, with
/// sequence and acknowledgment numbers zero and only ACK set. Its sequence number is
/// outside the receiver's window, so a live endpoint answers with an ACK for the
/// connection (RFC 9293 §3.10.7.4), which brings the session back to ESTABLISHED. An
/// endpoint without the connection answers with a RST, a gone one not at all: either way
/// the session stays in TRANS until it is removed.
fn emit_tcp_probe(s: &mut [u8], prefix: &Prefix, probe: &Probe) -> usize {
    let src = embed(prefix, probe.remote);
    emit_ipv6_header(s, 0, 20, PROTO_TCP, 64, &src, &probe.host);
    let tcp = &mut s[IPV6_HEADER..TCP_PROBE_LEN];
    tcp.fill(0);
    set_u16(tcp, 0, probe.remote_port);
    set_u16(tcp, 2, probe.host_port);
    tcp[12] = 5 << 4; // data offset: 20 bytes, no options
    tcp[13] = 0x10; // ACK
                    // The RFC leaves the window open; not zero, so that no stack reads it as closed.
    set_u16(tcp, 14, 8192);
    let csum =
        checksum::finish(checksum::pseudo_v6(&src, &probe.host, PROTO_TCP, 20) + add(0, tcp));
    set_u16(tcp, 16, csum);
    TCP_PROBE_LEN
}

/// The IPv6 packet quoted in an ICMPv6 error: possibly truncated, so only the headers
/// present are walked.
struct InnerV6 {
    src: [u8; 16],
    dst: [u8; 16],
    traffic_class: u8,
    hop_limit: u8,
    payload_len: usize,
    protocol: u8,
    l4_off: usize,
    frag: Option<(usize, bool, u32)>,
}

impl InnerV6 {
    fn parse(b: &[u8]) -> Option<InnerV6> {
        if b.len() < IPV6_HEADER || b[0] >> 4 != 6 {
            return None;
        }
        let mut next = b[6];
        let mut off = IPV6_HEADER;
        let mut frag = None;
        loop {
            match next {
                PROTO_HOPOPTS | PROTO_DSTOPTS | PROTO_ROUTING => {
                    let len = (*b.get(off + 1)? as usize + 1) * 8;
                    next = *b.get(off)?;
                    off += len;
                }
                PROTO_FRAGMENT if frag.is_none() => {
                    let h = b.get(off..off + 8)?;
                    let field = u16::from_be_bytes([h[2], h[3]]);
                    frag = Some((
                        (field & 0xfff8) as usize,
                        field & 1 != 0,
                        u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    ));
                    next = h[0];
                    off += 8;
                }
                _ => break,
            }
        }
        if off > b.len() {
            return None;
        }
        Some(InnerV6 {
            src: b[8..24].try_into().ok()?,
            dst: b[24..40].try_into().ok()?,
            traffic_class: (b[0] << 4) | (b[1] >> 4),
            hop_limit: b[7],
            payload_len: u16::from_be_bytes([b[4], b[5]]) as usize,
            protocol: next,
            l4_off: off,
            frag,
        })
    }
    /// The upper-layer length the packet had, which its IPv4 translation carries.
    fn payload_len_after_ext(&self) -> usize {
        (self.payload_len + IPV6_HEADER).saturating_sub(self.l4_off)
    }
}

/// Rewrites the transport header quoted in an ICMPv6 error: the IPv6 host's port (the
/// destination port of the packet in error) becomes the pool port, checksum updated when
/// present in the quote.
fn rewrite_inner_v6_to_v4(
    l4: &mut [u8],
    ip: &InnerV6,
    src4: [u8; 4],
    mapped: &crate::state::Mapped4,
) {
    match ip.protocol {
        PROTO_TCP | PROTO_UDP if l4.len() >= 4 => {
            let old_port = get_u16(l4, 2);
            set_u16(l4, 2, mapped.port);
            let at = checksum_offset(ip.protocol);
            if l4.len() >= at + 2 && !(ip.protocol == PROTO_UDP && get_u16(l4, at) == 0) {
                let removed = add(add(0, &ip.src), &ip.dst) + old_port as u32;
                let added = add(add(0, &src4), &mapped.addr) + mapped.port as u32;
                let new = checksum::update(get_u16(l4, at), removed, added);
                set_u16(l4, at, new);
            }
        }
        PROTO_ICMPV6 if l4.len() >= 8 => {
            let Mapping::Query { kind } = icmp::v6_to_v4(l4[0], l4[1]) else {
                return;
            };
            let removed = checksum::pseudo_v6(
                &ip.src,
                &ip.dst,
                PROTO_ICMPV6,
                ip.payload_len_after_ext() as u32,
            ) + get_u16(l4, 0) as u32
                + get_u16(l4, 4) as u32;
            l4[0] = kind;
            set_u16(l4, 4, mapped.port);
            let added = get_u16(l4, 0) as u32 + mapped.port as u32;
            let new = checksum::update(get_u16(l4, 2), removed, added);
            set_u16(l4, 2, new);
        }
        _ => {}
    }
}

/// The transport header quoted in an ICMPv4 error: the pool port (source port of the
/// packet in error) becomes the IPv6 host's port.
#[allow(clippy::too_many_arguments)]
fn rewrite_inner_v4_to_v6(
    l4: &mut [u8],
    protocol: u8,
    src4: [u8; 4],
    dst4: [u8; 4],
    src6: &[u8; 16],
    dst6: &[u8; 16],
    port6: u16,
    l4_len: usize,
) {
    match protocol {
        PROTO_TCP | PROTO_UDP if l4.len() >= 4 => {
            let old_port = get_u16(l4, 0);
            set_u16(l4, 0, port6);
            let at = checksum_offset(protocol);
            if l4.len() >= at + 2 && !(protocol == PROTO_UDP && get_u16(l4, at) == 0) {
                let removed = add(add(0, &src4), &dst4) + old_port as u32;
                let added = add(add(0, src6), dst6) + port6 as u32;
                let new = checksum::update(get_u16(l4, at), removed, added);
                set_u16(l4, at, new);
            }
        }
        PROTO_ICMP if l4.len() >= 8 => {
            let Mapping::Query { kind } = icmp::v4_to_v6(l4[0], l4[1]) else {
                return;
            };
            let removed = get_u16(l4, 0) as u32 + get_u16(l4, 4) as u32;
            l4[0] = kind;
            set_u16(l4, 4, port6);
            let added = get_u16(l4, 0) as u32
                + port6 as u32
                + checksum::pseudo_v6(src6, dst6, PROTO_ICMPV6, l4_len as u32);
            let new = checksum::update(get_u16(l4, 2), removed, added);
            set_u16(l4, 2, new);
        }
        _ => {}
    }
}
