//! Splits a post's text into plain text, links, `{link}`, hashtags and mentions.
//!
//! - Links are found as X finds them (with or without `https://`); nothing inside a link is a
//!   hashtag or a mention (`https://medium.com/@acme` stays whole).
//! - A hashtag is `#` at the start or after a character that is not a letter, digit, `_`, `&`
//!   or `#`, followed by letters, digits, marks, `_` and zero-width joiners. It is invalid when
//!   it has no letter (`#123`) or when `-`, `.`, `'`, `’`, `&`, `+`, `/` or `:` joins it to more
//!   word characters (`#Open-Source`: networks link `#Open` only).
//! - A mention is `@` at the start or after a character that is not a letter, digit or one of
//!   `_ ! # $ % & * @ ＠`, followed by a key of ASCII letters, digits, `_` and inner `-` (the
//!   keys of `[mentions]`); `@user@host` (a Mastodon address) is not a mention, and neither is
//!   an e-mail address.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::x::extract_urls;

/// What is wrong with a hashtag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashtagProblem {
    /// No letter: only digits or `_`.
    NoLetter,
    /// This character joins the tag to more word characters.
    Joined(char),
}

/// A piece of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// Plain text.
    Text(&'a str),
    /// A link written in the text.
    Url(&'a str),
    /// The `{link}` placeholder.
    LinkPlaceholder,
    /// A hashtag: `tag` is what follows `#` up to where the network stops linking, `word` the
    /// whole word as written (for messages).
    Hashtag { tag: &'a str, word: &'a str, problem: Option<HashtagProblem> },
    /// `@key`.
    Mention { key: &'a str },
}

pub(crate) const LINK_PLACEHOLDER: &str = "{link}";

fn is_mark(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Mark
}

pub(crate) fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\u{200C}' || c == '\u{200D}' || is_mark(c)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn hashtag_may_follow(prev: Option<char>) -> bool {
    prev.is_none_or(|p| !(p.is_alphanumeric() || matches!(p, '_' | '&' | '#')))
}

fn mention_may_follow(prev: Option<char>) -> bool {
    prev.is_none_or(|p| {
        !(p.is_alphanumeric() || matches!(p, '_' | '!' | '#' | '$' | '%' | '&' | '*' | '@' | '＠'))
    })
}

/// Splits `text` into tokens; concatenating their source text gives `text` back.
///
/// Between links it jumps from one `{`, `#` or `@` to the next (ASCII bytes, so never inside a
/// character): nothing else starts a token.
pub(crate) fn tokenize<'a>(text: &'a str) -> Vec<Tok<'a>> {
    let urls = extract_urls(text);
    let bytes = text.as_bytes();
    let mut toks = Vec::with_capacity(8);
    let mut plain_start = 0;
    let mut i = 0;
    let mut next_url = 0;
    let flush = |toks: &mut Vec<Tok<'a>>, from: usize, to: usize| {
        if to > from {
            toks.push(Tok::Text(&text[from..to]));
        }
    };
    while i < text.len() {
        // A link that a hashtag or mention ran over is not one: it, and every link after it,
        // stay plain text.
        let url_start = match urls.get(next_url) {
            Some(u) if u.start >= i => u.start,
            _ => text.len(),
        };
        if url_start == i
            && let Some(u) = urls.get(next_url)
        {
            flush(&mut toks, plain_start, i);
            toks.push(Tok::Url(&text[u.start..u.end]));
            next_url += 1;
            i = u.end;
            plain_start = i;
            continue;
        }
        let Some(j) = bytes[i..url_start].iter().position(|b| matches!(b, b'{' | b'#' | b'@'))
        else {
            i = url_start;
            continue;
        };
        let j = i + j;
        let rest = &text[j..];
        let prev = text[..j].chars().next_back();
        if rest.starts_with(LINK_PLACEHOLDER) {
            flush(&mut toks, plain_start, j);
            toks.push(Tok::LinkPlaceholder);
            i = j + LINK_PLACEHOLDER.len();
            plain_start = i;
            continue;
        }
        if bytes[j] == b'#'
            && hashtag_may_follow(prev)
            && let Some(tok) = hashtag(rest)
        {
            flush(&mut toks, plain_start, j);
            let tag_len = match &tok {
                Tok::Hashtag { tag, .. } => tag.len(),
                _ => 0,
            };
            toks.push(tok);
            // Only the linked part is the hashtag; a joined rest stays plain text.
            i = j + 1 + tag_len;
            plain_start = i;
            continue;
        }
        if bytes[j] == b'@'
            && mention_may_follow(prev)
            && let Some(key) = mention(rest)
        {
            flush(&mut toks, plain_start, j);
            toks.push(Tok::Mention { key });
            i = j + 1 + key.len();
            plain_start = i;
            continue;
        }
        i = j + 1;
    }
    flush(&mut toks, plain_start, text.len());
    toks
}

/// A hashtag at the start of `rest` (which starts with `#`).
fn hashtag(rest: &str) -> Option<Tok<'_>> {
    let body = &rest[1..];
    let tag_len: usize = body.chars().take_while(|&c| is_tag_char(c)).map(char::len_utf8).sum();
    if tag_len == 0 {
        return None;
    }
    let tag = &body[..tag_len];
    let mut word_len = tag_len;
    let mut problem = None;
    if !tag.chars().any(|c| c.is_alphabetic() || is_mark(c)) {
        problem = Some(HashtagProblem::NoLetter);
    }
    // A joiner followed by more word characters: the author meant one longer tag.
    let mut after = body[tag_len..].chars();
    if let (Some(j), Some(n)) = (after.next(), after.next())
        && matches!(j, '-' | '.' | '\'' | '’' | '&' | '+' | '/' | ':')
        && is_tag_char(n)
    {
        let more: usize = body[tag_len..]
            .chars()
            .take_while(|&c| {
                is_tag_char(c) || matches!(c, '-' | '.' | '\'' | '’' | '&' | '+' | '/' | ':')
            })
            .map(char::len_utf8)
            .sum();
        word_len = tag_len + more;
        while body[..word_len].ends_with(|c: char| !is_tag_char(c)) {
            word_len -= body[..word_len].chars().next_back().map_or(1, char::len_utf8);
        }
        if problem.is_none() {
            problem = Some(HashtagProblem::Joined(j));
        }
    }
    Some(Tok::Hashtag { tag, word: &body[..word_len], problem })
}

/// The key of a mention at the start of `rest` (which starts with `@`).
fn mention(rest: &str) -> Option<&str> {
    let body = &rest[1..];
    let mut len: usize = body.chars().take_while(|&c| is_key_char(c)).count();
    while len > 0 && body.as_bytes()[len - 1] == b'-' {
        len -= 1;
    }
    if len == 0 || body.as_bytes().get(len) == Some(&b'@') {
        return None;
    }
    let key = &body[..len];
    if key.starts_with('-') {
        return None;
    }
    Some(key)
}

/// Whether `handle` (without `@`) is a valid X handle: 1 to 15 of `[A-Za-z0-9_]`.
pub(crate) fn is_x_handle(handle: &str) -> bool {
    (1..=15).contains(&handle.len())
        && handle.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokenizer as first written, a step per character: what [`tokenize`] must equal.
    fn tokenize_by_char<'a>(text: &'a str) -> Vec<Tok<'a>> {
        let urls = extract_urls(text);
        let mut toks = Vec::new();
        let mut plain_start = 0;
        let mut i = 0;
        let mut next_url = 0;
        let mut prev: Option<char> = None;
        let flush = |toks: &mut Vec<Tok<'a>>, from: usize, to: usize| {
            if to > from {
                toks.push(Tok::Text(&text[from..to]));
            }
        };
        while i < text.len() {
            if let Some(u) = urls.get(next_url)
                && u.start == i
            {
                flush(&mut toks, plain_start, i);
                toks.push(Tok::Url(&text[u.start..u.end]));
                next_url += 1;
                prev = text[..u.end].chars().next_back();
                i = u.end;
                plain_start = i;
                continue;
            }
            let rest = &text[i..];
            let Some(c) = rest.chars().next() else { break };
            if rest.starts_with(LINK_PLACEHOLDER) {
                flush(&mut toks, plain_start, i);
                toks.push(Tok::LinkPlaceholder);
                i += LINK_PLACEHOLDER.len();
                plain_start = i;
                prev = Some('}');
                continue;
            }
            if c == '#'
                && hashtag_may_follow(prev)
                && let Some(tok) = hashtag(rest)
            {
                flush(&mut toks, plain_start, i);
                let tag_len = match &tok {
                    Tok::Hashtag { tag, .. } => tag.len(),
                    _ => 0,
                };
                toks.push(tok);
                // Only the linked part is the hashtag; a joined rest stays plain text.
                i += 1 + tag_len;
                plain_start = i;
                prev = text[..i].chars().next_back();
                continue;
            }
            if c == '@'
                && mention_may_follow(prev)
                && let Some(key) = mention(rest)
            {
                flush(&mut toks, plain_start, i);
                toks.push(Tok::Mention { key });
                i += 1 + key.len();
                plain_start = i;
                prev = key.chars().next_back();
                continue;
            }
            prev = Some(c);
            i += c.len_utf8();
        }
        flush(&mut toks, plain_start, text.len());
        toks
    }

    proptest::proptest! {
        #[test]
        fn jumping_between_token_starts_splits_as_a_step_per_character(
            text in "(#|@|\\{link\\}|\\{|tag|Tag|_|-|\\.com|https://|t\\.co/x|é|\u{301}|👍| |a@b|1|/){0,24}"
        ) {
            proptest::prop_assert_eq!(tokenize(&text), tokenize_by_char(&text));
        }
    }

    fn hashtags(text: &str) -> Vec<(String, String, Option<HashtagProblem>)> {
        tokenize(text)
            .into_iter()
            .filter_map(|t| match t {
                Tok::Hashtag { tag, word, problem } => {
                    Some((tag.to_owned(), word.to_owned(), problem))
                }
                _ => None,
            })
            .collect()
    }

    fn mentions(text: &str) -> Vec<String> {
        tokenize(text)
            .into_iter()
            .filter_map(|t| match t {
                Tok::Mention { key } => Some(key.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn tokens_cover_the_whole_text() {
        let text = "Hi @acme! See {link} and https://x.com/@bob #Tag, C# #123 #Open-Source.";
        let toks = tokenize(text);
        let back: String = toks
            .iter()
            .map(|t| match t {
                Tok::Text(s) | Tok::Url(s) => (*s).to_owned(),
                Tok::LinkPlaceholder => LINK_PLACEHOLDER.to_owned(),
                Tok::Hashtag { tag, .. } => format!("#{tag}"),
                Tok::Mention { key } => format!("@{key}"),
            })
            .collect();
        assert_eq!(back, text);
        assert!(toks.contains(&Tok::Url("https://x.com/@bob")));
        assert!(toks.contains(&Tok::LinkPlaceholder));
    }

    #[test]
    fn finds_hashtags_and_their_problems() {
        let h = hashtags("#Tag, C# #123 #Open-Source. #été #日本 a#b #_ #x_1");
        assert_eq!(h[0], ("Tag".into(), "Tag".into(), None));
        assert_eq!(h[1], ("123".into(), "123".into(), Some(HashtagProblem::NoLetter)));
        assert_eq!(h[2], ("Open".into(), "Open-Source".into(), Some(HashtagProblem::Joined('-'))));
        assert_eq!(h[3].0, "été");
        assert_eq!(h[4].0, "日本");
        assert_eq!(h[5], ("_".into(), "_".into(), Some(HashtagProblem::NoLetter)));
        assert_eq!(h[6].0, "x_1");
        assert_eq!(h.len(), 7);
    }

    #[test]
    fn finds_mentions_but_not_addresses() {
        assert_eq!(mentions("@acme, hi @big-corp- and (@x_1)"), ["acme", "big-corp", "x_1"]);
        assert!(mentions("mail a@acme.com or @user@mastodon.social").is_empty());
        assert!(is_x_handle("acme_1") && !is_x_handle("big-corp") && !is_x_handle(""));
        assert!(!is_x_handle("a234567890123456"));
    }
}
