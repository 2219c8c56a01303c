//! Logging: tracing to journald when running under systemd, else to stderr. `RUST_LOG` filters
//! (tracing's `EnvFilter` syntax, default `info`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber. Under systemd (`JOURNAL_STREAM` set and the journal reachable)
/// logs go to journald with structured fields; otherwise human-readable lines go to stderr.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        let _ = tracing_subscriber::registry().with(filter).with(journald).try_init();
        return;
    }
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
