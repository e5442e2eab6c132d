//! Config layer (sans-IO): parsed UCI packages -> [`Config`].
//!
//! Sources, in order: `/etc/config/fw-helper` (global `config fw-helper` section, `config zone`
//! sections, and any service section), then the drop-in files. Every section type is allowed
//! in every file; what each one means is in the module docs of `model`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::model::L4;
use v6only_common::daemon::{Errors, Refused};
use v6only_common::rfc6052::Prefix;
use v6only_common::uci::{ConfigError, Package, SectionRef};
use v6only_common::validate::{Cidr6, Datatype};

/// Which firewall the rules go into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// fw4 when its program exists, otherwise our own nftables table.
    Auto,
    Fw4,
    Nft,
}

/// Interfaces a rule applies to: fw4 zone names and/or device names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ifaces {
    pub zones: Vec<ZoneRef>,
    pub devices: Vec<String>,
}

impl Ifaces {
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.devices.is_empty()
    }
}

/// A reference to a zone, with the error to report should the zone turn out to be unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRef {
    pub name: String,
    pub undefined: ConfigError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp {
    pub ifaces: Ifaces,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns {
    pub ifaces: Ifaces,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ripng {
    pub ifaces: Ifaces,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat64 {
    pub tun: String,
    /// The NAT64 prefix (RFC 6052): only IPv6 traffic to it is forwarded into the TUN.
    pub prefix: Prefix,
    pub wan: Ifaces,
    /// Where IPv6 traffic into the TUN may come from (may be empty: then fw4's zone
    /// forwarding rules or the default policy decide).
    pub lan: Ifaces,
    pub masquerade: Vec<Net4>,
    pub mss_clamp: bool,
    /// Static BIB entries' IPv4 sides, reachable from the WAN (sorted, no duplicates).
    pub statics: Vec<StaticPort>,
}

impl Nat64 {
    /// Whether a pool4 address is masqueraded: reached from outside at the WAN address.
    pub fn masqueraded(&self, addr: Ipv4Addr) -> bool {
        self.masquerade.iter().any(|c| c.contains(addr))
    }
}

/// Everything fw-helper was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub enabled: bool,
    pub backend: Backend,
    /// Our own table (backend nft): `table inet <table>`.
    pub table: String,
    /// `config zone` sections (used by the nft backend; fw4 has its own zones).
    pub zones: BTreeMap<String, Vec<String>>,
    pub dhcp: Vec<Dhcp>,
    pub dns: Vec<Dns>,
    pub ripng: Vec<Ripng>,
    pub nat64: Vec<Nat64>,
    /// Non-fatal findings (unknown options or section types), for the log.
    pub warnings: Vec<String>,
}

pub const DEFAULT_TABLE: &str = "v6only";

/// A device name or pattern: what the kernel allows in a name (no whitespace, '/', ':') minus
/// what would break nft's syntax (quotes, '\', '$', braces, ';', '#'), '*' only as the last
/// character (nft's wildcard). The length limit (15 bytes) is left to nft, which reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPattern(pub String);

impl Datatype for DevPattern {
    const EXPECTED: &'static str =
        "network device name (no whitespace, quotes, '/', ':', '\\', '$', braces, ';', '#'; '*' only at the end)";
    fn parse_value(s: &str) -> Option<Self> {
        let bad = |c: char| c.is_whitespace() || c.is_control() || "\"'/:\\${};#,".contains(c);
        let star_ok = s.find('*').map_or(true, |i| i == s.len() - 1 && i > 0);
        (!s.is_empty() && !s.chars().any(bad) && star_ok && s != "." && s != "..")
            .then(|| DevPattern(s.to_string()))
    }
}

/// A zone name (fw4 names its device define `<zone>_devices`): letters, digits, '_'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneName(pub String);

impl Datatype for ZoneName {
    const EXPECTED: &'static str = "zone name (letters, digits, '_'; 1-32 characters)";
    fn parse_value(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        ok.then(|| ZoneName(s.to_string()))
    }
}

/// An nftables table name we create: letters, digits, '_', '-', starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(pub String);

impl Datatype for TableName {
    const EXPECTED: &'static str =
        "table name (a letter, then letters, digits, '_' or '-'; at most 32 characters)";
    fn parse_value(s: &str) -> Option<Self> {
        let ok = s.len() <= 32
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        ok.then(|| TableName(s.to_string()))
    }
}

impl Datatype for Backend {
    const EXPECTED: &'static str = "one of auto, fw4, nft";
    fn parse_value(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Backend::Auto),
            "fw4" => Some(Backend::Fw4),
            "nft" => Some(Backend::Nft),
            _ => None,
        }
    }
}

/// An IPv4 network (`cidr4` with host bits zero: nft would silently clear them; unlike
/// `v6only_common::validate::Cidr4`, which keeps an address and its prefix length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Net4 {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Datatype for Net4 {
    const EXPECTED: &'static str = "IPv4 network address/length, length 0-32, no host bits set";
    fn parse_value(s: &str) -> Option<Self> {
        let (a, l) = s.split_once('/')?;
        let addr: Ipv4Addr = a.parse().ok()?;
        if l.is_empty() || l.len() > 2 || !l.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: u8 = l.parse().ok()?;
        let mask = if len == 0 {
            0
        } else if len <= 32 {
            u32::MAX << (32 - len)
        } else {
            return None;
        };
        (u32::from(addr) & !mask == 0).then_some(Net4 { addr, len })
    }
}

impl Net4 {
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
        u32::from(a) & mask == u32::from(self.addr)
    }
}

/// The IPv4 side of a NAT64 static BIB entry (RFC 6146 section 3.5.1.1, 3.5.2.1): a pool4
/// address and port that IPv4 hosts may open connections to, or (`l4` None, port 0) a pool4
/// address IPv4 hosts may ping: an ICMP entry, whose identifier is no port to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaticPort {
    pub l4: Option<L4>,
    pub addr: Ipv4Addr,
    pub port: u16,
}

/// `PROTO:ADDRESS:PORT`, e.g. `tcp:192.168.255.1:8080`, or `icmp:ADDRESS`: one word, since
/// UCI list values are split at whitespace (by our reader and by OpenWrt's validator).
impl Datatype for StaticPort {
    const EXPECTED: &'static str =
        "'PROTO:ADDRESS:PORT' (tcp or udp, port 1-65535) or 'icmp:ADDRESS': a unicast IPv4 pool4 address";
    fn parse_value(s: &str) -> Option<Self> {
        let mut w = s.splitn(3, ':');
        let l4 = match w.next()? {
            "tcp" => Some(L4::Tcp),
            "udp" => Some(L4::Udp),
            "icmp" => None,
            _ => return None,
        };
        let addr: Ipv4Addr = w.next()?.parse().ok()?;
        let port = match (l4, w.next()) {
            (Some(_), Some(p)) => ServicePort::parse_value(p)?.0,
            (None, None) => 0,
            _ => return None,
        };
        let unicast = !(addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast());
        unicast.then_some(StaticPort { l4, addr, port })
    }
}

/// `port` for a listening service: 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePort(pub u16);

impl Datatype for ServicePort {
    const EXPECTED: &'static str = "port (1-65535)";
    fn parse_value(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u16>().ok().filter(|p| *p != 0).map(ServicePort)
    }
}

const GLOBAL_OPTS: &[&str] = &["enabled", "backend", "table"];
const ZONE_OPTS: &[&str] = &["name", "device"];
const IFACE_OPTS: &[&str] = &["enabled", "zone", "device"];
const DNS_OPTS: &[&str] = &["enabled", "zone", "device", "port"];
const NAT64_OPTS: &[&str] = &[
    "enabled",
    "tun_device",
    "prefix",
    "wan_zone",
    "wan_device",
    "lan_zone",
    "lan_device",
    "masquerade",
    "mss_clamp",
    "static",
];

/// Builds the config from the main package (first) and the drop-ins (in order). Every
/// section and option is read; `Err` has every error, each naming file, line and option.
pub fn from_packages(main: &Package, dropins: &[Package]) -> Result<Config, Refused> {
    let mut errors = Errors::default();
    let mut cfg = Config {
        enabled: true,
        backend: Backend::Auto,
        table: DEFAULT_TABLE.to_string(),
        zones: BTreeMap::new(),
        dhcp: Vec::new(),
        dns: Vec::new(),
        ripng: Vec::new(),
        nat64: Vec::new(),
        warnings: Vec::new(),
    };
    if let Some(g) = main.sections("fw-helper").next() {
        warn_unknown(&mut cfg, &g, GLOBAL_OPTS);
        cfg.enabled = errors.get(&g, "enabled").unwrap_or(true);
        cfg.backend = errors.get(&g, "backend").unwrap_or(Backend::Auto);
        if let Some(t) = errors.get::<TableName>(&g, "table") {
            cfg.table = t.0;
        }
    }
    for pkg in std::iter::once(main).chain(dropins) {
        for sec in &pkg.sections {
            let s = SectionRef {
                package: pkg,
                section: sec,
            };
            match sec.kind.as_str() {
                "fw-helper" => {
                    if !std::ptr::eq(pkg, main) {
                        cfg.warnings.push(format!(
                            "{}:{}: 'config fw-helper' is only read from the main config, ignored",
                            pkg.path.display(),
                            sec.line
                        ));
                    }
                }
                "zone" => {
                    warn_unknown(&mut cfg, &s, ZONE_OPTS);
                    let name = errors.ok(s.require::<ZoneName>("name"));
                    let devs = errors.list::<DevPattern>(&s, "device");
                    let Some(name) = name else { continue };
                    let entry = cfg.zones.entry(name.0).or_default();
                    for d in devs {
                        if !entry.contains(&d.0) {
                            entry.push(d.0);
                        }
                    }
                }
                "dhcp" | "ripng" | "dns" => {
                    warn_unknown(
                        &mut cfg,
                        &s,
                        if sec.kind == "dns" {
                            DNS_OPTS
                        } else {
                            IFACE_OPTS
                        },
                    );
                    if !errors.get(&s, "enabled").unwrap_or(true) {
                        continue;
                    }
                    let ifaces = ifaces(
                        &s,
                        "zone",
                        "device",
                        "at least one 'zone' or 'device'",
                        &mut errors,
                    );
                    match sec.kind.as_str() {
                        "dhcp" => cfg.dhcp.push(Dhcp { ifaces }),
                        "ripng" => cfg.ripng.push(Ripng { ifaces }),
                        _ => cfg.dns.push(Dns {
                            ifaces,
                            port: errors.get(&s, "port").unwrap_or(ServicePort(53)).0,
                        }),
                    }
                }
                "nat64" => {
                    warn_unknown(&mut cfg, &s, NAT64_OPTS);
                    if !errors.get(&s, "enabled").unwrap_or(true) {
                        continue;
                    }
                    let tun = errors
                        .ok(s.require::<DevPattern>("tun_device"))
                        .map_or_else(String::new, |d| d.0);
                    if tun.ends_with('*') {
                        errors.push(s.error("tun_device", "a device name without wildcard"));
                    }
                    let prefix = match errors.get::<Cidr6>(&s, "prefix") {
                        None => Prefix::well_known(),
                        Some(c) => Prefix::new(c.addr, c.len).unwrap_or_else(|e| {
                            errors
                                .push(s.error("prefix", format!("an RFC 6052 NAT64 prefix ({e})")));
                            Prefix::well_known()
                        }),
                    };
                    let wan = ifaces(
                        &s,
                        "wan_zone",
                        "wan_device",
                        "at least one 'wan_zone' or 'wan_device'",
                        &mut errors,
                    );
                    let lan = ifaces(&s, "lan_zone", "lan_device", "", &mut errors);
                    let mut masquerade = errors.list::<Net4>(&s, "masquerade");
                    masquerade.sort();
                    masquerade.dedup();
                    let mss_clamp = errors.get(&s, "mss_clamp").unwrap_or(true);
                    let mut statics = errors.list::<StaticPort>(&s, "static");
                    statics.sort();
                    statics.dedup();
                    let n = Nat64 {
                        tun,
                        prefix,
                        wan,
                        lan,
                        masquerade,
                        mss_clamp,
                        statics,
                    };
                    // Two masqueraded entries would both claim the WAN address's port.
                    let natted: Vec<&StaticPort> = n
                        .statics
                        .iter()
                        .filter(|e| e.l4.is_some() && n.masqueraded(e.addr))
                        .collect();
                    for (i, a) in natted.iter().enumerate() {
                        if let Some(b) = natted[..i]
                            .iter()
                            .find(|b| (b.l4, b.port) == (a.l4, a.port))
                        {
                            let mut e = s.error(
                                "static",
                                format!("a WAN address port not already forwarded to {}", b.addr),
                            );
                            let l4 = a.l4.map_or("", L4::name);
                            e.value = Some(format!("{l4}:{}:{}", a.addr, a.port));
                            errors.push(e);
                        }
                    }
                    cfg.nat64.push(n);
                }
                other => cfg.warnings.push(format!(
                    "{}:{}: unknown section type '{}', ignored",
                    pkg.path.display(),
                    sec.line,
                    other
                )),
            }
        }
    }
    cfg.warnings = errors.finish(std::mem::take(&mut cfg.warnings))?;
    Ok(cfg)
}

/// The zones and devices of a rule; with `required` (what to expect), none at all is an
/// error too (unless one of them was invalid, which is reported already).
fn ifaces(
    s: &SectionRef<'_>,
    zone_opt: &str,
    dev_opt: &str,
    required: &str,
    errors: &mut Errors,
) -> Ifaces {
    let known = errors.0.len();
    let mut out = Ifaces::default();
    for z in errors.list::<ZoneName>(s, zone_opt) {
        if out.zones.iter().any(|r| r.name == z.0) {
            continue;
        }
        let mut undefined = s.error(zone_opt, "a zone defined by a 'config zone' section");
        undefined.value = Some(z.0.clone());
        out.zones.push(ZoneRef {
            name: z.0,
            undefined,
        });
    }
    for d in errors.list::<DevPattern>(s, dev_opt) {
        if !out.devices.contains(&d.0) {
            out.devices.push(d.0);
        }
    }
    if !required.is_empty() && out.is_empty() && errors.0.len() == known {
        errors.push(s.error(zone_opt, required));
    }
    out
}

fn warn_unknown(cfg: &mut Config, s: &SectionRef<'_>, known: &[&str]) {
    for e in s.unknown_options(known) {
        cfg.warnings.push(format!(
            "{}:{}: unknown option '{}' in {}, ignored",
            s.package.path.display(),
            e.line,
            e.name,
            s.label()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pkg(name: &str, text: &str) -> Package {
        Package::parse(Path::new(name), text).expect("parse")
    }

    #[test]
    fn datatypes() {
        assert!(DevPattern::parse_value("br-lan").is_some());
        assert!(DevPattern::parse_value("eth*").is_some());
        assert!(DevPattern::parse_value("*").is_none());
        assert!(DevPattern::parse_value("e*h").is_none());
        assert!(DevPattern::parse_value("a b").is_none());
        assert!(DevPattern::parse_value("a\"b").is_none());
        assert!(DevPattern::parse_value("").is_none());
        assert!(ZoneName::parse_value("lan_2").is_some());
        assert!(ZoneName::parse_value("la-n").is_none());
        assert!(TableName::parse_value("v6only").is_some());
        assert!(TableName::parse_value("6only").is_none());
        assert_eq!(
            Net4::parse_value("192.168.255.0/24"),
            Some(Net4 {
                addr: [192, 168, 255, 0].into(),
                len: 24
            })
        );
        assert!(Net4::parse_value("192.168.255.1/24").is_none());
        assert!(Net4::parse_value("0.0.0.0/0").is_some());
        assert!(Net4::parse_value("10.0.0.0/33").is_none());
        assert!(Net4::parse_value("10.0.0.0").is_none());
        assert!(Net4::parse_value("10.0.0.0/+8").is_none());
        assert_eq!(ServicePort::parse_value("53"), Some(ServicePort(53)));
        assert!(ServicePort::parse_value("0").is_none());
        assert!(ServicePort::parse_value("65536").is_none());
        assert_eq!(
            StaticPort::parse_value("udp:198.51.100.7:53"),
            Some(StaticPort {
                l4: Some(L4::Udp),
                addr: [198, 51, 100, 7].into(),
                port: 53
            })
        );
        assert_eq!(
            StaticPort::parse_value("icmp:198.51.100.7"),
            Some(StaticPort {
                l4: None,
                addr: [198, 51, 100, 7].into(),
                port: 0
            })
        );
        for bad in [
            "icmp:198.51.100.7:1",
            "icmp:198.51.100.7:",
            "icmp:",
            "icmp:224.0.0.1",
            "icmp:255.255.255.255",
            "icmp:198.51.100",
            "tcp:198.51.100.7",
            "tcp:198.51.100.7:0",
            "tcp:198.51.100.7:70000",
            "tcp:198.51.100.7:80:1",
            "tcp:0.0.0.0:80",
            "tcp:224.0.0.1:80",
            "tcp:2001:db8::1:80",
            "TCP:198.51.100.7:80",
        ] {
            assert!(StaticPort::parse_value(bad).is_none(), "{bad}");
        }
        let c = Net4::parse_value("192.168.255.0/24").unwrap();
        assert!(c.contains([192, 168, 255, 77].into()));
        assert!(!c.contains([192, 168, 254, 1].into()));
        assert!(Net4::parse_value("0.0.0.0/0")
            .unwrap()
            .contains([8, 8, 8, 8].into()));
        assert!(Net4::parse_value("10.0.0.1/32")
            .unwrap()
            .contains([10, 0, 0, 1].into()));
        assert_eq!(Backend::parse_value("fw4"), Some(Backend::Fw4));
        assert!(Backend::parse_value("iptables").is_none());
    }

    #[test]
    fn full_config() {
        let main = pkg(
            "/etc/config/fw-helper",
            "config fw-helper 'main'\n\toption backend 'nft'\n\toption table 'v6x'\n\n\
             config zone\n\toption name 'lan'\n\tlist device 'br-lan'\n\n\
             config zone\n\toption name 'wan'\n\tlist device 'eth1'\n",
        );
        let d = pkg(
            "/usr/share/v6only/fw.d/bundle",
            "config dns\n\toption zone 'lan'\n\toption port '5353'\n\n\
             config dhcp\n\tlist device 'br-lan'\n\tlist device 'br-lan'\n\n\
             config ripng\n\toption zone 'lan'\n\n\
             config ripng\n\toption enabled '0'\n\toption zone 'lan'\n\n\
             config nat64\n\toption tun_device 'nat64'\n\toption wan_zone 'wan'\n\
             \tlist masquerade '192.168.255.0/24'\n\tlist masquerade '192.168.255.0/24'\n\
             \tlist static 'udp:192.168.255.1:53'\n\tlist static 'tcp:203.0.113.5:80'\n\
             \tlist static 'udp:192.168.255.1:53'\n",
        );
        let c = from_packages(&main, &[d]).unwrap();
        assert_eq!(c.backend, Backend::Nft);
        assert_eq!(c.table, "v6x");
        assert_eq!(c.zones["lan"], vec!["br-lan"]);
        assert_eq!(c.dns.len(), 1);
        assert_eq!(c.dns[0].port, 5353);
        assert_eq!(c.dhcp[0].ifaces.devices, vec!["br-lan"]);
        assert_eq!(c.ripng.len(), 1);
        assert_eq!(c.nat64[0].masquerade.len(), 1);
        assert!(c.nat64[0].mss_clamp);
        // Sorted (by protocol, then address), the duplicate dropped.
        assert_eq!(
            c.nat64[0].statics,
            vec![
                StaticPort {
                    l4: Some(L4::Udp),
                    addr: [192, 168, 255, 1].into(),
                    port: 53
                },
                StaticPort {
                    l4: Some(L4::Tcp),
                    addr: [203, 0, 113, 5].into(),
                    port: 80
                },
            ]
        );
        assert!(c.nat64[0].masqueraded([192, 168, 255, 1].into()));
        assert!(!c.nat64[0].masqueraded([203, 0, 113, 5].into()));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    /// The one error of a refused config.
    fn error(main: &Package, dropins: &[Package]) -> String {
        let r = from_packages(main, dropins).unwrap_err();
        assert_eq!(r.errors.len(), 1, "{r}");
        r.errors[0].clone()
    }

    #[test]
    fn errors_name_file_line_option() {
        let main = pkg(
            "/etc/config/fw-helper",
            "config fw-helper 'main'\n\toption backend 'ipt'\n",
        );
        assert_eq!(
            error(&main, &[]),
            "/etc/config/fw-helper:2: fw-helper.main.backend: 'ipt' is not one of auto, fw4, nft"
        );

        let main = pkg("/etc/config/fw-helper", "");
        let d = pkg(
            "/run/fw.d/x",
            "\nconfig dns\n\toption port 'x'\n\toption zone 'lan'\n",
        );
        let e = error(&main, &[d]);
        assert!(e.starts_with("/run/fw.d/x:3: x.@dns[0].port: 'x'"), "{e}");

        let d = pkg("/run/fw.d/y", "config ripng\n");
        let e = error(&main, &[d]);
        assert!(
            e.starts_with("/run/fw.d/y:1: y.@ripng[0].zone: missing"),
            "{e}"
        );
        let d = pkg("/run/fw.d/z", "config nat64\n\toption wan_zone 'wan'\n");
        let e = error(&main, &[d]);
        assert!(
            e.starts_with("/run/fw.d/z:1: z.@nat64[0].tun_device: missing"),
            "{e}"
        );
        let d = pkg("/run/fw.d/z", "config nat64\n\toption tun_device 'n'\n\toption wan_zone 'wan'\n\tlist masquerade '10.0.0.1/8'\n");
        let e = error(&main, &[d]);
        assert!(
            e.starts_with("/run/fw.d/z:4: z.@nat64[0].masquerade: '10.0.0.1/8'"),
            "{e}"
        );

        let nat = "config nat64\n\toption tun_device 'n'\n\toption wan_zone 'wan'\n\tlist masquerade '10.0.0.0/8'\n";
        let d = pkg(
            "/run/fw.d/s",
            &format!("{nat}\tlist static 'tcp:10.0.0.1:80'\n\tlist static 'tcp 10.0.0.2 81'\n"),
        );
        // UCI lists split at whitespace: the first word is what is reported.
        let e = error(&main, &[d]);
        assert!(
            e.starts_with(
                "/run/fw.d/s:5: s.@nat64[0].static: 'tcp' is not a valid 'PROTO:ADDRESS:PORT'"
            ),
            "{e}"
        );
        let d = pkg(
            "/run/fw.d/s",
            &format!("{nat}\tlist static 'sctp:10.0.0.1:80'\n"),
        );
        let e = error(&main, &[d]);
        assert!(e.contains(": 'sctp:10.0.0.1:80' is not"), "{e}");
        // Two masqueraded entries on one WAN port: refused; on different protocols: fine;
        // public addresses may share a port.
        let d = pkg(
            "/run/fw.d/s",
            &format!("{nat}\tlist static 'tcp:10.0.0.1:80'\n\tlist static 'tcp:10.0.0.2:80'\n"),
        );
        let e = error(&main, &[d]);
        assert!(e.ends_with(
            "s.@nat64[0].static: 'tcp:10.0.0.2:80' is not a WAN address port not already forwarded to 10.0.0.1"
        ), "{e}");
        let d = pkg("/run/fw.d/s", &format!("{nat}\tlist static 'tcp:10.0.0.1:80'\n\tlist static 'udp:10.0.0.2:80'\n\tlist static 'tcp:192.0.2.1:80'\n\tlist static 'tcp:192.0.2.2:80'\n"));
        assert_eq!(
            from_packages(&main, &[d]).unwrap().nat64[0].statics.len(),
            4
        );
    }

    #[test]
    fn every_error_is_reported() {
        let main = pkg(
            "/etc/config/fw-helper",
            "config fw-helper 'main'\n\toption backend 'ipt'\n\toption colour 'blue'\n\
             config zone\n\tlist device 'br-lan'\n",
        );
        let a = pkg(
            "/run/fw.d/a",
            "config dns\n\toption zone 'lan'\n\toption port '0'\n\
             config nat64\n\toption tun_device 'n*'\n\toption prefix '2001:db8::/33'\n",
        );
        let b = pkg("/run/fw.d/b", "config ripng\n\tlist zone 'la-n'\n");
        let r = from_packages(&main, &[a, b]).unwrap_err();
        let expect = [
            "/etc/config/fw-helper:2: fw-helper.main.backend: 'ipt'",
            "/etc/config/fw-helper:4: fw-helper.@zone[0].name: missing",
            "/run/fw.d/a:3: a.@dns[0].port: '0'",
            "/run/fw.d/a:4: a.@nat64[0].wan_zone: missing (required: at least one",
            "/run/fw.d/a:5: a.@nat64[0].tun_device: 'n*'",
            "/run/fw.d/a:6: a.@nat64[0].prefix: '2001:db8::/33'",
            "/run/fw.d/b:2: b.@ripng[0].zone: 'la-n'",
        ];
        assert_eq!(r.errors.len(), expect.len(), "{r}");
        for (e, x) in r.errors.iter().zip(expect) {
            assert!(e.starts_with(x), "{e}\n{x}");
        }
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    }

    #[test]
    fn nat64_prefix() {
        let main = pkg("/etc/config/fw-helper", "");
        let nat = "config nat64\n\toption tun_device 'nat64'\n\toption wan_zone 'wan'\n";
        let prefix = |extra: &str| {
            let d = pkg("/run/fw.d/nat64", &format!("{nat}{extra}"));
            from_packages(&main, &[d]).map(|c| c.nat64[0].prefix)
        };
        // Default: the Well-Known Prefix, as nat64's own default.
        assert_eq!(prefix(""), Ok(Prefix::well_known()));
        for ok in [
            "64:ff9b::/96",
            "2001:db8:64::/96",
            "2001:db8::/32",
            "2001:db8:100::/40",
        ] {
            assert_eq!(
                prefix(&format!("\toption prefix '{ok}'\n"))
                    .unwrap()
                    .to_string(),
                ok
            );
        }
        for (bad, why) in [
            ("2001:db8::/33", "prefix length /33"),
            ("2001:db8::1/96", "beyond its length"),
            ("2001:db8:0:0:ff00::/96", "u octet"),
            ("2001:db8::", "prefix length /128"),
            ("64:ff9b::/129", "IPv6 address"),
            ("nat64", "IPv6 address"),
        ] {
            let e = prefix(&format!("\toption prefix '{bad}'\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "/run/fw.d/nat64:4: nat64.@nat64[0].prefix: '{bad}' is not"
                )),
                "{e}"
            );
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn warnings_for_unknown() {
        let main = pkg(
            "/etc/config/fw-helper",
            "config fw-helper 'main'\n\toption bakend 'nft'\n\nconfig frobnicate\n",
        );
        let c = from_packages(&main, &[]).unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    }
}
