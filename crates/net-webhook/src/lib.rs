//! The blog adapter: crieur publishes to a blog or intranet by POSTing a signed JSON event
//! (Standard Webhooks 1.0) to the channel's URL.
//!
//! Design, in short:
//! - The event is serialized once ([`event_body`]) and those exact bytes are signed
//!   ([`SigningKey::sign`]) and sent. `webhook-id` is the delivery's stable id, so a receiver that
//!   deduplicates on it makes a resend harmless; that is why [`WebhookPublisher`] reconciles an
//!   unknown attempt by answering "not found" and letting the dispatcher send again.
//! - The SSRF guard (crieur's public-address guard, [`crieur_net_http::check_url`] and
//!   [`crieur_net_http::GuardedResolver`], shared with the Bluesky link cards) allows only
//!   `https` and public addresses unless the channel sets `allow_private`. It resolves names
//!   itself and hands the checked addresses to the connector, so what was checked is what is
//!   connected to.
//! - A receiver that answers 410 Gone disables the channel in this publisher: no more requests
//!   until the config changes.
//! - Engagement figures: a signed `crieur.metrics` event per published post ([`metrics_body`]);
//!   the receiver answers figures or nothing ([`answer_figures`]). RECEIVER.md has the shapes.
//!
//! How a receiver verifies what crieur sends is in `RECEIVER.md` beside this crate.

mod event;
mod publisher;
mod signing;

/// The guard's types, where webhook users have always found them.
pub use crieur_net_http::{
    GuardedResolver, Lookup, LookupFuture, Refused, StaticLookup, SystemLookup, check_url,
    forbidden_range,
};
pub use event::{
    EVENT_TYPE, MAX_MEDIA_BYTES, PING_TYPE, event_body, markdown_to_html, media_bytes, ping_body,
};
pub use publisher::metrics::{METRICS_TYPE, answer_figures, metrics_body};
pub use publisher::{WebhookConfig, WebhookError, WebhookPublisher};
pub use signing::{MIN_KEY_BYTES, SECRET_PREFIX, SigningKey};

#[cfg(test)]
mod tests;
