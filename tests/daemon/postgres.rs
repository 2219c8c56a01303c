//! Several `crieur run` instances on one PostgreSQL database (a scratch database per test; the
//! server is `CRIEUR_TEST_DATABASE_URL`, else the test binary's throwaway cluster, and the restart
//! test restarts a throwaway cluster of its own: these tests fail, never skip, when it cannot be
//! reached).

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::harness::{self, Daemon, Project, fixed_post, wait_status, webhook_channels};
use super::receiver::{Answer, Receiver};
use crate::common;

/// A project on a fresh database with `n` posts spread over `channels` channels, due from
/// `first` on, `spread` apart.
async fn project_on_postgres(
    admin: &str,
    rx: &Receiver,
    channels: usize,
    n: usize,
    first: Timestamp,
    spread: SignedDuration,
) -> (Project, String) {
    let (url, name) = common::create_database_on(admin, "crieur_daemon").await;
    let names: Vec<String> = (0..channels).map(|i| format!("ch{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let config = harness::config(&url, harness::QUEUE, &webhook_channels(rx, &refs, "Mon 08:00"));
    let project = Project::new(&config);
    let mut posts = String::new();
    for i in 0..n {
        let at = first + spread * i32::try_from(i).unwrap();
        posts.push_str(&fixed_post(&format!("m{i}"), &names[i % channels], at));
    }
    project.write("posts/queue.toml", &posts);
    // The schema first, so three instances starting together do not race to create it.
    let out = project.run(&["migrate"]).await;
    assert!(out.status.success(), "migrate: {}", common::stderr(&out));
    (project, name)
}

/// How many deliveries each instance's log says it published.
fn published_per_instance(daemons: &[Daemon]) -> Vec<usize> {
    daemons.iter().map(|d| d.log().matches(" published post=").count()).collect()
}

/// Lateness of each request after its post's `at`, in milliseconds, sorted.
fn lateness(rx: &Receiver, due: &HashMap<String, Timestamp>) -> Vec<i64> {
    let mut late: Vec<i64> = rx
        .requests()
        .iter()
        .map(|r| due[&r.post].duration_until(r.wall).as_millis() as i64)
        .collect();
    late.sort_unstable();
    late
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_publish_1000_posts_exactly_once() {
    let _pg = common::postgres_lock().await;
    let n = 1000;
    let rx = Receiver::start(&harness::secret()).await;
    let first = Timestamp::now() + SignedDuration::from_secs(6);
    let spread = SignedDuration::from_millis(2);
    let admin = crieur_testkit::postgres::server_url();
    let (project, db) = project_on_postgres(&admin, &rx, 10, n, first, spread).await;
    let due: HashMap<String, Timestamp> = (0..n)
        .map(|i| {
            let at = first + spread * i32::try_from(i).unwrap();
            (format!("m{i}"), Timestamp::from_second(at.as_second()).unwrap())
        })
        .collect();
    let mut daemons: Vec<Daemon> = (0..3).map(|_| project.spawn(&[])).collect();
    for d in &mut daemons {
        d.ready(Duration::from_secs(20)).await;
    }
    let margin = Timestamp::now().duration_until(first);
    let all = rx.wait_for(Duration::from_secs(60), |_| rx.stored_count() >= n).await;
    assert!(all, "{} of {n} stored\n{}", rx.stored_count(), daemons[0].log());
    let rows = wait_status(&project, Duration::from_secs(20), |rows| {
        rows.values().filter(|r| r["state"] == "published").count() == n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for d in &daemons {
        d.signal("TERM");
    }
    for d in &mut daemons {
        let code = d.exit(Duration::from_secs(20)).await.and_then(|s| s.code());
        assert_eq!(code, Some(0), "{}", d.log());
    }

    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), n);
    let twice: Vec<_> = per_id.iter().filter(|(_, c)| **c != 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    assert_eq!(rows.len(), n);
    for (key, row) in &rows {
        let (post, channel) = key.split_once('@').unwrap();
        assert_eq!(row["state"], "published", "{row}");
        assert_eq!(row["attempts"], 1, "{row}");
        assert_eq!(row["url"], rx.post_url(post, channel), "{row}");
    }
    let late = lateness(&rx, &due);
    assert!(late[0] >= -20, "nothing leaves before its time: {}", late[0]);
    let first_arrival = rx.requests().iter().map(|r| r.at).min().unwrap();
    let last_arrival = rx.requests().iter().map(|r| r.at).max().unwrap();
    println!(
        "1000 posts by 3 instances, ready {margin:?} before the first was due: published per \
         instance {:?}; lateness ms p50 {} p99 {} max {}; first to last request {:?}",
        published_per_instance(&daemons),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late[late.len() - 1],
        last_arrival - first_arrival
    );
    drop(daemons);
    common::drop_database(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_ride_out_a_postgres_restart() {
    let _pg = common::postgres_lock().await;
    let n = 300;
    let rx = Receiver::start(&harness::secret()).await;
    // Each answer takes 50 ms: requests are in flight when the server goes away.
    rx.set(|_| Answer::ok_after(Duration::from_millis(50)));
    let first = Timestamp::now() + SignedDuration::from_secs(4);
    let spread = SignedDuration::from_millis(30);
    // A server of its own, whatever CRIEUR_TEST_DATABASE_URL says: it is restarted below.
    let cluster = std::sync::Arc::new(crieur_testkit::postgres::Cluster::start());
    let (project, _db) = project_on_postgres(&cluster.url(), &rx, 10, n, first, spread).await;
    // A claim whose commit was lost with the connection is taken back when its lease lapses:
    // 10 s instead of 2 min; a retry after that waits 200 ms instead of up to 30 s.
    let project =
        project.with_env("CRIEUR_LEASE_SECS", "10").with_env("CRIEUR_RETRY_BASE_MS", "200");
    let mut daemons: Vec<Daemon> = (0..3).map(|_| project.spawn(&[])).collect();
    for d in &mut daemons {
        d.ready(Duration::from_secs(20)).await;
    }
    // Restart the server once about a third of the posts went out.
    assert!(rx.wait_for(Duration::from_secs(30), |r| r.len() >= n / 3).await);
    let before = rx.requests().len();
    let restarted = cluster.clone();
    let took = tokio::task::spawn_blocking(move || restarted.restart()).await.unwrap();
    let during = rx.requests().len() - before;
    let all = rx.wait_for(Duration::from_secs(90), |_| rx.stored_count() >= n).await;
    assert!(all, "{} of {n} stored after the restart\n{}", rx.stored_count(), daemons[0].log());
    let rows = wait_status(&project, Duration::from_secs(30), |rows| {
        rows.values().filter(|r| r["state"] == "published").count() == n
    })
    .await;
    for d in &mut daemons {
        assert!(d.exit(Duration::ZERO).await.is_none(), "an instance died:\n{}", d.log());
        d.signal("TERM");
    }
    for d in &mut daemons {
        let code = d.exit(Duration::from_secs(30)).await.and_then(|s| s.code());
        assert_eq!(code, Some(0), "{}", d.log());
    }

    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), n, "every post reached the receiver");
    assert_eq!(rx.stored_count(), n);
    let not_published: Vec<_> = rows.values().filter(|r| r["state"] != "published").collect();
    assert!(not_published.is_empty(), "{not_published:#?}");
    let resent: Vec<_> = per_id.iter().filter(|(_, c)| **c > 1).collect();
    let store_errors: usize =
        daemons.iter().map(|d| d.log().matches("the database cannot commit").count()).sum();
    let due: HashMap<String, Timestamp> = (0..n)
        .map(|i| {
            let at = first + spread * i32::try_from(i).unwrap();
            (format!("m{i}"), Timestamp::from_second(at.as_second()).unwrap())
        })
        .collect();
    let late = lateness(&rx, &due);
    println!(
        "PostgreSQL restart took {took:?}; {during} requests went out during it; {} storage fault episodes \
         ridden out; re-sent under the same webhook-id: {resent:?}; published per instance {:?}; \
         lateness ms p50 {} p99 {} max {}",
        store_errors,
        published_per_instance(&daemons),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late[late.len() - 1],
    );
    drop(daemons);
    drop(project);
    drop(cluster);
}
