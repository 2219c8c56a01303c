//! A Standard Webhooks receiver on loopback, written on tokio's TCP listener rather than taken
//! from a mock server: the tests need to hold requests until released, answer late, drop
//! connections, and see every request (duplicates included) with its arrival time, which a mock
//! server's matchers do not give.
//!
//! It behaves like a careful blog: it checks the signature, stores an event the first time it
//! sees its `webhook-id` and answers `{"id", "url"}`; a repeated `webhook-id` is answered with
//! the same document and not stored again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answer with this status after `delay` (2xx: stored, deduplicated by `webhook-id`).
    Status { status: u16, delay: Duration },
    /// Answer 200 only once [`Receiver::release`] is called (or never).
    Hold,
    /// Close the connection without answering.
    Drop,
}

impl Answer {
    /// 200 at once.
    pub const OK: Answer = Answer::Status { status: 200, delay: Duration::ZERO };

    /// 200 after `delay`.
    pub fn ok_after(delay: Duration) -> Answer {
        Answer::Status { status: 200, delay }
    }

    /// `status` at once.
    pub fn status(status: u16) -> Answer {
        Answer::Status { status, delay: Duration::ZERO }
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    /// Arrival (the end of its body), on the test's monotonic clock.
    pub at: Instant,
    /// Arrival on the wall clock.
    pub wall: jiff::Timestamp,
    /// Request path.
    pub path: String,
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// True when `webhook-signature` holds the HMAC the receiver computed itself.
    pub signature_ok: bool,
    /// `data.id` of the event: the post.
    pub post: String,
    /// `data.channel` of the event.
    pub channel: String,
    /// The whole event.
    pub body: serde_json::Value,
    /// When the answer was written (None: not answered, or the connection was gone).
    pub answered: Option<Instant>,
    /// The status answered, if any.
    pub status: Option<u16>,
    /// True when this request stored a new event (first 2xx of its `webhook-id`).
    pub stored: bool,
}

type Rule = dyn Fn(&Request) -> Answer + Send + Sync;

struct State {
    secret: standardwebhooks::Webhook,
    base: String,
    log: Mutex<Vec<Request>>,
    rule: Mutex<Arc<Rule>>,
    /// webhook-id -> (post, channel, remote id) of each stored event.
    stored: Mutex<HashMap<String, (String, String, String)>>,
    release: watch::Sender<u64>,
    errors: Mutex<Vec<String>>,
    /// Connections accepted and not yet closed.
    open: AtomicUsize,
}

/// Counts a connection as open until dropped.
struct Open(Arc<State>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The receiver; it stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on 127.0.0.1 (a free port), verifying signatures with `secret` (`whsec_...`).
    pub async fn start(secret: &str) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (release, _) = watch::channel(0u64);
        let state = Arc::new(State {
            secret: standardwebhooks::Webhook::new(secret).unwrap(),
            base: format!("http://{addr}"),
            log: Mutex::new(Vec::new()),
            rule: Mutex::new(Arc::new(|_: &Request| Answer::OK)),
            stored: Mutex::new(HashMap::new()),
            release,
            errors: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                st.open.fetch_add(1, Ordering::SeqCst);
                let guard = Open(st.clone());
                let st = st.clone();
                tokio::spawn(async move {
                    serve(st, stream).await;
                    drop(guard);
                });
            }
        });
        Receiver { addr, state, task }
    }

    /// The URL a channel posts to.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The public URL the receiver answers for a stored post.
    pub fn post_url(&self, post: &str, channel: &str) -> String {
        format!("{}/posts/{channel}/{post}", self.state.base)
    }

    /// How to answer from now on.
    pub fn set(&self, rule: impl Fn(&Request) -> Answer + Send + Sync + 'static) {
        *self.state.rule.lock().unwrap() = Arc::new(rule);
    }

    /// Lets every held request (now and later ones already waiting) be answered 200.
    pub fn release(&self) {
        self.state.release.send_modify(|g| *g += 1);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// How many events are stored (distinct `webhook-id`s accepted).
    pub fn stored_count(&self) -> usize {
        self.state.stored.lock().unwrap().len()
    }

    /// Requests that arrived after `since` and are not answered yet.
    pub fn in_flight_since(&self, since: Instant) -> usize {
        self.state
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.at >= since && r.answered.is_none())
            .count()
    }

    /// Waits until every connection is closed (a killed sender's are closed by its kernel, and
    /// the receiver sees their end only after reading all they carried), up to `timeout`;
    /// returns whether they were.
    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.state.open.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Problems the receiver met (malformed requests).
    pub fn errors(&self) -> Vec<String> {
        self.state.errors.lock().unwrap().clone()
    }

    /// Waits until `cond` holds on the request log, up to `timeout`; returns whether it did.
    pub async fn wait_for(&self, timeout: Duration, cond: impl Fn(&[Request]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(&self.state.log.lock().unwrap()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Checks what every test expects of the traffic: no malformed request, every signature
    /// valid, `webhook-id` = `post:channel:0`, and each (post, channel) stored under one
    /// `webhook-id` only. Returns the number of requests per `webhook-id`.
    pub fn check_traffic(&self) -> HashMap<String, usize> {
        assert!(self.errors().is_empty(), "malformed requests: {:?}", self.errors());
        let mut per_id: HashMap<String, usize> = HashMap::new();
        let mut ids_per_pair: HashMap<(String, String), std::collections::HashSet<String>> =
            HashMap::new();
        for r in self.requests() {
            assert!(r.signature_ok, "bad signature on {} (timestamp {})", r.id, r.timestamp);
            assert_eq!(r.id, format!("{}:{}:0", r.post, r.channel), "webhook-id of {r:?}");
            assert_eq!(r.path, format!("/hooks/{}", r.channel), "each channel has its own path");
            *per_id.entry(r.id.clone()).or_default() += 1;
            ids_per_pair.entry((r.post.clone(), r.channel.clone())).or_default().insert(r.id);
        }
        for (pair, ids) in &ids_per_pair {
            assert_eq!(ids.len(), 1, "{pair:?} was sent under several webhook-ids: {ids:?}");
        }
        let stored = self.state.stored.lock().unwrap();
        let stored_per_pair = stored.values().fold(HashMap::new(), |mut m, (p, c, _)| {
            *m.entry((p.clone(), c.clone())).or_insert(0usize) += 1;
            m
        });
        for (pair, n) in stored_per_pair {
            assert_eq!(n, 1, "{pair:?} stored {n} times");
        }
        per_id
    }
}

/// Verifies `v1,` signatures by recomputing the HMAC with the reference crate (not with
/// crieur's signer), over the exact bytes received.
fn signature_ok(
    secret: &standardwebhooks::Webhook,
    id: &str,
    ts: i64,
    body: &[u8],
    header: &str,
) -> bool {
    let Ok(expected) = secret.sign(id, ts, body) else { return false };
    header.split(' ').any(|s| s == expected)
}

async fn serve(st: Arc<State>, mut stream: TcpStream) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Head.
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 1 << 20 {
                st.errors.lock().unwrap().push("request head over 1 MiB".into());
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_owned();
        let mut headers: HashMap<String, String> = HashMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let mut parts = request_line.split(' ');
        let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        if method != "POST" || headers.contains_key("transfer-encoding") {
            st.errors
                .lock()
                .unwrap()
                .push(format!("unexpected request: {request_line} {headers:?}"));
            return;
        }
        let Some(len) = headers.get("content-length").and_then(|l| l.parse::<usize>().ok()) else {
            st.errors.lock().unwrap().push(format!("no content-length: {request_line}"));
            return;
        };
        let start = head_end + 4;
        while buf.len() < start + len {
            let mut chunk = [0u8; 65536];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf[start..start + len].to_vec();
        buf.drain(..start + len);
        let at = Instant::now();

        let id = headers.get("webhook-id").cloned().unwrap_or_default();
        let timestamp = headers.get("webhook-timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
        let sig = headers.get("webhook-signature").cloned().unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if headers.get("content-type").map(String::as_str) != Some("application/json") {
            st.errors
                .lock()
                .unwrap()
                .push(format!("content-type of {id}: {:?}", headers.get("content-type")));
        }
        let mut req = Request {
            at,
            wall: jiff::Timestamp::now(),
            path: path.to_owned(),
            signature_ok: signature_ok(&st.secret, &id, timestamp, &body, &sig),
            id: id.clone(),
            timestamp,
            post: json["data"]["id"].as_str().unwrap_or_default().to_owned(),
            channel: json["data"]["channel"].as_str().unwrap_or_default().to_owned(),
            body: json,
            answered: None,
            status: None,
            stored: false,
        };
        let rule = st.rule.lock().unwrap().clone();
        let answer = rule(&req);
        let (status, delay) = match answer {
            Answer::Status { status, delay } => (status, Some(delay)),
            Answer::Hold => (200, None),
            Answer::Drop => (0, None),
        };
        // A 2xx is stored on arrival (the blog commits, then answers), once per webhook-id.
        let remote = if (200..300).contains(&status) && req.signature_ok {
            let mut stored = st.stored.lock().unwrap();
            let n = stored.len();
            let entry = stored.entry(id.clone()).or_insert_with(|| {
                req.stored = true;
                (req.post.clone(), req.channel.clone(), format!("r{n}"))
            });
            Some(entry.2.clone())
        } else {
            None
        };
        let index = {
            let mut log = st.log.lock().unwrap();
            log.push(req.clone());
            log.len() - 1
        };
        if answer == Answer::Drop {
            return;
        }
        match delay {
            Some(d) if !d.is_zero() => tokio::time::sleep(d).await,
            Some(_) => {}
            None => {
                let mut rx = st.release.subscribe();
                rx.borrow_and_update();
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
        let (status, text) = if (200..300).contains(&status) && !req.signature_ok {
            (401u16, "{\"error\":\"bad signature\"}".to_owned())
        } else if let Some(remote) = remote {
            let url = format!("{}/posts/{}/{}", st.base, req.channel, req.post);
            (status, serde_json::json!({ "id": remote, "url": url }).to_string())
        } else {
            (status, format!("{{\"error\":\"answered {status}\"}}"))
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            500 => "Internal Server Error",
            _ => "Status",
        };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        let mut log = st.log.lock().unwrap();
        log[index].answered = Some(Instant::now());
        log[index].status = Some(status);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
