//! `crieur run`: the daemon (`crieur_daemon::supervisor`), wired to this binary's adapters.

use std::sync::Arc;

use crieur_core::{OffsetClock, SystemClock};
use crieur_daemon::{Ended, RunOptions};

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
    Ok(match rt.block_on(crieur_daemon::run(options, Arc::new(crate::adapters::Wired)))? {
        Ended::Clean => Outcome::Success,
        Ended::NotAllPublished => Outcome::Problems,
    })
}
