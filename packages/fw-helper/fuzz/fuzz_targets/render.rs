//! Arbitrary UCI text through config, model and render, for both backends. Since nft text is
//! the only way rules reach nft, the invariant is that config values cannot write nft syntax:
//! outside quoted strings a rendered line holds only the renderer's own words, numbers and
//! addresses; each quoted string is a valid device name where a device goes, or the comment at
//! the end of the line; and no set is empty.

#![no_main]

use std::path::Path;

use fw_helper::config::{self, DevPattern};
use fw_helper::model;
use fw_helper::render::{fw4_snippets, own_table};
use libfuzzer_sys::fuzz_target;
use v6only_common::uci::Package;
use v6only_common::validate::Datatype;

fn check_line(line: &str) {
    let pieces: Vec<&str> = line.split('"').collect();
    assert!(pieces.len() % 2 == 1, "unbalanced quotes: {line}");
    let quoted = pieces.len() / 2;
    for (n, piece) in pieces.iter().enumerate() {
        if n % 2 == 0 {
            let own_syntax = |c: char| c.is_ascii_alphanumeric() || " \t{},./:!_-;".contains(c);
            assert!(piece.chars().all(own_syntax), "unquoted: {line}");
            assert!(
                !piece.contains("{ }") && !piece.contains("{  }"),
                "empty set: {line}"
            );
            continue;
        }
        let (before, after) = (pieces[n - 1], pieces[n + 1]);
        if n == 2 * quoted - 1 {
            // The last quoted string is the rule's comment, at the end of the line.
            assert!(before.ends_with(" comment ") && after.is_empty(), "{line}");
            assert!(
                piece.starts_with("!v6only: ") && !piece.contains('\\'),
                "{line}"
            );
        } else {
            // Any other is a device name, alone or in a set, after iifname/oifname.
            let opens = ["iifname ", "oifname ", "iifname { ", "oifname { ", ", "];
            assert!(opens.iter().any(|o| before.ends_with(o)), "{line}");
            assert!(after.starts_with(' ') || after.starts_with(", "), "{line}");
            assert!(DevPattern::parse_value(piece).is_some(), "device: {line}");
        }
    }
    // ';' is the base chain header's, never a rule's.
    if line.contains(';') {
        assert!(line.trim_start().starts_with("type "), "{line}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(main) = Package::parse(Path::new("fuzz"), &text) else {
        return;
    };
    let Ok(cfg) = config::from_packages(&main, &[]) else {
        return;
    };
    for standalone in [true, false] {
        let Ok(rs) = model::build(&cfg, &cfg.zones, standalone) else {
            continue;
        };
        for line in own_table(&rs, &cfg.table).lines() {
            check_line(line);
        }
        for snippet in fw4_snippets(&rs).values() {
            for line in snippet.lines().filter(|l| !l.starts_with('#')) {
                assert!(!line.contains(';'), "{line}");
                check_line(line);
            }
        }
    }
});
