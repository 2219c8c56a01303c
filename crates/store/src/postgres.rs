//! The PostgreSQL backend: any number of crieur instances share one database.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use crieur_core::{Clock, Reconciled, TokenVault, Tokens, VaultError};
use jiff::{SignedDuration, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::error::{db, migrate};
use crate::logic::{self, Change, ms, plus};
use crate::options::mask_url;
use crate::sqlite::resolvable;
use crate::{
    Applied, Backend, Claimed, Completion, DesiredDelivery, HistoryEntry, Key, Lease, OpenOptions,
    Resolve, Resolved, RetryPolicy, State, StatusReport, Store, StoreError, SyncReport, rows,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The key of the transaction advisory lock that serializes `sync` across instances.
const SYNC_LOCK: i64 = 0x6372_6965_7572_0001;

/// The store on a PostgreSQL database. Several instances may share it: claims skip rows locked
/// by others, leases expire, every outcome is fenced.
pub struct PgStore {
    pool: PgPool,
    /// The URL with its password masked.
    url: String,
    read_only: bool,
    key: Option<Key>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .field("read_only", &self.read_only)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` and, read-write, applies the migrations (sqlx takes an advisory lock, so
    /// instances starting together migrate once). See [`open`](crate::open).
    ///
    /// # Errors
    /// [`StoreError::BadUrl`], [`StoreError::Database`] (unreachable, refused),
    /// [`StoreError::NoSchema`] (read-only, never migrated), [`StoreError::Migrate`].
    pub async fn open(url: &str, opts: OpenOptions) -> Result<PgStore, StoreError> {
        let masked = mask_url(url);
        let connect = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
            url: masked.clone(),
            reason: format!("not a PostgreSQL URL crieur can use: {e}"),
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.unwrap_or(8))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(connect)
            .await
            .map_err(db("connecting to PostgreSQL"))?;
        if opts.read_only {
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name = 'deliveries'",
            )
            .fetch_one(&pool)
            .await
            .map_err(db("reading the schema"))?;
            if tables == 0 {
                pool.close().await;
                return Err(StoreError::NoSchema(masked));
            }
        } else if opts.migrate {
            MIGRATOR.run(&pool).await.map_err(migrate)?;
        }
        Ok(PgStore {
            pool,
            url: masked,
            read_only: opts.read_only,
            key: opts.key,
            clock: opts.clock,
        })
    }

    fn writable(&self, what: &'static str) -> Result<(), StoreError> {
        if self.read_only { Err(StoreError::ReadOnly(what)) } else { Ok(()) }
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(db("starting a transaction"))
    }

    fn key(&self) -> Result<&Key, StoreError> {
        self.key.as_ref().ok_or(StoreError::NoKey)
    }
}

/// Lapsed leases: `publishing` -> `unknown`, `reconciling` -> `unknown`. Rows locked by another
/// transaction (their owner completing them right now) are skipped.
async fn rescue(tx: &mut Transaction<'static, Postgres>, now: i64) -> Result<u64, StoreError> {
    let sent = sqlx::query(
        "UPDATE deliveries SET state = 'unknown', error = $2,
             first_unknown_at = COALESCE(first_unknown_at, $1),
             maybe_sent_since = COALESCE(maybe_sent_since, attempt_started_at, $1),
             lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, updated_at = $1
         WHERE id IN (SELECT id FROM deliveries
                      WHERE state = 'publishing' AND lease_expires_at <= $1
                      FOR UPDATE SKIP LOCKED)",
    )
    .bind(now)
    .bind(logic::LEASE_EXPIRED)
    .execute(&mut **tx)
    .await
    .map_err(db("rescuing lapsed leases"))?
    .rows_affected();
    sqlx::query(
        "UPDATE deliveries SET state = 'unknown', lease_owner = NULL, lease_expires_at = NULL,
             updated_at = $1
         WHERE id IN (SELECT id FROM deliveries
                      WHERE state = 'reconciling' AND lease_expires_at <= $1
                      FOR UPDATE SKIP LOCKED)",
    )
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db("rescuing lapsed reconciliations"))?;
    if sent > 0 {
        tracing::warn!(
            count = sent,
            "leases lapsed while publishing; those deliveries are now unknown"
        );
    }
    Ok(sent)
}

/// Claims for sending: the candidates are chosen and locked in a materialized CTE (`SKIP
/// LOCKED`: rows another instance is claiming are passed over), then updated in the same
/// statement.
const CLAIM_SEND: &str = "WITH due AS MATERIALIZED (
        SELECT d.id FROM deliveries d
        WHERE d.state IN ('queued', 'retrying') AND d.due_at <= $3
          AND COALESCE(d.not_before, 0) <= $3
          AND NOT EXISTS (SELECT 1 FROM channel_holds h
                          WHERE h.channel = d.channel AND h.until_at > $3)
          AND NOT EXISTS (SELECT 1 FROM tokens t
                          WHERE t.channel = d.channel AND t.revoked_reason IS NOT NULL)
          AND (d.item = 0 OR EXISTS (SELECT 1 FROM deliveries p
                WHERE p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1
                  AND p.state = 'published'))
        ORDER BY d.due_at, d.id
        LIMIT $4
        FOR UPDATE OF d SKIP LOCKED)
    UPDATE deliveries AS d SET state = 'publishing', attempt = d.attempt + 1,
        lease_owner = $1, lease_expires_at = $2, attempt_started_at = $3, not_before = NULL,
        updated_at = $3
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.post, d.channel, d.item, d.network, d.text, d.link, d.payload, d.attempt,
        d.due_at, d.attempt_started_at, d.maybe_sent_since, d.first_unknown_at,
        d.lease_expires_at,
        (SELECT p.remote_id FROM deliveries p
         WHERE p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1) AS reply_to";

const CLAIM_RECONCILE: &str = "WITH due AS MATERIALIZED (
        SELECT d.id FROM deliveries d
        WHERE d.state = 'unknown' AND COALESCE(d.not_before, 0) <= $3
          AND NOT EXISTS (SELECT 1 FROM channel_holds h
                          WHERE h.channel = d.channel AND h.until_at > $3)
          AND NOT EXISTS (SELECT 1 FROM tokens t
                          WHERE t.channel = d.channel AND t.revoked_reason IS NOT NULL)
        ORDER BY d.first_unknown_at, d.id
        LIMIT $4
        FOR UPDATE OF d SKIP LOCKED)
    UPDATE deliveries AS d SET state = 'reconciling', lease_owner = $1, lease_expires_at = $2,
        updated_at = $3
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.post, d.channel, d.item, d.network, d.text, d.link, d.payload, d.attempt,
        d.due_at, d.attempt_started_at, d.maybe_sent_since, d.first_unknown_at,
        d.lease_expires_at,
        (SELECT p.remote_id FROM deliveries p
         WHERE p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1) AS reply_to";

impl PgStore {
    async fn claim(
        &self,
        sql: &'static str,
        owner: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
        reconciling: bool,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.writable("claiming deliveries")?;
        let now = ms(now);
        let mut tx = self.begin().await?;
        rescue(&mut tx, now).await?;
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(plus(now, lease))
            .bind(now)
            .bind(logic::batch_limit(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db("claiming deliveries"))?;
        let raws = rows.iter().map(|r| rows::raw_claim(r, true)).collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(db("committing a claim"))?;
        let mut claims =
            raws.into_iter().map(|r| r.into_claimed(reconciling)).collect::<Result<Vec<_>, _>>()?;
        logic::sort_claims(&mut claims);
        Ok(claims)
    }

    /// Reads and locks the rows of `ids`, in id order (no deadlock between two completers).
    async fn currents(
        tx: &mut Transaction<'static, Postgres>,
        ids: &[&str],
    ) -> Result<HashMap<String, logic::Current>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, network, state, attempt, retries_from, lease_owner, attempt_started_at,
                    maybe_sent_since, first_unknown_at, error
             FROM deliveries WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db("reading deliveries to complete"))?;
        rows.iter().map(|r| rows::current(r).map(|c| (c.id.clone(), c))).collect()
    }

    async fn apply(
        tx: &mut Transaction<'static, Postgres>,
        owner: &str,
        changes: &[Change],
        now: i64,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE deliveries AS d SET state = u.state, retries_from = u.retries_from,
                 remote_id = u.remote_id, url = u.url,
                 published_at = u.published_at, error = u.error, not_before = u.not_before,
                 first_unknown_at = u.first_unknown_at, maybe_sent_since = u.maybe_sent_since,
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
             FROM jsonb_to_recordset($1::jsonb) AS u(id text, attempt bigint, from_state text,
                 state text, retries_from bigint, remote_id text, url text, published_at bigint,
                 error text, not_before bigint, first_unknown_at bigint, maybe_sent_since bigint)
             WHERE d.id = u.id AND d.attempt = u.attempt AND d.state = u.from_state
               AND d.lease_owner = $3",
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
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
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
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SYNC_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db("waiting for another instance's sync"))?;
        let ids: Vec<&str> = desired.iter().map(|d| d.id.as_str()).collect();
        let rows = sqlx::query(
            "SELECT id, state, content_hash, due_at, cancelled_by FROM deliveries
             WHERE state IN ('queued', 'retrying', 'failed') OR id = ANY($1)",
        )
        .bind(&ids)
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
                 SELECT u.id, u.post, u.channel, u.item, u.network, 'queued', u.due_at, u.text,
                     u.link, u.payload, u.content_hash, $2, $2
                 FROM jsonb_to_recordset($1::jsonb) AS u(id text, post text, channel text,
                     item bigint, network text, due_at bigint, text text, link text,
                     payload text, content_hash text)
                 ON CONFLICT (id) DO NOTHING",
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
                "UPDATE deliveries AS d SET network = u.network, due_at = u.due_at,
                     text = u.text, link = u.link, payload = u.payload,
                     content_hash = u.content_hash, updated_at = $2
                 FROM jsonb_to_recordset($1::jsonb) AS u(id text, network text, due_at bigint,
                     text text, link text, payload text, content_hash text)
                 WHERE d.id = u.id AND d.state IN ('queued', 'retrying', 'failed')",
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
                "UPDATE deliveries AS d SET state = 'queued', network = u.network,
                     due_at = u.due_at, text = u.text, link = u.link, payload = u.payload,
                     content_hash = u.content_hash, error = NULL, cancelled_by = NULL,
                     not_before = NULL, retries_from = d.attempt, updated_at = $2
                 FROM jsonb_to_recordset($1::jsonb) AS u(id text, network text, due_at bigint,
                     text text, link text, payload text, content_hash text)
                 WHERE d.id = u.id AND d.state = 'cancelled' AND d.cancelled_by = 'sync'",
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
                "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'sync', error = $3,
                     not_before = NULL, updated_at = $2
                 WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))
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
        let renewed = sqlx::query(
            "UPDATE deliveries AS d SET lease_expires_at = $2
             FROM jsonb_to_recordset($1::jsonb) AS u(id text, attempt bigint)
             WHERE d.id = u.id AND d.attempt = u.attempt AND d.lease_owner = $3
               AND d.state IN ('publishing', 'reconciling')",
        )
        .bind(logic::to_json(&rows)?)
        .bind(plus(ms(now), lease))
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db("renewing leases"))?
        .rows_affected();
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
        self.writable("rescuing lapsed leases")?;
        let mut tx = self.begin().await?;
        let n = rescue(&mut tx, ms(now)).await?;
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
            "SELECT id, item, state FROM deliveries WHERE post = $1 AND channel = $2
             ORDER BY item FOR UPDATE",
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
                    "UPDATE deliveries SET state = 'published', url = $2, remote_id = $3,
                         published_at = $4, error = NULL, not_before = NULL, lease_owner = NULL,
                         lease_expires_at = NULL, updated_at = $4
                     WHERE id = $1",
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
                         updated_at = $2
                     WHERE id = $1",
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
                     lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
                 WHERE id = $1",
            )
            .bind(&found.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("cancelling a delivery"))?;
            also_cancelled = sqlx::query(
                "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'resolve',
                     error = 'an earlier item of its thread was cancelled', not_before = NULL,
                     updated_at = $4
                 WHERE post = $1 AND channel = $2 AND item > $3
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
                 SELECT GREATEST(d.due_at, COALESCE(d.not_before, d.due_at),
                                 COALESCE(h.until_at, d.due_at)) AS t
                 FROM deliveries d LEFT JOIN channel_holds h ON h.channel = d.channel
                 WHERE d.state IN ('queued', 'retrying')
                   AND NOT EXISTS (SELECT 1 FROM tokens k
                                   WHERE k.channel = d.channel AND k.revoked_reason IS NOT NULL)
                   AND (d.item = 0 OR EXISTS (SELECT 1 FROM deliveries p
                        WHERE p.post = d.post AND p.channel = d.channel
                          AND p.item = d.item - 1 AND p.state = 'published'))
                 UNION ALL
                 SELECT GREATEST(COALESCE(d.not_before, $1), COALESCE(h.until_at, $1)) AS t
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
             FROM deliveries WHERE state = 'published' AND published_at >= $1
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
             VALUES ($1, $2, $3, $4)
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
        sqlx::query("DELETE FROM channel_holds WHERE channel = $1")
            .bind(channel)
            .execute(&self.pool)
            .await
            .map_err(db("releasing a channel"))?;
        Ok(())
    }

    async fn revoked(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let reason: Option<Option<String>> =
            sqlx::query_scalar("SELECT revoked_reason FROM tokens WHERE channel = $1")
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

#[async_trait]
impl TokenVault for PgStore {
    async fn load(&self, channel: &str) -> Result<Option<Tokens>, VaultError> {
        let row: Option<(Option<Vec<u8>>, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT nonce, ciphertext FROM tokens WHERE channel = $1")
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
             VALUES ($1, $2, $3, $4, NULL, $5)
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
            "INSERT INTO tokens (channel, revoked_reason, updated_at) VALUES ($1, $2, $3)
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
            "INSERT INTO refresh_locks (channel, owner, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (channel) DO UPDATE SET owner = excluded.owner,
                 expires_at = excluded.expires_at
             WHERE refresh_locks.expires_at <= $4 OR refresh_locks.owner = excluded.owner",
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
        sqlx::query("DELETE FROM refresh_locks WHERE channel = $1 AND owner = $2")
            .bind(channel)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db("unlocking a token refresh"))?;
        Ok(())
    }
}
