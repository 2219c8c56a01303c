//! `crieur auth CHANNEL`: run the network's OAuth flow and store the tokens, encrypted.
//!
//! X: authorization code with PKCE on a loopback redirect; LinkedIn: three-legged; Facebook: login,
//! long-lived user token, then the Page token. The URL to open is printed on stderr; the browser
//! comes back to `http://127.0.0.1:PORT/callback`, which must be registered with the app.

use crieur_config::NetworkSettings;
use crieur_store::OpenOptions;

use crate::Outcome;
use crate::commands::Context;
use crieur_adapters::secret;

/// `crieur auth` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The channel to authorize.
    channel: String,
    /// The loopback port of the redirect URI (`http://127.0.0.1:PORT/callback`), as registered
    /// with the network's app.
    #[arg(long, default_value_t = crieur_net_oauth::DEFAULT_CALLBACK_PORT)]
    port: u16,
}

fn show(url: &str) {
    eprintln!("Open this URL in your browser and approve access:\n\n  {url}\n");
    eprintln!("Waiting for the browser to come back to the loopback redirect...");
}

/// Runs the flow for the channel's network and stores the tokens.
///
/// # Errors
/// When the channel is unknown or has no `client_id`, the store has no key, or the flow fails.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    crate::logging::init();
    let config = ctx.load_config()?;
    let channel = config.channels.get(&args.channel).ok_or_else(|| {
        anyhow::anyhow!("no channel {:?} in {}", args.channel, config.path.display())
    })?;
    let key = match crieur_daemon::supervisor::storage_key(&config)? {
        Some(key) => key,
        None => anyhow::bail!(
            "crieur stores tokens encrypted and needs a key: run `openssl rand -base64 32` into a \
             file (mode 0600) and set `[storage] key = \"file:PATH\"` (or `credential:crieur-key` \
             under systemd)"
        ),
    };
    let name = args.channel.clone();
    let rt = crate::commands::runtime()?;
    rt.block_on(async {
        let store = crieur_store::open(&config.storage.url, OpenOptions::for_command().with_key(key)).await?;
        let no_client = || anyhow::anyhow!("channel {name} has no `client_id`: add the app's client id to the channel first");
        let result = match &channel.settings {
            NetworkSettings::X(x) => {
                let o = &x.oauth;
                let mut opts = crieur_net_x::XAuthorizeOptions::new(&name, o.client_id.clone().ok_or_else(no_client)?);
                opts.client_secret = secret(&config, o.client_secret.as_ref())?;
                opts.authorize_url.clone_from(&o.authorize_url);
                opts.token_url.clone_from(&o.token_url);
                opts.port = args.port;
                crieur_net_x::authorize(&opts, &*store, show).await?;
                eprintln!("X tokens for {name} are stored, encrypted; crieur refreshes them itself.");
                Ok(())
            }
            NetworkSettings::Linkedin(l) => {
                let o = &l.oauth;
                let mut cfg = crieur_net_linkedin::LinkedinAuthConfig::new(
                    &name,
                    &l.author,
                    o.client_id.clone().ok_or_else(no_client)?,
                    secret(&config, o.client_secret.as_ref())?,
                );
                if let Some(u) = &o.authorize_url {
                    cfg.authorize_url.clone_from(u);
                }
                if let Some(u) = &o.token_url {
                    cfg.token_url.clone_from(u);
                }
                if let Some(u) = &o.api_base {
                    cfg.api_base.clone_from(u);
                }
                cfg.port = args.port;
                let done = crieur_net_linkedin::authorize(&cfg, &*store, show).await?;
                for w in &done.warnings {
                    eprintln!("warning: {w}");
                }
                if let Some(member) = &done.member {
                    eprintln!("signed in as {member}");
                }
                if let Some(exp) = done.expires_at {
                    eprintln!("LinkedIn token for {name} stored, encrypted; it expires {exp}: run `crieur auth {name}` again before then.");
                }
                Ok(())
            }
            NetworkSettings::Facebook(f) => {
                let o = &f.oauth;
                let app_secret = secret(&config, o.client_secret.as_ref())?.ok_or_else(|| {
                    anyhow::anyhow!("channel {name} needs `client_secret` (a reference to the Meta app secret)")
                })?;
                let mut cfg = crieur_net_facebook::FacebookAuthConfig::new(
                    &name,
                    o.client_id.clone().ok_or_else(no_client)?,
                    app_secret,
                    &f.page_id,
                );
                if let Some(u) = &o.api_base {
                    cfg.api_base.clone_from(u);
                }
                if let Some(v) = &f.graph_version {
                    cfg.graph_version.clone_from(v);
                }
                cfg.redirect_port = args.port;
                let page = crieur_net_facebook::authorize(&cfg, &*store, show).await?;
                eprintln!(
                    "Page token for {} stored, encrypted{}.",
                    page.page_id,
                    page.name.map(|n| format!(" ({n})")).unwrap_or_default()
                );
                Ok(())
            }
            NetworkSettings::Mastodon(m) => {
                let mut opts = crieur_net_mastodon::MastodonAuthorizeOptions::new(&name, &m.instance);
                opts.port = args.port;
                crieur_net_mastodon::authorize(&opts, &*store, show).await?;
                eprintln!("Mastodon token for {name} stored, encrypted; it does not expire.");
                Ok(())
            }
            NetworkSettings::Webhook(_) => Err(anyhow::anyhow!("channel {name} is a webhook: it has no OAuth flow (its secret is in the config)")),
            NetworkSettings::Bluesky(_) => Err(anyhow::anyhow!("channel {name} is on Bluesky: it logs in with its app password (`app_password` in the config) when it first publishes, and keeps the session itself")),
        };
        store.close().await;
        result
    })?;
    Ok(Outcome::Success)
}
