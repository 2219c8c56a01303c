//! How long a text is for each network, and each network's limit.

use crieur_core::Network;
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::x::{X_MAX_LENGTH, X_URL_WEIGHT, count_x};

/// LinkedIn's limit for a post's commentary.
pub const LINKEDIN_MAX_LENGTH: u32 = 3000;
/// Facebook's limit for a Page post's message.
pub const FACEBOOK_MAX_LENGTH: u32 = 63206;
/// Mastodon's default limit (an instance may allow more).
pub const MASTODON_MAX_LENGTH: u32 = 500;
/// Bluesky's limit, in graphemes.
pub const BLUESKY_MAX_LENGTH: u32 = 300;
/// Bluesky's second limit, in UTF-8 bytes.
pub const BLUESKY_MAX_BYTES: usize = 3000;

/// A text's length as its network counts it, and the limit (`None`: no limit, webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Length {
    /// The length as the network counts it (X: twitter-text's weighted length).
    pub used: u32,
    /// The limit that applies on this channel, if any.
    pub limit: Option<u32>,
}

impl Length {
    /// Whether the text fits its limit.
    pub fn fits(&self) -> bool {
        self.limit.is_none_or(|l| self.used <= l)
    }
}

/// The network's own limit, before any `max_length` setting.
pub fn default_limit(network: Network) -> Option<u32> {
    match network {
        Network::X => Some(X_MAX_LENGTH),
        Network::Linkedin => Some(LINKEDIN_MAX_LENGTH),
        Network::Facebook => Some(FACEBOOK_MAX_LENGTH),
        Network::Mastodon => Some(MASTODON_MAX_LENGTH),
        Network::Bluesky => Some(BLUESKY_MAX_LENGTH),
        Network::Webhook => None,
    }
}

/// Measures `text` as `network` counts it, against `limit` (see [`default_limit`]).
///
/// X: twitter-text's weighted length. LinkedIn and Facebook: UTF-16 units of the exact text
/// sent (for LinkedIn, escapes and mention markup included), the strictest reading of their
/// "characters". Webhook: UTF-16 units too, for information; it has no limit. Mastodon:
/// [`mastodon_length`] (the server's own `characters_reserved_per_url` is 23 on every server
/// crieur has met; a channel's `max_length` or the stored instance limit sets the limit).
pub fn measure(network: Network, text: &str, limit: Option<u32>) -> Length {
    let used = match network {
        Network::X => count_x(text, limit.unwrap_or(X_MAX_LENGTH)).weighted_length,
        Network::Linkedin | Network::Facebook | Network::Webhook => utf16_length(text),
        Network::Mastodon => mastodon_length(text),
        Network::Bluesky => bluesky_length(text),
    };
    Length { used, limit }
}

/// UTF-16 code units, saturating.
pub fn utf16_length(text: &str) -> u32 {
    // One unit per character, two for those outside the Basic Multilingual Plane: exactly the
    // characters whose UTF-8 form starts with a byte of 0xF0 or more. Two counting passes over
    // the bytes instead of encoding each character.
    let beyond_bmp = text.bytes().filter(|&b| b >= 0xF0).count();
    u32::try_from(text.chars().count() + beyond_bmp).unwrap_or(u32::MAX)
}

/// Mastodon's count: graphemes, every `http(s)://` link as 23, and a remote mention
/// `@user@domain` as its `@user` part only.
pub fn mastodon_length(text: &str) -> u32 {
    let mut used: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let next_url = find_scheme_url(rest);
        let (plain, after) = match next_url {
            Some((start, end)) => (&rest[..start], Some(end)),
            None => (rest, None),
        };
        used += count_mastodon_plain(plain);
        match after {
            Some(end) => {
                used += u64::from(X_URL_WEIGHT);
                rest = &rest[end..];
            }
            None => break,
        }
    }
    u32::try_from(used).unwrap_or(u32::MAX)
}

/// Graphemes of a text without links, remote mentions shortened to their local part.
fn count_mastodon_plain(text: &str) -> u64 {
    let mut total = text.graphemes(true).count() as u64;
    // Remote mentions: `@user@domain` counts as `@user`.
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'@' && (i == 0 || !is_word_byte(bytes[i - 1])) {
            let mut j = i + 1;
            while j < bytes.len() && is_word_byte(bytes[j]) {
                j += 1;
            }
            if j > i + 1 && j < bytes.len() && bytes[j] == b'@' {
                let mut k = j + 1;
                while k < bytes.len()
                    && (is_word_byte(bytes[k]) || bytes[k] == b'.' || bytes[k] == b'-')
                {
                    k += 1;
                }
                while k > j + 1 && matches!(bytes[k - 1], b'.' | b'-') {
                    k -= 1;
                }
                if k > j + 1 {
                    total = total.saturating_sub((k - j) as u64);
                    i = k;
                    continue;
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    total
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The first `http://` or `https://` link: from the scheme to the next whitespace.
fn find_scheme_url(text: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let start = [lower.find("http://"), lower.find("https://")].into_iter().flatten().min()?;
    let end = text[start..].find(char::is_whitespace).map_or(text.len(), |e| start + e);
    Some((start, end))
}

/// Bluesky's count: extended grapheme clusters.
pub fn bluesky_length(text: &str) -> u32 {
    u32::try_from(text.graphemes(true).count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn utf16_length_counts_as_encoding_would(text in "(.|a|é|👍|\u{10FFFF}|\u{FFFF}){0,30}") {
            proptest::prop_assert_eq!(
                utf16_length(&text) as usize,
                text.encode_utf16().count()
            );
        }
    }

    #[test]
    fn network_lengths() {
        assert_eq!(measure(Network::X, "hi test.com", Some(280)).used, 3 + 23);
        assert_eq!(measure(Network::Linkedin, "héllo 😀", Some(3000)).used, 8);
        assert_eq!(measure(Network::Webhook, "abc", None), Length { used: 3, limit: None });
        assert!(Length { used: 3, limit: None }.fits());
        assert!(!Length { used: 4, limit: Some(3) }.fits());
    }

    #[test]
    fn mastodon_counts_links_and_remote_mentions_short() {
        assert_eq!(mastodon_length("hello"), 5);
        assert_eq!(mastodon_length("see https://example.com/a/very/long/path ok"), 4 + 23 + 3);
        assert_eq!(mastodon_length("hi @alice@example.social"), 3 + 6);
        assert_eq!(mastodon_length("👨‍👩‍👧‍👦"), 1);
    }

    #[test]
    fn bluesky_counts_graphemes() {
        assert_eq!(bluesky_length("e\u{301}👨‍👩‍👧‍👦"), 2);
    }
}
