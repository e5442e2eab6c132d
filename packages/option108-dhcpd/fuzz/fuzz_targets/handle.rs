//! Arbitrary bytes into the server core, as one or several messages (split at 0xFF 0xFE
//! markers so that sequences such as DISCOVER then REQUEST are explored), on two pools, one of
//! them with RFC 8925 on. Whatever comes in: no panic, replies within the size limit, parse
//! of every reply succeeds, and no address held by two clients.

#![no_main]

use std::collections::HashSet;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use option108_dhcpd::server::{Pool, Server};
use option108_dhcpd::wire::{Options, Packet, MAX_MESSAGE};

fn pool(name: &str, ifindex: u32, net: u8, v6only: Option<u32>) -> Pool {
    Pool {
        name: name.into(),
        device: name.into(),
        ifindex,
        server: Ipv4Addr::new(10, net, 0, 1),
        prefix_len: 24,
        first: Ipv4Addr::new(10, net, 0, 10),
        count: 4,
        lease_time: 600,
        base_options: vec![(1, vec![255, 255, 255, 0]), (3, vec![10, net, 0, 1])],
        extra_options: vec![(42, vec![10, net, 0, 2]), (252, vec![b'x'; 300])],
        v6only_wait: v6only,
        rapid_commit: net == 2,
        authoritative: net != 2,
        hosts: vec![],
    }
}

fuzz_target!(|data: &[u8]| {
    let mut server = Server::new(vec![pool("a", 1, 1, None), pool("b", 2, 2, Some(1800))]);
    let mut now = 1_000_000u64;
    for (i, message) in data.split(|&b| b == 0xFE).enumerate() {
        now += (i as u64 % 7) * 100;
        let ifindex = 1 + (i as u32 % 3);
        let out = server.handle(message, ifindex, now);
        if let Some(reply) = out.reply {
            assert!(reply.bytes.len() <= MAX_MESSAGE);
            let p = Packet::new_checked(reply.bytes).expect("our reply parses");
            for o in Options::new(p.options()) {
                o.expect("our options are well formed");
            }
        }
    }
    for p in server.pools() {
        let mut clients = HashSet::new();
        for (_, slot) in p.table.slots() {
            if slot.active(now) {
                assert!(clients.insert(slot.client), "a client holds two addresses");
            }
        }
    }
});
