//! Errors in scenario files, rendered with the file, line, column and a fix.

use std::fmt;
use std::ops::Range;

/// The help line of a malformed value.
pub const PARSE_HELP: &str =
    "fix the key or value at that line; scenarios/README.md documents every key";

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {error}")]
    Read {
        /// File named by the user.
        path: String,
        /// Underlying error (shown in this message, so not chained).
        error: std::io::Error,
    },
    /// The TOML is malformed or a value has the wrong type or range (toml's own rendering).
    #[error(
        "invalid scenario {path}: {error}help: fix the key or value at that line; scenarios/README.md documents every key"
    )]
    Parse {
        /// File name.
        path: String,
        /// toml's error, which shows the line, column and a caret (shown in this message, so
        /// not chained).
        error: Box<toml::de::Error>,
    },
    /// The file parsed, but its contents do not make a valid model.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
    /// A variant file whose base or settings do not apply.
    #[error("{0:#}")]
    Variant(anyhow::Error),
}

/// A validation error at a position in a scenario file.
#[derive(Debug)]
pub struct Diagnostic {
    /// File name.
    pub path: String,
    /// 1-based line, 1-based column and the text of that line, when the error has a position.
    pub at: Option<(usize, usize, String, usize)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Diagnostic {
    /// Builds a diagnostic, locating `span` (byte offsets into `text`) when given.
    pub fn new(
        path: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Diagnostic {
        let at = span.map(|s| locate(text, s));
        Diagnostic {
            path: path.to_string(),
            at,
            message: message.into(),
            help: help.into(),
        }
    }

    /// 1-based line of the error, if it has one.
    pub fn line(&self) -> Option<usize> {
        self.at.as_ref().map(|a| a.0)
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line, column, line text and caret width for a byte span.
fn locate(text: &str, span: Range<usize>) -> (usize, usize, String, usize) {
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = line_of(text, start);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let col = text[line_start..start].chars().count() + 1;
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    (line, col, text[line_start..line_end].to_string(), width)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some((line, col, src, width)) => {
                writeln!(
                    f,
                    "invalid scenario {}: error at line {line}, column {col}",
                    self.path
                )?;
                let gutter = line.to_string().len();
                writeln!(f, "{:gutter$} |", "")?;
                writeln!(f, "{line} | {src}")?;
                writeln!(
                    f,
                    "{:gutter$} | {:col$}{}",
                    "",
                    "",
                    "^".repeat(*width),
                    col = col - 1
                )?;
                writeln!(f, "{}", self.message)?;
            }
            None => writeln!(f, "invalid scenario {}: {}", self.path, self.message)?,
        }
        write!(f, "help: {}", self.help)
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_caret() {
        let text = "a = 1\nshare = 1.4\n";
        let d = Diagnostic::new("x.toml", text, Some(14..17), "bad share", "use a fraction");
        assert_eq!(d.line(), Some(2));
        let s = d.to_string();
        assert!(s.contains("x.toml: error at line 2, column 9"), "{s}");
        assert!(s.contains("2 | share = 1.4"), "{s}");
        assert!(s.contains("  |         ^^^"), "{s}");
        assert!(s.ends_with("help: use a fraction"), "{s}");
    }
}
