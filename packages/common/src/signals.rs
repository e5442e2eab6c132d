//! SIGTERM/SIGINT (exit cleanly) and SIGHUP (reload config, keep state) as a pollable fd,
//! so a daemon's single poll loop sees signals like any other input.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT.
    Terminate,
    /// SIGHUP.
    Reload,
}

/// Blocks SIGTERM, SIGINT and SIGHUP for the calling thread (call it in `main` before any
/// thread starts) and delivers them through a non-blocking signalfd.
pub struct Signals {
    fd: std::os::fd::OwnedFd,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        todo!()
    }
    /// The next pending signal, or `None` when none is pending.
    pub fn next(&self) -> io::Result<Option<Signal>> {
        todo!()
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
