//! One metrics sweep: posts published on one channel in a real SQLite store (in a temporary
//! folder), the daemon's metrics lane, and the real adapter against a loopback mock of the
//! network's read (X `GET /2/tweets`, 100 ids a call; Facebook a post's fields and its
//! `post_clicks` insight, two requests a post). Only the sweep is timed: the store is filled
//! again before each one. The mock answers at once, so the figure is crieur's own cost of a
//! sweep (requests, parsing, recording the snapshots), not a network's latency.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crieur_core::store::{Completion, DesiredDelivery, RetryPolicy};
use crieur_core::{Clock, ManualClock, Network, Outcome, Publisher};
use crieur_daemon::metrics::MetricsLane;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// X's answer: figures for every id asked.
struct XFigures;

impl Respond for XFigures {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let ids = r.url.query_pairs().find(|(k, _)| k == "ids").map(|(_, v)| v.into_owned());
        let data: Vec<serde_json::Value> = ids
            .unwrap_or_default()
            .split(',')
            .map(|id| {
                json!({"id": id, "text": "t", "public_metrics": {"like_count": 3,
                    "retweet_count": 1, "reply_count": 2, "quote_count": 0,
                    "impression_count": 100}, "non_public_metrics": {"url_link_clicks": 3}})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
    }
}

/// Facebook's answers: a post's fields, or its `post_clicks`.
struct FacebookFigures;

impl Respond for FacebookFigures {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        if r.url.path().ends_with("/insights") {
            return ResponseTemplate::new(200).set_body_json(json!({"data": [{
                "name": "post_clicks", "period": "lifetime", "values": [{"value": 4}]}]}));
        }
        ResponseTemplate::new(200).set_body_json(json!({"id": "p",
            "reactions": {"data": [], "summary": {"total_count": 12}},
            "comments": {"data": [], "summary": {"total_count": 3}},
            "shares": {"count": 2}}))
    }
}

struct Case {
    name: &'static str,
    channel: &'static str,
    network: Network,
    toml: &'static str,
    posts: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "x",
        channel: "company-x",
        network: Network::X,
        toml: "[channels.company-x]\nnetwork = \"x\"\ncadence = [\"daily 09:00\"]\n\
               access_token = \"env:X_ACCESS_TOKEN\"\n",
        posts: 10_000,
    },
    Case {
        name: "facebook",
        channel: "company-facebook",
        network: Network::Facebook,
        toml: "[channels.company-facebook]\nnetwork = \"facebook\"\npage_id = \"104857600123\"\n\
               cadence = [\"daily 09:00\"]\naccess_token = \"env:FB_PAGE_TOKEN\"\n",
        posts: 10_000,
    },
];

fn t0() -> Timestamp {
    "2026-11-02T08:00:00Z".parse().unwrap()
}

fn publisher(case: &Case, uri: &str, clock: Arc<dyn Clock>) -> Arc<dyn Publisher> {
    match case.network {
        Network::X => {
            let mut x = crieur_net_x::XPublisherConfig::new(
                case.channel,
                crieur_net_x::XAuth::Static("tok".to_owned().into()),
            );
            x.api_base = uri.to_owned();
            x.clock = clock;
            x.http.timeout = Duration::from_secs(30);
            Arc::new(crieur_net_x::XPublisher::new(x).unwrap())
        }
        _ => {
            let token = crieur_net_facebook::PageToken::Static("tok".to_owned().into());
            let mut c = crieur_net_facebook::FacebookPublisherConfig::new(
                case.channel,
                "104857600123",
                token,
            );
            c.api_base = uri.to_owned();
            c.clock = clock;
            c.http.timeout = Duration::from_secs(30);
            Arc::new(crieur_net_facebook::FacebookPublisher::new(c).unwrap())
        }
    }
}

/// A fresh store with `case.posts` posts published a day before the lane's clock.
async fn ready(case: &Case, uri: &str) -> (tempfile::TempDir, MetricsLane) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://crieur.db\"\n\n{}",
        case.toml
    );
    std::fs::write(dir.path().join("crieur.toml"), text).unwrap();
    let config = crieur_config::load_config(&dir.path().join("crieur.toml")).unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let options = crieur_store::OpenOptions { clock: clock.clone(), ..Default::default() };
    let store = crieur_store::open(&config.storage.url, options).await.unwrap();
    let desired: Vec<DesiredDelivery> = (0..case.posts)
        .map(|i| DesiredDelivery {
            id: format!("p{i}:{}:0", case.channel),
            post: format!("p{i}"),
            channel: case.channel.into(),
            item: 0,
            network: case.network,
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
    let claimed =
        store.claim_due("me", t0(), SignedDuration::from_mins(5), case.posts).await.unwrap();
    let done: Vec<Completion> = claimed
        .iter()
        .map(|c| {
            let n = c.delivery.post.trim_start_matches('p');
            let remote_id = match case.network {
                Network::X => n.to_owned(),
                _ => format!("104857600123_{n}"),
            };
            Completion {
                id: c.delivery.id.clone(),
                attempt: c.delivery.attempt,
                outcome: Outcome::Published { remote_id, url: None },
            }
        })
        .collect();
    store.complete_many("me", &done, t0(), &RetryPolicy::default()).await.unwrap();
    let clock_dyn: Arc<dyn Clock> = clock.clone();
    let publishers: HashMap<String, Arc<dyn Publisher>> =
        [(case.channel.to_owned(), publisher(case, uri, clock_dyn.clone()))].into_iter().collect();
    let lane = MetricsLane::new(store, &config, &publishers, clock_dyn);
    clock.set(t0() + SignedDuration::from_hours(24));
    (dir, lane)
}

fn bench(c: &mut Criterion) {
    crieur_net_http::install_crypto_provider();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut g = c.benchmark_group("metrics sweep");
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_millis(1));
    for case in &CASES {
        let server = rt.block_on(async {
            let server = MockServer::builder().disable_request_recording().start().await;
            let mock = Mock::given(wiremock::matchers::any());
            match case.network {
                Network::X => mock.respond_with(XFigures).mount(&server).await,
                _ => mock.respond_with(FacebookFigures).mount(&server).await,
            }
            server
        });
        let uri = server.uri();
        g.bench_function(format!("{} {} posts", case.name, case.posts), |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let (_dir, lane) = rt.block_on(ready(case, &uri));
                    let started = Instant::now();
                    let sweep = rt.block_on(lane.sweep());
                    took += started.elapsed();
                    assert_eq!((sweep.snapshots, sweep.failed), (case.posts as u64, 0));
                }
                took
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
