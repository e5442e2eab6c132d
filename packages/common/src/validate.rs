//! OpenWrt's UCI datatypes (as `uci_load_validate` / `validate_data` know them) as Rust types.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A UCI datatype: how to parse one value, and its name for error messages.
pub trait Datatype: Sized {
    /// What a valid value looks like, e.g. "port (0-65535)", used in errors.
    const EXPECTED: &'static str;
    fn parse_value(s: &str) -> Option<Self>;
}

/// `bool`: 1/0, yes/no, on/off, true/false, enabled/disabled.
impl Datatype for bool {
    const EXPECTED: &'static str = "boolean (0/1, yes/no, on/off, true/false, enabled/disabled)";
    fn parse_value(s: &str) -> Option<Self> {
        todo!("{s}")
    }
}
/// `uinteger`.
impl Datatype for u32 {
    const EXPECTED: &'static str = "unsigned integer";
    fn parse_value(s: &str) -> Option<Self> {
        todo!("{s}")
    }
}
/// `ip4addr` (a single address, no prefix).
impl Datatype for Ipv4Addr {
    const EXPECTED: &'static str = "IPv4 address";
    fn parse_value(s: &str) -> Option<Self> {
        todo!("{s}")
    }
}
/// `ip6addr`.
impl Datatype for Ipv6Addr {
    const EXPECTED: &'static str = "IPv6 address";
    fn parse_value(s: &str) -> Option<Self> {
        todo!("{s}")
    }
}
/// Free text (`string`): any value.
impl Datatype for String {
    const EXPECTED: &'static str = "string";
    fn parse_value(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
}

/// `port`: 0-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub u16);

/// `cidr4`: address/length, length 0-32. The address is kept as written (host bits allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr4 {
    pub addr: Ipv4Addr,
    pub len: u8,
}

/// `cidr6`: address/length, length 0-128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr6 {
    pub addr: Ipv6Addr,
    pub len: u8,
}

/// `hostname`: RFC 1123 labels of letters, digits, '-' and '_', dot-separated, at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hostname(pub String);

/// `macaddr`: six hex octets separated by ':' (or '-').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

/// `network device` name as the kernel accepts it: 1-15 bytes, no '/', ':', whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Device(pub String);
