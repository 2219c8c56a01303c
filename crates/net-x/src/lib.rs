//! The X (API v2) adapter: crieur posts and threads to X with an OAuth 2.0 user token.
//!
//! Design, in short:
//! - [`XPublisher`] sends one delivery per call (`POST /2/tweets`; a thread item replies to the
//!   previous item's id, which the dispatcher passes in `reply_to`) and maps X's answer to an
//!   outcome without ever resending a request X may have processed. The only resend is after a
//!   401, which X refused before doing anything: the token is refreshed once and the post sent
//!   again.
//! - Tokens come from [`crieur_net_oauth::TokenManager`], which refreshes near expiry and saves
//!   X's single-use rotated refresh token before the new access token is used; or from a fixed
//!   token.
//! - X's rate-limit headers ([`XRateLimits`]) are remembered per channel: at `remaining: 0` the channel is held
//!   ([`crieur_core::Publisher::hold_until`]) and no request is made until the reset.
//! - X has no idempotency key, so an `Unknown` attempt is reconciled by looking for the text
//!   among the user's recent posts ([`same_post`] knows how X rewrites links and entities).
//! - Engagement figures ([`crieur_core::engagement::Engagement`]): `GET /2/tweets`, 100 ids a
//!   call, link clicks for posts under 30 days ([`NON_PUBLIC_MAX_AGE`]).
//! - Media ([`crieur_core::Delivery::media`]) go through X's media upload v2 before the post
//!   (initialize, append in chunks, finalize, the status poll while X processes, alt text through
//!   the metadata endpoint) and their ids ride on the post as `media.media_ids`. Each media id is
//!   recorded in the channel's [`crieur_core::MediaLedger`] with X's expiry, so an attempt after a
//!   crash or an `unknown` outcome reuses it instead of uploading again, until it expires. A
//!   failed upload never posts anything, so it is retried (or held: a token without
//!   `media.write` must be authorized again).
//! - [`authorize`] is `crieur auth` for X: PKCE S256 in the browser, tokens into the vault.

mod auth;
mod matching;
mod media;
mod metrics;
mod publisher;
mod ratelimit;

pub use auth::{DEFAULT_AUTHORIZE_URL, DEFAULT_TOKEN_URL, SCOPES, XAuthorizeOptions, authorize};
pub use matching::same_post;
pub use media::{DEFAULT_CHUNK_BYTES, XMediaSettings, ledger_key};
pub use metrics::{MAX_IDS, NON_PUBLIC_MAX_AGE};
#[doc(hidden)]
pub use publisher::reconcile_answer;
pub use publisher::{DEFAULT_API_BASE, XAuth, XError, XPublisher, XPublisherConfig};
pub use ratelimit::XRateLimits;

#[cfg(test)]
mod media_tests;
#[cfg(test)]
mod tests;
