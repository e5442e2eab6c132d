//! mesh-monitor: the daemon around the monitor, and the dump commands.
//!
//! `run` polls every mesh interface (or those of `list interface`) every `interval` over
//! nl80211, and sooner when nl80211 reports a station or interface coming or going; each
//! poll's snapshots go to the monitor, whose events go to syslog; the Prometheus and topology
//! files are written after each poll. `status` asks the running daemon (it alone has the
//! recent events); `stations`, `mpath`, `mpp`, `config` and `topology` read nl80211
//! themselves, so they work whether the daemon runs or not, and show the mesh as it is now.
//!
//! Without nl80211 (no wireless driver loaded) or without a mesh interface the daemon idles,
//! polls again every interval, and says so in its status.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesh_monitor::config::{self, Config};
use mesh_monitor::export;
use mesh_monitor::model::{MeshInterface, Snapshot};
use mesh_monitor::monitor::Monitor;
use mesh_monitor::nl80211::{self, Nl80211};
use mesh_monitor::show::{self, Dump};
use v6only_common::cli::{self, Flag, Parsed, Program};
use v6only_common::daemon::{self, Context, Loaded, Refused, Spec};
use v6only_common::poll::{self, Interest, Poller};
use v6only_common::privilege::{self, Cap};
use v6only_common::ratelimit::RateLimit;
use v6only_common::signals::Signal;

static DAEMON: Spec<Config> = Spec {
    program: Program {
        name: "mesh-monitor",
        version: env!("CARGO_PKG_VERSION"),
        default_config: "/etc/config/mesh-monitor",
        about: "802.11s mesh monitor over nl80211: peers, paths, proxies and their changes.",
        commands: "run       run the daemon (the default)\n\
            check     validate the config: warnings and errors on stderr, exit 1 on errors\n\
            status    print the running daemon's state and recent events as JSON\n\
            reload    make the running daemon re-read its config (as SIGHUP does), print the result\n\
            stations  [-i IFACE] [--json]  the mesh peers, as 'iw dev IFACE station dump'\n\
            mpath     [-i IFACE] [--json]  the mesh paths, as 'iw dev IFACE mpath dump'\n\
            mpp       [-i IFACE] [--json]  the proxied destinations, as 'iw dev IFACE mpp dump'\n\
            config    [-i IFACE] [--json]  the mesh parameters, as 'iw dev IFACE get mesh_param'\n\
            topology  [-i IFACE] [--dot|--json]  nodes, peer links and paths (default DOT)\n",
    },
    load,
    control_socket,
    run,
    queries: &[],
};

/// The commands that read nl80211 themselves, and their flags.
const DUMPS: [&str; 5] = ["stations", "mpath", "mpp", "config", "topology"];
const FLAGS: &[Flag] = &[
    Flag {
        name: "-i",
        value: Some("IFACE"),
    },
    Flag {
        name: "--json",
        value: None,
    },
    Flag {
        name: "--dot",
        value: None,
    },
];

/// After a station or interface event, the poll waits this long for the rest of a burst.
const EVENT_DELAY: Duration = Duration::from_millis(300);

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let name = DAEMON.program.name;
    match cli::parse_with(&DAEMON.program, argv, FLAGS) {
        Ok((Parsed::Run(args), flags)) => match args.rest.first().map(String::as_str) {
            Some(c) if DUMPS.contains(&c) => dump(&args.rest, &flags),
            _ if !flags.is_empty() => {
                eprintln!(
                    "{name}: option '{}' is for {}\nTry '{name} --help'.",
                    flags[0].0,
                    DUMPS.join(", ")
                );
                ExitCode::from(2)
            }
            // run, check, status, reload, and what daemon::main refuses.
            _ => daemon::main(&DAEMON),
        },
        Ok((Parsed::Print(text), _)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("{name}: {msg}\nTry '{name} --help'.");
            ExitCode::from(2)
        }
    }
}

fn control_socket(path: &Path) -> PathBuf {
    daemon::control_socket_option(&DAEMON.program, path, "mesh-monitor")
}

fn load(path: &Path) -> Result<Loaded<Config>, Refused> {
    let config = config::load(path)?;
    Ok(Loaded {
        warnings: config.warnings.clone(),
        control_socket: config.control_socket.clone(),
        config,
    })
}

/// The mesh interfaces to watch: all, or those named (in the kernel's order).
fn watched(all: Vec<MeshInterface>, names: &[String]) -> Vec<MeshInterface> {
    all.into_iter()
        .filter(|i| names.is_empty() || names.contains(&i.name))
        .collect()
}

/// One interface's stations, paths and proxies. A down interface (ENETDOWN: nl80211 dumps
/// only interfaces that are up) has none.
fn snapshot(nl: &mut Nl80211, iface: MeshInterface) -> io::Result<Snapshot> {
    match show::read_snapshot(nl, &iface) {
        Err(e) if e.raw_os_error() == Some(libc::ENETDOWN) => Ok(Snapshot {
            iface,
            stations: Vec::new(),
            paths: Vec::new(),
            proxies: Vec::new(),
        }),
        r => r,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `text` to `path` atomically: a temporary file next to it (a name the textfile
/// collector's `*.prom` does not match), then a rename, so a reader sees the old file or
/// the new one, never half of one.
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The output files' directories, made when missing (at start as root, before dropping it;
/// on reload as the daemon's user): those made and the files, for the daemon's user to own
/// so that it can replace them.
fn prepare_outputs(config: &Config) -> Vec<PathBuf> {
    let mut chown = Vec::new();
    for file in [&config.prometheus_file, &config.topology_file]
        .into_iter()
        .flatten()
    {
        if let Some(dir) = file.parent().filter(|d| !d.exists()) {
            match std::fs::create_dir_all(dir) {
                Ok(()) => chown.push(dir.to_path_buf()),
                Err(e) => log::warn!("creating {}: {e}", dir.display()),
            }
        }
        chown.push(file.clone());
    }
    chown
}

struct Daemon {
    config: Config,
    monitor: Monitor,
    /// None while the kernel has no nl80211 (tried again every interval).
    nl: Option<Nl80211>,
    events: Option<nl80211::Events>,
    /// Why nl80211 is not there, for the status.
    nl_error: Option<String>,
    polls: u64,
    poll_errors: u64,
    last_poll: Option<Instant>,
    /// Mesh interfaces seen in the last poll.
    mesh_interfaces: usize,
    error_log: RateLimit,
    started: Instant,
}

impl Daemon {
    fn open(&mut self) {
        if self.nl.is_some() {
            return;
        }
        match Nl80211::open() {
            Ok(nl) => {
                match nl.events() {
                    Ok(ev) => self.events = Some(ev),
                    // Polling alone still works.
                    Err(e) => log::warn!("nl80211 events: {e}; polling only"),
                }
                if self.nl_error.take().is_some() {
                    log::info!("nl80211 is there now");
                }
                self.nl = Some(nl);
            }
            Err(e) => {
                let e = if e.kind() == io::ErrorKind::NotFound {
                    "nl80211 not available (no wireless driver loaded)".to_string()
                } else {
                    format!("nl80211: {e}")
                };
                if self.nl_error.as_ref() != Some(&e) {
                    log::warn!(
                        "{e}; trying again every {} s",
                        self.config.interval.as_secs()
                    );
                }
                self.nl_error = Some(e);
            }
        }
    }

    fn poll(&mut self, now: Instant) {
        self.open();
        self.polls += 1;
        self.last_poll = Some(now);
        let Some(nl) = self.nl.as_mut() else {
            self.mesh_interfaces = 0;
            self.monitor.sync(now, Vec::new());
            self.write_outputs();
            return;
        };
        let ifaces = match nl.interfaces() {
            Ok(all) => watched(all, &self.config.interfaces),
            Err(e) => {
                self.poll_errors += 1;
                let secs = now.saturating_duration_since(self.started).as_secs();
                self.error_log.log(
                    log::Level::Warn,
                    secs,
                    format_args!("listing interfaces: {e}"),
                );
                return;
            }
        };
        self.mesh_interfaces = ifaces.len();
        let mut snaps = Vec::with_capacity(ifaces.len());
        for iface in ifaces {
            let name = iface.name.clone();
            match snapshot(nl, iface) {
                Ok(s) => snaps.push(s),
                // Gone between the listing and the dumps: the next poll will say. Another
                // error: the last snapshot stands for it this time.
                Err(e) => {
                    if e.raw_os_error() != Some(libc::ENODEV) {
                        self.poll_errors += 1;
                        let secs = now.saturating_duration_since(self.started).as_secs();
                        self.error_log.log(
                            log::Level::Warn,
                            secs,
                            format_args!("{name}: reading nl80211: {e}"),
                        );
                    }
                    if let Some(prev) = self.monitor.snapshots().find(|s| s.iface.name == name) {
                        snaps.push(prev.clone());
                    }
                }
            }
        }
        self.monitor.sync(now, snaps);
        self.write_outputs();
    }

    fn write_outputs(&mut self) {
        let now = self.started.elapsed().as_secs();
        if let Some(path) = &self.config.prometheus_file {
            if let Err(e) = write_atomic(path, &export::prometheus(&self.monitor)) {
                self.error_log.log(
                    log::Level::Warn,
                    now,
                    format_args!("writing {}: {e}", path.display()),
                );
            }
        }
        if let Some(path) = &self.config.topology_file {
            let text = if path.extension().is_some_and(|e| e == "dot") {
                export::topology_dot(&self.monitor)
            } else {
                export::topology_json(&self.monitor)
            };
            if let Err(e) = write_atomic(path, &text) {
                self.error_log.log(
                    log::Level::Warn,
                    now,
                    format_args!("writing {}: {e}", path.display()),
                );
            }
        }
    }

    /// What the daemon is doing, in words, for the status.
    fn state(&self) -> String {
        if let Some(e) = &self.nl_error {
            return e.clone();
        }
        match self.mesh_interfaces {
            0 if self.config.interfaces.is_empty() => "no mesh interface".into(),
            0 => format!(
                "no mesh interface among {}",
                self.config.interfaces.join(", ")
            ),
            n => format!("watching {n} mesh interface(s)"),
        }
    }

    fn status(&self, started: Instant) -> String {
        let now = Instant::now();
        let mut j = daemon::status_object(&DAEMON.program, started);
        j.field_str("state", &self.state())
            .field_bool("nl80211", self.nl.is_some())
            .field_bool("nl80211_events", self.events.is_some())
            .field_u64("interval", self.config.interval.as_secs());
        j.begin_array("watch");
        for i in &self.config.interfaces {
            j.item_str(i);
        }
        j.end();
        j.field_u64("polls", self.polls)
            .field_u64("poll_errors", self.poll_errors);
        match self.last_poll {
            Some(t) => j.field_u64(
                "last_poll_age_s",
                now.saturating_duration_since(t).as_secs(),
            ),
            None => j.field_null("last_poll_age_s"),
        };
        let s = self.monitor.settings();
        j.begin_object("thresholds")
            .field_u64("metric_percent", u64::from(s.metric_percent));
        match s.metric_max {
            Some(m) => j.field_u64("metric_max", u64::from(m)),
            None => j.field_null("metric_max"),
        };
        j.end();
        export::status_lists(&mut j, &self.monitor);
        self.monitor.status_events(&mut j, now, unix_now());
        j.finish()
    }

    fn reload(&mut self, config_path: &Path) -> Result<(), String> {
        let new = load(config_path)?.config;
        for w in &new.warnings {
            log::warn!("{w}");
        }
        if !new.enabled {
            return Err("enabled '0': stop the service instead (the init script does)".into());
        }
        // New output directories: made if the daemon's user may (nothing left to chown).
        prepare_outputs(&new);
        self.monitor.set_settings(new.monitor);
        self.config = new;
        log::info!(
            "reloaded: every {} s, {}",
            self.config.interval.as_secs(),
            if self.config.interfaces.is_empty() {
                "every mesh interface".to_string()
            } else {
                self.config.interfaces.join(", ")
            }
        );
        Ok(())
    }
}

fn run(mut ctx: Context, loaded: Loaded<Config>) -> Result<(), String> {
    let config = loaded.config;
    if !config.enabled {
        log::info!("disabled in {}", ctx.config_path.display());
        return Ok(());
    }
    let now = Instant::now();
    let mut d = Daemon {
        monitor: Monitor::new(config.monitor, now),
        nl: None,
        events: None,
        nl_error: None,
        polls: 0,
        poll_errors: 0,
        last_poll: None,
        mesh_interfaces: 0,
        error_log: RateLimit::new(60, 5),
        started: now,
        config,
    };
    // The event socket's larger buffer (SO_RCVBUFFORCE) wants root or CAP_NET_ADMIN.
    d.open();
    let chown = prepare_outputs(&d.config);
    // nl80211's mesh path and proxy dumps (GET_MPATH, GET_MPP) need CAP_NET_ADMIN; stations,
    // interfaces and the mesh config need none.
    privilege::drop_to("mesh-monitor", &[Cap::NetAdmin], &chown)?;
    d.poll(now);
    log::info!("{}, every {} s", d.state(), d.config.interval.as_secs());
    let mut next_poll = now + d.config.interval;
    let mut event_buf = Vec::new();
    let mut event_list = Vec::new();
    let mut poller = Poller::new();
    loop {
        poller.clear();
        let events_token = d
            .events
            .as_ref()
            .map(|e| poller.register(e.as_raw_fd(), Interest::Read));
        let signal_token = poller.register(ctx.signals.as_raw_fd(), Interest::Read);
        ctx.control.register(&mut poller);
        let deadline = [Some(next_poll), ctx.control.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        poller
            .wait(poll::timeout_until(Instant::now(), deadline))
            .map_err(|e| format!("poll: {e}"))?;
        let now = Instant::now();
        if let (Some(token), Some(events)) = (events_token, d.events.as_mut()) {
            if poller.readable(token) {
                event_list.clear();
                match events.read(&mut event_buf, &mut event_list) {
                    Ok(()) => {}
                    Err(e) => {
                        // A datagram we cannot parse costs its events, not the daemon.
                        log::warn!("nl80211 events: {e}");
                        event_list.push(nl80211::Event::Overrun);
                    }
                }
                for e in &event_list {
                    log::debug!("nl80211 event {e:?}");
                }
                if !event_list.is_empty() {
                    next_poll = next_poll.min(now + EVENT_DELAY);
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
                        if daemon::log_reload(d.reload(&ctx.config_path)).is_ok() {
                            next_poll = now;
                        }
                    }
                }
            }
        }
        let started = ctx.started;
        let config_path = ctx.config_path.clone();
        let mut reloaded = false;
        ctx.control.serve(&poller, &mut |command| match command {
            "status" => Some(d.status(started)),
            "reload" => {
                let r = daemon::log_reload(d.reload(&config_path));
                reloaded |= r.is_ok();
                Some(daemon::reload_reply(r))
            }
            _ => None,
        });
        if reloaded {
            next_poll = now;
        }
        ctx.follow_control_socket(&d.config.control_socket);
        let now = Instant::now();
        if now >= next_poll {
            d.poll(now);
            next_poll = now + d.config.interval;
        }
    }
}

/// `stations | mpath | mpp | config | topology [-i IFACE] [--json|--dot]`: nl80211 read
/// directly, printed as iw prints it or as JSON.
fn dump(words: &[String], flags: &cli::Flags) -> ExitCode {
    let name = DAEMON.program.name;
    let command = words[0].as_str();
    if let Some(extra) = words.get(1) {
        eprintln!("{name}: unexpected argument '{extra}'\nTry '{name} --help'.");
        return ExitCode::from(2);
    }
    let iface = flags
        .iter()
        .rev()
        .find(|(f, _)| *f == "-i")
        .and_then(|(_, v)| v.clone());
    let json = flags.iter().any(|(f, _)| *f == "--json");
    let dot = flags.iter().any(|(f, _)| *f == "--dot");
    if dot && (command != "topology" || json) {
        eprintln!("{name}: --dot is for topology, without --json\nTry '{name} --help'.");
        return ExitCode::from(2);
    }
    let mut nl = match Nl80211::open() {
        Ok(nl) => nl,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!("{name}: nl80211 not available (no wireless driver loaded)");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("{name}: nl80211: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match Dump::from_command(command) {
        Some(what) => show::dump(&mut nl, what, iface.as_deref(), json).map(|mut text| {
            // JSON ends without a newline, the text with one.
            if json {
                text.push('\n');
            }
            text
        }),
        None => topology(&mut nl, iface.as_deref(), json),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `topology`: the mesh as it is now, through a monitor of one poll.
fn topology(nl: &mut Nl80211, iface: Option<&str>, json: bool) -> io::Result<String> {
    let now = Instant::now();
    let mut m = Monitor::new(Default::default(), now);
    let mut snaps = Vec::new();
    for i in show::select(nl, iface)? {
        let name = i.name.clone();
        snaps.push(snapshot(nl, i).map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?);
    }
    m.sync(now, snaps);
    Ok(if json {
        export::topology_json(&m)
    } else {
        export::topology_dot(&m)
    })
}
