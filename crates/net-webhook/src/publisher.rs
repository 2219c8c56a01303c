//! The webhook [`Publisher`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crieur_core::{
    Clock, CredentialCheck, Delivery, Network, Outcome, Publisher, Reconciled, RejectKind,
    SystemClock,
};
use crieur_net_http::reqwest::header::{CONTENT_TYPE, LOCATION};
use crieur_net_http::reqwest::{Method, StatusCode, Url};
use crieur_net_http::{
    BodyError, BuildError, HttpClient, HttpLimits, Response, display_url, error_chain, retry_after,
};
use jiff::Timestamp;
use secrecy::SecretString;

use crate::event::event_body;
use crate::signing::SigningKey;
use crieur_net_http::{GuardedResolver, Lookup, Refused, SystemLookup, check_url, find_refused};

#[path = "metrics.rs"]
pub(crate) mod metrics;

/// How much of a refusing receiver's body goes into the reason, in characters.
const SNIPPET_CHARS: usize = 300;
/// What the guard calls the channel's URL in its refusals.
const WHAT: &str = "webhook URL";

/// Everything a webhook channel needs. Build it with [`WebhookConfig::new`] and adjust the public
/// fields. `Debug` never shows the secret.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The channel's name, for logs and messages.
    pub channel: String,
    /// Where to POST (`url` in the channel's config).
    pub url: String,
    /// The Standard Webhooks secret, `whsec_` + base64 (already read from its reference).
    pub secret: SecretString,
    /// `allow_private`: lifts the https-only and no-private-address rules.
    pub allow_private: bool,
    /// Timeouts and the cap on the receiver's answer body (default 10 s connect, 30 s total, 1 MiB).
    pub http: HttpLimits,
    /// Where the attempt's time comes from (default the system clock).
    pub clock: Arc<dyn Clock>,
    /// How host names are resolved before the guard checks them (default the system resolver).
    pub lookup: Arc<dyn Lookup>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("channel", &self.channel)
            .field("url", &shown_url(&self.url))
            .field("secret", &"[redacted]")
            .field("allow_private", &self.allow_private)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    /// A config with the defaults: no `allow_private`, 10 s connect, 30 s total, 1 MiB answers,
    /// the system clock and resolver.
    pub fn new(channel: impl Into<String>, url: impl Into<String>, secret: SecretString) -> Self {
        Self {
            channel: channel.into(),
            url: url.into(),
            secret,
            allow_private: false,
            http: HttpLimits::default(),
            clock: Arc::new(SystemClock),
            lookup: Arc::new(SystemLookup),
        }
    }
}

/// The URL as crieur shows it: without credentials or query when it parses, as written otherwise.
fn shown_url(url: &str) -> String {
    Url::parse(url).map_or_else(|_| url.to_owned(), |u| display_url(&u))
}

/// A webhook channel that cannot be set up. Messages name the channel and say what to change;
/// none quotes the secret.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` + base64 of a long enough key.
    #[error("channel {channel}: the webhook secret is not usable: {reason}")]
    Secret {
        /// The channel.
        channel: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL does not parse.
    #[error("channel {channel}: the webhook url {url:?} is not a valid URL ({reason})")]
    Url {
        /// The channel.
        channel: String,
        /// The URL as written.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// The SSRF guard refuses the URL (scheme, or an IP-literal host in a forbidden range).
    #[error("channel {channel}: {refused}")]
    Refused {
        /// The channel.
        channel: String,
        /// Why (boxed: it is the largest variant).
        refused: Box<Refused>,
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

/// Publishes to a blog or intranet through a Standard Webhooks signed POST.
///
/// Each attempt POSTs the event of [`event_body`](crate::event_body) with `webhook-id` =
/// [`Delivery::id`] (the same on every attempt: the receiver's idempotency key),
/// `webhook-timestamp` = this attempt's Unix seconds and `webhook-signature` = `v1,` +
/// base64(HMAC-SHA256(key, `"{id}.{timestamp}.{body}"`)) over the exact bytes sent.
///
/// Outcomes:
///
/// | answer | outcome |
/// |---|---|
/// | 2xx | `Published`: `remote_id` = the answer's JSON `id` (string or number) if any, else the `webhook-id`; `url` = the answer's JSON `url` (http or https) if any. A 2xx whose body is over the cap or unreadable still counts as published (the receiver accepted it), without `url`. |
/// | 3xx | `Rejected(Other)`: redirects are not followed; the channel's `url` must be the final address |
/// | 410 | `Rejected(Gone)`; the channel is disabled in this publisher until the config changes (a new publisher): later calls answer `Rejected(Gone)` without a request, and the first 410 is logged at error level |
/// | 429, 502, 503, 504 | `Retry`, `not_before` from `Retry-After` (seconds or HTTP-date) |
/// | 400, 413, 415, 422 | `Rejected(Invalid)` |
/// | 401, 403 | `Rejected(Forbidden)`: the receiver refused the signature or the sender |
/// | 409 | `Rejected(Duplicate)` |
/// | other 4xx | `Rejected(Other)` |
/// | other 5xx, other codes | `Unknown` |
/// | URL refused by the SSRF guard | `Rejected(Other)`, no connection made |
/// | media over [`MAX_MEDIA_BYTES`](crate::MAX_MEDIA_BYTES) in all | `Rejected(Invalid)`, no connection made |
/// | DNS failure, connection refused, TLS failure, connect timeout | `Retry` |
/// | timeout after connecting, connection reset | `Unknown` |
///
/// Reconciliation: receivers deduplicate on `webhook-id` (RECEIVER.md asks them to), so a delivery
/// whose attempt ended `Unknown` may be sent again with the same id; [`Publisher::reconcile`]
/// answers [`Reconciled::NotFound`] so the dispatcher does exactly that.
pub struct WebhookPublisher {
    channel: String,
    url: Url,
    allow_private: bool,
    key: SigningKey,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    gone: AtomicBool,
    hold: Mutex<Option<Timestamp>>,
}

impl std::fmt::Debug for WebhookPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookPublisher")
            .field("channel", &self.channel)
            .field("url", &display_url(&self.url))
            .field("allow_private", &self.allow_private)
            .field("key", &self.key)
            .field("gone", &self.gone.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl WebhookPublisher {
    /// Checks the config and builds the channel's HTTP client (with the guarded resolver, no
    /// proxy: the guard must see the address it connects to).
    ///
    /// # Errors
    /// [`WebhookError::Secret`] for a secret not of the form `whsec_` + base64 (16 bytes or
    /// more), [`WebhookError::Url`] for a URL that does not parse, [`WebhookError::Refused`] for a
    /// non-https URL or an IP-literal host in a forbidden range (both allowed with
    /// `allow_private`), [`WebhookError::Client`] when the TLS setup fails.
    pub fn new(config: WebhookConfig) -> Result<Self, WebhookError> {
        let channel = config.channel;
        let key = SigningKey::from_secret(&config.secret)
            .map_err(|reason| WebhookError::Secret { channel: channel.clone(), reason })?;
        let url = Url::parse(config.url.trim()).map_err(|e| WebhookError::Url {
            channel: channel.clone(),
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
        check_url(&url, config.allow_private, WHAT).map_err(|refused| WebhookError::Refused {
            channel: channel.clone(),
            refused: Box::new(refused),
        })?;
        let resolver = GuardedResolver::new(config.lookup, config.allow_private, &url, WHAT);
        let http = HttpClient::builder()
            .limits(config.http)
            .dns_resolver(Arc::new(resolver))
            .no_proxy()
            .build()
            .map_err(|error| WebhookError::Client { channel: channel.clone(), error })?;
        Ok(Self {
            channel,
            url,
            allow_private: config.allow_private,
            key,
            http,
            clock: config.clock,
            gone: AtomicBool::new(false),
            hold: Mutex::new(None),
        })
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// True once the receiver answered 410 Gone: the channel sends nothing more until it is set
    /// up again.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    fn set_hold(&self, until: Option<Timestamp>) {
        if let Some(until) = until {
            let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
            *hold = Some(hold.map_or(until, |h| h.max(until)));
        }
    }

    fn gone_outcome(&self) -> Outcome {
        Outcome::Rejected {
            kind: RejectKind::Gone,
            reason: format!(
                "the webhook receiver at {} answered 410 Gone: channel {} is disabled until its \
                 url changes in the config (or the channel is removed)",
                display_url(&self.url),
                self.channel
            ),
        }
    }

    /// Maps the receiver's answer to an outcome (the table on the type); a 410 disables the
    /// channel and a 429 or gateway error holds it until its `Retry-After`.
    fn outcome_for(&self, delivery: &Delivery, response: &Response, now: Timestamp) -> Outcome {
        let outcome = self.answer_outcome(delivery, response, now);
        match (&outcome, response.status) {
            (_, StatusCode::GONE) if !self.gone.swap(true, Ordering::SeqCst) => {
                tracing::error!(
                    channel = %self.channel,
                    url = %display_url(&self.url),
                    "the webhook receiver answered 410 Gone: channel disabled until its url \
                     changes in the config"
                );
            }
            (Outcome::Retry { not_before, .. }, _) => self.set_hold(*not_before),
            _ => {}
        }
        outcome
    }

    /// The outcome the receiver's answer means (the table on [`WebhookPublisher`]), from the
    /// status, headers and body alone: no request, no change to the channel's state (the caller
    /// disables the channel after a 410 and holds it after a 429 or a gateway error). `now`
    /// reads a relative `Retry-After`.
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
        let shown = display_url(&self.url);
        let detail = || {
            let snippet = response.snippet(SNIPPET_CHARS);
            if snippet.is_empty() { String::new() } else { format!(": {snippet}") }
        };
        if status.is_success() {
            return self.published(delivery, response);
        }
        if status.is_redirection() {
            let target = response.headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(|loc| {
                self.url
                    .join(loc)
                    .map_or_else(|_| loc.chars().take(200).collect(), |u| display_url(&u))
            });
            return Outcome::Rejected {
                kind: RejectKind::Other,
                reason: format!(
                    "the webhook receiver at {shown} answered {code} redirect{}; crieur does not \
                     follow redirects: set the channel's url to the final address",
                    target.map(|t| format!(" to {t}")).unwrap_or_default()
                ),
            };
        }
        match status {
            StatusCode::GONE => self.gone_outcome(),
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => {
                let not_before = retry_after(&response.headers, now);
                Outcome::Retry {
                    reason: format!(
                        "the webhook receiver at {shown} answered {code}, try later{}",
                        detail()
                    ),
                    not_before,
                }
            }
            _ if status.is_client_error() => {
                let (kind, hint) = match code {
                    400 | 413 | 415 | 422 => {
                        (RejectKind::Invalid, "the receiver refused the event as invalid")
                    }
                    401 | 403 => (
                        RejectKind::Forbidden,
                        "the receiver refused the sender: check that the channel's secret is the \
                         one the receiver expects",
                    ),
                    404 => {
                        (RejectKind::Other, "no receiver at this address: check the channel's url")
                    }
                    409 => (RejectKind::Duplicate, "the receiver says it already has this event"),
                    _ => (RejectKind::Other, "the receiver refused the event"),
                };
                Outcome::Rejected {
                    kind,
                    reason: format!(
                        "the webhook receiver at {shown} answered {code} ({hint}){}",
                        detail()
                    ),
                }
            }
            _ => Outcome::Unknown {
                reason: format!(
                    "the webhook receiver at {shown} answered {code}; it may have stored the post{}",
                    detail()
                ),
            },
        }
    }

    fn published(&self, delivery: &Delivery, response: &Response) -> Outcome {
        let answer = match &response.body {
            Ok(body) if body.is_empty() => None,
            Ok(body) => serde_json::from_slice::<serde_json::Value>(body).ok(),
            Err(err @ BodyError::TooLarge { .. }) | Err(err @ BodyError::Read { .. }) => {
                tracing::warn!(
                    channel = %self.channel,
                    delivery = %delivery.id,
                    error = %error_chain(err),
                    "the webhook receiver accepted the post; its answer was not read"
                );
                None
            }
        };
        let remote_id = answer
            .as_ref()
            .and_then(|a| a.get("id"))
            .and_then(|id| match id {
                serde_json::Value::String(s) if !s.is_empty() && s.len() <= 512 => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| delivery.id.clone());
        let url = answer
            .as_ref()
            .and_then(|a| a.get("url"))
            .and_then(serde_json::Value::as_str)
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from);
        tracing::info!(
            channel = %self.channel,
            delivery = %delivery.id,
            remote_id = %remote_id,
            url = url.as_deref().unwrap_or(""),
            "published to the webhook"
        );
        Outcome::Published { remote_id, url }
    }
}

#[async_trait::async_trait]
impl Publisher for WebhookPublisher {
    fn network(&self) -> Network {
        Network::Webhook
    }

    fn engagement(&self) -> Option<&dyn crieur_core::engagement::Engagement> {
        Some(self)
    }

    async fn publish(&self, delivery: &Delivery) -> Outcome {
        if self.is_gone() {
            return self.gone_outcome();
        }
        if let Err(refused) = check_url(&self.url, self.allow_private, WHAT) {
            return Outcome::Rejected { kind: RejectKind::Other, reason: refused.to_string() };
        }
        let media = crate::event::media_bytes(delivery);
        if media > crate::event::MAX_MEDIA_BYTES {
            return Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "the media weigh {media} bytes together, over the {} one webhook event \
                     carries: send fewer or smaller files",
                    crate::event::MAX_MEDIA_BYTES
                ),
            };
        }
        // Whole seconds: the body's `timestamp` and the header name the same instant.
        let now = self.clock.now();
        let at = Timestamp::from_second(now.as_second()).unwrap_or(now);
        let body = match event_body(delivery, at) {
            Ok(body) => body,
            Err(e) => {
                return Outcome::Rejected {
                    kind: RejectKind::Invalid,
                    reason: format!("the webhook event could not be serialized: {e}"),
                };
            }
        };
        let signature = match self.key.sign(&delivery.id, at.as_second(), &body) {
            Ok(signature) => signature,
            Err(_) => {
                return Outcome::Rejected {
                    kind: RejectKind::Other,
                    reason: "the webhook secret's key was refused by HMAC-SHA256".into(),
                };
            }
        };
        tracing::debug!(
            channel = %self.channel,
            delivery = %delivery.id,
            attempt = delivery.attempt,
            body_bytes = body.len(),
            "posting the webhook event"
        );
        let request = self
            .http
            .request(Method::POST, self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", delivery.id.as_str())
            .header("webhook-timestamp", at.as_second().to_string())
            .header("webhook-signature", signature)
            .body(body);
        match self.http.send(&delivery.id, request).await {
            Ok(response) => self.outcome_for(delivery, &response, now),
            Err(err) => {
                if let Some(refused) = find_refused(&err) {
                    tracing::warn!(channel = %self.channel, reason = %refused, "webhook URL refused");
                    return Outcome::Rejected {
                        kind: RejectKind::Other,
                        reason: refused.to_string(),
                    };
                }
                let outcome = err.outcome();
                tracing::warn!(
                    channel = %self.channel,
                    delivery = %delivery.id,
                    error = %error_chain(&err),
                    "the webhook request failed"
                );
                outcome
            }
        }
    }

    /// Always [`Reconciled::NotFound`]: receivers deduplicate on `webhook-id`, which is the same
    /// on every attempt, so sending again after an `Unknown` cannot publish twice.
    async fn reconcile(&self, _delivery: &Delivery) -> Reconciled {
        Reconciled::NotFound
    }

    /// Sends a signed `crieur.ping` event (see [`ping_body`](crate::ping_body)), with a fresh
    /// `webhook-id` (`ping-` and the Unix seconds): a 2xx is accepted, 401 or 403 refused (the
    /// receiver does not accept the secret), anything else unreachable. Nothing is published.
    async fn check_credentials(&self) -> CredentialCheck {
        if let Err(refused) = check_url(&self.url, self.allow_private, WHAT) {
            return CredentialCheck::Refused { reason: refused.to_string() };
        }
        let now = self.clock.now();
        let at = Timestamp::from_second(now.as_second()).unwrap_or(now);
        let id = format!("ping-{}", at.as_second());
        let Ok(body) = crate::event::ping_body(&self.channel, at) else {
            return CredentialCheck::Unreachable {
                reason: "the ping could not be serialized".into(),
            };
        };
        let Ok(signature) = self.key.sign(&id, at.as_second(), &body) else {
            let reason = "the webhook secret's key was refused by HMAC-SHA256".into();
            return CredentialCheck::Refused { reason };
        };
        let request = self
            .http
            .request(Method::POST, self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id.as_str())
            .header("webhook-timestamp", at.as_second().to_string())
            .header("webhook-signature", signature)
            .body(body);
        let response = match self.http.send(&id, request).await {
            Ok(response) => response,
            Err(err) => match find_refused(&err) {
                Some(refused) => return CredentialCheck::Refused { reason: refused.to_string() },
                None => return CredentialCheck::Unreachable { reason: error_chain(&err) },
            },
        };
        let code = response.status.as_u16();
        match code {
            200..=299 => CredentialCheck::Accepted {
                account: shown_url(self.url.as_str()),
                expires_at: None,
            },
            401 | 403 => CredentialCheck::Refused {
                reason: format!(
                    "the receiver refused the signed ping ({code}): check that it has the \
                     channel's secret"
                ),
            },
            _ => CredentialCheck::Unreachable {
                reason: format!("the receiver answered {code}: {}", response.snippet(200)),
            },
        }
    }

    /// The latest `Retry-After` the receiver gave, if any.
    fn hold_until(&self) -> Option<Timestamp> {
        *self.hold.lock().unwrap_or_else(|e| e.into_inner())
    }
}
