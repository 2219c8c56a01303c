//! Delivery on time, the status document, the instance lock, and systemd notifications.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::harness::{self, Project, fixed_post, queued_post, webhook_channels};
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
            late < SignedDuration::from_millis(2000),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_sqlite_file_refuses_to_start() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project =
        Project::new(&harness::config("sqlite://data/crieur.db", harness::QUEUE, &channels));
    project.write("posts/queue.toml", &queued_post("waiting", &["blog"]));
    let mut first = project.spawn(&[]);
    first.ready(Duration::from_secs(10)).await;

    let started = Instant::now();
    let mut second = project.spawn(&[]);
    let exit = second.exit(Duration::from_secs(10)).await.expect("the second instance stops");
    let log = second.log();
    assert_eq!(exit.code(), Some(2), "{log}");
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once: {:?}", started.elapsed());
    let db = project.path().join("data/crieur.db");
    assert!(log.contains("another crieur instance is using"), "{log}");
    assert!(log.contains(&db.display().to_string()), "names the database: {log}");
    assert!(log.contains(&format!("pid {}", first.pid)), "names the holder of the lock: {log}");
    assert!(log.contains("PostgreSQL"), "says how to run several: {log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(first.exit(Duration::ZERO).await.is_none(), "the first instance runs on");

    // `--once` and `migrate` take the same lock.
    for args in [&["run", "--once"][..], &["migrate"][..]] {
        let out = project.run(args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(common::stderr(&out).contains("another crieur instance is using"), "{args:?}");
    }
    // Once the first stops, the file is free again.
    first.signal("TERM");
    assert_eq!(first.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    let mut third = project.spawn(&[]);
    third.ready(Duration::from_secs(10)).await;
    third.signal("TERM");
    assert_eq!(third.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
}

/// Datagrams received on a Unix socket, each with its arrival time.
pub(super) fn listen_notify(
    path: &std::path::Path,
) -> std::sync::mpsc::Receiver<(Instant, String)> {
    let socket = std::os::unix::net::UnixDatagram::bind(path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            if tx.send((Instant::now(), String::from_utf8_lossy(&buf[..n]).into_owned())).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_gets_ready_status_and_watchdog_pings_from_the_loop() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    project.write(
        "posts/queue.toml",
        &format!(
            "{}{}",
            queued_post("waiting", &["blog"]),
            fixed_post("soon", "blog", Timestamp::now() + SignedDuration::from_secs(2))
        ),
    );
    let socket = project.path().join("notify.sock");
    let messages = listen_notify(&socket);
    // The watchdog: 2 s, so systemd expects a ping at least every second.
    let mut daemon = project.spawn_with(&[], |cmd| {
        cmd.env("NOTIFY_SOCKET", &socket).env("WATCHDOG_USEC", "2000000");
    });
    daemon.ready(Duration::from_secs(10)).await;
    // Watch the loop for 5 s, across the post's send and the idle time after it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    let got: Vec<(Instant, String)> = messages.try_iter().collect();
    let lines: Vec<&str> = got.iter().flat_map(|(_, m)| m.lines()).collect();

    let ready = got.iter().position(|(_, m)| m.contains("READY=1")).expect("READY=1 sent");
    // READY=1 comes as soon as the first sync is done; the queue's summary follows in STATUS=.
    let statuses: Vec<&str> = got[ready..]
        .iter()
        .flat_map(|(_, m)| m.lines())
        .filter_map(|l| l.strip_prefix("STATUS="))
        .collect();
    let status = statuses
        .iter()
        .find(|s| s.starts_with("2 queued, next: blog at "))
        .unwrap_or_else(|| panic!("a STATUS= line with the queue after READY=1: {statuses:?}"));
    assert!(lines.contains(&"STOPPING=1"), "STOPPING=1 on SIGTERM: {lines:?}");
    assert_eq!(rx.requests().len(), 1, "the post due went out meanwhile");

    let pings: Vec<Instant> =
        got.iter().filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1")).map(|(t, _)| *t).collect();
    let gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    println!("READY=1 with STATUS={status:?}; {} watchdog pings, gaps {gaps:?}", pings.len());
    assert!(pings.len() >= 4, "a ping at least every second: {} pings in 5 s", pings.len());
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(900)),
        "at most one ping a second: {gaps:?}"
    );
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(1900)),
        "no gap reaches the 2 s watchdog: {gaps:?}"
    );
    let first_ping = pings[0] - got[ready].0;
    assert!(first_ping < Duration::from_secs(1), "first ping {first_ping:?} after READY=1");
}
