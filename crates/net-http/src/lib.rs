//! The HTTP client that every crieur network adapter shares.
//!
//! One setup for all adapters ([`HttpClient`], built by [`HttpClientBuilder`]): rustls, a connect
//! timeout and a total timeout, no redirects followed, no automatic retries, `User-Agent:
//! crieur/<version>`, and response bodies read in chunks up to a cap, never buffered past it. Each
//! adapter's config embeds the same [`HttpLimits`] for those three numbers. An adapter that must
//! control where it connects plugs its own DNS resolver into the builder: the public-address
//! guard ([`check_url`], [`GuardedResolver`]) that the webhook adapter and the Bluesky link
//! cards share. rustls runs on ring, the workspace's one crypto provider, which
//! [`install_crypto_provider`] installs before any client is built.
//!
//! Around it, the pieces every adapter needs to turn HTTP into an [`Outcome`](crieur_core::Outcome):
//! - [`SendError::fate`] says whether a failed request may have reached the network
//!   ([`SendFate::NotSent`]: safe to retry; [`SendFate::MaybeSent`]: reconcile first), and
//!   [`SendError::outcome`] maps it.
//! - [`retry_after`] reads `Retry-After` in both forms and [`RateWindow`] a limit/remaining/reset
//!   window; [`header_u64`], [`header_epoch`] and [`json_header`] are lenient readers for the
//!   headers each adapter knows of its own network (X's windows, Facebook's usage).
//! - [`bearer_header`] and [`sensitive_header`] put a [`secrecy::SecretString`] into a header value
//!   marked sensitive, so it never reaches `Debug` output or logs.
//!
//! Every request is logged at debug level with its method, the URL without query or credentials
//! ([`display_url`]), and the delivery id; nothing else of the request is logged.
//!
//! Header size: reqwest is built here without HTTP/2, so responses are HTTP/1.1, whose head hyper
//! bounds to 100 header lines and a read buffer of about 400 KiB (8 KiB + 100 x 4 KiB); a larger
//! head fails the request (a [`SendError`] of fate [`SendFate::MaybeSent`]).

mod base;
mod client;
mod guard;
mod ratelimit;
mod secret;
#[cfg(feature = "test-util")]
pub mod testing;
mod upload;

pub use base::api_base;
pub use client::{
    BodyError, BuildError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT,
    HttpClient, HttpClientBuilder, HttpLimits, Response, SendError, SendFate, USER_AGENT,
    display_url, error_chain, install_crypto_provider, tls_config,
};
pub use guard::{
    GuardedResolver, Lookup, LookupFuture, Refused, StaticLookup, SystemLookup, check_url,
    find_refused, forbidden_range,
};
pub use ratelimit::{RateWindow, header_epoch, header_u64, json_header, retry_after};
pub use secret::{InvalidSecretHeader, bearer_header, sensitive_header};
pub use upload::{UploadKey, upload_once};

/// The reqwest version these types come from, re-exported so adapters name the same types
/// (`Url`, `Method`, `StatusCode`, `header`, `dns`) without a version mismatch.
pub use reqwest;
