//! kubectl's JSONPath templates (`-o jsonpath=…`, `-o jsonpath-as-json=…`): text with
//! actions in braces — `{.items[*].metadata.name}`, `{"\n"}`, `{range .items[*]}…{end}`.
//!
//! This module is kubectl's template layer only; each expression is evaluated by
//! `serde_json_path` (RFC 9535 JSONPath) after translating kubectl's spelling into the
//! RFC's: a leading `.`, `@` or `$` is the current object (inside a `range`, the element
//! being visited, as in kubectl), and a field name with characters the RFC's dot
//! notation refuses (`labels.app\.kubernetes\.io/name`, `last-seen`) becomes `['…']`.
//! Filters (`[?(@.status=="True")]`), slices, unions, wildcards and `..` are the RFC's.
//! A field that is absent prints nothing, as with kubectl's default
//! `--allow-missing-template-keys`.

use serde_json::Value;
use serde_json_path::JsonPath;

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed action: a `{{` at byte {0} has no `}}`")]
    Unclosed(usize),
    #[error("`{{range}}` at byte {0} has no `{{end}}`")]
    RangeWithoutEnd(usize),
    #[error("`{{end}}` at byte {0} closes no `{{range}}`")]
    EndWithoutRange(usize),
    #[error("empty action `{{}}` at byte {0}")]
    Empty(usize),
    #[error("{text}: {reason}")]
    Expression { text: String, reason: String },
    #[error("{text}: not a quoted string: {reason}")]
    Literal { text: String, reason: String },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Expression(JsonPath),
    Range { over: JsonPath, body: Vec<Node> },
}

/// One action's text between braces, and where it started.
enum Token {
    Text(String),
    Action { text: String, at: usize },
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut tokens = tokenize(source)?.into_iter();
        let nodes = parse_nodes(&mut tokens, None)?;
        Ok(Template { source: source.to_owned(), nodes })
    }

    /// The template's text with each action's results: strings as they are, other
    /// values as JSON, several results of one action separated by a space.
    pub fn render_text(&self, value: &Value) -> String {
        let mut out = String::new();
        render(&self.nodes, value, &mut out);
        out
    }

    /// Every result of every action, in order, as one JSON array (kubectl's
    /// `jsonpath-as-json`); literal text is left out.
    pub fn render_json(&self, value: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        collect(&self.nodes, value, &mut out);
        out
    }
}

fn tokenize(source: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut chars = source.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '{' {
            text.push(c);
            continue;
        }
        if !text.is_empty() {
            tokens.push(Token::Text(std::mem::take(&mut text)));
        }
        // An action ends at the first `}` outside quotes.
        let mut action = String::new();
        let mut quote: Option<char> = None;
        let mut closed = false;
        while let Some((_, c)) = chars.next() {
            match (quote, c) {
                (None, '}') => {
                    closed = true;
                    break;
                }
                (None, '"' | '\'') => quote = Some(c),
                (Some('"'), '\\') => {
                    action.push(c);
                    if let Some((_, escaped)) = chars.next() {
                        action.push(escaped);
                    }
                    continue;
                }
                (Some(q), c) if q == c => quote = None,
                _ => {}
            }
            action.push(c);
        }
        if !closed {
            return Err(TemplateError::Unclosed(at));
        }
        tokens.push(Token::Action { text: action.trim().to_owned(), at });
    }
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    Ok(tokens)
}

/// Nodes up to the end of input, or up to the `{end}` of the range opened at `range_at`.
fn parse_nodes(tokens: &mut impl Iterator<Item = Token>, range_at: Option<usize>) -> Result<Vec<Node>, TemplateError> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.next() {
        let (text, at) = match token {
            Token::Text(text) => {
                nodes.push(Node::Text(text));
                continue;
            }
            Token::Action { text, at } => (text, at),
        };
        if text.is_empty() {
            return Err(TemplateError::Empty(at));
        }
        if text == "end" {
            return match range_at {
                Some(_) => Ok(nodes),
                None => Err(TemplateError::EndWithoutRange(at)),
            };
        }
        if let Some(over) = text.strip_prefix("range ") {
            let over = expression(over.trim())?;
            let body = parse_nodes(tokens, Some(at))?;
            nodes.push(Node::Range { over, body });
        } else if text.starts_with('"') || text.starts_with('\'') {
            nodes.push(Node::Text(unquote(&text)?));
        } else {
            nodes.push(Node::Expression(expression(&text)?));
        }
    }
    match range_at {
        Some(at) => Err(TemplateError::RangeWithoutEnd(at)),
        None => Ok(nodes),
    }
}

/// A quoted literal: `"\n"`, `"\t"`, `'text'`.
fn unquote(text: &str) -> Result<String, TemplateError> {
    let error = |reason: &str| TemplateError::Literal { text: text.to_owned(), reason: reason.to_owned() };
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Ok(inner.to_owned());
    }
    if text.len() < 2 || !text.ends_with('"') {
        return Err(error("it has no closing quote"));
    }
    serde_json::from_str::<String>(text).map_err(|e| error(&e.to_string()))
}

/// Translates one kubectl expression into RFC 9535 and compiles it.
fn expression(text: &str) -> Result<JsonPath, TemplateError> {
    let translated = translate(text);
    JsonPath::parse(&translated).map_err(|e| TemplateError::Expression { text: text.to_owned(), reason: e.to_string() })
}

/// `.items[*].metadata.name` → `$.items[*].metadata.name`; `@.x` and `$.x` alike;
/// `.labels.a\.b/c` → `$.labels['a.b/c']`.
fn translate(text: &str) -> String {
    let rest = text.strip_prefix('$').or_else(|| text.strip_prefix('@')).unwrap_or(text);
    let mut out = String::from("$");
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                // Copied as written, up to its matching `]` outside quotes.
                let start = i;
                let mut depth = 0;
                let mut quote: Option<char> = None;
                while i < chars.len() {
                    let c = chars[i];
                    match (quote, c) {
                        (Some(_), '\\') => i += 1,
                        (Some(q), c) if q == c => quote = None,
                        (Some(_), _) => {}
                        (None, '"' | '\'') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let end = (i + 1).min(chars.len());
                out.extend(&chars[start..end]);
                i = end;
            }
            '.' if chars.get(i + 1) == Some(&'.') => {
                out.push_str("..");
                i += 2;
                if let Some(name) = field(&chars, &mut i) {
                    push_field(&mut out, &name, false);
                }
            }
            '.' => {
                i += 1;
                match field(&chars, &mut i) {
                    Some(name) => push_field(&mut out, &name, true),
                    None => out.push('.'),
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// A field name from `chars[*i]` up to the next unescaped `.` or `[`; `\.` is a dot in
/// the name.
fn field(chars: &[char], i: &mut usize) -> Option<String> {
    let mut name = String::new();
    while *i < chars.len() {
        match chars[*i] {
            '\\' if *i + 1 < chars.len() => {
                name.push(chars[*i + 1]);
                *i += 2;
            }
            '.' | '[' => break,
            c => {
                name.push(c);
                *i += 1;
            }
        }
    }
    (!name.is_empty()).then_some(name)
}

fn push_field(out: &mut String, name: &str, dotted: bool) {
    let shorthand = name == "*"
        || (name.starts_with(|c: char| c.is_alphabetic() || c == '_' || !c.is_ascii())
            && name.chars().all(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii()));
    match (shorthand, dotted) {
        (true, true) => {
            out.push('.');
            out.push_str(name);
        }
        (true, false) => out.push_str(name),
        (false, _) => {
            out.push('[');
            out.push_str(&serde_json::to_string(name).unwrap_or_default());
            out.push(']');
        }
    }
}

fn render(nodes: &[Node], current: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Expression(path) => {
                let texts: Vec<String> = path.query(current).all().into_iter().map(as_text).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range { over, body } => {
                for item in over.query(current).all() {
                    render(body, item, out);
                }
            }
        }
    }
}

fn collect(nodes: &[Node], current: &Value, out: &mut Vec<Value>) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Expression(path) => out.extend(path.query(current).all().into_iter().cloned()),
            Node::Range { over, body } => {
                for item in over.query(current).all() {
                    collect(body, item, out);
                }
            }
        }
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
