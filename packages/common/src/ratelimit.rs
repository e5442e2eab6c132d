//! A log rate limit for lines that traffic can trigger (a flood must not flood syslog; the
//! status counters carry the full story): at most `burst` lines per `period` seconds, the
//! rest counted and summed up when the next line is let through.
//!
//! Two ways to use it: [`RateLimit::log`] logs a line and a separate summary line, and
//! [`RateLimit::admit`] lets the caller fold the count into its own line (nat64's "N
//! refused since the last message"). Neither allocates or reads the clock: `now` is the
//! caller's, in seconds.

#![forbid(unsafe_code)]

use std::fmt;

#[derive(Debug, Clone)]
pub struct RateLimit {
    period: u64,
    burst: u32,
    window_start: u64,
    in_window: u32,
    /// Held back since the last line let through.
    held_back: u64,
    /// Lines held back since start, for the status.
    pub suppressed: u64,
}

impl RateLimit {
    /// At most `burst` lines per `period` seconds.
    pub const fn new(period: u64, burst: u32) -> RateLimit {
        RateLimit {
            period,
            burst,
            // No window yet: the first call opens one, whatever `now` is.
            window_start: u64::MAX,
            in_window: 0,
            held_back: 0,
            suppressed: 0,
        }
    }

    /// Whether a line may go out at `now`: `Some(n)` with the number of lines held back since
    /// the last one that went out (the caller reports them), `None` when this one is held
    /// back too (and counted).
    pub fn admit(&mut self, now: u64) -> Option<u64> {
        let window_over = self.window_start == u64::MAX
            || now < self.window_start
            || now >= self.window_start.saturating_add(self.period);
        if window_over {
            self.window_start = now;
            self.in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            Some(std::mem::take(&mut self.held_back))
        } else {
            self.held_back += 1;
            self.suppressed += 1;
            None
        }
    }

    /// Lines held back since the last one that went out.
    pub fn held_back(&self) -> u64 {
        self.held_back
    }

    /// When the current window began (`None` before the first line).
    pub fn window_start(&self) -> Option<u64> {
        (self.window_start != u64::MAX).then_some(self.window_start)
    }

    /// Logs `args` at `level` unless the budget is spent, preceded by a warning with the
    /// number of lines held back before it. A level that is off costs no budget.
    pub fn log(&mut self, level: log::Level, now: u64, args: fmt::Arguments<'_>) {
        if !log::log_enabled!(level) {
            return;
        }
        if let Some(held_back) = self.admit(now) {
            if held_back > 0 {
                log::warn!(
                    "{held_back} log line(s) suppressed in {} s (rate limit; the status counters have the totals)",
                    self.period
                );
            }
            log::log!(level, "{args}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Capture(Mutex<Vec<String>>);
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            self.0.lock().unwrap().push(format!("{}", r.args()));
        }
        fn flush(&self) {}
    }
    static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

    #[test]
    fn bursts_then_summary() {
        let _ = log::set_logger(&CAPTURE);
        log::set_max_level(log::LevelFilter::Debug);
        let mut limit = RateLimit::new(10, 3);
        for i in 0..100 {
            limit.log(log::Level::Info, 1000, format_args!("ratelimit-test {i}"));
        }
        limit.log(log::Level::Info, 1009, format_args!("ratelimit-test late"));
        limit.log(log::Level::Info, 1010, format_args!("ratelimit-test next"));
        let lines: Vec<String> = CAPTURE
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("ratelimit-test") || l.contains("suppressed"))
            .cloned()
            .collect();
        assert_eq!(
            lines,
            [
                "ratelimit-test 0",
                "ratelimit-test 1",
                "ratelimit-test 2",
                "98 log line(s) suppressed in 10 s (rate limit; the status counters have the totals)",
                "ratelimit-test next"
            ]
        );
        assert_eq!(limit.suppressed, 98);
    }

    #[test]
    fn admit_counts_what_it_holds_back() {
        // nat64's refusal summary: one line per 10 s carrying the count.
        let mut limit = RateLimit::new(10, 1);
        assert_eq!(limit.window_start(), None);
        assert_eq!(limit.admit(0), Some(0), "the first line at time 0 goes out");
        assert_eq!(limit.admit(0), None);
        assert_eq!(limit.admit(9), None);
        assert_eq!((limit.held_back(), limit.window_start()), (2, Some(0)));
        assert_eq!(limit.admit(10), Some(2), "two held back before it");
        assert_eq!(limit.admit(25), Some(0));
        assert_eq!(limit.suppressed, 2);
        // The clock going back (a test, or a reset epoch) opens a new window.
        assert_eq!(limit.admit(3), Some(0));
    }

    #[test]
    fn a_burst_of_zero_holds_everything_back() {
        let mut limit = RateLimit::new(10, 0);
        assert_eq!(limit.admit(1), None);
        assert_eq!(limit.admit(100), None);
        assert_eq!(limit.suppressed, 2);
    }
}
