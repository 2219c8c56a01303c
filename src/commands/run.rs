//! `crieur run`: the daemon.
//!
//! Start: load the config, open the store (migrations, instance lock), build one adapter per
//! channel, sync the post files into deliveries, tell systemd READY=1, then run the dispatch loop.
//! SIGHUP reloads everything (config, adapters, posts) after letting requests in flight finish; a
//! change to a post file re-syncs the posts; SIGTERM (or SIGINT) stops claiming, lets requests in
//! flight finish within a bounded wait, and exits 0. Housekeeping (lease rescue, hourly re-sync and
//! token expiry checks) runs on tokio-cron-scheduler in UTC; it never decides when a post goes out.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crieur_config::Config;
use crieur_core::{Clock, Delivery, OffsetClock, Outcome as Sent, SystemClock, TokenVault};
use crieur_scheduler::dispatch::{DispatchSettings, Dispatcher, Gate, Monitor};
use crieur_store::{Key, OpenOptions, Store};
use secrecy::ExposeSecret as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::Outcome;
use crate::commands::Context;
use crate::sync;

/// `crieur run` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Publish everything that is due now, wait for it to settle, and exit (0 if all published).
    #[arg(long)]
    once: bool,
    /// Log every request that would be sent; send none and change no state.
    #[arg(long)]
    dry_run: bool,
}

/// Runs the daemon until SIGTERM (or, with `--once`, until what is due has settled).
///
/// # Errors
/// When the config is invalid, the store cannot be opened (or another instance holds the SQLite
/// file), or a channel's adapter cannot be built.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    crate::logging::init();
    let rt = crate::commands::runtime()?;
    let result = rt.block_on(daemon(ctx, &args));
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    result
}

fn clock(ctx: &Context) -> Arc<dyn Clock> {
    match ctx.now {
        Some(start) => Arc::new(OffsetClock::starting_at(start)),
        None => Arc::new(SystemClock),
    }
}

async fn daemon(ctx: &Context, args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let clock = clock(ctx);
    let config_path = crieur_config::find_config(ctx.config.as_deref())?;
    let config = load_config(&config_path)?;
    if args.dry_run {
        return dry_run(config, clock, args.once).await;
    }
    let key = match &config.storage.key {
        Some(reference) => {
            let text = reference.resolve(&config.dir).context("[storage] key")?;
            Some(Key::from_base64(text.expose_secret())?)
        }
        None => None,
    };
    let store = crieur_store::open(
        &config.storage.url,
        OpenOptions { key, clock: clock.clone(), ..OpenOptions::default() },
    )
    .await
    .with_context(|| format!("opening {}", crieur_store::mask_url(&config.storage.url)))?;
    let owner = crieur_store::new_owner();
    tracing::info!(%owner, database = %crieur_store::mask_url(&config.storage.url), "store open");

    let cancel = CancellationToken::new();
    let reload = Arc::new(tokio::sync::Notify::new());
    let sync_wanted = Arc::new(tokio::sync::Notify::new());
    if !args.once {
        spawn_signals(cancel.clone(), reload.clone())?;
    }
    let monitor = Arc::new(SdMonitor::new());
    let mut config = config;
    let mut first = true;
    let outcome = loop {
        let vault: Arc<dyn TokenVault> = store.clone();
        let publishers = crate::adapters::publishers(&config, Some(vault), clock.clone())?;
        let syncer =
            Arc::new(Syncer { config: config.clone(), store: store.clone(), clock: clock.clone() });
        syncer.sync().await?;
        let gate = Arc::new(PolicyGate::new(config.clone()));
        let mut settings = DispatchSettings::new(owner.clone());
        settings.shutdown_grace = Duration::from_secs(20);
        tune(&mut settings);
        if let Some(every) = monitor.wake_every() {
            settings.max_sleep = every;
        }
        let dispatcher = Dispatcher::new(
            store.clone(),
            publishers,
            clock.clone(),
            gate,
            monitor.clone(),
            settings,
        );
        if args.once {
            let report = dispatcher.run_once().await?;
            tracing::info!(published = report.published, other = report.not_published, "done");
            break if report.not_published == 0 { Outcome::Success } else { Outcome::Problems };
        }
        if first {
            // READY as soon as the store is open and the first sync is done; the queue's summary
            // (a read of every delivery) follows in a STATUS= line.
            monitor.ready("ready");
            tracing::info!(ready_in_ms = started.elapsed().as_millis() as u64, "ready");
            first = false;
        }
        // One read of the queue serves both: lifting "gone" holds and the STATUS= summary.
        match store.status().await {
            Ok(status) => {
                release_gone_holds(&*store, &status, &config).await;
                monitor.status(&summary(&status, &config, clock.now()));
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the queue's state"),
        }
        let round = cancel.child_token();
        let watcher = watch_posts(&config, sync_wanted.clone());
        let housekeeping = housekeeping(syncer.clone(), sync_wanted.clone()).await;
        let resync = {
            let (syncer, dispatcher, wanted, round, monitor) = (
                syncer.clone(),
                dispatcher.clone(),
                sync_wanted.clone(),
                round.clone(),
                monitor.clone(),
            );
            let config = config.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = round.cancelled() => return,
                        () = wanted.notified() => {}
                    }
                    match syncer.sync().await {
                        Ok(()) => dispatcher.wake(),
                        Err(e) => tracing::error!(
                            "re-reading the post files failed; keeping the queue as it was: {e:#}"
                        ),
                    }
                    monitor.status(&status_line(&*syncer.store, &config, syncer.clock.now()).await);
                }
            })
        };
        let reloading = {
            let (reload, round) = (reload.clone(), round.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = reload.notified() => { round.cancel(); true }
                    () = round.cancelled() => false,
                }
            })
        };
        dispatcher.run(round.clone()).await?;
        round.cancel();
        resync.abort();
        drop(watcher);
        if let Some(mut h) = housekeeping {
            let _ = h.shutdown().await;
        }
        if cancel.is_cancelled() || !reloading.await.unwrap_or(false) {
            break Outcome::Success;
        }
        tracing::info!("reloading the config");
        monitor.reloading();
        match load_config(&config_path) {
            Ok(c) => config = c,
            Err(e) => tracing::error!("the new config is invalid; keeping the old one: {e:#}"),
        }
    };
    monitor.stopping();
    store.close().await;
    tracing::info!("stopped");
    Ok(outcome)
}

/// Test and tuning knobs from the environment (documented in the README): `CRIEUR_LEASE_SECS`
/// (the claim lease, default 120), `CRIEUR_RETRY_BASE_MS` (the first retry's backoff ceiling,
/// default 30000) and `CRIEUR_RECONCILE_EVERY_MS` (how long an unknown outcome that could not be
/// settled waits before the next look, default one hour). A value that is not a positive whole
/// number is ignored with a warning.
fn tune(settings: &mut DispatchSettings) {
    let knob = |name: &str| -> Option<i64> {
        let value = std::env::var(name).ok()?;
        match value.trim().parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                tracing::warn!(knob = name, %value, "ignored: a positive whole number is expected");
                None
            }
        }
    };
    if let Some(secs) = knob("CRIEUR_LEASE_SECS") {
        settings.lease = jiff::SignedDuration::from_secs(secs);
    }
    if let Some(ms) = knob("CRIEUR_RETRY_BASE_MS") {
        settings.retry.base = jiff::SignedDuration::from_millis(ms);
    }
    if let Some(ms) = knob("CRIEUR_RECONCILE_EVERY_MS") {
        settings.retry.reconcile_every = jiff::SignedDuration::from_millis(ms);
    }
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    crieur_config::load_config(path).map_err(|errors| anyhow::anyhow!("{errors}"))
}

/// Re-reads the post files and makes the store match.
struct Syncer {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Syncer {
    async fn sync(&self) -> anyhow::Result<()> {
        let posts = crieur_config::load_posts(&self.config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = self.clock.now();
        let status = self.store.status().await?;
        let desired = sync::desired(&self.config, &posts, &status, now)?;
        let report = self.store.sync(&desired, now).await?;
        for id in &report.edited_after_publish {
            tracing::warn!(delivery = %id, "a published post was edited in the files; it is not republished");
        }
        for id in &report.edited_in_flight {
            tracing::warn!(delivery = %id, "a post being sent was edited; the edit applies only if it is sent again");
        }
        if !report.is_noop() {
            tracing::info!(
                inserted = report.inserted,
                updated = report.updated,
                revived = report.revived,
                cancelled = report.cancelled,
                "queue synced from the post files"
            );
        }
        Ok(())
    }
}

/// A webhook channel that answered 410 is held until the config is reloaded: lift those holds.
async fn release_gone_holds(
    store: &dyn Store,
    status: &crieur_store::StatusReport,
    config: &Config,
) {
    for c in &status.channels {
        let gone = c
            .hold
            .as_ref()
            .is_some_and(|(_, r)| r.starts_with(crieur_scheduler::dispatch::GONE_PREFIX));
        if gone
            && config.channels.contains_key(&c.channel)
            && let Err(e) = store.release_channel(&c.channel).await
        {
            tracing::warn!(error = %e, channel = %c.channel, "could not lift a hold");
        }
    }
}

/// [`summary`] of the store's current state.
async fn status_line(store: &dyn Store, config: &Config, now: jiff::Timestamp) -> String {
    match store.status().await {
        Ok(status) => summary(&status, config, now),
        Err(_) => "store unavailable".into(),
    }
}

/// `12 queued, next: company-x at 09:15`, plus token expiry warnings.
fn summary(status: &crieur_store::StatusReport, config: &Config, now: jiff::Timestamp) -> String {
    let waiting: Vec<&crieur_store::StatusRow> = status
        .deliveries
        .iter()
        .filter(|r| matches!(r.state, crieur_store::State::Queued | crieur_store::State::Retrying))
        .collect();
    let unknown =
        status.deliveries.iter().filter(|r| r.state == crieur_store::State::Unknown).count();
    let mut line = format!("{} queued", waiting.len());
    if let Some(next) = waiting.iter().min_by_key(|r| r.due_at) {
        let tz = config
            .channels
            .get(&next.channel)
            .map_or_else(|| config.timezone.clone(), |c| c.channel.timezone.clone());
        line.push_str(&format!(
            ", next: {} at {}",
            next.channel,
            next.due_at.to_zoned(tz).strftime("%a %H:%M")
        ));
    }
    if unknown > 0 {
        line.push_str(&format!(", {unknown} unknown (see crieur status)"));
    }
    for (channel, w) in token_warnings(status, config, now) {
        line.push_str(&format!("; {channel}: {w}"));
    }
    line
}

/// LinkedIn tokens past a warning threshold (14, 7 or 1 days before expiry, or expired), as text.
/// Only LinkedIn's tokens are meant to be renewed by a person: X's expire every two hours and are
/// refreshed, Facebook's Page tokens do not expire.
fn token_warnings(
    status: &crieur_store::StatusReport,
    config: &Config,
    now: jiff::Timestamp,
) -> Vec<(String, crieur_net_linkedin::ExpiryWarning)> {
    status
        .channels
        .iter()
        .filter(|c| {
            config
                .channels
                .get(&c.channel)
                .is_some_and(|ch| ch.channel.network == crieur_core::Network::Linkedin)
        })
        .filter_map(|c| {
            Some((
                c.channel.clone(),
                crieur_net_linkedin::expiry_warning(c.token_expires_at?, now)?,
            ))
        })
        .collect()
}

fn spawn_signals(
    cancel: CancellationToken,
    reload: Arc<tokio::sync::Notify>,
) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: finishing requests in flight"); cancel.cancel(); return; }
                _ = int.recv() => { tracing::info!("SIGINT: finishing requests in flight"); cancel.cancel(); return; }
                _ = hup.recv() => { tracing::info!("SIGHUP: reloading"); reload.notify_one(); }
            }
        }
    });
    Ok(())
}

/// Watches the folders of the queue globs; a change to a matching file asks for a re-sync
/// (debounced by 300 ms). Returns the watcher, which stops when dropped.
fn watch_posts(
    config: &Config,
    wanted: Arc<tokio::sync::Notify>,
) -> Option<notify_debouncer_mini::Debouncer<notify::RecommendedWatcher>> {
    let patterns: Vec<glob::Pattern> = config
        .queue
        .files
        .iter()
        .filter_map(|g| glob::Pattern::new(&config.dir.join(g).to_string_lossy()).ok())
        .collect();
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for g in &config.queue.files {
        let full = config.dir.join(g);
        let fixed: PathBuf = full
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
            .collect();
        let dir = if fixed == full {
            fixed.parent().map(Path::to_path_buf).unwrap_or(fixed)
        } else {
            fixed
        };
        dirs.insert(dir);
    }
    let recursive = config.queue.files.iter().any(|g| g.contains("**"));
    // The watcher also reports a file being opened (inotify's IN_OPEN), which every sync does:
    // taken for a change, each sync would ask for the next, forever. So a matching path counts
    // as changed only when its modification time or size (read with stat, which opens nothing)
    // differs from what was last seen, or it appeared or vanished.
    let mut seen: HashMap<PathBuf, Option<(std::time::SystemTime, u64)>> = HashMap::new();
    for g in &config.queue.files {
        let full = config.dir.join(g);
        for path in glob::glob(&full.to_string_lossy()).into_iter().flatten().flatten() {
            let stamp = file_stamp(&path);
            seen.insert(path, stamp);
        }
    }
    let handler = move |res: notify_debouncer_mini::DebounceEventResult| {
        let Ok(events) = res else { return };
        let mut changed = false;
        for e in events.iter().filter(|e| patterns.iter().any(|p| p.matches_path(&e.path))) {
            let stamp = file_stamp(&e.path);
            changed |= seen.insert(e.path.clone(), stamp) != Some(stamp);
        }
        if changed {
            tracing::info!("post files changed: re-reading them");
            wanted.notify_one();
        }
    };
    let mut debouncer = match notify_debouncer_mini::new_debouncer(
        Duration::from_millis(300),
        handler,
    ) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the post files; reload with SIGHUP after a change");
            return None;
        }
    };
    let mode = if recursive {
        notify::RecursiveMode::Recursive
    } else {
        notify::RecursiveMode::NonRecursive
    };
    for dir in dirs {
        if let Err(e) = debouncer.watcher().watch(&dir, mode) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot watch a queue folder");
        }
    }
    Some(debouncer)
}

/// A file's modification time and size, `None` when it cannot be read (gone).
fn file_stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// UTC housekeeping on tokio-cron-scheduler: lease rescue every 30 s; every hour a re-sync (the
/// horizon moves on) and token expiry warnings. Times are read from the daemon's clock.
async fn housekeeping(
    syncer: Arc<Syncer>,
    sync_wanted: Arc<tokio::sync::Notify>,
) -> Option<tokio_cron_scheduler::JobScheduler> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let sched = JobScheduler::new().await.ok()?;
    let rescuer = syncer.clone();
    let rescue = Job::new_async("*/30 * * * * *", move |_, _| {
        let s = rescuer.clone();
        Box::pin(async move {
            match s.store.rescue_expired(s.clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    deliveries = n,
                    "leases lapsed: those deliveries are unknown and will be reconciled"
                ),
                Err(e) => tracing::warn!(error = %e, "lease rescue failed"),
            }
        })
    });
    let warned: Arc<Mutex<HashMap<String, u32>>> = Arc::new(Mutex::new(HashMap::new()));
    let (hourly_syncer, hourly_warned) = (syncer.clone(), warned.clone());
    let hourly = Job::new_async("0 0 * * * *", move |_, _| {
        let (s, wanted, warned) =
            (hourly_syncer.clone(), sync_wanted.clone(), hourly_warned.clone());
        Box::pin(async move {
            wanted.notify_one();
            check_token_expiry(&*s.store, &s.config, &warned, s.clock.now()).await;
        })
    });
    for job in [rescue, hourly] {
        match job {
            Ok(job) => {
                if let Err(e) = sched.add(job).await {
                    tracing::warn!(error = %e, "housekeeping job not scheduled");
                }
            }
            Err(e) => tracing::warn!(error = %e, "housekeeping job not created"),
        }
    }
    check_token_expiry(&*syncer.store, &syncer.config, &warned, syncer.clock.now()).await;
    sched.start().await.ok()?;
    Some(sched)
}

/// Logs a warning when a LinkedIn token crosses 14, 7 or 1 days before expiry, or expires (once
/// per threshold per process).
async fn check_token_expiry(
    store: &dyn Store,
    config: &Config,
    warned: &Mutex<HashMap<String, u32>>,
    now: jiff::Timestamp,
) {
    let Ok(status) = store.status().await else { return };
    for (channel, w) in token_warnings(&status, config, now) {
        let mut seen = warned.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(&channel).is_some_and(|t| *t <= w.threshold_days) {
            continue;
        }
        seen.insert(channel.clone(), w.threshold_days);
        tracing::warn!(channel = %channel, "{w}");
    }
}

/// The policy's text rules, run again on the exact text just before it is sent.
struct PolicyGate {
    config: Config,
    effective: HashMap<String, crieur_policy::Effective>,
}

impl PolicyGate {
    fn new(config: Config) -> Self {
        let effective = config
            .channels
            .iter()
            .map(|(name, c)| (name.clone(), crieur_policy::effective(&config.policy, &c.channel)))
            .collect();
        Self { config, effective }
    }
}

impl Gate for PolicyGate {
    fn blocked(&self, d: &Delivery) -> Option<String> {
        let channel = &self.config.channels.get(&d.channel)?.channel;
        let eff = self.effective.get(&d.channel)?;
        crate::plan::blocking(&self.config, channel, eff, d)
    }
}

/// systemd notifications: READY=1, WATCHDOG=1 from the loop, STATUS= lines. No-ops outside
/// systemd (no `NOTIFY_SOCKET`).
struct SdMonitor {
    enabled: bool,
    /// systemd's watchdog interval (`WATCHDOG_USEC`), when it asks for pings.
    watchdog: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

impl SdMonitor {
    fn new() -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let watchdog = if enabled { sd_notify::watchdog_enabled() } else { None };
        Self { enabled, watchdog, last_ping: Mutex::new(None) }
    }

    /// How often the loop must turn so its pings (at most one a second) keep well within the
    /// watchdog interval: a quarter of it. None without a watchdog.
    fn wake_every(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 4)
    }

    fn send(&self, states: &[sd_notify::NotifyState<'_>]) {
        if self.enabled
            && let Err(e) = sd_notify::notify(states)
        {
            tracing::debug!(error = %e, "sd_notify failed");
        }
    }

    fn ready(&self, status: &str) {
        self.send(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(status)]);
    }

    fn status(&self, status: &str) {
        self.send(&[sd_notify::NotifyState::Status(status)]);
    }

    fn reloading(&self) {
        self.send(&[sd_notify::NotifyState::Reloading]);
    }

    fn stopping(&self) {
        self.send(&[sd_notify::NotifyState::Stopping]);
    }
}

impl Monitor for SdMonitor {
    fn alive(&self) {
        if !self.enabled {
            return;
        }
        let mut last = self.last_ping.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            drop(last);
            self.send(&[sd_notify::NotifyState::Watchdog]);
        }
    }

    fn settled(&self, _: &Delivery, _: &Sent) {}
}

/// `--dry-run`: lay the plan as the daemon would (reading the database, if any, without writing),
/// then log each request at its due instant instead of sending it.
async fn dry_run(config: Config, clock: Arc<dyn Clock>, once: bool) -> anyhow::Result<Outcome> {
    let posts = crieur_config::load_posts(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let status = crate::plan::known(&config, clock.now()).await.status;
    let now = clock.now();
    let mut desired = sync::desired(&config, &posts, &status, now)?;
    desired.retain(|d| {
        !status.deliveries.iter().any(|r| r.id == d.id && r.state == crieur_store::State::Published)
    });
    desired.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    let cancel = CancellationToken::new();
    if !once {
        spawn_signals(cancel.clone(), Arc::new(tokio::sync::Notify::new()))?;
    }
    for d in desired {
        if once && d.due_at > now {
            break;
        }
        let wait = clock.now().duration_until(d.due_at);
        if wait > jiff::SignedDuration::ZERO {
            let wait = Duration::try_from(wait).unwrap_or(Duration::MAX);
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(
            post = %d.post, channel = %d.channel, item = d.item, network = %d.network,
            due = %d.due_at, text = %d.text, link = d.link.as_deref().unwrap_or(""),
            "dry run: would send"
        );
    }
    Ok(Outcome::Success)
}
