//! The shape every v6only daemon shares, so that each `main.rs` holds only its own loop:
//! the `run | check | status | reload` commands, their help text, where the control socket
//! is, what `check` prints, and the fields every status reply starts with.
//!
//! Deliberately not a framework: the daemon keeps its loop and calls these pieces.
//!
//! ```no_run
//! use std::path::Path;
//! use v6only_common::cli::Program;
//! use v6only_common::daemon::{self, Context, Loaded};
//!
//! const PROGRAM: Program = Program {
//!     name: "exampled",
//!     version: "0.1.0",
//!     default_config: "/etc/config/exampled",
//!     about: "An example.",
//!     commands: daemon::COMMANDS,
//! };
//!
//! fn load(path: &Path) -> Result<Loaded<()>, String> {
//!     Ok(Loaded::new((), daemon::default_control_socket(&PROGRAM)))
//! }
//!
//! fn run(ctx: Context, loaded: Loaded<()>) -> Result<(), String> {
//!     // bind sockets, then loop: register fds and ctx.control, poll until the core's next
//!     // deadline, serve the control socket with status and reload, read signals...
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     daemon::main(&PROGRAM, load, run)
//! }
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::{self, Program};
use crate::control::{self, ControlServer};
use crate::json::Json;
use crate::signals::Signals;

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
///   (warnings logged), binds the control socket and calls `run`.
/// - `check`: loads the config and prints what [`report_check`] prints.
/// - `status`, `reload`: asks the daemon on the config's control socket (the default one
///   when the config cannot be read) and prints its reply.
pub fn main<C>(
    program: &'static Program,
    load: fn(&Path) -> Result<Loaded<C>, String>,
    run: fn(Context, Loaded<C>) -> Result<(), String>,
) -> ExitCode {
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
            match start(program, &args.config, signals, load, run) {
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
                load(&args.config).as_ref().map(|l| &l.warnings[..]),
            )
        }
        "status" | "reload" => {
            let socket = match load(&args.config) {
                Ok(l) => l.control_socket,
                Err(e) => {
                    eprintln!(
                        "{}: warning: {e}; asking on the default control socket",
                        program.name
                    );
                    default_control_socket(program)
                }
            };
            if control::print_reply(program.name, &socket, command) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        other => usage(program, &format!("unknown command '{other}'")),
    }
}

fn start<C>(
    program: &'static Program,
    config_path: &Path,
    signals: Signals,
    load: fn(&Path) -> Result<Loaded<C>, String>,
    run: fn(Context, Loaded<C>) -> Result<(), String>,
) -> Result<(), String> {
    let loaded = load(config_path)?;
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    let control =
        ControlServer::bind(&loaded.control_socket).map_err(|e| format!("control socket: {e}"))?;
    let context = Context {
        program,
        config_path: config_path.to_path_buf(),
        signals,
        control,
        started: Instant::now(),
    };
    run(context, loaded)
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
    fn default_socket_is_named_after_the_program() {
        assert_eq!(
            default_control_socket(&PROGRAM),
            Path::new("/var/run/exampled.sock")
        );
    }
}
