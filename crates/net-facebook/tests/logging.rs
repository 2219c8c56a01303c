//! Tokens and secrets never reach the logs, even at TRACE level with reqwest's and hyper's own
//! records, while the `fbtrace_id` of every refusal does.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, process-wide,
//! so a subscriber scoped to one test races with the other tests of a binary. Here one global
//! subscriber captures everything the process logs.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use crieur_core::{Delivery, ManualClock, Network, Outcome, Publisher, Reconciled, TokenVault};
use crieur_net_facebook::{
    FacebookAuthConfig, FacebookPublisher, FacebookPublisherConfig, PageToken, authorize,
};
use crieur_net_oauth::testing::MemoryVault;
use jiff::Timestamp;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE: &str = "104857600123";
const STATIC_TOKEN: &str = "EAAstaticPageTokenLOGTEST";
const APP_ID: &str = "987654321";
const APP_SECRET: &str = "appSecretLOGTEST";
const CODE: &str = "AQDcodeLOGTEST";
const SHORT: &str = "EAAshortLOGTEST";
const LONG: &str = "EAAlongLOGTEST";
const PAGE_TOKEN: &str = "EAApageLOGTEST";

fn delivery() -> Delivery {
    Delivery {
        id: "log-test-delivery-fb".into(),
        post: "p1".into(),
        channel: "company-facebook".into(),
        network: Network::Facebook,
        text: "hello Lyon".into(),
        link: Some("https://example.com/?utm_source=facebook".into()),
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

fn graph_error(code: i64, subcode: i64) -> String {
    serde_json::json!({"error": {"message": "Error validating access token", "type":
        "OAuthException", "code": code, "error_subcode": subcode, "fbtrace_id": "TRACEidLOG1"}})
    .to_string()
}

/// The browser's visit to the loopback, over a bare socket (a client library would log it).
async fn visit(url: &str) {
    let url = url::Url::parse(url).unwrap();
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", url.port().unwrap())).await.unwrap();
    let target = format!("{}?{}", url.path(), url.query().unwrap());
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn logs_at_trace_level_carry_trace_ids_and_never_tokens() {
    let captured = crieur_net_http::testing::capture_all_logs();

    let server = MockServer::start().await;
    // A post refused for an expired token, then a reconciliation that reads the Page's posts.
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{PAGE}/feed")))
        .and(header("authorization", format!("Bearer {STATIC_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(400).set_body_string(graph_error(190, 463)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{PAGE}/published_posts")))
        .and(header("authorization", format!("Bearer {STATIC_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"data":[]}"#))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = FacebookPublisherConfig::new(
        "company-facebook",
        PAGE,
        PageToken::Static(SecretString::from(STATIC_TOKEN)),
    );
    c.api_base = server.uri();
    c.clock = Arc::new(ManualClock::new(Timestamp::now()));
    let publisher = FacebookPublisher::new(c).unwrap();
    assert!(matches!(publisher.publish(&delivery()).await, Outcome::Unauthorized { .. }));
    assert_eq!(publisher.reconcile(&delivery()).await, Reconciled::NotFound);
    assert!(!format!("{publisher:?}").contains(STATIC_TOKEN));

    // The whole login, every token passing through.
    Mock::given(method("POST"))
        .and(path("/v25.0/oauth/access_token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"access_token":"{SHORT}","token_type":"bearer"}}"#),
            "application/json; charset=UTF-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v25.0/oauth/access_token"))
        .and(body_string_contains("grant_type=fb_exchange_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(format!(r#"{{"access_token":"{LONG}","expires_in":5183944}}"#)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{PAGE}")))
        .and(header("authorization", format!("Bearer {LONG}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(format!(r#"{{"access_token":"{PAGE_TOKEN}","name":"Acme"}}"#)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let vault = MemoryVault::new();
    let mut auth =
        FacebookAuthConfig::new("company-facebook", APP_ID, SecretString::from(APP_SECRET), PAGE);
    auth.redirect_port = 0;
    auth.api_base = server.uri();
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let browser = async {
        let dialog = url::Url::parse(&rx.await.unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> =
            dialog.query_pairs().into_owned().collect();
        let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
        back.query_pairs_mut().append_pair("code", CODE).append_pair("state", &q["state"]);
        visit(back.as_str()).await;
    };
    let (result, ()) = tokio::join!(
        authorize(&auth, &vault, move |url| tx.send(url.to_owned()).unwrap()),
        browser
    );
    let page = result.unwrap();
    assert!(!format!("{page:?}").contains(PAGE_TOKEN));
    assert_eq!(vault.load("company-facebook").await.unwrap().unwrap().access_token, PAGE_TOKEN);

    let log = captured.text();
    // The capture works: our own records and the libraries' are there.
    assert!(log.contains("sending request"), "{log}");
    assert!(log.contains("log-test-delivery-fb"), "{log}");
    assert!(log.contains(" TRACE "), "{log}");
    assert!(log.contains("Facebook Page token stored"), "{log}");
    // The refusal is logged with its code, subcode and trace id.
    let refusal = log.lines().find(|l| l.contains("Facebook refused the post")).unwrap();
    for needle in ["code=190", "subcode=463", "TRACEidLOG1", "company-facebook"] {
        assert!(refusal.contains(needle), "{needle} missing from {refusal}");
    }
    for secret in [STATIC_TOKEN, APP_SECRET, CODE, SHORT, LONG, PAGE_TOKEN] {
        assert!(!log.contains(secret), "found {secret:?} in the logs:\n{log}");
    }
}
