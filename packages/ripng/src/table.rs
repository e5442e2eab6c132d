//! The route table: entries sorted by prefix in one vector, so that a periodic update reads
//! it front to back with no pointers to chase, and a hash index beside it, so that each RTE of
//! an update finds its route in a step or two whatever order the neighbour sends them in
//! (BIRD's is hash order: a binary search per RTE was a third of an update cycle).
//! Prefixes never seen before wait in a short side list until [`Table::settle`] merges them
//! in: one move of the table per packet, where inserting them one by one in that order would
//! move it once per route.

use crate::prefix::Prefix;

#[derive(Debug, Clone)]
pub struct Table<V> {
    entries: Vec<(Prefix, V)>,
    /// Inserted since the last `settle`, in arrival order.
    pending: Vec<(Prefix, V)>,
    /// Open addressing, linear probing: positions in `entries` (EMPTY: a free slot); at
    /// least twice as many slots as entries, rebuilt whenever entries move.
    index: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

/// A slot for `prefix` in an index of `slots` (a power of two) slots.
fn slot(prefix: &Prefix, slots: usize) -> usize {
    let (hi, lo, len) = prefix.parts();
    let h = (hi.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ lo.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        ^ u64::from(len))
    .wrapping_mul(0x1656_67b1_9e37_79f9);
    (h >> 32) as usize & (slots - 1)
}

impl<V> Default for Table<V> {
    fn default() -> Table<V> {
        Table {
            entries: Vec::new(),
            pending: Vec::new(),
            index: Vec::new(),
        }
    }
}

enum Place {
    Entry(usize),
    Pending(usize),
}

impl<V> Table<V> {
    /// Where `prefix` is in `entries`, or would go.
    fn find(&self, prefix: &Prefix) -> Result<usize, usize> {
        self.entries.binary_search_by(|(p, _)| p.cmp(prefix))
    }

    fn lookup(&self, prefix: &Prefix) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let mut s = slot(prefix, self.index.len());
        loop {
            match self.index[s] {
                EMPTY => return None,
                i if self.entries[i as usize].0 == *prefix => return Some(i as usize),
                _ => s = (s + 1) & (self.index.len() - 1),
            }
        }
    }

    /// After entries moved: every position again.
    fn reindex(&mut self) {
        let slots = (self.entries.len() * 2).next_power_of_two().max(16);
        self.index.clear();
        self.index.resize(slots, EMPTY);
        for (i, (p, _)) in self.entries.iter().enumerate() {
            let mut s = slot(p, slots);
            while self.index[s] != EMPTY {
                s = (s + 1) & (slots - 1);
            }
            self.index[s] = i as u32;
        }
        if self.index.capacity() > slots * 2 {
            self.index.shrink_to_fit();
        }
    }

    fn place(&self, prefix: &Prefix) -> Option<Place> {
        match self.lookup(prefix) {
            Some(i) => Some(Place::Entry(i)),
            None => self
                .pending
                .iter()
                .position(|(p, _)| p == prefix)
                .map(Place::Pending),
        }
    }

    pub fn get(&self, prefix: &Prefix) -> Option<&V> {
        match self.place(prefix)? {
            Place::Entry(i) => Some(&self.entries[i].1),
            Place::Pending(i) => Some(&self.pending[i].1),
        }
    }

    pub fn get_mut(&mut self, prefix: &Prefix) -> Option<&mut V> {
        match self.place(prefix)? {
            Place::Entry(i) => Some(&mut self.entries[i].1),
            Place::Pending(i) => Some(&mut self.pending[i].1),
        }
    }

    /// Adds or replaces the entry of `prefix`; a new one is seen by `iter`, `values` and
    /// `after` once the table is settled.
    pub fn insert(&mut self, prefix: Prefix, value: V) {
        match self.place(&prefix) {
            Some(Place::Entry(i)) => self.entries[i].1 = value,
            Some(Place::Pending(i)) => self.pending[i].1 = value,
            None => {
                self.pending.push((prefix, value));
                if self.pending.len() >= 256 {
                    self.settle();
                }
            }
        }
    }

    /// Merges the new entries in: the table is in order again.
    pub fn settle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable_by_key(|(p, _)| *p);
        let need = self.entries.len() + self.pending.len();
        if need > self.entries.capacity() {
            // Grow by an eighth, not double: 10,000 routes leave no 6,000 empty slots.
            self.entries
                .reserve_exact((need - self.entries.len()).max(need / 8));
        }
        self.entries.append(&mut self.pending);
        // Two sorted runs: the stable sort finds them and merges them in one pass.
        self.entries.sort_by_key(|(p, _)| *p);
        self.reindex();
    }

    pub fn remove(&mut self, prefix: &Prefix) -> Option<V> {
        match self.place(prefix)? {
            Place::Entry(i) => {
                let (_, v) = self.entries.remove(i);
                self.reindex();
                Some(v)
            }
            Place::Pending(i) => Some(self.pending.swap_remove(i).1),
        }
    }

    /// Removes every entry `keep` says no to, in one pass.
    pub fn retain(&mut self, mut keep: impl FnMut(&Prefix, &V) -> bool) {
        self.settle();
        self.entries.retain(|(p, v)| keep(p, v));
        if self.entries.capacity() > self.entries.len() + self.entries.len() / 4 + 16 {
            self.entries.shrink_to_fit();
        }
        self.reindex();
    }

    pub fn len(&self) -> usize {
        self.entries.len() + self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Prefix, &V)> {
        debug_assert!(self.pending.is_empty(), "iterating an unsettled table");
        self.entries.iter().map(|(p, v)| (p, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        debug_assert!(self.pending.is_empty(), "iterating an unsettled table");
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries after `prefix` (all, with None), in order.
    pub fn after(&self, prefix: Option<Prefix>) -> impl Iterator<Item = (&Prefix, &V)> {
        debug_assert!(self.pending.is_empty(), "iterating an unsettled table");
        let start = match prefix {
            None => 0,
            Some(p) => match self.find(&p) {
                Ok(i) => i + 1,
                Err(i) => i,
            },
        };
        self.entries[start..].iter().map(|(p, v)| (p, v))
    }
}

impl<'a, V> IntoIterator for &'a Table<V> {
    type Item = (&'a Prefix, &'a V);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Prefix, V)>,
        fn(&'a (Prefix, V)) -> (&'a Prefix, &'a V),
    >;
    fn into_iter(self) -> Self::IntoIter {
        debug_assert!(self.pending.is_empty(), "iterating an unsettled table");
        self.entries.iter().map(|(p, v)| (p, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: u16, len: u8) -> Prefix {
        Prefix::new(
            std::net::Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0),
            len,
        )
        .unwrap()
    }

    #[test]
    fn a_sorted_map() {
        let mut t = Table::default();
        for i in [5u16, 1, 9, 3, 7] {
            t.insert(p(i, 48), i);
        }
        t.insert(p(3, 64), 33);
        t.insert(p(3, 48), 30); // replaces
        assert_eq!((t.len(), t.get(&p(3, 64))), (6, Some(&33)));
        t.settle();
        let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "2001:db8:1::/48",
                "2001:db8:3::/48",
                "2001:db8:3::/64",
                "2001:db8:5::/48",
                "2001:db8:7::/48",
                "2001:db8:9::/48"
            ]
        );
        assert_eq!(t.get(&p(3, 48)), Some(&30));
        assert_eq!(t.get(&p(4, 48)), None);
        *t.get_mut(&p(9, 48)).unwrap() += 1;
        assert_eq!(t.get(&p(9, 48)), Some(&10));
        for (i, want) in [(1u16, 1), (3, 30), (5, 5), (7, 7), (9, 10)] {
            assert_eq!(t.get_mut(&p(i, 48)).copied(), Some(want));
        }
        let after: Vec<u16> = t.after(Some(p(3, 64))).map(|(_, v)| *v).collect();
        assert_eq!(after, [5, 7, 10]);
        let after: Vec<u16> = t.after(Some(p(4, 48))).map(|(_, v)| *v).collect();
        assert_eq!(after, [5, 7, 10]);
        assert_eq!(t.after(None).count(), 6);
        assert_eq!(t.remove(&p(5, 48)), Some(5));
        assert_eq!(t.remove(&p(5, 48)), None);
        t.retain(|_, v| *v != 7);
        assert_eq!(t.values().copied().collect::<Vec<_>>(), [1, 30, 33, 10]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn merges_any_order() {
        let mut t = Table::default();
        let mut x = 12345u32;
        let mut want = Vec::new();
        for round in 0..20 {
            for _ in 0..100 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let key = p((x >> 16) as u16, 48);
                t.insert(key, round);
                want.push(key);
            }
            t.settle();
        }
        want.sort();
        want.dedup();
        let keys: Vec<Prefix> = t.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, want);
        assert!(t.entries.capacity() <= want.len() + want.len() / 4 + 16);
    }
}
