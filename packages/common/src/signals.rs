//! SIGTERM/SIGINT (exit cleanly) and SIGHUP (reload config, keep state) as a pollable fd,
//! so a daemon's single poll loop sees signals like any other input.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT.
    Terminate,
    /// SIGHUP.
    Reload,
}

/// Blocks SIGTERM, SIGINT and SIGHUP for the calling thread (call it in `main` before any
/// thread starts) and delivers them through a non-blocking signalfd.
///
/// The signals stay blocked after drop: unblocking would deliver a pending SIGTERM with its
/// default action, killing the process mid-shutdown.
pub struct Signals {
    fd: std::os::fd::OwnedFd,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        // SAFETY: sigset_t is plain data that sigemptyset initialises; the pointers are valid.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                libc::sigaddset(&mut set, signal);
            }
            // Blocked first, so that none is delivered the default way (death) once the fd exists.
            let err = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if err != 0 {
                return Err(io::Error::from_raw_os_error(err));
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }
    /// The next pending signal, or `None` when none is pending.
    pub fn next(&self) -> io::Result<Option<Signal>> {
        loop {
            // SAFETY: signalfd_siginfo is plain data; read writes at most its size into it.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock => return Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(err),
                }
            }
            if n as usize != size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "short read from signalfd",
                ));
            }
            match info.ssi_signo as libc::c_int {
                libc::SIGTERM | libc::SIGINT => return Ok(Some(Signal::Terminate)),
                libc::SIGHUP => return Ok(Some(Signal::Reload)),
                _ => continue, // not in our mask; cannot happen, but is no reason to fail
            }
        }
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `signal` to the calling thread only. The test harness runs tests on threads; the
    /// signals are blocked in this thread alone, so a process-wide kill() could be delivered
    /// to another thread and kill the test run.
    fn raise_here(signal: libc::c_int) {
        // SAFETY: plain syscall wrappers on our own thread.
        assert_eq!(
            unsafe { libc::pthread_kill(libc::pthread_self(), signal) },
            0
        );
    }

    fn poll_readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 && pfd.revents & libc::POLLIN != 0 }
    }

    // One test, on a thread of its own: signal masks are per thread, and a second Signals
    // on the same thread would share the pending signals.
    #[test]
    fn signals_arrive_through_the_fd() {
        std::thread::spawn(|| {
            let signals = Signals::install().unwrap();
            assert_eq!(signals.next().unwrap(), None, "nothing pending yet");
            assert!(!poll_readable(signals.as_raw_fd()));

            raise_here(libc::SIGHUP);
            assert!(
                poll_readable(signals.as_raw_fd()),
                "the fd wakes up a poll loop"
            );
            assert_eq!(signals.next().unwrap(), Some(Signal::Reload));
            assert_eq!(signals.next().unwrap(), None);

            raise_here(libc::SIGTERM);
            assert_eq!(signals.next().unwrap(), Some(Signal::Terminate));
            raise_here(libc::SIGINT);
            assert_eq!(signals.next().unwrap(), Some(Signal::Terminate));
            assert_eq!(signals.next().unwrap(), None);

            // Standard signals do not queue: two SIGHUPs before a read are one reload.
            raise_here(libc::SIGHUP);
            raise_here(libc::SIGHUP);
            assert_eq!(signals.next().unwrap(), Some(Signal::Reload));
            assert_eq!(signals.next().unwrap(), None);

            // The fd is close-on-exec and non-blocking.
            // SAFETY: fcntl queries on a valid fd.
            let (fd_flags, fl_flags) = unsafe {
                (
                    libc::fcntl(signals.as_raw_fd(), libc::F_GETFD),
                    libc::fcntl(signals.as_raw_fd(), libc::F_GETFL),
                )
            };
            assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
            assert_ne!(fl_flags & libc::O_NONBLOCK, 0);
        })
        .join()
        .unwrap();
    }
}
