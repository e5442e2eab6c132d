//! option108-dhcpd: a DHCPv4 server (RFC 2131/2132) for mostly-IPv6-only networks, doing
//! RFC 8925 IPv6-Only Preferred (option 108) exactly.
//!
//! The library is the sans-IO core (`wire`, `leases`, `server`), the config (`config`) and the
//! crash-safe lease store (`store`); `main.rs` owns the sockets.

pub mod config;
pub mod leases;
pub mod server;
pub mod store;
pub mod sys;
pub mod wire;
