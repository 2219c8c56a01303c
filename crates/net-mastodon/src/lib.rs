//! The Mastodon adapter: crieur posts statuses, threads and images to an account on any
//! Mastodon-compatible server (each channel names its own `instance`).
//!
//! Design, in short:
//! - [`MastodonPublisher`] sends one delivery per call: its media first (`POST /api/v2/media`
//!   with the alt text as `description`, then `GET /api/v1/media/:id` until the server has
//!   processed it), then `POST /api/v1/statuses` (JSON: `status`, `visibility` (the post's
//!   own, else the channel's), `language` (the ISO 639-1 part of the post's `lang`),
//!   `media_ids`, and `in_reply_to_id` for a thread item, the previous item's id the dispatcher
//!   passes in `reply_to`). The table on [`MastodonPublisher`] maps every answer to an outcome.
//! - Exactly once, by the server's own key: every status request of one delivery carries the
//!   same `Idempotency-Key` ([`idempotency_key`]: the delivery id and the start of the first
//!   attempt that may have reached the server, which the store keeps until a person forces a
//!   resend). The server keeps a key one hour and answers a second request with the first
//!   status, so a resend after a 500, a timeout or a dropped connection cannot post twice.
//! - An `Unknown` attempt is reconciled by reading the account back (the server forgets the key
//!   after the hour): `GET /api/v1/accounts/verify_credentials`, then the account's statuses
//!   since the attempt, each candidate's source text compared with the delivery's.
//! - `X-RateLimit-Remaining: 0` holds the channel until `X-RateLimit-Reset`
//!   ([`crieur_core::Publisher::hold_until`]); a 429 does the same.
//! - [`authorize`] is `crieur auth` for Mastodon: crieur registers itself on the channel's
//!   server (`POST /api/v1/apps`, kept encrypted in the vault, once per server and redirect),
//!   then the authorization code flow runs on a loopback redirect and the token is stored.
//! - The server's own limits ([`read_server_limits`], `GET /api/v2/instance`) are read when the
//!   daemon starts and when `crieur doctor` runs, and kept in the store, so `validate` counts against them offline.
//! - A "not finished processing" 422 on the status is a wait (the same request, same key, a
//!   little later), never a failure.

mod auth;
mod instance;
mod key;
mod publisher;

pub use auth::{MastodonAuthorizeOptions, SCOPES, app_entry, authorize};
pub use instance::{LimitsError, read_server_limits};
pub use key::idempotency_key;
pub use publisher::{KEY_LIFETIME, MastodonAuth, MastodonConfig, MastodonError, MastodonPublisher};

#[cfg(test)]
mod tests;
