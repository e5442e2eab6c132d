//! Which of this router's own routes RIPng advertises (`config redistribute`, the originated
//! default): a pure function of the config and what the kernel has, so the driver calls it
//! again after every address or route change and hands the result to the core.

use std::net::Ipv6Addr;

use crate::config::{Config, Redistribute, Source};
use crate::prefix::Prefix;
use crate::router::{is_link_local, LocalRoute};

/// rtm_protocol values of the kernel's own routes (iproute2's rt_protos).
pub const RTPROT_KERNEL: u8 = 2;
pub const RTPROT_BOOT: u8 = 3;
pub const RTPROT_STATIC: u8 = 4;

/// rtm_type values that are routes to somewhere (unicast) or deliberately nowhere (the
/// aggregates people announce with a blackhole).
const RTN_UNICAST: u8 = 1;
const RTN_BLACKHOLE: u8 = 6;
const RTN_UNREACHABLE: u8 = 7;
const RTN_PROHIBIT: u8 = 8;

/// An IPv6 address on an interface, as the driver saw it in rtnetlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ifindex: u32,
    pub device: String,
    pub addr: Ipv6Addr,
    pub len: u8,
    /// The interface is up and the address usable (not tentative, not failed DAD).
    pub usable: bool,
}

/// A route in the kernel table RIPng works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub prefix: Prefix,
    pub protocol: u8,
    pub kind: u8,
    pub device: Option<String>,
    /// The first next hop: gateway and interface.
    pub gateway: Option<(Ipv6Addr, u32)>,
}

/// The local routes to advertise now. `own_protocol` is ours (never redistributed).
pub fn local_routes(config: &Config, addrs: &[Address], routes: &[KernelRoute]) -> Vec<LocalRoute> {
    let mut out = Vec::new();
    if config.default_route {
        out.push(LocalRoute {
            prefix: Prefix::DEFAULT,
            source: Source::Default,
            metric: 1,
            tag: 0,
            device: None,
            gateway: None,
        });
    }
    for a in addrs.iter().filter(|a| a.usable && global(&a.addr)) {
        let Some(prefix) = Prefix::new(a.addr, a.len) else {
            continue;
        };
        if let Some(r) = section(config, Source::Connected, &prefix) {
            out.push(LocalRoute {
                prefix,
                source: Source::Connected,
                metric: r.metric,
                tag: r.tag,
                device: Some(a.device.clone()),
                gateway: None,
            });
        }
    }
    for k in routes {
        let source = match k.protocol {
            RTPROT_BOOT | RTPROT_STATIC => Source::Static,
            RTPROT_KERNEL => continue,
            p if p == config.kernel.protocol => continue,
            _ => Source::Kernel,
        };
        if !matches!(
            k.kind,
            RTN_UNICAST | RTN_BLACKHOLE | RTN_UNREACHABLE | RTN_PROHIBIT
        ) || !(global(&k.prefix.addr()) || k.prefix.is_default())
        {
            continue;
        }
        let Some(r) = section(config, source, &k.prefix) else {
            continue;
        };
        // ::/0 only when a section names it: a default route is not redistributed by accident.
        if k.prefix.is_default() && !r.prefixes.contains(&Prefix::DEFAULT) {
            continue;
        }
        out.push(LocalRoute {
            prefix: k.prefix,
            source,
            metric: r.metric,
            tag: r.tag,
            device: k.device.clone(),
            gateway: k.gateway.filter(|(gw, _)| is_link_local(gw)),
        });
    }
    out
}

/// The first `config redistribute` of `source` whose prefixes (none: all) cover `prefix`.
fn section<'a>(config: &'a Config, source: Source, prefix: &Prefix) -> Option<&'a Redistribute> {
    config.redistribute.iter().find(|r| {
        r.source == source
            && (r.prefixes.is_empty() || r.prefixes.iter().any(|p| p.contains(prefix)))
    })
}

/// Worth advertising: not link-local, multicast, loopback, unspecified or IPv4-mapped.
fn global(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    !(is_link_local(a)
        || s[0] >> 8 == 0xff
        || a.is_loopback()
        || a.is_unspecified()
        || a.to_ipv4_mapped().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
    }

    fn addr(dev: &str, a: &str, len: u8, usable: bool) -> Address {
        Address {
            ifindex: 2,
            device: dev.into(),
            addr: a.parse().unwrap(),
            len,
            usable,
        }
    }

    fn route(prefix: &str, protocol: u8, kind: u8) -> KernelRoute {
        KernelRoute {
            prefix: p(prefix),
            protocol,
            kind,
            device: Some("eth0".into()),
            gateway: Some(("fe80::9".parse().unwrap(), 2)),
        }
    }

    fn redistribute(source: Source, prefixes: &[&str]) -> Redistribute {
        Redistribute {
            source,
            metric: 3,
            tag: 9,
            prefixes: prefixes.iter().map(|s| p(s)).collect(),
        }
    }

    #[test]
    fn connected_static_kernel_and_default() {
        let mut c = Config::default();
        let addrs = [
            addr("lan", "2001:db8:1::1", 64, true),
            addr("lan", "fe80::1", 64, true),
            addr("wan", "2001:db8:2::1", 64, false),
            addr("lo", "::1", 128, true),
        ];
        let routes = [
            route("2001:db8:10::/48", RTPROT_STATIC, RTN_UNICAST),
            route("2001:db8:11::/48", RTPROT_BOOT, RTN_BLACKHOLE),
            route("2001:db8:12::/48", 9, RTN_UNICAST), // ra
            route("2001:db8:13::/48", 189, RTN_UNICAST), // ours
            route("2001:db8:1::/64", RTPROT_KERNEL, RTN_UNICAST),
            route("::/0", RTPROT_STATIC, RTN_UNICAST),
            route("ff00::/8", RTPROT_BOOT, RTN_UNICAST),
        ];
        assert!(local_routes(&c, &addrs, &routes).is_empty());
        c.redistribute = vec![redistribute(Source::Connected, &[])];
        let got = local_routes(&c, &addrs, &routes);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].prefix, got[0].metric, got[0].tag),
            (p("2001:db8:1::/64"), 3, 9)
        );
        assert_eq!(got[0].device.as_deref(), Some("lan"));
        c.redistribute.push(redistribute(Source::Static, &[]));
        c.redistribute.push(redistribute(Source::Kernel, &[]));
        let got: Vec<Prefix> = local_routes(&c, &addrs, &routes)
            .iter()
            .map(|l| l.prefix)
            .collect();
        assert_eq!(
            got,
            [
                p("2001:db8:1::/64"),
                p("2001:db8:10::/48"),
                p("2001:db8:11::/48"),
                p("2001:db8:12::/48")
            ]
        );
        // A static default only when named; the originated default always.
        c.redistribute[1] = redistribute(Source::Static, &["::/0"]);
        c.default_route = true;
        let got: Vec<(Prefix, Source)> = local_routes(&c, &addrs, &routes)
            .iter()
            .map(|l| (l.prefix, l.source))
            .collect();
        assert!(got.contains(&(p("::/0"), Source::Static)));
        assert!(got.contains(&(p("::/0"), Source::Default)));
    }

    #[test]
    fn prefix_lists_choose_the_section() {
        let c = Config {
            redistribute: vec![
                Redistribute {
                    metric: 5,
                    ..redistribute(Source::Static, &["2001:db8:10::/44"])
                },
                redistribute(Source::Static, &["2001:db8:20::/44"]),
            ],
            ..Config::default()
        };
        let routes = [
            route("2001:db8:10::/48", RTPROT_STATIC, RTN_UNICAST),
            route("2001:db8:20::/48", RTPROT_STATIC, RTN_UNICAST),
            route("2001:db8:30::/48", RTPROT_STATIC, RTN_UNICAST),
        ];
        let got: Vec<(Prefix, u8)> = local_routes(&c, &[], &routes)
            .iter()
            .map(|l| (l.prefix, l.metric))
            .collect();
        assert_eq!(
            got,
            [(p("2001:db8:10::/48"), 5), (p("2001:db8:20::/48"), 3)]
        );
        assert_eq!(
            local_routes(&c, &[], &routes)[0].gateway,
            Some(("fe80::9".parse().unwrap(), 2))
        );
    }
}
