//! Parse errors that say where a file is malformed but quote none of it: parsers put
//! snippets of the source in their messages, and a step's error is shown to everyone
//! who can read the stage.

/// `"{file} is not valid YAML (line L, column C)"`.
pub(super) fn yaml(file: &str, error: &serde_saphyr::Error) -> String {
    match error.location() {
        Some(at) => format!("{file} is not valid YAML (line {}, column {})", at.line(), at.column()),
        None => format!("{file} is not valid YAML"),
    }
}

/// Where `source` stops being YAML, as ` (line L, column C)`, or nothing when it parses.
pub(super) fn yaml_location(source: &str) -> String {
    match serde_saphyr::from_str::<serde_json::Value>(source).err().and_then(|e| e.location()) {
        Some(at) => format!(" (line {}, column {})", at.line(), at.column()),
        None => String::new(),
    }
}

/// `"{file} is not valid JSON (line L, column C)"`.
pub(super) fn json(file: &str, error: &serde_json::Error) -> String {
    format!("{file} is not valid JSON (line {}, column {})", error.line(), error.column())
}

/// `"{file} is not valid TOML (line L, column C)"`, from the error's byte span.
pub(super) fn toml(file: &str, source: &str, error: &toml_edit::TomlError) -> String {
    match error.span() {
        Some(span) => {
            let before = &source.as_bytes()[..span.start.min(source.len())];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            format!("{file} is not valid TOML (line {line}, column {column})")
        }
        None => format!("{file} is not valid TOML"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret-value";

    #[test]
    fn messages_give_the_place_but_not_the_text() {
        let source = format!("a: 1\nb: [{SECRET}\n");
        let error = serde_saphyr::from_str::<serde_json::Value>(&source).unwrap_err();
        let message = yaml("values.yaml", &error);
        assert!(message.starts_with("values.yaml is not valid YAML (line "), "{message}");
        assert!(!message.contains(SECRET));
        assert!(yaml_location(&source).starts_with(" (line "));
        assert_eq!(yaml_location("a: 1\n"), "");

        let source = format!("{{\n  \"a\": {SECRET}\n}}");
        let error = serde_json::from_str::<serde_json::Value>(&source).unwrap_err();
        assert_eq!(json("app.json", &error), "app.json is not valid JSON (line 2, column 8)");

        let source = format!("x = 1\na = {SECRET}\n");
        let error = source.parse::<toml_edit::DocumentMut>().unwrap_err();
        assert_eq!(toml("app.toml", &source, &error), "app.toml is not valid TOML (line 2, column 5)");
    }
}
