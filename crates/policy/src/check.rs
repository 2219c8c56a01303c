//! The text rules: what can be judged from one rendered post on one channel.

use std::collections::BTreeMap;

use crieur_core::{Channel, Diagnostic, Location, Network, Post, Severity};
use serde::Serialize;

use crate::effective::{Effective, effective, effective_for_network};
use crate::length::{BLUESKY_MAX_BYTES, Length};
use crate::render::{
    HashtagUse, MentionReason, PartNotes, RenderContext, Rendered, UtmVars, render_parts,
};
use crate::rules::rule;
use crate::settings::{HashtagStyle, Mention, PolicyConfig};
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

/// One part of a rendering (the text, index 0, or a thread item) as the rules see it.
struct Part<'r> {
    index: usize,
    /// "the text" or "thread item N", for messages.
    name: String,
    network: Network,
    text: &'r str,
    length: &'r Length,
    notes: &'r PartNotes,
}

/// Runs every text rule on `rendered` (the text and each thread item) with the settings `eff`.
///
/// Rules whose severity is `off` emit nothing. Diagnostics come in a stable order: by part,
/// then by rule.
pub fn check_text(rendered: &Rendered, eff: &Effective, meta: &TextMeta<'_>) -> Vec<Diagnostic> {
    let mut out = Out { eff, meta, diags: Vec::new() };
    let texts = std::iter::once(&rendered.text).chain(rendered.thread.iter());
    let lengths = std::iter::once(&rendered.length).chain(rendered.thread_lengths.iter());
    for (index, ((text, length), notes)) in
        texts.zip(lengths).zip(rendered.parts.iter()).enumerate()
    {
        let name = if index == 0 { "the text".to_owned() } else { format!("thread item {index}") };
        let part = Part { index, name, network: rendered.network, text, length, notes };
        length_rule(&mut out, &part);
        empty_rule(&mut out, &part, rendered);
        hashtags_max_rule(&mut out, &part);
        for h in &notes.hashtags {
            hashtags_invalid_rule(&mut out, &part, h);
            hashtags_style_rule(&mut out, &part, h);
            hashtags_banned_rule(&mut out, &part, h);
        }
        mentions_rule(&mut out, &part);
    }
    links_required_rule(&mut out, rendered);
    links_broken_utm_rule(&mut out, rendered);
    open_question_rule(&mut out, rendered);
    out.diags
}

/// `length`: over the limit, or (on X) holding a code point X refuses.
fn length_rule(out: &mut Out<'_, '_>, part: &Part<'_>) {
    let Part { index, name, network, text, length, .. } = part;
    if let Some(limit) = length.limit
        && length.used > limit
    {
        let unit = if *network == Network::X { " (X's weighted count)" } else { "" };
        out.push(
            rule::LENGTH,
            *index,
            format!(
                "{name} is {} long on {network}{unit}, limit {limit}: shorten it by {}",
                length.used,
                length.used - limit
            ),
        );
    }
    if *network == Network::Bluesky && text.len() > BLUESKY_MAX_BYTES {
        out.push(
            rule::LENGTH,
            *index,
            format!(
                "{name} is {} bytes long in UTF-8, and Bluesky takes at most {BLUESKY_MAX_BYTES}: \
                 shorten it by {} bytes",
                text.len(),
                text.len() - BLUESKY_MAX_BYTES
            ),
        );
    }
    if *network == Network::X
        && let Some(c) = text.chars().find(|c| matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}'))
    {
        out.push(
            rule::LENGTH,
            *index,
            format!("{name} holds U+{:04X}, which X refuses: remove it", c as u32),
        );
    }
}

/// `empty`: no text, unless it is a Facebook post whose link travels apart.
fn empty_rule(out: &mut Out<'_, '_>, part: &Part<'_>, rendered: &Rendered) {
    let Part { index, name, network, text, .. } = part;
    let link_apart = *index == 0
        && matches!(*network, Network::Facebook | Network::Bluesky)
        && rendered.link.is_some();
    if text.trim().is_empty() && !link_apart {
        out.push(rule::EMPTY, *index, format!("{name} is empty on {network}: write some text"));
    }
}

/// `hashtags.max`: counts the hashtags the network links.
fn hashtags_max_rule(out: &mut Out<'_, '_>, part: &Part<'_>) {
    let Part { index, name, network, notes, .. } = part;
    let linked =
        notes.hashtags.iter().filter(|h| h.problem != Some(HashtagProblem::NoLetter)).count();
    if let Some(max) = out.eff.max_hashtags
        && linked > max as usize
    {
        out.push(
            rule::HASHTAGS_MAX,
            *index,
            format!(
                "{name} has {linked} hashtags, at most {max} on {network}: remove {}",
                linked - max as usize
            ),
        );
    }
}

/// `hashtags.invalid`: a hashtag the network will not link, or will link only in part.
fn hashtags_invalid_rule(out: &mut Out<'_, '_>, part: &Part<'_>, h: &HashtagUse) {
    let network = part.network;
    let Some(problem) = h.problem else { return };
    let why = match problem {
        HashtagProblem::NoLetter => format!(
            "#{} has no letter, so {network} will not link it: add a word or drop the #",
            h.word
        ),
        HashtagProblem::Joined(c) => format!(
            "#{} will be linked only as #{} on {network} ({c:?} ends a hashtag): remove the {c:?}",
            h.word, h.tag
        ),
    };
    out.push(rule::HASHTAGS_INVALID, part.index, why);
}

/// `hashtags.style`: with `hashtag_style = "CamelCase"`, a linked hashtag must be CamelCase.
fn hashtags_style_rule(out: &mut Out<'_, '_>, part: &Part<'_>, h: &HashtagUse) {
    if out.eff.hashtag_style == HashtagStyle::CamelCase
        && h.problem != Some(HashtagProblem::NoLetter)
        && !is_camel_case(&h.tag)
    {
        out.push(
            rule::HASHTAGS_STYLE,
            part.index,
            format!(
                "#{} is not CamelCase: capitalise each word (#OpenSource, not #opensource or #OPENSOURCE) so screen readers can read it",
                h.tag
            ),
        );
    }
}

/// `hashtags.banned`: the tag (or the word as written) is in `banned_hashtags`, any case,
/// with or without `#`.
fn hashtags_banned_rule(out: &mut Out<'_, '_>, part: &Part<'_>, h: &HashtagUse) {
    let banned = out.eff.banned_hashtags.iter().find(|b| {
        let b = b.strip_prefix('#').unwrap_or(b);
        same_ignoring_case(b, &h.tag) || same_ignoring_case(b, &h.word)
    });
    if let Some(b) = banned {
        let message = format!("#{} is banned by banned_hashtags ({b}): remove it", h.tag);
        out.push(rule::HASHTAGS_BANNED, part.index, message);
    }
}

/// Whether `a` and `b` are equal once lowercased; ASCII pairs are compared without lowering
/// copies (a non-ASCII character may lower to ASCII, as the Kelvin sign does, so any other pair
/// is lowered in full).
fn same_ignoring_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// `mentions.unresolved`: each mention rendering noticed the network cannot express.
fn mentions_rule(out: &mut Out<'_, '_>, part: &Part<'_>) {
    let network = part.network;
    for m in &part.notes.mentions {
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
            (MentionReason::MissingForNetwork, Network::Mastodon) => format!(
                "@{} has no Mastodon account: add mastodon = \"@user@server\" to [mentions.{}] (the plain name is sent meanwhile)",
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
        out.push(rule::MENTIONS_UNRESOLVED, part.index, message);
    }
}

/// `links.required`: a post of a category in `require_link_for` has a link, apart or in a text.
fn links_required_rule(out: &mut Out<'_, '_>, rendered: &Rendered) {
    let Some(cat) = out.meta.category else { return };
    let has_link = rendered.link.is_some() || rendered.parts.iter().any(|p| p.links_in_text > 0);
    if !has_link && out.eff.require_link_for.iter().any(|c| c == cat) {
        out.push(
            rule::LINKS_REQUIRED,
            0,
            format!("posts in category {cat:?} must cite a source: add a link"),
        );
    }
}

/// `links.broken_utm`: each `utm_` parameter of the link that crieur would set otherwise.
fn links_broken_utm_rule(out: &mut Out<'_, '_>, rendered: &Rendered) {
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
}

/// `engagement.open_question`: some part asks a question or invites a reply.
fn open_question_rule(out: &mut Out<'_, '_>, rendered: &Rendered) {
    if !rendered.parts.iter().any(|p| p.open) {
        out.push(
            rule::ENGAGEMENT_OPEN_QUESTION,
            0,
            "the post neither asks a question nor invites a reply: end with a question".to_owned(),
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
pub fn check_post(
    post: &Post,
    channel: &Channel,
    rendered: &Rendered,
    eff: &Effective,
) -> Vec<Diagnostic> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::settings::{PolicyLayer, Utm};
    use crate::testing::{channel, mentions, post, thread_item};

    fn rules_of(diags: &[Diagnostic]) -> Vec<(String, Severity)> {
        diags.iter().map(|d| (d.rule.clone(), d.severity)).collect()
    }

    fn one(text: &str, network: Network, policy: &PolicyConfig) -> Vec<(String, Severity)> {
        rules_of(&check_one(text, network, None, policy, &mentions()).diagnostics)
    }

    fn has(found: &[(String, Severity)], id: &str, severity: Severity) -> bool {
        found.iter().any(|(r, s)| r == id && *s == severity)
    }

    fn fires(text: &str, network: Network, id: &str) -> bool {
        one(text, network, &PolicyConfig::default()).iter().any(|(r, _)| r == id)
    }

    #[test]
    fn a_clean_text_passes_everywhere() {
        for n in Network::ALL {
            let r = check_one(
                "Welcome to our new colleagues in Lyon! #Hiring",
                n,
                None,
                &PolicyConfig::default(),
                &mentions(),
            );
            assert!(r.diagnostics.is_empty(), "{n}: {:?}", r.diagnostics);
            assert!(r.valid);
        }
    }

    #[test]
    fn length() {
        let long = "a".repeat(281);
        assert!(fires(&long, Network::X, rule::LENGTH));
        assert!(!fires(&"a".repeat(280), Network::X, rule::LENGTH));
        // CJK weighs 2 on X but 1 on LinkedIn.
        assert!(fires(&"字".repeat(141), Network::X, rule::LENGTH));
        assert!(!fires(&"字".repeat(141), Network::Linkedin, rule::LENGTH));
        assert!(fires(&"a".repeat(3001), Network::Linkedin, rule::LENGTH));
        assert!(fires("bad \u{FFFF}", Network::X, rule::LENGTH));
        let r = check_one(&long, Network::X, None, &PolicyConfig::default(), &mentions());
        assert!(!r.valid);
        assert_eq!(r.length, Length { used: 281, limit: Some(280) });
        assert!(
            r.diagnostics[0].message.contains("shorten it by 1"),
            "{}",
            r.diagnostics[0].message
        );
        // A paid account's channel allows more.
        let mut paid = channel("paid-x", Network::X);
        paid.max_length = Some(25_000);
        let r = check_one(&long, Network::X, Some(&paid), &PolicyConfig::default(), &mentions());
        assert!(r.valid);
        // Severity override on the network layer.
        let mut p = PolicyConfig::default();
        let mut layer = PolicyLayer::default();
        layer.rules.insert(rule::LENGTH.into(), Severity::Warning);
        p.networks.insert(Network::X, layer);
        assert!(has(&one(&long, Network::X, &p), rule::LENGTH, Severity::Warning));
        assert!(check_one(&long, Network::X, None, &p, &mentions()).valid);
    }

    #[test]
    fn empty() {
        assert!(fires("   ", Network::X, rule::EMPTY));
        assert!(fires("", Network::Webhook, rule::EMPTY));
        assert!(!fires("x", Network::X, rule::EMPTY));
        // Facebook may post a link alone; X may not post nothing.
        let mut p = post("p1", "");
        p.link = Some("https://example.com".into());
        let diags = |n: Network| {
            let ch = channel("c", n);
            let eff = effective(&PolicyConfig::default(), &ch);
            let m = mentions();
            let r = render(&p, &ch, &RenderContext::new(&m, &eff));
            rules_of(&check_post(&p, &ch, &r, &eff))
        };
        assert!(!diags(Network::Facebook).iter().any(|(r, _)| r == rule::EMPTY));
        assert!(!diags(Network::X).iter().any(|(r, _)| r == rule::EMPTY));
        let mut p2 = post("p2", "ok");
        p2.thread = vec![thread_item(" ", 7)];
        let ch = channel("c", Network::X);
        let eff = effective(&PolicyConfig::default(), &ch);
        let m = mentions();
        let r = render(&p2, &ch, &RenderContext::new(&m, &eff));
        let d = check_post(&p2, &ch, &r, &eff);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].rule, rule::EMPTY);
        assert_eq!(d[0].location.as_ref().map(|l| l.line), Some(7), "located on the thread item");
    }

    #[test]
    fn hashtags_max_by_network_and_layers() {
        let three = "News #One #Two #Three";
        assert!(fires(three, Network::X, rule::HASHTAGS_MAX));
        assert!(!fires(three, Network::Facebook, rule::HASHTAGS_MAX));
        assert!(!fires(three, Network::Linkedin, rule::HASHTAGS_MAX));
        assert!(!fires(&format!("{three} #A4 #B5 #C6 #D7"), Network::Webhook, rule::HASHTAGS_MAX));
        assert!(fires("#A #B #C #D #E #F", Network::Linkedin, rule::HASHTAGS_MAX));
        // Digits-only tags are not hashtags for the count.
        assert!(!fires("#One #Two #2024", Network::X, rule::HASHTAGS_MAX));
        let mut p = PolicyConfig::default();
        p.base.max_hashtags = Some(1);
        assert!(has(
            &one("#One #Two", Network::Linkedin, &p),
            rule::HASHTAGS_MAX,
            Severity::Warning
        ));
        p.networks
            .insert(Network::Linkedin, PolicyLayer { max_hashtags: Some(4), ..Default::default() });
        assert!(one("#One #Two", Network::Linkedin, &p).is_empty());
        let mut ch_layer = PolicyLayer::default();
        ch_layer.rules.insert(rule::HASHTAGS_MAX.into(), Severity::Error);
        p.channels.insert("company-x".into(), ch_layer);
        let cx = channel("company-x", Network::X);
        let d = check_one("#One #Two", Network::X, Some(&cx), &p, &mentions());
        assert!(has(&rules_of(&d.diagnostics), rule::HASHTAGS_MAX, Severity::Error));
        assert!(!d.valid);
        assert_eq!(d.diagnostics[0].channel.as_deref(), Some("company-x"));
    }

    #[test]
    fn hashtags_style() {
        assert!(fires("Hi #opensource", Network::X, rule::HASHTAGS_STYLE));
        assert!(fires("Hi #OPENSOURCE", Network::X, rule::HASHTAGS_STYLE));
        assert!(!fires("Hi #OpenSource", Network::X, rule::HASHTAGS_STYLE));
        assert!(!fires("Hi #NASA #AI #COP28 #日本", Network::Linkedin, rule::HASHTAGS_STYLE));
        assert!(
            is_camel_case("Rust2024") && is_camel_case("2024Recap") && !is_camel_case("rustLang")
        );
        let mut p = PolicyConfig::default();
        p.base.hashtag_style = Some(HashtagStyle::Any);
        assert!(one("Hi #opensource", Network::X, &p).is_empty());
        let mut p = PolicyConfig::default();
        p.base.rules.insert(rule::HASHTAGS_STYLE.into(), Severity::Off);
        assert!(one("Hi #opensource", Network::X, &p).is_empty());
    }

    #[test]
    fn hashtags_banned() {
        let mut p = PolicyConfig::default();
        p.base.banned_hashtags = Some(vec!["#FollowForFollow".into(), "spam".into()]);
        assert!(has(
            &one("Hi #followforfollow", Network::X, &p),
            rule::HASHTAGS_BANNED,
            Severity::Error
        ));
        assert!(has(&one("Hi #Spam", Network::X, &p), rule::HASHTAGS_BANNED, Severity::Error));
        assert!(!one("Hi #Follow", Network::X, &p).iter().any(|(r, _)| r == rule::HASHTAGS_BANNED));
        p.base.rules.insert(rule::HASHTAGS_BANNED.into(), Severity::Warning);
        assert!(has(&one("Hi #Spam", Network::X, &p), rule::HASHTAGS_BANNED, Severity::Warning));
    }

    #[test]
    fn hashtags_invalid() {
        assert!(fires("Best of #2024", Network::X, rule::HASHTAGS_INVALID));
        assert!(fires("We love #Open-Source", Network::Linkedin, rule::HASHTAGS_INVALID));
        assert!(!fires("We love #OpenSource.", Network::X, rule::HASHTAGS_INVALID));
        assert!(!fires("C# and F# are fine", Network::X, rule::HASHTAGS_INVALID));
        let d = check_one(
            "We love #Open-Source",
            Network::X,
            None,
            &PolicyConfig::default(),
            &mentions(),
        );
        assert!(d.diagnostics[0].message.contains("#Open-Source will be linked only as #Open"));
    }

    #[test]
    fn bluesky_counts_300_graphemes_and_3000_bytes() {
        assert!(!fires(&"é".repeat(300), Network::Bluesky, rule::LENGTH));
        assert!(fires(&"a".repeat(301), Network::Bluesky, rule::LENGTH));
        // 300 graphemes of 11 bytes each (a family emoji): within the graphemes, over the bytes.
        let families = "👨‍👩‍👧".repeat(300);
        assert_eq!(crate::bluesky_length(&families), 300);
        let found =
            check_one(&families, Network::Bluesky, None, &PolicyConfig::default(), &mentions());
        assert!(found.diagnostics.iter().any(|d| d.message.contains("bytes long in UTF-8")));
    }

    #[test]
    fn bluesky_takes_three_hashtags_and_mentions_by_handle() {
        assert!(!fires("#One #Two #Three", Network::Bluesky, rule::HASHTAGS_MAX));
        assert!(fires("#One #Two #Three #Four", Network::Bluesky, rule::HASHTAGS_MAX));
        assert!(!fires("Hi @acme", Network::Bluesky, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @bob", Network::Bluesky, rule::MENTIONS_UNRESOLVED), "no bluesky handle");
        assert!(
            fires("Hi @jack", Network::Bluesky, rule::MENTIONS_UNRESOLVED),
            "not in [mentions]"
        );
        let r =
            check_one("Hi @acme", Network::Bluesky, None, &PolicyConfig::default(), &mentions());
        assert_eq!(r.text, "Hi @acme.bsky.social");
        // A whole handle written in the text needs no entry.
        assert!(!fires("Hi @friend.bsky.social!", Network::Bluesky, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @friend.", Network::Bluesky, rule::MENTIONS_UNRESOLVED));
    }

    #[test]
    fn mentions_unresolved() {
        // X: a configured handle, or a literal valid handle.
        assert!(!fires("Hi @acme and @jack", Network::X, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @big-corp", Network::X, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @bob", Network::X, rule::MENTIONS_UNRESOLVED), "bob has no x handle");
        // LinkedIn: every mention needs a URN.
        assert!(!fires("Hi @acme", Network::Linkedin, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @jack", Network::Linkedin, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @bob", Network::Linkedin, rule::MENTIONS_UNRESOLVED));
        // Facebook: known keys become names; unknown ones are reported; webhooks take text.
        assert!(!fires("Hi @bob", Network::Facebook, rule::MENTIONS_UNRESOLVED));
        assert!(fires("Hi @jack", Network::Facebook, rule::MENTIONS_UNRESOLVED));
        assert!(!fires("Hi @jack", Network::Webhook, rule::MENTIONS_UNRESOLVED));
        // A bad configured handle.
        let mut m = mentions();
        if let Some(e) = m.get_mut("acme") {
            e.x = Some("@acme-corp".into());
        }
        let d = check_one("Hi @acme", Network::X, None, &PolicyConfig::default(), &m);
        assert_eq!(
            rules_of(&d.diagnostics),
            [(rule::MENTIONS_UNRESOLVED.to_owned(), Severity::Error)]
        );
        let mut p = PolicyConfig::default();
        p.networks.insert(Network::Linkedin, PolicyLayer::default());
        if let Some(l) = p.networks.get_mut(&Network::Linkedin) {
            l.rules.insert(rule::MENTIONS_UNRESOLVED.into(), Severity::Warning);
        }
        assert!(has(
            &one("Hi @jack", Network::Linkedin, &p),
            rule::MENTIONS_UNRESOLVED,
            Severity::Warning
        ));
        assert!(has(
            &one("Hi @big-corp", Network::X, &p),
            rule::MENTIONS_UNRESOLVED,
            Severity::Error
        ));
    }

    fn post_rules(p: &Post, network: Network, policy: &PolicyConfig) -> Vec<(String, Severity)> {
        let ch = channel("company", network);
        let eff = effective(policy, &ch);
        let m = mentions();
        let r = render(p, &ch, &RenderContext::new(&m, &eff));
        rules_of(&check_post(p, &ch, &r, &eff))
    }

    #[test]
    fn links_required() {
        let mut policy = PolicyConfig::default();
        policy.base.require_link_for = Some(vec!["expertise".into()]);
        let mut p = post("p1", "Our take on caching.");
        p.category = Some("expertise".into());
        assert!(has(&post_rules(&p, Network::X, &policy), rule::LINKS_REQUIRED, Severity::Warning));
        p.link = Some("https://example.com/study".into());
        assert!(
            !post_rules(&p, Network::X, &policy).iter().any(|(r, _)| r == rule::LINKS_REQUIRED)
        );
        let mut q = post("p2", "Our take, from example.com/study");
        q.category = Some("expertise".into());
        assert!(post_rules(&q, Network::X, &policy).is_empty(), "a link in the text counts");
        p.link = None;
        p.category = Some("hr".into());
        assert!(post_rules(&p, Network::X, &policy).is_empty());
        p.category = Some("expertise".into());
        let mut layer = PolicyLayer::default();
        layer.rules.insert(rule::LINKS_REQUIRED.into(), Severity::Error);
        policy.channels.insert("company".into(), layer);
        assert!(has(&post_rules(&p, Network::X, &policy), rule::LINKS_REQUIRED, Severity::Error));
    }

    #[test]
    fn links_broken_utm() {
        let policy = PolicyConfig::default();
        let mut p = post("p1", "Read this");
        p.link = Some("https://example.com/?utm_source=newsletter".into());
        let found = post_rules(&p, Network::X, &policy);
        assert!(has(&found, rule::LINKS_BROKEN_UTM, Severity::Error));
        p.link = Some("https://example.com/?utm_source=x".into());
        assert!(post_rules(&p, Network::X, &policy).is_empty());
        p.link = Some("https://example.com/?utm_source=newsletter".into());
        let mut off = PolicyConfig::default();
        off.base.utm = Some(Utm::Off);
        assert!(post_rules(&p, Network::X, &off).is_empty(), "nothing to conflict with");
        let mut lenient = PolicyConfig::default();
        let mut layer = PolicyLayer::default();
        layer.rules.insert(rule::LINKS_BROKEN_UTM.into(), Severity::Warning);
        lenient.networks.insert(Network::X, layer);
        assert!(has(
            &post_rules(&p, Network::X, &lenient),
            rule::LINKS_BROKEN_UTM,
            Severity::Warning
        ));
    }

    #[test]
    fn engagement_open_question_is_off_by_default() {
        assert!(!fires("We moved.", Network::X, rule::ENGAGEMENT_OPEN_QUESTION));
        let mut p = PolicyConfig::default();
        p.base.rules.insert(rule::ENGAGEMENT_OPEN_QUESTION.into(), Severity::Warning);
        assert!(has(
            &one("We moved.", Network::X, &p),
            rule::ENGAGEMENT_OPEN_QUESTION,
            Severity::Warning
        ));
        assert!(one("We moved. What do you think", Network::X, &p).is_empty());
        assert!(one("On a déménagé. Dites-nous ce que vous en pensez", Network::X, &p).is_empty());
        assert!(one("We moved! Where should we eat?", Network::X, &p).is_empty());
        // A question mark inside a link is not a question.
        assert!(!one("We moved: https://example.com/?q=1", Network::X, &p).is_empty());
    }

    #[test]
    fn thread_items_are_checked_and_located() {
        let mut p = post("p1", "1/ Short");
        p.thread = vec![thread_item(&"b".repeat(300), 12), thread_item("3/ #a #b #c", 13)];
        let ch = channel("company-x", Network::X);
        let eff = effective(&PolicyConfig::default(), &ch);
        let m = mentions();
        let r = render(&p, &ch, &RenderContext::new(&m, &eff));
        let d = check_post(&p, &ch, &r, &eff);
        let got: Vec<_> =
            d.iter().map(|d| (d.rule.as_str(), d.location.as_ref().map(|l| l.line))).collect();
        assert!(got.contains(&(rule::LENGTH, Some(12))), "{got:?}");
        assert!(got.contains(&(rule::HASHTAGS_MAX, Some(13))), "{got:?}");
        assert!(got.contains(&(rule::HASHTAGS_STYLE, Some(13))), "{got:?}");
        assert!(
            d.iter()
                .all(|d| d.post.as_deref() == Some("p1")
                    && d.channel.as_deref() == Some("company-x"))
        );
        assert_eq!(
            d[0].to_string(),
            format!("posts/q.toml:12:8: error[length]: {} (post p1 on company-x)", d[0].message)
        );
    }

    #[test]
    fn check_json_has_the_contract_keys() {
        let r = check_one(
            "Hi @acme #opensource",
            Network::Linkedin,
            None,
            &PolicyConfig::default(),
            &mentions(),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["text"],
            "Hi @[Acme \\(Lyon\\)](urn:li:organization:2414183) {hashtag|\\#|opensource}"
        );
        assert_eq!(v["length"]["limit"], 3000);
        assert_eq!(v["length"]["used"], r.text.encode_utf16().count());
        assert_eq!(v["valid"], true);
        assert_eq!(v["diagnostics"][0]["rule"], "hashtags.style");
        assert_eq!(v["diagnostics"][0]["severity"], "warning");
    }

    #[test]
    fn case_is_ignored_as_lowercasing_would() {
        for (a, b, same) in [
            ("OpenSource", "opensource", true),
            ("Open", "opensource", false),
            ("\u{212A}ube", "kube", true),
            ("ÉTÉ", "été", true),
            ("été", "ete", false),
        ] {
            assert_eq!(same_ignoring_case(a, b), same, "{a} {b}");
            assert_eq!(same, a.to_lowercase() == b.to_lowercase(), "{a} {b}");
        }
    }
}
