//! `kill -9` while requests are in flight, and `crieur resolve` on what a crash leaves behind.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rand::{Rng as _, SeedableRng as _};

use super::harness::{self, Daemon, Project, fixed_post, wait_status, webhook_channels};
use super::receiver::{Answer, Receiver};
use crate::common;

/// The seed of a randomized test: `CRIEUR_TEST_SEED` when set (to replay a failure), else fresh.
fn seed() -> u64 {
    std::env::var("CRIEUR_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random)
}

/// The kill test does not kill while a delivery has used this many of its 8 attempts.
const SPARE_AT: u64 = 6;

/// One daemon's life: from spawn to SIGKILL.
struct Life {
    spawned: Instant,
    killed: Option<Instant>,
    /// webhook-ids in flight (arrived, not answered) when it was killed.
    in_flight: Vec<String>,
}

/// Publishes posts on three channels, each answered 250 ms late, while killing the daemon
/// `kills` times at random moments (each with at least one request in flight), then lets a last
/// daemon finish. Posts are added as files while it runs (nine at a time, due at once, whenever
/// fewer than nine are waiting), so there is work in flight however fast the machine is. Checks
/// that nothing was published twice or lost, and that every request in flight at a kill was
/// reconciled (sent again under the same `webhook-id`).
///
/// With `kill` false it is the control run: one daemon lives throughout, fed and paced the same
/// way (the same number of rounds, each waiting for a request in flight), so the lateness it
/// prints is what the test's own pace costs and the difference is what the crashes add.
async fn kill_and_restart(kills: usize, kill: bool) {
    let seed = seed();
    println!("seed {seed} (replay with CRIEUR_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let rx = Receiver::start(&harness::secret()).await;
    rx.set(|_| Answer::ok_after(Duration::from_millis(250)));
    let names = ["c0", "c1", "c2"];
    let channels = webhook_channels(&rx, &names, "Mon 08:00");
    // A delivery found not sent after a crash goes out again at once: no retry knob is needed.
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    let mut n = 0;
    let mut batches = 0;
    let mut due: HashMap<String, Timestamp> = HashMap::new();
    let mut feed = |project: &Project, rx: &Receiver| {
        if n - rx.stored_count() >= 9 {
            return;
        }
        let mut posts = String::new();
        for _ in 0..9 {
            let at = Timestamp::now();
            due.insert(format!("k{n}"), Timestamp::from_second(at.as_second()).unwrap());
            posts.push_str(&fixed_post(&format!("k{n}"), names[n % 3], at));
            n += 1;
        }
        project.write(&format!("posts/batch-{batches}.toml"), &posts);
        batches += 1;
    };

    let started = Instant::now();
    let mut lives: Vec<Life> = Vec::new();
    let mut idle_kills = 0;
    let mut interrupted: HashMap<String, usize> = HashMap::new();
    let mut steady: Option<Daemon> = None;
    if !kill {
        feed(&project, &rx);
        let mut daemon = project.spawn(&[]);
        daemon.ready(Duration::from_secs(10)).await;
        steady = Some(daemon);
    }
    for _ in 0..kills {
        feed(&project, &rx);
        if let Some(daemon) = &steady {
            // The control run: the same rounds and waits, without the kill and the restart.
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..700))).await;
            let deadline = Instant::now() + Duration::from_secs(5);
            while rx.in_flight_since(daemon.spawned) == 0 && Instant::now() < deadline {
                feed(&project, &rx);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            continue;
        }
        let mut daemon = project.spawn(&[]);
        daemon.ready(Duration::from_secs(10)).await;
        if let Some(prev) = lives.last()
            && !prev.in_flight.is_empty()
        {
            assert!(
                daemon.log().contains("were being sent when crieur last stopped"),
                "the restart reports the interrupted deliveries:\n{}",
                daemon.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..700))).await;
        // Kill with something in flight, but spare a delivery that used SPARE_AT of its 8
        // attempts: every claim cut short by a kill counts as an attempt (even one killed before
        // its request left), so a delivery that keeps crashing the daemon ends `failed` ("gave up
        // after 8 attempts") by design. Between the status read and the kill a claim adds at most
        // one attempt, so no delivery reaches 8.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            feed(&project, &rx);
            if rx.in_flight_since(daemon.spawned) > 0 {
                let spent = project
                    .states()
                    .await
                    .values()
                    .filter(|r| !matches!(r["state"].as_str(), Some("published" | "cancelled")))
                    .filter_map(|r| r["attempts"].as_u64())
                    .max()
                    .unwrap_or(0);
                if spent < SPARE_AT && rx.in_flight_since(daemon.spawned) > 0 {
                    break;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        daemon.kill9();
        let killed = Instant::now();
        // The killed process's connections are closed by its kernel; once the receiver has seen
        // them end it has read every request they carried, so no late one is taken for the next
        // process's.
        assert!(rx.wait_closed(Duration::from_secs(10)).await, "connections left open");
        let in_flight: Vec<String> = rx
            .requests()
            .into_iter()
            .filter(|r| r.at >= daemon.spawned && r.answered.is_none_or(|a| a > killed))
            .map(|r| r.id)
            .collect();
        for id in &in_flight {
            *interrupted.entry(id.clone()).or_insert(0) += 1;
        }
        if in_flight.is_empty() {
            idle_kills += 1;
        }
        lives.push(Life { spawned: daemon.spawned, killed: Some(killed), in_flight });
    }
    let kill_phase = started.elapsed();
    let mut last: Daemon = match steady {
        Some(daemon) => daemon,
        None => {
            let mut daemon = project.spawn(&[]);
            daemon.ready(Duration::from_secs(10)).await;
            daemon
        }
    };
    lives.push(Life { spawned: last.spawned, killed: None, in_flight: Vec::new() });
    let all_stored = rx.wait_for(Duration::from_secs(60), |_| rx.stored_count() >= n).await;
    let rows = wait_status(&project, Duration::from_secs(20), |rows| {
        rows.len() == n && rows.values().all(|r| r["state"] == "published")
    })
    .await;
    let unpublished: Vec<_> = rows.values().filter(|r| r["state"] != "published").collect();
    assert!(unpublished.is_empty(), "not published: {unpublished:#?}\n{}", last.log());
    assert!(all_stored, "{} of {n} posts stored\n{}", rx.stored_count(), last.log());
    tokio::time::sleep(Duration::from_millis(500)).await;
    last.signal("TERM");
    let code = last.exit(Duration::from_secs(10)).await.and_then(|s| s.code());
    assert_eq!(code, Some(0), "{}", last.log());

    // Nothing lost, nothing published twice.
    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), n, "every post reached the receiver");
    assert_eq!(rx.stored_count(), n);
    assert_eq!(rows.len(), n);
    for (key, row) in &rows {
        let (post, channel) = key.split_once('@').unwrap();
        assert_eq!(row["url"], rx.post_url(post, channel), "{row}");
    }
    // Within one process's life a webhook-id is sent at most once: a re-send only ever follows a
    // crash (reconciliation), never a blind retry.
    let life_of = |at: Instant| lives.iter().rposition(|l| l.spawned <= at).unwrap();
    let mut per_life: HashMap<(usize, String), usize> = HashMap::new();
    for r in rx.requests() {
        *per_life.entry((life_of(r.at), r.id.clone())).or_default() += 1;
    }
    let repeats: Vec<_> = per_life.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeats.is_empty(), "sent twice by one process: {repeats:?}");
    // Every request in flight at a kill was sent again after it, and the status counts it.
    let mut interruptions = 0;
    for (i, life) in lives.iter().enumerate() {
        for id in &life.in_flight {
            interruptions += 1;
            let killed = life.killed.unwrap();
            let again = rx.requests().iter().any(|r| &r.id == id && r.at > killed);
            assert!(again, "{id}, in flight at kill {i}, was never sent again");
            let key = id.trim_end_matches(":0").replacen(':', "@", 1);
            let attempts = rows[&key]["attempts"].as_u64().unwrap();
            assert!(attempts >= 2, "{id}: attempts {attempts}");
        }
    }
    let resent: usize = per_id.values().map(|n| n - 1).sum();
    // Lateness, crashes included: from the due instant to the request the receiver stored.
    let mut late: Vec<i64> = rx
        .requests()
        .iter()
        .filter(|r| r.stored)
        .map(|r| due[&r.post].duration_until(r.wall).as_millis() as i64)
        .collect();
    late.sort_unstable();
    let rounds = if kill { "kills" } else { "rounds without a kill" };
    let pct = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];
    println!(
        "due to sent, {} posts, {kills} {rounds}: p50 {} ms, p99 {} ms, max {} ms",
        late.len(),
        pct(0.5),
        pct(0.99),
        late[late.len() - 1]
    );
    println!(
        "{kills} {rounds} in {kill_phase:?} ({idle_kills} with nothing in flight), {interruptions} \
         requests interrupted (at most {} times one delivery), {resent} re-sends under the same webhook-id, {} requests for {n} posts, \
         all published {:?} after the start",
        interrupted.values().max().unwrap_or(&0),
        rx.requests().len(),
        started.elapsed()
    );
    if kill {
        assert!(
            idle_kills * 4 <= kills,
            "most kills hit requests in flight ({idle_kills} did not)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_flight_never_publishes_twice_nor_loses_a_post() {
    kill_and_restart(20, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 150 kills (about three minutes)"]
async fn kill_9_in_flight_150_times() {
    kill_and_restart(150, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: the 150-kill run's control, without kills (about two minutes)"]
async fn the_150_rounds_without_a_kill() {
    kill_and_restart(150, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_settles_what_a_crash_left_unknown() {
    let rx = Receiver::start(&harness::secret()).await;
    // The receiver never answers three channels: their requests are in flight at the kill.
    rx.set(|r| if r.channel == "c-ok" { Answer::OK } else { Answer::Hold });
    let names = ["c-pub", "c-retry", "c-cancel", "c-ok"];
    let channels = webhook_channels(&rx, &names, "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels))
        .with_env("CRIEUR_RETRY_BASE_MS", "200");
    let at = Timestamp::now() + SignedDuration::from_secs(1);
    let posts: String = ["pub", "retry", "cancel", "ok"]
        .iter()
        .map(|p| fixed_post(&format!("p-{p}"), &format!("c-{p}"), at))
        .collect();
    project.write("posts/queue.toml", &posts);
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    assert!(rx.wait_for(Duration::from_secs(10), |r| r.len() == 4).await, "{}", daemon.log());
    wait_status(&project, Duration::from_secs(5), |rows| rows["p-ok@c-ok"]["state"] == "published")
        .await;
    daemon.kill9();

    let state = |rows: &HashMap<String, serde_json::Value>, k: &str| rows[k]["state"].clone();
    let rows = project.states().await;
    assert_eq!(state(&rows, "p-pub@c-pub"), "publishing", "{rows:#?}");
    // Nothing to settle while it may still be in flight.
    let out = project.run(&["resolve", "p-pub", "c-pub", "--cancel"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("publishing"), "names the state: {err}");

    // The next open of the database (here `crieur migrate`) knows their process is gone.
    let out = project.run(&["migrate"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = project.run(&["status", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "status exits 1 while a delivery is unknown");
    let rows = project.states().await;
    for k in ["p-pub@c-pub", "p-retry@c-retry", "p-cancel@c-cancel"] {
        assert_eq!(state(&rows, k), "unknown", "{k}: {:#}", rows[k]);
        assert!(
            rows[k]["error"].as_str().is_some_and(|e| !e.is_empty()),
            "a reason: {:#}",
            rows[k]
        );
    }

    let resolve = |args: &'static [&'static str]| {
        let project = &project;
        async move {
            let mut all = vec!["resolve"];
            all.extend_from_slice(args);
            project.run(&all).await
        }
    };
    let out =
        resolve(&["p-pub", "c-pub", "--published", "https://blog.example.com/2026/p-pub"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = resolve(&["p-retry", "c-retry", "--retry"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = resolve(&["p-cancel", "c-cancel", "--cancel"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    // A published delivery is not resolvable, whichever way.
    for args in [
        &["p-ok", "c-ok", "--retry"][..],
        &["p-pub", "c-pub", "--cancel"][..],
        &["p-ok", "c-ok", "--published", "https://blog.example.com/x"][..],
    ] {
        let mut all = vec!["resolve"];
        all.extend_from_slice(args);
        let out = project.run(&all).await;
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("published"), "{args:?} names the state: {err}");
    }
    let out = resolve(&["p-nope", "c-ok", "--retry"]).await;
    assert_eq!(out.status.code(), Some(2));

    let rows = project.states().await;
    assert_eq!(state(&rows, "p-pub@c-pub"), "published");
    assert_eq!(rows["p-pub@c-pub"]["url"], "https://blog.example.com/2026/p-pub");
    assert_eq!(rows["p-pub@c-pub"]["remote_id"], "p-pub");
    assert_eq!(state(&rows, "p-retry@c-retry"), "retrying");
    assert_eq!(state(&rows, "p-cancel@c-cancel"), "cancelled");

    // The daemon sends the retried one again, under its webhook-id, and nothing else.
    rx.set(|_| Answer::OK);
    rx.release();
    let before = rx.requests().len();
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = wait_status(&project, Duration::from_secs(10), |rows| {
        rows["p-retry@c-retry"]["state"] == "published"
    })
    .await;
    assert_eq!(state(&rows, "p-retry@c-retry"), "published", "{}", daemon.log());
    assert_eq!(rows["p-retry@c-retry"]["url"], rx.post_url("p-retry", "c-retry"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after: Vec<_> = rx.requests()[before..].iter().map(|r| r.id.clone()).collect();
    assert_eq!(after, ["p-retry:c-retry:0"], "only the retried delivery is sent");
    let rows = project.states().await;
    assert_eq!(state(&rows, "p-cancel@c-cancel"), "cancelled");
    assert_eq!(state(&rows, "p-pub@c-pub"), "published");
    rx.check_traffic();
    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
}
