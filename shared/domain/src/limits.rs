//! Budgets for talking to remote servers: how long a call may wait to connect, may go
//! without data and may take in all, and how many bytes an answer may hold. Each limit
//! carries the name of the setting that chose it, so an error can say what to raise.

use std::fmt;
use std::time::Duration;

use crate::duration::parse_go_duration;

/// A limit and the setting (an environment variable) that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<T> {
    pub value: T,
    pub setting: &'static str,
}

impl<T> Limit<T> {
    pub const fn new(value: T, setting: &'static str) -> Self {
        Self { value, setting }
    }
}

impl Limit<u64> {
    /// Whether `bytes` fit within the limit.
    pub fn allows(&self, bytes: u64) -> bool {
        bytes <= self.value
    }
}

impl fmt::Display for Limit<u64> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", display_size(self.value), self.setting)
    }
}

impl fmt::Display for Limit<Duration> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", display_duration(self.value), self.setting)
    }
}

impl fmt::Display for Limit<usize> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.value, self.setting)
    }
}

/// The three timeouts of a network call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the connection is established (TCP and TLS).
    pub connect: Limit<Duration>,
    /// Longest wait for the next bytes, once connected.
    pub idle: Limit<Duration>,
    /// The whole call, however steadily data arrives.
    pub total: Limit<Duration>,
}

/// Which timeout ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    Idle,
    Total,
}

impl Timeouts {
    /// The limit of one kind.
    pub fn of(&self, kind: TimeoutKind) -> Limit<Duration> {
        match kind {
            TimeoutKind::Connect => self.connect,
            TimeoutKind::Idle => self.idle,
            TimeoutKind::Total => self.total,
        }
    }
}

/// How a running-out timeout reads in an error: `no data for 30s (LADING_GIT_IDLE_TIMEOUT)`.
pub fn describe_timeout(kind: TimeoutKind, limit: Limit<Duration>) -> String {
    match kind {
        TimeoutKind::Connect => format!("no connection within {limit}"),
        TimeoutKind::Idle => format!("no data for {limit}"),
        TimeoutKind::Total => format!("not finished within {limit}"),
    }
}

/// Bytes counted against a limit, e.g. over the pages of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteBudget {
    limit: Limit<u64>,
    spent: u64,
}

/// A byte limit was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("larger than {limit}")]
pub struct TooLarge {
    pub limit: Limit<u64>,
}

impl ByteBudget {
    pub fn new(limit: Limit<u64>) -> Self {
        Self { limit, spent: 0 }
    }

    /// What is left to spend.
    pub fn remaining(&self) -> u64 {
        self.limit.value.saturating_sub(self.spent)
    }

    /// Counts `bytes`; fails once the total passes the limit.
    pub fn spend(&mut self, bytes: u64) -> Result<(), TooLarge> {
        self.spent = self.spent.saturating_add(bytes);
        if self.limit.allows(self.spent) { Ok(()) } else { Err(TooLarge { limit: self.limit }) }
    }

    /// The limit itself, e.g. to read at most [`Self::remaining`] bytes under it.
    pub fn limit(&self) -> Limit<u64> {
        self.limit
    }
}

/// Why a setting's value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}={value:?}: {reason}")]
pub struct SettingError {
    pub setting: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Reads a timeout setting: a positive Go-style duration (`10s`, `2m`, `1m30s`).
pub fn parse_timeout(setting: &'static str, value: &str) -> Result<Limit<Duration>, SettingError> {
    match parse_go_duration(value) {
        Ok(duration) if !duration.is_zero() => Ok(Limit::new(duration, setting)),
        _ => Err(SettingError {
            setting,
            value: value.to_owned(),
            reason: "must be a positive duration like \"10s\" or \"2m\"",
        }),
    }
}

/// Reads a size setting: a positive number of bytes, with an optional unit (`512KiB`,
/// `64 MiB`, `2GiB`, `1GB`).
pub fn parse_size(setting: &'static str, value: &str) -> Result<Limit<u64>, SettingError> {
    match value.trim().parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > 0 => Ok(Limit::new(size.as_u64(), setting)),
        _ => Err(SettingError {
            setting,
            value: value.to_owned(),
            reason: "must be a positive size like \"4MiB\" or \"2GiB\"",
        }),
    }
}

/// Reads a count setting: a positive whole number.
pub fn parse_count(setting: &'static str, value: &str) -> Result<Limit<usize>, SettingError> {
    match value.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(Limit::new(count, setting)),
        _ => Err(SettingError { setting, value: value.to_owned(), reason: "must be a positive whole number" }),
    }
}

/// `16 MiB`, `512 B`.
pub fn display_size(bytes: u64) -> String {
    let text = bytesize::ByteSize::b(bytes).display().iec().to_string();
    text.replace(".0 ", " ")
}

/// `30s`, `1.5s`, `250ms`, `2m`, `1m30s`.
pub fn display_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    if !millis.is_multiple_of(1000) {
        return format!("{}s", duration.as_secs_f64());
    }
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: &str = "LADING_TEST_MAX_BYTES";
    const TIMEOUT: &str = "LADING_TEST_TIMEOUT";

    #[test]
    fn sizes_are_read_with_or_without_a_unit() {
        assert_eq!(parse_size(SIZE, "4MiB").unwrap().value, 4 << 20);
        assert_eq!(parse_size(SIZE, "64 MiB").unwrap().value, 64 << 20);
        assert_eq!(parse_size(SIZE, "2GiB").unwrap().value, 2 << 30);
        assert_eq!(parse_size(SIZE, "1000").unwrap().value, 1000);
    }

    #[test]
    fn zero_or_garbage_sizes_are_refused_naming_the_setting() {
        for bad in ["0", "", "lots", "-1MiB"] {
            let error = parse_size(SIZE, bad).unwrap_err();
            assert!(error.to_string().starts_with("LADING_TEST_MAX_BYTES="), "{error}");
        }
    }

    #[test]
    fn timeouts_are_positive_go_durations() {
        assert_eq!(parse_timeout(TIMEOUT, "10s").unwrap().value, Duration::from_secs(10));
        assert_eq!(parse_timeout(TIMEOUT, "1m30s").unwrap().value, Duration::from_secs(90));
        assert_eq!(parse_timeout(TIMEOUT, "250ms").unwrap().value, Duration::from_millis(250));
        assert!(parse_timeout(TIMEOUT, "0").is_err());
        assert!(parse_timeout(TIMEOUT, "10").is_err(), "a unit is needed");
        assert!(parse_count("N", "0").is_err());
        assert_eq!(parse_count("N", "1000").unwrap().value, 1000);
    }

    #[test]
    fn a_limit_reads_with_its_setting() {
        assert_eq!(Limit::new(16u64 << 20, SIZE).to_string(), "16 MiB (LADING_TEST_MAX_BYTES)");
        assert_eq!(Limit::new(1536u64, SIZE).to_string(), "1.5 KiB (LADING_TEST_MAX_BYTES)");
        assert_eq!(Limit::new(Duration::from_secs(30), TIMEOUT).to_string(), "30s (LADING_TEST_TIMEOUT)");
        let idle = Limit::new(Duration::from_secs(30), "LADING_GIT_IDLE_TIMEOUT");
        assert_eq!(describe_timeout(TimeoutKind::Idle, idle), "no data for 30s (LADING_GIT_IDLE_TIMEOUT)");
    }

    #[test]
    fn durations_display_in_their_shortest_form() {
        assert_eq!(display_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(display_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(display_duration(Duration::from_secs(120)), "2m");
        assert_eq!(display_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn given_a_budget_when_pages_add_up_past_it_then_the_page_that_crosses_it_fails() {
        let mut budget = ByteBudget::new(Limit::new(100, SIZE));
        assert_eq!(budget.spend(60), Ok(()));
        assert_eq!(budget.remaining(), 40);
        assert_eq!(budget.spend(40), Ok(()), "exactly the limit fits");
        let error = budget.spend(1).unwrap_err();
        assert_eq!(error.to_string(), "larger than 100 B (LADING_TEST_MAX_BYTES)");
        assert_eq!(budget.remaining(), 0);
    }
}
