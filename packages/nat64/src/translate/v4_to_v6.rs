//! IPv4 -> IPv6: packets from the IPv4 side to the pool, fragmented to the lowest IPv6 MTU
//! when they may be, and ICMPv4 errors about packets the pool sent.

use super::*;
use crate::frag::{Hold, Translation4, FRAG_LIFETIME};
use crate::icmp::{Extra, Mapping};
use crate::state::{Flow, TCP_ACK, TCP_RST, TCP_SYN};
use crate::wire::transport::ICMP_HEADER;

/// The IPv6 minimum MTU (RFC 8200 §5), which an ICMPv6 error must fit in.
const IPV6_MIN_MTU: usize = 1280;
/// TCP's default maximum segment size (RFC 9293 §3.7.1), the floor of a clamped GSO size.
const TCP_DEFAULT_MSS: usize = 536;

impl Nat64 {
    pub(super) fn translate_v4(
        &mut self,
        buf: &mut PacketBuf,
        now: u64,
        out: Out,
        hairpin: bool,
    ) -> Result<usize, DropReason> {
        let result = self.translate_v4_packet(buf, now, out, hairpin);
        if result != Err(DropReason::NoBinding) {
            return result;
        }
        // Left untouched: refused before any rewriting.
        let Ok(view) = Ipv4Packet::new_checked(buf.packet()) else {
            return result;
        };
        let (ip, ihl) = (view.repr(), view.header_len());
        if ip.frag_offset != 0 || !self.state.in_pool(ip.dst) {
            return result;
        }
        match ip.protocol {
            PROTO_UDP => self.port_unreachable_v4(buf, &ip, hairpin, now, out),
            PROTO_TCP => {
                let Ok(tcp) = TransportPacket::new_checked(&buf.packet()[ihl..], PROTO_TCP) else {
                    return result;
                };
                if tcp.tcp_flags() & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN {
                    return result;
                }
                if hairpin {
                    // Both ends are IPv6 hosts of ours: the sender hears at once.
                    self.port_unreachable_v4(buf, &ip, true, now, out);
                    return result;
                }
                // RFC 6146 §3.5.2.2: perhaps a simultaneous open, the IPv6 host's SYN on
                // its way; held tcp_incoming_syn seconds, then Port Unreachable.
                let key = SynKey {
                    remote: ip.src,
                    remote_port: tcp.src_port(),
                    pool: ip.dst,
                    pool_port: tcp.dst_port(),
                };
                let expires = now + self.config.state.timeouts.tcp_incoming_syn as u64;
                if self.syns.hold(buf.packet(), key, expires) {
                    self.stats.syns_held += 1;
                    return Ok(0);
                }
            }
            _ => {}
        }
        result
    }

    fn translate_v4_packet(
        &mut self,
        buf: &mut PacketBuf,
        now: u64,
        out: Out,
        hairpin: bool,
    ) -> Result<usize, DropReason> {
        let (ip, ihl) = {
            let view = Ipv4Packet::new_checked(buf.packet())?;
            if !view.header_checksum_ok() {
                return Err(DropReason::BadChecksum);
            }
            if view.has_source_route() {
                return Err(DropReason::SourceRoute);
            }
            (view.repr(), view.header_len())
        };
        let total = ip.total_len as usize;
        buf.truncate(total);
        if !self.state.in_pool(ip.dst) {
            return Err(DropReason::NoBinding);
        }
        if !hairpin {
            self.check_remote4(ip.src)?;
        }
        let first = ip.frag_offset == 0;
        let fragmented = ip.more_frags || ip.frag_offset != 0;
        let is_icmp_error = ip.protocol == PROTO_ICMP
            && first
            && (buf.packet().get(ihl)).is_some_and(|&t| icmp::v4_is_error(t));
        // As for IPv6: only a packet of our own host can come with 0.
        if ip.ttl == 0 {
            if !is_icmp_error && first {
                self.time_exceeded_v4(buf.packet(), ip.src, ip.dst, now, out);
            }
            return Err(DropReason::HopLimit);
        }
        if is_icmp_error {
            if fragmented {
                return Err(DropReason::IcmpFragment);
            }
            return self.icmp_error_v4_to_v6(buf, &ip, ihl, out);
        }
        let src6 = embed(&self.config.prefix, ip.src);
        let mut hold = None;
        let partial = buf.offload.partial;
        let mut gso_size = buf.offload.gso_size;
        let dst6 = if first {
            let l4 = &mut buf.packet_mut()[ihl..];
            let mapped = match ip.protocol {
                PROTO_TCP | PROTO_UDP => {
                    let mut l4 = TransportPacket::new_checked(l4, ip.protocol)?;
                    let (sport, dport) = (l4.src_port(), l4.dst_port());
                    let zero_udp = l4.checksum_absent() && !partial;
                    if zero_udp && fragmented {
                        return Err(DropReason::UdpZeroChecksumFragment);
                    }
                    let proto = if l4.is_udp() { Proto::Udp } else { Proto::Tcp };
                    let flow = Flow {
                        proto,
                        src: ip.src,
                        sport,
                        dst: ip.dst,
                        dport,
                    };
                    let m = self.state.inbound(flow, l4.tcp_flags(), now)?;
                    l4.set_dst_port(m.port);
                    let new = if zero_udp {
                        // RFC 7915 §4.5: compute the checksum IPv6 requires.
                        let length = l4.segment_len() as u32;
                        let pseudo = checksum::pseudo_v6(&src6, &m.addr, PROTO_UDP, length);
                        match l4.compute_checksum(pseudo) {
                            0 => 0xffff,
                            sum => sum,
                        }
                    } else {
                        let addresses =
                            (address_sum(&ip.src, &ip.dst), address_sum(&src6, &m.addr));
                        updated_checksum(&l4, partial, addresses, (dport, m.port))
                    };
                    if gso_size != 0 && !l4.is_udp() {
                        // Segments grow by 20 bytes of header: keep them within the MTU.
                        let headers = IPV6_HEADER + l4.tcp_header_len();
                        let room = (self.config.mtu as usize).saturating_sub(headers);
                        gso_size = gso_size.min(room.max(TCP_DEFAULT_MSS) as u16);
                    }
                    l4.set_checksum(new);
                    m
                }
                PROTO_ICMP => {
                    let (kind, code) = (l4.first(), l4.get(1));
                    let Mapping::Query { kind } =
                        icmp::v4_to_v6(kind.copied().unwrap_or(0), code.copied().unwrap_or(0))
                    else {
                        return Err(DropReason::UnsupportedIcmp);
                    };
                    // Not checked: updated incrementally, a wrong checksum stays wrong.
                    let mut echo = IcmpPacket::new_checked(l4)?;
                    let id = echo.echo_ident();
                    let flow = Flow {
                        proto: Proto::Icmp,
                        src: ip.src,
                        sport: 0,
                        dst: ip.dst,
                        dport: id,
                    };
                    let m = self.state.inbound(flow, 0, now)?;
                    let removed = echo.type_code_word() as u32 + id as u32;
                    echo.set_msg_type(kind);
                    echo.set_echo_ident(m.port);
                    let added = echo.type_code_word() as u32
                        + m.port as u32
                        + address_sum(&src6, &m.addr)
                        + PROTO_ICMPV6 as u32;
                    if ip.more_frags {
                        // The pseudo-header length is the whole message's: known at the last fragment.
                        hold = Some(Hold {
                            key: HoldKey::V4(ip.src, ip.dst, ip.ident),
                            len: 0,
                            removed,
                            added,
                            length_added: true,
                            expires: now + FRAG_LIFETIME,
                        });
                    } else {
                        let length = echo.message_len() as u32;
                        let length = (length >> 16) + (length & 0xffff);
                        let new = checksum::update(echo.checksum(), removed, added + length);
                        echo.set_checksum(new);
                    }
                    m
                }
                _ => return Err(DropReason::UnsupportedProtocol),
            };
            if ip.more_frags {
                self.first_fragment = Some(FragKey::V4(ip.src, ip.dst, ip.ident, ip.protocol));
                self.frags.remember4(Translation4 {
                    src: ip.src,
                    dst: ip.dst,
                    ident: ip.ident,
                    protocol: ip.protocol,
                    dst6: mapped.addr,
                    expires: now + FRAG_LIFETIME,
                });
            }
            mapped.addr
        } else {
            let key = FragKey::V4(ip.src, ip.dst, ip.ident, ip.protocol);
            match self.frags.destination6(key, now) {
                Some(dst6) => dst6,
                None => {
                    self.frags.park(buf.packet(), key, now, &mut self.stats)?;
                    return Ok(0);
                }
            }
        };
        buf.offload.gso_size = gso_size;

        let header = Ipv6Repr {
            traffic_class: self.traffic_class(ip.tos),
            payload_len: 0,
            next_header: v6_protocol(ip.protocol),
            hop_limit: egress_hops(ip.ttl),
            src: src6,
            dst: dst6,
        };
        let payload_len = total - ihl;
        let header_len = IPV6_HEADER + if fragmented { FRAGMENT_HEADER } else { 0 };
        // The last fragment of a fragmented echo releases its held first fragment.
        let release = (ip.protocol == PROTO_ICMP && ip.frag_offset != 0 && !ip.more_frags)
            .then_some((
                HoldKey::V4(ip.src, ip.dst, ip.ident),
                (ip.frag_offset + payload_len) as u32,
            ));
        if hold.is_none()
            && buf.offload.gso_size == 0
            && !ip.dont_frag
            && header_len + payload_len > self.config.lowest_ipv6_mtu as usize
        {
            // RFC 7915 §4.1: the identification is the IPv4 one, fragmented or not.
            let fragment = Fragment {
                offset: ip.frag_offset,
                more: ip.more_frags,
                ident: ip.ident as u32,
            };
            let mut sent = emit_v6_fragments(
                &mut self.scratch,
                self.config.lowest_ipv6_mtu,
                &header,
                &buf.packet()[ihl..],
                fragment,
                out,
            );
            self.stats.v4_to_v6 += 1;
            self.stats.fragments_out += sent as u64;
            if let Some((key, length)) = release {
                sent += self.release(key, length, now, out);
            }
            return Ok(sent);
        }
        let packet = buf.replace_header(ihl, header_len);
        if fragmented {
            Ipv6Repr {
                payload_len: (FRAGMENT_HEADER + payload_len) as u16,
                next_header: PROTO_FRAGMENT,
                ..header
            }
            .emit(packet);
            let fragment = Fragment {
                offset: ip.frag_offset,
                more: ip.more_frags,
                ident: ip.ident as u32,
            };
            fragment.emit(header.next_header, &mut packet[IPV6_HEADER..]);
        } else {
            Ipv6Repr {
                payload_len: payload_len as u16,
                ..header
            }
            .emit(packet);
        }
        buf.offload.csum_start = header_len as u16;
        self.stats.v4_to_v6 += 1;
        if let Some(h) = hold {
            self.frags.hold(buf.packet(), h)?;
            return Ok(0);
        }
        out(buf.packet(), buf.offload);
        let mut sent = 1;
        if let Some((key, length)) = release {
            sent += self.release(key, length, now, out);
        }
        Ok(sent)
    }

    /// An ICMPv4 error about a packet the IPv4 side got from a pool address: translated
    /// with its inner packet, to the IPv6 host bound to that pool address and port.
    pub(super) fn icmp_error_v4_to_v6(
        &mut self,
        buf: &PacketBuf,
        ip: &Ipv4Repr,
        ihl: usize,
        out: Out,
    ) -> Result<usize, DropReason> {
        let message = &buf.packet()[ihl..];
        if message.len() < ICMP_HEADER + IPV4_HEADER {
            return Err(DropReason::Malformed);
        }
        let error = IcmpPacket::new_checked(message)?;
        let received_sum = error.sum(0);
        let Mapping::Error { kind, code, extra } = icmp::v4_to_v6(error.msg_type(), error.code())
        else {
            return Err(DropReason::UnsupportedIcmp);
        };
        let quoted = Ipv4Packet::new_quoted(error.payload())?;
        let (inner_ip, inner_ihl) = (quoted.repr(), quoted.header_len());
        let inner_total = inner_ip.total_len as usize;
        if inner_total < inner_ihl {
            return Err(DropReason::Malformed);
        }
        let inner_l4 = quoted.rest();
        let (proto, pool_port) = match inner_ip.protocol {
            PROTO_TCP => (
                Proto::Tcp,
                TransportPacket::new_quoted(inner_l4, PROTO_TCP)?.src_port(),
            ),
            PROTO_UDP => (
                Proto::Udp,
                TransportPacket::new_quoted(inner_l4, PROTO_UDP)?.src_port(),
            ),
            PROTO_ICMP => match IcmpPacket::new_checked(inner_l4) {
                Ok(echo)
                    if matches!(echo.msg_type(), icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY) =>
                {
                    (Proto::Icmp, echo.echo_ident())
                }
                _ => return Err(DropReason::UnsupportedProtocol),
            },
            _ => return Err(DropReason::UnsupportedProtocol),
        };
        let mapped = (self.state)
            .lookup4(proto, inner_ip.src, pool_port)
            .ok_or(DropReason::NoBinding)?;
        let rest: [u8; 4] = match extra {
            Extra::Zero => [0; 4],
            Extra::Mtu => {
                let (advertised, mtu) = (error.rest_low_u16(), self.config.mtu);
                icmp::ptb_mtu_v4_to_v6(advertised, inner_total as u16, mtu, mtu).to_be_bytes()
            }
            Extra::Pointer => {
                let pointer = icmp::pointer_v4_to_v6(error.rest_first_byte());
                [0, 0, 0, pointer.ok_or(DropReason::UnsupportedIcmp)?]
            }
            Extra::FixedPointer(p) => p.to_be_bytes(),
        };
        let src6 = if self.config.source_icmpv6_errors_better {
            embed(&self.config.prefix, ip.src)
        } else {
            // RFC 6146 §3.4: the inverse of the packet in error's destination.
            embed(&self.config.prefix, inner_ip.dst)
        };
        let inner_fragmented = inner_ip.more_frags || inner_ip.frag_offset != 0;
        let inner_next = v6_protocol(inner_ip.protocol);
        let inner_header_len = IPV6_HEADER + if inner_fragmented { FRAGMENT_HEADER } else { 0 };
        let inner_l4_len = inner_total - inner_ihl;
        let inner_header = Ipv6Repr {
            traffic_class: self.traffic_class(inner_ip.tos),
            payload_len: (inner_l4_len + inner_header_len - IPV6_HEADER) as u16,
            next_header: if inner_fragmented {
                PROTO_FRAGMENT
            } else {
                inner_next
            },
            hop_limit: inner_ip.ttl,
            src: mapped.addr,
            dst: embed(&self.config.prefix, inner_ip.dst),
        };

        // Outer IPv6 (40) + ICMPv6 (8) + inner IPv6 + what fits of the inner payload.
        let inner_at = IPV6_HEADER + ICMP_HEADER;
        let l4_at = inner_at + inner_header_len;
        let inner_payload = &inner_l4[..inner_l4.len().min(IPV6_MIN_MTU - l4_at)];
        let s = &mut self.scratch[..];
        inner_header.emit(&mut s[inner_at..]);
        if inner_fragmented {
            let fragment = Fragment {
                offset: inner_ip.frag_offset,
                more: inner_ip.more_frags,
                ident: inner_ip.ident as u32,
            };
            fragment.emit(inner_next, &mut s[inner_at + IPV6_HEADER..]);
        }
        let l4 = &mut s[l4_at..l4_at + inner_payload.len()];
        l4.copy_from_slice(inner_payload);
        rewrite_inner_v4_to_v6(l4, &inner_ip, &inner_header, mapped.port, inner_l4_len);
        let message_len = ICMP_HEADER + inner_header_len + inner_payload.len();
        Ipv6Repr {
            traffic_class: 0,
            payload_len: message_len as u16,
            next_header: PROTO_ICMPV6,
            hop_limit: egress_hops(ip.ttl),
            src: src6,
            dst: mapped.addr,
        }
        .emit(s);
        let message = &mut s[IPV6_HEADER..IPV6_HEADER + message_len];
        IcmpRepr {
            msg_type: kind,
            code,
            rest,
        }
        .emit(message);
        let pseudo = checksum::pseudo_v6(&src6, &mapped.addr, PROTO_ICMPV6, message_len as u32);
        IcmpRepr::finish(message, pseudo);
        keep_checksum_error(message, received_sum);
        out(&s[..IPV6_HEADER + message_len], Offload::NONE);
        self.stats.v4_to_v6 += 1;
        Ok(1)
    }
}

/// RFC 7915 §4: an IPv4 packet without DF that becomes too big for `lowest_ipv6_mtu` is
/// sent as IPv6 fragments (of the original fragment, if it was one: `first` has its offset,
/// whether more follow it, and the identification). `header` has the upper-layer protocol
/// as next header. Returns the number of fragments sent.
pub(super) fn emit_v6_fragments(
    scratch: &mut [u8],
    lowest_ipv6_mtu: u32,
    header: &Ipv6Repr,
    payload: &[u8],
    first: Fragment,
    out: Out,
) -> usize {
    let chunk_max = (lowest_ipv6_mtu as usize - IPV6_HEADER - FRAGMENT_HEADER) & !7;
    let data_at = IPV6_HEADER + FRAGMENT_HEADER;
    let mut sent = 0;
    let mut pos = 0;
    while pos < payload.len() || (pos == 0 && payload.is_empty()) {
        let len = chunk_max.min(payload.len() - pos);
        Ipv6Repr {
            payload_len: (FRAGMENT_HEADER + len) as u16,
            next_header: PROTO_FRAGMENT,
            ..*header
        }
        .emit(scratch);
        let fragment = Fragment {
            offset: first.offset + pos,
            more: pos + len < payload.len() || first.more,
            ident: first.ident,
        };
        fragment.emit(header.next_header, &mut scratch[IPV6_HEADER..]);
        scratch[data_at..data_at + len].copy_from_slice(&payload[pos..pos + len]);
        out(&scratch[..data_at + len], Offload::NONE);
        sent += 1;
        pos += len;
        if len == 0 {
            break;
        }
    }
    sent
}

/// The transport header quoted in an ICMPv4 error: the pool port (source port of the
/// packet in error) becomes the IPv6 host's port. `inner` is the quoted packet's header,
/// `translated` its translation, `l4_len` the transport length the packet had.
fn rewrite_inner_v4_to_v6(
    l4: &mut [u8],
    inner: &Ipv4Repr,
    translated: &Ipv6Repr,
    port6: u16,
    l4_len: usize,
) {
    match inner.protocol {
        PROTO_TCP | PROTO_UDP => {
            let Ok(mut header) = TransportPacket::new_quoted(l4, inner.protocol) else {
                return;
            };
            let old_port = header.src_port();
            header.set_src_port(port6);
            if header.has_checksum() && !header.checksum_absent() {
                let removed = address_sum(&inner.src, &inner.dst) + old_port as u32;
                let added = address_sum(&translated.src, &translated.dst) + port6 as u32;
                header.set_checksum(checksum::update(header.checksum(), removed, added));
            }
        }
        PROTO_ICMP => {
            let Ok(mut echo) = IcmpPacket::new_checked(l4) else {
                return;
            };
            let Mapping::Query { kind } = icmp::v4_to_v6(echo.msg_type(), echo.code()) else {
                return;
            };
            let removed = echo.type_code_word() as u32 + echo.echo_ident() as u32;
            echo.set_msg_type(kind);
            echo.set_echo_ident(port6);
            let pseudo = checksum::pseudo_v6(
                &translated.src,
                &translated.dst,
                PROTO_ICMPV6,
                l4_len as u32,
            );
            let added = echo.type_code_word() as u32 + port6 as u32 + pseudo;
            echo.set_checksum(checksum::update(echo.checksum(), removed, added));
        }
        _ => {}
    }
}
