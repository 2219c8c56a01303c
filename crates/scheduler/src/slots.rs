//! Cadence -> slots: the instants at which a channel publishes.
//!
//! A [`Schedule`] is a channel's cadence made ready for evaluation: its zone, its weekly slots, and
//! for each cron cadence the times of day its hour, minute and second fields allow (those fields do
//! not depend on the date, so they are listed once). Slots are then found day by day: for each
//! civil date in the channel's zone, each cadence that holds on that date gives a civil date and
//! time, and jiff turns it into an instant with [`jiff::tz::Disambiguation::Compatible`]: a time in
//! a gap moves forward by the gap's length (02:30 becomes 03:30 on the night the clocks go
//! forward), a time in a fold happens once, at its first occurrence (the earlier offset). The
//! offset is looked up for every slot, never carried from one day to the next.
//!
//! Because a gap moves a time forward, a slot of one day can land after a later-configured slot of
//! the same or the next day (02:30 -> 03:30 comes after 03:10). [`Slots`] therefore keeps the slots
//! of the days it has expanded in a min-heap and only hands out those that no later day can
//! precede; equal instants (two cadences at the same time) come out once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crieur_core::{Cadence, Channel, DaySet};
use croner::Cron;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, Zoned};

/// The most slots one cadence may give in a day: one a minute.
///
/// A cron expression with a seconds field can ask for one slot a second (86,400 a day), which
/// would make a four-week calendar millions of entries long; such a cadence is refused.
pub const MAX_SLOTS_PER_DAY: usize = 1440;

/// The widest UTC offset jiff can represent is just under 26 hours; every instant is at least this
/// far before the same civil time read as UTC. Used to know when no later day can precede a slot.
const MAX_OFFSET: SignedDuration = SignedDuration::from_hours(26);

/// Why a channel's slots cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// A cron cadence gives more than [`MAX_SLOTS_PER_DAY`] slots a day.
    #[error(
        "cadence `{cadence}` of channel {channel:?} gives {per_day} slots a day; \
         a cadence may give at most {MAX_SLOTS_PER_DAY} (one a minute): \
         use a 5-field cron expression (minute, hour, day of month, month, day of week)"
    )]
    TooDense {
        /// The channel's name.
        channel: String,
        /// The cadence as written in the config.
        cadence: String,
        /// How many slots a day it would give.
        per_day: usize,
    },
}

/// The most slots `cadence` can give on one day (before two cadences at the same time are merged).
///
/// A weekly cadence gives one; a cron cadence gives as many as its hour, minute and second fields
/// allow together. Config validation can compare it with [`MAX_SLOTS_PER_DAY`] to report a
/// too-dense cadence at its place in the file.
pub fn slots_per_day(cadence: &Cadence) -> usize {
    match cadence {
        Cadence::Weekly { .. } => 1,
        Cadence::Cron { cron, .. } => {
            let p = &cron.pattern;
            let hours = (0..24).filter(|&h| p.hour_match(h).unwrap_or(false)).count();
            let minutes = (0..60).filter(|&m| p.minute_match(m).unwrap_or(false)).count();
            let seconds = (0..60).filter(|&s| p.second_match(s).unwrap_or(false)).count();
            hours * minutes * seconds
        }
    }
}

/// Every slot of `channel` in `[from, to)`, strictly increasing, in the channel's zone.
///
/// Shorthand for [`Schedule::new`] then [`Schedule::slots`]. The cost is proportional to the number
/// of days in the range (plus three) and to the number of slots found.
///
/// # Errors
/// [`SlotError::TooDense`] when a cron cadence asks for more than one slot a minute.
pub fn slots_between(
    channel: &Channel,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Zoned>, SlotError> {
    Ok(Schedule::new(channel)?.slots(from, to).collect())
}

/// A channel's cadence, ready to give slots.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: TimeZone,
    weekly: Vec<(DaySet, Time)>,
    cron: Vec<CronDay>,
}

/// A cron cadence with the times of day its time fields allow, in increasing order.
#[derive(Debug, Clone)]
struct CronDay {
    cron: Cron,
    times: Vec<Time>,
}

impl Schedule {
    /// Prepares `channel`'s cadence (zone, weekly slots, cron times of day).
    ///
    /// # Errors
    /// [`SlotError::TooDense`] when a cron cadence gives more than [`MAX_SLOTS_PER_DAY`] slots a
    /// day.
    pub fn new(channel: &Channel) -> Result<Self, SlotError> {
        let mut weekly = Vec::new();
        let mut cron = Vec::new();
        for cadence in &channel.cadence {
            match cadence {
                Cadence::Weekly { days, time } => weekly.push((*days, *time)),
                Cadence::Cron { cron: c, .. } => {
                    let per_day = slots_per_day(cadence);
                    if per_day > MAX_SLOTS_PER_DAY {
                        return Err(SlotError::TooDense {
                            channel: channel.name.clone(),
                            cadence: cadence.to_string(),
                            per_day,
                        });
                    }
                    cron.push(CronDay { cron: (**c).clone(), times: cron_times(c, per_day) });
                }
            }
        }
        Ok(Self { tz: channel.timezone.clone(), weekly, cron })
    }

    /// The channel's zone, in which every slot is expressed.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Whether the cadence has no slot at all (an empty cadence list).
    pub fn is_empty(&self) -> bool {
        self.weekly.is_empty() && self.cron.is_empty()
    }

    /// The slots in `[from, to)`, lazily, strictly increasing.
    ///
    /// Work is done a day at a time as the iterator advances, so `to` may be far away (even
    /// [`Timestamp::MAX`]) when only the first few slots are taken; but a cadence that never
    /// matches (`cron:0 0 30 2 *`) makes the iterator walk every day up to `to` before it ends.
    pub fn slots(&self, from: Timestamp, to: Timestamp) -> Slots<'_> {
        let first = from.to_zoned(self.tz.clone()).date();
        let last = to.to_zoned(self.tz.clone()).date();
        // A slot of the day before (gap moved forward past midnight, up to a whole day) or the day
        // after (`to` read in the second half of a fold) can still fall in the range.
        let first = first.yesterday().and_then(|d| d.yesterday()).unwrap_or(Date::MIN);
        let last = last.tomorrow().unwrap_or(Date::MAX);
        let next_day = (from < to && !self.is_empty()).then_some(first);
        Slots {
            schedule: self,
            from,
            to,
            next_day,
            last_day: last,
            pending: BinaryHeap::new(),
            last: None,
        }
    }

    /// The first slot at or after `at` and before `before`, if any.
    pub fn next_slot(&self, at: Timestamp, before: Timestamp) -> Option<Zoned> {
        self.slots(at, before).next()
    }

    /// The instant of `datetime` in this zone, by the gap and fold rules of the module.
    fn resolve(&self, datetime: DateTime) -> Option<Timestamp> {
        resolve(&self.tz, datetime)
    }
}

/// The instant of a local wall-clock time in `tz`: in a gap, moved forward by the gap's length;
/// in a fold, the first occurrence. `None` only outside jiff's supported range (years -9999 to
/// 9999).
pub fn resolve(tz: &TimeZone, datetime: DateTime) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(datetime).compatible().ok()
}

/// The times of day (hour, minute, second) that `cron`'s time fields allow, in order.
fn cron_times(cron: &Cron, capacity: usize) -> Vec<Time> {
    let p = &cron.pattern;
    let mut times = Vec::with_capacity(capacity);
    for h in 0..24u8 {
        if !p.hour_match(h.into()).unwrap_or(false) {
            continue;
        }
        for m in 0..60u8 {
            if !p.minute_match(m.into()).unwrap_or(false) {
                continue;
            }
            for s in 0..60u8 {
                if !p.second_match(s.into()).unwrap_or(false) {
                    continue;
                }
                // The loops stay within 0..24, 0..60, 0..60: `Time::new` cannot fail here.
                if let Ok(t) = Time::new(h.cast_signed(), m.cast_signed(), s.cast_signed(), 0) {
                    times.push(t);
                }
            }
        }
    }
    times
}

/// Whether `cron`'s date fields (day of month, month, day of week, year) hold on `date`.
fn cron_matches_day(cron: &Cron, date: Date) -> bool {
    let p = &cron.pattern;
    let year = i32::from(date.year());
    let month = u32::from(date.month().unsigned_abs());
    let day = u32::from(date.day().unsigned_abs());
    let weekday = croner::Weekday::from_days_from_sunday(u32::from(
        date.weekday().to_sunday_zero_offset().unsigned_abs(),
    ));
    // croner only errs on out-of-range fields; a real date is never out of range, and a year
    // outside croner's 1..=5000 simply has no slot.
    p.year_match(year).unwrap_or(false)
        && p.month_match(month).unwrap_or(false)
        && p.day_match(year, month, day, weekday).unwrap_or(false)
}

/// The lowest instant any slot configured on `day` or later can have.
fn lower_bound(day: Date) -> Timestamp {
    Offset::UTC
        .to_timestamp(day.to_datetime(Time::midnight()))
        .and_then(|t| t.checked_sub(MAX_OFFSET))
        .unwrap_or(Timestamp::MIN)
}

/// The slots of a [`Schedule`] in a range, in strictly increasing order. See [`Schedule::slots`].
#[derive(Debug)]
pub struct Slots<'a> {
    schedule: &'a Schedule,
    from: Timestamp,
    to: Timestamp,
    /// The next civil date to expand; `None` once every date of the range is expanded.
    next_day: Option<Date>,
    last_day: Date,
    /// Instants found but not yet handed out.
    pending: BinaryHeap<Reverse<Timestamp>>,
    /// The last instant handed out, to drop duplicates.
    last: Option<Timestamp>,
}

impl Slots<'_> {
    /// Adds the slots configured on `day` that fall in the range.
    fn expand(&mut self, day: Date) {
        let weekday = day.weekday();
        let schedule = self.schedule;
        for &(days, time) in &schedule.weekly {
            if days.contains(weekday) {
                self.push(schedule.resolve(day.to_datetime(time)));
            }
        }
        for c in &schedule.cron {
            if cron_matches_day(&c.cron, day) {
                for &time in &c.times {
                    self.push(schedule.resolve(day.to_datetime(time)));
                }
            }
        }
    }

    fn push(&mut self, at: Option<Timestamp>) {
        if let Some(at) = at
            && self.from <= at
            && at < self.to
        {
            self.pending.push(Reverse(at));
        }
    }
}

impl Iterator for Slots<'_> {
    type Item = Zoned;

    fn next(&mut self) -> Option<Zoned> {
        loop {
            if let Some(&Reverse(at)) = self.pending.peek() {
                let settled = self.next_day.is_none_or(|day| at < lower_bound(day));
                if settled {
                    self.pending.pop();
                    if self.last == Some(at) {
                        continue;
                    }
                    self.last = Some(at);
                    return Some(at.to_zoned(self.schedule.tz.clone()));
                }
            }
            let day = self.next_day?;
            self.expand(day);
            self.next_day = if day < self.last_day { day.tomorrow().ok() } else { None };
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crieur_core::{Location, Network};
    use jiff::civil::date;
    use jiff::tz::AmbiguousOffset;
    use proptest::prelude::*;

    fn channel(zone: &str, cadence: &[&str]) -> Channel {
        Channel {
            name: "c".into(),
            network: Network::X,
            timezone: TimeZone::get(zone).unwrap(),
            cadence: cadence.iter().map(|c| c.parse().unwrap()).collect(),
            max_length: None,
            location: Location::default(),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rfc3339(z: &Zoned) -> String {
        z.timestamp().display_with_offset(z.offset()).to_string()
    }

    /// The slots of a cadence from `from` (inclusive) to `to` (exclusive), in RFC 3339.
    fn slots(zone: &str, cadence: &[&str], from: &str, to: &str) -> Vec<String> {
        slots_between(&channel(zone, cadence), ts(from), ts(to))
            .unwrap()
            .iter()
            .map(rfc3339)
            .collect()
    }

    /// Three days around a transition, for one cadence: the day before, the day, the day after.
    fn around(zone: &str, cadence: &str, day_before: &str, day_after_next: &str) -> Vec<String> {
        slots(zone, &[cadence], day_before, day_after_next)
    }

    #[test]
    fn paris_spring_forward_gap() {
        let (from, to) = ("2026-03-27T23:00:00Z", "2026-03-30T22:00:00Z");
        assert_eq!(
            around("Europe/Paris", "daily 01:30", from, to),
            ["2026-03-28T01:30:00+01:00", "2026-03-29T01:30:00+01:00", "2026-03-30T01:30:00+02:00"]
        );
        // 02:30 does not exist on the 29th: it moves forward by the gap's hour, with the new offset.
        let expected =
            ["2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"];
        assert_eq!(around("Europe/Paris", "daily 02:30", from, to), expected);
        assert_eq!(around("Europe/Paris", "cron:30 2 * * *", from, to), expected);
        assert_eq!(
            around("Europe/Paris", "daily 03:30", from, to),
            ["2026-03-28T03:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-30T03:30:00+02:00"]
        );
        // The moved 02:30 and the real 03:30 are the same instant: one slot.
        assert_eq!(
            slots(
                "Europe/Paris",
                &["daily 02:30", "daily 03:30"],
                "2026-03-28T23:00:00Z",
                "2026-03-29T22:00:00Z"
            ),
            ["2026-03-29T03:30:00+02:00"]
        );
    }

    #[test]
    fn paris_fall_back_fold() {
        let (from, to) = ("2026-10-23T22:00:00Z", "2026-10-26T23:00:00Z");
        assert_eq!(
            around("Europe/Paris", "daily 01:30", from, to),
            ["2026-10-24T01:30:00+02:00", "2026-10-25T01:30:00+02:00", "2026-10-26T01:30:00+01:00"]
        );
        // 02:30 happens twice on the 25th (+02:00, then +01:00): the slot is the first only.
        let expected =
            ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"];
        assert_eq!(around("Europe/Paris", "daily 02:30", from, to), expected);
        assert_eq!(around("Europe/Paris", "cron:30 2 * * *", from, to), expected);
        assert_eq!(
            around("Europe/Paris", "daily 03:30", from, to),
            ["2026-10-24T03:30:00+02:00", "2026-10-25T03:30:00+01:00", "2026-10-26T03:30:00+01:00"]
        );
    }

    #[test]
    fn new_york_spring_forward_gap() {
        let (from, to) = ("2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z");
        assert_eq!(
            around("America/New_York", "daily 01:30", from, to),
            ["2026-03-07T01:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-09T01:30:00-04:00"]
        );
        let expected =
            ["2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"];
        assert_eq!(around("America/New_York", "daily 02:30", from, to), expected);
        assert_eq!(around("America/New_York", "cron:30 2 * * *", from, to), expected);
        assert_eq!(
            around("America/New_York", "daily 03:30", from, to),
            ["2026-03-07T03:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T03:30:00-04:00"]
        );
        // Every minute of a cron hour inside the gap moves by the gap: 02:00 -> 03:00, etc.
        assert_eq!(
            slots(
                "America/New_York",
                &["cron:*/20 2 * * *"],
                "2026-03-08T05:00:00Z",
                "2026-03-09T04:00:00Z"
            ),
            ["2026-03-08T03:00:00-04:00", "2026-03-08T03:20:00-04:00", "2026-03-08T03:40:00-04:00"]
        );
    }

    #[test]
    fn new_york_fall_back_fold() {
        let (from, to) = ("2026-10-31T04:00:00Z", "2026-11-03T05:00:00Z");
        let expected =
            ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"];
        assert_eq!(around("America/New_York", "daily 01:30", from, to), expected);
        assert_eq!(around("America/New_York", "cron:30 1 * * *", from, to), expected);
        assert_eq!(
            around("America/New_York", "daily 02:30", from, to),
            ["2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]
        );
        assert_eq!(
            around("America/New_York", "cron:30 2 * * *", from, to),
            ["2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]
        );
        assert_eq!(
            around("America/New_York", "daily 03:30", from, to),
            ["2026-10-31T03:30:00-04:00", "2026-11-01T03:30:00-05:00", "2026-11-02T03:30:00-05:00"]
        );
        // A cron hour inside the fold runs once, in its first occurrence (-04:00), not again at -05:00.
        assert_eq!(
            slots(
                "America/New_York",
                &["cron:*/15 1 * * *"],
                "2026-11-01T04:00:00Z",
                "2026-11-02T05:00:00Z"
            ),
            [
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:15:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:45:00-04:00"
            ]
        );
    }

    #[test]
    fn weekdays_ranges_and_bounds() {
        // Monday 2026-03-02 to Monday 2026-03-09 in Paris (UTC+1): Mon-Fri 09:15 and Sat 11:00.
        let got = slots(
            "Europe/Paris",
            &["Mon-Fri 09:15", "Sat 11:00"],
            "2026-03-01T23:00:00Z",
            "2026-03-09T08:15:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-03-02T09:15:00+01:00",
                "2026-03-03T09:15:00+01:00",
                "2026-03-04T09:15:00+01:00",
                "2026-03-05T09:15:00+01:00",
                "2026-03-06T09:15:00+01:00",
                "2026-03-07T11:00:00+01:00",
            ],
            "`to` is excluded: Monday the 9th at 09:15 is not in"
        );
        // `from` is included.
        assert_eq!(
            slots("Europe/Paris", &["Mon 09:15"], "2026-03-02T08:15:00Z", "2026-03-02T08:16:00Z"),
            ["2026-03-02T09:15:00+01:00"]
        );
        // Empty and reversed ranges, empty cadence.
        assert!(
            slots("Europe/Paris", &["daily 09:00"], "2026-03-02T08:15:00Z", "2026-03-02T08:15:00Z")
                .is_empty()
        );
        assert!(
            slots("Europe/Paris", &["daily 09:00"], "2026-03-09T00:00:00Z", "2026-03-02T00:00:00Z")
                .is_empty()
        );
        assert!(
            slots("Europe/Paris", &[], "2026-03-02T00:00:00Z", "2026-04-02T00:00:00Z").is_empty()
        );
        // Cron day-of-month and weekday fields, read in the local date.
        assert_eq!(
            slots(
                "Asia/Tokyo",
                &["cron:0 9 1,15 * *", "cron:0 18 * * SUN"],
                "2026-02-28T00:00:00Z",
                "2026-03-16T00:00:00Z"
            ),
            [
                "2026-03-01T09:00:00+09:00",
                "2026-03-01T18:00:00+09:00",
                "2026-03-08T18:00:00+09:00",
                "2026-03-15T09:00:00+09:00",
                "2026-03-15T18:00:00+09:00",
            ]
        );
    }

    #[test]
    fn next_slot_and_far_ranges() {
        let schedule = Schedule::new(&channel("Europe/Paris", &["Wed 12:30"])).unwrap();
        let next = schedule.next_slot(ts("2026-03-26T00:00:00Z"), Timestamp::MAX).unwrap();
        assert_eq!(rfc3339(&next), "2026-04-01T12:30:00+02:00");
        // A cron date that never exists ends at the range's end, without error.
        let never = Schedule::new(&channel("Europe/Paris", &["cron:0 9 30 2 *"])).unwrap();
        assert_eq!(never.next_slot(ts("2026-01-01T00:00:00Z"), ts("2036-01-01T00:00:00Z")), None);
        // Leap days exist for cron.
        let leap = Schedule::new(&channel("UTC", &["cron:0 9 29 2 *"])).unwrap();
        let got = leap.next_slot(ts("2026-01-01T00:00:00Z"), ts("2036-01-01T00:00:00Z")).unwrap();
        assert_eq!(rfc3339(&got), "2028-02-29T09:00:00+00:00");
        // croner's `L` (last day of the month) is read on the local date.
        assert_eq!(
            slots(
                "Pacific/Auckland",
                &["cron:0 9 L * *"],
                "2026-01-01T00:00:00Z",
                "2026-04-01T00:00:00Z"
            ),
            ["2026-01-31T09:00:00+13:00", "2026-02-28T09:00:00+13:00", "2026-03-31T09:00:00+13:00"]
        );
    }

    #[test]
    fn too_dense_cron_is_refused_with_its_name() {
        let every_second = channel("UTC", &["cron:* * * * * *"]);
        let err = Schedule::new(&every_second).unwrap_err();
        assert_eq!(
            err,
            SlotError::TooDense {
                channel: "c".into(),
                cadence: "cron:* * * * * *".into(),
                per_day: 86_400
            }
        );
        assert!(err.to_string().contains("at most 1440"), "{err}");
        // One a minute is the most allowed.
        let every_minute = channel("UTC", &["cron:* * * * *"]);
        assert_eq!(slots_per_day(&every_minute.cadence[0]), 1440);
        let day =
            slots_between(&every_minute, ts("2026-03-02T00:00:00Z"), ts("2026-03-03T00:00:00Z"))
                .unwrap();
        assert_eq!(day.len(), 1440);
        assert_eq!(slots_per_day(&"Mon 09:00".parse().unwrap()), 1);
        assert_eq!(slots_per_day(&"cron:0,30 9-11 * * *".parse().unwrap()), 6);
    }

    /// The instant a slot configured at civil `dt` must have, derived from the zone's offsets
    /// directly: before the transition's offset for a gap (which moves it forward by the gap) and
    /// for a fold (its first occurrence).
    fn expected_instant(tz: &TimeZone, dt: DateTime) -> Timestamp {
        let offset = match tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        offset.to_timestamp(dt).unwrap()
    }

    /// Every zone of the tz database, every day of 2026, a few local times, for weekly and cron
    /// cadences: exactly one slot per date, at the configured local time, or, only in a gap, at
    /// that time moved forward by the gap, or, in a fold, at the first occurrence.
    #[test]
    fn every_zone_every_day_of_2026() {
        let names: Vec<String> =
            jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
        assert!(names.len() > 300, "the tz database looks empty: {} zones", names.len());
        let times = [(0, 30), (1, 30), (2, 30), (12, 0), (23, 30)];
        let (mut gaps, mut folds) = (0usize, 0usize);
        for name in &names {
            let tz = TimeZone::get(name).unwrap();
            let from = resolve(&tz, date(2026, 1, 1).at(0, 0, 0, 0)).unwrap();
            let to = resolve(&tz, date(2027, 1, 1).at(0, 0, 0, 0)).unwrap();
            for (h, m) in times {
                let time = Time::new(h, m, 0, 0).unwrap();
                let mut expected = Vec::new();
                let mut day = date(2025, 12, 30);
                while day <= date(2027, 1, 2) {
                    let dt = day.to_datetime(time);
                    let at = expected_instant(&tz, dt);
                    if from <= at && at < to {
                        expected.push((dt, at));
                    }
                    day = day.tomorrow().unwrap();
                }
                assert!((364..=366).contains(&expected.len()), "{name} {time}: {}", expected.len());
                let weekly = format!("daily {h:02}:{m:02}");
                let cron = format!("cron:{m} {h} * * *");
                for cadence in [weekly, cron] {
                    let got = slots_between(&channel(name, &[&cadence]), from, to).unwrap();
                    assert_eq!(got.len(), expected.len(), "{name} {cadence}");
                    for (z, (dt, at)) in got.iter().zip(&expected) {
                        assert_eq!(z.timestamp(), *at, "{name} {cadence} on {dt}");
                        match tz.to_ambiguous_timestamp(*dt).offset() {
                            AmbiguousOffset::Unambiguous { .. } => assert_eq!(z.datetime(), *dt),
                            AmbiguousOffset::Fold { before, .. } => {
                                folds += 1;
                                assert_eq!(
                                    (z.datetime(), z.offset()),
                                    (*dt, before),
                                    "{name} {cadence}"
                                );
                            }
                            AmbiguousOffset::Gap { before, after } => {
                                gaps += 1;
                                let moved = dt.checked_add(after.duration_since(before)).unwrap();
                                assert_eq!(
                                    (z.datetime(), z.offset()),
                                    (moved, after),
                                    "{name} {cadence}"
                                );
                            }
                        }
                    }
                    assert!(
                        got.windows(2).all(|w| w[0].timestamp() < w[1].timestamp()),
                        "{name} {cadence}"
                    );
                }
            }
        }
        // 2026 has gaps and folds at these times in many zones (Europe at 02:30, America at 01:30
        // and 02:30...); make sure the loop saw them.
        assert!(gaps > 20 && folds > 20, "gaps {gaps}, folds {folds}");
    }

    /// Zones with transitions at odd hours (midnight in Santiago and Havana, 02:00 in Europe,
    /// half an hour on Lord Howe).
    const ZONES: [&str; 8] = [
        "Europe/Paris",
        "America/New_York",
        "America/Santiago",
        "America/Havana",
        "Australia/Lord_Howe",
        "Asia/Tehran",
        "Pacific/Apia",
        "UTC",
    ];

    fn cadence_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u8..128, 0u8..24, 0u8..60).prop_map(|(days, h, m)| {
                let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let list: Vec<&str> =
                    (0..7).filter(|i| days & (1 << i) != 0).map(|i| names[i]).collect();
                format!("{} {h:02}:{m:02}", list.join(","))
            }),
            (0u8..60, 0u8..24, 1u8..7)
                .prop_map(|(m, h, step)| format!("cron:{m} {h}-23/{step} * * *")),
            (0u8..60, 0u8..24).prop_map(|(m, h)| format!("cron:{m} {h} 1-7,28-31 * MON")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Slots are strictly increasing, and cutting a range in two gives the same slots.
        #[test]
        fn ranges_split_and_stay_ordered(
            zone in 0..ZONES.len(),
            cadences in proptest::collection::vec(cadence_strategy(), 1..4),
            start in 0i64..(365 * 86_400),
            len in 0i64..(40 * 86_400),
            cut in 0.0f64..1.0,
        ) {
            let cadences: Vec<&str> = cadences.iter().map(String::as_str).collect();
            let ch = channel(ZONES[zone], &cadences);
            let a = ts("2026-01-01T00:00:00Z").checked_add(SignedDuration::from_secs(start)).unwrap();
            let c = a.checked_add(SignedDuration::from_secs(len)).unwrap();
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let b = a.checked_add(SignedDuration::from_secs((len as f64 * cut) as i64)).unwrap();
            let whole = slots_between(&ch, a, c).unwrap();
            let mut parts = slots_between(&ch, a, b).unwrap();
            parts.extend(slots_between(&ch, b, c).unwrap());
            prop_assert_eq!(&whole, &parts);
            prop_assert!(whole.windows(2).all(|w| w[0].timestamp() < w[1].timestamp()));
            prop_assert!(whole.iter().all(|z| a <= z.timestamp() && z.timestamp() < c));
        }
    }
}
