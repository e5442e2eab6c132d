//! The per-packet path does not allocate: after warm-up, DISCOVER/REQUEST/ACK/RELEASE,
//! RFC 8925 replies, NAKs and malformed input go through `Server::handle` with zero heap
//! allocations (counted by a global allocator; no logger is installed, as in a quiet daemon).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use option108_dhcpd::server::{Pool, Server};
use option108_dhcpd::wire::{build_request, opt, set_header, MessageType};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the test's own thread counts: the harness's main thread allocates now and then
    /// while it waits (that made the test fail about one run in four).
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNT_HERE.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn handle_does_not_allocate() {
    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    let pool = Pool {
        name: "lan".into(),
        device: "eth0".into(),
        ifindex: 1,
        server: server_ip,
        prefix_len: 24,
        first: Ipv4Addr::new(10, 0, 0, 10),
        count: 100,
        lease_time: 3600,
        base_options: vec![(1, vec![255, 255, 255, 0]), (3, vec![10, 0, 0, 1])],
        extra_options: vec![(42, vec![10, 0, 0, 2])],
        v6only_wait: Some(1800),
        rapid_commit: false,
        authoritative: true,
        hosts: vec![],
    };
    let mut server = Server::new(vec![pool]);
    // Every message built up front: building allocates, handling must not.
    let mut messages = Vec::new();
    for n in 0..50u8 {
        let mac = [2, 0, 0, 0, 1, n];
        let ip = Ipv4Addr::new(10, 0, 0, 10 + n);
        messages.push(build_request(MessageType::Discover, mac, n as u32, |b| {
            b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 3, 1, 3, 42])
        }));
        messages.push(build_request(MessageType::Request, mac, n as u32, |b| {
            b.extend_from_slice(&[opt::SERVER_ID, 4, 10, 0, 0, 1, opt::REQUESTED_IP, 4]);
            b.extend_from_slice(&ip.octets());
        }));
        let mut release = build_request(MessageType::Release, mac, n as u32, |b| {
            b.extend_from_slice(&[opt::SERVER_ID, 4, 10, 0, 0, 1])
        });
        set_header(&mut release, ip, Ipv4Addr::UNSPECIFIED, 0);
        messages.push(release);
        // An IPv6-only client, a NAK, garbage.
        messages.push(build_request(
            MessageType::Discover,
            [2, 0, 0, 0, 2, n],
            7,
            |b| b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 1, 108]),
        ));
        messages.push(build_request(MessageType::Request, mac, 8, |b| {
            b.extend_from_slice(&[opt::REQUESTED_IP, 4, 192, 168, 9, 9])
        }));
        messages.push(vec![n; 300]);
    }
    // Warm-up: the IPv6-only client set and the index reach their size.
    for m in &messages {
        let _ = server.handle(m, 1, 1_000_000).reply.map(|r| r.bytes.len());
    }
    COUNT_HERE.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut replies = 0usize;
    for round in 0..3u64 {
        for m in &messages {
            if let Some(r) = server.handle(m, 1, 1_000_100 + round).reply {
                replies += r.bytes.len().min(1);
            }
        }
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    COUNT_HERE.with(|c| c.set(false));
    assert!(replies > 300, "the messages were answered ({replies})");
    assert_eq!(after - before, 0, "allocations in the per-packet path");
}
