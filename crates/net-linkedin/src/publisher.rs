//! The LinkedIn [`Publisher`]: `POST /rest/posts` and what its answers mean.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crieur_core::{
    Clock, CredentialCheck, Delivery, MediaLedger, Network, Outcome, Publisher, Reconciled,
    RejectKind, SystemClock,
};
use crieur_net_http::reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use crieur_net_http::reqwest::{Method, StatusCode, Url};
use crieur_net_http::{
    BuildError, HttpClient, HttpLimits, Response, SendError, bearer_header, display_url,
    error_chain, retry_after,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::expiry::{ExpiryWarning, expiry_warning};
use crate::tokens::{Access, LinkedinTokens, NoAccess};
use crate::urn::{Author, InvalidAuthor, find_post_urn, post_url, post_urn_header};

#[path = "metrics.rs"]
mod metrics;

/// LinkedIn's API root.
pub const DEFAULT_API_BASE: &str = "https://api.linkedin.com";

/// The `LinkedIn-Version` crieur sends unless the channel sets `linkedin_version`: September 2026.
///
/// LinkedIn retires a version about a year after its release and then refuses it with
/// 426 `NONEXISTENT_VERSION`; the channel's `linkedin_version` overrides this month until a newer
/// crieur moves it forward.
pub const DEFAULT_LINKEDIN_VERSION: &str = "202609";

/// The `X-Restli-Protocol-Version` the Posts API requires.
pub const RESTLI_PROTOCOL_VERSION: &str = "2.0.0";

/// How much of LinkedIn's answer goes into a reason, in characters.
const SNIPPET_CHARS: usize = 300;

/// Everything a LinkedIn channel needs. [`LinkedinPublisherConfig::new`] fills in the defaults;
/// adjust the public fields after. `Debug` never shows a token.
pub struct LinkedinPublisherConfig {
    /// The channel's name, for logs and messages.
    pub channel: String,
    /// The API root (`api_base`; default [`DEFAULT_API_BASE`]). `http` is allowed (proxies,
    /// tests).
    pub api_base: String,
    /// `author`: `urn:li:person:ID` or `urn:li:organization:NUMBER`.
    pub author: String,
    /// `linkedin_version`: the `LinkedIn-Version` header, `YYYYMM` (default
    /// [`DEFAULT_LINKEDIN_VERSION`]).
    pub linkedin_version: String,
    /// Where the access token comes from.
    pub tokens: LinkedinTokens,
    /// Where the time comes from (default the system clock).
    pub clock: Arc<dyn Clock>,
    /// Timeouts and the cap on an answer's body (default 10 s connect, 30 s total, 1 MiB).
    pub http: HttpLimits,
    /// Where uploaded image URNs are recorded, so a retry reuses them; `None` uploads every
    /// image on every attempt.
    pub ledger: Option<Arc<dyn MediaLedger>>,
}

impl std::fmt::Debug for LinkedinPublisherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedinPublisherConfig")
            .field("channel", &self.channel)
            .field("api_base", &self.api_base)
            .field("author", &self.author)
            .field("linkedin_version", &self.linkedin_version)
            .field("tokens", &self.tokens)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl LinkedinPublisherConfig {
    /// A config with the defaults: LinkedIn's API root, [`DEFAULT_LINKEDIN_VERSION`], the system
    /// clock, 10 s to connect and 30 s per exchange.
    pub fn new(
        channel: impl Into<String>,
        author: impl Into<String>,
        tokens: LinkedinTokens,
    ) -> Self {
        Self {
            channel: channel.into(),
            api_base: DEFAULT_API_BASE.to_owned(),
            author: author.into(),
            linkedin_version: DEFAULT_LINKEDIN_VERSION.to_owned(),
            tokens,
            clock: Arc::new(SystemClock),
            http: HttpLimits::default(),
            ledger: None,
        }
    }
}

/// A LinkedIn channel that cannot be set up. Each message names the channel and what to change.
#[derive(Debug, thiserror::Error)]
pub enum LinkedinError {
    /// `author` is not a person or organization URN.
    #[error("channel {channel}: {error}")]
    Author {
        /// The channel.
        channel: String,
        /// What is wrong, shown in the message (so not also returned by `source()`).
        error: InvalidAuthor,
    },
    /// `linkedin_version` is not `YYYYMM`.
    #[error(
        "channel {channel}: linkedin_version {given:?} is not a LinkedIn API version: write the \
         month as YYYYMM, for example \"{DEFAULT_LINKEDIN_VERSION}\""
    )]
    Version {
        /// The channel.
        channel: String,
        /// The value as written (cut at 40 characters).
        given: String,
    },
    /// `api_base` is not an http(s) URL.
    #[error("channel {channel}: api_base {given:?} is not an http or https URL ({reason})")]
    ApiBase {
        /// The channel.
        channel: String,
        /// The value as written (cut at 200 characters).
        given: String,
        /// Why.
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

/// `YYYYMM` with a month 01-12, optionally followed by `.NN` (LinkedIn's patch versions).
fn valid_version(v: &str) -> bool {
    let (month, patch) = v.split_once('.').map_or((v, None), |(m, p)| (m, Some(p)));
    let month_ok = month.len() == 6
        && month.bytes().all(|b| b.is_ascii_digit())
        && matches!(month.get(4..6).and_then(|m| m.parse::<u8>().ok()), Some(1..=12));
    let patch_ok = patch.is_none_or(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    month_ok && patch_ok
}

/// `{api_base}/rest/posts`, keeping any path prefix of `api_base`.
fn posts_endpoint(api_base: &str) -> Result<Url, String> {
    let mut base = Url::parse(api_base.trim()).map_err(|e| e.to_string())?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(format!("the scheme is {:?}", base.scheme()));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err("a query or fragment has no place in it".into());
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join("rest/posts").map_err(|e| e.to_string())
}

/// The body of `POST /rest/posts`, in the order LinkedIn documents it.
#[derive(Serialize)]
struct PostBody<'a> {
    author: String,
    commentary: &'a str,
    visibility: &'static str,
    distribution: Distribution,
    /// The images (`media` for one, `multiImage` for 2 to 20); absent for a text post.
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<serde_json::Value>,
    #[serde(rename = "lifecycleState")]
    lifecycle_state: &'static str,
    #[serde(rename = "isReshareDisabledByAuthor")]
    is_reshare_disabled_by_author: bool,
}

#[derive(Serialize)]
struct Distribution {
    #[serde(rename = "feedDistribution")]
    feed_distribution: &'static str,
    #[serde(rename = "targetEntities")]
    target_entities: [(); 0],
    #[serde(rename = "thirdPartyDistributionChannels")]
    third_party_distribution_channels: [(); 0],
}

/// The fields of a LinkedIn error answer that decide the outcome. Read leniently from any JSON:
/// a field of an unexpected type is treated as absent.
#[derive(Debug, Default)]
struct ApiError {
    service_error_code: Option<i64>,
    code: Option<String>,
    message: Option<String>,
    /// `errorDetails.inputErrors[].code`.
    input_codes: Vec<String>,
    /// Every string of the answer, for finding a URN wherever LinkedIn put it.
    strings: Vec<String>,
}

impl ApiError {
    fn read(response: &Response) -> Self {
        let Some(value) = response.json::<serde_json::Value>() else {
            return Self::default();
        };
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let input_codes = value
            .pointer("/errorDetails/inputErrors")
            .and_then(serde_json::Value::as_array)
            .map(|errors| errors.iter().filter_map(|e| text(e.get("code"))).collect())
            .unwrap_or_default();
        let mut strings = Vec::new();
        collect_strings(&value, &mut strings, 0);
        Self {
            service_error_code: value.get("serviceErrorCode").and_then(serde_json::Value::as_i64),
            code: text(value.get("code")),
            message: text(value.get("message")),
            input_codes,
            strings,
        }
    }

    fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
            || self.input_codes.iter().any(|c| c == code)
            || self.message.as_deref().is_some_and(|m| m.contains(code))
    }

    /// The existing post a `DUPLICATE_POST` names: in the message first, else anywhere.
    fn duplicate_of(&self) -> Option<String> {
        self.message
            .as_deref()
            .and_then(find_post_urn)
            .or_else(|| self.strings.iter().find_map(|s| find_post_urn(s)))
    }
}

/// Every string in `value`, depth-first, at most 16 levels deep and 256 strings (the body is
/// already capped in bytes by the client).
fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
    if depth > 16 || out.len() >= 256 {
        return;
    }
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => {
            items.iter().for_each(|v| collect_strings(v, out, depth + 1));
        }
        serde_json::Value::Object(map) => {
            map.values().for_each(|v| collect_strings(v, out, depth + 1));
        }
        _ => {}
    }
}

/// The next 00:00 UTC after `now`: LinkedIn's daily limits start afresh then.
pub(crate) fn next_midnight_utc(now: Timestamp) -> Option<Timestamp> {
    let today = now.to_zoned(TimeZone::UTC).date();
    today.tomorrow().ok()?.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// Publishes a channel's posts to LinkedIn through the Posts API (`POST {api_base}/rest/posts`).
///
/// Each attempt sends the delivery's text as `commentary`, unchanged: the policy crate already
/// escaped it in LinkedIn's "little text" format (an unescaped reserved character would cut the
/// post there), so escaping again would show backslashes.
///
/// Outcomes:
///
/// | answer | outcome |
/// |---|---|
/// | 201 with `x-restli-id` | `Published`: `remote_id` = the URN, `url` = `https://www.linkedin.com/feed/update/{urn}/` |
/// | 201 without a usable `x-restli-id` | `Unknown`: the post exists, its URN is unknown; the resend of reconciliation gets it from `DUPLICATE_POST` |
/// | 401 | `Unauthorized` naming `serviceErrorCode` 65600 (invalid token) or 65601 (revoked), after one refresh and resend when a refresh token is at hand |
/// | 403 `ACCESS_DENIED` (any 403) | `Rejected(Forbidden)`, naming the scope the author needs: `w_member_social` or `w_organization_social` |
/// | 422 `DUPLICATE_POST` | with [`Delivery::may_have_been_sent`]: `Published` with the URN the message names (this is the reconciliation); without: `Rejected(Duplicate)`, the URN in the reason |
/// | 400 (`FIELD_ARRAY_SIZE_TOO_HIGH`: too long), other 422 | `Rejected(Invalid)` |
/// | 426 `NONEXISTENT_VERSION` | `Rejected(Invalid)`: the channel's `linkedin_version` must move to a supported month |
/// | 429 | `Retry` at `Retry-After` if given, else the next midnight UTC (daily limits); the channel is held until then ([`Publisher::hold_until`]) |
/// | other 4xx | `Rejected(Other)` |
/// | 5xx, 3xx, any other code; timeout after connecting, reset | `Unknown` |
/// | DNS failure, connection refused, TLS failure, connect timeout | `Retry` |
/// | a thread item (`item > 0`) | `Rejected(Invalid)` without a request (below) |
/// | the token's known expiry has passed | `Unauthorized` without a request |
///
/// Threads: LinkedIn has no replies-as-thread for posts, so crieur does not invent one (separate
/// posts would read out of order in the feed; comments need another API and scope). A thread item
/// is refused with a reason that says to give the channel a `[post.linkedin]` variant without a
/// thread, or to fold the follow-up into the text. The post itself (item 0) goes out normally.
///
/// Reconciliation relies on one documented LinkedIn behaviour: the Posts API refuses a post whose
/// commentary is identical to a recent post of the same author with 422 `DUPLICATE_POST`, and
/// names the existing post's URN in the message. So after an `Unknown`,
/// [`Publisher::reconcile`] answers `NotFound` and the dispatcher resends the same text with
/// `may_have_been_sent`: if the first attempt did create the post, LinkedIn answers
/// `DUPLICATE_POST` and the delivery is marked published with that URN; if it did not, the resend
/// is the first post. The assumption fails only if LinkedIn's duplicate check misses an identical
/// text (for example long after the first attempt); the dispatcher reconciles soon after an
/// `Unknown`, within the window LinkedIn checks.
pub struct LinkedinPublisher {
    pub(crate) channel: String,
    pub(crate) author: Author,
    pub(crate) endpoint: Url,
    pub(crate) version: String,
    tokens: LinkedinTokens,
    pub(crate) http: HttpClient,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ledger: Option<Arc<dyn MediaLedger>>,
    hold: Mutex<Option<Timestamp>>,
    /// The smallest expiry threshold already logged (`u32::MAX`: none yet).
    warned: AtomicU32,
}

impl std::fmt::Debug for LinkedinPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedinPublisher")
            .field("channel", &self.channel)
            .field("author", &self.author)
            .field("endpoint", &display_url(&self.endpoint))
            .field("version", &self.version)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// Which refresh, if any, preceded a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refreshed {
    No,
    Yes,
}

impl LinkedinPublisher {
    /// Checks the config and builds the channel's HTTP client.
    ///
    /// # Errors
    /// [`LinkedinError::Author`] when `author` is not `urn:li:person:ID` or
    /// `urn:li:organization:NUMBER`, [`LinkedinError::Version`] when `linkedin_version` is not
    /// `YYYYMM`, [`LinkedinError::ApiBase`] when `api_base` is not an http(s) URL,
    /// [`LinkedinError::Client`] when the TLS setup fails.
    pub fn new(config: LinkedinPublisherConfig) -> Result<Self, LinkedinError> {
        let channel = config.channel;
        let author = Author::parse(&config.author)
            .map_err(|error| LinkedinError::Author { channel: channel.clone(), error })?;
        let version = config.linkedin_version.trim().to_owned();
        if !valid_version(&version) {
            return Err(LinkedinError::Version {
                channel,
                given: config.linkedin_version.chars().take(40).collect(),
            });
        }
        let endpoint =
            posts_endpoint(&config.api_base).map_err(|reason| LinkedinError::ApiBase {
                channel: channel.clone(),
                given: config.api_base.chars().take(200).collect(),
                reason,
            })?;
        let http = HttpClient::builder()
            .limits(config.http)
            .build()
            .map_err(|error| LinkedinError::Client { channel: channel.clone(), error })?;
        Ok(Self {
            channel,
            author,
            endpoint,
            version,
            tokens: config.tokens,
            http,
            clock: config.clock,
            ledger: config.ledger,
            hold: Mutex::new(None),
            warned: AtomicU32::new(u32::MAX),
        })
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The author the channel posts as.
    pub fn author(&self) -> &Author {
        &self.author
    }

    /// The `LinkedIn-Version` sent.
    pub fn linkedin_version(&self) -> &str {
        &self.version
    }

    /// The warning the daemon should show for this channel's token now (see
    /// [`expiry_warning`](crate::expiry_warning)): `None` when the expiry is unknown or more
    /// than 14 days away, or when no token can be had at all (publishing will say why).
    pub async fn expiry_warning(&self) -> Option<ExpiryWarning> {
        let access = self.tokens.access().await.ok()?;
        expiry_warning(access.expires_at?, self.clock.now())
    }

    /// Logs `warning` at warning level, once per threshold crossed.
    fn note_expiry(&self, warning: ExpiryWarning) {
        let previous = self.warned.fetch_min(warning.threshold_days, Ordering::SeqCst);
        if warning.threshold_days < previous {
            tracing::warn!(
                channel = %self.channel,
                threshold_days = warning.threshold_days,
                days_left = warning.days_left,
                expires_at = %warning.expires_at,
                "{warning}"
            );
        }
    }

    pub(crate) fn set_hold(&self, until: Option<Timestamp>) {
        if let Some(until) = until {
            let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
            *hold = Some(hold.map_or(until, |h| h.max(until)));
        }
    }

    pub(crate) fn auth_hint(&self) -> String {
        match self.tokens {
            LinkedinTokens::Static { .. } => format!(
                "run `crieur auth {}` or set a new access_token in the channel",
                self.channel
            ),
            LinkedinTokens::Managed(_) => format!("run `crieur auth {}`", self.channel),
        }
    }

    fn no_access(&self, no: NoAccess) -> Outcome {
        match no {
            NoAccess::Unauthorized(reason) => Outcome::Unauthorized { reason },
            NoAccess::Retry(reason) => Outcome::Retry { reason, not_before: None },
        }
    }

    /// The token for this attempt, or the outcome when nothing may be sent: no token, or one
    /// whose known expiry has passed (a managed token with a refresh token was refreshed by the
    /// manager before it got here).
    async fn usable_access(&self, now: Timestamp) -> Result<Access, Outcome> {
        let access = self.tokens.access().await.map_err(|no| self.no_access(no))?;
        let Some(warning) = access.expires_at.and_then(|at| expiry_warning(at, now)) else {
            return Ok(access);
        };
        self.note_expiry(warning);
        if !warning.is_expired() {
            return Ok(access);
        }
        Err(Outcome::Unauthorized {
            reason: format!(
                "channel {}: the LinkedIn access token expired at {}; nothing was sent; {}",
                self.channel,
                warning.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
                self.auth_hint()
            ),
        })
    }

    async fn send(
        &self,
        delivery: &Delivery,
        access: &Access,
        body: &[u8],
    ) -> Result<Result<Response, SendError>, Outcome> {
        let bearer = bearer_header(&access.token).map_err(|e| Outcome::Unauthorized {
            reason: format!("channel {}: {e}; {}", self.channel, self.auth_hint()),
        })?;
        let request = self
            .http
            .request(Method::POST, self.endpoint.clone())
            .header(AUTHORIZATION, bearer)
            .header("LinkedIn-Version", self.version.as_str())
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        Ok(self.http.send(&delivery.id, request).await)
    }

    /// What LinkedIn said, for a reason: its `message`, else the start of the body.
    fn said(response: &Response, error: &ApiError) -> String {
        let text = match &error.message {
            Some(m) => m.chars().take(SNIPPET_CHARS).collect(),
            None => response.snippet(SNIPPET_CHARS),
        };
        let code = error.code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
        match (code.is_empty(), text.is_empty()) {
            (true, true) => String::new(),
            (_, true) => format!(" ({})", code.trim()),
            _ => format!("{code}: {text}"),
        }
    }

    /// Why LinkedIn refused the token, from its 401.
    fn unauthorized(&self, response: &Response, refreshed: Refreshed) -> String {
        let error = ApiError::read(response);
        let what = match error.service_error_code {
            Some(65600) => "serviceErrorCode 65600: the access token is invalid".to_owned(),
            Some(65601) => {
                "serviceErrorCode 65601: the access token was revoked (by the member, an admin \
                 of the app, or a password change)"
                    .to_owned()
            }
            Some(65602) => "serviceErrorCode 65602: the access token has expired".to_owned(),
            Some(other) => format!("serviceErrorCode {other}{}", Self::said(response, &error)),
            None => format!("no serviceErrorCode{}", Self::said(response, &error)),
        };
        let after =
            if refreshed == Refreshed::Yes { ", even with a freshly refreshed token" } else { "" };
        format!(
            "channel {}: LinkedIn answered 401{after} ({what}); nothing was published",
            self.channel
        )
    }

    /// Maps LinkedIn's answer to an outcome (the table on the type) and holds the channel after
    /// a 429; 401 is handled by the caller.
    fn outcome_for(&self, delivery: &Delivery, response: &Response, now: Timestamp) -> Outcome {
        let outcome = self.answer_outcome(delivery, response, now);
        if response.status == StatusCode::TOO_MANY_REQUESTS
            && let Outcome::Retry { not_before, .. } = &outcome
        {
            self.set_hold(*not_before);
        }
        outcome
    }

    /// The outcome LinkedIn's answer to `POST /rest/posts` means (the table on
    /// [`LinkedinPublisher`]), from the status, headers and body alone: no request, no change to
    /// the channel's state (the caller holds the channel after a 429). A 401 is read as final
    /// (`Unauthorized`, as for a token that cannot be refreshed); `now` reads a relative
    /// `Retry-After` and gives the next midnight UTC.
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
            return self.published(delivery, response);
        }
        if status == StatusCode::UNAUTHORIZED {
            let refused = self.unauthorized(response, Refreshed::No);
            return Outcome::Unauthorized { reason: format!("{refused}; {}", self.auth_hint()) };
        }
        let error = ApiError::read(response);
        let said = Self::said(response, &error);
        match status {
            StatusCode::FORBIDDEN => Outcome::Rejected {
                kind: RejectKind::Forbidden,
                reason: format!(
                    "LinkedIn answered 403{said}: the token of channel {} may not post as {}: it \
                     needs the {} scope{}; {} with an account that has it",
                    self.channel,
                    self.author,
                    self.author.write_scope(),
                    match self.author {
                        Author::Organization(_) => {
                            " and the member must be an administrator (or content admin) of the \
                             Page"
                        }
                        Author::Person(_) => "",
                    },
                    self.auth_hint()
                ),
            },
            StatusCode::UNPROCESSABLE_ENTITY if error.has_code("DUPLICATE_POST") => {
                self.duplicate(delivery, &error, &said)
            }
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                let hint = if error.has_code("FIELD_ARRAY_SIZE_TOO_HIGH") {
                    "the text is too long for LinkedIn (3000 characters at most); shorten it"
                } else {
                    "LinkedIn refused the post as invalid; fix the text or the channel's author"
                };
                Outcome::Rejected {
                    kind: RejectKind::Invalid,
                    reason: format!("LinkedIn answered {code}{said}: {hint}"),
                }
            }
            StatusCode::UPGRADE_REQUIRED => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "LinkedIn answered 426{said}: API version {} is retired; set \
                     `linkedin_version` in channel {} to a month LinkedIn supports (versions live \
                     about a year; for example \"{DEFAULT_LINKEDIN_VERSION}\" or newer)",
                    self.version, self.channel
                ),
            },
            StatusCode::TOO_MANY_REQUESTS => {
                let not_before =
                    retry_after(&response.headers, now).or_else(|| next_midnight_utc(now));
                Outcome::Retry {
                    reason: format!(
                        "LinkedIn answered 429{said}: the daily limit of channel {} is reached; \
                         it starts afresh at midnight UTC",
                        self.channel
                    ),
                    not_before,
                }
            }
            _ if status.is_client_error() => Outcome::Rejected {
                kind: RejectKind::Other,
                reason: format!(
                    "LinkedIn answered {code}{said} to POST {}",
                    display_url(&self.endpoint)
                ),
            },
            _ => Outcome::Unknown {
                reason: format!(
                    "LinkedIn answered {code}{said}; the post may have been created, the next \
                     attempt will tell (LinkedIn refuses an identical post with DUPLICATE_POST)"
                ),
            },
        }
    }

    fn duplicate(&self, delivery: &Delivery, error: &ApiError, said: &str) -> Outcome {
        match (error.duplicate_of(), delivery.may_have_been_sent) {
            (Some(urn), true) => {
                tracing::info!(
                    channel = %self.channel,
                    delivery = %delivery.id,
                    remote_id = %urn,
                    "LinkedIn already has this post from an earlier attempt: marked published"
                );
                let url = Some(post_url(&urn));
                Outcome::Published { remote_id: urn, url }
            }
            (Some(urn), false) => Outcome::Rejected {
                kind: RejectKind::Duplicate,
                reason: format!(
                    "LinkedIn refused the post as a duplicate of {urn} ({}), an earlier post of \
                     {} with the same text; change the text to publish it again",
                    post_url(&urn),
                    self.author
                ),
            },
            (None, true) => Outcome::Unknown {
                reason: format!(
                    "LinkedIn answered 422 DUPLICATE_POST{said} without naming the existing \
                     post: it is probably the one an earlier attempt created; settle it with \
                     `crieur resolve {} {} --published URL`",
                    delivery.post, self.channel
                ),
            },
            (None, false) => Outcome::Rejected {
                kind: RejectKind::Duplicate,
                reason: format!(
                    "LinkedIn answered 422 DUPLICATE_POST{said}: {} already posted this text; \
                     change it to publish it again",
                    self.author
                ),
            },
        }
    }

    fn published(&self, delivery: &Delivery, response: &Response) -> Outcome {
        let code = response.status.as_u16();
        let header = response.headers.get("x-restli-id").and_then(|v| v.to_str().ok());
        let Some(urn) = header.and_then(post_urn_header) else {
            tracing::warn!(
                channel = %self.channel,
                delivery = %delivery.id,
                status = code,
                "LinkedIn accepted the post but named no usable x-restli-id"
            );
            return Outcome::Unknown {
                reason: format!(
                    "LinkedIn answered {code} but gave no post URN in x-restli-id{}; the post \
                     exists, and the next attempt learns its URN from LinkedIn's DUPLICATE_POST",
                    header
                        .map(|h| format!(" (got {:?})", h.chars().take(80).collect::<String>()))
                        .unwrap_or_default()
                ),
            };
        };
        let url = post_url(&urn);
        tracing::info!(
            channel = %self.channel,
            delivery = %delivery.id,
            remote_id = %urn,
            url = %url,
            "published to LinkedIn"
        );
        Outcome::Published { remote_id: urn, url: Some(url) }
    }
}

#[async_trait::async_trait]
impl Publisher for LinkedinPublisher {
    fn network(&self) -> Network {
        Network::Linkedin
    }

    fn engagement(&self) -> Option<&dyn crieur_core::engagement::Engagement> {
        Some(self)
    }

    async fn publish(&self, delivery: &Delivery) -> Outcome {
        if delivery.item > 0 {
            return Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "thread item {} of post {}: LinkedIn has no threads, so crieur publishes \
                     only the post itself on channel {}; give the post a [post.linkedin] variant \
                     with no thread, or fold this text into the post",
                    delivery.item, delivery.post, self.channel
                ),
            };
        }
        let now = self.clock.now();
        let mut access = match self.usable_access(now).await {
            Ok(access) => access,
            Err(outcome) => return outcome,
        };
        let mut refreshed = Refreshed::No;
        let content = match self.media_content(delivery, &access).await {
            Ok(content) => content,
            Err(outcome) => return outcome,
        };
        let body = PostBody {
            author: self.author.to_string(),
            commentary: &delivery.text,
            visibility: "PUBLIC",
            distribution: Distribution {
                feed_distribution: "MAIN_FEED",
                target_entities: [],
                third_party_distribution_channels: [],
            },
            content,
            lifecycle_state: "PUBLISHED",
            is_reshare_disabled_by_author: false,
        };
        let body = match serde_json::to_vec(&body) {
            Ok(body) => body,
            Err(e) => {
                return Outcome::Rejected {
                    kind: RejectKind::Invalid,
                    reason: format!("the LinkedIn post could not be serialized: {e}"),
                };
            }
        };
        tracing::debug!(
            channel = %self.channel,
            delivery = %delivery.id,
            attempt = delivery.attempt,
            may_have_been_sent = delivery.may_have_been_sent,
            body_bytes = body.len(),
            "posting to LinkedIn"
        );
        loop {
            let response = match self.send(delivery, &access, &body).await {
                Ok(Ok(response)) => response,
                Ok(Err(err)) => {
                    tracing::warn!(
                        channel = %self.channel,
                        delivery = %delivery.id,
                        error = %error_chain(&err),
                        "the LinkedIn request failed"
                    );
                    return err.outcome();
                }
                Err(outcome) => return outcome,
            };
            if response.status != StatusCode::UNAUTHORIZED {
                return self.outcome_for(delivery, &response, now);
            }
            // A 401 is a refusal before any processing: sending again is safe.
            let refused = self.unauthorized(&response, refreshed);
            if !access.refreshable {
                tracing::warn!(
                    channel = %self.channel,
                    delivery = %delivery.id,
                    reason = %refused,
                    "LinkedIn refused the token"
                );
                return Outcome::Unauthorized {
                    reason: format!("{refused}; {}", self.auth_hint()),
                };
            }
            tracing::info!(
                channel = %self.channel,
                delivery = %delivery.id,
                reason = %refused,
                "LinkedIn refused the token: refreshing it once"
            );
            match self.tokens.refresh(&access.token).await {
                Ok(fresh) => {
                    access = fresh;
                    refreshed = Refreshed::Yes;
                }
                Err(NoAccess::Unauthorized(why)) => {
                    return Outcome::Unauthorized { reason: format!("{refused}; {why}") };
                }
                // The token endpoint or the vault failed for now: the 401 proved nothing was
                // published, so this is a retry.
                Err(NoAccess::Retry(why)) => {
                    return Outcome::Retry {
                        reason: format!("{refused}; {why}"),
                        not_before: None,
                    };
                }
            }
        }
    }

    /// Always [`Reconciled::NotFound`], so the dispatcher resends: on LinkedIn the resend *is* the
    /// check. An identical commentary from the same author is refused with 422 `DUPLICATE_POST`
    /// naming the existing post, and [`LinkedinPublisher`] turns that answer into `Published`
    /// when [`Delivery::may_have_been_sent`] is set. LinkedIn has no cheap search of one's own
    /// recent posts with the scopes crieur asks for, so no other proof is available.
    async fn reconcile(&self, _delivery: &Delivery) -> Reconciled {
        Reconciled::NotFound
    }

    /// The reset instant of the last 429 (its `Retry-After`, else the next midnight UTC).
    fn hold_until(&self) -> Option<Timestamp> {
        *self.hold.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One read with the channel's token: `GET /v2/userinfo` for a member author (OpenID
    /// Connect), `GET /rest/organizations/{id}` for a Page. 200 is accepted (with the token's
    /// expiry), 401 refused (with LinkedIn's `serviceErrorCode` explained), 403 refused (the
    /// token lacks the scope), anything else unreachable. An expired token is refused without a
    /// request.
    async fn check_credentials(&self) -> CredentialCheck {
        let access = match self.usable_access(self.clock.now()).await {
            Ok(access) => access,
            Err(Outcome::Unauthorized { reason }) => return CredentialCheck::Refused { reason },
            Err(other) => {
                return CredentialCheck::Unreachable { reason: format!("{other:?}") };
            }
        };
        let (path, name) = match &self.author {
            Author::Person(_) => ("../v2/userinfo".to_owned(), "/name"),
            Author::Organization(id) => (format!("organizations/{id}"), "/localizedName"),
        };
        let url = match self.endpoint.join(&path) {
            Ok(url) => url,
            Err(e) => return CredentialCheck::Unreachable { reason: e.to_string() },
        };
        let mut access = access;
        let response = loop {
            let bearer = match bearer_header(&access.token) {
                Ok(b) => b,
                Err(e) => {
                    let reason = format!("channel {}: {e}; {}", self.channel, self.auth_hint());
                    return CredentialCheck::Refused { reason };
                }
            };
            let mut request =
                self.http.request(Method::GET, url.clone()).header(AUTHORIZATION, bearer);
            if matches!(self.author, Author::Organization(_)) {
                request = request
                    .header("LinkedIn-Version", self.version.as_str())
                    .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION);
            }
            let response = match self.http.send("doctor", request).await {
                Ok(r) => r,
                Err(e) => return CredentialCheck::Unreachable { reason: error_chain(&e) },
            };
            // A managed token refused with 401 is refreshed once, as a post would be.
            if response.status != StatusCode::UNAUTHORIZED || !access.refreshable {
                break response;
            }
            access = match self.tokens.refresh(&access.token).await {
                Ok(fresh) => fresh,
                Err(NoAccess::Unauthorized(reason)) => {
                    return CredentialCheck::Refused {
                        reason: format!("{reason}; {}", self.auth_hint()),
                    };
                }
                Err(NoAccess::Retry(reason)) => return CredentialCheck::Unreachable { reason },
            };
        };
        match response.status.as_u16() {
            200 => {
                let account = response
                    .json::<serde_json::Value>()
                    .and_then(|v| v.pointer(name).and_then(|n| n.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| self.author.to_string());
                CredentialCheck::Accepted { account, expires_at: access.expires_at }
            }
            401 => CredentialCheck::Refused {
                reason: format!(
                    "{}; {}",
                    self.unauthorized(&response, Refreshed::No)
                        .replace("; nothing was published", ""),
                    self.auth_hint()
                ),
            },
            403 => CredentialCheck::Refused {
                reason: format!(
                    "LinkedIn answered 403{}: the token may not read {} (it needs the {} scope);                      {}",
                    Self::said(&response, &ApiError::read(&response)),
                    self.author,
                    match self.author {
                        Author::Person(_) => "openid and profile",
                        Author::Organization(_) => "rw_organization_admin",
                    },
                    self.auth_hint()
                ),
            },
            code => CredentialCheck::Unreachable {
                reason: format!(
                    "LinkedIn answered {code}{}",
                    Self::said(&response, &ApiError::read(&response))
                ),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod unit {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["202609", "202510", "202401.01"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "2026-09", "20260", "202613", "202600", "2026090", "v202609", "202609.1"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        let e = |s: &str| posts_endpoint(s).map(|u| u.to_string());
        assert_eq!(e("https://api.linkedin.com").unwrap(), "https://api.linkedin.com/rest/posts");
        assert_eq!(e("https://api.linkedin.com/").unwrap(), "https://api.linkedin.com/rest/posts");
        assert_eq!(
            e("http://127.0.0.1:9/proxy/li").unwrap(),
            "http://127.0.0.1:9/proxy/li/rest/posts"
        );
        for bad in ["", "api.linkedin.com", "ftp://x/", "https://x/?a=1", "file:///tmp"] {
            assert!(e(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn midnight() {
        let at = |s: &str| next_midnight_utc(s.parse().unwrap()).unwrap().to_string();
        assert_eq!(at("2026-11-03T10:00:00Z"), "2026-11-04T00:00:00Z");
        assert_eq!(at("2026-12-31T23:59:59Z"), "2027-01-01T00:00:00Z");
        assert_eq!(at("2026-11-03T00:00:00Z"), "2026-11-04T00:00:00Z");
        assert_eq!(next_midnight_utc(Timestamp::MAX), None);
    }

    #[test]
    fn body_is_exactly_the_documented_shape() {
        let body = PostBody {
            author: "urn:li:organization:1".into(),
            commentary: "a \\# b",
            visibility: "PUBLIC",
            distribution: Distribution {
                feed_distribution: "MAIN_FEED",
                target_entities: [],
                third_party_distribution_channels: [],
            },
            content: None,
            lifecycle_state: "PUBLISHED",
            is_reshare_disabled_by_author: false,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"author":"urn:li:organization:1","commentary":"a \\# b","visibility":"PUBLIC","distribution":{"feedDistribution":"MAIN_FEED","targetEntities":[],"thirdPartyDistributionChannels":[]},"lifecycleState":"PUBLISHED","isReshareDisabledByAuthor":false}"#
        );
    }
}
