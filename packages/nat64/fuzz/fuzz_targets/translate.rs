//! Arbitrary packets in both directions through one translator with live state: the first
//! byte picks a time step and a direction hint, the rest are packets separated by a length
//! prefix. Nothing may panic, and every emitted packet must be a valid IP packet.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use nat64::rfc6052::Prefix;
use nat64::state::{PoolRange, Proto, StateConfig, StaticEntry, Timeouts};
use nat64::wire::{Ipv4Packet, Ipv6Packet};
use nat64::{Config, Nat64, Offload, PacketBuf};

fn config(well_known: bool) -> Config {
    Config {
        prefix: if well_known {
            Prefix::well_known()
        } else {
            Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap()
        },
        allow_non_global: !well_known,
        state: StateConfig {
            pool: vec![PoolRange {
                addr: [198, 51, 100, 0],
                prefix_len: 31,
                ports: (1024, 1100),
            }],
            statics: vec![StaticEntry {
                proto: Proto::Udp,
                addr6: [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                port6: 53,
                addr4: [198, 51, 100, 1],
                port4: 53,
            }],
            timeouts: Timeouts {
                udp: 5,
                icmp: 5,
                tcp_est: 50,
                tcp_trans: 5,
                tcp_incoming_syn: 2,
            },
            max_sessions: 64,
            max_sessions_per_host: 16,
        },
        mtu: 1500,
        lowest_ipv6_mtu: 1280,
        zeroize_traffic_class: false,
        source_icmpv6_errors_better: true,
    }
}

fn check_emitted(out: &[u8]) {
    match out.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = Ipv4Packet::new_checked(out).expect("emitted IPv4 parses");
            assert!(ip.header_checksum_ok());
            assert_eq!(ip.total_len(), out.len());
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(out).expect("emitted IPv6 parses");
            assert_eq!(ip.total_len(), out.len());
        }
        _ => panic!("emitted a non-IP packet"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let mut nat = Nat64::new(config(mode & 1 != 0), t0);
    let mut buf = PacketBuf::new();
    let mut now = t0;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let packet = &rest[..len.min(rest.len())];
        rest = &rest[packet.len()..];
        buf.load(packet);
        if mode & 0x40 != 0 {
            // As the kernel hands packets over with offloads on: partial checksum, TSO.
            buf.offload = Offload {
                partial: true,
                csum_start: (len % 64) as u16,
                csum_offset: if mode & 0x10 != 0 { 6 } else { 16 },
                gso_size: if mode & 0x20 != 0 { 1400 } else { 0 },
                gso_ecn: false,
            };
        }
        nat.process(&mut buf, now, &mut |out, _| check_emitted(out));
        now += Duration::from_millis((mode as u64 >> 1) * 50);
        // Expiry emits the probes of established TCP sessions (tcp_est is 50 s here).
        nat.expire(now, &mut |out, _| check_emitted(out));
    }
});
