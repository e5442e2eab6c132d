//! The shape every v6only daemon shares, so that each `main.rs` holds only its own loop:
//! the `run | check | status | reload` commands, their help text, where the control socket
//! is, what `check` prints, and the fields every status reply starts with.
//!
//! Deliberately not a framework: the daemon keeps its loop and calls these pieces.
//!
//! ```no_run
//! use std::path::Path;
//! use v6only_common::cli::Program;
//! use v6only_common::daemon::{self, Context, Loaded, Spec};
//!
//! static DAEMON: Spec<()> = Spec {
//!     program: Program {
//!         name: "exampled",
//!         version: "0.1.0",
//!         default_config: "/etc/config/exampled",
//!         about: "An example.",
//!         commands: daemon::COMMANDS,
//!     },
//!     load,
//!     control_socket,
//!     run,
//! };
//!
//! fn load(path: &Path) -> Result<Loaded<()>, String> {
//!     Ok(Loaded::new((), control_socket(path)))
//! }
//!
//! fn control_socket(path: &Path) -> std::path::PathBuf {
//!     daemon::control_socket_option(&DAEMON.program, path, "exampled")
//! }
//!
//! fn run(ctx: Context, loaded: Loaded<()>) -> Result<(), String> {
//!     // bind sockets, then loop: register fds and ctx.control, poll until the core's next
//!     // deadline, serve the control socket with status and reload, read signals...
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     daemon::main(&DAEMON)
//! }
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::{self, Program};
use crate::control::{self, ControlServer};
use crate::json::Json;
use crate::signals::Signals;
use crate::uci::Package;

/// What a daemon tells the skeleton; a `static`, so that [`Context::program`] can point at it.
pub struct Spec<C: 'static> {
    pub program: Program,
    /// Reads and checks the whole config.
    pub load: fn(&Path) -> Result<Loaded<C>, String>,
    /// Only the control socket's path, for `status` and `reload`: reading the whole config
    /// may need what only the running daemon has (its network namespace, netifd).
    pub control_socket: fn(&Path) -> PathBuf,
    /// The daemon proper, with the config `load` read.
    pub run: fn(Context, Loaded<C>) -> Result<(), String>,
}

/// The help lines of the commands every daemon has, for [`Program::commands`].
pub const COMMANDS: &str = "run     run the daemon (the default)\n\
    check   validate the config: warnings and errors on stderr, exit 1 on errors\n\
    status  print the running daemon's state as JSON\n\
    reload  make the running daemon re-read its config (as SIGHUP does), print the result\n";

/// A config as the daemon's loader read it.
#[derive(Debug, Clone)]
pub struct Loaded<C> {
    pub config: C,
    /// Things worth a warning that do not stop the daemon (unknown options and the like).
    pub warnings: Vec<String>,
    /// The UCI option `control_socket`, by default [`default_control_socket`].
    pub control_socket: PathBuf,
}

impl<C> Loaded<C> {
    pub fn new(config: C, control_socket: PathBuf) -> Loaded<C> {
        Loaded {
            config,
            warnings: Vec::new(),
            control_socket,
        }
    }
}

/// What `run` hands the daemon: everything set up that every daemon needs.
pub struct Context {
    pub program: &'static Program,
    pub config_path: PathBuf,
    /// SIGTERM/SIGINT and SIGHUP, installed before anything could start a thread.
    pub signals: Signals,
    /// Bound at the config's `control_socket`: a second instance with the same socket stops
    /// here, before it touches any device.
    pub control: ControlServer,
    pub started: Instant,
}

impl Context {
    /// Moves the control socket to `path` when a reload changed `control_socket`. An error
    /// (e.g. a daemon that dropped root may not create sockets in /var/run) is logged, and the
    /// old socket keeps working.
    pub fn follow_control_socket(&mut self, path: &Path) {
        if self.control.path() != path {
            match self.control.rebind(path) {
                Ok(()) => log::info!("control socket now {}", path.display()),
                Err(e) => log::error!("control socket: {e}; still on the old one"),
            }
        }
    }

    /// A status reply's first fields: `version`, `pid` and `uptime` (seconds); the daemon
    /// adds its own and calls `finish`.
    pub fn status(&self) -> Json {
        status_object(self.program, self.started)
    }
}

/// See [`Context::status`].
pub fn status_object(program: &Program, started: Instant) -> Json {
    let mut j = Json::object();
    j.field_str("version", program.version)
        .field_u64("pid", u64::from(std::process::id()))
        .field_u64("uptime", started.elapsed().as_secs());
    j
}

/// The reply to the control command `reload`: `{"reloaded":true}` or the error.
pub fn reload_reply(result: Result<(), String>) -> String {
    match result {
        Ok(()) => r#"{"reloaded":true}"#.to_string(),
        Err(e) => control::error_reply(&e),
    }
}

/// `/var/run/<name>.sock`.
pub fn default_control_socket(program: &Program) -> PathBuf {
    control::default_path(program.name)
}

/// Parses the command line and does what it says; returns the process's exit status
/// (0, 1 on errors, 2 on a bad command line).
///
/// - `run`: installs the signals, logging (syslog, or stderr with `-v`), loads the config
///   (warnings logged), binds the control socket and calls the daemon's `run`.
/// - `check`: loads the config and prints what [`report_check`] prints.
/// - `status`, `reload`: asks the daemon on the config's control socket and prints its reply.
pub fn main<C>(spec: &'static Spec<C>) -> ExitCode {
    let program = &spec.program;
    let args = cli::parse_or_exit(program);
    let command = match args.rest.as_slice() {
        [] => "run",
        [c] => c.as_str(),
        [_, extra, ..] => return usage(program, &format!("unexpected argument '{extra}'")),
    };
    match command {
        "run" => {
            // Before anything may start a thread: the signals must be blocked in all of them.
            let signals = match Signals::install() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{}: signals: {e}", program.name);
                    return ExitCode::FAILURE;
                }
            };
            crate::log::init(program.name, args.verbose);
            match start(spec, &args.config, signals) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        "check" => {
            // Loaders may log too (resolving interfaces...): to the terminal, not syslog.
            crate::log::init(program.name, true);
            report_check(
                program,
                &args.config,
                (spec.load)(&args.config).as_ref().map(|l| &l.warnings[..]),
            )
        }
        "status" | "reload" => {
            let socket = (spec.control_socket)(&args.config);
            if control::print_reply(program.name, &socket, command) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        other => usage(program, &format!("unknown command '{other}'")),
    }
}

fn start<C>(spec: &'static Spec<C>, config_path: &Path, signals: Signals) -> Result<(), String> {
    let loaded = (spec.load)(config_path)?;
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    let control =
        ControlServer::bind(&loaded.control_socket).map_err(|e| format!("control socket: {e}"))?;
    let context = Context {
        program: &spec.program,
        config_path: config_path.to_path_buf(),
        signals,
        control,
        started: Instant::now(),
    };
    (spec.run)(context, loaded)
}

/// The option `control_socket` of the first `section_type` section in the UCI file at
/// `path` (the `main` one when there is such a section), else [`default_control_socket`]:
/// for [`Spec::control_socket`]. A file that cannot be read gives the default too.
pub fn control_socket_option(program: &Program, path: &Path, section_type: &str) -> PathBuf {
    let package = Package::load(path).ok();
    package
        .as_ref()
        .and_then(|p| {
            p.named("main")
                .filter(|s| s.section.kind == section_type)
                .or_else(|| p.sections(section_type).next())
        })
        .and_then(|s| s.get::<String>("control_socket").ok().flatten())
        .map_or_else(|| default_control_socket(program), PathBuf::from)
}

/// What `check` prints, for daemons and one-shot tools alike: every warning on stderr as
/// `<name>: warning: ...`, then `<path>: ok` on stdout (exit 0), or the error on stderr as
/// `<name>: error: ...` (exit 1).
pub fn report_check(
    program: &Program,
    path: &Path,
    result: Result<&[String], &String>,
) -> ExitCode {
    match result {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("{}: warning: {w}", program.name);
            }
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            for line in e.lines() {
                eprintln!("{}: error: {line}", program.name);
            }
            ExitCode::FAILURE
        }
    }
}

fn usage(program: &Program, message: &str) -> ExitCode {
    eprintln!(
        "{}: {message}\nTry '{} --help'.",
        program.name, program.name
    );
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: Program = Program {
        name: "exampled",
        version: "1.2.3",
        default_config: "/etc/config/exampled",
        about: "An example.",
        commands: COMMANDS,
    };

    #[test]
    fn help_lists_the_shared_commands() {
        let Ok(cli::Parsed::Print(text)) = cli::parse(&PROGRAM, ["--help".into()]) else {
            panic!()
        };
        for command in ["run ", "check ", "status ", "reload "] {
            assert!(
                text.contains(&format!("\n  {command}")),
                "{command}: {text}"
            );
        }
    }

    #[test]
    fn status_starts_with_version_pid_and_uptime() {
        let mut j = status_object(&PROGRAM, Instant::now());
        j.field_u64("queries", 1);
        assert_eq!(
            j.finish(),
            format!(
                r#"{{"version":"1.2.3","pid":{},"uptime":0,"queries":1}}"#,
                std::process::id()
            )
        );
    }

    #[test]
    fn reload_replies_are_json() {
        assert_eq!(reload_reply(Ok(())), r#"{"reloaded":true}"#);
        assert_eq!(
            reload_reply(Err("dns64.main.port: \"x\"".into())),
            r#"{"error":"dns64.main.port: \"x\""}"#
        );
    }

    #[test]
    fn control_socket_from_the_config() {
        let dir = std::env::temp_dir().join(format!("v6only-daemon-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("exampled");
        let read = |text: &str| {
            std::fs::write(&file, text).unwrap();
            control_socket_option(&PROGRAM, &file, "exampled")
        };
        assert_eq!(
            read("config exampled 'main'\n\toption control_socket '/tmp/a.sock'\n"),
            Path::new("/tmp/a.sock")
        );
        assert_eq!(
            read("config other 'main'\n\toption control_socket '/tmp/x.sock'\nconfig exampled\n\toption control_socket '/tmp/b.sock'\n"),
            Path::new("/tmp/b.sock"),
            "a main section of another type does not count"
        );
        assert_eq!(
            read("config exampled 'main'\n"),
            Path::new("/var/run/exampled.sock")
        );
        assert_eq!(
            control_socket_option(&PROGRAM, &dir.join("absent"), "exampled"),
            Path::new("/var/run/exampled.sock")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_socket_is_named_after_the_program() {
        assert_eq!(
            default_control_socket(&PROGRAM),
            Path::new("/var/run/exampled.sock")
        );
    }
}
