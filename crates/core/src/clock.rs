use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// The source of the current time. Everything that asks "what time is it" goes through this, so
/// tests can pin or advance the time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to. For tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Sets the time to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = t.saturating_add(by).unwrap_or(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The system clock shifted by a fixed amount: time runs at the normal pace from a chosen start.
/// Lets the daemon be run "as if it were" another moment (tests, rehearsals of a daylight-saving
/// night), while sleeps and timeouts stay real.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: SignedDuration,
}

impl OffsetClock {
    /// A clock that reads `start` now, and moves on from there.
    pub fn starting_at(start: Timestamp) -> Self {
        Self { offset: Timestamp::now().duration_until(start) }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        let real = Timestamp::now();
        real.checked_add(self.offset).unwrap_or(real)
    }
}
