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
        // Only a fixed time or the history pins a post: without either, nothing to do here.
        if post.at.is_none() && history.is_empty() {
            continue;
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crieur_core::Location;
    use jiff::civil::date;

    fn channel(name: &str, zone: &str, cadence: &[&str]) -> Channel {
        Channel {
            name: name.into(),
            network: Network::Linkedin,
            timezone: TimeZone::get(zone).unwrap(),
            cadence: cadence.iter().map(|c| c.parse().unwrap()).collect(),
            max_length: None,
            location: Location::default(),
        }
    }

    fn post(id: &str, channels: &[&str], file_index: usize, index_in_file: usize) -> Post {
        Post {
            id: id.into(),
            location: Location::default(),
            text_location: Location::default(),
            file_index,
            index_in_file,
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            category: None,
            campaign: None,
            text: format!("text of {id}"),
            link: None,
            at: None,
            priority: 0,
            variants: BTreeMap::new(),
            thread: Vec::new(),
            article: None,
            media: Vec::new(),
            keep_metadata: false,
            options: Default::default(),
        }
    }

    /// Posts `ids` on `channels`, in file order.
    fn queue(ids: &[&str], channels: &[&str]) -> Vec<Post> {
        ids.iter().enumerate().map(|(i, id)| post(id, channels, 0, i)).collect()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A calendar as lines `AT CHANNEL POST` (`-` for an empty slot, `POST!` for a fixed time).
    fn lines(calendar: &Calendar, posts: &[Post]) -> Vec<String> {
        calendar
            .entries
            .iter()
            .map(|e| {
                let at = e.at.timestamp().display_with_offset(e.at.offset());
                let post = match e.post {
                    None => "-".to_owned(),
                    Some(p) if e.fixed => format!("{}!", posts[p].id),
                    Some(p) => posts[p].id.clone(),
                };
                format!("{at} {} {post}", e.channel)
            })
            .collect()
    }

    fn lay_lines(
        channels: &[Channel],
        posts: &[Post],
        history: &History,
        (from, to, now): (&str, &str, &str),
    ) -> Vec<String> {
        lines(&lay(channels, posts, history, ts(from), ts(to), ts(now)).unwrap(), posts)
    }

    /// Monday 2 March 2026 00:00 to Thursday 5 March 00:00 in Paris; now is the same Monday.
    const MON_TO_THU: (&str, &str, &str) =
        ("2026-03-01T23:00:00Z", "2026-03-04T23:00:00Z", "2026-03-01T23:00:00Z");

    #[test]
    fn free_slots_fill_by_priority_then_file_then_place() {
        let channels = [channel("li", "Europe/Paris", &["daily 09:00"])];
        let mut posts = vec![
            post("a", &["li"], 1, 0),
            post("b", &["li"], 0, 1),
            post("c", &["li"], 0, 0),
            post("d", &["li"], 2, 0),
        ];
        posts[3].priority = 10;
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), MON_TO_THU),
            [
                "2026-03-02T09:00:00+01:00 li d",
                "2026-03-03T09:00:00+01:00 li c",
                "2026-03-04T09:00:00+01:00 li b",
            ]
        );
        assert_eq!(queue_order(&posts), [3, 2, 1, 0]);
    }

    #[test]
    fn fixed_times_take_their_slot_or_stand_alone() {
        let channels = [channel("li", "Europe/Paris", &["daily 09:00"])];
        let mut posts = queue(&["q1", "on-slot", "off-slot", "q2", "instant", "q3"], &["li"]);
        posts[1].at = Some(PostTime::Civil(date(2026, 3, 3).at(9, 0, 0, 0)));
        posts[2].at = Some(PostTime::Civil(date(2026, 3, 3).at(14, 0, 0, 0)));
        posts[4].at = Some(PostTime::Instant(ts("2026-03-04T08:00:00Z")));
        let window = ("2026-03-01T23:00:00Z", "2026-03-05T23:00:00Z", "2026-03-01T23:00:00Z");
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), window),
            [
                "2026-03-02T09:00:00+01:00 li q1",
                "2026-03-03T09:00:00+01:00 li on-slot!",
                "2026-03-03T14:00:00+01:00 li off-slot!",
                "2026-03-04T09:00:00+01:00 li instant!",
                "2026-03-05T09:00:00+01:00 li q2",
            ]
        );
    }

    #[test]
    fn a_civil_fixed_time_is_read_in_each_channel_zone_with_the_gap_rule() {
        let channels =
            [channel("paris", "Europe/Paris", &[]), channel("ny", "America/New_York", &[])];
        let mut posts = queue(&["spring"], &["paris", "ny"]);
        // 02:30 on 29 March 2026 does not exist in Paris (moves to 03:30 +02:00); New York has
        // been on -04:00 since 8 March.
        posts[0].at = Some(PostTime::Civil(date(2026, 3, 29).at(2, 30, 0, 0)));
        let window = ("2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z", "2026-03-01T00:00:00Z");
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), window),
            ["2026-03-29T03:30:00+02:00 paris spring!", "2026-03-29T02:30:00-04:00 ny spring!"]
        );
    }

    #[test]
    fn each_channel_fills_on_its_own() {
        let channels = [
            channel("paris", "Europe/Paris", &["daily 09:00"]),
            channel("ny", "America/New_York", &["Tue,Thu 10:00"]),
        ];
        let posts = vec![
            post("p1", &["paris", "ny"], 0, 0),
            post("p2", &["paris"], 0, 1),
            post("p3", &["ny", "paris"], 0, 2),
        ];
        let window = ("2026-03-01T23:00:00Z", "2026-03-06T23:00:00Z", "2026-03-01T23:00:00Z");
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), window),
            [
                "2026-03-02T09:00:00+01:00 paris p1",
                "2026-03-03T09:00:00+01:00 paris p2",
                "2026-03-03T10:00:00-05:00 ny p1",
                "2026-03-04T09:00:00+01:00 paris p3",
                "2026-03-05T09:00:00+01:00 paris -",
                "2026-03-05T10:00:00-05:00 ny p3",
                "2026-03-06T09:00:00+01:00 paris -",
            ]
        );
    }

    #[test]
    fn posts_placed_before_the_window_take_their_slots() {
        let channels = [channel("li", "Europe/Paris", &["daily 09:00"])];
        let posts = queue(&["p0", "p1", "p2", "p3"], &["li"]);
        // Now is Monday; the window starts Wednesday: p0 and p1 go out Monday and Tuesday.
        let window = ("2026-03-03T23:00:00Z", "2026-03-06T23:00:00Z", "2026-03-01T23:00:00Z");
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), window),
            [
                "2026-03-04T09:00:00+01:00 li p2",
                "2026-03-05T09:00:00+01:00 li p3",
                "2026-03-06T09:00:00+01:00 li -",
            ]
        );
        // The same placements come out of `assign`.
        let placed =
            assign(&channels, &posts, &History::new(), ts(window.2), ts(window.1)).unwrap();
        let placed: Vec<(usize, String)> =
            placed.iter().map(|p| (p.post, p.at.datetime().to_string())).collect();
        assert_eq!(
            placed,
            [
                (0, "2026-03-02T09:00:00".to_owned()),
                (1, "2026-03-03T09:00:00".to_owned()),
                (2, "2026-03-04T09:00:00".to_owned()),
                (3, "2026-03-05T09:00:00".to_owned()),
            ]
        );
    }

    #[test]
    fn slots_before_now_stay_empty_and_every_slot_is_an_entry() {
        let channels = [channel("li", "Europe/Paris", &["daily 09:00", "daily 17:00"])];
        let posts = queue(&["p0"], &["li"]);
        // Now is Tuesday at 13:00: the queue fills from Tuesday 17:00.
        let window = ("2026-03-01T23:00:00Z", "2026-03-03T23:00:00Z", "2026-03-03T12:00:00Z");
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), window),
            [
                "2026-03-02T09:00:00+01:00 li -",
                "2026-03-02T17:00:00+01:00 li -",
                "2026-03-03T09:00:00+01:00 li -",
                "2026-03-03T17:00:00+01:00 li p0",
            ]
        );
        // Now after the window: nothing is filled, every slot is still there.
        let window = ("2026-03-01T23:00:00Z", "2026-03-02T23:00:00Z", "2026-04-01T00:00:00Z");
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), window),
            ["2026-03-02T09:00:00+01:00 li -", "2026-03-02T17:00:00+01:00 li -"]
        );
    }

    #[test]
    fn entries_sort_by_instant_then_channel_name() {
        // Given in reverse name order; three channels at the same instant, one an hour earlier.
        let channels = [
            channel("zeta", "UTC", &["daily 09:00"]),
            channel("beta", "Europe/London", &["daily 09:00"]),
            channel("alpha", "Europe/Lisbon", &["daily 09:00"]),
            channel("early", "Europe/Paris", &["daily 09:00"]),
        ];
        let window = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "2026-03-02T00:00:00Z");
        assert_eq!(
            lay_lines(&channels, &[], &History::new(), window),
            [
                "2026-03-02T09:00:00+01:00 early -",
                "2026-03-02T09:00:00+00:00 alpha -",
                "2026-03-02T09:00:00+00:00 beta -",
                "2026-03-02T09:00:00+00:00 zeta -",
            ]
        );
    }

    #[test]
    fn unknown_and_repeated_channels_are_ignored() {
        let channels = [channel("li", "Europe/Paris", &["daily 09:00"])];
        let posts =
            vec![post("p0", &["nowhere", "li", "li"], 0, 0), post("p1", &["nowhere"], 0, 1)];
        assert_eq!(
            lay_lines(&channels, &posts, &History::new(), MON_TO_THU),
            [
                "2026-03-02T09:00:00+01:00 li p0",
                "2026-03-03T09:00:00+01:00 li -",
                "2026-03-04T09:00:00+01:00 li -",
            ]
        );
    }

    #[test]
    fn history_skips_pins_and_requeues() {
        let channels = [
            channel("li", "Europe/Paris", &["daily 09:00"]),
            channel("x", "Europe/Paris", &["daily 12:00"]),
        ];
        let mut posts = queue(&["published", "pinned", "missed", "next"], &["li", "x"]);
        posts[2].at = Some(PostTime::Civil(date(2026, 2, 1).at(9, 0, 0, 0)));
        let mut history = History::new();
        // Published on li only: it still fills x.
        history.record("published", "li", Prior::Done);
        // Recorded for Wednesday 09:00 on li (a slot) and Tuesday 15:00 on x (not a slot).
        history.record("pinned", "li", Prior::At(ts("2026-03-04T08:00:00Z")));
        history.record("pinned", "x", Prior::At(ts("2026-03-03T14:00:00Z")));
        // Its fixed time passed and was skipped on li: it takes li's next free slot; on x it
        // stays at its (past) fixed time, outside the window.
        history.record("missed", "li", Prior::Requeue);
        assert_eq!(history.get("missed", "li"), Some(Prior::Requeue));
        assert_eq!(history.get("missed", "x"), None);
        assert_eq!(
            lay_lines(&channels, &posts, &history, MON_TO_THU),
            [
                "2026-03-02T09:00:00+01:00 li missed",
                "2026-03-02T12:00:00+01:00 x published",
                "2026-03-03T09:00:00+01:00 li next",
                "2026-03-03T12:00:00+01:00 x next",
                "2026-03-03T15:00:00+01:00 x pinned",
                "2026-03-04T09:00:00+01:00 li pinned",
                "2026-03-04T12:00:00+01:00 x -",
            ]
        );
        // `assign` also reports the fixed time outside its horizon, for the daemon's missed rule.
        let placed =
            assign(&channels, &posts, &history, ts(MON_TO_THU.0), ts(MON_TO_THU.1)).unwrap();
        let missed_on_x: Vec<&Placement> =
            placed.iter().filter(|p| p.post == 2 && p.channel == "x").collect();
        assert_eq!(missed_on_x.len(), 1);
        assert!(missed_on_x[0].fixed);
        assert_eq!(missed_on_x[0].at.to_string(), "2026-02-01T09:00:00+01:00[Europe/Paris]");
    }

    #[test]
    fn more_posts_than_slots_leaves_the_rest_unplaced() {
        let channels = [
            channel("a", "Europe/Paris", &["daily 09:00"]),
            channel("b", "America/New_York", &["cron:0 9,15 * * MON-FRI"]),
        ];
        let posts: Vec<Post> =
            (0..20_000).map(|i| post(&format!("p{i}"), &["a", "b"], i / 50, i % 50)).collect();
        // Four weeks from Monday 2 March.
        let (from, to) = (ts("2026-03-02T00:00:00Z"), ts("2026-03-30T00:00:00Z"));
        let placed = assign(&channels, &posts, &History::new(), from, to).unwrap();
        let on_a = placed.iter().filter(|p| p.channel == "a").count();
        let on_b = placed.iter().filter(|p| p.channel == "b").count();
        assert_eq!((on_a, on_b), (28, 40));
        // The first posts in queue order got the slots, in order, on each channel.
        for name in ["a", "b"] {
            let got: Vec<usize> =
                placed.iter().filter(|p| p.channel == name).map(|p| p.post).collect();
            let want: Vec<usize> = (0..got.len()).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn too_dense_cadence_is_an_error() {
        let channels = [channel("x", "UTC", &["cron:*/10 * * * * *"])];
        let err = lay(
            &channels,
            &[],
            &History::new(),
            ts("2026-03-02T00:00:00Z"),
            ts("2026-03-03T00:00:00Z"),
            ts("2026-03-02T00:00:00Z"),
        )
        .unwrap_err();
        assert!(matches!(err, SlotError::TooDense { per_day: 8640, .. }), "{err}");
    }
}
