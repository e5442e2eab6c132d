//! The wire view and the server core on bytes that real clients wrote: the BOOTREQUESTs of
//! dhcpcd, busybox udhcpc and ISC dhclient in `tests/fixtures/*.hex`, captured by
//! `tests/fixtures/capture.sh` (which says how, and which versions). No network here: the
//! tests read only the committed files. The expected values are what the capture shows
//! (Wireshark or `tcpdump -vv` read the same fields); a new capture changes them.

use std::net::Ipv4Addr;

use option108_dhcpd::server::{LeaseChange, Pool, Server};
use option108_dhcpd::wire::{opt, MessageType, Options, Packet, Request, BOOTREQUEST};

const IFINDEX: u32 = 7;
const NOW: u64 = 1_800_000_000;
/// The capture's server and pool (capture.sh): 10.108.0.1/24, .100 to .149, 108 = 1800 s.
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 108, 0, 1);

fn pool() -> Pool {
    Pool {
        name: "lan".into(),
        device: "fxs0".into(),
        ifindex: IFINDEX,
        server: SERVER,
        prefix_len: 24,
        first: Ipv4Addr::new(10, 108, 0, 100),
        count: 50,
        lease_time: 3600,
        base_options: vec![
            (1, vec![255, 255, 255, 0]),
            (3, SERVER.octets().to_vec()),
            (6, SERVER.octets().to_vec()),
            (15, b"lan".to_vec()),
        ],
        extra_options: vec![],
        v6only_wait: Some(1800),
        rapid_commit: false,
        authoritative: true,
        hosts: vec![],
    }
}

/// A fixture's bytes: the hex lines under its `#` header.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("# "), "{path}: no header line");
    let hex: String = lines
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.trim().chars())
        .collect();
    assert_eq!(hex.len() % 2, 0, "{path}: odd number of hex digits");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// What a reader of the capture sees in one message.
struct Seen {
    kind: MessageType,
    xid: u32,
    mac: [u8; 6],
    ciaddr: Ipv4Addr,
    parameters: &'static [u8],
    client_id: Option<&'static [u8]>,
    requested_ip: Option<Ipv4Addr>,
    server_id: Option<Ipv4Addr>,
}

fn check(name: &str, want: &Seen) -> Vec<u8> {
    let bytes = fixture(name);
    let packet = Packet::new_checked(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(packet.op(), BOOTREQUEST, "{name}: op");
    assert_eq!((packet.htype(), packet.hlen()), (1, 6), "{name}: Ethernet");
    let r = Request::parse(&packet).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(r.message_type, want.kind, "{name}: message type");
    assert_eq!(r.xid, want.xid, "{name}: xid");
    assert_eq!(r.chaddr.mac(), Some(want.mac), "{name}: chaddr");
    assert_eq!(r.ciaddr, want.ciaddr, "{name}: ciaddr");
    assert_eq!(r.giaddr, Ipv4Addr::UNSPECIFIED, "{name}: giaddr");
    assert!(!r.broadcast_flag(), "{name}: no broadcast flag");
    assert_eq!(
        r.parameters, want.parameters,
        "{name}: parameter request list"
    );
    assert_eq!(r.client_id, want.client_id, "{name}: client identifier");
    assert_eq!(
        r.requested_ip, want.requested_ip,
        "{name}: requested address"
    );
    assert_eq!(r.server_id, want.server_id, "{name}: server identifier");
    // Every option is well-formed, up to END.
    for item in Options::new(packet.options()) {
        item.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    bytes
}

/// The reply of the server core: message type, yiaddr, option 108 and the lease change.
struct Answer {
    kind: Option<u8>,
    yiaddr: Ipv4Addr,
    v6only: Option<Vec<u8>>,
    change: Option<LeaseChange>,
}

fn answer(server: &mut Server, bytes: &[u8]) -> Answer {
    let out = server.handle(bytes, IFINDEX, NOW);
    let change = out.change;
    let Some(reply) = out.reply else {
        return Answer {
            kind: None,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            v6only: None,
            change,
        };
    };
    let p = Packet::new_checked(reply.bytes).unwrap();
    let options: Vec<(u8, &[u8])> = Options::new(p.options()).map(|o| o.unwrap()).collect();
    let find = |code| options.iter().find(|(c, _)| *c == code).map(|(_, v)| *v);
    Answer {
        kind: find(opt::MESSAGE_TYPE).map(|v| v[0]),
        yiaddr: p.yiaddr(),
        v6only: find(opt::IPV6_ONLY_PREFERRED).map(|v| v.to_vec()),
        change,
    }
}

const DHCPCD_PRL: &[u8] = &[1, 3, 28, 33, 51, 58, 59];
const DHCLIENT_PRL: &[u8] = &[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42];
const UDHCPC_PRL: &[u8] = &[1, 3, 6, 12, 15, 28, 42];

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 108, 0, last)
}

/// DISCOVER, REQUEST and RELEASE of one client, as captured, through a fresh server.
fn dora_release(client: &str, discover: &Seen, request: &Seen, release: &Seen) {
    let d = check(&format!("{client}-discover"), discover);
    let r = check(&format!("{client}-request"), request);
    let x = check(&format!("{client}-release"), release);
    let mut server = Server::new(vec![pool()]);
    let offer = answer(&mut server, &d);
    assert_eq!(
        offer.kind,
        Some(MessageType::Offer as u8),
        "{client}: OFFER"
    );
    assert!(server.pools()[0].pool.contains(offer.yiaddr), "{client}");
    assert_eq!(offer.v6only, None, "{client}: did not ask for 108");
    let ack = answer(&mut server, &r);
    assert_eq!(ack.kind, Some(MessageType::Ack as u8), "{client}: ACK");
    assert_eq!(
        Some(ack.yiaddr),
        request.requested_ip,
        "{client}: the address asked for"
    );
    assert!(matches!(ack.change, Some(LeaseChange::Bound(l)) if l.ip == ack.yiaddr));
    let released = answer(&mut server, &x);
    assert_eq!(released.kind, None, "{client}: no reply to a RELEASE");
    assert!(
        matches!(released.change, Some(LeaseChange::Released { ip, .. }) if ip == release.ciaddr),
        "{client}: the lease is freed"
    );
}

#[test]
fn dhcpcd_discover_request_release() {
    let mac = [2, 0xf1, 0, 0, 0, 2];
    let discover = Seen {
        kind: MessageType::Discover,
        xid: 0xd5dbc4c5,
        mac,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        parameters: DHCPCD_PRL,
        client_id: None,
        requested_ip: None,
        server_id: None,
    };
    let request = Seen {
        kind: MessageType::Request,
        requested_ip: Some(ip(100)),
        server_id: Some(SERVER),
        ..discover
    };
    let release = Seen {
        kind: MessageType::Release,
        xid: 0x21ba0ca1,
        ciaddr: ip(100),
        parameters: &[],
        server_id: Some(SERVER),
        ..discover
    };
    dora_release("dhcpcd", &discover, &request, &release);
}

#[test]
fn dhclient_discover_request_release() {
    let mac = [2, 0xf1, 0, 0, 0, 4];
    let discover = Seen {
        kind: MessageType::Discover,
        xid: 0x49c3d013,
        mac,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        parameters: DHCLIENT_PRL,
        client_id: None,
        requested_ip: None,
        server_id: None,
    };
    let request = Seen {
        kind: MessageType::Request,
        requested_ip: Some(ip(101)),
        server_id: Some(SERVER),
        ..discover
    };
    let release = Seen {
        kind: MessageType::Release,
        xid: 0xaddb2454,
        ciaddr: ip(101),
        parameters: &[],
        server_id: Some(SERVER),
        ..discover
    };
    dora_release("dhclient", &discover, &request, &release);
}

#[test]
fn udhcpc_discover_request_release() {
    let mac = [2, 0xf1, 0, 0, 0, 6];
    let discover = Seen {
        kind: MessageType::Discover,
        xid: 0x0e80667b,
        mac,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        parameters: UDHCPC_PRL,
        client_id: Some(&[1, 2, 0xf1, 0, 0, 0, 6]),
        requested_ip: None,
        server_id: None,
    };
    let request = Seen {
        kind: MessageType::Request,
        requested_ip: Some(ip(102)),
        server_id: Some(SERVER),
        ..discover
    };
    let release = Seen {
        kind: MessageType::Release,
        xid: 0x0b285b21,
        ciaddr: ip(102),
        parameters: &[],
        server_id: Some(SERVER),
        ..discover
    };
    dora_release("udhcpc", &discover, &request, &release);
}

/// A client asking for 108 on a pool with IPv6-Only Preferred: an OFFER with no address
/// (yiaddr 0.0.0.0) and option 108 = 1800, and no lease taken (RFC 8925 §3.3).
fn v6only_offer(name: &str, want: &Seen) {
    let bytes = check(name, want);
    assert!(want.parameters.contains(&opt::IPV6_ONLY_PREFERRED));
    let mut server = Server::new(vec![pool()]);
    let offer = answer(&mut server, &bytes);
    assert_eq!(offer.kind, Some(MessageType::Offer as u8), "{name}: OFFER");
    assert_eq!(offer.yiaddr, Ipv4Addr::UNSPECIFIED, "{name}: no address");
    assert_eq!(
        offer.v6only,
        Some(1800u32.to_be_bytes().to_vec()),
        "{name}: 108"
    );
    assert_eq!(offer.change, None, "{name}: no lease");
}

#[test]
fn dhcpcd_ipv6_only_preferred_discover() {
    v6only_offer(
        "dhcpcd-v6only-discover",
        &Seen {
            kind: MessageType::Discover,
            xid: 0xb6a7027f,
            mac: [2, 0xf1, 0, 0, 0, 1],
            ciaddr: Ipv4Addr::UNSPECIFIED,
            parameters: &[1, 3, 28, 33, 51, 58, 59, 108],
            client_id: None,
            requested_ip: None,
            server_id: None,
        },
    );
}

#[test]
fn udhcpc_asking_108_discover() {
    v6only_offer(
        "udhcpc-108-discover",
        &Seen {
            kind: MessageType::Discover,
            xid: 0x88a4de0c,
            mac: [2, 0xf1, 0, 0, 0, 5],
            ciaddr: Ipv4Addr::UNSPECIFIED,
            parameters: &[1, 3, 6, 12, 15, 28, 42, 108],
            client_id: Some(&[1, 2, 0xf1, 0, 0, 0, 5]),
            requested_ip: None,
            server_id: None,
        },
    );
}
