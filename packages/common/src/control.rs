//! The control socket: how `<daemon> status` and `<daemon> reload` (a second process) ask the
//! running daemon.
//!
//! The daemon listens on a Unix stream socket (the UCI option `control_socket`, by default
//! `/var/run/<name>.sock`); the client sends one line (a command word such as `status`) and
//! reads the reply until EOF. Every reply is one JSON document (but for a daemon's own text
//! queries, such as ripng's `routes` table); the error replies are `{"error":"..."}`.
//!
//! Nothing here blocks the daemon: the listener and every client are non-blocking and sit in
//! the daemon's poll set ([`ControlServer::register`], then [`ControlServer::serve`] after the
//! wait). A client that sends slowly, or never reads its reply, holds one of
//! [`MAX_CLIENTS`] slots until [`CLIENT_TIMEOUT`] and costs the loop nothing meanwhile.
//!
//! Wire format: the client writes `command\n` and shuts down its writing side; the daemon
//! reads at most [`MAX_COMMAND`] bytes up to the newline (or EOF), calls the daemon's handler
//! with the command trimmed, writes `reply\n` and closes. A connection that sends nothing and
//! closes is a liveness probe (how [`ControlServer::bind`] tells a live daemon from a stale
//! socket) and gets no reply. An over-long or non-UTF-8 command gets an error reply without
//! reaching the handler.
//!
//! The socket is mode 0600: only root asks.

use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::json;
use crate::poll::{Interest, Poller, Token};

/// How long a client may take from connecting to having taken its whole reply.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients served at once; more connections are closed at once (they see no reply).
pub const MAX_CLIENTS: usize = 8;
/// The longest command line the daemon reads, newline included.
pub const MAX_COMMAND: usize = 256;
/// The reply to a command longer than [`MAX_COMMAND`].
pub const REPLY_TOO_LONG: &str = r#"{"error":"command too long"}"#;
/// The reply to a command that is not UTF-8.
pub const REPLY_NOT_UTF8: &str = r#"{"error":"command is not UTF-8"}"#;

/// Default socket path of a program: `/var/run/<name>.sock`.
pub fn default_path(program: &str) -> PathBuf {
    PathBuf::from(format!("/var/run/{program}.sock"))
}

/// The reply to a command the daemon does not know: `{"error":"unknown command '...'"}`,
/// escaped as JSON wants it.
pub fn unknown_command(command: &str) -> String {
    error_reply(&format!("unknown command '{command}'"))
}

/// `{"error":"<message>"}`, escaped as JSON wants it.
pub fn error_reply(message: &str) -> String {
    let mut reply = String::from(r#"{"error":""#);
    json::escape_into(&mut reply, message);
    reply.push_str("\"}");
    reply
}

/// The daemon side.
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
    /// The listener's token in the current poll round.
    token: Option<Token>,
    client_timeout: Duration,
}

/// One connection in progress.
struct Client {
    stream: UnixStream,
    deadline: Instant,
    /// The command line as it arrives.
    input: Vec<u8>,
    /// The reply (with its newline) once the handler has made it, and how much is sent.
    reply: Option<Vec<u8>>,
    sent: usize,
    token: Option<Token>,
}

/// What is left to do with a client after some I/O.
enum Progress {
    Waiting,
    Done,
}

impl ControlServer {
    /// Binds `path` (replacing a stale socket left by a killed daemon; refusing when another
    /// live daemon answers on it), mode 0600, non-blocking.
    ///
    /// Errors: `AddrInUse` ("another `<name>` is running") when something accepts connections on
    /// `path`; `AlreadyExists` when `path` is not a socket (it is left alone); others with the
    /// path in the message.
    pub fn bind(path: &Path) -> io::Result<ControlServer> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(with_path(path, e)),
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists and is not a socket", path.display()),
                ))
            }
            Ok(_) => match connect(path) {
                // Accepted, or a full backlog (EAGAIN): a live process is behind it.
                Ok(_) => return Err(in_use(path)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(in_use(path)),
                Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                    log::debug!(
                        "{}: removing the stale socket of a dead daemon",
                        path.display()
                    );
                    match std::fs::remove_file(path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            return Err(with_path(path, e))
                        }
                        _ => {}
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {} // removed meanwhile
                Err(e) => return Err(with_path(path, e)),
            },
        }
        // Created 0600 rather than chmod-ed after bind, so nobody else can connect in between.
        // umask is per process: a file another thread creates in this instant is 0600 too,
        // which is harmless (daemons are single-threaded).
        // SAFETY: umask only swaps the process's mask.
        let old_mask = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(old_mask) };
        let listener = bound.map_err(|e| with_path(path, e))?;
        // From here on, dropping the server on an error removes the socket file.
        let server = ControlServer {
            listener,
            path: path.to_path_buf(),
            clients: Vec::new(),
            token: None,
            client_timeout: CLIENT_TIMEOUT,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| with_path(path, e))?;
        server
            .listener
            .set_nonblocking(true)
            .map_err(|e| with_path(path, e))?;
        Ok(server)
    }

    /// Moves to a new path (a reload changed `control_socket`): binds it first, so that on an
    /// error the old socket keeps working. Clients in progress are dropped.
    pub fn rebind(&mut self, path: &Path) -> io::Result<()> {
        if path != self.path {
            let mut new = ControlServer::bind(path)?;
            new.client_timeout = self.client_timeout;
            *self = new;
        }
        Ok(())
    }

    /// The time a client gets from connecting to having taken its reply ([`CLIENT_TIMEOUT`]
    /// by default; tests shorten it).
    pub fn set_client_timeout(&mut self, timeout: Duration) {
        self.client_timeout = timeout;
    }

    /// Adds the listener and every client to `poller` for this round.
    pub fn register(&mut self, poller: &mut Poller) {
        self.token = Some(poller.register(self.listener.as_raw_fd(), Interest::Read));
        for c in &mut self.clients {
            let interest = if c.reply.is_some() {
                Interest::Write
            } else {
                Interest::Read
            };
            c.token = Some(poller.register(c.stream.as_raw_fd(), interest));
        }
    }

    /// The earliest client deadline, for the daemon's poll timeout: `None` without clients.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.iter().map(|c| c.deadline).min()
    }

    /// After the poll round's wait: accepts new clients, moves every ready one along and drops
    /// the ones past their deadline. `handle` answers a command (trimmed), `None` when it does
    /// not know it (the client then gets [`unknown_command`]).
    ///
    /// Cheap when nothing is ready: no system call, no clock read without clients. Errors of
    /// single clients are logged at debug level and never returned.
    pub fn serve(&mut self, poller: &Poller, handle: &mut dyn FnMut(&str) -> Option<String>) {
        if self.token.take().is_some_and(|t| poller.readable(t)) {
            self.accept(handle);
        }
        if self.clients.is_empty() {
            return;
        }
        let now = Instant::now();
        let path = &self.path;
        self.clients.retain_mut(|c| {
            let ready = c
                .token
                .take()
                .is_some_and(|t| poller.readable(t) || poller.writable(t));
            if ready {
                match c.progress(handle) {
                    Ok(Progress::Done) => return false,
                    Ok(Progress::Waiting) => {}
                    Err(e) => {
                        log::debug!("{}: client: {e}", path.display());
                        return false;
                    }
                }
            }
            if now >= c.deadline {
                log::debug!("{}: client timed out", path.display());
                return false;
            }
            true
        });
    }

    /// Accepts what is pending; each new client gets a first try at once (its command is
    /// usually there already, and its reply fits the socket buffer).
    fn accept(&mut self, handle: &mut dyn FnMut(&str) -> Option<String>) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= MAX_CLIENTS {
                        log::debug!("{}: too many clients, closing one", self.path.display());
                        continue;
                    }
                    // Accepted sockets do not inherit O_NONBLOCK on Linux.
                    if let Err(e) = stream.set_nonblocking(true) {
                        log::debug!("{}: client: {e}", self.path.display());
                        continue;
                    }
                    let mut client = Client {
                        stream,
                        deadline: Instant::now() + self.client_timeout,
                        input: Vec::new(),
                        reply: None,
                        sent: 0,
                        token: None,
                    };
                    match client.progress(handle) {
                        Ok(Progress::Waiting) => self.clients.push(client),
                        Ok(Progress::Done) => {}
                        Err(e) => log::debug!("{}: client: {e}", self.path.display()),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // EMFILE and the like: give the loop back; the listener stays readable.
                    log::debug!("{}: accept: {e}", self.path.display());
                    return;
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsRawFd for ControlServer {
    fn as_raw_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }
}

impl Drop for ControlServer {
    /// Removes the socket file.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Client {
    /// Reads what has come of the command line, answers it once complete, sends what the
    /// socket takes of the reply. Never blocks.
    fn progress(&mut self, handle: &mut dyn FnMut(&str) -> Option<String>) -> io::Result<Progress> {
        if self.reply.is_none() {
            let mut buf = [0u8; MAX_COMMAND];
            let eof = loop {
                let room = MAX_COMMAND - self.input.len();
                match (&self.stream).read(&mut buf[..room]) {
                    Ok(0) => break true,
                    Ok(n) => {
                        self.input.extend_from_slice(&buf[..n]);
                        if self.input.contains(&b'\n') || self.input.len() >= MAX_COMMAND {
                            break false;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Progress::Waiting)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            let line = match self.input.iter().position(|&b| b == b'\n') {
                Some(end) => Some(&self.input[..end]),
                None if eof && self.input.is_empty() => return Ok(Progress::Done), // a probe
                None if eof && self.input.len() < MAX_COMMAND => Some(&self.input[..]),
                None => None,
            };
            let mut reply = match line.map(std::str::from_utf8) {
                None => REPLY_TOO_LONG.to_string(),
                Some(Err(_)) => REPLY_NOT_UTF8.to_string(),
                Some(Ok(command)) => {
                    let command = command.trim();
                    handle(command).unwrap_or_else(|| unknown_command(command))
                }
            };
            if !reply.ends_with('\n') {
                reply.push('\n');
            }
            self.reply = Some(reply.into_bytes());
        }
        let reply = self.reply.as_deref().unwrap_or_default();
        while self.sent < reply.len() {
            match send_nosignal(&self.stream, &reply[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Waiting),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Progress::Done)
    }
}

/// One send with MSG_NOSIGNAL: a client gone away gives EPIPE, never a SIGPIPE that would
/// kill a daemon that did not ignore it.
fn send_nosignal(stream: &UnixStream, data: &[u8]) -> io::Result<usize> {
    // SAFETY: sends from a valid buffer of data.len() bytes on a socket we hold.
    let n = unsafe {
        libc::send(
            stream.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// What `<daemon> status` does: asks the daemon at `path`, prints its reply on stdout, or the
/// error on stderr as `<program>: <error>`. Returns whether it got a reply that is not an
/// `{"error":...}` one.
pub fn print_reply(program: &str, path: &Path, command: &str) -> bool {
    match request(path, command, Duration::from_secs(5)) {
        Ok(reply) => {
            println!("{}", reply.trim_end());
            !reply.starts_with(r#"{"error":"#)
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            false
        }
    }
}

/// The client side: sends `command`, returns the daemon's reply. The error names the socket
/// and says plainly when the daemon is not running.
///
/// `timeout` bounds the whole exchange. The reply is returned as the daemon's handler made
/// it (without the newline that ends it on the wire).
pub fn request(path: &Path, command: &str, timeout: Duration) -> io::Result<String> {
    if command.contains('\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a control command is one line",
        ));
    }
    let deadline = deadline_after(timeout);
    let stream = loop {
        match connect(path) {
            Ok(stream) => break stream,
            // The daemon's backlog is full: it is busy (or stuck); try again until the deadline.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "{}: the daemon does not accept connections (busy?)",
                            path.display()
                        ),
                    ));
                }
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED)) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "{}: no daemon is listening (is it running?)",
                        path.display()
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e} (only root may ask)", path.display()),
                ))
            }
            Err(e) => return Err(with_path(path, e)),
        }
    };
    let no_reply = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{}: no reply within {timeout:?}", path.display()),
        )
    };

    let mut line = Vec::with_capacity(command.len() + 1);
    line.extend_from_slice(command.as_bytes());
    line.push(b'\n');
    // A daemon that has already replied and closed (an over-long command) makes the send fail
    // with EPIPE or ECONNRESET, but its reply is still there to read.
    let sent = send_all(&stream, &line, deadline);
    match &sent {
        Err(e) if is_timeout(e) => return Err(no_reply()),
        Err(e)
            if !matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            return Err(with_path(path, io::Error::new(e.kind(), e.to_string())))
        }
        _ => {}
    }
    let _ = stream.shutdown(Shutdown::Write);

    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match read_until(&stream, &mut buf, deadline) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            // The daemon closed with part of our command unread: Linux then reports a reset
            // after the data (or instead of EOF when there is none).
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) if is_timeout(&e) => return Err(no_reply()),
            Err(e) => return Err(with_path(path, e)),
        }
    }
    if reply.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{}: the daemon closed the connection without a reply",
                path.display()
            ),
        ));
    }
    if reply.last() == Some(&b'\n') {
        reply.pop();
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// Connects without blocking: a daemon whose backlog is full gives `WouldBlock` instead of
/// hanging the caller. The stream returned is blocking.
fn connect(path: &Path) -> io::Result<UnixStream> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) address.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    // One byte left for the terminating NUL.
    if bytes.is_empty() || bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unusable Unix socket path (empty or too long)",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len =
        (std::mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: plain socket creation; the fd is owned right after the check.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new, valid socket that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: addr is an initialised sockaddr_un and len is within it. A non-blocking Unix
    // stream connect completes at once or fails (EAGAIN when the backlog is full).
    if unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// `now + timeout`, or far in the future when that overflows.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86400))
}

/// Time left until `deadline`, a timeout error when there is none.
fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timed_out("timed out"));
    }
    Ok(left)
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

/// A socket timeout shows as EAGAIN (`WouldBlock`) from read and write.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One read that returns by `deadline` (the socket timeout is the time left, so a client
/// sending a byte now and then cannot stretch it).
fn read_until(mut stream: &UnixStream, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        stream.set_read_timeout(Some(time_left(deadline)?))?;
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Writes all of `data` by `deadline`.
fn send_all(stream: &UnixStream, mut data: &[u8], deadline: Instant) -> io::Result<()> {
    while !data.is_empty() {
        stream.set_write_timeout(Some(time_left(deadline)?))?;
        match send_nosignal(stream, data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn in_use(path: &Path) -> io::Error {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_else(|| "daemon".into());
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("{}: another {name} is running", path.display()),
    )
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A private directory for a test's sockets, removed afterwards.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::SeqCst);
            let dir =
                std::env::temp_dir().join(format!("v6only-control-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }
        fn sock(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    type Handler<'a> = dyn FnMut(&str) -> Option<String> + 'a;

    /// One round of a daemon's loop: register, wait up to `wait`, serve.
    fn round(server: &mut ControlServer, wait: Duration, handle: &mut Handler) {
        let mut poller = Poller::new();
        server.register(&mut poller);
        poller.wait(Some(wait)).unwrap();
        server.serve(&poller, handle);
    }

    /// The daemon's loop in small: serves until `client` (a thread) has finished.
    fn serve_until_done<T>(
        server: &mut ControlServer,
        client: std::thread::JoinHandle<T>,
        handle: &mut Handler,
    ) -> T {
        let start = Instant::now();
        while !client.is_finished() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "client did not finish"
            );
            round(server, Duration::from_millis(20), handle);
        }
        client.join().unwrap()
    }

    fn status_handler(seen: &mut Vec<String>) -> impl FnMut(&str) -> Option<String> + '_ {
        move |command| {
            seen.push(command.to_string());
            (command == "status").then(|| r#"{"queries":3}"#.to_string())
        }
    }

    fn never_called(command: &str) -> Option<String> {
        panic!("handler called with {command:?}")
    }

    /// A client speaking the wire format by hand; returns what the daemon sent.
    fn read_reply(mut stream: &UnixStream) -> String {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{e}"),
            }
        }
        String::from_utf8(reply).unwrap()
    }

    #[test]
    fn default_path_is_under_var_run() {
        assert_eq!(default_path("dns64"), Path::new("/var/run/dns64.sock"));
    }

    #[test]
    fn error_replies_are_json() {
        assert_eq!(
            unknown_command("flush"),
            r#"{"error":"unknown command 'flush'"}"#
        );
        assert_eq!(
            unknown_command("a\"b\\c\u{1b}[2J\u{0}é"),
            r#"{"error":"unknown command 'a\"b\\c\u001b[2J\u0000é'"}"#,
            "RFC 8259: quotes, backslash and control characters escaped, UTF-8 kept"
        );
        assert_eq!(error_reply("x\ny"), r#"{"error":"x\ny"}"#);
    }

    #[test]
    fn round_trip_with_a_thread_as_client() {
        let dir = TempDir::new();
        let path = dir.sock("dns64.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        assert_eq!(server.path(), path);

        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "root-only");
        // SAFETY: F_GETFL only queries the fd.
        let flags = unsafe { libc::fcntl(server.as_raw_fd(), libc::F_GETFL) };
        assert_ne!(flags & libc::O_NONBLOCK, 0, "non-blocking listener");
        round(&mut server, Duration::ZERO, &mut never_called); // nothing pending
        assert_eq!(server.next_deadline(), None, "no clients, no timer");

        let client_path = path.clone();
        let client = std::thread::spawn(move || {
            let status = request(&client_path, "status", Duration::from_secs(5)).unwrap();
            let other = request(&client_path, "  flush \t", Duration::from_secs(5)).unwrap();
            (status, other)
        });
        let mut seen = Vec::new();
        let (status, other) = serve_until_done(&mut server, client, &mut status_handler(&mut seen));
        assert_eq!(
            status, r#"{"queries":3}"#,
            "the handler's reply, without the newline"
        );
        assert_eq!(other, r#"{"error":"unknown command 'flush'"}"#);
        assert_eq!(seen, ["status", "flush"], "commands arrive trimmed");

        drop(server);
        assert!(!path.exists(), "drop removes the socket file");
        let e = request(&path, "status", Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn all_pending_connections_are_served_in_one_round() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        let mut server = ControlServer::bind(&path).unwrap();

        let mut clients = Vec::new();
        for line in [
            &b"  status \r\n"[..],
            b"stats\n",
            b"\n",
            b"status\nextra after the line",
            b"status",
        ] {
            let mut c = UnixStream::connect(&path).unwrap();
            c.write_all(line).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            clients.push(c);
        }
        let mut seen = Vec::new();
        round(
            &mut server,
            Duration::from_secs(1),
            &mut status_handler(&mut seen),
        );
        assert_eq!(
            seen,
            ["status", "stats", "", "status", "status"],
            "EOF ends a line too"
        );
        let replies: Vec<String> = clients.iter().map(read_reply).collect();
        assert_eq!(
            replies,
            [
                "{\"queries\":3}\n",
                "{\"error\":\"unknown command 'stats'\"}\n",
                "{\"error\":\"unknown command ''\"}\n",
                "{\"queries\":3}\n",
                "{\"queries\":3}\n"
            ]
        );
        assert_eq!(server.next_deadline(), None, "all done");
    }

    #[test]
    fn stale_socket_is_replaced() {
        let dir = TempDir::new();
        let path = dir.sock("nat64.sock");
        drop(UnixListener::bind(&path).unwrap()); // a killed daemon leaves its socket file
        assert!(path.exists());
        let e = request(&path, "status", Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: no daemon is listening (is it running?)",
                path.display()
            )
        );

        let mut server = ControlServer::bind(&path).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let client_path = path.clone();
        let client =
            std::thread::spawn(move || request(&client_path, "status", Duration::from_secs(5)));
        let mut seen = Vec::new();
        assert_eq!(
            serve_until_done(&mut server, client, &mut status_handler(&mut seen)).unwrap(),
            r#"{"queries":3}"#
        );
    }

    #[test]
    fn live_socket_is_refused_and_left_working() {
        let dir = TempDir::new();
        let path = dir.sock("option108-dhcpd.sock");
        let mut first = ControlServer::bind(&path).unwrap();

        let e = ControlServer::bind(&path)
            .err()
            .expect("second bind must fail");
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(
            e.to_string(),
            format!("{}: another option108-dhcpd is running", path.display())
        );
        assert!(path.exists(), "the live daemon's socket stays");

        // The probe reaches the live daemon as a connection that sends nothing: served
        // silently, without calling the handler.
        round(&mut first, Duration::from_millis(100), &mut never_called);
        assert_eq!(first.next_deadline(), None, "the probe is done");

        let client_path = path.clone();
        let client =
            std::thread::spawn(move || request(&client_path, "status", Duration::from_secs(5)));
        let mut seen = Vec::new();
        assert_eq!(
            serve_until_done(&mut first, client, &mut status_handler(&mut seen)).unwrap(),
            r#"{"queries":3}"#
        );

        // Anything that accepts connections counts as alive, not just a ControlServer.
        let other = dir.sock("other.sock");
        let _listener = UnixListener::bind(&other).unwrap();
        assert_eq!(
            ControlServer::bind(&other).err().unwrap().kind(),
            io::ErrorKind::AddrInUse
        );
    }

    #[test]
    fn two_daemons_with_different_paths_run_side_by_side() {
        let dir = TempDir::new();
        let mut a = ControlServer::bind(&dir.sock("a.sock")).unwrap();
        let mut b = ControlServer::bind(&dir.sock("b.sock")).unwrap();
        let (pa, pb) = (dir.sock("a.sock"), dir.sock("b.sock"));
        let client = std::thread::spawn(move || {
            (
                request(&pa, "status", Duration::from_secs(5)).unwrap(),
                request(&pb, "status", Duration::from_secs(5)).unwrap(),
            )
        });
        let start = Instant::now();
        while !client.is_finished() {
            assert!(start.elapsed() < Duration::from_secs(20));
            round(&mut a, Duration::from_millis(10), &mut |_| {
                Some("\"a\"".into())
            });
            round(&mut b, Duration::from_millis(10), &mut |_| {
                Some("\"b\"".into())
            });
        }
        assert_eq!(
            client.join().unwrap(),
            ("\"a\"".to_string(), "\"b\"".to_string())
        );
    }

    #[test]
    fn rebind_moves_the_socket() {
        let dir = TempDir::new();
        let (old, new) = (dir.sock("old.sock"), dir.sock("new.sock"));
        let mut server = ControlServer::bind(&old).unwrap();
        server.rebind(&old).unwrap();
        assert!(old.exists(), "the same path: nothing happens");
        let _blocker = UnixListener::bind(&new).unwrap();
        assert!(server.rebind(&new).is_err());
        assert_eq!(server.path(), old, "an error keeps the old socket");
        drop(_blocker);
        std::fs::remove_file(&new).unwrap();
        server.rebind(&new).unwrap();
        assert!(!old.exists() && new.exists());
        let client_path = new.clone();
        let client =
            std::thread::spawn(move || request(&client_path, "status", Duration::from_secs(5)));
        let mut seen = Vec::new();
        assert_eq!(
            serve_until_done(&mut server, client, &mut status_handler(&mut seen)).unwrap(),
            r#"{"queries":3}"#
        );
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        std::fs::write(&path, "precious").unwrap();
        let e = ControlServer::bind(&path).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn unusable_paths_are_errors() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
        assert!(ControlServer::bind(&long).is_err());
        assert_eq!(
            request(&long, "status", Duration::from_secs(1))
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        let dir = TempDir::new();
        let e = ControlServer::bind(&dir.sock("no/such/dir.sock"))
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string().contains("no/such/dir.sock"),
            "names the path: {e}"
        );
        assert_eq!(
            request(&dir.sock("d.sock"), "two\nlines", Duration::from_secs(1))
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn oversized_and_garbage_commands_get_an_error_reply() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        let mut server = ControlServer::bind(&path).unwrap();

        let mut long = UnixStream::connect(&path).unwrap();
        long.write_all(&[b'a'; 1000]).unwrap();
        let mut exactly_too_long = UnixStream::connect(&path).unwrap();
        exactly_too_long.write_all(&[b'b'; MAX_COMMAND]).unwrap(); // no room for the newline
        let mut longest = UnixStream::connect(&path).unwrap();
        let mut line = vec![b'c'; MAX_COMMAND - 1];
        line.push(b'\n');
        longest.write_all(&line).unwrap();
        let mut binary = UnixStream::connect(&path).unwrap();
        binary.write_all(b"\xff\xfe\x00status\n").unwrap();
        let mut control_chars = UnixStream::connect(&path).unwrap();
        control_chars.write_all(b"sta\x00tus\x1b[2J\n").unwrap();

        let mut seen = Vec::new();
        round(&mut server, Duration::from_secs(1), &mut |command: &str| {
            seen.push(command.to_string());
            None
        });
        assert_eq!(read_reply(&long), format!("{REPLY_TOO_LONG}\n"));
        assert_eq!(read_reply(&exactly_too_long), format!("{REPLY_TOO_LONG}\n"));
        assert_eq!(
            read_reply(&longest),
            format!("{}\n", unknown_command(&"c".repeat(MAX_COMMAND - 1)))
        );
        assert_eq!(read_reply(&binary), format!("{REPLY_NOT_UTF8}\n"));
        assert_eq!(
            read_reply(&control_chars),
            "{\"error\":\"unknown command 'sta\\u0000tus\\u001b[2J'\"}\n"
        );
        assert_eq!(
            seen,
            ["c".repeat(MAX_COMMAND - 1), "sta\0tus\x1b[2J".to_string()]
        );

        // Through request(): the daemon replies and closes with most of the command unread.
        let client_path = path.clone();
        let client = std::thread::spawn(move || {
            request(&client_path, &"x".repeat(300_000), Duration::from_secs(5))
        });
        assert_eq!(
            serve_until_done(&mut server, client, &mut never_called).unwrap(),
            REPLY_TOO_LONG
        );
    }

    #[test]
    fn a_silent_client_holds_a_slot_until_its_deadline_and_nothing_else() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        server.set_client_timeout(Duration::from_millis(300));

        // Connects, sends nothing, stays connected.
        let silent = UnixStream::connect(&path).unwrap();
        let mut partial = UnixStream::connect(&path).unwrap();
        partial.write_all(b"sta").unwrap();
        let start = Instant::now();
        round(&mut server, Duration::from_secs(1), &mut never_called);
        assert!(start.elapsed() < Duration::from_millis(100), "not blocked");
        let deadline = server.next_deadline().expect("a timer for the clients");
        assert!(deadline > Instant::now());

        // The daemon still answers others meanwhile.
        let client_path = path.clone();
        let client =
            std::thread::spawn(move || request(&client_path, "status", Duration::from_secs(5)));
        let mut seen = Vec::new();
        assert_eq!(
            serve_until_done(&mut server, client, &mut status_handler(&mut seen)).unwrap(),
            r#"{"queries":3}"#
        );

        // The loop sleeps until the deadline, then the two are dropped without a reply.
        while server.next_deadline().is_some() {
            assert!(start.elapsed() < Duration::from_secs(5));
            let wait = server
                .next_deadline()
                .unwrap()
                .saturating_duration_since(Instant::now());
            round(&mut server, wait, &mut never_called);
        }
        assert_eq!(read_reply(&silent), "", "closed without a reply");
        assert_eq!(read_reply(&partial), "");
    }

    #[test]
    fn a_trickling_client_cannot_stretch_its_deadline() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        server.set_client_timeout(Duration::from_millis(300));
        let mut stream = UnixStream::connect(&path).unwrap();
        // One byte every 20 ms: the line never ends.
        let trickle = std::thread::spawn(move || {
            for _ in 0..500 {
                if stream.write_all(b"s").is_err() {
                    return true; // the daemon hung up
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        });
        let start = Instant::now();
        while !trickle.is_finished() {
            assert!(start.elapsed() < Duration::from_secs(5));
            let wait = server
                .next_deadline()
                .map_or(Duration::from_millis(20), |d| {
                    d.saturating_duration_since(Instant::now())
                });
            round(&mut server, wait, &mut never_called);
        }
        assert!(trickle.join().unwrap(), "the daemon closed the connection");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    /// The point of the design: a status client that never reads a large reply does not
    /// delay the daemon's traffic (here, UDP echoes served by the same loop).
    #[test]
    fn a_client_that_never_reads_does_not_delay_the_loop() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let mut stuck = UnixStream::connect(&path).unwrap();
        stuck.write_all(b"status\n").unwrap();

        let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
        echo.set_nonblocking(true).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.connect(echo.local_addr().unwrap()).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let pinger = std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            for i in 0..50u8 {
                let sent = Instant::now();
                peer.send(&[i]).unwrap();
                let mut buf = [0u8; 1];
                assert_eq!(peer.recv(&mut buf).unwrap(), 1);
                assert_eq!(buf[0], i);
                worst = worst.max(sent.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
            worst
        });

        let big = "x".repeat(8 << 20); // far more than the socket buffers hold
        let mut calls = 0;
        let mut longest_serve = Duration::ZERO;
        let start = Instant::now();
        while !pinger.is_finished() {
            assert!(start.elapsed() < Duration::from_secs(20));
            let mut poller = Poller::new();
            let udp = poller.register(echo.as_raw_fd(), Interest::Read);
            server.register(&mut poller);
            poller.wait(Some(Duration::from_millis(100))).unwrap();
            let served = Instant::now();
            server.serve(&poller, &mut |_| {
                calls += 1;
                Some(big.clone())
            });
            longest_serve = longest_serve.max(served.elapsed());
            if poller.readable(udp) {
                let mut buf = [0u8; 16];
                while let Ok((n, from)) = echo.recv_from(&mut buf) {
                    echo.send_to(&buf[..n], from).unwrap();
                }
            }
        }
        let worst_echo = pinger.join().unwrap();
        assert_eq!(calls, 1);
        // A loop that waited for the client would stall for its 5-s deadline; the bounds leave
        // room for qemu-user, where building the 8 MB reply alone takes ~50 ms.
        assert!(longest_serve < Duration::from_secs(1), "{longest_serve:?}");
        assert!(worst_echo < Duration::from_secs(1), "{worst_echo:?}");
        assert!(
            server.next_deadline().is_some(),
            "the stuck client is still waiting for its deadline"
        );
        drop(stuck);
    }

    #[test]
    fn connections_beyond_the_limit_are_closed() {
        let dir = TempDir::new();
        let path = dir.sock("d.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let silent: Vec<UnixStream> = (0..MAX_CLIENTS)
            .map(|_| UnixStream::connect(&path).unwrap())
            .collect();
        let extra = UnixStream::connect(&path).unwrap();
        round(&mut server, Duration::from_secs(1), &mut never_called);
        assert_eq!(read_reply(&extra), "", "closed at once");
        drop(silent);
    }

    #[test]
    fn request_errors_say_what_happened() {
        let dir = TempDir::new();
        let path = dir.sock("dns64.sock");
        let e = request(&path, "status", Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: no daemon is listening (is it running?)",
                path.display()
            )
        );

        // Something listens but never accepts: the timeout bounds the whole request.
        let listener = UnixListener::bind(&path).unwrap();
        let start = Instant::now();
        let e = request(&path, "status", Duration::from_millis(150)).unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("no reply within"), "{e}");
        assert!(
            elapsed >= Duration::from_millis(140) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );

        // Accepts and closes without a word. A fresh listener: the timed-out connection above is
        // still queued on the old one, and accepting that instead would race with the request.
        drop(listener);
        std::fs::remove_file(&path).unwrap();
        let listener = UnixListener::bind(&path).unwrap();
        let closer = std::thread::spawn(move || drop(listener.accept().unwrap()));
        let e = request(&path, "status", Duration::from_secs(5)).unwrap_err();
        closer.join().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        assert!(e.to_string().contains("without a reply"), "{e}");
    }
}
