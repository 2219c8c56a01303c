//! `crieur preview`: the dry-run calendar of the coming week. Sends nothing, writes nothing.

use clap::ValueEnum;
use crieur_core::Diagnostic;

use crate::Outcome;
use crate::commands::{Context, rfc3339};
use crate::output::{self, Diag, Entry, Length, Preview};
use crieur_daemon::plan;

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

    let wanted =
        |channel: &str| args.channels.is_empty() || args.channels.iter().any(|c| c == channel);
    let mut entries = Vec::new();
    for e in assessed.calendar.entries.iter().filter(|e| wanted(&e.channel)) {
        let mut entry = Entry {
            at: rfc3339(&e.at),
            channel: e.channel.clone(),
            network: e.network.to_string(),
            post: None,
            text: None,
            length: None,
            media: Vec::new(),
            diagnostics: Vec::new(),
            thread: Vec::new(),
            link: None,
            fixed: e.fixed,
            source: None,
        };
        if let Some(i) = e.post {
            let post = &posts[i];
            let key = (i, e.channel.clone());
            entry.post = Some(post.id.clone());
            entry.source = Some(post.location.to_string());
            if let Some(ch) = config.channels.get(&e.channel) {
                entry.media =
                    crieur_daemon::media::views(&config, &assessed.media, post, &ch.channel);
            }
            if let Some(r) = assessed.rendered.get(&key) {
                entry.text = Some(r.text.clone());
                entry.length = Some(Length {
                    used: u64::from(r.length.used),
                    limit: r.length.limit.map(u64::from),
                });
                if matches!(
                    e.network,
                    crieur_core::Network::X
                        | crieur_core::Network::Mastodon
                        | crieur_core::Network::Bluesky
                ) {
                    entry.thread = r.thread.clone();
                }
                // The link travels apart from the text on Facebook, webhooks and Bluesky (its
                // card).
                if matches!(
                    e.network,
                    crieur_core::Network::Facebook
                        | crieur_core::Network::Webhook
                        | crieur_core::Network::Bluesky
                ) {
                    entry.link = r.link.clone();
                }
            }
            let mut diags: Vec<&Diagnostic> =
                assessed.text.get(&key).into_iter().flatten().collect();
            diags.extend(assessed.calendar_rules.iter().filter(|d| {
                d.post.as_deref() == Some(post.id.as_str())
                    && d.channel.as_deref() == Some(e.channel.as_str())
            }));
            entry.diagnostics = diags.into_iter().map(diag).collect();
        }
        entries.push(entry);
    }
    let window = assessed
        .calendar_rules
        .iter()
        .filter(|d| d.post.is_none())
        .filter(|d| d.channel.as_deref().is_none_or(wanted))
        .map(diag)
        .collect();
    let preview = Preview {
        from: rfc3339(&from),
        to: rfc3339(&to),
        entries,
        diagnostics: window,
        zone: config.timezone.clone(),
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&preview)?),
        Format::Table => print!("{}", output::table::render(&preview)),
        Format::Html => print!("{}", output::html::render(&preview)),
        Format::Ics => print!("{}", output::ics::render(&preview, now)),
    }
    Ok(Outcome::Success)
}

fn diag(d: &Diagnostic) -> Diag {
    Diag {
        rule: d.rule.clone(),
        severity: d.severity.to_string(),
        message: d.message.clone(),
        post: None,
        channel: if d.post.is_none() { d.channel.clone() } else { None },
        location: d.location.as_ref().map(ToString::to_string),
    }
}
