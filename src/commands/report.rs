//! `crieur report`: what went out against the plan, and how it did. Reads the database and the
//! files; sends nothing. The numbers come from `crieur_report`.

use std::sync::Arc;

use clap::ValueEnum;
use crieur_store::OpenOptions;

use crate::Outcome;
use crate::commands::Context;

/// Output format of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for a 100-column terminal.
    Table,
    /// The JSON document of the CLI contract.
    Json,
    /// One row per (post, channel).
    Csv,
    /// One self-contained HTML page with SVG charts.
    Html,
}

/// `crieur report` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First day (YYYY-MM-DD, in the config's zone); default: 28 days before `--to` or now.
    #[arg(long, value_name = "DATE")]
    from: Option<jiff::civil::Date>,
    /// The day after the last one (exclusive); default: now.
    #[arg(long, value_name = "DATE", conflicts_with = "weeks")]
    to: Option<jiff::civil::Date>,
    /// Number of weeks, from `--from` (else back from now).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=520))]
    weeks: Option<u32>,
    /// Only these channels (repeat the option for several).
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// First read the engagement figures that are due from the networks, as the daemon does.
    #[arg(long)]
    refresh: bool,
}

/// Prints the report of the window.
///
/// # Errors
/// When the config or a post file is invalid, the database cannot be read, the window is empty or
/// a `--channel` is unknown.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let (config, posts) = ctx.load()?;
    let now = ctx.now();
    let window = crieur_report::Window::new(&config.timezone, args.from, args.to, args.weeks, now)?;
    let rt = crate::commands::runtime()?;
    if args.refresh {
        rt.block_on(refresh(&config, now))?;
    }
    let (deliveries, metrics) = rt.block_on(async {
        let store = crieur_store::open(&config.storage.url, OpenOptions::read_only()).await?;
        let read = crieur_report::read(&*store).await;
        store.close().await;
        anyhow::Ok(read?)
    })?;
    let report = crieur_report::build(&crieur_report::Input {
        config: &config,
        posts: &posts,
        deliveries: &deliveries,
        metrics: &metrics,
        window: &window,
        channels: &args.channels,
        now,
    })?;
    match args.format {
        Format::Table => print!("{}", crieur_report::table(&report)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => print!("{}", crieur_report::csv(&report)?),
        Format::Html => print!("{}", crieur_report::html(&report)),
    }
    Ok(Outcome::Success)
}

/// Takes the snapshots that are due now, with the channels' own readers (the daemon's lane, once).
async fn refresh(config: &crieur_config::Config, now: jiff::Timestamp) -> anyhow::Result<()> {
    let mut opts = OpenOptions::for_command();
    if let Some(key) = crieur_daemon::supervisor::storage_key(config)? {
        opts = opts.with_key(key);
    }
    let store = crieur_store::open(&config.storage.url, opts).await?;
    let clock: Arc<dyn crieur_core::Clock> = Arc::new(crieur_core::OffsetClock::starting_at(now));
    let vault: Arc<dyn crieur_core::TokenVault> = store.clone();
    let ledger: Arc<dyn crieur_core::MediaLedger> = store.clone();
    let publishers = crieur_adapters::publishers(config, Some(vault), Some(ledger), clock.clone())?;
    let lane = crieur_daemon::metrics::MetricsLane::new(store.clone(), config, &publishers, clock);
    let done = lane.sweep().await;
    let (n, reads, failed) = (done.snapshots, done.reads, done.failed);
    eprintln!("refreshed: {n} snapshots in {reads} reads ({failed} posts to try again later)");
    store.close().await;
    Ok(())
}
