//! Config -> one [`Publisher`] per channel: the only crate that knows every adapter.
//!
//! It sits beside the network crates, at the end of the data flow: it reads a channel's settings
//! (`crieur-config`), resolves its secrets, and hands them to the network crate that publishes
//! there. The daemon sees only the resulting `Publisher`s. It also says which networks' tokens a
//! person must renew ([`token_warning`]).
//!
//! Token sources: a channel with `client_id` is managed (the tokens `crieur auth` stored, else the
//! config's, refreshed when a refresh token exists); a channel with only `access_token` uses that
//! token as is. A Facebook channel with `client_id` reads the Page token `crieur auth` stored.

mod limits;

pub use limits::{LimitsError, server_limits};

use std::collections::HashMap;
use std::sync::Arc;

use crieur_config::{Config, NetworkSettings, OAuthSettings, SecretError, SecretRef};
use crieur_core::{Clock, MediaLedger, Network, Publisher, TokenVault};
use crieur_net_http::HttpClient;
use crieur_net_oauth::{TokenManager, TokenManagerConfig};
use secrecy::SecretString;

/// A channel whose publisher cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("channel {channel}")]
pub struct Error {
    /// The channel's name.
    pub channel: String,
    /// Why.
    #[source]
    pub source: BuildError,
}

/// Why a publisher cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A secret reference cannot be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The channel has neither an access token nor a `client_id`.
    #[error(
        "no access token: set `access_token` (a secret reference) or `client_id` and run `crieur auth {channel}`"
    )]
    NoToken {
        /// The channel's name.
        channel: String,
    },
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Http(#[from] crieur_net_http::BuildError),
    /// The token manager refused its settings.
    #[error(transparent)]
    OAuth(#[from] crieur_net_oauth::AuthError),
    /// The webhook adapter refused its settings (for example the SSRF guard).
    #[error(transparent)]
    Webhook(#[from] crieur_net_webhook::WebhookError),
    /// The X adapter refused its settings.
    #[error(transparent)]
    X(#[from] crieur_net_x::XError),
    /// The LinkedIn adapter refused its settings.
    #[error(transparent)]
    Linkedin(#[from] crieur_net_linkedin::LinkedinError),
    /// The Facebook adapter refused its settings.
    #[error(transparent)]
    Facebook(#[from] crieur_net_facebook::FacebookError),
    /// The Mastodon adapter refused its settings.
    #[error(transparent)]
    Mastodon(#[from] crieur_net_mastodon::MastodonError),
    /// A Mastodon channel without `access_token` needs the token `crieur auth` stores, and no
    /// store is open.
    #[error(
        "no access token: set `access_token` (a secret reference) or run `crieur auth {channel}`"
    )]
    NoVault {
        /// The channel's name.
        channel: String,
    },
    /// The Bluesky adapter refused its settings.
    #[error(transparent)]
    Bluesky(#[from] crieur_net_bluesky::BlueskyError),
}

/// Whether a token of a `network` channel that expires at `expires_at` deserves a warning at
/// `now`. Only LinkedIn's tokens are meant to be renewed by a person: X's expire every two hours
/// and are refreshed, Facebook's Page tokens do not expire.
pub fn token_warning(
    network: Network,
    expires_at: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Option<crieur_net_linkedin::ExpiryWarning> {
    if network != Network::Linkedin {
        return None;
    }
    crieur_net_linkedin::expiry_warning(expires_at, now)
}

/// Builds the publisher of every channel of `config`. Secrets are resolved here (and only here).
/// `ledger` (the store) is where the X, LinkedIn and Facebook publishers record the media they
/// upload, so a retry reuses it; `None` uploads again on every attempt.
///
/// # Errors
/// When a secret cannot be read or a channel's settings are refused by its adapter (for example a
/// webhook URL that fails the SSRF guard); the message names the channel.
pub fn publishers(
    config: &Config,
    vault: Option<Arc<dyn TokenVault>>,
    ledger: Option<Arc<dyn MediaLedger>>,
    clock: Arc<dyn Clock>,
) -> Result<HashMap<String, Arc<dyn Publisher>>, Error> {
    let mut out: HashMap<String, Arc<dyn Publisher>> = HashMap::new();
    for (name, channel) in &config.channels {
        let ledger = ledger.clone();
        let publisher =
            build(config, name, &channel.settings, vault.clone(), ledger, clock.clone())
                .map_err(|source| Error { channel: name.clone(), source })?;
        out.insert(name.clone(), publisher);
    }
    Ok(out)
}

/// Reads an optional secret reference.
///
/// # Errors
/// When the reference is given and cannot be read.
pub fn secret(config: &Config, r: Option<&SecretRef>) -> Result<Option<SecretString>, SecretError> {
    r.map(|r| r.resolve(&config.dir)).transpose()
}

fn manager(
    config: &Config,
    name: &str,
    oauth: &OAuthSettings,
    app: Option<crieur_net_oauth::OAuthApp>,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<TokenManager>, BuildError> {
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
    ledger: Option<Arc<dyn MediaLedger>>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Publisher>, BuildError> {
    let missing_token = || BuildError::NoToken { channel: name.to_owned() };
    match settings {
        NetworkSettings::Mastodon(m) => {
            let auth = match secret(config, m.access_token.as_ref())? {
                Some(token) => crieur_net_mastodon::MastodonAuth::Static(token),
                None => crieur_net_mastodon::MastodonAuth::Stored(
                    vault.ok_or_else(|| BuildError::NoVault { channel: name.to_owned() })?,
                ),
            };
            let mut cfg = crieur_net_mastodon::MastodonConfig::new(name, &m.instance, auth);
            m.visibility.as_str().clone_into(&mut cfg.visibility);
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_mastodon::MastodonPublisher::new(cfg)?))
        }
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
            cfg.ledger = ledger;
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
            cfg.ledger = ledger;
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
            cfg.ledger = ledger;
            Ok(Arc::new(crieur_net_facebook::FacebookPublisher::new(cfg)?))
        }
        NetworkSettings::Bluesky(b) => {
            let password = b.app_password.resolve(&config.dir)?;
            let mut cfg = crieur_net_bluesky::BlueskyConfig::new(name, &b.handle, password);
            if let Some(service) = &b.service {
                cfg.service.clone_from(service);
            }
            cfg.vault = vault;
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_bluesky::BlueskyPublisher::new(cfg)?))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn the_policy_and_the_webhook_adapter_agree_on_the_media_an_event_carries() {
        assert_eq!(crieur_policy::WEBHOOK_MAX_MEDIA_BYTES, crieur_net_webhook::MAX_MEDIA_BYTES);
    }

    fn config(dir: &std::path::Path, channel: &str) -> Config {
        let text = format!("timezone = \"Europe/Paris\"\n\n{channel}");
        std::fs::write(dir.join("crieur.toml"), text).unwrap();
        crieur_config::load_config(&dir.join("crieur.toml")).unwrap()
    }

    #[test]
    fn a_channel_whose_secret_cannot_be_read_is_named_with_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            "[channels.blog]\nnetwork = \"webhook\"\nurl = \"https://blog.example.com/hook\"\n\
             secret = \"file:missing\"\ncadence = [\"Mon 08:00\"]\n",
        );
        let err =
            publishers(&config, None, None, Arc::new(crieur_core::SystemClock)).err().unwrap();
        assert_eq!(err.to_string(), "channel blog");
        assert!(matches!(err.source, BuildError::Secret(_)), "{err:?}");
        assert!(err.source().is_some(), "the cause is kept in the chain");
    }

    #[test]
    fn a_webhook_channel_builds_a_webhook_publisher() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        std::fs::set_permissions(
            dir.path().join("secret"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let config = config(
            dir.path(),
            "[channels.blog]\nnetwork = \"webhook\"\nurl = \"https://blog.example.com/hook\"\n\
             secret = \"file:secret\"\ncadence = [\"Mon 08:00\"]\n",
        );
        let built = publishers(&config, None, None, Arc::new(crieur_core::SystemClock)).unwrap();
        assert_eq!(built["blog"].network(), Network::Webhook);
    }

    #[test]
    fn only_linkedin_tokens_get_expiry_warnings() {
        let now: jiff::Timestamp = "2026-03-18T12:00:00Z".parse().unwrap();
        let soon: jiff::Timestamp = "2026-03-19T12:00:00Z".parse().unwrap();
        assert_eq!(token_warning(Network::Linkedin, soon, now).map(|w| w.threshold_days), Some(1));
        assert_eq!(token_warning(Network::X, soon, now), None);
        assert_eq!(token_warning(Network::Facebook, soon, now), None);
    }
}
