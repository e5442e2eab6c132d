//! The sans-IO server, message by message, without sockets.

use std::net::Ipv4Addr;

use option108_dhcpd::server::{Destination, LeaseChange, Pool, Server, StaticHost};
use option108_dhcpd::wire::{
    build_request, opt, set_header, MessageType, Options, Packet, FLAG_BROADCAST,
};

const IFINDEX: u32 = 4;
const NOW: u64 = 1_800_000_000;
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

fn pool(v6only_wait: Option<u32>, count: u32) -> Pool {
    Pool {
        name: "lan".into(),
        device: "br-lan".into(),
        ifindex: IFINDEX,
        server: SERVER,
        prefix_len: 24,
        first: Ipv4Addr::new(192, 168, 1, 100),
        count,
        lease_time: 3600,
        base_options: vec![
            (1, vec![255, 255, 255, 0]),
            (3, SERVER.octets().to_vec()),
            (6, SERVER.octets().to_vec()),
            (15, b"lan".to_vec()),
        ],
        extra_options: vec![(42, vec![192, 168, 1, 5])],
        v6only_wait,
        rapid_commit: false,
        authoritative: true,
        hosts: vec![],
    }
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// Parsed reply: type, yiaddr, ciaddr, options in order, destination.
#[derive(Debug)]
struct Got {
    kind: u8,
    yiaddr: Ipv4Addr,
    ciaddr: Ipv4Addr,
    flags: u16,
    options: Vec<(u8, Vec<u8>)>,
    destination: Destination,
    change: Option<LeaseChange>,
    raw: Vec<u8>,
}

impl Got {
    fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }
}

fn send(server: &mut Server, bytes: &[u8]) -> Option<Got> {
    send_at(server, bytes, NOW)
}

fn send_at(server: &mut Server, bytes: &[u8], now: u64) -> Option<Got> {
    let out = server.handle(bytes, IFINDEX, now);
    let change = out.change;
    let reply = out.reply?;
    let p = Packet::new_checked(reply.bytes).unwrap();
    let options: Vec<(u8, Vec<u8>)> = Options::new(p.options())
        .map(|o| o.unwrap())
        .map(|(c, v)| (c, v.to_vec()))
        .collect();
    Some(Got {
        kind: options
            .iter()
            .find(|(c, _)| *c == opt::MESSAGE_TYPE)
            .unwrap()
            .1[0],
        yiaddr: p.yiaddr(),
        ciaddr: p.ciaddr(),
        flags: p.flags(),
        options,
        destination: reply.destination,
        change,
        raw: reply.bytes.to_vec(),
    })
}

fn discover(n: u8, prl: &[u8]) -> Vec<u8> {
    build_request(MessageType::Discover, mac(n), n as u32, |b| {
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, prl.len() as u8]);
        b.extend_from_slice(prl);
    })
}

fn request_selecting(n: u8, ip: Ipv4Addr, prl: &[u8]) -> Vec<u8> {
    build_request(MessageType::Request, mac(n), n as u32, |b| {
        b.extend_from_slice(&[opt::SERVER_ID, 4]);
        b.extend_from_slice(&SERVER.octets());
        b.extend_from_slice(&[opt::REQUESTED_IP, 4]);
        b.extend_from_slice(&ip.octets());
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, prl.len() as u8]);
        b.extend_from_slice(prl);
    })
}

fn request_init_reboot(n: u8, ip: Ipv4Addr, prl: &[u8]) -> Vec<u8> {
    build_request(MessageType::Request, mac(n), n as u32, |b| {
        b.extend_from_slice(&[opt::REQUESTED_IP, 4]);
        b.extend_from_slice(&ip.octets());
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, prl.len() as u8]);
        b.extend_from_slice(prl);
    })
}

fn request_renewing(n: u8, ciaddr: Ipv4Addr, prl: &[u8]) -> Vec<u8> {
    let mut b = build_request(MessageType::Request, mac(n), n as u32, |b| {
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, prl.len() as u8]);
        b.extend_from_slice(prl);
    });
    set_header(&mut b, ciaddr, Ipv4Addr::UNSPECIFIED, 0);
    b
}

fn dora(server: &mut Server, n: u8) -> Ipv4Addr {
    let offer = send(server, &discover(n, &[1, 3, 6, 15])).expect("offer");
    assert_eq!(offer.kind, MessageType::Offer as u8);
    let ack = send(server, &request_selecting(n, offer.yiaddr, &[1, 3, 6, 15])).expect("ack");
    assert_eq!(ack.kind, MessageType::Ack as u8, "{ack:?}");
    ack.yiaddr
}

#[test]
fn full_dora_with_rfc2131_options_and_unicast_to_chaddr() {
    let mut s = Server::new(vec![pool(None, 10)]);
    let offer = send(&mut s, &discover(1, &[1, 3, 6, 15, 42])).unwrap();
    assert_eq!(offer.kind, MessageType::Offer as u8);
    assert_eq!(offer.yiaddr, Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(offer.option(opt::SERVER_ID), Some(&SERVER.octets()[..]));
    assert_eq!(
        offer.option(opt::LEASE_TIME),
        Some(&3600u32.to_be_bytes()[..])
    );
    assert_eq!(
        offer.option(opt::RENEWAL_TIME),
        Some(&1800u32.to_be_bytes()[..])
    );
    assert_eq!(
        offer.option(opt::REBINDING_TIME),
        Some(&3150u32.to_be_bytes()[..])
    );
    assert_eq!(
        offer.option(opt::SUBNET_MASK),
        Some(&[255, 255, 255, 0][..])
    );
    assert_eq!(offer.option(opt::ROUTER), Some(&SERVER.octets()[..]));
    assert_eq!(offer.option(opt::DNS_SERVERS), Some(&SERVER.octets()[..]));
    assert_eq!(offer.option(opt::DOMAIN_NAME), Some(&b"lan"[..]));
    assert_eq!(
        offer.option(42),
        Some(&[192, 168, 1, 5][..]),
        "an extra option the client asked for"
    );
    assert_eq!(offer.option(opt::IPV6_ONLY_PREFERRED), None);
    assert_eq!(
        offer.destination,
        Destination::Unicast {
            ip: offer.yiaddr,
            hw: option108_dhcpd::wire::HwAddr::from_mac(mac(1))
        }
    );
    assert!(offer.change.is_none(), "an offer is not stored");
    assert!(offer.raw.len() >= 300);

    let ack = send(&mut s, &request_selecting(1, offer.yiaddr, &[1, 3])).unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!(ack.yiaddr, offer.yiaddr);
    assert_eq!(ack.option(42), None, "not asked for this time");
    match ack.change {
        Some(LeaseChange::Bound(r)) => {
            assert_eq!((r.ip, r.mac, r.expiry), (offer.yiaddr, mac(1), NOW + 3600))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.pools()[0].table.active_leases(NOW), 1);
}

#[test]
fn broadcast_flag_and_extra_options_not_asked_for() {
    let mut s = Server::new(vec![pool(None, 10)]);
    let mut d = discover(1, &[1]);
    set_header(
        &mut d,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        FLAG_BROADCAST,
    );
    let offer = send(&mut s, &d).unwrap();
    assert_eq!(offer.destination, Destination::Broadcast);
    assert_eq!(offer.flags, FLAG_BROADCAST);
    assert_eq!(offer.option(42), None);
}

#[test]
fn rfc8925_offer_carries_108_with_yiaddr_zero_and_reserves_nothing() {
    let mut s = Server::new(vec![pool(Some(1800), 10)]);
    let offer = send(&mut s, &discover(1, &[1, 3, 6, 108])).unwrap();
    assert_eq!(offer.kind, MessageType::Offer as u8);
    assert_eq!(offer.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        offer.option(opt::IPV6_ONLY_PREFERRED),
        Some(&1800u32.to_be_bytes()[..])
    );
    // The bytes on the wire: code 108, length 4, 1800 big-endian.
    assert!(offer
        .raw
        .windows(6)
        .any(|w| w == [108, 4, 0, 0, 0x07, 0x08]));
    assert_eq!(offer.option(opt::LEASE_TIME), None);
    assert_eq!(
        offer.destination,
        Destination::Broadcast,
        "no address to unicast to"
    );
    assert_eq!(s.pools()[0].table.in_use(NOW), 0, "nothing reserved");
    assert_eq!(s.pools()[0].ipv6_only_clients(), 1);
    assert_eq!(s.counters.ipv6_only, 1);

    // The same pool, a client that does not ask for 108: an ordinary offer without it.
    let legacy = send(&mut s, &discover(2, &[1, 3, 6])).unwrap();
    assert_eq!(legacy.yiaddr, Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(legacy.option(opt::IPV6_ONLY_PREFERRED), None);
}

#[test]
fn rfc8925_not_sent_where_disabled() {
    let mut s = Server::new(vec![pool(None, 10)]);
    let offer = send(&mut s, &discover(1, &[1, 3, 6, 108])).unwrap();
    assert_eq!(offer.option(opt::IPV6_ONLY_PREFERRED), None);
    assert_ne!(offer.yiaddr, Ipv4Addr::UNSPECIFIED);
}

#[test]
fn rfc8925_value_is_exactly_the_configured_one_even_under_300() {
    for wait in [0u32, 100, 300, 86400] {
        let mut s = Server::new(vec![pool(Some(wait), 10)]);
        let offer = send(&mut s, &discover(1, &[108])).unwrap();
        assert_eq!(
            offer.option(opt::IPV6_ONLY_PREFERRED),
            Some(&wait.to_be_bytes()[..]),
            "V6ONLY_WAIT {wait}"
        );
    }
}

#[test]
fn rfc8925_init_reboot_with_a_live_lease_is_acked_with_its_address_and_108() {
    // RFC 2131 4.3.2: an ACK to INIT-REBOOT confirms the address the client remembers, so
    // it carries that address (yiaddr), with option 108 (RFC 8925 3.3: MUST, as the client
    // asked) so that it can stop DHCPv4 (RFC 8925 3.2) knowing its address was valid.
    let ip = Ipv4Addr::new(192, 168, 1, 100);
    // The client got its lease before the pool went IPv6-mostly.
    let mut s = Server::new(vec![pool(None, 1)]);
    assert_eq!(dora(&mut s, 1), ip);
    s.reconfigure(vec![pool(Some(600), 1)]);
    let later = NOW + 1000;
    let ack = send_at(&mut s, &request_init_reboot(1, ip, &[1, 108]), later).expect("an ACK");
    assert_eq!(
        (ack.kind, ack.yiaddr),
        (MessageType::Ack as u8, ip),
        "RFC 2131 4.3.2"
    );
    assert_eq!(
        ack.option(opt::IPV6_ONLY_PREFERRED),
        Some(&600u32.to_be_bytes()[..]),
        "RFC 8925 3.3"
    );
    // RFC 8925 3.2: the client stops DHCPv4 or, if it keeps the address, renews it as any
    // other; the binding stays as recorded (neither taken back nor lengthened): the lease
    // time is what is left of it.
    assert_eq!(
        ack.option(opt::LEASE_TIME),
        Some(&2600u32.to_be_bytes()[..])
    );
    assert_eq!(ack.change, None, "nothing to store: the lease is as it was");
    assert_eq!(s.pools()[0].table.active_leases(later), 1);
    assert!(
        send_at(&mut s, &discover(2, &[1]), later).is_none(),
        "the address is still the client's: not offered to another"
    );
    assert_eq!(s.counters.ipv6_only, 1);
    assert_eq!(s.pools()[0].ipv6_only_clients(), 1);
    // Once the lease has run out, the address is the pool's again.
    let after = NOW + 3600;
    let offer = send_at(&mut s, &discover(2, &[1]), after).unwrap();
    assert_eq!(offer.yiaddr, ip);
}

#[test]
fn rfc8925_init_reboot_of_a_static_host_with_a_live_lease_is_acked_with_its_address() {
    // RFC 2131 4.3.2 and RFC 8925 3.3, as for a pool address.
    let fixed = Ipv4Addr::new(192, 168, 1, 50);
    let host = StaticHost {
        macs: vec![mac(7)],
        ip: fixed,
        name: "laptop".into(),
        lease_time: None,
    };
    let mut p = pool(None, 1);
    p.hosts.push(host.clone());
    let mut s = Server::new(vec![p]);
    assert_eq!(dora(&mut s, 7), fixed);
    // A reload: static leases come back from the stored snapshot.
    let snapshot = option108_dhcpd::store::snapshot(&s, NOW);
    let mut p = pool(Some(600), 1);
    p.hosts.push(host);
    s.reconfigure(vec![p]);
    for c in snapshot {
        s.restore(&c, NOW);
    }
    let ack = send(&mut s, &request_init_reboot(7, fixed, &[1, 108])).unwrap();
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack as u8, fixed));
    assert_eq!(
        ack.option(opt::IPV6_ONLY_PREFERRED),
        Some(&600u32.to_be_bytes()[..])
    );
    assert_eq!(ack.change, None);
    assert_eq!(s.pools()[0].active_static_leases(NOW), 1);
}

#[test]
fn rfc8925_init_reboot_without_a_live_lease_gets_ack_with_108_and_no_address() {
    // RFC 8925 3.3: no address is given to a client that asked for 108; an expired lease
    // of its goes back to the pool.
    let ip = Ipv4Addr::new(192, 168, 1, 100);
    let mut s = Server::new(vec![pool(None, 1)]);
    assert_eq!(dora(&mut s, 1), ip);
    s.reconfigure(vec![pool(Some(600), 1)]);
    let later = NOW + 3600;
    let ack = send_at(&mut s, &request_init_reboot(1, ip, &[1, 108]), later).expect("an ACK");
    assert_eq!(
        (ack.kind, ack.yiaddr),
        (MessageType::Ack as u8, Ipv4Addr::UNSPECIFIED)
    );
    assert_eq!(
        ack.option(opt::IPV6_ONLY_PREFERRED),
        Some(&600u32.to_be_bytes()[..])
    );
    assert_eq!(ack.option(opt::LEASE_TIME), None);
    assert_eq!(ack.change, Some(LeaseChange::Released { ip, at: 0 }));
    assert_eq!(s.pools()[0].table.active_leases(later), 0);
    // A client never seen: the same.
    let ack = send(&mut s, &request_init_reboot(3, ip, &[1, 108])).unwrap();
    assert_eq!(
        (ack.kind, ack.yiaddr),
        (MessageType::Ack as u8, Ipv4Addr::UNSPECIFIED)
    );
    assert_eq!(ack.change, None);
}

#[test]
fn rfc8925_selecting_an_address_it_was_not_offered_is_naked() {
    // RFC 8925 3.3: a client that asked for 108 is offered 0.0.0.0. RFC 2131 4.3.2: in
    // SELECTING the requested address MUST be the offered yiaddr, and a server that cannot
    // satisfy the REQUEST SHOULD NAK it (3.1 step 4): no address is allocated.
    let mut s = Server::new(vec![pool(Some(1800), 10)]);
    let offer = send(&mut s, &discover(1, &[1, 3, 6, 108])).unwrap();
    assert_eq!(offer.yiaddr, Ipv4Addr::UNSPECIFIED);
    let free = Ipv4Addr::new(192, 168, 1, 105);
    let nak = send(&mut s, &request_selecting(1, free, &[1, 3, 6, 108])).unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8, "{nak:?}");
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(nak.change, None, "nothing allocated");
    assert_eq!(s.pools()[0].table.in_use(NOW), 0);
    assert_eq!(s.counters.naks, 1);
    // Without a DISCOVER first (no offer at all): the same.
    let nak = send(&mut s, &request_selecting(2, free, &[108])).unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
    assert_eq!(s.pools()[0].table.in_use(NOW), 0);
    // A client that did not ask for 108 still gets what it was offered.
    assert_eq!(dora(&mut s, 3), Ipv4Addr::new(192, 168, 1, 100));
}

#[test]
fn rfc8925_selecting_renewing_rebinding_keep_the_address_and_carry_108() {
    let ip = Ipv4Addr::new(192, 168, 1, 100);
    let mut rebinding = request_renewing(1, ip, &[1, 108]);
    set_header(&mut rebinding, ip, Ipv4Addr::UNSPECIFIED, FLAG_BROADCAST);
    let requests = [
        ("SELECTING", request_selecting(1, ip, &[1, 108])),
        ("RENEWING", request_renewing(1, ip, &[1, 108])),
        ("REBINDING", rebinding),
    ];
    for (state, bytes) in requests {
        let mut s = Server::new(vec![pool(None, 1)]);
        assert_eq!(dora(&mut s, 1), ip);
        s.reconfigure(vec![pool(Some(600), 1)]);
        let ack = send(&mut s, &bytes).unwrap();
        assert_eq!(
            (ack.kind, ack.yiaddr),
            (MessageType::Ack as u8, ip),
            "{state}: RFC 8925 3.2 has the client keep it"
        );
        assert_eq!(
            ack.option(opt::IPV6_ONLY_PREFERRED),
            Some(&600u32.to_be_bytes()[..]),
            "{state}"
        );
        assert_eq!(
            ack.option(opt::LEASE_TIME),
            Some(&3600u32.to_be_bytes()[..]),
            "{state}"
        );
        assert!(
            matches!(ack.change, Some(LeaseChange::Bound(r)) if r.ip == ip),
            "{state}"
        );
        // Without 108 in the PRL: the same ACK, without 108.
        let mut s = Server::new(vec![pool(Some(600), 1)]);
        assert_eq!(dora(&mut s, 1), ip);
        let plain = send(&mut s, &request_renewing(1, ip, &[1])).unwrap();
        assert_eq!(plain.option(opt::IPV6_ONLY_PREFERRED), None, "{state}");
    }
}

#[test]
fn rfc8925_rapid_commit_not_honoured_when_the_reply_carries_108() {
    let mut p = pool(Some(1800), 10);
    p.rapid_commit = true;
    let mut s = Server::new(vec![p]);
    let rapid = |n: u8, prl: &[u8]| {
        build_request(MessageType::Discover, mac(n), 7, |b| {
            b.extend_from_slice(&[
                opt::RAPID_COMMIT,
                0,
                opt::PARAMETER_REQUEST_LIST,
                prl.len() as u8,
            ]);
            b.extend_from_slice(prl);
        })
    };
    let v6 = send(&mut s, &rapid(1, &[1, 108])).unwrap();
    assert_eq!(
        v6.kind,
        MessageType::Offer as u8,
        "an OFFER, not a rapid ACK"
    );
    assert_eq!(v6.option(opt::RAPID_COMMIT), None);
    assert_eq!(
        v6.option(opt::IPV6_ONLY_PREFERRED),
        Some(&1800u32.to_be_bytes()[..])
    );
    assert!(v6.change.is_none());
    // Without 108 in the PRL, rapid commit is honoured.
    let legacy = send(&mut s, &rapid(2, &[1])).unwrap();
    assert_eq!(legacy.kind, MessageType::Ack as u8);
    assert_eq!(legacy.option(opt::RAPID_COMMIT), Some(&[][..]));
    assert!(matches!(legacy.change, Some(LeaseChange::Bound(_))));
}

#[test]
fn rapid_commit_off_by_default() {
    let mut s = Server::new(vec![pool(None, 10)]);
    let b = build_request(MessageType::Discover, mac(1), 7, |b| {
        b.extend_from_slice(&[opt::RAPID_COMMIT, 0])
    });
    assert_eq!(send(&mut s, &b).unwrap().kind, MessageType::Offer as u8);
}

#[test]
fn inform_gets_configuration_without_address_and_108_if_asked() {
    let mut s = Server::new(vec![pool(Some(1800), 10)]);
    let mut b = build_request(MessageType::Inform, mac(1), 3, |b| {
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 3, 1, 6, 108])
    });
    let ciaddr = Ipv4Addr::new(192, 168, 1, 50);
    set_header(&mut b, ciaddr, Ipv4Addr::UNSPECIFIED, 0);
    let ack = send(&mut s, &b).unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!((ack.yiaddr, ack.ciaddr), (Ipv4Addr::UNSPECIFIED, ciaddr));
    assert_eq!(ack.option(opt::LEASE_TIME), None);
    assert_eq!(ack.option(opt::DNS_SERVERS), Some(&SERVER.octets()[..]));
    assert_eq!(
        ack.option(opt::IPV6_ONLY_PREFERRED),
        Some(&1800u32.to_be_bytes()[..])
    );
    assert_eq!(ack.destination, Destination::Ciaddr(ciaddr));
    let mut plain = build_request(MessageType::Inform, mac(1), 3, |b| {
        b.extend_from_slice(&[opt::PARAMETER_REQUEST_LIST, 1, 6])
    });
    set_header(&mut plain, ciaddr, Ipv4Addr::UNSPECIFIED, 0);
    assert_eq!(
        send(&mut s, &plain)
            .unwrap()
            .option(opt::IPV6_ONLY_PREFERRED),
        None
    );
}

#[test]
fn renewing_and_rebinding_extend_the_lease_by_ciaddr() {
    let mut s = Server::new(vec![pool(None, 10)]);
    let ip = dora(&mut s, 1);
    let ack = send(&mut s, &request_renewing(1, ip, &[1])).unwrap();
    assert_eq!(
        (ack.kind, ack.yiaddr, ack.ciaddr),
        (MessageType::Ack as u8, ip, ip)
    );
    assert_eq!(ack.destination, Destination::Ciaddr(ip));
    // Another client claiming that address is refused.
    let nak = send(&mut s, &request_renewing(2, ip, &[1])).unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
    assert_eq!(nak.destination, Destination::Broadcast);
}

#[test]
fn init_reboot_acks_known_address_and_naks_wrong_network() {
    let mut s = Server::new(vec![pool(None, 10)]);
    let ip = dora(&mut s, 1);
    let ack = send(&mut s, &request_init_reboot(1, ip, &[1])).unwrap();
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack as u8, ip));
    let nak = send(
        &mut s,
        &request_init_reboot(1, Ipv4Addr::new(10, 0, 0, 5), &[1]),
    )
    .unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
    assert_eq!(nak.option(opt::SERVER_ID), Some(&SERVER.octets()[..]));
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    let stolen = send(&mut s, &request_init_reboot(2, ip, &[1])).unwrap();
    assert_eq!(
        stolen.kind,
        MessageType::Nak as u8,
        "an address held by another client"
    );
}

#[test]
fn init_reboot_of_an_unknown_client_is_acked_only_when_authoritative() {
    let free = Ipv4Addr::new(192, 168, 1, 104);
    let mut s = Server::new(vec![pool(None, 10)]);
    let ack = send(&mut s, &request_init_reboot(7, free, &[1])).unwrap();
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack as u8, free));

    let mut p = pool(None, 10);
    p.authoritative = false;
    let mut s = Server::new(vec![p]);
    assert!(
        send(&mut s, &request_init_reboot(7, free, &[1])).is_none(),
        "RFC 2131 4.3.2: silent"
    );
    // A client we do know is still answered, and a wrong network still NAKed.
    let ip = dora(&mut s, 1);
    let ack = send(&mut s, &request_init_reboot(1, ip, &[1])).unwrap();
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack as u8, ip));
    let nak = send(
        &mut s,
        &request_init_reboot(7, Ipv4Addr::new(10, 0, 0, 5), &[1]),
    )
    .unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
}

#[test]
fn selecting_another_server_frees_our_offer_silently() {
    let mut s = Server::new(vec![pool(None, 1)]);
    let offer = send(&mut s, &discover(1, &[1])).unwrap();
    let mut other = request_selecting(1, offer.yiaddr, &[1]);
    // Server identifier of someone else.
    let pos = other
        .windows(2)
        .position(|w| w == [opt::SERVER_ID, 4])
        .unwrap();
    other[pos + 2..pos + 6].copy_from_slice(&[192, 168, 1, 2]);
    assert!(send(&mut s, &other).is_none());
    assert_eq!(s.counters.other_server, 1);
    assert_eq!(
        send(&mut s, &discover(2, &[1])).unwrap().yiaddr,
        offer.yiaddr,
        "the offer was given back"
    );
}

#[test]
fn exhaustion_means_no_offer_and_a_counter() {
    let mut s = Server::new(vec![pool(None, 2)]);
    dora(&mut s, 1);
    dora(&mut s, 2);
    assert!(send(&mut s, &discover(3, &[1])).is_none());
    assert_eq!(s.counters.exhausted, 1);
    // The holders still renew fine.
    assert_eq!(
        send(
            &mut s,
            &request_renewing(1, Ipv4Addr::new(192, 168, 1, 100), &[1])
        )
        .unwrap()
        .kind,
        MessageType::Ack as u8
    );
}

#[test]
fn decline_quarantines_the_address() {
    let mut s = Server::new(vec![pool(None, 2)]);
    let ip = dora(&mut s, 1);
    let decline = build_request(MessageType::Decline, mac(1), 9, |b| {
        b.extend_from_slice(&[opt::REQUESTED_IP, 4]);
        b.extend_from_slice(&ip.octets());
        b.extend_from_slice(&[opt::SERVER_ID, 4]);
        b.extend_from_slice(&SERVER.octets());
    });
    let out = s.handle(&decline, IFINDEX, NOW);
    assert!(out.reply.is_none());
    assert!(matches!(out.change, Some(LeaseChange::Declined { ip: i, .. }) if i == ip));
    // Client 1 and client 2 now both get the other address, never the declined one.
    let a = send(&mut s, &discover(1, &[1])).unwrap().yiaddr;
    assert_ne!(a, ip);
    assert!(
        send(&mut s, &discover(2, &[1])).is_none(),
        "the only other address is offered to client 1"
    );
    // A DECLINE from a client that does not hold the address changes nothing.
    let mut s = Server::new(vec![pool(None, 2)]);
    let ip = dora(&mut s, 1);
    let forged = build_request(MessageType::Decline, mac(9), 9, |b| {
        b.extend_from_slice(&[opt::REQUESTED_IP, 4]);
        b.extend_from_slice(&ip.octets());
    });
    assert!(s.handle(&forged, IFINDEX, NOW).change.is_none());
    assert_eq!(s.pools()[0].table.active_leases(NOW), 1);
}

#[test]
fn release_then_return_gets_the_same_address_and_others_get_fresh_ones_first() {
    let mut s = Server::new(vec![pool(None, 3)]);
    let ip1 = dora(&mut s, 1);
    let mut release = build_request(MessageType::Release, mac(1), 5, |b| {
        b.extend_from_slice(&[opt::SERVER_ID, 4]);
        b.extend_from_slice(&SERVER.octets());
    });
    set_header(&mut release, ip1, Ipv4Addr::UNSPECIFIED, 0);
    let out = s.handle(&release, IFINDEX, NOW);
    assert!(out.reply.is_none());
    assert_eq!(out.change, Some(LeaseChange::Released { ip: ip1, at: NOW }));
    assert_eq!(s.pools()[0].table.active_leases(NOW), 0);
    let ip2 = dora(&mut s, 2);
    assert_ne!(ip2, ip1, "a never-used address before a released one");
    assert_eq!(
        dora(&mut s, 1),
        ip1,
        "the returning client gets its address back"
    );
}

#[test]
fn client_identifier_takes_precedence_over_chaddr() {
    let mut s = Server::new(vec![pool(None, 5)]);
    let with_id = |id: u8, t: MessageType, extra: &[u8]| {
        build_request(t, mac(1), 1, |b| {
            b.extend_from_slice(&[opt::CLIENT_ID, 3, 0xff, 0, id]);
            b.extend_from_slice(extra);
        })
    };
    let a = send(&mut s, &with_id(1, MessageType::Discover, &[]))
        .unwrap()
        .yiaddr;
    let b = send(&mut s, &with_id(2, MessageType::Discover, &[]))
        .unwrap()
        .yiaddr;
    assert_ne!(a, b, "same chaddr, two client identifiers: two clients");
}

#[test]
fn static_host_gets_its_address_which_is_never_given_dynamically() {
    let mut p = pool(None, 3);
    p.hosts.push(StaticHost {
        macs: vec![mac(7)],
        ip: Ipv4Addr::new(192, 168, 1, 101),
        name: "printer".into(),
        lease_time: None,
    });
    let mut s = Server::new(vec![p]);
    assert_eq!(dora(&mut s, 1), Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(
        dora(&mut s, 2),
        Ipv4Addr::new(192, 168, 1, 102),
        "101 is reserved"
    );
    assert!(send(&mut s, &discover(3, &[1])).is_none());
    assert_eq!(dora(&mut s, 7), Ipv4Addr::new(192, 168, 1, 101));
    // The static lease is stored and shown like any other, and survives a restart.
    assert_eq!(s.pools()[0].active_static_leases(NOW), 1);
    let snapshot = option108_dhcpd::store::snapshot(&s, NOW);
    assert!(snapshot.iter().any(|c| matches!(c, LeaseChange::Bound(r) if r.ip == Ipv4Addr::new(192, 168, 1, 101) && r.mac == mac(7))));
    let mut p2 = pool(None, 3);
    p2.hosts = s.pools()[0].pool.hosts.clone();
    let mut restarted = Server::new(vec![p2]);
    for c in &snapshot {
        restarted.restore(c, NOW);
    }
    assert_eq!(restarted.pools()[0].active_static_leases(NOW), 1);
    assert_eq!(restarted.pools()[0].table.active_leases(NOW), 2);
}

#[test]
fn the_server_address_is_never_given_out() {
    let mut p = pool(None, 2);
    p.first = SERVER;
    let mut s = Server::new(vec![p]);
    assert_eq!(dora(&mut s, 1), Ipv4Addr::new(192, 168, 1, 2));
    assert!(send(&mut s, &discover(2, &[1])).is_none());
}

#[test]
fn relayed_requests_go_back_to_the_relay() {
    let mut relay_pool = pool(None, 5);
    relay_pool.name = "remote".into();
    relay_pool.ifindex = 99;
    relay_pool.server = Ipv4Addr::new(10, 20, 0, 1);
    relay_pool.first = Ipv4Addr::new(10, 20, 0, 100);
    let mut s = Server::new(vec![pool(None, 5), relay_pool]);
    let mut d = discover(1, &[1]);
    let relay = Ipv4Addr::new(10, 20, 0, 2);
    set_header(&mut d, Ipv4Addr::UNSPECIFIED, relay, 0);
    let offer = send(&mut s, &d).unwrap();
    assert_eq!(
        offer.yiaddr,
        Ipv4Addr::new(10, 20, 0, 100),
        "the pool of the relay's subnet"
    );
    assert_eq!(offer.destination, Destination::Relay(relay));
    // A NAK through a relay carries the broadcast bit.
    let mut r = request_init_reboot(1, Ipv4Addr::new(172, 16, 0, 1), &[1]);
    set_header(&mut r, Ipv4Addr::UNSPECIFIED, relay, 0);
    let nak = send(&mut s, &r).unwrap();
    assert_eq!(
        (nak.kind, nak.destination, nak.flags),
        (
            MessageType::Nak as u8,
            Destination::Relay(relay),
            FLAG_BROADCAST
        )
    );
    // Unknown relay subnet: dropped.
    set_header(
        &mut d,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(172, 16, 0, 1),
        0,
    );
    assert!(send(&mut s, &d).is_none());
    assert_eq!(s.counters.no_pool, 1);
}

#[test]
fn malformed_messages_are_counted_and_change_nothing() {
    let mut s = Server::new(vec![pool(None, 5)]);
    dora(&mut s, 1);
    let good = discover(2, &[1]);
    let mut wrong_op = good.clone();
    wrong_op[0] = 2;
    let mut bad_len = good.clone();
    bad_len.pop();
    bad_len.extend_from_slice(&[opt::CLIENT_ID, 50, 1]);
    let overlong = vec![0u8; 5000];
    for bytes in [&good[..100], &bad_len[..], &overlong[..], &[][..]] {
        assert!(s.handle(bytes, IFINDEX, NOW).reply.is_none());
    }
    assert!(s.handle(&wrong_op, IFINDEX, NOW).reply.is_none());
    assert_eq!(s.counters.malformed, 4);
    assert_eq!(s.counters.not_request, 1);
    assert_eq!(s.pools()[0].table.active_leases(NOW), 1);
    assert!(
        s.handle(&good, 12345, NOW).reply.is_none(),
        "an interface without a pool"
    );
}

#[test]
fn expired_leases_are_reused_oldest_first_and_nothing_is_ever_doubled() {
    let mut s = Server::new(vec![pool(None, 4)]);
    let mut t = NOW;
    // A deterministic pseudo-random workload over 40 clients and a 4-address pool.
    let mut x: u32 = 12345;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x % 40) as u8;
        t += (x % 200) as u64;
        let out = s.handle(&discover(n, &[1]), IFINDEX, t);
        let Some(offer) = out.reply else { continue };
        let ip = Packet::new_checked(offer.bytes).unwrap().yiaddr();
        let ack = s.handle(&request_selecting(n, ip, &[1]), IFINDEX, t);
        assert!(ack.reply.is_some());
        let mut holders = std::collections::HashMap::new();
        for (addr, slot) in s.pools()[0].table.slots() {
            if slot.active(t) {
                assert!(
                    holders.insert(slot.client, addr).is_none(),
                    "a client with two addresses"
                );
            }
        }
    }
}
