//! RFC 6146 state: the Binding Information Bases (BIB) and session tables for TCP, UDP and
//! ICMP query identifiers, with endpoint-independent mapping and filtering, the IPv4 pool,
//! static entries, the TCP state machine of §3.5.2 and its timers, and the memory bounds.
//!
//! Times are whole seconds on the caller's monotonic clock.

use std::collections::HashMap;

/// Transport protocols with state. ICMP "ports" are query identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp = 0,
    Udp = 1,
    Icmp = 2,
}

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Icmp];
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }
}

/// Timeouts in seconds; RFC 6146 §4 defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP session (RFC: at least 2 min, default 5 min).
    pub udp: u32,
    /// ICMP query session (60 s).
    pub icmp: u32,
    /// Established TCP (2 h 4 min).
    pub tcp_est: u32,
    /// Transitory TCP (4 min).
    pub tcp_trans: u32,
    /// An IPv4-initiated SYN waiting for the IPv6 side (6 s).
    pub tcp_incoming_syn: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { udp: 300, icmp: 60, tcp_est: 7440, tcp_trans: 240, tcp_incoming_syn: 6 }
    }
}

/// One `list pool4` entry: an address block and a port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRange {
    pub addr: [u8; 4],
    pub prefix_len: u8,
    pub ports: (u16, u16),
}

impl PoolRange {
    pub fn contains(&self, addr: [u8; 4]) -> bool {
        let mask = if self.prefix_len == 0 { 0 } else { u32::MAX << (32 - self.prefix_len) };
        u32::from_be_bytes(addr) & mask == u32::from_be_bytes(self.addr) & mask
    }
    fn addresses(&self) -> impl Iterator<Item = [u8; 4]> {
        let base = u32::from_be_bytes(self.addr);
        let count = 1u64 << (32 - self.prefix_len as u32);
        (0..count).map(move |i| (base.wrapping_add(i as u32)).to_be_bytes())
    }
}

/// A static BIB entry: port forwarding from `addr4:port4` to `addr6:port6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticEntry {
    pub proto: Proto,
    pub addr6: [u8; 16],
    pub port6: u16,
    pub addr4: [u8; 4],
    pub port4: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    pub pool: Vec<PoolRange>,
    pub statics: Vec<StaticEntry>,
    pub timeouts: Timeouts,
    pub max_sessions: u32,
    pub max_sessions_per_host: u32,
}

/// Why state refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// IPv4 packet to a pool address/port nobody is bound to (or not to the pool at all).
    NoBinding,
    /// TCP segment that may not create state (not a SYN) and has no session.
    NoSession,
    PoolExhausted,
    SessionLimit,
    HostLimit,
}

/// TCP session states of RFC 6146 §3.5.2.2 (CLOSED is the absence of a session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    V4Init,
    V6Init,
    Established,
    V4FinRcv,
    V6FinRcv,
    V4FinV6FinRcv,
    Trans,
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key6 {
    proto: Proto,
    addr: [u8; 16],
    port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key4 {
    proto: Proto,
    addr: [u8; 4],
    port: u16,
}

#[derive(Debug, Clone, Copy)]
struct Bib {
    addr4: [u8; 4],
    port4: u16,
    sessions: u32,
    is_static: bool,
}

/// Session key from either side: the BIB's own end and the IPv4 remote end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SessionKey6 {
    own: Key6,
    remote: [u8; 4],
    remote_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SessionKey4 {
    own: Key4,
    remote: [u8; 4],
    remote_port: u16,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    key6: SessionKey6,
    key4: SessionKey4,
    tcp: Option<TcpState>,
    expires: u64,
}

/// Result of a successful lookup: the address and port on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped4 {
    pub addr: [u8; 4],
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped6 {
    pub addr: [u8; 16],
    pub port: u16,
}

pub struct State {
    config: StateConfig,
    /// Pool addresses expanded, each with its port range.
    addresses: Vec<([u8; 4], (u16, u16))>,
    bib6: HashMap<Key6, Bib>,
    bib4: HashMap<Key4, Key6>,
    sessions: Vec<Option<Session>>,
    free: Vec<u32>,
    by6: HashMap<SessionKey6, u32>,
    by4: HashMap<SessionKey4, u32>,
    per_host: HashMap<[u8; 16], u32>,
    counts: [u64; 3],
    /// Rotates the port search start so that allocation is not predictable from one flow.
    port_seed: u32,
}

impl State {
    pub fn new(config: StateConfig) -> State {
        let mut state = State {
            addresses: Vec::new(),
            config: config.clone(),
            bib6: HashMap::new(),
            bib4: HashMap::new(),
            sessions: Vec::new(),
            free: Vec::new(),
            by6: HashMap::new(),
            by4: HashMap::new(),
            per_host: HashMap::new(),
            counts: [0; 3],
            port_seed: 0x9e37_79b9,
        };
        state.reconfigure(config);
        state
    }

    /// Applies a new configuration keeping sessions. Static entries are replaced; dynamic
    /// bindings whose address left the pool stay until their sessions expire.
    pub fn reconfigure(&mut self, config: StateConfig) {
        self.addresses = config.pool.iter().flat_map(|r| r.addresses().map(move |a| (a, r.ports))).collect();
        for old in &self.config.statics {
            let k6 = Key6 { proto: old.proto, addr: old.addr6, port: old.port6 };
            if let Some(bib) = self.bib6.get_mut(&k6) {
                bib.is_static = false;
                if bib.sessions == 0 {
                    self.bib6.remove(&k6);
                    self.bib4.remove(&Key4 { proto: old.proto, addr: old.addr4, port: old.port4 });
                }
            }
        }
        for s in &config.statics {
            let k6 = Key6 { proto: s.proto, addr: s.addr6, port: s.port6 };
            let k4 = Key4 { proto: s.proto, addr: s.addr4, port: s.port4 };
            if let Some(owner) = self.bib4.get(&k4) {
                if *owner != k6 {
                    // A dynamic binding holds the port: the static entry wins once it expires.
                    continue;
                }
            }
            let sessions = self.bib6.get(&k6).map_or(0, |b| b.sessions);
            if let Some(old) = self.bib6.get(&k6) {
                self.bib4.remove(&Key4 { proto: s.proto, addr: old.addr4, port: old.port4 });
            }
            self.bib6.insert(k6, Bib { addr4: s.addr4, port4: s.port4, sessions, is_static: true });
            self.bib4.insert(k4, k6);
        }
        self.config = config;
    }

    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    pub fn in_pool(&self, addr: [u8; 4]) -> bool {
        self.config.pool.iter().any(|r| r.contains(addr)) || self.config.statics.iter().any(|s| s.addr4 == addr)
    }

    pub fn session_count(&self, proto: Proto) -> u64 {
        self.counts[proto as usize]
    }

    pub fn bib_count(&self) -> usize {
        self.bib6.len()
    }

    fn total_sessions(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// An IPv6 packet from `src:sport` to the IPv4 `dst:dport`: finds or creates the
    /// binding and session, runs the TCP state machine, and returns the IPv4 source.
    pub fn outbound(&mut self, proto: Proto, src: [u8; 16], sport: u16, dst: [u8; 4], dport: u16, tcp_flags: u8, now: u64) -> Result<Mapped4, Refusal> {
        let own = Key6 { proto, addr: src, port: sport };
        let key6 = SessionKey6 { own, remote: dst, remote_port: dport };
        if let Some(&index) = self.by6.get(&key6) {
            let timeouts = self.config.timeouts;
            let session = self.sessions[index as usize].as_mut().expect("indexed session exists");
            advance(session, tcp_flags, true, now, &timeouts);
            let k = session.key4.own;
            return Ok(Mapped4 { addr: k.addr, port: k.port });
        }
        if proto == Proto::Tcp && tcp_flags & TCP_SYN == 0 {
            return Err(Refusal::NoSession);
        }
        self.check_limits(&src)?;
        let bib = match self.bib6.get(&own) {
            Some(b) => *b,
            None => {
                let (addr4, port4) = self.allocate(proto, &src, sport).ok_or(Refusal::PoolExhausted)?;
                let bib = Bib { addr4, port4, sessions: 0, is_static: false };
                self.bib6.insert(own, bib);
                self.bib4.insert(Key4 { proto, addr: addr4, port: port4 }, own);
                bib
            }
        };
        let own4 = Key4 { proto, addr: bib.addr4, port: bib.port4 };
        let state = (proto == Proto::Tcp).then_some(TcpState::V6Init);
        let lifetime = self.lifetime(proto, state);
        self.insert(Session { key6, key4: SessionKey4 { own: own4, remote: dst, remote_port: dport }, tcp: state, expires: now + lifetime as u64 });
        Ok(Mapped4 { addr: bib.addr4, port: bib.port4 })
    }

    /// An IPv4 packet from `src:sport` to the pool's `dst:dport`: endpoint-independent
    /// filtering lets it in when a binding exists.
    pub fn inbound(&mut self, proto: Proto, dst: [u8; 4], dport: u16, src: [u8; 4], sport: u16, tcp_flags: u8, now: u64) -> Result<Mapped6, Refusal> {
        let own = Key4 { proto, addr: dst, port: dport };
        let key4 = SessionKey4 { own, remote: src, remote_port: sport };
        if let Some(&index) = self.by4.get(&key4) {
            let timeouts = self.config.timeouts;
            let session = self.sessions[index as usize].as_mut().expect("indexed session exists");
            advance(session, tcp_flags, false, now, &timeouts);
            let k = session.key6.own;
            return Ok(Mapped6 { addr: k.addr, port: k.port });
        }
        let own6 = *self.bib4.get(&own).ok_or(Refusal::NoBinding)?;
        if proto == Proto::Tcp && tcp_flags & TCP_SYN == 0 {
            return Err(Refusal::NoSession);
        }
        self.check_limits(&own6.addr)?;
        let state = (proto == Proto::Tcp).then_some(TcpState::V4Init);
        let lifetime = self.lifetime(proto, state);
        self.insert(Session { key6: SessionKey6 { own: own6, remote: src, remote_port: sport }, key4, tcp: state, expires: now + lifetime as u64 });
        Ok(Mapped6 { addr: own6.addr, port: own6.port })
    }

    /// The IPv6 end bound to `addr:port` (no session change): for ICMP errors about a flow.
    pub fn lookup4(&self, proto: Proto, addr: [u8; 4], port: u16) -> Option<Mapped6> {
        self.bib4.get(&Key4 { proto, addr, port }).map(|k| Mapped6 { addr: k.addr, port: k.port })
    }

    /// The IPv4 end bound to the IPv6 `addr:port` (no session change).
    pub fn lookup6(&self, proto: Proto, addr: [u8; 16], port: u16) -> Option<Mapped4> {
        self.bib6.get(&Key6 { proto, addr, port }).map(|b| Mapped4 { addr: b.addr4, port: b.port4 })
    }

    fn check_limits(&self, host: &[u8; 16]) -> Result<(), Refusal> {
        if self.total_sessions() >= self.config.max_sessions as u64 {
            return Err(Refusal::SessionLimit);
        }
        if self.config.max_sessions_per_host != 0 && self.per_host.get(host).copied().unwrap_or(0) >= self.config.max_sessions_per_host {
            return Err(Refusal::HostLimit);
        }
        Ok(())
    }

    fn lifetime(&self, proto: Proto, tcp: Option<TcpState>) -> u32 {
        let t = &self.config.timeouts;
        match (proto, tcp) {
            (Proto::Udp, _) => t.udp,
            (Proto::Icmp, _) => t.icmp,
            (Proto::Tcp, Some(TcpState::V4Init)) => t.tcp_incoming_syn,
            _ => t.tcp_trans,
        }
    }

    fn insert(&mut self, session: Session) {
        let index = match self.free.pop() {
            Some(i) => {
                self.sessions[i as usize] = Some(session);
                i
            }
            None => {
                self.sessions.push(Some(session));
                (self.sessions.len() - 1) as u32
            }
        };
        self.by6.insert(session.key6, index);
        self.by4.insert(session.key4, index);
        if let Some(bib) = self.bib6.get_mut(&session.key6.own) {
            bib.sessions += 1;
        }
        *self.per_host.entry(session.key6.own.addr).or_insert(0) += 1;
        self.counts[session.key6.own.proto as usize] += 1;
    }

    fn remove(&mut self, index: u32) {
        let Some(session) = self.sessions[index as usize].take() else { return };
        self.free.push(index);
        self.by6.remove(&session.key6);
        self.by4.remove(&session.key4);
        self.counts[session.key6.own.proto as usize] -= 1;
        if let Some(n) = self.per_host.get_mut(&session.key6.own.addr) {
            *n -= 1;
            if *n == 0 {
                self.per_host.remove(&session.key6.own.addr);
            }
        }
        let own = session.key6.own;
        if let Some(bib) = self.bib6.get_mut(&own) {
            bib.sessions -= 1;
            if bib.sessions == 0 && !bib.is_static {
                let k4 = Key4 { proto: own.proto, addr: bib.addr4, port: bib.port4 };
                self.bib6.remove(&own);
                self.bib4.remove(&k4);
            }
        }
    }

    /// Removes every session whose lifetime has passed, and bindings left without sessions.
    /// Returns how many sessions were removed.
    pub fn expire(&mut self, now: u64) -> usize {
        let mut removed = 0;
        for index in 0..self.sessions.len() {
            if matches!(self.sessions[index], Some(s) if s.expires <= now) {
                self.remove(index as u32);
                removed += 1;
            }
        }
        // Trailing free slots give their memory back after a burst.
        while matches!(self.sessions.last(), Some(None)) {
            self.sessions.pop();
            let len = self.sessions.len() as u32;
            self.free.retain(|&i| i < len);
        }
        removed
    }

    /// The earliest session expiry, for the poll timeout.
    pub fn next_expiry(&self) -> Option<u64> {
        self.sessions.iter().flatten().map(|s| s.expires).min()
    }

    /// TCP state of the session of an IPv6 flow, for tests and status.
    pub fn tcp_state(&self, src: [u8; 16], sport: u16, dst: [u8; 4], dport: u16) -> Option<TcpState> {
        let key = SessionKey6 { own: Key6 { proto: Proto::Tcp, addr: src, port: sport }, remote: dst, remote_port: dport };
        self.by6.get(&key).and_then(|&i| self.sessions[i as usize].and_then(|s| s.tcp))
    }

    /// RFC 6146 §3.5.1.1: keep the source port when free; else one in the same range
    /// (0-1023 or 1024-65535) with the same parity. The address is chosen from the IPv6
    /// source ("paired" pooling, RFC 4787 REQ-2), falling over to the others when full.
    fn allocate(&mut self, proto: Proto, src: &[u8; 16], sport: u16) -> Option<([u8; 4], u16)> {
        if self.addresses.is_empty() {
            return None;
        }
        let hash = src.iter().fold(2166136261u32, |h, &b| (h ^ b as u32).wrapping_mul(16777619));
        let n = self.addresses.len();
        for attempt in 0..n {
            let (addr, (lo, hi)) = self.addresses[(hash as usize + attempt) % n];
            if let Some(port) = self.free_port(proto, addr, lo, hi, sport) {
                return Some((addr, port));
            }
        }
        None
    }

    fn free_port(&mut self, proto: Proto, addr: [u8; 4], lo: u16, hi: u16, wanted: u16) -> Option<u16> {
        let taken = |state: &State, port: u16| state.bib4.contains_key(&Key4 { proto, addr, port });
        if (lo..=hi).contains(&wanted) && !taken(self, wanted) && (wanted != 0 || proto == Proto::Icmp) {
            return Some(wanted);
        }
        // Same range as the wanted port, intersected with the pool's range.
        let (range_lo, range_hi) = if wanted < 1024 { (lo, hi.min(1023)) } else { (lo.max(1024), hi) };
        let (range_lo, range_hi) = if range_lo <= range_hi { (range_lo, range_hi) } else { (lo, hi) };
        let span = (range_hi - range_lo) as u32 + 1;
        self.port_seed = self.port_seed.wrapping_mul(1103515245).wrapping_add(12345);
        let start = self.port_seed >> 8;
        let parity_matters = proto != Proto::Icmp;
        // Two passes: the same parity first, then any port.
        for pass in 0..2 {
            for i in 0..span {
                let port = range_lo as u32 + (start.wrapping_add(i)) % span;
                let port = port as u16;
                if port == 0 && proto != Proto::Icmp {
                    continue;
                }
                if pass == 0 && parity_matters && port % 2 != wanted % 2 {
                    continue;
                }
                if !taken(self, port) {
                    return Some(port);
                }
            }
        }
        None
    }
}

/// The TCP state machine (RFC 6146 §3.5.2.2) for a packet of an existing session, and the
/// lifetime refresh every packet gives.
fn advance(session: &mut Session, flags: u8, from_v6: bool, now: u64, t: &Timeouts) {
    let Some(state) = session.tcp else {
        let lifetime = if session.key6.own.proto == Proto::Udp { t.udp } else { t.icmp };
        session.expires = now + lifetime as u64;
        return;
    };
    let syn = flags & TCP_SYN != 0;
    let fin = flags & TCP_FIN != 0;
    let rst = flags & TCP_RST != 0;
    let est = now + t.tcp_est as u64;
    let trans = now + t.tcp_trans as u64;
    let (next, expires) = match state {
        TcpState::V6Init if syn && !from_v6 => (TcpState::Established, est),
        TcpState::V6Init if syn => (state, trans),
        TcpState::V4Init if syn && from_v6 => (TcpState::Established, est),
        TcpState::V6Init | TcpState::V4Init => (state, session.expires),
        TcpState::Established if rst => (TcpState::Trans, trans),
        TcpState::Established if fin => (if from_v6 { TcpState::V6FinRcv } else { TcpState::V4FinRcv }, est),
        TcpState::Established => (state, est),
        TcpState::V4FinRcv if fin && from_v6 => (TcpState::V4FinV6FinRcv, trans),
        TcpState::V6FinRcv if fin && !from_v6 => (TcpState::V4FinV6FinRcv, trans),
        TcpState::V4FinRcv | TcpState::V6FinRcv => (state, est),
        TcpState::V4FinV6FinRcv => (state, session.expires),
        TcpState::Trans if rst => (state, session.expires),
        TcpState::Trans => (TcpState::Established, est),
    };
    session.tcp = Some(next);
    session.expires = expires;
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const HOST2: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
    const POOL: [u8; 4] = [198, 51, 100, 1];
    const SERVER: [u8; 4] = [192, 0, 2, 2];

    fn config() -> StateConfig {
        StateConfig {
            pool: vec![PoolRange { addr: POOL, prefix_len: 32, ports: (1024, 65535) }],
            statics: vec![],
            timeouts: Timeouts::default(),
            max_sessions: 100,
            max_sessions_per_host: 0,
        }
    }

    #[test]
    fn udp_mapping_is_endpoint_independent() {
        let mut s = State::new(config());
        let m1 = s.outbound(Proto::Udp, HOST, 5000, SERVER, 53, 0, 0).unwrap();
        assert_eq!(m1, Mapped4 { addr: POOL, port: 5000 }, "port preserved when free");
        let m2 = s.outbound(Proto::Udp, HOST, 5000, [192, 0, 2, 3], 53, 0, 0).unwrap();
        assert_eq!(m1, m2, "same mapping towards another destination (EIM)");
        // EIF: a third IPv4 host may reach the binding.
        assert_eq!(s.inbound(Proto::Udp, POOL, 5000, [203, 0, 113, 9], 999, 0, 1), Ok(Mapped6 { addr: HOST, port: 5000 }));
        assert_eq!(s.session_count(Proto::Udp), 3);
        assert_eq!(s.inbound(Proto::Udp, POOL, 5001, SERVER, 53, 0, 1), Err(Refusal::NoBinding));
    }

    #[test]
    fn port_collision_keeps_parity_and_range() {
        let mut s = State::new(config());
        s.outbound(Proto::Udp, HOST, 5000, SERVER, 53, 0, 0).unwrap();
        let m = s.outbound(Proto::Udp, HOST2, 5000, SERVER, 53, 0, 0).unwrap();
        assert_ne!(m.port, 5000);
        assert_eq!(m.port % 2, 0, "parity kept");
        assert!(m.port >= 1024);
        let m = s.outbound(Proto::Udp, HOST2, 5001, SERVER, 53, 0, 0).unwrap();
        assert_eq!(m.port, 5001);
        // A privileged source port from a pool without privileged ports gets a pool port.
        let m = s.outbound(Proto::Udp, HOST2, 123, SERVER, 123, 0, 0).unwrap();
        assert!(m.port >= 1024 && m.port % 2 == 1, "{m:?}");
    }

    #[test]
    fn pool_exhaustion() {
        let mut c = config();
        c.pool[0].ports = (2000, 2001);
        let mut s = State::new(c);
        for p in 0..2 {
            s.outbound(Proto::Udp, HOST, 3000 + p, SERVER, 53, 0, 0).unwrap();
        }
        assert_eq!(s.outbound(Proto::Udp, HOST, 3002, SERVER, 53, 0, 0), Err(Refusal::PoolExhausted));
    }

    #[test]
    fn limits() {
        let mut c = config();
        c.max_sessions = 3;
        c.max_sessions_per_host = 2;
        let mut s = State::new(c);
        s.outbound(Proto::Udp, HOST, 1, SERVER, 53, 0, 0).unwrap();
        s.outbound(Proto::Udp, HOST, 2, SERVER, 53, 0, 0).unwrap();
        assert_eq!(s.outbound(Proto::Udp, HOST, 3, SERVER, 53, 0, 0), Err(Refusal::HostLimit));
        // Existing sessions keep working.
        assert!(s.outbound(Proto::Udp, HOST, 1, SERVER, 53, 0, 1).is_ok());
        s.outbound(Proto::Udp, HOST2, 1, SERVER, 53, 0, 0).unwrap();
        assert_eq!(s.outbound(Proto::Udp, HOST2, 2, SERVER, 53, 0, 0), Err(Refusal::SessionLimit));
        assert_eq!(s.expire(1000), 3);
        assert!(s.outbound(Proto::Udp, HOST2, 2, SERVER, 53, 0, 1000).is_ok());
    }

    #[test]
    fn udp_expiry_and_refresh() {
        let mut s = State::new(config());
        s.outbound(Proto::Udp, HOST, 5000, SERVER, 53, 0, 0).unwrap();
        s.inbound(Proto::Udp, POOL, 5000, SERVER, 53, 0, 200).unwrap();
        assert_eq!(s.expire(499), 0, "refreshed at 200 by the IPv4 side");
        assert_eq!(s.next_expiry(), Some(500));
        assert_eq!(s.expire(500), 1);
        assert_eq!(s.bib_count(), 0, "binding goes with its last session");
        assert_eq!(s.lookup4(Proto::Udp, POOL, 5000), None);
    }

    #[test]
    fn tcp_state_machine() {
        let mut s = State::new(config());
        let t = Timeouts::default();
        assert_eq!(s.outbound(Proto::Tcp, HOST, 40000, SERVER, 80, 0x10, 0), Err(Refusal::NoSession), "ACK creates nothing");
        s.outbound(Proto::Tcp, HOST, 40000, SERVER, 80, TCP_SYN, 0).unwrap();
        let st = |s: &State| s.tcp_state(HOST, 40000, SERVER, 80);
        assert_eq!(st(&s), Some(TcpState::V6Init));
        assert_eq!(s.next_expiry(), Some(t.tcp_trans as u64));
        s.inbound(Proto::Tcp, POOL, 40000, SERVER, 80, TCP_SYN | 0x10, 1).unwrap();
        assert_eq!(st(&s), Some(TcpState::Established));
        assert_eq!(s.next_expiry(), Some(1 + t.tcp_est as u64));
        s.outbound(Proto::Tcp, HOST, 40000, SERVER, 80, TCP_FIN | 0x10, 2).unwrap();
        assert_eq!(st(&s), Some(TcpState::V6FinRcv));
        s.outbound(Proto::Tcp, HOST, 40000, SERVER, 80, 0x10, 3).unwrap();
        assert_eq!(st(&s), Some(TcpState::V6FinRcv), "a v6 packet does not move V6 FIN RCV");
        s.inbound(Proto::Tcp, POOL, 40000, SERVER, 80, TCP_FIN | 0x10, 4).unwrap();
        assert_eq!(st(&s), Some(TcpState::V4FinV6FinRcv));
        assert_eq!(s.next_expiry(), Some(4 + t.tcp_trans as u64));
        s.outbound(Proto::Tcp, HOST, 40000, SERVER, 80, 0x10, 10).unwrap();
        assert_eq!(s.next_expiry(), Some(4 + t.tcp_trans as u64), "closing session is not refreshed");
        assert_eq!(s.expire(4 + t.tcp_trans as u64), 1);
        assert_eq!(st(&s), None);
    }

    #[test]
    fn tcp_rst_and_trans() {
        let mut s = State::new(config());
        s.outbound(Proto::Tcp, HOST, 40001, SERVER, 80, TCP_SYN, 0).unwrap();
        s.inbound(Proto::Tcp, POOL, 40001, SERVER, 80, TCP_SYN | 0x10, 0).unwrap();
        s.inbound(Proto::Tcp, POOL, 40001, SERVER, 80, TCP_RST, 5).unwrap();
        assert_eq!(s.tcp_state(HOST, 40001, SERVER, 80), Some(TcpState::Trans));
        s.outbound(Proto::Tcp, HOST, 40001, SERVER, 80, 0x10, 6).unwrap();
        assert_eq!(s.tcp_state(HOST, 40001, SERVER, 80), Some(TcpState::Established), "traffic after RST revives it");
    }

    #[test]
    fn tcp_inbound_syn_with_static_binding() {
        let mut c = config();
        c.statics.push(StaticEntry { proto: Proto::Tcp, addr6: HOST, port6: 8080, addr4: POOL, port4: 80 });
        let mut s = State::new(c);
        assert_eq!(s.inbound(Proto::Tcp, POOL, 80, SERVER, 5555, 0x10, 0), Err(Refusal::NoSession));
        assert_eq!(s.inbound(Proto::Tcp, POOL, 80, SERVER, 5555, TCP_SYN, 0), Ok(Mapped6 { addr: HOST, port: 8080 }));
        assert_eq!(s.next_expiry(), Some(6), "V4 INIT lives TCP_INCOMING_SYN");
        s.outbound(Proto::Tcp, HOST, 8080, SERVER, 5555, TCP_SYN | 0x10, 1).unwrap();
        assert_eq!(s.tcp_state(HOST, 8080, SERVER, 5555), Some(TcpState::Established));
        s.expire(10_000_000);
        assert_eq!(s.lookup4(Proto::Tcp, POOL, 80), Some(Mapped6 { addr: HOST, port: 8080 }), "static binding stays");
        // The IPv6 host's own outbound flows from that port use the static mapping.
        assert_eq!(s.outbound(Proto::Tcp, HOST, 8080, [203, 0, 113, 1], 443, TCP_SYN, 1), Ok(Mapped4 { addr: POOL, port: 80 }));
    }

    #[test]
    fn reconfigure_keeps_sessions_and_replaces_statics() {
        let mut c = config();
        c.statics.push(StaticEntry { proto: Proto::Udp, addr6: HOST, port6: 53, addr4: POOL, port4: 53 });
        let mut s = State::new(c.clone());
        s.outbound(Proto::Udp, HOST2, 7000, SERVER, 53, 0, 0).unwrap();
        c.statics.clear();
        s.reconfigure(c);
        assert_eq!(s.lookup4(Proto::Udp, POOL, 53), None);
        assert_eq!(s.session_count(Proto::Udp), 1);
    }
}
