//! `crieur auth` for an X channel: OAuth 2.0 authorization code with PKCE in the browser.

use std::sync::Arc;
use std::time::Duration;

use crieur_core::{Clock, SystemClock, TokenVault};
use crieur_net_http::HttpClient;
use crieur_net_oauth::{
    AuthError, AuthorizeConfig, ClientAuth, DEFAULT_CALLBACK_PORT, DEFAULT_FLOW_TIMEOUT, Granted,
    OAuthApp, TokenEndpoint, authorize_in_browser,
};
use secrecy::SecretString;

/// X's authorization page.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://x.com/i/oauth2/authorize";
/// X's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.x.com/2/oauth2/token";
/// The scopes crieur asks for: read and write posts, read the user (reconciliation), upload
/// media (`media.write`), and `offline.access` for a refresh token.
pub const SCOPES: [&str; 5] =
    ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access"];

/// What `crieur auth CHANNEL` needs for an X channel. `Debug` never shows the secret.
#[derive(Clone)]
pub struct XAuthorizeOptions {
    /// The channel's name: the vault key.
    pub channel: String,
    /// The app's OAuth 2.0 client id (`client_id` in the channel).
    pub client_id: String,
    /// The app's client secret, for a confidential app (sent with HTTP Basic).
    pub client_secret: Option<SecretString>,
    /// `authorize_url` in the channel, or [`DEFAULT_AUTHORIZE_URL`].
    pub authorize_url: Option<String>,
    /// `token_url` in the channel, or [`DEFAULT_TOKEN_URL`].
    pub token_url: Option<String>,
    /// The loopback port of the callback (default [`DEFAULT_CALLBACK_PORT`], 8749); the app must
    /// list `http://127.0.0.1:PORT/callback`.
    pub port: u16,
    /// How long to wait for the browser (default 10 minutes).
    pub timeout: Duration,
    /// Where "now" comes from (the tokens' expiry).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for XAuthorizeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XAuthorizeOptions")
            .field("channel", &self.channel)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl XAuthorizeOptions {
    /// A public client on the default endpoints and port.
    pub fn new(channel: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            client_id: client_id.into(),
            client_secret: None,
            authorize_url: None,
            token_url: None,
            port: DEFAULT_CALLBACK_PORT,
            timeout: DEFAULT_FLOW_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Runs `crieur auth CHANNEL` for X: the authorization code flow with PKCE S256 and the scopes
/// [`SCOPES`], the authorization URL handed to `show_url` (the CLI prints "Open this URL in your
/// browser"), the browser's answer taken on `http://127.0.0.1:{port}/callback`, the code
/// exchanged, and the tokens saved with [`TokenVault::save`] (the store encrypts them). Returns
/// what was saved, with the granted scopes (no refresh token when `offline.access` was not
/// granted).
///
/// # Errors
/// [`AuthError::Config`] for a bad URL or an HTTP client that cannot start; [`AuthError::Flow`]
/// when the browser step fails (port taken, refused, state mismatch, timeout, code refused);
/// [`AuthError::Transient`] when the token endpoint cannot be reached; [`AuthError::Vault`] when
/// the tokens cannot be saved.
pub async fn authorize<F>(
    options: &XAuthorizeOptions,
    vault: &dyn TokenVault,
    show_url: F,
) -> Result<Granted, AuthError>
where
    F: FnOnce(&str) + Send,
{
    let channel = options.channel.clone();
    let config_err = |reason: String| AuthError::Config { channel: channel.clone(), reason };
    let http = HttpClient::builder().build().map_err(|e| config_err(e.to_string()))?;
    let app = OAuthApp {
        client_id: options.client_id.clone(),
        client_secret: options.client_secret.clone(),
        token_url: options.token_url.clone().unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned()),
        client_auth: ClientAuth::Basic,
    };
    let endpoint = TokenEndpoint::new(app, http, options.clock.clone()).map_err(&config_err)?;
    let mut flow = AuthorizeConfig::new(
        channel.clone(),
        options.authorize_url.clone().unwrap_or_else(|| DEFAULT_AUTHORIZE_URL.to_owned()),
        &SCOPES,
    );
    flow.pkce = true;
    flow.port = options.port;
    flow.timeout = options.timeout;
    let granted = authorize_in_browser(&flow, &endpoint, show_url).await?;
    vault
        .save(&channel, &granted.tokens)
        .await
        .map_err(|error| AuthError::Vault { channel: channel.clone(), error })?;
    tracing::info!(
        channel = %channel,
        refresh_token = granted.tokens.refresh_token.is_some(),
        expires_at = ?granted.tokens.expires_at,
        "X tokens saved"
    );
    Ok(granted)
}
