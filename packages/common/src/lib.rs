//! Code every v6only daemon shares, and nothing else: reading UCI config files with
//! OpenWrt's datatypes, logging to syslog (and its rate limit), signals, the command line,
//! the daemon skeleton (`run | check | status | reload`), the poll loop, the control socket
//! behind `<daemon> status`, the JSON its replies use (and a reader for other programs' JSON),
//! the RFC 6052 NAT64 prefix dns64 and nat64 must agree on, dropping root for the daemon's own
//! user, rtnetlink (links, addresses, routes and their events), and netifd's view of a logical
//! interface.

pub mod cli;
pub mod control;
pub mod daemon;
pub mod json;
pub mod log;
pub mod netifd;
pub mod netlink;
pub mod poll;
pub mod privilege;
pub mod ratelimit;
pub mod rfc6052;
pub mod signals;
pub mod uci;
pub mod validate;
pub mod watch;
