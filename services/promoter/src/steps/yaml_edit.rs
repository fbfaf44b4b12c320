//! Format-preserving YAML edits: set values at dotted key paths and change nothing else.
//! Comments, key order, indentation and every other byte stay, and an existing scalar
//! keeps its quoting style, so a promotion's diff is the changed lines.
//!
//! Existing scalars are replaced in place at the byte span yamlpath finds for them;
//! missing keys are added with yamlpatch. Every edit is checked by parsing the result
//! and reading the value back.

use std::borrow::Cow;

use serde_json::Value;
use yamlpath::{Component, Document, FeatureKind, Route};

/// Splits `image.tag` / `containers.0.image` into route components (numbers index lists).
fn components(key: &str) -> Result<Vec<String>, String> {
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!("{key:?} is not a dotted key path"));
    }
    Ok(key.split('.').map(str::to_owned).collect())
}

fn route(parts: &[String]) -> Route<'static> {
    let components: Vec<Component<'static>> = parts
        .iter()
        .map(|p| match p.parse::<usize>() {
            Ok(index) => Component::Index(index),
            Err(_) => Component::Key(Cow::Owned(p.clone())),
        })
        .collect();
    Route::from(components)
}

/// Whether a plain (unquoted) scalar `text` would read back as that same string.
fn plain_is_safe(text: &str) -> bool {
    if text.is_empty() || text.trim() != text || text.contains('\n') {
        return false;
    }
    let first = text.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || text.contains(": ") || text.contains(" #") || text.ends_with(':') {
        return false;
    }
    matches!(serde_saphyr::from_str::<Value>(text), Ok(Value::String(s)) if s == text)
}

fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders `value` as a scalar in the style of `old` (the scalar it replaces).
fn render_scalar(old: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(if old.starts_with('"') {
            double_quoted(s)
        } else if old.starts_with('\'') && !s.contains('\n') {
            format!("'{}'", s.replace('\'', "''"))
        } else if plain_is_safe(s) {
            s.clone()
        } else {
            double_quoted(s)
        }),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn to_yaml_value(value: &Value) -> Result<yaml_serde::Value, String> {
    yaml_serde::to_value(value).map_err(|e| format!("cannot write {value}: {e}"))
}

/// `value` nested under `parts` (`["a", "b"]`, v → `{a: {b: v}}`).
fn nested(parts: &[String], value: &Value) -> Value {
    parts.iter().rev().fold(value.clone(), |inner, key| {
        let mut map = serde_json::Map::new();
        map.insert(key.clone(), inner);
        Value::Object(map)
    })
}

fn read_back(source: &str, parts: &[String]) -> Option<Value> {
    let document: Value = serde_saphyr::from_str(source).ok()?;
    parts.iter().try_fold(document, |node, part| match node {
        Value::Object(mut map) => map.remove(part),
        Value::Array(mut items) => {
            let index: usize = part.parse().ok()?;
            (index < items.len()).then(|| items.swap_remove(index))
        }
        _ => None,
    })
}

fn set_one(source: &str, key: &str, value: &Value) -> Result<String, String> {
    let parts = components(key)?;
    if source.trim().is_empty() {
        return serde_saphyr::to_string(&nested(&parts, value)).map_err(|e| e.to_string());
    }
    let document = Document::new(source).map_err(|_| not_yaml(source))?;
    let updated = match document.query_exact(&route(&parts)) {
        Ok(Some(feature)) => {
            let (start, end) = feature.location.byte_span;
            let old = &source[start..end];
            let is_scalar = !matches!(
                feature.kind(),
                FeatureKind::BlockMapping
                    | FeatureKind::BlockSequence
                    | FeatureKind::FlowMapping
                    | FeatureKind::FlowSequence
            ) && !old.starts_with('|')
                && !old.starts_with('>');
            match render_scalar(old, value).filter(|_| is_scalar) {
                Some(text) => format!("{}{text}{}", &source[..start], &source[end..]),
                None => patch(&document, &parts, yamlpatch::Op::Replace(to_yaml_value(value)?))?,
            }
        }
        // `key:` with no value.
        Ok(None) => patch(&document, &parts, yamlpatch::Op::Replace(to_yaml_value(value)?))?,
        Err(_) => {
            // The longest prefix that exists gets the rest as a new nested key.
            let mut existing = parts.len() - 1;
            while existing > 0 && !document.query_exists(&route(&parts[..existing])) {
                existing -= 1;
            }
            let (parent, missing) = parts.split_at(existing);
            if missing[0].parse::<usize>().is_ok() {
                return Err(format!("{key}: index {} is past the end of its list", missing[0]));
            }
            if parent.is_empty() {
                // A new top-level key goes at the end; nothing else moves.
                let block = serde_saphyr::to_string(&nested(missing, value)).map_err(|e| e.to_string())?;
                let separator = if source.ends_with('\n') { "" } else { "\n" };
                format!("{source}{separator}{block}")
            } else {
                let op = yamlpatch::Op::Add {
                    key: missing[0].clone(),
                    value: to_yaml_value(&nested(&missing[1..], value))?,
                };
                patch(&document, parent, op)?
            }
        }
    };
    match read_back(&updated, &parts) {
        Some(v) if same_value(&v, value) => Ok(updated),
        // What was read back is the file's content: it is not quoted.
        _ => Err(format!("{key}: the edit did not take; is the path a mapping?")),
    }
}

/// Where `source` is not YAML, without quoting it.
fn not_yaml(source: &str) -> String {
    format!("not valid YAML{}", super::parse_errors::yaml_location(source))
}

/// Compares as YAML would: numbers by value.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn patch(document: &Document, parts: &[String], operation: yamlpatch::Op<'static>) -> Result<String, String> {
    let patch = yamlpatch::Patch { route: route(parts), operation };
    yamlpatch::apply_yaml_patches(document, &[patch]).map(|d| d.source().to_owned()).map_err(|e| e.to_string())
}

/// Appends `value` to the block sequence at `key`, creating the key when missing.
pub fn append_to_sequence(source: &str, key: &str, value: &Value) -> Result<String, String> {
    let parts = components(key)?;
    if source.trim().is_empty() || read_back(source, &parts).is_none() {
        return set_one(source, key, &Value::Array(vec![value.clone()]));
    }
    let document = Document::new(source).map_err(|_| not_yaml(source))?;
    patch(&document, &parts, yamlpatch::Op::Append { value: to_yaml_value(value)? })
}

/// Sets each `(key, value)` in order.
pub fn set_values(source: &str, updates: &[(String, Value)]) -> Result<String, String> {
    updates.iter().try_fold(source.to_owned(), |text, (key, value)| set_one(&text, key, value))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(source: &str, updates: &[(&str, Value)]) -> String {
        let updates: Vec<(String, Value)> = updates.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        set_values(source, &updates).unwrap()
    }

    const VALUES: &str = "\
# Values for the app   (kept as is)
image:
  repository: nginx   # the image
  tag: \"1.0.0\"        # pinned by Lading
  pullPolicy: 'IfNotPresent'
replicas: 2
env:   {LOG: debug, MODE: fast}
containers:
    - name: web
      image: nginx:1.0.0
resources: {}
";

    #[test]
    fn only_the_changed_values_change() {
        let after = set(
            VALUES,
            &[
                ("image.tag", json!("1.2.3")),
                ("image.pullPolicy", json!("Always")),
                ("replicas", json!(3)),
                ("containers.0.image", json!("nginx:1.2.3")),
            ],
        );
        let expected = VALUES
            .replace("tag: \"1.0.0\"", "tag: \"1.2.3\"")
            .replace("'IfNotPresent'", "'Always'")
            .replace("replicas: 2", "replicas: 3")
            .replace("image: nginx:1.0.0", "image: nginx:1.2.3");
        assert_eq!(after, expected);
    }

    #[test]
    fn flow_mappings_keep_their_style() {
        let after = set(VALUES, &[("env.LOG", json!("info"))]);
        assert_eq!(after, VALUES.replace("{LOG: debug, MODE: fast}", "{LOG: info, MODE: fast}"));
    }

    #[test]
    fn plain_values_that_would_change_meaning_are_quoted() {
        let after = set("version: 1\nname: app\n", &[("name", json!("1.0")), ("version", json!("yes: no"))]);
        assert_eq!(after, "version: \"yes: no\"\nname: \"1.0\"\n");
    }

    #[test]
    fn missing_keys_are_added_under_the_nearest_existing_parent() {
        let after = set("# top\nimage:\n  repository: nginx # repo\nother: 1\n", &[("image.tag", json!("1.2.3"))]);
        assert!(after.starts_with("# top\nimage:\n  repository: nginx # repo\n"), "{after}");
        assert!(after.contains("  tag: 1.2.3\n"), "{after}");
        assert!(after.ends_with("other: 1\n"), "{after}");
        let deep = set("a: 1\n", &[("b.c.d", json!("x"))]);
        assert_eq!(read_back(&deep, &["b".into(), "c".into(), "d".into()]), Some(json!("x")));
        assert!(deep.starts_with("a: 1\n"));
    }

    #[test]
    fn an_empty_file_gets_the_values() {
        assert_eq!(
            read_back(&set("", &[("app.commit", json!("abc"))]), &["app".into(), "commit".into()]),
            Some(json!("abc"))
        );
    }

    #[test]
    fn strings_with_quotes_and_newlines_round_trip() {
        let after = set("msg: \"old\"\nplain: x\n", &[("msg", json!("say \"hi\"\nbye")), ("plain", json!("it's"))]);
        assert_eq!(read_back(&after, &["msg".into()]), Some(json!("say \"hi\"\nbye")));
        assert_eq!(read_back(&after, &["plain".into()]), Some(json!("it's")));
        assert!(after.ends_with("plain: it's\n"), "{after}");
    }

    #[test]
    fn bad_paths_are_explained() {
        assert!(set_values("a: [1]\n", &[("a.3".into(), json!(1))]).unwrap_err().contains("past the end"));
        assert!(set_values("a: 1\n", &[("a..b".into(), json!(1))]).unwrap_err().contains("dotted key path"));
        assert!(set_values("a: scalar\n", &[("a.b".into(), json!(1))]).is_err());
    }
}
