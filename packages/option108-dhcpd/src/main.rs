//! option108-dhcpd: the daemon around the sans-IO core: per-device sockets, the lease
//! journal, the dnsmasq lease file, signals and the control socket.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::Level;
use option108_dhcpd::config::{self, Config};
use option108_dhcpd::ratelimit::RateLimit;
use option108_dhcpd::server::{Destination, Mac, Server};
use option108_dhcpd::store::{self, Journal};
use option108_dhcpd::sys::{DhcpSocket, SystemResolver};
use option108_dhcpd::wire::{CLIENT_PORT, MAX_MESSAGE, SERVER_PORT};
use v6only_common::cli::Program;
use v6only_common::daemon::{self, Context, Loaded, Refused, Spec};
use v6only_common::poll::{self, Interest, Poller};
use v6only_common::privilege::{self, Cap};
use v6only_common::signals::Signal;
use v6only_common::uci::Package;

static DAEMON: Spec<Config> = Spec {
    program: Program {
        name: "option108-dhcpd",
        version: env!("CARGO_PKG_VERSION"),
        default_config: "/etc/config/dhcp",
        about:
            "DHCPv4 server for mostly-IPv6-only networks (RFC 2131, RFC 8925 IPv6-Only Preferred).",
        commands: daemon::COMMANDS,
    },
    load: load_daemon_config,
    control_socket,
    run,
    queries: &[],
};

/// How long a changed lease file waits for more changes before it is written.
const LEASEFILE_DELAY: Duration = Duration::from_secs(1);
/// After a failed write (a full /tmp): not so often that a broken file keeps us awake.
const LEASEFILE_RETRY: Duration = Duration::from_secs(10);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The package's own settings file; absent is fine (defaults).
fn settings_path() -> PathBuf {
    std::env::var_os("OPTION108_DHCPD_SETTINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/config/option108-dhcpd"))
}

fn load(path: &Path) -> Result<Config, Refused> {
    let package = Package::load(path).map_err(|e| e.to_string())?;
    let settings = settings_path();
    let settings = if settings.exists() {
        Some(Package::load(&settings).map_err(|e| e.to_string())?)
    } else {
        None
    };
    config::load(&package, settings.as_ref(), &SystemResolver)
}

fn load_daemon_config(path: &Path) -> Result<Loaded<Config>, Refused> {
    let config = load(path)?;
    Ok(Loaded {
        warnings: config.warnings.clone(),
        control_socket: config.control_socket.clone(),
        config,
    })
}

/// `control_socket` as [`load`] would find it (the settings file wins), without resolving
/// interfaces: `status` may run where they do not exist (another network namespace).
fn control_socket(path: &Path) -> PathBuf {
    let program = &DAEMON.program;
    let default = daemon::default_control_socket(program);
    let settings = daemon::control_socket_option(program, &settings_path(), "option108_dhcpd");
    if settings != default {
        return settings;
    }
    daemon::control_socket_option(program, path, "option108_dhcpd")
}

fn main() -> ExitCode {
    daemon::main(&DAEMON)
}

struct Pending {
    bytes: Box<[u8; MAX_MESSAGE]>,
    len: usize,
    destination: Destination,
    socket: usize,
}

struct Daemon {
    server: Server,
    config: Config,
    sockets: Vec<DhcpSocket>,
    /// Port 67 on no particular device: relayed requests (giaddr set) that arrive on an
    /// interface without a pool, and the replies to relays, which routing sends on.
    relay: Option<DhcpSocket>,
    /// Replies of the current batch, held until the batch's journal lines are synced
    /// (group commit: one fdatasync per batch, not per ACK). Reused, never shrunk.
    pending: Vec<Pending>,
    pending_len: usize,
    unsynced: bool,
    journal: Journal,
    /// When the lease file is to be written next (changes pending), else `None`.
    leasefile_due: Option<Instant>,
    journal_errors: u64,
    oversized: u64,
    /// For the lines of the I/O paths that can repeat per packet (send, receive, journal).
    io_log: RateLimit,
}

fn server_port() -> u16 {
    std::env::var("OPTION108_DHCPD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(SERVER_PORT)
}

fn open_sockets(config: &Config) -> Result<Vec<DhcpSocket>, String> {
    let port = server_port();
    config
        .pools
        .iter()
        .map(|p| {
            DhcpSocket::bind(&p.device, port)
                .map_err(|e| format!("{}: cannot listen on {} port {port}: {e}", p.name, p.device))
        })
        .collect()
}

fn run(mut ctx: Context, loaded: Loaded<Config>) -> Result<(), String> {
    let config = loaded.config;
    let sockets = open_sockets(&config)?;
    let (journal, loaded) =
        Journal::open(&config.journal).map_err(|e| format!("{}: {e}", config.journal.display()))?;
    if loaded.dropped > 0 {
        log::warn!(
            "{}: dropped {} damaged line(s) at the end (a write cut short)",
            config.journal.display(),
            loaded.dropped
        );
    }
    let mut server = Server::new(config.pools.clone());
    server.events.set_log_leases(config.log_leases);
    let t = now();
    for change in &loaded.changes {
        server.restore(change, t);
    }
    let relay = match DhcpSocket::bind("", server_port()) {
        Ok(s) => {
            // Without the filter it still works: the loop below drops what is not relayed.
            if let Err(e) = s.attach_relay_filter() {
                log::warn!("relay socket: no kernel filter ({e}); filtering in user space");
            }
            Some(s)
        }
        Err(e) => {
            log::warn!("no socket for relayed requests: {e}");
            None
        }
    };
    // Root was for port 67; a reload may bind it for a new pool, and leases set ARP
    // entries. The lease files (and their temporary files) are replaced by rename.
    let files = [&config.journal, &config.leasefile].map(|p| [p.clone(), p.with_extension("tmp")]);
    privilege::drop_to(
        "option108",
        &[Cap::NetAdmin, Cap::NetBindService],
        &files.concat(),
    )?;
    let mut d = Daemon {
        server,
        config,
        sockets,
        relay,
        pending: Vec::new(),
        pending_len: 0,
        unsynced: false,
        journal,
        leasefile_due: Some(Instant::now()),
        journal_errors: 0,
        oversized: 0,
        io_log: RateLimit::new(10, 20),
    };
    d.compact();
    for p in &d.config.pools {
        let v6 = match p.v6only_wait {
            Some(w) => format!(", IPv6-Only Preferred {w} s"),
            None => String::new(),
        };
        log::info!(
            "{}: serving {} on {} ({} addresses from {}{v6})",
            p.name,
            p.server,
            p.device,
            p.count,
            p.first
        );
    }
    log::info!("started, {} lease(s) restored", loaded.changes.len());

    let mut poller = Poller::new();
    let mut buf = vec![0u8; 4096];
    // Reused every round: the loop does not allocate.
    let mut tokens = Vec::new();
    loop {
        poller.clear();
        let sig = poller.register(ctx.signals.as_raw_fd(), Interest::Read);
        ctx.control.register(&mut poller);
        tokens.clear();
        tokens.extend(
            d.sockets
                .iter()
                .map(|s| poller.register(s.as_raw_fd(), Interest::Read)),
        );
        let relay_token = d
            .relay
            .as_ref()
            .map(|s| poller.register(s.as_raw_fd(), Interest::Read));
        // Leases expire by the clock alone (nothing to do then): the only timers are the
        // lease file's write and the control clients'. An idle server sleeps.
        let deadline = [d.leasefile_due, ctx.control.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        poller
            .wait(poll::timeout_until(Instant::now(), deadline))
            .map_err(|e| format!("poll: {e}"))?;
        if poller.readable(sig) {
            while let Ok(Some(signal)) = ctx.signals.next() {
                match signal {
                    Signal::Terminate => {
                        d.write_leasefile();
                        log::info!("stopping");
                        return Ok(());
                    }
                    Signal::Reload => {
                        let _ = d.reload_logged(&ctx.config_path);
                    }
                }
            }
        }
        for (i, token) in tokens.iter().enumerate() {
            if !poller.readable(*token) || i >= d.sockets.len() {
                continue;
            }
            // A bounded batch per socket and round, so no interface starves the others.
            for _ in 0..64 {
                match d.sockets[i].recv(&mut buf) {
                    Ok(Some(n)) => d.on_packet(i, &buf, n),
                    Ok(None) => break,
                    Err(e) => {
                        let device = &d.sockets[i].device;
                        d.io_log
                            .log(Level::Warn, now(), format_args!("{device}: receive: {e}"));
                        break;
                    }
                }
            }
            d.flush();
        }
        if relay_token.is_some_and(|t| poller.readable(t)) {
            for _ in 0..64 {
                let Some(relay) = d.relay.as_ref() else { break };
                match relay.recv(&mut buf) {
                    // Only relayed requests: a client's broadcast also reaches its device's socket.
                    Ok(Some(n)) if n >= 28 && n <= buf.len() && buf[24..28] != [0; 4] => {
                        d.on_packet(usize::MAX, &buf, n)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            d.flush();
        }
        let (started, config_path) = (ctx.started, &ctx.config_path);
        ctx.control.serve(&poller, &mut |command| match command {
            "status" => Some(d.status(started)),
            "reload" => Some(daemon::reload_reply(d.reload_logged(config_path))),
            _ => None,
        });
        ctx.follow_control_socket(&d.config.control_socket);
        if d.leasefile_due.is_some_and(|t| Instant::now() >= t) {
            d.write_leasefile();
            let live = d
                .server
                .pools()
                .iter()
                .map(|p| p.table.len())
                .sum::<usize>();
            if d.journal.wants_compaction(live) {
                d.compact();
            }
        }
    }
}

impl Daemon {
    fn on_packet(&mut self, socket: usize, buf: &[u8], n: usize) {
        if n > buf.len() {
            // Truncated by the kernel: larger than any DHCP message.
            self.oversized += 1;
            self.server.counters.received += 1;
            self.server.counters.malformed += 1;
            return;
        }
        // The relay socket's requests are matched to a pool by giaddr, not by interface.
        let ifindex = self.config.pools.get(socket).map_or(0, |p| p.ifindex);
        let outcome = self.server.handle(&buf[..n], ifindex, now());
        if let Some(change) = outcome.change {
            // The ACK goes out only once its lease is on stable storage (see flush).
            if let Err(e) = self.journal.write(&change) {
                self.journal_errors += 1;
                self.io_log.log(
                    Level::Error,
                    now(),
                    format_args!(
                        "{}: cannot store lease, reply not sent: {e}",
                        self.config.journal.display()
                    ),
                );
                return;
            }
            self.unsynced = true;
            // `outcome` borrows the server: the field directly, not mark_leasefile.
            self.leasefile_due
                .get_or_insert_with(|| Instant::now() + LEASEFILE_DELAY);
        }
        let Some(reply) = outcome.reply else { return };
        if self.pending_len == self.pending.len() {
            self.pending.push(Pending {
                bytes: Box::new([0; MAX_MESSAGE]),
                len: 0,
                destination: Destination::Broadcast,
                socket: 0,
            });
        }
        let slot = &mut self.pending[self.pending_len];
        slot.bytes[..reply.bytes.len()].copy_from_slice(reply.bytes);
        slot.len = reply.bytes.len();
        slot.destination = reply.destination;
        slot.socket = socket;
        self.pending_len += 1;
    }

    /// Ends a batch: one fdatasync for all its lease changes, then its replies.
    fn flush(&mut self) {
        if self.unsynced {
            self.unsynced = false;
            if let Err(e) = self.journal.sync() {
                self.journal_errors += 1;
                self.io_log.log(
                    Level::Error,
                    now(),
                    format_args!(
                        "{}: cannot sync leases, {} replies not sent: {e}",
                        self.config.journal.display(),
                        self.pending_len
                    ),
                );
                self.pending_len = 0;
                return;
            }
        }
        // Moved out for the sends (no allocation: the Vec's buffer travels back).
        let pending = std::mem::take(&mut self.pending);
        for p in &pending[..self.pending_len] {
            self.send(p.socket, p.destination, &p.bytes[..p.len]);
        }
        self.pending = pending;
        self.pending_len = 0;
    }

    fn send(&mut self, socket: usize, destination: Destination, bytes: &[u8]) {
        let sock = match (destination, &self.relay) {
            (Destination::Relay(_), Some(relay)) => relay,
            _ => match self.sockets.get(socket) {
                Some(s) => s,
                None => return,
            },
        };
        let to = match destination {
            Destination::Broadcast => SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT),
            Destination::Relay(ip) => SocketAddrV4::new(ip, SERVER_PORT),
            Destination::Ciaddr(ip) => SocketAddrV4::new(ip, CLIENT_PORT),
            Destination::Unicast { ip, hw } => {
                let mac = hw.mac().unwrap_or_default();
                match sock.set_arp(ip, mac) {
                    Ok(()) => SocketAddrV4::new(ip, CLIENT_PORT),
                    Err(e) => {
                        // Without the entry the unicast would wait for an ARP reply that
                        // cannot come; a broadcast reaches the client anyway.
                        self.io_log.log(
                            Level::Debug,
                            now(),
                            format_args!(
                                "{}: ARP entry {ip} -> {}: {e}; broadcasting",
                                sock.device,
                                Mac(&hw)
                            ),
                        );
                        SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
                    }
                }
            }
        };
        if let Err(e) = sock.send_to(bytes, to) {
            let device = &sock.device;
            self.io_log.log(
                Level::Warn,
                now(),
                format_args!("{device}: send to {to}: {e}"),
            );
        }
    }

    /// A lease changed: the lease file is written a little later, with what else changes.
    fn mark_leasefile(&mut self) {
        if self.leasefile_due.is_none() {
            self.leasefile_due = Some(Instant::now() + LEASEFILE_DELAY);
        }
    }

    fn write_leasefile(&mut self) {
        self.leasefile_due = None;
        if let Err(e) = store::write_dnsmasq_leases(&self.config.leasefile, &self.server, now()) {
            log::warn!("{}: {e}", self.config.leasefile.display());
            self.leasefile_due = Some(Instant::now() + LEASEFILE_RETRY);
        }
    }

    fn compact(&mut self) {
        let snapshot = store::snapshot(&self.server, now());
        if let Err(e) = self.journal.compact(&snapshot) {
            log::error!("{}: compaction failed: {e}", self.config.journal.display());
        }
    }

    fn reload_logged(&mut self, path: &Path) -> Result<(), String> {
        daemon::log_reload(self.reload(path))
    }

    /// SIGHUP or `reload`: a new config; leases are kept. On an error the old config stays.
    /// A new `control_socket` is the loop's to bind.
    fn reload(&mut self, path: &Path) -> Result<(), String> {
        let config = load(path)?;
        let sockets = if config.pools.iter().map(|p| &p.device).eq(self
            .config
            .pools
            .iter()
            .map(|p| &p.device))
        {
            None
        } else {
            // Closed first: the new sockets bind the same port.
            Some(open_sockets(&config)?)
        };
        for w in &config.warnings {
            log::warn!("{w}");
        }
        let t = now();
        let snapshot = store::snapshot(&self.server, t);
        self.server.reconfigure(config.pools.clone());
        self.server.events.set_log_leases(config.log_leases);
        for change in &snapshot {
            self.server.restore(change, t);
        }
        if let Some(s) = sockets {
            self.sockets = s;
        }
        self.config = config;
        self.mark_leasefile();
        log::info!("reloaded: {} pool(s), leases kept", self.config.pools.len());
        Ok(())
    }

    fn status(&self, started: Instant) -> String {
        let t = now();
        let c = &self.server.counters;
        let mut j = daemon::status_object(&DAEMON.program, started);
        j.begin_array("pools");
        for p in self.server.pools() {
            let in_use = p.table.in_use(t) as u64;
            j.item_object()
                .field_str("name", &p.pool.name)
                .field_str("device", &p.pool.device)
                .field_str("server", &p.pool.server.to_string())
                .field_str("first", &p.pool.first.to_string())
                .field_u64("size", p.pool.count as u64)
                .field_u64("in_use", in_use)
                .field_u64(
                    "free",
                    p.pool.count as u64 - in_use.min(p.pool.count as u64),
                )
                .field_u64(
                    "active_leases",
                    (p.table.active_leases(t) + p.active_static_leases(t)) as u64,
                )
                .field_u64("static_hosts", p.pool.hosts.len() as u64);
            match p.pool.v6only_wait {
                Some(w) => j.field_u64("v6only_wait", w as u64),
                None => j.field_null("v6only_wait"),
            };
            j.field_u64("ipv6_only_clients", p.ipv6_only_clients() as u64)
                .field_bool("ipv6_only_clients_saturated", p.ipv6_only_saturated())
                .end();
        }
        j.end();
        j.begin_object("counters")
            .field_u64("received", c.received)
            .field_u64("malformed", c.malformed)
            .field_u64("not_request", c.not_request)
            .field_u64("no_pool", c.no_pool)
            .field_u64("other_server", c.other_server)
            .field_u64("discovers", c.discovers)
            .field_u64("requests", c.requests)
            .field_u64("declines", c.declines)
            .field_u64("releases", c.releases)
            .field_u64("informs", c.informs)
            .field_u64("offers", c.offers)
            .field_u64("acks", c.acks)
            .field_u64("naks", c.naks)
            .field_u64("ipv6_only", c.ipv6_only)
            .field_u64("exhausted", c.exhausted)
            .field_u64("ignored", c.ignored)
            .field_u64("oversized", self.oversized)
            // The per-device sockets only: the relay socket's count also holds every
            // broadcast its filter rejected (the kernel counts those as drops).
            .field_u64(
                "kernel_drops",
                self.sockets.iter().map(DhcpSocket::drops).sum(),
            )
            // false: this kernel gives no drop counter, kernel_drops stays 0.
            .field_bool(
                "kernel_drops_counted",
                self.sockets.iter().all(DhcpSocket::counts_drops),
            )
            .field_u64("journal_errors", self.journal_errors)
            .field_u64(
                "log_suppressed",
                self.server.events.suppressed() + self.io_log.suppressed,
            )
            .end();
        j.field_u64("journal_lines", self.journal.lines() as u64);
        j.finish()
    }
}
