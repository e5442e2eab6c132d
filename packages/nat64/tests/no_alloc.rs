//! The per-packet path allocates nothing once a flow exists: a counting global allocator
//! watches an established UDP flow in both directions, an IPv4 datagram without DF split
//! into IPv6 fragments, a packet with DF above 1260 bytes, and packets to a pool port nobody
//! is bound to: UDP (answered with Port Unreachable) and a TCP SYN (held, RFC 6146 §3.5.2.2).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nat64::checksum::{self, add};
use nat64::outbox::Outbox;
use nat64::testing::{config, prefix, set_u16, udp6, HOST, POOL, SERVER};
use nat64::wire::*;
use nat64::{Nat64, PacketBuf, Verdict};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.realloc(ptr, layout, size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A UDP datagram of `payload_len` zero bytes from the host to the server.
fn udp6_to_server(payload_len: usize) -> Vec<u8> {
    let dst = prefix().embed(SERVER.into()).octets();
    udp6(&HOST, &dst, 40000, 53, &vec![0u8; payload_len])
}

fn udp4(payload_len: usize, dont_frag: bool) -> Vec<u8> {
    let mut l4 = vec![0u8; 8 + payload_len];
    set_u16(&mut l4, 0, 53);
    set_u16(&mut l4, 2, 40000);
    let len = l4.len() as u16;
    set_u16(&mut l4, 4, len);
    let c = checksum::finish(
        checksum::pseudo_v4(SERVER, POOL, PROTO_UDP, l4.len() as u32) + add(0, &l4),
    );
    set_u16(&mut l4, 6, c);
    let mut p = vec![0u8; 20];
    Ipv4Repr {
        total_len: (20 + l4.len()) as u16,
        ident: 5,
        dont_frag,
        ttl: 64,
        protocol: PROTO_UDP,
        src: SERVER,
        dst: POOL,
        ..Ipv4Repr::default()
    }
    .emit(&mut p);
    p.extend_from_slice(&l4);
    p
}

#[test]
fn established_flows_translate_without_allocating() {
    let t0 = Instant::now();
    let mut nat = Nat64::new(config(100), t0);
    let mut buf = PacketBuf::new();
    // As the daemon's workers do: output kept in an Outbox (reused), written after.
    let mut outbox = Outbox::new();
    let mut sent = 0usize;
    let mut process = |nat: &mut Nat64, buf: &mut PacketBuf| {
        outbox.clear();
        let span = buf.span();
        let v = nat.process(buf, t0, &mut |out, o| outbox.push(&span, out, o));
        sent += outbox.packets(buf).map(|(p, _)| p.len()).sum::<usize>();
        v
    };
    let packets = [
        udp6_to_server(100),
        udp4(100, true),
        udp4(3000, false),
        udp6_to_server(1400),
    ];
    // A packet to a pool port nobody is bound to: dropped, with Port Unreachable.
    let mut stray = udp4(10, false);
    set_u16(&mut stray, 22, 9999);
    // A SYN to a port nobody is bound to: held (its retransmissions take the same slot).
    let mut syn = udp4(12, false);
    syn[9] = PROTO_TCP;
    set_u16(&mut syn, 10, 0);
    let c = checksum::finish(add(0, &syn[..20]));
    set_u16(&mut syn, 10, c);
    syn[20..32].copy_from_slice(&[0, 80, 0x27, 0x0f, 0, 0, 0, 1, 0, 0, 0, 0]);
    syn[32] = 5 << 4;
    syn[33] = 0x02;
    // First round creates the session (allocates); later rounds must not.
    for round in 0..3 {
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for (i, p) in packets.iter().enumerate() {
            let b = ALLOCATIONS.load(Ordering::SeqCst);
            buf.load(p);
            let v = process(&mut nat, &mut buf);
            let a = ALLOCATIONS.load(Ordering::SeqCst);
            assert!(matches!(v, Verdict::Translated { .. }), "{v:?}");
            if round > 0 {
                assert_eq!(a - b, 0, "allocations for packet {i} in round {round}");
            }
        }
        buf.load(&stray);
        process(&mut nat, &mut buf);
        buf.load(&syn);
        let v = process(&mut nat, &mut buf);
        assert_eq!(v, Verdict::Translated { packets: 0 }, "the SYN is held");
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        if round > 0 {
            assert_eq!(after - before, 0, "allocations in round {round}");
        }
    }
    assert!(sent > 0);
}
