//! An in-memory [`TokenVault`] that records what it was asked, for the adapters' tests (the
//! store's encrypted vault has its own tests). Enabled by the `test-util` feature.

use std::collections::HashMap;
use std::sync::Mutex;

use crieur_core::{TokenVault, Tokens, VaultError};

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, Tokens>,
    saves: Vec<(String, Tokens)>,
    revoked: Vec<(String, String)>,
    locks: HashMap<String, String>,
    lock_attempts: usize,
    fail_saves: usize,
    fail_loads: bool,
}

/// Tokens in a `Mutex<HashMap>`, every save and revocation recorded. The refresh lock ignores
/// its time to live (tests release it explicitly).
#[derive(Default)]
pub struct MemoryVault {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryVault").finish_non_exhaustive()
    }
}

impl MemoryVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts tokens in, as `crieur auth` would have (not recorded as a save).
    pub fn put(&self, channel: &str, tokens: Tokens) {
        self.inner().tokens.insert(channel.to_owned(), tokens);
    }

    /// The stored tokens of `channel`.
    pub fn tokens(&self, channel: &str) -> Option<Tokens> {
        self.inner().tokens.get(channel).cloned()
    }

    /// Every successful save, in order.
    pub fn saves(&self) -> Vec<(String, Tokens)> {
        self.inner().saves.clone()
    }

    /// Every `mark_revoked` call: (channel, reason).
    pub fn revoked(&self) -> Vec<(String, String)> {
        self.inner().revoked.clone()
    }

    /// How many times `try_lock_refresh` was called.
    pub fn lock_attempts(&self) -> usize {
        self.inner().lock_attempts
    }

    /// The current holder of `channel`'s refresh lock.
    pub fn lock_holder(&self, channel: &str) -> Option<String> {
        self.inner().locks.get(channel).cloned()
    }

    /// Makes `owner` hold `channel`'s refresh lock (another instance, in tests).
    pub fn hold_lock(&self, channel: &str, owner: &str) {
        self.inner().locks.insert(channel.to_owned(), owner.to_owned());
    }

    /// Releases `channel`'s refresh lock whoever holds it.
    pub fn release_lock(&self, channel: &str) {
        self.inner().locks.remove(channel);
    }

    /// Makes the next `n` saves fail.
    pub fn fail_next_saves(&self, n: usize) {
        self.inner().fail_saves = n;
    }

    /// Makes every load fail (or not).
    pub fn fail_loads(&self, fail: bool) {
        self.inner().fail_loads = fail;
    }
}

#[async_trait::async_trait]
impl TokenVault for MemoryVault {
    async fn load(&self, channel: &str) -> Result<Option<Tokens>, VaultError> {
        let inner = self.inner();
        if inner.fail_loads {
            return Err(VaultError("the test vault fails loads".into()));
        }
        Ok(inner.tokens.get(channel).cloned())
    }

    async fn save(&self, channel: &str, tokens: &Tokens) -> Result<(), VaultError> {
        let mut inner = self.inner();
        if inner.fail_saves > 0 {
            inner.fail_saves -= 1;
            return Err(VaultError("the test vault fails saves".into()));
        }
        inner.tokens.insert(channel.to_owned(), tokens.clone());
        inner.saves.push((channel.to_owned(), tokens.clone()));
        Ok(())
    }

    async fn mark_revoked(&self, channel: &str, reason: &str) -> Result<(), VaultError> {
        self.inner().revoked.push((channel.to_owned(), reason.to_owned()));
        Ok(())
    }

    async fn try_lock_refresh(
        &self,
        channel: &str,
        owner: &str,
        _ttl: jiff::SignedDuration,
    ) -> Result<bool, VaultError> {
        let mut inner = self.inner();
        inner.lock_attempts += 1;
        match inner.locks.get(channel) {
            Some(holder) if holder != owner => Ok(false),
            _ => {
                inner.locks.insert(channel.to_owned(), owner.to_owned());
                Ok(true)
            }
        }
    }

    async fn unlock_refresh(&self, channel: &str, owner: &str) -> Result<(), VaultError> {
        let mut inner = self.inner();
        if inner.locks.get(channel).is_some_and(|h| h == owner) {
            inner.locks.remove(channel);
        }
        Ok(())
    }
}
