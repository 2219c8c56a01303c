//! The deliveries' state machine, decided in Rust and the same for both backends: which state
//! each outcome or reconciliation leads to (with backoff and the retry budget), what a sync
//! inserts, updates, revives or cancels, and the values it needs (time columns, the payload,
//! the content hash). Pure functions; the [shell](crate::shell) runs the SQL.

use std::collections::{HashMap, HashSet};

use crieur_core::{Article, Delivery, Network, Outcome, PostOptions, Reconciled, RejectKind};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    Applied, Claimed, DeliveryMedia, DesiredDelivery, DueMove, IndexedFile, RetryPolicy, State,
    StoreError,
};

/// The most rows one claim, completion batch or heartbeat handles, whatever the caller asks:
/// bounds the memory of one call.
pub(crate) const MAX_BATCH: usize = 10_000;

/// The reason written on a delivery whose lease lapsed while it was `publishing`.
pub(crate) const LEASE_EXPIRED: &str = "lease expired: the process that claimed it stopped before recording the outcome; it may have been sent";

/// The reason written, at start, on a SQLite delivery left `publishing` by a previous run.
pub(crate) const FOUND_AT_START: &str =
    "crieur stopped while sending it (found at start): it may have been sent";

/// The reason written on a delivery cancelled because it left the post files.
pub(crate) const REMOVED: &str = "removed from the post files";

/// Reads a state column; `reconciling` (an `unknown` delivery being looked up) is `Unknown`.
pub(crate) fn state_from_db(s: &str) -> Result<State, StoreError> {
    if s == "reconciling" {
        return Ok(State::Unknown);
    }
    s.parse()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// A stored millisecond count as an instant.
pub(crate) fn ts(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms)
        .map_err(|_| StoreError::Corrupt(format!("instant {ms} ms is out of range")))
}

/// An optional stored instant.
pub(crate) fn ts_opt(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(ts).transpose()
}

/// `at + d` in milliseconds, saturating.
pub(crate) fn plus(at: i64, d: SignedDuration) -> i64 {
    let d =
        i64::try_from(d.as_millis()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX });
    at.saturating_add(d)
}

/// A stored count as `u32`.
pub(crate) fn count(n: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n} is out of range")))
}

/// A stored network name.
pub(crate) fn network(s: &str) -> Result<Network, StoreError> {
    s.parse().map_err(|e: crieur_core::UnknownNetwork| StoreError::Corrupt(e.to_string()))
}

/// Caps a caller's batch size.
pub(crate) fn batch_limit(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_BATCH)).unwrap_or(0)
}

/// The `payload` column: what a delivery carries besides its text and link. Every part is left
/// out when empty, so a delivery without it keeps the payload (and content hash) it had before
/// the part existed.
#[derive(Serialize, Deserialize, Default)]
struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    article: Option<ArticleJson>,
    /// The post's `lang`, `visibility` and `card`.
    #[serde(default, skip_serializing_if = "PostOptions::is_empty")]
    options: PostOptions,
}

/// What [`parse_payload`] reads back.
pub(crate) struct PayloadParts {
    pub category: Option<String>,
    pub article: Option<Article>,
    pub options: PostOptions,
}

#[derive(Serialize, Deserialize)]
struct ArticleJson {
    title: String,
    slug: String,
    tags: Vec<String>,
    body_markdown: String,
}

fn payload_json(d: &DesiredDelivery) -> Result<String, StoreError> {
    let payload = Payload {
        category: d.category.clone(),
        article: d.article.as_ref().map(|a| ArticleJson {
            title: a.title.clone(),
            slug: a.slug.clone(),
            tags: a.tags.clone(),
            body_markdown: a.body_markdown.clone(),
        }),
        options: d.options.clone(),
    };
    serde_json::to_string(&payload)
        .map_err(|e| StoreError::Invalid(format!("delivery {}: {e}", d.id)))
}

/// Reads a `payload` column back.
pub(crate) fn parse_payload(id: &str, json: &str) -> Result<PayloadParts, StoreError> {
    let p: Payload = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("payload of delivery {id}: {e}")))?;
    Ok(PayloadParts {
        category: p.category,
        article: p.article.map(|a| Article {
            title: a.title,
            slug: a.slug,
            tags: a.tags,
            body_markdown: a.body_markdown,
        }),
        options: p.options,
    })
}

/// The `media` column: a JSON array, or NULL for a delivery without media.
fn media_json(d: &DesiredDelivery) -> Result<Option<String>, StoreError> {
    if d.media.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&d.media)
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("delivery {}: media: {e}", d.id)))
}

/// Reads a `media` column back.
pub(crate) fn parse_media(id: &str, json: Option<&str>) -> Result<Vec<DeliveryMedia>, StoreError> {
    json.map_or(Ok(Vec::new()), |j| {
        serde_json::from_str(j)
            .map_err(|e| StoreError::Corrupt(format!("media of delivery {id}: {e}")))
    })
}

/// SHA-256 over every field that reaches the network, each length-prefixed so no two contents
/// share a hash by shifting bytes between fields. The media list counts only when there is one,
/// so a text post keeps the hash it had before media existed.
fn content_hash(d: &DesiredDelivery, payload: &str, media: Option<&str>) -> String {
    let mut h = Sha256::new();
    let link = d.link.as_deref().unwrap_or("\u{0}none");
    let parts = [d.network.as_str(), &d.text, link, payload];
    for part in parts.into_iter().chain(media) {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One row for the bulk insert or update of `sync` (a JSON array element).
#[derive(Serialize)]
pub(crate) struct SyncRow<'a> {
    id: &'a str,
    post: &'a str,
    channel: &'a str,
    item: i64,
    network: &'static str,
    due_at: i64,
    text: &'a str,
    link: Option<&'a str>,
    payload: String,
    media: Option<String>,
    content_hash: String,
}

/// A delivery already in the database, as `sync` needs it.
pub(crate) struct Existing {
    pub id: String,
    pub state: String,
    pub content_hash: String,
    pub due_at: i64,
    pub cancelled_by: Option<String>,
}

/// What `sync` will do, as JSON arrays for the bulk statements.
pub(crate) struct SyncPlan {
    /// New rows.
    pub insert: String,
    /// Unpublished rows whose content or due time changed (state kept).
    pub update: String,
    /// Rows cancelled by an earlier sync, back in the files.
    pub revive: String,
    /// Ids to cancel.
    pub cancel: String,
    pub n_insert: usize,
    pub n_update: usize,
    pub n_revive: usize,
    pub n_cancel: usize,
    pub edited_after_publish: Vec<String>,
    pub edited_in_flight: Vec<String>,
}

/// Checks the input of `sync`: ids present and unique, (post, channel, item) unique.
pub(crate) fn check_desired(desired: &[DesiredDelivery]) -> Result<(), StoreError> {
    let mut ids = HashSet::with_capacity(desired.len());
    let mut keys = HashSet::with_capacity(desired.len());
    for d in desired {
        if d.id.is_empty() || d.post.is_empty() || d.channel.is_empty() {
            return Err(StoreError::Invalid(format!(
                "a delivery has an empty id, post or channel (id {:?}, post {:?}, channel {:?})",
                d.id, d.post, d.channel
            )));
        }
        if !ids.insert(d.id.as_str()) {
            return Err(StoreError::Invalid(format!(
                "delivery id {:?} appears twice: each (post, channel, item) needs its own id",
                d.id
            )));
        }
        if !keys.insert((d.post.as_str(), d.channel.as_str(), d.item)) {
            return Err(StoreError::Invalid(format!(
                "post {:?} on channel {:?} item {} appears twice (ids differ): post ids must be unique",
                d.post, d.channel, d.item
            )));
        }
    }
    Ok(())
}

/// The ids of `desired` as a JSON array (to fetch the rows `sync` compares).
pub(crate) fn ids_json<'a>(ids: impl Iterator<Item = &'a str>) -> Result<String, StoreError> {
    to_json(&ids.collect::<Vec<_>>())
}

/// The due-time moves of a partial sync as JSON rows `{post, channel, due_at}`.
pub(crate) fn moves_json(moves: &[DueMove]) -> Result<String, StoreError> {
    #[derive(Serialize)]
    struct Row<'a> {
        post: &'a str,
        channel: &'a str,
        due_at: i64,
    }
    let rows: Vec<Row<'_>> = moves
        .iter()
        .map(|m| Row { post: &m.post, channel: &m.channel, due_at: ms(m.due_at) })
        .collect();
    to_json(&rows)
}

/// The (post, channel)s a partial sync cancels, as JSON rows `{post, channel}`.
pub(crate) fn drops_json(drops: &[(String, String)]) -> Result<String, StoreError> {
    #[derive(Serialize)]
    struct Row<'a> {
        post: &'a str,
        channel: &'a str,
    }
    let rows: Vec<Row<'_>> = drops.iter().map(|(post, channel)| Row { post, channel }).collect();
    to_json(&rows)
}

/// File index rows as JSON `{path, hash, posts}`.
pub(crate) fn files_json(files: &[IndexedFile]) -> Result<String, StoreError> {
    #[derive(Serialize)]
    struct Row<'a> {
        path: &'a str,
        hash: &'a str,
        posts: &'a str,
    }
    let rows: Vec<Row<'_>> =
        files.iter().map(|f| Row { path: &f.path, hash: &f.hash, posts: &f.posts }).collect();
    to_json(&rows)
}

/// Decides what `sync` does. `existing` holds every row whose id is in `desired`, plus every
/// row in a cancellable state (`queued`, `retrying`, `failed`).
pub(crate) fn plan_sync(
    existing: Vec<Existing>,
    desired: &[DesiredDelivery],
) -> Result<SyncPlan, StoreError> {
    let mut by_id: HashMap<String, Existing> =
        existing.into_iter().map(|e| (e.id.clone(), e)).collect();
    let (mut insert, mut update, mut revive) = (Vec::new(), Vec::new(), Vec::new());
    let mut edited_after_publish = Vec::new();
    let mut edited_in_flight = Vec::new();
    for d in desired {
        let payload = payload_json(d)?;
        let media = media_json(d)?;
        let hash = content_hash(d, &payload, media.as_deref());
        let row = SyncRow {
            id: &d.id,
            post: &d.post,
            channel: &d.channel,
            item: i64::from(d.item),
            network: d.network.as_str(),
            due_at: ms(d.due_at),
            text: &d.text,
            link: d.link.as_deref(),
            payload,
            media,
            content_hash: hash,
        };
        let Some(e) = by_id.remove(&d.id) else {
            insert.push(row);
            continue;
        };
        let changed = e.content_hash != row.content_hash;
        match e.state.as_str() {
            "queued" | "retrying" | "failed" => {
                if changed || e.due_at != row.due_at {
                    update.push(row);
                }
            }
            "cancelled" => {
                if e.cancelled_by.as_deref() == Some("sync") {
                    revive.push(row);
                }
            }
            "published" => {
                if changed {
                    edited_after_publish.push(d.id.clone());
                }
            }
            "publishing" | "unknown" | "reconciling" => {
                if changed {
                    edited_in_flight.push(d.id.clone());
                }
            }
            other => return Err(StoreError::Corrupt(format!("delivery {} is {other:?}", d.id))),
        }
    }
    // What is left and still cancellable is no longer in the files.
    let mut cancel: Vec<String> = by_id
        .into_values()
        .filter(|e| matches!(e.state.as_str(), "queued" | "retrying" | "failed"))
        .map(|e| e.id)
        .collect();
    cancel.sort();
    Ok(SyncPlan {
        n_insert: insert.len(),
        n_update: update.len(),
        n_revive: revive.len(),
        n_cancel: cancel.len(),
        insert: to_json(&insert)?,
        update: to_json(&update)?,
        revive: to_json(&revive)?,
        cancel: to_json(&cancel)?,
        edited_after_publish,
        edited_in_flight,
    })
}

/// Any value as a JSON string (the bulk statements take their rows as one JSON array).
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("rows: {e}")))
}

/// A delivery's row as a completion or reconciliation reads it (locked) before deciding.
pub(crate) struct Current {
    pub id: String,
    pub network: String,
    pub state: String,
    pub attempt: i64,
    pub retries_from: i64,
    pub lease_owner: Option<String>,
    pub attempt_started_at: Option<i64>,
    pub maybe_sent_since: Option<i64>,
    pub first_unknown_at: Option<i64>,
    pub error: Option<String>,
}

/// The new values of one delivery after an outcome (a JSON array element for the bulk update).
/// The lease is always cleared.
#[derive(Serialize)]
pub(crate) struct Change {
    pub id: String,
    pub attempt: i64,
    pub from_state: &'static str,
    pub state: &'static str,
    pub retries_from: i64,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<i64>,
    pub error: Option<String>,
    pub not_before: Option<i64>,
    pub first_unknown_at: Option<i64>,
    pub maybe_sent_since: Option<i64>,
}

impl Change {
    fn applied(&self) -> Result<Applied, StoreError> {
        Ok(Applied::Settled {
            state: state_from_db(self.state)?,
            not_before: ts_opt(self.not_before)?,
        })
    }
}

fn reject_kind(kind: RejectKind) -> &'static str {
    match kind {
        RejectKind::Duplicate => "duplicate",
        RejectKind::Invalid => "invalid",
        RejectKind::Forbidden => "forbidden",
        RejectKind::Gone => "gone",
        RejectKind::Other => "refused",
    }
}

/// True when `cur` is held by `owner` for `attempt` in `state`.
pub(crate) fn holds(cur: &Current, owner: &str, attempt: u32, state: &str) -> bool {
    cur.state == state
        && cur.lease_owner.as_deref() == Some(owner)
        && cur.attempt == i64::from(attempt)
}

/// The change an outcome makes to a `publishing` delivery held by the caller.
pub(crate) fn on_outcome(
    cur: &Current,
    outcome: &Outcome,
    now: i64,
    policy: &RetryPolicy,
    rng: &mut impl rand::Rng,
) -> Result<(Change, Applied), StoreError> {
    let mut c = Change {
        id: cur.id.clone(),
        attempt: cur.attempt,
        from_state: "publishing",
        state: "published",
        retries_from: cur.retries_from,
        remote_id: None,
        url: None,
        published_at: None,
        error: None,
        not_before: None,
        first_unknown_at: cur.first_unknown_at,
        maybe_sent_since: cur.maybe_sent_since,
    };
    // Attempts spent from the current budget; the backoff grows with them.
    let used = cur.attempt.saturating_sub(cur.retries_from).max(0);
    let attempt = u32::try_from(used.max(1)).unwrap_or(u32::MAX);
    match outcome {
        Outcome::Published { remote_id, url } => {
            c.remote_id = Some(remote_id.clone());
            c.url = url.clone();
            c.published_at = Some(now);
        }
        Outcome::Retry { reason, not_before } => {
            if used >= i64::from(policy.max_attempts) {
                c.state = "failed";
                c.error = Some(format!("gave up after {used} attempts; the last: {reason}"));
            } else {
                let backoff = plus(now, policy.jittered(attempt, rng));
                c.state = "retrying";
                c.error = Some(reason.clone());
                c.not_before = Some(backoff.max(not_before.map_or(i64::MIN, ms)));
            }
        }
        Outcome::Rejected { kind, reason } => {
            c.state = "failed";
            c.error = Some(format!("{}: {reason}", reject_kind(*kind)));
        }
        Outcome::Unauthorized { reason } => {
            // Not the delivery's fault: it waits for new credentials (the dispatcher refreshes
            // the token or marks the channel revoked, which holds the channel) and does not
            // spend its retry budget towards `failed`: the attempt is given back.
            c.state = "retrying";
            c.retries_from = cur.retries_from.saturating_add(1).min(cur.attempt);
            c.error = Some(format!("unauthorized: {reason}"));
            c.not_before = Some(plus(now, policy.jittered(attempt, rng)));
        }
        Outcome::Unknown { reason } => {
            c.state = "unknown";
            c.error = Some(reason.clone());
            c.first_unknown_at = Some(cur.first_unknown_at.unwrap_or(now));
            c.maybe_sent_since =
                Some(cur.maybe_sent_since.or(cur.attempt_started_at).unwrap_or(now));
        }
    }
    let applied = c.applied()?;
    Ok((c, applied))
}

/// Decides a batch of completions against the rows read for them: fenced ones (not held by
/// `owner` at that attempt, or a second completion of one id) change nothing.
pub(crate) fn decide(
    current: &HashMap<String, Current>,
    owner: &str,
    done: &[crate::Completion],
    now: i64,
    policy: &RetryPolicy,
) -> Result<(Vec<Change>, Vec<Applied>), StoreError> {
    let mut rng = rand::rng();
    let mut seen = HashSet::with_capacity(done.len());
    let mut changes = Vec::with_capacity(done.len());
    let mut applied = Vec::with_capacity(done.len());
    for c in done {
        match current.get(&c.id) {
            Some(cur)
                if holds(cur, owner, c.attempt, "publishing") && seen.insert(c.id.as_str()) =>
            {
                let (change, a) = on_outcome(cur, &c.outcome, now, policy, &mut rng)?;
                changes.push(change);
                applied.push(a);
            }
            _ => applied.push(Applied::Fenced),
        }
    }
    Ok((changes, applied))
}

/// True when reconciliation reads the network back (X's timeline, a Page's posts), so its
/// "not found" proves the post absent; false for LinkedIn and webhooks, whose reconciliation is
/// a resend that the network or receiver deduplicates.
fn readable(network: &str) -> bool {
    !matches!(network, "linkedin" | "webhook")
}

/// True when `cur` became `unknown` because crieur stopped (or stalled past its lease) during
/// the attempt, not because of anything the network answered: its last error is the one the
/// start-up or lease rescue wrote.
pub(crate) fn interrupted_by_crieur(cur: &Current) -> bool {
    cur.error.as_deref().is_some_and(|e| e == FOUND_AT_START || e == LEASE_EXPIRED)
}

/// The change a reconciliation makes to a `reconciling` delivery held by the caller.
pub(crate) fn on_reconciled(
    cur: &Current,
    found: &Reconciled,
    now: i64,
    policy: &RetryPolicy,
    rng: &mut impl rand::Rng,
) -> Result<(Change, Applied), StoreError> {
    let mut c = Change {
        id: cur.id.clone(),
        attempt: cur.attempt,
        from_state: "reconciling",
        state: "published",
        retries_from: cur.retries_from,
        remote_id: None,
        url: None,
        published_at: None,
        error: None,
        not_before: None,
        first_unknown_at: cur.first_unknown_at,
        maybe_sent_since: cur.maybe_sent_since,
    };
    let last = cur.error.as_deref().unwrap_or("unknown outcome");
    match found {
        Reconciled::Found { remote_id, url } => {
            c.remote_id = Some(remote_id.clone());
            c.url = url.clone();
            c.published_at = Some(now);
        }
        Reconciled::NotFound => {
            let used = cur.attempt.saturating_sub(cur.retries_from).max(0);
            if used >= i64::from(policy.max_attempts) && !readable(&cur.network) {
                // LinkedIn and webhook receivers cannot be read back: their "not found" only
                // says a resend is safe (a duplicate is refused or deduplicated), so with no
                // attempt left the post may well be there. A person decides.
                c.state = "unknown";
                c.error = Some(format!(
                    "gave up after {used} attempts; the last ({last}) may have reached the \
                     network, which crieur cannot read back: check it, then run `crieur resolve`"
                ));
                c.not_before = Some(plus(now, policy.reconcile_every));
            } else if used >= i64::from(policy.max_attempts) {
                c.state = "failed";
                c.error = Some(format!(
                    "gave up after {used} attempts; the last ({last}) was not found on the network"
                ));
            } else if interrupted_by_crieur(cur) {
                // Proven not sent (or safe to resend) after crieur itself stopped mid-attempt: a
                // crash is not the network's fault, so it goes out again at once. The attempt
                // it spent still counts, which bounds a delivery that keeps crashing crieur.
                c.state = "retrying";
                c.error =
                    Some(format!("not found on the network after: {last}; sent again at once"));
                c.not_before = Some(now);
            } else {
                // Proven not sent, after a failure that may have been the network's (a 5xx, a
                // reset): send again after the same backoff as any retry, not at once, so a
                // receiver that is down does not burn the attempt budget in a second.
                c.state = "retrying";
                c.error = Some(format!("not found on the network after: {last}"));
                c.not_before = Some(plus(
                    now,
                    policy.jittered(u32::try_from(cur.attempt).unwrap_or(u32::MAX), rng),
                ));
            }
        }
        Reconciled::CannotTell { reason } => {
            c.state = "unknown";
            c.error = Some(reason.clone());
            c.not_before = Some(plus(now, policy.reconcile_every));
        }
    }
    let applied = c.applied()?;
    Ok((c, applied))
}

/// A claimed row, as both backends read it.
pub(crate) struct RawClaim {
    pub id: String,
    pub post: String,
    pub channel: String,
    pub item: i64,
    pub network: String,
    pub text: String,
    pub link: Option<String>,
    pub payload: String,
    pub media: Option<String>,
    pub attempt: i64,
    pub due_at: i64,
    pub attempt_started_at: Option<i64>,
    pub maybe_sent_since: Option<i64>,
    pub first_unknown_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
    pub reply_to: Option<String>,
}

impl RawClaim {
    pub(crate) fn into_claimed(self, reconciling: bool) -> Result<Claimed, StoreError> {
        let PayloadParts { category, article, options } = parse_payload(&self.id, &self.payload)?;
        let media = parse_media(&self.id, self.media.as_deref())?;
        let started = self
            .maybe_sent_since
            .or(self.attempt_started_at)
            .or(self.first_unknown_at)
            .unwrap_or(self.due_at);
        let lease_expires_at = self.lease_expires_at.ok_or_else(|| {
            StoreError::Corrupt(format!("claimed delivery {} has no lease expiry", self.id))
        })?;
        Ok(Claimed {
            due_at: ts(self.due_at)?,
            lease_expires_at: ts(lease_expires_at)?,
            reconciling,
            media,
            delivery: Delivery {
                network: network(&self.network)?,
                item: count(self.item, "thread item")?,
                attempt: count(self.attempt, "attempt")?,
                attempt_started_at: ts(started)?,
                may_have_been_sent: self.maybe_sent_since.is_some() || reconciling,
                media: Vec::new(),
                id: self.id,
                post: self.post,
                channel: self.channel,
                text: self.text,
                link: self.link,
                category,
                article,
                reply_to: self.reply_to,
                options,
            },
        })
    }
}

/// Sorts claims as they were due.
pub(crate) fn sort_claims(claims: &mut [Claimed]) {
    claims.sort_by(|a, b| (a.due_at, &a.delivery.id).cmp(&(b.due_at, &b.delivery.id)));
}

/// One lease for the bulk heartbeat (a JSON array element).
#[derive(Serialize)]
pub(crate) struct LeaseRow<'a> {
    pub id: &'a str,
    pub attempt: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn current(state: &str, attempt: i64) -> Current {
        Current {
            id: "p:c:0".into(),
            network: "x".into(),
            state: state.into(),
            attempt,
            retries_from: 0,
            lease_owner: Some("me".into()),
            attempt_started_at: Some(1_000),
            maybe_sent_since: None,
            first_unknown_at: None,
            error: Some("timeout after send".into()),
        }
    }

    #[test]
    fn ceilings_double_up_to_the_maximum() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), SignedDuration::from_mins(15));
        assert_eq!(p.ceiling(2), SignedDuration::from_mins(30));
        assert_eq!(p.ceiling(5), SignedDuration::from_hours(4));
        assert_eq!(p.ceiling(6), SignedDuration::from_hours(6));
        assert_eq!(p.ceiling(u32::MAX), SignedDuration::from_hours(6));
        // The 7 waits between 8 attempts span about a day at most, half a day at least.
        let total: i64 = (1..8).map(|n| p.ceiling(n).as_secs()).sum();
        assert_eq!(total, 19 * 3600 + 45 * 60);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let draws: Vec<_> = (0..200).map(|_| p.jittered(3, &mut rng)).collect();
        let (half, full) = (p.ceiling(3) / 2, p.ceiling(3));
        assert!(draws.iter().all(|d| *d >= half && *d <= full), "equal jitter");
        assert!(draws.iter().any(|d| *d < half + SignedDuration::from_mins(10)), "spread");
        assert!(draws.iter().any(|d| *d > full - SignedDuration::from_mins(10)), "spread");
    }

    #[test]
    fn retry_honours_the_network_wait_and_the_budget() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let late = 10_000_000;
        let retry = Outcome::Retry { reason: "429".into(), not_before: Some(ts(late).unwrap()) };
        let (c, applied) =
            on_outcome(&current("publishing", 1), &retry, 5_000, &p, &mut rng).unwrap();
        assert_eq!(c.state, "retrying");
        assert_eq!(c.not_before, Some(late));
        assert_eq!(
            applied,
            Applied::Settled { state: State::Retrying, not_before: Some(ts(late).unwrap()) }
        );
        let (c, _) = on_outcome(&current("publishing", 8), &retry, 5_000, &p, &mut rng).unwrap();
        assert_eq!(c.state, "failed");
        assert!(c.error.unwrap().starts_with("gave up after 8 attempts"));
        let mut budget_restarted = current("publishing", 8);
        budget_restarted.retries_from = 4;
        let (c, _) = on_outcome(&budget_restarted, &retry, 5_000, &p, &mut rng).unwrap();
        assert_eq!(c.state, "retrying");
    }

    #[test]
    fn unauthorized_gives_the_attempt_back() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut cur = current("publishing", 8);
        cur.retries_from = 2;
        let out = Outcome::Unauthorized { reason: "401".into() };
        let (c, _) = on_outcome(&cur, &out, 5_000, &p, &mut rng).unwrap();
        assert_eq!((c.state, c.retries_from), ("retrying", 3));
        let nb = c.not_before.unwrap();
        assert!((5_000..=5_000 + p.ceiling(6).as_millis() as i64).contains(&nb), "{nb}");
    }

    #[test]
    fn unknown_remembers_when_it_may_have_been_sent() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let out = Outcome::Unknown { reason: "reset".into() };
        let (c, _) = on_outcome(&current("publishing", 2), &out, 9_000, &p, &mut rng).unwrap();
        assert_eq!(
            (c.state, c.first_unknown_at, c.maybe_sent_since),
            ("unknown", Some(9_000), Some(1_000))
        );
        let (c, _) =
            on_reconciled(&current("reconciling", 2), &Reconciled::NotFound, 9_500, &p, &mut rng)
                .unwrap();
        assert_eq!(c.state, "retrying");
        assert!(c.error.unwrap().contains("timeout after send"));
        let cannot = Reconciled::CannotTell { reason: "timeline unreadable".into() };
        let (c, _) =
            on_reconciled(&current("reconciling", 2), &cannot, 9_500, &p, &mut rng).unwrap();
        assert_eq!(c.state, "unknown");
        assert_eq!(c.not_before, Some(9_500 + 3_600_000));
    }

    #[test]
    fn out_of_attempts_after_an_unknown_is_unknown_where_the_network_cannot_be_read_back() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let last = current("reconciling", 8);
        let (c, _) = on_reconciled(&last, &Reconciled::NotFound, 9_500, &p, &mut rng).unwrap();
        assert_eq!(c.state, "failed", "X was read back: the post is provably not there");
        for network in ["linkedin", "webhook"] {
            let cur = Current { network: network.into(), ..current("reconciling", 8) };
            let (c, applied) =
                on_reconciled(&cur, &Reconciled::NotFound, 9_500, &p, &mut rng).unwrap();
            assert_eq!(c.state, "unknown", "{network}");
            assert!(c.error.as_deref().unwrap().contains("crieur resolve"), "{network}");
            assert_eq!(c.not_before, Some(9_500 + 3_600_000), "looked at again later, not at once");
            assert_eq!(
                applied,
                Applied::Settled {
                    state: State::Unknown,
                    not_before: ts_opt(c.not_before).unwrap()
                }
            );
            let cur = Current { network: network.into(), ..current("reconciling", 3) };
            let (c, _) = on_reconciled(&cur, &Reconciled::NotFound, 9_500, &p, &mut rng).unwrap();
            assert_eq!(c.state, "retrying", "{network}: within the budget, the resend settles it");
        }
    }

    #[test]
    fn a_delivery_interrupted_by_a_crash_and_not_found_goes_out_again_at_once() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for (network, reason) in
            [("x", FOUND_AT_START), ("facebook", LEASE_EXPIRED), ("webhook", FOUND_AT_START)]
        {
            let cur = Current {
                network: network.into(),
                error: Some(reason.into()),
                ..current("reconciling", 2)
            };
            let (c, applied) =
                on_reconciled(&cur, &Reconciled::NotFound, 9_500, &p, &mut rng).unwrap();
            assert_eq!((c.state, c.not_before), ("retrying", Some(9_500)), "{network}: no backoff");
            assert_eq!(
                applied,
                Applied::Settled { state: State::Retrying, not_before: Some(ts(9_500).unwrap()) }
            );
            assert!(c.error.unwrap().contains("sent again at once"), "{network}");
        }
    }

    #[test]
    fn a_delivery_that_keeps_crashing_crieur_still_runs_out_of_attempts() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let cur = Current { error: Some(FOUND_AT_START.into()), ..current("reconciling", 8) };
        let (c, _) = on_reconciled(&cur, &Reconciled::NotFound, 9_500, &p, &mut rng).unwrap();
        assert_eq!(c.state, "failed");
        let cur = Current {
            network: "webhook".into(),
            error: Some(LEASE_EXPIRED.into()),
            ..current("reconciling", 8)
        };
        let (c, _) = on_reconciled(&cur, &Reconciled::NotFound, 9_500, &p, &mut rng).unwrap();
        assert_eq!(c.state, "unknown", "a person decides");
    }

    #[test]
    fn an_unknown_the_network_caused_still_backs_off_when_not_found() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let (c, _) =
            on_reconciled(&current("reconciling", 1), &Reconciled::NotFound, 9_500, &p, &mut rng)
                .unwrap();
        assert_eq!(c.state, "retrying");
        assert!(c.not_before.unwrap() >= 9_500 + p.ceiling(1).as_millis() as i64 / 2);
    }

    #[test]
    fn content_hash_separates_fields() {
        let base = DesiredDelivery {
            id: "a".into(),
            post: "a".into(),
            channel: "c".into(),
            item: 0,
            network: Network::X,
            due_at: Timestamp::UNIX_EPOCH,
            text: "ab".into(),
            link: Some("c".into()),
            category: None,
            article: None,
            media: Vec::new(),
            options: Default::default(),
        };
        let moved = DesiredDelivery { text: "a".into(), link: Some("bc".into()), ..base.clone() };
        let p = payload_json(&base).unwrap();
        assert_ne!(content_hash(&base, &p, None), content_hash(&moved, &p, None));
        let nolink = DesiredDelivery { link: None, ..base.clone() };
        assert_ne!(content_hash(&base, &p, None), content_hash(&nolink, &p, None));
        assert_eq!(content_hash(&base, &p, None), content_hash(&base.clone(), &p, None));
    }

    #[test]
    fn options_ride_in_the_payload_and_leave_a_delivery_without_them_as_it_was() {
        let base = DesiredDelivery {
            id: "a".into(),
            post: "a".into(),
            channel: "c".into(),
            item: 0,
            network: Network::Bluesky,
            due_at: Timestamp::UNIX_EPOCH,
            text: "ab".into(),
            link: None,
            category: Some("hr".into()),
            article: None,
            media: Vec::new(),
            options: Default::default(),
        };
        // The payload a delivery had before options existed.
        assert_eq!(payload_json(&base).unwrap(), r#"{"category":"hr"}"#);
        let options = PostOptions {
            lang: Some("fr".into()),
            visibility: Some(crieur_core::Visibility::Unlisted),
            card: Some(crieur_core::LinkCard { title: "T".into(), description: "D".into() }),
        };
        let with = DesiredDelivery { options: options.clone(), ..base.clone() };
        let p = payload_json(&with).unwrap();
        let back = parse_payload("a", &p).unwrap();
        assert_eq!((back.category.as_deref(), back.options), (Some("hr"), options));
        let before = content_hash(&base, &payload_json(&base).unwrap(), None);
        assert_ne!(before, content_hash(&with, &p, None), "a new lang is an edit");
    }
}
