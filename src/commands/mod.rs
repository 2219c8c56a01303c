//! One module per command. Shared here: the context every command gets, and loading the config
//! and the queue with errors that name `path:line:col`.

pub mod auth;
pub mod check;
pub mod completions;
pub mod doctor;
pub mod migrate;
pub mod new;
pub mod preview;
pub mod report;
pub mod resolve;
pub mod run;
pub mod schema;
pub mod status;
pub mod validate;

use std::path::PathBuf;

use anyhow::Context as _;
use crieur_config::Config;
use crieur_core::Post;
use crieur_daemon::plan::Known;

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
        Ok(crieur_config::load_config(&path)?)
    }

    /// Loads the config and every post file of its queue.
    ///
    /// # Errors
    /// As [`Context::load_config`], and for every invalid post file.
    pub fn load(&self) -> anyhow::Result<(Config, Vec<Post>)> {
        let config = self.load_config()?;
        let posts =
            crieur_config::load_posts(&config).context("the queue's post files are invalid")?;
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

/// What the database knows (`crieur_daemon::plan::known`), for commands without a runtime of
/// their own. An unreadable database is reported as a warning and treated as empty (`validate`
/// and `preview` need no database).
pub fn read_known(config: &Config, now: jiff::Timestamp) -> Known {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => return Known::default(),
    };
    rt.block_on(crieur_daemon::plan::known(config, now)).unwrap_or_else(|e| {
        eprintln!("warning: cannot read the database, assuming nothing was published: {e}");
        Known::default()
    })
}

/// RFC 3339 with the zone's offset (`2026-03-23T09:15:00+01:00`), as the JSON outputs write it.
pub fn rfc3339(at: &jiff::Zoned) -> String {
    crieur_daemon::plan::rfc3339(at)
}
