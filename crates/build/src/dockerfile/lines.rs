//! From text to logical lines: parser directives, comments, continuations, heredoc bodies.

use super::ast::Directives;
use super::error::Problem;

/// One instruction's text with continuations joined, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logical {
    pub line: usize,
    pub text: String,
}

/// Physical lines (BOM and `\r` removed) and a cursor over them.
pub(crate) struct Reader<'a> {
    lines: Vec<&'a str>,
    pos: usize,
    escape: char,
}

/// Splits `text` into lines without their `\r\n` / `\n`, the BOM dropped.
pub(crate) fn physical_lines(text: &str) -> Vec<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// `# name = value` (the `#` first on the line) → (name lower-cased, value), or None.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = value.trim();
    (!value.is_empty()).then(|| (name.to_ascii_lowercase(), value.to_string()))
}

/// Reads the directives at the top; they end at the first line that is not a known one.
pub(crate) fn directives(lines: &[&str]) -> Result<Directives, (usize, Problem)> {
    let mut found = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, value)) = directive(line) else {
            break;
        };
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            break;
        }
        if seen.contains(&name) {
            return Err((
                i + 1,
                format!("only one {name} parser directive can be used"),
            ));
        }
        match name.as_str() {
            "syntax" => found.syntax = Some(value),
            "check" => found.check = Some(value),
            _ => found.escape = escape_token(&value).map_err(|p| (i + 1, p))?,
        }
        seen.push(name);
    }
    Ok(found)
}

fn escape_token(value: &str) -> Result<char, Problem> {
    match value {
        "\\" => Ok('\\'),
        "`" => Ok('`'),
        other => Err(format!(
            "invalid escape token {other:?}: it must be ` or \\"
        )),
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(lines: Vec<&'a str>, escape: char) -> Self {
        Reader {
            lines,
            pos: 0,
            escape,
        }
    }

    /// The line with a trailing escape (and whitespace after it) removed, and whether it had
    /// one; an escaped escape (`\\` at the end) is no continuation.
    fn trim_continuation<'l>(&self, line: &'l str) -> (&'l str, bool) {
        let trimmed = line.trim_end_matches([' ', '\t']);
        match trimmed.strip_suffix(self.escape) {
            Some(head) if !head.ends_with(self.escape) => (head, true),
            _ => (line, false),
        }
    }

    /// The next instruction's text; comments and empty lines inside continuations are dropped.
    pub(crate) fn next_logical(&mut self) -> Option<Logical> {
        while self.pos < self.lines.len() {
            let first = self.lines[self.pos];
            self.pos += 1;
            if is_comment(first) || first.trim().is_empty() {
                continue;
            }
            let line = self.pos;
            let (head, mut more) = self.trim_continuation(first.trim_start());
            let mut text = head.to_string();
            while more && self.pos < self.lines.len() {
                let next = self.lines[self.pos];
                self.pos += 1;
                if is_comment(next) || next.trim().is_empty() {
                    continue;
                }
                let (part, cont) = self.trim_continuation(next);
                text.push_str(part);
                more = cont;
            }
            if !text.trim().is_empty() {
                return Some(Logical { line, text });
            }
        }
        None
    }

    /// The body of a heredoc up to its delimiter line (tabs stripped first with `<<-`); None
    /// when the file ends before it.
    pub(crate) fn heredoc_body(&mut self, name: &str, strip_tabs: bool) -> Option<String> {
        let mut body = String::new();
        while self.pos < self.lines.len() {
            let mut line = self.lines[self.pos];
            self.pos += 1;
            if strip_tabs {
                line = line.trim_start_matches('\t');
            }
            if line == name {
                return Some(body);
            }
            body.push_str(line);
            body.push('\n');
        }
        None
    }
}
