//! The SQLite backend: one file, one crieur instance.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use crieur_core::{Clock, Reconciled, TokenVault, Tokens, VaultError};
use jiff::{SignedDuration, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::error::{db, migrate};
use crate::logic::{self, Change, ms, plus};
use crate::{
    Applied, Backend, Claimed, Completion, DesiredDelivery, HistoryEntry, Key, Lease, OpenOptions,
    Resolve, Resolved, RetryPolicy, State, StatusReport, Store, StoreError, SyncReport, rows,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The store on one SQLite file. Holds the instance lock (`<db>.lock`) for its whole life when
/// opened read-write, so no other crieur process writes the file meanwhile.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    read_only: bool,
    /// Holds the instance lock: may claim and rescue.
    exclusive: bool,
    key: Option<Key>,
    clock: Arc<dyn Clock>,
    /// The exclusive lock on `<db>.lock`, released when the store is dropped.
    _lock: Option<File>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .field("exclusive", &self.exclusive)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// `<db>.lock`, next to the database.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive instance lock of `db` (an advisory `flock` on `<db>.lock`, released by
/// the kernel when the process dies, so a crash never leaves a stale lock) and writes our pid
/// into it for the message a second opener prints.
fn take_instance_lock(db: &Path) -> Result<File, StoreError> {
    let path = lock_path(db);
    let io = |source| StoreError::Io { path: path.clone(), source };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
            Err(StoreError::Locked { path: db.to_owned(), pid })
        }
        Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

impl SqliteStore {
    /// Opens (read-write: creates, locks, migrates, rescues) the database file at `path`. See
    /// [`open`](crate::open).
    ///
    /// # Errors
    /// [`StoreError::Locked`], [`StoreError::Missing`] (read-only), [`StoreError::NoSchema`]
    /// (read-only), [`StoreError::Io`], [`StoreError::Database`], [`StoreError::Migrate`].
    pub async fn open(path: &Path, opts: OpenOptions) -> Result<SqliteStore, StoreError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true);
        let pool_opts = SqlitePoolOptions::new().max_connections(opts.max_connections.unwrap_or(4));
        if opts.read_only {
            if !path.exists() {
                return Err(StoreError::Missing { path: path.to_owned() });
            }
            let pool = pool_opts
                .connect_with(base.read_only(true))
                .await
                .map_err(db("opening the SQLite database read-only"))?;
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'",
            )
            .fetch_one(&pool)
            .await
            .map_err(db("reading the schema"))?;
            if tables == 0 {
                pool.close().await;
                return Err(StoreError::NoSchema(path.display().to_string()));
            }
            return Ok(SqliteStore {
                pool,
                path: path.to_owned(),
                read_only: true,
                exclusive: false,
                key: opts.key,
                clock: opts.clock,
                _lock: None,
            });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::Io { path: dir.to_owned(), source })?;
        }
        let lock = if opts.exclusive { Some(take_instance_lock(path)?) } else { None };
        let pool = pool_opts
            .connect_with(
                base.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full),
            )
            .await
            .map_err(db("opening the SQLite database"))?;
        if opts.migrate {
            MIGRATOR.run(&pool).await.map_err(migrate)?;
        }
        let store = SqliteStore {
            pool,
            path: path.to_owned(),
            read_only: false,
            exclusive: lock.is_some(),
            key: opts.key,
            clock: opts.clock,
            _lock: lock,
        };
        if !store.exclusive {
            return Ok(store);
        }
        // We hold the only lock on the file: whatever is `publishing` belonged to a process that
        // is gone. It may have been sent, so it becomes `unknown` (reconciled, never resent
        // blindly).
        let now = ms(store.clock.now());
        let mut tx = store.begin().await?;
        let orphaned = rescue(&mut tx, now, true).await?;
        tx.commit().await.map_err(db("committing the start-up rescue"))?;
        if orphaned > 0 {
            tracing::warn!(
                count = orphaned,
                "deliveries were being sent when crieur last stopped; they are now unknown and will be reconciled"
            );
        }
        Ok(store)
    }

    fn writable(&self, what: &'static str) -> Result<(), StoreError> {
        if self.read_only { Err(StoreError::ReadOnly(what)) } else { Ok(()) }
    }

    /// Claims and rescues belong to the lock holder alone.
    fn dispatcher(&self, what: &'static str) -> Result<(), StoreError> {
        self.writable(what)?;
        if self.exclusive { Ok(()) } else { Err(StoreError::NotExclusive(what)) }
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes the write lock now, so no transaction fails
    /// half-way on a lock upgrade.
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db("starting a write transaction"))
    }

    fn key(&self) -> Result<&Key, StoreError> {
        self.key.as_ref().ok_or(StoreError::NoKey)
    }
}

/// Lapsed leases: `publishing` -> `unknown` (may have been sent), `reconciling` -> `unknown`
/// (nothing was sent by reconciling). With `all`, every lease counts as lapsed (start-up).
async fn rescue(
    tx: &mut Transaction<'static, Sqlite>,
    now: i64,
    all: bool,
) -> Result<u64, StoreError> {
    let reason = if all { logic::FOUND_AT_START } else { logic::LEASE_EXPIRED };
    let sent = sqlx::query(
        "UPDATE deliveries SET state = 'unknown', error = ?2,
             first_unknown_at = COALESCE(first_unknown_at, ?1),
             maybe_sent_since = COALESCE(maybe_sent_since, attempt_started_at, ?1),
             lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, updated_at = ?1
         WHERE state = 'publishing' AND (?3 OR lease_expires_at <= ?1)",
    )
    .bind(now)
    .bind(reason)
    .bind(all)
    .execute(&mut **tx)
    .await
    .map_err(db("rescuing lapsed leases"))?
    .rows_affected();
    sqlx::query(
        "UPDATE deliveries SET state = 'unknown', lease_owner = NULL, lease_expires_at = NULL,
             updated_at = ?1
         WHERE state = 'reconciling' AND (?2 OR lease_expires_at <= ?1)",
    )
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

/// Fills `reply_to` of claimed thread items from their predecessor.
async fn fill_reply_to(
    tx: &mut Transaction<'static, Sqlite>,
    raws: &mut [logic::RawClaim],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = raws.iter().filter(|r| r.item > 0).map(|r| r.id.as_str()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT d.id AS id, p.remote_id AS remote_id FROM deliveries d
         JOIN deliveries p ON p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1
         WHERE d.id IN (SELECT value FROM json_each(?1))",
    )
    .bind(logic::ids_json(ids.into_iter())?)
    .fetch_all(&mut **tx)
    .await
    .map_err(db("reading the thread items to reply to"))?;
    let mut reply: HashMap<String, Option<String>> = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id").map_err(db("reading a reply id"))?;
        let remote: Option<String> = row.try_get("remote_id").map_err(db("reading a reply id"))?;
        reply.insert(id, remote);
    }
    for raw in raws.iter_mut().filter(|r| r.item > 0) {
        raw.reply_to = reply.remove(&raw.id).flatten();
    }
    Ok(())
}

/// The claim statements (send and reconcile) differ only in their state and order; written out
/// in full so each stays a `&'static str`.
const CLAIM_SEND: &str = "UPDATE deliveries SET state = 'publishing', attempt = attempt + 1,
        lease_owner = ?1, lease_expires_at = ?2, attempt_started_at = ?3, not_before = NULL,
        updated_at = ?3
    WHERE id IN (
        SELECT d.id FROM deliveries d
        WHERE d.state IN ('queued', 'retrying') AND d.due_at <= ?3
          AND COALESCE(d.not_before, 0) <= ?3
          AND NOT EXISTS (SELECT 1 FROM channel_holds h
                          WHERE h.channel = d.channel AND h.until_at > ?3)
          AND NOT EXISTS (SELECT 1 FROM tokens t
                          WHERE t.channel = d.channel AND t.revoked_reason IS NOT NULL)
          AND (d.item = 0 OR EXISTS (SELECT 1 FROM deliveries p
                WHERE p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1
                  AND p.state = 'published'))
        ORDER BY d.due_at, d.id
        LIMIT ?4)
    RETURNING id, post, channel, item, network, text, link, payload, attempt, due_at,
        attempt_started_at, maybe_sent_since, first_unknown_at, lease_expires_at";

const CLAIM_RECONCILE: &str = "UPDATE deliveries SET state = 'reconciling',
        lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3
    WHERE id IN (
        SELECT d.id FROM deliveries d
        WHERE d.state = 'unknown' AND COALESCE(d.not_before, 0) <= ?3
          AND NOT EXISTS (SELECT 1 FROM channel_holds h
                          WHERE h.channel = d.channel AND h.until_at > ?3)
          AND NOT EXISTS (SELECT 1 FROM tokens t
                          WHERE t.channel = d.channel AND t.revoked_reason IS NOT NULL)
        ORDER BY d.first_unknown_at, d.id
        LIMIT ?4)
    RETURNING id, post, channel, item, network, text, link, payload, attempt, due_at,
        attempt_started_at, maybe_sent_since, first_unknown_at, lease_expires_at";

impl SqliteStore {
    async fn claim(
        &self,
        sql: &'static str,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
        reconciling: bool,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.dispatcher("claiming deliveries")?;
        let now = ms(now);
        let mut tx = self.begin().await?;
        rescue(&mut tx, now, false).await?;
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(plus(now, lease))
            .bind(now)
            .bind(logic::batch_limit(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db("claiming deliveries"))?;
        let mut raws =
            rows.iter().map(|r| rows::raw_claim(r, false)).collect::<Result<Vec<_>, _>>()?;
        fill_reply_to(&mut tx, &mut raws).await?;
        tx.commit().await.map_err(db("committing a claim"))?;
        let mut claims =
            raws.into_iter().map(|r| r.into_claimed(reconciling)).collect::<Result<Vec<_>, _>>()?;
        logic::sort_claims(&mut claims);
        Ok(claims)
    }

    /// Reads the rows of `ids` (inside the write transaction, so nothing changes under us).
    async fn currents(
        tx: &mut Transaction<'static, Sqlite>,
        ids: &[&str],
    ) -> Result<HashMap<String, logic::Current>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, network, state, attempt, retries_from, lease_owner, attempt_started_at,
                    maybe_sent_since, first_unknown_at, error
             FROM deliveries WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(logic::ids_json(ids.iter().copied())?)
        .fetch_all(&mut **tx)
        .await
        .map_err(db("reading deliveries to complete"))?;
        rows.iter().map(|r| rows::current(r).map(|c| (c.id.clone(), c))).collect()
    }

    /// Applies the changes (fenced again in SQL: same owner, attempt and state).
    async fn apply(
        tx: &mut Transaction<'static, Sqlite>,
        owner: &str,
        changes: &[Change],
        now: i64,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE deliveries SET state = u.state, retries_from = u.retries_from,
                 remote_id = u.remote_id, url = u.url,
                 published_at = u.published_at, error = u.error, not_before = u.not_before,
                 first_unknown_at = u.first_unknown_at, maybe_sent_since = u.maybe_sent_since,
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
             FROM (SELECT value ->> 'id' AS id, value ->> 'attempt' AS attempt,
                          value ->> 'from_state' AS from_state, value ->> 'state' AS state,
                          value ->> 'retries_from' AS retries_from,
                          value ->> 'remote_id' AS remote_id, value ->> 'url' AS url,
                          value ->> 'published_at' AS published_at, value ->> 'error' AS error,
                          value ->> 'not_before' AS not_before,
                          value ->> 'first_unknown_at' AS first_unknown_at,
                          value ->> 'maybe_sent_since' AS maybe_sent_since
                   FROM json_each(?1)) AS u
             WHERE deliveries.id = u.id AND deliveries.attempt = u.attempt
               AND deliveries.state = u.from_state AND deliveries.lease_owner = ?3",
        )
        .bind(logic::to_json(changes)?)
        .bind(now)
        .bind(owner)
        .execute(&mut **tx)
        .await
        .map_err(db("recording outcomes"))?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn sync(
        &self,
        desired: &[DesiredDelivery],
        now: Timestamp,
    ) -> Result<SyncReport, StoreError> {
        self.writable("syncing the post files")?;
        logic::check_desired(desired)?;
        let now = ms(now);
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT id, state, content_hash, due_at, cancelled_by FROM deliveries
             WHERE state IN ('queued', 'retrying', 'failed')
                OR id IN (SELECT value FROM json_each(?1))",
        )
        .bind(logic::ids_json(desired.iter().map(|d| d.id.as_str()))?)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading deliveries to sync"))?;
        let existing = rows.iter().map(rows::existing).collect::<Result<Vec<_>, _>>()?;
        let plan = logic::plan_sync(existing, desired)?;
        let mut report = SyncReport {
            edited_after_publish: plan.edited_after_publish,
            edited_in_flight: plan.edited_in_flight,
            ..SyncReport::default()
        };
        if plan.n_insert > 0 {
            report.inserted = sqlx::query(
                "INSERT INTO deliveries (id, post, channel, item, network, state, due_at, text,
                     link, payload, content_hash, created_at, updated_at)
                 SELECT value ->> 'id', value ->> 'post', value ->> 'channel', value ->> 'item',
                     value ->> 'network', 'queued', value ->> 'due_at', value ->> 'text',
                     value ->> 'link', value ->> 'payload', value ->> 'content_hash', ?2, ?2
                 FROM json_each(?1)",
            )
            .bind(&plan.insert)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("inserting new deliveries"))?
            .rows_affected();
        }
        if plan.n_update > 0 {
            report.updated = sqlx::query(
                "UPDATE deliveries SET network = u.network, due_at = u.due_at, text = u.text,
                     link = u.link, payload = u.payload, content_hash = u.content_hash,
                     updated_at = ?2
                 FROM (SELECT value ->> 'id' AS id, value ->> 'network' AS network,
                              value ->> 'due_at' AS due_at, value ->> 'text' AS text,
                              value ->> 'link' AS link, value ->> 'payload' AS payload,
                              value ->> 'content_hash' AS content_hash
                       FROM json_each(?1)) AS u
                 WHERE deliveries.id = u.id AND deliveries.state IN ('queued', 'retrying', 'failed')",
            )
            .bind(&plan.update)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("updating edited deliveries"))?
            .rows_affected();
        }
        if plan.n_revive > 0 {
            report.revived = sqlx::query(
                "UPDATE deliveries SET state = 'queued', network = u.network, due_at = u.due_at,
                     text = u.text, link = u.link, payload = u.payload,
                     content_hash = u.content_hash, error = NULL, cancelled_by = NULL,
                     not_before = NULL, retries_from = attempt, updated_at = ?2
                 FROM (SELECT value ->> 'id' AS id, value ->> 'network' AS network,
                              value ->> 'due_at' AS due_at, value ->> 'text' AS text,
                              value ->> 'link' AS link, value ->> 'payload' AS payload,
                              value ->> 'content_hash' AS content_hash
                       FROM json_each(?1)) AS u
                 WHERE deliveries.id = u.id AND deliveries.state = 'cancelled'
                   AND deliveries.cancelled_by = 'sync'",
            )
            .bind(&plan.revive)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("reviving deliveries back in the files"))?
            .rows_affected();
        }
        if plan.n_cancel > 0 {
            report.cancelled = sqlx::query(
                "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'sync', error = ?3,
                     not_before = NULL, updated_at = ?2
                 WHERE id IN (SELECT value FROM json_each(?1))
                   AND state IN ('queued', 'retrying', 'failed')",
            )
            .bind(&plan.cancel)
            .bind(now)
            .bind(logic::REMOVED)
            .execute(&mut *tx)
            .await
            .map_err(db("cancelling deliveries removed from the files"))?
            .rows_affected();
        }
        tx.commit().await.map_err(db("committing the sync"))?;
        Ok(report)
    }

    async fn claim_due(
        &self,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.claim(CLAIM_SEND, owner, now, lease, limit, false).await
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
        if leases.len() > logic::MAX_BATCH {
            return Err(StoreError::Invalid(format!(
                "{} leases in one heartbeat; at most {}",
                leases.len(),
                logic::MAX_BATCH
            )));
        }
        let rows: Vec<logic::LeaseRow<'_>> = leases
            .iter()
            .map(|l| logic::LeaseRow { id: &l.id, attempt: i64::from(l.attempt) })
            .collect();
        let mut tx = self.begin().await?;
        let renewed = sqlx::query(
            "UPDATE deliveries SET lease_expires_at = ?2
             FROM (SELECT value ->> 'id' AS id, value ->> 'attempt' AS attempt
                   FROM json_each(?1)) AS u
             WHERE deliveries.id = u.id AND deliveries.attempt = u.attempt
               AND deliveries.lease_owner = ?3
               AND deliveries.state IN ('publishing', 'reconciling')",
        )
        .bind(logic::to_json(&rows)?)
        .bind(plus(ms(now), lease))
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db("renewing leases"))?
        .rows_affected();
        tx.commit().await.map_err(db("committing a heartbeat"))?;
        Ok(renewed)
    }

    async fn complete_many(
        &self,
        owner: &str,
        done: &[Completion],
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<Vec<Applied>, StoreError> {
        self.writable("recording outcomes")?;
        if done.len() > logic::MAX_BATCH {
            return Err(StoreError::Invalid(format!(
                "{} completions in one batch; at most {}",
                done.len(),
                logic::MAX_BATCH
            )));
        }
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let now = ms(now);
        let ids: Vec<&str> = done.iter().map(|c| c.id.as_str()).collect();
        let mut tx = self.begin().await?;
        let current = Self::currents(&mut tx, &ids).await?;
        let (changes, applied) = logic::decide(&current, owner, done, now, policy)?;
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
        self.claim(CLAIM_RECONCILE, owner, now, lease, limit, true).await
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
        let Some(cur) = current.get(id).filter(|c| logic::holds(c, owner, attempt, "reconciling"))
        else {
            return Ok(Applied::Fenced);
        };
        let (change, applied) = logic::on_reconciled(cur, found, now, policy, &mut rand::rng())?;
        Self::apply(&mut tx, owner, &[change], now).await?;
        tx.commit().await.map_err(db("committing a reconciliation"))?;
        Ok(applied)
    }

    async fn rescue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.dispatcher("rescuing lapsed leases")?;
        let mut tx = self.begin().await?;
        let n = rescue(&mut tx, ms(now), false).await?;
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
        let rows = sqlx::query(
            "SELECT id, item, state FROM deliveries WHERE post = ?1 AND channel = ?2 ORDER BY item",
        )
        .bind(post)
        .bind(channel)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading the delivery to resolve"))?;
        let found = resolvable(post, channel, &rows)?;
        let to = match action {
            Resolve::Published { url, remote_id } => {
                sqlx::query(
                    "UPDATE deliveries SET state = 'published', url = ?2, remote_id = ?3,
                         published_at = ?4, error = NULL, not_before = NULL, lease_owner = NULL,
                         lease_expires_at = NULL, updated_at = ?4
                     WHERE id = ?1",
                )
                .bind(&found.id)
                .bind(url)
                .bind(remote_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("resolving as published"))?;
                State::Published
            }
            Resolve::Retry => {
                sqlx::query(
                    "UPDATE deliveries SET state = 'retrying', not_before = NULL, error = NULL,
                         retries_from = attempt, maybe_sent_since = NULL,
                         first_unknown_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                         updated_at = ?2
                     WHERE id = ?1",
                )
                .bind(&found.id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("resolving for a retry"))?;
                State::Retrying
            }
            Resolve::Cancel => State::Cancelled,
        };
        let mut also_cancelled = 0;
        if to == State::Cancelled {
            sqlx::query(
                "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'resolve',
                     error = 'cancelled with crieur resolve', not_before = NULL,
                     lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
                 WHERE id = ?1",
            )
            .bind(&found.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("cancelling a delivery"))?;
            also_cancelled = sqlx::query(
                "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'resolve',
                     error = 'an earlier item of its thread was cancelled', not_before = NULL,
                     updated_at = ?4
                 WHERE post = ?1 AND channel = ?2 AND item > ?3
                   AND state IN ('queued', 'retrying', 'failed')",
            )
            .bind(post)
            .bind(channel)
            .bind(i64::from(found.item))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("cancelling the rest of a thread"))?
            .rows_affected();
        }
        tx.commit().await.map_err(db("committing a resolution"))?;
        Ok(Resolved { id: found.id, item: found.item, from: found.state, to, also_cancelled })
    }

    async fn status(&self) -> Result<StatusReport, StoreError> {
        let rows = sqlx::query(
            "SELECT id, post, channel, item, network, state, due_at, not_before, published_at,
                    remote_id, url, attempt, error
             FROM deliveries ORDER BY due_at, post, channel, item",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the status"))?;
        let deliveries = rows.iter().map(rows::status_row).collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(
            "SELECT c.channel AS channel, t.expires_at AS token_expires_at,
                    (t.ciphertext IS NOT NULL) AS has_tokens, t.revoked_reason AS revoked_reason,
                    h.until_at AS hold_until, h.reason AS hold_reason
             FROM (SELECT channel FROM deliveries UNION SELECT channel FROM tokens
                   UNION SELECT channel FROM channel_holds) AS c
             LEFT JOIN tokens t ON t.channel = c.channel
             LEFT JOIN channel_holds h ON h.channel = c.channel
             ORDER BY c.channel",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the channels"))?;
        let channels = rows.iter().map(rows::channel_status).collect::<Result<Vec<_>, _>>()?;
        Ok(StatusReport { deliveries, channels })
    }

    async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(t) FROM (
                 SELECT MAX(d.due_at, COALESCE(d.not_before, d.due_at),
                            COALESCE(h.until_at, d.due_at)) AS t
                 FROM deliveries d LEFT JOIN channel_holds h ON h.channel = d.channel
                 WHERE d.state IN ('queued', 'retrying')
                   AND NOT EXISTS (SELECT 1 FROM tokens k
                                   WHERE k.channel = d.channel AND k.revoked_reason IS NOT NULL)
                   AND (d.item = 0 OR EXISTS (SELECT 1 FROM deliveries p
                        WHERE p.post = d.post AND p.channel = d.channel
                          AND p.item = d.item - 1 AND p.state = 'published'))
                 UNION ALL
                 SELECT MAX(COALESCE(d.not_before, ?1), COALESCE(h.until_at, ?1)) AS t
                 FROM deliveries d LEFT JOIN channel_holds h ON h.channel = d.channel
                 WHERE d.state = 'unknown'
                   AND NOT EXISTS (SELECT 1 FROM tokens k
                                   WHERE k.channel = d.channel AND k.revoked_reason IS NOT NULL)
                 UNION ALL
                 SELECT lease_expires_at AS t FROM deliveries
                 WHERE state IN ('publishing', 'reconciling')) AS w",
        )
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(db("finding the next due delivery"))?;
        logic::ts_opt(next)
    }

    async fn history(&self, since: Timestamp) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT post, channel, item, network, published_at, text, remote_id, url
             FROM deliveries WHERE state = 'published' AND published_at >= ?1
             ORDER BY published_at, post, channel, item",
        )
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
        sqlx::query(
            "INSERT INTO channel_holds (channel, until_at, reason, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (channel) DO UPDATE SET until_at = excluded.until_at,
                 reason = excluded.reason, updated_at = excluded.updated_at",
        )
        .bind(channel)
        .bind(ms(until))
        .bind(reason)
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(db("holding a channel"))?;
        Ok(())
    }

    async fn release_channel(&self, channel: &str) -> Result<(), StoreError> {
        self.writable("releasing a channel")?;
        sqlx::query("DELETE FROM channel_holds WHERE channel = ?1")
            .bind(channel)
            .execute(&self.pool)
            .await
            .map_err(db("releasing a channel"))?;
        Ok(())
    }

    async fn revoked(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let reason: Option<Option<String>> =
            sqlx::query_scalar("SELECT revoked_reason FROM tokens WHERE channel = ?1")
                .bind(channel)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a channel's revocation"))?;
        Ok(reason.flatten())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// The row `resolve` acts on: the earliest unknown, reconciling or failed item.
pub(crate) struct Resolvable {
    pub id: String,
    pub item: u32,
    pub state: State,
}

/// Picks the row to resolve among the (post, channel) rows `(id, item, state)`.
pub(crate) fn resolvable<R>(post: &str, channel: &str, rows: &[R]) -> Result<Resolvable, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if rows.is_empty() {
        return Err(StoreError::NotFound { post: post.to_owned(), channel: channel.to_owned() });
    }
    let mut states = Vec::new();
    for row in rows {
        let read = db("reading the delivery to resolve");
        let state: String = row.try_get("state").map_err(read)?;
        if matches!(state.as_str(), "unknown" | "reconciling" | "failed") {
            let id: String = row.try_get("id").map_err(db("reading the delivery to resolve"))?;
            let item: i64 = row.try_get("item").map_err(db("reading the delivery to resolve"))?;
            return Ok(Resolvable {
                id,
                item: logic::count(item, "thread item")?,
                state: logic::state_from_db(&state)?,
            });
        }
        let shown = logic::state_from_db(&state)?.as_str();
        if !states.contains(&shown) {
            states.push(shown);
        }
    }
    Err(StoreError::NotResolvable {
        post: post.to_owned(),
        channel: channel.to_owned(),
        state: states.join(", "),
    })
}

#[async_trait]
impl TokenVault for SqliteStore {
    async fn load(&self, channel: &str) -> Result<Option<Tokens>, VaultError> {
        let row: Option<(Option<Vec<u8>>, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT nonce, ciphertext FROM tokens WHERE channel = ?1")
                .bind(channel)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading tokens"))?;
        match row {
            Some((Some(nonce), Some(ciphertext))) => {
                Ok(Some(crate::seal::open(self.key()?, channel, &nonce, &ciphertext)?))
            }
            _ => Ok(None),
        }
    }

    async fn save(&self, channel: &str, tokens: &Tokens) -> Result<(), VaultError> {
        self.writable("saving tokens")?;
        let sealed = crate::seal::seal(self.key()?, channel, tokens)?;
        sqlx::query(
            "INSERT INTO tokens (channel, nonce, ciphertext, expires_at, revoked_reason, updated_at)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5)
             ON CONFLICT (channel) DO UPDATE SET nonce = excluded.nonce,
                 ciphertext = excluded.ciphertext, expires_at = excluded.expires_at,
                 revoked_reason = NULL, updated_at = excluded.updated_at",
        )
        .bind(channel)
        .bind(sealed.nonce)
        .bind(sealed.ciphertext)
        .bind(tokens.expires_at.map(ms))
        .bind(ms(self.clock.now()))
        .execute(&self.pool)
        .await
        .map_err(db("saving tokens"))?;
        Ok(())
    }

    async fn mark_revoked(&self, channel: &str, reason: &str) -> Result<(), VaultError> {
        self.writable("marking a channel revoked")?;
        sqlx::query(
            "INSERT INTO tokens (channel, revoked_reason, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel) DO UPDATE SET revoked_reason = excluded.revoked_reason,
                 updated_at = excluded.updated_at",
        )
        .bind(channel)
        .bind(reason)
        .bind(ms(self.clock.now()))
        .execute(&self.pool)
        .await
        .map_err(db("marking a channel revoked"))?;
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
        let taken = sqlx::query(
            "INSERT INTO refresh_locks (channel, owner, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel) DO UPDATE SET owner = excluded.owner,
                 expires_at = excluded.expires_at
             WHERE refresh_locks.expires_at <= ?4 OR refresh_locks.owner = excluded.owner",
        )
        .bind(channel)
        .bind(owner)
        .bind(plus(now, ttl))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("locking a token refresh"))?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn unlock_refresh(&self, channel: &str, owner: &str) -> Result<(), VaultError> {
        self.writable("unlocking a token refresh")?;
        sqlx::query("DELETE FROM refresh_locks WHERE channel = ?1 AND owner = ?2")
            .bind(channel)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db("unlocking a token refresh"))?;
        Ok(())
    }
}
