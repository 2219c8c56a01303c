//! The token endpoint: oauth2's request building and answer parsing, sent through crieur's
//! shared HTTP client, with failures sorted into "try later" and "refused".

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crieur_core::{Clock, Tokens};
use crieur_net_http::reqwest::header::{AUTHORIZATION, HeaderValue};
use crieur_net_http::reqwest::{StatusCode, Url};
use crieur_net_http::{HttpClient, SendFate};
use jiff::{SignedDuration, Timestamp};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How the client authenticates at the token endpoint when it has a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (X's confidential clients, RFC
    /// 6749's preferred way). Without a secret, `client_id` goes in the form body instead.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (LinkedIn, Facebook).
    RequestBody,
}

/// A registered OAuth client and its token endpoint: what both the browser flow and the refresh
/// need. `Debug` never shows the secret.
#[derive(Clone)]
pub struct OAuthApp {
    /// The app's client id (`client_id` in the channel).
    pub client_id: String,
    /// The app's secret, for confidential clients (`client_secret` in the channel, by reference).
    pub client_secret: Option<SecretString>,
    /// The token endpoint (`token_url` in the channel, or the network's default).
    pub token_url: String,
    /// How the secret is sent.
    pub client_auth: ClientAuth,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("token_url", &self.token_url)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

impl OAuthApp {
    /// A public client (no secret) that authenticates with HTTP Basic once given a secret.
    pub fn new(client_id: impl Into<String>, token_url: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            token_url: token_url.into(),
            client_auth: ClientAuth::Basic,
        }
    }

    /// The token URL, parsed and checked (`http` or `https`).
    ///
    /// # Errors
    /// A message naming the URL when it does not parse or has another scheme.
    pub fn parsed_token_url(&self) -> Result<Url, String> {
        parse_endpoint(&self.token_url, "token_url")
    }

    /// The oauth2 client for this app, with the token URL and optionally a redirect URL.
    pub(crate) fn client(&self, redirect: Option<&Url>) -> Result<TokenClient, String> {
        let token_url = TokenUrl::from_url(self.parsed_token_url()?);
        let mut client = oauth2::Client::<
            BasicErrorResponse,
            TokenAnswer,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(self.client_id.clone()))
        .set_token_uri(token_url)
        .set_auth_type(match self.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::RequestBody => AuthType::RequestBody,
        });
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        if let Some(redirect) = redirect {
            client = client.set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        }
        Ok(client)
    }
}

/// Parses an endpoint URL given in the config, naming the key when it is wrong.
pub(crate) fn parse_endpoint(url: &str, key: &str) -> Result<Url, String> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| format!("{key} {url:?} is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{key} {url:?} must be an http or https URL"));
    }
    Ok(parsed)
}

/// The oauth2 client type crieur uses: standard errors, a lenient token answer.
pub(crate) type TokenClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A token endpoint's answer. Unlike oauth2's standard response, `token_type` may be missing
/// (LinkedIn leaves it out) and is then taken as `bearer`. oauth2's secret types hide the tokens
/// from `Debug`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct TokenAnswer {
    access_token: AccessToken,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(skip, default = "bearer")]
    kind: BasicTokenType,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, rename = "scope")]
    scope_text: Option<String>,
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenResponse for TokenAnswer {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.kind
    }
    fn expires_in(&self) -> Option<std::time::Duration> {
        self.expires_in.map(std::time::Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// Tokens obtained from a token endpoint, with the scopes it says it granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The tokens, ready for [`TokenVault::save`](crieur_core::TokenVault::save).
    pub tokens: Tokens,
    /// The granted scopes, when the endpoint listed them (space-separated `scope`).
    pub scopes: Option<Vec<String>>,
}

impl TokenAnswer {
    fn into_granted(self, now: Timestamp) -> Result<Granted, TokenCallError> {
        let access = self.access_token.secret().to_owned();
        if access.is_empty() {
            return Err(TokenCallError::Invalid(
                "the token endpoint gave an empty access token".into(),
            ));
        }
        // An absurd expires_in (beyond ~68 years) is treated as "unknown", never an overflow.
        let expires_at = self
            .expires_in
            .and_then(|s| i64::try_from(s).ok())
            .filter(|s| *s <= i64::from(i32::MAX))
            .and_then(|s| now.checked_add(SignedDuration::from_secs(s)).ok());
        Ok(Granted {
            tokens: Tokens {
                access_token: access,
                refresh_token: self
                    .refresh_token
                    .map(|r| r.secret().to_owned())
                    .filter(|r| !r.is_empty()),
                expires_at,
            },
            scopes: self.scope_text.map(|s| s.split_whitespace().map(str::to_owned).collect()),
        })
    }
}

/// Why a call to the token endpoint failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenCallError {
    /// No answer (connection, timeout), a 5xx or 429, or an answer that could not be read:
    /// nothing is known to be wrong with the tokens. Try again later.
    #[error("{0}")]
    Transient(String),
    /// The endpoint refused with an OAuth error (a 400 or 401 carrying `error`), or answered 401.
    #[error("the token endpoint answered {status} {error}{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code (`invalid_grant`...), or `unauthorized` for a bare 401.
        error: String,
        /// The endpoint's `error_description`, cut to 200 characters, control characters removed.
        description: Option<String>,
    },
    /// Another answer that is neither a token nor an OAuth error (an HTML page from a proxy, a
    /// 200 without `access_token`).
    #[error("{0}")]
    Invalid(String),
}

impl TokenCallError {
    /// True for a refusal that means the grant (refresh token, code) or the client is no
    /// longer accepted: any OAuth error in a 400 or 401 answer.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { status: 400 | 401, .. })
    }
}

/// Bounded, printable text from an untrusted answer.
fn clean(text: &str, max: usize) -> String {
    let mut out: String =
        text.chars().take(max).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out.trim().to_owned()
}

/// A failed request of the adapter below. Carries no header or body.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OAuthHttpError {
    #[error("{0}")]
    Send(String),
    #[error("{0}")]
    Body(String),
    #[error("the token request could not be built: {0}")]
    Build(String),
}

/// oauth2's [`AsyncHttpClient`] over crieur's [`HttpClient`] (which follows no redirects). It
/// remembers the status of the answer, which oauth2's errors do not keep and the classification
/// needs (a 503 must not look like a refusal).
pub(crate) struct OAuthHttp<'a> {
    http: &'a HttpClient,
    label: &'a str,
    status: Mutex<Option<StatusCode>>,
}

impl<'a> OAuthHttp<'a> {
    pub(crate) fn new(http: &'a HttpClient, label: &'a str) -> Self {
        Self { http, label, status: Mutex::new(None) }
    }

    fn status(&self) -> Option<StatusCode> {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = OAuthHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OAuthHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = Url::parse(&parts.uri.to_string())
                .map_err(|e| OAuthHttpError::Build(e.to_string()))?;
            let mut builder = self.http.request(parts.method, url);
            for (name, value) in &parts.headers {
                let mut value: HeaderValue = value.clone();
                if name == AUTHORIZATION {
                    value.set_sensitive(true);
                }
                builder = builder.header(name, value);
            }
            let response = self.http.send(self.label, builder.body(body)).await.map_err(|e| {
                let when = match e.fate() {
                    SendFate::NotSent => "not sent",
                    SendFate::MaybeSent => "no answer",
                };
                OAuthHttpError::Send(format!("{when}: {e}"))
            })?;
            *self.status.lock().unwrap_or_else(|e| e.into_inner()) = Some(response.status);
            let body = response.body.map_err(|e| OAuthHttpError::Body(e.to_string()))?;
            let mut out = HttpResponse::new(body);
            *out.status_mut() = response.status;
            *out.headers_mut() = response.headers;
            Ok(out)
        })
    }
}

/// Sorts oauth2's error, with the status the adapter saw, into a [`TokenCallError`]. Never
/// quotes the body: a token endpoint may echo what it was sent.
fn classify(
    error: RequestTokenError<OAuthHttpError, BasicErrorResponse>,
    status: Option<StatusCode>,
) -> TokenCallError {
    let code = status.map(|s| s.as_u16());
    let shown = code.map_or_else(|| "no status".to_owned(), |c| c.to_string());
    if let Some(s) = status
        && (s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS)
    {
        return TokenCallError::Transient(format!("the token endpoint answered {s}"));
    }
    match error {
        RequestTokenError::Request(e) => TokenCallError::Transient(e.to_string()),
        RequestTokenError::ServerResponse(answer) => TokenCallError::Refused {
            status: code.unwrap_or(0),
            error: clean(answer.error().as_ref(), 80),
            description: answer.error_description().map(|d| clean(d, 200)),
        },
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) if code == Some(401) => {
            TokenCallError::Refused { status: 401, error: "unauthorized".into(), description: None }
        }
        RequestTokenError::Parse(e, _) => TokenCallError::Invalid(format!(
            "the token endpoint's answer ({shown}) could not be read: {}",
            clean(&e.to_string(), 200)
        )),
        RequestTokenError::Other(reason) => TokenCallError::Invalid(format!(
            "the token endpoint's answer ({shown}) could not be used: {}",
            clean(&reason, 200)
        )),
    }
}

/// A token endpoint with the HTTP client and clock to call it.
#[derive(Clone)]
pub struct TokenEndpoint {
    app: OAuthApp,
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint").field("app", &self.app).finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// Checks the app's token URL.
    ///
    /// # Errors
    /// A message naming `token_url` when it does not parse or is not http(s).
    pub fn new(app: OAuthApp, http: HttpClient, clock: Arc<dyn Clock>) -> Result<Self, String> {
        app.parsed_token_url()?;
        Ok(Self { app, http, clock })
    }

    /// The app.
    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// Exchanges an authorization code (`grant_type=authorization_code`), with the PKCE verifier
    /// when the authorization used one. `redirect` must be the redirect URI of the authorization.
    ///
    /// # Errors
    /// [`TokenCallError`]: transient, refused (an expired or reused code), or an unreadable answer.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect: &Url,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<Granted, TokenCallError> {
        let client = self.app.client(Some(redirect)).map_err(TokenCallError::Invalid)?;
        let adapter = OAuthHttp::new(&self.http, "oauth-code-exchange");
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(verifier) = pkce_verifier {
            request = request
                .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()));
        }
        let answer = request.request_async(&adapter).await;
        self.finish(answer, &adapter)
    }

    /// Trades a refresh token for new tokens (`grant_type=refresh_token`). When the answer has
    /// no refresh token, the one sent is kept in the result (endpoints that do not rotate).
    ///
    /// # Errors
    /// [`TokenCallError`]: transient, refused (`invalid_grant`, `invalid_request` for a spent
    /// rotating token, 401), or an unreadable answer.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Granted, TokenCallError> {
        let client = self.app.client(None).map_err(TokenCallError::Invalid)?;
        let adapter = OAuthHttp::new(&self.http, "oauth-refresh");
        let sent = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let answer = client.exchange_refresh_token(&sent).request_async(&adapter).await;
        let mut granted = self.finish(answer, &adapter)?;
        if granted.tokens.refresh_token.is_none() {
            granted.tokens.refresh_token = Some(refresh_token.expose_secret().to_owned());
        }
        Ok(granted)
    }

    fn finish(
        &self,
        answer: Result<TokenAnswer, RequestTokenError<OAuthHttpError, BasicErrorResponse>>,
        adapter: &OAuthHttp<'_>,
    ) -> Result<Granted, TokenCallError> {
        match answer {
            Ok(answer) => answer.into_granted(self.clock.now()),
            Err(e) => Err(classify(e, adapter.status())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answer_without_token_type_is_bearer_and_expiry_is_bounded() {
        let a: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"a","expires_in":5184000,"scope":"x y"}"#)
                .unwrap();
        let now: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let g = a.into_granted(now).unwrap();
        assert_eq!(g.tokens.expires_at, Some("2027-01-25T10:00:00Z".parse().unwrap()));
        assert_eq!(g.scopes, Some(vec!["x".to_owned(), "y".to_owned()]));
        let a: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","expires_in":18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!(a.into_granted(now).unwrap().tokens.expires_at, None);
        let a: TokenAnswer = serde_json::from_str(r#"{"access_token":""}"#).unwrap();
        assert!(matches!(a.into_granted(now), Err(TokenCallError::Invalid(_))));
    }

    #[test]
    fn debug_of_app_and_answer_hides_secrets() {
        let mut app = OAuthApp::new("cid", "https://api.x.com/2/oauth2/token");
        app.client_secret = Some(SecretString::from("very-secret-client"));
        assert!(!format!("{app:?}").contains("very-secret"));
        let a: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"tok-secret-1","refresh_token":"ref-secret-2"}"#,
        )
        .unwrap();
        let shown = format!("{a:?}");
        assert!(!shown.contains("tok-secret") && !shown.contains("ref-secret"), "{shown}");
    }

    #[test]
    fn endpoint_urls_are_checked() {
        assert!(parse_endpoint("ftp://x", "token_url").unwrap_err().contains("token_url"));
        assert!(parse_endpoint("not a url", "token_url").unwrap_err().contains("not a valid"));
        assert!(parse_endpoint(" https://a.test/t ", "token_url").is_ok());
    }

    #[test]
    fn clean_bounds_and_strips() {
        assert_eq!(clean("a\nb", 10), "a b");
        assert_eq!(clean("abcdef", 3), "abc…");
    }
}
