//! Logging for daemons: syslog through `/dev/log` (what OpenWrt's logd reads, so `logread`
//! shows it), ident = the program name; stderr when there is no `/dev/log` or when asked.
//!
//! logd takes a datagram `<PRI>` + 16-byte RFC 3164 timestamp (`Mmm dd hh:mm:ss `, dropped
//! when byte 15 is a space) + the rest as the message, and `logread` prints the facility and
//! level from PRI: a datagram `<30>Jan 02 03:04:05 fw-helper[123]: started` shows as
//! `daemon.info fw-helper[123]: started`. So: facility daemon, no hostname (it would end up
//! in the message), and always the timestamp (without it logd could cut 16 bytes of text).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::{Facility, LogFormat, Logger, LoggerBackend, Severity};

/// Where log lines went after [`init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Syslog,
    Stderr,
}

const SYSLOG_SOCKET: &str = "/dev/log";

static ACTIVE: OnceLock<Sink> = OnceLock::new();

/// Installs the `log` facade's logger. `to_stderr` (the `-v` foreground mode) logs to stderr at
/// debug level; otherwise syslog at info level, falling back to stderr when `/dev/log` is absent.
/// Safe to call more than once (later calls change nothing and return the active sink).
pub fn init(ident: &'static str, to_stderr: bool) -> Sink {
    *ACTIVE.get_or_init(|| {
        let logger = DaemonLogger::new(ident, to_stderr, Path::new(SYSLOG_SOCKET));
        let (sink, level) = (logger.sink(), logger.level);
        if log::set_boxed_logger(Box::new(logger)).is_ok() {
            log::set_max_level(level);
        }
        sink
    })
}

struct DaemonLogger {
    ident: &'static str,
    level: LevelFilter,
    /// `None`: stderr only.
    syslog: Option<Mutex<Syslog>>,
}

impl DaemonLogger {
    fn new(ident: &'static str, to_stderr: bool, socket: &Path) -> DaemonLogger {
        let syslog = if to_stderr {
            None
        } else {
            Syslog::connect(ident, socket).ok().map(Mutex::new)
        };
        let level = if to_stderr {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        };
        DaemonLogger {
            ident,
            level,
            syslog,
        }
    }
    fn sink(&self) -> Sink {
        if self.syslog.is_some() {
            Sink::Syslog
        } else {
            Sink::Stderr
        }
    }
}

impl Log for DaemonLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        if let Some(syslog) = &self.syslog {
            // A panic elsewhere while holding the lock must not end logging.
            let mut syslog = syslog.lock().unwrap_or_else(PoisonError::into_inner);
            match syslog.send(record.level(), &message) {
                Ok(()) => {
                    syslog.outage_reported = false;
                    return;
                }
                Err(e) if !syslog.outage_reported => {
                    syslog.outage_reported = true;
                    let _ = writeln!(
                        io::stderr(),
                        "{}: syslog: {e}; logging to stderr until it is back",
                        self.ident
                    );
                }
                Err(_) => {}
            }
        }
        let _ = writeln!(
            io::stderr(),
            "{}: {}: {message}",
            self.ident,
            level_word(record.level())
        );
    }

    fn flush(&self) {}
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug | Level::Trace => "debug",
    }
}

/// A syslog connection that reconnects after an error: when logd restarts it binds a new
/// socket at the same path, and datagrams to the old one fail.
struct Syslog {
    path: PathBuf,
    formatter: LogdFormat,
    conn: Option<Logger<LoggerBackend, LogdFormat>>,
    /// The current outage was already reported on stderr.
    outage_reported: bool,
}

impl Syslog {
    fn connect(ident: &'static str, path: &Path) -> io::Result<Syslog> {
        let formatter = LogdFormat {
            ident,
            pid: std::process::id(),
        };
        let conn = open(&formatter, path)?;
        Ok(Syslog {
            path: path.to_path_buf(),
            formatter,
            conn: Some(conn),
            outage_reported: false,
        })
    }

    fn send(&mut self, level: Level, message: &str) -> io::Result<()> {
        if let Some(conn) = &mut self.conn {
            if write(conn, level, message).is_ok() {
                return Ok(());
            }
            self.conn = None;
        }
        let mut conn = open(&self.formatter, &self.path)?;
        let sent = write(&mut conn, level, message);
        self.conn = Some(conn);
        sent
    }
}

/// RFC 3164 as logd reads it: `<PRI>Mmm dd hh:mm:ss ident[pid]: message`, facility daemon.
///
/// Not the crate's `Formatter3164`: it unwraps the `time` crate's local-offset lookup, which
/// fails in multi-threaded processes, and its time formatting costs ~46 KB on mips. logd
/// drops the timestamp and stamps its own, so UTC is as good as local time here.
#[derive(Clone)]
struct LogdFormat {
    ident: &'static str,
    pid: u32,
}

impl<T: std::fmt::Display> LogFormat<T> for LogdFormat {
    fn format<W: Write>(&self, w: &mut W, severity: Severity, message: T) -> syslog::Result<()> {
        let priority = Facility::LOG_DAEMON as u8 | severity as u8;
        let stamp = Rfc3164Time::now();
        write!(
            w,
            "<{priority}>{stamp} {}[{}]: {message}",
            self.ident, self.pid
        )
        .map_err(syslog::Error::Write)
    }
}

/// A UTC time printed as RFC 3164's `Mmm dd hh:mm:ss`.
struct Rfc3164Time {
    month: usize,
    day: u32,
    seconds_of_day: u64,
}

impl Rfc3164Time {
    fn now() -> Rfc3164Time {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Rfc3164Time::from_unix(unix)
    }

    /// Civil date from days since 1970-01-01 (the proleptic Gregorian "days from civil"
    /// inverse, in 400-year eras starting on March 1st).
    fn from_unix(unix: u64) -> Rfc3164Time {
        let days = unix / 86_400;
        let z = days + 719_468;
        let era = z / 146_097;
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
        let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
        let month = if shifted_month < 10 {
            shifted_month + 2
        } else {
            shifted_month - 10
        } as usize;
        Rfc3164Time {
            month,
            day,
            seconds_of_day: unix % 86_400,
        }
    }
}

impl std::fmt::Display for Rfc3164Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let s = self.seconds_of_day;
        write!(
            f,
            "{} {:2} {:02}:{:02}:{:02}",
            MONTHS[self.month],
            self.day,
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

fn open(formatter: &LogdFormat, path: &Path) -> io::Result<Logger<LoggerBackend, LogdFormat>> {
    syslog::unix_custom(formatter.clone(), path).map_err(into_io)
}

fn write(
    conn: &mut Logger<LoggerBackend, LogdFormat>,
    level: Level,
    message: &str,
) -> io::Result<()> {
    match level {
        Level::Error => conn.err(message),
        Level::Warn => conn.warning(message),
        Level::Info => conn.info(message),
        Level::Debug | Level::Trace => conn.debug(message),
    }
    .map_err(into_io)
}

fn into_io(e: syslog::Error) -> io::Error {
    match e {
        syslog::Error::Write(e) | syslog::Error::Io(e) => e,
        syslog::Error::Initialization(e) => io::Error::other(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A fresh directory for one test's socket, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> TempDir {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("v6only-log-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }
        fn socket(&self) -> PathBuf {
            self.0.join("log")
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A stand-in for logd's `/dev/log`.
    fn bind(path: &Path) -> UnixDatagram {
        let _ = std::fs::remove_file(path);
        let server = UnixDatagram::bind(path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        server
    }
    fn receive(server: &UnixDatagram) -> String {
        let mut buf = [0u8; 2048];
        let n = server.recv(&mut buf).expect("a datagram");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Checks a datagram the way logd reads it and returns (priority, message after the timestamp).
    fn as_logd_reads_it(datagram: &str) -> (u8, String) {
        let rest = datagram.strip_prefix('<').expect("<PRI>");
        let (priority, rest) = rest.split_once('>').unwrap();
        let stamp = &rest.as_bytes()[..16];
        assert_eq!(
            stamp[15], b' ',
            "logd drops the timestamp only when byte 15 is a space: {rest:?}"
        );
        let shape = stamp.iter().map(|&c| {
            if c.is_ascii_digit() {
                b'9'
            } else if c.is_ascii_alphabetic() {
                b'a'
            } else {
                c
            }
        });
        let shape = String::from_utf8(shape.collect()).unwrap();
        assert!(
            ["aaa 99 99:99:99 ", "aaa  9 99:99:99 "].contains(&shape.as_str()),
            "{rest:?}"
        );
        (priority.parse().unwrap(), rest[16..].to_string())
    }

    #[test]
    fn rfc3164_time_is_the_utc_calendar_date() {
        let shown = |unix| Rfc3164Time::from_unix(unix).to_string();
        assert_eq!(shown(0), "Jan  1 00:00:00");
        assert_eq!(shown(951_825_600), "Feb 29 12:00:00"); // 2000 is a leap year
        assert_eq!(shown(1_709_251_199), "Feb 29 23:59:59"); // 2024-02-29
        assert_eq!(shown(1_735_689_599), "Dec 31 23:59:59"); // 2024-12-31
        assert_eq!(shown(4_107_542_400), "Mar  1 00:00:00"); // 2100 is not a leap year
    }

    #[test]
    fn datagram_is_what_logd_parses() {
        let dir = TempDir::new();
        let server = bind(&dir.socket());
        let mut syslog = Syslog::connect("fw-helper", &dir.socket()).unwrap();
        syslog.send(Level::Info, "ruleset applied").unwrap();
        let (priority, message) = as_logd_reads_it(&receive(&server));
        assert_eq!(priority, 30, "daemon.info");
        assert_eq!(
            message,
            format!("fw-helper[{}]: ruleset applied", std::process::id())
        );
    }

    #[test]
    fn levels_map_to_syslog_severities() {
        let dir = TempDir::new();
        let server = bind(&dir.socket());
        let mut syslog = Syslog::connect("dns64", &dir.socket()).unwrap();
        for (level, priority) in [
            (Level::Error, 27),
            (Level::Warn, 28),
            (Level::Info, 30),
            (Level::Debug, 31),
            (Level::Trace, 31),
        ] {
            syslog.send(level, "x").unwrap();
            assert_eq!(as_logd_reads_it(&receive(&server)).0, priority, "{level}");
        }
    }

    #[test]
    fn reconnects_after_logd_restart() {
        let dir = TempDir::new();
        let first = bind(&dir.socket());
        let mut syslog = Syslog::connect("nat64", &dir.socket()).unwrap();
        syslog.send(Level::Info, "one").unwrap();
        assert!(receive(&first).ends_with("]: one"));

        // logd restarts: a new socket at the same path; the old connection is dead.
        drop(first);
        let second = bind(&dir.socket());
        syslog.send(Level::Info, "two").unwrap();
        assert!(receive(&second).ends_with("]: two"));

        // logd gone for a while: sending fails (the caller falls back to stderr), then recovers.
        drop(second);
        std::fs::remove_file(dir.socket()).unwrap();
        assert!(syslog.send(Level::Info, "lost").is_err());
        let third = bind(&dir.socket());
        syslog.send(Level::Warn, "three").unwrap();
        let (priority, message) = as_logd_reads_it(&receive(&third));
        assert_eq!((priority, message.ends_with("]: three")), (28, true));
    }

    #[test]
    fn logger_filters_by_level_and_sends_through_syslog() {
        let dir = TempDir::new();
        let server = bind(&dir.socket());
        let logger = DaemonLogger::new("ripng", false, &dir.socket());
        assert_eq!(
            (logger.sink(), logger.level),
            (Sink::Syslog, LevelFilter::Info)
        );
        let record = |level, args| logger.log(&Record::builder().level(level).args(args).build());
        record(Level::Debug, format_args!("hidden"));
        record(Level::Info, format_args!("route {} added", "2001:db8::/32"));
        let (priority, message) = as_logd_reads_it(&receive(&server));
        assert_eq!(
            (priority, message),
            (
                30,
                format!("ripng[{}]: route 2001:db8::/32 added", std::process::id())
            )
        );
    }

    #[test]
    fn stderr_when_asked_or_without_syslog() {
        let dir = TempDir::new();
        let verbose = DaemonLogger::new("x", true, &dir.socket());
        assert_eq!(
            (verbose.sink(), verbose.level),
            (Sink::Stderr, LevelFilter::Debug)
        );
        assert!(verbose.enabled(&Metadata::builder().level(Level::Debug).build()));
        let no_socket = DaemonLogger::new("x", false, &dir.socket());
        assert_eq!(
            (no_socket.sink(), no_socket.level),
            (Sink::Stderr, LevelFilter::Info)
        );
        assert!(!no_socket.enabled(&Metadata::builder().level(Level::Debug).build()));
    }
}
