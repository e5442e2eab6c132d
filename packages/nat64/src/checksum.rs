//! Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Sums are kept as unfolded `u32` accumulators of 16-bit big-endian words so that
//! several pieces (pseudo-header, header, payload) can be added before folding.

#![forbid(unsafe_code)]

/// Adds `data` as big-endian 16-bit words to `sum` (an odd last byte is padded with zero).
/// The result stays below 2^18, so that a few small values may be added before folding.
pub fn add(sum: u32, data: &[u8]) -> u32 {
    // Four bytes at a time into a 64-bit accumulator: 2^16 = 1 (mod 2^16 - 1), so a 32-bit
    // word adds the same as its two 16-bit halves would, with half the steps and no folding
    // inside the loop (the per-packet headers are summed here).
    let mut acc = sum as u64;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64;
    }
    acc += match *words.remainder() {
        [a, b, c] => u32::from_be_bytes([a, b, c, 0]),
        [a, b] => u32::from_be_bytes([a, b, 0, 0]),
        [a] => u32::from_be_bytes([a, 0, 0, 0]),
        _ => 0,
    } as u64;
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    ((acc & 0xffff) + (acc >> 16)) as u32
}

/// Folds a sum to 16 bits (ones' complement addition of the carries).
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum field value for data whose unfolded sum is `sum`.
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// IPv4 pseudo-header sum (RFC 768/793).
pub fn pseudo_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u32) -> u32 {
    let sum = add(add(0, &src), &dst);
    sum + protocol as u32 + (length & 0xffff) + (length >> 16)
}

/// IPv6 pseudo-header sum (RFC 8200 §8.1).
pub fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, length: u32) -> u32 {
    let sum = add(add(0, src), dst);
    sum + (length >> 16) + (length & 0xffff) + next_header as u32
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`, where `m` is the folded sum of the words
/// taken out and `m'` of the words put in. Works for any number of changed words because
/// ones' complement addition is associative.
pub fn update(checksum: u16, removed: u32, added: u32) -> u16 {
    let removed = fold(removed);
    let added = fold(added);
    let sum = (!checksum as u32) + (!removed as u32) + added as u32;
    !fold(sum)
}

/// Same as [`update`] for UDP over IPv4/IPv6, where 0 means "no checksum" and a computed
/// zero is sent as 0xffff (RFC 768).
pub fn update_udp(checksum: u16, removed: u32, added: u32) -> u16 {
    match update(checksum, removed, added) {
        0 => 0xffff,
        c => c,
    }
}

/// The same update for a partial checksum (the kernel's CHECKSUM_PARTIAL: the field holds
/// the pseudo-header sum itself, not its complement).
pub fn update_partial(partial: u16, removed: u32, added: u32) -> u16 {
    fold(partial as u32 + !fold(removed) as u32 + fold(added) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &data)), 0xddf2);
        assert_eq!(finish(add(0, &data)), !0xddf2);
    }

    /// The word-by-word sum of RFC 1071, folded, for comparison.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        for pair in data.chunks(2) {
            sum += u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]) as u64;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn agrees_with_the_word_by_word_sum() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 131 + 7) as u8).collect();
        for len in (0..100).chain([1279, 1280, 65535, 70_000]) {
            for start in 0..3 {
                let piece = &data[start..start + len.min(data.len() - start)];
                assert_eq!(
                    fold(add(0, piece)),
                    reference(piece),
                    "len {len} at {start}"
                );
            }
        }
        // All ones: the sum is 0xffff (negative zero), never folded to 0.
        assert_eq!(fold(add(0, &[0xff; 65534])), 0xffff);
        assert_eq!(fold(add(0, &[0; 40])), 0);
        // A carried-in sum at the top of its range: 0x3fffe = 4 * 0xffff + 2 folds to 2.
        assert_eq!(fold(add(0x3_fffe, &[0x80, 0x01])), 0x8003);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(add(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_matches_full_recompute() {
        let mut data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        data[10] = 0;
        data[11] = 0;
        let csum = finish(add(0, &data));
        data[10..12].copy_from_slice(&csum.to_be_bytes());
        assert_eq!(finish(add(0, &data)), 0, "a correct checksum sums to zero");
        // Change four words and update incrementally.
        let old = data[40..48].to_vec();
        let new = [0xff, 0xff, 0x00, 0x00, 0x12, 0x34, 0xab, 0xcd];
        let updated = update(csum, add(0, &old), add(0, &new));
        data[40..48].copy_from_slice(&new);
        data[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, finish(add(0, &data)));
    }

    #[test]
    fn rfc1624_example() {
        // RFC 1624 §4: HC=0xdd2f, m=0x5555 changes to m'=0x3285 gives HC'=0x0000.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}
