//! The rule model through the renderer: which rules each section type asks for, in which
//! order, for the standalone table and for fw4 (configs built in code; `render.rs` starts from
//! UCI text and compares with nft's own listings).

use std::collections::BTreeMap;
use std::path::PathBuf;

use fw_helper::config::{
    self, Backend, Config, Dhcp, Dns, Ifaces, Nat64, Net4, Ripng, StaticPort, ZoneRef,
};
use fw_helper::model::{build, Chain, Match, Rule, Verdict, L4};
use fw_helper::render::{apply_script, fw4_snippets, own_table, remove_script, rule_line};
use v6only_common::rfc6052::Prefix;
use v6only_common::uci::ConfigError;

fn zref(n: &str) -> ZoneRef {
    ZoneRef {
        name: n.into(),
        undefined: ConfigError {
            path: PathBuf::from("/x"),
            line: 3,
            option: "x.@dns[0].zone".into(),
            value: Some(n.into()),
            expected: "a zone".into(),
        },
    }
}
fn ifz(z: &str) -> Ifaces {
    Ifaces {
        zones: vec![zref(z)],
        devices: vec![],
    }
}
fn cfg() -> Config {
    let mut zones = BTreeMap::new();
    zones.insert(
        "lan".to_string(),
        vec!["br-lan".to_string(), "wlan0".to_string()],
    );
    zones.insert("wan".to_string(), vec!["eth1".to_string()]);
    Config {
        enabled: true,
        backend: Backend::Auto,
        table: config::DEFAULT_TABLE.into(),
        zones,
        dhcp: vec![Dhcp {
            ifaces: Ifaces {
                zones: vec![],
                devices: vec!["br-lan".into()],
            },
        }],
        dns: vec![Dns {
            ifaces: ifz("lan"),
            port: 53,
        }],
        ripng: vec![Ripng { ifaces: ifz("lan") }],
        nat64: vec![Nat64 {
            tun: "nat64".into(),
            prefix: Prefix::well_known(),
            wan: ifz("wan"),
            lan: ifz("lan"),
            masquerade: vec![Net4 {
                addr: [192, 168, 255, 0].into(),
                len: 24,
            }],
            mss_clamp: true,
            statics: vec![
                StaticPort {
                    l4: Some(L4::Tcp),
                    addr: [192, 168, 255, 1].into(),
                    port: 8080,
                },
                StaticPort {
                    l4: Some(L4::Udp),
                    addr: [203, 0, 113, 5].into(),
                    port: 5000,
                },
            ],
        }],
        warnings: vec![],
    }
}

#[test]
fn fw4_snippets_have_no_guards() {
    let rs = build(&cfg(), &cfg().zones, false).unwrap();
    assert!(rs.rules.iter().all(|r| !r.guard));
    let sn = fw4_snippets(&rs);
    assert_eq!(
        sn.keys().copied().collect::<Vec<_>>(),
        vec!["dstnat", "forward", "input", "mangle_forward", "srcnat"]
    );
    let input = &sn["input"];
    assert!(
        input.contains("meta nfproto ipv4 iifname \"br-lan\" udp dport 67 accept"),
        "{input}"
    );
    assert!(input.contains("iifname { \"br-lan\", \"wlan0\" } udp dport 53 accept"));
    assert!(input.contains("iifname { \"br-lan\", \"wlan0\" } tcp dport 53 accept"));
    assert!(input.contains(
        "iifname { \"br-lan\", \"wlan0\" } ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept"
    ));
    assert!(input.contains("meta nfproto ipv6 udp dport 521 drop"));
    assert!(!input.contains("dport 53 drop"));
    assert!(sn["forward"].contains("iifname \"nat64\" oifname \"eth1\" accept"));
    assert!(sn["forward"].contains(
        "iifname { \"br-lan\", \"wlan0\" } oifname \"nat64\" ip6 daddr 64:ff9b::/96 accept"
    ));
    assert!(sn["srcnat"].contains("oifname \"eth1\" ip saddr 192.168.255.0/24 masquerade"));
    assert!(sn["mangle_forward"]
        .contains("oifname \"nat64\" tcp flags syn tcp option maxseg size set rt mtu"));
    // RIPng accept comes before the RIPng drop.
    assert!(input.find("521 accept").unwrap() < input.find("521 drop").unwrap());
    // Static BIB entries: both reachable, only the masqueraded one DNATed.
    assert!(sn["forward"].contains(
        "iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.1 tcp dport 8080 accept"
    ));
    assert!(sn["forward"]
        .contains("iifname \"eth1\" oifname \"nat64\" ip daddr 203.0.113.5 udp dport 5000 accept"));
    let dnat = &sn["dstnat"];
    assert_eq!(dnat.lines().count(), 2, "{dnat}");
    assert!(dnat.contains(
        "meta nfproto ipv4 iifname \"eth1\" fib daddr type local tcp dport 8080 dnat ip to 192.168.255.1:8080 comment"
    ), "{dnat}");
}

#[test]
fn statics_before_the_guard_in_standalone() {
    let c = cfg();
    let rs = build(&c, &c.zones, true).unwrap();
    let t = own_table(&rs, "v6only");
    let accept = t
        .find("iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.1 tcp dport 8080 accept")
        .expect(&t);
    let udp = t
        .find("iifname \"eth1\" oifname \"nat64\" ip daddr 203.0.113.5 udp dport 5000 accept")
        .expect(&t);
    let guard = t.find("ct state new drop").unwrap();
    assert!(accept < guard && udp < guard);
    assert!(t.contains("\tchain dstnat {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tmeta nfproto ipv4 iifname \"eth1\" fib daddr type local tcp dport 8080 dnat ip to 192.168.255.1:8080 comment \"!v6only: NAT64 static 192.168.255.1:8080/tcp at the address of eth1\"\n\t}"), "{t}");
    assert!(!t.contains("dnat ip to 203.0.113.5"));
    // Without statics: no dstnat chain at all.
    let mut c = cfg();
    c.nat64[0].statics.clear();
    let rs = build(&c, &c.zones, true).unwrap();
    assert!(!rs.chains().contains(&Chain::Dstnat));
    assert!(!own_table(&rs, "v6only").contains(" ip daddr"));
}

#[test]
fn icmp_static_accepts_echo_requests_without_dnat() {
    let mut c = cfg();
    // In the masqueraded pool: still no DNAT (an echo has no port to forward).
    c.nat64[0].statics.push(StaticPort {
        l4: None,
        addr: [192, 168, 255, 2].into(),
        port: 0,
    });
    let rs = build(&c, &c.zones, true).unwrap();
    let t = own_table(&rs, "v6only");
    let ping = t
        .find("iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.2 icmp type echo-request accept comment \"!v6only: NAT64 static 192.168.255.2/icmp from eth1\"")
        .expect(&t);
    assert!(ping < t.find("ct state new drop").unwrap(), "{t}");
    assert!(!t.contains("dnat ip to 192.168.255.2"), "{t}");
    let dnat: Vec<String> = rs.in_chain(Chain::Dstnat).map(rule_line).collect();
    assert_eq!(dnat.len(), 1, "{dnat:?}");
    let fw4 = fw4_snippets(&build(&c, &c.zones, false).unwrap());
    assert!(fw4["forward"].contains(
        "iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.2 icmp type echo-request accept"
    ));
}

#[test]
fn nat64_without_lan_has_no_lan_rule() {
    let mut c = cfg();
    c.nat64[0].lan = Ifaces::default();
    for standalone in [true, false] {
        let rs = build(&c, &c.zones, standalone).unwrap();
        let fwd: Vec<String> = rs.in_chain(Chain::Forward).map(rule_line).collect();
        assert!(
            fwd.iter()
                .all(|r| !r.contains("{  }") && !r.contains("oifname \"nat64\" ip6 daddr")),
            "{fwd:?}"
        );
        assert!(fwd.iter().any(|r| r.contains("iifname \"nat64\"")));
    }
}

/// LAN -> TUN is forwarded only to the NAT64 prefix: the forward chain written out by hand,
/// for a network-specific prefix.
#[test]
fn lan_to_tun_only_to_the_prefix() {
    let mut c = cfg();
    c.dhcp.clear();
    c.dns.clear();
    c.ripng.clear();
    c.nat64[0].statics.clear();
    c.nat64[0].masquerade.clear();
    c.nat64[0].mss_clamp = false;
    c.nat64[0].prefix = "2001:db8:64::/96".parse().unwrap();
    let rs = build(&c, &c.zones, true).unwrap();
    assert_eq!(
        own_table(&rs, "v6only"),
        "table inet v6only {\n\
         \tchain forward {\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tiifname \"nat64\" oifname \"eth1\" accept comment \"!v6only: NAT64 nat64 to eth1\"\n\
         \t\tiifname { \"br-lan\", \"wlan0\" } oifname \"nat64\" ip6 daddr 2001:db8:64::/96 accept comment \"!v6only: NAT64 br-lan,wlan0 to 2001:db8:64::/96 on nat64\"\n\
         \t\tiifname \"eth1\" oifname \"nat64\" ct state new drop comment \"!v6only: NAT64 new from eth1 to nat64\"\n\
         \t}\n\
         }\n"
    );
    // The shortest prefix length, under fw4.
    c.nat64[0].prefix = "2001:db8::/32".parse().unwrap();
    assert_eq!(
        fw4_snippets(&build(&c, &c.zones, false).unwrap())["forward"],
        "# Generated by fw-helper; changes are overwritten.\n\
         iifname \"nat64\" oifname \"eth1\" accept comment \"!v6only: NAT64 nat64 to eth1\"\n\
         iifname { \"br-lan\", \"wlan0\" } oifname \"nat64\" ip6 daddr 2001:db8::/32 accept comment \"!v6only: NAT64 br-lan,wlan0 to 2001:db8::/32 on nat64\"\n"
    );
}

#[test]
fn standalone_resolves_zones_and_guards() {
    let c = cfg();
    let rs = build(&c, &c.zones, true).unwrap();
    let t = own_table(&rs, "v6only");
    assert!(t.starts_with("table inet v6only {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"lo\" accept"), "{t}");
    assert!(t.contains("iifname { \"br-lan\", \"wlan0\" } udp dport 53 accept"));
    assert!(t.contains("\t\tudp dport 53 drop comment"));
    assert!(t.contains("\t\ttcp dport 53 drop comment"));
    assert!(t.contains("meta nfproto ipv4 udp dport 67 drop"));
    assert!(t.contains("iifname \"eth1\" oifname \"nat64\" ct state new drop"));
    assert!(t.contains("type nat hook postrouting priority srcnat; policy accept;"));
    assert!(t.contains("type filter hook forward priority mangle; policy accept;"));
    assert!(!t.contains('$'));
}

#[test]
fn unknown_zone_is_the_sections_error() {
    let mut c = cfg();
    c.dns[0].ifaces = ifz("guest");
    let e = build(&c, &c.zones, true).unwrap_err();
    assert_eq!(e.value.as_deref(), Some("guest"));
    assert_eq!(e.line, 3);
    // An empty zone too.
    c.zones.insert("guest".into(), vec![]);
    assert!(build(&c, &c.zones, true).is_err());
}

/// Under fw4 every zone match is rendered as literal device names, so that the snippets
/// are valid whatever the zones hold: an empty or missing zone only leaves its rules out.
#[test]
fn fw4_missing_and_empty_zones_leave_rules_out() {
    let mut c = cfg();
    c.dns.push(Dns {
        ifaces: Ifaces {
            zones: vec![zref("guest"), zref("lan")],
            devices: vec!["wlan0".into(), "tap0".into()],
        },
        port: 5353,
    });
    for lan in [None, Some(vec![])] {
        let mut z = c.zones.clone();
        match lan.clone() {
            None => z.remove("lan"),
            Some(d) => z.insert("lan".into(), d),
        };
        let sn = fw4_snippets(&build(&c, &z, false).unwrap());
        let all: String = sn.values().cloned().collect();
        assert!(!all.contains('$') && !all.contains("{ }") && !all.contains("{  }"));
        let input = &sn["input"];
        // dhcp names its device; the lan-only DNS and RIPng rules are gone.
        assert!(
            input.contains("iifname \"br-lan\" udp dport 67 accept"),
            "{input}"
        );
        assert!(!input.contains("dport 53 "), "{input}");
        assert!(!input.contains("521 accept"), "{input}");
        // The RIPng guard is zone-free and stays.
        assert!(
            input.contains("meta nfproto ipv6 udp dport 521 drop"),
            "{input}"
        );
        // Devices given literally stay, without the missing zones'.
        assert!(
            input.contains("iifname { \"wlan0\", \"tap0\" } udp dport 5353 accept"),
            "{input}"
        );
        // NAT64 keeps TUN -> WAN, loses LAN -> TUN.
        assert!(sn["forward"].contains("iifname \"nat64\" oifname \"eth1\" accept"));
        assert!(!sn["forward"].contains("ip6 daddr"));
    }
    // No WAN at all: nothing of NAT64 but the MSS clamp on the TUN.
    let mut z = c.zones.clone();
    z.remove("wan");
    let sn = fw4_snippets(&build(&c, &z, false).unwrap());
    assert!(
        !sn.contains_key("srcnat") && !sn.contains_key("dstnat"),
        "{sn:?}"
    );
    assert!(!sn["forward"].contains("\"eth1\""), "{sn:?}");
    assert!(sn["mangle_forward"].contains("oifname \"nat64\" tcp flags syn"));
    // A zone of several devices, shared devices listed once.
    let sn = fw4_snippets(&build(&c, &c.zones, false).unwrap());
    assert!(
        sn["input"].contains("iifname { \"br-lan\", \"wlan0\", \"tap0\" } udp dport 5353 accept"),
        "{sn:?}"
    );
}

/// The scripts given to `nft -f`, written out by hand: the table is declared (so that the
/// delete finds it even on the first apply), deleted, and created anew, in one transaction.
#[test]
fn apply_and_remove_scripts() {
    let mut c = cfg();
    c.dhcp.clear();
    c.dns.clear();
    c.nat64.clear();
    c.ripng[0].ifaces = Ifaces {
        zones: vec![],
        devices: vec!["eth0".into()],
    };
    let rs = build(&c, &c.zones, true).unwrap();
    assert_eq!(
        apply_script(&rs, "v6x"),
        "table inet v6x\n\
         delete table inet v6x\n\
         table inet v6x {\n\
         \tchain input {\n\
         \t\ttype filter hook input priority filter; policy accept;\n\
         \t\tiifname \"lo\" accept comment \"!v6only: loopback\"\n\
         \t\tiifname \"eth0\" ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept comment \"!v6only: RIPng from eth0\"\n\
         \t\tmeta nfproto ipv6 udp dport 521 drop comment \"!v6only: RIPng not link-local, hop limit not 255, or elsewhere\"\n\
         \t}\n\
         }\n"
    );
    assert_eq!(
        remove_script("v6x"),
        "table inet v6x\ndelete table inet v6x\n"
    );
}

#[test]
fn empty_ruleset_only_removes() {
    let mut c = cfg();
    c.dhcp.clear();
    c.dns.clear();
    c.ripng.clear();
    c.nat64.clear();
    let rs = build(&c, &c.zones, true).unwrap();
    assert!(rs.is_empty());
    assert!(fw4_snippets(&rs).is_empty());
    assert_eq!(apply_script(&rs, "t"), remove_script("t"));
}

#[test]
fn multi_pool() {
    let rule = Rule {
        chain: Chain::Srcnat,
        matches: vec![Match::IpSaddr(vec![
            Net4 {
                addr: [10, 0, 0, 0].into(),
                len: 8,
            },
            Net4 {
                addr: [192, 168, 0, 0].into(),
                len: 16,
            },
        ])],
        verdict: Verdict::Masquerade,
        comment: "c".into(),
        guard: false,
    };
    assert_eq!(
        rule_line(&rule),
        "ip saddr { 10.0.0.0/8, 192.168.0.0/16 } masquerade comment \"c\""
    );
}
