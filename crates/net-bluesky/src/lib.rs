//! The Bluesky (AT Protocol) adapter: crieur posts, threads, images and link cards to Bluesky
//! with an app password, exactly once.
//!
//! Design, in short:
//! - The session ([`session`](crate::SessionError)) comes from the app password
//!   (`com.atproto.server.createSession`), is kept encrypted through crieur's
//!   [`TokenVault`](crieur_core::TokenVault) (the access and refresh JWTs fit its `Tokens`; the
//!   account's DID is the JWT's subject), is refreshed five minutes before it expires or when
//!   the server calls it expired, and is created again only when the refresh is refused: logins
//!   are limited to 30 per 5 minutes.
//! - [`BlueskyPublisher`] writes one `app.bsky.feed.post` record per delivery through
//!   `com.atproto.repo.createRecord`, with facets for every link, mention (its handle resolved
//!   to a DID once, then cached) and hashtag ([`detect`], offsets in UTF-8 bytes), replies as
//!   `reply.root`/`reply.parent` strong refs carried in the remote ids ([`remote_id`]), images
//!   through `uploadBlob` with `alt` and `aspectRatio`, the post's `lang` in `langs`, and the
//!   link as an `app.bsky.embed.external` card: the post's own `card` when it writes one, else
//!   read from the page through crieur's public-address guard ([`CardFetcher`]); no card (and a
//!   warning) when the page cannot be read.
//! - Exactly once: the record key is fixed for the delivery ([`delivery_rkey`]); every retry
//!   uses it, and `com.atproto.repo.getRecord` on it settles an unknown outcome or a create
//!   refused because the key exists.
//! - The `ratelimit-*` headers hold the channel until the reset.

mod card;
mod facets;
mod publisher;
mod session;
mod tid;

pub use card::{Card, CardFetcher, MAX_PAGE_BYTES, PAGE_TIMEOUT, parse_card};
pub use facets::{Facet, Feature, MAX_TAG_CHARS, detect, is_handle};
pub use publisher::{
    BlueskyConfig, BlueskyError, BlueskyPublisher, DEFAULT_SERVICE, MAX_IMAGE_BYTES, MAX_IMAGES,
    POST_COLLECTION, StrongRef, parse_remote_id, remote_id,
};
pub use session::SessionError;
pub use tid::{delivery_rkey, is_tid, tid};

#[cfg(test)]
mod tests;
