//! Canned replies: real kernel replies (captured on x86_64 by
//! `tests/fixtures/netlink/capture.py`) and messages built here with `to_ne_bytes`.

use super::*;

const V0: u32 = 3; // in the capture's namespace: lo 1, v1 2, v0 3
const V1: u32 = 2;

/// The datagrams of a fixture file (one per line, hex), in host byte order.
///
/// The captures are little-endian. On a big-endian host each integer the kernel wrote in its
/// order is swapped here: the netlink header, the fixed part of each message type, every
/// attribute header, the integer attributes the parser reads (IFLA_MTU, IFA_FLAGS, RTA_OIF,
/// RTA_PRIORITY, RTA_TABLE) and RTA_MULTIPATH's rtnexthops. Payloads the parser skips are
/// left as they are. On a little-endian host nothing changes.
fn fixture(name: &str) -> Vec<Vec<u8>> {
    let path = format!(
        "{}/tests/fixtures/netlink/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|line| {
            let mut d: Vec<u8> = (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
                .collect();
            le_to_host(&mut d);
            d
        })
        .collect()
}

fn swap16(b: &mut [u8], at: usize) -> usize {
    let v = u16::from_le_bytes([b[at], b[at + 1]]);
    b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
    v as usize
}

fn swap32(b: &mut [u8], at: usize) {
    let v = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn le_to_host(d: &mut [u8]) {
    let mut at = 0;
    while at < d.len() {
        let len = u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize;
        let kind = u16::from_le_bytes([d[at + 4], d[at + 5]]);
        for (i, width) in [(0, 4), (4, 2), (6, 2), (8, 4), (12, 4)] {
            if width == 4 {
                swap32(d, at + i);
            } else {
                swap16(d, at + i);
            }
        }
        let body = at + 16;
        let end = at + len;
        match kind {
            NLMSG_ERROR | NLMSG_DONE => swap32(d, body),
            RTM_NEWLINK | RTM_DELLINK => {
                swap16(d, body + 2);
                for i in [4, 8, 12] {
                    swap32(d, body + i);
                }
                attrs_to_host(d, body + 16, end, &[IFLA_MTU], false);
            }
            RTM_NEWADDR | RTM_DELADDR => {
                swap32(d, body + 4);
                attrs_to_host(d, body + 8, end, &[IFA_FLAGS], false);
            }
            RTM_NEWROUTE | RTM_DELROUTE => {
                swap32(d, body + 8);
                attrs_to_host(d, body + 12, end, &[RTA_OIF, RTA_PRIORITY, RTA_TABLE], true);
            }
            _ => {}
        }
        at += align4(len);
    }
}

/// `route`: RTA_MULTIPATH is one of them.
fn attrs_to_host(d: &mut [u8], mut at: usize, end: usize, u32s: &[u16], route: bool) {
    while at < end {
        let len = swap16(d, at);
        let kind = swap16(d, at + 2) as u16 & NLA_TYPE_MASK;
        if u32s.contains(&kind) && len == 8 {
            swap32(d, at + 4);
        }
        if route && kind == RTA_MULTIPATH {
            let (mut hop, hops_end) = (at + 4, at + len);
            while hop < hops_end {
                let hop_len = swap16(d, hop);
                swap32(d, hop + 4);
                attrs_to_host(d, hop + 8, hop + hop_len, &[], false);
                hop += align4(hop_len);
            }
        }
        at += align4(len);
    }
}

/// Parses a whole captured dump as `Netlink::dump` does, checking it ends at NLMSG_DONE of
/// the last datagram (the capture's request had sequence number 1).
fn dump_fixture(name: &str) -> Vec<Event> {
    let parts = fixture(name);
    let mut state = DumpState::default();
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        assert!(!state.done, "{name}: done before part {i}");
        parse_dump_part(part, 1, &mut state, &mut out).unwrap();
    }
    assert_eq!(
        state,
        DumpState {
            done: true,
            interrupted: false,
            error: 0
        }
    );
    out
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn links_dump_in_three_parts() {
    assert_eq!(fixture("links").len(), 3, "the capture is multi-part");
    let links: Vec<Link> = dump_fixture("links")
        .into_iter()
        .map(|e| match e {
            Event::Link(l) => l,
            e => panic!("{e:?}"),
        })
        .collect();
    let want = |index, name: &str, mtu| Link {
        index,
        name: name.to_string(),
        up: true,
        running: true,
        mtu,
    };
    assert_eq!(
        links,
        [
            want(1, "lo", 65536),
            want(V1, "v1", 1500),
            want(V0, "v0", 1400)
        ]
    );
}

#[test]
fn addrs_dump() {
    let addrs: Vec<Addr> = dump_fixture("addrs")
        .into_iter()
        .map(|e| match e {
            Event::Addr(a) => a,
            e => panic!("{e:?}"),
        })
        .collect();
    let find = |a: &str| {
        addrs
            .iter()
            .find(|x| x.addr == ip(a))
            .unwrap_or_else(|| panic!("{a} in {addrs:?}"))
    };
    let a = find("2001:db8:1::1");
    assert_eq!((a.index, a.len, a.scope), (V0, 64, 0));
    let permanent_nodad = libc::IFA_F_PERMANENT | libc::IFA_F_NODAD;
    assert_eq!(a.flags, permanent_nodad);
    let ll = find("fe80::1");
    assert_eq!((ll.index, ll.len, ll.scope), (V0, 64, libc::RT_SCOPE_LINK));
    // Added with DAD, dumped before DAD was done.
    let t = find("2001:db8:2::1");
    assert_eq!(t.index, V1);
    assert_ne!(t.flags & libc::IFA_F_TENTATIVE, 0);
    // Point-to-point IPv4: the own end (IFA_LOCAL), not the peer (IFA_ADDRESS).
    let p = find("192.0.2.1");
    assert_eq!((p.index, p.len), (V1, 32));
    assert!(!addrs.iter().any(|x| x.addr == ip("192.0.2.2")));
    assert_eq!(find("::1").index, 1);
    assert_eq!(find("127.0.0.1").scope, libc::RT_SCOPE_HOST);
}

#[test]
fn routes_dump() {
    let routes: Vec<RouteInfo> = dump_fixture("routes6")
        .into_iter()
        .map(|e| match e {
            Event::Route(r) => r,
            e => panic!("{e:?}"),
        })
        .collect();
    assert!(routes.iter().all(|r| r.family == AF_INET6));
    let find = |dst: &str, len: u8| {
        routes
            .iter()
            .find(|r| r.dst == ip(dst) && r.len == len)
            .unwrap_or_else(|| panic!("{dst}/{len} in {routes:#?}"))
    };
    assert_eq!(
        find("2001:db8:10::", 64),
        &RouteInfo {
            family: AF_INET6,
            dst: ip("2001:db8:10::"),
            len: 64,
            table: 254,
            protocol: 189,
            kind: RTN_UNICAST,
            priority: 20,
            oif: Some(V0),
            gateway: Some(ip("fe80::2")),
            multipath: vec![],
        }
    );
    let ecmp = find("2001:db8:20::", 64);
    assert_eq!((ecmp.oif, ecmp.gateway, ecmp.priority), (None, None, 20));
    assert_eq!(
        ecmp.multipath,
        [(Some(ip("fe80::2")), V0), (Some(ip("fe80::3")), V1)]
    );
    // Table 300 is only in RTA_TABLE (rtm_table says RT_TABLE_COMPAT).
    let t300 = find("2001:db8:30::", 64);
    assert_eq!((t300.table, t300.protocol, t300.priority), (300, 189, 1024));
    // The kernel's own: connected prefix, local address (table local), multicast.
    let connected = find("2001:db8:1::", 64);
    assert_eq!((connected.protocol, connected.oif), (2, Some(V0)));
    let local = find("2001:db8:1::1", 128);
    assert_eq!((local.table, local.kind), (255, 2));
    assert_eq!(find("ff00::", 8).kind, 5);
}

/// A test on an event.
type Want<'a> = Box<dyn Fn(&Event) -> bool + 'a>;

#[test]
fn events_in_order() {
    let mut events = Vec::new();
    for d in fixture("events") {
        parse_messages(&d, &mut events).unwrap();
    }
    // What capture.py did, in order, each change finding its event (among the kernel's
    // consequences: prefix routes going with their address, routes going with v0).
    let wants: Vec<Want> = vec![
        Box::new(|e| {
            matches!(e, Event::RouteGone(r) if r.dst == ip("2001:db8:20::")
                && r.multipath.len() == 2)
        }),
        Box::new(|e| matches!(e, Event::AddrGone(a) if a.addr == ip("2001:db8:2::1"))),
        Box::new(|e| {
            matches!(e, Event::Route(r) if r.dst == ip("2001:db8:40::") && r.priority == 7
                && r.multipath == [(Some(ip("fe80::2")), V0), (Some(ip("fe80::3")), V0)])
        }),
        Box::new(|e| matches!(e, Event::Link(l) if l.name == "v1" && !l.up && !l.running)),
        Box::new(|e| {
            matches!(e, Event::RouteGone(r) if r.dst == ip("2001:db8:10::")
                && r.oif == Some(V0))
        }),
        // The ECMP route's nexthops go one by one with their device, each on its own.
        Box::new(|e| {
            matches!(e, Event::RouteGone(r) if r.dst == ip("2001:db8:40::")
                && r.oif == Some(V0) && r.gateway == Some(ip("fe80::2")))
        }),
        Box::new(|e| {
            matches!(e, Event::RouteGone(r) if r.dst == ip("2001:db8:40::")
                && r.oif == Some(V0) && r.gateway == Some(ip("fe80::3")))
        }),
        Box::new(|e| matches!(e, Event::LinkGone(l) if l.index == V0 && l.name == "v0")),
        Box::new(|e| matches!(e, Event::LinkGone(l) if l.index == V1 && l.name == "v1")),
    ];
    let mut at = 0;
    for (i, want) in wants.iter().enumerate() {
        match events[at..].iter().position(want) {
            Some(p) => at += p + 1,
            None => panic!("change {i} not found after event {at}: {events:#?}"),
        }
    }
}

#[test]
fn truncated_is_an_error_never_a_panic() {
    for name in ["links", "addrs", "routes6", "events"] {
        for d in fixture(name) {
            let mut boundaries = vec![0];
            for_each_message(&d, |m| {
                boundaries.push(m.at - HEADER + align4(m.body.len() + HEADER));
                Ok(())
            })
            .unwrap();
            for cut in 0..d.len() {
                let r = parse_messages(&d[..cut], &mut Vec::new());
                assert_eq!(r.is_ok(), boundaries.contains(&cut), "{name} cut at {cut}");
            }
        }
    }
}

#[test]
fn lengths_past_the_end_are_errors() {
    let d = &fixture("routes6")[0];
    // The first attribute of the first route, its length made longer than the message.
    let mut bad = d.clone();
    let attr = HEADER + 12;
    bad[attr..attr + 2].copy_from_slice(&2000u16.to_ne_bytes());
    let e = parse_messages(&bad, &mut Vec::new()).unwrap_err();
    assert_eq!(e.offset, attr);
    // An attribute shorter than its own header.
    bad[attr..attr + 2].copy_from_slice(&3u16.to_ne_bytes());
    assert!(parse_messages(&bad, &mut Vec::new()).is_err());
    // A message length below the header's size, and past the datagram.
    let mut bad = d.clone();
    bad[..4].copy_from_slice(&15u32.to_ne_bytes());
    assert!(parse_messages(&bad, &mut Vec::new()).is_err());
    bad[..4].copy_from_slice(&(d.len() as u32 + 4).to_ne_bytes());
    assert!(parse_messages(&bad, &mut Vec::new()).is_err());
}

/// An RTM_NEWROUTE for `r` parsed back.
fn round_trip(m: &mut Message) -> RouteInfo {
    let mut out = Vec::new();
    parse_messages(m.finish(), &mut out).unwrap();
    match out.as_slice() {
        [Event::Route(r)] | [Event::RouteGone(r)] => r.clone(),
        e => panic!("{e:?}"),
    }
}

#[test]
fn route6_one_nexthop() {
    let r = Route6 {
        dst: v6("2001:db8:7::"),
        len: 48,
        table: 300,
        protocol: 189,
        priority: 3,
        nexthops: vec![(v6("fe80::9"), 4)],
    };
    let mut m = route6_message(RTM_NEWROUTE, NLM_F_REQUEST, &r);
    let b = m.finish().to_vec();
    // rtm_table cannot say 300: RT_TABLE_UNSPEC there, the table in RTA_TABLE.
    assert_eq!(b[HEADER + 4], RT_TABLE_UNSPEC);
    let back = round_trip(&mut m);
    assert_eq!(
        back,
        RouteInfo {
            family: AF_INET6,
            dst: ip("2001:db8:7::"),
            len: 48,
            table: 300,
            protocol: 189,
            kind: RTN_UNICAST,
            priority: 3,
            oif: Some(4),
            gateway: Some(ip("fe80::9")),
            multipath: vec![],
        }
    );
    let small = Route6 { table: 254, ..r };
    let b = route6_message(RTM_NEWROUTE, NLM_F_REQUEST, &small).0;
    assert_eq!(b[HEADER + 4], 254);
}

#[test]
fn route6_ecmp_and_delete() {
    let r = Route6 {
        dst: v6("2001:db8:8::"),
        len: 64,
        table: 254,
        protocol: 189,
        priority: 0,
        nexthops: vec![(v6("fe80::1"), 2), (v6("fe80::2"), 3)],
    };
    let back = round_trip(&mut route6_message(RTM_NEWROUTE, 0, &r));
    assert_eq!((back.gateway, back.oif, back.priority), (None, None, 0));
    assert_eq!(
        back.multipath,
        [(Some(ip("fe80::1")), 2), (Some(ip("fe80::2")), 3)]
    );
    // The delete names the route, not its nexthops (the kernel would remove one nexthop).
    let bare = Route6 {
        nexthops: vec![],
        ..r
    };
    let del = round_trip(&mut route6_message(RTM_DELROUTE, 0, &bare));
    assert_eq!(
        (del.dst, del.len, del.table, del.protocol),
        (ip("2001:db8:8::"), 64, 254, 189)
    );
    assert_eq!((del.gateway, del.oif, del.multipath.len()), (None, None, 0));
}

/// A message as the kernel would send it, built in host order.
fn kernel_message(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Message::new(kind, flags, seq, body);
    m.finish().to_vec()
}

#[test]
fn dump_errors_and_stale_replies() {
    let mut state = DumpState::default();
    let mut out = Vec::new();
    // A reply to an earlier request (seq 6) is skipped, the error for ours (seq 7) taken.
    let mut d = kernel_message(RTM_NEWLINK, 2, 6, &[0; 16]);
    d.extend(kernel_message(
        NLMSG_ERROR,
        0,
        7,
        &(-libc::EOPNOTSUPP).to_ne_bytes(),
    ));
    parse_dump_part(&d, 7, &mut state, &mut out).unwrap();
    assert_eq!((state.done, state.error), (true, libc::EOPNOTSUPP));
    assert!(out.is_empty());
    // NLMSG_DONE with an error; NLM_F_DUMP_INTR noticed.
    let mut state = DumpState::default();
    let mut link = [0u8; 16];
    link[4..8].copy_from_slice(&5u32.to_ne_bytes());
    let mut d = kernel_message(RTM_NEWLINK, 2 | NLM_F_DUMP_INTR, 8, &link);
    d.extend(kernel_message(
        NLMSG_DONE,
        2,
        8,
        &(-libc::EBUSY).to_ne_bytes(),
    ));
    parse_dump_part(&d, 8, &mut state, &mut out).unwrap();
    assert_eq!(
        state,
        DumpState {
            done: true,
            interrupted: true,
            error: libc::EBUSY
        }
    );
    assert!(matches!(&out[..], [Event::Link(l)] if l.index == 5 && l.name.is_empty()));
}

#[test]
fn overrun_and_unknown_skipped() {
    let mut d = kernel_message(NLMSG_OVERRUN, 0, 0, &[]);
    d.extend(kernel_message(0x99, 0, 0, &[1, 2, 3, 4]));
    // A route of another family (AF_MPLS) and a cloned one: not routes anybody configured.
    let mut mpls = [0u8; 12];
    mpls[0] = 28;
    d.extend(kernel_message(RTM_NEWROUTE, 0, 0, &mpls));
    let mut cloned = [0u8; 12];
    cloned[0] = AF_INET6;
    cloned[8..12].copy_from_slice(&RTM_F_CLONED.to_ne_bytes());
    d.extend(kernel_message(RTM_NEWROUTE, 0, 0, &cloned));
    // An address message with an unknown attribute (type 99) and IFA_FLAGS above 8 bits.
    let mut addr = Message::new(RTM_NEWADDR, 0, 0, &[AF_INET6, 64, 0x80, 0, 7, 0, 0, 0]);
    addr.0[HEADER + 4..HEADER + 8].copy_from_slice(&7u32.to_ne_bytes());
    addr.attr(99, &[1, 2, 3])
        .attr(IFA_ADDRESS, &v6("2001:db8::5").octets())
        .attr(IFA_FLAGS, &0x280u32.to_ne_bytes());
    d.extend_from_slice(addr.finish());
    let mut out = Vec::new();
    parse_messages(&d, &mut out).unwrap();
    assert_eq!(
        out,
        [
            Event::Overrun,
            Event::Addr(Addr {
                index: 7,
                addr: ip("2001:db8::5"),
                len: 64,
                scope: 0,
                flags: 0x280
            })
        ]
    );
}

#[test]
fn message_layout() {
    let mut m = Message::new(RTM_NEWROUTE, NLM_F_REQUEST, 7, &[1, 2, 3, 4]);
    m.attr(RTA_DST, &[10, 0, 0])
        .attr(RTA_OIF, &5u32.to_ne_bytes());
    let b = m.finish().to_vec();
    assert_eq!(b.len(), 16 + 4 + 8 + 8);
    assert_eq!(
        u32::from_ne_bytes(b[..4].try_into().unwrap()),
        b.len() as u32
    );
    assert_eq!(u16::from_ne_bytes([b[4], b[5]]), RTM_NEWROUTE);
    assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
    assert_eq!(
        u16::from_ne_bytes([b[20], b[21]]),
        7,
        "attribute length excludes padding"
    );
    assert_eq!(&b[24..28], &[10, 0, 0, 0]);
    assert_eq!(u16::from_ne_bytes([b[30], b[31]]), RTA_OIF);
}

#[test]
fn delete_matches_what_was_added() {
    let add = device_route_message(RTM_NEWROUTE, NLM_F_REQUEST, &[198, 51, 100, 0], 30, 9).0;
    let del = device_route_message(RTM_DELROUTE, NLM_F_REQUEST, &[198, 51, 100, 0], 30, 9).0;
    assert_eq!(u16::from_ne_bytes([del[4], del[5]]), RTM_DELROUTE);
    // Same rtmsg and attributes: the kernel finds the route it added.
    assert_eq!(add[16..], del[16..]);
    assert_eq!(del[16], AF_INET);
    assert_eq!(del[17], 30);
}

#[test]
fn route_text() {
    let r4 = Route {
        dst: vec![198, 51, 100, 0],
        len: 30,
    };
    assert_eq!(r4.to_string(), "198.51.100.0/30");
    let mut a6 = [0u8; 16];
    a6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    let r6 = Route {
        dst: a6.to_vec(),
        len: 96,
    };
    assert_eq!(r6.to_string(), "2001:db8::/96");
}

/// The real kernel: a route added, replaced by an ECMP one, dumped, deleted, and the events
/// of each, in a network namespace of a thread of its own (namespaces are per thread; the
/// namespace goes with the thread and its sockets). Root only, and not under qemu-user (the
/// cross tests), which garbles big-endian netlink.
#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "qemu-user garbles netlink")]
fn live_route_add_replace_dump_delete() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not root");
        return;
    }
    std::thread::spawn(live_in_own_namespace).join().unwrap();
}

fn sh(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

fn live_in_own_namespace() {
    // SAFETY: unshare with a flag; this thread alone moves to the new namespace.
    assert_eq!(
        unsafe { libc::unshare(libc::CLONE_NEWNET) },
        0,
        "{}",
        io::Error::last_os_error()
    );
    sh(&["link", "set", "lo", "up"]);
    sh(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    sh(&["link", "set", "v0", "up"]);
    sh(&["link", "set", "v1", "up"]);
    let mut events = Events::open().unwrap();
    let mut nl = Netlink::open().unwrap();
    sh(&["addr", "add", "2001:db8:1::1/64", "dev", "v0", "nodad"]);

    let links = nl.dump_links().unwrap();
    let index = |name: &str| links.iter().find(|l| l.name == name).unwrap().index;
    let (v0, v1) = (index("v0"), index("v1"));
    assert!(
        links.iter().all(|l| l.up && l.running && l.mtu > 0),
        "{links:?}"
    );
    let addrs = nl.dump_addrs(AF_INET6).unwrap();
    assert!(addrs
        .iter()
        .any(|a| a.addr == ip("2001:db8:1::1") && a.index == v0 && a.len == 64));
    assert!(addrs.iter().all(|a| a.addr.is_ipv6()));

    let one = Route6 {
        dst: v6("2001:db8:99::"),
        len: 64,
        table: 300,
        protocol: 189,
        priority: 50,
        nexthops: vec![(v6("fe80::2"), v0)],
    };
    nl.add_route6(&one, false).unwrap();
    let again = nl.add_route6(&one, false).unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
    let two = Route6 {
        nexthops: vec![(v6("fe80::2"), v0), (v6("fe80::3"), v1)],
        ..one.clone()
    };
    nl.add_route6(&two, true).unwrap();
    let routes = nl.dump_routes(AF_INET6, 300).unwrap();
    assert_eq!(routes.len(), 1, "{routes:#?}");
    let r = &routes[0];
    assert_eq!(
        (r.dst, r.len, r.table, r.protocol, r.priority),
        (ip("2001:db8:99::"), 64, 300, 189, 50)
    );
    let mut hops = r.multipath.clone();
    hops.sort();
    assert_eq!(hops, [(Some(ip("fe80::2")), v0), (Some(ip("fe80::3")), v1)]);
    assert!(nl
        .dump_routes(AF_INET6, 254)
        .unwrap()
        .iter()
        .all(|r| r.protocol != 189));

    nl.del_route6(&one).unwrap();
    assert!(nl.dump_routes(AF_INET6, 300).unwrap().is_empty());
    let gone = nl.del_route6(&one).unwrap_err();
    assert_eq!(gone.raw_os_error(), Some(libc::ESRCH));

    // The events, in order: the address, the route, its replacement, its removal.
    let ours = |r: &RouteInfo| r.dst == ip("2001:db8:99::") && r.table == 300;
    let wants: Vec<Want> = vec![
        Box::new(|e| matches!(e, Event::Addr(a) if a.addr == ip("2001:db8:1::1"))),
        Box::new(|e| {
            matches!(e, Event::Route(r) if ours(r) && r.oif == Some(v0)
                && r.gateway == Some(ip("fe80::2")))
        }),
        Box::new(|e| matches!(e, Event::Route(r) if ours(r) && r.multipath.len() == 2)),
        Box::new(|e| matches!(e, Event::RouteGone(r) if ours(r))),
    ];
    let (mut buf, mut seen) = (Vec::new(), Vec::new());
    let mut found = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while found < wants.len() && std::time::Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: events.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 100) };
        let before = seen.len();
        events.read(&mut buf, &mut seen).unwrap();
        for e in &seen[before..] {
            if found < wants.len() && wants[found](e) {
                found += 1;
            }
        }
    }
    assert_eq!(found, wants.len(), "{seen:#?}");
    assert!(!seen.contains(&Event::Overrun));
}
