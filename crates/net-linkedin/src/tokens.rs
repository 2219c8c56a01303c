//! Where the adapter gets its access token.

use jiff::Timestamp;
use secrecy::SecretString;

/// The access token of a LinkedIn channel and where it comes from. `Debug` never shows a token.
pub enum LinkedinTokens {
    /// A token managed outside crieur (`access_token` in the channel's config), never refreshed.
    Static {
        /// The access token.
        access_token: SecretString,
        /// When it expires, when known (LinkedIn's last 60 days). At that instant the adapter
        /// stops sending and answers `Unauthorized`.
        expires_at: Option<Timestamp>,
    },
}

impl std::fmt::Debug for LinkedinTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkedinTokens::Static { expires_at, .. } => f
                .debug_struct("Static")
                .field("access_token", &"[redacted]")
                .field("expires_at", expires_at)
                .finish(),
        }
    }
}

impl LinkedinTokens {
    /// A static token without a known expiry.
    pub fn fixed(access_token: SecretString) -> Self {
        LinkedinTokens::Static { access_token, expires_at: None }
    }
}

/// The token to use for one request.
pub(crate) struct Access {
    pub(crate) token: SecretString,
    pub(crate) expires_at: Option<Timestamp>,
    /// A refresh token is at hand: a 401 is worth one refresh.
    pub(crate) refreshable: bool,
}

/// Why no token could be had.
pub(crate) enum NoAccess {
    /// The channel needs `crieur auth` (no tokens, revoked, expired without refresh).
    Unauthorized(String),
    /// A passing failure (the vault or token endpoint could not be reached): try again later.
    #[allow(dead_code)] // Not yet produced by any token source.
    Retry(String),
}

impl LinkedinTokens {
    /// The current access token.
    pub(crate) async fn access(&self) -> Result<Access, NoAccess> {
        match self {
            LinkedinTokens::Static { access_token, expires_at } => Ok(Access {
                token: access_token.clone(),
                expires_at: *expires_at,
                refreshable: false,
            }),
        }
    }

    /// A fresh access token after LinkedIn refused `_rejected` with 401.
    pub(crate) async fn refresh(&self, _now: Timestamp) -> Result<Access, NoAccess> {
        match self {
            LinkedinTokens::Static { .. } => Err(NoAccess::Unauthorized(
                "the token comes from the channel's access_token and cannot be refreshed".into(),
            )),
        }
    }
}
