//! What `nat64 sessions [--json]` prints: the sessions and their bindings, for people (a
//! table) or programs (JSON, which LuCI's NAT64 page reads). Made on the control socket's
//! path, never the packet path, so it may allocate; at most [`MAX_SHOWN`] sessions are
//! listed, so that a full table cannot make a reply of megabytes.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use v6only_common::json::Json;

use crate::state::SessionInfo;

/// The most sessions one reply lists; the JSON says `"truncated": true` past it.
pub const MAX_SHOWN: usize = 1024;

/// `{"total":N,"truncated":bool,"sessions":[...]}`: `shown` are the first sessions of
/// `total` in [`SessionInfo`]'s order, each with `proto`, the IPv6 client `ipv6`:`ipv6_port`,
/// the pool's `ipv4`:`ipv4_port` it maps to, the IPv4 `remote`:`remote_port`, `static`
/// (a static binding), `state` (TCP's, null otherwise), `idle` and `expires_in` seconds.
pub fn json(shown: &[SessionInfo], total: u64) -> String {
    let mut j = Json::object();
    j.field_u64("total", total)
        .field_bool("truncated", (shown.len() as u64) < total)
        .begin_array("sessions");
    for s in shown {
        j.item_object()
            .field_str("proto", s.proto.name())
            .field_str("ipv6", &Ipv6Addr::from(s.addr6).to_string())
            .field_u64("ipv6_port", s.port6.into())
            .field_str("ipv4", &Ipv4Addr::from(s.addr4).to_string())
            .field_u64("ipv4_port", s.port4.into())
            .field_str("remote", &Ipv4Addr::from(s.remote).to_string())
            .field_u64("remote_port", s.remote_port.into())
            .field_bool("static", s.is_static);
        match s.tcp {
            Some(state) => j.field_str("state", state.name()),
            None => j.field_null("state"),
        };
        j.field_u64("idle", s.idle)
            .field_u64("expires_in", s.expires_in)
            .end();
    }
    j.finish()
}

/// The same as a table, a line per session, and a last line when not all are listed.
pub fn table(shown: &[SessionInfo], total: u64) -> String {
    let mut out = format!(
        "{:<5} {:<47} {:<21} {:<21} {:<19} {:>6} {:>8}\n",
        "proto", "ipv6 client", "pool", "remote", "state", "idle", "expires"
    );
    for s in shown {
        let _ = writeln!(
            out,
            "{:<5} {:<47} {:<21} {:<21} {:<19} {:>5}s {:>7}s",
            s.proto.name(),
            format!("[{}]:{}", Ipv6Addr::from(s.addr6), s.port6),
            format!("{}:{}", Ipv4Addr::from(s.addr4), s.port4),
            format!("{}:{}", Ipv4Addr::from(s.remote), s.remote_port),
            s.tcp.map_or("-", |t| t.name()),
            s.idle,
            s.expires_in
        );
    }
    if (shown.len() as u64) < total {
        let _ = writeln!(out, "({} of {total} sessions shown)", shown.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Flow, Proto, State, StaticEntry, TCP_ACK, TCP_SYN};
    use crate::testing::{state_config, HOST, POOL, SERVER};

    /// A small store: a UDP flow, a TCP flow taken to ESTABLISHED, an ICMP echo, and a
    /// static binding with one inbound UDP session; at second 100.
    fn store() -> State {
        let mut config = state_config(100);
        config.statics.push(StaticEntry {
            proto: Proto::Udp,
            addr6: HOST,
            port6: 53,
            addr4: POOL,
            port4: 5353,
        });
        let mut s = State::new(config);
        let out = |proto, sport, dport| Flow {
            proto,
            src: HOST,
            sport,
            dst: SERVER,
            dport,
        };
        s.outbound(out(Proto::Udp, 40000, 53), 0, 90).unwrap();
        s.outbound(out(Proto::Udp, 40000, 53), 0, 95).unwrap();
        s.outbound(out(Proto::Tcp, 40001, 80), TCP_SYN, 98).unwrap();
        let back = Flow {
            proto: Proto::Tcp,
            src: SERVER,
            sport: 80,
            dst: POOL,
            dport: 40001,
        };
        s.inbound(back, TCP_SYN | TCP_ACK, 99).unwrap();
        s.outbound(out(Proto::Icmp, 4000, 0), 0, 100).unwrap();
        let query = Flow {
            proto: Proto::Udp,
            src: [203, 0, 113, 9],
            sport: 1234,
            dst: POOL,
            dport: 5353,
        };
        s.inbound(query, 0, 80).unwrap();
        s
    }

    #[test]
    fn json_lists_each_session_with_both_ends_state_and_times() {
        let s = store();
        let shown = s.sessions(100, MAX_SHOWN);
        assert_eq!(
            json(&shown, s.total_sessions()),
            concat!(
                r#"{"total":4,"truncated":false,"sessions":["#,
                r#"{"proto":"tcp","ipv6":"2001:db8:1::2","ipv6_port":40001,"ipv4":"198.51.100.1","ipv4_port":40001,"remote":"192.0.2.2","remote_port":80,"static":false,"state":"ESTABLISHED","idle":1,"expires_in":7439},"#,
                r#"{"proto":"udp","ipv6":"2001:db8:1::2","ipv6_port":53,"ipv4":"198.51.100.1","ipv4_port":5353,"remote":"203.0.113.9","remote_port":1234,"static":true,"state":null,"idle":20,"expires_in":280},"#,
                r#"{"proto":"udp","ipv6":"2001:db8:1::2","ipv6_port":40000,"ipv4":"198.51.100.1","ipv4_port":40000,"remote":"192.0.2.2","remote_port":53,"static":false,"state":null,"idle":5,"expires_in":295},"#,
                r#"{"proto":"icmp","ipv6":"2001:db8:1::2","ipv6_port":4000,"ipv4":"198.51.100.1","ipv4_port":4000,"remote":"192.0.2.2","remote_port":0,"static":false,"state":null,"idle":0,"expires_in":60}"#,
                "]}"
            )
        );
    }

    #[test]
    fn past_the_limit_the_first_are_listed_and_truncated_says_so() {
        let s = store();
        let shown = s.sessions(100, 2);
        assert_eq!(shown, s.sessions(100, MAX_SHOWN)[..2]);
        let j = json(&shown, s.total_sessions());
        assert!(
            j.starts_with(r#"{"total":4,"truncated":true,"sessions":[{"proto":"tcp""#),
            "{j}"
        );
        assert_eq!(j.matches(r#"{"proto""#).count(), 2, "{j}");
        let t = table(&shown, s.total_sessions());
        assert_eq!(t.lines().count(), 4, "{t}");
        assert!(t.ends_with("(2 of 4 sessions shown)\n"), "{t}");
    }

    #[test]
    fn table_has_a_line_per_session() {
        let s = store();
        let t = table(&s.sessions(100, MAX_SHOWN), s.total_sessions());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[0].starts_with("proto ipv6 client"), "{t}");
        let tcp: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            tcp,
            [
                "tcp",
                "[2001:db8:1::2]:40001",
                "198.51.100.1:40001",
                "192.0.2.2:80",
                "ESTABLISHED",
                "1s",
                "7439s"
            ]
        );
        assert!(lines[4].starts_with("icmp "), "{t}");
        assert!(!t.contains("shown"), "{t}");
    }

    #[test]
    fn idle_time_survives_the_stamp_wrapping() {
        // The stamp keeps 24 bits of seconds: a packet just before the wrap, read after it.
        let mut s = State::new(state_config(10));
        let t = (1u64 << 24) - 2;
        let flow = Flow {
            proto: Proto::Udp,
            src: HOST,
            sport: 40000,
            dst: SERVER,
            dport: 53,
        };
        s.outbound(flow, 0, t).unwrap();
        let shown = s.sessions(t + 5, MAX_SHOWN);
        assert_eq!((shown[0].idle, shown[0].expires_in), (5, 295));
    }
}
