//! The daemons' event loop: one `poll(2)` over a handful of fds (sockets, TUN, signalfd,
//! control socket) with a timeout to the earliest timer. No async runtime: a router daemon
//! has few fds, and poll costs nothing in binary size.
//!
//! ```
//! use std::time::Duration;
//! use v6only_common::poll::{Interest, Poller};
//! let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
//! std::io::Write::write_all(&mut b, b"x").unwrap();
//! let mut poller = Poller::new();
//! // Each round: clear, register, wait, ask.
//! poller.clear();
//! let token = poller.register(std::os::fd::AsRawFd::as_raw_fd(&a), Interest::Read);
//! assert_eq!(poller.wait(Some(Duration::from_secs(1))).unwrap(), 1);
//! assert!(poller.readable(token));
//! ```

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
    /// Adds `fd` to the set. A negative fd is allowed and never ready (poll ignores it), so a
    /// slot can stay registered while its socket is closed.
    pub fn register(&mut self, fd: RawFd, interest: Interest) -> Token {
        let events = match interest {
            Interest::Read => libc::POLLIN,
            Interest::Write => libc::POLLOUT,
            Interest::ReadWrite => libc::POLLIN | libc::POLLOUT,
        };
        self.fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
        Token(self.fds.len() - 1)
    }
    /// Waits until an fd is ready or `timeout` passes (`None`: no timeout). Returns the number
    /// of ready fds; 0 on timeout or when a signal interrupted the wait (EINTR).
    ///
    /// The timeout is rounded up to whole milliseconds (a timer due in 0.3 ms waits 1 ms rather
    /// than spinning with 0 ms until it is due) and capped at `i32::MAX` ms (~24 days).
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        // Stale results must not survive an interrupted or failed wait.
        for pfd in &mut self.fds {
            pfd.revents = 0;
        }
        // SAFETY: the pointer and length describe our own initialised pollfd array (a dangling
        // but aligned pointer when it is empty, which poll does not read with nfds 0).
        let n = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                timeout_ms(timeout),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(err);
        }
        Ok(n as usize)
    }
    /// Readable, or hung up / in error (a read then reports what happened). Error and hang-up
    /// count only for fds registered for reading; an unknown token is never ready.
    pub fn readable(&self, token: Token) -> bool {
        self.ready(token, libc::POLLIN)
    }
    /// Writable, or in error / hung up (a write then reports what happened). Error and hang-up
    /// count only for fds registered for writing.
    pub fn writable(&self, token: Token) -> bool {
        self.ready(token, libc::POLLOUT)
    }
    /// The number of registered fds.
    pub fn len(&self) -> usize {
        self.fds.len()
    }
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
    fn ready(&self, token: Token, direction: libc::c_short) -> bool {
        // POLLNVAL (fd not open) too: the read or write then fails with EBADF instead of the
        // loop spinning on an fd nobody looks at.
        const TROUBLE: libc::c_short = libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
        match self.fds.get(token.0) {
            Some(pfd) if pfd.events & direction != 0 => pfd.revents & (direction | TROUBLE) != 0,
            _ => false,
        }
    }
}

/// A poll(2) timeout: -1 for none, else milliseconds rounded up, at most `i32::MAX`.
fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => t
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int,
    }
}

/// The time until `deadline` from `now`, for [`Poller::wait`]: `None` stays `None` (no timer),
/// a deadline in the past gives zero.
pub fn timeout_until(
    now: std::time::Instant,
    deadline: Option<std::time::Instant>,
) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array; we own them from here on.
        unsafe {
            assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        }
    }

    fn write_byte(fd: &OwnedFd) {
        // SAFETY: one byte from a valid buffer to an fd we own.
        assert_eq!(
            unsafe { libc::write(fd.as_raw_fd(), b"x".as_ptr().cast(), 1) },
            1
        );
    }

    #[test]
    fn timeouts_round_up_to_whole_milliseconds_and_are_capped() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(
            timeout_ms(Some(Duration::from_nanos(1))),
            1,
            "never 0 for a timer not yet due"
        );
        assert_eq!(timeout_ms(Some(Duration::from_micros(300))), 1);
        assert_eq!(
            timeout_ms(Some(Duration::from_millis(5))),
            5,
            "exact milliseconds stay"
        );
        assert_eq!(timeout_ms(Some(Duration::from_nanos(5_000_001))), 6);
        assert_eq!(
            timeout_ms(Some(Duration::from_millis(i32::MAX as u64))),
            i32::MAX
        );
        assert_eq!(
            timeout_ms(Some(Duration::from_millis(i32::MAX as u64 + 1))),
            i32::MAX
        );
        assert_eq!(timeout_ms(Some(Duration::from_secs(u64::MAX))), i32::MAX);
        assert_eq!(timeout_ms(Some(Duration::MAX)), i32::MAX);
    }

    #[test]
    fn timeout_until_deadline() {
        let now = Instant::now();
        assert_eq!(timeout_until(now, None), None);
        assert_eq!(
            timeout_until(now, Some(now + Duration::from_millis(7))),
            Some(Duration::from_millis(7))
        );
        assert_eq!(
            timeout_until(now + Duration::from_secs(1), Some(now)),
            Some(Duration::ZERO),
            "past: zero"
        );
    }

    #[test]
    fn pipe_becomes_readable_after_a_write_and_on_hangup() {
        let (r, w) = pipe();
        let mut poller = Poller::new();
        let rt = poller.register(r.as_raw_fd(), Interest::Read);
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 0, "empty pipe");
        assert!(!poller.readable(rt));

        write_byte(&w);
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(poller.readable(rt));
        assert!(!poller.writable(rt), "not registered for writing");

        // Drain, then hang up: POLLHUP alone reads as readable (the read returns EOF).
        let mut buf = [0u8; 4];
        // SAFETY: reads into our own buffer from an fd we own.
        assert_eq!(
            unsafe { libc::read(r.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) },
            1
        );
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 0);
        drop(w);
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(poller.readable(rt));
    }

    #[test]
    fn write_end_of_a_pipe_without_reader_is_writable_error() {
        let (r, w) = pipe();
        let mut poller = Poller::new();
        let wt = poller.register(w.as_raw_fd(), Interest::Write);
        drop(r);
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(poller.writable(wt), "POLLERR: the write reports EPIPE");
        assert!(!poller.readable(wt), "not registered for reading");
    }

    #[test]
    fn timeout_returns_zero_and_does_not_fire_early() {
        let (r, _w) = pipe();
        let mut poller = Poller::new();
        let t = poller.register(r.as_raw_fd(), Interest::Read);
        let start = Instant::now();
        assert_eq!(poller.wait(Some(Duration::from_millis(30))).unwrap(), 0);
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(30), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert!(!poller.readable(t));

        // A sub-millisecond timeout waits (at least) that long instead of returning at once.
        let start = Instant::now();
        assert_eq!(poller.wait(Some(Duration::from_micros(400))).unwrap(), 0);
        assert!(
            start.elapsed() >= Duration::from_micros(400),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn empty_set_sleeps_for_the_timeout() {
        let mut poller = Poller::new();
        assert!(poller.is_empty());
        let start = Instant::now();
        assert_eq!(poller.wait(Some(Duration::from_millis(10))).unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_millis(10));
    }

    #[test]
    fn connected_socket_is_writable_not_readable() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut poller = Poller::new();
        let w = poller.register(a.as_raw_fd(), Interest::Write);
        let rw = poller.register(a.as_raw_fd(), Interest::ReadWrite);
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 2);
        assert!(poller.writable(w));
        assert!(!poller.readable(w));
        assert!(poller.writable(rw));
        assert!(!poller.readable(rw), "nothing to read yet");

        b.write_all(b"hi").unwrap();
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 2);
        assert!(poller.readable(rw) && poller.writable(rw));
        assert!(!poller.readable(w), "registered for writing only");
    }

    #[test]
    fn clear_forgets_registrations_and_tokens_restart() {
        let (r1, w1) = pipe();
        let (r2, _w2) = pipe();
        let mut poller = Poller::new();
        assert_eq!(poller.register(r1.as_raw_fd(), Interest::Read), Token(0));
        assert_eq!(poller.register(r2.as_raw_fd(), Interest::Read), Token(1));
        assert_eq!(poller.len(), 2);
        write_byte(&w1);
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(poller.readable(Token(0)) && !poller.readable(Token(1)));

        poller.clear();
        assert!(poller.is_empty());
        assert!(!poller.readable(Token(0)), "a cleared token is not ready");
        assert!(poller.fds.capacity() >= 2, "the allocation is kept");

        // Reused in the next round: r2 now has token 0, and r1 (still readable) is not asked.
        let t = poller.register(r2.as_raw_fd(), Interest::Read);
        assert_eq!(t, Token(0));
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 0);
        assert!(!poller.readable(t));
        assert!(
            !poller.readable(Token(1)),
            "out of range: never ready, no panic"
        );
    }

    #[test]
    fn negative_fd_is_ignored_and_closed_fd_is_reported() {
        let mut poller = Poller::new();
        let none = poller.register(-1, Interest::ReadWrite);
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 0);
        assert!(!poller.readable(none) && !poller.writable(none));

        // An fd number that is not open (fds are allocated lowest first, so this one never
        // is): POLLNVAL, reported as ready so that the read shows EBADF.
        poller.clear();
        let t = poller.register(999_999, Interest::Read);
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(poller.readable(t));
        assert!(!poller.writable(t), "not registered for writing");
    }

    extern "C" fn ignore_signal(_: libc::c_int) {}

    #[test]
    fn a_signal_interrupting_the_wait_gives_zero() {
        // SAFETY: installs a handler that does nothing, for SIGUSR2 which no other test uses;
        // no SA_RESTART, although poll is never restarted anyway.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
                0
            );
        }
        let done = Arc::new(AtomicBool::new(false));
        let (r, _w) = pipe();
        let fd = r.as_raw_fd();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let done = done.clone();
            std::thread::spawn(move || {
                // SAFETY: pthread_self has no preconditions. Sent as usize: pthread_t is a
                // pointer on musl (not Send) and an integer on glibc.
                tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
                let mut poller = Poller::new();
                let t = poller.register(fd, Interest::Read);
                let start = Instant::now();
                let n = poller.wait(Some(Duration::from_secs(20))).unwrap();
                done.store(true, Ordering::SeqCst);
                (n, poller.readable(t), start.elapsed())
            })
        };
        let thread = rx.recv().unwrap();
        // The signal may come before the thread is inside poll: repeat until it returns.
        while !done.load(Ordering::SeqCst) {
            // SAFETY: the thread is alive until `done` is set, and it is joined only below.
            unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGUSR2) };
            std::thread::sleep(Duration::from_millis(20));
        }
        let (n, readable, elapsed) = waiter.join().unwrap();
        assert_eq!(n, 0);
        assert!(!readable, "no stale readiness after EINTR");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        drop(r);
    }
}
