//! Delivery on time, the status document, the instance lock, and systemd notifications.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::harness::{self, Project, fixed_post, in_secs, queued_post, webhook_channels};
use super::receiver::Receiver;
use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_posts_are_received_once_signed_and_shown_published() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog-a", "blog-b"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    let start = Timestamp::now();
    let mut posts = String::new();
    let mut due = std::collections::HashMap::new();
    for i in 0..6 {
        let channel = if i % 2 == 0 { "blog-a" } else { "blog-b" };
        let at = Timestamp::from_second((start + SignedDuration::from_secs(3 + i / 2)).as_second())
            .unwrap();
        posts.push_str(&fixed_post(&format!("p{i}"), channel, at));
        due.insert(format!("p{i}"), at);
    }
    // Not due: it waits for blog-a's next Monday 08:00 slot.
    posts.push_str(&queued_post("later", &["blog-a"]));
    project.write("posts/queue.toml", &posts);

    let mut daemon = project.spawn(&[]);
    let ready = daemon.ready(Duration::from_secs(10)).await;
    assert!(
        rx.wait_for(Duration::from_secs(15), |r| r.len() >= 6).await,
        "6 posts received; got {:?}\n{}",
        rx.requests().len(),
        daemon.log()
    );
    // Nothing more comes (no duplicate, the queued post stays queued).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), 6, "{per_id:?}");
    assert!(per_id.values().all(|n| *n == 1), "each received once: {per_id:?}");
    let mut lateness = Vec::new();
    for r in rx.requests() {
        let at = due[&r.post];
        let late = at.duration_until(r.wall);
        assert!(
            late >= SignedDuration::from_millis(-20),
            "{} sent {late:?} before its time",
            r.post
        );
        assert!(
            late < SignedDuration::from_millis(1500),
            "{} sent {late:?} after its time",
            r.post
        );
        // The signed timestamp is the daemon's clock at the attempt.
        assert!((r.timestamp - r.wall.as_second()).abs() <= 1, "webhook-timestamp {}", r.timestamp);
        assert_eq!(r.body["type"], "post.published");
        assert_eq!(
            r.body["data"]["text"],
            format!("Notes from the team, part {}. What would you add?", r.post)
        );
        lateness.push(late.as_millis());
    }
    lateness.sort();
    println!("ready in {ready:?}; lateness after the slot (ms): {lateness:?}");

    let status = project.status().await;
    let posts = status["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 7, "{status:#}");
    for p in posts {
        for key in ["post", "channel", "state", "at", "remote_id", "url", "attempts", "error"] {
            assert!(p.get(key).is_some(), "key {key} in {p}");
        }
        let post = p["post"].as_str().unwrap();
        let channel = p["channel"].as_str().unwrap();
        if post == "later" {
            assert_eq!(p["state"], "queued", "{p}");
            assert!(p["at"].as_str().unwrap().ends_with("T08:00:00+01:00"), "{p}");
            assert!(p["url"].is_null() && p["remote_id"].is_null(), "{p}");
            continue;
        }
        assert_eq!(p["state"], "published", "{p}");
        assert_eq!(p["url"], rx.post_url(post, channel), "{p}");
        assert!(p["remote_id"].as_str().unwrap().starts_with('r'), "{p}");
        assert_eq!(p["attempts"], 1, "{p}");
        assert!(p["error"].is_null(), "{p}");
        let at: Timestamp = p["at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, due[post], "{p}");
        assert!(p["at"].as_str().unwrap().ends_with("+01:00"), "Paris offset in November: {p}");
    }
    let channels = status["channels"].as_array().unwrap();
    let names: Vec<&str> = channels.iter().map(|c| c["channel"].as_str().unwrap()).collect();
    assert_eq!(names, ["blog-a", "blog-b"]);
    assert!(channels.iter().all(|c| c.get("token_expires_at").is_some_and(|t| t.is_null())));

    daemon.signal("TERM");
    let exit = daemon.exit(Duration::from_secs(10)).await;
    let exit = exit.unwrap_or_else(|| panic!("no exit 10 s after SIGTERM:\n{}", daemon.log()));
    assert_eq!(exit.code(), Some(0), "{}", daemon.log());
    assert_eq!(rx.requests().len(), 6);
}
