use super::*;

/// Every entry `data` becomes when it arrives in reads of `chunk` bytes, the rest included.
fn entries(data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut lines = Lines::default();
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        lines
            .push::<()>(piece, |e| {
                out.push(e.to_vec());
                Ok(())
            })
            .unwrap();
    }
    out.extend(lines.finish());
    out
}

#[test]
fn lines_cut_the_same_at_every_read_boundary() {
    let mut data = Vec::new();
    for i in 0..200 {
        data.extend_from_slice(format!("line {i}\n").as_bytes());
        if i % 50 == 7 {
            data.extend(std::iter::repeat_n(b'x', MAX_ENTRY * 2 + 5));
            data.push(b'\n');
        }
    }
    data.extend_from_slice(b"no newline at the end");
    let whole = entries(&data, data.len());
    for chunk in [
        1,
        2,
        3,
        7,
        100,
        4096,
        MAX_ENTRY - 1,
        MAX_ENTRY,
        MAX_ENTRY + 1,
        65536,
    ] {
        assert_eq!(entries(&data, chunk), whole, "reads of {chunk} bytes");
    }
    assert_eq!(whole.concat(), data, "entries lose or add bytes");
    assert_eq!(whole[0], b"line 0\n");
    assert_eq!(whole.last().unwrap(), b"no newline at the end");
    assert_eq!(whole.len(), 200 + 4 * 3 + 1);
}

#[test]
fn a_long_line_becomes_16k_pieces_without_newlines_then_its_end() {
    let mut data = vec![b'a'; MAX_ENTRY * 3 + 10];
    data.push(b'\n');
    data.extend_from_slice(b"next\n");
    let got = entries(&data, 8192);
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(sizes, [MAX_ENTRY, MAX_ENTRY, MAX_ENTRY, 11, 5]);
    assert!(got[..3].iter().all(|e| !e.contains(&b'\n')));
    assert_eq!(got[3], b"aaaaaaaaaa\n");
    // A line of exactly 16 KiB with its newline: one full piece, then the newline alone, as
    // Docker's 16 KiB reads give.
    let mut exact = vec![b'b'; MAX_ENTRY];
    exact.push(b'\n');
    assert_eq!(entries(&exact, 1000).len(), 2);
}

#[test]
fn a_piece_never_splits_a_utf8_character() {
    // "é" (2 bytes) and "€" (3 bytes) straddling the 16 KiB mark at every offset.
    for ch in ["é", "€", "😀"] {
        for shift in 0..4 {
            let mut line = "a".repeat(MAX_ENTRY - shift);
            line.push_str(&ch.repeat(20));
            line.push('\n');
            let got = entries(line.as_bytes(), 5000);
            assert_eq!(got.concat(), line.as_bytes());
            for e in &got {
                assert!(std::str::from_utf8(e).is_ok(), "{ch} cut at shift {shift}");
                assert!(e.len() <= MAX_ENTRY);
            }
        }
    }
}

fn serde_bytes(text: &[u8], stream: &str, time: &str) -> Vec<u8> {
    let line = LogLine {
        log: String::from_utf8_lossy(text).into_owned(),
        stream: stream.into(),
        time: time.into(),
    };
    let mut v = serde_json::to_vec(&line).unwrap();
    v.push(b'\n');
    v
}

#[test]
fn entries_are_the_bytes_serde_json_writes() {
    let all: Vec<u8> = (0..=255u8).collect();
    let samples: [&[u8]; 7] = [
        b"y\n",
        b"",
        b"quote \" backslash \\ slash / tab \t cr \r\n",
        "unicode é € 😀 \u{7f}\n".as_bytes(),
        b"\xff\xfe invalid \xc3 utf8\n",
        &all,
        b"<html>&amp;</html>\n",
    ];
    for text in samples {
        let mut out = Vec::new();
        encode_entry(&mut out, text, "stderr", "2026-12-06T05:00:00.123456789Z");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&serde_bytes(
                text,
                "stderr",
                "2026-12-06T05:00:00.123456789Z"
            )),
        );
    }
}

#[test]
fn decoding_gives_back_the_text_stream_and_time() {
    let all: Vec<u8> = (0..=255u8).collect();
    for (text, stream) in [
        (&b"hello\n"[..], "stdout"),
        (&all, "stderr"),
        (b"\"\\/\x08\x0c", "stdout"),
    ] {
        let mut line = Vec::new();
        encode_entry(&mut line, text, stream, "2026-12-06T05:00:00.000000001Z");
        let mut got = Vec::new();
        let meta = decode_entry(&line[..line.len() - 1], &mut got).unwrap();
        assert_eq!(got, String::from_utf8_lossy(text).as_bytes());
        assert_eq!(meta.stderr, stream == "stderr");
        assert_eq!(meta.time, "2026-12-06T05:00:00.000000001Z");
    }
}

#[test]
fn other_shapes_decode_through_serde_and_torn_lines_are_skipped() {
    let mut got = Vec::new();
    let docker = br#"{"log":"\u003chi\u003e\n","stream":"stderr","attrs":{"a":"b"},"time":"t"}"#;
    let meta = decode_entry(docker, &mut got).unwrap();
    assert_eq!(got, b"<hi>\n");
    assert!(meta.stderr);
    let reordered = br#"{"time":"t2","stream":"stdout","log":"x"}"#;
    got.clear();
    assert_eq!(decode_entry(reordered, &mut got).unwrap().time, "t2");
    assert_eq!(got, b"x");
    for torn in [
        &br#"{"log":"half a li"#[..],
        br#"{"log":"x\n","stream":"std"#,
        b"",
        b"garbage",
    ] {
        got.clear();
        assert!(decode_entry(torn, &mut got).is_none(), "{torn:?}");
        assert!(got.is_empty(), "a skipped line left text behind");
    }
}

#[test]
fn every_byte_that_needs_escaping_is_found_at_every_offset() {
    // The scan looks at 16, then 8 bytes at a time: each special byte at each place in and
    // around those words, in ASCII lines (no UTF-8 check) and others, with and without the
    // line end the encoder takes off first.
    for special in (0u8..0x20).chain([b'"', b'\\', 0x7f, b'/']) {
        for at in 0..40 {
            for tail in [&b""[..], b"\n", "\u{e9}".as_bytes(), "\u{e9}\n".as_bytes()] {
                let mut text = vec![b'a'; 40];
                text[at] = special;
                text.extend_from_slice(tail);
                let mut out = Vec::new();
                encode_entry(&mut out, &text, "stdout", "t");
                assert_eq!(
                    out,
                    serde_bytes(&text, "stdout", "t"),
                    "byte {special:#x} at {at}, then {tail:?}"
                );
            }
        }
    }
}

#[test]
fn the_next_line_end_is_found_at_every_offset() {
    // 0x0B next to a line end is the byte the word test can flag wrongly above a true one.
    for len in 0..20 {
        for nl in 0..len {
            for noise in [b'a', 0x0B, 0x09] {
                let mut data = vec![noise; len];
                data[nl] = b'\n';
                for from in 0..=len {
                    let want = data[from..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map(|i| from + i);
                    assert_eq!(next_newline(&data, from), want, "{data:?} from {from}");
                }
            }
        }
    }
}
