//! Variable substitution as Docker's builder does it, on arguments kept raw in the AST.
//!
//! `$VAR`, `${VAR}`, `${VAR:-word}` / `${VAR-word}` (default when unset-or-empty / unset),
//! `${VAR:+word}` / `${VAR+word}` (alternative when set-and-non-empty / set),
//! `${VAR:?msg}` / `${VAR?msg}` (error), and the pattern removals `${VAR#p}`, `${VAR##p}`,
//! `${VAR%p}`, `${VAR%%p}` and the replacements `${VAR/p/r}`, `${VAR//p/r}` (`*` and `?` globs).
//! `word` may hold quotes and further variables.
//! The escape character (`\` or `` ` ``) makes the next character literal; single quotes keep
//! everything literal, double quotes still substitute. Quotes are removed. An unset variable is
//! empty. `$` not followed by a name stays `$`.

/// A word that cannot be substituted: the word and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} in {word:?}")]
pub struct SubstError {
    pub word: String,
    pub message: String,
}

/// Expands `word` as one word (whitespace kept), quotes removed.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstError> {
    let mut lexer = Lexer::new(word, escape, lookup);
    let mut out = Out::new(false);
    lexer.run(&mut out)?;
    Ok(out.finish().concat())
}

/// Expands `text` and splits it into words on unquoted whitespace (also whitespace that comes
/// from an unquoted variable's value), quotes removed; `""` makes an empty word.
pub fn expand_words(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, SubstError> {
    let mut lexer = Lexer::new(text, escape, lookup);
    let mut out = Out::new(true);
    lexer.run(&mut out)?;
    Ok(out.finish())
}

/// Expands the variables in a heredoc body as BuildKit does for `COPY <<EOF` (an unquoted
/// delimiter): quotes and escapes stay as written, only `$…` is substituted; an escaped `$`
/// keeps its escape and is not substituted.
pub fn expand_heredoc(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstError> {
    let mut lexer = Lexer::new(text, escape, lookup);
    lexer.raw = true;
    let mut out = Out::new(false);
    lexer.run(&mut out)?;
    Ok(out.finish().concat())
}

/// The words being built; `split` makes unquoted whitespace separate them.
struct Out {
    split: bool,
    words: Vec<String>,
    cur: String,
    started: bool,
}

impl Out {
    fn new(split: bool) -> Self {
        Out {
            split,
            words: Vec::new(),
            cur: String::new(),
            started: false,
        }
    }

    fn add(&mut self, c: char) {
        if self.split && c.is_whitespace() {
            if self.started {
                self.words.push(std::mem::take(&mut self.cur));
                self.started = false;
            }
        } else {
            self.add_raw(c);
        }
    }

    fn add_raw(&mut self, c: char) {
        self.cur.push(c);
        self.started = true;
    }

    fn add_str(&mut self, s: &str, quoted: bool) {
        for c in s.chars() {
            if quoted {
                self.add_raw(c)
            } else {
                self.add(c)
            }
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.started || (!self.split && self.words.is_empty()) {
            self.words.push(self.cur);
        }
        self.words
    }
}

struct Lexer<'a> {
    word: &'a str,
    chars: Vec<char>,
    pos: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Quotes and escapes are ordinary characters (kept); only `$` is special.
    raw: bool,
}

impl<'a> Lexer<'a> {
    fn new(word: &'a str, escape: char, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Lexer {
            word,
            chars: word.chars().collect(),
            pos: 0,
            escape,
            lookup,
            raw: false,
        }
    }

    fn err(&self, message: impl Into<String>) -> SubstError {
        SubstError {
            word: self.word.to_string(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += c.is_some() as usize;
        c
    }

    fn run(&mut self, out: &mut Out) -> Result<(), SubstError> {
        match self.process(out, None)? {
            true => unreachable!("no stop character was asked for"),
            false => Ok(()),
        }
    }

    /// Processes up to `stop` (left unread; true) or the end (false).
    fn process(&mut self, out: &mut Out, stop: Option<char>) -> Result<bool, SubstError> {
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                return Ok(true);
            }
            self.pos += 1;
            match c {
                c if c == self.escape && self.raw => {
                    out.add_raw(c);
                    if let Some(n) = self.next() {
                        out.add_raw(n);
                    }
                }
                '\'' | '"' if self.raw => out.add_raw(c),
                c if c == self.escape => out.add_raw(self.next().unwrap_or(self.escape)),
                '\'' => self.single_quoted(out)?,
                '"' => self.double_quoted(out)?,
                '$' => {
                    let value = self.dollar()?;
                    out.add_str(&value, false);
                }
                c => out.add(c),
            }
        }
        Ok(false)
    }

    fn single_quoted(&mut self, out: &mut Out) -> Result<(), SubstError> {
        out.started = true;
        loop {
            match self.next() {
                None => return Err(self.err("unterminated single quote")),
                Some('\'') => return Ok(()),
                Some(c) => out.add_raw(c),
            }
        }
    }

    fn double_quoted(&mut self, out: &mut Out) -> Result<(), SubstError> {
        out.started = true;
        loop {
            match self.next() {
                None => return Err(self.err("unterminated double quote")),
                Some('"') => return Ok(()),
                Some('$') => {
                    let value = self.dollar()?;
                    out.add_str(&value, true);
                }
                Some(c) if c == self.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        out.add_raw(n);
                    }
                    _ => out.add_raw(c),
                },
                Some(c) => out.add_raw(c),
            }
        }
    }

    /// After a `$`: the value of `$NAME` / `${…}`, or `$` itself when no name follows.
    fn dollar(&mut self) -> Result<String, SubstError> {
        if self.peek() == Some('{') {
            self.pos += 1;
            return self.braced();
        }
        let name = self.name();
        if name.is_empty() {
            return Ok("$".to_string());
        }
        Ok((self.lookup)(&name).unwrap_or_default())
    }

    /// A name: a run of digits, one special parameter, or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                name.push(c);
                self.pos += 1;
            }
            _ => {
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
        name
    }

    /// After `${`: the name, then `}` or a modifier and its word.
    fn braced(&mut self) -> Result<String, SubstError> {
        let name = self.name();
        if name.is_empty() {
            return Err(self.err("bad substitution: no variable name after ${"));
        }
        let value = (self.lookup)(&name);
        match self.next() {
            None => Err(self.err("missing '}'")),
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => match self.next() {
                Some(op @ ('-' | '+' | '?')) => {
                    let word = self.sub_word('}')?;
                    self.modify(&name, value, op, word, true)
                }
                Some(c) => Err(self.err(format!("unsupported modifier (:{c}) in substitution"))),
                None => Err(self.err("missing '}'")),
            },
            Some(op @ ('-' | '+' | '?')) => {
                let word = self.sub_word('}')?;
                self.modify(&name, value, op, word, false)
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                self.pos += all as usize;
                let pattern = self.sub_word('/')?;
                let with = self.sub_word('}')?;
                Ok(replace(&value.unwrap_or_default(), &pattern, &with, all))
            }
            Some(op @ ('#' | '%')) => {
                let longest = self.peek() == Some(op);
                self.pos += longest as usize;
                let pattern = self.sub_word('}')?;
                Ok(remove_pattern(
                    &value.unwrap_or_default(),
                    &pattern,
                    op == '#',
                    longest,
                ))
            }
            Some(c) => Err(self.err(format!("unsupported modifier ({c}) in substitution"))),
        }
    }

    /// The word of a modifier, expanded, up to and past `stop`.
    fn sub_word(&mut self, stop: char) -> Result<String, SubstError> {
        let mut out = Out::new(false);
        if !self.process(&mut out, Some(stop))? {
            return Err(self.err(format!("missing '{stop}'")));
        }
        self.pos += 1;
        Ok(out.finish().concat())
    }

    /// `-`, `+`, `?`; with `colon` an empty value counts as unset.
    fn modify(
        &self,
        name: &str,
        value: Option<String>,
        op: char,
        word: String,
        colon: bool,
    ) -> Result<String, SubstError> {
        let set = value.as_ref().is_some_and(|v| !colon || !v.is_empty());
        match (op, set) {
            ('-', false) => Ok(word),
            ('+', true) => Ok(word),
            ('+', false) => Ok(String::new()),
            (_, true) => Ok(value.unwrap_or_default()),
            (_, false) if !word.is_empty() => Err(self.err(format!("{name}: {word}"))),
            (_, false) => {
                let what = if value.is_some() { "empty" } else { "unset" };
                Err(self.err(format!("{name}: is not allowed to be {what}")))
            }
        }
    }
}

/// `${v/p/r}` (first, longest match at the leftmost place) and `${v//p/r}` (every match).
fn replace(value: &str, pattern: &str, with: &str, all: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let pat: Vec<char> = pattern.chars().collect();
    if pat.is_empty() {
        return value.to_string();
    }
    let (mut out, mut start, mut done) = (String::new(), 0, false);
    while start < chars.len() {
        let found = (!done)
            .then(|| {
                (start + 1..=chars.len())
                    .rev()
                    .find(|&end| glob(&pat, &chars[start..end]))
            })
            .flatten();
        match found {
            Some(end) => {
                out.push_str(with);
                start = end;
                done = !all;
            }
            None => {
                out.push(chars[start]);
                start += 1;
            }
        }
    }
    out
}

/// `${v#p}` (prefix) / `${v%p}` (suffix) removal, shortest or longest match.
fn remove_pattern(value: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let pat: Vec<char> = pattern.chars().collect();
    let n = chars.len();
    let cuts: Vec<usize> = match (prefix, longest) {
        (true, false) => (0..=n).collect(),
        (true, true) => (0..=n).rev().collect(),
        (false, false) => (0..=n).rev().collect(),
        (false, true) => (0..=n).collect(),
    };
    for cut in cuts {
        let (part, rest) = if prefix {
            (&chars[..cut], &chars[cut..])
        } else {
            (&chars[cut..], &chars[..cut])
        };
        if glob(&pat, part) {
            return rest.iter().collect();
        }
    }
    value.to_string()
}

/// Shell glob with `*` and `?` over whole strings (backtracking to the last `*` only, so a
/// pattern of many stars stays polynomial).
fn glob(pat: &[char], s: &[char]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some('*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(c) if *c == '?' || *c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    star = Some((sp, si + 1));
                    p = sp + 1;
                    i = si + 1;
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|c| *c == '*')
}
