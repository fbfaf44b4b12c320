//! Strings holding `${{ … }}` expressions: literal text and expression sources, in order.
//! A string that is exactly one expression keeps the expression's type when evaluated;
//! expressions inside longer strings are interpolated as text; a result enclosed in
//! quotes is the text inside them ([`unquote`]).

use serde_json::Value;

use super::error::ExpressionError;

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    Text(&'a str),
    /// The source between `${{` and `}}`, trimmed.
    Expression(&'a str),
}

/// Whether `text` holds any `${{`.
pub fn is_template(text: &str) -> bool {
    text.contains("${{")
}

/// Splits `template` into text and expressions.
pub fn split(template: &str) -> Result<Vec<Part<'_>>, ExpressionError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        if start > 0 {
            parts.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 3..];
        let end = after.find("}}").ok_or(ExpressionError::Unterminated)?;
        parts.push(Part::Expression(after[..end].trim()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// The expression sources of `template`, in order.
pub fn expressions(template: &str) -> Result<Vec<&str>, ExpressionError> {
    Ok(split(template)?
        .into_iter()
        .filter_map(|part| match part {
            Part::Expression(source) => Some(source),
            Part::Text(_) => None,
        })
        .collect())
}

/// As Kargo reads a template's result: one enclosed in quotes (`quote()`'s, or
/// `unsafeQuote()`'s) is the string inside them, a single trailing newline (a YAML `|`
/// block's) kept outside; anything else is left as it is.
pub fn unquote(value: Value) -> Value {
    let Value::String(text) = &value else { return value };
    let (body, newline) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (text.as_str(), ""),
    };
    if body.len() < 2 || !body.starts_with('"') || !body.ends_with('"') {
        return value;
    }
    match serde_json::from_str::<String>(body) {
        Ok(inner) => Value::String(format!("{inner}{newline}")),
        Err(_) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_text_and_trimmed_expressions_in_order() {
        assert_eq!(
            split("stage/${{ ctx.stage }}-${{vars.x}}!").unwrap(),
            vec![
                Part::Text("stage/"),
                Part::Expression("ctx.stage"),
                Part::Text("-"),
                Part::Expression("vars.x"),
                Part::Text("!")
            ]
        );
        assert_eq!(split("${{ 1 }}").unwrap(), vec![Part::Expression("1")]);
        assert_eq!(split("plain").unwrap(), vec![Part::Text("plain")]);
        assert_eq!(expressions("a ${{ x }} b ${{ y }}").unwrap(), vec!["x", "y"]);
    }

    #[test]
    fn an_unterminated_expression_is_an_error() {
        assert_eq!(split("${{ vars.x").unwrap_err(), ExpressionError::Unterminated);
        assert!(!is_template("no expression") && is_template("${{"));
    }

    #[test]
    fn given_results_when_unquoted_then_only_a_whole_quoted_string_loses_its_quotes() {
        use serde_json::json;
        assert_eq!(unquote(json!("\"42\"")), json!("42"));
        assert_eq!(unquote(json!("\"a \\\"b\\\"\"\n")), json!("a \"b\"\n"), "a block's final newline stays");
        assert_eq!(unquote(json!("tag: \"3\"")), json!("tag: \"3\""), "quotes inside text stay");
        assert_eq!(unquote(json!("\"a\" and \"b\"")), json!("\"a\" and \"b\""), "not one string literal");
        assert_eq!(unquote(json!(3)), json!(3));
        assert_eq!(unquote(json!("\"")), json!("\""));
    }
}
