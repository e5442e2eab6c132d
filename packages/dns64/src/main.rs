//! dns64: the I/O around the sans-IO core: listening UDP/TCP sockets, one fresh socket per
//! upstream query (a kernel-chosen random source port, connected so that the kernel drops
//! datagrams from other addresses), TCP to upstreams on truncation, the poll loop, signals
//! (SIGHUP reloads, keeping the cache), the control socket and resolv.conf.auto watching.
//! The command line and the control socket's setup are `common::daemon`'s; the system calls
//! (batches, pktinfo, epoll, connects) are `sys`'s.
//!
//! Override (environment):
//!   DNS64_LISTEN   default listen addresses when UCI has none (the init script sets the LAN's)

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use dns64::config::{self, Config};
use dns64::tcp::{self, Connections, FrameDecoder};
use dns64::{Client, Dns64, Output};
use v6only_common::cli::Program;
use v6only_common::daemon::{self, Context, Loaded, Refused, Spec};
use v6only_common::poll::{self, Interest, Poller};
use v6only_common::privilege::{self, Cap};
use v6only_common::signals::Signal;
use v6only_common::watch::FileWatch;

mod sys;
use sys::{drain_stale, tcp_connect, udp_query, write_some, Batch, Epoll, UdpAnswer, BATCH};

static DAEMON: Spec<Config> = Spec {
    program: Program {
        name: "dns64",
        version: env!("CARGO_PKG_VERSION"),
        default_config: "/etc/config/dns64",
        about: "A DNS64 forwarder for IPv6-only networks (RFC 6147, RFC 6052, RFC 7050).",
        commands: daemon::COMMANDS,
    },
    load,
    control_socket,
    run,
    queries: &[],
};

/// An upstream UDP socket (a random source port) carries at most this many queries, one at a
/// time, each with a fresh random ID: socket setup is most of the uncached path's cost, and
/// the ports an attacker must guess among are as many as before (one per query in flight).
const SOCKET_USES: u32 = 16;
const MAX_IDLE_SOCKETS: usize = 256;
/// How often the resolv file is looked at when its directory cannot be watched (it does not
/// exist yet); a watched one is read when it changes.
const RESOLV_CHECK: Duration = Duration::from_secs(10);
/// recvmmsg calls (of `sys::BATCH` datagrams) per listening socket per poll round.
const BATCHES_PER_ROUND: usize = 4;

fn main() -> ExitCode {
    daemon::main(&DAEMON)
}

fn load(path: &Path) -> Result<Loaded<Config>, Refused> {
    let config = Config::load(path)?;
    Ok(Loaded {
        warnings: config.warnings.clone(),
        control_socket: config.control_socket.clone(),
        config,
    })
}

fn control_socket(path: &Path) -> PathBuf {
    daemon::control_socket_option(&DAEMON.program, path, "dns64")
}

/// Unpredictable query IDs from getrandom(2), fetched in blocks.
fn random_ids() -> Box<dyn FnMut() -> u16> {
    let mut buf = [0u8; 256];
    let mut at = buf.len();
    Box::new(move || {
        if at + 2 > buf.len() {
            sys::fill_random(&mut buf);
            at = 0;
        }
        at += 2;
        u16::from_be_bytes([buf[at - 2], buf[at - 1]])
    })
}

enum Upstream {
    /// The socket and how many queries it has carried.
    Udp(UdpSocket, u32),
    Tcp {
        stream: TcpStream,
        server: SocketAddr,
        /// The framed query and how much of it is written.
        out: Vec<u8>,
        written: usize,
        input: FrameDecoder,
    },
}

struct Daemon {
    core: Dns64,
    config: Config,
    config_path: PathBuf,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    /// TCP clients, by the `conn` of `Client::Tcp`.
    clients: Connections<TcpStream>,
    upstream: HashMap<u64, Upstream>,
    resolv_seen: Option<(SystemTime, u64)>,
    resolv_checked: Instant,
    buf: Vec<u8>,
    /// Changes of the resolv file, when it is the upstreams' source and its directory exists.
    resolv_watch: Option<FileWatch>,
    batch: Batch,
    /// The upstream sockets (one per query in flight: many, so epoll rather than poll).
    epoll: Epoll,
    /// Connected upstream sockets between two queries, per server.
    idle: HashMap<SocketAddr, Vec<(UdpSocket, u32)>>,
    idle_count: usize,
    /// Datagrams found waiting on idle upstream sockets and dropped before reuse.
    stale_datagrams: u64,
    /// Answers to UDP clients, sent together by `send_udp`.
    udp_out: Vec<UdpAnswer>,
}

fn run(mut ctx: Context, loaded: Loaded<Config>) -> Result<(), String> {
    let config = loaded.config;
    if !config.enabled {
        log::info!("disabled in {}", ctx.config_path.display());
        return Ok(());
    }
    sys::raise_fd_limit();
    let (udp, tcp) = bind(&config)?;
    // Root was for port 53; a reload may bind it on other addresses.
    privilege::drop_to("dns64", &[Cap::NetBindService], &[])?;
    let now = Instant::now();
    let mut d = Daemon {
        core: Dns64::new(config.core.clone(), Vec::new(), random_ids()),
        config,
        config_path: ctx.config_path.clone(),
        udp,
        tcp,
        clients: Connections::new(tcp::MAX_CLIENTS),
        upstream: HashMap::new(),
        resolv_seen: None,
        resolv_checked: now,
        buf: vec![0; 65536],
        resolv_watch: None,
        batch: Batch::new(),
        epoll: Epoll::new().map_err(|e| format!("epoll: {e}"))?,
        idle: HashMap::new(),
        idle_count: 0,
        stale_datagrams: 0,
        udp_out: Vec::new(),
    };
    d.watch_resolv();
    d.refresh_upstreams(true);
    log::info!(
        "serving on port {} ({} UDP sockets), prefix {}, upstreams {:?}",
        d.config.port,
        d.udp.len(),
        d.config.core.prefix,
        d.core.upstreams()
    );
    let mut poller = Poller::new();
    loop {
        let now = Instant::now();
        poller.clear();
        let t_signals = poller.register(ctx.signals.as_raw_fd(), Interest::Read);
        ctx.control.register(&mut poller);
        let t_resolv = d
            .resolv_watch
            .as_ref()
            .map(|w| poller.register(w.as_raw_fd(), Interest::Read));
        let t_udp: Vec<_> = d
            .udp
            .iter()
            .map(|s| poller.register(s.as_raw_fd(), Interest::Read))
            .collect();
        let t_tcp: Vec<_> = d
            .tcp
            .iter()
            .map(|s| poller.register(s.as_raw_fd(), Interest::Read))
            .collect();
        let t_clients: Vec<_> = d
            .clients
            .iter()
            .filter_map(|(id, stream, c)| {
                let tcp::Wants { read, write } = c.wants();
                let interest = match (read, write) {
                    (true, true) => Interest::ReadWrite,
                    (true, false) => Interest::Read,
                    (false, true) => Interest::Write,
                    // Its queries are all in the core: nothing to do until they are answered.
                    (false, false) => return None,
                };
                Some((id, poller.register(stream.as_raw_fd(), interest)))
            })
            .collect();
        let t_epoll = poller.register(d.epoll.as_raw_fd(), Interest::Read);
        // The core's timers, the TCP clients' idle limit, the control clients', and the resolv
        // file's only while it cannot be watched: an idle daemon sleeps.
        let deadline = [
            d.core.poll_timeout(),
            ctx.control.next_deadline(),
            d.clients.next_deadline(),
            d.resolv_polled().then_some(d.resolv_checked + RESOLV_CHECK),
        ]
        .into_iter()
        .flatten()
        .min();
        poller
            .wait(poll::timeout_until(now, deadline))
            .map_err(|e| format!("poll: {e}"))?;
        let now = Instant::now();

        if poller.readable(t_signals) {
            while let Ok(Some(signal)) = ctx.signals.next() {
                match signal {
                    Signal::Terminate => {
                        log::info!("terminating");
                        return Ok(());
                    }
                    Signal::Reload => {
                        let _ = d.reload_logged();
                    }
                }
            }
        }
        let started = ctx.started;
        ctx.control.serve(&poller, &mut |command| match command {
            "status" => Some(d.status(started)),
            "reload" => Some(daemon::reload_reply(d.reload_logged())),
            _ => None,
        });
        ctx.follow_control_socket(&d.config.control_socket);
        if let Some(t) = t_resolv {
            if poller.readable(t) {
                d.resolv_changed();
            }
        }
        for (i, t) in t_udp.into_iter().enumerate() {
            if poller.readable(t) {
                d.read_udp_clients(i, now);
            }
        }
        for (i, t) in t_tcp.into_iter().enumerate() {
            if poller.readable(t) {
                d.accept(i, now);
            }
        }
        for (id, t) in t_clients {
            if poller.readable(t) || poller.writable(t) {
                d.tcp_client_io(id, now);
            }
        }
        if poller.readable(t_epoll) {
            d.upstream_ready(now);
        }
        d.core.handle_timeout(now);
        d.flush(now);
        // Idle (stalled mid-message, or not reading its answers) or done after a half-close.
        d.clients.expire(now);
        if d.resolv_polled() && now >= d.resolv_checked + RESOLV_CHECK {
            d.resolv_checked = now;
            if let Some(w) = &mut d.resolv_watch {
                w.complete();
            }
            d.refresh_upstreams(false);
        }
    }
}

fn listen_addrs(config: &Config) -> Vec<IpAddr> {
    if !config.listen.is_empty() {
        return config.listen.clone();
    }
    let from_env: Vec<IpAddr> = std::env::var("DNS64_LISTEN")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.split('%').next().and_then(|a| a.parse().ok()))
        .collect();
    if from_env.is_empty() {
        vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
    } else {
        from_env
    }
}

fn bind(config: &Config) -> Result<(Vec<UdpSocket>, Vec<TcpListener>), String> {
    sys::bind(&listen_addrs(config), config.port)
}

impl Daemon {
    fn read_udp_clients(&mut self, index: usize, now: Instant) {
        for _ in 0..BATCHES_PER_ROUND {
            let n = match self.batch.receive(self.udp[index].as_raw_fd()) {
                Ok(n) => n,
                Err(e) => {
                    log::debug!("UDP receive: {e}");
                    break;
                }
            };
            for i in 0..n {
                if let Some(addr) = self.batch.addrs[i] {
                    let client = Client::Udp {
                        socket: index as u16,
                        addr,
                        local: self.batch.locals[i],
                    };
                    self.core.handle_query(self.batch.datagram(i), client, now);
                }
            }
            self.flush(now);
            if n < BATCH {
                break;
            }
        }
    }

    fn accept(&mut self, index: usize, now: Instant) {
        while let Ok((stream, _)) = self.tcp[index].accept() {
            if stream.set_nonblocking(true).is_ok() {
                // All slots taken: the idlest connection made room, and closes when dropped.
                drop(self.clients.insert(stream, now));
            }
        }
    }

    fn tcp_client_io(&mut self, id: u64, now: Instant) {
        let Some((stream, c)) = self.clients.get_mut(id) else {
            return;
        };
        let mut failed = false;
        while c.wants().read {
            match stream.read(&mut self.buf) {
                Ok(0) => c.read_closed(),
                Ok(n) => {
                    c.received(&self.buf[..n], now);
                    while let Some(query) = c.next_query() {
                        self.core.handle_query(query, Client::Tcp { conn: id }, now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        match write_some(stream, c.unsent()) {
            Ok(n) => c.sent(n, now),
            Err(_) => failed = true,
        }
        if failed {
            // Reset: answers still pending for it are dropped in flush.
            self.clients.remove(id);
            return;
        }
        self.flush(now);
    }

    fn upstream_ready(&mut self, now: Instant) {
        let mut tokens = Vec::new();
        // Bounded: the other sockets get their turn after a few rounds.
        for _ in 0..8 {
            self.epoll.ready(&mut tokens);
            for &token in &tokens {
                self.upstream_io(token, now);
            }
            if tokens.len() < 128 {
                break;
            }
        }
    }

    fn upstream_io(&mut self, token: u64, now: Instant) {
        let Some(u) = self.upstream.get_mut(&token) else {
            return;
        };
        match u {
            Upstream::Udp(socket, _) => {
                // Connected: only the server's datagrams arrive here.
                if let Ok((n, from)) = socket.recv_from(&mut self.buf) {
                    self.core.handle_response(token, from, &self.buf[..n], now);
                }
            }
            Upstream::Tcp {
                stream,
                server,
                out,
                written,
                input,
            } => {
                if *written < out.len() {
                    match stream.write(&out[*written..]) {
                        Ok(n) => {
                            *written += n;
                            if *written == out.len() {
                                let _ =
                                    self.epoll
                                        .set(stream.as_raw_fd(), libc::EPOLLIN, token, true);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => {
                            // Connection refused or reset: the core's timer moves on to the next server.
                            self.upstream.remove(&token);
                        }
                    }
                    return;
                }
                let mut done = false;
                match stream.read(&mut self.buf) {
                    Ok(0) => done = true,
                    Ok(n) => input.push(&self.buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => done = true,
                }
                if let Some(message) = input.next_message() {
                    self.core.handle_response(token, *server, message, now);
                    done = true;
                }
                if done {
                    self.upstream.remove(&token);
                }
            }
        }
        self.flush(now);
    }

    /// Carries out what the core asked for.
    fn flush(&mut self, now: Instant) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::ToClient {
                    client:
                        Client::Udp {
                            socket,
                            addr,
                            local,
                        },
                    data,
                } => {
                    self.udp_out.push((socket, addr, local, data));
                }
                Output::ToClient {
                    client: Client::Tcp { conn },
                    data,
                } => {
                    if let Some((stream, c)) = self.clients.get_mut(conn) {
                        c.answer(&data);
                        let written = write_some(stream, c.unsent());
                        if let Ok(n) = written {
                            c.sent(n, now);
                        }
                        // A client that asks without reading its answers is dropped too.
                        if written.is_err() || c.overflowed() {
                            self.clients.remove(conn);
                        }
                    }
                    self.core.recycle(data);
                }
                Output::ToUpstream {
                    token,
                    server,
                    tcp,
                    data,
                } => {
                    if !tcp {
                        if let Some(u) = self.reuse_udp(token, server, &data) {
                            self.upstream.insert(token, u);
                            continue;
                        }
                    }
                    let result = if tcp {
                        tcp_connect(server).map(|stream| {
                            let mut out = Vec::new();
                            // The core's queries are small: the frame always fits.
                            let _ = tcp::frame(&mut out, &data);
                            Upstream::Tcp {
                                stream,
                                server,
                                out,
                                written: 0,
                                input: FrameDecoder::new(),
                            }
                        })
                    } else {
                        udp_query(server, &data).map(|s| Upstream::Udp(s, 1))
                    };
                    match result {
                        Ok(u) => {
                            let (fd, events) = match &u {
                                Upstream::Udp(s, _) => (s.as_raw_fd(), libc::EPOLLIN),
                                Upstream::Tcp { stream, .. } => {
                                    (stream.as_raw_fd(), libc::EPOLLOUT)
                                }
                            };
                            match self.epoll.set(fd, events, token, false) {
                                Ok(()) => {
                                    self.upstream.insert(token, u);
                                }
                                Err(e) => log::debug!("epoll: {e}"),
                            }
                        }
                        // The core's attempt timer moves on to the next server.
                        Err(e) => log::debug!("upstream {server}: {e}"),
                    }
                }
                Output::Close { token } => {
                    if let Some(Upstream::Udp(socket, uses)) = self.upstream.remove(&token) {
                        // Out of epoll while idle: a stray datagram must not wake us for nothing.
                        if uses < SOCKET_USES
                            && self.idle_count < MAX_IDLE_SOCKETS
                            && self.epoll.remove(socket.as_raw_fd()).is_ok()
                        {
                            if let Ok(server) = socket.peer_addr() {
                                self.idle.entry(server).or_default().push((socket, uses));
                                self.idle_count += 1;
                            }
                        }
                    }
                }
            }
        }
        self.send_udp();
    }

    fn send_udp(&mut self) {
        if self.udp_out.is_empty() {
            return;
        }
        let mut out = std::mem::take(&mut self.udp_out);
        // Nearly always one listening socket per family: group by socket, keep the order.
        out.sort_by_key(|a| a.0);
        for group in out.chunk_by(|a, b| a.0 == b.0) {
            if let Some(s) = self.udp.get(group[0].0 as usize) {
                sys::send_batch(s.as_raw_fd(), group);
            }
        }
        for (_, _, _, data) in out.drain(..) {
            self.core.recycle(data);
        }
        self.udp_out = out;
    }

    /// An idle connected socket to `server` carries the query under its new token.
    fn reuse_udp(&mut self, token: u64, server: SocketAddr, data: &[u8]) -> Option<Upstream> {
        let (socket, uses) = self.idle.get_mut(&server)?.pop()?;
        self.idle_count -= 1;
        // Whatever arrived while the socket sat idle (late answers, or forged ones sent ahead
        // to wait for the next ID) must not be read as an answer to the new query.
        self.stale_datagrams += drain_stale(&socket);
        self.epoll
            .set(socket.as_raw_fd(), libc::EPOLLIN, token, false)
            .ok()?;
        socket.send(data).ok()?;
        Some(Upstream::Udp(socket, uses + 1))
    }

    fn reload_logged(&mut self) -> Result<(), String> {
        daemon::log_reload(self.reload())
    }

    /// SIGHUP or `reload`: a new config, the cache kept. On an error the old config stays.
    /// A new `control_socket` is the loop's to bind.
    fn reload(&mut self) -> Result<(), String> {
        let config = Config::load(&self.config_path)?;
        for w in &config.warnings {
            log::warn!("{w}");
        }
        if config.listen != self.config.listen || config.port != self.config.port {
            let (udp, tcp) = bind(&config).map_err(|e| format!("{e}; the old sockets stay"))?;
            self.udp = udp;
            self.tcp = tcp;
        }
        self.core.reconfigure(config.core.clone());
        self.config = config;
        self.resolv_seen = None;
        self.watch_resolv();
        self.refresh_upstreams(true);
        log::info!(
            "reloaded: prefix {}, upstreams {:?}, cache kept ({} entries)",
            self.config.core.prefix,
            self.core.upstreams(),
            self.core.cache_entries()
        );
        Ok(())
    }

    /// Watches the resolv file when it is the upstreams' source.
    fn watch_resolv(&mut self) {
        self.resolv_watch = None;
        if self.config.upstreams.is_none() {
            match FileWatch::new(&self.config.resolv_file) {
                Ok(w) => self.resolv_watch = Some(w),
                Err(e) => log::warn!(
                    "{}: cannot watch ({e}); looking every {} s",
                    self.config.resolv_file.display(),
                    RESOLV_CHECK.as_secs()
                ),
            }
        }
    }

    /// Whether the resolv file must be looked at now and then: it is the source, and its
    /// directory is not watched (yet).
    fn resolv_polled(&self) -> bool {
        self.config.upstreams.is_none()
            && !self
                .resolv_watch
                .as_ref()
                .is_some_and(FileWatch::is_complete)
    }

    fn resolv_changed(&mut self) {
        let Some(watch) = &mut self.resolv_watch else {
            return;
        };
        match watch.changed() {
            Ok(true) => self.refresh_upstreams(false),
            Ok(false) => {}
            Err(e) => {
                log::warn!("{}: watch: {e}", self.config.resolv_file.display());
                self.resolv_watch = None;
            }
        }
    }

    /// UCI upstreams, or the resolv file's when it changed (mtime or size).
    fn refresh_upstreams(&mut self, force: bool) {
        if let Some(list) = &self.config.upstreams {
            if force {
                self.core.set_upstreams(list.clone());
            }
            return;
        }
        let meta = std::fs::metadata(&self.config.resolv_file).ok();
        let seen = meta
            .as_ref()
            .and_then(|m| m.modified().ok().map(|t| (t, m.len())));
        if !force && seen == self.resolv_seen {
            return;
        }
        self.resolv_seen = seen;
        let text = std::fs::read_to_string(&self.config.resolv_file).unwrap_or_default();
        let own: Vec<SocketAddr> = self
            .udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect();
        let list = config::parse_resolv_conf(&text, &own, &sys::if_index);
        if list.is_empty() {
            log::warn!(
                "no upstream in {}: answering SERVFAIL until there is one",
                self.config.resolv_file.display()
            );
        }
        if list != self.core.upstreams() {
            log::info!(
                "upstreams from {}: {:?}",
                self.config.resolv_file.display(),
                list
            );
        }
        self.core.set_upstreams(list);
    }

    fn status(&self, started: Instant) -> String {
        let mut j = daemon::status_object(&DAEMON.program, started);
        self.core.write_status(&mut j);
        j.field_u64("stale_datagrams", self.stale_datagrams)
            .field_u64("tcp_clients", self.clients.len() as u64);
        j.finish()
    }
}
