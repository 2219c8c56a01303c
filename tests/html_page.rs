//! The HTML calendar in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! The page is served by a tiny loopback server, and Chromium resolves every host name to that
//! server (`--host-resolver-rules`), so any request the page made, to any host, would be counted:
//! the test asserts the page itself is the only request a page made (the browser's own background
//! requests carry no Fetch metadata and are told apart). A screenshot is kept under the target
//! folder (`tmp/preview-week.png`).

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common;
use crate::common::http::{Response, Server};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Serves `page` to every request and records each request line.
async fn serve(page: String) -> (Server, Arc<Mutex<Vec<(bool, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = Server::start(move |mut conn| {
        let page = page.clone();
        let log = log.clone();
        async move {
            let Ok(head) = conn.read_request(usize::MAX).await else { return };
            let host = head.header("host").unwrap_or("?").to_owned();
            // Every request a page makes for its resources names it in `Referer` (the default
            // policy sends at least the origin, and the page sets no other policy); the
            // navigation itself and the browser's own background requests (network time,
            // updates) carry none.
            let from_page = head.header("referer").is_some();
            log.lock().unwrap().push((from_page, format!("{host} {}", head.line)));
            let page =
                Response::typed(200, "text/html; charset=utf-8", page).with("connection", "close");
            let _ = conn.respond(&page).await;
        }
    })
    .await;
    (server, seen)
}

async fn wd(client: &reqwest::Client, method: reqwest::Method, url: String, body: Value) -> Value {
    let request = client.request(method.clone(), &url);
    let request = if method == reqwest::Method::GET { request } else { request.json(&body) };
    let resp = request.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {v}");
    v["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_filled_slot_is_visible_and_no_request_leaves_the_page() {
    let (chromium, chromedriver) = ("/usr/bin/chromium", "chromedriver");
    if Command::new(chromedriver).arg("--version").output().is_err() {
        panic!(
            "chromedriver is missing: install Debian's chromium and chromium-driver packages (.ci/run does)"
        );
    }
    let config = common::example_config();
    let config = config.to_str().unwrap();
    let json =
        common::run(&["preview", "--config", config, "--now", common::NOW, "--format", "json"]);
    assert!(json.status.success(), "{}", common::stderr(&json));
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    let filled: Vec<&Value> =
        doc["entries"].as_array().unwrap().iter().filter(|e| !e["post"].is_null()).collect();
    assert!(filled.len() >= 5, "the example week has posts");

    let html =
        common::run(&["preview", "--config", config, "--now", common::NOW, "--format", "html"]);
    assert!(html.status.success(), "{}", common::stderr(&html));
    let (page_server, seen) = serve(common::stdout(&html)).await;
    let page_port = page_server.addr().port();

    let port = free_port();
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    crieur_net_http::install_crypto_provider();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/status")).send().await
            && r.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "chromedriver did not start");

    let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": chromium,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--window-size=1800,1400",
                 format!("--host-resolver-rules=MAP * 127.0.0.1:{page_port}")]
    }}}});
    let session = wd(&client, reqwest::Method::POST, format!("{base}/session"), caps).await;
    let sid = session["sessionId"].as_str().unwrap().to_owned();
    let s = format!("{base}/session/{sid}");
    wd(
        &client,
        reqwest::Method::POST,
        format!("{s}/url"),
        json!({"url": "http://calendar.crieur.test/"}),
    )
    .await;

    let script = r#"
        return Array.from(document.querySelectorAll('article.slot.filled')).map(el => {
            const r = el.getBoundingClientRect();
            const st = getComputedStyle(el);
            return { channel: el.dataset.channel, at: el.dataset.at, post: el.dataset.post,
                     visible: r.width > 0 && r.height > 0 && st.visibility === 'visible' && st.display !== 'none',
                     text: el.querySelector('pre.text').innerText,
                     payload: el.querySelector('pre.payload')?.textContent ?? null,
                     title: document.querySelector('h1').innerText };
        });"#;
    let slots = wd(
        &client,
        reqwest::Method::POST,
        format!("{s}/execute/sync"),
        json!({"script": script, "args": []}),
    )
    .await;
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), filled.len(), "one card per filled slot");
    for (card, entry) in slots.iter().zip(&filled) {
        assert_eq!(card["visible"], true, "{card}");
        assert_eq!(card["post"], entry["post"]);
        assert_eq!(card["at"], entry["at"]);
        let exact = entry["text"].as_str().unwrap().trim();
        let shown = card["text"].as_str().unwrap().trim();
        if entry["network"] == "linkedin" {
            // Reviewers read LinkedIn's little text as LinkedIn shows it; the exact payload is one
            // click away.
            assert_eq!(card["payload"].as_str().unwrap().trim(), exact, "{card}");
            assert_eq!(shown, crieur_policy::display_little_text(exact), "{card}");
            assert!(!shown.contains("{hashtag|") && !shown.contains("\\("), "{shown}");
        } else {
            assert_eq!(shown, exact);
            assert_eq!(card["payload"], Value::Null, "{card}");
        }
        assert_eq!(card["title"], "Calendar, 30 November – 6 December 2026", "{card}");
    }

    // Each media entry of the JSON shows as a thumbnail, decoded by the browser, with its alt
    // text as the `alt` attribute and on hover.
    let script = r#"
        return Array.from(document.querySelectorAll('article.slot.filled figure.media img')).map(img => ({
            post: img.closest('article').dataset.post, channel: img.closest('article').dataset.channel,
            alt: img.alt, title: img.title, data: img.src.startsWith('data:image/'),
            loaded: img.complete && img.naturalWidth > 0, shown: img.getBoundingClientRect().width > 0 }));"#;
    let thumbs = wd(
        &client,
        reqwest::Method::POST,
        format!("{s}/execute/sync"),
        json!({"script": script, "args": []}),
    )
    .await;
    let thumbs = thumbs.as_array().unwrap();
    let media: Vec<(&Value, &Value)> = filled
        .iter()
        .flat_map(|e| e["media"].as_array().unwrap().iter().map(move |m| (*e, m)))
        .collect();
    assert!(!media.is_empty(), "the example week has a post with a picture");
    assert_eq!(thumbs.len(), media.len(), "{thumbs:?}");
    for (thumb, (entry, m)) in thumbs.iter().zip(&media) {
        assert_eq!((&thumb["post"], &thumb["channel"]), (&entry["post"], &entry["channel"]));
        assert!(m["alt"].as_str().is_some_and(|a| !a.is_empty()), "{m}");
        assert_eq!((&thumb["alt"], &thumb["title"]), (&m["alt"], &m["alt"]), "{thumb}");
        assert_eq!(
            (&thumb["data"], &thumb["loaded"], &thumb["shown"]),
            (&json!(true), &json!(true), &json!(true)),
            "{thumb}"
        );
    }

    let shot = wd(&client, reqwest::Method::GET, format!("{s}/screenshot"), Value::Null).await;
    let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap()).unwrap();
    // Cargo's scratch folder for integration tests, wherever the target folder is.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("preview-week.png");
    std::fs::write(&out, png).unwrap();
    let _ = client.delete(&s).send().await;

    let requests = seen.lock().unwrap().clone();
    let from_page: Vec<&String> = requests.iter().filter(|(p, _)| *p).map(|(_, r)| r).collect();
    assert!(from_page.is_empty(), "the page requested nothing: {from_page:?}");
    let navigations =
        requests.iter().filter(|(_, r)| r.starts_with("calendar.crieur.test ")).count();
    assert_eq!(navigations, 1, "the page itself, once: {requests:?}");
}
