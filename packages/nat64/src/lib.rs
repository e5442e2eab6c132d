//! A userspace stateful NAT64 (RFC 6146) with RFC 7915 header translation and RFC 6052
//! addressing, as a sans-IO core: [`Nat64::process`] takes a packet read from the TUN device
//! and the time, and hands back what to write; [`Nat64::expire`] ages the state. The binary
//! (`main.rs`) owns the TUN device, netlink, the poll loop, signals and the control socket.
//!
//! The core: `translate` ([`Nat64`], one module per direction), `state` (the RFC 6146
//! bindings and sessions), `frag` (what is remembered of fragmented packets), `wire` (checked
//! header views), `held_syn` (IPv4 SYNs waiting for a simultaneous open), `icmp` (the
//! RFC 7915 type mappings) and `checksum`; `packet_buf` and
//! `stats` are what the driver hands in and reads out, `outbox` keeps a packet's output
//! until a shared translator is unlocked. These forbid `unsafe`; `tun`,
//! `config` serve the binary (rtnetlink is `v6only_common::netlink`).
//!
//! Choices worth knowing:
//! - Translation is in place: the new IP header is written over the end of the old one in
//!   the receive buffer (with headroom for IPv4 -> IPv6), transport checksums are updated
//!   incrementally (RFC 1624). ICMP errors, generated errors and IPv6 fragments are built in a
//!   scratch buffer allocated once. Only new flows allocate (table growth).
//! - Fragments are translated one by one (RFC 7915), not reassembled: the first fragment's
//!   translation is remembered for the later ones. Fragments arriving before their first
//!   fragment are parked (8 slots of 2 KB, 5 s) and translated once it has been. ICMP echo
//!   is the exception: its IPv6
//!   checksum covers the whole message length, so the first fragment is held (8 slots of
//!   2 KB) until the last one tells the length.
//! - Endpoint-independent mapping and filtering; the pool address follows the IPv6 source
//!   (paired pooling), ports keep their parity and range (RFC 6146 §3.5.1.1).
//! - With TUN offloads (IFF_VNET_HDR, TSO), TCP super-packets of up to 64 KB are translated
//!   as one: their partial checksum (pseudo-header only) is updated, and the kernel segments
//!   and completes checksums on the way out.
//! - An established TCP session whose lifetime (TCP_EST) runs out is probed as RFC 6146
//!   §3.5.2.2 says: [`Nat64::expire`] hands back a TCP segment without data, sequence and
//!   acknowledgment numbers zero and only ACK set, to the IPv6 end (from the IPv4 end under
//!   the prefix), and the session moves to TRANS for TCP_TRANS. Being out of window, the
//!   probe makes a live endpoint answer with an ACK, which brings the session back to
//!   ESTABLISHED; without an answer (or with a RST) it is removed when TCP_TRANS runs out.
//!   No per-session sequence numbers are needed. A host whose firewall drops out-of-window
//!   segments (conntrack "invalid") never answers: its idle session goes after TCP_TRANS.
//! - An IPv4 SYN to a pool port nothing is bound to is held (`held_syn`, 16 slots) for
//!   tcp_incoming_syn: the IPv6 host's SYN for that flow releases it (simultaneous open,
//!   RFC 6146 §3.5.2.2), else it gets ICMP Port Unreachable.
//! - Not done: the ADF filtering variant, ICMP error translation for fragmented errors.

pub mod checksum;
pub mod config;
mod frag;
mod held_syn;
pub mod icmp;
pub mod outbox;
pub mod packet_buf;
pub mod sessions;
pub mod state;
pub mod stats;
pub mod translate;
pub mod tun;
pub mod wire;

pub use translate::{Config, DropReason, Nat64, Offload, PacketBuf, Stats, Verdict};
/// The RFC 6052 prefix of [`Config`], shared with dns64 so the two agree.
pub use v6only_common::rfc6052;

#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;
