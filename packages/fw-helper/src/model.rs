//! The rule model (sans-IO): [`Config`] -> [`Ruleset`], rendered as nft text by
//! [`crate::render`]. Protocol knowledge lives here; packages only declare interfaces, zones
//! and ports.
//!
//! What each section type asks for:
//! - `dhcp`: accept IPv4 UDP 67 from its interfaces. Guard: drop other UDP 67.
//! - `dns`: accept UDP and TCP to `port` (53) from its interfaces. Guard: drop other DNS to that port.
//! - `ripng`: accept UDP 521 from its interfaces only from fe80::/10 with hop limit 255 (RFC 2080
//!   section 2.4.2). The drop of any other IPv6 UDP 521 is emitted for both backends, since
//!   fw4's zone policies would accept it on an accepting zone.
//! - `nat64`: forward TUN -> WAN (and LAN -> TUN when given, only IPv6 to the NAT64 `prefix`,
//!   so that nothing but NAT64 traffic reaches the translator), masquerade the listed IPv4
//!   pools out of the WAN, clamp the TCP MSS to the route MTU on the TUN both ways.
//!   Each `static` entry (a static BIB entry's pool4 address and port) is accepted from the
//!   WAN into the TUN; when its address is masqueraded, the same port of the WAN address is
//!   DNATed to it (prerouting, only for packets addressed to the router itself). An `icmp`
//!   entry (address only) accepts echo requests to its address; it is never DNATed.
//!   Guard: drop other new connections from the WAN into the TUN.
//!
//! "Guards" are only emitted for the standalone nft backend, where nothing else filters;
//! under fw4 the zone policies already do that job.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::{Config, Ifaces, Net4};
use v6only_common::uci::ConfigError;

/// The chains we put rules in. Named as fw4 names them; the nft backend creates base chains
/// of the same names with the same hooks and priorities as fw4's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Chain {
    Input,
    Forward,
    Dstnat,
    Srcnat,
    MangleForward,
}

impl Chain {
    pub const ALL: [Chain; 5] = [
        Chain::Input,
        Chain::Forward,
        Chain::Dstnat,
        Chain::Srcnat,
        Chain::MangleForward,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Chain::Input => "input",
            Chain::Forward => "forward",
            Chain::Dstnat => "dstnat",
            Chain::Srcnat => "srcnat",
            Chain::MangleForward => "mangle_forward",
        }
    }
}

/// An interface match operand: one or more device names or `name*` patterns, never empty
/// (zones are resolved to their devices when the model is built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices(pub Vec<String>);

impl Devices {
    /// For comments: `br-lan,wlan0`.
    fn label(&self) -> String {
        self.0.join(",")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum L4 {
    Udp,
    Tcp,
}

impl L4 {
    pub fn name(self) -> &'static str {
        match self {
            L4::Udp => "udp",
            L4::Tcp => "tcp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// `meta nfproto ipv4|ipv6`
    Nfproto6(bool),
    Iif(Devices),
    Oif(Devices),
    Dport(L4, u16),
    Ip6Saddr(Ipv6Addr, u8),
    /// `ip6 daddr ADDR/LEN` (also restricts the rule to IPv6)
    Ip6Daddr(Ipv6Addr, u8),
    Ip6Hoplimit(u8),
    IpSaddr(Vec<Net4>),
    IpDaddr(Ipv4Addr),
    /// `fib daddr type local`: addressed to the router itself
    FibDaddrLocal,
    /// `tcp flags syn` (SYN and SYN/ACK)
    TcpSyn,
    /// `ct state new`
    CtNew,
    /// `icmp type echo-request`
    IcmpEchoRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Masquerade,
    /// `tcp option maxseg size set rt mtu`
    ClampMss,
    /// `dnat ip to ADDR:PORT`
    Dnat(Ipv4Addr, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: Chain,
    pub matches: Vec<Match>,
    pub verdict: Verdict,
    pub comment: String,
    /// Only for the standalone nft backend (see module docs).
    pub guard: bool,
}

/// The rules, in evaluation order within each chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    pub rules: Vec<Rule>,
}

const COMMENT_PREFIX: &str = "!v6only: ";
pub const RIPNG_PORT: u16 = 521;
pub const DHCP_SERVER_PORT: u16 = 67;

/// Zone name -> its devices: `config zone` (nft backend) or fw4's zones as it renders them.
pub type Zones = BTreeMap<String, Vec<String>>;

/// The devices of `ifaces`: its zones resolved, then its own devices. An unknown or empty zone
/// is the section's error when `strict` (nft backend); under fw4 it adds no device, so that
/// the snippets hold literal device names only and stay valid whatever the zones hold. None
/// when no device is left: then there is no rule, rather than an empty `iifname { }`.
fn devices(ifaces: &Ifaces, zones: &Zones, strict: bool) -> Result<Option<Devices>, ConfigError> {
    let mut devs: Vec<String> = Vec::new();
    for z in &ifaces.zones {
        match zones.get(&z.name).filter(|d| !d.is_empty()) {
            Some(d) => devs.extend(d.iter().cloned()),
            None if strict => return Err(z.undefined.clone()),
            None => {}
        }
    }
    devs.extend(ifaces.devices.iter().cloned());
    let mut seen = Vec::new();
    devs.retain(|d| {
        if seen.contains(d) {
            false
        } else {
            seen.push(d.clone());
            true
        }
    });
    Ok((!devs.is_empty()).then_some(Devices(devs)))
}

/// Builds the model. `standalone` (the nft backend) adds the guards and the loopback accept,
/// and makes an unknown or empty zone an error.
pub fn build(cfg: &Config, zones: &Zones, standalone: bool) -> Result<Ruleset, ConfigError> {
    let mut rules = Vec::new();
    let mut push =
        |chain: Chain, matches: Vec<Match>, verdict: Verdict, comment: String, guard: bool| {
            if !guard || standalone {
                rules.push(Rule {
                    chain,
                    matches,
                    verdict,
                    comment: format!("{COMMENT_PREFIX}{comment}"),
                    guard,
                });
            }
        };
    if !cfg.dhcp.is_empty() || !cfg.dns.is_empty() || !cfg.ripng.is_empty() {
        push(
            Chain::Input,
            vec![Match::Iif(Devices(vec!["lo".into()]))],
            Verdict::Accept,
            "loopback".into(),
            true,
        );
    }

    // DHCP
    for d in &cfg.dhcp {
        if let Some(i) = devices(&d.ifaces, zones, standalone)? {
            let c = format!("DHCP from {}", i.label());
            push(
                Chain::Input,
                vec![
                    Match::Nfproto6(false),
                    Match::Iif(i),
                    Match::Dport(L4::Udp, DHCP_SERVER_PORT),
                ],
                Verdict::Accept,
                c,
                false,
            );
        }
    }
    if !cfg.dhcp.is_empty() {
        push(
            Chain::Input,
            vec![
                Match::Nfproto6(false),
                Match::Dport(L4::Udp, DHCP_SERVER_PORT),
            ],
            Verdict::Drop,
            "DHCP from elsewhere".into(),
            true,
        );
    }

    // DNS
    let mut ports: Vec<u16> = Vec::new();
    for d in &cfg.dns {
        if let Some(i) = devices(&d.ifaces, zones, standalone)? {
            for l4 in [L4::Udp, L4::Tcp] {
                let c = format!("DNS/{} from {}", l4.name(), i.label());
                push(
                    Chain::Input,
                    vec![Match::Iif(i.clone()), Match::Dport(l4, d.port)],
                    Verdict::Accept,
                    c,
                    false,
                );
            }
        }
        if !ports.contains(&d.port) {
            ports.push(d.port);
        }
    }
    for p in ports {
        for l4 in [L4::Udp, L4::Tcp] {
            let c = format!("DNS/{} from elsewhere", l4.name());
            push(
                Chain::Input,
                vec![Match::Dport(l4, p)],
                Verdict::Drop,
                c,
                true,
            );
        }
    }

    // RIPng (RFC 2080 2.4.2: link-local source, hop limit 255)
    for r in &cfg.ripng {
        if let Some(i) = devices(&r.ifaces, zones, standalone)? {
            let c = format!("RIPng from {}", i.label());
            push(
                Chain::Input,
                vec![
                    Match::Iif(i),
                    Match::Ip6Saddr(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
                    Match::Ip6Hoplimit(255),
                    Match::Dport(L4::Udp, RIPNG_PORT),
                ],
                Verdict::Accept,
                c,
                false,
            );
        }
    }
    if !cfg.ripng.is_empty() {
        push(
            Chain::Input,
            vec![Match::Nfproto6(true), Match::Dport(L4::Udp, RIPNG_PORT)],
            Verdict::Drop,
            "RIPng not link-local, hop limit not 255, or elsewhere".into(),
            false,
        );
    }

    // NAT64
    for n in &cfg.nat64 {
        let tun = || Devices(vec![n.tun.clone()]);
        let wans = devices(&n.wan, zones, standalone)?;
        if let Some(w) = &wans {
            let c = format!("NAT64 {} to {}", n.tun, w.label());
            push(
                Chain::Forward,
                vec![Match::Iif(tun()), Match::Oif(w.clone())],
                Verdict::Accept,
                c,
                false,
            );
        }
        if let Some(l) = devices(&n.lan, zones, standalone)? {
            let c = format!("NAT64 {} to {} on {}", l.label(), n.prefix, n.tun);
            push(
                Chain::Forward,
                vec![
                    Match::Iif(l),
                    Match::Oif(tun()),
                    Match::Ip6Daddr(n.prefix.addr(), n.prefix.len()),
                ],
                Verdict::Accept,
                c,
                false,
            );
        }
        for e in &n.statics {
            // ICMP entries: only echo requests start a session (RFC 6146 3.5.3), no DNAT.
            let (to, what) = match e.l4 {
                Some(l4) => (
                    format!("{}:{}/{}", e.addr, e.port, l4.name()),
                    Match::Dport(l4, e.port),
                ),
                None => (format!("{}/icmp", e.addr), Match::IcmpEchoRequest),
            };
            if let Some(w) = &wans {
                let c = format!("NAT64 static {to} from {}", w.label());
                push(
                    Chain::Forward,
                    vec![
                        Match::Iif(w.clone()),
                        Match::Oif(tun()),
                        Match::IpDaddr(e.addr),
                        what.clone(),
                    ],
                    Verdict::Accept,
                    c,
                    false,
                );
                if let (Some(l4), true) = (e.l4, n.masqueraded(e.addr)) {
                    let c = format!("NAT64 static {to} at the address of {}", w.label());
                    push(
                        Chain::Dstnat,
                        vec![
                            Match::Nfproto6(false),
                            Match::Iif(w.clone()),
                            Match::FibDaddrLocal,
                            Match::Dport(l4, e.port),
                        ],
                        Verdict::Dnat(e.addr, e.port),
                        c,
                        false,
                    );
                }
            }
        }
        if let Some(w) = &wans {
            let c = format!("NAT64 new from {} to {}", w.label(), n.tun);
            push(
                Chain::Forward,
                vec![Match::Iif(w.clone()), Match::Oif(tun()), Match::CtNew],
                Verdict::Drop,
                c,
                true,
            );
        }
        if !n.masquerade.is_empty() {
            if let Some(w) = &wans {
                let c = format!("NAT64 pool masquerade to {}", w.label());
                push(
                    Chain::Srcnat,
                    vec![Match::Oif(w.clone()), Match::IpSaddr(n.masquerade.clone())],
                    Verdict::Masquerade,
                    c,
                    false,
                );
            }
        }
        if n.mss_clamp {
            let c = format!("NAT64 MSS clamp {}", n.tun);
            push(
                Chain::MangleForward,
                vec![Match::Iif(tun()), Match::TcpSyn],
                Verdict::ClampMss,
                c.clone(),
                false,
            );
            push(
                Chain::MangleForward,
                vec![Match::Oif(tun()), Match::TcpSyn],
                Verdict::ClampMss,
                c,
                false,
            );
        }
    }
    Ok(Ruleset { rules })
}

impl Ruleset {
    /// The chains that have rules, in [`Chain::ALL`] order.
    pub fn chains(&self) -> Vec<Chain> {
        let mut v: Vec<Chain> = self.rules.iter().map(|r| r.chain).collect();
        v.sort();
        v.dedup();
        v
    }
    pub fn in_chain(&self, c: Chain) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.chain == c)
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
