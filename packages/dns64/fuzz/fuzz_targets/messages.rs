//! Arbitrary bytes as a client query, then as upstream responses to whatever the core asked
//! (raw, and with the real ID and question spliced in so the answer paths are reached), with
//! timers firing in between; and the whole input as a TCP stream, split into frames.
//! Invariants: no panic, the cache stays within its bound, every upstream query parses,
//! nothing stays pending after the query timeout.
#![no_main]

use std::time::{Duration, Instant};

use dns64::resolver::Config;
use dns64::tcp;
use dns64::wire::Message;
use dns64::{Client, Dns64, Output};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let split = (u16::from_be_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (query, mut rest) = data[2..].split_at(split);
    let config = Config {
        cache_bytes: 4096,
        ..Config::default()
    };
    let mut id = 0u16;
    let mut core = Dns64::new(
        config.clone(),
        vec![
            "192.0.2.1:53".parse().unwrap(),
            "[2001:db8::1]:53".parse().unwrap(),
        ],
        Box::new(move || {
            id = id.wrapping_add(7919);
            id
        }),
    );
    let t0 = Instant::now();
    let client = Client::Udp {
        socket: 0,
        addr: "[2001:db8::2]:5353".parse().unwrap(),
        local: None,
    };
    core.handle_query(query, client, t0);
    core.handle_query(query, Client::Tcp { conn: 1 }, t0);
    // The whole input as a TCP stream arriving in pieces: every complete frame is one query.
    let mut conn = tcp::Connection::new(t0);
    let mut frames = 0;
    for piece in data.chunks(usize::from(data[2]) + 1) {
        conn.received(piece, t0);
        while let Some(q) = conn.next_query() {
            frames += 1;
            core.handle_query(q, Client::Tcp { conn: 2 }, t0);
        }
    }
    assert!(frames <= data.len() / tcp::PREFIX_LEN);
    let mut now = t0;
    for round in 0..8 {
        let mut sent = Vec::new();
        while let Some(o) = core.poll_output() {
            if let Output::ToUpstream {
                token,
                server,
                data,
                ..
            } = o
            {
                Message::parse(&data).expect("our upstream queries are well-formed");
                sent.push((token, server, data));
            }
        }
        for (token, server, asked) in sent {
            if rest.is_empty() {
                break;
            }
            let take = (rest[0] as usize * 8).min(rest.len() - 1);
            let mut answer = rest[1..1 + take].to_vec();
            rest = &rest[1 + take..];
            if round % 2 == 0 {
                // Splice in our ID and question: the response paths past the spoofing checks.
                let q = Message::parse(&asked).unwrap();
                let head = &asked[..q.question_end()];
                if answer.len() < head.len() {
                    answer.resize(head.len(), 0);
                }
                answer[..head.len()].copy_from_slice(head);
                answer[2] |= 0x80;
                if answer.len() >= 12 {
                    answer[4] = 0;
                    answer[5] = 1;
                }
            }
            core.handle_response(token, server, &answer, now);
        }
        now += Duration::from_millis(700);
        core.handle_timeout(now);
        assert!(core.cache_bytes() <= config.cache_bytes);
    }
    now = t0 + config.query_timeout + Duration::from_secs(10);
    core.handle_timeout(now);
    while core.poll_output().is_some() {}
    // Later attempts may start up to query_timeout after the first; all end by then.
    core.handle_timeout(now + config.query_timeout);
    assert_eq!(core.pending_len(), 0);
});
