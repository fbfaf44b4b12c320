//! Go-style durations (`30s`, `5m`, `1h30m`, `5m0s`) as written in Kargo manifests.

use std::time::Duration;

/// The longest duration Lading accepts: Go's (about 292 years), so a manifest Kargo
/// accepts is accepted here, and nothing larger reaches a timer.
pub const MAX_DURATION: Duration = Duration::new(9_223_372_036, 854_775_807);

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{} is not a duration like \"30s\", \"5m\" or \"1h30m\"", crate::excerpt::quoted(.0))]
    Malformed(String),
    #[error("{} is longer than the longest duration, 2562047h47m16s", crate::excerpt::quoted(.0))]
    TooLong(String),
}

/// Parses `1h30m`, `5m0s`, `250ms`, `1.5s`: a sequence of numbers each followed by a unit
/// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), at most [`MAX_DURATION`].
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError::Malformed(text.to_owned());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(err());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
        if number_len == 0 {
            return Err(err());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| err())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    match Duration::try_from_secs_f64(total) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        _ => Err(DurationError::TooLong(text.to_owned())),
    }
}

/// Formats a duration as Go does for whole seconds: `1h0m0s`, `5m30s`, `45s`, `0s`.
pub fn format_go_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(330)), "5m30s");
        assert_eq!(format_go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
        let d = Duration::from_secs(5400);
        assert_eq!(parse_go_duration(&format_go_duration(d)).unwrap(), d);
    }

    #[test]
    fn parses_kargo_intervals() {
        assert_eq!(parse_go_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_go_duration("5m0s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_go_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_go_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn durations_longer_than_go_allows_are_refused_not_a_panic() {
        // Given a 400-digit number of hours, when it is parsed, then it is an error.
        let huge = format!("{}h", "9".repeat(400));
        let error = parse_go_duration(&huge).unwrap_err();
        assert!(matches!(error, DurationError::TooLong(_)));
        assert!(error.to_string().len() < 200, "the error quotes an excerpt: {error}");
        assert!(matches!(parse_go_duration("2562048h"), Err(DurationError::TooLong(_))));
        assert_eq!(parse_go_duration("2562047h").unwrap(), Duration::from_secs(2_562_047 * 3600));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in ["", "5", "m", "5x", "-5m", "5 m"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }
}
