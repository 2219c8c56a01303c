//! The values that go in and out of the [`Store`](super::Store).

use std::fmt;
use std::str::FromStr;

use crate::{Article, Delivery, Network, Outcome, PostOptions};
use jiff::{SignedDuration, Timestamp};

use super::StoreError;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// One SQLite file, one crieur instance.
    Sqlite,
    /// PostgreSQL, any number of instances.
    Postgres,
}

/// The state of one delivery, as `crieur status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Waiting for its due time.
    Queued,
    /// Claimed by an instance, which may be sending it now.
    Publishing,
    /// On the network, with its remote id.
    Published,
    /// Provably not sent; will be tried again after `not_before`.
    Retrying,
    /// Refused for good, or out of attempts; provably not on the network. Needs a person
    /// (`crieur resolve`), or a change of its text.
    Failed,
    /// May have reached the network; reconciliation or a person decides.
    Unknown,
    /// Removed from the post files, or cancelled with `crieur resolve --cancel`.
    Cancelled,
}

impl State {
    /// Every state, in the order of the life of a delivery.
    pub const ALL: [State; 7] = [
        State::Queued,
        State::Publishing,
        State::Published,
        State::Retrying,
        State::Failed,
        State::Unknown,
        State::Cancelled,
    ];

    /// The name used by `crieur status` (text and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Publishing => "publishing",
            State::Published => "published",
            State::Retrying => "retrying",
            State::Failed => "failed",
            State::Unknown => "unknown",
            State::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery state {s:?}")))
    }
}

/// One delivery as the post files want it now: the input of [`Store::sync`](super::Store::sync).
///
/// The store computes the content hash itself (network, text, link, category, article, media,
/// options), so an edit is noticed whatever the caller does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDelivery {
    /// Stable delivery id, derived from (post, channel, item), e.g. `{post}:{channel}:{item}`.
    pub id: String,
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// 0 for the post, n for the n-th reply of its thread.
    pub item: u32,
    /// The channel's network.
    pub network: Network,
    /// When it is due (UTC instant of its slot or fixed time).
    pub due_at: Timestamp,
    /// The rendered text, exactly as the network must receive it.
    pub text: String,
    /// The rendered link, for networks that send it apart from the text.
    pub link: Option<String>,
    /// The post's category.
    pub category: Option<String>,
    /// The article, for blog posts.
    pub article: Option<Article>,
    /// The images or videos to send with it, in order (empty for a text post).
    pub media: Vec<DeliveryMedia>,
    /// The post's `lang`, `visibility` and `card` on this channel (the card on item 0 only).
    pub options: PostOptions,
}

/// One image or video of a delivery, as the store keeps it: where to read it when sending.
///
/// The store keeps the file's place, not its bytes: the dispatcher reads the file when it sends
/// (removing its metadata unless `keep_metadata`) and fills [`Delivery::media`]. A file gone or
/// changed into something crieur cannot send by then is a rejection that names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryMedia {
    /// The path as written in the post file (for logs and the webhook event).
    pub path: String,
    /// The path resolved against the post file's folder: where the file is read.
    pub file: std::path::PathBuf,
    /// The alternative text.
    pub alt: String,
    /// Send the file with its metadata (EXIF, XMP...) as it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_metadata: bool,
}

/// What [`Store::sync`](super::Store::sync) changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// New deliveries, now `queued`.
    pub inserted: u64,
    /// Unpublished deliveries (`queued`, `retrying`, `failed`) whose text or due time changed.
    pub updated: u64,
    /// Deliveries cancelled by `sync` earlier that are back in the post files, now `queued`.
    pub revived: u64,
    /// Unpublished deliveries no longer in the post files, now `cancelled`.
    pub cancelled: u64,
    /// Ids of published deliveries whose content changed in the files: nothing is re-sent (the
    /// policy warns; a person edits the post on the network by hand).
    pub edited_after_publish: Vec<String>,
    /// Ids of deliveries being sent or of unknown outcome whose content changed: left as they
    /// are until their outcome is known.
    pub edited_in_flight: Vec<String>,
}

impl SyncReport {
    /// True when the sync changed nothing in the database.
    pub fn is_noop(&self) -> bool {
        self.inserted == 0 && self.updated == 0 && self.revived == 0 && self.cancelled == 0
    }
}

/// A delivery claimed by one owner under a lease: send it (or, when `reconciling`, look it up),
/// then report with [`Store::complete`](super::Store::complete) or
/// [`Store::settle_reconciled`](super::Store::settle_reconciled) passing `delivery.id` and
/// `delivery.attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// What to send, with `attempt` (the fence) and `reply_to` filled in.
    pub delivery: Delivery,
    /// When it was due.
    pub due_at: Timestamp,
    /// When the lease lapses unless renewed with [`Store::heartbeat`](super::Store::heartbeat).
    pub lease_expires_at: Timestamp,
    /// True for a claim of [`Store::unknown_to_reconcile`](super::Store::unknown_to_reconcile):
    /// do not send, call the adapter's `reconcile`.
    pub reconciling: bool,
    /// The media to read and attach before sending ([`Delivery::media`] is empty until then).
    pub media: Vec<DeliveryMedia>,
}

/// A lease held on one delivery: its id and the attempt number it was claimed with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The delivery id.
    pub id: String,
    /// The attempt number returned by the claim.
    pub attempt: u32,
}

/// The outcome of one attempt, for [`Store::complete_many`](super::Store::complete_many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The delivery id.
    pub id: String,
    /// The attempt number returned by the claim.
    pub attempt: u32,
    /// What the adapter said.
    pub outcome: Outcome,
}

/// Whether an outcome was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Recorded: the delivery is now in `state`.
    Settled {
        /// The new state.
        state: State,
        /// For `retrying` (and an `unknown` to look up again later): the earliest next try.
        not_before: Option<Timestamp>,
    },
    /// Refused: the caller no longer holds the lease (another owner, another attempt, or the
    /// lease expired and the delivery was moved to `unknown`). Nothing changed.
    Fenced,
}

/// How long to wait between attempts, and how many to make.
///
/// Delays grow exponentially with "equal jitter": before attempt `n + 1` the store waits a
/// uniformly random time in `[c / 2, c]` where `c = min(max_delay, base * 2^(n-1))` (and at least
/// until the network's own `not_before`). Half of each delay is fixed, so retries spread out
/// without ever coming back at once. With the defaults (8 attempts, base 15 min, at most 6 h) the
/// ceilings are 15 min, 30 min, 1 h, 2 h, 4 h, 6 h, 6 h: the 8 attempts span 10 to 20 hours,
/// about a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts allowed before a retryable failure becomes `failed` (counted since the budget
    /// last started: creation, `resolve --retry`).
    pub max_attempts: u32,
    /// Ceiling of the first delay.
    pub base: SignedDuration,
    /// Largest ceiling.
    pub max_delay: SignedDuration,
    /// How long an `unknown` delivery whose reconciliation could not tell waits before the next
    /// look.
    pub reconcile_every: SignedDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: SignedDuration::from_mins(15),
            max_delay: SignedDuration::from_hours(6),
            reconcile_every: SignedDuration::from_hours(1),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the delay after attempt `attempt` (1-based): `min(max_delay,
    /// base * 2^(attempt-1))`, never negative.
    pub fn ceiling(&self, attempt: u32) -> SignedDuration {
        let base = self.base.as_millis().max(0);
        let max = self.max_delay.as_millis().max(0);
        let shift = attempt.saturating_sub(1).min(62);
        let ms = base.saturating_mul(1_i128 << shift).min(max);
        SignedDuration::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    /// A delay drawn with equal jitter: uniform in `[ceiling(attempt) / 2, ceiling(attempt)]`,
    /// in milliseconds.
    pub fn jittered(&self, attempt: u32, rng: &mut impl rand::Rng) -> SignedDuration {
        let ceiling = self.ceiling(attempt).as_millis().max(0);
        let ceiling = i64::try_from(ceiling).unwrap_or(i64::MAX);
        SignedDuration::from_millis(rng.random_range(ceiling / 2..=ceiling))
    }
}

/// What a person decided with `crieur resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolve {
    /// It is on the network at `url` (`--published URL`).
    Published {
        /// The public URL.
        url: String,
        /// The network's id, when the caller can tell it from the URL: later items of a
        /// thread reply to it. Without it they are sent with no `reply_to`.
        remote_id: Option<String>,
    },
    /// It is not on the network: send it again, with a fresh retry budget (`--retry`).
    Retry,
    /// Do not send it (`--cancel`); the later items of its thread are cancelled too.
    Cancel,
}

/// What [`Store::resolve`](super::Store::resolve) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The delivery id.
    pub id: String,
    /// The thread item (0 for the post itself).
    pub item: u32,
    /// Its state before.
    pub from: State,
    /// Its state now.
    pub to: State,
    /// Later thread items cancelled with it (for [`Resolve::Cancel`]).
    pub also_cancelled: u64,
}

/// One delivery as `crieur status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    /// The delivery id.
    pub id: String,
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// The thread item (0 for the post itself).
    pub item: u32,
    /// The channel's network.
    pub network: Network,
    /// Its state (`reconciling` shows as [`State::Unknown`], with `reconciling` set).
    pub state: State,
    /// True while an instance is asking the network whether an unknown delivery went out.
    pub reconciling: bool,
    /// When it was due.
    pub due_at: Timestamp,
    /// The earliest next try, for `retrying`.
    pub not_before: Option<Timestamp>,
    /// When it was published.
    pub published_at: Option<Timestamp>,
    /// The network's id.
    pub remote_id: Option<String>,
    /// The public URL.
    pub url: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last error or reason (failed, retrying, unknown, cancelled).
    pub error: Option<String>,
}

/// One channel as `crieur status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    /// The channel name.
    pub channel: String,
    /// When its stored access token expires, when known.
    pub token_expires_at: Option<Timestamp>,
    /// True when tokens are stored for it.
    pub has_tokens: bool,
    /// Why it needs `crieur auth` again, when its refresh token was refused.
    pub revoked: Option<String>,
    /// Until when its deliveries are held, and why (may be in the past: no longer in force).
    pub hold: Option<(Timestamp, String)>,
}

/// Everything `crieur status` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// Every delivery, by due time, then post, channel and item.
    pub deliveries: Vec<StatusRow>,
    /// Every channel that has deliveries, tokens or a hold, by name.
    pub channels: Vec<ChannelStatus>,
}

/// A delivery that went out: the input of the policy's duplicate rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// The thread item.
    pub item: u32,
    /// The channel's network.
    pub network: Network,
    /// When it was published.
    pub published_at: Timestamp,
    /// The text that was sent.
    pub text: String,
    /// The network's id.
    pub remote_id: Option<String>,
    /// The public URL.
    pub url: Option<String>,
}

/// One (post, channel) as the calendar needs it from the store: the state and due time of its
/// first item. Read by [`Store::placed`](super::Store::placed); cancelled rows are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// The state of item 0.
    pub state: State,
    /// When item 0 is (or was) due.
    pub due_at: Timestamp,
}

/// One post file as the last sync read it: what the store remembers so that the next sync
/// parses only the files whose bytes changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    /// The file's path, as the queue globs found it.
    pub path: String,
    /// A hash of its bytes.
    pub hash: String,
    /// What the calendar needs of its posts, in the caller's own compact form (opaque to the
    /// store).
    pub posts: String,
}

/// What the store remembers of the post files ([`Store::file_index`](super::Store::file_index)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileIndex {
    /// The fingerprint of the config the files were last synced with; `None` when no sync
    /// recorded one (then the next sync must read everything).
    pub config: Option<String>,
    /// Every post file of that sync.
    pub files: Vec<IndexedFile>,
}

/// A new due time for every item of one (post, channel) whose content did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMove {
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// The new due time.
    pub due_at: Timestamp,
}

/// One sync of the post files, whole or in part, and the file index it leaves behind: the
/// input of [`Store::sync_files`](super::Store::sync_files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSync {
    /// The deliveries the files ask for, of every post (`scope` `None`) or of the posts of
    /// `scope`.
    pub desired: Vec<DesiredDelivery>,
    /// `None`: `desired` is the whole queue, as in [`Store::sync`](super::Store::sync).
    /// `Some(posts)`: only the deliveries of these posts are compared with `desired` (a row of
    /// them that `desired` lacks is cancelled); other posts change only through `moves` and
    /// `drops`.
    pub scope: Option<Vec<String>>,
    /// Due times that moved, for (post, channel)s out of `scope`.
    pub moves: Vec<DueMove>,
    /// (post, channel)s out of `scope` that are no longer laid: cancelled like a delivery
    /// removed from the files.
    pub drops: Vec<(String, String)>,
    /// The config fingerprint to remember.
    pub config: String,
    /// Files to remember (added or replaced). With `scope` `None` they replace the whole index.
    pub files: Vec<IndexedFile>,
    /// Paths to forget.
    pub removed: Vec<String>,
}

/// The queue in a few numbers, counted by the database: what the daemon's `STATUS=` line and
/// its housekeeping need, without reading every delivery
/// ([`Store::summary`](super::Store::summary)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSummary {
    /// Deliveries `queued` or `retrying`.
    pub waiting: u64,
    /// Deliveries `unknown` (or being reconciled).
    pub unknown: u64,
    /// The first waiting delivery by due time (then post, channel, item): its channel and due
    /// time.
    pub next: Option<(String, Timestamp)>,
    /// How many deliveries each channel has in each state (`reconciling` counted as
    /// `unknown`), by channel then state; pairs with none are left out.
    pub counts: Vec<(String, State, u64)>,
    /// Every channel that has deliveries, tokens or a hold, by name (as in [`StatusReport`]).
    pub channels: Vec<ChannelStatus>,
}
