//! The load tool's smoke mode against the real `crieur` binary: every scenario, tiny, on SQLite
//! and on PostgreSQL with one and three daemons. Fails on any duplicate, lost or refused
//! delivery, or any step that did not run.
//!
//! The `crieur` binary belongs to another package of the workspace, so this test builds it with
//! the cargo that runs the test (same target folder, dev profile) and takes the executable path
//! from cargo's own report. PostgreSQL comes from `CRIEUR_TEST_DATABASE_URL`, else a throwaway
//! cluster this test starts (`crieur-testkit`); each run uses a scratch database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::process::Command;

fn build_crieur() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-p", "crieur", "--bin", "crieur", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building crieur failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "crieur")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the crieur executable")
}

#[test]
fn smoke_mode_runs_every_scenario_without_duplicates() {
    let crieur = build_crieur();
    let out = Command::new(env!("CARGO_BIN_EXE_crieur-bench"))
        .args(["--smoke", "--crieur"])
        .arg(&crieur)
        .env("RUST_LOG", "info")
        .env("CRIEUR_TEST_DATABASE_URL", crieur_testkit::postgres::server_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "crieur-bench --smoke failed:\n{stderr}\n{stdout}");
    assert!(stderr.contains("no problem found"), "{stderr}");
    // Every scenario and backend reported, and no duplicate anywhere.
    for needle in [
        "receiver capacity",
        "tokio-cron-scheduler baseline",
        "| SQLite | duplicates (all runs) | 0 |",
        "| PostgreSQL ×1 | duplicates (all runs) | 0 |",
        "| PostgreSQL ×3 | duplicates (all runs) | 0 |",
        "durable deliveries/s",
        "burst: ",
        "READY at the first start (ms)",
        "CPU time while idle",
        "| crieur validate | peak RSS (MiB) |",
        "| SQLite, /metrics scraped every 1 s | scrapes answered |",
        "on 2 channels each",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    let duplicate_rows: Vec<&str> = stdout.lines().filter(|l| l.contains("| duplicates")).collect();
    // Latency, throughput and burst, each on three backends.
    assert_eq!(duplicate_rows.len(), 9, "{stdout}");
    assert!(duplicate_rows.iter().all(|l| l.contains("| 0 | 0 |")), "{stdout}");
}
