//! Test support shared by the adapters' tests (feature `test-util`): capture everything the
//! process logs, at TRACE level, including reqwest's and hyper's own `log` records, to prove that
//! no secret reaches a log.
//!
//! tracing caches per call site, process-wide, whether anyone listens, so a subscriber scoped to
//! one test races with the other tests of its binary. [`capture_all_logs`] therefore installs one
//! global subscriber: call it once, from a test binary of its own.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything logged since [`capture_all_logs`], as written (no colours).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// The text logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide subscriber (TRACE, and `log` records bridged into tracing) and
/// returns the buffer it writes to.
///
/// # Panics
/// When a global subscriber or logger is already installed: call it once per test binary.
#[allow(clippy::expect_used)]
pub fn capture_all_logs() -> CapturedLogs {
    tracing_log::LogTracer::init().expect("no logger installed yet in this test binary");
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("no subscriber installed yet in this test binary");
    captured
}
