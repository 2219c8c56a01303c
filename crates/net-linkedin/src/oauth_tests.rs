//! Tokens kept by the token manager (vault, one refresh after a 401) and `crieur auth` against a
//! mock LinkedIn authorization server, token endpoint and userinfo, the test playing the browser.
//!
//! The vault here is net-oauth's in-memory test double; the store's encrypted vault is tested in
//! the store crate.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use crieur_core::{ManualClock, Outcome, Publisher, Tokens};
use crieur_net_http::HttpClient;
use crieur_net_oauth::testing::MemoryVault;
use crieur_net_oauth::{AuthError, TokenManager, TokenManagerConfig};
use jiff::SignedDuration;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::tests::{ORG, check_request, config, delivery, now};
use crate::{
    LinkedinAuthConfig, LinkedinPublisher, LinkedinTokens, authorize, expiry_warning, oauth_app,
};

const CHANNEL: &str = "company-linkedin";
const OLD: &str = "AQV-old-access-token-11111";
const NEW: &str = "AQV-new-access-token-22222";
const REFRESH: &str = "AQW-refresh-token-33333";
const CLIENT_ID: &str = "86abcdef1234";
const CLIENT_SECRET: &str = "client-secret-WPL_AP1-44444";

/// A LinkedIn that accepts only `good` (401 65600 for any other token) and checks the rest as
/// strictly as [`check_request`].
struct TokenGate {
    good: &'static str,
}

impl Respond for TokenGate {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req.headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {}", self.good)) {
            return ResponseTemplate::new(401).set_body_json(json!({
                "status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                "message": "Invalid access token"}));
        }
        match check_request(req, self.good, ORG, "hi") {
            Ok(()) => ResponseTemplate::new(201).insert_header("x-restli-id", "urn:li:share:1"),
            Err(problem) => ResponseTemplate::new(400).set_body_json(json!({"message": problem})),
        }
    }
}

async fn posts_server(good: &'static str, times: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(TokenGate { good })
        .expect(times)
        .mount(&server)
        .await;
    server
}

/// A token endpoint that trades `REFRESH` for `answer`, and checks the form LinkedIn expects.
async fn refresh_endpoint(server: &MockServer, answer: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!("refresh_token={REFRESH}")))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!("client_secret={CLIENT_SECRET}")))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

fn new_tokens() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": NEW, "expires_in": 5_184_000,
        "refresh_token": REFRESH, "refresh_token_expires_in": 31_000_000}))
}

fn manager(vault: Arc<MemoryVault>, token_server: &MockServer) -> Arc<TokenManager> {
    let mut c =
        TokenManagerConfig::new(CHANNEL, Some(vault), HttpClient::builder().build().unwrap());
    c.app = Some(oauth_app(
        CLIENT_ID,
        Some(SecretString::from(CLIENT_SECRET)),
        Some(format!("{}/oauth/v2/accessToken", token_server.uri())),
    ));
    c.clock = Arc::new(ManualClock::new(now()));
    c.lock_wait = Duration::from_millis(200);
    Arc::new(TokenManager::new(c).unwrap())
}

fn stored(refresh: Option<&str>, expires_in_days: i64) -> Tokens {
    Tokens {
        access_token: OLD.into(),
        refresh_token: refresh.map(str::to_owned),
        expires_at: Some(now() + SignedDuration::from_hours(24 * expires_in_days)),
    }
}

fn managed_publisher(posts: &MockServer, m: Arc<TokenManager>) -> LinkedinPublisher {
    LinkedinPublisher::new(config(&posts.uri(), ORG, LinkedinTokens::Managed(m))).unwrap()
}

fn reason(o: &Outcome) -> String {
    format!("{o:?}")
}

#[tokio::test]
async fn a_401_refreshes_once_saves_and_resends() {
    let posts = posts_server(NEW, 2).await;
    let tokens = MockServer::start().await;
    refresh_endpoint(&tokens, new_tokens(), 1).await;
    let vault = Arc::new(MemoryVault::new());
    vault.put(CHANNEL, stored(Some(REFRESH), 30));
    let p = managed_publisher(&posts, manager(vault.clone(), &tokens));
    let outcome = p.publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let saves = vault.saves();
    assert_eq!(saves.len(), 1);
    assert_eq!(saves[0].1.access_token, NEW);
    assert_eq!(saves[0].1.expires_at, Some(now() + SignedDuration::from_secs(5_184_000)));
    let sent = posts.received_requests().await.unwrap();
    assert_eq!(sent[0].headers["authorization"], format!("Bearer {OLD}").as_str());
    assert_eq!(sent[1].headers["authorization"], format!("Bearer {NEW}").as_str());
}

#[tokio::test]
async fn a_401_without_refresh_token_is_unauthorized_without_a_token_call() {
    let posts = posts_server(NEW, 1).await;
    let tokens = MockServer::start().await;
    refresh_endpoint(&tokens, new_tokens(), 0).await;
    let vault = Arc::new(MemoryVault::new());
    vault.put(CHANNEL, stored(None, 30));
    let outcome =
        managed_publisher(&posts, manager(vault.clone(), &tokens)).publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    let r = reason(&outcome);
    assert!(r.contains("65600") && r.contains("crieur auth company-linkedin"), "{r}");
    assert!(vault.saves().is_empty());
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_unauthorized() {
    let posts = posts_server("a-token-nobody-has", 2).await;
    let tokens = MockServer::start().await;
    refresh_endpoint(&tokens, new_tokens(), 1).await;
    let vault = Arc::new(MemoryVault::new());
    vault.put(CHANNEL, stored(Some(REFRESH), 30));
    let outcome = managed_publisher(&posts, manager(vault, &tokens)).publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("even with a freshly refreshed token"), "{outcome:?}");
}

#[tokio::test]
async fn refresh_endpoint_down_is_a_retry_and_refused_refresh_is_unauthorized() {
    let posts = posts_server(NEW, 1).await;
    let tokens = MockServer::start().await;
    refresh_endpoint(&tokens, ResponseTemplate::new(503), 1).await;
    let vault = Arc::new(MemoryVault::new());
    vault.put(CHANNEL, stored(Some(REFRESH), 30));
    let outcome =
        managed_publisher(&posts, manager(vault.clone(), &tokens)).publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Retry { not_before: None, .. }), "{outcome:?}");
    assert!(vault.revoked().is_empty());

    let posts = posts_server(NEW, 1).await;
    let tokens = MockServer::start().await;
    refresh_endpoint(
        &tokens,
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant",
            "error_description": "The provided authorization grant is revoked"})),
        1,
    )
    .await;
    let outcome =
        managed_publisher(&posts, manager(vault.clone(), &tokens)).publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("invalid_grant"), "{outcome:?}");
    assert_eq!(vault.revoked().len(), 1);
}

#[tokio::test]
async fn an_expired_vault_token_without_refresh_is_unauthorized_without_a_request() {
    let posts = posts_server(OLD, 0).await;
    let tokens = MockServer::start().await;
    refresh_endpoint(&tokens, new_tokens(), 0).await;
    let vault = Arc::new(MemoryVault::new());
    vault.put(CHANNEL, stored(None, -1));
    let p = managed_publisher(&posts, manager(vault, &tokens));
    let outcome = p.publish(&delivery("hi")).await;
    assert!(matches!(outcome, Outcome::Unauthorized { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("expired at"), "{outcome:?}");
    assert!(p.expiry_warning().await.unwrap().is_expired());
}

#[tokio::test]
async fn the_vault_expiry_drives_the_warning() {
    let posts = posts_server(OLD, 1).await;
    let tokens = MockServer::start().await;
    let vault = Arc::new(MemoryVault::new());
    vault.put(CHANNEL, stored(None, 10));
    let p = managed_publisher(&posts, manager(vault, &tokens));
    let w = p.expiry_warning().await.unwrap();
    assert_eq!((w.threshold_days, w.days_left), (14, 10));
    assert_eq!(Some(w), expiry_warning(now() + SignedDuration::from_hours(240), now()));
    assert!(matches!(p.publish(&delivery("hi")).await, Outcome::Published { .. }));
}

// ---------------------------------------------------------------- crieur auth

const CODE: &str = "AQT-authorization-code-55555";
const SUB: &str = "782bbtaQ";

/// LinkedIn's authorization page, approved at once: checks the query and redirects to the
/// loopback callback with a code and the state.
struct Approve {
    scope: &'static str,
}

impl Respond for Approve {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let problem = if q.get("response_type").map(String::as_str) != Some("code") {
            Some("response_type")
        } else if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
            Some("client_id")
        } else if q.get("scope").map(String::as_str) != Some(self.scope) {
            Some("scope")
        } else if q.contains_key("code_challenge") {
            Some("code_challenge: LinkedIn's three-legged flow has no PKCE")
        } else if !q.get("redirect_uri").is_some_and(|r| r.starts_with("http://127.0.0.1:")) {
            Some("redirect_uri")
        } else if q.get("state").is_none_or(|s| s.len() < 16) {
            Some("state")
        } else {
            None
        };
        if let Some(problem) = problem {
            return ResponseTemplate::new(400).set_body_string(format!("bad {problem}: {q:?}"));
        }
        let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
        back.query_pairs_mut().append_pair("code", CODE).append_pair("state", &q["state"]);
        ResponseTemplate::new(302).insert_header("location", back.as_str())
    }
}

async fn linkedin_auth_server(scope: &'static str, token_answer: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/oauth/v2/authorization"))
        .respond_with(Approve { scope })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains(format!("code={CODE}")))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!("client_secret={CLIENT_SECRET}")))
        .and(body_string_contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .and(header("authorization", format!("Bearer {NEW}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sub": SUB, "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
            "email_verified": true, "locale": {"country": "GB", "language": "en"}})))
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn auth_config(server: &MockServer, author: &str) -> LinkedinAuthConfig {
    let mut c = LinkedinAuthConfig::new(
        CHANNEL,
        author,
        CLIENT_ID,
        Some(SecretString::from(CLIENT_SECRET)),
    );
    c.api_base = server.uri();
    c.authorize_url = format!("{}/oauth/v2/authorization", server.uri());
    c.token_url = format!("{}/oauth/v2/accessToken", server.uri());
    c.port = 0;
    c.timeout = Duration::from_secs(20);
    c.clock = Arc::new(ManualClock::new(now()));
    c
}

/// The browser: follows the authorization page's redirect to the loopback callback.
fn browser(url: &str) {
    let url = url.to_owned();
    tokio::spawn(async move {
        let page = crieur_net_http::reqwest::get(&url).await.unwrap();
        assert_eq!(page.status().as_u16(), 200, "{}", page.text().await.unwrap());
    });
}

#[tokio::test]
async fn auth_as_an_organization_saves_the_tokens_and_reports_the_member() {
    let server = linkedin_auth_server(
        "openid profile w_organization_social",
        json!({"access_token": NEW, "expires_in": 5_184_000,
               "scope": "openid,profile,w_organization_social", "token_type": "Bearer",
               "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}),
    )
    .await;
    let vault = MemoryVault::new();
    let mut shown = None;
    let done = authorize(&auth_config(&server, ORG), &vault, |url| {
        shown = Some(url.to_owned());
        browser(url);
    })
    .await
    .unwrap();
    assert!(shown.unwrap().starts_with(&format!("{}/oauth/v2/authorization?", server.uri())));
    assert_eq!(done.member.as_deref(), Some("urn:li:person:782bbtaQ"));
    assert_eq!(done.member_name.as_deref(), Some("Ada Lovelace"));
    let expires = now() + SignedDuration::from_secs(5_184_000);
    assert_eq!(done.expires_at, Some(expires));
    assert!(!done.refresh_token);
    assert_eq!(
        done.scopes,
        Some(vec!["openid".into(), "profile".into(), "w_organization_social".into()])
    );
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let saves = vault.saves();
    assert_eq!(saves.len(), 1);
    assert_eq!(saves[0].0, CHANNEL);
    assert_eq!(
        saves[0].1,
        Tokens { access_token: NEW.into(), refresh_token: None, expires_at: Some(expires) }
    );
    // Nothing the operator sees carries a token or the secret.
    let report = format!("{done:?}");
    for secret in [NEW, CLIENT_SECRET, CODE] {
        assert!(!report.contains(secret), "{report}");
    }
}

#[tokio::test]
async fn auth_as_another_member_and_without_the_scope_warns() {
    let server = linkedin_auth_server(
        "openid profile w_member_social",
        json!({"access_token": NEW, "expires_in": 5_184_000, "scope": "openid,profile"}),
    )
    .await;
    let vault = MemoryVault::new();
    let done = authorize(&auth_config(&server, "urn:li:person:someoneElse"), &vault, browser)
        .await
        .unwrap();
    assert_eq!(done.warnings.len(), 2, "{:?}", done.warnings);
    assert!(done.warnings[0].contains("did not grant w_member_social"), "{:?}", done.warnings);
    assert!(
        done.warnings[1].contains("set author = \"urn:li:person:782bbtaQ\""),
        "{:?}",
        done.warnings
    );
    assert_eq!(vault.saves().len(), 1);
}

#[tokio::test]
async fn auth_refuses_a_bad_author_or_a_missing_secret_before_any_request() {
    let server = MockServer::start().await;
    let vault = MemoryVault::new();
    let mut c = auth_config(&server, "acme");
    let e = authorize(&c, &vault, |_| panic!("no browser")).await.unwrap_err();
    assert!(matches!(e, AuthError::Config { .. }), "{e}");
    assert!(e.to_string().contains("urn:li:organization:NUMBER"), "{e}");
    c.author = ORG.into();
    c.client_secret = None;
    let e = authorize(&c, &vault, |_| panic!("no browser")).await.unwrap_err();
    assert!(e.to_string().contains("client_secret"), "{e}");
    assert!(vault.saves().is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn auth_config_debug_hides_the_secret() {
    let c =
        LinkedinAuthConfig::new(CHANNEL, ORG, CLIENT_ID, Some(SecretString::from(CLIENT_SECRET)));
    let shown = format!("{c:?}");
    assert!(shown.contains(CLIENT_ID) && !shown.contains(CLIENT_SECRET), "{shown}");
}
