//! The RIPng protocol and its route table, sans IO (RFC 2080): packets, interface changes,
//! the local routes to advertise and the time go in; packets to send ([`Router::poll_transmit`]),
//! kernel route changes ([`Router::poll_kernel`]) and the next deadline
//! ([`Router::poll_timeout`]) come out. The driver owns the socket, rtnetlink and the clock.
//!
//! RFC 2080 decisions, by section:
//! - §2.4.1 Requests: a whole-table request from port 521 is answered with split horizon as an
//!   update would be; from another port (a diagnostic query) without it; specific requests get
//!   each entry's metric (16 when unknown), also unicast to the asker.
//! - §2.4.2 Responses: accepted only from port 521 and a link-local source, with hop limit 255
//!   when sent to the group (an answer unicast to our Request may come with the sender's
//!   default: FRR's does), on an active RIPng interface, not from ourselves. Each RTE: prefix
//!   length ≤ 128, metric 1-16, not multicast, link-local or loopback, ::/0 only where
//!   `accept_default`; then the input filters. metric += interface cost (≤ 16). A next-hop RTE
//!   applies to the RTEs after it; one that is not link-local, or is ours, means the sender
//!   (§2.1.1).
//! - Route choice: a better metric wins; the same router's word always updates its route;
//!   an equal metric from another router adds a path (ECMP, up to `max_paths`), or with one
//!   path replaces a route halfway to its timeout. Local routes (connected, static, kernel,
//!   the originated default) win over learned ones for the same prefix.
//! - §2.3 Timers: routes time out after `timeout`, are then advertised with metric 16 for
//!   `garbage`, then go. Periodic updates every `update` ±1/6 (jitter against
//!   synchronisation); triggered updates carry only what changed, at most one per random
//!   `triggered_min`..`triggered_max`; one due just before the periodic update sends that
//!   one early instead.
//! - §2.5 Split horizon per interface: none, simple, or poisoned reverse (the default).
//!
//! Allocation: receiving a packet allocates only for a route or neighbour never seen before
//! (table growth, bounded by `max_routes`); sending writes into the caller's buffer.

use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use v6only_common::json::Json;
use v6only_common::ratelimit::RateLimit;

use crate::config::{Config, Direction, Filter, Link, Source, SplitHorizon, Timers};
use crate::prefix::Prefix;
use crate::table::{Cursor, Table};
use crate::wire::{self, Command, Packet, Rte, Writer, INFINITY};

/// An interface the driver found for a `config interface` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub ifindex: u32,
    /// The kernel device name.
    pub name: String,
    pub mtu: u32,
    /// Up and running, with a link-local address: packets can go out.
    pub up: bool,
    /// Our link-local addresses on it (packets from them are our own).
    pub link_local: Vec<Ipv6Addr>,
    pub cost: u8,
    pub split_horizon: SplitHorizon,
    pub passive: bool,
    pub accept_default: bool,
}

impl Interface {
    fn active(&self) -> bool {
        self.up && !self.passive
    }
}

/// A route of this router's own to advertise (a connected prefix, a static or kernel route,
/// the originated default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRoute {
    pub prefix: Prefix,
    pub source: Source,
    pub metric: u8,
    pub tag: u16,
    /// The device it is on or through, for status.
    pub device: Option<String>,
    /// A gateway on a link (ifindex): advertised as the next hop on that link (§2.1.1).
    pub gateway: Option<(Ipv6Addr, u32)>,
}

/// One way to a learned prefix: the neighbour that told us, and the next hop it gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Path {
    from: Ipv6Addr,
    ifindex: u32,
    next_hop: Ipv6Addr,
    expires: Instant,
}

/// A learned route's paths, never none. Almost always one: kept in the route itself, so
/// that an update cycle over 10,000 routes does not chase 10,000 pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Paths {
    One(Path),
    Many(Vec<Path>),
}

impl Paths {
    fn push(&mut self, path: Path) {
        match self {
            Paths::One(first) => *self = Paths::Many(vec![*first, path]),
            Paths::Many(v) => v.push(path),
        }
    }

    /// Removes path `i`; the last one is never removed (the route is withdrawn instead).
    fn remove(&mut self, i: usize) {
        if let Paths::Many(v) = self {
            v.remove(i);
            if let [only] = v[..] {
                *self = Paths::One(only);
            }
        }
    }

    fn from_vec(mut v: Vec<Path>) -> Paths {
        match v.len() {
            1 => Paths::One(v[0]),
            _ => {
                v.shrink_to_fit();
                Paths::Many(v)
            }
        }
    }
}

impl std::ops::Deref for Paths {
    type Target = [Path];
    #[inline(always)]
    fn deref(&self) -> &[Path] {
        match self {
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Paths {
    fn deref_mut(&mut self) -> &mut [Path] {
        match self {
            Paths::One(p) => std::slice::from_mut(p),
            Paths::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// Boxed: rare, and large beside a learned route's paths.
    Local(Box<LocalRoute>),
    /// Paths all of the route's metric.
    Rip(Paths),
}

#[derive(Debug, Clone)]
struct Route {
    origin: Origin,
    metric: u8,
    tag: u16,
    /// Withdrawn (metric 16): advertised as such until then, and removed.
    garbage_until: Option<Instant>,
    /// The change counter when it last changed: what a triggered update sends.
    changed: u64,
    /// When it was learned or last changed metric, for status.
    since: Instant,
    /// Our route for it is in the kernel.
    installed: bool,
}

impl Route {
    /// A route just learned or made ours: reachable, not yet in the kernel.
    fn new(origin: Origin, metric: u8, tag: u16, changed: u64, now: Instant) -> Route {
        Route {
            origin,
            metric,
            tag,
            garbage_until: None,
            changed,
            since: now,
            installed: false,
        }
    }

    fn reachable(&self) -> bool {
        self.metric < INFINITY
    }
}

/// What the driver must do to the kernel's table for a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelOp {
    /// Install our route (`replace`: over our own one already there): next hops
    /// (link-local gateway, ifindex).
    Install {
        prefix: Prefix,
        nexthops: Vec<(Ipv6Addr, u32)>,
        replace: bool,
    },
    Remove {
        prefix: Prefix,
    },
}

/// How a datagram came: the interface, the sender, and the hop limit it arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub ifindex: u32,
    pub src: Ipv6Addr,
    pub src_port: u16,
    pub hop_limit: u8,
    /// Sent to ff02::9 (not unicast to us).
    pub to_group: bool,
}

/// A packet to send, written in the buffer given to [`Router::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub ifindex: u32,
    pub dst: Ipv6Addr,
    pub port: u16,
    pub len: usize,
}

/// Counters for status: every packet or RTE refused, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets_in: u64,
    pub packets_out: u64,
    pub requests_in: u64,
    pub responses_in: u64,
    pub triggered_updates: u64,
    /// Not a RIPng packet: truncated, bad version or command.
    pub bad_packet: u64,
    pub bad_source_port: u64,
    pub bad_source_address: u64,
    pub bad_hop_limit: u64,
    /// On an interface that is not RIPng's, or passive, or down.
    pub bad_interface: u64,
    /// From one of our own addresses (multicast loop).
    pub own_packets: u64,
    pub bad_prefix: u64,
    pub bad_metric: u64,
    /// RTEs refused by an input filter or ::/0 not accepted.
    pub filtered: u64,
    /// New routes refused: `max_routes` reached.
    pub route_limit: u64,
}

#[derive(Debug, Clone)]
struct Neighbor {
    addr: Ipv6Addr,
    ifindex: u32,
    last_heard: Instant,
    bad_packets: u64,
    bad_routes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Full,
    /// Routes changed after this change counter.
    ChangedSince(u64),
}

#[derive(Debug, Clone)]
enum Job {
    Update {
        ifindex: u32,
        dst: Ipv6Addr,
        port: u16,
        content: Content,
        split: bool,
        /// Where in the table the next packet goes on from.
        from: Cursor,
    },
    /// A whole-table request to the group.
    Request { ifindex: u32 },
    /// The answer to a specific request, built when it came (rare: diagnostics).
    Answer {
        ifindex: u32,
        dst: Ipv6Addr,
        port: u16,
        rtes: Vec<Rte>,
    },
}

/// What is read from a config for the core (the rest is the driver's).
#[derive(Debug, Clone)]
struct Settings {
    timers: Timers,
    max_routes: usize,
    max_paths: usize,
    filters: Vec<Filter>,
}

pub struct Router {
    settings: Settings,
    interfaces: Vec<Interface>,
    routes: Table<Route>,
    /// Learned routes (local ones are not counted against `max_routes`).
    learned: usize,
    neighbors: Vec<Neighbor>,
    pub counters: Counters,
    jobs: VecDeque<Job>,
    kernel: VecDeque<Prefix>,
    change: u64,
    /// The change counter the last update covered.
    sent_change: u64,
    next_update: Instant,
    /// A triggered update waits for this; None: nothing to trigger.
    triggered_at: Option<Instant>,
    /// No triggered update before this (RFC 2080 2.5.1).
    quiet_until: Instant,
    /// No route expires before this (a lower bound: refreshes only move expiries later).
    next_expiry: Option<Instant>,
    /// Sending withdrawals on the way out: every route at metric 16.
    withdrawing: bool,
    rng: u64,
    limit_log: RateLimit,
    started: Instant,
}

impl Router {
    /// `seed`: randomness for the timer jitter (any value but 0 is as good).
    pub fn new(config: &Config, now: Instant, seed: u64) -> Router {
        let mut r = Router {
            settings: settings(config),
            interfaces: Vec::new(),
            routes: Table::default(),
            learned: 0,
            neighbors: Vec::new(),
            counters: Counters::default(),
            jobs: VecDeque::new(),
            kernel: VecDeque::new(),
            change: 0,
            sent_change: 0,
            next_update: now,
            triggered_at: None,
            quiet_until: now,
            next_expiry: None,
            withdrawing: false,
            rng: seed | 1,
            limit_log: RateLimit::new(60, 3),
            started: now,
        };
        r.next_update = now + r.jittered(r.settings.timers.update);
        r
    }

    /// A reloaded config: timers, limits and filters change; learned routes stay.
    pub fn reconfigure(&mut self, config: &Config, now: Instant) {
        let old = std::mem::replace(&mut self.settings, settings(config));
        if old.timers.update != self.settings.timers.update {
            self.next_update = now + self.jittered(self.settings.timers.update);
        }
        if old.filters != self.settings.filters {
            // Routes the new input filters refuse go; what is advertised may change.
            let refused: Vec<Prefix> = self
                .routes
                .iter()
                .filter(|(p, r)| match &r.origin {
                    Origin::Rip(paths) => !self.filter_accepts(Direction::In, p, paths[0].ifindex),
                    Origin::Local(_) => false,
                })
                .map(|(p, _)| *p)
                .collect();
            for p in refused {
                self.withdraw(&p, now);
            }
            self.full_update_all();
        }
    }

    // ---- interfaces and local routes -------------------------------------------------------

    /// Adds or updates an interface. One that comes up (or is new and up) asks its neighbours
    /// for their tables and gets ours.
    pub fn set_interface(&mut self, iface: Interface, now: Instant) {
        let was_active = self.interface(iface.ifindex).is_some_and(Interface::active);
        let active = iface.active();
        let ifindex = iface.ifindex;
        match self.interfaces.iter_mut().find(|i| i.ifindex == ifindex) {
            Some(i) => *i = iface,
            None => self.interfaces.push(iface),
        }
        if active && !was_active {
            log::info!("{}: RIPng up", self.name(ifindex));
            self.jobs.push_back(Job::Request { ifindex });
            self.queue_update(ifindex, wire::GROUP, wire::PORT, Content::Full, true);
        } else if !active && was_active {
            log::info!("{}: RIPng down", self.name(ifindex));
            self.lose_interface(ifindex, now);
        }
    }

    /// An interface gone (device removed, or no longer configured).
    pub fn remove_interface(&mut self, ifindex: u32, now: Instant) {
        if let Some(pos) = self.interfaces.iter().position(|i| i.ifindex == ifindex) {
            self.interfaces.remove(pos);
            self.lose_interface(ifindex, now);
        }
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Routes through `ifindex` lose their paths there; its neighbours are forgotten.
    fn lose_interface(&mut self, ifindex: u32, now: Instant) {
        let prefixes: Vec<Prefix> = self
            .routes
            .iter()
            .filter(|(_, r)| matches!(&r.origin, Origin::Rip(p) if p.iter().any(|p| p.ifindex == ifindex)))
            .map(|(p, _)| *p)
            .collect();
        for prefix in prefixes {
            self.drop_paths(&prefix, now, |p| p.ifindex == ifindex);
        }
        self.neighbors.retain(|n| n.ifindex != ifindex);
        self.jobs.retain(|j| match j {
            Job::Update { ifindex: i, .. }
            | Job::Request { ifindex: i }
            | Job::Answer { ifindex: i, .. } => *i != ifindex,
        });
    }

    /// The complete set of local routes now (the driver recomputes it on every address or
    /// route change): new and changed ones are advertised, missing ones withdrawn.
    pub fn set_local_routes(&mut self, mut local: Vec<LocalRoute>, now: Instant) {
        local.sort_by(|a, b| a.prefix.cmp(&b.prefix).then(a.metric.cmp(&b.metric)));
        local.dedup_by(|b, a| a.prefix == b.prefix);
        let gone: Vec<Prefix> = self
            .routes
            .iter()
            .filter(|(p, r)| {
                matches!(r.origin, Origin::Local(_))
                    && r.reachable()
                    && local.binary_search_by(|l| l.prefix.cmp(p)).is_err()
            })
            .map(|(p, _)| *p)
            .collect();
        for p in gone {
            self.withdraw(&p, now);
        }
        for l in local {
            let prefix = l.prefix;
            let (metric, tag) = (l.metric.clamp(1, INFINITY - 1), l.tag);
            let change = self.change + 1;
            let advertised = match self.routes.get_mut(&prefix) {
                Some(r)
                    if matches!(&r.origin, Origin::Local(old) if **old == l) && r.reachable() =>
                {
                    continue
                }
                Some(r) => {
                    if let Origin::Rip(_) = r.origin {
                        self.learned -= 1;
                        // Ours now: the kernel route we installed for it goes.
                        self.kernel.push_back(prefix);
                    }
                    // The gateway is advertised too: it is the next hop on its link.
                    let gateway = match &r.origin {
                        Origin::Local(old) => old.gateway,
                        Origin::Rip(_) => None,
                    };
                    let advertised_same = r.metric == metric
                        && r.tag == tag
                        && r.garbage_until.is_none()
                        && gateway == l.gateway;
                    r.origin = Origin::Local(Box::new(l));
                    r.garbage_until = None;
                    if !advertised_same {
                        r.metric = metric;
                        r.tag = tag;
                        r.changed = change;
                        r.since = now;
                    }
                    !advertised_same
                }
                None => {
                    let origin = Origin::Local(Box::new(l));
                    self.routes
                        .insert(prefix, Route::new(origin, metric, tag, change, now));
                    true
                }
            };
            // Only what neighbours would see differently is news (the device it is on is
            // not).
            if advertised {
                self.change = change;
                self.trigger(now);
            }
        }
    }

    // ---- packets in ---------------------------------------------------------------------

    /// A datagram received, and how it came.
    pub fn handle_packet(&mut self, now: Instant, from: &Arrival, bytes: &[u8]) {
        let Arrival {
            ifindex,
            src,
            src_port,
            ..
        } = *from;
        self.counters.packets_in += 1;
        let Some(iface) = self.interface(ifindex).filter(|i| i.active()) else {
            self.counters.bad_interface += 1;
            return;
        };
        if iface.link_local.iter().any(|a| same(a, &src)) {
            self.counters.own_packets += 1;
            return;
        }
        let packet = match Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.counters.bad_packet += 1;
                if let Some(n) = self.neighbor_mut(ifindex, src) {
                    n.bad_packets += 1;
                }
                return;
            }
        };
        // From a router (port 521): a link-local source, and hop limit 255 on what was sent
        // to the group (RFC 2080 2.4.2; a unicast answer to our Request may come with the
        // sender's default, as FRR's does). A Request from another port is a diagnostic query
        // and may come from anywhere; a Response from one is refused.
        let command = packet.command();
        if src_port == wire::PORT {
            if !is_link_local(&src) {
                self.counters.bad_source_address += 1;
                return;
            }
            if from.to_group && from.hop_limit != wire::HOP_LIMIT {
                self.counters.bad_hop_limit += 1;
                return;
            }
        } else if command == Command::Response {
            self.counters.bad_source_port += 1;
            return;
        }
        match command {
            Command::Request => self.handle_request(&packet, ifindex, src, src_port),
            Command::Response => self.handle_response(now, &packet, ifindex, src),
        }
    }

    fn handle_request(
        &mut self,
        packet: &Packet<&[u8]>,
        ifindex: u32,
        src: Ipv6Addr,
        src_port: u16,
    ) {
        self.counters.requests_in += 1;
        if packet.is_whole_table_request() {
            self.queue_update(
                ifindex,
                src,
                src_port,
                Content::Full,
                src_port == wire::PORT,
            );
            return;
        }
        let rtes = packet
            .rtes()
            .map(|mut rte| {
                if !rte.is_next_hop() {
                    let found =
                        Prefix::new(rte.prefix, rte.prefix_len).and_then(|p| self.routes.get(&p));
                    rte.metric = found.map_or(INFINITY, |r| r.metric);
                }
                rte
            })
            .collect::<Vec<Rte>>();
        self.jobs.push_back(Job::Answer {
            ifindex,
            dst: src,
            port: src_port,
            rtes,
        });
    }

    fn handle_response(
        &mut self,
        now: Instant,
        packet: &Packet<&[u8]>,
        ifindex: u32,
        src: Ipv6Addr,
    ) {
        self.counters.responses_in += 1;
        self.heard(ifindex, src, now);
        let Some(iface) = self.interface(ifindex) else {
            return;
        };
        let (cost, accept_default) = (iface.cost, iface.accept_default);
        let mut next_hop = src;
        let mut bad_routes = 0;
        let mut hint = 0;
        let expires = now + self.settings.timers.timeout;
        for rte in packet.rtes() {
            if rte.is_next_hop() {
                // §2.1.1: a next hop that is not link-local means the sender; so does one of
                // our own addresses (a route through ourselves is no route).
                let ours = self
                    .interface(ifindex)
                    .is_some_and(|i| i.link_local.contains(&rte.prefix));
                next_hop = if is_link_local(&rte.prefix) && !ours {
                    rte.prefix
                } else {
                    src
                };
                continue;
            }
            let Some(prefix) = Prefix::new(rte.prefix, rte.prefix_len).filter(valid_prefix) else {
                self.counters.bad_prefix += 1;
                bad_routes += 1;
                continue;
            };
            if rte.metric == 0 || rte.metric > INFINITY {
                self.counters.bad_metric += 1;
                bad_routes += 1;
                continue;
            }
            if (prefix.is_default() && !accept_default)
                || !self.filter_accepts(Direction::In, &prefix, ifindex)
            {
                self.counters.filtered += 1;
                continue;
            }
            let metric = (rte.metric.saturating_add(cost)).min(INFINITY);
            self.learn(
                now,
                &mut hint,
                prefix,
                metric,
                rte.tag,
                Path {
                    from: src,
                    ifindex,
                    next_hop,
                    expires,
                },
            );
        }
        if bad_routes > 0 {
            if let Some(n) = self.neighbor_mut(ifindex, src) {
                n.bad_routes += bad_routes;
            }
        }
    }

    /// RFC 2080 2.4.2's route update for one RTE (metric already with our cost).
    /// `hint`: where the route of the RTE before was, plus one (see [`Table::locate`]).
    fn learn(
        &mut self,
        now: Instant,
        hint: &mut Cursor,
        prefix: Prefix,
        metric: u8,
        tag: u16,
        path: Path,
    ) {
        let (timeout, garbage) = (self.settings.timers.timeout, self.settings.timers.garbage);
        let max_paths = self.settings.max_paths;
        let found = self.routes.locate(&prefix, *hint);
        if let Some(at) = found {
            *hint = at + 1;
        }
        let Some(route) = found.and_then(|at| self.routes.at_mut(at)) else {
            if metric >= INFINITY {
                return;
            }
            if self.learned >= self.settings.max_routes {
                self.counters.route_limit += 1;
                let max = self.settings.max_routes;
                self.limit_log.log(
                    log::Level::Warn,
                    now.duration_since(self.started).as_secs(),
                    format_args!(
                        "max_routes ({max}) reached: {prefix} from {} refused",
                        path.from
                    ),
                );
                return;
            }
            self.learned += 1;
            let changed = self.next_change();
            let origin = Origin::Rip(Paths::One(path));
            self.routes
                .insert(prefix, Route::new(origin, metric, tag, changed, now));
            self.note_expiry(path.expires);
            self.changed(prefix, now);
            return;
        };
        let Origin::Rip(paths) = &mut route.origin else {
            return; // our own route wins
        };
        let mut forwarding = false;
        let mut advertised = false;
        match paths
            .iter()
            .position(|p| same(&p.from, &path.from) && p.ifindex == path.ifindex)
        {
            Some(i) if metric >= INFINITY && route.metric < INFINITY && paths.len() > 1 => {
                paths.remove(i);
                forwarding = true;
            }
            Some(_) if metric >= INFINITY && route.metric < INFINITY => {
                // Withdrawn by the router we use: unreachable now, gone after `garbage`.
                route.metric = INFINITY;
                route.garbage_until = Some(now + garbage);
                forwarding = true;
                advertised = true;
            }
            Some(_) if metric >= INFINITY => {}
            Some(i) => {
                let old = paths[i];
                if metric == route.metric || paths.len() == 1 {
                    paths[i] = path;
                    if metric != route.metric || route.garbage_until.is_some() || tag != route.tag {
                        advertised = true;
                        route.since = now;
                    }
                    forwarding |=
                        !same(&old.next_hop, &path.next_hop) || route.garbage_until.is_some();
                    route.metric = metric;
                    route.tag = tag;
                    route.garbage_until = None;
                } else if metric < route.metric {
                    // One of several equal paths got better: it alone is the best now.
                    *paths = Paths::One(path);
                    route.metric = metric;
                    route.tag = tag;
                    route.since = now;
                    forwarding = true;
                    advertised = true;
                } else {
                    // One of several equal paths got worse: the others stay.
                    paths.remove(i);
                    forwarding = true;
                }
            }
            None if metric < route.metric => {
                *paths = Paths::One(path);
                route.metric = metric;
                route.tag = tag;
                route.garbage_until = None;
                route.since = now;
                forwarding = true;
                advertised = true;
            }
            None if metric == route.metric && metric < INFINITY => {
                if paths.len() < max_paths {
                    paths.push(path);
                    forwarding = true;
                } else if max_paths == 1
                    && paths[0].expires.saturating_duration_since(now) < timeout / 2
                {
                    // RFC 2080 2.4.2: as good, and the old one is halfway to its timeout.
                    let old = std::mem::replace(&mut paths[0], path);
                    forwarding = (old.next_hop, old.ifindex) != (path.next_hop, path.ifindex);
                }
            }
            None => {}
        }
        if advertised {
            self.change += 1;
            route.changed = self.change;
        }
        if let Some(g) = route.garbage_until {
            self.note_expiry(g);
        }
        self.note_expiry(path.expires);
        if advertised {
            self.changed(prefix, now);
        } else if forwarding {
            self.kernel.push_back(prefix);
        }
    }

    // ---- time ---------------------------------------------------------------------------

    /// When [`Router::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Instant {
        let mut t = self.next_update;
        if let Some(e) = self.next_expiry {
            t = t.min(e);
        }
        if let Some(tr) = self.triggered_at {
            t = t.min(tr);
        }
        t
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_expiry.is_some_and(|e| e <= now) {
            self.expire(now);
        }
        if now >= self.next_update {
            self.full_update_all();
            self.next_update = now + self.jittered(self.settings.timers.update);
        }
        if self.triggered_at.is_some_and(|t| t <= now) {
            self.triggered_at = None;
            if self.next_update.saturating_duration_since(now) <= self.settings.timers.triggered_min
            {
                // The periodic update is about to go: it goes now and carries the change
                // (RFC 2080 2.5.1 lets the triggered one be left out; waiting would delay it).
                self.full_update_all();
                self.next_update = now + self.jittered(self.settings.timers.update);
            } else {
                self.counters.triggered_updates += 1;
                let since = self.sent_change;
                for ifindex in self.active_ifindexes() {
                    self.queue_update(
                        ifindex,
                        wire::GROUP,
                        wire::PORT,
                        Content::ChangedSince(since),
                        true,
                    );
                }
                self.sent_change = self.change;
            }
            let (min, max) = (
                self.settings.timers.triggered_min,
                self.settings.timers.triggered_max,
            );
            self.quiet_until = now + min + self.random_upto(max.saturating_sub(min));
        }
    }

    /// Paths past their timeout go; routes past their garbage time go.
    fn expire(&mut self, now: Instant) {
        let mut timed_out = Vec::new();
        let mut collected = 0;
        let mut next: Option<Instant> = None;
        for (p, r) in self.routes.iter() {
            if let Some(g) = r.garbage_until {
                if g <= now {
                    collected += 1;
                } else {
                    earliest(&mut next, g);
                }
            } else if let Origin::Rip(paths) = &r.origin {
                for path in paths.iter() {
                    if path.expires <= now {
                        timed_out.push(*p);
                    } else {
                        earliest(&mut next, path.expires);
                    }
                }
            }
        }
        timed_out.dedup();
        for p in timed_out {
            self.drop_paths(&p, now, |path| path.expires <= now);
            if let Some(g) = self.routes.get(&p).and_then(|r| r.garbage_until) {
                earliest(&mut next, g);
            }
        }
        if collected > 0 {
            // In one pass: a neighbour's 10,000 routes may go at once.
            let mut learned_gone = 0;
            self.routes.retain(|_, r| {
                let gone = r.garbage_until.is_some_and(|g| g <= now);
                if gone && matches!(r.origin, Origin::Rip(_)) {
                    learned_gone += 1;
                }
                !gone
            });
            self.learned -= learned_gone;
            let walks = self.jobs.iter_mut().filter_map(|j| match j {
                Job::Update { from, .. } => Some(from),
                _ => None,
            });
            self.routes.compact(walks);
        }
        // Neighbours silent for a timeout and a garbage time are forgotten.
        let forget = self.settings.timers.timeout + self.settings.timers.garbage;
        self.neighbors
            .retain(|n| now.saturating_duration_since(n.last_heard) < forget);
        if let Some(n) = self.neighbors.iter().map(|n| n.last_heard + forget).min() {
            earliest(&mut next, n);
        }
        self.next_expiry = next;
    }

    /// Removes the paths of `prefix` that `gone` selects; with none left the route is
    /// withdrawn.
    fn drop_paths(&mut self, prefix: &Prefix, now: Instant, gone: impl Fn(&Path) -> bool) {
        let Some(route) = self.routes.get_mut(prefix) else {
            return;
        };
        let Origin::Rip(paths) = &mut route.origin else {
            return;
        };
        if route.metric >= INFINITY {
            return;
        }
        let before = paths.len();
        let kept: Vec<Path> = paths.iter().filter(|p| !gone(p)).copied().collect();
        if kept.is_empty() {
            self.withdraw(prefix, now);
        } else if kept.len() != before {
            *paths = Paths::from_vec(kept);
            self.kernel.push_back(*prefix);
        }
    }

    /// The route is unreachable: advertised with metric 16 for `garbage`, then removed.
    fn withdraw(&mut self, prefix: &Prefix, now: Instant) {
        let garbage = now + self.settings.timers.garbage;
        let Some(route) = self.routes.get_mut(prefix) else {
            return;
        };
        if !route.reachable() {
            return;
        }
        self.change += 1;
        route.metric = INFINITY;
        route.garbage_until = Some(garbage);
        route.changed = self.change;
        route.since = now;
        self.note_expiry(garbage);
        self.changed(*prefix, now);
    }

    /// Sends every route with metric 16 on every interface (a clean exit): neighbours drop
    /// them at once instead of after their timeout.
    pub fn shutdown(&mut self) {
        self.withdrawing = true;
        self.jobs.clear();
        for ifindex in self.active_ifindexes() {
            self.queue_update(ifindex, wire::GROUP, wire::PORT, Content::Full, false);
        }
    }

    // ---- output -------------------------------------------------------------------------

    /// The next kernel change, if any.
    pub fn poll_kernel(&mut self) -> Option<KernelOp> {
        while let Some(prefix) = self.kernel.pop_front() {
            // A route leaves the table only after its garbage time, long after its Remove.
            let Some(r) = self.routes.get_mut(&prefix) else {
                continue;
            };
            match &r.origin {
                Origin::Rip(paths) if r.metric < INFINITY => {
                    let replace = std::mem::replace(&mut r.installed, true);
                    let nexthops = paths.iter().map(|p| (p.next_hop, p.ifindex)).collect();
                    return Some(KernelOp::Install {
                        prefix,
                        nexthops,
                        replace,
                    });
                }
                _ if r.installed => {
                    r.installed = false;
                    return Some(KernelOp::Remove { prefix });
                }
                _ => {}
            }
        }
        // After a burst (a neighbour's whole table at start): no lasting capacity.
        self.kernel.shrink_to(64);
        None
    }

    /// The kernel refused to install `prefix` (another program's route is in the way): it
    /// is not ours to replace or remove later.
    pub fn kernel_refused(&mut self, prefix: &Prefix) {
        if let Some(r) = self.routes.get_mut(prefix) {
            r.installed = false;
        }
    }

    /// Routes of ours in the kernel.
    pub fn installed_count(&self) -> usize {
        self.routes.values().filter(|r| r.installed).count()
    }

    /// Writes the next packet to send into `buf` (sized for the largest MTU of interest).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(job) = self.jobs.front_mut() {
            match job {
                Job::Request { ifindex } => {
                    let ifindex = *ifindex;
                    self.jobs.pop_front();
                    let mut w = Writer::new(buf, Command::Request)?;
                    w.push(&Rte::WHOLE_TABLE);
                    return Some(self.sent(ifindex, wire::GROUP, wire::PORT, w.finish()));
                }
                Job::Answer { .. } => {
                    let Some(Job::Answer {
                        ifindex,
                        dst,
                        port,
                        rtes,
                    }) = self.jobs.pop_front()
                    else {
                        unreachable!()
                    };
                    let room = self
                        .interface(ifindex)
                        .map_or(0, |i| wire::rtes_per_packet(i.mtu));
                    let mut w = Writer::new(buf, Command::Response)?;
                    for rte in rtes.iter().take(room) {
                        w.push(rte);
                    }
                    return Some(self.sent(ifindex, dst, port, w.finish()));
                }
                Job::Update { .. } => {
                    if let Some(t) = self.fill_update(buf) {
                        return Some(t);
                    }
                }
            }
        }
        self.jobs.shrink_to(16);
        None
    }

    /// One packet of the update at the front of the queue; None when it is done (popped).
    fn fill_update(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let Some(&Job::Update {
            ifindex,
            dst,
            port,
            content,
            split,
            from,
        }) = self.jobs.front()
        else {
            return None;
        };
        let Some(iface) = self.interface(ifindex).filter(|i| i.active()) else {
            self.jobs.pop_front();
            return None;
        };
        let room = wire::rtes_per_packet(iface.mtu)
            .min((buf.len().saturating_sub(wire::HEADER_LEN)) / wire::RTE_LEN);
        let Some(mut w) = Writer::new(
            &mut buf[..wire::HEADER_LEN + room * wire::RTE_LEN],
            Command::Response,
        ) else {
            self.jobs.pop_front();
            return None;
        };
        let mut resume = from;
        let mut current_hop = Ipv6Addr::UNSPECIFIED;
        let mut done = true;
        for (next, prefix, route) in self.routes.after(from) {
            if let Content::ChangedSince(since) = content {
                if route.changed <= since {
                    continue;
                }
            }
            let Some((metric, next_hop)) = self.advertisement(prefix, route, iface, split) else {
                continue;
            };
            let new_hop = !same(&next_hop, &current_hop);
            let need = if new_hop { 2 } else { 1 };
            if w.room() < need {
                done = false;
                break;
            }
            if new_hop {
                w.push(&Rte::next_hop(next_hop));
                current_hop = next_hop;
            }
            w.push(&Rte {
                prefix: prefix.addr(),
                tag: route.tag,
                prefix_len: prefix.prefix_len(),
                metric,
            });
            resume = next;
        }
        if done {
            self.jobs.pop_front();
        } else if let Some(Job::Update { from, .. }) = self.jobs.front_mut() {
            *from = resume;
        }
        if w.rte_count() == 0 {
            return None;
        }
        let len = w.finish();
        Some(self.sent(ifindex, dst, port, len))
    }

    /// What `route` looks like in an update on `iface`: (metric, next hop), or None to leave
    /// it out.
    fn advertisement(
        &self,
        prefix: &Prefix,
        route: &Route,
        iface: &Interface,
        split: bool,
    ) -> Option<(u8, Ipv6Addr)> {
        if !self.filter_accepts(Direction::Out, prefix, iface.ifindex) {
            return None;
        }
        let mut metric = if self.withdrawing {
            INFINITY
        } else {
            route.metric
        };
        let mut next_hop = Ipv6Addr::UNSPECIFIED;
        match &route.origin {
            Origin::Rip(paths) => {
                // Learned here: left out or poisoned as the interface says. With split horizon
                // off it goes back with us as the next hop: naming the neighbour instead would
                // tell it a route through itself.
                if paths.iter().any(|p| p.ifindex == iface.ifindex) {
                    match (split, iface.split_horizon) {
                        (true, SplitHorizon::Simple) => return None,
                        (true, SplitHorizon::Poison) => metric = INFINITY,
                        _ => {}
                    }
                }
            }
            Origin::Local(l) => {
                if let Some((gw, gw_if)) = l.gateway {
                    if gw_if == iface.ifindex && is_link_local(&gw) && metric < INFINITY {
                        next_hop = gw;
                    }
                }
            }
        }
        Some((metric, next_hop))
    }

    fn sent(&mut self, ifindex: u32, dst: Ipv6Addr, port: u16, len: usize) -> Transmit {
        self.counters.packets_out += 1;
        Transmit {
            ifindex,
            dst,
            port,
            len,
        }
    }

    // ---- status -------------------------------------------------------------------------

    /// Routes in the table (learned and local).
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The status's `interfaces`, `neighbors`, `routes` and `counters` fields.
    pub fn status(&self, j: &mut Json, now: Instant) {
        j.begin_array("interfaces");
        for i in &self.interfaces {
            j.item_object()
                .field_str("name", &i.name)
                .field_u64("ifindex", u64::from(i.ifindex))
                .field_bool("up", i.up)
                .field_bool("passive", i.passive)
                .field_u64("cost", u64::from(i.cost))
                .field_str("split_horizon", i.split_horizon.name())
                .field_u64("mtu", u64::from(i.mtu))
                .field_u64(
                    "neighbors",
                    self.neighbors
                        .iter()
                        .filter(|n| n.ifindex == i.ifindex)
                        .count() as u64,
                );
            match i.link_local.first() {
                Some(a) => j.field_str("address", &a.to_string()),
                None => j.field_null("address"),
            };
            j.end();
        }
        j.end();
        j.begin_array("neighbors");
        for n in &self.neighbors {
            let routes = self
                .routes
                .values()
                .filter(|r| r.reachable() && matches!(&r.origin, Origin::Rip(p) if p.iter().any(|p| p.from == n.addr && p.ifindex == n.ifindex)))
                .count();
            j.item_object()
                .field_str("address", &n.addr.to_string())
                .field_str("interface", self.name(n.ifindex))
                .field_u64(
                    "last_heard_s",
                    now.saturating_duration_since(n.last_heard).as_secs(),
                )
                .field_u64("routes", routes as u64)
                .field_u64("bad_packets", n.bad_packets)
                .field_u64("bad_routes", n.bad_routes)
                .end();
        }
        j.end();
        j.begin_array("routes");
        for (prefix, r) in self.routes.sorted() {
            j.item_object()
                .field_str("prefix", &prefix.to_string())
                .field_u64("metric", u64::from(r.metric))
                .field_u64("tag", u64::from(r.tag))
                .field_u64("age_s", now.saturating_duration_since(r.since).as_secs())
                .field_str("state", if r.reachable() { "valid" } else { "garbage" });
            match &r.origin {
                Origin::Rip(paths) => {
                    j.field_str("source", "rip")
                        .field_str("next_hop", &paths[0].next_hop.to_string())
                        .field_str("interface", self.name(paths[0].ifindex))
                        .field_str("from", &paths[0].from.to_string())
                        .field_u64(
                            "expires_s",
                            paths
                                .iter()
                                .map(|p| p.expires)
                                .min()
                                .map_or(0, |e| e.saturating_duration_since(now).as_secs()),
                        );
                    if paths.len() > 1 {
                        j.begin_array("paths");
                        for p in paths.iter() {
                            j.item_object()
                                .field_str("next_hop", &p.next_hop.to_string())
                                .field_str("interface", self.name(p.ifindex))
                                .end();
                        }
                        j.end();
                    }
                }
                Origin::Local(l) => {
                    j.field_str("source", l.source.name())
                        .field_null("next_hop");
                    match &l.device {
                        Some(d) => j.field_str("interface", d),
                        None => j.field_null("interface"),
                    };
                }
            }
            j.end();
        }
        j.end();
        let c = &self.counters;
        j.begin_object("counters")
            .field_u64("packets_in", c.packets_in)
            .field_u64("packets_out", c.packets_out)
            .field_u64("requests_in", c.requests_in)
            .field_u64("responses_in", c.responses_in)
            .field_u64("triggered_updates", c.triggered_updates)
            .field_u64("bad_packet", c.bad_packet)
            .field_u64("bad_source_port", c.bad_source_port)
            .field_u64("bad_source_address", c.bad_source_address)
            .field_u64("bad_hop_limit", c.bad_hop_limit)
            .field_u64("bad_interface", c.bad_interface)
            .field_u64("own_packets", c.own_packets)
            .field_u64("bad_prefix", c.bad_prefix)
            .field_u64("bad_metric", c.bad_metric)
            .field_u64("filtered", c.filtered)
            .field_u64("route_limit", c.route_limit)
            .end();
    }

    /// `ripng routes`: the table for people, one route per line.
    pub fn routes_table(&self, now: Instant) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "{:<44} {:>6} {:<9} {:<26} {:<12} {:>5} {:>5}\n",
            "prefix", "metric", "source", "next hop", "interface", "tag", "age"
        );
        for (prefix, r) in self.routes.sorted() {
            let (source, hop, dev) = match &r.origin {
                Origin::Rip(paths) => (
                    "rip",
                    paths[0].next_hop.to_string(),
                    self.name(paths[0].ifindex).to_string(),
                ),
                Origin::Local(l) => (
                    l.source.name(),
                    "-".to_string(),
                    l.device.clone().unwrap_or_else(|| "-".into()),
                ),
            };
            let metric = if r.reachable() {
                r.metric.to_string()
            } else {
                "16 (gc)".to_string()
            };
            let _ = writeln!(
                out,
                "{:<44} {:>6} {:<9} {:<26} {:<12} {:>5} {:>4}s",
                prefix.to_string(),
                metric,
                source,
                hop,
                dev,
                r.tag,
                now.saturating_duration_since(r.since).as_secs()
            );
        }
        out
    }

    // ---- helpers ------------------------------------------------------------------------

    fn interface(&self, ifindex: u32) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.ifindex == ifindex)
    }

    fn name(&self, ifindex: u32) -> &str {
        self.interface(ifindex).map_or("?", |i| i.name.as_str())
    }

    fn active_ifindexes(&self) -> Vec<u32> {
        self.interfaces
            .iter()
            .filter(|i| i.active())
            .map(|i| i.ifindex)
            .collect()
    }

    fn heard(&mut self, ifindex: u32, addr: Ipv6Addr, now: Instant) {
        match self.neighbor_mut(ifindex, addr) {
            Some(n) => n.last_heard = now,
            None => {
                log::info!("{}: neighbour {addr}", self.name(ifindex));
                self.neighbors.push(Neighbor {
                    addr,
                    ifindex,
                    last_heard: now,
                    bad_packets: 0,
                    bad_routes: 0,
                });
                let forget = now + self.settings.timers.timeout + self.settings.timers.garbage;
                self.note_expiry(forget);
            }
        }
    }

    fn neighbor_mut(&mut self, ifindex: u32, addr: Ipv6Addr) -> Option<&mut Neighbor> {
        self.neighbors
            .iter_mut()
            .find(|n| n.ifindex == ifindex && same(&n.addr, &addr))
    }

    /// Inlined for the usual case, no filters: it is asked for every RTE in and out.
    #[inline(always)]
    fn filter_accepts(&self, direction: Direction, prefix: &Prefix, ifindex: u32) -> bool {
        self.settings.filters.is_empty() || self.filters_accept(direction, prefix, ifindex)
    }

    fn filters_accept(&self, direction: Direction, prefix: &Prefix, ifindex: u32) -> bool {
        let first = self.settings.filters.iter().find(|f| {
            f.direction == direction
                && f.prefix.contains(prefix)
                && (f.min_length..=f.max_length).contains(&prefix.prefix_len())
                && match &f.interface {
                    None => true,
                    Some(Link::Device(d)) => d == self.name(ifindex),
                    // The driver resolves logical names; one it could not matches nothing.
                    Some(Link::Network(_)) => false,
                }
        });
        first.is_none() || first.is_some_and(|f| f.accept)
    }

    fn next_change(&mut self) -> u64 {
        self.change += 1;
        self.change
    }

    /// A route changed what we advertise (and maybe how we forward); its `changed` is the
    /// current change counter.
    fn changed(&mut self, prefix: Prefix, now: Instant) {
        self.kernel.push_back(prefix);
        self.trigger(now);
    }

    fn trigger(&mut self, now: Instant) {
        if self.triggered_at.is_none() {
            self.triggered_at = Some(self.quiet_until.max(now));
        }
    }

    fn note_expiry(&mut self, at: Instant) {
        earliest(&mut self.next_expiry, at);
    }

    fn queue_update(
        &mut self,
        ifindex: u32,
        dst: Ipv6Addr,
        port: u16,
        content: Content,
        split: bool,
    ) {
        self.jobs.push_back(Job::Update {
            ifindex,
            dst,
            port,
            content,
            split,
            from: 0,
        });
    }

    /// A periodic update on every interface; it covers every pending change.
    fn full_update_all(&mut self) {
        // Updates still queued for the same interfaces are superseded.
        self.jobs
            .retain(|j| !matches!(j, Job::Update { dst, .. } if *dst == wire::GROUP));
        for ifindex in self.active_ifindexes() {
            self.queue_update(ifindex, wire::GROUP, wire::PORT, Content::Full, true);
        }
        self.sent_change = self.change;
        self.triggered_at = None;
    }

    fn random(&mut self) -> u64 {
        // xorshift64: jitter needs no more.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn random_upto(&mut self, max: Duration) -> Duration {
        let ms = max.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { self.random() % (ms + 1) })
    }

    /// `base` ±1/6.
    fn jittered(&mut self, base: Duration) -> Duration {
        let spread = base / 6;
        base - spread + self.random_upto(spread * 2)
    }
}

fn settings(c: &Config) -> Settings {
    Settings {
        timers: c.timers,
        max_routes: c.max_routes,
        max_paths: c.max_paths.max(1),
        filters: c.filters.clone(),
    }
}

/// `slot` becomes `at` if that is earlier (or there was nothing).
fn earliest(slot: &mut Option<Instant>, at: Instant) {
    *slot = Some(slot.map_or(at, |t| t.min(at)));
}

/// Address equality as one integer comparison: the size-optimised build calls memcmp for
/// `==` on 16 bytes, and an update compares addresses for every route.
#[inline(always)]
fn same(a: &Ipv6Addr, b: &Ipv6Addr) -> bool {
    u128::from(*a) == u128::from(*b)
}

pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// Not multicast, link-local, loopback or the unspecified address as a host route.
fn valid_prefix(p: &Prefix) -> bool {
    let a = u128::from(p.addr());
    let host = p.prefix_len() == 128;
    !(a >> 120 == 0xff || (a >> 118 == 0xfe80 >> 6 && p.prefix_len() >= 10) || (host && a <= 1))
}
