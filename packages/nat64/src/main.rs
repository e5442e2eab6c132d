//! nat64: the daemon around the sans-IO core. Owns the TUN device, its netlink setup, the
//! poll loop, signals (SIGTERM stops, SIGHUP reloads keeping state) and the control socket;
//! the command line and the control socket's setup are `common::daemon`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nat64::config::{self, DaemonConfig};
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

/// Packets handled per wake-up before looking at signals and the control socket again.
const BATCH: usize = 256;
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

struct Daemon {
    nat: Nat64,
    current: DaemonConfig,
    /// Declared before the `Tun`: dropped first (see its `Drop`).
    own_routes: OwnRoutes,
    tun: Tun,
    write_errors: u64,
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
        if new.tun_device != self.current.tun_device || new.offload != self.current.offload {
            return Err("tun_device and offload need a restart".into());
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
        self.nat.reconfigure(new.translator.clone());
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
    let tun = Tun::open(&current.tun_device, current.offload)
        .map_err(|e| format!("creating TUN device {}: {e}", current.tun_device))?;
    let mut own_routes = OwnRoutes {
        ifindex: tun.ifindex,
        added: Vec::new(),
    };
    configure_device(&tun, &current, &mut own_routes)?;
    // Root was for the TUN device; a reload changes routes and the MTU.
    privilege::drop_to("nat64", &[Cap::NetAdmin], &[])?;
    if tun.vnet {
        log::info!(
            "TUN offloads on: TCP super-packets translated whole, checksums left to the kernel"
        );
    }
    log::info!(
        "translating {} <-> pool4 {} on {} (max {} sessions)",
        current.translator.prefix,
        pool_text(&current),
        tun.name,
        current.translator.state.max_sessions
    );
    let mut d = Daemon {
        nat: Nat64::new(current.translator.clone(), Instant::now()),
        current,
        own_routes,
        tun,
        write_errors: 0,
    };
    let mut buf = PacketBuf::new();
    let mut poller = Poller::new();
    // The timer is the core's next session expiry, known as of `expiry_checked`. Packets
    // since then may have added sessions that expire earlier: while they flow, the expiry is
    // looked up again every EXPIRY_RECHECK. An idle translator sleeps until the expiry (or
    // for good, without sessions). Parked fragments are reclaimed at the next look.
    let mut next_expiry: Option<Instant> = None;
    let mut expiry_checked = Instant::now();
    let mut traffic = false;
    loop {
        poller.clear();
        let tun_token = poller.register(std::os::fd::AsRawFd::as_raw_fd(&d.tun), Interest::Read);
        let signal_token = poller.register(
            std::os::fd::AsRawFd::as_raw_fd(&ctx.signals),
            Interest::Read,
        );
        ctx.control.register(&mut poller);
        let recheck = traffic.then_some(expiry_checked + EXPIRY_RECHECK);
        let deadline = [next_expiry, recheck, ctx.control.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        poller
            .wait(poll::timeout_until(Instant::now(), deadline))
            .map_err(|e| format!("poll: {e}"))?;

        if poller.readable(tun_token) {
            let now = Instant::now();
            let Daemon {
                nat,
                tun,
                write_errors,
                ..
            } = &mut d;
            for _ in 0..BATCH {
                match tun.recv(buf.recv_area()) {
                    Ok(Some((n, offload))) => {
                        traffic = true;
                        buf.set_received(n);
                        buf.offload = offload;
                        nat.process(&mut buf, now, &mut |packet, offload| {
                            if tun.send(packet, offload).is_err() {
                                *write_errors += 1;
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("reading {}: {e}", tun.name)),
                }
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
                        traffic = true; // new timeouts: look at the expiry again
                    }
                }
            }
        }
        let (started, config_path) = (ctx.started, &ctx.config_path);
        ctx.control.serve(&poller, &mut |command| match command {
            "status" => Some(status_json(&d, started)),
            "sessions" | SESSIONS_JSON => {
                let shown = d.nat.sessions(Instant::now(), sessions::MAX_SHOWN);
                let total = d.nat.state().total_sessions();
                Some(if command == "sessions" {
                    sessions::table(&shown, total)
                } else {
                    sessions::json(&shown, total)
                })
            }
            "reload" => {
                traffic = true;
                Some(daemon::reload_reply(d.reload_logged(config_path)))
            }
            _ => None,
        });
        ctx.follow_control_socket(&d.current.control_socket);
        let now = Instant::now();
        let expiry_due = next_expiry.is_some_and(|t| now >= t);
        if expiry_due || (traffic && now >= expiry_checked + EXPIRY_RECHECK) {
            let Daemon {
                nat,
                tun,
                write_errors,
                ..
            } = &mut d;
            nat.expire(now, &mut |packet, offload| {
                if tun.send(packet, offload).is_err() {
                    *write_errors += 1;
                }
            });
            next_expiry = nat.next_expiry();
            expiry_checked = now;
            traffic = false;
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
    let (nat, c, offload, write_errors) = (&d.nat, &d.current, d.tun.vnet, d.write_errors);
    let stats = nat.stats();
    let state = nat.state();
    let mut j = daemon::status_object(&DAEMON.program, started);
    j.field_str("prefix", &c.translator.prefix.to_string())
        .field_str("tun_device", &c.tun_device)
        .field_bool("offload", offload);
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
