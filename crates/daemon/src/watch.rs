//! Watching the queue's post files: a change asks the daemon for a re-sync.
//!
//! The folders named by the queue globs are watched (recursively when a glob has `**`), and
//! events are debounced by 300 ms. The watcher also reports a file being opened (inotify's
//! IN_OPEN), which every sync does: taken for a change, each sync would ask for the next,
//! forever. So a matching path counts as changed only when its modification time or size (read
//! with stat, which opens nothing) differs from what was last seen, or it appeared or vanished.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crieur_config::Config;

/// A running watcher; it stops when dropped.
pub type Watcher = notify_debouncer_mini::Debouncer<notify::RecommendedWatcher>;

/// Watches the folders of `config`'s queue globs; a change to a matching file notifies `wanted`.
/// `None` (after a warning) when no watcher can be started: the daemon then re-syncs hourly and
/// on SIGHUP only.
pub fn watch_posts(config: &Config, wanted: Arc<tokio::sync::Notify>) -> Option<Watcher> {
    let patterns: Vec<glob::Pattern> = config
        .queue
        .files
        .iter()
        .filter_map(|g| glob::Pattern::new(&config.dir.join(g).to_string_lossy()).ok())
        .collect();
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for g in &config.queue.files {
        let full = config.dir.join(g);
        let fixed: PathBuf = full
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
            .collect();
        let dir = if fixed == full {
            fixed.parent().map(Path::to_path_buf).unwrap_or(fixed)
        } else {
            fixed
        };
        dirs.insert(dir);
    }
    let recursive = config.queue.files.iter().any(|g| g.contains("**"));
    let mut seen: HashMap<PathBuf, Option<(SystemTime, u64)>> = HashMap::new();
    for g in &config.queue.files {
        let full = config.dir.join(g);
        for path in glob::glob(&full.to_string_lossy()).into_iter().flatten().flatten() {
            let stamp = file_stamp(&path);
            seen.insert(path, stamp);
        }
    }
    let handler = move |res: notify_debouncer_mini::DebounceEventResult| {
        let Ok(events) = res else { return };
        let mut changed = false;
        for e in events.iter().filter(|e| patterns.iter().any(|p| p.matches_path(&e.path))) {
            let stamp = file_stamp(&e.path);
            changed |= seen.insert(e.path.clone(), stamp) != Some(stamp);
        }
        if changed {
            tracing::info!("post files changed: re-reading them");
            wanted.notify_one();
        }
    };
    let mut debouncer = match notify_debouncer_mini::new_debouncer(
        Duration::from_millis(300),
        handler,
    ) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the post files; reload with SIGHUP after a change");
            return None;
        }
    };
    let mode = if recursive {
        notify::RecursiveMode::Recursive
    } else {
        notify::RecursiveMode::NonRecursive
    };
    for dir in dirs {
        if let Err(e) = debouncer.watcher().watch(&dir, mode) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot watch a queue folder");
        }
    }
    Some(debouncer)
}

/// A file's modification time and size, `None` when it cannot be read (gone).
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::{POSTS, Project};

    async fn asked(wanted: &tokio::sync::Notify, within: Duration) -> bool {
        tokio::time::timeout(within, wanted.notified()).await.is_ok()
    }

    #[tokio::test]
    async fn a_post_file_that_changes_asks_for_a_resync_and_one_only_read_does_not() {
        let project = Project::new(POSTS);
        let wanted = Arc::new(tokio::sync::Notify::new());
        let _watcher = watch_posts(&project.config(), wanted.clone()).expect("a watcher");

        // What a sync does: open and read every post file.
        let _ = std::fs::read_to_string(project.path("posts/a.toml")).unwrap();
        assert!(!asked(&wanted, Duration::from_secs(1)).await, "reading is not a change");

        // Bigger, so the change shows even within the file system's time granularity.
        project.write("posts/a.toml", &format!("{POSTS}\n# edited\n"));
        assert!(asked(&wanted, Duration::from_secs(10)).await, "an edit asks for a re-sync");

        project.write("posts/b.toml", POSTS);
        assert!(asked(&wanted, Duration::from_secs(10)).await, "a new file asks for a re-sync");

        project.write("posts/notes.txt", "not a post file");
        assert!(!asked(&wanted, Duration::from_secs(1)).await, "other files are not watched");
    }
}
