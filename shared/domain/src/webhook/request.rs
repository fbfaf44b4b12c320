//! A received webhook request as the rules see it: header values by case-insensitive
//! name, query parameters, and the body's bytes.

use serde::de::DeserializeOwned;

use super::WebhookError;

/// One request to a receiver.
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest<'a> {
    /// Header names and values, in the order received (names in any case).
    pub headers: Vec<(String, String)>,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl<'a> WebhookRequest<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        Self { headers: Vec::new(), query: Vec::new(), body }
    }

    /// With one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of the header `name` (any case).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The first value of the query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads the body as `provider`'s JSON payload; an error names the field that is missing
/// or wrong. No payload can exhaust the stack: what is read is refused past 128 levels of
/// nesting (serde_json's limit), and what is not read is skipped without recursing.
pub fn payload<T: DeserializeOwned>(provider: &str, body: &[u8]) -> Result<T, WebhookError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WebhookError::Malformed(format!("the request has no body; {provider} sends a JSON payload")));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return WebhookError::Malformed(format!("the body is not JSON: {inner}"));
        }
        let place = if path == "." { "the payload".to_owned() } else { format!("payload field {path}") };
        WebhookError::Malformed(format!("{place}: {inner} (not a {provider} payload this receiver reads)"))
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Payload {
        #[allow(dead_code)]
        repository: Repository,
    }

    #[derive(Debug, Deserialize)]
    struct Repository {
        #[allow(dead_code)]
        clone_url: String,
    }

    #[test]
    fn a_missing_field_is_named() {
        let error = payload::<Payload>("GitHub", br#"{"repository": {"name": "x"}}"#).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("payload field repository: missing field `clone_url`"), "{error}");
        let error = payload::<Payload>("GitHub", b"{not json").unwrap_err();
        assert!(error.to_string().starts_with("the body is not JSON"), "{error}");
        let error = payload::<Payload>("GitHub", b"").unwrap_err();
        assert!(error.to_string().contains("no body"), "{error}");
    }

    #[test]
    fn deeply_nested_json_never_exhausts_the_stack() {
        // Read into values, JSON nested past 128 levels is refused;
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let error = payload::<serde_json::Value>("generic", deep.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("recursion limit"), "{error}");
        // in fields nobody reads, it is skipped without recursing.
        let ignored = format!("{{\"repository\": {{\"clone_url\": \"x\", \"extra\": {deep}}}}}");
        assert!(payload::<Payload>("GitHub", ignored.as_bytes()).is_ok());
    }

    #[test]
    fn headers_are_found_in_any_case() {
        let request = WebhookRequest::new(b"").with_header("X-GitHub-Event", "push").with_header("x-github-event", "x");
        assert_eq!(request.header("x-github-event"), Some("push"));
        assert_eq!(request.header_values("X-GITHUB-EVENT"), vec!["push", "x"]);
    }
}
