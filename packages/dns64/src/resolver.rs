//! The DNS64 state machine (sans-IO). Input: client queries and upstream responses as bytes,
//! with where they came from and the current time, and timer expiry. Output: datagrams for
//! clients and upstreams ([`Output`]), and the next deadline ([`Dns64::poll_timeout`]).
//!
//! A query's life: cache lookup, else a fresh upstream query (random ID from the entropy
//! source, a token the I/O layer maps to a fresh socket, so a random source port). An upstream
//! response is accepted only from the server it was sent to, with our ID and our question
//! (anti-spoofing). Truncated UDP answers are retried over TCP; a silent server is replaced by
//! the next one after `attempt_timeout` while the earlier attempts keep listening (up to
//! three: a slow server's late answer is taken); after `query_timeout` the client gets SERVFAIL.
//!
//! RFC 6147 decisions for AAAA (class IN, unless the client set both DO and CD, §5.5):
//! - real AAAA records pass unchanged (§5.1.1); NXDOMAIN passes (§5.1.2);
//! - some AAAA in the exclusion set and some not (§5.1.4): the excluded records are removed,
//!   the rest of the answer (CNAME/DNAME chain, §5.1.5), its TTLs and the authority and
//!   additional sections kept (§5.4); an RRSIG over AAAA no longer verifies and is dropped,
//!   AD cleared. This filtered answer is what is cached;
//! - any other result (NODATA, all excluded, other RCODEs) leads to an A query whose answer is
//!   the basis of the response (§5.1.6): CNAME/DNAME chains and the authority and additional
//!   sections kept (§5.3.2, §5.4), each A record replaced by its synthesized AAAA with TTL
//!   min(A TTL, negative TTL of the AAAA answer from its SOA, or 600 s without SOA) (§5.1.7),
//!   RRSIGs over A dropped, AD cleared (we do not validate);
//! - DO and CD both set (§5.5 item 3): no synthesis and no filtering, the upstream's answer as
//!   it is (RRSIGs, AD), for the client to validate and synthesize itself.
//!
//! PTR (class IN, same DO+CD rule): a full ip6.arpa name in our prefix gets a CNAME to its
//! in-addr.arpa name and the upstream's answer for that (§5.3.1 option 2), except for the
//! addresses of 192.0.0.170 and 192.0.0.171, answered locally with `PTR ipv4only.arpa` (RFC
//! 8880 §7.2.1; TTL [`LOCAL_TTL`], AA clear: the RFC sets neither). The in-addr.arpa names
//! of those two addresses asked directly are forwarded like any other: RFC 8880 §7.2 item 4
//! says recursive resolvers SHOULD NOT treat them specially. `ipv4only.arpa` A and AAAA are
//! answered locally (RFC 7050, RFC 8880 §7.1).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::exclude::Range6;
use crate::rfc6052::{self, Prefix};
use crate::wire::{self, Edns, Header, Message, Name, Record, Writer};
use v6only_common::json::Json;

/// The opcode bits of the header flags.
const FLAG_OPCODE: u16 = 0x7800;

/// Our EDNS UDP payload size towards upstreams and clients (the DNS flag day 2020 value).
pub const EDNS_SIZE: u16 = 1232;
/// Synthesized TTL when the negative AAAA answer carried no SOA (RFC 6147 §5.1.7).
pub const NO_SOA_TTL: u32 = 600;
/// TTL of the local ipv4only.arpa answers (RFC 7050/8880) and of synthesized PTR CNAMEs.
pub const LOCAL_TTL: u32 = 3600;
/// `ipv4only.arpa` in wire form: compared with every query's name, so not built per query.
const IPV4ONLY_ARPA: &[u8] = b"\x08ipv4only\x04arpa\x00";

/// The A records of ipv4only.arpa (RFC 7050 §2.2, RFC 8880 §7.1).
const IPV4ONLY: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];
/// Cached entries live at most this long, whatever the records say.
pub const MAX_CACHE_TTL: u32 = 86400;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub prefix: Prefix,
    /// Synthesize non-global IPv4 addresses with the Well-Known Prefix too (a lab); mirrors
    /// nat64's option of the same name, which must be set alike.
    pub allow_non_global: bool,
    pub exclude: Vec<Range6>,
    pub cache_bytes: usize,
    pub max_pending: usize,
    pub attempt_timeout: Duration,
    pub query_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            prefix: Prefix::well_known(),
            allow_non_global: false,
            exclude: vec![Range6::mapped()],
            cache_bytes: 4 << 20,
            max_pending: 2048,
            attempt_timeout: Duration::from_millis(1000),
            query_timeout: Duration::from_millis(3500),
        }
    }
}

/// Who asked: the I/O layer's handle to answer on the same transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// `socket`: index of the listening UDP socket the query arrived on; `local`: the address
    /// the query was sent to when that socket is bound to a wildcard (the answer's source).
    Udp {
        socket: u16,
        addr: SocketAddr,
        local: Option<IpAddr>,
    },
    /// A TCP connection (answers are length-prefixed by the I/O layer).
    Tcp { conn: u64 },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    ToClient {
        client: Client,
        data: Vec<u8>,
    },
    /// Send `data` to `server` from a fresh socket (UDP, or TCP with a length prefix); deliver
    /// what comes back with `token`.
    ToUpstream {
        token: u64,
        server: SocketAddr,
        tcp: bool,
        data: Vec<u8>,
    },
    /// No more interest in answers for `token`: close its socket.
    Close {
        token: u64,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub queries: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub synthesized: u64,
    pub ptr_synthesized: u64,
    pub local_answers: u64,
    pub upstream_queries: u64,
    pub upstream_timeouts: u64,
    /// Client queries that ended in SERVFAIL because no upstream answered in time.
    pub upstream_failures: u64,
    pub tcp_retries: u64,
    pub malformed_queries: u64,
    pub malformed_responses: u64,
    /// Responses from the wrong address, with the wrong ID or question, or too late.
    pub mismatched_responses: u64,
    pub overload_drops: u64,
    pub servfail: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// Anything but synthesis: the upstream answer goes back as it is.
    Forward,
    Aaaa,
    A {
        negative_ttl: Option<u32>,
    },
    /// PTR in the NAT64 prefix: CNAME to `target` (in-addr.arpa), then its PTR (§5.3.1).
    Ptr {
        target: Box<Name>,
    },
}

struct Pending {
    client: Client,
    client_id: u16,
    qname: Name,
    qtype: u16,
    qclass: u16,
    rd: bool,
    cd: bool,
    edns: Option<Edns>,
    cache_key: Vec<u8>,
    stage: Stage,
    server: usize,
    tcp: bool,
    /// Tokens of this stage's attempts still listened to, oldest first (a slow server's late
    /// answer is as good as the next one's).
    attempts: Vec<u64>,
    tries: u32,
    attempt_deadline: Instant,
    deadline: Instant,
}

impl Pending {
    fn upstream_question(&self) -> (&Name, u16) {
        match &self.stage {
            Stage::Forward | Stage::Aaaa => (&self.qname, self.qtype),
            Stage::A { .. } => (&self.qname, wire::TYPE_A),
            Stage::Ptr { target } => (target, wire::TYPE_PTR),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Attempt {
    pending: u64,
    id: u16,
    server: SocketAddr,
    tcp: bool,
}

/// Attempts of one query listened to at once (the latest and the ones before it).
const MAX_OPEN_ATTEMPTS: usize = 3;

pub struct Dns64 {
    config: Config,
    upstreams: Vec<SocketAddr>,
    /// The upstream that answered last: tried first.
    preferred: usize,
    cache: Cache,
    /// Client queries in progress, by their own id (not a token).
    pending: HashMap<u64, Pending>,
    /// Upstream attempts by token: which query, with which ID, to which server.
    attempts: HashMap<u64, Attempt>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    next_token: u64,
    random: Box<dyn FnMut() -> u16>,
    out: VecDeque<Output>,
    stats: Stats,
    scratch: Vec<u8>,
    key_buf: Vec<u8>,
    /// Answers the driver has sent and handed back ([`Dns64::recycle`]): the next answers are
    /// written into them, so that a cache hit allocates nothing.
    spare: Vec<Vec<u8>>,
}

/// Sent answers kept for reuse, and the largest kept (bounds what idle buffers hold).
const SPARE_BUFFERS: usize = 32;
const SPARE_CAPACITY: usize = 4096;

impl Dns64 {
    /// `random` gives unpredictable 16-bit query IDs (the I/O layer reads getrandom).
    pub fn new(
        config: Config,
        upstreams: Vec<SocketAddr>,
        random: Box<dyn FnMut() -> u16>,
    ) -> Dns64 {
        Dns64 {
            cache: Cache::new(config.cache_bytes),
            config,
            upstreams,
            preferred: 0,
            pending: HashMap::new(),
            attempts: HashMap::new(),
            timers: BinaryHeap::new(),
            next_token: 1,
            random,
            out: VecDeque::new(),
            stats: Stats::default(),
            scratch: Vec::with_capacity(512),
            key_buf: Vec::with_capacity(64),
            spare: Vec::new(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }
    pub fn cache_entries(&self) -> usize {
        self.cache.len()
    }
    pub fn cache_bytes(&self) -> usize {
        self.cache.bytes()
    }
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// A new configuration, keeping the cache unless what synthesis depends on changed.
    pub fn reconfigure(&mut self, config: Config) {
        // Cached answers hold synthesized records, which these three decide.
        if config.prefix != self.config.prefix
            || config.allow_non_global != self.config.allow_non_global
            || config.exclude != self.config.exclude
        {
            self.cache.clear();
        }
        self.cache.set_limit(config.cache_bytes);
        self.config = config;
    }

    pub fn set_upstreams(&mut self, upstreams: Vec<SocketAddr>) {
        if upstreams != self.upstreams {
            self.upstreams = upstreams;
            self.preferred = 0;
        }
    }

    /// The core's part of the `status` reply: the prefix, the counters, the queries in
    /// progress, the cache and the upstreams.
    pub fn write_status(&self, j: &mut Json) {
        let s = &self.stats;
        j.field_str("prefix", &self.config.prefix.to_string())
            .field_u64("queries", s.queries)
            .field_u64("synthesized", s.synthesized)
            .field_u64("ptr_synthesized", s.ptr_synthesized)
            .field_u64("local_answers", s.local_answers)
            .field_u64("cache_hits", s.cache_hits)
            .field_u64("cache_misses", s.cache_misses)
            .field_u64("upstream_queries", s.upstream_queries)
            .field_u64("upstream_timeouts", s.upstream_timeouts)
            .field_u64("upstream_failures", s.upstream_failures)
            .field_u64("tcp_retries", s.tcp_retries)
            .field_u64("servfail", s.servfail)
            .field_u64("malformed_queries", s.malformed_queries)
            .field_u64("malformed_responses", s.malformed_responses)
            .field_u64("mismatched_responses", s.mismatched_responses)
            .field_u64("overload_drops", s.overload_drops)
            .field_u64("pending", self.pending.len() as u64);
        j.begin_object("cache")
            .field_u64("entries", self.cache.len() as u64)
            .field_u64("bytes", self.cache.bytes() as u64)
            .field_u64("limit", self.config.cache_bytes as u64)
            .end();
        j.begin_array("upstreams");
        for u in &self.upstreams {
            j.item_str(&u.to_string());
        }
        j.end();
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Gives back the data of an output once it has been sent, for the next answer.
    pub fn recycle(&mut self, data: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && data.capacity() <= SPARE_CAPACITY {
            self.spare.push(data);
        }
    }

    /// The response as the client can take it (see [`fit`]), in a recycled buffer.
    fn fit(&mut self, data: &[u8], client: Client, edns: Option<Edns>) -> Vec<u8> {
        fit(data, client, edns, self.spare.pop().unwrap_or_default())
    }

    /// When [`Dns64::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    pub fn handle_query(&mut self, bytes: &[u8], client: Client, now: Instant) {
        self.stats.queries += 1;
        let header = match Header::new_checked(bytes) {
            Ok(h) if !h.is_response() => h,
            // Too short to answer, or a response sent to us: never reply (no loops, no reflection).
            _ => {
                self.stats.malformed_queries += 1;
                return;
            }
        };
        let query = match Message::parse(bytes) {
            Ok(q) => q,
            Err(_) => {
                self.stats.malformed_queries += 1;
                // The opcode and RD of the query kept.
                let kept = header.flags() & (FLAG_OPCODE | wire::FLAG_RD);
                let flags = wire::FLAG_QR | kept | wire::RCODE_FORMERR as u16;
                let w = Writer::new(header.id(), flags);
                self.out.push_back(Output::ToClient {
                    client,
                    data: w.into_bytes(),
                });
                return;
            }
        };
        let flags = query.flags();
        let rd = flags & wire::FLAG_RD != 0;
        let cd = flags & wire::FLAG_CD != 0;
        let edns = query.edns();
        if query.opcode() != 0 {
            self.reply_empty(client, &query, wire::RCODE_NOTIMP);
            return;
        }
        let do_bit = edns.is_some_and(|e| e.dnssec_ok);
        if query.qclass() == wire::CLASS_IN && self.answer_locally(client, &query) {
            return;
        }
        // DO and CD together: the client validates, so synthesis would only fail it (§5.5).
        let synthesis_allowed = query.qclass() == wire::CLASS_IN && !(do_bit && cd);
        let ptr_v4 = if synthesis_allowed && query.qtype() == wire::TYPE_PTR {
            self.config.prefix.ptr_v4(query.qname().labels())
        } else {
            None
        };
        if ptr_v4.is_some_and(|v4| IPV4ONLY.contains(&v4)) {
            self.answer_ipv4only_ptr(client, &query);
            return;
        }

        // Built in a reused buffer: a cache hit allocates only the answer it sends.
        let mut key = std::mem::take(&mut self.key_buf);
        key.clear();
        query.qname().push_lowercase(&mut key);
        key.extend_from_slice(&query.qtype().to_be_bytes());
        key.extend_from_slice(&query.qclass().to_be_bytes());
        key.push(do_bit as u8 | (cd as u8) << 1 | (edns.is_some() as u8) << 2);
        let mut cached = std::mem::take(&mut self.scratch);
        if self.cache.get(&key, now, &mut cached) {
            self.stats.cache_hits += 1;
            let mut header = Header::new_unchecked(&mut cached[..]);
            header.set_id(query.id());
            header.set_flag(wire::FLAG_RD, rd);
            restore_qname_case(&mut cached, query.qname());
            let data = self.fit(&cached, client, edns);
            self.scratch = cached;
            self.key_buf = key;
            self.out.push_back(Output::ToClient { client, data });
            return;
        }
        self.scratch = cached;
        self.key_buf = key;
        self.stats.cache_misses += 1;

        let stage = if synthesis_allowed && query.qtype() == wire::TYPE_AAAA {
            Stage::Aaaa
        } else if let Some(target) = ptr_v4.and_then(ptr_target) {
            Stage::Ptr {
                target: Box::new(target),
            }
        } else {
            Stage::Forward
        };
        if self.upstreams.is_empty() || self.pending.len() >= self.config.max_pending {
            self.stats.overload_drops += u64::from(!self.upstreams.is_empty());
            self.reply_empty(client, &query, wire::RCODE_SERVFAIL);
            return;
        }
        let pending = Pending {
            client,
            client_id: query.id(),
            qname: query.qname().clone(),
            qtype: query.qtype(),
            qclass: query.qclass(),
            rd,
            cd,
            edns,
            cache_key: self.key_buf.clone(),
            stage,
            server: self.preferred % self.upstreams.len(),
            tcp: false,
            attempts: Vec::new(),
            tries: 0,
            attempt_deadline: now,
            deadline: now + self.config.query_timeout,
        };
        let pid = self.next_token;
        self.next_token += 1;
        self.send_upstream(pending, pid, now);
    }

    /// Delivers what arrived on the socket of `token` from `from`.
    pub fn handle_response(&mut self, token: u64, from: SocketAddr, bytes: &[u8], now: Instant) {
        let Some(&attempt) = self.attempts.get(&token) else {
            self.stats.mismatched_responses += 1;
            return;
        };
        let Some(p) = self.pending.get(&attempt.pending) else {
            self.stats.mismatched_responses += 1;
            return;
        };
        if from != attempt.server {
            self.stats.mismatched_responses += 1;
            return;
        }
        let response = match Message::parse(bytes) {
            Ok(r) => r,
            Err(_) => {
                // Ignored: a forged or broken datagram must not end the wait for the real one.
                self.stats.malformed_responses += 1;
                return;
            }
        };
        let (qname, qtype) = p.upstream_question();
        if !response.header().is_response()
            || response.id() != attempt.id
            || response.opcode() != 0
            || response.qtype() != qtype
            || response.qclass() != p.qclass
            || !response.qname().eq_ignore_case(qname)
        {
            self.stats.mismatched_responses += 1;
            return;
        }
        let pid = attempt.pending;
        let mut p = self.pending.remove(&pid).expect("looked up above");
        self.close_attempts(&mut p);
        // Go on from the server that answered.
        if let Some(i) = self.upstreams.iter().position(|&u| u == attempt.server) {
            p.server = i;
        }

        if response.flags() & wire::FLAG_TC != 0 && !attempt.tcp {
            self.stats.tcp_retries += 1;
            p.tcp = true;
            self.send_upstream(p, pid, now);
            return;
        }
        let rcode = response.rcode();
        if matches!(rcode, wire::RCODE_SERVFAIL | wire::RCODE_REFUSED)
            && p.tries < self.upstreams.len() as u32
            && now < p.deadline
        {
            // This server cannot help (failing or refusing us): ask the next one.
            p.server = (p.server + 1) % self.upstreams.len();
            p.tcp = false;
            self.send_upstream(p, pid, now);
            return;
        }
        self.preferred = p.server;

        match p.stage.clone() {
            Stage::Forward => self.pass_through(&p, &response, now),
            Stage::Aaaa => {
                if rcode == wire::RCODE_NXDOMAIN {
                    return self.pass_through(&p, &response, now);
                }
                let (mut any, mut usable, mut excluded) = (false, false, false);
                for rr in response.records(0) {
                    if let Some(out) = self.aaaa_excluded(bytes, &rr) {
                        any = true;
                        usable |= !out;
                        excluded |= out;
                    }
                }
                if rcode == wire::RCODE_NOERROR && usable && !excluded {
                    return self.pass_through(&p, &response, now);
                }
                if rcode == wire::RCODE_NOERROR && usable {
                    // Some usable, some not: the usable ones only (§5.1.4).
                    match self.without_excluded(&p, &response) {
                        Some(data) => self.respond(&p, data, now),
                        None => {
                            self.stats.malformed_responses += 1;
                            self.servfail(&p);
                        }
                    }
                    return;
                }
                // NODATA: its negative TTL bounds the synthesized TTL. Excluded AAAA or an
                // error: no SOA to go by (600 s).
                let negative_ttl = if rcode == wire::RCODE_NOERROR && !any {
                    negative_ttl(&response)
                } else {
                    None
                };
                p.stage = Stage::A { negative_ttl };
                p.tcp = false;
                p.tries = 0;
                p.server = self.preferred;
                self.send_upstream(p, pid, now);
            }
            Stage::A { negative_ttl } => {
                match self.synthesize(&p, &response, negative_ttl.unwrap_or(NO_SOA_TTL)) {
                    Some(data) => self.respond(&p, data, now),
                    None => {
                        self.stats.malformed_responses += 1;
                        self.servfail(&p);
                    }
                }
            }
            Stage::Ptr { target } => match self.ptr_answer(&p, &target, &response) {
                Some(data) => {
                    self.stats.ptr_synthesized += 1;
                    self.respond(&p, data, now)
                }
                None => {
                    self.stats.malformed_responses += 1;
                    self.servfail(&p);
                }
            },
        }
    }

    /// Retries or fails the queries whose attempt timed out.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((deadline, token))) = self.timers.peek() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            let Some(attempt) = self.attempts.get(&token) else {
                continue;
            };
            let pid = attempt.pending;
            let Some(p) = self.pending.get(&pid) else {
                continue;
            };
            // Only the latest attempt's timer counts; older ones keep listening.
            if p.attempt_deadline != deadline || p.attempts.last() != Some(&token) {
                continue;
            }
            let mut p = self.pending.remove(&pid).expect("looked up above");
            self.stats.upstream_timeouts += 1;
            if now >= p.deadline || self.upstreams.is_empty() {
                self.close_attempts(&mut p);
                self.stats.upstream_failures += 1;
                self.servfail(&p);
                continue;
            }
            p.server = (p.server + 1) % self.upstreams.len();
            self.send_upstream(p, pid, now);
        }
    }

    fn close_attempts(&mut self, p: &mut Pending) {
        for token in p.attempts.drain(..) {
            self.attempts.remove(&token);
            self.out.push_back(Output::Close { token });
        }
    }

    fn send_upstream(&mut self, mut p: Pending, pid: u64, now: Instant) {
        let id = (self.random)();
        let (qname, qtype) = p.upstream_question();
        let mut flags = wire::FLAG_RD;
        if p.cd {
            flags |= wire::FLAG_CD;
        }
        let mut w = Writer::new(id, flags);
        w.question(qname.as_wire(), qtype, p.qclass);
        if let Some(edns) = p.edns {
            w.opt(EDNS_SIZE, edns.dnssec_ok);
            w.set_count(3, 1);
        }
        p.server %= self.upstreams.len();
        let server = self.upstreams[p.server];
        p.tries += 1;
        p.attempt_deadline = (now + self.config.attempt_timeout).min(p.deadline);
        let token = self.next_token;
        self.next_token += 1;
        self.stats.upstream_queries += 1;
        self.timers.push(Reverse((p.attempt_deadline, token)));
        self.out.push_back(Output::ToUpstream {
            token,
            server,
            tcp: p.tcp,
            data: w.into_bytes(),
        });
        self.attempts.insert(
            token,
            Attempt {
                pending: pid,
                id,
                server,
                tcp: p.tcp,
            },
        );
        p.attempts.push(token);
        if p.attempts.len() > MAX_OPEN_ATTEMPTS {
            let oldest = p.attempts.remove(0);
            self.attempts.remove(&oldest);
            self.out.push_back(Output::Close { token: oldest });
        }
        self.pending.insert(pid, p);
    }

    /// RFC 7050 / RFC 8880: ipv4only.arpa has the A records 192.0.0.170 and 192.0.0.171; its
    /// AAAA are those synthesized with our prefix. Answered without asking anyone.
    fn answer_locally(&mut self, client: Client, query: &Message) -> bool {
        if !wire::eq_ignore_case(query.qname().as_wire(), IPV4ONLY_ARPA) {
            return false;
        }
        self.stats.local_answers += 1;
        let mut w = response_writer(
            query.id(),
            query.flags() & wire::FLAG_RD != 0,
            query.flags() & wire::FLAG_CD != 0,
            wire::RCODE_NOERROR,
        );
        w.question(query.qname().as_wire(), query.qtype(), query.qclass());
        let mut count = 0;
        for v4 in IPV4ONLY {
            match query.qtype() {
                wire::TYPE_AAAA => {
                    let v6 = self.config.prefix.embed(v4);
                    write_rr(
                        &mut w,
                        query.qname(),
                        wire::TYPE_AAAA,
                        LOCAL_TTL,
                        &v6.octets(),
                    );
                }
                wire::TYPE_A => {
                    write_rr(&mut w, query.qname(), wire::TYPE_A, LOCAL_TTL, &v4.octets())
                }
                _ => continue,
            }
            count += 1;
        }
        w.set_count(1, count);
        if query.qtype() == wire::TYPE_AAAA {
            self.stats.synthesized += 1;
        }
        self.reply_local(client, query, w);
        true
    }

    /// RFC 8880 §7.2.1: the ip6.arpa names of 192.0.0.170 and 192.0.0.171 in our prefix have
    /// the PTR `ipv4only.arpa`, given without a reverse query for the IPv4 address. Not AA:
    /// the prefix's ip6.arpa zone is not ours (as for the synthesized CNAMEs, §5.3.1).
    fn answer_ipv4only_ptr(&mut self, client: Client, query: &Message) {
        self.stats.local_answers += 1;
        self.stats.ptr_synthesized += 1;
        let flags = query.flags();
        let rd = flags & wire::FLAG_RD != 0;
        let mut w = response_writer(query.id(), rd, flags & wire::FLAG_CD != 0, 0);
        w.question(query.qname().as_wire(), query.qtype(), query.qclass());
        write_rr(
            &mut w,
            query.qname(),
            wire::TYPE_PTR,
            LOCAL_TTL,
            IPV4ONLY_ARPA,
        );
        w.set_count(1, 1);
        self.reply_local(client, query, w);
    }

    /// Sends a locally made answer: OPT as asked, cut to what the client takes.
    fn reply_local(&mut self, client: Client, query: &Message, mut w: Writer) {
        if let Some(edns) = query.edns() {
            w.opt(EDNS_SIZE, edns.dnssec_ok);
            w.set_count(3, 1);
        }
        let data = self.fit(w.as_bytes(), client, query.edns());
        self.out.push_back(Output::ToClient { client, data });
    }

    /// For an AAAA record (class IN), whether it is in the exclusion set (§5.1.4).
    fn aaaa_excluded(&self, msg: &[u8], rr: &Record) -> Option<bool> {
        if rr.rtype() != wire::TYPE_AAAA || rr.class() != wire::CLASS_IN || rr.rdata_len() != 16 {
            return None;
        }
        let mut a = [0u8; 16];
        a.copy_from_slice(rr.rdata(msg));
        let a = Ipv6Addr::from(a);
        Some(self.config.exclude.iter().any(|r| r.contains(a)))
    }

    fn pass_through(&mut self, p: &Pending, response: &Message, now: Instant) {
        let mut data = response.bytes().to_vec();
        let mut header = Header::new_unchecked(&mut data[..]);
        header.set_id(p.client_id);
        header.set_flag(wire::FLAG_RD, p.rd);
        restore_qname_case(&mut data, &p.qname);
        self.respond(p, data, now);
    }

    fn respond(&mut self, p: &Pending, data: Vec<u8>, now: Instant) {
        if let Some((offsets, ttl)) = cacheability(&data) {
            self.cache.insert(&p.cache_key, &data, &offsets, ttl, now);
        }
        let data = self.fit(&data, p.client, p.edns);
        self.out.push_back(Output::ToClient {
            client: p.client,
            data,
        });
    }

    fn servfail(&mut self, p: &Pending) {
        self.stats.servfail += 1;
        let mut w = response_writer(p.client_id, p.rd, p.cd, wire::RCODE_SERVFAIL);
        w.question(p.qname.as_wire(), p.qtype, p.qclass);
        if let Some(edns) = p.edns {
            w.opt(EDNS_SIZE, edns.dnssec_ok);
            w.set_count(3, 1);
        }
        self.out.push_back(Output::ToClient {
            client: p.client,
            data: w.into_bytes(),
        });
    }

    fn reply_empty(&mut self, client: Client, query: &Message, rcode: u8) {
        if rcode == wire::RCODE_SERVFAIL {
            self.stats.servfail += 1;
        }
        let flags = query.flags();
        let mut w = response_writer(
            query.id(),
            flags & wire::FLAG_RD != 0,
            flags & wire::FLAG_CD != 0,
            rcode,
        );
        let flags = w.header().flags() | (flags & FLAG_OPCODE);
        w.header().set_flags(flags);
        w.question(query.qname().as_wire(), query.qtype(), query.qclass());
        if let Some(edns) = query.edns() {
            w.opt(EDNS_SIZE, edns.dnssec_ok);
            w.set_count(3, 1);
        }
        self.out.push_back(Output::ToClient {
            client,
            data: w.into_bytes(),
        });
    }

    /// The AAAA response without its excluded records (§5.1.4), assembled as §5.4 says (see
    /// [`Dns64::rebuild`]), the rest of the answer (CNAME chain included) kept. An RRSIG over
    /// AAAA signed the whole RRset, which no longer verifies: it goes, and AD is clear (the
    /// client did not set both DO and CD, or it would get the RRset untouched, §5.5).
    fn without_excluded(&self, p: &Pending, r: &Message) -> Option<Vec<u8>> {
        let bytes = r.bytes();
        self.rebuild(p, r, |w| {
            replace_answers(w, r, wire::TYPE_AAAA, 16, |w, rr| {
                if self.aaaa_excluded(bytes, rr) == Some(true) {
                    return Some(false);
                }
                w.copy_record(bytes, rr, rr.ttl()).ok()?;
                Some(true)
            })
        })
    }

    /// The AAAA response built from the A response (§5.1.6, §5.1.7, §5.3.2, §5.4).
    fn synthesize(&mut self, p: &Pending, a: &Message, ttl_cap: u32) -> Option<Vec<u8>> {
        let bytes = a.bytes();
        let mut made = 0;
        let data = self.rebuild(p, a, |w| {
            replace_answers(w, a, wire::TYPE_A, 4, |w, rr| {
                let d = rr.rdata(bytes);
                let v4 = Ipv4Addr::new(d[0], d[1], d[2], d[3]);
                // Only what nat64 translates (RFC 6052 §3.1 for the Well-Known Prefix).
                let prefix = &self.config.prefix;
                if prefix.check_v4(v4, self.config.allow_non_global).is_err() {
                    return Some(false);
                }
                let (owner, _) = wire::read_name(bytes, rr.name_at()).ok()?;
                let v6 = prefix.embed(v4);
                write_rr(
                    w,
                    &owner,
                    wire::TYPE_AAAA,
                    rr.ttl().min(ttl_cap),
                    &v6.octets(),
                );
                made += 1;
                Some(true)
            })
        })?;
        if made > 0 {
            self.stats.synthesized += 1;
        }
        Some(data)
    }

    /// CNAME from the ip6.arpa name to `target`, then the upstream's answer for `target`.
    fn ptr_answer(&self, p: &Pending, target: &Name, r: &Message) -> Option<Vec<u8>> {
        self.rebuild(p, r, |w| {
            write_rr(w, &p.qname, wire::TYPE_CNAME, LOCAL_TTL, target.as_wire());
            Some(1 + copy_section(w, r, 0)?)
        })
    }

    /// Our response to `p` made from the upstream's `r` (§5.4): our header with its RCODE,
    /// the client's question, the answer section as `answer` writes it (returning how many
    /// records it wrote), the authority and additional sections as they came, and OPT if
    /// the client sent one.
    fn rebuild(
        &self,
        p: &Pending,
        r: &Message,
        answer: impl FnOnce(&mut Writer) -> Option<u16>,
    ) -> Option<Vec<u8>> {
        let mut w = response_writer(p.client_id, p.rd, p.cd, r.rcode());
        w.question(p.qname.as_wire(), p.qtype, p.qclass);
        let answers = answer(&mut w)?;
        w.set_count(1, answers);
        let authority = copy_section(&mut w, r, 1)?;
        w.set_count(2, authority);
        let additional = copy_section(&mut w, r, 2)? + self.push_opt(&mut w, p);
        w.set_count(3, additional);
        Some(w.into_bytes())
    }

    fn push_opt(&self, w: &mut Writer, p: &Pending) -> u16 {
        match p.edns {
            Some(edns) => {
                w.opt(EDNS_SIZE, edns.dnssec_ok);
                1
            }
            None => 0,
        }
    }
}

/// The in-addr.arpa name of an IPv4 address embedded in a PTR name in our prefix (§5.3.1).
fn ptr_target(v4: Ipv4Addr) -> Option<Name> {
    Name::from_text(rfc6052::in_addr_arpa(v4).as_str())
}

fn response_writer(id: u16, rd: bool, cd: bool, rcode: u8) -> Writer {
    let mut flags = wire::FLAG_QR | wire::FLAG_RA | (rcode & 0xF) as u16;
    if rd {
        flags |= wire::FLAG_RD;
    }
    if cd {
        flags |= wire::FLAG_CD;
    }
    Writer::new(id, flags)
}

fn write_rr(w: &mut Writer, owner: &Name, rtype: u16, ttl: u32, rdata: &[u8]) {
    w.bytes(owner.as_wire());
    w.u16(rtype);
    w.u16(wire::CLASS_IN);
    w.u32(ttl);
    w.u16(rdata.len() as u16);
    w.bytes(rdata);
}

/// Copies the records of a section except OPT; returns how many.
fn copy_section(w: &mut Writer, m: &Message, section: usize) -> Option<u16> {
    let mut n = 0;
    for rr in m.records(section) {
        if rr.rtype() != wire::TYPE_OPT {
            w.copy_record(m.bytes(), &rr, rr.ttl()).ok()?;
            n += 1;
        }
    }
    Some(n)
}

/// The answer section of `r` into `w`, the records of `rtype` (class IN, `len` bytes of
/// RDATA) given to `each`, which writes what stands for one (or nothing: it returns whether
/// it wrote a record); the RRSIGs over `rtype` dropped, as they no longer verify; the rest
/// copied as it came. Returns how many records it wrote.
fn replace_answers(
    w: &mut Writer,
    r: &Message,
    rtype: u16,
    len: usize,
    mut each: impl FnMut(&mut Writer, &Record) -> Option<bool>,
) -> Option<u16> {
    let bytes = r.bytes();
    let mut n = 0;
    for rr in r.records(0) {
        if rr.rtype() == rtype && rr.class() == wire::CLASS_IN && rr.rdata_len() == len {
            if !each(w, &rr)? {
                continue;
            }
        } else if rr.rtype() == wire::TYPE_RRSIG
            && rr.rdata(bytes).starts_with(&rtype.to_be_bytes())
        {
            continue;
        } else {
            w.copy_record(bytes, &rr, rr.ttl()).ok()?;
        }
        n += 1;
    }
    Some(n)
}

/// Writes the client's spelling of the question name over ours (same name, maybe other case;
/// only when the response carries it uncompressed at the usual place).
fn restore_qname_case(data: &mut [u8], qname: &Name) {
    let wire = qname.as_wire();
    if let Some(dst) = data.get_mut(wire::HEADER_LEN..wire::HEADER_LEN + wire.len()) {
        if wire::eq_ignore_case(dst, wire) {
            dst.copy_from_slice(wire);
        }
    }
}

/// RFC 2308: the negative TTL of a NODATA/NXDOMAIN answer, min(SOA TTL, SOA MINIMUM).
fn negative_ttl(m: &Message) -> Option<u32> {
    m.records(1)
        .find(|rr| rr.rtype() == wire::TYPE_SOA)
        .and_then(|rr| wire::soa_minimum(m.bytes(), &rr).map(|min| min.min(rr.ttl())))
}

/// Whether a final response may be cached, the TTL offsets to age, and for how long.
fn cacheability(data: &[u8]) -> Option<(Vec<u16>, u32)> {
    let m = Message::parse(data).ok()?;
    if m.flags() & wire::FLAG_TC != 0
        || !matches!(m.rcode(), wire::RCODE_NOERROR | wire::RCODE_NXDOMAIN)
    {
        return None;
    }
    let mut offsets = Vec::new();
    let mut ttl = MAX_CACHE_TTL;
    let mut records = 0;
    for section in 0..3 {
        for rr in m.records(section) {
            if rr.rtype() == wire::TYPE_OPT {
                continue;
            }
            offsets.push(u16::try_from(rr.ttl_at()).ok()?);
            if section < 2 {
                records += 1;
                ttl = ttl.min(rr.ttl());
                if section == 1 {
                    if let Some(min) = wire::soa_minimum(data, &rr) {
                        ttl = ttl.min(min);
                    }
                }
            }
        }
    }
    // Nothing to go by (e.g. NODATA without SOA): not cached (RFC 2308 §5).
    (records > 0).then_some((offsets, ttl))
}

/// The response as the client can take it, written into `out`: cut to header, question and
/// OPT with TC set when larger than its UDP limit (512, or its EDNS size up to 4096).
fn fit(data: &[u8], client: Client, edns: Option<Edns>, mut out: Vec<u8>) -> Vec<u8> {
    let limit = match (client, edns) {
        (Client::Tcp { .. }, _) => 65535,
        (Client::Udp { .. }, Some(e)) => (e.udp_size as usize).clamp(512, 4096),
        (Client::Udp { .. }, None) => 512,
    };
    out.clear();
    if data.len() <= limit {
        out.extend_from_slice(data);
        return out;
    }
    let Ok(m) = Message::parse(data) else {
        out.extend_from_slice(&data[..wire::HEADER_LEN]);
        return out;
    };
    let mut w = Writer::new(m.id(), m.flags() | wire::FLAG_TC);
    w.question(m.qname().as_wire(), m.qtype(), m.qclass());
    if let Some(e) = edns {
        w.opt(EDNS_SIZE, e.dnssec_ok);
        w.set_count(3, 1);
    }
    w.into_bytes()
}
