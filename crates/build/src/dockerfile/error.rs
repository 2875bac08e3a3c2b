//! The parser's one error type: file, line (when there is one) and the problem, in one line.

use std::fmt;

/// A Dockerfile that cannot be parsed: `Dockerfile:7: unknown instruction: RUUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name the caller handed to [`super::parse`].
    pub file: String,
    /// 1-based line of the instruction (its first line), `None` for whole-file problems.
    pub line: Option<usize>,
    /// The problem, without file or line.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// A problem found while parsing one instruction; [`super::parse`] adds the file and line.
pub(crate) type Problem = String;
