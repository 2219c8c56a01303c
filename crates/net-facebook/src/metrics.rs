//! Engagement figures from a Facebook Page post: `GET /{post-id}?fields=shares,
//! reactions.summary(true),comments.summary(true)`, then `GET /{post-id}/insights?metric=post_clicks`
//! where the token allows it (`read_insights`). Only living metrics are asked for: the impression
//! metrics were retired, and asking for a retired one fails the whole request, so impressions are
//! always `null`. A refused insights read leaves clicks `null`; it does not fail the post.
//!
//! Declared inside the publisher's module: it uses the publisher's token and client. Reads never
//! feed the publishing pacer, so they never hold up a post.

use std::collections::BTreeMap;

use crieur_core::Network;
use crieur_core::engagement::{Engagement, EngagementError, Metrics, MetricsRequest};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::*;

/// Posts asked for per call of [`Engagement::fetch`] (each is two requests).
pub const BATCH: usize = 50;

/// The fields read from a post: every one is living in Graph v25.
pub const POST_FIELDS: &str = "shares,reactions.summary(true),comments.summary(true)";

impl FacebookPublisher {
    /// One authorized GET; `Err` for a failed read, a rate limit, or an error status.
    async fn read(&self, url: Url, now: Timestamp) -> Result<Value, EngagementError> {
        let auth = self.authorization().await.map_err(|e| match e {
            NoToken::Unauthorized(reason) | NoToken::Vault(reason) => {
                EngagementError::Failed { reason }
            }
        })?;
        let log_id = format!("metrics:{}", self.channel);
        let request = self.http.request(Method::GET, url).header(AUTHORIZATION, auth);
        let response = self.http.send(&log_id, request).await.map_err(|e| {
            EngagementError::Failed { reason: format!("reading figures from Facebook: {e}") }
        })?;
        if response.status.is_success() {
            return response.json::<Value>().ok_or_else(|| EngagementError::Failed {
                reason: "Facebook's answer to a read of figures is not JSON".to_owned(),
            });
        }
        let error = graph_error(&response);
        if error.as_ref().and_then(|e| e.code).is_some_and(is_rate_limit)
            || response.status.as_u16() == 429
        {
            let usage = FacebookUsage::from_headers(&response.headers, now);
            let until = retry_after(&response.headers, now)
                .or(usage.regain_at)
                .unwrap_or(now + SignedDuration::from_hours(1));
            return Err(EngagementError::RateLimited { until });
        }
        Err(EngagementError::Failed {
            reason: format!(
                "Facebook answered {} to a read of figures: {}",
                response.status.as_u16(),
                error.map_or_else(|| "no error object".to_owned(), |e| e.describe())
            ),
        })
    }

    /// The figures of one post.
    async fn post_metrics(&self, post: &str, now: Timestamp) -> Result<Metrics, EngagementError> {
        let bad =
            || EngagementError::Failed { reason: format!("cannot build the URL of post {post:?}") };
        if !is_graph_id(post) {
            return Err(bad());
        }
        let mut url =
            endpoint(&self.api_base, &format!("{}/{post}", self.graph_version)).ok_or_else(bad)?;
        url.query_pairs_mut().append_pair("fields", POST_FIELDS);
        let v = self.read(url, now).await?;
        let count = |p: &str| v.pointer(p).and_then(Value::as_u64);
        let mut m = Metrics {
            likes: count("/reactions/summary/total_count"),
            // A post nobody shared has no `shares` object at all: that is 0, not unknown.
            reposts: Some(count("/shares/count").unwrap_or(0)),
            replies: count("/comments/summary/total_count"),
            quotes: None,
            impressions: None,
            clicks: None,
        };
        let mut insights =
            endpoint(&self.api_base, &format!("{}/{post}/insights", self.graph_version))
                .ok_or_else(bad)?;
        insights.query_pairs_mut().append_pair("metric", "post_clicks");
        match self.read(insights, now).await {
            Ok(v) => m.clicks = v.pointer("/data/0/values/0/value").and_then(Value::as_u64),
            Err(e @ EngagementError::RateLimited { .. }) => return Err(e),
            Err(EngagementError::Failed { reason }) => {
                tracing::debug!(channel = %self.channel, post, %reason, "no post_clicks for this post");
            }
        }
        Ok(m)
    }
}

#[async_trait::async_trait]
impl Engagement for FacebookPublisher {
    fn network(&self) -> Network {
        Network::Facebook
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let mut out = BTreeMap::new();
        for p in posts {
            out.insert(p.remote_id.clone(), self.post_metrics(&p.remote_id, now).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use crieur_core::ManualClock;
    use serde_json::json;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn now() -> Timestamp {
        "2026-11-26T10:00:00Z".parse().unwrap()
    }

    fn publisher(server: &MockServer) -> FacebookPublisher {
        let token = PageToken::Static(SecretString::from("page-tok".to_owned()));
        let mut c = FacebookPublisherConfig::new("company-facebook", "104857600123", token);
        c.api_base = server.uri();
        c.clock = Arc::new(ManualClock::new(now()));
        c.http.timeout = Duration::from_secs(5);
        FacebookPublisher::new(c).unwrap()
    }

    fn ask(id: &str) -> MetricsRequest {
        MetricsRequest { remote_id: id.into(), url: None, published_at: now() }
    }

    #[tokio::test]
    async fn reactions_comments_shares_and_clicks_where_allowed_and_impressions_stay_null() {
        let server = MockServer::start().await;
        for (post, shares) in [("104857600123_1", Some(4)), ("104857600123_2", None)] {
            let mut body = json!({"id": post,
                "reactions": {"data": [], "summary": {"total_count": 12, "viewer_reaction": "NONE"}},
                "comments": {"data": [], "summary": {"order": "ranked", "total_count": 3}}});
            if let Some(n) = shares {
                body["shares"] = json!({"count": n});
            }
            Mock::given(method("GET"))
                .and(path(format!("/v25.0/{post}")))
                .and(header("authorization", "Bearer page-tok"))
                .and(query_param("fields", POST_FIELDS))
                .respond_with(ResponseTemplate::new(200).set_body_json(body))
                .expect(1)
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path("/v25.0/104857600123_1/insights"))
            .and(header("authorization", "Bearer page-tok"))
            .and(query_param("metric", "post_clicks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
                {"name": "post_clicks", "period": "lifetime", "values": [{"value": 41}]}]})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v25.0/104857600123_2/insights"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
                "message": "(#10) Requires read_insights", "type": "OAuthException", "code": 10}})))
            .expect(1)
            .mount(&server)
            .await;
        let fb = publisher(&server);
        let got = fb.fetch(&[ask("104857600123_1"), ask("104857600123_2")], now()).await.unwrap();
        let one = got["104857600123_1"];
        assert_eq!(
            (one.likes, one.replies, one.reposts, one.clicks),
            (Some(12), Some(3), Some(4), Some(41))
        );
        assert_eq!(one.impressions, None, "retired: never asked, null");
        let two = got["104857600123_2"];
        assert_eq!((two.reposts, two.clicks), (Some(0), None), "no insights permission: null");
        let asked: Vec<String> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| r.url.query().unwrap_or("").to_owned())
            .collect();
        assert!(asked.iter().all(|q| !q.contains("impressions")), "{asked:?}");
    }

    #[tokio::test]
    async fn a_rate_limit_code_is_a_wait_and_not_a_failure() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
                "message": "(#4) Application request limit reached", "code": 4}})))
            .mount(&server)
            .await;
        let err = publisher(&server).fetch(&[ask("104857600123_1")], now()).await.unwrap_err();
        assert!(matches!(err, EngagementError::RateLimited { until } if until > now()), "{err:?}");
    }
}
