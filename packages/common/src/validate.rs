//! OpenWrt's UCI datatypes (as `uci_load_validate` / `validate_data` know them) as Rust types.
//!
//! Each type accepts what procd's validator (`validate/validate.c`) accepts for the datatype of
//! the same name, except where that validator only "accepts" a value through a C library quirk
//! (`strtoul` taking a sign or an empty string as 0); those cases are noted and rejected.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A UCI datatype: how to parse one value, and its name for error messages.
pub trait Datatype: Sized {
    /// What a valid value looks like, e.g. "port (0-65535)", used in errors.
    const EXPECTED: &'static str;
    fn parse_value(s: &str) -> Option<Self>;
}

/// `bool`: 1/0, yes/no, on/off, true/false, enabled/disabled, in any letter case (the
/// validator compares with `strcasecmp`).
impl Datatype for bool {
    const EXPECTED: &'static str = "boolean (0/1, yes/no, on/off, true/false, enabled/disabled)";
    fn parse_value(s: &str) -> Option<Self> {
        const TRUE: [&str; 5] = ["1", "on", "true", "yes", "enabled"];
        const FALSE: [&str; 5] = ["0", "off", "false", "no", "disabled"];
        if TRUE.iter().any(|w| w.eq_ignore_ascii_case(s)) {
            Some(true)
        } else if FALSE.iter().any(|w| w.eq_ignore_ascii_case(s)) {
            Some(false)
        } else {
            None
        }
    }
}

/// `uinteger`: the validator reads it with `strtoul(s, 0)`, so besides decimal it takes
/// `0x` hex and leading-zero octal (`010` is 8, `09` is invalid). Values above `u32::MAX`
/// are rejected here; C would silently clamp them.
impl Datatype for u32 {
    const EXPECTED: &'static str = "unsigned integer";
    fn parse_value(s: &str) -> Option<Self> {
        parse_uinteger(s).and_then(|n| u32::try_from(n).ok())
    }
}

/// `ip4addr` (a single address, no prefix). `inet_pton` rules: four decimal parts without
/// leading zeros, which is also what `Ipv4Addr::from_str` accepts.
impl Datatype for Ipv4Addr {
    const EXPECTED: &'static str = "IPv4 address";
    fn parse_value(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}
/// `ip6addr` (`inet_pton` rules: no prefix, no `%zone`; an embedded IPv4 tail is fine).
impl Datatype for Ipv6Addr {
    const EXPECTED: &'static str = "IPv6 address";
    fn parse_value(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}
/// Free text (`string`): any value.
impl Datatype for String {
    const EXPECTED: &'static str = "string";
    fn parse_value(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
}

/// `uinteger` as `strtoul(s, &end, 0)` reads it, after the validator's check that the first
/// character is a (hex) digit: decimal, `0x` hex or leading-zero octal, the whole string.
pub(crate) fn parse_uinteger(s: &str) -> Option<u64> {
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (digits, radix) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    // from_str_radix would also take a '+' sign, which strtoul may not have here.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Decimal digits only (the validator's `strtoul(s, 10)` minus its sign and whitespace quirks).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `port`: 0-65535, decimal (leading zeros allowed, as with `strtoul(s, 10)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub u16);

impl Datatype for Port {
    const EXPECTED: &'static str = "port (0-65535)";
    fn parse_value(s: &str) -> Option<Self> {
        parse_decimal(s)
            .and_then(|n| u16::try_from(n).ok())
            .map(Port)
    }
}

/// `cidr4`: `address/length` with length 0-32, or a bare address (the validator accepts it;
/// it means /32). The address is kept as written (host bits allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr4 {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Datatype for Cidr4 {
    const EXPECTED: &'static str = "IPv4 address with optional /prefix length (0-32)";
    fn parse_value(s: &str) -> Option<Self> {
        // The validator copies into `char buf[sizeof("255.255.255.255/32\0")]` (two NULs)
        // and rejects what does not fit.
        if s.len() + 1 > "255.255.255.255/32".len() + 2 {
            return None;
        }
        let (addr, len) = split_prefix(s, 32)?;
        Some(Cidr4 {
            addr: addr.parse().ok()?,
            len,
        })
    }
}

/// `cidr6`: `address/length` with length 0-128, or a bare address (/128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr6 {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Datatype for Cidr6 {
    const EXPECTED: &'static str = "IPv6 address with optional /prefix length (0-128)";
    fn parse_value(s: &str) -> Option<Self> {
        if s.len() + 1 > "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:255.255.255.255/128".len() + 2 {
            return None;
        }
        let (addr, len) = split_prefix(s, 128)?;
        Some(Cidr6 {
            addr: addr.parse().ok()?,
            len,
        })
    }
}

/// Splits `addr/len`; a missing `/len` is the full length. `addr/` is rejected although
/// `strtoul` would read the empty length as 0: a typo must not become a /0.
fn split_prefix(s: &str, max: u8) -> Option<(&str, u8)> {
    match s.split_once('/') {
        None => Some((s, max)),
        Some((addr, len)) => {
            let len = parse_decimal(len)?;
            (len <= u64::from(max)).then_some((addr, len as u8))
        }
    }
}

/// `hostname`: dot-separated labels of letters, digits, '-' and '_' (the validator allows
/// both anywhere in a label), no empty label (so no leading or trailing dot). Labels are at
/// most 63 and the name at most 253 characters (DNS limits; the validator bounds only the
/// last label, by 255).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hostname(pub String);

impl Datatype for Hostname {
    const EXPECTED: &'static str = "hostname (letters, digits, '-', '_', dot-separated)";
    fn parse_value(s: &str) -> Option<Self> {
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        (s.len() <= 253 && s.split('.').all(label_ok)).then(|| Hostname(s.to_string()))
    }
}

/// `macaddr`: six octets of one or two hex digits separated by ':' (what `ether_aton`
/// accepts; '-' separators are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl Datatype for MacAddr {
    const EXPECTED: &'static str = "MAC address (six hex octets separated by ':')";
    fn parse_value(s: &str) -> Option<Self> {
        let mut octets = [0u8; 6];
        let mut parts = s.split(':');
        for octet in &mut octets {
            let part = parts.next()?;
            if !(1..=2).contains(&part.len()) || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            *octet = u8::from_str_radix(part, 16).ok()?;
        }
        parts.next().is_none().then_some(MacAddr(octets))
    }
}

/// `network device` name as the kernel accepts it (`dev_valid_name`): 1-15 bytes, not `.`
/// or `..`, no '/', ':' or whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Device(pub String);

impl Datatype for Device {
    const EXPECTED: &'static str = "network device name (1-15 characters, no '/', ':' or spaces)";
    fn parse_value(s: &str) -> Option<Self> {
        let bad_byte =
            |b: u8| matches!(b, b'/' | b':' | b'\0') || b.is_ascii_whitespace() || b == 0x0b;
        let ok = (1..=15).contains(&s.len()) && s != "." && s != ".." && !s.bytes().any(bad_byte);
        ok.then(|| Device(s.to_string()))
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl fmt::Display for Cidr4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}
impl fmt::Display for Cidr6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}
impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}
impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T: Datatype>(s: &str) -> T {
        T::parse_value(s).unwrap_or_else(|| panic!("{s:?} should be a valid {}", T::EXPECTED))
    }
    fn bad<T: Datatype + fmt::Debug>(s: &str) {
        assert_eq!(
            T::parse_value(s).map(|v| format!("{v:?}")),
            None,
            "{s:?} should be rejected"
        );
    }

    #[test]
    fn bool_words_any_case() {
        for w in [
            "1", "on", "true", "yes", "enabled", "TRUE", "Yes", "ON", "Enabled",
        ] {
            assert!(ok::<bool>(w), "{w}");
        }
        for w in [
            "0", "off", "false", "no", "disabled", "FALSE", "No", "Disabled",
        ] {
            assert!(!ok::<bool>(w), "{w}");
        }
        for w in ["", "2", "y", "n", "enable", "disable", " 1", "1 ", "truee"] {
            bad::<bool>(w);
        }
    }

    #[test]
    fn uinteger_follows_strtoul_base_0() {
        assert_eq!(ok::<u32>("0"), 0);
        assert_eq!(ok::<u32>("43200"), 43200);
        assert_eq!(ok::<u32>("0x1F"), 31);
        assert_eq!(ok::<u32>("0X10"), 16);
        assert_eq!(ok::<u32>("010"), 8);
        assert_eq!(ok::<u32>("4294967295"), u32::MAX);
        for s in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "09",
            "0x",
            "0xg",
            "a1",
            "12h",
            "1.5",
            "4294967296",
        ] {
            bad::<u32>(s);
        }
    }

    #[test]
    fn ipv4_like_inet_pton() {
        assert_eq!(ok::<Ipv4Addr>("192.168.1.1"), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(ok::<Ipv4Addr>("0.0.0.0"), Ipv4Addr::UNSPECIFIED);
        for s in [
            "192.168.01.1",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.4/24",
            "0x1.2.3.4",
            " 1.2.3.4",
            "",
        ] {
            bad::<Ipv4Addr>(s);
        }
    }

    #[test]
    fn ipv6_like_inet_pton() {
        assert_eq!(
            ok::<Ipv6Addr>("64:ff9b::"),
            "64:ff9b::".parse::<Ipv6Addr>().unwrap()
        );
        ok::<Ipv6Addr>("::ffff:192.0.2.1");
        ok::<Ipv6Addr>("fd00:0:0:0:0:0:0:1");
        for s in [
            "fe80::1%eth0",
            "64:ff9b::/96",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            ":::",
            "",
            "::ffff:192.0.2.01",
        ] {
            bad::<Ipv6Addr>(s);
        }
    }

    #[test]
    fn port_is_decimal_0_to_65535() {
        assert_eq!(ok::<Port>("0"), Port(0));
        assert_eq!(ok::<Port>("53"), Port(53));
        assert_eq!(ok::<Port>("65535"), Port(65535));
        assert_eq!(
            ok::<Port>("080"),
            Port(80),
            "strtoul base 10 keeps leading zeros decimal"
        );
        for s in [
            "65536", "70000", "-1", "+53", "0x35", "", " 53", "53 ", "5a",
        ] {
            bad::<Port>(s);
        }
    }

    #[test]
    fn cidr4_forms() {
        assert_eq!(
            ok::<Cidr4>("192.168.1.1/24"),
            Cidr4 {
                addr: Ipv4Addr::new(192, 168, 1, 1),
                len: 24
            }
        );
        assert_eq!(ok::<Cidr4>("10.0.0.0/0").len, 0);
        assert_eq!(
            ok::<Cidr4>("10.0.0.1").len,
            32,
            "a bare address is accepted as /32"
        );
        assert_eq!(ok::<Cidr4>("10.0.0.0/08").len, 8);
        for s in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0/8",
            "::/0",
        ] {
            bad::<Cidr4>(s);
        }
        assert_eq!(ok::<Cidr4>("255.255.255.255/032").len, 32);
        bad::<Cidr4>("255.255.255.255/0032"); // longer than the validator's buffer
        assert_eq!(
            ok::<Cidr6>("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/0128").len,
            128
        );
        bad::<Cidr6>("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/00128");
        assert_eq!(ok::<Cidr4>("10.0.0.0/8").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn cidr6_forms() {
        let c = ok::<Cidr6>("64:ff9b::/96");
        assert_eq!((c.addr, c.len), ("64:ff9b::".parse().unwrap(), 96));
        assert_eq!(ok::<Cidr6>("::/0").len, 0);
        assert_eq!(ok::<Cidr6>("2001:db8::1").len, 128);
        assert_eq!(ok::<Cidr6>("::ffff:192.0.2.0/120").len, 120);
        for s in [
            "2001:db8::/129",
            "2001:db8::/",
            "2001:db8::/x",
            "10.0.0.0/8",
            "fe80::1%lan/64",
        ] {
            bad::<Cidr6>(s);
        }
        assert_eq!(ok::<Cidr6>("2001:db8::/32").to_string(), "2001:db8::/32");
    }

    #[test]
    fn hostname_rules() {
        for s in [
            "openwrt",
            "OpenWrt",
            "router-1",
            "_srv",
            "my_host",
            "-dash",
            "a.b.c",
            "lan.example.org",
            "1.2.3.4",
            "a",
        ] {
            ok::<Hostname>(s);
        }
        let label63 = "a".repeat(63);
        ok::<Hostname>(&label63);
        bad::<Hostname>(&"a".repeat(64));
        let long = [label63.as_str(); 4].join("."); // 255 characters
        bad::<Hostname>(&long);
        ok::<Hostname>(&long[..253]);
        for s in [
            "", ".", "a.", ".a", "a..b", "a b", "a/b", "über", "host:1", "a*",
        ] {
            bad::<Hostname>(s);
        }
    }

    #[test]
    fn macaddr_like_ether_aton() {
        assert_eq!(
            ok::<MacAddr>("00:11:22:aa:BB:cc"),
            MacAddr([0, 0x11, 0x22, 0xaa, 0xbb, 0xcc])
        );
        assert_eq!(
            ok::<MacAddr>("0:1:2:a:b:c"),
            MacAddr([0, 1, 2, 0xa, 0xb, 0xc])
        );
        for s in [
            "00-11-22-33-44-55",
            "00:11:22:33:44",
            "00:11:22:33:44:55:66",
            "000:11:22:33:44:55",
            "00:11:22:33:44:5g",
            "::::::",
            "001122334455",
            "",
        ] {
            bad::<MacAddr>(s);
        }
        assert_eq!(
            MacAddr([0, 0x11, 0x22, 0xaa, 0xbb, 0xcc]).to_string(),
            "00:11:22:aa:bb:cc"
        );
    }

    #[test]
    fn device_names_like_the_kernel() {
        for s in [
            "br-lan",
            "eth0",
            "wan.2",
            "lan1",
            "wlan0-mesh",
            "phy0-ap0",
            "123456789012345",
            "@wan",
        ] {
            ok::<Device>(s);
        }
        for s in [
            "",
            ".",
            "..",
            "1234567890123456",
            "eth0:1",
            "a/b",
            "a b",
            "a\tb",
        ] {
            bad::<Device>(s);
        }
    }
}
