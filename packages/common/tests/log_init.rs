//! `log::init` installs the process-wide logger, so it gets a test binary of its own.

use v6only_common::log::{init, Sink};

#[test]
fn verbose_mode_logs_debug_to_stderr_and_init_is_idempotent() {
    assert_eq!(init("v6only-test", true), Sink::Stderr);
    assert_eq!(log::max_level(), log::LevelFilter::Debug);
    // A later call changes nothing, whatever it asks for.
    assert_eq!(init("other", false), Sink::Stderr);
    assert_eq!(log::max_level(), log::LevelFilter::Debug);
    assert!(log::log_enabled!(log::Level::Debug));
    log::debug!("debug line from the test");
    log::info!("info line from the test");
}
