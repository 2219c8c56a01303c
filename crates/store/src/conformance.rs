//! The conformance suite: every case is written once against `Arc<dyn Store>` and runs on a fresh
//! SQLite file and on a fresh PostgreSQL database (a scratch database created per test and
//! dropped after it). PostgreSQL comes from `CRIEUR_TEST_DATABASE_URL`, else a throwaway cluster
//! the test binary starts (`crieur-testkit`); when it cannot be reached the PostgreSQL tests
//! fail, saying why: they are never skipped.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use crieur_core::{
    ManualClock, MediaLedger, Network, Outcome, Reconciled, RejectKind, TokenVault, Tokens,
    UploadedMedia,
};
use jiff::{SignedDuration, Timestamp};
use sqlx::Connection;

use crate::{
    Applied, Backend, Completion, DesiredDelivery, Key, Lease, OpenOptions, Resolve, RetryPolicy,
    State, Store, StoreError, mask_url, open,
};

/// Monday 2026-03-23 08:00 UTC: the suite's "now".
fn t0() -> Timestamp {
    "2026-03-23T08:00:00Z".parse().unwrap()
}

fn at(minutes: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(minutes)
}

fn key() -> Key {
    Key::from_bytes([42; 32])
}

const LEASE: SignedDuration = SignedDuration::from_mins(5);

/// One backend under test.
struct Harness {
    store: Arc<dyn Store>,
    url: String,
    clock: Arc<ManualClock>,
    backend: Backend,
}

impl Harness {
    fn opts(&self) -> OpenOptions {
        OpenOptions { clock: self.clock.clone(), ..OpenOptions::new().with_key(key()) }
    }

    /// Another instance on the same database (PostgreSQL: its own pool).
    async fn another(&self, opts: OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
        open(&self.url, opts).await
    }
}

fn desired(post: &str, channel: &str, item: u32, due: Timestamp, text: &str) -> DesiredDelivery {
    DesiredDelivery {
        id: format!("{post}:{channel}:{item}"),
        post: post.into(),
        channel: channel.into(),
        item,
        network: Network::X,
        due_at: due,
        text: text.into(),
        link: Some("https://example.com/a?utm_source=x".into()),
        category: Some("hr".into()),
        article: None,
        media: Vec::new(),
        options: Default::default(),
    }
}

fn published(remote: &str) -> Outcome {
    Outcome::Published {
        remote_id: remote.into(),
        url: Some(format!("https://x.com/i/web/status/{remote}")),
    }
}

async fn state_of(store: &Arc<dyn Store>, id: &str) -> crate::StatusRow {
    let status = store.status().await.unwrap();
    status.deliveries.into_iter().find(|r| r.id == id).unwrap()
}

async fn complete(
    store: &Arc<dyn Store>,
    owner: &str,
    id: &str,
    attempt: u32,
    outcome: Outcome,
    now: Timestamp,
) -> Applied {
    store.complete(owner, id, attempt, &outcome, now, &RetryPolicy::default()).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// The runners.

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crieur.db").display());
    let clock = Arc::new(ManualClock::new(t0()));
    let opts = OpenOptions { clock: clock.clone(), ..OpenOptions::new().with_key(key()) };
    let store = open(&url, opts).await.unwrap();
    let h = Harness { store, url, clock, backend: Backend::Sqlite };
    let outcome = tokio::spawn(case(h)).await;
    drop(dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn admin_url() -> String {
    crieur_testkit::postgres::server_url()
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin = admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {} ({e}); the store's tests need it (CI={}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect <version> main start`, or set \
             CRIEUR_TEST_DATABASE_URL to a server where the user may create databases",
            mask_url(&admin),
            std::env::var("CI").unwrap_or_default()
        ),
    };
    let name = format!("crieur_test_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE template0")))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let clock = Arc::new(ManualClock::new(t0()));
    let opts = OpenOptions { clock: clock.clone(), ..OpenOptions::new().with_key(key()) };
    let store = open(&url, opts).await.unwrap();
    let keep = store.clone();
    let h = Harness { store, url, clock, backend: Backend::Postgres };
    let outcome = tokio::spawn(case(h)).await;
    keep.close().await;
    drop(keep);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_postgres(super::$case).await;
                }
            )*
        }
    };
}

conformance!(
    sync_is_idempotent,
    sync_edits_unpublished_cancels_removed_and_revives,
    edit_after_publish_is_reported_not_resent,
    each_outcome_leads_to_its_state,
    stale_owner_is_fenced,
    lapsed_lease_becomes_unknown_never_resent,
    heartbeat_keeps_the_lease,
    reconciliation_paths,
    retries_are_bounded_then_failed,
    thread_items_wait_for_the_previous_one,
    resolve_only_unknown_or_failed,
    concurrent_claimers_never_share_a_row,
    token_vault_round_trip_and_refresh_lock,
    media_ledger_records_and_replaces_uploads,
    wrong_or_missing_key_fails_cleanly,
    revoked_and_held_channels_wait,
    server_limits_are_kept_per_channel,
    next_due_is_the_earliest_ready_work,
    history_lists_what_went_out,
    read_only_open_reads_but_never_writes,
    throughput_of_batched_claims_and_completions,
    snapshots_are_due_at_their_offsets_and_never_touch_deliveries,
    media_lists_are_kept_and_claimed_with_their_delivery,
    a_partial_sync_touches_its_posts_moves_and_drops_and_keeps_the_index,
    the_summary_counts_what_status_lists,
    a_claim_ahead_takes_what_is_due_within_the_lead_and_nothing_held,
    post_options_are_kept_and_claimed_with_their_delivery,
);

// ---------------------------------------------------------------------------------------------
// The cases.

async fn a_partial_sync_touches_its_posts_moves_and_drops_and_keeps_the_index(h: Harness) {
    use crate::{DueMove, FileSync, IndexedFile};
    let s = &h.store;
    assert_eq!(s.file_index().await.unwrap(), crate::FileIndex::default(), "none at first");
    let file = |path: &str, hash: &str| IndexedFile {
        path: path.into(),
        hash: hash.into(),
        posts: format!("[\"{path}\"]"),
    };
    let all = vec![
        desired("a", "x", 0, at(10), "a"),
        desired("a", "x", 1, at(10), "a, reply"),
        desired("b", "x", 0, at(20), "b"),
        desired("c", "x", 0, at(30), "c"),
    ];
    let full = FileSync {
        desired: all.clone(),
        config: "v1".into(),
        files: vec![file("one.toml", "h1"), file("two.toml", "h2")],
        ..FileSync::default()
    };
    assert_eq!(s.sync_files(&full, t0()).await.unwrap().inserted, 4);
    let index = s.file_index().await.unwrap();
    assert_eq!(index.config.as_deref(), Some("v1"));
    assert_eq!(index.files, [file("one.toml", "h1"), file("two.toml", "h2")]);
    let mut placed = s.placed().await.unwrap();
    placed.sort_by(|x, y| x.post.cmp(&y.post));
    let firsts: Vec<(&str, Timestamp)> =
        placed.iter().map(|p| (p.post.as_str(), p.due_at)).collect();
    assert_eq!(firsts, [("a", at(10)), ("b", at(20)), ("c", at(30))], "item 0 of each, once");

    // b is edited (in scope); a moves (both items); c is no longer laid; two.toml is gone.
    let partial = FileSync {
        desired: vec![desired("b", "x", 0, at(20), "b, edited")],
        scope: Some(vec!["b".into()]),
        moves: vec![DueMove { post: "a".into(), channel: "x".into(), due_at: at(15) }],
        drops: vec![("c".into(), "x".into())],
        config: "v1".into(),
        files: vec![file("one.toml", "h1b")],
        removed: vec!["two.toml".into()],
    };
    let r = s.sync_files(&partial, at(1)).await.unwrap();
    assert_eq!((r.inserted, r.updated, r.cancelled), (0, 3, 1), "{r:?}");
    assert_eq!(state_of(s, "a:x:0").await.due_at, at(15));
    assert_eq!(state_of(s, "a:x:1").await.due_at, at(15));
    assert_eq!(state_of(s, "c:x:0").await.state, State::Cancelled);
    assert_eq!(s.file_index().await.unwrap().files, [file("one.toml", "h1b")]);
    // The same partial sync again changes no delivery.
    assert!(s.sync_files(&partial, at(2)).await.unwrap().is_noop());
    // A plain sync forgets the index: its rows may no longer match it.
    s.sync(&all, at(3)).await.unwrap();
    assert_eq!(s.file_index().await.unwrap().config, None);
}

async fn the_summary_counts_what_status_lists(h: Harness) {
    let s = &h.store;
    assert_eq!(s.summary().await.unwrap(), crate::QueueSummary::default());
    s.sync(
        &[
            desired("a", "x", 0, at(10), "a"),
            desired("b", "x", 0, at(5), "b"),
            desired("c", "li", 0, at(1), "c"),
        ],
        t0(),
    )
    .await
    .unwrap();
    let claimed = s.claim_due("me", at(1), LEASE, 1).await.unwrap();
    let c = &claimed[0].delivery;
    let unknown = Outcome::Unknown { reason: "timed out".into() };
    complete(s, "me", &c.id, c.attempt, unknown, at(1)).await;
    let summary = s.summary().await.unwrap();
    assert_eq!((summary.waiting, summary.unknown), (2, 1));
    assert_eq!(summary.next, Some(("x".to_owned(), at(5))));
    assert_eq!(
        summary.counts,
        [("li".to_owned(), State::Unknown, 1), ("x".to_owned(), State::Queued, 2)]
    );
    assert_eq!(summary.channels, s.status().await.unwrap().channels);
}

async fn a_claim_ahead_takes_what_is_due_within_the_lead_and_nothing_held(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, at(1), "a"), desired("b", "li", 0, at(1), "b")], t0())
        .await
        .unwrap();
    s.hold_channel("li", at(1), "rate limited", t0()).await.unwrap();
    let lead = SignedDuration::from_secs(1);
    let early = at(1) - lead - SignedDuration::from_millis(1);
    assert!(s.claim_ahead("me", early, early + lead, LEASE, 10).await.unwrap().is_empty());
    let now = at(1) - SignedDuration::from_millis(300);
    let claimed = s.claim_ahead("me", now, now + lead, LEASE, 10).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|c| c.delivery.id.as_str()).collect();
    assert_eq!(ids, ["a:x:0"], "the held channel waits for its hold to end at `now`");
    assert_eq!(claimed[0].due_at, at(1));
    assert_eq!(claimed[0].lease_expires_at, now + LEASE, "the lease runs from the claim");
    assert_eq!(claimed[0].delivery.attempt_started_at, now);
    assert_eq!(state_of(s, "a:x:0").await.state, State::Publishing);
}

/// Syncs `with` beside `without`, then `edited` in its place: one update, and the same again is
/// no change. Returns both deliveries claimed at their instant, `edited`'s first.
async fn edit_then_claim(
    h: &Harness,
    with: &DesiredDelivery,
    edited: &DesiredDelivery,
    without: &DesiredDelivery,
) -> Vec<crate::Claimed> {
    h.store.sync(&[with.clone(), without.clone()], t0()).await.unwrap();
    let r = h.store.sync(&[edited.clone(), without.clone()], at(1)).await.unwrap();
    assert_eq!(r.updated, 1, "{r:?}");
    assert!(h.store.sync(&[edited.clone(), without.clone()], at(2)).await.unwrap().is_noop());
    let mut claimed = h.store.claim_due("me", at(10), LEASE, 10).await.unwrap();
    claimed.sort_by(|a, b| a.delivery.post.cmp(&b.delivery.post));
    assert_eq!(claimed.len(), 2);
    claimed
}

async fn media_lists_are_kept_and_claimed_with_their_delivery(h: Harness) {
    let photo = |path: &str, alt: &str, keep: bool| crate::DeliveryMedia {
        path: path.into(),
        file: format!("/srv/posts/{path}").into(),
        alt: alt.into(),
        keep_metadata: keep,
    };
    let mut with = desired("a", "blog", 0, at(10), "two photos");
    with.media =
        vec![photo("media/team.jpg", "Six people", false), photo("desk.png", "A desk", true)];
    let without = desired("b", "blog", 0, at(10), "text only");
    // Changing the media (here, one alt text) is an edit; the same list again is not.
    let mut edited = with.clone();
    edited.media[1].alt = "A desk by a window".into();
    let claimed = edit_then_claim(&h, &with, &edited, &without).await;
    assert_eq!(claimed[0].media, edited.media);
    assert!(claimed[0].delivery.media.is_empty(), "the dispatcher reads the files, not the store");
    assert!(claimed[1].media.is_empty());
}

async fn post_options_are_kept_and_claimed_with_their_delivery(h: Harness) {
    let mut with = desired("a", "bsky", 0, at(10), "bonjour");
    with.options = crieur_core::PostOptions {
        lang: Some("fr".into()),
        visibility: Some(crieur_core::Visibility::Private),
        card: Some(crieur_core::LinkCard { title: "Lyon".into(), description: String::new() }),
    };
    let without = desired("b", "bsky", 0, at(10), "hello");
    // Changing an option (here, the language) is an edit; the same options again are not.
    let mut edited = with.clone();
    edited.options.lang = Some("fr-CA".into());
    let claimed = edit_then_claim(&h, &with, &edited, &without).await;
    assert_eq!(claimed[0].delivery.options, edited.options);
    assert!(claimed[1].delivery.options.is_empty(), "{:?}", claimed[1].delivery.options);
}

async fn sync_is_idempotent(h: Harness) {
    let set = vec![
        desired("a", "company-x", 0, at(10), "first"),
        desired("a", "company-li", 0, at(10), "first on linkedin"),
        desired("b", "company-x", 0, at(20), "second"),
    ];
    let r = h.store.sync(&set, t0()).await.unwrap();
    assert_eq!(r.inserted, 3);
    assert!(r.edited_after_publish.is_empty() && r.edited_in_flight.is_empty());
    let before = h.store.status().await.unwrap();
    assert_eq!(before.deliveries.len(), 3);
    assert!(before.deliveries.iter().all(|d| d.state == State::Queued && d.attempts == 0));
    assert_eq!(before.deliveries[0].due_at, at(10));
    let again = h.store.sync(&set, at(1)).await.unwrap();
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(h.store.status().await.unwrap(), before);
    // Bad input changes nothing.
    let mut dup = set.clone();
    dup.push(set[0].clone());
    let err = h.store.sync(&dup, at(2)).await.unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    assert_eq!(h.store.status().await.unwrap(), before);
}

async fn sync_edits_unpublished_cancels_removed_and_revives(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, at(10), "old"), desired("b", "x", 0, at(20), "b")], t0())
        .await
        .unwrap();
    // Edit a's text and move it; drop b.
    let r = s.sync(&[desired("a", "x", 0, at(5), "new text")], t0()).await.unwrap();
    assert_eq!((r.inserted, r.updated, r.cancelled, r.revived), (0, 1, 1, 0));
    let b = state_of(s, "b:x:0").await;
    assert_eq!(b.state, State::Cancelled);
    assert_eq!(b.error.as_deref(), Some("removed from the post files"));
    let claimed = s.claim_due("me", at(5), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].delivery.text, "new text");
    assert_eq!(claimed[0].due_at, at(5));
    assert_eq!(claimed[0].delivery.category.as_deref(), Some("hr"));
    // b comes back: queued again, with its new content.
    let r = s
        .sync(&[desired("a", "x", 0, at(5), "new text"), desired("b", "x", 0, at(30), "b2")], at(6))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.revived, r.cancelled), (0, 0, 1, 0));
    // a is publishing: an edit now is reported, not applied.
    assert_eq!(r.edited_in_flight, Vec::<String>::new());
    let r = s
        .sync(
            &[desired("a", "x", 0, at(5), "edited late"), desired("b", "x", 0, at(30), "b2")],
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(r.edited_in_flight, vec!["a:x:0".to_owned()]);
    assert!(r.is_noop());
    let b = state_of(s, "b:x:0").await;
    assert_eq!((b.state, b.due_at, b.error), (State::Queued, at(30), None));
    // A delivery cancelled with `resolve` stays cancelled when the files still list it.
    let c = s.claim_due("me", at(30), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    let id = c[0].delivery.id.clone();
    complete(
        s,
        "me",
        &id,
        1,
        Outcome::Rejected { kind: RejectKind::Invalid, reason: "too long".into() },
        at(30),
    )
    .await;
    s.resolve("b", "x", &Resolve::Cancel, at(31)).await.unwrap();
    let r = s
        .sync(
            &[desired("a", "x", 0, at(5), "edited late"), desired("b", "x", 0, at(30), "b3")],
            at(32),
        )
        .await
        .unwrap();
    assert_eq!(r.revived, 0);
    assert_eq!(state_of(s, "b:x:0").await.state, State::Cancelled);
}

async fn edit_after_publish_is_reported_not_resent(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, at(0), "as sent")], t0()).await.unwrap();
    let c = s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    complete(s, "me", &c[0].delivery.id, 1, published("111"), at(1)).await;
    let r = s.sync(&[desired("a", "x", 0, at(0), "changed afterwards")], at(2)).await.unwrap();
    assert_eq!(r.edited_after_publish, vec!["a:x:0".to_owned()]);
    assert!(r.is_noop());
    assert!(s.claim_due("me", at(3), LEASE, 10).await.unwrap().is_empty());
    let history = s.history(t0()).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text, "as sent");
    // A published delivery no longer in the files is kept as it is.
    let r = s.sync(&[], at(4)).await.unwrap();
    assert_eq!(r.cancelled, 0);
    assert_eq!(state_of(s, "a:x:0").await.state, State::Published);
}

async fn each_outcome_leads_to_its_state(h: Harness) {
    let s = &h.store;
    let posts = ["pub", "retry", "wait", "reject", "unauth", "unknown"];
    let set: Vec<_> = posts.iter().map(|p| desired(p, "x", 0, t0(), p)).collect();
    s.sync(&set, t0()).await.unwrap();
    let claimed = s.claim_due("me", t0(), LEASE, 100).await.unwrap();
    assert_eq!(claimed.len(), 6);
    for c in &claimed {
        assert_eq!(c.delivery.attempt, 1);
        assert_eq!(c.delivery.attempt_started_at, t0());
        assert!(!c.delivery.may_have_been_sent && !c.reconciling);
        assert_eq!(c.lease_expires_at, t0() + LEASE);
        assert_eq!(state_of(s, &c.delivery.id).await.state, State::Publishing);
    }
    let now = at(1);
    let later = at(90);
    let done = vec![
        Completion { id: "pub:x:0".into(), attempt: 1, outcome: published("42") },
        Completion {
            id: "retry:x:0".into(),
            attempt: 1,
            outcome: Outcome::Retry { reason: "connection refused".into(), not_before: None },
        },
        Completion {
            id: "wait:x:0".into(),
            attempt: 1,
            outcome: Outcome::Retry { reason: "429".into(), not_before: Some(later) },
        },
        Completion {
            id: "reject:x:0".into(),
            attempt: 1,
            outcome: Outcome::Rejected {
                kind: RejectKind::Duplicate,
                reason: "already posted".into(),
            },
        },
        Completion {
            id: "unauth:x:0".into(),
            attempt: 1,
            outcome: Outcome::Unauthorized { reason: "token expired".into() },
        },
        Completion {
            id: "unknown:x:0".into(),
            attempt: 1,
            outcome: Outcome::Unknown { reason: "timeout after send".into() },
        },
    ];
    let applied = s.complete_many("me", &done, now, &RetryPolicy::default()).await.unwrap();
    let states: Vec<_> = applied
        .iter()
        .map(|a| match a {
            Applied::Settled { state, .. } => *state,
            Applied::Fenced => panic!("fenced: {applied:?}"),
        })
        .collect();
    assert_eq!(
        states,
        [
            State::Published,
            State::Retrying,
            State::Retrying,
            State::Failed,
            State::Retrying,
            State::Unknown
        ]
    );
    let p = state_of(s, "pub:x:0").await;
    assert_eq!(p.remote_id.as_deref(), Some("42"));
    assert_eq!(p.url.as_deref(), Some("https://x.com/i/web/status/42"));
    assert_eq!(p.published_at, Some(now));
    assert_eq!(p.attempts, 1);
    let r = state_of(s, "retry:x:0").await;
    let nb = r.not_before.unwrap();
    let policy = RetryPolicy::default();
    assert!(nb >= now + policy.ceiling(1) / 2 && nb <= now + policy.ceiling(1), "{nb}");
    assert_eq!(r.error.as_deref(), Some("connection refused"));
    assert_eq!(state_of(s, "wait:x:0").await.not_before, Some(later));
    let f = state_of(s, "reject:x:0").await;
    assert_eq!(f.error.as_deref(), Some("duplicate: already posted"));
    let u = state_of(s, "unauth:x:0").await;
    assert!(u.error.unwrap().contains("token expired"));
    let k = state_of(s, "unknown:x:0").await;
    assert_eq!(k.error.as_deref(), Some("timeout after send"));
    // Only the retries come back, once their time has come; never the unknown one.
    let again = s.claim_due("me", at(60), LEASE, 100).await.unwrap();
    let ids: HashSet<_> = again.iter().map(|c| c.delivery.id.as_str()).collect();
    assert_eq!(ids, HashSet::from(["retry:x:0", "unauth:x:0"]));
    assert!(again.iter().all(|c| c.delivery.attempt == 2));
    let last = s.claim_due("me", later, LEASE, 100).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].delivery.id, "wait:x:0");
}

async fn stale_owner_is_fenced(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, t0(), "a"), desired("b", "x", 0, t0(), "b")], t0())
        .await
        .unwrap();
    let c = s.claim_due("owner-a", t0(), LEASE, 1).await.unwrap();
    let id = c[0].delivery.id.clone();
    assert_eq!(complete(s, "owner-b", &id, 1, published("1"), at(1)).await, Applied::Fenced);
    assert_eq!(complete(s, "owner-a", &id, 2, published("1"), at(1)).await, Applied::Fenced);
    assert_eq!(state_of(s, &id).await.state, State::Publishing);
    assert!(matches!(
        complete(s, "owner-a", &id, 1, published("1"), at(1)).await,
        Applied::Settled { state: State::Published, .. }
    ));
    // Twice is refused: the lease is gone once the outcome is recorded.
    let again = Outcome::Retry { reason: "late".into(), not_before: None };
    assert_eq!(complete(s, "owner-a", &id, 1, again, at(2)).await, Applied::Fenced);
    assert_eq!(state_of(s, &id).await.state, State::Published);
    // In one batch, the same id twice: the second is fenced; an unknown id too.
    let c = s.claim_due("owner-a", at(3), LEASE, 1).await.unwrap();
    let id = c[0].delivery.id.clone();
    let batch = vec![
        Completion { id: id.clone(), attempt: 1, outcome: published("2") },
        Completion { id: id.clone(), attempt: 1, outcome: published("3") },
        Completion { id: "nope".into(), attempt: 1, outcome: published("4") },
    ];
    let applied = s.complete_many("owner-a", &batch, at(4), &RetryPolicy::default()).await.unwrap();
    assert!(matches!(applied[0], Applied::Settled { state: State::Published, .. }));
    assert_eq!(&applied[1..], &[Applied::Fenced, Applied::Fenced]);
    assert_eq!(state_of(s, &id).await.remote_id.as_deref(), Some("2"));
}

async fn lapsed_lease_becomes_unknown_never_resent(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, t0(), "a")], t0()).await.unwrap();
    let c = s.claim_due("crashed", t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    // Before the lease lapses nothing happens.
    assert_eq!(s.rescue_expired(at(4)).await.unwrap(), 0);
    assert!(s.claim_due("other", at(4), LEASE, 10).await.unwrap().is_empty());
    // Another instance claiming after the lapse rescues it to unknown and does not take it.
    assert!(s.claim_due("other", at(6), LEASE, 10).await.unwrap().is_empty());
    let row = state_of(s, "a:x:0").await;
    assert_eq!(row.state, State::Unknown);
    assert!(row.error.unwrap().starts_with("lease expired"));
    // The crashed owner coming back late is fenced.
    assert_eq!(complete(s, "crashed", "a:x:0", 1, published("9"), at(7)).await, Applied::Fenced);
    assert_eq!(state_of(s, "a:x:0").await.state, State::Unknown);
    // rescue_expired on its own does the same.
    s.sync(&[desired("a", "x", 0, t0(), "a"), desired("b", "x", 0, t0(), "b")], at(8))
        .await
        .unwrap();
    s.claim_due("crashed", at(8), LEASE, 10).await.unwrap();
    assert_eq!(s.rescue_expired(at(20)).await.unwrap(), 1);
    assert_eq!(state_of(s, "b:x:0").await.state, State::Unknown);
}

async fn heartbeat_keeps_the_lease(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, t0(), "a")], t0()).await.unwrap();
    let c = s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    let lease = Lease { id: c[0].delivery.id.clone(), attempt: 1 };
    assert_eq!(s.heartbeat("me", std::slice::from_ref(&lease), at(4), LEASE).await.unwrap(), 1);
    let wrong =
        [Lease { id: lease.id.clone(), attempt: 2 }, Lease { id: "missing".into(), attempt: 1 }];
    assert_eq!(s.heartbeat("me", &wrong, at(4), LEASE).await.unwrap(), 0);
    assert_eq!(s.heartbeat("thief", std::slice::from_ref(&lease), at(4), LEASE).await.unwrap(), 0);
    // Renewed to 4 + 5 minutes: still held at 8.
    assert_eq!(s.rescue_expired(at(8)).await.unwrap(), 0);
    assert_eq!(s.next_due(at(8)).await.unwrap(), Some(at(9)));
    assert_eq!(s.rescue_expired(at(9)).await.unwrap(), 1);
    assert_eq!(s.heartbeat("me", &[lease], at(9), LEASE).await.unwrap(), 0);
}

async fn reconciliation_paths(h: Harness) {
    let s = &h.store;
    let policy = RetryPolicy::default();
    s.sync(&[desired("a", "x", 0, t0(), "a"), desired("b", "x", 0, t0(), "b")], t0())
        .await
        .unwrap();
    s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    for id in ["a:x:0", "b:x:0"] {
        let out = Outcome::Unknown { reason: "reset after send".into() };
        complete(s, "me", id, 1, out, at(1)).await;
    }
    // Claimed for reconciliation: same attempt, not for sending.
    let r = s.unknown_to_reconcile("rec", at(2), LEASE, 10).await.unwrap();
    assert_eq!(r.len(), 2);
    for c in &r {
        assert!(c.reconciling && c.delivery.may_have_been_sent);
        assert_eq!(c.delivery.attempt, 1);
        assert_eq!(c.delivery.attempt_started_at, t0());
        let row = state_of(s, &c.delivery.id).await;
        assert_eq!(row.state, State::Unknown, "reconciling shows as unknown");
        assert!(row.reconciling);
    }
    assert!(s.claim_due("me", at(2), LEASE, 10).await.unwrap().is_empty());
    assert!(s.unknown_to_reconcile("rec2", at(2), LEASE, 10).await.unwrap().is_empty());
    // A stale reconciler is fenced; `complete` cannot touch a reconciling row.
    let found = Reconciled::Found { remote_id: "77".into(), url: None };
    let stale = s.settle_reconciled("other", "a:x:0", 1, &found, at(3), &policy).await.unwrap();
    assert_eq!(stale, Applied::Fenced);
    assert_eq!(complete(s, "rec", "a:x:0", 1, published("1"), at(3)).await, Applied::Fenced);
    // Found -> published.
    let a = s.settle_reconciled("rec", "a:x:0", 1, &found, at(3), &policy).await.unwrap();
    assert!(matches!(a, Applied::Settled { state: State::Published, .. }));
    assert_eq!(state_of(s, "a:x:0").await.remote_id.as_deref(), Some("77"));
    // NotFound -> retrying after the backoff of attempt 1 (at most 30 s); the next attempt knows
    // it may have been sent since t0.
    let b = s.settle_reconciled("rec", "b:x:0", 1, &Reconciled::NotFound, at(3), &policy).await;
    let Applied::Settled { state: State::Retrying, not_before } = b.unwrap() else {
        panic!("not retrying")
    };
    let not_before = not_before.unwrap_or(at(3));
    assert!(not_before >= at(3) && not_before <= at(3) + policy.ceiling(1), "{not_before}");
    let c = s.claim_due("me", at(3) + policy.ceiling(1), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].delivery.attempt, 2);
    assert!(c[0].delivery.may_have_been_sent);
    assert_eq!(c[0].delivery.attempt_started_at, t0());
    // Unknown again, then "cannot tell": back to unknown, looked at again an hour later.
    complete(s, "me", "b:x:0", 2, Outcome::Unknown { reason: "503".into() }, at(4)).await;
    let r = s.unknown_to_reconcile("rec", at(5), LEASE, 10).await.unwrap();
    assert_eq!(r.len(), 1);
    let cannot = Reconciled::CannotTell { reason: "the timeline cannot be read".into() };
    let a = s.settle_reconciled("rec", "b:x:0", 2, &cannot, at(5), &policy).await.unwrap();
    assert_eq!(
        a,
        Applied::Settled {
            state: State::Unknown,
            not_before: Some(at(5) + policy.reconcile_every)
        }
    );
    let row = state_of(s, "b:x:0").await;
    assert_eq!(row.error.as_deref(), Some("the timeline cannot be read"));
    assert!(!row.reconciling);
    assert!(s.unknown_to_reconcile("rec", at(6), LEASE, 10).await.unwrap().is_empty());
    assert_eq!(s.unknown_to_reconcile("rec", at(65), LEASE, 10).await.unwrap().len(), 1);
    // A reconciler that dies: its lease lapses and the row is unknown again, not publishing.
    assert_eq!(s.rescue_expired(at(71)).await.unwrap(), 0);
    assert_eq!(s.unknown_to_reconcile("rec", at(71), LEASE, 10).await.unwrap().len(), 1);
}

async fn retries_are_bounded_then_failed(h: Harness) {
    let s = &h.store;
    let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    s.sync(&[desired("a", "x", 0, t0(), "a")], t0()).await.unwrap();
    // A refused token does not spend the budget.
    s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    let out = Outcome::Unauthorized { reason: "expired token".into() };
    s.complete("me", "a:x:0", 1, &out, t0(), &policy).await.unwrap();
    let mut now = t0() + SignedDuration::from_hours(7);
    let mut last = None;
    for attempt in 2..=4 {
        let c = s.claim_due("me", now, LEASE, 10).await.unwrap();
        assert_eq!(c.len(), 1, "attempt {attempt}");
        assert_eq!(c[0].delivery.attempt, attempt);
        let out = Outcome::Retry { reason: format!("refused #{attempt}"), not_before: None };
        last = Some(s.complete("me", "a:x:0", attempt, &out, now, &policy).await.unwrap());
        now += SignedDuration::from_hours(7);
    }
    assert_eq!(last, Some(Applied::Settled { state: State::Failed, not_before: None }));
    let row = state_of(s, "a:x:0").await;
    assert_eq!(row.error.as_deref(), Some("gave up after 3 attempts; the last: refused #4"));
    assert!(s.claim_due("me", now, LEASE, 10).await.unwrap().is_empty());
    // `resolve --retry` gives a fresh budget.
    let r = s.resolve("a", "x", &Resolve::Retry, now).await.unwrap();
    assert_eq!((r.from, r.to), (State::Failed, State::Retrying));
    let c = s.claim_due("me", now, LEASE, 10).await.unwrap();
    assert_eq!(c[0].delivery.attempt, 5);
    let out = Outcome::Retry { reason: "again".into(), not_before: None };
    let a = s.complete("me", "a:x:0", 5, &out, now, &policy).await.unwrap();
    assert!(matches!(a, Applied::Settled { state: State::Retrying, .. }));
}

async fn thread_items_wait_for_the_previous_one(h: Harness) {
    let s = &h.store;
    let set: Vec<_> = (0..3).map(|i| desired("t", "x", i, t0(), &format!("part {i}"))).collect();
    s.sync(&set, t0()).await.unwrap();
    let c = s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].delivery.item, c[0].delivery.reply_to.as_deref()), (0, None));
    // Items 1 and 2 are due but blocked: the loop sleeps until the lease, not "now".
    assert_eq!(s.next_due(t0()).await.unwrap(), Some(t0() + LEASE));
    assert!(s.claim_due("me", t0(), LEASE, 10).await.unwrap().is_empty());
    complete(s, "me", "t:x:0", 1, published("r0"), at(1)).await;
    let c = s.claim_due("me", at(1), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].delivery.item, c[0].delivery.reply_to.as_deref()), (1, Some("r0")));
    // A failure stops the thread: item 2 waits.
    let out = Outcome::Rejected { kind: RejectKind::Invalid, reason: "too long".into() };
    complete(s, "me", "t:x:1", 1, out, at(2)).await;
    assert!(s.claim_due("me", at(2), LEASE, 10).await.unwrap().is_empty());
    assert_eq!(s.next_due(at(2)).await.unwrap(), None);
    // Fixed (resolve: it went out by hand), item 2 goes, replying to it.
    let published = Resolve::Published {
        url: "https://x.com/i/web/status/r1".into(),
        remote_id: Some("r1".into()),
    };
    s.resolve("t", "x", &published, at(3)).await.unwrap();
    let c = s.claim_due("me", at(3), LEASE, 10).await.unwrap();
    assert_eq!((c[0].delivery.item, c[0].delivery.reply_to.as_deref()), (2, Some("r1")));
}

async fn resolve_only_unknown_or_failed(h: Harness) {
    let s = &h.store;
    let set = vec![
        desired("q", "x", 0, at(60), "q"),
        desired("u", "x", 0, t0(), "u"),
        desired("u", "x", 1, t0(), "u1"),
        desired("f", "x", 0, t0(), "f"),
    ];
    s.sync(&set, t0()).await.unwrap();
    let err = s.resolve("q", "x", &Resolve::Retry, t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotResolvable { .. }));
    assert!(err.to_string().contains("is queued"), "{err}");
    let err = s.resolve("nope", "x", &Resolve::Cancel, t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    complete(s, "me", "u:x:0", 1, Outcome::Unknown { reason: "timeout".into() }, at(1)).await;
    let out = Outcome::Rejected { kind: RejectKind::Forbidden, reason: "no".into() };
    complete(s, "me", "f:x:0", 1, out, at(1)).await;
    // Published by hand: the URL is recorded.
    let url = "https://x.com/i/web/status/5".to_owned();
    let r = s
        .resolve("u", "x", &Resolve::Published { url: url.clone(), remote_id: None }, at(2))
        .await
        .unwrap();
    assert_eq!(
        (r.id.as_str(), r.item, r.from, r.to),
        ("u:x:0", 0, State::Unknown, State::Published)
    );
    let row = state_of(s, "u:x:0").await;
    assert_eq!((row.state, row.url), (State::Published, Some(url)));
    // Now published: refused, naming the state.
    let err = s.resolve("f", "x", &Resolve::Retry, at(2)).await.unwrap();
    assert_eq!(err.from, State::Failed);
    s.claim_due("me", at(2), LEASE, 10).await.unwrap();
    // u:x:1 was claimed (reply to u:x:0); make it unknown and cancel it.
    complete(s, "me", "u:x:1", 1, Outcome::Unknown { reason: "reset".into() }, at(3)).await;
    let r = s.resolve("u", "x", &Resolve::Cancel, at(4)).await.unwrap();
    assert_eq!((r.item, r.to), (1, State::Cancelled));
    let err = s.resolve("u", "x", &Resolve::Cancel, at(4)).await.unwrap_err();
    assert!(err.to_string().contains("published, cancelled"), "{err}");
}

async fn concurrent_claimers_never_share_a_row(h: Harness) {
    let set: Vec<_> =
        (0..1000).map(|i| desired(&format!("p{i:04}"), "x", 0, t0(), "concurrent")).collect();
    h.store.sync(&set, t0()).await.unwrap();
    // Each worker holds its first batch until all four have one, so every worker claims while
    // the others hold rows, however the runtime happens to schedule them.
    let first_batches = Arc::new(tokio::sync::Barrier::new(4));
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let first_batches = first_batches.clone();
        // PostgreSQL: each worker is its own instance (own pool). SQLite: one instance per file,
        // so the workers share it.
        let own_instance = h.backend == Backend::Postgres;
        let store = match h.backend {
            Backend::Postgres => h
                .another(OpenOptions { migrate: false, max_connections: Some(2), ..h.opts() })
                .await
                .unwrap(),
            Backend::Sqlite => h.store.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{worker}");
            let mut mine = Vec::new();
            let mut first = true;
            loop {
                let batch = store.claim_due(&owner, at(1), LEASE, 25).await.unwrap();
                if first {
                    assert_eq!(batch.len(), 25, "1,000 rows leave a full first batch to each");
                    first_batches.wait().await;
                    first = false;
                }
                if batch.is_empty() {
                    break;
                }
                let done: Vec<_> = batch
                    .iter()
                    .map(|c| Completion {
                        id: c.delivery.id.clone(),
                        attempt: c.delivery.attempt,
                        outcome: published(&format!("{owner}/{}", c.delivery.id)),
                    })
                    .collect();
                let applied = store
                    .complete_many(&owner, &done, at(1), &RetryPolicy::default())
                    .await
                    .unwrap();
                assert!(applied.iter().all(|a| matches!(a, Applied::Settled { .. })));
                mine.extend(batch.into_iter().map(|c| c.delivery.id));
                tokio::task::yield_now().await;
            }
            if own_instance {
                store.close().await;
            }
            mine
        }));
    }
    let mut all = Vec::new();
    let mut workers_with_rows = 0;
    for t in tasks {
        let mine = t.await.unwrap();
        workers_with_rows += usize::from(!mine.is_empty());
        all.extend(mine);
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 1000, "every row claimed exactly once");
    assert_eq!(distinct.len(), 1000);
    assert_eq!(workers_with_rows, 4, "the claims were concurrent");
    let status = h.store.status().await.unwrap();
    assert!(status.deliveries.iter().all(|d| d.state == State::Published && d.attempts == 1));
}

async fn token_vault_round_trip_and_refresh_lock(h: Harness) {
    let vault: Arc<dyn TokenVault> = h.store.clone();
    assert_eq!(vault.load("company-x").await.unwrap(), None);
    let tokens = Tokens {
        access_token: "ACCESS-TOKEN-0123456789".into(),
        refresh_token: Some("REFRESH-TOKEN-9876543210".into()),
        expires_at: Some(at(120)),
    };
    vault.save("company-x", &tokens).await.unwrap();
    assert_eq!(vault.load("company-x").await.unwrap(), Some(tokens.clone()));
    assert_eq!(vault.load("company-li").await.unwrap(), None);
    let rotated = Tokens { refresh_token: Some("REFRESH-2".into()), ..tokens.clone() };
    vault.save("company-x", &rotated).await.unwrap();
    assert_eq!(vault.load("company-x").await.unwrap(), Some(rotated));
    let status = h.store.status().await.unwrap();
    let ch = status.channels.iter().find(|c| c.channel == "company-x").unwrap();
    assert_eq!(
        (ch.token_expires_at, ch.has_tokens, ch.revoked.as_deref()),
        (Some(at(120)), true, None)
    );
    // The refresh lock: one owner at a time, re-entrant, free after its TTL or unlock.
    let ttl = SignedDuration::from_mins(1);
    assert!(vault.try_lock_refresh("company-x", "a", ttl).await.unwrap());
    assert!(!vault.try_lock_refresh("company-x", "b", ttl).await.unwrap());
    assert!(vault.try_lock_refresh("company-x", "a", ttl).await.unwrap());
    assert!(vault.try_lock_refresh("company-li", "b", ttl).await.unwrap());
    vault.unlock_refresh("company-x", "b").await.unwrap();
    assert!(!vault.try_lock_refresh("company-x", "b", ttl).await.unwrap(), "b cannot unlock a's");
    vault.unlock_refresh("company-x", "a").await.unwrap();
    assert!(vault.try_lock_refresh("company-x", "b", ttl).await.unwrap());
    h.clock.advance(SignedDuration::from_secs(61));
    assert!(vault.try_lock_refresh("company-x", "c", ttl).await.unwrap(), "b's lock lapsed");
    if h.backend == Backend::Postgres {
        // Another instance sees the same lock.
        let other = h.another(OpenOptions { migrate: false, ..h.opts() }).await.unwrap();
        assert!(!other.try_lock_refresh("company-x", "d", ttl).await.unwrap());
        assert_eq!(
            other.load("company-x").await.unwrap().unwrap().access_token,
            tokens.access_token
        );
        other.close().await;
    }
}

async fn media_ledger_records_and_replaces_uploads(h: Harness) {
    let ledger: Arc<dyn MediaLedger> = h.store.clone();
    assert_eq!(ledger.lookup("company-x", "abc123").await.unwrap(), None);
    let first = UploadedMedia {
        remote_id: "1880028106020515840".into(),
        expires_at: Some(at(24 * 60)),
        uploaded_at: at(0),
    };
    ledger.record("company-x", "abc123", &first).await.unwrap();
    assert_eq!(ledger.lookup("company-x", "abc123").await.unwrap(), Some(first.clone()));
    assert_eq!(ledger.lookup("company-li", "abc123").await.unwrap(), None, "per channel");
    assert_eq!(ledger.lookup("company-x", "abc124").await.unwrap(), None, "per key");
    // A second upload of the same bytes (the first expired) replaces the record.
    let again = UploadedMedia {
        remote_id: "1880028106020515999".into(),
        expires_at: Some(at(48 * 60)),
        uploaded_at: at(25 * 60),
    };
    ledger.record("company-x", "abc123", &again).await.unwrap();
    assert_eq!(ledger.lookup("company-x", "abc123").await.unwrap(), Some(again.clone()));
    // No expiry is kept as none.
    let urn = UploadedMedia {
        remote_id: "urn:li:image:C4E10AQ".into(),
        expires_at: None,
        uploaded_at: at(1),
    };
    ledger.record("company-li", "abc123", &urn).await.unwrap();
    assert_eq!(ledger.lookup("company-li", "abc123").await.unwrap(), Some(urn));
    // Durable: another instance (PostgreSQL) or a read-only open (SQLite) reads the same row,
    // and a read-only store refuses to record.
    let other = match h.backend {
        Backend::Postgres => h.another(OpenOptions { migrate: false, ..h.opts() }).await.unwrap(),
        Backend::Sqlite => h.another(OpenOptions::read_only()).await.unwrap(),
    };
    assert_eq!(other.lookup("company-x", "abc123").await.unwrap(), Some(again.clone()));
    if h.backend == Backend::Sqlite {
        let err = other.record("company-x", "zzz", &again).await.unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(chain.contains("read-only"), "{chain}");
    }
    other.close().await;
}

async fn wrong_or_missing_key_fails_cleanly(h: Harness) {
    let tokens =
        Tokens { access_token: "SECRET-ACCESS".into(), refresh_token: None, expires_at: None };
    h.store.save("company-x", &tokens).await.unwrap();
    let (wrong, nokey) = match h.backend {
        Backend::Postgres => {
            let wrong =
                OpenOptions { migrate: false, key: Some(Key::from_bytes([1; 32])), ..h.opts() };
            let nokey = OpenOptions { migrate: false, key: None, ..h.opts() };
            (h.another(wrong).await.unwrap(), h.another(nokey).await.unwrap())
        }
        Backend::Sqlite => {
            // One instance per file: read-only opens take no lock.
            let wrong =
                OpenOptions { key: Some(Key::from_bytes([1; 32])), ..OpenOptions::read_only() };
            (h.another(wrong).await.unwrap(), h.another(OpenOptions::read_only()).await.unwrap())
        }
    };
    let err = wrong.load("company-x").await.unwrap_err().to_string();
    assert!(err.contains("cannot be decrypted") && err.contains("crieur auth company-x"), "{err}");
    assert!(!err.contains("SECRET"), "{err}");
    let err = nokey.load("company-x").await.unwrap_err().to_string();
    assert!(err.contains("openssl rand -base64 32"), "{err}");
    if h.backend == Backend::Postgres {
        let err = nokey.save("company-x", &tokens).await.unwrap_err().to_string();
        assert!(err.contains("openssl rand -base64 32") && err.contains("[storage] key"), "{err}");
    }
    wrong.close().await;
    nokey.close().await;
}

async fn server_limits_are_kept_per_channel(h: Harness) {
    let s = &h.store;
    assert!(s.server_limits().await.unwrap().is_empty());
    let mut limits = crieur_core::store::ServerLimits {
        instance: "https://social.example".into(),
        max_characters: Some(1000),
        characters_per_url: Some(23),
        max_media: None,
        fetched_at: at(1),
    };
    s.save_server_limits("fediverse", &limits).await.unwrap();
    limits.max_characters = Some(5000);
    limits.fetched_at = at(2);
    s.save_server_limits("fediverse", &limits).await.unwrap();
    let all = s.server_limits().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all["fediverse"], limits);
}

async fn revoked_and_held_channels_wait(h: Harness) {
    let s = &h.store;
    s.sync(
        &[
            desired("a", "revoked", 0, t0(), "a"),
            desired("b", "held", 0, t0(), "b"),
            desired("c", "free", 0, t0(), "c"),
        ],
        t0(),
    )
    .await
    .unwrap();
    s.mark_revoked("revoked", "refresh token refused (invalid_grant)").await.unwrap();
    assert_eq!(
        s.revoked("revoked").await.unwrap().as_deref(),
        Some("refresh token refused (invalid_grant)")
    );
    assert_eq!(s.revoked("free").await.unwrap(), None);
    s.hold_channel("held", at(30), "x-rate-limit-reset", t0()).await.unwrap();
    let c = s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.iter().map(|c| c.delivery.channel.as_str()).collect::<Vec<_>>(), ["free"]);
    assert_eq!(s.next_due(t0()).await.unwrap(), Some(t0() + LEASE));
    complete(s, "me", "c:free:0", 1, published("1"), t0()).await;
    assert_eq!(s.next_due(t0()).await.unwrap(), Some(at(30)), "held until 30, revoked never");
    let status = s.status().await.unwrap();
    let held = status.channels.iter().find(|c| c.channel == "held").unwrap();
    assert_eq!(held.hold, Some((at(30), "x-rate-limit-reset".to_owned())));
    let revoked = status.channels.iter().find(|c| c.channel == "revoked").unwrap();
    assert!(revoked.revoked.is_some() && !revoked.has_tokens);
    assert_eq!(s.claim_due("me", at(30), LEASE, 10).await.unwrap().len(), 1);
    s.hold_channel("free", at(90), "gone", at(30)).await.unwrap();
    s.release_channel("free").await.unwrap();
    // New tokens lift the revocation.
    let tokens = Tokens { access_token: "t".into(), refresh_token: None, expires_at: None };
    s.save("revoked", &tokens).await.unwrap();
    assert_eq!(s.revoked("revoked").await.unwrap(), None);
    assert_eq!(s.claim_due("me", at(31), LEASE, 10).await.unwrap().len(), 1);
}

async fn next_due_is_the_earliest_ready_work(h: Harness) {
    let s = &h.store;
    assert_eq!(s.next_due(t0()).await.unwrap(), None);
    s.sync(&[desired("a", "x", 0, at(10), "a"), desired("b", "y", 0, at(20), "b")], t0())
        .await
        .unwrap();
    assert_eq!(s.next_due(t0()).await.unwrap(), Some(at(10)));
    s.hold_channel("x", at(30), "rate limit", t0()).await.unwrap();
    assert_eq!(s.next_due(t0()).await.unwrap(), Some(at(20)));
    s.release_channel("x").await.unwrap();
    let c = s.claim_due("me", at(10), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    let out = Outcome::Retry { reason: "429".into(), not_before: Some(at(40)) };
    complete(s, "me", "a:x:0", 1, out, at(11)).await;
    assert_eq!(s.next_due(at(11)).await.unwrap(), Some(at(20)));
    s.sync(&[desired("a", "x", 0, at(10), "a")], at(12)).await.unwrap();
    assert_eq!(s.next_due(at(12)).await.unwrap(), Some(at(40)), "b cancelled, a waits for 40");
    // An unknown delivery is work now (reconciliation).
    let c = s.claim_due("me", at(40), LEASE, 10).await.unwrap();
    complete(s, "me", &c[0].delivery.id, 2, Outcome::Unknown { reason: "reset".into() }, at(41))
        .await;
    assert_eq!(s.next_due(at(41)).await.unwrap(), Some(at(41)));
}

async fn history_lists_what_went_out(h: Harness) {
    let s = &h.store;
    s.sync(&[desired("a", "x", 0, t0(), "first"), desired("b", "x", 0, at(30), "second")], t0())
        .await
        .unwrap();
    s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    complete(s, "me", "a:x:0", 1, published("1"), at(1)).await;
    s.claim_due("me", at(30), LEASE, 10).await.unwrap();
    complete(s, "me", "b:x:0", 1, published("2"), at(31)).await;
    let all = s.history(t0()).await.unwrap();
    assert_eq!(
        all.iter().map(|e| (e.post.as_str(), e.text.as_str(), e.published_at)).collect::<Vec<_>>(),
        [("a", "first", at(1)), ("b", "second", at(31))]
    );
    assert_eq!(all[0].network, Network::X);
    assert_eq!(all[1].remote_id.as_deref(), Some("2"));
    let recent = s.history(at(2)).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].post, "b");
}

async fn snapshots_are_due_at_their_offsets_and_never_touch_deliveries(h: Harness) {
    use crieur_core::engagement::{Metrics, Snapshot};
    let s = &h.store;
    let day = SignedDuration::from_hours(24);
    let after = [day, day * 7];
    s.sync(&[desired("a", "x", 0, t0(), "first"), desired("b", "x", 1, t0(), "reply")], t0())
        .await
        .unwrap();
    s.claim_due("me", t0(), LEASE, 10).await.unwrap();
    complete(s, "me", "a:x:0", 1, published("1"), t0()).await;
    let before = state_of(s, "a:x:0").await;
    let due_at =
        |now: Timestamp| async move { s.snapshots_due("x", now, &after, 10).await.unwrap() };

    assert!(due_at(t0() + day - SignedDuration::from_mins(1)).await.is_empty(), "not yet");
    let due = due_at(t0() + day).await;
    assert_eq!(due.len(), 1, "the post, not an unpublished reply: {due:?}");
    assert_eq!((due[0].delivery.as_str(), due[0].after, due[0].failures), ("a:x:0", day, 0));
    assert_eq!((due[0].remote_id.as_str(), due[0].network), ("1", Network::X));
    assert!(s.snapshots_due("other", t0() + day, &after, 10).await.unwrap().is_empty());
    assert!(s.snapshots_due("x", t0() + day, &[], 10).await.unwrap().is_empty());

    // A failure waits until its not_before, then counts.
    let retry = t0() + day + SignedDuration::from_hours(1);
    s.snapshot_failed(&["a:x:0".to_owned()], retry, "429", t0() + day).await.unwrap();
    assert!(due_at(retry - SignedDuration::from_mins(1)).await.is_empty());
    assert_eq!(due_at(retry).await[0].failures, 1);

    let one = Metrics { likes: Some(3), impressions: Some(100), ..Metrics::default() };
    let taken =
        |after, at, metrics| Snapshot { delivery: "a:x:0".into(), after, fetched_at: at, metrics };
    s.record_snapshots(&[taken(day, retry, one)]).await.unwrap();
    assert!(due_at(t0() + day * 2).await.is_empty(), "the 1-day snapshot is taken");
    let due = due_at(t0() + day * 7).await;
    assert_eq!((due[0].after, due[0].failures), (day * 7, 0), "failures forgotten");
    let latest = s.latest_snapshots().await.unwrap();
    assert_eq!(latest, vec![taken(day, retry, one)]);

    // A snapshot long after publication is for the largest offset passed; none is due after it.
    let seven = Metrics { likes: Some(9), clicks: None, ..Metrics::default() };
    s.record_snapshots(&[taken(day * 7, t0() + day * 30, seven)]).await.unwrap();
    assert!(due_at(t0() + day * 60).await.is_empty());
    let latest = s.latest_snapshots().await.unwrap();
    assert_eq!(latest, vec![taken(day * 7, t0() + day * 30, seven)]);
    assert_eq!(latest[0].metrics.clicks, None, "unknown stays unknown");

    let after_all = state_of(s, "a:x:0").await;
    assert_eq!(after_all, before, "snapshots never touch the delivery");
}

async fn read_only_open_reads_but_never_writes(h: Harness) {
    h.store.sync(&[desired("a", "x", 0, t0(), "a")], t0()).await.unwrap();
    let ro = h.another(OpenOptions::read_only()).await.unwrap();
    assert_eq!(ro.status().await.unwrap().deliveries.len(), 1);
    assert_eq!(ro.next_due(t0()).await.unwrap(), Some(t0()));
    let err = ro.claim_due("me", t0(), LEASE, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    assert!(ro.sync(&[], t0()).await.is_err());
    assert_eq!(h.store.status().await.unwrap().deliveries[0].state, State::Queued);
    ro.close().await;
    if h.backend == Backend::Postgres {
        // Debug output masks the password (trust authentication ignores an extra one).
        let mut url = url::Url::parse(&h.url).unwrap();
        if url.password().is_none() {
            url.set_password(Some("not-shown-42")).unwrap();
        }
        let password = url.password().unwrap().to_owned();
        let ro = open(url.as_str(), OpenOptions::read_only()).await.unwrap();
        let debug = format!("{ro:?}");
        assert!(debug.contains("PgStore") && debug.contains(":***@"), "{debug}");
        assert!(!debug.contains(&password), "{debug}");
        ro.close().await;
    } else {
        assert!(format!("{:?}", h.store).contains("SqliteStore"));
    }
}

async fn throughput_of_batched_claims_and_completions(h: Harness) {
    const N: usize = 10_000;
    const BATCH: usize = 500;
    let set: Vec<_> = (0..N).map(|i| desired(&format!("p{i:05}"), "x", 0, t0(), "bench")).collect();
    let started = std::time::Instant::now();
    h.store.sync(&set, t0()).await.unwrap();
    let synced = started.elapsed();
    let started = std::time::Instant::now();
    let mut total = 0;
    loop {
        let batch = h.store.claim_due("bench", at(1), LEASE, BATCH).await.unwrap();
        if batch.is_empty() {
            break;
        }
        let done: Vec<_> = batch
            .iter()
            .map(|c| Completion {
                id: c.delivery.id.clone(),
                attempt: c.delivery.attempt,
                outcome: published(&c.delivery.id),
            })
            .collect();
        let applied =
            h.store.complete_many("bench", &done, at(1), &RetryPolicy::default()).await.unwrap();
        total += applied.iter().filter(|a| matches!(a, Applied::Settled { .. })).count();
    }
    let elapsed = started.elapsed();
    assert_eq!(total, N);
    println!(
        "{:?}: synced {N} deliveries in {synced:.2?}; claimed and completed {N} in batches of {BATCH} \
         in {elapsed:.2?} = {:.0} durable deliveries/s",
        h.backend,
        N as f64 / elapsed.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// SQLite only: the single-instance lock, the start-up rescue, and the file's bytes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_second_instance_is_refused_and_orphans_become_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crieur.db").display());
    let first = open(&url, OpenOptions::new()).await.unwrap();
    let err = open(&url, OpenOptions::new()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Locked { pid: Some(p), .. } if p == std::process::id()));
    assert!(msg.contains("another crieur instance is using") && msg.contains("crieur.db"), "{msg}");
    assert!(msg.contains(&format!("pid {}?", std::process::id())), "{msg}");
    assert!(matches!(crate::migrate(&url).await, Err(StoreError::Locked { .. })));
    first
        .sync(&[desired("a", "x", 0, t0(), "a"), desired("b", "x", 0, t0(), "b")], t0())
        .await
        .unwrap();
    first.claim_due("me", t0(), SignedDuration::from_hours(1), 10).await.unwrap();
    first
        .complete(
            "me",
            "b:x:0",
            1,
            &Outcome::Unknown { reason: "reset".into() },
            t0(),
            &RetryPolicy::default(),
        )
        .await
        .unwrap();
    // A short command beside the daemon: writes, but never claims.
    let cmd = open(&url, OpenOptions::for_command().with_key(key())).await.unwrap();
    let r = cmd.resolve("b", "x", &Resolve::Retry, t0()).await.unwrap();
    assert_eq!((r.from, r.to), (State::Unknown, State::Retrying));
    let tokens = Tokens { access_token: "t".into(), refresh_token: None, expires_at: None };
    cmd.save("x", &tokens).await.unwrap();
    let err = cmd.claim_due("cmd", t0(), LEASE, 10).await.unwrap_err();
    assert!(matches!(err, StoreError::NotExclusive(_)), "{err}");
    assert!(err.to_string().contains("only the daemon"), "{err}");
    assert!(matches!(cmd.rescue_expired(t0()).await, Err(StoreError::NotExclusive(_))));
    assert_eq!(
        state_of(&first, "a:x:0").await.state,
        State::Publishing,
        "no rescue from a command"
    );
    drop(cmd);
    // The process "dies" mid-send.
    drop(first);
    let second = open(&url, OpenOptions::new()).await.unwrap();
    let row = state_of(&second, "a:x:0").await;
    assert_eq!(row.state, State::Unknown, "an orphaned publishing row is unknown at once");
    assert!(row.error.unwrap().contains("found at start"));
    let retried = second.claim_due("me", t0(), LEASE, 10).await.unwrap();
    assert_eq!(retried.iter().map(|c| c.delivery.id.as_str()).collect::<Vec<_>>(), ["b:x:0"]);
    assert_eq!(second.unknown_to_reconcile("me", t0(), LEASE, 10).await.unwrap().len(), 1);
    second.close().await;
    drop(second);
    // After a clean stop (no WAL left), a read-only open still reads.
    let ro = open(&url, OpenOptions::read_only()).await.unwrap();
    assert_eq!(ro.status().await.unwrap().deliveries.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_never_holds_token_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crieur.db");
    let url = format!("sqlite://{}", path.display());
    let store = open(&url, OpenOptions::new().with_key(key())).await.unwrap();
    let tokens = Tokens {
        access_token: "PLAINTEXT-ACCESS-TOKEN-abcdef".into(),
        refresh_token: Some("PLAINTEXT-REFRESH-TOKEN-ghijkl".into()),
        expires_at: None,
    };
    store.save("company-x", &tokens).await.unwrap();
    assert_eq!(store.load("company-x").await.unwrap(), Some(tokens.clone()));
    store.close().await;
    drop(store);
    // Closing the last connection checkpoints the WAL into the file; read whatever exists.
    let mut bytes = std::fs::read(&path).unwrap();
    for side in ["crieur.db-wal", "crieur.db-shm"] {
        if let Ok(more) = std::fs::read(dir.path().join(side)) {
            bytes.extend(more);
        }
    }
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(contains("company-x"), "the row is there");
    assert!(!contains("PLAINTEXT"), "token bytes must not be stored in clear");
    assert!(!contains("ACCESS-TOKEN") && !contains("ghijkl"));
    // Without a key, saving explains how to make one; with it, the tokens come back.
    let nokey = open(&url, OpenOptions::new()).await.unwrap();
    let err = nokey.save("company-x", &tokens).await.unwrap_err().to_string();
    assert!(
        err.contains("openssl rand -base64 32") && err.contains("credential:crieur-key"),
        "{err}"
    );
    drop(nokey);
    let again = open(&url, OpenOptions::new().with_key(key())).await.unwrap();
    assert_eq!(again.load("company-x").await.unwrap(), Some(tokens));
}

#[tokio::test]
async fn sqlite_read_only_needs_an_existing_migrated_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("none.db").display());
    let err = open(&url, OpenOptions::read_only()).await.unwrap_err();
    assert!(err.to_string().contains("run `crieur migrate`"), "{err}");
    std::fs::write(dir.path().join("empty.db"), b"").unwrap();
    let url = format!("sqlite://{}", dir.path().join("empty.db").display());
    let err = open(&url, OpenOptions::read_only()).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSchema(_)), "{err}");
}

#[tokio::test]
async fn postgres_connection_errors_hide_the_password() {
    let err =
        open("postgres://crieur:hunter2@127.0.0.1:1/crieur", OpenOptions::new()).await.unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}
