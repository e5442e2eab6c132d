//! A userspace stateful NAT64 (RFC 6146) with RFC 7915 header translation and RFC 6052
//! addressing, as a sans-IO core: [`Nat64::process`] takes a packet read from the TUN device
//! and the time, and hands back what to write; [`Nat64::expire`] ages the state. The binary
//! (`main.rs`) owns the TUN device, netlink, the poll loop, signals and the control socket.

pub mod checksum;
pub mod config;
pub mod icmp;
pub mod netlink;
pub mod prefix;
pub mod state;
pub mod translate;
pub mod tun;
pub mod wire;

pub use translate::{Config, Drop, Nat64, Offload, PacketBuf, Stats, Verdict};

#[cfg(test)]
mod tests;
