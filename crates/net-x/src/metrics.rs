//! Engagement figures from X: `GET /2/tweets?ids=...&tweet.fields=public_metrics`, up to 100 ids
//! a call (reads are billed on X's pay-per-use plan: one call per 100 posts, and a channel can
//! turn them off with `metrics = false`).
//!
//! Posts under 30 days also ask for `non_public_metrics` (link clicks), which X gives only for
//! them and only with the author's user token; older posts are asked for the public figures
//! alone, in a separate call, because one post too old for `non_public_metrics` fails the whole
//! request. Reads never touch the publishing hold: their rate limits are the endpoint's own.

use std::collections::BTreeMap;

use crieur_core::Network;
use crieur_core::engagement::{Engagement, EngagementError, Metrics, MetricsRequest};
use crieur_net_http::reqwest::{Method, StatusCode};
use crieur_net_http::{Response, retry_after};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::XRateLimits;
use crate::publisher::{Sent, XPublisher, outcome_reason, problem_detail};

/// The most ids one `GET /2/tweets` takes.
pub const MAX_IDS: usize = 100;

/// How young a post must be for X to give its `non_public_metrics`.
pub const NON_PUBLIC_MAX_AGE: SignedDuration = SignedDuration::from_hours(30 * 24);

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    data: Vec<Tweet>,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
    #[serde(default)]
    public_metrics: Option<Public>,
    #[serde(default)]
    non_public_metrics: Option<NonPublic>,
}

#[derive(Deserialize)]
struct Public {
    like_count: Option<u64>,
    retweet_count: Option<u64>,
    reply_count: Option<u64>,
    quote_count: Option<u64>,
    impression_count: Option<u64>,
}

#[derive(Deserialize)]
struct NonPublic {
    url_link_clicks: Option<u64>,
}

impl XPublisher {
    /// One `GET /2/tweets` for `ids` (at most [`MAX_IDS`]), with `non_public_metrics` when
    /// `young`.
    async fn read_metrics(
        &self,
        ids: &[&str],
        young: bool,
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let failed = |reason: String| EngagementError::Failed { reason };
        let mut url = self.url("2/tweets").map_err(failed)?;
        let fields = if young { "public_metrics,non_public_metrics" } else { "public_metrics" };
        url.query_pairs_mut()
            .append_pair("ids", &ids.join(","))
            .append_pair("tweet.fields", fields);
        let log_id = format!("metrics:{}", self.channel());
        let response = match self
            .send_with_token(&log_id, || self.http.request(Method::GET, url.clone()), false)
            .await
        {
            Sent::Answer(r) => r,
            Sent::Failed(e) => return Err(failed(format!("reading figures from X: {e}"))),
            Sent::Auth(o) => {
                return Err(failed(format!("reading figures from X: {}", outcome_reason(&o))));
            }
        };
        answer_metrics(&response, now)
    }
}

/// The figures in X's answer to `GET /2/tweets`, by id; a 429 is [`EngagementError::RateLimited`]
/// until X's reset (else `Retry-After`, else 15 minutes). Pure: no request.
fn answer_metrics(
    response: &Response,
    now: Timestamp,
) -> Result<BTreeMap<String, Metrics>, EngagementError> {
    if response.status == StatusCode::TOO_MANY_REQUESTS {
        let until = XRateLimits::from_headers(&response.headers)
            .retry_at()
            .or_else(|| retry_after(&response.headers, now))
            .unwrap_or(now + SignedDuration::from_mins(15));
        return Err(EngagementError::RateLimited { until });
    }
    if response.status != StatusCode::OK {
        return Err(EngagementError::Failed {
            reason: format!(
                "X answered {} to a read of figures: {}",
                response.status.as_u16(),
                problem_detail(response)
            ),
        });
    }
    let answer: Answer = response.json().ok_or_else(|| EngagementError::Failed {
        reason: "X's answer to a read of figures is not the JSON expected".to_owned(),
    })?;
    Ok(answer
        .data
        .into_iter()
        .map(|t| {
            let p = t.public_metrics;
            let m = Metrics {
                likes: p.as_ref().and_then(|p| p.like_count),
                reposts: p.as_ref().and_then(|p| p.retweet_count),
                replies: p.as_ref().and_then(|p| p.reply_count),
                quotes: p.as_ref().and_then(|p| p.quote_count),
                impressions: p.as_ref().and_then(|p| p.impression_count),
                clicks: t.non_public_metrics.and_then(|n| n.url_link_clicks),
            };
            (t.id, m)
        })
        .collect())
}

#[async_trait::async_trait]
impl Engagement for XPublisher {
    fn network(&self) -> Network {
        Network::X
    }

    fn batch_size(&self) -> usize {
        MAX_IDS
    }

    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let (young, old): (Vec<&MetricsRequest>, Vec<&MetricsRequest>) =
            posts.iter().partition(|p| p.published_at.duration_until(now) < NON_PUBLIC_MAX_AGE);
        let mut out = BTreeMap::new();
        for (group, is_young) in [(young, true), (old, false)] {
            for chunk in group.chunks(MAX_IDS) {
                let ids: Vec<&str> = chunk.iter().map(|p| p.remote_id.as_str()).collect();
                out.extend(self.read_metrics(&ids, is_young, now).await?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crieur_core::ManualClock;
    use secrecy::SecretString;
    use serde_json::json;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::{XAuth, XPublisherConfig};

    fn now() -> Timestamp {
        "2026-11-26T10:00:00Z".parse().unwrap()
    }

    fn publisher(server: &MockServer) -> XPublisher {
        let auth = XAuth::Static(SecretString::from("tok-read".to_owned()));
        let mut c = XPublisherConfig::new("company-x", auth);
        c.api_base = server.uri();
        c.clock = Arc::new(ManualClock::new(now()));
        c.http.timeout = Duration::from_secs(5);
        XPublisher::new(c).unwrap()
    }

    fn post(id: &str, days_ago: i64) -> MetricsRequest {
        MetricsRequest {
            remote_id: id.to_owned(),
            url: None,
            published_at: now() - SignedDuration::from_hours(24 * days_ago),
        }
    }

    #[tokio::test]
    async fn young_posts_get_link_clicks_old_ones_public_figures_and_missing_ones_stay_null() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/2/tweets"))
            .and(header("authorization", "Bearer tok-read"))
            .and(query_param("ids", "11,12"))
            .and(query_param("tweet.fields", "public_metrics,non_public_metrics"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [
                    {"id": "11", "text": "a",
                     "public_metrics": {"like_count": 12, "retweet_count": 3, "reply_count": 2,
                                        "quote_count": 1, "impression_count": 1830,
                                        "bookmark_count": 4},
                     "non_public_metrics": {"url_link_clicks": 41, "user_profile_clicks": 2}}
                ],
                "errors": [{"resource_id": "12", "title": "Not Found Error",
                            "detail": "Could not find tweet with ids: [12]."}]
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/2/tweets"))
            .and(header("authorization", "Bearer tok-read"))
            .and(query_param("ids", "9"))
            .and(query_param("tweet.fields", "public_metrics"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{"id": "9", "text": "old",
                          "public_metrics": {"like_count": 5, "retweet_count": 0,
                                             "reply_count": 0, "quote_count": 0}}]
            })))
            .expect(1)
            .mount(&server)
            .await;
        let x = publisher(&server);
        let got = x.fetch(&[post("11", 1), post("12", 7), post("9", 45)], now()).await.unwrap();
        assert_eq!(
            got["11"],
            Metrics {
                likes: Some(12),
                reposts: Some(3),
                replies: Some(2),
                quotes: Some(1),
                impressions: Some(1830),
                clicks: Some(41)
            }
        );
        assert!(!got.contains_key("12"), "a deleted post is absent");
        assert_eq!(got["9"].likes, Some(5));
        assert_eq!(got["9"].impressions, None, "not given: null, not 0");
        assert_eq!(got["9"].clicks, None, "too old for link clicks");
    }

    #[tokio::test]
    async fn a_hundred_and_one_ids_take_two_calls() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/2/tweets"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
            .expect(2)
            .mount(&server)
            .await;
        let posts: Vec<MetricsRequest> = (0..101).map(|i| post(&format!("{i}"), 1)).collect();
        publisher(&server).fetch(&posts, now()).await.unwrap();
        let requests = server.received_requests().await.unwrap();
        let sizes: Vec<usize> = requests
            .iter()
            .map(|r| {
                let ids = r.url.query_pairs().find(|(k, _)| k == "ids").unwrap().1.into_owned();
                ids.split(',').count()
            })
            .collect();
        assert_eq!(sizes, vec![100, 1]);
    }

    #[tokio::test]
    async fn a_429_waits_for_the_reset_and_leaves_publishing_alone() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/2/tweets"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("x-rate-limit-limit", "15")
                    .insert_header("x-rate-limit-remaining", "0")
                    .insert_header("x-rate-limit-reset", "1795000000"),
            )
            .mount(&server)
            .await;
        let x = publisher(&server);
        let err = x.fetch(&[post("1", 1)], now()).await.unwrap_err();
        assert_eq!(
            err,
            EngagementError::RateLimited { until: Timestamp::from_second(1_795_000_000).unwrap() }
        );
        assert_eq!(crieur_core::Publisher::hold_until(&x), None, "publishing is not held");
    }

    #[tokio::test]
    async fn a_refused_read_fails_with_x_s_reason() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/2/tweets"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "title": "Forbidden", "detail": "Your plan does not include reads.",
                "type": "about:blank", "status": 403
            })))
            .mount(&server)
            .await;
        let err = publisher(&server).fetch(&[post("1", 1)], now()).await.unwrap_err();
        assert!(err.to_string().contains("403") && err.to_string().contains("plan"), "{err}");
    }
}
