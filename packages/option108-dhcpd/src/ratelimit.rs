//! A log rate limit: at most `burst` lines per `period` seconds; the rest are counted and
//! summed up in one line when the next period starts. Lines that traffic can trigger go
//! through it, so a flood cannot flood syslog (the counters carry the full story).

use std::fmt;

pub struct RateLimit {
    period: u64,
    burst: u32,
    window_start: u64,
    in_window: u32,
    suppressed_in_window: u64,
    /// Lines suppressed since start, for the status.
    pub suppressed: u64,
}

impl RateLimit {
    pub const fn new(period: u64, burst: u32) -> RateLimit {
        RateLimit {
            period,
            burst,
            window_start: 0,
            in_window: 0,
            suppressed_in_window: 0,
            suppressed: 0,
        }
    }

    /// Logs `args` at `level` unless the period's budget is spent. `now` in seconds.
    pub fn log(&mut self, level: log::Level, now: u64, args: fmt::Arguments<'_>) {
        // A line nobody would see costs no budget.
        if !log::log_enabled!(level) {
            return;
        }
        if now >= self.window_start.saturating_add(self.period) || now < self.window_start {
            if self.suppressed_in_window > 0 {
                log::warn!(
                    "{} log line(s) suppressed in {} s (rate limit; the status counters have the totals)",
                    self.suppressed_in_window,
                    self.period
                );
            }
            self.window_start = now;
            self.in_window = 0;
            self.suppressed_in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            log::log!(level, "{args}");
        } else {
            self.suppressed_in_window += 1;
            self.suppressed += 1;
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
}
