//! What `preview` shows, and the four ways it shows it.
//!
//! The model ([`Preview`]) is built once from the assessed plan ([`build`]); each format is a pure
//! function of it, so the table, the JSON, the HTML page and the ICS file can never disagree, and
//! whoever serves the calendar (the command, an HTTP feed) shows the same thing.

pub mod html;
pub mod ics;
pub mod live;
pub mod table;
pub mod thumbnail;

use crieur_config::Config;
use crieur_core::{Diagnostic, Post};
use serde::Serialize;

use crate::plan::{self, Assessment};

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
    pub media: Vec<crate::media::MediaView>,
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
    /// What the store says of it (the daemon's live calendar only; `preview` leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<live::Status>,
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

/// The preview of the window `from`..`to` from an assessed plan, limited to `channels` when that
/// is not empty (the caller checked that each exists).
pub fn build(
    config: &Config,
    posts: &[Post],
    assessed: &Assessment,
    from: &jiff::Zoned,
    to: &jiff::Zoned,
    channels: &[String],
) -> Preview {
    let wanted = |channel: &str| channels.is_empty() || channels.iter().any(|c| c == channel);
    let mut entries = Vec::new();
    for e in assessed.calendar.entries.iter().filter(|e| wanted(&e.channel)) {
        let mut entry = Entry {
            at: plan::rfc3339(&e.at),
            channel: e.channel.clone(),
            network: e.network.to_string(),
            post: None,
            text: None,
            length: None,
            media: Vec::new(),
            diagnostics: Vec::new(),
            thread: Vec::new(),
            link: None,
            fixed: e.fixed,
            source: None,
            status: None,
        };
        if let Some(i) = e.post {
            let post = &posts[i];
            let key = (i, e.channel.clone());
            entry.post = Some(post.id.clone());
            entry.source = Some(post.location.to_string());
            if let Some(ch) = config.channels.get(&e.channel) {
                entry.media = crate::media::views(config, &assessed.media, post, &ch.channel);
            }
            if let Some(r) = assessed.rendered.get(&key) {
                entry.text = Some(r.text.clone());
                entry.length = Some(Length {
                    used: u64::from(r.length.used),
                    limit: r.length.limit.map(u64::from),
                });
                if matches!(
                    e.network,
                    crieur_core::Network::X
                        | crieur_core::Network::Mastodon
                        | crieur_core::Network::Bluesky
                ) {
                    entry.thread = r.thread.clone();
                }
                // The link travels apart from the text on Facebook, webhooks and Bluesky (its
                // card).
                if matches!(
                    e.network,
                    crieur_core::Network::Facebook
                        | crieur_core::Network::Webhook
                        | crieur_core::Network::Bluesky
                ) {
                    entry.link = r.link.clone();
                }
            }
            let mut diags: Vec<&Diagnostic> =
                assessed.text.get(&key).into_iter().flatten().collect();
            diags.extend(assessed.calendar_rules.iter().filter(|d| {
                d.post.as_deref() == Some(post.id.as_str())
                    && d.channel.as_deref() == Some(e.channel.as_str())
            }));
            entry.diagnostics = diags.into_iter().map(diag).collect();
        }
        entries.push(entry);
    }
    let window = assessed
        .calendar_rules
        .iter()
        .filter(|d| d.post.is_none())
        .filter(|d| d.channel.as_deref().is_none_or(wanted))
        .map(diag)
        .collect();
    Preview {
        from: plan::rfc3339(from),
        to: plan::rfc3339(to),
        entries,
        diagnostics: window,
        zone: config.timezone.clone(),
    }
}

fn diag(d: &Diagnostic) -> Diag {
    Diag {
        rule: d.rule.clone(),
        severity: d.severity.to_string(),
        message: d.message.clone(),
        post: None,
        channel: if d.post.is_none() { d.channel.clone() } else { None },
        location: d.location.as_ref().map(ToString::to_string),
    }
}
