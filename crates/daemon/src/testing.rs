//! Test support: a project folder (config, post files, SQLite file and key) in a temporary
//! directory, a fixed clock, and a log capture.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crieur_config::Config;
use crieur_core::{Clock, MediaLedger, Network, Publisher, TokenVault};
use jiff::Timestamp;

use crate::supervisor::{Adapters, TokenWarning};
use crate::{BoxError, sync::Syncer};

/// Wednesday 18 March 2026, 12:00 UTC: the next `Mon 08:00` in Paris is 23 March, 07:00 UTC.
pub const NOW: &str = "2026-03-18T12:00:00Z";

/// Two posts for the `blog` channel, in queue order.
pub const POSTS: &str = "[[post]]\nid = \"hello\"\nchannels = [\"blog\"]\ntext = \"Hello\"\n\n\
                         [[post]]\nid = \"world\"\nchannels = [\"blog\"]\ntext = \"World\"\n";

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("a test instant")
}

/// A project: `crieur.toml` with one webhook channel `blog` on `Mon 08:00` (Paris), its queue in
/// `posts/*.toml`, a SQLite file and a `[storage] key` in the same folder.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(posts: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let project = Self { dir };
        project.write("key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
        std::fs::set_permissions(project.path("key"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod the key");
        project.write("crieur.toml", &project.config_text("Mon 08:00"));
        project.write("posts/a.toml", posts);
        project
    }

    pub fn config_text(&self, cadence: &str) -> String {
        format!(
            "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://{}\"\nkey = \"file:key\"\n\n\
             [queue]\nfiles = [\"posts/*.toml\"]\n\n[channels.blog]\nnetwork = \"webhook\"\n\
             url = \"https://blog.example.com/hooks/crieur\"\nsecret = \"env:BLOG_SECRET\"\n\
             cadence = [\"{cadence}\"]\n",
            self.path("crieur.db").display()
        )
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the folder");
        }
        let mut file = std::fs::File::create(&path).expect("create the file");
        file.write_all(text.as_bytes()).expect("write the file");
        file.sync_all().expect("sync the file");
    }

    pub fn config(&self) -> Config {
        crieur_config::load_config(&self.path("crieur.toml")).expect("a valid config")
    }

    /// A syncer on the project's store (migrated), with a clock fixed at `now`.
    pub async fn syncer(&self, now: Timestamp) -> Syncer {
        let config = self.config();
        let clock: Arc<dyn Clock> = Arc::new(Fixed(now));
        let store =
            crate::supervisor::open_store(&config, clock.clone()).await.expect("the store opens");
        Syncer { config, store, clock }
    }
}

/// A clock that does not move.
#[derive(Debug)]
pub struct Fixed(pub Timestamp);

impl Clock for Fixed {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// Adapters with no publisher; every token of a channel expiring within a day gets a warning.
pub struct NoAdapters;

impl Adapters for NoAdapters {
    fn publishers(
        &self,
        _: &Config,
        _: Arc<dyn TokenVault>,
        _: Arc<dyn MediaLedger>,
        _: Arc<dyn Clock>,
    ) -> Result<HashMap<String, Arc<dyn Publisher>>, BoxError> {
        Ok(HashMap::new())
    }

    fn token_warning(
        &self,
        _: Network,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Option<TokenWarning> {
        (expires_at.duration_since(now) <= jiff::SignedDuration::from_hours(24))
            .then(|| TokenWarning { threshold_days: 1, message: format!("expires {expires_at}") })
    }
}

/// Everything logged while the returned guard lives (on this thread), as text.
pub fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    (logs.clone(), tracing::subscriber::set_default(subscriber))
}

/// A shared log buffer.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log buffer")).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
