//! OAuth 2.0 for crieur's network adapters: getting tokens in the operator's browser, keeping
//! them fresh, never losing a rotated refresh token.
//!
//! Design, in short:
//! - [`authorize_in_browser`] runs the authorization code flow (PKCE S256 optional, extra
//!   authorize parameters allowed) with a one-shot loopback listener on
//!   `http://127.0.0.1:PORT/callback`, and returns the tokens; the caller stores them with
//!   [`TokenVault::save`](crieur_core::TokenVault::save) (after any network-specific exchange).
//! - [`TokenManager`] gives an adapter a usable access token per channel: the vault's tokens
//!   win over the config's once stored; it refreshes near expiry or after a 401, one refresh at a
//!   time per channel in the process (a tokio mutex) and across instances (the vault's refresh
//!   lock), and saves the new tokens before handing out the new access token. A network error or
//!   5xx from the token endpoint is transient; an OAuth refusal (400 `invalid_grant`...,
//!   401) marks the channel revoked.
//! - [`TokenEndpoint`] drives the `oauth2` crate (built without its own HTTP client) through
//!   crieur's shared [`HttpClient`](crieur_net_http::HttpClient): no redirects, bounded answers,
//!   the `Authorization` header marked sensitive.
//!
//! Tokens and secrets live in [`secrecy::SecretString`] or oauth2's redacting types; no `Debug`
//! output, log record or error message carries one, nor a token endpoint's raw answer (only its
//! `error` code and description).

mod endpoint;
mod error;
mod flow;
mod manager;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use endpoint::{ClientAuth, Granted, OAuthApp, TokenCallError, TokenEndpoint};
pub use error::AuthError;
pub use flow::{
    AuthorizeConfig, CALLBACK_PATH, DEFAULT_CALLBACK_PORT, DEFAULT_FLOW_TIMEOUT,
    authorize_in_browser,
};
pub use manager::{
    DEFAULT_LOCK_TTL, DEFAULT_LOCK_WAIT, DEFAULT_REFRESH_MARGIN, TokenManager, TokenManagerConfig,
};

#[cfg(test)]
mod tests;
