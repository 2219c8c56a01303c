//! The checks of the Bluesky keys: handles in a channel and in `[mentions]`.

use toml::Spanned;

use crate::error::Errors;
use crate::source::Src;

/// Whether `s` is an AT Protocol handle: a domain name of at least two labels, each 1-63 ASCII
/// letters, digits or `-` (not at either end), at most 253 bytes, the last label not starting
/// with a digit.
pub(crate) fn is_handle(s: &str) -> bool {
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

/// A handle as written (an `@` in front is dropped), lowercased, or an error at its place.
pub(crate) fn handle(
    src: &Src<'_>,
    v: &Spanned<String>,
    what: &str,
    errors: &mut Errors,
) -> Option<String> {
    let s = v.get_ref();
    let bare = s.strip_prefix('@').unwrap_or(s).to_ascii_lowercase();
    if is_handle(&bare) {
        Some(bare)
    } else {
        errors.push(src.err(
            &v.span(),
            format!(
                "{what} {s:?} is not a Bluesky handle: write the account's domain, like \
                 \"acme.bsky.social\""
            ),
        ));
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Env, parse_config};
    use crate::types::NetworkSettings;

    const BASE: &str =
        "timezone = \"UTC\"\n[channels.sky]\nnetwork = \"bluesky\"\ncadence = [\"Mon 12:00\"]\n";

    #[test]
    fn a_bluesky_channel_takes_a_handle_an_app_password_and_a_service() {
        let text = format!(
            "{BASE}handle = \"@Acme.bsky.social\"\napp_password = \"env:BSKY\"\nservice = \"http://127.0.0.1:9\"\n\
             [mentions.friend]\nname = \"Friend\"\nbluesky = \"friend.example.com\"\n"
        );
        let c = parse_config(Path::new("c.toml"), &text, &Env::default()).unwrap();
        let NetworkSettings::Bluesky(b) = &c.channels["sky"].settings else { panic!() };
        assert_eq!(b.handle, "acme.bsky.social");
        assert_eq!(b.service.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(c.mentions["friend"].bluesky.as_deref(), Some("friend.example.com"));
    }

    #[test]
    fn a_bluesky_channel_without_its_keys_or_with_a_bad_handle_is_placed() {
        let out = parse_config(Path::new("c.toml"), BASE, &Env::default()).unwrap_err().to_string();
        assert!(out.contains("c.toml:2:1: error: [channels.sky] needs `handle`"), "{out}");
        assert!(out.contains("needs `app_password`"), "{out}");
        let text = format!("{BASE}handle = \"acme\"\napp_password = \"literal\"\n");
        let out =
            parse_config(Path::new("c.toml"), &text, &Env::default()).unwrap_err().to_string();
        assert!(
            out.contains(
                "c.toml:5:10: error: [channels.sky] handle \"acme\" is not a Bluesky handle"
            ),
            "{out}"
        );
        assert!(out.contains("c.toml:6:16: error: `app_password`"), "{out}");
    }

    #[test]
    fn handles_are_domain_names_of_two_labels_or_more() {
        assert!(is_handle("acme.bsky.social"));
        assert!(is_handle("example.com"));
        assert!(is_handle("a-b.example.org"));
        assert!(!is_handle("acme"));
        assert!(!is_handle("acme..social"));
        assert!(!is_handle("-acme.bsky.social"));
        assert!(!is_handle("acme.bsky.123"));
        assert!(!is_handle("ac me.bsky.social"));
        assert!(!is_handle("acmé.bsky.social"));
    }
}
