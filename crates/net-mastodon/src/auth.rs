//! `crieur auth CHANNEL` for Mastodon: crieur registers itself as an app on the channel's server
//! (once per server and redirect, kept encrypted), then runs the authorization code flow on a
//! loopback redirect and stores the token.

use std::sync::Arc;
use std::time::Duration;

use crieur_core::{Clock, SystemClock, TokenVault, Tokens};
use crieur_net_http::HttpClient;
use crieur_net_http::reqwest::{Method, Url};
use crieur_net_oauth::{
    AuthError, AuthorizeConfig, CALLBACK_PATH, ClientAuth, DEFAULT_CALLBACK_PORT,
    DEFAULT_FLOW_TIMEOUT, Granted, OAuthApp, TokenEndpoint, authorize_in_browser,
};
use secrecy::SecretString;
use serde_json::Value;

/// The scopes crieur asks for: post statuses and media, read the account back (reconciliation).
pub const SCOPES: [&str; 4] = ["write:statuses", "write:media", "read:accounts", "read:statuses"];

/// `crieur auth` for one Mastodon channel.
#[derive(Clone)]
pub struct MastodonAuthorizeOptions {
    /// The channel.
    pub channel: String,
    /// The server's root URL (`instance`).
    pub instance: String,
    /// The loopback port of the callback (default 8749).
    pub port: u16,
    /// How long to wait for the browser (default 10 minutes).
    pub timeout: Duration,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MastodonAuthorizeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonAuthorizeOptions")
            .field("channel", &self.channel)
            .field("instance", &self.instance)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl MastodonAuthorizeOptions {
    /// The default port and timeout.
    pub fn new(channel: impl Into<String>, instance: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            instance: instance.into(),
            port: DEFAULT_CALLBACK_PORT,
            timeout: DEFAULT_FLOW_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The vault entry that keeps crieur's app on one server for one redirect URI (the app's
/// `client_id` as the "access token", its `client_secret` as the "refresh token": sealed like
/// any token).
pub fn app_entry(instance: &str, redirect: &str) -> String {
    format!("mastodon-app {} {redirect}", instance.trim_end_matches('/'))
}

/// Registers crieur on the server if it was not yet (`POST /api/v1/apps`, kept in the vault),
/// hands the authorization URL to `show_url`, waits for the browser on
/// `http://127.0.0.1:{port}/callback`, exchanges the code at `/oauth/token`, and saves the
/// token for the channel. Mastodon tokens do not expire and have no refresh token.
///
/// # Errors
/// [`AuthError::Config`] for a bad `instance` or an app the server refuses to register;
/// [`AuthError::Flow`] when the browser step fails; [`AuthError::Transient`] when the server
/// cannot be reached; [`AuthError::Vault`] when the app or the token cannot be saved.
pub async fn authorize<F>(
    options: &MastodonAuthorizeOptions,
    vault: &dyn TokenVault,
    show_url: F,
) -> Result<Granted, AuthError>
where
    F: FnOnce(&str) + Send,
{
    let channel = options.channel.clone();
    let config_err = |reason: String| AuthError::Config { channel: channel.clone(), reason };
    let vault_err = |error| AuthError::Vault { channel: channel.clone(), error };
    let base = options.instance.trim_end_matches('/');
    let join = |path: &str| {
        Url::parse(&format!("{base}{path}"))
            .map_err(|e| config_err(format!("instance {base:?}: {e}")))
    };
    if options.port == 0 {
        return Err(config_err(
            "Mastodon checks the redirect URI exactly: give a fixed --port (default 8749)".into(),
        ));
    }
    let http = HttpClient::builder().build().map_err(|e| config_err(e.to_string()))?;
    let redirect = format!("http://127.0.0.1:{}{CALLBACK_PATH}", options.port);
    let entry = app_entry(base, &redirect);
    let app = match vault.load(&entry).await.map_err(vault_err)? {
        Some(t) => (t.access_token, t.refresh_token.map(SecretString::from)),
        None => {
            let form = [
                ("client_name", "crieur"),
                ("redirect_uris", redirect.as_str()),
                ("scopes", &SCOPES.join(" ")),
                ("website", "https://github.com/crieur"),
            ];
            let request = http.request(Method::POST, join("/api/v1/apps")?).form(&form);
            let r = http.send(&channel, request).await.map_err(|e| AuthError::Transient {
                channel: channel.clone(),
                reason: format!("registering crieur on {base}: {e}"),
            })?;
            let doc = r.json::<Value>().filter(|_| r.status.is_success()).ok_or_else(|| {
                config_err(format!(
                    "{base} refused to register crieur ({}): {}",
                    r.status.as_u16(),
                    r.snippet(300)
                ))
            })?;
            let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
            let id = field("client_id")
                .ok_or_else(|| config_err(format!("{base} registered no client_id")))?;
            let secret = field("client_secret");
            let stored = Tokens {
                access_token: id.clone(),
                refresh_token: secret.clone(),
                expires_at: None,
            };
            vault.save(&entry, &stored).await.map_err(vault_err)?;
            (id, secret.map(SecretString::from))
        }
    };
    let token_url = join("/oauth/token")?.to_string();
    let oauth = OAuthApp {
        client_id: app.0,
        client_secret: app.1,
        token_url,
        client_auth: ClientAuth::RequestBody,
    };
    let endpoint = TokenEndpoint::new(oauth, http, options.clock.clone()).map_err(&config_err)?;
    let mut flow =
        AuthorizeConfig::new(channel.clone(), join("/oauth/authorize")?.to_string(), &SCOPES);
    // Older servers do not know PKCE; the client secret protects the exchange.
    flow.pkce = false;
    flow.port = options.port;
    flow.timeout = options.timeout;
    let granted = authorize_in_browser(&flow, &endpoint, show_url).await?;
    vault.save(&channel, &granted.tokens).await.map_err(vault_err)?;
    tracing::info!(channel = %channel, "Mastodon token saved");
    Ok(granted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_net_oauth::testing::MemoryVault;
    use serde_json::json;
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    #[tokio::test]
    async fn crieur_registers_once_per_server_then_stores_the_token_of_the_browser_flow() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/apps"))
            .and(body_string_contains("client_name=crieur"))
            .and(body_string_contains(
                "scopes=write%3Astatuses+write%3Amedia+read%3Aaccounts+read%3Astatuses",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "1", "name": "crieur", "client_id": "cid", "client_secret": "csecret"
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .and(body_string_contains("code=the-code"))
            .and(body_string_contains("client_secret=csecret"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "user-token", "token_type": "Bearer", "scope": SCOPES.join(" "),
                "created_at": 1_790_000_000
            })))
            .expect(2)
            .mount(&server)
            .await;
        let vault = MemoryVault::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        for _ in 0..2 {
            let mut opts = MastodonAuthorizeOptions::new("fediverse", server.uri());
            opts.port = port;
            let (tx, rx) = tokio::sync::oneshot::channel::<String>();
            let browser = tokio::spawn(async move {
                let url = Url::parse(&rx.await.unwrap()).unwrap();
                assert_eq!(url.path(), "/oauth/authorize");
                let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
                assert_eq!(q["client_id"], "cid");
                let back = format!("{}?code=the-code&state={}", q["redirect_uri"], q["state"]);
                reqwest::get(back).await.unwrap().status()
            });
            let granted = authorize(&opts, &vault, move |u| tx.send(u.to_owned()).unwrap()).await;
            assert!(browser.await.unwrap().is_success());
            assert_eq!(granted.unwrap().tokens.access_token, "user-token");
        }
        assert_eq!(vault.tokens("fediverse").unwrap().access_token, "user-token");
        let apps: Vec<_> =
            vault.saves().into_iter().filter(|(c, _)| c.starts_with("mastodon-app ")).collect();
        assert_eq!(apps.len(), 1, "registered once, then reused: {apps:?}");
        assert_eq!(
            apps[0].0,
            app_entry(&server.uri(), &format!("http://127.0.0.1:{port}/callback"))
        );
        assert_eq!(apps[0].1.access_token, "cid");
    }
}
