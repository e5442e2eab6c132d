//! IPv4 SYNs held for a simultaneous open (RFC 6146 §3.5.2.2): a SYN from the IPv4 side to a
//! pool address and port nothing is bound to waits `tcp_incoming_syn` seconds for the IPv6
//! host's own SYN, which creates the binding, and is translated then; unclaimed, it is
//! answered with ICMP Port Unreachable. A fixed number of slots, allocated once: when they
//! are all taken, further SYNs are dropped (memory stays bounded whatever the IPv4 side sends).

#![forbid(unsafe_code)]

use crate::packet_buf::PacketBuf;

pub(crate) const HELD_SYN_SLOTS: usize = 16;
/// A SYN with options (60 bytes of TCP header) and some data (TCP Fast Open) fits; bigger
/// ones are not held.
const HELD_SYN_BYTES: usize = 576;

/// The flow a held SYN belongs to: the IPv4 peer and the pool address and port it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SynKey {
    pub remote: [u8; 4],
    pub remote_port: u16,
    pub pool: [u8; 4],
    pub pool_port: u16,
}

#[derive(Clone, Copy)]
struct Held {
    key: SynKey,
    len: usize,
    expires: u64,
}

pub(crate) struct HeldSyns {
    slots: [Option<Held>; HELD_SYN_SLOTS],
    data: Box<[u8]>,
}

impl HeldSyns {
    pub fn new() -> HeldSyns {
        HeldSyns {
            slots: [None; HELD_SYN_SLOTS],
            data: vec![0; HELD_SYN_SLOTS * HELD_SYN_BYTES].into_boxed_slice(),
        }
    }

    /// Holds `packet` until `expires`; a retransmission replaces the SYN it repeats (and
    /// keeps its deadline). False when it cannot be held (too big, or no free slot).
    pub fn hold(&mut self, packet: &[u8], key: SynKey, expires: u64) -> bool {
        if packet.len() > HELD_SYN_BYTES {
            return false;
        }
        let same = self.position(|s| s.key == key);
        let Some(slot) = same.or_else(|| self.slots.iter().position(Option::is_none)) else {
            return false;
        };
        let expires = self.slots[slot].map_or(expires, |s| s.expires);
        self.data[slot * HELD_SYN_BYTES..][..packet.len()].copy_from_slice(packet);
        self.slots[slot] = Some(Held {
            key,
            len: packet.len(),
            expires,
        });
        true
    }

    /// Moves the SYN held for `key` into `into`, if there is one.
    pub fn take(&mut self, key: SynKey, into: &mut PacketBuf) -> bool {
        self.take_first(|s| s.key == key, into)
    }

    /// The earliest deadline of a held SYN.
    pub fn next_expiry(&self) -> Option<u64> {
        self.slots.iter().flatten().map(|s| s.expires).min()
    }

    /// Moves a SYN whose time ran out into `into`, if there is one, and forgets it.
    pub fn take_expired(&mut self, now: u64, into: &mut PacketBuf) -> bool {
        self.take_first(|s| s.expires <= now, into)
    }

    /// Moves the first held SYN that `which` picks into `into` and frees its slot.
    fn take_first(&mut self, which: impl Fn(&Held) -> bool, into: &mut PacketBuf) -> bool {
        let Some(slot) = self.position(which) else {
            return false;
        };
        let held = self.slots[slot].take().expect("found");
        into.load(&self.data[slot * HELD_SYN_BYTES..][..held.len]);
        true
    }

    /// The slot of the first held SYN that `which` picks.
    fn position(&self, which: impl Fn(&Held) -> bool) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(&which))
    }
}
