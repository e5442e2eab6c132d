//! option108-dhcpd: a DHCPv4 server (RFC 2131/2132) for mostly-IPv6-only networks, doing
//! RFC 8925 IPv6-Only Preferred (option 108) exactly.
//!
//! The library is the sans-IO core (`wire`, `leases`, `server`), the config (`config`) and the
//! crash-safe lease store (`store`); `sys` and `main.rs` own the sockets.
//!
//! Why an own wire view and not dhcproto (0.15.0, checked): it maps `Ipv6OnlyPreferred` to
//! code 106 (RFC 8925 assigns 108); it decodes every message into `Vec`/map-backed option
//! values (allocation per packet); it pulls in hickory-proto (about 275 KB on mips as measured
//! for dns64), rand and thiserror; and it needs Rust 1.87 where the workspace supports 1.80.
//! The server reads 9 options and writes about 15: a checked zero-copy view is a few hundred
//! lines, allocation-free, and fuzzed (packages/option108-dhcpd/fuzz).

pub mod config;
pub mod leases;
pub mod ratelimit;
pub mod server;
pub mod store;
pub mod sys;
pub mod wire;
