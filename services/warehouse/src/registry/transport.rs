//! One registry request: paced by the host's rate limit, within the HTTP budgets,
//! answering `WWW-Authenticate` challenges and `429`/`503` waits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lading_domain::credentials::Credential;
use lading_domain::limits::Limit;
use lading_domain::redact::redact_url;
use lading_remote::http::{explain, read_body};
use serde::Deserialize;

use super::Registries;
use super::error::{RegistryError, Result};
use super::http::{base64, encode, parse_challenge};

/// How many times a request is tried when the registry asks to wait.
const MAX_WAITS: usize = 3;

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Per registry host: the rate limiter and the tokens per scope.
#[derive(Default)]
pub(super) struct Host {
    /// Tokens left, and when they were counted.
    bucket: Mutex<Option<(f64, Instant)>>,
    tokens: Mutex<HashMap<String, String>>,
}

/// Whom a request speaks to and with what: the registry host, the token scope, the
/// credential.
#[derive(Clone, Copy)]
pub(super) struct Auth<'a> {
    pub host: &'a str,
    pub scope: &'a str,
    pub credential: Option<&'a Credential>,
}

/// A response; its body read (up to a limit) only when it succeeded.
pub(super) struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Registries {
    /// Takes a token from the host's bucket (it holds `rate` tokens and refills at
    /// `rate` per second: bursts up to `rate`, never more than `rate` per second on
    /// average), waiting for one when it is empty.
    fn pace(&self, host: &Host) {
        let rate = f64::from(self.rate);
        let wait = {
            let mut bucket = host.bucket.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let (tokens, last) = bucket.get_or_insert((rate, now));
            *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
            *last = now;
            *tokens -= 1.0;
            if *tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-*tokens / rate) }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Sends one request; a successful answer's body is read up to `limit` bytes.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        host: &Host,
        limit: Limit<u64>,
    ) -> Result<Reply> {
        self.pace(host);
        self.count_request();
        let action = format!("{method} {}", redact_url(url));
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request =
            request.body(()).map_err(|e| RegistryError::Unreadable { what: action.clone(), reason: e.to_string() })?;
        let timeouts = &self.limits.timeouts;
        let mut response = self.agent.run(request).map_err(|e| explain(&action, e, timeouts))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_lowercase(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = if method != "HEAD" && (200..300).contains(&status) {
            read_body(&mut response, limit, &action, timeouts)?
        } else {
            Vec::new()
        };
        Ok(Reply { status, headers, body })
    }

    /// One request to `url` on behalf of `scope`, answering auth challenges and waits.
    pub(super) fn call(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        auth: Auth<'_>,
        extra: &[(&str, String)],
        limit: Limit<u64>,
    ) -> Result<Reply> {
        let Auth { host: host_name, scope, credential } = auth;
        let host = self.host(host_name);
        let mut waits = 0;
        let mut challenged = false;
        loop {
            let mut headers: Vec<(&str, String)> = extra.to_vec();
            if !accept.is_empty() {
                headers.push(("Accept", accept.to_owned()));
            }
            if let Some(auth) = host.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(scope) {
                headers.push(("Authorization", auth.clone()));
            }
            let reply = self.send(method, url, &headers, &host, limit)?;
            match reply.status {
                401 if !challenged => {
                    challenged = true;
                    let challenge = reply.headers.get("www-authenticate").cloned().unwrap_or_default();
                    let auth = self.answer(&challenge, scope, credential, &host)?;
                    host.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(scope.to_owned(), auth);
                }
                401 => {
                    return Err(RegistryError::Auth(match credential {
                        Some(_) => "the registry refused the configured credentials".to_owned(),
                        None => "the registry needs credentials and none are configured for this repository".to_owned(),
                    }));
                }
                429 | 503 if waits < MAX_WAITS => {
                    waits += 1;
                    self.count_wait();
                    let after = reply
                        .headers
                        .get("retry-after")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map_or(Duration::from_secs(1), Duration::from_secs)
                        .min(MAX_RETRY_AFTER);
                    tracing::info!(host = host_name, wait_ms = after.as_millis() as u64, "registry asks to wait");
                    std::thread::sleep(after);
                }
                _ => return Ok(reply),
            }
        }
    }

    /// The `Authorization` value answering a `WWW-Authenticate` challenge.
    fn answer(&self, challenge: &str, scope: &str, credential: Option<&Credential>, host: &Host) -> Result<String> {
        let auth = |text: &str| RegistryError::Auth(text.to_owned());
        let basic = credential.map(|c| format!("Basic {}", base64(&format!("{}:{}", c.username, c.password))));
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match kind.to_ascii_lowercase().as_str() {
            "basic" => basic.ok_or_else(|| auth("the registry needs credentials and none are configured")),
            "bearer" => {
                let params = parse_challenge(params);
                let realm = params.get("realm").ok_or_else(|| auth("the registry's Bearer challenge has no realm"))?;
                let mut query = Vec::new();
                if let Some(service) = params.get("service") {
                    query.push(format!("service={}", encode(service)));
                }
                let scope = params.get("scope").map_or(scope, String::as_str);
                query.push(format!("scope={}", encode(scope)));
                let url = format!("{realm}{}{}", if realm.contains('?') { '&' } else { '?' }, query.join("&"));
                let headers: Vec<(&str, String)> = basic.iter().map(|b| ("Authorization", b.clone())).collect();
                let reply = self.send("GET", &url, &headers, host, self.limits.max_manifest)?;
                if reply.status != 200 {
                    return Err(auth(&format!("the registry's token service answered {}", reply.status)));
                }
                #[derive(Deserialize)]
                struct Token {
                    #[serde(default)]
                    token: String,
                    #[serde(default)]
                    access_token: String,
                }
                let token: Token = serde_json::from_slice(&reply.body)
                    .map_err(|e| auth(&format!("the token service's answer: {e}")))?;
                let token = if token.token.is_empty() { token.access_token } else { token.token };
                if token.is_empty() {
                    return Err(auth("the registry's token service gave no token"));
                }
                Ok(format!("Bearer {token}"))
            }
            _ => Err(auth(&format!("the registry asks for unsupported authentication {kind:?}"))),
        }
    }
}
