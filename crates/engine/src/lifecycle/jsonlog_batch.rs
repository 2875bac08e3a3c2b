//! The json-file encoder for a whole read of plain lines: one pass over the bytes finds the line
//! ends, the bytes to escape and any non-ASCII byte together, and copies the runs between them
//! straight into the write buffer. The general path ([`super::jsonlog::Lines`] cutting entries,
//! then [`super::jsonlog::encode_with_suffix`] per entry) scans each line three times (its end,
//! whether it is ASCII, what to escape) and pays a call per entry, which for lines of about a
//! hundred bytes is a third of the monitor's time. The bytes written are the same.

use super::jsonlog::{escape_mask, push_escaped, word_at, HIGH, MAX_ENTRY, PREFIX};

/// Encodes the complete ASCII lines at the start of `data`, each as one json-file entry ending
/// in `suffix`, into `out`, until what it added reaches `room` bytes (the last entry may cross
/// it). Returns how many bytes of `data` it encoded, whole lines only: it stops before a line
/// that is unfinished, not ASCII, or too long for one entry ([`MAX_ENTRY`]), which the general
/// path takes from there.
pub fn encode_ascii_lines(out: &mut Vec<u8>, data: &[u8], suffix: &[u8], room: usize) -> usize {
    let start_len = out.len();
    let mut line = 0;
    while out.len() - start_len < room {
        let mark = out.len();
        out.extend_from_slice(PREFIX);
        // A line of MAX_ENTRY bytes or more before its `\n` is cut into pieces elsewhere.
        let window = &data[..data.len().min(line + MAX_ENTRY)];
        let mut from = line;
        let end = loop {
            let Some(i) = next_special(window, from) else {
                out.truncate(mark);
                return line;
            };
            out.extend_from_slice(&window[from..i]);
            match window[i] {
                b'\n' => break i,
                0x80.. => {
                    out.truncate(mark);
                    return line;
                }
                b => push_escaped(out, b),
            }
            from = i + 1;
        };
        out.extend_from_slice(b"\\n");
        out.extend_from_slice(suffix);
        line = end + 1;
    }
    line
}

/// The index of the first byte from `from` on that ends a line, needs escaping, or is not
/// ASCII: 16 bytes at a time, then 8, then one by one.
#[inline]
fn next_special(bytes: &[u8], mut from: usize) -> Option<usize> {
    let special = |w: u64| escape_mask(w) | (w & HIGH);
    while from + 16 <= bytes.len() {
        if special(word_at(bytes, from)) | special(word_at(bytes, from + 8)) != 0 {
            break;
        }
        from += 16;
    }
    while from + 8 <= bytes.len() {
        let mask = special(word_at(bytes, from));
        if mask != 0 {
            // The lowest flagged byte is exact (only higher ones can be false).
            return Some(from + mask.trailing_zeros() as usize / 8);
        }
        from += 8;
    }
    (from..bytes.len()).find(|&i| matches!(bytes[i], 0..=0x1F | b'"' | b'\\' | 0x80..))
}

#[cfg(test)]
#[path = "jsonlog_batch_tests.rs"]
mod tests;
