//! The Facebook Page adapter: crieur publishes a post to a Page through the Graph API, paces the
//! Page by Facebook's usage headers, reconciles uncertain attempts, and obtains the Page token.
//!
//! Design, in short:
//! - [`FacebookPublisher`] sends `POST /{version}/{page-id}/feed` (form: `message`, `link`) with
//!   the Page token in a sensitive `Authorization: Bearer` header, never in a URL. The token is a
//!   static secret from the config or the one `crieur auth` stored, read from the
//!   [`TokenVault`](crieur_core::TokenVault) before each request.
//! - Engagement figures (`crieur_core::engagement::Engagement`): a post's reactions, comments
//!   and shares, and `post_clicks` from insights where the token allows; impressions were retired
//!   by Meta and are never asked for (`null`).
//! - Graph error objects are mapped by code ([`refusal_outcome`]); every refusal is logged with
//!   its `fbtrace_id`. Facebook has no idempotency key, so an uncertain attempt is
//!   reconciled by reading `/{page-id}/published_posts` and matching the text.
//! - Usage headers ([`FacebookUsage`]) above 80% space the channel's posts
//!   ([`Publisher::hold_until`](crieur_core::Publisher::hold_until)); the pauses are in the table
//!   below.
//! - [`authorize`] runs the login: the shared OAuth flow (authorization code on a loopback
//!   redirect), then the user token is exchanged for a long-lived one, from which the Page token
//!   (which does not expire) is read and saved.
//! - Thread items are refused (`Rejected(Invalid)`, nothing sent): Pages have no threads, and
//!   comments would need a further permission.
//! - Photos ([`crieur_core::Delivery::media`]): each is uploaded to `/{page-id}/photos` with
//!   `published=false` and its alt text in `alt_text_custom`, then the feed post names them in
//!   `attached_media`. One photo takes the same path as several (rather than a `/photos` post with
//!   a caption): the upload stays apart from the post, so the upload ledger
//!   ([`crieur_core::MediaLedger`]) spares a retry the upload, and reconciliation keeps reading
//!   the feed. An unpublished photo belongs to the post it is attached to, so the ledger key is
//!   the digest of the bytes and the delivery id: another post uploads its own copy.
//! - The text is sent as rendered: mentions arrive as plain names (apps cannot tag Pages or
//!   people in general), hashtags as plain `#tag`.
//!
//! Pacing by the last usage reading:
//!
//! | highest counter | next post not before |
//! |---|---|
//! | below 80% | no pause |
//! | 80% to 90% | 1 minute after the reading |
//! | 90% to 95% | 5 minutes after the reading |
//! | 95% or more, or a rate-limit error | `estimated_time_to_regain_access` when given, else 15 minutes after the reading |

mod auth;
mod graph;
mod media;
mod pace;
mod publisher;
mod usage;

pub use auth::{
    AuthError, AuthorizedPage, DEFAULT_DIALOG_BASE, FacebookAuthConfig, SCOPES, authorize,
};
pub use graph::{
    GraphError, RATE_LIMIT_CODES, Refusal, is_rate_limit, refusal_outcome, token_subcode_meaning,
};
pub use media::MAX_PHOTOS;
pub use pace::{
    HIGH_PERCENT, PAUSE_HIGH, PAUSE_SLOW, PAUSE_THROTTLED, SLOW_DOWN_PERCENT, THROTTLED_PERCENT,
};
#[doc(hidden)]
pub use publisher::reconcile_answer;
pub use publisher::{
    DEFAULT_API_BASE, DEFAULT_GRAPH_VERSION, FacebookError, FacebookPublisher,
    FacebookPublisherConfig, POST_URL_PREFIX, PageToken, RECONCILE_LIMIT, RECONCILE_SLACK,
};
pub use usage::FacebookUsage;

#[cfg(test)]
mod media_tests;
#[cfg(test)]
mod tests;
