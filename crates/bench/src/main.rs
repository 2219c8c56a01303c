//! `crieur-bench`: drives the real `crieur` binary and reports against the performance goals.
//!
//! `cargo run --release -p crieur-bench -- [--smoke] [SCENARIO]` (default: every scenario):
//! `capacity` (the receiver's own ceiling), `latency` (posts spread over a window: due-to-request
//! latency, beside a tokio-cron-scheduler baseline firing the same instants), `throughput` (many
//! posts due at one instant: durable deliveries per second), `idle` (a daemon holding 10,000
//! queued posts: READY time, RSS, CPU), `scraped` (the latency run with the HTTP endpoint on and
//! `/metrics` scraped every second, beside the same run without) and `validate` (wall time and peak RSS of
//! `crieur validate`). Daemon scenarios run on SQLite, and on PostgreSQL with 1 and 3 instances.
//! Prints one Markdown table of medians with their spread; exits 1 when anything failed, any
//! delivery was duplicated or lost, or the receiver refused a request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use crieur_bench::daemon::{self, Daemon};
use crieur_bench::db::{self, Counter, ScratchDb};
use crieur_bench::project::{self, Due};
use crieur_bench::receiver::{self, Receiver};
use crieur_bench::stats::{self, Spread};
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Parser)]
#[command(name = "crieur-bench", about = "Benchmarks of the real crieur binary on loopback.")]
struct Cli {
    /// The crieur binary (default: `crieur` beside this tool, i.e. target/release/crieur).
    #[arg(long, global = true, value_name = "PATH")]
    crieur: Option<PathBuf>,
    /// Runs of each measurement; figures are medians with min–max.
    #[arg(long, global = true, default_value_t = 3)]
    runs: usize,
    /// Everything tiny and fast (a few seconds each); exit 1 on any duplicate or failure.
    #[arg(long, global = true)]
    smoke: bool,
    /// Where the daemons run: any of sqlite, pg1, pg3 (comma-separated).
    #[arg(long, global = true, value_delimiter = ',', default_value = "sqlite,pg1,pg3")]
    backends: Vec<Backend>,
    /// `[queue] claim_lead_ms` of the daemons (default: crieur's own, 300).
    #[arg(long, global = true)]
    claim_lead_ms: Option<u32>,
    /// How long the idle daemon is watched, in seconds (default 60; 2 with --smoke).
    #[arg(long, global = true)]
    idle_secs: Option<u64>,
    /// Posts in the scenario run (overrides the scenario's default).
    #[arg(long, global = true)]
    posts: Option<usize>,
    /// Webhook channels in the scenario run (overrides the scenario's default).
    #[arg(long, global = true)]
    channels: Option<usize>,
    /// Seconds between writing the posts and the first due instant (time to start and sync).
    #[arg(long, global = true)]
    lead_secs: Option<u64>,
    /// RUST_LOG of the daemons (their logs go to files in the run's folder).
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Worker threads of the loopback receiver.
    #[arg(long, global = true, default_value_t = 2)]
    receiver_threads: usize,
    /// Keep each run's folder (config, posts, daemon logs) and print where it is.
    #[arg(long, global = true)]
    keep: bool,
    #[command(subcommand)]
    scenario: Option<Scenario>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Scenario {
    /// Every scenario below.
    All,
    /// The receiver's own capacity, driven by a client at full speed.
    Capacity,
    /// Posts spread over a window (1,000 in 60 s): due-to-request latency, and the baseline.
    Latency,
    /// Many posts due at one instant (10,000 on 64 channels): durable deliveries per second.
    Throughput,
    /// A burst of posts at one instant (500 on 100 channels): due-to-request latency.
    Burst,
    /// A daemon with 10,000 posts queued days ahead on 100 channels: READY time at the first
    /// start and after a restart, RSS and CPU while idle.
    Idle,
    /// `crieur validate` on 10,000 posts, 10 channels, 4 weeks (and with every post on two
    /// channels): wall time and peak RSS.
    Validate,
    /// The latency run with the HTTP endpoint on and `/metrics` scraped every second, beside the
    /// same run without the endpoint.
    Scraped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// One daemon on a SQLite file.
    Sqlite,
    /// One daemon on a scratch PostgreSQL database.
    Pg1,
    /// Three daemons on one scratch PostgreSQL database.
    Pg3,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Pg1 => "PostgreSQL ×1",
            Backend::Pg3 => "PostgreSQL ×3",
        }
    }

    fn instances(self) -> usize {
        if self == Backend::Pg3 { 3 } else { 1 }
    }
}

/// One scenario of the bench.
type Step = fn(&mut Bench) -> anyhow::Result<()>;

/// One line of the results table.
struct Row {
    scenario: String,
    setup: String,
    metric: &'static str,
    value: String,
    goal: &'static str,
    met: Option<bool>,
}

struct Bench {
    cli: Cli,
    crieur: PathBuf,
    receiver: Receiver,
    rt: tokio::runtime::Runtime,
    rows: Vec<Row>,
    problems: Vec<String>,
    scratch_n: usize,
    /// Set by the `scraped` scenario: daemons get the endpoint, scraped every second.
    scrape: bool,
    /// What the scraper saw in the last daemon run.
    scrapes: Option<crieur_bench::scrape::Scrapes>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    let crieur = match &cli.crieur {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("crieur"))
            .context("no folder for this executable")?,
    };
    if !crieur.is_file() {
        bail!(
            "{} does not exist: build it first with `cargo build --release -p crieur`, or pass --crieur PATH",
            crieur.display()
        );
    }
    let receiver = Receiver::start(cli.receiver_threads)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let scenario = cli.scenario.unwrap_or(Scenario::All);
    let mut b = Bench {
        cli,
        crieur,
        receiver,
        rt,
        rows: Vec::new(),
        problems: Vec::new(),
        scratch_n: 0,
        scrape: false,
        scrapes: None,
    };
    eprintln!(
        "crieur-bench: {} against {} (receiver on {}){}",
        b.crieur.display(),
        match scenario {
            Scenario::All => "every scenario".to_owned(),
            s => format!("{s:?}").to_lowercase(),
        },
        b.receiver.addr(),
        if b.cli.smoke { ", smoke mode" } else { "" }
    );
    let all = scenario == Scenario::All;
    let steps: [(Scenario, Step); 7] = [
        (Scenario::Capacity, Bench::capacity),
        (Scenario::Latency, Bench::latency),
        (Scenario::Throughput, Bench::throughput),
        (Scenario::Burst, Bench::burst),
        (Scenario::Idle, Bench::idle),
        (Scenario::Validate, Bench::validate),
        (Scenario::Scraped, Bench::scraped),
    ];
    for (s, f) in steps {
        if (all || scenario == s)
            && let Err(e) = f(&mut b)
        {
            b.problems.push(format!("{s:?}: {e:#}"));
        }
    }
    b.print();
    Ok(b.problems.is_empty())
}

impl Bench {
    fn runs(&self) -> usize {
        if self.cli.smoke { 1 } else { self.cli.runs.max(1) }
    }

    fn row(
        &mut self,
        scenario: &str,
        setup: &str,
        metric: &'static str,
        value: String,
        goal: &'static str,
        met: Option<bool>,
    ) {
        self.rows.push(Row {
            scenario: scenario.to_owned(),
            setup: setup.to_owned(),
            metric,
            value,
            goal,
            // Tiny smoke runs say nothing about the goals.
            met: if self.cli.smoke { None } else { met },
        });
    }

    fn tempdir(&self, what: &str) -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::Builder::new().prefix(&format!("crieur-bench-{what}-")).tempdir()?;
        Ok(dir)
    }

    fn finish_dir(&self, dir: tempfile::TempDir) {
        if self.cli.keep {
            eprintln!("  kept {}", dir.keep().display());
        }
    }

    fn capacity(&mut self) -> anyhow::Result<()> {
        let secs = if self.cli.smoke { 1 } else { 5 };
        let mut rates = Vec::new();
        for _ in 0..self.runs() {
            let c = receiver::measure_capacity(
                &self.receiver,
                64,
                2,
                Duration::from_secs(secs),
                5_000_000,
            )?;
            if c.errors > 0 {
                self.problems.push(format!("capacity: {} requests failed", c.errors));
            }
            eprintln!(
                "  capacity: {} requests in {:.2} s: {:.0}/s",
                c.requests,
                c.secs,
                c.per_sec()
            );
            rates.push(c.per_sec());
        }
        let s = Spread::of(&rates).context("no run")?;
        let met = s.median >= 10_000.0;
        self.row(
            "receiver capacity",
            "64 keep-alive clients, same machine",
            "requests/s",
            s.show(0),
            "≥ 2× the delivery goal (10,000/s)",
            Some(met),
        );
        Ok(())
    }

    fn lead(&self, default: u64) -> SignedDuration {
        SignedDuration::from_secs(i64::try_from(self.cli.lead_secs.unwrap_or(default)).unwrap_or(5))
    }

    fn latency(&mut self) -> anyhow::Result<()> {
        let (posts, channels, window) = if self.cli.smoke { (50, 2, 2) } else { (1000, 10, 60) };
        let posts = self.cli.posts.unwrap_or(posts);
        let channels = self.cli.channels.unwrap_or(channels);
        let window = SignedDuration::from_secs(window);
        let label =
            format!("latency: {posts} posts over {}s, {channels} channels", window.as_secs());
        let mut baseline_p99 = Vec::new();
        let mut baseline = (Vec::new(), Vec::new(), Vec::new());
        let mut early = Vec::new();
        for _ in 0..self.runs() {
            let r = self.baseline_run(posts, channels, window)?;
            baseline.0.push(r.0);
            baseline.1.push(r.1);
            baseline.2.push(r.2);
            baseline_p99.push(r.1);
            early.push(r.3 as f64);
        }
        let setup = "tokio-cron-scheduler baseline";
        self.latency_rows(&label, setup, &baseline, None);
        if let Some(s) = Spread::of(&early) {
            self.row(
                &label,
                setup,
                "sent before the due instant",
                format!("{} of {posts}", s.show(0)),
                "",
                None,
            );
        }
        let baseline_median = Spread::of(&baseline_p99).map(|s| s.median);
        for backend in self.cli.backends.clone() {
            let mut lat = (Vec::new(), Vec::new(), Vec::new());
            let mut runs = Vec::new();
            for n in 0..self.runs() {
                let mut due = |at| {
                    project::spread("lat", at, window, posts, &project::channel_names(channels))
                };
                let r = self.daemon_run(backend, n, self.lead(4), &mut due, window)?;
                lat.0.push(r.p50);
                lat.1.push(r.p99);
                lat.2.push(r.max);
                runs.push(r);
            }
            self.latency_rows(&label, backend.name(), &lat, baseline_median);
            self.daemon_rows(&label, backend, &runs, false);
        }
        Ok(())
    }

    fn latency_rows(
        &mut self,
        label: &str,
        setup: &str,
        lat: &(Vec<f64>, Vec<f64>, Vec<f64>),
        baseline_p99: Option<f64>,
    ) {
        let (p50, p99, max) = (Spread::of(&lat.0), Spread::of(&lat.1), Spread::of(&lat.2));
        if let Some(s) = p50 {
            self.row(label, setup, "latency p50 (ms)", s.show(2), "", None);
        }
        if let Some(s) = p99 {
            let is_crieur = baseline_p99.is_some();
            self.row(
                label,
                setup,
                "latency p99 (ms)",
                s.show(2),
                if is_crieur { "≤ 10 ms" } else { "" },
                is_crieur.then_some(s.median <= 10.0),
            );
            if let Some(b) = baseline_p99 {
                let ratio = if s.median > 0.0 { b / s.median } else { f64::INFINITY };
                self.row(
                    label,
                    setup,
                    "baseline p99 / crieur p99",
                    format!("{ratio:.0}×"),
                    "≥ 20×",
                    Some(ratio >= 20.0),
                );
            }
        }
        if let Some(s) = max {
            self.row(label, setup, "latency max (ms)", s.show(2), "", None);
        }
    }

    fn throughput(&mut self) -> anyhow::Result<()> {
        let (posts, channels) = if self.cli.smoke { (200, 4) } else { (10_000, 64) };
        let posts = self.cli.posts.unwrap_or(posts);
        let channels = self.cli.channels.unwrap_or(channels);
        let label = format!("throughput: {posts} posts due at one instant, {channels} channels");
        for backend in self.cli.backends.clone() {
            let mut runs = Vec::new();
            for n in 0..self.runs() {
                let mut due =
                    |at| project::same_instant("tp", at, posts, &project::channel_names(channels));
                let lead = self.lead(if self.cli.smoke { 4 } else { 8 });
                runs.push(self.daemon_run(backend, n, lead, &mut due, SignedDuration::ZERO)?);
            }
            self.daemon_rows(&label, backend, &runs, true);
        }
        Ok(())
    }

    fn burst(&mut self) -> anyhow::Result<()> {
        let (posts, channels) = if self.cli.smoke { (50, 10) } else { (500, 100) };
        let posts = self.cli.posts.unwrap_or(posts);
        let channels = self.cli.channels.unwrap_or(channels);
        let label = format!("burst: {posts} posts due at one instant, {channels} channels");
        for backend in self.cli.backends.clone() {
            let mut runs = Vec::new();
            let mut lat = (Vec::new(), Vec::new(), Vec::new());
            for n in 0..self.runs() {
                let mut due = |at| {
                    project::same_instant("burst", at, posts, &project::channel_names(channels))
                };
                let lead = self.lead(if self.cli.smoke { 4 } else { 6 });
                let r = self.daemon_run(backend, n, lead, &mut due, SignedDuration::ZERO)?;
                lat.0.push(r.p50);
                lat.1.push(r.p99);
                lat.2.push(r.max);
                runs.push(r);
            }
            let setup = backend.name();
            if let Some(s) = Spread::of(&lat.0) {
                self.row(&label, setup, "latency p50 (ms)", s.show(2), "", None);
            }
            if let Some(s) = Spread::of(&lat.1) {
                let met = s.median <= 250.0;
                self.row(&label, setup, "latency p99 (ms)", s.show(2), "≤ 250 ms", Some(met));
            }
            if let Some(s) = Spread::of(&lat.2) {
                self.row(&label, setup, "latency max (ms)", s.show(2), "", None);
            }
            self.daemon_rows(&label, backend, &runs, false);
        }
        Ok(())
    }

    fn daemon_rows(&mut self, label: &str, backend: Backend, runs: &[DaemonRun], throughput: bool) {
        let setup = backend.name();
        let rate: Vec<f64> = runs.iter().map(|r| r.durable_per_sec).collect();
        if let Some(s) = Spread::of(&rate).filter(|_| throughput) {
            let goal_applies = throughput && backend != Backend::Pg1;
            self.row(
                label,
                setup,
                "durable deliveries/s",
                s.show(0),
                if goal_applies { "≥ 5,000/s" } else { "" },
                goal_applies.then_some(s.median >= 5000.0),
            );
        }
        let dups: usize = runs.iter().map(|r| r.duplicates).sum();
        self.row(label, setup, "duplicates (all runs)", dups.to_string(), "0", Some(dups == 0));
        let ready: Vec<f64> = runs.iter().flat_map(|r| r.ready_ms.iter().copied()).collect();
        if let Some(s) = Spread::of(&ready) {
            self.row(label, setup, "READY after start (ms)", s.show(1), "", None);
        }
        let hwm: Vec<f64> = runs.iter().flat_map(|r| r.hwm_mib.iter().copied()).collect();
        if let Some(s) = Spread::of(&hwm) {
            self.row(label, setup, "peak RSS per daemon (MiB)", s.show(1), "", None);
        }
    }

    /// One run of crieur daemons on `backend`: posts from `due(first instant)`, waits until the
    /// database shows them all published, stops the daemons and checks what the receiver got.
    fn daemon_run(
        &mut self,
        backend: Backend,
        n: usize,
        lead: SignedDuration,
        due: &mut dyn FnMut(Timestamp) -> Result<Vec<Due>, crieur_bench::BenchError>,
        window: SignedDuration,
    ) -> anyhow::Result<DaemonRun> {
        let dir = self.tempdir("run")?;
        let scratch = match backend {
            Backend::Sqlite => None,
            Backend::Pg1 | Backend::Pg3 => {
                self.scratch_n += 1;
                Some(self.rt.block_on(ScratchDb::create(&db::admin_url(), self.scratch_n))?)
            }
        };
        let url = scratch
            .as_ref()
            .map_or_else(|| "sqlite://crieur.db".to_owned(), |s| s.url().to_owned());
        let result = self.daemon_run_in(backend, n, lead, due, window, dir.path(), &url);
        if let Some(s) = scratch
            && let Err(e) = self.rt.block_on(s.drop_now())
        {
            self.problems.push(format!("dropping a scratch database: {e}"));
        }
        if result.is_err() || self.cli.keep {
            eprintln!("  run folder: {}", dir.keep().display());
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn daemon_run_in(
        &mut self,
        backend: Backend,
        n: usize,
        lead: SignedDuration,
        due: &mut dyn FnMut(Timestamp) -> Result<Vec<Due>, crieur_bench::BenchError>,
        window: SignedDuration,
        dir: &Path,
        url: &str,
    ) -> anyhow::Result<DaemonRun> {
        let first_due = (Timestamp::now() + lead).round(jiff::Unit::Second)?;
        let posts = due(first_due)?;
        let channels: Vec<String> = {
            let mut c: Vec<String> = posts.iter().map(|d| d.channel.clone()).collect();
            c.sort();
            c.dedup();
            c
        };
        let config = project::write_webhook_project(
            dir,
            url,
            self.receiver.addr(),
            &channels,
            &posts,
            self.cli.claim_lead_ms,
        )?;
        let endpoint = if self.scrape {
            Some(crieur_bench::scrape::add_endpoint(&config, crieur_bench::scrape::free_port()?)?)
        } else {
            None
        };
        let out = daemon::run(&self.crieur, &config, &["migrate"])?;
        if !out.status.success() {
            bail!("crieur migrate failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        self.receiver.take();
        let rejected_before = self.receiver.rejected();
        let mut daemons = Vec::new();
        for i in 0..backend.instances() {
            daemons.push(Daemon::spawn(
                &self.crieur,
                &config,
                &dir.join(format!("notify-{i}.sock")),
                &dir.join(format!("crieur-{i}.log")),
                &self.cli.log_level,
            )?);
        }
        let mut ready_ms = Vec::new();
        for d in &mut daemons {
            ready_ms.push(d.wait_ready(Duration::from_secs(60))?.as_secs_f64() * 1000.0);
        }
        let ready_at = Timestamp::now();
        if ready_at > first_due {
            bail!(
                "the daemons were ready {} ms after the first due instant: raise --lead-secs",
                first_due.duration_until(ready_at).as_millis()
            );
        }
        let scraper =
            endpoint.map(|a| crieur_bench::scrape::Scraper::start(a, Duration::from_secs(1)));
        let expected = posts.len() as u64;
        let counter = match backend {
            Backend::Sqlite => self.rt.block_on(Counter::sqlite(&dir.join("crieur.db")))?,
            _ => self.rt.block_on(Counter::postgres(url))?,
        };
        let deadline = Instant::now()
            + Duration::try_from(first_due.duration_since(Timestamp::now()) + window)
                .unwrap_or_default()
            + Duration::from_secs(120);
        let done_at = loop {
            let published = self.rt.block_on(counter.published())?;
            if published >= expected {
                break Timestamp::now();
            }
            if Instant::now() > deadline {
                bail!(
                    "only {published} of {expected} published in time; logs in {}",
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.scrapes = scraper.map(crieur_bench::scrape::Scraper::stop);
        let total = self.rt.block_on(counter.total())?;
        self.rt.block_on(counter.close());
        // Late duplicates would arrive now.
        std::thread::sleep(Duration::from_millis(300));
        let mut hwm_mib = Vec::new();
        for d in &daemons {
            hwm_mib.push(d.memory()?.hwm_kib as f64 / 1024.0);
        }
        for d in daemons {
            let log = d.log().to_owned();
            let status = d.stop(Duration::from_secs(30))?;
            if !status.success() {
                self.problems
                    .push(format!("crieur run exited with {status}; see {}", log.display()));
            }
        }
        let arrivals = self.receiver.take();
        let check = stats::check(&posts, &arrivals);
        let rejected = self.receiver.rejected() - rejected_before;
        if self.cli.keep {
            write_arrivals(&dir.join("arrivals.csv"), &posts, &arrivals)?;
        }
        let durable_secs = first_due.duration_until(done_at).as_secs_f64();
        let run = DaemonRun {
            p50: check.abs_percentile(50.0).unwrap_or(f64::NAN),
            p99: check.abs_percentile(99.0).unwrap_or(f64::NAN),
            max: check.abs_percentile(100.0).unwrap_or(f64::NAN),
            min: check.percentile(0.0).unwrap_or(f64::NAN),
            durable_per_sec: if durable_secs > 0.0 { expected as f64 / durable_secs } else { 0.0 },
            duplicates: check.duplicates,
            ready_ms,
            hwm_mib,
        };
        eprintln!(
            "  {} run {}: {} delivered, {} duplicates, {} missing; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, min {:.2} ms; all published {:.3} s after the first due instant ({:.0}/s); READY {:?} ms; peak RSS {:?} MiB",
            backend.name(),
            n + 1,
            check.received,
            check.duplicates,
            check.missing,
            run.p50,
            run.p99,
            run.max,
            run.min,
            durable_secs,
            run.durable_per_sec,
            run.ready_ms.iter().map(|r| r.round()).collect::<Vec<_>>(),
            run.hwm_mib.iter().map(|m| (m * 10.0).round() / 10.0).collect::<Vec<_>>(),
        );
        if !check.is_exact() {
            self.problems.push(format!(
                "{}: {} duplicates, {} missing, {} unexpected deliveries",
                backend.name(),
                check.duplicates,
                check.missing,
                check.unexpected
            ));
        }
        if rejected > 0 {
            self.problems
                .push(format!("{}: the receiver refused {rejected} requests", backend.name()));
        }
        if total != expected {
            self.problems.push(format!(
                "{}: {total} deliveries in the database, {expected} expected",
                backend.name()
            ));
        }
        if run.min < 0.0 {
            self.problems.push(format!(
                "{}: a post went out {:.1} ms before its instant",
                backend.name(),
                -run.min
            ));
        }
        Ok(run)
    }

    /// The baseline: the same schedule fired by tokio-cron-scheduler one-shot jobs, one per due
    /// instant, each sending that instant's posts with crieur's own webhook publisher (the same
    /// signed POST to the same receiver). Returns (p50, p99, max) in ms.
    fn baseline_run(
        &mut self,
        posts: usize,
        channels: usize,
        window: SignedDuration,
    ) -> anyhow::Result<(f64, f64, f64, usize)> {
        use crieur_core::{Delivery, Network, Outcome, Publisher as _};
        use tokio_cron_scheduler::{Job, JobScheduler};

        let names = project::channel_names(channels);
        let first_due =
            (Timestamp::now() + SignedDuration::from_secs(3)).round(jiff::Unit::Second)?;
        let due = project::spread("base", first_due, window, posts, &names)?;
        self.receiver.take();
        let rejected_before = self.receiver.rejected();
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let addr = self.receiver.addr();
        let failures = rt.block_on(async {
            let mut publishers = BTreeMap::new();
            for name in &names {
                let mut cfg = crieur_net_webhook::WebhookConfig::new(
                    name.as_str(),
                    format!("http://{addr}/{name}"),
                    secrecy::SecretString::from(project::SECRET),
                );
                cfg.allow_private = true;
                publishers.insert(
                    name.clone(),
                    Arc::new(crieur_net_webhook::WebhookPublisher::new(cfg)?),
                );
            }
            let publishers = Arc::new(publishers);
            let mut slots: BTreeMap<Timestamp, Vec<Delivery>> = BTreeMap::new();
            for d in &due {
                slots.entry(d.at).or_default().push(Delivery {
                    id: d.delivery_id(),
                    post: d.post.clone(),
                    channel: d.channel.clone(),
                    network: Network::Webhook,
                    text: format!("Load test post {} on {}.", d.post, d.channel),
                    link: None,
                    category: None,
                    article: None,
                    item: 0,
                    reply_to: None,
                    attempt: 1,
                    attempt_started_at: d.at,
                    may_have_been_sent: false,
                    media: Vec::new(),
                    options: Default::default(),
                });
            }
            let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let sched = JobScheduler::new().await?;
            for (at, deliveries) in slots {
                let wait =
                    Duration::try_from(Timestamp::now().duration_until(at)).unwrap_or_default();
                let (publishers, failures) = (publishers.clone(), failures.clone());
                let job =
                    Job::new_one_shot_at_instant_async(Instant::now() + wait, move |_, _| {
                        let (publishers, failures, deliveries) =
                            (publishers.clone(), failures.clone(), deliveries.clone());
                        Box::pin(async move {
                            for d in &deliveries {
                                let Some(p) = publishers.get(&d.channel) else { continue };
                                if !matches!(p.publish(d).await, Outcome::Published { .. }) {
                                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            }
                        })
                    })?;
                sched.add(job).await?;
            }
            let mut sched = sched;
            sched.start().await?;
            if Timestamp::now() > first_due {
                anyhow::bail!(
                    "the baseline's jobs were not scheduled before the first due instant"
                );
            }
            let deadline = Instant::now()
                + Duration::try_from(first_due.duration_since(Timestamp::now()) + window)
                    .unwrap_or_default()
                + Duration::from_secs(30);
            while self.receiver.len() < due.len() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sched.shutdown().await?;
            Ok::<u64, anyhow::Error>(failures.load(std::sync::atomic::Ordering::Relaxed))
        })?;
        rt.shutdown_background();
        std::thread::sleep(Duration::from_millis(100));
        let check = stats::check(&due, &self.receiver.take());
        let (p50, p99, max) = (
            check.abs_percentile(50.0).unwrap_or(f64::NAN),
            check.abs_percentile(99.0).unwrap_or(f64::NAN),
            check.abs_percentile(100.0).unwrap_or(f64::NAN),
        );
        eprintln!(
            "  baseline: {} delivered, {} duplicates, {} missing, {} early; |arrival - due| p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; signed min {:.2} ms, max {:.2} ms",
            check.received,
            check.duplicates,
            check.missing,
            check.early(),
            check.percentile(0.0).unwrap_or(f64::NAN),
            check.percentile(100.0).unwrap_or(f64::NAN),
        );
        if !check.is_exact() || failures > 0 || self.receiver.rejected() > rejected_before {
            self.problems.push(format!(
                "baseline: {} duplicates, {} missing, {failures} failed sends",
                check.duplicates, check.missing
            ));
        }
        Ok((p50, p99, max, check.early()))
    }

    fn idle(&mut self) -> anyhow::Result<()> {
        let posts = self.cli.posts.unwrap_or(if self.cli.smoke { 500 } else { 10_000 });
        let channels = self.cli.channels.unwrap_or(if self.cli.smoke { 10 } else { 100 });
        let secs = self.cli.idle_secs.unwrap_or(if self.cli.smoke { 2 } else { 60 });
        let label = format!("idle: {posts} posts queued days ahead, {channels} channels, {secs} s");
        let backends: Vec<Backend> =
            self.cli.backends.iter().copied().filter(|b| *b != Backend::Pg3).collect();
        for backend in backends {
            let (mut ready, mut rss, mut hwm, mut cpu, mut first) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..self.runs() {
                let r = self.idle_run(backend, posts, channels, secs)?;
                ready.push(r.0);
                rss.push(r.1);
                hwm.push(r.2);
                cpu.push(r.3);
                first.push(r.4);
            }
            let setup = backend.name();
            if let Some(s) = Spread::of(&first) {
                self.row(
                    &label,
                    setup,
                    "READY at the first start (ms)",
                    s.show(1),
                    "≤ 1 s",
                    Some(s.median <= 1000.0),
                );
            }
            if let Some(s) = Spread::of(&ready) {
                self.row(
                    &label,
                    setup,
                    "READY after a restart, files unchanged (ms)",
                    s.show(1),
                    "≤ 100 ms",
                    Some(s.median <= 100.0),
                );
            }
            if let Some(s) = Spread::of(&rss) {
                self.row(
                    &label,
                    setup,
                    "RSS at the end (MiB)",
                    s.show(1),
                    "≤ 15 MB",
                    Some(s.median * 1.048_576 <= 15.0),
                );
            }
            if let Some(s) = Spread::of(&hwm) {
                self.row(&label, setup, "peak RSS (MiB)", s.show(1), "", None);
            }
            if let Some(s) = Spread::of(&cpu) {
                self.row(&label, setup, "CPU time while idle (ms)", s.show(0), "", None);
            }
        }
        Ok(())
    }

    /// (READY ms after a restart, RSS MiB at the end, peak RSS MiB, CPU ms over the idle time,
    /// READY ms at the first start).
    fn idle_run(
        &mut self,
        backend: Backend,
        posts: usize,
        channels: usize,
        secs: u64,
    ) -> anyhow::Result<(f64, f64, f64, f64, f64)> {
        let dir = self.tempdir("idle")?;
        let scratch = match backend {
            Backend::Sqlite => None,
            _ => {
                self.scratch_n += 1;
                Some(self.rt.block_on(ScratchDb::create(&db::admin_url(), self.scratch_n))?)
            }
        };
        let url = scratch
            .as_ref()
            .map_or_else(|| "sqlite://crieur.db".to_owned(), |s| s.url().to_owned());
        let result = (|| {
            let start =
                (Timestamp::now() + SignedDuration::from_hours(48)).round(jiff::Unit::Second)?;
            let due = project::spread(
                "idle",
                start,
                SignedDuration::from_hours(24 * 7),
                posts,
                &project::channel_names(channels),
            )?;
            let config = project::write_webhook_project(
                dir.path(),
                &url,
                self.receiver.addr(),
                &project::channel_names(channels),
                &due,
                self.cli.claim_lead_ms,
            )?;
            self.receiver.take();
            // First start: migrations and the first sync of the queue.
            let mut warm = Daemon::spawn(
                &self.crieur,
                &config,
                &dir.path().join("notify-warm.sock"),
                &dir.path().join("crieur-warm.log"),
                &self.cli.log_level,
            )?;
            let first = warm.wait_ready(Duration::from_secs(60))?;
            warm.stop(Duration::from_secs(30))?;
            let mut d = Daemon::spawn(
                &self.crieur,
                &config,
                &dir.path().join("notify.sock"),
                &dir.path().join("crieur.log"),
                &self.cli.log_level,
            )?;
            let ready = d.wait_ready(Duration::from_secs(60))?;
            let cpu0 = d.cpu_time()?;
            std::thread::sleep(Duration::from_secs(secs));
            let cpu1 = d.cpu_time()?;
            let mem = d.memory()?;
            let status = d.stop(Duration::from_secs(30))?;
            if !status.success() {
                bail!("crieur run exited with {status}");
            }
            let counter = match backend {
                Backend::Sqlite => {
                    self.rt.block_on(Counter::sqlite(&dir.path().join("crieur.db")))?
                }
                _ => self.rt.block_on(Counter::postgres(&url))?,
            };
            let (total, published) =
                (self.rt.block_on(counter.total())?, self.rt.block_on(counter.published())?);
            self.rt.block_on(counter.close());
            if total != posts as u64 || published != 0 || !self.receiver.is_empty() {
                bail!(
                    "the idle daemon holds {total} deliveries ({published} published, {} requests sent); {posts} queued expected",
                    self.receiver.len()
                );
            }
            let r = (
                ready.as_secs_f64() * 1000.0,
                mem.rss_kib as f64 / 1024.0,
                mem.hwm_kib as f64 / 1024.0,
                cpu1.saturating_sub(cpu0).as_secs_f64() * 1000.0,
                first.as_secs_f64() * 1000.0,
            );
            eprintln!(
                "  idle {}: first start READY {:.1} ms; after a restart READY {:.1} ms, RSS {:.1} MiB, peak {:.1} MiB, CPU {:.0} ms over {secs} s",
                backend.name(),
                r.4,
                r.0,
                r.1,
                r.2,
                r.3
            );
            Ok(r)
        })();
        if let Some(s) = scratch
            && let Err(e) = self.rt.block_on(s.drop_now())
        {
            self.problems.push(format!("dropping a scratch database: {e}"));
        }
        if result.is_err() {
            eprintln!("  run folder: {}", dir.keep().display());
        } else {
            self.finish_dir(dir);
        }
        result
    }

    /// The latency run on SQLite twice per repetition: without the endpoint, then with `[http]`
    /// on and `/metrics` scraped every second (a fresh connection each time, as Prometheus does):
    /// the p99 of both side by side, their difference, and how the scrapes went.
    fn scraped(&mut self) -> anyhow::Result<()> {
        let (posts, channels, window) = if self.cli.smoke { (50, 2, 3) } else { (1000, 10, 60) };
        let posts = self.cli.posts.unwrap_or(posts);
        let channels = self.cli.channels.unwrap_or(channels);
        let window = SignedDuration::from_secs(window);
        let label =
            format!("scraped: {posts} posts over {}s, {channels} channels", window.as_secs());
        let mut plain = (Vec::new(), Vec::new(), Vec::new());
        let mut scraped = (Vec::new(), Vec::new(), Vec::new());
        let (mut ok, mut failed, mut millis) = (0, 0, Vec::new());
        for n in 0..self.runs() {
            for on in [false, true] {
                let mut due = |at| {
                    let prefix = if on { "scr" } else { "lat" };
                    project::spread(prefix, at, window, posts, &project::channel_names(channels))
                };
                self.scrape = on;
                let run = self.daemon_run(Backend::Sqlite, n, self.lead(4), &mut due, window);
                self.scrape = false;
                let run = run?;
                let into = if on { &mut scraped } else { &mut plain };
                into.0.push(run.p50);
                into.1.push(run.p99);
                into.2.push(run.max);
                if let Some(seen) = self.scrapes.take().filter(|_| on) {
                    eprintln!(
                        "  scrapes: {} answered, {} failed, {} bytes each",
                        seen.ok, seen.failed, seen.bytes
                    );
                    ok += seen.ok;
                    failed += seen.failed;
                    millis.extend(seen.millis);
                }
            }
        }
        self.latency_rows(&label, "SQLite, no endpoint", &plain, None);
        let setup = "SQLite, /metrics scraped every 1 s";
        self.latency_rows(&label, setup, &scraped, None);
        if let (Some(a), Some(b)) = (Spread::of(&plain.1), Spread::of(&scraped.1)) {
            let diff = format!("{:+.2}", b.median - a.median);
            self.row(&label, setup, "p99 scraped − p99 without (ms)", diff, "≈ 0", None);
        }
        let met = failed == 0 && ok > 0;
        let answered = format!("{ok} of {}", ok + failed);
        self.row(&label, setup, "scrapes answered", answered, "all", Some(met));
        if let Some(s) = Spread::of(&millis) {
            self.row(&label, setup, "scrape time (ms)", s.show(2), "", None);
        }
        if !met {
            self.problems.push(format!("scraped: {failed} of {} scrapes failed", ok + failed));
        }
        Ok(())
    }

    fn validate(&mut self) -> anyhow::Result<()> {
        self.validate_one(false)?;
        self.validate_one(true)
    }

    /// `crieur validate` on the generated project (every `[[post]]` on two channels when
    /// `two_each`).
    fn validate_one(&mut self, two_each: bool) -> anyhow::Result<()> {
        let posts = self.cli.posts.unwrap_or(if self.cli.smoke { 500 } else { 10_000 });
        let dir = self.tempdir("validate")?;
        let config = project::write_validate_project_with(dir.path(), posts, two_each)?;
        let time = Path::new("/usr/bin/time");
        let (mut wall, mut rss) = (Vec::new(), Vec::new());
        // One untimed run warms the page cache.
        let _ = daemon::run(&self.crieur, &config, &["--now", VALIDATE_NOW, "validate"])?;
        for _ in 0..self.runs().max(if self.cli.smoke { 1 } else { 5 }) {
            let (secs, kib) = if time.is_file() {
                let started = Instant::now();
                let mut cmd = std::process::Command::new(time);
                cmd.args(["-f", "crieur-bench-maxrss-kib=%M", "--"])
                    .arg(&self.crieur)
                    .arg("--config")
                    .arg(&config)
                    .args(["--now", VALIDATE_NOW, "validate"])
                    .stdout(std::process::Stdio::null());
                let out = cmd.output()?;
                let secs = started.elapsed().as_secs_f64();
                check_validate_exit(out.status)?;
                let stderr = String::from_utf8_lossy(&out.stderr);
                let kib = stderr
                    .lines()
                    .find_map(|l| l.strip_prefix("crieur-bench-maxrss-kib="))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .context("/usr/bin/time printed no maximum RSS")?;
                (secs, kib)
            } else {
                // Without GNU time, sample VmHWM: a lower bound of the peak.
                let started = Instant::now();
                let mut child = daemon::command(&self.crieur, &config)
                    .args(["--now", VALIDATE_NOW, "validate"])
                    .stdout(std::process::Stdio::null())
                    .spawn()?;
                let mut kib = 0;
                let status = loop {
                    if let Ok(m) = daemon::memory(child.id()) {
                        kib = kib.max(m.hwm_kib);
                    }
                    if let Some(s) = child.try_wait()? {
                        break s;
                    }
                    std::thread::sleep(Duration::from_micros(500));
                };
                check_validate_exit(status)?;
                (started.elapsed().as_secs_f64(), kib)
            };
            wall.push(secs * 1000.0);
            rss.push(kib as f64 / 1024.0);
        }
        let label = if two_each {
            format!("validate: {posts} posts on 2 channels each, 10 channels, 4 weeks (process)")
        } else {
            format!("validate: {posts} posts, 10 channels, 4 weeks (process)")
        };
        let w = Spread::of(&wall).context("no run")?;
        let r = Spread::of(&rss).context("no run")?;
        eprintln!("  validate: {} ms, peak RSS {} MiB", w.show(1), r.show(1));
        self.row(
            &label,
            "crieur validate",
            "wall time (ms)",
            w.show(1),
            "≤ 100 ms",
            Some(w.median <= 100.0),
        );
        self.row(
            &label,
            "crieur validate",
            "peak RSS (MiB)",
            r.show(1),
            "≤ 50 MB",
            Some(r.median * 1.048_576 <= 50.0),
        );
        self.finish_dir(dir);
        Ok(())
    }

    fn print(&self) {
        println!("| scenario | setup | metric | median (min–max) | goal | met |");
        println!("|---|---|---|---|---|---|");
        for r in &self.rows {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.scenario, r.setup, r.metric, r.value, r.goal, met
            );
        }
        if self.problems.is_empty() {
            eprintln!("crieur-bench: no problem found");
        } else {
            for p in &self.problems {
                eprintln!("problem: {p}");
            }
        }
    }
}

/// The validate bench's fixed "now": Thursday 2026-11-26, 10:00 in Paris.
const VALIDATE_NOW: &str = "2026-11-26T09:00:00Z";

fn check_validate_exit(status: std::process::ExitStatus) -> anyhow::Result<()> {
    // 0: clean, 1: policy findings (the generated queue has some); 2 means it could not run.
    match status.code() {
        Some(0 | 1) => Ok(()),
        _ => bail!("crieur validate failed ({status})"),
    }
}

/// What one daemon run measured.
struct DaemonRun {
    p50: f64,
    p99: f64,
    max: f64,
    min: f64,
    durable_per_sec: f64,
    duplicates: usize,
    ready_ms: Vec<f64>,
    hwm_mib: Vec<f64>,
}

/// `delivery id,due,arrival,latency ms` for each arrival, for looking at a run afterwards.
fn write_arrivals(
    path: &Path,
    posts: &[Due],
    arrivals: &[receiver::Arrival],
) -> anyhow::Result<()> {
    let due: std::collections::HashMap<String, Timestamp> =
        posts.iter().map(|d| (d.delivery_id(), d.at)).collect();
    let mut out = String::from("id,due,arrival,latency_ms\n");
    for a in arrivals {
        let (d, ms) = due.get(&a.id).map_or((String::new(), f64::NAN), |d| {
            (d.to_string(), d.duration_until(a.at).as_secs_f64() * 1000.0)
        });
        out.push_str(&format!("{},{d},{},{ms:.3}\n", a.id, a.at));
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}
