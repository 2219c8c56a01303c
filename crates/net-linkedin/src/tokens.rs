//! Where the adapter gets its access token.

use std::sync::Arc;

use crieur_net_oauth::{AuthError, TokenManager};
use jiff::Timestamp;
use secrecy::SecretString;

/// The access token of a LinkedIn channel and where it comes from. `Debug` never shows a token.
pub enum LinkedinTokens {
    /// A token managed outside crieur (`access_token` in the channel's config, no `client_id`),
    /// never refreshed.
    Static {
        /// The access token.
        access_token: SecretString,
        /// When it expires, when known (LinkedIn's last 60 days). From that instant the adapter
        /// sends nothing and answers `Unauthorized`.
        expires_at: Option<Timestamp>,
    },
    /// Tokens kept by a [`TokenManager`]: the vault's (saved by `crieur auth`, with their
    /// expiry) or the config's, refreshed once after a 401 when a refresh token and `client_id`
    /// are at hand (LinkedIn gives refresh tokens to approved partners only).
    Managed(Arc<TokenManager>),
}

impl std::fmt::Debug for LinkedinTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkedinTokens::Static { expires_at, .. } => f
                .debug_struct("Static")
                .field("access_token", &"[redacted]")
                .field("expires_at", expires_at)
                .finish(),
            LinkedinTokens::Managed(manager) => f.debug_tuple("Managed").field(manager).finish(),
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
    /// A 401 is worth one refresh through the token manager (which says when it cannot).
    pub(crate) refreshable: bool,
}

/// Why no token could be had. The text is a whole sentence naming the channel and what to do.
pub(crate) enum NoAccess {
    /// The channel needs a person (`crieur auth`, a new `access_token`).
    Unauthorized(String),
    /// A passing failure (the vault or the token endpoint could not be reached): try later.
    Retry(String),
}

impl From<AuthError> for NoAccess {
    fn from(e: AuthError) -> Self {
        if e.is_transient() {
            NoAccess::Retry(e.to_string())
        } else {
            NoAccess::Unauthorized(e.to_string())
        }
    }
}

impl LinkedinTokens {
    /// The current access token. A managed token is refreshed first when it expires within the
    /// manager's margin and a refresh token exists.
    pub(crate) async fn access(&self) -> Result<Access, NoAccess> {
        match self {
            LinkedinTokens::Static { access_token, expires_at } => Ok(Access {
                token: access_token.clone(),
                expires_at: *expires_at,
                refreshable: false,
            }),
            LinkedinTokens::Managed(manager) => {
                let token = manager.current().await?;
                let expires_at = manager.expires_at().await?;
                Ok(Access { token, expires_at, refreshable: true })
            }
        }
    }

    /// A fresh access token after LinkedIn refused `refused` with 401.
    pub(crate) async fn refresh(&self, refused: &SecretString) -> Result<Access, NoAccess> {
        match self {
            LinkedinTokens::Static { .. } => {
                Err(NoAccess::Unauthorized("the channel's access_token cannot be refreshed".into()))
            }
            LinkedinTokens::Managed(manager) => {
                let token = manager.refresh_after_401(refused).await?;
                let expires_at = manager.expires_at().await?;
                // One refresh per attempt: the caller does not refresh a refreshed token.
                Ok(Access { token, expires_at, refreshable: false })
            }
        }
    }
}
