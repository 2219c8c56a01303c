//! crieur's policy: what each network receives, and whether it keeps the team's conventions.
//!
//! Everything here is a pure function of its arguments: no I/O, no async, no clock (time comes
//! in as arguments), so `validate`, `preview`, `check` and the daemon (just before each send)
//! reach the same verdict from the same input.
//!
//! - [`render`] turns a post into the exact text, link and thread a channel's network receives
//!   (variant, `{link}`, UTM tags, mentions, LinkedIn escaping) and measures it ([`Length`]).
//! - [`effective`] resolves `[policy]`, `[policy.NETWORK]` and `[policy.channels.NAME]` into
//!   the settings in force on one channel ([`Effective`]), over the built-in defaults.
//! - [`check_text`] (or [`check_post`]) runs the text rules on one rendering; [`check_calendar`]
//!   runs the calendar rules on the laid calendar and the publication history; [`check_one`]
//!   serves `crieur check`; [`check_media`] runs the `media.*` rules on what the caller read
//!   from each media file (the policy itself reads no file).
//! - [`x::count_x`] is X's weighted length (twitter-text config v3), written here rather than
//!   taken from the `twitter-text` crate, whose correct backend needs a C++ toolchain; it agrees
//!   with twitter-text's conformance suite.
//! - [`RULES`] is the one table of rules (id, built-in severity, networks judged); the crate's
//!   README documents it, and the rule constants of [`rule`] and [`RULE_IDS`] derive from it.
//! - [`PolicyConfig`] and [`Mention`] are the settings read here; the config crate parses
//!   `crieur.toml` into them.
//!
//! # Example
//!
//! Render a post for X with the built-in policy, then judge it with the text rules:
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use crieur_core::{Network, Severity};
//! use crieur_policy::{
//!     PolicyConfig, RenderContext, TextMeta, UtmVars, check_text, effective_for_network,
//!     render_parts, rule,
//! };
//!
//! let policy = PolicyConfig::default(); // no `[policy]` table: the built-in defaults
//! let eff = effective_for_network(&policy, Network::X);
//! let mentions = BTreeMap::new();
//! let ctx = RenderContext::new(&mentions, &eff);
//! let vars = UtmVars {
//!     network: Network::X,
//!     channel: "company-x",
//!     campaign: Some("launch"),
//!     category: None,
//!     post: "hello",
//! };
//! let rendered =
//!     render_parts("We ship #opensource tools", Some("https://example.com/"), &[], &vars, &ctx);
//!
//! // The link is tagged and placed after the text; X counts any URL as 23.
//! assert_eq!(
//!     rendered.text,
//!     "We ship #opensource tools \
//!      https://example.com/?utm_source=x&utm_medium=social&utm_campaign=launch"
//! );
//! assert_eq!((rendered.length.used, rendered.length.limit), (26 + 23, Some(280)));
//!
//! // One warning: the hashtag is not CamelCase. Nothing blocks publishing.
//! let diagnostics = check_text(&rendered, &eff, &TextMeta::default());
//! let found: Vec<_> = diagnostics.iter().map(|d| (d.rule.as_str(), d.severity)).collect();
//! assert_eq!(found, [(rule::HASHTAGS_STYLE, Severity::Warning)]);
//! ```

mod calendar;
mod check;
mod display;
mod effective;
mod emoji;
mod length;
mod media;
mod render;
mod rules;
mod settings;
mod text;
mod tld;
pub mod x;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testing;

pub use calendar::{Published, Scheduled, check_calendar};
pub use check::{CheckResult, TextMeta, check_one, check_post, check_text, is_camel_case};
pub use display::display_little_text;
pub use effective::{
    Effective, Scope, default_max_hashtags, default_max_per_day, default_utm, effective,
    effective_for_network,
};
pub use length::{
    BLUESKY_MAX_BYTES, BLUESKY_MAX_LENGTH, FACEBOOK_MAX_LENGTH, LINKEDIN_MAX_LENGTH, Length,
    MASTODON_MAX_LENGTH, bluesky_length, default_limit, mastodon_length, measure, utf16_length,
};
pub use media::{
    LINKEDIN_MAX_PIXELS, MediaFile, MediaKind, MediaMeta, WEBHOOK_MAX_MEDIA_BYTES, check_media,
    max_alt_length, max_file_bytes, max_media_count,
};
pub use render::{
    HashtagUse, LINKEDIN_RESERVED, MentionIssue, MentionReason, PartNotes, RenderContext, Rendered,
    UtmConflict, UtmVars, escape_little_text, render, render_parts, tag_link,
};
pub use rules::{RULE_IDS, RULES, Rule, default_severity, find_rule, is_rule, rule};
pub use settings::{HashtagStyle, Mention, PolicyConfig, PolicyLayer, Utm};
pub use text::HashtagProblem;
