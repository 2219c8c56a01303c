//! The publisher against real HTTP on loopback: a strict mock of LinkedIn's Posts API that
//! refuses any request that is not exactly what LinkedIn documents.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crieur_core::{Delivery, ManualClock, Network, Outcome, Publisher, Reconciled, RejectKind};
use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{
    DEFAULT_LINKEDIN_VERSION, LinkedinError, LinkedinPublisher, LinkedinPublisherConfig,
    LinkedinTokens,
};

/// Printable on purpose: if it reached a message or `Debug`, a `contains` would see it.
pub(crate) const TOKEN: &str = "AQV-linkedin-test-token-5f3a9c";
pub(crate) const ORG: &str = "urn:li:organization:2414183";
const PERSON: &str = "urn:li:person:8675309aBc";
const SHARE: &str = "urn:li:share:7012345678901234567";
const NOW: &str = "2026-11-03T10:00:00Z";

pub(crate) fn now() -> Timestamp {
    NOW.parse().unwrap()
}

pub(crate) fn delivery(text: &str) -> Delivery {
    Delivery {
        id: "post-7-company-linkedin-0".into(),
        post: "post-7".into(),
        channel: "company-linkedin".into(),
        network: Network::Linkedin,
        text: text.into(),
        link: None,
        category: None,
        article: None,
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: now(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

pub(crate) fn config(
    server: &str,
    author: &str,
    tokens: LinkedinTokens,
) -> LinkedinPublisherConfig {
    let mut c = LinkedinPublisherConfig::new("company-linkedin", author, tokens);
    c.api_base = server.to_owned();
    c.clock = Arc::new(ManualClock::new(now()));
    c.http.timeout = Duration::from_secs(5);
    c
}

fn static_token() -> LinkedinTokens {
    LinkedinTokens::fixed(SecretString::from(TOKEN))
}

fn publisher(server: &MockServer, author: &str) -> LinkedinPublisher {
    LinkedinPublisher::new(config(&server.uri(), author, static_token())).unwrap()
}

/// What LinkedIn checks before it looks at a post: the three headers and the body, field by
/// field. `Err` names the first problem.
pub(crate) fn check_request(
    req: &Request,
    token: &str,
    author: &str,
    commentary: &str,
) -> Result<(), String> {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    if header("authorization") != Some(&format!("Bearer {token}")) {
        return Err("missing or wrong Authorization".into());
    }
    if header("linkedin-version") != Some(DEFAULT_LINKEDIN_VERSION) {
        return Err(format!("LinkedIn-Version is {:?}", header("linkedin-version")));
    }
    if header("x-restli-protocol-version") != Some("2.0.0") {
        return Err("missing X-Restli-Protocol-Version 2.0.0".into());
    }
    if header("content-type") != Some("application/json") {
        return Err(format!("Content-Type is {:?}", header("content-type")));
    }
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| format!("body: {e}"))?;
    let want = [
        ("author", json!(author)),
        ("commentary", json!(commentary)),
        ("visibility", json!("PUBLIC")),
        (
            "distribution",
            json!({"feedDistribution": "MAIN_FEED", "targetEntities": [],
                   "thirdPartyDistributionChannels": []}),
        ),
        ("lifecycleState", json!("PUBLISHED")),
        ("isReshareDisabledByAuthor", json!(false)),
    ];
    let object = body.as_object().ok_or("the body is not an object")?;
    for (key, value) in &want {
        if object.get(*key) != Some(value) {
            return Err(format!("field {key} is {:?}, want {value}", object.get(*key)));
        }
    }
    if object.len() != want.len() {
        return Err(format!("unexpected fields in {body}"));
    }
    Ok(())
}

fn bad_request(problem: String) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "status": 400, "serviceErrorCode": 100, "code": "BAD_REQUEST", "message": problem
    }))
}

/// A strict LinkedIn: 400 for any request that [`check_request`] refuses, else `answer`.
pub(crate) struct Strict {
    pub(crate) token: String,
    pub(crate) author: String,
    pub(crate) commentary: String,
    pub(crate) answer: ResponseTemplate,
}

impl Respond for Strict {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match check_request(req, &self.token, &self.author, &self.commentary) {
            Ok(()) => self.answer.clone(),
            Err(problem) => bad_request(problem),
        }
    }
}

fn created(urn: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).insert_header("x-restli-id", urn)
}

async fn strict_server(
    author: &str,
    text: &str,
    answer: ResponseTemplate,
    times: u64,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(Strict {
            token: TOKEN.into(),
            author: author.into(),
            commentary: text.into(),
            answer,
        })
        .expect(times)
        .mount(&server)
        .await;
    server
}

/// One publish of `d` as `author` against a strict LinkedIn answering `answer`.
async fn answer_with(
    author: &str,
    d: &Delivery,
    answer: ResponseTemplate,
) -> (Outcome, LinkedinPublisher) {
    let server = strict_server(author, &d.text, answer, 1).await;
    let p = publisher(&server, author);
    let outcome = p.publish(d).await;
    (outcome, p)
}

async fn answer(template: ResponseTemplate) -> Outcome {
    answer_with(ORG, &delivery("Hello from crieur"), template).await.0
}

fn reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Retry { reason, .. }
        | Outcome::Rejected { reason, .. }
        | Outcome::Unauthorized { reason }
        | Outcome::Unknown { reason } => reason,
        Outcome::Published { .. } => "",
    }
}

fn linkedin_error(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn duplicate_answer() -> ResponseTemplate {
    linkedin_error(
        422,
        json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": format!("ERROR :: /commentary :: Content is a duplicate of {SHARE}"),
            "errorDetails": {"inputErrors": [{
                "description": "Duplicate post is detected",
                "input": {"inputPath": {"fieldPath": "/commentary"}},
                "code": "DUPLICATE_POST"
            }]},
            "status": 422
        }),
    )
}

// ---------------------------------------------------------------- the mock itself is strict

#[tokio::test]
async fn the_mock_refuses_a_request_missing_any_header() {
    let server = strict_server(ORG, "hi", created(SHARE), 5).await;
    let body = json!({"author": ORG, "commentary": "hi", "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false});
    let all = [
        ("authorization", format!("Bearer {TOKEN}")),
        ("linkedin-version", DEFAULT_LINKEDIN_VERSION.to_owned()),
        ("x-restli-protocol-version", "2.0.0".to_owned()),
        ("content-type", "application/json".to_owned()),
    ];
    let client = crieur_net_http::reqwest::Client::new();
    for skip in 0..=all.len() {
        let mut req = client.post(format!("{}/rest/posts", server.uri())).body(body.to_string());
        for (i, (k, v)) in all.iter().enumerate() {
            if i != skip {
                req = req.header(*k, v);
            }
        }
        let status = req.send().await.unwrap().status().as_u16();
        let want = if skip == all.len() { 201 } else { 400 };
        assert_eq!(status, want, "without {:?}", all.get(skip).map(|h| h.0));
    }
}

#[tokio::test]
async fn the_mock_refuses_a_changed_or_extra_body_field() {
    assert!(check_request(&fake_request(json!({})), TOKEN, ORG, "x").is_err());
    let good = json!({"author": ORG, "commentary": "x", "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false});
    assert_eq!(check_request(&fake_request(good.clone()), TOKEN, ORG, "x"), Ok(()));
    for (key, value) in [
        ("visibility", json!("CONNECTIONS")),
        ("lifecycleState", json!("DRAFT")),
        ("isReshareDisabledByAuthor", json!(true)),
        ("commentary", json!("x ")),
        ("extra", json!(1)),
    ] {
        let mut changed = good.clone();
        changed[key] = value;
        assert!(check_request(&fake_request(changed), TOKEN, ORG, "x").is_err(), "{key}");
    }
}

fn fake_request(body: Value) -> Request {
    let mut headers = wiremock::http::HeaderMap::new();
    for (k, v) in [
        ("authorization", format!("Bearer {TOKEN}")),
        ("linkedin-version", DEFAULT_LINKEDIN_VERSION.to_owned()),
        ("x-restli-protocol-version", "2.0.0".to_owned()),
        ("content-type", "application/json".to_owned()),
    ] {
        headers.insert(
            wiremock::http::HeaderName::from_static(k),
            wiremock::http::HeaderValue::from_str(&v).unwrap(),
        );
    }
    Request {
        url: "http://127.0.0.1/rest/posts".parse().unwrap(),
        method: wiremock::http::Method::POST,
        headers,
        body: body.to_string().into_bytes(),
    }
}

// ---------------------------------------------------------------- outcomes

#[tokio::test]
async fn created_201_is_published_with_the_urn_and_feed_url() {
    let outcome = answer(created(SHARE)).await;
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: SHARE.into(),
            url: Some(format!("https://www.linkedin.com/feed/update/{SHARE}/")),
        }
    );
    // As a member too, and a ugcPost URN is taken as given.
    let (outcome, _) = answer_with(PERSON, &delivery("hi"), created("urn:li:ugcPost:99")).await;
    assert!(
        matches!(outcome, Outcome::Published { ref remote_id, .. } if remote_id == "urn:li:ugcPost:99"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn created_without_restli_id_is_unknown() {
    let outcome = answer(ResponseTemplate::new(201)).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("x-restli-id"), "{outcome:?}");
    let outcome = answer(ResponseTemplate::new(201).insert_header("x-restli-id", "42")).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
}

#[tokio::test]
async fn unauthorized_names_invalid_or_revoked() {
    let outcome = answer(linkedin_error(
        401,
        json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
               "message": "Invalid access token"}),
    ))
    .await;
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    let r = reason(&outcome);
    assert!(r.contains("65600") && r.contains("invalid"), "{r}");
    assert!(r.contains("crieur auth company-linkedin"), "{r}");

    let outcome = answer(linkedin_error(
        401,
        json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN",
               "message": "The token used in the request has been revoked by the user"}),
    ))
    .await;
    let r = reason(&outcome);
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    assert!(r.contains("65601") && r.contains("revoked"), "{r}");
    assert!(!r.contains(TOKEN));
}

#[tokio::test]
async fn forbidden_names_the_missing_scope() {
    let denied = || {
        linkedin_error(
            403,
            json!({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                   "message": "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260901"}),
        )
    };
    let (outcome, _) = answer_with(ORG, &delivery("hi"), denied()).await;
    assert!(
        matches!(outcome, Outcome::Rejected { kind: RejectKind::Forbidden, .. }),
        "{outcome:?}"
    );
    let r = reason(&outcome);
    assert!(r.contains("w_organization_social") && r.contains("ACCESS_DENIED"), "{r}");
    assert!(r.contains("administrator"), "{r}");
    let (outcome, _) = answer_with(PERSON, &delivery("hi"), denied()).await;
    let r = reason(&outcome);
    assert!(r.contains("w_member_social") && !r.contains("w_organization_social"), "{r}");
}

#[tokio::test]
async fn duplicate_after_an_unknown_attempt_is_the_earlier_post() {
    let mut d = delivery("Hello from crieur");
    d.may_have_been_sent = true;
    d.attempt = 2;
    let (outcome, _) = answer_with(ORG, &d, duplicate_answer()).await;
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: SHARE.into(),
            url: Some(format!("https://www.linkedin.com/feed/update/{SHARE}/")),
        }
    );
}

#[tokio::test]
async fn duplicate_of_an_unrelated_post_is_rejected_with_its_urn() {
    let outcome = answer(duplicate_answer()).await;
    assert!(
        matches!(outcome, Outcome::Rejected { kind: RejectKind::Duplicate, .. }),
        "{outcome:?}"
    );
    assert!(reason(&outcome).contains(SHARE), "{outcome:?}");
}

#[tokio::test]
async fn duplicate_without_a_urn() {
    let body = json!({"status": 422, "message": "Duplicate content",
        "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]}});
    let outcome = answer(linkedin_error(422, body.clone())).await;
    assert!(
        matches!(outcome, Outcome::Rejected { kind: RejectKind::Duplicate, .. }),
        "{outcome:?}"
    );
    let mut d = delivery("Hello from crieur");
    d.may_have_been_sent = true;
    let (outcome, _) = answer_with(ORG, &d, linkedin_error(422, body)).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("crieur resolve post-7 company-linkedin"), "{outcome:?}");
}

#[tokio::test]
async fn too_long_and_other_invalid_posts_are_rejected_invalid() {
    let outcome = answer(linkedin_error(
        400,
        json!({"status": 400, "code": "FIELD_ARRAY_SIZE_TOO_HIGH",
               "message": "/commentary: size 3107 is larger than 3000"}),
    ))
    .await;
    assert!(matches!(outcome, Outcome::Rejected { kind: RejectKind::Invalid, .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("too long"), "{outcome:?}");
    let outcome =
        answer(linkedin_error(422, json!({"status": 422, "message": "bad author"}))).await;
    assert!(matches!(outcome, Outcome::Rejected { kind: RejectKind::Invalid, .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("bad author"), "{outcome:?}");
}

#[tokio::test]
async fn retired_version_tells_to_update_linkedin_version() {
    let outcome = answer(linkedin_error(
        426,
        json!({"status": 426, "code": "NONEXISTENT_VERSION",
               "message": "Requested version 20260901 is not active"}),
    ))
    .await;
    assert!(matches!(outcome, Outcome::Rejected { kind: RejectKind::Invalid, .. }), "{outcome:?}");
    let r = reason(&outcome);
    assert!(r.contains("`linkedin_version`") && r.contains("company-linkedin"), "{r}");
    assert!(r.contains("NONEXISTENT_VERSION"), "{r}");
}

#[tokio::test]
async fn rate_limited_until_midnight_utc_or_retry_after() {
    let (outcome, p) = answer_with(
        ORG,
        &delivery("hi"),
        linkedin_error(429, json!({"status": 429, "message": "Resource level throttle limit"})),
    )
    .await;
    let midnight: Timestamp = "2026-11-04T00:00:00Z".parse().unwrap();
    assert!(
        matches!(outcome, Outcome::Retry { not_before: Some(t), .. } if t == midnight),
        "{outcome:?}"
    );
    assert_eq!(p.hold_until(), Some(midnight));

    let (outcome, p) = answer_with(
        ORG,
        &delivery("hi"),
        ResponseTemplate::new(429).insert_header("retry-after", "120"),
    )
    .await;
    let later: Timestamp = "2026-11-03T10:02:00Z".parse().unwrap();
    assert!(
        matches!(outcome, Outcome::Retry { not_before: Some(t), .. } if t == later),
        "{outcome:?}"
    );
    assert_eq!(p.hold_until(), Some(later));
}

#[tokio::test]
async fn server_errors_are_unknown_and_other_4xx_rejected() {
    for code in [500, 502, 503, 504] {
        let outcome = answer(ResponseTemplate::new(code)).await;
        assert!(matches!(outcome, Outcome::Unknown { .. }), "{code}: {outcome:?}");
    }
    let outcome = answer(ResponseTemplate::new(404)).await;
    assert!(matches!(outcome, Outcome::Rejected { kind: RejectKind::Other, .. }), "{outcome:?}");
}

#[tokio::test]
async fn timeout_after_sending_is_unknown() {
    let server =
        strict_server(ORG, "hi", created(SHARE).set_delay(Duration::from_secs(3)), 1).await;
    let mut c = config(&server.uri(), ORG, static_token());
    c.http.timeout = Duration::from_millis(300);
    let outcome = LinkedinPublisher::new(c).unwrap().publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
}

#[tokio::test]
async fn connection_refused_is_retry() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p =
        LinkedinPublisher::new(config(&format!("http://127.0.0.1:{port}"), ORG, static_token()))
            .unwrap();
    let outcome = p.publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Retry { not_before: None, .. }), "{outcome:?}");
}

#[tokio::test]
async fn thread_items_are_refused_without_a_request() {
    let server = strict_server(ORG, "2/ more", created(SHARE), 0).await;
    let mut d = delivery("2/ more");
    d.item = 1;
    d.reply_to = Some(SHARE.into());
    let outcome = publisher(&server, ORG).publish(&d).await;
    assert!(matches!(outcome, Outcome::Rejected { kind: RejectKind::Invalid, .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("[post.linkedin]"), "{outcome:?}");
}

#[tokio::test]
async fn expired_token_is_unauthorized_without_a_request() {
    let server = strict_server(ORG, "hi", created(SHARE), 0).await;
    let tokens = LinkedinTokens::Static {
        access_token: SecretString::from(TOKEN),
        expires_at: Some("2026-11-03T09:59:59Z".parse().unwrap()),
    };
    let p = LinkedinPublisher::new(config(&server.uri(), ORG, tokens)).unwrap();
    let outcome = p.publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("expired at 2026-11-03 09:59 UTC"), "{outcome:?}");
    assert!(p.expiry_warning().await.unwrap().is_expired());
}

#[tokio::test]
async fn a_token_near_expiry_still_publishes_and_warns() {
    let server = strict_server(ORG, "hi", created(SHARE), 1).await;
    let tokens = LinkedinTokens::Static {
        access_token: SecretString::from(TOKEN),
        expires_at: Some("2026-11-09T10:00:00Z".parse().unwrap()),
    };
    let p = LinkedinPublisher::new(config(&server.uri(), ORG, tokens)).unwrap();
    let w = p.expiry_warning().await.unwrap();
    assert_eq!((w.threshold_days, w.days_left), (7, 6));
    assert!(matches!(p.publish(&delivery("hi")).await, Outcome::Published { .. }));
    // Unknown expiry: no warning.
    assert_eq!(publisher(&server, ORG).expiry_warning().await, None);
}

/// A LinkedIn with its duplicate check: the first post of a text is created (and, here, its
/// answer lost as a 500); the same text from the same author again is refused with
/// `DUPLICATE_POST` naming the first one.
struct DedupingLinkedin {
    posts: Mutex<HashMap<(String, String), String>>,
}

impl Respond for DedupingLinkedin {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad_request(e.to_string()),
        };
        let author = body["author"].as_str().unwrap_or_default().to_owned();
        let text = body["commentary"].as_str().unwrap_or_default().to_owned();
        if let Err(problem) = check_request(req, TOKEN, &author, &text) {
            return bad_request(problem);
        }
        let mut posts = self.posts.lock().unwrap();
        let next = format!("urn:li:share:70000000000000000{:02}", posts.len());
        match posts.get(&(author.clone(), text.clone())) {
            Some(existing) => linkedin_error(
                422,
                json!({"status": 422,
                       "message": format!("ERROR :: /commentary :: Content is a duplicate of {existing}"),
                       "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]}}),
            ),
            None => {
                posts.insert((author, text), next);
                ResponseTemplate::new(500)
            }
        }
    }
}

#[tokio::test]
async fn reconciliation_is_a_resend_that_meets_duplicate_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(DedupingLinkedin { posts: Mutex::new(HashMap::new()) })
        .expect(2)
        .mount(&server)
        .await;
    let p = publisher(&server, ORG);
    let mut d = delivery("Launch day");
    let first = p.publish(&d).await;
    assert!(matches!(first, Outcome::Unknown { .. }), "{first:?}");
    // The dispatcher asks before any retry; LinkedIn's answer is the resend.
    assert_eq!(p.reconcile(&d).await, Reconciled::NotFound);
    d.attempt = 2;
    d.may_have_been_sent = true;
    let second = p.publish(&d).await;
    assert_eq!(
        second,
        Outcome::Published {
            remote_id: "urn:li:share:7000000000000000000".into(),
            url: Some(
                "https://www.linkedin.com/feed/update/urn:li:share:7000000000000000000/".into()
            ),
        }
    );
}

// ---------------------------------------------------------------- little text, untouched

/// What LinkedIn shows of a commentary in its "little text" format.
#[derive(Debug, Default, PartialEq)]
struct Shown {
    text: String,
    mentions: Vec<(String, String)>,
    hashtags: Vec<String>,
    /// Byte offset of the unescaped reserved character that cut the post, if any.
    cut_at: Option<usize>,
}

const RESERVED: &str = "\\|{}@[]()<>#*_~";

/// A small little-text reader: escapes (`\x` for a reserved `x`), mentions
/// `@[Name](urn:li:...)`, hashtags `{hashtag|\#|Tag}`; like LinkedIn it stops at the first
/// reserved character that is none of these.
fn little_text(input: &str) -> Shown {
    let mut shown = Shown::default();
    let mut i = 0;
    while let Some(c) = input[i..].chars().next() {
        let rest = &input[i..];
        if c == '\\' {
            match rest[1..].chars().next() {
                Some(next) if RESERVED.contains(next) => {
                    shown.text.push(next);
                    i += 1 + next.len_utf8();
                    continue;
                }
                _ => {
                    shown.cut_at = Some(i);
                    break;
                }
            }
        }
        if let Some(after) = rest.strip_prefix("@[") {
            let parsed = after.split_once("](").and_then(|(name, tail)| {
                let (urn, _) = tail.split_once(')')?;
                (urn.starts_with("urn:li:") && !name.contains(['[', ']']))
                    .then(|| (name.to_owned(), urn.to_owned()))
            });
            if let Some((name, urn)) = parsed {
                i += 2 + name.len() + 2 + urn.len() + 1;
                shown.text.push_str(&name);
                shown.mentions.push((name, urn));
                continue;
            }
        }
        let hashtag = rest.strip_prefix("{hashtag|\\#|").and_then(|after| after.split_once('}'));
        if let Some((tag, _)) = hashtag
            && !tag.is_empty()
            && !tag.contains(|ch: char| RESERVED.contains(ch))
        {
            i += "{hashtag|\\#|".len() + tag.len() + 1;
            shown.text.push('#');
            shown.text.push_str(tag);
            shown.hashtags.push(tag.to_owned());
            continue;
        }
        if RESERVED.contains(c) {
            shown.cut_at = Some(i);
            break;
        }
        shown.text.push(c);
        i += c.len_utf8();
    }
    shown
}

const ESCAPED: &str = "Thanks @[Acme](urn:li:organization:2414183) for 3 \\(three\\) years: \
     \\\\ \\| \\{ \\} \\@ \\[ \\] \\( \\) \\< \\> \\# \\* \\_ \\~ done \
     {hashtag|\\#|OpenSource} {hashtag|\\#|Rust}";

#[tokio::test]
async fn escaped_little_text_reaches_linkedin_exactly_and_reads_in_full() {
    let server = strict_server(ORG, ESCAPED, created(SHARE), 1).await;
    let outcome = publisher(&server, ORG).publish(&delivery(ESCAPED)).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let received = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    let commentary = body["commentary"].as_str().unwrap();
    assert_eq!(commentary, ESCAPED);

    let shown = little_text(commentary);
    assert_eq!(shown.cut_at, None, "{shown:?}");
    assert_eq!(
        shown.text,
        "Thanks Acme for 3 (three) years: \\ | { } @ [ ] ( ) < > # * _ ~ done #OpenSource #Rust"
    );
    assert_eq!(shown.mentions, vec![("Acme".into(), "urn:li:organization:2414183".into())]);
    assert_eq!(shown.hashtags, vec!["OpenSource".to_owned(), "Rust".to_owned()]);
}

#[test]
fn unescaped_little_text_is_cut_at_the_first_reserved_character() {
    let raw = "Thanks @[Acme](urn:li:organization:2414183) for 3 (three) years #OpenSource";
    let shown = little_text(raw);
    assert_eq!(shown.cut_at, Some(raw.find(" (three)").unwrap() + 1));
    assert_eq!(shown.text, "Thanks Acme for 3 ");
    assert!(shown.hashtags.is_empty());
    for (i, ch) in RESERVED.chars().enumerate() {
        let text = format!("before {ch} after");
        let shown = little_text(&text);
        assert_eq!(shown.cut_at, Some(7), "{i}: {ch}");
        assert_eq!(shown.text, "before ");
    }
}

// ---------------------------------------------------------------- setup errors, Debug

#[test]
fn bad_config_is_refused_with_the_channel_and_what_to_write() {
    let err = |f: fn(&mut LinkedinPublisherConfig)| {
        let mut c = config("https://api.linkedin.com", ORG, static_token());
        f(&mut c);
        LinkedinPublisher::new(c).unwrap_err()
    };
    let e = err(|c| c.author = "2414183".into());
    assert!(matches!(e, LinkedinError::Author { .. }));
    assert!(e.to_string().starts_with("channel company-linkedin: "), "{e}");
    let e = err(|c| c.linkedin_version = "2026-09".into());
    assert!(matches!(e, LinkedinError::Version { .. }));
    assert!(e.to_string().contains("YYYYMM"), "{e}");
    let e = err(|c| c.api_base = "api.linkedin.com".into());
    assert!(matches!(e, LinkedinError::ApiBase { .. }), "{e}");
}

#[test]
fn debug_output_never_shows_the_token() {
    let c = config("https://api.linkedin.com", ORG, static_token());
    let shown = format!("{c:?}");
    assert!(shown.contains("company-linkedin") && !shown.contains(TOKEN), "{shown}");
    let p = LinkedinPublisher::new(c).unwrap();
    let shown = format!("{p:?}");
    assert!(shown.contains("urn:li:organization:2414183") && !shown.contains(TOKEN), "{shown}");
}
