//! Arbitrary bytes as a received RIPng packet through the wire view: no panic, and whatever
//! `new_checked` accepts reads back exactly, RTE by RTE, through the `Writer` (the seeds are
//! the BIRD and FRR packets of tests/fixtures). The core's packet handling joins this target
//! when it lands.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ripng::wire::{Command, Packet, Writer, HEADER_LEN, RTE_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        // Refused: a length that is not a header plus whole RTEs, or a bad version/command.
        let whole = data.len() >= HEADER_LEN && (data.len() - HEADER_LEN) % RTE_LEN == 0;
        assert!(!whole || data[1] != 1 || !(1..=2).contains(&data[0]));
        return;
    };
    let count = packet.rte_count();
    assert_eq!(HEADER_LEN + count * RTE_LEN, data.len());
    let command = packet.command();
    assert_eq!(command as u8, data[0]);
    if packet.is_whole_table_request() {
        assert_eq!((command, count), (Command::Request, 1));
    }
    // Round trip: the RTEs written again give the same bytes (the must-be-zero field is
    // written as zero, whatever came in).
    let mut out = vec![0u8; data.len().max(HEADER_LEN + RTE_LEN)];
    let mut writer = Writer::new(&mut out, command).expect("room for one RTE");
    let mut seen = 0;
    for rte in packet.rtes() {
        assert!(writer.push(&rte));
        assert_eq!(rte.is_next_hop(), rte.metric == 0xff);
        seen += 1;
    }
    assert_eq!(seen, count);
    let len = writer.finish();
    assert_eq!(len, data.len());
    assert_eq!(out[..2], data[..2]);
    assert_eq!(out[HEADER_LEN..len], data[HEADER_LEN..]);
});
