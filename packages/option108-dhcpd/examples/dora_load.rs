//! DORA load generator for bench/option108-dhcpd.sh: drives any DHCPv4 server on a link with
//! full DISCOVER/OFFER/REQUEST/ACK exchanges from unique clients, many in flight, and prints
//! how many leases per second it got.
//!
//!   dora_load --iface DEV [--count N | --duration S] [--window W] [--base B]
//!             [--timeout-ms T] [--tries K] [--quiet]
//!
//! One UDP socket on 0.0.0.0:68 bound to DEV (SO_BROADCAST, SO_BINDTODEVICE). Client `i` has
//! chaddr 02:6c:(B+i as 4 octets) and client identifier 1 + that MAC. Every request carries
//! the broadcast flag: this client has no address, so a reply unicast to yiaddr (with the
//! fake chaddr as Ethernet destination) could never reach a UDP socket here; with the flag
//! both option108-dhcpd and Kea send OFFER/ACK/NAK to 255.255.255.255:68, which the socket
//! receives. A server that unicast anyway would show up as timeouts, never as leases.
//!
//! W transactions are kept in flight. The REQUEST reuses the OFFER's xid (RFC 2131 §4.4.1),
//! so one xid names one client's whole exchange; its low bits are the slot index, which
//! makes matching a reply O(1). A reply is checked before it counts: BOOTREPLY, known xid,
//! same chaddr, an OFFER only in SELECTING (nonzero yiaddr, a server identifier), an ACK only
//! in REQUESTING and for the offered address. Each ACKed address is also checked against all
//! earlier ones (`dup_addr` counts an address given twice). A message unanswered after T ms
//! is sent again, at most K times in all; then the client is abandoned (`timeouts`).
//!
//! I/O is batched (recvmmsg/sendmmsg, 64 messages per call) and nothing is allocated per
//! message, so the generator's own work is under a microsecond of user CPU per lease; it
//! prints its CPU per lease so a run can show it was not the bottleneck.
//!
//! The last line is `leases=N naks=N timeouts=N retransmits=N stale=N bad=N dup_addr=N
//! elapsed=S rate=R p50_ms=X p99_ms=X client_cpu_us=X client_user_us=X`: elapsed runs from
//! the first DISCOVER to the last ACK, rate is leases / elapsed, p50/p99 are DORA times, and
//! the CPU figures are this process's per lease (all, and user space alone: the rest is the
//! kernel's network path, which over a veth includes the server's receive side).

use option108_dhcpd::sys::DhcpSocket;
use option108_dhcpd::wire::{self, opt, MessageType, Options, Packet};
use std::collections::HashSet;
use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::process::exit;
use std::time::{Duration, Instant};

/// Messages per recvmmsg/sendmmsg call.
const BATCH: usize = 64;
const RX_LEN: usize = 1500;
/// Our requests are padded to the BOOTP minimum, as dhclient's and most clients' are.
const TX_LEN: usize = wire::MIN_REPLY_LEN;
/// How often in-flight transactions are checked for a timeout.
const SCAN_EVERY: Duration = Duration::from_millis(5);
/// Parameter request list: what a typical client asks for (no 108: every client wants IPv4).
const PRL: [u8; 6] = [
    opt::SUBNET_MASK,
    opt::ROUTER,
    opt::DNS_SERVERS,
    opt::DOMAIN_NAME,
    opt::LEASE_TIME,
    opt::SERVER_ID,
];

struct Args {
    iface: String,
    count: u64,
    duration: Option<Duration>,
    window: usize,
    base: u32,
    timeout: Duration,
    tries: u8,
    quiet: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: dora_load --iface DEV [--count N | --duration SECONDS] [--window W] [--base B]\n\
         \x20                [--timeout-ms T] [--tries K] [--quiet]"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        iface: String::new(),
        count: 10_000,
        duration: None,
        window: 128,
        base: 1,
        timeout: Duration::from_millis(1000),
        tries: 3,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--quiet" {
            a.quiet = true;
            continue;
        }
        let Some(value) = it.next() else { usage() };
        fn num<T: std::str::FromStr>(flag: &str, v: &str) -> T {
            v.parse().unwrap_or_else(|_| {
                eprintln!("dora_load: {flag}: not a number: {v}");
                exit(2)
            })
        }
        match flag.as_str() {
            "--iface" => a.iface = value,
            "--count" => a.count = num(&flag, &value),
            "--duration" => a.duration = Some(Duration::from_secs_f64(num(&flag, &value))),
            "--window" => a.window = num(&flag, &value),
            "--base" => a.base = num(&flag, &value),
            "--timeout-ms" => a.timeout = Duration::from_millis(num(&flag, &value)),
            "--tries" => a.tries = num(&flag, &value),
            _ => usage(),
        }
    }
    if a.iface.is_empty() || a.window == 0 || a.window > 1 << 16 || a.tries == 0 {
        usage()
    }
    if a.duration.is_some() {
        // A duration bounds the run; the count is only a ceiling then.
        a.count = u64::from(u32::MAX - a.base);
    }
    if a.count > u64::from(u32::MAX - a.base) + 1 {
        eprintln!("dora_load: --base + --count exceeds 2^32 clients");
        exit(2)
    }
    a
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    /// DISCOVER sent, waiting for an OFFER.
    Selecting,
    /// REQUEST sent for `offered`, waiting for the ACK.
    Requesting,
}

#[derive(Clone, Copy)]
struct Slot {
    state: State,
    xid: u32,
    client: u32,
    tries: u8,
    started: Instant,
    sent: Instant,
    offered: [u8; 4],
    server_id: [u8; 4],
}

#[derive(Default)]
struct Counters {
    leases: u64,
    naks: u64,
    timeouts: u64,
    retransmits: u64,
    /// Replies for a transaction that is over or in another state (a duplicate OFFER after
    /// a retransmitted DISCOVER, say): ignored.
    stale: u64,
    /// Replies that fail a check (unparsable, wrong chaddr, no server id, other address).
    bad: u64,
    dup_addr: u64,
}

fn mac_of(client: u32) -> [u8; 6] {
    let c = client.to_be_bytes();
    [0x02, 0x6c, c[0], c[1], c[2], c[3]]
}

/// Writes a client message (broadcast flag set) into `buf`, padded to TX_LEN.
fn build(buf: &mut [u8; TX_LEN], kind: MessageType, slot: &Slot) {
    let mac = mac_of(slot.client);
    buf.fill(0);
    buf[0] = wire::BOOTREQUEST;
    buf[1] = 1; // Ethernet
    buf[2] = 6;
    buf[4..8].copy_from_slice(&slot.xid.to_be_bytes());
    buf[10..12].copy_from_slice(&wire::FLAG_BROADCAST.to_be_bytes());
    buf[28..34].copy_from_slice(&mac);
    buf[236..240].copy_from_slice(&wire::MAGIC_COOKIE);
    let mut at = wire::HEADER_LEN;
    let mut put = |code: u8, value: &[u8]| {
        buf[at] = code;
        buf[at + 1] = value.len() as u8;
        buf[at + 2..at + 2 + value.len()].copy_from_slice(value);
        at += 2 + value.len();
    };
    put(opt::MESSAGE_TYPE, &[kind as u8]);
    let mut client_id = [1u8; 7];
    client_id[1..].copy_from_slice(&mac);
    put(opt::CLIENT_ID, &client_id);
    if kind == MessageType::Request {
        // SELECTING (RFC 2131 §4.3.2): the chosen server and the offered address.
        put(opt::SERVER_ID, &slot.server_id);
        put(opt::REQUESTED_IP, &slot.offered);
    }
    put(opt::PARAMETER_REQUEST_LIST, &PRL);
    buf[at] = opt::END;
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Batched socket I/O. The message headers point into boxed buffers, which keep their
/// addresses when this struct moves.
struct Io {
    fd: libc::c_int,
    rx: Box<[[u8; RX_LEN]; BATCH]>,
    rx_iov: Box<[libc::iovec; BATCH]>,
    rx_hdr: Box<[libc::mmsghdr; BATCH]>,
    tx: Box<[[u8; TX_LEN]; BATCH]>,
    tx_iov: Box<[libc::iovec; BATCH]>,
    tx_hdr: Box<[libc::mmsghdr; BATCH]>,
    tx_queued: usize,
    _to: Box<libc::sockaddr_in>,
}

impl Io {
    fn new(fd: libc::c_int) -> Io {
        // SAFETY: all-zero is a valid value of these plain C structs.
        let zero_iov: libc::iovec = unsafe { mem::zeroed() };
        let zero_hdr: libc::mmsghdr = unsafe { mem::zeroed() };
        let mut to: Box<libc::sockaddr_in> = Box::new(unsafe { mem::zeroed() });
        to.sin_family = libc::AF_INET as libc::sa_family_t;
        to.sin_port = wire::SERVER_PORT.to_be();
        to.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::BROADCAST).to_be();
        let mut io = Io {
            fd,
            rx: Box::new([[0; RX_LEN]; BATCH]),
            rx_iov: Box::new([zero_iov; BATCH]),
            rx_hdr: Box::new([zero_hdr; BATCH]),
            tx: Box::new([[0; TX_LEN]; BATCH]),
            tx_iov: Box::new([zero_iov; BATCH]),
            tx_hdr: Box::new([zero_hdr; BATCH]),
            tx_queued: 0,
            _to: to,
        };
        for i in 0..BATCH {
            io.rx_iov[i].iov_base = io.rx[i].as_mut_ptr().cast();
            io.rx_iov[i].iov_len = RX_LEN;
            io.rx_hdr[i].msg_hdr.msg_iov = &mut io.rx_iov[i];
            io.rx_hdr[i].msg_hdr.msg_iovlen = 1;
            io.tx_iov[i].iov_base = io.tx[i].as_mut_ptr().cast();
            io.tx_iov[i].iov_len = TX_LEN;
            io.tx_hdr[i].msg_hdr.msg_iov = &mut io.tx_iov[i];
            io.tx_hdr[i].msg_hdr.msg_iovlen = 1;
            io.tx_hdr[i].msg_hdr.msg_name = (&mut *io._to as *mut libc::sockaddr_in).cast();
            io.tx_hdr[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in>() as _;
        }
        io
    }

    /// Up to BATCH waiting datagrams; 0 when none.
    fn recv(&mut self) -> io::Result<usize> {
        // SAFETY: the headers describe BATCH valid buffers of RX_LEN octets.
        let n = unsafe {
            libc::recvmmsg(
                self.fd,
                self.rx_hdr.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        match check(n) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn received(&self, i: usize) -> &[u8] {
        let len = (self.rx_hdr[i].msg_len as usize).min(RX_LEN);
        &self.rx[i][..len]
    }

    /// A buffer for the next message to send; flushes first when the batch is full.
    fn queue(&mut self) -> io::Result<&mut [u8; TX_LEN]> {
        if self.tx_queued == BATCH {
            self.flush()?;
        }
        self.tx_queued += 1;
        Ok(&mut self.tx[self.tx_queued - 1])
    }

    /// Sends everything queued, waiting for room in the socket buffer if need be.
    fn flush(&mut self) -> io::Result<()> {
        let mut sent = 0;
        while sent < self.tx_queued {
            // SAFETY: headers sent..tx_queued describe filled buffers and the address.
            let n = unsafe {
                libc::sendmmsg(
                    self.fd,
                    self.tx_hdr[sent..].as_mut_ptr(),
                    (self.tx_queued - sent) as _,
                    libc::MSG_DONTWAIT as _,
                )
            };
            match check(n) {
                Ok(n) => sent += n as usize,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    let mut pfd = libc::pollfd {
                        fd: self.fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, 10) };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.tx_queued = 0;
        Ok(())
    }
}

struct Load {
    args: Args,
    slots: Vec<Slot>,
    free: Vec<usize>,
    slot_bits: u32,
    /// Transactions started so far; the high bits of the next xid.
    sequence: u32,
    next_client: u64,
    in_flight: usize,
    counters: Counters,
    addresses: HashSet<u32>,
    /// DORA times in microseconds, one per lease.
    latencies: Vec<u32>,
    start: Instant,
    last_ack: Instant,
    starting: bool,
}

impl Load {
    fn new(args: Args) -> Load {
        let size = args.window.next_power_of_two();
        let now = Instant::now();
        let empty = Slot {
            state: State::Free,
            xid: 0,
            client: 0,
            tries: 0,
            started: now,
            sent: now,
            offered: [0; 4],
            server_id: [0; 4],
        };
        let expect = args.count.min(1 << 20) as usize;
        Load {
            slots: vec![empty; size],
            free: (0..args.window).rev().collect(),
            slot_bits: size.trailing_zeros(),
            // Differs between runs, so a late reply to an earlier run never matches.
            sequence: std::process::id().wrapping_mul(2_654_435_761),
            next_client: 0,
            in_flight: 0,
            counters: Counters::default(),
            addresses: HashSet::with_capacity(expect),
            latencies: Vec::with_capacity(expect),
            start: now,
            last_ack: now,
            starting: true,
            args,
        }
    }

    /// Starts new clients until the window is full (or the run is over).
    fn fill(&mut self, io: &mut Io, now: Instant) -> io::Result<()> {
        if let Some(d) = self.args.duration {
            if now.duration_since(self.start) >= d {
                self.starting = false;
            }
        }
        while self.starting && self.in_flight < self.args.window {
            if self.next_client >= self.args.count {
                self.starting = false;
                break;
            }
            let index = self.free.pop().expect("a free slot below the window");
            self.sequence = self.sequence.wrapping_add(1);
            let slot = &mut self.slots[index];
            *slot = Slot {
                state: State::Selecting,
                xid: (self.sequence << self.slot_bits) | index as u32,
                client: self.args.base.wrapping_add(self.next_client as u32),
                tries: 1,
                started: now,
                sent: now,
                offered: [0; 4],
                server_id: [0; 4],
            };
            self.next_client += 1;
            self.in_flight += 1;
            build(io.queue()?, MessageType::Discover, slot);
        }
        Ok(())
    }

    fn finish(&mut self, index: usize) {
        self.slots[index].state = State::Free;
        self.free.push(index);
        self.in_flight -= 1;
    }

    fn reply(&mut self, io: &mut Io, i: usize, now: Instant) -> io::Result<()> {
        let Ok(packet) = Packet::new_checked(io.received(i)) else {
            self.counters.bad += 1;
            return Ok(());
        };
        if packet.op() != wire::BOOTREPLY {
            self.counters.bad += 1;
            return Ok(());
        }
        let index = (packet.xid() & ((1 << self.slot_bits) - 1)) as usize;
        let slot = self.slots[index];
        if slot.state == State::Free || slot.xid != packet.xid() {
            self.counters.stale += 1;
            return Ok(());
        }
        if packet.chaddr()[..6] != mac_of(slot.client) {
            self.counters.bad += 1;
            return Ok(());
        }
        let mut kind = None;
        let mut server_id = None;
        for item in Options::new(packet.options()) {
            match item {
                Ok((opt::MESSAGE_TYPE, [t])) => kind = MessageType::from_u8(*t),
                Ok((opt::SERVER_ID, &[a, b, c, d])) => server_id = Some([a, b, c, d]),
                Ok(_) => {}
                Err(_) => {
                    self.counters.bad += 1;
                    return Ok(());
                }
            }
        }
        let yiaddr = packet.yiaddr().octets();
        match (kind, slot.state) {
            (Some(MessageType::Offer), State::Selecting) => {
                let Some(server_id) = server_id.filter(|_| yiaddr != [0; 4]) else {
                    self.counters.bad += 1;
                    return Ok(());
                };
                let slot = &mut self.slots[index];
                slot.state = State::Requesting;
                slot.offered = yiaddr;
                slot.server_id = server_id;
                slot.tries = 1;
                slot.sent = now;
                build(io.queue()?, MessageType::Request, slot);
            }
            (Some(MessageType::Ack), State::Requesting) => {
                if yiaddr != slot.offered {
                    self.counters.bad += 1;
                    return Ok(());
                }
                self.counters.leases += 1;
                if !self.addresses.insert(u32::from_be_bytes(yiaddr)) {
                    self.counters.dup_addr += 1;
                }
                let micros = now.duration_since(slot.started).as_micros();
                self.latencies.push(micros.min(u32::MAX as u128) as u32);
                self.last_ack = now;
                self.finish(index);
            }
            (Some(MessageType::Nak), State::Requesting) => {
                self.counters.naks += 1;
                self.finish(index);
            }
            _ => self.counters.stale += 1,
        }
        Ok(())
    }

    /// Retransmits what went unanswered for the timeout; abandons after `tries` sends.
    fn scan(&mut self, io: &mut Io, now: Instant) -> io::Result<()> {
        for index in 0..self.slots.len() {
            let slot = self.slots[index];
            if slot.state == State::Free || now.duration_since(slot.sent) < self.args.timeout {
                continue;
            }
            if slot.tries >= self.args.tries {
                self.counters.timeouts += 1;
                self.finish(index);
                continue;
            }
            self.counters.retransmits += 1;
            let slot = &mut self.slots[index];
            slot.tries += 1;
            slot.sent = now;
            let kind = if slot.state == State::Selecting {
                MessageType::Discover
            } else {
                MessageType::Request
            };
            build(io.queue()?, kind, slot);
        }
        Ok(())
    }

    fn run(&mut self, io: &mut Io) -> io::Result<()> {
        self.start = Instant::now();
        self.last_ack = self.start;
        let mut last_scan = self.start;
        self.fill(io, self.start)?;
        io.flush()?;
        while self.starting || self.in_flight > 0 {
            let mut pfd = libc::pollfd {
                fd: io.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, SCAN_EVERY.as_millis() as i32) };
            if ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(io::Error::last_os_error());
            }
            loop {
                let n = io.recv()?;
                let now = Instant::now();
                for i in 0..n {
                    self.reply(io, i, now)?;
                }
                self.fill(io, now)?;
                io.flush()?;
                if n < BATCH {
                    break;
                }
            }
            let now = Instant::now();
            if now.duration_since(last_scan) >= SCAN_EVERY {
                last_scan = now;
                self.scan(io, now)?;
                self.fill(io, now)?;
                io.flush()?;
            }
        }
        Ok(())
    }
}

/// This process's (user, system) CPU time.
fn cpu_time() -> (Duration, Duration) {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

fn main() {
    let args = parse_args();
    let socket = match DhcpSocket::bind(&args.iface, wire::CLIENT_PORT) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dora_load: socket on {} port 68: {e}", args.iface);
            exit(1)
        }
    };
    let fd = socket.as_raw_fd();
    // Room for a full window of replies even when this process is descheduled for a while.
    // SO_*BUFFORCE needs CAP_NET_ADMIN; without it the plain options are capped by sysctl.
    let size: libc::c_int = 8 << 20;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        // SAFETY: setsockopt with an int.
        unsafe {
            let p = (&size as *const libc::c_int).cast();
            let len = mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::setsockopt(fd, libc::SOL_SOCKET, force, p, len) < 0 {
                libc::setsockopt(fd, libc::SOL_SOCKET, plain, p, len);
            }
        }
    }
    let quiet = args.quiet;
    let (window, tries, timeout) = (args.window, args.tries, args.timeout);
    let mut io = Io::new(fd);
    let mut load = Load::new(args);
    let cpu0 = cpu_time();
    if let Err(e) = load.run(&mut io) {
        eprintln!("dora_load: {e}");
        exit(1)
    }
    let cpu1 = cpu_time();
    let (user, system) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let total = load.start.elapsed();
    let elapsed = load.last_ack.duration_since(load.start).as_secs_f64();
    let c = &load.counters;
    let rate = if elapsed > 0.0 {
        c.leases as f64 / elapsed
    } else {
        0.0
    };
    load.latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if load.latencies.is_empty() {
            return 0.0;
        }
        let i = ((load.latencies.len() - 1) as f64 * p).round() as usize;
        load.latencies[i] as f64 / 1000.0
    };
    let per_lease = |d: Duration| {
        if c.leases > 0 {
            d.as_secs_f64() * 1e6 / c.leases as f64
        } else {
            0.0
        }
    };
    if !quiet {
        eprintln!(
            "dora_load: {} clients started, window {window}, {} tries of {} ms; run took {:.3} s",
            load.next_client,
            tries,
            timeout.as_millis(),
            total.as_secs_f64()
        );
    }
    println!(
        "leases={} naks={} timeouts={} retransmits={} stale={} bad={} dup_addr={} elapsed={:.3} \
         rate={:.0} p50_ms={:.2} p99_ms={:.2} client_cpu_us={:.1} client_user_us={:.1}",
        c.leases,
        c.naks,
        c.timeouts,
        c.retransmits,
        c.stale,
        c.bad,
        c.dup_addr,
        elapsed,
        rate,
        percentile(0.5),
        percentile(0.99),
        per_lease(user + system),
        per_lease(user),
    );
}
