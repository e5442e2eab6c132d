//! IPv6 -> IPv4: packets from IPv6 hosts to the prefix, and ICMPv6 errors about packets the
//! IPv6 hosts got from the IPv4 side.

use super::*;
use crate::frag::{Hold, Translation6, FRAG_LIFETIME};
use crate::icmp::{Extra, Mapping};
use crate::state::{Flow, Mapped4, TCP_ACK, TCP_SYN};
use crate::wire::transport::ICMP_HEADER;

/// RFC 7915 §5.1: DF is set only above this size, so that small packets can still cross
/// IPv4 links below 1280 by fragmentation.
const DF_ABOVE: usize = 1260;
/// RFC 792's limit for an ICMPv4 error: the quote is cut to fit in 576 bytes.
const ICMPV4_ERROR_MAX: usize = 576;

impl Nat64 {
    pub(super) fn translate_v6(
        &mut self,
        buf: &mut PacketBuf,
        now: u64,
        out: Out,
    ) -> Result<usize, DropReason> {
        let (ip, upper) = {
            let view = Ipv6Packet::new_checked(buf.packet())?;
            (view.repr(), view.upper_layer())
        };
        let total = IPV6_HEADER + ip.payload_len as usize;
        buf.truncate(total);
        let dst4 = extract(&self.config.prefix, ip.dst)?;
        self.check_remote4(dst4)?;
        let first = upper.fragment.map_or(true, |f| f.offset == 0);
        let fragmented = upper.fragment.is_some_and(|f| f.is_fragment());
        let upper_len = total - upper.offset;
        if upper_len > 0xffff - IPV4_HEADER {
            return Err(DropReason::Malformed);
        }
        let is_icmp_error = upper.protocol == PROTO_ICMPV6
            && first
            && (buf.packet().get(upper.offset)).is_some_and(|&t| icmp::v6_is_error(t));
        // Only a packet of our own host can come with 0 (the kernel decrements what it
        // forwards and would not forward a 0): it cannot be forwarded further.
        if ip.hop_limit == 0 {
            if !is_icmp_error {
                self.time_exceeded_v6(buf.packet(), &ip.src, now, out);
            }
            return Err(DropReason::HopLimit);
        }
        if is_icmp_error {
            if fragmented {
                return Err(DropReason::IcmpFragment);
            }
            return self.icmp_error_v6_to_v4(buf, &ip, upper.offset, out);
        }

        let mut hold = None;
        // An IPv6 SYN: an IPv4 SYN held for its flow is translated after it.
        let mut syn = None;
        let partial = buf.offload.partial;
        let src4 = if first {
            let l4 = &mut buf.packet_mut()[upper.offset..];
            let mapped = match upper.protocol {
                PROTO_TCP | PROTO_UDP => {
                    let mut l4 = TransportPacket::new_checked(l4, upper.protocol)?;
                    let (sport, dport) = (l4.src_port(), l4.dst_port());
                    if l4.checksum_absent() && !partial {
                        return Err(DropReason::BadChecksum); // mandatory in IPv6
                    }
                    let proto = if l4.is_udp() { Proto::Udp } else { Proto::Tcp };
                    let flow = Flow {
                        proto,
                        src: ip.src,
                        sport,
                        dst: dst4,
                        dport,
                    };
                    let m = self.state.outbound(flow, l4.tcp_flags(), now)?;
                    if l4.tcp_flags() & (TCP_SYN | TCP_ACK) == TCP_SYN {
                        syn = Some(SynKey {
                            remote: dst4,
                            remote_port: dport,
                            pool: m.addr,
                            pool_port: m.port,
                        });
                    }
                    let addresses = (address_sum(&ip.src, &ip.dst), address_sum(&m.addr, &dst4));
                    let new = updated_checksum(&l4, partial, addresses, (sport, m.port));
                    l4.set_src_port(m.port);
                    l4.set_checksum(new);
                    m
                }
                PROTO_ICMPV6 => {
                    let (kind, code) = (l4.first(), l4.get(1));
                    let Mapping::Query { kind } =
                        icmp::v6_to_v4(kind.copied().unwrap_or(0), code.copied().unwrap_or(0))
                    else {
                        return Err(DropReason::UnsupportedIcmp);
                    };
                    let mut echo = IcmpPacket::new_checked(l4)?;
                    if fragmented && self.state.in_pool(dst4) {
                        return Err(DropReason::IcmpFragment); // no hairpinning of fragmented echo
                    }
                    // The checksum is not checked: updated incrementally, a wrong one stays
                    // wrong by as much, for the end host to see (as through any router).
                    let length = echo.message_len() as u32;
                    let id = echo.echo_ident();
                    let flow = Flow {
                        proto: Proto::Icmp,
                        src: ip.src,
                        sport: id,
                        dst: dst4,
                        dport: 0,
                    };
                    let m = self.state.outbound(flow, 0, now)?;
                    let pseudo = address_sum(&ip.src, &ip.dst) + PROTO_ICMPV6 as u32;
                    let removed = pseudo + echo.type_code_word() as u32 + id as u32;
                    echo.set_msg_type(kind);
                    echo.set_echo_ident(m.port);
                    let added = echo.type_code_word() as u32 + m.port as u32;
                    match upper.fragment {
                        // The pseudo-header length is the whole message's: known at the last fragment.
                        Some(Fragment {
                            more: true, ident, ..
                        }) => {
                            hold = Some(Hold {
                                key: HoldKey::V6(ip.src, ip.dst, ident),
                                len: 0,
                                removed,
                                added,
                                length_added: false,
                                expires: now + FRAG_LIFETIME,
                            });
                        }
                        _ => {
                            let length = (length >> 16) + (length & 0xffff);
                            let new = checksum::update(echo.checksum(), removed + length, added);
                            echo.set_checksum(new);
                        }
                    }
                    m
                }
                _ => return Err(DropReason::UnsupportedProtocol),
            };
            if let Some(Fragment {
                more: true, ident, ..
            }) = upper.fragment
            {
                self.first_fragment = Some(FragKey::V6(ip.src, ip.dst, ident));
                self.frags.remember6(Translation6 {
                    src: ip.src,
                    dst: ip.dst,
                    ident,
                    src4: mapped.addr,
                    expires: now + FRAG_LIFETIME,
                });
            }
            mapped.addr
        } else {
            let key = FragKey::V6(ip.src, ip.dst, upper.fragment.unwrap_or_default().ident);
            match self.frags.source4(key, now) {
                Some(src4) => src4,
                None => {
                    // Ahead of its first fragment: kept until that one arrives.
                    self.frags.park(buf.packet(), key, now, &mut self.stats)?;
                    return Ok(0);
                }
            }
        };

        let new_total = IPV4_HEADER + upper_len;
        let hairpin = self.state.in_pool(dst4);
        let mut header = Ipv4Repr {
            tos: ip.traffic_class,
            total_len: new_total as u16,
            // A hairpinned packet gets its hop back once, on its way out as IPv6.
            ttl: if hairpin {
                ip.hop_limit
            } else {
                egress_hops(ip.hop_limit)
            },
            protocol: v4_protocol(upper.protocol),
            src: src4,
            dst: dst4,
            ..Ipv4Repr::default()
        };
        match upper.fragment {
            Some(f) => {
                header.ident = f.ident as u16;
                header.more_frags = f.more;
                header.frag_offset = f.offset;
            }
            None if new_total > DF_ABOVE => header.dont_frag = true,
            None => header.ident = self.next_ident(),
        }
        header.emit(buf.replace_header(upper.offset, IPV4_HEADER));
        buf.offload.csum_start = IPV4_HEADER as u16;
        self.stats.v6_to_v4 += 1;
        if let Some(h) = hold {
            self.frags.hold(buf.packet(), h)?;
            return Ok(0);
        }
        if hairpin {
            // Hairpinning (RFC 6146 §3.8): an IPv6 host reaching another through its pool address.
            self.stats.hairpinned += 1;
            return self.translate_v4(buf, now, out, true);
        }
        out(buf.packet(), buf.offload);
        let mut sent = 1;
        if let Some(key) = syn {
            sent += self.release_syn(key, now, out);
        }
        if let Some(Fragment {
            offset,
            more: false,
            ident,
        }) = upper.fragment
        {
            if upper.protocol == PROTO_ICMPV6 && offset != 0 {
                let key = HoldKey::V6(ip.src, ip.dst, ident);
                sent += self.release(key, (offset + upper_len) as u32, now, out);
            }
        }
        Ok(sent)
    }

    /// An ICMPv6 error about a packet the IPv6 host got from the IPv4 side: the inner
    /// packet is translated back too, and the error goes to the IPv4 peer from the pool
    /// address the host is bound to.
    fn icmp_error_v6_to_v4(
        &mut self,
        buf: &PacketBuf,
        ip: &Ipv6Repr,
        upper_offset: usize,
        out: Out,
    ) -> Result<usize, DropReason> {
        let dst4 = extract(&self.config.prefix, ip.dst)?;
        let message = &buf.packet()[upper_offset..];
        if message.len() < ICMP_HEADER + IPV6_HEADER {
            return Err(DropReason::Malformed);
        }
        let error = IcmpPacket::new_checked(message)?;
        let pseudo = checksum::pseudo_v6(&ip.src, &ip.dst, PROTO_ICMPV6, message.len() as u32);
        let received_sum = error.sum(pseudo);
        let Mapping::Error { kind, code, extra } = icmp::v6_to_v4(error.msg_type(), error.code())
        else {
            return Err(DropReason::UnsupportedIcmp);
        };
        let inner = error.payload();
        let inner_ip = QuotedIpv6::parse(inner)?;
        let inner_src4 = extract(&self.config.prefix, inner_ip.src)?;
        let inner_l4 = &inner[inner_ip.upper_offset..];
        let (proto, host_port) = match inner_ip.upper_protocol {
            PROTO_TCP => (
                Proto::Tcp,
                TransportPacket::new_quoted(inner_l4, PROTO_TCP)?.dst_port(),
            ),
            PROTO_UDP => (
                Proto::Udp,
                TransportPacket::new_quoted(inner_l4, PROTO_UDP)?.dst_port(),
            ),
            PROTO_ICMPV6 => match IcmpPacket::new_checked(inner_l4) {
                Ok(echo) if !icmp::v6_is_error(echo.msg_type()) => (Proto::Icmp, echo.echo_ident()),
                _ => return Err(DropReason::UnsupportedProtocol),
            },
            _ => return Err(DropReason::UnsupportedProtocol),
        };
        let mapped = (self.state)
            .lookup6(proto, inner_ip.dst, host_port)
            .ok_or(DropReason::NoBinding)?;

        let rest: [u8; 4] = match extra {
            Extra::Zero => [0; 4],
            Extra::Mtu => {
                let had_fragment_header = inner_ip.fragment.is_some();
                let advertised = error.rest_of_header();
                let mtu = icmp::ptb_mtu_v6_to_v4(advertised, had_fragment_header, self.config.mtu);
                let [high, low] = mtu.to_be_bytes();
                [0, 0, high, low]
            }
            Extra::Pointer => {
                let pointer = icmp::pointer_v6_to_v4(error.rest_of_header());
                [pointer.ok_or(DropReason::UnsupportedIcmp)?, 0, 0, 0]
            }
            Extra::FixedPointer(p) => [p as u8, 0, 0, 0],
        };

        // Outer IPv4 (20) + ICMP (8) + inner IPv4 (20) + what fits of the inner payload.
        let inner_at = IPV4_HEADER + ICMP_HEADER;
        let l4_at = inner_at + IPV4_HEADER;
        let inner_payload = &inner_l4[..inner_l4.len().min(ICMPV4_ERROR_MAX - l4_at)];
        let mut inner_header = Ipv4Repr {
            tos: inner_ip.traffic_class,
            total_len: (IPV4_HEADER + inner_ip.upper_len()).min(0xffff) as u16,
            ttl: inner_ip.hop_limit,
            protocol: v4_protocol(inner_ip.upper_protocol),
            src: inner_src4,
            dst: mapped.addr,
            ..Ipv4Repr::default()
        };
        match inner_ip.fragment {
            Some(f) => {
                inner_header.ident = f.ident as u16;
                inner_header.more_frags = f.more;
                inner_header.frag_offset = f.offset;
            }
            // The rule the packet itself was translated with (RFC 7915 §5.1).
            None => inner_header.dont_frag = inner_header.total_len as usize > DF_ABOVE,
        }
        let ident = self.next_ident();
        let s = &mut self.scratch[..];
        inner_header.emit(&mut s[inner_at..]);
        let l4 = &mut s[l4_at..l4_at + inner_payload.len()];
        l4.copy_from_slice(inner_payload);
        rewrite_inner_v6_to_v4(l4, &inner_ip, inner_src4, &mapped);
        let message_len = ICMP_HEADER + IPV4_HEADER + inner_payload.len();
        let message = &mut s[IPV4_HEADER..IPV4_HEADER + message_len];
        IcmpRepr {
            msg_type: kind,
            code,
            rest,
        }
        .emit(message);
        IcmpRepr::finish(message, 0);
        keep_checksum_error(message, received_sum);
        Ipv4Repr {
            total_len: (IPV4_HEADER + message_len) as u16,
            ident,
            ttl: egress_hops(ip.hop_limit),
            protocol: PROTO_ICMP,
            src: mapped.addr,
            dst: dst4,
            ..Ipv4Repr::default()
        }
        .emit(s);
        out(&s[..IPV4_HEADER + message_len], Offload::NONE);
        self.stats.v6_to_v4 += 1;
        Ok(1)
    }
}

/// Rewrites the transport header quoted in an ICMPv6 error: the IPv6 host's port (the
/// destination port of the packet in error) becomes the pool port, checksum updated when
/// present in the quote.
fn rewrite_inner_v6_to_v4(l4: &mut [u8], ip: &QuotedIpv6, src4: [u8; 4], mapped: &Mapped4) {
    match ip.upper_protocol {
        PROTO_TCP | PROTO_UDP => {
            let Ok(mut header) = TransportPacket::new_quoted(l4, ip.upper_protocol) else {
                return;
            };
            let old_port = header.dst_port();
            header.set_dst_port(mapped.port);
            if header.has_checksum() && !header.checksum_absent() {
                let removed = address_sum(&ip.src, &ip.dst) + old_port as u32;
                let added = address_sum(&src4, &mapped.addr) + mapped.port as u32;
                header.set_checksum(checksum::update(header.checksum(), removed, added));
            }
        }
        PROTO_ICMPV6 => {
            let Ok(mut echo) = IcmpPacket::new_checked(l4) else {
                return;
            };
            let Mapping::Query { kind } = icmp::v6_to_v4(echo.msg_type(), echo.code()) else {
                return;
            };
            let length = ip.upper_len() as u32;
            let removed = checksum::pseudo_v6(&ip.src, &ip.dst, PROTO_ICMPV6, length)
                + echo.type_code_word() as u32
                + echo.echo_ident() as u32;
            echo.set_msg_type(kind);
            echo.set_echo_ident(mapped.port);
            let added = echo.type_code_word() as u32 + mapped.port as u32;
            echo.set_checksum(checksum::update(echo.checksum(), removed, added));
        }
        _ => {}
    }
}
