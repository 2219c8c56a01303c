//! The networks' rate-limit headers, read into instants the dispatcher can wait for.
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

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn header_epoch(headers: &HeaderMap, name: &str) -> Option<Timestamp> {
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
    fn read(headers: &HeaderMap, prefix: &str) -> Self {
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

/// X's rate-limit headers: the endpoint's window (`x-rate-limit-limit`, `-remaining`, `-reset` in
/// Unix seconds) and the 24-hour caps of the app (`x-app-limit-24hour-*`) and of the user
/// (`x-user-limit-24hour-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XRateLimits {
    /// `x-rate-limit-*`: the endpoint's window (15 minutes for posting).
    pub endpoint: RateWindow,
    /// `x-app-limit-24hour-*`: the app's daily cap.
    pub app_24h: RateWindow,
    /// `x-user-limit-24hour-*`: the user's daily cap.
    pub user_24h: RateWindow,
}

impl XRateLimits {
    /// Reads the three windows; absent headers leave their fields `None`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            endpoint: RateWindow::read(headers, "x-rate-limit"),
            app_24h: RateWindow::read(headers, "x-app-limit-24hour"),
            user_24h: RateWindow::read(headers, "x-user-limit-24hour"),
        }
    }

    /// The latest reset among the exhausted windows: until then no post can go out. `None` when
    /// no window is known to be exhausted.
    pub fn hold_until(&self) -> Option<Timestamp> {
        [self.endpoint, self.app_24h, self.user_24h]
            .iter()
            .filter_map(RateWindow::exhausted_until)
            .max()
    }

    /// When to try again after a 429: [`XRateLimits::hold_until`], else the latest reset given.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.hold_until().or_else(|| {
            [self.endpoint, self.app_24h, self.user_24h].iter().filter_map(|w| w.reset).max()
        })
    }
}

/// Facebook's usage headers, reduced to what decides whether to slow down: `X-App-Usage` and
/// `X-Page-Usage` (`{"call_count":28,"total_cputime":25,"total_time":25}`, percentages) and
/// `X-Business-Use-Case-Usage` (`{"<id>":[{"type":"pages","call_count":..,"total_cputime":..,
/// "total_time":..,"estimated_time_to_regain_access":<minutes>}]}`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FacebookUsage {
    /// The highest percentage of any counter in any header (100 means throttled).
    pub max_percent: Option<f64>,
    /// When access comes back, from the largest `estimated_time_to_regain_access` above zero.
    pub regain_at: Option<Timestamp>,
}

const FB_COUNTERS: [&str; 3] = ["call_count", "total_cputime", "total_time"];

impl FacebookUsage {
    /// Reads the headers that are present and well-formed; a malformed one is skipped.
    pub fn from_headers(headers: &HeaderMap, now: Timestamp) -> Self {
        let mut usage = Self::default();
        let mut regain_minutes: i64 = 0;
        let mut note = |percent: Option<f64>| {
            if let Some(p) = percent.filter(|p| p.is_finite()) {
                usage.max_percent = Some(usage.max_percent.map_or(p, |m| m.max(p)));
            }
        };
        for name in ["x-app-usage", "x-page-usage"] {
            if let Some(obj) = json_header(headers, name) {
                for counter in FB_COUNTERS {
                    note(obj.get(counter).and_then(serde_json::Value::as_f64));
                }
            }
        }
        if let Some(serde_json::Value::Object(by_id)) =
            json_header(headers, "x-business-use-case-usage")
        {
            for entries in by_id.values() {
                let Some(entries) = entries.as_array() else {
                    continue;
                };
                for entry in entries {
                    for counter in FB_COUNTERS {
                        note(entry.get(counter).and_then(serde_json::Value::as_f64));
                    }
                    if let Some(m) = entry
                        .get("estimated_time_to_regain_access")
                        .and_then(serde_json::Value::as_i64)
                    {
                        regain_minutes = regain_minutes.max(m);
                    }
                }
            }
        }
        if regain_minutes > 0 {
            usage.regain_at = regain_minutes
                .checked_mul(60)
                .and_then(|secs| now.checked_add(SignedDuration::from_secs(secs)).ok());
        }
        usage
    }

    /// True when some counter is at or above `percent` (Facebook advises slowing down near 80).
    pub fn is_at_least(&self, percent: f64) -> bool {
        self.max_percent.is_some_and(|p| p >= percent)
    }
}

fn json_header(headers: &HeaderMap, name: &str) -> Option<serde_json::Value> {
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
    fn x_endpoint_window_exhausted() {
        let h = headers(&[
            ("x-rate-limit-limit", "100"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1793700000"),
        ]);
        let x = XRateLimits::from_headers(&h);
        assert_eq!(x.endpoint.limit, Some(100));
        assert_eq!(x.endpoint.remaining, Some(0));
        assert_eq!(x.hold_until(), Some(Timestamp::from_second(1_793_700_000).unwrap()));
        assert_eq!(x.app_24h, RateWindow::default());
    }

    #[test]
    fn x_daily_user_cap_wins_over_endpoint_reset() {
        // A free-plan 429: the endpoint window has room, the user's 24-hour cap does not.
        let h = headers(&[
            ("x-rate-limit-limit", "100"),
            ("x-rate-limit-remaining", "99"),
            ("x-rate-limit-reset", "1793700000"),
            ("x-app-limit-24hour-limit", "1500"),
            ("x-app-limit-24hour-remaining", "1480"),
            ("x-app-limit-24hour-reset", "1793780000"),
            ("x-user-limit-24hour-limit", "17"),
            ("x-user-limit-24hour-remaining", "0"),
            ("x-user-limit-24hour-reset", "1793760000"),
        ]);
        let x = XRateLimits::from_headers(&h);
        assert_eq!(x.user_24h.limit, Some(17));
        assert_eq!(x.hold_until(), Some(Timestamp::from_second(1_793_760_000).unwrap()));
        assert_eq!(x.retry_at(), x.hold_until());
    }

    #[test]
    fn x_without_exhausted_window_has_no_hold() {
        let h = headers(&[("x-rate-limit-remaining", "3"), ("x-rate-limit-reset", "1793700000")]);
        let x = XRateLimits::from_headers(&h);
        assert_eq!(x.hold_until(), None);
        assert_eq!(x.retry_at(), Some(Timestamp::from_second(1_793_700_000).unwrap()));
        let bad = XRateLimits::from_headers(&headers(&[
            ("x-rate-limit-remaining", "none"),
            ("x-rate-limit-reset", "tomorrow"),
        ]));
        assert_eq!(bad, XRateLimits::default());
    }

    #[test]
    fn facebook_app_usage() {
        let h =
            headers(&[("x-app-usage", r#"{"call_count":28,"total_time":25,"total_cputime":81}"#)]);
        let u = FacebookUsage::from_headers(&h, ts("2026-11-03T10:00:00Z"));
        assert_eq!(u.max_percent, Some(81.0));
        assert_eq!(u.regain_at, None);
        assert!(u.is_at_least(80.0));
        assert!(!u.is_at_least(90.0));
    }

    #[test]
    fn facebook_business_use_case_usage_with_regain_time() {
        let now = ts("2026-11-03T10:00:00Z");
        let h = headers(&[
            ("x-app-usage", r#"{"call_count":3,"total_time":1,"total_cputime":1}"#),
            (
                "x-business-use-case-usage",
                r#"{"104857600123":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":9,"estimated_time_to_regain_access":17},{"type":"pages","call_count":4,"total_cputime":2,"total_time":2,"estimated_time_to_regain_access":0}]}"#,
            ),
        ]);
        let u = FacebookUsage::from_headers(&h, now);
        assert_eq!(u.max_percent, Some(100.0));
        assert_eq!(u.regain_at, Some(ts("2026-11-03T10:17:00Z")));
    }

    #[test]
    fn facebook_malformed_headers_are_skipped() {
        let h = headers(&[
            ("x-app-usage", "{not json"),
            ("x-page-usage", r#"{"call_count":"high"}"#),
            ("x-business-use-case-usage", r#"{"1":{"type":"pages"}}"#),
        ]);
        let u = FacebookUsage::from_headers(&h, ts("2026-11-03T10:00:00Z"));
        assert_eq!(u, FacebookUsage::default());
        assert!(!u.is_at_least(0.0));
    }
}
