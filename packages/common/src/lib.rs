//! Code every v6only daemon shares, and nothing else: reading UCI config files with
//! OpenWrt's datatypes, logging to syslog, signals, and the common command line.

pub mod cli;
pub mod log;
pub mod signals;
pub mod uci;
pub mod validate;
