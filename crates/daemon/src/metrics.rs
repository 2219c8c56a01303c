//! The metrics lane: engagement snapshots, taken in a lane of their own that never holds up
//! publishing.
//!
//! Every [`SWEEP_EVERY`] the lane asks the store which published posts of each channel have a
//! snapshot due (`[metrics] after`, default 1, 7 and 28 days after publication; channels with
//! `metrics = false`, or all with `collect = false`, are left out), reads their figures from the
//! channel's [`Engagement`](crieur_core::engagement::Engagement) reader in batches as large as the network takes (X: 100 ids a call),
//! and records them. The lane runs in its own task, with its own short store transactions; the
//! dispatcher never waits for it.
//!
//! A failed read is tried again later, with a backoff per delivery (15 minutes doubling up to a
//! day) kept in the store's `snapshot_failures`; a rate limit stops the channel's reads until the
//! network's reset. Neither touches the delivery: its state, attempts and lease are the
//! dispatcher's alone. A post the network no longer returns (deleted) gets a snapshot with every
//! figure unknown (`null`), so it is not asked for again at that offset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_config::Config;
use crieur_core::engagement::{EngagementError, MetricsRequest, Snapshot, SnapshotDue};
use crieur_core::store::Store;
use crieur_core::{Clock, Publisher};
use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

/// How often the lane looks for due snapshots.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);

/// The most due snapshots one sweep reads per channel (the rest wait for the next sweep).
pub const PER_SWEEP: usize = 10_000;

/// The first wait after a failed read; it doubles with each failure, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: SignedDuration = SignedDuration::from_mins(15);

/// The longest wait after failed reads.
pub const MAX_BACKOFF: SignedDuration = SignedDuration::from_hours(24);

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Calls to the readers (each one batch).
    pub reads: u64,
    /// Snapshots recorded.
    pub snapshots: u64,
    /// Deliveries whose read failed (tried again later).
    pub failed: u64,
}

/// The metrics lane of one configuration (rebuilt on reload, like the publishers).
pub struct MetricsLane {
    store: Arc<dyn Store>,
    readers: Vec<(String, Arc<dyn Publisher>)>,
    after: Vec<SignedDuration>,
    clock: Arc<dyn Clock>,
    waits: Mutex<HashMap<String, Timestamp>>,
}

impl std::fmt::Debug for MetricsLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let channels: Vec<&str> = self.readers.iter().map(|(c, _)| c.as_str()).collect();
        f.debug_struct("MetricsLane")
            .field("channels", &channels)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

/// The wait after the `failures`-th failed read in a row: 15 minutes doubling, at most a day.
pub fn backoff(failures: u32) -> SignedDuration {
    let shift = failures.saturating_sub(1).min(20);
    let mins = FIRST_BACKOFF.as_mins().saturating_mul(1_i64 << shift);
    SignedDuration::from_mins(mins).min(MAX_BACKOFF)
}

impl MetricsLane {
    /// The lane for `config`: the channels whose metrics are on and whose publisher has an
    /// engagement reader.
    pub fn new(
        store: Arc<dyn Store>,
        config: &Config,
        publishers: &HashMap<String, Arc<dyn Publisher>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut readers: Vec<(String, Arc<dyn Publisher>)> = config
            .channels
            .iter()
            .filter(|(_, c)| config.metrics.on(c))
            .filter_map(|(name, _)| {
                let p = publishers.get(name)?;
                p.engagement().is_some().then(|| (name.clone(), p.clone()))
            })
            .collect();
        readers.sort_by(|a, b| a.0.cmp(&b.0));
        MetricsLane {
            store,
            readers,
            after: config.metrics.after.clone(),
            clock,
            waits: Mutex::new(HashMap::new()),
        }
    }

    /// The channels the lane reads figures for, by name.
    pub fn channels(&self) -> Vec<&str> {
        self.readers.iter().map(|(c, _)| c.as_str()).collect()
    }

    /// Takes every snapshot due now. Failures are logged and recorded for a later try; nothing
    /// here fails the daemon.
    pub async fn sweep(&self) -> Sweep {
        let mut done = Sweep::default();
        for (channel, publisher) in &self.readers {
            let Some(reader) = publisher.engagement() else { continue };
            let now = self.clock.now();
            let waiting =
                self.waits.lock().unwrap_or_else(|e| e.into_inner()).get(channel).copied();
            if waiting.is_some_and(|until| until > now) {
                continue;
            }
            let due = match self.store.snapshots_due(channel, now, &self.after, PER_SWEEP).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(channel = %channel, error = %e, "cannot find the snapshots due");
                    continue;
                }
            };
            for batch in due.chunks(reader.batch_size().max(1)) {
                let now = self.clock.now();
                let asked: Vec<MetricsRequest> = batch
                    .iter()
                    .map(|d| MetricsRequest {
                        remote_id: d.remote_id.clone(),
                        url: d.url.clone(),
                        published_at: d.published_at,
                    })
                    .collect();
                done.reads += 1;
                match reader.fetch(&asked, now).await {
                    Ok(found) => {
                        let taken: Vec<Snapshot> = batch
                            .iter()
                            .map(|d| Snapshot {
                                delivery: d.delivery.clone(),
                                after: d.after,
                                fetched_at: now,
                                metrics: found.get(&d.remote_id).copied().unwrap_or_default(),
                            })
                            .collect();
                        match self.store.record_snapshots(&taken).await {
                            Ok(()) => done.snapshots += taken.len() as u64,
                            Err(e) => {
                                tracing::warn!(channel = %channel, error = %e, "cannot record snapshots");
                            }
                        }
                    }
                    Err(error) => {
                        done.failed += batch.len() as u64;
                        let stop = self.failed(channel, batch, &error, now).await;
                        if stop {
                            break;
                        }
                    }
                }
            }
        }
        done
    }

    /// Records a failed read of `batch`; true when the channel's reads must stop for now.
    async fn failed(
        &self,
        channel: &str,
        batch: &[SnapshotDue],
        error: &EngagementError,
        now: Timestamp,
    ) -> bool {
        let ids: Vec<String> = batch.iter().map(|d| d.delivery.clone()).collect();
        let (not_before, stop) = match error {
            EngagementError::RateLimited { until } => {
                self.waits
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(channel.to_owned(), *until);
                (*until, true)
            }
            EngagementError::Failed { .. } => {
                let failures = batch.iter().map(|d| d.failures).max().unwrap_or(0) + 1;
                (now + backoff(failures), false)
            }
        };
        tracing::warn!(channel = %channel, posts = ids.len(), retry_at = %not_before, error = %error, "cannot read engagement figures; trying again later");
        if let Err(e) = self.store.snapshot_failed(&ids, not_before, &error.to_string(), now).await
        {
            tracing::warn!(channel = %channel, error = %e, "cannot record a failed read of figures");
        }
        stop
    }

    /// Sweeps now and then every [`SWEEP_EVERY`] until `cancel`.
    pub fn spawn(self: Arc<Self>, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if self.readers.is_empty() {
                return;
            }
            loop {
                let done = self.sweep().await;
                if done.reads > 0 {
                    tracing::info!(
                        reads = done.reads,
                        snapshots = done.snapshots,
                        failed = done.failed,
                        "engagement snapshots"
                    );
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(SWEEP_EVERY) => {}
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex as StdMutex;

    use crieur_core::engagement::{Engagement, Metrics};
    use crieur_core::store::{DesiredDelivery, RetryPolicy, State};
    use crieur_core::{Delivery, ManualClock, Network, Outcome, Reconciled};

    use super::*;
    use crate::testing::{POSTS, Project, ts};

    /// A publisher whose reader answers from a table, recording each batch; or fails.
    #[derive(Default)]
    struct Fake {
        batches: StdMutex<Vec<Vec<String>>>,
        fail: StdMutex<Option<EngagementError>>,
        batch: usize,
    }

    #[async_trait::async_trait]
    impl Publisher for Fake {
        fn network(&self) -> Network {
            Network::Webhook
        }
        async fn publish(&self, _: &Delivery) -> Outcome {
            Outcome::Retry { reason: "not in this test".into(), not_before: None }
        }
        async fn reconcile(&self, _: &Delivery) -> Reconciled {
            Reconciled::CannotTell { reason: "not in this test".into() }
        }
        fn engagement(&self) -> Option<&dyn Engagement> {
            Some(self)
        }
    }

    #[async_trait::async_trait]
    impl Engagement for Fake {
        fn network(&self) -> Network {
            Network::Webhook
        }
        fn batch_size(&self) -> usize {
            self.batch
        }
        async fn fetch(
            &self,
            posts: &[MetricsRequest],
            _: Timestamp,
        ) -> Result<BTreeMap<String, Metrics>, EngagementError> {
            self.batches.lock().unwrap().push(posts.iter().map(|p| p.remote_id.clone()).collect());
            if let Some(e) = self.fail.lock().unwrap().clone() {
                return Err(e);
            }
            Ok(posts
                .iter()
                .filter(|p| p.remote_id != "gone")
                .map(|p| (p.remote_id.clone(), Metrics { likes: Some(7), ..Metrics::default() }))
                .collect())
        }
    }

    const T0: &str = "2026-03-02T07:00:00Z";

    struct Setup {
        _project: Project,
        store: Arc<dyn Store>,
        clock: Arc<ManualClock>,
        fake: Arc<Fake>,
        lane: MetricsLane,
    }

    /// `n` posts on `blog`, published at T0 with remote ids `r0`..; `extra` appended to the
    /// config.
    async fn setup(n: usize, batch: usize, extra: &str) -> Setup {
        let project = Project::new(POSTS);
        let text = format!("{}{extra}", project.config_text("Mon 08:00"));
        project.write("crieur.toml", &text);
        let config = project.config();
        let clock = Arc::new(ManualClock::new(ts(T0)));
        let store = crate::supervisor::open_store(&config, clock.clone()).await.unwrap();
        let desired: Vec<DesiredDelivery> = (0..n)
            .map(|i| DesiredDelivery {
                id: format!("p{i}:blog:0"),
                post: format!("p{i}"),
                channel: "blog".into(),
                item: 0,
                network: Network::Webhook,
                due_at: ts(T0),
                text: format!("post {i}"),
                link: None,
                category: None,
                article: None,
                media: Vec::new(),
                options: Default::default(),
            })
            .collect();
        store.sync(&desired, ts(T0)).await.unwrap();
        let claimed = store.claim_due("me", ts(T0), SignedDuration::from_mins(5), n).await.unwrap();
        for c in &claimed {
            let i = c.delivery.post.trim_start_matches('p');
            let remote = if i == "1" && n == 2 { "gone".to_owned() } else { format!("r{i}") };
            let outcome = Outcome::Published { remote_id: remote, url: None };
            let policy = RetryPolicy::default();
            store.complete("me", &c.delivery.id, 1, &outcome, ts(T0), &policy).await.unwrap();
        }
        let fake = Arc::new(Fake { batch, ..Fake::default() });
        let publishers: HashMap<String, Arc<dyn Publisher>> =
            [("blog".to_owned(), fake.clone() as Arc<dyn Publisher>)].into_iter().collect();
        let lane = MetricsLane::new(store.clone(), &config, &publishers, clock.clone());
        Setup { _project: project, store, clock, fake, lane }
    }

    fn day(n: i64) -> SignedDuration {
        SignedDuration::from_hours(24 * n)
    }

    #[tokio::test]
    async fn snapshots_are_taken_one_seven_and_twenty_eight_days_after_publication() {
        let s = setup(2, 100, "").await;
        s.clock.set(ts(T0) + day(1) - SignedDuration::from_secs(1));
        assert_eq!(s.lane.sweep().await, Sweep::default(), "nothing before a day");
        s.clock.set(ts(T0) + day(1));
        assert_eq!(s.lane.sweep().await, Sweep { reads: 1, snapshots: 2, failed: 0 });
        s.clock.set(ts(T0) + day(6));
        assert_eq!(s.lane.sweep().await.reads, 0, "the 1-day snapshot is taken");
        for (at, offset) in [(day(7), day(7)), (day(30), day(28))] {
            s.clock.set(ts(T0) + at);
            assert_eq!(s.lane.sweep().await.snapshots, 2);
            let latest = s.store.latest_snapshots().await.unwrap();
            assert!(latest.iter().all(|l| l.after == offset && l.fetched_at == ts(T0) + at));
        }
        s.clock.set(ts(T0) + day(400));
        assert_eq!(s.lane.sweep().await.reads, 0, "done after the last offset");
        let latest = s.store.latest_snapshots().await.unwrap();
        let by_id: HashMap<&str, &Snapshot> =
            latest.iter().map(|l| (l.delivery.as_str(), l)).collect();
        assert_eq!(by_id["p0:blog:0"].metrics.likes, Some(7));
        assert_eq!(by_id["p1:blog:0"].metrics, Metrics::default(), "deleted: every figure null");
    }

    #[tokio::test]
    async fn ids_are_read_in_batches_as_large_as_the_network_takes() {
        let s = setup(250, 100, "").await;
        s.clock.set(ts(T0) + day(1));
        assert_eq!(s.lane.sweep().await, Sweep { reads: 3, snapshots: 250, failed: 0 });
        let sizes: Vec<usize> = s.fake.batches.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
    }

    #[tokio::test]
    async fn a_failed_read_waits_its_backoff_and_never_touches_the_delivery() {
        let s = setup(1, 100, "").await;
        let before = s.store.status().await.unwrap().deliveries;
        *s.fake.fail.lock().unwrap() = Some(EngagementError::Failed { reason: "503".into() });
        s.clock.set(ts(T0) + day(1));
        assert_eq!(s.lane.sweep().await, Sweep { reads: 1, snapshots: 0, failed: 1 });
        s.clock.advance(SignedDuration::from_mins(14));
        assert_eq!(s.lane.sweep().await.reads, 0, "waits 15 minutes");
        s.clock.advance(SignedDuration::from_mins(1));
        assert_eq!(s.lane.sweep().await.failed, 1, "tried again");
        s.clock.advance(SignedDuration::from_mins(29));
        assert_eq!(s.lane.sweep().await.reads, 0, "then waits 30 minutes");
        *s.fake.fail.lock().unwrap() = None;
        s.clock.advance(SignedDuration::from_mins(1));
        assert_eq!(s.lane.sweep().await.snapshots, 1);
        let after = s.store.status().await.unwrap().deliveries;
        assert_eq!(after, before, "state, attempts and error are the dispatcher's alone");
        assert_eq!(after[0].state, State::Published);
    }

    #[tokio::test]
    async fn a_rate_limit_stops_the_channel_until_the_reset() {
        let s = setup(3, 1, "").await;
        let until = ts(T0) + day(1) + SignedDuration::from_hours(2);
        *s.fake.fail.lock().unwrap() = Some(EngagementError::RateLimited { until });
        s.clock.set(ts(T0) + day(1));
        assert_eq!(s.lane.sweep().await, Sweep { reads: 1, snapshots: 0, failed: 1 });
        *s.fake.fail.lock().unwrap() = None;
        s.clock.set(until - SignedDuration::from_secs(1));
        assert_eq!(s.lane.sweep().await.reads, 0, "held until the reset");
        s.clock.set(until);
        assert_eq!(s.lane.sweep().await, Sweep { reads: 3, snapshots: 3, failed: 0 });
    }

    #[tokio::test]
    async fn a_channel_with_metrics_off_is_never_read() {
        let off = setup(2, 100, "metrics = false\n").await;
        assert!(off.lane.channels().is_empty());
        off.clock.set(ts(T0) + day(1));
        assert_eq!(off.lane.sweep().await, Sweep::default());
        assert!(off.fake.batches.lock().unwrap().is_empty());
        let none = setup(2, 100, "\n[metrics]\ncollect = false\n").await;
        assert!(none.lane.channels().is_empty());
        let custom = setup(1, 100, "\n[metrics]\nafter = [\"0s\"]\n").await;
        custom.clock.set(ts(T0));
        assert_eq!(custom.lane.sweep().await.snapshots, 1, "a snapshot at publication");
    }

    #[test]
    fn the_backoff_doubles_from_15_minutes_up_to_a_day() {
        let mins: Vec<i64> = (1..=9).map(|f| backoff(f).as_mins()).collect();
        assert_eq!(mins, vec![15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
    }
}
