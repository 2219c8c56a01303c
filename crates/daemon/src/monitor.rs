//! systemd notifications: READY=1, WATCHDOG=1 from the dispatch loop, STATUS= lines.
//!
//! Everything is a no-op outside systemd (no `NOTIFY_SOCKET`); a notification that cannot be sent
//! is logged at debug level and otherwise ignored, as systemd itself does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crieur_core::{Delivery, Outcome};
use crieur_scheduler::dispatch::Monitor;

/// The daemon's link to systemd's notify socket.
#[derive(Debug)]
pub struct SdMonitor {
    enabled: bool,
    /// systemd's watchdog interval (`WATCHDOG_USEC`), when it asks for pings.
    watchdog: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

impl Default for SdMonitor {
    fn default() -> Self {
        Self::new()
    }
}

impl SdMonitor {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the environment.
    pub fn new() -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let watchdog = if enabled { sd_notify::watchdog_enabled() } else { None };
        Self { enabled, watchdog, last_ping: Mutex::new(None) }
    }

    /// How often the loop must turn so its pings (at most one a second) keep well within the
    /// watchdog interval: a quarter of it. None without a watchdog.
    pub fn wake_every(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 4)
    }

    /// systemd's watchdog interval, when it asks for pings: a dispatch loop that cannot make
    /// progress for longer stops pinging, so systemd sees it wedged.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[sd_notify::NotifyState<'_>]) {
        if self.enabled
            && let Err(e) = sd_notify::notify(states)
        {
            tracing::debug!(error = %e, "sd_notify failed");
        }
    }

    /// READY=1 with a first STATUS= line.
    pub fn ready(&self, status: &str) {
        self.send(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(status)]);
    }

    /// A STATUS= line.
    pub fn status(&self, status: &str) {
        self.send(&[sd_notify::NotifyState::Status(status)]);
    }

    /// RELOADING=1.
    pub fn reloading(&self) {
        self.send(&[sd_notify::NotifyState::Reloading]);
    }

    /// STOPPING=1.
    pub fn stopping(&self) {
        self.send(&[sd_notify::NotifyState::Stopping]);
    }
}

impl Monitor for SdMonitor {
    fn alive(&self) {
        if !self.enabled {
            return;
        }
        let mut last = self.last_ping.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            drop(last);
            self.send(&[sd_notify::NotifyState::Watchdog]);
        }
    }

    fn settled(&self, _: &Delivery, _: &Outcome) {}
}
