//! The X publisher against a strict mock X on loopback: every mock checks the bearer token and
//! the exact JSON body; anything else gets wiremock's 404.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crieur_core::{
    Delivery, ManualClock, Network, Outcome, Publisher, Reconciled, RejectKind, TokenVault, Tokens,
};
use crieur_net_http::HttpClient;
use crieur_net_oauth::testing::MemoryVault;
use crieur_net_oauth::{OAuthApp, TokenManager, TokenManagerConfig};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::json;
use sha2::Digest as _;
use wiremock::matchers::{body_json, body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::*;

const NOW: &str = "2026-11-26T10:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn delivery(item: u32, text: &str, reply_to: Option<&str>) -> Delivery {
    Delivery {
        id: format!("p1/company-x/{item}"),
        post: "p1".into(),
        channel: "company-x".into(),
        network: Network::X,
        text: text.into(),
        link: None,
        category: None,
        article: None,
        item,
        reply_to: reply_to.map(str::to_owned),
        attempt: 1,
        attempt_started_at: now(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

struct Env {
    server: MockServer,
    vault: Arc<MemoryVault>,
    clock: Arc<ManualClock>,
}

async fn env() -> Env {
    Env {
        server: MockServer::start().await,
        vault: Arc::new(MemoryVault::new()),
        clock: Arc::new(ManualClock::new(now())),
    }
}

impl Env {
    fn manager(&self, access: &str, refresh: &str) -> Arc<TokenManager> {
        let vault: Arc<dyn TokenVault> = self.vault.clone();
        let mut c = TokenManagerConfig::new(
            "company-x",
            Some(vault),
            HttpClient::builder().build().unwrap(),
        );
        c.app = Some(OAuthApp::new("cid", format!("{}/2/oauth2/token", self.server.uri())));
        c.access_token = Some(SecretString::from(access.to_owned()));
        c.refresh_token = Some(SecretString::from(refresh.to_owned()));
        c.clock = self.clock.clone();
        Arc::new(TokenManager::new(c).unwrap())
    }

    fn publisher_with(&self, auth: XAuth) -> XPublisher {
        let mut c = XPublisherConfig::new("company-x", auth);
        c.api_base = self.server.uri();
        c.clock = self.clock.clone();
        c.http.timeout = Duration::from_secs(5);
        XPublisher::new(c).unwrap()
    }

    fn publisher(&self) -> XPublisher {
        self.publisher_with(XAuth::Managed(self.manager("tok-0", "ref-0")))
    }

    async fn posts(&self) -> Vec<serde_json::Value> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/2/tweets")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

fn created(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id, "text": "x"}}))
}

fn problem(status: u16, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "title": "Error", "detail": detail, "type": "about:blank", "status": status
    }))
}

async fn mount_post(env: &Env, token: &str, body: serde_json::Value, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(answer)
        .mount(&env.server)
        .await;
}

#[tokio::test]
async fn single_post_is_published_with_its_url() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "Hello X"}), created("1861")).await;
    let out = env.publisher().publish(&delivery(0, "Hello X", None)).await;
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: "1861".into(),
            url: Some("https://x.com/i/web/status/1861".into())
        }
    );
    assert_eq!(env.posts().await.len(), 1);
}

/// The dispatcher's part played here: each item is its own delivery, replying to the id the
/// previous item's outcome gave.
#[tokio::test]
async fn three_item_thread_replies_to_each_previous_item() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "one"}), created("101")).await;
    mount_post(
        &env,
        "tok-0",
        json!({"text": "two", "reply": {"in_reply_to_tweet_id": "101"}}),
        created("102"),
    )
    .await;
    mount_post(
        &env,
        "tok-0",
        json!({"text": "three", "reply": {"in_reply_to_tweet_id": "102"}}),
        created("103"),
    )
    .await;
    let p = env.publisher();
    let mut previous: Option<String> = None;
    let mut ids = Vec::new();
    for (item, text) in ["one", "two", "three"].into_iter().enumerate() {
        let out = p.publish(&delivery(item as u32, text, previous.as_deref())).await;
        let Outcome::Published { remote_id, .. } = out else { panic!("{out:?}") };
        ids.push(remote_id.clone());
        previous = Some(remote_id);
    }
    assert_eq!(ids, ["101", "102", "103"]);
    assert_eq!(env.posts().await.len(), 3);
    // A thread item without a parent is refused before sending.
    let out = p.publish(&delivery(1, "orphan", None)).await;
    assert!(matches!(out, Outcome::Rejected { kind: RejectKind::Other, .. }), "{out:?}");
    assert_eq!(env.posts().await.len(), 3);
}

#[tokio::test]
async fn error_answers_map_to_outcomes() {
    type Check = fn(&Outcome) -> bool;
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (problem(403, "You are not allowed to create a Tweet with duplicate content."), |o| {
            matches!(o, Outcome::Rejected { kind: RejectKind::Duplicate, .. })
        }),
        (
            problem(403, "You are not permitted to perform this action."),
            |o| matches!(o, Outcome::Rejected { kind: RejectKind::Forbidden, reason } if reason.contains("not permitted")),
        ),
        (
            problem(400, "Text too long"),
            |o| matches!(o, Outcome::Rejected { kind: RejectKind::Invalid, reason } if reason.contains("Text too long")),
        ),
        (problem(500, "Internal error"), |o| matches!(o, Outcome::Unknown { .. })),
        (problem(503, "Service Unavailable"), |o| matches!(o, Outcome::Unknown { .. })),
        (
            ResponseTemplate::new(201).set_body_string("not json"),
            |o| matches!(o, Outcome::Unknown { reason } if reason.contains("without a readable post id")),
        ),
        (ResponseTemplate::new(201).set_body_json(json!({"data": {}})), |o| {
            matches!(o, Outcome::Unknown { .. })
        }),
        (ResponseTemplate::new(201).set_delay(Duration::from_secs(3)), |o| {
            matches!(o, Outcome::Unknown { .. })
        }),
    ];
    for (answer, check) in cases {
        let env = env().await;
        mount_post(&env, "tok-0", json!({"text": "t"}), answer).await;
        let mut c = XPublisherConfig::new("company-x", XAuth::Static(SecretString::from("tok-0")));
        c.api_base = env.server.uri();
        c.clock = env.clock.clone();
        c.http.timeout = Duration::from_millis(800);
        let out = XPublisher::new(c).unwrap().publish(&delivery(0, "t", None)).await;
        assert!(check(&out), "{out:?}");
        assert_eq!(env.posts().await.len(), 1);
    }

    // Nothing listening: provably not sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = XPublisherConfig::new("company-x", XAuth::Static(SecretString::from("t")));
    c.api_base = format!("http://127.0.0.1:{port}");
    let out = XPublisher::new(c).unwrap().publish(&delivery(0, "t", None)).await;
    assert!(matches!(out, Outcome::Retry { not_before: None, .. }), "{out:?}");
}

#[tokio::test]
async fn rate_limit_429_and_remaining_zero_hold_the_channel() {
    let env = env().await;
    let reset = now() + SignedDuration::from_mins(15);
    let day_reset = now() + SignedDuration::from_hours(20);
    // 429 with the user's 24-hour window used up: wait for the later reset.
    mount_post(
        &env,
        "tok-0",
        json!({"text": "a"}),
        problem(429, "Too Many Requests")
            .insert_header("x-rate-limit-remaining", "3")
            .insert_header("x-rate-limit-reset", reset.as_second().to_string())
            .insert_header("x-user-limit-24hour-remaining", "0")
            .insert_header("x-user-limit-24hour-reset", day_reset.as_second().to_string()),
    )
    .await;
    let p = env.publisher();
    let out = p.publish(&delivery(0, "a", None)).await;
    assert_eq!(
        out,
        Outcome::Retry {
            reason: "X rate limit (429): Too Many Requests".into(),
            not_before: Some(day_reset)
        }
    );
    assert_eq!(p.hold_until(), Some(day_reset));

    // A 201 that says the 15-minute window is used up: published, then held until the reset,
    // and the next publish sends nothing.
    let env = env_with_clock(env.clock.clone()).await;
    mount_post(
        &env,
        "tok-0",
        json!({"text": "b"}),
        created("77")
            .insert_header("x-rate-limit-limit", "100")
            .insert_header("x-rate-limit-remaining", "0")
            .insert_header("x-rate-limit-reset", reset.as_second().to_string()),
    )
    .await;
    mount_post(&env, "tok-0", json!({"text": "c"}), created("78")).await;
    let p = env.publisher();
    assert!(p.hold_until().is_none());
    assert!(matches!(p.publish(&delivery(0, "b", None)).await, Outcome::Published { .. }));
    assert_eq!(p.hold_until(), Some(reset));
    let out = p.publish(&delivery(0, "c", None)).await;
    assert!(matches!(out, Outcome::Retry { not_before: Some(t), .. } if t == reset), "{out:?}");
    assert_eq!(env.posts().await.len(), 1, "no request while held");
    env.clock.set(reset + SignedDuration::from_secs(1));
    assert!(p.hold_until().is_none());
    assert!(matches!(p.publish(&delivery(0, "c", None)).await, Outcome::Published { .. }));
    assert_eq!(env.posts().await.len(), 2);
}

async fn env_with_clock(clock: Arc<ManualClock>) -> Env {
    Env { server: MockServer::start().await, vault: Arc::new(MemoryVault::new()), clock }
}

async fn mount_refresh(env: &Env, sent: &str, access: &str, next: &str) {
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(body_string(format!("grant_type=refresh_token&refresh_token={sent}&client_id=cid")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer", "expires_in": 7200, "access_token": access,
            "refresh_token": next, "scope": "tweet.read tweet.write users.read offline.access"
        })))
        .up_to_n_times(1)
        .mount(&env.server)
        .await;
}

/// Any refresh not expected above: X's answer to a reused (spent) refresh token.
async fn mount_spent_refresh(env: &Env) {
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request", "error_description": "Value passed for the token was invalid."
        })))
        .mount(&env.server)
        .await;
}

#[tokio::test]
async fn a_401_refreshes_and_resends_once() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "hi"}), problem(401, "Unauthorized")).await;
    mount_post(&env, "tok-1", json!({"text": "hi"}), created("900")).await;
    mount_refresh(&env, "ref-0", "tok-1", "ref-1").await;
    mount_spent_refresh(&env).await;
    let out = env.publisher().publish(&delivery(0, "hi", None)).await;
    assert!(matches!(&out, Outcome::Published { remote_id, .. } if remote_id == "900"), "{out:?}");
    assert_eq!(env.posts().await.len(), 2);
    assert_eq!(env.vault.tokens("company-x").unwrap().refresh_token.as_deref(), Some("ref-1"));
}

/// Two 401s on two publishes: each refresh uses the rotated token (the endpoint refuses a
/// reused one with 400 invalid_request, which would end as Unauthorized).
#[tokio::test]
async fn two_refreshes_in_a_row_use_the_rotated_refresh_token() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "one"}), problem(401, "Unauthorized")).await;
    mount_post(&env, "tok-1", json!({"text": "one"}), created("1")).await;
    mount_post(&env, "tok-1", json!({"text": "two"}), problem(401, "Unauthorized")).await;
    mount_post(&env, "tok-2", json!({"text": "two"}), created("2")).await;
    mount_refresh(&env, "ref-0", "tok-1", "ref-1").await;
    mount_refresh(&env, "ref-1", "tok-2", "ref-2").await;
    mount_spent_refresh(&env).await;
    let p = env.publisher();
    assert!(matches!(p.publish(&delivery(0, "one", None)).await, Outcome::Published { .. }));
    let out = p.publish(&delivery(0, "two", None)).await;
    assert!(matches!(&out, Outcome::Published { remote_id, .. } if remote_id == "2"), "{out:?}");
    let saves: Vec<_> =
        env.vault.saves().into_iter().map(|(_, t)| t.refresh_token.unwrap()).collect();
    assert_eq!(saves, ["ref-1", "ref-2"]);
    assert!(env.vault.revoked().is_empty());
}

#[tokio::test]
async fn refresh_answered_503_is_retry_and_not_revoked() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "hi"}), problem(401, "Unauthorized")).await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&env.server)
        .await;
    let out = env.publisher().publish(&delivery(0, "hi", None)).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    assert!(env.vault.revoked().is_empty());
    assert_eq!(env.posts().await.len(), 1);
}

#[tokio::test]
async fn invalid_grant_is_unauthorized_and_marks_revoked() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "hi"}), problem(401, "Unauthorized")).await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .expect(1)
        .mount(&env.server)
        .await;
    let out = env.publisher().publish(&delivery(0, "hi", None)).await;
    let Outcome::Unauthorized { reason } = out else { panic!("{out:?}") };
    assert!(reason.contains("crieur auth company-x"), "{reason}");
    assert_eq!(env.vault.revoked().len(), 1);
    assert_eq!(env.posts().await.len(), 1);

    // A second 401 after a good refresh is final too; a static token is never refreshed.
    let env = self::env().await;
    mount_post(&env, "tok-0", json!({"text": "hi"}), problem(401, "Unauthorized")).await;
    mount_post(&env, "tok-1", json!({"text": "hi"}), problem(401, "Unauthorized")).await;
    mount_refresh(&env, "ref-0", "tok-1", "ref-1").await;
    let out = env.publisher().publish(&delivery(0, "hi", None)).await;
    assert!(matches!(out, Outcome::Unauthorized { .. }), "{out:?}");
    assert_eq!(env.posts().await.len(), 2);
    let p = env.publisher_with(XAuth::Static(SecretString::from("tok-0")));
    assert!(matches!(p.publish(&delivery(0, "hi", None)).await, Outcome::Unauthorized { .. }));
    assert_eq!(env.posts().await.len(), 3);
}

async fn mount_timeline(env: &Env, posts: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .and(header("authorization", "Bearer tok-0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "4242", "username": "acme"}})),
        )
        .expect(1)
        .mount(&env.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/4242/tweets"))
        .and(header("authorization", "Bearer tok-0"))
        .and(query_param("max_results", "100"))
        .and(query_param("start_time", "2026-11-26T09:59:00Z"))
        .and(query_param("tweet.fields", "created_at,text"))
        .respond_with(ResponseTemplate::new(200).set_body_json(posts))
        .mount(&env.server)
        .await;
}

#[tokio::test]
async fn reconcile_finds_the_post_by_text_without_posting_again() {
    let env = env().await;
    let text = "Launch day! Read https://example.com/post?utm_source=x & share";
    mount_post(&env, "tok-0", json!({"text": text}), problem(500, "oops")).await;
    mount_timeline(
        &env,
        json!({"data": [
            {"id": "501", "text": "Something else", "created_at": "2026-11-26T10:00:01.000Z"},
            {"id": "500", "text": "Launch day! Read https://t.co/Zx9 &amp; share", "created_at": "2026-11-26T10:00:01.000Z"}
        ], "meta": {"result_count": 2}}),
    )
    .await;
    let p = env.publisher();
    let d = delivery(0, text, None);
    assert!(matches!(p.publish(&d).await, Outcome::Unknown { .. }));
    assert_eq!(
        p.reconcile(&d).await,
        Reconciled::Found {
            remote_id: "500".into(),
            url: Some("https://x.com/i/web/status/500".into())
        }
    );
    // Again: the user id is cached (users/me expects exactly one call).
    assert!(matches!(p.reconcile(&d).await, Reconciled::Found { .. }));
    assert_eq!(env.posts().await.len(), 1, "reconcile never posts");
}

#[tokio::test]
async fn reconcile_not_found_and_cannot_tell() {
    let env = env().await;
    mount_timeline(&env, json!({"meta": {"result_count": 0}})).await;
    let p = env.publisher();
    assert_eq!(p.reconcile(&delivery(0, "nowhere", None)).await, Reconciled::NotFound);

    let env = env_with_clock(env.clock.clone()).await;
    Mock::given(method("GET"))
        .respond_with(problem(503, "Service Unavailable"))
        .mount(&env.server)
        .await;
    let out = env.publisher().reconcile(&delivery(0, "x", None)).await;
    assert!(matches!(&out, Reconciled::CannotTell { reason } if reason.contains("503")), "{out:?}");
}

/// Items 1 and 2 go out; item 3's first attempt gets a 503 (X received it but answered with an
/// error) -> Unknown. Reconciliation sees only items 1 and 2 on X -> NotFound, so the dispatcher
/// may send item 3 again, still replying to item 2. Proves: the resumed thread never re-posts
/// items 1 or 2, and item 3 goes out again only after X was asked and did not have it.
#[tokio::test]
async fn interrupted_thread_resumes_at_the_missing_item() {
    let env = env().await;
    mount_post(&env, "tok-0", json!({"text": "first"}), created("301")).await;
    mount_post(
        &env,
        "tok-0",
        json!({"text": "second", "reply": {"in_reply_to_tweet_id": "301"}}),
        created("302"),
    )
    .await;
    let third = json!({"text": "third", "reply": {"in_reply_to_tweet_id": "302"}});
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", "Bearer tok-0"))
        .and(body_json(third.clone()))
        .respond_with(problem(503, "Service Unavailable"))
        .up_to_n_times(1)
        .mount(&env.server)
        .await;
    mount_post(&env, "tok-0", third.clone(), created("303")).await;
    mount_timeline(
        &env,
        json!({"data": [
            {"id": "302", "text": "second", "created_at": "2026-11-26T10:00:02.000Z"},
            {"id": "301", "text": "first", "created_at": "2026-11-26T10:00:01.000Z"}
        ]}),
    )
    .await;
    let p = env.publisher();
    let Outcome::Published { remote_id: id1, .. } = p.publish(&delivery(0, "first", None)).await
    else {
        panic!()
    };
    let Outcome::Published { remote_id: id2, .. } =
        p.publish(&delivery(1, "second", Some(&id1))).await
    else {
        panic!()
    };
    let d3 = delivery(2, "third", Some(&id2));
    assert!(matches!(p.publish(&d3).await, Outcome::Unknown { .. }));
    assert_eq!(p.reconcile(&d3).await, Reconciled::NotFound);
    let mut again = d3.clone();
    again.attempt = 2;
    again.may_have_been_sent = true;
    let out = p.publish(&again).await;
    assert!(matches!(&out, Outcome::Published { remote_id, .. } if remote_id == "303"), "{out:?}");
    let texts: Vec<String> =
        env.posts().await.iter().map(|b| b["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts, ["first", "second", "third", "third"]);
}

/// `crieur auth` for X end to end: the test plays the browser, the mock token endpoint checks
/// the PKCE verifier against the challenge, and the tokens land in the vault.
#[tokio::test]
async fn authorize_with_pkce_saves_tokens() {
    let env = env().await;
    let challenge: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let seen = challenge.clone();
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(move |req: &Request| {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(&req.body).into_owned().collect();
            let expected = seen.lock().unwrap().clone();
            let verifier_ok = form.get("code_verifier").is_some_and(|v| {
                Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes()))) == expected
            });
            if verifier_ok
                && form.get("code").map(String::as_str) == Some("x-code")
                && form.get("grant_type").map(String::as_str) == Some("authorization_code")
                && form.get("client_id").map(String::as_str) == Some("cid")
            {
                ResponseTemplate::new(200).set_body_json(json!({
                    "token_type": "bearer", "expires_in": 7200, "access_token": "auth-access",
                    "refresh_token": "auth-refresh",
                    "scope": "tweet.read tweet.write users.read offline.access"
                }))
            } else {
                ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"}))
            }
        })
        .expect(1)
        .mount(&env.server)
        .await;
    let mut options = XAuthorizeOptions::new("company-x", "cid");
    options.token_url = Some(format!("{}/2/oauth2/token", env.server.uri()));
    options.port = 0;
    options.clock = env.clock.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let browser = tokio::spawn(async move {
        let url = url::Url::parse(&rx.await.unwrap()).unwrap();
        assert_eq!(url.as_str().split('?').next().unwrap(), DEFAULT_AUTHORIZE_URL);
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["scope"], "tweet.read tweet.write users.read media.write offline.access");
        assert_eq!(q["client_id"], "cid");
        *challenge.lock().unwrap() = Some(q["code_challenge"].clone());
        let cb = format!("{}?state={}&code=x-code", q["redirect_uri"], q["state"]);
        crieur_net_http::install_crypto_provider();
        let client = crieur_net_http::reqwest::Client::builder().no_proxy().build().unwrap();
        client.get(cb).send().await.unwrap().status().as_u16()
    });
    let granted =
        authorize(&options, env.vault.as_ref(), |u| tx.send(u.to_owned()).unwrap()).await.unwrap();
    assert_eq!(browser.await.unwrap(), 200);
    let expected = Tokens {
        access_token: "auth-access".into(),
        refresh_token: Some("auth-refresh".into()),
        expires_at: Some(now() + SignedDuration::from_hours(2)),
    };
    assert_eq!(granted.tokens, expected);
    assert_eq!(env.vault.tokens("company-x"), Some(expected));
}

#[tokio::test]
async fn debug_shows_no_token() {
    let env = env().await;
    let manager = env.manager("tok-secret-a", "ref-secret-b");
    let p = env.publisher_with(XAuth::Managed(manager.clone()));
    let shown = format!("{p:?} {manager:?}");
    assert!(!shown.contains("secret-a") && !shown.contains("secret-b"), "{shown}");
    let p = env.publisher_with(XAuth::Static(SecretString::from("tok-secret-c")));
    assert!(!format!("{p:?}").contains("secret-c"));
    let mut o = XAuthorizeOptions::new("company-x", "cid");
    o.client_secret = Some(SecretString::from("client-secret-d"));
    assert!(!format!("{o:?}").contains("secret-d"));
}

#[test]
fn bad_api_base_is_refused_with_its_name() {
    let mut c = XPublisherConfig::new("company-x", XAuth::Static(SecretString::from("t")));
    c.api_base = "ftp://api.x.com".into();
    let err = XPublisher::new(c).unwrap_err().to_string();
    assert!(err.contains("company-x") && err.contains("api_base"), "{err}");
}
