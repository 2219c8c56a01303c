//! `crieur run`'s supervisor: what the daemon does around the dispatch loop.
//!
//! Start: load the config, open the store (migrations, instance lock), build one publisher per
//! channel, sync the post files into deliveries, tell systemd READY=1, then run the dispatch loop.
//! SIGHUP reloads everything (config, publishers, posts) after letting requests in flight finish;
//! a new config or post file that is invalid changes nothing: it is logged with its
//! `path:line:col`, named in STATUS= until fixed, and the daemon goes on with the last valid
//! queue (a new `[storage]` waits for a restart). A change to a post file re-syncs the posts; a
//! sync that fails keeps the queue as it was. A step of the wall clock re-syncs before the loop
//! claims, so a slot jumped over follows `[queue] missed`. SIGTERM (or SIGINT) stops claiming,
//! lets requests in flight finish within a bounded wait, and ends the run. Housekeeping (lease
//! rescue, hourly re-sync and token expiry checks) runs on tokio-cron-scheduler in UTC; it never
//! decides when a post goes out, and when it cannot start the daemon logs why and goes on
//! publishing without it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crieur_config::Config;
use crieur_core::{Clock, Delivery, MediaLedger, Network, Publisher, TokenVault};
use crieur_scheduler::dispatch::{ClockStepped, DispatchSettings, Dispatcher, Gate};
use crieur_store::{ChannelStatus, Key, OpenOptions, QueueSummary, State, StatusReport, Store};
use jiff::Timestamp;
use secrecy::ExposeSecret as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::health::{Files, FilesHealth};
use crate::monitor::SdMonitor;
use crate::sync::{self, Syncer};
use crate::{AdapterError, BoxError, Error};

/// What the daemon needs from the concrete network adapters, supplied by the caller so that this
/// crate knows none of them.
pub trait Adapters: Send + Sync {
    /// The publisher of every channel of `config`, by channel name. `vault` keeps the OAuth
    /// tokens; `ledger` records the media the adapters upload (both are the store).
    ///
    /// # Errors
    /// When a secret cannot be read or a channel's settings are refused by its adapter; the
    /// message names the channel.
    fn publishers(
        &self,
        config: &Config,
        vault: Arc<dyn TokenVault>,
        ledger: Arc<dyn MediaLedger>,
        clock: Arc<dyn Clock>,
    ) -> Result<HashMap<String, Arc<dyn Publisher>>, BoxError>;

    /// Whether a token of a `network` channel that expires at `expires_at` deserves a warning at
    /// `now` (only for networks whose tokens a person must renew).
    fn token_warning(
        &self,
        network: Network,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Option<TokenWarning>;

    /// Reads the limits every channel's server announces (Mastodon's `/api/v2/instance`), by
    /// channel; channels whose network announces none are left out. Default: none.
    fn server_limits<'a>(&'a self, config: &'a Config) -> LimitsFuture<'a> {
        let _ = config;
        Box::pin(async { Vec::new() })
    }
}

/// What [`Adapters::server_limits`] returns: each channel's limits, or why they could not be
/// read.
pub type LimitsFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Vec<(String, Result<crieur_core::store::ServerLimits, BoxError>)>,
            > + Send
            + 'a,
    >,
>;

/// A channel's token is about to expire, or has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenWarning {
    /// The smallest warning threshold crossed, in days before expiry (0 once expired); each
    /// threshold is logged once per process.
    pub threshold_days: u32,
    /// What to tell the operator.
    pub message: String,
}

/// With the HTTP endpoint, the dispatch loop turns at least this often, so `/healthz` can tell
/// a quiet loop from a wedged one.
const HTTP_MAX_SLEEP: Duration = Duration::from_secs(10);

/// How the daemon is run.
#[derive(Clone)]
pub struct RunOptions {
    /// The config file, read at start and again on SIGHUP.
    pub config_path: PathBuf,
    /// The daemon's clock.
    pub clock: Arc<dyn Clock>,
    /// Publish everything that is due now, wait for it to settle, and return.
    pub once: bool,
    /// Log every request that would be sent; send none and change no state.
    pub dry_run: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Stopped on request, or (with `once`) everything due was published.
    Clean,
    /// With `once`: some of what was due was not published.
    NotAllPublished,
}

/// Runs the daemon until SIGTERM (or, with `once`, until what is due has settled).
///
/// # Errors
/// When the config is invalid, the store cannot be opened (or another instance holds the SQLite
/// file), a channel's publisher cannot be built, the first sync fails, or the dispatch loop stops
/// on a store error.
pub async fn run(options: RunOptions, adapters: Arc<dyn Adapters>) -> Result<Ended, Error> {
    let started = Instant::now();
    let clock = options.clock.clone();
    let mut config = crieur_config::load_config(&options.config_path)?;
    if options.dry_run {
        return dry_run(config, clock, options.once).await;
    }
    let store = open_store(&config, clock.clone()).await?;
    let owner = crieur_store::new_owner();
    tracing::info!(%owner, database = %crieur_store::mask_url(&config.storage.url), "store open");
    crate::server_limits::refresh(adapters.as_ref(), &config, &*store).await;

    let cancel = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    let sync_wanted = Arc::new(Notify::new());
    if !options.once {
        spawn_signals(cancel.clone(), reload.clone())?;
    }
    let monitor = Arc::new(SdMonitor::new());
    let endpoint = crate::http::Endpoint::start(
        &config,
        store.clone(),
        clock.clone(),
        HTTP_MAX_SLEEP,
        cancel.clone(),
    )
    .await?;
    let health = Arc::new(FilesHealth::default());
    let mut first = true;
    // The config the daemon ran on before the last reload: taken back when the new one's
    // channels cannot be built.
    let mut previous: Option<Config> = None;
    let outcome = loop {
        match store.server_limits().await {
            Ok(limits) => _ = crate::server_limits::apply(&mut config, &limits),
            Err(e) => tracing::warn!(error = %e, "cannot read the saved server limits"),
        }
        let vault: Arc<dyn TokenVault> = store.clone();
        let ledger: Arc<dyn MediaLedger> = store.clone();
        let publishers = match adapters.publishers(&config, vault, ledger, clock.clone()) {
            Ok(publishers) => publishers,
            Err(e) => {
                let Some(old) = previous.take() else {
                    return Err(Error::Adapters(AdapterError(e)));
                };
                tracing::error!(
                    error = &*e as &dyn std::error::Error,
                    "the new config's channels cannot be built; keeping the old config"
                );
                config = old;
                continue;
            }
        };
        let syncer =
            Arc::new(Syncer { config: config.clone(), store: store.clone(), clock: clock.clone() });
        if first {
            syncer.sync().await?;
            release_memory();
        } else if !health.is_invalid(Files::Config) {
            // A reload: post files that are invalid change nothing.
            resync(&syncer, &health).await;
        }
        endpoint.iter().for_each(|e| e.synced(&config));
        let gate = Arc::new(PolicyGate::new(config.clone()));
        let mut settings = DispatchSettings::new(owner.clone());
        settings.shutdown_grace = Duration::from_secs(20);
        tune(&mut settings);
        if let Some(every) = monitor.wake_every() {
            settings.max_sleep = every;
        }
        settings.stall_limit = monitor.watchdog();
        settings.claim_lead = config.queue.claim_lead;
        let metrics = Arc::new(crate::metrics::MetricsLane::new(
            store.clone(),
            &config,
            &publishers,
            clock.clone(),
        ));
        let watched: Arc<dyn crieur_scheduler::dispatch::Monitor> = match &endpoint {
            Some(e) => {
                settings.max_sleep = settings.max_sleep.min(HTTP_MAX_SLEEP);
                e.monitor(monitor.clone())
            }
            None => monitor.clone(),
        };
        let dispatcher =
            Dispatcher::new(store.clone(), publishers, clock.clone(), gate, watched, settings);
        dispatcher.on_clock_step(Arc::new(ResyncOnStep {
            syncer: syncer.clone(),
            health: health.clone(),
        }));
        if options.once {
            let report = dispatcher.run_once().await?;
            tracing::info!(published = report.published, other = report.not_published, "done");
            break if report.not_published == 0 { Ended::Clean } else { Ended::NotAllPublished };
        }
        if first {
            // READY as soon as the store is open and the first sync is done; the queue's summary
            // (a read of every delivery) follows in a STATUS= line.
            monitor.ready("ready");
            tracing::info!(
                ready_in_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "ready"
            );
            first = false;
        }
        // One count of the queue serves both: lifting "gone" holds and the STATUS= summary.
        match store.summary().await {
            Ok(counted) => {
                release_gone_holds(&*store, &counted.channels, &config).await;
                let line = summary(&counted, &config, adapters.as_ref(), clock.now());
                monitor.status(&health.status(&line, &config.timezone));
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the queue's state"),
        }
        let round = cancel.child_token();
        // Engagement snapshots in their own task: the dispatcher never waits for them.
        let metrics_lane = metrics.spawn(round.clone());
        let watcher = crate::watch::watch_posts(&config, sync_wanted.clone());
        let housekeeper =
            Arc::new(Housekeeper::new(syncer.clone(), adapters.clone(), sync_wanted.clone()));
        let housekeeping = housekeeper.start(JobScheduler::new().await).await;
        let resync = {
            let (syncer, dispatcher, wanted, round, monitor, adapters, health, endpoint) = (
                syncer.clone(),
                dispatcher.clone(),
                sync_wanted.clone(),
                round.clone(),
                monitor.clone(),
                adapters.clone(),
                health.clone(),
                endpoint.clone(),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = round.cancelled() => return,
                        () = wanted.notified() => {}
                    }
                    if resync(&syncer, &health).await {
                        endpoint.iter().for_each(|e| e.synced(&syncer.config));
                        dispatcher.wake();
                    }
                    let line = status_line(
                        &*syncer.store,
                        &syncer.config,
                        adapters.as_ref(),
                        syncer.clock.now(),
                    )
                    .await;
                    monitor.status(&health.status(&line, &syncer.config.timezone));
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
        metrics_lane.abort();
        drop(watcher);
        if let Some(mut h) = housekeeping
            && let Err(e) = h.shutdown().await
        {
            tracing::debug!(error = %e, "housekeeping did not stop cleanly");
        }
        if cancel.is_cancelled() || !reloading.await.unwrap_or(false) {
            break Ended::Clean;
        }
        tracing::info!("reloading the config");
        monitor.reloading();
        let reloaded = reload_config(&options.config_path, &config, &health, clock.now());
        previous = Some(std::mem::replace(&mut config, reloaded));
    };
    monitor.stopping();
    store.close().await;
    tracing::info!("stopped");
    Ok(outcome)
}

/// Opens the store of `config` (migrating it, taking the instance lock) with its `[storage] key`.
///
/// # Errors
/// When the key cannot be read or decoded, or the store cannot be opened.
pub async fn open_store(config: &Config, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>, Error> {
    let key = storage_key(config)?;
    crieur_store::open(&config.storage.url, OpenOptions { key, clock, ..OpenOptions::default() })
        .await
        .map_err(|source| Error::Open { url: crieur_store::mask_url(&config.storage.url), source })
}

/// The `[storage] key` of `config`, read and decoded; `None` when the config has none.
///
/// # Errors
/// [`Error::StorageKey`] when the secret cannot be read, [`Error::Store`] when it is not a
/// base64 key of the right length.
pub fn storage_key(config: &Config) -> Result<Option<Key>, Error> {
    let Some(reference) = &config.storage.key else { return Ok(None) };
    let text = reference.resolve(&config.dir).map_err(Error::StorageKey)?;
    Ok(Some(Key::from_base64(text.expose_secret())?))
}

/// Gives back to the system what the allocator kept of a sync's burst (the files, the laying,
/// the rows read), on a blocking thread: glibc keeps it otherwise, and an idle daemon stayed at
/// its start's peak (BENCHMARKS.md).
fn release_memory() {
    tokio::task::spawn_blocking(|| {
        let released = crieur_memory::release_freed();
        tracing::debug!(released, "memory freed by the sync given back to the system");
    });
}

/// One re-sync asked for by a reload, a file change or the hourly job: true when the store now
/// matches the files (the dispatcher should look again), false when the sync failed and the
/// queue was kept as it was (logged at error level: each problem of an invalid post file with
/// its `path:line:col`, recorded in `health` for the STATUS= line; any other failure with its
/// whole cause).
pub async fn resync(syncer: &Syncer, health: &FilesHealth) -> bool {
    match syncer.sync().await {
        Ok(_) => {
            health.valid(Files::Posts);
            release_memory();
            true
        }
        Err(Error::Files(errors)) => {
            health.invalid(Files::Posts, syncer.clock.now(), &errors);
            false
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "re-reading the post files failed; keeping the queue as it was"
            );
            false
        }
    }
}

/// The daemon's answer to a step of the wall clock (an hour forward or back): the queue is synced
/// again at the new time before the loop claims anything, so a slot the step jumped over follows
/// `[queue] missed` (late within `max_late`, or the next free slot) like a slot missed while the
/// daemon was down. Published deliveries are never claimed again, whichever way the clock moves.
pub struct ResyncOnStep {
    /// The syncer of the current config.
    pub syncer: Arc<Syncer>,
    /// Where an invalid post file is recorded.
    pub health: Arc<FilesHealth>,
}

impl ClockStepped for ResyncOnStep {
    fn clock_stepped(
        &self,
        _by: jiff::SignedDuration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            resync(&self.syncer, &self.health).await;
        })
    }
}

/// The config after a SIGHUP at `now`: the file at `path` when it is valid, else a copy of
/// `current` (every problem is logged with its `path:line:col` and recorded in `health`, and the
/// daemon goes on with the config it had). A new `[storage]` section (URL or key) needs a
/// restart: it is logged as such and not applied, the rest of the new config is.
pub fn reload_config(
    path: &Path,
    current: &Config,
    health: &FilesHealth,
    now: Timestamp,
) -> Config {
    match crieur_config::load_config(path) {
        Ok(mut config) => {
            health.valid(Files::Config);
            if config.storage.url != current.storage.url
                || config.storage.key != current.storage.key
            {
                tracing::warn!(
                    "[storage] changed: the database stays the one in use until crieur is                      restarted; the rest of the new config is taken"
                );
                config.storage = current.storage.clone();
            }
            config
        }
        Err(errors) => {
            tracing::error!("the new config is invalid; keeping the old one");
            health.invalid(Files::Config, now, &errors);
            current.clone()
        }
    }
}

/// Test and tuning knobs from the environment (documented in the README): `CRIEUR_LEASE_SECS`
/// (the claim lease, default 120), `CRIEUR_RETRY_BASE_MS` (the first retry's backoff ceiling,
/// default 30000) and `CRIEUR_RECONCILE_EVERY_MS` (how long an unknown outcome that could not be
/// settled waits before the next look, default one hour). A value that is not a positive whole
/// number is ignored with a warning.
pub fn tune(settings: &mut DispatchSettings) {
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

/// A webhook channel that answered 410 is held until the config is reloaded: lift those holds.
pub async fn release_gone_holds(store: &dyn Store, channels: &[ChannelStatus], config: &Config) {
    for c in channels {
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

/// [`summary`] of the store's current state (`store unavailable` when it cannot be read).
pub async fn status_line(
    store: &dyn Store,
    config: &Config,
    adapters: &dyn Adapters,
    now: Timestamp,
) -> String {
    match store.summary().await {
        Ok(counted) => summary(&counted, config, adapters, now),
        Err(_) => "store unavailable".into(),
    }
}

/// The STATUS= line: `12 queued, next: company-x at Mon 09:15`, the count of unknown outcomes,
/// then token expiry warnings.
pub fn summary(
    counted: &QueueSummary,
    config: &Config,
    adapters: &dyn Adapters,
    now: Timestamp,
) -> String {
    let mut line = format!("{} queued", counted.waiting);
    if let Some((channel, due_at)) = &counted.next {
        let tz = config
            .channels
            .get(channel)
            .map_or_else(|| config.timezone.clone(), |c| c.channel.timezone.clone());
        line.push_str(&format!(
            ", next: {channel} at {}",
            due_at.to_zoned(tz).strftime("%a %H:%M")
        ));
    }
    if counted.unknown > 0 {
        line.push_str(&format!(", {} unknown (see crieur status)", counted.unknown));
    }
    for (channel, w) in token_warnings(&counted.channels, config, adapters, now) {
        line.push_str(&format!("; {channel}: {}", w.message));
    }
    line
}

/// The token warnings of every configured channel the store knows a token expiry for.
fn token_warnings(
    channels: &[ChannelStatus],
    config: &Config,
    adapters: &dyn Adapters,
    now: Timestamp,
) -> Vec<(String, TokenWarning)> {
    channels
        .iter()
        .filter_map(|c| {
            let network = config.channels.get(&c.channel)?.channel.network;
            Some((c.channel.clone(), adapters.token_warning(network, c.token_expires_at?, now)?))
        })
        .collect()
}

fn spawn_signals(cancel: CancellationToken, reload: Arc<Notify>) -> Result<(), Error> {
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(Error::Signals)?;
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

/// UTC housekeeping on tokio-cron-scheduler: lease rescue every 30 s; every hour a re-sync (the
/// horizon moves on) and token expiry warnings. Times are read from the daemon's clock.
pub struct Housekeeper {
    syncer: Arc<Syncer>,
    adapters: Arc<dyn Adapters>,
    sync_wanted: Arc<Notify>,
    /// The token warning threshold last logged, by channel.
    warned: Mutex<HashMap<String, u32>>,
}

impl Housekeeper {
    /// Housekeeping for one round of the daemon (until the next reload).
    pub fn new(syncer: Arc<Syncer>, adapters: Arc<dyn Adapters>, sync_wanted: Arc<Notify>) -> Self {
        Self { syncer, adapters, sync_wanted, warned: Mutex::new(HashMap::new()) }
    }

    /// Adds the jobs to `scheduler` (the result of `JobScheduler::new`), checks the tokens once
    /// and starts it. The running scheduler, to be shut down at the end of the round; `None`
    /// when it could not be built or started: that is logged at error level with its cause, and
    /// the daemon goes on publishing without housekeeping (no lease rescue, no hourly re-sync,
    /// no token warnings) until the next reload.
    pub async fn start(
        self: &Arc<Self>,
        scheduler: Result<JobScheduler, JobSchedulerError>,
    ) -> Option<JobScheduler> {
        let sched = match scheduler {
            Ok(sched) => sched,
            Err(e) => {
                tracing::error!(error = %e, "housekeeping cannot start (lease rescue, hourly re-sync, token checks); publishing goes on without it");
                return None;
            }
        };
        let rescuer = self.clone();
        let rescue = Job::new_async("*/30 * * * * *", move |_, _| {
            let h = rescuer.clone();
            Box::pin(async move { h.rescue().await })
        });
        let hourly_keeper = self.clone();
        let hourly = Job::new_async("0 0 * * * *", move |_, _| {
            let h = hourly_keeper.clone();
            Box::pin(async move {
                h.sync_wanted.notify_one();
                h.check_tokens().await;
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
        self.check_tokens().await;
        if let Err(e) = sched.start().await {
            tracing::error!(error = %e, "housekeeping cannot start (lease rescue, hourly re-sync, token checks); publishing goes on without it");
            return None;
        }
        Some(sched)
    }

    /// Marks deliveries whose lease lapsed as unknown, to be reconciled.
    pub async fn rescue(&self) {
        match self.syncer.store.rescue_expired(self.syncer.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                deliveries = n,
                "leases lapsed: those deliveries are unknown and will be reconciled"
            ),
            Err(e) => tracing::warn!(error = %e, "lease rescue failed"),
        }
    }

    /// Logs a warning when a token crosses a threshold before expiry, or expires (once per
    /// threshold per channel). Returns the warnings logged now.
    pub async fn check_tokens(&self) -> Vec<(String, TokenWarning)> {
        let s = &self.syncer;
        let Ok(counted) = s.store.summary().await else { return Vec::new() };
        let mut logged = Vec::new();
        for (channel, w) in
            token_warnings(&counted.channels, &s.config, self.adapters.as_ref(), s.clock.now())
        {
            let mut seen = self.warned.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get(&channel).is_some_and(|t| *t <= w.threshold_days) {
                continue;
            }
            seen.insert(channel.clone(), w.threshold_days);
            drop(seen);
            tracing::warn!(channel = %channel, "{}", w.message);
            logged.push((channel, w));
        }
        logged
    }
}

/// The policy's text rules, run again on the exact text just before it is sent.
pub struct PolicyGate {
    config: Config,
    effective: HashMap<String, crieur_policy::Effective>,
}

impl PolicyGate {
    /// Resolves each channel's policy once.
    pub fn new(config: Config) -> Self {
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

/// `dry_run`: lay the plan as the daemon would (reading the database, if any, without writing),
/// then log each request at its due instant instead of sending it.
async fn dry_run(config: Config, clock: Arc<dyn Clock>, once: bool) -> Result<Ended, Error> {
    let posts = crieur_config::load_posts(&config)?;
    let status = match crate::plan::known(&config, clock.now()).await {
        Ok(known) => known.status,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the database, assuming nothing was published");
            StatusReport::default()
        }
    };
    let now = clock.now();
    let mut desired = sync::desired(&config, &posts, &status, now)?;
    desired
        .retain(|d| !status.deliveries.iter().any(|r| r.id == d.id && r.state == State::Published));
    desired.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    let cancel = CancellationToken::new();
    if !once {
        spawn_signals(cancel.clone(), Arc::new(Notify::new()))?;
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
    Ok(Ended::Clean)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_core::{Outcome, Tokens};
    use crieur_store::RetryPolicy;

    use super::*;
    use crate::testing::{NOW, NoAdapters, POSTS, Project, capture_logs, ts};

    #[tokio::test]
    async fn the_status_line_counts_the_queue_and_names_the_next_slot_in_the_channels_zone() {
        let project = Project::new(POSTS);
        let syncer = project.syncer(ts(NOW)).await;
        syncer.sync().await.unwrap();
        let line = status_line(&*syncer.store, &syncer.config, &NoAdapters, ts(NOW)).await;
        assert_eq!(line, "2 queued, next: blog at Mon 08:00");
    }

    #[tokio::test]
    async fn the_status_line_adds_unknown_outcomes_and_token_warnings() {
        let project = Project::new(POSTS);
        let syncer = project.syncer(ts(NOW)).await;
        syncer.sync().await.unwrap();
        let at = ts("2026-03-23T07:00:00Z");
        let claimed = syncer
            .store
            .claim_due("test", at, jiff::SignedDuration::from_secs(60), 1)
            .await
            .unwrap();
        let d = &claimed[0].delivery;
        let unknown = Outcome::Unknown { reason: "timed out".into() };
        syncer
            .store
            .complete("test", &d.id, d.attempt, &unknown, at, &RetryPolicy::default())
            .await
            .unwrap();
        let expires_at = ts("2026-03-23T20:00:00Z");
        let tokens =
            Tokens { access_token: "t".into(), refresh_token: None, expires_at: Some(expires_at) };
        syncer.store.save("blog", &tokens).await.unwrap();
        let counted = syncer.store.summary().await.unwrap();
        assert_eq!(counted.waiting, 1);
        assert_eq!(counted.unknown, 1);
        assert_eq!(
            summary(&counted, &syncer.config, &NoAdapters, at),
            "1 queued, next: blog at Mon 08:00, 1 unknown (see crieur status); \
             blog: expires 2026-03-23T20:00:00Z"
        );
    }

    #[test]
    fn a_reload_with_an_invalid_config_keeps_the_old_one_and_logs_why() {
        let cadence = |c: &Config| format!("{:?}", c.channels["blog"].channel.cadence);
        let project = Project::new(POSTS);
        let old = project.config();
        project.write("crieur.toml", &project.config_text("Sun 10:00"));
        let (logs, _guard) = capture_logs();
        let health = FilesHealth::default();
        let new = reload_config(&project.path("crieur.toml"), &old, &health, ts(NOW));
        assert_ne!(cadence(&new), cadence(&old), "a valid new config is taken");

        project.write("crieur.toml", "timezone = \"Nowhere/Atlantis\"\n");
        let kept = reload_config(&project.path("crieur.toml"), &new, &health, ts(NOW));
        assert!(health.is_invalid(Files::Config));
        assert_eq!(cadence(&kept), cadence(&new), "an invalid one is not");
        let text = logs.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("the new config is invalid; keeping the old one"), "{text}");
        assert!(text.contains("crieur.toml:1:"), "the problem's place is logged: {text}");
    }

    /// A clock a test sets.
    struct Settable(Mutex<Timestamp>);

    impl Clock for Settable {
        fn now(&self) -> Timestamp {
            *self.0.lock().unwrap()
        }
    }

    /// Syncs at one minute before Monday's 08:00 (Paris) slot, steps the clock an hour forward
    /// over it, and lets the daemon's hook lay the queue again: the deliveries claimable at the
    /// new time, under `missed`.
    async fn step_over_a_slot(missed: &str) -> (Vec<String>, Arc<Syncer>) {
        let project = Project::new(POSTS);
        let text = project.config_text("Mon 08:00").replace(
            "[queue]\nfiles = [\"posts/*.toml\"]\n",
            &format!("[queue]\nfiles = [\"posts/*.toml\"]\n{missed}\n"),
        );
        project.write("crieur.toml", &text);
        let before = ts("2026-03-23T06:59:00Z");
        let settable = Arc::new(Settable(Mutex::new(before)));
        let clock: Arc<dyn Clock> = settable.clone();
        let config = project.config();
        let store = open_store(&config, clock.clone()).await.unwrap();
        let syncer = Arc::new(Syncer { config, store, clock });
        syncer.sync().await.unwrap();
        let after = ts("2026-03-23T07:59:00Z");
        *settable.0.lock().unwrap() = after;
        let hook =
            ResyncOnStep { syncer: syncer.clone(), health: Arc::new(FilesHealth::default()) };
        hook.clock_stepped(jiff::SignedDuration::from_hours(1)).await;
        let claimed = syncer
            .store
            .claim_due("test", after, jiff::SignedDuration::from_secs(60), 10)
            .await
            .unwrap();
        (claimed.into_iter().map(|c| c.delivery.id).collect(), syncer)
    }

    #[tokio::test]
    async fn a_clock_step_over_a_slot_publishes_it_late_under_publish_late() {
        let (claimed, _) = step_over_a_slot("missed = \"publish-late\"\nmax_late = \"2h\"").await;
        assert_eq!(claimed, ["hello:blog:0"], "within max_late: it goes out now");
    }

    #[tokio::test]
    async fn a_clock_step_over_a_slot_moves_the_post_to_the_next_slot_under_skip() {
        let (claimed, syncer) = step_over_a_slot("missed = \"skip\"").await;
        assert!(claimed.is_empty(), "nothing goes out late: {claimed:?}");
        let status = syncer.store.status().await.unwrap();
        let hello = status.deliveries.iter().find(|r| r.id == "hello:blog:0").unwrap();
        assert_eq!(hello.due_at, ts("2026-03-30T06:00:00Z"), "the next Monday 08:00 in Paris");
        assert_eq!(hello.state, State::Queued);
    }

    #[tokio::test]
    async fn housekeeping_that_cannot_start_logs_an_error_with_its_cause_and_stops_nothing() {
        let project = Project::new(POSTS);
        let syncer = Arc::new(project.syncer(ts(NOW)).await);
        let keeper =
            Arc::new(Housekeeper::new(syncer, Arc::new(NoAdapters), Arc::new(Notify::new())));
        let (logs, _guard) = capture_logs();
        let started = keeper.start(Err(JobSchedulerError::CantInit)).await;
        assert!(started.is_none());
        let text = logs.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("housekeeping cannot start"), "{text}");
        assert!(text.contains("CantInit"), "the cause is logged: {text}");
    }

    #[tokio::test]
    async fn housekeeping_starts_and_warns_of_an_expiring_token_once_per_threshold() {
        let project = Project::new(POSTS);
        let syncer = Arc::new(project.syncer(ts(NOW)).await);
        let tokens = Tokens {
            access_token: "t".into(),
            refresh_token: None,
            expires_at: Some(ts("2026-03-19T06:00:00Z")),
        };
        syncer.store.save("blog", &tokens).await.unwrap();
        let keeper =
            Arc::new(Housekeeper::new(syncer, Arc::new(NoAdapters), Arc::new(Notify::new())));
        let (logs, _guard) = capture_logs();
        let mut started = keeper.start(JobScheduler::new().await).await.expect("housekeeping runs");
        assert!(
            logs.text().contains("expires 2026-03-19T06:00:00Z"),
            "the first check runs at start: {}",
            logs.text()
        );
        assert!(keeper.check_tokens().await.is_empty(), "a threshold is logged once");
        started.shutdown().await.unwrap();
    }

    #[test]
    fn the_gate_blocks_a_text_an_error_rule_refuses_right_before_it_is_sent() {
        let project = Project::new(POSTS);
        let gate = PolicyGate::new(project.config());
        let delivery = |text: &str| Delivery {
            id: "hello:blog:0".into(),
            post: "hello".into(),
            channel: "blog".into(),
            network: Network::Webhook,
            text: text.to_owned(),
            link: None,
            category: None,
            article: None,
            item: 0,
            reply_to: None,
            attempt: 1,
            attempt_started_at: ts(NOW),
            may_have_been_sent: false,
            media: Vec::new(),
            options: Default::default(),
        };
        assert_eq!(gate.blocked(&delivery("Hello")), None);
        let blocked = gate.blocked(&delivery("   ")).expect("an empty text is blocked");
        assert!(blocked.starts_with("policy rule empty"), "{blocked}");
    }
}
