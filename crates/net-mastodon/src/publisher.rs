//! The Mastodon [`Publisher`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::{
    Attachment, Clock, CredentialCheck, Delivery, Network, Outcome, Publisher, Reconciled,
    RejectKind, SystemClock, TokenVault,
};
use crieur_net_http::reqwest::header::{AUTHORIZATION, HeaderMap};
use crieur_net_http::reqwest::{Method, StatusCode, Url};
use crieur_net_http::{
    BuildError, HttpClient, HttpLimits, Response, SendError, bearer_header, display_url,
    error_chain, retry_after,
};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::key::idempotency_key;

#[path = "metrics.rs"]
mod metrics;

/// How much of an answer goes into a reason when it has no `error`, in characters.
const SNIPPET_CHARS: usize = 300;
/// How long the server keeps an `Idempotency-Key`.
pub const KEY_LIFETIME: SignedDuration = SignedDuration::from_secs(3600);
/// Statuses read back per page when reconciling (the API's maximum).
const PAGE: usize = 40;
/// Pages read back at most when reconciling.
const MAX_PAGES: usize = 10;
/// Slack between crieur's clock and the server's when comparing `created_at`.
const CLOCK_SLACK: SignedDuration = SignedDuration::from_secs(300);

/// Where the channel's access token comes from.
#[derive(Clone)]
pub enum MastodonAuth {
    /// `access_token` in the channel: used as is; a 401 is final.
    Static(SecretString),
    /// The token `crieur auth` stored for the channel (Mastodon tokens do not expire).
    Stored(Arc<dyn TokenVault>),
}

impl std::fmt::Debug for MastodonAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Static([redacted])"),
            Self::Stored(_) => f.write_str("Stored"),
        }
    }
}

/// Everything a Mastodon channel needs. Build it with [`MastodonConfig::new`] and adjust the
/// public fields. `Debug` never shows a token.
#[derive(Clone)]
pub struct MastodonConfig {
    /// The channel's name, for logs, messages and the token vault.
    pub channel: String,
    /// The server's root URL (`instance` in the channel).
    pub instance: String,
    /// The access token's source.
    pub auth: MastodonAuth,
    /// `visibility` sent with every status whose post does not set its own (`public`,
    /// `unlisted`, `private`).
    pub visibility: String,
    /// Timeouts and the cap on an answer's body (default 10 s connect, 30 s total, 1 MiB).
    pub http: HttpLimits,
    /// Where "now" comes from (rate-limit holds, the key's hour).
    pub clock: Arc<dyn Clock>,
    /// How long to wait between two looks at media still being processed (default 1 s).
    pub media_poll: Duration,
    /// How long media may take to be processed before the attempt gives up with a `Retry`
    /// (default 2 minutes).
    pub media_wait: Duration,
}

impl std::fmt::Debug for MastodonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonConfig")
            .field("channel", &self.channel)
            .field("instance", &self.instance)
            .field("auth", &self.auth)
            .field("visibility", &self.visibility)
            .finish_non_exhaustive()
    }
}

impl MastodonConfig {
    /// The defaults: public visibility, 10 s connect, 30 s total, 1 MiB answers, the system
    /// clock, media polled every second for at most 2 minutes.
    pub fn new(
        channel: impl Into<String>,
        instance: impl Into<String>,
        auth: MastodonAuth,
    ) -> Self {
        Self {
            channel: channel.into(),
            instance: instance.into(),
            auth,
            visibility: "public".to_owned(),
            http: HttpLimits::default(),
            clock: Arc::new(SystemClock),
            media_poll: Duration::from_secs(1),
            media_wait: Duration::from_secs(120),
        }
    }
}

/// A Mastodon channel that cannot be set up. Messages name the channel and what to change.
#[derive(Debug, thiserror::Error)]
pub enum MastodonError {
    /// `instance` does not parse or is not http(s).
    #[error("channel {channel}: instance {url:?} is not a usable http(s) URL ({reason})")]
    Instance {
        /// The channel.
        channel: String,
        /// The value as written.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("channel {channel}: {error}")]
    Client {
        /// The channel.
        channel: String,
        /// The cause, shown in the message (so not also returned by `source()`).
        error: BuildError,
    },
}

/// Publishes statuses, threads and media to one account on a Mastodon-compatible server.
///
/// | answer to `POST /api/v1/statuses` | outcome |
/// |---|---|
/// | 200 with `id` | `Published`, with the status's `url` (else its `uri`) |
/// | 2xx without a readable id | `Unknown` |
/// | 401 | `Unauthorized` (set a new `access_token` or run `crieur auth`) |
/// | 403 | `Rejected(Forbidden)` with the server's `error` |
/// | 404 (the status replied to is gone) | `Rejected(Invalid)` |
/// | 422 "not finished processing" | a wait: the same request (same key) again after `media_poll`, until `media_wait` |
/// | other 422, other 4xx | `Rejected(Invalid)` / `Rejected(Other)` with the server's `error` |
/// | 429 | `Retry`, `not_before` = `X-RateLimit-Reset` (or `Retry-After`) |
/// | 5xx, 3xx, a timeout after sending, a reset connection | `Unknown` (a resend carries the same key) |
/// | DNS, connect or TLS failure | `Retry` |
///
/// Media (`POST /api/v2/media`, then `GET /api/v1/media/:id` until 200) never make an attempt
/// `Unknown`: an upload is not a post, so any failure there is a `Retry` (or `Unauthorized`,
/// or `Rejected(Invalid)` for a 422) and the status is not sent.
///
/// Rate limits: every answer's `X-RateLimit-Remaining` and `X-RateLimit-Reset` (an ISO 8601
/// instant) are remembered; at 0 the channel is held ([`Publisher::hold_until`]) and `publish`
/// answers `Retry` without a request until the reset.
///
/// Reconciliation reads the account back (`verify_credentials`, then its statuses since the
/// attempt, newest first, up to 400) and compares each candidate's source text
/// (`GET /api/v1/statuses/:id/source`) and `in_reply_to_id` with the delivery's.
pub struct MastodonPublisher {
    channel: String,
    base: Url,
    auth: MastodonAuth,
    visibility: String,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    media_poll: Duration,
    media_wait: Duration,
    hold: Mutex<Option<Timestamp>>,
    account_id: Mutex<Option<String>>,
}

impl std::fmt::Debug for MastodonPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonPublisher")
            .field("channel", &self.channel)
            .field("instance", &display_url(&self.base))
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl MastodonPublisher {
    /// Checks `instance` and builds the channel's HTTP client.
    ///
    /// # Errors
    /// [`MastodonError::Instance`] for an `instance` that is not an http(s) URL;
    /// [`MastodonError::Client`] when the TLS setup fails.
    pub fn new(config: MastodonConfig) -> Result<Self, MastodonError> {
        let channel = config.channel;
        let bad = |reason: String| MastodonError::Instance {
            channel: channel.clone(),
            url: config.instance.clone(),
            reason,
        };
        let base = crieur_net_http::api_base(&config.instance).map_err(bad)?;
        let http = HttpClient::builder()
            .limits(config.http)
            .build()
            .map_err(|error| MastodonError::Client { channel: channel.clone(), error })?;
        Ok(Self {
            channel,
            base,
            auth: config.auth,
            visibility: config.visibility,
            http,
            clock: config.clock,
            media_poll: config.media_poll,
            media_wait: config.media_wait,
            hold: Mutex::new(None),
            account_id: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> Result<Url, Outcome> {
        self.base.join(path).map_err(|e| Outcome::Rejected {
            kind: RejectKind::Other,
            reason: format!("cannot build the URL for {path}: {e}"),
        })
    }

    async fn token(&self) -> Result<SecretString, Outcome> {
        match &self.auth {
            MastodonAuth::Static(t) => Ok(t.clone()),
            MastodonAuth::Stored(vault) => match vault.load(&self.channel).await {
                Ok(Some(t)) => Ok(SecretString::from(t.access_token)),
                Ok(None) => Err(Outcome::Unauthorized {
                    reason: format!(
                        "channel {} has no token: run `crieur auth {}` (or set `access_token`)",
                        self.channel, self.channel
                    ),
                }),
                Err(e) => Err(Outcome::Retry { reason: e.to_string(), not_before: None }),
            },
        }
    }

    /// Sends one request with the channel's token; remembers the rate-limit headers.
    async fn send(
        &self,
        log_id: &str,
        token: &SecretString,
        request: crieur_net_http::reqwest::RequestBuilder,
    ) -> Result<Response, SendError> {
        let request = match bearer_header(token) {
            Ok(h) => request.header(AUTHORIZATION, h),
            Err(_) => request,
        };
        let response = self.http.send(log_id, request).await?;
        self.note_limits(&response.headers);
        Ok(response)
    }

    fn note_limits(&self, headers: &HeaderMap) {
        let Some(remaining) = crieur_net_http::header_u64(headers, "x-ratelimit-remaining") else {
            return;
        };
        let reset = rate_reset(headers);
        let until = if remaining == 0 { reset } else { None };
        if let Some(until) = until {
            tracing::warn!(channel = %self.channel, until = %until, "Mastodon rate limit reached; holding the channel");
        }
        *self.hold.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }

    fn held(&self) -> Option<Timestamp> {
        let hold = *self.hold.lock().unwrap_or_else(|e| e.into_inner());
        hold.filter(|h| *h > self.clock.now())
    }

    /// Uploads one attachment and waits until the server has processed it; its media id.
    async fn upload(
        &self,
        d: &Delivery,
        token: &SecretString,
        a: &Attachment,
    ) -> Result<String, Outcome> {
        let part = reqwest::multipart::Part::bytes(a.data.to_vec())
            .file_name(file_name(a))
            .mime_str(&a.content_type)
            .map_err(|e| Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("{}: content type {:?}: {e}", a.path, a.content_type),
            })?;
        let form =
            reqwest::multipart::Form::new().part("file", part).text("description", a.alt.clone());
        let url = self.url("api/v2/media")?;
        let response = self
            .send(&d.id, token, self.http.request(Method::POST, url).multipart(form))
            .await
            .map_err(|e| media_failure(&a.path, &e))?;
        let id = match response.status.as_u16() {
            200 | 202 => media_id(&response).ok_or_else(|| Outcome::Retry {
                reason: format!("{}: the server's answer to the upload has no media id", a.path),
                not_before: None,
            })?,
            _ => return Err(self.media_refused(&a.path, &response)),
        };
        if response.status == StatusCode::OK && ready(&response) {
            return Ok(id);
        }
        let started = std::time::Instant::now();
        loop {
            if started.elapsed() >= self.media_wait {
                return Err(Outcome::Retry {
                    reason: format!(
                        "{}: the server was still processing the upload after {} s",
                        a.path,
                        self.media_wait.as_secs()
                    ),
                    not_before: None,
                });
            }
            tokio::time::sleep(self.media_poll).await;
            let url = self.url(&format!("api/v1/media/{id}"))?;
            let response = self
                .send(&d.id, token, self.http.request(Method::GET, url))
                .await
                .map_err(|e| media_failure(&a.path, &e))?;
            match response.status.as_u16() {
                200 if ready(&response) => return Ok(id),
                200 | 206 => {}
                _ => return Err(self.media_refused(&a.path, &response)),
            }
        }
    }

    fn media_refused(&self, path: &str, response: &Response) -> Outcome {
        let code = response.status.as_u16();
        let why = server_error(response);
        match code {
            401 => Outcome::Unauthorized {
                reason: format!("the server refused the token (401): {why}"),
            },
            413 | 415 | 422 => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("the server refused {path} ({code}): {why}"),
            },
            429 => Outcome::Retry {
                reason: format!("rate limited uploading {path} (429)"),
                not_before: rate_reset(&response.headers)
                    .or_else(|| retry_after(&response.headers, self.clock.now())),
            },
            _ => Outcome::Retry {
                reason: format!("uploading {path}: {code}: {why}"),
                not_before: None,
            },
        }
    }

    /// Posts the status, waiting while the server finishes processing its media.
    async fn post_status(&self, d: &Delivery, token: &SecretString, body: &Value) -> Outcome {
        let key = idempotency_key(d);
        let started = std::time::Instant::now();
        loop {
            let url = match self.url("api/v1/statuses") {
                Ok(u) => u,
                Err(o) => return o,
            };
            let request =
                self.http.request(Method::POST, url).header("Idempotency-Key", &key).json(body);
            let response = match self.send(&d.id, token, request).await {
                Ok(r) => r,
                Err(e) => return e.outcome(),
            };
            if response.status == StatusCode::UNPROCESSABLE_ENTITY
                && server_error(&response).contains("not finished processing")
                && started.elapsed() < self.media_wait
            {
                tracing::debug!(channel = %self.channel, delivery = %d.id, "media still processing; waiting");
                tokio::time::sleep(self.media_poll).await;
                continue;
            }
            return self.status_outcome(d, &response);
        }
    }

    fn status_outcome(&self, d: &Delivery, response: &Response) -> Outcome {
        let code = response.status.as_u16();
        if response.status.is_success() {
            let status = response.json::<Value>();
            let id = status.as_ref().and_then(|v| v.get("id")).and_then(Value::as_str);
            return match id.filter(|id| !id.is_empty()) {
                Some(id) => {
                    let url = status
                        .as_ref()
                        .and_then(|v| {
                            v.get("url")
                                .and_then(Value::as_str)
                                .or_else(|| v.get("uri").and_then(Value::as_str))
                        })
                        .map(str::to_owned);
                    tracing::info!(channel = %self.channel, delivery = %d.id, remote_id = %id, "published to Mastodon");
                    Outcome::Published { remote_id: id.to_owned(), url }
                }
                None => Outcome::Unknown {
                    reason: format!(
                        "the server answered {code} without a readable status id; the status may be there"
                    ),
                },
            };
        }
        let why = server_error(response);
        match code {
            401 => Outcome::Unauthorized {
                reason: format!("the server refused the token (401): {why}"),
            },
            403 => Outcome::Rejected {
                kind: RejectKind::Forbidden,
                reason: format!("the server refused the status (403): {why}"),
            },
            404 | 422 => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("the server refused the status ({code}): {why}"),
            },
            429 => {
                let until = rate_reset(&response.headers)
                    .or_else(|| retry_after(&response.headers, self.clock.now()));
                if let Some(until) = until {
                    let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
                    *hold = Some(hold.map_or(until, |h| h.max(until)));
                }
                Outcome::Retry { reason: "rate limited (429)".to_owned(), not_before: until }
            }
            400..=499 => Outcome::Rejected {
                kind: RejectKind::Other,
                reason: format!("the server refused the status ({code}): {why}"),
            },
            _ => Outcome::Unknown {
                reason: format!("the server answered {code}: {why}; the status may be there"),
            },
        }
    }

    /// The account's id, from `verify_credentials` (cached).
    async fn account_id(&self, d: &Delivery, token: &SecretString) -> Result<String, String> {
        if let Some(id) = self.account_id.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(id);
        }
        let url =
            self.url("api/v1/accounts/verify_credentials").map_err(|_| "bad URL".to_owned())?;
        let r = self.get_ok(d, token, url).await?;
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .ok_or("verify_credentials answered without an account id")?
            .to_owned();
        *self.account_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
        Ok(id)
    }

    async fn get_ok(&self, d: &Delivery, token: &SecretString, url: Url) -> Result<Value, String> {
        let shown = display_url(&url);
        let r = self
            .send(&d.id, token, self.http.request(Method::GET, url))
            .await
            .map_err(|e| format!("reading {shown}: {e}"))?;
        if !r.status.is_success() {
            return Err(format!("reading {shown}: {}: {}", r.status.as_u16(), server_error(&r)));
        }
        r.json::<Value>().ok_or_else(|| format!("reading {shown}: an answer that is not JSON"))
    }

    async fn find(&self, d: &Delivery) -> Result<Option<(String, Option<String>)>, String> {
        let token = self.token().await.map_err(|o| format!("{o:?}"))?;
        let account = self.account_id(d, &token).await?;
        let since = d.attempt_started_at - CLOCK_SLACK;
        let mut max_id: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self
                .url(&format!("api/v1/accounts/{account}/statuses"))
                .map_err(|_| "bad URL".to_owned())?;
            url.query_pairs_mut().append_pair("limit", &PAGE.to_string());
            if let Some(m) = &max_id {
                url.query_pairs_mut().append_pair("max_id", m);
            }
            let page = self.get_ok(d, &token, url).await?;
            let statuses = page.as_array().ok_or("the account's statuses are not a list")?;
            let mut older = statuses.is_empty();
            for s in statuses {
                let id = s.get("id").and_then(Value::as_str).ok_or("a status without id")?;
                max_id = Some(id.to_owned());
                let created: Timestamp = s
                    .get("created_at")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse().ok())
                    .ok_or("a status without a readable created_at")?;
                if created < since {
                    older = true;
                    break;
                }
                let reply = s.get("in_reply_to_id").and_then(Value::as_str);
                if reply != d.reply_to.as_deref() {
                    continue;
                }
                let url = self
                    .url(&format!("api/v1/statuses/{id}/source"))
                    .map_err(|_| "bad URL".to_owned())?;
                let source = self.get_ok(d, &token, url).await?;
                if source.get("text").and_then(Value::as_str).map(str::trim) == Some(d.text.trim())
                {
                    let link = s
                        .get("url")
                        .and_then(Value::as_str)
                        .or_else(|| s.get("uri").and_then(Value::as_str))
                        .map(str::to_owned);
                    return Ok(Some((id.to_owned(), link)));
                }
            }
            if older {
                return Ok(None);
            }
        }
        Err(format!(
            "more than {} statuses since the attempt; look on the server",
            PAGE * MAX_PAGES
        ))
    }
}

#[async_trait::async_trait]
impl Publisher for MastodonPublisher {
    fn network(&self) -> Network {
        Network::Mastodon
    }

    fn engagement(&self) -> Option<&dyn crieur_core::engagement::Engagement> {
        Some(self)
    }

    async fn publish(&self, d: &Delivery) -> Outcome {
        if let Some(until) = self.held() {
            return Outcome::Retry {
                reason: format!("rate limit of {} reached; waiting for its reset", self.channel),
                not_before: Some(until),
            };
        }
        let token = match self.token().await {
            Ok(t) => t,
            Err(o) => return o,
        };
        let mut media_ids = Vec::with_capacity(d.media.len());
        for a in &d.media {
            match self.upload(d, &token, a).await {
                Ok(id) => media_ids.push(id),
                Err(o) => return o,
            }
        }
        let visibility = d.options.visibility.map_or(self.visibility.as_str(), |v| v.as_str());
        let mut body = json!({ "status": d.text, "visibility": visibility });
        if let Some(language) = d.options.lang.as_deref().map(language) {
            body["language"] = json!(language);
        }
        if let Some(r) = &d.reply_to {
            body["in_reply_to_id"] = json!(r);
        }
        if !media_ids.is_empty() {
            body["media_ids"] = json!(media_ids);
        }
        self.post_status(d, &token, &body).await
    }

    async fn reconcile(&self, d: &Delivery) -> Reconciled {
        match self.find(d).await {
            Ok(Some((remote_id, url))) => Reconciled::Found { remote_id, url },
            Ok(None) => Reconciled::NotFound,
            Err(reason) => Reconciled::CannotTell { reason },
        }
    }

    fn hold_until(&self) -> Option<Timestamp> {
        self.held()
    }

    /// `GET /api/v1/accounts/verify_credentials`: never a post. Mastodon tokens do not expire.
    async fn check_credentials(&self) -> CredentialCheck {
        let token = match self.token().await {
            Ok(t) => t,
            Err(Outcome::Unauthorized { reason }) => return CredentialCheck::Refused { reason },
            Err(Outcome::Retry { reason, .. }) => return CredentialCheck::Unreachable { reason },
            Err(other) => return CredentialCheck::Unreachable { reason: format!("{other:?}") },
        };
        let url = match self.url("api/v1/accounts/verify_credentials") {
            Ok(u) => u,
            Err(o) => return CredentialCheck::Unreachable { reason: format!("{o:?}") },
        };
        let response = match self.send("doctor", &token, self.http.request(Method::GET, url)).await
        {
            Ok(r) => r,
            Err(e) => return CredentialCheck::Unreachable { reason: error_chain(&e) },
        };
        let code = response.status.as_u16();
        match code {
            200 => {
                let account = response.json::<Value>().unwrap_or(Value::Null);
                if let Some(id) = account.get("id").and_then(Value::as_str) {
                    *self.account_id.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(id.to_owned());
                }
                let acct = account.get("acct").and_then(Value::as_str).unwrap_or("?");
                let host = self.base.host_str().unwrap_or("the server");
                CredentialCheck::Accepted {
                    account: format!("@{acct} on {host}"),
                    expires_at: None,
                }
            }
            401 | 403 => CredentialCheck::Refused {
                reason: format!(
                    "the server refused the access token ({code}: {}); set a new `access_token` \
                     or run `crieur auth {}`",
                    server_error(&response),
                    self.channel
                ),
            },
            _ => CredentialCheck::Unreachable {
                reason: format!("the server answered {code}: {}", server_error(&response)),
            },
        }
    }
}

/// `X-RateLimit-Reset`: an ISO 8601 instant (Mastodon), or Unix seconds (some compatible servers).
fn rate_reset(headers: &HeaderMap) -> Option<Timestamp> {
    let v = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim();
    v.parse::<Timestamp>()
        .ok()
        .or_else(|| v.parse::<i64>().ok().and_then(|s| Timestamp::from_second(s).ok()))
}

/// The `language` Mastodon takes (ISO 639-1): the primary subtag of the post's `lang`, lower
/// case (`pt-BR` is sent as `pt`).
fn language(lang: &str) -> String {
    lang.split('-').next().unwrap_or(lang).to_ascii_lowercase()
}

fn media_failure(path: &str, e: &SendError) -> Outcome {
    Outcome::Retry { reason: format!("uploading {path}: {e}"), not_before: None }
}

fn media_id(r: &Response) -> Option<String> {
    r.json::<Value>()?.get("id")?.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Processed: the answer's `url` is set.
fn ready(r: &Response) -> bool {
    r.json::<Value>().is_some_and(|v| v.get("url").is_some_and(|u| !u.is_null()))
}

fn file_name(a: &Attachment) -> String {
    a.path.rsplit('/').next().unwrap_or("upload").to_owned()
}

/// The server's `error` (and `error_description`), else the start of the body.
fn server_error(r: &Response) -> String {
    r.json::<Value>()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| r.snippet(SNIPPET_CHARS))
}

#[cfg(test)]
impl MastodonPublisher {
    /// [`MastodonPublisher::post_status`], for the tests of the processing wait.
    pub(crate) async fn post_status_for_tests(
        &self,
        d: &Delivery,
        token: &SecretString,
        body: &Value,
    ) -> Outcome {
        self.post_status(d, token, body).await
    }
}
