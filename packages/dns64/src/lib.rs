//! dns64: a small DNS64 forwarder for IPv6-only networks (RFC 6147, RFC 6052, RFC 7050).
//!
//! It sits between the LAN's clients and the router's upstream resolvers, forwards queries,
//! caches answers, and synthesizes AAAA records from A records with the NAT64 prefix.
//!
//! Layout: [`wire`] (DNS messages, checked and zero-copy, modelled on smoltcp's `wire`),
//! [`rfc6052`] (address synthesis, shared with nat64), [`exclude`] (the AAAA exclusion list),
//! [`cache`] (byte-bounded LRU), [`resolver`] (the sans-IO state machine), [`tcp`] (DNS over
//! TCP: framing and the RFC 7766 connection policy, sans-IO too), [`config`] (UCI). The binary
//! owns the sockets (`sys.rs`) and the poll loop (`main.rs`).
//!
//! Why an own wire parser and not hickory-proto: measured on mips (our size budget is 400 KB
//! stripped per daemon), a std-only program that reads a message is 145 KB; the same program
//! parsing and re-emitting a message with hickory-proto 0.26 (`default-features = false`) is
//! 420 KB, i.e. hickory-proto costs ~275 KB before any daemon code. A forwarder needs only the
//! header, one question, a record walk with safe decompression and an uncompressed writer:
//! a few hundred lines, fuzzed.

//!
//! Choices where the RFCs leave room (details in [`resolver`]):
//! - PTR (RFC 6147 §5.3.1): option 2, a synthesized CNAME from the ip6.arpa name of an address
//!   in our prefix to its in-addr.arpa name, followed like a recursive resolver would (the
//!   upstream's answer for the target is appended).
//! - ipv4only.arpa (RFC 7050, RFC 8880): answered locally (A: 192.0.0.170/171; AAAA: those in
//!   our prefix), so prefix discovery works whatever the upstream says; so are PTR queries for
//!   those two addresses in our prefix (`ipv4only.arpa`, RFC 8880 §7.2.1).
//! - AAAA RRsets partly in the exclusion list (`::ffff:0:0/96` by default) lose the excluded
//!   records (RFC 6147 §5.1.4), and an RRSIG over them; wholly excluded ones are synthesized.
//! - An A record gets an AAAA record exactly when nat64 would translate to it
//!   ([`rfc6052::Prefix::check_v4`]): never for 0/8, 127/8, 224/4, 240/4; with the
//!   Well-Known Prefix not for non-global addresses either (RFC 6052 §3.1: private, CGNAT,
//!   documentation, benchmarking, ...) unless `allow_non_global` is set, as in nat64.
//! - We do not validate DNSSEC: synthesized answers have AD clear and no RRSIG over A;
//!   DO+CD queries (a validating client) get the upstream answers unsynthesized (§5.5).
//!   Answers passed through unchanged keep the upstream's flags, AD included.
//! - Negative answers (NXDOMAIN/NODATA with SOA) are cached for min(SOA TTL, SOA MINIMUM)
//!   (RFC 2308); answers without any record to take a TTL from are not cached.

// The library is the sans-IO part: the system calls are the binary's (`sys.rs`).
#![forbid(unsafe_code)]

pub mod cache;
pub mod config;
pub mod exclude;
pub mod resolver;
pub mod tcp;
pub mod wire;

pub use resolver::{Client, Dns64, Output, Stats};
/// The RFC 6052 prefix of [`resolver::Config`], shared with nat64 so the two agree.
pub use v6only_common::rfc6052;
