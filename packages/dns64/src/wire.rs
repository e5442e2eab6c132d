//! DNS wire format (RFC 1035, RFC 6891): checked, zero-copy reading of messages and an
//! uncompressed writer. Only what a forwarding DNS64 needs: the header, one question, walking
//! resource records, expanding compressed names, the OPT record.
//!
//! Compression pointers must point strictly backwards (before the pointer itself), so every
//! name walk terminates; a name longer than 255 bytes or a pointer out of range is an error.

use std::fmt;

pub const HEADER_LEN: usize = 12;
pub const MAX_NAME_LEN: usize = 255;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_RRSIG: u16 = 46;
pub const CLASS_IN: u16 = 1;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;

/// Header flag bits (second 16-bit word).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const FLAG_AD: u16 = 0x0020;
pub const FLAG_CD: u16 = 0x0010;
/// The DO bit in the OPT record's TTL field (RFC 3225).
pub const EDNS_DO: u32 = 0x8000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The message ends inside a field.
    Truncated,
    /// A label type other than a plain label or a backward pointer.
    BadLabel,
    /// A compression pointer not pointing strictly backwards.
    BadPointer,
    NameTooLong,
    /// Counts or lengths that disagree with the data.
    BadCount,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "message truncated",
            Error::BadLabel => "bad label type",
            Error::BadPointer => "bad compression pointer",
            Error::NameTooLong => "name longer than 255 bytes",
            Error::BadCount => "section counts disagree with the message",
        })
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub fn u16_at(msg: &[u8], at: usize) -> Result<u16> {
    match msg.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(Error::Truncated),
    }
}

pub fn u32_at(msg: &[u8], at: usize) -> Result<u32> {
    match msg.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::Truncated),
    }
}

/// A domain name in uncompressed wire form (labels and the root byte), case kept.
#[derive(Clone)]
pub struct Name {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Name {
    pub fn root() -> Name {
        Name {
            buf: [0; MAX_NAME_LEN],
            len: 1,
        }
    }
    pub fn as_wire(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
    /// From presentation text ("www.example.org", trailing dot optional; no escapes).
    pub fn from_text(text: &str) -> Option<Name> {
        let mut name = Name::root();
        name.len = 0;
        for label in text
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            if label.len() > 63 {
                return None;
            }
            name.push_label(label.as_bytes())?;
        }
        name.push_root()?;
        Some(name)
    }
    fn push_label(&mut self, label: &[u8]) -> Option<()> {
        let at = self.len as usize;
        // Keep room for the root byte.
        if at + 1 + label.len() + 1 > MAX_NAME_LEN {
            return None;
        }
        self.buf[at] = label.len() as u8;
        self.buf[at + 1..at + 1 + label.len()].copy_from_slice(label);
        self.len = (at + 1 + label.len()) as u8;
        Some(())
    }
    fn push_root(&mut self) -> Option<()> {
        let at = self.len as usize;
        if at >= MAX_NAME_LEN {
            return None;
        }
        self.buf[at] = 0;
        self.len += 1;
        Some(())
    }
    /// Case-insensitive comparison (RFC 4343).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.as_wire().eq_ignore_ascii_case(other.as_wire())
    }
    /// The labels, first (leftmost) to last, without the root.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: self.as_wire(),
        }
    }
    /// Whether the name ends with `suffix` (case-insensitive, on label boundaries).
    pub fn ends_with(&self, suffix: &Name) -> bool {
        let (w, s) = (self.as_wire(), suffix.as_wire());
        if s.len() > w.len() {
            return false;
        }
        let start = w.len() - s.len();
        // start must be a label boundary.
        let mut at = 0;
        while at < start {
            at += 1 + w[at] as usize;
        }
        at == start && w[start..].eq_ignore_ascii_case(s)
    }
    /// The name's lower-cased wire form appended to `out` (cache keys).
    pub fn push_lowercase(&self, out: &mut Vec<u8>) {
        out.extend(self.as_wire().iter().map(u8::to_ascii_lowercase));
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.eq_ignore_case(other)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.len <= 1 {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    write!(f, "{}", b as char)?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.first()? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.wire[1..1 + len];
        self.wire = &self.wire[1 + len..];
        Some(label)
    }
}

/// Reads the (possibly compressed) name at `start`; returns it and the offset after it in place.
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize)> {
    let mut name = Name::root();
    name.len = 0;
    let end = walk_name(msg, start, &mut |label| {
        name.push_label(label).ok_or(Error::NameTooLong)
    })?;
    name.push_root().ok_or(Error::NameTooLong)?;
    Ok((name, end))
}

/// Validates the name at `start` without copying it; returns the offset after it in place.
pub fn skip_name(msg: &[u8], start: usize) -> Result<usize> {
    let mut total = 1;
    walk_name(msg, start, &mut |label| {
        total += 1 + label.len();
        if total > MAX_NAME_LEN {
            Err(Error::NameTooLong)
        } else {
            Ok(())
        }
    })
}

fn walk_name(
    msg: &[u8],
    start: usize,
    on_label: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<usize> {
    let mut at = start;
    let mut end = None;
    loop {
        let len = *msg.get(at).ok_or(Error::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                if len == 0 {
                    return Ok(end.unwrap_or(at + 1));
                }
                let label = msg
                    .get(at + 1..at + 1 + len as usize)
                    .ok_or(Error::Truncated)?;
                on_label(label)?;
                at += 1 + len as usize;
            }
            0xC0 => {
                let target = (u16_at(msg, at)? & 0x3FFF) as usize;
                // Strictly backwards: each hop lowers `at`, so the walk ends.
                if target >= at {
                    return Err(Error::BadPointer);
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(Error::BadLabel),
        }
    }
}

/// One resource record, located in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub name_at: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub ttl_at: usize,
    pub rdata_at: usize,
    pub rdata_len: usize,
    pub end: usize,
}

impl Record {
    pub fn rdata<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.rdata_at..self.rdata_at + self.rdata_len]
    }
}

pub fn read_record(msg: &[u8], at: usize) -> Result<Record> {
    let name_end = skip_name(msg, at)?;
    let rtype = u16_at(msg, name_end)?;
    let class = u16_at(msg, name_end + 2)?;
    let ttl = u32_at(msg, name_end + 4)?;
    let rdata_len = u16_at(msg, name_end + 8)? as usize;
    let rdata_at = name_end + 10;
    if rdata_at + rdata_len > msg.len() {
        return Err(Error::Truncated);
    }
    Ok(Record {
        name_at: at,
        rtype,
        class,
        ttl,
        ttl_at: name_end + 4,
        rdata_at,
        rdata_len,
        end: rdata_at + rdata_len,
    })
}

/// A validated message: one question, and the offsets of the sections.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub bytes: &'a [u8],
    pub qname: Name,
    pub qname_at: usize,
    pub qtype: u16,
    pub qclass: u16,
    pub question_end: usize,
    pub counts: [u16; 3],
    /// Start of the answer, authority and additional sections, and the end of the message.
    pub sections: [usize; 4],
    /// The OPT record, if any (in the additional section).
    pub opt: Option<Record>,
}

/// EDNS parameters of a message (RFC 6891).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub dnssec_ok: bool,
}

impl<'a> Message<'a> {
    /// Parses and validates every record of a message with exactly one question.
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if u16_at(bytes, 4)? != 1 {
            return Err(Error::BadCount);
        }
        let (qname, qname_end) = read_name(bytes, HEADER_LEN)?;
        let qtype = u16_at(bytes, qname_end)?;
        let qclass = u16_at(bytes, qname_end + 2)?;
        let question_end = qname_end + 4;
        let counts = [u16_at(bytes, 6)?, u16_at(bytes, 8)?, u16_at(bytes, 10)?];
        let mut sections = [question_end; 4];
        let mut at = question_end;
        let mut opt = None;
        for (i, &count) in counts.iter().enumerate() {
            sections[i] = at;
            for _ in 0..count {
                let rr = read_record(bytes, at)?;
                if rr.rtype == TYPE_OPT {
                    // Only one OPT, in the additional section, owned by the root (RFC 6891 §6.1.1).
                    if i != 2 || opt.is_some() || bytes[rr.name_at] != 0 {
                        return Err(Error::BadCount);
                    }
                    opt = Some(rr);
                }
                at = rr.end;
            }
        }
        sections[3] = at;
        Ok(Message {
            bytes,
            qname,
            qname_at: HEADER_LEN,
            qtype,
            qclass,
            question_end,
            counts,
            sections,
            opt,
        })
    }

    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags() >> 11) & 0xF) as u8
    }
    pub fn rcode(&self) -> u8 {
        (self.flags() & 0xF) as u8
    }
    pub fn edns(&self) -> Option<Edns> {
        self.opt.map(|o| Edns {
            udp_size: o.class,
            dnssec_ok: o.ttl & EDNS_DO != 0,
        })
    }
    /// The raw question name bytes (as sent, maybe compressed only in theory: a question is
    /// the first name of a message, so it cannot point backwards anywhere).
    pub fn qname_bytes(&self) -> &'a [u8] {
        &self.bytes[self.qname_at..self.question_end - 4]
    }
    /// The records of section `i` (0 answer, 1 authority, 2 additional). Already validated.
    pub fn records(&self, section: usize) -> Records<'a> {
        Records {
            bytes: self.bytes,
            at: self.sections[section],
            left: self.counts[section],
        }
    }
}

pub struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
    left: u16,
}

impl Iterator for Records<'_> {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let rr = read_record(self.bytes, self.at).ok()?;
        self.at = rr.end;
        Some(rr)
    }
}

/// Writes a message front to back, names uncompressed; counts are patched by `set_count`.
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new(id: u16, flags: u16) -> Writer {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        Writer { buf }
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Section counts: 0 question, 1 answer, 2 authority, 3 additional.
    pub fn set_count(&mut self, section: usize, count: u16) {
        self.buf[4 + 2 * section..6 + 2 * section].copy_from_slice(&count.to_be_bytes());
    }
    pub fn question(&mut self, qname: &[u8], qtype: u16, qclass: u16) {
        self.bytes(qname);
        self.u16(qtype);
        self.u16(qclass);
        self.set_count(0, 1);
    }
    /// An OPT record advertising `udp_size`, with DO as asked, no options.
    pub fn opt(&mut self, udp_size: u16, dnssec_ok: bool) {
        self.bytes(&[0]);
        self.u16(TYPE_OPT);
        self.u16(udp_size);
        self.u32(if dnssec_ok { EDNS_DO } else { 0 });
        self.u16(0);
    }
    /// Copies a record of `msg`, expanding compressed names in the owner and in the RDATA of
    /// the RFC 1035 types that may carry compressed names. Returns the length it wrote.
    pub fn copy_record(&mut self, msg: &[u8], rr: &Record, ttl: u32) -> Result<()> {
        let start = self.buf.len();
        let (owner, _) = read_name(msg, rr.name_at)?;
        self.bytes(owner.as_wire());
        self.u16(rr.rtype);
        self.u16(rr.class);
        self.u32(ttl);
        let len_at = self.buf.len();
        self.u16(0);
        let rdata_end = rr.rdata_at + rr.rdata_len;
        // Names inside RDATA may point anywhere backwards in msg: read_name handles that, but
        // the name must end inside the RDATA.
        let name = |w: &mut Writer, at: usize| -> Result<usize> {
            let (n, end) = read_name(msg, at)?;
            if end > rdata_end {
                return Err(Error::BadCount);
            }
            w.bytes(n.as_wire());
            Ok(end)
        };
        let result = (|| -> Result<()> {
            match rr.rtype {
                TYPE_NS | TYPE_CNAME | TYPE_PTR | 3 | 4 | 7 | 8 | 9 => {
                    if name(self, rr.rdata_at)? != rdata_end {
                        return Err(Error::BadCount);
                    }
                }
                TYPE_MX => {
                    self.bytes(
                        msg.get(rr.rdata_at..rr.rdata_at + 2)
                            .ok_or(Error::BadCount)?,
                    );
                    if name(self, rr.rdata_at + 2)? != rdata_end {
                        return Err(Error::BadCount);
                    }
                }
                TYPE_SOA => {
                    let at = name(self, rr.rdata_at)?;
                    let at = name(self, at)?;
                    if at + 20 != rdata_end {
                        return Err(Error::BadCount);
                    }
                    self.bytes(&msg[at..rdata_end]);
                }
                _ => self.bytes(rr.rdata(msg)),
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.buf.truncate(start);
            return Err(e);
        }
        let rdlen = self.buf.len() - len_at - 2;
        self.buf[len_at..len_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        Ok(())
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// The SOA MINIMUM field of an SOA record (the last 4 bytes of its RDATA).
pub fn soa_minimum(msg: &[u8], rr: &Record) -> Option<u32> {
    if rr.rtype != TYPE_SOA || rr.rdata_len < 22 {
        return None;
    }
    u32_at(msg, rr.rdata_at + rr.rdata_len - 4).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut w = Writer::new(0x1234, FLAG_RD);
        w.question(Name::from_text(name).unwrap().as_wire(), qtype, CLASS_IN);
        w.buf
    }

    #[test]
    fn parses_a_query() {
        let q = query("WWW.Example.org", TYPE_AAAA);
        let m = Message::parse(&q).unwrap();
        assert_eq!(m.id(), 0x1234);
        assert_eq!(m.qtype, TYPE_AAAA);
        assert_eq!(m.qname.to_string(), "WWW.Example.org.");
        assert!(m.qname == Name::from_text("www.example.ORG.").unwrap());
        assert_eq!(m.edns(), None);
        assert_eq!(m.question_end, q.len());
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_rejected() {
        let mut q = query("a.b", TYPE_A);
        // Answer record whose owner is a pointer to itself.
        let at = q.len();
        q.extend_from_slice(&[0xC0, at as u8, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        q[7] = 1;
        assert_eq!(Message::parse(&q).unwrap_err(), Error::BadPointer);
        // Two pointers pointing at each other: the first one forward is rejected.
        let mut q = query("a.b", TYPE_A);
        let at = q.len();
        q.extend_from_slice(&[
            0xC0,
            (at + 2) as u8,
            0xC0,
            at as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            0,
        ]);
        q[7] = 1;
        assert_eq!(Message::parse(&q).unwrap_err(), Error::BadPointer);
    }

    #[test]
    fn counts_beyond_the_data_are_truncation() {
        let mut q = query("a.b", TYPE_A);
        q[7] = 3;
        assert_eq!(Message::parse(&q).unwrap_err(), Error::Truncated);
        let mut q = query("a.b", TYPE_A);
        q[5] = 2;
        assert_eq!(Message::parse(&q).unwrap_err(), Error::BadCount);
    }

    #[test]
    fn compressed_names_are_expanded_when_copied() {
        let mut m = query("host.example", TYPE_CNAME);
        m[7] = 1;
        // owner: pointer to the question name; CNAME rdata: "www" + pointer to "example".
        m.extend_from_slice(&[
            0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'w', b'w', 0xC0, 17,
        ]);
        let parsed = Message::parse(&m).unwrap();
        let rr = parsed.records(0).next().unwrap();
        let mut w = Writer::new(0, 0);
        w.copy_record(&m, &rr, 30).unwrap();
        let out = &w.buf[HEADER_LEN..];
        let mut expect = Name::from_text("host.example").unwrap().as_wire().to_vec();
        expect.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 30, 0, 13]);
        expect.extend_from_slice(Name::from_text("www.example").unwrap().as_wire());
        assert_eq!(out, &expect[..]);
    }

    #[test]
    fn name_suffixes_follow_label_boundaries() {
        let n = Name::from_text("a.ip6.arpa").unwrap();
        assert!(n.ends_with(&Name::from_text("IP6.ARPA").unwrap()));
        assert!(!n.ends_with(&Name::from_text("p6.arpa").unwrap()));
        assert!(n.ends_with(&Name::root()));
        assert!(Name::from_text(&"a".repeat(64)).is_none());
    }
}
