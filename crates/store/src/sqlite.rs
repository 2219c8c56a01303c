//! The SQLite backend: one file, one crieur instance. It holds the instance lock (`<db>.lock`)
//! for its whole life when opened read-write, writes in `BEGIN IMMEDIATE` transactions, and
//! passes rows as JSON arrays read with `json_each`.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};

use crate::error::{db, migrate};
use crate::machine::ms;
use crate::shell::{Dialect, SqlStore, Statements, common};
use crate::{Backend, OpenOptions, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The store on one SQLite file. Holds the instance lock (`<db>.lock`) for its whole life when
/// opened read-write, so no other crieur process writes the file meanwhile.
pub type SqliteStore = SqlStore<SqliteDialect>;

/// The SQLite side of a [`SqliteStore`]: the file and its instance lock.
pub struct SqliteDialect {
    path: PathBuf,
    /// The exclusive lock on `<db>.lock`, released when the store is dropped: while held, this
    /// store may claim and rescue.
    lock: Option<File>,
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
        let pool_opts = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.unwrap_or(4))
            // An idle daemon keeps one connection: the others (each with its own thread and
            // page cache) close after 10 s unused and open again in about a millisecond when a
            // burst needs them.
            .min_connections(1)
            .idle_timeout(Some(std::time::Duration::from_secs(10)))
            // A COMMIT refused for a full disk may be rolled back by SQLite itself; the driver
            // then still counts the connection as inside a transaction and refuses to begin
            // another on it, forever. Such a connection is closed instead of handed out, so
            // writes resume once the disk has room again.
            .before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            });
        if opts.read_only {
            if !path.exists() {
                return Err(StoreError::Missing { path: path.to_owned() });
            }
            let pool = pool_opts
                .connect_with(base.read_only(true))
                .await
                .map_err(db("opening the SQLite database read-only"))?;
            let dialect = SqliteDialect { path: path.to_owned(), lock: None };
            let store = SqlStore::new(pool, dialect, true, opts);
            store.require_schema(path.display().to_string()).await?;
            return Ok(store);
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
        let store = SqlStore::new(pool, SqliteDialect { path: path.to_owned(), lock }, false, opts);
        if !store.dialect.exclusive() {
            return Ok(store);
        }
        // We hold the only lock on the file: whatever is `publishing` belonged to a process that
        // is gone. It may have been sent, so it becomes `unknown` (reconciled, never resent
        // blindly).
        let now = ms(store.clock.now());
        let mut tx = store.begin().await?;
        let orphaned = SqliteStore::rescue(&mut tx, now, true).await?;
        tx.commit().await.map_err(db("committing the start-up rescue"))?;
        if orphaned > 0 {
            tracing::warn!(
                count = orphaned,
                "deliveries were being sent when crieur last stopped; they are now unknown and will be reconciled"
            );
        }
        Ok(store)
    }
}

/// The SQLite statements: rows in and out as JSON arrays through `json_each`; every write is
/// already serialized by `BEGIN IMMEDIATE`, so nothing is locked row by row.
static SQL: LazyLock<Statements> = LazyLock::new(|| Statements {
    has_schema:
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'"
            .into(),
    sync_lock: None,
    sync_read: "SELECT id, state, content_hash, due_at, cancelled_by FROM deliveries
        WHERE state IN ('queued', 'retrying', 'failed') OR id IN (SELECT value FROM json_each($1))"
        .into(),
    sync_insert: "INSERT INTO deliveries (id, post, channel, item, network, state, due_at, text,
            link, payload, media, content_hash, created_at, updated_at)
        SELECT value ->> 'id', value ->> 'post', value ->> 'channel', value ->> 'item',
            value ->> 'network', 'queued', value ->> 'due_at', value ->> 'text',
            value ->> 'link', value ->> 'payload', value ->> 'media', value ->> 'content_hash',
            $2, $2
        FROM json_each($1)"
        .into(),
    sync_update: format!(
        "UPDATE deliveries SET network = u.network, due_at = u.due_at, text = u.text,
             link = u.link, payload = u.payload, media = u.media, content_hash = u.content_hash,
             updated_at = $2
         FROM ({CONTENT_ROWS}) AS u
         WHERE deliveries.id = u.id AND deliveries.state IN ('queued', 'retrying', 'failed')"
    ),
    sync_revive: format!(
        "UPDATE deliveries SET state = 'queued', network = u.network, due_at = u.due_at,
             text = u.text, link = u.link, payload = u.payload, media = u.media,
             content_hash = u.content_hash,
             error = NULL, cancelled_by = NULL, not_before = NULL, retries_from = attempt,
             updated_at = $2
         FROM ({CONTENT_ROWS}) AS u
         WHERE deliveries.id = u.id AND deliveries.state = 'cancelled'
           AND deliveries.cancelled_by = 'sync'"
    ),
    sync_cancel:
        "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'sync', error = $3,
            not_before = NULL, updated_at = $2
        WHERE id IN (SELECT value FROM json_each($1)) AND state IN ('queued', 'retrying', 'failed')"
            .into(),
    sync_read_posts: "SELECT id, state, content_hash, due_at, cancelled_by FROM deliveries
        WHERE post IN (SELECT value FROM json_each($1))
           OR id IN (SELECT value FROM json_each($2))"
        .into(),
    sync_move: "UPDATE deliveries SET due_at = u.due_at, updated_at = $2
        FROM (SELECT value ->> 'post' AS post, value ->> 'channel' AS channel,
                     value ->> 'due_at' AS due_at FROM json_each($1)) AS u
        WHERE deliveries.post = u.post AND deliveries.channel = u.channel
          AND deliveries.state IN ('queued', 'retrying', 'failed')
          AND deliveries.due_at <> u.due_at"
        .into(),
    sync_drop: "UPDATE deliveries SET state = 'cancelled', cancelled_by = 'sync', error = $3,
            not_before = NULL, updated_at = $2
        FROM (SELECT value ->> 'post' AS post, value ->> 'channel' AS channel
              FROM json_each($1)) AS u
        WHERE deliveries.post = u.post AND deliveries.channel = u.channel
          AND deliveries.state IN ('queued', 'retrying', 'failed')"
        .into(),
    index_put: "INSERT INTO sync_files (path, hash, posts)
        SELECT value ->> 'path', value ->> 'hash', value ->> 'posts' FROM json_each($1) WHERE true
        ON CONFLICT (path) DO UPDATE SET hash = excluded.hash, posts = excluded.posts"
        .into(),
    index_forget: "DELETE FROM sync_files WHERE path IN (SELECT value FROM json_each($1))".into(),
    claim_send: claim(common::CLAIM_TO_SEND, common::CLAIMABLE_TO_SEND),
    claim_reconcile: claim(common::CLAIM_TO_RECONCILE, common::CLAIMABLE_TO_RECONCILE),
    // SQLite's RETURNING cannot read other rows: the predecessors' remote ids are read apart.
    reply_to: Some(
        "SELECT d.id AS id, p.remote_id AS remote_id FROM deliveries d
         JOIN deliveries p ON p.post = d.post AND p.channel = d.channel AND p.item = d.item - 1
         WHERE d.id IN (SELECT value FROM json_each($1))"
            .into(),
    ),
    heartbeat: "UPDATE deliveries SET lease_expires_at = $2
        FROM (SELECT value ->> 'id' AS id, value ->> 'attempt' AS attempt
              FROM json_each($1)) AS u
        WHERE deliveries.id = u.id AND deliveries.attempt = u.attempt
          AND deliveries.lease_owner = $3 AND deliveries.state IN ('publishing', 'reconciling')"
        .into(),
    currents: "SELECT id, network, state, attempt, retries_from, lease_owner,
               attempt_started_at, maybe_sent_since, first_unknown_at, error
        FROM deliveries WHERE id IN (SELECT value FROM json_each($1))"
        .into(),
    apply: format!(
        "UPDATE deliveries SET {set}
         FROM (SELECT value ->> 'id' AS id, value ->> 'attempt' AS attempt,
                      value ->> 'from_state' AS from_state, value ->> 'state' AS state,
                      value ->> 'retries_from' AS retries_from,
                      value ->> 'remote_id' AS remote_id, value ->> 'url' AS url,
                      value ->> 'published_at' AS published_at, value ->> 'error' AS error,
                      value ->> 'not_before' AS not_before,
                      value ->> 'first_unknown_at' AS first_unknown_at,
                      value ->> 'maybe_sent_since' AS maybe_sent_since
               FROM json_each($1)) AS u
         WHERE deliveries.id = u.id AND deliveries.attempt = u.attempt
           AND deliveries.state = u.from_state AND deliveries.lease_owner = $3",
        set = common::APPLY_SET
    ),
    rescue_publishing: rescue(common::PUBLISHING_TO_UNKNOWN, common::LAPSED_PUBLISHING),
    rescue_reconciling: rescue(common::RECONCILING_TO_UNKNOWN, common::LAPSED_RECONCILING),
    resolve_read: "SELECT id, item, state FROM deliveries WHERE post = $1 AND channel = $2
        ORDER BY item"
        .into(),
    next_due: common::next_due("MAX"),
});

/// The content columns of `sync`'s JSON rows `$1`, as a table.
const CONTENT_ROWS: &str = "SELECT value ->> 'id' AS id, value ->> 'network' AS network,
        value ->> 'due_at' AS due_at, value ->> 'text' AS text, value ->> 'link' AS link,
        value ->> 'payload' AS payload, value ->> 'media' AS media,
        value ->> 'content_hash' AS content_hash
    FROM json_each($1)";

/// A claim: the `candidates` (ids) are updated with `set` in one statement that returns them.
fn claim(set: &str, candidates: &str) -> String {
    format!(
        "UPDATE deliveries SET {set} WHERE id IN ({candidates})
         RETURNING id, post, channel, item, network, text, link, payload, media, attempt, due_at,
             attempt_started_at, maybe_sent_since, first_unknown_at, lease_expires_at"
    )
}

/// A rescue: the `lapsed` rows are updated with `set`.
fn rescue(set: &str, lapsed: &str) -> String {
    format!("UPDATE deliveries SET {set} WHERE {lapsed}")
}

impl Dialect for SqliteDialect {
    type Db = sqlx::Sqlite;
    const BACKEND: Backend = Backend::Sqlite;
    const NAME: &'static str = "SqliteStore";
    /// Takes the write lock now, so no transaction fails half-way on a lock upgrade.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    fn sql() -> &'static Statements {
        &SQL
    }

    /// Claims and rescues belong to the holder of the instance lock alone.
    fn exclusive(&self) -> bool {
        self.lock.is_some()
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn describe(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        f.field("path", &self.path).field("exclusive", &self.exclusive());
    }
}
