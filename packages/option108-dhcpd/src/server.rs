//! The sans-IO server: a message in (bytes, arrival interface, time), a reply out (bytes,
//! where to send them) plus the lease change to make durable before sending.
//!
//! RFC 2131 §4.3 for every message type; RFC 8925 §3 for option 108: it goes only to clients
//! whose parameter request list has 108, only from pools where it is enabled, with exactly the
//! configured V6ONLY_WAIT, and such clients get yiaddr 0.0.0.0 and no address is kept for them
//! (a SELECTING REQUEST naming an address is NAKed), except that an INIT-REBOOT with a live
//! lease is ACKed with its address, which stays the client's until it expires.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::net::Ipv4Addr;

use crate::leases::{ClientKey, HostName, LeaseTable, State};
use crate::ratelimit::RateLimit;
use crate::wire::{
    self, opt, HwAddr, MessageType, Packet, ReplyHeader, ReplyWriter, Request, FLAG_BROADCAST,
};

/// RFC 8925 §3.4: clients wait at least this long whatever the server says.
pub const MIN_V6ONLY_WAIT: u32 = 300;
/// How long an offered address is kept for the client that may request it.
pub const OFFER_HOLD: u64 = 60;
/// How long a declined address stays out of the pool.
pub const DECLINE_QUARANTINE: u64 = 600;
/// Lease time meaning "infinite" (RFC 2132 §9.2).
pub const INFINITE: u32 = u32::MAX;
/// Bound on the set behind the "distinct IPv6-only clients" count.
pub const V6ONLY_TRACKED: usize = 16384;

/// A `config host`: a fixed address for one or more MACs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticHost {
    pub macs: Vec<[u8; 6]>,
    pub ip: Ipv4Addr,
    pub name: String,
    pub lease_time: Option<u32>,
}

/// One pool, resolved: its interface, subnet, range and what to tell clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The UCI section name (`lan`).
    pub name: String,
    pub device: String,
    pub ifindex: u32,
    /// Our address on the link: server identifier, default router and DNS server.
    pub server: Ipv4Addr,
    pub prefix_len: u8,
    pub first: Ipv4Addr,
    pub count: u32,
    pub lease_time: u32,
    /// Options sent whether asked for or not (1, 3, 6, 15 as configured), in order.
    pub base_options: Vec<(u8, Vec<u8>)>,
    /// Other `dhcp_option`s: sent to clients that ask for them.
    pub extra_options: Vec<(u8, Vec<u8>)>,
    /// RFC 8925 V6ONLY_WAIT; `None` when disabled on this pool.
    pub v6only_wait: Option<u32>,
    pub rapid_commit: bool,
    /// Answer INIT-REBOOT requests of clients we have no record of (ACK a free address of
    /// the pool) instead of staying silent as RFC 2131 §4.3.2 has it, so clients whose lease
    /// was lost with a reboot (leases live in RAM) need not wait for their timeout. OpenWrt's
    /// dnsmasq does the same by default (`authoritative 1`).
    pub authoritative: bool,
    pub hosts: Vec<StaticHost>,
}

impl Pool {
    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        }
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.server) & self.mask()
    }
    fn static_for(&self, hw: &HwAddr) -> Option<&StaticHost> {
        let mac = hw.mac()?;
        self.hosts.iter().find(|h| h.macs.contains(&mac))
    }
}

/// Where a reply goes (RFC 2131 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// 255.255.255.255:68 on the interface.
    Broadcast,
    /// A relay agent's giaddr, port 67.
    Relay(Ipv4Addr),
    /// A configured client's ciaddr, port 68.
    Ciaddr(Ipv4Addr),
    /// yiaddr:68 to a client that has no address yet: the frame goes to its chaddr.
    Unicast { ip: Ipv4Addr, hw: HwAddr },
}

#[derive(Debug)]
pub struct Reply<'a> {
    pub bytes: &'a [u8],
    pub destination: Destination,
    pub ifindex: u32,
    pub message_type: MessageType,
}

/// A lease as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRecord {
    pub ip: Ipv4Addr,
    pub client: ClientKey,
    pub mac: [u8; 6],
    pub expiry: u64,
    pub host_name: HostName,
}

/// What must be made durable before the reply is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseChange {
    Bound(LeaseRecord),
    /// Released by its client, or dropped because the client went IPv6-only.
    Released {
        ip: Ipv4Addr,
        at: u64,
    },
    Declined {
        ip: Ipv4Addr,
        until: u64,
    },
}

#[derive(Debug, Default)]
pub struct Outcome<'a> {
    pub reply: Option<Reply<'a>>,
    pub change: Option<LeaseChange>,
}

/// Counters for `status`; every dropped message is counted under its reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub received: u64,
    pub malformed: u64,
    pub not_request: u64,
    pub no_pool: u64,
    pub other_server: u64,
    pub discovers: u64,
    pub requests: u64,
    pub declines: u64,
    pub releases: u64,
    pub informs: u64,
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    pub ipv6_only: u64,
    pub exhausted: u64,
    pub ignored: u64,
}

pub struct PoolState {
    pub pool: Pool,
    pub table: LeaseTable,
    /// The current lease of each `config host` (same order as `pool.hosts`): not in the
    /// table (a static address may lie outside the range), but stored and shown like others.
    pub static_leases: Vec<Option<LeaseRecord>>,
    v6only_clients: HashSet<u64>,
    last_exhausted_log: u64,
    pub exhausted_since_log: u64,
}

/// `None`, or a lease of another client: nothing this client may release.
trait StaticLeaseExt {
    fn is_none_or_client(&self, client: &ClientKey) -> bool;
}
impl StaticLeaseExt for Option<LeaseRecord> {
    fn is_none_or_client(&self, client: &ClientKey) -> bool {
        !matches!(self, Some(r) if r.client == *client)
    }
}

impl PoolState {
    /// Static hosts holding an unexpired lease.
    pub fn active_static_leases(&self, now: u64) -> usize {
        self.static_leases
            .iter()
            .flatten()
            .filter(|r| r.expiry > now)
            .count()
    }
    fn new(pool: Pool) -> PoolState {
        let mut table = LeaseTable::new(pool.first, pool.count);
        // Our own address may lie in the range: never give it out.
        table.reserve(pool.server);
        for host in &pool.hosts {
            table.reserve(host.ip);
        }
        PoolState {
            static_leases: vec![None; pool.hosts.len()],
            pool,
            table,
            v6only_clients: HashSet::new(),
            last_exhausted_log: 0,
            exhausted_since_log: 0,
        }
    }
    pub fn ipv6_only_clients(&self) -> usize {
        self.v6only_clients.len()
    }
    pub fn ipv6_only_saturated(&self) -> bool {
        self.v6only_clients.len() >= V6ONLY_TRACKED
    }
    fn note_v6only(&mut self, client: &ClientKey) {
        if self.v6only_clients.len() < V6ONLY_TRACKED {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in client.as_slice() {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
            self.v6only_clients.insert(h);
        }
    }
}

pub struct Server {
    pools: Vec<PoolState>,
    buf: Box<[u8; wire::MAX_MESSAGE]>,
    pub counters: Counters,
    pub events: EventLog,
}

/// Where per-client lines go: lease events (ACK, release, NAK, decline, IPv6-only) at info
/// like dnsmasq, or at debug with `log_leases 0`; either way rate-limited, as clients (or a
/// flood posing as clients) trigger them.
pub struct EventLog {
    pub lease_level: log::Level,
    pub limit: RateLimit,
    /// Debug lines (offers, dropped messages): their own budget, so they never crowd out
    /// the lease events.
    pub chatter: RateLimit,
}

/// Lease-event lines per period: plenty for a network's normal churn.
pub const EVENT_LOG_PERIOD: u64 = 10;
pub const EVENT_LOG_BURST: u32 = 100;

impl EventLog {
    pub fn set_log_leases(&mut self, on: bool) {
        self.lease_level = if on {
            log::Level::Info
        } else {
            log::Level::Debug
        };
    }
    fn lease(&mut self, now: u64, args: std::fmt::Arguments<'_>) {
        self.limit.log(self.lease_level, now, args);
    }
    fn warn(&mut self, now: u64, args: std::fmt::Arguments<'_>) {
        self.limit.log(log::Level::Warn, now, args);
    }
    fn debug(&mut self, now: u64, args: std::fmt::Arguments<'_>) {
        self.chatter.log(log::Level::Debug, now, args);
    }
    /// Lines held back by the rate limits since start.
    pub fn suppressed(&self) -> u64 {
        self.limit.suppressed + self.chatter.suppressed
    }
}

impl Server {
    pub fn new(pools: Vec<Pool>) -> Server {
        Server {
            pools: pools.into_iter().map(PoolState::new).collect(),
            buf: Box::new([0; wire::MAX_MESSAGE]),
            counters: Counters::default(),
            events: EventLog {
                lease_level: log::Level::Info,
                limit: RateLimit::new(EVENT_LOG_PERIOD, EVENT_LOG_BURST),
                chatter: RateLimit::new(EVENT_LOG_PERIOD, EVENT_LOG_BURST),
            },
        }
    }
    pub fn pools(&self) -> &[PoolState] {
        &self.pools
    }

    /// A new config (reload): pools of the same name keep their leases when the range is
    /// unchanged; the caller then re-applies the stored leases via [`Server::restore`].
    pub fn reconfigure(&mut self, pools: Vec<Pool>) {
        let mut old: Vec<PoolState> = std::mem::take(&mut self.pools);
        for pool in pools {
            let kept = old.iter().position(|s| {
                s.pool.name == pool.name && s.pool.first == pool.first && s.pool.count == pool.count
            });
            let state = match kept {
                Some(i) => {
                    let mut s = old.swap_remove(i);
                    s.table.reserve(pool.server);
                    for host in &pool.hosts {
                        s.table.reserve(host.ip);
                    }
                    // Static leases come back from the caller's snapshot via restore.
                    s.static_leases = vec![None; pool.hosts.len()];
                    s.pool = pool;
                    s
                }
                None => PoolState::new(pool),
            };
            self.pools.push(state);
        }
    }

    /// Puts a stored lease back (at start or after a reload). Leases outside every pool's
    /// range, on reserved addresses, or expired are skipped; returns whether it was kept.
    pub fn restore(&mut self, change: &LeaseChange, now: u64) -> bool {
        let ip = match change {
            LeaseChange::Bound(r) => r.ip,
            LeaseChange::Released { ip, .. } | LeaseChange::Declined { ip, .. } => *ip,
        };
        for state in &mut self.pools {
            if let Some(h) = state.pool.hosts.iter().position(|h| h.ip == ip) {
                return match change {
                    LeaseChange::Bound(r) if state.pool.hosts[h].macs.contains(&r.mac) => {
                        state.static_leases[h] = Some(*r);
                        r.expiry > now
                    }
                    LeaseChange::Released { .. } => {
                        state.static_leases[h] = None;
                        true
                    }
                    _ => false,
                };
            }
        }
        let Some(state) = self
            .pools
            .iter_mut()
            .find(|s| s.table.index_of(ip).is_some())
        else {
            return false;
        };
        let i = state.table.index_of(ip).unwrap();
        if state.table.slot(i).state == State::Reserved {
            return false;
        }
        match *change {
            LeaseChange::Bound(r) => {
                state.table.bind(
                    i,
                    r.client,
                    &HwAddr::from_mac(r.mac),
                    r.host_name,
                    State::Leased,
                    r.expiry,
                );
                r.expiry > now
            }
            LeaseChange::Released { at, .. } => {
                state.table.release(i, at);
                true
            }
            LeaseChange::Declined { until, .. } => {
                state.table.decline(i, until);
                true
            }
        }
    }

    /// Handles one message that arrived on `ifindex` at `now` (seconds since the epoch).
    pub fn handle(&mut self, bytes: &[u8], ifindex: u32, now: u64) -> Outcome<'_> {
        self.counters.received += 1;
        let packet = match Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.counters.malformed += 1;
                self.events.debug(now, format_args!("dropped: {e}"));
                return Outcome::default();
            }
        };
        let request = match Request::parse(&packet) {
            Ok(r) => r,
            Err(wire::Error::NotRequest) => {
                self.counters.not_request += 1;
                return Outcome::default();
            }
            Err(e) => {
                self.counters.malformed += 1;
                self.events.debug(now, format_args!("dropped: {e}"));
                return Outcome::default();
            }
        };
        // Relayed: the pool whose subnet holds giaddr; else the arrival interface's pool.
        let relayed = !request.giaddr.is_unspecified();
        let found = if relayed {
            self.pools
                .iter()
                .position(|s| s.pool.contains(request.giaddr))
        } else {
            self.pools.iter().position(|s| s.pool.ifindex == ifindex)
        };
        let Some(p) = found else {
            self.counters.no_pool += 1;
            return Outcome::default();
        };
        let (state, buf, counters) = (&mut self.pools[p], &mut *self.buf, &mut self.counters);
        let mut ctx = Ctx {
            state,
            counters,
            events: &mut self.events,
            request: &request,
            now,
            client: ClientKey::from_request(&request),
        };
        let decision = match request.message_type {
            MessageType::Discover => ctx.discover(),
            MessageType::Request => ctx.request(),
            MessageType::Decline => ctx.decline(),
            MessageType::Release => ctx.release(),
            MessageType::Inform => ctx.inform(),
            _ => {
                ctx.counters.not_request += 1;
                None
            }
        };
        let Some(decision) = decision else {
            return Outcome::default();
        };
        let change = decision.change;
        if !decision.send {
            return Outcome {
                reply: None,
                change,
            };
        }
        let reply = ctx.emit(&decision, buf);
        Outcome {
            reply: Some(reply),
            change,
        }
    }
}

/// What to answer, before it is written.
struct Decision {
    message_type: MessageType,
    yiaddr: Ipv4Addr,
    lease_time: Option<u32>,
    /// Send the configuration options (mask, router, DNS...).
    config: bool,
    v6only: Option<u32>,
    rapid_commit: bool,
    change: Option<LeaseChange>,
    /// `false`: nothing to send, only the change to store (DECLINE, RELEASE).
    send: bool,
}

impl Decision {
    fn nak() -> Decision {
        Decision {
            message_type: MessageType::Nak,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            lease_time: None,
            config: false,
            v6only: None,
            rapid_commit: false,
            change: None,
            send: true,
        }
    }
}

struct Ctx<'s, 'r> {
    state: &'s mut PoolState,
    counters: &'s mut Counters,
    events: &'s mut EventLog,
    request: &'r Request<'r>,
    now: u64,
    client: ClientKey,
}

impl<'s, 'r> Ctx<'s, 'r> {
    fn pool(&self) -> &Pool {
        &self.state.pool
    }

    /// RFC 8925 §3.3: the option goes only to clients that ask, only where enabled.
    fn v6only(&self) -> Option<u32> {
        if self.request.requests(opt::IPV6_ONLY_PREFERRED) {
            self.pool().v6only_wait
        } else {
            None
        }
    }

    fn host_name(&self) -> HostName {
        self.request
            .host_name
            .map(HostName::new)
            .unwrap_or_default()
    }

    fn lease_time_for(&self, ip: Ipv4Addr) -> u32 {
        self.pool()
            .static_for(&self.request.chaddr)
            .filter(|h| h.ip == ip)
            .and_then(|h| h.lease_time)
            .unwrap_or(self.pool().lease_time)
    }

    fn expiry(&self, lease_time: u32) -> u64 {
        if lease_time == INFINITE {
            u64::MAX
        } else {
            self.now + lease_time as u64
        }
    }

    /// The client goes IPv6-only: whatever address it held goes back to the pool.
    fn go_v6only(&mut self, wait: u32, message_type: MessageType) -> Decision {
        self.counters.ipv6_only += 1;
        let client = self.client;
        self.state.note_v6only(&client);
        let mut change = None;
        if let Some(i) = self.state.table.of_client(&client) {
            let ip = self.state.table.addr_of(i);
            let was_leased = self.state.table.slot(i).state == State::Leased;
            self.state.table.unbind(i);
            if was_leased {
                change = Some(LeaseChange::Released { ip, at: 0 });
            }
        }
        self.events.lease(
            self.now,
            format_args!(
                "{}: {} is IPv6-only preferred: {} with option 108 ({wait} s), no address",
                self.state.pool.name,
                Mac(&self.request.chaddr),
                name(message_type)
            ),
        );
        Decision {
            message_type,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            lease_time: None,
            config: false,
            v6only: Some(wait),
            rapid_commit: false,
            change,
            send: true,
        }
    }

    /// The expiry of this client's unexpired binding of `ip`: its lease (pool or static),
    /// or with `offered` also the address we hold for it after an OFFER.
    fn binding_of_client(&self, ip: Ipv4Addr, offered: bool) -> Option<u64> {
        if let Some(h) = self.pool().hosts.iter().position(|h| h.ip == ip) {
            return self.state.static_leases[h]
                .filter(|r| r.client == self.client && r.expiry > self.now)
                .map(|r| r.expiry);
        }
        let slot = self.state.table.slot(self.state.table.index_of(ip)?);
        let held = slot.state == State::Leased || offered && slot.state == State::Offered;
        (held && slot.client == Some(self.client) && slot.expiry > self.now).then_some(slot.expiry)
    }

    /// INIT-REBOOT of a client with a live lease on `ip` that asked for 108: RFC 2131 §4.3.2
    /// has the ACK confirm the address (yiaddr), RFC 8925 §3.3 has it carry 108. The binding
    /// stays as recorded: not taken back, as the client may still use the address (RFC 8925
    /// §3.2 makes its stop a SHOULD, and systemd-networkd binds it after V6ONLY_WAIT), and
    /// not lengthened, as a client that stops DHCPv4 will not renew: the lease time is what
    /// is left, and the address returns to the pool at the recorded expiry or its RELEASE.
    fn confirm_v6only(&mut self, ip: Ipv4Addr, expiry: u64, wait: u32) -> Decision {
        self.counters.ipv6_only += 1;
        let client = self.client;
        self.state.note_v6only(&client);
        let left = if expiry == u64::MAX {
            INFINITE
        } else {
            (expiry - self.now).min(INFINITE as u64 - 1) as u32
        };
        self.events.lease(
            self.now,
            format_args!(
                "{}: {} is IPv6-only preferred: DHCPACK {ip} with option 108 ({wait} s), lease kept ({left} s left)",
                self.state.pool.name,
                Mac(&self.request.chaddr),
            ),
        );
        Decision {
            message_type: MessageType::Ack,
            yiaddr: ip,
            lease_time: Some(left),
            config: true,
            v6only: Some(wait),
            rapid_commit: false,
            change: None,
            send: true,
        }
    }

    /// An address for the client: static, previous, requested, new, or oldest expired.
    fn pick(&mut self) -> Option<Ipv4Addr> {
        if let Some(host) = self.pool().static_for(&self.request.chaddr) {
            return Some(host.ip);
        }
        let i = self
            .state
            .table
            .choose(&self.client, self.request.requested_ip, self.now)?;
        Some(self.state.table.addr_of(i))
    }

    /// Whether the client may have `ip` (its static address, or a free/its own pool address).
    /// A static host, or a lease (current or remembered) of this client.
    fn knows_client(&self) -> bool {
        self.pool().static_for(&self.request.chaddr).is_some()
            || self.state.table.of_client(&self.client).is_some()
    }

    fn may_have(&self, ip: Ipv4Addr) -> bool {
        if let Some(host) = self.pool().static_for(&self.request.chaddr) {
            return host.ip == ip;
        }
        match self.state.table.index_of(ip) {
            Some(i) => self.state.table.available_to(i, &self.client, self.now),
            None => false,
        }
    }

    /// Commits a lease on `ip` (in the table for pool addresses; statics are not stored).
    fn commit(&mut self, ip: Ipv4Addr) -> Decision {
        let lease_time = self.lease_time_for(ip);
        let expiry = self.expiry(lease_time);
        let host_name = self.host_name();
        let mut change = None;
        if let Some(h) = self.pool().hosts.iter().position(|h| h.ip == ip) {
            let record = LeaseRecord {
                ip,
                client: self.client,
                mac: self.request.chaddr.mac().unwrap_or_default(),
                expiry,
                host_name: if host_name.is_empty() {
                    HostName::new(self.pool().hosts[h].name.as_bytes())
                } else {
                    host_name
                },
            };
            self.state.static_leases[h] = Some(record);
            change = Some(LeaseChange::Bound(record));
        } else if let Some(i) = self.state.table.index_of(ip) {
            if self.state.table.slot(i).state != State::Reserved {
                self.state.table.bind(
                    i,
                    self.client,
                    &self.request.chaddr,
                    host_name,
                    State::Leased,
                    expiry,
                );
                let slot = self.state.table.slot(i);
                change = Some(LeaseChange::Bound(LeaseRecord {
                    ip,
                    client: self.client,
                    mac: slot.mac,
                    expiry,
                    host_name: slot.host_name,
                }));
            }
        }
        self.events.lease(
            self.now,
            format_args!(
                "{}: DHCPACK {ip} to {}{}",
                self.state.pool.name,
                Mac(&self.request.chaddr),
                HostSuffix(&host_name)
            ),
        );
        Decision {
            message_type: MessageType::Ack,
            yiaddr: ip,
            lease_time: Some(lease_time),
            config: true,
            v6only: None,
            rapid_commit: false,
            change,
            send: true,
        }
    }

    fn discover(&mut self) -> Option<Decision> {
        self.counters.discovers += 1;
        if let Some(wait) = self.v6only() {
            // RFC 8925 §3.3/§3.4: yiaddr 0.0.0.0, nothing reserved, no rapid commit.
            return Some(self.go_v6only(wait, MessageType::Offer));
        }
        let Some(ip) = self.pick() else {
            self.counters.exhausted += 1;
            self.state.exhausted_since_log += 1;
            if self.now >= self.state.last_exhausted_log + 10 {
                log::warn!(
                    "{}: pool exhausted, no address for {} ({} addresses, all leased, offered or quarantined; {} DISCOVERs unanswered since the last message)",
                    self.state.pool.name, Mac(&self.request.chaddr), self.pool().count, self.state.exhausted_since_log
                );
                self.state.last_exhausted_log = self.now;
                self.state.exhausted_since_log = 0;
            }
            return None;
        };
        if self.request.rapid_commit && self.pool().rapid_commit {
            let mut d = self.commit(ip);
            d.rapid_commit = true;
            return Some(d);
        }
        if let Some(i) = self.state.table.index_of(ip) {
            if self.state.table.slot(i).state != State::Reserved {
                // Holds the address for the client; its lease, if it has one, stays as it is.
                let slot = *self.state.table.slot(i);
                if !(slot.state == State::Leased
                    && slot.client == Some(self.client)
                    && slot.expiry > self.now)
                {
                    let until = self.now + OFFER_HOLD;
                    self.state.table.bind(
                        i,
                        self.client,
                        &self.request.chaddr,
                        self.host_name(),
                        State::Offered,
                        until,
                    );
                }
            }
        }
        let lease_time = self.lease_time_for(ip);
        self.events.debug(
            self.now,
            format_args!(
                "{}: DHCPOFFER {ip} to {}",
                self.state.pool.name,
                Mac(&self.request.chaddr)
            ),
        );
        Some(Decision {
            message_type: MessageType::Offer,
            yiaddr: ip,
            lease_time: Some(lease_time),
            config: true,
            v6only: None,
            rapid_commit: false,
            change: None,
            send: true,
        })
    }

    fn request(&mut self) -> Option<Decision> {
        self.counters.requests += 1;
        let r = self.request;
        let ours = self.pool().server;
        if let Some(server_id) = r.server_id {
            if server_id != ours {
                // SELECTING another server's offer: ours goes back to the pool.
                self.counters.other_server += 1;
                if let Some(i) = self.state.table.of_client(&self.client) {
                    if self.state.table.slot(i).state == State::Offered {
                        self.state.table.unbind(i);
                    }
                }
                return None;
            }
        }
        let v6only = self.v6only();
        let ip = match (r.server_id, r.requested_ip, r.ciaddr.is_unspecified()) {
            // SELECTING: must name the address we offered.
            (Some(_), Some(ip), true) => {
                if v6only.is_some() && self.binding_of_client(ip, true).is_none() {
                    // RFC 8925 §3.3: this client was offered 0.0.0.0, so it names an
                    // address we never offered. RFC 2131 §4.3.2 wants the offered yiaddr
                    // there, and §3.1 step 4 has a server that cannot satisfy the REQUEST
                    // NAK it: a NAK (not silence, which would leave the client retrying
                    // for a minute) sends it back to INIT, whose DISCOVER gets 108 again.
                    return Some(self.nak("IPv6-only preferred: requested an address not offered"));
                }
                ip
            }
            (Some(_), _, _) => return Some(self.nak("SELECTING without requested address")),
            // INIT-REBOOT: the address the client remembers.
            (None, Some(ip), true) => {
                if let Some(wait) = v6only {
                    if let Some(expiry) = self.binding_of_client(ip, false) {
                        return Some(self.confirm_v6only(ip, expiry, wait));
                    }
                    // RFC 8925 §3.2: a client in INIT-REBOOT that gets 108 in the ACK stops
                    // DHCPv4 for V6ONLY_WAIT. Nothing of ours to confirm: no address, and
                    // an expired lease of its goes back.
                    return Some(self.go_v6only(wait, MessageType::Ack));
                }
                if !self.pool().contains(ip) {
                    return Some(self.nak("address not on this network"));
                }
                if !self.pool().authoritative && !self.knows_client() {
                    // RFC 2131 §4.3.2: no record of this client, so another server may have one.
                    self.counters.ignored += 1;
                    return None;
                }
                ip
            }
            // RENEWING (unicast) or REBINDING (broadcast): ciaddr.
            (None, _, false) => {
                if !self.pool().contains(r.ciaddr) {
                    return Some(self.nak("ciaddr not on this network"));
                }
                r.ciaddr
            }
            (None, None, true) => {
                self.counters.ignored += 1;
                return None;
            }
        };
        if self.may_have(ip) {
            // RFC 8925 §3.2/§3.3: in SELECTING, RENEWING and REBINDING a client that gets 108
            // in the ACK keeps the address it is given; the server still MUST include 108
            // for a client that asked. The client will go IPv6-only at its next attachment.
            let mut d = self.commit(ip);
            d.v6only = v6only;
            if v6only.is_some() {
                self.counters.ipv6_only += 1;
            }
            Some(d)
        } else {
            Some(self.nak("address not available to this client"))
        }
    }

    fn nak(&mut self, why: &str) -> Decision {
        self.events.lease(
            self.now,
            format_args!(
                "{}: DHCPNAK to {}: {why}",
                self.state.pool.name,
                Mac(&self.request.chaddr)
            ),
        );
        Decision::nak()
    }

    fn decline(&mut self) -> Option<Decision> {
        self.counters.declines += 1;
        let r = self.request;
        if r.server_id.is_some_and(|s| s != self.pool().server) {
            self.counters.other_server += 1;
            return None;
        }
        let ip = r.requested_ip?;
        let i = self.state.table.index_of(ip)?;
        // Only the client holding the address can take it out of the pool.
        if self.state.table.slot(i).client != Some(self.client) {
            self.counters.ignored += 1;
            return None;
        }
        let until = self.now + DECLINE_QUARANTINE;
        self.state.table.decline(i, until);
        self.events.warn(
            self.now,
            format_args!(
            "{}: {} declined {ip} (in use on the link?): quarantined for {DECLINE_QUARANTINE} s",
            self.state.pool.name,
            Mac(&r.chaddr)),
        );
        self.silent(LeaseChange::Declined { ip, until })
    }

    fn release(&mut self) -> Option<Decision> {
        self.counters.releases += 1;
        let r = self.request;
        if r.server_id.is_some_and(|s| s != self.pool().server) {
            self.counters.other_server += 1;
            return None;
        }
        if let Some(h) = self.pool().hosts.iter().position(|h| h.ip == r.ciaddr) {
            if self.state.static_leases[h].is_none_or_client(&self.client) {
                self.counters.ignored += 1;
                return None;
            }
            self.state.static_leases[h] = None;
            self.events.lease(
                self.now,
                format_args!(
                    "{}: {} released {} (static)",
                    self.state.pool.name,
                    Mac(&r.chaddr),
                    r.ciaddr
                ),
            );
            return self.silent(LeaseChange::Released {
                ip: r.ciaddr,
                at: self.now,
            });
        }
        let i = self.state.table.index_of(r.ciaddr)?;
        let slot = self.state.table.slot(i);
        if slot.client != Some(self.client) || slot.state != State::Leased {
            self.counters.ignored += 1;
            return None;
        }
        self.state.table.release(i, self.now);
        self.events.lease(
            self.now,
            format_args!(
                "{}: {} released {}",
                self.state.pool.name,
                Mac(&r.chaddr),
                r.ciaddr
            ),
        );
        self.silent(LeaseChange::Released {
            ip: r.ciaddr,
            at: self.now,
        })
    }

    /// No reply, but a change to store: carried as a reply-less decision.
    fn silent(&mut self, change: LeaseChange) -> Option<Decision> {
        Some(Decision {
            message_type: MessageType::Release,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            lease_time: None,
            config: false,
            v6only: None,
            rapid_commit: false,
            change: Some(change),
            send: false,
        })
    }

    fn inform(&mut self) -> Option<Decision> {
        self.counters.informs += 1;
        let v6only = self.v6only();
        if v6only.is_some() {
            self.counters.ipv6_only += 1;
            let client = self.client;
            self.state.note_v6only(&client);
        }
        // RFC 2131 §4.3.5: configuration only, no address and no lease time.
        Some(Decision {
            message_type: MessageType::Ack,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            lease_time: None,
            config: true,
            v6only,
            rapid_commit: false,
            change: None,
            send: true,
        })
    }

    /// Writes the reply into `buf` and decides where it goes.
    fn emit<'b>(&mut self, d: &Decision, buf: &'b mut [u8; wire::MAX_MESSAGE]) -> Reply<'b> {
        let r = self.request;
        let pool = &self.state.pool;
        let is_nak = d.message_type == MessageType::Nak;
        let inform = r.message_type == MessageType::Inform;
        // RFC 2131 table 3: ciaddr is echoed in ACKs to INFORM and RENEWING/REBINDING.
        let ciaddr = if d.message_type == MessageType::Ack && !r.ciaddr.is_unspecified() {
            r.ciaddr
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        let relayed = !r.giaddr.is_unspecified();
        // A NAK through a relay asks it to broadcast (RFC 2131 §4.3.2).
        let flags = if is_nak && relayed {
            r.flags | FLAG_BROADCAST
        } else {
            r.flags
        };
        let max_len = match r.max_message_size {
            Some(m) if m as usize > wire::MIN_MAX_MESSAGE + 28 => {
                (m as usize - 28).min(wire::MAX_MESSAGE)
            }
            _ => wire::MIN_MAX_MESSAGE,
        };
        let header = ReplyHeader {
            request: r,
            ciaddr,
            yiaddr: d.yiaddr,
            flags,
        };
        let mut w = ReplyWriter::new(&mut buf[..], &header, max_len);
        w.option(opt::MESSAGE_TYPE, &[d.message_type as u8]);
        w.option_addr(opt::SERVER_ID, pool.server);
        if is_nak {
            w.option(opt::MESSAGE, b"address not available");
        }
        if let Some(lease) = d.lease_time {
            w.option_u32(opt::LEASE_TIME, lease);
            if lease != INFINITE {
                w.option_u32(opt::RENEWAL_TIME, lease / 2);
                w.option_u32(opt::REBINDING_TIME, (lease as u64 * 7 / 8) as u32);
            }
        }
        if d.rapid_commit {
            w.option(opt::RAPID_COMMIT, &[]);
        }
        if let Some(wait) = d.v6only {
            w.option_u32(opt::IPV6_ONLY_PREFERRED, wait);
        }
        if d.config {
            for (code, value) in &pool.base_options {
                w.option(*code, value);
            }
            // Client's order first (RFC 2132 §9.8 leaves order to the server).
            for &code in r.parameters {
                if let Some((c, value)) = pool.extra_options.iter().find(|(c, _)| *c == code) {
                    w.option(*c, value);
                }
            }
        }
        let len = w.finish();
        let destination = if relayed {
            Destination::Relay(r.giaddr)
        } else if is_nak {
            Destination::Broadcast
        } else if !r.ciaddr.is_unspecified() && (inform || d.message_type == MessageType::Ack) {
            Destination::Ciaddr(r.ciaddr)
        } else if r.broadcast_flag() || d.yiaddr.is_unspecified() || r.chaddr.mac().is_none() {
            Destination::Broadcast
        } else {
            Destination::Unicast {
                ip: d.yiaddr,
                hw: r.chaddr,
            }
        };
        match d.message_type {
            MessageType::Offer => self.counters.offers += 1,
            MessageType::Ack => self.counters.acks += 1,
            MessageType::Nak => self.counters.naks += 1,
            _ => {}
        }
        Reply {
            bytes: &buf[..len],
            destination,
            ifindex: pool.ifindex,
            message_type: d.message_type,
        }
    }
}

fn name(t: MessageType) -> &'static str {
    match t {
        MessageType::Offer => "DHCPOFFER",
        MessageType::Ack => "DHCPACK",
        _ => "reply",
    }
}

/// Formats a hardware address as `aa:bb:cc:dd:ee:ff`.
pub struct Mac<'a>(pub &'a HwAddr);
impl std::fmt::Display for Mac<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
struct HostSuffix<'a>(&'a HostName);
impl std::fmt::Display for HostSuffix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " ({})", self.0.as_str())
        }
    }
}
