//! Built-in defaults, and the settings in force on one channel.

use std::collections::BTreeMap;

use crieur_core::{Channel, Location, Network, Severity};
use jiff::SignedDuration;
use jiff::civil::Time;

use crate::rules::RULES;
use crate::settings::{HashtagStyle, PolicyConfig, PolicyLayer, Utm};

/// The built-in `max_hashtags` of a network (`None`: unlimited).
pub fn default_max_hashtags(network: Network) -> Option<u32> {
    match network {
        Network::X => Some(2),
        Network::Facebook => Some(3),
        Network::Linkedin | Network::Mastodon => Some(5),
        Network::Bluesky => Some(3),
        Network::Webhook => None,
    }
}

/// The built-in `max_per_day` of a network.
pub fn default_max_per_day(network: Network) -> u32 {
    match network {
        Network::X => 5,
        Network::Linkedin | Network::Facebook => 2,
        Network::Bluesky => 5,
        Network::Webhook | Network::Mastodon => 3,
    }
}

/// The built-in UTM templates: `{network}`, `social`, `{campaign}`.
pub fn default_utm() -> Utm {
    Utm::Tags {
        source: "{network}".to_owned(),
        medium: "social".to_owned(),
        campaign: "{campaign}".to_owned(),
    }
}

/// Which layer a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The built-in default.
    Default,
    /// `[policy]`.
    Base,
    /// `[policy.NETWORK]`.
    Network,
    /// `[policy.channels.NAME]`.
    Channel,
}

/// The policy in force on one channel: every layer resolved, most specific first.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The channel's network.
    pub network: Network,
    severities: BTreeMap<&'static str, Severity>,
    /// `min_gap` (default 1h).
    pub min_gap: SignedDuration,
    /// `max_per_day` (default by network).
    pub max_per_day: u32,
    /// `quiet_hours` (default none).
    pub quiet_hours: Option<(Time, Time)>,
    /// `max_silence` (default 7 days).
    pub max_silence: SignedDuration,
    /// `duplicate_window` (default 30 days).
    pub duplicate_window: SignedDuration,
    /// `max_hashtags` (default by network; `None`: unlimited).
    pub max_hashtags: Option<u32>,
    /// `hashtag_style` (default CamelCase).
    pub hashtag_style: HashtagStyle,
    /// `banned_hashtags`, as written.
    pub banned_hashtags: Vec<String>,
    /// `require_link_for`: categories.
    pub require_link_for: Vec<String>,
    /// `mix`: minimum share by category.
    pub mix: BTreeMap<String, f64>,
    /// The layer `mix` came from.
    pub mix_scope: Scope,
    /// Where that layer is written, when known.
    pub mix_location: Option<Location>,
    /// `mix_window` (default 28 days).
    pub mix_window: SignedDuration,
    /// `utm` (default `{network}` / `social` / `{campaign}`).
    pub utm: Utm,
    /// The length limit: `[policy.channels.NAME] max_length`, else the channel's own
    /// `max_length`, else `[policy.NETWORK]`, else `[policy]`, else the network's (`None`:
    /// unlimited, webhook).
    pub max_length: Option<u32>,
}

impl Effective {
    /// The severity of rule `id` on this channel (`Off` for an unknown id, and for a rule that
    /// does not judge this channel's network).
    pub fn severity(&self, id: &str) -> Severity {
        self.severities.get(id).copied().unwrap_or(Severity::Off)
    }
}

/// Resolves the policy layers for `channel`: its `[policy.channels.NAME]`, then
/// `[policy.NETWORK]`, then `[policy]`, then the built-in defaults.
pub fn effective(policy: &PolicyConfig, channel: &Channel) -> Effective {
    resolve(policy, channel.network, Some(&channel.name), channel.max_length)
}

/// As [`effective`], for a network without a configured channel (`crieur check --network`).
pub fn effective_for_network(policy: &PolicyConfig, network: Network) -> Effective {
    resolve(policy, network, None, None)
}

fn resolve(
    policy: &PolicyConfig,
    network: Network,
    channel: Option<&str>,
    channel_max_length: Option<u32>,
) -> Effective {
    let channel_layer = channel.and_then(|c| policy.channels.get(c));
    let network_layer = policy.networks.get(&network);
    let layers: [(Scope, Option<&PolicyLayer>); 3] = [
        (Scope::Channel, channel_layer),
        (Scope::Network, network_layer),
        (Scope::Base, Some(&policy.base)),
    ];
    let pick = |get: &dyn Fn(&PolicyLayer) -> bool| -> Option<(Scope, &PolicyLayer)> {
        layers.iter().find_map(|(scope, l)| l.filter(|l| get(l)).map(|l| (*scope, l)))
    };

    let severities = RULES
        .iter()
        .filter(|r| r.applies_to(network))
        .map(|r| {
            let s = layers
                .iter()
                .find_map(|(_, l)| l.and_then(|l| l.rules.get(r.id).copied()))
                .unwrap_or(r.default);
            (r.id, s)
        })
        .collect();

    let first = |f: &dyn Fn(&PolicyLayer) -> Option<SignedDuration>| {
        layers.iter().find_map(|(_, l)| l.and_then(f))
    };
    let (mix, mix_scope, mix_location) = match pick(&|l| l.mix.is_some()) {
        Some((scope, l)) => (l.mix.clone().unwrap_or_default(), scope, l.location.clone()),
        None => (BTreeMap::new(), Scope::Default, None),
    };
    let max_length = channel_layer
        .and_then(|l| l.max_length)
        .or(channel_max_length)
        .or_else(|| network_layer.and_then(|l| l.max_length))
        .or(policy.base.max_length)
        .or_else(|| crate::length::default_limit(network));

    Effective {
        network,
        severities,
        min_gap: first(&|l| l.min_gap).unwrap_or(SignedDuration::from_hours(1)),
        max_per_day: layers
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.max_per_day))
            .unwrap_or_else(|| default_max_per_day(network)),
        quiet_hours: layers.iter().find_map(|(_, l)| l.and_then(|l| l.quiet_hours)),
        max_silence: first(&|l| l.max_silence).unwrap_or(SignedDuration::from_hours(7 * 24)),
        duplicate_window: first(&|l| l.duplicate_window)
            .unwrap_or(SignedDuration::from_hours(30 * 24)),
        max_hashtags: match layers.iter().find_map(|(_, l)| l.and_then(|l| l.max_hashtags)) {
            Some(n) => Some(n),
            None => default_max_hashtags(network),
        },
        hashtag_style: layers
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.hashtag_style))
            .unwrap_or(HashtagStyle::CamelCase),
        banned_hashtags: layers
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.banned_hashtags.clone()))
            .unwrap_or_default(),
        require_link_for: layers
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.require_link_for.clone()))
            .unwrap_or_default(),
        mix,
        mix_scope,
        mix_location,
        mix_window: first(&|l| l.mix_window).unwrap_or(SignedDuration::from_hours(28 * 24)),
        utm: layers
            .iter()
            .find_map(|(_, l)| l.and_then(|l| l.utm.clone()))
            .unwrap_or_else(default_utm),
        max_length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{is_rule, rule};
    use crate::testing::channel;

    #[test]
    fn built_in_defaults_follow_the_table() {
        let p = PolicyConfig::default();
        let x = effective(&p, &channel("company-x", Network::X));
        assert_eq!(x.max_hashtags, Some(2));
        assert_eq!(x.max_per_day, 5);
        assert_eq!(x.max_length, Some(280));
        assert_eq!(x.min_gap, SignedDuration::from_hours(1));
        assert_eq!(x.severity(rule::LENGTH), Severity::Error);
        assert_eq!(x.severity(rule::ENGAGEMENT_OPEN_QUESTION), Severity::Off);
        let li = effective(&p, &channel("li", Network::Linkedin));
        assert_eq!((li.max_hashtags, li.max_per_day, li.max_length), (Some(5), 2, Some(3000)));
        let fb = effective(&p, &channel("fb", Network::Facebook));
        assert_eq!((fb.max_hashtags, fb.max_per_day), (Some(3), 2));
        let blog = effective(&p, &channel("blog", Network::Webhook));
        assert_eq!((blog.max_hashtags, blog.max_per_day, blog.max_length), (None, 3, None));
        assert_eq!(x.utm, default_utm());
        assert_eq!(x.severity("no.such.rule"), Severity::Off);
        assert!(is_rule("mix.min_share") && !is_rule("mix"));
    }

    #[test]
    fn the_most_specific_layer_wins() {
        let mut p = PolicyConfig::default();
        p.base.max_hashtags = Some(3);
        p.base.rules.insert(rule::REGULARITY_MIN_GAP.into(), Severity::Warning);
        p.base.rules.insert(rule::HASHTAGS_STYLE.into(), Severity::Error);
        let x_layer = PolicyLayer { max_hashtags: Some(1), ..Default::default() };
        p.networks.insert(Network::X, x_layer);
        let mut ch = PolicyLayer::default();
        ch.rules.insert(rule::REGULARITY_MIN_GAP.into(), Severity::Off);
        ch.max_length = Some(1000);
        p.channels.insert("company-x".into(), ch);

        let cx = effective(&p, &channel("company-x", Network::X));
        assert_eq!(cx.max_hashtags, Some(1), "network layer beats base");
        assert_eq!(cx.severity(rule::REGULARITY_MIN_GAP), Severity::Off, "channel beats base");
        assert_eq!(cx.severity(rule::HASHTAGS_STYLE), Severity::Error, "base beats default");
        assert_eq!(cx.max_length, Some(1000));
        let other = effective(&p, &channel("other-x", Network::X));
        assert_eq!(other.severity(rule::REGULARITY_MIN_GAP), Severity::Warning);
        assert_eq!(other.max_length, Some(280));
        let blog = effective(&p, &channel("blog", Network::Webhook));
        assert_eq!(blog.max_hashtags, Some(3), "a base key replaces every network's default");
    }

    #[test]
    fn a_rule_is_off_on_a_network_it_does_not_judge() {
        let mut p = PolicyConfig::default();
        p.base.rules.insert(rule::MENTIONS_UNRESOLVED.into(), Severity::Error);
        let blog = effective(&p, &channel("blog", Network::Webhook));
        assert_eq!(blog.severity(rule::MENTIONS_UNRESOLVED), Severity::Off);
        assert_eq!(blog.severity(rule::LENGTH), Severity::Error);
        let li = effective(&p, &channel("li", Network::Linkedin));
        assert_eq!(li.severity(rule::MENTIONS_UNRESOLVED), Severity::Error);
    }

    #[test]
    fn channel_max_length_sits_between_channel_and_network_layers() {
        let mut p = PolicyConfig::default();
        p.networks.insert(Network::X, PolicyLayer { max_length: Some(500), ..Default::default() });
        let mut c = channel("paid-x", Network::X);
        c.max_length = Some(25_000);
        assert_eq!(effective(&p, &c).max_length, Some(25_000));
        p.channels
            .insert("paid-x".into(), PolicyLayer { max_length: Some(4000), ..Default::default() });
        assert_eq!(effective(&p, &c).max_length, Some(4000));
    }
}
