//! X's rate-limit headers: the endpoint's 15-minute window and the app's and user's 24-hour caps.

use crieur_net_http::RateWindow;
use crieur_net_http::reqwest::header::HeaderMap;
use jiff::Timestamp;

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
            endpoint: RateWindow::from_headers(headers, "x-rate-limit"),
            app_24h: RateWindow::from_headers(headers, "x-app-limit-24hour"),
            user_24h: RateWindow::from_headers(headers, "x-user-limit-24hour"),
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
}
