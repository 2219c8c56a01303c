//! `crieur run`: the daemon (`crieur_daemon::supervisor`), wired to this binary's adapters.

use std::sync::Arc;

use std::collections::HashMap;

use crieur_config::Config;
use crieur_core::{Clock, MediaLedger, Network, OffsetClock, Publisher, SystemClock, TokenVault};
use crieur_daemon::{BoxError, Ended, RunOptions, TokenWarning};

use crate::Outcome;
use crate::commands::Context;

/// `crieur run` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Publish everything that is due now, wait for it to settle, and exit (0 if all published).
    #[arg(long)]
    once: bool,
    /// Log every request that would be sent; send none and change no state.
    #[arg(long)]
    dry_run: bool,
}

/// Runs the daemon until SIGTERM (or, with `--once`, until what is due has settled).
///
/// # Errors
/// When the config is invalid, the store cannot be opened (or another instance holds the SQLite
/// file), or a channel's adapter cannot be built.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    crate::logging::init();
    let result = daemon(ctx, &args);
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    result
}

fn daemon(ctx: &Context, args: &Args) -> anyhow::Result<Outcome> {
    let rt = crate::commands::runtime()?;
    let options = RunOptions {
        config_path: crieur_config::find_config(ctx.config.as_deref())?,
        clock: match ctx.now {
            Some(start) => Arc::new(OffsetClock::starting_at(start)),
            None => Arc::new(SystemClock),
        },
        once: args.once,
        dry_run: args.dry_run,
    };
    Ok(match rt.block_on(crieur_daemon::run(options, Arc::new(Wired)))? {
        Ended::Clean => Outcome::Success,
        Ended::NotAllPublished => Outcome::Problems,
    })
}

/// The daemon's view of the adapters (`crieur-adapters`).
pub(crate) struct Wired;

impl crieur_daemon::Adapters for Wired {
    fn publishers(
        &self,
        config: &Config,
        vault: Arc<dyn TokenVault>,
        ledger: Arc<dyn MediaLedger>,
        clock: Arc<dyn Clock>,
    ) -> Result<HashMap<String, Arc<dyn Publisher>>, BoxError> {
        Ok(crieur_adapters::publishers(config, Some(vault), Some(ledger), clock)?)
    }

    fn token_warning(
        &self,
        network: Network,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Option<TokenWarning> {
        let w = crieur_adapters::token_warning(network, expires_at, now)?;
        Some(TokenWarning { threshold_days: w.threshold_days, message: w.to_string() })
    }

    fn server_limits<'a>(&'a self, config: &'a Config) -> crieur_daemon::LimitsFuture<'a> {
        Box::pin(async move {
            let read = crieur_adapters::server_limits(config, jiff::Timestamp::now()).await;
            read.into_iter().map(|(c, r)| (c, r.map_err(BoxError::from))).collect()
        })
    }
}
