//! `crieur auth CHANNEL`: run the network's OAuth flow and store the tokens, encrypted.

use crate::Outcome;
use crate::commands::Context;

/// `crieur auth` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The channel to authorize.
    channel: String,
    /// The loopback port of the redirect URI (`http://127.0.0.1:PORT/callback`), as registered
    /// with the network's app.
    #[arg(long, default_value_t = 8749)]
    port: u16,
}

/// Runs the flow for the channel's network.
///
/// # Errors
/// When the channel is unknown, the store has no key, or the flow fails.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let config = ctx.load_config()?;
    let channel = config.channels.get(&args.channel).ok_or_else(|| {
        anyhow::anyhow!("no channel {:?} in {}", args.channel, config.path.display())
    })?;
    anyhow::bail!(
        "`crieur auth` for {} channels is not available in this build",
        channel.channel.network
    )
}
