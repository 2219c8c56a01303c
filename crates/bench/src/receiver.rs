//! The loopback receiver: a multi-threaded hyper HTTP/1 server on 127.0.0.1 that plays the blog.
//!
//! Each request must be a `POST /{channel}` carrying a Standard Webhooks signature made with
//! [`SECRET`] over the exact body, and a `post.published` event whose
//! `data.channel` is the path's channel; anything else is answered 401 (bad signature) or 400
//! and counted in [`Receiver::rejected`]. Accepted requests are answered 200 with an empty body
//! (crieur then takes the `webhook-id` as the remote id), and their arrival instant, read when
//! the request's head is parsed, is recorded with their `webhook-id`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::BenchError;
use crate::project::SECRET;

/// The largest request body read, in bytes.
const MAX_BODY: usize = 1 << 20;

/// One accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// When its head had been read (wall clock, comparable with due instants).
    pub at: Timestamp,
    /// Its `webhook-id` header: crieur's delivery id.
    pub id: String,
}

struct State {
    key: Vec<u8>,
    arrivals: Mutex<Vec<Arrival>>,
    rejected: AtomicU64,
}

/// A running receiver. Stops (its runtime shuts down) when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and serves on a runtime of its own with `threads` worker
    /// threads.
    ///
    /// # Errors
    /// [`BenchError::Io`] when the runtime cannot start or the port cannot be bound;
    /// [`BenchError::Invalid`] if the built-in secret does not decode.
    pub fn start(threads: usize) -> Result<Receiver, BenchError> {
        let key = secret_key()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("receiver")
            .enable_all()
            .build()
            .map_err(BenchError::io("starting the receiver's runtime", "tokio"))?;
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .map_err(BenchError::io("binding", "127.0.0.1:0"))?;
        let addr = listener.local_addr().map_err(BenchError::io("reading", "127.0.0.1:0"))?;
        let state = Arc::new(State {
            key,
            arrivals: Mutex::new(Vec::with_capacity(1 << 16)),
            rejected: AtomicU64::new(0),
        });
        runtime.spawn(accept_loop(listener, state.clone()));
        Ok(Receiver { addr, state, runtime: Some(runtime) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests were accepted since the last [`Receiver::take`].
    pub fn len(&self) -> usize {
        self.state.arrivals.lock().map_or(0, |a| a.len())
    }

    /// True when no request was accepted since the last [`Receiver::take`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The accepted requests since the last call, in arrival order; the record starts afresh.
    pub fn take(&self) -> Vec<Arrival> {
        let mut a = self.state.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *a)
    }

    /// How many requests were refused (bad signature, method, path or event) since the start.
    pub fn rejected(&self) -> u64 {
        self.state.rejected.load(Ordering::Relaxed)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The HMAC key of [`SECRET`].
fn secret_key() -> Result<Vec<u8>, BenchError> {
    let encoded = SECRET.strip_prefix("whsec_").unwrap_or(SECRET);
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| BenchError::Invalid(format!("the bench secret does not decode: {e}")))
}

/// `v1,` + base64(HMAC-SHA256(key, `{id}.{timestamp}.{body}`)), the Standard Webhooks signature.
///
/// # Errors
/// [`BenchError::Invalid`] if the HMAC refuses the key (it takes any length).
pub fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Result<String, BenchError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|e| BenchError::Invalid(format!("HMAC key: {e}")))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or similar: let connections close, then go on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, state.clone()));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Timestamp::now();
    let answer = |code: StatusCode| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = code;
        Ok(r)
    };
    let header =
        |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(id), Some(timestamp), Some(signature)) =
        (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"))
    else {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::UNAUTHORIZED);
    };
    let is_json = header("content-type").is_some_and(|c| c.starts_with("application/json"));
    let channel = req.uri().path().trim_start_matches('/').to_owned();
    if req.method() != hyper::Method::POST || !is_json || channel.is_empty() {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::BAD_REQUEST);
    }
    let Ok(body) = Limited::new(req.into_body(), MAX_BODY).collect().await.map(|b| b.to_bytes())
    else {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::BAD_REQUEST);
    };
    let signed = sign(&state.key, &id, &timestamp, &body).is_ok_and(|s| s == signature);
    if !signed {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::UNAUTHORIZED);
    }
    let event: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let valid = event.as_ref().is_some_and(|e| {
        e["type"] == "post.published"
            && e["data"]["channel"] == channel.as_str()
            && e["data"]["text"].is_string()
            && id.starts_with(e["data"]["id"].as_str().unwrap_or("\u{0}"))
    });
    if !valid {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::BAD_REQUEST);
    }
    state.arrivals.lock().unwrap_or_else(|e| e.into_inner()).push(Arrival { at, id });
    answer(StatusCode::OK)
}

/// What [`measure_capacity`] saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// Requests answered 200.
    pub requests: u64,
    /// Requests that failed or were not answered 200.
    pub errors: u64,
    /// Seconds spent.
    pub secs: f64,
}

impl Capacity {
    /// Requests answered per second.
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 { self.requests as f64 / self.secs } else { 0.0 }
    }
}

/// Drives `receiver` with `connections` keep-alive clients (each one request at a time, signed
/// like crieur's) as fast as they go, for `duration` or `max_requests` requests, whichever comes
/// first, on a runtime of `threads` threads of its own; then clears the receiver's record.
///
/// # Errors
/// [`BenchError::Io`] when the client runtime cannot start; [`BenchError::Invalid`] when no
/// client can be built.
pub fn measure_capacity(
    receiver: &Receiver,
    connections: usize,
    threads: usize,
    duration: Duration,
    max_requests: u64,
) -> Result<Capacity, BenchError> {
    let key = secret_key()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(BenchError::io("starting the client runtime", "tokio"))?;
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    crieur_net_http::install_crypto_provider();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..connections.max(1) {
            let client = reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(1)
                .build()
                .map_err(|e| BenchError::Invalid(format!("building a client: {e}")))?;
            let channel = format!("cap-{c:03}");
            let url = format!("http://{}/{channel}", receiver.addr());
            let id = format!("cap-{c}:{channel}:0");
            let body = format!(
                "{{\"type\":\"post.published\",\"timestamp\":\"2026-11-26T10:00:00Z\",\"data\":{{\"id\":\"cap-{c}\",\"channel\":\"{channel}\",\"text\":\"Capacity probe.\"}}}}"
            );
            let signature = sign(&key, &id, "1795687200", body.as_bytes())?;
            let (sent, errors) = (sent.clone(), errors.clone());
            tasks.spawn(async move {
                while Instant::now() < deadline && sent.load(Ordering::Relaxed) < max_requests {
                    let r = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("webhook-id", &id)
                        .header("webhook-timestamp", "1795687200")
                        .header("webhook-signature", &signature)
                        .body(body.clone())
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == reqwest::StatusCode::OK => {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok::<(), BenchError>(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    rt.shutdown_background();
    receiver.take();
    Ok(Capacity {
        requests: sent.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        secs,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn post(addr: SocketAddr, path: &str, id: &str, sig: Option<&str>, body: &str) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        crieur_net_http::install_crypto_provider();
        rt.block_on(async {
            let mut req = reqwest::Client::new()
                .post(format!("http://{addr}{path}"))
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", "1795687200")
                .body(body.to_owned());
            if let Some(sig) = sig {
                req = req.header("webhook-signature", sig);
            }
            req.send().await.unwrap().status().as_u16()
        })
    }

    #[test]
    fn accepts_signed_events_and_refuses_the_rest() {
        let r = Receiver::start(1).unwrap();
        let key = secret_key().unwrap();
        let body =
            r#"{"type":"post.published","data":{"id":"p1","channel":"hook-000","text":"hi"}}"#;
        let good = sign(&key, "p1:hook-000:0", "1795687200", body.as_bytes()).unwrap();
        let before = Timestamp::now();
        assert_eq!(post(r.addr(), "/hook-000", "p1:hook-000:0", Some(&good), body), 200);
        // A signature over other bytes, none at all, or the wrong channel's path.
        let bad = sign(&key, "p1:hook-000:0", "1795687201", body.as_bytes()).unwrap();
        assert_eq!(post(r.addr(), "/hook-000", "p1:hook-000:0", Some(&bad), body), 401);
        assert_eq!(post(r.addr(), "/hook-000", "p1:hook-000:0", None, body), 401);
        assert_eq!(post(r.addr(), "/hook-001", "p1:hook-000:0", Some(&good), body), 400);
        let arrivals = r.take();
        assert_eq!(arrivals.len(), 1);
        assert_eq!(arrivals[0].id, "p1:hook-000:0");
        assert!(arrivals[0].at >= before && arrivals[0].at <= Timestamp::now());
        assert_eq!(r.rejected(), 3);
        assert!(r.is_empty());
    }

    #[test]
    fn capacity_is_measured_and_cleared() {
        let r = Receiver::start(1).unwrap();
        let c = measure_capacity(&r, 2, 1, Duration::from_secs(5), 200).unwrap();
        assert!(c.requests >= 200 && c.requests < 210, "{c:?}");
        assert_eq!(c.errors, 0);
        assert!(c.per_sec() > 0.0);
        assert!(r.is_empty());
        assert_eq!(r.rejected(), 0);
    }
}
