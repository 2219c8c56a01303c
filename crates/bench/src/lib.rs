//! crieur's benchmarks and load tool.
//!
//! The pieces the `crieur-bench` binary and the `validate` bench share:
//! - [`project`] writes projects (a `crieur.toml` and post files) to a folder: webhook channels
//!   pointing at the loopback receiver with posts at fixed instants, or a mixed 10-channel queue
//!   with the example's policy for `validate`;
//! - [`receiver`] is a multi-threaded hyper server on 127.0.0.1 that checks each request's
//!   Standard Webhooks signature, answers 200 and records the arrival instant of each
//!   `webhook-id`;
//! - [`daemon`] starts the real `crieur run` with a `NOTIFY_SOCKET` of its own (READY=1 is
//!   timestamped) and reads its memory and CPU time from `/proc`;
//! - [`db`] creates and drops scratch PostgreSQL databases and counts published deliveries;
//! - [`scrape`] turns the daemon's `[http]` endpoint on and scrapes its `/metrics` every second;
//! - [`stats`] turns arrivals into latencies, duplicates and medians with their spread.
//!
//! Everything talks to loopback addresses only, and every wait is bounded in time.

pub mod daemon;
pub mod db;
pub mod project;
pub mod receiver;
pub mod scrape;
pub mod stats;

use std::path::PathBuf;

/// What can go wrong while setting up or measuring a run. Messages name the file, process or
/// database concerned; none holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or socket operation failed.
    #[error("{what} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or socket.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A process could not be started, signalled or waited for.
    #[error("{what}: {source}")]
    Process {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A database statement failed.
    #[error("database: {what}: {source}")]
    Database {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: sqlx::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {secs:.1} s: {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long was waited.
        secs: f64,
    },
    /// A value that cannot be used (bad argument, unexpected output).
    #[error("{0}")]
    Invalid(String),
}

impl BenchError {
    fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BenchError::Io { what, path, source }
    }
}
