//! Durations as written in the config: `"90s"`, `"30m"`, `"2h"`, `"7d"`, `"1h30m"`.
//!
//! A tiny parser rather than jiff's friendly format: that format also takes calendar units (`1 month`)
//! and fractions, and `SignedDuration` refuses days in it, while the config wants exactly "a number
//! and a unit, repeated", with days meaning 24 hours.

use jiff::SignedDuration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "duration {input:?} is not valid ({reason}): write numbers with units d, h, m, s, like \"90s\", \"30m\", \"2h\", \"7d\" or \"1h30m\""
)]
pub struct DurationError {
    /// The string as written.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a duration: one or more `<whole number><unit>` parts, units `d` (24 hours), `h`, `m`, `s`,
/// each unit at most once and from largest to smallest; spaces between parts are allowed
/// (`"1h 30m"`). Zero (`"0s"`) is allowed; negative values are not.
///
/// # Errors
/// [`DurationError`] for an empty string, a number without unit, an unknown or repeated unit, or a
/// value too large to represent.
pub fn parse_duration(input: &str) -> Result<SignedDuration, DurationError> {
    let fail = |reason| DurationError { input: input.to_owned(), reason };
    let s = input.trim();
    if s.is_empty() {
        return Err(fail("empty"));
    }
    let mut total: i64 = 0;
    let mut last_rank = usize::MAX;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(fail("expected a number"));
        }
        let value: i64 = rest[..digits].parse().map_err(|_| fail("number too large"))?;
        rest = &rest[digits..];
        let unit = rest.chars().next().ok_or_else(|| fail("a number needs a unit"))?;
        let (rank, seconds) = match unit {
            'd' => (3, 86_400),
            'h' => (2, 3_600),
            'm' => (1, 60),
            's' => (0, 1),
            _ => return Err(fail("unknown unit")),
        };
        if rank >= last_rank {
            return Err(fail("units must go from largest to smallest, each once"));
        }
        last_rank = rank;
        rest = rest[unit.len_utf8()..].trim_start();
        let part = value.checked_mul(seconds).ok_or_else(|| fail("too large"))?;
        total = total.checked_add(part).ok_or_else(|| fail("too large"))?;
    }
    // Bound to something sane: a century.
    if total > 100 * 366 * 86_400 {
        return Err(fail("too large"));
    }
    Ok(SignedDuration::from_secs(total))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        assert_eq!(parse_duration("90s").unwrap(), SignedDuration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), SignedDuration::from_mins(30));
        assert_eq!(parse_duration("2h").unwrap(), SignedDuration::from_hours(2));
        assert_eq!(parse_duration("7d").unwrap(), SignedDuration::from_hours(7 * 24));
        assert_eq!(parse_duration("1h30m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse_duration(" 1d 2h 3m 4s ").unwrap(), SignedDuration::from_secs(93_784));
        assert_eq!(parse_duration("0s").unwrap(), SignedDuration::ZERO);
    }

    #[test]
    fn bad_durations_say_why() {
        for (input, reason) in [
            ("", "empty"),
            ("1", "a number needs a unit"),
            ("h", "expected a number"),
            ("-1h", "expected a number"),
            ("1w", "unknown unit"),
            ("1.5h", "unknown unit"),
            ("30m1h", "units must go from largest to smallest, each once"),
            ("1h1h", "units must go from largest to smallest, each once"),
            ("99999999999999999999s", "number too large"),
            ("9999999999999d", "too large"),
            ("36600000d", "too large"),
        ] {
            let e = parse_duration(input).unwrap_err();
            assert_eq!(e.reason, reason, "{input}");
            assert!(e.to_string().contains("\"1h30m\""));
        }
    }
}
