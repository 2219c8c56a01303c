//! Facebook's usage headers (`X-App-Usage`, `X-Page-Usage`, `X-Business-Use-Case-Usage`), read
//! into the highest percentage used and the instant access comes back.

use crieur_net_http::json_header;
use crieur_net_http::reqwest::header::HeaderMap;
use jiff::{SignedDuration, Timestamp};

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_net_http::reqwest::header::{HeaderMap, HeaderValue};

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
