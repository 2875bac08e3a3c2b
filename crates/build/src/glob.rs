//! One path segment matched like Go's `filepath.Match`: `*` (any run of characters), `?` (one
//! character), `[a-c]`, `[^x]` (classes, `^` negates), `\` escapes the next character. Segments
//! never contain `/`, so `*` and `?` cannot cross a directory boundary. Shared by `.dockerignore`
//! and the COPY/ADD source resolver; patterns are compiled once so a bad one fails when read.

/// A compiled segment pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Segment {
    /// Compiles `pat` (one segment, no `/`). The error says what is wrong, without the pattern.
    pub fn parse(pat: &str) -> Result<Segment, String> {
        let mut tokens = Vec::new();
        let mut chars = pat.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => {
                    while chars.peek() == Some(&'*') {
                        chars.next();
                    }
                    Token::Star
                }
                '?' => Token::Any,
                '\\' => Token::Char(chars.next().ok_or("trailing backslash escapes nothing")?),
                '[' => parse_class(&mut chars)?,
                c => Token::Char(c),
            });
        }
        Ok(Segment { tokens })
    }

    /// True when the segment pattern has no wildcard: it names exactly one entry.
    pub fn literal(&self) -> Option<String> {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether `name` (one path segment) matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        match_tokens(&self.tokens, &name)
    }
}

fn parse_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Token, String> {
    let negated = chars.peek() == Some(&'^');
    if negated {
        chars.next();
    }
    let mut ranges = Vec::new();
    loop {
        let lo = match chars.next() {
            None => return Err("unclosed character class '['".into()),
            Some(']') if !ranges.is_empty() => break,
            Some(']') | Some('-') => return Err("empty or malformed character class".into()),
            Some('\\') => chars.next().ok_or("unclosed character class '['")?,
            Some(c) => c,
        };
        let hi = if chars.peek() == Some(&'-') {
            chars.next();
            match chars.next() {
                None => return Err("unclosed character class '['".into()),
                Some(']') | Some('-') => return Err("malformed range in character class".into()),
                Some('\\') => chars.next().ok_or("unclosed character class '['")?,
                Some(c) => c,
            }
        } else {
            lo
        };
        if hi < lo {
            return Err(format!("range {lo}-{hi} is reversed"));
        }
        ranges.push((lo, hi));
    }
    Ok(Token::Class { negated, ranges })
}

fn match_tokens(tokens: &[Token], name: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match first {
        Token::Star => (0..=name.len()).any(|skip| match_tokens(rest, &name[skip..])),
        _ => match name.split_first() {
            Some((c, tail)) => one(first, *c) && match_tokens(rest, tail),
            None => false,
        },
    }
}

fn one(token: &Token, c: char) -> bool {
    match token {
        Token::Char(t) => *t == c,
        Token::Any => true,
        Token::Star => unreachable!("handled by match_tokens"),
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
    }
}

/// Go's `filepath.Clean` for a `/`-separated relative or absolute path: repeated slashes and `.`
/// removed, `..` resolved lexically (kept at the front of a relative path, dropped at `/`).
/// Returns `"."` for an empty result, like Go.
pub fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if absolute => {}
                _ => out.push(".."),
            },
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_match_like_go_filepath_match() {
        let table: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("*", "anything.txt", true),
            ("*", "", true),
            ("*.md", "README.md", true),
            ("*.md", "README.mdx", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("?", "x", true),
            ("?", "xy", false),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
            ("[^a-c]", "d", true),
            ("[^a-c]", "a", false),
            ("[abx-z]", "y", true),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("\\[x]", "[x]", true),
            ("[\\]]", "]", true),
            ("f??.rs", "foo.rs", true),
        ];
        for (pat, name, want) in table {
            let seg = Segment::parse(pat).unwrap_or_else(|e| panic!("{pat}: {e}"));
            assert_eq!(seg.matches(name), *want, "{pat} vs {name}");
        }
    }

    #[test]
    fn bad_segments_are_refused() {
        for pat in ["[", "[a-", "[]", "a\\", "[z-a]", "[^"] {
            assert!(Segment::parse(pat).is_err(), "{pat} should be refused");
        }
    }

    #[test]
    fn clean_matches_go() {
        let table = [
            ("", "."),
            ("/", "/"),
            ("a//b/./c/", "a/b/c"),
            ("a/../..", ".."),
            ("/../x", "/x"),
            ("../x/../y", "../y"),
            ("./", "."),
        ];
        for (input, want) in table {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}
