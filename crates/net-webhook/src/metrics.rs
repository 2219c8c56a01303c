//! Engagement figures from a webhook receiver: one signed `crieur.metrics` event per published
//! post, POSTed to the channel's URL like every event (Standard Webhooks signature, the SSRF
//! guard, no redirects). The receiver answers the post's figures, or nothing.
//!
//! The request, with a fresh `webhook-id` (`metrics-` + the Unix seconds + `-` + a counter):
//!
//! ```json
//! {"type":"crieur.metrics","timestamp":"2026-11-04T08:00:05Z",
//!  "data":{"channel":"blog","id":"<the id the receiver answered when it published>",
//!          "url":"https://blog.example.com/why-rust","published_at":"2026-11-03T08:00:05Z"}}
//! ```
//!
//! | answer | what crieur records |
//! |---|---|
//! | 200 with a JSON object: `likes`, `reposts`, `replies`, `quotes`, `impressions`, `clicks`, each a whole number, `null` or absent | those figures; `null` or absent is unknown, never 0 |
//! | 204, 200 with an empty body, 404, 400, 405, 410, 422 | nothing is known: every figure `null` (not asked again at that offset) |
//! | 429, 502, 503, 504 | wait until `Retry-After` (else 5 minutes), then ask again |
//! | anything else (401, 403, other 5xx, a 200 that is not that object, no answer) | a failed read, tried again later |
//!
//! Declared inside the publisher's module: it shares the channel's signing key and guarded
//! client. Nothing here changes the publishing state: a 410 to a metrics event does not disable
//! the channel, and no answer holds its posts.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use crieur_core::engagement::{Engagement, EngagementError, Metrics, MetricsRequest};
use jiff::SignedDuration;
use serde_json::Value;

use super::*;

/// The event `type` of a request for a post's figures.
pub const METRICS_TYPE: &str = "crieur.metrics";

/// Posts asked for per call of [`Engagement::fetch`] (each is one request).
pub const BATCH: usize = 20;

/// The figures a receiver may answer, in the order of [`Metrics`].
pub const FIGURES: [&str; 6] = ["likes", "reposts", "replies", "quotes", "impressions", "clicks"];

/// Distinguishes the `webhook-id`s of requests sent in the same second.
static SERIAL: AtomicU64 = AtomicU64::new(0);

fn failed(reason: String) -> EngagementError {
    EngagementError::Failed { reason }
}

/// The body of a `crieur.metrics` event for one post at `at`.
///
/// # Errors
/// Only if serialization fails, which plain strings cannot make it do.
pub fn metrics_body(
    channel: &str,
    post: &MetricsRequest,
    at: Timestamp,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::json!({
        "type": METRICS_TYPE,
        "timestamp": at.to_string(),
        "data": {
            "channel": channel,
            "id": post.remote_id,
            "url": post.url,
            "published_at": post.published_at.to_string(),
        },
    }))
}

/// The figures in a receiver's 200 answer (`None`: it said nothing). Pure.
///
/// # Errors
/// A body that is neither empty nor a JSON object of whole numbers and `null`s, naming the
/// figure at fault.
pub fn answer_figures(body: &[u8]) -> Result<Option<Metrics>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the answer to crieur.metrics is not JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err("the answer to crieur.metrics is not a JSON object".to_owned());
    };
    let mut figures = [None; 6];
    for (slot, name) in figures.iter_mut().zip(FIGURES) {
        *slot = match map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                format!(
                    "figure `{name}` in the answer to crieur.metrics is {v}, not a whole number"
                )
            })?),
        };
    }
    let [likes, reposts, replies, quotes, impressions, clicks] = figures;
    Ok(Some(Metrics { likes, reposts, replies, quotes, impressions, clicks }))
}

impl WebhookPublisher {
    /// One signed `crieur.metrics` request; `Ok(None)` when the receiver knows nothing.
    async fn post_metrics(
        &self,
        post: &MetricsRequest,
        now: Timestamp,
    ) -> Result<Option<Metrics>, EngagementError> {
        let at = Timestamp::from_second(now.as_second()).unwrap_or(now);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let id = format!("metrics-{}-{serial}", at.as_second());
        let body = metrics_body(&self.channel, post, at).map_err(|e| {
            failed(format!("the crieur.metrics event could not be serialized: {e}"))
        })?;
        let signature = self.key.sign(&id, at.as_second(), &body).map_err(|_| {
            failed("the webhook secret's key was refused by HMAC-SHA256".to_owned())
        })?;
        let request = self
            .http
            .request(Method::POST, self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id.as_str())
            .header("webhook-timestamp", at.as_second().to_string())
            .header("webhook-signature", signature)
            .body(body);
        let response = match self.http.send(&id, request).await {
            Ok(r) => r,
            Err(err) => {
                return Err(failed(match find_refused(&err) {
                    Some(refused) => refused.to_string(),
                    None => format!("asking the receiver for figures: {}", error_chain(&err)),
                }));
            }
        };
        match response.status.as_u16() {
            200 => match &response.body {
                Ok(body) => answer_figures(body).map_err(failed),
                Err(e) => Err(failed(format!("the answer to crieur.metrics cannot be read: {e}"))),
            },
            204 | 400 | 404 | 405 | 410 | 422 => Ok(None),
            429 | 502 | 503 | 504 => {
                let until = retry_after(&response.headers, now)
                    .unwrap_or(now + SignedDuration::from_mins(5));
                Err(EngagementError::RateLimited { until })
            }
            code => Err(failed(format!(
                "the receiver answered {code} to crieur.metrics: {}",
                response.snippet(SNIPPET_CHARS)
            ))),
        }
    }
}

#[async_trait::async_trait]
impl Engagement for WebhookPublisher {
    fn network(&self) -> Network {
        Network::Webhook
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        if self.is_gone() {
            return Err(failed(format!(
                "channel {} is disabled (its receiver answered 410 Gone to a post)",
                self.channel
            )));
        }
        check_url(&self.url, self.allow_private, super::WHAT).map_err(|r| failed(r.to_string()))?;
        let mut out = BTreeMap::new();
        for p in posts {
            if let Some(m) = self.post_metrics(p, now).await? {
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

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use crieur_core::ManualClock;
    use serde_json::json;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;

    const KEY: &[u8] = b"crieur-test-metrics-key-0123456789";

    fn secret_text() -> String {
        format!("whsec_{}", STANDARD.encode(KEY))
    }

    fn now() -> Timestamp {
        Timestamp::from_second(Timestamp::now().as_second()).unwrap()
    }

    /// A strict receiver: a POST to `/hook`, JSON, a valid Standard Webhooks signature (checked
    /// with the reference crate), a `crieur.metrics` event with exactly the documented `data`;
    /// it answers from the post's id: `p-figures` its figures, `p-none` 204, `p-busy` 503.
    #[derive(Clone, Default)]
    struct Receiver(Arc<StdMutex<Vec<Value>>>);

    impl Respond for Receiver {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let verified = standardwebhooks::Webhook::new(&secret_text())
                .unwrap()
                .verify(&req.body, &req.headers);
            if verified.is_err() {
                return ResponseTemplate::new(401).set_body_string("bad signature");
            }
            let ctype = req.headers.get("content-type").and_then(|v| v.to_str().ok());
            if req.method.as_str() != "POST"
                || req.url.path() != "/hook"
                || ctype != Some("application/json")
            {
                return ResponseTemplate::new(400);
            }
            let event: Value = serde_json::from_slice(&req.body).unwrap();
            self.0.lock().unwrap().push(event.clone());
            let data = &event["data"];
            let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
            if event["type"] != METRICS_TYPE
                || keys != ["channel", "id", "published_at", "url"]
                || data["channel"] != "blog"
            {
                return ResponseTemplate::new(422).set_body_string("not a metrics event");
            }
            match data["id"].as_str().unwrap() {
                "p-figures" => ResponseTemplate::new(200).set_body_json(
                    json!({"likes": 12, "replies": 0, "impressions": 1830, "clicks": null}),
                ),
                "p-none" => ResponseTemplate::new(204),
                "p-busy" => ResponseTemplate::new(503).insert_header("retry-after", "120"),
                "p-bad" => ResponseTemplate::new(200).set_body_json(json!({"likes": -1})),
                _ => ResponseTemplate::new(404),
            }
        }
    }

    async fn start() -> (MockServer, Receiver, WebhookPublisher) {
        crieur_net_http::install_crypto_provider();
        let server = MockServer::start().await;
        let rx = Receiver::default();
        Mock::given(wiremock::matchers::any()).respond_with(rx.clone()).mount(&server).await;
        let mut c = WebhookConfig::new(
            "blog",
            format!("{}/hook", server.uri()),
            SecretString::from(secret_text()),
        );
        c.allow_private = true;
        c.clock = Arc::new(ManualClock::new(now()));
        let publisher = WebhookPublisher::new(c).unwrap();
        (server, rx, publisher)
    }

    fn ask(id: &str) -> MetricsRequest {
        MetricsRequest {
            remote_id: id.into(),
            url: Some(format!("https://blog.example.com/{id}")),
            published_at: "2026-11-03T08:00:05Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn the_receiver_answers_figures_or_nothing_and_unknown_stays_null() {
        let (_server, rx, hook) = start().await;
        let got = hook.fetch(&[ask("p-figures"), ask("p-none"), ask("p-gone")], now()).await;
        let got = got.unwrap();
        assert_eq!(
            got["p-figures"],
            Metrics {
                likes: Some(12),
                replies: Some(0),
                impressions: Some(1830),
                ..Metrics::default()
            }
        );
        assert_eq!(got.len(), 1, "204 and 404 say nothing: {got:?}");
        let events = rx.0.lock().unwrap().clone();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["data"]["url"], "https://blog.example.com/p-figures");
        assert_eq!(events[0]["data"]["published_at"], "2026-11-03T08:00:05Z");
        assert_eq!(Publisher::hold_until(&hook), None);
    }

    #[tokio::test]
    async fn a_busy_receiver_is_a_wait_and_a_bad_figure_a_failure_naming_it() {
        let (_server, _, hook) = start().await;
        let t = now();
        let err = hook.fetch(&[ask("p-busy")], t).await.unwrap_err();
        assert_eq!(err, EngagementError::RateLimited { until: t + SignedDuration::from_secs(120) });
        let err = hook.fetch(&[ask("p-bad")], t).await.unwrap_err();
        assert!(err.to_string().contains("`likes`"), "{err}");
        assert_eq!(Publisher::hold_until(&hook), None, "publishing is not held");
    }

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(answer_figures(b"").unwrap(), None);
        assert_eq!(answer_figures(b" \n").unwrap(), None);
        assert_eq!(answer_figures(b"{}").unwrap(), Some(Metrics::default()));
        assert!(answer_figures(b"[1]").is_err());
        assert!(answer_figures(br#"{"clicks": 1.5}"#).unwrap_err().contains("`clicks`"));
        assert!(answer_figures(br#"{"likes": "3"}"#).is_err());
    }
}
