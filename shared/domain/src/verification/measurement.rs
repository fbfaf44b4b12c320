//! A measurement's result and its verdict (Argo's `EvaluateResult`): with no conditions a
//! result is successful; with only a success condition, failed unless it holds; with only
//! a failure condition, successful unless it holds; with both, failed when the failure
//! condition holds, successful when the success condition does, inconclusive when
//! neither does. A condition that cannot be evaluated makes the measurement an error.

use cel::Value as CelValue;
use serde_json::Value;

use super::conditions;
use super::phase::Phase;
use crate::excerpt::quoted;
use crate::expression::{ExpressionLimits, Program};

/// What a provider measured.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasuredValue {
    /// A Prometheus scalar.
    Number(f64),
    /// A Prometheus vector: one value per series, as Argo gives it.
    Vector(Vec<f64>),
    /// A web answer (or the part `jsonPath` picked).
    Json(Value),
}

impl MeasuredValue {
    /// The value as conditions see it.
    pub fn to_cel(&self) -> CelValue {
        match self {
            MeasuredValue::Number(f) => CelValue::Float(*f),
            MeasuredValue::Vector(values) => {
                CelValue::List(std::sync::Arc::new(values.iter().map(|f| CelValue::Float(*f)).collect()))
            }
            MeasuredValue::Json(value) => cel::to_value(value).unwrap_or(CelValue::Null),
        }
    }

    /// The value as the measurement records it (`[0.95]`, `0.5`, `NaN`, JSON).
    pub fn display(&self) -> String {
        fn number(f: f64) -> String {
            if f.is_nan() {
                "NaN".to_owned()
            } else if f.is_infinite() {
                if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
            } else {
                format!("{f}")
            }
        }
        match self {
            MeasuredValue::Number(f) => number(*f),
            MeasuredValue::Vector(values) => {
                format!("[{}]", values.iter().map(|f| number(*f)).collect::<Vec<_>>().join(", "))
            }
            MeasuredValue::Json(Value::String(s)) => s.clone(),
            MeasuredValue::Json(value) => value.to_string(),
        }
    }
}

/// A measurement's phase and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub phase: Phase,
    pub message: String,
}

/// Judges `value` by the metric's conditions (either may be absent). Blocking: the
/// conditions run on an expression thread.
pub fn judge(
    value: &MeasuredValue,
    success: Option<&Program>,
    failure: Option<&Program>,
    limits: &ExpressionLimits,
) -> Verdict {
    let result = value.to_cel();
    let evaluate = |program: &Program| conditions::holds(program, result.clone(), limits);
    let shown = value.display();
    let verdict = |phase, message: String| Verdict { phase, message };
    let (succeeded, failed) = match (success.map(evaluate).transpose(), failure.map(evaluate).transpose()) {
        (Ok(s), Ok(f)) => (s, f),
        (Err(e), _) | (_, Err(e)) => {
            return verdict(Phase::Error, format!("value {shown}: the condition could not be evaluated: {e}"));
        }
    };
    match (success, succeeded, failure, failed) {
        (_, _, Some(f), Some(true)) => {
            verdict(Phase::Failed, format!("value {shown} met failureCondition {}", quoted(f.source())))
        }
        (Some(s), Some(false), None, _) => {
            verdict(Phase::Failed, format!("value {shown} did not meet successCondition {}", quoted(s.source())))
        }
        (Some(s), Some(false), Some(f), _) => verdict(
            Phase::Inconclusive,
            format!(
                "value {shown} met neither successCondition {} nor failureCondition {}",
                quoted(s.source()),
                quoted(f.source())
            ),
        ),
        _ => verdict(Phase::Successful, format!("value {shown}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn program(source: &str) -> Program {
        conditions::check(source).unwrap()
    }

    fn judged(value: MeasuredValue, success: Option<&str>, failure: Option<&str>) -> Verdict {
        let (s, f) = (success.map(program), failure.map(program));
        judge(&value, s.as_ref(), f.as_ref(), &ExpressionLimits::default())
    }

    #[test]
    fn given_a_prometheus_vector_when_the_success_condition_holds_then_successful() {
        let v = judged(MeasuredValue::Vector(vec![0.97]), Some("result[0] >= 0.95"), None);
        assert_eq!(v.phase, Phase::Successful, "{v:?}");
        let v = judged(MeasuredValue::Vector(vec![0.5]), Some("result[0] >= 0.95"), None);
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(v.message, "value [0.5] did not meet successCondition \"result[0] >= 0.95\"");
    }

    #[test]
    fn given_only_a_failure_condition_then_failed_only_when_it_holds() {
        assert_eq!(judged(MeasuredValue::Number(3.0), None, Some("result > 5")).phase, Phase::Successful);
        assert_eq!(judged(MeasuredValue::Number(7.0), None, Some("result > 5")).phase, Phase::Failed);
    }

    #[test]
    fn given_both_conditions_when_neither_holds_then_inconclusive() {
        let v = judged(MeasuredValue::Number(0.9), Some("result >= 0.95"), Some("result < 0.5"));
        assert_eq!(v.phase, Phase::Inconclusive, "{v:?}");
        // The failure condition wins when both hold.
        let v = judged(MeasuredValue::Number(0.3), Some("result < 1.0"), Some("result < 0.5"));
        assert_eq!(v.phase, Phase::Failed);
    }

    #[test]
    fn given_no_condition_then_any_value_is_successful() {
        assert_eq!(judged(MeasuredValue::Json(json!("anything")), None, None).phase, Phase::Successful);
    }

    #[test]
    fn argo_forms_of_conditions_work() {
        let ok = |value: MeasuredValue, source: &str| judged(value, Some(source), None).phase;
        assert_eq!(ok(MeasuredValue::Json(json!("ok")), "result == \"ok\""), Phase::Successful);
        assert_eq!(ok(MeasuredValue::Vector(vec![50.0]), "len(result) > 0 && result[0] < 100"), Phase::Successful);
        assert_eq!(ok(MeasuredValue::Vector(vec![]), "len(result) > 0 && result[0] < 100"), Phase::Failed);
        assert_eq!(ok(MeasuredValue::Number(f64::NAN), "isNaN(result)"), Phase::Successful);
        assert_eq!(ok(MeasuredValue::Number(f64::NAN), "default(result, 0.0) == 0.0"), Phase::Successful);
        assert_eq!(ok(MeasuredValue::Json(json!({"status": "up"})), "result.status == \"up\""), Phase::Successful);
        assert_eq!(ok(MeasuredValue::Json(json!(3)), "result >= 2.5"), Phase::Successful);
    }

    #[test]
    fn a_condition_that_cannot_be_evaluated_is_an_error_naming_the_value() {
        let v = judged(MeasuredValue::Json(json!("text")), Some("result > 5"), None);
        assert_eq!(v.phase, Phase::Error, "{v:?}");
        assert!(v.message.starts_with("value text:"), "{}", v.message);
        let v = judged(MeasuredValue::Number(1.0), Some("result + 1"), None);
        assert_eq!(v.phase, Phase::Error, "not a bool: {v:?}");
    }

    #[test]
    fn conditions_naming_unknown_things_are_refused_when_checked() {
        assert!(conditions::check("result[0] >= 0.95").is_ok());
        let e = conditions::check("response.status == 200").unwrap_err().to_string();
        assert!(e.contains("response"), "{e}");
        let e = conditions::check("nosuch(result)").unwrap_err().to_string();
        assert!(e.contains("nosuch"), "{e}");
        assert!(conditions::check("result >=").is_err());
    }
}
