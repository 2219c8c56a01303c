//! `crieur validate` on 10,000 posts, 10 channels of the four networks, over 4 weeks, with the
//! example's policy: once as the real process (the release `crieur` binary, exactly what a CI
//! job runs), and once in-process, phase by phase, calling the library crates the way the
//! binary's plan module does (load, lay, render and text rules, calendar rules).
//!
//! The project is generated once in a temporary folder. The process bench runs
//! `target/release/crieur` (or `CRIEUR_BIN`), built with cargo when it is missing.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crieur_bench::project::write_validate_project;
use crieur_config::Config;
use crieur_core::{Channel, Post, Severity};
use crieur_policy::{RenderContext, Scheduled};
use crieur_scheduler::History;
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};

const POSTS: usize = 10_000;
const NOW: &str = "2026-11-26T09:00:00Z";

/// The `crieur` binary of this bench's profile: `CRIEUR_BIN`, else `crieur` in the profile folder
/// above this bench (`target/release` under `cargo bench`, `target/debug` when `cargo test`
/// runs the bench once), built with cargo in that profile if missing.
fn crieur_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CRIEUR_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile.join("crieur");
    if !bin.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "crieur", "--bin", "crieur"]);
        if profile.ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building crieur failed");
    }
    bin
}

fn validate_process(c: &mut Criterion, config: &Path) {
    let bin = crieur_bin();
    let run = || {
        let out = Command::new(&bin)
            .args(["--config"])
            .arg(config)
            .args(["--now", NOW, "validate"])
            .env_remove("CRIEUR_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        // 0: clean; 1: the generated queue has policy findings. 2 would mean it could not run.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout.len()
    };
    let summary = {
        let out = Command::new(&bin)
            .arg("--config")
            .arg(config)
            .args(["--now", NOW, "validate"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().last().unwrap_or_default().to_owned()
    };
    eprintln!("crieur validate: {summary}");
    assert!(summary.starts_with(&format!("{POSTS} posts on 10 channels")), "{summary}");
    let mut g = c.benchmark_group("validate");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("crieur validate process, 10k posts", |b| b.iter(|| black_box(run())));
    g.finish();
}

fn load(path: &Path) -> (Config, Vec<Post>) {
    let config = crieur_config::load_config(path).unwrap();
    let posts = crieur_config::load_posts(&config).unwrap();
    (config, posts)
}

fn channels(config: &Config) -> Vec<Channel> {
    config.channels.values().map(|c| c.channel.clone()).collect()
}

/// Render and text rules for every (post, channel) of the queue, as `validate` does; returns
/// the number of error diagnostics.
fn render_and_check(config: &Config, posts: &[Post], channels: &[Channel]) -> usize {
    let eff: HashMap<&str, crieur_policy::Effective> = channels
        .iter()
        .map(|c| (c.name.as_str(), crieur_policy::effective(&config.policy, c)))
        .collect();
    let by_name: HashMap<&str, &Channel> = channels.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut errors = 0;
    for p in posts {
        for name in &p.channels {
            let (Some(ch), Some(e)) = (by_name.get(name.as_str()), eff.get(name.as_str())) else {
                continue;
            };
            let ctx = RenderContext::new(&config.mentions, e);
            let r = crieur_policy::render(p, ch, &ctx);
            let d = crieur_policy::check_post(p, ch, &r, e);
            errors += d.iter().filter(|d| d.severity == Severity::Error).count();
        }
    }
    errors
}

/// The calendar rules over the laid window.
fn calendar_rules(
    config: &Config,
    posts: &[Post],
    channels: &[Channel],
    calendar: &crieur_scheduler::Calendar,
    window: (Timestamp, Timestamp),
) -> usize {
    let by_name: HashMap<&str, &Channel> = channels.iter().map(|c| (c.name.as_str(), c)).collect();
    let scheduled: Vec<Scheduled> = calendar
        .entries
        .iter()
        .filter_map(|e| {
            let i = e.post?;
            let ch = by_name.get(e.channel.as_str())?;
            let eff = crieur_policy::effective(&config.policy, ch);
            let r =
                crieur_policy::render(&posts[i], ch, &RenderContext::new(&config.mentions, &eff));
            Some(Scheduled {
                post_id: posts[i].id.clone(),
                channel: ch.name.clone(),
                at: e.at.clone(),
                text: r.text,
                category: posts[i].category.clone(),
                location: Some(posts[i].location.clone()),
            })
        })
        .collect();
    let refs: Vec<&Channel> = channels.iter().collect();
    crieur_policy::check_calendar(&scheduled, &[], window, &refs, &config.policy).len()
}

fn validate_library(c: &mut Criterion, path: &Path) {
    let now: Timestamp = NOW.parse().unwrap();
    let to = now + SignedDuration::from_hours(24 * 28);
    let (config, posts) = load(path);
    assert_eq!(posts.len(), POSTS);
    let chans = channels(&config);
    let history = History::new();
    let calendar = crieur_scheduler::lay(&chans, &posts, &history, now, to, now).unwrap();
    eprintln!(
        "{} calendar entries, {} text errors, {} calendar findings",
        calendar.entries.len(),
        render_and_check(&config, &posts, &chans),
        calendar_rules(&config, &posts, &chans, &calendar, (now, to))
    );
    let mut g = c.benchmark_group("validate phases");
    g.sample_size(20);
    g.bench_function("load config and 10k posts", |b| b.iter(|| black_box(load(path))));
    g.bench_function("lay 4 weeks", |b| {
        b.iter(|| crieur_scheduler::lay(&chans, black_box(&posts), &history, now, to, now).unwrap())
    });
    g.bench_function("render and text rules", |b| {
        b.iter(|| render_and_check(&config, black_box(&posts), &chans))
    });
    g.bench_function("calendar rules", |b| {
        b.iter(|| calendar_rules(&config, black_box(&posts), &chans, &calendar, (now, to)))
    });
    g.bench_function("all phases in one process", |b| {
        b.iter(|| {
            let (config, posts) = load(path);
            let chans = channels(&config);
            let calendar = crieur_scheduler::lay(&chans, &posts, &history, now, to, now).unwrap();
            render_and_check(&config, &posts, &chans)
                + calendar_rules(&config, &posts, &chans, &calendar, (now, to))
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_validate_project(dir.path(), POSTS).unwrap();
    validate_process(c, &config);
    validate_library(c, &config);
}

criterion_group!(benches, bench);
criterion_main!(benches);
