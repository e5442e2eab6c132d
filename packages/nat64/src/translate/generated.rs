//! What the translator sends of its own: ICMP errors (Time Exceeded, Address Unreachable)
//! and the probes of RFC 6146 §3.5.2.2.

use super::*;
use crate::state::{Probe, TCP_ACK};
use crate::wire::transport::{ICMP_HEADER, TCP_HEADER};

/// Bytes of an RFC 6146 §3.5.2.2 probe.
pub const TCP_PROBE_LEN: usize = IPV6_HEADER + TCP_HEADER;
/// The hop limit and TTL of what the translator sends itself.
const OWN_HOP_LIMIT: u8 = 64;
/// RFC 4443 §2.4 (c): an ICMPv6 error fits in the minimum MTU.
const ICMPV6_ERROR_MAX: usize = 1280;
/// RFC 792 / RFC 1812 §4.3.2.3: an ICMPv4 error fits in 576 bytes.
const ICMPV4_ERROR_MAX: usize = 576;
/// The probe's window: the RFC leaves it open; not zero, so that no stack reads it as closed.
const PROBE_WINDOW: u16 = 8192;

impl Nat64 {
    /// The address errors we generate towards IPv6 hosts come from: the first pool
    /// address under the prefix.
    fn own_v6(&self) -> [u8; 16] {
        let pool = self.config.state.pool.first();
        embed(&self.config.prefix, pool.map_or([192, 0, 0, 1], |r| r.addr))
    }

    /// ICMPv6 Time Exceeded (hop limit) to `dst` about `packet`.
    pub(super) fn time_exceeded_v6(&mut self, packet: &[u8], dst: &[u8; 16], now: u64, out: Out) {
        self.icmpv6_error(packet, dst, icmp::V6_TIME_EXCEEDED, 0, now, out);
    }

    /// An ICMPv6 error from the translator to `dst` quoting `packet`.
    pub(super) fn icmpv6_error(
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
        let at = IPV6_HEADER + ICMP_HEADER;
        let quoted = &packet[..packet.len().min(ICMPV6_ERROR_MAX - at)];
        let s = &mut self.scratch[..];
        let length = ICMP_HEADER + quoted.len();
        Ipv6Repr {
            traffic_class: 0,
            payload_len: length as u16,
            next_header: PROTO_ICMPV6,
            hop_limit: OWN_HOP_LIMIT,
            src,
            dst: *dst,
        }
        .emit(s);
        s[at..at + quoted.len()].copy_from_slice(quoted);
        let message = &mut s[IPV6_HEADER..IPV6_HEADER + length];
        IcmpRepr {
            msg_type: kind,
            code,
            rest: [0; 4],
        }
        .emit(message);
        let pseudo = checksum::pseudo_v6(&src, dst, PROTO_ICMPV6, length as u32);
        IcmpRepr::finish(message, pseudo);
        out(&s[..IPV6_HEADER + length], Offload::NONE);
        self.stats.icmp_errors_sent += 1;
    }

    /// ICMPv4 Time Exceeded to `dst` about `packet`, from the pool address it was sent to.
    pub(super) fn time_exceeded_v4(
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
        let kind = icmp::V4_TIME_EXCEEDED;
        let len = self.emit_icmpv4_error(packet, dst, pool_addr, kind, 0, ICMPV4_ERROR_MAX);
        out(&self.scratch[..len], Offload::NONE);
        self.stats.icmp_errors_sent += 1;
    }

    /// RFC 6146 §3.5.1: an IPv4 UDP packet `ip` (in `buf`) to a pool address and port that
    /// nothing is bound to gets an ICMP Port Unreachable from that address. A hairpinned one
    /// (from an IPv6 host through the pool) gets the error as ICMPv6, to that host.
    pub(super) fn port_unreachable_v4(
        &mut self,
        buf: &PacketBuf,
        ip: &Ipv4Repr,
        hairpin: bool,
        now: u64,
        out: Out,
    ) {
        if !self.icmp_error_allowed(now) {
            return;
        }
        let (kind, code) = (icmp::V4_DEST_UNREACH, 3);
        // A hairpinned one ends as ICMPv6: it may quote up to what fits in 1280 bytes then
        // (the translation cuts it there), not only 576.
        let max = if hairpin {
            ICMPV6_ERROR_MAX
        } else {
            ICMPV4_ERROR_MAX
        };
        let len = self.emit_icmpv4_error(buf.packet(), ip.src, ip.dst, kind, code, max);
        if hairpin {
            // Back through the translation of ICMPv4 errors, which finds the sender's binding.
            let Some(mut error) = self.replay_buf.take() else {
                return;
            };
            error.load(&self.scratch[..len]);
            let header = Ipv4Packet::new_checked(error.packet()).map(|e| e.repr());
            if let Ok(header) = header {
                let _ = self.icmp_error_v4_to_v6(&error, &header, IPV4_HEADER, out);
            }
            self.replay_buf = Some(error);
        } else {
            out(&self.scratch[..len], Offload::NONE);
        }
        self.stats.icmp_errors_sent += 1;
    }

    /// Writes an ICMPv4 error from `src` to `dst` quoting `packet` (as much as fits in
    /// `max` bytes) into the scratch buffer; returns its length.
    fn emit_icmpv4_error(
        &mut self,
        packet: &[u8],
        dst: [u8; 4],
        src: [u8; 4],
        kind: u8,
        code: u8,
        max: usize,
    ) -> usize {
        let at = IPV4_HEADER + ICMP_HEADER;
        let quoted = &packet[..packet.len().min(max - at)];
        let ident = self.next_ident();
        let s = &mut self.scratch[..];
        let length = ICMP_HEADER + quoted.len();
        Ipv4Repr {
            total_len: (IPV4_HEADER + length) as u16,
            ident,
            ttl: OWN_HOP_LIMIT,
            protocol: PROTO_ICMP,
            src,
            dst,
            ..Ipv4Repr::default()
        }
        .emit(s);
        s[at..at + quoted.len()].copy_from_slice(quoted);
        let message = &mut s[IPV4_HEADER..IPV4_HEADER + length];
        IcmpRepr {
            msg_type: kind,
            code,
            rest: [0; 4],
        }
        .emit(message);
        IcmpRepr::finish(message, 0);
        IPV4_HEADER + length
    }
}

/// Writes the probe for an expired established session into `s` and returns its length:
/// a TCP segment without data from the IPv4 end (under the prefix) to the IPv6 end, with
/// sequence and acknowledgment numbers zero and only ACK set. Its sequence number is
/// outside the receiver's window, so a live endpoint answers with an ACK for the
/// connection (RFC 9293 §3.10.7.4), which brings the session back to ESTABLISHED. An
/// endpoint without the connection answers with a RST, a gone one not at all: either way
/// the session stays in TRANS until it is removed.
pub(super) fn emit_tcp_probe(s: &mut [u8], prefix: &Prefix, probe: &Probe) -> usize {
    let src = embed(prefix, probe.remote);
    Ipv6Repr {
        traffic_class: 0,
        payload_len: TCP_HEADER as u16,
        next_header: PROTO_TCP,
        hop_limit: OWN_HOP_LIMIT,
        src,
        dst: probe.host,
    }
    .emit(s);
    let pseudo = checksum::pseudo_v6(&src, &probe.host, PROTO_TCP, TCP_HEADER as u32);
    TcpRepr {
        src_port: probe.remote_port,
        dst_port: probe.host_port,
        seq: 0,
        ack: 0,
        flags: TCP_ACK,
        window: PROBE_WINDOW,
    }
    .emit(&mut s[IPV6_HEADER..], pseudo);
    TCP_PROBE_LEN
}
