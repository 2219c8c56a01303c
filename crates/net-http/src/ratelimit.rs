//! Rate-limit headers that are not specific to one network (`Retry-After`, a limit/remaining/reset
//! window), and lenient readers that adapters use for their own network's headers.
//!
//! Every reader here is lenient: a missing, malformed or absurd header is treated as absent
//! (`None`), never as an error, since the answer's status already says what happened.

use std::time::SystemTime;

use jiff::{SignedDuration, Timestamp};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The instant named by `Retry-After`, in either form: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`, and the obsolete RFC 850 and asctime forms). An instant in
/// the past gives `now`. `None` when the header is absent or unreadable.
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = i64::try_from(value.parse::<u64>().ok()?).ok()?;
        return now.checked_add(SignedDuration::from_secs(secs)).ok();
    }
    let at: SystemTime = httpdate::parse_http_date(value).ok()?;
    let at = Timestamp::try_from(at).ok()?;
    Some(at.max(now))
}

/// The header `name` as an unsigned integer; `None` when absent or not a plain number.
pub fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The header `name` as an instant given in Unix seconds; `None` when absent or unreadable.
pub fn header_epoch(headers: &HeaderMap, name: &str) -> Option<Timestamp> {
    let secs = i64::try_from(header_u64(headers, name)?).ok()?;
    Timestamp::from_second(secs).ok()
}

/// One rate-limit window: how many calls it allows, how many are left, when it starts afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateWindow {
    /// Calls allowed in the window.
    pub limit: Option<u64>,
    /// Calls left in the window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset: Option<Timestamp>,
}

impl RateWindow {
    /// Reads `{prefix}-limit`, `{prefix}-remaining` and `{prefix}-reset` (Unix seconds); absent or
    /// malformed headers leave their fields `None`.
    pub fn from_headers(headers: &HeaderMap, prefix: &str) -> Self {
        Self {
            limit: header_u64(headers, &format!("{prefix}-limit")),
            remaining: header_u64(headers, &format!("{prefix}-remaining")),
            reset: header_epoch(headers, &format!("{prefix}-reset")),
        }
    }

    /// The reset instant when no call is left, else `None`.
    pub fn exhausted_until(&self) -> Option<Timestamp> {
        if self.remaining == Some(0) { self.reset } else { None }
    }
}

/// The header `name` parsed as JSON; `None` when absent, not text, or not JSON.
pub fn json_header(headers: &HeaderMap, name: &str) -> Option<serde_json::Value> {
    let text = headers.get(name)?.to_str().ok()?;
    serde_json::from_str(text).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn retry_after_seconds() {
        let now = ts("2026-11-03T10:00:00Z");
        assert_eq!(
            retry_after(&headers(&[("retry-after", "120")]), now),
            Some(ts("2026-11-03T10:02:00Z"))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", " 0 ")]), now), Some(now));
    }

    #[test]
    fn retry_after_http_dates_in_all_three_forms() {
        let now = ts("2026-10-21T07:00:00Z");
        let want = Some(ts("2026-10-21T07:28:00Z"));
        for v in [
            "Wed, 21 Oct 2026 07:28:00 GMT",
            "Wednesday, 21-Oct-26 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2026",
        ] {
            assert_eq!(retry_after(&headers(&[("retry-after", v)]), now), want, "{v}");
        }
    }

    #[test]
    fn retry_after_in_the_past_is_now() {
        let now = ts("2026-11-03T10:00:00Z");
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]), now),
            Some(now)
        );
    }

    #[test]
    fn retry_after_garbage_is_none() {
        let now = ts("2026-11-03T10:00:00Z");
        for v in ["", "-5", "1.5", "soon", "99999999999999999999999", "9223372036854775807"] {
            assert_eq!(retry_after(&headers(&[("retry-after", v)]), now), None, "{v:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn a_window_reads_its_three_headers_and_is_exhausted_at_zero() {
        let h = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1793700000"),
        ]);
        let w = RateWindow::from_headers(&h, "x-ratelimit");
        assert_eq!(w.limit, Some(60));
        assert_eq!(w.exhausted_until(), Some(Timestamp::from_second(1_793_700_000).unwrap()));
        let left = RateWindow { remaining: Some(1), ..w };
        assert_eq!(left.exhausted_until(), None);
        let bad = headers(&[("x-ratelimit-remaining", "none"), ("x-ratelimit-reset", "-1")]);
        assert_eq!(RateWindow::from_headers(&bad, "x-ratelimit"), RateWindow::default());
    }

    #[test]
    fn json_header_reads_json_and_skips_the_rest() {
        let h = headers(&[("a", r#"{"n":1}"#), ("b", "{nope")]);
        assert_eq!(json_header(&h, "a"), Some(serde_json::json!({"n": 1})));
        assert_eq!(json_header(&h, "b"), None);
        assert_eq!(json_header(&h, "c"), None);
    }
}
