//! Logging for daemons: syslog through `/dev/log` (what OpenWrt's logd reads, so `logread`
//! shows it), ident = the program name; stderr when there is no `/dev/log` or when asked.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

/// Where log lines went after [`init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Syslog,
    Stderr,
}

/// Installs the `log` facade's logger. `to_stderr` (the `-v` foreground mode) logs to stderr at
/// debug level; otherwise syslog at info level, falling back to stderr when `/dev/log` is absent.
/// Safe to call more than once (later calls change nothing and return the active sink).
pub fn init(ident: &'static str, to_stderr: bool) -> Sink {
    todo!("{ident} {to_stderr}")
}
