//! Why an expression was refused or did not yield a value, and where in its source.

use std::fmt;
use std::time::Duration;

use super::limits::{MAX_ALLOCATED_ENV, MAX_OUTPUT_ENV, TIMEOUT_ENV};
use crate::limits::{display_duration, display_size};

/// A place in an expression's source, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `source` (clamped to the source).
    pub fn of_offset(source: &str, offset: usize) -> Position {
        let mut end = offset.min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let before = &source[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position { line, column: before[line_start..].chars().count() + 1 }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 {
            write!(f, "column {}", self.column)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// Why an expression was refused (when parsed) or failed (when evaluated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("unterminated ${{{{: every ${{{{ needs a closing }}}}")]
    Unterminated,
    #[error("is empty")]
    Empty,
    #[error("is {length} bytes long; an expression may have at most {max}")]
    TooLong { length: usize, max: usize },
    #[error("syntax error at {position}: {message}")]
    Syntax { position: Position, message: String },
    #[error("nests {depth} levels deep at {position}; an expression may nest at most {max}")]
    TooDeep { depth: usize, max: usize, position: Position },
    #[error(
        "runs comprehensions (all, exists, exists_one, map, filter) {depth} deep, one inside another, at {position}; at most {max} may nest"
    )]
    NestedComprehensions { depth: usize, max: usize, position: Position },
    #[error("unknown function {name} at {position}")]
    UnknownFunction { name: String, position: Position },
    #[error("unknown variable {name} at {position}; known here: {known}")]
    UnknownVariable { name: String, position: Position, known: String },
    #[error("{reference} at {position} cannot exist: {reason}")]
    Unresolvable { reference: String, position: Position, reason: String },
    #[error("{what} at {position} is not supported")]
    Unsupported { what: String, position: Position },
    #[error("ran out of its time budget of {} ({TIMEOUT_ENV})", display_duration(*.limit))]
    Timeout { limit: Duration },
    #[error("created more than {} of values, its budget ({MAX_ALLOCATED_ENV})", display_size(*.limit))]
    Allocation { limit: u64 },
    #[error("yields more than {}, the most a result may hold ({MAX_OUTPUT_ENV})", display_size(*.limit))]
    OutputTooLarge { limit: u64 },
    #[error("failed: {0}")]
    Evaluation(String),
    #[error("yields a value Lading cannot use: {0}")]
    Unusable(String),
    #[error("must yield {expected}, not {got}")]
    WrongType { expected: &'static str, got: String },
    #[error("could not be evaluated: {0}")]
    Internal(String),
}

impl ExpressionError {
    /// Whether the error is a budget running out (rather than the expression being wrong).
    pub fn is_budget(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Allocation { .. } | Self::OutputTooLarge { .. })
    }
}

/// An expression error with the expression it is about, as users wrote it: `${{ x + }}:
/// syntax error at column 4: …` (or the bare expression, quoted, for a field that holds
/// one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown}: {error}")]
pub struct QuotedError {
    pub shown: String,
    pub error: ExpressionError,
}

impl QuotedError {
    /// An error about `source`, written inside `${{ }}` in a template.
    pub fn in_template(source: &str, error: ExpressionError) -> Self {
        Self {
            shown: format!("${{{{ {} }}}}", crate::excerpt::shortened(source, crate::excerpt::EXCERPT_CHARS)),
            error,
        }
    }

    /// An error about a field that holds a bare expression.
    pub fn bare(source: &str, error: ExpressionError) -> Self {
        Self { shown: crate::excerpt::quoted(source), error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one_on_each_line() {
        assert_eq!(Position::of_offset("a + b", 4), Position { line: 1, column: 5 });
        assert_eq!(Position::of_offset("'é' + x", 6), Position { line: 1, column: 6 });
        assert_eq!(Position::of_offset("a +\n  b", 6), Position { line: 2, column: 3 });
        assert_eq!(Position::of_offset("ab", 99), Position { line: 1, column: 3 });
        assert_eq!(Position { line: 1, column: 12 }.to_string(), "column 12");
        assert_eq!(Position { line: 2, column: 3 }.to_string(), "line 2, column 3");
    }

    #[test]
    fn budget_errors_name_their_limit_and_setting() {
        let timeout = ExpressionError::Timeout { limit: Duration::from_millis(100) };
        assert_eq!(timeout.to_string(), "ran out of its time budget of 100ms (LADING_EXPRESSION_TIMEOUT)");
        let allocation = ExpressionError::Allocation { limit: 16 << 20 };
        assert!(allocation.to_string().contains("16 MiB of values"), "{allocation}");
        assert!(allocation.is_budget() && !ExpressionError::Empty.is_budget());
        let quoted = QuotedError::in_template("vars.x +", ExpressionError::Empty);
        assert_eq!(quoted.to_string(), "${{ vars.x + }}: is empty");
    }
}
