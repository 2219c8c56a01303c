//! The settings policy reads: the `[policy]` layers and the `[mentions]` entries.
//!
//! They are plain data, owned here because the rules give them their meaning; the config crate
//! parses `crieur.toml` into them (and re-exports them under its own name).

use std::collections::BTreeMap;

use crieur_core::{Location, Network, Severity};
use jiff::SignedDuration;
use jiff::civil::Time;

/// One `[mentions.KEY]` entry: how to mention a person or organisation on each network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mention {
    /// `name`: the plain name (Facebook, webhook, and the LinkedIn mention's label).
    pub name: String,
    /// `x`: the handle, with its `@`.
    pub x: Option<String>,
    /// `linkedin`: the URN.
    pub linkedin: Option<String>,
    /// `facebook`: a name to use instead of `name` on Facebook.
    pub facebook: Option<String>,
    /// `mastodon`: the account as `@user@domain`, with its leading `@`.
    pub mastodon: Option<String>,
    /// `bluesky`: the Bluesky handle (`acme.bsky.social`), resolved to its DID when sent.
    pub bluesky: Option<String>,
    /// Where the entry is written.
    pub location: Location,
}

/// `[policy]`, `[policy.NETWORK]` and `[policy.channels.NAME]`.
///
/// The most specific layer wins: channel, then network, then the base layer, then the built-in
/// default (see [`RULES`](crate::RULES) and [`effective`](crate::effective())).
#[derive(Debug, Clone, Default)]
pub struct PolicyConfig {
    /// `[policy]`.
    pub base: PolicyLayer,
    /// `[policy.x]`, `[policy.linkedin]`...
    pub networks: BTreeMap<Network, PolicyLayer>,
    /// `[policy.channels.NAME]`.
    pub channels: BTreeMap<String, PolicyLayer>,
}

/// One layer of policy settings; `None` means "not set here".
#[derive(Debug, Clone, Default)]
pub struct PolicyLayer {
    /// `rules`: severity by rule id.
    pub rules: BTreeMap<String, Severity>,
    /// `min_gap`.
    pub min_gap: Option<SignedDuration>,
    /// `max_per_day`.
    pub max_per_day: Option<u32>,
    /// `quiet_hours = "22:00-07:00"`: start and end, local time (may wrap midnight).
    pub quiet_hours: Option<(Time, Time)>,
    /// `max_silence`.
    pub max_silence: Option<SignedDuration>,
    /// `duplicate_window`.
    pub duplicate_window: Option<SignedDuration>,
    /// `max_hashtags`.
    pub max_hashtags: Option<u32>,
    /// `hashtag_style`.
    pub hashtag_style: Option<HashtagStyle>,
    /// `banned_hashtags` (with or without `#`; compared case-insensitively).
    pub banned_hashtags: Option<Vec<String>>,
    /// `require_link_for`: categories.
    pub require_link_for: Option<Vec<String>>,
    /// `mix`: minimum share by category, 0.0..=1.0.
    pub mix: Option<BTreeMap<String, f64>>,
    /// `mix_window`.
    pub mix_window: Option<SignedDuration>,
    /// `utm`: the UTM tags, or `false` to turn them off.
    pub utm: Option<Utm>,
    /// `max_length`: overrides the network's length limit.
    pub max_length: Option<u32>,
    /// Where the layer's table starts.
    pub location: Option<Location>,
}

/// Hashtag style required by `hashtags.style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashtagStyle {
    /// `#OpenSource`: each word capitalised.
    CamelCase,
    /// No requirement.
    Any,
}

/// The UTM tags added to links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Utm {
    /// `utm = false`.
    Off,
    /// Templates; `{network}`, `{channel}`, `{campaign}`, `{category}`, `{post}` are replaced.
    Tags {
        /// `utm_source`, default `{network}`.
        source: String,
        /// `utm_medium`, default `social`.
        medium: String,
        /// `utm_campaign`, default `{campaign}` (the post's campaign, else its category).
        campaign: String,
    },
}
