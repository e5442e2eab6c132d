//! What the translator remembers of fragmented packets. Fragments are translated one by one
//! (RFC 7915), not reassembled; only the first carries the ports, so:
//! - the first fragment's translation is remembered for the later ones (64 entries each
//!   way, 5 s);
//! - fragments that arrive before their first fragment (some IPv4 stacks send the last one
//!   first) are parked untranslated until it comes (8 slots of 2 KB);
//! - the translated first fragment of an ICMP echo is held until the last fragment tells
//!   the message length that the IPv6 pseudo-header, hence the checksum, needs (8 slots of
//!   2 KB).

#![forbid(unsafe_code)]

use crate::packet_buf::PacketBuf;
use crate::stats::{DropReason, Stats};

const TRANSLATION_SLOTS: usize = 64;
/// Seconds a fragmented packet's state is kept.
pub(crate) const FRAG_LIFETIME: u64 = 5;
pub(crate) const PARK_SLOTS: usize = 8;
const PARK_BYTES: usize = 2048;
const HOLD_SLOTS: usize = 8;
const HOLD_BYTES: usize = 2048;

/// An IPv6 packet's first fragment went out from this IPv4 source.
#[derive(Clone, Copy)]
pub(crate) struct Translation6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub ident: u32,
    pub src4: [u8; 4],
    pub expires: u64,
}

/// An IPv4 packet's first fragment went to this IPv6 host.
#[derive(Clone, Copy)]
pub(crate) struct Translation4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ident: u16,
    pub protocol: u8,
    pub dst6: [u8; 16],
    pub expires: u64,
}

/// A fragmented packet: IPv6 (source, destination, identification) or IPv4 (source,
/// destination, identification, protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragKey {
    V6([u8; 16], [u8; 16], u32),
    V4([u8; 4], [u8; 4], u16, u8),
}

#[derive(Clone, Copy)]
struct Parked {
    key: FragKey,
    len: usize,
    expires: u64,
}

/// A fragmented echo, by the addresses and identification it came with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoldKey {
    V6([u8; 16], [u8; 16], u32),
    V4([u8; 4], [u8; 4], u16),
}

/// A translated first fragment of an echo, and how to complete its checksum.
#[derive(Clone, Copy)]
pub(crate) struct Hold {
    pub key: HoldKey,
    pub len: usize,
    /// Checksum words to take out and put in once the length is known...
    pub removed: u32,
    pub added: u32,
    /// ...and on which side the pseudo-header length goes.
    pub length_added: bool,
    pub expires: u64,
}

pub(crate) struct Fragments {
    translations6: [Option<Translation6>; TRANSLATION_SLOTS],
    translations4: [Option<Translation4>; TRANSLATION_SLOTS],
    /// Round-robin victim when every slot is live.
    next_victim: usize,
    parked: [Option<Parked>; PARK_SLOTS],
    park_data: Box<[u8]>,
    held: [Option<Hold>; HOLD_SLOTS],
    hold_data: Box<[u8]>,
}

impl Fragments {
    pub fn new() -> Fragments {
        Fragments {
            translations6: [None; TRANSLATION_SLOTS],
            translations4: [None; TRANSLATION_SLOTS],
            next_victim: 0,
            parked: [None; PARK_SLOTS],
            park_data: vec![0; PARK_SLOTS * PARK_BYTES].into_boxed_slice(),
            held: [None; HOLD_SLOTS],
            hold_data: vec![0; HOLD_SLOTS * HOLD_BYTES].into_boxed_slice(),
        }
    }

    pub fn remember6(&mut self, entry: Translation6) {
        let now = entry.expires - FRAG_LIFETIME;
        let free = (self.translations6.iter()).position(|f| f.map_or(true, |f| f.expires <= now));
        let slot = free.unwrap_or(self.next_victim % TRANSLATION_SLOTS);
        self.next_victim = self.next_victim.wrapping_add(1);
        self.translations6[slot] = Some(entry);
    }

    pub fn remember4(&mut self, entry: Translation4) {
        let now = entry.expires - FRAG_LIFETIME;
        let free = (self.translations4.iter()).position(|f| f.map_or(true, |f| f.expires <= now));
        let slot = free.unwrap_or(self.next_victim % TRANSLATION_SLOTS);
        self.next_victim = self.next_victim.wrapping_add(1);
        self.translations4[slot] = Some(entry);
    }

    /// The IPv4 source of the packet whose first fragment was translated.
    pub fn source4(&self, key: FragKey, now: u64) -> Option<[u8; 4]> {
        let FragKey::V6(src, dst, ident) = key else {
            return None;
        };
        (self.translations6.iter().flatten())
            .find(|f| f.src == src && f.dst == dst && f.ident == ident && f.expires > now)
            .map(|f| f.src4)
    }

    /// The IPv6 destination of the packet whose first fragment was translated.
    pub fn destination6(&self, key: FragKey, now: u64) -> Option<[u8; 16]> {
        let FragKey::V4(src, dst, ident, protocol) = key else {
            return None;
        };
        (self.translations4.iter().flatten())
            .find(|f| {
                f.src == src
                    && f.dst == dst
                    && f.ident == ident
                    && f.protocol == protocol
                    && f.expires > now
            })
            .map(|f| f.dst6)
    }

    /// Keeps a fragment that came before its first fragment.
    pub fn park(
        &mut self,
        packet: &[u8],
        key: FragKey,
        now: u64,
        stats: &mut Stats,
    ) -> Result<(), DropReason> {
        if packet.len() > PARK_BYTES {
            return Err(DropReason::FragmentNoState);
        }
        let Some(slot) = (self.parked.iter()).position(|p| p.map_or(true, |p| p.expires <= now))
        else {
            return Err(DropReason::FragmentNoState);
        };
        if self.parked[slot].is_some() {
            stats.count_drop(DropReason::FragmentNoState); // expired unclaimed
        }
        self.park_data[slot * PARK_BYTES..slot * PARK_BYTES + packet.len()].copy_from_slice(packet);
        self.parked[slot] = Some(Parked {
            key,
            len: packet.len(),
            expires: now + FRAG_LIFETIME,
        });
        Ok(())
    }

    /// Forgets parked fragments whose first fragment did not come in time.
    pub fn expire_parked(&mut self, now: u64, stats: &mut Stats) {
        for slot in &mut self.parked {
            if slot.is_some_and(|p| p.expires <= now) {
                *slot = None;
                stats.count_drop(DropReason::FragmentNoState);
            }
        }
    }

    /// Moves the fragment parked in `slot` into `into`, if it belongs to `key` and is
    /// still live.
    pub fn unpark(&mut self, slot: usize, key: FragKey, now: u64, into: &mut PacketBuf) -> bool {
        let Some(p) = self.parked[slot] else {
            return false;
        };
        if p.key != key || p.expires <= now {
            return false;
        }
        self.parked[slot] = None;
        into.load(&self.park_data[slot * PARK_BYTES..slot * PARK_BYTES + p.len]);
        true
    }

    /// Keeps the translated first fragment of an echo.
    pub fn hold(&mut self, packet: &[u8], mut h: Hold) -> Result<(), DropReason> {
        if packet.len() > HOLD_BYTES {
            return Err(DropReason::IcmpFragment);
        }
        let now = h.expires - FRAG_LIFETIME;
        let free = (self.held.iter()).position(|x| x.map_or(true, |x| x.expires <= now));
        let slot = free.unwrap_or(self.next_victim % HOLD_SLOTS);
        self.next_victim = self.next_victim.wrapping_add(1);
        h.len = packet.len();
        self.hold_data[slot * HOLD_BYTES..slot * HOLD_BYTES + packet.len()].copy_from_slice(packet);
        self.held[slot] = Some(h);
        Ok(())
    }

    /// Takes the held first fragment of `key`, to be completed in place and sent.
    pub fn release(&mut self, key: HoldKey, now: u64) -> Option<(&mut [u8], Hold)> {
        let slot =
            (self.held.iter()).position(|x| x.is_some_and(|x| x.key == key && x.expires > now))?;
        let h = self.held[slot].take()?;
        Some((
            &mut self.hold_data[slot * HOLD_BYTES..slot * HOLD_BYTES + h.len],
            h,
        ))
    }
}
