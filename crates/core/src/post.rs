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
    /// `lang`, `visibility` and `card`: how the networks that take them show the post.
    pub options: PostOptions,
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

    /// The [`PostOptions`] that apply on `channel` (of `network`): each of the override's own
    /// (channel, else network) wins over the post's.
    pub fn options_for(&self, channel: &str, network: Network) -> PostOptions {
        let own = self.variant_for(channel, network).map(|v| &v.options);
        PostOptions {
            lang: own.and_then(|o| o.lang.clone()).or_else(|| self.options.lang.clone()),
            visibility: own.and_then(|o| o.visibility).or(self.options.visibility),
            card: own.and_then(|o| o.card.clone()).or_else(|| self.options.card.clone()),
        }
    }
}

/// What a post says about how it is shown, on the networks that take it: its language, who sees
/// it, and its link card. Each is `None` when the post does not say (the channel's or the
/// network's default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostOptions {
    /// `lang`: the post's language as a BCP 47 tag (`fr`, `pt-BR`); Mastodon receives its
    /// ISO 639-1 part as `language`, Bluesky the tag in `langs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// `visibility` (Mastodon): overrides the channel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// `card` (Bluesky): the link card to send as written, instead of reading the link's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<LinkCard>,
}

impl PostOptions {
    /// True when the post says nothing of the three.
    pub fn is_empty(&self) -> bool {
        self.lang.is_none() && self.visibility.is_none() && self.card.is_none()
    }

    /// The part `network` sends for thread item `item`: `lang` on Mastodon and Bluesky,
    /// `visibility` on Mastodon, `card` on Bluesky's item 0 (the one that carries the link);
    /// nothing elsewhere, so changing an option a network never sees is not an edit there.
    pub fn for_network(&self, network: Network, item: u32) -> PostOptions {
        let (mastodon, bluesky) = (network == Network::Mastodon, network == Network::Bluesky);
        PostOptions {
            lang: self.lang.clone().filter(|_| mastodon || bluesky),
            visibility: self.visibility.filter(|_| mastodon),
            card: self.card.clone().filter(|_| bluesky && item == 0),
        }
    }
}

/// A link card written in the post (`card = { title = "...", description = "..." }`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkCard {
    /// The card's title.
    pub title: String,
    /// The card's description (may be empty).
    #[serde(default)]
    pub description: String,
}

/// Who sees a Mastodon post. `direct` (a private message) is not something crieur schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, in the public timelines.
    Public,
    /// Everyone, but kept out of the public timelines.
    Unlisted,
    /// The account's followers only.
    Private,
}

impl Visibility {
    /// Reads `public`, `unlisted` or `private`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "unlisted" => Some(Self::Unlisted),
            "private" => Some(Self::Private),
            _ => None,
        }
    }

    /// The value Mastodon's API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }
}

/// Whether `s` is a language tag crieur sends: a primary language of 2 or 3 letters, then
/// optional subtags of 1 to 8 letters or digits, `-`-separated (`fr`, `en-GB`, `zh-Hant-TW`).
pub fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
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
    /// Replaces each of the post's options it sets.
    pub options: PostOptions,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_a_primary_language_and_short_subtags() {
        for ok in ["fr", "en-GB", "pt-BR", "zh-Hant-TW", "ast"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "f", "French", "en_GB", "en-", "fr-toolongsubtag", "12"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn each_network_gets_only_the_options_it_sends() {
        let all = PostOptions {
            lang: Some("fr".into()),
            visibility: Some(Visibility::Private),
            card: Some(LinkCard { title: "t".into(), description: String::new() }),
        };
        let m = all.for_network(Network::Mastodon, 0);
        assert_eq!(
            (m.lang.as_deref(), m.visibility, m.card),
            (Some("fr"), Some(Visibility::Private), None)
        );
        let b = all.for_network(Network::Bluesky, 0);
        assert_eq!((b.lang.as_deref(), b.visibility, b.card.is_some()), (Some("fr"), None, true));
        assert!(all.for_network(Network::Bluesky, 1).card.is_none(), "the link is on item 0");
        assert!(all.for_network(Network::X, 0).is_empty());
        assert!(all.for_network(Network::Webhook, 0).is_empty());
    }
}
