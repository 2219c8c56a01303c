//! One module per command. Shared here: the context every command gets, and loading the config
//! and the queue with errors that name `path:line:col`.

pub mod auth;
pub mod check;
pub mod migrate;
pub mod preview;
pub mod resolve;
pub mod run;
pub mod status;
pub mod validate;

use std::path::PathBuf;

use anyhow::Context as _;
use crieur_config::Config;
use crieur_core::Post;

/// What every command receives from the global options.
#[derive(Debug, Clone)]
pub struct Context {
    /// `--config PATH`.
    pub config: Option<PathBuf>,
    /// `--now`: a fixed current time, for reproducible output.
    pub now: Option<jiff::Timestamp>,
}

impl Context {
    /// The current time: `--now` when given, else the system clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.now.unwrap_or_else(jiff::Timestamp::now)
    }

    /// Finds and loads the config file.
    ///
    /// # Errors
    /// When no config file is found, or it is invalid: every problem, one per line, each with its
    /// `path:line:col`.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let path = crieur_config::find_config(self.config.as_deref())?;
        crieur_config::load_config(&path).map_err(|errors| anyhow::anyhow!("{errors}"))
    }

    /// Loads the config and every post file of its queue.
    ///
    /// # Errors
    /// As [`Context::load_config`], and for every invalid post file.
    pub fn load(&self) -> anyhow::Result<(Config, Vec<Post>)> {
        let config = self.load_config()?;
        let posts = crieur_config::load_posts(&config)
            .map_err(|errors| anyhow::anyhow!("{errors}"))
            .context("the queue's post files are invalid")?;
        Ok((config, posts))
    }
}

/// A tokio runtime for commands that talk to the database or the network.
///
/// # Errors
/// When the runtime cannot start (no threads left).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// RFC 3339 with the zone's offset (`2026-03-23T09:15:00+01:00`), as the JSON outputs write it.
pub fn rfc3339(at: &jiff::Zoned) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}
