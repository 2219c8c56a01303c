//! The text rules: what can be judged from one rendered post on one channel.

use std::collections::BTreeMap;

use crieur_config::{HashtagStyle, Mention, PolicyConfig};
use crieur_core::{Channel, Diagnostic, Location, Network, Post, Severity};
use serde::Serialize;

use crate::effective::{Effective, effective, effective_for_network, rule};
use crate::length::Length;
use crate::render::{MentionReason, RenderContext, Rendered, UtmVars, render_parts};
use crate::text::HashtagProblem;

/// Who a rendered text belongs to and where its parts are written, for diagnostics.
#[derive(Debug, Clone, Default)]
pub struct TextMeta<'a> {
    /// The post id, if the text is a post's.
    pub post: Option<&'a str>,
    /// The channel name, if any.
    pub channel: Option<&'a str>,
    /// The post's category (for `links.required`).
    pub category: Option<&'a str>,
    /// Where the text (index 0) and each thread item (index i + 1) are written.
    pub locations: Vec<Option<Location>>,
}

impl<'a> TextMeta<'a> {
    /// The meta of `post` on `channel`: the variant's location when the variant replaces the
    /// text or the thread, else the post's `text_location` and thread item locations.
    pub fn for_post(post: &'a Post, channel: &'a Channel) -> Self {
        let variant = post.variant_for(&channel.name, channel.network);
        let text_location = match variant {
            Some(v) if v.text.is_some() => v.location.clone(),
            _ => post.text_location.clone(),
        };
        let thread = variant.and_then(|v| v.thread.as_ref()).unwrap_or(&post.thread);
        let mut locations = vec![Some(text_location)];
        locations.extend(thread.iter().map(|t| Some(t.location.clone())));
        TextMeta {
            post: Some(&post.id),
            channel: Some(&channel.name),
            category: post.category.as_deref(),
            locations,
        }
    }

    fn location(&self, part: usize) -> Option<Location> {
        self.locations.get(part).cloned().flatten()
    }
}

struct Out<'e, 'm> {
    eff: &'e Effective,
    meta: &'m TextMeta<'m>,
    diags: Vec<Diagnostic>,
}

impl Out<'_, '_> {
    fn push(&mut self, id: &str, part: usize, message: String) {
        let severity = self.eff.severity(id);
        if severity == Severity::Off {
            return;
        }
        self.diags.push(Diagnostic {
            rule: id.to_owned(),
            severity,
            message,
            post: self.meta.post.map(str::to_owned),
            channel: self.meta.channel.map(str::to_owned),
            location: self.meta.location(part),
        });
    }
}

fn part_name(part: usize) -> String {
    if part == 0 { "the text".to_owned() } else { format!("thread item {part}") }
}

/// Runs every text rule on `rendered` (the text and each thread item) with the settings `eff`.
///
/// Rules whose severity is `off` emit nothing. Diagnostics come in a stable order: by part,
/// then by rule.
pub fn check_text(rendered: &Rendered, eff: &Effective, meta: &TextMeta<'_>) -> Vec<Diagnostic> {
    let mut out = Out { eff, meta, diags: Vec::new() };
    let network = rendered.network;
    let texts = std::iter::once(&rendered.text).chain(rendered.thread.iter());
    let lengths = std::iter::once(&rendered.length).chain(rendered.thread_lengths.iter());
    for (part, ((text, length), notes)) in texts.zip(lengths).zip(rendered.parts.iter()).enumerate() {
        let name = part_name(part);
        length_rule(&mut out, part, &name, network, text, length);
        let link_apart = part == 0 && network == Network::Facebook && rendered.link.is_some();
        if text.trim().is_empty() && !link_apart {
            out.push(rule::EMPTY, part, format!("{name} is empty on {network}: write some text"));
        }
        let linked: Vec<_> = notes
            .hashtags
            .iter()
            .filter(|h| h.problem != Some(HashtagProblem::NoLetter))
            .collect();
        if let Some(max) = eff.max_hashtags
            && linked.len() > max as usize {
                out.push(
                    rule::HASHTAGS_MAX,
                    part,
                    format!(
                        "{name} has {} hashtags, at most {max} on {network}: remove {}",
                        linked.len(),
                        linked.len() - max as usize
                    ),
                );
            }
        for h in &notes.hashtags {
            if let Some(problem) = h.problem {
                let why = match problem {
                    HashtagProblem::NoLetter => {
                        format!("#{} has no letter, so {network} will not link it: add a word or drop the #", h.word)
                    }
                    HashtagProblem::Joined(c) => format!(
                        "#{} will be linked only as #{} on {network} ({c:?} ends a hashtag): remove the {c:?}",
                        h.word, h.tag
                    ),
                };
                out.push(rule::HASHTAGS_INVALID, part, why);
            }
            if eff.hashtag_style == HashtagStyle::CamelCase
                && h.problem != Some(HashtagProblem::NoLetter)
                && !is_camel_case(&h.tag)
            {
                out.push(
                    rule::HASHTAGS_STYLE,
                    part,
                    format!(
                        "#{} is not CamelCase: capitalise each word (#OpenSource, not #opensource or #OPENSOURCE) so screen readers can read it",
                        h.tag
                    ),
                );
            }
            let banned = eff.banned_hashtags.iter().find(|b| {
                let b = b.strip_prefix('#').unwrap_or(b);
                b.to_lowercase() == h.tag.to_lowercase() || b.to_lowercase() == h.word.to_lowercase()
            });
            if let Some(b) = banned {
                out.push(
                    rule::HASHTAGS_BANNED,
                    part,
                    format!("#{} is banned by banned_hashtags ({b}): remove it", h.tag),
                );
            }
        }
        for m in &notes.mentions {
            let message = match (&m.reason, network) {
                (MentionReason::Unknown, Network::X) => format!(
                    "@{} is not in [mentions] and is not an X handle (1-15 letters, digits or _): add [mentions.{}] with x = \"@handle\"",
                    m.key, m.key
                ),
                (MentionReason::Unknown, _) => format!(
                    "@{} is not in [mentions], so {network} cannot mention it: add [mentions.{}] with its {network} entry, or write the name without @",
                    m.key, m.key
                ),
                (MentionReason::MissingForNetwork, Network::Linkedin) => format!(
                    "@{} has no LinkedIn URN: add linkedin = \"urn:li:organization:...\" to [mentions.{}]",
                    m.key, m.key
                ),
                (MentionReason::MissingForNetwork, _) => format!(
                    "@{} has no {network} handle: add {network} = \"@handle\" to [mentions.{}] (the plain name is sent meanwhile)",
                    m.key, m.key
                ),
                (MentionReason::BadHandle(h), _) => format!(
                    "the X handle {h:?} of [mentions.{}] is not valid (1-15 letters, digits or _): correct it",
                    m.key
                ),
            };
            out.push(rule::MENTIONS_UNRESOLVED, part, message);
        }
    }
    if let Some(cat) = meta.category {
        let has_link = rendered.link.is_some() || rendered.parts.iter().any(|p| p.links_in_text > 0);
        if !has_link && eff.require_link_for.iter().any(|c| c == cat) {
            out.push(
                rule::LINKS_REQUIRED,
                0,
                format!("posts in category {cat:?} must cite a source: add a link"),
            );
        }
    }
    for c in &rendered.utm_conflicts {
        out.push(
            rule::LINKS_BROKEN_UTM,
            0,
            format!(
                "the link already has {}={:?} where crieur would set {:?}: remove it from the link or set utm in [policy]",
                c.param, c.found, c.wanted
            ),
        );
    }
    if !rendered.parts.iter().any(|p| p.open) {
        out.push(
            rule::ENGAGEMENT_OPEN_QUESTION,
            0,
            "the post neither asks a question nor invites a reply: end with a question".to_owned(),
        );
    }
    out.diags
}

fn length_rule(out: &mut Out<'_, '_>, part: usize, name: &str, network: Network, text: &str, length: &Length) {
    if let Some(limit) = length.limit
        && length.used > limit {
            let unit = if network == Network::X { " (X's weighted count)" } else { "" };
            out.push(
                rule::LENGTH,
                part,
                format!(
                    "{name} is {} long on {network}{unit}, limit {limit}: shorten it by {}",
                    length.used,
                    length.used - limit
                ),
            );
        }
    if network == Network::X
        && let Some(c) = text.chars().find(|c| matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')) {
            out.push(
                rule::LENGTH,
                part,
                format!("{name} holds U+{:04X}, which X refuses: remove it", c as u32),
            );
        }
}

/// `hashtags.style = "CamelCase"`: the first cased letter is uppercase, and the tag has a
/// lowercase letter unless it is an acronym of at most 5 cased letters (`#AI`, `#NASA`,
/// `#COP28`). A tag without cased letters (`#日本`, `#2024`) passes.
pub fn is_camel_case(tag: &str) -> bool {
    let cased: Vec<char> = tag.chars().filter(|c| c.is_uppercase() || c.is_lowercase()).collect();
    let Some(first) = cased.first() else { return true };
    first.is_uppercase() && (cased.iter().any(|c| c.is_lowercase()) || cased.len() <= 5)
}

/// Checks `rendered` (a rendering of `post` on `channel`) with the text rules, each
/// diagnostic located in the post file (the text, the variant or the thread item).
pub fn check_post(post: &Post, channel: &Channel, rendered: &Rendered, eff: &Effective) -> Vec<Diagnostic> {
    check_text(rendered, eff, &TextMeta::for_post(post, channel))
}

/// What `crieur check` prints (`--format json`: these keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The rendered text, exactly as the network would receive it.
    pub text: String,
    /// Its length (X: the weighted length) and limit.
    pub length: Length,
    /// No diagnostic of severity `error`.
    pub valid: bool,
    /// Every diagnostic of the text rules.
    pub diagnostics: Vec<Diagnostic>,
}

/// Renders `text` for `network` (or for `channel`, whose network then wins) and runs the text
/// rules on it, with `policy` and `mentions` (both may be empty: the built-in defaults apply).
///
/// There is no link, category or thread: `links.required` cannot fire, and the text is
/// rendered as written otherwise (mentions translated, LinkedIn escaping).
pub fn check_one(
    text: &str,
    network: Network,
    channel: Option<&Channel>,
    policy: &PolicyConfig,
    mentions: &BTreeMap<String, Mention>,
) -> CheckResult {
    let (eff, network, name) = match channel {
        Some(c) => (effective(policy, c), c.network, c.name.as_str()),
        None => (effective_for_network(policy, network), network, network.as_str()),
    };
    let ctx = RenderContext::new(mentions, &eff);
    let vars = UtmVars { network, channel: name, campaign: None, category: None, post: "" };
    let rendered = render_parts(text, None, &[], &vars, &ctx);
    let meta = TextMeta {
        post: None,
        channel: channel.map(|c| c.name.as_str()),
        category: None,
        locations: Vec::new(),
    };
    let diagnostics = check_text(&rendered, &eff, &meta);
    CheckResult {
        valid: !diagnostics.iter().any(|d| d.severity == Severity::Error),
        text: rendered.text,
        length: rendered.length,
        diagnostics,
    }
}
