//! How much one evaluation may spend: time, the bytes of the values it creates, and the
//! size of its result (configurable, per service), and the shapes a program may have at
//! all (fixed, checked when it is parsed and when a manifest is applied).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::duration::parse_go_duration;

/// The longest an evaluation may run (a Go duration, e.g. `100ms`).
pub const TIMEOUT_ENV: &str = "LADING_EXPRESSION_TIMEOUT";
/// The largest result of an expression, in bytes (`1048576`, `1MiB`).
pub const MAX_OUTPUT_ENV: &str = "LADING_EXPRESSION_MAX_OUTPUT_BYTES";
/// The most bytes of values an evaluation may create, in all (`16MiB`).
pub const MAX_ALLOCATED_ENV: &str = "LADING_EXPRESSION_MAX_ALLOCATED_BYTES";

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1024 * 1024;
pub const DEFAULT_MAX_ALLOCATED_BYTES: u64 = 16 * 1024 * 1024;

/// The longest expression, in bytes of source (between `${{` and `}}`).
pub const MAX_SOURCE_BYTES: usize = 8 * 1024;
/// How deeply the parser lets parentheses, brackets and call arguments nest.
pub const MAX_PARSER_NESTING: u16 = 32;
/// The deepest parsed expression: `a + b + c` is three deep, `x.a.b` three.
pub const MAX_DEPTH: usize = 64;
/// How many comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) may run one
/// inside the body of another.
pub const MAX_NESTED_COMPREHENSIONS: usize = 3;
/// The largest compiled regular expression `matches` builds.
pub const MAX_REGEX_BYTES: usize = 1024 * 1024;

/// What an evaluation may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpressionLimits {
    /// Wall-clock time from the start of the evaluation.
    pub timeout: Duration,
    /// Size of the result (and of a string that interpolates several expressions).
    pub max_output_bytes: u64,
    /// Bytes of every value the evaluation creates, added up.
    pub max_allocated_bytes: u64,
}

impl Default for ExpressionLimits {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_allocated_bytes: DEFAULT_MAX_ALLOCATED_BYTES,
        }
    }
}

/// A setting that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}={}: {reason}", crate::excerpt::quoted(.value))]
pub struct SettingError {
    pub setting: &'static str,
    pub value: String,
    pub reason: String,
}

impl ExpressionLimits {
    /// The defaults, with what `env` sets instead.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, SettingError> {
        let mut limits = Self::default();
        if let Some(value) = env.get(TIMEOUT_ENV) {
            let error = |reason: String| SettingError { setting: TIMEOUT_ENV, value: value.clone(), reason };
            limits.timeout = parse_go_duration(value).map_err(|e| error(e.to_string()))?;
            if limits.timeout.is_zero() {
                return Err(error("must be longer than zero".to_owned()));
            }
        }
        for (setting, limit) in
            [(MAX_OUTPUT_ENV, &mut limits.max_output_bytes), (MAX_ALLOCATED_ENV, &mut limits.max_allocated_bytes)]
        {
            if let Some(value) = env.get(setting) {
                *limit = parse_size(value).map_err(|reason| SettingError { setting, value: value.clone(), reason })?;
            }
        }
        Ok(limits)
    }
}

/// `1048576`, `512KiB`, `1MiB`, `2GiB` (also `KB`, `MB`, `GB` as powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: u64 = text[..digits].parse().map_err(|_| "is not a size like 1048576, 512KiB or 1MiB".to_owned())?;
    let unit: u64 = match text[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("unknown unit {other:?}; use B, KiB, MiB or GiB")),
    };
    match number.checked_mul(unit) {
        Some(0) => Err("must be larger than zero".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err("is too large".to_owned()),
    }
}

/// A size as people read it: `1MiB`, `512KiB`, `1000B`.
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 30 && n.is_multiple_of(1 << 30) => write!(f, "{}GiB", n >> 30),
            n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => write!(f, "{}MiB", n >> 20),
            n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => write!(f, "{}KiB", n >> 10),
            n => write!(f, "{n}B"),
        }
    }
}

/// A duration as people read it: `100ms`, `2s`, `1.5s`.
pub struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms}ms")
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}s", self.0.as_secs_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_defaults_are_generous_and_each_setting_overrides_its_limit() {
        // Given no settings, then the defaults hold,
        assert_eq!(ExpressionLimits::from_env(&env(&[])).unwrap(), ExpressionLimits::default());
        assert_eq!(ExpressionLimits::default().timeout, Duration::from_millis(100));
        // and given each setting, then it replaces its limit.
        let limits = ExpressionLimits::from_env(&env(&[
            (TIMEOUT_ENV, "250ms"),
            (MAX_OUTPUT_ENV, "64KiB"),
            (MAX_ALLOCATED_ENV, "1048576"),
        ]))
        .unwrap();
        assert_eq!(
            limits,
            ExpressionLimits {
                timeout: Duration::from_millis(250),
                max_output_bytes: 64 * 1024,
                max_allocated_bytes: 1024 * 1024
            }
        );
    }

    #[test]
    fn a_bad_setting_is_named_with_its_value() {
        let error = ExpressionLimits::from_env(&env(&[(MAX_OUTPUT_ENV, "lots")])).unwrap_err();
        assert_eq!(error.setting, MAX_OUTPUT_ENV);
        assert!(error.to_string().starts_with("LADING_EXPRESSION_MAX_OUTPUT_BYTES=\"lots\": "), "{error}");
        assert!(ExpressionLimits::from_env(&env(&[(TIMEOUT_ENV, "0")])).is_err());
        assert!(ExpressionLimits::from_env(&env(&[(MAX_ALLOCATED_ENV, "0MiB")])).is_err());
        assert!(parse_size("99999999999GiB").is_err());
        assert!(parse_size("3 parsecs").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(Bytes(1 << 20).to_string(), "1MiB");
        assert_eq!(Bytes(16 << 20).to_string(), "16MiB");
        assert_eq!(Bytes(1500).to_string(), "1500B");
        assert_eq!(Millis(Duration::from_millis(100)).to_string(), "100ms");
        assert_eq!(Millis(Duration::from_millis(1500)).to_string(), "1.5s");
        assert_eq!(Millis(Duration::from_secs(30)).to_string(), "30s");
    }
}
