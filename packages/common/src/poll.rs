//! The daemons' event loop: one `poll(2)` over a handful of fds (sockets, TUN, signalfd,
//! control socket) with a timeout to the earliest timer. No async runtime: a router daemon
//! has few fds, and poll costs nothing in binary size.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// What to wait for on an fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
    ReadWrite,
}

/// Index of a registered fd, valid until the next [`Poller::clear`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(pub usize);

/// A reusable `pollfd` set: register fds each round (cheap), wait, then ask per token.
#[derive(Debug, Default)]
pub struct Poller {
    fds: Vec<libc::pollfd>,
}

impl Poller {
    pub fn new() -> Poller {
        Poller::default()
    }
    /// Forgets all registrations (keeps the allocation).
    pub fn clear(&mut self) {
        self.fds.clear()
    }
    pub fn register(&mut self, fd: RawFd, interest: Interest) -> Token {
        todo!("{fd} {interest:?}")
    }
    /// Waits until an fd is ready or `timeout` passes (`None`: no timeout). Returns the number
    /// of ready fds; 0 on timeout or when a signal interrupted the wait (EINTR).
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        todo!("{timeout:?}")
    }
    /// Readable, or hung up / in error (a read then reports what happened).
    pub fn readable(&self, token: Token) -> bool {
        todo!("{token:?}")
    }
    pub fn writable(&self, token: Token) -> bool {
        todo!("{token:?}")
    }
}

/// The time until `deadline` from `now`, for [`Poller::wait`]: `None` stays `None` (no timer),
/// a deadline in the past gives zero.
pub fn timeout_until(now: std::time::Instant, deadline: Option<std::time::Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now))
}
