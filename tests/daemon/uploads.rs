//! Strict mocks of the media upload protocols of X, LinkedIn and Facebook, on one server on
//! loopback (`/x/...`, `/li/...` with LinkedIn's upload URLs under `/li-upload/...`, `/fb/...`),
//! written on the tests' own HTTP server (`common::http`) so a post request can be held open
//! until the daemon is killed.
//!
//! Each mock keeps what the network keeps and refuses what it refuses, with its own error shape:
//! - X: `initialize` (JSON: a known `media_type`, `total_bytes`, the matching `media_category`),
//!   `append` (multipart `segment_index` and `media`) only between initialize and finalize,
//!   `finalize` only with every segment and exactly `total_bytes`, `processing_info` that only a
//!   `STATUS` poll after `check_after_secs` sees `succeeded`, alt text through `metadata` only on
//!   a finalized upload, and a post whose `media.media_ids` must all be finalized, processed,
//!   described and not expired (`expires_after_secs`). X itself would post media without alt
//!   text; this mock refuses it, as crieur must never send it.
//! - LinkedIn: `initializeUpload` (the versioned API's headers, the author as owner), the `PUT`
//!   of the bytes to the upload URL with the token, then a post naming only uploaded images:
//!   `content.media` for one, `content.multiImage` for 2 to 20, each with `altText`.
//! - Facebook: photos uploaded with `published=false` (a published one would be a post of its
//!   own) and `alt_text_custom`, then a feed post whose `attached_media` names photos of the Page
//!   not attached yet.
//!
//! What a correct client never causes is a violation (an unknown path, a missing header); what
//! the network would refuse is a refusal. Both are kept, so a test can assert there were none,
//! and the self-check in `media_networks.rs` shows each refusal happens.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crieur_net_http::testing::parse_multipart;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::common::http::{Conn, HeadError, Request, Response, Server};

pub const X_TOKEN: &str = "x-media-test-access-token";
pub const X_USER: &str = "1587324310";
pub const LI_TOKEN: &str = "li-media-test-access-token";
pub const LI_AUTHOR: &str = "urn:li:organization:2414183";
pub const FB_TOKEN: &str = "fb-media-test-page-token";
pub const FB_PAGE: &str = "104857600123";

/// The largest body the mocks read (X takes 5 MB segments).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One X upload session, from `initialize` on.
#[derive(Debug, Clone)]
pub struct XMedia {
    pub media_type: String,
    pub category: String,
    pub total_bytes: usize,
    pub segments: BTreeMap<usize, Vec<u8>>,
    pub finalized: bool,
    /// When processing ends (set by finalize when the mock processes).
    pub ready_at: Option<Instant>,
    /// STATUS polls answered for it.
    pub status_polls: u32,
    /// True once a STATUS poll answered `succeeded`.
    pub processed: bool,
    pub alt: Option<String>,
    pub expires_at: Instant,
}

impl XMedia {
    /// The bytes received, in segment order.
    pub fn bytes(&self) -> Vec<u8> {
        self.segments.values().flatten().copied().collect()
    }
}

#[derive(Debug, Clone)]
pub struct XPost {
    pub id: String,
    pub text: String,
    pub media_ids: Vec<String>,
    /// The post it replies to (a thread item).
    pub reply_to: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct LiImage {
    pub owner: String,
    /// The bytes once `PUT`.
    pub data: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct LiPost {
    pub urn: String,
    pub commentary: String,
    /// `(image URN, altText)` in the order of the post.
    pub images: Vec<(String, String)>,
    /// `media` or `multiImage`.
    pub shape: String,
}

#[derive(Debug, Clone)]
pub struct FbPhoto {
    pub page: String,
    pub alt: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
    pub attached_to: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FbPost {
    pub id: String,
    pub message: String,
    pub attached: Vec<String>,
    pub at: Timestamp,
}

/// Everything the three mocks keep.
#[derive(Default)]
pub struct State {
    pub x_media: HashMap<String, XMedia>,
    pub x_posts: Vec<XPost>,
    /// `expires_after_secs` of the next initializes, in order (then a day).
    pub x_lifetimes: VecDeque<u64>,
    /// Finalize answers `processing_info` (pending, `check_after_secs` 1) for every upload.
    pub x_processing: bool,
    /// The token was granted without `media.write`: every media request is answered 403.
    pub x_no_media_scope: bool,
    pub li_images: HashMap<String, LiImage>,
    /// Upload URL path -> image URN.
    pub li_upload_urls: HashMap<String, String>,
    pub li_posts: Vec<LiPost>,
    pub fb_photos: HashMap<String, FbPhoto>,
    pub fb_posts: Vec<FbPost>,
    /// Post requests are held open, unanswered and not created, until the client goes away.
    pub hold_posts: bool,
    /// Post requests held so far.
    pub held: usize,
    /// Requests the network would refuse, with the reason.
    pub refusals: Vec<String>,
    /// Requests no correct client sends.
    pub violations: Vec<String>,
    /// Every request as `network step [id]`, in arrival order.
    pub log: Vec<String>,
    next_id: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Requests logged as `entry` (`x initialize`, `li put`, `fb photo`...).
    pub fn count(&self, entry: &str) -> usize {
        self.log.iter().filter(|l| l.starts_with(entry)).count()
    }
}

/// The running mocks; they stop when dropped.
pub struct Networks {
    state: Arc<Mutex<State>>,
    server: Server,
}

/// What to do on the socket.
enum Reply {
    Answer(Response),
    /// Read nothing more, answer nothing, until the client closes.
    Hold,
}

impl Networks {
    pub async fn start() -> Networks {
        let state = Arc::new(Mutex::new(State::default()));
        let serving = state.clone();
        let base = Arc::new(Mutex::new(String::new()));
        let base_in = base.clone();
        let server = Server::start(move |conn| serve(serving.clone(), base_in.clone(), conn)).await;
        *base.lock().unwrap() = server.url("");
        Networks { state, server }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// `[channels.*]` for `x`, `linkedin` and `facebook` channels named `NAME-x`, `NAME-li`,
    /// `NAME-fb`, with tokens from `X_TOKEN`, `LI_TOKEN`, `FB_TOKEN` (see [`Networks::envs`]).
    pub fn channels(&self, prefix: &str) -> String {
        format!(
            "\n[channels.{prefix}-x]\nnetwork = \"x\"\ncadence = [\"Mon 08:00\"]\n\
             access_token = \"env:X_TOKEN\"\napi_base = \"{x}\"\n\
             \n[channels.{prefix}-li]\nnetwork = \"linkedin\"\nauthor = \"{LI_AUTHOR}\"\n\
             cadence = [\"Mon 08:00\"]\naccess_token = \"env:LI_TOKEN\"\napi_base = \"{li}\"\n\
             \n[channels.{prefix}-fb]\nnetwork = \"facebook\"\npage_id = \"{FB_PAGE}\"\n\
             cadence = [\"Mon 08:00\"]\naccess_token = \"env:FB_TOKEN\"\napi_base = \"{fb}\"\n",
            x = self.server.url("x"),
            li = self.server.url("li"),
            fb = self.server.url("fb"),
        )
    }

    /// The environment the channels' tokens come from.
    pub fn envs() -> [(&'static str, &'static str); 3] {
        [("X_TOKEN", X_TOKEN), ("LI_TOKEN", LI_TOKEN), ("FB_TOKEN", FB_TOKEN)]
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Panics with every violation and refusal, if any.
    pub fn assert_clean(&self) {
        let s = self.state();
        assert!(s.violations.is_empty(), "requests no network takes: {:#?}", s.violations);
        assert!(s.refusals.is_empty(), "requests the networks refused: {:#?}", s.refusals);
    }
}

async fn serve(st: Arc<Mutex<State>>, base: Arc<Mutex<String>>, mut conn: Conn) {
    loop {
        let mut req = match conn.read_request(64 * 1024).await {
            Ok(r) => r,
            Err(HeadError::Closed) => return,
            Err(e) => {
                st.lock().unwrap().violations.push(format!("bad request head: {e:?}"));
                return;
            }
        };
        let len = match req.content_length() {
            Some(n) if n <= MAX_BODY => n,
            None if req.header("transfer-encoding").is_none() => 0,
            _ => {
                st.lock().unwrap().violations.push(format!(
                    "{} {}: a body without a usable content-length",
                    req.method, req.path
                ));
                return;
            }
        };
        match conn.read_body(len).await {
            Some(body) => req.body = body,
            None => return,
        }
        let reply = {
            let mut s = st.lock().unwrap();
            let base = base.lock().unwrap().clone();
            route(&mut s, &base, &req)
        };
        match reply {
            Reply::Answer(r) => {
                if conn.respond(&r).await.is_err() {
                    return;
                }
            }
            Reply::Hold => {
                conn.drain(Duration::from_secs(120)).await;
                return;
            }
        }
    }
}

fn route(s: &mut State, base: &str, req: &Request) -> Reply {
    let path = req.path.clone();
    if let Some(rest) = path.strip_prefix("/x/") {
        return x(s, req, rest);
    }
    if let Some(rest) = path.strip_prefix("/li/") {
        return linkedin(s, base, req, rest);
    }
    if path.starts_with("/li-upload/") {
        return Reply::Answer(linkedin_put(s, req));
    }
    if let Some(rest) = path.strip_prefix("/fb/") {
        return facebook(s, req, rest);
    }
    s.violations.push(format!("{} {path}: no such network", req.method));
    Reply::Answer(Response::json(404, &json!({"error": "not found"})))
}

fn is_json(req: &Request) -> bool {
    req.header("content-type").is_some_and(|c| c.starts_with("application/json"))
}

// ------------------------------------------------------------------------------------ X

fn problem(status: u16, detail: &str) -> Response {
    Response::json(
        status,
        &json!({"title": "Invalid Request", "detail": detail,
                "type": "https://api.twitter.com/2/problems/invalid-request", "status": status}),
    )
}

fn x_refuse(s: &mut State, status: u16, detail: &str) -> Reply {
    s.refusals.push(format!("x: {detail}"));
    Reply::Answer(problem(status, detail))
}

fn x(s: &mut State, req: &Request, path: &str) -> Reply {
    if req.bearer() != Some(X_TOKEN) {
        s.violations.push(format!("x: {} /{path} without the user's token", req.method));
        return Reply::Answer(problem(401, "Unauthorized"));
    }
    if s.x_no_media_scope && path.starts_with("2/media/") {
        s.log.push(format!("x forbidden {path}"));
        return Reply::Answer(Response::json(
            403,
            &json!({"title": "Forbidden", "type": "about:blank", "status": 403,
                    "detail": "You are not permitted to perform this action."}),
        ));
    }
    let parts: Vec<&str> = path.split('/').collect();
    let body = || serde_json::from_slice::<Value>(&req.body).ok().filter(|_| is_json(req));
    match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["2", "media", "upload", "initialize"]) => {
            s.log.push("x initialize".into());
            let Some(b) = body() else { return x_refuse(s, 400, "initialize takes JSON") };
            let (Some(t), Some(n), Some(c)) =
                (b["media_type"].as_str(), b["total_bytes"].as_u64(), b["media_category"].as_str())
            else {
                return x_refuse(s, 400, "media_type, total_bytes, media_category are required");
            };
            let (expected, limit) = match t {
                "image/jpeg" | "image/png" | "image/webp" => ("tweet_image", 5 * 1024 * 1024),
                "image/gif" => ("tweet_gif", 15 * 1024 * 1024),
                "video/mp4" => ("tweet_video", 512 * 1024 * 1024),
                _ => return x_refuse(s, 400, &format!("media_type {t} is not supported")),
            };
            if c != expected {
                return x_refuse(s, 400, &format!("media_category {c} for {t}"));
            }
            if n == 0 || n > limit {
                return x_refuse(s, 400, &format!("total_bytes {n} for {t}"));
            }
            let id = format!("18800281060{:08}", s.id());
            let lifetime = s.x_lifetimes.pop_front().unwrap_or(86_400);
            s.x_media.insert(
                id.clone(),
                XMedia {
                    media_type: t.into(),
                    category: c.into(),
                    total_bytes: n as usize,
                    segments: BTreeMap::new(),
                    finalized: false,
                    ready_at: None,
                    status_polls: 0,
                    processed: false,
                    alt: None,
                    expires_at: Instant::now() + Duration::from_secs(lifetime),
                },
            );
            let key = format!("3_{id}");
            Reply::Answer(Response::json(
                200,
                &json!({"data": {"id": id, "media_key": key, "expires_after_secs": lifetime}}),
            ))
        }
        ("POST", ["2", "media", "upload", id, "append"]) => {
            s.log.push(format!("x append {id}"));
            let form = match parse_multipart(req.header("content-type").unwrap_or(""), &req.body) {
                Ok(f) => f,
                Err(e) => return x_refuse(s, 400, &format!("append: {e}")),
            };
            let Some(m) = s.x_media.get(*id) else {
                return x_refuse(s, 400, &format!("append to {id}: media id not found"));
            };
            if m.finalized {
                return x_refuse(s, 400, &format!("append to {id}: already finalized"));
            }
            let index = form.iter().find(|p| p.name == "segment_index");
            let media = form.iter().find(|p| p.name == "media");
            let (Some(index), Some(media)) = (index, media) else {
                return x_refuse(s, 400, "append: segment_index and media are required");
            };
            let Ok(index) = String::from_utf8_lossy(&index.data).parse::<usize>() else {
                return x_refuse(s, 400, "append: segment_index is not a number");
            };
            if index > 999 || media.data.is_empty() || media.data.len() > 5 * 1024 * 1024 {
                return x_refuse(s, 400, &format!("append: segment {index} out of range"));
            }
            let data = media.data.clone();
            s.x_media.get_mut(*id).unwrap().segments.insert(index, data);
            Reply::Answer(Response::json(200, &json!({"data": {"expires_at": 1_893_456_000}})))
        }
        ("POST", ["2", "media", "upload", id, "finalize"]) => {
            s.log.push(format!("x finalize {id}"));
            let processing = s.x_processing;
            let Some(m) = s.x_media.get_mut(*id) else {
                return x_refuse(s, 400, &format!("finalize {id}: media id not found"));
            };
            let contiguous = m.segments.keys().copied().eq(0..m.segments.len());
            let size: usize = m.segments.values().map(Vec::len).sum();
            if m.finalized || !contiguous || size != m.total_bytes {
                let why = format!(
                    "finalize {id}: finalized {} or {size} of {} bytes in order {contiguous}",
                    m.finalized, m.total_bytes
                );
                return x_refuse(s, 400, &why);
            }
            m.finalized = true;
            let left = m.expires_at.saturating_duration_since(Instant::now()).as_secs();
            let mut data = json!({"id": id, "media_key": format!("3_{id}"), "size": size,
                                  "expires_after_secs": left});
            if processing || m.category != "tweet_image" {
                m.ready_at = Some(Instant::now() + Duration::from_secs(1));
                data["processing_info"] = json!({"state": "pending", "check_after_secs": 1});
            } else {
                m.processed = true;
            }
            Reply::Answer(Response::json(200, &json!({ "data": data })))
        }
        ("GET", ["2", "media", "upload"]) => {
            let id = req.param("media_id").unwrap_or_default().to_owned();
            s.log.push(format!("x status {id}"));
            if req.param("command") != Some("STATUS") {
                return x_refuse(s, 400, "GET media/upload takes command=STATUS");
            }
            let Some(m) = s.x_media.get_mut(&id) else {
                return x_refuse(s, 400, &format!("status of {id}: media id not found"));
            };
            let Some(ready_at) = m.ready_at.filter(|_| m.finalized) else {
                return x_refuse(s, 400, &format!("status of {id}: nothing is processing"));
            };
            m.status_polls += 1;
            let info = if Instant::now() >= ready_at {
                m.processed = true;
                json!({"state": "succeeded", "progress_percent": 100})
            } else {
                json!({"state": "in_progress", "check_after_secs": 1, "progress_percent": 50})
            };
            Reply::Answer(Response::json(
                200,
                &json!({"data": {"id": id, "media_key": format!("3_{id}"), "processing_info": info}}),
            ))
        }
        ("POST", ["2", "media", "metadata"]) => {
            let Some(b) = body() else { return x_refuse(s, 400, "metadata takes JSON") };
            let id = b["id"].as_str().unwrap_or_default().to_owned();
            s.log.push(format!("x metadata {id}"));
            let Some(m) = s.x_media.get_mut(&id) else {
                return x_refuse(s, 400, &format!("metadata for {id}: media id not found"));
            };
            if !m.finalized {
                return x_refuse(s, 400, &format!("metadata for {id}: not finalized"));
            }
            let Some(text) = b.pointer("/metadata/alt_text/text").and_then(Value::as_str) else {
                return x_refuse(s, 400, "metadata.alt_text.text is required");
            };
            if text.is_empty() || text.chars().count() > 1000 {
                return x_refuse(s, 400, "alt text must be 1 to 1,000 characters");
            }
            m.alt = Some(text.to_owned());
            Reply::Answer(Response::json(200, &json!({"data": {"associated_metadata": true}})))
        }
        ("POST", ["2", "tweets"]) => {
            s.log.push("x post".into());
            let Some(b) = body() else { return x_refuse(s, 400, "a post takes JSON") };
            if b.as_object()
                .is_none_or(|o| o.keys().any(|k| !["text", "media", "reply"].contains(&k.as_str())))
            {
                s.violations.push(format!("x: a post with unexpected keys: {b}"));
            }
            let text = b["text"].as_str().unwrap_or_default().to_owned();
            let mut ids = Vec::new();
            if let Some(list) = b.pointer("/media/media_ids") {
                let Some(list) = list.as_array().filter(|l| (1..=4).contains(&l.len())) else {
                    return x_refuse(s, 400, "media.media_ids must list 1 to 4 ids");
                };
                for id in list {
                    let Some(id) = id.as_str() else {
                        return x_refuse(s, 400, "media ids are strings");
                    };
                    let Some(m) = s.x_media.get(id) else {
                        return x_refuse(s, 400, &format!("Your media IDs are invalid: {id}"));
                    };
                    let why = if !m.finalized {
                        "not finalized"
                    } else if !m.processed {
                        "still processing (no STATUS poll saw it succeed)"
                    } else if m.expires_at <= Instant::now() {
                        "expired"
                    } else if m.alt.is_none() {
                        // X would take it; crieur must never send media without alt text.
                        "without alt text"
                    } else {
                        ""
                    };
                    if !why.is_empty() {
                        return x_refuse(
                            s,
                            400,
                            &format!("Your media IDs are invalid: {id} {why}"),
                        );
                    }
                    ids.push(id.to_owned());
                }
                let mut unique = ids.clone();
                unique.sort();
                unique.dedup();
                if unique.len() != ids.len() {
                    return x_refuse(s, 400, "a media id is listed twice");
                }
            }
            let reply_to = b
                .pointer("/reply/in_reply_to_tweet_id")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            if let Some(parent) = &reply_to
                && !s.x_posts.iter().any(|p| &p.id == parent)
            {
                return x_refuse(s, 403, &format!("reply to {parent}, which does not exist"));
            }
            if s.hold_posts {
                s.held += 1;
                return Reply::Hold;
            }
            let id = format!("19{:017}", s.id());
            s.x_posts.push(XPost {
                id: id.clone(),
                text: text.clone(),
                media_ids: ids,
                reply_to,
                at: Timestamp::now(),
            });
            Reply::Answer(Response::json(
                201,
                &json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}}),
            ))
        }
        ("GET", ["2", "users", "me"]) => Reply::Answer(Response::json(
            200,
            &json!({"data": {"id": X_USER, "name": "Acme", "username": "acme"}}),
        )),
        ("GET", ["2", "users", user, "tweets"]) if *user == X_USER => {
            s.log.push("x timeline".into());
            let since: Option<Timestamp> = req.param("start_time").and_then(|t| t.parse().ok());
            let data: Vec<Value> = s
                .x_posts
                .iter()
                .rev()
                .filter(|p| since.is_none_or(|t| p.at >= t))
                .map(|p| json!({"id": p.id, "text": p.text, "created_at": p.at.to_string()}))
                .collect();
            let meta = json!({"result_count": data.len()});
            let answer = if data.is_empty() {
                json!({"meta": meta})
            } else {
                json!({"data": data, "meta": meta})
            };
            Reply::Answer(Response::json(200, &answer))
        }
        (m, _) => {
            s.violations.push(format!("x: {m} /{path}"));
            Reply::Answer(problem(404, "Not Found"))
        }
    }
}

// ----------------------------------------------------------------------------- LinkedIn

fn li_error(s: &mut State, status: u16, message: &str) -> Response {
    s.refusals.push(format!("linkedin: {message}"));
    Response::json(status, &json!({"status": status, "message": message}))
}

fn li_refuse(s: &mut State, status: u16, message: &str) -> Reply {
    Reply::Answer(li_error(s, status, message))
}

fn linkedin(s: &mut State, base: &str, req: &Request, path: &str) -> Reply {
    let version_ok = req
        .header("linkedin-version")
        .is_some_and(|v| v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()));
    if !version_ok
        || req.header("x-restli-protocol-version") != Some("2.0.0")
        || !is_json(req)
        || req.method != "POST"
    {
        s.violations
            .push(format!("linkedin: {} /{path} with headers {:?}", req.method, req.headers));
        return Reply::Answer(Response::json(400, &json!({"status": 400, "message": "headers"})));
    }
    if req.bearer() != Some(LI_TOKEN) {
        s.violations.push(format!("linkedin: /{path} without the token"));
        return Reply::Answer(Response::json(
            401,
            &json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN"}),
        ));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return li_refuse(s, 400, "the body is not JSON");
    };
    match path {
        "rest/images" => {
            s.log.push("li initialize".into());
            if req.param("action") != Some("initializeUpload") {
                return li_refuse(s, 400, "images takes action=initializeUpload");
            }
            let owner = body.pointer("/initializeUploadRequest/owner").and_then(Value::as_str);
            if owner != Some(LI_AUTHOR) {
                return li_refuse(s, 403, &format!("owner {owner:?} is not the token's author"));
            }
            let n = s.id();
            let urn = format!("urn:li:image:C4D10AQH{n:010}");
            let upload = format!("li-upload/dms-uploads/{n:06}/uploadedImage");
            s.li_images.insert(urn.clone(), LiImage { owner: LI_AUTHOR.into(), data: None });
            s.li_upload_urls.insert(format!("/{upload}"), urn.clone());
            Reply::Answer(Response::json(
                200,
                &json!({"value": {"uploadUrlExpiresAt": 1_893_456_000_000u64,
                                  "uploadUrl": format!("{base}{upload}?ca=vector_feedshare&cn=uploads"),
                                  "image": urn}}),
            ))
        }
        "rest/posts" => {
            s.log.push("li post".into());
            let commentary = body["commentary"].as_str().unwrap_or_default().to_owned();
            if body["author"] != LI_AUTHOR
                || body["visibility"] != "PUBLIC"
                || body["lifecycleState"] != "PUBLISHED"
                || body["distribution"]["feedDistribution"] != "MAIN_FEED"
            {
                s.violations.push(format!("linkedin: a post with an unexpected body: {body}"));
            }
            let mut images = Vec::new();
            let shape = match body.get("content") {
                None => String::new(),
                Some(c) => {
                    let (shape, list) = match (c.get("media"), c.get("multiImage")) {
                        (Some(one), None) => ("media", vec![one.clone()]),
                        (None, Some(multi)) => {
                            let list = multi["images"].as_array().cloned().unwrap_or_default();
                            if !(2..=20).contains(&list.len()) {
                                return li_refuse(
                                    s,
                                    422,
                                    &format!(
                                        "/content/multiImage/images takes 2 to 20 images, not {}",
                                        list.len()
                                    ),
                                );
                            }
                            ("multiImage", list)
                        }
                        _ => return li_refuse(s, 422, &format!("content {c} is not supported")),
                    };
                    for image in list {
                        let id = image["id"].as_str().unwrap_or_default();
                        let uploaded = s
                            .li_images
                            .get(id)
                            .is_some_and(|i| i.owner == LI_AUTHOR && i.data.is_some());
                        if !uploaded {
                            return li_refuse(
                                s,
                                422,
                                &format!("/content: {id} is not an AVAILABLE image of the author"),
                            );
                        }
                        let Some(alt) = image["altText"].as_str().filter(|a| !a.is_empty()) else {
                            // LinkedIn would take it; crieur must never send it.
                            return li_refuse(s, 422, &format!("/content: {id} has no altText"));
                        };
                        if alt.chars().count() > 4086 {
                            return li_refuse(s, 400, "altText is longer than 4,086 characters");
                        }
                        images.push((id.to_owned(), alt.to_owned()));
                    }
                    shape.to_owned()
                }
            };
            if let Some(p) = s.li_posts.iter().find(|p| p.commentary == commentary) {
                let message =
                    format!("ERROR :: /commentary :: Content is a duplicate of {}", p.urn);
                return Reply::Answer(Response::json(
                    422,
                    &json!({"status": 422, "message": message, "errorDetails": {"inputErrors": [
                        {"code": "DUPLICATE_POST", "input": {"inputPath": {"fieldPath": "/commentary"}}}]}}),
                ));
            }
            if s.hold_posts {
                s.held += 1;
                return Reply::Hold;
            }
            let urn = format!("urn:li:share:7{:018}", s.id());
            s.li_posts.push(LiPost { urn: urn.clone(), commentary, images, shape });
            Reply::Answer(Response {
                status: 201,
                headers: vec![("x-restli-id".into(), urn)],
                body: Vec::new(),
            })
        }
        _ => {
            s.violations.push(format!("linkedin: POST /{path}"));
            Reply::Answer(Response::json(404, &json!({"status": 404})))
        }
    }
}

/// The `PUT` of an image's bytes to the upload URL `initializeUpload` gave.
fn linkedin_put(s: &mut State, req: &Request) -> Response {
    s.log.push("li put".into());
    if req.method != "PUT" || req.bearer() != Some(LI_TOKEN) {
        s.violations.push(format!("linkedin upload: {} without the token", req.method));
        return Response::json(401, &json!({"status": 401}));
    }
    let Some(urn) = s.li_upload_urls.get(&req.path).cloned() else {
        return li_error(s, 404, &format!("no upload URL {}", req.path));
    };
    if req.body.is_empty() {
        return li_error(s, 400, "an empty upload");
    }
    s.li_images.get_mut(&urn).unwrap().data = Some(req.body.clone());
    Response { status: 201, headers: Vec::new(), body: Vec::new() }
}

// ----------------------------------------------------------------------------- Facebook

fn graph_error(s: &mut State, code: u32, message: &str) -> Reply {
    s.refusals.push(format!("facebook: {message}"));
    Reply::Answer(Response::json(
        400,
        &json!({"error": {"message": message, "type": "OAuthException", "code": code,
                          "fbtrace_id": "AmockMediaTrace"}}),
    ))
}

fn facebook(s: &mut State, req: &Request, path: &str) -> Reply {
    let parts: Vec<&str> = path.split('/').collect();
    let ["v25.0", page, edge] = parts.as_slice() else {
        s.violations.push(format!("facebook: {} /{path}", req.method));
        return Reply::Answer(Response::json(404, &json!({"error": {"code": 803}})));
    };
    if *page != FB_PAGE || req.bearer() != Some(FB_TOKEN) {
        s.violations.push(format!("facebook: /{path} without the Page's token"));
        return graph_error(s, 190, "Error validating access token");
    }
    match (req.method.as_str(), *edge) {
        ("POST", "photos") => {
            s.log.push("fb photo".into());
            let form = match parse_multipart(req.header("content-type").unwrap_or(""), &req.body) {
                Ok(f) => f,
                Err(e) => return graph_error(s, 100, &format!("photos: {e}")),
            };
            let field = |name: &str| {
                form.iter()
                    .find(|p| p.name == name)
                    .map(|p| String::from_utf8_lossy(&p.data).into_owned())
            };
            let Some(source) = form.iter().find(|p| p.name == "source" && p.filename.is_some())
            else {
                return graph_error(s, 324, "(#324) Requires upload file");
            };
            if field("published").as_deref() != Some("false") {
                // Published, the photo would be a post of its own before the feed post.
                s.violations.push("facebook: a photo uploaded without published=false".into());
            }
            let photo = FbPhoto {
                page: FB_PAGE.into(),
                alt: field("alt_text_custom"),
                content_type: source.content_type.clone(),
                data: source.data.clone(),
                attached_to: None,
            };
            let id = format!("{}", 900_000_000 + s.id());
            s.fb_photos.insert(id.clone(), photo);
            Reply::Answer(Response::json(200, &json!({"id": id})))
        }
        ("POST", "feed") => {
            s.log.push("fb post".into());
            if req.header("content-type") != Some("application/x-www-form-urlencoded") {
                s.violations.push("facebook: a feed post that is not a form".into());
            }
            let form: HashMap<String, String> = req.form().into_iter().collect();
            let Some(message) = form.get("message").cloned() else {
                return graph_error(s, 100, "(#100) message is required");
            };
            let mut attached = Vec::new();
            if let Some(list) = form.get("attached_media") {
                let Some(list) = serde_json::from_str::<Value>(list)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .filter(|l| (1..=10).contains(&l.len()))
                else {
                    return graph_error(s, 100, "(#100) attached_media must be 1 to 10 objects");
                };
                for (i, item) in list.iter().enumerate() {
                    let id = item["media_fbid"].as_str().unwrap_or_default().to_owned();
                    let usable = s
                        .fb_photos
                        .get(&id)
                        .is_some_and(|p| p.page == FB_PAGE && p.attached_to.is_none());
                    if !usable {
                        return graph_error(
                            s,
                            100,
                            &format!(
                                "(#100) param attached_media[{i}] has invalid media_fbid {id}"
                            ),
                        );
                    }
                    if s.fb_photos[&id].alt.as_deref().is_none_or(str::is_empty) {
                        // Facebook would take it; crieur must never send it.
                        return graph_error(s, 100, &format!("photo {id} has no alt_text_custom"));
                    }
                    attached.push(id);
                }
            }
            if s.hold_posts {
                s.held += 1;
                return Reply::Hold;
            }
            let id = format!("{FB_PAGE}_{}", 1_000_000 + s.id());
            for photo in &attached {
                s.fb_photos.get_mut(photo).unwrap().attached_to = Some(id.clone());
            }
            s.fb_posts.push(FbPost { id: id.clone(), message, attached, at: Timestamp::now() });
            Reply::Answer(Response::json(200, &json!({"id": id})))
        }
        ("GET", "published_posts") => {
            s.log.push("fb published_posts".into());
            let since: Option<i64> = req.param("since").and_then(|v| v.parse().ok());
            let data: Vec<Value> = s
                .fb_posts
                .iter()
                .rev()
                .filter(|p| since.is_none_or(|t| p.at.as_second() >= t))
                .map(|p| {
                    json!({"id": p.id, "message": p.message,
                           "created_time": p.at.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string()})
                })
                .collect();
            Reply::Answer(Response::json(200, &json!({"data": data, "paging": {}})))
        }
        (m, e) => {
            s.violations.push(format!("facebook: {m} {e}"));
            graph_error(s, 100, "Unsupported request")
        }
    }
}
