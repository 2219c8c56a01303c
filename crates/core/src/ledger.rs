//! The upload ledger: what media a channel already uploaded, so that a retry reuses it.

use jiff::Timestamp;

/// One upload a network accepted: its id there and how long it stays usable.
///
/// Recorded by an adapter after the network accepted the bytes (and, where the network has one,
/// the alt text), before the post that uses it is created: a crash or an `unknown` outcome
/// between the two then costs no second upload, as long as the media is still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedMedia {
    /// The network's id for the media (X's media id, LinkedIn's `urn:li:image:...`, Facebook's
    /// photo id).
    pub remote_id: String,
    /// When the network stops accepting the id, when it says so (X's `expires_after_secs`);
    /// `None` when the network documents no expiry.
    pub expires_at: Option<Timestamp>,
    /// When the upload was recorded.
    pub uploaded_at: Timestamp,
}

impl UploadedMedia {
    /// True while the id may still be used at `now`, keeping `margin` in hand (the post that
    /// uses it must reach the network before the expiry).
    pub fn usable_at(&self, now: Timestamp, margin: jiff::SignedDuration) -> bool {
        match self.expires_at {
            None => true,
            Some(expiry) => now.checked_add(margin).is_ok_and(|later| later < expiry),
        }
    }
}

/// The ledger could not be read or written. Its cause is returned by `source()`.
#[derive(Debug, thiserror::Error)]
#[error("the media upload ledger could not be used")]
pub struct LedgerError(#[source] pub Box<dyn std::error::Error + Send + Sync + 'static>);

/// Where adapters record the media they uploaded, by channel and by a key of the adapter's
/// choosing (the [`Attachment::sha256`](crate::Attachment::sha256) of the bytes, or the digest
/// and the delivery id when a network's media belongs to the one post it is attached to).
/// Implemented by the store (durable, shared by every instance on PostgreSQL); handed to the
/// adapters the way the [`TokenVault`](crate::TokenVault) is.
#[async_trait::async_trait]
pub trait MediaLedger: Send + Sync {
    /// The last upload recorded for (`channel`, `key`), expired or not (the caller decides with
    /// [`UploadedMedia::usable_at`]).
    ///
    /// # Errors
    /// [`LedgerError`] when the ledger cannot be read.
    async fn lookup(&self, channel: &str, key: &str) -> Result<Option<UploadedMedia>, LedgerError>;

    /// Records (`channel`, `key`) -> `media`, durably before returning, replacing any earlier
    /// record of the same key.
    ///
    /// # Errors
    /// [`LedgerError`] when the ledger cannot be written.
    async fn record(
        &self,
        channel: &str,
        key: &str,
        media: &UploadedMedia,
    ) -> Result<(), LedgerError>;
}

/// A ledger in memory, for tests and for runs without a database (`--dry-run`): it forgets
/// everything when dropped.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), UploadedMedia>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many uploads are recorded.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl MediaLedger for MemoryLedger {
    async fn lookup(&self, channel: &str, key: &str) -> Result<Option<UploadedMedia>, LedgerError> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Ok(entries.get(&(channel.to_owned(), key.to_owned())).cloned())
    }

    async fn record(
        &self,
        channel: &str,
        key: &str,
        media: &UploadedMedia,
    ) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert((channel.to_owned(), key.to_owned()), media.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn media_without_an_expiry_stays_usable() {
        let m = UploadedMedia {
            remote_id: "urn:li:image:1".into(),
            expires_at: None,
            uploaded_at: at("2026-01-01T00:00:00Z"),
        };
        assert!(m.usable_at(at("2030-01-01T00:00:00Z"), SignedDuration::from_mins(10)));
    }

    #[test]
    fn media_is_not_usable_within_the_margin_of_its_expiry() {
        let m = UploadedMedia {
            remote_id: "1".into(),
            expires_at: Some(at("2026-01-02T00:00:00Z")),
            uploaded_at: at("2026-01-01T00:00:00Z"),
        };
        let margin = SignedDuration::from_mins(10);
        assert!(m.usable_at(at("2026-01-01T23:49:00Z"), margin));
        assert!(!m.usable_at(at("2026-01-01T23:51:00Z"), margin));
        assert!(!m.usable_at(at("2026-01-03T00:00:00Z"), margin));
    }

    #[tokio::test]
    async fn the_memory_ledger_returns_what_was_recorded_per_channel() {
        let ledger = MemoryLedger::new();
        let m = UploadedMedia {
            remote_id: "42".into(),
            expires_at: None,
            uploaded_at: at("2026-01-01T00:00:00Z"),
        };
        ledger.record("x-main", "abc", &m).await.unwrap_or_default();
        assert_eq!(ledger.lookup("x-main", "abc").await.ok().flatten(), Some(m));
        assert_eq!(ledger.lookup("x-other", "abc").await.ok().flatten(), None);
        assert_eq!(ledger.len(), 1);
    }
}
