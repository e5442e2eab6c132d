//! The stateful translator: RFC 7915 header translation in place, driven by the RFC 6146
//! state, behind one sans-IO entry point, [`Nat64::process`].
//!
//! A packet read from the TUN device is either IPv6 (from an IPv6-only host, addressed to the
//! prefix) or IPv4 (from the IPv4 side, addressed to the pool). The common cases (TCP, UDP,
//! ICMP echo, fragments) are rewritten in the caller's buffer: the new IP header is written
//! over the end of the old one, so IPv4 -> IPv6 needs headroom for the 20 (28 with a
//! Fragment header) extra bytes; transport checksums are updated incrementally. ICMP errors,
//! generated errors and IPv6 fragments are built in a scratch buffer allocated once.
//!
//! Modules: `v6_to_v4` and `v4_to_v6` translate each direction, ICMP errors included;
//! `generated` writes what the translator sends of its own (ICMP errors, TCP probes);
//! `frag` keeps fragment state, [`crate::wire`] has the header views.

#![forbid(unsafe_code)]

mod generated;
mod v4_to_v6;
mod v6_to_v4;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::checksum;
use crate::frag::{FragKey, Fragments, HoldKey, PARK_SLOTS};
use crate::held_syn::{HeldSyns, SynKey};
use crate::icmp;
use crate::rfc6052::{self, Prefix};
use crate::state::{Proto, State, StateConfig};
use crate::wire::*;
use v6only_common::ratelimit::RateLimit;
// Not wire::Result: the translator fails with a DropReason.
use std::result::Result;

pub use crate::packet_buf::{Offload, PacketBuf, HEADROOM, MAX_PACKET};
pub use crate::stats::{DropReason, Stats, Verdict};
pub use generated::TCP_PROBE_LEN;

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
    /// IPv4 -> IPv6: Traffic Class zero instead of the IPv4 TOS (RFC 7915 §4.1 allows
    /// either; Jool's `zeroize-traffic-class`, off by default).
    pub zeroize_traffic_class: bool,
    /// ICMPv4 errors -> ICMPv6: the source is the error's own source under the prefix (the
    /// router that sent it, so traceroute shows the path), not the destination of the packet
    /// in error as RFC 6146 has it. Jool's `source-icmpv6-errors-better`, on by default.
    pub source_icmpv6_errors_better: bool,
}

/// Where packets to send go, with what the kernel should still do on them.
type Out<'a> = &'a mut dyn FnMut(&[u8], Offload);

pub struct Nat64 {
    config: Config,
    state: State,
    stats: Stats,
    epoch: Instant,
    scratch: Box<[u8]>,
    frags: Fragments,
    /// IPv4 SYNs waiting for a simultaneous open (RFC 6146 §3.5.2.2).
    syns: HeldSyns,
    /// Set by a first fragment's translation: its later fragments may be parked.
    first_fragment: Option<FragKey>,
    /// Where parked fragments are translated once their first fragment has been.
    replay_buf: Option<Box<PacketBuf>>,
    icmp_error_second: u64,
    icmp_error_tokens: u32,
    ident: u16,
    /// The refusal warning: one per REFUSAL_LOG_INTERVAL, carrying the count.
    refusal_limit: RateLimit,
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
            frags: Fragments::new(),
            syns: HeldSyns::new(),
            first_fragment: None,
            replay_buf: Some(Box::new(PacketBuf::new())),
            icmp_error_second: u64::MAX,
            icmp_error_tokens: 0,
            ident: 1,
            refusal_limit: RateLimit::new(REFUSAL_LOG_INTERVAL, 1),
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

    /// The first `limit` sessions as of `now` (see [`State::sessions`]), for
    /// `nat64 sessions`.
    pub fn sessions(&self, now: Instant, limit: usize) -> Vec<crate::state::SessionInfo> {
        self.state.sessions(self.seconds(now), limit)
    }

    fn seconds(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    /// Expires sessions; call about once a second. Established TCP sessions whose lifetime
    /// ran out are probed (RFC 6146 §3.5.2.2): the probes go to `out`, for the TUN device.
    /// Returns the number of sessions removed.
    pub fn expire(&mut self, now: Instant, out: Out) -> usize {
        let now = self.seconds(now);
        self.frags.expire_parked(now, &mut self.stats);
        self.expire_syns(now, out);
        let (prefix, scratch, stats) = (&self.config.prefix, &mut self.scratch, &mut self.stats);
        self.state.expire(now, &mut |probe| {
            let len = generated::emit_tcp_probe(scratch, prefix, &probe);
            out(&scratch[..len], Offload::NONE);
            stats.tcp_probes += 1;
        })
    }

    /// When [`Nat64::expire`] next has something to do.
    pub fn next_expiry(&self) -> Option<Instant> {
        let next = match (self.state.next_expiry(), self.syns.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|s| self.epoch + Duration::from_secs(s))
    }

    /// Translates the packet in `buf`; every packet to send (translated packets, fragments,
    /// ICMP errors) is passed to `out`, which writes it to the TUN device.
    pub fn process(&mut self, buf: &mut PacketBuf, now: Instant, out: Out) -> Verdict {
        let now = self.seconds(now);
        // Only TCP super-packets are left partial: everything else is completed here, so
        // that every other path sees ordinary checksums.
        if buf.offload.partial && buf.offload.gso_size == 0 && !buf.complete_checksum() {
            self.stats.count_drop(DropReason::Malformed);
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
                self.stats.count_drop(reason);
                if matches!(
                    reason,
                    DropReason::SessionLimit | DropReason::HostLimit | DropReason::PoolExhausted
                ) {
                    self.log_refusal(reason, now);
                    self.refuse_v6(buf.packet(), now, out);
                }
                Verdict::Dropped(reason)
            }
        }
    }

    /// RFC 6146 §3.5.1.1: tells the IPv6 host that a new flow was refused (Address
    /// Unreachable), so that it fails fast instead of retrying into a full table.
    fn refuse_v6(&mut self, packet: &[u8], now: u64, out: Out) {
        let Ok(ip) = Ipv6Packet::new_checked(packet) else {
            return; // an IPv4 packet
        };
        let is_error =
            ip.next_header() == PROTO_ICMPV6 && packet.get(IPV6_HEADER).is_some_and(|&t| t < 128);
        if !is_error {
            let src = ip.src();
            self.icmpv6_error(packet, &src, icmp::V6_DEST_UNREACH, 3, now, out);
        }
    }

    /// Refusals not yet reported, and the second of the last warning (for tests).
    #[cfg(test)]
    pub(crate) fn refusal_log(&self) -> (u64, Option<u64>) {
        (
            self.refusal_limit.held_back(),
            self.refusal_limit.window_start(),
        )
    }

    /// Per-packet path: one warning per REFUSAL_LOG_INTERVAL at most, carrying the count of
    /// refusals since the previous one (every refusal is counted in the stats as well).
    fn log_refusal(&mut self, reason: DropReason, now: u64) {
        let Some(held_back) = self.refusal_limit.admit(now) else {
            return;
        };
        log::warn!(
            "refusing new flows ({}): {} refused since the last message; sessions tcp {} udp {} icmp {}, max {}",
            reason.name(),
            held_back + 1,
            self.state.session_count(Proto::Tcp),
            self.state.session_count(Proto::Udp),
            self.state.session_count(Proto::Icmp),
            self.config.state.max_sessions
        );
    }

    /// RFC 6146 §3.5.2.2: held IPv4 SYNs that no IPv6 SYN claimed in time get ICMP Port
    /// Unreachable.
    fn expire_syns(&mut self, now: u64, out: Out) {
        let Some(mut syn) = self.replay_buf.take() else {
            return;
        };
        while self.syns.take_expired(now, &mut syn) {
            if let Ok(ip) = Ipv4Packet::new_checked(syn.packet()).map(|p| p.repr()) {
                self.port_unreachable_v4(&syn, &ip, false, now, out);
            }
        }
        self.replay_buf = Some(syn);
    }

    /// The IPv4 SYN held for the flow an IPv6 SYN just created, translated now.
    fn release_syn(&mut self, key: SynKey, now: u64, out: Out) -> usize {
        let Some(mut syn) = self.replay_buf.take() else {
            return 0;
        };
        let sent = if self.syns.take(key, &mut syn) {
            self.translate_v4(&mut syn, now, out, false)
                .unwrap_or_else(|reason| {
                    self.stats.count_drop(reason);
                    0
                })
        } else {
            0
        };
        self.replay_buf = Some(syn);
        sent
    }

    /// Translates the fragments parked for `key`, now that the first one has been.
    fn replay(&mut self, key: FragKey, now: u64, out: Out) -> usize {
        let mut sent = 0;
        for slot in 0..PARK_SLOTS {
            let Some(mut replay) = self.replay_buf.take() else {
                break;
            };
            if self.frags.unpark(slot, key, now, &mut replay) {
                let result = match key {
                    FragKey::V6(..) => self.translate_v6(&mut replay, now, out),
                    FragKey::V4(..) => self.translate_v4(&mut replay, now, out, false),
                };
                match result {
                    Ok(n) => sent += n,
                    Err(reason) => self.stats.count_drop(reason),
                }
            }
            self.replay_buf = Some(replay);
        }
        sent
    }

    /// Completes and sends the held first fragment of the echo `key`, whose whole message
    /// is `message_len` bytes long, if it is held.
    fn release(&mut self, key: HoldKey, message_len: u32, now: u64, out: Out) -> usize {
        let Some((packet, h)) = self.frags.release(key, now) else {
            return 0;
        };
        let length = (message_len >> 16) + (message_len & 0xffff);
        let (removed, added) = if h.length_added {
            (h.removed, h.added + length)
        } else {
            (h.removed + length, h.added)
        };
        let update = |icmp: &mut [u8]| {
            let Ok(mut message) = IcmpPacket::new_checked(icmp) else {
                return;
            };
            let sum = checksum::update(message.checksum(), removed, added);
            message.set_checksum(sum);
        };
        if let Ok(mut ip) = Ipv4Packet::new_checked(&mut *packet) {
            update(ip.payload_mut());
            out(packet, Offload::NONE);
            return 1;
        }
        let (header, fragment, upper_offset) = {
            let Ok(mut ip) = Ipv6Packet::new_checked(&mut *packet) else {
                return 0;
            };
            update(ip.upper_mut());
            let header = Ipv6Repr {
                next_header: ip.upper_protocol(),
                ..ip.repr()
            };
            (header, ip.fragment().unwrap_or_default(), ip.upper_offset())
        };
        if packet.len() <= self.config.lowest_ipv6_mtu as usize {
            out(packet, Offload::NONE);
            return 1;
        }
        let sent = v4_to_v6::emit_v6_fragments(
            &mut self.scratch,
            self.config.lowest_ipv6_mtu,
            &header,
            &packet[upper_offset..],
            fragment,
            out,
        );
        self.stats.fragments_out += sent as u64;
        sent
    }

    /// An IPv4 address on the far side (destination of IPv6 packets, source of IPv4 ones).
    /// The same rule dns64 applies before it synthesizes an AAAA record.
    fn check_remote4(&self, addr: [u8; 4]) -> Result<(), DropReason> {
        let allow_non_global = self.config.allow_non_global;
        match (self.config.prefix).check_v4(Ipv4Addr::from(addr), allow_non_global) {
            Ok(()) => Ok(()),
            Err(rfc6052::Refusal::NotUnicastPeer) => Err(DropReason::BadAddress),
            Err(rfc6052::Refusal::NonGlobal) => Err(DropReason::NonGlobal),
        }
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1).max(1);
        self.ident
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
}

/// A translated ICMP error is rebuilt and its checksum computed anew; `received_sum`, the
/// folded sum of the message received (0xffff when its checksum was right), is then added
/// back, so that a wrong checksum stays wrong by the same amount (RFC 1624 arithmetic): the
/// end host decides, as behind any router.
fn keep_checksum_error(message: &mut [u8], received_sum: u16) {
    let computed = u16::from_be_bytes([message[2], message[3]]);
    let kept = checksum::update(computed, received_sum as u32, 0);
    message[2..4].copy_from_slice(&kept.to_be_bytes());
}

/// The hop count a translated packet is written to the TUN device with. The kernel
/// decremented it when it forwarded the packet into the TUN device and decrements it again
/// when it forwards the translation out: one of the two is given back here, so that the
/// router is one hop (RFC 7915 §4.1/§5.1's decrement is the kernel's first), hairpinned or
/// not. Packets reach us with at least 1 (the kernel does not forward a packet it would
/// have to decrement to 0), so what leaves has at least 1 as well.
#[inline(always)]
fn egress_hops(hops: u8) -> u8 {
    hops.saturating_add(1)
}

impl Nat64 {
    /// RFC 7915 §4.1: the IPv4 TOS, or zero when so configured.
    #[inline(always)]
    fn traffic_class(&self, tos: u8) -> u8 {
        if self.config.zeroize_traffic_class {
            0
        } else {
            tos
        }
    }
}

/// The IPv4-embedded address of `v4`, on the byte arrays the packet code works with.
fn embed(prefix: &Prefix, v4: [u8; 4]) -> [u8; 16] {
    prefix.embed(Ipv4Addr::from(v4)).octets()
}

/// The IPv4 address inside an IPv6 destination (or inner source) under the prefix.
fn extract(prefix: &Prefix, v6: [u8; 16]) -> Result<[u8; 4], DropReason> {
    (prefix.extract(Ipv6Addr::from(v6)))
        .map(|v4| v4.octets())
        .ok_or(DropReason::NotInPrefix)
}

/// ICMP and ICMPv6 have different protocol numbers; TCP and UDP keep theirs.
fn v6_protocol(v4_protocol: u8) -> u8 {
    if v4_protocol == PROTO_ICMP {
        PROTO_ICMPV6
    } else {
        v4_protocol
    }
}

fn v4_protocol(v6_protocol: u8) -> u8 {
    if v6_protocol == PROTO_ICMPV6 {
        PROTO_ICMP
    } else {
        v6_protocol
    }
}

/// The pseudo-header sum of the two addresses alone (RFC 1624 updates of address changes).
#[inline(always)]
fn address_sum(src: &[u8], dst: &[u8]) -> u32 {
    checksum::add(checksum::add(0, src), dst)
}

/// The checksum of a TCP or UDP header after its addresses (pseudo-header) and one port
/// change: the update both directions make. A partial checksum (TUN offload) holds only the
/// pseudo-header, so the port is left out of it.
#[inline(always)]
fn updated_checksum(
    l4: &TransportPacket<&mut [u8]>,
    partial: bool,
    (old_addresses, new_addresses): (u32, u32),
    (old_port, new_port): (u16, u16),
) -> u16 {
    let old = l4.checksum();
    if partial {
        return checksum::update_partial(old, old_addresses, new_addresses);
    }
    let removed = old_addresses + old_port as u32;
    let added = new_addresses + new_port as u32;
    if l4.is_udp() {
        checksum::update_udp(old, removed, added)
    } else {
        checksum::update(old, removed, added)
    }
}
