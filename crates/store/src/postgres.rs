//! The PostgreSQL backend: any number of crieur instances share one database. Claims skip rows
//! locked by others (`FOR UPDATE SKIP LOCKED` in a materialized CTE), completions lock the rows
//! they decide on (in id order), syncs are serialized by an advisory lock, leases expire, and
//! every outcome is fenced. Rows are passed as JSON arrays read with `jsonb_to_recordset`.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};

use crate::error::{db, migrate};
use crate::options::mask_url;
use crate::shell::{Dialect, SqlStore, Statements, common};
use crate::{Backend, OpenOptions, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The store on a PostgreSQL database. Several instances may share it: claims skip rows locked
/// by others, leases expire, every outcome is fenced.
pub type PgStore = SqlStore<PgDialect>;

/// The PostgreSQL side of a [`PgStore`]: the URL it came from.
pub struct PgDialect {
    /// The URL with its password masked.
    url: String,
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
        if opts.migrate && !opts.read_only {
            MIGRATOR.run(&pool).await.map_err(migrate)?;
        }
        let read_only = opts.read_only;
        let store = SqlStore::new(pool, PgDialect { url: masked.clone() }, read_only, opts);
        if read_only {
            store.require_schema(masked).await?;
        }
        Ok(store)
    }
}

/// The PostgreSQL statements: rows in and out as JSON arrays (`jsonb_to_recordset`,
/// `jsonb_array_elements_text`); the rows a write decides on are locked (`FOR UPDATE`).
static SQL: LazyLock<Statements> = LazyLock::new(|| Statements {
    has_schema: "SELECT count(*) AS n FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name = 'deliveries'"
        .into(),
    // A transaction advisory lock (key "crieur" + 1) serializes syncs across instances.
    sync_lock: Some("SELECT pg_advisory_xact_lock(7165905841582899201)".into()),
    sync_read: format!(
        "SELECT id, state, content_hash, due_at, cancelled_by FROM deliveries
         WHERE state IN ('queued', 'retrying', 'failed') OR id IN ({IDS})"
    ),
    sync_insert: "INSERT INTO deliveries (id, post, channel, item, network, state, due_at, text,
            link, payload, media, content_hash, created_at, updated_at)
        SELECT u.id, u.post, u.channel, u.item, u.network, 'queued', u.due_at, u.text,
            u.link, u.payload, u.media, u.content_hash, $2, $2
        FROM jsonb_to_recordset($1::jsonb) AS u(id text, post text, channel text,
            item bigint, network text, due_at bigint, text text, link text,
            payload text, media text, content_hash text)
        ON CONFLICT (id) DO NOTHING"
        .into(),
    sync_update: format!(
        "UPDATE deliveries AS d SET network = u.network, due_at = u.due_at, text = u.text,
             link = u.link, payload = u.payload, media = u.media, content_hash = u.content_hash,
             updated_at = $2
         FROM {CONTENT_ROWS}
         WHERE d.id = u.id AND d.state IN ('queued', 'retrying', 'failed')"
    ),
    sync_revive: format!(
        "UPDATE deliveries AS d SET state = 'queued', network = u.network, due_at = u.due_at,
             text = u.text, link = u.link, payload = u.payload, media = u.media,
             content_hash = u.content_hash,
             error = NULL, cancelled_by = NULL, not_before = NULL, retries_from = d.attempt,
             updated_at = $2
         FROM {CONTENT_ROWS}
         WHERE d.id = u.id AND d.state = 'cancelled' AND d.cancelled_by = 'sync'"
    ),
    sync_cancel: format!(
        "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'sync', error = $3,
             not_before = NULL, updated_at = $2
         WHERE id IN ({IDS}) AND state IN ('queued', 'retrying', 'failed')"
    ),
    sync_read_posts: "SELECT id, state, content_hash, due_at, cancelled_by FROM deliveries
        WHERE post IN (SELECT jsonb_array_elements_text($1::jsonb))
           OR id IN (SELECT jsonb_array_elements_text($2::jsonb))"
        .into(),
    sync_move: "UPDATE deliveries AS d SET due_at = u.due_at, updated_at = $2
        FROM jsonb_to_recordset($1::jsonb) AS u(post text, channel text, due_at bigint)
        WHERE d.post = u.post AND d.channel = u.channel
          AND d.state IN ('queued', 'retrying', 'failed') AND d.due_at <> u.due_at"
        .into(),
    sync_drop: "UPDATE deliveries AS d SET state = 'cancelled', cancelled_by = 'sync', error = $3,
            not_before = NULL, updated_at = $2
        FROM jsonb_to_recordset($1::jsonb) AS u(post text, channel text)
        WHERE d.post = u.post AND d.channel = u.channel
          AND d.state IN ('queued', 'retrying', 'failed')"
        .into(),
    index_put: "INSERT INTO sync_files (path, hash, posts)
        SELECT u.path, u.hash, u.posts
        FROM jsonb_to_recordset($1::jsonb) AS u(path text, hash text, posts text)
        ON CONFLICT (path) DO UPDATE SET hash = excluded.hash, posts = excluded.posts"
        .into(),
    index_forget: format!("DELETE FROM sync_files WHERE path IN ({IDS})"),
    claim_send: claim(common::CLAIM_TO_SEND, common::CLAIMABLE_TO_SEND),
    claim_reconcile: claim(common::CLAIM_TO_RECONCILE, common::CLAIMABLE_TO_RECONCILE),
    reply_to: None,
    heartbeat: "UPDATE deliveries AS d SET lease_expires_at = $2
        FROM jsonb_to_recordset($1::jsonb) AS u(id text, attempt bigint)
        WHERE d.id = u.id AND d.attempt = u.attempt AND d.lease_owner = $3
          AND d.state IN ('publishing', 'reconciling')"
        .into(),
    // Locked in id order: two completers never deadlock.
    currents: format!(
        "SELECT id, network, state, attempt, retries_from, lease_owner, attempt_started_at,
                maybe_sent_since, first_unknown_at, error
         FROM deliveries WHERE id IN ({IDS}) ORDER BY id FOR UPDATE"
    ),
    apply: format!(
        "UPDATE deliveries AS d SET {set}
         FROM jsonb_to_recordset($1::jsonb) AS u(id text, attempt bigint, from_state text,
             state text, retries_from bigint, remote_id text, url text, published_at bigint,
             error text, not_before bigint, first_unknown_at bigint, maybe_sent_since bigint)
         WHERE d.id = u.id AND d.attempt = u.attempt AND d.state = u.from_state
           AND d.lease_owner = $3",
        set = common::APPLY_SET
    ),
    rescue_publishing: rescue(common::PUBLISHING_TO_UNKNOWN, common::LAPSED_PUBLISHING),
    rescue_reconciling: rescue(common::RECONCILING_TO_UNKNOWN, common::LAPSED_RECONCILING),
    resolve_read: "SELECT id, item, state FROM deliveries WHERE post = $1 AND channel = $2
        ORDER BY item FOR UPDATE"
        .into(),
    next_due: common::next_due("GREATEST"),
});

/// The ids of the JSON array `$1`, as a set.
const IDS: &str = "SELECT jsonb_array_elements_text($1::jsonb)";

/// The content columns of `sync`'s JSON rows `$1`, as the table `u`.
const CONTENT_ROWS: &str = "jsonb_to_recordset($1::jsonb) AS u(id text, network text,
    due_at bigint, text text, link text, payload text, media text, content_hash text)";

/// A claim: the `candidates` are chosen and locked in a materialized CTE (`SKIP LOCKED`: rows
/// another instance is claiming are passed over), then updated with `set` in the same
/// statement, which also returns the predecessor's remote id for thread items.
fn claim(set: &str, candidates: &str) -> String {
    format!(
        "WITH due AS MATERIALIZED ({candidates} FOR UPDATE OF d SKIP LOCKED)
         UPDATE deliveries AS d SET {set}
         FROM due WHERE d.id = due.id
         RETURNING d.id, d.post, d.channel, d.item, d.network, d.text, d.link, d.payload, d.media,
             d.attempt, d.due_at, d.attempt_started_at, d.maybe_sent_since, d.first_unknown_at,
             d.lease_expires_at,
             (SELECT p.remote_id FROM deliveries p
              WHERE p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1) AS reply_to"
    )
}

/// A rescue: the `lapsed` rows not locked by another transaction (their owner completing them
/// right now) are updated with `set`.
fn rescue(set: &str, lapsed: &str) -> String {
    format!(
        "UPDATE deliveries SET {set}
         WHERE id IN (SELECT id FROM deliveries WHERE {lapsed} FOR UPDATE SKIP LOCKED)"
    )
}

impl Dialect for PgDialect {
    type Db = sqlx::Postgres;
    const BACKEND: Backend = Backend::Postgres;
    const NAME: &'static str = "PgStore";
    /// Row locks, not the transaction, keep writers apart.
    const BEGIN_WRITE: &'static str = "BEGIN";

    fn sql() -> &'static Statements {
        &SQL
    }

    /// Every instance dispatches: `SKIP LOCKED`, leases and fences keep them apart.
    fn exclusive(&self) -> bool {
        true
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        f.field("url", &self.url);
    }
}
