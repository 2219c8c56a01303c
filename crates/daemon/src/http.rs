//! The daemon's read-only HTTP endpoint (`[http] listen`): `GET /healthz`, `GET /metrics`,
//! `GET /calendar.ics` and `GET /`.
//!
//! Served by hyper's HTTP/1 connection directly on the daemon's own runtime (four read-only
//! routes need no router). `/healthz` answers 200 while the dispatch loop turns (the endpoint
//! sees each turn through the dispatcher's [`Monitor`]) and 503 once it has not turned for three
//! of its longest sleeps. `/metrics` is the Prometheus (OpenMetrics) text made by
//! `prometheus-client`: `crieur_deliveries{channel,state}` read from the store at each scrape,
//! `crieur_publish_duration_seconds` (from an attempt's start to its outcome),
//! `crieur_lateness_seconds` (from the instant a delivery was due to its first attempt's request),
//! `crieur_token_expiry_seconds{channel}` and `crieur_last_sync_timestamp_seconds`.
//!
//! `/calendar.ics` and `/` are the live calendar ([`crate::preview::live`]): the files the daemon
//! last synced, laid and rendered as `preview` does, with each post's state from the store and
//! what went out with its URL. The ICS covers this week and the next [`FEED_WEEKS`]` - 1`, its
//! UIDs stable per (post, channel) and its DTSTAMP the last sync, so two fetches with nothing new
//! between them are byte for byte the same. `/` is this week's HTML page of `preview --format
//! html`, each post with its state. Both are built off the runtime's worker threads
//! (`spawn_blocking`: the post and media files are read, thumbnails decoded), one at a time.
//!
//! Every other method is 405; with `[http] token`, a request without `Authorization: Bearer
//! TOKEN` is 401.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crieur_config::Config;
use crieur_core::{Clock, Delivery, Outcome, Post};
use crieur_scheduler::dispatch::Monitor;
use crieur_store::Store;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::plan::Known;
use crate::preview::live;

/// How many weeks `/calendar.ics` covers, from the Monday of the current week.
pub const FEED_WEEKS: i64 = 5;

/// The Content-Security-Policy of the HTML page: no request at all (pictures are `data:` URIs).
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Every state a delivery can be in, so that each channel has a series for each (0 included).
const STATES: [&str; 7] =
    ["queued", "publishing", "published", "retrying", "failed", "unknown", "cancelled"];

/// The endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// `[http] token` cannot be read.
    #[error("[http] token")]
    Token(#[source] crieur_config::SecretError),
    /// The address cannot be listened on (in use, not an address of this machine).
    #[error("[http] listen = \"{listen}\" cannot be listened on")]
    Bind {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

/// What the endpoint knows of the running daemon. Shared with the dispatcher (as its
/// [`Monitor`], through [`Endpoint::monitor`]) and the supervisor ([`Endpoint::synced`]).
pub struct Endpoint {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    token: Option<SecretString>,
    channels: Vec<String>,
    wedged_after: Duration,
    last_turn: Mutex<Instant>,
    publish_duration: Histogram,
    lateness: Histogram,
    last_sync: Gauge<f64, AtomicU64>,
    /// The config of the last sync, and the instant of that sync.
    synced: Mutex<Option<(Arc<Config>, jiff::Timestamp)>>,
    /// The last post files that loaded, for the calendar while a file being edited is invalid.
    last_posts: Mutex<Option<Arc<Vec<Post>>>>,
    /// One calendar built at a time.
    building: tokio::sync::Semaphore,
}

impl Endpoint {
    /// Listens on `[http] listen` of `config` (when set) and serves until `cancel`; `None` when
    /// the config has no `[http]`. The loop is expected to turn at least every `max_sleep`.
    ///
    /// # Errors
    /// [`HttpError::Token`] when the token cannot be read; [`HttpError::Bind`] when the address
    /// cannot be listened on.
    pub async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        max_sleep: Duration,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<Endpoint>>, HttpError> {
        let Some(http) = &config.http else { return Ok(None) };
        let token = http
            .token
            .as_ref()
            .map(|t| t.resolve(&config.dir))
            .transpose()
            .map_err(HttpError::Token)?;
        let listener = TcpListener::bind(http.listen)
            .await
            .map_err(|source| HttpError::Bind { listen: http.listen, source })?;
        let endpoint = Arc::new(Endpoint {
            store,
            clock,
            token,
            channels: config.channels.keys().cloned().collect(),
            wedged_after: (max_sleep * 3).max(Duration::from_secs(30)),
            last_turn: Mutex::new(Instant::now()),
            publish_duration: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            lateness: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            last_sync: Gauge::default(),
            synced: Mutex::new(None),
            last_posts: Mutex::new(None),
            building: tokio::sync::Semaphore::new(1),
        });
        tracing::info!(listen = %listener.local_addr().unwrap_or(http.listen), "HTTP endpoint listening");
        tokio::spawn(serve(endpoint.clone(), listener, cancel));
        Ok(Some(endpoint))
    }

    /// The dispatcher's monitor: records each turn of the loop and each settled delivery, and
    /// passes both on to `inner`.
    pub fn monitor(self: &Arc<Self>, inner: Arc<dyn Monitor>) -> Arc<dyn Monitor> {
        Arc::new(Watch { endpoint: self.clone(), inner })
    }

    /// Records that the files were just synced with `config`: the calendar routes show what
    /// that config and its post files lay.
    pub fn synced(&self, config: &Config) {
        let now = self.clock.now();
        self.last_sync.set(now.as_millisecond() as f64 / 1000.0);
        *self.synced.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Arc::new(config.clone()), now));
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else { return true };
        let given = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        constant_time_eq(given.as_bytes(), token.expose_secret().as_bytes())
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if !self.authorized(&request) {
            return reply(StatusCode::UNAUTHORIZED, "text/plain", "a bearer token is required\n")
                .with_header("www-authenticate", "Bearer");
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "read-only: GET only\n")
                .with_header("allow", "GET, HEAD");
        }
        match request.uri().path() {
            "/healthz" => self.health(),
            "/metrics" => self.metrics().await,
            "/calendar.ics" => self.calendar(Page::Feed).await,
            "/" => self.calendar(Page::Week).await,
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "/, /calendar.ics, /healthz and /metrics\n",
            ),
        }
    }

    fn health(&self) -> Response<Full<Bytes>> {
        let since = self.last_turn.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
        if since <= self.wedged_after {
            reply(StatusCode::OK, "text/plain", "ok\n")
        } else {
            let text =
                format!("wedged: the dispatch loop has not turned for {} s\n", since.as_secs());
            reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", &text)
        }
    }

    async fn metrics(&self) -> Response<Full<Bytes>> {
        // Counted by the database: a scrape costs the same whatever the queue holds.
        let status = match self.store.summary().await {
            Ok(status) => status,
            Err(e) => {
                let text = format!("cannot read the queue: {e}\n");
                return reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", &text);
            }
        };
        let mut counts: BTreeMap<(String, &str), i64> = BTreeMap::new();
        let mut channels = self.channels.clone();
        channels.extend(status.counts.iter().map(|(channel, _, _)| channel.clone()));
        for channel in channels {
            for state in STATES {
                counts.insert((channel.clone(), state), 0);
            }
        }
        for (channel, state, n) in &status.counts {
            *counts.entry((channel.clone(), state.as_str())).or_default() +=
                i64::try_from(*n).unwrap_or(i64::MAX);
        }
        let deliveries = Family::<DeliveryLabels, Gauge>::default();
        for ((channel, state), n) in counts {
            deliveries.get_or_create(&DeliveryLabels { channel, state: state.to_owned() }).set(n);
        }
        let expiry = Family::<ChannelLabels, Gauge<f64, AtomicU64>>::default();
        let now = self.clock.now();
        for c in &status.channels {
            if let Some(at) = c.token_expires_at {
                let left = at.duration_since(now).as_secs_f64();
                expiry.get_or_create(&ChannelLabels { channel: c.channel.clone() }).set(left);
            }
        }
        let mut registry = Registry::with_prefix("crieur");
        registry.register("deliveries", "Deliveries by channel and state", deliveries);
        registry.register(
            "publish_duration_seconds",
            "From an attempt's start to its outcome",
            self.publish_duration.clone(),
        );
        registry.register(
            "lateness_seconds",
            "From the instant a delivery was due to its first attempt's request",
            self.lateness.clone(),
        );
        registry.register(
            "token_expiry_seconds",
            "Seconds until the channel's token expires",
            expiry,
        );
        registry.register(
            "last_sync_timestamp_seconds",
            "When the post files were last synced (Unix seconds)",
            self.last_sync.clone(),
        );
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            let text = format!("cannot encode the metrics: {e}\n");
            return reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", &text);
        }
        reply(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", &text)
    }

    /// The live calendar as ICS or as the HTML week.
    async fn calendar(&self, page: Page) -> Response<Full<Bytes>> {
        let Some((config, synced_at)) =
            self.synced.lock().unwrap_or_else(|e| e.into_inner()).clone()
        else {
            return reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not synced yet\n");
        };
        let Ok(_turn) = self.building.acquire().await else {
            return reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "shutting down\n");
        };
        let now = self.clock.now();
        let known = match self.known(now).await {
            Ok(known) => known,
            Err(e) => {
                let text = format!("cannot read the queue: {e}\n");
                return reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", &text);
            }
        };
        let last_posts = self.last_posts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let built = tokio::task::spawn_blocking(move || {
            let posts = match crieur_config::load_posts(&config) {
                Ok(posts) => Arc::new(posts),
                Err(errors) => match last_posts {
                    Some(posts) => {
                        tracing::debug!(%errors, "the post files are invalid; the calendar shows the last valid ones");
                        posts
                    }
                    None => return Err(errors.to_string()),
                },
            };
            let weeks = if page == Page::Feed { FEED_WEEKS } else { 1 };
            let (from, to) = live::window(&config, now, weeks).map_err(|e| e.to_string())?;
            let preview = live::build(&config, &posts, &known, &from, &to, now)
                .map_err(|e| e.to_string())?;
            let body = match page {
                Page::Feed => crate::preview::ics::render(&preview, synced_at),
                Page::Week => crate::preview::html::render(&preview),
            };
            Ok((posts, body))
        })
        .await;
        match built {
            Ok(Ok((posts, body))) => {
                *self.last_posts.lock().unwrap_or_else(|e| e.into_inner()) = Some(posts);
                match page {
                    Page::Feed => reply(StatusCode::OK, "text/calendar; charset=utf-8", &body)
                        .with_header("content-disposition", "inline; filename=\"crieur.ics\""),
                    Page::Week => reply(StatusCode::OK, "text/html; charset=utf-8", &body)
                        .with_header("content-security-policy", PAGE_CSP),
                }
            }
            Ok(Err(e)) => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", &format!("{e}\n")),
            Err(e) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                &format!("the calendar could not be built: {e}\n"),
            ),
        }
    }

    /// What the store knows, as `preview` reads it.
    async fn known(&self, now: jiff::Timestamp) -> Result<Known, crieur_store::StoreError> {
        Ok(Known {
            status: self.store.status().await?,
            history: self.store.history(now - jiff::SignedDuration::from_hours(24 * 90)).await?,
            server_limits: self.store.server_limits().await?,
        })
    }
}

/// Which calendar route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    /// `/calendar.ics`.
    Feed,
    /// `/`.
    Week,
}

/// The dispatcher's monitor, seen by the endpoint on its way.
struct Watch {
    endpoint: Arc<Endpoint>,
    inner: Arc<dyn Monitor>,
}

impl Monitor for Watch {
    fn alive(&self) {
        *self.endpoint.last_turn.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.inner.alive();
    }

    fn sending(&self, delivery: &Delivery, due_at: jiff::Timestamp) {
        if delivery.attempt == 1 {
            let late = due_at.duration_until(self.endpoint.clock.now());
            self.endpoint.lateness.observe(late.as_secs_f64().max(0.0));
        }
        self.inner.sending(delivery, due_at);
    }

    fn settled(&self, delivery: &Delivery, outcome: &Outcome) {
        let took = self.endpoint.clock.now().duration_since(delivery.attempt_started_at);
        self.endpoint.publish_duration.observe(took.as_secs_f64().max(0.0));
        self.inner.settled(delivery, outcome);
    }
}

async fn serve(endpoint: Arc<Endpoint>, listener: TcpListener, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the HTTP endpoint cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (endpoint, cancel) = (endpoint.clone(), cancel.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let endpoint = endpoint.clone();
                async move { Ok::<_, Infallible>(endpoint.answer(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = cancel.cancelled() => {}
                done = connection => if let Err(e) = done {
                    tracing::debug!(error = %e, "HTTP endpoint connection ended");
                },
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

trait WithHeader {
    fn with_header(self, name: &'static str, value: &'static str) -> Self;
}

impl WithHeader for Response<Full<Bytes>> {
    fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers_mut().insert(name, hyper::header::HeaderValue::from_static(value));
        self
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(super::constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!super::constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!super::constant_time_eq(b"s3cret", b"s3cret!"));
        assert!(!super::constant_time_eq(b"", b"s3cret"));
    }
}
