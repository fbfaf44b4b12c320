//! `Chart.lock` as Helm writes it: its `digest` computed as Helm's `resolver.HashReq`
//! does (SHA-256 over Go's `encoding/json` of the requested and the locked
//! dependencies), and its `repository` lines renamed without touching the rest.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Go's `sanitizeString` (Helm's chart metadata): whitespace becomes a space, other
/// unprintable characters go.
fn sanitize(text: &str) -> String {
    text.chars().filter_map(|c| if c.is_whitespace() { Some(' ') } else { (!c.is_control()).then_some(c) }).collect()
}

/// `text` as Go's `encoding/json` writes a string (HTML-safe escaping).
fn go_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Go writes a `float64` (what JSON numbers decode to in Helm).
fn go_number(number: &serde_json::Number, out: &mut String) {
    if let Some(i) = number.as_i64().filter(|i| i.unsigned_abs() < 1 << 53) {
        out.push_str(&i.to_string());
        return;
    }
    let f = number.as_f64().unwrap_or_default();
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
        out.push_str(&format!("{mantissa}e{sign}{digits:0>2}"));
    } else {
        out.push_str(&format!("{f}"));
    }
}

/// Any decoded JSON value as Go writes it back (`map` keys sorted).
fn go_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => go_number(n, out),
        Value::String(s) => go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                go_value(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// A string field of a dependency as Helm holds it (sanitized).
fn text_field(dependency: &Map<String, Value>, key: &str) -> String {
    match dependency.get(key) {
        Some(Value::String(s)) => sanitize(s),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// One `chart.Dependency` as Go's `json.Marshal` writes it: the struct's field order,
/// `omitempty` fields left out when empty.
fn go_dependency(dependency: &Value, out: &mut String) {
    let empty = Map::new();
    let d = dependency.as_object().unwrap_or(&empty);
    out.push_str("{\"name\":");
    go_string(&text_field(d, "name"), out);
    let version = text_field(d, "version");
    if !version.is_empty() {
        out.push_str(",\"version\":");
        go_string(&version, out);
    }
    out.push_str(",\"repository\":");
    go_string(&text_field(d, "repository"), out);
    let condition = text_field(d, "condition");
    if !condition.is_empty() {
        out.push_str(",\"condition\":");
        go_string(&condition, out);
    }
    if let Some(tags) = d.get("tags").and_then(Value::as_array).filter(|t| !t.is_empty()) {
        out.push_str(",\"tags\":[");
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_string(&sanitize(tag.as_str().unwrap_or_default()), out);
        }
        out.push(']');
    }
    if d.get("enabled") == Some(&Value::Bool(true)) {
        out.push_str(",\"enabled\":true");
    }
    if let Some(values) = d.get("import-values").and_then(Value::as_array).filter(|v| !v.is_empty()) {
        out.push_str(",\"import-values\":");
        go_value(&Value::Array(values.clone()), out);
    }
    let alias = text_field(d, "alias");
    if !alias.is_empty() {
        out.push_str(",\"alias\":");
        go_string(&alias, out);
    }
    out.push('}');
}

/// Helm's `resolver.HashReq`: `sha256:` and the hex SHA-256 of Go's JSON of
/// `[requested dependencies, locked dependencies]`.
pub fn hash_req(requested: &[Value], locked: &[Value]) -> String {
    let mut json = String::from("[");
    for (n, list) in [requested, locked].into_iter().enumerate() {
        if n > 0 {
            json.push(',');
        }
        json.push('[');
        for (i, dependency) in list.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            go_dependency(dependency, &mut json);
        }
        json.push(']');
    }
    json.push(']');
    format!("sha256:{:x}", Sha256::digest(json.as_bytes()))
}

/// The `dependencies` of a `Chart.yaml` or `Chart.lock` text.
pub fn dependencies_of(text: &str) -> Result<Vec<Value>, String> {
    let document: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    Ok(document.get("dependencies").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// The lock `text` with each `repository: <from>` line naming `to`, for each pair.
pub fn rename_repositories(text: &str, renames: &[(String, String)]) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let rest = trimmed.strip_prefix("- ").map(|r| ("- ", r)).unwrap_or(("", trimmed));
            if let Some(value) = rest.1.strip_prefix("repository: ")
                && let Some((_, to)) = renames.iter().find(|(from, _)| from == value.trim_end())
            {
                return format!("{indent}{}repository: {to}\n", rest.0);
            }
            format!("{line}\n")
        })
        .collect()
}

/// The lock `text` with its `digest:` line set to `digest`.
pub fn set_digest(text: &str, digest: &str) -> String {
    text.lines()
        .map(|line| if line.starts_with("digest: ") { format!("digest: {digest}\n") } else { format!("{line}\n") })
        .collect()
}

/// The `digest:` of a lock `text`.
pub fn digest_of(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix("digest: ")).map(|d| d.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn given_helms_own_lock_when_hashed_then_the_digest_helm_wrote_comes_out() {
        // A Chart.yaml and the Chart.lock Helm v4 (helm-python-sdk 0.2.2) wrote for it.
        let chart = "apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n- name: sub1\n  version: \">=1.0.0 <2\"\n  repository: file://../sub1\n  tags: [a, \"b&c\"]\n  import-values:\n  - child: x\n    parent: y\n  - data\n  alias: first\n  enabled: true\n- name: sub2\n  version: 0.3.0\n  repository: \"file://../sub2\"\n  condition: sub2.enabled\n";
        let lock = "dependencies:\n- name: sub1\n  repository: file://../sub1\n  version: 1.1.0\n- name: sub2\n  repository: file://../sub2\n  version: 0.3.0\ndigest: sha256:7f70c552157d078a3fab5332cdd8b29f05bb6d340bb558483a9b7f9c68fd22d6\ngenerated: \"2026-12-02T08:09:32.667565023Z\"\n";
        let digest = hash_req(&dependencies_of(chart).unwrap(), &dependencies_of(lock).unwrap());
        assert_eq!(Some(digest), digest_of(lock));
        // `parent: y` is YAML 1.1's `true`, for Helm's YAML reader as for ours.
        let mut text = String::new();
        go_dependency(&dependencies_of(chart).unwrap()[0], &mut text);
        assert_eq!(
            text,
            r#"{"name":"sub1","version":"\u003e=1.0.0 \u003c2","repository":"file://../sub1","tags":["a","b\u0026c"],"enabled":true,"import-values":[{"child":"x","parent":true},"data"],"alias":"first"}"#
        );
    }

    #[test]
    fn given_numbers_when_written_as_go_does_then_floats_and_exponents_match() {
        let write = |v: Value| {
            let mut out = String::new();
            go_value(&v, &mut out);
            out
        };
        assert_eq!(write(json!(3)), "3");
        assert_eq!(write(json!(1.5)), "1.5");
        assert_eq!(write(json!(1e21)), "1e+21");
        assert_eq!(write(json!(1e-7)), "1e-07");
        assert_eq!(write(json!({"b": 1, "a": "<&>"})), r#"{"a":"\u003c\u0026\u003e","b":1}"#);
    }

    #[test]
    fn given_a_lock_when_repositories_are_renamed_then_only_their_lines_change() {
        let lock = "dependencies:\n- name: a\n  repository: http://127.0.0.1:9/t/r0\n  version: 1.0.0\n- name: b\n  repository: oci://r/c\n  version: 2.0.0\ndigest: sha256:old\ngenerated: \"2026-01-01T00:00:00Z\"\n";
        let renamed =
            rename_repositories(lock, &[("http://127.0.0.1:9/t/r0".into(), "https://charts.example/x".into())]);
        assert_eq!(renamed, lock.replace("http://127.0.0.1:9/t/r0", "https://charts.example/x"));
        assert_eq!(digest_of(&set_digest(&renamed, "sha256:new")).as_deref(), Some("sha256:new"));
    }
}
