//! The HTML calendar in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! Two pages: `preview --format html` of the example, and the daemon's live week (`GET /` of its
//! endpoint, with a post published and a thumbnail). They are served by a tiny loopback server,
//! and Chromium resolves every host name to that server (`--host-resolver-rules`), so any request
//! a page made, to any host, would be counted: the test asserts the pages themselves are the only
//! requests made (the browser's own background requests carry no `Referer` and are told apart).
//! Each page is checked with axe-core (injected through WebDriver, read from `.ci/axe`, where
//! `.ci/run` installs it) in the light and the dark scheme: no violation of serious or critical
//! impact. Screenshots are kept under the target folder (`tmp/preview-week.png`,
//! `tmp/preview-week-dark.png`, `tmp/live-week.png`).

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

/// Serves `/` (the preview page) and `/live` (the daemon's page) and records each request line.
async fn serve(preview: String, live: String) -> (Server, Arc<Mutex<Vec<(bool, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = Server::start(move |mut conn| {
        let (preview, live) = (preview.clone(), live.clone());
        let log = log.clone();
        async move {
            let Ok(head) = conn.read_request(usize::MAX).await else { return };
            let page = if head.line.starts_with("GET /live ") { live } else { preview };
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

/// The axe-core release the page test checks with.
const AXE: &str = "axe-core@4.14.1";

/// axe-core's source, from the git-ignored `.ci/axe`; installed there with npm when missing (the
/// registry is the only place it comes from; a failed install fails the test, naming the command).
fn axe_source() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(".ci/axe/node_modules/axe-core/axe.min.js");
    if !path.exists() {
        let args = ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund"];
        let status = std::process::Command::new("npm")
            .args(args)
            .args(["--prefix", ".ci/axe", AXE])
            .current_dir(root)
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "installing {AXE} failed ({status:?}): run `npm install --no-save --no-package-lock \
             --prefix .ci/axe {AXE}` (npm is Debian's package npm)"
        );
    }
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("axe-core is missing after its install ({}: {e})", path.display())
    })
}

/// Runs axe-core on the session's current page; returns its serious and critical violations
/// (rule, impact, the first offending element), and how many rules passed.
async fn axe(client: &reqwest::Client, s: &str, source: &str) -> (Vec<String>, usize) {
    wd(
        client,
        reqwest::Method::POST,
        format!("{s}/execute/sync"),
        json!({"script": source, "args": []}),
    )
    .await;
    let run = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] }).then(r => done({
            passes: r.passes.length,
            violations: r.violations.map(v => ({ id: v.id, impact: v.impact,
                node: v.nodes.length ? v.nodes[0].html.slice(0, 160) : '' })) }),
            e => done({ error: String(e) }));"#;
    let result = wd(
        client,
        reqwest::Method::POST,
        format!("{s}/execute/async"),
        json!({"script": run, "args": []}),
    )
    .await;
    assert!(result.get("error").is_none(), "axe-core failed: {result}");
    let bad = result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .map(|v| v.to_string())
        .collect();
    (bad, result["passes"].as_u64().unwrap() as usize)
}

async fn screenshot(client: &reqwest::Client, s: &str, name: &str) {
    let shot = wd(client, reqwest::Method::GET, format!("{s}/screenshot"), Value::Null).await;
    let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap()).unwrap();
    // Cargo's scratch folder for integration tests, wherever the target folder is.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&out, png).unwrap();
}

async fn execute(client: &reqwest::Client, s: &str, script: &str) -> Value {
    wd(
        client,
        reqwest::Method::POST,
        format!("{s}/execute/sync"),
        json!({"script": script, "args": []}),
    )
    .await
}

/// The thumbnails on the current page: post, channel, alt, title, whether inline, decoded and
/// shown.
const THUMBS: &str = r#"
    return Array.from(document.querySelectorAll('article.slot.filled figure.media img')).map(img => ({
        post: img.closest('article').dataset.post, channel: img.closest('article').dataset.channel,
        alt: img.alt, title: img.title, data: img.src.startsWith('data:image/'),
        loaded: img.complete && img.naturalWidth > 0, shown: img.getBoundingClientRect().width > 0,
        small: img.naturalWidth <= 240 && img.naturalHeight <= 160 }));"#;

/// The daemon's live week: a webhook channel, a post with the example's picture published a few
/// seconds after the start, one queued; returns the HTML of its `GET /` and the published URL.
async fn live_page() -> (String, String) {
    use crate::daemon::receiver::Receiver;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let rx = Receiver::start(secret).await;
    let port = free_port();
    let config = format!(
        "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://crieur.db\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [channels.blog]\nnetwork = \"webhook\"\nurl = \"{}\"\nsecret = \"env:HOOK_SECRET\"\n\
         allow_private = true\ncadence = [\"Mon-Fri 10:00\"]\n",
        rx.url("hooks/blog")
    );
    let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 2).unwrap();
    let posts = format!(
        "[[post]]\nid = \"welcome\"\nchannels = [\"blog\"]\ntext = \"Welcome, team! #Hiring\"\n\
         at = \"{at}\"\nmedia = [{{ path = \"media/card.jpg\", alt = \"A welcome card in warm colours\" }}]\n\n\
         [[post]]\nid = \"later\"\nchannels = [\"blog\"]\ntext = \"More next time, with @acme\"\n\
         media = [{{ path = \"media/card.jpg\", alt = \"The same card, again\" }}]\n"
    );
    let dir = common::project(&[("crieur.toml", &config), ("posts/q.toml", &posts)]);
    let card = std::fs::read(common::root().join("config/posts/media/welcome-card.jpg")).unwrap();
    common::write(dir.path(), "posts/media/card.jpg", &card);
    let mut cmd = common::crieur();
    cmd.arg("--config")
        .arg(dir.path().join("crieur.toml"))
        .arg("run")
        .env("HOOK_SECRET", secret)
        .env("RUST_LOG", "info");
    let mut daemon =
        crate::common::daemon::Daemon::spawn(cmd, dir.path().join("daemon.log"), |_| {});
    daemon.ready(Duration::from_secs(30)).await;
    crieur_net_http::install_crypto_provider();
    let http = reqwest::Client::new();
    let url = rx.post_url("welcome", "blog");
    let mut page = String::new();
    for _ in 0..150 {
        let r = http.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        page = r.text().await.unwrap();
        if page.contains("data-state=\"published\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("data-state=\"published\""), "published in time: {}", daemon.log());
    assert!(daemon.terminate(Duration::from_secs(30)).await.is_some_and(|s| s.success()));
    (page, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_filled_slot_is_visible_and_no_request_leaves_the_page() {
    let (chromium, chromedriver) = ("/usr/bin/chromium", "chromedriver");
    if Command::new(chromedriver).arg("--version").output().is_err() {
        panic!(
            "chromedriver is missing: install Debian's chromium and chromium-driver packages (.ci/run does)"
        );
    }
    let axe_js = axe_source();
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
    let (live, published_url) = live_page().await;
    let (page_server, seen) = serve(common::stdout(&html), live).await;
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

    let session = |dark: bool| {
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--window-size=1800,1400".into(),
            format!("--host-resolver-rules=MAP * 127.0.0.1:{page_port}"),
        ];
        if dark {
            args.push("--blink-settings=preferredColorScheme=0".into());
            args.push("--force-dark-mode".into());
        }
        json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": chromium, "args": args}}}})
    };
    let session_id =
        wd(&client, reqwest::Method::POST, format!("{base}/session"), session(false)).await;
    let sid = session_id["sessionId"].as_str().unwrap().to_owned();
    let s = format!("{base}/session/{sid}");
    let visit = |s: String, path: &'static str| {
        let client = client.clone();
        async move {
            let url = format!("http://calendar.crieur.test{path}");
            wd(&client, reqwest::Method::POST, format!("{s}/url"), json!({ "url": url })).await;
        }
    };
    visit(s.clone(), "/").await;

    let script = r#"
        return Array.from(document.querySelectorAll('article.slot.filled')).map(el => {
            const r = el.getBoundingClientRect();
            const st = getComputedStyle(el);
            return { channel: el.dataset.channel, at: el.dataset.at, post: el.dataset.post,
                     visible: r.width > 0 && r.height > 0 && st.visibility === 'visible' && st.display !== 'none',
                     text: el.querySelector('pre.text').innerText,
                     payload: el.querySelector('pre.payload')?.textContent ?? null,
                     hour: el.closest('.hour').dataset.hour,
                     title: document.querySelector('h1').innerText };
        });"#;
    let slots = execute(&client, &s, script).await;
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), filled.len(), "one card per filled slot");
    for (card, entry) in slots.iter().zip(&filled) {
        assert_eq!(card["visible"], true, "{card}");
        assert_eq!(card["post"], entry["post"]);
        assert_eq!(card["at"], entry["at"]);
        // On the hour axis, in the config's zone (Paris), whatever the channel's zone.
        let at: jiff::Timestamp = entry["at"].as_str().unwrap().parse().unwrap();
        let hour = at.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap()).hour();
        assert_eq!(card["hour"].as_str().unwrap(), format!("{hour:02}"), "{card}");
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
    let thumbs = execute(&client, &s, THUMBS).await;
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
            (&thumb["data"], &thumb["loaded"], &thumb["shown"], &thumb["small"]),
            (&json!(true), &json!(true), &json!(true), &json!(true)),
            "{thumb}"
        );
    }
    let (bad, passes) = axe(&client, &s, &axe_js).await;
    assert!(bad.is_empty(), "axe-core, preview page: {bad:#?}");
    assert!(passes > 10, "axe-core ran its rules ({passes} passed)");
    println!(
        "axe-core {passes} rules passed on the preview page, no serious or critical violation"
    );
    screenshot(&client, &s, "preview-week.png").await;

    // The daemon's live week: the state of each post, the link to what went out, thumbnails.
    visit(s.clone(), "/live").await;
    let states = execute(
        &client,
        &s,
        r#"return Array.from(document.querySelectorAll('article.slot.filled')).map(el => ({
            post: el.dataset.post, state: el.dataset.state,
            text: el.querySelector('p.state').innerText,
            href: el.querySelector('p.state a')?.href ?? null }));"#,
    )
    .await;
    let states = states.as_array().unwrap();
    let welcome = states.iter().find(|c| c["post"] == "welcome").expect("the published post");
    assert_eq!(welcome["state"], "published", "{welcome}");
    assert_eq!(welcome["href"], published_url, "{welcome}");
    assert!(states.iter().any(|c| c["post"] == "later"), "the queued post: {states:?}");
    let thumbs = execute(&client, &s, THUMBS).await;
    let welcome = thumbs.as_array().unwrap().iter().find(|t| t["post"] == "welcome").unwrap();
    assert_eq!(welcome["alt"], "A welcome card in warm colours", "{welcome}");
    assert_eq!(welcome["title"], welcome["alt"]);
    assert_eq!((&welcome["loaded"], &welcome["shown"]), (&json!(true), &json!(true)));
    let (bad, passes) = axe(&client, &s, &axe_js).await;
    assert!(bad.is_empty(), "axe-core, live page: {bad:#?}");
    println!("axe-core {passes} rules passed on the live page, no serious or critical violation");
    screenshot(&client, &s, "live-week.png").await;
    let _ = client.delete(&s).send().await;

    // The dark scheme: the same checks of contrast and the rest.
    let dark = wd(&client, reqwest::Method::POST, format!("{base}/session"), session(true)).await;
    let d = format!("{base}/session/{}", dark["sessionId"].as_str().unwrap());
    for path in ["/", "/live"] {
        visit(d.clone(), path).await;
        let is_dark =
            execute(&client, &d, "return matchMedia('(prefers-color-scheme: dark)').matches;")
                .await;
        assert_eq!(is_dark, json!(true), "the browser prefers the dark scheme");
        let (bad, _) = axe(&client, &d, &axe_js).await;
        assert!(bad.is_empty(), "axe-core, {path} in the dark: {bad:#?}");
    }
    visit(d.clone(), "/").await;
    screenshot(&client, &d, "preview-week-dark.png").await;
    let _ = client.delete(&d).send().await;

    let requests = seen.lock().unwrap().clone();
    let from_page: Vec<&String> = requests.iter().filter(|(p, _)| *p).map(|(_, r)| r).collect();
    assert!(from_page.is_empty(), "the pages requested nothing: {from_page:?}");
    let navigations =
        requests.iter().filter(|(_, r)| r.starts_with("calendar.crieur.test ")).count();
    assert_eq!(navigations, 5, "the pages themselves, once per visit: {requests:?}");
}
