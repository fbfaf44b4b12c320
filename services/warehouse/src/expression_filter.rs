//! `expressionFilter`: a CEL expression deciding whether a discovered commit or tag is
//! kept. It sees `id`, `subject`, `author`, `committer`, `commitDate` and `creatorDate`
//! (RFC 3339 strings in UTC, so they compare in time order), and for tags `tag`,
//! `tagger` and `annotation`; e.g. `!subject.contains('[skip ci]')`.

use std::sync::Arc;

use cel::{Context, Program, Value};
use chrono::{DateTime, SecondsFormat, Utc};
use lading_events::catalog::DiscoveredCommitV1;

/// A compiled filter.
pub struct ExpressionFilter {
    source: String,
    program: Program,
}

impl ExpressionFilter {
    pub fn compile(source: &str) -> Result<Self, String> {
        let program =
            Program::compile(source).map_err(|e| format!("expressionFilter {source:?} does not parse: {e}"))?;
        Ok(Self { source: source.to_owned(), program })
    }

    /// Whether the candidate is kept; an expression that does not yield a bool is an error.
    pub fn keeps(&self, commit: &DiscoveredCommitV1, tagger: &str, annotation: &str) -> Result<bool, String> {
        let mut context = Context::default();
        let text = |s: &str| Value::String(Arc::new(s.to_owned()));
        let date = DateTime::<Utc>::from_timestamp_millis(commit.creator_date_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        for (name, value) in [
            ("id", commit.id.as_str()),
            ("subject", &commit.subject),
            ("author", &commit.author),
            ("committer", &commit.committer),
            ("tag", &commit.tag),
            ("tagger", tagger),
            ("annotation", annotation),
            ("commitDate", &date),
            ("creatorDate", &date),
        ] {
            context.add_variable_from_value(name, text(value));
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(keep)) => Ok(keep),
            Ok(other) => Err(format!("expressionFilter {:?} must yield a bool, not {other:?}", self.source)),
            Err(e) => Err(format!("expressionFilter {:?} failed: {e}", self.source)),
        }
    }
}
