//! `[policy]`, `[policy.NETWORK]` and `[policy.channels.NAME]` into [`PolicyConfig`].

use std::collections::BTreeMap;
use std::ops::Range;

use crieur_core::{Network, Severity};
use jiff::civil::Time;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{duration, positive, take_keys};
use crate::error::Errors;
use crate::source::{Src, as_value, list};
use crate::types::*;

/// Every policy rule id, as written in `[policy] rules` and printed in diagnostics.
pub const RULE_IDS: &[&str] = &[
    "length",
    "empty",
    "hashtags.max",
    "hashtags.style",
    "hashtags.banned",
    "hashtags.invalid",
    "mentions.unresolved",
    "links.required",
    "links.broken_utm",
    "duplicate",
    "regularity.min_gap",
    "regularity.max_per_day",
    "regularity.quiet_hours",
    "regularity.silence",
    "mix.min_share",
    "engagement.open_question",
];

const LAYER_KEYS: &[&str] = &[
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
    mix: Option<BTreeMap<Spanned<String>, Spanned<f64>>>,
    mix_window: Option<Spanned<String>>,
    max_length: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUtm {
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
        let mut first_span = None;
        for (cat, share) in mix {
            first_span.get_or_insert(cat.span());
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
        if total > 1.0 + 1e-9
            && let Some(span) = &first_span
        {
            errors.push(src.err(
                span,
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
