//! nat64: the daemon around the sans-IO core. Owns the TUN device, its netlink setup, the
//! poll loop, signals (SIGTERM stops, SIGHUP reloads keeping state) and the control socket.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nat64::config::{self, DaemonConfig};
use nat64::netlink::{Netlink, Route};
use nat64::state::Proto;
use nat64::tun::Tun;
use nat64::{Drop, Nat64, PacketBuf};
use v6only_common::cli::{self, Program};
use v6only_common::control::{self, ControlServer};
use v6only_common::json::Json;
use v6only_common::poll::{Interest, Poller};
use v6only_common::signals::{Signal, Signals};

const PROGRAM: Program = Program {
    name: "nat64",
    version: env!("CARGO_PKG_VERSION"),
    default_config: "/etc/config/nat64",
    about: "Stateful NAT64 (RFC 6146, RFC 7915) on a TUN device.",
    commands: "run             run the translator (default)\n  \
               status          print the running daemon's counters as JSON\n  \
               check           validate the config and exit\n",
};

/// Packets handled per wake-up before looking at signals and the control socket again.
const BATCH: usize = 256;

fn main() -> ExitCode {
    let args = cli::parse_or_exit(&PROGRAM);
    let command = args.rest.first().map(String::as_str).unwrap_or("run");
    match command {
        "run" => {
            // Before anything may start a thread: the signals must be blocked in all of them.
            let signals = match Signals::install() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("nat64: signals: {e}");
                    return ExitCode::FAILURE;
                }
            };
            v6only_common::log::init("nat64", args.verbose);
            match run(&args.config, signals) {
                Ok(()) => ExitCode::SUCCESS,
                Err(msg) => {
                    log::error!("{msg}");
                    ExitCode::FAILURE
                }
            }
        }
        "check" => match config::load(&args.config) {
            Ok(c) => {
                for w in &c.warnings {
                    eprintln!("nat64: warning: {w}");
                }
                println!("{}: ok", args.config.display());
                ExitCode::SUCCESS
            }
            Err(msg) => {
                eprintln!("nat64: {msg}");
                ExitCode::FAILURE
            }
        },
        "status" => {
            let socket = config::load(&args.config)
                .map(|c| c.control_socket)
                .unwrap_or_else(|_| control::default_path("nat64"));
            if control::print_reply("nat64", &socket, "status") {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        other => {
            eprintln!("nat64: unknown command '{other}'\nTry 'nat64 --help'.");
            ExitCode::from(2)
        }
    }
}

fn load(path: &Path) -> Result<DaemonConfig, String> {
    let c = config::load(path)?;
    for w in &c.warnings {
        log::warn!("{w}");
    }
    Ok(c)
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
/// e.g. of another process holding the TUN open. Declared after the `Tun`, so dropped first.
impl std::ops::Drop for OwnRoutes {
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

fn run(config_path: &Path, signals: Signals) -> Result<(), String> {
    let mut current = load(config_path)?;
    let tun = Tun::open(&current.tun_device, current.offload)
        .map_err(|e| format!("creating TUN device {}: {e}", current.tun_device))?;
    let mut own_routes = OwnRoutes {
        ifindex: tun.ifindex,
        added: Vec::new(),
    };
    configure_device(&tun, &current, &mut own_routes)?;
    let mut control = ControlServer::bind(&current.control_socket)
        .map_err(|e| format!("control socket {}: {e}", current.control_socket.display()))?;
    let mut nat = Nat64::new(current.translator.clone(), Instant::now());
    if tun.vnet {
        log::info!(
            "TUN offloads on: TCP super-packets translated whole, checksums left to the kernel"
        );
    }
    let mut buf = PacketBuf::new();
    let mut poller = Poller::new();
    let mut write_errors: u64 = 0;
    let mut next_expire = Instant::now() + Duration::from_secs(1);
    log::info!(
        "translating {} <-> pool4 {} on {} (max {} sessions)",
        current.translator.prefix,
        pool_text(&current),
        tun.name,
        current.translator.state.max_sessions
    );
    loop {
        poller.clear();
        let tun_token = poller.register(std::os::fd::AsRawFd::as_raw_fd(&tun), Interest::Read);
        let signal_token =
            poller.register(std::os::fd::AsRawFd::as_raw_fd(&signals), Interest::Read);
        control.register(&mut poller);
        let deadline = control
            .next_deadline()
            .map_or(next_expire, |d| d.min(next_expire));
        poller
            .wait(Some(deadline.saturating_duration_since(Instant::now())))
            .map_err(|e| format!("poll: {e}"))?;

        if poller.readable(tun_token) {
            let now = Instant::now();
            for _ in 0..BATCH {
                match tun.recv(buf.recv_area()) {
                    Ok(Some((n, offload))) => {
                        buf.set_received(n);
                        buf.offload = offload;
                        nat.process(&mut buf, now, &mut |packet, offload| {
                            if tun.send(packet, offload).is_err() {
                                write_errors += 1;
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("reading {}: {e}", tun.name)),
                }
            }
        }
        if poller.readable(signal_token) {
            while let Some(signal) = signals.next().map_err(|e| format!("signals: {e}"))? {
                match signal {
                    Signal::Terminate => {
                        log::info!("stopping");
                        return Ok(());
                    }
                    Signal::Reload => match load(config_path) {
                        Ok(new)
                            if new.tun_device != current.tun_device
                                || new.control_socket != current.control_socket
                                || new.offload != current.offload =>
                        {
                            log::error!("reload: tun_device, control_socket and offload need a restart; keeping the old config");
                        }
                        Ok(new) => match configure_device(&tun, &new, &mut own_routes) {
                            Ok(()) => {
                                nat.reconfigure(new.translator.clone());
                                log::info!(
                                    "reloaded: {} <-> pool4 {}",
                                    new.translator.prefix,
                                    pool_text(&new)
                                );
                                current = new;
                            }
                            Err(e) => {
                                log::error!("reload: {e}; keeping the old config");
                                // Take back what the new config got to add (the old
                                // config's routes are all still there).
                                if let Ok(mut nl) = Netlink::open() {
                                    own_routes.remove_except(&mut nl, &current.routes());
                                }
                            }
                        },
                        Err(e) => log::error!("reload: {e}; keeping the old config"),
                    },
                }
            }
        }
        control.serve(&poller, &mut |command| {
            (command == "status").then(|| status_json(&nat, &current, tun.vnet, write_errors))
        });
        let now = Instant::now();
        if now >= next_expire {
            nat.expire(now, &mut |packet, offload| {
                if tun.send(packet, offload).is_err() {
                    write_errors += 1;
                }
            });
            next_expire = now + Duration::from_secs(1);
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

fn status_json(nat: &Nat64, c: &DaemonConfig, offload: bool, write_errors: u64) -> String {
    let stats = nat.stats();
    let state = nat.state();
    let mut j = Json::object();
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
        .end();
    j.begin_object("drops");
    for reason in Drop::ALL {
        j.field_u64(reason.name(), stats.dropped(reason));
    }
    j.field_u64("tun_write_errors", write_errors).end();
    let mut text = j.finish();
    text.push('\n');
    text
}
