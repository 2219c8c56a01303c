//! Random faults and `kill -9`: N deliveries across the four networks, faults drawn from a seeded
//! RNG, the daemon killed K times at random moments and restarted each time; then the same on
//! PostgreSQL with three instances, one of them killed repeatedly, and the server restarted.
//!
//! The seed is printed; `CRIEUR_CHAOS_SEED=N` replays a run's draws (the kill moments race with
//! the daemon, so a replay is close, not identical).

use std::time::{Duration, Instant};

use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};

use super::mock::Chaos;
use super::world::{Daemon, PostSpec, Verdict, World, after};
use crate::common;

/// One random run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    /// (post, channel) pairs to publish.
    pub deliveries: usize,
    /// SIGKILLs of the daemon (on PostgreSQL: of the first instance).
    pub kills: usize,
    /// Channels per network.
    pub per_network: usize,
    /// Probability of a fault on a post request, and on a reconciliation read.
    pub post_rate: f64,
    pub read_rate: f64,
    /// PostgreSQL server restarts (PostgreSQL runs only).
    pub pg_restarts: usize,
    /// How long to wait for everything to settle after the last kill.
    pub settle: Duration,
}

impl Plan {
    fn seed_or(default: u64) -> u64 {
        std::env::var("CRIEUR_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
    }
}

/// Lays `plan.deliveries` (post, channel) pairs: posts on 1 to 3 channels, due over `spread`
/// seconds from 3 s after now.
fn lay_posts(world: &mut World, rng: &mut StdRng, plan: &Plan, spread: f64) {
    let t0 = Timestamp::now();
    let names: Vec<String> = world.channels.iter().map(|c| c.name.clone()).collect();
    let mut left = plan.deliveries;
    let mut posts = Vec::new();
    let mut n = 0;
    while left > 0 {
        let k = rng.random_range(1..=3usize).min(left);
        let mut channels = names.clone();
        channels.shuffle(rng);
        channels.truncate(k);
        left -= k;
        n += 1;
        let at = after(t0, 3.0 + rng.random_range(0.0..spread));
        posts.push(PostSpec { id: format!("r{n:05}"), channels, at });
    }
    world.add_posts(posts);
}

fn report(label: &str, plan: &Plan, v: &Verdict, elapsed: Duration, world: &World) {
    let faults: u64 = v.faults.values().sum();
    let (refreshes, reused) = world.mock.refresh_counts();
    println!(
        "{label}: seed {} deliveries {} kills {} pg_restarts {} faults {faults} in {elapsed:?}\n  \
         duplicates {} lost {} unknown-left {} missing {} wrong {} refreshes {refreshes} spent-refresh-reused {reused}\n  \
         {}\n  requests {:?}",
        plan.seed,
        plan.deliveries,
        plan.kills,
        plan.pg_restarts,
        v.duplicates.len(),
        v.lost.len(),
        v.unknown.len(),
        v.missing.len(),
        v.wrong.len(),
        v.summary(),
        world.mock.requests()
    );
}

/// The SQLite run: one daemon, killed `plan.kills` times.
pub async fn sqlite_run(plan: Plan) -> Verdict {
    let started = Instant::now();
    println!("chaos on SQLite: {plan:?} (replay with CRIEUR_CHAOS_SEED={})", plan.seed);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut world = World::new(plan.per_network, None).await;
    let spread = (plan.kills as f64 * 1.2).max(4.0);
    lay_posts(&mut world, &mut rng, &plan, spread);
    world.mock.set_chaos(Chaos::new(plan.seed ^ 0x5eed, plan.post_rate, plan.read_rate));
    let mut kills = Kills::default();
    for _ in 0..plan.kills {
        let mut daemon = world.spawn("info", &[]);
        kill_at_random(&mut daemon, &mut rng, &mut kills, &world).await;
        kills.interrupted += world.status_now().await["posts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["state"] == "publishing")
            .count();
    }
    kills.published_before_last_start = published(&world.status_now().await);
    let mut daemon = world.spawn("info", &[]);
    let began = Instant::now();
    daemon.ready(Duration::from_secs(60)).await;
    println!("  the last start was ready in {:?}", began.elapsed());
    let (status, settled) = world.settle(plan.settle).await;
    let verdict = world.verdict(&status);
    report("chaos on SQLite", &plan, &verdict, started.elapsed(), &world);
    println!("  {kills:?}");
    if !verdict.revoked.is_empty() {
        let logs = world.all_logs();
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("refresh") || l.contains("revoked") || l.contains("ready_in_ms"))
            .collect();
        println!("  a channel was revoked; the refresh history:\n{}", lines.join("\n"));
    }
    assert!(
        settled,
        "not settled within {:?}: {}\n{}\n{}",
        plan.settle,
        verdict.summary(),
        unsettled(&status),
        tail(&daemon)
    );
    verdict.assert_holds(true, &format!("chaos on SQLite, seed {}", plan.seed));
    let exit = daemon.terminate(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}\n{}", tail(&daemon));
    verdict
}

/// The PostgreSQL run: three instances; the first is killed `plan.kills` times; the server is
/// restarted `plan.pg_restarts` times along the way.
pub async fn postgres_run(plan: Plan) -> Verdict {
    let _lock = common::postgres_lock().await;
    let started = Instant::now();
    println!("chaos on PostgreSQL: {plan:?} (replay with CRIEUR_CHAOS_SEED={})", plan.seed);
    // A server of its own, whatever CRIEUR_TEST_DATABASE_URL says: it is restarted below.
    let cluster = crieur_testkit::postgres::Cluster::start();
    let (url, _name) = common::create_database_on(&cluster.url(), "crieur_reliability").await;
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut world = World::new(plan.per_network, Some(url)).await;
    // Leases short enough that a killed instance's claims come back within seconds, still well
    // above the time a request takes here.
    world.env.push(("CRIEUR_LEASE_SECS".into(), "5".into()));
    let spread = (plan.kills as f64 * 0.8).max(6.0);
    lay_posts(&mut world, &mut rng, &plan, spread);
    world.mock.set_chaos(Chaos::new(plan.seed ^ 0x5eed, plan.post_rate, plan.read_rate));
    let mut steady: Vec<Daemon> = Vec::new();
    for _ in 0..2 {
        let mut d = world.spawn("info", &[]);
        d.ready(Duration::from_secs(60)).await;
        steady.push(d);
    }
    let restarts_at: Vec<usize> =
        (0..plan.pg_restarts).map(|i| (i + 1) * plan.kills / (plan.pg_restarts + 1)).collect();
    let mut kills = Kills::default();
    for k in 0..plan.kills {
        let mut victim = world.spawn("info", &[]);
        kill_at_random(&mut victim, &mut rng, &mut kills, &world).await;
        for _ in restarts_at.iter().filter(|r| **r == k) {
            println!("PostgreSQL restarted in {:?}", cluster.restart());
        }
        for d in &mut steady {
            assert!(d.running(), "an instance died:\n{}", tail(d));
        }
    }
    kills.published_before_last_start = published(&world.status_now().await);
    steady.push(world.spawn("info", &[]));
    let (status, settled) = world.settle(plan.settle).await;
    let verdict = world.verdict(&status);
    report("chaos on PostgreSQL", &plan, &verdict, started.elapsed(), &world);
    kills.interrupted = lapsed_leases(&world.all_logs());
    println!("  {kills:?}");
    let logs = steady.iter().map(tail).collect::<Vec<_>>().join("\n----\n");
    assert!(
        settled,
        "not settled within {:?}: {}\n{}\n{logs}",
        plan.settle,
        verdict.summary(),
        unsettled(&status)
    );
    verdict.assert_holds(true, &format!("chaos on PostgreSQL, seed {}", plan.seed));
    for d in &mut steady {
        let exit = d.terminate(Duration::from_secs(30)).await;
        assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}\n{}", tail(d));
    }
    drop(world);
    drop(cluster);
    verdict
}

/// The rows still moving and the channels held, for a failure message.
fn unsettled(status: &serde_json::Value) -> String {
    let mut out = String::new();
    for p in status["posts"].as_array().into_iter().flatten() {
        if !matches!(p["state"].as_str(), Some("published" | "failed" | "cancelled")) {
            out.push_str(&format!("{p}\n"));
        }
    }
    for c in status["channels"].as_array().into_iter().flatten() {
        if !c["held_until"].is_null() || !c["revoked"].is_null() {
            out.push_str(&format!("{c}\n"));
        }
    }
    out
}

fn published(status: &serde_json::Value) -> usize {
    status["posts"].as_array().unwrap().iter().filter(|p| p["state"] == "published").count()
}

/// The sum of `count=N` of the "leases lapsed while publishing" warnings in `logs`.
fn lapsed_leases(logs: &str) -> usize {
    let mut plain = String::with_capacity(logs.len());
    let mut chars = logs.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An ANSI colour sequence: ESC [ ... m.
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .lines()
        .filter(|l| l.contains("leases lapsed while publishing"))
        .filter_map(|l| l.split("count=").nth(1))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<usize>().ok())
        .sum()
}

/// What the kills hit.
#[derive(Debug, Default)]
struct Kills {
    /// Kills before the daemon said it was ready (during start-up: migrations, sync).
    before_ready: usize,
    /// Kills while a post request was in progress at the mock.
    mid_request: usize,
    /// Deliveries left `publishing` (intent committed, outcome not) by the kills: on SQLite
    /// seen right after each kill; on PostgreSQL, the lapsed leases the other instances took
    /// over (from their logs).
    interrupted: usize,
    /// Deliveries already published when the kills were over.
    published_before_last_start: usize,
}

/// Kills `daemon` at a random moment: one time in five during start-up, else 0 to 1.2 s after
/// it is ready.
async fn kill_at_random(daemon: &mut Daemon, rng: &mut StdRng, kills: &mut Kills, world: &World) {
    if rng.random_bool(0.2) {
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        if !daemon.log().contains("ready_in_ms") {
            kills.before_ready += 1;
        }
    } else {
        daemon.ready(Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1200))).await;
    }
    assert!(daemon.running(), "the daemon died by itself:\n{}", tail(daemon));
    kills.mid_request += usize::from(world.mock.in_flight() > 0);
    daemon.kill9();
}

fn tail(d: &Daemon) -> String {
    let log = d.log();
    let start = log.len().saturating_sub(6000);
    let start = (start..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(log.len());
    log[start..].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_and_kills_on_sqlite_publish_each_delivery_at_most_once() {
    let v = sqlite_run(Plan {
        seed: Plan::seed_or(20261126),
        deliveries: 120,
        kills: 8,
        per_network: 2,
        post_rate: 0.3,
        read_rate: 0.1,
        pg_restarts: 0,
        settle: Duration::from_secs(90),
    })
    .await;
    assert!(v.faults.values().sum::<u64>() >= 10, "faults were injected: {:?}", v.faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 1,000 deliveries and 100 kills; run with --ignored and report in RELIABILITY.md"]
async fn long_random_faults_and_100_kills_on_sqlite() {
    sqlite_run(Plan {
        seed: Plan::seed_or(20261126),
        deliveries: 1000,
        kills: 100,
        per_network: 4,
        post_rate: 0.3,
        read_rate: 0.1,
        pg_restarts: 0,
        settle: Duration::from_secs(600),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgres_with_kills_and_a_server_restart_publish_at_most_once() {
    let v = postgres_run(Plan {
        seed: Plan::seed_or(20261127),
        deliveries: 100,
        kills: 4,
        per_network: 2,
        post_rate: 0.3,
        read_rate: 0.1,
        pg_restarts: 1,
        settle: Duration::from_secs(120),
    })
    .await;
    assert!(v.faults.values().sum::<u64>() >= 10, "faults were injected: {:?}", v.faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 1,000 deliveries, 3 instances, 30 kills, 2 PostgreSQL restarts; run with --ignored"]
async fn long_three_instances_on_postgres_with_kills_and_two_server_restarts() {
    postgres_run(Plan {
        seed: Plan::seed_or(20261127),
        deliveries: 1000,
        kills: 30,
        per_network: 4,
        post_rate: 0.3,
        read_rate: 0.1,
        pg_restarts: 2,
        settle: Duration::from_secs(600),
    })
    .await;
}
