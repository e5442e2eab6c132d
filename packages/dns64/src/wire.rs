//! DNS wire format (RFC 1035, RFC 6891), in the style of smoltcp's `wire` and
//! option108-dhcpd's: the layout in `mod field`, a checked [`Header`] view, a [`Message`]
//! parsed and validated once (one question, every record walked) whose accessors cannot fail
//! afterwards, [`Record`]s located in it, and an uncompressed [`Writer`]. Only what a
//! forwarding DNS64 needs: the header, one question, walking resource records, expanding
//! compressed names, the OPT record.
//!
//! Compression pointers must point strictly backwards (before the pointer itself), so every
//! name walk terminates; a name longer than 255 bytes or a pointer out of range is an error.
//! The tests check the parser against messages from dig and NSD (`tests/fixtures.rs`).

use std::fmt;

/// Where the fields are: the header, then what follows a question's and a record's name.
mod field {
    use std::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    /// QDCOUNT, ANCOUNT, NSCOUNT and ARCOUNT, two bytes each.
    pub const COUNTS: usize = 4;
    pub const QUESTION: usize = 12;

    /// After the question's name.
    pub mod question {
        use std::ops::Range;
        pub const QTYPE: Range<usize> = 0..2;
        pub const QCLASS: Range<usize> = 2..4;
        pub const END: usize = 4;
    }

    /// After a resource record's owner name.
    pub mod rr {
        use std::ops::Range;
        pub const TYPE: Range<usize> = 0..2;
        pub const CLASS: Range<usize> = 2..4;
        pub const TTL: Range<usize> = 4..8;
        pub const RDLENGTH: Range<usize> = 8..10;
        pub const RDATA: usize = 10;
    }
}

pub const HEADER_LEN: usize = field::QUESTION;
pub const MAX_NAME_LEN: usize = 255;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
/// Mail destination and forwarder (RFC 1035, obsolete): a name, compressible.
pub const TYPE_MD: u16 = 3;
pub const TYPE_MF: u16 = 4;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
/// Mailbox, mail group member and mail rename (RFC 1035, experimental): a name each.
pub const TYPE_MB: u16 = 7;
pub const TYPE_MG: u16 = 8;
pub const TYPE_MR: u16 = 9;
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
pub const RCODE_REFUSED: u8 = 5;

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

fn u16_at(msg: &[u8], at: usize) -> Result<u16> {
    match msg.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(Error::Truncated),
    }
}

fn u32_at(msg: &[u8], at: usize) -> Result<u32> {
    match msg.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::Truncated),
    }
}

/// A view of a message's header. Checked, every accessor is in bounds.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view that does not check the length: accessors panic on fewer than
    /// [`HEADER_LEN`] bytes.
    pub fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }
    /// A view of a buffer that holds a header.
    pub fn new_checked(buffer: T) -> Result<Header<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Header { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }
    pub fn id(&self) -> u16 {
        self.u16(field::ID.start)
    }
    /// The second 16-bit word: QR, opcode, AA, TC, RD, RA, Z, AD, CD and RCODE.
    pub fn flags(&self) -> u16 {
        self.u16(field::FLAGS.start)
    }
    pub fn is_response(&self) -> bool {
        self.flags() & FLAG_QR != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags() >> 11) & 0xF) as u8
    }
    pub fn rcode(&self) -> u8 {
        (self.flags() & 0xF) as u8
    }
    /// The entries of a section: 0 question, 1 answer, 2 authority, 3 additional.
    pub fn count(&self, section: usize) -> u16 {
        self.u16(field::COUNTS + 2 * section)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn set_u16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_id(&mut self, id: u16) {
        self.set_u16(field::ID.start, id);
    }
    pub fn set_flags(&mut self, flags: u16) {
        self.set_u16(field::FLAGS.start, flags);
    }
    /// Sets or clears the bits of `mask` in the flags.
    pub fn set_flag(&mut self, mask: u16, on: bool) {
        let flags = self.flags();
        self.set_flags(if on { flags | mask } else { flags & !mask });
    }
    /// Sets the count of a section (0 question, 1 answer, 2 authority, 3 additional).
    pub fn set_count(&mut self, section: usize, count: u16) {
        self.set_u16(field::COUNTS + 2 * section, count);
    }
}

/// ASCII case-insensitive equality in one plain loop: std's `eq_ignore_ascii_case` stays a
/// chain of calls in a size-optimised build, about 30 instructions a byte, and names are
/// compared for every query.
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    fn lower(c: u8) -> u8 {
        c | (u8::from(c.wrapping_sub(b'A') < 26) << 5)
    }
    if a.len() != b.len() {
        return false;
    }
    for i in 0..a.len() {
        if lower(a[i]) != lower(b[i]) {
            return false;
        }
    }
    true
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
        eq_ignore_case(self.as_wire(), other.as_wire())
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
        at == start && eq_ignore_case(&w[start..], s)
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
    // Uncompressed, as every query's question is: one scan, one copy. A pointer, a bad label,
    // a name too long or cut short go the general way, which says which.
    let mut at = start;
    while at - start < MAX_NAME_LEN {
        match msg.get(at) {
            Some(0) => {
                let len = at + 1 - start;
                let mut name = Name::root();
                name.buf[..len].copy_from_slice(&msg[start..=at]);
                name.len = len as u8;
                return Ok((name, at + 1));
            }
            Some(&label) if label & 0xC0 == 0 => at += 1 + label as usize,
            _ => break,
        }
    }
    read_name_walk(msg, start)
}

/// [`read_name`] label by label, pointers followed.
fn read_name_walk(msg: &[u8], start: usize) -> Result<(Name, usize)> {
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

/// One resource record, located in its message (offsets into it, read once by
/// [`read_record`], which checked that they are in bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    name_at: usize,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata_at: usize,
    rdata_len: usize,
}

impl Record {
    /// Where its owner name starts (maybe a compression pointer).
    pub fn name_at(&self) -> usize {
        self.name_at
    }
    pub fn rtype(&self) -> u16 {
        self.rtype
    }
    /// The class (for OPT, the requestor's UDP payload size).
    pub fn class(&self) -> u16 {
        self.class
    }
    /// The TTL (for OPT, the extended RCODE and flags).
    pub fn ttl(&self) -> u32 {
        self.ttl
    }
    /// Where its TTL field is.
    pub fn ttl_at(&self) -> usize {
        self.rdata_at - field::rr::RDATA + field::rr::TTL.start
    }
    pub fn rdata_at(&self) -> usize {
        self.rdata_at
    }
    pub fn rdata_len(&self) -> usize {
        self.rdata_len
    }
    /// Where the next record starts.
    pub fn end(&self) -> usize {
        self.rdata_at + self.rdata_len
    }
    /// Its RDATA in `msg`, the message it was read from.
    pub fn rdata<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.rdata_at..self.end()]
    }
}

/// Reads the record at `at`: its name validated, its fixed fields and RDATA in bounds.
pub fn read_record(msg: &[u8], at: usize) -> Result<Record> {
    let name_end = skip_name(msg, at)?;
    let rdata_at = name_end + field::rr::RDATA;
    let rdata_len = u16_at(msg, name_end + field::rr::RDLENGTH.start)? as usize;
    if rdata_at + rdata_len > msg.len() {
        return Err(Error::Truncated);
    }
    Ok(Record {
        name_at: at,
        rtype: u16_at(msg, name_end + field::rr::TYPE.start)?,
        class: u16_at(msg, name_end + field::rr::CLASS.start)?,
        ttl: u32_at(msg, name_end + field::rr::TTL.start)?,
        rdata_at,
        rdata_len,
    })
}

/// A validated message: one question, and where its sections are. Every record was read
/// once by [`Message::parse`], so the accessors and [`Message::records`] cannot fail.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    qname: Name,
    qtype: u16,
    qclass: u16,
    question_end: usize,
    /// Records in the answer, authority and additional sections.
    counts: [u16; 3],
    /// Start of the answer, authority and additional sections, and the end of the message.
    sections: [usize; 4],
    /// The OPT record, if any (in the additional section).
    opt: Option<Record>,
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
        let header = Header::new_checked(bytes)?;
        if header.count(0) != 1 {
            return Err(Error::BadCount);
        }
        let (qname, qname_end) = read_name(bytes, field::QUESTION)?;
        let qtype = u16_at(bytes, qname_end + field::question::QTYPE.start)?;
        let qclass = u16_at(bytes, qname_end + field::question::QCLASS.start)?;
        let question_end = qname_end + field::question::END;
        let counts = [header.count(1), header.count(2), header.count(3)];
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
                at = rr.end();
            }
        }
        sections[3] = at;
        Ok(Message {
            bytes,
            qname,
            qtype,
            qclass,
            question_end,
            counts,
            sections,
            opt,
        })
    }

    /// The whole message, as parsed.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub fn header(&self) -> Header<&'a [u8]> {
        Header::new_unchecked(self.bytes)
    }
    pub fn id(&self) -> u16 {
        self.header().id()
    }
    pub fn flags(&self) -> u16 {
        self.header().flags()
    }
    pub fn opcode(&self) -> u8 {
        self.header().opcode()
    }
    pub fn rcode(&self) -> u8 {
        self.header().rcode()
    }
    /// The question's name, decompressed.
    pub fn qname(&self) -> &Name {
        &self.qname
    }
    pub fn qtype(&self) -> u16 {
        self.qtype
    }
    pub fn qclass(&self) -> u16 {
        self.qclass
    }
    /// Where the question ends (the header and question of a query).
    pub fn question_end(&self) -> usize {
        self.question_end
    }
    /// Records in the answer, authority and additional sections.
    pub fn counts(&self) -> [u16; 3] {
        self.counts
    }
    /// Where the last record ends: the rest of the bytes, if any, is trailing garbage.
    pub fn end(&self) -> usize {
        self.sections[3]
    }
    /// The OPT record, if any.
    pub fn opt(&self) -> Option<Record> {
        self.opt
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
        &self.bytes[field::QUESTION..self.question_end - field::question::END]
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
        self.at = rr.end();
        Some(rr)
    }
}

/// Writes a message front to back, names uncompressed; counts are patched by `set_count`.
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new(id: u16, flags: u16) -> Writer {
        let mut buf = Vec::with_capacity(512);
        buf.resize(HEADER_LEN, 0);
        let mut header = Header::new_unchecked(&mut buf[..]);
        header.set_id(id);
        header.set_flags(flags);
        Writer { buf }
    }
    /// The header written so far.
    pub fn header(&mut self) -> Header<&mut [u8]> {
        Header::new_unchecked(&mut self.buf[..])
    }
    /// The message written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
    /// The message.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
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
        self.header().set_count(section, count);
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
    /// Copies a record of `msg` with `ttl`, expanding compressed names in the owner and in the
    /// RDATA of the RFC 1035 types that may carry compressed names (RFC 3597 §4). On an
    /// error nothing is written.
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
                TYPE_NS | TYPE_CNAME | TYPE_PTR | TYPE_MD | TYPE_MF | TYPE_MB | TYPE_MG
                | TYPE_MR => {
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

    /// dig's query for "v4only.fx.test A" without EDNS (captured, as in tests/fixtures).
    static DIG_QUERY_BYTES: [u8; 32] = [
        0xe8, 0x3b, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, b'v', b'4',
        b'o', b'n', b'l', b'y', 0x02, b'f', b'x', 0x04, b't', b'e', b's', b't', 0x00, 0x00, 0x01,
        0x00, 0x01,
    ];

    fn set_count(msg: &mut [u8], section: usize, count: u16) {
        Header::new_unchecked(msg).set_count(section, count);
    }

    #[test]
    fn eq_ignore_case_folds_ascii_letters_only() {
        // Every byte pair against std's definition: only A-Z and a-z fold.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(
                    eq_ignore_case(&[a], &[b]),
                    a.eq_ignore_ascii_case(&b),
                    "{a} {b}"
                );
            }
        }
        assert!(eq_ignore_case(
            b"\x08IPv4Only\x04ARPA\x00",
            b"\x08ipv4only\x04arpa\x00"
        ));
        assert!(!eq_ignore_case(b"\x04arpa\x00", b"\x04arpa"));
        assert!(!eq_ignore_case(b"\x01@", b"\x01`"));
    }

    #[test]
    fn the_header_view_reads_and_writes_digs_query() {
        assert_eq!(
            Header::new_checked(&DIG_QUERY_BYTES[..11]).unwrap_err(),
            Error::Truncated
        );
        let h = Header::new_checked(&DIG_QUERY_BYTES[..]).unwrap();
        assert_eq!((h.id(), h.flags()), (0xe83b, FLAG_RD | FLAG_AD));
        assert_eq!((h.opcode(), h.rcode(), h.is_response()), (0, 0, false));
        assert_eq!((0..4).map(|i| h.count(i)).collect::<Vec<_>>(), [1, 0, 0, 0]);
        let m = Message::parse(&DIG_QUERY_BYTES).unwrap();
        assert_eq!(m.qname().to_string(), "v4only.fx.test.");
        assert_eq!(
            (m.qtype(), m.qclass(), m.question_end()),
            (TYPE_A, CLASS_IN, 32)
        );
        assert_eq!(m.qname_bytes(), &DIG_QUERY_BYTES[12..28]);
        let mut copy = DIG_QUERY_BYTES;
        let mut h = Header::new_unchecked(&mut copy[..]);
        h.set_id(0x0102);
        h.set_flag(FLAG_RD, false);
        h.set_flag(FLAG_QR, true);
        h.set_count(3, 7);
        assert_eq!(copy[..4], [1, 2, 0x80, 0x20]);
        assert_eq!(copy[10..12], [0, 7]);
        // Our writer makes the same bytes from the same fields.
        let mut w = Writer::new(0xe83b, FLAG_RD | FLAG_AD);
        w.question(
            Name::from_text("v4only.fx.test").unwrap().as_wire(),
            TYPE_A,
            CLASS_IN,
        );
        assert_eq!(w.as_bytes(), DIG_QUERY_BYTES);
    }

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut w = Writer::new(0x1234, FLAG_RD);
        w.question(Name::from_text(name).unwrap().as_wire(), qtype, CLASS_IN);
        w.into_bytes()
    }

    #[test]
    fn parses_a_query() {
        let q = query("WWW.Example.org", TYPE_AAAA);
        let m = Message::parse(&q).unwrap();
        assert_eq!(m.id(), 0x1234);
        assert_eq!(m.qtype(), TYPE_AAAA);
        assert_eq!(m.qname().to_string(), "WWW.Example.org.");
        assert!(*m.qname() == Name::from_text("www.example.ORG.").unwrap());
        assert_eq!(m.edns(), None);
        assert_eq!(m.question_end(), q.len());
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_rejected() {
        let mut q = query("a.b", TYPE_A);
        // Answer record whose owner is a pointer to itself.
        let at = q.len();
        q.extend_from_slice(&[0xC0, at as u8, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        set_count(&mut q, 1, 1);
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
        set_count(&mut q, 1, 1);
        assert_eq!(Message::parse(&q).unwrap_err(), Error::BadPointer);
    }

    #[test]
    fn counts_beyond_the_data_are_truncation() {
        let mut q = query("a.b", TYPE_A);
        set_count(&mut q, 1, 3);
        assert_eq!(Message::parse(&q).unwrap_err(), Error::Truncated);
        let mut q = query("a.b", TYPE_A);
        set_count(&mut q, 0, 2);
        assert_eq!(Message::parse(&q).unwrap_err(), Error::BadCount);
    }

    #[test]
    fn compressed_names_are_expanded_when_copied() {
        let mut m = query("host.example", TYPE_CNAME);
        set_count(&mut m, 1, 1);
        // owner: pointer to the question name; CNAME rdata: "www" + pointer to "example".
        m.extend_from_slice(&[
            0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'w', b'w', 0xC0, 17,
        ]);
        let parsed = Message::parse(&m).unwrap();
        let rr = parsed.records(0).next().unwrap();
        let mut w = Writer::new(0, 0);
        w.copy_record(&m, &rr, 30).unwrap();
        let out = &w.as_bytes()[HEADER_LEN..];
        let mut expect = Name::from_text("host.example").unwrap().as_wire().to_vec();
        expect.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 30, 0, 13]);
        expect.extend_from_slice(Name::from_text("www.example").unwrap().as_wire());
        assert_eq!(out, &expect[..]);
    }

    /// The one-copy path of `read_name` and the label walk agree on every name, good or bad.
    #[test]
    fn read_name_fast_path_agrees_with_the_walk() {
        let label63 = |c: u8| [&[63u8][..], &[c; 63]].concat();
        // 4 labels of 63 and a root: 257 bytes, too long; with the last label 61: 255, fits.
        let too_long = [
            label63(b'a'),
            label63(b'b'),
            label63(b'c'),
            label63(b'd'),
            vec![0],
        ]
        .concat();
        let mut longest = too_long.clone();
        longest.truncate(3 * 64);
        longest.extend_from_slice(&[61]);
        longest.extend_from_slice(&[b'd'; 61]);
        longest.push(0);
        let mut cases: Vec<(Vec<u8>, usize)> = vec![
            (vec![0], 0),
            (b"\x03www\x07example\x00".to_vec(), 0),
            (b"xx\x03www\x07EXAMPLE\x00tail".to_vec(), 2),
            (b"\x03www\x07exam".to_vec(), 0),
            (b"\x03www\x07example".to_vec(), 0),
            (b"\x03www\x47example\x00".to_vec(), 0),
            (b"\x07example\x00\x03www\xc0\x00".to_vec(), 9),
            (b"\x03www\xc0\x00".to_vec(), 0),
            (too_long, 0),
            (longest, 0),
        ];
        cases.push((Vec::new(), 0));
        for (msg, start) in &cases {
            let fast = read_name(msg, *start);
            let walk = read_name_walk(msg, *start);
            assert_eq!(
                fast.as_ref().map(|(n, end)| (n.as_wire().to_vec(), *end)),
                walk.as_ref().map(|(n, end)| (n.as_wire().to_vec(), *end)),
                "{msg:?} at {start}"
            );
        }
        assert_eq!(read_name(&cases[9].0, 0).unwrap().0.as_wire().len(), 255);
        assert_eq!(read_name(&cases[8].0, 0).unwrap_err(), Error::NameTooLong);
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
