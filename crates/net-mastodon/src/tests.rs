//! The adapter against a strict mock of a Mastodon server on loopback.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::{Attachment, Delivery, Network, Outcome, Publisher, Reconciled};
use crieur_net_http::HttpLimits;
use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{MastodonAuth, MastodonConfig, MastodonPublisher};

const TOKEN: &str = "tok-123";

pub(crate) fn delivery(id: &str, text: &str) -> Delivery {
    Delivery {
        id: id.to_owned(),
        post: "p1".into(),
        channel: "fediverse".into(),
        network: Network::Mastodon,
        text: text.to_owned(),
        link: None,
        category: None,
        article: None,
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: Timestamp::from_second(1_790_000_000).unwrap(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

/// What the mock server holds, and the faults it is told to make.
#[derive(Default)]
struct State {
    statuses: Vec<Value>,
    keys: HashMap<String, usize>,
    media: HashMap<String, u32>,
    /// Answer 500 after creating the next N statuses.
    fail_after_accept: u32,
    /// Wait this long before answering the next status request (after creating it).
    stall_after_accept: u32,
    /// The next status answers `X-RateLimit-Remaining: 0`.
    exhaust: bool,
    requests: Vec<String>,
}

#[derive(Clone)]
struct Mastodon(Arc<Mutex<State>>);

fn refuse(code: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({ "error": error }))
}

impl Respond for Mastodon {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let p = req.url.path().to_owned();
        s.requests.push(format!("{} {p}", req.method));
        if req.headers.get("authorization").and_then(|v| v.to_str().ok())
            != Some(&format!("Bearer {TOKEN}"))
        {
            return refuse(401, "The access token is invalid");
        }
        match (req.method.as_str(), p.as_str()) {
            ("POST", "/api/v1/statuses") => self.status(&mut s, req),
            ("POST", "/api/v2/media") => {
                let ctype = req.headers.get("content-type").unwrap().to_str().unwrap();
                assert!(ctype.starts_with("multipart/form-data; boundary="), "{ctype}");
                let body = String::from_utf8_lossy(&req.body);
                assert!(
                    body.contains("name=\"description\"\r\n\r\nThe Lyon team on the stairs"),
                    "{body}"
                );
                assert!(
                    body.contains(
                        "name=\"file\"; filename=\"team.png\"\r\nContent-Type: image/png"
                    ),
                    "{body}"
                );
                let id = format!("m{}", s.media.len() + 1);
                s.media.insert(id.clone(), 2);
                ResponseTemplate::new(202).set_body_json(json!({ "id": id, "url": null }))
            }
            ("GET", m) if m.starts_with("/api/v1/media/") => {
                let id = m.trim_start_matches("/api/v1/media/");
                let Some(left) = s.media.get_mut(id) else {
                    return refuse(404, "Record not found");
                };
                if *left > 0 {
                    *left -= 1;
                    ResponseTemplate::new(206).set_body_json(json!({ "id": id, "url": null }))
                } else {
                    ResponseTemplate::new(200).set_body_json(
                        json!({ "id": id, "url": format!("https://files.example/{id}.png") }),
                    )
                }
            }
            ("GET", "/api/v1/accounts/verify_credentials") => {
                ResponseTemplate::new(200).set_body_json(json!({ "id": "42", "acct": "acme" }))
            }
            ("GET", "/api/v1/accounts/42/statuses") => {
                let limit: usize = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "limit")
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap();
                let mut all: Vec<Value> = s.statuses.iter().rev().cloned().collect();
                if let Some((_, max)) = req.url.query_pairs().find(|(k, _)| k == "max_id") {
                    all.retain(|st| {
                        st["id"].as_str().unwrap().parse::<u64>().unwrap()
                            < max.parse::<u64>().unwrap()
                    });
                }
                all.truncate(limit);
                ResponseTemplate::new(200).set_body_json(Value::Array(all))
            }
            ("GET", m) if m.starts_with("/api/v1/statuses/") && m.ends_with("/source") => {
                let id = m.trim_start_matches("/api/v1/statuses/").trim_end_matches("/source");
                match s.statuses.iter().find(|st| st["id"] == id) {
                    Some(st) => ResponseTemplate::new(200)
                        .set_body_json(json!({ "id": id, "text": st["text"], "spoiler_text": "" })),
                    None => refuse(404, "Record not found"),
                }
            }
            _ => refuse(404, "no such route in the mock"),
        }
    }
}

impl Mastodon {
    fn status(&self, s: &mut State, req: &Request) -> ResponseTemplate {
        let key = req.headers.get("idempotency-key").map(|v| v.to_str().unwrap().to_owned());
        let key = key.expect("every status request carries an Idempotency-Key");
        assert_eq!(req.headers.get("content-type").unwrap(), "application/json");
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let allowed = ["status", "visibility", "in_reply_to_id", "media_ids", "language"];
        for k in body.as_object().unwrap().keys() {
            assert!(allowed.contains(&k.as_str()), "unexpected field {k}");
        }
        assert!(["public", "unlisted", "private"].contains(&body["visibility"].as_str().unwrap()));
        if let Some(l) = body.get("language") {
            let l = l.as_str().expect("language is a string");
            assert!(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()), "ISO 639-1: {l}");
        }
        if let Some(&i) = s.keys.get(&key) {
            return ResponseTemplate::new(200).set_body_json(s.statuses[i].clone());
        }
        let text = body["status"].as_str().unwrap();
        if text.chars().count() > 500 {
            return refuse(422, "Validation failed: Text character limit of 500 exceeded");
        }
        if let Some(r) = body.get("in_reply_to_id")
            && !s.statuses.iter().any(|st| st["id"] == *r)
        {
            return refuse(404, "Record not found");
        }
        for m in body.get("media_ids").and_then(Value::as_array).into_iter().flatten() {
            match s.media.get(m.as_str().unwrap()) {
                None => return refuse(422, "Validation failed: media not found"),
                Some(left) if *left > 0 => {
                    return refuse(
                        422,
                        "Cannot attach files that have not finished processing. Try again in a moment!",
                    );
                }
                Some(_) => {}
            }
        }
        let id = (100 + s.statuses.len()).to_string();
        let status = json!({
            "id": id, "url": format!("https://social.example/@acme/{id}"),
            "uri": format!("https://social.example/users/acme/statuses/{id}"),
            "created_at": "2026-09-21T22:13:20.000Z", "text": text,
            "in_reply_to_id": body.get("in_reply_to_id").cloned().unwrap_or(Value::Null),
            "media_attachments": body.get("media_ids").cloned().unwrap_or(json!([])),
            "visibility": body["visibility"],
            "language": body.get("language").cloned().unwrap_or(Value::Null),
        });
        s.statuses.push(status.clone());
        s.keys.insert(key, s.statuses.len() - 1);
        if s.fail_after_accept > 0 {
            s.fail_after_accept -= 1;
            return refuse(500, "We're sorry, but something went wrong");
        }
        if s.stall_after_accept > 0 {
            s.stall_after_accept -= 1;
            return ResponseTemplate::new(200)
                .set_body_json(status)
                .set_delay(Duration::from_secs(5));
        }
        let mut r = ResponseTemplate::new(200)
            .insert_header("x-ratelimit-limit", "300")
            .insert_header("x-ratelimit-remaining", "299")
            .insert_header("x-ratelimit-reset", "2026-09-21T22:15:00.000Z");
        if s.exhaust {
            s.exhaust = false;
            r = r
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "2099-01-01T00:00:00.000Z");
        }
        r.set_body_json(status)
    }
}

async fn server() -> (MockServer, Arc<Mutex<State>>) {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(State::default()));
    for p in [path("/api/v1/statuses"), path("/api/v2/media")] {
        Mock::given(method("POST"))
            .and(p)
            .respond_with(Mastodon(state.clone()))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex("^/api/"))
        .respond_with(Mastodon(state.clone()))
        .mount(&server)
        .await;
    (server, state)
}

fn publisher(server: &MockServer, token: &str) -> MastodonPublisher {
    let mut cfg = MastodonConfig::new(
        "fediverse",
        server.uri(),
        MastodonAuth::Static(SecretString::from(token)),
    );
    cfg.media_poll = Duration::from_millis(10);
    cfg.http = HttpLimits { timeout: Duration::from_secs(1), ..HttpLimits::default() };
    MastodonPublisher::new(cfg).unwrap()
}

fn published(o: &Outcome) -> &str {
    match o {
        Outcome::Published { remote_id, .. } => remote_id,
        other => panic!("not published: {other:?}"),
    }
}

#[tokio::test]
async fn a_status_is_published_with_its_url_and_a_thread_replies_to_it() {
    let (server, state) = server().await;
    let p = publisher(&server, TOKEN);
    let first = p.publish(&delivery("d0", "Hello fediverse #Hiring")).await;
    assert_eq!(
        first,
        Outcome::Published {
            remote_id: "100".into(),
            url: Some("https://social.example/@acme/100".into())
        }
    );
    let mut reply = delivery("d1", "2/ more");
    reply.item = 1;
    reply.reply_to = Some("100".into());
    assert_eq!(published(&p.publish(&reply).await), "101");
    let s = state.lock().unwrap();
    assert_eq!(s.statuses[1]["in_reply_to_id"], "100");
    assert_eq!(s.statuses.len(), 2);
}

#[tokio::test]
async fn a_posts_own_visibility_and_language_win_over_the_channels() {
    let (server, state) = server().await;
    let p = publisher(&server, TOKEN);
    let mut d = delivery("d0", "Bonjour le fédivers");
    d.options.lang = Some("fr-CA".into());
    d.options.visibility = Some(crieur_core::Visibility::Unlisted);
    assert_eq!(published(&p.publish(&d).await), "100");
    assert_eq!(published(&p.publish(&delivery("d1", "Plain")).await), "101");
    let s = state.lock().unwrap();
    assert_eq!(
        (&s.statuses[0]["visibility"], &s.statuses[0]["language"]),
        (&json!("unlisted"), &json!("fr"))
    );
    assert_eq!(
        (&s.statuses[1]["visibility"], &s.statuses[1]["language"]),
        (&json!("public"), &Value::Null)
    );
}

#[tokio::test]
async fn the_same_delivery_sent_twice_returns_the_first_status() {
    let (server, state) = server().await;
    let p = publisher(&server, TOKEN);
    let d = delivery("d0", "Once only");
    let a = p.publish(&d).await;
    let mut again = d.clone();
    again.attempt = 2;
    again.may_have_been_sent = true;
    assert_eq!(p.publish(&again).await, a);
    assert_eq!(state.lock().unwrap().statuses.len(), 1);
}

#[tokio::test]
async fn a_500_after_accept_is_unknown_and_the_retry_gives_exactly_one_status() {
    let (server, state) = server().await;
    state.lock().unwrap().fail_after_accept = 1;
    let p = publisher(&server, TOKEN);
    let d = delivery("d0", "Through the storm");
    assert!(matches!(p.publish(&d).await, Outcome::Unknown { .. }));
    let mut retry = d.clone();
    retry.attempt = 2;
    retry.may_have_been_sent = true;
    assert_eq!(published(&p.publish(&retry).await), "100");
    assert_eq!(state.lock().unwrap().statuses.len(), 1);
}

#[tokio::test]
async fn a_dropped_answer_is_unknown_and_reconciliation_finds_the_status() {
    let (server, state) = server().await;
    state.lock().unwrap().stall_after_accept = 1;
    let p = publisher(&server, TOKEN);
    let mut d = delivery("d0", "Slow server");
    d.attempt_started_at = "2026-09-21T22:10:00Z".parse().unwrap();
    assert!(matches!(p.publish(&d).await, Outcome::Unknown { .. }));
    assert_eq!(
        p.reconcile(&d).await,
        Reconciled::Found {
            remote_id: "100".into(),
            url: Some("https://social.example/@acme/100".into())
        }
    );
    let mut retry = d.clone();
    retry.attempt = 2;
    retry.may_have_been_sent = true;
    assert_eq!(published(&p.publish(&retry).await), "100");
    assert_eq!(state.lock().unwrap().statuses.len(), 1);
    let other = delivery("d9", "never sent");
    assert_eq!(p.reconcile(&other).await, Reconciled::NotFound);
}

#[tokio::test]
async fn an_image_is_uploaded_with_its_alt_and_waited_for() {
    let (server, state) = server().await;
    let p = publisher(&server, TOKEN);
    let mut d = delivery("d0", "Our team");
    d.media.push(Attachment {
        path: "media/team.png".into(),
        alt: "The Lyon team on the stairs".into(),
        content_type: "image/png".into(),
        width: 2,
        height: 2,
        sha256: "00".into(),
        data: Arc::from(&b"\x89PNG\r\n\x1a\nfake"[..]),
    });
    assert_eq!(published(&p.publish(&d).await), "100");
    let s = state.lock().unwrap();
    assert_eq!(s.statuses[0]["media_attachments"], json!(["m1"]));
    let polls = s.requests.iter().filter(|r| r.starts_with("GET /api/v1/media/m1")).count();
    assert_eq!(polls, 3, "{:?}", s.requests);
}

#[tokio::test]
async fn a_status_sent_before_its_media_is_processed_waits_instead_of_failing() {
    let (server, state) = server().await;
    state.lock().unwrap().media.insert("m7".into(), 3);
    let p = publisher(&server, TOKEN);
    let body = json!({ "status": "x", "visibility": "public", "media_ids": ["m7"] });
    let token = SecretString::from(TOKEN);
    // The first status requests meet "not finished processing"; polling the media meanwhile
    // lets the mock finish it, as a real server would.
    let d = delivery("d0", "x");
    let wait = async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let mut s = state.lock().unwrap();
            let left = s.media.get_mut("m7").unwrap();
            if *left == 0 {
                break;
            }
            *left -= 1;
        }
    };
    let (o, ()) = tokio::join!(p.post_status_for_tests(&d, &token, &body), wait);
    assert_eq!(published(&o), "100");
}

#[tokio::test]
async fn a_refused_token_is_unauthorized_and_a_too_long_text_is_invalid() {
    let (server, _) = server().await;
    let p = publisher(&server, "wrong");
    assert!(matches!(p.publish(&delivery("d0", "hi")).await, Outcome::Unauthorized { .. }));
    let p = publisher(&server, TOKEN);
    let o = p.publish(&delivery("d1", &"a".repeat(501))).await;
    assert!(
        matches!(&o, Outcome::Rejected { kind: crieur_core::RejectKind::Invalid, reason } if reason.contains("character limit")),
        "{o:?}"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_holds_the_channel_until_its_reset() {
    let (server, state) = server().await;
    state.lock().unwrap().exhaust = true;
    let p = publisher(&server, TOKEN);
    assert_eq!(published(&p.publish(&delivery("d0", "one")).await), "100");
    let reset: Timestamp = "2099-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(p.hold_until(), Some(reset));
    let o = p.publish(&delivery("d1", "two")).await;
    assert!(matches!(o, Outcome::Retry { not_before: Some(t), .. } if t == reset), "{o:?}");
    assert_eq!(state.lock().unwrap().statuses.len(), 1, "nothing is sent while held");
}

#[tokio::test]
async fn credentials_are_checked_with_verify_credentials_and_nothing_is_posted() {
    let (server, state) = server().await;
    match publisher(&server, TOKEN).check_credentials().await {
        crieur_core::CredentialCheck::Accepted { account, expires_at } => {
            assert!(account.starts_with("@acme on "), "{account}");
            assert_eq!(expires_at, None);
        }
        other => panic!("{other:?}"),
    }
    match publisher(&server, "wrong").check_credentials().await {
        crieur_core::CredentialCheck::Refused { reason } => {
            assert!(reason.contains("crieur auth fediverse"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(state.lock().unwrap().statuses.is_empty());
}
