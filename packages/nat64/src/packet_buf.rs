//! The buffer a packet is read into and translated in, and the TUN offload state that goes
//! with it.

#![forbid(unsafe_code)]

use crate::checksum;
use crate::wire::IPV6_HEADER;

/// Bytes kept free before a received packet for the IPv6 header growth.
pub const HEADROOM: usize = 64;
/// The largest packet read from the TUN device.
pub const MAX_PACKET: usize = IPV6_HEADER + 65535;

/// The UDP checksum field's offset: a partial UDP checksum that completes to zero is sent
/// as 0xffff (RFC 768), zero meaning "none".
const UDP_CHECKSUM_OFFSET: u16 = 6;

/// What the kernel left to do on a packet (TUN with IFF_VNET_HDR), and what it is asked
/// to do on the translation: complete a partial checksum, segment a TCP super-packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// The transport checksum field holds only the pseudo-header sum (not complemented).
    pub partial: bool,
    /// For `partial`: where summing starts, and the checksum field's offset from there.
    pub csum_start: u16,
    pub csum_offset: u16,
    /// TCP segmentation offload: payload bytes per segment; 0 for an ordinary packet.
    pub gso_size: u16,
    /// The segments carry ECN (CWR) handling.
    pub gso_ecn: bool,
}

impl Offload {
    pub const NONE: Offload = Offload {
        partial: false,
        csum_start: 0,
        csum_offset: 0,
        gso_size: 0,
        gso_ecn: false,
    };
}

/// A reused packet buffer: the packet is `data[start..end]`, with room before it for a
/// header that grows in translation.
pub struct PacketBuf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
    /// Offload state of the packet in the buffer.
    pub offload: Offload,
}

impl Default for PacketBuf {
    fn default() -> Self {
        PacketBuf::new()
    }
}

impl PacketBuf {
    pub fn new() -> PacketBuf {
        PacketBuf {
            data: vec![0; HEADROOM + MAX_PACKET].into_boxed_slice(),
            start: HEADROOM,
            end: HEADROOM,
            offload: Offload::NONE,
        }
    }
    /// Where to read the next packet into.
    pub fn recv_area(&mut self) -> &mut [u8] {
        &mut self.data[HEADROOM..]
    }
    /// Marks `len` bytes of [`PacketBuf::recv_area`] as the packet.
    pub fn set_received(&mut self, len: usize) {
        self.start = HEADROOM;
        self.end = HEADROOM + len.min(MAX_PACKET);
        self.offload = Offload::NONE;
    }
    /// Copies `bytes` in as the packet (tests, fuzzing).
    pub fn load(&mut self, bytes: &[u8]) {
        let len = bytes.len().min(MAX_PACKET);
        self.recv_area()[..len].copy_from_slice(&bytes[..len]);
        self.set_received(len);
    }
    pub fn packet(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    /// Where the buffer lies in memory: tells a packet in it from one built elsewhere
    /// (see [`crate::outbox::Outbox`]).
    pub fn span(&self) -> std::ops::Range<usize> {
        let at = self.data.as_ptr() as usize;
        at..at + self.data.len()
    }
    /// Bytes of the buffer by offset from its start (a range [`PacketBuf::span`] told).
    pub fn bytes(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.data[range]
    }
    pub(crate) fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.end]
    }
    /// Drops what follows the first `len` bytes (link padding after the IP total length).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.end = self.end.min(self.start + len);
    }
    /// Replaces the first `old_len` bytes (the IP header) by `new_len` bytes, still to be
    /// written: the packet now starts `new_len` bytes before the end of the old header.
    /// `new_len - old_len` may not exceed the room left before the packet.
    pub(crate) fn replace_header(&mut self, old_len: usize, new_len: usize) -> &mut [u8] {
        self.start = self.start + old_len - new_len;
        self.packet_mut()
    }
    /// Completes a partial checksum in software, as the kernel would have.
    pub(crate) fn complete_checksum(&mut self) -> bool {
        let start = self.offload.csum_start as usize;
        let offset = self.offload.csum_offset;
        let at = start + offset as usize;
        let packet = self.packet_mut();
        if at + 2 > packet.len() {
            return false;
        }
        let mut sum = checksum::finish(checksum::add(0, &packet[start..]));
        if sum == 0 && offset == UDP_CHECKSUM_OFFSET {
            sum = 0xffff;
        }
        packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        self.offload.partial = false;
        true
    }
}
