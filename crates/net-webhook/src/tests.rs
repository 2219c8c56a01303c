//! The publisher against real HTTP on loopback: wiremock receivers that check every request, and
//! bare listeners that prove no connection was made.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crieur_core::{
    Article, Clock, Delivery, ManualClock, Network, Outcome, Publisher, Reconciled, RejectKind,
};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{StaticLookup, WebhookConfig, WebhookError, WebhookPublisher};

/// Printable on purpose: if the key ever reached a log as text, the test would see it.
const KEY: &[u8] = b"crieur-test-signing-key-01234567";
const HOOK_PATH: &str = "/hooks/crieur";

fn secret_text() -> String {
    format!("whsec_{}", STANDARD.encode(KEY))
}

fn secret() -> SecretString {
    SecretString::from(secret_text())
}

fn delivery() -> Delivery {
    Delivery {
        id: "01J9ZQ-post-7-blog-0".into(),
        post: "rust-2026".into(),
        channel: "blog".into(),
        network: Network::Webhook,
        text: "Why we write crieur in Rust".into(),
        link: Some("https://example.com/rust?utm_source=blog".into()),
        category: Some("engineering".into()),
        article: Some(Article {
            title: "Why Rust".into(),
            slug: "why-rust".into(),
            tags: vec!["rust".into(), "tools".into()],
            body_markdown: "Hello *world*.\n\n<aside>raw</aside>\n".into(),
        }),
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: "2026-11-03T08:00:00Z".parse().unwrap(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

/// The current time in whole seconds (the receiver's verifier checks it within 5 minutes).
fn now_secs() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
}

fn config(url: String, clock: Arc<dyn Clock>) -> WebhookConfig {
    let mut c = WebhookConfig::new("blog", url, secret());
    c.allow_private = true;
    c.clock = clock;
    c
}

fn publisher_at(server: &MockServer, clock: Arc<dyn Clock>) -> WebhookPublisher {
    WebhookPublisher::new(config(format!("{}{HOOK_PATH}", server.uri()), clock)).unwrap()
}

/// A mock that accepts only a well-formed webhook POST for `delivery()`.
fn strict_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(header("content-type", "application/json"))
        .and(header("webhook-id", delivery().id.as_str()))
        .and(header_exists("webhook-timestamp"))
        .and(header_exists("webhook-signature"))
}

async fn answer(template: ResponseTemplate) -> (Outcome, Vec<Request>, WebhookPublisher) {
    let server = MockServer::start().await;
    strict_mock().respond_with(template).expect(1).mount(&server).await;
    let clock = Arc::new(ManualClock::new(now_secs()));
    let publisher = publisher_at(&server, clock);
    let outcome = publisher.publish(&delivery()).await;
    let requests = server.received_requests().await.unwrap();
    (outcome, requests, publisher)
}

fn verify(request: &Request) {
    standardwebhooks::Webhook::new(&secret_text())
        .unwrap()
        .verify(&request.body, &request.headers)
        .unwrap();
}

#[tokio::test]
async fn ok_200_with_url_is_published_with_that_url() {
    let (outcome, requests, _) = answer(
        ResponseTemplate::new(200)
            .set_body_string(r#"{"url":"https://blog.example.com/2026/why-rust"}"#),
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: delivery().id,
            url: Some("https://blog.example.com/2026/why-rust".into())
        }
    );
    verify(&requests[0]);
}

#[tokio::test]
async fn ok_200_without_json_is_published_under_the_webhook_id() {
    let (outcome, _, _) = answer(ResponseTemplate::new(200).set_body_string("thanks")).await;
    assert_eq!(outcome, Outcome::Published { remote_id: delivery().id, url: None });
}

#[tokio::test]
async fn created_201_takes_the_receivers_id() {
    let (outcome, _, _) =
        answer(ResponseTemplate::new(201).set_body_string(
            r#"{"id":4711,"url":"https://blog.example.com/p/4711","extra":[1,2]}"#,
        ))
        .await;
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: "4711".into(),
            url: Some("https://blog.example.com/p/4711".into())
        }
    );
    // A url that is not http(s) is not recorded.
    let (outcome, _, _) = answer(
        ResponseTemplate::new(201).set_body_string(r#"{"id":"p-9","url":"javascript:alert(1)"}"#),
    )
    .await;
    assert_eq!(outcome, Outcome::Published { remote_id: "p-9".into(), url: None });
}

#[tokio::test]
async fn no_content_204_is_published() {
    let (outcome, _, _) = answer(ResponseTemplate::new(204)).await;
    assert_eq!(outcome, Outcome::Published { remote_id: delivery().id, url: None });
}

#[tokio::test]
async fn redirect_301_is_rejected_and_not_followed() {
    let server = MockServer::start().await;
    strict_mock()
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", "/hooks/moved?token=abc"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/hooks/moved"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let publisher = publisher_at(&server, Arc::new(ManualClock::new(now_secs())));
    let Outcome::Rejected { kind, reason } = publisher.publish(&delivery()).await else {
        panic!("expected a rejection");
    };
    assert_eq!(kind, RejectKind::Other);
    assert!(reason.contains("301 redirect to"), "{reason}");
    assert!(reason.contains("/hooks/moved"), "{reason}");
    assert!(reason.contains("does not follow redirects"), "{reason}");
    assert!(!reason.contains("token=abc"), "{reason}");
}

#[tokio::test]
async fn client_errors_are_rejected_by_kind() {
    for (code, want) in [
        (400, RejectKind::Invalid),
        (422, RejectKind::Invalid),
        (401, RejectKind::Forbidden),
        (403, RejectKind::Forbidden),
        (404, RejectKind::Other),
        (409, RejectKind::Duplicate),
        (418, RejectKind::Other),
    ] {
        let (outcome, _, _) =
            answer(ResponseTemplate::new(code).set_body_string("{\"error\":\"title missing\"}\n"))
                .await;
        let Outcome::Rejected { kind, reason } = outcome else {
            panic!("{code}: expected a rejection, got {outcome:?}");
        };
        assert_eq!(kind, want, "{code}");
        assert!(reason.contains(&format!("answered {code}")), "{reason}");
        assert!(reason.contains(r#"{"error":"title missing"}"#), "{reason}");
    }
}

#[tokio::test]
async fn gone_410_disables_the_channel_without_further_requests() {
    let server = MockServer::start().await;
    strict_mock().respond_with(ResponseTemplate::new(410)).expect(1).mount(&server).await;
    let publisher = publisher_at(&server, Arc::new(ManualClock::new(now_secs())));
    let first = publisher.publish(&delivery()).await;
    assert!(matches!(first, Outcome::Rejected { kind: RejectKind::Gone, .. }));
    assert!(publisher.is_gone());
    let mut other = delivery();
    other.id = "another-delivery".into();
    let second = publisher.publish(&other).await;
    let Outcome::Rejected { kind, reason } = second else {
        panic!("expected a rejection");
    };
    assert_eq!(kind, RejectKind::Gone);
    assert!(reason.contains("channel blog is disabled"), "{reason}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn too_many_requests_429_waits_for_retry_after_seconds() {
    let server = MockServer::start().await;
    strict_mock()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .expect(1)
        .mount(&server)
        .await;
    let now = now_secs();
    let publisher = publisher_at(&server, Arc::new(ManualClock::new(now)));
    let outcome = publisher.publish(&delivery()).await;
    let want = now.checked_add(SignedDuration::from_secs(120)).unwrap();
    let Outcome::Retry { not_before, reason } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert_eq!(not_before, Some(want));
    assert!(reason.contains("answered 429"), "{reason}");
    assert_eq!(publisher.hold_until(), Some(want));
}

#[tokio::test]
async fn unavailable_503_waits_for_retry_after_date() {
    let server = MockServer::start().await;
    strict_mock()
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "Tue, 03 Nov 2026 09:30:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let publisher =
        publisher_at(&server, Arc::new(ManualClock::new("2026-11-03T09:00:00Z".parse().unwrap())));
    let outcome = publisher.publish(&delivery()).await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            reason: format!(
                "the webhook receiver at {}{HOOK_PATH} answered 503, try later",
                server.uri()
            ),
            not_before: Some("2026-11-03T09:30:00Z".parse().unwrap())
        }
    );
}

#[tokio::test]
async fn gateway_502_and_504_retry_without_a_time() {
    for code in [502, 504] {
        let (outcome, _, publisher) = answer(ResponseTemplate::new(code)).await;
        assert!(matches!(outcome, Outcome::Retry { not_before: None, .. }), "{code}: {outcome:?}");
        assert_eq!(publisher.hold_until(), None);
    }
}

#[tokio::test]
async fn server_error_500_is_unknown() {
    let (outcome, _, _) = answer(ResponseTemplate::new(500).set_body_string("boom")).await;
    let Outcome::Unknown { reason } = outcome else {
        panic!("expected unknown, got {outcome:?}");
    };
    assert!(reason.contains("answered 500"), "{reason}");
    assert!(reason.ends_with(": boom"), "{reason}");
}

#[tokio::test]
async fn body_and_signature_are_exact() {
    let server = MockServer::start().await;
    strict_mock().respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    // A fixed instant with a fraction: the body and the header both carry whole seconds.
    let at: Timestamp = "2026-11-03T08:00:05.750Z".parse().unwrap();
    let publisher = publisher_at(&server, Arc::new(ManualClock::new(at)));
    publisher.publish(&delivery()).await;
    let req = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"type":"post.published","timestamp":"2026-11-03T08:00:05Z","data":{"#,
            r#""id":"rust-2026","channel":"blog","title":"Why Rust","slug":"why-rust","#,
            r#""text":"Why we write crieur in Rust","#,
            r#""body_markdown":"Hello *world*.\n\n<aside>raw</aside>\n","#,
            r#""body_html":"<p>Hello <em>world</em>.</p>\n<aside>raw</aside>\n","#,
            r#""tags":["rust","tools"],"link":"https://example.com/rust?utm_source=blog","#,
            r#""category":"engineering","media":[]}}"#
        )
    );
    let ts = req.headers.get("webhook-timestamp").unwrap().to_str().unwrap();
    assert_eq!(ts, "1793692805");
    let sig = req.headers.get("webhook-signature").unwrap().to_str().unwrap();
    let reference = standardwebhooks::Webhook::new(&secret_text())
        .unwrap()
        .sign(&delivery().id, 1_793_692_805, &req.body)
        .unwrap();
    assert_eq!(sig, reference);
    assert_eq!(
        req.headers.get("user-agent").unwrap().to_str().unwrap(),
        crieur_net_http::USER_AGENT
    );
}

#[tokio::test]
async fn retries_keep_the_webhook_id_and_sign_each_attempt() {
    let server = MockServer::start().await;
    strict_mock()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    strict_mock()
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let clock =
        Arc::new(ManualClock::new(now_secs().checked_sub(SignedDuration::from_secs(60)).unwrap()));
    let publisher = publisher_at(&server, clock.clone());
    let mut d = delivery();
    assert!(matches!(publisher.publish(&d).await, Outcome::Retry { .. }));
    clock.advance(SignedDuration::from_secs(60));
    d.attempt = 2;
    assert!(matches!(publisher.publish(&d).await, Outcome::Published { .. }));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    let h = |r: &Request, name: &str| r.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(h(&reqs[0], "webhook-id"), d.id);
    assert_eq!(h(&reqs[1], "webhook-id"), d.id);
    let t0: i64 = h(&reqs[0], "webhook-timestamp").parse().unwrap();
    let t1: i64 = h(&reqs[1], "webhook-timestamp").parse().unwrap();
    assert_eq!(t1 - t0, 60);
    assert_ne!(h(&reqs[0], "webhook-signature"), h(&reqs[1], "webhook-signature"));
    verify(&reqs[0]);
    verify(&reqs[1]);
}

#[tokio::test]
async fn answer_over_the_cap_still_counts_as_published_without_url() {
    let server = MockServer::start().await;
    let big = format!(r#"{{"url":"https://blog.example.com/p","pad":"{}"}}"#, "x".repeat(2000));
    strict_mock()
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .expect(1)
        .mount(&server)
        .await;
    let mut c =
        config(format!("{}{HOOK_PATH}", server.uri()), Arc::new(ManualClock::new(now_secs())));
    c.http.max_body_bytes = 1024;
    let publisher = WebhookPublisher::new(c).unwrap();
    assert_eq!(
        publisher.publish(&delivery()).await,
        Outcome::Published { remote_id: delivery().id, url: None }
    );
}

#[tokio::test]
async fn slow_receiver_is_unknown_not_retry() {
    let server = MockServer::start().await;
    strict_mock()
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&server)
        .await;
    let mut c =
        config(format!("{}{HOOK_PATH}", server.uri()), Arc::new(ManualClock::new(now_secs())));
    c.http.timeout = Duration::from_millis(300);
    let publisher = WebhookPublisher::new(c).unwrap();
    let outcome = publisher.publish(&delivery()).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(publisher.reconcile(&delivery()).await, Reconciled::NotFound);
}

#[tokio::test]
async fn connection_refused_is_retry() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let publisher = WebhookPublisher::new(config(
        format!("http://127.0.0.1:{port}{HOOK_PATH}"),
        Arc::new(ManualClock::new(now_secs())),
    ))
    .unwrap();
    let outcome = publisher.publish(&delivery()).await;
    assert!(matches!(outcome, Outcome::Retry { not_before: None, .. }), "{outcome:?}");
}

/// A listener nobody accepts on: any connection would wait in its backlog, where a non-blocking
/// `accept` finds it.
struct Trap(TcpListener);

impl Trap {
    fn new() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Self(l)
    }
    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a connection was made: {other:?}"),
        }
    }
}

#[test]
fn trap_sees_a_connection() {
    let trap = Trap::new();
    let _stream = std::net::TcpStream::connect(("127.0.0.1", trap.port())).unwrap();
    let caught = std::panic::catch_unwind(|| trap.assert_untouched());
    assert!(caught.is_err(), "the trap must notice a connection");
}

fn guarded(url: String) -> Result<WebhookPublisher, WebhookError> {
    let mut c = WebhookConfig::new("blog", url, secret());
    c.clock = Arc::new(ManualClock::new(now_secs()));
    WebhookPublisher::new(c)
}

#[tokio::test]
async fn ssrf_guard_refuses_literal_and_plain_http_urls_at_construction() {
    let trap = Trap::new();
    let port = trap.port();
    let cases = [
        (
            "http://example.com/hook".to_owned(),
            "webhook URL http://example.com/hook uses http:".to_owned(),
        ),
        (
            format!("https://127.0.0.1:{port}/hook"),
            format!("webhook URL https://127.0.0.1:{port}/hook points to 127.0.0.1, a loopback"),
        ),
        (
            format!("https://[::1]:{port}/hook"),
            format!("webhook URL https://[::1]:{port}/hook points to ::1, a loopback"),
        ),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "points to 169.254.169.254, a cloud metadata".to_owned(),
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{port}/hook"),
            "points to ::ffff:127.0.0.1, a loopback".to_owned(),
        ),
    ];
    for (url, want) in cases {
        let err = guarded(url.clone()).unwrap_err();
        assert!(matches!(err, WebhookError::Refused { .. }), "{url}: {err}");
        let text = err.to_string();
        assert!(text.starts_with("channel blog: "), "{text}");
        assert!(text.contains(&want), "{url}: {text}");
    }
    trap.assert_untouched();
}

#[tokio::test]
async fn ssrf_guard_refuses_a_name_resolving_to_loopback_without_connecting() {
    let trap = Trap::new();
    let mut c =
        WebhookConfig::new("blog", format!("https://blog.test:{}/hook", trap.port()), secret());
    c.lookup = Arc::new(StaticLookup::one("blog.test", vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]));
    let publisher = WebhookPublisher::new(c).unwrap();
    let outcome = publisher.publish(&delivery()).await;
    let Outcome::Rejected { kind, reason } = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert_eq!(kind, RejectKind::Other);
    assert_eq!(
        reason,
        format!(
            "webhook URL https://blog.test:{}/hook points to 127.0.0.1, a loopback (127.0.0.0/8) \
             address; crieur refuses to connect to it (use a public https address, or set \
             allow_private = true on the channel for an intranet or test receiver)",
            trap.port()
        )
    );
    trap.assert_untouched();
}

#[tokio::test]
async fn allow_private_connects_to_the_address_the_resolver_checked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(header("host", format!("blog.test:{}", server.address().port()).as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = config(
        format!("http://blog.test:{}{HOOK_PATH}", server.address().port()),
        Arc::new(ManualClock::new(now_secs())),
    );
    c.lookup = Arc::new(StaticLookup::one("blog.test", vec![server.address().ip()]));
    let publisher = WebhookPublisher::new(c).unwrap();
    assert!(matches!(publisher.publish(&delivery()).await, Outcome::Published { .. }));
}

#[tokio::test]
async fn dns_failure_is_retry() {
    let mut c = WebhookConfig::new("blog", "https://nowhere.test/hook", secret());
    c.lookup = Arc::new(StaticLookup::default());
    let publisher = WebhookPublisher::new(c).unwrap();
    let outcome = publisher.publish(&delivery()).await;
    let Outcome::Retry { reason, .. } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(reason.contains("unknown host nowhere.test"), "{reason}");
}

#[test]
fn bad_secrets_and_urls_are_refused_clearly() {
    let bad = WebhookPublisher::new(WebhookConfig::new(
        "blog",
        "https://blog.example.com/h",
        SecretString::from("hunter2-plain-password"),
    ))
    .unwrap_err();
    let text = bad.to_string();
    assert!(
        text.starts_with("channel blog: the webhook secret is not usable: it must be \"whsec_\""),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{bad:?}").contains("hunter2"));
    let bad = WebhookPublisher::new(WebhookConfig::new("blog", "not a url", secret())).unwrap_err();
    assert!(matches!(bad, WebhookError::Url { .. }), "{bad}");
    assert!(bad.to_string().contains("\"not a url\""), "{bad}");
}

#[test]
fn debug_output_hides_the_secret() {
    let c = WebhookConfig::new("blog", "https://u:pw@blog.example.com/h?token=t1", secret());
    let shown = format!("{c:?}");
    assert!(shown.contains("https://blog.example.com/h"), "{shown}");
    let p = WebhookPublisher::new(c).unwrap();
    let shown_p = format!("{p:?}");
    for s in [shown, shown_p] {
        assert!(!s.contains(&secret_text()), "{s}");
        assert!(!s.contains(&STANDARD.encode(KEY)), "{s}");
        assert!(!s.contains(std::str::from_utf8(KEY).unwrap()), "{s}");
        assert!(!s.contains("pw@") && !s.contains("t1"), "{s}");
        assert!(s.contains("redacted"), "{s}");
    }
}

#[tokio::test]
async fn media_over_the_events_limit_are_refused_before_any_request() {
    let server = MockServer::start().await;
    strict_mock().respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let publisher = publisher_at(&server, Arc::new(ManualClock::new(now_secs())));
    let big = crieur_core::Attachment {
        path: "media/huge.png".into(),
        alt: "Huge".into(),
        content_type: "image/png".into(),
        width: 1,
        height: 1,
        sha256: String::new(),
        data: Arc::from(vec![0u8; usize::try_from(crate::MAX_MEDIA_BYTES).unwrap() + 1]),
    };
    let d = Delivery { media: vec![big], ..delivery() };
    let outcome = publisher.publish(&d).await;
    let Outcome::Rejected { kind: RejectKind::Invalid, reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("over the 20971520 one webhook event carries"), "{reason}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
