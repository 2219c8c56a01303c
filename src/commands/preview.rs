//! `crieur preview`: the dry-run calendar of the coming week. Sends nothing, writes nothing.

use crate::Outcome;
use crate::commands::Context;
use clap::ValueEnum;
use crieur_daemon::{plan, preview};

/// Output format of `preview`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for a 100-column terminal.
    Table,
    /// The JSON document of the CLI contract.
    Json,
    /// One self-contained HTML page.
    Html,
    /// An iCalendar file.
    Ics,
}

/// `crieur preview` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First day (YYYY-MM-DD, in the config's zone); default: the next Monday.
    #[arg(long, value_name = "DATE")]
    from: Option<jiff::civil::Date>,
    /// Number of days.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=366))]
    days: u16,
    /// Only these channels (repeat the option for several).
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Prints the calendar of the window.
///
/// # Errors
/// When the config or a post file is invalid, or a `--channel` is unknown.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let (config, posts) = ctx.load()?;
    for c in &args.channels {
        if !config.channels.contains_key(c) {
            let known: Vec<&str> = config.channels.keys().map(String::as_str).collect();
            anyhow::bail!("--channel {c}: no such channel; the config has {}", known.join(", "));
        }
    }
    let now = ctx.now();
    let from = match args.from {
        Some(date) => plan::start_of(&config, date)?,
        None => plan::next_monday(&config, now)?,
    };
    let to = plan::start_of(&config, from.date().checked_add(jiff::Span::new().days(args.days))?)?;
    let known = crate::commands::read_known(&config, now);
    let assessed =
        plan::assess(&config, &posts, &known, from.timestamp(), to.timestamp(), now, false)?;

    let preview = preview::build(&config, &posts, &assessed, &from, &to, &args.channels);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&preview)?),
        Format::Table => print!("{}", preview::table::render(&preview)),
        Format::Html => print!("{}", preview::html::render(&preview)),
        Format::Ics => print!("{}", preview::ics::render(&preview, now)),
    }
    Ok(Outcome::Success)
}
