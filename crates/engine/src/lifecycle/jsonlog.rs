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

/// One stream's unfinished line between reads.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
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
        loop {
            let window = &data[..data.len().min(MAX_ENTRY)];
            match window.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    emit(&data[..=end])?;
                    data = &data[end + 1..];
                }
                None if window.len() == MAX_ENTRY => {
                    let cut = piece_len(window);
                    emit(&data[..cut])?;
                    data = &data[cut..];
                }
                None => {
                    self.partial.extend_from_slice(data);
                    return Ok(());
                }
            }
        }
    }

    /// At the stream's end: the unfinished line, if any, as it is (without a `\n`).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
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
    out.extend_from_slice(b"{\"log\":\"");
    match std::str::from_utf8(text) {
        Ok(s) => escape_into(out, s),
        Err(_) => escape_into(out, &String::from_utf8_lossy(text)),
    }
    out.extend_from_slice(b"\",\"stream\":\"");
    escape_into(out, stream);
    out.extend_from_slice(b"\",\"time\":\"");
    escape_into(out, time);
    out.extend_from_slice(b"\"}\n");
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0C => b"\\f",
            0..=0x1F => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
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
            0..=0x1F => return None,
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
#[path = "jsonlog_tests.rs"]
mod tests;
