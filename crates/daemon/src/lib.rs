//! crieur's daemon: everything between the parsed files and the dispatch loop.
//!
//! Data flows one way: the post files and the config (`crieur-config`) become deliveries
//! ([`sync`]), judged by `crieur-policy` and laid on each channel's cadence by
//! `crieur-scheduler`; the store (`crieur-store`) holds them; `crieur-scheduler`'s dispatcher
//! hands each one to its channel's `Publisher` (`crieur-core`'s trait) when it is due.
//!
//! - [`plan`] is the queue laid on the calendar, rendered and judged: `preview`, `validate` and
//!   the daemon's sync all go through it, so what the preview shows is what the daemon sends.
//! - [`sync`] turns the post files into the deliveries the store should hold, given what the
//!   store already knows (its history), and makes the store match ([`sync::Syncer`]).
//! - [`supervisor`] runs the daemon: it opens the store, syncs, starts the dispatcher, re-syncs
//!   when a post file changes ([`watch`]) and every hour, reloads on SIGHUP (keeping the old
//!   config when the new one is invalid), and stops on SIGTERM. Housekeeping runs on
//!   tokio-cron-scheduler and never decides when a post goes out.
//! - [`doctor`] checks that the daemon can do its work (`crieur doctor`).
//! - [`http`] serves `[http] listen`: `/healthz`, Prometheus `/metrics`, and the live calendar
//!   (`/calendar.ics`, `/`) of [`preview::live`], read-only.
//! - [`metrics`] takes engagement snapshots in a lane of its own, which the dispatcher never
//!   waits for.
//! - [`media`] reads each media file once for the plan (the policy judges its bytes) and gives
//!   each delivery its media list; the dispatcher reads the files again when it sends.
//! - [`monitor`] tells systemd how the daemon is doing (READY=1, WATCHDOG=1, STATUS=).
//! - [`health`] remembers whether the files on disk are the ones the daemon runs on: a reload
//!   that finds an invalid config or post file changes nothing and says so in STATUS=.
//!
//! The crate knows no concrete network: the caller supplies the publishers through
//! [`supervisor::Adapters`], so the daemon depends only on the adapters' trait.

pub mod doctor;
pub mod findings;
pub mod health;
pub mod http;
pub mod landing;
pub mod media;
pub mod metrics;
pub mod monitor;
pub mod plan;
pub mod preview;
pub mod server_limits;
pub mod supervisor;
pub mod sync;
#[cfg(test)]
mod sync_props;
pub mod watch;

#[cfg(test)]
mod testing;

pub use supervisor::{Adapters, Ended, LimitsFuture, RunOptions, TokenWarning, run};

/// Any error, boxed: what an [`Adapters`] implementation returns when a publisher cannot be built.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the daemon (or a sync, or a plan) stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config or a post file is invalid: every problem, one per line.
    #[error(transparent)]
    Files(#[from] crieur_config::Errors),
    /// A channel's cadence cannot be laid.
    #[error(transparent)]
    Slots(#[from] crieur_scheduler::SlotError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crieur_store::StoreError),
    /// The dispatch loop stopped on an error it cannot ride out.
    #[error(transparent)]
    Dispatch(#[from] crieur_scheduler::dispatch::DispatchError),
    /// The store could not be opened (or another instance holds its SQLite file).
    #[error("opening {url}")]
    Open {
        /// The store's URL, password masked.
        url: String,
        /// Why.
        #[source]
        source: crieur_store::StoreError,
    },
    /// The `[storage] key` secret could not be read.
    #[error("[storage] key")]
    StorageKey(#[source] crieur_config::SecretError),
    /// A channel's publisher could not be built.
    #[error(transparent)]
    Adapters(AdapterError),
    /// The HTTP endpoint could not start.
    #[error(transparent)]
    Http(#[from] http::HttpError),
    /// A date has no start of day in the config's zone.
    #[error("no start of day {date}")]
    StartOfDay {
        /// The date.
        date: jiff::civil::Date,
        /// Why.
        #[source]
        source: jiff::Error,
    },
    /// Date arithmetic went out of range.
    #[error(transparent)]
    Time(#[from] jiff::Error),
    /// No post of the queue has this id.
    #[error("no post has the id `{0}`")]
    UnknownPost(String),
    /// The process's signal handlers could not be installed.
    #[error("cannot listen for signals")]
    Signals(#[source] std::io::Error),
}

/// An [`Adapters`] error, shown as the error it wraps (its message, then its causes).
#[derive(Debug)]
pub struct AdapterError(pub BoxError);

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AdapterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
