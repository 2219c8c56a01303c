//! Media uploads against a strict mock of X's media upload v2 on loopback: it keeps every upload
//! session and refuses what X refuses (a chunk before initialize, a finalize with missing bytes,
//! alt text on an unfinished upload, a post naming an unknown or expired media id, media without
//! alt text).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::{
    Attachment, Clock, Delivery, ManualClock, MediaLedger, MemoryLedger, Network, Outcome,
    Publisher, RejectKind,
};
use crieur_net_http::testing::parse_multipart;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Digest as _;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

const TOKEN: &str = "media-token";

fn now() -> Timestamp {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

fn attachment(path: &str, alt: &str, bytes: usize, content_type: &str) -> Attachment {
    let data: Vec<u8> = (0..bytes).map(|i| (i * 7 % 251) as u8).collect();
    let sha256 = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    Attachment {
        path: path.into(),
        alt: alt.into(),
        content_type: content_type.into(),
        width: 1200,
        height: 800,
        sha256,
        data: data.into(),
    }
}

fn delivery(item: u32, reply_to: Option<&str>, media: Vec<Attachment>) -> Delivery {
    Delivery {
        id: format!("p1/company-x/{item}"),
        post: "p1".into(),
        channel: "company-x".into(),
        network: Network::X,
        text: format!("Lyon office, part {item}"),
        link: None,
        category: None,
        article: None,
        item,
        reply_to: reply_to.map(str::to_owned),
        attempt: 1,
        attempt_started_at: now(),
        may_have_been_sent: false,
        media,
        options: Default::default(),
    }
}

#[derive(Default)]
struct Session {
    media_type: String,
    total_bytes: usize,
    segments: BTreeMap<usize, Vec<u8>>,
    finalized: bool,
    alt: Option<String>,
    expires_at: Option<Timestamp>,
    status_polls: u32,
}

#[derive(Default)]
struct XState {
    next_id: u64,
    sessions: HashMap<String, Session>,
    posts: Vec<Value>,
    initializes: u32,
    /// Answer 403 to every upload request (a token without `media.write`).
    no_media_scope: bool,
    /// Finalize of a GIF answers `processing_info` pending, then succeeded after this many polls.
    processing_polls: u32,
    /// Media ids expire this long after finalize.
    lifetime_secs: i64,
}

/// The strict mock: one responder for every path, holding X's state.
#[derive(Clone)]
struct StrictX {
    state: Arc<Mutex<XState>>,
    clock: Arc<ManualClock>,
}

fn problem(status: u16, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "title": "Invalid Request", "detail": detail, "type": "about:blank", "status": status
    }))
}

impl Respond for StrictX {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return problem(401, "Unauthorized");
        }
        let mut s = self.state.lock().unwrap();
        let path = req.url.path().to_owned();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let json_body = || serde_json::from_slice::<Value>(&req.body).ok();
        let is_json = req
            .headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        if s.no_media_scope && path.starts_with("/2/media") {
            return problem(403, "Forbidden");
        }
        match (req.method.as_str(), parts.as_slice()) {
            ("POST", ["2", "media", "upload", "initialize"]) => {
                let Some(b) = json_body().filter(|_| is_json) else {
                    return problem(400, "initialize takes a JSON body");
                };
                let (Some(t), Some(n), Some(c)) = (
                    b["media_type"].as_str(),
                    b["total_bytes"].as_u64(),
                    b["media_category"].as_str(),
                ) else {
                    return problem(400, "media_type, total_bytes and media_category are required");
                };
                let expected = match t {
                    "image/gif" => "tweet_gif",
                    "image/jpeg" | "image/png" | "image/webp" => "tweet_image",
                    _ => return problem(400, "unsupported media_type"),
                };
                if c != expected || n == 0 || n > 15 * 1024 * 1024 {
                    return problem(400, "bad media_category or total_bytes");
                }
                s.next_id += 1;
                s.initializes += 1;
                let id = format!("18800281060205158{:02}", s.next_id);
                s.sessions.insert(
                    id.clone(),
                    Session { media_type: t.into(), total_bytes: n as usize, ..Session::default() },
                );
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86_399
                }}))
            }
            ("POST", ["2", "media", "upload", id, "append"]) => {
                let ct = req.headers.get("content-type").and_then(|v| v.to_str().ok());
                let Ok(form) = parse_multipart(ct.unwrap_or(""), &req.body) else {
                    return problem(400, "append takes multipart/form-data");
                };
                let Some(session) = s.sessions.get_mut(*id) else {
                    return problem(400, "media id not found: initialize first");
                };
                if session.finalized {
                    return problem(400, "the upload is finalized");
                }
                let index = form.iter().find(|p| p.name == "segment_index");
                let media = form.iter().find(|p| p.name == "media");
                let (Some(index), Some(media)) = (index, media) else {
                    return problem(400, "segment_index and media are required");
                };
                let Ok(index) = String::from_utf8_lossy(&index.data).parse::<usize>() else {
                    return problem(400, "segment_index is not a number");
                };
                if index > 999 || media.data.len() > 5 * 1024 * 1024 {
                    return problem(400, "segment too large or index out of range");
                }
                session.segments.insert(index, media.data.clone());
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": {"expires_at": 1_764_000_000}}))
            }
            ("POST", ["2", "media", "upload", id, "finalize"]) => {
                let clock_now = self.clock.now();
                let polls = s.processing_polls;
                let lifetime = s.lifetime_secs;
                let Some(session) = s.sessions.get_mut(*id) else {
                    return problem(400, "media id not found");
                };
                let contiguous = session.segments.keys().copied().eq(0..session.segments.len());
                let size: usize = session.segments.values().map(Vec::len).sum();
                if !contiguous || size != session.total_bytes {
                    return problem(400, "segments missing or size mismatch");
                }
                session.finalized = true;
                session.expires_at = Some(clock_now + SignedDuration::from_secs(lifetime));
                let mut data = json!({"id": id, "media_key": format!("3_{id}"),
                    "size": size, "expires_after_secs": lifetime});
                if session.media_type == "image/gif" && polls > 0 {
                    session.status_polls = polls;
                    data["processing_info"] = json!({"state": "pending", "check_after_secs": 0});
                }
                ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
            }
            ("GET", ["2", "media", "upload"]) => {
                let q: HashMap<_, _> = req.url.query_pairs().into_owned().collect();
                if q.get("command").map(String::as_str) != Some("STATUS") {
                    return problem(400, "command=STATUS expected");
                }
                let Some(session) = q.get("media_id").and_then(|id| s.sessions.get_mut(id)) else {
                    return problem(400, "media id not found");
                };
                session.status_polls = session.status_polls.saturating_sub(1);
                let state = if session.status_polls == 0 { "succeeded" } else { "in_progress" };
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "id": q["media_id"], "processing_info": {"state": state, "check_after_secs": 0}
                }}))
            }
            ("POST", ["2", "media", "metadata"]) => {
                let Some(b) = json_body().filter(|_| is_json) else {
                    return problem(400, "metadata takes a JSON body");
                };
                let Some(session) = b["id"].as_str().and_then(|id| s.sessions.get_mut(id)) else {
                    return problem(400, "media id not found");
                };
                if !session.finalized {
                    return problem(400, "the upload is not finalized");
                }
                let Some(text) = b.pointer("/metadata/alt_text/text").and_then(Value::as_str)
                else {
                    return problem(400, "metadata.alt_text.text is required");
                };
                if text.is_empty() || text.chars().count() > 1000 {
                    return problem(400, "alt text must be 1 to 1000 characters");
                }
                session.alt = Some(text.into());
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": {"associated_metadata": true}}))
            }
            ("POST", ["2", "tweets"]) => {
                let Some(b) = json_body().filter(|_| is_json) else {
                    return problem(400, "JSON body expected");
                };
                if let Some(ids) = b.pointer("/media/media_ids") {
                    let Some(ids) = ids.as_array().filter(|a| !a.is_empty() && a.len() <= 4) else {
                        return problem(400, "media.media_ids must list 1 to 4 ids");
                    };
                    for id in ids {
                        let session = id.as_str().and_then(|id| s.sessions.get(id));
                        let Some(session) = session.filter(|m| m.finalized) else {
                            return problem(400, "Your media IDs are invalid.");
                        };
                        if session.expires_at.is_none_or(|e| e <= self.clock.now()) {
                            return problem(400, "Your media IDs are invalid (expired).");
                        }
                        if session.status_polls > 0 {
                            return problem(400, "The media is still being processed.");
                        }
                        if session.alt.is_none() {
                            // X itself posts media without alt text; crieur never does.
                            return problem(400, "test mock: media without alt text");
                        }
                    }
                }
                s.posts.push(b);
                let id = format!("19000000000000000{:02}", s.posts.len());
                ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id, "text": "x"}}))
            }
            _ => problem(404, "no such endpoint"),
        }
    }
}

struct Env {
    server: MockServer,
    x: StrictX,
    clock: Arc<ManualClock>,
    ledger: Arc<MemoryLedger>,
}

async fn env() -> Env {
    let server = MockServer::start().await;
    let clock = Arc::new(ManualClock::new(now()));
    let state = XState { lifetime_secs: 86_400, ..XState::default() };
    let x = StrictX { state: Arc::new(Mutex::new(state)), clock: clock.clone() };
    Mock::given(any()).respond_with(x.clone()).mount(&server).await;
    Env { server, x, clock, ledger: Arc::new(MemoryLedger::new()) }
}

impl Env {
    fn publisher_with(&self, ledger: Option<Arc<dyn MediaLedger>>, chunk: usize) -> XPublisher {
        let mut c = XPublisherConfig::new("company-x", XAuth::Static(SecretString::from(TOKEN)));
        c.api_base = self.server.uri();
        c.clock = self.clock.clone();
        c.http.timeout = Duration::from_secs(10);
        c.ledger = ledger;
        c.media.chunk_bytes = chunk;
        XPublisher::new(c).unwrap()
    }

    fn publisher(&self) -> XPublisher {
        self.publisher_with(Some(self.ledger.clone()), 1000)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, XState> {
        self.x.state.lock().unwrap()
    }

    async fn requests(&self) -> Vec<String> {
        let reqs = self.server.received_requests().await.unwrap();
        reqs.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect()
    }
}

#[tokio::test]
async fn two_images_are_uploaded_in_chunks_with_alt_text_and_attached_to_the_post() {
    let env = env().await;
    let a =
        attachment("lyon-team.jpg", "Six people smiling in the Lyon office", 2500, "image/jpeg");
    let b = attachment("lyon-desk.png", "A desk by a window over the Rhône", 900, "image/png");
    let outcome = env.publisher().publish(&delivery(0, None, vec![a.clone(), b.clone()])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let ids = {
        let s = env.state();
        s.posts[0]["media"]["media_ids"].as_array().unwrap().clone()
    };
    assert_eq!(ids.len(), 2);
    let order = env.requests().await;
    let s = env.state();
    let first = &s.sessions[ids[0].as_str().unwrap()];
    assert_eq!(first.segments.len(), 3, "2,500 bytes in chunks of 1,000");
    let bytes: Vec<u8> = first.segments.values().flatten().copied().collect();
    assert_eq!(bytes, a.data.to_vec(), "the exact bytes, in order");
    assert_eq!(first.alt.as_deref(), Some(a.alt.as_str()));
    let second = &s.sessions[ids[1].as_str().unwrap()];
    assert_eq!(second.alt.as_deref(), Some(b.alt.as_str()));
    assert_eq!(second.media_type, "image/png");
    drop(s);
    let id = ids[0].as_str().unwrap();
    assert_eq!(
        order[..6],
        [
            "POST /2/media/upload/initialize".to_owned(),
            format!("POST /2/media/upload/{id}/append"),
            format!("POST /2/media/upload/{id}/append"),
            format!("POST /2/media/upload/{id}/append"),
            format!("POST /2/media/upload/{id}/finalize"),
            "POST /2/media/metadata".to_owned(),
        ]
    );
    assert_eq!(order.last().unwrap(), "POST /2/tweets");
}

#[tokio::test]
async fn the_mock_refuses_what_x_refuses() {
    let env = env().await;
    let client = reqwest_client();
    let base = env.server.uri();
    let post = |path: &str, body: Value| {
        client.post(format!("{base}{path}")).bearer_auth(TOKEN).json(&body).send()
    };
    // A chunk for an upload never initialized.
    let form = crieur_net_http::reqwest::multipart::Form::new()
        .text("segment_index", "0")
        .part("media", crieur_net_http::reqwest::multipart::Part::bytes(vec![1, 2, 3]));
    let r = client
        .post(format!("{base}/2/media/upload/123/append"))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // Finalize before any chunk; alt text before finalize.
    let init = post(
        "/2/media/upload/initialize",
        json!({"media_type": "image/jpeg", "total_bytes": 3, "media_category": "tweet_image"}),
    )
    .await
    .unwrap();
    let id = init.json::<Value>().await.unwrap()["data"]["id"].as_str().unwrap().to_owned();
    let alt = json!({"id": id, "metadata": {"alt_text": {"text": "a"}}});
    assert_eq!(post("/2/media/metadata", alt).await.unwrap().status().as_u16(), 400);
    let fin = client.post(format!("{base}/2/media/upload/{id}/finalize")).bearer_auth(TOKEN);
    assert_eq!(fin.send().await.unwrap().status().as_u16(), 400);
    // A post naming an unknown media id, or an unfinished one.
    let unknown = json!({"text": "t", "media": {"media_ids": ["999"]}});
    assert_eq!(post("/2/tweets", unknown).await.unwrap().status().as_u16(), 400);
    let unfinished = json!({"text": "t", "media": {"media_ids": [id]}});
    assert_eq!(post("/2/tweets", unfinished).await.unwrap().status().as_u16(), 400);
    // Empty alt text.
    let empty = json!({"id": "1", "metadata": {"alt_text": {"text": ""}}});
    assert_eq!(post("/2/media/metadata", empty).await.unwrap().status().as_u16(), 400);
    assert!(env.state().posts.is_empty());
}

fn reqwest_client() -> crieur_net_http::reqwest::Client {
    crieur_net_http::install_crypto_provider();
    crieur_net_http::reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn a_thread_reply_carries_its_own_media() {
    let env = env().await;
    let p = env.publisher();
    let a = attachment("one.jpg", "First picture", 500, "image/jpeg");
    let b = attachment("two.jpg", "Second picture", 600, "image/jpeg");
    let first = p.publish(&delivery(0, None, vec![a])).await;
    let Outcome::Published { remote_id, .. } = first else { panic!("{first:?}") };
    let reply = p.publish(&delivery(1, Some(&remote_id), vec![b.clone()])).await;
    assert!(matches!(reply, Outcome::Published { .. }), "{reply:?}");
    let s = env.state();
    assert_eq!(s.posts[1]["reply"]["in_reply_to_tweet_id"], remote_id.as_str());
    let id = s.posts[1]["media"]["media_ids"][0].as_str().unwrap();
    assert_ne!(Some(id), s.posts[0]["media"]["media_ids"][0].as_str());
    assert_eq!(s.sessions[id].alt.as_deref(), Some("Second picture"));
}

#[tokio::test]
async fn after_a_crash_between_upload_and_post_the_recorded_media_is_not_uploaded_again() {
    let env = env().await;
    let a = attachment("lyon-team.jpg", "Six people in Lyon", 2500, "image/jpeg");
    let b = attachment("lyon-desk.png", "A desk", 900, "image/png");
    // The first process uploads both, then dies before the post: the mock refuses nothing, so
    // simulate the crash by uploading without posting.
    let first = env.publisher();
    let d = delivery(0, None, vec![a.clone(), b.clone()]);
    let ids = first.media_ids(&d).await.unwrap();
    drop(first);
    let (initializes, posts) = {
        let s = env.state();
        (s.initializes, s.posts.len())
    };
    assert_eq!((initializes, posts), (2, 0));
    // The restarted process (a new publisher on the same ledger) posts once, uploading nothing.
    env.clock.advance(SignedDuration::from_mins(5));
    let again = env.publisher();
    let outcome = again.publish(&delivery(0, None, vec![a, b])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let s = env.state();
    assert_eq!(s.initializes, 2, "no second upload");
    assert_eq!(s.posts.len(), 1);
    let posted: Vec<String> = s.posts[0]["media"]["media_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(posted, ids);
}

#[tokio::test]
async fn an_expired_media_id_is_uploaded_again() {
    let env = env().await;
    env.state().lifetime_secs = 3600;
    let a = attachment("lyon-team.jpg", "Six people in Lyon", 700, "image/jpeg");
    let p = env.publisher();
    let old = p.media_ids(&delivery(0, None, vec![a.clone()])).await.unwrap();
    let recorded = env.ledger.lookup("company-x", &ledger_key(&a)).await.unwrap().unwrap();
    assert_eq!(recorded.expires_at, Some(now() + SignedDuration::from_hours(1)));
    // Two hours later X no longer knows the id: crieur uploads again and posts the new one.
    env.clock.advance(SignedDuration::from_hours(2));
    let outcome = p.publish(&delivery(0, None, vec![a.clone()])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let (initializes, posted) = {
        let s = env.state();
        (s.initializes, s.posts[0]["media"]["media_ids"][0].as_str().unwrap().to_owned())
    };
    assert_eq!(initializes, 2);
    assert_ne!(posted, old[0]);
    let fresh = env.ledger.lookup("company-x", &ledger_key(&a)).await.unwrap().unwrap();
    assert_eq!(fresh.remote_id, posted);
}

#[tokio::test]
async fn without_a_ledger_every_attempt_uploads_and_the_mock_refuses_an_expired_id() {
    let env = env().await;
    env.state().lifetime_secs = 60;
    let a = attachment("a.jpg", "alt", 100, "image/jpeg");
    let p = env.publisher_with(None, 1000);
    let ids = p.media_ids(&delivery(0, None, vec![a.clone()])).await.unwrap();
    env.clock.advance(SignedDuration::from_mins(2));
    // Posting the stale id by hand is refused as X refuses it.
    let r = reqwest_client()
        .post(format!("{}/2/tweets", env.server.uri()))
        .bearer_auth(TOKEN)
        .json(&json!({"text": "t", "media": {"media_ids": ids}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let outcome = p.publish(&delivery(0, None, vec![a])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    assert_eq!(env.state().initializes, 2);
}

#[tokio::test]
async fn a_token_without_media_write_is_unauthorized_and_says_to_run_crieur_auth() {
    let env = env().await;
    env.state().no_media_scope = true;
    let a = attachment("a.jpg", "alt", 100, "image/jpeg");
    let outcome = env.publisher().publish(&delivery(0, None, vec![a])).await;
    let Outcome::Unauthorized { reason } = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("media.write"), "{reason}");
    assert!(reason.contains("crieur auth company-x"), "{reason}");
    assert!(env.state().posts.is_empty(), "nothing posted");
}

#[tokio::test]
async fn a_gif_waits_for_processing_before_the_post() {
    let env = env().await;
    env.state().processing_polls = 2;
    let gif = attachment("dance.gif", "A dancing robot", 1500, "image/gif");
    let outcome = env.publisher().publish(&delivery(0, None, vec![gif])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let order = env.requests().await;
    let polls = order.iter().filter(|r| r.as_str() == "GET /2/media/upload").count();
    assert_eq!(polls, 2);
    let status = order.iter().position(|r| r == "GET /2/media/upload").unwrap();
    let alt = order.iter().position(|r| r == "POST /2/media/metadata").unwrap();
    assert!(status < alt, "{order:?}");
}

#[tokio::test]
async fn bytes_x_refuses_end_in_a_rejection_and_nothing_is_posted() {
    let env = env().await;
    let video = attachment("clip.mov", "A clip", 100, "video/quicktime");
    let outcome = env.publisher().publish(&delivery(0, None, vec![video])).await;
    assert!(
        matches!(outcome, Outcome::Rejected { kind: RejectKind::Invalid, ref reason } if reason.contains("clip.mov")),
        "{outcome:?}"
    );
    assert!(env.state().posts.is_empty());
}

#[tokio::test]
#[ignore = "a measurement: cargo test -p crieur-net-x -- --ignored --nocapture upload_time"]
async fn upload_time_of_a_4_mb_jpeg_to_a_loopback_mock() {
    let env = env().await;
    let p = env.publisher_with(None, DEFAULT_CHUNK_BYTES);
    let jpeg = attachment("big.jpg", "A big photo", 4_000_000, "image/jpeg");
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let ids = p.media_ids(&delivery(0, None, vec![jpeg.clone()])).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(ids.len(), 1);
    }
    times.sort();
    println!(
        "X: upload of a 4 MB JPEG to the loopback mock: median {:?} (min {:?}, max {:?})",
        times[2], times[0], times[4]
    );
}
