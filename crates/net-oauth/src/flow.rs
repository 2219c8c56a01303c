//! The authorization code flow in the operator's browser, answered on a loopback redirect.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::endpoint::{Granted, TokenEndpoint, parse_endpoint};
use crate::error::AuthError;

/// The loopback port `crieur auth` listens on unless told otherwise. The app registered at the
/// network must list `http://127.0.0.1:8749/callback` as a callback URL.
pub const DEFAULT_CALLBACK_PORT: u16 = 8749;
/// How long the flow waits for the browser to come back.
pub const DEFAULT_FLOW_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The path of the redirect URI on the loopback listener.
pub const CALLBACK_PATH: &str = "/callback";
/// Cap on one request head read from the browser.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Time allowed to one browser connection to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// One browser authorization: where to send the operator and what to ask for.
#[derive(Debug, Clone)]
pub struct AuthorizeConfig {
    /// The channel being authorized, for messages.
    pub channel: String,
    /// The network's authorization page (`authorize_url` in the channel, or the default).
    pub authorize_url: String,
    /// The scopes to ask for, sent space-separated in `scope`.
    pub scopes: Vec<String>,
    /// Whether to use PKCE with S256 (X requires it; LinkedIn's and Facebook's flows do not use
    /// it).
    pub pkce: bool,
    /// More query parameters for the authorization page (after the standard ones).
    pub extra_params: Vec<(String, String)>,
    /// The loopback port to listen on; 0 picks a free one (only useful when the network accepts
    /// any loopback port).
    pub port: u16,
    /// How long to wait for the browser.
    pub timeout: Duration,
}

impl AuthorizeConfig {
    /// A flow with PKCE, no extra parameters, [`DEFAULT_CALLBACK_PORT`] and
    /// [`DEFAULT_FLOW_TIMEOUT`].
    pub fn new(
        channel: impl Into<String>,
        authorize_url: impl Into<String>,
        scopes: &[&str],
    ) -> Self {
        Self {
            channel: channel.into(),
            authorize_url: authorize_url.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            pkce: true,
            extra_params: Vec::new(),
            port: DEFAULT_CALLBACK_PORT,
            timeout: DEFAULT_FLOW_TIMEOUT,
        }
    }
}

/// Runs the authorization code flow and returns the tokens, without storing them (the caller
/// may have more exchange steps, then calls [`TokenVault::save`](crieur_core::TokenVault::save)).
///
/// Binds `127.0.0.1:{port}`, builds the authorization URL (client id, scopes, a random `state`,
/// the S256 PKCE challenge when asked, the extra parameters, redirect URI
/// `http://127.0.0.1:{port}/callback`) and hands it to `show_url` (the CLI prints it). Then it
/// waits, at most `config.timeout`, for the browser's request on `/callback`: other paths get a
/// 404 and the wait goes on; a `state` that does not match gets a 400 and ends the flow with an
/// error; an `error` parameter (the operator refused) ends it too. The browser gets a small page
/// saying it can close the tab. Last, the code is exchanged at the token endpoint (with the PKCE
/// verifier).
///
/// # Errors
/// [`AuthError::Flow`] when the port cannot be bound, the authorization URL is invalid, the
/// browser does not come back in time, the state does not match, the operator refused, or the
/// token endpoint refused the code; [`AuthError::Transient`] when the token endpoint could not be
/// reached.
pub async fn authorize_in_browser<F>(
    config: &AuthorizeConfig,
    endpoint: &TokenEndpoint,
    show_url: F,
) -> Result<Granted, AuthError>
where
    F: FnOnce(&str) + Send,
{
    let channel = config.channel.clone();
    let flow_err = |reason: String| AuthError::Flow { channel: channel.clone(), reason };
    let authorize_url =
        parse_endpoint(&config.authorize_url, "authorize_url").map_err(&flow_err)?;
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await.map_err(|e| {
        flow_err(format!(
            "cannot listen on 127.0.0.1:{} for the browser's redirect ({e}); choose another port \
             with --port and register http://127.0.0.1:PORT{CALLBACK_PATH} as a callback URL of \
             the app",
            config.port
        ))
    })?;
    let port = listener.local_addr().map_err(|e| flow_err(e.to_string()))?.port();
    let redirect = parse_endpoint(&format!("http://127.0.0.1:{port}{CALLBACK_PATH}"), "redirect")
        .map_err(&flow_err)?;

    let client = BasicClient::new(ClientId::new(endpoint.app().client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(authorize_url))
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(config.scopes.iter().map(|s| Scope::new(s.clone())));
    let mut verifier = None;
    if config.pkce {
        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        verifier = Some(SecretString::from(pkce_verifier.secret().to_owned()));
    }
    for (key, value) in &config.extra_params {
        request = request.add_extra_param(key.clone(), value.clone());
    }
    let (url, state) = request.url();
    tracing::info!(channel = %channel, port, "waiting for the browser's authorization");
    show_url(url.as_str());

    let state = SecretString::from(state.secret().to_owned());
    let code = tokio::time::timeout(config.timeout, wait_for_code(listener, state, &channel))
        .await
        .map_err(|_| {
            flow_err(format!(
                "the browser did not come back within {} minutes; run the command again",
                config.timeout.as_secs().div_ceil(60)
            ))
        })?
        .map_err(&flow_err)?;

    match endpoint.exchange_code(code.expose_secret(), &redirect, verifier.as_ref()).await {
        Ok(granted) => Ok(granted),
        Err(crate::TokenCallError::Transient(reason)) => Err(AuthError::Transient {
            channel: channel.clone(),
            reason: format!("exchanging the authorization code: {reason}"),
        }),
        Err(e) => Err(flow_err(format!(
            "the token endpoint did not accept the authorization code ({e}); check client_id, \
             client_secret and the app's callback URL, then run the command again"
        ))),
    }
}

/// What one browser connection brought.
enum Callback {
    Code(SecretString),
    Failed(String),
}

/// Accepts connections until one brings a request on [`CALLBACK_PATH`]. Each connection is
/// served on its own task so an idle one (browsers open spare connections) blocks nothing.
async fn wait_for_code(
    listener: TcpListener,
    state: SecretString,
    channel: &str,
) -> Result<SecretString, String> {
    let (tx, mut rx) = mpsc::channel::<Callback>(4);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted
                    .map_err(|e| format!("the loopback listener failed: {e}"))?;
                let tx = tx.clone();
                let state = state.clone();
                let channel = channel.to_owned();
                tokio::spawn(async move {
                    if let Some(result) = serve(stream, &state, &channel).await {
                        let _ = tx.send(result).await;
                    }
                });
            }
            Some(result) = rx.recv() => {
                return match result {
                    Callback::Code(code) => Ok(code),
                    Callback::Failed(reason) => Err(reason),
                };
            }
        }
    }
}

/// Reads one request head and answers it. `None` for anything but the callback.
async fn serve(mut stream: TcpStream, state: &SecretString, channel: &str) -> Option<Callback> {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return None,
    };
    let target = head.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        respond(&mut stream, "404 Not Found", "Not found", "Nothing here.").await;
        return None;
    }
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut error_description = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "code" => code = Some(SecretString::from(value.into_owned())),
            "state" => got_state = Some(value.into_owned()),
            "error" => error = Some(clean(&value)),
            "error_description" => error_description = Some(clean(&value)),
            _ => {}
        }
    }
    if got_state.as_deref() != Some(state.expose_secret()) {
        respond(
            &mut stream,
            "400 Bad Request",
            "Authorization failed",
            "The answer does not belong to this authorization (state mismatch). Run the command \
             again.",
        )
        .await;
        return Some(Callback::Failed(
            "the browser's answer carried a state that does not match this authorization (an \
             old tab, or a forged request); run the command again"
                .into(),
        ));
    }
    if let Some(error) = error {
        respond(
            &mut stream,
            "400 Bad Request",
            "Authorization refused",
            "The network did not grant the authorization. You can close this tab.",
        )
        .await;
        let detail = error_description.map(|d| format!(": {d}")).unwrap_or_default();
        return Some(Callback::Failed(format!(
            "the network answered {error}{detail} (refused in the browser?); run the command \
             again and approve the access"
        )));
    }
    let Some(code) = code.filter(|c| !c.expose_secret().is_empty()) else {
        respond(&mut stream, "400 Bad Request", "Authorization failed", "No code was given.").await;
        return Some(Callback::Failed("the browser's answer carried no code".into()));
    };
    let message = format!(
        "crieur received the authorization for channel {}. You can close this tab.",
        html_escape(channel)
    );
    respond(&mut stream, "200 OK", "Authorized", &message).await;
    Some(Callback::Code(code))
}

/// Reads a request head up to the blank line, at most [`MAX_HEAD_BYTES`]; returns its first
/// line. `None` when the connection closes first or sends too much.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD_BYTES {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    String::from_utf8(head[..line_end].to_vec()).ok()
}

async fn respond(stream: &mut TcpStream, status: &str, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>crieur: {title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>"
    );
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn clean(text: &str) -> String {
    text.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
