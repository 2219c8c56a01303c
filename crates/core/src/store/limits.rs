//! What a network's server says about its own limits, as the store keeps it.

use jiff::Timestamp;

/// The limits one channel's server announced (Mastodon: `GET /api/v2/instance`,
/// `configuration.statuses` and `configuration.media_attachments`), read when the daemon starts.
/// `validate` and `preview` use them instead of the network's defaults, offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// The server's root URL the limits were read from (a channel moved to another server
    /// ignores them).
    pub instance: String,
    /// The longest status, in characters (`max_characters`).
    pub max_characters: Option<u32>,
    /// How many characters a URL counts (`characters_reserved_per_url`).
    pub characters_per_url: Option<u32>,
    /// How many media one status carries (`max_media_attachments`).
    pub max_media: Option<u32>,
    /// When they were read.
    pub fetched_at: Timestamp,
}
