//! Pacing a Page from Facebook's usage headers.
//!
//! Every Graph answer (success or error, posting or reading) carries `X-App-Usage`,
//! `X-Page-Usage` and/or `X-Business-Use-Case-Usage`: percentages of the app's and the Page's
//! quotas. Facebook advises slowing down near 80% and throttles at 100%. The pacer keeps the last
//! reading and the instant it was taken, and turns it into a pause between posts:
//!
//! | highest counter | next post not before |
//! |---|---|
//! | below 80% | no pause |
//! | 80% to 90% | 1 minute after the reading |
//! | 90% to 95% | 5 minutes after the reading |
//! | 95% or more, or a rate-limit error (codes 4, 17, 32, 613, 80001) | `estimated_time_to_regain_access` when given, else 15 minutes after the reading |
//!
//! The next answer replaces the reading, so the pause shrinks as soon as usage falls. A pause
//! that has run out is no pause.

use std::sync::Mutex;

use crate::FacebookUsage;
use jiff::{SignedDuration, Timestamp};

/// From this percentage on, posts are spaced.
pub const SLOW_DOWN_PERCENT: f64 = 80.0;
/// From this percentage on, the pause grows to [`PAUSE_HIGH`].
pub const HIGH_PERCENT: f64 = 90.0;
/// From this percentage on (or after a rate-limit error), the channel waits for Facebook's
/// estimated time to regain access, or [`PAUSE_THROTTLED`].
pub const THROTTLED_PERCENT: f64 = 95.0;
/// The pause between posts from [`SLOW_DOWN_PERCENT`].
pub const PAUSE_SLOW: SignedDuration = SignedDuration::from_mins(1);
/// The pause between posts from [`HIGH_PERCENT`].
pub const PAUSE_HIGH: SignedDuration = SignedDuration::from_mins(5);
/// The pause from [`THROTTLED_PERCENT`] when Facebook gives no time to regain access.
pub const PAUSE_THROTTLED: SignedDuration = SignedDuration::from_mins(15);

#[derive(Debug, Clone, Copy)]
struct Reading {
    usage: FacebookUsage,
    at: Timestamp,
    rate_limited: bool,
}

/// The last usage reading of one channel. Shared by the publisher's concurrent calls behind a
/// mutex held only to copy a few numbers.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    last: Mutex<Option<Reading>>,
}

impl Pacer {
    /// Records the usage read from an answer at `at`; `rate_limited` when the answer was a
    /// rate-limit error (which counts as throttled whatever the headers say). An answer without
    /// any usage header keeps the previous reading unless it is a rate-limit error.
    pub(crate) fn record(&self, usage: FacebookUsage, at: Timestamp, rate_limited: bool) {
        if usage.max_percent.is_none() && usage.regain_at.is_none() && !rate_limited {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some(Reading { usage, at, rate_limited });
    }

    /// The highest percentage of the last reading, if any.
    pub(crate) fn last_percent(&self) -> Option<f64> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).and_then(|r| r.usage.max_percent)
    }

    /// The end of the pause the last reading asks for, if it is after `now` (the table above).
    pub(crate) fn hold_until(&self, now: Timestamp) -> Option<Timestamp> {
        let reading = (*self.last.lock().unwrap_or_else(|e| e.into_inner()))?;
        let percent = reading.usage.max_percent.unwrap_or(0.0);
        let after = |pause: SignedDuration| reading.at.checked_add(pause).ok();
        let until = if reading.rate_limited || percent >= THROTTLED_PERCENT {
            reading.usage.regain_at.or_else(|| after(PAUSE_THROTTLED))
        } else if percent >= HIGH_PERCENT {
            after(PAUSE_HIGH)
        } else if percent >= SLOW_DOWN_PERCENT {
            after(PAUSE_SLOW)
        } else {
            None
        }?;
        (until > now).then_some(until)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn usage(percent: f64, regain_at: Option<Timestamp>) -> FacebookUsage {
        FacebookUsage { max_percent: Some(percent), regain_at }
    }

    #[test]
    fn pause_grows_with_usage() {
        let at = ts("2026-11-03T10:00:00Z");
        for (percent, want) in [
            (0.0, None),
            (50.0, None),
            (79.9, None),
            (80.0, Some(ts("2026-11-03T10:01:00Z"))),
            (85.0, Some(ts("2026-11-03T10:01:00Z"))),
            (90.0, Some(ts("2026-11-03T10:05:00Z"))),
            (94.0, Some(ts("2026-11-03T10:05:00Z"))),
            (95.0, Some(ts("2026-11-03T10:15:00Z"))),
            (100.0, Some(ts("2026-11-03T10:15:00Z"))),
        ] {
            let pacer = Pacer::default();
            pacer.record(usage(percent, None), at, false);
            assert_eq!(pacer.hold_until(at), want, "{percent}%");
        }
    }

    #[test]
    fn throttled_waits_for_the_regain_time() {
        let at = ts("2026-11-03T10:00:00Z");
        let pacer = Pacer::default();
        pacer.record(usage(100.0, Some(ts("2026-11-03T10:42:00Z"))), at, false);
        assert_eq!(pacer.hold_until(at), Some(ts("2026-11-03T10:42:00Z")));
    }

    #[test]
    fn a_rate_limit_error_holds_even_without_headers() {
        let at = ts("2026-11-03T10:00:00Z");
        let pacer = Pacer::default();
        pacer.record(FacebookUsage::default(), at, true);
        assert_eq!(pacer.hold_until(at), Some(ts("2026-11-03T10:15:00Z")));
    }

    #[test]
    fn a_pause_runs_out_and_a_lower_reading_replaces_it() {
        let at = ts("2026-11-03T10:00:00Z");
        let pacer = Pacer::default();
        pacer.record(usage(85.0, None), at, false);
        assert_eq!(pacer.hold_until(ts("2026-11-03T10:00:59Z")), Some(ts("2026-11-03T10:01:00Z")));
        assert_eq!(pacer.hold_until(ts("2026-11-03T10:01:00Z")), None);
        pacer.record(usage(97.0, None), at, false);
        assert!(pacer.hold_until(at).is_some());
        // An answer without usage headers keeps the reading; one with low usage clears it.
        pacer.record(FacebookUsage::default(), at, false);
        assert!(pacer.hold_until(at).is_some());
        pacer.record(usage(12.0, None), at, false);
        assert_eq!(pacer.hold_until(at), None);
        assert_eq!(pacer.last_percent(), Some(12.0));
    }
}
