//! ripng: the daemon around the sans-IO core. Owns the UDP socket, rtnetlink (the kernel's
//! links, addresses and routes in; our routes out), the poll loop, signals (SIGTERM stops,
//! SIGHUP reloads keeping learned routes) and the control socket; the command line and the
//! control socket's setup are `common::daemon`'s.

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ripng::config::{self, Config, Link as ConfigLink, Source};
use ripng::prefix::Prefix;
use ripng::redistribute::{self, Address, KernelRoute};
use ripng::router::{self, Interface, KernelOp, Router, Transmit};
use ripng::sys::{self, RipSocket};
use ripng::wire;
use v6only_common::cli::Program;
use v6only_common::daemon::{self, Context, Loaded, Refused, Spec};
use v6only_common::netlink::{Event, Events, Link, Netlink, Route6, RouteInfo};
use v6only_common::poll::{self, Interest, Poller};
use v6only_common::privilege::{self, Cap};
use v6only_common::ratelimit::RateLimit;
use v6only_common::signals::Signal;

static DAEMON: Spec<Config> = Spec {
    program: Program {
        name: "ripng",
        version: env!("CARGO_PKG_VERSION"),
        default_config: "/etc/config/ripng",
        about: "RIPng (RFC 2080) routing daemon; routes through rtnetlink.",
        commands:
            "run     run the daemon (the default)\n\
            check   validate the config: warnings and errors on stderr, exit 1 on errors\n\
            status  print the running daemon's state as JSON\n\
            routes  print the running daemon's route table for people\n\
            reload  make the running daemon re-read its config (as SIGHUP does), print the result\n",
    },
    load,
    control_socket,
    run,
    queries: &["routes"],
};

/// Datagrams read per wake-up before looking at signals and the control socket again.
const BATCH: usize = 256;
const AF_INET6: u8 = libc::AF_INET6 as u8;
/// ifa_flags: the address is not usable yet, or never will be.
const IFA_F_TENTATIVE: u32 = 0x40;
const IFA_F_DADFAILED: u32 = 0x08;

fn main() -> ExitCode {
    daemon::main(&DAEMON)
}

fn control_socket(path: &Path) -> PathBuf {
    daemon::control_socket_option(&DAEMON.program, path, "ripng")
}

fn load(path: &Path) -> Result<Loaded<Config>, Refused> {
    let config = config::load(path)?;
    Ok(Loaded {
        warnings: config.warnings.clone(),
        control_socket: config.control_socket.clone(),
        config,
    })
}

/// Our routes in the kernel (the core knows which are installed). Routes of other
/// protocols are never touched: deletes name our protocol, and a new route never replaces.
struct KernelSync {
    nl: Netlink,
    settings: config::Kernel,
    /// Another program's route at our destination and metric: ours is not installed.
    conflicts: u64,
    errors: u64,
    log: RateLimit,
    started: Instant,
}

impl KernelSync {
    fn route(&self, prefix: Prefix, nexthops: Vec<(Ipv6Addr, u32)>) -> Route6 {
        Route6 {
            dst: prefix.addr(),
            len: prefix.prefix_len(),
            table: self.settings.table,
            protocol: self.settings.protocol,
            priority: self.settings.metric,
            nexthops,
        }
    }

    /// Removes routes of our protocol left in the table (by a previous run killed, or before
    /// a reboot of the daemon only).
    fn flush_stale(&mut self) -> Result<usize, String> {
        let routes = self
            .nl
            .dump_routes(AF_INET6, self.settings.table)
            .map_err(|e| format!("reading the kernel's routes: {e}"))?;
        let mut n = 0;
        for r in routes
            .iter()
            .filter(|r| r.protocol == self.settings.protocol)
        {
            let IpAddr::V6(dst) = r.dst else { continue };
            let stale = Route6 {
                dst,
                len: r.len,
                table: r.table,
                protocol: r.protocol,
                priority: r.priority,
                nexthops: Vec::new(),
            };
            match self.nl.del_route6(&stale) {
                Ok(()) => n += 1,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => log::warn!("removing stale route {dst}/{}: {e}", r.len),
            }
        }
        Ok(n)
    }

    /// Makes the change; false when the kernel refused to install (another program's
    /// route at our destination and metric).
    fn apply(&mut self, op: KernelOp) -> bool {
        let now = self.started.elapsed().as_secs();
        match op {
            KernelOp::Install {
                prefix,
                nexthops,
                replace,
            } => {
                let route = self.route(prefix, nexthops);
                match self.nl.add_route6(&route, replace) {
                    Ok(()) => {}
                    Err(e) if !replace && e.raw_os_error() == Some(libc::EEXIST) => {
                        self.conflicts += 1;
                        let metric = route.priority;
                        self.log.log(
                            log::Level::Warn,
                            now,
                            format_args!("{prefix}: another route with metric {metric} is in the way; not installed"),
                        );
                        return false;
                    }
                    Err(e) => {
                        self.errors += 1;
                        self.log.log(
                            log::Level::Warn,
                            now,
                            format_args!("installing {prefix}: {e}"),
                        );
                        return false;
                    }
                }
            }
            KernelOp::Remove { prefix } => {
                let route = self.route(prefix, Vec::new());
                match self.nl.del_route6(&route) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => {
                        self.errors += 1;
                        self.log.log(
                            log::Level::Warn,
                            now,
                            format_args!("removing {prefix}: {e}"),
                        );
                    }
                }
            }
        }
        true
    }
}

/// What the kernel told us: links, IPv6 addresses and the routes of our table not ours.
#[derive(Default)]
struct KernelView {
    links: Vec<Link>,
    addrs: Vec<v6only_common::netlink::Addr>,
    routes: Vec<RouteInfo>,
}

impl KernelView {
    fn dump(nl: &mut Netlink, table: u32, protocol: u8) -> Result<KernelView, String> {
        let links = nl.dump_links().map_err(|e| format!("reading links: {e}"))?;
        let addrs = nl
            .dump_addrs(AF_INET6)
            .map_err(|e| format!("reading addresses: {e}"))?;
        let routes = nl
            .dump_routes(AF_INET6, table)
            .map_err(|e| format!("reading routes: {e}"))?;
        // dump_routes keeps only `table`'s.
        let mut routes: Vec<RouteInfo> = routes
            .into_iter()
            .filter(|r| r.protocol != protocol)
            .collect();
        // The dump held our own routes too (10,000 of them, maybe): not kept.
        routes.shrink_to_fit();
        Ok(KernelView {
            links,
            addrs,
            routes,
        })
    }

    fn link(&self, ifindex: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == ifindex)
    }

    fn usable(&self, a: &v6only_common::netlink::Addr) -> bool {
        a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0
            && self.link(a.index).is_some_and(|l| l.up)
    }

    fn link_locals(&self, ifindex: u32) -> Vec<Ipv6Addr> {
        self.addrs
            .iter()
            .filter(|a| a.index == ifindex)
            .filter_map(|a| match a.addr {
                IpAddr::V6(v6)
                    if router::is_link_local(&v6)
                        && a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0 =>
                {
                    Some(v6)
                }
                _ => None,
            })
            .collect()
    }

    fn addresses(&self) -> Vec<Address> {
        self.addrs
            .iter()
            .filter_map(|a| {
                let IpAddr::V6(addr) = a.addr else {
                    return None;
                };
                Some(Address {
                    ifindex: a.index,
                    device: self.link(a.index).map(|l| l.name.clone())?,
                    addr,
                    len: a.len,
                    usable: self.usable(a),
                })
            })
            .collect()
    }

    fn kernel_routes(&self) -> Vec<KernelRoute> {
        self.routes
            .iter()
            .filter_map(|r| {
                let IpAddr::V6(dst) = r.dst else { return None };
                let first = r
                    .multipath
                    .first()
                    .map(|(gw, oif)| (*gw, Some(*oif)))
                    .unwrap_or((r.gateway, r.oif));
                let gateway = match first {
                    (Some(IpAddr::V6(gw)), Some(oif)) => Some((gw, oif)),
                    _ => None,
                };
                let oif = first.1;
                Some(KernelRoute {
                    prefix: Prefix::new(dst, r.len)?,
                    protocol: r.protocol,
                    kind: r.kind,
                    device: oif.and_then(|i| self.link(i)).map(|l| l.name.clone()),
                    gateway,
                })
            })
            .collect()
    }

    /// Keeps the view current with an event; says what it changed. Routes of other tables
    /// and our own coming and going are not news.
    fn apply(&mut self, event: Event, table: u32, protocol: u8) -> Changed {
        let same_route = |a: &RouteInfo, b: &RouteInfo| {
            (a.dst, a.len, a.table, a.priority) == (b.dst, b.len, b.table, b.priority)
        };
        let relevant =
            |r: &RouteInfo| r.family == AF_INET6 && r.table == table && r.protocol != protocol;
        match event {
            Event::Link(l) => {
                self.links.retain(|x| x.index != l.index);
                self.links.push(l);
                Changed::Links
            }
            Event::LinkGone(l) => {
                self.links.retain(|x| x.index != l.index);
                self.addrs.retain(|a| a.index != l.index);
                Changed::Links
            }
            Event::Addr(a) => {
                if a.addr.is_ipv6() {
                    self.addrs
                        .retain(|x| (x.index, x.addr) != (a.index, a.addr));
                    self.addrs.push(a);
                }
                Changed::Links
            }
            Event::AddrGone(a) => {
                self.addrs
                    .retain(|x| (x.index, x.addr) != (a.index, a.addr));
                Changed::Links
            }
            Event::Route(r) if relevant(&r) => {
                self.routes.retain(|x| !same_route(x, &r));
                self.routes.push(r);
                Changed::Routes
            }
            Event::RouteGone(r) if relevant(&r) => {
                self.routes.retain(|x| !same_route(x, &r));
                Changed::Routes
            }
            Event::Route(_) | Event::RouteGone(_) | Event::Overrun => Changed::Nothing,
        }
    }
}

/// What an rtnetlink event changed in the [`KernelView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Changed {
    Nothing,
    /// Links or addresses: the interfaces and the connected prefixes.
    Links,
    /// Other programs' routes: what is redistributed.
    Routes,
}

/// The packet being sent and what stops it: a full socket buffer (wait for POLLOUT) or
/// ENOBUFS (wait `RETRY`).
struct Outbox {
    buf: Vec<u8>,
    blocked: Option<Transmit>,
    retry_at: Option<Instant>,
}

impl Outbox {
    const RETRY: Duration = Duration::from_millis(10);

    /// Waiting for the socket to drain (else for `retry_at`, or not at all).
    fn wants_writable(&self) -> bool {
        self.blocked.is_some() && self.retry_at.is_none()
    }
}

struct Daemon {
    config: Config,
    /// rtnetlink events; with route events only while `follows_routes`.
    events: Events,
    follows_routes: bool,
    outbox: Outbox,
    router: Router,
    socket: RipSocket,
    kernel: KernelSync,
    view: KernelView,
    /// Devices of the `config interface` sections with a `interface` (netifd) name, as last
    /// resolved (on start and reload).
    resolved: Vec<Option<String>>,
    joined: Vec<u32>,
    send_errors: u64,
    send_log: RateLimit,
}

impl Daemon {
    fn resolve(config: &Config) -> Vec<Option<String>> {
        config
            .interfaces
            .iter()
            .map(|i| match &i.link {
                ConfigLink::Device(d) => Some(d.clone()),
                ConfigLink::Network(n) => {
                    let dev = v6only_common::netifd::device_of(n);
                    if dev.is_none() {
                        log::warn!("interface '{n}': netifd knows no device for it (yet); waiting for it to come up");
                    }
                    dev
                }
            })
            .collect()
    }

    /// The router's interfaces from the config and the kernel's links and addresses.
    fn sync_interfaces(&mut self, now: Instant) {
        let mut seen = Vec::new();
        for (i, dev) in self.config.interfaces.iter().zip(&self.resolved) {
            let Some(dev) = dev else { continue };
            let Some(link) = self.view.links.iter().find(|l| &l.name == dev) else {
                continue;
            };
            let link_local = self.view.link_locals(link.index);
            let iface = Interface {
                ifindex: link.index,
                name: link.name.clone(),
                mtu: link.mtu.max(1280),
                up: link.up && link.running && !link_local.is_empty(),
                link_local,
                cost: i.cost,
                split_horizon: i.split_horizon,
                passive: i.passive,
                accept_default: i.accept_default,
            };
            seen.push(iface.ifindex);
            if !iface.passive && !self.joined.contains(&iface.ifindex) {
                match self.socket.membership(iface.ifindex, true) {
                    Ok(()) => self.joined.push(iface.ifindex),
                    Err(e) => log::warn!("{}: joining {}: {e}", iface.name, wire::GROUP),
                }
            }
            if self
                .router
                .interfaces()
                .iter()
                .find(|x| x.ifindex == iface.ifindex)
                != Some(&iface)
            {
                self.router.set_interface(iface, now);
            }
        }
        let gone: Vec<u32> = self
            .router
            .interfaces()
            .iter()
            .map(|i| i.ifindex)
            .filter(|i| !seen.contains(i))
            .collect();
        for ifindex in gone {
            self.router.remove_interface(ifindex, now);
        }
        let (socket, links) = (&self.socket, &self.view.links);
        self.joined.retain(|ifindex| {
            let keep = seen.contains(ifindex)
                && !self.config.interfaces.is_empty()
                && self
                    .router
                    .interfaces()
                    .iter()
                    .any(|i| i.ifindex == *ifindex && !i.passive);
            if !keep && links.iter().any(|l| l.index == *ifindex) {
                let _ = socket.membership(*ifindex, false);
            }
            keep
        });
    }

    fn sync_local(&mut self, now: Instant) {
        let local = redistribute::local_routes(
            &self.config,
            &self.view.addresses(),
            &self.view.kernel_routes(),
        );
        self.router.set_local_routes(local, now);
    }

    fn redump(&mut self) -> Result<(), String> {
        self.view = KernelView::dump(
            &mut self.kernel.nl,
            self.config.kernel.table,
            self.config.kernel.protocol,
        )?;
        Ok(())
    }

    /// The withdrawals of a clean stop, given up to a second to leave.
    fn flush_before_exit(&mut self) {
        let give_up = Instant::now() + Duration::from_secs(1);
        loop {
            let now = Instant::now();
            self.flush(now);
            if self.outbox.blocked.is_none() || now >= give_up {
                return;
            }
            std::thread::sleep(Outbox::RETRY);
            self.outbox.retry_at = None;
        }
    }

    /// Sends what the core has to send (until the socket's buffer is full: the rest waits
    /// for it to drain, see [`Outbox`]) and makes its kernel changes.
    fn flush(&mut self, now: Instant) {
        // After an ENOBUFS: nothing goes before `retry_at`.
        if self.outbox.retry_at.is_some_and(|t| now >= t) {
            self.outbox.retry_at = None;
        }
        let mut sending = self.outbox.retry_at.is_none();
        while sending {
            let t = match self.outbox.blocked.take() {
                Some(t) => t,
                None => match self.router.poll_transmit(&mut self.outbox.buf) {
                    Some(t) => t,
                    None => {
                        sending = false;
                        continue;
                    }
                },
            };
            match self
                .socket
                .send(&self.outbox.buf[..t.len], t.ifindex, t.dst, t.port)
            {
                Ok(()) => {}
                // A slow link (a qdisc holding our packets): wait until there is room, so
                // that a 10,000-route update is paced, not cut short.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.outbox.blocked = Some(t);
                    self.outbox.retry_at = None;
                    sending = false;
                }
                // The qdisc dropped it, or the device had no room: try again shortly.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.outbox.blocked = Some(t);
                    self.outbox.retry_at = Some(now + Outbox::RETRY);
                    sending = false;
                }
                Err(e) => {
                    self.send_errors += 1;
                    let secs = self.kernel.started.elapsed().as_secs();
                    self.send_log.log(
                        log::Level::Warn,
                        secs,
                        format_args!("sending to {} on ifindex {}: {e}", t.dst, t.ifindex),
                    );
                }
            }
        }
        while let Some(op) = self.router.poll_kernel() {
            let prefix = match &op {
                KernelOp::Install { prefix, .. } | KernelOp::Remove { prefix } => *prefix,
            };
            if !self.kernel.apply(op) {
                self.router.kernel_refused(&prefix);
            }
        }
    }

    fn reload(&mut self, config_path: &Path) -> Result<(), String> {
        let new = load(config_path)?.config;
        for w in &new.warnings {
            log::warn!("{w}");
        }
        // Our routes are known to the kernel by protocol, table and metric: with another one
        // the ones installed could be neither replaced nor removed.
        let (old, wanted) = (self.kernel.settings, new.kernel);
        if (wanted.protocol, wanted.table, wanted.metric) != (old.protocol, old.table, old.metric) {
            return Err("kernel_protocol, kernel_table and kernel_metric need a restart".into());
        }
        let now = Instant::now();
        let follows_routes = needs_routes(&new);
        if follows_routes != self.follows_routes {
            // Static or kernel redistribution added or dropped: route events too, or not,
            // and the routes read again (none were followed meanwhile). Both or neither.
            let events = open_events(&new)?;
            let view =
                KernelView::dump(&mut self.kernel.nl, new.kernel.table, new.kernel.protocol)?;
            (self.events, self.view, self.follows_routes) = (events, view, follows_routes);
        }
        self.resolved = Daemon::resolve(&new);
        self.router.reconfigure(&new, now);
        self.kernel.settings = new.kernel;
        self.config = new;
        self.sync_interfaces(now);
        self.sync_local(now);
        log::info!("reloaded: {} interfaces", self.router.interfaces().len());
        Ok(())
    }

    fn status(&self, started: Instant) -> String {
        let now = Instant::now();
        let mut j = daemon::status_object(&DAEMON.program, started);
        self.router.status(&mut j, now);
        j.begin_object("kernel")
            .field_u64("protocol", u64::from(self.config.kernel.protocol))
            .field_u64("metric", u64::from(self.config.kernel.metric))
            .field_u64("table", u64::from(self.config.kernel.table))
            .field_u64("installed", self.router.installed_count() as u64)
            .field_u64("conflicts", self.kernel.conflicts)
            .field_u64("errors", self.kernel.errors)
            .end();
        j.field_u64("send_errors", self.send_errors);
        j.finish()
    }
}

/// Whether other programs' routes matter: only to redistribute them.
fn needs_routes(config: &Config) -> bool {
    config
        .redistribute
        .iter()
        .any(|r| matches!(r.source, Source::Static | Source::Kernel))
}

fn open_events(config: &Config) -> Result<Events, String> {
    Events::open_with(needs_routes(config)).map_err(|e| format!("rtnetlink events: {e}"))
}

fn run(mut ctx: Context, loaded: Loaded<Config>) -> Result<(), String> {
    let config = loaded.config;
    if !config.enabled {
        log::info!("disabled in {}", ctx.config_path.display());
        return Ok(());
    }
    // Events first: nothing that changes between the dump and the subscription is missed.
    let events = open_events(&config)?;
    let nl = Netlink::open().map_err(|e| format!("rtnetlink: {e}"))?;
    let socket =
        RipSocket::bind(wire::PORT).map_err(|e| format!("UDP port {}: {e}", wire::PORT))?;
    let now = Instant::now();
    let mut d = Daemon {
        router: Router::new(&config, now, sys::random_seed()),
        events,
        follows_routes: needs_routes(&config),
        outbox: Outbox {
            buf: vec![0u8; 65536],
            blocked: None,
            retry_at: None,
        },
        resolved: Daemon::resolve(&config),
        socket,
        kernel: KernelSync {
            nl,
            settings: config.kernel,
            conflicts: 0,
            errors: 0,
            log: RateLimit::new(60, 5),
            started: now,
        },
        view: KernelView::default(),
        config,
        joined: Vec::new(),
        send_errors: 0,
        send_log: RateLimit::new(60, 5),
    };
    let stale = d.kernel.flush_stale()?;
    if stale > 0 {
        log::info!("removed {stale} routes left by an earlier run");
    }
    // Port 521 is bound; routes need CAP_NET_ADMIN for as long as we run.
    privilege::drop_to("ripng", &[Cap::NetAdmin], &[])?;
    d.redump()?;
    d.sync_interfaces(now);
    d.sync_local(now);
    log::info!(
        "RIPng on {} of {} interfaces, {} local routes",
        d.router.interfaces().iter().filter(|i| i.up).count(),
        d.config.interfaces.len(),
        d.router.route_count()
    );
    let mut buf = vec![0u8; 65536];
    let mut event_buf = Vec::new();
    let mut event_list = Vec::new();
    let mut poller = Poller::new();
    loop {
        d.flush(Instant::now());
        poller.clear();
        let sock_interest = if d.outbox.wants_writable() {
            Interest::ReadWrite
        } else {
            Interest::Read
        };
        let sock_token = poller.register(d.socket.as_raw_fd(), sock_interest);
        let events_token = poller.register(d.events.as_raw_fd(), Interest::Read);
        let signal_token = poller.register(ctx.signals.as_raw_fd(), Interest::Read);
        ctx.control.register(&mut poller);
        let deadline = [
            Some(d.router.poll_timeout()),
            ctx.control.next_deadline(),
            d.outbox.retry_at,
        ]
        .into_iter()
        .flatten()
        .min();
        poller
            .wait(poll::timeout_until(Instant::now(), deadline))
            .map_err(|e| format!("poll: {e}"))?;
        let now = Instant::now();
        if poller.readable(sock_token) {
            for _ in 0..BATCH {
                match d.socket.recv(&mut buf) {
                    Ok(Some(r)) => d.router.handle_packet(now, &r.from, &buf[..r.len]),
                    Ok(None) => break,
                    Err(e) => return Err(format!("reading the RIPng socket: {e}")),
                }
            }
        }
        if poller.readable(events_token) {
            event_list.clear();
            d.events
                .read(&mut event_buf, &mut event_list)
                .map_err(|e| format!("rtnetlink events: {e}"))?;
            let (mut links, mut routes, mut overrun) = (false, false, false);
            let (table, protocol) = (d.config.kernel.table, d.config.kernel.protocol);
            for event in event_list.drain(..) {
                overrun |= event == Event::Overrun;
                match d.view.apply(event, table, protocol) {
                    Changed::Links => links = true,
                    Changed::Routes => routes = true,
                    Changed::Nothing => {}
                }
            }
            if overrun {
                log::warn!("rtnetlink events overran: reading the kernel's state again");
                d.redump()?;
                links = true;
            }
            if links {
                d.sync_interfaces(now);
            }
            if links || routes {
                d.sync_local(now);
            }
            // A burst (a link with many routes gone) leaves no lasting capacity behind.
            event_list.shrink_to(64);
        }
        if poller.readable(signal_token) {
            while let Some(signal) = ctx.signals.next().map_err(|e| format!("signals: {e}"))? {
                match signal {
                    Signal::Terminate => {
                        log::info!("stopping");
                        d.router.shutdown();
                        d.flush_before_exit();
                        if d.kernel.settings.flush_on_exit {
                            let n = d.kernel.flush_stale()?;
                            log::info!("removed our {n} routes from the kernel");
                        }
                        return Ok(());
                    }
                    Signal::Reload => {
                        let _ = daemon::log_reload(d.reload(&ctx.config_path));
                    }
                }
            }
        }
        let (started, config_path) = (ctx.started, &ctx.config_path);
        ctx.control.serve(&poller, &mut |command| match command {
            "status" => Some(d.status(started)),
            "routes" => Some(d.router.routes_table(Instant::now())),
            "reload" => Some(daemon::reload_reply(daemon::log_reload(
                d.reload(config_path),
            ))),
            _ => None,
        });
        ctx.follow_control_socket(&d.config.control_socket);
        d.router.handle_timeout(Instant::now());
    }
}
