//! RFC 6146 state: the Binding Information Bases (BIB) and session tables for TCP, UDP and
//! ICMP query identifiers, with endpoint-independent mapping and filtering, the IPv4 pool,
//! static entries, the TCP state machine of §3.5.2 and its timers, and the memory bounds.
//!
//! Times are whole seconds on the caller's monotonic clock.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Transport protocols with state. ICMP "ports" are query identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
        Timeouts {
            udp: 300,
            icmp: 60,
            tcp_est: 7440,
            tcp_trans: 240,
            tcp_incoming_syn: 6,
        }
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
        let mask = if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        };
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TcpState {
    V4Init,
    V6Init,
    Established,
    V4FinRcv,
    V6FinRcv,
    V4FinV6FinRcv,
    Trans,
}

impl TcpState {
    /// The RFC's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::V4Init => "V4 INIT",
            TcpState::V6Init => "V6 INIT",
            TcpState::Established => "ESTABLISHED",
            TcpState::V4FinRcv => "V4 FIN RCV",
            TcpState::V6FinRcv => "V6 FIN RCV",
            TcpState::V4FinV6FinRcv => "V4 FIN + V6 FIN RCV",
            TcpState::Trans => "TRANS",
        }
    }
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// An established TCP session whose lifetime ran out (RFC 6146 §3.5.2.2): a probe goes to
/// its IPv6 end, as if from the IPv4 end, and the session waits in TRANS for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub host: [u8; 16],
    pub host_port: u16,
    pub remote: [u8; 4],
    pub remote_port: u16,
}

/// A packet's transport flow: protocol, source and destination with their ports. For ICMP
/// echo, the identifier stands for the port on the translated side (the IPv6 host's source
/// port outbound, the pool's destination port inbound) and the other port is 0. `Src` is the
/// address type of the side the packet comes from; the destination is IPv4 either way (the
/// IPv4 peer, or the pool address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow<Src> {
    pub proto: Proto,
    pub src: Src,
    pub sport: u16,
    pub dst: [u8; 4],
    pub dport: u16,
}

/// From an IPv6 host to an IPv4 peer.
pub type OutboundFlow = Flow<[u8; 16]>;
/// From an IPv4 peer to a pool address.
pub type InboundFlow = Flow<[u8; 4]>;

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

/// A fast seeded hash for the tables: SipHash would cost more than the rest of a lookup.
/// The per-process random seed keeps remote peers from aiming at colliding keys.
#[derive(Debug, Clone, Copy)]
pub struct SeededHash {
    seed: u64,
}

impl SeededHash {
    fn random() -> SeededHash {
        use std::hash::BuildHasher;
        SeededHash {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x006e_6174_3634_u64) | 1,
        }
    }
}

impl BuildHasher for SeededHash {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(self.seed)
    }
}

pub struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(x as u64)
    }
    fn write_u16(&mut self, x: u16) {
        self.write_u64(x as u64)
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64)
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64)
    }
    fn write_u64(&mut self, x: u64) {
        // Folded 64x64->128 multiply (as in wyhash/foldhash) by a fixed odd constant: every
        // input bit reaches the output; the seed enters through the state.
        let m = ((self.0 ^ x) as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        let m = ((self.0 ^ 0x2d35_8dcc_aa6c_78a5) as u128).wrapping_mul(0x8bb8_4b93_962e_acc9);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

type Map<K, V> = HashMap<K, V, SeededHash>;

/// An IPv6 host with bindings: bindings and sessions refer to it by index, which keeps
/// their keys at 8 bytes instead of 24.
#[derive(Debug, Clone, Copy)]
struct Host {
    addr: [u8; 16],
    bindings: u32,
    sessions: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bib {
    proto: Proto,
    is_static: bool,
    host: u32,
    port6: u16,
    port4: u16,
    addr4: [u8; 4],
    sessions: u32,
}

/// A session: its binding and the IPv4 remote end. The same key serves both directions,
/// because a packet from either side first finds its binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SessionKey {
    /// Binding index << 32 | remote IPv4 address.
    bib_remote: u64,
    remote_port: u16,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    /// Seconds on the caller's clock.
    expires: u32,
    tcp: Option<TcpState>,
    /// The last packet's second on the caller's clock, modulo 2^24 (194 days, more than
    /// any session can stay idle: timeouts are at most 30 days): for `sessions` to show
    /// the idle time. Three bytes fill what was padding, so a session stays 8 bytes.
    seen: [u8; 3],
}

fn stamp(now: u64) -> [u8; 3] {
    let b = (now as u32).to_le_bytes();
    [b[0], b[1], b[2]]
}

/// Seconds from a [`stamp`] to `now`.
fn since_stamp(seen: [u8; 3], now: u64) -> u64 {
    let seen = u32::from_le_bytes([seen[0], seen[1], seen[2], 0]);
    u64::from((now as u32).wrapping_sub(seen) & 0x00ff_ffff)
}

/// One session as `nat64 sessions` shows it: its binding, the IPv4 remote end, the TCP
/// state, and times in seconds. For ICMP the ports are the echo identifiers (the remote's
/// is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionInfo {
    pub proto: Proto,
    pub addr6: [u8; 16],
    pub port6: u16,
    pub remote: [u8; 4],
    pub remote_port: u16,
    pub addr4: [u8; 4],
    pub port4: u16,
    pub is_static: bool,
    pub tcp: Option<TcpState>,
    /// Since the last packet either way.
    pub idle: u64,
    /// Until the session expires (or, established TCP, is probed).
    pub expires_in: u64,
}

fn key6(proto: Proto, host: u32, port: u16) -> u64 {
    (proto as u64) << 48 | (host as u64) << 16 | port as u64
}

fn key4(proto: Proto, addr: [u8; 4], port: u16) -> u64 {
    (proto as u64) << 48 | (u32::from_be_bytes(addr) as u64) << 16 | port as u64
}

fn session_key(bib: u32, remote: [u8; 4], remote_port: u16) -> SessionKey {
    SessionKey {
        bib_remote: (bib as u64) << 32 | u32::from_be_bytes(remote) as u64,
        remote_port,
    }
}

fn seconds(now: u64) -> u32 {
    now.min(u32::MAX as u64) as u32
}

pub struct State {
    config: StateConfig,
    /// Pool addresses expanded, each with its port range.
    addresses: Vec<([u8; 4], (u16, u16))>,
    hosts: Vec<Option<Host>>,
    free_hosts: Vec<u32>,
    host_index: Map<[u8; 16], u32>,
    bibs: Vec<Option<Bib>>,
    free_bibs: Vec<u32>,
    bib6: Map<u64, u32>,
    bib4: Map<u64, u32>,
    sessions: Map<SessionKey, Session>,
    /// Bindings left without sessions by an expiry run (kept to reuse its allocation).
    orphans: Vec<u32>,
    counts: [u64; 3],
    /// Rotates the port search start so that allocation is not predictable from one flow.
    port_seed: u32,
}

impl State {
    pub fn new(config: StateConfig) -> State {
        let hasher = SeededHash::random();
        let mut state = State {
            addresses: Vec::new(),
            config: config.clone(),
            hosts: Vec::new(),
            free_hosts: Vec::new(),
            host_index: Map::with_hasher(hasher),
            bibs: Vec::new(),
            free_bibs: Vec::new(),
            bib6: Map::with_hasher(hasher),
            bib4: Map::with_hasher(hasher),
            sessions: Map::with_hasher(hasher),
            orphans: Vec::new(),
            counts: [0; 3],
            port_seed: hasher.seed as u32,
        };
        state.config.statics.clear();
        state.reconfigure(config);
        state
    }

    /// Applies a new configuration keeping sessions. Static entries are replaced; dynamic
    /// bindings whose address left the pool stay until their sessions expire.
    pub fn reconfigure(&mut self, config: StateConfig) {
        self.addresses = config
            .pool
            .iter()
            .flat_map(|r| r.addresses().map(move |a| (a, r.ports)))
            .collect();
        let old = std::mem::take(&mut self.config.statics);
        for s in &old {
            if let Some(b) = self.find6(s.proto, &s.addr6, s.port6) {
                if let Some(bib) = self.bibs[b as usize].as_mut() {
                    bib.is_static = false;
                    if bib.sessions == 0 {
                        self.free_bib(b);
                    }
                }
            }
        }
        for s in &config.statics {
            let k4 = key4(s.proto, s.addr4, s.port4);
            let existing = self.find6(s.proto, &s.addr6, s.port6);
            if let Some(&owner) = self.bib4.get(&k4) {
                if Some(owner) != existing {
                    // A dynamic binding holds the port: the static entry waits for it to expire.
                    continue;
                }
            }
            match existing {
                Some(b) => {
                    let Some(bib) = self.bibs[b as usize].as_mut() else {
                        continue;
                    };
                    let old4 = key4(bib.proto, bib.addr4, bib.port4);
                    bib.addr4 = s.addr4;
                    bib.port4 = s.port4;
                    bib.is_static = true;
                    self.bib4.remove(&old4);
                    self.bib4.insert(k4, b);
                }
                None => {
                    self.new_bib(s.proto, &s.addr6, s.port6, s.addr4, s.port4, true);
                }
            }
        }
        self.config = config;
    }

    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    pub fn in_pool(&self, addr: [u8; 4]) -> bool {
        self.config.pool.iter().any(|r| r.contains(addr))
            || self.config.statics.iter().any(|s| s.addr4 == addr)
    }

    pub fn session_count(&self, proto: Proto) -> u64 {
        self.counts[proto as usize]
    }

    pub fn bib_count(&self) -> usize {
        self.bib6.len()
    }

    fn find6(&self, proto: Proto, addr: &[u8; 16], port: u16) -> Option<u32> {
        let host = *self.host_index.get(addr)?;
        self.bib6.get(&key6(proto, host, port)).copied()
    }

    fn bib(&self, index: u32) -> Bib {
        self.bibs[index as usize].expect("indexed binding exists")
    }

    /// An IPv6 packet of `flow`: finds or creates the binding and session, runs the TCP
    /// state machine on `tcp_flags`, and returns the IPv4 source.
    pub fn outbound(
        &mut self,
        flow: OutboundFlow,
        tcp_flags: u8,
        now: u64,
    ) -> Result<Mapped4, Refusal> {
        let Flow {
            proto,
            src,
            sport,
            dst,
            dport,
        } = flow;
        let existing = self.find6(proto, &src, sport);
        if let Some(b) = existing {
            if let Some(session) = self.sessions.get_mut(&session_key(b, dst, dport)) {
                advance(session, proto, tcp_flags, true, now, &self.config.timeouts);
                let bib = self.bib(b);
                return Ok(Mapped4 {
                    addr: bib.addr4,
                    port: bib.port4,
                });
            }
        }
        if proto == Proto::Tcp && tcp_flags & TCP_SYN == 0 {
            return Err(Refusal::NoSession);
        }
        let host = self.host_index.get(&src).copied();
        self.check_limits(host)?;
        let b = match existing {
            Some(b) => b,
            None => {
                let (addr4, port4) = self
                    .allocate(proto, &src, sport)
                    .ok_or(Refusal::PoolExhausted)?;
                self.new_bib(proto, &src, sport, addr4, port4, false)
            }
        };
        let state = (proto == Proto::Tcp).then_some(TcpState::V6Init);
        self.new_session(b, dst, dport, state, now);
        let bib = self.bib(b);
        Ok(Mapped4 {
            addr: bib.addr4,
            port: bib.port4,
        })
    }

    /// An IPv4 packet of `flow`, to a pool address: endpoint-independent filtering lets it
    /// in when a binding exists.
    pub fn inbound(
        &mut self,
        flow: InboundFlow,
        tcp_flags: u8,
        now: u64,
    ) -> Result<Mapped6, Refusal> {
        let Flow {
            proto,
            src,
            sport,
            dst,
            dport,
        } = flow;
        let b = *self
            .bib4
            .get(&key4(proto, dst, dport))
            .ok_or(Refusal::NoBinding)?;
        let bib = self.bib(b);
        let host = self.hosts[bib.host as usize].expect("bound host exists");
        let mapped = Mapped6 {
            addr: host.addr,
            port: bib.port6,
        };
        if let Some(session) = self.sessions.get_mut(&session_key(b, src, sport)) {
            advance(session, proto, tcp_flags, false, now, &self.config.timeouts);
            return Ok(mapped);
        }
        if proto == Proto::Tcp && tcp_flags & TCP_SYN == 0 {
            return Err(Refusal::NoSession);
        }
        self.check_limits(Some(bib.host))?;
        let state = (proto == Proto::Tcp).then_some(TcpState::V4Init);
        self.new_session(b, src, sport, state, now);
        Ok(mapped)
    }

    /// The IPv6 end bound to `addr:port` (no session change): for ICMP errors about a flow.
    pub fn lookup4(&self, proto: Proto, addr: [u8; 4], port: u16) -> Option<Mapped6> {
        let bib = self.bib(*self.bib4.get(&key4(proto, addr, port))?);
        let host = self.hosts[bib.host as usize]?;
        Some(Mapped6 {
            addr: host.addr,
            port: bib.port6,
        })
    }

    /// The IPv4 end bound to the IPv6 `addr:port` (no session change).
    pub fn lookup6(&self, proto: Proto, addr: [u8; 16], port: u16) -> Option<Mapped4> {
        let bib = self.bib(self.find6(proto, &addr, port)?);
        Some(Mapped4 {
            addr: bib.addr4,
            port: bib.port4,
        })
    }

    fn check_limits(&self, host: Option<u32>) -> Result<(), Refusal> {
        if self.total_sessions() >= self.config.max_sessions as u64 {
            return Err(Refusal::SessionLimit);
        }
        let per_host = host
            .and_then(|h| self.hosts[h as usize])
            .map_or(0, |h| h.sessions);
        if self.config.max_sessions_per_host != 0 && per_host >= self.config.max_sessions_per_host {
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

    fn new_bib(
        &mut self,
        proto: Proto,
        addr6: &[u8; 16],
        port6: u16,
        addr4: [u8; 4],
        port4: u16,
        is_static: bool,
    ) -> u32 {
        let host = match self.host_index.get(addr6) {
            Some(&h) => h,
            None => {
                let entry = Host {
                    addr: *addr6,
                    bindings: 0,
                    sessions: 0,
                };
                let h = match self.free_hosts.pop() {
                    Some(h) => {
                        self.hosts[h as usize] = Some(entry);
                        h
                    }
                    None => {
                        self.hosts.push(Some(entry));
                        (self.hosts.len() - 1) as u32
                    }
                };
                self.host_index.insert(*addr6, h);
                h
            }
        };
        if let Some(h) = self.hosts[host as usize].as_mut() {
            h.bindings += 1;
        }
        let bib = Bib {
            proto,
            is_static,
            host,
            port6,
            port4,
            addr4,
            sessions: 0,
        };
        let b = match self.free_bibs.pop() {
            Some(b) => {
                self.bibs[b as usize] = Some(bib);
                b
            }
            None => {
                self.bibs.push(Some(bib));
                (self.bibs.len() - 1) as u32
            }
        };
        self.bib6.insert(key6(proto, host, port6), b);
        self.bib4.insert(key4(proto, addr4, port4), b);
        b
    }

    fn free_bib(&mut self, b: u32) {
        let Some(bib) = self.bibs[b as usize].take() else {
            return;
        };
        self.free_bibs.push(b);
        self.bib6.remove(&key6(bib.proto, bib.host, bib.port6));
        if self.bib4.get(&key4(bib.proto, bib.addr4, bib.port4)) == Some(&b) {
            self.bib4.remove(&key4(bib.proto, bib.addr4, bib.port4));
        }
        let slot = &mut self.hosts[bib.host as usize];
        if let Some(host) = slot.as_mut() {
            host.bindings -= 1;
            if host.bindings == 0 {
                self.host_index.remove(&host.addr);
                *slot = None;
                self.free_hosts.push(bib.host);
            }
        }
    }

    fn new_session(
        &mut self,
        b: u32,
        remote: [u8; 4],
        remote_port: u16,
        tcp: Option<TcpState>,
        now: u64,
    ) {
        let Some(bib) = self.bibs[b as usize].as_mut() else {
            return;
        };
        bib.sessions += 1;
        let (proto, host) = (bib.proto, bib.host);
        if let Some(h) = self.hosts[host as usize].as_mut() {
            h.sessions += 1;
        }
        self.counts[proto as usize] += 1;
        let expires = seconds(now + self.lifetime(proto, tcp) as u64);
        self.sessions.insert(
            session_key(b, remote, remote_port),
            Session {
                expires,
                tcp,
                seen: stamp(now),
            },
        );
    }

    /// Removes every session whose lifetime has passed, and bindings left without sessions.
    /// An ESTABLISHED TCP session is not removed but probed (RFC 6146 §3.5.2.2): `probe` is
    /// called for it and it moves to TRANS for TCP_TRANS, back to ESTABLISHED if the answer
    /// (or any other non-RST packet) comes, removed otherwise. Returns how many sessions
    /// were removed.
    pub fn expire(&mut self, now: u64, probe: &mut dyn FnMut(Probe)) -> usize {
        let now = seconds(now);
        let trans_until = seconds(now as u64 + self.config.timeouts.tcp_trans as u64);
        let before = self.sessions.len();
        let (bibs, hosts, counts, orphans) = (
            &mut self.bibs,
            &mut self.hosts,
            &mut self.counts,
            &mut self.orphans,
        );
        self.sessions.retain(|key, session| {
            if session.expires > now {
                return true;
            }
            let b = (key.bib_remote >> 32) as u32;
            if session.tcp == Some(TcpState::Established) {
                session.tcp = Some(TcpState::Trans);
                session.expires = trans_until;
                let bib = bibs[b as usize].as_ref();
                if let Some((bib, host)) =
                    bib.and_then(|bib| Some((bib, hosts[bib.host as usize]?)))
                {
                    probe(Probe {
                        host: host.addr,
                        host_port: bib.port6,
                        remote: (key.bib_remote as u32).to_be_bytes(),
                        remote_port: key.remote_port,
                    });
                }
                return true;
            }
            if let Some(bib) = bibs[b as usize].as_mut() {
                bib.sessions -= 1;
                counts[bib.proto as usize] -= 1;
                if let Some(h) = hosts[bib.host as usize].as_mut() {
                    h.sessions -= 1;
                }
                if bib.sessions == 0 && !bib.is_static {
                    orphans.push(b);
                }
            }
            false
        });
        let mut orphans = std::mem::take(&mut self.orphans);
        for &b in &orphans {
            self.free_bib(b);
        }
        orphans.clear();
        self.orphans = orphans;
        before - self.sessions.len()
    }

    /// The earliest session expiry.
    pub fn next_expiry(&self) -> Option<u64> {
        self.sessions.values().map(|s| s.expires as u64).min()
    }

    /// The first `limit` sessions in the order of [`SessionInfo`] (protocol, IPv6 end,
    /// remote end), as of `now`. For the control socket, not the packet path: it walks every
    /// session, keeping at most `limit` in a heap, so its memory is bounded by `limit`.
    pub fn sessions(&self, now: u64, limit: usize) -> Vec<SessionInfo> {
        let mut kept =
            std::collections::BinaryHeap::with_capacity(limit.min(self.sessions.len()) + 1);
        for (key, session) in &self.sessions {
            let Some(bib) = self.bibs[(key.bib_remote >> 32) as usize] else {
                continue;
            };
            let Some(host) = self.hosts[bib.host as usize] else {
                continue;
            };
            kept.push(SessionInfo {
                proto: bib.proto,
                addr6: host.addr,
                port6: bib.port6,
                remote: (key.bib_remote as u32).to_be_bytes(),
                remote_port: key.remote_port,
                addr4: bib.addr4,
                port4: bib.port4,
                is_static: bib.is_static,
                tcp: session.tcp,
                idle: since_stamp(session.seen, now),
                expires_in: u64::from(session.expires).saturating_sub(now),
            });
            if kept.len() > limit {
                kept.pop(); // the greatest: not among the first `limit`
            }
        }
        kept.into_sorted_vec()
    }

    /// How many sessions there are, all protocols.
    pub fn total_sessions(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// TCP state of the session of an IPv6 flow, for tests and status.
    pub fn tcp_state(
        &self,
        src: [u8; 16],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
    ) -> Option<TcpState> {
        let b = self.find6(Proto::Tcp, &src, sport)?;
        self.sessions.get(&session_key(b, dst, dport))?.tcp
    }

    /// RFC 6146 §3.5.1.1: keep the source port when free; else one in the same range
    /// (0-1023 or 1024-65535) with the same parity. The address is chosen from the IPv6
    /// source ("paired" pooling, RFC 4787 REQ-2), falling over to the others when full.
    fn allocate(&mut self, proto: Proto, src: &[u8; 16], sport: u16) -> Option<([u8; 4], u16)> {
        if self.addresses.is_empty() {
            return None;
        }
        let hash = src
            .iter()
            .fold(2166136261u32, |h, &b| (h ^ b as u32).wrapping_mul(16777619));
        let n = self.addresses.len();
        for attempt in 0..n {
            let (addr, (lo, hi)) = self.addresses[(hash as usize + attempt) % n];
            if let Some(port) = self.free_port(proto, addr, lo, hi, sport) {
                return Some((addr, port));
            }
        }
        None
    }

    fn free_port(
        &mut self,
        proto: Proto,
        addr: [u8; 4],
        lo: u16,
        hi: u16,
        wanted: u16,
    ) -> Option<u16> {
        let taken = |state: &State, port: u16| state.bib4.contains_key(&key4(proto, addr, port));
        if (lo..=hi).contains(&wanted)
            && !taken(self, wanted)
            && (wanted != 0 || proto == Proto::Icmp)
        {
            return Some(wanted);
        }
        // Same range as the wanted port, intersected with the pool's range.
        let (range_lo, range_hi) = if wanted < 1024 {
            (lo, hi.min(1023))
        } else {
            (lo.max(1024), hi)
        };
        let (range_lo, range_hi) = if range_lo <= range_hi {
            (range_lo, range_hi)
        } else {
            (lo, hi)
        };
        let span = (range_hi - range_lo) as u32 + 1;
        self.port_seed = self.port_seed.wrapping_mul(1103515245).wrapping_add(12345);
        let start = self.port_seed >> 8;
        let parity_matters = proto != Proto::Icmp;
        // Two passes: the same parity first, then any port.
        for pass in 0..2 {
            for i in 0..span {
                let port = (range_lo as u32 + start.wrapping_add(i) % span) as u16;
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
fn advance(session: &mut Session, proto: Proto, flags: u8, from_v6: bool, now: u64, t: &Timeouts) {
    session.seen = stamp(now);
    let Some(state) = session.tcp else {
        let lifetime = if proto == Proto::Udp { t.udp } else { t.icmp };
        session.expires = seconds(now + lifetime as u64);
        return;
    };
    let syn = flags & TCP_SYN != 0;
    let fin = flags & TCP_FIN != 0;
    let rst = flags & TCP_RST != 0;
    let est = seconds(now + t.tcp_est as u64);
    let trans = seconds(now + t.tcp_trans as u64);
    let (next, expires) = match state {
        TcpState::V6Init if syn && !from_v6 => (TcpState::Established, est),
        TcpState::V6Init if syn => (state, trans),
        TcpState::V4Init if syn && from_v6 => (TcpState::Established, est),
        TcpState::V6Init | TcpState::V4Init => (state, session.expires),
        TcpState::Established if rst => (TcpState::Trans, trans),
        TcpState::Established if fin => (
            if from_v6 {
                TcpState::V6FinRcv
            } else {
                TcpState::V4FinRcv
            },
            est,
        ),
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
    use crate::testing::{HOST, POOL, SERVER};

    const HOST2: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];

    /// A flow from the IPv6 host `src:sport` to the IPv4 `dst:dport`.
    fn out6(proto: Proto, src: [u8; 16], sport: u16, dst: [u8; 4], dport: u16) -> OutboundFlow {
        Flow {
            proto,
            src,
            sport,
            dst,
            dport,
        }
    }

    /// A flow from the IPv4 `src:sport` to the pool's `dst:dport`.
    fn in4(proto: Proto, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> InboundFlow {
        Flow {
            proto,
            src,
            sport,
            dst,
            dport,
        }
    }

    /// The state of most tests: [`crate::testing::state_config`] with room for 100 sessions.
    fn config() -> StateConfig {
        crate::testing::state_config(100)
    }

    #[test]
    fn udp_mapping_is_endpoint_independent() {
        let mut s = State::new(config());
        let m1 = s
            .outbound(out6(Proto::Udp, HOST, 5000, SERVER, 53), 0, 0)
            .unwrap();
        assert_eq!(
            m1,
            Mapped4 {
                addr: POOL,
                port: 5000
            },
            "port preserved when free"
        );
        let m2 = s
            .outbound(out6(Proto::Udp, HOST, 5000, [192, 0, 2, 3], 53), 0, 0)
            .unwrap();
        assert_eq!(m1, m2, "same mapping towards another destination (EIM)");
        // EIF: a third IPv4 host may reach the binding.
        assert_eq!(
            s.inbound(in4(Proto::Udp, [203, 0, 113, 9], 999, POOL, 5000), 0, 1),
            Ok(Mapped6 {
                addr: HOST,
                port: 5000
            })
        );
        assert_eq!(s.session_count(Proto::Udp), 3);
        assert_eq!(
            s.inbound(in4(Proto::Udp, SERVER, 53, POOL, 5001), 0, 1),
            Err(Refusal::NoBinding)
        );
    }

    #[test]
    fn port_collision_keeps_parity_and_range() {
        let mut s = State::new(config());
        s.outbound(out6(Proto::Udp, HOST, 5000, SERVER, 53), 0, 0)
            .unwrap();
        let m = s
            .outbound(out6(Proto::Udp, HOST2, 5000, SERVER, 53), 0, 0)
            .unwrap();
        assert_ne!(m.port, 5000);
        assert_eq!(m.port % 2, 0, "parity kept");
        assert!(m.port >= 1024);
        let m = s
            .outbound(out6(Proto::Udp, HOST2, 5001, SERVER, 53), 0, 0)
            .unwrap();
        assert_eq!(m.port, 5001);
        // A privileged source port from a pool without privileged ports gets a pool port.
        let m = s
            .outbound(out6(Proto::Udp, HOST2, 123, SERVER, 123), 0, 0)
            .unwrap();
        assert!(m.port >= 1024 && m.port % 2 == 1, "{m:?}");
    }

    #[test]
    fn pool_exhaustion() {
        let mut c = config();
        c.pool[0].ports = (2000, 2001);
        let mut s = State::new(c);
        for p in 0..2 {
            s.outbound(out6(Proto::Udp, HOST, 3000 + p, SERVER, 53), 0, 0)
                .unwrap();
        }
        assert_eq!(
            s.outbound(out6(Proto::Udp, HOST, 3002, SERVER, 53), 0, 0),
            Err(Refusal::PoolExhausted)
        );
    }

    #[test]
    fn limits() {
        let mut c = config();
        c.max_sessions = 3;
        c.max_sessions_per_host = 2;
        let mut s = State::new(c);
        s.outbound(out6(Proto::Udp, HOST, 1, SERVER, 53), 0, 0)
            .unwrap();
        s.outbound(out6(Proto::Udp, HOST, 2, SERVER, 53), 0, 0)
            .unwrap();
        assert_eq!(
            s.outbound(out6(Proto::Udp, HOST, 3, SERVER, 53), 0, 0),
            Err(Refusal::HostLimit)
        );
        // Existing sessions keep working.
        assert!(s
            .outbound(out6(Proto::Udp, HOST, 1, SERVER, 53), 0, 1)
            .is_ok());
        s.outbound(out6(Proto::Udp, HOST2, 1, SERVER, 53), 0, 0)
            .unwrap();
        assert_eq!(
            s.outbound(out6(Proto::Udp, HOST2, 2, SERVER, 53), 0, 0),
            Err(Refusal::SessionLimit)
        );
        assert_eq!(s.expire(1000, &mut |_| {}), 3);
        assert!(s
            .outbound(out6(Proto::Udp, HOST2, 2, SERVER, 53), 0, 1000)
            .is_ok());
    }

    #[test]
    fn udp_expiry_and_refresh() {
        let mut s = State::new(config());
        s.outbound(out6(Proto::Udp, HOST, 5000, SERVER, 53), 0, 0)
            .unwrap();
        s.inbound(in4(Proto::Udp, SERVER, 53, POOL, 5000), 0, 200)
            .unwrap();
        assert_eq!(
            s.expire(499, &mut |_| {}),
            0,
            "refreshed at 200 by the IPv4 side"
        );
        assert_eq!(s.next_expiry(), Some(500));
        assert_eq!(s.expire(500, &mut |_| {}), 1);
        assert_eq!(s.bib_count(), 0, "binding goes with its last session");
        assert_eq!(s.lookup4(Proto::Udp, POOL, 5000), None);
    }

    #[test]
    fn tcp_state_machine() {
        let mut s = State::new(config());
        let t = Timeouts::default();
        assert_eq!(
            s.outbound(out6(Proto::Tcp, HOST, 40000, SERVER, 80), 0x10, 0),
            Err(Refusal::NoSession),
            "ACK creates nothing"
        );
        s.outbound(out6(Proto::Tcp, HOST, 40000, SERVER, 80), TCP_SYN, 0)
            .unwrap();
        let st = |s: &State| s.tcp_state(HOST, 40000, SERVER, 80);
        assert_eq!(st(&s), Some(TcpState::V6Init));
        assert_eq!(s.next_expiry(), Some(t.tcp_trans as u64));
        s.inbound(in4(Proto::Tcp, SERVER, 80, POOL, 40000), TCP_SYN | 0x10, 1)
            .unwrap();
        assert_eq!(st(&s), Some(TcpState::Established));
        assert_eq!(s.next_expiry(), Some(1 + t.tcp_est as u64));
        s.outbound(out6(Proto::Tcp, HOST, 40000, SERVER, 80), TCP_FIN | 0x10, 2)
            .unwrap();
        assert_eq!(st(&s), Some(TcpState::V6FinRcv));
        s.outbound(out6(Proto::Tcp, HOST, 40000, SERVER, 80), 0x10, 3)
            .unwrap();
        assert_eq!(
            st(&s),
            Some(TcpState::V6FinRcv),
            "a v6 packet does not move V6 FIN RCV"
        );
        s.inbound(in4(Proto::Tcp, SERVER, 80, POOL, 40000), TCP_FIN | 0x10, 4)
            .unwrap();
        assert_eq!(st(&s), Some(TcpState::V4FinV6FinRcv));
        assert_eq!(s.next_expiry(), Some(4 + t.tcp_trans as u64));
        s.outbound(out6(Proto::Tcp, HOST, 40000, SERVER, 80), 0x10, 10)
            .unwrap();
        assert_eq!(
            s.next_expiry(),
            Some(4 + t.tcp_trans as u64),
            "closing session is not refreshed"
        );
        assert_eq!(s.expire(4 + t.tcp_trans as u64, &mut |_| {}), 1);
        assert_eq!(st(&s), None);
    }

    #[test]
    fn tcp_rst_and_trans() {
        let mut s = State::new(config());
        s.outbound(out6(Proto::Tcp, HOST, 40001, SERVER, 80), TCP_SYN, 0)
            .unwrap();
        s.inbound(in4(Proto::Tcp, SERVER, 80, POOL, 40001), TCP_SYN | 0x10, 0)
            .unwrap();
        s.inbound(in4(Proto::Tcp, SERVER, 80, POOL, 40001), TCP_RST, 5)
            .unwrap();
        assert_eq!(s.tcp_state(HOST, 40001, SERVER, 80), Some(TcpState::Trans));
        s.outbound(out6(Proto::Tcp, HOST, 40001, SERVER, 80), 0x10, 6)
            .unwrap();
        assert_eq!(
            s.tcp_state(HOST, 40001, SERVER, 80),
            Some(TcpState::Established),
            "traffic after RST revives it"
        );
    }

    #[test]
    fn tcp_inbound_syn_with_static_binding() {
        let mut c = config();
        c.statics.push(StaticEntry {
            proto: Proto::Tcp,
            addr6: HOST,
            port6: 8080,
            addr4: POOL,
            port4: 80,
        });
        let mut s = State::new(c);
        assert_eq!(
            s.inbound(in4(Proto::Tcp, SERVER, 5555, POOL, 80), 0x10, 0),
            Err(Refusal::NoSession)
        );
        assert_eq!(
            s.inbound(in4(Proto::Tcp, SERVER, 5555, POOL, 80), TCP_SYN, 0),
            Ok(Mapped6 {
                addr: HOST,
                port: 8080
            })
        );
        assert_eq!(s.next_expiry(), Some(6), "V4 INIT lives TCP_INCOMING_SYN");
        s.outbound(
            out6(Proto::Tcp, HOST, 8080, SERVER, 5555),
            TCP_SYN | 0x10,
            1,
        )
        .unwrap();
        assert_eq!(
            s.tcp_state(HOST, 8080, SERVER, 5555),
            Some(TcpState::Established)
        );
        s.expire(10_000_000, &mut |_| {});
        assert_eq!(
            s.lookup4(Proto::Tcp, POOL, 80),
            Some(Mapped6 {
                addr: HOST,
                port: 8080
            }),
            "static binding stays"
        );
        // The IPv6 host's own outbound flows from that port use the static mapping.
        assert_eq!(
            s.outbound(
                out6(Proto::Tcp, HOST, 8080, [203, 0, 113, 1], 443),
                TCP_SYN,
                1
            ),
            Ok(Mapped4 {
                addr: POOL,
                port: 80
            })
        );
    }

    #[test]
    fn reconfigure_keeps_sessions_and_replaces_statics() {
        let mut c = config();
        c.statics.push(StaticEntry {
            proto: Proto::Udp,
            addr6: HOST,
            port6: 53,
            addr4: POOL,
            port4: 53,
        });
        let mut s = State::new(c.clone());
        s.outbound(out6(Proto::Udp, HOST2, 7000, SERVER, 53), 0, 0)
            .unwrap();
        c.statics.clear();
        s.reconfigure(c);
        assert_eq!(s.lookup4(Proto::Udp, POOL, 53), None);
        assert_eq!(s.session_count(Proto::Udp), 1);
    }

    #[test]
    fn expiry_frees_bindings_and_hosts_and_reuses_slots() {
        let mut c = config();
        c.max_sessions = 10_000;
        let mut s = State::new(c);
        for host in 0..50u8 {
            let mut addr = HOST;
            addr[15] = host;
            for port in 0..20u16 {
                s.outbound(out6(Proto::Udp, addr, 2000 + port, SERVER, 53), 0, 0)
                    .unwrap();
            }
        }
        assert_eq!(
            (
                s.session_count(Proto::Udp),
                s.bib_count(),
                s.host_index.len()
            ),
            (1000, 1000, 50)
        );
        assert_eq!(s.expire(300, &mut |_| {}), 1000);
        assert_eq!(
            (
                s.bib_count(),
                s.host_index.len(),
                s.bib4.len(),
                s.sessions.len()
            ),
            (0, 0, 0, 0)
        );
        let slots = s.bibs.len();
        s.outbound(out6(Proto::Udp, HOST2, 7, SERVER, 53), 0, 300)
            .unwrap();
        assert_eq!(s.bibs.len(), slots, "a freed slot is reused");
        assert_eq!(s.lookup6(Proto::Udp, HOST2, 7).map(|m| m.addr), Some(POOL));
    }

    #[test]
    fn session_entry_stays_small() {
        // 10,000 sessions within the 4 MB RSS budget: the TCP probe needs no sequence
        // numbers (RFC 6146 sends zeros), so a session is still its key and 8 bytes.
        assert_eq!(std::mem::size_of::<SessionKey>(), 16);
        assert_eq!(std::mem::size_of::<Session>(), 8);
    }

    #[test]
    fn hash_is_seeded_and_spreads() {
        let a = SeededHash::random();
        let b = SeededHash::random();
        assert_ne!(a.hash_one(42u64), b.hash_one(42u64), "per-instance seed");
        for _ in 0..20 {
            let h = SeededHash::random();
            let (mut top, mut low) = (
                std::collections::HashSet::new(),
                std::collections::HashSet::new(),
            );
            for k in 0..10_000u64 {
                // Keys as the tables build them: small fields in a few bit ranges.
                let key = key4(Proto::Udp, [198, 51, 100, (k % 4) as u8], (k / 4) as u16);
                top.insert(h.hash_one(key) >> 50);
                low.insert(h.hash_one(key) & 0x3fff);
            }
            // 10,000 keys into 2^14 buckets: about 7,500 distinct if uniform.
            assert!(
                top.len() > 6_500 && low.len() > 6_500,
                "spread: top {} low {}",
                top.len(),
                low.len()
            );
        }
    }
}
