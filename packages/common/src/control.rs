//! The control socket: how `<daemon> status` (a second process) asks the running daemon.
//!
//! The daemon listens on a Unix stream socket (`/var/run/<name>.sock`); the client sends one
//! line (a command word such as `status`) and reads the reply until EOF. Replies are JSON
//! for `status`. The listener is non-blocking and polled in the daemon's loop; a client that
//! stalls cannot block the daemon (short timeouts, one request per connection).
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default socket path of a program: `/var/run/<name>.sock`.
pub fn default_path(program: &str) -> PathBuf {
    PathBuf::from(format!("/var/run/{program}.sock"))
}

/// The daemon side.
pub struct ControlServer {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl ControlServer {
    /// Binds `path` (replacing a stale socket left by a killed daemon; refusing when another
    /// live daemon answers on it), mode 0600, non-blocking.
    pub fn bind(path: &Path) -> io::Result<ControlServer> {
        todo!("{path:?}")
    }
    /// Serves every pending connection: reads the command line, replies with `handle(command)`.
    /// Errors of single clients are logged at debug level and never returned.
    pub fn serve(&self, handle: &mut dyn FnMut(&str) -> String) {
        todo!("{:?}", handle("status").len())
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

/// The client side: sends `command`, returns the daemon's reply. The error names the socket
/// and says plainly when the daemon is not running.
pub fn request(path: &Path, command: &str, timeout: Duration) -> io::Result<String> {
    todo!("{path:?} {command} {timeout:?}")
}
