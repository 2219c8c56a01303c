//! Mastodon end to end: the real daemon against a strict mock of a Mastodon server on loopback
//! (bearer token, JSON bodies, `Idempotency-Key` semantics, replies that must exist, the
//! server's own character limit, `visibility` and `language`), with faults after the server
//! accepted a status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::harness::{self, Project, soon, wait_status};
use crate::common::http::{Conn, HeadError, Response, Server};

const TOKEN: &str = "mastodon-test-token";

/// What the mock server does to the next accepted status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Create the status, then answer 500.
    ServerErrorAfterAccept,
    /// Create the status, then reset the connection without an answer.
    DropAfterAccept,
}

struct State {
    statuses: Vec<Value>,
    keys: HashMap<String, usize>,
    faults: Vec<Fault>,
    max_characters: usize,
    errors: Vec<String>,
    status_requests: usize,
    instance_reads: usize,
}

struct Mastodon {
    state: Arc<Mutex<State>>,
    server: Server,
}

impl Mastodon {
    async fn start(max_characters: usize, faults: Vec<Fault>) -> Mastodon {
        let state = Arc::new(Mutex::new(State {
            statuses: Vec::new(),
            keys: HashMap::new(),
            faults,
            max_characters,
            errors: Vec::new(),
            status_requests: 0,
            instance_reads: 0,
        }));
        let st = state.clone();
        let server = Server::start(move |conn| serve(st.clone(), conn)).await;
        Mastodon { state, server }
    }

    fn channel(&self, name: &str) -> String {
        format!(
            "\n[channels.{name}]\nnetwork = \"mastodon\"\ninstance = \"{}\"\naccess_token = \"env:MASTODON_TOKEN\"\nvisibility = \"unlisted\"\ncadence = [\"Mon 08:00\"]\n",
            self.server.url("")
        )
    }

    fn statuses(&self) -> Vec<Value> {
        self.state.lock().unwrap().statuses.clone()
    }

    fn assert_no_errors(&self) {
        let errors = self.state.lock().unwrap().errors.clone();
        assert!(errors.is_empty(), "the mock saw bad requests: {errors:#?}");
    }
}

async fn serve(st: Arc<Mutex<State>>, mut conn: Conn) {
    loop {
        let mut req = match conn.read_request(1 << 20).await {
            Ok(r) => r,
            Err(HeadError::Closed) => return,
            Err(e) => {
                st.lock().unwrap().errors.push(format!("bad request head: {e:?}"));
                return;
            }
        };
        if let Some(len) = req.content_length() {
            match conn.read_body(len).await {
                Some(body) => req.body = body,
                None => return,
            }
        }
        let mut fault = Fault::None;
        let response = {
            let mut s = st.lock().unwrap();
            // The instance document is public; everything else needs the account's token.
            if req.path != "/api/v2/instance" && req.bearer() != Some(TOKEN) {
                Response::json(401, &json!({ "error": "The access token is invalid" }))
            } else {
                match (req.method.as_str(), req.path.as_str()) {
                    ("GET", "/api/v2/instance") => {
                        s.instance_reads += 1;
                        Response::json(
                            200,
                            &json!({
                                "domain": "social.example",
                                "configuration": { "statuses": {
                                    "max_characters": s.max_characters,
                                    "max_media_attachments": 4,
                                    "characters_reserved_per_url": 23
                                } }
                            }),
                        )
                    }
                    ("POST", "/api/v1/statuses") => {
                        s.status_requests += 1;
                        let (r, f) = create(&mut s, &req);
                        fault = f;
                        r
                    }
                    ("GET", "/api/v1/accounts/verify_credentials") => {
                        Response::json(200, &json!({ "id": "42", "acct": "acme" }))
                    }
                    ("GET", "/api/v1/accounts/42/statuses") => {
                        let all: Vec<Value> = s.statuses.iter().rev().cloned().collect();
                        Response::json(200, &Value::Array(all))
                    }
                    ("GET", p) if p.starts_with("/api/v1/statuses/") && p.ends_with("/source") => {
                        let id =
                            p.trim_start_matches("/api/v1/statuses/").trim_end_matches("/source");
                        match s.statuses.iter().find(|x| x["id"] == id) {
                            Some(x) => Response::json(
                                200,
                                &json!({ "id": id, "text": x["text"], "spoiler_text": "" }),
                            ),
                            None => Response::json(404, &json!({ "error": "Record not found" })),
                        }
                    }
                    (m, p) => {
                        s.errors.push(format!("unexpected {m} {p}"));
                        Response::json(404, &json!({ "error": "Record not found" }))
                    }
                }
            }
        };
        match fault {
            Fault::DropAfterAccept => {
                conn.reset();
                return;
            }
            Fault::ServerErrorAfterAccept | Fault::None => {
                if conn.respond(&response).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// `POST /api/v1/statuses` as a Mastodon server answers it.
fn create(s: &mut State, req: &crate::common::http::Request) -> (Response, Fault) {
    let Some(key) = req.header("idempotency-key").map(str::to_owned) else {
        s.errors.push("a status request without Idempotency-Key".into());
        return (Response::json(400, &json!({ "error": "no key" })), Fault::None);
    };
    if req.header("content-type") != Some("application/json") {
        s.errors.push(format!("content-type {:?}", req.header("content-type")));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        s.errors.push("a body that is not JSON".into());
        return (Response::json(400, &json!({ "error": "bad json" })), Fault::None);
    };
    if !["public", "unlisted", "private"].contains(&body["visibility"].as_str().unwrap_or("")) {
        s.errors.push(format!("visibility {}", body["visibility"]));
    }
    let language = body.get("language").cloned().unwrap_or(Value::Null);
    if !language.is_null()
        && !language
            .as_str()
            .is_some_and(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()))
    {
        s.errors.push(format!("language {language}: Mastodon takes ISO 639-1"));
    }
    let fields = ["status", "visibility", "language", "in_reply_to_id", "media_ids"];
    for k in body.as_object().map(|o| o.keys().collect::<Vec<_>>()).unwrap_or_default() {
        if !fields.contains(&k.as_str()) {
            s.errors.push(format!("unexpected field {k}"));
        }
    }
    if let Some(&i) = s.keys.get(&key) {
        return (Response::json(200, &s.statuses[i]), Fault::None);
    }
    let text = body["status"].as_str().unwrap_or_default().to_owned();
    if text.chars().count() > s.max_characters {
        let error =
            format!("Validation failed: Text character limit of {} exceeded", s.max_characters);
        return (Response::json(422, &json!({ "error": error })), Fault::None);
    }
    let reply = body.get("in_reply_to_id").cloned().unwrap_or(Value::Null);
    if !reply.is_null() && !s.statuses.iter().any(|x| x["id"] == reply) {
        return (Response::json(404, &json!({ "error": "Record not found" })), Fault::None);
    }
    let id = (1000 + s.statuses.len()).to_string();
    let status = json!({
        "id": id, "url": format!("https://social.example/@acme/{id}"),
        "created_at": Timestamp::now().to_string(), "text": text, "in_reply_to_id": reply,
        "visibility": body["visibility"], "language": language,
    });
    s.statuses.push(status.clone());
    s.keys.insert(key, s.statuses.len() - 1);
    let fault = if s.faults.is_empty() { Fault::None } else { s.faults.remove(0) };
    let response = match fault {
        Fault::ServerErrorAfterAccept => {
            Response::json(500, &json!({ "error": "We're sorry, but something went wrong" }))
        }
        _ => Response::json(200, &status),
    };
    (response, fault)
}

fn project(m: &Mastodon, posts: &str) -> Project {
    let p = Project::new(&harness::config(
        "sqlite://crieur.db",
        harness::QUEUE,
        &m.channel("fediverse"),
    ))
    .with_env("MASTODON_TOKEN", TOKEN)
    .with_env("CRIEUR_RETRY_BASE_MS", "200")
    .with_env("CRIEUR_RECONCILE_EVERY_MS", "300");
    p.write("posts/queue.toml", posts);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_and_a_thread_are_published_once_each() {
    let m = Mastodon::start(500, Vec::new()).await;
    let at = soon(2);
    let posts = format!(
        "[[post]]\nid = \"hello\"\nchannels = [\"fediverse\"]\ntext = \"Hello fediverse! #OpenSource\"\nlink = \"https://example.com/a\"\nat = \"{at}\"\nlang = \"fr-CA\"\nvisibility = \"private\"\n\n[[post.thread]]\ntext = \"2/ The details.\"\n\n[[post.thread]]\ntext = \"3/ The end.\"\n"
    );
    let project = project(&m, &posts);
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = wait_status(&project, Duration::from_secs(20), |_| m.statuses().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.terminate(Duration::from_secs(10)).await;
    m.assert_no_errors();
    let statuses = m.statuses();
    assert_eq!(statuses.len(), 3, "{statuses:#?}\n{}", daemon.log());
    assert_eq!(
        statuses[0]["text"],
        "Hello fediverse! #OpenSource https://example.com/a?utm_source=mastodon&utm_medium=social"
    );
    assert_eq!(statuses[1]["in_reply_to_id"], statuses[0]["id"]);
    assert_eq!(statuses[2]["in_reply_to_id"], statuses[1]["id"]);
    // The post's own visibility wins over the channel's, and the thread keeps it and the
    // language (ISO 639-1: `fr-CA` is sent as `fr`).
    for st in &statuses {
        assert_eq!((&st["visibility"], &st["language"]), (&json!("private"), &json!("fr")), "{st}");
    }
    let row = &rows["hello@fediverse"];
    assert_eq!(row["state"], "published", "{row}");
    assert_eq!(row["url"], "https://social.example/@acme/1000", "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_or_a_dropped_connection_after_accept_still_gives_exactly_one_status() {
    let m = Mastodon::start(500, vec![Fault::ServerErrorAfterAccept, Fault::DropAfterAccept]).await;
    let (a, b) = (soon(2), soon(3));
    let posts = format!(
        "[[post]]\nid = \"storm\"\nchannels = [\"fediverse\"]\ntext = \"After the storm.\"\nat = \"{a}\"\n\n[[post]]\nid = \"calm\"\nchannels = [\"fediverse\"]\ntext = \"Then the calm.\"\nat = \"{b}\"\n"
    );
    let project = project(&m, &posts);
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = wait_status(&project, Duration::from_secs(30), |rows| {
        rows.values().filter(|r| r["state"] == "published").count() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    daemon.terminate(Duration::from_secs(10)).await;
    m.assert_no_errors();
    let statuses = m.statuses();
    assert_eq!(statuses.len(), 2, "one status per post: {statuses:#?}\n{}", daemon.log());
    for st in &statuses {
        // The channel's visibility, and no language when the post names none.
        assert_eq!(
            (&st["visibility"], &st["language"]),
            (&json!("unlisted"), &Value::Null),
            "{st}"
        );
    }
    for (post, id) in [("storm", "1000"), ("calm", "1001")] {
        let row = &rows[&format!("{post}@fediverse")];
        assert_eq!(row["state"], "published", "{row}\n{}", daemon.log());
        assert_eq!(row["remote_id"], id, "{row}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_limit_of_1000_characters_is_read_at_start_and_honoured() {
    let m = Mastodon::start(1000, Vec::new()).await;
    let long = format!("{} What do you think?", "A long story about our week. ".repeat(27));
    let chars = long.chars().count();
    assert!((500..1000).contains(&chars), "{chars}");
    let at = soon(3);
    let posts = format!(
        "[[post]]\nid = \"long\"\nchannels = [\"fediverse\"]\ntext = \"{long}\"\nat = \"{at}\"\n"
    );
    let project = project(&m, &posts);
    // Before the daemon has asked the server, validate counts against Mastodon's default 500.
    let before = project.run(&["validate"]).await;
    let out = crate::common::stdout(&before);
    assert_eq!(before.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("error[length]: the text is {chars} long on mastodon, limit 500")),
        "{out}"
    );

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = wait_status(&project, Duration::from_secs(20), |rows| {
        rows.get("long@fediverse").is_some_and(|r| r["state"] == "published")
    })
    .await;
    daemon.terminate(Duration::from_secs(10)).await;
    m.assert_no_errors();
    assert_eq!(rows["long@fediverse"]["state"], "published", "{}", daemon.log());
    assert_eq!(m.statuses().len(), 1);
    assert_eq!(m.state.lock().unwrap().instance_reads, 1, "read once, at start");

    // Offline now: validate uses the limit the daemon stored.
    drop(m);
    let after = project.run(&["validate"]).await;
    let out = crate::common::stdout(&after);
    assert!(!out.contains("error[length]"), "{out}");
    assert_eq!(after.status.code(), Some(0), "{out}");
}
