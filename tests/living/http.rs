//! The daemon's HTTP endpoint over real HTTP, through the real binary: `/healthz`, `/metrics`
//! (values matching `crieur status`, the lateness histogram), `/calendar.ics` and `/` (each post
//! with its state, what went out with its URL), 405 for other methods, 401 without the bearer
//! token, and the refusal to listen publicly without a token.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common::daemon::Daemon;
use crate::common::{crieur, project, stderr};
use crate::daemon::receiver::{Answer, Receiver};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "metrics-reader-7f3a9c";

/// A free port on loopback (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A project with one blog channel, three posts queued in the coming weeks, and `http` as its
/// `[http]` table.
fn world(http: &str) -> tempfile::TempDir {
    project(&[
        (
            "crieur.toml",
            &format!(
                "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://crieur.db\"\n\n\
                 [channels.blog]\nnetwork = \"webhook\"\nurl = \"https://blog.example.com/hook\"\n\
                 secret = \"env:HOOK_SECRET\"\ncadence = [\"Mon 09:00\"]\n\n[http]\n{http}"
            ),
        ),
        (
            "posts/q.toml",
            "[[post]]\nid = \"one\"\nchannels = [\"blog\"]\ntext = \"One\"\n\n\
             [[post]]\nid = \"two\"\nchannels = [\"blog\"]\ntext = \"Two\"\n\n\
             [[post]]\nid = \"three\"\nchannels = [\"blog\"]\ntext = \"Three\"\n",
        ),
    ])
}

async fn spawn(dir: &Path, extra: &[(&str, &str)]) -> Daemon {
    let mut cmd = crieur();
    cmd.arg("--config")
        .arg(dir.join("crieur.toml"))
        .arg("run")
        .env("HOOK_SECRET", SECRET)
        .env("RUST_LOG", "info");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut daemon = Daemon::spawn(cmd, dir.join("daemon.log"), |_| {});
    daemon.ready(Duration::from_secs(30)).await;
    daemon
}

/// The samples of an OpenMetrics text: `name{labels}` -> value; also checks its shape (every
/// sample's family has `# TYPE`, the text ends with `# EOF`).
fn samples(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut typed = Vec::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap();
        let family = name.split('{').next().unwrap();
        assert!(typed.iter().any(|t| family.starts_with(t.as_str())), "untyped {line}");
        out.insert(name.to_owned(), value.parse().unwrap());
    }
    out
}

#[tokio::test]
async fn the_endpoint_serves_health_and_metrics_that_match_status_and_nothing_else() {
    let port = free_port();
    let dir = world(&format!("listen = \"127.0.0.1:{port}\"\n"));
    let mut daemon = spawn(dir.path(), &[]).await;
    let base = format!("http://127.0.0.1:{port}");
    crieur_net_http::install_crypto_provider();
    let http = reqwest::Client::new();

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    let all = samples(&text);
    let status = crieur()
        .args(["status", "--format", "json", "--config"])
        .arg(dir.path().join("crieur.toml"))
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let queued = status["posts"].as_array().unwrap().iter().filter(|p| p["state"] == "queued");
    assert_eq!(queued.count(), 3, "{status}");
    assert_eq!(all[r#"crieur_deliveries{channel="blog",state="queued"}"#], 3.0, "{text}");
    assert_eq!(all[r#"crieur_deliveries{channel="blog",state="published"}"#], 0.0, "{text}");
    let synced = all["crieur_last_sync_timestamp_seconds"];
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!(synced > now - 60.0 && synced <= now + 1.0, "{synced} vs {now}");
    assert!(text.contains("# TYPE crieur_publish_duration_seconds histogram"), "{text}");

    for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let r = http.request(method.clone(), format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 405, "{method}");
    }
    assert_eq!(http.get(format!("{base}/nothing")).send().await.unwrap().status(), 404);
    assert!(daemon.terminate(Duration::from_secs(30)).await.is_some_and(|s| s.success()));
}

#[tokio::test]
async fn with_a_token_every_request_needs_the_bearer() {
    let port = free_port();
    let dir = world(&format!("listen = \"127.0.0.1:{port}\"\ntoken = \"env:CRIEUR_HTTP_TOKEN\"\n"));
    let mut daemon = spawn(dir.path(), &[("CRIEUR_HTTP_TOKEN", TOKEN)]).await;
    let url = format!("http://127.0.0.1:{port}/healthz");
    crieur_net_http::install_crypto_provider();
    let http = reqwest::Client::new();
    let none = http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let wrong = http.get(&url).bearer_auth("metrics-reader-7f3a9d").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(!daemon.log().contains(TOKEN), "the token reached the log");
    assert!(daemon.terminate(Duration::from_secs(30)).await.is_some_and(|s| s.success()));
}

#[test]
fn a_public_address_without_a_token_refuses_to_start() {
    let dir = world("listen = \"0.0.0.0:9184\"\n");
    let out = crieur()
        .arg("--config")
        .arg(dir.path().join("crieur.toml"))
        .arg("run")
        .env("HOOK_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("crieur.toml:") && err.contains("`token` is required"), "{err}");
}

/// The iCalendar `text` unfolded and split into its events (each a list of `NAME:value`
/// properties, parameters kept in the name); checks the shape on the way: CRLF line ends, lines
/// of at most 75 octets, one VCALENDAR, every BEGIN:VEVENT closed.
fn events(text: &str) -> Vec<BTreeMap<String, String>> {
    assert!(text.ends_with("\r\n"), "CRLF line ends");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "a line over 75 octets: {line:?}");
        assert!(!line.contains('\n'), "a bare LF in {line:?}");
    }
    let unfolded = text.replace("\r\n ", "");
    let lines: Vec<&str> = unfolded.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.first(), Some(&"BEGIN:VCALENDAR"));
    assert_eq!(lines.last(), Some(&"END:VCALENDAR"));
    let mut out = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    for line in &lines[1..lines.len() - 1] {
        match *line {
            "BEGIN:VEVENT" => {
                assert!(current.is_none(), "nested VEVENT");
                current = Some(BTreeMap::new());
            }
            "END:VEVENT" => out.push(current.take().expect("END:VEVENT without BEGIN")),
            _ => {
                let (name, value) = line.split_once(':').expect("NAME:value");
                if let Some(event) = current.as_mut() {
                    assert!(
                        event.insert(name.to_owned(), value.to_owned()).is_none(),
                        "{name} twice"
                    );
                }
            }
        }
    }
    assert!(current.is_none(), "an unclosed VEVENT");
    out
}

/// The calendar routes: a post that went out (its URL in the feed and on the page), one the
/// receiver refused for good on a channel it then disabled (failed, and the next post there held),
/// posts queued in the coming weeks; the feed the same byte for byte across two fetches; and the
/// lateness of each first attempt in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_feed_and_the_week_page_show_each_post_with_its_state() {
    let rx = Receiver::start(SECRET).await;
    rx.set(|r| if r.channel == "news" { Answer::status(410) } else { Answer::OK });
    let port = free_port();
    let mut config = format!(
        "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://crieur.db\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n"
    );
    for name in ["blog", "news"] {
        config.push_str(&format!(
            "\n[channels.{name}]\nnetwork = \"webhook\"\nurl = \"{}\"\nsecret = \"env:HOOK_SECRET\"\n\
             allow_private = true\ncadence = [\"Mon 09:00\"]\n",
            rx.url(&format!("hooks/{name}"))
        ));
    }
    let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 3).unwrap();
    let posts = format!(
        "[[post]]\nid = \"now-blog\"\nchannels = [\"blog\"]\ntext = \"Out now #launch\"\nat = \"{at}\"\n\n\
         [[post]]\nid = \"now-news\"\nchannels = [\"news\"]\ntext = \"Refused\"\nat = \"{at}\"\n\n\
         [[post]]\nid = \"later-blog\"\nchannels = [\"blog\"]\ntext = \"Next week, with @team\"\n\n\
         [[post]]\nid = \"later-news\"\nchannels = [\"news\"]\ntext = \"Held back\"\n"
    );
    let dir = project(&[("crieur.toml", &config), ("posts/q.toml", &posts)]);
    let mut daemon = spawn(dir.path(), &[]).await;
    assert!(
        rx.wait_for(Duration::from_secs(20), |r| r.len() >= 2).await,
        "both posts sent: {:?}\n{}",
        rx.requests().len(),
        daemon.log()
    );
    let base = format!("http://127.0.0.1:{port}");
    crieur_net_http::install_crypto_provider();
    let http = reqwest::Client::new();
    // The outcomes are recorded a moment after the receiver answers.
    let mut feed = String::new();
    for _ in 0..100 {
        let r = http.get(format!("{base}/calendar.ics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
        feed = r.text().await.unwrap();
        if feed.contains("DESCRIPTION:published") && feed.contains("DESCRIPTION:failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = events(&feed);
    let by_uid: BTreeMap<&str, &BTreeMap<String, String>> =
        all.iter().map(|e| (e["UID"].as_str(), e)).collect();
    assert_eq!(by_uid.len(), all.len(), "UIDs are unique: {feed}");
    let url = rx.post_url("now-blog", "blog");
    let out = by_uid["now-blog.blog@crieur"];
    assert_eq!(out["URL"], url, "{feed}");
    assert!(out["DESCRIPTION"].starts_with(&format!("published: {url}")), "{out:?}");
    assert_eq!(out["DTSTART"], at.strftime("%Y%m%dT%H%M%SZ").to_string());
    let refused = by_uid["now-news.news@crieur"];
    assert!(refused["DESCRIPTION"].starts_with("failed"), "{refused:?}");
    assert!(!refused.contains_key("URL"));
    assert!(by_uid["later-blog.blog@crieur"]["DESCRIPTION"].starts_with("queued"), "{feed}");
    assert!(by_uid["later-news.news@crieur"]["DESCRIPTION"].starts_with("held"), "{feed}");
    assert!(by_uid["later-blog.blog@crieur"]["DTSTART"].ends_with("T080000Z"), "Mon 09:00 Paris");
    assert_eq!(all.len(), 4, "{feed}");
    let again = http.get(format!("{base}/calendar.ics")).send().await.unwrap();
    assert_eq!(again.text().await.unwrap(), feed, "the feed is stable across fetches");

    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    for (post, state) in [("now-blog", "published"), ("now-news", "failed")] {
        let card = format!("data-post=\"{post}\" data-state=\"{state}\"");
        assert!(html.contains(&card), "{card} in {html}");
    }
    assert!(html.contains(&format!("href=\"{url}\"")), "a link to what went out");
    assert!(html.contains("<span class=\"tag\">#launch</span>"), "hashtags highlighted");

    let r = http.post(format!("{base}/calendar.ics")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(http.delete(format!("{base}/")).send().await.unwrap().status(), 405);

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("# TYPE crieur_lateness_seconds histogram"), "{metrics}");
    let m = samples(&metrics);
    assert_eq!(m["crieur_lateness_seconds_count"], 2.0, "one per first attempt: {metrics}");
    let late = m["crieur_lateness_seconds_sum"];
    assert!((0.0..4.0).contains(&late), "due to request: {late} s in all");
    assert_eq!(m[r#"crieur_lateness_seconds_bucket{le="+Inf"}"#], 2.0, "{metrics}");
    assert_eq!(m[r#"crieur_deliveries{channel="blog",state="published"}"#], 1.0, "{metrics}");
    assert!(daemon.terminate(Duration::from_secs(30)).await.is_some_and(|s| s.success()));
}
