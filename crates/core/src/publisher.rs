//! The contract between the dispatcher and the network adapters.

use jiff::Timestamp;

use crate::{Article, Network, PostOptions};

/// One (post, channel, thread item) to send, rendered: the exact bytes the network will receive.
///
/// The store keeps one delivery per (post, channel, item). Item 0 is the post itself; items 1.. are
/// its thread, each sent only after the previous item is published, with the previous item's remote
/// id in [`Delivery::reply_to`]. So a thread interrupted by a crash resumes at the first unpublished
/// item and never re-posts the part that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stable id of this delivery, the same across every attempt (the webhook's `webhook-id`,
    /// the key adapters log). Derived from (post, channel, item), never random.
    pub id: String,
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// The channel's network.
    pub network: Network,
    /// The rendered text, exactly as the network must receive it (escaping, mentions and UTM tags
    /// already applied by the policy crate: adapters never transform it).
    pub text: String,
    /// The rendered link (UTM-tagged), for networks that send it apart from the text (Facebook's
    /// `link`, the webhook's `link`).
    pub link: Option<String>,
    /// The post's category, when it has one.
    pub category: Option<String>,
    /// The article, for blog posts.
    pub article: Option<Article>,
    /// 0 for the post itself, n for the n-th reply of its thread.
    pub item: u32,
    /// The remote id of the previous thread item (the one to reply to), for items 1...
    pub reply_to: Option<String>,
    /// 1-based attempt number; the store increments it when it claims the delivery.
    pub attempt: u32,
    /// When the current attempt started (reconciliation looks for the post since then; for an
    /// attempt that follows an `unknown`, the start of the first attempt that may have sent it).
    pub attempt_started_at: Timestamp,
    /// True when an earlier attempt ended `unknown`: the post may already be on the network.
    pub may_have_been_sent: bool,
    /// The images (or videos) sent with this item, in order, each read from its file and with its
    /// metadata already removed: adapters upload [`Attachment::data`] as it is. Empty for a text
    /// post.
    pub media: Vec<Attachment>,
    /// The post's `lang`, `visibility` and `card` on this channel (the card on item 0 only).
    pub options: PostOptions,
}

/// One image or video of a delivery, ready to upload.
///
/// Built by the caller of [`Publisher::publish`] from the post's `media = [{ path, alt }]` entry:
/// the kind was sniffed from the bytes and the metadata removed (unless the channel or post keeps
/// it), so every adapter sends the same bytes and can name them by [`Attachment::sha256`].
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The path as written in the post file (relative to it), for logs and the webhook event.
    pub path: String,
    /// The alternative text a screen reader reads; never empty (policy refuses a missing alt).
    pub alt: String,
    /// The MIME type sniffed from the bytes (`image/jpeg`, `image/png`, `image/gif`,
    /// `image/webp`, `video/mp4`).
    pub content_type: String,
    /// Width in pixels as displayed (after the orientation), 0 when unknown.
    pub width: u32,
    /// Height in pixels as displayed, 0 when unknown.
    pub height: u32,
    /// Lowercase hex SHA-256 of [`Attachment::data`]: a stable name for "the same upload".
    pub sha256: String,
    /// The bytes to upload.
    pub data: std::sync::Arc<[u8]>,
}

impl Attachment {
    /// True for a video (`video/*`), false for an image.
    pub fn is_video(&self) -> bool {
        self.content_type.starts_with("video/")
    }
}

impl std::fmt::Debug for Attachment {
    /// The bytes are summarized by their length, never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("path", &self.path)
            .field("alt", &self.alt)
            .field("content_type", &self.content_type)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("sha256", &self.sha256)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// Why the network refused a delivery for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// The network says it already has this content.
    Duplicate,
    /// The text or payload is too long or otherwise invalid for the network.
    Invalid,
    /// The account lacks a permission or is blocked by the network's policy.
    Forbidden,
    /// The endpoint is gone (webhook 410): the channel is disabled until the config changes.
    Gone,
    /// The network's answer could not be understood, or the channel's config cannot be sent
    /// (for example a webhook URL refused by the SSRF guard).
    Other,
}

/// The outcome of one attempt, in terms the store can act on without knowing the network.
///
/// How adapters map HTTP situations (each adapter documents its network's specifics):
///
/// | situation | outcome |
/// |---|---|
/// | 2xx with the created object's id | [`Outcome::Published`] |
/// | DNS failure, connection refused, TLS failure: nothing was sent | [`Outcome::Retry`] |
/// | 429, or 502/503/504 from a gateway that says it did not process the request | [`Outcome::Retry`], with `not_before` from `Retry-After` or the network's reset header |
/// | 401, or the network's "token invalid/expired" code | [`Outcome::Unauthorized`] |
/// | other 4xx: content, duplicate, permission | [`Outcome::Rejected`] |
/// | timeout after the request was written, connection reset, other 5xx, an unreadable 2xx | [`Outcome::Unknown`] |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The network created the post.
    Published {
        /// The network's id for it.
        remote_id: String,
        /// A public URL, when the network has one.
        url: Option<String>,
    },
    /// Provably not sent (or refused before processing): may be retried.
    Retry {
        /// What happened, for `status`.
        reason: String,
        /// The earliest time the network accepts another try, when it said so.
        not_before: Option<Timestamp>,
    },
    /// Refused for good; never retried.
    Rejected {
        /// The kind of refusal.
        kind: RejectKind,
        /// The network's reason, with what to change.
        reason: String,
    },
    /// The credentials were refused: refresh the token or re-authorize the channel. Not sent.
    Unauthorized {
        /// The network's reason.
        reason: String,
    },
    /// The request may have reached the network; reconcile before any retry.
    Unknown {
        /// What happened.
        reason: String,
    },
}

/// What reconciliation learned about a delivery whose last attempt ended [`Outcome::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// The post is on the network.
    Found {
        /// The network's id for it.
        remote_id: String,
        /// A public URL, when the network has one.
        url: Option<String>,
    },
    /// The network was asked and the post is not there: it may be sent again.
    NotFound,
    /// The adapter cannot prove either way; the delivery stays `unknown` (or, for webhooks whose
    /// receivers deduplicate on `webhook-id`, the adapter answers `NotFound` instead).
    CannotTell {
        /// Why not.
        reason: String,
    },
}

/// A network adapter. One per channel; interchangeable behind this trait.
///
/// Adapters know nothing of the schedule or the store: they send what they are given and say what
/// happened. They never retry a request that may have reached the network; the dispatcher decides
/// about retries from the [`Outcome`].
///
/// A minimal adapter: a network that keeps posts in memory and refuses an empty text for good.
///
/// ```
/// use std::sync::Mutex;
/// use crieur_core::{Delivery, Network, Outcome, Publisher, Reconciled, RejectKind};
///
/// #[derive(Default)]
/// struct Memory(Mutex<Vec<String>>);
///
/// #[async_trait::async_trait]
/// impl Publisher for Memory {
///     fn network(&self) -> Network {
///         Network::Webhook
///     }
///
///     async fn publish(&self, delivery: &Delivery) -> Outcome {
///         if delivery.text.is_empty() {
///             return Outcome::Rejected { kind: RejectKind::Invalid, reason: "empty".into() };
///         }
///         let mut posts = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         posts.push(delivery.id.clone());
///         Outcome::Published { remote_id: posts.len().to_string(), url: None }
///     }
///
///     // Asked after an attempt whose outcome is unknown: is it on the network?
///     async fn reconcile(&self, delivery: &Delivery) -> Reconciled {
///         let posts = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         match posts.iter().position(|id| *id == delivery.id) {
///             Some(i) => Reconciled::Found { remote_id: (i + 1).to_string(), url: None },
///             None => Reconciled::NotFound,
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let delivery = Delivery {
///     id: "welcome/blog/0".into(),
///     post: "welcome".into(),
///     channel: "blog".into(),
///     network: Network::Webhook,
///     text: "Hello".into(),
///     link: None,
///     category: None,
///     article: None,
///     item: 0,
///     reply_to: None,
///     attempt: 1,
///     attempt_started_at: jiff::Timestamp::UNIX_EPOCH,
///     may_have_been_sent: false,
///     media: Vec::new(),
///     options: Default::default(),
/// };
/// let network = Memory::default();
/// assert_eq!(network.reconcile(&delivery).await, Reconciled::NotFound);
/// assert!(matches!(network.publish(&delivery).await, Outcome::Published { .. }));
/// assert!(matches!(network.reconcile(&delivery).await, Reconciled::Found { .. }));
/// # }
/// ```
#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    /// The network this adapter speaks.
    fn network(&self) -> Network;

    /// Sends one delivery, once. Never panics; every failure is an [`Outcome`].
    async fn publish(&self, delivery: &Delivery) -> Outcome;

    /// Looks for `delivery` on the network (since `delivery.attempt_started_at`), after an attempt
    /// that ended [`Outcome::Unknown`].
    async fn reconcile(&self, delivery: &Delivery) -> Reconciled;

    /// The earliest instant this channel may send again, when the adapter learned a rate limit
    /// (for example X's `x-rate-limit-remaining: 0`). The dispatcher holds the channel's
    /// deliveries until then instead of collecting 429s. Default: no hold.
    fn hold_until(&self) -> Option<Timestamp> {
        None
    }

    /// Asks the network, with one cheap authenticated read and never a post, whether it accepts
    /// this channel's credentials (`crieur doctor`). Default: [`CredentialCheck::NotChecked`],
    /// for an adapter that has no such read.
    async fn check_credentials(&self) -> CredentialCheck {
        CredentialCheck::NotChecked
    }

    /// The reader of this channel's engagement figures, when its network has one
    /// ([`Engagement`](crate::engagement::Engagement)). Default: none.
    fn engagement(&self) -> Option<&dyn crate::engagement::Engagement> {
        None
    }
}

/// What a channel's credential check found ([`Publisher::check_credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialCheck {
    /// The network accepted the credentials.
    Accepted {
        /// Who the network says the credentials belong to (a handle, a name, a Page), for the
        /// person reading the check.
        account: String,
        /// When the access token expires, when known.
        expires_at: Option<Timestamp>,
    },
    /// The network refused the credentials: a person must act. The reason says what to do.
    Refused {
        /// What the network said and what to do (`crieur auth CHANNEL`, a new token).
        reason: String,
    },
    /// No answer could be had (connection refused, timeout, 5xx): nothing is known of the
    /// credentials, but the channel cannot publish now either.
    Unreachable {
        /// What failed.
        reason: String,
    },
    /// The adapter has no credential check.
    NotChecked,
}

/// OAuth tokens of one channel, as crieur stores them (encrypted at rest by the store).
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when the network gave one. Single-use on X: the new one must be saved
    /// before the new access token is used.
    pub refresh_token: Option<String>,
    /// When the access token expires, when known.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An error of the token vault: the database could not be read or written, or no key is set.
#[derive(Debug, thiserror::Error)]
#[error("token storage: {0}")]
pub struct VaultError(pub String);

/// Where OAuth adapters keep the tokens they obtain or refresh. Implemented by the store, which
/// encrypts them at rest; adapters see only this trait.
#[async_trait::async_trait]
pub trait TokenVault: Send + Sync {
    /// The stored tokens of `channel`, if any were stored.
    async fn load(&self, channel: &str) -> Result<Option<Tokens>, VaultError>;

    /// Saves the tokens of `channel`, durably, before returning (rotation: the caller uses the
    /// new access token only after this returns Ok).
    async fn save(&self, channel: &str, tokens: &Tokens) -> Result<(), VaultError>;

    /// Marks `channel` as needing `crieur auth` again (refresh token revoked or invalid). Its
    /// deliveries are held, not failed, until new tokens are saved.
    async fn mark_revoked(&self, channel: &str, reason: &str) -> Result<(), VaultError>;

    /// Takes the refresh lock of `channel` for `owner`, across every instance sharing the
    /// database, for at most `ttl`. Returns false when another owner holds it.
    async fn try_lock_refresh(
        &self,
        channel: &str,
        owner: &str,
        ttl: jiff::SignedDuration,
    ) -> Result<bool, VaultError>;

    /// Releases the refresh lock taken by `owner`.
    async fn unlock_refresh(&self, channel: &str, owner: &str) -> Result<(), VaultError>;
}
