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

    // A webhook channel has no figures to read: a refresh reads nothing and reports as before.
    let out = project.run(&["report", "--weeks", "1", "--format", "json", "--refresh"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("refreshed: 0 snapshots in 0 reads"));
    let again: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(again["channels"], json["channels"]);

    let out = project.run(&["report", "--channel", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("unknown channel \"nope\""), "{}", common::stderr(&out));
}
