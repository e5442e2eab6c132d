//! Code every v6only daemon shares, and nothing else: reading UCI config files with
//! OpenWrt's datatypes, logging to syslog, signals, the command line, the poll loop, the
//! control socket behind `<daemon> status`, and the JSON its replies use.

pub mod cli;
pub mod control;
pub mod json;
pub mod log;
pub mod poll;
pub mod signals;
pub mod uci;
pub mod validate;
