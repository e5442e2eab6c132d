//! What the translation of one packet sends, kept until the translator is unlocked.
//!
//! With several workers (multi-queue TUN), the translator is shared behind a lock, and the
//! writes to the TUN device, which cost far more than the translation, happen after it is
//! released. A packet translated in place is remembered as a range of the worker's own
//! [`PacketBuf`] (nothing is copied; the core never touches a packet in the buffer again
//! once it has handed it out); one built in the translator's scratch buffer (ICMP errors,
//! fragments, TCP probes) is copied, since the next worker may overwrite it.

#![forbid(unsafe_code)]

use std::ops::Range;

use crate::packet_buf::{Offload, PacketBuf};

enum Bytes {
    /// Offsets into the worker's packet buffer.
    InBuf(Range<usize>),
    /// Offsets into `copies`.
    Copied(Range<usize>),
}

/// Reused from packet to packet: grows to the largest burst once (a 64 KB IPv4 packet in
/// IPv6 fragments), then allocates no more.
#[derive(Default)]
pub struct Outbox {
    packets: Vec<(Bytes, Offload)>,
    copies: Vec<u8>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox {
            packets: Vec::with_capacity(8),
            copies: Vec::with_capacity(2048),
        }
    }

    /// Forgets the previous packet's output.
    pub fn clear(&mut self) {
        self.packets.clear();
        self.copies.clear();
    }

    /// Keeps `packet`, handed out by the translator while `buf_span` (the
    /// [`PacketBuf::span`] of the buffer being translated) was the worker's buffer.
    pub fn push(&mut self, buf_span: &Range<usize>, packet: &[u8], offload: Offload) {
        let at = packet.as_ptr() as usize;
        let bytes = if buf_span.start <= at && at + packet.len() <= buf_span.end {
            let start = at - buf_span.start;
            Bytes::InBuf(start..start + packet.len())
        } else {
            let start = self.copies.len();
            self.copies.extend_from_slice(packet);
            Bytes::Copied(start..self.copies.len())
        };
        self.packets.push((bytes, offload));
    }

    /// The packets kept, in the order they were handed out; `buf` is the buffer whose span
    /// was given to [`Outbox::push`].
    pub fn packets<'a>(
        &'a self,
        buf: &'a PacketBuf,
    ) -> impl Iterator<Item = (&'a [u8], Offload)> + 'a {
        self.packets.iter().map(move |(bytes, offload)| {
            let packet = match bytes {
                Bytes::InBuf(r) => buf.bytes(r.clone()),
                Bytes::Copied(r) => &self.copies[r.clone()],
            };
            (packet, *offload)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_in_the_buffer_are_ranges_others_are_copied_in_order() {
        let mut buf = PacketBuf::new();
        buf.load(&[0x45, 1, 2, 3, 4, 5]);
        let span = buf.span();
        let mut scratch = vec![0x60u8, 9, 9];
        let mut outbox = Outbox::new();
        let offload = Offload {
            partial: true,
            csum_start: 20,
            csum_offset: 16,
            gso_size: 0,
            gso_ecn: false,
        };
        outbox.push(&span, &scratch, Offload::NONE);
        outbox.push(&span, &buf.packet()[..4], offload);
        // The scratch buffer is reused at once: the copy must not change with it.
        scratch[1] = 7;
        outbox.push(&span, &scratch, Offload::NONE);
        let got: Vec<(Vec<u8>, Offload)> =
            outbox.packets(&buf).map(|(p, o)| (p.to_vec(), o)).collect();
        assert_eq!(
            got,
            vec![
                (vec![0x60, 9, 9], Offload::NONE),
                (vec![0x45, 1, 2, 3], offload),
                (vec![0x60, 7, 9], Offload::NONE),
            ]
        );
        assert!(matches!(outbox.packets[1].0, Bytes::InBuf(_)));
        outbox.clear();
        assert_eq!(outbox.packets(&buf).count(), 0);
    }
}
