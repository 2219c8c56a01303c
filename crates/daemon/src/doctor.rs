//! `crieur doctor`: whether the daemon can do its work, one check per thing it needs, each with
//! what to do when it fails.
//!
//! The checks: the config, the post files (valid, no policy error over the coming four weeks),
//! the secrets the daemon itself needs (the storage key), the database (reachable, migrated,
//! writable), and each channel (its secrets resolve, its adapter accepts its settings, and its
//! network accepts its credentials through [`Publisher::check_credentials`], one cheap
//! authenticated read, never a post; the token's expiry). They run concurrently, each under its
//! own timeout, so one slow network costs its own check and no more. Meanwhile the limits each
//! channel's server announces (Mastodon's) are read again and stored, as at the daemon's start.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crieur_config::Config;
use crieur_core::{Clock, CredentialCheck, Publisher, Severity, TokenVault, Tokens, VaultError};
use crieur_store::{OpenOptions, Store, StoreError};
use jiff::Timestamp;

use crate::supervisor::{Adapters, storage_key};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Works now, but deserves attention (a token expiring soon, a channel crieur cannot check).
    Warn,
    /// The daemon cannot do this part of its work: `doctor` exits 1.
    Fail,
}

impl Status {
    /// `ok`, `warn` or `fail`, as the CLI contract writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of `crieur doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked: `config`, `posts`, `secrets`, `database`, `channel NAME`.
    pub check: String,
    /// How it ended.
    pub status: Status,
    /// What was found and, when it is not ok, what to do.
    pub message: String,
}

impl Check {
    fn new(check: impl Into<String>, status: Status, message: impl Into<String>) -> Self {
        Check { check: check.into(), status, message: message.into() }
    }
}

/// The checks as `crieur doctor` prints them for people: `ok    config    message`, one line
/// each (a message's further lines indented).
pub fn table(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let message = c.message.replace('\n', &format!("\n{:width$}", "", width = width + 7));
        out.push_str(&format!("{:<4}  {:<width$} {message}\n", c.status.as_str(), c.check));
    }
    out
}

/// The checks as the JSON document of the CLI contract:
/// `{"checks": [{"check": "...", "status": "ok|warn|fail", "message": "..."}]}`.
pub fn json(checks: &[Check]) -> String {
    let checks: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| serde_json::json!({"check": c.check, "status": c.status.as_str(), "message": c.message}))
        .collect();
    serde_json::json!({ "checks": checks }).to_string()
}

/// How `doctor` runs.
#[derive(Clone)]
pub struct Options {
    /// "Now", for the policy window and token expiry.
    pub now: Timestamp,
    /// The longest each check may take.
    pub timeout: Duration,
    /// The clock handed to the adapters.
    pub clock: Arc<dyn Clock>,
}

/// Runs every check on the config at `path`, concurrently, and returns them in a stable order
/// (config, posts, secrets, database, then the channels by name). When the config itself cannot
/// be read, that is the only check.
pub async fn doctor(path: &Path, adapters: Arc<dyn Adapters>, options: Options) -> Vec<Check> {
    let config = match crieur_config::load_config(path) {
        Ok(config) => Arc::new(config),
        Err(e) => {
            let message = format!("{e}\nfix the config (see `crieur validate`)");
            return vec![Check::new("config", Status::Fail, message)];
        }
    };
    let mut checks = vec![Check::new(
        "config",
        Status::Ok,
        format!("{}: {} channels", path.display(), config.channels.len()),
    )];
    let limit = options.timeout;
    let posts = {
        let config = config.clone();
        let now = options.now;
        tokio::task::spawn_blocking(move || posts(&config, now))
    };
    let secrets = secrets(&config);
    let (database, store) =
        within(limit, "database", database(&config)).await.unwrap_or_else(|late| (late, None));
    let vault: Arc<dyn TokenVault> = match &store {
        Some(store) => store.clone(),
        None => Arc::new(NoDatabase),
    };
    // The servers' own limits (Mastodon's `/api/v2/instance`) are read again and stored, as the
    // daemon does at start, so `validate` counts against them offline.
    let limits = store.clone().map(|store| {
        let (config, adapters) = (config.clone(), adapters.clone());
        tokio::spawn(async move {
            let refresh = crate::server_limits::refresh(adapters.as_ref(), &config, store.as_ref());
            let _ = tokio::time::timeout(limit, refresh).await;
        })
    });
    let mut channels = tokio::task::JoinSet::new();
    for name in config.channels.keys() {
        let (name, config, adapters, vault) =
            (name.clone(), config.clone(), adapters.clone(), vault.clone());
        let options = options.clone();
        channels.spawn(async move {
            let label = format!("channel {name}");
            let check = channel(&config, &name, adapters.as_ref(), vault, &options);
            within(options.timeout, &label, check).await.unwrap_or_else(|late| late)
        });
    }
    let posts = match tokio::time::timeout(limit, posts).await {
        Ok(Ok(check)) => check,
        Ok(Err(e)) => Check::new("posts", Status::Fail, format!("the check stopped: {e}")),
        Err(_) => late("posts", limit),
    };
    let mut by_channel = BTreeMap::new();
    while let Some(done) = channels.join_next().await {
        match done {
            Ok(check) => {
                by_channel.insert(check.check.clone(), check);
            }
            Err(e) => {
                let check = Check::new("channel", Status::Fail, format!("the check stopped: {e}"));
                by_channel.insert(format!("channel ~{}", by_channel.len()), check);
            }
        }
    }
    if let Some(limits) = limits {
        let _ = limits.await;
    }
    if let Some(store) = store {
        store.close().await;
    }
    checks.extend([posts, secrets, database]);
    checks.extend(by_channel.into_values());
    checks
}

/// Runs `check` under `limit`; `Err` holds the failed check that says it took too long.
async fn within<T>(
    limit: Duration,
    label: &str,
    check: impl Future<Output = T>,
) -> Result<T, Check> {
    tokio::time::timeout(limit, check).await.map_err(|_| late(label, limit))
}

fn late(label: &str, limit: Duration) -> Check {
    Check::new(
        label,
        Status::Fail,
        format!(
            "no answer within {} s: check the network path to it (proxy, firewall, api_base)",
            limit.as_secs()
        ),
    )
}

/// The post files load and break no error rule over the coming four weeks.
fn posts(config: &Config, now: Timestamp) -> Check {
    let posts = match crieur_config::load_posts(config) {
        Ok(posts) => posts,
        Err(e) => return Check::new("posts", Status::Fail, format!("{e}\nfix the post files")),
    };
    let to = now + jiff::SignedDuration::from_hours(24 * 28);
    let assessed = match crate::plan::assess(
        config,
        &posts,
        &crate::plan::Known::default(),
        now,
        to,
        now,
        true,
    ) {
        Ok(assessed) => assessed,
        Err(e) => return Check::new("posts", Status::Fail, e.to_string()),
    };
    let all = assessed.diagnostics(config);
    let errors = all.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = all.iter().filter(|d| d.severity == Severity::Warning).count();
    let summary = format!("{} posts, {errors} policy errors, {warnings} warnings", posts.len());
    match (errors, warnings) {
        (0, 0) => Check::new("posts", Status::Ok, summary),
        (0, _) => Check::new("posts", Status::Warn, format!("{summary}: see `crieur validate`")),
        _ => Check::new(
            "posts",
            Status::Fail,
            format!("{summary}: `crieur validate` lists them; they will not be published"),
        ),
    }
}

/// The secrets the daemon needs for itself: the storage key (channels' secrets are checked
/// with their channel).
fn secrets(config: &Config) -> Check {
    match storage_key(config) {
        Ok(Some(_)) => Check::new("secrets", Status::Ok, "the [storage] key resolves"),
        Ok(None) => Check::new(
            "secrets",
            Status::Warn,
            "no [storage] key: tokens from `crieur auth` cannot be stored; set `key` to a \
             secret reference holding `openssl rand -base64 32`",
        ),
        Err(e) => Check::new("secrets", Status::Fail, chain(&e)),
    }
}

/// The database is reachable and migrated (a read-only open) and writable (a write transaction
/// that changes nothing); the read-write store is returned for the token vault.
async fn database(config: &Config) -> (Check, Option<Arc<dyn Store>>) {
    let url = crieur_store::mask_url(&config.storage.url);
    let fail = |message: String| (Check::new("database", Status::Fail, message), None);
    match crieur_store::open(&config.storage.url, OpenOptions::read_only()).await {
        Ok(store) => store.close().await,
        Err(e @ (StoreError::Missing { .. } | StoreError::NoSchema(_))) => {
            return fail(format!("{url}: {e}"));
        }
        Err(e) => return fail(format!("{url} cannot be read: {}", chain(&e))),
    }
    let key = storage_key(config).ok().flatten();
    let options = OpenOptions { exclusive: false, migrate: false, key, ..OpenOptions::default() };
    let store = match crieur_store::open(&config.storage.url, options).await {
        Ok(store) => store,
        Err(e) => return fail(format!("{url} cannot be opened for writing: {}", chain(&e))),
    };
    if let Err(e) = store.release_channel(PROBE_CHANNEL).await {
        store.close().await;
        return fail(format!(
            "{url} is not writable: {}; give the daemon's user write access to it (and to its \
             folder)",
            chain(&e)
        ));
    }
    (
        Check::new("database", Status::Ok, format!("{url}: reachable, migrated, writable")),
        Some(store),
    )
}

/// A channel name no config can have (names are identifiers): the writable probe touches no row.
const PROBE_CHANNEL: &str = " crieur doctor ";

async fn channel(
    config: &Config,
    name: &str,
    adapters: &dyn Adapters,
    vault: Arc<dyn TokenVault>,
    options: &Options,
) -> Check {
    let label = format!("channel {name}");
    let mut one = config.clone();
    one.channels.retain(|n, _| n == name);
    // A credential check uploads nothing: a ledger of its own is enough.
    let ledger = Arc::new(crieur_core::MemoryLedger::new());
    let publisher: Arc<dyn Publisher> =
        match adapters.publishers(&one, vault, ledger, options.clock.clone()) {
            Ok(mut built) => match built.remove(name) {
                Some(p) => p,
                None => return Check::new(label, Status::Fail, "no publisher was built"),
            },
            Err(e) => {
                let text = chain(e.as_ref());
                let text = text.strip_prefix(&format!("{label}: ")).unwrap_or(&text).to_owned();
                return Check::new(label, Status::Fail, text);
            }
        };
    let network = publisher.network();
    match publisher.check_credentials().await {
        CredentialCheck::Accepted { account, expires_at } => {
            let Some(at) = expires_at else {
                return Check::new(
                    label,
                    Status::Ok,
                    format!("{network} accepts the token ({account})"),
                );
            };
            let left = at.duration_since(options.now);
            let days = left.as_secs() / 86_400;
            match adapters.token_warning(network, at, options.now) {
                Some(w) => Check::new(
                    label,
                    Status::Warn,
                    format!("{network} accepts the token ({account}), but {}", w.message),
                ),
                None => Check::new(
                    label,
                    Status::Ok,
                    format!(
                        "{network} accepts the token ({account}); it expires in {days} days ({at})"
                    ),
                ),
            }
        }
        CredentialCheck::Refused { reason } => Check::new(label, Status::Fail, reason),
        CredentialCheck::Unreachable { reason } => Check::new(
            label,
            Status::Fail,
            format!(
                "{network} could not be asked: {reason}; check that it is up and reachable from here (api_base or url)"
            ),
        ),
        CredentialCheck::NotChecked => Check::new(
            label,
            Status::Warn,
            format!("crieur has no credential check for {network}: its first post will tell"),
        ),
    }
}

/// An error and its causes on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The vault when the database cannot be opened: nothing stored, nothing can be saved.
struct NoDatabase;

#[async_trait::async_trait]
impl TokenVault for NoDatabase {
    async fn load(&self, _channel: &str) -> Result<Option<Tokens>, VaultError> {
        Ok(None)
    }

    async fn save(&self, _channel: &str, _tokens: &Tokens) -> Result<(), VaultError> {
        Err(VaultError("the database cannot be opened (see the database check)".into()))
    }

    async fn mark_revoked(&self, _channel: &str, _reason: &str) -> Result<(), VaultError> {
        Err(VaultError("the database cannot be opened (see the database check)".into()))
    }

    async fn try_lock_refresh(
        &self,
        _channel: &str,
        _owner: &str,
        _ttl: jiff::SignedDuration,
    ) -> Result<bool, VaultError> {
        Ok(true)
    }

    async fn unlock_refresh(&self, _channel: &str, _owner: &str) -> Result<(), VaultError> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn checks() -> Vec<Check> {
        vec![
            Check::new("config", Status::Ok, "fine"),
            Check::new("channel company-x", Status::Fail, "refused\nrun `crieur auth company-x`"),
        ]
    }

    #[test]
    fn the_table_has_one_line_per_check_with_further_lines_indented_under_the_message() {
        let table = table(&checks());
        assert_eq!(
            table,
            "ok    config            fine\n\
             fail  channel company-x refused\n                        run `crieur auth company-x`\n"
        );
    }

    #[test]
    fn the_json_has_the_keys_of_the_cli_contract() {
        let doc: serde_json::Value = serde_json::from_str(&json(&checks())).unwrap();
        assert_eq!(doc["checks"][1]["check"], "channel company-x");
        assert_eq!(doc["checks"][1]["status"], "fail");
        assert_eq!(doc["checks"][0]["status"], "ok");
        assert_eq!(doc["checks"][0].as_object().unwrap().len(), 3);
    }

    #[test]
    fn an_unreadable_config_is_the_only_check_and_fails_naming_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crieur.toml");
        std::fs::write(&path, "timezone = \"Europe/Nowhere\"\n").unwrap();
        struct NoAdapters;
        impl Adapters for NoAdapters {
            fn publishers(
                &self,
                _: &Config,
                _: Arc<dyn TokenVault>,
                _: Arc<dyn crieur_core::MediaLedger>,
                _: Arc<dyn Clock>,
            ) -> Result<std::collections::HashMap<String, Arc<dyn Publisher>>, crate::BoxError>
            {
                Ok(std::collections::HashMap::new())
            }
            fn token_warning(
                &self,
                _: crieur_core::Network,
                _: Timestamp,
                _: Timestamp,
            ) -> Option<crate::TokenWarning> {
                None
            }
        }
        let options = Options {
            now: Timestamp::UNIX_EPOCH,
            timeout: Duration::from_secs(5),
            clock: Arc::new(crieur_core::SystemClock),
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let checks = rt.block_on(doctor(&path, Arc::new(NoAdapters), options));
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[0].message.contains("crieur.toml:1:"), "{}", checks[0].message);
    }

    #[test]
    fn an_error_chain_is_shown_on_one_line() {
        let inner = std::io::Error::other("disk full");
        let outer = StoreError::Io { path: "/var/lib/crieur/crieur.db.lock".into(), source: inner };
        assert_eq!(chain(&outer), "cannot use /var/lib/crieur/crieur.db.lock: disk full");
    }
}
