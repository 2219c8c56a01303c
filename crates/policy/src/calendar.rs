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

use crieur_core::{Channel, Diagnostic, Location, Severity};
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::effective::{Effective, Scope, effective};
use crate::rules::{default_severity, rule};
use crate::settings::PolicyConfig;

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::PolicyLayer;
    use crate::testing::channel;
    use crieur_core::Network;
    use jiff::civil::{Time, date};
    use jiff::tz::{TimeZone, offset};

    fn paris() -> TimeZone {
        TimeZone::fixed(offset(2))
    }

    fn chan(name: &str, network: Network) -> Channel {
        let mut c = channel(name, network);
        c.timezone = paris();
        c
    }

    fn at(day: i8, h: i8, m: i8) -> Zoned {
        date(2026, 6, day).at(h, m, 0, 0).to_zoned(paris()).unwrap()
    }

    fn item(id: &str, ch: &str, when: Zoned, text: &str, category: Option<&str>) -> Scheduled {
        Scheduled {
            post_id: id.into(),
            channel: ch.into(),
            at: when,
            text: text.into(),
            category: category.map(str::to_owned),
            location: Some(Location::new("posts/q.toml", 3, 1)),
        }
    }

    fn week() -> (Timestamp, Timestamp) {
        (at(1, 0, 0).timestamp(), at(8, 0, 0).timestamp())
    }

    fn run(
        items: &[Scheduled],
        history: &[Published],
        chans: &[&Channel],
        policy: &PolicyConfig,
    ) -> Vec<(String, Option<String>, Severity)> {
        check_calendar(items, history, week(), chans, policy)
            .into_iter()
            .map(|d| (d.rule, d.post, d.severity))
            .collect()
    }

    /// One post a day at 09:00, different texts: nothing to say.
    fn daily(ch: &str) -> Vec<Scheduled> {
        (1..=7)
            .map(|d| item(&format!("d{d}"), ch, at(d, 9, 0), &format!("text {d}"), Some("news")))
            .collect()
    }

    #[test]
    fn a_regular_week_passes() {
        let x = chan("company-x", Network::X);
        assert!(run(&daily("company-x"), &[], &[&x], &PolicyConfig::default()).is_empty());
    }

    #[test]
    fn duplicate() {
        let x = chan("company-x", Network::X);
        let mut items = daily("company-x");
        items[4].text = "text 1 ".into();
        let found = run(&items, &[], &[&x], &PolicyConfig::default());
        assert_eq!(found, [(rule::DUPLICATE.into(), Some("d5".into()), Severity::Error)]);
        // Against what was already published, within the window only.
        let history = |days: i64| Published {
            post_id: "old".into(),
            channel: "company-x".into(),
            at: at(1, 9, 0).timestamp() - SignedDuration::from_hours(24 * days),
            text: "text 3".into(),
            category: None,
        };
        let mut quiet_ok = PolicyConfig::default();
        quiet_ok.base.max_silence = Some(SignedDuration::from_hours(24 * 60));
        let found = run(&daily("company-x"), &[history(10)], &[&x], &quiet_ok);
        assert_eq!(found, [(rule::DUPLICATE.into(), Some("d3".into()), Severity::Error)]);
        assert!(run(&daily("company-x"), &[history(40)], &[&x], &quiet_ok).is_empty());
        // Another channel may carry the same text.
        let li = chan("company-li", Network::Linkedin);
        let mut both = daily("company-x");
        both.push(item("l1", "company-li", at(2, 10, 0), "text 1", None));
        let mut p = PolicyConfig::default();
        p.base.max_silence = Some(SignedDuration::from_hours(24 * 30));
        assert!(run(&both, &[], &[&x, &li], &p).is_empty());
        let layer = PolicyLayer {
            duplicate_window: Some(SignedDuration::from_hours(24)),
            ..Default::default()
        };
        p.channels.insert("company-x".into(), layer);
        assert!(run(&items, &[], &[&x], &p).is_empty(), "a 1-day window lets day 5 repeat day 1");
    }

    #[test]
    fn min_gap() {
        let x = chan("company-x", Network::X);
        let mut items = daily("company-x");
        items.push(item("close", "company-x", at(3, 9, 40), "another", None));
        let found = run(&items, &[], &[&x], &PolicyConfig::default());
        assert_eq!(
            found,
            [(rule::REGULARITY_MIN_GAP.into(), Some("close".into()), Severity::Error)]
        );
        let d = &check_calendar(&items, &[], week(), &[&x], &PolicyConfig::default())[0];
        assert!(d.message.contains("40m") && d.message.contains("minimum 1h"), "{}", d.message);
        let mut p = PolicyConfig::default();
        p.base.min_gap = Some(SignedDuration::from_mins(30));
        assert!(run(&items, &[], &[&x], &p).is_empty());
        let mut p = PolicyConfig::default();
        let mut layer = PolicyLayer::default();
        layer.rules.insert(rule::REGULARITY_MIN_GAP.into(), Severity::Warning);
        p.networks.insert(Network::X, layer);
        assert_eq!(run(&items, &[], &[&x], &p)[0].2, Severity::Warning);
    }

    #[test]
    fn max_per_day_counts_the_local_day() {
        let li = chan("company-li", Network::Linkedin);
        let mut items = daily("company-li");
        items.push(item("e1", "company-li", at(2, 12, 0), "e1", None));
        // 23:30 local on day 2 is 21:30 UTC: still day 2 in the channel's zone.
        items.push(item("e2", "company-li", at(2, 23, 30), "e2", None));
        let found = run(&items, &[], &[&li], &PolicyConfig::default());
        assert_eq!(
            found,
            [(rule::REGULARITY_MAX_PER_DAY.into(), Some("e2".into()), Severity::Warning)]
        );
        // X allows 5 a day.
        let x = chan("company-x", Network::X);
        let items_x: Vec<_> = items
            .iter()
            .cloned()
            .map(|mut s| {
                s.channel = "company-x".into();
                s
            })
            .collect();
        assert!(run(&items_x, &[], &[&x], &PolicyConfig::default()).is_empty());
        let mut p = PolicyConfig::default();
        p.channels
            .insert("company-x".into(), PolicyLayer { max_per_day: Some(1), ..Default::default() });
        let found = run(&items_x, &[], &[&x], &p);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|f| f.0 == rule::REGULARITY_MAX_PER_DAY));
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let x = chan("company-x", Network::X);
        let mut items = daily("company-x");
        items.push(item("late", "company-x", at(4, 22, 30), "late", None));
        items.push(item("early", "company-x", at(5, 6, 59), "early", None));
        items.push(item("ok", "company-x", at(6, 7, 0), "ok", None));
        assert!(
            run(&items, &[], &[&x], &PolicyConfig::default()).is_empty(),
            "no quiet hours by default"
        );
        let mut p = PolicyConfig::default();
        p.base.quiet_hours = Some((Time::constant(22, 0, 0, 0), Time::constant(7, 0, 0, 0)));
        let found = run(&items, &[], &[&x], &p);
        assert_eq!(
            found,
            [
                (rule::REGULARITY_QUIET_HOURS.into(), Some("late".into()), Severity::Warning),
                (rule::REGULARITY_QUIET_HOURS.into(), Some("early".into()), Severity::Warning),
            ]
        );
        let mut layer = PolicyLayer::default();
        layer.rules.insert(rule::REGULARITY_QUIET_HOURS.into(), Severity::Error);
        p.channels.insert("company-x".into(), layer);
        assert!(run(&items, &[], &[&x], &p).iter().all(|f| f.2 == Severity::Error));
    }

    #[test]
    fn silence() {
        let x = chan("company-x", Network::X);
        let blog = chan("blog", Network::Webhook);
        // A 7-day window with no post at all on the blog is not longer than 7 days.
        assert!(run(&daily("company-x"), &[], &[&x, &blog], &PolicyConfig::default()).is_empty());
        let mut p = PolicyConfig::default();
        p.base.max_silence = Some(SignedDuration::from_hours(72));
        let found = run(&daily("company-x"), &[], &[&x, &blog], &p);
        assert_eq!(found, [(rule::REGULARITY_SILENCE.into(), None, Severity::Warning)]);
        let d = &check_calendar(&daily("company-x"), &[], week(), &[&x, &blog], &p)[0];
        assert_eq!(d.channel.as_deref(), Some("blog"));
        assert!(d.message.contains("7d") && d.message.contains("3d"), "{}", d.message);
        // Four quiet days in the middle of the week.
        let items: Vec<_> = daily("company-x")
            .into_iter()
            .filter(|s| !["d3", "d4", "d5", "d6"].contains(&s.post_id.as_str()))
            .collect();
        let found = run(&items, &[], &[&x], &p);
        assert_eq!(found, [(rule::REGULARITY_SILENCE.into(), None, Severity::Warning)]);
        // A post published just before the window shortens the first stretch.
        let history = [Published {
            post_id: "h".into(),
            channel: "blog".into(),
            at: at(1, 0, 0).timestamp() - SignedDuration::from_hours(1),
            text: "h".into(),
            category: None,
        }];
        let mut blog_items = vec![
            item("b1", "blog", at(3, 8, 0), "b1", None),
            item("b2", "blog", at(6, 8, 0), "b2", None),
        ];
        assert!(run(&blog_items, &history, &[&blog], &p).is_empty());
        blog_items.pop();
        assert_eq!(
            run(&blog_items, &history, &[&blog], &p).len(),
            1,
            "day 3 to the window's end is 5 days"
        );
    }

    #[test]
    fn mix_min_share_overall_and_per_channel() {
        let x = chan("company-x", Network::X);
        let li = chan("company-li", Network::Linkedin);
        let mut items = daily("company-x");
        // The same hr post on two channels counts once overall.
        items.push(item("hr1", "company-x", at(3, 15, 0), "hr", Some("hr")));
        items.push(item("hr1", "company-li", at(3, 15, 0), "hr", Some("hr")));
        let mut p = PolicyConfig::default();
        p.base.max_silence = Some(SignedDuration::from_hours(24 * 30));
        p.base.mix = Some([("hr".to_owned(), 0.10)].into_iter().collect());
        // 1 hr post of 8 distinct posts: 12.5%, enough.
        assert!(run(&items, &[], &[&x, &li], &p).is_empty());
        p.base.mix = Some([("hr".to_owned(), 0.20)].into_iter().collect());
        let found = check_calendar(&items, &[], week(), &[&x, &li], &p);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].rule.as_str(), found[0].channel.as_deref()),
            (rule::MIX_MIN_SHARE, None)
        );
        assert!(
            found[0].message.contains("1 of 8 posts") && found[0].message.contains("plan 1 more"),
            "{}",
            found[0].message
        );
        // A target on the LinkedIn network counts LinkedIn's posts only: 1 of 1.
        p.base.mix = None;
        p.networks.insert(
            Network::Linkedin,
            PolicyLayer {
                mix: Some([("hr".to_owned(), 0.5)].into_iter().collect()),
                ..Default::default()
            },
        );
        assert!(run(&items, &[], &[&x, &li], &p).is_empty());
        p.channels.insert(
            "company-x".into(),
            PolicyLayer {
                mix: Some([("hr".to_owned(), 0.5)].into_iter().collect()),
                ..Default::default()
            },
        );
        let found = check_calendar(&items, &[], week(), &[&x, &li], &p);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].channel.as_deref(), Some("company-x"));
        // Off at the base layer silences the overall count.
        let mut p = PolicyConfig::default();
        p.base.max_silence = Some(SignedDuration::from_hours(24 * 30));
        p.base.mix = Some([("hr".to_owned(), 0.9)].into_iter().collect());
        p.base.rules.insert(rule::MIX_MIN_SHARE.into(), Severity::Off);
        assert!(run(&items, &[], &[&x, &li], &p).is_empty());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(SignedDuration::from_mins(40)), "40m");
        assert_eq!(human(SignedDuration::from_hours(30)), "1d 6h");
        assert_eq!(human(SignedDuration::ZERO), "0m");
    }
}
