//! The address table of one pool: which address is bound to which client, in what state.
//!
//! One slot per address of the dynamic range, allocated once at start (so a flood of new
//! clients cannot grow memory past the pool), plus an index from client to slot. A client
//! keeps its slot after its lease expires or is released, so that a returning client gets
//! its previous address; such slots are reused for other clients oldest-first, and only when
//! no never-used address is left.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::wire::{HwAddr, Request};

/// Longest client identity kept as is; longer ones are shortened with a hash of the rest.
pub const KEY_MAX: usize = 24;

/// Who a client is: its client identifier (option 61) when it sends one, else htype+chaddr
/// (RFC 2131 §4.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    len: u8,
    bytes: [u8; KEY_MAX],
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl ClientKey {
    pub fn from_bytes(id: &[u8]) -> ClientKey {
        let mut key = ClientKey {
            len: 0,
            bytes: [0; KEY_MAX],
        };
        if id.len() <= KEY_MAX {
            key.bytes[..id.len()].copy_from_slice(id);
            key.len = id.len() as u8;
        } else {
            // FNV-1a of the whole id in the last 8 octets: distinct long ids stay distinct.
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in id {
                hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
            key.bytes[..KEY_MAX - 8].copy_from_slice(&id[..KEY_MAX - 8]);
            key.bytes[KEY_MAX - 8..].copy_from_slice(&hash.to_be_bytes());
            key.len = KEY_MAX as u8;
        }
        key
    }
    pub fn from_request(r: &Request<'_>) -> ClientKey {
        match r.client_id {
            Some(id) => ClientKey::from_bytes(id),
            None => {
                let mut id = [0u8; 17];
                id[0] = r.htype;
                id[1..1 + r.chaddr.len as usize].copy_from_slice(r.chaddr.as_slice());
                ClientKey::from_bytes(&id[..1 + r.chaddr.len as usize])
            }
        }
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    /// 64-bit FNV-1a of the key: the index key (the slot holds the full key to check).
    pub fn hash64(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in self.as_slice() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(self.len as usize * 2);
        for b in self.as_slice() {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
    pub fn from_hex(s: &str) -> Option<ClientKey> {
        if s.len() % 2 != 0 || s.len() / 2 > KEY_MAX || s.is_empty() {
            return None;
        }
        let mut bytes = [0u8; KEY_MAX];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            bytes[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        }
        Some(ClientKey {
            len: (s.len() / 2) as u8,
            bytes,
        })
    }
}

/// A host name as the client sent it, cut to what the lease file shows.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct HostName {
    len: u8,
    bytes: [u8; 32],
}

impl std::fmt::Debug for HostName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HostName {
    /// Keeps only characters a DNS label allows, so the lease file stays one line per lease.
    pub fn new(raw: &[u8]) -> HostName {
        let mut name = HostName::default();
        for &b in raw {
            if name.len as usize == name.bytes.len() {
                break;
            }
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                name.bytes[name.len as usize] = b;
                name.len += 1;
            } else if b == b'.' || b == 0 {
                break;
            }
        }
        name
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Never given to anyone since start.
    Free,
    /// Offered until `expiry`; not yet ACKed.
    Offered,
    /// ACKed until `expiry`.
    Leased,
    /// Given back (RELEASE) at `expiry`, or taken from a client that went IPv6-only.
    Released,
    /// A client said the address is in use (DECLINE): not offered until `expiry`.
    Declined,
    /// A `config host` address inside the range: never given dynamically.
    Reserved,
}

#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub state: State,
    /// Offer/lease end, release time, or end of quarantine (seconds since the epoch).
    pub expiry: u64,
    pub client: Option<ClientKey>,
    pub mac: [u8; 6],
    pub host_name: HostName,
}

impl Slot {
    const FREE: Slot = Slot {
        state: State::Free,
        expiry: 0,
        client: None,
        mac: [0; 6],
        host_name: HostName {
            len: 0,
            bytes: [0; 32],
        },
    };

    /// Whether the address is taken by its client right now.
    pub fn active(&self, now: u64) -> bool {
        matches!(self.state, State::Offered | State::Leased) && self.expiry > now
    }
    /// Whether another client may get it, and how old it is (smaller = reuse first).
    fn reusable_since(&self, now: u64) -> Option<u64> {
        match self.state {
            State::Free => Some(0),
            State::Offered | State::Leased if self.expiry <= now => Some(self.expiry),
            State::Released => Some(self.expiry),
            State::Declined if self.expiry <= now => Some(self.expiry),
            _ => None,
        }
    }
}

pub struct LeaseTable {
    first: u32,
    slots: Vec<Slot>,
    /// Client key hash -> slot. 16 octets an entry instead of the whole key; the slot's
    /// own key is compared on lookup, so a hash collision only costs a returning client
    /// its old address, never an address given twice (the slots are the truth).
    by_client: HashMap<u64, u32>,
    /// Slots below this index have all been used at least once.
    never_used_from: usize,
}

impl LeaseTable {
    pub fn new(first: Ipv4Addr, count: u32) -> LeaseTable {
        LeaseTable {
            first: u32::from(first),
            slots: vec![Slot::FREE; count as usize],
            by_client: HashMap::with_capacity(count as usize),
            never_used_from: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    pub fn index_of(&self, ip: Ipv4Addr) -> Option<usize> {
        let offset = u32::from(ip).checked_sub(self.first)? as usize;
        (offset < self.slots.len()).then_some(offset)
    }
    pub fn addr_of(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::from(self.first + index as u32)
    }
    pub fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }
    pub fn slots(&self) -> impl Iterator<Item = (Ipv4Addr, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, s)| (self.addr_of(i), s))
    }
    /// The slot this client holds or held last.
    pub fn of_client(&self, client: &ClientKey) -> Option<usize> {
        let i = *self.by_client.get(&client.hash64())? as usize;
        (self.slots[i].client.as_ref() == Some(client)).then_some(i)
    }
    pub fn reserve(&mut self, ip: Ipv4Addr) {
        if let Some(i) = self.index_of(ip) {
            self.unbind(i);
            self.slots[i].state = State::Reserved;
        }
    }

    /// Whether `client` may have the address at `index` now.
    pub fn available_to(&self, index: usize, client: &ClientKey, now: u64) -> bool {
        let slot = &self.slots[index];
        if slot.state == State::Reserved || slot.state == State::Declined && slot.expiry > now {
            return false;
        }
        slot.client.as_ref() == Some(client) || slot.reusable_since(now).is_some()
    }

    /// Picks an address for `client`: the one it holds or held, else the one it asks for if
    /// available, else a never-used one, else the oldest expired or released one.
    pub fn choose(
        &mut self,
        client: &ClientKey,
        requested: Option<Ipv4Addr>,
        now: u64,
    ) -> Option<usize> {
        if let Some(i) = self.of_client(client) {
            if self.available_to(i, client, now) {
                return Some(i);
            }
        }
        if let Some(i) = requested.and_then(|ip| self.index_of(ip)) {
            if self.available_to(i, client, now) {
                return Some(i);
            }
        }
        while self.never_used_from < self.slots.len() {
            let i = self.never_used_from;
            if self.slots[i].state == State::Free {
                return Some(i);
            }
            self.never_used_from += 1;
        }
        // Everything has been used once: the oldest reusable address.
        let mut best: Option<(u64, usize)> = None;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(since) = slot.reusable_since(now) {
                if best.map_or(true, |(b, _)| since < b) {
                    best = Some((since, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Gives the address at `index` to `client` in `state` until `expiry`.
    pub fn bind(
        &mut self,
        index: usize,
        client: ClientKey,
        hw: &HwAddr,
        host_name: HostName,
        state: State,
        expiry: u64,
    ) {
        if let Some(old) = self.of_client(&client) {
            if old != index {
                // One address per client: its old one goes back to the pool, oldest-first.
                self.unbind(old);
            }
        }
        if self.slots[index].client.is_some_and(|c| c != client) {
            self.unbind(index);
        }
        let slot = &mut self.slots[index];
        slot.state = state;
        slot.expiry = expiry;
        slot.client = Some(client);
        slot.mac = hw.mac().unwrap_or_default();
        if !host_name.is_empty() || state == State::Offered {
            slot.host_name = host_name;
        }
        self.by_client.insert(client.hash64(), index as u32);
    }

    /// The client gave the address back: free for others, but remembered for the client.
    pub fn release(&mut self, index: usize, now: u64) {
        let slot = &mut self.slots[index];
        slot.state = State::Released;
        slot.expiry = now;
    }

    /// Quarantines a declined address; nobody holds it.
    pub fn decline(&mut self, index: usize, until: u64) {
        self.unbind(index);
        let slot = &mut self.slots[index];
        slot.state = State::Declined;
        slot.expiry = until;
    }

    /// Forgets the slot's client; the address becomes reusable at once.
    pub fn unbind(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        if let Some(client) = slot.client.take() {
            if self.by_client.get(&client.hash64()) == Some(&(index as u32)) {
                self.by_client.remove(&client.hash64());
            }
        }
        if slot.state != State::Free {
            slot.state = State::Released;
            slot.expiry = 0;
        }
        slot.host_name = HostName::default();
        slot.mac = [0; 6];
    }

    /// Addresses taken now (offered, leased, quarantined, reserved).
    pub fn in_use(&self, now: u64) -> usize {
        self.slots
            .iter()
            .filter(|s| {
                s.active(now)
                    || s.state == State::Reserved
                    || s.state == State::Declined && s.expiry > now
            })
            .count()
    }
    pub fn active_leases(&self, now: u64) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == State::Leased && s.expiry > now)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ClientKey {
        ClientKey::from_bytes(&[1, 2, 0, 0, 0, 0, n])
    }
    fn hw(n: u8) -> HwAddr {
        HwAddr::from_mac([2, 0, 0, 0, 0, n])
    }
    const NAME: HostName = HostName {
        len: 0,
        bytes: [0; 32],
    };

    #[test]
    fn never_used_first_then_oldest_expired() {
        let mut t = LeaseTable::new(Ipv4Addr::new(10, 0, 0, 10), 3);
        for n in 0..3 {
            let i = t.choose(&key(n), None, 100).unwrap();
            assert_eq!(i, n as usize);
            t.bind(
                i,
                key(n),
                &hw(n),
                NAME,
                State::Leased,
                200 + 100 * (2 - n as u64),
            );
        }
        assert_eq!(t.choose(&key(9), None, 150), None, "full");
        // At 350 the leases of clients 1 (300) and 2 (200) have expired; 2's is the oldest.
        assert_eq!(t.choose(&key(9), None, 350), Some(2));
        // A returning client gets its old address even after expiry.
        assert_eq!(t.choose(&key(1), None, 350), Some(1));
        // An address another client holds is not handed out when asked for.
        assert_eq!(
            t.choose(&key(9), Some(Ipv4Addr::new(10, 0, 0, 10)), 350),
            Some(2)
        );
    }

    #[test]
    fn rebinding_moves_a_client_and_frees_its_old_address() {
        let mut t = LeaseTable::new(Ipv4Addr::new(10, 0, 0, 10), 4);
        t.bind(0, key(1), &hw(1), NAME, State::Leased, 1000);
        t.bind(3, key(1), &hw(1), NAME, State::Leased, 1000);
        assert_eq!(t.of_client(&key(1)), Some(3));
        assert!(t.slot(0).client.is_none());
        assert!(t.available_to(0, &key(2), 10));
        // Taking an expired address from another client makes that client forget it.
        t.bind(3, key(2), &hw(2), NAME, State::Leased, 2000);
        assert_eq!(t.of_client(&key(1)), None);
        assert_eq!(t.of_client(&key(2)), Some(3));
    }

    #[test]
    fn declined_is_quarantined_and_reserved_never_given() {
        let mut t = LeaseTable::new(Ipv4Addr::new(10, 0, 0, 10), 2);
        t.reserve(Ipv4Addr::new(10, 0, 0, 10));
        t.bind(1, key(1), &hw(1), NAME, State::Leased, 1000);
        t.decline(1, 500);
        assert_eq!(t.of_client(&key(1)), None);
        assert_eq!(t.choose(&key(2), None, 100), None);
        assert_eq!(t.choose(&key(2), None, 501), Some(1));
        assert_eq!(t.in_use(100), 2);
    }

    #[test]
    fn keys_and_names() {
        let long: Vec<u8> = (0..100).collect();
        let mut other = long.clone();
        other[99] = 0;
        assert_ne!(ClientKey::from_bytes(&long), ClientKey::from_bytes(&other));
        let k = ClientKey::from_bytes(&[1, 0xab, 0xcd]);
        assert_eq!(k.to_hex(), "01abcd");
        assert_eq!(ClientKey::from_hex("01abcd"), Some(k));
        assert_eq!(ClientKey::from_hex("zz"), None);
        assert_eq!(HostName::new(b"my host\nx").as_str(), "myhostx");
        assert_eq!(HostName::new(b"laptop.lan").as_str(), "laptop");
    }
}
