//! Engagement figures: what a published post returned, as a network reports it.
//!
//! A figure the network does not give (impressions on a member's LinkedIn post, clicks on X after
//! 30 days) is `None`, never 0: a report must not confuse "unknown" with "nobody".
//!
//! A network plugs in by implementing [`Engagement`] on its publisher (a batch size, and one
//! `fetch` of many remote ids at once) and returning it from
//! [`Publisher::engagement`](crate::Publisher::engagement). The daemon's metrics lane then takes
//! its snapshots at the offsets of `[metrics] after`, records them through the
//! [`Store`](crate::store::Store) (`snapshots_due`, `record_snapshots`, `snapshot_failed`,
//! `latest_snapshots`), and `crieur report` shows the latest one of each post.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::Network;

/// The figures of one published post at one moment (one snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Likes, favourites or reactions.
    pub likes: Option<u64>,
    /// Reposts, retweets, reblogs or shares.
    pub reposts: Option<u64>,
    /// Replies or comments.
    pub replies: Option<u64>,
    /// Quotes (X, Bluesky).
    pub quotes: Option<u64>,
    /// Times the post was shown.
    pub impressions: Option<u64>,
    /// Clicks on the post or its link.
    pub clicks: Option<u64>,
}

impl Metrics {
    /// Likes, reposts, replies and quotes added up, when at least one of them is known.
    pub fn interactions(&self) -> Option<u64> {
        [self.likes, self.reposts, self.replies, self.quotes]
            .into_iter()
            .flatten()
            .reduce(|a, b| a.saturating_add(b))
    }
}

/// A snapshot of one delivery's figures, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The delivery id.
    pub delivery: String,
    /// The offset of `[metrics] after` this snapshot is for (time after publication).
    pub after: SignedDuration,
    /// When the figures were read from the network.
    pub fetched_at: Timestamp,
    /// The figures.
    pub metrics: Metrics,
}

/// A published delivery whose snapshot is due (`Store::snapshots_due`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDue {
    /// The delivery id.
    pub delivery: String,
    /// The channel.
    pub channel: String,
    /// The channel's network.
    pub network: Network,
    /// The network's id of the post.
    pub remote_id: String,
    /// The post's public URL.
    pub url: Option<String>,
    /// When it was published.
    pub published_at: Timestamp,
    /// The offset of `[metrics] after` now due.
    pub after: SignedDuration,
    /// Failed fetches since the last snapshot.
    pub failures: u32,
}

/// One published post whose figures are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsRequest {
    /// The network's id of the post (what the publisher returned).
    pub remote_id: String,
    /// Its public URL, for networks that look posts up by URL.
    pub url: Option<String>,
    /// When it was published: some figures exist only for young posts (X's link clicks, under
    /// 30 days).
    pub published_at: Timestamp,
}

/// Why figures could not be read. The daemon's metrics lane tries again later; a failure never
/// touches a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngagementError {
    /// The network asks to wait (rate limit): no read before `until`.
    #[error("rate limited until {until}")]
    RateLimited {
        /// The earliest next read.
        until: Timestamp,
    },
    /// The read failed (network error, refused token, an answer that cannot be read).
    #[error("{reason}")]
    Failed {
        /// What happened, for the log.
        reason: String,
    },
}

/// Reads the engagement figures of published posts: one implementation per network, beside its
/// [`Publisher`](crate::Publisher). Each call asks for up to [`Engagement::batch_size`] posts at
/// once (X 100 ids, Bluesky 25), so a sweep costs as few requests (and, on X, as little money) as
/// the network allows.
#[async_trait::async_trait]
pub trait Engagement: Send + Sync {
    /// The network this reader speaks.
    fn network(&self) -> Network;

    /// The most posts one [`Engagement::fetch`] may ask for.
    fn batch_size(&self) -> usize;

    /// The figures of `posts` (at most [`Engagement::batch_size`]) at `now`, by remote id. A post
    /// the network does not return (deleted) is absent; a figure it does not give is `None`.
    ///
    /// # Errors
    /// [`EngagementError::RateLimited`] when the network asks to wait;
    /// [`EngagementError::Failed`] for any other failure of the read as a whole.
    async fn fetch(
        &self,
        posts: &[MetricsRequest],
        now: Timestamp,
    ) -> Result<BTreeMap<String, Metrics>, EngagementError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactions_add_the_known_figures_and_stay_unknown_when_none_is_known() {
        let m = Metrics { likes: Some(3), replies: Some(2), ..Metrics::default() };
        assert_eq!(m.interactions(), Some(5));
        assert_eq!(Metrics::default().interactions(), None);
        let only_impressions = Metrics { impressions: Some(10), ..Metrics::default() };
        assert_eq!(only_impressions.interactions(), None);
    }
}
