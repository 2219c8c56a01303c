//! crieur's durable store: what is due, who is sending it, what happened, and the channels'
//! tokens, on SQLite (one instance) or PostgreSQL (several instances) behind one [`Store`] trait
//! (the contract and its values live in `crieur_core::store` and are re-exported here).
//!
//! Design:
//! - Each (post, channel, thread item) is one row of `deliveries`, keyed by its stable id. Its
//!   state follows the spec's machine: `queued -> publishing -> published | retrying | failed |
//!   unknown`, plus `cancelled`; `reconciling` is an `unknown` row leased to an instance that is
//!   asking the network, and shows as `unknown`.
//! - The intent is committed before any request ([`Store::claim_due`] returns only after the
//!   commit); every outcome is fenced by lease owner and attempt number, so a process that lost its
//!   lease changes nothing ([`Applied::Fenced`]). A lapsed lease never leads to a blind resend: the
//!   row becomes `unknown` and is reconciled.
//! - Claims, completions, heartbeats and syncs are batched: one transaction and a constant number
//!   of statements per batch (rows travel as one JSON array), which is what makes thousands of
//!   durable deliveries per second possible even with `synchronous=FULL`.
//! - SQLite: WAL, `synchronous=FULL`, writes in `BEGIN IMMEDIATE`, one instance per file (an
//!   exclusive lock on `<db>.lock`), so at start every `publishing` row is known to be orphaned.
//!   PostgreSQL: `FOR UPDATE SKIP LOCKED` in a materialized CTE, leases with expiry.
//! - Instants are UTC Unix milliseconds in both schemas. Decisions (sync plan, outcome -> state,
//!   backoff) live in one place, the state machine (`machine`), the same for both backends.
//! - One transaction shell ([`SqlStore`]) runs every method for both backends: check, begin,
//!   read the current rows, decide, apply fenced, commit. A backend is a dialect: its SQL where
//!   it differs, how it begins a write transaction, and whether it may dispatch
//!   ([`SqliteStore`], [`PgStore`]).
//! - Tokens are sealed with ChaCha20-Poly1305 (key from [`OpenOptions::key`]); see [`TokenVault`].

mod engagement;
mod error;
mod limits;
mod machine;
mod options;
mod postgres;
mod rows;
mod seal;
mod shell;
mod sqlite;

#[cfg(test)]
mod conformance;

use std::sync::Arc;

#[cfg(doc)]
use crieur_core::TokenVault;

pub use crieur_core::store::{
    Applied, Backend, ChannelStatus, Claimed, Completion, DeliveryMedia, DesiredDelivery, DueMove,
    FileIndex, FileSync, HistoryEntry, IndexedFile, Lease, Placed, QueueSummary, Resolve, Resolved,
    RetryPolicy, State, StatusReport, StatusRow, Store, StoreError, SyncReport,
};
pub use options::{Key, OpenOptions, mask_url};
pub use postgres::{PgDialect, PgStore};
pub use shell::SqlStore;
pub use sqlite::{SqliteDialect, SqliteStore};

use options::Target;

/// A lease owner unique to this process: host name (from `uname`, so it reads the same inside a
/// sandbox that hides `/proc/sys`), pid and a random suffix.
pub fn new_owner() -> String {
    let name = rustix::system::uname();
    let host = name.nodename().to_string_lossy();
    let host = Some(host.trim()).filter(|h| !h.is_empty()).unwrap_or("host");
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// Opens the store at `url`: `sqlite://PATH` or `sqlite:PATH` (created if missing), or
/// `postgres://...` / `postgresql://...`.
///
/// Read-write (the default) applies the migrations unless `opts.migrate` is false; on SQLite it
/// also creates the file's folder if needed, takes the instance lock `<db>.lock` for the store's
/// lifetime and moves every `publishing` delivery left by a previous run to `unknown` (its
/// process is gone). [`OpenOptions::for_command`] skips the lock and the rescue (for `resolve`
/// and `auth` beside a running daemon). Read-only ([`OpenOptions::read_only`]) writes nothing.
///
/// # Errors
/// [`StoreError::BadUrl`]; [`StoreError::Locked`] when another instance holds the SQLite file;
/// [`StoreError::Missing`] for a read-only open of a missing file; [`StoreError::NoSchema`] for a
/// read-only open of a database never migrated; [`StoreError::Io`] for the lock file;
/// [`StoreError::Database`] when the database cannot be reached; [`StoreError::Migrate`].
pub async fn open(url: &str, opts: OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    match Target::parse(url)? {
        Target::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path, opts).await?)),
        Target::Postgres(url) => Ok(Arc::new(PgStore::open(&url, opts).await?)),
    }
}

/// Applies the migrations of the database at `url` and closes it (`crieur migrate`). On SQLite
/// this takes the instance lock, so it refuses while a daemon runs on the file.
///
/// # Errors
/// As [`open`].
pub async fn migrate(url: &str) -> Result<(), StoreError> {
    let store =
        open(url, OpenOptions { migrate: true, read_only: false, ..OpenOptions::default() })
            .await?;
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn owners_are_unique_per_call_and_name_the_process() {
        let (a, b) = (super::new_owner(), super::new_owner());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())), "{a}");
    }

    #[test]
    fn owners_start_with_the_host_name_uname_gives() {
        let host = rustix::system::uname().nodename().to_string_lossy().trim().to_owned();
        assert!(!host.is_empty(), "this machine has a host name");
        assert!(super::new_owner().starts_with(&format!("{host}:")));
    }
}
