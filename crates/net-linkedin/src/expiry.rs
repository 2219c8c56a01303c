//! Warnings before a LinkedIn access token expires.
//!
//! LinkedIn access tokens last 60 days and most apps get no refresh token, so the operator has to
//! run `crieur auth` again in time. The daemon asks [`expiry_warning`] (or
//! [`LinkedinPublisher::expiry_warning`](crate::LinkedinPublisher::expiry_warning)) and logs the
//! answer at warning level and in its `STATUS=` line.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

/// The thresholds, in days before expiry, at which a warning starts: 14, then 7, then 1.
pub const EXPIRY_THRESHOLDS_DAYS: [u32; 3] = [14, 7, 1];

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// A LinkedIn access token is about to expire (or has expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryWarning {
    /// The smallest threshold crossed: 14, 7 or 1 (days before expiry), or 0 once expired.
    pub threshold_days: u32,
    /// Whole days left, rounded down (0 in the last day and once expired).
    pub days_left: i64,
    /// When the token expires.
    pub expires_at: Timestamp,
}

impl ExpiryWarning {
    /// True once the token has expired: the adapter sends nothing until `crieur auth` is run.
    pub fn is_expired(&self) -> bool {
        self.threshold_days == 0
    }
}

impl fmt::Display for ExpiryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.expires_at.strftime("%Y-%m-%d %H:%M UTC");
        match (self.is_expired(), self.days_left) {
            (true, _) => write!(f, "the LinkedIn access token expired at {at}"),
            (false, 0) => {
                write!(f, "the LinkedIn access token expires in less than a day, at {at}")
            }
            (false, 1) => write!(f, "the LinkedIn access token expires in 1 day, at {at}"),
            (false, n) => write!(f, "the LinkedIn access token expires in {n} days, at {at}"),
        }?;
        f.write_str(": run `crieur auth` for the channel to get a new one")
    }
}

/// Whether a token that expires at `expires_at` deserves a warning at `now`.
///
/// `None` while more than 14 days are left. Otherwise the smallest threshold of
/// [`EXPIRY_THRESHOLDS_DAYS`] that the time left has reached (exactly 14 days left counts as
/// 14), or threshold 0 once `now` is at or past `expires_at`.
pub fn expiry_warning(expires_at: Timestamp, now: Timestamp) -> Option<ExpiryWarning> {
    let left = expires_at.duration_since(now);
    if left <= SignedDuration::ZERO {
        return Some(ExpiryWarning { threshold_days: 0, days_left: 0, expires_at });
    }
    let threshold_days = EXPIRY_THRESHOLDS_DAYS
        .iter()
        .rev()
        .copied()
        .find(|&days| left <= DAY * i32::try_from(days).unwrap_or(i32::MAX))?;
    let days_left = left.as_secs() / DAY.as_secs();
    Some(ExpiryWarning { threshold_days, days_left, expires_at })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const EXPIRES: &str = "2026-12-31T12:00:00Z";

    fn at(now: &str) -> Option<ExpiryWarning> {
        expiry_warning(ts(EXPIRES), ts(now))
    }

    #[test]
    fn nothing_twenty_days_ahead_or_just_over_fourteen() {
        assert_eq!(at("2026-12-11T12:00:00Z"), None);
        assert_eq!(at("2026-12-17T11:59:59Z"), None);
    }

    #[test]
    fn fourteen_day_threshold() {
        let w = at("2026-12-17T12:00:00Z").unwrap();
        assert_eq!((w.threshold_days, w.days_left), (14, 14));
        let w = at("2026-12-21T18:00:00Z").unwrap();
        assert_eq!((w.threshold_days, w.days_left), (14, 9));
        assert!(!w.is_expired());
        assert_eq!(
            w.to_string(),
            "the LinkedIn access token expires in 9 days, at 2026-12-31 12:00 UTC: run `crieur \
             auth` for the channel to get a new one"
        );
    }

    #[test]
    fn seven_day_threshold() {
        assert_eq!(at("2026-12-24T11:59:59Z").unwrap().threshold_days, 14);
        let w = at("2026-12-24T12:00:00Z").unwrap();
        assert_eq!((w.threshold_days, w.days_left), (7, 7));
        let w = at("2026-12-29T06:00:00Z").unwrap();
        assert_eq!((w.threshold_days, w.days_left), (7, 2));
    }

    #[test]
    fn one_day_threshold() {
        let w = at("2026-12-30T12:00:00Z").unwrap();
        assert_eq!((w.threshold_days, w.days_left), (1, 1));
        assert!(w.to_string().contains("expires in 1 day,"), "{w}");
        let w = at("2026-12-31T11:00:00Z").unwrap();
        assert_eq!((w.threshold_days, w.days_left), (1, 0));
        assert!(w.to_string().contains("less than a day"), "{w}");
    }

    #[test]
    fn expired_at_and_after_the_instant() {
        for now in [EXPIRES, "2027-02-01T00:00:00Z"] {
            let w = at(now).unwrap();
            assert!(w.is_expired());
            assert_eq!((w.threshold_days, w.days_left), (0, 0));
            assert!(w.to_string().contains("expired at 2026-12-31 12:00 UTC"), "{w}");
        }
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        assert_eq!(expiry_warning(Timestamp::MAX, Timestamp::MIN), None);
        assert!(expiry_warning(Timestamp::MIN, Timestamp::MAX).unwrap().is_expired());
    }
}
