//! The Facebook Page [`Publisher`].

use std::sync::Arc;

use crieur_core::{
    Clock, CredentialCheck, Delivery, MediaLedger, Network, Outcome, Publisher, Reconciled,
    RejectKind, SystemClock, TokenVault,
};
use crieur_net_http::reqwest::header::AUTHORIZATION;
use crieur_net_http::reqwest::{Method, Url};
use crieur_net_http::{
    BuildError, HttpClient, HttpLimits, Response, bearer_header, error_chain, retry_after,
};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;

use crate::FacebookUsage;
use crate::graph::{GraphError, Refusal, is_rate_limit, refusal_outcome};
use crate::pace::Pacer;

#[path = "metrics.rs"]
mod metrics;

/// The Graph API root crieur talks to unless the channel sets `api_base`.
pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
/// The pinned Graph API version (supported until 2028-07) unless the channel sets
/// `graph_version`.
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";
/// Where a published post can be seen: this prefix and the post's id.
pub const POST_URL_PREFIX: &str = "https://www.facebook.com/";
/// How far before the attempt started reconciliation looks, for clock skew with Facebook.
pub const RECONCILE_SLACK: SignedDuration = SignedDuration::from_secs(60);
/// How many of the Page's posts one reconciliation reads.
pub const RECONCILE_LIMIT: u32 = 100;

/// How much of an answer without an `error` object goes into a reason, in characters.
const SNIPPET_CHARS: usize = 300;

/// Where the channel's Page access token comes from.
#[derive(Clone)]
pub enum PageToken {
    /// A token managed outside crieur (`access_token = "env:..."` in the channel's config),
    /// already read from its reference.
    Static(SecretString),
    /// The token `crieur auth CHANNEL` stored ([`crate::authorize`]), loaded from the vault
    /// before every request, so a new authorization takes effect without a restart.
    Vault(Arc<dyn TokenVault>),
}

impl std::fmt::Debug for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageToken::Static(_) => f.write_str("Static([redacted])"),
            PageToken::Vault(_) => f.write_str("Vault"),
        }
    }
}

/// Everything a Facebook Page channel needs. Build it with [`FacebookPublisherConfig::new`] and
/// adjust the public fields. `Debug` never shows the token.
#[derive(Clone)]
pub struct FacebookPublisherConfig {
    /// The channel's name, for logs, messages and the vault.
    pub channel: String,
    /// The Graph API root (`api_base`, default [`DEFAULT_API_BASE`]); http is allowed for tests
    /// and proxies.
    pub api_base: String,
    /// The Graph API version (`graph_version`, default [`DEFAULT_GRAPH_VERSION`]).
    pub graph_version: String,
    /// The Page's numeric id (`page_id`).
    pub page_id: String,
    /// Where the Page token comes from.
    pub token: PageToken,
    /// Where the time comes from (default the system clock).
    pub clock: Arc<dyn Clock>,
    /// Timeouts and the cap on an answer's body (default 10 s connect, 30 s total, 1 MiB).
    pub http: HttpLimits,
    /// Where uploaded photo ids are recorded, so a retry of the same post reuses them; `None`
    /// uploads every photo on every attempt.
    pub ledger: Option<Arc<dyn MediaLedger>>,
}

impl std::fmt::Debug for FacebookPublisherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookPublisherConfig")
            .field("channel", &self.channel)
            .field("api_base", &self.api_base)
            .field("graph_version", &self.graph_version)
            .field("page_id", &self.page_id)
            .field("token", &self.token)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl FacebookPublisherConfig {
    /// A config with the defaults: the public Graph API, version [`DEFAULT_GRAPH_VERSION`], the
    /// system clock, 10 s connect, 30 s total, 1 MiB answers.
    pub fn new(channel: impl Into<String>, page_id: impl Into<String>, token: PageToken) -> Self {
        Self {
            channel: channel.into(),
            api_base: DEFAULT_API_BASE.to_owned(),
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            page_id: page_id.into(),
            token,
            clock: Arc::new(SystemClock),
            http: HttpLimits::default(),
            ledger: None,
        }
    }
}

/// A Facebook channel (or its authorization) that cannot be set up. Messages name the channel
/// and what to change; none quotes a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum FacebookError {
    /// `page_id` is not a numeric Page id.
    #[error(
        "channel {channel}: page_id {page_id:?} is not a Facebook Page id: use the Page's numeric \
         id (on the Page: About > Page transparency, or Meta Business Suite > Settings)"
    )]
    PageId {
        /// The channel.
        channel: String,
        /// The value as written (an id, not a secret).
        page_id: String,
    },
    /// `graph_version` is not of the form `vNN.N`.
    #[error(
        "channel {channel}: graph_version {version:?} is not a Graph API version such as \"v25.0\""
    )]
    Version {
        /// The channel.
        channel: String,
        /// The value as written.
        version: String,
    },
    /// `api_base` is not an http(s) URL without query.
    #[error("channel {channel}: api_base {url:?} is not usable: {reason}")]
    ApiBase {
        /// The channel.
        channel: String,
        /// The value as written.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The static token cannot be sent in a header (a newline, a control character) or is empty.
    #[error(
        "channel {channel}: the Facebook access_token is not usable: it is empty or holds a \
         newline or another control character (check the secret's source, for example a file \
         with a trailing carriage return)"
    )]
    Token {
        /// The channel.
        channel: String,
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

/// A Page id: digits only (it is put in URL paths, so nothing else may pass).
pub(crate) fn check_page_id(channel: &str, page_id: &str) -> Result<String, FacebookError> {
    let id = page_id.trim();
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FacebookError::PageId {
            channel: channel.to_owned(),
            page_id: page_id.to_owned(),
        });
    }
    Ok(id.to_owned())
}

/// A Graph version: `v` then digits, a dot, digits.
pub(crate) fn check_version(channel: &str, version: &str) -> Result<String, FacebookError> {
    let v = version.trim();
    let ok = v.strip_prefix('v').and_then(|rest| rest.split_once('.')).is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.len() <= 4
            && b.len() <= 4
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    if !ok {
        return Err(FacebookError::Version {
            channel: channel.to_owned(),
            version: version.to_owned(),
        });
    }
    Ok(v.to_owned())
}

/// The API root as a URL that paths can be appended to: http(s), no query or fragment, no
/// trailing slash.
pub(crate) fn check_api_base(channel: &str, api_base: &str) -> Result<String, FacebookError> {
    let err = |reason: &str| FacebookError::ApiBase {
        channel: channel.to_owned(),
        url: api_base.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(api_base.trim()).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err("the scheme must be https (or http for a local proxy)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("it must not carry credentials"));
    }
    if url.host_str().is_none() {
        return Err(err("it has no host"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `{base}/{path}` parsed, for paths made only of checked parts.
pub(crate) fn endpoint(base: &str, path: &str) -> Option<Url> {
    Url::parse(&format!("{base}/{path}")).ok()
}

/// Publishes to a Facebook Page through the Graph API.
///
/// Each attempt sends `POST {api_base}/{version}/{page_id}/feed`, form-encoded, with `message` =
/// [`Delivery::text`] and `link` = [`Delivery::link`] when there is one. The Page token goes in
/// an `Authorization: Bearer` header marked sensitive: never in the URL (URLs get logged) nor in
/// the form body, and the same way for reading (reconciliation).
///
/// Outcomes:
///
/// | answer | outcome |
/// |---|---|
/// | 2xx `{"id": "{page}_{post}"}` | `Published`, `remote_id` = the id, `url` = `https://www.facebook.com/{id}` |
/// | 2xx without a readable id | `Unknown` (the post may exist: reconcile) |
/// | a Graph `error` object | by its code, see [`refusal_outcome`](crate::refusal_outcome) |
/// | no `error` object | 429 `Retry`; 3xx, 4xx `Rejected(Other)`; 5xx `Unknown` |
/// | DNS failure, connection refused, TLS failure | `Retry` |
/// | timeout after connecting, connection reset | `Unknown` |
/// | no stored token (vault) | `Unauthorized`, nothing sent |
///
/// Thread items (item 1 and after): Facebook Pages have no threads. Posting them as comments
/// would need a further permission (`pages_manage_engagement`) and read as comments, not as a
/// thread, so crieur does not send them: they end `Rejected(Invalid)` with that reason and no
/// request is made. The post itself (item 0) goes out as usual.
///
/// Every refusal is logged at warn level with the channel, the delivery, the HTTP status, the
/// Graph code, subcode and `fbtrace_id` (what Facebook support asks for); never the token.
///
/// Pacing: every answer's usage headers are kept, and [`Publisher::hold_until`] turns the last
/// reading into a pause between posts (the table in the crate docs).
pub struct FacebookPublisher {
    pub(crate) channel: String,
    page_id: String,
    api_base: String,
    graph_version: String,
    feed_url: Url,
    pub(crate) photos_url: Url,
    published_posts_url: Url,
    token: PageToken,
    pub(crate) http: HttpClient,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ledger: Option<Arc<dyn MediaLedger>>,
    pacer: Pacer,
}

impl std::fmt::Debug for FacebookPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookPublisher")
            .field("channel", &self.channel)
            .field("page_id", &self.page_id)
            .field("api_base", &self.api_base)
            .field("graph_version", &self.graph_version)
            .field("token", &self.token)
            .field("last_usage_percent", &self.pacer.last_percent())
            .finish_non_exhaustive()
    }
}

/// Why no token could be put on a request.
enum NoToken {
    /// Nothing was sent; the dispatcher should hold the channel until `crieur auth`.
    Unauthorized(String),
    /// The vault could not be read: nothing was sent, try again later.
    Vault(String),
}

impl FacebookPublisher {
    /// Checks the config and builds the channel's HTTP client.
    ///
    /// # Errors
    /// [`FacebookError::PageId`] for a `page_id` that is not digits, [`FacebookError::Version`]
    /// for a `graph_version` not like `v25.0`, [`FacebookError::ApiBase`] for an `api_base` that
    /// is not an http(s) URL without query or credentials, [`FacebookError::Token`] for a static
    /// token that is empty or cannot go in a header, [`FacebookError::Client`] when TLS cannot
    /// be set up.
    pub fn new(config: FacebookPublisherConfig) -> Result<Self, FacebookError> {
        let channel = config.channel;
        let page_id = check_page_id(&channel, &config.page_id)?;
        let graph_version = check_version(&channel, &config.graph_version)?;
        let api_base = check_api_base(&channel, &config.api_base)?;
        if let PageToken::Static(token) = &config.token
            && (secrecy::ExposeSecret::expose_secret(token).trim().is_empty()
                || bearer_header(token).is_err())
        {
            return Err(FacebookError::Token { channel });
        }
        let bad_base = |reason: &str| FacebookError::ApiBase {
            channel: channel.clone(),
            url: config.api_base.clone(),
            reason: reason.to_owned(),
        };
        let feed_url = endpoint(&api_base, &format!("{graph_version}/{page_id}/feed"))
            .ok_or_else(|| bad_base("the feed endpoint cannot be built from it"))?;
        let photos_url = endpoint(&api_base, &format!("{graph_version}/{page_id}/photos"))
            .ok_or_else(|| bad_base("the photos endpoint cannot be built from it"))?;
        let published_posts_url =
            endpoint(&api_base, &format!("{graph_version}/{page_id}/published_posts"))
                .ok_or_else(|| bad_base("the published_posts endpoint cannot be built from it"))?;
        let http = HttpClient::builder()
            .limits(config.http)
            .build()
            .map_err(|error| FacebookError::Client { channel: channel.clone(), error })?;
        Ok(Self {
            channel,
            page_id,
            api_base,
            graph_version,
            feed_url,
            photos_url,
            published_posts_url,
            token: config.token,
            http,
            clock: config.clock,
            ledger: config.ledger,
            pacer: Pacer::default(),
        })
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The Page id posts go to.
    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    /// What to do when Facebook refuses the token, by where it comes from.
    pub(crate) fn token_remedy(&self) -> String {
        match &self.token {
            PageToken::Static(_) => format!(
                "put a new Page token where the access_token of channel {} points (or remove \
                 access_token and run `crieur auth {}`)",
                self.channel, self.channel
            ),
            PageToken::Vault(_) => {
                format!("run `crieur auth {}` to store a new Page token", self.channel)
            }
        }
    }

    /// The token for one request, as a sensitive `Authorization` header value.
    async fn authorization(
        &self,
    ) -> Result<crieur_net_http::reqwest::header::HeaderValue, NoToken> {
        let token = match &self.token {
            PageToken::Static(token) => token.clone(),
            PageToken::Vault(vault) => match vault.load(&self.channel).await {
                Ok(Some(tokens)) => SecretString::from(tokens.access_token),
                Ok(None) => {
                    return Err(NoToken::Unauthorized(format!(
                        "no Facebook Page token is stored for channel {}: run `crieur auth {}`",
                        self.channel, self.channel
                    )));
                }
                Err(e) => {
                    return Err(NoToken::Vault(format!(
                        "the Page token of channel {} could not be read: {e}",
                        self.channel
                    )));
                }
            },
        };
        bearer_header(&token).map_err(|_| {
            NoToken::Unauthorized(format!(
                "the stored Page token of channel {} cannot be sent (it holds a control \
                 character): {}",
                self.channel,
                self.token_remedy()
            ))
        })
    }

    /// Keeps the usage headers of an answer for pacing.
    pub(crate) fn note_usage(
        &self,
        response: &Response,
        now: Timestamp,
        error: Option<&GraphError>,
    ) -> FacebookUsage {
        let usage = FacebookUsage::from_headers(&response.headers, now);
        let rate_limited = error.and_then(|e| e.code).is_some_and(is_rate_limit);
        self.pacer.record(usage, now, rate_limited);
        if usage.is_at_least(crate::pace::SLOW_DOWN_PERCENT) || rate_limited {
            tracing::info!(
                channel = %self.channel,
                usage_percent = usage.max_percent,
                rate_limited,
                hold_until = self.pacer.hold_until(now).map(|t| t.to_string()),
                "Facebook usage is high: posts on this channel are spaced out"
            );
        }
        usage
    }

    /// Logs a Graph refusal: channel, delivery, status, code, subcode, fbtrace_id.
    pub(crate) fn log_refusal(
        &self,
        delivery: &str,
        what: &str,
        status: u16,
        error: Option<&GraphError>,
    ) {
        tracing::warn!(
            channel = %self.channel,
            delivery,
            status,
            code = error.and_then(|e| e.code),
            subcode = error.and_then(|e| e.subcode),
            fbtrace_id = error.and_then(|e| e.fbtrace_id.as_deref()),
            error_type = error.and_then(|e| e.kind.as_deref()),
            message = error.map(|e| e.message.as_str()),
            "Facebook refused {what}"
        );
    }

    /// Maps the answer to a POST to an outcome, and keeps its usage headers for pacing.
    fn outcome_for(&self, delivery: &Delivery, response: &Response, now: Timestamp) -> Outcome {
        let error = graph_error(response);
        self.note_usage(response, now, error.as_ref());
        self.answer_outcome(delivery, response, now)
    }

    /// The outcome Facebook's answer to `POST /{page-id}/feed` means (the table on
    /// [`FacebookPublisher`]), from the status, headers and body alone: no request, no change to
    /// the channel's pacing (the caller records the usage headers). `now` reads a relative
    /// `Retry-After` and the usage headers' `estimated_time_to_regain_access`.
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
        let error = graph_error(response);
        let usage = FacebookUsage::from_headers(&response.headers, now);
        if status.is_success() {
            return self.published(delivery, response);
        }
        self.log_refusal(&delivery.id, "the post", status.as_u16(), error.as_ref());
        let snippet = if error.is_none() { response.snippet(SNIPPET_CHARS) } else { String::new() };
        let remedy = self.token_remedy();
        refusal_outcome(&Refusal {
            channel: &self.channel,
            status: status.as_u16(),
            error: error.as_ref(),
            snippet: &snippet,
            regain_at: usage.regain_at,
            retry_after: retry_after(&response.headers, now),
            token_remedy: &remedy,
        })
    }

    fn published(&self, delivery: &Delivery, response: &Response) -> Outcome {
        let id = response
            .json::<serde_json::Value>()
            .and_then(|v| v.get("id").and_then(serde_json::Value::as_str).map(str::to_owned))
            .filter(|id| is_graph_id(id));
        let Some(remote_id) = id else {
            tracing::warn!(
                channel = %self.channel,
                delivery = %delivery.id,
                status = response.status.as_u16(),
                "Facebook accepted the post but its answer holds no readable post id"
            );
            return Outcome::Unknown {
                reason: format!(
                    "Facebook answered {} without a readable post id ({}); the post may exist: \
                     crieur reconciles before retrying",
                    response.status.as_u16(),
                    match &response.body {
                        Ok(_) => response.snippet(SNIPPET_CHARS),
                        Err(e) => e.to_string(),
                    }
                ),
            };
        };
        let url = format!("{POST_URL_PREFIX}{remote_id}");
        tracing::info!(
            channel = %self.channel,
            delivery = %delivery.id,
            remote_id = %remote_id,
            url = %url,
            "published to the Facebook Page"
        );
        Outcome::Published { remote_id, url: Some(url) }
    }

    fn thread_refusal(&self, delivery: &Delivery) -> String {
        format!(
            "thread item {} of post {} is not sent to channel {}: Facebook Pages have no threads \
             (the post itself is published; put what the thread says in the Facebook text, or \
             leave the thread to networks that have threads)",
            delivery.item, delivery.post, self.channel
        )
    }
}

/// A Graph object id as crieur records it: 1 to 128 characters, digits, letters and `_`.
fn is_graph_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Text compared for reconciliation: line endings made `\n`, trailing spaces of each line
/// dropped, and blank lines or spaces at either end dropped (Facebook trims them).
pub(crate) fn normalize(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = unified.split('\n').map(str::trim_end).collect();
    lines.join("\n").trim().to_owned()
}

#[async_trait::async_trait]
impl Publisher for FacebookPublisher {
    fn network(&self) -> Network {
        Network::Facebook
    }

    async fn publish(&self, delivery: &Delivery) -> Outcome {
        if delivery.item > 0 {
            let reason = self.thread_refusal(delivery);
            tracing::warn!(channel = %self.channel, delivery = %delivery.id, "{reason}");
            return Outcome::Rejected { kind: RejectKind::Invalid, reason };
        }
        let auth = match self.authorization().await {
            Ok(auth) => auth,
            Err(NoToken::Unauthorized(reason)) => {
                tracing::warn!(channel = %self.channel, delivery = %delivery.id, "{reason}");
                return Outcome::Unauthorized { reason };
            }
            Err(NoToken::Vault(reason)) => {
                tracing::warn!(channel = %self.channel, delivery = %delivery.id, "{reason}");
                return Outcome::Retry { reason, not_before: None };
            }
        };
        let attached = match self.attached_media(delivery, &auth).await {
            Ok(attached) => attached,
            Err(outcome) => return outcome,
        };
        let mut form: Vec<(&str, &str)> = vec![("message", delivery.text.as_str())];
        if let Some(link) = delivery.link.as_deref().filter(|l| !l.is_empty()) {
            form.push(("link", link));
        }
        if let Some(attached) = attached.as_deref() {
            form.push(("attached_media", attached));
        }
        tracing::debug!(
            channel = %self.channel,
            delivery = %delivery.id,
            attempt = delivery.attempt,
            with_link = delivery.link.is_some(),
            photos = delivery.media.len(),
            "posting to the Facebook Page"
        );
        let request = self
            .http
            .request(Method::POST, self.feed_url.clone())
            .header(AUTHORIZATION, auth)
            .form(&form);
        let now = self.clock.now();
        match self.http.send(&delivery.id, request).await {
            Ok(response) => self.outcome_for(delivery, &response, now),
            Err(err) => {
                tracing::warn!(
                    channel = %self.channel,
                    delivery = %delivery.id,
                    fate = ?err.fate(),
                    error = %error_chain(&err),
                    "the Facebook request failed"
                );
                err.outcome()
            }
        }
    }

    /// `GET /{page-id}?fields=id,name` with the Page token: 200 with the Page's id is accepted
    /// (Page tokens do not expire), a Graph error 190 (an invalid or expired token) or a
    /// permission error is refused with what to do, anything else is unreachable.
    async fn check_credentials(&self) -> CredentialCheck {
        let auth = match self.authorization().await {
            Ok(auth) => auth,
            Err(NoToken::Unauthorized(reason)) => return CredentialCheck::Refused { reason },
            Err(NoToken::Vault(reason)) => return CredentialCheck::Unreachable { reason },
        };
        let mut url = match self.feed_url.join(&format!("../{}", self.page_id)) {
            Ok(url) => url,
            Err(e) => return CredentialCheck::Unreachable { reason: e.to_string() },
        };
        url.query_pairs_mut().append_pair("fields", "id,name");
        let request = self.http.request(Method::GET, url).header(AUTHORIZATION, auth);
        let response = match self.http.send("doctor", request).await {
            Ok(response) => response,
            Err(err) => return CredentialCheck::Unreachable { reason: error_chain(&err) },
        };
        let body = response.json::<serde_json::Value>();
        let field = |key: &str| {
            body.as_ref().and_then(|v| v.get(key)).and_then(|v| v.as_str()).map(str::to_owned)
        };
        if response.status.is_success() && field("id").as_deref() == Some(self.page_id.as_str()) {
            let account = field("name").unwrap_or_else(|| format!("Page {}", self.page_id));
            return CredentialCheck::Accepted { account, expires_at: None };
        }
        let code = response.status.as_u16();
        match response.body.as_deref().ok().and_then(GraphError::parse) {
            Some(error) if matches!(error.code, Some(190 | 10 | 200)) || code == 401 => {
                CredentialCheck::Refused {
                    reason: format!(
                        "Facebook refused the Page token ({code}, {}: {}); {}",
                        error.describe(),
                        crate::graph::token_subcode_meaning(error.subcode),
                        self.token_remedy()
                    ),
                }
            }
            Some(error) => CredentialCheck::Unreachable {
                reason: format!("Facebook answered {code} ({})", error.describe()),
            },
            None => CredentialCheck::Unreachable {
                reason: format!(
                    "Facebook answered {code} without the Page {} (check page_id)",
                    self.page_id
                ),
            },
        }
    }

    /// Reads the Page's posts published since the attempt started (less a minute) and looks for
    /// one whose `message` is the delivery's text (line endings and trailing spaces aside).
    async fn reconcile(&self, delivery: &Delivery) -> Reconciled {
        if delivery.item > 0 {
            // Thread items are never sent (see `publish`), so there is nothing to find.
            return Reconciled::NotFound;
        }
        let wanted = normalize(&delivery.text);
        if wanted.is_empty() {
            // A post without text shows no message to match: nothing could prove it absent.
            return Reconciled::CannotTell {
                reason: "the post has no text, so it cannot be recognized among the Page's posts; \
                         check the Page and settle it with `crieur resolve`"
                    .into(),
            };
        }
        let auth = match self.authorization().await {
            Ok(auth) => auth,
            Err(NoToken::Unauthorized(reason) | NoToken::Vault(reason)) => {
                return Reconciled::CannotTell { reason };
            }
        };
        let since = delivery
            .attempt_started_at
            .checked_sub(RECONCILE_SLACK)
            .unwrap_or(delivery.attempt_started_at)
            .as_second();
        let mut url = self.published_posts_url.clone();
        url.query_pairs_mut()
            .append_pair("fields", "id,message,created_time")
            .append_pair("since", &since.to_string())
            .append_pair("limit", &RECONCILE_LIMIT.to_string());
        let request = self.http.request(Method::GET, url).header(AUTHORIZATION, auth);
        let now = self.clock.now();
        let response = match self.http.send(&delivery.id, request).await {
            Ok(response) => response,
            Err(err) => {
                tracing::warn!(
                    channel = %self.channel,
                    delivery = %delivery.id,
                    error = %error_chain(&err),
                    "reading the Facebook Page's posts failed"
                );
                return Reconciled::CannotTell {
                    reason: format!("the Page's posts could not be read: {err}"),
                };
            }
        };
        let error = graph_error(&response);
        let _ = self.note_usage(&response, now, error.as_ref());
        if !response.status.is_success() {
            let status = response.status.as_u16();
            self.log_refusal(&delivery.id, "reading the Page's posts", status, error.as_ref());
        }
        let found = reconcile_answer(delivery, &response);
        if let Reconciled::Found { remote_id, .. } = &found {
            tracing::info!(
                channel = %self.channel,
                delivery = %delivery.id,
                remote_id = %remote_id,
                "reconciled: the post is on the Facebook Page"
            );
        }
        found
    }

    /// The end of the pause the last usage reading asks for (see the crate docs), if any.
    fn hold_until(&self) -> Option<Timestamp> {
        self.pacer.hold_until(self.clock.now())
    }

    fn engagement(&self) -> Option<&dyn crieur_core::engagement::Engagement> {
        Some(self)
    }
}

/// The answer to the POST's status and body as a Graph error object, for refusals.
pub(crate) fn graph_error(response: &Response) -> Option<GraphError> {
    if response.status.is_success() {
        None
    } else {
        response.body.as_deref().ok().and_then(GraphError::parse)
    }
}

/// What Facebook's answer to `GET /{page-id}/published_posts` says about `delivery`: `Found` when
/// a listed post has its text (line endings and trailing spaces aside), `NotFound` when none has
/// and the page holds every post since the attempt, `CannotTell` for an error, an unreadable
/// answer, a post without text or a listing cut short. Pure: no request, no state.
///
/// Public for the parsers' fuzz targets; not meant as API.
#[doc(hidden)]
pub fn reconcile_answer(delivery: &Delivery, response: &Response) -> Reconciled {
    let wanted = normalize(&delivery.text);
    if wanted.is_empty() {
        return Reconciled::CannotTell {
            reason: "the post has no text, so it cannot be recognized among the Page's posts; \
                     check the Page and settle it with `crieur resolve`"
                .into(),
        };
    }
    let error = graph_error(response);
    if !response.status.is_success() {
        let status = response.status.as_u16();
        let detail = error.map_or_else(|| response.snippet(SNIPPET_CHARS), |e| e.describe());
        return Reconciled::CannotTell {
            reason: format!(
                "reading the Page's posts failed: Facebook answered {status} ({detail})"
            ),
        };
    }
    let Some(page) = response.json::<PostsPage>() else {
        return Reconciled::CannotTell {
            reason: format!(
                "the Page's posts could not be read: Facebook answered {} with an unexpected \
                 body",
                response.status.as_u16()
            ),
        };
    };
    let found = page.data.iter().find(|p| {
        is_graph_id(&p.id) && p.message.as_deref().is_some_and(|m| normalize(m) == wanted)
    });
    match found {
        Some(post) => {
            tracing::debug!(
                delivery = %delivery.id,
                remote_id = %post.id,
                created_time = post.created_time.as_deref().unwrap_or(""),
                "a post of the Page has the delivery's text"
            );
            Reconciled::Found {
                remote_id: post.id.clone(),
                url: Some(format!("{POST_URL_PREFIX}{}", post.id)),
            }
        }
        None if page.paging.as_ref().is_some_and(|p| p.next.is_some()) => Reconciled::CannotTell {
            reason: format!(
                "the Page published more than {RECONCILE_LIMIT} posts since the attempt \
                     started and none of the first {RECONCILE_LIMIT} is this one; check the \
                     Page and settle it with `crieur resolve`"
            ),
        },
        None => Reconciled::NotFound,
    }
}

/// One page of `/{page-id}/published_posts`.
#[derive(serde::Deserialize)]
struct PostsPage {
    data: Vec<PagePost>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(serde::Deserialize)]
struct PagePost {
    #[serde(default)]
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
}

#[derive(serde::Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}
