//! `/etc/config/ripng`: what the daemon runs with. The types are the core's; `load` reads and
//! checks the UCI file (every error named as `file:line: ripng.section.option`).

use std::path::PathBuf;
use std::time::Duration;

use crate::prefix::Prefix;

/// The kernel's protocol number `rip` (iproute2's rt_protos): `ip -6 route` shows `proto rip`.
pub const DEFAULT_KERNEL_PROTOCOL: u8 = 189;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
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
