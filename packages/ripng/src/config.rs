//! `/etc/config/ripng`: what the daemon runs with. The types are the core's; `load` reads and
//! checks the UCI file (every error named as `file:line: ripng.section.option`).
//!
//! ```text
//! config ripng 'main'
//!     option enabled '1'
//!     option update_interval '30'
//!
//! config interface
//!     option interface 'lan'        # netifd's logical name, or: option device 'eth1'
//!     option split_horizon 'poison'
//!
//! config redistribute
//!     option source 'connected'
//!     list prefix '2001:db8::/32'
//!
//! config filter
//!     option direction 'in'
//!     option prefix '2001:db8:ff::/48'
//!     option action 'reject'
//! ```
//!
//! Logical interfaces are kept as names: the driver resolves and follows them (netifd may
//! bring them up after the daemon starts), so `check` needs no netifd.

use std::path::{Path, PathBuf};
use std::time::Duration;

use v6only_common::daemon::{Errors, Refused};
use v6only_common::uci::{ConfigError, Package, SectionRef};
use v6only_common::validate::{Cidr6, Datatype, Device};

use crate::prefix::Prefix;

/// The kernel's protocol number `rip` (iproute2's rt_protos): `ip -6 route` shows `proto rip`.
pub const DEFAULT_KERNEL_PROTOCOL: u8 = 189;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `enabled '0'`: the init script does not start the daemon, and `run` returns at once
    /// (`check` then needs no interface).
    pub enabled: bool,
    pub timers: Timers,
    /// Routes learned from neighbours kept at most (a flood beyond is dropped and counted).
    pub max_routes: usize,
    /// Equal-cost next hops kept and installed per prefix; 1 = no ECMP.
    pub max_paths: usize,
    pub kernel: Kernel,
    /// Originate ::/0 (metric 1) on every interface.
    pub default_route: bool,
    pub interfaces: Vec<Interface>,
    pub redistribute: Vec<Redistribute>,
    pub filters: Vec<Filter>,
    pub control_socket: PathBuf,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Periodic update interval (RFC 2080: 30 s), jittered by ±1/6.
    pub update: Duration,
    /// A route not refreshed for this long is unreachable (180 s).
    pub timeout: Duration,
    /// ...and is withdrawn (advertised with metric 16) for this long before it goes (120 s).
    pub garbage: Duration,
    /// Triggered updates are at least `triggered_min` apart, plus up to `triggered_max`.
    pub triggered_min: Duration,
    pub triggered_max: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            update: Duration::from_secs(30),
            timeout: Duration::from_secs(180),
            garbage: Duration::from_secs(120),
            triggered_min: Duration::from_secs(1),
            triggered_max: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// rtm_protocol of our routes: never 0-4 (unspec, redirect, kernel, boot, static).
    pub protocol: u8,
    /// RTA_PRIORITY of our routes.
    pub metric: u32,
    pub table: u32,
    /// Remove our routes on a clean exit (they are flushed at the next start either way).
    pub flush_on_exit: bool,
}

impl Default for Kernel {
    fn default() -> Kernel {
        Kernel {
            protocol: DEFAULT_KERNEL_PROTOCOL,
            metric: 512,
            table: 254,
            flush_on_exit: true,
        }
    }
}

/// An interface given as a kernel device or as a netifd logical interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Device(String),
    Network(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitHorizon {
    /// Routes go back out of the interface they came from.
    None,
    /// Routes are left out of updates on the interface they came from.
    Simple,
    /// ...sent there with metric 16 (RFC 2080 2.5 recommends it).
    #[default]
    Poison,
}

impl SplitHorizon {
    pub const ALL: [SplitHorizon; 3] = [
        SplitHorizon::None,
        SplitHorizon::Simple,
        SplitHorizon::Poison,
    ];

    /// The word of `option split_horizon` (and of status).
    pub fn name(self) -> &'static str {
        match self {
            SplitHorizon::None => "none",
            SplitHorizon::Simple => "simple",
            SplitHorizon::Poison => "poison",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub link: Link,
    /// Added to the metric of routes received here (1-15).
    pub cost: u8,
    pub split_horizon: SplitHorizon,
    /// No RIPng packets sent or received: its prefixes are only advertised elsewhere.
    pub passive: bool,
    /// Accept ::/0 from neighbours here.
    pub accept_default: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The prefixes of the global addresses on up interfaces.
    Connected,
    /// Kernel routes of protocol static or boot (`ip route add`, netifd's `config route`).
    Static,
    /// Other routes in the kernel table not ours (ra, dhcp, ...), not kernel, static or boot.
    Kernel,
    /// ::/0 of `option default_route` (not a `config redistribute` source).
    Default,
}

impl Source {
    /// What `option source` of a `config redistribute` may name.
    pub const REDISTRIBUTED: [Source; 3] = [Source::Connected, Source::Static, Source::Kernel];

    /// The word of `option source` (and of status).
    pub fn name(self) -> &'static str {
        match self {
            Source::Connected => "connected",
            Source::Static => "static",
            Source::Kernel => "kernel",
            Source::Default => "default",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redistribute {
    pub source: Source,
    /// Advertised metric (1-15).
    pub metric: u8,
    pub tag: u16,
    /// Only prefixes inside one of these (empty: all).
    pub prefixes: Vec<Prefix>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Routes learned from neighbours.
    In,
    /// Routes advertised to neighbours.
    Out,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub direction: Direction,
    /// Routes inside this prefix...
    pub prefix: Prefix,
    /// ...with a length in min_length..=max_length (default: prefix length..=128)...
    pub min_length: u8,
    pub max_length: u8,
    /// ...on this interface only (a device or logical name; None: all)...
    pub interface: Option<Link>,
    /// ...are accepted or rejected. The first matching filter decides; no match accepts.
    pub accept: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: true,
            timers: Timers::default(),
            max_routes: 10_000,
            max_paths: 1,
            kernel: Kernel::default(),
            default_route: false,
            interfaces: Vec::new(),
            redistribute: Vec::new(),
            filters: Vec::new(),
            control_socket: PathBuf::from("/var/run/ripng.sock"),
            warnings: Vec::new(),
        }
    }
}

/// The options of `config ripng 'main'` (tests/packages/test_init_options.py compares them
/// with the init script's validation).
pub const MAIN_OPTIONS: [&str; 14] = [
    "enabled",
    "update_interval",
    "timeout",
    "garbage",
    "triggered_min",
    "triggered_max",
    "max_routes",
    "max_paths",
    "kernel_protocol",
    "kernel_metric",
    "kernel_table",
    "flush_on_exit",
    "default_route",
    "control_socket",
];
pub const INTERFACE_OPTIONS: [&str; 7] = [
    "enabled",
    "device",
    "interface",
    "cost",
    "split_horizon",
    "passive",
    "accept_default",
];
pub const REDISTRIBUTE_OPTIONS: [&str; 5] = ["enabled", "source", "metric", "tag", "prefix"];
pub const FILTER_OPTIONS: [&str; 8] = [
    "enabled",
    "direction",
    "prefix",
    "min_length",
    "max_length",
    "device",
    "interface",
    "action",
];

/// The section types of the file; any other is warned about (a typo such as `config iface`
/// would otherwise vanish silently).
const SECTION_TYPES: [&str; 4] = ["ripng", "interface", "redistribute", "filter"];

/// Protocol numbers iproute2 names for other route sources (rt_protos): ours are flushed at
/// every start, so sharing one of these would delete someone else's routes.
const OTHER_PROTOCOLS: [(u8, &str); 10] = [
    (9, "ra"),
    (11, "zebra"),
    (12, "bird"),
    (16, "dhcp"),
    (42, "babel"),
    (99, "openr"),
    (186, "bgp"),
    (187, "isis"),
    (188, "ospf"),
    (192, "eigrp"),
];

/// netifd's logical interface name: a UCI section name (`uciname`: letters, digits, '_').
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogicalName(String);

impl Datatype for LogicalName {
    const EXPECTED: &'static str = "logical interface name (letters, digits, '_')";
    fn parse_value(s: &str) -> Option<LogicalName> {
        let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        ok.then(|| LogicalName(s.to_string()))
    }
}

pub fn load(path: &Path) -> Result<Config, Refused> {
    let package = Package::load(path).map_err(|e| e.to_string())?;
    from_package(&package)
}

pub fn parse(path: &Path, text: &str) -> Result<Config, Refused> {
    let package = Package::parse(path, text).map_err(|e| e.to_string())?;
    from_package(&package)
}

/// Every option of every section read, every error kept (each naming file, line and option).
fn from_package(package: &Package) -> Result<Config, Refused> {
    let mut errors = Errors::default();
    let mut warnings = Vec::new();
    let main = package.main("ripng");
    let mut config = Config::default();
    for sec in &package.sections {
        let s = SectionRef {
            package,
            section: sec,
        };
        let used_main = main.is_some_and(|m| std::ptr::eq(m.section, sec));
        if sec.kind == "ripng" && !used_main {
            warnings.push(format!(
                "{}:{}: second 'config ripng' section {} ignored",
                package.path.display(),
                sec.line,
                s.label()
            ));
        } else if !SECTION_TYPES.contains(&sec.kind.as_str()) {
            warnings.push(format!(
                "{}:{}: unknown section type '{}' ignored",
                package.path.display(),
                sec.line,
                sec.kind
            ));
        }
    }
    if let Some(main) = main {
        warn_unknown(&main, &MAIN_OPTIONS, &mut warnings);
        read_main(&main, &mut config, &mut errors, &mut warnings);
    }
    for s in package.sections("interface") {
        warn_unknown(&s, &INTERFACE_OPTIONS, &mut warnings);
        let enabled = errors.get(&s, "enabled").unwrap_or(true);
        let link = link(&s, true, &mut errors);
        let cost = errors.range(&s, "cost", 1, 15).unwrap_or(1) as u8;
        let split_horizon = choice(
            &s,
            "split_horizon",
            &SplitHorizon::ALL.map(|h| (h.name(), h)),
            false,
            &mut errors,
        )
        .unwrap_or_default();
        let passive = errors.get(&s, "passive").unwrap_or(false);
        let accept_default = errors.get(&s, "accept_default").unwrap_or(false);
        let (Some(link), true) = (link, enabled) else {
            continue;
        };
        if config.interfaces.iter().any(|i| i.link == link) {
            let option = match link {
                Link::Device(_) => "device",
                Link::Network(_) => "interface",
            };
            errors.push(s.error(option, "an interface no other interface section names"));
            continue;
        }
        config.interfaces.push(Interface {
            link,
            cost,
            split_horizon,
            passive,
            accept_default,
        });
    }
    for s in package.sections("redistribute") {
        warn_unknown(&s, &REDISTRIBUTE_OPTIONS, &mut warnings);
        let enabled = errors.get(&s, "enabled").unwrap_or(true);
        let sources = Source::REDISTRIBUTED.map(|source| (source.name(), source));
        let source = choice(&s, "source", &sources, true, &mut errors);
        let metric = errors.range(&s, "metric", 1, 15).unwrap_or(1) as u8;
        let tag = errors.range(&s, "tag", 0, 65535).unwrap_or(0) as u16;
        let prefixes = prefix_list(&s, &mut errors);
        let (Some(source), true) = (source, enabled) else {
            continue;
        };
        config.redistribute.push(Redistribute {
            source,
            metric,
            tag,
            prefixes,
        });
    }
    for s in package.sections("filter") {
        warn_unknown(&s, &FILTER_OPTIONS, &mut warnings);
        let enabled = errors.get(&s, "enabled").unwrap_or(true);
        let directions = [("in", Direction::In), ("out", Direction::Out)];
        let direction = choice(&s, "direction", &directions, true, &mut errors);
        let prefix = match s.entry("prefix") {
            None => {
                errors.push(s.error("prefix", PREFIX_EXPECTED));
                None
            }
            Some(_) => prefix(&s, &mut errors),
        };
        let min = errors.range(&s, "min_length", 0, 128).map(|v| v as u8);
        let max = errors.range(&s, "max_length", 0, 128).map(|v| v as u8);
        let interface = link(&s, false, &mut errors);
        let accept = choice(
            &s,
            "action",
            &[("accept", true), ("reject", false)],
            true,
            &mut errors,
        );
        let Some(prefix) = prefix else { continue };
        let min_length = min.unwrap_or(prefix.prefix_len());
        let max_length = max.unwrap_or(128);
        if min_length < prefix.prefix_len() {
            let expected = format!(
                "a length from the prefix's ({}) to 128",
                prefix.prefix_len()
            );
            errors.push(s.error("min_length", expected));
            continue;
        }
        if max_length < min_length {
            let (option, expected) = match max {
                Some(_) => (
                    "max_length",
                    format!("a length from min_length ({min_length}) to 128"),
                ),
                None => ("min_length", "a length up to max_length (128)".to_string()),
            };
            errors.push(s.error(option, expected));
            continue;
        }
        let (Some(direction), Some(accept), true) = (direction, accept, enabled) else {
            continue;
        };
        config.filters.push(Filter {
            direction,
            prefix,
            min_length,
            max_length,
            interface,
            accept,
        });
    }
    // Nothing to route on (an interface section with errors has its own); a disabled daemon
    // may be left without interfaces.
    let enabled_sections = package
        .sections("interface")
        .filter(|s| s.get::<bool>("enabled").ok().flatten() != Some(false))
        .count();
    if config.enabled && enabled_sections == 0 {
        let line = package
            .sections("interface")
            .next()
            .or(main)
            .map_or(1, |s| s.section.line);
        errors.push(ConfigError {
            path: package.path.clone(),
            line,
            option: format!("{}.@interface", package.name),
            value: None,
            expected:
                "at least one enabled 'config interface' section with option device or interface"
                    .into(),
        });
    } else if config.enabled
        && !config.interfaces.is_empty()
        && config.interfaces.iter().all(|i| i.passive)
    {
        warnings.push(format!(
            "{}: every interface is passive: no RIPng packet is sent or received",
            package.path.display()
        ));
    }
    // In file order, as the errors; those about no line (relations) last.
    warnings.sort_by_key(|w| warning_line(w, &package.path));
    config.warnings = errors.finish(warnings)?;
    Ok(config)
}

fn read_main(
    main: &SectionRef<'_>,
    config: &mut Config,
    errors: &mut Errors,
    warnings: &mut Vec<String>,
) {
    config.enabled = errors.get(main, "enabled").unwrap_or(true);
    let secs = |errors: &mut Errors, option: &str, max: u64, default: Duration| {
        errors
            .range(main, option, 1, max)
            .map_or(default, Duration::from_secs)
    };
    let d = Timers::default();
    let t = Timers {
        update: secs(errors, "update_interval", 3600, d.update),
        timeout: secs(errors, "timeout", 86400, d.timeout),
        garbage: secs(errors, "garbage", 86400, d.garbage),
        triggered_min: secs(errors, "triggered_min", 60, d.triggered_min),
        triggered_max: secs(errors, "triggered_max", 60, d.triggered_max),
    };
    // Updates come every update_interval ±1/6: a shorter timeout loses routes between two.
    if t.timeout < 2 * t.update {
        let expected = format!(
            "a timeout of at least twice update_interval ({} s)",
            2 * t.update.as_secs()
        );
        errors.push(main.error("timeout", expected));
    }
    if t.triggered_max < t.triggered_min {
        let expected = format!(
            "a maximum of at least triggered_min ({} s)",
            t.triggered_min.as_secs()
        );
        errors.push(main.error("triggered_max", expected));
    }
    config.timers = t;
    config.max_routes = errors
        .range(main, "max_routes", 1, 1_000_000)
        .unwrap_or(10_000) as usize;
    config.max_paths = errors.range(main, "max_paths", 1, 16).unwrap_or(1) as usize;
    let k = &mut config.kernel;
    // 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
    if let Some(p) = errors.range(main, "kernel_protocol", 5, 255) {
        k.protocol = p as u8;
        if let Some((_, name)) = OTHER_PROTOCOLS.iter().find(|(n, _)| *n == k.protocol) {
            warnings.push(format!(
                "{}.kernel_protocol {p} is '{name}' in iproute2's rt_protos: routes of that protocol are flushed at every start",
                main.label()
            ));
        }
    }
    if let Some(m) = errors.range(main, "kernel_metric", 1, u64::from(u32::MAX)) {
        k.metric = m as u32;
    }
    // 255 is the local table (the kernel's, of the host's own addresses); 0 is no table.
    match errors.range(main, "kernel_table", 1, u64::from(u32::MAX)) {
        Some(255) => errors.push(main.error(
            "kernel_table",
            "a routing table other than local (255), e.g. main (254)",
        )),
        Some(t) => k.table = t as u32,
        None => {}
    }
    k.flush_on_exit = errors.get(main, "flush_on_exit").unwrap_or(true);
    config.default_route = errors.get(main, "default_route").unwrap_or(false);
    config.control_socket = errors
        .get::<String>(main, "control_socket")
        .map_or_else(|| v6only_common::control::default_path("ripng"), Into::into);
}

fn warning_line(warning: &str, path: &Path) -> usize {
    let prefix = format!("{}:", path.display());
    warning
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// The value of `option`, one of the words of `choices`. Another word is an error naming
/// them all ("one of in, out"), and so is none when `required`.
fn choice<T: Copy>(
    s: &SectionRef<'_>,
    option: &str,
    choices: &[(&str, T)],
    required: bool,
    errors: &mut Errors,
) -> Option<T> {
    let word = errors.get::<String>(s, option);
    let found = choices
        .iter()
        .find(|(name, _)| Some(*name) == word.as_deref())
        .map(|(_, value)| *value);
    if found.is_none() && (required || word.is_some()) {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        errors.push(s.error(option, format!("one of {}", names.join(", "))));
    }
    found
}

fn warn_unknown(s: &SectionRef<'_>, known: &[&str], warnings: &mut Vec<String>) {
    for entry in s.unknown_options(known) {
        warnings.push(format!(
            "{}:{}: unknown option '{}.{}' ignored",
            s.package.path.display(),
            entry.line,
            s.label(),
            entry.name
        ));
    }
}

/// `option device` or `option interface`: exactly one when `required` (config interface), at
/// most one otherwise (config filter, where none means every interface).
fn link(s: &SectionRef<'_>, required: bool, errors: &mut Errors) -> Option<Link> {
    let device = errors.get::<Device>(s, "device");
    let network = errors.get::<LogicalName>(s, "interface");
    let (has_device, has_network) = (s.entry("device").is_some(), s.entry("interface").is_some());
    if has_device && has_network {
        errors.push(s.error(
            "interface",
            "a logical interface in a section without option device (one or the other)",
        ));
        return None;
    }
    if required && !has_device && !has_network {
        errors.push(s.error(
            "device",
            "a device, or a logical interface in option interface",
        ));
    }
    device
        .map(|d| Link::Device(d.0))
        .or(network.map(|n| Link::Network(n.0)))
}

const PREFIX_EXPECTED: &str = "an IPv6 prefix (address/length, no bits set after the length)";

/// A prefix as written: host bits set are a typo to point out, not to clear silently.
fn prefix_value(raw: &str) -> Option<Prefix> {
    let c = Cidr6::parse_value(raw)?;
    Prefix::new(c.addr, c.len).filter(|p| p.addr() == c.addr)
}

fn prefix(s: &SectionRef<'_>, errors: &mut Errors) -> Option<Prefix> {
    let raw = s.raw("prefix")?;
    let p = prefix_value(&raw);
    if p.is_none() {
        errors.push(s.error("prefix", PREFIX_EXPECTED));
    }
    p
}

/// `list prefix`: every item checked, each bad one named.
fn prefix_list(s: &SectionRef<'_>, errors: &mut Errors) -> Vec<Prefix> {
    let words: Vec<String> = errors.list(s, "prefix");
    let mut out = Vec::new();
    for w in words {
        match prefix_value(&w) {
            Some(p) => out.push(p),
            None => {
                let mut e = s.error("prefix", PREFIX_EXPECTED);
                e.value = Some(w);
                errors.push(e);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/config/ripng";
    const IFACE: &str = "config interface\n\toption device 'eth1'\n";

    fn load_text(text: &str) -> Result<Config, Refused> {
        parse(Path::new(FILE), text)
    }
    /// The one error of a refused config.
    fn error(text: &str) -> String {
        let r = load_text(text).expect_err("should be refused");
        assert_eq!(r.errors.len(), 1, "{r}");
        r.errors[0].clone()
    }
    fn p(s: &str) -> Prefix {
        prefix_value(s).unwrap()
    }

    #[test]
    fn smallest_config_and_defaults() {
        let c = load_text(
            "config ripng 'main'\n\toption enabled '1'\nconfig interface\n\toption device 'eth1'\n\
             config redistribute\n\toption source 'connected'\n",
        )
        .unwrap();
        let expect = Config {
            interfaces: vec![Interface {
                link: Link::Device("eth1".into()),
                cost: 1,
                split_horizon: SplitHorizon::Poison,
                passive: false,
                accept_default: false,
            }],
            redistribute: vec![Redistribute {
                source: Source::Connected,
                metric: 1,
                tag: 0,
                prefixes: Vec::new(),
            }],
            ..Config::default()
        };
        assert_eq!(c, expect);
        assert_eq!(c.timers.update, Duration::from_secs(30));
        assert_eq!(c.kernel.protocol, 189);
        assert_eq!(c.control_socket, Path::new("/var/run/ripng.sock"));
        // No main section: the defaults, enabled.
        let c = load_text(IFACE).unwrap();
        assert!(c.enabled);
        assert_eq!(c.timers, Timers::default());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn every_option() {
        let c = load_text(
            "config ripng 'main'\n\
             \toption enabled 'yes'\n\
             \toption update_interval '10'\n\
             \toption timeout '60'\n\
             \toption garbage '40'\n\
             \toption triggered_min '2'\n\
             \toption triggered_max '2'\n\
             \toption max_routes '500'\n\
             \toption max_paths '4'\n\
             \toption kernel_protocol '200'\n\
             \toption kernel_metric '4294967295'\n\
             \toption kernel_table '100'\n\
             \toption flush_on_exit '0'\n\
             \toption default_route '1'\n\
             \toption control_socket '/tmp/r.sock'\n\
             config interface 'mesh'\n\
             \toption interface 'mesh_0'\n\
             \toption cost '15'\n\
             \toption split_horizon 'simple'\n\
             \toption passive '1'\n\
             \toption accept_default '1'\n\
             config interface\n\
             \toption device 'br-lan.5'\n\
             \toption split_horizon 'none'\n\
             config interface\n\
             \toption enabled '0'\n\
             \toption device 'eth9'\n\
             config redistribute\n\
             \toption source 'static'\n\
             \toption metric '3'\n\
             \toption tag '65535'\n\
             \tlist prefix '2001:db8::/32'\n\
             \tlist prefix 'fd00::/8 2001:db8:1::1'\n\
             config redistribute\n\
             \toption source 'kernel'\n\
             config redistribute\n\
             \toption enabled '0'\n\
             \toption source 'connected'\n\
             config filter\n\
             \toption direction 'out'\n\
             \toption prefix '2001:db8::/32'\n\
             \toption min_length '48'\n\
             \toption max_length '64'\n\
             \toption interface 'wan6'\n\
             \toption action 'reject'\n\
             config filter\n\
             \toption direction 'in'\n\
             \toption prefix '::/0'\n\
             \toption device 'eth1'\n\
             \toption action 'accept'\n",
        )
        .unwrap();
        assert!(c.enabled);
        assert_eq!(
            c.timers,
            Timers {
                update: Duration::from_secs(10),
                timeout: Duration::from_secs(60),
                garbage: Duration::from_secs(40),
                triggered_min: Duration::from_secs(2),
                triggered_max: Duration::from_secs(2),
            }
        );
        assert_eq!((c.max_routes, c.max_paths), (500, 4));
        assert_eq!(
            c.kernel,
            Kernel {
                protocol: 200,
                metric: u32::MAX,
                table: 100,
                flush_on_exit: false
            }
        );
        assert!(c.default_route);
        assert_eq!(c.control_socket, Path::new("/tmp/r.sock"));
        assert_eq!(
            c.interfaces,
            [
                Interface {
                    link: Link::Network("mesh_0".into()),
                    cost: 15,
                    split_horizon: SplitHorizon::Simple,
                    passive: true,
                    accept_default: true,
                },
                Interface {
                    link: Link::Device("br-lan.5".into()),
                    cost: 1,
                    split_horizon: SplitHorizon::None,
                    passive: false,
                    accept_default: false,
                }
            ]
        );
        assert_eq!(
            c.redistribute,
            [
                Redistribute {
                    source: Source::Static,
                    metric: 3,
                    tag: 65535,
                    prefixes: vec![p("2001:db8::/32"), p("fd00::/8"), p("2001:db8:1::1/128")],
                },
                Redistribute {
                    source: Source::Kernel,
                    metric: 1,
                    tag: 0,
                    prefixes: Vec::new(),
                }
            ]
        );
        assert_eq!(
            c.filters,
            [
                Filter {
                    direction: Direction::Out,
                    prefix: p("2001:db8::/32"),
                    min_length: 48,
                    max_length: 64,
                    interface: Some(Link::Network("wan6".into())),
                    accept: false,
                },
                Filter {
                    direction: Direction::In,
                    prefix: Prefix::DEFAULT,
                    min_length: 0,
                    max_length: 128,
                    interface: Some(Link::Device("eth1".into())),
                    accept: true,
                }
            ]
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn filter_lengths_default_to_the_prefix_and_128() {
        let c = load_text(&format!(
            "{IFACE}config filter\n\toption direction 'in'\n\toption prefix '2001:db8::/48'\n\toption action 'reject'\n"
        ))
        .unwrap();
        let f = &c.filters[0];
        assert_eq!((f.min_length, f.max_length, &f.interface), (48, 128, &None));
        // A bare address is a /128.
        let c = load_text(&format!(
            "{IFACE}config filter\n\toption direction 'in'\n\toption prefix '2001:db8::1'\n\toption action 'reject'\n"
        ))
        .unwrap();
        assert_eq!(
            (c.filters[0].prefix.prefix_len(), c.filters[0].min_length),
            (128, 128)
        );
    }

    #[test]
    fn errors_name_the_option() {
        let main = |opts: &str| format!("config ripng 'main'\n{opts}{IFACE}");
        let filter = |opts: &str| {
            format!(
                "{IFACE}config filter\n\toption direction 'in'\n\toption action 'accept'\n{opts}"
            )
        };
        let cases: Vec<(String, &str)> = vec![
            (main("\toption enabled 'maybe'\n"), "ripng.main.enabled: 'maybe' is not a valid boolean"),
            (main("\toption update_interval '0'\n"), "ripng.main.update_interval: '0' is not a valid integer (1-3600)"),
            (main("\toption update_interval '3601'\n"), "ripng.main.update_interval: '3601'"),
            (main("\toption timeout 'x'\n"), "ripng.main.timeout: 'x' is not a valid integer (1-86400)"),
            (main("\toption update_interval '30'\n\toption timeout '59'\n"), "ripng.main.timeout: '59' is not a timeout of at least twice update_interval (60 s)"),
            (main("\toption timeout '20'\n"), "ripng.main.timeout: '20' is not a timeout of at least twice update_interval (60 s)"),
            (main("\toption garbage '0'\n"), "ripng.main.garbage: '0'"),
            (main("\toption triggered_min '0'\n"), "ripng.main.triggered_min: '0' is not a valid integer (1-60)"),
            (main("\toption triggered_max '61'\n"), "ripng.main.triggered_max: '61'"),
            (main("\toption triggered_min '6'\n"), "ripng.main.triggered_max: missing (required: a maximum of at least triggered_min (6 s))"),
            (main("\toption triggered_min '3'\n\toption triggered_max '2'\n"), "ripng.main.triggered_max: '2' is not a maximum of at least triggered_min (3 s)"),
            (main("\toption max_routes '0'\n"), "ripng.main.max_routes: '0' is not a valid integer (1-1000000)"),
            (main("\toption max_routes '1000001'\n"), "ripng.main.max_routes"),
            (main("\toption max_paths '17'\n"), "ripng.main.max_paths: '17' is not a valid integer (1-16)"),
            (main("\toption kernel_protocol '4'\n"), "ripng.main.kernel_protocol: '4' is not a valid integer (5-255)"),
            (main("\toption kernel_protocol '256'\n"), "ripng.main.kernel_protocol"),
            (main("\toption kernel_metric '0'\n"), "ripng.main.kernel_metric: '0' is not a valid integer (1-4294967295)"),
            (main("\toption kernel_metric '4294967296'\n"), "ripng.main.kernel_metric"),
            (main("\toption kernel_table '0'\n"), "ripng.main.kernel_table: '0' is not a valid integer (1-4294967295)"),
            (main("\toption kernel_table '255'\n"), "ripng.main.kernel_table: '255' is not a routing table other than local (255)"),
            (main("\toption kernel_table 'main'\n"), "ripng.main.kernel_table: 'main'"),
            (main("\toption flush_on_exit '2'\n"), "ripng.main.flush_on_exit"),
            (main("\toption default_route 'x'\n"), "ripng.main.default_route"),
            ("config interface\n".into(), "ripng.@interface[0].device: missing (required: a device, or a logical interface in option interface)"),
            ("config interface 'x'\n\toption device 'eth1'\n\toption interface 'lan'\n".into(), "ripng.x.interface: 'lan' is not a logical interface in a section without option device"),
            ("config interface\n\toption device 'a/b'\n".into(), "ripng.@interface[0].device: 'a/b' is not a valid network device name"),
            ("config interface\n\toption device 'abcdefghijklmnop'\n".into(), "ripng.@interface[0].device"),
            ("config interface\n\toption interface 'l-an'\n".into(), "ripng.@interface[0].interface: 'l-an' is not a valid logical interface name"),
            (format!("{IFACE}\toption cost '0'\n"), "ripng.@interface[0].cost: '0' is not a valid integer (1-15)"),
            (format!("{IFACE}\toption cost '16'\n"), "ripng.@interface[0].cost"),
            (format!("{IFACE}\toption split_horizon 'yes'\n"), "ripng.@interface[0].split_horizon: 'yes' is not one of none, simple, poison"),
            (format!("{IFACE}\toption passive '2'\n"), "ripng.@interface[0].passive"),
            (format!("{IFACE}\toption accept_default 'x'\n"), "ripng.@interface[0].accept_default"),
            (format!("{IFACE}\toption enabled 'x'\n"), "ripng.@interface[0].enabled"),
            (format!("{IFACE}{IFACE}"), "/etc/config/ripng:4: ripng.@interface[1].device: 'eth1' is not an interface no other interface section names"),
            ("config interface\n\toption interface 'lan'\nconfig interface\n\toption interface 'lan'\n".into(), "ripng.@interface[1].interface: 'lan' is not an interface no other"),
            (format!("{IFACE}config redistribute\n"), "ripng.@redistribute[0].source: missing (required: one of connected, static, kernel)"),
            (format!("{IFACE}config redistribute\n\toption source 'bgp'\n"), "ripng.@redistribute[0].source: 'bgp' is not one of connected, static, kernel"),
            (format!("{IFACE}config redistribute\n\toption source 'static'\n\toption metric '16'\n"), "ripng.@redistribute[0].metric: '16' is not a valid integer (1-15)"),
            (format!("{IFACE}config redistribute\n\toption source 'static'\n\toption metric '0'\n"), "ripng.@redistribute[0].metric"),
            (format!("{IFACE}config redistribute\n\toption source 'static'\n\toption tag '65536'\n"), "ripng.@redistribute[0].tag: '65536' is not a valid integer (0-65535)"),
            (format!("{IFACE}config redistribute\n\toption source 'static'\n\tlist prefix '2001:db8::/32'\n\tlist prefix '2001:db8::/129'\n"), "ripng.@redistribute[0].prefix: '2001:db8::/129' is not an IPv6 prefix"),
            (format!("{IFACE}config redistribute\n\toption source 'static'\n\tlist prefix '2001:db8::1/64'\n"), "ripng.@redistribute[0].prefix: '2001:db8::1/64' is not an IPv6 prefix (address/length, no bits set after the length)"),
            (format!("{IFACE}config redistribute\n\toption source 'static'\n\toption enabled 'x'\n"), "ripng.@redistribute[0].enabled"),
            (filter(""), "ripng.@filter[0].prefix: missing (required: an IPv6 prefix"),
            (filter("\toption prefix 'fe80::1/10'\n"), "ripng.@filter[0].prefix: 'fe80::1/10' is not an IPv6 prefix"),
            (filter("\toption prefix 'x'\n"), "ripng.@filter[0].prefix: 'x' is not an IPv6 prefix"),
            (format!("{IFACE}config filter\n\toption prefix '::/0'\n\toption action 'accept'\n"), "ripng.@filter[0].direction: missing (required: one of in, out)"),
            (format!("{IFACE}config filter\n\toption prefix '::/0'\n\toption direction 'both'\n\toption action 'accept'\n"), "ripng.@filter[0].direction: 'both' is not one of in, out"),
            (format!("{IFACE}config filter\n\toption prefix '::/0'\n\toption direction 'in'\n"), "ripng.@filter[0].action: missing (required: one of accept, reject)"),
            (format!("{IFACE}config filter\n\toption prefix '::/0'\n\toption direction 'in'\n\toption action 'deny'\n"), "ripng.@filter[0].action: 'deny' is not one of accept, reject"),
            (filter("\toption prefix '2001:db8::/32'\n\toption min_length '31'\n"), "ripng.@filter[0].min_length: '31' is not a length from the prefix's (32) to 128"),
            (filter("\toption prefix '2001:db8::/32'\n\toption min_length '129'\n"), "ripng.@filter[0].min_length: '129' is not a valid integer (0-128)"),
            (filter("\toption prefix '2001:db8::/32'\n\toption min_length '48'\n\toption max_length '47'\n"), "ripng.@filter[0].max_length: '47' is not a length from min_length (48) to 128"),
            (filter("\toption prefix '2001:db8::/32'\n\toption max_length '31'\n"), "ripng.@filter[0].max_length: '31' is not a length from min_length (32) to 128"),
            (filter("\toption prefix '::/0'\n\toption device 'eth1'\n\toption interface 'lan'\n"), "ripng.@filter[0].interface: 'lan' is not a logical interface in a section without option device"),
            (filter("\toption prefix '::/0'\n\toption interface 'a.b'\n"), "ripng.@filter[0].interface: 'a.b' is not a valid logical interface name"),
            (filter("\toption prefix '::/0'\n\toption enabled 'x'\n"), "ripng.@filter[0].enabled"),
        ];
        for (text, needle) in cases {
            let e = error(&text);
            assert!(e.contains(needle), "{text:?}:\n{e}\n{needle}");
            assert!(e.starts_with("/etc/config/ripng:"), "{e}");
        }
    }

    #[test]
    fn no_interface_is_an_error_naming_the_section_type() {
        let e = error("config ripng 'main'\n\toption enabled '1'\n");
        assert_eq!(
            e,
            "/etc/config/ripng:1: ripng.@interface: missing (required: at least one enabled \
             'config interface' section with option device or interface)"
        );
        let e = error("\nconfig ripng 'main'\nconfig interface\n\toption enabled '0'\n\toption device 'eth1'\n");
        assert!(
            e.starts_with("/etc/config/ripng:3: ripng.@interface: missing"),
            "{e}"
        );
        assert!(error("").starts_with("/etc/config/ripng:1: ripng.@interface: missing"));
        // Disabled: nothing runs, so nothing is missing (the options are still checked).
        let c = load_text("config ripng 'main'\n\toption enabled '0'\n").unwrap();
        assert!(!c.enabled && c.interfaces.is_empty());
        assert!(
            load_text("config ripng 'main'\n\toption enabled '0'\n\toption max_paths '0'\n")
                .is_err()
        );
    }

    #[test]
    fn every_error_is_reported_in_file_order() {
        let r = load_text(
            "config ripng 'main'\n\
             \toption timeout '10'\n\
             \toption colour 'blue'\n\
             \toption max_paths '0'\n\
             config interface\n\
             \toption cost '0'\n\
             config redistribute\n\
             \toption source 'ospf'\n\
             config filter\n\
             \toption prefix '2001:db8::1/32'\n\
             config ifase\n",
        )
        .unwrap_err();
        let expect = [
            "/etc/config/ripng:2: ripng.main.timeout: '10' is not a timeout",
            "/etc/config/ripng:4: ripng.main.max_paths: '0'",
            "/etc/config/ripng:5: ripng.@interface[0].device: missing",
            "/etc/config/ripng:6: ripng.@interface[0].cost: '0'",
            "/etc/config/ripng:8: ripng.@redistribute[0].source: 'ospf'",
            "/etc/config/ripng:9: ripng.@filter[0].direction: missing",
            "/etc/config/ripng:9: ripng.@filter[0].action: missing",
            "/etc/config/ripng:10: ripng.@filter[0].prefix: '2001:db8::1/32'",
        ];
        assert_eq!(r.errors.len(), expect.len(), "{r}");
        for (e, x) in r.errors.iter().zip(expect) {
            assert!(e.starts_with(x), "{e}\n{x}");
        }
        assert_eq!(
            r.warnings,
            [
                "/etc/config/ripng:3: unknown option 'ripng.main.colour' ignored",
                "/etc/config/ripng:11: unknown section type 'ifase' ignored",
            ]
        );
    }

    #[test]
    fn warnings() {
        let c = load_text(&format!(
            "config ripng 'main'\n\toption colour 'x'\n\toption kernel_protocol '12'\n{IFACE}\
             \toption passive '1'\n\toption costs '2'\nconfig ripng 'other'\nconfig redistribute\n\
             \toption source 'kernel'\n\toption metrc '2'\nconfig filter\n\toption direction 'in'\n\
             \toption prefix '::/0'\n\toption action 'accept'\n\toption dir 'x'\n"
        ))
        .unwrap();
        assert_eq!(
            c.warnings,
            [
                "/etc/config/ripng:2: unknown option 'ripng.main.colour' ignored",
                "/etc/config/ripng:7: unknown option 'ripng.@interface[0].costs' ignored",
                "/etc/config/ripng:8: second 'config ripng' section ripng.other ignored",
                "/etc/config/ripng:11: unknown option 'ripng.@redistribute[0].metrc' ignored",
                "/etc/config/ripng:16: unknown option 'ripng.@filter[0].dir' ignored",
                "ripng.main.kernel_protocol 12 is 'bird' in iproute2's rt_protos: routes of that \
                 protocol are flushed at every start",
                "/etc/config/ripng: every interface is passive: no RIPng packet is sent or received",
            ]
        );
        assert_eq!(c.kernel.protocol, 12);
    }

    #[test]
    fn the_main_section_is_found_by_name_or_type() {
        let c = load_text(&format!("config ripng\n\toption max_paths '3'\n{IFACE}")).unwrap();
        assert_eq!(c.max_paths, 3);
        // 'main' of another type is not ours.
        let c = load_text(
            "config interface 'main'\n\toption device 'eth2'\nconfig ripng 'r'\n\toption max_paths '2'\n",
        )
        .unwrap();
        assert_eq!(c.max_paths, 2);
        assert_eq!(c.interfaces[0].link, Link::Device("eth2".into()));
    }

    #[test]
    fn files_that_cannot_be_read_or_parsed() {
        let r = load(Path::new("/nonexistent/ripng")).unwrap_err();
        assert!(r.errors[0].starts_with("/nonexistent/ripng: "), "{r}");
        let r = load_text("config ripng 'main'\n\toption enabled '1\n").unwrap_err();
        assert!(
            r.errors[0].starts_with("/etc/config/ripng:2: unterminated"),
            "{r}"
        );
    }

    #[test]
    fn option_lists_match_what_is_read() {
        // Every option named in a const is accepted without a warning.
        let section = |kind: &str, opts: &[&str]| {
            let mut t = format!("config {kind}\n");
            for o in opts {
                t += &format!("\toption {o} 'a/b'\n");
            }
            t
        };
        let text = [
            section("ripng", &MAIN_OPTIONS),
            section("interface", &INTERFACE_OPTIONS),
            section("redistribute", &REDISTRIBUTE_OPTIONS),
            section("filter", &FILTER_OPTIONS),
        ]
        .concat();
        let r = load_text(&text).unwrap_err();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        // ...and each is read: a bad value is an error naming it (control_socket takes any).
        for (kind, opts) in [
            ("ripng", &MAIN_OPTIONS[..]),
            ("interface", &INTERFACE_OPTIONS[..]),
            ("redistribute", &REDISTRIBUTE_OPTIONS[..]),
            ("filter", &FILTER_OPTIONS[..]),
        ] {
            let label = if kind == "ripng" {
                "ripng.@ripng[0]".to_string()
            } else {
                format!("ripng.@{kind}[0]")
            };
            for o in opts.iter().filter(|o| **o != "control_socket") {
                let needle = format!("{label}.{o}: ");
                assert!(
                    r.errors.iter().any(|e| e.contains(&needle)),
                    "{needle} not in\n{r}"
                );
            }
        }
    }
}
