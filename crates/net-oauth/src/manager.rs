//! One channel's access token: where it comes from, when it is refreshed, and how a rotated
//! refresh token is kept.

use std::sync::Arc;
use std::time::Duration;

use crieur_core::{Clock, SystemClock, TokenVault, Tokens};
use crieur_net_http::{HttpClient, error_chain};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::endpoint::{OAuthApp, TokenEndpoint};
use crate::error::AuthError;

/// Refresh when the stored access token expires within this margin.
pub const DEFAULT_REFRESH_MARGIN: SignedDuration = SignedDuration::from_mins(5);
/// How long the cross-instance refresh lock is held at most (a crashed holder frees it then).
pub const DEFAULT_LOCK_TTL: SignedDuration = SignedDuration::from_secs(60);
/// How long to wait for another instance's refresh before giving up for now.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(15);

/// Everything a [`TokenManager`] needs. Build it with [`TokenManagerConfig::new`] and set the
/// public fields. `Debug` never shows a token or secret.
#[derive(Clone)]
pub struct TokenManagerConfig {
    /// The channel's name: the vault key and the name in messages.
    pub channel: String,
    /// The OAuth app, needed to refresh (`client_id`, `client_secret`, `token_url`); `None`
    /// when the channel has no `client_id`: the token is used as is.
    pub app: Option<OAuthApp>,
    /// `access_token` from the channel's config.
    pub access_token: Option<SecretString>,
    /// `refresh_token` from the channel's config.
    pub refresh_token: Option<SecretString>,
    /// The encrypted token store; `None` when `[storage] key` is not set.
    pub vault: Option<Arc<dyn TokenVault>>,
    /// The HTTP client for the token endpoint.
    pub http: HttpClient,
    /// Where "now" comes from (expiry checks, `expires_at` of new tokens).
    pub clock: Arc<dyn Clock>,
    /// Refresh ahead of expiry by this much (default 5 minutes).
    pub refresh_margin: SignedDuration,
    /// The cross-instance lock's time to live (default 60 s).
    pub lock_ttl: SignedDuration,
    /// How long to wait for another instance's refresh (default 15 s).
    pub lock_wait: Duration,
    /// How often to look again while waiting (default 250 ms).
    pub lock_poll: Duration,
}

impl std::fmt::Debug for TokenManagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManagerConfig")
            .field("channel", &self.channel)
            .field("app", &self.app)
            .field("access_token", &self.access_token.as_ref().map(|_| "[redacted]"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("vault", &self.vault.is_some())
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

impl TokenManagerConfig {
    /// A config with no tokens and no app yet, the system clock and the default margins.
    pub fn new(
        channel: impl Into<String>,
        vault: Option<Arc<dyn TokenVault>>,
        http: HttpClient,
    ) -> Self {
        Self {
            channel: channel.into(),
            app: None,
            access_token: None,
            refresh_token: None,
            vault,
            http,
            clock: Arc::new(SystemClock),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            lock_ttl: DEFAULT_LOCK_TTL,
            lock_wait: DEFAULT_LOCK_WAIT,
            lock_poll: Duration::from_millis(250),
        }
    }
}

/// The tokens as known at one moment: from the vault, from memory, or from the config (whose
/// access token may be absent when only a refresh token is given).
#[derive(Clone)]
struct Known {
    access: Option<String>,
    refresh: Option<String>,
    expires_at: Option<Timestamp>,
}

impl From<Tokens> for Known {
    fn from(t: Tokens) -> Self {
        Self { access: Some(t.access_token), refresh: t.refresh_token, expires_at: t.expires_at }
    }
}

/// Tokens refreshed but not yet saved (the vault failed): kept so the rotated refresh token is
/// not lost, saved again before anything else.
#[derive(Default)]
struct State {
    unsaved: Option<Tokens>,
}

/// Gives a channel's adapter a usable access token, refreshing it when needed.
///
/// Which token: the vault's once it holds one (after `crieur auth` or a refresh: the config's
/// refresh token is then spent), else the config's `access_token`.
///
/// When it refreshes: when the stored token expires within the margin ([`TokenManager::current`]),
/// or when the network refused it ([`TokenManager::refresh_after_401`]). Config tokens have no
/// known expiry, so they are refreshed only after a 401.
///
/// Locking: one refresh at a time per channel in this process (a tokio mutex held for the whole
/// call, so concurrent callers wait and then see the new token), and across instances (the
/// vault's refresh lock, [`TokenVault::try_lock_refresh`]; an instance that finds it taken waits
/// and reloads the vault, where the holder's new tokens appear). The new tokens, rotated refresh
/// token included, are saved to the vault before the new access token is returned; if the save
/// fails they stay in memory and are saved first on the next call.
///
/// Caveat: when a refresh request reached the endpoint but its answer was lost, a rotating
/// refresh token may be spent without crieur learning the new one; the next refresh is then
/// refused and the channel needs `crieur auth` again.
pub struct TokenManager {
    channel: String,
    endpoint: Option<TokenEndpoint>,
    config_access: Option<SecretString>,
    config_refresh: Option<SecretString>,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
    margin: SignedDuration,
    lock_ttl: SignedDuration,
    lock_wait: Duration,
    lock_poll: Duration,
    owner: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("channel", &self.channel)
            .field("endpoint", &self.endpoint)
            .field("config_access_token", &self.config_access.as_ref().map(|_| "[redacted]"))
            .field("config_refresh_token", &self.config_refresh.as_ref().map(|_| "[redacted]"))
            .field("vault", &self.vault.is_some())
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// Checks the app's token URL and sets up the manager. Nothing is loaded yet.
    ///
    /// # Errors
    /// [`AuthError::Config`] when `token_url` does not parse or is not http(s).
    pub fn new(config: TokenManagerConfig) -> Result<Self, AuthError> {
        let channel = config.channel;
        let endpoint = config
            .app
            .map(|app| TokenEndpoint::new(app, config.http, config.clock.clone()))
            .transpose()
            .map_err(|reason| AuthError::Config { channel: channel.clone(), reason })?;
        Ok(Self {
            owner: format!("crieur-{}-{:016x}", std::process::id(), rand::random::<u64>()),
            channel,
            endpoint,
            config_access: config.access_token,
            config_refresh: config.refresh_token,
            vault: config.vault,
            clock: config.clock,
            margin: config.refresh_margin,
            lock_ttl: config.lock_ttl,
            lock_wait: config.lock_wait,
            lock_poll: config.lock_poll,
            state: Mutex::new(State::default()),
        })
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// A usable access token: the current one, or a fresh one when it expires within the margin
    /// (a transient refresh failure then still returns the old token while it is valid).
    ///
    /// Locks this channel's in-process mutex for the whole call; may take the vault's refresh
    /// lock (see the type's doc).
    ///
    /// # Errors
    /// [`AuthError::Vault`] when the vault cannot be read or the unsaved refreshed tokens still
    /// cannot be saved; [`AuthError::CannotRefresh`] when there is no access token at all and
    /// nothing to get one with; any error of [`TokenManager::refresh_after_401`] when a refresh
    /// was needed and failed for good.
    pub async fn current(&self) -> Result<SecretString, AuthError> {
        let mut state = self.state.lock().await;
        let known = self.load(&mut state).await?;
        match known.access.clone() {
            Some(access) if !self.expiring(&known) => Ok(SecretString::from(access)),
            Some(access) if known.refresh.is_none() => Ok(SecretString::from(access)),
            Some(access) => match self.refresh(&mut state, Some(&access)).await {
                Ok(token) => Ok(token),
                Err(e) if e.is_transient() && !self.expired(&known) => {
                    tracing::warn!(
                        channel = %self.channel,
                        error = %error_chain(&e),
                        "early refresh failed; the current token is still valid"
                    );
                    Ok(SecretString::from(access))
                }
                Err(e) => Err(e),
            },
            None if known.refresh.is_some() => self.refresh(&mut state, None).await,
            None => Err(AuthError::CannotRefresh {
                channel: self.channel.clone(),
                reason: "the channel has no access token (neither access_token in the config \
                         nor tokens stored by `crieur auth`)"
                    .into(),
            }),
        }
    }

    /// Refreshes after the network refused `refused` with a 401, and returns the new access
    /// token. When the token in hand already differs from `refused` (another task or instance
    /// refreshed meanwhile), returns it without a refresh.
    ///
    /// Locks as [`TokenManager::current`].
    ///
    /// # Errors
    /// [`AuthError::Transient`] (token endpoint unreachable, 5xx, 429, another instance holding
    /// the lock too long: the channel is fine, try later); [`AuthError::Revoked`] (refresh token
    /// or client refused: the channel was marked revoked in the vault); [`AuthError::CannotRefresh`]
    /// (no refresh token or no `client_id`); [`AuthError::NoVault`] (a refresh token but no vault
    /// to keep the rotated one); [`AuthError::Vault`].
    pub async fn refresh_after_401(
        &self,
        refused: &SecretString,
    ) -> Result<SecretString, AuthError> {
        let mut state = self.state.lock().await;
        let known = self.load(&mut state).await?;
        if let Some(access) = &known.access
            && access != refused.expose_secret()
            && !self.expiring(&known)
        {
            return Ok(SecretString::from(access.clone()));
        }
        self.refresh(&mut state, Some(refused.expose_secret())).await
    }

    /// When the current access token expires, if known (for `crieur status` and warnings).
    ///
    /// # Errors
    /// [`AuthError::Vault`] when the vault cannot be read.
    pub async fn expires_at(&self) -> Result<Option<Timestamp>, AuthError> {
        let mut state = self.state.lock().await;
        Ok(self.load(&mut state).await?.expires_at)
    }

    fn expiring(&self, known: &Known) -> bool {
        known.expires_at.is_some_and(|at| at.duration_since(self.clock.now()) <= self.margin)
    }

    fn expired(&self, known: &Known) -> bool {
        known.expires_at.is_some_and(|at| at <= self.clock.now())
    }

    fn vault_err(&self, error: crieur_core::VaultError) -> AuthError {
        AuthError::Vault { channel: self.channel.clone(), error }
    }

    /// The tokens in force: unsaved refreshed ones (saved now), else the vault's, else the
    /// config's.
    async fn load(&self, state: &mut State) -> Result<Known, AuthError> {
        if let Some(unsaved) = state.unsaved.clone() {
            if let Some(vault) = &self.vault {
                vault.save(&self.channel, &unsaved).await.map_err(|e| self.vault_err(e))?;
                tracing::info!(channel = %self.channel, "saved the refreshed tokens kept in memory");
            }
            state.unsaved = None;
            return Ok(unsaved.into());
        }
        if let Some(vault) = &self.vault
            && let Some(stored) = vault.load(&self.channel).await.map_err(|e| self.vault_err(e))?
        {
            return Ok(stored.into());
        }
        Ok(self.config_known())
    }

    fn config_known(&self) -> Known {
        Known {
            access: self.config_access.as_ref().map(|s| s.expose_secret().to_owned()),
            refresh: self.config_refresh.as_ref().map(|s| s.expose_secret().to_owned()),
            expires_at: None,
        }
    }

    /// Takes the cross-instance lock and refreshes, unless the vault shows that another
    /// instance replaced `stale` meanwhile.
    async fn refresh(
        &self,
        state: &mut State,
        stale: Option<&str>,
    ) -> Result<SecretString, AuthError> {
        let channel = &self.channel;
        let Some(endpoint) = &self.endpoint else {
            return Err(AuthError::CannotRefresh {
                channel: channel.clone(),
                reason: "the access token was refused or expired and the channel has no \
                         client_id to refresh it with"
                    .into(),
            });
        };
        let Some(vault) = &self.vault else {
            return Err(if self.config_refresh.is_some() {
                AuthError::NoVault { channel: channel.clone() }
            } else {
                AuthError::CannotRefresh {
                    channel: channel.clone(),
                    reason: "the access token was refused or expired and there is no refresh \
                             token"
                        .into(),
                }
            });
        };
        let waiting_since = tokio::time::Instant::now();
        loop {
            if vault
                .try_lock_refresh(channel, &self.owner, self.lock_ttl)
                .await
                .map_err(|e| self.vault_err(e))?
            {
                break;
            }
            // Another instance refreshes: its new tokens show up in the vault.
            if let Some(stored) = vault.load(channel).await.map_err(|e| self.vault_err(e))? {
                let known = Known::from(stored);
                if self.replaced(&known, stale) {
                    tracing::debug!(channel = %channel, "another instance refreshed the token");
                    return Ok(SecretString::from(known.access.unwrap_or_default()));
                }
            }
            if waiting_since.elapsed() >= self.lock_wait {
                return Err(AuthError::Transient {
                    channel: channel.clone(),
                    reason: "another crieur instance holds this channel's refresh lock".into(),
                });
            }
            tokio::time::sleep(self.lock_poll).await;
        }
        let result = self.refresh_holding_lock(state, vault.as_ref(), endpoint, stale).await;
        if let Err(e) = vault.unlock_refresh(channel, &self.owner).await {
            tracing::warn!(channel = %channel, error = %error_chain(&e), "could not release the refresh lock; it expires by itself");
        }
        result
    }

    /// True when `known` holds a usable access token other than `stale`.
    fn replaced(&self, known: &Known, stale: Option<&str>) -> bool {
        known.access.is_some() && known.access.as_deref() != stale && !self.expiring(known)
    }

    async fn refresh_holding_lock(
        &self,
        state: &mut State,
        vault: &dyn TokenVault,
        endpoint: &TokenEndpoint,
        stale: Option<&str>,
    ) -> Result<SecretString, AuthError> {
        let channel = &self.channel;
        // Read again under the lock: another instance may have finished just before.
        let known = match vault.load(channel).await.map_err(|e| self.vault_err(e))? {
            Some(stored) => Known::from(stored),
            None => self.config_known(),
        };
        if self.replaced(&known, stale) {
            return Ok(SecretString::from(known.access.unwrap_or_default()));
        }
        let Some(refresh) = known.refresh else {
            return Err(AuthError::CannotRefresh {
                channel: channel.clone(),
                reason: "the access token was refused or expired and there is no refresh token"
                    .into(),
            });
        };
        tracing::debug!(channel = %channel, "refreshing the access token");
        match endpoint.refresh(&SecretString::from(refresh)).await {
            Ok(granted) => {
                let tokens = granted.tokens;
                if let Err(e) = vault.save(channel, &tokens).await {
                    tracing::error!(
                        channel = %channel,
                        error = %error_chain(&e),
                        "refreshed, but the new tokens could not be saved; kept in memory"
                    );
                    state.unsaved = Some(tokens);
                    return Err(self.vault_err(e));
                }
                tracing::info!(
                    channel = %channel,
                    expires_at = ?tokens.expires_at,
                    "access token refreshed and saved"
                );
                Ok(SecretString::from(tokens.access_token))
            }
            Err(e) if e.is_refusal() => {
                let reason = e.to_string();
                tracing::error!(channel = %channel, reason = %reason, "the refresh was refused");
                if let Err(ve) = vault.mark_revoked(channel, &reason).await {
                    tracing::error!(channel = %channel, error = %error_chain(&ve), "could not mark the channel revoked");
                }
                Err(AuthError::Revoked { channel: channel.clone(), reason })
            }
            Err(e) => {
                tracing::warn!(channel = %channel, error = %error_chain(&e), "the refresh failed; will try again");
                Err(AuthError::Transient { channel: channel.clone(), reason: e.to_string() })
            }
        }
    }
}
