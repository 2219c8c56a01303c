//! The publisher and the login against real HTTP on loopback: wiremock Graph APIs that accept
//! only exact requests (path with version and Page id, form fields, token) and answer 404 to
//! anything else.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use crieur_core::{
    Delivery, ManualClock, Network, Outcome, Publisher, Reconciled, RejectKind, TokenVault, Tokens,
};
use crieur_net_oauth::AuthError as OAuthError;
use crieur_net_oauth::testing::MemoryVault;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::{
    AuthError, FacebookAuthConfig, FacebookError, FacebookPublisher, FacebookPublisherConfig,
    PageToken, authorize,
};

const PAGE: &str = "104857600123";
const TOKEN: &str = "EAAPageTokenSecret0123456789";
const FEED: &str = "/v25.0/104857600123/feed";
const POSTS: &str = "/v25.0/104857600123/published_posts";

fn now() -> Timestamp {
    "2026-11-03T12:00:00Z".parse().unwrap()
}

fn delivery() -> Delivery {
    Delivery {
        id: "post-7-company-facebook-0".into(),
        post: "lyon-hires".into(),
        channel: "company-facebook".into(),
        network: Network::Facebook,
        text: "Welcome to the six people who joined our Lyon office!\nWhat made you say yes?"
            .into(),
        link: None,
        category: Some("hr".into()),
        article: None,
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: "2026-11-03T11:59:30Z".parse().unwrap(),
        may_have_been_sent: false,
        media: Vec::new(),
        options: Default::default(),
    }
}

fn with_link() -> Delivery {
    Delivery {
        link: Some("https://example.com/careers?utm_source=facebook&utm_medium=social".into()),
        ..delivery()
    }
}

/// Matches a form-encoded body holding exactly these fields (order aside).
struct FormIs(BTreeMap<String, String>);

fn form_is(pairs: &[(&str, &str)]) -> FormIs {
    FormIs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let form_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let mut seen = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(&request.body) {
            if seen.insert(k.into_owned(), v.into_owned()).is_some() {
                return false;
            }
        }
        form_type && seen == self.0
    }
}

/// The query holds exactly these keys.
struct QueryKeysAre(&'static [&'static str]);

impl Match for QueryKeysAre {
    fn matches(&self, request: &Request) -> bool {
        let mut keys: Vec<String> =
            request.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        keys.sort();
        let mut want: Vec<&str> = self.0.to_vec();
        want.sort_unstable();
        keys == want
    }
}

fn feed_mock(d: &Delivery) -> wiremock::MockBuilder {
    let mut form = vec![("message", d.text.as_str())];
    if let Some(link) = &d.link {
        form.push(("link", link.as_str()));
    }
    Mock::given(method("POST"))
        .and(path(FEED))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(QueryKeysAre(&[]))
        .and(form_is(&form))
}

fn config(server: &MockServer, clock: Arc<ManualClock>) -> FacebookPublisherConfig {
    let mut c = FacebookPublisherConfig::new(
        "company-facebook",
        PAGE,
        PageToken::Static(SecretString::from(TOKEN)),
    );
    c.api_base = server.uri();
    c.clock = clock;
    c
}

fn publisher(server: &MockServer) -> FacebookPublisher {
    FacebookPublisher::new(config(server, Arc::new(ManualClock::new(now())))).unwrap()
}

async fn answer(template: ResponseTemplate) -> (Outcome, FacebookPublisher) {
    let server = MockServer::start().await;
    feed_mock(&delivery()).respond_with(template).expect(1).mount(&server).await;
    let p = publisher(&server);
    let outcome = p.publish(&delivery()).await;
    (outcome, p)
}

fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> String {
    let mut e = serde_json::json!({
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AZtrace42x"
    });
    if let Some(s) = subcode {
        e["error_subcode"] = s.into();
    }
    serde_json::json!({ "error": e }).to_string()
}

#[tokio::test]
async fn publishes_without_link() {
    let (outcome, _) =
        answer(ResponseTemplate::new(200).set_body_string(r#"{"id":"104857600123_5550001"}"#))
            .await;
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: "104857600123_5550001".into(),
            url: Some("https://www.facebook.com/104857600123_5550001".into()),
        }
    );
}

#[tokio::test]
async fn publishes_with_link() {
    let server = MockServer::start().await;
    feed_mock(&with_link())
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"104857600123_77"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = publisher(&server).publish(&with_link()).await;
    assert!(
        matches!(&outcome, Outcome::Published { remote_id, .. } if remote_id == "104857600123_77"),
        "{outcome:?}"
    );
    // The mock is strict: the same delivery without its link does not match it.
    assert!(matches!(publisher(&server).publish(&delivery()).await, Outcome::Rejected { .. }));
}

#[tokio::test]
async fn a_wrong_version_page_or_token_finds_no_endpoint() {
    let server = MockServer::start().await;
    feed_mock(&delivery())
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"1_2"}"#))
        .expect(0)
        .mount(&server)
        .await;
    let clock = Arc::new(ManualClock::new(now()));
    let mut c = config(&server, clock.clone());
    c.graph_version = "v24.0".into();
    let outcome = FacebookPublisher::new(c).unwrap().publish(&delivery()).await;
    assert!(matches!(outcome, Outcome::Rejected { kind: RejectKind::Other, .. }), "{outcome:?}");
    let mut c = config(&server, clock.clone());
    c.page_id = "999".into();
    assert!(matches!(
        FacebookPublisher::new(c).unwrap().publish(&delivery()).await,
        Outcome::Rejected { .. }
    ));
    let mut c = config(&server, clock);
    c.token = PageToken::Static(SecretString::from("another-token"));
    assert!(matches!(
        FacebookPublisher::new(c).unwrap().publish(&delivery()).await,
        Outcome::Rejected { .. }
    ));
}

/// What an outcome must be, for the table below.
#[derive(Debug)]
enum Want {
    Unauthorized(&'static str),
    Retry { regain_minutes: Option<i64> },
    Rejected(RejectKind, &'static str),
    Unknown,
}

fn check(case: &str, outcome: &Outcome, want: &Want) {
    match (want, outcome) {
        (Want::Unauthorized(needle), Outcome::Unauthorized { reason }) => {
            assert!(reason.contains(needle), "{case}: {reason}");
            assert!(
                reason.contains("crieur auth company-facebook") || reason.contains("access_token"),
                "{case}: {reason}"
            );
        }
        (Want::Retry { regain_minutes }, Outcome::Retry { not_before, .. }) => {
            let expected =
                regain_minutes.map(|m| now().checked_add(SignedDuration::from_mins(m)).unwrap());
            assert_eq!(*not_before, expected, "{case}");
        }
        (Want::Rejected(kind, needle), Outcome::Rejected { kind: got, reason }) => {
            assert_eq!(got, kind, "{case}: {reason}");
            assert!(reason.contains(needle), "{case}: {reason}");
        }
        (Want::Unknown, Outcome::Unknown { .. }) => {}
        _ => panic!("{case}: wanted {want:?}, got {outcome:?}"),
    }
    if let Outcome::Unauthorized { reason }
    | Outcome::Retry { reason, .. }
    | Outcome::Rejected { reason, .. }
    | Outcome::Unknown { reason } = outcome
    {
        assert!(!reason.contains(TOKEN), "{case}: token in {reason}");
    }
}

#[tokio::test]
async fn every_graph_error_maps_to_its_outcome() {
    let buc_17 = r#"{"104857600123":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":17}]}"#;
    let table: Vec<(&str, u16, String, Option<&str>, Want)> = vec![
        (
            "190/458",
            400,
            graph_error(190, Some(458), "app not installed"),
            None,
            Want::Unauthorized("the app is not installed"),
        ),
        (
            "190/460",
            400,
            graph_error(190, Some(460), "password"),
            None,
            Want::Unauthorized("password changed"),
        ),
        (
            "190/463",
            400,
            graph_error(190, Some(463), "expired"),
            None,
            Want::Unauthorized("the token expired"),
        ),
        (
            "190/467",
            400,
            graph_error(190, Some(467), "invalid"),
            None,
            Want::Unauthorized("the session is invalid"),
        ),
        (
            "190",
            401,
            graph_error(190, None, "Invalid OAuth access token"),
            None,
            Want::Unauthorized("invalid or was revoked"),
        ),
        (
            "102",
            400,
            graph_error(102, None, "session key invalid"),
            None,
            Want::Unauthorized("invalid or was revoked"),
        ),
        (
            "4",
            400,
            graph_error(4, None, "Application request limit reached"),
            None,
            Want::Retry { regain_minutes: None },
        ),
        (
            "17",
            400,
            graph_error(17, None, "User request limit reached"),
            None,
            Want::Retry { regain_minutes: None },
        ),
        (
            "32 with BUC",
            400,
            graph_error(32, None, "Page request limit reached"),
            Some(buc_17),
            Want::Retry { regain_minutes: Some(17) },
        ),
        (
            "613",
            400,
            graph_error(613, None, "Calls to this api have exceeded the rate limit"),
            None,
            Want::Retry { regain_minutes: None },
        ),
        (
            "80001 with BUC",
            400,
            graph_error(80001, None, "too many calls to this Page"),
            Some(buc_17),
            Want::Retry { regain_minutes: Some(17) },
        ),
        (
            "368",
            400,
            graph_error(368, Some(1390008), "blocked"),
            None,
            Want::Rejected(RejectKind::Forbidden, "blocked this post for its policies"),
        ),
        (
            "506",
            400,
            graph_error(506, None, "Duplicate status message"),
            None,
            Want::Rejected(RejectKind::Duplicate, "duplicate"),
        ),
        (
            "10",
            403,
            graph_error(10, None, "Application does not have permission"),
            None,
            Want::Rejected(RejectKind::Forbidden, "pages_manage_posts"),
        ),
        (
            "200",
            403,
            graph_error(200, None, "Permissions error"),
            None,
            Want::Rejected(RejectKind::Forbidden, "pages_read_engagement"),
        ),
        (
            "299",
            403,
            graph_error(299, None, "Permissions error"),
            None,
            Want::Rejected(RejectKind::Forbidden, "pages_manage_posts"),
        ),
        (
            "1",
            500,
            graph_error(1, None, "An unknown error occurred"),
            None,
            Want::Retry { regain_minutes: None },
        ),
        (
            "2",
            503,
            graph_error(2, None, "Service temporarily unavailable"),
            None,
            Want::Retry { regain_minutes: None },
        ),
        (
            "100",
            400,
            graph_error(100, None, "Invalid parameter"),
            None,
            Want::Rejected(RejectKind::Invalid, "parameter"),
        ),
        ("5xx unknown code", 500, graph_error(12345, None, "boom"), None, Want::Unknown),
        ("5xx no body", 502, String::new(), None, Want::Unknown),
        (
            "4xx unknown code",
            400,
            graph_error(12345, None, "odd"),
            None,
            Want::Rejected(RejectKind::Other, "12345"),
        ),
        (
            "4xx unparseable",
            400,
            "<html>bad request</html>".into(),
            None,
            Want::Rejected(RejectKind::Other, "<html>bad request"),
        ),
        ("5xx unparseable", 500, "<html>oops</html>".into(), None, Want::Unknown),
    ];
    for (case, status, body, buc, want) in table {
        let mut template = ResponseTemplate::new(status).set_body_string(body);
        if let Some(buc) = buc {
            template = template.insert_header("x-business-use-case-usage", buc);
        }
        let (outcome, _) = answer(template).await;
        check(case, &outcome, &want);
        if let Outcome::Unauthorized { reason } | Outcome::Rejected { reason, .. } = &outcome
            && !case.contains("unparseable")
        {
            assert!(reason.contains("fbtrace_id AZtrace42x"), "{case}: {reason}");
        }
    }
}

#[tokio::test]
async fn a_vault_token_source_names_the_auth_command() {
    let server = MockServer::start().await;
    let vault = Arc::new(MemoryVault::default());
    let mut c = config(&server, Arc::new(ManualClock::new(now())));
    c.token = PageToken::Vault(vault.clone());
    let p = FacebookPublisher::new(c).unwrap();
    // Nothing stored yet: unauthorized, and nothing sent.
    let Outcome::Unauthorized { reason } = p.publish(&delivery()).await else { panic!() };
    assert!(reason.contains("crieur auth company-facebook"), "{reason}");
    assert!(server.received_requests().await.unwrap().is_empty());
    // Once `crieur auth` stored a token, the same publisher uses it.
    vault
        .save(
            "company-facebook",
            &Tokens { access_token: TOKEN.into(), refresh_token: None, expires_at: None },
        )
        .await
        .unwrap();
    feed_mock(&delivery())
        .respond_with(ResponseTemplate::new(400).set_body_string(graph_error(
            190,
            Some(460),
            "changed",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let Outcome::Unauthorized { reason } = p.publish(&delivery()).await else { panic!() };
    assert!(reason.contains("run `crieur auth company-facebook`"), "{reason}");
    assert!(reason.contains("password changed"), "{reason}");
    // A vault that cannot be read: nothing sent, try later.
    vault.fail_loads(true);
    let outcome = p.publish(&delivery()).await;
    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason.contains("could not be read")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn not_sent_is_retry_and_timeout_after_send_is_unknown() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = FacebookPublisherConfig::new(
        "company-facebook",
        PAGE,
        PageToken::Static(SecretString::from(TOKEN)),
    );
    c.api_base = format!("http://127.0.0.1:{port}");
    let outcome = FacebookPublisher::new(c).unwrap().publish(&delivery()).await;
    assert!(matches!(outcome, Outcome::Retry { not_before: None, .. }), "{outcome:?}");

    let server = MockServer::start().await;
    feed_mock(&delivery())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"id":"1_2"}"#)
                .set_delay(Duration::from_secs(3)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut c = config(&server, Arc::new(ManualClock::new(now())));
    c.http.timeout = Duration::from_millis(300);
    let outcome = FacebookPublisher::new(c).unwrap().publish(&delivery()).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_success_without_a_readable_id_is_unknown() {
    for body in ["", "{}", r#"{"id":""}"#, r#"{"id":"1_2/../x"}"#, "not json"] {
        let (outcome, _) = answer(ResponseTemplate::new(200).set_body_string(body)).await;
        assert!(matches!(outcome, Outcome::Unknown { .. }), "{body:?}: {outcome:?}");
    }
}

#[tokio::test]
async fn usage_above_80_percent_slows_the_channel() {
    let ok = || ResponseTemplate::new(200).set_body_string(r#"{"id":"104857600123_1"}"#);
    let (_, p) =
        answer(ok().insert_header(
            "x-app-usage",
            r#"{"call_count":85,"total_cputime":20,"total_time":30}"#,
        ))
        .await;
    let hold = p.hold_until();
    assert!(hold.is_some_and(|h| h > now()), "{hold:?}");
    assert_eq!(hold, Some(now().checked_add(SignedDuration::from_mins(1)).unwrap()));

    let (_, p) = answer(
        ok().insert_header("x-page-usage", r#"{"call_count":50,"total_cputime":5,"total_time":5}"#),
    )
    .await;
    assert_eq!(p.hold_until(), None);

    // At 96% with Facebook's estimate, the channel waits for it.
    let (_, p) = answer(ok().insert_header(
        "x-business-use-case-usage",
        r#"{"104857600123":[{"type":"pages","call_count":96,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":42}]}"#,
    ))
    .await;
    assert_eq!(p.hold_until(), Some(now().checked_add(SignedDuration::from_mins(42)).unwrap()));
}

#[tokio::test]
async fn a_rate_limit_error_holds_the_channel() {
    let (outcome, p) = answer(ResponseTemplate::new(400).set_body_string(graph_error(
        32,
        None,
        "Page request limit",
    )))
    .await;
    assert!(matches!(outcome, Outcome::Retry { not_before: None, .. }));
    assert_eq!(p.hold_until(), Some(now().checked_add(SignedDuration::from_mins(15)).unwrap()));
}

fn posts_mock() -> wiremock::MockBuilder {
    let since = (delivery().attempt_started_at.as_second() - 60).to_string();
    Mock::given(method("GET"))
        .and(path(POSTS))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(QueryKeysAre(&["fields", "since", "limit"]))
        .and(query_param("fields", "id,message,created_time"))
        .and(query_param("since", since.as_str()))
        .and(query_param("limit", "100"))
}

#[tokio::test]
async fn an_unknown_post_found_by_reconcile_is_not_sent_again() {
    let server = MockServer::start().await;
    feed_mock(&delivery())
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream reset"))
        .expect(1)
        .mount(&server)
        .await;
    // Facebook stores the text with CRLF and a trailing space here and there.
    let stored = delivery().text.replace('\n', " \r\n") + "\n";
    let body = serde_json::json!({
        "data": [
            {"id": "104857600123_900", "message": "Another post", "created_time": "2026-11-03T12:00:01+0000"},
            {"id": "104857600123_901", "created_time": "2026-11-03T12:00:00+0000"},
            {"id": "104857600123_902", "message": stored, "created_time": "2026-11-03T11:59:31+0000"}
        ],
        "paging": {"cursors": {"before": "a", "after": "b"}}
    });
    posts_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let p = publisher(&server);
    let first = p.publish(&delivery()).await;
    assert!(matches!(first, Outcome::Unknown { .. }), "{first:?}");
    let again = Delivery { attempt: 2, may_have_been_sent: true, ..delivery() };
    assert_eq!(
        p.reconcile(&again).await,
        Reconciled::Found {
            remote_id: "104857600123_902".into(),
            url: Some("https://www.facebook.com/104857600123_902".into()),
        }
    );
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn reconcile_not_found_and_cannot_tell() {
    let server = MockServer::start().await;
    posts_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "data": [{"id": "104857600123_900", "message": "Welcome to the six people"}]
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let p = publisher(&server);
    assert_eq!(p.reconcile(&delivery()).await, Reconciled::NotFound);

    // More posts than one page, none matching: cannot tell.
    server.reset().await;
    posts_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "data": [], "paging": {"next": "https://graph.facebook.com/next"}
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    assert!(matches!(p.reconcile(&delivery()).await, Reconciled::CannotTell { .. }));

    // Facebook refusing the read: cannot tell, with its trace id.
    server.reset().await;
    posts_mock()
        .respond_with(ResponseTemplate::new(400).set_body_string(graph_error(
            190,
            Some(463),
            "expired",
        )))
        .mount(&server)
        .await;
    let Reconciled::CannotTell { reason } = p.reconcile(&delivery()).await else { panic!() };
    assert!(reason.contains("AZtrace42x"), "{reason}");

    // A post without text cannot be recognized: cannot tell, without asking.
    let linkonly =
        Delivery { text: " \n".into(), link: Some("https://example.com".into()), ..delivery() };
    assert!(matches!(p.reconcile(&linkonly).await, Reconciled::CannotTell { .. }));

    // Garbage: cannot tell.
    server.reset().await;
    posts_mock()
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&server)
        .await;
    assert!(matches!(p.reconcile(&delivery()).await, Reconciled::CannotTell { .. }));
}

#[tokio::test]
async fn thread_items_are_refused_without_a_request() {
    let server = MockServer::start().await;
    let p = publisher(&server);
    let item = Delivery {
        item: 1,
        reply_to: Some("104857600123_5550001".into()),
        text: "2/ What they will work on".into(),
        ..delivery()
    };
    let Outcome::Rejected { kind, reason } = p.publish(&item).await else { panic!() };
    assert_eq!(kind, RejectKind::Invalid);
    assert!(reason.contains("no threads"), "{reason}");
    assert_eq!(p.reconcile(&item).await, Reconciled::NotFound);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn bad_channel_keys_are_refused_clearly() {
    let make = |f: &dyn Fn(&mut FacebookPublisherConfig)| {
        let mut c = FacebookPublisherConfig::new(
            "company-facebook",
            PAGE,
            PageToken::Static(SecretString::from(TOKEN)),
        );
        f(&mut c);
        FacebookPublisher::new(c).err().unwrap()
    };
    let e = make(&|c| c.page_id = "acme/../feed".into());
    assert!(matches!(e, FacebookError::PageId { .. }) && e.to_string().contains("numeric"), "{e}");
    let e = make(&|c| c.graph_version = "25".into());
    assert!(matches!(e, FacebookError::Version { .. }), "{e}");
    let e = make(&|c| c.api_base = "ftp://graph.example".into());
    assert!(matches!(e, FacebookError::ApiBase { .. }), "{e}");
    let e = make(&|c| c.api_base = "https://graph.example/?access_token=x".into());
    assert!(matches!(e, FacebookError::ApiBase { .. }), "{e}");
    let e = make(&|c| c.token = PageToken::Static(SecretString::from("EAA\nsecret-part")));
    assert!(matches!(e, FacebookError::Token { .. }), "{e}");
    assert!(!e.to_string().contains("secret-part"), "{e}");
    let e = make(&|c| c.token = PageToken::Static(SecretString::from("  ")));
    assert!(matches!(e, FacebookError::Token { .. }), "{e}");
    // A trailing slash on api_base is fine.
    let mut c =
        FacebookPublisherConfig::new("c", PAGE, PageToken::Static(SecretString::from(TOKEN)));
    c.api_base = "https://graph.example.com/".into();
    assert!(FacebookPublisher::new(c).is_ok());
}

#[test]
fn debug_output_hides_tokens_and_secrets() {
    let c = FacebookPublisherConfig::new(
        "company-facebook",
        PAGE,
        PageToken::Static(SecretString::from(TOKEN)),
    );
    let shown = format!("{c:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    let p = FacebookPublisher::new(c).unwrap();
    let shown = format!("{p:?}");
    assert!(!shown.contains(TOKEN) && shown.contains(PAGE), "{shown}");
    let a = FacebookAuthConfig::new("c", "1234", SecretString::from("app-secret-xyz"), PAGE);
    let shown = format!("{a:?}");
    assert!(!shown.contains("app-secret-xyz") && shown.contains("1234"), "{shown}");
}

const APP_ID: &str = "987654321";
const APP_SECRET: &str = "app-secret-0f9e8d";
const CODE: &str = "AQDcode-from-browser";
const SHORT: &str = "EAAshort-lived-user";
const LONG: &str = "EAAlong-lived-user";
const PAGE_TOKEN: &str = "EAApage-token-forever";

/// Mounts the three Graph endpoints of the login, each accepting only its exact request.
async fn mount_auth(server: &MockServer, redirect_uri: &str) {
    Mock::given(method("POST"))
        .and(path("/v25.0/oauth/access_token"))
        .and(QueryKeysAre(&[]))
        .and(form_is(&[
            ("grant_type", "authorization_code"),
            ("client_id", APP_ID),
            ("client_secret", APP_SECRET),
            ("redirect_uri", redirect_uri),
            ("code", CODE),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": SHORT, "token_type": "bearer", "expires_in": 5183944
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v25.0/oauth/access_token"))
        .and(QueryKeysAre(&[]))
        .and(form_is(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", APP_ID),
            ("client_secret", APP_SECRET),
            ("fb_exchange_token", SHORT),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": LONG, "token_type": "bearer", "expires_in": 5183944
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{PAGE}")))
        .and(QueryKeysAre(&["fields"]))
        .and(query_param("fields", "access_token,name"))
        .and(header("authorization", format!("Bearer {LONG}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": PAGE_TOKEN, "name": "Acme", "id": PAGE
        })))
        .expect(1)
        .mount(server)
        .await;
}

fn auth_config(server: &MockServer) -> FacebookAuthConfig {
    let mut c =
        FacebookAuthConfig::new("company-facebook", APP_ID, SecretString::from(APP_SECRET), PAGE);
    c.redirect_port = 0;
    c.api_base = server.uri();
    c.dialog_base = "https://www.facebook.test".into();
    c.login_wait = Duration::from_secs(10);
    c
}

/// Plays the browser: waits for the dialog URL, checks it, and comes back to the loopback with
/// `code` and the state it read (or `state_override`).
async fn play_browser(
    url_rx: tokio::sync::oneshot::Receiver<String>,
    server: Option<&MockServer>,
    state_override: Option<&str>,
) {
    let dialog = url::Url::parse(&url_rx.await.unwrap()).unwrap();
    assert_eq!(dialog.scheme(), "https");
    assert_eq!(dialog.host_str(), Some("www.facebook.test"));
    assert_eq!(dialog.path(), "/v25.0/dialog/oauth");
    let q: BTreeMap<String, String> = dialog.query_pairs().into_owned().collect();
    assert_eq!(q.get("client_id").map(String::as_str), Some(APP_ID));
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(
        q.get("scope").map(String::as_str),
        Some("pages_manage_posts,pages_read_engagement,pages_show_list")
    );
    assert!(!dialog.as_str().contains(APP_SECRET));
    let redirect = q["redirect_uri"].clone();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
    if let Some(server) = server {
        mount_auth(server, &redirect).await;
    }
    let state = state_override.unwrap_or(&q["state"]).to_owned();
    let mut back = url::Url::parse(&redirect).unwrap();
    back.query_pairs_mut().append_pair("code", CODE).append_pair("state", &state);
    let page = crieur_net_http::reqwest::get(back).await.unwrap();
    let status = page.status().as_u16();
    assert!(status == 200 || status == 400, "{status}");
}

#[tokio::test]
async fn the_login_ends_with_the_page_token_in_the_vault() {
    let server = MockServer::start().await;
    let vault = MemoryVault::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let config = auth_config(&server);
    let (result, ()) = tokio::join!(
        authorize(&config, &vault, move |url| tx.send(url.to_owned()).unwrap()),
        play_browser(rx, Some(&server), None),
    );
    let page = result.unwrap();
    assert_eq!(page.page_id, PAGE);
    assert_eq!(page.name.as_deref(), Some("Acme"));
    assert_eq!(
        vault.load("company-facebook").await.unwrap(),
        Some(Tokens { access_token: PAGE_TOKEN.into(), refresh_token: None, expires_at: None })
    );
    assert_eq!(vault.saves().len(), 1);
}

#[tokio::test]
async fn a_forged_state_stops_the_login_before_any_exchange() {
    let server = MockServer::start().await;
    let vault = MemoryVault::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let config = auth_config(&server);
    let (result, ()) = tokio::join!(
        authorize(&config, &vault, move |url| tx.send(url.to_owned()).unwrap()),
        play_browser(rx, None, Some("forged")),
    );
    let Err(AuthError::Login(OAuthError::Flow { reason, .. })) = result else {
        panic!("{result:?}")
    };
    assert!(reason.contains("state"), "{reason}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(vault.saves().len(), 0);
}

#[tokio::test]
async fn a_user_who_cannot_manage_the_page_gets_told_so() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v25.0/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": SHORT
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{PAGE}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "Acme", "id": PAGE})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let vault = MemoryVault::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let config = auth_config(&server);
    let (result, ()) = tokio::join!(
        authorize(&config, &vault, move |url| tx.send(url.to_owned()).unwrap()),
        play_browser(rx, None, None),
    );
    let err = result.unwrap_err();
    assert!(matches!(err, AuthError::NotPageAdmin { .. }), "{err}");
    assert!(err.to_string().contains("manages this Page"), "{err}");
    assert_eq!(vault.saves().len(), 0);
}

#[tokio::test]
async fn a_refused_code_names_facebooks_reason_without_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v25.0/oauth/access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_string(graph_error(
            100,
            Some(36009),
            "This authorization code has been used.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let vault = MemoryVault::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let config = auth_config(&server);
    let (result, ()) = tokio::join!(
        authorize(&config, &vault, move |url| tx.send(url.to_owned()).unwrap()),
        play_browser(rx, None, None),
    );
    let err = result.unwrap_err();
    assert!(matches!(err, AuthError::Login(OAuthError::Flow { .. })), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("did not accept the authorization code"), "{err}");
    assert_eq!(vault.saves().len(), 0);
    for secret in [APP_SECRET, CODE] {
        assert!(!err.contains(secret), "{err}");
    }
}

#[tokio::test]
async fn bad_auth_keys_are_refused_before_listening() {
    let server = MockServer::start().await;
    let vault = MemoryVault::default();
    let mut c = auth_config(&server);
    c.app_id = "my-app".into();
    let err = authorize(&c, &vault, |_| panic!("no URL expected")).await.unwrap_err();
    assert!(err.to_string().contains("App ID"), "{err}");
    let mut c = auth_config(&server);
    c.app_secret = SecretString::from("");
    assert!(authorize(&c, &vault, |_| panic!()).await.is_err());
    let mut c = auth_config(&server);
    c.page_id = "acme".into();
    assert!(matches!(
        authorize(&c, &vault, |_| panic!()).await,
        Err(AuthError::Config(FacebookError::PageId { .. }))
    ));
}
