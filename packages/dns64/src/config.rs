//! `/etc/config/dns64` and resolv.conf reading (pure: text in, values and warnings out).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use v6only_common::daemon::{Errors, Refused};
use v6only_common::uci::Package;
use v6only_common::validate::{Cidr6, Port};

use crate::exclude::Range6;
use crate::resolver;
use crate::rfc6052::Prefix;

pub const DEFAULT_RESOLV: &str = "/tmp/resolv.conf.d/resolv.conf.auto";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub enabled: bool,
    pub core: resolver::Config,
    /// Addresses to listen on; empty: the init script's default (the LAN addresses) or `::`.
    pub listen: Vec<IpAddr>,
    pub port: u16,
    /// Upstreams from UCI; `None`: read `resolv_file`.
    pub upstreams: Option<Vec<SocketAddr>>,
    pub resolv_file: PathBuf,
    /// The Unix socket behind `dns64 status` and `reload`.
    pub control_socket: PathBuf,
    /// Things worth a warning that do not stop the daemon (unknown options).
    pub warnings: Vec<String>,
}

pub const DEFAULT_CONTROL_SOCKET: &str = "/var/run/dns64.sock";

const KNOWN: &[&str] = &[
    "enabled",
    "prefix",
    "allow_non_global",
    "listen",
    "port",
    "upstream",
    "exclude",
    "cache_size",
    "resolv_file",
    "timeout",
    "control_socket",
];

impl Config {
    /// Every option read, every error kept (each naming file, line and option).
    pub fn from_package(pkg: &Package) -> Result<Config, Refused> {
        let Some(s) = pkg.named("main").or_else(|| pkg.sections("dns64").next()) else {
            return Ok(Config::default());
        };
        let warnings = s
            .unknown_options(KNOWN)
            .iter()
            .map(|e| format!("{}: unknown option '{}' ignored", s.label(), e.name))
            .collect();
        let mut errors = Errors::default();
        let mut core = resolver::Config::default();
        if let Some(p) = errors.get::<Cidr6>(&s, "prefix") {
            match Prefix::new(p.addr, p.len) {
                Ok(p) => core.prefix = p,
                Err(why) => errors.push(s.error("prefix", why.to_string())),
            }
        }
        core.allow_non_global = errors.get(&s, "allow_non_global").unwrap_or(false);
        let exclude: Vec<Cidr6> = errors.list(&s, "exclude");
        if !exclude.is_empty() {
            core.exclude = exclude
                .into_iter()
                .map(|c| Range6 {
                    addr: c.addr,
                    len: c.len,
                })
                .collect();
        }
        if let Some(kib) = errors.range(&s, "cache_size", 0, 1 << 20) {
            core.cache_bytes = kib as usize * 1024;
        }
        if let Some(ms) = errors.range(&s, "timeout", 200, 60_000) {
            core.query_timeout = Duration::from_millis(ms);
            core.attempt_timeout = core.attempt_timeout.min(core.query_timeout / 2);
        }
        let upstream_words = errors.list::<String>(&s, "upstream");
        let upstreams = (!upstream_words.is_empty()).then(|| {
            let list: Vec<SocketAddr> = upstream_words
                .iter()
                .filter_map(|w| parse_server(w))
                .collect();
            if list.len() < upstream_words.len() {
                errors.push(s.error("upstream", "an IP address or ADDRESS#PORT"));
            }
            list
        });
        let listen_words = errors.list::<String>(&s, "listen");
        let listen: Vec<IpAddr> = listen_words.iter().filter_map(|w| w.parse().ok()).collect();
        if listen.len() < listen_words.len() {
            errors.push(s.error("listen", "an IP address"));
        }
        let config = Config {
            enabled: errors.get(&s, "enabled").unwrap_or(true),
            core,
            listen,
            port: errors.get(&s, "port").unwrap_or(Port(53)).0,
            upstreams,
            resolv_file: errors
                .get::<String>(&s, "resolv_file")
                .map_or_else(|| PathBuf::from(DEFAULT_RESOLV), PathBuf::from),
            control_socket: errors
                .get::<String>(&s, "control_socket")
                .map_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET), PathBuf::from),
            warnings,
        };
        let warnings = errors.finish(config.warnings)?;
        Ok(Config { warnings, ..config })
    }

    pub fn load(path: &Path) -> Result<Config, Refused> {
        let pkg = Package::load(path).map_err(|e| e.to_string())?;
        Config::from_package(&pkg)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: true,
            core: resolver::Config::default(),
            listen: Vec::new(),
            port: 53,
            upstreams: None,
            resolv_file: PathBuf::from(DEFAULT_RESOLV),
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            warnings: Vec::new(),
        }
    }
}

/// `ADDR` or `ADDR#PORT` (dnsmasq's notation); IPv6 link-local scopes are not supported.
pub fn parse_server(word: &str) -> Option<SocketAddr> {
    let (addr, port) = match word.split_once('#') {
        Some((a, p)) => (a, p.parse::<u16>().ok().filter(|&p| p != 0)?),
        None => (word, 53),
    };
    Some(SocketAddr::new(addr.parse().ok()?, port))
}

/// The `nameserver` lines of a resolv.conf, skipping our own listening sockets (a resolv.conf
/// pointing at ourselves would loop). Link-local IPv6 servers carry their interface
/// (`fe80::1%wan`), resolved to a scope id by `scope`.
pub fn parse_resolv_conf(
    text: &str,
    own: &[SocketAddr],
    scope: &dyn Fn(&str) -> Option<u32>,
) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .filter_map(|w| match w.split_once('%') {
            Some((addr, iface)) => {
                let addr: std::net::Ipv6Addr = addr.parse().ok()?;
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    addr,
                    53,
                    0,
                    scope(iface)?,
                )))
            }
            None => w.parse::<IpAddr>().ok().map(|a| SocketAddr::new(a, 53)),
        })
        .filter(|a| {
            !own.iter().any(|o| o.ip() == a.ip() && o.port() == a.port())
                && !a.ip().is_unspecified()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let pkg =
            Package::parse(Path::new("/etc/config/dns64"), text).map_err(|e| e.to_string())?;
        Config::from_package(&pkg).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_options() {
        let c = parse("config dns64 'main'\n").unwrap();
        assert_eq!(c, Config::default());
        let c = parse(
            "config dns64 'main'\n option prefix '2001:db8:100::/40'\n list listen '::1'\n list listen '127.0.0.1'\n \
             option port 5353\n list upstream '192.0.2.1'\n list upstream '2001:db8::53#5300'\n \
             list exclude '::ffff:0:0/96'\n list exclude '2001:db8:dead::/48'\n option cache_size 512\n",
        )
        .unwrap();
        assert_eq!(c.core.prefix.to_string(), "2001:db8:100::/40");
        assert_eq!(
            c.listen,
            vec![
                "::1".parse::<IpAddr>().unwrap(),
                "127.0.0.1".parse().unwrap()
            ]
        );
        assert_eq!(c.port, 5353);
        assert_eq!(
            c.upstreams,
            Some(vec![
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::53]:5300".parse().unwrap()
            ])
        );
        assert_eq!(c.core.exclude.len(), 2);
        assert_eq!(c.core.cache_bytes, 512 * 1024);
        assert!(!c.core.allow_non_global);
        let c = parse("config dns64 'main'\n option allow_non_global '1'\n").unwrap();
        assert!(c.core.allow_non_global);
        assert_eq!(c.control_socket, Path::new("/var/run/dns64.sock"));
        let c = parse("config dns64 'main'\n option control_socket '/tmp/d.sock'\n").unwrap();
        assert_eq!(c.control_socket, Path::new("/tmp/d.sock"));
    }

    #[test]
    fn unknown_options_are_warnings_not_log_lines() {
        let c = parse("config dns64 'main'\n option colour 'blue'\n").unwrap();
        assert_eq!(c.warnings, ["dns64.main: unknown option 'colour' ignored"]);
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse("config dns64 'main'\n option prefix '2001:db8::/33'\n").unwrap_err();
        assert!(
            e.contains("dns64.main.prefix") && e.contains("RFC 6052"),
            "{e}"
        );
        // Bits after the length are refused, as nat64 does (they used to be cleared).
        let e = parse("config dns64 'main'\n option prefix '2001:db8::1/96'\n").unwrap_err();
        assert!(
            e.contains("dns64.main.prefix") && e.contains("beyond"),
            "{e}"
        );
        let e = parse("config dns64 'main'\n option allow_non_global 'maybe'\n").unwrap_err();
        assert!(e.contains("dns64.main.allow_non_global"), "{e}");
        let e = parse("config dns64 'main'\n list upstream '192.0.2.1#x'\n").unwrap_err();
        assert!(e.contains("dns64.main.upstream"), "{e}");
        let e = parse("config dns64 'main'\n option port '70000'\n").unwrap_err();
        assert!(e.contains("dns64.main.port"), "{e}");
    }

    #[test]
    fn every_error_is_reported() {
        let pkg = Package::parse(
            Path::new("/etc/config/dns64"),
            "config dns64 'main'\n option colour 'blue'\n option prefix '2001:db8::/33'\n \
             list upstream '192.0.2.1'\n list upstream '192.0.2.2#x'\n option port '70000'\n \
             list listen 'lan'\n option timeout '50'\n",
        )
        .unwrap();
        let r = Config::from_package(&pkg).unwrap_err();
        let expect = [
            "/etc/config/dns64:3: dns64.main.prefix",
            "/etc/config/dns64:4: dns64.main.upstream: '192.0.2.1 192.0.2.2#x' is not an IP address or ADDRESS#PORT",
            "/etc/config/dns64:6: dns64.main.port: '70000' is not a valid port (0-65535)",
            "/etc/config/dns64:7: dns64.main.listen: 'lan' is not an IP address",
            "/etc/config/dns64:8: dns64.main.timeout: '50' is not a valid integer (200-60000)",
        ];
        assert_eq!(r.errors.len(), expect.len(), "{r}");
        for (e, x) in r.errors.iter().zip(expect) {
            assert!(e.starts_with(x), "{e}\n{x}");
        }
        assert_eq!(r.warnings, ["dns64.main: unknown option 'colour' ignored"]);
    }

    #[test]
    fn resolv_conf() {
        let own = ["127.0.0.1:53".parse().unwrap()];
        let text = "# Interface wan\nnameserver 192.0.2.53\nnameserver 127.0.0.1\nsearch lan\nnameserver 2001:db8::1\n\
                    nameserver fe80::1%wan\nnameserver fe80::2%gone\n";
        let scope = |iface: &str| (iface == "wan").then_some(7);
        assert_eq!(
            parse_resolv_conf(text, &own, &scope),
            vec![
                "192.0.2.53:53".parse().unwrap(),
                "[2001:db8::1]:53".parse().unwrap(),
                "[fe80::1%7]:53".parse().unwrap()
            ]
        );
    }
}
