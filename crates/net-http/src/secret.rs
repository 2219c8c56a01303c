//! Secret header values.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// A secret could not be put in a header: it holds characters a header value cannot carry
/// (control characters such as a newline, or non-visible bytes). The value itself is never part
/// of this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {what} holds characters that an HTTP header cannot carry (a newline or another control \
     character?): check the secret's source, for example a file with a trailing carriage return"
)]
pub struct InvalidSecretHeader {
    /// What the secret is, for the message (`"access token"`...).
    pub what: &'static str,
}

/// `Authorization: Bearer <token>` as a header value marked sensitive: hyper and reqwest print it
/// as `Sensitive` in `Debug` output and HTTP/2 never indexes it.
///
/// # Errors
/// [`InvalidSecretHeader`] when the token holds characters a header cannot carry.
pub fn bearer_header(token: &SecretString) -> Result<HeaderValue, InvalidSecretHeader> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| InvalidSecretHeader { what: "access token" })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Any secret as a header value marked sensitive (an API key header, a Basic credential already
/// encoded by the caller).
///
/// # Errors
/// [`InvalidSecretHeader`] naming `what` when the secret holds characters a header cannot carry.
pub fn sensitive_header(
    secret: &SecretString,
    what: &'static str,
) -> Result<HeaderValue, InvalidSecretHeader> {
    let mut value =
        HeaderValue::from_str(secret.expose_secret()).map_err(|_| InvalidSecretHeader { what })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_sensitive_and_hidden_from_debug() {
        let token = SecretString::from("tok-very-secret-123");
        let value = bearer_header(&token).unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), "Bearer tok-very-secret-123");
        let shown = format!("{value:?}");
        assert!(!shown.contains("tok-very-secret"), "{shown}");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        assert!(!format!("{headers:?}").contains("tok-very-secret"));
    }

    #[test]
    fn newline_in_token_is_refused_without_echoing_it() {
        let token = SecretString::from("abc\ndef-secret");
        let err = bearer_header(&token).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("access token"), "{text}");
        assert!(!text.contains("def-secret"), "{text}");
        let err = sensitive_header(&token, "API key").unwrap_err();
        assert!(err.to_string().contains("API key"));
    }

    #[test]
    fn sensitive_header_keeps_value() {
        let value = sensitive_header(&SecretString::from("k-1"), "API key").unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value.as_bytes(), b"k-1");
    }
}
