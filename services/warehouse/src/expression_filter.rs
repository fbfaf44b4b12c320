//! `expressionFilter`: a CEL expression deciding whether a discovered commit or tag is
//! kept. It sees `id`, `subject`, `author`, `committer`, `commitDate` and `creatorDate`
//! (RFC 3339 strings in UTC, so they compare in time order), and for tags `tag`,
//! `tagger` and `annotation`; e.g. `!subject.contains('[skip ci]')`.
//!
//! Each candidate is judged within its own budget (see [`lading_domain::expression`]), on
//! an expression thread; a discovery looks at a bounded number of candidates.

use chrono::{DateTime, SecondsFormat, Utc};
use lading_domain::expression::{
    Budget, Evaluator, ExpressionError, ExpressionLimits, Program, QuotedError, on_expression_stack,
};
use lading_domain::spec::EXPRESSION_FILTER_VARIABLES;
use lading_events::catalog::DiscoveredCommitV1;
use serde_json::Value;

/// A compiled filter.
pub struct ExpressionFilter {
    source: String,
    program: Program,
    limits: ExpressionLimits,
}

impl ExpressionFilter {
    pub fn compile(source: &str, limits: &ExpressionLimits) -> Result<Self, String> {
        let program = Program::compile(source).map_err(|e| describe(source, e))?;
        Ok(Self { source: source.to_owned(), program, limits: *limits })
    }

    /// Whether the candidate is kept; an expression that does not yield a bool is an error.
    pub fn keeps(&self, commit: &DiscoveredCommitV1, tagger: &str, annotation: &str) -> Result<bool, String> {
        let date = DateTime::<Utc>::from_timestamp_millis(commit.creator_date_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let values = [
            commit.id.as_str(),
            &commit.subject,
            &commit.author,
            &commit.committer,
            &date,
            &date,
            &commit.tag,
            tagger,
            annotation,
        ];
        let budget = Budget::new(&self.limits);
        let kept = on_expression_stack(|| {
            let mut evaluator = Evaluator::new(&budget);
            for (name, value) in EXPRESSION_FILTER_VARIABLES.iter().zip(values) {
                evaluator.bind_text(name, value);
            }
            match evaluator.evaluate(&self.program)? {
                Value::Bool(keep) => Ok(keep),
                other => Err(ExpressionError::WrongType {
                    expected: "a bool",
                    got: lading_domain::expression::values::type_name(&other).to_owned(),
                }),
            }
        });
        kept.and_then(|kept| kept).map_err(|e| describe(&self.source, e))
    }
}

fn describe(source: &str, error: ExpressionError) -> String {
    format!("expressionFilter: {}", QuotedError::bare(source, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(subject: &str) -> DiscoveredCommitV1 {
        DiscoveredCommitV1 { id: "abc".into(), subject: subject.into(), ..Default::default() }
    }

    #[test]
    fn a_filter_sees_the_commit_and_must_yield_a_bool() {
        let limits = ExpressionLimits::default();
        let filter = ExpressionFilter::compile("!subject.contains('[skip ci]') && id == 'abc'", &limits).unwrap();
        assert!(filter.keeps(&commit("fix"), "", "").unwrap());
        assert!(!filter.keeps(&commit("docs [skip ci]"), "", "").unwrap());
        let text = ExpressionFilter::compile("subject", &limits).unwrap();
        assert_eq!(
            text.keeps(&commit("x"), "", "").unwrap_err(),
            "expressionFilter: \"subject\": must yield a bool, not a string"
        );
    }
}
