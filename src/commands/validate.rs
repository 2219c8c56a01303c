//! `crieur validate`: every config and post-file error, and every policy rule over the coming
//! weeks. Meant for the CI of the repository that holds the posts.

use crieur_core::Severity;

use crate::Outcome;
use crate::commands::Context;
use crieur_daemon::plan;

/// `crieur validate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many weeks ahead to lay and check.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=104))]
    weeks: u16,
}

/// Prints one line per diagnostic and a summary; exit 1 if any is an error.
///
/// # Errors
/// When the config or a post file is invalid (exit 2, every problem with its place).
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let (config, posts) = ctx.load()?;
    let now = ctx.now();
    let to = now + jiff::SignedDuration::from_hours(24 * 7 * i64::from(args.weeks));
    let known = crate::commands::read_known(&config, now);
    let assessed = plan::assess(&config, &posts, &known, now, to, now, true)?;
    let all = assessed.diagnostics(&config);
    for d in &all {
        println!("{d}");
    }
    let errors = all.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = all.iter().filter(|d| d.severity == Severity::Warning).count();
    println!(
        "{} posts on {} channels checked over {} weeks: {errors} errors, {warnings} warnings",
        posts.len(),
        config.channels.len(),
        args.weeks
    );
    Ok(if errors > 0 { Outcome::Problems } else { Outcome::Success })
}
