//! The json-file format on the fast path: the monitor cuts a stream's bytes into entries
//! ([`Lines`]) and encodes each straight into its write buffer ([`encode_entry`]); `hull logs`
//! decodes entries without building a value per line ([`decode_entry`]). The bytes are those
//! serde_json writes for [`crate::lifecycle::monitor::LogLine`], so older logs and these read
//! alike; a line in any other shape (another writer's field order, `\u` escapes) goes through
//! serde_json.

use std::borrow::Cow;

use crate::lifecycle::monitor::LogLine;

/// The longest entry: a line longer than this is cut into entries of this size, each but the
/// last without its `\n` (Docker's partial messages in json-file).
pub const MAX_ENTRY: usize = 16 * 1024;

/// How every entry starts.
pub(super) const PREFIX: &[u8] = b"{\"log\":\"";

/// One stream's unfinished line between reads.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// True when no unfinished line waits for the next read.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    /// Cuts `data` into entries (complete lines, and pieces of [`MAX_ENTRY`] bytes of a longer
    /// line) and passes each to `emit`; what is left waits for the next call. The unfinished
    /// line is copied only when one exists, so the common case borrows `data` throughout.
    pub fn push<E>(
        &mut self,
        mut data: &[u8],
        mut emit: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.partial.is_empty() {
            let room = MAX_ENTRY - self.partial.len();
            match data[..data.len().min(room)]
                .iter()
                .position(|&b| b == b'\n')
            {
                Some(end) => {
                    self.partial.extend_from_slice(&data[..=end]);
                    data = &data[end + 1..];
                    emit(&std::mem::take(&mut self.partial))?;
                }
                None => {
                    let take = data.len().min(room);
                    self.partial.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    while self.partial.len() >= MAX_ENTRY {
                        let cut = piece_len(&self.partial);
                        emit(&self.partial[..cut])?;
                        self.partial.drain(..cut);
                    }
                    if !data.is_empty() {
                        return self.push(data, emit);
                    }
                    return Ok(());
                }
            }
        }
        // A stretch of MAX_ENTRY bytes without a line end is cut into pieces, as a window of
        // MAX_ENTRY bytes would.
        let mut start = 0;
        while let Some(end) = next_newline(data, start) {
            start = cut_pieces(data, start, end, &mut emit)?;
            emit(&data[start..=end])?;
            start = end + 1;
        }
        start = cut_pieces(data, start, data.len(), &mut emit)?;
        self.partial.extend_from_slice(&data[start..]);
        Ok(())
    }

    /// At the stream's end: the unfinished line, if any, as it is (without a `\n`).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
}

/// The index of the first `\n` in `data` from `from` on. Short lines are common (one per
/// `echo`), and a call to memchr costs more than the line: the 8 bytes at `from` are looked at
/// as a word first.
#[inline]
fn next_newline(data: &[u8], from: usize) -> Option<usize> {
    const NEWLINES: u64 = 0x0A0A_0A0A_0A0A_0A0A;
    let rest = match data.get(from..from + 8) {
        Some(_) => {
            let at_zero = zero_bytes(word_at(data, from) ^ NEWLINES);
            if at_zero != 0 {
                // The lowest flagged byte is a true zero (only higher ones can be false).
                return Some(from + at_zero.trailing_zeros() as usize / 8);
            }
            from + 8
        }
        None => from,
    };
    memchr::memchr(b'\n', &data[rest..]).map(|i| rest + i)
}

/// Emits the pieces of `data[start..end]` (no line end in it) while it holds MAX_ENTRY bytes or
/// more; returns where the rest starts.
fn cut_pieces<E>(
    data: &[u8],
    mut start: usize,
    end: usize,
    emit: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<usize, E> {
    while end - start >= MAX_ENTRY {
        let cut = piece_len(&data[start..start + MAX_ENTRY]);
        emit(&data[start..start + cut])?;
        start += cut;
    }
    Ok(start)
}

/// Where a [`MAX_ENTRY`]-byte piece of a long line ends: before a UTF-8 character the cut
/// would split, so that both pieces keep it whole.
fn piece_len(line: &[u8]) -> usize {
    let lead = (MAX_ENTRY - 3..MAX_ENTRY)
        .rev()
        .find(|&i| line[i] & 0xC0 == 0xC0);
    let Some(i) = lead else { return MAX_ENTRY };
    let width = match line[i] {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    if i + width > MAX_ENTRY {
        i
    } else {
        MAX_ENTRY
    }
}

/// Appends one json-file line for `text` (`{"log":…,"stream":…,"time":…}` and `\n`), the
/// bytes serde_json writes for a [`LogLine`]: invalid UTF-8 becomes U+FFFD, `"`, `\` and
/// control characters are escaped.
pub fn encode_entry(out: &mut Vec<u8>, text: &[u8], stream: &str, time: &str) {
    encode_with_suffix(out, text, &entry_suffix(stream, time));
}

/// What follows the text in every entry of one stream stamped `time`: encoded once per read.
pub fn entry_suffix(stream: &str, time: &str) -> Vec<u8> {
    let mut suffix = b"\",\"stream\":\"".to_vec();
    escape_bytes(&mut suffix, stream.as_bytes());
    suffix.extend_from_slice(b"\",\"time\":\"");
    escape_bytes(&mut suffix, time.as_bytes());
    suffix.extend_from_slice(b"\"}\n");
    suffix
}

/// [`encode_entry`] with the stream and time already encoded by [`entry_suffix`]. The common
/// entry, ASCII text ending in `\n`, is written in one reservation and one scan: the `\n`
/// is escaped without looking for it, and an ASCII line needs no UTF-8 validation.
#[inline]
pub fn encode_with_suffix(out: &mut Vec<u8>, text: &[u8], suffix: &[u8]) {
    out.reserve(PREFIX.len() + text.len() + 1 + suffix.len());
    out.extend_from_slice(PREFIX);
    let (body, newline) = match text.split_last() {
        Some((b'\n', body)) => (body, true),
        _ => (text, false),
    };
    if body.is_ascii() {
        escape_bytes(out, body);
    } else {
        match std::str::from_utf8(body) {
            Ok(s) => escape_bytes(out, s.as_bytes()),
            Err(_) => escape_bytes(out, String::from_utf8_lossy(body).as_bytes()),
        }
    }
    if newline {
        out.extend_from_slice(b"\\n");
    }
    out.extend_from_slice(suffix);
}

/// Which of 8 bytes (as a word) need escaping: a set high bit in each such byte's place.
/// Bytes below 0x20, `"` and `\`; bytes of 0x80 and up (UTF-8 sequences) never do.
#[inline]
pub(super) fn escape_mask(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    below_space
        | zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
}

pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGH: u64 = 0x8080_8080_8080_8080;

/// A word with the high bit set in the place of each zero byte of `w` (exact up to the lowest
/// zero byte; above it a 0x01 byte may be flagged too, which callers that only want "any" or
/// "the lowest" do not mind).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGH
}

pub(super) fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The index of the first byte of `bytes` from `from` on that needs escaping: 16 bytes at a
/// time, then 8, then one by one.
#[inline]
fn next_escape(bytes: &[u8], mut from: usize) -> Option<usize> {
    while from + 16 <= bytes.len() {
        if escape_mask(word_at(bytes, from)) | escape_mask(word_at(bytes, from + 8)) != 0 {
            break;
        }
        from += 16;
    }
    while from + 8 <= bytes.len() {
        if escape_mask(word_at(bytes, from)) != 0 {
            break;
        }
        from += 8;
    }
    (from..bytes.len()).find(|&i| matches!(bytes[i], 0..=0x1F | b'"' | b'\\'))
}

/// Appends `bytes`, valid UTF-8, as the body of a JSON string (serde_json's escapes).
fn escape_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..i]);
        push_escaped(out, bytes[i]);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends the JSON escape of `b`, a control character, `"` or `\\` (serde_json's escapes).
#[inline]
pub(super) fn push_escaped(out: &mut Vec<u8>, b: u8) {
    let esc: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0C => b"\\f",
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
            return;
        }
    };
    out.extend_from_slice(esc);
}

/// One decoded entry's stream and time; its text went to the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta<'a> {
    pub stderr: bool,
    pub time: Cow<'a, str>,
}

/// Decodes one line of the log (without its `\n`), appending the entry's text to `text`;
/// None for a line that is not an entry (a torn last line, garbage), which then adds nothing.
pub fn decode_entry<'a>(line: &'a [u8], text: &mut Vec<u8>) -> Option<EntryMeta<'a>> {
    let mark = text.len();
    if let Some(meta) = decode_fast(line, text) {
        return Some(meta);
    }
    text.truncate(mark);
    let entry: LogLine = serde_json::from_slice(line).ok()?;
    text.extend_from_slice(entry.log.as_bytes());
    Some(EntryMeta {
        stderr: entry.stream == "stderr",
        time: Cow::Owned(entry.time),
    })
}

/// The shape the monitor writes, with the escapes it writes for common characters; None sends
/// the line to serde_json.
fn decode_fast<'a>(line: &'a [u8], text: &mut Vec<u8>) -> Option<EntryMeta<'a>> {
    let rest = line.strip_prefix(b"{\"log\":\"")?;
    let rest = unescape_until_quote(rest, text)?;
    let rest = rest.strip_prefix(b",\"stream\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    let stderr = match &rest[..end] {
        b"stderr" => true,
        b"stdout" => false,
        _ => return None,
    };
    let rest = rest[end..].strip_prefix(b"\",\"time\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if &rest[end..] != b"\"}" {
        return None;
    }
    let time = std::str::from_utf8(&rest[..end]).ok()?;
    Some(EntryMeta {
        stderr,
        time: Cow::Borrowed(time),
    })
}

/// Unescapes a JSON string body up to its closing quote into `text`; the rest after the quote.
fn unescape_until_quote<'a>(s: &'a [u8], text: &mut Vec<u8>) -> Option<&'a [u8]> {
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        // Raw control characters (another writer's) pass through as they are.
        i += memchr::memchr2(b'"', b'\\', &s[i..])?;
        match s[i] {
            b'"' => {
                text.extend_from_slice(&s[start..i]);
                // The text is valid UTF-8 only if the file is; `hull logs` writes bytes.
                return Some(&s[i + 1..]);
            }
            b'\\' => {
                text.extend_from_slice(&s[start..i]);
                let c = match *s.get(i + 1)? {
                    b'n' => b'\n',
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    _ => return None,
                };
                text.push(c);
                i += 2;
                start = i;
            }
            _ => unreachable!("memchr2 stops at a quote or a backslash"),
        }
    }
    None
}

#[cfg(test)]
#[path = "jsonlog_tests.rs"]
mod tests;
