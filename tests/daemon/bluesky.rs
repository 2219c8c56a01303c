//! Bluesky through the real binary: a strict mock PDS on loopback receives posts and a thread,
//! answers one create with a 500 after writing the record and drops the connection of another
//! after writing it; each post must exist once, and the whole run must log in once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::harness::{self, Project};
use crate::common::http::{Conn, Response, Server};

const DID: &str = "did:plc:crieure2e";
const PASSWORD: &str = "abcd-efgh-ijkl-mnop";

#[derive(Default)]
struct Pds {
    logins: u32,
    serial: u32,
    access: String,
    refresh: String,
    /// rkey -> (cid, record)
    records: HashMap<String, (String, Value)>,
    creates: u32,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Pds>>;

fn xrpc_error(status: u16, name: &str) -> Response {
    Response::json(status, &json!({ "error": name, "message": name }))
}

fn session(p: &mut Pds) -> Value {
    p.serial += 1;
    let e = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    p.access = format!(
        "{}.{}.s{}",
        e("{}".into()),
        e(format!(r#"{{"sub":"{DID}","exp":{}}}"#, Timestamp::now().as_second() + 7200)),
        p.serial
    );
    p.refresh = format!("refresh-{}", p.serial);
    json!({ "accessJwt": p.access, "refreshJwt": p.refresh, "did": DID, "handle": "acme.test" })
}

/// What to do with one request: an answer, or `None` to drop the connection without one.
fn handle(state: &Shared, req: &crate::common::http::Request) -> Option<Response> {
    let mut p = state.lock().unwrap();
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let method = req.path.trim_start_matches("/xrpc/").to_owned();
    if method == "com.atproto.server.createSession" {
        p.logins += 1;
        if body["identifier"] != "acme.test" || body["password"] != PASSWORD {
            return Some(xrpc_error(401, "AuthenticationRequired"));
        }
        return Some(Response::json(200, &session(&mut p)));
    }
    if req.bearer() != Some(p.access.as_str()) {
        p.problems.push(format!("{method} without the session's access token"));
        return Some(xrpc_error(401, "AuthenticationRequired"));
    }
    match method.as_str() {
        "com.atproto.repo.createRecord" => {
            p.creates += 1;
            let rkey = body["rkey"].as_str().unwrap_or_default().to_owned();
            let record = body["record"].clone();
            let text = record["text"].as_str().unwrap_or_default().to_owned();
            if body["repo"] != DID || body["collection"] != "app.bsky.feed.post" || rkey.len() != 13
            {
                p.problems.push(format!("bad create {body}"));
                return Some(xrpc_error(400, "InvalidRequest"));
            }
            if let Some(reply) = record.get("reply") {
                for which in ["root", "parent"] {
                    let uri = reply[which]["uri"].as_str().unwrap_or_default();
                    let key = uri.rsplit('/').next().unwrap_or_default();
                    let ok = p.records.get(key).is_some_and(|(cid, _)| reply[which]["cid"] == *cid);
                    if !ok {
                        p.problems.push(format!("reply {which} {uri} does not exist"));
                        return Some(xrpc_error(400, "InvalidRecord"));
                    }
                }
            }
            if p.records.contains_key(&rkey) {
                // bsky.social's answer to a second create on one key.
                return Some(xrpc_error(500, "InternalServerError"));
            }
            let cid = format!("bafy{}", p.records.len());
            p.records.insert(rkey.clone(), (cid.clone(), record));
            let first = p.records.values().filter(|(_, r)| r["text"] == text).count() == 1;
            if text.contains("[500]") && first {
                return Some(xrpc_error(500, "InternalServerError"));
            }
            if text.contains("[drop]") && first {
                return None;
            }
            Some(Response::json(
                200,
                &json!({ "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": cid }),
            ))
        }
        "com.atproto.repo.getRecord" => {
            let rkey = req.param("rkey").unwrap_or_default();
            if req.param("repo") != Some(DID)
                || req.param("collection") != Some("app.bsky.feed.post")
            {
                p.problems.push(format!("bad getRecord {:?}", req.query));
            }
            Some(match p.records.get(rkey) {
                Some((cid, value)) => Response::json(
                    200,
                    &json!({
                        "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
                        "cid": cid, "value": value,
                    }),
                ),
                None => xrpc_error(400, "RecordNotFound"),
            })
        }
        other => {
            p.problems.push(format!("unexpected {other}"));
            Some(xrpc_error(404, "MethodNotImplemented"))
        }
    }
}

async fn serve(state: Shared, mut conn: Conn) {
    loop {
        let Ok(mut req) = conn.read_request(64 * 1024).await else { return };
        let len = req.content_length().unwrap_or(0);
        let Some(body) = conn.read_body(len).await else { return };
        req.body = body;
        match handle(&state, &req) {
            Some(response) => {
                if conn.respond(&response).await.is_err() {
                    return;
                }
            }
            None => {
                conn.reset();
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_a_thread_and_lost_answers_each_exist_once_after_a_single_login() {
    let state: Shared = Arc::default();
    let shared = state.clone();
    let server = Server::start(move |conn| serve(shared.clone(), conn)).await;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let channels = format!(
        "\n[channels.sky]\nnetwork = \"bluesky\"\nhandle = \"acme.test\"\n\
         app_password = \"env:BSKY_APP_PASSWORD\"\nservice = \"{}\"\ncadence = [\"Mon 08:00\"]\n",
        server.url("")
    );
    let config = harness::config("sqlite://crieur.db", harness::QUEUE, &channels).replace(
        "url = \"sqlite://crieur.db\"",
        "url = \"sqlite://crieur.db\"\nkey = \"env:CRIEUR_KEY\"",
    );
    let project = Project::new(&config)
        .with_env("BSKY_APP_PASSWORD", PASSWORD)
        .with_env("CRIEUR_KEY", &key)
        .with_env("CRIEUR_RETRY_BASE_MS", "200");
    let start = Timestamp::now();
    let at = |s: i64| {
        Timestamp::from_second((start + SignedDuration::from_secs(3 + s)).as_second()).unwrap()
    };
    let mut posts = String::new();
    let texts = [
        "Hello from crieur, part one",
        "Part two, see https://example.com/notes.",
        "This one is answered 500 after it is written [500]",
        "This one loses its answer [drop]",
        "Part five #Hiring",
        "Part six",
    ];
    for (i, text) in texts.iter().enumerate() {
        posts.push_str(&format!(
            "[[post]]\nid = \"p{i}\"\nchannels = [\"sky\"]\ntext = \"{text}\"\nat = \"{}\"\n\n",
            at(i as i64 / 2)
        ));
    }
    posts.push_str(&format!(
        "[[post]]\nid = \"thread\"\nchannels = [\"sky\"]\ntext = \"1/ A thread\"\nat = \"{}\"\n\n\
         [[post.thread]]\ntext = \"2/ its middle\"\n\n[[post.thread]]\ntext = \"3/ its end\"\n\n",
        at(1)
    ));
    project.write("posts/queue.toml", &posts);

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let done =
        |rows: &Vec<Value>| rows.len() == 9 && rows.iter().all(|r| r["state"] == "published");
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let rows = loop {
        let status = project.status().await;
        let rows = status["posts"].as_array().cloned().unwrap_or_default();
        if done(&rows) || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(done(&rows), "every item published: {rows:#?}\n{}", daemon.log());
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.signal("TERM");
    daemon.exit(Duration::from_secs(10)).await;

    let p = state.lock().unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.logins, 1, "one login for the whole run");
    assert_eq!(p.records.len(), 9, "one record per item");
    let mut by_text: HashMap<String, usize> = HashMap::new();
    for (_, r) in p.records.values() {
        *by_text.entry(r["text"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(by_text.values().all(|n| *n == 1), "{by_text:?}");
    // The lost answers were settled by getRecord on their keys, not by sending again.
    assert_eq!(p.creates, 9, "one create per item");
    for r in &rows {
        let url = r["url"].as_str().unwrap();
        let rkey = url.strip_prefix("https://bsky.app/profile/acme.test/post/").unwrap();
        assert!(p.records.contains_key(rkey), "{url} is a record");
    }
    // The second post's link is a facet, byte for byte.
    let (_, second) = p
        .records
        .values()
        .find(|(_, r)| r["text"].as_str().unwrap().starts_with("Part two"))
        .unwrap();
    let facet = &second["facets"][0];
    let text = second["text"].as_str().unwrap();
    let (s, e) = (
        facet["index"]["byteStart"].as_u64().unwrap() as usize,
        facet["index"]["byteEnd"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[s..e], "https://example.com/notes");
}
