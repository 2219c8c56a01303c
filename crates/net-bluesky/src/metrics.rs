//! Engagement figures from Bluesky: `GET /xrpc/app.bsky.feed.getPosts?uris=...&uris=...`, up to
//! [`MAX_URIS`] records a call, through the account's PDS with the session's access token:
//! `likeCount`, `repostCount`, `replyCount`, `quoteCount`. Bluesky counts neither impressions nor
//! clicks: those stay `null`, never 0.
//!
//! Declared inside the publisher's module: it shares the publisher's session (one login for both,
//! Bluesky limits logins to 30 per 5 minutes). A rate-limited read waits for the reset through
//! the metrics lane and never sets the publishing hold: reads and writes have separate budgets.

use std::collections::BTreeMap;

use crieur_core::Network;
use crieur_core::engagement::{Engagement, EngagementError, Metrics, MetricsRequest};
use crieur_net_http::{header_epoch, retry_after};
use jiff::SignedDuration;
use serde::Deserialize;

use super::*;

/// The most records one `app.bsky.feed.getPosts` takes.
pub const MAX_URIS: usize = 25;

#[derive(Deserialize)]
struct Answer {
    posts: Vec<PostView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    like_count: Option<u64>,
    repost_count: Option<u64>,
    reply_count: Option<u64>,
    quote_count: Option<u64>,
}

fn failed(reason: String) -> EngagementError {
    EngagementError::Failed { reason }
}

fn session_failure(e: SessionError, now: Timestamp) -> EngagementError {
    match e {
        SessionError::RateLimited { until: Some(until), .. } if until > now => {
            EngagementError::RateLimited { until }
        }
        e => failed(e.to_string()),
    }
}

/// The figures in the answer to `getPosts`, by record URI. Pure.
fn answer_metrics(response: &Response) -> Result<BTreeMap<String, Metrics>, EngagementError> {
    let answer: Answer = response.json().ok_or_else(|| {
        failed("Bluesky's answer to app.bsky.feed.getPosts is not the JSON expected".to_owned())
    })?;
    Ok(answer
        .posts
        .into_iter()
        .map(|p| {
            let m = Metrics {
                likes: p.like_count,
                reposts: p.repost_count,
                replies: p.reply_count,
                quotes: p.quote_count,
                impressions: None,
                clicks: None,
            };
            (p.uri, m)
        })
        .collect())
}

impl BlueskyPublisher {
    /// One `getPosts` for `uris` (at most [`MAX_URIS`]); renews the session once when the server
    /// calls the access token expired.
    async fn read_posts(
        &self,
        uris: &[&str],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let mut url = self.url("app.bsky.feed.getPosts").map_err(failed)?;
        {
            let mut q = url.query_pairs_mut();
            for uri in uris {
                q.append_pair("uris", uri);
            }
        }
        let log_id = format!("metrics:{}", self.channel);
        let mut session = self.sessions.current().await.map_err(|e| session_failure(e, now))?;
        let mut renewed = false;
        loop {
            let header = bearer_header(&session.access).map_err(|e| failed(e.to_string()))?;
            let request = self.http.request(Method::GET, url.clone()).header(AUTHORIZATION, header);
            let response = self.http.send(&log_id, request).await.map_err(|e| {
                failed(format!("reading figures from Bluesky for {}: {e}", self.channel))
            })?;
            let expired = response.status == StatusCode::UNAUTHORIZED
                || (response.status == StatusCode::BAD_REQUEST
                    && matches!(
                        xrpc_error_name(&response).as_deref(),
                        Some("ExpiredToken" | "InvalidToken")
                    ));
            if expired && !renewed {
                session =
                    self.sessions.renew(&session).await.map_err(|e| session_failure(e, now))?;
                renewed = true;
                continue;
            }
            if response.status == StatusCode::TOO_MANY_REQUESTS {
                let until = header_epoch(&response.headers, "ratelimit-reset")
                    .or_else(|| retry_after(&response.headers, now))
                    .unwrap_or(now + SignedDuration::from_mins(5));
                return Err(EngagementError::RateLimited { until });
            }
            if response.status != StatusCode::OK {
                return Err(failed(format!(
                    "Bluesky answered {} to app.bsky.feed.getPosts: {}",
                    response.status.as_u16(),
                    xrpc_error(&response)
                )));
            }
            return answer_metrics(&response);
        }
    }
}

#[async_trait::async_trait]
impl Engagement for BlueskyPublisher {
    fn network(&self) -> Network {
        Network::Bluesky
    }

    fn batch_size(&self) -> usize {
        MAX_URIS
    }

    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        // A remote id is `uri|cid` (with the thread's root after it for a reply).
        let mut by_uri: BTreeMap<String, &str> = BTreeMap::new();
        for p in posts {
            let (own, _) = parse_remote_id(&p.remote_id).ok_or_else(|| {
                failed(format!("{:?} is not a Bluesky record reference", p.remote_id))
            })?;
            by_uri.insert(own.uri, p.remote_id.as_str());
        }
        let uris: Vec<&str> = by_uri.keys().map(String::as_str).collect();
        let mut out = BTreeMap::new();
        for chunk in uris.chunks(MAX_URIS) {
            for (uri, m) in self.read_posts(chunk, now).await? {
                if let Some(remote) = by_uri.get(&uri) {
                    out.insert((*remote).to_owned(), m);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use base64::Engine;
    use crieur_core::ManualClock;
    use serde_json::json;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;

    const DID: &str = "did:plc:crieurmetrics";

    fn now() -> Timestamp {
        "2026-11-26T10:00:00Z".parse().unwrap()
    }

    fn jwt(n: u32) -> String {
        let e = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let exp = now().as_second() + 7200;
        format!(
            "{}.{}.sig{n}",
            e(r#"{"alg":"ES256K"}"#.into()),
            e(format!(r#"{{"sub":"{DID}","exp":{exp}}}"#))
        )
    }

    fn uri(rkey: &str) -> String {
        format!("at://{DID}/app.bsky.feed.post/{rkey}")
    }

    #[derive(Default)]
    struct State {
        logins: u32,
        /// The access token the server accepts.
        access: String,
        /// The next read answers `ExpiredToken` once.
        expire_next: bool,
        /// Every read answers 429 until this epoch.
        limited_until: Option<i64>,
        /// The `uris` of each read.
        reads: Vec<Vec<String>>,
    }

    /// A strict PDS: logins by app password; `getPosts` only as GET with the current access
    /// token, only `uris` parameters, 1 to 25 of them (more is a 400, as the server answers).
    #[derive(Clone, Default)]
    struct Pds(Arc<StdMutex<State>>);

    fn err(code: u16, name: &str, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(code).set_body_json(json!({"error": name, "message": message}))
    }

    impl Respond for Pds {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let mut s = self.0.lock().unwrap();
            match (req.method.as_str(), req.url.path()) {
                ("POST", "/xrpc/com.atproto.server.createSession") => {
                    s.logins += 1;
                    s.access = jwt(s.logins);
                    ResponseTemplate::new(200).set_body_json(json!({
                        "accessJwt": s.access, "refreshJwt": format!("refresh{}", s.logins),
                        "did": DID, "handle": "acme.bsky.social"}))
                }
                ("POST", "/xrpc/com.atproto.server.refreshSession") => {
                    err(400, "ExpiredToken", "Token has been revoked")
                }
                ("GET", "/xrpc/app.bsky.feed.getPosts") => {
                    let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some(&format!("Bearer {}", s.access)) {
                        return err(401, "AuthenticationRequired", "Authentication Required");
                    }
                    if s.expire_next {
                        s.expire_next = false;
                        s.access = String::new();
                        return err(400, "ExpiredToken", "Token has expired");
                    }
                    if let Some(until) = s.limited_until {
                        return err(429, "RateLimitExceeded", "Rate Limit Exceeded")
                            .insert_header("ratelimit-limit", "3000")
                            .insert_header("ratelimit-remaining", "0")
                            .insert_header("ratelimit-reset", until.to_string().as_str());
                    }
                    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
                    if pairs.iter().any(|(k, _)| k != "uris") {
                        return err(400, "InvalidRequest", "Error: unknown parameter");
                    }
                    let uris: Vec<String> = pairs.into_iter().map(|(_, v)| v).collect();
                    if uris.is_empty() || uris.len() > MAX_URIS {
                        return err(
                            400,
                            "InvalidRequest",
                            "Error: uris must not have more than 25 elements",
                        );
                    }
                    s.reads.push(uris.clone());
                    let posts: Vec<serde_json::Value> = uris
                        .iter()
                        .filter(|u| !u.ends_with("/gone"))
                        .map(|u| {
                            let n = u.len() as u64 % 7;
                            json!({"uri": u, "cid": "bafyrei", "author": {"did": DID},
                                   "record": {"text": "t"}, "likeCount": n + 10,
                                   "repostCount": n, "replyCount": 1, "quoteCount": 0,
                                   "indexedAt": "2026-11-25T10:00:00.000Z"})
                        })
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({ "posts": posts }))
                }
                _ => err(404, "MethodNotImplemented", "Method Not Implemented"),
            }
        }
    }

    async fn start() -> (MockServer, Pds) {
        let server = MockServer::start().await;
        let pds = Pds::default();
        Mock::given(wiremock::matchers::any()).respond_with(pds.clone()).mount(&server).await;
        (server, pds)
    }

    fn publisher(server: &MockServer) -> BlueskyPublisher {
        let password = SecretString::from("abcd-efgh-ijkl-mnop".to_owned());
        let mut c = BlueskyConfig::new("sky", "acme.bsky.social", password);
        c.service = server.uri();
        c.clock = Arc::new(ManualClock::new(now()));
        BlueskyPublisher::new(c).unwrap()
    }

    fn ask(rkey: &str) -> MetricsRequest {
        let own = StrongRef { uri: uri(rkey), cid: "bafyrei".into() };
        MetricsRequest { remote_id: remote_id(&own, None), url: None, published_at: now() }
    }

    #[tokio::test]
    async fn likes_reposts_replies_and_quotes_and_no_impressions_or_clicks() {
        let (server, pds) = start().await;
        let sky = publisher(&server);
        let root = StrongRef { uri: uri("3root"), cid: "c0".into() };
        let own = StrongRef { uri: uri("3reply"), cid: "c1".into() };
        let reply = MetricsRequest {
            remote_id: remote_id(&own, Some(&root)),
            url: None,
            published_at: now(),
        };
        let asked = [ask("3one"), reply.clone(), ask("gone")];
        let got = sky.fetch(&asked, now()).await.unwrap();
        let one = got[&asked[0].remote_id];
        assert_eq!((one.replies, one.quotes), (Some(1), Some(0)), "zero is a figure");
        assert!(one.likes.is_some() && one.reposts.is_some());
        assert_eq!((one.impressions, one.clicks), (None, None), "not given: null, not 0");
        assert!(got.contains_key(&reply.remote_id), "a reply is read by its own uri");
        assert!(!got.contains_key(&asked[2].remote_id), "a deleted record is absent");
        let s = pds.0.lock().unwrap();
        assert_eq!((s.logins, s.reads.len()), (1, 1));
        assert!(!s.reads[0].contains(&uri("3root")), "the root is not asked for");
    }

    #[tokio::test]
    async fn fifty_one_records_take_three_reads_of_at_most_25() {
        let (server, pds) = start().await;
        let posts: Vec<MetricsRequest> = (0..51).map(|i| ask(&format!("3k{i:03}"))).collect();
        let got = publisher(&server).fetch(&posts, now()).await.unwrap();
        assert_eq!(got.len(), 51);
        let sizes: Vec<usize> = pds.0.lock().unwrap().reads.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![25, 25, 1]);
    }

    #[tokio::test]
    async fn an_expired_token_is_renewed_once_and_a_429_waits_without_holding_publishing() {
        let (server, pds) = start().await;
        let sky = publisher(&server);
        sky.fetch(&[ask("3a")], now()).await.unwrap();
        pds.0.lock().unwrap().expire_next = true;
        let got = sky.fetch(&[ask("3a")], now()).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(pds.0.lock().unwrap().logins, 2, "the refused refresh led to a new login");
        let reset = now().as_second() + 600;
        pds.0.lock().unwrap().limited_until = Some(reset);
        let err = sky.fetch(&[ask("3a")], now()).await.unwrap_err();
        assert_eq!(
            err,
            EngagementError::RateLimited { until: Timestamp::from_second(reset).unwrap() }
        );
        assert_eq!(Publisher::hold_until(&sky), None, "publishing is not held");
    }

    #[tokio::test]
    async fn a_remote_id_that_is_no_record_reference_is_refused_without_a_request() {
        let (server, pds) = start().await;
        let bad = MetricsRequest { remote_id: "12345".into(), url: None, published_at: now() };
        let err = publisher(&server).fetch(&[bad], now()).await.unwrap_err();
        assert!(err.to_string().contains("not a Bluesky record reference"), "{err}");
        assert_eq!(pds.0.lock().unwrap().logins, 0);
    }
}
