//! `crieur doctor` against the mock networks: every check passes on a healthy world; a revoked
//! token, a wrong app password, an unreachable webhook and a database never migrated are each
//! named with what to do; the checks run concurrently; the Mastodon server's limits are read
//! again and stored.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::world::World;
use crate::common::{stderr, stdout};

/// Runs `crieur doctor` with `args` on `world`; returns the exit code, stdout and the time taken.
async fn doctor(world: &World, args: &[&str]) -> (Option<i32>, String, Duration) {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let mut cmd: tokio::process::Command = world.command(&all, "warn").into();
    let start = Instant::now();
    let out = cmd.output().await.unwrap();
    let took = start.elapsed();
    assert!(stderr(&out).is_empty() || out.status.code() == Some(1), "{}", stderr(&out));
    (out.status.code(), stdout(&out), took)
}

fn migrate(world: &World) {
    let out = world.command(&["migrate"], "warn").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The checks of a JSON document by name: (status, message).
fn checks(json: &str) -> Vec<(String, String, String)> {
    let doc: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c.as_object().unwrap().len(), 3, "check, status, message: {c}");
            (
                c["check"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn find<'a>(all: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    all.iter().find(|c| c.0 == name).unwrap_or_else(|| panic!("no check {name}: {all:?}"))
}

#[tokio::test]
async fn doctor_passes_when_every_network_accepts_its_credentials() {
    let world = World::new(1, None).await;
    migrate(&world);
    let (code, json, _) = doctor(&world, &["--format", "json"]).await;
    let all = checks(&json);
    let names: Vec<&str> = all.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "config",
            "posts",
            "secrets",
            "database",
            "channel blog-1",
            "channel bsky-1",
            "channel fb-1",
            "channel li-1",
            "channel masto-1",
            "channel x-1"
        ]
    );
    for (check, status, message) in &all {
        // An empty queue leaves the channels' slots empty, which the policy warns about.
        let want = if check == "posts" { "warn" } else { "ok" };
        assert_eq!(status, want, "{check}: {message}");
    }
    assert_eq!(code, Some(0), "{json}");
    assert!(find(&all, "channel x-1").2.contains("@crieur1001"), "{all:?}");
    assert!(find(&all, "channel li-1").2.contains("Acme"), "{all:?}");
    assert!(find(&all, "channel fb-1").2.contains("Acme Page"), "{all:?}");
    assert!(find(&all, "channel masto-1").2.contains("@crieur109001"), "{all:?}");
    assert!(find(&all, "channel bsky-1").2.contains("@crieur1.bsky.test"), "{all:?}");
    assert_eq!(world.mock.bluesky_logins(), 1, "one login, kept for the next run");
    assert!(find(&all, "database").2.contains("reachable, migrated, writable"), "{all:?}");
    assert!(world.mock.violations().is_empty(), "{:?}", world.mock.violations());
    assert!(world.mock.accepted().is_empty(), "doctor never posts");

    let (code, table, _) = doctor(&world, &[]).await;
    assert_eq!(code, Some(0), "{table}");
    assert_eq!(table.lines().count(), 10, "{table}");
    assert_eq!(table.lines().filter(|l| l.starts_with("ok ")).count(), 9, "{table}");
    assert_eq!(world.mock.bluesky_logins(), 1, "the stored session was used, not a new login");
}

#[tokio::test]
async fn doctor_names_a_revoked_token_an_unreachable_webhook_and_a_database_not_migrated() {
    let mut world = World::new(1, None).await;
    // The Page token and the Mastodon token were revoked (the mock no longer knows them); the
    // Bluesky app password was deleted.
    for (k, v) in &mut world.env {
        match k.as_str() {
            "FB1_TOKEN" => *v = "EAAGrevokedPageToken".into(),
            "MASTO1_TOKEN" => *v = "revokedMastodonToken".into(),
            "BSKY1_PASSWORD" => *v = "zzzz-zzzz-zzzz-zzzz".into(),
            _ => {}
        }
    }
    // The blog's receiver is down: nothing listens on port 1 of loopback.
    let config = std::fs::read_to_string(world.config()).unwrap();
    let hook = world.mock.base("hook/blog-1");
    std::fs::write(world.config(), config.replace(&hook, "http://127.0.0.1:1/hook/blog-1"))
        .unwrap();
    // A database file that was never migrated.
    std::fs::write(world.path().join("crieur.db"), b"").unwrap();

    let (code, json, _) = doctor(&world, &["--format", "json"]).await;
    assert_eq!(code, Some(1), "{json}");
    let all = checks(&json);
    let failed: Vec<&str> = all.iter().filter(|c| c.1 == "fail").map(|c| c.0.as_str()).collect();
    assert_eq!(
        failed,
        ["database", "channel blog-1", "channel bsky-1", "channel fb-1", "channel masto-1"],
        "{all:?}"
    );
    assert!(find(&all, "channel masto-1").2.contains("crieur auth masto-1"), "{all:?}");
    assert!(find(&all, "channel bsky-1").2.contains("app_password"), "{all:?}");
    assert!(find(&all, "database").2.contains("crieur migrate"), "{all:?}");
    let fb = &find(&all, "channel fb-1").2;
    assert!(fb.contains("code 190") && fb.contains("access_token"), "{fb}");
    assert!(find(&all, "channel blog-1").2.contains("could not be asked"), "{all:?}");
    assert_eq!(find(&all, "channel x-1").1, "ok", "{all:?}");
    assert_eq!(find(&all, "channel li-1").1, "ok", "{all:?}");
    assert!(!json.contains("EAAGrevokedPageToken"), "a token in the output: {json}");

    let (code, table, _) = doctor(&world, &[]).await;
    eprintln!("{table}");
    assert_eq!(code, Some(1), "{table}");
    for name in ["database", "channel blog-1", "channel bsky-1", "channel fb-1", "channel masto-1"]
    {
        assert!(
            table.lines().any(|l| l.starts_with("fail") && l.contains(name)),
            "{name}: {table}"
        );
    }
    assert!(world.mock.violations().is_empty(), "{:?}", world.mock.violations());
}

#[tokio::test]
async fn doctor_checks_eighteen_channels_concurrently_in_seconds() {
    let world = World::new(3, None).await;
    migrate(&world);
    let (code, json, took) = doctor(&world, &["--format", "json"]).await;
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(checks(&json).len(), 4 + 18);
    eprintln!("doctor with 18 channels took {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn doctor_refreshes_a_refused_token_once_and_names_those_that_stay_refused() {
    let mut world = World::new(2, None).await;
    migrate(&world);
    for (k, v) in &mut world.env {
        match k.as_str() {
            // Revoked for good: neither the access nor the refresh token is known any more.
            "X1_ACCESS" | "X1_REFRESH" | "LI1_ACCESS" | "LI1_REFRESH" => {
                *v = format!("{v}-revoked");
            }
            // An access token LinkedIn no longer takes, with a refresh token that still works.
            "LI2_ACCESS" => *v = format!("{v}-stale"),
            _ => {}
        }
    }
    let (code, json, _) = doctor(&world, &["--format", "json"]).await;
    assert_eq!(code, Some(1), "{json}");
    let all = checks(&json);
    let failed: Vec<&str> = all.iter().filter(|c| c.1 == "fail").map(|c| c.0.as_str()).collect();
    assert_eq!(failed, ["channel li-1", "channel x-1"], "{all:?}");
    assert!(find(&all, "channel li-1").2.contains("crieur auth li-1"), "{all:?}");
    assert!(find(&all, "channel x-1").2.contains("crieur auth x-1"), "{all:?}");
    assert_eq!(find(&all, "channel li-2").1, "ok", "refreshed: {all:?}");
    // The mock counts a refresh token it never issued as a violation: exactly the two revoked
    // channels' refresh attempts, once each, and nothing else.
    let mut violations = world.mock.violations();
    violations.sort();
    assert_eq!(
        violations,
        [
            "linkedin token request with a refresh token never issued",
            "x token request with a refresh token never issued"
        ]
    );
    assert!(!json.contains(super::world::CANARY), "a secret in the output: {json}");
}

#[tokio::test]
async fn doctor_reads_the_mastodon_servers_limits_again_and_validate_uses_them() {
    let world = World::new(1, None).await;
    migrate(&world);
    // 700 characters: over Mastodon's default of 500, within this server's 1,000.
    let long = format!("{} part d-long. What would you add?", "Notes from the team. ".repeat(31));
    assert!((500..1000).contains(&long.chars().count()));
    std::fs::write(
        world.path().join("posts/long.toml"),
        format!("[[post]]\nid = \"d-long\"\nchannels = [\"masto-1\"]\ntext = \"{long}\"\n"),
    )
    .unwrap();
    let validate = |world: &World| world.command(&["validate"], "warn").output().unwrap();
    let before = validate(&world);
    assert!(stdout(&before).contains("error[length]"), "{}", stdout(&before));
    world.mock.set_mastodon_max_characters(1000);
    let (code, json, _) = doctor(&world, &["--format", "json"]).await;
    let all = checks(&json);
    assert_eq!(find(&all, "channel masto-1").1, "ok", "{all:?}");
    // The posts check judges with the network's defaults; the channel itself is fine.
    assert!(code.is_some(), "{json}");
    let after = validate(&world);
    assert!(!stdout(&after).contains("error[length]"), "{}", stdout(&after));
    assert!(world.mock.accepted().is_empty(), "doctor never posts");
}
