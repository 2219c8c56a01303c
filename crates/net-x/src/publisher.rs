//! The X [`Publisher`].

use std::sync::{Arc, Mutex};

use crieur_core::{
    Clock, CredentialCheck, Delivery, MediaLedger, Network, Outcome, Publisher, Reconciled,
    RejectKind, SystemClock,
};
use crieur_net_http::reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use crieur_net_http::reqwest::{Method, RequestBuilder, StatusCode, Url};
use crieur_net_http::{
    BuildError, HttpClient, HttpLimits, Response, SendError, bearer_header, display_url,
    error_chain, retry_after,
};
use crieur_net_oauth::{AuthError, TokenManager};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::XRateLimits;
use crate::matching::same_post;
use crate::media::XMediaSettings;

/// X's public API root.
pub const DEFAULT_API_BASE: &str = "https://api.x.com";

/// How much of an answer goes into a reason when it has no `detail`, in characters.
const SNIPPET_CHARS: usize = 300;

/// Where the channel's access token comes from.
#[derive(Clone)]
pub enum XAuth {
    /// Managed tokens: refreshed near expiry and after a 401 (OAuth 2.0 with `client_id`).
    Managed(Arc<TokenManager>),
    /// A fixed token used as is; a 401 is final.
    Static(SecretString),
}

impl std::fmt::Debug for XAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Managed(m) => f.debug_tuple("Managed").field(m).finish(),
            Self::Static(_) => f.write_str("Static([redacted])"),
        }
    }
}

/// Everything an X channel needs. Build it with [`XPublisherConfig::new`] and adjust the public
/// fields. `Debug` never shows a token.
#[derive(Clone)]
pub struct XPublisherConfig {
    /// The channel's name, for logs and messages.
    pub channel: String,
    /// The API root (`api_base` in the channel; default [`DEFAULT_API_BASE`]).
    pub api_base: String,
    /// The access token's source.
    pub auth: XAuth,
    /// Timeouts and the cap on an answer's body (default 10 s connect, 30 s total, 1 MiB).
    pub http: HttpLimits,
    /// Where "now" comes from (rate-limit holds, media expiry).
    pub clock: Arc<dyn Clock>,
    /// Where uploaded media ids are recorded, so a retry reuses those still valid; `None`
    /// uploads every attachment on every attempt.
    pub ledger: Option<Arc<dyn MediaLedger>>,
    /// How media are uploaded (chunk size, processing wait).
    pub media: XMediaSettings,
}

impl std::fmt::Debug for XPublisherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XPublisherConfig")
            .field("channel", &self.channel)
            .field("api_base", &self.api_base)
            .field("auth", &self.auth)
            .field("http", &self.http)
            .field("ledger", &self.ledger.is_some())
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

impl XPublisherConfig {
    /// The defaults: the public API root, 10 s connect, 30 s total, 1 MiB answers, the system
    /// clock.
    pub fn new(channel: impl Into<String>, auth: XAuth) -> Self {
        Self {
            channel: channel.into(),
            api_base: DEFAULT_API_BASE.to_owned(),
            auth,
            http: HttpLimits::default(),
            clock: Arc::new(SystemClock),
            ledger: None,
            media: XMediaSettings::default(),
        }
    }
}

/// An X channel that cannot be set up. Messages name the channel and what to change.
#[derive(Debug, thiserror::Error)]
pub enum XError {
    /// `api_base` does not parse or is not http(s).
    #[error("channel {channel}: api_base {url:?} is not a usable http(s) URL ({reason})")]
    ApiBase {
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

/// Publishes posts and thread items to X with `POST /2/tweets`.
///
/// Each delivery is one post; a thread item (`item > 0`) replies to `reply_to`, the id of the
/// previous item that the dispatcher passes along.
///
/// | answer | outcome |
/// |---|---|
/// | 201 with `data.id` | `Published`, URL `https://x.com/i/web/status/{id}` |
/// | 2xx without a readable id | `Unknown` (it may be on X: reconcile) |
/// | 401 | refresh the token once and send again (a 401 was not processed); a second 401 or a refused refresh: `Unauthorized`; a refresh that failed for now: `Retry` |
/// | 403 whose detail says "duplicate" | `Rejected(Duplicate)` |
/// | other 403 | `Rejected(Forbidden)` with X's detail |
/// | 400 | `Rejected(Invalid)` with X's detail |
/// | other 4xx | `Rejected(Other)` with X's detail |
/// | 429 | `Retry`, `not_before` = `x-rate-limit-reset` (or the exhausted 24-hour window's reset) |
/// | 5xx, 3xx, a timeout after sending, a reset connection | `Unknown` |
/// | DNS, connect or TLS failure | `Retry` |
///
/// Rate limits: every answer's `x-rate-limit-remaining` (and 24-hour `remaining`) is remembered;
/// at 0, [`Publisher::hold_until`] returns the reset instant, and `publish` answers `Retry` with
/// that `not_before` without sending anything until then.
///
/// Reconciliation: `GET /2/users/me` (the id is cached), then the user's posts since one minute
/// before the attempt (`GET /2/users/{id}/tweets`, the latest 100), compared by text with
/// links, entities and whitespace normalized (see [`same_post`]).
pub struct XPublisher {
    pub(crate) channel: String,
    api_base: Url,
    auth: XAuth,
    pub(crate) http: HttpClient,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hold: Mutex<Option<Timestamp>>,
    pub(crate) ledger: Option<Arc<dyn MediaLedger>>,
    pub(crate) media: XMediaSettings,
    user_id: Mutex<Option<String>>,
}

impl std::fmt::Debug for XPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XPublisher")
            .field("channel", &self.channel)
            .field("api_base", &display_url(&self.api_base))
            .field("auth", &self.auth)
            .field("hold", &*self.hold.lock().unwrap_or_else(|e| e.into_inner()))
            .finish_non_exhaustive()
    }
}

/// What came back from a request sent with the channel's token.
pub(crate) enum Sent {
    Answer(Response),
    Failed(SendError),
    Auth(Outcome),
}

impl XPublisher {
    /// Checks `api_base` and builds the channel's HTTP client.
    ///
    /// # Errors
    /// [`XError::ApiBase`] for an `api_base` that is not an http(s) URL; [`XError::Client`] when
    /// the TLS setup fails.
    pub fn new(config: XPublisherConfig) -> Result<Self, XError> {
        let channel = config.channel;
        let bad = |reason: String| XError::ApiBase {
            channel: channel.clone(),
            url: config.api_base.clone(),
            reason,
        };
        let api_base = crieur_net_http::api_base(&config.api_base).map_err(bad)?;
        let http = HttpClient::builder()
            .limits(config.http)
            .build()
            .map_err(|error| XError::Client { channel: channel.clone(), error })?;
        Ok(Self {
            channel,
            api_base,
            auth: config.auth,
            http,
            clock: config.clock,
            hold: Mutex::new(None),
            user_id: Mutex::new(None),
            ledger: config.ledger,
            media: config.media,
        })
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub(crate) fn url(&self, path: &str) -> Result<Url, String> {
        self.api_base.join(path).map_err(|e| format!("cannot build the URL for {path}: {e}"))
    }

    fn auth_outcome(&self, error: &AuthError) -> Outcome {
        if error.is_transient() {
            Outcome::Retry { reason: error.to_string(), not_before: None }
        } else {
            Outcome::Unauthorized { reason: error.to_string() }
        }
    }

    async fn token(&self) -> Result<SecretString, AuthError> {
        match &self.auth {
            XAuth::Managed(m) => m.current().await,
            XAuth::Static(t) => Ok(t.clone()),
        }
    }

    /// Sends the request that `build` makes with the token; after a 401, refreshes once and
    /// sends again (X refused the first one, so nothing was created).
    pub(crate) async fn send_authorized(
        &self,
        log_id: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Sent {
        self.send_with_token(log_id, build, true).await
    }

    /// As `send_authorized`; `note_limits` false leaves the channel's publishing hold alone (reads
    /// of figures have their own rate limits and must never hold up publishing).
    pub(crate) async fn send_with_token(
        &self,
        log_id: &str,
        build: impl Fn() -> RequestBuilder,
        note_limits: bool,
    ) -> Sent {
        let mut token = match self.token().await {
            Ok(token) => token,
            Err(e) => return Sent::Auth(self.auth_outcome(&e)),
        };
        let mut refreshed = false;
        loop {
            let header = match bearer_header(&token) {
                Ok(h) => h,
                Err(e) => {
                    return Sent::Auth(Outcome::Unauthorized {
                        reason: format!("channel {}: {e}", self.channel),
                    });
                }
            };
            let response = match self.http.send(log_id, build().header(AUTHORIZATION, header)).await
            {
                Ok(r) => r,
                Err(e) => return Sent::Failed(e),
            };
            if note_limits {
                self.note_limits(&response);
            }
            if response.status != StatusCode::UNAUTHORIZED || refreshed {
                return Sent::Answer(response);
            }
            let XAuth::Managed(manager) = &self.auth else {
                return Sent::Answer(response);
            };
            tracing::info!(channel = %self.channel, delivery = log_id, "X answered 401; refreshing the token");
            match manager.refresh_after_401(&token).await {
                Ok(fresh) => {
                    token = fresh;
                    refreshed = true;
                }
                Err(e) => return Sent::Auth(self.auth_outcome(&e)),
            }
        }
    }

    /// Remembers the rate-limit windows of an answer that carries them.
    fn note_limits(&self, response: &Response) {
        let limits = XRateLimits::from_headers(&response.headers);
        let known = [limits.endpoint, limits.app_24h, limits.user_24h]
            .iter()
            .any(|w| w.remaining.is_some());
        if known {
            let until = limits.hold_until();
            if let Some(until) = until {
                tracing::warn!(channel = %self.channel, until = %until, "X rate limit reached; holding the channel");
            }
            *self.hold.lock().unwrap_or_else(|e| e.into_inner()) = until;
        }
    }

    /// Maps X's answer to an outcome and holds the channel after a 429.
    fn outcome_for(&self, response: &Response, delivery: &Delivery) -> Outcome {
        let outcome = self.answer_outcome(delivery, response, self.clock.now());
        if response.status == StatusCode::TOO_MANY_REQUESTS
            && let Outcome::Retry { not_before: Some(until), .. } = &outcome
        {
            let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
            *hold = Some(hold.map_or(*until, |h| h.max(*until)));
        }
        outcome
    }

    /// The outcome X's answer to `POST /2/tweets` means (the table on [`XPublisher`]), computed
    /// from the status, headers and body alone: no request, no change to the channel's state
    /// (the caller holds the channel after a 429). `now` reads a relative `Retry-After`. A 401
    /// here is final (`Unauthorized`): the refresh and resend happen before this is called.
    ///
    /// Public for the parsers' fuzz targets; not meant as API.
    #[doc(hidden)]
    pub fn answer_outcome(
        &self,
        delivery: &Delivery,
        response: &Response,
        now: Timestamp,
    ) -> Outcome {
        let status = response.status;
        let code = status.as_u16();
        if status.is_success() {
            let id = response
                .json::<Value>()
                .and_then(|v| v.pointer("/data/id").and_then(Value::as_str).map(str::to_owned))
                .filter(|id| {
                    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit())
                });
            return match id {
                Some(id) => {
                    tracing::info!(channel = %self.channel, delivery = %delivery.id, remote_id = %id, "published to X");
                    let url = format!("https://x.com/i/web/status/{id}");
                    Outcome::Published { remote_id: id, url: Some(url) }
                }
                None => Outcome::Unknown {
                    reason: format!(
                        "X answered {code} without a readable post id; the post may be on X"
                    ),
                },
            };
        }
        let detail = problem_detail(response);
        match code {
            400 => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("X refused the post (400): {detail}"),
            },
            401 => Outcome::Unauthorized {
                reason: format!(
                    "X refused the access token (401: {detail}); run `crieur auth {}`",
                    self.channel
                ),
            },
            403 if detail.to_ascii_lowercase().contains("duplicate") => Outcome::Rejected {
                kind: RejectKind::Duplicate,
                reason: format!("X refused a duplicate post (403): {detail}"),
            },
            403 => Outcome::Rejected {
                kind: RejectKind::Forbidden,
                reason: format!("X does not allow this post (403): {detail}"),
            },
            429 => {
                let limits = XRateLimits::from_headers(&response.headers);
                let not_before = [
                    limits.endpoint.reset,
                    limits.app_24h.exhausted_until(),
                    limits.user_24h.exhausted_until(),
                ]
                .into_iter()
                .flatten()
                .max()
                .or_else(|| retry_after(&response.headers, now));
                Outcome::Retry { reason: format!("X rate limit (429): {detail}"), not_before }
            }
            _ if status.is_client_error() => Outcome::Rejected {
                kind: RejectKind::Other,
                reason: format!("X refused the post ({code}): {detail}"),
            },
            _ if status.is_redirection() => Outcome::Unknown {
                reason: format!(
                    "X answered {code} (a redirect, not followed: check api_base); the post may \
                     not be on X"
                ),
            },
            _ => Outcome::Unknown {
                reason: format!("X answered {code}; the post may be on X: {detail}"),
            },
        }
    }

    fn held(&self) -> Option<Timestamp> {
        let hold = *self.hold.lock().unwrap_or_else(|e| e.into_inner());
        hold.filter(|h| *h > self.clock.now())
    }

    /// The user id of the token's owner, cached after the first lookup.
    async fn user_id(&self, log_id: &str) -> Result<String, String> {
        if let Some(id) = self.user_id.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(id);
        }
        let url = self.url("2/users/me")?;
        let response = match self
            .send_authorized(log_id, || self.http.request(Method::GET, url.clone()))
            .await
        {
            Sent::Answer(r) => r,
            Sent::Failed(e) => return Err(format!("looking up the user: {e}")),
            Sent::Auth(o) => return Err(format!("looking up the user: {}", outcome_reason(&o))),
        };
        if response.status != StatusCode::OK {
            return Err(format!(
                "looking up the user: X answered {}: {}",
                response.status.as_u16(),
                problem_detail(&response)
            ));
        }
        let id = response
            .json::<Value>()
            .and_then(|v| v.pointer("/data/id").and_then(Value::as_str).map(str::to_owned))
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| "looking up the user: X's answer has no data.id".to_owned())?;
        *self.user_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
        Ok(id)
    }

    /// The answer to the listing of the user's posts since the attempt started.
    async fn recent_posts(&self, delivery: &Delivery) -> Result<Response, String> {
        let user = self.user_id(&delivery.id).await?;
        let since = delivery
            .attempt_started_at
            .checked_sub(SignedDuration::from_mins(1))
            .unwrap_or(delivery.attempt_started_at);
        // Whole seconds: X wants YYYY-MM-DDTHH:mm:ssZ.
        let since = Timestamp::from_second(since.as_second()).unwrap_or(since);
        let mut url = self.url(&format!("2/users/{user}/tweets"))?;
        url.query_pairs_mut()
            .append_pair("max_results", "100")
            .append_pair("start_time", &since.to_string())
            .append_pair("tweet.fields", "created_at,text");
        match self
            .send_authorized(&delivery.id, || self.http.request(Method::GET, url.clone()))
            .await
        {
            Sent::Answer(r) => Ok(r),
            Sent::Failed(e) => Err(format!("listing recent posts: {e}")),
            Sent::Auth(o) => Err(format!("listing recent posts: {}", outcome_reason(&o))),
        }
    }
}

/// What X's answer to `GET /2/users/{id}/tweets` says about `delivery`: `Found` when one of the
/// listed posts has its text (compared by [`same_post`]), `NotFound` when none has, `CannotTell`
/// for an error status or an unreadable answer. Pure: no request, no state.
///
/// Public for the parsers' fuzz targets; not meant as API.
#[doc(hidden)]
pub fn reconcile_answer(delivery: &Delivery, response: &Response) -> Reconciled {
    match find_in_answer(delivery, response) {
        Ok(Some((remote_id, url))) => Reconciled::Found { remote_id, url: Some(url) },
        Ok(None) => Reconciled::NotFound,
        Err(reason) => Reconciled::CannotTell { reason },
    }
}

fn find_in_answer(
    delivery: &Delivery,
    response: &Response,
) -> Result<Option<(String, String)>, String> {
    if response.status != StatusCode::OK {
        return Err(format!(
            "listing recent posts: X answered {}: {}",
            response.status.as_u16(),
            problem_detail(response)
        ));
    }
    let answer: Value =
        response.json().ok_or_else(|| "listing recent posts: X's answer is not JSON".to_owned())?;
    let posts = match answer.get("data") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(posts)) => posts,
        Some(_) => return Err("listing recent posts: X's data is not a list".into()),
    };
    for post in posts {
        let (Some(id), Some(text)) =
            (post.get("id").and_then(Value::as_str), post.get("text").and_then(Value::as_str))
        else {
            continue;
        };
        if same_post(&delivery.text, text) {
            return Ok(Some((id.to_owned(), format!("https://x.com/i/web/status/{id}"))));
        }
    }
    Ok(None)
}

pub(crate) fn outcome_reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Retry { reason, .. }
        | Outcome::Rejected { reason, .. }
        | Outcome::Unauthorized { reason }
        | Outcome::Unknown { reason } => reason,
        Outcome::Published { .. } => "published",
    }
}

/// X's explanation: `detail`, else `title`, else the first `errors[].message`, else the start of
/// the body.
pub(crate) fn problem_detail(response: &Response) -> String {
    let answer = response.json::<Value>();
    let text = answer.as_ref().and_then(|v| {
        v.get("detail")
            .and_then(Value::as_str)
            .or_else(|| v.get("title").and_then(Value::as_str))
            .or_else(|| v.pointer("/errors/0/message").and_then(Value::as_str))
            .or_else(|| v.pointer("/errors/0/detail").and_then(Value::as_str))
    });
    match text {
        Some(t) => {
            let mut out: String = t
                .chars()
                .take(SNIPPET_CHARS)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if t.chars().nth(SNIPPET_CHARS).is_some() {
                out.push('…');
            }
            out
        }
        None => {
            let snippet = response.snippet(SNIPPET_CHARS);
            if snippet.is_empty() { "no details given".into() } else { snippet }
        }
    }
}

#[async_trait::async_trait]
impl Publisher for XPublisher {
    fn network(&self) -> Network {
        Network::X
    }

    async fn publish(&self, delivery: &Delivery) -> Outcome {
        if let Some(until) = self.held() {
            return Outcome::Retry {
                reason: format!(
                    "X's rate limit for channel {} is used up until {until}; nothing was sent",
                    self.channel
                ),
                not_before: Some(until),
            };
        }
        let mut body = json!({ "text": delivery.text });
        match (&delivery.reply_to, delivery.item) {
            (Some(parent), _) => {
                body["reply"] = json!({ "in_reply_to_tweet_id": parent });
            }
            (None, 0) => {}
            (None, item) => {
                return Outcome::Rejected {
                    kind: RejectKind::Other,
                    reason: format!(
                        "thread item {item} has no previous post to reply to; nothing was sent"
                    ),
                };
            }
        }
        if !delivery.media.is_empty() {
            match self.media_ids(delivery).await {
                Ok(ids) => body["media"] = json!({ "media_ids": ids }),
                Err(outcome) => return outcome,
            }
        }
        let body = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Rejected {
                    kind: RejectKind::Invalid,
                    reason: format!("the post could not be serialized: {e}"),
                };
            }
        };
        let url = match self.url("2/tweets") {
            Ok(u) => u,
            Err(reason) => return Outcome::Rejected { kind: RejectKind::Other, reason },
        };
        tracing::debug!(
            channel = %self.channel,
            delivery = %delivery.id,
            item = delivery.item,
            attempt = delivery.attempt,
            "posting to X"
        );
        let build = || {
            self.http
                .request(Method::POST, url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        };
        match self.send_authorized(&delivery.id, build).await {
            Sent::Answer(response) => self.outcome_for(&response, delivery),
            Sent::Auth(outcome) => outcome,
            Sent::Failed(err) => {
                tracing::warn!(channel = %self.channel, delivery = %delivery.id, error = %error_chain(&err), "the X request failed");
                err.outcome()
            }
        }
    }

    async fn reconcile(&self, delivery: &Delivery) -> Reconciled {
        let found = match self.recent_posts(delivery).await {
            Ok(response) => reconcile_answer(delivery, &response),
            Err(reason) => Reconciled::CannotTell { reason },
        };
        if let Reconciled::Found { remote_id, .. } = &found {
            tracing::info!(channel = %self.channel, delivery = %delivery.id, remote_id = %remote_id, "found the post on X");
        }
        found
    }

    fn hold_until(&self) -> Option<Timestamp> {
        self.held()
    }

    /// `GET /2/users/me` with the channel's token (refreshed once after a 401, as a post would
    /// be): 200 is accepted (the account is `@username`), 401 or a refused refresh is refused,
    /// anything else is unreachable.
    async fn check_credentials(&self) -> CredentialCheck {
        let url = match self.url("2/users/me") {
            Ok(url) => url,
            Err(reason) => return CredentialCheck::Unreachable { reason },
        };
        let response = match self
            .send_authorized("doctor", || self.http.request(Method::GET, url.clone()))
            .await
        {
            Sent::Answer(r) => r,
            Sent::Failed(e) => return CredentialCheck::Unreachable { reason: error_chain(&e) },
            Sent::Auth(Outcome::Unauthorized { reason }) => {
                return CredentialCheck::Refused { reason };
            }
            Sent::Auth(o) => {
                return CredentialCheck::Unreachable { reason: outcome_reason(&o).to_owned() };
            }
        };
        let code = response.status.as_u16();
        match code {
            200 => {
                let name = response.json::<Value>().and_then(|v| {
                    v.pointer("/data/username").and_then(Value::as_str).map(str::to_owned)
                });
                let expires_at = match &self.auth {
                    XAuth::Managed(m) => m.expires_at().await.ok().flatten(),
                    XAuth::Static(_) => None,
                };
                CredentialCheck::Accepted {
                    account: name.map_or_else(|| "an unnamed account".into(), |n| format!("@{n}")),
                    expires_at,
                }
            }
            401 | 403 => CredentialCheck::Refused {
                reason: format!(
                    "X refused the access token ({code}: {}); run `crieur auth {}`",
                    problem_detail(&response),
                    self.channel
                ),
            },
            _ => CredentialCheck::Unreachable {
                reason: format!("X answered {code}: {}", problem_detail(&response)),
            },
        }
    }

    fn engagement(&self) -> Option<&dyn crieur_core::engagement::Engagement> {
        Some(self)
    }
}
