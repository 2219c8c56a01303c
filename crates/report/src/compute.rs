//! The numbers of a report, from the store's rows, the post files and the config.

use std::collections::{BTreeMap, BTreeSet};

use crieur_core::engagement::{Metrics, Snapshot};
use crieur_core::store::{State, StatusRow};
use crieur_core::{Network, Post};
use crieur_scheduler::Schedule;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use serde::Serialize;

use crate::{Input, ReportError, Window};

/// A whole report; its serde form is the JSON of `crieur report --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The window's start, RFC 3339 in the config's zone.
    pub from: String,
    /// The window's end (exclusive).
    pub to: String,
    /// The config's zone name.
    pub timezone: String,
    /// One summary per channel, by name.
    pub channels: Vec<ChannelSummary>,
    /// Share of each category among the posts published in the window, against its target.
    pub mix: Vec<MixShare>,
    /// Every delivery due in the window (posts, not thread replies), by due time.
    pub posts: Vec<PostRow>,
    /// Totals per category (posts without one under `null`).
    pub categories: Vec<Total>,
    /// Totals per campaign (posts without one under `null`).
    pub campaigns: Vec<Total>,
    /// Totals per network.
    pub networks: Vec<Total>,
    /// Publications per week (weeks from Monday, in the config's zone) and channel.
    pub weeks: Vec<WeekCount>,
}

/// What went out on one channel against its plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelSummary {
    /// The channel's name.
    pub channel: String,
    /// Its network.
    pub network: String,
    /// Slots in the window: deliveries due in it plus cadence slots that passed empty.
    pub slots: u64,
    /// Deliveries published.
    pub published: u64,
    /// Deliveries failed.
    pub failed: u64,
    /// Cadence slots that passed with no delivery.
    pub skipped: u64,
    /// Deliveries of unknown outcome.
    pub unknown: u64,
    /// Deliveries cancelled.
    pub cancelled: u64,
    /// Deliveries not settled yet (queued, publishing, retrying).
    pub pending: u64,
    /// Median lateness of the published deliveries (publication minus due time), in seconds.
    pub late_p50_s: Option<f64>,
    /// Largest lateness, in seconds.
    pub late_max_s: Option<f64>,
    /// The longest stretch without a publication, in hours.
    pub longest_silence_h: Option<f64>,
    /// The policy's `max_silence` for this channel, in hours.
    pub max_silence_h: f64,
    /// Stretches without a publication longer than `max_silence`.
    pub silences: Vec<Silence>,
}

/// A stretch without a publication on one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Silence {
    /// Its start (the last publication, or the window's start).
    pub from: String,
    /// Its end (the next publication, or the window's end, or now).
    pub to: String,
    /// Its length, in hours.
    pub hours: f64,
}

/// One category's share against its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixShare {
    /// The category.
    pub category: String,
    /// Posts of this category published in the window.
    pub posts: u64,
    /// Its share of all posts published in the window (0 to 1).
    pub share: f64,
    /// The target of `[policy] mix`, when there is one.
    pub target: Option<f64>,
    /// Whether the share is below its target.
    pub below_target: bool,
}

/// One delivery due in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostRow {
    /// The post id.
    pub post: String,
    /// The channel.
    pub channel: String,
    /// The channel's network.
    pub network: String,
    /// The post's category, from the post files.
    pub category: Option<String>,
    /// The post's campaign, from the post files.
    pub campaign: Option<String>,
    /// When it was due, RFC 3339 in the channel's zone.
    pub at: String,
    /// Its state.
    pub state: String,
    /// When it was published.
    pub published_at: Option<String>,
    /// Publication minus due time, in seconds.
    pub late_s: Option<f64>,
    /// Its public URL.
    pub url: Option<String>,
    /// Its latest engagement snapshot.
    pub metrics: Option<MetricsRow>,
}

/// The figures of the latest snapshot of one delivery; a figure the network does not give is
/// `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct MetricsRow {
    /// Likes.
    pub likes: Option<u64>,
    /// Reposts.
    pub reposts: Option<u64>,
    /// Replies.
    pub replies: Option<u64>,
    /// Quotes.
    pub quotes: Option<u64>,
    /// Impressions.
    pub impressions: Option<u64>,
    /// Clicks.
    pub clicks: Option<u64>,
    /// When the figures were read.
    #[serde(serialize_with = "rfc3339_utc")]
    pub fetched_at: Option<Timestamp>,
}

fn rfc3339_utc<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        None => s.serialize_none(),
    }
}

/// Totals over a group of deliveries (a category, a campaign, a network).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Total {
    /// The group's name (`null`: posts without a category or campaign).
    pub name: Option<String>,
    /// Deliveries due in the window.
    pub deliveries: u64,
    /// Deliveries published.
    pub published: u64,
    /// Sums of the latest figures; a figure nobody gave stays `null`.
    pub metrics: MetricsRow,
}

/// Publications of one channel in one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekCount {
    /// The Monday starting the week (`YYYY-MM-DD`, config's zone).
    pub week: String,
    /// The channel.
    pub channel: String,
    /// Publications that week.
    pub published: u64,
}

/// Computes the report.
///
/// # Errors
/// [`ReportError::UnknownChannel`] for a `--channel` neither configured nor in the database;
/// [`ReportError::Slots`] when a channel's cadence cannot be laid out.
pub fn build(input: &Input<'_>) -> Result<Report, ReportError> {
    let config = input.config;
    let window = input.window;
    let known: BTreeSet<&str> = config
        .channels
        .keys()
        .map(String::as_str)
        .chain(input.deliveries.iter().map(|d| d.channel.as_str()))
        .collect();
    for c in input.channels {
        if !known.contains(c.as_str()) {
            return Err(ReportError::UnknownChannel(c.clone()));
        }
    }
    let selected: Vec<&str> = known
        .into_iter()
        .filter(|c| input.channels.is_empty() || input.channels.iter().any(|s| s == c))
        .collect();
    let posts: BTreeMap<&str, &Post> = input.posts.iter().map(|p| (p.id.as_str(), p)).collect();
    let zone_of = |channel: &str| -> TimeZone {
        config
            .channels
            .get(channel)
            .map_or_else(|| config.timezone.clone(), |c| c.channel.timezone.clone())
    };
    let end_of_past = window.to.timestamp().min(input.now).max(window.from.timestamp());

    let mut channels = Vec::new();
    let mut rows: Vec<(&StatusRow, PostRow)> = Vec::new();
    for name in &selected {
        let zone = zone_of(name);
        let mine: Vec<&StatusRow> = input
            .deliveries
            .iter()
            .filter(|d| d.channel == *name && d.item == 0 && window.contains(d.due_at))
            .collect();
        let network = config
            .channels
            .get(*name)
            .map(|c| c.channel.network)
            .or_else(|| input.deliveries.iter().find(|d| d.channel == *name).map(|d| d.network))
            .map_or_else(String::new, |n: Network| n.to_string());
        let mut s = ChannelSummary {
            channel: (*name).to_owned(),
            network: network.clone(),
            slots: 0,
            published: 0,
            failed: 0,
            skipped: 0,
            unknown: 0,
            cancelled: 0,
            pending: 0,
            late_p50_s: None,
            late_max_s: None,
            longest_silence_h: None,
            max_silence_h: 0.0,
            silences: Vec::new(),
        };
        for d in &mine {
            match d.state {
                State::Published => s.published += 1,
                State::Failed => s.failed += 1,
                State::Unknown => s.unknown += 1,
                State::Cancelled => s.cancelled += 1,
                State::Queued | State::Publishing | State::Retrying => s.pending += 1,
            }
        }
        if let Some(c) = config.channels.get(*name) {
            let schedule = Schedule::new(&c.channel)?;
            let due: BTreeSet<Timestamp> = mine.iter().map(|d| d.due_at).collect();
            let empty = schedule
                .slots(window.from.timestamp(), end_of_past)
                .filter(|slot| !due.contains(&slot.timestamp()))
                .count();
            s.skipped = empty as u64;
            let effective = crieur_policy::effective(&config.policy, &c.channel);
            s.max_silence_h = hours(effective.max_silence);
            let published: Vec<Timestamp> = input
                .deliveries
                .iter()
                .filter(|d| d.channel == *name && d.item == 0 && d.state == State::Published)
                .filter_map(|d| d.published_at)
                .collect();
            let (longest, silences) =
                silences(&published, window, end_of_past, effective.max_silence, &zone);
            s.longest_silence_h = longest;
            s.silences = silences;
        }
        s.slots = mine.len() as u64 + s.skipped;
        let mut late: Vec<f64> = mine
            .iter()
            .filter(|d| d.state == State::Published)
            .filter_map(|d| d.published_at.map(|p| seconds(p.duration_since(d.due_at))))
            .collect();
        late.sort_by(f64::total_cmp);
        s.late_p50_s = median(&late);
        s.late_max_s = late.last().copied();
        for d in mine {
            let post = posts.get(d.post.as_str());
            let row = PostRow {
                post: d.post.clone(),
                channel: d.channel.clone(),
                network: d.network.to_string(),
                category: post.and_then(|p| p.category.clone()),
                campaign: post.and_then(|p| p.campaign.clone()),
                at: rfc3339(&d.due_at.to_zoned(zone.clone())),
                state: d.state.as_str().to_owned(),
                published_at: d.published_at.map(|t| rfc3339(&t.to_zoned(zone.clone()))),
                late_s: (d.state == State::Published)
                    .then_some(d.published_at)
                    .flatten()
                    .map(|p| seconds(p.duration_since(d.due_at))),
                url: d.url.clone(),
                metrics: input.metrics.get(&d.id).map(metrics_row),
            };
            rows.push((d, row));
        }
        channels.push(s);
    }
    rows.sort_by(|(a, ra), (b, rb)| {
        (a.due_at, &ra.channel, &ra.post).cmp(&(b.due_at, &rb.channel, &rb.post))
    });
    let posts: Vec<PostRow> = rows.iter().map(|(_, r)| r.clone()).collect();
    let weeks = weeks(&rows, &config.timezone);
    Ok(Report {
        from: rfc3339(&window.from),
        to: rfc3339(&window.to),
        timezone: config.timezone_name.clone(),
        channels,
        mix: mix(&posts, config.policy.base.mix.as_ref()),
        categories: totals(&posts, |p| p.category.clone()),
        campaigns: totals(&posts, |p| p.campaign.clone()),
        networks: totals(&posts, |p| Some(p.network.clone())),
        weeks,
        posts,
    })
}

/// The longest stretch without a publication in `[window.from, end)`, and those longer than
/// `max`. A stretch starts at the last publication before the window when there is one (a
/// silence does not restart at the window's edge), clipped to the window.
fn silences(
    published: &[Timestamp],
    window: &Window,
    end: Timestamp,
    max: SignedDuration,
    zone: &TimeZone,
) -> (Option<f64>, Vec<Silence>) {
    let start = window.from.timestamp();
    if end <= start {
        return (None, Vec::new());
    }
    let before = published.iter().copied().filter(|&t| t < start).max();
    let mut points: Vec<Timestamp> = vec![before.unwrap_or(start)];
    let mut inside: Vec<Timestamp> =
        published.iter().copied().filter(|&t| t >= start && t < end).collect();
    inside.sort();
    points.extend(inside);
    points.push(end);
    let mut longest: Option<SignedDuration> = None;
    let mut found = Vec::new();
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let gap = b.duration_since(a);
        if longest.is_none_or(|l| gap > l) {
            longest = Some(gap);
        }
        if gap > max {
            found.push(Silence {
                from: rfc3339(&a.to_zoned(zone.clone())),
                to: rfc3339(&b.to_zoned(zone.clone())),
                hours: hours(gap),
            });
        }
    }
    (longest.map(hours), found)
}

fn mix(posts: &[PostRow], targets: Option<&BTreeMap<String, f64>>) -> Vec<MixShare> {
    let mut published: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for p in posts.iter().filter(|p| p.state == "published") {
        published.entry(p.post.as_str()).or_insert(p.category.as_deref());
    }
    let total = published.len();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for c in published.values().flatten() {
        *counts.entry((*c).to_owned()).or_default() += 1;
    }
    for t in targets.into_iter().flat_map(|t| t.keys()) {
        counts.entry(t.clone()).or_default();
    }
    counts
        .into_iter()
        .map(|(category, n)| {
            let share = if total == 0 { 0.0 } else { round(n as f64 / total as f64, 4) };
            let target = targets.and_then(|t| t.get(&category)).copied();
            let below_target = target.is_some_and(|t| share + 1e-9 < t);
            MixShare { category, posts: n, share, target, below_target }
        })
        .collect()
}

fn totals(posts: &[PostRow], key: impl Fn(&PostRow) -> Option<String>) -> Vec<Total> {
    let mut out: BTreeMap<Option<String>, Total> = BTreeMap::new();
    for p in posts {
        let name = key(p);
        let t = out.entry(name.clone()).or_insert_with(|| Total {
            name,
            deliveries: 0,
            published: 0,
            metrics: MetricsRow::default(),
        });
        t.deliveries += 1;
        if p.state == "published" {
            t.published += 1;
        }
        if let Some(m) = &p.metrics {
            let add = |sum: &mut Option<u64>, v: Option<u64>| {
                if let Some(v) = v {
                    *sum = Some(sum.unwrap_or(0).saturating_add(v));
                }
            };
            add(&mut t.metrics.likes, m.likes);
            add(&mut t.metrics.reposts, m.reposts);
            add(&mut t.metrics.replies, m.replies);
            add(&mut t.metrics.quotes, m.quotes);
            add(&mut t.metrics.impressions, m.impressions);
            add(&mut t.metrics.clicks, m.clicks);
            t.metrics.fetched_at = t.metrics.fetched_at.max(m.fetched_at);
        }
    }
    out.into_values().collect()
}

fn weeks(rows: &[(&StatusRow, PostRow)], zone: &TimeZone) -> Vec<WeekCount> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (d, r) in rows {
        let Some(at) = d.published_at.filter(|_| d.state == State::Published) else {
            continue;
        };
        let day = at.to_zoned(zone.clone()).date();
        let monday = day
            .checked_sub(jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset())))
            .unwrap_or(day);
        *counts.entry((monday.to_string(), r.channel.clone())).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((week, channel), published)| WeekCount { week, channel, published })
        .collect()
}

fn metrics_row(s: &Snapshot) -> MetricsRow {
    MetricsRow::from(s)
}

impl From<&Snapshot> for MetricsRow {
    fn from(s: &Snapshot) -> Self {
        let Metrics { likes, reposts, replies, quotes, impressions, clicks } = s.metrics;
        MetricsRow {
            likes,
            reposts,
            replies,
            quotes,
            impressions,
            clicks,
            fetched_at: Some(s.fetched_at),
        }
    }
}

impl MetricsRow {
    /// The figures on one line for a terminal, `-` for a figure the network does not give:
    /// `likes 12 · reposts 3 · replies 2 · quotes - · impressions 1830 · clicks 41 (read
    /// 2026-11-04 08:00 UTC)`.
    pub fn line(&self) -> String {
        let f = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let mut line = format!(
            "likes {} · reposts {} · replies {} · quotes {} · impressions {} · clicks {}",
            f(self.likes),
            f(self.reposts),
            f(self.replies),
            f(self.quotes),
            f(self.impressions),
            f(self.clicks)
        );
        if let Some(t) = self.fetched_at {
            line.push_str(&format!(" (read {})", t.strftime("%Y-%m-%d %H:%M UTC")));
        }
        line
    }
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(round((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0, 3)),
    }
}

fn seconds(d: SignedDuration) -> f64 {
    round(d.as_secs_f64(), 3)
}

fn hours(d: SignedDuration) -> f64 {
    round(d.as_secs_f64() / 3600.0, 2)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// RFC 3339 with the zone's offset (`2026-11-03T09:15:00+01:00`).
pub(crate) fn rfc3339(at: &Zoned) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}
