//! `crieur auth CHANNEL` for a Facebook Page: from a browser login to a stored Page token.

use std::sync::Arc;
use std::time::Duration;

use crieur_core::{SystemClock, TokenVault, Tokens, VaultError};
use crieur_net_http::reqwest::Method;
use crieur_net_http::reqwest::header::AUTHORIZATION;
use crieur_net_http::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpClient, Response, bearer_header,
};
use crieur_net_oauth::{
    AuthError as OAuthError, AuthorizeConfig, ClientAuth, DEFAULT_CALLBACK_PORT,
    DEFAULT_FLOW_TIMEOUT, OAuthApp, TokenEndpoint, authorize_in_browser,
};
use secrecy::{ExposeSecret, SecretString};

use crate::graph::GraphError;
use crate::publisher::{
    DEFAULT_API_BASE, DEFAULT_GRAPH_VERSION, FacebookError, check_api_base, check_page_id,
    check_version, endpoint,
};

/// Where the login dialog lives unless the channel sets `authorize_url`'s base.
pub const DEFAULT_DIALOG_BASE: &str = "https://www.facebook.com";
/// The permissions crieur asks for: publish as the Page, read its posts (reconciliation), list
/// the Pages the account manages (to read the Page token).
pub const SCOPES: &str = "pages_manage_posts,pages_read_engagement,pages_show_list";
/// How much of a refusing answer goes into an error, in characters.
const SNIPPET_CHARS: usize = 300;

/// What `crieur auth CHANNEL` needs for a Facebook channel. `Debug` never shows the secret.
#[derive(Clone)]
pub struct FacebookAuthConfig {
    /// The channel's name: the vault key the Page token is saved under.
    pub channel: String,
    /// The Meta app's id (`client_id` in the channel).
    pub app_id: String,
    /// The Meta app's secret (`client_secret` in the channel, by reference).
    pub app_secret: SecretString,
    /// The Page's numeric id (`page_id`).
    pub page_id: String,
    /// The Graph API root (`api_base`, default [`DEFAULT_API_BASE`]).
    pub api_base: String,
    /// The Graph API version (`graph_version`, default [`DEFAULT_GRAPH_VERSION`]).
    pub graph_version: String,
    /// Where the login dialog is served (default [`DEFAULT_DIALOG_BASE`]); the dialog's URL is
    /// `{dialog_base}/{graph_version}/dialog/oauth`.
    pub dialog_base: String,
    /// The loopback port the browser is sent back to: `http://127.0.0.1:{port}/callback`, which
    /// must be listed in the app's "Valid OAuth Redirect URIs" (default
    /// [`DEFAULT_CALLBACK_PORT`], 8749). 0 takes any free port (tests only: Facebook wants the
    /// exact URI).
    pub redirect_port: u16,
    /// How long to wait for the browser to come back (default [`DEFAULT_FLOW_TIMEOUT`]).
    pub login_wait: Duration,
    /// Time allowed for each Graph request (default 30 s).
    pub timeout: Duration,
}

impl std::fmt::Debug for FacebookAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookAuthConfig")
            .field("channel", &self.channel)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("page_id", &self.page_id)
            .field("api_base", &self.api_base)
            .field("graph_version", &self.graph_version)
            .field("dialog_base", &self.dialog_base)
            .field("redirect_port", &self.redirect_port)
            .field("login_wait", &self.login_wait)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl FacebookAuthConfig {
    /// A config with the public endpoints, version [`DEFAULT_GRAPH_VERSION`], the loopback port
    /// [`DEFAULT_CALLBACK_PORT`], a [`DEFAULT_FLOW_TIMEOUT`] wait and 30 s requests.
    pub fn new(
        channel: impl Into<String>,
        app_id: impl Into<String>,
        app_secret: SecretString,
        page_id: impl Into<String>,
    ) -> Self {
        Self {
            channel: channel.into(),
            app_id: app_id.into(),
            app_secret,
            page_id: page_id.into(),
            api_base: DEFAULT_API_BASE.to_owned(),
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            dialog_base: DEFAULT_DIALOG_BASE.to_owned(),
            redirect_port: DEFAULT_CALLBACK_PORT,
            login_wait: DEFAULT_FLOW_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The Page whose token was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedPage {
    /// The Page id.
    pub page_id: String,
    /// The Page's name as Facebook gives it, to show the operator which Page it is.
    pub name: Option<String>,
}

/// Why the authorization did not end with a stored Page token. No message quotes a token, the
/// app secret or the authorization code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A channel key is wrong (page_id, graph_version, api_base).
    #[error(transparent)]
    Config(#[from] FacebookError),
    /// The app id or the dialog base is not usable.
    #[error("channel {channel}: {reason}")]
    App {
        /// The channel.
        channel: String,
        /// What to change.
        reason: String,
    },
    /// The browser step or the code exchange failed (port taken, user declined, wrong state,
    /// timeout, code refused): the shared OAuth flow's error, which names the channel.
    #[error(transparent)]
    Login(#[from] OAuthError),
    /// Facebook refused or failed one of the later exchanges.
    #[error("channel {channel}: {step} failed: {reason}")]
    Exchange {
        /// The channel.
        channel: String,
        /// Which exchange (`exchanging the authorization code`...).
        step: &'static str,
        /// Facebook's reason (code, subcode, fbtrace_id, message) or the transport error.
        reason: String,
    },
    /// The account that logged in cannot act for the Page: no Page token came back.
    #[error(
        "channel {channel}: Facebook gave no access token for Page {page_id}: log in with an \
         account that manages this Page (with full control or the \"create content\" task) and \
         grant every permission asked (pages_manage_posts, pages_read_engagement, \
         pages_show_list), and choose this Page when asked which Pages crieur may use"
    )]
    NotPageAdmin {
        /// The channel.
        channel: String,
        /// The Page.
        page_id: String,
    },
    /// The Page token could not be saved.
    #[error("channel {channel}: the Page token could not be saved: {error}")]
    Vault {
        /// The channel.
        channel: String,
        /// The store's error, shown in the message (so not also returned by `source()`).
        error: VaultError,
    },
}

/// Runs the Facebook login for `config.channel` and saves the Page token in `vault`.
///
/// Steps:
/// 1. Through the shared OAuth flow
///    ([`authorize_in_browser`](crieur_net_oauth::authorize_in_browser)): listens on
///    `127.0.0.1:{redirect_port}`, calls `show_url` with the login dialog's URL
///    (`{dialog_base}/{version}/dialog/oauth` with `client_id`, `redirect_uri`, `state`,
///    `response_type=code` and `scope` = [`SCOPES`]; the caller prints it and may open a
///    browser), waits up to `login_wait` for the browser at `/callback`, checks `state`, and
///    exchanges the code at `POST {api_base}/{version}/oauth/access_token` (form:
///    `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id`, `client_secret`)
///    for a short-lived user token.
/// 2. `POST` the same endpoint (form: `grant_type=fb_exchange_token`, `client_id`,
///    `client_secret`, `fb_exchange_token`) for a long-lived user token.
/// 3. `GET {api_base}/{version}/{page_id}?fields=access_token,name` with the long-lived user
///    token (Bearer) for the Page token, which does not expire.
/// 4. `vault.save(channel, Tokens { access_token: page token, refresh_token: None, expires_at:
///    None })`; the store encrypts it.
///
/// Secrets travel only in form bodies and sensitive headers, never in URLs.
///
/// # Errors
/// [`AuthError::Config`] or [`AuthError::App`] for unusable keys, [`AuthError::Login`] when the
/// port is taken, the user declines, `state` does not match, the wait runs out or the code is
/// refused,
/// [`AuthError::Exchange`] when Facebook refuses an exchange, [`AuthError::NotPageAdmin`] when
/// the account cannot act for the Page, [`AuthError::Vault`] when the token cannot be saved.
pub async fn authorize(
    config: &FacebookAuthConfig,
    vault: &dyn TokenVault,
    show_url: impl FnOnce(&str) + Send,
) -> Result<AuthorizedPage, AuthError> {
    let channel = config.channel.as_str();
    let page_id = check_page_id(channel, &config.page_id)?;
    let version = check_version(channel, &config.graph_version)?;
    let api_base = check_api_base(channel, &config.api_base)?;
    let app_err = |reason: String| AuthError::App { channel: channel.to_owned(), reason };
    let app_id = config.app_id.trim();
    if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(app_err(format!(
            "client_id {:?} is not a Meta app id: use the numeric App ID shown in the app \
             dashboard (App settings > Basic)",
            config.app_id
        )));
    }
    if config.app_secret.expose_secret().trim().is_empty() {
        return Err(app_err(
            "client_secret is empty: refer to the App Secret of the Meta app (App settings > \
             Basic)"
                .into(),
        ));
    }
    let dialog_base = check_api_base(channel, &config.dialog_base).map_err(|_| {
        app_err(format!("the login dialog base {:?} is not an http(s) URL", config.dialog_base))
    })?;
    let dialog = endpoint(&dialog_base, &format!("{version}/dialog/oauth"))
        .ok_or_else(|| app_err("the login dialog URL cannot be built".into()))?;
    let token_url = endpoint(&api_base, &format!("{version}/oauth/access_token"))
        .ok_or_else(|| app_err("the token endpoint URL cannot be built".into()))?;
    let page_url = endpoint(&api_base, &format!("{version}/{page_id}"))
        .ok_or_else(|| app_err("the Page URL cannot be built".into()))?;
    let http = HttpClient::builder()
        .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
        .timeout(config.timeout)
        .build()
        .map_err(|e| app_err(e.to_string()))?;

    let mut app = OAuthApp::new(app_id, token_url.as_str());
    app.client_secret = Some(config.app_secret.clone());
    app.client_auth = ClientAuth::RequestBody;
    let token_endpoint =
        TokenEndpoint::new(app, http.clone(), Arc::new(SystemClock)).map_err(app_err)?;
    // One scope string, comma-separated as Facebook documents it.
    let mut flow = AuthorizeConfig::new(channel, dialog.as_str(), &[SCOPES]);
    flow.pkce = false;
    flow.port = config.redirect_port;
    flow.timeout = config.login_wait;
    tracing::info!(channel, port = config.redirect_port, "waiting for the Facebook login");
    let granted = authorize_in_browser(&flow, &token_endpoint, show_url).await?;
    let short_lived = SecretString::from(granted.tokens.access_token);

    let exchange = |step: &'static str, reason: String| AuthError::Exchange {
        channel: channel.to_owned(),
        step,
        reason,
    };
    let secret = config.app_secret.expose_secret();
    let step = "exchanging for a long-lived user token";
    let request = http.request(Method::POST, token_url).form(&[
        ("grant_type", "fb_exchange_token"),
        ("client_id", app_id),
        ("client_secret", secret),
        ("fb_exchange_token", short_lived.expose_secret()),
    ]);
    let long_lived =
        access_token(&http, channel, step, request).await.map_err(|r| exchange(step, r))?;

    let step = "reading the Page token";
    let auth = bearer_header(&long_lived)
        .map_err(|e| exchange(step, format!("the long-lived user token is unusable: {e}")))?;
    let mut page_url = page_url;
    page_url.query_pairs_mut().append_pair("fields", "access_token,name");
    let request = http.request(Method::GET, page_url).header(AUTHORIZATION, auth);
    let answer = graph_call(&http, channel, step, request).await.map_err(|r| exchange(step, r))?;
    let page_token = answer
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(|t| SecretString::from(t.to_owned()));
    let name = answer
        .get("name")
        .and_then(serde_json::Value::as_str)
        .map(|n| n.chars().take(200).filter(|c| !c.is_control()).collect::<String>());
    drop(answer);
    let Some(page_token) = page_token else {
        return Err(AuthError::NotPageAdmin { channel: channel.to_owned(), page_id });
    };

    let tokens = Tokens {
        access_token: page_token.expose_secret().to_owned(),
        refresh_token: None,
        expires_at: None,
    };
    vault
        .save(channel, &tokens)
        .await
        .map_err(|error| AuthError::Vault { channel: channel.to_owned(), error })?;
    tracing::info!(channel, page_id = %page_id, page = name.as_deref().unwrap_or(""), "Facebook Page token stored");
    Ok(AuthorizedPage { page_id, name })
}

/// Sends one Graph call and returns its JSON object, or a reason naming Facebook's error
/// (code, subcode, fbtrace_id, message) or the transport failure.
async fn graph_call(
    http: &HttpClient,
    channel: &str,
    step: &str,
    request: crieur_net_http::reqwest::RequestBuilder,
) -> Result<serde_json::Value, String> {
    let response: Response = http.send(step, request).await.map_err(|e| e.to_string())?;
    let status = response.status.as_u16();
    if response.status.is_success() {
        return response
            .json::<serde_json::Value>()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| format!("Facebook answered {status} with an unexpected body"));
    }
    let error = response.body.as_deref().ok().and_then(GraphError::parse);
    tracing::warn!(
        channel,
        step,
        status,
        code = error.as_ref().and_then(|e| e.code),
        subcode = error.as_ref().and_then(|e| e.subcode),
        fbtrace_id = error.as_ref().and_then(|e| e.fbtrace_id.as_deref()),
        "Facebook refused a step of the authorization"
    );
    Err(match error {
        Some(e) => format!("Facebook answered {status} ({})", e.describe()),
        None => format!("Facebook answered {status}: {}", response.snippet(SNIPPET_CHARS)),
    })
}

/// A Graph call that answers `{"access_token": ...}`; the token, kept secret.
async fn access_token(
    http: &HttpClient,
    channel: &str,
    step: &str,
    request: crieur_net_http::reqwest::RequestBuilder,
) -> Result<SecretString, String> {
    let answer = graph_call(http, channel, step, request).await?;
    answer
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(|t| SecretString::from(t.to_owned()))
        .ok_or_else(|| "Facebook's answer holds no access_token".to_owned())
}
