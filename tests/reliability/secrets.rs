//! Secrets: every token, refresh token, client secret, webhook secret and the storage key carry
//! one canary string. A daemon publishes on all four networks through faults and refreshes with
//! `RUST_LOG=trace`; the canary must not appear in its logs, in `status` (table and JSON, also at
//! trace level), in an error that quotes a bad secret, or in clear in the SQLite database (its
//! WAL while running, the main file after a checkpoint).

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::Connection as _;

use super::mock::{Fault, Net};
use super::world::{CANARY, PostSpec, World, after};

/// The secrets found in `haystack`, by name.
fn leaks(haystack: &[u8], secrets: &[String]) -> Vec<String> {
    secrets
        .iter()
        .filter(|s| !s.is_empty() && haystack.windows(s.len()).any(|w| w == s.as_bytes()))
        .cloned()
        .collect()
}

fn db_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("crieur.db")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_status_errors_or_the_database_in_clear() {
    assert_eq!(leaks(format!("a {CANARY} b").as_bytes(), &[CANARY.to_owned()]).len(), 1);
    let mut world = World::new(1, None).await;
    let t0 = Timestamp::now();
    let scripts: [(Net, &[&[Fault]]); 4] = [
        (Net::X, &[&[Fault::Unauthorized], &[Fault::StatusAfterAccept(500)], &[]]),
        (Net::Linkedin, &[&[Fault::Unauthorized], &[Fault::DropAfterAccept], &[]]),
        (Net::Facebook, &[&[Fault::StatusAfterAccept(500)], &[Fault::MalformedJson], &[]]),
        (Net::Webhook, &[&[Fault::DropAfterAccept], &[Fault::Status(503)], &[]]),
    ];
    let mut posts = Vec::new();
    for (net, list) in scripts {
        let channel = world.on(net)[0].clone();
        for (k, faults) in list.iter().enumerate() {
            let id = format!("s-{}-{k}", net.name());
            world.mock.script(net, &id, faults);
            posts.push(PostSpec { id, channels: vec![channel.clone()], at: after(t0, 1.5) });
        }
    }
    world.add_posts(posts);

    let mut daemon = world.spawn("trace", &[]);
    daemon.ready(Duration::from_secs(30)).await;
    let (status, settled) = world.settle(Duration::from_secs(90)).await;
    let verdict = world.verdict(&status);
    assert!(settled, "{}\n{}", verdict.summary(), daemon.log());
    verdict.assert_holds(false, "secrets scenario");
    assert_eq!(verdict.states.get("published"), Some(&world.expected().len()));
    let (refreshes, _) = world.mock.refresh_counts();
    assert!(refreshes >= 2, "X and LinkedIn refreshed, so the database holds new tokens");

    // While the daemon runs: the WAL (and every other file of the database).
    let mut secrets = world.secrets.clone();
    secrets.extend(world.mock.all_tokens());
    secrets.push(CANARY.to_owned());
    for path in db_files(world.path()) {
        let bytes = std::fs::read(&path).unwrap();
        let found = leaks(&bytes, &secrets);
        assert!(found.is_empty(), "{} holds secrets in clear: {found:?}", path.display());
    }
    // status, table and JSON, itself logging at trace level.
    for format in ["table", "json"] {
        let out = world.command(&["status", "--format", format], "trace").output().unwrap();
        assert!(out.status.success(), "status --format {format}: {:?}", out.status);
        let mut all = out.stdout.clone();
        all.extend_from_slice(&out.stderr);
        assert!(!out.stdout.is_empty());
        let found = leaks(&all, &secrets);
        assert!(found.is_empty(), "status --format {format} shows {found:?}");
    }

    let exit = daemon.terminate(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}");
    let log = world.all_logs();
    assert!(log.contains("TRACE"), "the daemon logged at trace level");
    assert!(log.contains("access token refreshed and saved"), "the refreshes were logged");
    assert!(!log.contains("panicked"), "no panic");
    let found = leaks(log.as_bytes(), &secrets);
    assert!(found.is_empty(), "the daemon's trace logs show {found:?}");

    // After a checkpoint, the main file holds everything, and still no secret in clear; the
    // tokens are there, encrypted.
    let url = format!("sqlite://{}", world.path().join("crieur.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokens").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert!(stored >= 2, "the refreshed tokens of X and LinkedIn are stored ({stored} rows)");
    for path in db_files(world.path()) {
        let bytes = std::fs::read(&path).unwrap();
        let found = leaks(&bytes, &secrets);
        assert!(
            found.is_empty(),
            "{} holds secrets in clear after a checkpoint: {found:?}",
            path.display()
        );
    }

    // A secret that is refused is named, never quoted: a webhook secret that is not base64
    // stops the daemon at start, and so does a Page token that cannot be a header.
    let bad_hook = format!("whsec_%%{CANARY}%%");
    let mut cmd = world.command(&["run", "--once"], "trace");
    cmd.env("HOOK_SECRET", &bad_hook);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a malformed webhook secret stops the daemon");
    let mut all = out.stdout.clone();
    all.extend_from_slice(&out.stderr);
    let text = String::from_utf8_lossy(&all).into_owned();
    assert!(text.contains("blog-1"), "the error names the channel: {text}");
    let found = leaks(&all, &[bad_hook, CANARY.to_owned()]);
    assert!(found.is_empty(), "the error quotes {found:?}: {text}");

    let bad_token = format!("{CANARY}-page\ntoken");
    let mut cmd = world.command(&["run", "--once"], "trace");
    cmd.env("FB1_TOKEN", &bad_token);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unusable Page token stops the daemon");
    let mut all = out.stdout.clone();
    all.extend_from_slice(&out.stderr);
    let text = String::from_utf8_lossy(&all).into_owned();
    assert!(text.contains("fb-1"), "the error names the channel: {text}");
    let found = leaks(&all, &[bad_token, CANARY.to_owned()]);
    assert!(found.is_empty(), "the error quotes {found:?}: {text}");
}
