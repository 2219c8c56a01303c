//! `[policy]`, `[policy.NETWORK]` and `[policy.channels.NAME]` into [`PolicyConfig`].

use std::collections::BTreeMap;
use std::ops::Range;

use crieur_core::{Network, Severity};
use crieur_policy::RULE_IDS;
use jiff::civil::Time;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{duration, positive, take_keys};
use crate::error::Errors;
use crate::source::{Src, as_value, list};
use crate::types::*;

pub(crate) const LAYER_KEYS: &[&str] = &[
    "rules",
    "min_gap",
    "max_per_day",
    "quiet_hours",
    "max_silence",
    "duplicate_window",
    "max_hashtags",
    "hashtag_style",
    "banned_hashtags",
    "require_link_for",
    "mix",
    "mix_window",
    "utm",
    "max_length",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    min_gap: Option<Spanned<String>>,
    max_per_day: Option<Spanned<u32>>,
    quiet_hours: Option<Spanned<String>>,
    max_silence: Option<Spanned<String>>,
    duplicate_window: Option<Spanned<String>>,
    max_hashtags: Option<u32>,
    hashtag_style: Option<Spanned<String>>,
    banned_hashtags: Option<Vec<Spanned<String>>>,
    require_link_for: Option<Vec<Spanned<String>>>,
    mix: Option<Spanned<BTreeMap<Spanned<String>, Spanned<f64>>>>,
    mix_window: Option<Spanned<String>>,
    max_length: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUtm {
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
}

/// Parses the `[policy]` table. Channel layers must name channels of `channels`.
pub(crate) fn parse_policy(
    src: &Src<'_>,
    value: Spanned<DeValue<'_>>,
    channels: &BTreeMap<String, ChannelConfig>,
    errors: &mut Errors,
) -> PolicyConfig {
    let mut out = PolicyConfig::default();
    let Some((span, mut table)) = src.table(value, "[policy]", errors) else {
        return out;
    };
    let mut nested = take_keys(&mut table, &["x", "linkedin", "facebook", "webhook", "channels"]);
    out.base = layer(src, span, table, "[policy]", true, errors);
    for net in Network::ALL {
        if let Some((_, v)) = nested.remove(net.as_str()) {
            let ctx = format!("[policy.{net}]");
            if let Some((span, t)) = src.table(v, &ctx, errors) {
                out.networks.insert(net, layer(src, span, t, &ctx, false, errors));
            }
        }
    }
    if let Some((_, v)) = nested.remove("channels")
        && let Some((_, t)) = src.table(v, "[policy.channels]", errors)
    {
        for (name, v) in t {
            let name_span = name.span();
            let name = name.into_inner().into_owned();
            if !channels.contains_key(&name) {
                errors.push(src.err(
                        &name_span,
                        format!(
                            "[policy.channels.{name}]: no channel is named `{name}`; known channels: {}",
                            list(channels.keys())
                        ),
                    ));
                continue;
            }
            let ctx = format!("[policy.channels.{name}]");
            if let Some((span, t)) = src.table(v, &ctx, errors) {
                out.channels.insert(name, layer(src, span, t, &ctx, false, errors));
            }
        }
    }
    out
}

fn layer(
    src: &Src<'_>,
    span: Range<usize>,
    mut table: DeTable<'_>,
    ctx: &str,
    base: bool,
    errors: &mut Errors,
) -> PolicyLayer {
    let mut out = PolicyLayer { location: Some(src.loc(&span)), ..PolicyLayer::default() };
    let unknown: Vec<(String, Range<usize>)> = table
        .keys()
        .filter(|k| !LAYER_KEYS.contains(&k.get_ref().as_ref()))
        .map(|k| (k.get_ref().to_string(), k.span()))
        .collect();
    for (k, kspan) in &unknown {
        let tables = if base {
            ", or the tables [policy.x], [policy.linkedin], [policy.facebook], [policy.webhook], \
             [policy.channels.NAME]"
        } else {
            ""
        };
        errors.push(src.err(
            kspan,
            format!("unknown key `{k}` in {ctx}; expected one of {}{tables}", list(LAYER_KEYS)),
        ));
        table.remove(k.as_str());
    }
    let mut special = take_keys(&mut table, &["rules", "utm"]);
    if let Some((_, v)) = special.remove("rules") {
        rules(src, v, ctx, "", &mut out.rules, errors);
    }
    if let Some((_, v)) = special.remove("utm") {
        out.utm = utm(src, v, ctx, errors);
    }
    let Some(raw) = src.de::<RawLayer>(as_value(span, table), &format!("in {ctx}"), errors) else {
        return out;
    };
    let dur = |v: &Option<Spanned<String>>, key: &str, errors: &mut Errors| {
        v.as_ref().and_then(|v| duration(src, v, &format!("{ctx} {key}"), errors))
    };
    out.min_gap = dur(&raw.min_gap, "min_gap", errors);
    out.max_silence = dur(&raw.max_silence, "max_silence", errors);
    out.duplicate_window = dur(&raw.duplicate_window, "duplicate_window", errors);
    out.mix_window = dur(&raw.mix_window, "mix_window", errors);
    out.max_per_day = positive(src, raw.max_per_day.as_ref(), ctx, "max_per_day", errors);
    out.max_length = positive(src, raw.max_length.as_ref(), ctx, "max_length", errors);
    out.max_hashtags = raw.max_hashtags;
    out.quiet_hours = raw.quiet_hours.and_then(|q| match quiet_hours(q.get_ref()) {
        Some(range) => Some(range),
        None => {
            errors.push(src.err(
                &q.span(),
                format!(
                    "{ctx} quiet_hours {:?} must be \"HH:MM-HH:MM\" (24-hour clock, two different \
                     times; it may wrap midnight, like \"22:00-07:00\")",
                    q.get_ref()
                ),
            ));
            None
        }
    });
    out.hashtag_style = raw.hashtag_style.and_then(|s| {
        if s.get_ref().eq_ignore_ascii_case("camelcase") {
            Some(HashtagStyle::CamelCase)
        } else if s.get_ref().eq_ignore_ascii_case("any") {
            Some(HashtagStyle::Any)
        } else {
            errors.push(src.err(
                &s.span(),
                format!("{ctx} hashtag_style {:?}: use \"CamelCase\" or \"any\"", s.get_ref()),
            ));
            None
        }
    });
    out.banned_hashtags = raw.banned_hashtags.map(|tags| {
        tags.into_iter()
            .filter_map(|t| {
                let bare = t.get_ref().strip_prefix('#').unwrap_or(t.get_ref());
                if bare.is_empty() || bare.contains(char::is_whitespace) {
                    errors.push(src.err(
                        &t.span(),
                        format!("{ctx} banned_hashtags: {:?} is not a hashtag", t.get_ref()),
                    ));
                    None
                } else {
                    Some(t.into_inner())
                }
            })
            .collect()
    });
    out.require_link_for = raw.require_link_for.map(|cats| {
        cats.into_iter()
            .filter_map(|c| {
                if c.get_ref().trim().is_empty() {
                    errors.push(
                        src.err(&c.span(), format!("{ctx} require_link_for: empty category")),
                    );
                    None
                } else {
                    Some(c.into_inner())
                }
            })
            .collect()
    });
    if let Some(mix) = raw.mix {
        let mut shares = BTreeMap::new();
        let mut total = 0.0;
        let mix_span = mix.span();
        for (cat, share) in mix.into_inner() {
            let v = *share.get_ref();
            if !(0.0..=1.0).contains(&v) {
                errors.push(src.err(
                    &share.span(),
                    format!(
                        "{ctx} mix: the share of `{}` must be between 0 and 1 (0.10 is 10%)",
                        cat.get_ref()
                    ),
                ));
                continue;
            }
            total += v;
            shares.insert(cat.into_inner(), v);
        }
        if total > 1.0 + 1e-9 {
            errors.push(src.err(
                &mix_span,
                format!("{ctx} mix: the minimum shares add up to {total:.2}, more than 1"),
            ));
        }
        out.mix = Some(shares);
    }
    out
}

/// `rules`: severities by rule id. Dotted keys written bare (`regularity.min_gap = "error"` inside
/// the table) arrive as nested tables; they are joined back into the id.
fn rules(
    src: &Src<'_>,
    value: Spanned<DeValue<'_>>,
    ctx: &str,
    prefix: &str,
    out: &mut BTreeMap<String, Severity>,
    errors: &mut Errors,
) {
    let Some((_, table)) = src.table(value, &format!("{ctx} rules"), errors) else {
        return;
    };
    for (key, v) in table {
        let id = format!("{prefix}{}", key.get_ref());
        let vspan = v.span();
        match v.into_inner() {
            DeValue::Table(t) => {
                let nested = Spanned::new(vspan, DeValue::Table(t));
                rules(src, nested, ctx, &format!("{id}."), out, errors);
            }
            DeValue::String(s) => {
                if !RULE_IDS.contains(&id.as_str()) {
                    errors.push(src.err(
                        &key.span(),
                        format!("{ctx} rules: unknown rule `{id}`; rules are {}", list(RULE_IDS)),
                    ));
                    continue;
                }
                let sev = match s.as_ref() {
                    "error" => Severity::Error,
                    "warning" => Severity::Warning,
                    "off" => Severity::Off,
                    other => {
                        errors.push(src.err(
                            &vspan,
                            format!(
                                "{ctx} rules: severity {other:?} of `{id}`: use \"error\", \"warning\" or \"off\""
                            ),
                        ));
                        continue;
                    }
                };
                out.insert(id, sev);
            }
            other => errors.push(src.err(
                &vspan,
                format!(
                    "{ctx} rules: `{id}` must be \"error\", \"warning\" or \"off\", not a {}",
                    other.type_str()
                ),
            )),
        }
    }
}

fn utm(src: &Src<'_>, value: Spanned<DeValue<'_>>, ctx: &str, errors: &mut Errors) -> Option<Utm> {
    let span = value.span();
    let defaults = |raw: RawUtm| Utm::Tags {
        source: raw.source.unwrap_or_else(|| "{network}".to_owned()),
        medium: raw.medium.unwrap_or_else(|| "social".to_owned()),
        campaign: raw.campaign.unwrap_or_else(|| "{campaign}".to_owned()),
    };
    match value.get_ref() {
        DeValue::Boolean(false) => Some(Utm::Off),
        DeValue::Boolean(true) => {
            Some(defaults(RawUtm { source: None, medium: None, campaign: None }))
        }
        DeValue::Table(_) => {
            src.de::<RawUtm>(value, &format!("in {ctx} utm"), errors).map(defaults)
        }
        other => {
            errors.push(src.err(
                &span,
                format!(
                    "{ctx} utm must be false or a table like {{ source = \"{{network}}\", medium = \"social\", \
                     campaign = \"{{campaign}}\" }}, not a {}",
                    other.type_str()
                ),
            ));
            None
        }
    }
}

/// `"HH:MM-HH:MM"`, two different times.
fn quiet_hours(s: &str) -> Option<(Time, Time)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (hh_mm(a.trim())?, hh_mm(b.trim())?);
    (a != b).then_some((a, b))
}

fn hh_mm(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty()
        || h.len() > 2
        || m.len() != 2
        || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Env, parse_config};

    const BASE: &str =
        "timezone = \"UTC\"\n[channels.company-x]\nnetwork = \"x\"\naccess_token = \"env:T\"\n";

    fn policy(text: &str) -> Result<PolicyConfig, String> {
        parse_config(Path::new("c.toml"), &format!("{BASE}{text}"), &Env::default())
            .map(|c| c.policy)
            .map_err(|e| e.to_string())
    }

    #[track_caller]
    fn assert_has(out: &str, wanted: &str) {
        assert!(out.lines().any(|l| l.starts_with(wanted)), "wanted\n  {wanted}\ngot\n{out}");
    }

    #[test]
    fn every_layer_and_key() {
        let p = policy(
            r##"[policy]
rules = { "regularity.min_gap" = "error", "engagement.open_question" = "warning", length = "off" }
min_gap = "1h"
max_per_day = 3
quiet_hours = "22:00-07:00"
max_silence = "7d"
duplicate_window = "30d"
max_hashtags = 3
hashtag_style = "CamelCase"
banned_hashtags = ["#FollowForFollow", "Like4Like"]
require_link_for = ["expertise"]
mix = { hr = 0.10, expertise = 0.3, culture = 0 }
mix_window = "28d"
utm = { source = "{network}", campaign = "{post}" }
max_length = 500

[policy.x]
max_hashtags = 2
utm = false

[policy.channels.company-x]
rules = { regularity.quiet_hours = "error" }
hashtag_style = "any"
"##,
        )
        .unwrap();
        let b = &p.base;
        assert_eq!(b.rules["regularity.min_gap"], Severity::Error);
        assert_eq!(b.rules["engagement.open_question"], Severity::Warning);
        assert_eq!(b.rules["length"], Severity::Off);
        assert_eq!(b.min_gap, Some(jiff::SignedDuration::from_hours(1)));
        assert_eq!(b.max_per_day, Some(3));
        assert_eq!(b.quiet_hours, Some((Time::constant(22, 0, 0, 0), Time::constant(7, 0, 0, 0))));
        assert_eq!(b.max_silence, Some(jiff::SignedDuration::from_hours(7 * 24)));
        assert_eq!(b.duplicate_window, Some(jiff::SignedDuration::from_hours(30 * 24)));
        assert_eq!(b.max_hashtags, Some(3));
        assert_eq!(b.hashtag_style, Some(HashtagStyle::CamelCase));
        assert_eq!(b.banned_hashtags.as_deref().unwrap(), ["#FollowForFollow", "Like4Like"]);
        assert_eq!(b.require_link_for.as_deref().unwrap(), ["expertise"]);
        let mix = b.mix.as_ref().unwrap();
        assert_eq!((mix["hr"], mix["expertise"], mix["culture"]), (0.10, 0.3, 0.0));
        assert_eq!(b.mix_window, Some(jiff::SignedDuration::from_hours(28 * 24)));
        assert_eq!(
            b.utm,
            Some(Utm::Tags {
                source: "{network}".into(),
                medium: "social".into(),
                campaign: "{post}".into()
            })
        );
        assert_eq!(b.max_length, Some(500));
        assert_eq!(b.location.as_ref().unwrap().to_string(), "c.toml:5:1");
        let x = &p.networks[&Network::X];
        assert_eq!((x.max_hashtags, x.utm.clone()), (Some(2), Some(Utm::Off)));
        assert!(x.rules.is_empty() && x.min_gap.is_none());
        let c = &p.channels["company-x"];
        assert_eq!(c.rules["regularity.quiet_hours"], Severity::Error);
        assert_eq!(c.hashtag_style, Some(HashtagStyle::Any));
        assert_eq!(c.location.as_ref().unwrap().to_string(), "c.toml:25:1");
        assert!(policy("").unwrap().base.rules.is_empty());
    }

    #[test]
    fn bad_values_are_placed() {
        let out = policy(
            r#"[policy]
rules = { "length" = "fatal", "lenght" = "error", "mix" = 1 }
quiet_hours = "22h-7h"
mix = { hr = 1.5 }
hashtag_style = "camel"
utm = "yes"
max_per_day = 0
[policy.channels.company-y]
min_gap = "1h"
[policy.mastodon]
max_hashtags = 1
"#,
        )
        .unwrap_err();
        assert_has(
            &out,
            "c.toml:6:22: error: [policy] rules: severity \"fatal\" of `length`: use \"error\", \"warning\" or \"off\"",
        );
        assert_has(
            &out,
            "c.toml:6:31: error: [policy] rules: unknown rule `lenght`; rules are `length`, `empty`",
        );
        assert_has(
            &out,
            "c.toml:6:59: error: [policy] rules: `mix` must be \"error\", \"warning\" or \"off\", not a integer",
        );
        assert_has(
            &out,
            "c.toml:7:15: error: [policy] quiet_hours \"22h-7h\" must be \"HH:MM-HH:MM\"",
        );
        assert_has(
            &out,
            "c.toml:8:14: error: [policy] mix: the share of `hr` must be between 0 and 1",
        );
        assert_has(
            &out,
            "c.toml:9:17: error: [policy] hashtag_style \"camel\": use \"CamelCase\" or \"any\"",
        );
        assert_has(&out, "c.toml:10:7: error: [policy] utm must be false or a table");
        assert_has(&out, "c.toml:11:15: error: [policy] max_per_day must be at least 1");
        assert_has(
            &out,
            "c.toml:12:18: error: [policy.channels.company-y]: no channel is named `company-y`; known channels: `company-x`",
        );
        assert_has(&out, "c.toml:14:9: error: unknown key `mastodon` in [policy]");
        let out = policy("[policy]\nmix = { hr = 0.6, expertise = 0.6 }\n").unwrap_err();
        assert_has(
            &out,
            "c.toml:6:7: error: [policy] mix: the minimum shares add up to 1.20, more than 1",
        );
    }

    #[test]
    fn rule_ids_match_the_policy_table() {
        assert_eq!(RULE_IDS.len(), 22);
        let unique: std::collections::BTreeSet<_> = RULE_IDS.iter().collect();
        assert_eq!(unique.len(), RULE_IDS.len());
        let rules = RULE_IDS.iter().map(|id| format!("\"{id}\" = \"error\"")).collect::<Vec<_>>();
        let p = policy(&format!("[policy]\nrules = {{ {} }}\n", rules.join(", "))).unwrap();
        assert!(RULE_IDS.iter().all(|id| p.base.rules[*id] == Severity::Error));
    }
}
