//! Photos against a strict mock of the Graph API on loopback: `/photos` takes a multipart
//! `source` with `published=false` and `alt_text_custom`; the feed post may attach only photos of
//! this Page that are unpublished and not yet attached elsewhere.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::{
    Attachment, Delivery, ManualClock, MediaLedger, MemoryLedger, Network, Outcome, Publisher,
};
use crieur_net_http::testing::parse_multipart;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

const TOKEN: &str = "page-token";
const PAGE: &str = "1234567890";

fn attachment(path: &str, alt: &str, bytes: usize) -> Attachment {
    let data: Vec<u8> = (0..bytes).map(|i| (i * 31 % 251) as u8).collect();
    Attachment {
        path: path.into(),
        alt: alt.into(),
        content_type: "image/jpeg".into(),
        width: 1200,
        height: 800,
        sha256: format!("{:064x}", bytes * 104_729 + path.len()),
        data: data.into(),
    }
}

fn delivery(media: Vec<Attachment>) -> Delivery {
    Delivery {
        id: "p1/company-fb/0".into(),
        post: "p1".into(),
        channel: "company-fb".into(),
        network: Network::Facebook,
        text: "Welcome to Lyon".into(),
        link: None,
        category: None,
        article: None,
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: "2026-11-26T10:00:00Z".parse().unwrap(),
        may_have_been_sent: false,
        media,
        options: Default::default(),
    }
}

struct Photo {
    data: Vec<u8>,
    alt: String,
    attached: bool,
}

#[derive(Default)]
struct FbState {
    next: u64,
    photos: HashMap<String, Photo>,
    posts: Vec<HashMap<String, String>>,
    uploads: u32,
}

#[derive(Clone)]
struct StrictGraph(Arc<Mutex<FbState>>);

fn graph_error(status: u16, code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"
    }}))
}

impl Respond for StrictGraph {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return graph_error(400, 190, "Invalid OAuth access token.");
        }
        let mut s = self.0.lock().unwrap();
        let ct = req.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        match (req.method.as_str(), req.url.path()) {
            ("POST", p) if p == format!("/v25.0/{PAGE}/photos") => {
                let Ok(parts) = parse_multipart(ct, &req.body) else {
                    return graph_error(400, 100, "(#100) multipart/form-data expected");
                };
                let field = |n: &str| parts.iter().find(|p| p.name == n);
                let text =
                    |n: &str| field(n).map(|p| String::from_utf8_lossy(&p.data).into_owned());
                let Some(source) = field("source").filter(|p| p.filename.is_some()) else {
                    return graph_error(400, 324, "(#324) Requires upload file");
                };
                if text("published").as_deref() != Some("false") {
                    return graph_error(400, 100, "test mock: crieur uploads photos unpublished");
                }
                let Some(alt) = text("alt_text_custom").filter(|a| !a.is_empty()) else {
                    return graph_error(400, 100, "test mock: alt_text_custom missing");
                };
                if source.data.len() > 10 * 1024 * 1024 {
                    return graph_error(400, 1366046, "photo too large");
                }
                s.next += 1;
                s.uploads += 1;
                let id = format!("1098765432{:03}", s.next);
                s.photos
                    .insert(id.clone(), Photo { data: source.data.clone(), alt, attached: false });
                ResponseTemplate::new(200).set_body_json(json!({ "id": id }))
            }
            ("POST", p) if p == format!("/v25.0/{PAGE}/feed") => {
                if !ct.starts_with("application/x-www-form-urlencoded") {
                    return graph_error(400, 100, "form expected");
                }
                let form: HashMap<String, String> =
                    url::form_urlencoded::parse(&req.body).into_owned().collect();
                if let Some(attached) = form.get("attached_media") {
                    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(attached) else {
                        return graph_error(400, 100, "(#100) attached_media must be a JSON array");
                    };
                    if list.is_empty() || list.len() > 10 {
                        return graph_error(400, 100, "(#100) 1 to 10 attached_media");
                    }
                    for item in &list {
                        let id = item.get("media_fbid").and_then(Value::as_str).unwrap_or("");
                        match s.photos.get(id) {
                            Some(photo) if !photo.attached => {}
                            _ => {
                                return graph_error(400, 100, "(#100) Invalid media_fbid");
                            }
                        }
                    }
                    for item in &list {
                        let id = item["media_fbid"].as_str().unwrap_or("");
                        if let Some(photo) = s.photos.get_mut(id) {
                            photo.attached = true;
                        }
                    }
                }
                s.posts.push(form);
                let id = format!("{PAGE}_99{:02}", s.posts.len());
                ResponseTemplate::new(200).set_body_json(json!({ "id": id }))
            }
            _ => graph_error(400, 100, "Unknown path components"),
        }
    }
}

struct Env {
    server: MockServer,
    fb: StrictGraph,
    ledger: Arc<MemoryLedger>,
}

async fn env() -> Env {
    let server = MockServer::start().await;
    let fb = StrictGraph(Arc::default());
    Mock::given(any()).respond_with(fb.clone()).mount(&server).await;
    Env { server, fb, ledger: Arc::new(MemoryLedger::new()) }
}

impl Env {
    fn publisher_with(&self, ledger: Option<Arc<dyn MediaLedger>>) -> FacebookPublisher {
        let token = PageToken::Static(SecretString::from(TOKEN));
        let mut c = FacebookPublisherConfig::new("company-fb", PAGE, token);
        c.api_base = self.server.uri();
        c.clock = Arc::new(ManualClock::new("2026-11-26T10:00:00Z".parse().unwrap()));
        c.http.timeout = Duration::from_secs(10);
        c.ledger = ledger;
        FacebookPublisher::new(c).unwrap()
    }

    fn publisher(&self) -> FacebookPublisher {
        self.publisher_with(Some(self.ledger.clone()))
    }
}

fn auth() -> crieur_net_http::reqwest::header::HeaderValue {
    crieur_net_http::bearer_header(&SecretString::from(TOKEN)).unwrap()
}

#[tokio::test]
async fn two_photos_are_uploaded_unpublished_with_alt_text_then_attached_to_the_post() {
    let env = env().await;
    let a = attachment("lyon-team.jpg", "Six people in the Lyon office", 3000);
    let b = attachment("lyon-desk.jpg", "A desk by the window", 1000);
    let outcome = env.publisher().publish(&delivery(vec![a.clone(), b.clone()])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let s = env.fb.0.lock().unwrap();
    assert_eq!(s.posts[0]["message"], "Welcome to Lyon");
    let attached: Value = serde_json::from_str(&s.posts[0]["attached_media"]).unwrap();
    let ids: Vec<&str> =
        attached.as_array().unwrap().iter().map(|m| m["media_fbid"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(s.photos[ids[0]].data, a.data.to_vec());
    assert_eq!(s.photos[ids[0]].alt, a.alt);
    assert_eq!(s.photos[ids[1]].alt, b.alt);
}

#[tokio::test]
async fn a_single_photo_takes_the_same_path() {
    let env = env().await;
    let a = attachment("one.jpg", "One", 100);
    let outcome = env.publisher().publish(&delivery(vec![a])).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let s = env.fb.0.lock().unwrap();
    assert_eq!(s.uploads, 1);
    assert!(s.posts[0].contains_key("attached_media"));
}

#[tokio::test]
async fn the_mock_refuses_an_unknown_or_reused_photo_and_a_photo_without_alt() {
    let env = env().await;
    let client = {
        crieur_net_http::install_crypto_provider();
        crieur_net_http::reqwest::Client::builder().no_proxy().build().unwrap()
    };
    let feed = format!("{}/v25.0/{PAGE}/feed", env.server.uri());
    let post = |attached: &str| {
        client
            .post(&feed)
            .bearer_auth(TOKEN)
            .form(&[("message", "t"), ("attached_media", attached)])
            .send()
    };
    assert_eq!(post(r#"[{"media_fbid":"42"}]"#).await.unwrap().status().as_u16(), 400);
    // A photo already attached to a post cannot be attached again.
    env.publisher().publish(&delivery(vec![attachment("a.jpg", "a", 10)])).await;
    let used = env.fb.0.lock().unwrap().photos.keys().next().unwrap().clone();
    let again = format!(r#"[{{"media_fbid":"{used}"}}]"#);
    assert_eq!(post(&again).await.unwrap().status().as_u16(), 400);
    // A photo without alt text.
    let form = crieur_net_http::reqwest::multipart::Form::new().text("published", "false").part(
        "source",
        crieur_net_http::reqwest::multipart::Part::bytes(vec![1]).file_name("a.jpg"),
    );
    let r = client
        .post(format!("{}/v25.0/{PAGE}/photos", env.server.uri()))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn after_a_crash_between_upload_and_post_the_photos_are_not_uploaded_again() {
    let env = env().await;
    let d = delivery(vec![attachment("one.jpg", "One", 100), attachment("two.jpg", "Two", 200)]);
    env.publisher().attached_media(&d, &auth()).await.unwrap();
    assert_eq!(env.fb.0.lock().unwrap().uploads, 2);
    let outcome = env.publisher().publish(&d).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let s = env.fb.0.lock().unwrap();
    assert_eq!((s.uploads, s.posts.len()), (2, 1));
}

#[tokio::test]
async fn another_post_with_the_same_photo_uploads_its_own_copy() {
    let env = env().await;
    let a = attachment("one.jpg", "One", 100);
    let p = env.publisher();
    assert!(matches!(p.publish(&delivery(vec![a.clone()])).await, Outcome::Published { .. }));
    let mut other = delivery(vec![a]);
    other.id = "p2/company-fb/0".into();
    let outcome = p.publish(&other).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    assert_eq!(env.fb.0.lock().unwrap().uploads, 2);
}

#[tokio::test]
#[ignore = "a measurement: cargo test -p crieur-net-facebook -- --ignored --nocapture upload_time"]
async fn upload_time_of_a_4_mb_jpeg_to_a_loopback_mock() {
    let env = env().await;
    let p = env.publisher_with(None);
    let d = delivery(vec![attachment("big.jpg", "A big photo", 4_000_000)]);
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        p.attached_media(&d, &auth()).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "Facebook: upload of a 4 MB JPEG to the loopback mock: median {:?} (min {:?}, max {:?})",
        times[2], times[0], times[4]
    );
}
