//! Engagement figures from Mastodon: `GET /api/v1/statuses/:id` for each post (the API reads one
//! status a call), `replies_count`, `reblogs_count` and `favourites_count`. Mastodon counts
//! neither impressions nor clicks, nor quotes: those stay `null`, never 0.
//!
//! Declared inside the publisher's module: it uses the publisher's token and client. Reads spend
//! the account's one request budget (300 per 5 minutes, shared with publishing), so the reader
//! stops while fewer than [`RESERVE`] requests are left in the window and waits for its reset,
//! leaving them to the posts. It never sets the publishing hold.

use std::collections::BTreeMap;

use crieur_core::Network;
use crieur_core::engagement::{Engagement, EngagementError, Metrics, MetricsRequest};
use serde::Deserialize;

use super::*;

/// Posts asked for per call of [`Engagement::fetch`] (each is one request): small, so that a
/// batch cut short by the rate limit wastes little.
pub const BATCH: usize = 10;

/// Requests of the rate-limit window left to publishing: reads stop below this many.
pub const RESERVE: u64 = 50;

/// The fields read from a Status.
#[derive(Deserialize)]
struct Status {
    replies_count: Option<u64>,
    reblogs_count: Option<u64>,
    favourites_count: Option<u64>,
}

/// Whether `id` can be a status id in a URL path (Mastodon's are digits; compatible servers use
/// letters and digits too).
fn is_status_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The figures in a status's JSON. Pure.
fn status_metrics(status: Status) -> Metrics {
    Metrics {
        likes: status.favourites_count,
        reposts: status.reblogs_count,
        replies: status.replies_count,
        quotes: None,
        impressions: None,
        clicks: None,
    }
}

impl MastodonPublisher {
    /// The figures of one status; `Ok(None)` when the server no longer has it.
    async fn status_metrics(
        &self,
        id: &str,
        token: &SecretString,
        now: Timestamp,
    ) -> Result<Option<Metrics>, EngagementError> {
        let failed = |reason: String| EngagementError::Failed { reason };
        if !is_status_id(id) {
            return Err(failed(format!("{id:?} is not a Mastodon status id")));
        }
        let url = self
            .base
            .join(&format!("api/v1/statuses/{id}"))
            .map_err(|e| failed(format!("cannot build the URL of status {id}: {e}")))?;
        let mut request = self.http.request(Method::GET, url);
        if let Ok(h) = bearer_header(token) {
            request = request.header(AUTHORIZATION, h);
        }
        let log_id = format!("metrics:{}", self.channel);
        let response = self
            .http
            .send(&log_id, request)
            .await
            .map_err(|e| failed(format!("reading figures from {}: {e}", self.channel)))?;
        let remaining = crieur_net_http::header_u64(&response.headers, "x-ratelimit-remaining");
        let reset = rate_reset(&response.headers);
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            let until = reset
                .or_else(|| retry_after(&response.headers, now))
                .unwrap_or(now + SignedDuration::from_mins(5));
            return Err(EngagementError::RateLimited { until });
        }
        let found = match response.status {
            StatusCode::OK => {
                let status: Status = response.json().ok_or_else(|| {
                    failed("the server's answer to a read of a status is not a Status".to_owned())
                })?;
                Some(status_metrics(status))
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => None,
            status => {
                return Err(failed(format!(
                    "the server answered {} to a read of status {id}: {}",
                    status.as_u16(),
                    server_error(&response)
                )));
            }
        };
        if remaining.is_some_and(|r| r < RESERVE)
            && let Some(until) = reset.filter(|u| *u > now)
        {
            return Err(EngagementError::RateLimited { until });
        }
        Ok(found)
    }
}

#[async_trait::async_trait]
impl Engagement for MastodonPublisher {
    fn network(&self) -> Network {
        Network::Mastodon
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let token = self.token().await.map_err(|o| EngagementError::Failed {
            reason: match o {
                Outcome::Unauthorized { reason } | Outcome::Retry { reason, .. } => reason,
                other => format!("{other:?}"),
            },
        })?;
        let mut out = BTreeMap::new();
        for p in posts {
            if let Some(m) = self.status_metrics(&p.remote_id, &token, now).await? {
                out.insert(p.remote_id.clone(), m);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use crieur_core::ManualClock;
    use serde_json::json;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;

    const TOKEN: &str = "tok-read";

    fn now() -> Timestamp {
        "2026-11-26T10:00:00Z".parse().unwrap()
    }

    /// A strict server: GET `/api/v1/statuses/:id` with the token, no query, no body; known
    /// statuses answer their counts, others 404. `remaining` is sent as `X-RateLimit-Remaining`.
    struct Server {
        remaining: u64,
        asked: StdMutex<Vec<String>>,
    }

    #[derive(Clone)]
    struct Shared(Arc<Server>);

    impl Respond for Shared {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            self.0.asked.lock().unwrap().push(req.url.path().to_owned());
            let limits = |t: ResponseTemplate| {
                t.insert_header("x-ratelimit-limit", "300")
                    .insert_header("x-ratelimit-remaining", self.0.remaining.to_string().as_str())
                    .insert_header("x-ratelimit-reset", "2026-11-26T10:05:00.000Z")
            };
            if req.headers.get("authorization").and_then(|v| v.to_str().ok())
                != Some(&format!("Bearer {TOKEN}"))
            {
                return limits(ResponseTemplate::new(401))
                    .set_body_json(json!({"error": "The access token is invalid"}));
            }
            if req.method.as_str() != "GET" || req.url.query().is_some() || !req.body.is_empty() {
                return limits(ResponseTemplate::new(400))
                    .set_body_json(json!({"error": "unexpected request"}));
            }
            let Some(id) = req.url.path().strip_prefix("/api/v1/statuses/") else {
                return limits(ResponseTemplate::new(404)).set_body_json(json!({"error": "?"}));
            };
            let counts = match id {
                "1101" => (2, 3, 12),
                "1102" => (0, 0, 0),
                _ => {
                    return limits(ResponseTemplate::new(404))
                        .set_body_json(json!({"error": "Record not found"}));
                }
            };
            limits(ResponseTemplate::new(200)).set_body_json(json!({
                "id": id, "uri": format!("https://social.example/users/acme/statuses/{id}"),
                "content": "<p>hello</p>", "visibility": "public",
                "replies_count": counts.0, "reblogs_count": counts.1,
                "favourites_count": counts.2
            }))
        }
    }

    async fn start(remaining: u64) -> (MockServer, Arc<Server>) {
        let server = MockServer::start().await;
        let state = Arc::new(Server { remaining, asked: StdMutex::new(Vec::new()) });
        Mock::given(wiremock::matchers::any())
            .respond_with(Shared(state.clone()))
            .mount(&server)
            .await;
        (server, state)
    }

    fn publisher(server: &MockServer, token: &str) -> MastodonPublisher {
        let auth = MastodonAuth::Static(SecretString::from(token.to_owned()));
        let mut c = MastodonConfig::new("fediverse", server.uri(), auth);
        c.clock = Arc::new(ManualClock::new(now()));
        c.http.timeout = Duration::from_secs(5);
        MastodonPublisher::new(c).unwrap()
    }

    fn ask(id: &str) -> MetricsRequest {
        MetricsRequest { remote_id: id.into(), url: None, published_at: now() }
    }

    #[tokio::test]
    async fn favourites_reblogs_and_replies_and_no_impressions_clicks_or_quotes() {
        let (server, state) = start(299).await;
        let m = publisher(&server, TOKEN);
        let got = m.fetch(&[ask("1101"), ask("1102"), ask("999")], now()).await.unwrap();
        assert_eq!(
            got["1101"],
            Metrics {
                likes: Some(12),
                reposts: Some(3),
                replies: Some(2),
                quotes: None,
                impressions: None,
                clicks: None
            }
        );
        assert_eq!(got["1102"].likes, Some(0), "zero is a figure");
        assert_eq!(got["1102"].impressions, None, "not given: null, not 0");
        assert!(!got.contains_key("999"), "a deleted status is absent");
        assert_eq!(
            *state.asked.lock().unwrap(),
            ["/api/v1/statuses/1101", "/api/v1/statuses/1102", "/api/v1/statuses/999"]
        );
        assert_eq!(Publisher::hold_until(&m), None);
    }

    #[tokio::test]
    async fn a_refused_token_fails_the_read_with_the_server_s_reason() {
        let (server, _) = start(299).await;
        let err = publisher(&server, "wrong").fetch(&[ask("1101")], now()).await.unwrap_err();
        assert!(err.to_string().contains("401") && err.to_string().contains("invalid"), "{err}");
    }

    #[tokio::test]
    async fn reads_stop_before_the_budget_publishing_needs_and_never_hold_publishing() {
        let (server, state) = start(RESERVE - 1).await;
        let m = publisher(&server, TOKEN);
        let err = m.fetch(&[ask("1101"), ask("1102")], now()).await.unwrap_err();
        let reset: Timestamp = "2026-11-26T10:05:00Z".parse().unwrap();
        assert_eq!(err, EngagementError::RateLimited { until: reset });
        assert_eq!(state.asked.lock().unwrap().len(), 1, "stops at the first low answer");
        assert_eq!(Publisher::hold_until(&m), None, "publishing is not held");
    }

    #[tokio::test]
    async fn an_id_that_cannot_be_a_status_is_not_sent() {
        let (server, state) = start(299).await;
        let err = publisher(&server, TOKEN).fetch(&[ask("../accounts/1")], now()).await;
        assert!(err.is_err());
        assert!(state.asked.lock().unwrap().is_empty());
    }
}
