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
#[command(group(clap::ArgGroup::new("target").required(true).args(["channel", "network"])))]
pub struct Args {
    /// A channel of the config (its network, policy and mentions apply).
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
    /// A network (x, linkedin, facebook, webhook); needs no config file.
    #[arg(long, value_name = "NET")]
    network: Option<Network>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// The text, or `-` to read it from standard input.
    text: String,
}

/// Prints the rendered text, its length and the diagnostics; exit 1 if any is an error.
///
/// # Errors
/// When `--channel` names no channel, or a config that exists is invalid.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let text = if args.text == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the text from standard input")?;
        s
    } else {
        args.text
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
        Format::Text => {
            println!("{}", result.text);
            match result.length.limit {
                Some(limit) => println!("length: {}/{limit}", result.length.used),
                None => println!("length: {}", result.length.used),
            }
            for d in &result.diagnostics {
                println!("{}[{}]: {}", d.severity, d.rule, d.message);
            }
            println!("{}", if result.valid { "valid" } else { "invalid" });
        }
    }
    Ok(if result.valid { Outcome::Success } else { Outcome::Problems })
}
