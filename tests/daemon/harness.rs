//! Projects (a config, post files, a database) and `crieur run` processes for the daemon tests.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jiff::Timestamp;

use super::receiver::Receiver;
use crate::common;
pub use crate::common::daemon::Daemon;

/// A JPEG as a phone writes it: EXIF (make, GPS position), XMP, IPTC and a comment.
pub const TEAM: &[u8] = include_bytes!("../fixtures/media/lyon-team.jpg");
/// A PNG with `tEXt` and `eXIf` chunks.
pub const DESK: &[u8] = include_bytes!("../fixtures/media/lyon-desk.png");
/// The alt texts and the post text the picture tests write.
pub const TEAM_ALT: &str = "Six people smiling in front of the Lyon office door";
pub const DESK_ALT: &str = "A desk by a window overlooking the Saône";
pub const PHOTO_TEXT: &str = "Our Lyon office, day one. What should we add?";

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The whole second `secs` seconds from now: a post's `at` that is soon, written as the files
/// write it.
pub fn soon(secs: i64) -> Timestamp {
    Timestamp::from_second((Timestamp::now() + jiff::SignedDuration::from_secs(secs)).as_second())
        .unwrap()
}

/// The channels' Standard Webhooks secret: `whsec_` + base64 of 32 bytes.
pub fn secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b"crieur daemon tests signing key!")
    )
}

/// `[channels.NAME]` tables for webhook channels posting to `rx` at `/hooks/NAME`.
pub fn webhook_channels(rx: &Receiver, names: &[&str], cadence: &str) -> String {
    let mut out = String::new();
    for name in names {
        out.push_str(&format!(
            "\n[channels.{name}]\nnetwork = \"webhook\"\nurl = \"{}\"\nsecret = \"env:BLOG_SECRET\"\n\
             allow_private = true\ncadence = [\"{cadence}\"]\n",
            rx.url(&format!("hooks/{name}"))
        ));
    }
    out
}

/// A whole `crieur.toml`: Paris time, `storage` URL, `[queue]` body, then `channels`.
pub fn config(storage: &str, queue: &str, channels: &str) -> String {
    format!(
        "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"{storage}\"\n\n[queue]\n{queue}\n{channels}"
    )
}

/// The usual queue: every `posts/*.toml`, missed slots published up to 2 hours late.
pub const QUEUE: &str =
    "files = [\"posts/*.toml\"]\nmissed = \"publish-late\"\nmax_late = \"2h\"\n";

/// One `[[post]]` with a fixed instant (whole seconds, UTC).
pub fn fixed_post(id: &str, channel: &str, at: Timestamp) -> String {
    let at = Timestamp::from_second(at.as_second()).unwrap();
    format!(
        "[[post]]\nid = \"{id}\"\nchannels = [\"{channel}\"]\ntext = \"Notes from the team, part {id}. What would you add?\"\nat = \"{at}\"\n\n"
    )
}

/// One `[[post]]` without a fixed time: it takes its channels' next free slot.
pub fn queued_post(id: &str, channels: &[&str]) -> String {
    let list: Vec<String> = channels.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "[[post]]\nid = \"{id}\"\nchannels = [{}]\ntext = \"Notes from the team, part {id}. What would you add?\"\n\n",
        list.join(", ")
    )
}

static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// A folder with `crieur.toml` and its posts.
pub struct Project {
    pub dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

impl Project {
    /// A project with this config text.
    pub fn new(config: &str) -> Project {
        let dir = common::project(&[("crieur.toml", config)]);
        std::fs::create_dir_all(dir.path().join("posts")).unwrap();
        Project { dir, envs: Vec::new() }
    }

    /// Sets an environment variable for every command run on this project.
    pub fn with_env(mut self, name: &str, value: &str) -> Project {
        self.envs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.path().join("crieur.toml")
    }

    /// Writes the two pictures, [`TEAM`] and [`DESK`], as `posts/media/lyon-team.jpg` and
    /// `posts/media/lyon-desk.png`.
    pub fn write_pictures(&self) {
        let dir = self.path().join("posts/media");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lyon-team.jpg"), TEAM).unwrap();
        std::fs::write(dir.join("lyon-desk.png"), DESK).unwrap();
    }

    /// Writes a file (relative path) atomically: a rename, so a watcher never reads half of it.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tmp = self.path().join(format!(".{}.tmp", rel.replace('/', "_")));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// A `crieur` command on this project: `--config`, the webhook secret, logs at `info`, and
    /// nothing of the test runner's systemd environment.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = common::crieur();
        cmd.arg("--config")
            .arg(self.config())
            .args(args)
            .env("BLOG_SECRET", secret())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a short command to completion.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd: tokio::process::Command = self.command(args).into();
        cmd.output().await.unwrap()
    }

    /// `crieur status --format json`, parsed.
    pub async fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--format", "json"]).await;
        let text = common::stdout(&out);
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("status JSON: {e}\nstdout: {text}\nstderr: {}", common::stderr(&out))
        })
    }

    /// `status` rows of item 0 by post id (one channel per post in these tests).
    pub async fn states(&self) -> std::collections::HashMap<String, serde_json::Value> {
        let status = self.status().await;
        status["posts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["item"] == 0)
            .map(|p| {
                (
                    format!("{}@{}", p["post"].as_str().unwrap(), p["channel"].as_str().unwrap()),
                    p.clone(),
                )
            })
            .collect()
    }

    /// Starts `crieur run ARGS...`, stderr to a log file in the project.
    pub fn spawn(&self, args: &[&str]) -> Daemon {
        self.spawn_with(args, |_| {})
    }

    /// As [`Project::spawn`], with extra settings on the command.
    pub fn spawn_with(&self, args: &[&str], f: impl FnOnce(&mut std::process::Command)) -> Daemon {
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let log = self.path().join(format!("daemon-{n}.log"));
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        Daemon::spawn(self.command(&all), log, f)
    }
}

/// Waits (polling `status`) until `cond` holds on the status rows, up to `timeout`.
pub async fn wait_status(
    project: &Project,
    timeout: Duration,
    cond: impl Fn(&std::collections::HashMap<String, serde_json::Value>) -> bool,
) -> std::collections::HashMap<String, serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = project.states().await;
        if cond(&rows) {
            return rows;
        }
        if Instant::now() >= deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
