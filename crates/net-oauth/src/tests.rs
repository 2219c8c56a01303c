//! The token manager and the browser flow against mock token endpoints on loopback.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use crieur_core::{ManualClock, TokenVault, Tokens};
use crieur_net_http::HttpClient;
use crieur_net_http::reqwest::Url;
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::testing::MemoryVault;
use crate::*;

const NOW: &str = "2026-11-26T10:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn http() -> HttpClient {
    HttpClient::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

fn token_json(access: &str, refresh: &str) -> serde_json::Value {
    serde_json::json!({
        "token_type": "bearer", "expires_in": 7200, "access_token": access,
        "scope": "tweet.read tweet.write users.read offline.access", "refresh_token": refresh
    })
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

struct Setup {
    server: MockServer,
    vault: Arc<MemoryVault>,
    clock: Arc<ManualClock>,
}

async fn setup() -> Setup {
    Setup {
        server: MockServer::start().await,
        vault: Arc::new(MemoryVault::new()),
        clock: Arc::new(ManualClock::new(now())),
    }
}

impl Setup {
    fn config(&self, secret: bool) -> TokenManagerConfig {
        let vault: Arc<dyn TokenVault> = self.vault.clone();
        let mut c = TokenManagerConfig::new("company-x", Some(vault), http());
        let mut app = OAuthApp::new("cid", format!("{}/2/oauth2/token", self.server.uri()));
        if secret {
            app.client_secret = Some(SecretString::from("client-secret-s3"));
        }
        c.app = Some(app);
        c.access_token = Some(SecretString::from("config-access"));
        c.refresh_token = Some(SecretString::from("config-refresh"));
        c.clock = self.clock.clone();
        c.lock_poll = Duration::from_millis(20);
        c.lock_wait = Duration::from_millis(300);
        c
    }

    fn manager(&self, secret: bool) -> TokenManager {
        TokenManager::new(self.config(secret)).unwrap()
    }
}

/// A confidential client refreshes with HTTP Basic and exactly `grant_type` + `refresh_token`
/// in the body; the rotated refresh token is saved before the new access token is returned,
/// and the vault's tokens win afterwards.
#[tokio::test]
async fn refresh_after_401_with_basic_auth_saves_rotated_tokens() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .and(header("authorization", basic("cid", "client-secret-s3").as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=refresh_token&refresh_token=config-refresh"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(token_json("new-access", "new-refresh")),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    let m = s.manager(true);
    assert_eq!(m.current().await.unwrap().expose_secret(), "config-access");
    let fresh = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap();
    assert_eq!(fresh.expose_secret(), "new-access");
    let saves = s.vault.saves();
    assert_eq!(saves.len(), 1);
    assert_eq!(
        saves[0].1,
        Tokens {
            access_token: "new-access".into(),
            refresh_token: Some("new-refresh".into()),
            expires_at: Some(now() + SignedDuration::from_hours(2)),
        }
    );
    // The vault now wins over the config.
    assert_eq!(m.current().await.unwrap().expose_secret(), "new-access");
    assert_eq!(m.expires_at().await.unwrap(), Some(now() + SignedDuration::from_hours(2)));
    assert!(s.vault.lock_holder("company-x").is_none(), "the lock was released");
}

/// A public client sends `client_id` in the body; two refreshes in a row each use the rotated
/// token, and the endpoint refuses a reused one (as X does), so reuse would fail this test.
#[tokio::test]
async fn successive_refreshes_use_the_rotated_refresh_token() {
    let s = setup().await;
    for (sent, access, next) in [("config-refresh", "a1", "r1"), ("r1", "a2", "r2")] {
        Mock::given(method("POST"))
            .and(path("/2/oauth2/token"))
            .and(body_string(format!(
                "grant_type=refresh_token&refresh_token={sent}&client_id=cid"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_json(access, next)))
            .up_to_n_times(1)
            .expect(1)
            .mount(&s.server)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_request", "error_description": "Value passed for the token was invalid."
        })))
        .expect(0)
        .mount(&s.server)
        .await;
    let m = s.manager(false);
    let a1 = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap();
    assert_eq!(a1.expose_secret(), "a1");
    let a2 = m.refresh_after_401(&a1).await.unwrap();
    assert_eq!(a2.expose_secret(), "a2");
    assert_eq!(s.vault.tokens("company-x").unwrap().refresh_token.as_deref(), Some("r2"));
}

/// A stored token close to expiry is refreshed before use; a far one is not.
#[tokio::test]
async fn token_near_expiry_is_refreshed_ahead() {
    let s = setup().await;
    s.vault.put(
        "company-x",
        Tokens {
            access_token: "stored".into(),
            refresh_token: Some("stored-refresh".into()),
            expires_at: Some(now() + SignedDuration::from_mins(10)),
        },
    );
    Mock::given(method("POST"))
        .and(body_string("grant_type=refresh_token&refresh_token=stored-refresh&client_id=cid"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("fresh", "fresh-r")))
        .expect(1)
        .mount(&s.server)
        .await;
    let m = s.manager(false);
    assert_eq!(m.current().await.unwrap().expose_secret(), "stored");
    s.clock.set(now() + SignedDuration::from_mins(6));
    assert_eq!(m.current().await.unwrap().expose_secret(), "fresh");
    assert_eq!(m.current().await.unwrap().expose_secret(), "fresh");
}

/// A 503 (or no answer) is transient: nothing is revoked, the tokens stay as they were.
#[tokio::test]
async fn refresh_answered_503_is_transient_and_not_revoked() {
    let s = setup().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(serde_json::json!({"error": "invalid_grant"})),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    let m = s.manager(false);
    let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
    assert!(matches!(err, AuthError::Transient { .. }), "{err}");
    assert!(err.is_transient());
    assert!(err.to_string().contains("503"), "{err}");
    assert!(s.vault.revoked().is_empty());
    assert!(s.vault.saves().is_empty());
    assert!(s.vault.lock_holder("company-x").is_none());

    // Connection refused: transient too.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = s.config(false);
    c.app = Some(OAuthApp::new("cid", format!("http://127.0.0.1:{port}/token")));
    let m = TokenManager::new(c).unwrap();
    let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
    assert!(matches!(err, AuthError::Transient { .. }), "{err}");
    assert!(s.vault.revoked().is_empty());
}

/// `invalid_grant`, a spent token's `invalid_request`, or a bare 401 revoke the channel; the
/// endpoint's description is kept, the rest of its body (which may echo the token) is not.
#[tokio::test]
async fn refused_refresh_marks_the_channel_revoked() {
    for (status, body, code) in [
        (400, r#"{"error":"invalid_grant","error_description":"token revoked"}"#, "invalid_grant"),
        (400, r#"{"error":"invalid_request","echo":"config-refresh"}"#, "invalid_request"),
        (401, "", "unauthorized"),
        (401, "<html>config-refresh</html>", "unauthorized"),
    ] {
        let s = setup().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("content-type", "application/json")
                    .set_body_string(body),
            )
            .expect(1)
            .mount(&s.server)
            .await;
        let m = s.manager(true);
        let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, AuthError::Revoked { .. }), "{text}");
        assert!(text.contains("crieur auth company-x"), "{text}");
        assert!(text.contains(code), "{text}");
        assert!(!text.contains("config-refresh") && !text.contains("s3"), "{text}");
        let revoked = s.vault.revoked();
        assert_eq!(revoked.len(), 1, "{status} {body}");
        assert_eq!(revoked[0].0, "company-x");
        assert!(revoked[0].1.contains(code));
        assert!(!revoked[0].1.contains("config-refresh"));
    }
}

/// Without a vault, a refresh token cannot be refreshed (the rotated one would be lost): no
/// request is made and the message says how to set a key. Without a refresh token, the config
/// token is simply used.
#[tokio::test]
async fn without_a_vault_refresh_is_refused_with_the_reason() {
    let s = setup().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s.server)
        .await;
    let mut c = s.config(false);
    c.vault = None;
    let m = TokenManager::new(c.clone()).unwrap();
    assert_eq!(m.current().await.unwrap().expose_secret(), "config-access");
    let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
    assert!(matches!(err, AuthError::NoVault { .. }), "{err}");
    assert!(err.to_string().contains("[storage] key"), "{err}");

    c.refresh_token = None;
    let m = TokenManager::new(c.clone()).unwrap();
    assert_eq!(m.current().await.unwrap().expose_secret(), "config-access");
    let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
    assert!(matches!(err, AuthError::CannotRefresh { .. }), "{err}");

    c.access_token = None;
    let m = TokenManager::new(c).unwrap();
    let err = m.current().await.unwrap_err();
    assert!(err.to_string().contains("crieur auth company-x"), "{err}");
}

/// Another instance holds the refresh lock and saves its new tokens meanwhile: this one takes
/// them from the vault without calling the endpoint.
#[tokio::test]
async fn another_instance_refreshing_is_waited_for() {
    let s = setup().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s.server)
        .await;
    s.vault.hold_lock("company-x", "other-instance");
    let vault = s.vault.clone();
    let other = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        vault
            .save(
                "company-x",
                &Tokens {
                    access_token: "by-other".into(),
                    refresh_token: Some("other-r".into()),
                    expires_at: Some(now() + SignedDuration::from_hours(2)),
                },
            )
            .await
            .unwrap();
        vault.release_lock("company-x");
    });
    let m = s.manager(false);
    let token = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap();
    assert_eq!(token.expose_secret(), "by-other");
    other.await.unwrap();
    assert!(s.vault.lock_attempts() >= 2);

    // A lock that is never released: transient after the wait.
    let s = setup().await;
    s.vault.hold_lock("company-x", "stuck-instance");
    let m = s.manager(false);
    let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
    assert!(matches!(err, AuthError::Transient { .. }), "{err}");
    assert!(s.vault.revoked().is_empty());
}

/// Concurrent 401s in one process refresh once: the second caller waits on the mutex and then
/// sees the new token.
#[tokio::test]
async fn concurrent_refreshes_in_one_process_refresh_once() {
    let s = setup().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_json("once", "once-r"))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    let m = Arc::new(s.manager(false));
    let refused = SecretString::from("config-access");
    let (a, b) = tokio::join!(m.refresh_after_401(&refused), m.refresh_after_401(&refused));
    assert_eq!(a.unwrap().expose_secret(), "once");
    assert_eq!(b.unwrap().expose_secret(), "once");
}

/// When the vault cannot save the refreshed tokens, the error is transient, the tokens stay in
/// memory and are saved on the next call, without refreshing again (the old refresh token is
/// spent).
#[tokio::test]
async fn failed_save_keeps_tokens_in_memory_and_saves_them_next() {
    let s = setup().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("kept", "kept-r")))
        .expect(1)
        .mount(&s.server)
        .await;
    s.vault.fail_next_saves(1);
    let m = s.manager(false);
    let err = m.refresh_after_401(&SecretString::from("config-access")).await.unwrap_err();
    assert!(matches!(err, AuthError::Vault { .. }), "{err}");
    assert!(s.vault.tokens("company-x").is_none());
    assert_eq!(m.current().await.unwrap().expose_secret(), "kept");
    assert_eq!(s.vault.tokens("company-x").unwrap().refresh_token.as_deref(), Some("kept-r"));
}

/// A token that another task already replaced is not refreshed again.
#[tokio::test]
async fn a_401_on_an_already_replaced_token_does_not_refresh() {
    let s = setup().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s.server)
        .await;
    s.vault.put(
        "company-x",
        Tokens { access_token: "newer".into(), refresh_token: Some("r".into()), expires_at: None },
    );
    let m = s.manager(false);
    let t = m.refresh_after_401(&SecretString::from("older")).await.unwrap();
    assert_eq!(t.expose_secret(), "newer");
}

/// Computes the S256 challenge of a verifier, as the authorization server does.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A token endpoint that checks the code and that the verifier matches the challenge seen on
/// the authorization URL.
struct CodeEndpoint {
    challenge: Arc<std::sync::Mutex<Option<String>>>,
    redirect: Arc<std::sync::Mutex<Option<String>>>,
}

impl Respond for CodeEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&request.body).into_owned().collect();
        let challenge = self.challenge.lock().unwrap().clone();
        let redirect = self.redirect.lock().unwrap().clone();
        let verifier_ok = match (&challenge, form.get("code_verifier")) {
            (Some(c), Some(v)) => &s256(v) == c,
            (None, None) => true,
            _ => false,
        };
        let expected_keys = if challenge.is_some() { 4 } else { 3 };
        if form.get("grant_type").map(String::as_str) == Some("authorization_code")
            && form.get("code").map(String::as_str) == Some("the-code")
            && form.get("redirect_uri") == redirect.as_ref()
            && form.len() == expected_keys
            && verifier_ok
        {
            ResponseTemplate::new(200).set_body_json(token_json("flow-access", "flow-refresh"))
        } else {
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"}))
        }
    }
}

/// Plays the browser: reads the authorization URL, checks it, and calls the loopback callback
/// with the given state (or the right one).
async fn browser(url: String, state_override: Option<&str>) -> (u16, String, Url) {
    let url = Url::parse(&url).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let redirect = q["redirect_uri"].clone();
    let state = state_override.map_or_else(|| q["state"].clone(), str::to_owned);
    let callback = format!("{redirect}?code=the-code&state={state}");
    let client = reqwest_client();
    // A stray request first (browsers ask for a favicon): answered 404, the flow goes on.
    let favicon = redirect.replace("/callback", "/favicon.ico");
    assert_eq!(client.get(&favicon).send().await.unwrap().status().as_u16(), 404);
    let resp = client.get(&callback).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap(), url)
}

fn reqwest_client() -> crieur_net_http::reqwest::Client {
    crieur_net_http::reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn run_flow(
    pkce: bool,
    state_override: Option<&'static str>,
) -> (Result<Granted, AuthError>, Option<(u16, String, Url)>, MockServer) {
    let server = MockServer::start().await;
    let challenge = Arc::new(std::sync::Mutex::new(None));
    let redirect = Arc::new(std::sync::Mutex::new(None));
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("authorization", basic("cid", "sec").as_str()))
        .respond_with(CodeEndpoint { challenge: challenge.clone(), redirect: redirect.clone() })
        .mount(&server)
        .await;
    let mut app = OAuthApp::new("cid", format!("{}/oauth/token", server.uri()));
    app.client_secret = Some(SecretString::from("sec"));
    let endpoint = TokenEndpoint::new(app, http(), Arc::new(ManualClock::new(now()))).unwrap();
    let mut config =
        AuthorizeConfig::new("company-x", "https://auth.example/authorize", &["a.read", "b.write"]);
    config.port = 0;
    config.pkce = pkce;
    config.extra_params.push(("prompt".into(), "consent".into()));
    config.timeout = Duration::from_secs(20);
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let browser_task = tokio::spawn(async move {
        let url = rx.await.unwrap();
        let parsed = Url::parse(&url).unwrap();
        let q: std::collections::HashMap<String, String> =
            parsed.query_pairs().into_owned().collect();
        *challenge.lock().unwrap() = q.get("code_challenge").cloned();
        *redirect.lock().unwrap() = Some(q["redirect_uri"].clone());
        browser(url, state_override).await
    });
    let result = authorize_in_browser(&config, &endpoint, move |url| {
        tx.send(url.to_owned()).unwrap();
    })
    .await;
    let seen = browser_task.await.ok();
    (result, seen, server)
}

#[tokio::test]
async fn pkce_flow_end_to_end() {
    let (result, seen, _server) = run_flow(true, None).await;
    let granted = result.unwrap();
    assert_eq!(granted.tokens.access_token, "flow-access");
    assert_eq!(granted.tokens.refresh_token.as_deref(), Some("flow-refresh"));
    assert_eq!(granted.tokens.expires_at, Some(now() + SignedDuration::from_hours(2)));
    let (status, page, url) = seen.unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("You can close this tab"), "{page}");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(url.as_str().split('?').next().unwrap(), "https://auth.example/authorize");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "cid");
    assert_eq!(q["scope"], "a.read b.write");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["prompt"], "consent");
    assert!(q["state"].len() >= 16);
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    assert!(q["redirect_uri"].ends_with("/callback"));
}

#[tokio::test]
async fn flow_without_pkce_sends_no_challenge() {
    let (result, seen, _server) = run_flow(false, None).await;
    assert_eq!(result.unwrap().tokens.access_token, "flow-access");
    let (_, _, url) = seen.unwrap();
    assert!(!url.query_pairs().any(|(k, _)| k.starts_with("code_challenge")));
}

#[tokio::test]
async fn state_mismatch_answers_400_and_fails() {
    let (result, seen, server) = run_flow(true, Some("forged")).await;
    let err = result.unwrap_err();
    assert!(matches!(err, AuthError::Flow { .. }), "{err}");
    assert!(err.to_string().contains("state"), "{err}");
    assert_eq!(seen.unwrap().0, 400);
    assert!(server.received_requests().await.unwrap().is_empty(), "no code exchange");
}

#[tokio::test]
async fn refused_in_browser_and_timeout_are_errors() {
    // The network sends the operator back with error=access_denied.
    let server = MockServer::start().await;
    let endpoint = TokenEndpoint::new(
        OAuthApp::new("cid", format!("{}/t", server.uri())),
        http(),
        Arc::new(ManualClock::new(now())),
    )
    .unwrap();
    let mut config = AuthorizeConfig::new("li", "https://auth.example/a", &["w_member_social"]);
    config.port = 0;
    config.pkce = false;
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let task = tokio::spawn(async move {
        let url = Url::parse(&rx.await.unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let cb = format!(
            "{}?error=access_denied&error_description=The+user+cancelled&state={}",
            q["redirect_uri"], q["state"]
        );
        reqwest_client().get(cb).send().await.unwrap().status().as_u16()
    });
    let err = authorize_in_browser(&config, &endpoint, |u| tx.send(u.to_owned()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(task.await.unwrap(), 400);
    assert!(err.to_string().contains("access_denied"), "{err}");
    assert!(err.to_string().contains("The user cancelled"), "{err}");

    // Nobody comes back.
    config.timeout = Duration::from_millis(200);
    let err = authorize_in_browser(&config, &endpoint, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("did not come back"), "{err}");

    // The port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.port = taken.local_addr().unwrap().port();
    let err = authorize_in_browser(&config, &endpoint, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("--port"), "{err}");
}

/// `Debug` of the manager and its config shows no token or secret.
#[tokio::test]
async fn debug_never_shows_secrets() {
    let s = setup().await;
    let c = s.config(true);
    let shown = format!("{c:?} {:?}", TokenManager::new(c.clone()).unwrap());
    for secret in ["config-access", "config-refresh", "client-secret-s3"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("company-x"));
}
