//! `crieur report` through the real binary, on what a real daemon published to a loopback
//! receiver: the counts, the lateness and the posts, as JSON and as CSV.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::harness::{self, Project, fixed_post, webhook_channels};
use super::receiver::{Answer, Receiver};
use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_counts_what_the_daemon_published_and_what_was_refused() {
    let rx = Receiver::start(&harness::secret()).await;
    rx.set(|r| if r.post == "refused" { Answer::status(400) } else { Answer::OK });
    // One slot a day at midnight: a window of one week back from now holds exactly 7 of them,
    // all left empty (the posts below have fixed times).
    let channels = webhook_channels(&rx, &["blog"], "daily 00:00");
    let mut config = harness::config("sqlite://crieur.db", harness::QUEUE, &channels);
    config.push_str("\n[policy]\nmix = { hr = 0.5 }\n");
    let project = Project::new(&config);
    let start = Timestamp::now();
    let at = |s: i64| start + SignedDuration::from_secs(s);
    let mut posts =
        fixed_post("first", "blog", at(2)).replace("text =", "category = \"hr\"\ntext =");
    posts.push_str(&fixed_post("second", "blog", at(3)));
    posts.push_str(&fixed_post("refused", "blog", at(3)));
    project.write("posts/queue.toml", &posts);

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = harness::wait_status(&project, Duration::from_secs(20), |rows| {
        rows.values().filter(|r| r["state"] == "published" || r["state"] == "failed").count() == 3
    })
    .await;
    daemon.terminate(Duration::from_secs(10)).await;
    assert_eq!(rows["refused@blog"]["state"], "failed", "{rows:?}\n{}", daemon.log());

    let out = project.run(&["report", "--weeks", "1", "--format", "json"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    let blog = &json["channels"][0];
    assert_eq!(blog["channel"], "blog");
    assert_eq!(blog["network"], "webhook");
    assert_eq!(blog["published"], 2, "{json:#}");
    assert_eq!(blog["failed"], 1);
    assert_eq!(blog["skipped"], 7);
    assert_eq!(blog["slots"], 10);
    let late = blog["late_p50_s"].as_f64().unwrap();
    assert!((0.0..2.0).contains(&late), "median lateness {late} s");
    assert!(blog["longest_silence_h"].as_f64().unwrap() > 24.0 * 6.0);
    let mix = &json["mix"].as_array().unwrap()[0];
    assert_eq!((mix["category"].as_str(), mix["share"].as_f64()), (Some("hr"), Some(0.5)));
    assert_eq!(mix["target"], 0.5);
    let posts = json["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 3);
    let first = posts.iter().find(|p| p["post"] == "first").unwrap();
    assert_eq!(first["category"], "hr");
    assert_eq!(first["state"], "published");
    assert!(first["url"].as_str().is_some_and(|u| u.starts_with("http://127.0.0.1")), "{first}");
    assert_eq!(first["metrics"], serde_json::Value::Null, "no snapshot taken yet");

    let out = project.run(&["report", "--weeks", "1", "--format", "csv"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let csv = common::stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("post,channel,network,category,campaign,at,state"), "{csv}");
    assert_eq!(lines.len(), 4, "a header and one line per post: {csv}");
    assert!(
        lines.iter().any(|l| l.starts_with("refused,blog,webhook,,,") && l.contains(",failed,"))
    );

    // No snapshot is due a moment after publication (the first is a day later): a refresh reads
    // nothing and reports as before.
    let out = project.run(&["report", "--weeks", "1", "--format", "json", "--refresh"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("refreshed: 0 snapshots in 0 reads"));
    let again: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(again["channels"], json["channels"]);

    let out = project.run(&["report", "--channel", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("unknown channel \"nope\""), "{}", common::stderr(&out));
}

/// The figures strict mocks of Mastodon, Bluesky, LinkedIn (a Page) and a webhook receiver
/// answer for what the real daemon published there, read by `crieur report --refresh` through
/// the real adapters, and shown by `report` (JSON, table) and `status` (JSON, table).
mod figures {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use wiremock::{Request, Respond, ResponseTemplate};

    /// Requests a mock refused, as `network: what`; each test asserts none.
    pub type Problems = Arc<Mutex<Vec<String>>>;

    fn refuse(problems: &Problems, network: &str, what: String, status: u16) -> ResponseTemplate {
        problems.lock().unwrap().push(format!("{network}: {what}"));
        ResponseTemplate::new(status).set_body_json(json!({"error": what}))
    }

    fn bearer(req: &Request) -> Option<&str> {
        req.headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")
    }

    pub const MASTODON_TOKEN: &str = "mastodon-report-token";

    /// Mastodon: the instance document, statuses created as `1101`, and each status read alone
    /// with the token, nothing else.
    #[derive(Clone)]
    pub struct Mastodon(pub Problems);

    impl Respond for Mastodon {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let path = req.url.path();
            if path == "/api/v2/instance" {
                return ResponseTemplate::new(200).set_body_json(
                    json!({"domain": "social.example",
                    "configuration": {"statuses": {"max_characters": 500,
                    "max_media_attachments": 4, "characters_reserved_per_url": 23}}}),
                );
            }
            if bearer(req) != Some(MASTODON_TOKEN) {
                return refuse(&self.0, "mastodon", format!("{path} without the token"), 401);
            }
            match (req.method.as_str(), path) {
                ("POST", "/api/v1/statuses") => ResponseTemplate::new(200).set_body_json(json!({
                    "id": "1101", "url": "https://social.example/@acme/1101",
                    "uri": "https://social.example/users/acme/statuses/1101"})),
                ("GET", "/api/v1/statuses/1101") if req.url.query().is_none() => {
                    ResponseTemplate::new(200)
                        .insert_header("x-ratelimit-remaining", "290")
                        .insert_header("x-ratelimit-reset", "2099-01-01T00:00:00.000Z")
                        .set_body_json(json!({"id": "1101", "replies_count": 2,
                            "reblogs_count": 3, "favourites_count": 12}))
                }
                (m, p) => refuse(&self.0, "mastodon", format!("unexpected {m} {p}"), 404),
            }
        }
    }

    pub const DID: &str = "did:plc:crieurreport";
    pub const BSKY_PASSWORD: &str = "abcd-efgh-ijkl-mnop";

    /// Bluesky: a login, a record created, and `getPosts` with the session's token and only
    /// `uris` (1 to 25 of them).
    #[derive(Clone)]
    pub struct Bluesky {
        pub problems: Problems,
        pub access: Arc<Mutex<String>>,
        pub records: Arc<Mutex<Vec<String>>>,
    }

    impl Respond for Bluesky {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            use base64::Engine as _;
            let method = req.url.path().trim_start_matches("/xrpc/").to_owned();
            if method == "com.atproto.server.createSession" {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                if body["password"] != BSKY_PASSWORD {
                    return refuse(&self.problems, "bluesky", "bad login".into(), 401);
                }
                let e = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
                let exp = jiff::Timestamp::now().as_second() + 7200;
                let n = self.records.lock().unwrap().len();
                let access = format!(
                    "{}.{}.s{n}",
                    e("{}".into()),
                    e(format!(r#"{{"sub":"{DID}","exp":{exp}}}"#))
                );
                access.clone_into(&mut self.access.lock().unwrap());
                return ResponseTemplate::new(200).set_body_json(json!({"accessJwt": access,
                    "refreshJwt": "refresh", "did": DID, "handle": "acme.test"}));
            }
            if bearer(req) != Some(self.access.lock().unwrap().as_str()) {
                return refuse(
                    &self.problems,
                    "bluesky",
                    format!("{method} without the token"),
                    401,
                );
            }
            match method.as_str() {
                "com.atproto.repo.createRecord" => {
                    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                    let rkey = body["rkey"].as_str().unwrap_or_default().to_owned();
                    let uri = format!("at://{DID}/app.bsky.feed.post/{rkey}");
                    self.records.lock().unwrap().push(uri.clone());
                    ResponseTemplate::new(200).set_body_json(json!({"uri": uri, "cid": "bafyr1"}))
                }
                "app.bsky.feed.getPosts" => {
                    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
                    if pairs.is_empty()
                        || pairs.len() > 25
                        || pairs.iter().any(|(k, _)| k != "uris")
                    {
                        return refuse(
                            &self.problems,
                            "bluesky",
                            format!("getPosts {pairs:?}"),
                            400,
                        );
                    }
                    let known = self.records.lock().unwrap().clone();
                    let posts: Vec<Value> = pairs
                        .iter()
                        .filter(|(_, u)| known.contains(u))
                        .map(|(_, u)| {
                            json!({"uri": u, "cid": "bafyr1", "likeCount": 30,
                            "repostCount": 4, "replyCount": 5, "quoteCount": 1})
                        })
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({ "posts": posts }))
                }
                other => refuse(&self.problems, "bluesky", format!("unexpected {other}"), 404),
            }
        }
    }

    /// A blog receiver: every request signed (checked with the reference crate); a
    /// `post.published` is answered `{"id": "blog-1", "url"}`, a `crieur.metrics` for `blog-1`
    /// with figures (impressions and likes only).
    #[derive(Clone)]
    pub struct Blog {
        pub problems: Problems,
        pub secret: String,
        pub metrics_asked: Arc<Mutex<Vec<Value>>>,
    }

    impl Respond for Blog {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let verified = standardwebhooks::Webhook::new(&self.secret)
                .unwrap()
                .verify(&req.body, &req.headers);
            if verified.is_err() || req.method.as_str() != "POST" {
                return refuse(&self.problems, "blog", "unsigned or not a POST".into(), 401);
            }
            let event: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            match event["type"].as_str() {
                Some("post.published") => ResponseTemplate::new(200)
                    .set_body_json(json!({"id": "blog-1", "url": "https://blog.example.com/1"})),
                Some("crieur.metrics") if event["data"]["id"] == "blog-1" => {
                    self.metrics_asked.lock().unwrap().push(event);
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"likes": 5, "impressions": 240, "clicks": null}))
                }
                _ => refuse(&self.problems, "blog", format!("unexpected {event}"), 400),
            }
        }
    }

    pub const LINKEDIN_TOKEN: &str = "linkedin-report-token";
    pub const SHARE: &str = "urn:li:share:7300000000000000001";

    /// LinkedIn: a post created as [`SHARE`], and its Page statistics read with the version
    /// headers and the exact Rest.li query.
    #[derive(Clone)]
    pub struct Linkedin(pub Problems);

    impl Respond for Linkedin {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let h = |k: &str| req.headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
            if bearer(req) != Some(LINKEDIN_TOKEN)
                || h("x-restli-protocol-version") != "2.0.0"
                || h("linkedin-version").len() != 6
            {
                return refuse(&self.0, "linkedin", "token or headers".into(), 401);
            }
            let query = req.url.query().unwrap_or("");
            match (req.method.as_str(), req.url.path()) {
                ("POST", "/rest/posts") => {
                    ResponseTemplate::new(201).insert_header("x-restli-id", SHARE)
                }
                ("GET", "/rest/organizationalEntityShareStatistics")
                    if query
                        == "q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A2414183\
                            &shares=List(urn%3Ali%3Ashare%3A7300000000000000001)" =>
                {
                    ResponseTemplate::new(200).set_body_json(json!({"elements": [{
                        "organizationalEntity": "urn:li:organization:2414183", "share": SHARE,
                        "totalShareStatistics": {"impressionCount": 1830, "clickCount": 41,
                            "likeCount": 7, "commentCount": 1, "shareCount": 2,
                            "uniqueImpressionsCount": 1500, "engagement": 0.03}}]}))
                }
                (m, p) => refuse(&self.0, "linkedin", format!("unexpected {m} {p}?{query}"), 400),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_and_status_show_each_network_s_figures_and_null_where_it_gives_none() {
    use wiremock::{Mock, MockServer};

    let problems: figures::Problems = Default::default();
    let (mastodon, bluesky, linkedin) =
        (MockServer::start().await, MockServer::start().await, MockServer::start().await);
    Mock::given(wiremock::matchers::any())
        .respond_with(figures::Mastodon(problems.clone()))
        .mount(&mastodon)
        .await;
    let sky = figures::Bluesky {
        problems: problems.clone(),
        access: Default::default(),
        records: Default::default(),
    };
    Mock::given(wiremock::matchers::any()).respond_with(sky.clone()).mount(&bluesky).await;
    Mock::given(wiremock::matchers::any())
        .respond_with(figures::Linkedin(problems.clone()))
        .mount(&linkedin)
        .await;
    let blog = MockServer::start().await;
    let receiver = figures::Blog {
        problems: problems.clone(),
        secret: harness::secret(),
        metrics_asked: Default::default(),
    };
    Mock::given(wiremock::matchers::any()).respond_with(receiver.clone()).mount(&blog).await;

    let channels = format!(
        "\n[channels.blog]\nnetwork = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"env:BLOG_SECRET\"\n\
         allow_private = true\ncadence = [\"daily 00:00\"]\n\
         \n[channels.fedi]\nnetwork = \"mastodon\"\ninstance = \"{}\"\n\
         access_token = \"env:MASTODON_TOKEN\"\ncadence = [\"daily 00:00\"]\n\
         \n[channels.sky]\nnetwork = \"bluesky\"\nhandle = \"acme.test\"\n\
         app_password = \"env:BSKY_APP_PASSWORD\"\nservice = \"{}\"\ncadence = [\"daily 00:00\"]\n\
         \n[channels.page]\nnetwork = \"linkedin\"\nauthor = \"urn:li:organization:2414183\"\n\
         access_token = \"env:LINKEDIN_TOKEN\"\napi_base = \"{}\"\ncadence = [\"daily 00:00\"]\n",
        blog.uri(),
        mastodon.uri(),
        bluesky.uri(),
        linkedin.uri()
    );
    let storage = "sqlite://crieur.db\"\nkey = \"env:CRIEUR_KEY";
    let mut config = harness::config(storage, harness::QUEUE, &channels);
    config.push_str("\n[metrics]\nafter = [\"0s\"]\n");
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let project = Project::new(&config)
        .with_env("MASTODON_TOKEN", figures::MASTODON_TOKEN)
        .with_env("BSKY_APP_PASSWORD", figures::BSKY_PASSWORD)
        .with_env("LINKEDIN_TOKEN", figures::LINKEDIN_TOKEN)
        .with_env("CRIEUR_KEY", &key);
    let at = Timestamp::now() + SignedDuration::from_secs(2);
    let mut posts = String::new();
    for (post, channel) in
        [("on-blog", "blog"), ("on-fedi", "fedi"), ("on-sky", "sky"), ("on-page", "page")]
    {
        posts.push_str(&fixed_post(post, channel, at));
    }
    project.write("posts/queue.toml", &posts);

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = harness::wait_status(&project, Duration::from_secs(30), |rows| {
        rows.values().filter(|r| r["state"] == "published").count() == 4
    })
    .await;
    daemon.terminate(Duration::from_secs(10)).await;
    assert_eq!(
        rows.values().filter(|r| r["state"] == "published").count(),
        4,
        "{rows:#?}\n{}",
        daemon.log()
    );

    let out = project.run(&["report", "--weeks", "1", "--format", "json", "--refresh"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("refreshed: 4 snapshots in 4 reads (0 posts"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(*problems.lock().unwrap(), Vec::<String>::new(), "the mocks refused requests");
    let json: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    let metrics = |post: &str| {
        let p = json["posts"].as_array().unwrap().iter().find(|p| p["post"] == post).unwrap();
        let mut m = p["metrics"].clone();
        assert!(m["fetched_at"].is_string(), "{p}");
        m.as_object_mut().unwrap().remove("fetched_at");
        m
    };
    let null = serde_json::Value::Null;
    let figures = |l: u64, rp: u64, rl: u64, q: serde_json::Value, i: serde_json::Value, c| {
        serde_json::json!({"likes": l, "reposts": rp, "replies": rl, "quotes": q,
                           "impressions": i, "clicks": c})
    };
    assert_eq!(metrics("on-fedi"), figures(12, 3, 2, null.clone(), null.clone(), null.clone()));
    assert_eq!(metrics("on-sky"), figures(30, 4, 5, 1.into(), null.clone(), null.clone()));
    assert_eq!(metrics("on-page"), figures(7, 2, 1, null.clone(), 1830.into(), 41.into()));
    assert_eq!(
        metrics("on-blog"),
        serde_json::json!({"likes": 5, "reposts": null, "replies": null, "quotes": null,
                           "impressions": 240, "clicks": null})
    );
    let asked = receiver.metrics_asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["data"]["url"], "https://blog.example.com/1");

    // The table shows the figures, `-` where the network gives none (never 0).
    let out = project.run(&["report", "--weeks", "1"]).await;
    let table = common::stdout(&out);
    println!("{table}");
    let line = |post: &str| table.lines().find(|l| l.contains(post)).unwrap().to_owned();
    let cells = |post: &str| -> Vec<String> {
        line(post).split_whitespace().rev().take(5).map(str::to_owned).collect()
    };
    assert_eq!(cells("on-fedi"), ["-", "-", "2", "3", "12"], "{table}");
    assert_eq!(cells("on-page"), ["41", "1830", "1", "2", "7"], "{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");

    // `status`: the latest figures of each post, in JSON and under the post in the table.
    let status = project.status().await;
    let fedi = status["posts"].as_array().unwrap().iter().find(|p| p["post"] == "on-fedi").unwrap();
    assert_eq!(fedi["metrics"]["likes"], 12);
    assert_eq!(fedi["metrics"]["impressions"], null);
    let out = project.run(&["status"]).await;
    let table = common::stdout(&out);
    assert!(
        table.contains("likes 30 · reposts 4 · replies 5 · quotes 1 · impressions - · clicks -"),
        "{table}"
    );
}
