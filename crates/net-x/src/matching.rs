//! Does a post read back from X match the text crieur sent?
//!
//! X changes a post's text on the way: every link (with a scheme, or a bare domain such as
//! `example.com`) becomes a `https://t.co/...` link, `&`, `<` and `>` come back as HTML entities,
//! the text is NFC-normalized, and a reply may come back with the handles it answers in front.
//! So both texts are cut into whitespace-separated words; a word of X's that holds a link matches
//! a sent word with the same text before and after the link and a link or bare domain in its
//! place; every other word must be equal.

use unicode_normalization::UnicodeNormalization as _;

/// True when `remote` (X's `text`) is `sent` as X would show it.
pub fn same_post(sent: &str, remote: &str) -> bool {
    let sent: String = sent.nfc().collect();
    let remote: String = decode_entities(remote).nfc().collect();
    let sent_words: Vec<&str> = sent.split_whitespace().collect();
    let remote_words: Vec<&str> = remote.split_whitespace().collect();
    if same_words(&sent_words, &remote_words) {
        return true;
    }
    // A reply may come back as "@handle text": drop leading handles the sent text lacks.
    let sent_starts_with_handle = sent_words.first().is_some_and(|w| w.starts_with('@'));
    if !sent_starts_with_handle {
        let rest: Vec<&str> =
            remote_words.iter().copied().skip_while(|w| w.starts_with('@')).collect();
        if rest.len() != remote_words.len() {
            return same_words(&sent_words, &rest);
        }
    }
    false
}

fn same_words(sent: &[&str], remote: &[&str]) -> bool {
    sent.len() == remote.len() && sent.iter().zip(remote).all(|(s, r)| same_word(s, r))
}

fn same_word(sent: &str, remote: &str) -> bool {
    if sent == remote {
        return true;
    }
    let Some((before, after)) = split_link(remote) else {
        return false;
    };
    sent.len() > before.len() + after.len()
        && sent.starts_with(before)
        && sent.ends_with(after)
        && sent.get(before.len()..sent.len() - after.len()).is_some_and(looks_like_link)
}

/// A link with a scheme, or a bare domain (a dot with text on both sides).
fn looks_like_link(text: &str) -> bool {
    text.contains("://")
        || text.split_once('.').is_some_and(|(host, rest)| !host.is_empty() && !rest.is_empty())
}

/// Splits a word holding an `http(s)://` link into the text before and after it. The link ends
/// at the end of the word, except a `t.co` link, which ends after its path of letters and
/// digits (so `https://t.co/abc).` leaves `).` after it).
fn split_link(word: &str) -> Option<(&str, &str)> {
    let lower = word.to_ascii_lowercase();
    let start = lower.find("https://").or_else(|| lower.find("http://"))?;
    let link = &lower[start..];
    let scheme_len = if link.starts_with("https://") { 8 } else { 7 };
    let end = if link[scheme_len..].starts_with("t.co/") {
        let path = &link[scheme_len + 5..];
        let n = path.bytes().take_while(u8::is_ascii_alphanumeric).count();
        start + scheme_len + 5 + n
    } else {
        word.len()
    };
    Some((&word[..start], &word[end..]))
}

/// X's entities: `&lt;`, `&gt;`, then `&amp;` (last, so `&amp;lt;` stays `&lt;`).
fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_masked_on_both_sides() {
        assert!(same_post(
            "Read https://example.com/a?utm_source=x and tell us.",
            "Read https://t.co/AbC123 and tell us."
        ));
        assert!(same_post("New post (https://blog.example/p).", "New post (https://t.co/x1)."));
        assert!(same_post("Bare example.com works", "Bare https://t.co/q9 works"));
        assert!(!same_post("Read https://example.com now", "Read https://t.co/x later"));
        assert!(!same_post("Read this now", "Read https://t.co/x now"));
    }

    #[test]
    fn entities_whitespace_and_normalization() {
        assert!(same_post("Q&A <live> today", "Q&amp;A &lt;live&gt; today"));
        assert!(same_post("literal &amp; stays", "literal &amp;amp; stays"));
        assert!(same_post("two\n\nlines  here", "two\n\nlines here"));
        assert!(same_post("cafe\u{301}", "caf\u{e9}"));
        assert!(!same_post("hello world", "hello world!"));
        assert!(!same_post("", "x"));
    }

    #[test]
    fn reply_handles_in_front_are_ignored_unless_sent() {
        assert!(same_post("part two", "@acme part two"));
        assert!(same_post("@bob hi", "@bob hi"));
        assert!(!same_post("@bob hi", "@acme @bob hi"));
    }

    #[test]
    fn hostile_words_do_not_panic() {
        assert!(!same_post("é", "https://t.co/é"));
        assert!(!same_post("xé", "xhttps://t.co/"));
        assert!(same_post("ééhttp://a.b", "ééhttps://t.co/z"));
    }
}
