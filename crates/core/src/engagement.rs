//! Engagement figures: what a published post returned, as a network reports it.
//!
//! A figure the network does not give (impressions on a member's LinkedIn post, clicks on X after
//! 30 days) is `None`, never 0: a report must not confuse "unknown" with "nobody".

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
