//! mesh-monitor: 802.11s mesh visibility over nl80211. `model` is what the kernel reports
//! (stations with their mesh fields, mesh paths, proxied destinations, mesh config), read
//! through `nl80211` (generic netlink by hand); `monitor` compares snapshots and says what
//! changed; the binary (`main.rs`) polls, listens to nl80211 events and serves the control
//! socket and the outputs.

pub mod config;
pub mod export;
pub mod model;
pub mod monitor;
pub mod nl80211;
pub mod show;
