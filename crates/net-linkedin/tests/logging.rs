//! No token, client secret or authorization code reaches the logs, even at TRACE level with
//! reqwest's and hyper's own records: a publish, a 401 with a refresh, `crieur auth`, and a
//! refused connection.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, process-wide,
//! so one global subscriber here captures everything the process logs.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use crieur_core::{Delivery, ManualClock, Network, Outcome, Publisher, Tokens};
use crieur_net_http::HttpClient;
use crieur_net_linkedin::{
    LinkedinAuthConfig, LinkedinPublisher, LinkedinPublisherConfig, LinkedinTokens, authorize,
    oauth_app,
};
use crieur_net_oauth::testing::MemoryVault;
use crieur_net_oauth::{TokenManager, TokenManagerConfig};
use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const OLD: &str = "AQV-logging-old-token-aaaa";
const NEW: &str = "AQV-logging-new-token-bbbb";
const REFRESH: &str = "AQW-logging-refresh-cccc";
const SECRET: &str = "logging-client-secret-dddd";
const CODE: &str = "AQT-logging-code-eeee";
const ORG: &str = "urn:li:organization:2414183";

fn delivery() -> Delivery {
    Delivery {
        id: "log-test-linkedin-1".into(),
        post: "p1".into(),
        channel: "li".into(),
        network: Network::Linkedin,
        text: "hello".into(),
        link: None,
        category: None,
        article: None,
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: Timestamp::now(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

fn publisher(api_base: String, tokens: LinkedinTokens) -> LinkedinPublisher {
    let mut c = LinkedinPublisherConfig::new("li", ORG, tokens);
    c.api_base = api_base;
    c.clock = Arc::new(ManualClock::new(Timestamp::now()));
    LinkedinPublisher::new(c).unwrap()
}

#[tokio::test]
async fn logs_at_trace_level_never_carry_a_token_secret_or_code() {
    let captured = crieur_net_http::testing::capture_all_logs();

    let server = MockServer::start().await;
    // Posts: OLD is refused, NEW accepted.
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .and(header("authorization", format!("Bearer {NEW}").as_str()))
        .respond_with(ResponseTemplate::new(201).insert_header("x-restli-id", "urn:li:share:5"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/accessToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": NEW, "expires_in": 5_184_000, "refresh_token": REFRESH}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/v2/authorization"))
        .respond_with(|req: &Request| {
            let q: std::collections::HashMap<String, String> =
                req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
            back.query_pairs_mut().append_pair("code", CODE).append_pair("state", &q["state"]);
            ResponseTemplate::new(302).insert_header("location", back.as_str())
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sub": "abc123"})))
        .mount(&server)
        .await;

    // A static token refused: 401, Unauthorized.
    let p = publisher(server.uri(), LinkedinTokens::fixed(SecretString::from(OLD)));
    assert!(matches!(p.publish(&delivery()).await, Outcome::Unauthorized { .. }));
    assert!(!format!("{p:?}").contains(OLD));

    // A managed token: 401, refresh, resend, published.
    let vault = Arc::new(MemoryVault::new());
    vault.put(
        "li",
        Tokens { access_token: OLD.into(), refresh_token: Some(REFRESH.into()), expires_at: None },
    );
    let mut mc =
        TokenManagerConfig::new("li", Some(vault.clone()), HttpClient::builder().build().unwrap());
    mc.app = Some(oauth_app(
        "client-1",
        Some(SecretString::from(SECRET)),
        Some(format!("{}/oauth/v2/accessToken", server.uri())),
    ));
    let manager = Arc::new(TokenManager::new(mc).unwrap());
    let p = publisher(server.uri(), LinkedinTokens::Managed(manager));
    let outcome = p.publish(&delivery()).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");

    // crieur auth.
    let mut ac = LinkedinAuthConfig::new("li", ORG, "client-1", Some(SecretString::from(SECRET)));
    ac.api_base = server.uri();
    ac.authorize_url = format!("{}/oauth/v2/authorization", server.uri());
    ac.token_url = format!("{}/oauth/v2/accessToken", server.uri());
    ac.port = 0;
    ac.timeout = Duration::from_secs(20);
    let done = authorize(&ac, vault.as_ref(), |url| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let _ = crieur_net_http::reqwest::get(&url).await;
        });
    })
    .await
    .unwrap();
    assert_eq!(done.member.as_deref(), Some("urn:li:person:abc123"));

    // Nothing listens: Retry.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = publisher(format!("http://127.0.0.1:{port}"), LinkedinTokens::fixed(OLD.into()));
    assert!(matches!(p.publish(&delivery()).await, Outcome::Retry { .. }));

    let log = captured.text();
    // The capture works: our records and the libraries' are there.
    assert!(log.contains("log-test-linkedin-1"), "{log}");
    assert!(log.contains("refreshing it once"), "{log}");
    assert!(log.contains("LinkedIn tokens saved"), "{log}");
    assert!(log.contains(" TRACE "), "{log}");
    for needle in [OLD, NEW, REFRESH, SECRET, CODE] {
        assert!(!log.contains(needle), "found {needle:?} in the logs:\n{log}");
    }
}
