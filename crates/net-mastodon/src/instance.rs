//! The server's own limits: `GET /api/v2/instance`.

use crieur_core::store::ServerLimits;
use crieur_net_http::reqwest::Method;
use crieur_net_http::{HttpClient, SendError};
use jiff::Timestamp;
use serde_json::Value;

/// Why the server's limits could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// `instance` is not an http(s) URL.
    #[error("instance {0:?} is not an http(s) URL")]
    Instance(String),
    /// The request failed.
    #[error("reading the server's limits")]
    Send(#[source] SendError),
    /// The server answered, but not with an instance document.
    #[error("reading the server's limits: {0}")]
    Answer(String),
}

/// Reads `configuration.statuses.max_characters`, `.characters_reserved_per_url` and
/// `.max_media_attachments` from `GET {instance}/api/v2/instance` (public: no token).
///
/// # Errors
/// [`LimitsError`] when the request fails or the answer is not an instance document with at
/// least `max_characters`.
pub async fn read_server_limits(
    http: &HttpClient,
    instance: &str,
    now: Timestamp,
) -> Result<ServerLimits, LimitsError> {
    let bad = || LimitsError::Instance(instance.to_owned());
    let base = crieur_net_http::api_base(instance).map_err(|_| bad())?;
    let url = base.join("api/v2/instance").map_err(|_| bad())?;
    let r = http
        .send("server-limits", http.request(Method::GET, url))
        .await
        .map_err(LimitsError::Send)?;
    if !r.status.is_success() {
        return Err(LimitsError::Answer(format!("{}: {}", r.status.as_u16(), r.snippet(200))));
    }
    let doc = r.json::<Value>().ok_or_else(|| LimitsError::Answer("not JSON".into()))?;
    let statuses = doc.pointer("/configuration/statuses");
    let number = |v: Option<&Value>, key: &str| {
        v.and_then(|s| s.get(key)).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok())
    };
    let max_characters = number(statuses, "max_characters")
        .ok_or_else(|| LimitsError::Answer("no configuration.statuses.max_characters".into()))?;
    Ok(ServerLimits {
        instance: instance.to_owned(),
        max_characters: Some(max_characters),
        characters_per_url: number(statuses, "characters_reserved_per_url"),
        max_media: number(statuses, "max_media_attachments"),
        fetched_at: now,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    #[tokio::test]
    async fn the_servers_limits_are_read_from_its_instance_document() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/instance"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "domain": "social.example",
                "configuration": { "statuses": {
                    "max_characters": 1000, "max_media_attachments": 4,
                    "characters_reserved_per_url": 23
                } }
            })))
            .expect(1)
            .mount(&server)
            .await;
        let http = HttpClient::builder().build().unwrap();
        let now = Timestamp::from_second(1_790_000_000).unwrap();
        let l = read_server_limits(&http, &server.uri(), now).await.unwrap();
        assert_eq!(
            (l.max_characters, l.characters_per_url, l.max_media, l.fetched_at),
            (Some(1000), Some(23), Some(4), now)
        );
    }

    #[tokio::test]
    async fn a_server_without_limits_or_an_error_is_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/instance"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "domain": "x" })))
            .mount(&server)
            .await;
        let http = HttpClient::builder().build().unwrap();
        let err = read_server_limits(&http, &server.uri(), Timestamp::UNIX_EPOCH).await;
        assert!(matches!(err, Err(LimitsError::Answer(_))), "{err:?}");
        let err = read_server_limits(&http, "ftp://x", Timestamp::UNIX_EPOCH).await;
        assert!(matches!(err, Err(LimitsError::Instance(_))), "{err:?}");
    }
}
