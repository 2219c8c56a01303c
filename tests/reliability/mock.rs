//! One fault-injecting mock of the six networks on 127.0.0.1, on the tests' own HTTP server
//! (`common::http`) rather than a mock server: the faults need control over the socket itself (answer half, drop the connection after processing, reset it before
//! reading the body, stream 100 MB, send a 1 MB header), which mock servers do not give.
//!
//! Paths: `/x/...` is X (`POST /2/tweets`, `GET /2/users/me`, `GET /2/users/{id}/tweets`,
//! `POST /2/oauth2/token` with single-use rotating refresh tokens), `/li/...` is LinkedIn
//! (`POST /rest/posts`, `POST /oauth/v2/accessToken`), `/fb/...` is Facebook
//! (`POST /v25.0/{page}/feed`, `GET /v25.0/{page}/published_posts`), `/hook/{name}` is a webhook
//! receiver (signature checked, events deduplicated on `webhook-id`), `/masto/...` is a Mastodon
//! server (`POST /api/v1/statuses` with `Idempotency-Key` semantics, the account's statuses and
//! their sources read back, `GET /api/v2/instance`), `/bsky/...` is a Bluesky PDS (sessions from
//! an app password with rotating refresh tokens, `createRecord` with a client-chosen `rkey` that
//! answers 500 when the key exists, as bsky.social does, and `getRecord`).
//!
//! Every request is checked strictly (method, headers, token, body shape); anything off is a
//! protocol violation that fails the scenario. Every post the mock accepted is recorded with the
//! account, the text, the id given back and the `webhook-id`, which is what the delivery
//! invariant is checked against.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::common::http::{Conn, HeadError, Request, Response as Answer, Server, reason};

/// The six networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Net {
    X,
    Linkedin,
    Facebook,
    Webhook,
    Mastodon,
    Bluesky,
}

impl Net {
    pub const ALL: [Net; 6] =
        [Net::X, Net::Linkedin, Net::Facebook, Net::Webhook, Net::Mastodon, Net::Bluesky];

    pub fn name(self) -> &'static str {
        match self {
            Net::X => "x",
            Net::Linkedin => "linkedin",
            Net::Facebook => "facebook",
            Net::Webhook => "webhook",
            Net::Mastodon => "mastodon",
            Net::Bluesky => "bluesky",
        }
    }
}

/// What the mock does with one request that creates a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Answer normally.
    Normal,
    /// 429 with the network's reset headers (X `x-rate-limit-*`, `Retry-After` elsewhere;
    /// Facebook: a code-32 error with `estimated_time_to_regain_access` when
    /// [`Mock::facebook_regain_minutes`] is set).
    RateLimit,
    /// This status before processing anything (nothing is created).
    Status(u16),
    /// Create the post, then answer this status.
    StatusAfterAccept(u16),
    /// Create the post, then close the connection without answering.
    DropAfterAccept,
    /// Create the post, then answer nothing for 40 s (past the clients' 30 s timeout).
    Timeout,
    /// Read the request head, then reset the connection (nothing is created).
    ResetBeforeBody,
    /// 401: the access token presented is dead from now on (the client refreshes, then sends
    /// again). X and LinkedIn only; a token issued less than 5 s ago is answered normally.
    Unauthorized,
    /// Create the post, then answer 2xx with malformed JSON.
    MalformedJson,
    /// Create the post, then answer 2xx with an empty body.
    EmptyBody,
    /// Create the post, then answer 2xx with a 100 MB body (streamed, chunked).
    HugeBody,
    /// Create the post, then answer 2xx with a 1 MB header.
    HugeHeader,
    /// Create the post and answer normally after this many milliseconds (below the timeout).
    Slow(u32),
}

impl Fault {
    /// A name for counting (`status-503`, `timeout`...).
    pub fn name(self) -> String {
        match self {
            Fault::Normal => "normal".into(),
            Fault::RateLimit => "rate-limit-429".into(),
            Fault::Status(s) => format!("status-{s}"),
            Fault::StatusAfterAccept(s) => format!("accept-then-{s}"),
            Fault::DropAfterAccept => "accept-then-drop".into(),
            Fault::Timeout => "accept-then-timeout".into(),
            Fault::ResetBeforeBody => "reset-before-body".into(),
            Fault::Unauthorized => "401-then-refresh".into(),
            Fault::MalformedJson => "malformed-json".into(),
            Fault::EmptyBody => "empty-body".into(),
            Fault::HugeBody => "body-100mb".into(),
            Fault::HugeHeader => "header-1mb".into(),
            Fault::Slow(_) => "slow".into(),
        }
    }

    /// The full matrix on `net` (every kind once; 401 only where a refresh exists).
    pub fn matrix(net: Net) -> Vec<Fault> {
        let mut all = vec![
            Fault::RateLimit,
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::StatusAfterAccept(500),
            Fault::StatusAfterAccept(503),
            Fault::DropAfterAccept,
            Fault::Timeout,
            Fault::ResetBeforeBody,
            Fault::MalformedJson,
            Fault::EmptyBody,
            Fault::HugeBody,
            Fault::HugeHeader,
        ];
        if matches!(net, Net::X | Net::Linkedin) {
            all.push(Fault::Unauthorized);
        }
        all
    }

    /// The kinds random runs draw from (no 40 s timeout: a slow answer instead).
    pub fn chaos_kinds(net: Net) -> Vec<Fault> {
        let mut all: Vec<Fault> = Fault::matrix(net)
            .into_iter()
            .filter(|f| !matches!(f, Fault::Timeout | Fault::ResetBeforeBody))
            .collect();
        all.push(Fault::Slow(1500));
        all
    }
}

/// Faults drawn at random for requests that no script covers.
pub struct Chaos {
    rng: StdRng,
    /// Probability that a post request gets a fault.
    pub post_rate: f64,
    /// Probability that a reconciliation read gets a fault (503 or a reset).
    pub read_rate: f64,
}

impl Chaos {
    pub fn new(seed: u64, post_rate: f64, read_rate: f64) -> Chaos {
        Chaos { rng: StdRng::seed_from_u64(seed), post_rate, read_rate }
    }
}

/// How long a freshly issued access token is safe from a 401 fault.
const FRESH: Duration = Duration::from_secs(5);

/// One post the mock accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub net: Net,
    /// X user id, LinkedIn author URN, Facebook Page id, webhook name.
    pub account: String,
    /// The post id, read from the text (or the webhook event's `data.id`).
    pub post: String,
    pub text: String,
    /// The id the mock gave back.
    pub id: String,
    /// Ids a client may have learned for it (the id, and for a webhook whose answer could not
    /// be read, the `webhook-id`).
    pub known_ids: Vec<String>,
    /// The `data.channel` of a webhook event.
    pub channel: Option<String>,
    pub at: Timestamp,
}

#[derive(Default)]
struct State {
    accepted: Vec<Accepted>,
    script: HashMap<(Net, String), VecDeque<Fault>>,
    chaos: Option<Chaos>,
    faults: BTreeMap<String, u64>,
    requests: BTreeMap<String, u64>,
    violations: Vec<String>,
    /// Live access tokens: token -> (network, account).
    access: HashMap<String, (Net, String)>,
    /// Live refresh tokens: token -> (network, account).
    refresh: HashMap<String, (Net, String)>,
    /// Spent (rotated away) X refresh tokens.
    spent: HashSet<String>,
    /// Times a spent refresh token was presented again.
    refresh_reuse: u64,
    /// Refreshes granted.
    refreshes: u64,
    /// LinkedIn: (author, commentary) -> URN.
    li_posts: HashMap<(String, String), String>,
    /// Webhook: webhook-id -> index in `accepted`.
    hooks: HashMap<String, usize>,
    /// Webhook ids seen (stored or not) by (post, channel).
    hook_ids: HashMap<(String, String), HashSet<String>>,
    next_id: u64,
    token_serial: u64,
    /// When the mock issued each refreshed access token.
    issued: HashMap<String, std::time::Instant>,
    /// Post requests to reset before their body, per network.
    armed_resets: HashMap<Net, u32>,
    /// Mastodon: (account, Idempotency-Key) -> index in `accepted`.
    masto_keys: HashMap<(String, String), usize>,
    /// Bluesky: (DID, rkey) -> index in `accepted`.
    bsky_records: HashMap<(String, String), usize>,
    /// Bluesky accounts: handle -> (DID, app password).
    bsky_accounts: HashMap<String, (String, String)>,
    /// Bluesky logins (`createSession`) granted.
    bsky_logins: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn count_fault(&mut self, net: Net, fault: Fault) {
        if fault != Fault::Normal {
            *self.faults.entry(format!("{}:{}", net.name(), fault.name())).or_default() += 1;
        }
    }

    fn violation(&mut self, what: String) {
        eprintln!("mock: protocol violation: {what}");
        self.violations.push(what);
    }
}

/// Credentials the mock's token endpoints accept.
#[derive(Clone)]
pub struct Apps {
    pub x_client_id: String,
    pub x_client_secret: String,
    pub li_client_id: String,
    pub li_client_secret: String,
    /// The webhook secret, `whsec_...`.
    pub webhook_secret: String,
    /// Prefix of every token the mock issues (distinctive, for leak searches).
    pub token_prefix: String,
}

struct Inner {
    state: Mutex<State>,
    /// Post requests whose head was read and whose answer is not finished.
    in_flight: std::sync::atomic::AtomicUsize,
    apps: Apps,
    hook: standardwebhooks::Webhook,
    fb_regain_minutes: Mutex<Option<u32>>,
    /// Mastodon's `configuration.statuses.max_characters`.
    masto_max_characters: std::sync::atomic::AtomicU32,
}

/// The running mock. Stops when dropped.
pub struct Mock {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
    _server: Server,
}

impl Mock {
    pub async fn start(apps: Apps) -> Mock {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            hook: standardwebhooks::Webhook::new(&apps.webhook_secret).unwrap(),
            apps,
            fb_regain_minutes: Mutex::new(None),
            masto_max_characters: std::sync::atomic::AtomicU32::new(500),
        });
        let serving = inner.clone();
        let server = Server::start(move |conn| connection(serving.clone(), conn)).await;
        Mock { inner, addr: server.addr(), _server: server }
    }

    /// `http://127.0.0.1:PORT/PREFIX`.
    pub fn base(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap()
    }

    /// An X user with its first tokens.
    pub fn add_x_user(&self, user: &str, access: &str, refresh: &str) {
        let mut s = self.state();
        s.access.insert(access.into(), (Net::X, user.into()));
        s.refresh.insert(refresh.into(), (Net::X, user.into()));
    }

    /// A LinkedIn author with its first tokens.
    pub fn add_linkedin(&self, author: &str, access: &str, refresh: &str) {
        let mut s = self.state();
        s.access.insert(access.into(), (Net::Linkedin, author.into()));
        s.refresh.insert(refresh.into(), (Net::Linkedin, author.into()));
    }

    /// A Facebook Page and its Page token.
    pub fn add_page(&self, page: &str, token: &str) {
        self.state().access.insert(token.into(), (Net::Facebook, page.into()));
    }

    /// A Mastodon account (its numeric id) and its access token.
    pub fn add_mastodon(&self, account: &str, token: &str) {
        self.state().access.insert(token.into(), (Net::Mastodon, account.into()));
    }

    /// A Bluesky account: its handle, DID and app password.
    pub fn add_bluesky(&self, handle: &str, did: &str, password: &str) {
        self.state().bsky_accounts.insert(handle.into(), (did.into(), password.into()));
    }

    /// The character limit the Mastodon server announces from now on.
    pub fn set_mastodon_max_characters(&self, n: u32) {
        self.inner.masto_max_characters.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Bluesky logins granted (each is one of the 30 allowed per 5 minutes).
    pub fn bluesky_logins(&self) -> u64 {
        self.state().bsky_logins
    }

    /// Faults for the successive post requests of `post` on `net` (then normal answers).
    /// [`Fault::ResetBeforeBody`] cannot be scripted by post (the post is in the body): use
    /// [`Mock::arm_resets`].
    pub fn script(&self, net: Net, post: &str, faults: &[Fault]) {
        assert!(!faults.contains(&Fault::ResetBeforeBody), "use arm_resets");
        self.state().script.entry((net, post.into())).or_default().extend(faults.iter().copied());
    }

    /// The next `n` post requests on `net` are reset once their head is read.
    pub fn arm_resets(&self, net: Net, n: u32) {
        *self.state().armed_resets.entry(net).or_default() += n;
    }

    pub fn set_chaos(&self, chaos: Chaos) {
        self.state().chaos = Some(chaos);
    }

    /// Facebook rate limits as a code-32 error whose usage header gives this wait (minutes);
    /// without it, a bare 429 with `Retry-After: 1`.
    pub fn facebook_regain_minutes(&self, minutes: Option<u32>) {
        *self.inner.fb_regain_minutes.lock().unwrap() = minutes;
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.state().accepted.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Faults injected, by `network:kind`.
    pub fn faults(&self) -> BTreeMap<String, u64> {
        self.state().faults.clone()
    }

    /// Requests received, by `network:kind`.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.state().requests.clone()
    }

    /// Scripted faults not used yet.
    pub fn unused_script(&self) -> Vec<(Net, String, Vec<Fault>)> {
        self.state()
            .script
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|((n, p), q)| (*n, p.clone(), q.iter().copied().collect()))
            .collect()
    }

    /// Webhook ids seen per (post, channel).
    pub fn webhook_ids(&self) -> HashMap<(String, String), HashSet<String>> {
        self.state().hook_ids.clone()
    }

    /// (refreshes granted, spent refresh tokens presented again).
    pub fn refresh_counts(&self) -> (u64, u64) {
        let s = self.state();
        (s.refreshes, s.refresh_reuse)
    }

    /// Post requests in progress right now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every token the mock issued or knows (for leak searches).
    pub fn all_tokens(&self) -> Vec<String> {
        let s = self.state();
        s.access.keys().chain(s.refresh.keys()).chain(s.spent.iter()).cloned().collect()
    }
}

/// What to do on the socket after deciding.
enum Reply {
    Answer(Answer),
    /// This answer after a delay.
    Late(Answer, Duration),
    /// Close without answering.
    Drop,
    /// Answer nothing until the client gives up (or 40 s).
    Hang,
    /// Reset the connection.
    Reset,
    /// This answer with a 100 MB body, chunked.
    Huge(Answer),
    /// This answer with a 1 MB header.
    HugeHeader(Answer),
}

async fn connection(inner: Arc<Inner>, mut conn: Conn) {
    loop {
        let mut req = match conn.read_request(64 * 1024).await {
            Ok(req) => req,
            Err(HeadError::Closed | HeadError::TooLong) => return,
            Err(HeadError::Malformed) => {
                inner.state.lock().unwrap().violation("unparseable request head".into());
                return;
            }
        };
        let _counted = is_post_create(&req).then(|| InFlight::new(&inner));
        // Reset before the body is read: decided on the head alone.
        if is_post_create(&req) && inner.reset_now(&req) {
            conn.reset();
            return;
        }
        let len = match req.header("content-length").map(str::parse::<usize>) {
            Some(Ok(n)) if n <= 1024 * 1024 => n,
            None if req.header("transfer-encoding").is_none() => 0,
            _ => {
                inner.state.lock().unwrap().violation(format!(
                    "{} {}: a body without a usable content-length",
                    req.method, req.path
                ));
                return;
            }
        };
        let Some(body) = conn.read_body(len).await else { return };
        req.body = body;
        let reply = inner.handle(&req);
        let keep = !req.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let reply = match reply {
            Reply::Late(a, delay) => {
                tokio::time::sleep(delay).await;
                Reply::Answer(a)
            }
            other => other,
        };
        match reply {
            Reply::Late(..) => return,
            Reply::Answer(a) => {
                if conn.respond(&a).await.is_err() || !keep {
                    return;
                }
            }
            Reply::Drop => return,
            Reply::Reset => {
                conn.reset();
                return;
            }
            Reply::Hang => {
                conn.drain(Duration::from_secs(40)).await;
                return;
            }
            Reply::Huge(a) => {
                let head = a.head("transfer-encoding: chunked\r\n", None);
                if conn.stream.write_all(&head).await.is_err() {
                    return;
                }
                // 100 MB of JSON whitespace, then the real answer: only a client that reads
                // it all would see the id.
                let chunk = vec![b' '; 64 * 1024];
                let framed =
                    [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()]
                        .concat();
                for _ in 0..(100 * 1024 * 1024 / (64 * 1024)) {
                    if conn.stream.write_all(&framed).await.is_err() {
                        return;
                    }
                }
                let tail = [
                    format!("{:x}\r\n", a.body.len()).into_bytes(),
                    a.body.clone(),
                    b"\r\n0\r\n\r\n".to_vec(),
                ]
                .concat();
                let _ = conn.stream.write_all(&tail).await;
                return;
            }
            Reply::HugeHeader(a) => {
                let filler = format!("x-filler: {}\r\n", "a".repeat(1024 * 1024));
                let mut out = a.head(&filler, Some(a.body.len()));
                out.extend_from_slice(&a.body);
                let _ = conn.stream.write_all(&out).await;
                return;
            }
        }
    }
}

/// Counts a post request in progress until dropped.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn new(inner: &Arc<Inner>) -> InFlight {
        inner.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(inner.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A request that creates a post (the one faults apply to).
fn is_post_create(req: &Request) -> bool {
    req.method == "POST"
        && (req.path == "/x/2/tweets"
            || req.path == "/li/rest/posts"
            || (req.path.starts_with("/fb/") && req.path.ends_with("/feed"))
            || req.path.starts_with("/hook/")
            || req.path == "/masto/api/v1/statuses"
            || req.path == "/bsky/xrpc/com.atproto.repo.createRecord")
}

fn net_of(path: &str) -> Option<Net> {
    if path.starts_with("/x/") {
        Some(Net::X)
    } else if path.starts_with("/li/") {
        Some(Net::Linkedin)
    } else if path.starts_with("/fb/") {
        Some(Net::Facebook)
    } else if path.starts_with("/hook/") {
        Some(Net::Webhook)
    } else if path.starts_with("/masto/") {
        Some(Net::Mastodon)
    } else if path.starts_with("/bsky/") {
        Some(Net::Bluesky)
    } else {
        None
    }
}

/// `r0042` from "Notes from the team, part r0042. What would you add?".
pub fn post_of(text: &str) -> Option<String> {
    let rest = text.split("part ").nth(1)?;
    let id: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (!id.is_empty()).then_some(id)
}

impl Inner {
    /// The fault for the next post request of `post` on `net`: its script first, else chaos.
    fn next_fault(&self, s: &mut State, net: Net, post: &str) -> Fault {
        if let Some(f) = s.script.get_mut(&(net, post.to_owned())).and_then(VecDeque::pop_front) {
            return f;
        }
        let Some(chaos) = s.chaos.as_mut() else { return Fault::Normal };
        if chaos.rng.random_bool(chaos.post_rate) {
            let kinds = Fault::chaos_kinds(net);
            kinds[chaos.rng.random_range(0..kinds.len())]
        } else {
            Fault::Normal
        }
    }

    /// A fault for a reconciliation read, drawn from chaos only.
    fn read_fault(&self, s: &mut State) -> Option<Reply> {
        let chaos = s.chaos.as_mut()?;
        if !chaos.rng.random_bool(chaos.read_rate) {
            return None;
        }
        Some(if chaos.rng.random_bool(0.5) {
            Reply::Answer(Answer::json(503, &json!({"title": "Service Unavailable"})))
        } else {
            Reply::Reset
        })
    }

    /// Whether this post request resets before its body is read: decided on the head alone
    /// (the post it carries is in the body), from the armed resets of its network, else drawn
    /// from chaos.
    fn reset_now(&self, req: &Request) -> bool {
        let mut s = self.state.lock().unwrap();
        let Some(net) = net_of(&req.path) else { return false };
        let armed = s.armed_resets.entry(net).or_default();
        let reset = if *armed > 0 {
            *armed -= 1;
            true
        } else if let Some(chaos) = s.chaos.as_mut() {
            let p = chaos.post_rate / Fault::chaos_kinds(net).len() as f64;
            chaos.rng.random_bool(p)
        } else {
            false
        };
        if reset {
            *s.requests.entry(format!("{}:post", net.name())).or_default() += 1;
            s.count_fault(net, Fault::ResetBeforeBody);
        }
        reset
    }

    fn handle(&self, req: &Request) -> Reply {
        let mut s = self.state.lock().unwrap();
        let Some(net) = net_of(&req.path) else {
            s.violation(format!("{} {}: unknown path", req.method, req.path));
            return Reply::Answer(Answer::json(404, &json!({"error": "not found"})));
        };
        let kind = if is_post_create(req) {
            "post"
        } else if req.path.ends_with("token")
            || req.path.ends_with("accessToken")
            || req.path.ends_with("Session") && req.method == "POST"
        {
            "token"
        } else {
            "read"
        };
        *s.requests.entry(format!("{}:{kind}", net.name())).or_default() += 1;
        match net {
            Net::X => self.x(&mut s, req),
            Net::Linkedin => self.linkedin(&mut s, req),
            Net::Facebook => self.facebook(&mut s, req),
            Net::Webhook => self.webhook(&mut s, req),
            Net::Mastodon => self.mastodon(&mut s, req),
            Net::Bluesky => self.bluesky(&mut s, req),
        }
    }

    /// Applies the fault of a post request whose checks passed. `create` records the post and
    /// returns the normal answer; `rate`/`unauthorized` build those answers.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        s: &mut State,
        net: Net,
        post: &str,
        token: Option<&str>,
        create: impl FnOnce(&mut State, Fault) -> Answer,
        rate: impl FnOnce() -> Answer,
        unauthorized: impl FnOnce() -> Answer,
    ) -> Reply {
        let mut fault = self.next_fault(s, net, post);
        // A 401 stands for an access token that expired: one issued moments ago (by a refresh
        // that answered the previous 401) does not expire yet, as no real token would.
        if fault == Fault::Unauthorized
            && token.and_then(|t| s.issued.get(t)).is_some_and(|at| at.elapsed() < FRESH)
        {
            fault = Fault::Normal;
        }
        s.count_fault(net, fault);
        match fault {
            Fault::RateLimit => return Reply::Answer(rate()),
            Fault::Status(code) => {
                return Reply::Answer(Answer::json(code, &json!({"message": reason(code)})));
            }
            Fault::ResetBeforeBody => return Reply::Reset,
            Fault::Unauthorized => {
                if let Some(t) = token {
                    s.access.remove(t);
                }
                return Reply::Answer(unauthorized());
            }
            _ => {}
        }
        let answer = create(s, fault);
        match fault {
            Fault::Slow(ms) => Reply::Late(answer, Duration::from_millis(u64::from(ms))),
            Fault::StatusAfterAccept(code) => {
                Reply::Answer(Answer::json(code, &json!({"message": reason(code)})))
            }
            Fault::DropAfterAccept => Reply::Drop,
            Fault::Timeout => Reply::Hang,
            Fault::MalformedJson => {
                Reply::Answer(Answer { body: br#"{"data": {"id": "#.to_vec(), ..answer })
            }
            Fault::EmptyBody => Reply::Answer(Answer { body: Vec::new(), ..answer }),
            Fault::HugeBody => Reply::Huge(answer),
            Fault::HugeHeader => Reply::HugeHeader(answer),
            _ => Reply::Answer(answer),
        }
    }
}

fn problem(status: u16, detail: &str) -> Answer {
    Answer::json(
        status,
        &json!({"title": reason(status), "detail": detail, "type": "about:blank", "status": status}),
    )
}

fn unix_now() -> i64 {
    Timestamp::now().as_second()
}

impl Inner {
    fn check_basic(&self, req: &Request, id: &str, secret: &str) -> bool {
        let want = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req.header("authorization").and_then(|v| v.strip_prefix("Basic ")) == Some(want.as_str())
    }

    fn new_token(&self, s: &mut State, what: &str) -> String {
        s.token_serial += 1;
        format!(
            "{}-{what}-{:06}-{:016x}",
            self.apps.token_prefix,
            s.token_serial,
            rand::random::<u64>()
        )
    }

    /// A refresh grant: checks the client and the refresh token, rotates when `rotate`.
    fn refresh_grant(&self, s: &mut State, req: &Request, net: Net, rotate: bool) -> Answer {
        if req.header("content-type") != Some("application/x-www-form-urlencoded") {
            s.violation(format!("{} token request without a form content type", net.name()));
        }
        let form: HashMap<String, String> = req.form().into_iter().collect();
        let (id, secret) = match net {
            Net::X => (&self.apps.x_client_id, &self.apps.x_client_secret),
            _ => (&self.apps.li_client_id, &self.apps.li_client_secret),
        };
        let basic = self.check_basic(req, id, secret);
        let in_body =
            form.get("client_id") == Some(id) && form.get("client_secret") == Some(secret);
        if !basic && !in_body {
            s.violation(format!("{} token request without the client's credentials", net.name()));
            return Answer::json(401, &json!({"error": "invalid_client"}));
        }
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            s.violation(format!(
                "{} token request with grant {:?}",
                net.name(),
                form.get("grant_type")
            ));
            return Answer::json(400, &json!({"error": "unsupported_grant_type"}));
        }
        let Some(presented) = form.get("refresh_token") else {
            s.violation(format!("{} token request without refresh_token", net.name()));
            return Answer::json(400, &json!({"error": "invalid_request"}));
        };
        let Some((n, account)) = s.refresh.get(presented).cloned() else {
            if s.spent.contains(presented) {
                s.refresh_reuse += 1;
                eprintln!("mock: a spent {} refresh token was presented again", net.name());
            } else {
                s.violation(format!(
                    "{} token request with a refresh token never issued",
                    net.name()
                ));
            }
            return Answer::json(
                400,
                &json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."}),
            );
        };
        if n != net {
            s.violation(format!("a {} refresh token sent to {}", n.name(), net.name()));
        }
        let access = self.new_token(s, &format!("{}-access", net.name()));
        s.access.insert(access.clone(), (net, account.clone()));
        s.issued.insert(access.clone(), std::time::Instant::now());
        let refresh = if rotate {
            s.refresh.remove(presented);
            s.spent.insert(presented.clone());
            let r = self.new_token(s, &format!("{}-refresh", net.name()));
            s.refresh.insert(r.clone(), (net, account));
            r
        } else {
            presented.clone()
        };
        s.refreshes += 1;
        match net {
            Net::X => Answer::json(
                200,
                &json!({"token_type": "bearer", "expires_in": 7200, "access_token": access,
                        "scope": "tweet.read tweet.write users.read offline.access",
                        "refresh_token": refresh}),
            ),
            _ => Answer::json(
                200,
                &json!({"access_token": access, "expires_in": 5_184_000, "refresh_token": refresh,
                        "refresh_token_expires_in": 31_536_000, "scope": "w_organization_social"}),
            ),
        }
    }

    fn account(&self, s: &State, req: &Request, net: Net) -> Option<String> {
        let token = req.bearer()?;
        s.access.get(token).filter(|(n, _)| *n == net).map(|(_, a)| a.clone())
    }

    // -------------------------------------------------------------------------------- X

    fn x(&self, s: &mut State, req: &Request) -> Reply {
        let path = &req.path["/x".len()..];
        if path == "/2/oauth2/token" && req.method == "POST" {
            return Reply::Answer(self.refresh_grant(s, req, Net::X, true));
        }
        let Some(user) = self.account(s, req, Net::X) else {
            return Reply::Answer(problem(401, "Unauthorized"));
        };
        if req.method == "POST" && path == "/2/tweets" {
            if req.header("content-type") != Some("application/json") {
                s.violation("X post without a JSON content type".into());
            }
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let text = body.get("text").and_then(Value::as_str).map(str::to_owned);
            let extra =
                body.as_object().is_none_or(|o| o.keys().any(|k| k != "text" && k != "reply"));
            let (Some(text), false) = (text, extra) else {
                s.violation(format!("X post with an unexpected body: {body}"));
                return Reply::Answer(problem(400, "Invalid Request"));
            };
            let Some(post) = post_of(&text) else {
                s.violation(format!("X post whose text names no post: {text:?}"));
                return Reply::Answer(problem(400, "Invalid Request"));
            };
            let token = req.bearer().map(str::to_owned);
            let reset = unix_now() + 2;
            let create = |s: &mut State, _f: Fault| {
                let id = format!("19{:016}", s.id());
                s.accepted.push(Accepted {
                    net: Net::X,
                    account: user.clone(),
                    post: post.clone(),
                    text: text.clone(),
                    id: id.clone(),
                    known_ids: vec![id.clone()],
                    channel: None,
                    at: Timestamp::now(),
                });
                Answer::json(
                    201,
                    &json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}}),
                )
                .with("x-rate-limit-limit", "100")
                .with("x-rate-limit-remaining", "99")
                .with("x-rate-limit-reset", (unix_now() + 900).to_string())
            };
            let rate = || {
                problem(429, "Too Many Requests")
                    .with("x-rate-limit-limit", "100")
                    .with("x-rate-limit-remaining", "0")
                    .with("x-rate-limit-reset", reset.to_string())
            };
            let unauthorized = || problem(401, "Unauthorized");
            return self.apply(
                s,
                Net::X,
                &post.clone(),
                token.as_deref(),
                create,
                rate,
                unauthorized,
            );
        }
        if req.method != "GET" {
            s.violation(format!("X: {} {path}", req.method));
            return Reply::Answer(problem(404, "Not Found"));
        }
        if let Some(fault) = self.read_fault(s) {
            *s.faults.entry("x:read-503-or-reset".into()).or_default() += 1;
            return fault;
        }
        if path == "/2/users/me" {
            return Reply::Answer(Answer::json(
                200,
                &json!({"data": {"id": user, "name": "Crieur Test", "username": format!("crieur{user}")}}),
            ));
        }
        let Some(id) = path.strip_prefix("/2/users/").and_then(|p| p.strip_suffix("/tweets"))
        else {
            s.violation(format!("X: GET {path}"));
            return Reply::Answer(problem(404, "Not Found"));
        };
        if id != user {
            s.violation(format!("X: user {user} read the posts of {id}"));
            return Reply::Answer(problem(403, "Forbidden"));
        }
        let max: usize = match req.param("max_results").map(str::parse) {
            Some(Ok(n)) if (5..=100).contains(&n) => n,
            other => {
                s.violation(format!("X: max_results {other:?}"));
                return Reply::Answer(problem(400, "Invalid Request"));
            }
        };
        let since: Option<Timestamp> = match req.param("start_time").map(str::parse) {
            Some(Ok(t)) => Some(t),
            None => None,
            Some(Err(e)) => {
                s.violation(format!("X: start_time: {e}"));
                return Reply::Answer(problem(400, "Invalid Request"));
            }
        };
        let mut posts: Vec<&Accepted> = s
            .accepted
            .iter()
            .filter(|a| a.net == Net::X && a.account == user && since.is_none_or(|t| a.at >= t))
            .collect();
        posts.reverse();
        let more = posts.len() > max;
        let data: Vec<Value> = posts
            .iter()
            .take(max)
            .map(|a| json!({"id": a.id, "text": a.text, "created_at": a.at.to_string()}))
            .collect();
        let mut meta = json!({"result_count": data.len()});
        if more {
            meta["next_token"] = json!("7140dibdnow9c7btw4");
        }
        let answer = if data.is_empty() {
            json!({"meta": meta})
        } else {
            json!({"data": data, "meta": meta})
        };
        Reply::Answer(Answer::json(200, &answer))
    }

    // ------------------------------------------------------------------------- LinkedIn

    fn linkedin(&self, s: &mut State, req: &Request) -> Reply {
        let path = &req.path["/li".len()..];
        if path == "/oauth/v2/accessToken" && req.method == "POST" {
            return Reply::Answer(self.refresh_grant(s, req, Net::Linkedin, false));
        }
        if req.method == "GET" {
            return self.linkedin_read(s, req, path);
        }
        if !(req.method == "POST" && path == "/rest/posts") {
            s.violation(format!("LinkedIn: {} {path}", req.method));
            return Reply::Answer(Answer::json(404, &json!({"status": 404})));
        }
        let version_ok = req
            .header("linkedin-version")
            .is_some_and(|v| v.len() >= 6 && v[..6].bytes().all(|b| b.is_ascii_digit()));
        if !version_ok
            || req.header("x-restli-protocol-version") != Some("2.0.0")
            || req.header("content-type") != Some("application/json")
        {
            s.violation(format!("LinkedIn post with headers {:?}", req.headers));
            return Reply::Answer(Answer::json(400, &json!({"status": 400, "message": "headers"})));
        }
        let Some(author) = self.account(s, req, Net::Linkedin) else {
            return Reply::Answer(Answer::json(
                401,
                &json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
            ));
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let shape_ok = body["visibility"] == "PUBLIC"
            && body["lifecycleState"] == "PUBLISHED"
            && body["distribution"]["feedDistribution"] == "MAIN_FEED"
            && body["isReshareDisabledByAuthor"] == false;
        let commentary = body["commentary"].as_str().map(str::to_owned);
        let (Some(commentary), true) = (commentary, shape_ok) else {
            s.violation(format!("LinkedIn post with an unexpected body: {body}"));
            return Reply::Answer(Answer::json(422, &json!({"status": 422})));
        };
        if body["author"] != author.as_str() {
            s.violation(format!("LinkedIn: {} posted as {}", author, body["author"]));
            return Reply::Answer(Answer::json(
                403,
                &json!({"status": 403, "code": "ACCESS_DENIED"}),
            ));
        }
        let Some(post) = post_of(&commentary) else {
            s.violation(format!("LinkedIn commentary names no post: {commentary:?}"));
            return Reply::Answer(Answer::json(422, &json!({"status": 422})));
        };
        if let Some(urn) = s.li_posts.get(&(author.clone(), commentary.clone())) {
            return Reply::Answer(Answer::json(
                422,
                &json!({
                    "errorDetailType": "com.linkedin.common.error.BadRequest",
                    "message": format!("ERROR :: /commentary :: Content is a duplicate of {urn}"),
                    "errorDetails": {"inputErrors": [{
                        "description": "Duplicate post is detected",
                        "input": {"inputPath": {"fieldPath": "/commentary"}},
                        "code": "DUPLICATE_POST"
                    }]},
                    "status": 422
                }),
            ));
        }
        let token = req.bearer().map(str::to_owned);
        let create = |s: &mut State, _f: Fault| {
            let urn = format!("urn:li:share:7{:018}", s.id());
            s.li_posts.insert((author.clone(), commentary.clone()), urn.clone());
            s.accepted.push(Accepted {
                net: Net::Linkedin,
                account: author.clone(),
                post: post.clone(),
                text: commentary.clone(),
                id: urn.clone(),
                known_ids: vec![urn.clone()],
                channel: None,
                at: Timestamp::now(),
            });
            Answer { status: 201, headers: vec![("x-restli-id".into(), urn)], body: Vec::new() }
        };
        let rate = || {
            Answer::json(
                429,
                &json!({"status": 429, "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."}),
            )
            .with("retry-after", "2")
        };
        let unauthorized = || {
            Answer::json(
                401,
                &json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
            )
        };
        self.apply(s, Net::Linkedin, &post.clone(), token.as_deref(), create, rate, unauthorized)
    }

    /// `crieur doctor`'s reads: `GET /v2/userinfo` (a member's token) and
    /// `GET /rest/organizations/{id}` (a Page admin's token, with the versioned API's headers).
    fn linkedin_read(&self, s: &mut State, req: &Request, path: &str) -> Reply {
        let Some(author) = self.account(s, req, Net::Linkedin) else {
            return Reply::Answer(Answer::json(
                401,
                &json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"}),
            ));
        };
        if path == "/v2/userinfo" {
            let Some(id) = author.strip_prefix("urn:li:person:") else {
                s.violation(format!("LinkedIn: userinfo asked with the token of {author}"));
                return Reply::Answer(Answer::json(403, &json!({"status": 403})));
            };
            return Reply::Answer(Answer::json(200, &json!({"sub": id, "name": "Crieur Test"})));
        }
        let Some(id) = path.strip_prefix("/rest/organizations/") else {
            s.violation(format!("LinkedIn: GET {path}"));
            return Reply::Answer(Answer::json(404, &json!({"status": 404})));
        };
        let version_ok = req.header("linkedin-version").is_some_and(|v| v.len() >= 6);
        if !version_ok || req.header("x-restli-protocol-version") != Some("2.0.0") {
            s.violation(format!("LinkedIn organization read with headers {:?}", req.headers));
            return Reply::Answer(Answer::json(400, &json!({"status": 400})));
        }
        if author != format!("urn:li:organization:{id}") {
            return Reply::Answer(Answer::json(
                403,
                &json!({"status": 403, "code": "ACCESS_DENIED"}),
            ));
        }
        let id: u64 = id.parse().unwrap_or_default();
        Reply::Answer(Answer::json(200, &json!({"id": id, "localizedName": "Acme"})))
    }

    // ------------------------------------------------------------------------- Facebook

    fn facebook(&self, s: &mut State, req: &Request) -> Reply {
        let path = &req.path["/fb".len()..];
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ("GET", [_, page]) = (req.method.as_str(), &parts[..]) {
            // `crieur doctor`: the Page itself, with exactly the fields it asks for.
            if req.param("fields") != Some("id,name") {
                s.violation(format!("Facebook: GET {path} with fields {:?}", req.param("fields")));
            }
            if self.account(s, req, Net::Facebook).as_deref() != Some(*page) {
                return Reply::Answer(Answer::json(
                    400,
                    &json!({"error": {"message": "Error validating access token: The session has been invalidated because the user changed their password", "type": "OAuthException", "code": 190, "error_subcode": 460, "fbtrace_id": "AmockTrace03"}}),
                ));
            }
            return Reply::Answer(Answer::json(200, &json!({"id": page, "name": "Acme Page"})));
        }
        let [version, page, edge] = parts[..] else {
            s.violation(format!("Facebook: {} {path}", req.method));
            return Reply::Answer(Answer::json(
                404,
                &json!({"error": {"message": "Unknown path", "code": 803}}),
            ));
        };
        if version != "v25.0" {
            s.violation(format!("Facebook: version {version}"));
        }
        let graph_error = |code: u32, message: &str| json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AmockTrace01"}});
        if self.account(s, req, Net::Facebook).as_deref() != Some(page) {
            return Reply::Answer(Answer::json(
                400,
                &json!({"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AmockTrace02"}}),
            ));
        }
        match (req.method.as_str(), edge) {
            ("POST", "feed") => {
                if req.header("content-type") != Some("application/x-www-form-urlencoded") {
                    s.violation("Facebook post without a form content type".into());
                }
                let form = req.form();
                if form.iter().any(|(k, _)| k != "message" && k != "link") {
                    s.violation(format!("Facebook post with fields {form:?}"));
                }
                let Some(message) =
                    form.iter().find(|(k, _)| k == "message").map(|(_, v)| v.clone())
                else {
                    s.violation("Facebook post without a message".into());
                    return Reply::Answer(Answer::json(400, &graph_error(100, "message required")));
                };
                let Some(post) = post_of(&message) else {
                    s.violation(format!("Facebook message names no post: {message:?}"));
                    return Reply::Answer(Answer::json(400, &graph_error(100, "bad message")));
                };
                let page = page.to_owned();
                let regain = *self.fb_regain_minutes.lock().unwrap();
                let create = |s: &mut State, _f: Fault| {
                    let id = format!("{page}_{}", 1_000_000 + s.id());
                    s.accepted.push(Accepted {
                        net: Net::Facebook,
                        account: page.clone(),
                        post: post.clone(),
                        text: message.clone(),
                        id: id.clone(),
                        known_ids: vec![id.clone()],
                        channel: None,
                        at: Timestamp::now(),
                    });
                    Answer::json(200, &json!({"id": id}))
                };
                let page_for_rate = page.clone();
                let rate = move || {
                    match regain {
                    Some(minutes) => Answer::json(400, &graph_error(32, "(#32) Page request limit reached"))
                        .with(
                            "x-business-use-case-usage",
                            json!({page_for_rate: [{"type": "pages", "call_count": 100, "total_cputime": 12,
                                  "total_time": 9, "estimated_time_to_regain_access": minutes}]})
                            .to_string(),
                        ),
                    None => Answer::json(429, &json!({"message": "Too Many Requests"})).with("retry-after", "1"),
                }
                };
                let unauthorized =
                    || Answer::json(400, &graph_error(190, "Error validating access token"));
                self.apply(s, Net::Facebook, &post.clone(), None, create, rate, unauthorized)
            }
            ("GET", "published_posts") => {
                if let Some(fault) = self.read_fault(s) {
                    *s.faults.entry("facebook:read-503-or-reset".into()).or_default() += 1;
                    return fault;
                }
                let limit: usize = req.param("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
                let since: Option<i64> = req.param("since").and_then(|v| v.parse().ok());
                let mut posts: Vec<&Accepted> = s
                    .accepted
                    .iter()
                    .filter(|a| a.net == Net::Facebook && a.account == page)
                    .filter(|a| since.is_none_or(|t| a.at.as_second() >= t))
                    .collect();
                posts.reverse();
                let more = posts.len() > limit;
                let data: Vec<Value> = posts
                    .iter()
                    .take(limit)
                    .map(|a| json!({"id": a.id, "message": a.text,
                                    "created_time": a.at.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string()}))
                    .collect();
                let mut paging = json!({"cursors": {"before": "QVFIUmJ", "after": "QVFIUmx"}});
                if more {
                    paging["next"] = json!(format!(
                        "https://graph.facebook.com/v25.0/{page}/published_posts?after=QVFIUmx"
                    ));
                }
                Reply::Answer(Answer::json(200, &json!({"data": data, "paging": paging})))
            }
            _ => {
                s.violation(format!("Facebook: {} {path}", req.method));
                Reply::Answer(Answer::json(400, &graph_error(100, "Unsupported request")))
            }
        }
    }

    // -------------------------------------------------------------------------- webhook

    fn webhook(&self, s: &mut State, req: &Request) -> Reply {
        let name = req.path["/hook/".len()..].to_owned();
        let (Some(id), Some(ts), Some(sigs)) = (
            req.header("webhook-id").map(str::to_owned),
            req.header("webhook-timestamp").and_then(|t| t.parse::<i64>().ok()),
            req.header("webhook-signature").map(str::to_owned),
        ) else {
            s.violation(format!("webhook {name}: missing Standard Webhooks headers"));
            return Reply::Answer(Answer::json(400, &json!({"error": "headers"})));
        };
        let expected = self.hook.sign(&id, ts, &req.body).unwrap();
        if !sigs.split(' ').any(|sig| sig == expected) || (ts - unix_now()).abs() > 300 {
            s.violation(format!("webhook {name}: bad signature or timestamp for {id}"));
            return Reply::Answer(Answer::json(401, &json!({"error": "signature"})));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if body["type"] == "crieur.ping" {
            if body["data"]["channel"] != name.as_str() || !id.starts_with("ping-") {
                s.violation(format!("webhook {name}: unexpected ping {id} {body}"));
            }
            return Reply::Answer(Answer::json(200, &json!({})));
        }
        let (Some(post), Some(channel), Some(text)) = (
            body["data"]["id"].as_str().map(str::to_owned),
            body["data"]["channel"].as_str().map(str::to_owned),
            body["data"]["text"].as_str().map(str::to_owned),
        ) else {
            s.violation(format!("webhook {name}: unexpected event {body}"));
            return Reply::Answer(Answer::json(400, &json!({"error": "event"})));
        };
        if body["type"] != "post.published" || channel != name {
            s.violation(format!(
                "webhook {name}: event type {} for channel {channel}",
                body["type"]
            ));
        }
        s.hook_ids.entry((post.clone(), channel.clone())).or_default().insert(id.clone());
        let create = |s: &mut State, fault: Fault| {
            let unreadable =
                matches!(fault, Fault::MalformedJson | Fault::EmptyBody | Fault::HugeBody);
            let index = match s.hooks.get(&id) {
                Some(i) => *i,
                None => {
                    let n = s.id();
                    s.accepted.push(Accepted {
                        net: Net::Webhook,
                        account: name.clone(),
                        post: post.clone(),
                        text: text.clone(),
                        id: format!("hook-{n}"),
                        known_ids: vec![format!("hook-{n}")],
                        channel: Some(channel.clone()),
                        at: Timestamp::now(),
                    });
                    s.hooks.insert(id.clone(), s.accepted.len() - 1);
                    s.accepted.len() - 1
                }
            };
            let event = &mut s.accepted[index];
            if unreadable && !event.known_ids.contains(&id) {
                event.known_ids.push(id.clone());
            }
            let hook_id = event.id.clone();
            Answer::json(
                200,
                &json!({"id": hook_id, "url": format!("https://blog.example/{hook_id}")}),
            )
        };
        let rate = || Answer::json(429, &json!({"error": "slow down"})).with("retry-after", "1");
        let unauthorized = || Answer::json(401, &json!({"error": "unauthorized"}));
        self.apply(s, Net::Webhook, &post.clone(), None, create, rate, unauthorized)
    }
}

/// A Mastodon status as the server shows it.
fn masto_status(a: &Accepted) -> Value {
    json!({
        "id": a.id, "created_at": a.at.to_string(), "in_reply_to_id": null,
        "visibility": "public", "language": null,
        "url": format!("https://social.example/@crieur{}/{}", a.account, a.id),
        "uri": format!("https://social.example/users/crieur{}/statuses/{}", a.account, a.id),
        "content": format!("<p>{}</p>", a.text),
    })
}

fn xrpc(status: u16, error: &str, message: &str) -> Answer {
    Answer::json(status, &json!({"error": error, "message": message}))
}

/// An unsigned JWT whose payload carries `sub` and `exp`, as the PDS's access tokens do (the
/// client reads them; only the server verifies).
fn jwt(sub: &str, tag: &str) -> String {
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = json!({"scope": "com.atproto.appPass", "sub": sub, "exp": unix_now() + 7200});
    format!("{}.{}.{tag}", e(&json!({"typ": "at+jwt", "alg": "ES256K"})), e(&payload))
}

impl Inner {
    // ------------------------------------------------------------------------- Mastodon

    fn mastodon(&self, s: &mut State, req: &Request) -> Reply {
        let path = &req.path["/masto".len()..];
        if req.method == "GET" && path == "/api/v2/instance" {
            // Public: read when the daemon starts and when `doctor` runs.
            return Reply::Answer(Answer::json(
                200,
                &json!({"domain": "social.example", "configuration": {"statuses": {
                    "max_characters": self.masto_max_characters.load(std::sync::atomic::Ordering::SeqCst),
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23}}}),
            ));
        }
        let Some(account) = self.account(s, req, Net::Mastodon) else {
            return Reply::Answer(Answer::json(
                401,
                &json!({"error": "The access token is invalid"}),
            ));
        };
        if req.method == "POST" && path == "/api/v1/statuses" {
            if req.header("content-type") != Some("application/json") {
                s.violation("Mastodon status without a JSON content type".into());
            }
            let Some(key) = req.header("idempotency-key").map(str::to_owned) else {
                s.violation("Mastodon status without an Idempotency-Key".into());
                return Reply::Answer(Answer::json(422, &json!({"error": "no key"})));
            };
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let extra = body
                .as_object()
                .is_none_or(|o| o.keys().any(|k| k != "status" && k != "visibility"));
            let text = body["status"].as_str().map(str::to_owned);
            let (Some(text), false, "public") =
                (text, extra, body["visibility"].as_str().unwrap_or(""))
            else {
                s.violation(format!("Mastodon status with an unexpected body: {body}"));
                return Reply::Answer(Answer::json(422, &json!({"error": "Validation failed"})));
            };
            let Some(post) = post_of(&text) else {
                s.violation(format!("Mastodon status names no post: {text:?}"));
                return Reply::Answer(Answer::json(422, &json!({"error": "Validation failed"})));
            };
            let token = req.bearer().map(str::to_owned);
            let create = |s: &mut State, _f: Fault| {
                // The server keeps each key an hour: a repeat gets the first status back.
                let index = match s.masto_keys.get(&(account.clone(), key.clone())) {
                    Some(i) => *i,
                    None => {
                        let id = format!("{}", 113_000_000_000u64 + s.id());
                        s.accepted.push(Accepted {
                            net: Net::Mastodon,
                            account: account.clone(),
                            post: post.clone(),
                            text: text.clone(),
                            id: id.clone(),
                            known_ids: vec![id],
                            channel: None,
                            at: Timestamp::now(),
                        });
                        s.masto_keys.insert((account.clone(), key.clone()), s.accepted.len() - 1);
                        s.accepted.len() - 1
                    }
                };
                Answer::json(200, &masto_status(&s.accepted[index]))
                    .with("x-ratelimit-limit", "300")
                    .with("x-ratelimit-remaining", "299")
                    .with(
                        "x-ratelimit-reset",
                        (Timestamp::now() + jiff::SignedDuration::from_mins(5)).to_string(),
                    )
            };
            let reset = (Timestamp::now() + jiff::SignedDuration::from_secs(2)).to_string();
            let rate = || {
                Answer::json(429, &json!({"error": "Too many requests"}))
                    .with("x-ratelimit-limit", "300")
                    .with("x-ratelimit-remaining", "0")
                    .with("x-ratelimit-reset", reset)
            };
            let unauthorized =
                || Answer::json(401, &json!({"error": "The access token is invalid"}));
            return self.apply(
                s,
                Net::Mastodon,
                &post.clone(),
                token.as_deref(),
                create,
                rate,
                unauthorized,
            );
        }
        if req.method != "GET" {
            s.violation(format!("Mastodon: {} {path}", req.method));
            return Reply::Answer(Answer::json(404, &json!({"error": "Record not found"})));
        }
        if let Some(fault) = self.read_fault(s) {
            *s.faults.entry("mastodon:read-503-or-reset".into()).or_default() += 1;
            return fault;
        }
        if path == "/api/v1/accounts/verify_credentials" {
            return Reply::Answer(Answer::json(
                200,
                &json!({"id": account, "username": format!("crieur{account}"), "acct": format!("crieur{account}")}),
            ));
        }
        if let Some(id) =
            path.strip_prefix("/api/v1/accounts/").and_then(|p| p.strip_suffix("/statuses"))
        {
            if id != account {
                s.violation(format!("Mastodon: account {account} read the statuses of {id}"));
                return Reply::Answer(Answer::json(404, &json!({"error": "Record not found"})));
            }
            let limit: usize = match req.param("limit").map(str::parse) {
                Some(Ok(n)) if (1..=40).contains(&n) => n,
                other => {
                    s.violation(format!("Mastodon: statuses limit {other:?}"));
                    return Reply::Answer(Answer::json(422, &json!({"error": "limit"})));
                }
            };
            let max_id: Option<u64> = req.param("max_id").and_then(|m| m.parse().ok());
            let mut mine: Vec<&Accepted> = s
                .accepted
                .iter()
                .filter(|a| a.net == Net::Mastodon && a.account == account)
                .filter(|a| max_id.is_none_or(|m| a.id.parse::<u64>().is_ok_and(|i| i < m)))
                .collect();
            mine.reverse();
            let page: Vec<Value> = mine.into_iter().take(limit).map(masto_status).collect();
            return Reply::Answer(Answer::json(200, &Value::Array(page)));
        }
        if let Some(id) =
            path.strip_prefix("/api/v1/statuses/").and_then(|p| p.strip_suffix("/source"))
        {
            let found = s.accepted.iter().find(|a| a.net == Net::Mastodon && a.id == id);
            return Reply::Answer(match found {
                Some(a) if a.account == account => {
                    Answer::json(200, &json!({"id": id, "text": a.text, "spoiler_text": ""}))
                }
                _ => Answer::json(404, &json!({"error": "Record not found"})),
            });
        }
        s.violation(format!("Mastodon: GET {path}"));
        Reply::Answer(Answer::json(404, &json!({"error": "Record not found"})))
    }

    // -------------------------------------------------------------------------- Bluesky

    fn bluesky(&self, s: &mut State, req: &Request) -> Reply {
        let Some(method) = req.path.strip_prefix("/bsky/xrpc/") else {
            s.violation(format!("Bluesky: {} {}", req.method, req.path));
            return Reply::Answer(xrpc(404, "MethodNotImplemented", "Method Not Implemented"));
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match (req.method.as_str(), method) {
            ("POST", "com.atproto.server.createSession") => {
                let handle = body["identifier"].as_str().unwrap_or_default();
                let Some((did, password)) = s.bsky_accounts.get(handle).cloned() else {
                    return Reply::Answer(xrpc(
                        401,
                        "AuthenticationRequired",
                        "Invalid identifier or password",
                    ));
                };
                if body["password"] != password.as_str() {
                    return Reply::Answer(xrpc(
                        401,
                        "AuthenticationRequired",
                        "Invalid identifier or password",
                    ));
                }
                s.bsky_logins += 1;
                Reply::Answer(Answer::json(200, &self.bsky_session(s, handle, &did)))
            }
            ("POST", "com.atproto.server.refreshSession") => {
                let presented = req.bearer().unwrap_or_default().to_owned();
                let Some((Net::Bluesky, did)) = s.refresh.get(&presented).cloned() else {
                    if s.spent.contains(&presented) {
                        s.refresh_reuse += 1;
                    }
                    return Reply::Answer(xrpc(400, "ExpiredToken", "Token has been revoked"));
                };
                s.refresh.remove(&presented);
                s.spent.insert(presented);
                s.refreshes += 1;
                let handle = s
                    .bsky_accounts
                    .iter()
                    .find(|(_, (d, _))| *d == did)
                    .map(|(h, _)| h.clone())
                    .unwrap_or_default();
                Reply::Answer(Answer::json(200, &self.bsky_session(s, &handle, &did)))
            }
            (m, _) => {
                let Some(did) = self.account(s, req, Net::Bluesky) else {
                    return Reply::Answer(xrpc(400, "ExpiredToken", "Token has expired"));
                };
                match (m, method) {
                    ("POST", "com.atproto.repo.createRecord") => {
                        self.bsky_create(s, req, &did, &body)
                    }
                    ("GET", "com.atproto.server.getSession") => {
                        let handle = s
                            .bsky_accounts
                            .iter()
                            .find(|(_, (d, _))| *d == did)
                            .map(|(h, _)| h.clone())
                            .unwrap_or_default();
                        Reply::Answer(Answer::json(
                            200,
                            &json!({"handle": handle, "did": did, "active": true}),
                        ))
                    }
                    ("GET", "com.atproto.repo.getRecord") => {
                        if let Some(fault) = self.read_fault(s) {
                            *s.faults.entry("bluesky:read-503-or-reset".into()).or_default() += 1;
                            return fault;
                        }
                        if req.param("repo") != Some(did.as_str())
                            || req.param("collection") != Some("app.bsky.feed.post")
                        {
                            s.violation(format!("Bluesky: getRecord {:?} by {did}", req.query));
                        }
                        let rkey = req.param("rkey").unwrap_or_default().to_owned();
                        let uri = format!("at://{did}/app.bsky.feed.post/{rkey}");
                        Reply::Answer(match s.bsky_records.get(&(did.clone(), rkey)) {
                            Some(&i) => {
                                let a = &s.accepted[i];
                                let cid = a.id.split('|').nth(1).unwrap_or_default();
                                Answer::json(
                                    200,
                                    &json!({"uri": uri, "cid": cid, "value": {
                                    "$type": "app.bsky.feed.post", "text": a.text,
                                    "createdAt": a.at.to_string()}}),
                                )
                            }
                            None => xrpc(
                                400,
                                "RecordNotFound",
                                &format!("Could not locate record: {uri}"),
                            ),
                        })
                    }
                    _ => {
                        s.violation(format!("Bluesky: {m} {method}"));
                        Reply::Answer(xrpc(404, "MethodNotImplemented", "Method Not Implemented"))
                    }
                }
            }
        }
    }

    /// A new session (access and refresh JWTs) for `did`.
    fn bsky_session(&self, s: &mut State, handle: &str, did: &str) -> Value {
        let access = jwt(did, &self.new_token(s, "bluesky-access"));
        let refresh = self.new_token(s, "bluesky-refresh");
        s.access.insert(access.clone(), (Net::Bluesky, did.to_owned()));
        s.refresh.insert(refresh.clone(), (Net::Bluesky, did.to_owned()));
        json!({"accessJwt": access, "refreshJwt": refresh, "handle": handle, "did": did, "active": true})
    }

    fn bsky_create(&self, s: &mut State, req: &Request, did: &str, body: &Value) -> Reply {
        if req.header("content-type") != Some("application/json") {
            s.violation("Bluesky create without a JSON content type".into());
        }
        let rkey = body["rkey"].as_str().unwrap_or_default().to_owned();
        let record = &body["record"];
        let text = record["text"].as_str().map(str::to_owned);
        let shape_ok = body["repo"] == did
            && body["collection"] == "app.bsky.feed.post"
            && rkey.len() == 13
            && rkey.bytes().all(|b| b"234567abcdefghijklmnopqrstuvwxyz".contains(&b))
            && record["$type"] == "app.bsky.feed.post"
            && record["createdAt"].as_str().is_some_and(|t| t.parse::<Timestamp>().is_ok());
        let (Some(text), true) = (text, shape_ok) else {
            s.violation(format!("Bluesky create with an unexpected body: {body}"));
            return Reply::Answer(xrpc(400, "InvalidRequest", "Input/record must be an object"));
        };
        let Some(post) = post_of(&text) else {
            s.violation(format!("Bluesky record names no post: {text:?}"));
            return Reply::Answer(xrpc(400, "InvalidRequest", "bad text"));
        };
        if s.bsky_records.contains_key(&(did.to_owned(), rkey.clone())) {
            // What bsky.social answers to a second create on one key.
            return Reply::Answer(xrpc(500, "InternalServerError", "Internal Server Error"));
        }
        let token = req.bearer().map(str::to_owned);
        let did = did.to_owned();
        let create = |s: &mut State, _f: Fault| {
            let uri = format!("at://{did}/app.bsky.feed.post/{rkey}");
            let cid = format!("bafyreib{:020}", s.id());
            let id = format!("{uri}|{cid}");
            s.accepted.push(Accepted {
                net: Net::Bluesky,
                account: did.clone(),
                post: post.clone(),
                text: text.clone(),
                id: id.clone(),
                known_ids: vec![id],
                channel: None,
                at: Timestamp::now(),
            });
            s.bsky_records.insert((did.clone(), rkey.clone()), s.accepted.len() - 1);
            Answer::json(200, &json!({"uri": uri, "cid": cid, "validationStatus": "valid"}))
                .with("ratelimit-limit", "5000")
                .with("ratelimit-remaining", "4997")
                .with("ratelimit-reset", (unix_now() + 3600).to_string())
                .with("ratelimit-policy", "5000;w=3600")
        };
        let reset = unix_now() + 2;
        let rate = || {
            xrpc(429, "RateLimitExceeded", "Rate Limit Exceeded")
                .with("ratelimit-limit", "5000")
                .with("ratelimit-remaining", "0")
                .with("ratelimit-reset", reset.to_string())
        };
        let unauthorized = || xrpc(400, "ExpiredToken", "Token has expired");
        self.apply(s, Net::Bluesky, &post.clone(), token.as_deref(), create, rate, unauthorized)
    }
}
