//! The LinkedIn adapter: crieur publishes a channel's posts with LinkedIn's Posts API
//! (`POST {api_base}/rest/posts`) as a member (`urn:li:person:ID`) or a company Page
//! (`urn:li:organization:NUMBER`).
//!
//! Design, in short:
//! - [`LinkedinPublisher`] sends the delivery's text as `commentary` byte for byte: the policy
//!   crate has already escaped it in LinkedIn's "little text" format, and an escape added here
//!   would show. It maps every answer to an [`Outcome`](crieur_core::Outcome) (table on the type).
//! - No idempotency key exists on LinkedIn, but an identical commentary from the same author is
//!   refused with 422 `DUPLICATE_POST`, naming the existing post. Reconciliation is therefore a
//!   resend: an attempt flagged `may_have_been_sent` that meets `DUPLICATE_POST` is the earlier
//!   post, published.
//! - Access tokens last 60 days and most apps get no refresh token: [`expiry_warning`] tells the
//!   daemon when to warn (14, 7 and 1 days ahead); past expiry nothing is sent and the channel is
//!   `Unauthorized` until `crieur auth` runs again.
//! - Tokens come from [`LinkedinTokens`]: a static token, or a
//!   [`TokenManager`](crieur_net_oauth::TokenManager) that loads them from the vault and
//!   refreshes once after a 401 when LinkedIn gave a refresh token. [`authorize`] runs
//!   `crieur auth` (three-legged flow on a loopback redirect) and stores what it got. No token
//!   ever reaches a log, an error or `Debug`.
//! - Images ([`crieur_core::Delivery::media`]): `initializeUpload` then a `PUT` of the bytes for
//!   each, recorded by URN in the channel's [`crieur_core::MediaLedger`] (LinkedIn gives no expiry,
//!   so a retry reuses them all); the post carries `content.media` for one image and
//!   `content.multiImage` for 2 to 20, each with its `altText`. A 401 on an upload is final for
//!   the attempt (`Unauthorized`): the token was checked and refreshed before it.
//! - Engagement figures (`crieur_core::engagement::Engagement`): a Page's posts through
//!   `organizationalEntityShareStatistics` (impressions, clicks, likes, comments, shares; 20
//!   posts a call), a member's through `socialActions` (likes and comments only: LinkedIn gives a
//!   third-party app no impressions or clicks of a member's post).

mod auth;
mod expiry;
mod media;
mod publisher;
mod tokens;
mod urn;

pub use auth::{
    AUTHORIZE_URL, LinkedinAuthConfig, LinkedinAuthorized, TOKEN_URL, authorize, oauth_app,
    scopes_for,
};
pub use expiry::{EXPIRY_THRESHOLDS_DAYS, ExpiryWarning, expiry_warning};
pub use media::MAX_IMAGES;
pub use publisher::{
    DEFAULT_API_BASE, DEFAULT_LINKEDIN_VERSION, LinkedinError, LinkedinPublisher,
    LinkedinPublisherConfig, RESTLI_PROTOCOL_VERSION,
};
pub use tokens::LinkedinTokens;
pub use urn::{Author, InvalidAuthor};

#[cfg(test)]
mod media_tests;
#[cfg(test)]
mod oauth_tests;
#[cfg(test)]
mod tests;
