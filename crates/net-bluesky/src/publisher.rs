//! The Bluesky [`Publisher`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crieur_core::{
    Clock, CredentialCheck, Delivery, Network, Outcome, Publisher, Reconciled, RejectKind,
    SystemClock, TokenVault,
};
use crieur_net_http::reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use crieur_net_http::reqwest::{Method, RequestBuilder, StatusCode, Url};
use crieur_net_http::{
    BuildError, HttpClient, HttpLimits, Response, SendError, bearer_header, display_url,
    error_chain, header_epoch, header_u64, retry_after,
};
use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::card::CardFetcher;
use crate::facets::{Feature, detect};
use crate::session::{Session, SessionError, Sessions, xrpc_error, xrpc_error_name};
use crate::tid::delivery_rkey;

#[path = "metrics.rs"]
mod metrics;

/// The default service (PDS).
pub const DEFAULT_SERVICE: &str = "https://bsky.social";

/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// The largest image Bluesky takes, in bytes.
pub const MAX_IMAGE_BYTES: usize = 1_000_000;

/// The most images on one post.
pub const MAX_IMAGES: usize = 4;

/// Everything a Bluesky channel needs. `Debug` never shows the password.
#[derive(Clone)]
pub struct BlueskyConfig {
    /// The channel's name.
    pub channel: String,
    /// The account's handle (`acme.bsky.social`).
    pub handle: String,
    /// The app password.
    pub app_password: SecretString,
    /// The account's PDS (default [`DEFAULT_SERVICE`]).
    pub service: String,
    /// Where the session is kept, encrypted (without one it lives in memory only).
    pub vault: Option<Arc<dyn TokenVault>>,
    /// Timeouts and the answer cap.
    pub http: HttpLimits,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// How link pages are read for cards.
    pub cards: CardFetcher,
}

impl std::fmt::Debug for BlueskyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlueskyConfig")
            .field("channel", &self.channel)
            .field("handle", &self.handle)
            .field("app_password", &"[redacted]")
            .field("service", &self.service)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl BlueskyConfig {
    /// The defaults: bsky.social, no vault, 10 s connect, 30 s total, 1 MiB answers, the system
    /// clock, cards through the guard for public https pages only.
    pub fn new(
        channel: impl Into<String>,
        handle: impl Into<String>,
        app_password: SecretString,
    ) -> Self {
        Self {
            channel: channel.into(),
            handle: handle.into(),
            app_password,
            service: DEFAULT_SERVICE.to_owned(),
            vault: None,
            http: HttpLimits::default(),
            clock: Arc::new(SystemClock),
            cards: CardFetcher::default(),
        }
    }
}

/// A Bluesky channel that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum BlueskyError {
    /// `service` is not an http(s) URL.
    #[error("channel {channel}: service {url:?} is not a usable http(s) URL ({reason})")]
    Service {
        /// The channel.
        channel: String,
        /// The value.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("channel {channel}: {error}")]
    Client {
        /// The channel.
        channel: String,
        /// The cause, in the message.
        error: BuildError,
    },
}

/// Publishes to Bluesky as `app.bsky.feed.post` records (`com.atproto.repo.createRecord`).
///
/// Exactly once: each delivery's record key is fixed ([`delivery_rkey`]), so a retry can only
/// ever write that one record, and [`Publisher::reconcile`] settles an unknown outcome with
/// `com.atproto.repo.getRecord` on it.
///
/// Remote ids: `URI|CID` for a post, `URI|CID|ROOT_URI|ROOT_CID` for a reply, so that the next
/// item of a thread has the strong refs of both its parent and its root.
///
/// | answer to `createRecord` | outcome |
/// |---|---|
/// | 200 with `uri` and `cid` | `Published`, URL `https://bsky.app/profile/HANDLE/post/RKEY` |
/// | 500, 409, or 400 `RecordAlreadyExists`/`InvalidSwap` | `getRecord` on the key: present (same text) is `Published`; absent is `Unknown` (a 500) or `Rejected` |
/// | 400 `ExpiredToken`, 401 | refresh the session once and send again |
/// | other 400 | `Rejected(Invalid)` |
/// | 429 | `Retry` until `ratelimit-reset` |
/// | other 5xx, a timeout after sending, a reset | `Unknown` |
/// | DNS, connect, TLS | `Retry` |
pub struct BlueskyPublisher {
    channel: String,
    handle: String,
    service: Url,
    http: HttpClient,
    sessions: Sessions,
    clock: Arc<dyn Clock>,
    cards: CardFetcher,
    hold: Mutex<Option<Timestamp>>,
    dids: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for BlueskyPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlueskyPublisher")
            .field("channel", &self.channel)
            .field("handle", &self.handle)
            .field("service", &display_url(&self.service))
            .finish_non_exhaustive()
    }
}

/// A strong reference to a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrongRef {
    /// `at://DID/app.bsky.feed.post/RKEY`.
    pub uri: String,
    /// The record's CID.
    pub cid: String,
}

/// The remote id of a record: its own ref, and its thread's root when it is a reply.
pub fn remote_id(own: &StrongRef, root: Option<&StrongRef>) -> String {
    match root {
        Some(r) => format!("{}|{}|{}|{}", own.uri, own.cid, r.uri, r.cid),
        None => format!("{}|{}", own.uri, own.cid),
    }
}

/// Reads a remote id written by [`remote_id`]: `(own, root)`; the root is the record itself
/// for a post that is not a reply.
pub fn parse_remote_id(id: &str) -> Option<(StrongRef, StrongRef)> {
    let parts: Vec<&str> = id.split('|').collect();
    let r = |u: &str, c: &str| {
        (u.starts_with("at://") && !c.is_empty())
            .then(|| StrongRef { uri: u.to_owned(), cid: c.to_owned() })
    };
    match parts.as_slice() {
        [u, c] => {
            let own = r(u, c)?;
            Some((own.clone(), own))
        }
        [u, c, ru, rc] => Some((r(u, c)?, r(ru, rc)?)),
        _ => None,
    }
}

enum Sent {
    Answer(Response),
    Failed(SendError),
    Session(SessionError),
}

impl BlueskyPublisher {
    /// Checks `service` and builds the channel's HTTP client.
    ///
    /// # Errors
    /// [`BlueskyError::Service`] for a `service` that is not http(s); [`BlueskyError::Client`]
    /// when the TLS setup fails.
    pub fn new(config: BlueskyConfig) -> Result<Self, BlueskyError> {
        let channel = config.channel;
        let bad = |reason: String| BlueskyError::Service {
            channel: channel.clone(),
            url: config.service.clone(),
            reason,
        };
        let service = crieur_net_http::api_base(&config.service).map_err(bad)?;
        let http = HttpClient::builder()
            .limits(config.http)
            .build()
            .map_err(|error| BlueskyError::Client { channel: channel.clone(), error })?;
        let handle = config.handle.trim_start_matches('@').to_ascii_lowercase();
        Ok(Self {
            sessions: Sessions {
                channel: channel.clone(),
                handle: handle.clone(),
                service: service.clone(),
                password: config.app_password,
                vault: config.vault,
                http: http.clone(),
                clock: config.clock.clone(),
                state: tokio::sync::Mutex::new(None),
            },
            channel,
            handle,
            service,
            http,
            clock: config.clock,
            cards: config.cards,
            hold: Mutex::new(None),
            dids: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, method: &str) -> Result<Url, String> {
        self.service
            .join(&format!("xrpc/{method}"))
            .map_err(|e| format!("cannot build the URL of {method}: {e}"))
    }

    /// Sends a request with the session's access token; after `ExpiredToken` (or a 401),
    /// renews the session once and sends again (the server refused it unprocessed).
    async fn send_authorized(
        &self,
        log_id: &str,
        build: impl Fn(&Session) -> RequestBuilder,
    ) -> (Sent, Option<Session>) {
        let mut session = match self.sessions.current().await {
            Ok(s) => s,
            Err(e) => return (Sent::Session(e), None),
        };
        let mut renewed = false;
        loop {
            let header = match bearer_header(&session.access) {
                Ok(h) => h,
                Err(e) => {
                    return (
                        Sent::Session(SessionError::Transient {
                            handle: self.handle.clone(),
                            reason: e.to_string(),
                        }),
                        None,
                    );
                }
            };
            let response =
                match self.http.send(log_id, build(&session).header(AUTHORIZATION, header)).await {
                    Ok(r) => r,
                    Err(e) => return (Sent::Failed(e), Some(session)),
                };
            self.note_limits(&response);
            let expired = response.status == StatusCode::UNAUTHORIZED
                || (response.status == StatusCode::BAD_REQUEST
                    && matches!(
                        xrpc_error_name(&response).as_deref(),
                        Some("ExpiredToken" | "InvalidToken")
                    ));
            if !expired || renewed {
                return (Sent::Answer(response), Some(session));
            }
            tracing::info!(channel = %self.channel, "Bluesky called the access token expired; renewing the session");
            match self.sessions.renew(&session).await {
                Ok(s) => {
                    session = s;
                    renewed = true;
                }
                Err(e) => return (Sent::Session(e), None),
            }
        }
    }

    fn note_limits(&self, response: &Response) {
        if header_u64(&response.headers, "ratelimit-remaining") == Some(0)
            || response.status == StatusCode::TOO_MANY_REQUESTS
        {
            let until = header_epoch(&response.headers, "ratelimit-reset")
                .or_else(|| retry_after(&response.headers, self.clock.now()));
            if let Some(until) = until {
                tracing::warn!(channel = %self.channel, until = %until, "Bluesky rate limit reached; holding the channel");
                let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
                *hold = Some(hold.map_or(until, |h| h.max(until)));
            }
        }
    }

    fn held(&self) -> Option<Timestamp> {
        let hold = *self.hold.lock().unwrap_or_else(|e| e.into_inner());
        hold.filter(|h| *h > self.clock.now())
    }

    fn session_outcome(&self, e: SessionError) -> Outcome {
        match e {
            SessionError::Refused { .. } => Outcome::Unauthorized { reason: e.to_string() },
            SessionError::RateLimited { until, .. } => {
                if let Some(until) = until {
                    let mut hold = self.hold.lock().unwrap_or_else(|p| p.into_inner());
                    *hold = Some(hold.map_or(until, |h| h.max(until)));
                }
                Outcome::Retry { reason: e.to_string(), not_before: until }
            }
            SessionError::Transient { .. } => {
                Outcome::Retry { reason: e.to_string(), not_before: None }
            }
        }
    }

    /// The DID of `handle`, resolved once (`com.atproto.identity.resolveHandle`) and cached.
    async fn resolve(&self, handle: &str, log_id: &str) -> Result<String, String> {
        if let Some(did) = self.dids.lock().unwrap_or_else(|e| e.into_inner()).get(handle) {
            return Ok(did.clone());
        }
        let mut url = self.url("com.atproto.identity.resolveHandle")?;
        url.query_pairs_mut().append_pair("handle", handle);
        let (sent, _) =
            self.send_authorized(log_id, |_| self.http.request(Method::GET, url.clone())).await;
        let response = match sent {
            Sent::Answer(r) => r,
            Sent::Failed(e) => return Err(e.to_string()),
            Sent::Session(e) => return Err(e.to_string()),
        };
        if response.status != StatusCode::OK {
            return Err(format!("Bluesky answered {}: {}", response.status, xrpc_error(&response)));
        }
        let did = response
            .json::<Value>()
            .and_then(|v| v.get("did").and_then(Value::as_str).map(str::to_owned))
            .filter(|d| d.starts_with("did:"))
            .ok_or_else(|| "the answer has no did".to_owned())?;
        self.dids.lock().unwrap_or_else(|e| e.into_inner()).insert(handle.to_owned(), did.clone());
        Ok(did)
    }

    /// The facets of `text` as the record wants them; a mention whose handle does not resolve is
    /// left as plain text (with a warning).
    async fn facets(&self, text: &str, log_id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for f in detect(text) {
            let feature = match &f.feature {
                Feature::Link(uri) => {
                    json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri })
                }
                Feature::Tag(tag) => json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
                Feature::Mention(handle) => match self.resolve(handle, log_id).await {
                    Ok(did) => json!({ "$type": "app.bsky.richtext.facet#mention", "did": did }),
                    Err(reason) => {
                        tracing::warn!(channel = %self.channel, delivery = log_id, handle = %handle, reason = %reason, "cannot resolve a mentioned handle; it stays plain text");
                        continue;
                    }
                },
            };
            out.push(json!({
                "index": { "byteStart": f.start, "byteEnd": f.end },
                "features": [feature],
            }));
        }
        out
    }

    /// Uploads the images and returns the `app.bsky.embed.images` embed.
    async fn images(&self, delivery: &Delivery) -> Result<Value, Outcome> {
        if delivery.media.iter().any(|m| m.is_video()) {
            return Err(Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: "crieur does not send videos to Bluesky yet; nothing was sent".into(),
            });
        }
        if delivery.media.len() > MAX_IMAGES {
            return Err(Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "{} images, and Bluesky takes at most {MAX_IMAGES}; nothing was sent",
                    delivery.media.len()
                ),
            });
        }
        if let Some(big) = delivery.media.iter().find(|m| m.data.len() > MAX_IMAGE_BYTES) {
            return Err(Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "{} is {} bytes, and Bluesky takes at most {MAX_IMAGE_BYTES} per image: \
                     make it smaller; nothing was sent",
                    big.path,
                    big.data.len()
                ),
            });
        }
        let url = self
            .url("com.atproto.repo.uploadBlob")
            .map_err(|reason| Outcome::Rejected { kind: RejectKind::Other, reason })?;
        let mut images = Vec::new();
        for m in &delivery.media {
            let (sent, _) = self
                .send_authorized(&delivery.id, |_| {
                    self.http
                        .request(Method::POST, url.clone())
                        .header(CONTENT_TYPE, m.content_type.clone())
                        .body(m.data.to_vec())
                })
                .await;
            let response = match sent {
                Sent::Answer(r) => r,
                // A blob alone is not a post: retrying the upload is harmless.
                Sent::Failed(e) => {
                    return Err(Outcome::Retry { reason: e.to_string(), not_before: None });
                }
                Sent::Session(e) => return Err(self.session_outcome(e)),
            };
            let blob = response.json::<Value>().and_then(|v| v.get("blob").cloned());
            match (response.status.as_u16(), blob) {
                (200, Some(blob)) => {
                    let mut image = json!({ "alt": m.alt, "image": blob });
                    if m.width > 0 && m.height > 0 {
                        image["aspectRatio"] = json!({ "width": m.width, "height": m.height });
                    }
                    images.push(image);
                }
                (429, _) => {
                    return Err(Outcome::Retry {
                        reason: format!("Bluesky rate limit on upload: {}", xrpc_error(&response)),
                        not_before: header_epoch(&response.headers, "ratelimit-reset"),
                    });
                }
                (code, _) if (400..500).contains(&code) => {
                    return Err(Outcome::Rejected {
                        kind: RejectKind::Invalid,
                        reason: format!(
                            "Bluesky refused the image {} ({code}): {}; nothing was posted",
                            m.path,
                            xrpc_error(&response)
                        ),
                    });
                }
                (code, _) => {
                    return Err(Outcome::Retry {
                        reason: format!(
                            "Bluesky answered {code} to the upload of {}: {}; nothing was posted",
                            m.path,
                            xrpc_error(&response)
                        ),
                        not_before: None,
                    });
                }
            }
        }
        Ok(json!({ "$type": "app.bsky.embed.images", "images": images }))
    }

    /// The `app.bsky.embed.external` card of the link, or `None` (with a warning).
    async fn card(&self, link: &str, log_id: &str) -> Option<Value> {
        match self.cards.fetch(link, log_id).await {
            Ok(card) => Some(external(link, &card.title, &card.description)),
            Err(reason) => {
                tracing::warn!(channel = %self.channel, delivery = log_id, link = %link, reason = %reason, "no link card: the page could not be read; posting without it");
                None
            }
        }
    }

    fn post_url(&self, rkey: &str) -> String {
        format!("https://bsky.app/profile/{}/post/{rkey}", self.handle)
    }

    /// `getRecord` on the delivery's key: `Ok(Some(ref))` when the record is there with the
    /// delivery's text, `Ok(None)` when it is absent.
    async fn get_record(
        &self,
        delivery: &Delivery,
        rkey: &str,
    ) -> Result<Option<StrongRef>, String> {
        let url = |did: &str| -> Result<Url, String> {
            let mut url = self.url("com.atproto.repo.getRecord")?;
            url.query_pairs_mut()
                .append_pair("repo", did)
                .append_pair("collection", POST_COLLECTION)
                .append_pair("rkey", rkey);
            Ok(url)
        };
        let (sent, _) = self
            .send_authorized(&delivery.id, |s| match url(&s.did) {
                Ok(u) => self.http.request(Method::GET, u),
                Err(_) => self.http.request(Method::GET, self.service.clone()),
            })
            .await;
        let response = match sent {
            Sent::Answer(r) => r,
            Sent::Failed(e) => return Err(format!("getRecord: {e}")),
            Sent::Session(e) => return Err(format!("getRecord: {e}")),
        };
        let name = xrpc_error_name(&response);
        match response.status.as_u16() {
            200 => {
                let v: Value = response.json().ok_or("getRecord: the answer is not JSON")?;
                let uri = v.get("uri").and_then(Value::as_str);
                let cid = v.get("cid").and_then(Value::as_str);
                let text = v.pointer("/value/text").and_then(Value::as_str);
                match (uri, cid, text) {
                    (Some(uri), Some(cid), Some(text)) if text == delivery.text => {
                        Ok(Some(StrongRef { uri: uri.to_owned(), cid: cid.to_owned() }))
                    }
                    (Some(_), Some(_), Some(_)) => Err(format!(
                        "the record {rkey} exists with another text: check the account, then \
                         run `crieur resolve {} {}`",
                        delivery.post, delivery.channel
                    )),
                    _ => Err("getRecord: the answer has no uri, cid or text".into()),
                }
            }
            400 | 404 if name.as_deref() == Some("RecordNotFound") => Ok(None),
            code => Err(format!("getRecord answered {code}: {}", xrpc_error(&response))),
        }
    }

    fn published(&self, delivery: &Delivery, own: &StrongRef, root: Option<&StrongRef>) -> Outcome {
        let rkey = own.uri.rsplit('/').next().unwrap_or_default();
        tracing::info!(channel = %self.channel, delivery = %delivery.id, uri = %own.uri, "published to Bluesky");
        Outcome::Published { remote_id: remote_id(own, root), url: Some(self.post_url(rkey)) }
    }

    async fn publish_inner(&self, delivery: &Delivery) -> Outcome {
        let rkey = delivery_rkey(&delivery.id, delivery.attempt_started_at);
        let reply = match (&delivery.reply_to, delivery.item) {
            (Some(parent), _) => match parse_remote_id(parent) {
                Some((parent, root)) => Some((parent, root)),
                None => {
                    return Outcome::Rejected {
                        kind: RejectKind::Other,
                        reason: format!(
                            "thread item {}: the previous item's id {parent:?} is not a Bluesky \
                             record reference; nothing was sent",
                            delivery.item
                        ),
                    };
                }
            },
            (None, 0) => None,
            (None, item) => {
                return Outcome::Rejected {
                    kind: RejectKind::Other,
                    reason: format!(
                        "thread item {item} has no previous post to reply to; nothing was sent"
                    ),
                };
            }
        };
        let embed = if !delivery.media.is_empty() {
            match self.images(delivery).await {
                Ok(e) => Some(e),
                Err(outcome) => return outcome,
            }
        } else if let Some(link) = &delivery.link {
            match &delivery.options.card {
                Some(card) => Some(external(link, &card.title, &card.description)),
                None => self.card(link, &delivery.id).await,
            }
        } else {
            None
        };
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": delivery.text,
            "createdAt": self.clock.now().to_string(),
        });
        if let Some(lang) = &delivery.options.lang {
            record["langs"] = json!([lang]);
        }
        let facets = self.facets(&delivery.text, &delivery.id).await;
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if let Some((parent, root)) = &reply {
            record["reply"] = json!({
                "root": { "uri": root.uri, "cid": root.cid },
                "parent": { "uri": parent.uri, "cid": parent.cid },
            });
        }
        if let Some(embed) = embed {
            record["embed"] = embed;
        }
        let url = match self.url("com.atproto.repo.createRecord") {
            Ok(u) => u,
            Err(reason) => return Outcome::Rejected { kind: RejectKind::Other, reason },
        };
        tracing::debug!(channel = %self.channel, delivery = %delivery.id, rkey = %rkey, attempt = delivery.attempt, "creating the Bluesky record");
        let (sent, _) = self
            .send_authorized(&delivery.id, |s| {
                let body = json!({
                    "repo": s.did,
                    "collection": POST_COLLECTION,
                    "rkey": rkey,
                    "record": record,
                });
                self.http
                    .request(Method::POST, url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&body).unwrap_or_default())
            })
            .await;
        let root = reply.as_ref().map(|(_, root)| root);
        let response = match sent {
            Sent::Answer(r) => r,
            Sent::Session(e) => return self.session_outcome(e),
            Sent::Failed(e) => {
                tracing::warn!(channel = %self.channel, delivery = %delivery.id, error = %error_chain(&e), "the Bluesky request failed");
                return e.outcome();
            }
        };
        let code = response.status.as_u16();
        let name = xrpc_error_name(&response);
        if response.status.is_success() {
            let v = response.json::<Value>();
            let field = |k: &str| {
                v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str).map(str::to_owned)
            };
            return match (field("uri"), field("cid")) {
                (Some(uri), Some(cid)) if uri.starts_with("at://") => {
                    self.published(delivery, &StrongRef { uri, cid }, root)
                }
                _ => Outcome::Unknown {
                    reason: format!(
                        "Bluesky answered {code} without a readable uri and cid; the record {rkey} \
                         may be there"
                    ),
                },
            };
        }
        let exists = code == 500
            || code == 409
            || (code == 400
                && matches!(name.as_deref(), Some("RecordAlreadyExists" | "InvalidSwap")));
        if exists {
            // The key may already hold the record (a resend after a lost answer): ask.
            return match self.get_record(delivery, &rkey).await {
                Ok(Some(own)) => self.published(delivery, &own, root),
                Ok(None) if code == 500 => Outcome::Unknown {
                    reason: format!(
                        "Bluesky answered 500 ({}) and the record {rkey} is not there yet",
                        xrpc_error(&response)
                    ),
                },
                Ok(None) => Outcome::Rejected {
                    kind: RejectKind::Other,
                    reason: format!(
                        "Bluesky refused the record {rkey} ({code}: {}) and it is not there",
                        xrpc_error(&response)
                    ),
                },
                Err(reason) => Outcome::Unknown {
                    reason: format!(
                        "Bluesky answered {code} ({}), and then: {reason}",
                        xrpc_error(&response)
                    ),
                },
            };
        }
        match code {
            429 => Outcome::Retry {
                reason: format!("Bluesky rate limit (429): {}", xrpc_error(&response)),
                not_before: header_epoch(&response.headers, "ratelimit-reset")
                    .or_else(|| retry_after(&response.headers, self.clock.now())),
            },
            401 => Outcome::Unauthorized {
                reason: format!("Bluesky refused the session (401): {}", xrpc_error(&response)),
            },
            400 => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("Bluesky refused the post (400): {}", xrpc_error(&response)),
            },
            403 => Outcome::Rejected {
                kind: RejectKind::Forbidden,
                reason: format!(
                    "Bluesky does not allow this post (403): {}",
                    xrpc_error(&response)
                ),
            },
            c if (400..500).contains(&c) => Outcome::Rejected {
                kind: RejectKind::Other,
                reason: format!("Bluesky refused the post ({c}): {}", xrpc_error(&response)),
            },
            c => Outcome::Unknown {
                reason: format!(
                    "Bluesky answered {c}; the record {rkey} may be there: {}",
                    xrpc_error(&response)
                ),
            },
        }
    }
}

/// The `app.bsky.embed.external` embed of a link card.
fn external(link: &str, title: &str, description: &str) -> Value {
    json!({
        "$type": "app.bsky.embed.external",
        "external": { "uri": link, "title": title, "description": description },
    })
}

#[async_trait::async_trait]
impl Publisher for BlueskyPublisher {
    fn network(&self) -> Network {
        Network::Bluesky
    }

    fn engagement(&self) -> Option<&dyn crieur_core::engagement::Engagement> {
        Some(self)
    }

    async fn publish(&self, delivery: &Delivery) -> Outcome {
        if let Some(until) = self.held() {
            return Outcome::Retry {
                reason: format!(
                    "Bluesky's rate limit for channel {} is used up until {until}; nothing was sent",
                    self.channel
                ),
                not_before: Some(until),
            };
        }
        self.publish_inner(delivery).await
    }

    async fn reconcile(&self, delivery: &Delivery) -> Reconciled {
        let rkey = delivery_rkey(&delivery.id, delivery.attempt_started_at);
        match self.get_record(delivery, &rkey).await {
            Ok(Some(own)) => {
                let root =
                    delivery.reply_to.as_deref().and_then(parse_remote_id).map(|(_, root)| root);
                let Outcome::Published { remote_id, url } =
                    self.published(delivery, &own, root.as_ref())
                else {
                    return Reconciled::CannotTell { reason: "unreachable".into() };
                };
                Reconciled::Found { remote_id, url }
            }
            Ok(None) => Reconciled::NotFound,
            Err(reason) => Reconciled::CannotTell { reason },
        }
    }

    fn hold_until(&self) -> Option<Timestamp> {
        self.held()
    }

    /// `com.atproto.server.getSession` with the kept session (refreshed, or created from the
    /// app password, only when it must be, as for a post): never a post.
    async fn check_credentials(&self) -> CredentialCheck {
        let url = match self.url("com.atproto.server.getSession") {
            Ok(u) => u,
            Err(reason) => return CredentialCheck::Unreachable { reason },
        };
        let (sent, _) =
            self.send_authorized("doctor", |_| self.http.request(Method::GET, url.clone())).await;
        let response = match sent {
            Sent::Answer(r) => r,
            Sent::Failed(e) => return CredentialCheck::Unreachable { reason: error_chain(&e) },
            Sent::Session(e @ SessionError::Refused { .. }) => {
                return CredentialCheck::Refused { reason: e.to_string() };
            }
            Sent::Session(e) => return CredentialCheck::Unreachable { reason: e.to_string() },
        };
        match response.status.as_u16() {
            200 => {
                let handle = response
                    .json::<Value>()
                    .and_then(|v| v.get("handle").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| self.handle.clone());
                // App passwords do not expire; the session is renewed as it goes.
                CredentialCheck::Accepted { account: format!("@{handle}"), expires_at: None }
            }
            code @ (400 | 401 | 403) => CredentialCheck::Refused {
                reason: format!(
                    "Bluesky refused the session of {} ({code}: {}); check `handle` and \
                     `app_password` (an app password from Settings, App passwords)",
                    self.handle,
                    xrpc_error(&response)
                ),
            },
            code => CredentialCheck::Unreachable {
                reason: format!("Bluesky answered {code}: {}", xrpc_error(&response)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_ids_carry_the_root_of_a_reply() {
        let own =
            StrongRef { uri: "at://did:plc:a/app.bsky.feed.post/3k".into(), cid: "c1".into() };
        let root =
            StrongRef { uri: "at://did:plc:a/app.bsky.feed.post/3j".into(), cid: "c0".into() };
        assert_eq!(parse_remote_id(&remote_id(&own, None)), Some((own.clone(), own.clone())));
        assert_eq!(parse_remote_id(&remote_id(&own, Some(&root))), Some((own, root)));
        assert_eq!(parse_remote_id("12345"), None);
        assert_eq!(parse_remote_id("at://x|"), None);
    }
}
