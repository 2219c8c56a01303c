//! Secrets never reach the logs, even at TRACE level with reqwest's and hyper's own records.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, process-wide,
//! so a subscriber scoped to one test races with the other tests of a binary. Here one global
//! subscriber captures everything the process logs.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crieur_core::{Delivery, ManualClock, Network, Outcome, Publisher, RejectKind};
use crieur_net_webhook::{WebhookConfig, WebhookPublisher};
use jiff::Timestamp;
use secrecy::SecretString;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Printable on purpose: if the key ever reached a log as text, the test would see it.
const KEY: &[u8] = b"crieur-logging-signing-key-89abc";

fn secret_text() -> String {
    format!("whsec_{}", STANDARD.encode(KEY))
}

fn delivery() -> Delivery {
    Delivery {
        id: "log-test-delivery-1".into(),
        post: "p1".into(),
        channel: "blog".into(),
        network: Network::Webhook,
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

fn publisher(url: String) -> WebhookPublisher {
    let mut c = WebhookConfig::new("blog", url, SecretString::from(secret_text()));
    c.allow_private = true;
    c.clock = Arc::new(ManualClock::new(Timestamp::now()));
    WebhookPublisher::new(c).unwrap()
}

#[tokio::test]
async fn logs_at_trace_level_never_carry_the_secret_or_key() {
    let captured = crieur_net_http::testing::capture_all_logs();

    // A receiver that answers 410 (error-level log), then one that refuses the connection.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/h"))
        .respond_with(ResponseTemplate::new(410))
        .expect(1)
        .mount(&server)
        .await;
    let gone = publisher(format!("{}/h", server.uri()));
    assert!(matches!(
        gone.publish(&delivery()).await,
        Outcome::Rejected { kind: RejectKind::Gone, .. }
    ));
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = publisher(format!("http://127.0.0.1:{port}/h"));
    assert!(matches!(refused.publish(&delivery()).await, Outcome::Retry { .. }));

    let log = captured.text();
    // The capture works: our own records and the libraries' are there.
    assert!(log.contains("sending request"), "{log}");
    assert!(log.contains("log-test-delivery-1"), "{log}");
    assert!(log.contains("410 Gone"), "{log}");
    assert!(log.contains("Connection refused"), "{log}");
    assert!(log.contains(" TRACE "), "{log}");
    let key_hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    for needle in [
        secret_text(),
        STANDARD.encode(KEY),
        std::str::from_utf8(KEY).unwrap().to_owned(),
        format!("{KEY:?}"),
        key_hex,
    ] {
        assert!(!log.contains(&needle), "found {needle:?} in the logs:\n{log}");
    }
}
