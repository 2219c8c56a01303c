//! The adapter against a strict mock of a Bluesky PDS on loopback: it checks the JSON bodies, the
//! session tokens, every facet's byte offsets, that reply refs point at existing records and
//! blobs were uploaded, refuses a second create on one key with a 500 (as bsky.social does) and
//! blobs over 1,000,000 bytes, expires access tokens, and limits logins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use crieur_core::{
    Attachment, Delivery, ManualClock, Network, Outcome, Publisher, Reconciled, RejectKind,
};
use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{BlueskyConfig, BlueskyPublisher, delivery_rkey, is_tid, parse_remote_id};

const DID: &str = "did:plc:crieurtest";
const PASSWORD: &str = "abcd-efgh-ijkl-mnop";

#[derive(Default)]
struct State {
    logins: u32,
    refreshes: u32,
    serial: u32,
    access: Option<(String, bool)>,
    refresh: Option<String>,
    records: HashMap<String, (String, Value)>,
    blobs: HashMap<String, usize>,
    creates: u32,
    /// Store the next record, then answer 500.
    accept_then_500: bool,
    /// Expire the access token after this many more uses.
    expire_after: Option<u32>,
    /// Refuse refreshes.
    refuse_refresh: bool,
    /// Send `ratelimit-remaining: 0` with this reset.
    exhausted_until: Option<i64>,
}

#[derive(Clone, Default)]
struct Pds(Arc<Mutex<State>>);

fn jwt(sub: &str, exp: i64, n: u32) -> String {
    let e = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.sig{n}",
        e(r#"{"alg":"ES256K"}"#.into()),
        e(format!(r#"{{"sub":"{sub}","exp":{exp},"n":{n}}}"#))
    )
}

fn err(code: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({ "error": name, "message": message }))
}

impl Pds {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    fn new_session(s: &mut State) -> Value {
        s.serial += 1;
        let access = jwt(DID, Timestamp::now().as_second() + 7200, s.serial);
        let refresh = format!("refresh-{}", s.serial);
        s.access = Some((access.clone(), true));
        s.refresh = Some(refresh.clone());
        json!({ "accessJwt": access, "refreshJwt": refresh, "did": DID, "handle": "acme.test" })
    }

    /// Checks the bearer access token: `None` when it is good.
    fn check_access(s: &mut State, req: &Request) -> Option<ResponseTemplate> {
        let bearer = req.headers.get("authorization").and_then(|v| v.to_str().ok());
        let Some((token, _)) = s.access.clone() else {
            return Some(err(401, "AuthenticationRequired", "no session"));
        };
        if bearer != Some(&format!("Bearer {token}")) {
            return Some(err(401, "AuthenticationRequired", "bad token"));
        }
        if let Some(n) = s.expire_after.as_mut() {
            if *n == 0 {
                s.access = Some((token, false));
                s.expire_after = None;
            } else {
                *n -= 1;
            }
        }
        if !s.access.as_ref().is_some_and(|a| a.1) {
            return Some(err(400, "ExpiredToken", "Token has expired"));
        }
        None
    }
}

/// Checks one record as the PDS's lexicon validation would, and the facets byte for byte.
fn check_record(s: &State, record: &Value) -> Result<(), String> {
    if record["$type"] != "app.bsky.feed.post" {
        return Err("$type".into());
    }
    let text = record["text"].as_str().ok_or("text")?;
    record["createdAt"].as_str().and_then(|t| t.parse::<Timestamp>().ok()).ok_or("createdAt")?;
    let mut last = 0;
    for f in record["facets"].as_array().into_iter().flatten() {
        let start = f["index"]["byteStart"].as_u64().ok_or("byteStart")? as usize;
        let end = f["index"]["byteEnd"].as_u64().ok_or("byteEnd")? as usize;
        if start < last || end <= start || end > text.len() {
            return Err(format!("facet {start}..{end} out of order or outside the text"));
        }
        last = end;
        let slice = text.get(start..end).ok_or("facet not on a character boundary")?;
        let feature = &f["features"][0];
        let ok = match feature["$type"].as_str() {
            Some("app.bsky.richtext.facet#link") => feature["uri"] == slice,
            Some("app.bsky.richtext.facet#tag") => {
                slice.strip_prefix('#').is_some_and(|t| feature["tag"] == t)
            }
            Some("app.bsky.richtext.facet#mention") => {
                slice == "@friend.bsky.social" && feature["did"] == "did:plc:friend"
            }
            _ => false,
        };
        if !ok {
            return Err(format!("facet {start}..{end} ({slice:?}) does not match {feature}"));
        }
    }
    if let Some(reply) = record.get("reply") {
        for which in ["root", "parent"] {
            let uri = reply[which]["uri"].as_str().ok_or("reply uri")?;
            let rkey = uri.rsplit('/').next().unwrap_or_default();
            match s.records.get(rkey) {
                Some((cid, _)) if reply[which]["cid"] == cid.as_str() => {}
                _ => return Err(format!("reply {which} {uri} does not exist")),
            }
        }
    }
    if let Some(langs) = record.get("langs") {
        let all = langs.as_array().ok_or("langs is not a list")?;
        if all.is_empty() || all.len() > 3 || !all.iter().all(|l| l.as_str().is_some()) {
            return Err(format!("langs {langs}"));
        }
    }
    if let Some(embed) = record.get("embed")
        && embed["$type"] == "app.bsky.embed.external"
    {
        let ext = &embed["external"];
        if !(ext["uri"].is_string() && ext["title"].is_string() && ext["description"].is_string()) {
            return Err(format!("external embed {ext}"));
        }
    }
    if let Some(embed) = record.get("embed")
        && embed["$type"] == "app.bsky.embed.images"
    {
        for image in embed["images"].as_array().ok_or("images")? {
            image["alt"].as_str().ok_or("alt")?;
            let link = image["image"]["ref"]["$link"].as_str().ok_or("blob ref")?;
            if !s.blobs.contains_key(link) {
                return Err(format!("blob {link} was never uploaded"));
            }
        }
    }
    Ok(())
}

impl Respond for Pds {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state();
        let method = req.url.path().trim_start_matches("/xrpc/").to_owned();
        let query: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let limit_headers = |t: ResponseTemplate, s: &State| match s.exhausted_until {
            Some(reset) => t
                .insert_header("ratelimit-limit", "5000")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", reset.to_string().as_str()),
            None => t,
        };
        let answer = match (req.method.as_str(), method.as_str()) {
            ("POST", "com.atproto.server.createSession") => {
                s.logins += 1;
                if s.logins > 30 {
                    return err(429, "RateLimitExceeded", "Rate Limit Exceeded")
                        .insert_header("ratelimit-remaining", "0")
                        .insert_header("ratelimit-reset", "2000000000");
                }
                if body["identifier"] != "acme.test" || body["password"] != PASSWORD {
                    return err(401, "AuthenticationRequired", "Invalid identifier or password");
                }
                ResponseTemplate::new(200).set_body_json(Self::new_session(&mut s))
            }
            ("POST", "com.atproto.server.refreshSession") => {
                let bearer = req.headers.get("authorization").and_then(|v| v.to_str().ok());
                let good = s.refresh.as_ref().map(|r| format!("Bearer {r}"));
                if s.refuse_refresh || bearer.is_none() || bearer.map(str::to_owned) != good {
                    return err(400, "ExpiredToken", "Token has been revoked");
                }
                s.refreshes += 1;
                ResponseTemplate::new(200).set_body_json(Self::new_session(&mut s))
            }
            ("GET", "com.atproto.server.getSession") => {
                if let Some(e) = Self::check_access(&mut s, req) {
                    return e;
                }
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "handle": "acme.test", "did": DID }))
            }
            ("GET", "com.atproto.identity.resolveHandle") => {
                if let Some(e) = Self::check_access(&mut s, req) {
                    return e;
                }
                match query.get("handle").map(String::as_str) {
                    Some("friend.bsky.social") => {
                        ResponseTemplate::new(200).set_body_json(json!({ "did": "did:plc:friend" }))
                    }
                    _ => err(400, "InvalidRequest", "Unable to resolve handle"),
                }
            }
            ("POST", "com.atproto.repo.uploadBlob") => {
                if let Some(e) = Self::check_access(&mut s, req) {
                    return e;
                }
                let Some(mime) = req.headers.get("content-type").and_then(|v| v.to_str().ok())
                else {
                    return err(400, "InvalidRequest", "no content type");
                };
                if req.body.len() > 1_000_000 {
                    return err(400, "BlobTooLarge", "This file is too large");
                }
                let link = format!("bafkblob{}", s.blobs.len());
                s.blobs.insert(link.clone(), req.body.len());
                ResponseTemplate::new(200).set_body_json(json!({ "blob": {
                    "$type": "blob", "ref": { "$link": link }, "mimeType": mime, "size": req.body.len()
                }}))
            }
            ("POST", "com.atproto.repo.createRecord") => {
                if let Some(e) = Self::check_access(&mut s, req) {
                    return e;
                }
                s.creates += 1;
                if req.headers.get("content-type").and_then(|v| v.to_str().ok())
                    != Some("application/json")
                {
                    return err(400, "InvalidRequest", "content type");
                }
                let rkey = body["rkey"].as_str().unwrap_or_default().to_owned();
                if body["repo"] != DID
                    || body["collection"] != "app.bsky.feed.post"
                    || !is_tid(&rkey)
                {
                    return err(400, "InvalidRequest", "repo, collection or rkey");
                }
                if let Err(e) = check_record(&s, &body["record"]) {
                    return err(400, "InvalidRecord", &e);
                }
                if s.records.contains_key(&rkey) {
                    return err(500, "InternalServerError", "Internal Server Error");
                }
                let cid = format!("bafyrec{}", s.records.len());
                s.records.insert(rkey.clone(), (cid.clone(), body["record"].clone()));
                if std::mem::take(&mut s.accept_then_500) {
                    return err(500, "InternalServerError", "Internal Server Error");
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": cid,
                }))
            }
            ("GET", "com.atproto.repo.getRecord") => {
                if let Some(e) = Self::check_access(&mut s, req) {
                    return e;
                }
                let rkey = query.get("rkey").cloned().unwrap_or_default();
                if query.get("repo").map(String::as_str) != Some(DID) {
                    return err(400, "InvalidRequest", "repo");
                }
                match s.records.get(&rkey) {
                    Some((cid, value)) => ResponseTemplate::new(200).set_body_json(json!({
                        "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
                        "cid": cid, "value": value,
                    })),
                    None => err(400, "RecordNotFound", "Could not locate record"),
                }
            }
            _ => err(404, "MethodNotImplemented", "unknown method"),
        };
        limit_headers(answer, &s)
    }
}

async fn mock() -> (MockServer, Pds) {
    let server = MockServer::start().await;
    let pds = Pds::default();
    Mock::given(any()).respond_with(pds.clone()).mount(&server).await;
    (server, pds)
}

fn publisher(server: &MockServer) -> BlueskyPublisher {
    let mut cfg = BlueskyConfig::new("sky", "acme.test", SecretString::from(PASSWORD));
    cfg.service = server.uri();
    cfg.clock = Arc::new(ManualClock::new(Timestamp::now()));
    BlueskyPublisher::new(cfg).unwrap()
}

fn delivery(id: &str, text: &str) -> Delivery {
    Delivery {
        id: id.into(),
        post: "p".into(),
        channel: "sky".into(),
        network: Network::Bluesky,
        text: text.into(),
        link: None,
        category: None,
        article: None,
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: Timestamp::from_second(1_780_000_000).unwrap(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

fn published(o: &Outcome) -> (String, String) {
    match o {
        Outcome::Published { remote_id, url } => (remote_id.clone(), url.clone().unwrap()),
        other => panic!("not published: {other:?}"),
    }
}

#[tokio::test]
async fn a_post_with_links_mentions_and_tags_gets_exact_facets_and_one_login() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    let text = "🎉 Café\u{301} 東京 with @friend.bsky.social: https://example.com/a, #Hiring!";
    let (id, url) = published(&p.publish(&delivery("p:sky:0", text)).await);
    let rkey = delivery_rkey("p:sky:0", Timestamp::from_second(1_780_000_000).unwrap());
    assert_eq!(url, format!("https://bsky.app/profile/acme.test/post/{rkey}"));
    assert!(id.starts_with(&format!("at://{DID}/app.bsky.feed.post/{rkey}|")));
    for n in 1..5 {
        published(&p.publish(&delivery(&format!("q{n}:sky:0"), "again")).await);
    }
    let s = pds.state();
    assert_eq!(s.logins, 1, "one login for the whole run");
    let record = &s.records[&rkey].1;
    assert_eq!(record["facets"].as_array().unwrap().len(), 3, "{record}");
}

#[tokio::test]
async fn a_thread_reply_carries_strong_refs_to_its_parent_and_root() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    let (root, _) = published(&p.publish(&delivery("t:sky:0", "1/ start")).await);
    let second = Delivery { item: 1, reply_to: Some(root.clone()), ..delivery("t:sky:1", "2/") };
    let (mid, _) = published(&p.publish(&second).await);
    let third = Delivery { item: 2, reply_to: Some(mid.clone()), ..delivery("t:sky:2", "3/") };
    let (last, _) = published(&p.publish(&third).await);
    let (_, root_ref) = parse_remote_id(&last).unwrap();
    assert_eq!(root_ref, parse_remote_id(&root).unwrap().0);
    let orphan = Delivery { item: 1, ..delivery("o:sky:1", "lost") };
    assert!(matches!(p.publish(&orphan).await, Outcome::Rejected { .. }));
    let s = pds.state();
    let third_rkey = parse_remote_id(&last).unwrap().0.uri.rsplit('/').next().unwrap().to_owned();
    let reply = &s.records[&third_rkey].1["reply"];
    assert_eq!(reply["parent"]["uri"], parse_remote_id(&mid).unwrap().0.uri);
    assert_eq!(reply["root"]["uri"], parse_remote_id(&root).unwrap().0.uri);
    assert_eq!(s.records.len(), 3, "nothing written for the orphan");
}

#[tokio::test]
async fn a_500_after_the_record_was_written_is_settled_by_get_record() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    pds.state().accept_then_500 = true;
    published(&p.publish(&delivery("a:sky:0", "once")).await);
    // A resend of the same delivery: the same key, a 500 for the existing record, then found.
    published(&p.publish(&Delivery { attempt: 2, ..delivery("a:sky:0", "once") }).await);
    let s = pds.state();
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.creates, 2);
}

#[tokio::test]
async fn reconciliation_reads_the_record_key_and_says_absent_when_it_is() {
    let (server, _pds) = mock().await;
    let p = publisher(&server);
    let d = Delivery { may_have_been_sent: true, ..delivery("r:sky:0", "maybe") };
    assert_eq!(p.reconcile(&d).await, Reconciled::NotFound);
    let (id, _) = published(&p.publish(&d).await);
    match p.reconcile(&d).await {
        Reconciled::Found { remote_id, url } => {
            assert_eq!(remote_id, id);
            assert!(url.unwrap().starts_with("https://bsky.app/profile/acme.test/post/"));
        }
        other => panic!("{other:?}"),
    }
}

fn image(bytes: usize) -> Attachment {
    Attachment {
        path: "office.png".into(),
        alt: "Six people in front of the Lyon office".into(),
        content_type: "image/png".into(),
        width: 1200,
        height: 800,
        sha256: "00".into(),
        data: vec![7u8; bytes].into(),
    }
}

#[tokio::test]
async fn images_are_uploaded_with_alt_and_aspect_ratio_and_large_ones_refused() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    let d = Delivery { media: vec![image(1000), image(2000)], ..delivery("i:sky:0", "pics") };
    let (id, _) = published(&p.publish(&d).await);
    {
        let s = pds.state();
        let rkey = parse_remote_id(&id).unwrap().0.uri.rsplit('/').next().unwrap().to_owned();
        let images = &s.records[&rkey].1["embed"]["images"];
        assert_eq!(images[0]["alt"], "Six people in front of the Lyon office");
        assert_eq!(images[1]["aspectRatio"], json!({ "width": 1200, "height": 800 }));
        assert_eq!(s.blobs.len(), 2);
    }
    let big = Delivery { media: vec![image(1_000_001)], ..delivery("b:sky:0", "big") };
    assert!(matches!(p.publish(&big).await, Outcome::Rejected { kind: RejectKind::Invalid, .. }));
    assert_eq!(pds.state().blobs.len(), 2, "nothing uploaded for the large one");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_a_refused_refresh_logs_in_again() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    published(&p.publish(&delivery("e1:sky:0", "one")).await);
    pds.state().expire_after = Some(0);
    published(&p.publish(&delivery("e2:sky:0", "two")).await);
    {
        let s = pds.state();
        assert_eq!((s.logins, s.refreshes), (1, 1));
    }
    {
        let mut s = pds.state();
        s.expire_after = Some(0);
        s.refuse_refresh = true;
    }
    published(&p.publish(&delivery("e3:sky:0", "three")).await);
    assert_eq!(pds.state().logins, 2);
}

#[tokio::test]
async fn the_login_limit_is_a_retry_at_its_reset_and_holds_the_channel() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    pds.state().logins = 30;
    match p.publish(&delivery("l:sky:0", "limited")).await {
        Outcome::Retry { not_before, .. } => {
            assert_eq!(not_before, Some(Timestamp::from_second(2_000_000_000).unwrap()));
        }
        other => panic!("{other:?}"),
    }
    assert!(p.hold_until().is_some());
    assert!(matches!(p.publish(&delivery("l:sky:0", "limited")).await, Outcome::Retry { .. }));
    assert_eq!(pds.state().logins, 31, "no second login while held");
}

#[tokio::test]
async fn a_used_up_rate_limit_holds_the_channel_until_its_reset() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    let reset = Timestamp::now().as_second() + 600;
    pds.state().exhausted_until = Some(reset);
    published(&p.publish(&delivery("h:sky:0", "last one")).await);
    assert_eq!(p.hold_until(), Some(Timestamp::from_second(reset).unwrap()));
    assert!(matches!(p.publish(&delivery("h2:sky:0", "held")).await, Outcome::Retry { .. }));
    assert_eq!(pds.state().creates, 1);
}

#[tokio::test]
async fn a_wrong_app_password_is_unauthorized() {
    let (server, _pds) = mock().await;
    let mut cfg = BlueskyConfig::new("sky", "acme.test", SecretString::from("wrong"));
    cfg.service = server.uri();
    let p = BlueskyPublisher::new(cfg).unwrap();
    let o = p.publish(&delivery("w:sky:0", "x")).await;
    assert!(matches!(o, Outcome::Unauthorized { .. }), "{o:?}");
    assert!(!format!("{p:?}").contains("wrong"));
}

#[tokio::test]
async fn a_posts_lang_and_written_card_are_sent_and_an_unreadable_page_leaves_no_card() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    // The link's host does not resolve: only a card written in the post can be sent.
    let link = "https://card-page.invalid/lyon";
    let mut d = delivery("c:sky:0", "Notre bureau de Lyon");
    d.link = Some(link.into());
    d.options.lang = Some("fr".into());
    d.options.card =
        Some(crieur_core::LinkCard { title: "Lyon".into(), description: "Six new faces".into() });
    let (with, _) = published(&p.publish(&d).await);
    let plain = Delivery { link: Some(link.into()), ..delivery("n:sky:0", "No card") };
    let (without, _) = published(&p.publish(&plain).await);
    let s = pds.state();
    let record = |id: &str| {
        let rkey = parse_remote_id(id).unwrap().0.uri.rsplit('/').next().unwrap().to_owned();
        s.records[&rkey].1.clone()
    };
    let r = record(&with);
    assert_eq!(r["langs"], json!(["fr"]));
    assert_eq!(
        r["embed"],
        json!({ "$type": "app.bsky.embed.external",
                "external": { "uri": link, "title": "Lyon", "description": "Six new faces" } })
    );
    let r = record(&without);
    assert!(r.get("embed").is_none() && r.get("langs").is_none(), "{r}");
}

#[tokio::test]
async fn credentials_are_checked_with_get_session_and_a_wrong_password_is_refused() {
    let (server, pds) = mock().await;
    let p = publisher(&server);
    match p.check_credentials().await {
        crieur_core::CredentialCheck::Accepted { account, expires_at } => {
            assert_eq!((account.as_str(), expires_at), ("@acme.test", None));
        }
        other => panic!("{other:?}"),
    }
    // The session is kept: a second check logs in no more.
    assert!(matches!(p.check_credentials().await, crieur_core::CredentialCheck::Accepted { .. }));
    {
        let s = pds.state();
        assert_eq!((s.logins, s.creates), (1, 0), "one login, never a post");
    }
    let mut cfg = BlueskyConfig::new("sky", "acme.test", SecretString::from("wrong"));
    cfg.service = server.uri();
    let wrong = BlueskyPublisher::new(cfg).unwrap();
    match wrong.check_credentials().await {
        crieur_core::CredentialCheck::Refused { reason } => {
            assert!(reason.contains("app_password"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
