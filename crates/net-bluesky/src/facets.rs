//! Facets: where the links, mentions and hashtags of a text are, in UTF-8 bytes.
//!
//! Bluesky shows links, mentions and hashtags as plain text unless the record carries a facet for
//! each. What counts is what Bluesky's own composer detects (`RichText.detectFacets` of
//! `@atproto/api`), so these rules follow it:
//! - a link starts with `http://` or `https://` at the start of the text or after whitespace or
//!   `(`, runs to the next whitespace, and loses trailing `.,;:!?` (and a trailing `)` when it
//!   holds no `(`);
//! - a mention is `@` and a handle (a domain name of two labels or more, its last label starting
//!   with a letter) at the start or after whitespace or `(`; trailing `.` and `-` are not part of
//!   it;
//! - a hashtag is `#` (or `＃`) at the start or after whitespace, then a run of non-space
//!   characters holding at least one character that is neither a digit nor punctuation; trailing
//!   punctuation is not part of it, and at most 64 characters count.
//!
//! Bare domains without a scheme (`example.com`) are not linked (the composer links them only
//! with its list of top-level domains). Ranges never overlap: when two candidates would, the one
//! starting first wins.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// What a facet marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// `app.bsky.richtext.facet#link`.
    Link(String),
    /// A mention of a handle, to be resolved to its DID (`app.bsky.richtext.facet#mention`).
    Mention(String),
    /// `app.bsky.richtext.facet#tag`, without the `#`.
    Tag(String),
}

/// One facet: a byte range of the text (`start..end`, end exclusive) and what it marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What it marks.
    pub feature: Feature,
}

/// The longest hashtag Bluesky links, in characters.
pub const MAX_TAG_CHARS: usize = 64;

/// Every link, mention and hashtag of `text`, in order, never overlapping, each range on UTF-8
/// character boundaries and inside the text.
pub fn detect(text: &str) -> Vec<Facet> {
    let mut found = Vec::new();
    for (i, c) in text.char_indices() {
        let prev = text[..i].chars().next_back();
        let after_space = prev.is_none_or(char::is_whitespace);
        let after_space_or_paren = after_space || prev == Some('(');
        let rest = &text[i..];
        if after_space_or_paren
            && (rest.starts_with("https://") || rest.starts_with("http://"))
            && let Some(f) = link(text, i)
        {
            found.push(f);
        } else if c == '@'
            && after_space_or_paren
            && let Some(f) = mention(text, i)
        {
            found.push(f);
        } else if (c == '#' || c == '＃')
            && after_space
            && let Some(f) = tag(text, i, c.len_utf8())
        {
            found.push(f);
        }
    }
    found.sort_by_key(|f| (f.start, f.end));
    let mut out: Vec<Facet> = Vec::with_capacity(found.len());
    for f in found {
        if out.last().is_none_or(|last| f.start >= last.end) {
            out.push(f);
        }
    }
    out
}

/// The end of the run of non-whitespace starting at `start`.
fn run_end(text: &str, start: usize) -> usize {
    text[start..].find(char::is_whitespace).map_or(text.len(), |n| start + n)
}

fn link(text: &str, start: usize) -> Option<Facet> {
    let mut uri = &text[start..run_end(text, start)];
    loop {
        if let Some(s) = uri.strip_suffix(['.', ',', ';', ':', '!', '?']) {
            uri = s;
        } else if !uri.contains('(')
            && let Some(s) = uri.strip_suffix(')')
        {
            uri = s;
        } else {
            break;
        }
    }
    let host = uri.split_once("://").map_or("", |(_, r)| r);
    if host.is_empty() || host.starts_with('/') {
        return None;
    }
    Some(Facet { start, end: start + uri.len(), feature: Feature::Link(uri.to_owned()) })
}

fn mention(text: &str, at: usize) -> Option<Facet> {
    let body_start = at + 1;
    let len = text[body_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .unwrap_or(text.len() - body_start);
    let handle = text[body_start..body_start + len].trim_end_matches(['.', '-']);
    // The composer's `\b`: the handle may not run on into a word character.
    let next = text[body_start + handle.len()..].chars().next();
    if next.is_some_and(|c| c.is_alphanumeric() || c == '_') || !is_handle(handle) {
        return None;
    }
    Some(Facet {
        start: at,
        end: body_start + handle.len(),
        feature: Feature::Mention(handle.to_ascii_lowercase()),
    })
}

/// Whether `s` is a handle: labels of ASCII letters, digits and inner `-`, at least two, the
/// last starting with a letter.
pub fn is_handle(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels.last().is_some_and(|l| l.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()))
}

/// Characters that end a hashtag besides whitespace (soft hyphen, word joiner, thin spaces and
/// joiners, the enclosing keycap).
fn breaks_tag(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{2060}'
                | '\u{200A}'
                | '\u{200B}'
                | '\u{200C}'
                | '\u{200D}'
                | '\u{20E2}'
        )
}

fn is_punctuation(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Punctuation
}

fn tag(text: &str, hash: usize, hash_len: usize) -> Option<Facet> {
    let body_start = hash + hash_len;
    let body_end = text[body_start..].find(breaks_tag).map_or(text.len(), |n| body_start + n);
    let body = &text[body_start..body_end];
    if body.starts_with('\u{FE0F}') {
        return None;
    }
    let tag = body.trim_end_matches(is_punctuation);
    if !tag.chars().any(|c| !(c.is_ascii_digit() || is_punctuation(c))) {
        return None;
    }
    if tag.chars().count() > MAX_TAG_CHARS {
        return None;
    }
    Some(Facet { start: hash, end: body_start + tag.len(), feature: Feature::Tag(tag.to_owned()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(&str, Feature)> {
        detect(text).into_iter().map(|f| (&text[f.start..f.end], f.feature)).collect()
    }

    #[test]
    fn a_link_after_an_emoji_starts_at_its_byte_offset() {
        let text = "🎉 https://example.com/a";
        let f = detect(text);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].start, f[0].end), (5, text.len()));
        assert_eq!(f[0].feature, Feature::Link("https://example.com/a".into()));
    }

    #[test]
    fn combining_marks_count_in_bytes_before_a_mention() {
        // "é" written as e + U+0301: three bytes.
        let text = "Cafe\u{301} @acme.bsky.social!";
        assert_eq!(
            spans(text),
            vec![("@acme.bsky.social", Feature::Mention("acme.bsky.social".into()))]
        );
        assert_eq!(detect(text)[0].start, 7);
    }

    #[test]
    fn cjk_hashtags_are_tags_and_their_offsets_are_bytes() {
        let text = "東京 #東京オフィス へようこそ";
        let f = detect(text);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].start, 7);
        assert_eq!(&text[f[0].start..f[0].end], "#東京オフィス");
        assert_eq!(f[0].feature, Feature::Tag("東京オフィス".into()));
    }

    #[test]
    fn several_links_each_lose_their_trailing_punctuation() {
        let text = "See https://a.example/x, (https://b.example/y) and https://c.example/z.";
        assert_eq!(
            spans(text),
            vec![
                ("https://a.example/x", Feature::Link("https://a.example/x".into())),
                ("https://b.example/y", Feature::Link("https://b.example/y".into())),
                ("https://c.example/z", Feature::Link("https://c.example/z".into())),
            ]
        );
    }

    #[test]
    fn a_parenthesis_inside_a_link_keeps_its_closing_one() {
        let text = "https://en.wikipedia.org/wiki/Crier_(job)";
        assert_eq!(spans(text)[0].0, text);
    }

    #[test]
    fn overlapping_candidates_keep_the_first_and_drop_what_hides_inside_it() {
        // The fragment and the @ inside the link are not a tag nor a mention of their own.
        let text = "https://example.com/#frag @acme.bsky.social #Hiring #123 #a#b";
        let got = spans(text);
        assert_eq!(got[0].0, "https://example.com/#frag");
        assert_eq!(got[1].1, Feature::Mention("acme.bsky.social".into()));
        assert_eq!(got[2].1, Feature::Tag("Hiring".into()));
        assert_eq!(got[3].1, Feature::Tag("a#b".into()));
        assert_eq!(got.len(), 4, "{got:?}");
    }

    #[test]
    fn words_that_are_not_facets_stay_plain() {
        assert!(detect("mail@example.com and C# and @jack and #1 and http://").is_empty());
        assert!(detect("ftp://example.com").is_empty());
        assert!(detect(&format!("#{}", "a".repeat(65))).is_empty());
        assert_eq!(detect(&format!("#{}", "a".repeat(64))).len(), 1);
    }

    #[test]
    fn a_hashtag_loses_trailing_punctuation_and_takes_the_full_width_sign() {
        assert_eq!(spans("Go #OpenSource!")[0].1, Feature::Tag("OpenSource".into()));
        assert_eq!(spans("＃Rust")[0], ("＃Rust", Feature::Tag("Rust".into())));
    }

    proptest::proptest! {
        #[test]
        fn offsets_are_always_on_character_boundaries_inside_the_text(
            text in "(?s)([a-z#@:/.()é\u{301}🎉東 ＃\\-]|https://|\\.social){0,40}"
        ) {
            let facets = detect(&text);
            let mut last = 0;
            for f in &facets {
                proptest::prop_assert!(f.start < f.end && f.end <= text.len());
                proptest::prop_assert!(text.is_char_boundary(f.start));
                proptest::prop_assert!(text.is_char_boundary(f.end));
                proptest::prop_assert!(f.start >= last, "facets overlap in {:?}", text);
                last = f.end;
            }
        }
    }
}
