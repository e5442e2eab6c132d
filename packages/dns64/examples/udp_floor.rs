//! The floor under dns64's cached path, for `bench/dns64.sh`: a UDP responder that does
//! nothing but answer each query with a fixed AAAA record, through the same socket calls as
//! the daemon (poll, then up to 4 rounds of recvmmsg with 32 datagrams of 4096 bytes and
//! room for a control message each, one sendmmsg per round). What dns64 spends above this
//! is its own work; what it spends at this level is the kernel's UDP path and the calls.
//!
//!   cargo run --release -p dns64 --example udp_floor -- 127.0.0.4:53
//!
//! Not shipped. The answer is the least a real one holds: header, the question, one AAAA
//! record with the name written out as dns64's writer does (72 bytes in the bench; dns64's
//! own carries the upstream's authority and additional records too, 138 bytes there).

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

const BATCH: usize = 32;
const BATCHES_PER_ROUND: usize = 4;
const MAX_UDP_QUERY: usize = 4096;
/// Header, a question of at most 255 + 4 bytes, the record: name, 10 bytes, 16 of address.
const MAX_ANSWER: usize = 12 + 259 + 255 + 26;
/// 64:ff9b::198.51.100.1, what the bench zone's A record becomes.
const AAAA: [u8; 16] = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 1];

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.4:53".into());
    let socket = UdpSocket::bind(&addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    socket.set_nonblocking(true).expect("non-blocking");
    let fd = socket.as_raw_fd();
    // Allocated once: the loop below allocates nothing.
    let mut queries = vec![0u8; BATCH * MAX_UDP_QUERY];
    let mut answers = vec![0u8; BATCH * MAX_ANSWER];
    let mut answered: u64 = 0;
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, -1) } < 0 {
            continue;
        }
        for _ in 0..BATCHES_PER_ROUND {
            let n = round(fd, &mut queries, &mut answers);
            answered += n as u64;
            if n < BATCH {
                break;
            }
        }
        // Keeps the count observable (and the loop from being anything but what it is).
        std::hint::black_box(answered);
    }
}

/// One recvmmsg and one sendmmsg; returns the number of datagrams received.
fn round(fd: i32, queries: &mut [u8], answers: &mut [u8]) -> usize {
    // SAFETY: zeroed mmsghdr/iovec/sockaddr_storage are valid; every pointer points into
    // `queries`, `answers` or the local arrays, all alive across both calls.
    unsafe {
        let mut storage: [libc::sockaddr_storage; BATCH] = std::mem::zeroed();
        let mut iov: [libc::iovec; BATCH] = std::mem::zeroed();
        let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
        let mut control: [[u64; 8]; BATCH] = [[0; 8]; BATCH];
        for i in 0..BATCH {
            hdrs[i].msg_hdr.msg_control = control[i].as_mut_ptr().cast();
            hdrs[i].msg_hdr.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
            iov[i].iov_base = queries.as_mut_ptr().add(i * MAX_UDP_QUERY).cast();
            iov[i].iov_len = MAX_UDP_QUERY;
            hdrs[i].msg_hdr.msg_name = (&mut storage[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        let n = libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            BATCH as _,
            libc::MSG_DONTWAIT as _,
            std::ptr::null_mut(),
        );
        if n <= 0 {
            return 0;
        }
        let n = n as usize;
        // Same headers for the answers: the source addresses stay where the kernel put them.
        let mut out = 0;
        for i in 0..n {
            let query = &queries[i * MAX_UDP_QUERY..i * MAX_UDP_QUERY + hdrs[i].msg_len as usize];
            let answer = &mut answers[i * MAX_ANSWER..(i + 1) * MAX_ANSWER];
            let Some(len) = answer_to(query, answer) else {
                continue;
            };
            iov[out].iov_base = answer.as_mut_ptr().cast();
            iov[out].iov_len = len;
            storage[out] = storage[i];
            hdrs[out].msg_hdr.msg_namelen = hdrs[i].msg_hdr.msg_namelen;
            hdrs[out].msg_hdr.msg_name = (&mut storage[out] as *mut libc::sockaddr_storage).cast();
            hdrs[out].msg_hdr.msg_iov = &mut iov[out];
            hdrs[out].msg_hdr.msg_control = std::ptr::null_mut();
            hdrs[out].msg_hdr.msg_controllen = 0;
            out += 1;
        }
        let mut sent = 0;
        while sent < out {
            let k = libc::sendmmsg(fd, hdrs.as_mut_ptr().add(sent), (out - sent) as _, 0);
            // Like dns64: a datagram that cannot go is skipped, not retried.
            sent += if k <= 0 { 1 } else { k as usize };
        }
        n
    }
}

/// Writes the fixed answer to `query` (its id, flags and question) into `out`.
fn answer_to(query: &[u8], out: &mut [u8]) -> Option<usize> {
    if query.len() < 12 {
        return None;
    }
    // The question's name: labels up to the root (no compression in a question we accept).
    let mut end = 12;
    loop {
        let len = *query.get(end)? as usize;
        if len == 0 || len > 63 {
            break;
        }
        end += 1 + len;
    }
    if query.get(end) != Some(&0) || end + 5 > query.len() {
        return None;
    }
    let name = &query[12..=end];
    let question_end = end + 5;
    out[..question_end].copy_from_slice(&query[..question_end]);
    // QR, the opcode and RD kept, RA; one question, one answer, nothing else.
    out[2] = 0x80 | (query[2] & 0x79);
    out[3] = 0x80;
    out[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    let mut at = question_end;
    out[at..at + name.len()].copy_from_slice(name);
    at += name.len();
    // AAAA IN, TTL 3600, 16 bytes.
    out[at..at + 10].copy_from_slice(&[0, 28, 0, 1, 0, 0, 0x0e, 0x10, 0, 16]);
    at += 10;
    out[at..at + 16].copy_from_slice(&AAAA);
    Some(at + 16)
}
