//! `/etc/config/nat64`: one `config nat64 'main'` section and `config static` sections.
//!
//! ```text
//! config nat64 'main'
//!     option prefix '64:ff9b::/96'
//!     option tun_device 'nat64'
//!     list pool4 '198.51.100.0/30 1024-65535'
//!     option max_sessions '65536'
//!     option max_sessions_per_host '8192'
//!     option allow_non_global '0'
//!     option zeroize_traffic_class '0'
//!     option source_icmpv6_errors_better '1'
//!     option workers '0'
//!
//! config static
//!     option proto 'tcp'
//!     option ipv6 '2001:db8::10'
//!     option port6 '80'
//!     option ipv4 '198.51.100.1'
//!     option port4 '8080'
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use v6only_common::daemon::{Errors, Refused};
use v6only_common::uci::{ConfigError, Package, SectionRef};
use v6only_common::validate::{Cidr6, Device, Port};

use crate::rfc6052::Prefix;
use crate::state::{PoolRange, Proto, StateConfig, StaticEntry, Timeouts};
use crate::translate;
use v6only_common::netlink::Route;

/// Everything the daemon reads from the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    pub translator: translate::Config,
    pub tun_device: String,
    /// TUN offloads (IFF_VNET_HDR, TSO): whole TCP super-packets per read.
    pub offload: bool,
    /// Translating threads, each on a TUN queue of its own; 0: one per CPU.
    pub workers: u32,
    /// Unix socket behind `nat64 status` (default /var/run/nat64.sock).
    pub control_socket: std::path::PathBuf,
    /// Problems worth a warning that do not stop the daemon (timeouts below RFC minimums).
    pub warnings: Vec<String>,
}

/// More threads than this would only wait for the translator's lock.
pub const MAX_WORKERS: u32 = 16;

impl DaemonConfig {
    /// How many workers (TUN queues) to run: `workers`, or one per CPU this process may use.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_WORKERS as usize),
            n => n as usize,
        }
    }

    /// The routes through the TUN device this config needs: the prefix, every pool4 range,
    /// and each static entry's IPv4 address outside the pool (sorted, no duplicates).
    pub fn routes(&self) -> Vec<Route> {
        let t = &self.translator;
        let mut routes = vec![Route {
            dst: t.prefix.addr().octets().to_vec(),
            len: t.prefix.len(),
        }];
        for r in &t.state.pool {
            routes.push(Route {
                dst: r.addr.to_vec(),
                len: r.prefix_len,
            });
        }
        for s in &t.state.statics {
            if !t.state.pool.iter().any(|r| r.contains(s.addr4)) {
                routes.push(Route {
                    dst: s.addr4.to_vec(),
                    len: 32,
                });
            }
        }
        routes.sort();
        routes.dedup();
        routes
    }
}

const MAIN_OPTIONS: [&str; 22] = [
    // Read by the init script for the fw-helper drop-in, not by the daemon.
    "wan_zone",
    "lan_zone",
    "masquerade",
    "mss_clamp",
    "control_socket",
    "offload",
    "workers",
    "prefix",
    "tun_device",
    "pool4",
    "max_sessions",
    "max_sessions_per_host",
    "allow_non_global",
    "mtu",
    "lowest_ipv6_mtu",
    "zeroize_traffic_class",
    "source_icmpv6_errors_better",
    "udp_timeout",
    "icmp_timeout",
    "tcp_est_timeout",
    "tcp_trans_timeout",
    "tcp_incoming_syn_timeout",
];
const STATIC_OPTIONS: [&str; 5] = ["proto", "ipv6", "port6", "ipv4", "port4"];

pub fn load(path: &Path) -> Result<DaemonConfig, Refused> {
    let package = Package::load(path).map_err(|e| e.to_string())?;
    from_package(&package)
}

pub fn parse(path: &Path, text: &str) -> Result<DaemonConfig, Refused> {
    let package = Package::parse(path, text).map_err(|e| e.to_string())?;
    from_package(&package)
}

/// Every option and section read, every error kept (each naming file, line and option).
fn from_package(package: &Package) -> Result<DaemonConfig, Refused> {
    let main = package.main("nat64");
    let Some(main) = main else {
        return Err(Refused::from(
            ConfigError {
                path: package.path.clone(),
                line: 1,
                option: format!("{}.main", package.name),
                value: None,
                expected: "a 'config nat64 main' section".into(),
            }
            .to_string(),
        ));
    };
    let mut errors = Errors::default();
    let mut warnings = Vec::new();
    for entry in main.unknown_options(&MAIN_OPTIONS) {
        warnings.push(format!(
            "{}:{}: unknown option '{}.{}' ignored",
            package.path.display(),
            entry.line,
            main.label(),
            entry.name
        ));
    }
    let prefix = match errors.get::<Cidr6>(&main, "prefix") {
        None => Prefix::well_known(),
        Some(c) => Prefix::new(c.addr, c.len).unwrap_or_else(|e| {
            errors.push(main.error("prefix", format!("RFC 6052 prefix: {e}")));
            Prefix::well_known()
        }),
    };
    let tun_device = errors
        .get::<Device>(&main, "tun_device")
        .map_or_else(|| "nat64".to_string(), |d| d.0);
    if tun_device.len() > 15 {
        errors.push(main.error("tun_device", "interface name of at most 15 characters"));
    }
    let pool = pool4(&main, &mut errors);
    let max_sessions = errors
        .range(&main, "max_sessions", 1, 4_000_000)
        .unwrap_or(65536) as u32;
    let max_sessions_per_host = errors
        .range(&main, "max_sessions_per_host", 0, 4_000_000)
        .unwrap_or(0) as u32;
    let allow_non_global = errors.get(&main, "allow_non_global").unwrap_or(false);
    let mtu = errors.range(&main, "mtu", 1280, 65535).unwrap_or(1500) as u32;
    let lowest_ipv6_mtu = errors
        .range(&main, "lowest_ipv6_mtu", 1280, 65535)
        .unwrap_or(1280) as u32;
    let zeroize_traffic_class = errors.get(&main, "zeroize_traffic_class").unwrap_or(false);
    let source_icmpv6_errors_better =
        (errors.get(&main, "source_icmpv6_errors_better")).unwrap_or(true);

    let d = Timeouts::default();
    let mut timeout = |option: &str, default: u32, rfc_min: u32| -> u32 {
        let value = errors
            .range(&main, option, 1, 30 * 24 * 3600)
            .map_or(default, |v| v as u32);
        if value < rfc_min {
            warnings.push(format!(
                "{}.{} {value} s is below the RFC 6146 minimum of {rfc_min} s",
                main.label(),
                option
            ));
        }
        value
    };
    let timeouts = Timeouts {
        udp: timeout("udp_timeout", d.udp, 120),
        icmp: timeout("icmp_timeout", d.icmp, 1),
        tcp_est: timeout("tcp_est_timeout", d.tcp_est, 7440),
        tcp_trans: timeout("tcp_trans_timeout", d.tcp_trans, 240),
        tcp_incoming_syn: timeout("tcp_incoming_syn_timeout", d.tcp_incoming_syn, 6),
    };

    let mut statics = Vec::new();
    for s in package.sections("static") {
        for entry in s.unknown_options(&STATIC_OPTIONS) {
            warnings.push(format!(
                "{}:{}: unknown option '{}.{}' ignored",
                package.path.display(),
                entry.line,
                s.label(),
                entry.name
            ));
        }
        let proto = match errors.get::<String>(&s, "proto").as_deref() {
            None | Some("tcp") => Some(Proto::Tcp),
            Some("udp") => Some(Proto::Udp),
            Some("icmp") => Some(Proto::Icmp),
            Some(_) => {
                errors.push(s.error("proto", "one of tcp, udp, icmp"));
                None
            }
        };
        let addr6: Option<Ipv6Addr> = errors.ok(s.require("ipv6"));
        let addr4: Option<Ipv4Addr> = errors.ok(s.require("ipv4"));
        let port6: Option<Port> = errors.ok(s.require("port6"));
        let port4: Option<Port> = errors.ok(s.require("port4"));
        if addr6.is_some_and(|a| prefix.contains(a)) {
            errors.push(s.error("ipv6", "an IPv6 host address outside the NAT64 prefix"));
            continue;
        }
        let (Some(proto), Some(addr6), Some(addr4), Some(port6), Some(port4)) =
            (proto, addr6, addr4, port6, port4)
        else {
            continue;
        };
        let entry = StaticEntry {
            proto,
            addr6: addr6.octets(),
            port6: port6.0,
            addr4: addr4.octets(),
            port4: port4.0,
        };
        if statics.iter().any(|o: &StaticEntry| {
            o.proto == proto && (o.addr4, o.port4) == (entry.addr4, entry.port4)
        }) {
            errors.push(s.error(
                "port4",
                "an IPv4 address and port no other static entry uses",
            ));
            continue;
        }
        statics.push(entry);
    }
    let offload = errors.get(&main, "offload").unwrap_or(true);
    let workers = errors
        .range(&main, "workers", 0, MAX_WORKERS as u64)
        .unwrap_or(0) as u32;
    let control_socket = errors
        .get::<String>(&main, "control_socket")
        .map_or_else(|| v6only_common::control::default_path("nat64"), Into::into);
    let warnings = errors.finish(warnings)?;
    Ok(DaemonConfig {
        translator: translate::Config {
            prefix,
            allow_non_global,
            state: StateConfig {
                pool,
                statics,
                timeouts,
                max_sessions,
                max_sessions_per_host,
            },
            mtu,
            lowest_ipv6_mtu,
            zeroize_traffic_class,
            source_icmpv6_errors_better,
        },
        tun_device,
        offload,
        workers,
        control_socket,
        warnings,
    })
}

const POOL4_EXPECTED: &str =
    "IPv4 address or network (/16 to /32) with an optional port range PORTLO-PORTHI";

/// `list pool4 'ADDR[/LEN] [PORTLO-PORTHI]'`: the valid items; each bad one is an error.
fn pool4(main: &SectionRef<'_>, errors: &mut Errors) -> Vec<PoolRange> {
    let Some(entry) = main.entry("pool4") else {
        errors.push(main.error("pool4", POOL4_EXPECTED));
        return Vec::new();
    };
    let items: &[String] = match &entry.value {
        v6only_common::uci::Value::Option(v) => std::slice::from_ref(v),
        v6only_common::uci::Value::List(items) => items,
    };
    let mut pool = Vec::new();
    for item in items {
        match pool_range(item) {
            Some(r) => pool.push(r),
            None => errors.push(ConfigError {
                path: main.package.path.clone(),
                line: entry.line,
                option: format!("{}.pool4", main.label()),
                value: Some(item.clone()),
                expected: POOL4_EXPECTED.into(),
            }),
        }
    }
    if items.is_empty() {
        errors.push(main.error("pool4", POOL4_EXPECTED));
    }
    pool
}

/// One `pool4` item.
fn pool_range(item: &str) -> Option<PoolRange> {
    let mut words = item.split_whitespace();
    let net = words.next()?;
    let (addr, len) = match net.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()?),
        None => (net, 32),
    };
    let addr: Ipv4Addr = addr.parse().ok()?;
    if !(16..=32).contains(&len) {
        return None;
    }
    let mask = u32::MAX.checked_shl(32 - len as u32).unwrap_or(0);
    if u32::from(addr) & !mask != 0 {
        return None;
    }
    let ports = match words.next() {
        None => (1024, 65535),
        Some(range) => {
            let (lo, hi) = range.split_once('-')?;
            let lo: u16 = lo.parse().ok()?;
            let hi: u16 = hi.parse().ok()?;
            if lo == 0 || lo > hi {
                return None;
            }
            (lo, hi)
        }
    };
    if words.next().is_some() {
        return None;
    }
    Some(PoolRange {
        addr: addr.octets(),
        prefix_len: len,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<DaemonConfig, String> {
        parse(Path::new("/etc/config/nat64"), text).map_err(String::from)
    }

    #[test]
    fn routes_follow_the_config() {
        let base = "config nat64 'main'\n\toption prefix '2001:db8:64::/96'\n";
        let a = parse_text(&format!(
            "{base}\tlist pool4 '198.51.100.0/30'\n\tlist pool4 '198.51.100.0/30 2000-3000'\n\
             config static\n\toption proto 'icmp'\n\toption ipv6 '2001:db8::10'\n\toption port6 '7'\n\toption ipv4 '192.0.2.77'\n\toption port4 '7'\n\
             config static\n\toption proto 'tcp'\n\toption ipv6 '2001:db8::10'\n\toption port6 '80'\n\
             \toption ipv4 '198.51.100.2'\n\toption port4 '80'\n"
        ))
        .unwrap();
        let text: Vec<String> = a.routes().iter().map(|r| r.to_string()).collect();
        // One route per pool4 range (deduplicated), the static entry outside the pool gets a
        // host route, the one inside does not.
        assert_eq!(
            text,
            ["2001:db8:64::/96", "192.0.2.77/32", "198.51.100.0/30"]
        );
        let b = parse_text(&format!("{base}\tlist pool4 '203.0.113.8/29'\n")).unwrap();
        let text: Vec<String> = b.routes().iter().map(|r| r.to_string()).collect();
        assert_eq!(text, ["2001:db8:64::/96", "203.0.113.8/29"]);
    }

    #[test]
    fn full_config() {
        let c = parse_text(
            "config nat64 'main'\n\
             \toption prefix '2001:db8:64::/96'\n\
             \toption tun_device 'n64'\n\
             \tlist pool4 '198.51.100.0/30 2000-3000'\n\
             \tlist pool4 '203.0.113.7'\n\
             \toption max_sessions '100'\n\
             \toption max_sessions_per_host '10'\n\
             \toption udp_timeout '5'\n\
             config static\n\
             \toption proto 'udp'\n\
             \toption ipv6 '2001:db8::10'\n\
             \toption port6 '53'\n\
             \toption ipv4 '198.51.100.1'\n\
             \toption port4 '5353'\n",
        )
        .unwrap();
        assert_eq!(c.tun_device, "n64");
        assert_eq!(c.translator.prefix.to_string(), "2001:db8:64::/96");
        assert_eq!(
            c.translator.state.pool[0],
            PoolRange {
                addr: [198, 51, 100, 0],
                prefix_len: 30,
                ports: (2000, 3000)
            }
        );
        assert_eq!(
            c.translator.state.pool[1],
            PoolRange {
                addr: [203, 0, 113, 7],
                prefix_len: 32,
                ports: (1024, 65535)
            }
        );
        assert_eq!(
            (
                c.translator.state.max_sessions,
                c.translator.state.max_sessions_per_host
            ),
            (100, 10)
        );
        assert_eq!(c.translator.state.timeouts.udp, 5);
        assert_eq!(c.translator.state.timeouts.tcp_est, 7440);
        assert_eq!(c.translator.state.statics.len(), 1);
        assert_eq!(c.translator.state.statics[0].proto, Proto::Udp);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("udp_timeout 5 s is below")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn defaults() {
        let c = parse_text("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n").unwrap();
        assert!(c.translator.prefix.is_well_known());
        assert_eq!(c.tun_device, "nat64");
        assert!(!c.translator.allow_non_global);
        assert_eq!(c.translator.state.timeouts, Timeouts::default());
        assert_eq!(c.translator.state.max_sessions, 65536);
        assert_eq!(c.workers, 0);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(c.worker_count(), cpus.min(MAX_WORKERS as usize));
        let c = parse_text("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption workers '3'\n")
            .unwrap();
        assert_eq!(c.worker_count(), 3);
    }

    /// Jool's two RFC 7915 globals under their Jool names, with Jool's defaults.
    #[test]
    fn traffic_class_and_icmpv6_error_source_options() {
        let c = parse_text("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n").unwrap();
        let t = &c.translator;
        assert_eq!(
            (t.zeroize_traffic_class, t.source_icmpv6_errors_better),
            (false, true)
        );
        let c = parse_text(
            "config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption zeroize_traffic_class '1'\n\toption source_icmpv6_errors_better '0'\n",
        )
        .unwrap();
        let t = &c.translator;
        assert_eq!(
            (t.zeroize_traffic_class, t.source_icmpv6_errors_better),
            (true, false)
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        for option in ["zeroize_traffic_class", "source_icmpv6_errors_better"] {
            let text = format!(
                "config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption {option} 'maybe'\n"
            );
            let e = parse_text(&text).unwrap_err();
            assert!(e.contains(&format!("nat64.main.{option}")), "{e}");
        }
    }

    #[test]
    fn every_error_is_reported() {
        let r = parse(
            Path::new("/etc/config/nat64"),
            "config nat64 'main'\n\
             \toption prefix '2001:db8::/33'\n\
             \tlist pool4 '192.0.2.1'\n\
             \tlist pool4 '192.0.2.0/8'\n\
             \toption max_sessions '0'\n\
             \toption colour 'blue'\n\
             \toption udp_timeout '5'\n\
             config static\n\
             \toption proto 'sctp'\n\
             \toption ipv6 '2001:db8::10'\n\
             \toption port6 '80'\n\
             config static\n\
             \toption ipv6 '2001:db8::10'\n\
             \toption port6 '80'\n\
             \toption ipv4 '192.0.2.1'\n\
             \toption port4 'x'\n",
        )
        .unwrap_err();
        let expect = [
            "/etc/config/nat64:2: nat64.main.prefix",
            "/etc/config/nat64:3: nat64.main.pool4: '192.0.2.0/8' is not",
            "/etc/config/nat64:5: nat64.main.max_sessions: '0'",
            "/etc/config/nat64:8: nat64.@static[0].ipv4: missing",
            "/etc/config/nat64:8: nat64.@static[0].port4: missing",
            "/etc/config/nat64:9: nat64.@static[0].proto: 'sctp'",
            "/etc/config/nat64:16: nat64.@static[1].port4: 'x'",
        ];
        assert_eq!(r.errors.len(), expect.len(), "{r}");
        for (e, x) in r.errors.iter().zip(expect) {
            assert!(e.starts_with(x), "{e}\n{x}");
        }
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    }

    #[test]
    fn errors_name_the_option() {
        let cases = [
            ("config nat64 'main'\n", "nat64.main.pool4"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption prefix '2001:db8::/33'\n", "nat64.main.prefix"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption prefix '2001:db8:0:0:ff00::/96'\n", "u octet"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1/24'\n", "nat64.main.pool4"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.0/24 5-1'\n", "nat64.main.pool4"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.0/8'\n", "nat64.main.pool4"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption max_sessions '0'\n", "nat64.main.max_sessions"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption allow_non_global 'maybe'\n", "allow_non_global"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\nconfig static\n\toption ipv6 '2001:db8::1'\n", "nat64.@static[0].ipv4"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\nconfig static\n\toption proto 'sctp'\n", "nat64.@static[0].proto"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption tun_device 'a/b'\n", "nat64.main.tun_device"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\n\toption workers '17'\n", "nat64.main.workers"),
            ("config other 'x'\n", "config nat64 main"),
            ("config nat64 'main'\n\tlist pool4 '192.0.2.1'\nconfig static\n\toption ipv6 '64:ff9b::1'\n\toption ipv4 '192.0.2.1'\n\toption port6 '1'\n\toption port4 '1'\n", "nat64.@static[0].ipv6"),
        ];
        for (text, needle) in cases {
            let err = parse_text(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.contains("/etc/config/nat64"), "{err}");
        }
    }
}
