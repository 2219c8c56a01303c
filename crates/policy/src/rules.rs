//! The one table of rules: each rule's id, built-in severity and the networks it judges.
//!
//! [`RULES`], the [`rule`] constants and [`RULE_IDS`] all come from the single list below, so
//! they cannot drift apart; the crate's README documents the same table, and a test holds the
//! two together.

use crieur_core::{Network, Severity};

/// One policy rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The stable id, as written in `[policy] rules` and printed in diagnostics.
    pub id: &'static str,
    /// The severity when no layer of `[policy]` sets one.
    pub default: Severity,
    /// The networks the rule judges; on any other network its severity is `off`.
    pub networks: &'static [Network],
}

impl Rule {
    /// Whether the rule judges posts on `network`.
    pub fn applies_to(&self, network: Network) -> bool {
        self.networks.contains(&network)
    }
}

/// Every network.
const ALL: &[Network] = &Network::ALL;

/// Writes the table once and derives from it the `rule` constants, [`RULES`] and [`RULE_IDS`].
macro_rules! rules {
    ($($(#[doc = $doc:literal])* $name:ident = $id:literal, $default:ident, $networks:expr;)*) => {
        /// The stable rule ids, one constant per rule of [`RULES`](crate::RULES).
        pub mod rule {
            $($(#[doc = $doc])* pub const $name: &str = $id;)*
        }

        /// Every rule, in the order of the policy specification.
        pub const RULES: &[Rule] = &[
            $(Rule { id: rule::$name, default: Severity::$default, networks: $networks },)*
        ];

        /// Every rule id, in the order of [`RULES`].
        pub const RULE_IDS: &[&str] = &[$(rule::$name,)*];
    };
}

rules! {
    /// The text fits the network's limit.
    LENGTH = "length", Error, ALL;
    /// There is text after rendering.
    EMPTY = "empty", Error, ALL;
    /// At most N hashtags.
    HASHTAGS_MAX = "hashtags.max", Warning, ALL;
    /// Hashtags in CamelCase.
    HASHTAGS_STYLE = "hashtags.style", Warning, ALL;
    /// No banned hashtag.
    HASHTAGS_BANNED = "hashtags.banned", Error, ALL;
    /// No hashtag the network will not link.
    HASHTAGS_INVALID = "hashtags.invalid", Error, ALL;
    /// Every mention can be expressed on the network (a webhook receives plain names).
    MENTIONS_UNRESOLVED = "mentions.unresolved", Error,
        &[Network::X, Network::Facebook, Network::Linkedin, Network::Mastodon, Network::Bluesky];
    /// Posts of some categories carry a link.
    LINKS_REQUIRED = "links.required", Warning, ALL;
    /// The link carries no conflicting `utm_` parameter.
    LINKS_BROKEN_UTM = "links.broken_utm", Error, ALL;
    /// No same text twice on a channel within the duplicate window.
    DUPLICATE = "duplicate", Error, ALL;
    /// Posts on a channel at least `min_gap` apart.
    REGULARITY_MIN_GAP = "regularity.min_gap", Error, ALL;
    /// At most N posts per channel per local day.
    REGULARITY_MAX_PER_DAY = "regularity.max_per_day", Warning, ALL;
    /// No post inside quiet hours.
    REGULARITY_QUIET_HOURS = "regularity.quiet_hours", Warning, ALL;
    /// No silence longer than `max_silence`.
    REGULARITY_SILENCE = "regularity.silence", Warning, ALL;
    /// Each category reaches its share of posts.
    MIX_MIN_SHARE = "mix.min_share", Warning, ALL;
    /// Every image or video has alt text.
    MEDIA_ALT_MISSING = "media.alt_missing", Error, ALL;
    /// Alt text fits what the network keeps.
    MEDIA_ALT_LENGTH = "media.alt_length", Error, ALL;
    /// Every media file can be read, and its bytes are an image or video crieur can send.
    MEDIA_UNREADABLE = "media.unreadable", Error, ALL;
    /// No more media on one post than the network takes.
    MEDIA_COUNT = "media.count", Error, ALL;
    /// No file over the network's limit.
    MEDIA_TOO_LARGE = "media.too_large", Error, ALL;
    /// No images and video together where the network forbids it.
    MEDIA_MIXED = "media.mixed", Error, ALL;
    /// The post asks a question or invites a reply.
    ENGAGEMENT_OPEN_QUESTION = "engagement.open_question", Off, ALL;
}

/// The rule named `id`, if there is one.
pub fn find_rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Whether `id` names a rule (for the config to reject typos in `rules = {...}`).
pub fn is_rule(id: &str) -> bool {
    find_rule(id).is_some()
}

/// The built-in severity of a rule; `None` for an unknown id.
pub fn default_severity(id: &str) -> Option<Severity> {
    find_rule(id).map(|r| r.default)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The crate's README, where the rule table is documented for readers.
    const README: &str = include_str!("../README.md");

    /// The README's rule table: one `(id, default, networks)` per row.
    fn documented() -> Vec<(String, Severity, Vec<Network>)> {
        README
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let id = cells[1].trim_matches('`').to_owned();
                let default = match cells[2] {
                    "error" => Severity::Error,
                    "warning" => Severity::Warning,
                    "off" => Severity::Off,
                    other => panic!("{id}: unknown default {other:?}"),
                };
                let networks = if cells[3] == "all" {
                    Network::ALL.to_vec()
                } else {
                    cells[3].split(", ").map(|n| n.parse().unwrap()).collect()
                };
                (id, default, networks)
            })
            .collect()
    }

    #[test]
    fn the_table_is_the_one_documented_in_the_readme() {
        let code: Vec<_> = RULES
            .iter()
            .map(|r| {
                let mut networks = r.networks.to_vec();
                networks.sort();
                (r.id.to_owned(), r.default, networks)
            })
            .collect();
        let mut doc = documented();
        for (_, _, networks) in &mut doc {
            networks.sort();
        }
        assert_eq!(code, doc);
    }

    #[test]
    fn ids_are_unique_and_listed_in_table_order() {
        let unique: BTreeSet<_> = RULE_IDS.iter().collect();
        assert_eq!(unique.len(), RULES.len());
        assert!(RULES.iter().map(|r| r.id).eq(RULE_IDS.iter().copied()));
        assert!(RULES.iter().all(|r| !r.networks.is_empty()));
    }

    #[test]
    fn lookups_answer_from_the_table() {
        assert!(is_rule("mix.min_share") && !is_rule("mix"));
        assert_eq!(default_severity(rule::ENGAGEMENT_OPEN_QUESTION), Some(Severity::Off));
        assert_eq!(default_severity("no.such.rule"), None);
        let mentions = find_rule(rule::MENTIONS_UNRESOLVED).unwrap();
        assert!(mentions.applies_to(Network::Linkedin) && !mentions.applies_to(Network::Webhook));
    }
}
