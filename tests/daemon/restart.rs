//! A crash is not the network's fault: after `kill -9` with requests in flight (and more claimed
//! but not yet sent), the restarted daemon reconciles and sends them again at once, under the
//! same `webhook-id`, instead of waiting out a retry backoff.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::harness::{self, Project, fixed_post, wait_status, webhook_channels};
use super::receiver::{Answer, Receiver};

/// Five channels, two posts each, all due now.
const CHANNELS: [&str; 5] = ["r0", "r1", "r2", "r3", "r4"];

/// Starts a daemon whose receiver holds every request, waits until one request per channel is in
/// flight (the second post of each channel is claimed and waits behind it), and kills it with
/// SIGKILL. Returns the project and the receiver, now answering 200 at once.
async fn crash_with_ten_in_flight() -> (Project, Receiver) {
    let rx = Receiver::start(&harness::secret()).await;
    rx.set(|_| Answer::Hold);
    let channels = webhook_channels(&rx, &CHANNELS, "Mon 08:00");
    // No test knob on the retry backoff: the default (15 minutes for the first retry) applies,
    // so a post that waited for it would fail the test.
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    let now = Timestamp::now();
    let posts: String =
        (0..10).map(|i| fixed_post(&format!("f{i}"), CHANNELS[i % 5], now)).collect();
    project.write("posts/queue.toml", &posts);
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    assert!(
        rx.wait_for(Duration::from_secs(10), |r| r.len() == CHANNELS.len()).await,
        "one request in flight per channel\n{}",
        daemon.log()
    );
    let rows = project.states().await;
    assert_eq!(rows.len(), 10);
    assert!(rows.values().all(|r| r["state"] == "publishing"), "all ten claimed: {rows:#?}");
    daemon.kill9();
    // The held handlers answer into connections the kernel closed with the killed process.
    rx.release();
    assert!(rx.wait_closed(Duration::from_secs(10)).await, "connections left open");
    rx.set(|_| Answer::OK);
    (project, rx)
}

/// Every post published, each stored once under its one `webhook-id`; the five interrupted
/// requests sent twice (once before the kill, once after), the five never started sent once.
async fn check_all_published_once(project: &Project, rx: &Receiver) {
    let rows = project.states().await;
    for (key, row) in &rows {
        assert_eq!(row["state"], "published", "{key}: {row:#}");
        let (post, channel) = key.split_once('@').unwrap();
        assert_eq!(row["url"], rx.post_url(post, channel), "{row}");
    }
    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), 10, "{per_id:?}");
    assert_eq!(rx.stored_count(), 10);
    let twice = per_id.values().filter(|n| **n == 2).count();
    let once = per_id.values().filter(|n| **n == 1).count();
    assert_eq!((twice, once), (5, 5), "{per_id:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_in_flight_at_a_crash_go_out_within_seconds_of_the_restart() {
    let (project, rx) = crash_with_ten_in_flight().await;
    let restarted = Instant::now();
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let all = rx.wait_for(Duration::from_secs(10), |_| rx.stored_count() == 10).await;
    let took = restarted.elapsed();
    assert!(all, "{} of 10 stored after the restart\n{}", rx.stored_count(), daemon.log());
    println!("the ten posts in flight at the crash were all published {took:?} after the restart");
    assert!(took < Duration::from_secs(5), "published {took:?} after the restart");
    wait_status(&project, Duration::from_secs(5), |rows| {
        rows.values().all(|r| r["state"] == "published")
    })
    .await;
    check_all_published_once(&project, &rx).await;
    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_after_a_crash_publishes_what_was_in_flight_and_exits_0() {
    let (project, rx) = crash_with_ten_in_flight().await;
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(30), project.run(&["run", "--once"]))
        .await
        .expect("run --once settles and exits");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", crate::common::stderr(&out));
    println!("run --once after the crash published the ten posts and exited in {took:?}");
    check_all_published_once(&project, &rx).await;
}
