//! What can go wrong with a channel's tokens, in terms an adapter can turn into an outcome.

use crieur_core::VaultError;

/// An OAuth failure of one channel. Every message names the channel and says what to do; none
/// carries a token, a secret, an authorization code or a token endpoint's raw answer.
///
/// How adapters map it: [`AuthError::is_transient`] errors become a retry later (the channel is
/// fine, the token endpoint or the database is not); the others mean the channel needs a human
/// (`crieur auth CHANNEL`, or a config change) and become "unauthorized".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint could not be reached, answered 5xx or 429, or another instance held
    /// the refresh lock for too long. The tokens are untouched; try again later.
    #[error(
        "channel {channel}: the access token could not be refreshed now ({reason}); crieur will try again later"
    )]
    Transient {
        /// The channel.
        channel: String,
        /// What happened.
        reason: String,
    },
    /// The token endpoint refused the refresh token or the client (400 `invalid_grant`,
    /// `invalid_request`..., or 401). The channel was marked revoked in the vault.
    #[error(
        "channel {channel}: the authorization is no longer valid ({reason}); run `crieur auth {channel}` to authorize the channel again"
    )]
    Revoked {
        /// The channel.
        channel: String,
        /// The token endpoint's `error` code and description.
        reason: String,
    },
    /// The access token was refused or is missing, and there is nothing to refresh it with (no
    /// refresh token, or no `client_id`).
    #[error(
        "channel {channel}: {reason}; run `crieur auth {channel}` or set a new access_token in the channel"
    )]
    CannotRefresh {
        /// The channel.
        channel: String,
        /// Why not.
        reason: String,
    },
    /// The channel has a refresh token but no token vault: a refreshed token could not be kept
    /// (refresh tokens rotate and the old one is spent), so crieur refuses to refresh.
    #[error(
        "channel {channel}: the access token needs a refresh, but refreshed tokens must be stored encrypted and no [storage] key is set; create one with `openssl rand -base64 32`, reference it as `key = \"credential:crieur-key\"` (or env:/file:) under [storage], then run `crieur auth {channel}`"
    )]
    NoVault {
        /// The channel.
        channel: String,
    },
    /// The token vault failed (database unreachable, key missing). When it failed while saving
    /// freshly refreshed tokens, they are kept in memory and saved again on the next call.
    #[error("channel {channel}: {error}")]
    Vault {
        /// The channel.
        channel: String,
        /// The vault's error, shown in the message (so not also returned by `source()`).
        error: VaultError,
    },
    /// The OAuth settings cannot work (an unparsable URL, a secret that cannot go in a header).
    #[error("channel {channel}: {reason}")]
    Config {
        /// The channel.
        channel: String,
        /// What to fix.
        reason: String,
    },
    /// The browser authorization did not complete: refused by the user, a `state` mismatch, no
    /// answer in time, the loopback port taken, or the code exchange refused.
    #[error("channel {channel}: authorization failed: {reason}")]
    Flow {
        /// The channel.
        channel: String,
        /// What happened and what to do.
        reason: String,
    },
}

impl AuthError {
    /// True when trying again later may succeed without anyone doing anything: the network or
    /// the database was unavailable ([`AuthError::Transient`], [`AuthError::Vault`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Vault { .. })
    }

    /// The channel the error is about.
    pub fn channel(&self) -> &str {
        match self {
            Self::Transient { channel, .. }
            | Self::Revoked { channel, .. }
            | Self::CannotRefresh { channel, .. }
            | Self::NoVault { channel }
            | Self::Vault { channel, .. }
            | Self::Config { channel, .. }
            | Self::Flow { channel, .. } => channel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = AuthError::Revoked { channel: "company-x".into(), reason: "invalid_grant".into() };
        assert!(e.to_string().contains("crieur auth company-x"), "{e}");
        assert!(!e.is_transient());
        let e = AuthError::NoVault { channel: "company-x".into() };
        assert!(e.to_string().contains("[storage] key"), "{e}");
        assert!(e.to_string().contains("openssl rand -base64 32"), "{e}");
        assert_eq!(e.channel(), "company-x");
        let e = AuthError::Transient { channel: "c".into(), reason: "503".into() };
        assert!(e.is_transient());
        let e = AuthError::Vault { channel: "c".into(), error: VaultError("db down".into()) };
        assert!(e.is_transient());
        assert!(e.to_string().contains("db down"));
    }

    #[test]
    fn a_vault_failure_names_its_cause_once() {
        use std::error::Error as _;
        let e = AuthError::Vault { channel: "c".into(), error: VaultError("db down".into()) };
        assert!(e.source().is_none());
        let chain = crieur_net_http::error_chain(&e);
        assert_eq!(chain.matches("db down").count(), 1, "{chain}");
    }
}
