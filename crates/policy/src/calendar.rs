//! The calendar rules: what can only be judged from the posts laid on the calendar together
//! with what was already published.
//!
//! - `duplicate`: the same rendered text (compared after trimming) twice on one channel less
//!   than `duplicate_window` apart; reported on the later scheduled post (or on the scheduled
//!   one when the other is already published).
//! - `regularity.min_gap`: two posts on one channel less than `min_gap` apart; reported on the
//!   later one when it is scheduled.
//! - `regularity.max_per_day`: more than `max_per_day` posts on one channel on one local day of
//!   the channel's zone (published ones count); reported on each scheduled post past the limit.
//! - `regularity.quiet_hours`: a scheduled post inside `quiet_hours`, in the channel's zone.
//! - `regularity.silence` (window-level): a stretch longer than `max_silence` without any post
//!   on a channel that overlaps the window. The stretch starts at the last post before it
//!   (published or scheduled), else at the window's start, and ends at the next post, else at
//!   the window's end.
//! - `mix.min_share` (window-level): over the `mix_window` that ends with the window, the share
//!   of posts of a category among all posts, below its target. A target from `[policy]` counts
//!   every channel's posts together, each post once however many channels it goes to (the
//!   team's overall mix); a target set in `[policy.NETWORK]` or `[policy.channels.NAME]` counts
//!   that channel's posts. Nothing is reported when the period holds no post at all (the
//!   silence rule speaks then).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crieur_config::PolicyConfig;
use crieur_core::{Channel, Diagnostic, Location, Severity};
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::effective::{Effective, Scope, default_severity, effective, rule};

/// A post laid on the calendar for one channel.
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// The post id.
    pub post_id: String,
    /// The channel name.
    pub channel: String,
    /// When, in the channel's zone.
    pub at: Zoned,
    /// The rendered text (what the network would receive).
    pub text: String,
    /// The post's category.
    pub category: Option<String>,
    /// Where the post is written.
    pub location: Option<Location>,
}

/// A post the store says went out.
#[derive(Debug, Clone)]
pub struct Published {
    /// The post id.
    pub post_id: String,
    /// The channel name.
    pub channel: String,
    /// When it was published.
    pub at: Timestamp,
    /// The text sent.
    pub text: String,
    /// The post's category, when known (for `mix.min_share`).
    pub category: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Event<'a> {
    at: Timestamp,
    post: &'a str,
    text: &'a str,
    category: Option<&'a str>,
    scheduled: Option<&'a Scheduled>,
}

/// Runs the calendar rules on `items` (the laid calendar) against `history`, for `window`
/// (start inclusive, end exclusive), with each channel's settings from `policy`.
///
/// Items and history on a channel not in `channels` are ignored (the config reports unknown
/// channels). Diagnostics come channel by channel in the order of `channels`, then the
/// window-wide mix; within a channel, by rule then time.
pub fn check_calendar(
    items: &[Scheduled],
    history: &[Published],
    window: (Timestamp, Timestamp),
    channels: &[&Channel],
    policy: &PolicyConfig,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut all_events: Vec<Event<'_>> = Vec::new();
    for channel in channels {
        let eff = effective(policy, channel);
        let mut events: Vec<Event<'_>> = items
            .iter()
            .filter(|s| s.channel == channel.name)
            .map(|s| Event {
                at: s.at.timestamp(),
                post: &s.post_id,
                text: &s.text,
                category: s.category.as_deref(),
                scheduled: Some(s),
            })
            .chain(history.iter().filter(|p| p.channel == channel.name).map(|p| Event {
                at: p.at,
                post: &p.post_id,
                text: &p.text,
                category: p.category.as_deref(),
                scheduled: None,
            }))
            .collect();
        events.sort_by(|a, b| {
            (a.at, a.post, a.scheduled.is_some()).cmp(&(b.at, b.post, b.scheduled.is_some()))
        });
        let mut out = Out { eff: &eff, channel, diags: &mut diags };
        duplicates(&mut out, &events);
        min_gap(&mut out, &events);
        max_per_day(&mut out, &events);
        quiet_hours(&mut out, &events);
        silence(&mut out, &events, window);
        if matches!(eff.mix_scope, Scope::Network | Scope::Channel) {
            let found = mix_shortfalls(&eff.mix, eff.mix_window, &events, window.1, false);
            for m in found {
                out.window_level(rule::MIX_MIN_SHARE, eff.mix_location.clone(), m);
            }
        }
        all_events.extend(events);
    }
    if let Some(targets) = &policy.base.mix {
        let severity = policy
            .base
            .rules
            .get(rule::MIX_MIN_SHARE)
            .copied()
            .or_else(|| default_severity(rule::MIX_MIN_SHARE))
            .unwrap_or(Severity::Off);
        if severity != Severity::Off {
            let mix_window = policy.base.mix_window.unwrap_or(SignedDuration::from_hours(28 * 24));
            for message in mix_shortfalls(targets, mix_window, &all_events, window.1, true) {
                diags.push(Diagnostic {
                    rule: rule::MIX_MIN_SHARE.to_owned(),
                    severity,
                    message,
                    post: None,
                    channel: None,
                    location: policy.base.location.clone(),
                });
            }
        }
    }
    diags
}

struct Out<'a, 'd> {
    eff: &'a Effective,
    channel: &'a Channel,
    diags: &'d mut Vec<Diagnostic>,
}

impl Out<'_, '_> {
    fn on_post(&mut self, id: &str, s: &Scheduled, message: String) {
        let severity = self.eff.severity(id);
        if severity == Severity::Off {
            return;
        }
        self.diags.push(Diagnostic {
            rule: id.to_owned(),
            severity,
            message,
            post: Some(s.post_id.clone()),
            channel: Some(self.channel.name.clone()),
            location: s.location.clone(),
        });
    }

    fn window_level(&mut self, id: &str, location: Option<Location>, message: String) {
        let severity = self.eff.severity(id);
        if severity == Severity::Off {
            return;
        }
        self.diags.push(Diagnostic {
            rule: id.to_owned(),
            severity,
            message,
            post: None,
            channel: Some(self.channel.name.clone()),
            location,
        });
    }

    fn local(&self, at: Timestamp) -> String {
        at.to_zoned(self.channel.timezone.clone()).strftime("%a %Y-%m-%d %H:%M").to_string()
    }
}

/// `1d 2h 5m`, `45m`, `0m`.
pub(crate) fn human(d: SignedDuration) -> String {
    let total = d.as_secs().unsigned_abs() / 60;
    let (days, hours, mins) = (total / 1440, total / 60 % 24, total % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(format!("{mins}m"));
    }
    parts.join(" ")
}

fn duplicates(out: &mut Out<'_, '_>, events: &[Event<'_>]) {
    let window = out.eff.duplicate_window;
    let mut by_text: HashMap<&str, Vec<&Event<'_>>> = HashMap::new();
    for e in events {
        by_text.entry(e.text.trim()).or_default().push(e);
    }
    for e in events {
        let Some(s) = e.scheduled else { continue };
        let text = e.text.trim();
        if text.is_empty() {
            continue;
        }
        let Some(same) = by_text.get(text) else { continue };
        // The other one: published, or scheduled before this one, within the window.
        let other = same.iter().find(|o| {
            !std::ptr::eq(**o, e)
                && (o.scheduled.is_none() || (o.at, o.post) < (e.at, e.post))
                && e.at.duration_since(o.at).abs() < window
        });
        if let Some(o) = other {
            let what = if o.scheduled.is_some() { "is also scheduled" } else { "was published" };
            let message = format!(
                "the same text {what} on {} as post {} at {} (less than {} apart): reword one of them",
                out.channel.name,
                o.post,
                out.local(o.at),
                human(window)
            );
            out.on_post(rule::DUPLICATE, s, message);
        }
    }
}

fn min_gap(out: &mut Out<'_, '_>, events: &[Event<'_>]) {
    let gap = out.eff.min_gap;
    for pair in events.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let apart = b.at.duration_since(a.at);
        if apart >= gap {
            continue;
        }
        let (target, other) = match (b.scheduled, a.scheduled) {
            (Some(s), _) => (s, a),
            (None, Some(s)) => (s, b),
            (None, None) => continue,
        };
        let message = format!(
            "post {} at {} is {} from post {} at {} on {} (minimum {}): move one of them",
            target.post_id,
            out.local(target.at.timestamp()),
            human(apart),
            other.post,
            out.local(other.at),
            out.channel.name,
            human(gap)
        );
        out.on_post(rule::REGULARITY_MIN_GAP, target, message);
    }
}

fn max_per_day(out: &mut Out<'_, '_>, events: &[Event<'_>]) {
    let max = out.eff.max_per_day as usize;
    let mut days: BTreeMap<jiff::civil::Date, Vec<&Event<'_>>> = BTreeMap::new();
    for e in events {
        days.entry(e.at.to_zoned(out.channel.timezone.clone()).date()).or_default().push(e);
    }
    for (day, list) in days {
        if list.len() <= max {
            continue;
        }
        for e in &list[max..] {
            if let Some(s) = e.scheduled {
                let message = format!(
                    "{} posts on {} on {} (local day), at most {}: move post {} to another day",
                    list.len(),
                    out.channel.name,
                    day.strftime("%a %Y-%m-%d"),
                    max,
                    s.post_id
                );
                out.on_post(rule::REGULARITY_MAX_PER_DAY, s, message);
            }
        }
    }
}

fn quiet_hours(out: &mut Out<'_, '_>, events: &[Event<'_>]) {
    let Some((start, end)) = out.eff.quiet_hours else { return };
    for e in events {
        let Some(s) = e.scheduled else { continue };
        let t = e.at.to_zoned(out.channel.timezone.clone()).time();
        let quiet = if start < end {
            t >= start && t < end
        } else if start > end {
            t >= start || t < end
        } else {
            false
        };
        if quiet {
            let message = format!(
                "post {} at {} falls in the quiet hours {}-{} of {}: move it out of them",
                s.post_id,
                out.local(e.at),
                start.strftime("%H:%M"),
                end.strftime("%H:%M"),
                out.channel.name
            );
            out.on_post(rule::REGULARITY_QUIET_HOURS, s, message);
        }
    }
}

fn silence(out: &mut Out<'_, '_>, events: &[Event<'_>], window: (Timestamp, Timestamp)) {
    let (start, end) = window;
    if end <= start {
        return;
    }
    let max = out.eff.max_silence;
    let mut points: Vec<Timestamp> = Vec::new();
    points.push(events.iter().map(|e| e.at).filter(|&t| t <= start).max().unwrap_or(start));
    points.extend(events.iter().map(|e| e.at).filter(|&t| t > start && t < end));
    points.push(events.iter().map(|e| e.at).filter(|&t| t >= end).min().unwrap_or(end));
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let quiet = b.duration_since(a);
        if quiet > max {
            let message = format!(
                "no post on {} from {} to {} ({}, longest allowed {}): schedule a post in between",
                out.channel.name,
                out.local(a),
                out.local(b),
                human(quiet),
                human(max)
            );
            let location = Some(out.channel.location.clone());
            out.window_level(rule::REGULARITY_SILENCE, location, message);
        }
    }
}

/// The messages for categories below their share over the `mix_window` ending at `end`.
/// `distinct`: count each post once across channels.
fn mix_shortfalls(
    targets: &BTreeMap<String, f64>,
    mix_window: SignedDuration,
    events: &[Event<'_>],
    end: Timestamp,
    distinct: bool,
) -> Vec<String> {
    if targets.is_empty() {
        return Vec::new();
    }
    let from = end.checked_sub(mix_window).unwrap_or(Timestamp::MIN);
    let in_period = events.iter().filter(|e| e.at >= from && e.at < end);
    let mut posts: BTreeMap<(&str, usize), Option<&str>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (i, e) in in_period.enumerate() {
        if distinct {
            if seen.insert(e.post) {
                posts.insert((e.post, 0), e.category);
            }
        } else {
            posts.insert((e.post, i), e.category);
        }
    }
    let total = posts.len();
    if total == 0 {
        return Vec::new();
    }
    let mut messages = Vec::new();
    for (category, &target) in targets {
        let count = posts.values().filter(|c| **c == Some(category.as_str())).count();
        let share = count as f64 / total as f64;
        if share + 1e-9 < target {
            let needed = if target >= 1.0 {
                total - count
            } else {
                ((target * total as f64 - count as f64) / (1.0 - target)).ceil().max(1.0) as usize
            };
            messages.push(format!(
                "category {category:?} has {count} of {total} posts ({:.0}%) over the {} to {}, below its {:.0}% share: plan {needed} more {category} post{}",
                share * 100.0,
                human(mix_window),
                end.strftime("%Y-%m-%d %H:%M UTC"),
                target * 100.0,
                if needed == 1 { "" } else { "s" }
            ));
        }
    }
    messages
}
