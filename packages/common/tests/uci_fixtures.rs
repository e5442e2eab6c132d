//! The UCI reader on whole config files as routers have them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use v6only_common::uci::{Entry, Error, Package, Value};
use v6only_common::validate::{Cidr4, Cidr6, Device, Hostname, MacAddr, Port};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
fn load(name: &str) -> Package {
    Package::load(&fixture(name)).unwrap_or_else(|e| panic!("{e}"))
}
fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn network() {
    let p = load("network");
    assert_eq!(p.name, "network");
    let kinds: Vec<_> = p
        .sections
        .iter()
        .map(|s| (s.kind.as_str(), s.name.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("interface", Some("loopback")),
            ("globals", Some("globals")),
            ("device", None),
            ("device", None),
            ("interface", Some("lan")),
            ("interface", Some("wan")),
            ("interface", Some("wan6")),
            ("route6", None),
        ]
    );

    let bridge = p.sections("device").next().unwrap();
    assert_eq!(bridge.label(), "network.@device[0]");
    assert_eq!(bridge.section.line, 12);
    assert_eq!(
        bridge.get::<Device>("name").unwrap(),
        Some(Device("br-lan".into()))
    );
    assert_eq!(
        bridge.list::<Device>("ports").unwrap(),
        ["lan1", "lan2", "lan3"].map(|d| Device(d.into()))
    );
    let wan_dev = p.sections("device").nth(1).unwrap();
    assert_eq!(wan_dev.label(), "network.@device[1]");
    assert_eq!(
        wan_dev.require::<MacAddr>("macaddr").unwrap(),
        MacAddr([0x94, 0x83, 0xc4, 0x0a, 0x1b, 0x2c])
    );

    let lan = p.named("lan").unwrap();
    assert_eq!(lan.label(), "network.lan");
    assert_eq!(
        lan.require::<Ipv4Addr>("ipaddr").unwrap(),
        Ipv4Addr::new(192, 168, 1, 1)
    );
    assert_eq!(lan.get_range("ip6assign", 0, 64).unwrap(), Some(60));
    assert_eq!(
        lan.list::<String>("ip6class").unwrap(),
        strings(&["wan6", "local"])
    );
    assert_eq!(lan.entry("ip6class").map(|e| e.line), Some(29));

    let wan = p.named("wan").unwrap();
    assert_eq!(wan.get::<bool>("peerdns").unwrap(), Some(false));
    assert_eq!(
        wan.list::<Ipv4Addr>("dns").unwrap(),
        [Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(9, 9, 9, 9)]
    );
    let wan6 = p.named("wan6").unwrap();
    assert_eq!(
        wan6.list::<Ipv6Addr>("dns").unwrap(),
        ["2606:4700:4700::1111".parse::<Ipv6Addr>().unwrap()]
    );
    // An IPv6 DNS server is not an IPv4 one: the error names the item and its line.
    let e = wan6.list::<Ipv4Addr>("dns").unwrap_err();
    assert!(
        e.to_string().ends_with(
            "network:44: network.wan6.dns: '2606:4700:4700::1111' is not a valid IPv4 address"
        ),
        "{e}"
    );

    let globals = p.named("globals").unwrap();
    let ula = globals.require::<Cidr6>("ula_prefix").unwrap();
    assert_eq!(
        (ula.addr, ula.len),
        ("fd3c:9a1e:52b7::".parse().unwrap(), 48)
    );
    let route = p.sections("route6").next().unwrap();
    assert_eq!(
        route.require::<Cidr6>("target").unwrap().to_string(),
        "64:ff9b::/96"
    );
    assert_eq!(
        route.require::<Ipv6Addr>("gateway").unwrap(),
        Ipv6Addr::UNSPECIFIED
    );
}

#[test]
fn dhcp() {
    let p = load("dhcp");
    let dnsmasq = p.sections("dnsmasq").next().unwrap();
    assert_eq!(dnsmasq.label(), "dhcp.@dnsmasq[0]");
    assert_eq!(dnsmasq.section.entries.len(), 21, "20 options and one list");
    assert_eq!(dnsmasq.get::<bool>("domainneeded").unwrap(), Some(true));
    assert_eq!(dnsmasq.get::<u32>("cachesize").unwrap(), Some(1000));
    assert_eq!(dnsmasq.raw("local").as_deref(), Some("/lan/"));
    assert_eq!(
        dnsmasq.list::<String>("server").unwrap(),
        strings(&["/mask.icloud.com/", "/use-application-dns.net/"])
    );

    let lan = p.named("lan").unwrap();
    assert_eq!(lan.section.kind, "dhcp");
    assert_eq!(lan.get_range("start", 1, 254).unwrap(), Some(100));
    assert_eq!(lan.get::<u32>("limit").unwrap(), Some(150));
    assert_eq!(lan.raw("leasetime").as_deref(), Some("12h"));
    // "12h" is a lease time, not an integer: the error says where and what.
    assert_eq!(
        lan.get::<u32>("leasetime").unwrap_err().to_string(),
        format!(
            "{}:30: dhcp.lan.leasetime: '12h' is not a valid unsigned integer",
            fixture("dhcp").display()
        )
    );
    for key in ["dhcpv4", "dhcpv6", "ra"] {
        assert_eq!(lan.raw(key).as_deref(), Some("server"), "{key}");
    }
    // RFC 8925 option 108 (IPv6-only preferred) next to a plain DNS server option.
    assert_eq!(
        lan.entry("dhcp_option").map(|e| &e.value),
        Some(&Value::List(strings(&["108,0000i", "6,192.168.1.1"])))
    );
    assert_eq!(
        lan.list::<String>("ra_flags").unwrap(),
        strings(&["managed-config", "other-config"])
    );
    assert_eq!(
        p.named("wan").unwrap().get::<bool>("ignore").unwrap(),
        Some(true)
    );

    let odhcpd = p.named("odhcpd").unwrap();
    assert_eq!(odhcpd.section.kind, "odhcpd");
    assert_eq!(odhcpd.get::<u32>("loglevel").unwrap(), Some(4));

    let hosts: Vec<_> = p.sections("host").collect();
    assert_eq!(
        hosts.iter().map(|h| h.label()).collect::<Vec<_>>(),
        ["dhcp.@host[0]", "dhcp.@host[1]", "dhcp.laptop"]
    );
    assert_eq!(
        hosts[0].require::<Hostname>("name").unwrap(),
        Hostname("printer".into())
    );
    assert_eq!(
        hosts[0].list::<MacAddr>("mac").unwrap(),
        [MacAddr([0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e])]
    );
    assert_eq!(hosts[1].list::<MacAddr>("mac").unwrap().len(), 2);
    assert_eq!(
        hosts[1].require::<Ipv4Addr>("ip").unwrap(),
        Ipv4Addr::new(192, 168, 1, 30)
    );
    assert_eq!(hosts[2].section.index, 2);
    let e = hosts[0].get::<u32>("leasetime").unwrap_err();
    assert_eq!(
        (e.option.as_str(), e.line, e.value.as_deref()),
        ("dhcp.@host[0].leasetime", 53, Some("infinite"))
    );
}

#[test]
fn firewall() {
    let p = load("firewall");
    let defaults = p.sections("defaults").next().unwrap();
    assert_eq!(defaults.get::<bool>("syn_flood").unwrap(), Some(true));
    assert_eq!(defaults.raw("input").as_deref(), Some("REJECT"));
    assert_eq!(defaults.entry("disable_ipv6"), None, "commented out");

    let zones: Vec<_> = p.sections("zone").collect();
    assert_eq!(
        zones[0].list::<String>("network").unwrap(),
        strings(&["lan"])
    );
    assert_eq!(
        zones[1].list::<String>("network").unwrap(),
        strings(&["wan", "wan6"])
    );
    assert_eq!(zones[1].get::<bool>("masq").unwrap(), Some(true));

    let fwd = p.sections("forwarding").next().unwrap();
    assert_eq!(
        (fwd.raw("src").as_deref(), fwd.raw("dest").as_deref()),
        (Some("lan"), Some("wan"))
    );

    let rules: Vec<_> = p.sections("rule").collect();
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[0].get::<Port>("dest_port").unwrap(), Some(Port(68)));
    assert_eq!(rules[1].raw("icmp_type").as_deref(), Some("echo-request"));
    assert_eq!(rules[2].list::<String>("icmp_type").unwrap().len(), 4);
    assert_eq!(rules[2].raw("limit").as_deref(), Some("1000/sec"));
    assert_eq!(rules[3].raw("name").as_deref(), Some("Allow-DNS64"));
    assert_eq!(
        rules[3].list::<String>("proto").unwrap(),
        strings(&["tcp", "udp"])
    );
    // `option proto` with one word and `list proto` read the same through list().
    assert_eq!(rules[0].list::<String>("proto").unwrap(), strings(&["udp"]));

    let include = p.named("v6only").unwrap();
    assert_eq!(include.section.kind, "include");
    assert_eq!(
        include.raw("path").as_deref(),
        Some("/usr/share/v6only/nat64.nft")
    );
    assert_eq!(include.raw("position").as_deref(), Some("chain-pre"));
}

#[test]
fn wireless() {
    let p = load("wireless");
    let radios: Vec<_> = p.sections("wifi-device").map(|s| s.label()).collect();
    assert_eq!(radios, ["wireless.radio0", "wireless.radio1"]);
    let radio1 = p.named("radio1").unwrap();
    assert_eq!(radio1.get::<u32>("channel").unwrap(), Some(36));
    assert_eq!(
        radio1.raw("path").as_deref(),
        Some("platform/soc/18000000.wifi+1")
    );

    let ap = p.named("default_radio0").unwrap();
    assert_eq!(
        ap.raw("key").as_deref(),
        Some("correct horse battery staple")
    );
    let mesh = p.named("mesh0").unwrap();
    assert_eq!(mesh.section.kind, "wifi-iface");
    assert_eq!(mesh.raw("mode").as_deref(), Some("mesh"));
    assert_eq!(mesh.raw("mesh_id").as_deref(), Some("v6only-mesh"));
    assert_eq!(mesh.raw("encryption").as_deref(), Some("sae"));
    assert_eq!(mesh.raw("key").as_deref(), Some(r#"it's a "secret""#));
    assert_eq!(
        mesh.get::<Device>("ifname").unwrap(),
        Some(Device("mesh0".into()))
    );
    // A negative threshold is not an unsigned integer.
    assert!(mesh.get::<u32>("mesh_rssi_threshold").is_err());
}

#[test]
fn v6only_config() {
    let p = load("v6only");
    let dns64 = p.named("main").unwrap();
    assert!(dns64.get_or("enabled", false).unwrap());
    assert_eq!(dns64.require::<Cidr6>("prefix").unwrap().len, 96);
    assert_eq!(dns64.get_or("port", Port(5353)).unwrap(), Port(53));
    assert_eq!(dns64.list::<Ipv6Addr>("upstream").unwrap().len(), 2);
    // A list item holding two words gives two values, as the validator's list() does.
    let listen: Vec<Ipv6Addr> = dns64.list("listen").unwrap();
    assert_eq!(
        listen,
        [
            "::1".parse::<Ipv6Addr>().unwrap(),
            "fd3c:9a1e:52b7::1".parse().unwrap()
        ]
    );

    let dhcpv4 = p.named("lan").unwrap();
    assert_eq!(dhcpv4.section.kind, "dhcpv4");
    assert_eq!(
        dhcpv4
            .get_range("v6only_wait", 300, u64::from(u32::MAX))
            .unwrap(),
        Some(1800)
    );
    assert_eq!(
        dhcpv4.require::<Cidr4>("pool").unwrap(),
        Cidr4 {
            addr: Ipv4Addr::new(192, 168, 1, 100),
            len: 24
        }
    );
    assert_eq!(dhcpv4.require::<Device>("device").unwrap().0, "br-lan");

    let nat64 = p.sections("nat64").next().unwrap();
    assert!(nat64.require::<bool>("enabled").unwrap());
    assert_eq!(nat64.require::<Cidr4>("pool4").unwrap().len, 31);
    let e = nat64.require::<Ipv4Addr>("address").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:17: v6only.@nat64[0].address: missing (required: IPv4 address)",
            fixture("v6only").display()
        )
    );

    let ripng = p.sections("ripng").next().unwrap();
    assert!(!ripng.require::<bool>("enabled").unwrap());
    assert_eq!(ripng.list::<Device>("interface").unwrap().len(), 2);

    let monitor = p.sections("mesh_monitor").next().unwrap();
    assert_eq!(
        monitor.require::<MacAddr>("neighbour").unwrap().to_string(),
        "00:11:22:33:44:55"
    );
    assert_eq!(
        monitor.require::<Hostname>("hostname").unwrap().0,
        "node-2.mesh"
    );
    assert!(monitor
        .unknown_options(&["interface", "neighbour", "hostname"])
        .is_empty());
    let typo: Vec<&Entry> = monitor.unknown_options(&["interface", "neighbor", "hostname"]);
    assert_eq!(
        typo.iter()
            .map(|e| (e.name.as_str(), e.line))
            .collect::<Vec<_>>(),
        [("neighbour", 29)]
    );
}

#[test]
fn uci_export_style_reads_like_the_quoted_file() {
    let exported = load("export-network");
    assert_eq!(
        exported.name, "export-network",
        "the package line does not rename the file's package"
    );
    let lan = exported.named("lan").unwrap();
    assert_eq!(
        lan.require::<Ipv4Addr>("ipaddr").unwrap(),
        Ipv4Addr::new(192, 168, 1, 1)
    );
    assert_eq!(lan.get_range("ip6assign", 0, 64).unwrap(), Some(60));
    assert_eq!(
        lan.raw("description").as_deref(),
        Some(r#"Home LAN; it's "the" network"#)
    );
    // The same sections as in the tab-and-quote file, apart from the description.
    let network = load("network");
    let lan_in_network = network.named("lan").unwrap();
    for key in ["device", "proto", "ipaddr", "netmask", "ip6assign"] {
        assert_eq!(lan.raw(key), lan_in_network.raw(key), "{key}");
    }
    let bridge = exported.sections("device").next().unwrap();
    assert_eq!(
        bridge.list::<String>("ports").unwrap(),
        strings(&["lan1", "lan2"])
    );
}

#[test]
fn unterminated_quote_points_at_the_statement() {
    let e = match Package::load(&fixture("broken-quote")) {
        Err(Error::Parse(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(e.line, 5);
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:5: unterminated ' quote",
            fixture("broken-quote").display()
        )),
        "{shown}"
    );
    assert!(shown.contains("line 9"), "{shown}");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let path = Path::new("/etc/config/dhcp");
    let cases: &[(&str, usize, &str)] = &[
        (
            "# leases\n\n\toption start '100'\n",
            3,
            "option/list before the first 'config' section",
        ),
        (
            "config dhcp 'lan'\n\toption start '100'\n\toptoin limit '150'\n",
            3,
            "invalid command 'optoin'",
        ),
        (
            "config dhcp 'lan'\n\toption leasetime \"12h\n",
            2,
            "unterminated \" quote",
        ),
        (
            "config dhcp 'lan'\n\toption start 100 150\n",
            2,
            "too many arguments",
        ),
        (
            "config dhcp 'lan'\n\tlist dhcp-option '6,192.168.1.1'\n",
            2,
            "invalid option name 'dhcp-option'",
        ),
        (
            "\nconfig dhcp 'guest-lan'\n",
            2,
            "invalid section name 'guest-lan'",
        ),
        (
            "config host\nconfig dhcp 'lan'\nconfig host 'lan'\n",
            3,
            "section 'lan' of type 'host' would replace the 'dhcp' section",
        ),
    ];
    for &(text, line, start) in cases {
        let e = Package::parse(path, text).expect_err(text);
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.message.starts_with(start), "{text:?}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("/etc/config/dhcp:{line}: ")),
            "{e}"
        );
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = fixture("no-such-file");
    match Package::load(&path) {
        Err(e @ Error::Io(..)) => assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
}
