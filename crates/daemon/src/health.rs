//! Whether the files on disk are the ones the daemon runs on: a reload (SIGHUP or a changed
//! post file) that finds an invalid config or post file changes nothing, and the daemon says so
//! in its STATUS= line until the files are fixed.

use std::sync::Mutex;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Which files a reload read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// The config file.
    Config,
    /// The queue's post files.
    Posts,
}

/// The files' state as the last reload found it (the config and the post files apart: a post
/// file read without error says nothing of a config still invalid).
#[derive(Debug, Default)]
pub struct FilesHealth {
    invalid: Mutex<[Option<Invalid>; 2]>,
}

#[derive(Debug, Clone)]
struct Invalid {
    since: Timestamp,
    first: String,
    more: usize,
}

impl FilesHealth {
    /// Records that a reload at `now` found `errors` (every problem with its `path:line:col`):
    /// logs each at error level and keeps the instant the files first became invalid.
    pub fn invalid(&self, files: Files, now: Timestamp, errors: &crieur_config::Errors) {
        for e in errors.iter() {
            tracing::error!("{e}");
        }
        tracing::error!(
            problems = errors.len(),
            "the files are invalid; nothing changed: publishing goes on with the last valid queue \
             until they are fixed"
        );
        let first = errors.iter().next().map(ToString::to_string).unwrap_or_default();
        let mut invalid = self.invalid.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut invalid[files as usize];
        let since = slot.as_ref().map_or(now, |i| i.since);
        *slot = Some(Invalid { since, first, more: errors.len().saturating_sub(1) });
    }

    /// Records that `files` were read without error; logs when they were invalid before.
    pub fn valid(&self, files: Files) {
        let was = self.invalid.lock().unwrap_or_else(|e| e.into_inner())[files as usize].take();
        if was.is_some() {
            tracing::info!(files = ?files, "the files are valid again and taken");
        }
    }

    /// Whether the last reload found `files` invalid.
    pub fn is_invalid(&self, files: Files) -> bool {
        self.invalid.lock().unwrap_or_else(|e| e.into_inner())[files as usize].is_some()
    }

    /// `status` prefixed, while the files are invalid, with `config invalid since HH:MM:
    /// path:line:col message (and N more)` (the time in `tz`).
    pub fn status(&self, status: &str, tz: &TimeZone) -> String {
        let invalid = self.invalid.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let [config, posts] = invalid;
        let since = config.iter().chain(posts.iter()).map(|i| i.since).min();
        let Some(mut i) = config.or(posts) else { return status.to_owned() };
        i.since = since.unwrap_or(i.since);
        let mut line = format!(
            "config invalid since {}: {}",
            i.since.to_zoned(tz.clone()).strftime("%H:%M"),
            i.first
        );
        if i.more > 0 {
            line.push_str(&format!(" (and {} more)", i.more));
        }
        format!("{line}; {status}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::capture_logs;

    fn errors(path: &std::path::Path, text: &str) -> crieur_config::Errors {
        std::fs::write(path, text).unwrap();
        crieur_config::load_config(path).unwrap_err()
    }

    #[test]
    fn the_status_names_the_first_problem_and_when_the_files_became_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crieur.toml");
        let health = FilesHealth::default();
        let tz = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(health.status("2 queued", &tz), "2 queued");
        let (logs, _guard) = capture_logs();
        let first: Timestamp = "2026-03-23T08:05:00Z".parse().unwrap();
        health.invalid(Files::Config, first, &errors(&path, "timezone = \"Nowhere/Atlantis\"\n"));
        let later: Timestamp = "2026-03-23T09:30:00Z".parse().unwrap();
        health.invalid(Files::Config, later, &errors(&path, "timezone = \n"));
        let line = health.status("2 queued", &tz);
        assert!(line.starts_with("config invalid since 09:05: "), "the first instant: {line}");
        assert!(line.contains("crieur.toml:1:"), "the place: {line}");
        assert!(line.ends_with("; 2 queued"), "{line}");
        assert!(logs.text().contains("crieur.toml:1:"), "{}", logs.text());
        assert!(health.is_invalid(Files::Config));
        health.valid(Files::Posts);
        assert!(health.is_invalid(Files::Config), "valid posts do not make the config valid");
        assert!(line.starts_with("config invalid"));
        health.valid(Files::Config);
        assert!(!health.is_invalid(Files::Config));
        assert_eq!(health.status("2 queued", &tz), "2 queued");
        assert!(logs.text().contains("valid again"), "{}", logs.text());
    }
}
