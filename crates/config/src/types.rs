//! The values a config file produces. Parsing lives beside; these are plain data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crieur_core::{Channel, Network};
pub use crieur_policy::{HashtagStyle, Mention, PolicyConfig, PolicyLayer, Utm};
use jiff::SignedDuration;
use jiff::tz::TimeZone;

pub use crate::metrics::MetricsSettings;

/// A loaded and checked `crieur.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The file's folder: relative paths in the config are relative to it.
    pub dir: PathBuf,
    /// The IANA name of the top-level zone (`timezone`).
    pub timezone_name: String,
    /// The top-level zone, the default for channels and posts.
    pub timezone: TimeZone,
    /// `[storage]`.
    pub storage: Storage,
    /// `[queue]`.
    pub queue: QueueSettings,
    /// `[channels.NAME]`, by name.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// `[mentions.KEY]`, by key (the `@KEY` written in posts).
    pub mentions: BTreeMap<String, Mention>,
    /// `[policy]` with its per-network and per-channel layers.
    pub policy: PolicyConfig,
    /// `[http]`, when the daemon's endpoint is configured.
    pub http: Option<crate::http::HttpSettings>,
    /// `[metrics]`: engagement snapshots.
    pub metrics: MetricsSettings,
}

/// `[storage]`.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The database URL, `sqlite://...` or `postgres://...`; a relative SQLite path is already
    /// resolved against `$STATE_DIRECTORY` or the config's folder.
    pub url: String,
    /// The key that encrypts tokens at rest (32 bytes, base64), when configured.
    pub key: Option<SecretRef>,
}

/// What to do with a slot missed while the daemon was down, or a fixed time already past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// Publish late, within `max_late`; otherwise skip.
    PublishLate,
    /// Skip: the post goes to its channel's next free slot.
    Skip,
}

/// `[queue]`.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Globs, relative to the config's folder, whose files hold posts.
    pub files: Vec<String>,
    /// `missed`.
    pub missed: Missed,
    /// `max_late`.
    pub max_late: SignedDuration,
    /// `claim_lead_ms` (default 300): how far ahead of a due instant the daemon claims the
    /// delivery (commits its intent), before waiting for the instant and sending.
    pub claim_lead: std::time::Duration,
}

/// One `[channels.NAME]` table.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// The domain channel (name, network, zone, cadence).
    pub channel: Channel,
    /// The network-specific keys.
    pub settings: NetworkSettings,
    /// `metrics` (default true): false stops engagement reads for this channel.
    pub metrics: bool,
    /// `keep_metadata = true`: media go out with their metadata (EXIF, XMP...) as they are.
    pub keep_metadata: bool,
}

/// The keys that only one network takes.
#[derive(Debug, Clone)]
pub enum NetworkSettings {
    /// `network = "x"`.
    X(XSettings),
    /// `network = "linkedin"`.
    Linkedin(LinkedinSettings),
    /// `network = "facebook"`.
    Facebook(FacebookSettings),
    /// `network = "webhook"`.
    Webhook(WebhookSettings),
    /// `network = "mastodon"`.
    Mastodon(MastodonSettings),
    /// `network = "bluesky"`.
    Bluesky(BlueskySettings),
}

impl NetworkSettings {
    /// The network these settings are for.
    pub fn network(&self) -> Network {
        match self {
            NetworkSettings::X(_) => Network::X,
            NetworkSettings::Linkedin(_) => Network::Linkedin,
            NetworkSettings::Facebook(_) => Network::Facebook,
            NetworkSettings::Webhook(_) => Network::Webhook,
            NetworkSettings::Mastodon(_) => Network::Mastodon,
            NetworkSettings::Bluesky(_) => Network::Bluesky,
        }
    }
}

/// OAuth keys shared by the networks that use OAuth 2.0.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    /// `api_base`: the API root (default the network's public one).
    pub api_base: Option<String>,
    /// `token_url`: the token endpoint (default the network's).
    pub token_url: Option<String>,
    /// `authorize_url`: the authorization page for `crieur auth` (default the network's).
    pub authorize_url: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (confidential clients).
    pub client_secret: Option<SecretRef>,
    /// `access_token`: a token managed outside crieur.
    pub access_token: Option<SecretRef>,
    /// `refresh_token`: with `client_id`, lets crieur refresh.
    pub refresh_token: Option<SecretRef>,
}

/// X channel keys.
#[derive(Debug, Clone, Default)]
pub struct XSettings {
    /// OAuth and endpoint keys.
    pub oauth: OAuthSettings,
}

/// LinkedIn channel keys.
#[derive(Debug, Clone, Default)]
pub struct LinkedinSettings {
    /// OAuth and endpoint keys.
    pub oauth: OAuthSettings,
    /// `author`: `urn:li:person:...` or `urn:li:organization:...`.
    pub author: String,
    /// `linkedin_version`: the `LinkedIn-Version` header, `YYYYMM`.
    pub linkedin_version: Option<String>,
}

/// Facebook Page channel keys.
#[derive(Debug, Clone, Default)]
pub struct FacebookSettings {
    /// OAuth and endpoint keys (`client_id`/`client_secret` are the app id and secret).
    pub oauth: OAuthSettings,
    /// `page_id`.
    pub page_id: String,
    /// `graph_version`: the Graph API version, default `v25.0`.
    pub graph_version: Option<String>,
}

/// Webhook channel keys.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `url`: where to POST.
    pub url: String,
    /// `secret`: the Standard Webhooks secret (`whsec_` + base64), by reference.
    pub secret: SecretRef,
    /// `allow_private`: lifts the https-only and no-private-address rules.
    pub allow_private: bool,
}

/// Mastodon channel keys.
#[derive(Debug, Clone)]
pub struct MastodonSettings {
    /// `instance`: the server's root URL, without a trailing `/` (the adapter's API root).
    pub instance: String,
    /// `access_token`: a token managed outside crieur; without it, the token `crieur auth`
    /// stored is used.
    pub access_token: Option<SecretRef>,
    /// `visibility`: who sees the channel's posts (default public).
    pub visibility: Visibility,
}

/// Who sees a Mastodon post (the domain's type, re-exported where the config names it).
pub use crieur_core::Visibility;

/// Bluesky channel keys.
#[derive(Debug, Clone)]
pub struct BlueskySettings {
    /// `handle`: the account's handle, without `@` (`acme.bsky.social`).
    pub handle: String,
    /// `app_password`: an app password (never the account password), by reference.
    pub app_password: SecretRef,
    /// `service`: the account's PDS (default `https://bsky.social`).
    pub service: Option<String>,
}

/// A reference to a secret; the value is only read when needed, and never logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`.
    Env(String),
    /// `file:PATH` (resolved against the config's folder; must not be readable by group or others).
    File(PathBuf),
    /// `credential:NAME`: `$CREDENTIALS_DIRECTORY/NAME` (systemd `LoadCredential=`).
    Credential(String),
}
