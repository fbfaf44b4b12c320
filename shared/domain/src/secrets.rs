//! Secrets steps read with `${{ secret('name').key }}` (Kargo's expression function),
//! instead of values written into Stage specs that anyone who can list stages reads.
//!
//! Standalone, they come from the file `LADING_SECRETS_FILE` names, in either of two
//! shapes: a YAML map of secret name → key → value (for every project), or Kubernetes
//! Secret manifests (`kind: Secret`, `metadata.name`, `metadata.namespace` = the project,
//! or no namespace for every project; `stringData`, or base64 `data`), so the same
//! documents serve both shapes of Lading. Values never show in `Debug` output, and every value an
//! expression revealed is cut out of what a promotion reports ([`Revealed::scrub`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

/// One secret's keys and values.
pub type SecretData = BTreeMap<String, String>;

/// Every secret known, by project (`""`: every project) and name.
#[derive(Clone, Default)]
pub struct Secrets {
    by_key: BTreeMap<(String, String), SecretData>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .by_key
            .iter()
            .map(|((project, name), data)| format!("{project}/{name}: {} key(s)", data.len()))
            .collect();
        f.debug_struct("Secrets").field("secrets", &names).finish()
    }
}

/// Why a secrets file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}: {field}: {reason}")]
pub struct SecretsError {
    pub document: usize,
    pub field: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretManifest {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    string_data: BTreeMap<String, String>,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

impl Secrets {
    /// Reads Kubernetes Secret manifests (multi-document YAML or JSON). An error names the
    /// document and field, never a value.
    pub fn parse(text: &str) -> Result<Self, SecretsError> {
        let documents: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|_| SecretsError {
            document: 0,
            field: "(yaml)".to_owned(),
            reason: "is not YAML or JSON".to_owned(),
        })?;
        let mut secrets = Secrets::default();
        if let [Value::Object(map)] = documents.as_slice()
            && !map.contains_key("kind")
            && !map.contains_key("apiVersion")
        {
            return Self::parse_map(map);
        }
        for (i, document) in documents.into_iter().enumerate() {
            let error = |field: &str, reason: String| SecretsError { document: i + 1, field: field.to_owned(), reason };
            if document.is_null() {
                continue;
            }
            let manifest: SecretManifest = serde_json::from_value(document)
                .map_err(|_| error("(document)", "is not a Secret: metadata, stringData and data of strings".into()))?;
            if manifest.kind != "Secret" {
                return Err(error("kind", format!("must be Secret, got {}", crate::excerpt::quoted(&manifest.kind))));
            }
            crate::names::validate_dns_label(&manifest.metadata.name)
                .map_err(|e| error("metadata.name", e.to_string()))?;
            if !manifest.metadata.namespace.is_empty() {
                crate::names::validate_dns_label(&manifest.metadata.namespace)
                    .map_err(|e| error("metadata.namespace", e.to_string()))?;
            }
            let mut data = SecretData::new();
            for (key, encoded) in manifest.data {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| error(&format!("data.{key}"), "is not base64".into()))?;
                let value =
                    String::from_utf8(bytes).map_err(|_| error(&format!("data.{key}"), "is not UTF-8 text".into()))?;
                data.insert(key, value);
            }
            data.extend(manifest.string_data);
            let key = (manifest.metadata.namespace, manifest.metadata.name);
            if secrets.by_key.insert(key.clone(), data).is_some() {
                return Err(error("metadata.name", format!("secret {:?} is defined twice", key.1)));
            }
        }
        Ok(secrets)
    }

    /// `name → key → value`, every secret for every project.
    fn parse_map(map: &serde_json::Map<String, Value>) -> Result<Self, SecretsError> {
        let mut secrets = Secrets::default();
        for (name, data) in map {
            let error = |field: String, reason: &str| SecretsError { document: 1, field, reason: reason.to_owned() };
            crate::names::validate_dns_label(name).map_err(|e| error(name.clone(), &e.to_string()))?;
            let Value::Object(data) = data else {
                return Err(error(name.clone(), "must map keys to values"));
            };
            let mut values = SecretData::new();
            for (key, value) in data {
                let Value::String(value) = value else {
                    return Err(error(format!("{name}.{key}"), "must be a string"));
                };
                values.insert(key.clone(), value.clone());
            }
            secrets.by_key.insert((String::new(), name.clone()), values);
        }
        Ok(secrets)
    }

    /// Adds (or replaces) the secret `name` of `project` (`""`: every project).
    pub fn insert(&mut self, project: &str, name: &str, data: SecretData) {
        self.by_key.insert((project.to_owned(), name.to_owned()), data);
    }

    /// The secret `name` of `project`: the project's own, else one for every project.
    pub fn get(&self, project: &str, name: &str) -> Option<&SecretData> {
        self.by_key
            .get(&(project.to_owned(), name.to_owned()))
            .or_else(|| self.by_key.get(&(String::new(), name.to_owned())))
    }
}

/// The secrets one promotion can read, and the values its expressions revealed so far.
#[derive(Clone, Debug)]
pub struct SecretAccess {
    pub project: String,
    pub secrets: Arc<Secrets>,
    pub revealed: Revealed,
}

impl SecretAccess {
    /// The secret `name`; records its values as revealed.
    pub fn read(&self, name: &str) -> Result<SecretData, String> {
        let data = self.secrets.get(&self.project, name).ok_or_else(|| {
            format!("secret {} not found in project {:?}", crate::excerpt::quoted(name), self.project)
        })?;
        self.revealed.add(data.values());
        Ok(data.clone())
    }
}

/// Secret values revealed to one promotion's expressions: cut out of every message it
/// reports.
#[derive(Clone, Debug, Default)]
pub struct Revealed(Arc<Mutex<BTreeSet<String>>>);

/// Values shorter than this are not cut out: they would mangle ordinary words.
const SHORTEST_SCRUBBED: usize = 4;
/// Percent-encoding as URLs carry query values: RFC 3986's unreserved characters kept.
const UNRESERVED_KEPT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// What a revealed value is replaced with.
pub const MASK: &str = "***";

impl Revealed {
    fn add<'a>(&self, values: impl Iterator<Item = &'a String>) {
        let mut revealed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        revealed.extend(values.filter(|v| v.len() >= SHORTEST_SCRUBBED).cloned());
    }

    /// `text` with every revealed value (as written, and percent-encoded as a URL would
    /// carry it) replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let revealed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut scrubbed = text.to_owned();
        // Longest first, so a value containing another is cut whole.
        let mut values: Vec<&String> = revealed.iter().collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        for value in values {
            scrubbed = scrubbed.replace(value.as_str(), MASK);
            for set in [percent_encoding::NON_ALPHANUMERIC, UNRESERVED_KEPT] {
                let encoded = percent_encoding::utf8_percent_encode(value, set).to_string();
                if encoded != *value {
                    scrubbed = scrubbed.replace(&encoded, MASK);
                }
            }
        }
        scrubbed
    }
}

/// Functions a secret reference may call besides CEL's own.
const REFERENCE_FUNCTIONS: &[&str] = &["secret"];

/// Checks the `${{ … }}` references in `text`, a field that reads secrets at run time
/// (an analysis provider's address, URL, header or body): each must parse and call no
/// function but `secret` (and CEL's) and read no variable. Text without `${{` passes.
pub fn check_references(text: &str) -> Result<(), String> {
    use crate::expression::template::{expressions, is_template};
    use crate::expression::{Program, QuotedError};
    if !is_template(text) {
        return Ok(());
    }
    let sources = expressions(text).map_err(|e| QuotedError::bare(text, e).to_string())?;
    for source in sources {
        Program::compile(source)
            .and_then(|program| program.check_names(REFERENCE_FUNCTIONS, &[]))
            .map_err(|e| QuotedError::in_template(source, e).to_string())?;
    }
    Ok(())
}

/// `text` with each `${{ … }}` replaced by its value, read with `secret()` from
/// `access` (which records what it revealed, for [`Revealed::scrub`]). Text without
/// `${{` is returned as it is.
pub fn resolve_references(
    text: &str,
    access: &SecretAccess,
    limits: &crate::expression::ExpressionLimits,
) -> Result<String, String> {
    use crate::expression::template::{Part, is_template, split};
    use crate::expression::{Budget, Evaluator, Program, QuotedError, on_expression_stack};
    if !is_template(text) {
        return Ok(text.to_owned());
    }
    let parts = split(text).map_err(|e| QuotedError::bare(text, e).to_string())?;
    let budget = Budget::new(limits);
    on_expression_stack(|| {
        let mut evaluator = Evaluator::new(&budget);
        crate::promotion_functions::add_secret(evaluator.context_mut(), Some(access.clone()))?;
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expression(source) => {
                    let value = Program::compile(source)
                        .and_then(|program| program.check_names(REFERENCE_FUNCTIONS, &[]).map(|()| program))
                        .and_then(|program| evaluator.evaluate(&program))
                        .map_err(|e| QuotedError::in_template(source, e).to_string())?;
                    match value {
                        Value::String(s) => out.push_str(&s),
                        Value::Null => {}
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        Ok(out)
    })
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: slack\n  namespace: demo\nstringData:\n  url: https://hooks.example.com/T0/B0/XyZ-webhook-s3cret\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: slack\nstringData:\n  url: https://everyone.example.com/hook\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api\ndata:\n  token: dG9rZW4tdmFsdWU=\n";

    #[test]
    fn a_project_reads_its_own_secret_first_then_a_shared_one() {
        // Given a project's secret, a shared one of the same name and a base64 one,
        let secrets = Secrets::parse(FILE).unwrap();
        // then each project sees its own before the shared one,
        assert!(secrets.get("demo", "slack").unwrap()["url"].contains("XyZ-webhook"));
        assert_eq!(secrets.get("other", "slack").unwrap()["url"], "https://everyone.example.com/hook");
        // base64 data is decoded, and Debug shows names, never values.
        assert_eq!(secrets.get("demo", "api").unwrap()["token"], "token-value");
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("token-value"), "{shown}");
    }

    #[test]
    fn given_references_when_resolved_then_values_come_from_the_project_secret_and_are_scrubbed() {
        let access = SecretAccess {
            project: "demo".to_owned(),
            secrets: Arc::new(Secrets::parse(FILE).unwrap()),
            revealed: Revealed::default(),
        };
        let limits = crate::expression::ExpressionLimits::default();
        let resolved = resolve_references("Bearer ${{ secret('api').token }}", &access, &limits).unwrap();
        assert_eq!(resolved, "Bearer token-value");
        assert_eq!(resolve_references("no reference", &access, &limits).unwrap(), "no reference");
        assert_eq!(access.revealed.scrub("sent Bearer token-value"), "sent Bearer ***");
        let missing = resolve_references("${{ secret('nope').token }}", &access, &limits).unwrap_err();
        assert!(missing.contains("nope"), "{missing}");
        // Only secret() may be called: no variable, no other function.
        assert!(resolve_references("${{ vars.x }}", &access, &limits).is_err());
    }

    #[test]
    fn given_references_when_checked_then_only_secret_calls_pass() {
        check_references("https://h/${{ secret('hook').path }}?t=${{ secret('api')['token'] }}").unwrap();
        check_references("{{args.address}}").unwrap();
        assert!(check_references("${{ ctx.stage }}").unwrap_err().contains("ctx"));
        assert!(check_references("${{ commitFrom('x').ID }}").unwrap_err().contains("commitFrom"));
        assert!(check_references("${{ secret('a'").is_err());
    }

    #[test]
    fn a_plain_map_of_name_key_value_serves_every_project() {
        let secrets = Secrets::parse("github:\n  token: gh-s3cret\nslack:\n  url: https://hooks/x\n").unwrap();
        assert_eq!(secrets.get("demo", "github").unwrap()["token"], "gh-s3cret");
        assert_eq!(secrets.get("other", "slack").unwrap()["url"], "https://hooks/x");
        assert_eq!(Secrets::parse("github:\n  token: [1]\n").unwrap_err().field, "github.token");
    }

    #[test]
    fn bad_files_are_refused_naming_the_document_and_field_not_the_value() {
        let not_base64 = "kind: Secret\nmetadata: {name: a}\ndata: {token: 'not base64 s3cret!'}\n";
        let error = Secrets::parse(not_base64).unwrap_err();
        assert_eq!((error.document, error.field.as_str()), (1, "data.token"));
        assert!(!error.to_string().contains("s3cret"));
        assert_eq!(Secrets::parse("kind: ConfigMap\nmetadata: {name: a}\n").unwrap_err().field, "kind");
        let twice = "kind: Secret\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: a}\n";
        assert!(Secrets::parse(twice).unwrap_err().reason.contains("twice"));
    }

    #[test]
    fn revealed_values_are_cut_out_of_messages_even_percent_encoded() {
        let access = SecretAccess {
            project: "demo".into(),
            secrets: Arc::new(Secrets::parse(FILE).unwrap()),
            revealed: Revealed::default(),
        };
        let message = "POST https://hooks.example.com/T0/B0/XyZ-webhook-s3cret: 500";
        assert_eq!(access.revealed.scrub(message), message, "nothing revealed yet");
        access.read("slack").unwrap();
        assert_eq!(access.revealed.scrub(message), "POST ***: 500");
        let encoded = "https://x/?u=https%3A%2F%2Fhooks%2Eexample%2Ecom%2FT0%2FB0%2FXyZ%2Dwebhook%2Ds3cret";
        assert_eq!(access.revealed.scrub(encoded), "https://x/?u=***");
        let query = "https://x/?u=https%3A%2F%2Fhooks.example.com%2FT0%2FB0%2FXyZ-webhook-s3cret";
        assert_eq!(access.revealed.scrub(query), "https://x/?u=***");
        assert!(access.read("nope").unwrap_err().contains("not found in project \"demo\""));
    }
}
