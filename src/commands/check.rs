//! `crieur check`: render one text for a network or channel and run the text rules on it.

use std::io::Read as _;

use anyhow::Context as _;
use clap::ValueEnum;
use crieur_core::Network;

use crate::Outcome;
use crate::commands::Context;

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// The JSON document of the CLI contract.
    Json,
}

/// `crieur check` arguments.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["channel", "network", "post"])))]
pub struct Args {
    /// A channel of the config (its network, policy and mentions apply).
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
    /// A network (x, linkedin, facebook, webhook); needs no config file.
    #[arg(long, value_name = "NET")]
    network: Option<Network>,
    /// A post of the queue, rendered for each of its channels (no TEXT then).
    #[arg(long, value_name = "ID", conflicts_with = "text")]
    post: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// The text, or `-` to read it from standard input.
    #[arg(required_unless_present = "post")]
    text: Option<String>,
}

/// Prints the rendered text, its length and the diagnostics; exit 1 if any is an error.
///
/// # Errors
/// When `--channel` names no channel, or a config that exists is invalid.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    if let Some(id) = &args.post {
        return post(ctx, id, args.format);
    }
    let text = args.text.unwrap_or_default();
    let text = if text == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the text from standard input")?;
        s
    } else {
        text
    };
    // With --network, a config is optional: used when one is found.
    let config = match (&args.channel, crieur_config::find_config(ctx.config.as_deref())) {
        (_, Ok(path)) => Some(crieur_config::load_config(&path)?),
        (Some(_), Err(e)) => return Err(e.into()),
        (None, Err(_)) if ctx.config.is_some() => {
            crieur_config::find_config(ctx.config.as_deref())?;
            None
        }
        (None, Err(_)) => None,
    };
    let (policy, mentions) = match &config {
        Some(c) => (c.policy.clone(), c.mentions.clone()),
        None => Default::default(),
    };
    let channel = match (&args.channel, &config) {
        (Some(name), Some(c)) => {
            Some(c.channels.get(name).map(|ch| ch.channel.clone()).with_context(|| {
                format!("--channel {name}: no such channel in {}", c.path.display())
            })?)
        }
        _ => None,
    };
    let network = channel.as_ref().map(|c| c.network).or(args.network).unwrap_or(Network::X);
    let result = crieur_policy::check_one(&text, network, channel.as_ref(), &policy, &mentions);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        Format::Text => print_text(&result, false),
    }
    Ok(if result.valid { Outcome::Success } else { Outcome::Problems })
}

/// The text, its length, the diagnostics (`placed`: with their `path:line:col`) and a verdict.
fn print_text(result: &crieur_policy::CheckResult, placed: bool) {
    println!("{}", result.text);
    match result.length.limit {
        Some(limit) => println!("length: {}/{limit}", result.length.used),
        None => println!("length: {}", result.length.used),
    }
    for d in &result.diagnostics {
        if placed {
            println!("{d}");
        } else {
            println!("{}[{}]: {}", d.severity, d.rule, d.message);
        }
    }
    println!("{}", if result.valid { "valid" } else { "invalid" });
}

/// `--post ID`: the post rendered for each of its channels. JSON: `{ "post": ID, "channels": [
/// { "channel": NAME, "text", "length", "valid", "diagnostics" } ] }`.
fn post(ctx: &Context, id: &str, format: Format) -> anyhow::Result<Outcome> {
    let (config, posts) = ctx.load()?;
    let checked = crieur_daemon::landing::check_post(&config, &posts, id)?;
    match format {
        Format::Json => {
            let channels: Vec<serde_json::Value> = checked
                .iter()
                .map(|(channel, r)| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    v["channel"] = serde_json::Value::from(channel.as_str());
                    v
                })
                .collect();
            println!("{:#}", serde_json::json!({ "post": id, "channels": channels }));
        }
        Format::Text => {
            for (channel, r) in &checked {
                println!("== {channel}");
                print_text(r, true);
            }
        }
    }
    Ok(if checked.iter().all(|(_, r)| r.valid) { Outcome::Success } else { Outcome::Problems })
}
