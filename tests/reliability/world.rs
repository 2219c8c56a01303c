//! A world for one scenario: the mock, a project (config with channels on all six networks,
//! post files), `crieur run` processes, `crieur status`, and the delivery invariant.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::mock::{Apps, Mock, Net};
use crate::common;
pub use crate::common::daemon::Daemon;

/// Every secret of a scenario contains this, so one search finds any of them.
pub const CANARY: &str = "Zq7LeakCanary";

/// 32 bytes that carry the canary, as `whsec_` + base64.
pub fn webhook_secret() -> String {
    format!("whsec_{}", b64(b"Zq7LeakCanary-webhook-key-32byte"))
}

/// The storage key: 32 bytes that carry the canary, base64.
pub fn storage_key() -> String {
    b64(b"Zq7LeakCanary-storage-key-32byte")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One channel of the world.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub net: Net,
    /// X user id, LinkedIn author URN, Facebook Page id, webhook name, Mastodon account id,
    /// Bluesky DID.
    pub account: String,
}

/// One post: its id, channels and instant.
#[derive(Debug, Clone)]
pub struct PostSpec {
    pub id: String,
    pub channels: Vec<String>,
    pub at: Timestamp,
}

/// The text of a post (the mock reads the post id back from it).
pub fn text_of(id: &str) -> String {
    format!("Notes from the team, part {id}. What would you add?")
}

/// A scenario's world.
pub struct World {
    pub mock: Mock,
    pub dir: tempfile::TempDir,
    pub channels: Vec<Channel>,
    pub posts: Vec<PostSpec>,
    /// Environment of every `crieur` command: the secrets and the knobs.
    pub env: Vec<(String, String)>,
    /// Every secret value given to crieur (tokens, client secrets, webhook secret, key).
    pub secrets: Vec<String>,
    spawned: usize,
}

impl World {
    /// A world with `per_network` channels on each network, storing in `storage` (`None`: a
    /// SQLite file in the project).
    pub async fn new(per_network: usize, storage: Option<String>) -> World {
        let apps = Apps {
            x_client_id: "crieur-x-app".into(),
            x_client_secret: format!("{CANARY}-x-client-secret"),
            li_client_id: "crieur-li-app".into(),
            li_client_secret: format!("{CANARY}-li-client-secret"),
            webhook_secret: webhook_secret(),
            token_prefix: CANARY.into(),
        };
        let mock = Mock::start(apps.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("posts")).unwrap();
        let storage = storage.unwrap_or_else(|| "sqlite://crieur.db".into());
        let mut env: Vec<(String, String)> = vec![
            ("CRIEUR_KEY".into(), storage_key()),
            ("X_CLIENT_SECRET".into(), apps.x_client_secret.clone()),
            ("LI_CLIENT_SECRET".into(), apps.li_client_secret.clone()),
            ("HOOK_SECRET".into(), webhook_secret()),
            // Retries and second looks in tenths of seconds rather than minutes.
            ("CRIEUR_RETRY_BASE_MS".into(), "300".into()),
            ("CRIEUR_RECONCILE_EVERY_MS".into(), "1500".into()),
        ];
        let mut secrets = vec![
            apps.x_client_secret.clone(),
            apps.li_client_secret.clone(),
            webhook_secret(),
            webhook_secret()["whsec_".len()..].to_owned(),
            storage_key(),
        ];
        let mut config = format!(
            "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"{storage}\"\nkey = \"env:CRIEUR_KEY\"\n\n\
             [queue]\nfiles = [\"posts/*.toml\"]\nmissed = \"publish-late\"\nmax_late = \"2h\"\n"
        );
        let mut channels = Vec::new();
        for i in 1..=per_network {
            let access = format!("{CANARY}-x{i}-access-initial");
            let refresh = format!("{CANARY}-x{i}-refresh-initial");
            let user = format!("{}", 1000 + i);
            mock.add_x_user(&user, &access, &refresh);
            env.push((format!("X{i}_ACCESS"), access.clone()));
            env.push((format!("X{i}_REFRESH"), refresh.clone()));
            secrets.extend([access, refresh]);
            config.push_str(&format!(
                "\n[channels.x-{i}]\nnetwork = \"x\"\ncadence = [\"Mon 08:00\"]\nclient_id = \"crieur-x-app\"\n\
                 client_secret = \"env:X_CLIENT_SECRET\"\naccess_token = \"env:X{i}_ACCESS\"\n\
                 refresh_token = \"env:X{i}_REFRESH\"\napi_base = \"{}\"\ntoken_url = \"{}\"\n",
                mock.base("x"),
                mock.base("x/2/oauth2/token")
            ));
            channels.push(Channel { name: format!("x-{i}"), net: Net::X, account: user });

            let access = format!("{CANARY}-li{i}-access-initial");
            let refresh = format!("{CANARY}-li{i}-refresh-initial");
            let author = if i % 2 == 1 {
                format!("urn:li:organization:{}", 2_414_180 + i)
            } else {
                format!("urn:li:person:crieurTest{i}")
            };
            mock.add_linkedin(&author, &access, &refresh);
            env.push((format!("LI{i}_ACCESS"), access.clone()));
            env.push((format!("LI{i}_REFRESH"), refresh.clone()));
            secrets.extend([access, refresh]);
            config.push_str(&format!(
                "\n[channels.li-{i}]\nnetwork = \"linkedin\"\nauthor = \"{author}\"\ncadence = [\"Mon 08:00\"]\n\
                 client_id = \"crieur-li-app\"\nclient_secret = \"env:LI_CLIENT_SECRET\"\n\
                 access_token = \"env:LI{i}_ACCESS\"\nrefresh_token = \"env:LI{i}_REFRESH\"\n\
                 api_base = \"{}\"\ntoken_url = \"{}\"\n",
                mock.base("li"),
                mock.base("li/oauth/v2/accessToken")
            ));
            channels.push(Channel { name: format!("li-{i}"), net: Net::Linkedin, account: author });

            let token = format!("{CANARY}-fb{i}-page-token");
            let page = format!("{}", 104_857_600_120u64 + i as u64);
            mock.add_page(&page, &token);
            env.push((format!("FB{i}_TOKEN"), token.clone()));
            secrets.push(token);
            config.push_str(&format!(
                "\n[channels.fb-{i}]\nnetwork = \"facebook\"\npage_id = \"{page}\"\ncadence = [\"Mon 08:00\"]\n\
                 access_token = \"env:FB{i}_TOKEN\"\napi_base = \"{}\"\n",
                mock.base("fb")
            ));
            channels.push(Channel { name: format!("fb-{i}"), net: Net::Facebook, account: page });

            let name = format!("blog-{i}");
            config.push_str(&format!(
                "\n[channels.{name}]\nnetwork = \"webhook\"\nurl = \"{}\"\nsecret = \"env:HOOK_SECRET\"\n\
                 allow_private = true\ncadence = [\"Mon 08:00\"]\n",
                mock.base(&format!("hook/{name}"))
            ));
            channels.push(Channel { name: name.clone(), net: Net::Webhook, account: name });

            let token = format!("{CANARY}-masto{i}-token");
            let account = format!("{}", 109_000 + i);
            mock.add_mastodon(&account, &token);
            env.push((format!("MASTO{i}_TOKEN"), token.clone()));
            secrets.push(token);
            config.push_str(&format!(
                "\n[channels.masto-{i}]\nnetwork = \"mastodon\"\ninstance = \"{}\"\n\
                 access_token = \"env:MASTO{i}_TOKEN\"\ncadence = [\"Mon 08:00\"]\n",
                mock.base("masto")
            ));
            channels.push(Channel { name: format!("masto-{i}"), net: Net::Mastodon, account });

            let password = format!("{CANARY}-bsky{i}-app-password");
            let handle = format!("crieur{i}.bsky.test");
            let did = format!("did:plc:crieurtest{i:04}");
            mock.add_bluesky(&handle, &did, &password);
            env.push((format!("BSKY{i}_PASSWORD"), password.clone()));
            secrets.push(password);
            config.push_str(&format!(
                "\n[channels.bsky-{i}]\nnetwork = \"bluesky\"\nhandle = \"{handle}\"\n\
                 app_password = \"env:BSKY{i}_PASSWORD\"\nservice = \"{}\"\ncadence = [\"Mon 08:00\"]\n",
                mock.base("bsky")
            ));
            channels.push(Channel { name: format!("bsky-{i}"), net: Net::Bluesky, account: did });
        }
        common::write(dir.path(), "crieur.toml", config.as_bytes());
        World { mock, dir, channels, posts: Vec::new(), env, secrets, spawned: 0 }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("crieur.toml")
    }

    /// Channels of one network.
    pub fn on(&self, net: Net) -> Vec<String> {
        self.channels.iter().filter(|c| c.net == net).map(|c| c.name.clone()).collect()
    }

    /// Adds posts and writes the post file.
    pub fn add_posts(&mut self, posts: Vec<PostSpec>) {
        self.posts.extend(posts);
        let mut text = String::new();
        for p in &self.posts {
            let at = Timestamp::from_second(p.at.as_second()).unwrap();
            let list: Vec<String> = p.channels.iter().map(|c| format!("\"{c}\"")).collect();
            text.push_str(&format!(
                "[[post]]\nid = \"{}\"\nchannels = [{}]\ntext = \"{}\"\nat = \"{at}\"\n\n",
                p.id,
                list.join(", "),
                text_of(&p.id)
            ));
        }
        let tmp = self.path().join(".queue.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path().join("posts/queue.toml")).unwrap();
    }

    /// A `crieur` command on this world, logging at `log`.
    pub fn command(&self, args: &[&str], log: &str) -> std::process::Command {
        let mut cmd = common::crieur();
        cmd.arg("--config").arg(self.config()).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.env("RUST_LOG", log)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `crieur run` with logs at `log` into a file of the project; `extra` adds
    /// environment.
    pub fn spawn(&mut self, log: &str, extra: &[(&str, &str)]) -> Daemon {
        self.spawned += 1;
        let path = self.path().join(format!("daemon-{:03}.log", self.spawned));
        let mut cmd = self.command(&["run"], log);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Daemon::spawn(cmd, path, |_| {})
    }

    /// Every daemon log written so far, concatenated.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        let mut entries: Vec<_> = std::fs::read_dir(self.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            for line in std::fs::read_to_string(&p).unwrap_or_default().lines() {
                out.push_str(&format!("{name}: {line}\n"));
            }
        }
        out
    }

    /// `crieur status --format json`, parsed; `None` while the database cannot be read (a
    /// PostgreSQL restart).
    pub async fn status(&self) -> Option<Value> {
        let mut cmd: tokio::process::Command =
            self.command(&["status", "--format", "json"], "warn").into();
        let out = cmd.output().await.unwrap();
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The status, retrying for up to a minute.
    pub async fn status_now(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = self.status().await {
                return v;
            }
            assert!(Instant::now() < deadline, "crieur status keeps failing");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until every expected delivery is settled (`published`, `failed`, `cancelled`,
    /// or waiting on a channel a person must re-authorize), up to `timeout`. Returns the last
    /// status and whether it settled.
    pub async fn settle(&self, timeout: Duration) -> (Value, bool) {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        loop {
            if let Some(status) = self.status().await {
                let rows = rows(&status);
                let revoked = revoked_channels(&status);
                let all = self.expected().iter().all(|key| {
                    rows.get(key).is_some_and(|r| {
                        matches!(r["state"].as_str(), Some("published" | "failed" | "cancelled"))
                            || revoked.contains(&key.1)
                    })
                });
                last = status;
                if all {
                    return (last, true);
                }
            }
            if Instant::now() >= deadline {
                return (last, false);
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }

    /// Every (post, channel) of the files.
    pub fn expected(&self) -> Vec<(String, String)> {
        self.posts
            .iter()
            .flat_map(|p| p.channels.iter().map(move |c| (p.id.clone(), c.clone())))
            .collect()
    }

    fn channel_of(&self, net: Net, account: &str) -> Option<String> {
        self.channels.iter().find(|c| c.net == net && c.account == account).map(|c| c.name.clone())
    }

    /// Checks the invariant against `status`.
    pub fn verdict(&self, status: &Value) -> Verdict {
        let rows = rows(status);
        let revoked = revoked_channels(status);
        let mut v = Verdict::default();
        let mut accepted: HashMap<(String, String), Vec<super::mock::Accepted>> = HashMap::new();
        for a in self.mock.accepted() {
            let channel = match a.net {
                Net::Webhook => a.channel.clone().unwrap_or_default(),
                _ => self.channel_of(a.net, &a.account).unwrap_or_else(|| a.account.clone()),
            };
            accepted.entry((a.post.clone(), channel)).or_default().push(a);
        }
        let expected: HashSet<(String, String)> = self.expected().into_iter().collect();
        for (key, list) in &accepted {
            if list.len() > 1 {
                v.duplicates.push(format!(
                    "{} on {}: accepted {} times ({:?})",
                    key.0,
                    key.1,
                    list.len(),
                    list.iter().map(|a| &a.id).collect::<Vec<_>>()
                ));
            }
            if !expected.contains(key) {
                v.wrong.push(format!("{} on {}: accepted but not in the files", key.0, key.1));
            }
        }
        for (key, ids) in self.mock.webhook_ids() {
            if ids.len() > 1 {
                v.duplicates.push(format!("{} on {}: several webhook-ids {ids:?}", key.0, key.1));
            }
        }
        for key in self.expected() {
            let Some(row) = rows.get(&key) else {
                v.missing.push(format!("{} on {}: not in status", key.0, key.1));
                continue;
            };
            let state = row["state"].as_str().unwrap_or("?").to_owned();
            *v.states.entry(state.clone()).or_default() += 1;
            match accepted.get(&key).and_then(|l| l.first()) {
                Some(a) => {
                    let remote = row["remote_id"].as_str().unwrap_or("");
                    if state != "published" {
                        let what = format!(
                            "{} on {}: the network has it ({}) but status says {state} ({})",
                            key.0, key.1, a.id, row["error"]
                        );
                        if state == "unknown" {
                            v.unknown.push(what);
                        } else {
                            v.lost.push(what);
                        }
                    } else if !a.known_ids.iter().any(|id| id == remote) {
                        v.wrong.push(format!(
                            "{} on {}: remote id {remote:?}, the network gave {:?}",
                            key.0, key.1, a.known_ids
                        ));
                    }
                }
                None => {
                    if state == "published" {
                        v.wrong.push(format!(
                            "{} on {}: status says published ({}) but the network never accepted it",
                            key.0, key.1, row["remote_id"]
                        ));
                    } else if row["error"].is_null() && !revoked.contains(&key.1) {
                        v.wrong.push(format!("{} on {}: {state} without a reason", key.0, key.1));
                    } else if state == "unknown" {
                        v.unknown
                            .push(format!("{} on {}: unknown ({})", key.0, key.1, row["error"]));
                    }
                }
            }
        }
        v.violations = self.mock.violations();
        v.faults = self.mock.faults();
        v.revoked = revoked.into_iter().collect();
        v
    }
}

/// Status rows of item 0 by (post, channel).
pub fn rows(status: &Value) -> HashMap<(String, String), Value> {
    status["posts"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|p| p["item"] == 0)
        .map(|p| {
            (
                (
                    p["post"].as_str().unwrap_or("").to_owned(),
                    p["channel"].as_str().unwrap_or("").to_owned(),
                ),
                p.clone(),
            )
        })
        .collect()
}

fn revoked_channels(status: &Value) -> HashSet<String> {
    status["channels"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|c| !c["revoked"].is_null())
        .filter_map(|c| c["channel"].as_str().map(str::to_owned))
        .collect()
}

/// What the invariant check found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// A (post, channel) accepted more than once, or sent with several webhook-ids.
    pub duplicates: Vec<String>,
    /// Accepted by the network, but status says it was not published (and not unknown).
    pub lost: Vec<String>,
    /// Unknown outcomes left for a person.
    pub unknown: Vec<String>,
    /// Missing from status.
    pub missing: Vec<String>,
    /// Wrong remote id, published without being accepted, a state without a reason.
    pub wrong: Vec<String>,
    pub violations: Vec<String>,
    pub states: BTreeMap<String, usize>,
    pub faults: BTreeMap<String, u64>,
    pub revoked: Vec<String>,
}

impl Verdict {
    /// Panics, with everything, unless the invariant holds. Unknown outcomes are allowed (they
    /// are reported) only when `unknown_ok`.
    pub fn assert_holds(&self, unknown_ok: bool, context: &str) {
        let ok = self.duplicates.is_empty()
            && self.lost.is_empty()
            && self.missing.is_empty()
            && self.wrong.is_empty()
            && self.violations.is_empty()
            && (unknown_ok || self.unknown.is_empty());
        assert!(ok, "the delivery invariant does not hold ({context}):\n{self:#?}");
    }

    pub fn summary(&self) -> String {
        format!(
            "states {:?}; duplicates {}; lost {}; unknown {}; missing {}; wrong {}; violations {}; revoked {:?}\nfaults {:?}",
            self.states,
            self.duplicates.len(),
            self.lost.len(),
            self.unknown.len(),
            self.missing.len(),
            self.wrong.len(),
            self.violations.len(),
            self.revoked,
            self.faults
        )
    }
}

/// `t0` plus `secs`.
pub fn after(t0: Timestamp, secs: f64) -> Timestamp {
    t0 + SignedDuration::from_secs_f64(secs)
}
