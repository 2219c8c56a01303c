//! `crieur doctor`: whether the daemon can do its work (the checks live in
//! `crieur_daemon::doctor`), one line per check, or JSON.

use std::sync::Arc;
use std::time::Duration;

use crieur_daemon::doctor::{self, Options, Status};

use crate::Outcome;
use crate::commands::Context;

/// `crieur doctor` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::commands::status::Format,
    /// The longest each check may take, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

/// Prints every check; exit 1 if any failed.
///
/// # Errors
/// When no config file can be found or the runtime cannot start.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let path = crieur_config::find_config(ctx.config.as_deref())?;
    let options = Options {
        now: ctx.now(),
        timeout: Duration::from_secs(args.timeout),
        clock: Arc::new(crieur_core::SystemClock),
    };
    let rt = crate::commands::runtime()?;
    let checks = rt.block_on(doctor::doctor(&path, Arc::new(super::run::Wired), options));
    match args.format {
        crate::commands::status::Format::Json => println!("{}", doctor::json(&checks)),
        crate::commands::status::Format::Table => print!("{}", doctor::table(&checks)),
    }
    Ok(if checks.iter().any(|c| c.status == Status::Fail) {
        Outcome::Problems
    } else {
        Outcome::Success
    })
}
