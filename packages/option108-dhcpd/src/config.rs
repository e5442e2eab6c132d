//! `/etc/config/dhcp` as odhcpd reads it: `config dhcp` pools and `config host` statics,
//! with dnsmasq-style `dhcp_option 'N,value'` lists. Interfaces are resolved to a device and
//! an IPv4 subnet by a [`Resolver`] (netifd through ubus on a router; `option device` names a
//! kernel device directly). Every error names `dhcp.<section>.<option>`.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;

use v6only_common::daemon::{Errors, Refused};
use v6only_common::uci::{ConfigError, Package, SectionRef};
use v6only_common::validate::MacAddr;

use crate::server::{Pool, StaticHost, INFINITE, MIN_V6ONLY_WAIT};
use crate::wire::opt;

pub const DEFAULT_JOURNAL: &str = "/tmp/option108-dhcpd.journal";
pub const DEFAULT_LEASEFILE: &str = "/tmp/dhcp.leases";
pub const DEFAULT_CONTROL_SOCKET: &str = "/var/run/option108-dhcpd.sock";

/// An interface as netifd (or the kernel) knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub device: String,
    pub ifindex: u32,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

pub trait Resolver {
    /// A logical interface (`lan`): its device and first IPv4 address.
    fn interface(&self, name: &str) -> Option<Link>;
    /// A kernel device (`br-lan`, `eth0`).
    fn device(&self, name: &str) -> Option<Link>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub pools: Vec<Pool>,
    /// The crash-safe lease journal (RAM-backed /tmp by default, as OpenWrt keeps leases).
    pub journal: PathBuf,
    /// dnsmasq-format lease file for LuCI.
    pub leasefile: PathBuf,
    /// `log_leases`: lease events (DHCPACK, release, NAK...) at info like dnsmasq (`1`, the
    /// default) or at debug (`0`).
    pub log_leases: bool,
    /// The Unix socket behind `option108-dhcpd status` and `reload`.
    pub control_socket: PathBuf,
    /// Things worth a warning that do not stop the server (V6ONLY_WAIT under 300, skipped
    /// tagged options).
    pub warnings: Vec<String>,
}

/// Parses a lease time: seconds, or a number with s/m/h/d/w, or `infinite`.
pub fn parse_lease_time(s: &str) -> Option<u32> {
    if s == "infinite" {
        return Some(INFINITE);
    }
    let (digits, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 604800,
        _ => return None,
    };
    let secs = n.checked_mul(factor)?;
    (60..INFINITE as u64).contains(&secs).then_some(secs as u32)
}

/// What one `dhcp_option` item means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpOption {
    /// Send this code with these bytes (an empty value: do not send the code at all).
    Value(u8, Vec<u8>),
    /// Option 108: enable RFC 8925 with this V6ONLY_WAIT.
    V6OnlyWait(u32),
    /// Tagged (`tag:x,...`): dnsmasq applies it conditionally; not supported here.
    Tagged,
}

const NAMED: &[(&str, u8)] = &[
    ("netmask", 1),
    ("router", 3),
    ("dns-server", 6),
    ("log-server", 7),
    ("hostname", 12),
    ("domain-name", 15),
    ("mtu", 26),
    ("broadcast", 28),
    ("static-route", 33),
    ("ntp-server", 42),
    ("netbios-ns", 44),
    ("tftp-server", 66),
    ("bootfile-name", 67),
    ("domain-search", 119),
    ("classless-static-route", 121),
];

const ADDRESS_LIST: &[u8] = &[
    1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 28, 32, 41, 42, 44, 45, 48, 49, 65, 68, 69, 70, 71, 72, 73,
    74, 75, 76,
];
const TEXT: &[u8] = &[12, 14, 15, 17, 18, 40, 47, 64, 66, 67, 114];
const U32: &[u8] = &[2, 24, 35, 38];
const U16: &[u8] = &[13, 22, 26, 57];
const U8: &[u8] = &[19, 20, 23, 27, 29, 30, 31, 34, 36, 37, 39, 46];
/// Set by the server from its own state: configuring them would break the protocol.
const MANAGED: &[u8] = &[0, 50, 51, 52, 53, 54, 55, 58, 59, 61, 80, 255];

/// Parses one dnsmasq-style `N,value[,value...]`. The error is what was expected.
pub fn parse_dhcp_option(item: &str) -> Result<DhcpOption, String> {
    let mut parts = item.split(',');
    let head = parts.next().unwrap_or_default().trim();
    if head.starts_with("tag:")
        || head.starts_with("net:")
        || head.starts_with("encap:")
        || head.starts_with("vendor:")
    {
        return Ok(DhcpOption::Tagged);
    }
    let code = if let Some(name) = head.strip_prefix("option:") {
        NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .ok_or_else(|| format!("an option name dnsmasq knows ('{name}' is not one)"))?
    } else {
        head.parse::<u8>()
            .map_err(|_| "'N,value' with N an option number 1-254".to_string())?
    };
    if MANAGED.contains(&code) {
        return Err(format!(
            "an option the server sets itself ({code} cannot be configured)"
        ));
    }
    let values: Vec<&str> = parts.map(str::trim).collect();
    let values: &[&str] = if values.iter().all(|v| v.is_empty()) {
        &[]
    } else {
        &values
    };
    if code == opt::IPV6_ONLY_PREFERRED {
        return parse_v6only_wait(values).map(DhcpOption::V6OnlyWait);
    }
    if values.is_empty() {
        return Ok(DhcpOption::Value(code, Vec::new()));
    }
    let bytes = if let Some(bytes) = hex_bytes(values) {
        bytes
    } else if ADDRESS_LIST.contains(&code) {
        addresses(values).ok_or_else(|| format!("a list of IPv4 addresses for option {code}"))?
    } else if TEXT.contains(&code) {
        values.join(",").into_bytes()
    } else if U32.contains(&code) || U16.contains(&code) || U8.contains(&code) {
        let [v] = values else {
            return Err(format!("one number for option {code}"));
        };
        let n: u32 = v
            .parse()
            .map_err(|_| format!("a number for option {code}"))?;
        if U32.contains(&code) {
            n.to_be_bytes().to_vec()
        } else if U16.contains(&code) {
            u16::try_from(n)
                .map_err(|_| format!("a number 0-65535 for option {code}"))?
                .to_be_bytes()
                .to_vec()
        } else {
            vec![u8::try_from(n).map_err(|_| format!("a number 0-255 for option {code}"))?]
        }
    } else if code == 119 {
        domain_search(values).ok_or("domain names for option 119")?
    } else if code == 121 {
        classless_routes(values).ok_or("'121,prefix/len,router[,prefix/len,router...]'")?
    } else if let Some(bytes) = addresses(values) {
        bytes
    } else if let [v] = values {
        // dnsmasq: a plain number is sent in as few octets as it fits in.
        match v.parse::<u32>() {
            Ok(n) if n <= 0xff => vec![n as u8],
            Ok(n) if n <= 0xffff => (n as u16).to_be_bytes().to_vec(),
            Ok(n) => n.to_be_bytes().to_vec(),
            Err(_) => v.as_bytes().to_vec(),
        }
    } else {
        values.join(",").into_bytes()
    };
    if bytes.len() > 255 * 4 {
        return Err(format!(
            "a value that fits a DHCP message (option {code} is too long)"
        ));
    }
    Ok(DhcpOption::Value(code, bytes))
}

/// `108`, `108,0`, `108,1800`, the seed's `108,0000i` (dnsmasq's integer notation), or hex
/// `108,00:00:07:08`.
fn parse_v6only_wait(values: &[&str]) -> Result<u32, String> {
    const EXPECTED: &str = "'108,SECONDS' (V6ONLY_WAIT, e.g. 108,1800 or 108,0000i)";
    match values {
        [] => Ok(0),
        [v] => {
            let digits = v.strip_suffix('i').unwrap_or(v);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return digits.parse().map_err(|_| EXPECTED.to_string());
            }
            match hex_bytes(values) {
                Some(b) if b.len() == 4 => Ok(u32::from_be_bytes(b.try_into().unwrap())),
                _ => Err(EXPECTED.to_string()),
            }
        }
        _ => Err(EXPECTED.to_string()),
    }
}

/// `01:02:ab` (every value made of two-digit hex groups with at least one colon).
fn hex_bytes(values: &[&str]) -> Option<Vec<u8>> {
    let [v] = values else { return None };
    if !v.contains(':') {
        return None;
    }
    v.split(':')
        .map(|g| {
            if g.len() == 2 {
                u8::from_str_radix(g, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

fn addresses(values: &[&str]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for v in values {
        out.extend_from_slice(&v.parse::<Ipv4Addr>().ok()?.octets());
    }
    Some(out)
}

/// RFC 3397 encoding (without compression).
fn domain_search(values: &[&str]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for name in values {
        for label in name.trim_end_matches('.').split('.') {
            if label.is_empty()
                || label.len() > 63
                || !label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return None;
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }
    Some(out)
}

/// RFC 3442: width, significant octets of the destination, router.
fn classless_routes(values: &[&str]) -> Option<Vec<u8>> {
    if values.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::new();
    for pair in values.chunks(2) {
        let (net, len) = pair[0].split_once('/')?;
        let net: Ipv4Addr = net.parse().ok()?;
        let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
        let router: Ipv4Addr = pair[1].parse().ok()?;
        out.push(len);
        out.extend_from_slice(&net.octets()[..len.div_ceil(8) as usize]);
        out.extend_from_slice(&router.octets());
    }
    Some(out)
}

fn list_items<'a>(section: &SectionRef<'a>, option: &str) -> Vec<(&'a str, usize)> {
    use v6only_common::uci::Value;
    match section.entry(option) {
        None => Vec::new(),
        Some(e) => match &e.value {
            Value::Option(v) => vec![(v.as_str(), e.line)],
            Value::List(items) => items.iter().map(|v| (v.as_str(), e.line)).collect(),
        },
    }
}

fn item_error(
    section: &SectionRef<'_>,
    option: &str,
    line: usize,
    value: &str,
    expected: String,
) -> ConfigError {
    ConfigError {
        path: section.package.path.clone(),
        line,
        option: format!("{}.{}", section.label(), option),
        value: Some(value.to_string()),
        expected,
    }
}

/// The daemon's own settings (`config option108_dhcpd`: `journal`, `leasefile`, `log_leases`,
/// `control_socket`), from `/etc/config/option108-dhcpd` or from the dhcp file itself.
pub fn apply_settings(config: &mut Config, package: &Package, errors: &mut Errors) {
    for s in package.sections("option108_dhcpd") {
        if let Some(f) = errors.get::<String>(&s, "journal") {
            config.journal = PathBuf::from(f);
        }
        if let Some(f) = errors.get::<String>(&s, "leasefile") {
            config.leasefile = PathBuf::from(f);
        }
        if let Some(on) = errors.get::<bool>(&s, "log_leases") {
            config.log_leases = on;
        }
        if let Some(f) = errors.get::<String>(&s, "control_socket") {
            config.control_socket = PathBuf::from(f);
        }
    }
}

/// Reads and resolves the whole config: the dhcp file, then the daemon's own `settings`
/// file (its settings win). Every section and option is read; `Err` has every error, each
/// naming the option at fault.
pub fn load(
    package: &Package,
    settings: Option<&Package>,
    resolver: &dyn Resolver,
) -> Result<Config, Refused> {
    let mut errors = Errors::default();
    let mut config = Config {
        pools: Vec::new(),
        journal: PathBuf::from(DEFAULT_JOURNAL),
        leasefile: PathBuf::from(DEFAULT_LEASEFILE),
        log_leases: true,
        control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
        warnings: Vec::new(),
    };
    let mut default_domain: Option<String> = None;
    for s in package.sections("dnsmasq") {
        if let Some(d) = errors.get::<String>(&s, "domain") {
            default_domain = Some(d);
        }
        if let Some(f) = errors.get::<String>(&s, "leasefile") {
            config.leasefile = PathBuf::from(f);
        }
    }
    apply_settings(&mut config, package, &mut errors);

    let before_pools = errors.0.len();
    // Each pool: left out when it is ignored, disabled or has an error (each one kept; the
    // options that do not depend on the interface are read even when it cannot be resolved).
    for s in package.sections("dhcp") {
        // An invalid 'ignore' skips the pool too: it might have meant to.
        if errors.ok(s.get("ignore")) != Some(Some(false)) && s.entry("ignore").is_some() {
            continue;
        }
        if errors.get::<String>(&s, "dhcpv4").as_deref() == Some("disabled") {
            continue;
        }
        let before = errors.0.len();
        let label = s.section.name.clone().unwrap_or_else(|| s.label());
        let interface = errors
            .get::<String>(&s, "interface")
            .or_else(|| s.section.name.clone());
        if interface.is_none() {
            errors.push(s.error("interface", "a logical interface name"));
        }
        let link = match errors.get::<v6only_common::validate::Device>(&s, "device") {
            Some(dev) => resolver.device(&dev.0).or_else(|| {
                errors.push(s.error("device", "a network device with an IPv4 address"));
                None
            }),
            None if s.entry("device").is_some() => None,
            None => interface.and_then(|i| {
                resolver.interface(&i).or_else(|| {
                    errors.push(s.error(
                        "interface",
                        "a known interface that is up with an IPv4 address",
                    ));
                    None
                })
            }),
        };
        let link = link.filter(|link| {
            let prefix_len = link.prefix_len;
            if prefix_len > 30 {
                errors.push(s.error(
                    if s.entry("device").is_some() {
                        "device"
                    } else {
                        "interface"
                    },
                    format!(
                        "an interface with a subnet of at least 4 addresses (it has /{prefix_len})"
                    ),
                ));
            }
            prefix_len <= 30
        });
        let start = errors.range(&s, "start", 0, u32::MAX as u64).unwrap_or(100) as u32;
        let limit = errors.range(&s, "limit", 0, u32::MAX as u64).unwrap_or(150) as u32;
        let lease_time = match s.raw("leasetime") {
            None => 12 * 3600,
            Some(raw) => parse_lease_time(&raw).unwrap_or_else(|| {
                errors.push(s.error(
                    "leasetime",
                    "a lease time (seconds, or with m/h/d/w, at least 60 s, or 'infinite')",
                ));
                0
            }),
        };
        let server = link.as_ref().map_or(Ipv4Addr::UNSPECIFIED, |l| l.address);
        let prefix_len = link.as_ref().map_or(24, |l| l.prefix_len);
        let mask = if prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - prefix_len)
        };
        let network = u32::from(server) & mask;
        let broadcast = network | !mask;
        // Only against a subnet that is known.
        let mut first = 0;
        if link.is_some() {
            match network
                .checked_add(start)
                .filter(|f| start >= 1 && *f < broadcast)
            {
                None => errors.push(s.error(
                    "start",
                    format!(
                        "an offset inside {}/{prefix_len} (1-{})",
                        Ipv4Addr::from(network),
                        broadcast - network - 1
                    ),
                )),
                Some(f) => {
                    first = f;
                    let last = (f as u64) + (limit as u64) - 1;
                    if limit == 0 || last >= broadcast as u64 {
                        errors.push(s.error(
                            "limit",
                            format!(
                                "a count that keeps start+limit inside {}/{prefix_len} (at most {})",
                                Ipv4Addr::from(network),
                                broadcast - f
                            ),
                        ));
                    }
                }
            }
        }

        // Defaults as dnsmasq on OpenWrt: we are the router and the DNS server.
        let mut base: Vec<(u8, Vec<u8>)> = vec![
            (opt::SUBNET_MASK, mask.to_be_bytes().to_vec()),
            (opt::ROUTER, server.octets().to_vec()),
            (opt::DNS_SERVERS, server.octets().to_vec()),
        ];
        let domain = errors
            .get::<String>(&s, "domain")
            .or(default_domain.clone());
        if let Some(d) = domain.filter(|d| !d.is_empty()) {
            base.push((opt::DOMAIN_NAME, d.into_bytes()));
        }
        let mut extra: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut v6only_wait: Option<u32> = None;
        for (item, line) in list_items(&s, "dhcp_option") {
            match parse_dhcp_option(item) {
                Err(e) => errors.push(item_error(&s, "dhcp_option", line, item, e)),
                Ok(DhcpOption::Tagged) => config.warnings.push(format!(
                    "{}.dhcp_option: '{item}' is tagged; tags are not supported, skipped",
                    s.label()
                )),
                Ok(DhcpOption::V6OnlyWait(w)) => v6only_wait = Some(w),
                Ok(DhcpOption::Value(code, mut bytes)) => {
                    // dnsmasq's 0.0.0.0 means "this server".
                    if ADDRESS_LIST.contains(&code) {
                        for chunk in bytes.chunks_mut(4) {
                            if chunk == [0, 0, 0, 0] {
                                chunk.copy_from_slice(&server.octets());
                            }
                        }
                    }
                    let target = if [
                        opt::SUBNET_MASK,
                        opt::ROUTER,
                        opt::DNS_SERVERS,
                        opt::DOMAIN_NAME,
                    ]
                    .contains(&code)
                    {
                        &mut base
                    } else {
                        &mut extra
                    };
                    target.retain(|(c, _)| *c != code);
                    if !bytes.is_empty() {
                        target.push((code, bytes));
                    }
                }
            }
        }
        // odhcpd's option: seconds, 0 (its default) meaning off.
        if let Some(w) = errors.get::<u32>(&s, "ipv6_only_preferred") {
            v6only_wait = if w == 0 { v6only_wait } else { Some(w) };
        }
        if let Some(w) = v6only_wait {
            if w < MIN_V6ONLY_WAIT {
                config.warnings.push(format!(
                    "{}: IPv6-Only Preferred V6ONLY_WAIT is {w} s, below MIN_V6ONLY_WAIT: clients will wait {MIN_V6ONLY_WAIT} s anyway (RFC 8925 §3.4); sending {w} as configured",
                    s.label()
                ));
            }
        }
        let rapid_commit = errors.get(&s, "rapid_commit").unwrap_or(false);
        let authoritative = errors.get(&s, "authoritative").unwrap_or(true);
        let Some(link) = link.filter(|_| errors.0.len() == before) else {
            continue;
        };
        config.pools.push(Pool {
            name: label,
            device: link.device,
            ifindex: link.ifindex,
            server,
            prefix_len,
            first: Ipv4Addr::from(first),
            count: limit,
            lease_time,
            base_options: base,
            extra_options: extra,
            v6only_wait,
            rapid_commit,
            authoritative,
            hosts: Vec::new(),
        });
    }
    if config
        .pools
        .windows(2)
        .any(|w| w[0].ifindex == w[1].ifindex)
        || has_duplicate_ifindex(&config.pools)
    {
        let s = package.sections("dhcp").last().unwrap();
        errors.push(s.error("interface", "an interface no other pool serves"));
    }
    // A host in a pool that has an error of its own is not reported again.
    let pools_ok = errors.0.len() == before_pools;

    for s in package.sections("host") {
        let Some(ip) = errors.get::<Ipv4Addr>(&s, "ip") else {
            continue;
        };
        let known = errors.0.len();
        let macs: Vec<MacAddr> = errors.list(&s, "mac");
        if macs.is_empty() && errors.0.len() == known {
            errors.push(s.error(
                "mac",
                "one or more MAC addresses (a host with an ip needs a mac)",
            ));
        }
        let lease_time = s.raw("leasetime").map(|raw| {
            parse_lease_time(&raw).unwrap_or_else(|| {
                errors.push(s.error(
                    "leasetime",
                    "a lease time (seconds, or with m/h/d/w, or 'infinite')",
                ));
                INFINITE
            })
        });
        let name = errors.get::<String>(&s, "name").unwrap_or_default();
        let Some(pool) = config.pools.iter_mut().find(|p| p.contains(ip)) else {
            if pools_ok {
                errors.push(s.error("ip", "an address inside the subnet of a served pool"));
            }
            continue;
        };
        if ip == pool.server
            || u32::from(ip) & !pool.mask() == 0
            || u32::from(ip) | pool.mask() == u32::MAX
        {
            errors.push(s.error(
                "ip",
                "a host address (not the network, broadcast or server address)",
            ));
            continue;
        }
        pool.hosts.push(StaticHost {
            macs: macs.into_iter().map(|m| m.0).collect(),
            ip,
            name,
            lease_time,
        });
    }
    if let Some(settings) = settings {
        apply_settings(&mut config, settings, &mut errors);
    }
    config.warnings = errors.finish(std::mem::take(&mut config.warnings))?;
    Ok(config)
}

fn has_duplicate_ifindex(pools: &[Pool]) -> bool {
    pools
        .iter()
        .enumerate()
        .any(|(i, p)| pools[..i].iter().any(|q| q.ifindex == p.ifindex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    struct Fake;
    impl Resolver for Fake {
        fn interface(&self, name: &str) -> Option<Link> {
            (name == "lan").then(|| Link {
                device: "br-lan".into(),
                ifindex: 3,
                address: Ipv4Addr::new(192, 168, 1, 1),
                prefix_len: 24,
            })
        }
        fn device(&self, name: &str) -> Option<Link> {
            (name == "dh8r0").then(|| Link {
                device: "dh8r0".into(),
                ifindex: 7,
                address: Ipv4Addr::new(10, 8, 0, 1),
                prefix_len: 24,
            })
        }
    }

    fn load_text(text: &str) -> Result<Config, Refused> {
        let package = Package::parse(Path::new("/etc/config/dhcp"), text).unwrap();
        load(&package, None, &Fake)
    }
    /// With the daemon's own settings file.
    fn load_with(text: &str, settings: &str) -> Result<Config, Refused> {
        let package = Package::parse(Path::new("/etc/config/dhcp"), text).unwrap();
        let settings = Package::parse(Path::new("/etc/config/option108-dhcpd"), settings).unwrap();
        load(&package, Some(&settings), &Fake)
    }
    fn error_of(text: &str) -> String {
        load_text(text).unwrap_err().to_string()
    }

    #[test]
    fn the_seed_config() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../common/tests/fixtures/dhcp"
        ))
        .unwrap();
        let c = load_text(&text).unwrap();
        assert_eq!(c.pools.len(), 1, "wan is ignored");
        let p = &c.pools[0];
        assert_eq!(
            (p.name.as_str(), p.device.as_str(), p.ifindex),
            ("lan", "br-lan", 3)
        );
        assert_eq!(
            (p.first, p.count, p.lease_time),
            (Ipv4Addr::new(192, 168, 1, 100), 150, 43200)
        );
        assert_eq!(
            p.v6only_wait,
            Some(0),
            "108,0000i enables RFC 8925 with V6ONLY_WAIT 0"
        );
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("clients will wait 300 s anyway")),
            "{:?}",
            c.warnings
        );
        assert!(p.base_options.contains(&(6, vec![192, 168, 1, 1])));
        assert!(p.base_options.contains(&(15, b"lan".to_vec())));
        assert!(
            !p.extra_options.iter().any(|(c, _)| *c == 108),
            "108 is never a plain option"
        );
        assert_eq!(p.hosts.len(), 3);
        assert_eq!(p.hosts[0].lease_time, Some(INFINITE));
        assert_eq!(p.hosts[1].macs.len(), 2);
        assert_eq!(c.leasefile, PathBuf::from("/tmp/dhcp.leases"));
    }

    #[test]
    fn dhcp_option_forms() {
        use DhcpOption::*;
        assert_eq!(parse_dhcp_option("108,0000i"), Ok(V6OnlyWait(0)));
        assert_eq!(parse_dhcp_option("108,1800"), Ok(V6OnlyWait(1800)));
        assert_eq!(parse_dhcp_option("108"), Ok(V6OnlyWait(0)));
        assert_eq!(parse_dhcp_option("108,00:00:07:08"), Ok(V6OnlyWait(1800)));
        assert!(parse_dhcp_option("108,abc").is_err());
        assert_eq!(
            parse_dhcp_option("6,192.168.1.1,8.8.8.8"),
            Ok(Value(6, vec![192, 168, 1, 1, 8, 8, 8, 8]))
        );
        assert_eq!(
            parse_dhcp_option("option:router,10.0.0.1"),
            Ok(Value(3, vec![10, 0, 0, 1]))
        );
        assert_eq!(parse_dhcp_option("3"), Ok(Value(3, vec![])));
        assert_eq!(parse_dhcp_option("26,1280"), Ok(Value(26, vec![5, 0])));
        assert_eq!(
            parse_dhcp_option("15,example.org"),
            Ok(Value(15, b"example.org".to_vec()))
        );
        assert_eq!(
            parse_dhcp_option("119,a.org,b"),
            Ok(Value(
                119,
                vec![1, b'a', 3, b'o', b'r', b'g', 0, 1, b'b', 0]
            ))
        );
        assert_eq!(
            parse_dhcp_option("121,10.0.0.0/8,192.168.1.2"),
            Ok(Value(121, vec![8, 10, 192, 168, 1, 2]))
        );
        assert_eq!(
            parse_dhcp_option("252,01:02:ff"),
            Ok(Value(252, vec![1, 2, 255]))
        );
        assert_eq!(parse_dhcp_option("tag:x,3,1.2.3.4"), Ok(Tagged));
        assert!(parse_dhcp_option("6,not-an-ip").is_err());
        assert!(parse_dhcp_option("x,1").is_err());
        assert!(parse_dhcp_option("300,1").is_err());
        assert!(parse_dhcp_option("54,1.2.3.4").is_err());
        assert!(parse_dhcp_option("26,70000").is_err());
    }

    const BASE: &str = "config dhcp 'lan'\n\toption interface 'lan'\n";

    #[test]
    fn control_socket_setting() {
        let pool = "config dhcp 'lan'\n\toption device 'dh8r0'\n";
        assert_eq!(
            load_text(pool).unwrap().control_socket,
            Path::new("/var/run/option108-dhcpd.sock")
        );
        let text = "config option108_dhcpd 'main'\n\toption control_socket '/tmp/b.sock'\n";
        let c = load_with(pool, text).unwrap();
        assert_eq!(c.control_socket, Path::new("/tmp/b.sock"));
    }

    #[test]
    fn log_leases_setting() {
        let pool = "config dhcp 'lan'\n\toption device 'dh8r0'\n";
        assert!(
            load_text(pool).unwrap().log_leases,
            "on by default, as dnsmasq"
        );
        let settings = |value: &str| {
            let text = format!("config option108_dhcpd 'main'\n\toption log_leases '{value}'\n");
            load_with(pool, &text).map(|c| c.log_leases)
        };
        assert!(!settings("0").unwrap());
        assert!(settings("1").unwrap());
        let e = settings("loud").unwrap_err().to_string();
        assert!(
            e.contains("option108-dhcpd.main.log_leases") && e.contains("option108-dhcpd:2"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_option() {
        let e = error_of(&format!("{BASE}\toption start '300'\n"));
        assert!(e.contains("dhcp.lan.start") && e.contains("'300'"), "{e}");
        let e = error_of(&format!(
            "{BASE}\toption start '200'\n\toption limit '100'\n"
        ));
        assert!(e.contains("dhcp.lan.limit"), "{e}");
        let e = error_of(&format!("{BASE}\tlist dhcp_option '6,bogus'\n"));
        assert!(
            e.contains("dhcp.lan.dhcp_option") && e.contains("6,bogus"),
            "{e}"
        );
        let e = error_of("config dhcp 'guest'\n\toption interface 'guest'\n");
        assert!(e.contains("dhcp.guest.interface"), "{e}");
        let e = error_of(&format!(
            "{BASE}config host\n\toption mac '02:00:00:00:00:01'\n\toption ip '10.9.9.9'\n"
        ));
        assert!(e.contains("dhcp.@host[0].ip"), "{e}");
        let e = error_of(&format!("{BASE}\toption leasetime '5x'\n"));
        assert!(e.contains("dhcp.lan.leasetime"), "{e}");
        let e = error_of("config dhcp 'x'\n\toption device 'nope0'\n");
        assert!(e.contains("dhcp.x.device"), "{e}");
    }

    #[test]
    fn every_error_is_reported() {
        let r = load_with(
            "config dnsmasq\n\toption domain 'lan'\n\
             config dhcp 'lan'\n\toption interface 'lan'\n\toption start '300'\n\
             \tlist dhcp_option '6,bogus'\n\tlist dhcp_option 'tag:x,3'\n\
             \toption rapid_commit 'maybe'\n\
             config dhcp 'guest'\n\toption interface 'guest'\n\toption leasetime '5x'\n\
             config dhcp 't'\n\toption device 'dh8r0'\n\
             config host\n\toption mac '02:00:00:00:00:01'\n\toption ip '10.8.0.300'\n\
             config host\n\toption ip '10.8.0.7'\n",
            "config option108_dhcpd 'main'\n\toption log_leases 'loud'\n",
        )
        .unwrap_err();
        let expect = [
            "/etc/config/dhcp:5: dhcp.lan.start: '300'",
            "/etc/config/dhcp:6: dhcp.lan.dhcp_option: '6,bogus'",
            "/etc/config/dhcp:8: dhcp.lan.rapid_commit: 'maybe'",
            "/etc/config/dhcp:10: dhcp.guest.interface: 'guest' is not a known interface",
            "/etc/config/dhcp:11: dhcp.guest.leasetime: '5x'",
            "/etc/config/dhcp:16: dhcp.@host[0].ip: '10.8.0.300'",
            "/etc/config/dhcp:17: dhcp.@host[1].mac: missing",
            "/etc/config/option108-dhcpd:2: option108-dhcpd.main.log_leases: 'loud'",
        ];
        assert_eq!(r.errors.len(), expect.len(), "{r}");
        for (e, x) in r.errors.iter().zip(expect) {
            assert!(e.starts_with(x), "{e}\n{x}");
        }
        assert_eq!(r.warnings.len(), 1, "the tagged option: {:?}", r.warnings);
        // A host outside every pool is reported when the pools are fine.
        let e = error_of(
            "config dhcp 't'\n\toption device 'dh8r0'\n\toption limit '0'\n\
             config host\n\toption mac '02:00:00:00:00:01'\n\toption ip '10.9.0.7'\n",
        );
        assert!(!e.contains("host"), "not while a pool has an error: {e}");
        let e = error_of(
            "config dhcp 't'\n\toption device 'dh8r0'\n\
             config host\n\toption mac '02:00:00:00:00:01'\n\toption ip '10.9.0.7'\n\
             config host\n\toption mac '02:00:00:00:00:02'\n\toption ip '10.8.0.1'\n",
        );
        assert_eq!(e.lines().count(), 2, "{e}");
    }

    #[test]
    fn ipv6_only_preferred_option() {
        let c = load_text(&format!("{BASE}\toption ipv6_only_preferred '100'\n")).unwrap();
        assert_eq!(c.pools[0].v6only_wait, Some(100));
        assert!(
            c.warnings[0].contains("V6ONLY_WAIT is 100 s"),
            "{:?}",
            c.warnings
        );
        let c = load_text(&format!("{BASE}\toption ipv6_only_preferred '1800'\n")).unwrap();
        assert_eq!(c.pools[0].v6only_wait, Some(1800));
        assert!(c.warnings.is_empty());
        let c = load_text(&format!("{BASE}\toption ipv6_only_preferred '0'\n")).unwrap();
        assert_eq!(c.pools[0].v6only_wait, None, "0 is odhcpd's 'off'");
        let c = load_text(BASE).unwrap();
        assert_eq!(c.pools[0].v6only_wait, None);
    }

    #[test]
    fn device_and_lease_times() {
        let c = load_text("config dhcp 't'\n\toption device 'dh8r0'\n\toption start '10'\n\toption limit '5'\n\toption leasetime '2m'\n\tlist dhcp_option '3'\n").unwrap();
        let p = &c.pools[0];
        assert_eq!(
            (p.first, p.count, p.lease_time, p.ifindex),
            (Ipv4Addr::new(10, 8, 0, 10), 5, 120, 7)
        );
        assert!(
            !p.base_options.iter().any(|(c, _)| *c == 3),
            "empty 3 suppresses the router"
        );
        assert_eq!(parse_lease_time("12h"), Some(43200));
        assert_eq!(parse_lease_time("infinite"), Some(INFINITE));
        assert_eq!(parse_lease_time("30"), None, "under a minute");
        assert_eq!(parse_lease_time("h"), None);
    }
}
