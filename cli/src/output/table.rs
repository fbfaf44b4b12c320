//! Aligned tables, and the cells kubectl users know: ages.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Rows under headers (none when `headers` is empty), columns padded to their widest
/// cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).chain([headers.len()]).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for (i, header) in headers.iter().enumerate() {
        widths[i] = header.chars().count();
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        padded.join("   ").trim_end().to_owned()
    };
    let mut out = Vec::new();
    if !headers.is_empty() {
        out.push(line(headers.to_vec()));
    }
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

/// A kubectl-style age: `45s`, `12m`, `3h`, `5d`.
pub fn age(since: Option<&str>, now: DateTime<Utc>) -> String {
    let Some(since) = since.and_then(|s| DateTime::parse_from_rfc3339(s).ok()) else {
        return "<unknown>".into();
    };
    let seconds = (now - since.with_timezone(&Utc)).num_seconds().max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// The string at a JSON pointer, or nothing.
pub fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let out = table(&["NAME", "ALIAS"], &[vec!["abc".into(), "brave-otter".into()], vec!["x".into(), "y".into()]]);
        assert_eq!(out, "NAME   ALIAS\nabc    brave-otter\nx      y");
        let headless = table(&[], &[vec!["abc".into(), "brave-otter".into()], vec!["x".into(), "y".into()]]);
        assert_eq!(headless, "abc   brave-otter\nx     y");
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(age(Some("2026-01-01T23:59:30Z"), now), "30s");
        assert_eq!(age(Some("2026-01-01T23:00:00Z"), now), "60m");
        assert_eq!(age(Some("2026-01-01T00:00:00Z"), now), "24h");
        assert_eq!(age(Some("2025-12-20T00:00:00Z"), now), "13d");
        assert_eq!(age(None, now), "<unknown>");
    }
}
