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
                    cron.push(CronDay { cron: c.clone(), times: cron_times(c, per_day) });
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
