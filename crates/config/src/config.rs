//! `crieur.toml`: finding it, reading it, checking every key.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crieur_core::{Cadence, Channel, Location, Network};
use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::duration::parse_duration;
use crate::error::{ConfigError, Errors};
use crate::policy::parse_policy;
use crate::secret::check_file_mode;
use crate::source::{LineIndex, Src, as_value, list, read_source};
use crate::types::*;

/// Finds the config file: `explicit` (`--config PATH`), else `$CRIEUR_CONFIG`, else
/// `./crieur.toml`, else `/etc/crieur/crieur.toml`.
///
/// # Errors
/// A path given explicitly or by `$CRIEUR_CONFIG` that is not a file, or no file found anywhere
/// (the message lists the places tried).
pub fn find_config(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    find_config_in(
        explicit,
        std::env::var_os("CRIEUR_CONFIG"),
        &[PathBuf::from("crieur.toml"), PathBuf::from("/etc/crieur/crieur.toml")],
    )
}

fn find_config_in(
    explicit: Option<&Path>,
    from_env: Option<OsString>,
    candidates: &[PathBuf],
) -> Result<PathBuf, ConfigError> {
    let given = |path: &Path, source: &str| {
        if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(ConfigError::general(format!(
                "config file {} (given by {source}) does not exist or is not a file",
                path.display()
            )))
        }
    };
    if let Some(path) = explicit {
        return given(path, "--config");
    }
    if let Some(path) = from_env.filter(|p| !p.is_empty()) {
        return given(Path::new(&path), "$CRIEUR_CONFIG");
    }
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(ConfigError::general(format!(
        "no config file found (looked for {}): pass --config PATH or set $CRIEUR_CONFIG",
        tried.join(", ")
    )))
}

/// What the loader reads from the environment, gathered once so tests can give their own.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    /// The first folder of systemd's `$STATE_DIRECTORY`.
    pub state_directory: Option<PathBuf>,
}

impl Env {
    fn from_process() -> Self {
        let state_directory = std::env::var_os("STATE_DIRECTORY").and_then(|v| {
            // systemd separates several StateDirectory= entries with ':'.
            let first = std::env::split_paths(&v).next()?;
            (!first.as_os_str().is_empty()).then_some(first)
        });
        Env { state_directory }
    }
}

/// Reads and checks the config file at `path`.
///
/// Every key is checked (unknown keys, types, zones, cadences, secret references and the modes of
/// `file:` secrets that exist, URLs, policy rule ids) and every problem found is returned, each
/// with its `path:line:col`. Relative paths in the file are relative to its folder. The default
/// database is `crieur.db` in `$STATE_DIRECTORY` when set, else beside the config.
///
/// # Errors
/// [`Errors`] listing every problem; the file itself unreadable, over 8 MiB, not UTF-8 or binary.
pub fn load_config(path: &Path) -> Result<Config, Errors> {
    let text = read_source(path)?;
    parse_config(path, &text, &Env::from_process())
}

pub(crate) const TOP_KEYS: &[&str] =
    &["timezone", "storage", "queue", "channels", "mentions", "policy", "http", "metrics"];

/// Parses the text of a config file read from `path`.
pub(crate) fn parse_config(path: &Path, text: &str, env: &Env) -> Result<Config, Errors> {
    let index = LineIndex::new(text);
    let src = Src::new(path, text, &index);
    let doc = src.parse_document(text)?;
    let mut errors = Errors::default();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };

    let mut sections: BTreeMap<&str, Spanned<DeValue<'_>>> = BTreeMap::new();
    for (key, value) in doc.into_inner() {
        match TOP_KEYS.iter().find(|k| **k == key.get_ref().as_ref()) {
            Some(k) => {
                sections.insert(k, value);
            }
            None => errors.push(src.err(
                &key.span(),
                format!(
                    "unknown key `{}` at the top level; expected one of {}",
                    key.get_ref(),
                    list(TOP_KEYS)
                ),
            )),
        }
    }

    let zone = match sections.remove("timezone") {
        Some(v) => src
            .de::<Spanned<String>>(v, "`timezone`", &mut errors)
            .and_then(|name| zone(&src, &name, &mut errors).map(|tz| (name.into_inner(), tz))),
        None => {
            errors.push(ConfigError::at(
                Location::new(path, 1, 1),
                "missing `timezone` at the top level: add `timezone = \"Europe/Paris\"` (an IANA \
                 zone name), the default zone of channels and posts",
            ));
            None
        }
    };
    let default_tz = zone.as_ref().map_or(TimeZone::UTC, |(_, tz)| tz.clone());

    let storage = storage(&src, sections.remove("storage"), &dir, env, &mut errors);
    let queue = queue(&src, sections.remove("queue"), &mut errors);
    let channels = match sections.remove("channels") {
        Some(v) => channels(&src, v, &default_tz, &dir, &mut errors),
        None => BTreeMap::new(),
    };
    let mentions = match sections.remove("mentions") {
        Some(v) => mentions(&src, v, &mut errors),
        None => BTreeMap::new(),
    };
    let policy = match sections.remove("policy") {
        Some(v) => parse_policy(&src, v, &channels, &mut errors),
        None => PolicyConfig::default(),
    };

    let http = sections.remove("http").and_then(|v| crate::http::http(&src, v, &dir, &mut errors));
    let metrics = crate::metrics::parse_metrics(&src, sections.remove("metrics"), &mut errors);

    let (Some((timezone_name, timezone)), Some(storage), Some(queue)) = (zone, storage, queue)
    else {
        if errors.is_empty() {
            errors.push(ConfigError::general(format!("{}: invalid config", path.display())));
        }
        return Err(errors);
    };
    errors.into_result(Config {
        path: path.to_owned(),
        dir,
        timezone_name,
        timezone,
        storage,
        queue,
        channels,
        mentions,
        policy,
        http,
        metrics,
    })
}

/// An IANA zone from the system's database (or jiff's bundled one).
pub(crate) fn zone(src: &Src<'_>, name: &Spanned<String>, errors: &mut Errors) -> Option<TimeZone> {
    match TimeZone::get(name.get_ref()) {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(src.err(
                &name.span(),
                format!(
                    "unknown time zone {:?}: write an IANA zone name like \"Europe/Paris\" or \
                     \"America/New_York\"",
                    name.get_ref()
                ),
            ));
            None
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    url: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

fn storage(
    src: &Src<'_>,
    value: Option<Spanned<DeValue<'_>>>,
    dir: &Path,
    env: &Env,
    errors: &mut Errors,
) -> Option<Storage> {
    let raw = match value {
        Some(v) => src.de::<RawStorage>(v, "in [storage]", errors)?,
        None => RawStorage { url: None, key: None },
    };
    let base = env.state_directory.clone().unwrap_or_else(|| dir.to_owned());
    let url = match raw.url {
        None => sqlite_url(&base.join("crieur.db"), "").ok_or_else(|| {
            errors.push(ConfigError::general(format!(
                "the default database path in {} is not UTF-8: set [storage] url",
                base.display()
            )));
        }),
        Some(url) => database_url(src, &url, &base, errors).ok_or(()),
    };
    let key = raw.key.and_then(|k| secret(src, &k, "key", dir, errors));
    Some(Storage { url: url.ok()?, key })
}

fn sqlite_url(path: &Path, query: &str) -> Option<String> {
    let full = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    Some(format!("sqlite://{}{query}", full.to_str()?))
}

/// Checks a database URL and makes a relative SQLite path absolute. The URL itself is never
/// repeated in messages: it may carry a password.
fn database_url(
    src: &Src<'_>,
    url: &Spanned<String>,
    base: &Path,
    errors: &mut Errors,
) -> Option<String> {
    let s = url.get_ref().as_str();
    let mut fail = |msg: &str| {
        errors.push(src.err(&url.span(), format!("[storage] url: {msg}")));
        None
    };
    if let Some(rest) = s.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (file, query) = match rest.find('?') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if file.is_empty() {
            return fail("a SQLite URL needs a file name, like \"sqlite://crieur.db\"");
        }
        if file == ":memory:" {
            return Some(s.to_owned());
        }
        return match sqlite_url(&base.join(file), query) {
            Some(u) => Some(u),
            None => fail("the resolved SQLite path is not UTF-8"),
        };
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return match url::Url::parse(s) {
            Err(_) => fail("not a valid URL; write postgres://USER@HOST/DATABASE"),
            Ok(u) if u.password().is_some() => fail(
                "a password is written in the URL, and secrets never go in the config: remove it \
                 and give it to PostgreSQL by $PGPASSWORD or a .pgpass file",
            ),
            Ok(_) => Some(s.to_owned()),
        };
    }
    fail("unsupported database: write \"sqlite://FILE\" or \"postgres://USER@HOST/DATABASE\"")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    files: Option<Spanned<Vec<Spanned<String>>>>,
    missed: Option<Spanned<String>>,
    max_late: Option<Spanned<String>>,
    claim_lead_ms: Option<Spanned<i64>>,
}

fn queue(
    src: &Src<'_>,
    value: Option<Spanned<DeValue<'_>>>,
    errors: &mut Errors,
) -> Option<QueueSettings> {
    let raw = match value {
        Some(v) => src.de::<RawQueue>(v, "in [queue]", errors)?,
        None => RawQueue { files: None, missed: None, max_late: None, claim_lead_ms: None },
    };
    let files = match raw.files {
        None => vec!["posts/*.toml".to_owned(), "posts/*.md".to_owned()],
        Some(files) => {
            if files.get_ref().is_empty() {
                errors.push(src.err(
                    &files.span(),
                    "[queue] files is empty: list globs like \"posts/*.toml\"",
                ));
            }
            let mut out = Vec::new();
            for f in files.into_inner() {
                if let Err(e) = glob::Pattern::new(f.get_ref()) {
                    errors.push(src.err(
                        &f.span(),
                        format!("[queue] files: {:?} is not a valid glob: {}", f.get_ref(), e.msg),
                    ));
                }
                out.push(f.into_inner());
            }
            out
        }
    };
    let missed = match raw.missed {
        None => Missed::PublishLate,
        Some(m) => match m.get_ref().as_str() {
            "publish-late" => Missed::PublishLate,
            "skip" => Missed::Skip,
            other => {
                errors.push(src.err(
                    &m.span(),
                    format!("[queue] missed = {other:?}: use \"publish-late\" or \"skip\""),
                ));
                Missed::PublishLate
            }
        },
    };
    let max_late = match raw.max_late {
        None => jiff::SignedDuration::from_hours(2),
        Some(d) => duration(src, &d, "[queue] max_late", errors).unwrap_or_default(),
    };
    let claim_lead = match raw.claim_lead_ms {
        None => DEFAULT_CLAIM_LEAD,
        Some(ms) => match u64::try_from(*ms.get_ref()) {
            Ok(n) if n <= MAX_CLAIM_LEAD_MS => std::time::Duration::from_millis(n),
            _ => {
                errors.push(src.err(
                    &ms.span(),
                    format!(
                        "[queue] claim_lead_ms = {}: use a whole number of milliseconds from 0 \
                         to {MAX_CLAIM_LEAD_MS} (default 300)",
                        ms.get_ref()
                    ),
                ));
                DEFAULT_CLAIM_LEAD
            }
        },
    };
    Some(QueueSettings { files, missed, max_late, claim_lead })
}

/// `[queue] claim_lead_ms` when absent.
const DEFAULT_CLAIM_LEAD: std::time::Duration = std::time::Duration::from_millis(300);
/// The largest `[queue] claim_lead_ms`.
const MAX_CLAIM_LEAD_MS: u64 = 5_000;

/// A duration value, or an error at its place.
pub(crate) fn duration(
    src: &Src<'_>,
    value: &Spanned<String>,
    what: &str,
    errors: &mut Errors,
) -> Option<jiff::SignedDuration> {
    match parse_duration(value.get_ref()) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(src.err(&value.span(), format!("{what}: {e}")));
            None
        }
    }
}

/// A secret reference, or an error at its place. `file:` references that exist must be private.
pub(crate) fn secret(
    src: &Src<'_>,
    value: &Spanned<String>,
    key: &str,
    dir: &Path,
    errors: &mut Errors,
) -> Option<SecretRef> {
    match SecretRef::parse(value.get_ref()) {
        Ok(r) => {
            if let SecretRef::File(p) = &r
                && let Err(e) = check_file_mode(&dir.join(p))
            {
                errors.push(src.err(&value.span(), format!("`{key}`: {e}")));
            }
            Some(r)
        }
        Err(e) => {
            errors.push(src.err(&value.span(), format!("`{key}`: {e}")));
            None
        }
    }
}

/// Whether `s` is a channel name: `[A-Za-z0-9_-]+`.
pub(crate) fn is_channel_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) const COMMON_KEYS: &[&str] =
    &["network", "cadence", "timezone", "max_length", "metrics", "keep_metadata"];
const OAUTH_KEYS: &[&str] = &[
    "api_base",
    "token_url",
    "authorize_url",
    "client_id",
    "client_secret",
    "access_token",
    "refresh_token",
];
const LINKEDIN_KEYS: &[&str] = &["author", "linkedin_version"];
const FACEBOOK_KEYS: &[&str] = &["page_id", "graph_version"];
const WEBHOOK_KEYS: &[&str] = &["url", "secret", "allow_private"];
const BLUESKY_KEYS: &[&str] = &["handle", "app_password", "service"];

/// The keys a channel of `network` takes.
pub(crate) fn channel_keys(network: Network) -> Vec<&'static str> {
    let own: &[&[&str]] = match network {
        Network::X => &[OAUTH_KEYS],
        Network::Linkedin => &[OAUTH_KEYS, LINKEDIN_KEYS],
        Network::Facebook => &[OAUTH_KEYS, FACEBOOK_KEYS],
        Network::Webhook => &[WEBHOOK_KEYS],
        Network::Mastodon => &[crate::mastodon::MASTODON_KEYS],
        Network::Bluesky => &[BLUESKY_KEYS],
    };
    COMMON_KEYS.iter().chain(own.iter().flat_map(|k| k.iter())).copied().collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    #[allow(dead_code)]
    network: String,
    cadence: Option<Vec<Spanned<String>>>,
    timezone: Option<Spanned<String>>,
    max_length: Option<Spanned<u32>>,
    keep_metadata: Option<bool>,
    api_base: Option<Spanned<String>>,
    token_url: Option<Spanned<String>>,
    authorize_url: Option<Spanned<String>>,
    client_id: Option<Spanned<String>>,
    client_secret: Option<Spanned<String>>,
    access_token: Option<Spanned<String>>,
    refresh_token: Option<Spanned<String>>,
    author: Option<Spanned<String>>,
    linkedin_version: Option<Spanned<String>>,
    page_id: Option<Spanned<String>>,
    graph_version: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    allow_private: Option<bool>,
    metrics: Option<bool>,
    instance: Option<Spanned<String>>,
    visibility: Option<Spanned<String>>,
    handle: Option<Spanned<String>>,
    app_password: Option<Spanned<String>>,
    service: Option<Spanned<String>>,
}

fn channels(
    src: &Src<'_>,
    value: Spanned<DeValue<'_>>,
    default_tz: &TimeZone,
    dir: &Path,
    errors: &mut Errors,
) -> BTreeMap<String, ChannelConfig> {
    let mut out = BTreeMap::new();
    let Some((_, table)) = src.table(value, "[channels]", errors) else {
        return out;
    };
    for (name, value) in table {
        let name_span = name.span();
        let name = name.into_inner().into_owned();
        if !is_channel_name(&name) {
            errors.push(src.err(
                &name_span,
                format!(
                    "channel name {name:?} may only hold letters, digits, `-` and `_`, like \
                     \"company-x\""
                ),
            ));
            continue;
        }
        if let Some(c) = channel(src, &name, value, default_tz, dir, errors) {
            out.insert(name, c);
        }
    }
    out
}

fn channel(
    src: &Src<'_>,
    name: &str,
    value: Spanned<DeValue<'_>>,
    default_tz: &TimeZone,
    dir: &Path,
    errors: &mut Errors,
) -> Option<ChannelConfig> {
    let ctx = format!("[channels.{name}]");
    let (span, mut table) = src.table(value, &ctx, errors)?;
    let network = match table.get("network").map(|v| (v.span(), v.get_ref())) {
        None => {
            errors.push(src.err(
                &span,
                format!(
                    "{ctx} needs `network = \"...\"`: one of {}",
                    list(Network::ALL.map(|n| n.as_str()))
                ),
            ));
            return None;
        }
        Some((vspan, DeValue::String(s))) => match Network::from_str(s) {
            Ok(n) => n,
            Err(e) => {
                errors.push(src.err(&vspan, format!("{ctx}: {e}")));
                return None;
            }
        },
        Some((vspan, other)) => {
            errors.push(src.err(
                &vspan,
                format!("{ctx}: `network` must be a string, not a {}", other.type_str()),
            ));
            return None;
        }
    };
    let allowed = channel_keys(network);
    let mut bad = Vec::new();
    for key in table.keys() {
        let k = key.get_ref().as_ref();
        if allowed.contains(&k) {
            continue;
        }
        let takers: Vec<&str> = Network::ALL
            .into_iter()
            .filter(|n| channel_keys(*n).contains(&k))
            .map(|n| n.as_str())
            .collect();
        let msg = if takers.is_empty() {
            format!("unknown key `{k}` in {ctx}; {network} channels take {}", list(&allowed))
        } else {
            format!(
                "`{k}` is a key of {} channels, and channel `{name}` is on {network}: remove it, \
                 or fix `network`",
                takers.join(" and ")
            )
        };
        errors.push(src.err(&key.span(), msg));
        bad.push(k.to_owned());
    }
    for k in &bad {
        table.remove(k.as_str());
    }
    let raw: RawChannel = src.de(as_value(span.clone(), table), &format!("in {ctx}"), errors)?;
    let location = src.loc(&span);

    let mut cadence = Vec::new();
    for c in raw.cadence.iter().flatten() {
        match Cadence::from_str(c.get_ref()) {
            Ok(c) => cadence.push(c),
            Err(e) => errors.push(src.err(&c.span(), format!("{ctx} cadence: {e}"))),
        }
    }
    let timezone = match &raw.timezone {
        Some(name) => zone(src, name, errors)?,
        None => default_tz.clone(),
    };
    let max_length = positive(src, raw.max_length.as_ref(), &ctx, "max_length", errors);
    let keep_metadata = raw.keep_metadata.unwrap_or(false);

    let url_key = |v: &Option<Spanned<String>>, key: &str, errors: &mut Errors| {
        v.as_ref().and_then(|v| http_url(src, v, &format!("{ctx} {key}"), false, errors))
    };
    let oauth = OAuthSettings {
        api_base: url_key(&raw.api_base, "api_base", errors),
        token_url: url_key(&raw.token_url, "token_url", errors),
        authorize_url: url_key(&raw.authorize_url, "authorize_url", errors),
        client_id: raw.client_id.as_ref().map(|c| c.get_ref().clone()),
        client_secret: raw
            .client_secret
            .as_ref()
            .and_then(|s| secret(src, s, "client_secret", dir, errors)),
        access_token: raw
            .access_token
            .as_ref()
            .and_then(|s| secret(src, s, "access_token", dir, errors)),
        refresh_token: raw
            .refresh_token
            .as_ref()
            .and_then(|s| secret(src, s, "refresh_token", dir, errors)),
    };
    if let Some(c) = &raw.client_id
        && c.get_ref().trim().is_empty()
    {
        errors.push(src.err(&c.span(), format!("{ctx} client_id is empty")));
    }
    let needs_token = |errors: &mut Errors| {
        if raw.access_token.is_none() && raw.client_id.is_none() {
            errors.push(src.err(
                &span,
                format!(
                    "{ctx} has no way to publish: add `access_token = \"env:NAME\"`, or `client_id` \
                     (then run `crieur auth {name}`)"
                ),
            ));
        }
        if raw.refresh_token.is_some() && raw.client_id.is_none() {
            errors.push(
                src.err(&span, format!("{ctx}: `refresh_token` needs `client_id` to refresh with")),
            );
        }
    };
    let missing = |key: &str, example: &str, errors: &mut Errors| {
        errors.push(src.err(&span, format!("{ctx} needs `{key}`, like `{key} = {example}`")));
    };

    let settings = match network {
        Network::X => {
            needs_token(errors);
            NetworkSettings::X(XSettings { oauth })
        }
        Network::Linkedin => {
            needs_token(errors);
            let author = match &raw.author {
                None => {
                    missing("author", "\"urn:li:organization:2414183\"", errors);
                    String::new()
                }
                Some(a) => {
                    let s = a.get_ref();
                    let ok = ["urn:li:person:", "urn:li:organization:"].iter().any(|p| {
                        s.strip_prefix(p)
                            .is_some_and(|id| !id.is_empty() && !id.contains(char::is_whitespace))
                    });
                    if !ok {
                        errors.push(src.err(
                            &a.span(),
                            format!(
                                "{ctx} author {s:?} must be a LinkedIn URN, \
                                 \"urn:li:person:ID\" or \"urn:li:organization:ID\""
                            ),
                        ));
                    }
                    s.clone()
                }
            };
            if let Some(v) = &raw.linkedin_version {
                let s = v.get_ref();
                let month = s.get(4..).and_then(|m| m.parse::<u8>().ok());
                let ok = s.len() == 6
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && month.is_some_and(|m| (1..=12).contains(&m));
                if !ok {
                    errors.push(src.err(
                        &v.span(),
                        format!("{ctx} linkedin_version {s:?} must be YYYYMM, like \"202611\""),
                    ));
                }
            }
            NetworkSettings::Linkedin(LinkedinSettings {
                oauth,
                author,
                linkedin_version: raw.linkedin_version.as_ref().map(|v| v.get_ref().clone()),
            })
        }
        Network::Facebook => {
            needs_token(errors);
            let page_id = match &raw.page_id {
                None => {
                    missing("page_id", "\"104857600123\"", errors);
                    String::new()
                }
                Some(p) => {
                    let s = p.get_ref();
                    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                        errors.push(src.err(
                            &p.span(),
                            format!(
                                "{ctx} page_id {s:?} must be the Page's numeric id, digits only"
                            ),
                        ));
                    }
                    s.clone()
                }
            };
            if let Some(v) = &raw.graph_version {
                let s = v.get_ref();
                let ok =
                    s.strip_prefix('v').and_then(|r| r.split_once('.')).is_some_and(|(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.bytes().all(|c| c.is_ascii_digit())
                            && b.bytes().all(|c| c.is_ascii_digit())
                    });
                if !ok {
                    errors.push(src.err(
                        &v.span(),
                        format!("{ctx} graph_version {s:?} must look like \"v25.0\""),
                    ));
                }
            }
            NetworkSettings::Facebook(FacebookSettings {
                oauth,
                page_id,
                graph_version: raw.graph_version.as_ref().map(|v| v.get_ref().clone()),
            })
        }
        Network::Webhook => {
            let allow_private = raw.allow_private.unwrap_or(false);
            let url = match &raw.url {
                None => {
                    missing("url", "\"https://blog.example.com/hooks/crieur\"", errors);
                    None
                }
                Some(u) => http_url(src, u, &format!("{ctx} url"), !allow_private, errors),
            };
            let secret_ref = match &raw.secret {
                None => {
                    missing("secret", "\"env:BLOG_WEBHOOK_SECRET\"", errors);
                    None
                }
                Some(s) => secret(src, s, "secret", dir, errors),
            };
            NetworkSettings::Webhook(WebhookSettings {
                url: url.unwrap_or_default(),
                secret: secret_ref?,
                allow_private,
            })
        }
        Network::Mastodon => NetworkSettings::Mastodon(crate::mastodon::settings(
            src,
            &ctx,
            &span,
            raw.instance.as_ref(),
            raw.visibility.as_ref(),
            oauth.access_token.clone(),
            errors,
        )?),
        Network::Bluesky => {
            let handle = match &raw.handle {
                None => {
                    missing("handle", "\"acme.bsky.social\"", errors);
                    None
                }
                Some(h) => crate::bluesky::handle(src, h, &format!("{ctx} handle"), errors),
            };
            let app_password = match &raw.app_password {
                None => {
                    missing("app_password", "\"env:BSKY_APP_PASSWORD\"", errors);
                    None
                }
                Some(s) => secret(src, s, "app_password", dir, errors),
            };
            NetworkSettings::Bluesky(BlueskySettings {
                handle: handle.unwrap_or_default(),
                app_password: app_password?,
                service: url_key(&raw.service, "service", errors),
            })
        }
    };
    Some(ChannelConfig {
        channel: Channel {
            name: name.to_owned(),
            network,
            timezone,
            cadence,
            max_length,
            location,
        },
        settings,
        metrics: raw.metrics.unwrap_or(true),
        keep_metadata,
    })
}

/// A positive integer, or an error at its place.
pub(crate) fn positive(
    src: &Src<'_>,
    v: Option<&Spanned<u32>>,
    ctx: &str,
    key: &str,
    errors: &mut Errors,
) -> Option<u32> {
    let v = v?;
    if *v.get_ref() == 0 {
        errors.push(src.err(&v.span(), format!("{ctx} {key} must be at least 1")));
        return None;
    }
    Some(*v.get_ref())
}

/// An `http(s)` URL with a host (only `https` when `https_only`), or an error at its place.
pub(crate) fn http_url(
    src: &Src<'_>,
    v: &Spanned<String>,
    what: &str,
    https_only: bool,
    errors: &mut Errors,
) -> Option<String> {
    let s = v.get_ref();
    let problem = match url::Url::parse(s) {
        Err(e) => Some(format!("is not a URL ({e})")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Some("must start with https:// (or http://)".to_owned())
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("has no host".to_owned()),
        Ok(u) if https_only && u.scheme() != "https" => Some(
            "must use https (set `allow_private = true` for a plain-http intranet or test endpoint)"
                .to_owned(),
        ),
        Ok(_) => None,
    };
    match problem {
        None => Some(s.clone()),
        Some(p) => {
            errors.push(src.err(&v.span(), format!("{what} {s:?} {p}")));
            None
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMention {
    name: Option<Spanned<String>>,
    x: Option<Spanned<String>>,
    linkedin: Option<Spanned<String>>,
    facebook: Option<Spanned<String>>,
    mastodon: Option<Spanned<String>>,
    bluesky: Option<Spanned<String>>,
}

fn mentions(
    src: &Src<'_>,
    value: Spanned<DeValue<'_>>,
    errors: &mut Errors,
) -> BTreeMap<String, Mention> {
    let mut out = BTreeMap::new();
    let Some((_, table)) = src.table(value, "[mentions]", errors) else {
        return out;
    };
    for (key, value) in table {
        let key_span = key.span();
        let key = key.into_inner().into_owned();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            errors.push(src.err(
                &key_span,
                format!(
                    "mention key {key:?} may only hold letters, digits and `_` (it is written \
                     `@{key}` in posts)"
                ),
            ));
            continue;
        }
        let ctx = format!("[mentions.{key}]");
        let span = value.span();
        let Some(raw) = src.de::<RawMention>(value, &format!("in {ctx}"), errors) else {
            continue;
        };
        let name = match raw.name {
            Some(n) if !n.get_ref().trim().is_empty() => n.into_inner(),
            _ => {
                errors
                    .push(src.err(&span, format!("{ctx} needs `name = \"...\"`, the plain name")));
                continue;
            }
        };
        let x = raw.x.and_then(|h| {
            let s = h.get_ref();
            let bare = s.strip_prefix('@').unwrap_or(s);
            if (1..=15).contains(&bare.len())
                && bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                Some(format!("@{bare}"))
            } else {
                errors.push(src.err(
                    &h.span(),
                    format!("{ctx} x {s:?} is not an X handle: 1 to 15 letters, digits or `_`, like \"@acme\""),
                ));
                None
            }
        });
        let linkedin = raw.linkedin.and_then(|u| {
            let s = u.get_ref();
            let ok = s.strip_prefix("urn:li:").and_then(|r| r.split_once(':')).is_some_and(
                |(kind, id)| !kind.is_empty() && !id.is_empty() && !s.contains(char::is_whitespace),
            );
            if ok {
                Some(s.clone())
            } else {
                errors.push(src.err(
                    &u.span(),
                    format!(
                        "{ctx} linkedin {s:?} is not a LinkedIn URN: write \
                         \"urn:li:organization:ID\" or \"urn:li:person:ID\""
                    ),
                ));
                None
            }
        });
        out.insert(
            key,
            Mention {
                name,
                x,
                linkedin,
                facebook: raw.facebook.map(Spanned::into_inner),
                mastodon: raw
                    .mastodon
                    .and_then(|v| crate::mastodon::account(src, &ctx, &v, errors)),
                bluesky: raw.bluesky.and_then(|h| {
                    crate::bluesky::handle(src, &h, &format!("{ctx} bluesky"), errors)
                }),
                location: src.loc(&span),
            },
        );
    }
    out
}

/// Splits `keys` out of `table`, returning them with their key spans.
pub(crate) fn take_keys<'i>(
    table: &mut DeTable<'i>,
    keys: &[&str],
) -> BTreeMap<String, (Range<usize>, Spanned<DeValue<'i>>)> {
    let mut out = BTreeMap::new();
    for k in keys {
        if let Some((key, value)) = table.remove_entry(*k) {
            out.insert((*k).to_owned(), (key.span(), value));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BASE: &str = r#"timezone = "Europe/Paris"

[channels.company-x]
network = "x"
cadence = ["Mon-Fri 09:15"]
access_token = "env:X_ACCESS_TOKEN"
"#;

    fn parse(text: &str) -> Result<Config, Errors> {
        parse_config(Path::new("c.toml"), text, &Env::default())
    }

    #[test]
    fn a_channel_may_keep_the_metadata_of_its_media() {
        let c = parse(&format!("{BASE}keep_metadata = true\n")).unwrap();
        assert!(c.channels["company-x"].keep_metadata);
        let out = errors(&format!("{BASE}keep_metadata = \"yes\"\n"));
        assert!(out.contains("c.toml:7:17: error:"), "{out}");
    }

    /// The errors of `text`, one per line.
    fn errors(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[track_caller]
    fn assert_has(out: &str, wanted: &str) {
        assert!(
            out.lines().any(|l| l.starts_with(wanted)),
            "wanted a line starting with\n  {wanted}\ngot\n{out}"
        );
    }

    #[test]
    fn the_spec_example_loads_with_every_value() {
        let text = r#"
timezone = "Europe/Paris"

[storage]
url = "sqlite://data/crieur.db?mode=rwc"
key = "credential:crieur-key"

[queue]
files = ["queue/*.toml"]
missed = "skip"
max_late = "1h30m"

[channels.company-x]
network = "x"
cadence = ["Mon-Fri 09:15", "Mon-Fri 17:30", "Sat 11:00"]
timezone = "America/New_York"
access_token = "env:X_ACCESS_TOKEN"
refresh_token = "credential:x-refresh"
client_id = "abc123"
api_base = "http://127.0.0.1:9000"
token_url = "https://api.x.com/2/oauth2/token"
max_length = 25000

[channels.company-linkedin]
network = "linkedin"
author = "urn:li:organization:2414183"
linkedin_version = "202611"
cadence = ["Tue,Thu 10:00"]
access_token = "env:LINKEDIN_TOKEN"

[channels.company-facebook]
network = "facebook"
page_id = "104857600123"
graph_version = "v25.0"
cadence = ["Wed 12:30", "cron:0 9 * * MON-FRI"]
access_token = "env:FB_PAGE_TOKEN"
client_id = "1234"
client_secret = "env:FB_APP_SECRET"

[channels.blog]
network = "webhook"
url = "https://blog.example.com/hooks/crieur"
secret = "env:BLOG_WEBHOOK_SECRET"
cadence = ["Mon 08:00"]

[mentions.acme]
name = "Acme"
x = "acme"
linkedin = "urn:li:organization:2414183"
"#;
        let env = Env { state_directory: Some(PathBuf::from("/var/lib/crieur")) };
        let c = parse_config(Path::new("conf/crieur.toml"), text, &env).unwrap();
        assert_eq!(c.dir, Path::new("conf"));
        assert_eq!(c.timezone_name, "Europe/Paris");
        assert_eq!(c.storage.url, "sqlite:///var/lib/crieur/data/crieur.db?mode=rwc");
        assert_eq!(c.storage.key, Some(SecretRef::Credential("crieur-key".into())));
        assert_eq!(c.queue.files, ["queue/*.toml"]);
        assert_eq!(c.queue.missed, Missed::Skip);
        assert_eq!(c.queue.max_late, jiff::SignedDuration::from_mins(90));
        assert_eq!(c.channels.len(), 4);
        let x = &c.channels["company-x"];
        assert_eq!(x.channel.network, Network::X);
        assert_eq!(x.channel.timezone.iana_name(), Some("America/New_York"));
        assert_eq!(x.channel.cadence.len(), 3);
        assert_eq!(x.channel.cadence[2].to_string(), "Sat 11:00");
        assert_eq!(x.channel.max_length, Some(25000));
        assert!(!x.keep_metadata, "metadata removed by default");
        assert_eq!(x.channel.location.to_string(), "conf/crieur.toml:13:1");
        let NetworkSettings::X(xs) = &x.settings else { panic!("x settings") };
        assert_eq!(xs.oauth.client_id.as_deref(), Some("abc123"));
        assert_eq!(xs.oauth.api_base.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(xs.oauth.refresh_token, Some(SecretRef::Credential("x-refresh".into())));
        let li = &c.channels["company-linkedin"];
        assert_eq!(li.channel.timezone.iana_name(), Some("Europe/Paris"));
        let NetworkSettings::Linkedin(ls) = &li.settings else { panic!("linkedin settings") };
        assert_eq!(ls.author, "urn:li:organization:2414183");
        assert_eq!(ls.linkedin_version.as_deref(), Some("202611"));
        let NetworkSettings::Facebook(fs) = &c.channels["company-facebook"].settings else {
            panic!()
        };
        assert_eq!(fs.page_id, "104857600123");
        assert_eq!(fs.oauth.client_secret, Some(SecretRef::Env("FB_APP_SECRET".into())));
        let NetworkSettings::Webhook(ws) = &c.channels["blog"].settings else { panic!() };
        assert_eq!(ws.url, "https://blog.example.com/hooks/crieur");
        assert_eq!(ws.secret, SecretRef::Env("BLOG_WEBHOOK_SECRET".into()));
        assert!(!ws.allow_private);
        let acme = &c.mentions["acme"];
        assert_eq!(acme.x.as_deref(), Some("@acme"));
        assert_eq!(acme.location.to_string(), "conf/crieur.toml:46:1");
    }

    #[test]
    fn defaults_for_storage_and_queue() {
        let c = parse_config(Path::new("crieur.toml"), BASE, &Env::default()).unwrap();
        let beside = std::path::absolute("crieur.db").unwrap();
        assert_eq!(c.storage.url, format!("sqlite://{}", beside.display()));
        assert_eq!(c.storage.key, None);
        assert_eq!(c.dir, Path::new("."));
        assert_eq!(c.queue.files, ["posts/*.toml", "posts/*.md"]);
        assert_eq!(c.queue.missed, Missed::PublishLate);
        assert_eq!(c.queue.max_late, jiff::SignedDuration::from_hours(2));
        let env = Env { state_directory: Some(PathBuf::from("/var/lib/crieur")) };
        let c = parse_config(Path::new("/etc/crieur/crieur.toml"), BASE, &env).unwrap();
        assert_eq!(c.storage.url, "sqlite:///var/lib/crieur/crieur.db");
        let pg = format!("{BASE}\n[storage]\nurl = \"postgres://crieur@db.internal/crieur\"\n");
        assert_eq!(parse(&pg).unwrap().storage.url, "postgres://crieur@db.internal/crieur");
        let mem = format!("{BASE}\n[storage]\nurl = \"sqlite::memory:\"\n");
        assert_eq!(parse(&mem).unwrap().storage.url, "sqlite::memory:");
    }

    #[test]
    fn database_urls_are_checked_without_echoing_them() {
        let out =
            errors(&format!("{BASE}\n[storage]\nurl = \"postgres://crieur:hunter2@db/crieur\"\n"));
        assert_has(&out, "c.toml:9:7: error: [storage] url: a password is written in the URL");
        assert!(!out.contains("hunter2"), "{out}");
        let out = errors(&format!("{BASE}\n[storage]\nurl = \"mysql://db/crieur\"\n"));
        assert_has(&out, "c.toml:9:7: error: [storage] url: unsupported database");
        let out = errors(&format!("{BASE}\n[storage]\nurl = \"sqlite://\"\n"));
        assert_has(&out, "c.toml:9:7: error: [storage] url: a SQLite URL needs a file name");
    }

    #[test]
    fn unknown_keys_in_every_table_are_placed() {
        let out = errors(&format!("zz = 1\n{BASE}"));
        assert_has(
            &out,
            "c.toml:1:1: error: unknown key `zz` at the top level; expected one of `timezone`",
        );
        let out = errors(&format!("{BASE}[storage]\nurl = \"sqlite://a.db\"\npath = \"x\"\n"));
        assert_has(
            &out,
            "c.toml:9:1: error: in [storage]: unknown key `path`; expected `url` or `key`",
        );
        let out = errors(&format!("{BASE}[queue]\nfile = [\"a\"]\n"));
        assert_has(
            &out,
            "c.toml:8:1: error: in [queue]: unknown key `file`; expected one of `files`, `missed`, `max_late`, `claim_lead_ms`",
        );
        let out = errors(&format!("{BASE}colour = \"blue\"\n"));
        assert_has(
            &out,
            "c.toml:7:1: error: unknown key `colour` in [channels.company-x]; x channels take `network`, `cadence`",
        );
        let out = errors(&format!("{BASE}[mentions.acme]\nname = \"Acme\"\nthreads = \"@acme\"\n"));
        assert_has(&out, "c.toml:9:1: error: in [mentions.acme]: unknown key `threads`");
        let out = errors(&format!("{BASE}[policy]\nmin_gapp = \"1h\"\n"));
        assert_has(
            &out,
            "c.toml:8:1: error: unknown key `min_gapp` in [policy]; expected one of `rules`",
        );
        assert!(out.contains("[policy.channels.NAME]"), "{out}");
        let out = errors(&format!("{BASE}[policy.x]\nmax_hashtag = 2\n"));
        assert_has(&out, "c.toml:8:1: error: unknown key `max_hashtag` in [policy.x]");
        let out = errors(&format!("{BASE}[policy.channels.company-x]\nquiet = \"1h\"\n"));
        assert_has(&out, "c.toml:8:1: error: unknown key `quiet` in [policy.channels.company-x]");
        let out = errors(&format!("{BASE}[policy]\nutm = {{ source = \"x\", term = \"y\" }}\n"));
        assert_has(&out, "c.toml:8:23: error: in [policy] utm: unknown key `term`");
    }

    #[test]
    fn a_key_of_another_network_says_which_network_takes_it() {
        let out = errors(&format!("{BASE}page_id = \"123\"\nsecret = \"env:S\"\n"));
        assert_has(
            &out,
            "c.toml:7:1: error: `page_id` is a key of facebook channels, and channel `company-x` is on x",
        );
        assert_has(&out, "c.toml:8:1: error: `secret` is a key of webhook channels");
        let out = errors(
            "timezone = \"UTC\"\n[channels.blog]\nnetwork = \"webhook\"\nurl = \"https://b.example/h\"\nsecret = \"env:S\"\naccess_token = \"env:T\"\n",
        );
        assert_has(
            &out,
            "c.toml:6:1: error: `access_token` is a key of x and facebook and linkedin and mastodon channels",
        );
    }

    #[test]
    fn zones_are_checked_and_named() {
        let out = errors("timezone = \"Europe/Pariss\"\n");
        assert_has(
            &out,
            "c.toml:1:12: error: unknown time zone \"Europe/Pariss\": write an IANA zone name like \"Europe/Paris\"",
        );
        let out = errors(&format!("{BASE}timezone = \"Mars/Olympus\"\n"));
        assert_has(&out, "c.toml:7:12: error: unknown time zone \"Mars/Olympus\"");
        let out = errors("[channels]\n");
        assert_has(&out, "c.toml:1:1: error: missing `timezone` at the top level");
    }

    #[test]
    fn a_bad_cadence_is_placed_at_its_string() {
        let text =
            BASE.replace(r#"["Mon-Fri 09:15"]"#, r#"["Mon-Fri 09:15", "Mo 10:00", "Tue 25:00"]"#);
        let out = errors(&text);
        assert_has(&out, "c.toml:5:29: error: [channels.company-x] cadence: unknown day \"Mo\"");
        assert_has(
            &out,
            "c.toml:5:41: error: [channels.company-x] cadence: time \"25:00\" is not HH:MM",
        );
    }

    #[test]
    fn a_literal_secret_is_refused_without_repeating_it() {
        let text = BASE.replace("env:X_ACCESS_TOKEN", "AAAAtoken-value-1234");
        let out = errors(&text);
        assert_has(
            &out,
            "c.toml:6:16: error: `access_token`: a secret is never written in the config: write `env:NAME`, `file:PATH` or `credential:NAME` and put the value there",
        );
        assert!(!out.contains("token-value"), "{out}");
        let out = errors(&format!("{BASE}[storage]\nkey = \"c2VjcmV0LWtleQ==\"\n"));
        assert_has(&out, "c.toml:8:7: error: `key`: a secret is never written in the config");
        assert!(!out.contains("c2VjcmV0"), "{out}");
        let out = errors(&BASE.replace("env:X_ACCESS_TOKEN", "env:"));
        assert_has(
            &out,
            "c.toml:6:16: error: `access_token`: secret reference `env:` needs a variable name",
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_secret_file_is_a_load_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("x-token");
        std::fs::write(&secret, "value\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = dir.path().join("crieur.toml");
        std::fs::write(&config, BASE.replace("env:X_ACCESS_TOKEN", "file:x-token")).unwrap();
        let out = load_config(&config).unwrap_err().to_string();
        let wanted = format!(
            "{}:6:16: error: `access_token`: secret file {} is accessible to group or others (mode 0644): run `chmod 600 {}`",
            config.display(),
            secret.display(),
            secret.display()
        );
        assert_has(&out, &wanted);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = load_config(&config).unwrap();
        let NetworkSettings::X(x) = &c.channels["company-x"].settings else { panic!() };
        assert_eq!(x.oauth.access_token, Some(SecretRef::File("x-token".into())));
        // A secret file that does not exist yet (CI) is not a load error.
        std::fs::remove_file(&secret).unwrap();
        assert!(load_config(&config).is_ok());
    }

    #[test]
    fn required_keys_per_network() {
        let out = errors("timezone = \"UTC\"\n[channels.a]\ncadence = []\n");
        assert_has(
            &out,
            "c.toml:2:1: error: [channels.a] needs `network = \"...\"`: one of `x`, `facebook`, `linkedin`, `webhook`",
        );
        let out = errors("timezone = \"UTC\"\n[channels.a]\nnetwork = \"myspace\"\n");
        assert_has(&out, "c.toml:3:11: error: [channels.a]: unknown network \"myspace\"");
        let out = errors("timezone = \"UTC\"\n[channels.a]\nnetwork = \"x\"\n");
        assert_has(
            &out,
            "c.toml:2:1: error: [channels.a] has no way to publish: add `access_token = \"env:NAME\"`, or `client_id` (then run `crieur auth a`)",
        );
        let out = errors(
            "timezone = \"UTC\"\n[channels.a]\nnetwork = \"x\"\naccess_token = \"env:T\"\nrefresh_token = \"env:R\"\n",
        );
        assert_has(&out, "c.toml:2:1: error: [channels.a]: `refresh_token` needs `client_id`");
        let out = errors(
            "timezone = \"UTC\"\n[channels.a]\nnetwork = \"linkedin\"\naccess_token = \"env:T\"\n",
        );
        assert_has(
            &out,
            "c.toml:2:1: error: [channels.a] needs `author`, like `author = \"urn:li:organization:2414183\"`",
        );
        let out = errors(
            "timezone = \"UTC\"\n[channels.a]\nnetwork = \"linkedin\"\naccess_token = \"env:T\"\nauthor = \"acme\"\nlinkedin_version = \"2026-11\"\n",
        );
        assert_has(&out, "c.toml:5:10: error: [channels.a] author \"acme\" must be a LinkedIn URN");
        assert_has(
            &out,
            "c.toml:6:20: error: [channels.a] linkedin_version \"2026-11\" must be YYYYMM",
        );
        let out = errors(
            "timezone = \"UTC\"\n[channels.a]\nnetwork = \"facebook\"\naccess_token = \"env:T\"\n",
        );
        assert_has(&out, "c.toml:2:1: error: [channels.a] needs `page_id`");
        let out = errors(
            "timezone = \"UTC\"\n[channels.a]\nnetwork = \"facebook\"\naccess_token = \"env:T\"\npage_id = \"my-page\"\ngraph_version = \"25\"\n",
        );
        assert_has(
            &out,
            "c.toml:5:11: error: [channels.a] page_id \"my-page\" must be the Page's numeric id",
        );
        assert_has(
            &out,
            "c.toml:6:17: error: [channels.a] graph_version \"25\" must look like \"v25.0\"",
        );
        let out = errors("timezone = \"UTC\"\n[channels.a]\nnetwork = \"webhook\"\n");
        assert_has(&out, "c.toml:2:1: error: [channels.a] needs `url`");
        assert_has(&out, "c.toml:2:1: error: [channels.a] needs `secret`");
        let out = errors(
            "timezone = \"UTC\"\n[channels.a]\nnetwork = \"webhook\"\nurl = \"http://10.0.0.2/h\"\nsecret = \"env:S\"\n",
        );
        assert_has(
            &out,
            "c.toml:4:7: error: [channels.a] url \"http://10.0.0.2/h\" must use https (set `allow_private = true`",
        );
        let ok = "timezone = \"UTC\"\n[channels.a]\nnetwork = \"webhook\"\nurl = \"http://127.0.0.1:8080/h\"\nsecret = \"env:S\"\nallow_private = true\n";
        assert!(parse(ok).is_ok());
        let out = errors("timezone = \"UTC\"\n[channels.\"a b\"]\nnetwork = \"x\"\n");
        assert_has(&out, "c.toml:2:11: error: channel name \"a b\" may only hold letters, digits");
    }

    #[test]
    fn wrong_types_are_placed() {
        let out = errors(&format!("{BASE}max_length = \"long\"\n"));
        assert_has(
            &out,
            "c.toml:7:14: error: in [channels.company-x]: invalid type: string \"long\"; expected u32",
        );
        let out = errors("timezone = 3\n");
        assert_has(
            &out,
            "c.toml:1:12: error: `timezone`: invalid type: integer `3`; expected a string",
        );
        let out = errors("timezone = \"UTC\"\nchannels = 3\n");
        assert_has(&out, "c.toml:2:12: error: [channels] must be a table, not a integer");
    }

    #[test]
    fn mentions_are_checked() {
        let out = errors(&format!(
            "{BASE}[mentions.acme]\nname = \"Acme\"\nx = \"@acme-corp\"\nlinkedin = \"acme\"\n[mentions.nobody]\nx = \"@n\"\n[mentions.\"a-b\"]\nname = \"A\"\n"
        ));
        assert_has(&out, "c.toml:9:5: error: [mentions.acme] x \"@acme-corp\" is not an X handle");
        assert_has(
            &out,
            "c.toml:10:12: error: [mentions.acme] linkedin \"acme\" is not a LinkedIn URN",
        );
        assert_has(&out, "c.toml:11:1: error: [mentions.nobody] needs `name = \"...\"`");
        assert_has(
            &out,
            "c.toml:13:11: error: mention key \"a-b\" may only hold letters, digits and `_`",
        );
    }

    #[test]
    fn the_claim_lead_is_whole_milliseconds_up_to_five_seconds() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.queue.claim_lead, std::time::Duration::from_millis(300), "the default");
        let c = parse(&format!("{BASE}[queue]\nclaim_lead_ms = 0\n")).unwrap();
        assert_eq!(c.queue.claim_lead, std::time::Duration::ZERO);
        let out = errors(&format!("{BASE}[queue]\nclaim_lead_ms = 9000\n"));
        assert_has(
            &out,
            "c.toml:8:17: error: [queue] claim_lead_ms = 9000: use a whole number of milliseconds \
             from 0 to 5000 (default 300)",
        );
        let out = errors(&format!("{BASE}[queue]\nclaim_lead_ms = -1\n"));
        assert_has(&out, "c.toml:8:17: error: [queue] claim_lead_ms = -1:");
    }

    #[test]
    fn durations_and_queue_values() {
        let out = errors(&format!(
            "{BASE}[queue]\nmax_late = \"2 hours\"\nmissed = \"later\"\nfiles = [\"posts/[.toml\"]\n"
        ));
        assert_has(
            &out,
            "c.toml:8:12: error: [queue] max_late: duration \"2 hours\" is not valid (unknown unit)",
        );
        assert_has(
            &out,
            "c.toml:9:10: error: [queue] missed = \"later\": use \"publish-late\" or \"skip\"",
        );
        assert_has(
            &out,
            "c.toml:10:10: error: [queue] files: \"posts/[.toml\" is not a valid glob",
        );
    }

    #[test]
    fn several_problems_are_reported_in_one_run() {
        let text = "timezone = \"Nowhere/Town\"\nbogus = 1\n[channels.a]\nnetwork = \"x\"\ncadence = [\"Someday 10:00\"]\naccess_token = \"plaintext\"\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.len(), 4, "{e}");
    }

    #[test]
    fn find_config_follows_the_search_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) =
            (dir.path().join("a.toml"), dir.path().join("b.toml"), dir.path().join("c.toml"));
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let cands = [c.clone(), b.clone()];
        assert_eq!(find_config_in(Some(&a), Some(b.clone().into()), &cands).unwrap(), a);
        assert_eq!(find_config_in(None, Some(a.clone().into()), &cands).unwrap(), a);
        assert_eq!(find_config_in(None, None, &cands).unwrap(), b);
        assert_eq!(find_config_in(None, Some(OsString::new()), &cands).unwrap(), b);
        let e = find_config_in(Some(&c), None, &cands).unwrap_err();
        assert!(e.to_string().contains("(given by --config) does not exist"), "{e}");
        let e = find_config_in(None, Some(c.clone().into()), &cands).unwrap_err();
        assert!(e.to_string().contains("$CRIEUR_CONFIG"), "{e}");
        let e = find_config_in(None, None, std::slice::from_ref(&c)).unwrap_err();
        assert!(e.to_string().starts_with("error: no config file found"), "{e}");
        // The real entry point honours an explicit path before anything else.
        assert_eq!(find_config(Some(&a)).unwrap(), a);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for text in [
            "[".repeat(10_000),
            format!("a = {}", "[".repeat(10_000)),
            format!("a = {}", "{b=".repeat(10_000)),
            format!("{} = 1", vec!["k"; 10_000].join(".")),
            format!("timezone = \"UTC\"\n[policy]\nrules = {}\"x\"", "{a=".repeat(200)),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(!e.is_empty());
        }
    }
}
