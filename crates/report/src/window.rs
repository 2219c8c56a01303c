//! The window a report covers: `--from`, `--to` (exclusive) or `--weeks`, in the config's zone.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// The default length of a report: the 28 days up to now.
pub const DEFAULT_DAYS: i32 = 28;

/// A half-open window `[from, to)` of instants, carrying the config's zone for printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The first instant reported on.
    pub from: Zoned,
    /// The first instant after the window.
    pub to: Zoned,
}

/// Why a window cannot be made from the options given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The window ends before it starts, or is empty.
    #[error("the report's window is empty: --to ({to}) must come after --from ({from})")]
    Empty {
        /// `--from` as given.
        from: String,
        /// `--to` as given.
        to: String,
    },
    /// A date or a number of weeks outside the range of the calendar.
    #[error("the report's window is out of range: {0}")]
    Range(String),
}

impl Window {
    /// Makes the window from the options of `crieur report`.
    ///
    /// Dates are days in `zone`, from their midnight; `to` is exclusive. `weeks` counts from `from`
    /// when given, else back from `to` (or now). Without any option: the 28 days up to `now`.
    ///
    /// # Errors
    /// [`WindowError::Empty`] when the window would end at or before its start;
    /// [`WindowError::Range`] for dates out of the calendar's range.
    pub fn new(
        zone: &TimeZone,
        from: Option<Date>,
        to: Option<Date>,
        weeks: Option<u32>,
        now: Timestamp,
    ) -> Result<Window, WindowError> {
        let range = |e: jiff::Error| WindowError::Range(e.to_string());
        let midnight = |d: Date| d.to_zoned(zone.clone()).map_err(range);
        let span = |weeks: u32| i64::from(weeks).weeks();
        let (from, to) = match (from, to, weeks) {
            (Some(f), Some(t), _) => (midnight(f)?, midnight(t)?),
            (Some(f), None, Some(w)) => {
                let f = midnight(f)?;
                let t = f.checked_add(span(w)).map_err(range)?;
                (f, t)
            }
            (Some(f), None, None) => (midnight(f)?, now.to_zoned(zone.clone())),
            (None, t, w) => {
                let t = match t {
                    Some(t) => midnight(t)?,
                    None => now.to_zoned(zone.clone()),
                };
                let back = match w {
                    Some(w) => span(w),
                    None => i64::from(DEFAULT_DAYS).days(),
                };
                let f = t.checked_sub(back).map_err(range)?;
                (f, t)
            }
        };
        if to <= from {
            return Err(WindowError::Empty { from: from.to_string(), to: to.to_string() });
        }
        Ok(Window { from, to })
    }

    /// Whether `at` falls in `[from, to)`.
    pub fn contains(&self, at: Timestamp) -> bool {
        at >= self.from.timestamp() && at < self.to.timestamp()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-30T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn without_options_the_window_is_the_28_days_up_to_now() {
        let w = Window::new(&paris(), None, None, None, now()).unwrap();
        assert_eq!(w.to.timestamp(), now());
        assert_eq!(w.from.to_string(), "2026-11-02T11:00:00+01:00[Europe/Paris]");
    }

    #[test]
    fn dates_are_midnights_in_the_zone_and_to_is_exclusive() {
        let w =
            Window::new(&paris(), Some(date(2026, 11, 2)), Some(date(2026, 11, 30)), None, now())
                .unwrap();
        assert_eq!(w.from.to_string(), "2026-11-02T00:00:00+01:00[Europe/Paris]");
        assert!(!w.contains(w.to.timestamp()));
        assert!(w.contains(w.from.timestamp()));
    }

    #[test]
    fn weeks_count_forward_from_from_and_back_from_now() {
        let z = paris();
        let w = Window::new(&z, Some(date(2026, 10, 19)), None, Some(2), now()).unwrap();
        assert_eq!(w.to.to_string(), "2026-11-02T00:00:00+01:00[Europe/Paris]");
        let w = Window::new(&z, None, None, Some(1), now()).unwrap();
        assert_eq!(w.from.to_string(), "2026-11-23T11:00:00+01:00[Europe/Paris]");
    }

    #[test]
    fn a_window_ending_before_it_starts_is_refused() {
        let err =
            Window::new(&paris(), Some(date(2026, 11, 3)), Some(date(2026, 11, 2)), None, now())
                .unwrap_err();
        assert!(err.to_string().contains("--to"), "{err}");
    }
}
