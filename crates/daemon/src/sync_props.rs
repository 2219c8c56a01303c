//! The incremental sync against the full one: random queues edited at random, both synced at
//! the same instants (and what is due sent with the same outcomes), must leave every row of
//! the deliveries table the same.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use crieur_core::{Clock, Outcome, RejectKind};
use crieur_store::RetryPolicy;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use sqlx::Row as _;

use crate::sync::Syncer;
use crate::testing::{NOW, ts};

/// How many posts a queue may hold (ids `p0`...).
const POSTS: usize = 16;
/// How many post files.
const FILES: u8 = 4;

/// One post of a random queue.
#[derive(Debug, Clone)]
struct P {
    /// Its file, or none (not in the queue).
    file: Option<u8>,
    blog: bool,
    x: bool,
    /// Which of a few texts.
    text: u8,
    /// A fixed time, in 6-hour steps from a day before `NOW`.
    at: Option<u8>,
    priority: u8,
    thread: bool,
}

fn post() -> impl Strategy<Value = P> {
    (
        proptest::option::weighted(0.85, 0..FILES),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
        proptest::option::weighted(0.2, 0u8..40),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(|(file, blog, x, text, at, priority, thread)| P {
            file,
            blog: blog || !x,
            x,
            text,
            at,
            priority,
            thread,
        })
}

/// One step: some posts replaced, the clock moved on, and whether what is due is sent.
#[derive(Debug, Clone)]
struct Step {
    edits: Vec<(usize, P)>,
    hours: u16,
    send: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (proptest::collection::vec((0..POSTS, post()), 0..4), 0u16..120, any::<bool>())
        .prop_map(|(edits, hours, send)| Step { edits, hours, send })
}

/// The text of post file `file` of `queue`; `None` when it holds no post.
fn file_text(queue: &[P], file: u8) -> Option<String> {
    let start = ts(NOW) - SignedDuration::from_hours(24);
    let mut text = String::new();
    for (i, p) in queue.iter().enumerate().filter(|(_, p)| p.file == Some(file)) {
        let channels = match (p.blog, p.x) {
            (true, true) => "\"blog\", \"x\"",
            (false, true) => "\"x\"",
            _ => "\"blog\"",
        };
        text.push_str(&format!(
            "[[post]]\nid = \"p{i}\"\nchannels = [{channels}]\ntext = \"Post {i}, take {}\"\n",
            p.text
        ));
        if p.priority > 0 {
            text.push_str(&format!("priority = {}\n", p.priority));
        }
        if let Some(at) = p.at {
            let at = start + SignedDuration::from_hours(6 * i64::from(at));
            let civil = at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
            text.push_str(&format!("at = \"{}\"\n", civil.strftime("%Y-%m-%d %H:%M")));
        }
        if p.thread {
            text.push_str(&format!("\n[[post.thread]]\ntext = \"Reply to {i}\"\n"));
        }
        text.push('\n');
    }
    (!text.is_empty()).then_some(text)
}

/// A clock the test moves.
struct Settable(Mutex<Timestamp>);

impl Clock for Settable {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn config_text(db: &str) -> String {
    format!(
        "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://{db}\"\nkey = \"file:key\"\n\n\
         [queue]\nfiles = [\"posts/*.toml\"]\n\n[channels.blog]\nnetwork = \"webhook\"\n\
         url = \"https://blog.example.com/hooks/crieur\"\nsecret = \"env:BLOG_SECRET\"\n\
         cadence = [\"Mon 08:00\", \"Thu 08:00\"]\n\n[channels.x]\nnetwork = \"x\"\n\
         cadence = [\"cron:0 9 1,15 * *\"]\naccess_token = \"env:X_ACCESS_TOKEN\"\n"
    )
}

/// Every column of every delivery, one JSON text a row, by id.
async fn rows(db: &std::path::Path) -> Vec<String> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let rows = sqlx::query(
        "SELECT json_array(id, post, channel, item, network, state, due_at, text, link, payload,
             media, content_hash, attempt, retries_from, attempt_started_at, maybe_sent_since,
             lease_owner, lease_expires_at, not_before, first_unknown_at, remote_id, url, error,
             cancelled_by, published_at, created_at, updated_at) AS r
         FROM deliveries ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows.iter().map(|r| r.get::<String, _>("r")).collect()
}

/// Claims what is due on `syncer`'s store and settles it by the id's number: published, failed
/// or unknown.
async fn send_due(syncer: &Syncer, now: Timestamp) {
    let store = &syncer.store;
    let claimed = store.claim_due("test", now, SignedDuration::from_secs(60), 1000).await.unwrap();
    for c in claimed {
        let d = &c.delivery;
        let outcome = match d.id.len() % 3 {
            0 => Outcome::Rejected { kind: RejectKind::Invalid, reason: "no".into() },
            1 => Outcome::Unknown { reason: "timed out".into() },
            _ => Outcome::Published { remote_id: d.id.clone(), url: None },
        };
        store
            .complete("test", &d.id, d.attempt, &outcome, now, &RetryPolicy::default())
            .await
            .unwrap();
    }
}

async fn run(initial: Vec<P>, steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("key"), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n").unwrap();
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(path("key"), private).unwrap();
    std::fs::create_dir_all(path("posts")).unwrap();
    for (name, db) in [("inc.toml", "inc.db"), ("full.toml", "full.db")] {
        std::fs::write(path(name), config_text(&path(db).display().to_string())).unwrap();
    }
    let settable = Arc::new(Settable(Mutex::new(ts(NOW))));
    let clock: Arc<dyn Clock> = settable.clone();
    let mut syncers = Vec::new();
    for name in ["inc.toml", "full.toml"] {
        let config = crieur_config::load_config(&path(name)).unwrap();
        let store = crate::supervisor::open_store(&config, clock.clone()).await.unwrap();
        syncers.push(Syncer { config, store, clock: clock.clone() });
    }
    let mut queue = initial;
    let mut now = ts(NOW);
    for (n, step) in
        std::iter::once(Step { edits: Vec::new(), hours: 0, send: false }).chain(steps).enumerate()
    {
        for (i, p) in step.edits {
            queue[i] = p;
        }
        now += SignedDuration::from_hours(i64::from(step.hours));
        *settable.0.lock().unwrap() = now;
        for file in 0..FILES {
            let name = path(&format!("posts/f{file}.toml"));
            match file_text(&queue, file) {
                Some(text) => {
                    if std::fs::read_to_string(&name).ok().as_deref() != Some(text.as_str()) {
                        std::fs::write(&name, text).unwrap();
                    }
                }
                None => _ = std::fs::remove_file(&name),
            }
        }
        syncers[0].sync().await.unwrap();
        syncers[1].sync_full().await.unwrap();
        let (inc, full) = (rows(&path("inc.db")).await, rows(&path("full.db")).await);
        assert_eq!(inc, full, "step {n} at {now}: incremental (left) and full (right) differ");
        if step.send {
            send_due(&syncers[0], now).await;
            send_due(&syncers[1], now).await;
        }
    }
    for s in syncers {
        s.store.close().await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn an_incremental_sync_leaves_the_rows_a_full_sync_leaves(
        initial in proptest::collection::vec(post(), POSTS),
        steps in proptest::collection::vec(step(), 1..7),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(initial, steps));
    }
}
