//! The store's transaction shell, written once for both backends: check the input, begin a write
//! transaction, read the current rows, let the [state machine](crate::machine) decide, apply its
//! changes fenced by owner and attempt, commit.
//!
//! A backend is a [`Dialect`]: its sqlx database, the SQL that differs between SQLite and
//! PostgreSQL (JSON arrays, row locks, `MAX` or `GREATEST`), the statement that begins a write
//! transaction, and whether this store may dispatch. Every statement takes its parameters in the
//! same order on both backends and numbers them `$1`, `$2`, ... (sqlx reads `$N` on SQLite too),
//! so the statements that are the same SQL on both are written here once.
//!
//! The `where` clause of the three generic `impl` blocks lists what the shell needs of a sqlx
//! database (executors, and the types it binds and reads); Rust does not carry such bounds from
//! a trait to its users, so each block repeats it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use crieur_core::{
    Clock, LedgerError, MediaLedger, Reconciled, TokenVault, Tokens, UploadedMedia, VaultError,
};
use futures_util::TryStreamExt as _;
use jiff::{SignedDuration, Timestamp};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Transaction, Type,
};

use crate::engagement;
use crate::error::db;
use crate::machine::{self, Change, RawClaim, ms, plus};
use crate::{
    Applied, Backend, Claimed, Completion, DesiredDelivery, FileIndex, FileSync, HistoryEntry,
    IndexedFile, Key, Lease, OpenOptions, Placed, QueueSummary, Resolve, Resolved, RetryPolicy,
    State, StatusReport, Store, StoreError, SyncReport, rows,
};
use crieur_core::engagement::{Snapshot, SnapshotDue};

/// The statements that differ between the two backends. Parameters, in order, are given beside
/// each; rows travel as one JSON array (`$1`).
pub struct Statements {
    /// Counts crieur's `deliveries` table in the current schema (`n`).
    pub has_schema: String,
    /// Taken first in `sync`'s transaction to serialize syncs, when the write transaction alone
    /// does not (PostgreSQL: an advisory lock).
    pub sync_lock: Option<String>,
    /// `sync`'s read: rows in a cancellable state or with an id of the JSON array `$1`
    /// (`id, state, content_hash, due_at, cancelled_by`).
    pub sync_read: String,
    /// Inserts the JSON rows `$1` as `queued` at `$2`.
    pub sync_insert: String,
    /// Updates the content of the unpublished JSON rows `$1` at `$2`.
    pub sync_update: String,
    /// Queues again the JSON rows `$1` cancelled by a sync, at `$2`.
    pub sync_revive: String,
    /// Cancels the JSON array of ids `$1` at `$2` with reason `$3`.
    pub sync_cancel: String,
    /// A partial sync's read: rows of the posts of the JSON array `$1` or with an id of the
    /// JSON array `$2` (columns of [`Statements::sync_read`]).
    pub sync_read_posts: String,
    /// Moves the unpublished rows of the JSON `{post, channel, due_at}` rows `$1` to their new
    /// due time, at `$2`.
    pub sync_move: String,
    /// Cancels the unpublished rows of the JSON `{post, channel}` rows `$1` at `$2` with reason
    /// `$3`.
    pub sync_drop: String,
    /// Records the JSON `{path, hash, posts}` rows `$1` in the file index.
    pub index_put: String,
    /// Forgets the paths of the JSON array `$1` from the file index.
    pub index_forget: String,
    /// Claims for sending: owner `$1`, lease expiry `$2`, now `$3`, limit `$4`, due by `$5`;
    /// returns the claimed rows (with `reply_to` when [`Statements::reply_to`] is `None`).
    pub claim_send: String,
    /// Claims `unknown` rows for reconciliation, parameters as [`Statements::claim_send`].
    pub claim_reconcile: String,
    /// Reads `id, remote_id` of the predecessors of the claimed thread items whose ids are the
    /// JSON array `$1`, when the claim statements cannot return them.
    pub reply_to: Option<String>,
    /// Renews the JSON leases `$1` to `$2` for owner `$3`.
    pub heartbeat: String,
    /// Reads (and on PostgreSQL locks) the rows of the JSON array of ids `$1`, as
    /// [`machine::Current`] needs them.
    pub currents: String,
    /// Applies the JSON changes `$1` at `$2`, fenced by owner `$3`, attempt and state.
    pub apply: String,
    /// `publishing` rows whose lease lapsed (or all, when `$3`) become `unknown` at `$1` with
    /// reason `$2`.
    pub rescue_publishing: String,
    /// `reconciling` rows whose lease lapsed (or all, when `$2`) go back to `unknown` at `$1`.
    pub rescue_reconciling: String,
    /// Reads (and on PostgreSQL locks) `id, item, state` of post `$1` on channel `$2`.
    pub resolve_read: String,
    /// The earliest instant with work at now `$1` (`next`).
    pub next_due: String,
}

/// What a backend supplies to the shell. Implemented by [`SqliteDialect`](crate::SqliteDialect)
/// and [`PgDialect`](crate::PgDialect) alone (the trait cannot be named outside this crate).
pub trait Dialect: Send + Sync + 'static {
    /// The sqlx database.
    type Db: Database;
    /// Which backend this is.
    const BACKEND: Backend;
    /// The store's name in `Debug` output.
    const NAME: &'static str;
    /// The statement that begins a write transaction.
    const BEGIN_WRITE: &'static str;
    /// The SQL that differs (built once, on first use).
    fn sql() -> &'static Statements;

    /// True when this store may claim and rescue (SQLite: it holds the instance lock;
    /// PostgreSQL: always, instances share the work through row locks and leases).
    fn exclusive(&self) -> bool;

    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// The backend's own fields in `Debug` output (never a password).
    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>);
}

/// A store on a SQL database: the transaction shell over a dialect (its SQL, how it begins a
/// write transaction, whether it may dispatch). See [`SqliteStore`](crate::SqliteStore) and
/// [`PgStore`](crate::PgStore).
pub struct SqlStore<D: Dialect> {
    pool: Pool<D::Db>,
    pub(crate) dialect: D,
    read_only: bool,
    key: Option<Key>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(D::NAME);
        self.dialect.describe(&mut s);
        s.field("read_only", &self.read_only)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The statements, and the parts of statements, that are the same SQL on both backends.
pub(crate) mod common {
    /// The deliveries a claim for sending may take at `$3`, at most `$4`, oldest due first:
    /// `queued` or `retrying`, due by `$5` (`$3` or a little later), not waiting
    /// (`not_before`), channel neither held nor revoked, and for a thread item the previous
    /// item published. The backends wrap it in
    /// their claim statement (and lock its rows, on PostgreSQL).
    pub const CLAIMABLE_TO_SEND: &str = "SELECT d.id FROM deliveries d
        WHERE d.state IN ('queued', 'retrying') AND d.due_at <= $5
          AND COALESCE(d.not_before, 0) <= $3
          AND NOT EXISTS (SELECT 1 FROM channel_holds h
                          WHERE h.channel = d.channel AND h.until_at > $3)
          AND NOT EXISTS (SELECT 1 FROM tokens t
                          WHERE t.channel = d.channel AND t.revoked_reason IS NOT NULL)
          AND (d.item = 0 OR EXISTS (SELECT 1 FROM deliveries p
                WHERE p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1
                  AND p.state = 'published'))
        ORDER BY d.due_at, d.id
        LIMIT $4";

    /// The `unknown` deliveries a claim for reconciliation may take at `$3`, at most `$4`,
    /// longest unknown first: not waiting, channel neither held nor revoked.
    pub const CLAIMABLE_TO_RECONCILE: &str = "SELECT d.id FROM deliveries d
        WHERE d.state = 'unknown' AND COALESCE(d.not_before, 0) <= $3
          AND NOT EXISTS (SELECT 1 FROM channel_holds h
                          WHERE h.channel = d.channel AND h.until_at > $3)
          AND NOT EXISTS (SELECT 1 FROM tokens t
                          WHERE t.channel = d.channel AND t.revoked_reason IS NOT NULL)
        ORDER BY d.first_unknown_at, d.id
        LIMIT $4";

    /// What a claim for sending writes: lease owner `$1`, expiry `$2`, now `$3`; one more
    /// attempt.
    pub const CLAIM_TO_SEND: &str = "state = 'publishing', attempt = attempt + 1,
        lease_owner = $1, lease_expires_at = $2, attempt_started_at = $3, not_before = NULL,
        updated_at = $3";

    /// What a claim for reconciliation writes (parameters of [`CLAIM_TO_SEND`]); the attempt
    /// stays.
    pub const CLAIM_TO_RECONCILE: &str =
        "state = 'reconciling', lease_owner = $1, lease_expires_at = $2, updated_at = $3";

    /// `publishing` rows whose lease lapsed at `$1` (all of them when `$3`).
    pub const LAPSED_PUBLISHING: &str = "state = 'publishing' AND ($3 OR lease_expires_at <= $1)";

    /// What the rescue of a lapsed `publishing` row writes at `$1`, with reason `$2`: it may
    /// have been sent.
    pub const PUBLISHING_TO_UNKNOWN: &str = "state = 'unknown', error = $2,
        first_unknown_at = COALESCE(first_unknown_at, $1),
        maybe_sent_since = COALESCE(maybe_sent_since, attempt_started_at, $1),
        lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, updated_at = $1";

    /// `reconciling` rows whose lease lapsed at `$1` (all of them when `$2`).
    pub const LAPSED_RECONCILING: &str = "state = 'reconciling' AND ($2 OR lease_expires_at <= $1)";

    /// What the rescue of a lapsed `reconciling` row writes at `$1`: back to `unknown`.
    pub const RECONCILING_TO_UNKNOWN: &str =
        "state = 'unknown', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1";

    /// The new values a completion writes, from the JSON rows `u`, at `$2`; the lease is
    /// cleared.
    pub const APPLY_SET: &str = "state = u.state, retries_from = u.retries_from,
        remote_id = u.remote_id, url = u.url, published_at = u.published_at, error = u.error,
        not_before = u.not_before, first_unknown_at = u.first_unknown_at,
        maybe_sent_since = u.maybe_sent_since, lease_owner = NULL, lease_expires_at = NULL,
        updated_at = $2";

    /// The earliest instant with work at `$1`, `greatest` being the backend's function for
    /// the largest of its arguments: the ready time of claimable deliveries, of `unknown` ones
    /// to reconcile, and lease expiries.
    pub fn next_due(greatest: &str) -> String {
        format!(
            "SELECT MIN(t) AS next FROM (
                 SELECT {greatest}(d.due_at, COALESCE(d.not_before, d.due_at),
                                   COALESCE(h.until_at, d.due_at)) AS t
                 FROM deliveries d LEFT JOIN channel_holds h ON h.channel = d.channel
                 WHERE d.state IN ('queued', 'retrying')
                   AND NOT EXISTS (SELECT 1 FROM tokens k
                                   WHERE k.channel = d.channel AND k.revoked_reason IS NOT NULL)
                   AND (d.item = 0 OR EXISTS (SELECT 1 FROM deliveries p
                        WHERE p.post = d.post AND p.channel = d.channel
                          AND p.item = d.item - 1 AND p.state = 'published'))
                 UNION ALL
                 SELECT {greatest}(COALESCE(d.not_before, $1), COALESCE(h.until_at, $1)) AS t
                 FROM deliveries d LEFT JOIN channel_holds h ON h.channel = d.channel
                 WHERE d.state = 'unknown'
                   AND NOT EXISTS (SELECT 1 FROM tokens k
                                   WHERE k.channel = d.channel AND k.revoked_reason IS NOT NULL)
                 UNION ALL
                 SELECT lease_expires_at AS t FROM deliveries
                 WHERE state IN ('publishing', 'reconciling')) AS w"
        )
    }

    pub const RESOLVE_PUBLISHED: &str =
        "UPDATE deliveries SET state = 'published', url = $2, remote_id = $3,
             published_at = $4, error = NULL, not_before = NULL, lease_owner = NULL,
             lease_expires_at = NULL, updated_at = $4
         WHERE id = $1";
    pub const RESOLVE_RETRY: &str =
        "UPDATE deliveries SET state = 'retrying', not_before = NULL, error = NULL,
             retries_from = attempt, maybe_sent_since = NULL,
             first_unknown_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
             updated_at = $2
         WHERE id = $1";
    pub const RESOLVE_CANCEL: &str =
        "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'resolve',
             error = 'cancelled with crieur resolve', not_before = NULL,
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
         WHERE id = $1";
    pub const CANCEL_REST_OF_THREAD: &str =
        "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'resolve',
             error = 'an earlier item of its thread was cancelled', not_before = NULL,
             updated_at = $4
         WHERE post = $1 AND channel = $2 AND item > $3
           AND state IN ('queued', 'retrying', 'failed')";
    pub const INDEX_CLEAR: &str = "DELETE FROM sync_files";
    pub const INDEX_CONFIG_FORGET: &str = "DELETE FROM sync_state WHERE name = 'config'";
    pub const INDEX_CONFIG_PUT: &str = "INSERT INTO sync_state (name, value) VALUES ('config', $1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value";
    pub const INDEX_CONFIG: &str = "SELECT value FROM sync_state WHERE name = 'config'";
    pub const INDEX_FILES: &str = "SELECT path, hash, posts FROM sync_files ORDER BY path";
    pub const PLACED: &str = "SELECT post, channel, state, due_at FROM deliveries
         WHERE item = 0 AND state <> 'cancelled'";
    pub const SUMMARY_COUNTS: &str = "SELECT channel, state, COUNT(*) AS n FROM deliveries
         GROUP BY channel, state ORDER BY channel, state";
    pub const SUMMARY_NEXT: &str = "SELECT channel, due_at FROM deliveries
         WHERE state IN ('queued', 'retrying') ORDER BY due_at, post, channel, item LIMIT 1";
    pub const STATUS: &str =
        "SELECT id, post, channel, item, network, state, due_at, not_before, published_at,
                remote_id, url, attempt, error
         FROM deliveries ORDER BY due_at, post, channel, item";
    pub const CHANNELS: &str = "SELECT c.channel AS channel, t.expires_at AS token_expires_at,
                (t.ciphertext IS NOT NULL) AS has_tokens, t.revoked_reason AS revoked_reason,
                h.until_at AS hold_until, h.reason AS hold_reason
         FROM (SELECT channel FROM deliveries UNION SELECT channel FROM tokens
               UNION SELECT channel FROM channel_holds) AS c
         LEFT JOIN tokens t ON t.channel = c.channel
         LEFT JOIN channel_holds h ON h.channel = c.channel
         ORDER BY c.channel";
    pub const HISTORY: &str =
        "SELECT post, channel, item, network, published_at, text, remote_id, url
         FROM deliveries WHERE state = 'published' AND published_at >= $1
         ORDER BY published_at, post, channel, item";
    pub const HOLD: &str = "INSERT INTO channel_holds (channel, until_at, reason, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (channel) DO UPDATE SET until_at = excluded.until_at,
             reason = excluded.reason, updated_at = excluded.updated_at";
    pub const RELEASE: &str = "DELETE FROM channel_holds WHERE channel = $1";
    pub const LOOKUP_MEDIA: &str = "SELECT remote_id, expires_at, uploaded_at FROM media_uploads
         WHERE channel = $1 AND media_key = $2";
    pub const RECORD_MEDIA: &str =
        "INSERT INTO media_uploads (channel, media_key, remote_id, expires_at, uploaded_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (channel, media_key) DO UPDATE SET remote_id = excluded.remote_id,
             expires_at = excluded.expires_at, uploaded_at = excluded.uploaded_at";
    pub const REVOKED: &str = "SELECT revoked_reason FROM tokens WHERE channel = $1";
    pub const LOAD_TOKENS: &str = "SELECT nonce, ciphertext FROM tokens WHERE channel = $1";
    pub const SAVE_TOKENS: &str =
        "INSERT INTO tokens (channel, nonce, ciphertext, expires_at, revoked_reason, updated_at)
         VALUES ($1, $2, $3, $4, NULL, $5)
         ON CONFLICT (channel) DO UPDATE SET nonce = excluded.nonce,
             ciphertext = excluded.ciphertext, expires_at = excluded.expires_at,
             revoked_reason = NULL, updated_at = excluded.updated_at";
    pub const MARK_REVOKED: &str =
        "INSERT INTO tokens (channel, revoked_reason, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (channel) DO UPDATE SET revoked_reason = excluded.revoked_reason,
             updated_at = excluded.updated_at";
    pub const LOCK_REFRESH: &str =
        "INSERT INTO refresh_locks (channel, owner, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (channel) DO UPDATE SET owner = excluded.owner,
             expires_at = excluded.expires_at
         WHERE refresh_locks.expires_at <= $4 OR refresh_locks.owner = excluded.owner";
    pub const UNLOCK_REFRESH: &str = "DELETE FROM refresh_locks WHERE channel = $1 AND owner = $2";
}

impl<D: Dialect> SqlStore<D> {
    /// A store on `pool`, with the key and clock of `opts`.
    pub(crate) fn new(pool: Pool<D::Db>, dialect: D, read_only: bool, opts: OpenOptions) -> Self {
        SqlStore { pool, dialect, read_only, key: opts.key, clock: opts.clock }
    }

    fn writable(&self, what: &'static str) -> Result<(), StoreError> {
        if self.read_only { Err(StoreError::ReadOnly(what)) } else { Ok(()) }
    }

    /// Claims and rescues belong to a store that may dispatch ([`Dialect::exclusive`]).
    fn dispatcher(&self, what: &'static str) -> Result<(), StoreError> {
        self.writable(what)?;
        if self.dialect.exclusive() { Ok(()) } else { Err(StoreError::NotExclusive(what)) }
    }

    fn key(&self) -> Result<&Key, StoreError> {
        self.key.as_ref().ok_or(StoreError::NoKey)
    }
}

impl<D> SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'p> &'p Pool<D::Db>: Executor<'p, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'a> &'a str: Encode<'a, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> i64: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> bool: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Vec<u8>: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Option<i64>: Encode<'r, D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db>,
{
    /// Begins a write transaction ([`Dialect::BEGIN_WRITE`]).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, D::Db>, StoreError> {
        self.pool.begin_with(D::BEGIN_WRITE).await.map_err(db("starting a write transaction"))
    }

    /// Fails with [`StoreError::NoSchema`], naming the database `name`, when it has no crieur
    /// tables (a read-only open never migrates); the pool is closed then.
    pub(crate) async fn require_schema(&self, name: String) -> Result<(), StoreError> {
        let row = sqlx::query(D::sql().has_schema.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the schema"))?;
        let tables: i64 = row.try_get("n").map_err(db("reading the schema"))?;
        if tables == 0 {
            self.pool.close().await;
            return Err(StoreError::NoSchema(name));
        }
        Ok(())
    }

    /// Lapsed leases: `publishing` -> `unknown` (may have been sent), `reconciling` -> `unknown`
    /// (nothing was sent by reconciling). With `all`, every lease counts as lapsed (start-up of
    /// the only SQLite instance). Returns how many `publishing` rows became `unknown`.
    pub(crate) async fn rescue(
        tx: &mut Transaction<'static, D::Db>,
        now: i64,
        all: bool,
    ) -> Result<u64, StoreError> {
        let reason = if all { machine::FOUND_AT_START } else { machine::LEASE_EXPIRED };
        let sent = sqlx::query(D::sql().rescue_publishing.as_str())
            .bind(now)
            .bind(reason)
            .bind(all)
            .execute(&mut **tx)
            .await
            .map_err(db("rescuing lapsed leases"))?;
        let sent = D::rows_affected(&sent);
        sqlx::query(D::sql().rescue_reconciling.as_str())
            .bind(now)
            .bind(all)
            .execute(&mut **tx)
            .await
            .map_err(db("rescuing lapsed reconciliations"))?;
        if sent > 0 && !all {
            tracing::warn!(
                count = sent,
                "leases lapsed while publishing; those deliveries are now unknown"
            );
        }
        Ok(sent)
    }

    /// Claims with `sql` ([`Statements::claim_send`] or [`Statements::claim_reconcile`]) after
    /// rescuing lapsed leases, in one write transaction; returns the claims after the commit.
    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &self,
        sql: &'static str,
        owner: &str,
        now: Timestamp,
        due_by: Option<Timestamp>,
        lease: SignedDuration,
        limit: usize,
        reconciling: bool,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.dispatcher("claiming deliveries")?;
        let now = ms(now);
        let mut tx = self.begin().await?;
        Self::rescue(&mut tx, now, false).await?;
        let query = sqlx::query(sql)
            .bind(owner)
            .bind(plus(now, lease))
            .bind(now)
            .bind(machine::batch_limit(limit));
        let query = match due_by {
            Some(due_by) => query.bind(ms(due_by).max(now)),
            None => query,
        };
        let rows = query.fetch_all(&mut *tx).await.map_err(db("claiming deliveries"))?;
        let returned = D::sql().reply_to.is_none();
        let mut raws =
            rows.iter().map(|r| rows::raw_claim(r, returned)).collect::<Result<Vec<_>, _>>()?;
        Self::fill_reply_to(&mut tx, &mut raws).await?;
        tx.commit().await.map_err(db("committing a claim"))?;
        let mut claims =
            raws.into_iter().map(|r| r.into_claimed(reconciling)).collect::<Result<Vec<_>, _>>()?;
        machine::sort_claims(&mut claims);
        Ok(claims)
    }

    /// Fills `reply_to` of claimed thread items from their predecessor, when the claim
    /// statement could not return it ([`Statements::reply_to`]).
    async fn fill_reply_to(
        tx: &mut Transaction<'static, D::Db>,
        raws: &mut [RawClaim],
    ) -> Result<(), StoreError> {
        let Some(sql) = D::sql().reply_to.as_deref() else { return Ok(()) };
        let ids: Vec<&str> = raws.iter().filter(|r| r.item > 0).map(|r| r.id.as_str()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let rows = sqlx::query(sql)
            .bind(machine::ids_json(ids.into_iter())?)
            .fetch_all(&mut **tx)
            .await
            .map_err(db("reading the thread items to reply to"))?;
        let mut reply: HashMap<String, Option<String>> = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id").map_err(db("reading a reply id"))?;
            let remote: Option<String> =
                row.try_get("remote_id").map_err(db("reading a reply id"))?;
            reply.insert(id, remote);
        }
        for raw in raws.iter_mut().filter(|r| r.item > 0) {
            raw.reply_to = reply.remove(&raw.id).flatten();
        }
        Ok(())
    }

    /// Reads the rows of `ids` inside the write transaction ([`Statements::currents`]), so
    /// nothing changes under the decision.
    async fn currents(
        tx: &mut Transaction<'static, D::Db>,
        ids: &[&str],
    ) -> Result<HashMap<String, machine::Current>, StoreError> {
        let rows = sqlx::query(D::sql().currents.as_str())
            .bind(machine::ids_json(ids.iter().copied())?)
            .fetch_all(&mut **tx)
            .await
            .map_err(db("reading deliveries to complete"))?;
        rows.iter().map(|r| rows::current(r).map(|c| (c.id.clone(), c))).collect()
    }

    /// Applies the machine's changes, fenced again in SQL (same owner, attempt and state).
    async fn apply(
        tx: &mut Transaction<'static, D::Db>,
        owner: &str,
        changes: &[Change],
        now: i64,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        sqlx::query(D::sql().apply.as_str())
            .bind(machine::to_json(changes)?)
            .bind(now)
            .bind(owner)
            .execute(&mut **tx)
            .await
            .map_err(db("recording outcomes"))?;
        Ok(())
    }

    /// Begins `sync`'s write transaction and takes the backend's sync lock, if any.
    async fn begin_sync(&self) -> Result<Transaction<'static, D::Db>, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(lock) = D::sql().sync_lock.as_deref() {
            sqlx::query(lock)
                .execute(&mut *tx)
                .await
                .map_err(db("waiting for another instance's sync"))?;
        }
        Ok(tx)
    }

    /// Decides and applies a sync of `desired` against the `existing` rows read in `tx`.
    async fn sync_rows(
        tx: &mut Transaction<'static, D::Db>,
        existing: &[<D::Db as Database>::Row],
        desired: &[DesiredDelivery],
        now: i64,
    ) -> Result<SyncReport, StoreError> {
        let existing = existing.iter().map(rows::existing).collect::<Result<Vec<_>, _>>()?;
        let plan = machine::plan_sync(existing, desired)?;
        let mut report = SyncReport {
            edited_after_publish: plan.edited_after_publish,
            edited_in_flight: plan.edited_in_flight,
            ..SyncReport::default()
        };
        let sql = D::sql();
        if plan.n_insert > 0 {
            let what = "inserting new deliveries";
            report.inserted =
                Self::bulk(tx, sql.sync_insert.as_str(), &plan.insert, now, what).await?;
        }
        if plan.n_update > 0 {
            let what = "updating edited deliveries";
            report.updated =
                Self::bulk(tx, sql.sync_update.as_str(), &plan.update, now, what).await?;
        }
        if plan.n_revive > 0 {
            let what = "reviving deliveries back in the files";
            report.revived =
                Self::bulk(tx, sql.sync_revive.as_str(), &plan.revive, now, what).await?;
        }
        if plan.n_cancel > 0 {
            let done = sqlx::query(sql.sync_cancel.as_str())
                .bind(plan.cancel)
                .bind(now)
                .bind(machine::REMOVED)
                .execute(&mut **tx)
                .await
                .map_err(db("cancelling deliveries removed from the files"))?;
            report.cancelled = D::rows_affected(&done);
        }
        Ok(report)
    }

    /// Every channel that has deliveries, tokens or a hold, by name.
    async fn channels(&self) -> Result<Vec<crate::ChannelStatus>, StoreError> {
        let rows = sqlx::query(common::CHANNELS)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the channels"))?;
        rows.iter().map(rows::channel_status).collect()
    }

    /// One bulk statement of `sync`: the JSON rows `rows` at `now`; how many rows it changed.
    async fn bulk(
        tx: &mut Transaction<'static, D::Db>,
        sql: &'static str,
        rows: &str,
        now: i64,
        context: &'static str,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query(sql).bind(rows).bind(now).execute(&mut **tx).await.map_err(db(context))?;
        Ok(D::rows_affected(&done))
    }

    /// A statement outside any transaction, on the pool: how many rows it changed.
    async fn run(
        &self,
        query: sqlx::query::Query<'_, D::Db, <D::Db as Database>::Arguments>,
        context: &'static str,
    ) -> Result<u64, StoreError> {
        let done = query.execute(&self.pool).await.map_err(db(context))?;
        Ok(D::rows_affected(&done))
    }
}

#[async_trait]
impl<D> Store for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'p> &'p Pool<D::Db>: Executor<'p, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'a> &'a str: Encode<'a, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> i64: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> bool: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Vec<u8>: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Option<i64>: Encode<'r, D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db>,
{
    fn backend(&self) -> Backend {
        D::BACKEND
    }

    async fn sync(
        &self,
        desired: &[DesiredDelivery],
        now: Timestamp,
    ) -> Result<SyncReport, StoreError> {
        self.writable("syncing the post files")?;
        machine::check_desired(desired)?;
        let mut tx = self.begin_sync().await?;
        let ids = machine::ids_json(desired.iter().map(|d| d.id.as_str()))?;
        let rows = sqlx::query(D::sql().sync_read.as_str())
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading deliveries to sync"))?;
        let report = Self::sync_rows(&mut tx, &rows, desired, ms(now)).await?;
        // The rows no longer match the file index: the next `sync_files` reads everything.
        sqlx::query(common::INDEX_CONFIG_FORGET)
            .execute(&mut *tx)
            .await
            .map_err(db("forgetting the file index"))?;
        tx.commit().await.map_err(db("committing the sync"))?;
        Ok(report)
    }

    async fn sync_files(&self, sync: &FileSync, now: Timestamp) -> Result<SyncReport, StoreError> {
        self.writable("syncing the post files")?;
        machine::check_desired(&sync.desired)?;
        let now = ms(now);
        let sql = D::sql();
        let mut tx = self.begin_sync().await?;
        let ids = machine::ids_json(sync.desired.iter().map(|d| d.id.as_str()))?;
        let read = match &sync.scope {
            None => sqlx::query(sql.sync_read.as_str()).bind(ids),
            Some(posts) => sqlx::query(sql.sync_read_posts.as_str())
                .bind(machine::ids_json(posts.iter().map(String::as_str))?)
                .bind(ids),
        };
        let rows = read.fetch_all(&mut *tx).await.map_err(db("reading deliveries to sync"))?;
        let mut report = Self::sync_rows(&mut tx, &rows, &sync.desired, now).await?;
        drop(rows);
        if !sync.moves.is_empty() {
            let moves = machine::moves_json(&sync.moves)?;
            let what = "moving deliveries to their new slots";
            report.updated +=
                Self::bulk(&mut tx, sql.sync_move.as_str(), &moves, now, what).await?;
        }
        if !sync.drops.is_empty() {
            let done = sqlx::query(sql.sync_drop.as_str())
                .bind(machine::drops_json(&sync.drops)?)
                .bind(now)
                .bind(machine::REMOVED)
                .execute(&mut *tx)
                .await
                .map_err(db("cancelling deliveries no longer laid"))?;
            report.cancelled += D::rows_affected(&done);
        }
        let context = "recording the file index";
        if sync.scope.is_none() {
            sqlx::query(common::INDEX_CLEAR).execute(&mut *tx).await.map_err(db(context))?;
        } else if !sync.removed.is_empty() {
            sqlx::query(sql.index_forget.as_str())
                .bind(machine::ids_json(sync.removed.iter().map(String::as_str))?)
                .execute(&mut *tx)
                .await
                .map_err(db(context))?;
        }
        if !sync.files.is_empty() {
            sqlx::query(sql.index_put.as_str())
                .bind(machine::files_json(&sync.files)?)
                .execute(&mut *tx)
                .await
                .map_err(db(context))?;
        }
        sqlx::query(common::INDEX_CONFIG_PUT)
            .bind(sync.config.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
        tx.commit().await.map_err(db("committing the sync"))?;
        Ok(report)
    }

    async fn file_index(&self) -> Result<FileIndex, StoreError> {
        let context = "reading the file index";
        let config = sqlx::query(common::INDEX_CONFIG)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(context))?
            .map(|row| row.try_get::<String, _>("value"))
            .transpose()
            .map_err(db(context))?;
        // Row by row, here and in `placed`: holding every driver row beside what is built from
        // it doubled the peak of a daemon's start (heaptrack), which the allocator then keeps.
        let mut rows = sqlx::query(common::INDEX_FILES).fetch(&self.pool);
        let mut files = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(db(context))? {
            files.push(IndexedFile {
                path: row.try_get("path").map_err(db(context))?,
                hash: row.try_get("hash").map_err(db(context))?,
                posts: row.try_get("posts").map_err(db(context))?,
            });
        }
        Ok(FileIndex { config, files })
    }

    async fn placed(&self) -> Result<Vec<Placed>, StoreError> {
        let mut rows = sqlx::query(common::PLACED).fetch(&self.pool);
        let mut placed = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(db("reading the laid deliveries"))? {
            placed.push(rows::placed(&row)?);
        }
        Ok(placed)
    }

    async fn claim_ahead(
        &self,
        owner: &str,
        now: Timestamp,
        due_by: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let sql = D::sql().claim_send.as_str();
        self.claim(sql, owner, now, Some(due_by), lease, limit, false).await
    }

    async fn heartbeat(
        &self,
        owner: &str,
        leases: &[Lease],
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<u64, StoreError> {
        self.writable("renewing leases")?;
        if leases.is_empty() {
            return Ok(0);
        }
        if leases.len() > machine::MAX_BATCH {
            return Err(StoreError::Invalid(format!(
                "{} leases in one heartbeat; at most {}",
                leases.len(),
                machine::MAX_BATCH
            )));
        }
        let rows: Vec<machine::LeaseRow<'_>> = leases
            .iter()
            .map(|l| machine::LeaseRow { id: &l.id, attempt: i64::from(l.attempt) })
            .collect();
        let mut tx = self.begin().await?;
        let done = sqlx::query(D::sql().heartbeat.as_str())
            .bind(machine::to_json(&rows)?)
            .bind(plus(ms(now), lease))
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(db("renewing leases"))?;
        tx.commit().await.map_err(db("committing a heartbeat"))?;
        Ok(D::rows_affected(&done))
    }

    async fn complete_many(
        &self,
        owner: &str,
        done: &[Completion],
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<Vec<Applied>, StoreError> {
        self.writable("recording outcomes")?;
        if done.len() > machine::MAX_BATCH {
            return Err(StoreError::Invalid(format!(
                "{} completions in one batch; at most {}",
                done.len(),
                machine::MAX_BATCH
            )));
        }
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let now = ms(now);
        let ids: Vec<&str> = done.iter().map(|c| c.id.as_str()).collect();
        let mut tx = self.begin().await?;
        let current = Self::currents(&mut tx, &ids).await?;
        let (changes, applied) = machine::decide(&current, owner, done, now, policy)?;
        Self::apply(&mut tx, owner, &changes, now).await?;
        tx.commit().await.map_err(db("committing outcomes"))?;
        Ok(applied)
    }

    async fn unknown_to_reconcile(
        &self,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.claim(D::sql().claim_reconcile.as_str(), owner, now, None, lease, limit, true).await
    }

    async fn settle_reconciled(
        &self,
        owner: &str,
        id: &str,
        attempt: u32,
        found: &Reconciled,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<Applied, StoreError> {
        self.writable("recording a reconciliation")?;
        let now = ms(now);
        let mut tx = self.begin().await?;
        let current = Self::currents(&mut tx, &[id]).await?;
        let Some(cur) =
            current.get(id).filter(|c| machine::holds(c, owner, attempt, "reconciling"))
        else {
            return Ok(Applied::Fenced);
        };
        let (change, applied) = machine::on_reconciled(cur, found, now, policy, &mut rand::rng())?;
        Self::apply(&mut tx, owner, &[change], now).await?;
        tx.commit().await.map_err(db("committing a reconciliation"))?;
        Ok(applied)
    }

    /// Refused with [`StoreError::NotExclusive`] where claims are (a SQLite store without the
    /// instance lock): rescuing is the dispatcher's work.
    async fn rescue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.dispatcher("rescuing lapsed leases")?;
        let mut tx = self.begin().await?;
        let n = Self::rescue(&mut tx, ms(now), false).await?;
        tx.commit().await.map_err(db("committing a rescue"))?;
        Ok(n)
    }

    async fn resolve(
        &self,
        post: &str,
        channel: &str,
        action: &Resolve,
        now: Timestamp,
    ) -> Result<Resolved, StoreError> {
        self.writable("resolving a delivery")?;
        let now = ms(now);
        let mut tx = self.begin().await?;
        let rows = sqlx::query(D::sql().resolve_read.as_str())
            .bind(post)
            .bind(channel)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading the delivery to resolve"))?;
        let found = rows::resolvable(post, channel, &rows)?;
        let (statement, to) = match action {
            Resolve::Published { url, remote_id } => (
                sqlx::query(common::RESOLVE_PUBLISHED)
                    .bind(found.id.as_str())
                    .bind(url.as_str())
                    .bind(remote_id.as_deref())
                    .bind(now),
                State::Published,
            ),
            Resolve::Retry => (
                sqlx::query(common::RESOLVE_RETRY).bind(found.id.as_str()).bind(now),
                State::Retrying,
            ),
            Resolve::Cancel => (
                sqlx::query(common::RESOLVE_CANCEL).bind(found.id.as_str()).bind(now),
                State::Cancelled,
            ),
        };
        statement.execute(&mut *tx).await.map_err(db("resolving a delivery"))?;
        let mut also_cancelled = 0;
        if to == State::Cancelled {
            let done = sqlx::query(common::CANCEL_REST_OF_THREAD)
                .bind(post)
                .bind(channel)
                .bind(i64::from(found.item))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("cancelling the rest of a thread"))?;
            also_cancelled = D::rows_affected(&done);
        }
        tx.commit().await.map_err(db("committing a resolution"))?;
        Ok(Resolved { id: found.id, item: found.item, from: found.state, to, also_cancelled })
    }

    async fn status(&self) -> Result<StatusReport, StoreError> {
        let pool = &self.pool;
        let rows =
            sqlx::query(common::STATUS).fetch_all(pool).await.map_err(db("reading the status"))?;
        let deliveries = rows.iter().map(rows::status_row).collect::<Result<Vec<_>, _>>()?;
        drop(rows);
        Ok(StatusReport { deliveries, channels: self.channels().await? })
    }

    async fn summary(&self) -> Result<QueueSummary, StoreError> {
        let context = "counting the queue";
        let counted =
            sqlx::query(common::SUMMARY_COUNTS).fetch_all(&self.pool).await.map_err(db(context))?;
        let mut summary = QueueSummary::default();
        for row in &counted {
            let channel: String = row.try_get("channel").map_err(db(context))?;
            let state =
                machine::state_from_db(&row.try_get::<String, _>("state").map_err(db(context))?)?;
            let n = u64::try_from(row.try_get::<i64, _>("n").map_err(db(context))?).unwrap_or(0);
            match state {
                State::Queued | State::Retrying => summary.waiting += n,
                State::Unknown => summary.unknown += n,
                _ => {}
            }
            // `reconciling` and `unknown` are one state here, apart in the database's order.
            let same = summary.counts.iter_mut().rev().take_while(|(c, _, _)| *c == channel);
            match same.into_iter().find(|(_, s, _)| *s == state) {
                Some((_, _, total)) => *total += n,
                None => summary.counts.push((channel, state, n)),
            }
        }
        drop(counted);
        let next = sqlx::query(common::SUMMARY_NEXT)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(context))?;
        if let Some(row) = next {
            let channel: String = row.try_get("channel").map_err(db(context))?;
            let due_at: i64 = row.try_get("due_at").map_err(db(context))?;
            summary.next = Some((channel, machine::ts(due_at)?));
        }
        summary.channels = self.channels().await?;
        Ok(summary)
    }

    async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let read = db("finding the next due delivery");
        let row = sqlx::query(D::sql().next_due.as_str())
            .bind(ms(now))
            .fetch_one(&self.pool)
            .await
            .map_err(db("finding the next due delivery"))?;
        machine::ts_opt(row.try_get("next").map_err(read)?)
    }

    async fn history(&self, since: Timestamp) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(common::HISTORY)
            .bind(ms(since))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the history"))?;
        rows.iter().map(rows::history_entry).collect()
    }

    async fn hold_channel(
        &self,
        channel: &str,
        until: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.writable("holding a channel")?;
        let hold = sqlx::query(common::HOLD).bind(channel).bind(ms(until)).bind(reason);
        self.run(hold.bind(ms(now)), "holding a channel").await?;
        Ok(())
    }

    async fn release_channel(&self, channel: &str) -> Result<(), StoreError> {
        self.writable("releasing a channel")?;
        self.run(sqlx::query(common::RELEASE).bind(channel), "releasing a channel").await?;
        Ok(())
    }

    async fn revoked(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let read = db("reading a channel's revocation");
        let row = sqlx::query(common::REVOKED)
            .bind(channel)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a channel's revocation"))?;
        match row {
            Some(row) => row.try_get("revoked_reason").map_err(read),
            None => Ok(None),
        }
    }

    async fn snapshots_due(
        &self,
        channel: &str,
        now: Timestamp,
        after: &[SignedDuration],
        limit: usize,
    ) -> Result<Vec<SnapshotDue>, StoreError> {
        let (Some(first), Some(last)) = (after.iter().min(), after.iter().max()) else {
            return Ok(Vec::new());
        };
        let millis = |d: &SignedDuration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let rows = sqlx::query(engagement::CANDIDATES)
            .bind(channel)
            .bind(ms(now))
            .bind(millis(first))
            .bind(millis(last))
            .fetch_all(&self.pool)
            .await
            .map_err(db("finding the snapshots due"))?;
        let mut out = Vec::new();
        for row in &rows {
            if out.len() >= limit {
                break;
            }
            if let Some(due) = engagement::due(row, now, after)? {
                out.push(due);
            }
        }
        Ok(out)
    }

    async fn record_snapshots(&self, taken: &[Snapshot]) -> Result<(), StoreError> {
        self.writable("recording snapshots")?;
        let mut tx = self.begin().await?;
        for s in taken {
            let m = &s.metrics;
            sqlx::query(engagement::SAVE)
                .bind(s.delivery.as_str())
                .bind(i64::try_from(s.after.as_millis()).unwrap_or(i64::MAX))
                .bind(ms(s.fetched_at))
                .bind(engagement::figure(m.likes))
                .bind(engagement::figure(m.reposts))
                .bind(engagement::figure(m.replies))
                .bind(engagement::figure(m.quotes))
                .bind(engagement::figure(m.impressions))
                .bind(engagement::figure(m.clicks))
                .execute(&mut *tx)
                .await
                .map_err(db("recording a snapshot"))?;
            sqlx::query(engagement::FORGET_FAILURE)
                .bind(s.delivery.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db("recording a snapshot"))?;
        }
        tx.commit().await.map_err(db("committing snapshots"))
    }

    async fn snapshot_failed(
        &self,
        deliveries: &[String],
        not_before: Timestamp,
        error: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.writable("recording a failed snapshot")?;
        let mut tx = self.begin().await?;
        for d in deliveries {
            sqlx::query(engagement::FAILED)
                .bind(d.as_str())
                .bind(ms(not_before))
                .bind(error)
                .bind(ms(now))
                .execute(&mut *tx)
                .await
                .map_err(db("recording a failed snapshot"))?;
        }
        tx.commit().await.map_err(db("committing a failed snapshot"))
    }

    async fn latest_snapshots(&self) -> Result<Vec<Snapshot>, StoreError> {
        let rows = sqlx::query(engagement::LATEST)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the snapshots"))?;
        rows.iter().map(engagement::snapshot).collect()
    }

    async fn save_server_limits(
        &self,
        channel: &str,
        limits: &crieur_core::store::ServerLimits,
    ) -> Result<(), StoreError> {
        self.writable("saving server limits")?;
        let save = sqlx::query(crate::limits::SAVE)
            .bind(channel)
            .bind(limits.instance.as_str())
            .bind(crate::limits::column(limits.max_characters))
            .bind(crate::limits::column(limits.characters_per_url))
            .bind(crate::limits::column(limits.max_media))
            .bind(ms(limits.fetched_at));
        self.run(save, "saving server limits").await?;
        Ok(())
    }

    async fn server_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, crieur_core::store::ServerLimits>, StoreError>
    {
        let rows = sqlx::query(crate::limits::ALL)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading server limits"))?;
        rows.iter().map(crate::limits::row).collect()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl<D> TokenVault for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'p> &'p Pool<D::Db>: Executor<'p, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'a> &'a str: Encode<'a, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> i64: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> bool: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Vec<u8>: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Option<i64>: Encode<'r, D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db>,
{
    async fn load(&self, channel: &str) -> Result<Option<Tokens>, VaultError> {
        let row = sqlx::query(common::LOAD_TOKENS)
            .bind(channel)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading tokens"))?;
        let Some(row) = row else { return Ok(None) };
        let nonce: Option<Vec<u8>> = row.try_get("nonce").map_err(db("reading tokens"))?;
        let sealed: Option<Vec<u8>> = row.try_get("ciphertext").map_err(db("reading tokens"))?;
        match (nonce, sealed) {
            (Some(nonce), Some(sealed)) => {
                Ok(Some(crate::seal::open(self.key()?, channel, &nonce, &sealed)?))
            }
            _ => Ok(None),
        }
    }

    async fn save(&self, channel: &str, tokens: &Tokens) -> Result<(), VaultError> {
        self.writable("saving tokens")?;
        let sealed = crate::seal::seal(self.key()?, channel, tokens)?;
        let save = sqlx::query(common::SAVE_TOKENS)
            .bind(channel)
            .bind(sealed.nonce)
            .bind(sealed.ciphertext)
            .bind(tokens.expires_at.map(ms))
            .bind(ms(self.clock.now()));
        self.run(save, "saving tokens").await?;
        Ok(())
    }

    async fn mark_revoked(&self, channel: &str, reason: &str) -> Result<(), VaultError> {
        self.writable("marking a channel revoked")?;
        let mark = sqlx::query(common::MARK_REVOKED).bind(channel).bind(reason);
        self.run(mark.bind(ms(self.clock.now())), "marking a channel revoked").await?;
        Ok(())
    }

    async fn try_lock_refresh(
        &self,
        channel: &str,
        owner: &str,
        ttl: SignedDuration,
    ) -> Result<bool, VaultError> {
        self.writable("locking a token refresh")?;
        let now = ms(self.clock.now());
        let lock = sqlx::query(common::LOCK_REFRESH).bind(channel).bind(owner).bind(plus(now, ttl));
        Ok(self.run(lock.bind(now), "locking a token refresh").await? == 1)
    }

    async fn unlock_refresh(&self, channel: &str, owner: &str) -> Result<(), VaultError> {
        self.writable("unlocking a token refresh")?;
        let unlock = sqlx::query(common::UNLOCK_REFRESH).bind(channel).bind(owner);
        self.run(unlock, "unlocking a token refresh").await?;
        Ok(())
    }
}

/// The upload ledger: one row per (channel, key) in `media_uploads`, replaced by each record.
/// Lookups work on a read-only store; records need a read-write one.
#[async_trait]
impl<D> MediaLedger for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'p> &'p Pool<D::Db>: Executor<'p, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'a> &'a str: Encode<'a, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> i64: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> bool: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Vec<u8>: Encode<'r, D::Db> + Decode<'r, D::Db> + Type<D::Db>,
    for<'r> Option<i64>: Encode<'r, D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db>,
{
    async fn lookup(&self, channel: &str, key: &str) -> Result<Option<UploadedMedia>, LedgerError> {
        let read = || db("reading the media upload ledger");
        let row = sqlx::query(common::LOOKUP_MEDIA)
            .bind(channel)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(read())?;
        let Some(row) = row else { return Ok(None) };
        let remote_id: String = row.try_get("remote_id").map_err(read())?;
        let expires_at: Option<i64> = row.try_get("expires_at").map_err(read())?;
        let uploaded_at: i64 = row.try_get("uploaded_at").map_err(read())?;
        Ok(Some(UploadedMedia {
            remote_id,
            expires_at: expires_at.map(machine::ts).transpose()?,
            uploaded_at: machine::ts(uploaded_at)?,
        }))
    }

    async fn record(
        &self,
        channel: &str,
        key: &str,
        media: &UploadedMedia,
    ) -> Result<(), LedgerError> {
        self.writable("recording an upload")?;
        let record = sqlx::query(common::RECORD_MEDIA)
            .bind(channel)
            .bind(key)
            .bind(media.remote_id.as_str())
            .bind(media.expires_at.map(ms))
            .bind(ms(media.uploaded_at));
        self.run(record, "recording an upload").await?;
        Ok(())
    }
}
