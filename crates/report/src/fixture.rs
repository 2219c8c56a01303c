//! A project with a known history, shared by the tests of the report: a config with two channels,
//! post files with categories, and a real SQLite store in which every delivery went through the
//! store's own claims and outcomes at the instants written below (Europe/Paris, UTC+1 in November).
//!
//! The window is Mon 2026-11-02 to Mon 2026-11-16, read on 2026-11-20. By hand:
//! - `blog` (webhook, Mon,Wed,Fri 09:00, six slots in the window): `before` published on Oct 30
//!   (outside); `p1` Nov 2 published 2 s late; `p2` Nov 4 published 10 s late; `p3` Nov 6 failed;
//!   Nov 9 left empty (skipped); `p4` Nov 11 published 4 s late; `p5` Nov 13 cancelled. So 6 slots:
//!   3 published, 1 failed, 1 skipped, 1 cancelled; median lateness 4 s; the longest silence
//!   Nov 4 09:00:10 to Nov 11 09:00:04, 168 h less 6 s (167.998 h, printed 168.0), above the
//!   `max_silence` of 5 days.
//! - `company-x` (x, Tue 10:00): `p1` Nov 3 published 1 s late, with its thread reply (not a slot);
//!   `p6` Nov 10 unknown; `p7` a fixed time Thu Nov 12 15:00, still queued. So 3 slots: 1
//!   published, 1 unknown, 1 pending, none skipped; the longest silence from Nov 3 10:00:01 to the
//!   window's end, 302 h less 1 s.
//! - Mix: the posts published in the window are p1 (hr, on both channels, counted once), p2
//!   (expertise) and p4 (hr): hr 2/3, expertise 1/3 below its 50% target, news 0 below its 20%.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crieur_config::Config;
use crieur_core::engagement::{Metrics, Snapshot};
use crieur_core::store::{DesiredDelivery, RetryPolicy, StatusRow};
use crieur_core::{Network, Outcome, Post, RejectKind};
use crieur_store::OpenOptions;
use jiff::{SignedDuration, Timestamp};

use crate::{Input, Report, Window};

/// Local Paris time in November (UTC+1) to an instant.
pub fn paris(local: &str) -> Timestamp {
    format!("{local}+01:00").parse().expect("a test instant")
}

pub struct Fixture {
    /// Holds the project's folder until the fixture is dropped.
    pub _dir: tempfile::TempDir,
    pub config: Config,
    pub posts: Vec<Post>,
    pub deliveries: Vec<StatusRow>,
}

const CONFIG: &str = r#"timezone = "Europe/Paris"

[storage]
url = "sqlite://crieur.db"

[queue]
files = ["posts/*.toml"]

[channels.blog]
network = "webhook"
url = "https://blog.example.com/hooks/crieur"
secret = "env:BLOG_SECRET"
cadence = ["Mon,Wed,Fri 09:00"]

[channels.company-x]
network = "x"
cadence = ["Tue 10:00"]
client_id = "Y3JpZXVy"
access_token = "env:X_ACCESS_TOKEN"

[policy]
max_silence = "5d"
mix = { hr = 0.10, expertise = 0.50, news = 0.20 }
"#;

const POSTS: &str = r#"[[post]]
id = "before"
channels = ["blog"]
category = "news"
text = "Before the window"

[[post]]
id = "p1"
channels = ["blog", "company-x"]
category = "hr"
campaign = "careers"
text = "Welcome to Lyon"

[[post]]
id = "p2"
channels = ["blog"]
category = "expertise"
text = "Data contracts"

[[post]]
id = "p3"
channels = ["blog"]
category = "expertise"
text = "Refused"

[[post]]
id = "p4"
channels = ["blog"]
category = "hr"
campaign = "careers"
text = "Six new faces"

[[post]]
id = "p5"
channels = ["blog"]
category = "news"
text = "Cancelled"

[[post]]
id = "p6"
channels = ["company-x"]
category = "news"
text = "Unknown outcome"

[[post]]
id = "p7"
channels = ["company-x"]
text = "Still waiting"
"#;

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn desired(post: &str, channel: &str, item: u32, due: &str) -> DesiredDelivery {
    let network = if channel == "blog" { Network::Webhook } else { Network::X };
    DesiredDelivery {
        id: format!("{post}:{channel}:{item}"),
        post: post.to_owned(),
        channel: channel.to_owned(),
        item,
        network,
        due_at: paris(due),
        text: format!("{post} {item}"),
        link: None,
        category: None,
        article: None,
        media: Vec::new(),
        options: Default::default(),
    }
}

/// What happens to each claimed delivery, in due order.
enum Then {
    Published(i64),
    Rejected,
    Unknown,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path().join("crieur.toml"), CONFIG);
        write(dir.path().join("posts/a.toml"), POSTS);
        let key = dir.path().join("key");
        write(key.clone(), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = crieur_config::load_config(&dir.path().join("crieur.toml")).unwrap();
        let posts = crieur_config::load_posts(&config).unwrap();
        let store = crieur_store::open(&config.storage.url, OpenOptions::default()).await.unwrap();

        let all = vec![
            desired("before", "blog", 0, "2026-10-30T09:00:00"),
            desired("p1", "blog", 0, "2026-11-02T09:00:00"),
            desired("p1", "company-x", 0, "2026-11-03T10:00:00"),
            desired("p1", "company-x", 1, "2026-11-03T10:00:00"),
            desired("p2", "blog", 0, "2026-11-04T09:00:00"),
            desired("p3", "blog", 0, "2026-11-06T09:00:00"),
            desired("p6", "company-x", 0, "2026-11-10T10:00:00"),
            desired("p4", "blog", 0, "2026-11-11T09:00:00"),
            desired("p7", "company-x", 0, "2026-11-12T15:00:00"),
            desired("p5", "blog", 0, "2026-11-13T09:00:00"),
        ];
        store.sync(&all, paris("2026-10-01T00:00:00")).await.unwrap();
        let steps: [(&str, &str, Then); 7] = [
            ("before:blog:0", "2026-10-30T09:00:00", Then::Published(3)),
            ("p1:blog:0", "2026-11-02T09:00:00", Then::Published(2)),
            ("p1:company-x:0", "2026-11-03T10:00:00", Then::Published(1)),
            ("p1:company-x:1", "2026-11-03T10:00:01", Then::Published(1)),
            ("p2:blog:0", "2026-11-04T09:00:00", Then::Published(10)),
            ("p3:blog:0", "2026-11-06T09:00:00", Then::Rejected),
            ("p6:company-x:0", "2026-11-10T10:00:00", Then::Unknown),
        ];
        let policy = RetryPolicy::default();
        let lease = SignedDuration::from_mins(5);
        let run = |id: &'static str, due: &'static str, then: Then| {
            let store = store.clone();
            async move {
                let late = match then {
                    Then::Published(s) => s,
                    _ => 0,
                };
                let at = paris(due) + SignedDuration::from_secs(late);
                let claimed = store.claim_due("test", at, lease, 1).await.unwrap();
                assert_eq!(claimed.len(), 1, "{id} is claimed at {at}");
                let c = &claimed[0];
                assert_eq!(c.delivery.id, id);
                let outcome = match then {
                    Then::Published(_) => Outcome::Published {
                        remote_id: format!("r-{id}"),
                        url: Some(format!("https://example.com/{id}")),
                    },
                    Then::Rejected => Outcome::Rejected {
                        kind: RejectKind::Invalid,
                        reason: "refused".to_owned(),
                    },
                    Then::Unknown => Outcome::Unknown { reason: "timeout".to_owned() },
                };
                store
                    .complete("test", id, c.delivery.attempt, &outcome, at, &policy)
                    .await
                    .unwrap();
            }
        };
        for (id, due, then) in steps {
            run(id, due, then).await;
        }
        // p4, after p6 (unknown, not claimable) and before p7's time.
        run("p4:blog:0", "2026-11-11T09:00:00", Then::Published(4)).await;
        // p5 leaves the files: cancelled.
        let kept: Vec<DesiredDelivery> = all.into_iter().filter(|d| d.post != "p5").collect();
        store.sync(&kept, paris("2026-11-12T00:00:00")).await.unwrap();
        let deliveries = store.status().await.unwrap().deliveries;
        store.close().await;
        Fixture { _dir: dir, config, posts, deliveries }
    }

    pub fn window(&self) -> Window {
        Window::new(
            &self.config.timezone,
            Some(jiff::civil::date(2026, 11, 2)),
            Some(jiff::civil::date(2026, 11, 16)),
            None,
            self.now(),
        )
        .unwrap()
    }

    pub fn now(&self) -> Timestamp {
        paris("2026-11-20T12:00:00")
    }

    pub fn report(&self, metrics: &BTreeMap<String, Snapshot>, channels: &[String]) -> Report {
        let window = self.window();
        crate::build(&Input {
            config: &self.config,
            posts: &self.posts,
            deliveries: &self.deliveries,
            metrics,
            window: &window,
            channels,
            now: self.now(),
        })
        .unwrap()
    }
}

/// Snapshots for p1 on both channels: X gives no clicks on it, the blog gives likes only.
pub fn some_metrics() -> BTreeMap<String, Snapshot> {
    let at = paris("2026-11-10T10:00:00");
    let x = Metrics {
        likes: Some(12),
        reposts: Some(3),
        replies: Some(2),
        quotes: Some(0),
        impressions: Some(1830),
        clicks: None,
    };
    let blog = Metrics { likes: Some(5), ..Metrics::default() };
    [
        Snapshot {
            delivery: "p1:company-x:0".into(),
            after: SignedDuration::from_hours(168),
            fetched_at: at,
            metrics: x,
        },
        Snapshot {
            delivery: "p1:blog:0".into(),
            after: SignedDuration::from_hours(168),
            fetched_at: at,
            metrics: blog,
        },
    ]
    .into_iter()
    .map(|s| (s.delivery.clone(), s))
    .collect()
}
