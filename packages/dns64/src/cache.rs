//! The answer cache: final responses keyed by question (and the bits that change the answer),
//! with a hard bound on the bytes it holds. Least recently used entries go first; expired
//! entries are dropped when met. Every entry's cost is counted: key (twice: map and entry),
//! response bytes, TTL offsets and a fixed overhead for the map slot and the entry struct.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Per-entry bytes beyond the data: the map slot, the entry, allocator headers (estimate on
/// the high side so that the bound holds in RSS, not only in payload).
pub const ENTRY_OVERHEAD: usize = 112;
const NIL: u32 = u32::MAX;

struct Entry {
    key: Box<[u8]>,
    response: Box<[u8]>,
    /// Offsets of the TTL fields to age when served.
    ttl_offsets: Box<[u16]>,
    stored: Instant,
    expires: Instant,
    prev: u32,
    next: u32,
}

impl Entry {
    fn cost(&self) -> usize {
        2 * self.key.len() + self.response.len() + 2 * self.ttl_offsets.len() + ENTRY_OVERHEAD
    }
}

pub struct Cache {
    map: HashMap<Box<[u8]>, u32>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Most recently used first.
    head: u32,
    tail: u32,
    bytes: usize,
    limit: usize,
    pub evictions: u64,
}

impl Cache {
    pub fn new(limit: usize) -> Cache {
        Cache {
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
            limit,
            evictions: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn limit(&self) -> usize {
        self.limit
    }
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.shrink_to(limit);
    }
    pub fn clear(&mut self) {
        *self = Cache {
            evictions: self.evictions,
            ..Cache::new(self.limit)
        };
    }

    /// Stores `response` for `ttl` seconds. `ttl_offsets` are the TTL fields to age.
    pub fn insert(
        &mut self,
        key: &[u8],
        response: &[u8],
        ttl_offsets: &[u16],
        ttl: u32,
        now: Instant,
    ) {
        self.remove(key);
        let entry = Entry {
            key: key.into(),
            response: response.into(),
            ttl_offsets: ttl_offsets.into(),
            stored: now,
            expires: now + Duration::from_secs(ttl as u64),
            prev: NIL,
            next: NIL,
        };
        let cost = entry.cost();
        if ttl == 0 || cost > self.limit / 8 {
            return; // Not worth it, or too large for a fair share.
        }
        self.shrink_to(self.limit.saturating_sub(cost));
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(entry);
                i
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.bytes += cost;
        self.map.insert(key.into(), index);
        self.push_front(index);
    }

    /// A copy of the stored response with its TTLs aged to `now` into `out`; `None` when absent
    /// or expired (an expired entry is dropped).
    pub fn get(&mut self, key: &[u8], now: Instant, out: &mut Vec<u8>) -> bool {
        let Some(&index) = self.map.get(key) else {
            return false;
        };
        let entry = self.slots[index as usize]
            .as_ref()
            .expect("mapped slot is used");
        if now >= entry.expires {
            self.remove(key);
            return false;
        }
        let age = now.duration_since(entry.stored).as_secs() as u32;
        out.clear();
        out.extend_from_slice(&entry.response);
        for &at in entry.ttl_offsets.iter() {
            let at = at as usize;
            let ttl = u32::from_be_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]);
            out[at..at + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
        }
        self.unlink(index);
        self.push_front(index);
        true
    }

    pub fn remove(&mut self, key: &[u8]) {
        if let Some(index) = self.map.remove(key) {
            self.unlink(index);
            let entry = self.slots[index as usize]
                .take()
                .expect("mapped slot is used");
            self.bytes -= entry.cost();
            self.free.push(index);
        }
    }

    fn shrink_to(&mut self, target: usize) {
        while self.bytes > target && self.tail != NIL {
            let key = self.slots[self.tail as usize]
                .as_ref()
                .expect("linked slot is used")
                .key
                .clone();
            self.remove(&key);
            self.evictions += 1;
        }
        // Give back the slab when it has become mostly free (after a burst).
        if self.map.is_empty() {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next) = {
            let e = self.slots[index as usize].as_ref().expect("used");
            (e.prev, e.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].as_mut().expect("used").next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].as_mut().expect("used").prev = prev,
        }
    }

    fn push_front(&mut self, index: u32) {
        let old = self.head;
        {
            let e = self.slots[index as usize].as_mut().expect("used");
            e.prev = NIL;
            e.next = old;
        }
        if old != NIL {
            self.slots[old as usize].as_mut().expect("used").prev = index;
        } else {
            self.tail = index;
        }
        self.head = index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_age_and_entries_expire() {
        let t0 = Instant::now();
        let mut c = Cache::new(100_000);
        let mut resp = vec![0u8; 20];
        resp[10..14].copy_from_slice(&300u32.to_be_bytes());
        c.insert(b"k", &resp, &[10], 60, t0);
        let mut out = Vec::new();
        assert!(c.get(b"k", t0 + Duration::from_secs(15), &mut out));
        assert_eq!(&out[10..14], &285u32.to_be_bytes());
        assert!(
            !c.get(b"k", t0 + Duration::from_secs(60), &mut out),
            "expired"
        );
        assert_eq!((c.len(), c.bytes()), (0, 0));
    }

    #[test]
    fn the_byte_bound_holds_and_lru_goes_first() {
        let t0 = Instant::now();
        let mut c = Cache::new(20_000);
        let resp = [7u8; 200];
        let mut out = Vec::new();
        for i in 0..1000u32 {
            c.insert(&i.to_be_bytes(), &resp, &[], 600, t0);
            // Keep key 0 hot.
            assert!(c.get(&0u32.to_be_bytes(), t0, &mut out), "{i}");
            assert!(c.bytes() <= 20_000);
        }
        assert!(c.len() > 10 && c.len() < 100, "{}", c.len());
        assert!(
            !c.get(&1u32.to_be_bytes(), t0, &mut out),
            "cold entry evicted"
        );
        assert!(c.get(&999u32.to_be_bytes(), t0, &mut out));
        assert!(c.evictions > 900);
        c.set_limit(0);
        assert_eq!((c.len(), c.bytes()), (0, 0));
    }
}
