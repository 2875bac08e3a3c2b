use super::*;
use crate::lifecycle::jsonlog::{encode_with_suffix, Lines};

const SUFFIX: &[u8] = b"\",\"stream\":\"stdout\",\"time\":\"2026-12-07T09:00:00.000000000Z\"}\n";

/// What the general path writes for `data` read in one piece (the unfinished rest left out).
fn general(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Lines::default()
        .push::<()>(data, |e| {
            encode_with_suffix(&mut out, e, SUFFIX);
            Ok(())
        })
        .unwrap();
    out
}

/// The batch encoder first, with `room`, then the general path for what it left.
fn batched(data: &[u8], room: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let used = encode_ascii_lines(&mut out, rest, SUFFIX, room);
        if used == 0 {
            break;
        }
        rest = &rest[used..];
    }
    out.extend(general(rest));
    out
}

/// A pseudo-random mix of lines: plain, empty, escapes, control bytes, UTF-8, invalid bytes,
/// and lines longer than one entry.
fn mixed(seed: u64, lines: usize) -> Vec<u8> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut data = Vec::new();
    for _ in 0..lines {
        let len = match next() % 10 {
            0 => 0,
            1 => MAX_ENTRY - 1 + (next() % 3) as usize,
            _ => (next() % 300) as usize,
        };
        for _ in 0..len {
            data.push(match next() % 40 {
                0 => b'"',
                1 => b'\\',
                2 => b'\t',
                3 => 0x01,
                4 => 0xC3,
                5 => 0xFF,
                _ => b'a' + (next() % 26) as u8,
            });
        }
        data.push(b'\n');
    }
    data.extend_from_slice(b"unfinished");
    data
}

#[test]
fn the_batch_writes_what_the_general_path_writes() {
    for seed in 1..200 {
        let data = mixed(seed, 40);
        for room in [1, 100, 4096, usize::MAX] {
            assert_eq!(
                String::from_utf8_lossy(&batched(&data, room)),
                String::from_utf8_lossy(&general(&data)),
                "seed {seed}, room {room}"
            );
        }
    }
}

#[test]
fn plain_lines_are_encoded_whole_and_the_unfinished_rest_is_left() {
    let data = b"one\n\"two\"\tx\n\nthree";
    let mut out = Vec::new();
    let used = encode_ascii_lines(&mut out, data, b"|", usize::MAX);
    assert_eq!(used, data.len() - b"three".len());
    assert_eq!(
        out,
        b"{\"log\":\"one\\n|{\"log\":\"\\\"two\\\"\\tx\\n|{\"log\":\"\\n|".to_vec()
    );
}

#[test]
fn it_stops_before_a_line_it_cannot_take() {
    for data in [
        &b"ok\ncaf\xC3\xA9\nok\n"[..],
        &[b"ok\n".as_slice(), &[b'x'; MAX_ENTRY], b"\n"].concat(),
    ] {
        let mut out = Vec::new();
        assert_eq!(encode_ascii_lines(&mut out, data, b"|", usize::MAX), 3);
        assert_eq!(out, b"{\"log\":\"ok\\n|".to_vec());
    }
}

#[test]
fn it_stops_once_the_room_is_used() {
    let data = b"aaaa\nbbbb\ncccc\n";
    let mut out = Vec::new();
    assert_eq!(encode_ascii_lines(&mut out, data, b"|", 1), 5);
    assert_eq!(encode_ascii_lines(&mut out, data, b"|", 16), 10);
    assert_eq!(encode_ascii_lines(&mut out, data, b"|", 0), 0);
}
