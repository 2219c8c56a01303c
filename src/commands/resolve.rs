//! `crieur resolve`: a person settles a delivery whose outcome is unknown, or that failed.

use crieur_store::{OpenOptions, Resolve};

use crate::Outcome;
use crate::commands::Context;

/// `crieur resolve` arguments.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["published", "retry", "cancel"])))]
pub struct Args {
    /// The post id.
    post: String,
    /// The channel name.
    channel: String,
    /// It is on the network at this URL: record it as published.
    #[arg(long, value_name = "URL")]
    published: Option<String>,
    /// It is not on the network: send it again, with a fresh retry budget.
    #[arg(long)]
    retry: bool,
    /// Do not send it (the rest of its thread is cancelled too).
    #[arg(long)]
    cancel: bool,
}

/// Settles the delivery of (post, channel).
///
/// # Errors
/// When the database cannot be opened, the delivery does not exist, or it is neither unknown nor
/// failed.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let config = ctx.load_config()?;
    let action = if let Some(url) = args.published {
        Resolve::Published { remote_id: remote_id_of(&url), url }
    } else if args.retry {
        Resolve::Retry
    } else {
        Resolve::Cancel
    };
    let now = ctx.now();
    let rt = crate::commands::runtime()?;
    let resolved = rt.block_on(async {
        let store = crieur_store::open(&config.storage.url, OpenOptions::for_command()).await?;
        let r = store.resolve(&args.post, &args.channel, &action, now).await;
        store.close().await;
        anyhow::Ok(r?)
    })?;
    eprintln!(
        "{} on {} (item {}): {} -> {}{}",
        args.post,
        args.channel,
        resolved.item,
        resolved.from,
        resolved.to,
        if resolved.also_cancelled > 0 {
            format!(", {} later thread items cancelled", resolved.also_cancelled)
        } else {
            String::new()
        }
    );
    Ok(Outcome::Success)
}

/// The network's id from a post URL: its last path segment (X `/status/ID`, LinkedIn
/// `/feed/update/URN/`, Facebook `/ID`). Later thread items reply to it.
fn remote_id_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed.path_segments()?.rfind(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::remote_id_of;

    #[test]
    fn remote_ids_from_urls() {
        assert_eq!(
            remote_id_of("https://x.com/i/web/status/1346889436626259968").as_deref(),
            Some("1346889436626259968")
        );
        assert_eq!(
            remote_id_of("https://www.linkedin.com/feed/update/urn:li:share:7/").as_deref(),
            Some("urn:li:share:7")
        );
        assert_eq!(remote_id_of("not a url"), None);
    }
}
