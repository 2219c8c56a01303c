//! `crieur auth CHANNEL` for LinkedIn: the three-legged OAuth flow in the operator's browser.

use std::sync::Arc;
use std::time::Duration;

use crieur_core::{Clock, SystemClock, TokenVault};
use crieur_net_http::reqwest::header::AUTHORIZATION;
use crieur_net_http::reqwest::{Method, Url};
use crieur_net_http::{HttpClient, bearer_header};
use crieur_net_oauth::{
    AuthError, AuthorizeConfig, ClientAuth, DEFAULT_CALLBACK_PORT, DEFAULT_FLOW_TIMEOUT, OAuthApp,
    TokenEndpoint, authorize_in_browser,
};
use jiff::Timestamp;
use secrecy::SecretString;

use crate::publisher::DEFAULT_API_BASE;
use crate::urn::Author;

/// LinkedIn's authorization page.
pub const AUTHORIZE_URL: &str = "https://www.linkedin.com/oauth/v2/authorization";
/// LinkedIn's token endpoint (code exchange and, for approved partners, refresh).
pub const TOKEN_URL: &str = "https://www.linkedin.com/oauth/v2/accessToken";

/// The OAuth app of a LinkedIn channel as the token endpoint wants it: `client_id` and
/// `client_secret` in the form body. `token_url` defaults to [`TOKEN_URL`]. Give it to a
/// [`TokenManager`](crieur_net_oauth::TokenManager) for [`LinkedinTokens::Managed`](crate::LinkedinTokens::Managed).
pub fn oauth_app(
    client_id: impl Into<String>,
    client_secret: Option<SecretString>,
    token_url: Option<String>,
) -> OAuthApp {
    OAuthApp {
        client_id: client_id.into(),
        client_secret,
        token_url: token_url.unwrap_or_else(|| TOKEN_URL.to_owned()),
        client_auth: ClientAuth::RequestBody,
    }
}

/// The scopes `crieur auth` asks for: `openid profile` (to learn the member's URN) and the
/// scope that lets the token post as `author`.
pub fn scopes_for(author: &Author) -> [&'static str; 3] {
    ["openid", "profile", author.write_scope()]
}

/// One `crieur auth` of a LinkedIn channel. [`LinkedinAuthConfig::new`] fills in LinkedIn's
/// endpoints and the defaults; every URL can be pointed elsewhere (tests, proxies). `Debug` never
/// shows the secret.
#[derive(Clone)]
pub struct LinkedinAuthConfig {
    /// The channel: the vault key and the name in messages.
    pub channel: String,
    /// The channel's `author`, which decides the scope (`w_member_social` or
    /// `w_organization_social`).
    pub author: String,
    /// The app's Client ID (`client_id` in the channel).
    pub client_id: String,
    /// The app's Client Secret (`client_secret` in the channel); LinkedIn requires it.
    pub client_secret: Option<SecretString>,
    /// The API root, for `GET /v2/userinfo` (default [`DEFAULT_API_BASE`]).
    pub api_base: String,
    /// The authorization page (`authorize_url`; default [`AUTHORIZE_URL`]).
    pub authorize_url: String,
    /// The token endpoint (`token_url`; default [`TOKEN_URL`]).
    pub token_url: String,
    /// The loopback port of the redirect `http://127.0.0.1:PORT/callback` (default
    /// [`DEFAULT_CALLBACK_PORT`]); it must be listed exactly among the app's redirect URLs.
    pub port: u16,
    /// How long to wait for the browser (default 10 minutes).
    pub timeout: Duration,
    /// Where "now" comes from (the tokens' `expires_at`).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LinkedinAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedinAuthConfig")
            .field("channel", &self.channel)
            .field("author", &self.author)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("api_base", &self.api_base)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl LinkedinAuthConfig {
    /// LinkedIn's endpoints, port [`DEFAULT_CALLBACK_PORT`], a 10-minute wait, the system clock.
    pub fn new(
        channel: impl Into<String>,
        author: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
    ) -> Self {
        Self {
            channel: channel.into(),
            author: author.into(),
            client_id: client_id.into(),
            client_secret,
            api_base: DEFAULT_API_BASE.to_owned(),
            authorize_url: AUTHORIZE_URL.to_owned(),
            token_url: TOKEN_URL.to_owned(),
            port: DEFAULT_CALLBACK_PORT,
            timeout: DEFAULT_FLOW_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }
}

/// What `crieur auth` obtained and stored, for the operator. Holds no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedinAuthorized {
    /// The channel.
    pub channel: String,
    /// The member who authorized, `urn:li:person:{sub}` from `/v2/userinfo` (`None` when it
    /// could not be read; see `warnings`). Use it as `author` to post as that member.
    pub member: Option<String>,
    /// The member's name, when given.
    pub member_name: Option<String>,
    /// When the access token expires (LinkedIn: 60 days), when the token endpoint said.
    pub expires_at: Option<Timestamp>,
    /// Whether LinkedIn gave a refresh token (approved partners only).
    pub refresh_token: bool,
    /// The scopes LinkedIn says it granted, when it listed them.
    pub scopes: Option<Vec<String>>,
    /// Things the operator should fix or know, one sentence each: a missing scope, an author
    /// that is not the member who authorized, a member URN that could not be read.
    pub warnings: Vec<String>,
}

/// Runs `crieur auth` for a LinkedIn channel and saves the tokens in `vault`.
///
/// The three-legged flow of LinkedIn: `show_url` gets the authorization URL (LinkedIn's page,
/// the scopes of [`scopes_for`], a random `state`, no PKCE, redirect
/// `http://127.0.0.1:{port}/callback`); the operator approves in a browser; the code is
/// exchanged at the token endpoint with `client_id` and `client_secret` in the form body; the
/// tokens, with `expires_at` = now + `expires_in`, are saved with [`TokenVault::save`] (the
/// store encrypts them). Then `GET {api_base}/v2/userinfo` learns the member (`sub` ->
/// `urn:li:person:{sub}`), which is reported, and compared with a person `author`.
///
/// # Errors
/// [`AuthError::Config`] for an `author` that is not a LinkedIn URN, a missing `client_secret`,
/// or a URL that does not parse; [`AuthError::Flow`] when the browser flow fails (port taken,
/// refused, state mismatch, timeout, code refused); [`AuthError::Transient`] when the token
/// endpoint could not be reached; [`AuthError::Vault`] when the tokens could not be saved.
pub async fn authorize<F>(
    config: &LinkedinAuthConfig,
    vault: &dyn TokenVault,
    show_url: F,
) -> Result<LinkedinAuthorized, AuthError>
where
    F: FnOnce(&str) + Send,
{
    let channel = config.channel.clone();
    let config_err = |reason: String| AuthError::Config { channel: channel.clone(), reason };
    let author = Author::parse(&config.author).map_err(|e| config_err(e.to_string()))?;
    let Some(secret) = config.client_secret.clone() else {
        return Err(config_err(
            "LinkedIn's token endpoint needs the app's secret: set client_secret in the channel \
             (the Primary Client Secret on the app's Auth tab, by reference such as \
             \"env:LINKEDIN_CLIENT_SECRET\")"
                .into(),
        ));
    };
    if config.client_id.trim().is_empty() {
        return Err(config_err(
            "set client_id in the channel (the Client ID on the LinkedIn app's Auth tab)".into(),
        ));
    }
    let userinfo_url = userinfo_url(&config.api_base).map_err(&config_err)?;
    let http = HttpClient::builder().build().map_err(|e| config_err(e.to_string()))?;
    let app = oauth_app(config.client_id.trim(), Some(secret), Some(config.token_url.clone()));
    let endpoint =
        TokenEndpoint::new(app, http.clone(), config.clock.clone()).map_err(&config_err)?;

    let scopes = scopes_for(&author);
    let mut flow = AuthorizeConfig::new(channel.clone(), config.authorize_url.clone(), &scopes);
    flow.pkce = false;
    flow.port = config.port;
    flow.timeout = config.timeout;
    let granted = authorize_in_browser(&flow, &endpoint, show_url).await?;

    vault
        .save(&channel, &granted.tokens)
        .await
        .map_err(|error| AuthError::Vault { channel: channel.clone(), error })?;
    tracing::info!(
        channel = %channel,
        expires_at = ?granted.tokens.expires_at,
        refresh_token = granted.tokens.refresh_token.is_some(),
        "LinkedIn tokens saved"
    );

    // LinkedIn lists granted scopes comma-separated in `scope`; split on both.
    let granted_scopes: Option<Vec<String>> = granted.scopes.map(|list| {
        list.iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let mut warnings = Vec::new();
    if let Some(list) = &granted_scopes
        && !list.iter().any(|s| s == author.write_scope())
    {
        warnings.push(format!(
            "LinkedIn did not grant {}: posting as {author} will be refused; add the product \
             that carries it to the app (\"Share on LinkedIn\" for w_member_social, \"Community \
             Management API\" for w_organization_social) and run `crieur auth {channel}` again",
            author.write_scope()
        ));
    }

    let token = SecretString::from(granted.tokens.access_token.clone());
    let (member, member_name) = match userinfo(&http, &userinfo_url, &token).await {
        Ok((sub, name)) => (Some(format!("urn:li:person:{sub}")), name),
        Err(reason) => {
            warnings.push(format!(
                "the member's URN could not be read from /v2/userinfo ({reason}); the tokens \
                 are saved all the same"
            ));
            (None, None)
        }
    };
    if let (Author::Person(_), Some(member)) = (&author, &member)
        && *member != author.to_string()
    {
        warnings.push(format!(
            "the channel's author is {author} but the member who authorized is {member}: \
             LinkedIn will refuse the posts; set author = \"{member}\" in channel {channel}, or \
             authorize as that member"
        ));
    }
    Ok(LinkedinAuthorized {
        channel,
        member,
        member_name,
        expires_at: granted.tokens.expires_at,
        refresh_token: granted.tokens.refresh_token.is_some(),
        scopes: granted_scopes,
        warnings,
    })
}

fn userinfo_url(api_base: &str) -> Result<Url, String> {
    let mut base = Url::parse(api_base.trim())
        .map_err(|e| format!("api_base {api_base:?} is not a valid URL ({e})"))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(format!("api_base {api_base:?} must be an http or https URL"));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join("v2/userinfo").map_err(|e| e.to_string())
}

/// `sub` (a LinkedIn member id: letters, digits, `-`, `_`) and `name` from `/v2/userinfo`.
async fn userinfo(
    http: &HttpClient,
    url: &Url,
    token: &SecretString,
) -> Result<(String, Option<String>), String> {
    let bearer = bearer_header(token).map_err(|e| e.to_string())?;
    let request = http.request(Method::GET, url.clone()).header(AUTHORIZATION, bearer);
    let response = http.send("linkedin-userinfo", request).await.map_err(|e| e.to_string())?;
    if !response.status.is_success() {
        return Err(format!("LinkedIn answered {}", response.status.as_u16()));
    }
    let answer: serde_json::Value = response.json().ok_or("the answer is not JSON")?;
    let sub = answer
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or("the answer has no usable sub")?;
    let name = answer
        .get("name")
        .and_then(serde_json::Value::as_str)
        .map(|n| n.chars().take(200).filter(|c| !c.is_control()).collect());
    Ok((sub.to_owned(), name))
}
