//! The keys of a Mastodon channel (`instance`, `visibility`) and of a `[mentions]` entry's
//! `mastodon` account, checked where they are written.

use std::ops::Range;

use toml::Spanned;

use crate::config::http_url;
use crate::error::Errors;
use crate::source::Src;
use crate::types::{MastodonSettings, SecretRef, Visibility};

/// The keys only a Mastodon channel takes (besides `access_token`).
pub(crate) const MASTODON_KEYS: &[&str] = &["instance", "access_token", "visibility"];

/// The settings of a `network = "mastodon"` channel, or `None` after pushing the errors.
pub(crate) fn settings(
    src: &Src<'_>,
    ctx: &str,
    span: &Range<usize>,
    instance: Option<&Spanned<String>>,
    visibility: Option<&Spanned<String>>,
    access_token: Option<SecretRef>,
    errors: &mut Errors,
) -> Option<MastodonSettings> {
    let instance = match instance {
        None => {
            errors.push(src.err(
                span,
                format!(
                    "{ctx} needs `instance`, the server the account lives on, like \
                     `instance = \"https://mastodon.social\"`"
                ),
            ));
            None
        }
        Some(v) => http_url(src, v, &format!("{ctx} instance"), false, errors),
    };
    let visibility = match visibility {
        None => Some(Visibility::Public),
        Some(v) => match Visibility::parse(v.get_ref()) {
            Some(vis) => Some(vis),
            None => {
                errors.push(src.err(
                    &v.span(),
                    format!(
                        "{ctx} visibility {:?} must be \"public\", \"unlisted\" or \"private\" \
                         (crieur does not send direct messages)",
                        v.get_ref()
                    ),
                ));
                None
            }
        },
    };
    Some(MastodonSettings {
        instance: instance?.trim_end_matches('/').to_owned(),
        access_token,
        visibility: visibility?,
    })
}

/// A `[mentions.KEY] mastodon` account, normalized to `@user@domain`, or `None` after pushing the
/// error.
pub(crate) fn account(
    src: &Src<'_>,
    ctx: &str,
    v: &Spanned<String>,
    errors: &mut Errors,
) -> Option<String> {
    let s = v.get_ref();
    let bare = s.strip_prefix('@').unwrap_or(s);
    let ok = bare.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty()
            && user.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
    });
    if ok {
        Some(format!("@{bare}"))
    } else {
        errors.push(src.err(
            &v.span(),
            format!(
                "{ctx} mastodon {s:?} is not a Mastodon account: write it as \"@user@server\", \
                 like \"@acme@mastodon.social\""
            ),
        ));
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use crate::config::{Env, parse_config};
    use crate::types::{NetworkSettings, SecretRef, Visibility};

    const BASE: &str = "timezone = \"Europe/Paris\"\n\n[channels.fediverse]\nnetwork = \"mastodon\"\ncadence = [\"Mon-Fri 12:00\"]\n";

    fn errors(text: &str) -> String {
        parse_config(Path::new("c.toml"), text, &Env::default()).unwrap_err().to_string()
    }

    #[test]
    fn a_mastodon_channel_names_its_server_its_token_and_its_visibility() {
        let text = format!(
            "{BASE}instance = \"https://social.example.org/\"\naccess_token = \"env:MASTODON_TOKEN\"\nvisibility = \"unlisted\"\n\n[mentions.acme]\nname = \"Acme\"\nmastodon = \"acme@mastodon.social\"\n"
        );
        let c = parse_config(Path::new("c.toml"), &text, &Env::default()).unwrap();
        let NetworkSettings::Mastodon(m) = &c.channels["fediverse"].settings else {
            panic!("not a mastodon channel");
        };
        assert_eq!(m.instance, "https://social.example.org");
        assert_eq!(m.access_token, Some(SecretRef::Env("MASTODON_TOKEN".into())));
        assert_eq!(m.visibility, Visibility::Unlisted);
        assert_eq!(c.mentions["acme"].mastodon.as_deref(), Some("@acme@mastodon.social"));
    }

    #[test]
    fn a_mastodon_channel_without_a_token_waits_for_crieur_auth_and_is_public() {
        let text = format!("{BASE}instance = \"http://127.0.0.1:9\"\n");
        let c = parse_config(Path::new("c.toml"), &text, &Env::default()).unwrap();
        let NetworkSettings::Mastodon(m) = &c.channels["fediverse"].settings else {
            panic!("not a mastodon channel");
        };
        assert_eq!((m.access_token.as_ref(), m.visibility), (None, Visibility::Public));
    }

    #[test]
    fn mistakes_in_a_mastodon_channel_are_named_at_their_place() {
        let out = errors(BASE);
        assert!(out.contains("c.toml:3:1: error: [channels.fediverse] needs `instance`"), "{out}");
        let out = errors(&format!(
            "{BASE}instance = \"mastodon.social\"\nvisibility = \"direct\"\naccess_token = \"abc\"\n"
        ));
        assert!(
            out.contains(
                "c.toml:6:12: error: [channels.fediverse] instance \"mastodon.social\" is not a URL"
            ),
            "{out}"
        );
        assert!(
            out.contains("c.toml:7:14: error: [channels.fediverse] visibility \"direct\" must be"),
            "{out}"
        );
        assert!(out.contains("c.toml:8:16: error: `access_token`"), "{out}");
        let out = errors(&format!(
            "{BASE}instance = \"https://m.example\"\npage_id = \"1\"\n\n[mentions.acme]\nname = \"A\"\nmastodon = \"@acme\"\n"
        ));
        assert!(
            out.contains("c.toml:7:1: error: `page_id` is a key of facebook channels"),
            "{out}"
        );
        assert!(
            out.contains(
                "c.toml:11:12: error: [mentions.acme] mastodon \"@acme\" is not a Mastodon account"
            ),
            "{out}"
        );
    }
}
