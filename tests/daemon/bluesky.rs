//! Bluesky through the real binary: a strict mock PDS on loopback receives posts and a thread,
//! answers one create with a 500 after writing the record and drops the connection of another
//! after writing it; each post must exist once, and the whole run must log in once. A post's
//! `lang` and written `card` reach the record; a create cut by `kill -9` before the record was
//! written is found absent on restart and sent again at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::harness::{self, Project, wait_status};
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
    /// `getRecord` requests.
    reads: u32,
    /// Creates held without an answer (and without writing) before the daemon was killed.
    hung: u32,
    problems: Vec<String>,
}

/// What the mock does with one request.
enum Reply {
    Answer(Response),
    /// Close the connection without an answer.
    Drop,
    /// Answer nothing, write nothing, keep the connection (the daemon is about to be killed).
    Hang,
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

/// The record's `langs` and `embed`, checked as the lexicon would.
fn check_record(record: &Value) -> Result<(), String> {
    if let Some(langs) = record.get("langs") {
        let ok = langs.as_array().is_some_and(|l| {
            (1..=3).contains(&l.len())
                && l.iter().all(|x| x.as_str().is_some_and(|t| t.len() >= 2 && !t.contains('_')))
        });
        if !ok {
            return Err(format!("langs {langs}"));
        }
    }
    if let Some(embed) = record.get("embed") {
        let e = &embed["external"];
        let ok = embed["$type"] == "app.bsky.embed.external"
            && e["uri"].as_str().is_some_and(|u| u.starts_with("http"))
            && e["title"].is_string()
            && e["description"].is_string();
        if !ok {
            return Err(format!("embed {embed}"));
        }
    }
    Ok(())
}

/// What to do with one request.
fn handle(state: &Shared, req: &crate::common::http::Request) -> Reply {
    match handle_inner(state, req) {
        Ok(r) => r,
        Err(r) => Reply::Answer(r),
    }
}

fn handle_inner(state: &Shared, req: &crate::common::http::Request) -> Result<Reply, Response> {
    let mut p = state.lock().unwrap();
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let method = req.path.trim_start_matches("/xrpc/").to_owned();
    if method == "com.atproto.server.createSession" {
        p.logins += 1;
        if body["identifier"] != "acme.test" || body["password"] != PASSWORD {
            return Err(xrpc_error(401, "AuthenticationRequired"));
        }
        return Ok(Reply::Answer(Response::json(200, &session(&mut p))));
    }
    if req.bearer() != Some(p.access.as_str()) {
        p.problems.push(format!("{method} without the session's access token"));
        return Err(xrpc_error(401, "AuthenticationRequired"));
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
                return Err(xrpc_error(400, "InvalidRequest"));
            }
            if let Some(reply) = record.get("reply") {
                for which in ["root", "parent"] {
                    let uri = reply[which]["uri"].as_str().unwrap_or_default();
                    let key = uri.rsplit('/').next().unwrap_or_default();
                    let ok = p.records.get(key).is_some_and(|(cid, _)| reply[which]["cid"] == *cid);
                    if !ok {
                        p.problems.push(format!("reply {which} {uri} does not exist"));
                        return Err(xrpc_error(400, "InvalidRecord"));
                    }
                }
            }
            if let Err(problem) = check_record(&record) {
                p.problems.push(problem);
                return Err(xrpc_error(400, "InvalidRecord"));
            }
            if text.contains("[hang]") && p.hung == 0 {
                p.hung += 1;
                return Ok(Reply::Hang);
            }
            if p.records.contains_key(&rkey) {
                // bsky.social's answer to a second create on one key.
                return Err(xrpc_error(500, "InternalServerError"));
            }
            let cid = format!("bafy{}", p.records.len());
            p.records.insert(rkey.clone(), (cid.clone(), record));
            let first = p.records.values().filter(|(_, r)| r["text"] == text).count() == 1;
            if text.contains("[500]") && first {
                return Err(xrpc_error(500, "InternalServerError"));
            }
            if text.contains("[drop]") && first {
                return Ok(Reply::Drop);
            }
            Ok(Reply::Answer(Response::json(
                200,
                &json!({ "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": cid }),
            )))
        }
        "com.atproto.repo.getRecord" => {
            p.reads += 1;
            let rkey = req.param("rkey").unwrap_or_default();
            if req.param("repo") != Some(DID)
                || req.param("collection") != Some("app.bsky.feed.post")
            {
                p.problems.push(format!("bad getRecord {:?}", req.query));
            }
            Ok(Reply::Answer(match p.records.get(rkey) {
                Some((cid, value)) => Response::json(
                    200,
                    &json!({
                        "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
                        "cid": cid, "value": value,
                    }),
                ),
                None => xrpc_error(400, "RecordNotFound"),
            }))
        }
        other => {
            p.problems.push(format!("unexpected {other}"));
            Err(xrpc_error(404, "MethodNotImplemented"))
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
            Reply::Answer(response) => {
                if conn.respond(&response).await.is_err() {
                    return;
                }
            }
            Reply::Drop => {
                conn.reset();
                return;
            }
            Reply::Hang => {
                conn.drain(Duration::from_secs(60)).await;
                return;
            }
        }
    }
}

/// A mock PDS and a project with one Bluesky channel on it; `extra` adds environment.
async fn setup(extra: &[(&str, &str)]) -> (Shared, Server, Project) {
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
    let mut project =
        Project::new(&config).with_env("BSKY_APP_PASSWORD", PASSWORD).with_env("CRIEUR_KEY", &key);
    for (k, v) in extra {
        project = project.with_env(k, v);
    }
    (state, server, project)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_a_thread_and_lost_answers_each_exist_once_after_a_single_login() {
    let (state, _server, project) = setup(&[("CRIEUR_RETRY_BASE_MS", "200")]).await;
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
    // Its own language and a card written in the file: the page (nothing listens there) is never
    // read.
    posts.push_str(&format!(
        "[[post]]\nid = \"carded\"\nchannels = [\"sky\"]\ntext = \"Nos notes de la semaine\"\n\
         link = \"http://127.0.0.1:1/notes\"\nlang = \"fr\"\n\
         card = {{ title = \"Notes\", description = \"What we learned this week\" }}\nat = \"{}\"\n\n",
        at(2)
    ));
    posts.push_str(&format!(
        "[[post]]\nid = \"thread\"\nchannels = [\"sky\"]\ntext = \"1/ A thread\"\nat = \"{}\"\n\n\
         [[post.thread]]\ntext = \"2/ its middle\"\n\n[[post.thread]]\ntext = \"3/ its end\"\n\n",
        at(1)
    ));
    project.write("posts/queue.toml", &posts);

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let done =
        |rows: &Vec<Value>| rows.len() == 10 && rows.iter().all(|r| r["state"] == "published");
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
    assert_eq!(p.records.len(), 10, "one record per item");
    let mut by_text: HashMap<String, usize> = HashMap::new();
    for (_, r) in p.records.values() {
        *by_text.entry(r["text"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(by_text.values().all(|n| *n == 1), "{by_text:?}");
    // The lost answers were settled by getRecord on their keys, not by sending again.
    assert_eq!(p.creates, 10, "one create per item");
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
    assert!(second.get("langs").is_none() && second.get("embed").is_none(), "{second}");
    let (_, carded) = p
        .records
        .values()
        .find(|(_, r)| r["text"].as_str().unwrap().starts_with("Nos notes"))
        .unwrap();
    assert_eq!(carded["langs"], json!(["fr"]), "{carded}");
    assert_eq!(
        carded["embed"],
        json!({ "$type": "app.bsky.embed.external", "external": {
            "uri": "http://127.0.0.1:1/notes?utm_source=bluesky&utm_medium=social",
            "title": "Notes", "description": "What we learned this week" } }),
        "{carded}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_by_a_crash_is_found_absent_and_sent_again_at_once() {
    // Retries after a network failure would wait ten minutes: only the "crash, not the
    // network's fault" path can publish within seconds.
    let (state, _server, project) = setup(&[("CRIEUR_RETRY_BASE_MS", "600000")]).await;
    let at = Timestamp::from_second(Timestamp::now().as_second() + 2).unwrap();
    project.write(
        "posts/queue.toml",
        &format!(
            "[[post]]\nid = \"cut\"\nchannels = [\"sky\"]\ntext = \"Cut short [hang]\"\nat = \"{at}\"\n"
        ),
    );
    let mut first = project.spawn(&[]);
    first.ready(Duration::from_secs(10)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while state.lock().unwrap().hung == 0 {
        assert!(std::time::Instant::now() < deadline, "never sent:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill9();
    let mut second = project.spawn(&[]);
    let restarted = std::time::Instant::now();
    second.ready(Duration::from_secs(10)).await;
    let rows = wait_status(&project, Duration::from_secs(15), |rows| {
        rows.get("cut@sky").is_some_and(|r| r["state"] == "published")
    })
    .await;
    let took = restarted.elapsed();
    second.terminate(Duration::from_secs(10)).await;
    let row = &rows["cut@sky"];
    assert_eq!(row["state"], "published", "{row}\n{}", second.log());
    assert!(took < Duration::from_secs(15), "published {took:?} after the restart");
    let p = state.lock().unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert!(p.reads >= 1, "reconciled with getRecord first");
    assert_eq!((p.records.len(), p.creates), (1, 2), "the hung create wrote nothing; one more did");
}
