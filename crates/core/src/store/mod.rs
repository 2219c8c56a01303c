//! The store's contract: the [`Store`] trait every database backend fits, the values that go in
//! and out of it, and [`StoreError`]. No database here: the backends (SQLite, PostgreSQL) live in
//! `crieur-store`; the scheduler and the tools depend on this contract alone.

mod error;
mod limits;
mod model;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::engagement::{Snapshot, SnapshotDue};
use crate::{MediaLedger, Outcome, Reconciled, TokenVault};

pub use error::StoreError;
pub use limits::ServerLimits;
pub use model::{
    Applied, Backend, ChannelStatus, Claimed, Completion, DeliveryMedia, DesiredDelivery, DueMove,
    FileIndex, FileSync, HistoryEntry, IndexedFile, Lease, Placed, QueueSummary, Resolve, Resolved,
    RetryPolicy, State, StatusReport, StatusRow, SyncReport,
};

/// The durable store of deliveries and tokens. Object-safe: the daemon holds an
/// `Arc<dyn Store>` from `crieur_store::open`; it is also the [`TokenVault`] adapters use (an
/// `Arc<dyn Store>` coerces to `Arc<dyn TokenVault>`).
///
/// Owners: `owner` is a string unique to one running process (see `crieur_store::new_owner`); leases and
/// fences compare it, so two processes must never share one.
///
/// Locking, in every write method: on SQLite one `BEGIN IMMEDIATE` transaction (the database's
/// write lock, waited for up to the busy timeout) or one autocommit statement; on PostgreSQL one
/// transaction that locks the rows it changes (`FOR UPDATE`, or `SKIP LOCKED` for claims).
/// Every write method fails with [`StoreError::ReadOnly`] on a read-only store.
///
/// The [`TokenVault`] half: `save` seals the tokens (ChaCha20-Poly1305, fresh 12-byte nonce,
/// the channel name as associated data) and upserts them in one statement, clearing any
/// revocation; `load` opens them ([`StoreError::Decrypt`] on a wrong key, [`StoreError::NoKey`]
/// without one); `mark_revoked` holds the channel's deliveries until tokens are saved again;
/// `try_lock_refresh` is one upsert on `refresh_locks` that succeeds when the row is free,
/// lapsed or already ours (shared by every instance on PostgreSQL).
///
/// The [`MediaLedger`] half: one row per (channel, key) in `media_uploads`, upserted by
/// `record` in one statement; `lookup` reads it (also on a read-only store).
#[async_trait]
pub trait Store: TokenVault + MediaLedger + std::fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Makes the database match the post files: `desired` is every delivery they ask for now.
    /// In one transaction:
    /// - a new id is inserted `queued`;
    /// - a `queued`, `retrying` or `failed` delivery whose content (network, text, link, category,
    ///   article) or due time changed is updated, keeping its state and attempts;
    /// - a delivery cancelled by an earlier sync that is back is `queued` again, with a fresh
    ///   retry budget (one cancelled with `resolve --cancel` stays cancelled);
    /// - a `queued`, `retrying` or `failed` delivery absent from `desired` becomes `cancelled`;
    /// - a `published` one whose content changed is listed in
    ///   [`SyncReport::edited_after_publish`] and left alone; `publishing` and `unknown` ones are
    ///   left alone (listed in [`SyncReport::edited_in_flight`] when changed).
    ///
    /// Idempotent: syncing the same set twice changes nothing the second time.
    ///
    /// Locks: one write transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL: a transaction
    /// advisory lock serializes syncs of several instances, and every update re-checks the
    /// state, so a row claimed meanwhile is left alone). Four bulk statements at most.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for duplicate ids or duplicate (post, channel, item) (nothing is
    /// written); [`StoreError::ReadOnly`]; [`StoreError::Database`].
    async fn sync(
        &self,
        desired: &[DesiredDelivery],
        now: Timestamp,
    ) -> Result<SyncReport, StoreError>;

    /// [`Store::sync`] in part, with the file index: makes the deliveries of `sync.scope`'s posts
    /// match `sync.desired` exactly as [`Store::sync`] would (insert, update, revive, cancel,
    /// report edits), moves the due time of every `queued`, `retrying` or `failed` item of each
    /// (post, channel) of `sync.moves` (counted as updated), cancels those of `sync.drops`
    /// (counted as cancelled), and records the file index ([`Store::file_index`]). With
    /// `scope` `None` it is [`Store::sync`] plus a new index. [`Store::sync`] itself forgets
    /// the index (its rows no longer match it).
    ///
    /// Locks: one write transaction, as [`Store::sync`]; the rows read are only those of the
    /// posts in scope and the ids of `desired`.
    ///
    /// # Errors
    /// As [`Store::sync`].
    async fn sync_files(&self, sync: &FileSync, now: Timestamp) -> Result<SyncReport, StoreError>;

    /// The file index the last [`Store::sync_files`] recorded (empty when none did, or a
    /// [`Store::sync`] came after it). Reads only; two statements, no lock.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn file_index(&self) -> Result<FileIndex, StoreError>;

    /// Item 0 of every (post, channel) not cancelled: what laying the calendar needs of the
    /// store's history. Reads only; one statement, no lock.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Corrupt`].
    async fn placed(&self) -> Result<Vec<Placed>, StoreError>;

    /// Claims up to `limit` (at most 10,000) deliveries due at `now` for sending, oldest first,
    /// and returns them after the commit: the intent is durable before any request goes out.
    ///
    /// Claimable: `queued` or `retrying`, `due_at <= now`, `not_before` passed, its channel not
    /// held ([`Store::hold_channel`]) nor revoked ([`TokenVault::mark_revoked`]), and for a thread
    /// item n > 0, item n - 1 of the same (post, channel) `published` (its remote id becomes
    /// `reply_to`). Each claimed row becomes `publishing` with `attempt + 1`, lease owner `owner`
    /// and expiry `now + lease`.
    ///
    /// Locks: one write transaction that first rescues lapsed leases (as
    /// [`Store::rescue_expired`]), then claims in one statement. On PostgreSQL the candidates
    /// are locked `FOR UPDATE SKIP LOCKED` in a materialized CTE: rows a concurrent claimer
    /// holds are passed over, so two claimers never get the same row.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::NotExclusive`] on a SQLite store opened with
    /// `OpenOptions::for_command`; [`StoreError::Database`]; [`StoreError::Corrupt`] when a
    /// row cannot be read back.
    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.claim_ahead(owner, now, now, lease, limit).await
    }

    /// [`Store::claim_due`] a little ahead of the due instants: claims what is due by `due_by`
    /// (at or after `now`) whose `not_before` and channel hold have passed at `now`. The caller
    /// sends each one no earlier than its [`Claimed::due_at`]; the intent is durable before
    /// that instant, so the commit leaves the path between the due instant and the request.
    /// The lease runs from `now` (it covers the wait); a crash during the wait leaves a
    /// `publishing` row that is rescued to `unknown` and reconciled like any other.
    ///
    /// Locks: as [`Store::claim_due`].
    ///
    /// # Errors
    /// As [`Store::claim_due`].
    async fn claim_ahead(
        &self,
        owner: &str,
        now: Timestamp,
        due_by: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError>;

    /// Extends to `now + lease` the leases `owner` still holds among `leases` (same id, same
    /// attempt, `publishing` or `reconciling`). Returns how many were renewed: fewer than
    /// asked means some were lost (rescued to `unknown`, or settled). A lapsed lease not yet
    /// rescued is renewed (nobody else took it).
    ///
    /// Locks: one statement in one write transaction; locks the renewed rows.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::Database`].
    async fn heartbeat(
        &self,
        owner: &str,
        leases: &[Lease],
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<u64, StoreError>;

    /// Records the outcome of attempt `attempt` of delivery `id`, fenced: applied only if the row
    /// is still `publishing` under `owner` and `attempt`, else [`Applied::Fenced`] and nothing
    /// changes. A lease that lapsed but was not rescued yet still counts (nobody else took the
    /// row). The lease is cleared. Outcome to state:
    /// - `Published` -> `published` (remote id, URL, `published_at = now`);
    /// - `Retry` -> `retrying`, `not_before = max(network's not_before, now + backoff)`
    ///   ([`RetryPolicy`], full jitter), or `failed` ("gave up after N attempts") once the
    ///   budget is spent;
    /// - `Rejected` -> `failed` with the kind and reason;
    /// - `Unauthorized` -> `retrying` after a backoff, without spending the budget (the caller
    ///   refreshes the token or marks the channel revoked, which holds it);
    /// - `Unknown` -> `unknown` (reconciled by [`Store::unknown_to_reconcile`]).
    ///
    /// Locks: as [`Store::complete_many`] with one completion.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::Database`]. A lost lease is not an error.
    async fn complete(
        &self,
        owner: &str,
        id: &str,
        attempt: u32,
        outcome: &Outcome,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<Applied, StoreError> {
        let done = [Completion { id: id.to_owned(), attempt, outcome: outcome.clone() }];
        let mut applied = self.complete_many(owner, &done, now, policy).await?;
        applied.pop().ok_or_else(|| StoreError::Corrupt("no result for a completion".to_owned()))
    }

    /// [`Store::complete`] for many deliveries in one transaction (group commit): returns one
    /// [`Applied`] per completion, in order. At most 10,000 per call. A second completion of
    /// the same id in one batch is fenced.
    ///
    /// Locks: one write transaction: reads the rows (PostgreSQL: `FOR UPDATE`, in id order),
    /// decides, and updates them in one bulk statement fenced again by owner, attempt and state.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for more than 10,000 completions; [`StoreError::ReadOnly`];
    /// [`StoreError::Database`] (then none is recorded).
    async fn complete_many(
        &self,
        owner: &str,
        done: &[Completion],
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<Vec<Applied>, StoreError>;

    /// Claims up to `limit` `unknown` deliveries for reconciliation (not for sending): they
    /// become `reconciling` under `owner`'s lease, keeping their attempt number; the caller asks
    /// the adapter's `reconcile` and reports with [`Store::settle_reconciled`]. Claimable:
    /// `unknown` whose `not_before` (set after a "cannot tell") passed, channel not held nor
    /// revoked. `Claimed::reconciling` is true and `delivery.attempt_started_at` is the start of
    /// the earliest attempt that may have sent it.
    ///
    /// Locks: as [`Store::claim_due`] (rescue first, `SKIP LOCKED` on PostgreSQL).
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::NotExclusive`]; [`StoreError::Database`];
    /// [`StoreError::Corrupt`].
    async fn unknown_to_reconcile(
        &self,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError>;

    /// Records what reconciliation found for a `reconciling` delivery held by `owner` at
    /// `attempt` (fenced like [`Store::complete`]):
    /// - `Found` -> `published`;
    /// - `NotFound` -> `retrying` at once (it may be sent again), or `failed` when the retry budget
    ///   is spent;
    /// - `CannotTell` -> back to `unknown` with the reason, looked at again after
    ///   [`RetryPolicy::reconcile_every`], and until then waiting for `crieur resolve`.
    ///
    /// Locks: one write transaction; reads and locks the row, then updates it.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::Database`].
    async fn settle_reconciled(
        &self,
        owner: &str,
        id: &str,
        attempt: u32,
        found: &Reconciled,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<Applied, StoreError>;

    /// Moves every `publishing` delivery whose lease lapsed before `now` to `unknown` (reason:
    /// the process that claimed it stopped; it may have been sent), and every lapsed
    /// `reconciling` one back to `unknown`. Returns how many `publishing` rows became `unknown`.
    /// Claims do this too; call it on a timer to notice crashes while idle.
    ///
    /// Locks: one write transaction, two statements; on PostgreSQL rows locked by another
    /// transaction (their owner completing them) are skipped.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::NotExclusive`]; [`StoreError::Database`].
    async fn rescue_expired(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Settles the `unknown` (or `reconciling`) or `failed` delivery of (`post`, `channel`), as a
    /// person decided; for a thread, the earliest such item. [`Resolve::Published`] ->
    /// `published`; [`Resolve::Retry`] -> `retrying` at once with a fresh retry budget;
    /// [`Resolve::Cancel`] -> `cancelled`, with the later unpublished items of its thread. A
    /// reconciler holding the row is fenced out.
    ///
    /// Locks: one write transaction; on PostgreSQL the (post, channel) rows `FOR UPDATE`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when (post, channel) has no delivery;
    /// [`StoreError::NotResolvable`] (naming the current states) when none is unknown or failed;
    /// [`StoreError::ReadOnly`]; [`StoreError::Database`].
    async fn resolve(
        &self,
        post: &str,
        channel: &str,
        action: &Resolve,
        now: Timestamp,
    ) -> Result<Resolved, StoreError>;

    /// Every delivery and channel, for `crieur status`. Reads only (works read-only); two
    /// statements, no transaction, no lock.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Corrupt`].
    async fn status(&self) -> Result<StatusReport, StoreError>;

    /// The queue counted by the database ([`QueueSummary`]): for the daemon's status line, in
    /// memory that does not grow with the queue. Reads only; four statements, no transaction,
    /// no lock.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Corrupt`].
    async fn summary(&self) -> Result<QueueSummary, StoreError>;

    /// When the dispatch loop has work next: the earliest of the ready time of claimable
    /// deliveries (`max(due_at, not_before, channel hold)`, thread order respected, revoked
    /// channels left out), of `unknown` deliveries to reconcile, and of lease expiries. `None`
    /// when there is nothing. May be in the past: there is work now. Reads only; one statement,
    /// no lock.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Corrupt`].
    async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError>;

    /// What went out since `since` (published deliveries by `published_at`): the input of the
    /// policy's duplicate rule. Reads only; one statement, no lock.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Corrupt`].
    async fn history(&self, since: Timestamp) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Holds every delivery of `channel` until `until` (rate limit, endpoint gone), replacing
    /// any earlier hold. Claims skip it meanwhile. One upsert statement.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::Database`].
    async fn hold_channel(
        &self,
        channel: &str,
        until: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Lifts the hold of `channel`, if any. One statement.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`]; [`StoreError::Database`].
    async fn release_channel(&self, channel: &str) -> Result<(), StoreError>;

    /// Why `channel` needs `crieur auth` again, if [`TokenVault::mark_revoked`] said so since
    /// tokens were last saved. Reads only; one statement.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn revoked(&self, channel: &str) -> Result<Option<String>, StoreError>;

    /// The published deliveries of `channel` (posts, not thread replies) whose engagement
    /// snapshot is due at `now`, oldest publication first, at most `limit`: for each, the due
    /// offset is the largest of `after` that has passed since publication, and it is due when no
    /// snapshot at that offset or a later one was taken and no earlier failure asked to wait
    /// past `now`. Reads only; one statement.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn snapshots_due(
        &self,
        channel: &str,
        now: Timestamp,
        after: &[SignedDuration],
        limit: usize,
    ) -> Result<Vec<SnapshotDue>, StoreError>;

    /// Records snapshots (upserted by delivery and offset) and forgets the failures of their
    /// deliveries. Never touches a delivery's state or attempts. One transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::ReadOnly`].
    async fn record_snapshots(&self, taken: &[Snapshot]) -> Result<(), StoreError>;

    /// Records that fetching the snapshots of `deliveries` failed: they are not due again before
    /// `not_before`. Never touches a delivery's state or attempts. One transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::ReadOnly`].
    async fn snapshot_failed(
        &self,
        deliveries: &[String],
        not_before: Timestamp,
        error: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The latest snapshot of every delivery that has one. Reads only; one statement.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn latest_snapshots(&self) -> Result<Vec<Snapshot>, StoreError>;
    /// Saves the limits `channel`'s server announced, replacing the ones saved before. One
    /// statement. The default (a store that keeps none) refuses with [`StoreError::Invalid`].
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`], [`StoreError::Database`].
    async fn save_server_limits(
        &self,
        channel: &str,
        limits: &ServerLimits,
    ) -> Result<(), StoreError> {
        let _ = limits;
        Err(StoreError::Invalid(format!("this store keeps no server limits (channel {channel})")))
    }

    /// Every channel's saved server limits, by channel. Reads only; one statement. The default
    /// (a store that keeps none) has none.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`] for an unreadable row.
    async fn server_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, ServerLimits>, StoreError> {
        Ok(std::collections::BTreeMap::new())
    }

    /// Closes the pool, waiting for connections in use to be returned; on SQLite the WAL is
    /// checkpointed by the last connection. The instance lock is released when the store is
    /// dropped.
    async fn close(&self);
}
