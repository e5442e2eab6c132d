//! The route table: entries in one vector in the order their prefixes first came, and a hash
//! index beside it.
//!
//! Arrival order, not prefix order: a neighbour sends its table in the same order every
//! update (BIRD in its hash order), so refreshing 10,000 routes reads our table front to back
//! as well, where a table in prefix order was read in a random order that missed the cache
//! for nearly every route (half the CPU of an update cycle). A periodic update reads it front
//! to back too. The index finds an RTE's route in a step or two.
//!
//! A removed entry leaves a hole, so that the positions of updates being sent a packet at a
//! time ([`Cursor`]) stay right; [`Table::compact`] closes the holes and moves those cursors.

use crate::prefix::Prefix;

#[derive(Debug, Clone)]
pub struct Table<V> {
    /// None: removed (a hole until `compact`; its prefix stays indexed, so that the route
    /// coming back takes its old place).
    entries: Vec<(Prefix, Option<V>)>,
    holes: usize,
    /// Open addressing, linear probing: positions in `entries` (EMPTY: a free slot); at
    /// least twice as many slots as entries.
    index: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

/// Where a walk of [`Table::after`] goes on from: a position in the table, kept right by
/// [`Table::compact`].
pub type Cursor = usize;

/// A slot for `prefix` in an index of `slots` (a power of two) slots.
#[inline(always)]
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
            holes: 0,
            index: Vec::new(),
        }
    }
}

impl<V> Table<V> {
    /// The position of `prefix`'s entry (perhaps a hole).
    #[inline(always)]
    fn position(&self, prefix: &Prefix) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut s = slot(prefix, self.index.len());
        loop {
            match self.index[s] {
                EMPTY => return None,
                i if self.entries[i as usize].0 == *prefix => return Some(i as usize),
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// Every position again, in an index of at least twice as many slots as entries.
    fn reindex(&mut self) {
        let slots = (self.entries.len() * 2).next_power_of_two().max(16);
        self.index.clear();
        self.index.resize(slots, EMPTY);
        if self.index.capacity() > slots * 2 {
            self.index.shrink_to_fit();
        }
        for i in 0..self.entries.len() {
            self.index_entry(i);
        }
    }

    fn index_entry(&mut self, i: usize) {
        let mask = self.index.len() - 1;
        let mut s = slot(&self.entries[i].0, self.index.len());
        while self.index[s] != EMPTY {
            s = (s + 1) & mask;
        }
        self.index[s] = i as u32;
    }

    /// The position of `prefix`'s entry, `hint` tried first. A neighbour's RTEs come in
    /// the order of our table (see above), so the one after the last is usually next.
    #[inline(always)]
    pub fn locate(&self, prefix: &Prefix, hint: Cursor) -> Option<Cursor> {
        match self.entries.get(hint) {
            Some((p, _)) if p == prefix => Some(hint),
            _ => self.position(prefix),
        }
    }

    /// The entry at a position from [`Table::locate`] (None: a hole).
    #[inline(always)]
    pub fn at_mut(&mut self, position: Cursor) -> Option<&mut V> {
        self.entries.get_mut(position)?.1.as_mut()
    }

    #[inline(always)]
    pub fn get(&self, prefix: &Prefix) -> Option<&V> {
        self.entries[self.position(prefix)?].1.as_ref()
    }

    #[inline(always)]
    pub fn get_mut(&mut self, prefix: &Prefix) -> Option<&mut V> {
        let i = self.position(prefix)?;
        self.entries[i].1.as_mut()
    }

    /// Adds or replaces the entry of `prefix`. A new prefix goes at the end (a walk in
    /// progress sees it); one that was removed goes back to its place.
    pub fn insert(&mut self, prefix: Prefix, value: V) {
        if let Some(i) = self.position(&prefix) {
            if self.entries[i].1.replace(value).is_none() {
                self.holes -= 1;
            }
            return;
        }
        if self.entries.len() == self.entries.capacity() {
            // Grow by an eighth, not double: 10,000 routes leave no 6,000 empty slots.
            let more = (self.entries.len() / 8).max(16);
            self.entries.reserve_exact(more);
        }
        self.entries.push((prefix, Some(value)));
        if self.entries.len() * 2 > self.index.len() {
            self.reindex();
        } else {
            self.index_entry(self.entries.len() - 1);
        }
    }

    pub fn remove(&mut self, prefix: &Prefix) -> Option<V> {
        let i = self.position(prefix)?;
        let v = self.entries[i].1.take()?;
        self.holes += 1;
        Some(v)
    }

    /// Removes every entry `keep` says no to.
    pub fn retain(&mut self, mut keep: impl FnMut(&Prefix, &V) -> bool) {
        for (p, v) in &mut self.entries {
            if v.as_ref().is_some_and(|v| !keep(p, v)) {
                *v = None;
                self.holes += 1;
            }
        }
    }

    /// Closes the holes once they are a good part of the table, moving `cursors` (the
    /// positions of walks in progress) with the entries.
    pub fn compact<'a>(&mut self, cursors: impl Iterator<Item = &'a mut Cursor>) {
        if self.holes <= self.entries.len() / 4 {
            return;
        }
        for c in cursors {
            // The entries before it that stay: where the walk goes on from now.
            *c = self.entries[..(*c).min(self.entries.len())]
                .iter()
                .filter(|(_, v)| v.is_some())
                .count();
        }
        self.entries.retain(|(_, v)| v.is_some());
        self.holes = 0;
        if self.entries.capacity() > self.entries.len() + self.entries.len() / 4 + 16 {
            self.entries.shrink_to_fit();
        }
        self.reindex();
    }

    pub fn len(&self) -> usize {
        self.entries.len() - self.holes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&Prefix, &V)> {
        self.entries
            .iter()
            .filter_map(|(p, v)| Some((p, v.as_ref()?)))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().filter_map(|(_, v)| v.as_ref())
    }

    /// The entries in prefix order, for people.
    pub fn sorted(&self) -> Vec<(&Prefix, &V)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by_key(|(p, _)| **p);
        all
    }

    /// The entries from `cursor` on (0: all), each with the cursor of the one after it.
    pub fn after(&self, cursor: Cursor) -> impl Iterator<Item = (Cursor, &Prefix, &V)> {
        let rest = self.entries.get(cursor..).unwrap_or_default();
        rest.iter()
            .zip(cursor + 1..)
            .filter_map(|((p, v), next)| Some((next, p, v.as_ref()?)))
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

    fn keys<V>(t: &Table<V>) -> Vec<String> {
        t.iter().map(|(k, _)| k.to_string()).collect()
    }

    #[test]
    fn a_map_in_arrival_order() {
        let mut t = Table::default();
        for i in [5u16, 1, 9, 3, 7] {
            t.insert(p(i, 48), i);
        }
        t.insert(p(3, 64), 33);
        t.insert(p(3, 48), 30); // replaces, in place
        assert_eq!((t.len(), t.get(&p(3, 64))), (6, Some(&33)));
        assert_eq!(
            keys(&t),
            [
                "2001:db8:5::/48",
                "2001:db8:1::/48",
                "2001:db8:9::/48",
                "2001:db8:3::/48",
                "2001:db8:7::/48",
                "2001:db8:3::/64"
            ]
        );
        let sorted: Vec<u16> = t.sorted().iter().map(|(_, v)| **v).collect();
        assert_eq!(sorted, [1, 30, 33, 5, 7, 9]);
        assert_eq!(t.get(&p(3, 48)), Some(&30));
        assert_eq!(t.get(&p(4, 48)), None);
        *t.get_mut(&p(9, 48)).unwrap() += 1;
        assert_eq!(t.get(&p(9, 48)), Some(&10));
        assert_eq!(t.remove(&p(1, 48)), Some(1));
        assert_eq!(t.remove(&p(1, 48)), None);
        assert_eq!(t.get(&p(1, 48)), None);
        assert_eq!(t.get_mut(&p(1, 48)), None);
        t.retain(|_, v| *v != 7);
        assert_eq!(t.values().copied().collect::<Vec<_>>(), [5, 10, 30, 33]);
        assert_eq!(t.len(), 4);
        // Back in its old place.
        t.insert(p(1, 48), 11);
        assert_eq!(t.values().copied().collect::<Vec<_>>(), [5, 11, 10, 30, 33]);
        assert!(!t.is_empty());
    }

    #[test]
    fn walks_go_on_where_they_were_across_compaction() {
        let mut t = Table::default();
        for i in 0..40u16 {
            t.insert(p(i, 48), i);
        }
        // A walk that stopped after 20 entries; another about to start.
        let (mut walk, mut fresh): (Cursor, Cursor) = (0, 0);
        for (next, _, v) in t.after(walk).take(20) {
            assert_eq!(*v, (next - 1) as u16);
            walk = next;
        }
        // Half the table goes, on both sides of the walk and at its last entry.
        t.retain(|_, v| v % 2 == 0);
        t.remove(&p(19, 48));
        assert_eq!(t.len(), 20);
        let rest: Vec<u16> = t.after(walk).map(|(_, _, v)| *v).collect();
        t.compact([&mut walk, &mut fresh].into_iter());
        assert_eq!(t.entries.len(), 20, "compacted");
        assert_eq!(t.after(walk).map(|(_, _, v)| *v).collect::<Vec<_>>(), rest);
        assert_eq!(rest, [20, 22, 24, 26, 28, 30, 32, 34, 36, 38]);
        assert_eq!(t.after(fresh).count(), 20);
        for i in (0..40u16).step_by(2) {
            assert_eq!(t.get(&p(i, 48)), Some(&i));
        }
        assert_eq!(t.get(&p(1, 48)), None);
        // A few holes are left alone.
        t.remove(&p(0, 48));
        t.compact(std::iter::empty());
        assert_eq!((t.entries.len(), t.len()), (20, 19));
        assert_eq!(t.after(100).count(), 0);
    }

    #[test]
    fn many_in_any_order() {
        let mut t = Table::default();
        let mut x = 12345u32;
        let mut want = std::collections::BTreeMap::new();
        for round in 0..20 {
            for _ in 0..100 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let key = p((x >> 16) as u16, 48);
                if x % 7 == 0 {
                    assert_eq!(t.remove(&key), want.remove(&key));
                } else {
                    t.insert(key, round);
                    want.insert(key, round);
                }
            }
            t.compact(std::iter::empty());
        }
        let got: Vec<(Prefix, i32)> = t.sorted().into_iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        assert!(t.entries.capacity() <= t.entries.len() + t.entries.len() / 4 + 16);
    }
}
