//! The shared client, its bounded responses and the classification of its failures.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crieur_core::{Outcome, RejectKind};
use reqwest::dns::Resolve;
use reqwest::header::{CONTENT_LENGTH, HeaderMap};
use reqwest::{Method, StatusCode, Url};

/// Default time allowed to resolve, connect and finish the TLS handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for a whole exchange, from connecting to the last byte of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body: 1 MiB. No network answer crieur reads comes near it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The `User-Agent` of every request: `crieur/<version>`.
pub const USER_AGENT: &str = concat!("crieur/", env!("CARGO_PKG_VERSION"));

/// The limits of an adapter's HTTP exchanges: how long to connect, how long a whole exchange may
/// take, how large an answer may be. Each adapter's config embeds one (its `http` field), so the
/// fields, defaults and `Debug` output (numbers only, never a secret) are the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time allowed to resolve, connect and finish TLS (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// Time allowed for a whole exchange, body included (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Cap on an answer's body (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    /// 10 s to connect, 30 s per exchange, 1 MiB answers.
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Configures an [`HttpClient`]. Start from [`HttpClientBuilder::new`] (or
/// [`HttpClient::builder`]), which holds the defaults above.
#[derive(Clone)]
pub struct HttpClientBuilder {
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    resolver: Option<Arc<dyn Resolve>>,
    no_proxy: bool,
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("custom_resolver", &self.resolver.is_some())
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClientBuilder {
    /// The defaults: [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_TIMEOUT`], [`DEFAULT_MAX_BODY_BYTES`],
    /// the system resolver, and the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` if any.
    pub fn new() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            resolver: None,
            no_proxy: false,
        }
    }

    /// Time allowed to resolve the name, connect and finish the TLS handshake. A failure within
    /// it is provably before sending ([`SendFate::NotSent`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for the whole exchange, body included. When it runs out after the connection
    /// was made, the request may have been received ([`SendFate::MaybeSent`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Cap on response bodies; a longer body is not read past it ([`BodyError::TooLarge`]).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets the three limits at once ([`HttpClientBuilder::connect_timeout`],
    /// [`HttpClientBuilder::timeout`], [`HttpClientBuilder::max_body_bytes`]).
    pub fn limits(self, limits: HttpLimits) -> Self {
        self.connect_timeout(limits.connect_timeout)
            .timeout(limits.timeout)
            .max_body_bytes(limits.max_body_bytes)
    }

    /// Resolves host names with `resolver` instead of the system's. The client connects only to
    /// the addresses it returns, so a resolver that filters addresses controls where requests go.
    /// IP-literal URLs never reach a resolver: check them before sending.
    pub fn dns_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Ignores proxy environment variables: the client always connects directly. Needed when a
    /// custom resolver must see the destination (through a proxy it would only see the proxy).
    pub fn no_proxy(mut self) -> Self {
        self.no_proxy = true;
        self
    }

    /// Builds the client: rustls with the process's one [`tls_config`], HTTP/1.1, no redirects
    /// followed, no automatic retries.
    ///
    /// # Errors
    /// [`BuildError`] when the TLS backend cannot start (for example no usable root
    /// certificates).
    pub fn build(self) -> Result<HttpClient, BuildError> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .user_agent(USER_AGENT)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never());
        if let Some(resolver) = self.resolver {
            builder = builder.dns_resolver(resolver);
        }
        if self.no_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| BuildError(error_chain(&e.without_url())))?;
        Ok(HttpClient { client, max_body_bytes: self.max_body_bytes })
    }
}

/// The TLS configuration every [`HttpClient`] of the process shares: TLS 1.2 and 1.3 with ring,
/// the platform's root certificates (and `SSL_CERT_FILE`/`SSL_CERT_DIR` when set), ALPN
/// `http/1.1`. Read once, on the first call: building the verifier parses every root certificate
/// of the system, which took milliseconds and a few hundred KiB for each of a daemon's clients.
/// Clones share the verifier.
///
/// # Errors
/// [`BuildError`] when no usable root certificate was found (the same error on every call).
pub fn tls_config() -> Result<rustls::ClientConfig, BuildError> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, BuildError>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            install_crypto_provider();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| BuildError(format!("no usable root certificates: {e}")))?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| BuildError(e.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(config)
        })
        .clone()
}

/// Installs ring as the process's rustls crypto provider, unless one is installed already.
///
/// reqwest is built without a provider of its own (its built-in one is aws-lc-rs, a second
/// provider beside sqlx's ring), so one must be installed before any `reqwest::Client` is built.
/// [`HttpClientBuilder::build`] calls this; code that builds a `reqwest::Client` directly calls it
/// first. Cheap and idempotent.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The HTTP client could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct BuildError(pub String);

/// The shared HTTP client: cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl HttpClient {
    /// A builder with the defaults.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::new()
    }

    /// Starts a request; finish it with reqwest's methods (headers, `json`, `form`, `body`) and
    /// hand it to [`HttpClient::send`].
    pub fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// The cap on response bodies.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Sends `request` once (never retried here) and reads the answer, the body up to the cap.
    ///
    /// Logs at debug level the method, [`display_url`] of the URL and `delivery_id`, then the
    /// status and the time taken.
    ///
    /// # Errors
    /// [`SendError`] when no response head came back (build, DNS, connect, TLS, timeout, reset);
    /// its [`SendError::fate`] tells whether the request may have been received. A response whose
    /// body fails is still `Ok`, with the error in [`Response::body`].
    pub async fn send(
        &self,
        delivery_id: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, SendError> {
        let request = request.build().map_err(|e| SendError {
            method: None,
            url: None,
            error: e.without_url(),
        })?;
        let method = request.method().clone();
        let url = display_url(request.url());
        tracing::debug!(%method, url = %url, delivery = delivery_id, "sending request");
        let started = Instant::now();
        let mut response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                let error =
                    SendError { method: Some(method), url: Some(url), error: e.without_url() };
                tracing::debug!(
                    delivery = delivery_id,
                    fate = ?error.fate(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    error = %error_chain(&error),
                    "request failed"
                );
                return Err(error);
            }
        };
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = read_capped(response, self.max_body_bytes).await;
        tracing::debug!(
            delivery = delivery_id,
            status = status.as_u16(),
            body_bytes = body.as_ref().map(Vec::len).ok(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response received"
        );
        Ok(Response { status, headers, body })
    }
}

/// Reads a body in chunks, stopping as soon as it would pass `cap` bytes.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(BodyError::TooLarge { limit: cap });
    }
    let capacity = declared.map_or(0, |len| usize::try_from(len).unwrap_or(cap).min(cap));
    let mut body = Vec::with_capacity(capacity);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(BodyError::TooLarge { limit: cap });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                let timed_out = e.is_timeout();
                return Err(BodyError::Read { reason: error_chain(&e.without_url()), timed_out });
            }
        }
    }
}

/// A response: status and headers always, the body when it could be read within the cap.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, or why it could not be read. The request was received either way (the server
    /// answered), so adapters decide what an unreadable body means for their network.
    pub body: Result<Vec<u8>, BodyError>,
}

impl Response {
    /// The body parsed as JSON, when it was read and is valid JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.body.as_ref().ok().and_then(|b| serde_json::from_slice(b).ok())
    }

    /// The start of the body as printable text for messages: at most `max_chars` characters,
    /// control characters replaced by spaces, `…` when cut. Empty when there is no readable body.
    pub fn snippet(&self, max_chars: usize) -> String {
        let Ok(body) = &self.body else {
            return String::new();
        };
        let text = String::from_utf8_lossy(body);
        let mut out: String =
            text.chars().take(max_chars).map(|c| if c.is_control() { ' ' } else { c }).collect();
        if text.chars().nth(max_chars).is_some() {
            out.push('…');
        }
        out.trim().to_owned()
    }
}

/// Why a response body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the cap; reading stopped there.
    #[error("the response body is larger than {limit} bytes; it was not read")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The connection failed or timed out while the body was read.
    #[error("the response body could not be read: {reason}")]
    Read {
        /// The underlying error.
        reason: String,
        /// Whether the total timeout ran out.
        timed_out: bool,
    },
}

/// Whether a request that failed may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFate {
    /// Provably not sent: the request could not be built, or the failure came while resolving,
    /// connecting or in the TLS handshake, before any byte of the request was written.
    NotSent,
    /// The request may have been received: a timeout outside the connect phase, a connection
    /// reset or closed before the answer, an unreadable answer. Reconcile before any retry.
    MaybeSent,
}

/// A request that got no response head. Its message carries the method, the URL without query or
/// credentials, and the chain of causes; never a header value. The causes are in the message, so
/// `source()` is `None` (each cause reads once); [`SendError::find_cause`] still reaches them.
#[derive(Debug)]
pub struct SendError {
    method: Option<Method>,
    url: Option<String>,
    error: reqwest::Error,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.method, &self.url) {
            (Some(m), Some(u)) => write!(f, "{m} {u}: {}", error_chain(&self.error)),
            _ => write!(f, "the request could not be built: {}", error_chain(&self.error)),
        }
    }
}

impl StdError for SendError {}

impl SendError {
    /// Whether the request may have reached the server.
    ///
    /// reqwest's `is_connect` covers DNS, TCP connect, the TLS handshake and the connect timeout:
    /// all before the request is written, so [`SendFate::NotSent`]. A timeout that is not a
    /// connect error (the total timeout) may have run out at any point, so it is
    /// [`SendFate::MaybeSent`], as is everything else that is not a build error.
    pub fn fate(&self) -> SendFate {
        if self.error.is_builder() || self.error.is_connect() {
            SendFate::NotSent
        } else {
            SendFate::MaybeSent
        }
    }

    /// True when the request could not even be built (a bad URL or header): a configuration
    /// problem that no retry fixes.
    pub fn is_invalid_request(&self) -> bool {
        self.error.is_builder()
    }

    /// True when the total timeout ran out (whatever the phase).
    pub fn is_timeout(&self) -> bool {
        self.error.is_timeout()
    }

    /// The first cause of type `E` in the chain, for example the error a custom resolver returned.
    pub fn find_cause<E: StdError + 'static>(&self) -> Option<&E> {
        let mut source: Option<&(dyn StdError + 'static)> = Some(&self.error);
        while let Some(err) = source {
            if let Some(found) = err.downcast_ref::<E>() {
                return Some(found);
            }
            source = err.source();
        }
        None
    }

    /// The usual outcome: a build error is [`Outcome::Rejected`] (`Other`), a
    /// [`SendFate::NotSent`] failure is [`Outcome::Retry`] without a time, a
    /// [`SendFate::MaybeSent`] one is [`Outcome::Unknown`].
    pub fn outcome(&self) -> Outcome {
        let reason = self.to_string();
        if self.is_invalid_request() {
            return Outcome::Rejected { kind: RejectKind::Other, reason };
        }
        match self.fate() {
            SendFate::NotSent => Outcome::Retry { reason, not_before: None },
            SendFate::MaybeSent => Outcome::Unknown { reason },
        }
    }
}

/// `scheme://host[:port]/path` of `url`: no user name, password, query or fragment, which may carry
/// credentials. What crieur logs and prints of a URL.
pub fn display_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// An error and its causes (`source()`, then its source...) joined by `": "`: what crieur logs
/// and prints of an error. crieur's errors show a cause either in their message or as their
/// source, never both, so each cause reads once.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;

    use reqwest::dns::{Addrs, Name, Resolving};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn sends_user_agent_and_reads_body() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2/tweets"))
            .and(header("user-agent", USER_AGENT))
            .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"data":{"id":"42"}}"#))
            .expect(1)
            .mount(&server)
            .await;
        let client = HttpClient::builder().build().unwrap();
        let req = client.request(Method::POST, url(&format!("{}/2/tweets", server.uri())));
        let resp = client.send("d-1", req).await.unwrap();
        assert_eq!(resp.status, StatusCode::CREATED);
        let v: serde_json::Value = resp.json().unwrap();
        assert_eq!(v["data"]["id"], "42");
        assert!(USER_AGENT.starts_with("crieur/0."));
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let server = MockServer::start().await;
        Mock::given(path("/old"))
            .respond_with(
                ResponseTemplate::new(301)
                    .insert_header("location", format!("{}/new", server.uri())),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(path("/new"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        let client = HttpClient::builder().build().unwrap();
        let req = client.request(Method::GET, url(&format!("{}/old", server.uri())));
        let resp = client.send("d-1", req).await.unwrap();
        assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    }

    #[tokio::test]
    async fn body_at_cap_is_read_and_past_cap_is_refused() {
        let server = MockServer::start().await;
        Mock::given(path("/exact"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 64]))
            .mount(&server)
            .await;
        Mock::given(path("/over"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 65]))
            .mount(&server)
            .await;
        let client = HttpClient::builder().max_body_bytes(64).build().unwrap();
        let resp = client
            .send("d", client.request(Method::GET, url(&format!("{}/exact", server.uri()))))
            .await
            .unwrap();
        assert_eq!(resp.body.unwrap().len(), 64);
        let resp = client
            .send("d", client.request(Method::GET, url(&format!("{}/over", server.uri()))))
            .await
            .unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.body, Err(BodyError::TooLarge { limit: 64 }));
    }

    /// A server that streams a chunked body forever: the read must stop at the cap, not hang or
    /// grow without bound.
    #[tokio::test]
    async fn endless_chunked_body_stops_at_cap() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await.unwrap();
            sock.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await.unwrap();
            let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
            let mut sent = 0usize;
            // Bounded so the test ends even if the client kept reading: 64 MiB.
            while sent < 64 * 1024 * 1024 {
                if sock.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += 0x1000;
            }
            sent
        });
        let client = HttpClient::builder().max_body_bytes(100_000).build().unwrap();
        let resp = client
            .send("d", client.request(Method::GET, url(&format!("http://{addr}/"))))
            .await
            .unwrap();
        assert_eq!(resp.body, Err(BodyError::TooLarge { limit: 100_000 }));
        drop(resp);
        let sent = server.await.unwrap();
        assert!(sent < 64 * 1024 * 1024, "the client kept reading: {sent}");
    }

    #[tokio::test]
    async fn declared_length_over_cap_is_refused_unread() {
        let server = MockServer::start().await;
        Mock::given(path("/big"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 10_000]))
            .mount(&server)
            .await;
        let client = HttpClient::builder().max_body_bytes(100).build().unwrap();
        let resp = client
            .send("d", client.request(Method::GET, url(&format!("{}/big", server.uri()))))
            .await
            .unwrap();
        assert_eq!(resp.body, Err(BodyError::TooLarge { limit: 100 }));
    }

    #[tokio::test]
    async fn connection_refused_is_not_sent() {
        // Bind then drop to get a port nobody listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = HttpClient::builder().build().unwrap();
        let err = client
            .send(
                "d",
                client.request(
                    Method::POST,
                    url(&format!("http://127.0.0.1:{port}/x?access_token=SECRET")),
                ),
            )
            .await
            .unwrap_err();
        assert_eq!(err.fate(), SendFate::NotSent);
        assert!(matches!(err.outcome(), Outcome::Retry { not_before: None, .. }));
        let text = err.to_string();
        assert!(text.starts_with(&format!("POST http://127.0.0.1:{port}/x: ")), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!format!("{err:?}").contains("SECRET"));
    }

    #[tokio::test]
    async fn timeout_after_sending_may_have_been_sent() {
        let server = MockServer::start().await;
        Mock::given(path("/slow"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let client = HttpClient::builder().timeout(Duration::from_millis(300)).build().unwrap();
        let err = client
            .send("d", client.request(Method::POST, url(&format!("{}/slow", server.uri()))))
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(err.fate(), SendFate::MaybeSent);
        assert!(matches!(err.outcome(), Outcome::Unknown { .. }));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn connection_closed_after_request_may_have_been_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap();
            drop(sock);
            n
        });
        let client = HttpClient::builder().build().unwrap();
        let err = client
            .send("d", client.request(Method::POST, url(&format!("http://{addr}/"))).body("hello"))
            .await
            .unwrap_err();
        assert!(server.await.unwrap() > 0);
        assert_eq!(err.fate(), SendFate::MaybeSent, "{err}");
    }

    #[tokio::test]
    async fn tls_failure_is_not_sent() {
        // A plain-text server answering a TLS ClientHello: the handshake fails before the request.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
        });
        let client = HttpClient::builder().build().unwrap();
        let err = client
            .send("d", client.request(Method::POST, url(&format!("https://{addr}/"))))
            .await
            .unwrap_err();
        assert_eq!(err.fate(), SendFate::NotSent, "{err}");
    }

    /// A resolver that never answers, or fails, for the connect-phase tests.
    struct TestResolver {
        fail: bool,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("no such host in the test resolver")]
    struct NoSuchHost;

    impl Resolve for TestResolver {
        fn resolve(&self, _name: Name) -> Resolving {
            let fail = self.fail;
            Box::pin(async move {
                if fail {
                    Err(Box::new(NoSuchHost) as Box<dyn StdError + Send + Sync>)
                } else {
                    std::future::pending::<()>().await;
                    Ok(Box::new(std::iter::empty::<SocketAddr>()) as Addrs)
                }
            })
        }
    }

    #[tokio::test]
    async fn connect_timeout_is_not_sent() {
        let client = HttpClient::builder()
            .dns_resolver(Arc::new(TestResolver { fail: false }))
            .connect_timeout(Duration::from_millis(200))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let started = Instant::now();
        let err = client
            .send("d", client.request(Method::POST, url("http://blog.test/hook")))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err.fate(), SendFate::NotSent, "{err}");
    }

    #[tokio::test]
    async fn resolver_error_is_not_sent_and_findable() {
        let client = HttpClient::builder()
            .dns_resolver(Arc::new(TestResolver { fail: true }))
            .build()
            .unwrap();
        let err = client
            .send("d", client.request(Method::POST, url("http://blog.test/hook")))
            .await
            .unwrap_err();
        assert_eq!(err.fate(), SendFate::NotSent);
        assert!(err.find_cause::<NoSuchHost>().is_some(), "{err}");
        assert!(err.to_string().contains("no such host in the test resolver"), "{err}");
    }

    #[tokio::test]
    async fn invalid_header_is_rejected_before_sending() {
        let client = HttpClient::builder().build().unwrap();
        let req = client.request(Method::GET, url("http://127.0.0.1:9/")).header("x-bad", "a\nb");
        let err = client.send("d", req).await.unwrap_err();
        assert!(err.is_invalid_request());
        assert!(matches!(err.outcome(), Outcome::Rejected { kind: RejectKind::Other, .. }));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the outer step failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("the middle step failed")]
    struct Middle(#[source] NoSuchHost);

    #[test]
    fn error_chain_joins_every_cause_once_in_order() {
        assert_eq!(
            error_chain(&Outer(Middle(NoSuchHost))),
            "the outer step failed: the middle step failed: no such host in the test resolver"
        );
        assert_eq!(error_chain(&NoSuchHost), "no such host in the test resolver");
    }

    #[tokio::test]
    async fn a_send_error_names_each_cause_once_in_its_message_and_has_no_source() {
        let client = HttpClient::builder()
            .dns_resolver(Arc::new(TestResolver { fail: true }))
            .build()
            .unwrap();
        let err = client
            .send("d", client.request(Method::POST, url("http://blog.test/hook")))
            .await
            .unwrap_err();
        assert!(err.source().is_none());
        let chain = error_chain(&err);
        assert_eq!(chain, err.to_string());
        assert_eq!(chain.matches("no such host in the test resolver").count(), 1, "{chain}");
    }

    #[test]
    fn limits_default_to_the_client_defaults_and_debug_shows_numbers_only() {
        let limits = HttpLimits::default();
        assert_eq!(limits.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(limits.timeout, DEFAULT_TIMEOUT);
        assert_eq!(limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(
            format!("{limits:?}"),
            "HttpLimits { connect_timeout: 10s, timeout: 30s, max_body_bytes: 1048576 }"
        );
    }

    #[tokio::test]
    async fn limits_set_the_body_cap_and_the_timeout() {
        let server = MockServer::start().await;
        Mock::given(path("/over"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 65]))
            .mount(&server)
            .await;
        Mock::given(path("/slow"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let limits = HttpLimits {
            timeout: Duration::from_millis(300),
            max_body_bytes: 64,
            ..HttpLimits::default()
        };
        let client = HttpClient::builder().limits(limits).build().unwrap();
        assert_eq!(client.max_body_bytes(), 64);
        let resp = client
            .send("d", client.request(Method::GET, url(&format!("{}/over", server.uri()))))
            .await
            .unwrap();
        assert_eq!(resp.body, Err(BodyError::TooLarge { limit: 64 }));
        let err = client
            .send("d", client.request(Method::GET, url(&format!("{}/slow", server.uri()))))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
    }

    #[test]
    fn display_url_drops_credentials_query_and_fragment() {
        assert_eq!(
            display_url(&url("https://user:pw@api.example.com:8443/v25.0/1/feed?access_token=t#f")),
            "https://api.example.com:8443/v25.0/1/feed"
        );
        assert_eq!(display_url(&url("https://[::1]/hook")), "https://[::1]/hook");
    }

    #[test]
    fn snippet_is_bounded_and_printable() {
        let resp = Response {
            status: StatusCode::BAD_REQUEST,
            headers: HeaderMap::new(),
            body: Ok(b"bad\r\nthing here".to_vec()),
        };
        assert_eq!(resp.snippet(9), "bad  thin…");
        assert_eq!(resp.snippet(100), "bad  thing here");
    }
}
