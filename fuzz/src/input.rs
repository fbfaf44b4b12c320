//! Input formats shared by the fuzz targets, chosen so that seeds can be written by hand
//! and read in a text editor where the target takes text.

use lading_events::EventType;
use serde_json::Value;

/// Cuts `data` into messages: one byte choosing the event type (modulo the number of
/// types), two bytes of little-endian payload length, then the payload. The last
/// message takes what is left when the length runs past the end.
pub fn frames(mut data: &[u8]) -> Vec<(EventType, &[u8])> {
    let mut out = Vec::new();
    while let Some((&kind, rest)) = data.split_first() {
        let event_type = EventType::ALL[usize::from(kind) % EventType::ALL.len()];
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
            _ => (0, &[][..]),
        };
        let (payload, rest) = rest.split_at(len.min(rest.len()));
        out.push((event_type, payload));
        data = rest;
    }
    out
}

/// One message in the format [`frames`] reads.
pub fn frame(event_type: EventType, payload: &[u8]) -> Vec<u8> {
    let index = EventType::ALL.iter().position(|t| *t == event_type).unwrap_or_default();
    let mut out = vec![index as u8];
    out.extend_from_slice(&(payload.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads `key=value` lines up to a line `%%`, then the document after it. A value that
/// is JSON counts as JSON (`3`, `true`, `{"a":1}`), anything else as a string. Without
/// a `%%` line, the first line is the one update.
pub fn updates_and_document(text: &str) -> (Vec<(String, Value)>, &str) {
    let (head, document) = match text.split_once("\n%%\n") {
        Some((head, document)) => (head, document),
        None => text.split_once('\n').unwrap_or((text, "")),
    };
    let updates = head
        .lines()
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
            (key.to_owned(), value)
        })
        .collect();
    (updates, document)
}

/// The value at a dotted `key` (numbers index lists), as the update steps address it.
pub fn lookup<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(value, |node, part| match node {
        Value::Object(map) => map.get(part),
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Equal as a file would hold them: numbers by value.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
