use std::fmt;
use std::str::FromStr;

use jiff::civil::{Time, Weekday};

/// When a channel publishes: one recurring slot in the channel's local wall clock.
///
/// Parsed from the config strings of config.md: `DAYS HH:MM` (`Mon-Fri 09:15`, `Tue,Thu 10:00`,
/// `daily 08:00`) or `cron:MIN HOUR DOM MON DOW`. The scheduler turns a cadence into instants day by
/// day in the channel's zone; this type only says which local days and times are meant.
///
/// ```
/// use crieur_core::Cadence;
/// use jiff::civil::Weekday;
///
/// let cadence: Cadence = "Mon-Fri 09:15".parse()?;
/// let Cadence::Weekly { days, time } = &cadence else { panic!("a weekly cadence") };
/// assert!(days.contains(Weekday::Friday) && !days.contains(Weekday::Saturday));
/// assert_eq!((time.hour(), time.minute()), (9, 15));
/// assert_eq!(cadence.to_string(), "Mon,Tue,Wed,Thu,Fri 09:15");
///
/// // `daily` and cron expressions, read against the channel's local wall clock.
/// assert_eq!("daily 08:00".parse::<Cadence>()?.to_string(), "daily 08:00");
/// assert!(matches!("cron:0 9 * * MON-FRI".parse()?, Cadence::Cron { .. }));
///
/// // A mistake says what to write instead.
/// assert!("Mon-Fri 9h15".parse::<Cadence>().is_err());
/// # Ok::<(), crieur_core::CadenceError>(())
/// ```
#[derive(Debug, Clone)]
pub enum Cadence {
    /// A local time on a set of weekdays.
    Weekly {
        /// The weekdays this slot exists on.
        days: DaySet,
        /// The local wall-clock time (seconds are always zero).
        time: Time,
    },
    /// A cron expression, evaluated against the local wall clock.
    Cron {
        /// The expression as written after `cron:`.
        pattern: String,
        /// The parsed expression.
        cron: Box<croner::Cron>,
    },
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Weekly { days, time } => write!(f, "{days} {}", time.strftime("%H:%M")),
            Cadence::Cron { pattern, .. } => write!(f, "cron:{pattern}"),
        }
    }
}

/// Why a cadence string could not be read. The message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CadenceError {
    /// Not of the form `DAYS HH:MM` or `cron:...`.
    #[error(
        "cadence {0:?} is not `DAYS HH:MM` (e.g. \"Mon-Fri 09:15\", \"daily 08:00\") or `cron:EXPR`"
    )]
    Shape(String),
    /// An unknown day name.
    #[error(
        "unknown day {0:?}: use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range like Mon-Fri, a list like Tue,Thu, or daily"
    )]
    Day(String),
    /// A time that is not `HH:MM` on a 24-hour clock.
    #[error("time {0:?} is not HH:MM on a 24-hour clock (00:00 to 23:59)")]
    Time(String),
    /// A cron expression croner rejected.
    #[error("cron expression {pattern:?} is invalid: {reason}")]
    Cron {
        /// The expression.
        pattern: String,
        /// croner's explanation.
        reason: String,
    },
}

impl FromStr for Cadence {
    type Err = CadenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(pattern) = s.strip_prefix("cron:") {
            let pattern = pattern.trim().to_owned();
            let cron = croner::Cron::from_str(&pattern).map_err(|e| CadenceError::Cron {
                pattern: pattern.clone(),
                reason: e.to_string(),
            })?;
            return Ok(Cadence::Cron { pattern, cron: Box::new(cron) });
        }
        let mut parts = s.split_whitespace();
        let (Some(days), Some(time), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CadenceError::Shape(s.to_owned()));
        };
        Ok(Cadence::Weekly { days: days.parse()?, time: parse_hh_mm(time)? })
    }
}

fn parse_hh_mm(s: &str) -> Result<Time, CadenceError> {
    let bad = || CadenceError::Time(s.to_owned());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// A set of weekdays, as written in a cadence (`Mon-Fri`, `Tue,Thu`, `daily`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DaySet(u8);

impl DaySet {
    /// Every day of the week.
    pub const DAILY: DaySet = DaySet(0b111_1111);

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & bit(day) != 0
    }

    /// The set with `day` added.
    pub fn with(self, day: Weekday) -> DaySet {
        DaySet(self.0 | bit(day))
    }

    /// Whether no day is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

fn bit(day: Weekday) -> u8 {
    1 << day.to_monday_zero_offset()
}

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("Mon", Weekday::Monday),
    ("Tue", Weekday::Tuesday),
    ("Wed", Weekday::Wednesday),
    ("Thu", Weekday::Thursday),
    ("Fri", Weekday::Friday),
    ("Sat", Weekday::Saturday),
    ("Sun", Weekday::Sunday),
];

fn parse_day(s: &str) -> Result<Weekday, CadenceError> {
    DAY_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, d)| d)
        .ok_or_else(|| CadenceError::Day(s.to_owned()))
}

impl FromStr for DaySet {
    type Err = CadenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("daily") {
            return Ok(DaySet::DAILY);
        }
        let mut set = DaySet(0);
        for part in s.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (parse_day(a)?, parse_day(b)?);
                    let mut d = a;
                    set = set.with(d);
                    while d != b {
                        d = d.next();
                        set = set.with(d);
                    }
                }
                None => set = set.with(parse_day(part)?),
            }
        }
        Ok(set)
    }
}

impl fmt::Display for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == DaySet::DAILY {
            return f.write_str("daily");
        }
        let names: Vec<&str> =
            DAY_NAMES.iter().filter(|(_, d)| self.contains(*d)).map(|(n, _)| *n).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(s: &str) -> (DaySet, Time) {
        match s.parse::<Cadence>() {
            Ok(Cadence::Weekly { days, time }) => (days, time),
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn day_ranges_lists_and_daily() {
        let (days, time) = weekly("Mon-Fri 09:15");
        assert_eq!(days.to_string(), "Mon,Tue,Wed,Thu,Fri");
        assert_eq!(time, Time::constant(9, 15, 0, 0));
        assert_eq!(weekly("Tue,Thu 10:00").0.to_string(), "Tue,Thu");
        assert_eq!(weekly("daily 8:00").0, DaySet::DAILY);
        // A range may wrap around the week end.
        assert_eq!(weekly("Sat-Mon 11:00").0.to_string(), "Mon,Sat,Sun");
    }

    #[test]
    fn bad_cadences_say_what_is_wrong() {
        assert!(matches!("Mon".parse::<Cadence>(), Err(CadenceError::Shape(_))));
        assert!(matches!("Mo 09:00".parse::<Cadence>(), Err(CadenceError::Day(_))));
        assert!(matches!("Mon 24:00".parse::<Cadence>(), Err(CadenceError::Time(_))));
        assert!(matches!("Mon 9:5".parse::<Cadence>(), Err(CadenceError::Time(_))));
        assert!(matches!("cron:61 * * * *".parse::<Cadence>(), Err(CadenceError::Cron { .. })));
        assert!("cron:0 9 * * MON-FRI".parse::<Cadence>().is_ok());
    }
}
