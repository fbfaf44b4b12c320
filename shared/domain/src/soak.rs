//! Soak accounting: how long freight stayed in a stage, kept as the longest stay in one
//! go (Kargo's `verifiedIn[stage].longestSoak`), updated when it leaves.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::duration::{format_go_duration, parse_go_duration};

/// The longest soak after freight that entered at `entered` leaves at `left`, given the
/// longest recorded before (a Go duration, absent when none).
pub fn longest_soak_after_leaving(previous: Option<&str>, entered: DateTime<Utc>, left: DateTime<Utc>) -> String {
    let stay = (left - entered).to_std().unwrap_or_default();
    let longest = previous.and_then(|d| parse_go_duration(d).ok()).unwrap_or(Duration::ZERO).max(stay);
    format_go_duration(longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(hours * 3600, 0).unwrap()
    }

    #[test]
    fn the_longest_stay_is_kept() {
        // Given no earlier stay, when freight leaves after 2h, then 2h is recorded.
        assert_eq!(longest_soak_after_leaving(None, at(1), at(3)), "2h0m0s");
        // Given an earlier 5h stay, a 2h stay keeps 5h; a 6h stay replaces it.
        assert_eq!(longest_soak_after_leaving(Some("5h0m0s"), at(1), at(3)), "5h0m0s");
        assert_eq!(longest_soak_after_leaving(Some("5h0m0s"), at(0), at(6)), "6h0m0s");
        // A clock that went backwards counts as no stay.
        assert_eq!(longest_soak_after_leaving(None, at(3), at(1)), "0s");
    }
}
