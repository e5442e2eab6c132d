//! DNS over TCP, sans-IO: the two-byte length prefix of RFC 1035 §4.2.2 (written by
//! [`frame`], read by [`FrameDecoder`], for clients and upstreams alike) and the RFC 7766
//! policy for client connections ([`Connection`], [`Connections`]): how many pipelined
//! queries one client has in the core at a time, answering what a half-closed client asked
//! before closing, the idle timeout, a bound on unread answers, and which connection makes
//! room when all slots are taken. The driver owns the streams and moves bytes; what to do
//! with them is decided here, with time passed in.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// Length of the prefix in front of every message on a TCP stream.
pub const PREFIX_LEN: usize = 2;
/// Client connections at a time; one more makes the idlest go (RFC 7766 §6.2.3).
pub const MAX_CLIENTS: usize = 64;
/// Queries of one connection in the core at a time: more pipelined ones wait in its socket
/// (RFC 7766 §6.2.1.1 asks servers to process pipelined queries concurrently, not without
/// bound).
pub const MAX_PIPELINED: usize = 32;
/// Answers a client has not read yet, per connection: past this it is dropped. With
/// [`MAX_CLIENTS`], it bounds the memory of TCP clients at 64 x 2 x 128 KiB.
pub const MAX_UNSENT: usize = 128 * 1024;
/// A connection that neither sends us bytes nor takes ours for this long is closed
/// (RFC 7766 §6.2.3: servers may close idle connections; a few seconds is its suggestion).
pub const IDLE: Duration = Duration::from_secs(10);

/// A message longer than a length prefix can say (65,535 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("message longer than 65535 bytes")
    }
}

/// Appends `message` to `out` behind its length prefix; `out` is unchanged when it is too
/// long.
pub fn frame(out: &mut Vec<u8>, message: &[u8]) -> Result<(), TooLong> {
    let len = u16::try_from(message.len()).map_err(|_| TooLong)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    Ok(())
}

/// Reassembles length-prefixed messages from the bytes of a stream, as they come. Holds at
/// most what was pushed and not taken yet; messages are handed out borrowed, not copied.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Where the first message not taken yet starts.
    start: usize,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// More bytes of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, if one is there.
    pub fn next_message(&mut self) -> Option<&[u8]> {
        let rest = &self.buf[self.start..];
        let prefix = rest.get(..PREFIX_LEN)?;
        let len = u16::from_be_bytes([prefix[0], prefix[1]]) as usize;
        rest.get(PREFIX_LEN..PREFIX_LEN + len)?;
        let at = self.start + PREFIX_LEN;
        self.start = at + len;
        Some(&self.buf[at..at + len])
    }

    /// Bytes pushed and not taken as part of a message yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// What the driver waits for on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wants {
    pub read: bool,
    pub write: bool,
}

/// One client connection's state: the queries coming in, the answers going out, and the
/// policy that decides when to read, when it is done and when it has idled too long.
#[derive(Debug)]
pub struct Connection {
    input: FrameDecoder,
    out: Vec<u8>,
    /// Last time it sent us bytes or took some of ours.
    last_active: Instant,
    /// It half-closed (RFC 7766 §6.2.4 lets clients do so): answer what it asked, then close.
    read_closed: bool,
    /// Queries handed to the core and not answered yet (the core drops a few malformed ones
    /// silently: the idle timeout ends such a connection).
    awaiting: usize,
}

impl Connection {
    pub fn new(now: Instant) -> Connection {
        Connection {
            input: FrameDecoder::new(),
            out: Vec::new(),
            last_active: now,
            read_closed: false,
            awaiting: 0,
        }
    }

    /// What to wait for: no reading while its pipelined queries fill the core's share or
    /// after a half-close, no writing with nothing to write. Neither: it waits for the core.
    pub fn wants(&self) -> Wants {
        Wants {
            read: !self.read_closed && self.awaiting < MAX_PIPELINED,
            write: !self.out.is_empty(),
        }
    }

    /// Bytes it sent.
    pub fn received(&mut self, bytes: &[u8], now: Instant) {
        if !bytes.is_empty() {
            self.last_active = now;
            self.input.push(bytes);
        }
    }

    /// It closed its side (a read of 0 bytes): the queries already received are answered.
    pub fn read_closed(&mut self) {
        self.read_closed = true;
    }

    /// The next query it sent in full, counted as awaiting its answer.
    pub fn next_query(&mut self) -> Option<&[u8]> {
        let query = self.input.next_message()?;
        self.awaiting += 1;
        Some(query)
    }

    /// The core's answer to one of its queries, queued behind a length prefix (one longer
    /// than that can say, which the core does not make, is dropped).
    pub fn answer(&mut self, message: &[u8]) {
        self.awaiting = self.awaiting.saturating_sub(1);
        let _ = frame(&mut self.out, message);
    }

    /// It has more answers waiting for it than [`MAX_UNSENT`]: it asks without reading, and
    /// is to be closed.
    pub fn overflowed(&self) -> bool {
        self.out.len() > MAX_UNSENT
    }

    /// What is to be written to it.
    pub fn unsent(&self) -> &[u8] {
        &self.out
    }

    /// `n` bytes of [`Connection::unsent`] were written.
    pub fn sent(&mut self, n: usize, now: Instant) {
        if n > 0 {
            self.out.drain(..n.min(self.out.len()));
            self.last_active = now;
        }
    }

    /// When it will have idled too long, stalled mid-message or not reading its answers.
    pub fn deadline(&self) -> Instant {
        self.last_active + IDLE
    }

    /// Done: it half-closed and has all its answers.
    pub fn finished(&self) -> bool {
        self.read_closed && self.awaiting == 0 && self.out.is_empty()
    }

    /// Whether it is to be closed now: idle too long, or finished.
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.deadline() || self.finished()
    }
}

/// The client connections, each with the driver's stream `S`, by an id that is never reused
/// (so a late answer cannot reach the wrong client).
#[derive(Debug)]
pub struct Connections<S> {
    map: HashMap<u64, (S, Connection)>,
    next_id: u64,
    max: usize,
}

impl<S> Default for Connections<S> {
    fn default() -> Connections<S> {
        Connections::new(MAX_CLIENTS)
    }
}

impl<S> Connections<S> {
    pub fn new(max: usize) -> Connections<S> {
        Connections {
            map: HashMap::new(),
            next_id: 1,
            max: max.max(1),
        }
    }

    /// A new connection; returns its id and, when all slots were taken, the stream of the
    /// idlest one, which made room (least recently active, the oldest of equals).
    pub fn insert(&mut self, stream: S, now: Instant) -> (u64, Option<S>) {
        let mut evicted = None;
        if self.map.len() >= self.max {
            let idlest = self
                .map
                .iter()
                .min_by_key(|(&id, (_, c))| (c.last_active, id))
                .map(|(&id, _)| id);
            evicted = idlest.and_then(|id| self.map.remove(&id)).map(|(s, _)| s);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.map.insert(id, (stream, Connection::new(now)));
        (id, evicted)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<(&mut S, &mut Connection)> {
        self.map.get_mut(&id).map(|(s, c)| (s, c))
    }

    pub fn remove(&mut self, id: u64) -> Option<S> {
        self.map.remove(&id).map(|(s, _)| s)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &S, &Connection)> {
        self.map.iter().map(|(&id, (s, c))| (id, s, c))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The earliest idle deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.map.values().map(|(_, c)| c.deadline()).min()
    }

    /// Drops the connections that idled too long or are finished.
    pub fn expire(&mut self, now: Instant) {
        self.map.retain(|_, (_, c)| !c.expired(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed<M: AsRef<[u8]>>(messages: &[M]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in messages {
            frame(&mut out, m.as_ref()).unwrap();
        }
        out
    }

    #[test]
    fn frames_carry_a_big_endian_length() {
        assert_eq!(framed(&[b"abc"]), [0, 3, b'a', b'b', b'c']);
        let big = vec![7u8; 300];
        assert_eq!(framed(&[&big])[..2], [1, 44]);
        let mut out = vec![9];
        assert_eq!(frame(&mut out, &vec![0; 65536]), Err(TooLong));
        assert_eq!(out, [9]);
        assert!(frame(&mut out, &vec![0; 65535]).is_ok());
    }

    #[test]
    fn the_decoder_splits_pipelined_messages_and_keeps_a_partial_one() {
        let mut d = FrameDecoder::new();
        d.push(&[0, 2, b'a', b'b', 0, 1, b'c', 0, 3, b'd']);
        assert_eq!(d.next_message(), Some(&b"ab"[..]));
        assert_eq!(d.next_message(), Some(&b"c"[..]));
        assert_eq!(d.next_message(), None);
        assert_eq!(d.buffered(), 3);
        d.push(b"ef");
        assert_eq!(d.next_message(), Some(&b"def"[..]));
        assert_eq!(d.next_message(), None);
        assert_eq!(d.buffered(), 0);
        // A prefix split across reads, and an empty message.
        d.push(&[0]);
        assert_eq!(d.next_message(), None);
        d.push(&[0, 0, 1]);
        assert_eq!(d.next_message(), Some(&b""[..]));
        assert_eq!(d.next_message(), None);
        d.push(b"x");
        assert_eq!(d.next_message(), Some(&b"x"[..]));
        d.push(&[1, 0]);
        d.push(&[b'y'; 255]);
        assert_eq!(d.next_message(), None);
        d.push(b"y");
        assert_eq!(d.next_message().map(<[u8]>::len), Some(256));
    }

    #[test]
    fn the_decoder_reads_byte_by_byte_what_frame_wrote() {
        let messages: [&[u8]; 3] = [b"one", &[0xAB; 1000], b"three"];
        let stream = framed(&messages);
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in &stream {
            d.push(std::slice::from_ref(b));
            while let Some(m) = d.next_message() {
                got.push(m.to_vec());
            }
        }
        assert_eq!(got, messages.map(<[u8]>::to_vec));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn pipelined_queries_stop_the_reading_at_the_cap_until_answered() {
        let t0 = Instant::now();
        let mut c = Connection::new(t0);
        let queries = vec![b"q"; MAX_PIPELINED + 3];
        c.received(&framed(&queries), t0);
        let mut taken = 0;
        while c.next_query().is_some() {
            taken += 1;
        }
        // Queries that came in one read are all taken; reading more waits.
        assert_eq!(taken, MAX_PIPELINED + 3);
        assert_eq!(
            c.wants(),
            Wants {
                read: false,
                write: false
            }
        );
        for _ in 0..4 {
            c.answer(b"a");
        }
        assert_eq!(
            c.wants(),
            Wants {
                read: true,
                write: true
            }
        );
        assert_eq!(c.unsent(), framed(&[b"a"; 4]));
    }

    #[test]
    fn a_half_closed_client_gets_its_answers_then_is_done() {
        let t0 = Instant::now();
        let mut c = Connection::new(t0);
        c.received(&framed(&[b"q1", b"q2"]), t0);
        c.read_closed();
        assert!(c.next_query().is_some() && c.next_query().is_some());
        assert!(!c.wants().read && !c.finished());
        c.answer(b"a1");
        c.answer(b"a2");
        assert!(!c.finished() && c.wants().write);
        let n = c.unsent().len();
        c.sent(n - 1, t0);
        assert!(!c.finished());
        c.sent(1, t0);
        assert!(c.finished() && c.expired(t0));
    }

    #[test]
    fn activity_postpones_the_idle_timeout() {
        let t0 = Instant::now();
        let mut c = Connection::new(t0);
        assert_eq!(c.deadline(), t0 + IDLE);
        let t1 = t0 + Duration::from_secs(4);
        // A byte of a message still counts as activity; a write of nothing does not.
        c.received(&[0], t1);
        c.sent(0, t1 + Duration::from_secs(3));
        assert_eq!(c.deadline(), t1 + IDLE);
        assert!(!c.expired(t1 + IDLE - Duration::from_millis(1)));
        assert!(c.expired(t1 + IDLE));
        c.received(&[5], t1 + Duration::from_secs(5));
        c.answer(b"late");
        c.sent(2, t1 + Duration::from_secs(6));
        assert_eq!(c.deadline(), t1 + Duration::from_secs(6) + IDLE);
    }

    #[test]
    fn a_client_that_does_not_read_its_answers_overflows() {
        let t0 = Instant::now();
        let mut c = Connection::new(t0);
        let answer = vec![0u8; 60_000];
        c.answer(&answer);
        c.answer(&answer);
        assert!(!c.overflowed());
        c.answer(&answer);
        assert!(c.overflowed());
        // What the socket takes counts.
        c.sent(60_002, t0);
        assert!(!c.overflowed());
        // A message no prefix can describe is not queued.
        c.answer(&vec![0; 70_000]);
        assert_eq!(c.unsent().len(), 2 * 60_002);
    }

    #[test]
    fn a_new_connection_beyond_the_limit_evicts_the_idlest() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut set: Connections<&str> = Connections::new(3);
        let (a, _) = set.insert("a", t0);
        let (b, _) = set.insert("b", t0);
        let (c, _) = set.insert("c", t0 + s);
        // a and b idle alike: the older (a) goes first, then b, once c has spoken since.
        set.get_mut(c).unwrap().1.received(&[0], t0 + 2 * s);
        let (d, evicted) = set.insert("d", t0 + 3 * s);
        assert_eq!((evicted, set.len()), (Some("a"), 3));
        set.get_mut(b).unwrap().1.received(&[0], t0 + 4 * s);
        let (_, evicted) = set.insert("e", t0 + 5 * s);
        assert_eq!(evicted, Some("c"));
        assert!(set.get_mut(a).is_none() && set.get_mut(d).is_some());
        // Ids are never reused.
        assert!(set.iter().all(|(id, _, _)| id != a && id != c));
        assert_eq!(set.next_deadline(), Some(t0 + 3 * s + IDLE));
        set.expire(t0 + 3 * s + IDLE);
        let mut left: Vec<_> = set.iter().map(|(_, s, _)| *s).collect();
        left.sort();
        assert_eq!(left, ["b", "e"]);
    }
}
