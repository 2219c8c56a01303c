//! The app-password session: created once, kept encrypted in the vault, refreshed before it
//! expires, and created again only when the refresh is refused (logins are limited to 30 per
//! 5 minutes and 300 per day per account).

use std::sync::Arc;

use base64::Engine;
use crieur_core::{Clock, TokenVault, Tokens};
use crieur_net_http::reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use crieur_net_http::reqwest::{Method, StatusCode, Url};
use crieur_net_http::{HttpClient, Response, bearer_header, header_epoch, retry_after};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// How long before its expiry an access token is refreshed.
const REFRESH_MARGIN: SignedDuration = SignedDuration::from_mins(5);

/// The access JWT's lifetime when its `exp` cannot be read (Bluesky's is about 2 hours).
const DEFAULT_LIFETIME: SignedDuration = SignedDuration::from_mins(110);

/// A session: the JWTs and the account's DID (the JWT's `sub`).
#[derive(Clone)]
pub(crate) struct Session {
    pub access: SecretString,
    pub refresh: SecretString,
    pub did: String,
    pub expires_at: Timestamp,
}

/// Why no session could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// The server refused the app password (or the account): a person must fix the config.
    #[error("Bluesky refused the login of {handle}: {reason}; check `handle` and `app_password`")]
    Refused {
        /// The channel's handle.
        handle: String,
        /// The server's reason.
        reason: String,
    },
    /// The login limit or another rate limit is reached; nothing was posted.
    #[error("Bluesky's login limit is reached for {handle} ({reason})")]
    RateLimited {
        /// The channel's handle.
        handle: String,
        /// The server's reason.
        reason: String,
        /// When it may be tried again, when the server said.
        until: Option<Timestamp>,
    },
    /// The server could not be reached or answered something unexpected; nothing was posted.
    #[error("no Bluesky session for {handle}: {reason}")]
    Transient {
        /// The channel's handle.
        handle: String,
        /// What happened.
        reason: String,
    },
}

pub(crate) struct Sessions {
    pub channel: String,
    pub handle: String,
    pub service: Url,
    pub password: SecretString,
    pub vault: Option<Arc<dyn TokenVault>>,
    pub http: HttpClient,
    pub clock: Arc<dyn Clock>,
    pub state: tokio::sync::Mutex<Option<Session>>,
}

impl Sessions {
    fn url(&self, method: &str) -> Result<Url, SessionError> {
        self.service.join(&format!("xrpc/{method}")).map_err(|e| self.transient(e.to_string()))
    }

    fn transient(&self, reason: String) -> SessionError {
        SessionError::Transient { handle: self.handle.clone(), reason }
    }

    /// A session good for at least a few minutes.
    pub async fn current(&self) -> Result<Session, SessionError> {
        let mut state = self.state.lock().await;
        if state.is_none()
            && let Some(vault) = &self.vault
        {
            let stored =
                vault.load(&self.channel).await.map_err(|e| self.transient(e.to_string()))?;
            *state = stored.and_then(|t| from_tokens(&t));
        }
        let session = match state.take() {
            Some(s) if s.expires_at > self.clock.now() + REFRESH_MARGIN => s,
            Some(s) => self.refresh_or_login(&s).await?,
            None => self.login().await?,
        };
        *state = Some(session.clone());
        Ok(session)
    }

    /// After the server called `used`'s access token expired: a new one (unless another task
    /// already got one).
    pub async fn renew(&self, used: &Session) -> Result<Session, SessionError> {
        let mut state = self.state.lock().await;
        if let Some(s) = state.as_ref()
            && s.access.expose_secret() != used.access.expose_secret()
        {
            return Ok(s.clone());
        }
        let base = state.take().unwrap_or_else(|| used.clone());
        let session = self.refresh_or_login(&base).await?;
        *state = Some(session.clone());
        Ok(session)
    }

    async fn refresh_or_login(&self, old: &Session) -> Result<Session, SessionError> {
        match self.refresh(old).await? {
            Some(s) => Ok(s),
            None => self.login().await,
        }
    }

    /// `refreshSession`; `None` when the refresh token is refused.
    async fn refresh(&self, old: &Session) -> Result<Option<Session>, SessionError> {
        let url = self.url("com.atproto.server.refreshSession")?;
        let header = bearer_header(&old.refresh).map_err(|e| self.transient(e.to_string()))?;
        let response = self
            .http
            .send(&self.channel, self.http.request(Method::POST, url).header(AUTHORIZATION, header))
            .await
            .map_err(|e| self.transient(format!("refreshing the session: {e}")))?;
        match response.status.as_u16() {
            200 => {
                let session = self.read(&response)?;
                tracing::info!(channel = %self.channel, "refreshed the Bluesky session");
                self.save(&session).await?;
                Ok(Some(session))
            }
            400 | 401 => {
                tracing::info!(channel = %self.channel, reason = %xrpc_error(&response), "Bluesky refused the session refresh; logging in again");
                Ok(None)
            }
            429 => Err(self.rate_limited(&response)),
            code => Err(self.transient(format!(
                "refreshing the session: Bluesky answered {code}: {}",
                xrpc_error(&response)
            ))),
        }
    }

    /// `createSession` with the app password.
    async fn login(&self) -> Result<Session, SessionError> {
        let url = self.url("com.atproto.server.createSession")?;
        let body = json!({ "identifier": self.handle, "password": self.password.expose_secret() });
        let body = serde_json::to_vec(&body).map_err(|e| self.transient(e.to_string()))?;
        tracing::info!(channel = %self.channel, handle = %self.handle, "logging in to Bluesky with the app password");
        let response = self
            .http
            .send(
                &self.channel,
                self.http
                    .request(Method::POST, url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body),
            )
            .await
            .map_err(|e| self.transient(format!("logging in: {e}")))?;
        match response.status {
            StatusCode::OK => {
                let session = self.read(&response)?;
                self.save(&session).await?;
                Ok(session)
            }
            StatusCode::TOO_MANY_REQUESTS => Err(self.rate_limited(&response)),
            s if s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST => {
                Err(SessionError::Refused {
                    handle: self.handle.clone(),
                    reason: xrpc_error(&response),
                })
            }
            s => Err(self.transient(format!(
                "logging in: Bluesky answered {}: {}",
                s.as_u16(),
                xrpc_error(&response)
            ))),
        }
    }

    fn rate_limited(&self, response: &Response) -> SessionError {
        let until = header_epoch(&response.headers, "ratelimit-reset")
            .or_else(|| retry_after(&response.headers, self.clock.now()));
        SessionError::RateLimited {
            handle: self.handle.clone(),
            reason: xrpc_error(response),
            until,
        }
    }

    fn read(&self, response: &Response) -> Result<Session, SessionError> {
        let v: Value = response
            .json()
            .ok_or_else(|| self.transient("the session answer is not JSON".into()))?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(access), Some(refresh)) = (field("accessJwt"), field("refreshJwt")) else {
            return Err(self.transient("the session answer has no accessJwt or refreshJwt".into()));
        };
        let claims = jwt_claims(&access);
        let did = field("did")
            .or_else(|| claims.as_ref().and_then(|c| c.0.clone()))
            .ok_or_else(|| self.transient("the session answer has no did".into()))?;
        let expires_at =
            claims.and_then(|c| c.1).unwrap_or_else(|| self.clock.now() + DEFAULT_LIFETIME);
        Ok(Session {
            access: SecretString::from(access),
            refresh: SecretString::from(refresh),
            did,
            expires_at,
        })
    }

    async fn save(&self, session: &Session) -> Result<(), SessionError> {
        if let Some(vault) = &self.vault {
            let tokens = Tokens {
                access_token: session.access.expose_secret().to_owned(),
                refresh_token: Some(session.refresh.expose_secret().to_owned()),
                expires_at: Some(session.expires_at),
            };
            vault
                .save(&self.channel, &tokens)
                .await
                .map_err(|e| self.transient(format!("saving the session: {e}")))?;
        }
        Ok(())
    }
}

/// A stored session: the DID comes back from the access JWT's `sub`.
fn from_tokens(t: &Tokens) -> Option<Session> {
    let (did, exp) = jwt_claims(&t.access_token)?;
    Some(Session {
        access: SecretString::from(t.access_token.clone()),
        refresh: SecretString::from(t.refresh_token.clone()?),
        did: did?,
        expires_at: t.expires_at.or(exp)?,
    })
}

/// `(sub, exp)` of a JWT's payload, unverified (the server verifies; crieur only reads when to
/// refresh and whose repository it is).
fn jwt_claims(jwt: &str) -> Option<(Option<String>, Option<Timestamp>)> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let sub = v.get("sub").and_then(Value::as_str).map(str::to_owned);
    let exp = v.get("exp").and_then(Value::as_i64).and_then(|s| Timestamp::from_second(s).ok());
    Some((sub, exp))
}

/// An XRPC error answer as `Error: message`, else the start of the body.
pub(crate) fn xrpc_error(response: &Response) -> String {
    let v = response.json::<Value>();
    let error = v.as_ref().and_then(|v| v.get("error")).and_then(Value::as_str);
    let message = v.as_ref().and_then(|v| v.get("message")).and_then(Value::as_str);
    let text = match (error, message) {
        (Some(e), Some(m)) => format!("{e}: {m}"),
        (Some(e), None) => e.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => response.snippet(300),
    };
    let text: String =
        text.chars().take(300).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.is_empty() { "no details given".into() } else { text }
}

/// The XRPC `error` name of an answer (`ExpiredToken`, `RecordNotFound`...).
pub(crate) fn xrpc_error_name(response: &Response) -> Option<String> {
    response.json::<Value>()?.get("error")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_did_and_expiry_come_from_the_access_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"did:plc:abc","exp":1780000000}"#);
        let (sub, exp) = jwt_claims(&format!("e30.{payload}.sig")).unwrap_or((None, None));
        assert_eq!(sub.as_deref(), Some("did:plc:abc"));
        assert_eq!(exp.map(|t| t.as_second()), Some(1_780_000_000));
        assert!(jwt_claims("not a jwt").is_none());
    }
}
