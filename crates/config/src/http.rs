//! `[http]`: the daemon's read-only endpoint (`listen`, `token`).

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::config::secret;
use crate::error::Errors;
use crate::source::Src;
use crate::types::SecretRef;

/// `[http]`: where the daemon serves `/healthz`, `/metrics` and the calendar, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// `listen`: the address and port (`127.0.0.1:9184`).
    pub listen: SocketAddr,
    /// `token`: the bearer token every request must carry; required when `listen` is not a
    /// loopback address.
    pub token: Option<SecretRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Spanned<String>,
    token: Option<Spanned<String>>,
}

/// Parses `[http]`; errors (a bad address, a public address without a token) at their place.
pub(crate) fn http(
    src: &Src<'_>,
    value: Spanned<DeValue<'_>>,
    dir: &Path,
    errors: &mut Errors,
) -> Option<HttpSettings> {
    let span = value.span();
    let raw = src.de::<RawHttp>(value, "in [http]", errors)?;
    let listen = match raw.listen.get_ref().parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            errors.push(src.err(
                &raw.listen.span(),
                format!(
                    "[http] listen: {:?} is not an address and port: write \"127.0.0.1:9184\" \
                     (or \"[::1]:9184\")",
                    raw.listen.get_ref()
                ),
            ));
            return None;
        }
    };
    let token = raw.token.and_then(|t| secret(src, &t, "token", dir, errors));
    if token.is_none() && !listen.ip().is_loopback() {
        errors.push(src.err(
            &span,
            format!(
                "[http] listen = \"{listen}\" is reachable from other machines, so `token` is \
                 required: add `token = \"env:CRIEUR_HTTP_TOKEN\"` (a secret reference), or \
                 listen on 127.0.0.1"
            ),
        ));
        return None;
    }
    Some(HttpSettings { listen, token })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    fn load(http: &str) -> Result<crate::Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, format!("timezone = \"Europe/Paris\"\n\n[http]\n{http}")).unwrap();
        crate::load_config(&path)
            .map_err(|e| e.to_string().replace(&format!("{}", path.display()), "c.toml"))
    }

    #[test]
    fn a_loopback_address_needs_no_token() {
        let c = load("listen = \"127.0.0.1:9184\"\n").unwrap();
        let http = c.http.unwrap();
        assert_eq!(http.listen.to_string(), "127.0.0.1:9184");
        assert_eq!(http.token, None);
    }

    #[test]
    fn a_public_address_without_a_token_is_refused_at_its_place() {
        let e = load("listen = \"0.0.0.0:9184\"\n").unwrap_err();
        assert!(e.contains("c.toml:3:1") || e.contains("c.toml:4:1"), "{e}");
        assert!(e.contains("`token` is required"), "{e}");
        let c = load("listen = \"0.0.0.0:9184\"\ntoken = \"env:CRIEUR_HTTP_TOKEN\"\n").unwrap();
        assert!(c.http.unwrap().token.is_some());
    }

    #[test]
    fn an_address_without_a_port_says_what_to_write() {
        let e = load("listen = \"localhost\"\n").unwrap_err();
        assert!(e.contains("c.toml:4:10") && e.contains("127.0.0.1:9184"), "{e}");
    }
}
