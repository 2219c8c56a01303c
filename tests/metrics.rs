//! The cost of a metrics sweep, counted in requests: posts published on one channel of each
//! network in a real SQLite store, the daemon's metrics lane, and the real adapter against a
//! strict mock on loopback that refuses a request the network would refuse (a wrong batch, a
//! missing token, a field not asked as the network documents it). The time a sweep takes is
//! measured by `cargo bench -p crieur-bench --bench metrics`, not here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::store::{Completion, DesiredDelivery, RetryPolicy, Store};
use crieur_core::{Clock, ManualClock, Network, Outcome, Publisher};
use crieur_daemon::metrics::{MetricsLane, Sweep};
use crieur_store::OpenOptions;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common;

const POSTS: usize = 10_000;

fn t0() -> Timestamp {
    "2026-11-02T08:00:00Z".parse().unwrap()
}

/// `n` posts published at [`t0`] on `channel` (its table in `channel_toml`), remote ids from
/// `remote`; the lane reads them with the publisher `build` makes, one day later.
struct Published {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    lane: MetricsLane,
}

async fn published(
    channel: &str,
    network: Network,
    channel_toml: &str,
    n: usize,
    remote: impl Fn(usize) -> String,
    build: impl FnOnce(Arc<dyn Clock>) -> Arc<dyn Publisher>,
) -> Published {
    let dir = common::project(&[(
        "crieur.toml",
        &format!(
            "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://crieur.db\"\n\n{channel_toml}"
        ),
    )]);
    let config = crieur_config::load_config(&dir.path().join("crieur.toml")).unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let store = crieur_store::open(
        &config.storage.url,
        OpenOptions { clock: clock.clone(), ..OpenOptions::default() },
    )
    .await
    .unwrap();
    let desired: Vec<DesiredDelivery> = (0..n)
        .map(|i| DesiredDelivery {
            id: format!("p{i}:{channel}:0"),
            post: format!("p{i}"),
            channel: channel.into(),
            item: 0,
            network,
            due_at: t0(),
            text: format!("post {i}"),
            link: None,
            category: None,
            article: None,
            media: Vec::new(),
            options: Default::default(),
        })
        .collect();
    store.sync(&desired, t0()).await.unwrap();
    let claimed = store.claim_due("me", t0(), SignedDuration::from_mins(5), n).await.unwrap();
    let done: Vec<Completion> = claimed
        .iter()
        .map(|c| {
            let i: usize = c.delivery.post.trim_start_matches('p').parse().unwrap();
            Completion {
                id: c.delivery.id.clone(),
                attempt: c.delivery.attempt,
                outcome: Outcome::Published { remote_id: remote(i), url: None },
            }
        })
        .collect();
    store.complete_many("me", &done, t0(), &RetryPolicy::default()).await.unwrap();
    let clock_dyn: Arc<dyn Clock> = clock.clone();
    let publisher = build(clock_dyn.clone());
    let publishers: HashMap<String, Arc<dyn Publisher>> =
        [(channel.to_owned(), publisher)].into_iter().collect();
    let lane = MetricsLane::new(store.clone(), &config, &publishers, clock_dyn);
    clock.set(t0() + SignedDuration::from_hours(24));
    Published { _dir: dir, store, lane }
}

impl Published {
    /// Sweeps once; checks that every post got its snapshot and that a second sweep reads
    /// nothing. The snapshot of delivery `p{probe}`.
    async fn sweep(&self, n: usize, probe: usize) -> (Sweep, crieur_core::engagement::Metrics) {
        let sweep = self.lane.sweep().await;
        assert_eq!((sweep.snapshots, sweep.failed), (n as u64, 0), "{sweep:?}");
        assert_eq!(self.lane.sweep().await.reads, 0, "nothing is read twice");
        let latest = self.store.latest_snapshots().await.unwrap();
        assert_eq!(latest.len(), n);
        let id = format!("p{probe}:");
        let probe = latest.iter().find(|s| s.delivery.starts_with(&id)).unwrap();
        self.store.close().await;
        (sweep, probe.metrics)
    }
}

/// How a strict mock answers a request: a 200 body, or why it is refused (a 400).
type Rule = dyn Fn(&Request) -> Result<serde_json::Value, String> + Send + Sync;

/// A mock's answer and the requests it refused, by the rule `answer`.
#[derive(Clone)]
struct Strict {
    answer: Arc<Rule>,
    refused: Arc<Mutex<Vec<String>>>,
}

impl Strict {
    fn new(
        answer: impl Fn(&Request) -> Result<serde_json::Value, String> + Send + Sync + 'static,
    ) -> Self {
        Strict { answer: Arc::new(answer), refused: Arc::default() }
    }

    async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::any()).respond_with(self.clone()).mount(server).await;
    }

    fn assert_clean(&self) {
        assert_eq!(*self.refused.lock().unwrap(), Vec::<String>::new(), "refused requests");
    }
}

impl Respond for Strict {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match (self.answer)(request) {
            Ok(body) => ResponseTemplate::new(200).set_body_json(body),
            Err(why) => {
                self.refused.lock().unwrap().push(why.clone());
                ResponseTemplate::new(400).set_body_json(json!({"error": why}))
            }
        }
    }
}

fn bearer_is(request: &Request, token: &str) -> Result<(), String> {
    let got = request.headers.get("authorization").and_then(|v| v.to_str().ok());
    if got == Some(&format!("Bearer {token}")) { Ok(()) } else { Err("no token".into()) }
}

/// X's answer for the ids asked: figures for each (likes = the id's number).
struct Figures;

impl Respond for Figures {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let ids = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "ids")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let list: Vec<&str> = ids.split(',').collect();
        if list.len() > 100 || list.iter().any(|id| id.is_empty()) {
            return ResponseTemplate::new(400).set_body_json(json!({"title": "Invalid Request"}));
        }
        let data: Vec<serde_json::Value> = list
            .iter()
            .map(|id| {
                json!({"id": id, "text": "t", "public_metrics": {
                    "like_count": id.parse::<u64>().unwrap_or(0), "retweet_count": 1,
                    "reply_count": 2, "quote_count": 0, "impression_count": 100},
                    "non_public_metrics": {"url_link_clicks": 3}})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_10000_x_posts_takes_100_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets"))
        .and(header("authorization", "Bearer tok-metrics"))
        .and(query_param("tweet.fields", "public_metrics,non_public_metrics"))
        .respond_with(Figures)
        .mount(&server)
        .await;
    let uri = server.uri();
    let p = published(
        "company-x",
        Network::X,
        "[channels.company-x]\nnetwork = \"x\"\ncadence = [\"daily 09:00\"]\n\
         access_token = \"env:X_ACCESS_TOKEN\"\n",
        POSTS,
        |i| i.to_string(),
        |clock| {
            let mut x = crieur_net_x::XPublisherConfig::new(
                "company-x",
                crieur_net_x::XAuth::Static("tok-metrics".to_owned().into()),
            );
            x.api_base = uri;
            x.clock = clock;
            x.http.timeout = Duration::from_secs(10);
            Arc::new(crieur_net_x::XPublisher::new(x).unwrap())
        },
    )
    .await;
    let (sweep, p42) = p.sweep(POSTS, 42).await;
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!((sweep.reads, requests), (100, 100));
    assert_eq!((p42.likes, p42.clicks), (Some(42), Some(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_1000_facebook_posts_takes_2000_requests() {
    const N: usize = 1_000;
    let server = MockServer::start().await;
    let graph = Strict::new(|r| {
        bearer_is(r, "page-metrics")?;
        let path = r.url.path();
        let query: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        if r.method.as_str() != "GET" {
            return Err(format!("{} {path}", r.method));
        }
        if let Some(post) = path.strip_prefix("/v25.0/").and_then(|p| p.strip_suffix("/insights")) {
            if query != [("metric".to_owned(), "post_clicks".to_owned())] {
                return Err(format!("insights asked {query:?}: a retired metric fails it all"));
            }
            let n: u64 = post.rsplit('_').next().unwrap().parse().map_err(|_| "post id")?;
            return Ok(json!({"data": [{"name": "post_clicks", "period": "lifetime",
                                        "values": [{"value": n % 10}]}]}));
        }
        let post = path.strip_prefix("/v25.0/104857600123_").ok_or("not a page post")?;
        let want = [(
            "fields".to_owned(),
            "shares,reactions.summary(true),comments.summary(true)".to_owned(),
        )];
        if query != want {
            return Err(format!("post fields {query:?}"));
        }
        let n: u64 = post.parse().map_err(|_| "post id")?;
        Ok(json!({"id": format!("104857600123_{n}"),
                  "reactions": {"data": [], "summary": {"total_count": n}},
                  "comments": {"data": [], "summary": {"total_count": 1}},
                  "shares": {"count": 2}}))
    });
    graph.mount(&server).await;
    let uri = server.uri();
    let p = published(
        "company-facebook",
        Network::Facebook,
        "[channels.company-facebook]\nnetwork = \"facebook\"\npage_id = \"104857600123\"\n\
         cadence = [\"daily 09:00\"]\naccess_token = \"env:FB_PAGE_TOKEN\"\n",
        N,
        |i| format!("104857600123_{i}"),
        |clock| {
            let token = crieur_net_facebook::PageToken::Static(SecretString::from(
                "page-metrics".to_owned(),
            ));
            let mut c = crieur_net_facebook::FacebookPublisherConfig::new(
                "company-facebook",
                "104857600123",
                token,
            );
            c.api_base = uri;
            c.clock = clock;
            c.http.timeout = Duration::from_secs(10);
            Arc::new(crieur_net_facebook::FacebookPublisher::new(c).unwrap())
        },
    )
    .await;
    let (sweep, p42) = p.sweep(N, 42).await;
    graph.assert_clean();
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!((sweep.reads, requests), (20, 2 * N), "batches of 50, two requests a post");
    assert_eq!(
        (p42.likes, p42.replies, p42.reposts, p42.clicks),
        (Some(42), Some(1), Some(2), Some(2))
    );
    assert_eq!(p42.impressions, None, "retired on Facebook: null, not 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_10000_bluesky_posts_takes_400_reads_and_one_login() {
    const DID: &str = "did:plc:sweep";
    let server = MockServer::start().await;
    let access = {
        use base64::Engine as _;
        let e = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let exp = Timestamp::now().as_second() + 7200;
        format!("{}.{}.sig", e("{}".into()), e(format!(r#"{{"sub":"{DID}","exp":{exp}}}"#)))
    };
    let token = access.clone();
    let pds = Strict::new(move |r| match r.url.path() {
        "/xrpc/com.atproto.server.createSession" => Ok(json!({"accessJwt": token,
            "refreshJwt": "refresh", "did": DID, "handle": "acme.test"})),
        "/xrpc/app.bsky.feed.getPosts" => {
            bearer_is(r, &token)?;
            let pairs: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
            if pairs.is_empty() || pairs.len() > 25 || pairs.iter().any(|(k, _)| k != "uris") {
                return Err(format!("getPosts with {} parameters", pairs.len()));
            }
            let posts: Vec<serde_json::Value> = pairs
                .iter()
                .map(|(_, u)| {
                    let n: u64 = u.rsplit('k').next().unwrap().parse().unwrap_or(0);
                    json!({"uri": u, "cid": "c", "likeCount": n, "repostCount": 1,
                           "replyCount": 0, "quoteCount": 0})
                })
                .collect();
            Ok(json!({ "posts": posts }))
        }
        other => Err(format!("unexpected {other}")),
    });
    pds.mount(&server).await;
    let uri = server.uri();
    let p = published(
        "sky",
        Network::Bluesky,
        "[channels.sky]\nnetwork = \"bluesky\"\nhandle = \"acme.test\"\n\
         app_password = \"env:BSKY_APP_PASSWORD\"\ncadence = [\"daily 09:00\"]\n",
        POSTS,
        |i| format!("at://{DID}/app.bsky.feed.post/3k{i}|c"),
        |clock| {
            let mut c = crieur_net_bluesky::BlueskyConfig::new(
                "sky",
                "acme.test",
                SecretString::from("app-password".to_owned()),
            );
            c.service = uri;
            c.clock = clock;
            Arc::new(crieur_net_bluesky::BlueskyPublisher::new(c).unwrap())
        },
    )
    .await;
    let (sweep, p42) = p.sweep(POSTS, 42).await;
    pds.assert_clean();
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!((sweep.reads, requests), (400, 401), "25 uris a read, and one login");
    assert_eq!(
        (p42.likes, p42.quotes, p42.impressions, p42.clicks),
        (Some(42), Some(0), None, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_10000_linkedin_page_posts_takes_500_requests() {
    let server = MockServer::start().await;
    let api = Strict::new(|r| {
        bearer_is(r, "li-metrics")?;
        let version = r.headers.get("x-restli-protocol-version").and_then(|v| v.to_str().ok());
        if version != Some("2.0.0") || r.url.path() != "/rest/organizationalEntityShareStatistics" {
            return Err(format!("{} without the Rest.li header", r.url.path()));
        }
        let query = r.url.query().unwrap_or("");
        let list = query
            .strip_prefix(
                "q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A2414183\
                 &shares=List(",
            )
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| format!("query {query}"))?;
        let urns: Vec<&str> = list.split(',').collect();
        if urns.len() > 20 {
            return Err(format!("{} shares in one call", urns.len()));
        }
        let elements: Vec<serde_json::Value> = urns
            .iter()
            .map(|u| {
                let urn = u.replace("%3A", ":");
                let n: u64 = urn.rsplit(':').next().unwrap().parse().unwrap_or(0);
                json!({"share": urn, "totalShareStatistics": {"impressionCount": 100 + n,
                    "clickCount": 4, "likeCount": n, "commentCount": 0, "shareCount": 1}})
            })
            .collect();
        Ok(json!({ "elements": elements }))
    });
    api.mount(&server).await;
    let uri = server.uri();
    let p = published(
        "page",
        Network::Linkedin,
        "[channels.page]\nnetwork = \"linkedin\"\nauthor = \"urn:li:organization:2414183\"\n\
         access_token = \"env:LINKEDIN_TOKEN\"\ncadence = [\"daily 09:00\"]\n",
        POSTS,
        |i| format!("urn:li:share:{i}"),
        |clock| {
            let tokens = crieur_net_linkedin::LinkedinTokens::fixed(SecretString::from(
                "li-metrics".to_owned(),
            ));
            let mut c = crieur_net_linkedin::LinkedinPublisherConfig::new(
                "page",
                "urn:li:organization:2414183",
                tokens,
            );
            c.api_base = uri;
            c.clock = clock;
            c.http.timeout = Duration::from_secs(10);
            Arc::new(crieur_net_linkedin::LinkedinPublisher::new(c).unwrap())
        },
    )
    .await;
    let (sweep, p42) = p.sweep(POSTS, 42).await;
    api.assert_clean();
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!((sweep.reads, requests), (500, 500), "20 shares a call");
    assert_eq!((p42.likes, p42.impressions, p42.clicks), (Some(42), Some(142), Some(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_1000_mastodon_posts_takes_1000_requests() {
    const N: usize = 1_000;
    let server = MockServer::start().await;
    let api = Strict::new(|r| {
        bearer_is(r, "masto-metrics")?;
        let id = r.url.path().strip_prefix("/api/v1/statuses/").ok_or("not a status read")?;
        if r.url.query().is_some() || r.method.as_str() != "GET" {
            return Err("a status read takes no query".into());
        }
        let n: u64 = id.parse().map_err(|_| "status id")?;
        Ok(json!({"id": id, "replies_count": 1, "reblogs_count": 0, "favourites_count": n}))
    });
    api.mount(&server).await;
    let uri = server.uri();
    let p = published(
        "fedi",
        Network::Mastodon,
        "[channels.fedi]\nnetwork = \"mastodon\"\ninstance = \"https://social.example\"\n\
         access_token = \"env:MASTODON_TOKEN\"\ncadence = [\"daily 09:00\"]\n",
        N,
        |i| i.to_string(),
        |clock| {
            let auth = crieur_net_mastodon::MastodonAuth::Static(SecretString::from(
                "masto-metrics".to_owned(),
            ));
            let mut c = crieur_net_mastodon::MastodonConfig::new("fedi", uri, auth);
            c.clock = clock;
            Arc::new(crieur_net_mastodon::MastodonPublisher::new(c).unwrap())
        },
    )
    .await;
    let (sweep, p42) = p.sweep(N, 42).await;
    api.assert_clean();
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!((sweep.reads, requests), (100, N), "one status a request, 10 a batch");
    assert_eq!(
        (p42.likes, p42.reposts, p42.quotes, p42.impressions),
        (Some(42), Some(0), None, None)
    );
}
