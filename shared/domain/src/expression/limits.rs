//! How much one evaluation may spend: time, the bytes of the values it creates, and the
//! size of its result (configurable, per service), and the shapes a program may have at
//! all (fixed, checked when it is parsed and when a manifest is applied).

use std::collections::HashMap;
use std::time::Duration;

use crate::limits::{SettingError, parse_size, parse_timeout};

/// The longest an evaluation may run (a Go duration, e.g. `100ms`).
pub const TIMEOUT_ENV: &str = "LADING_EXPRESSION_TIMEOUT";
/// The largest result of an expression (`1MiB`).
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

impl ExpressionLimits {
    /// The defaults, with what `env` sets instead.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, SettingError> {
        let mut limits = Self::default();
        if let Some(value) = env.get(TIMEOUT_ENV) {
            limits.timeout = parse_timeout(TIMEOUT_ENV, value)?.value;
        }
        for (setting, limit) in
            [(MAX_OUTPUT_ENV, &mut limits.max_output_bytes), (MAX_ALLOCATED_ENV, &mut limits.max_allocated_bytes)]
        {
            if let Some(value) = env.get(setting) {
                *limit = parse_size(setting, value)?.value;
            }
        }
        Ok(limits)
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
    }
}
