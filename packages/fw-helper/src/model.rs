//! The rule model (sans-IO): [`Config`] -> [`Ruleset`], and its two renderings: nft text
//! (fw4 snippets, `show`) and nftables JSON (our own table). Protocol knowledge lives here;
//! packages only declare interfaces, zones and ports.
//!
//! What each section type asks for:
//! - `dhcp`: accept IPv4 UDP 67 from its interfaces. Guard: drop other UDP 67.
//! - `dns`: accept UDP and TCP to `port` (53) from its interfaces. Guard: drop other DNS to that port.
//! - `ripng`: accept UDP 521 from its interfaces only from fe80::/10 with hop limit 255 (RFC 2080
//!   section 2.4.2). The drop of any other IPv6 UDP 521 is emitted for both backends, since
//!   fw4's zone policies would accept it on an accepting zone.
//! - `nat64`: forward TUN -> WAN (and LAN -> TUN when given), masquerade the listed IPv4
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
use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::{Cidr4, Config, Ifaces};
use nftables::{
    expr::{
        Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField,
        Prefix, RTKey, SetItem, TcpOption, CT, RT,
    },
    schema::{Chain as NfChain, NfListObject, Rule as NfRule, Table},
    stmt::{Mangle, Match as NfMatch, NATFamily, Operator, Statement, NAT},
    types::{NfChainPolicy, NfChainType, NfFamily, NfHook},
};
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
    /// (type, hook, priority name, priority value) of the nft backend's base chain.
    fn base(self) -> (NfChainType, NfHook, &'static str, i32) {
        match self {
            Chain::Input => (NfChainType::Filter, NfHook::Input, "filter", 0),
            Chain::Forward => (NfChainType::Filter, NfHook::Forward, "filter", 0),
            Chain::Dstnat => (NfChainType::NAT, NfHook::Prerouting, "dstnat", -100),
            Chain::Srcnat => (NfChainType::NAT, NfHook::Postrouting, "srcnat", 100),
            Chain::MangleForward => (NfChainType::Filter, NfHook::Forward, "mangle", -150),
        }
    }
}

/// An interface match operand: device names (zones are resolved when the model is built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ifs {
    Devices(Vec<String>),
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
    Iif(Ifs),
    Oif(Ifs),
    Dport(L4, u16),
    Ip6Saddr(Ipv6Addr, u8),
    Ip6Hoplimit(u8),
    IpSaddr(Vec<Cidr4>),
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
/// the snippets hold literal device names only and stay valid whatever the zones hold.
fn ifs(ifaces: &Ifaces, zones: &Zones, strict: bool) -> Result<Vec<Ifs>, ConfigError> {
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
    // No interfaces (an optional side left out, an empty zone): no rule, not `iifname { }`.
    Ok(if devs.is_empty() {
        Vec::new()
    } else {
        vec![Ifs::Devices(devs)]
    })
}

fn ifs_label(i: &Ifs) -> String {
    match i {
        Ifs::Devices(d) => d.join(","),
    }
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
            vec![Match::Iif(Ifs::Devices(vec!["lo".into()]))],
            Verdict::Accept,
            "loopback".into(),
            true,
        );
    }

    // DHCP
    for d in &cfg.dhcp {
        for i in ifs(&d.ifaces, zones, standalone)? {
            let c = format!("DHCP from {}", ifs_label(&i));
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
        for i in ifs(&d.ifaces, zones, standalone)? {
            for l4 in [L4::Udp, L4::Tcp] {
                let c = format!("DNS/{} from {}", l4.name(), ifs_label(&i));
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
        for i in ifs(&r.ifaces, zones, standalone)? {
            let c = format!("RIPng from {}", ifs_label(&i));
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
        let tun = || Ifs::Devices(vec![n.tun.clone()]);
        let wans = ifs(&n.wan, zones, standalone)?;
        for w in &wans {
            let c = format!("NAT64 {} to {}", n.tun, ifs_label(w));
            push(
                Chain::Forward,
                vec![Match::Iif(tun()), Match::Oif(w.clone())],
                Verdict::Accept,
                c,
                false,
            );
        }
        for l in ifs(&n.lan, zones, standalone)? {
            let c = format!("NAT64 {} to {}", ifs_label(&l), n.tun);
            push(
                Chain::Forward,
                vec![Match::Iif(l), Match::Oif(tun())],
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
            for w in &wans {
                let c = format!("NAT64 static {to} from {}", ifs_label(w));
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
                    let c = format!("NAT64 static {to} at the address of {}", ifs_label(w));
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
        for w in &wans {
            let c = format!("NAT64 new from {} to {}", ifs_label(w), n.tun);
            push(
                Chain::Forward,
                vec![Match::Iif(w.clone()), Match::Oif(tun()), Match::CtNew],
                Verdict::Drop,
                c,
                true,
            );
        }
        if !n.masquerade.is_empty() {
            for w in &wans {
                let c = format!("NAT64 pool masquerade to {}", ifs_label(w));
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

// ---------------------------------------------------------------- text

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn text_ifs(i: &Ifs) -> String {
    match i {
        Ifs::Devices(d) if d.len() == 1 => quote(&d[0]),
        Ifs::Devices(d) => format!(
            "{{ {} }}",
            d.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn text_match(m: &Match) -> String {
    match m {
        Match::Nfproto6(v6) => format!("meta nfproto {}", if *v6 { "ipv6" } else { "ipv4" }),
        Match::Iif(i) => format!("iifname {}", text_ifs(i)),
        Match::Oif(i) => format!("oifname {}", text_ifs(i)),
        Match::Dport(l4, p) => format!("{} dport {p}", l4.name()),
        Match::Ip6Saddr(a, l) => format!("ip6 saddr {a}/{l}"),
        Match::Ip6Hoplimit(h) => format!("ip6 hoplimit {h}"),
        Match::IpSaddr(n) if n.len() == 1 => format!("ip saddr {}/{}", n[0].addr, n[0].len),
        Match::IpSaddr(n) => format!(
            "ip saddr {{ {} }}",
            n.iter()
                .map(|c| format!("{}/{}", c.addr, c.len))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Match::IpDaddr(a) => format!("ip daddr {a}"),
        Match::FibDaddrLocal => "fib daddr type local".into(),
        Match::TcpSyn => "tcp flags syn".into(),
        Match::CtNew => "ct state new".into(),
        Match::IcmpEchoRequest => "icmp type echo-request".into(),
    }
}

/// One rule as a line of nft syntax (without indentation).
pub fn text_rule(r: &Rule) -> String {
    let mut s: Vec<String> = r.matches.iter().map(text_match).collect();
    s.push(match r.verdict {
        Verdict::Accept => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Masquerade => "masquerade".into(),
        Verdict::ClampMss => "tcp option maxseg size set rt mtu".into(),
        Verdict::Dnat(a, p) => format!("dnat ip to {a}:{p}"),
    });
    format!("{} comment {}", s.join(" "), quote(&r.comment))
}

impl Ruleset {
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

    /// fw4 include snippets: chain name -> file content (only chains with rules).
    pub fn fw4_snippets(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        for c in self.chains() {
            let mut s = String::from("# Generated by fw-helper; changes are overwritten.\n");
            for r in self.in_chain(c) {
                let _ = writeln!(s, "{}", text_rule(r));
            }
            out.insert(c.name(), s);
        }
        out
    }

    /// Our own table as an nft script (what `show` prints for the nft backend).
    pub fn nft_text(&self, table: &str) -> String {
        let mut s = format!("table inet {table} {{\n");
        for (n, c) in self.chains().into_iter().enumerate() {
            let (ty, hook, prio, _) = c.base();
            let ty = match ty {
                NfChainType::Filter => "filter",
                NfChainType::NAT => "nat",
                NfChainType::Route => "route",
            };
            let hook = match hook {
                NfHook::Input => "input",
                NfHook::Forward => "forward",
                NfHook::Prerouting => "prerouting",
                NfHook::Postrouting => "postrouting",
                _ => unreachable!(),
            };
            if n > 0 {
                s.push('\n');
            }
            let _ = writeln!(s, "\tchain {} {{", c.name());
            let _ = writeln!(
                s,
                "\t\ttype {ty} hook {hook} priority {prio}; policy accept;"
            );
            for r in self.in_chain(c) {
                let _ = writeln!(s, "\t\t{}", text_rule(r));
            }
            s.push_str("\t}\n");
        }
        s.push_str("}\n");
        s
    }

    /// The JSON batch replacing our table atomically: add (so that the delete cannot fail),
    /// delete, then create the table, its chains and rules. An empty ruleset only removes it.
    pub fn nft_batch(&self, table: &str) -> nftables::schema::Nftables<'static> {
        let mut b = nftables::batch::Batch::new();
        let t = || Table {
            family: NfFamily::INet,
            name: table.to_string().into(),
            handle: None,
        };
        b.add(NfListObject::Table(t()));
        b.delete(NfListObject::Table(t()));
        if !self.is_empty() {
            b.add(NfListObject::Table(t()));
            for c in self.chains() {
                let (ty, hook, _, prio) = c.base();
                b.add(NfListObject::Chain(NfChain {
                    family: NfFamily::INet,
                    table: table.to_string().into(),
                    name: c.name().into(),
                    _type: Some(ty),
                    hook: Some(hook),
                    prio: Some(prio),
                    policy: Some(NfChainPolicy::Accept),
                    ..NfChain::default()
                }));
            }
            for r in &self.rules {
                b.add(NfListObject::Rule(NfRule {
                    family: NfFamily::INet,
                    table: table.to_string().into(),
                    chain: r.chain.name().into(),
                    expr: json_rule(r).into(),
                    comment: Some(r.comment.clone().into()),
                    ..NfRule::default()
                }));
            }
        }
        b.to_nftables()
    }
}

/// The batch removing our table whether or not it exists.
pub fn nft_remove_batch(table: &str) -> nftables::schema::Nftables<'static> {
    Ruleset::default().nft_batch(table)
}

// ---------------------------------------------------------------- JSON

fn s(v: &str) -> Expression<'static> {
    Expression::String(v.to_string().into())
}
fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}
fn payload(proto: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: proto.into(),
            field: field.into(),
        },
    )))
}
fn prefix(addr: String, len: u8) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(Expression::String(addr.into())),
        len: len.into(),
    }))
}
fn m(left: Expression<'static>, op: Operator, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(NfMatch { left, right, op })
}
fn set_or_single(mut items: Vec<Expression<'static>>) -> Expression<'static> {
    if items.len() == 1 {
        items.pop().unwrap()
    } else {
        Expression::Named(NamedExpression::Set(
            items.into_iter().map(SetItem::Element).collect(),
        ))
    }
}
fn json_ifs(i: &Ifs) -> Expression<'static> {
    match i {
        Ifs::Devices(d) => set_or_single(d.iter().map(|x| s(x)).collect()),
    }
}

fn json_rule(r: &Rule) -> Vec<Statement<'static>> {
    let mut v: Vec<Statement<'static>> = r
        .matches
        .iter()
        .map(|x| match x {
            Match::Nfproto6(v6) => m(
                meta(MetaKey::Nfproto),
                Operator::EQ,
                s(if *v6 { "ipv6" } else { "ipv4" }),
            ),
            Match::Iif(i) => m(meta(MetaKey::Iifname), Operator::EQ, json_ifs(i)),
            Match::Oif(i) => m(meta(MetaKey::Oifname), Operator::EQ, json_ifs(i)),
            Match::Dport(l4, p) => m(
                payload(l4.name(), "dport"),
                Operator::EQ,
                Expression::Number((*p).into()),
            ),
            Match::Ip6Saddr(a, l) => m(
                payload("ip6", "saddr"),
                Operator::EQ,
                prefix(a.to_string(), *l),
            ),
            Match::Ip6Hoplimit(h) => m(
                payload("ip6", "hoplimit"),
                Operator::EQ,
                Expression::Number((*h).into()),
            ),
            Match::IpSaddr(n) => m(
                payload("ip", "saddr"),
                Operator::EQ,
                set_or_single(
                    n.iter()
                        .map(|c| prefix(c.addr.to_string(), c.len))
                        .collect(),
                ),
            ),
            Match::IpDaddr(a) => m(payload("ip", "daddr"), Operator::EQ, s(&a.to_string())),
            Match::FibDaddrLocal => m(
                Expression::Named(NamedExpression::Fib(Fib {
                    result: FibResult::Type,
                    flags: HashSet::from([FibFlag::Daddr]),
                })),
                Operator::EQ,
                s("local"),
            ),
            Match::TcpSyn => m(payload("tcp", "flags"), Operator::IN, s("syn")),
            Match::IcmpEchoRequest => m(payload("icmp", "type"), Operator::EQ, s("echo-request")),
            Match::CtNew => m(
                Expression::Named(NamedExpression::CT(CT {
                    key: "state".into(),
                    family: None,
                    dir: None,
                })),
                Operator::IN,
                s("new"),
            ),
        })
        .collect();
    v.push(match r.verdict {
        Verdict::Accept => Statement::Accept(None),
        Verdict::Drop => Statement::Drop(None),
        Verdict::Masquerade => Statement::Masquerade(None),
        Verdict::ClampMss => Statement::Mangle(Mangle {
            key: Expression::Named(NamedExpression::TcpOption(TcpOption {
                name: "maxseg".into(),
                field: Some("size".into()),
            })),
            value: Expression::Named(NamedExpression::RT(RT {
                key: RTKey::MTU,
                family: None,
            })),
        }),
        Verdict::Dnat(a, p) => Statement::DNAT(Some(NAT {
            addr: Some(s(&a.to_string())),
            family: Some(NATFamily::IP),
            port: Some(Expression::Number(p.into())),
            flags: None,
        })),
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Backend, Dhcp, Dns, Nat64, Ripng, StaticPort, ZoneRef};
    use std::path::PathBuf;

    fn zref(n: &str) -> ZoneRef {
        ZoneRef {
            name: n.into(),
            undefined: ConfigError {
                path: PathBuf::from("/x"),
                line: 3,
                option: "x.@dns[0].zone".into(),
                value: Some(n.into()),
                expected: "a zone".into(),
            },
        }
    }
    fn ifz(z: &str) -> Ifaces {
        Ifaces {
            zones: vec![zref(z)],
            devices: vec![],
        }
    }
    fn cfg() -> Config {
        let mut zones = BTreeMap::new();
        zones.insert(
            "lan".to_string(),
            vec!["br-lan".to_string(), "wlan0".to_string()],
        );
        zones.insert("wan".to_string(), vec!["eth1".to_string()]);
        Config {
            enabled: true,
            backend: Backend::Auto,
            table: config::DEFAULT_TABLE.into(),
            zones,
            dhcp: vec![Dhcp {
                ifaces: Ifaces {
                    zones: vec![],
                    devices: vec!["br-lan".into()],
                },
            }],
            dns: vec![Dns {
                ifaces: ifz("lan"),
                port: 53,
            }],
            ripng: vec![Ripng { ifaces: ifz("lan") }],
            nat64: vec![Nat64 {
                tun: "nat64".into(),
                wan: ifz("wan"),
                lan: ifz("lan"),
                masquerade: vec![Cidr4 {
                    addr: [192, 168, 255, 0].into(),
                    len: 24,
                }],
                mss_clamp: true,
                statics: vec![
                    StaticPort {
                        l4: Some(L4::Tcp),
                        addr: [192, 168, 255, 1].into(),
                        port: 8080,
                    },
                    StaticPort {
                        l4: Some(L4::Udp),
                        addr: [203, 0, 113, 5].into(),
                        port: 5000,
                    },
                ],
            }],
            warnings: vec![],
        }
    }

    #[test]
    fn fw4_snippets() {
        let rs = build(&cfg(), &cfg().zones, false).unwrap();
        assert!(rs.rules.iter().all(|r| !r.guard));
        let sn = rs.fw4_snippets();
        assert_eq!(
            sn.keys().copied().collect::<Vec<_>>(),
            vec!["dstnat", "forward", "input", "mangle_forward", "srcnat"]
        );
        let input = &sn["input"];
        assert!(
            input.contains("meta nfproto ipv4 iifname \"br-lan\" udp dport 67 accept"),
            "{input}"
        );
        assert!(input.contains("iifname { \"br-lan\", \"wlan0\" } udp dport 53 accept"));
        assert!(input.contains("iifname { \"br-lan\", \"wlan0\" } tcp dport 53 accept"));
        assert!(input.contains(
            "iifname { \"br-lan\", \"wlan0\" } ip6 saddr fe80::/10 ip6 hoplimit 255 udp dport 521 accept"
        ));
        assert!(input.contains("meta nfproto ipv6 udp dport 521 drop"));
        assert!(!input.contains("dport 53 drop"));
        assert!(sn["forward"].contains("iifname \"nat64\" oifname \"eth1\" accept"));
        assert!(
            sn["forward"].contains("iifname { \"br-lan\", \"wlan0\" } oifname \"nat64\" accept")
        );
        assert!(sn["srcnat"].contains("oifname \"eth1\" ip saddr 192.168.255.0/24 masquerade"));
        assert!(sn["mangle_forward"]
            .contains("oifname \"nat64\" tcp flags syn tcp option maxseg size set rt mtu"));
        // RIPng accept comes before the RIPng drop.
        assert!(input.find("521 accept").unwrap() < input.find("521 drop").unwrap());
        // Static BIB entries: both reachable, only the masqueraded one DNATed.
        assert!(sn["forward"].contains(
            "iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.1 tcp dport 8080 accept"
        ));
        assert!(sn["forward"].contains(
            "iifname \"eth1\" oifname \"nat64\" ip daddr 203.0.113.5 udp dport 5000 accept"
        ));
        let dnat = &sn["dstnat"];
        assert_eq!(dnat.lines().count(), 2, "{dnat}");
        assert!(dnat.contains(
            "meta nfproto ipv4 iifname \"eth1\" fib daddr type local tcp dport 8080 dnat ip to 192.168.255.1:8080 comment"
        ), "{dnat}");
    }

    #[test]
    fn statics_before_the_guard_in_standalone() {
        let c = cfg();
        let rs = build(&c, &c.zones, true).unwrap();
        let t = rs.nft_text("v6only");
        let accept = t
            .find("iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.1 tcp dport 8080 accept")
            .expect(&t);
        let udp = t
            .find("iifname \"eth1\" oifname \"nat64\" ip daddr 203.0.113.5 udp dport 5000 accept")
            .expect(&t);
        let guard = t.find("ct state new drop").unwrap();
        assert!(accept < guard && udp < guard);
        assert!(t.contains("\tchain dstnat {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tmeta nfproto ipv4 iifname \"eth1\" fib daddr type local tcp dport 8080 dnat ip to 192.168.255.1:8080 comment \"!v6only: NAT64 static 192.168.255.1:8080/tcp at the address of eth1\"\n\t}"), "{t}");
        assert!(!t.contains("dnat ip to 203.0.113.5"));
        // Without statics: no dstnat chain at all.
        let mut c = cfg();
        c.nat64[0].statics.clear();
        let rs = build(&c, &c.zones, true).unwrap();
        assert!(!rs.chains().contains(&Chain::Dstnat));
        assert!(!rs.nft_text("v6only").contains("daddr"));
    }

    #[test]
    fn icmp_static_accepts_echo_requests_without_dnat() {
        let mut c = cfg();
        // In the masqueraded pool: still no DNAT (an echo has no port to forward).
        c.nat64[0].statics.push(StaticPort {
            l4: None,
            addr: [192, 168, 255, 2].into(),
            port: 0,
        });
        let rs = build(&c, &c.zones, true).unwrap();
        let t = rs.nft_text("v6only");
        let ping = t
            .find("iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.2 icmp type echo-request accept comment \"!v6only: NAT64 static 192.168.255.2/icmp from eth1\"")
            .expect(&t);
        assert!(ping < t.find("ct state new drop").unwrap(), "{t}");
        assert!(!t.contains("dnat ip to 192.168.255.2"), "{t}");
        let dnat: Vec<String> = rs.in_chain(Chain::Dstnat).map(text_rule).collect();
        assert_eq!(dnat.len(), 1, "{dnat:?}");
        let json = serde_json::to_string(&rs.nft_batch("v6only")).unwrap();
        assert!(
            json.contains(r#"{"match":{"left":{"payload":{"protocol":"icmp","field":"type"}},"right":"echo-request","op":"=="}}"#),
            "{json}"
        );
        let fw4 = build(&c, &c.zones, false).unwrap().fw4_snippets();
        assert!(fw4["forward"].contains(
            "iifname \"eth1\" oifname \"nat64\" ip daddr 192.168.255.2 icmp type echo-request accept"
        ));
    }

    #[test]
    fn nat64_without_lan_has_no_lan_rule() {
        let mut c = cfg();
        c.nat64[0].lan = Ifaces::default();
        for standalone in [true, false] {
            let rs = build(&c, &c.zones, standalone).unwrap();
            let fwd: Vec<String> = rs.in_chain(Chain::Forward).map(text_rule).collect();
            assert!(
                fwd.iter()
                    .all(|r| !r.contains("{  }") && !r.contains("oifname \"nat64\" accept")),
                "{fwd:?}"
            );
            assert!(fwd.iter().any(|r| r.contains("iifname \"nat64\"")));
        }
    }

    #[test]
    fn standalone_resolves_zones_and_guards() {
        let c = cfg();
        let rs = build(&c, &c.zones, true).unwrap();
        let t = rs.nft_text("v6only");
        assert!(t.starts_with("table inet v6only {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"lo\" accept"), "{t}");
        assert!(t.contains("iifname { \"br-lan\", \"wlan0\" } udp dport 53 accept"));
        assert!(t.contains("\t\tudp dport 53 drop comment"));
        assert!(t.contains("\t\ttcp dport 53 drop comment"));
        assert!(t.contains("meta nfproto ipv4 udp dport 67 drop"));
        assert!(t.contains("iifname \"eth1\" oifname \"nat64\" ct state new drop"));
        assert!(t.contains("type nat hook postrouting priority srcnat; policy accept;"));
        assert!(t.contains("type filter hook forward priority mangle; policy accept;"));
        assert!(!t.contains('$'));
    }

    #[test]
    fn unknown_zone_is_the_sections_error() {
        let mut c = cfg();
        c.dns[0].ifaces = ifz("guest");
        let e = build(&c, &c.zones, true).unwrap_err();
        assert_eq!(e.value.as_deref(), Some("guest"));
        assert_eq!(e.line, 3);
        // An empty zone too.
        c.zones.insert("guest".into(), vec![]);
        assert!(build(&c, &c.zones, true).is_err());
    }

    /// Under fw4 every zone match is rendered as literal device names, so that the snippets
    /// are valid whatever the zones hold: an empty or missing zone only leaves its rules out.
    #[test]
    fn fw4_missing_and_empty_zones_leave_rules_out() {
        let mut c = cfg();
        c.dns.push(Dns {
            ifaces: Ifaces {
                zones: vec![zref("guest"), zref("lan")],
                devices: vec!["wlan0".into(), "tap0".into()],
            },
            port: 5353,
        });
        for lan in [None, Some(vec![])] {
            let mut z = c.zones.clone();
            match lan.clone() {
                None => z.remove("lan"),
                Some(d) => z.insert("lan".into(), d),
            };
            let sn = build(&c, &z, false).unwrap().fw4_snippets();
            let all: String = sn.values().cloned().collect();
            assert!(!all.contains('$') && !all.contains("{ }") && !all.contains("{  }"));
            let input = &sn["input"];
            // dhcp names its device; the lan-only DNS and RIPng rules are gone.
            assert!(
                input.contains("iifname \"br-lan\" udp dport 67 accept"),
                "{input}"
            );
            assert!(!input.contains("dport 53 "), "{input}");
            assert!(!input.contains("521 accept"), "{input}");
            // The RIPng guard is zone-free and stays.
            assert!(
                input.contains("meta nfproto ipv6 udp dport 521 drop"),
                "{input}"
            );
            // Devices given literally stay, without the missing zones'.
            assert!(
                input.contains("iifname { \"wlan0\", \"tap0\" } udp dport 5353 accept"),
                "{input}"
            );
            // NAT64 keeps TUN -> WAN, loses LAN -> TUN.
            assert!(sn["forward"].contains("iifname \"nat64\" oifname \"eth1\" accept"));
            assert!(!sn["forward"].contains("oifname \"nat64\" accept"));
        }
        // No WAN at all: nothing of NAT64 but the MSS clamp on the TUN.
        let mut z = c.zones.clone();
        z.remove("wan");
        let sn = build(&c, &z, false).unwrap().fw4_snippets();
        assert!(
            !sn.contains_key("srcnat") && !sn.contains_key("dstnat"),
            "{sn:?}"
        );
        assert!(!sn["forward"].contains("\"eth1\""), "{sn:?}");
        assert!(sn["mangle_forward"].contains("oifname \"nat64\" tcp flags syn"));
        // A zone of several devices, shared devices listed once.
        let sn = build(&c, &c.zones, false).unwrap().fw4_snippets();
        assert!(
            sn["input"]
                .contains("iifname { \"br-lan\", \"wlan0\", \"tap0\" } udp dport 5353 accept"),
            "{sn:?}"
        );
    }

    #[test]
    fn json_batch_shape() {
        let c = cfg();
        let rs = build(&c, &c.zones, true).unwrap();
        let j = serde_json::to_value(rs.nft_batch("v6only")).unwrap();
        let objs = j["nftables"].as_array().unwrap();
        assert_eq!(
            objs[0],
            serde_json::json!({"add": {"table": {"family": "inet", "name": "v6only"}}})
        );
        assert_eq!(
            objs[1],
            serde_json::json!({"delete": {"table": {"family": "inet", "name": "v6only"}}})
        );
        assert_eq!(
            objs[2],
            serde_json::json!({"add": {"table": {"family": "inet", "name": "v6only"}}})
        );
        assert_eq!(
            objs[3],
            serde_json::json!({"add": {"chain": {"family": "inet", "table": "v6only", "name": "input",
                "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}})
        );
        assert_eq!(objs.len(), 3 + rs.chains().len() + rs.rules.len());
        // The RIPng accept rule, fully.
        let rip = objs
            .iter()
            .find(|o| {
                o["add"]["rule"]["comment"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("!v6only: RIPng from"))
            })
            .unwrap();
        assert_eq!(
            rip["add"]["rule"]["expr"],
            serde_json::json!([
                {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": {"set": ["br-lan", "wlan0"]}}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
                           "right": {"prefix": {"addr": "fe80::", "len": 10}}}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "hoplimit"}}, "right": 255}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 521}},
                {"accept": null}
            ])
        );
        let dnat = objs
            .iter()
            .find(|o| o["add"]["rule"]["chain"] == "dstnat")
            .unwrap();
        assert_eq!(
            dnat["add"]["rule"]["expr"],
            serde_json::json!([
                {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}},
                {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth1"}},
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
                {"dnat": {"addr": "192.168.255.1", "family": "ip", "port": 8080}}
            ])
        );
        let chain = objs
            .iter()
            .find(|o| o["add"]["chain"]["name"] == "dstnat")
            .unwrap();
        assert_eq!(chain["add"]["chain"]["hook"], "prerouting");
        assert_eq!(chain["add"]["chain"]["prio"], -100);
        assert_eq!(chain["add"]["chain"]["type"], "nat");
        let mss = objs
            .iter()
            .find(|o| o["add"]["rule"]["chain"] == "mangle_forward")
            .unwrap();
        assert_eq!(
            mss["add"]["rule"]["expr"][2],
            serde_json::json!({"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": {"rt": {"key": "mtu"}}}})
        );
        // Text and JSON describe the same rules in the same order.
        let texts: Vec<String> = rs.rules.iter().map(text_rule).collect();
        let rules: Vec<_> = objs
            .iter()
            .filter(|o| o["add"].get("rule").is_some())
            .collect();
        assert_eq!(texts.len(), rules.len());
        for (t, r) in texts.iter().zip(rules) {
            assert!(t.ends_with(&format!(
                "comment \"{}\"",
                r["add"]["rule"]["comment"].as_str().unwrap()
            )));
        }
    }

    #[test]
    fn remove_batch_and_empty() {
        let j = serde_json::to_value(nft_remove_batch("t")).unwrap();
        assert_eq!(j["nftables"].as_array().unwrap().len(), 2);
        let mut c = cfg();
        c.dhcp.clear();
        c.dns.clear();
        c.ripng.clear();
        c.nat64.clear();
        let rs = build(&c, &c.zones, true).unwrap();
        assert!(rs.is_empty());
        assert!(rs.fw4_snippets().is_empty());
    }

    #[test]
    fn multi_pool() {
        let m = Match::IpSaddr(vec![
            Cidr4 {
                addr: [10, 0, 0, 0].into(),
                len: 8,
            },
            Cidr4 {
                addr: [192, 168, 0, 0].into(),
                len: 16,
            },
        ]);
        assert_eq!(text_match(&m), "ip saddr { 10.0.0.0/8, 192.168.0.0/16 }");
    }
}
