//! A RIPng router (RFC 2080), split as BIRD splits a protocol: `wire` (packets), `router` (the
//! sans-IO protocol and its route table: packets, interface events and the time in; packets
//! to send, kernel route changes and the next deadline out), and the binary's driver
//! (`main.rs`), which owns the UDP socket, rtnetlink, timers, signals and the control socket.

pub mod config;
pub mod prefix;
pub mod redistribute;
pub mod router;
pub mod sys;
pub mod table;
pub mod wire;
