//! nat64: the daemon around the sans-IO core. Owns the TUN device, its netlink setup, the
//! poll loop, signals (SIGTERM stops, SIGHUP reloads keeping state) and the control socket;
//! the command line and the control socket's setup are `common::daemon`'s.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nat64::config::{self, DaemonConfig};
use nat64::outbox::Outbox;
use nat64::state::Proto;
use nat64::tun::Tun;
use nat64::{sessions, DropReason, Nat64, PacketBuf};
use v6only_common::cli::{self, Flag, Parsed, Program};
use v6only_common::control;
use v6only_common::daemon::{self, Context, Loaded, Refused, Spec};
use v6only_common::netlink::{Netlink, Route};
use v6only_common::poll::{self, Interest, Poller};
use v6only_common::privilege::{self, Cap};
use v6only_common::signals::Signal;

static DAEMON: Spec<DaemonConfig> = Spec {
    program: Program {
        name: "nat64",
        version: env!("CARGO_PKG_VERSION"),
        default_config: "/etc/config/nat64",
        about: "Stateful NAT64 (RFC 6146, RFC 7915) on a TUN device.",
        commands:
            "run       run the daemon (the default)\n\
            check     validate the config: warnings and errors on stderr, exit 1 on errors\n\
            status    print the running daemon's state as JSON\n\
            sessions  [--json]  the running daemon's sessions (the first 1024), a table or JSON\n\
            reload    make the running daemon re-read its config (as SIGHUP does), print the result\n",
    },
    load,
    control_socket,
    run,
    queries: &["sessions"],
};

/// `sessions --json`: the control command too (daemon::main sends a query's word alone).
const SESSIONS_JSON: &str = "sessions --json";
const JSON_FLAG: &[Flag] = &[Flag {
    name: "--json",
    value: None,
}];

/// A worker thread's stack: the translation keeps its buffers on the heap.
const WORKER_STACK: usize = 256 * 1024;
/// While packets flow, how often the earliest session expiry is looked up again (new
/// sessions may expire before the one known; the lookup walks every session).
const EXPIRY_RECHECK: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let name = DAEMON.program.name;
    // `--json` is this program's own option (for `sessions`); everything else is
    // daemon::main's, which parses the command line again.
    match cli::parse_with(&DAEMON.program, std::env::args_os().skip(1), JSON_FLAG) {
        Ok((Parsed::Run(args), flags)) if !flags.is_empty() => {
            if args.rest != ["sessions"] {
                eprintln!("{name}: option '--json' is for sessions\nTry '{name} --help'.");
                return ExitCode::from(2);
            }
            let socket = control_socket(&args.config);
            if control::print_reply(name, &socket, SESSIONS_JSON) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => daemon::main(&DAEMON),
    }
}

fn control_socket(path: &Path) -> PathBuf {
    daemon::control_socket_option(&DAEMON.program, path, "nat64")
}

fn load(path: &Path) -> Result<Loaded<DaemonConfig>, Refused> {
    let config = config::load(path)?;
    Ok(Loaded {
        warnings: config.warnings.clone(),
        control_socket: config.control_socket.clone(),
        config,
    })
}

/// The routes this daemon added through its TUN device, so that a reload can take back
/// the ones no longer configured and a clean exit all of them. Routes nobody asked for
/// (added by hand or by other tools) are never touched.
struct OwnRoutes {
    ifindex: u32,
    added: Vec<Route>,
}

impl OwnRoutes {
    /// Removes the routes in `added` not in `keep`. A route already gone is fine.
    fn remove_except(&mut self, nl: &mut Netlink, keep: &[Route]) {
        let ifindex = self.ifindex;
        self.added.retain(|r| {
            if keep.contains(r) {
                return true;
            }
            match nl.delete_route(&r.dst, r.len, ifindex) {
                Ok(()) => log::info!("route {r} removed"),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => log::warn!("removing route {r}: {e}"),
            }
            false
        });
    }
}

/// On every exit, clean or not: closing the TUN device (it is not persistent) unregisters
/// it, and the kernel flushes the routes through it anyway (tests/system/nat64.sh checks
/// that after a SIGKILL). Deleting them here first keeps a clean exit independent of that,
/// e.g. of another process holding the TUN open. Declared before the `Tun` in `Daemon`, so
/// dropped first.
impl Drop for OwnRoutes {
    fn drop(&mut self) {
        if let Ok(mut nl) = Netlink::open() {
            self.remove_except(&mut nl, &[]);
        }
    }
}

/// Link up, MTU, and routes for the prefix and every pool/static IPv4 address; then the
/// routes a previous config had and this one does not are removed.
fn configure_device(tun: &Tun, c: &DaemonConfig, own: &mut OwnRoutes) -> Result<(), String> {
    let mut nl = Netlink::open().map_err(|e| format!("netlink: {e}"))?;
    let t = &c.translator;
    nl.link_up(tun.ifindex, t.mtu)
        .map_err(|e| format!("setting {} up with MTU {}: {e}", tun.name, t.mtu))?;
    let wanted = c.routes();
    for r in &wanted {
        nl.route(&r.dst, r.len, tun.ifindex)
            .map_err(|e| format!("route {r} dev {}: {e}", tun.name))?;
        if !own.added.contains(r) {
            own.added.push(r.clone());
        }
    }
    own.remove_except(&mut nl, &wanted);
    Ok(())
}

/// What the workers share. The translator is locked while one packet is translated, not
/// while packets are read or written (most of the cost: the kernel's side of the TUN
/// device), so workers on several cores overlap in what costs most.
struct Shared {
    translator: Mutex<Translator>,
    /// Packets flowed since the main thread last looked at the session expiry. The worker
    /// that sets it wakes the main thread (at most once per EXPIRY_RECHECK, since the main
    /// thread clears it when it looks).
    traffic: AtomicBool,
    /// A worker's end of the main thread's wake-up socket.
    wake: UnixDatagram,
    /// Why a worker stopped: the main thread stops the daemon with it.
    failed: Mutex<Option<String>>,
}

/// The core, and the counters kept under its lock (32-bit MIPS has no 64-bit atomics).
struct Translator {
    nat: Nat64,
    /// Packets read by each worker (how evenly the kernel spreads the flows).
    packets: Vec<u64>,
    write_errors: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Translator> {
        // panic = abort: a lock is never poisoned; if it were, the state is still whole.
        self.translator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
    fn wake_main(&self) {
        // A full socket already holds a wake-up.
        let _ = self.wake.send(&[1]);
    }
    /// After packets flowed: wakes the main thread if it did not know (a load first: the
    /// flag is read per packet, written once per EXPIRY_RECHECK).
    fn note_traffic(&self) {
        if !self.traffic.load(Ordering::Relaxed) && !self.traffic.swap(true, Ordering::Relaxed) {
            self.wake_main();
        }
    }
}

/// One TUN queue with its own buffers, served by a thread of its own.
struct Worker {
    /// Its index in `Translator::packets`.
    id: usize,
    queue: Arc<Tun>,
    buf: PacketBuf,
    outbox: Outbox,
}

impl Worker {
    /// Reads its queue (blocking: a worker has nothing else to wait for, and a read that
    /// sleeps costs one system call where poll, read and a read that finds nothing cost
    /// three), translates, writes back; until the process ends or reading fails.
    fn run(mut self, shared: Arc<Shared>) {
        let failure = loop {
            if let Err(e) = self.translate_one(&shared) {
                break format!("reading {}: {e}", self.queue.name);
            }
        };
        *shared.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure);
        shared.wake_main();
    }

    fn translate_one(&mut self, shared: &Shared) -> io::Result<()> {
        let Worker {
            id,
            queue,
            buf,
            outbox,
        } = self;
        let (n, offload) = queue.recv(buf.recv_area())?;
        let now = Instant::now();
        buf.set_received(n);
        buf.offload = offload;
        let span = buf.span();
        outbox.clear();
        let mut t = shared.lock();
        t.packets[*id] += 1;
        t.nat
            .process(buf, now, &mut |packet, o| outbox.push(&span, packet, o));
        drop(t);
        let failed = send_all(queue, outbox, buf);
        if failed > 0 {
            shared.lock().write_errors += failed;
        }
        shared.note_traffic();
        Ok(())
    }
}

/// Writes what `outbox` holds to `queue`; a full queue drops, as a router would. Returns
/// the number of packets that could not be written.
fn send_all(queue: &Tun, outbox: &Outbox, buf: &PacketBuf) -> u64 {
    let mut failed = 0;
    for (packet, offload) in outbox.packets(buf) {
        if queue.send(packet, offload).is_err() {
            failed += 1;
        }
    }
    failed
}

struct Daemon {
    shared: Arc<Shared>,
    current: DaemonConfig,
    workers: usize,
    /// Declared before the `Tun`: dropped first (see its `Drop`).
    own_routes: OwnRoutes,
    /// The first queue (the first worker reads it): the device's name and index, and where
    /// the main thread writes the TCP probes of expiry.
    tun: Arc<Tun>,
}

impl Daemon {
    /// A new config for the same TUN device; the sessions stay. On an error the old config
    /// stays in force.
    /// A new `control_socket` is the loop's to bind (see `Context::follow_control_socket`).
    fn reload(&mut self, config_path: &Path) -> Result<(), String> {
        let new = load(config_path)?.config;
        for w in &new.warnings {
            log::warn!("{w}");
        }
        if new.tun_device != self.current.tun_device
            || new.offload != self.current.offload
            || new.worker_count() != self.workers
        {
            return Err("tun_device, offload and workers need a restart".into());
        }
        if let Err(e) = configure_device(&self.tun, &new, &mut self.own_routes) {
            // Take back what the new config got to add (the old config's routes are all
            // still there).
            if let Ok(mut nl) = Netlink::open() {
                self.own_routes
                    .remove_except(&mut nl, &self.current.routes());
            }
            return Err(e);
        }
        self.shared.lock().nat.reconfigure(new.translator.clone());
        log::info!(
            "reloaded: {} <-> pool4 {}",
            new.translator.prefix,
            pool_text(&new)
        );
        self.current = new;
        Ok(())
    }

    fn reload_logged(&mut self, config_path: &Path) -> Result<(), String> {
        daemon::log_reload(self.reload(config_path))
    }
}

fn run(mut ctx: Context, loaded: Loaded<DaemonConfig>) -> Result<(), String> {
    let current = loaded.config;
    let workers = current.worker_count();
    let mut queues = Tun::open(&current.tun_device, current.offload, workers)
        .map_err(|e| format!("creating TUN device {}: {e}", current.tun_device))?
        .into_iter();
    let main_queue = Arc::new(queues.next().ok_or("no TUN queue")?);
    let mut own_routes = OwnRoutes {
        ifindex: main_queue.ifindex,
        added: Vec::new(),
    };
    configure_device(&main_queue, &current, &mut own_routes)?;
    // Root was for the TUN device; a reload changes routes and the MTU. Before the workers
    // start: capabilities are per thread, and they inherit the reduced set.
    privilege::drop_to("nat64", &[Cap::NetAdmin], &[])?;
    if main_queue.vnet {
        log::info!(
            "TUN offloads on: TCP super-packets translated whole, checksums left to the kernel"
        );
    }
    log::info!(
        "translating {} <-> pool4 {} on {} with {} worker{} (max {} sessions)",
        current.translator.prefix,
        pool_text(&current),
        main_queue.name,
        workers,
        if workers == 1 { "" } else { "s" },
        current.translator.state.max_sessions
    );
    let (woken, wake) = UnixDatagram::pair().map_err(|e| format!("socketpair: {e}"))?;
    for end in [&woken, &wake] {
        end.set_nonblocking(true)
            .map_err(|e| format!("socketpair: {e}"))?;
    }
    let shared = Arc::new(Shared {
        translator: Mutex::new(Translator {
            nat: Nat64::new(current.translator.clone(), Instant::now()),
            packets: vec![0; workers],
            write_errors: 0,
        }),
        traffic: AtomicBool::new(false),
        wake,
        failed: Mutex::new(None),
    });
    let all = std::iter::once(Arc::clone(&main_queue)).chain(queues.map(Arc::new));
    for (id, queue) in all.enumerate() {
        let worker = Worker {
            id,
            queue,
            buf: PacketBuf::new(),
            outbox: Outbox::new(),
        };
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("nat64-{id}"))
            .stack_size(WORKER_STACK)
            .spawn(move || worker.run(shared))
            .map_err(|e| format!("starting worker {id}: {e}"))?;
    }
    let mut d = Daemon {
        shared,
        current,
        workers,
        own_routes,
        tun: main_queue,
    };
    let mut poller = Poller::new();
    // The timer is the core's next session expiry, known as of `expiry_checked`. Packets
    // since then may have added sessions that expire earlier: while they flow, the expiry is
    // looked up again every EXPIRY_RECHECK. An idle translator sleeps until the expiry (or
    // for good, without sessions). Parked fragments are reclaimed at the next look.
    let mut next_expiry: Option<Instant> = None;
    let mut expiry_checked = Instant::now();
    loop {
        poller.clear();
        let wake_token = poller.register(woken.as_raw_fd(), Interest::Read);
        let signal_token = poller.register(ctx.signals.as_raw_fd(), Interest::Read);
        ctx.control.register(&mut poller);
        let traffic = d.shared.traffic.load(Ordering::Relaxed);
        let recheck = traffic.then_some(expiry_checked + EXPIRY_RECHECK);
        let deadline = [next_expiry, recheck, ctx.control.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        poller
            .wait(poll::timeout_until(Instant::now(), deadline))
            .map_err(|e| format!("poll: {e}"))?;

        if poller.readable(wake_token) {
            while woken.recv(&mut [0; 8]).is_ok() {}
            let failed = d.shared.failed.lock().map(|mut f| f.take());
            if let Ok(Some(e)) = failed {
                return Err(e);
            }
        }
        if poller.readable(signal_token) {
            while let Some(signal) = ctx.signals.next().map_err(|e| format!("signals: {e}"))? {
                match signal {
                    Signal::Terminate => {
                        log::info!("stopping");
                        return Ok(());
                    }
                    Signal::Reload => {
                        let _ = d.reload_logged(&ctx.config_path);
                        // New timeouts: look at the expiry again.
                        d.shared.traffic.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        let (started, config_path) = (ctx.started, &ctx.config_path);
        ctx.control.serve(&poller, &mut |command| match command {
            "status" => Some(status_json(&d, started)),
            "sessions" | SESSIONS_JSON => {
                let t = d.shared.lock();
                let shown = t.nat.sessions(Instant::now(), sessions::MAX_SHOWN);
                let total = t.nat.state().total_sessions();
                drop(t);
                Some(if command == "sessions" {
                    sessions::table(&shown, total)
                } else {
                    sessions::json(&shown, total)
                })
            }
            "reload" => {
                d.shared.traffic.store(true, Ordering::Relaxed);
                Some(daemon::reload_reply(d.reload_logged(config_path)))
            }
            _ => None,
        });
        ctx.follow_control_socket(&d.current.control_socket);
        let now = Instant::now();
        let expiry_due = next_expiry.is_some_and(|t| now >= t);
        let traffic = d.shared.traffic.load(Ordering::Relaxed);
        if expiry_due || (traffic && now >= expiry_checked + EXPIRY_RECHECK) {
            // Cleared first: a worker's packets from now on wake us again.
            d.shared.traffic.store(false, Ordering::Relaxed);
            // The few TCP probes of an expiry are written under the lock: once a second at
            // most, no Outbox is worth it.
            let mut t = d.shared.lock();
            let Translator {
                nat, write_errors, ..
            } = &mut *t;
            nat.expire(now, &mut |packet, o| {
                if d.tun.send(packet, o).is_err() {
                    *write_errors += 1;
                }
            });
            next_expiry = nat.next_expiry();
            drop(t);
            expiry_checked = now;
        }
    }
}

fn pool_text(c: &DaemonConfig) -> String {
    let parts: Vec<String> = c
        .translator
        .state
        .pool
        .iter()
        .map(|r| {
            format!(
                "{}/{} {}-{}",
                std::net::Ipv4Addr::from(r.addr),
                r.prefix_len,
                r.ports.0,
                r.ports.1
            )
        })
        .collect();
    parts.join(", ")
}

fn status_json(d: &Daemon, started: Instant) -> String {
    let (c, offload) = (&d.current, d.tun.vnet);
    let t = d.shared.lock();
    let (nat, write_errors) = (&t.nat, t.write_errors);
    let stats = nat.stats();
    let state = nat.state();
    let mut j = daemon::status_object(&DAEMON.program, started);
    j.field_str("prefix", &c.translator.prefix.to_string())
        .field_str("tun_device", &c.tun_device)
        .field_bool("offload", offload)
        .field_u64("workers", d.workers as u64);
    j.begin_array("worker_packets");
    for &count in &t.packets {
        j.item_u64(count);
    }
    j.end();
    j.begin_array("pool4");
    for r in &c.translator.state.pool {
        let text = format!(
            "{}/{} {}-{}",
            std::net::Ipv4Addr::from(r.addr),
            r.prefix_len,
            r.ports.0,
            r.ports.1
        );
        j.item_str(&text);
    }
    j.end();
    j.begin_object("sessions");
    let mut total = 0;
    for p in Proto::ALL {
        j.field_u64(p.name(), state.session_count(p));
        total += state.session_count(p);
    }
    j.field_u64("total", total)
        .field_u64("max", c.translator.state.max_sessions as u64)
        .end();
    j.field_u64("bindings", state.bib_count() as u64);
    j.begin_object("translations")
        .field_u64("v6_to_v4", stats.v6_to_v4)
        .field_u64("v4_to_v6", stats.v4_to_v6)
        .field_u64("hairpinned", stats.hairpinned)
        .field_u64("fragments_out", stats.fragments_out)
        .field_u64("icmp_errors_sent", stats.icmp_errors_sent)
        .field_u64("tcp_probes", stats.tcp_probes)
        .field_u64("syns_held", stats.syns_held)
        .end();
    j.begin_object("drops");
    for reason in DropReason::ALL {
        j.field_u64(reason.name(), stats.dropped(reason));
    }
    j.field_u64("tun_write_errors", write_errors).end();
    j.finish()
}
