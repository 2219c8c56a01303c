//! Rendering: the exact text each network receives for a post on a channel.
//!
//! For a post on a channel, [`render`]:
//! 1. takes the channel's variant, else the network's, else the post itself (text, link and
//!    thread each replaced separately);
//! 2. tags the post's `link` with UTM parameters ([`tag_link`]). Links written inside the text
//!    are left exactly as written: they are the author's words and may point anywhere;
//! 3. places the link: where the text says `{link}` (every occurrence, thread items included);
//!    otherwise, on X and LinkedIn, after the text, separated by a space (or nothing when the
//!    text already ends with a line break). On Facebook the link travels apart, in
//!    [`Rendered::link`], and the text holds it only where it says `{link}`. On a webhook the
//!    text is sent as written (with `{link}` replaced) and the link apart;
//! 4. translates `@key` mentions through `[mentions]`: X gets the handle, LinkedIn
//!    `@[Name](urn:li:...)`, Facebook the `facebook` name or else the plain name, a webhook the
//!    plain name. An `@word` that is not a key stays as written (and `check` reports it where
//!    the network cannot express it);
//! 5. on LinkedIn, writes the "little text" format: every reserved character of plain text
//!    (`\ | { } @ [ ] ( ) < > # * _ ~`) escaped with a backslash, hashtags as
//!    `{hashtag|\#|Tag}`, mentions as above with the name escaped;
//! 6. measures the text and every thread item for the network.
//!
//! Rendering is deterministic, total (never fails, never panics) and keeps what it noticed on
//! the way (hashtags, unresolved mentions, conflicting UTM parameters) for the rules.

use std::collections::BTreeMap;

use crieur_core::{Channel, Network, Post};

use crate::effective::Effective;
use crate::length::{Length, measure};
use crate::settings::{Mention, Utm};
use crate::text::{HashtagProblem, LINK_PLACEHOLDER, Tok, is_x_handle, tokenize};

/// What rendering needs besides the post and the channel.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// `[mentions]`, by key.
    pub mentions: &'a BTreeMap<String, Mention>,
    /// The UTM setting in force on the channel.
    pub utm: &'a Utm,
    /// The length limit in force on the channel (`None`: unlimited).
    pub max_length: Option<u32>,
}

impl<'a> RenderContext<'a> {
    /// The context for a channel whose policy is `eff`.
    pub fn new(mentions: &'a BTreeMap<String, Mention>, eff: &'a Effective) -> Self {
        RenderContext { mentions, utm: &eff.utm, max_length: eff.max_length }
    }
}

/// A post rendered for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The channel's network.
    pub network: Network,
    /// The exact text the adapter sends (X `text`, LinkedIn `commentary`, Facebook `message`,
    /// webhook `text`).
    pub text: String,
    /// The tagged link. On Facebook and webhooks it is sent apart (Facebook's `link`); on X
    /// and LinkedIn it is already inside `text`.
    pub link: Option<String>,
    /// The rendered thread items, in order (X sends them as replies).
    pub thread: Vec<String>,
    /// The length of `text` and its limit on this channel.
    pub length: Length,
    /// The length of each thread item.
    pub thread_lengths: Vec<Length>,
    /// What rendering noticed in the text (index 0) and each thread item (index i + 1).
    pub parts: Vec<PartNotes>,
    /// UTM parameters of the link that conflict with the ones crieur would add.
    pub utm_conflicts: Vec<UtmConflict>,
}

/// What rendering noticed in one part (the text or a thread item).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartNotes {
    /// Every hashtag, as written.
    pub hashtags: Vec<HashtagUse>,
    /// Mentions the network cannot express.
    pub mentions: Vec<MentionIssue>,
    /// How many links are written in the text itself.
    pub links_in_text: usize,
    /// The text asks a question or invites a reply.
    pub open: bool,
}

/// One hashtag of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashtagUse {
    /// The part the network links, without `#`.
    pub tag: String,
    /// The whole word as written, without `#`.
    pub word: String,
    /// Why the network would not link it as written, if so.
    pub problem: Option<HashtagProblem>,
}

/// A mention the network cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionIssue {
    /// The key as written after `@`.
    pub key: String,
    /// Why.
    pub reason: MentionReason,
}

/// Why a mention cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MentionReason {
    /// Not a key of `[mentions]` (and, on X, not a valid handle either).
    Unknown,
    /// In `[mentions]` without a handle for this network (`x` or `linkedin`).
    MissingForNetwork,
    /// The `x` handle configured for this key is not a valid handle.
    BadHandle(String),
}

/// A `utm_` parameter already on the link that disagrees with crieur's, or with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtmConflict {
    /// The parameter, e.g. `utm_source`.
    pub param: String,
    /// The value on the link.
    pub found: String,
    /// The value crieur would set (or the other value when the link repeats the parameter).
    pub wanted: String,
}

/// The values UTM templates may use.
#[derive(Debug, Clone, Copy)]
pub struct UtmVars<'a> {
    /// `{network}`.
    pub network: Network,
    /// `{channel}`.
    pub channel: &'a str,
    /// `{campaign}`: the post's campaign, else its category.
    pub campaign: Option<&'a str>,
    /// `{category}`.
    pub category: Option<&'a str>,
    /// `{post}`: the post id.
    pub post: &'a str,
}

/// Renders `post` for `channel` (see the module documentation for every step).
pub fn render(post: &Post, channel: &Channel, ctx: &RenderContext<'_>) -> Rendered {
    let variant = post.variant_for(&channel.name, channel.network);
    let text = variant.and_then(|v| v.text.as_deref()).unwrap_or(&post.text);
    let link = variant.and_then(|v| v.link.as_deref()).or(post.link.as_deref());
    let thread_items = variant.and_then(|v| v.thread.as_ref()).unwrap_or(&post.thread);
    let thread: Vec<&str> = thread_items.iter().map(|t| t.text.as_str()).collect();
    let vars = UtmVars {
        network: channel.network,
        channel: &channel.name,
        campaign: post.campaign.as_deref().or(post.category.as_deref()),
        category: post.category.as_deref(),
        post: &post.id,
    };
    render_parts(text, link, &thread, &vars, ctx)
}

/// Renders a text, its link and thread for `vars.network` (what [`render`] does once it has
/// chosen the variant).
pub fn render_parts(
    text: &str,
    link: Option<&str>,
    thread: &[&str],
    vars: &UtmVars<'_>,
    ctx: &RenderContext<'_>,
) -> Rendered {
    let network = vars.network;
    let (tagged, utm_conflicts) = match link.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => {
            let (t, c) = tag_link(l, ctx.utm, vars);
            (Some(t), c)
        }
        None => (None, Vec::new()),
    };
    let mut parts = Vec::with_capacity(thread.len() + 1);
    let (mut body, notes, placed) = render_one(text, tagged.as_deref(), network, ctx.mentions);
    parts.push(notes);
    if let Some(l) = &tagged
        && !placed
        && matches!(network, Network::X | Network::Linkedin | Network::Mastodon)
    {
        if !(body.is_empty() || body.ends_with('\n')) {
            body.push(' ');
        }
        if network == Network::Linkedin {
            escape_little_text_into(&mut body, l);
        } else {
            body.push_str(l);
        }
    }
    let mut rendered_thread = Vec::with_capacity(thread.len());
    for item in thread {
        let (t, notes, _) = render_one(item, tagged.as_deref(), network, ctx.mentions);
        rendered_thread.push(t);
        parts.push(notes);
    }
    let length = measure(network, &body, ctx.max_length);
    let thread_lengths =
        rendered_thread.iter().map(|t| measure(network, t, ctx.max_length)).collect();
    Rendered {
        network,
        text: body,
        link: tagged,
        thread: rendered_thread,
        length,
        thread_lengths,
        parts,
        utm_conflicts,
    }
}

/// Renders one part; says whether the link was placed (a `{link}` was there).
fn render_one(
    text: &str,
    link: Option<&str>,
    network: Network,
    mentions: &BTreeMap<String, Mention>,
) -> (String, PartNotes, bool) {
    let linkedin = network == Network::Linkedin;
    let plain = |s: &str, out: &mut String| {
        if linkedin {
            escape_little_text_into(out, s);
        } else {
            out.push_str(s);
        }
    };
    // Room for the link, which goes in once (at `{link}`, or after the text on X, LinkedIn and
    // Mastodon), and for a few escapes.
    let mut out = String::with_capacity(text.len() + link.map_or(0, str::len) + 24);
    let mut notes = PartNotes::default();
    let mut placed = false;
    let mut prose = String::with_capacity(text.len());
    let toks = tokenize(text);
    for (i, tok) in toks.iter().cloned().enumerate() {
        match tok {
            Tok::Text(s) => {
                plain(s, &mut out);
                prose.push_str(s);
            }
            Tok::Url(s) => {
                plain(s, &mut out);
                notes.links_in_text += 1;
            }
            Tok::LinkPlaceholder => match link {
                Some(l) => {
                    plain(l, &mut out);
                    placed = true;
                }
                None => plain(LINK_PLACEHOLDER, &mut out),
            },
            Tok::Hashtag { tag, word, problem } => {
                if linkedin && problem != Some(HashtagProblem::NoLetter) {
                    out.push_str("{hashtag|\\#|");
                    escape_little_text_into(&mut out, tag);
                    out.push('}');
                } else {
                    plain("#", &mut out);
                    plain(tag, &mut out);
                }
                prose.push('#');
                prose.push_str(tag);
                notes.hashtags.push(HashtagUse {
                    tag: tag.to_owned(),
                    word: word.to_owned(),
                    problem,
                });
            }
            // A whole Bluesky handle written in the text (`@acme.bsky.social`) is sent as it is.
            Tok::Mention { key }
                if network == Network::Bluesky
                    && lookup(key, mentions).is_none()
                    && matches!(toks.get(i + 1), Some(Tok::Text(rest)) if continues_handle(rest)) =>
            {
                out.push('@');
                out.push_str(key);
                prose.push('@');
                prose.push_str(key);
            }
            Tok::Mention { key } => {
                let (rendered, issue) = mention(key, network, mentions);
                out.push_str(&rendered);
                prose.push_str(&rendered);
                if let Some(reason) = issue {
                    notes.mentions.push(MentionIssue { key: key.to_owned(), reason });
                }
            }
        }
    }
    notes.open = invites_reply(prose);
    (out, notes, placed)
}

/// Whether `rest`, the text right after an `@key`, goes on with the labels of a domain name
/// (`.bsky.social`), the last one starting with a letter.
fn continues_handle(rest: &str) -> bool {
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    let domain = rest[..end].trim_end_matches(['.', '-']);
    domain.strip_prefix('.').is_some_and(|d| {
        let labels: Vec<&str> = d.split('.').collect();
        labels.iter().all(|l| !l.is_empty())
            && labels.last().is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
    })
}

fn lookup<'m>(key: &str, mentions: &'m BTreeMap<String, Mention>) -> Option<&'m Mention> {
    mentions
        .get(key)
        .or_else(|| mentions.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, m)| m))
}

/// A mention rendered for `network`, and why it cannot be expressed there, if so.
fn mention(
    key: &str,
    network: Network,
    mentions: &BTreeMap<String, Mention>,
) -> (String, Option<MentionReason>) {
    let entry = lookup(key, mentions);
    match (network, entry) {
        (Network::X, Some(m)) => match m.x.as_deref() {
            Some(h) => {
                let handle = h.strip_prefix('@').unwrap_or(h);
                let issue = (!is_x_handle(handle)).then(|| MentionReason::BadHandle(h.to_owned()));
                (format!("@{handle}"), issue)
            }
            None => (m.name.clone(), Some(MentionReason::MissingForNetwork)),
        },
        (Network::X, None) => {
            let issue = (!is_x_handle(key)).then_some(MentionReason::Unknown);
            (format!("@{key}"), issue)
        }
        (Network::Linkedin, Some(m)) => match m.linkedin.as_deref() {
            Some(urn) => (format!("@[{}]({urn})", escape_little_text(&m.name)), None),
            None => (escape_little_text(&m.name), Some(MentionReason::MissingForNetwork)),
        },
        (Network::Linkedin, None) => {
            (escape_little_text(&format!("@{key}")), Some(MentionReason::Unknown))
        }
        (Network::Facebook, Some(m)) => {
            (m.facebook.clone().unwrap_or_else(|| m.name.clone()), None)
        }
        (Network::Facebook, None) => (format!("@{key}"), Some(MentionReason::Unknown)),
        (Network::Mastodon, Some(m)) => match m.mastodon.as_deref() {
            Some(h) => (format!("@{}", h.strip_prefix('@').unwrap_or(h)), None),
            None => (m.name.clone(), Some(MentionReason::MissingForNetwork)),
        },
        // A bare `@key` would mention whoever holds that name on the account's own server.
        (Network::Mastodon, None) => (format!("@{key}"), Some(MentionReason::Unknown)),
        (Network::Bluesky, Some(m)) => match m.bluesky.as_deref() {
            Some(h) => (format!("@{}", h.strip_prefix('@').unwrap_or(h)), None),
            None => (m.name.clone(), Some(MentionReason::MissingForNetwork)),
        },
        // A key holds no dot, so it is never a whole Bluesky handle by itself.
        (Network::Bluesky, None) => (format!("@{key}"), Some(MentionReason::Unknown)),
        (Network::Webhook, Some(m)) => (m.name.clone(), None),
        (Network::Webhook, None) => (format!("@{key}"), None),
    }
}

/// The characters LinkedIn's little text format reserves.
pub const LINKEDIN_RESERVED: &[char] =
    &['\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~'];

/// [`LINKEDIN_RESERVED`] as a table of bytes (every reserved character is ASCII).
const RESERVED_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < LINKEDIN_RESERVED.len() {
        table[LINKEDIN_RESERVED[i] as usize] = true;
        i += 1;
    }
    table
};

/// Escapes every reserved character of LinkedIn's little text format with a backslash.
pub fn escape_little_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_little_text_into(&mut out, s);
    out
}

/// [`escape_little_text`], appended to `out`.
fn escape_little_text_into(out: &mut String, s: &str) {
    // Every reserved character is ASCII, so the text is copied a run at a time, from one
    // reserved byte (never inside a UTF-8 sequence) to the next.
    let mut rest = s;
    while let Some(at) = rest.bytes().position(|b| RESERVED_BYTES[usize::from(b)]) {
        out.push_str(&rest[..at]);
        out.push('\\');
        out.push_str(&rest[at..=at]);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Whether the text asks a question (`?`, `？`, `¿`, `؟` outside links) or invites a reply
/// ("let us know", "what do you think", "dites-nous"... in English or French).
fn invites_reply(mut prose: String) -> bool {
    if prose.contains(['?', '？', '¿', '؟']) {
        return true;
    }
    // Lowered in place when ASCII (the common case): the same result without a second string.
    if prose.is_ascii() {
        prose.make_ascii_lowercase();
    } else {
        prose = prose.to_lowercase();
    }
    // One pass over the text, trying the phrases only where one may start: what `contains`
    // for each phrase answers, without a search per phrase.
    let bytes = prose.as_bytes();
    (0..bytes.len()).filter(|&i| STARTS_AN_INVITATION[usize::from(bytes[i])]).any(|i| {
        let rest = &bytes[i..];
        // Every phrase has two bytes or more: the first two are compared before the rest.
        INVITATIONS
            .iter()
            .map(|p| p.as_bytes())
            .any(|p| rest.len() >= p.len() && rest[..2] == p[..2] && rest[..p.len()] == *p)
    })
}

/// Phrases that invite a reply, lowercase.
const INVITATIONS: &[&str] = &[
    "tell us",
    "let us know",
    "let me know",
    "share your",
    "what do you think",
    "your thoughts",
    "comment below",
    "reply",
    "dites-nous",
    "dis-nous",
    "partagez",
    "qu'en pensez-vous",
    "qu’en pensez-vous",
    "votre avis",
    "racontez-nous",
    "répondez",
];

/// The first bytes of [`INVITATIONS`], as a table.
const STARTS_AN_INVITATION: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < INVITATIONS.len() {
        table[INVITATIONS[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    table
};

/// `template` with each placeholder replaced, one after the other (a value that holds a later
/// placeholder has it replaced too); a placeholder the text does not hold costs no copy.
fn fill(template: &str, vars: &UtmVars<'_>) -> String {
    let mut out = template.to_owned();
    for (placeholder, value) in [
        ("{network}", vars.network.as_str()),
        ("{channel}", vars.channel),
        ("{campaign}", vars.campaign.unwrap_or("")),
        ("{category}", vars.category.unwrap_or("")),
        ("{post}", vars.post),
    ] {
        if out.contains(placeholder) {
            out = out.replace(placeholder, value);
        }
    }
    out
}

/// Adds `utm_source`, `utm_medium` and `utm_campaign` to `link` (templates filled from
/// `vars`; an empty value is left out), keeping its query and fragment as written.
///
/// A parameter already present with the same value is not repeated; one present with another
/// value is kept as written and reported as a conflict, as is a `utm_` parameter the link
/// repeats with different values. [`Utm::Off`] adds nothing.
pub fn tag_link(link: &str, utm: &Utm, vars: &UtmVars<'_>) -> (String, Vec<UtmConflict>) {
    let (before_fragment, fragment) = match link.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (link, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let existing: Vec<(String, String)> = query
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut conflicts = Vec::new();
    for (i, (k, v)) in existing.iter().enumerate() {
        if k.starts_with("utm_")
            && let Some((_, other)) = existing[..i].iter().find(|(k2, v2)| k2 == k && v2 != v)
        {
            conflicts.push(UtmConflict {
                param: k.clone(),
                found: other.clone(),
                wanted: v.clone(),
            });
        }
    }
    let Utm::Tags { source, medium, campaign } = utm else {
        return (link.to_owned(), conflicts);
    };
    let mut added = String::new();
    for (param, template) in
        [("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)]
    {
        let value = fill(template, vars);
        if value.is_empty() {
            continue;
        }
        let present: Vec<&String> =
            existing.iter().filter(|(k, _)| k == param).map(|(_, v)| v).collect();
        if present.is_empty() {
            if !added.is_empty() {
                added.push('&');
            }
            added.push_str(param);
            added.push('=');
            added.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
        } else if !present.iter().any(|v| **v == value) {
            conflicts.push(UtmConflict {
                param: param.to_owned(),
                found: present[0].clone(),
                wanted: value,
            });
        }
    }
    if added.is_empty() {
        return (link.to_owned(), conflicts);
    }
    let mut out = String::with_capacity(link.len() + 64);
    out.push_str(base);
    out.push('?');
    if let Some(q) = query {
        out.push_str(q);
        if !q.is_empty() && !q.ends_with('&') {
            out.push('&');
        }
    }
    out.push_str(&added);
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    (out, conflicts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::effective::{default_utm, effective};
    use crate::settings::PolicyConfig;
    use crate::testing::{channel, mentions, post, thread_item};
    use crieur_core::Variant;

    proptest::proptest! {
        #[test]
        fn escaping_a_run_at_a_time_escapes_each_reserved_character(s in "[a-zé\\\\|{}@\\[\\]()<>#*_~ ]{0,30}") {
            let mut each = String::new();
            for c in s.chars() {
                if LINKEDIN_RESERVED.contains(&c) {
                    each.push('\\');
                }
                each.push(c);
            }
            proptest::prop_assert_eq!(escape_little_text(&s), each);
        }
    }

    #[test]
    fn every_invitation_is_found_in_any_case_and_anywhere() {
        for p in INVITATIONS {
            assert!(p.len() >= 2, "{p}: the search compares the first two bytes first");
            for text in [p.to_string(), format!("So, {}!", p.to_uppercase()), format!("x{p}x")] {
                assert!(invites_reply(text.clone()), "{text}");
            }
        }
        for text in ["Our new office opens.", "Tell", "RÉPONDE", "dis nous", ""] {
            assert!(!invites_reply(text.to_owned()), "{text}");
        }
    }

    fn render_on(p: &Post, network: Network) -> Rendered {
        let ch = channel(&format!("company-{network}"), network);
        let eff = effective(&PolicyConfig::default(), &ch);
        let m = mentions();
        render(p, &ch, &RenderContext::new(&m, &eff))
    }

    fn vars() -> UtmVars<'static> {
        UtmVars {
            network: Network::X,
            channel: "company-x",
            campaign: Some("launch"),
            category: Some("hr"),
            post: "p1",
        }
    }

    #[test]
    fn linkedin_commentary_escapes_every_reserved_character() {
        let mut p = post(
            "p1",
            "Hello @acme! Reserved: \\ | { } [ ] ( ) < > * _ ~ and a # sign; #OpenSource #Tech_2 #123 @bob @ghost",
        );
        p.category = Some("hr".into());
        p.link = Some("https://example.com/a_b?x=1".into());
        let r = render_on(&p, Network::Linkedin);
        assert_eq!(
            r.text,
            "Hello @[Acme \\(Lyon\\)](urn:li:organization:2414183)! Reserved: \\\\ \\| \\{ \\} \\[ \\] \\( \\) \\< \\> \\* \\_ \\~ \
             and a \\# sign; {hashtag|\\#|OpenSource} {hashtag|\\#|Tech\\_2} \\#123 Bob Martin \\@ghost \
             https://example.com/a\\_b?x=1&utm\\_source=linkedin&utm\\_medium=social&utm\\_campaign=hr"
        );
        assert_eq!(
            r.link.as_deref(),
            Some(
                "https://example.com/a_b?x=1&utm_source=linkedin&utm_medium=social&utm_campaign=hr"
            )
        );
        let issues: Vec<_> =
            r.parts[0].mentions.iter().map(|m| (m.key.as_str(), m.reason.clone())).collect();
        assert_eq!(
            issues,
            [("bob", MentionReason::MissingForNetwork), ("ghost", MentionReason::Unknown)]
        );
        assert_eq!(
            r.length,
            Length { used: crate::length::utf16_length(&r.text), limit: Some(3000) }
        );
    }

    #[test]
    fn x_gets_handles_and_the_link_after_a_space() {
        let mut p = post("p1", "Welcome @acme and @bob, hi @someone! #Hiring");
        p.link = Some("https://example.com/careers".into());
        p.campaign = Some("lyon".into());
        let r = render_on(&p, Network::X);
        assert_eq!(
            r.text,
            "Welcome @acme and Bob Martin, hi @someone! #Hiring \
             https://example.com/careers?utm_source=x&utm_medium=social&utm_campaign=lyon"
        );
        assert_eq!(
            r.parts[0].mentions,
            [MentionIssue { key: "bob".into(), reason: MentionReason::MissingForNetwork }]
        );
        // 50 characters of text, a space, a link weighing 23.
        assert_eq!(r.length, Length { used: 50 + 1 + 23, limit: Some(280) });
    }

    #[test]
    fn link_placeholder_and_line_break() {
        let mut p = post("p1", "Read {link} today");
        p.link = Some("https://example.com".into());
        let r = render_on(&p, Network::X);
        assert_eq!(r.text, "Read https://example.com?utm_source=x&utm_medium=social today");
        let mut p = post("p1", "Read this:\n");
        p.link = Some("https://example.com/".into());
        assert_eq!(
            render_on(&p, Network::X).text,
            "Read this:\nhttps://example.com/?utm_source=x&utm_medium=social"
        );
        let p = post("p1", "No link here {link}");
        assert_eq!(render_on(&p, Network::X).text, "No link here {link}");
        assert_eq!(render_on(&p, Network::Linkedin).text, "No link here \\{link\\}");
    }

    #[test]
    fn facebook_sends_the_link_apart_and_plain_names() {
        let mut p = post("p1", "Thanks @acme and @bob!");
        p.link = Some("https://example.com".into());
        let r = render_on(&p, Network::Facebook);
        assert_eq!(r.text, "Thanks Acme (Lyon) and Bob M.!");
        assert_eq!(
            r.link.as_deref(),
            Some("https://example.com?utm_source=facebook&utm_medium=social")
        );
        let mut p = post("p1", "See {link}");
        p.link = Some("https://example.com".into());
        assert_eq!(
            render_on(&p, Network::Facebook).text,
            "See https://example.com?utm_source=facebook&utm_medium=social"
        );
    }

    #[test]
    fn mastodon_gets_remote_handles_the_tagged_link_and_its_own_count() {
        let mut p = post("p1", "Welcome @acme and @bob, hi @ghost! #Hiring");
        p.link = Some("https://example.com/careers".into());
        p.campaign = Some("lyon".into());
        let r = render_on(&p, Network::Mastodon);
        assert_eq!(
            r.text,
            "Welcome @acme@mastodon.social and Bob Martin, hi @ghost! #Hiring \
             https://example.com/careers?utm_source=mastodon&utm_medium=social&utm_campaign=lyon"
        );
        assert_eq!(
            r.parts[0].mentions,
            [
                MentionIssue { key: "bob".into(), reason: MentionReason::MissingForNetwork },
                MentionIssue { key: "ghost".into(), reason: MentionReason::Unknown },
            ]
        );
        // `@acme@mastodon.social` counts as `@acme`; the link counts 23 whatever its length.
        let before_link = "Welcome @acme and Bob Martin, hi @ghost! #Hiring ".chars().count();
        assert_eq!(r.length, Length { used: before_link as u32 + 23, limit: Some(500) });
    }

    #[test]
    fn webhook_gets_the_text_as_written() {
        let mut p = post("p1", "New article by @acme: #Rust & (C) [draft] @nobody");
        p.link = Some("https://blog.example.com/a".into());
        let r = render_on(&p, Network::Webhook);
        assert_eq!(r.text, "New article by Acme (Lyon): #Rust & (C) [draft] @nobody");
        assert_eq!(
            r.link.as_deref(),
            Some("https://blog.example.com/a?utm_source=webhook&utm_medium=social")
        );
        assert!(r.parts[0].mentions.is_empty());
        assert_eq!(r.length.limit, None);
    }

    #[test]
    fn variants_channel_over_network_over_post() {
        let mut p = post("p1", "Base text");
        p.thread = vec![thread_item("2/ base thread", 9)];
        p.variants
            .insert("x".into(), Variant { text: Some("X text".into()), ..Default::default() });
        p.variants.insert(
            "company-x".into(),
            Variant {
                link: Some("https://c.example".into()),
                thread: Some(vec![thread_item("2/ @acme", 20)]),
                ..Default::default()
            },
        );
        let r = render_on(&p, Network::X);
        // The channel variant has no text: the post's text is used, not the network variant's.
        assert_eq!(r.text, "Base text https://c.example?utm_source=x&utm_medium=social");
        assert_eq!(r.thread, ["2/ @acme"]);
        assert_eq!(r.thread_lengths, [Length { used: 8, limit: Some(280) }]);
        let ch = channel("other-x", Network::X);
        let eff = effective(&PolicyConfig::default(), &ch);
        let m = mentions();
        let r = render(&p, &ch, &RenderContext::new(&m, &eff));
        assert_eq!(r.text, "X text");
        assert_eq!(r.thread, ["2/ base thread"]);
    }

    #[test]
    fn utm_keeps_query_and_fragment() {
        let utm = default_utm();
        let v = vars();
        assert_eq!(
            tag_link("https://e.com/p", &utm, &v).0,
            "https://e.com/p?utm_source=x&utm_medium=social&utm_campaign=launch"
        );
        assert_eq!(
            tag_link("https://e.com/p?a=1&b=two%20words#sec-2", &utm, &v).0,
            "https://e.com/p?a=1&b=two%20words&utm_source=x&utm_medium=social&utm_campaign=launch#sec-2"
        );
        assert_eq!(
            tag_link("https://e.com/#top", &utm, &v).0,
            "https://e.com/?utm_source=x&utm_medium=social&utm_campaign=launch#top"
        );
        assert_eq!(
            tag_link("https://e.com/?", &utm, &v).0,
            "https://e.com/?utm_source=x&utm_medium=social&utm_campaign=launch"
        );
    }

    #[test]
    fn utm_existing_parameters() {
        let utm = default_utm();
        let v = vars();
        // Same value: not repeated, no conflict.
        let (l, c) = tag_link("https://e.com/?utm_source=x&id=3", &utm, &v);
        assert_eq!(l, "https://e.com/?utm_source=x&id=3&utm_medium=social&utm_campaign=launch");
        assert!(c.is_empty());
        // Another value: kept as written, reported.
        let (l, c) = tag_link("https://e.com/?utm_source=newsletter", &utm, &v);
        assert_eq!(l, "https://e.com/?utm_source=newsletter&utm_medium=social&utm_campaign=launch");
        assert_eq!(
            c,
            [UtmConflict {
                param: "utm_source".into(),
                found: "newsletter".into(),
                wanted: "x".into()
            }]
        );
        // Every parameter already there: the link is untouched.
        let full = "https://e.com/?utm_source=x&utm_medium=social&utm_campaign=launch";
        assert_eq!(tag_link(full, &utm, &v), (full.to_owned(), Vec::new()));
        // Off: untouched, but a parameter repeated with two values is still broken.
        let (l, c) = tag_link("https://e.com/?utm_medium=a&utm_medium=b", &Utm::Off, &v);
        assert_eq!(l, "https://e.com/?utm_medium=a&utm_medium=b");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn utm_templates_and_empty_values() {
        let utm = Utm::Tags {
            source: "{network}-{channel}".into(),
            medium: "social".into(),
            campaign: "{category}/{post} x".into(),
        };
        let v = vars();
        assert_eq!(
            tag_link("https://e.com", &utm, &v).0,
            "https://e.com?utm_source=x-company-x&utm_medium=social&utm_campaign=hr%2Fp1+x"
        );
        let v = UtmVars { campaign: None, category: None, ..vars() };
        assert_eq!(
            tag_link("https://e.com", &default_utm(), &v).0,
            "https://e.com?utm_source=x&utm_medium=social"
        );
    }

    #[test]
    fn only_the_post_link_is_tagged() {
        let mut p = post("p1", "Sources: https://a.example.org/x and b.example.com/y?z=1 {link}");
        p.link = Some("https://c.example.com/z".into());
        let r = render_on(&p, Network::X);
        assert_eq!(
            r.text,
            "Sources: https://a.example.org/x and b.example.com/y?z=1 https://c.example.com/z?utm_source=x&utm_medium=social"
        );
        assert_eq!(r.parts[0].links_in_text, 2);
        // Three links weigh 23 each.
        assert_eq!(r.length.used, "Sources:  and  ".chars().count() as u32 + 3 * 23);
    }

    #[test]
    fn utm_off_leaves_the_link() {
        let mut p = post("p1", "x");
        p.link = Some("https://e.com/".into());
        let ch = channel("company-x", Network::X);
        let mut policy = PolicyConfig::default();
        policy.base.utm = Some(Utm::Off);
        let eff = effective(&policy, &ch);
        let m = mentions();
        assert_eq!(render(&p, &ch, &RenderContext::new(&m, &eff)).text, "x https://e.com/");
    }
}
