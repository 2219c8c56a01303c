//! The dispatch loop: claim what is due, send it through the channel's adapter, record the outcome.
//!
//! One loop per process. Each turn it pings the watchdog, reconciles `unknown` deliveries through
//! their adapter, claims in a batch the ones due within the claim lead (a few hundred ms: the
//! store commits the intent before returning, so its fsync happens before the due instant, not
//! between the instant and the request), hands each channel's claims to that channel's worker,
//! which waits for each delivery's due instant (never sends early), and sleeps until the claim
//! lead before the store's next due instant: never more than 30 s, re-reading the clock at each wake, and woken at once by
//! [`Dispatcher::wake`] when a sync changes the queue or an outcome unblocks a thread item.
//!
//! Channels publish one delivery at a time (a per-channel lock keeps a thread's items and a
//! channel's posts in order); different channels publish concurrently, up to a global bound.
//! Outcomes go through one completer task that records them in batches (group commit), fenced by
//! owner and attempt. A heartbeat renews the leases of everything in flight.
//!
//! The loop never retries by itself: it reports each [`Outcome`] and the store decides (backoff,
//! bounded attempts, `unknown`). It never sends a delivery whose outcome is unknown: those go
//! through [`Publisher::reconcile`] first.
//!
//! A store that cannot commit a claim means nothing is sent: the loop logs the fault once per
//! episode, keeps trying, and stops reporting itself alive once it has made no progress for
//! longer than [`DispatchSettings::stall_limit`]. A step of the wall clock runs the host's
//! [`ClockStepped`] hook before the next claim.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::store::{
    Claimed, Completion, DeliveryMedia, Lease, RetryPolicy, Store, StoreError,
};
use crieur_core::{Clock, Delivery, Outcome, Publisher, RejectKind};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The longest the loop sleeps before re-reading the clock.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

/// How long a rejected-as-gone channel (webhook 410) is held: until the config is reloaded.
const GONE_HOLD: SignedDuration = SignedDuration::from_hours(24 * 365 * 100);

/// How long a channel whose credentials were refused is held before crieur tries again.
const UNAUTHORIZED_HOLD: SignedDuration = SignedDuration::from_mins(15);

/// The reason prefix of a hold placed because the endpoint is gone; released at reload.
pub const GONE_PREFIX: &str = "gone: ";

/// Decides, just before sending, whether a delivery may go out: the policy's text rules run again
/// on the exact rendered text, so a rule that fails now blocks the send.
pub trait Gate: Send + Sync {
    /// `Some(reason)` when an `error` rule blocks `delivery` (reason names the rule).
    fn blocked(&self, delivery: &Delivery) -> Option<String>;
}

/// A gate that lets everything through.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenGate;

impl Gate for OpenGate {
    fn blocked(&self, _: &Delivery) -> Option<String> {
        None
    }
}

/// How far ahead of the due instant deliveries are claimed by default
/// ([`DispatchSettings::claim_lead`]).
pub const DEFAULT_CLAIM_LEAD: Duration = Duration::from_millis(300);

/// Tuning of the loop.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// This process's lease owner (unique per process: `crieur_store::new_owner`).
    pub owner: String,
    /// How long a claim is leased before another instance may consider it abandoned.
    pub lease: SignedDuration,
    /// How many deliveries one claim takes at most.
    pub batch: usize,
    /// How many requests may be in flight at once, across channels.
    pub max_in_flight: usize,
    /// Backoff and attempt budget, applied by the store.
    pub retry: RetryPolicy,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// The longest the loop sleeps between turns (at most [`MAX_SLEEP`]); a host whose
    /// watchdog expects pings more often lowers it, since the loop pings at each turn.
    pub max_sleep: Duration,
    /// How long the store may refuse every write before the loop counts as wedged and stops
    /// reporting [`Monitor::alive`] (the host's watchdog interval); `None`: it never stops.
    pub stall_limit: Option<Duration>,
    /// How far ahead of its due instant a delivery is claimed: the claim's commit (its fsync)
    /// happens during this lead, then the worker waits for the instant and sends. Never sent
    /// before the instant. Zero claims at the instant.
    pub claim_lead: Duration,
}

impl DispatchSettings {
    /// Defaults for `owner`: 2-minute leases, batches of 512, 256 requests in flight.
    pub fn new(owner: String) -> Self {
        Self {
            owner,
            lease: SignedDuration::from_mins(2),
            batch: 512,
            max_in_flight: 256,
            retry: RetryPolicy::default(),
            shutdown_grace: Duration::from_secs(20),
            max_sleep: MAX_SLEEP,
            stall_limit: None,
            claim_lead: DEFAULT_CLAIM_LEAD,
        }
    }
}

/// A claimed delivery waiting in its channel's worker for its due instant.
struct Pending {
    delivery: Delivery,
    media: Vec<DeliveryMedia>,
    due_at: Timestamp,
}

/// Errors that stop the loop.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The store failed in a way the loop cannot ride out.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What [`Dispatcher::run_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnceReport {
    /// Deliveries sent and published (or found by reconciliation).
    pub published: u64,
    /// Deliveries whose outcome was anything else (retrying, failed, unknown).
    pub not_published: u64,
}

/// Something the loop reports to its host (the binary): watchdog pings and the next due instant.
pub trait Monitor: Send + Sync {
    /// Called at every turn of the loop (the systemd watchdog is pinged from here, so a wedged
    /// loop gets the service restarted).
    fn alive(&self) {}
    /// Called when a delivery settles.
    fn settled(&self, _delivery: &Delivery, _outcome: &Outcome) {}
    /// Called right before a delivery's request goes to its network (after the policy gate,
    /// the concurrency permit and the lease check), with the instant it was due: the daemon's
    /// lateness is the distance between the two.
    fn sending(&self, _delivery: &Delivery, _due_at: Timestamp) {}
}

/// How far the wall clock may move away from the monotonic clock between two turns before the
/// loop takes it for a step (an NTP correction, a suspended host, an operator's `date -s`).
pub const CLOCK_STEP: SignedDuration = SignedDuration::from_secs(2);

/// What the host does when the wall clock steps, before the loop claims anything at the new
/// time: the daemon re-syncs the queue, so a slot the step jumped over follows `[queue] missed`
/// (published late within `max_late`, or moved to the next free slot) instead of going out
/// however late it is.
pub trait ClockStepped: Send + Sync {
    /// The wall clock moved `by` more (or less, when negative) than the time that passed; the
    /// loop waits for the returned future before it claims.
    fn clock_stepped(
        &self,
        by: SignedDuration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

/// A monitor that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMonitor;

impl Monitor for NoMonitor {}

struct Shared {
    store: Arc<dyn Store>,
    publishers: HashMap<String, Arc<dyn Publisher>>,
    clock: Arc<dyn Clock>,
    gate: Arc<dyn Gate>,
    monitor: Arc<dyn Monitor>,
    settings: DispatchSettings,
    wake: Notify,
    /// Deliveries claimed and not yet recorded: attempt, and until when the lease is known held.
    in_flight: Mutex<HashMap<String, (u32, Timestamp)>>,
    channel_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    permits: Semaphore,
    done_tx: mpsc::UnboundedSender<Done>,
    /// Since when every write to the store has failed (the current storage fault episode).
    failing_since: Mutex<Option<std::time::Instant>>,
    /// The host's answer to a clock step.
    on_step: std::sync::OnceLock<Arc<dyn ClockStepped>>,
    /// The monotonic and wall clocks at the last turn.
    last_turn: Mutex<Option<(std::time::Instant, Timestamp)>>,
}

struct Done {
    delivery: Delivery,
    outcome: Outcome,
    reconciled: bool,
}

/// The dispatch loop and its workers. Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
    done_rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Done>>>,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("owner", &self.shared.settings.owner)
            .field("channels", &self.shared.publishers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over `store`, sending through `publishers` (one per channel name).
    pub fn new(
        store: Arc<dyn Store>,
        publishers: HashMap<String, Arc<dyn Publisher>>,
        clock: Arc<dyn Clock>,
        gate: Arc<dyn Gate>,
        monitor: Arc<dyn Monitor>,
        settings: DispatchSettings,
    ) -> Self {
        let channel_locks =
            publishers.keys().map(|c| (c.clone(), Arc::new(tokio::sync::Mutex::new(())))).collect();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let permits = Semaphore::new(settings.max_in_flight.max(1));
        Self {
            shared: Arc::new(Shared {
                store,
                publishers,
                clock,
                gate,
                monitor,
                settings,
                wake: Notify::new(),
                in_flight: Mutex::new(HashMap::new()),
                channel_locks,
                permits,
                done_tx,
                failing_since: Mutex::new(None),
                on_step: std::sync::OnceLock::new(),
                last_turn: Mutex::new(None),
            }),
            done_rx: Arc::new(tokio::sync::Mutex::new(done_rx)),
            tasks: TaskTracker::new(),
        }
    }

    /// Sets what is done when the wall clock steps (once; a second call is ignored).
    pub fn on_clock_step(&self, hook: Arc<dyn ClockStepped>) {
        let _ = self.shared.on_step.set(hook);
    }

    /// Wakes the loop at once (after a sync that changed the queue).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Runs until `cancel` fires: then stops claiming, waits up to the shutdown grace for requests
    /// in flight and their outcomes, and returns. Deliveries still in flight after the grace keep
    /// their lease; they become `unknown` when it lapses (or at the next start on SQLite) and are
    /// reconciled, never blindly re-sent.
    ///
    /// # Errors
    /// When the store fails while recording outcomes repeatedly; claims that fail are retried
    /// at the next turn (a PostgreSQL restart is ridden out).
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), DispatchError> {
        let stop_completer = CancellationToken::new();
        let completer = self.spawn_completer(stop_completer.clone());
        let heartbeat = self.spawn_heartbeat(cancel.clone());
        let mut store_errors = 0u32;
        // The end of the last turn that could claim: a loop that has not made progress for
        // longer than the stall limit (the store refusing, or a claim blocked waiting for a
        // connection) stops reporting itself alive.
        let mut progressed = std::time::Instant::now();
        while !cancel.is_cancelled() {
            let wedged =
                self.shared.settings.stall_limit.is_some_and(|limit| progressed.elapsed() > limit);
            if !wedged {
                self.shared.monitor.alive();
            }
            let sleep = match self.turn().await {
                Ok(worked) => {
                    store_errors = 0;
                    progressed = std::time::Instant::now();
                    self.store_recovered();
                    if worked { Duration::ZERO } else { self.until_next().await }
                }
                Err(e) => {
                    store_errors += 1;
                    self.store_fault(&e, "claiming due deliveries");
                    Duration::from_millis(200 * u64::from(store_errors.min(25)))
                }
            };
            if sleep.is_zero() {
                continue;
            }
            let sleep = sleep.min(self.shared.settings.max_sleep.max(Duration::from_millis(10)));
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        heartbeat.abort();
        self.tasks.close();
        if tokio::time::timeout(self.shared.settings.shutdown_grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still in flight after the shutdown grace; they will be reconciled"
            );
        }
        stop_completer.cancel();
        if completer.await.is_err() {
            tracing::warn!("the outcome recorder stopped abnormally");
        }
        Ok(())
    }

    /// Publishes everything due now (and thread items unblocked meanwhile), waits for every
    /// outcome, and returns what happened. Reconciles `unknown` deliveries first.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn run_once(&self) -> Result<OnceReport, DispatchError> {
        let mut report = OnceReport::default();
        loop {
            let before = self.shared.clock.now();
            let reconciling = self.reconcile_batch(before).await?;
            let claimed = self.claim_batch(before, before).await?;
            if reconciling == 0 && claimed == 0 {
                break;
            }
            self.tasks.close();
            self.tasks.wait().await;
            self.tasks.reopen();
            let (published, other) = self.drain_completions().await;
            report.published += published;
            report.not_published += other;
        }
        Ok(report)
    }

    /// Logs a store failure once per episode: at error level when the store starts failing
    /// (nothing is claimed, so nothing is sent, until it accepts writes again), at debug level
    /// while it goes on.
    fn store_fault(&self, e: &StoreError, doing: &str) {
        let s = &self.shared;
        let mut since = s.failing_since.lock().unwrap_or_else(|e| e.into_inner());
        if since.is_none() {
            *since = Some(std::time::Instant::now());
            tracing::error!(
                error = e as &dyn std::error::Error,
                doing,
                "the database cannot commit (or cannot be reached): nothing is sent until it \
                 can; trying again"
            );
        } else {
            tracing::debug!(
                error = e as &dyn std::error::Error,
                doing,
                "the database still cannot commit"
            );
        }
    }

    /// Ends a storage fault episode, if one was going on (logged with its length).
    fn store_recovered(&self) {
        let s = &self.shared;
        let since = s.failing_since.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(since) = since {
            tracing::warn!(
                failed_for_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                "the database accepts writes again; publishing resumes"
            );
        }
    }

    /// Compares the wall clock with the monotonic clock since the last turn; on a step larger
    /// than [`CLOCK_STEP`], logs it and runs the host's hook before anything is claimed.
    async fn check_clock(&self) {
        let s = &self.shared;
        let (mono, wall) = (std::time::Instant::now(), s.clock.now());
        let last = s.last_turn.lock().unwrap_or_else(|e| e.into_inner()).replace((mono, wall));
        let Some((last_mono, last_wall)) = last else { return };
        let passed = SignedDuration::try_from(mono - last_mono).unwrap_or(SignedDuration::MAX);
        let by = last_wall.duration_until(wall) - passed;
        if by.abs() <= CLOCK_STEP {
            return;
        }
        tracing::warn!(
            by = %format!("{by:#}"),
            "the wall clock stepped; the queue is laid again at the new time"
        );
        if let Some(hook) = s.on_step.get() {
            hook.clock_stepped(by).await;
        }
    }

    /// One turn: reconcile, then claim. Returns whether anything was started.
    async fn turn(&self) -> Result<bool, StoreError> {
        self.check_clock().await;
        let now = self.shared.clock.now();
        let reconciling = self.reconcile_batch(now).await?;
        let claimed = self.claim_batch(now, now + self.lead()).await?;
        Ok(reconciling + claimed > 0 && claimed >= self.shared.settings.batch)
    }

    /// The claim lead as a signed duration.
    fn lead(&self) -> SignedDuration {
        SignedDuration::try_from(self.shared.settings.claim_lead).unwrap_or(SignedDuration::ZERO)
    }

    /// How long to sleep: until the claim lead before the store's next due instant, at most
    /// [`MAX_SLEEP`].
    async fn until_next(&self) -> Duration {
        let now = self.shared.clock.now();
        match self.shared.store.next_due(now).await {
            Ok(Some(next)) => {
                let wait = now.duration_until(next) - self.lead();
                if wait <= SignedDuration::ZERO {
                    // Due now but nothing was claimable (all in flight, or held): look again soon.
                    Duration::from_millis(20)
                } else {
                    Duration::try_from(wait).unwrap_or(MAX_SLEEP).min(MAX_SLEEP)
                }
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                self.store_fault(&e, "reading the next due instant");
                Duration::from_secs(1)
            }
        }
    }

    async fn reconcile_batch(&self, now: Timestamp) -> Result<usize, StoreError> {
        let s = &self.shared;
        let claimed =
            s.store.unknown_to_reconcile(&s.settings.owner, now, s.settings.lease, 64).await?;
        let n = claimed.len();
        for c in claimed {
            self.track(&c.delivery, c.lease_expires_at);
            let this = self.clone();
            self.tasks.spawn(async move { this.reconcile_one(c).await });
        }
        Ok(n)
    }

    async fn reconcile_one(&self, claimed: Claimed) {
        let s = &self.shared;
        let d = claimed.delivery;
        let Some(publisher) = s.publishers.get(&d.channel) else {
            self.untrack(&d);
            return;
        };
        let found = publisher.reconcile(&d).await;
        tracing::info!(post = %d.post, channel = %d.channel, item = d.item, result = ?found, "reconciled");
        let now = s.clock.now();
        let applied = s
            .store
            .settle_reconciled(&s.settings.owner, &d.id, d.attempt, &found, now, &s.settings.retry)
            .await;
        self.untrack(&d);
        match applied {
            Ok(_) => {
                if let crieur_core::Reconciled::Found { remote_id, url } = &found {
                    let outcome =
                        Outcome::Published { remote_id: remote_id.clone(), url: url.clone() };
                    s.monitor.settled(&d, &outcome);
                    let _ = s.done_tx.send(Done { delivery: d, outcome, reconciled: true });
                }
                s.wake.notify_one();
            }
            Err(e) => {
                tracing::warn!(error = %e, delivery = %d.id, "could not record a reconciliation")
            }
        }
    }

    /// Claims what is due by `due_by` (`now`, or the claim lead later) and hands it to the
    /// channels' workers, which send nothing before its due instant.
    async fn claim_batch(&self, now: Timestamp, due_by: Timestamp) -> Result<usize, StoreError> {
        let s = &self.shared;
        let (owner, lease, batch) = (&s.settings.owner, s.settings.lease, s.settings.batch);
        let claimed = s.store.claim_ahead(owner, now, due_by, lease, batch).await?;
        let n = claimed.len();
        let mut by_channel: HashMap<String, Vec<Pending>> = HashMap::new();
        for c in claimed {
            self.track(&c.delivery, c.lease_expires_at);
            let channel = by_channel.entry(c.delivery.channel.clone()).or_default();
            channel.push(Pending { delivery: c.delivery, media: c.media, due_at: c.due_at });
        }
        for (channel, deliveries) in by_channel {
            let this = self.clone();
            self.tasks.spawn(async move { this.channel_worker(channel, deliveries).await });
        }
        Ok(n)
    }

    /// Sends `deliveries` of one channel in order, one at a time, each with its media files read
    /// just before (a file that cannot be sent rejects its delivery, naming it).
    async fn channel_worker(&self, channel: String, deliveries: Vec<Pending>) {
        let s = &self.shared;
        let lock = s.channel_locks.get(&channel).cloned();
        let _guard = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        for Pending { delivery: mut d, media, due_at } in deliveries {
            self.wait_until(due_at).await;
            let outcome = match crate::media::attachments(&media).await {
                Ok(attachments) => {
                    d.media = attachments;
                    self.send(&d, due_at).await
                }
                Err(reason) => {
                    tracing::error!(post = %d.post, channel = %d.channel, %reason, "a media file cannot be sent; not sent");
                    Outcome::Rejected { kind: RejectKind::Invalid, reason }
                }
            };
            self.after_send(&d, &outcome).await;
            let _ = s.done_tx.send(Done { delivery: d, outcome, reconciled: false });
        }
    }

    /// Sleeps until the daemon's clock reads `due_at` or later (claimed ahead: never early).
    async fn wait_until(&self, due_at: Timestamp) {
        loop {
            let left = self.shared.clock.now().duration_until(due_at);
            if left <= SignedDuration::ZERO {
                return;
            }
            // In short steps, so a clock that is stepped (or a test's) is read again soon.
            let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
            tokio::time::sleep(left.clamp(Duration::from_millis(1), Duration::from_millis(50)))
                .await;
        }
    }

    async fn send(&self, d: &Delivery, due_at: Timestamp) -> Outcome {
        let s = &self.shared;
        let Some(publisher) = s.publishers.get(&d.channel) else {
            return Outcome::Rejected {
                kind: RejectKind::Other,
                reason: format!("channel {:?} is not in the config any more", d.channel),
            };
        };
        let now = s.clock.now();
        if let Some(until) = publisher.hold_until().filter(|t| *t > now) {
            return Outcome::Retry {
                reason: format!("channel {} is rate limited", d.channel),
                not_before: Some(until),
            };
        }
        if let Some(reason) = s.gate.blocked(d) {
            tracing::error!(post = %d.post, channel = %d.channel, %reason, "blocked by the policy; not sent");
            return Outcome::Rejected { kind: RejectKind::Invalid, reason };
        }
        let Ok(_permit) = s.permits.acquire().await else {
            return Outcome::Retry { reason: "shutting down".into(), not_before: None };
        };
        if !self.lease_held(d).await {
            tracing::warn!(post = %d.post, channel = %d.channel, item = d.item, "the lease lapsed before sending (the process stalled?); not sent: another instance may own it now");
            return Outcome::Retry {
                reason: "not sent: the lease on it lapsed before sending".into(),
                not_before: None,
            };
        }
        tracing::debug!(post = %d.post, channel = %d.channel, item = d.item, attempt = d.attempt, "sending");
        s.monitor.sending(d, due_at);
        publisher.publish(d).await
    }

    /// Channel-level consequences of an outcome: holds for rate limits, refused credentials and
    /// gone endpoints.
    async fn after_send(&self, d: &Delivery, outcome: &Outcome) {
        let s = &self.shared;
        let now = s.clock.now();
        let hold = match outcome {
            Outcome::Rejected { kind: RejectKind::Gone, reason } => {
                tracing::error!(channel = %d.channel, %reason, "the endpoint is gone; the channel is disabled until the config is reloaded");
                Some((now + GONE_HOLD, format!("{GONE_PREFIX}{reason}")))
            }
            Outcome::Unauthorized { reason } => {
                tracing::error!(channel = %d.channel, %reason, "credentials refused; run `crieur auth {}` or fix the token", d.channel);
                Some((now + UNAUTHORIZED_HOLD, format!("unauthorized: {reason}")))
            }
            _ => s
                .publishers
                .get(&d.channel)
                .and_then(|p| p.hold_until())
                .filter(|t| *t > now)
                .map(|t| (t, "rate limited by the network".to_owned())),
        };
        if let Some((until, reason)) = hold
            && let Err(e) = s.store.hold_channel(&d.channel, until, &reason, now).await
        {
            tracing::warn!(error = %e, channel = %d.channel, "could not hold the channel");
        }
    }

    fn track(&self, d: &Delivery, lease_until: Timestamp) {
        let mut m = self.shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(d.id.clone(), (d.attempt, lease_until));
    }

    /// Whether this process still holds `d`'s lease for at least half a lease more, renewing it
    /// in the store when the last known renewal is older. A process that stalled past its lease
    /// (frozen, starved, its store unreachable) may have lost the delivery to another instance,
    /// which reconciles and sends it: sending it too would publish it twice.
    async fn lease_held(&self, d: &Delivery) -> bool {
        let s = &self.shared;
        let now = s.clock.now();
        let until = {
            let m = s.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            m.get(&d.id).map(|(_, until)| *until)
        };
        if until.is_some_and(|u| now.duration_until(u) >= s.settings.lease / 2) {
            return true;
        }
        let lease = [Lease { id: d.id.clone(), attempt: d.attempt }];
        match s.store.heartbeat(&s.settings.owner, &lease, now, s.settings.lease).await {
            Ok(1) => {
                let mut m = s.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = m.get_mut(&d.id) {
                    entry.1 = now + s.settings.lease;
                }
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, delivery = %d.id, "could not renew a lease before sending");
                false
            }
        }
    }

    fn untrack(&self, d: &Delivery) {
        let mut m = self.shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(&d.id);
    }

    fn spawn_heartbeat(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let every = Duration::try_from(this.shared.settings.lease / 3)
                .unwrap_or(Duration::from_secs(20))
                .max(Duration::from_millis(100));
            loop {
                // Stop once cancelled: an already-cancelled token is always ready, so looping on
                // it would never yield (the task could not even be aborted) and would spin a core.
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let leases: Vec<Lease> = {
                    let m = this.shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                    m.iter()
                        .map(|(id, (attempt, _))| Lease { id: id.clone(), attempt: *attempt })
                        .collect()
                };
                if !leases.is_empty() {
                    let s = &this.shared;
                    let now = s.clock.now();
                    match s.store.heartbeat(&s.settings.owner, &leases, now, s.settings.lease).await
                    {
                        Ok(n) if n < leases.len() as u64 => {
                            tracing::warn!(lost = leases.len() as u64 - n, "some leases were lost");
                        }
                        Ok(_) => {
                            let until = now + s.settings.lease;
                            let mut m = s.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                            for l in &leases {
                                if let Some(entry) = m.get_mut(&l.id).filter(|e| e.0 == l.attempt) {
                                    entry.1 = until;
                                }
                            }
                        }
                        Err(e) => this.store_fault(&e, "renewing leases"),
                    }
                }
            }
        })
    }

    /// The task that records outcomes in batches until `stop` fires, then records what is left.
    fn spawn_completer(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut rx = this.done_rx.lock().await;
            loop {
                let mut batch = Vec::new();
                tokio::select! {
                    n = rx.recv_many(&mut batch, 1024) => {
                        if n == 0 {
                            return;
                        }
                        this.record(batch).await;
                    }
                    () = stop.cancelled() => {
                        while let Ok(d) = rx.try_recv() {
                            batch.push(d);
                        }
                        if !batch.is_empty() {
                            this.record(batch).await;
                        }
                        return;
                    }
                }
            }
        })
    }

    /// Records every outcome already available, without waiting.
    async fn drain_completions(&self) -> (u64, u64) {
        let mut total = (0, 0);
        loop {
            let mut batch = Vec::new();
            {
                let mut rx = self.done_rx.lock().await;
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(d) => batch.push(d),
                        Err(_) => break,
                    }
                }
            }
            if batch.is_empty() {
                return total;
            }
            let (p, o) = self.record(batch).await;
            total.0 += p;
            total.1 += o;
        }
    }

    /// Records a batch of outcomes in one transaction; retries the transaction while the store is
    /// unreachable (the outcomes are the only record of what the network did).
    async fn record(&self, batch: Vec<Done>) -> (u64, u64) {
        let s = &self.shared;
        let (mut published, mut other) = (0, 0);
        let mut completions = Vec::new();
        for d in &batch {
            if matches!(d.outcome, Outcome::Published { .. }) {
                published += 1;
            } else {
                other += 1;
            }
            if d.reconciled {
                continue; // already settled by settle_reconciled
            }
            completions.push(Completion {
                id: d.delivery.id.clone(),
                attempt: d.delivery.attempt,
                outcome: d.outcome.clone(),
            });
        }
        let mut tries = 0u32;
        while !completions.is_empty() {
            let now = s.clock.now();
            match s
                .store
                .complete_many(&s.settings.owner, &completions, now, &s.settings.retry)
                .await
            {
                Ok(applied) => {
                    for (c, a) in completions.iter().zip(&applied) {
                        if *a == crieur_core::store::Applied::Fenced {
                            tracing::warn!(delivery = %c.id, "lease lost before the outcome was recorded; another instance owns it");
                        }
                    }
                    self.store_recovered();
                    break;
                }
                Err(e) => {
                    tries += 1;
                    self.store_fault(&e, "recording outcomes");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(tries.min(25)))).await;
                }
            }
        }
        for d in &batch {
            self.untrack(&d.delivery);
            if !d.reconciled {
                s.monitor.settled(&d.delivery, &d.outcome);
                log_outcome(&d.delivery, &d.outcome);
            }
        }
        s.wake.notify_one();
        (published, other)
    }
}

fn log_outcome(d: &Delivery, outcome: &Outcome) {
    match outcome {
        Outcome::Published { remote_id, url } => tracing::info!(
            post = %d.post, channel = %d.channel, item = d.item, %remote_id, url = url.as_deref().unwrap_or(""),
            "published"
        ),
        Outcome::Retry { reason, not_before } => tracing::warn!(
            post = %d.post, channel = %d.channel, item = d.item, %reason, not_before = ?not_before.map(|t| t.to_string()),
            "not sent; will retry"
        ),
        Outcome::Rejected { kind, reason } => tracing::error!(
            post = %d.post, channel = %d.channel, item = d.item, ?kind, %reason, "rejected"
        ),
        Outcome::Unauthorized { reason } => tracing::error!(
            post = %d.post, channel = %d.channel, item = d.item, %reason, "unauthorized"
        ),
        Outcome::Unknown { reason } => tracing::warn!(
            post = %d.post, channel = %d.channel, item = d.item, %reason,
            "outcome unknown; will reconcile before any retry"
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! The loop on a real SQLite store and a recording publisher, on a clock that starts at a
    //! chosen instant (the night before a daylight-saving change) and runs at real speed. (Tokio's
    //! paused time cannot be used here: while the store waits on SQLite's thread, the paused
    //! runtime jumps to the connection pool's timeout.)

    use std::sync::Mutex as StdMutex;

    use crieur_core::{Network, Reconciled};
    use crieur_store::{DesiredDelivery, OpenOptions, State};

    use super::*;

    /// A clock that follows tokio's time from a fixed start.
    struct TokioClock {
        base: Timestamp,
        start: tokio::time::Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> Timestamp {
            let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap();
            self.base + elapsed
        }
    }

    /// Publishes everything, recording (delivery id, the clock's time) of each send.
    struct Recorder {
        clock: Arc<dyn Clock>,
        sent: StdMutex<Vec<(String, Timestamp)>>,
        /// The media each send carried.
        media: StdMutex<Vec<Vec<crieur_core::Attachment>>>,
        answer: Outcome,
    }

    #[async_trait::async_trait]
    impl Publisher for Recorder {
        fn network(&self) -> Network {
            Network::Webhook
        }
        async fn publish(&self, d: &Delivery) -> Outcome {
            self.sent.lock().unwrap().push((d.id.clone(), self.clock.now()));
            self.media.lock().unwrap().push(d.media.clone());
            self.answer.clone()
        }
        async fn reconcile(&self, _: &Delivery) -> Reconciled {
            Reconciled::NotFound
        }
    }

    fn desired(id: &str, due: Timestamp) -> DesiredDelivery {
        DesiredDelivery {
            id: format!("{id}:blog:0"),
            post: id.to_owned(),
            channel: "blog".to_owned(),
            item: 0,
            network: Network::Webhook,
            due_at: due,
            text: format!("text of {id}"),
            link: None,
            category: None,
            article: None,
            media: Vec::new(),
            options: Default::default(),
        }
    }

    async fn setup(
        answer: Outcome,
    ) -> (tempfile::TempDir, Arc<dyn Store>, Arc<Recorder>, Dispatcher, Timestamp) {
        let base: Timestamp = "2026-03-29T00:59:59Z".parse().unwrap();
        let clock: Arc<dyn Clock> =
            Arc::new(TokioClock { base, start: tokio::time::Instant::now() });
        let settings = DispatchSettings::new("test-owner".to_owned());
        let (dir, store, recorder, dispatcher) = setup_with(answer, clock, settings).await;
        (dir, store, recorder, dispatcher, base)
    }

    async fn setup_with(
        answer: Outcome,
        clock: Arc<dyn Clock>,
        settings: DispatchSettings,
    ) -> (tempfile::TempDir, Arc<dyn Store>, Arc<Recorder>, Dispatcher) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crieur_store::open(
            &url,
            OpenOptions { clock: clock.clone(), ..OpenOptions::default() },
        )
        .await
        .unwrap();
        let recorder = Arc::new(Recorder {
            clock: clock.clone(),
            sent: StdMutex::default(),
            media: StdMutex::default(),
            answer,
        });
        let publishers: HashMap<String, Arc<dyn Publisher>> =
            HashMap::from([("blog".to_owned(), recorder.clone() as Arc<dyn Publisher>)]);
        let dispatcher = Dispatcher::new(
            store.clone(),
            publishers,
            clock,
            Arc::new(OpenGate),
            Arc::new(NoMonitor),
            settings,
        );
        (dir, store, recorder, dispatcher)
    }

    async fn state_of(store: &Arc<dyn Store>, id: &str) -> State {
        store.status().await.unwrap().deliveries.iter().find(|r| r.id == id).unwrap().state
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn media_files_are_read_at_send_time_and_a_missing_one_rejects_its_delivery() {
        let published = Outcome::Published { remote_id: "r".into(), url: None };
        let (dir, store, recorder, dispatcher, base) = setup(published).await;
        // A 1×1 GIF with a comment extension ("secret").
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x06secret\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";
        std::fs::write(dir.path().join("dot.gif"), gif).unwrap();
        let entry = |name: &str| DeliveryMedia {
            path: name.to_owned(),
            file: dir.path().join(name),
            alt: format!("alt of {name}"),
            keep_metadata: false,
        };
        let mut with = desired("with", base);
        with.media = vec![entry("dot.gif")];
        let mut gone = desired("gone", base);
        gone.media = vec![entry("dot.gif"), entry("gone.png")];
        store.sync(&[with, gone], base).await.unwrap();
        let report = dispatcher.run_once().await.unwrap();
        assert_eq!((report.published, report.not_published), (1, 1));
        let sent = recorder.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "the delivery with a missing file is not sent: {sent:?}");
        let media = recorder.media.lock().unwrap().clone();
        assert_eq!(media[0].len(), 1);
        assert_eq!(media[0][0].alt, "alt of dot.gif");
        assert!(!media[0][0].data.windows(6).any(|w| w == b"secret"), "metadata removed");
        let rows = store.status().await.unwrap().deliveries;
        let failed = rows.iter().find(|r| r.id == "gone:blog:0").unwrap();
        assert_eq!(failed.state, State::Failed);
        let error = failed.error.as_deref().unwrap();
        assert!(error.contains("media gone.png: the file is missing"), "{error}");
    }

    /// The claim lead, on a clock the test sets: the intent is committed ahead, and however long
    /// the worker waits in real time, nothing is sent until the daemon's clock reads the due
    /// instant.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_claimed_ahead_is_never_sent_before_its_instant() {
        let base: Timestamp = "2026-03-29T00:59:59Z".parse().unwrap();
        let manual = Arc::new(crieur_core::ManualClock::new(base));
        let mut settings = DispatchSettings::new("test-owner".to_owned());
        settings.claim_lead = Duration::from_secs(2);
        let published = Outcome::Published { remote_id: "r".into(), url: None };
        let (_dir, store, recorder, dispatcher) =
            setup_with(published, manual.clone(), settings).await;
        let due = base + SignedDuration::from_secs(1);
        store.sync(&[desired("ahead", due)], base).await.unwrap();

        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let (d, c) = (dispatcher.clone(), cancel.clone());
            async move { d.run(c).await }
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(recorder.sent.lock().unwrap().is_empty(), "nothing sent a second early");
        assert_eq!(state_of(&store, "ahead:blog:0").await, State::Publishing, "claimed ahead");
        manual.set(due - SignedDuration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(recorder.sent.lock().unwrap().is_empty(), "nothing sent a millisecond early");
        manual.set(due);
        for _ in 0..100 {
            if !recorder.sent.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
        run.await.unwrap().unwrap();
        let sent = recorder.sent.lock().unwrap().clone();
        assert_eq!(sent, [("ahead:blog:0".to_owned(), due)], "sent once, at its instant");
        assert_eq!(state_of(&store, "ahead:blog:0").await, State::Published);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sleeps_until_each_due_instant_and_sends_it_then() {
        let published = Outcome::Published { remote_id: "r".into(), url: None };
        let (_dir, store, recorder, dispatcher, base) = setup(published).await;
        let dues = [
            ("soon", base + SignedDuration::from_millis(300)),
            ("later", base + SignedDuration::from_millis(900)),
            ("last", base + SignedDuration::from_millis(1800)),
        ];
        let rows: Vec<_> = dues.iter().map(|(id, due)| desired(id, *due)).collect();
        store.sync(&rows, base).await.unwrap();

        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let (d, c) = (dispatcher.clone(), cancel.clone());
            async move { d.run(c).await }
        });
        tokio::time::sleep(Duration::from_millis(2500)).await;
        cancel.cancel();
        run.await.unwrap().unwrap();

        let sent = recorder.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 3, "each sent once: {sent:?}");
        for ((id, due), (sent_id, at)) in dues.iter().zip(&sent) {
            assert_eq!(sent_id, &format!("{id}:blog:0"));
            let late = due.duration_until(*at);
            assert!(
                late >= SignedDuration::ZERO && late < SignedDuration::from_millis(150),
                "{id} due {due} sent {at}: {late:?} late"
            );
            assert_eq!(state_of(&store, sent_id).await, State::Published);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sync_wakes_the_loop_at_once() {
        let published = Outcome::Published { remote_id: "r".into(), url: None };
        let (_dir, store, recorder, dispatcher, base) = setup(published).await;
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let (d, c) = (dispatcher.clone(), cancel.clone());
            async move { d.run(c).await }
        });
        // Let the loop go to sleep on an empty queue (for 30 s), then add a due post.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = base + SignedDuration::from_millis(300);
        store.sync(&[desired("urgent", now)], now).await.unwrap();
        dispatcher.wake();
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
        run.await.unwrap().unwrap();
        let sent = recorder.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert!(now.duration_until(sent[0].1) < SignedDuration::from_millis(150), "{sent:?}");
    }

    /// A clock that follows tokio's time from a fixed start, and can be stepped.
    struct SteppingClock {
        inner: TokioClock,
        offset: StdMutex<SignedDuration>,
    }

    impl Clock for SteppingClock {
        fn now(&self) -> Timestamp {
            self.inner.now() + *self.offset.lock().unwrap()
        }
    }

    /// The host's hook in the test: records each step and lays the queue again without `drop`
    /// (as a sync under `missed = "skip"` moves a slot the step jumped over).
    struct Relay {
        store: Arc<dyn Store>,
        keep: Vec<DesiredDelivery>,
        steps: StdMutex<Vec<SignedDuration>>,
        clock: Arc<SteppingClock>,
    }

    impl ClockStepped for Relay {
        fn clock_stepped(
            &self,
            by: SignedDuration,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                self.steps.lock().unwrap().push(by);
                self.store.sync(&self.keep, self.clock.now()).await.unwrap();
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_clock_step_lays_the_queue_again_before_claiming_and_sends_nothing_twice() {
        let base: Timestamp = "2026-03-29T00:59:59Z".parse().unwrap();
        let clock = Arc::new(SteppingClock {
            inner: TokioClock { base, start: tokio::time::Instant::now() },
            offset: StdMutex::new(SignedDuration::ZERO),
        });
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let opts = OpenOptions { clock: dyn_clock.clone(), ..OpenOptions::default() };
        let store = crieur_store::open(&url, opts).await.unwrap();
        let published = Outcome::Published { remote_id: "r".into(), url: None };
        let recorder = Arc::new(Recorder {
            clock: dyn_clock.clone(),
            sent: StdMutex::default(),
            media: StdMutex::default(),
            answer: published,
        });
        let publishers: HashMap<String, Arc<dyn Publisher>> =
            HashMap::from([("blog".to_owned(), recorder.clone() as Arc<dyn Publisher>)]);
        let dispatcher = Dispatcher::new(
            store.clone(),
            publishers,
            dyn_clock,
            Arc::new(OpenGate),
            Arc::new(NoMonitor),
            DispatchSettings::new("test-owner".to_owned()),
        );
        let min = SignedDuration::from_mins;
        let rows = [
            desired("early", base + min(10)),
            desired("skipped", base + min(30)),
            desired("late", base + min(50)),
            desired("tomorrow", base + min(120)),
        ];
        store.sync(&rows, base).await.unwrap();
        let relay = Arc::new(Relay {
            store: store.clone(),
            keep: rows.iter().filter(|d| d.post != "skipped").cloned().collect(),
            steps: StdMutex::default(),
            clock: clock.clone(),
        });
        dispatcher.on_clock_step(relay.clone());
        let cancel = CancellationToken::new();
        let run = tokio::spawn({
            let (d, c) = (dispatcher.clone(), cancel.clone());
            async move { d.run(c).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(recorder.sent.lock().unwrap().is_empty(), "nothing due yet");

        // An hour forward: what the hour held is due, once the queue was laid again.
        *clock.offset.lock().unwrap() = min(60);
        dispatcher.wake();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let ids = |r: &Recorder| {
            r.sent.lock().unwrap().iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&recorder), ["early:blog:0", "late:blog:0"]);
        assert_eq!(state_of(&store, "skipped:blog:0").await, State::Cancelled);

        // An hour back: nothing is sent again, and what is due later waits.
        *clock.offset.lock().unwrap() = SignedDuration::ZERO;
        dispatcher.wake();
        tokio::time::sleep(Duration::from_millis(700)).await;
        cancel.cancel();
        run.await.unwrap().unwrap();
        assert_eq!(ids(&recorder), ["early:blog:0", "late:blog:0"], "nothing twice");
        assert_eq!(state_of(&store, "tomorrow:blog:0").await, State::Queued);
        let steps = relay.steps.lock().unwrap().clone();
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!((steps[0] - min(60)).abs() < SignedDuration::from_secs(1), "{steps:?}");
        assert!((steps[1] + min(60)).abs() < SignedDuration::from_secs(1), "{steps:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_outcome_is_never_sent_again_blindly() {
        let unknown = Outcome::Unknown { reason: "connection reset after sending".into() };
        let (_dir, store, recorder, dispatcher, base) = setup(unknown).await;
        store.sync(&[desired("maybe", base)], base).await.unwrap();
        let report = dispatcher.run_once().await.unwrap();
        assert_eq!(report.published, 0);
        // One send; then reconciliation (the recorder answers NotFound) decides a retry, which the
        // store schedules later, not now.
        assert_eq!(recorder.sent.lock().unwrap().len(), 1);
        let state = state_of(&store, "maybe:blog:0").await;
        assert!(matches!(state, State::Unknown | State::Retrying), "{state:?}");
    }
}
