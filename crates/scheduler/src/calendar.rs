//! Queue -> calendar: which post goes out on which channel, when.
//!
//! Every channel is a lane of slots (from [`crate::slots`]). Laying runs in two passes over the
//! posts in queue order ([`queue_order`]):
//!
//! 1. Posts with a fixed time (`at`), and deliveries the [`History`] already pins to an instant,
//!    are put at that instant on each of their channels. If the instant is one of the channel's
//!    slots, they take that slot; otherwise they are an extra entry at that instant.
//! 2. The other posts take, on each of their channels and independently of their other channels,
//!    the channel's next free slot at or after the moment filling starts. Each lane keeps a cursor
//!    that only moves forward, so laying costs O(slots + posts x channels per post), whether or
//!    not the posts outnumber the slots.
//!
//! [`lay`] returns a window of that (the preview); [`assign`] returns every placement over a
//! horizon (what the daemon records as each delivery's due instant). Both rest on the same passes,
//! so the preview and the daemon agree. A post's thread goes with the post: it has no slot of its
//! own.

use std::collections::HashMap;

use crieur_core::{Channel, Network, Post, PostTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::slots::{Schedule, SlotError, resolve};

/// What is already decided about one post on one channel, as the store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Published, abandoned or cancelled: it takes no slot and is not laid again.
    Done,
    /// Already given this instant (recorded by the daemon, in flight, retrying): it keeps it, and
    /// takes the channel's slot at that instant if there is one.
    At(Timestamp),
    /// Its fixed time was missed and skipped: it fills the next free slot like a post without a
    /// fixed time.
    Requeue,
}

/// What is already decided about deliveries, keyed by post id and channel name. Empty by default:
/// nothing published yet.
#[derive(Debug, Clone, Default)]
pub struct History {
    by_post: HashMap<String, HashMap<String, Prior>>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what is decided about post `post_id` on `channel`, replacing any earlier record.
    pub fn record(&mut self, post_id: &str, channel: &str, prior: Prior) {
        self.by_post.entry(post_id.to_owned()).or_default().insert(channel.to_owned(), prior);
    }

    /// What is decided about post `post_id` on `channel`, if anything.
    pub fn get(&self, post_id: &str, channel: &str) -> Option<Prior> {
        self.by_post.get(post_id)?.get(channel).copied()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.by_post.is_empty()
    }
}

/// One entry of a [`Calendar`]: a slot (filled or empty) or a post at its fixed time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The channel's name.
    pub channel: String,
    /// The channel's network.
    pub network: Network,
    /// When, in the channel's zone (prints with that zone's offset).
    pub at: Zoned,
    /// The post, as an index into the `posts` slice given to [`lay`]; `None` for an empty slot.
    pub post: Option<usize>,
    /// Whether the post is there because of its fixed `at` (not a queue slot it filled).
    pub fixed: bool,
}

/// The posts laid on the channels' slots over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Start of the window (included).
    pub from: Timestamp,
    /// End of the window (excluded).
    pub to: Timestamp,
    /// Every slot of every channel in the window, filled or empty, and every post at a fixed time
    /// in the window; sorted by instant, then channel name.
    pub entries: Vec<Entry>,
}

impl Calendar {
    /// The entries that carry a post.
    pub fn filled(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.post.is_some())
    }
}

/// A post placed on a channel at an instant, as [`assign`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index into the `posts` slice given to [`assign`].
    pub post: usize,
    /// The channel's name.
    pub channel: String,
    /// The due instant, in the channel's zone.
    pub at: Zoned,
    /// Whether it is the post's fixed `at` (or an instant the [`History`] pinned) rather than a
    /// queue slot.
    pub fixed: bool,
}

/// The queue order: posts by `priority` (higher first), then by file (`file_index`), then by place
/// in the file (`index_in_file`). Returns indices into `posts`; ties keep slice order.
pub fn queue_order(posts: &[Post]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..posts.len()).collect();
    order.sort_by_key(|&i| {
        let p = &posts[i];
        (std::cmp::Reverse(p.priority), p.file_index, p.index_in_file)
    });
    order
}

/// The instant of a fixed time on a channel of zone `tz`: a civil time is read in that zone (a
/// time in a gap moves forward by the gap's length, a time in a fold is its first occurrence); an
/// instant is kept and expressed in the zone. `None` only outside jiff's range (years -9999 to
/// 9999).
pub fn fixed_instant(at: PostTime, tz: &TimeZone) -> Option<Zoned> {
    match at {
        PostTime::Civil(datetime) => Some(resolve(tz, datetime)?.to_zoned(tz.clone())),
        PostTime::Instant(ts) => Some(ts.to_zoned(tz.clone())),
    }
}

/// Lays the queue on the calendar and returns the window `[window_from, window_to)`.
///
/// Queue posts fill free slots from `now` on (slots before `now` stay empty: the queue fills from
/// the present), through `window_to`; posts placed before `window_from` take their slots but are
/// not returned. Every slot of every channel in the window is an entry, filled or empty; a post
/// with a fixed time in the window is an entry at that time on each of its channels. Posts the
/// `history` marks [`Prior::Done`] are left out. Channels a post names that are not in `channels`
/// are ignored (config validation reports them), as are fixed times outside jiff's range. Takes
/// no lock and does no I/O.
///
/// # Errors
/// [`SlotError::TooDense`] when a channel's cron cadence asks for more than one slot a minute.
pub fn lay(
    channels: &[Channel],
    posts: &[Post],
    history: &History,
    window_from: Timestamp,
    window_to: Timestamp,
    now: Timestamp,
) -> Result<Calendar, SlotError> {
    let lanes = fill(channels, posts, history, window_from.min(now), window_to, now)?;
    let mut entries = Vec::new();
    for lane in &lanes {
        let entry = |at: &Zoned, occupant: Option<Occupant>| Entry {
            channel: lane.channel.name.clone(),
            network: lane.channel.network,
            at: at.clone(),
            post: occupant.map(|o| o.post),
            fixed: occupant.is_some_and(|o| o.fixed),
        };
        let first = lane.stamps.partition_point(|t| *t < window_from);
        for i in first..lane.slots.len() {
            entries.push(entry(&lane.slots[i], lane.occupant[i]));
        }
        for (at, occupant) in &lane.extra {
            let ts = at.timestamp();
            if window_from <= ts && ts < window_to {
                entries.push(entry(at, Some(*occupant)));
            }
        }
    }
    // Stable: at one instant on one channel, the slot comes first, then extras in queue order.
    entries.sort_by(|a, b| (a.at.timestamp(), &a.channel).cmp(&(b.at.timestamp(), &b.channel)));
    Ok(Calendar { from: window_from, to: window_to, entries })
}

/// Every placement of the queue: queue posts in the free slots of `[from, until)` (filling starts
/// at `from`), plus every fixed time and every instant the `history` pins, wherever they fall
/// (past or beyond `until`). Sorted by instant, then channel, then queue order. A (post, channel)
/// pair that is absent found no free slot before `until`, or is [`Prior::Done`].
///
/// This is what [`lay`] computes with `from = now`, without the empty slots and the window cut:
/// the daemon gets the same due instants as the preview. Takes no lock and does no I/O.
///
/// # Errors
/// [`SlotError::TooDense`] when a channel's cron cadence asks for more than one slot a minute.
pub fn assign(
    channels: &[Channel],
    posts: &[Post],
    history: &History,
    from: Timestamp,
    until: Timestamp,
) -> Result<Vec<Placement>, SlotError> {
    let lanes = fill(channels, posts, history, from, until, from)?;
    let mut placements = Vec::new();
    for lane in &lanes {
        let placement = |at: &Zoned, o: Occupant| Placement {
            post: o.post,
            channel: lane.channel.name.clone(),
            at: at.clone(),
            fixed: o.fixed,
        };
        for (at, occupant) in lane.slots.iter().zip(&lane.occupant) {
            if let Some(o) = occupant {
                placements.push(placement(at, *o));
            }
        }
        for (at, o) in &lane.extra {
            placements.push(placement(at, *o));
        }
    }
    let rank: Vec<usize> = {
        let mut rank = vec![0; posts.len()];
        for (r, &p) in queue_order(posts).iter().enumerate() {
            rank[p] = r;
        }
        rank
    };
    placements.sort_by(|a, b| {
        (a.at.timestamp(), &a.channel, rank[a.post]).cmp(&(
            b.at.timestamp(),
            &b.channel,
            rank[b.post],
        ))
    });
    Ok(placements)
}

/// Who holds a slot.
#[derive(Debug, Clone, Copy)]
struct Occupant {
    post: usize,
    fixed: bool,
}

/// One channel's slots and who holds them.
struct Lane<'c> {
    channel: &'c Channel,
    slots: Vec<Zoned>,
    /// `slots[i].timestamp()`, for binary search.
    stamps: Vec<Timestamp>,
    occupant: Vec<Option<Occupant>>,
    /// Posts at an instant that is not one of the slots (or whose slot was already held).
    extra: Vec<(Zoned, Occupant)>,
    /// Every slot before it is held or before the start of filling.
    cursor: usize,
}

impl Lane<'_> {
    /// Puts a post at `at`: in the slot at that instant if there is a free one, else as an extra.
    fn pin(&mut self, at: Zoned, occupant: Occupant) {
        let ts = at.timestamp();
        match self.stamps.binary_search(&ts) {
            Ok(i) if self.occupant[i].is_none() => self.occupant[i] = Some(occupant),
            _ => self.extra.push((at, occupant)),
        }
    }

    /// Puts a post in the next free slot; false when none is left.
    fn take_next(&mut self, post: usize) -> bool {
        while self.cursor < self.slots.len() && self.occupant[self.cursor].is_some() {
            self.cursor += 1;
        }
        let Some(slot) = self.occupant.get_mut(self.cursor) else {
            return false;
        };
        *slot = Some(Occupant { post, fixed: false });
        self.cursor += 1;
        true
    }
}

/// The two passes of the module doc: slots in `[slot_from, slot_to)` for each channel, fixed and
/// pinned posts at their instants, then queue posts from `fill_from` on.
fn fill<'c>(
    channels: &'c [Channel],
    posts: &[Post],
    history: &History,
    slot_from: Timestamp,
    slot_to: Timestamp,
    fill_from: Timestamp,
) -> Result<Vec<Lane<'c>>, SlotError> {
    let mut lanes: Vec<Lane<'c>> = Vec::with_capacity(channels.len());
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(channels.len());
    for channel in channels {
        if by_name.contains_key(channel.name.as_str()) {
            continue;
        }
        let slots: Vec<Zoned> = Schedule::new(channel)?.slots(slot_from, slot_to).collect();
        let stamps: Vec<Timestamp> = slots.iter().map(Zoned::timestamp).collect();
        let cursor = stamps.partition_point(|t| *t < fill_from);
        by_name.insert(&channel.name, lanes.len());
        lanes.push(Lane {
            channel,
            occupant: vec![None; slots.len()],
            slots,
            stamps,
            extra: Vec::new(),
            cursor,
        });
    }

    let order = queue_order(posts);
    for &p in &order {
        let post = &posts[p];
        for (l, prior) in targets(post, &by_name, history) {
            let lane = &mut lanes[l];
            let tz = &lane.channel.timezone;
            let pinned = match (prior, post.at) {
                (Some(Prior::Done | Prior::Requeue), _) | (None, None) => None,
                (Some(Prior::At(ts)), _) => Some((ts.to_zoned(tz.clone()), false)),
                (None, Some(at)) => fixed_instant(at, tz).map(|z| (z, true)),
            };
            if let Some((at, fixed)) = pinned {
                lane.pin(at, Occupant { post: p, fixed });
            }
        }
    }
    for &p in &order {
        let post = &posts[p];
        for (l, prior) in targets(post, &by_name, history) {
            let queued = match prior {
                Some(Prior::Requeue) => true,
                Some(Prior::Done | Prior::At(_)) => false,
                None => post.at.is_none(),
            };
            if queued {
                lanes[l].take_next(p);
            }
        }
    }
    Ok(lanes)
}

/// The lanes a post goes to, with what the history says about each: known channels, each once.
fn targets<'a>(
    post: &'a Post,
    by_name: &'a HashMap<&str, usize>,
    history: &'a History,
) -> impl Iterator<Item = (usize, Option<Prior>)> + 'a {
    post.channels.iter().enumerate().filter_map(move |(i, name)| {
        if post.channels[..i].contains(name) {
            return None;
        }
        let lane = *by_name.get(name.as_str())?;
        let prior = if history.is_empty() { None } else { history.get(&post.id, name) };
        Some((lane, prior))
    })
}
