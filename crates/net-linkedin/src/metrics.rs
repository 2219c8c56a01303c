//! Engagement figures from LinkedIn.
//!
//! - A Page's posts (`author = "urn:li:organization:N"`): `GET
//!   /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=URN&
//!   shares=List(...)` (or `ugcPosts=List(...)`, one kind per call), up to [`MAX_POSTS`] posts a
//!   call: `impressionCount`, `clickCount`, `likeCount`, `commentCount`, `shareCount` of each
//!   post's `totalShareStatistics` (lifetime, organic). Needs the `rw_organization_admin` scope
//!   on an administrator's token.
//! - A member's posts (`urn:li:person:ID`): LinkedIn gives no statistics to a third-party app,
//!   only the social summaries: `GET /rest/socialActions/{urn}` per post, `likesSummary.totalLikes`
//!   and `commentsSummary.aggregatedTotalComments`. Impressions, clicks and reshares stay `null`.
//!
//! Declared inside the publisher's module: it uses the publisher's tokens and client. URNs in a
//! Rest.li 2.0 query are percent-encoded inside a literal `List(...)`, so the query is written
//! by hand (a form encoder would encode the parentheses and commas too). A 429 waits for
//! LinkedIn's daily reset (midnight UTC) without holding publishing.

use std::collections::BTreeMap;

use crieur_core::Network;
use crieur_core::engagement::{Engagement, EngagementError, Metrics, MetricsRequest};
use serde_json::Value;

use super::*;

/// Posts asked for per `organizationalEntityShareStatistics` call.
pub const MAX_POSTS: usize = 20;

fn failed(reason: String) -> EngagementError {
    EngagementError::Failed { reason }
}

/// A URN percent-encoded for a Rest.li 2.0 URL (every byte but letters, digits and `-._~`).
fn restli_encode(urn: &str) -> String {
    let mut out = String::with_capacity(urn.len() * 2);
    for b in urn.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The two kinds of post URN the statistics endpoint takes, with their query parameter and the
/// key naming the post in each answer element.
fn post_kind(urn: &str) -> Option<(&'static str, &'static str)> {
    let id = |prefix: &str| {
        urn.strip_prefix(prefix).is_some_and(|n| {
            !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_digit())
        })
    };
    if id("urn:li:share:") {
        Some(("shares", "share"))
    } else if id("urn:li:ugcPost:") {
        Some(("ugcPosts", "ugcPost"))
    } else {
        None
    }
}

/// The figures of each element of a statistics answer, by post URN. Pure.
fn statistics(answer: &Value, key: &str) -> BTreeMap<String, Metrics> {
    let elements = answer.get("elements").and_then(Value::as_array);
    elements
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let urn = e.get(key)?.as_str()?.to_owned();
            let t = e.get("totalShareStatistics")?;
            let n = |k: &str| t.get(k).and_then(Value::as_u64);
            let m = Metrics {
                likes: n("likeCount"),
                reposts: n("shareCount"),
                replies: n("commentCount"),
                quotes: None,
                impressions: n("impressionCount"),
                clicks: n("clickCount"),
            };
            Some((urn, m))
        })
        .collect()
}

/// The figures of a `socialActions` answer. Pure.
fn social_actions(answer: &Value) -> Metrics {
    let n = |p: &str| answer.pointer(p).and_then(Value::as_u64);
    Metrics {
        likes: n("/likesSummary/totalLikes"),
        replies: n("/commentsSummary/aggregatedTotalComments"),
        ..Metrics::default()
    }
}

impl LinkedinPublisher {
    /// One authorized GET of `url`: its JSON, `Ok(None)` for a 404, else the failure.
    async fn read(&self, url: Url, now: Timestamp) -> Result<Option<Value>, EngagementError> {
        let access = self.usable_access(now).await.map_err(|o| {
            failed(match o {
                Outcome::Unauthorized { reason } | Outcome::Retry { reason, .. } => reason,
                other => format!("{other:?}"),
            })
        })?;
        let bearer = bearer_header(&access.token)
            .map_err(|e| failed(format!("channel {}: {e}; {}", self.channel, self.auth_hint())))?;
        let request = self
            .http
            .request(Method::GET, url)
            .header(AUTHORIZATION, bearer)
            .header("LinkedIn-Version", self.version.as_str())
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION);
        let log_id = format!("metrics:{}", self.channel);
        let response = self.http.send(&log_id, request).await.map_err(|e| {
            failed(format!("reading figures from LinkedIn for {}: {e}", self.channel))
        })?;
        match response.status {
            StatusCode::OK => response.json::<Value>().map(Some).ok_or_else(|| {
                failed("LinkedIn's answer to a read of figures is not JSON".to_owned())
            }),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::TOO_MANY_REQUESTS => {
                let until = retry_after(&response.headers, now)
                    .or_else(|| next_midnight_utc(now))
                    .unwrap_or(now + jiff::SignedDuration::from_hours(1));
                Err(EngagementError::RateLimited { until })
            }
            StatusCode::UNAUTHORIZED => Err(failed(self.unauthorized(&response, Refreshed::No))),
            status => Err(failed(format!(
                "LinkedIn answered {} to a read of figures{}",
                status.as_u16(),
                Self::said(&response, &ApiError::read(&response))
            ))),
        }
    }

    /// `{api_base}/rest/{path}` (the posts endpoint's sibling).
    fn rest_url(&self, path: &str) -> Result<Url, EngagementError> {
        self.endpoint.join(path).map_err(|e| failed(format!("cannot build the URL {path}: {e}")))
    }

    /// The statistics of a Page's posts of one kind (`param` = `shares` or `ugcPosts`).
    async fn page_statistics(
        &self,
        organization: &str,
        param: &str,
        key: &str,
        urns: &[&str],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let mut url = self.rest_url("organizationalEntityShareStatistics")?;
        let list: Vec<String> = urns.iter().map(|u| restli_encode(u)).collect();
        let query = format!(
            "q=organizationalEntity&organizationalEntity={}&{param}=List({})",
            restli_encode(organization),
            list.join(",")
        );
        url.set_query(Some(&query));
        let answer = self.read(url, now).await?.unwrap_or(Value::Null);
        Ok(statistics(&answer, key))
    }

    /// The social summaries of one member post; `None` when LinkedIn no longer has it.
    async fn member_post(
        &self,
        urn: &str,
        now: Timestamp,
    ) -> Result<Option<Metrics>, EngagementError> {
        if post_urn_header(urn).is_none() {
            return Err(failed(format!("{urn:?} is not a LinkedIn post URN")));
        }
        let url = self.rest_url(&format!("socialActions/{}", restli_encode(urn)))?;
        Ok(self.read(url, now).await?.map(|v| social_actions(&v)))
    }
}

#[async_trait::async_trait]
impl Engagement for LinkedinPublisher {
    fn network(&self) -> Network {
        Network::Linkedin
    }

    fn batch_size(&self) -> usize {
        MAX_POSTS
    }

    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
        let mut out = BTreeMap::new();
        match &self.author {
            Author::Organization(_) => {
                let organization = self.author.to_string();
                let mut kinds: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
                for p in posts {
                    let kind = post_kind(&p.remote_id).ok_or_else(|| {
                        failed(format!("{:?} is not a LinkedIn share or ugcPost URN", p.remote_id))
                    })?;
                    kinds.entry(kind).or_default().push(&p.remote_id);
                }
                for ((param, key), urns) in kinds {
                    for chunk in urns.chunks(MAX_POSTS) {
                        let got =
                            self.page_statistics(&organization, param, key, chunk, now).await?;
                        out.extend(got);
                    }
                }
            }
            Author::Person(_) => {
                for p in posts {
                    if let Some(m) = self.member_post(&p.remote_id, now).await? {
                        out.insert(p.remote_id.clone(), m);
                    }
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
    use std::time::Duration;

    use crieur_core::ManualClock;
    use secrecy::SecretString;
    use serde_json::json;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;

    const ORG: &str = "urn:li:organization:2414183";

    fn now() -> Timestamp {
        "2026-11-26T10:00:00Z".parse().unwrap()
    }

    /// A strict LinkedIn: the token, the version and protocol headers, the exact Rest.li query
    /// (encoded URNs in a literal `List(...)`, at most 20, one kind per call) or refuses as
    /// LinkedIn does.
    #[derive(Clone, Default)]
    struct Api(Arc<StdMutex<Vec<String>>>);

    fn refuse(status: u16, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status)
            .set_body_json(json!({"status": status, "serviceErrorCode": 100, "message": message}))
    }

    impl Respond for Api {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let query = req.url.query().unwrap_or("").to_owned();
            self.0.lock().unwrap().push(format!("{} {query}", req.url.path()));
            let h = |k: &str| req.headers.get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
            if h("authorization").as_deref() != Some("Bearer li-tok") {
                return ResponseTemplate::new(401).set_body_json(
                    json!({"status": 401, "serviceErrorCode": 65600,
                                          "code": "INVALID_ACCESS_TOKEN",
                                          "message": "Invalid access token"}),
                );
            }
            if h("linkedin-version").as_deref() != Some(DEFAULT_LINKEDIN_VERSION)
                || h("x-restli-protocol-version").as_deref() != Some("2.0.0")
                || req.method.as_str() != "GET"
            {
                return refuse(400, "missing version headers");
            }
            if req.url.path() == "/rest/organizationalEntityShareStatistics" {
                let prefix = format!(
                    "q=organizationalEntity&organizationalEntity={}&",
                    "urn%3Ali%3Aorganization%3A2414183"
                );
                let Some(rest) = query.strip_prefix(&prefix) else {
                    return refuse(400, "Invalid query parameters");
                };
                let Some((param, list)) = rest.split_once("=List(") else {
                    return refuse(400, "Invalid query parameters");
                };
                let Some(list) = list.strip_suffix(')') else {
                    return refuse(400, "Invalid query parameters");
                };
                let (key, prefix) = match param {
                    "shares" => ("share", "urn%3Ali%3Ashare%3A"),
                    "ugcPosts" => ("ugcPost", "urn%3Ali%3AugcPost%3A"),
                    _ => return refuse(400, "Invalid query parameters"),
                };
                let urns: Vec<&str> = list.split(',').collect();
                if urns.len() > MAX_POSTS || urns.iter().any(|u| !u.starts_with(prefix)) {
                    return refuse(400, "Invalid list");
                }
                let elements: Vec<Value> = urns
                    .iter()
                    .map(|u| {
                        let urn = u.replace("%3A", ":");
                        let n: u64 = urn.rsplit(':').next().unwrap().parse().unwrap();
                        json!({"organizationalEntity": ORG, key: urn, "totalShareStatistics": {
                            "uniqueImpressionsCount": 90, "shareCount": 2, "engagement": 0.1,
                            "clickCount": 7, "likeCount": n % 100, "impressionCount": 120,
                            "commentCount": 3}})
                    })
                    .collect();
                return ResponseTemplate::new(200).set_body_json(
                    json!({"paging": {"count": 10, "start": 0}, "elements": elements}),
                );
            }
            if let Some(urn) = req.url.path().strip_prefix("/rest/socialActions/") {
                if urn == "urn%3Ali%3Ashare%3A404" {
                    return refuse(404, "Not found");
                }
                if !urn.starts_with("urn%3Ali%3Ashare%3A") {
                    return refuse(400, "Invalid URN");
                }
                return ResponseTemplate::new(200).set_body_json(json!({
                    "likesSummary": {"totalLikes": 9, "likedByCurrentUser": false},
                    "commentsSummary": {"aggregatedTotalComments": 4, "totalFirstLevelComments": 3},
                    "target": urn.replace("%3A", ":")}));
            }
            refuse(404, "No such resource")
        }
    }

    async fn start() -> (MockServer, Api) {
        let server = MockServer::start().await;
        let api = Api::default();
        Mock::given(wiremock::matchers::any()).respond_with(api.clone()).mount(&server).await;
        (server, api)
    }

    fn publisher(server: &MockServer, author: &str, token: &str) -> LinkedinPublisher {
        let tokens = LinkedinTokens::fixed(SecretString::from(token.to_owned()));
        let mut c = LinkedinPublisherConfig::new("company-linkedin", author, tokens);
        c.api_base = server.uri();
        c.clock = Arc::new(ManualClock::new(now()));
        c.http.timeout = Duration::from_secs(5);
        LinkedinPublisher::new(c).unwrap()
    }

    fn ask(urn: &str) -> MetricsRequest {
        MetricsRequest { remote_id: urn.into(), url: None, published_at: now() }
    }

    #[tokio::test]
    async fn a_page_s_posts_get_impressions_clicks_likes_comments_and_shares_in_batches() {
        let (server, api) = start().await;
        let li = publisher(&server, ORG, "li-tok");
        let mut posts: Vec<MetricsRequest> =
            (0..21).map(|i| ask(&format!("urn:li:share:70000000000000000{i:02}"))).collect();
        posts.push(ask("urn:li:ugcPost:7100000000000000042"));
        let got = li.fetch(&posts, now()).await.unwrap();
        assert_eq!(got.len(), 22);
        assert_eq!(
            got["urn:li:ugcPost:7100000000000000042"],
            Metrics {
                likes: Some(42),
                reposts: Some(2),
                replies: Some(3),
                quotes: None,
                impressions: Some(120),
                clicks: Some(7)
            }
        );
        let asked = api.0.lock().unwrap().clone();
        assert_eq!(asked.len(), 3, "20 shares, 1 share, 1 ugcPost: {asked:?}");
        assert!(asked[0].contains("shares=List(urn%3Ali%3Ashare%3A7000000000000000000,"));
    }

    #[tokio::test]
    async fn a_member_s_posts_get_likes_and_comments_only() {
        let (server, api) = start().await;
        let li = publisher(&server, "urn:li:person:abc123", "li-tok");
        let got = li
            .fetch(&[ask("urn:li:share:7000000000000000001"), ask("urn:li:share:404")], now())
            .await
            .unwrap();
        let m = got["urn:li:share:7000000000000000001"];
        assert_eq!((m.likes, m.replies), (Some(9), Some(4)));
        assert_eq!((m.impressions, m.clicks, m.reposts), (None, None, None), "null, not 0");
        assert!(!got.contains_key("urn:li:share:404"), "a deleted post is absent");
        assert_eq!(
            api.0.lock().unwrap()[0],
            "/rest/socialActions/urn%3Ali%3Ashare%3A7000000000000000001 "
        );
    }

    #[tokio::test]
    async fn a_refused_token_fails_the_read_and_names_the_code() {
        let (server, _) = start().await;
        let err = publisher(&server, ORG, "wrong")
            .fetch(&[ask("urn:li:share:7000000000000000001")], now())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("65600"), "{err}");
    }

    #[tokio::test]
    async fn a_429_waits_for_midnight_utc_and_leaves_publishing_alone() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(refuse(429, "Resource level throttle limit reached"))
            .mount(&server)
            .await;
        let li = publisher(&server, ORG, "li-tok");
        let err = li.fetch(&[ask("urn:li:share:7000000000000000001")], now()).await.unwrap_err();
        let midnight: Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
        assert_eq!(err, EngagementError::RateLimited { until: midnight });
        assert_eq!(Publisher::hold_until(&li), None);
    }

    #[test]
    fn urns_are_encoded_for_rest_li_and_only_shares_and_ugc_posts_are_asked_for() {
        assert_eq!(restli_encode("urn:li:share:1"), "urn%3Ali%3Ashare%3A1");
        assert_eq!(post_kind("urn:li:share:12"), Some(("shares", "share")));
        assert_eq!(post_kind("urn:li:ugcPost:12"), Some(("ugcPosts", "ugcPost")));
        assert_eq!(post_kind("urn:li:activity:12"), None);
        assert_eq!(post_kind("urn:li:share:1)&x=("), None);
    }
}
