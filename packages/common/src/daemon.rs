//! The shape every v6only daemon shares, so that each `main.rs` holds only its own loop:
//! the `run | check | status | reload` commands, their help text, where the control socket
//! is, what `check` prints, and the fields every status reply starts with.
//!
//! Deliberately not a framework: the daemon keeps its loop and calls these pieces.
//!
//! ```no_run
//! use std::path::Path;
//! use v6only_common::cli::Program;
//! use v6only_common::daemon::{self, Context, Errors, Loaded, Refused, Spec};
//! use v6only_common::uci::Package;
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
//!     queries: &[],
//! };
//!
//! fn load(path: &Path) -> Result<Loaded<()>, Refused> {
//!     let package = Package::load(path).map_err(|e| e.to_string())?;
//!     // Every section and option read, each error kept: check names them all.
//!     let mut errors = Errors::default();
//!     for s in package.sections("exampled") {
//!         let _port: Option<u16> = errors.range(&s, "port", 1, 65535).map(|p| p as u16);
//!     }
//!     let warnings = errors.finish(Vec::new())?;
//!     let mut loaded = Loaded::new((), control_socket(path));
//!     loaded.warnings = warnings;
//!     Ok(loaded)
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

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::{self, Program};
use crate::control::{self, ControlServer};
use crate::json::Json;
use crate::signals::Signals;
use crate::uci::{ConfigError, Package};
use crate::validate::Datatype;

/// What a daemon tells the skeleton; a `static`, so that [`Context::program`] can point at it.
pub struct Spec<C: 'static> {
    pub program: Program,
    /// Reads and checks the whole config: every error it finds (see [`Errors`]).
    pub load: fn(&Path) -> Result<Loaded<C>, Refused>,
    /// Only the control socket's path, for `status` and `reload`: reading the whole config
    /// may need what only the running daemon has (its network namespace, netifd).
    pub control_socket: fn(&Path) -> PathBuf,
    /// The daemon proper, with the config `load` read.
    pub run: fn(Context, Loaded<C>) -> Result<(), String>,
    /// The daemon's own commands beyond `status` and `reload`, asked on the control socket
    /// the same way (ripng's `routes`); their help lines go in [`Program::commands`].
    pub queries: &'static [&'static str],
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

/// Every error a config loader finds: it goes on past a bad option (with the default in its
/// place) to the other options and sections, so that `check` names them all at once.
///
/// ```
/// # use std::path::Path;
/// # use v6only_common::{daemon::Errors, uci::Package, validate::Port};
/// let pkg = Package::parse(Path::new("x"), "config x 'main'\n option port 'a'\n option on 'b'\n").unwrap();
/// let s = pkg.named("main").unwrap();
/// let mut errors = Errors::default();
/// let port = errors.get(&s, "port").unwrap_or(Port(53));
/// let on = errors.get(&s, "on").unwrap_or(true);
/// assert_eq!((port, on, errors.0.len()), (Port(53), true, 2));
/// ```
#[derive(Debug, Default)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    /// The value, or `None` with the error kept.
    pub fn ok<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }
    /// [`SectionRef::get`](crate::uci::SectionRef::get): `None` when absent or invalid.
    pub fn get<T: Datatype>(&mut self, s: &crate::uci::SectionRef<'_>, option: &str) -> Option<T> {
        self.ok(s.get(option)).flatten()
    }
    /// [`SectionRef::get_range`](crate::uci::SectionRef::get_range): `None` when absent or
    /// invalid.
    pub fn range(
        &mut self,
        s: &crate::uci::SectionRef<'_>,
        option: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        self.ok(s.get_range(option, min, max)).flatten()
    }
    /// [`SectionRef::list`](crate::uci::SectionRef::list): empty when invalid.
    pub fn list<T: Datatype>(&mut self, s: &crate::uci::SectionRef<'_>, option: &str) -> Vec<T> {
        self.ok(s.list(option)).unwrap_or_default()
    }
    pub fn push(&mut self, error: ConfigError) {
        self.0.push(error);
    }
    /// The warnings back when no error was found, else both as [`Refused`], the errors in
    /// file order (the files as first met, each by line).
    pub fn finish(self, warnings: Vec<String>) -> Result<Vec<String>, Refused> {
        if self.0.is_empty() {
            return Ok(warnings);
        }
        let mut files: Vec<&Path> = Vec::new();
        let mut keyed: Vec<(usize, usize, String)> = Vec::new();
        for e in &self.0 {
            let file = files.iter().position(|f| *f == e.path).unwrap_or_else(|| {
                files.push(&e.path);
                files.len() - 1
            });
            keyed.push((file, e.line, e.to_string()));
        }
        keyed.sort_by_key(|k| (k.0, k.1));
        Err(Refused {
            errors: keyed.into_iter().map(|k| k.2).collect(),
            warnings,
        })
    }
}

/// A config that was refused: every error, and the warnings found on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refused {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// One error (a file that cannot be read or parsed...).
impl From<String> for Refused {
    fn from(error: String) -> Refused {
        Refused {
            errors: vec![error],
            warnings: Vec::new(),
        }
    }
}

/// The errors one per line, for a reload's log and reply.
impl From<Refused> for String {
    fn from(r: Refused) -> String {
        r.to_string()
    }
}

impl Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(e)?;
        }
        Ok(())
    }
}

/// Logs a failed reload, each error on its own line, and hands the result on: the running
/// config stays.
pub fn log_reload(result: Result<(), String>) -> Result<(), String> {
    if let Err(e) = &result {
        for line in e.lines() {
            log::error!("reload: {line}; keeping the running config");
        }
    }
    result
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
///   (warnings logged; on errors, each is logged and nothing starts), binds the control
///   socket and calls the daemon's `run`.
/// - `check`: loads the config and prints what [`report`] prints.
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
                    for line in e.lines() {
                        log::error!("{line}");
                    }
                    ExitCode::FAILURE
                }
            }
        }
        "check" => {
            // Loaders may log too (resolving interfaces...): to the terminal, not syslog.
            crate::log::init(program.name, true);
            match (spec.load)(&args.config) {
                Ok(l) => report(program, &args.config, &l.warnings, &[]),
                Err(r) => report(program, &args.config, &r.warnings, &r.errors),
            }
        }
        c if c == "status" || c == "reload" || spec.queries.contains(&c) => {
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
    let loaded = (spec.load)(config_path);
    let warnings = match &loaded {
        Ok(l) => &l.warnings,
        Err(r) => &r.warnings,
    };
    for w in warnings {
        log::warn!("{w}");
    }
    let loaded = loaded?;
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
        .and_then(|p| p.main(section_type))
        .and_then(|s| s.get::<String>("control_socket").ok().flatten())
        .map_or_else(|| default_control_socket(program), PathBuf::from)
}

/// What `check` prints, for daemons and one-shot tools alike: every warning on stderr as
/// `<name>: warning: ...`, then every error as `<name>: error: ...` (exit 1), or, without
/// errors, `<path>: ok` on stdout (exit 0).
pub fn report(program: &Program, path: &Path, warnings: &[String], errors: &[String]) -> ExitCode {
    for w in warnings {
        eprintln!("{}: warning: {w}", program.name);
    }
    if errors.is_empty() {
        println!("{}: ok", path.display());
        return ExitCode::SUCCESS;
    }
    for e in errors {
        eprintln!("{}: error: {e}", program.name);
    }
    ExitCode::FAILURE
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
    fn errors_are_collected_with_the_warnings() {
        let pkg = Package::parse(
            Path::new("/etc/config/exampled"),
            "config exampled 'main'\n\toption port 'x'\n\tlist addr '::1 nope'\n\toption n '9'\n",
        )
        .unwrap();
        let s = pkg.named("main").unwrap();
        let mut errors = Errors::default();
        // Read in another order than the file's: reported in the file's.
        assert_eq!(errors.range(&s, "n", 1, 5), None);
        assert_eq!(errors.get::<crate::validate::Port>(&s, "port"), None);
        assert!(errors.list::<std::net::Ipv6Addr>(&s, "addr").is_empty());
        assert_eq!(errors.range(&s, "absent", 1, 5), None);
        assert_eq!(errors.get::<bool>(&s, "absent"), None);
        let r = errors.finish(vec!["w".into()]).unwrap_err();
        assert_eq!(r.warnings, ["w"]);
        assert_eq!(
            r.errors,
            [
                "/etc/config/exampled:2: exampled.main.port: 'x' is not a valid port (0-65535)",
                "/etc/config/exampled:3: exampled.main.addr: 'nope' is not a valid IPv6 address",
                "/etc/config/exampled:4: exampled.main.n: '9' is not a valid integer (1-5)",
            ]
        );
        assert_eq!(String::from(r.clone()), r.errors.join("\n"));
        // Files in the order first met.
        let other = Package::parse(Path::new("/a"), "config x\n\toption port 'y'\n").unwrap();
        let o = other.sections("x").next().unwrap();
        let mut errors = Errors::default();
        errors.get::<crate::validate::Port>(&o, "port");
        errors.range(&s, "n", 1, 5);
        errors.get::<crate::validate::Port>(&s, "port");
        let r = errors.finish(Vec::new()).unwrap_err();
        assert!(r.errors[0].starts_with("/a:2: a.@x[0].port"), "{r}");
        assert!(r.errors[1].starts_with("/etc/config/exampled:2:"), "{r}");
        assert!(r.errors[2].starts_with("/etc/config/exampled:4:"), "{r}");
        assert_eq!(
            Errors::default().finish(vec!["w".into()]),
            Ok(vec!["w".into()])
        );
        assert_eq!(Refused::from("e".to_string()).errors, ["e"]);
    }

    #[test]
    fn default_socket_is_named_after_the_program() {
        assert_eq!(
            default_control_socket(&PROGRAM),
            Path::new("/var/run/exampled.sock")
        );
    }
}
