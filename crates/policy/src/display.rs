//! LinkedIn's little text as people will read it on LinkedIn: for reviewers (the preview page),
//! never for sending (the escaped text is what LinkedIn receives).

/// The text of a LinkedIn commentary as LinkedIn displays it: `\(` shows as `(`,
/// `{hashtag|\#|DataQuality}` as `#DataQuality`, `@[Acme \(Lyon\)](urn:li:organization:1)` as
/// `@Acme (Lyon)`. The inverse of the escaping that [`render`](crate::render) does; anything
/// that is not well-formed little text is shown as written.
pub fn display_little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{hashtag|\\#|")
            && let Some(end) = unescaped(after, '}')
        {
            out.push('#');
            out.push_str(&unescape(&after[..end]));
            rest = &after[end + 1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("@[")
            && let Some(close) = unescaped(after, ']')
            && let Some(urn) = after[close + 1..].strip_prefix('(')
            && let Some(end) = urn.find(')')
        {
            out.push('@');
            out.push_str(&unescape(&after[..close]));
            rest = &urn[end + 1..];
            continue;
        }
        if c == '\\'
            && let Some(next) = rest[1..].chars().next()
        {
            out.push(next);
            rest = &rest[1 + next.len_utf8()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The byte index of the first `wanted` in `s` that no backslash escapes.
fn unescaped(s: &str, wanted: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            _ if c == wanted => return Some(i),
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    display_little_text(s)
}

#[cfg(test)]
mod tests {
    use super::display_little_text as shown;

    #[test]
    fn escaped_characters_show_as_themselves() {
        assert_eq!(
            shown("Join us \\(Lyon\\) \\- utm\\_source \\#1"),
            "Join us (Lyon) - utm_source #1"
        );
    }

    #[test]
    fn hashtags_and_mentions_show_as_linkedin_displays_them() {
        assert_eq!(
            shown(
                "Hi @[Acme \\(Lyon\\)](urn:li:organization:2414183) {hashtag|\\#|Data\\_Quality}"
            ),
            "Hi @Acme (Lyon) #Data_Quality"
        );
    }

    #[test]
    fn text_that_is_not_well_formed_is_shown_as_written() {
        assert_eq!(shown("{hashtag|\\#|open"), "{hashtag|#|open");
        assert_eq!(shown("@[Acme] and a trailing \\"), "@[Acme] and a trailing \\");
        assert_eq!(shown("plain é text"), "plain é text");
    }

    #[test]
    fn rendering_then_displaying_gives_back_the_plain_text() {
        let plain = "Notes (draft) * with _under_ and ~tilde~ <b> [x] {y} | @ # 100%";
        assert_eq!(shown(&crate::escape_little_text(plain)), plain);
    }
}
