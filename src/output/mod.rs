//! What `preview` shows, and the four ways it shows it.
//!
//! The model ([`Preview`]) is built once from the calendar and the policy; each format is a pure
//! function of it, so the table, the JSON, the HTML page and the ICS file can never disagree.

pub mod html;
pub mod ics;
pub mod table;

use serde::Serialize;

/// The dry-run calendar of a window, in the JSON shape of `crieur preview --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// Start of the window, RFC 3339 in the config's zone.
    pub from: String,
    /// End of the window (exclusive), RFC 3339 in the config's zone.
    pub to: String,
    /// Every slot of every channel in the window, filled or empty, sorted by `at` then `channel`.
    pub entries: Vec<Entry>,
    /// Diagnostics about the window itself (silence, mix).
    pub diagnostics: Vec<Diag>,
    /// The config's zone: the table and the page group days and show times in it.
    #[serde(skip)]
    pub zone: jiff::tz::TimeZone,
}

/// One slot of one channel.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The instant, RFC 3339 with the channel zone's offset.
    pub at: String,
    /// The channel name.
    pub channel: String,
    /// The channel's network.
    pub network: String,
    /// The post id; `null` for an empty slot.
    pub post: Option<String>,
    /// Exactly what the network would receive; `null` when empty.
    pub text: Option<String>,
    /// Length as the network counts it; `null` when empty.
    pub length: Option<Length>,
    /// The post's images and videos on this channel (`[]` when none).
    pub media: Vec<crieur_daemon::media::MediaView>,
    /// The rule findings about this post on this channel.
    pub diagnostics: Vec<Diag>,
    /// The rendered follow-up items of a thread (published as replies right after the post).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    /// The link as the network receives it apart from the text (Facebook's card, the webhook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// True when the post has a fixed `at` rather than a cadence slot.
    pub fixed: bool,
    /// Where the post is written, `path:line:col`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A length as a network counts it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Length {
    /// Units used (X: weighted length).
    pub used: u64,
    /// The network's limit; `null` when it has none.
    pub limit: Option<u64>,
}

/// A diagnostic as `preview` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Diag {
    /// The rule id.
    pub rule: String,
    /// `error` or `warning`.
    pub severity: String,
    /// What is wrong and what to change.
    pub message: String,
    /// The post concerned (window-level diagnostics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    /// The channel concerned (window-level diagnostics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where the finding is written, `path:line:col` (to put a media finding beside its entry).
    #[serde(skip)]
    pub location: Option<String>,
}

impl Diag {
    /// Whether this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}

impl Entry {
    /// The channel-local time part of `at` (`HH:MM`).
    pub fn local_time(&self) -> &str {
        self.at.get(11..16).unwrap_or("")
    }

    /// `at` in `zone` (the config's), or `None` if `at` does not parse.
    pub fn in_zone(&self, zone: &jiff::tz::TimeZone) -> Option<jiff::Zoned> {
        Some(self.at.parse::<jiff::Timestamp>().ok()?.to_zoned(zone.clone()))
    }

    /// The date (`YYYY-MM-DD`) and time (`HH:MM`) of `at` in `zone`, plus the channel-local time
    /// when it differs (a channel in another zone).
    pub fn when(&self, zone: &jiff::tz::TimeZone) -> (String, String, Option<String>) {
        match self.in_zone(zone) {
            Some(z) => {
                let time = z.strftime("%H:%M").to_string();
                let other = (time != self.local_time()).then(|| self.local_time().to_owned());
                (z.strftime("%Y-%m-%d").to_string(), time, other)
            }
            None => {
                (self.at.get(..10).unwrap_or("").to_owned(), self.local_time().to_owned(), None)
            }
        }
    }
}
