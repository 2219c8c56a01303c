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
use crate::source::{Src, as_value, list, read_source};
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
    &["timezone", "storage", "queue", "channels", "mentions", "policy"];

/// Parses the text of a config file read from `path`.
pub(crate) fn parse_config(path: &Path, text: &str, env: &Env) -> Result<Config, Errors> {
    let src = Src::new(path, text);
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
struct RawStorage {
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
struct RawQueue {
    files: Option<Spanned<Vec<Spanned<String>>>>,
    missed: Option<Spanned<String>>,
    max_late: Option<Spanned<String>>,
}

fn queue(
    src: &Src<'_>,
    value: Option<Spanned<DeValue<'_>>>,
    errors: &mut Errors,
) -> Option<QueueSettings> {
    let raw = match value {
        Some(v) => src.de::<RawQueue>(v, "in [queue]", errors)?,
        None => RawQueue { files: None, missed: None, max_late: None },
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
    Some(QueueSettings { files, missed, max_late })
}

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

const COMMON_KEYS: &[&str] = &["network", "cadence", "timezone", "max_length"];
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

/// The keys a channel of `network` takes.
fn channel_keys(network: Network) -> Vec<&'static str> {
    let own: &[&[&str]] = match network {
        Network::X => &[OAUTH_KEYS],
        Network::Linkedin => &[OAUTH_KEYS, LINKEDIN_KEYS],
        Network::Facebook => &[OAUTH_KEYS, FACEBOOK_KEYS],
        Network::Webhook => &[WEBHOOK_KEYS],
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
struct RawMention {
    name: Option<Spanned<String>>,
    x: Option<Spanned<String>>,
    linkedin: Option<Spanned<String>>,
    facebook: Option<Spanned<String>>,
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
