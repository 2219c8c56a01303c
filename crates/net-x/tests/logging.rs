//! No token, secret, authorization code or PKCE verifier reaches the logs, even at TRACE level
//! with reqwest's and hyper's own records, through a refresh, a resend and `crieur auth`.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, process-wide,
//! so one global subscriber here captures everything the process logs.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use base64::Engine as _;
use crieur_core::{Delivery, ManualClock, Network, Outcome, Publisher, TokenVault};
use crieur_net_http::HttpClient;
use crieur_net_oauth::testing::MemoryVault;
use crieur_net_oauth::{OAuthApp, TokenManager, TokenManagerConfig};
use crieur_net_x::{XAuth, XAuthorizeOptions, XPublisher, XPublisherConfig, authorize};
use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn delivery() -> Delivery {
    Delivery {
        id: "log-delivery-1".into(),
        post: "p1".into(),
        channel: "company-x".into(),
        network: Network::X,
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

#[tokio::test]
async fn trace_logs_carry_no_secret() {
    let captured = crieur_net_http::testing::capture_all_logs();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", "Bearer OLDACCESSTOKEN111"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"title": "Unauthorized"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", "Bearer NEWACCESSTOKEN222"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "5"}})))
        .mount(&server)
        .await;
    // The token endpoint: the refresh, and the code exchange. Its answers carry the tokens.
    Mock::given(method("POST"))
        .and(path("/2/oauth2/token"))
        .respond_with(|req: &Request| {
            let body = String::from_utf8_lossy(&req.body).to_string();
            if body.contains("grant_type=refresh_token") {
                ResponseTemplate::new(200).set_body_json(json!({
                    "token_type": "bearer", "expires_in": 7200,
                    "access_token": "NEWACCESSTOKEN222", "refresh_token": "NEWREFRESHTOKEN333"
                }))
            } else {
                ResponseTemplate::new(200).set_body_json(json!({
                    "token_type": "bearer", "expires_in": 7200,
                    "access_token": "AUTHACCESSTOKEN444", "refresh_token": "AUTHREFRESHTOKEN555"
                }))
            }
        })
        .mount(&server)
        .await;

    let vault = Arc::new(MemoryVault::new());
    let dyn_vault: Arc<dyn TokenVault> = vault.clone();
    let mut c = TokenManagerConfig::new(
        "company-x",
        Some(dyn_vault),
        HttpClient::builder().build().unwrap(),
    );
    let mut app = OAuthApp::new("cid", format!("{}/2/oauth2/token", server.uri()));
    app.client_secret = Some(SecretString::from("CLIENTSECRET666"));
    c.app = Some(app);
    c.access_token = Some(SecretString::from("OLDACCESSTOKEN111"));
    c.refresh_token = Some(SecretString::from("OLDREFRESHTOKEN000"));
    let manager = Arc::new(TokenManager::new(c).unwrap());
    let mut pc = XPublisherConfig::new("company-x", XAuth::Managed(manager));
    pc.api_base = server.uri();
    pc.clock = Arc::new(ManualClock::new(Timestamp::now()));
    let publisher = XPublisher::new(pc).unwrap();
    assert!(matches!(publisher.publish(&delivery()).await, Outcome::Published { .. }));

    // crieur auth, with the browser played over a raw socket (no client of the test logs it).
    let mut options = XAuthorizeOptions::new("company-x", "cid");
    options.client_secret = Some(SecretString::from("CLIENTSECRET666"));
    options.token_url = Some(format!("{}/2/oauth2/token", server.uri()));
    options.port = 0;
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let browser = tokio::spawn(async move {
        let url = url::Url::parse(&rx.await.unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let redirect = url::Url::parse(&q["redirect_uri"]).unwrap();
        let mut sock =
            tokio::net::TcpStream::connect(("127.0.0.1", redirect.port().unwrap())).await.unwrap();
        let request = format!(
            "GET /callback?code=AUTHCODE777&state={} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
            q["state"]
        );
        sock.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        sock.read_to_string(&mut answer).await.unwrap();
        (answer, q["state"].clone(), q["code_challenge"].clone())
    });
    authorize(&options, vault.as_ref(), |u| tx.send(u.to_owned()).unwrap()).await.unwrap();
    let (answer, state, challenge) = browser.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let log = captured.text();
    // The capture works: crieur's records and the libraries' are there.
    assert!(log.contains("refreshing the access token"), "{log}");
    assert!(log.contains("X tokens saved"), "{log}");
    assert!(log.contains(" TRACE "), "{log}");
    let basic = base64::engine::general_purpose::STANDARD.encode("cid:CLIENTSECRET666");
    for needle in [
        basic.as_str(),
        "OLDACCESSTOKEN111",
        "OLDREFRESHTOKEN000",
        "NEWACCESSTOKEN222",
        "NEWREFRESHTOKEN333",
        "AUTHACCESSTOKEN444",
        "AUTHREFRESHTOKEN555",
        "CLIENTSECRET666",
        "AUTHCODE777",
        state.as_str(),
        challenge.as_str(),
    ] {
        assert!(!log.contains(needle), "found {needle:?} in the logs:\n{log}");
    }
}
