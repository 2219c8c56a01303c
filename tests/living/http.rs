//! The daemon's HTTP endpoint over real HTTP, through the real binary: `/healthz`, `/metrics`
//! (values matching `crieur status`), 405 for other methods, 401 without the bearer token, and
//! the refusal to listen publicly without a token.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::common::daemon::Daemon;
use crate::common::{crieur, project, stderr};

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
