//! Config -> one [`Publisher`] per channel. The only place that knows every adapter.
//!
//! Token sources: a channel with `client_id` is managed (the tokens `crieur auth` stored, else the
//! config's, refreshed when a refresh token exists); a channel with only `access_token` uses that
//! token as is. A Facebook channel with `client_id` reads the Page token `crieur auth` stored.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use crieur_config::{Config, NetworkSettings, OAuthSettings, SecretRef};
use crieur_core::{Clock, Network, Publisher, TokenVault};
use crieur_daemon::{BoxError, TokenWarning};
use crieur_net_http::HttpClient;
use crieur_net_oauth::{TokenManager, TokenManagerConfig};
use secrecy::SecretString;

/// The daemon's view of the adapters: [`publishers`], and LinkedIn's token expiry warnings.
pub struct Wired;

impl crieur_daemon::Adapters for Wired {
    fn publishers(
        &self,
        config: &Config,
        vault: Arc<dyn TokenVault>,
        clock: Arc<dyn Clock>,
    ) -> Result<HashMap<String, Arc<dyn Publisher>>, BoxError> {
        Ok(publishers(config, Some(vault), clock)?)
    }

    /// Only LinkedIn's tokens are meant to be renewed by a person: X's expire every two hours and
    /// are refreshed, Facebook's Page tokens do not expire.
    fn token_warning(
        &self,
        network: Network,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Option<TokenWarning> {
        if network != Network::Linkedin {
            return None;
        }
        let w = crieur_net_linkedin::expiry_warning(expires_at, now)?;
        Some(TokenWarning { threshold_days: w.threshold_days, message: w.to_string() })
    }
}

/// Builds the publisher of every channel of `config`. Secrets are resolved here (and only here).
///
/// # Errors
/// When a secret cannot be read or a channel's settings are refused by its adapter (for example a
/// webhook URL that fails the SSRF guard); the message names the channel.
pub fn publishers(
    config: &Config,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<HashMap<String, Arc<dyn Publisher>>> {
    let mut out: HashMap<String, Arc<dyn Publisher>> = HashMap::new();
    for (name, channel) in &config.channels {
        let publisher = build(config, name, &channel.settings, vault.clone(), clock.clone())
            .with_context(|| format!("channel {name}"))?;
        out.insert(name.clone(), publisher);
    }
    Ok(out)
}

/// Reads an optional secret reference.
pub fn secret(config: &Config, r: Option<&SecretRef>) -> anyhow::Result<Option<SecretString>> {
    Ok(r.map(|r| r.resolve(&config.dir)).transpose()?)
}

fn manager(
    config: &Config,
    name: &str,
    oauth: &OAuthSettings,
    app: Option<crieur_net_oauth::OAuthApp>,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<TokenManager>> {
    let http = HttpClient::builder().build()?;
    let mut cfg = TokenManagerConfig::new(name, vault, http);
    cfg.app = app;
    cfg.access_token = secret(config, oauth.access_token.as_ref())?;
    cfg.refresh_token = secret(config, oauth.refresh_token.as_ref())?;
    cfg.clock = clock;
    Ok(Arc::new(TokenManager::new(cfg)?))
}

fn build(
    config: &Config,
    name: &str,
    settings: &NetworkSettings,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn Publisher>> {
    let missing_token = || {
        anyhow::anyhow!(
            "no access token: set `access_token` (a secret reference) or `client_id` and run `crieur auth {name}`"
        )
    };
    match settings {
        NetworkSettings::Webhook(w) => {
            let secret = w.secret.resolve(&config.dir)?;
            let mut cfg = crieur_net_webhook::WebhookConfig::new(name, &w.url, secret);
            cfg.allow_private = w.allow_private;
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_webhook::WebhookPublisher::new(cfg)?))
        }
        NetworkSettings::X(x) => {
            let o = &x.oauth;
            let auth = match &o.client_id {
                Some(client_id) => {
                    let mut app = crieur_net_oauth::OAuthApp::new(
                        client_id,
                        o.token_url.as_deref().unwrap_or(crieur_net_x::DEFAULT_TOKEN_URL),
                    );
                    app.client_secret = secret(config, o.client_secret.as_ref())?;
                    crieur_net_x::XAuth::Managed(manager(
                        config,
                        name,
                        o,
                        Some(app),
                        vault,
                        clock.clone(),
                    )?)
                }
                None => crieur_net_x::XAuth::Static(
                    secret(config, o.access_token.as_ref())?.ok_or_else(missing_token)?,
                ),
            };
            let mut cfg = crieur_net_x::XPublisherConfig::new(name, auth);
            if let Some(base) = &o.api_base {
                cfg.api_base.clone_from(base);
            }
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_x::XPublisher::new(cfg)?))
        }
        NetworkSettings::Linkedin(l) => {
            let o = &l.oauth;
            let tokens = match &o.client_id {
                Some(client_id) => {
                    let app = crieur_net_linkedin::oauth_app(
                        client_id,
                        secret(config, o.client_secret.as_ref())?,
                        o.token_url.clone(),
                    );
                    crieur_net_linkedin::LinkedinTokens::Managed(manager(
                        config,
                        name,
                        o,
                        Some(app),
                        vault,
                        clock.clone(),
                    )?)
                }
                None => crieur_net_linkedin::LinkedinTokens::fixed(
                    secret(config, o.access_token.as_ref())?.ok_or_else(missing_token)?,
                ),
            };
            let mut cfg =
                crieur_net_linkedin::LinkedinPublisherConfig::new(name, &l.author, tokens);
            if let Some(base) = &o.api_base {
                cfg.api_base.clone_from(base);
            }
            if let Some(v) = &l.linkedin_version {
                cfg.linkedin_version.clone_from(v);
            }
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_linkedin::LinkedinPublisher::new(cfg)?))
        }
        NetworkSettings::Facebook(f) => {
            let o = &f.oauth;
            let token = match (secret(config, o.access_token.as_ref())?, vault) {
                (Some(t), _) => crieur_net_facebook::PageToken::Static(t),
                (None, Some(v)) if o.client_id.is_some() => {
                    crieur_net_facebook::PageToken::Vault(v)
                }
                _ => return Err(missing_token()),
            };
            let mut cfg =
                crieur_net_facebook::FacebookPublisherConfig::new(name, &f.page_id, token);
            if let Some(base) = &o.api_base {
                cfg.api_base.clone_from(base);
            }
            if let Some(v) = &f.graph_version {
                cfg.graph_version.clone_from(v);
            }
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_facebook::FacebookPublisher::new(cfg)?))
        }
    }
}
