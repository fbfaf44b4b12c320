//! `http-download`: downloads a URL to a file of the workspace, within the promoter's
//! HTTP budget (connect and idle timeouts; `timeout`, default 5m, for the whole call)
//! and its download size limit (`LADING_HTTP_DOWNLOAD_MAX_BYTES`): a body announced or
//! found larger is refused and nothing is left at `outPath`. With `checksum`
//! (`sha256:<hex>`, Lading's own field) a file with another digest is refused too.
//! An existing file is replaced only with `allowOverwrite`.

use std::io::{Read, Write};
use std::path::Path;

use lading_domain::duration::parse_go_duration;
use lading_domain::limits::Limit;
use lading_domain::redact::redact_url;
use lading_remote::http::{agent_config, explain};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::StepContext;
use crate::engine::Effect;
use crate::engine::workspace::Field;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    url: String,
    out_path: String,
    #[serde(default)]
    allow_overwrite: bool,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    query_params: Vec<NameValue>,
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    insecure_skip_tls_verify: bool,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
}

use super::http::QUERY_COMPONENT;

fn expected_digest(checksum: &str) -> Result<String, String> {
    let hex = checksum
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("config.checksum: {checksum:?} must be sha256:<64 hex digits>"))?
        .to_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("config.checksum: {checksum:?} must be sha256:<64 hex digits>"));
    }
    Ok(hex)
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let budget = ctx.remotes.budgets.http;
    let total = match &config.timeout {
        Some(t) => Limit::new(parse_go_duration(t).map_err(|e| format!("config.timeout: {e}"))?, "config.timeout"),
        None => Limit::new(std::time::Duration::from_secs(300), "config.timeout"),
    };
    let expected = config.checksum.as_deref().map(expected_digest).transpose()?;
    let at = Field::new("config.outPath", &config.out_path);
    let out = Path::new(&config.out_path);
    if !config.allow_overwrite && ctx.workspace.kind(at, out)?.is_some() {
        return Err(format!("config.outPath: {:?} exists already (set allowOverwrite to replace it)", config.out_path));
    }
    let mut url = config.url.clone();
    if !config.query_params.is_empty() {
        let query: Vec<String> = config
            .query_params
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(&p.name, QUERY_COMPONENT),
                    percent_encoding::utf8_percent_encode(&p.value, QUERY_COMPONENT)
                )
            })
            .collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
    }
    let timeouts = budget.timeouts(total);
    let tls = ureq::tls::TlsConfig::builder().disable_verification(config.insecure_skip_tls_verify).build();
    let agent: ureq::Agent = agent_config(&timeouts).tls_config(tls).build().into();
    let mut request = ureq::http::Request::builder().method("GET").uri(&url);
    for header in &config.headers {
        request = request.header(&header.name, &header.value);
    }
    let request = request.body(String::new()).map_err(|e| format!("config: {e}"))?;
    let action = format!("GET {}", redact_url(&url));
    ctx.effects.before_effect(Effect::Call)?;
    let mut response = agent.run(request).map_err(|e| explain(&action, e, &timeouts).to_string())?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("{action}: status {status}"));
    }
    let limit = budget.max_download;
    let too_large = || format!("{action}: the file is larger than {} bytes ({})", limit.value, limit.setting);
    if response.body().content_length().is_some_and(|length| !limit.allows(length)) {
        return Err(too_large());
    }
    // Written to a temporary name beside the target, renamed when complete and checked.
    let partial = format!("{}.lading-partial", config.out_path);
    let partial_at = Field::new("config.outPath", &config.out_path);
    let mut file = ctx.workspace.create_file(partial_at, Path::new(&partial), true)?;
    let result = (|| -> Result<String, String> {
        let mut reader = response.body_mut().as_reader();
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            if ctx.remotes.cancel.is_cancelled() {
                return Err(format!("{action}: cancelled: the promotion was stopped"));
            }
            let n = reader.read(&mut buffer).map_err(|e| format!("{action}: {e}"))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if !limit.allows(written) {
                return Err(too_large());
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n]).map_err(|e| format!("config.outPath: writing: {e}"))?;
        }
        file.flush().map_err(|e| format!("config.outPath: writing: {e}"))?;
        Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
    })();
    drop(file);
    let finish = result.and_then(|digest| match expected {
        Some(expected) if expected != digest => {
            Err(format!("{action}: the file's checksum is sha256:{digest}, not sha256:{expected}"))
        }
        _ => Ok(()),
    });
    match finish {
        Ok(()) => {
            ctx.workspace.rename(partial_at, Path::new(&partial), out)?;
            Ok(Map::new())
        }
        Err(error) => {
            let _ = ctx.workspace.remove(partial_at, Path::new(&partial));
            Err(error)
        }
    }
}
