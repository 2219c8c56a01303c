//! The cost of a metrics sweep: 10,000 posts published on X, a real SQLite store, the daemon's
//! metrics lane and the real X adapter against a strict mock of `GET /2/tweets` on loopback.
//! Prints the number of requests and the time the sweep took.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crieur_core::store::{Completion, DesiredDelivery, RetryPolicy};
use crieur_core::{Clock, ManualClock, Network, Outcome, Publisher};
use crieur_daemon::metrics::{MetricsLane, Sweep};
use crieur_store::OpenOptions;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common;

const POSTS: usize = 10_000;

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
    let dir = common::project(&[(
        "crieur.toml",
        "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://crieur.db\"\n\n\
         [channels.company-x]\nnetwork = \"x\"\ncadence = [\"daily 09:00\"]\n\
         access_token = \"env:X_ACCESS_TOKEN\"\n",
    )]);
    let config = crieur_config::load_config(&dir.path().join("crieur.toml")).unwrap();
    let t0: Timestamp = "2026-11-02T08:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let store = crieur_store::open(
        &config.storage.url,
        OpenOptions { clock: clock.clone(), ..OpenOptions::default() },
    )
    .await
    .unwrap();
    let desired: Vec<DesiredDelivery> = (0..POSTS)
        .map(|i| DesiredDelivery {
            id: format!("p{i}:company-x:0"),
            post: format!("p{i}"),
            channel: "company-x".into(),
            item: 0,
            network: Network::X,
            due_at: t0,
            text: format!("post {i}"),
            link: None,
            category: None,
            article: None,
            media: Vec::new(),
            options: Default::default(),
        })
        .collect();
    store.sync(&desired, t0).await.unwrap();
    let claimed = store.claim_due("me", t0, SignedDuration::from_mins(5), POSTS).await.unwrap();
    let done: Vec<Completion> = claimed
        .iter()
        .map(|c| Completion {
            id: c.delivery.id.clone(),
            attempt: c.delivery.attempt,
            outcome: Outcome::Published {
                remote_id: c.delivery.post.trim_start_matches('p').to_owned(),
                url: None,
            },
        })
        .collect();
    store.complete_many("me", &done, t0, &RetryPolicy::default()).await.unwrap();

    let mut x = crieur_net_x::XPublisherConfig::new(
        "company-x",
        crieur_net_x::XAuth::Static("tok-metrics".to_owned().into()),
    );
    x.api_base = server.uri();
    x.clock = clock.clone();
    x.http.timeout = Duration::from_secs(10);
    let publisher: Arc<dyn Publisher> = Arc::new(crieur_net_x::XPublisher::new(x).unwrap());
    let publishers: HashMap<String, Arc<dyn Publisher>> =
        [("company-x".to_owned(), publisher)].into_iter().collect();
    let clock_dyn: Arc<dyn Clock> = clock.clone();
    let lane = MetricsLane::new(store.clone(), &config, &publishers, clock_dyn);

    clock.set(t0 + SignedDuration::from_hours(24));
    let started = Instant::now();
    let sweep = lane.sweep().await;
    let took = started.elapsed();
    let requests = server.received_requests().await.unwrap().len();
    println!(
        "metrics sweep of {POSTS} X posts: {requests} requests, {} ms against the loopback mock",
        took.as_millis()
    );
    assert_eq!(sweep, Sweep { reads: 100, snapshots: POSTS as u64, failed: 0 });
    assert_eq!(requests, 100);
    let latest = store.latest_snapshots().await.unwrap();
    assert_eq!(latest.len(), POSTS);
    let p42 = latest.iter().find(|s| s.delivery == "p42:company-x:0").unwrap();
    assert_eq!((p42.metrics.likes, p42.metrics.clicks), (Some(42), Some(3)));
    // A second sweep finds nothing due: nothing is read twice.
    assert_eq!(lane.sweep().await.reads, 0);
    store.close().await;
}
