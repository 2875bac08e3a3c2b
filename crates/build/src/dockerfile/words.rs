//! Raw word splitting (quotes and escapes kept for the later substitution) and `--flags`.

use super::error::Problem;

/// Byte length of the word at the start of `s` (which starts with a non-space): up to the first
/// whitespace outside quotes; an escaped character never ends it.
pub(crate) fn word_len(s: &str, escape: char) -> usize {
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == escape => {
                chars.next();
            }
            Some(_) => {}
            None if c == escape => {
                chars.next();
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => return i,
            None => {}
        }
    }
    s.len()
}

/// Splits on whitespace outside quotes, keeping quotes and escapes in the words.
pub(crate) fn raw_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let n = word_len(rest, escape);
        words.push(rest[..n].to_string());
        rest = rest[n..].trim_start();
    }
    words
}

/// `--name[=value]`, the value raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// The leading `--flags` of an instruction's arguments and the text after them.
pub(crate) fn take_flags(text: &str, escape: char) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("--") {
        if after.is_empty() || after.starts_with(char::is_whitespace) {
            // A lone `--` ends the flags and is dropped.
            return (flags, after.trim_start());
        }
        let n = word_len(after, escape);
        let word = unquote(&after[..n], escape);
        let (name, value) = match word.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (word, None),
        };
        flags.push(Flag { name, value });
        rest = after[n..].trim_start();
    }
    (flags, rest)
}

/// A flag word with its quotes removed and escapes applied (a trailing escape dropped).
fn unquote(word: &str, escape: char) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            _ if c == escape => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

/// Flag readers: each one checks the flag takes (or refuses) a value.
impl Flag {
    pub(crate) fn string(&self, keyword: &str) -> Result<String, Problem> {
        match &self.value {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ => Err(format!("{keyword} flag --{} requires a value", self.name)),
        }
    }

    pub(crate) fn boolean(&self, keyword: &str) -> Result<bool, Problem> {
        match self
            .value
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!(
                "{keyword} flag --{} expects a boolean, not {other:?}",
                self.name
            )),
        }
    }

    pub(crate) fn unknown(&self, keyword: &str) -> Problem {
        format!("unknown flag --{} for {keyword}", self.name)
    }
}

/// A JSON array of strings, or None when `text` is not exactly one.
pub(crate) fn json_strings(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}
