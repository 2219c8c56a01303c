use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::{Cadence, Location, Network};

/// One post of the queue, as read from a post file (`[[post]]` or a Markdown article).
#[derive(Debug, Clone, Default)]
pub struct Post {
    /// Stable id, unique across all files: the key that makes re-reading idempotent.
    pub id: String,
    /// Where the post starts (its `[[post]]` header or front matter), for diagnostics.
    pub location: Location,
    /// Where its `text` value starts, for diagnostics about the text.
    pub text_location: Location,
    /// Position in queue order: index of the file among the sorted queue files.
    pub file_index: usize,
    /// Position in queue order: index of the post within its file.
    pub index_in_file: usize,
    /// The channels (names from the config) the post goes to.
    pub channels: Vec<String>,
    /// Free label that policy rules can target (`hr`, `expertise`...).
    pub category: Option<String>,
    /// Campaign name for UTM tags; defaults to the category when absent.
    pub campaign: Option<String>,
    /// The text (for an article, the teaser used on social channels). Trimmed of the trailing
    /// newline a TOML multi-line string leaves.
    pub text: String,
    /// A link appended to the text (or replacing `{link}`), tagged per network.
    pub link: Option<String>,
    /// A fixed publication time, instead of the next free slot.
    pub at: Option<PostTime>,
    /// Higher goes first into free slots. Default 0.
    pub priority: i64,
    /// Per-network (`x`, `linkedin`...) or per-channel overrides, keyed by that name. A channel
    /// name wins over its network's name.
    pub variants: BTreeMap<String, Variant>,
    /// Follow-up items, published as replies (X) in order after the post itself.
    pub thread: Vec<ThreadItem>,
    /// The article, for posts read from Markdown files.
    pub article: Option<Article>,
    /// The images or videos sent with the post (`media = [{ path, alt }]`), in order.
    pub media: Vec<MediaRef>,
    /// `keep_metadata = true`: send the post's media with their metadata (EXIF, XMP...) as is.
    pub keep_metadata: bool,
}

impl Post {
    /// The override that applies on `channel` (of `network`): the channel's own, else the
    /// network's, else none.
    pub fn variant_for(&self, channel: &str, network: Network) -> Option<&Variant> {
        self.variants.get(channel).or_else(|| self.variants.get(network.as_str()))
    }

    /// The media of each part sent on `channel` (of `network`): index 0 is the post itself (the
    /// variant's list when the variant has one, even empty), then one list per thread item of
    /// the thread that applies (the variant's, else the post's).
    pub fn media_for(&self, channel: &str, network: Network) -> Vec<&[MediaRef]> {
        let variant = self.variant_for(channel, network);
        let own = variant.and_then(|v| v.media.as_deref()).unwrap_or(&self.media);
        let thread = variant.and_then(|v| v.thread.as_deref()).unwrap_or(&self.thread);
        std::iter::once(own).chain(thread.iter().map(|t| &t.media[..])).collect()
    }
}

/// One entry of a `media = [{ path, alt }]` list: an image or video file sent with a post.
///
/// The file is not read here: `validate`, `preview` and the daemon read it when they need its
/// bytes (its kind comes from the bytes, never from the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// The path as written, relative to the post file.
    pub path: String,
    /// The path resolved against the post file's folder.
    pub file: std::path::PathBuf,
    /// The alternative text, when written (policy rule `media.alt_missing` refuses none).
    pub alt: Option<String>,
    /// Where the entry is written.
    pub location: Location,
}

impl MediaRef {
    /// The file name alone (`lyon-team.jpg`), for short listings.
    pub fn file_name(&self) -> &str {
        self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path)
    }
}

/// A per-network or per-channel override of a post.
#[derive(Debug, Clone, Default)]
pub struct Variant {
    /// Replaces the post's text on this network or channel.
    pub text: Option<String>,
    /// Replaces the post's link.
    pub link: Option<String>,
    /// Replaces the post's thread.
    pub thread: Option<Vec<ThreadItem>>,
    /// Replaces the post's media (`Some(vec![])`: none on this network or channel).
    pub media: Option<Vec<MediaRef>>,
    /// Where the override starts.
    pub location: Location,
}

/// A follow-up item of a thread.
#[derive(Debug, Clone)]
pub struct ThreadItem {
    /// The text of the reply.
    pub text: String,
    /// The media sent with this reply.
    pub media: Vec<MediaRef>,
    /// Where it is written.
    pub location: Location,
}

/// A blog article read from a Markdown file with TOML front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The title from the front matter.
    pub title: String,
    /// The slug from the front matter (or derived from the file name).
    pub slug: String,
    /// Tags from the front matter.
    pub tags: Vec<String>,
    /// The Markdown body after the front matter.
    pub body_markdown: String,
}

/// A fixed publication time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTime {
    /// A local wall-clock time, in each channel's zone (`at = "2026-12-01 09:00"`).
    Civil(jiff::civil::DateTime),
    /// An absolute instant (`at = "2026-12-01T09:00:00+01:00"`).
    Instant(Timestamp),
}

/// A channel: a named account on one network with its cadence and zone.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The name, the table key under `[channels]`.
    pub name: String,
    /// The network it publishes to.
    pub network: Network,
    /// Its zone (the channel's own, else the config's).
    pub timezone: TimeZone,
    /// Its recurring slots.
    pub cadence: Vec<Cadence>,
    /// The length limit when the account has a larger one than the network's default (X paid).
    pub max_length: Option<u32>,
    /// Where the channel's table starts in the config.
    pub location: Location,
}

/// One slot of one channel, at an exact instant in the channel's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The channel name.
    pub channel: String,
    /// The instant, carrying the channel's zone (so it prints with the right offset).
    pub at: Zoned,
}
