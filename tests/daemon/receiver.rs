//! A Standard Webhooks receiver on loopback, on the tests' own HTTP server (`common::http`) rather
//! than a mock server: the tests need to hold requests until released, answer late, drop
//! connections, and see every request (duplicates included) with its arrival time, which a mock
//! server's matchers do not give.
//!
//! It behaves like a careful blog: it checks the signature, stores an event the first time it
//! sees its `webhook-id` and answers `{"id", "url"}`; a repeated `webhook-id` is answered with
//! the same document and not stored again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::common::http::{Conn, HeadError, Response, Server};

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
    base: Mutex<String>,
    log: Mutex<Vec<Request>>,
    rule: Mutex<Arc<Rule>>,
    /// webhook-id -> (post, channel, remote id) of each stored event.
    stored: Mutex<HashMap<String, (String, String, String)>>,
    release: watch::Sender<u64>,
    errors: Mutex<Vec<String>>,
}

/// The receiver; it stops when dropped.
pub struct Receiver {
    state: Arc<State>,
    server: Server,
}

impl Receiver {
    /// Listens on 127.0.0.1 (a free port), verifying signatures with `secret` (`whsec_...`).
    pub async fn start(secret: &str) -> Receiver {
        let (release, _) = watch::channel(0u64);
        let state = Arc::new(State {
            secret: standardwebhooks::Webhook::new(secret).unwrap(),
            base: Mutex::new(String::new()),
            log: Mutex::new(Vec::new()),
            rule: Mutex::new(Arc::new(|_: &Request| Answer::OK)),
            stored: Mutex::new(HashMap::new()),
            release,
            errors: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let server = Server::start(move |conn| serve(st.clone(), conn)).await;
        *state.base.lock().unwrap() = format!("http://{}", server.addr());
        Receiver { state, server }
    }

    /// The URL a channel posts to.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The public URL the receiver answers for a stored post.
    pub fn post_url(&self, post: &str, channel: &str) -> String {
        format!("{}/posts/{channel}/{post}", self.state.base.lock().unwrap())
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
        while self.server.open_connections() > 0 {
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

async fn serve(st: Arc<State>, mut conn: Conn) {
    loop {
        let head = match conn.read_request(1 << 20).await {
            Ok(head) => head,
            Err(HeadError::Closed) => return,
            Err(HeadError::TooLong) => {
                st.errors.lock().unwrap().push("request head over 1 MiB".into());
                return;
            }
            Err(HeadError::Malformed) => {
                st.errors.lock().unwrap().push("unparseable request head".into());
                return;
            }
        };
        let request_line = &head.line;
        let path = head.path.as_str();
        if head.method != "POST" || head.header("transfer-encoding").is_some() {
            st.errors
                .lock()
                .unwrap()
                .push(format!("unexpected request: {request_line} {:?}", head.headers));
            return;
        }
        let Some(len) = head.content_length() else {
            st.errors.lock().unwrap().push(format!("no content-length: {request_line}"));
            return;
        };
        let Some(body) = conn.read_body(len).await else { return };
        let at = Instant::now();

        let id = head.header("webhook-id").unwrap_or_default().to_owned();
        let timestamp = head.header("webhook-timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
        let sig = head.header("webhook-signature").unwrap_or_default().to_owned();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if head.header("content-type") != Some("application/json") {
            st.errors
                .lock()
                .unwrap()
                .push(format!("content-type of {id}: {:?}", head.header("content-type")));
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
            let url = format!("{}/posts/{}/{}", st.base.lock().unwrap(), req.channel, req.post);
            (status, serde_json::json!({ "id": remote, "url": url }).to_string())
        } else {
            (status, format!("{{\"error\":\"answered {status}\"}}"))
        };
        if conn.respond(&Response::typed(status, "application/json", text)).await.is_err() {
            return;
        }
        let mut log = st.log.lock().unwrap();
        log[index].answered = Some(Instant::now());
        log[index].status = Some(status);
    }
}
