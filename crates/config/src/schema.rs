//! JSON Schemas (draft 2020-12) of `crieur.toml` and of a post file, for editors that check TOML
//! against JSON Schema (Taplo, Even Better TOML).
//!
//! The schemas are built from the definitions the parser itself walks, so they cannot drift from
//! it: the key tables (`TOP_KEYS`, the channel keys of each network, `LAYER_KEYS`, `POST_KEYS`,
//! `ARTICLE_KEYS`), [`Network::ALL`], [`RULE_IDS`] and the field names of the parser's
//! `deny_unknown_fields` structs (read by [`fields_of`]). What a key holds (its type, pattern,
//! allowed values and description) comes from [`spec`], one entry per key name; a key that the
//! parser takes without an entry still appears (so the schema never refuses what the parser
//! takes) and a unit test names it. Every table the parser checks key by key gets
//! `additionalProperties: false`.

use std::collections::BTreeSet;

use crieur_core::Network;
use crieur_policy::RULE_IDS;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{RawMention, RawQueue, RawStorage, TOP_KEYS, channel_keys};
use crate::policy::{LAYER_KEYS, RawUtm};
use crate::posts::{ARTICLE_KEYS, POST_KEYS, RawThreadItem, RawVariant};

/// The JSON Schema dialect of both schemas.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Which schema: `crieur schema config` or `crieur schema posts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// `crieur.toml`.
    Config,
    /// A post file (`posts/*.toml`), with the front matter of a Markdown article in `$defs`.
    Posts,
}

impl SchemaKind {
    /// The schema of this kind.
    pub fn schema(self) -> Value {
        match self {
            SchemaKind::Config => config_schema(),
            SchemaKind::Posts => posts_schema(),
        }
    }

    /// The schema as it is committed: pretty JSON ending with a newline.
    pub fn render(self) -> String {
        let mut s = serde_json::to_string_pretty(&self.schema()).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The file name the schema is committed under (`crieur.schema.json`, `posts.schema.json`).
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Config => "crieur.schema.json",
            SchemaKind::Posts => "posts.schema.json",
        }
    }
}

/// The JSON Schema of `crieur.toml`.
pub fn config_schema() -> Value {
    let mut defs = Map::new();
    defs.insert("storage".into(), table(Place::Storage, fields_of::<RawStorage>(), &[]));
    defs.insert("queue".into(), table(Place::Queue, fields_of::<RawQueue>(), &[]));
    defs.insert("channel".into(), channel());
    defs.insert("mention".into(), table(Place::Mention, fields_of::<RawMention>(), &["name"]));
    defs.insert("utm".into(), table(Place::Utm, fields_of::<RawUtm>(), &[]));
    defs.insert("rules".into(), rules());
    defs.insert("layer".into(), table(Place::Policy, LAYER_KEYS, &[]));
    defs.insert("policy".into(), policy());
    let mut root = table(Place::Top, TOP_KEYS, &["timezone"]);
    let head = json!({
        "$schema": DIALECT,
        "$id": "https://crieur.dev/schema/crieur.schema.json",
        "title": "crieur.toml",
        "description": "crieur's configuration: the team's zone, the database, the queue files, \
                        the channels with their cadences, the mentions and the publishing policy.",
        "$defs": defs,
    });
    merge(&mut root, head);
    root
}

/// The JSON Schema of a post file (`[[post]]` tables); `$defs/article` is the front matter of a
/// Markdown article.
pub fn posts_schema() -> Value {
    let mut defs = Map::new();
    defs.insert("post".into(), post(false));
    defs.insert("article".into(), post(true));
    defs.insert("variant".into(), table(Place::Variant, fields_of::<RawVariant>(), &[]));
    defs.insert(
        "thread_item".into(),
        table(Place::Thread, fields_of::<RawThreadItem>(), &["text"]),
    );
    json!({
        "$schema": DIALECT,
        "$id": "https://crieur.dev/schema/posts.schema.json",
        "title": "crieur post file",
        "description": "A file of crieur's queue: one `[[post]]` table per post.",
        "type": "object",
        "properties": {
            "post": {
                "description": "The posts of this file, in queue order: write each under `[[post]]`.",
                "type": "array",
                "items": { "$ref": "#/$defs/post" },
            },
        },
        "additionalProperties": false,
        "$defs": defs,
    })
}

/// Where a key is written: its meaning can depend on the table (`timezone` at the top level and
/// in a channel, `text` in a post and in a thread item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    Storage,
    Queue,
    Channel,
    Mention,
    Policy,
    Utm,
    Post,
    Article,
    Variant,
    Thread,
}

/// Every table and the keys the parser takes in it.
#[cfg(test)]
fn tables() -> Vec<(Place, Vec<&'static str>)> {
    vec![
        (Place::Top, TOP_KEYS.to_vec()),
        (Place::Storage, fields_of::<RawStorage>().to_vec()),
        (Place::Queue, fields_of::<RawQueue>().to_vec()),
        (Place::Channel, all_channel_keys()),
        (Place::Mention, fields_of::<RawMention>().to_vec()),
        (Place::Policy, LAYER_KEYS.to_vec()),
        (Place::Utm, fields_of::<RawUtm>().to_vec()),
        (Place::Post, POST_KEYS.to_vec()),
        (Place::Article, POST_KEYS.iter().chain(ARTICLE_KEYS).copied().collect()),
        (Place::Variant, fields_of::<RawVariant>().to_vec()),
        (Place::Thread, fields_of::<RawThreadItem>().to_vec()),
    ]
}

/// The keys of every network's channels, first seen first.
fn all_channel_keys() -> Vec<&'static str> {
    let mut seen = BTreeSet::new();
    Network::ALL.into_iter().flat_map(channel_keys).filter(|k| seen.insert(*k)).collect()
}

/// `(table, key)` of every key the parser takes that has no entry in [`spec`].
#[cfg(test)]
fn missing_specs() -> Vec<String> {
    tables()
        .into_iter()
        .flat_map(|(place, keys)| {
            keys.into_iter()
                .filter(move |k| spec(place, k).is_none())
                .map(move |k| format!("{place:?}.{k}"))
        })
        .collect()
}

/// A closed table of `keys`, each with its [`spec`].
fn table(place: Place, keys: &[&'static str], required: &[&str]) -> Value {
    let mut props = Map::new();
    for key in keys {
        props.insert((*key).to_owned(), key_schema(place, key));
    }
    let mut out = json!({ "type": "object", "properties": props, "additionalProperties": false });
    if !required.is_empty() {
        out["required"] = json!(required);
    }
    out
}

fn key_schema(place: Place, key: &str) -> Value {
    spec(place, key).unwrap_or_else(|| json!({ "description": format!("`{key}`") }))
}

/// A channel: `network` decides which keys the channel takes (`if`/`then` per network); every key
/// of every network is listed once so that an editor completes them.
fn channel() -> Value {
    let mut out = table(Place::Channel, &all_channel_keys(), &["network"]);
    let per_network: Vec<Value> = Network::ALL
        .into_iter()
        .map(|n| {
            let keys = channel_keys(n);
            let props: Map<String, Value> = keys.iter().map(|k| ((*k).to_owned(), json!(true))).collect();
            let mut then = json!({ "properties": props, "additionalProperties": false });
            let required = required_channel_keys(n);
            if !required.is_empty() {
                then["required"] = json!(required);
            }
            json!({
                "if": { "properties": { "network": { "const": n.as_str() } }, "required": ["network"] },
                "then": then,
            })
        })
        .collect();
    out["allOf"] = Value::Array(per_network);
    out
}

/// The keys a channel of `network` cannot do without (the parser says so at the channel's table).
fn required_channel_keys(network: Network) -> Vec<&'static str> {
    match network.as_str() {
        "linkedin" => vec!["author"],
        "facebook" => vec!["page_id"],
        "webhook" => vec!["url", "secret"],
        _ => Vec::new(),
    }
}

/// `[policy]`: a layer, plus one layer per network and per channel.
fn policy() -> Value {
    let mut out = table(Place::Policy, LAYER_KEYS, &[]);
    let props = out["properties"].as_object_mut();
    if let Some(props) = props {
        for n in Network::ALL {
            props.insert(
                n.as_str().to_owned(),
                json!({
                    "description": format!("The policy of {n} channels, over [policy]."),
                    "$ref": "#/$defs/layer",
                }),
            );
        }
        props.insert(
            "channels".into(),
            json!({
                "description": "The policy of one channel, over [policy] and its network's layer.",
                "type": "object",
                "additionalProperties": { "$ref": "#/$defs/layer" },
            }),
        );
    }
    out
}

/// `rules`: a severity per rule id, written quoted (`"hashtags.max" = "off"`) or as dotted keys
/// (`hashtags.max = "off"`, which TOML nests).
fn rules() -> Value {
    let severity = json!({ "enum": ["error", "warning", "off"] });
    let mut props = Map::new();
    let mut groups: std::collections::BTreeMap<&str, Map<String, Value>> = Default::default();
    for id in RULE_IDS {
        props.insert((*id).to_owned(), severity.clone());
        if let Some((group, rest)) = id.split_once('.') {
            groups.entry(group).or_default().insert(rest.to_owned(), severity.clone());
        }
    }
    for (group, inner) in groups {
        let nested =
            json!({ "type": "object", "properties": inner, "additionalProperties": false });
        let entry = match props.remove(group) {
            Some(leaf) => json!({ "anyOf": [leaf, nested] }),
            None => nested,
        };
        props.insert(group.to_owned(), entry);
    }
    json!({
        "description": "Severity per rule id: \"error\" blocks publishing, \"warning\" is shown, \
                        \"off\" silences the rule.",
        "type": "object",
        "properties": props,
        "additionalProperties": false,
    })
}

/// A `[[post]]` (or an article's front matter): the post keys, an override table per network, and
/// override tables named after channels (any other key, which must then be a table).
fn post(article: bool) -> Value {
    let mut keys: Vec<&'static str> = POST_KEYS.to_vec();
    if article {
        keys.extend(ARTICLE_KEYS);
    }
    let required: &[&str] =
        if article { &["id", "channels", "title"] } else { &["id", "channels"] };
    let mut out = table(if article { Place::Article } else { Place::Post }, &keys, required);
    if let Some(props) = out["properties"].as_object_mut() {
        for n in Network::ALL {
            props.insert(
                n.as_str().to_owned(),
                json!({
                    "description": format!("What changes on {n} channels (over the post's keys)."),
                    "$ref": "#/$defs/variant",
                }),
            );
        }
    }
    out["additionalProperties"] = json!({
        "description": "An override for the channel of this name.",
        "$ref": "#/$defs/variant",
    });
    out
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn pattern(description: &str, pattern: &str) -> Value {
    json!({ "type": "string", "description": description, "pattern": pattern })
}

fn url(description: &str) -> Value {
    pattern(description, "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+")
}

/// `env:NAME`, `file:PATH` or `credential:NAME`, as `SecretRef::parse` takes them.
fn secret(description: &str) -> Value {
    json!({
        "type": "string",
        "description": format!(
            "{description} A secret reference, never the secret itself: `env:NAME`, `file:PATH` \
             (mode 0600) or `credential:NAME` (systemd LoadCredential=)."
        ),
        "pattern": "^(env:[A-Za-z_][A-Za-z0-9_]*|file:.*\\S.*|credential:[^/\\\\\\s]+)$",
        "examples": ["env:NAME", "file:secrets/NAME", "credential:NAME"],
    })
}

/// A duration as `parse_duration` takes it: numbers with units d, h, m, s, largest first.
fn duration(description: &str) -> Value {
    let tail =
        |units: &[char]| units.iter().map(|u| format!("(\\s*[0-9]+{u})?")).collect::<String>();
    let alternatives: Vec<String> = ["d", "h", "m", "s"]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let rest: Vec<char> = ['d', 'h', 'm', 's'][i + 1..].to_vec();
            format!("[0-9]+{u}{}", tail(&rest))
        })
        .collect();
    json!({
        "type": "string",
        "description": format!("{description} A duration: numbers with units d, h, m, s, like \"90s\", \"30m\", \"2h\", \"7d\" or \"1h30m\"."),
        "pattern": format!("^\\s*({})\\s*$", alternatives.join("|")),
        "examples": ["30m", "2h", "7d", "1h30m"],
    })
}

/// Case-insensitive, as the parser reads day names (JSON Schema patterns have no `(?i)`).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `DAYS HH:MM` or `cron:EXPR`, as `Cadence::from_str` takes them.
fn cadence_pattern() -> String {
    let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .map(|d| any_case(d))
        .collect::<Vec<_>>()
        .join("|");
    let day = format!("({day})");
    let part = format!("{day}(-{day})?");
    let days = format!("({}|{part}(,{part})*)", any_case("daily"));
    format!("^\\s*(cron:.*\\S.*|{days}\\s+([01]?[0-9]|2[0-3]):[0-5][0-9])\\s*$")
}

const HH_MM: &str = "([01]?[0-9]|2[0-3]):[0-5][0-9]";

/// What `key` holds in `place`: type, allowed values and a description from the docs. `None` for
/// a key this table does not know (a unit test requires one for every key the parser takes).
fn spec(place: Place, key: &str) -> Option<Value> {
    use Place::*;
    let network_names: Vec<&str> = Network::ALL.iter().map(|n| n.as_str()).collect();
    Some(match (place, key) {
        (Top, "timezone") => string(
            "The team's IANA time zone, like \"Europe/Paris\": the default of channels and of \
             posts' fixed times. Required.",
        ),
        (Top, "storage") => {
            json!({ "description": "Where crieur keeps its state.", "$ref": "#/$defs/storage" })
        }
        (Top, "queue") => {
            json!({ "description": "Which files hold the posts, and what to do with a missed slot.", "$ref": "#/$defs/queue" })
        }
        (Top, "channels") => json!({
            "description": "The channels, by name (letters, digits, `-`, `_`): [channels.company-x].",
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z0-9_-]+$" },
            "additionalProperties": { "$ref": "#/$defs/channel" },
        }),
        (Top, "mentions") => json!({
            "description": "Who posts mention: `@KEY` in a post becomes the X handle, the LinkedIn \
                            mention of the URN, or the plain name on Facebook and blogs.",
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z0-9_]+$" },
            "additionalProperties": { "$ref": "#/$defs/mention" },
        }),
        (Top, "policy") => json!({
            "description": "The publishing conventions, overridable per network ([policy.x]) and \
                            per channel ([policy.channels.NAME]).",
            "$ref": "#/$defs/policy",
        }),
        (Top, "http") => json!({
            "description": "The daemon's read-only HTTP endpoint (/metrics, /healthz, \
                            /calendar.ics, /); off unless configured.",
            "type": "object",
            "properties": {
                "listen": string("The address to listen on, like \"127.0.0.1:9184\"."),
                "token": secret("The bearer token, required when `listen` is not a loopback address."),
            },
        }),
        (Top, "metrics") => json!({
            "description": "Engagement figures pulled back from the networks for `crieur report`.",
            "type": "object",
            "properties": {
                "collect": { "type": "boolean", "description": "Whether to collect them (default true)." },
                "after": { "type": "array", "items": duration("A snapshot this long after each publication."), "description": "When to take snapshots after each publication." },
            },
        }),

        (Storage, "url") => pattern(
            "The database: \"sqlite://crieur.db\" (relative to $STATE_DIRECTORY or the config's \
             folder; the default) or \"postgres://USER@HOST/DATABASE\" (several instances may share \
             it; no password in the URL).",
            "^(sqlite:|postgres://|postgresql://)",
        ),
        (Storage, "key") => secret(
            "The key that encrypts the OAuth tokens crieur stores: 32 random bytes in base64 \
             (`openssl rand -base64 32`).",
        ),

        (Queue, "files") => json!({
            "description": "Globs, relative to the config's folder, of the files that hold posts \
                            (default [\"posts/*.toml\", \"posts/*.md\"]).",
            "type": "array",
            "minItems": 1,
            "items": { "type": "string" },
        }),
        (Queue, "missed") => json!({
            "description": "A slot missed while the daemon was down: \"publish-late\" (within \
                            max_late, else skip; the default) or \"skip\" (the post takes the \
                            channel's next free slot).",
            "enum": ["publish-late", "skip"],
        }),
        (Queue, "max_late") => {
            duration("How late a missed slot may still be published (default 2h).")
        }
        (Queue, "claim_lead_ms") => json!({
            "description": "How many milliseconds before a due instant the daemon claims the \
                            delivery (the intent is committed), then waits for the instant and \
                            sends; never early (default 300).",
            "type": "integer",
            "minimum": 0,
            "maximum": 5000,
        }),

        (Channel, "network") => json!({
            "description": "The network this channel publishes to.",
            "enum": network_names,
        }),
        (Channel, "cadence") => json!({
            "description": "The channel's slots in its zone: \"Mon-Fri 09:15\", \"Tue,Thu 10:00\", \
                            \"daily 08:00\" or \"cron:0 9 * * MON-FRI\".",
            "type": "array",
            "items": { "type": "string", "pattern": cadence_pattern() },
        }),
        (Channel, "timezone") => string("The channel's IANA zone, over the top-level `timezone`."),
        (Channel, "max_length") => {
            json!({ "description": "The longest text this channel takes, below the network's limit.", "type": "integer", "minimum": 1 })
        }
        (Channel, "api_base") => url("The network's API base URL (proxies, tests; http allowed)."),
        (Channel, "token_url") => url("The OAuth token endpoint, over the network's."),
        (Channel, "authorize_url") => url("The OAuth authorization endpoint, over the network's."),
        (Channel, "client_id") => pattern(
            "The OAuth client id (with a refresh token, crieur refreshes the access token; `crieur auth NAME` runs the flow).",
            "\\S",
        ),
        (Channel, "client_secret") => secret("The OAuth client secret."),
        (Channel, "access_token") => secret("The access token (or stored by `crieur auth NAME`)."),
        (Channel, "refresh_token") => secret("The refresh token; needs `client_id`."),
        (Channel, "author") => pattern(
            "LinkedIn: who posts, \"urn:li:organization:ID\" or \"urn:li:person:ID\".",
            "^urn:li:(person|organization):\\S+$",
        ),
        (Channel, "linkedin_version") => {
            pattern("LinkedIn: the API version, YYYYMM.", "^[0-9]{4}(0[1-9]|1[0-2])$")
        }
        (Channel, "page_id") => pattern("Facebook: the Page's numeric id.", "^[0-9]+$"),
        (Channel, "graph_version") => {
            pattern("Facebook: the Graph API version, like \"v25.0\".", "^v[0-9]+\\.[0-9]+$")
        }
        (Channel, "url") => {
            url("Webhook: where events are sent; https unless `allow_private = true`.")
        }
        (Channel, "secret") => {
            secret("Webhook: the Standard Webhooks secret, \"whsec_\" + base64.")
        }
        (Channel, "allow_private") => json!({
            "description": "Webhook: allow plain http and private or loopback addresses (tests, intranets).",
            "type": "boolean",
        }),
        (Channel, "instance") => url("Mastodon: the server the account lives on."),
        (Channel | Post | Article | Variant, "visibility") => json!({
            "description": "Mastodon: who sees the post (a post's own wins over its channel's).",
            "enum": ["public", "unlisted", "private"],
        }),
        (Channel, "handle") => string("Bluesky: the account's handle, like \"acme.bsky.social\"."),
        (Channel, "app_password") => {
            secret("Bluesky: an app password, never the account password.")
        }
        (Channel, "service") => url("Bluesky: the account's PDS (default https://bsky.social)."),
        (Channel | Post | Article | Variant | Thread, "keep_metadata") => json!({
            "description": "Keep the metadata cameras write into images (EXIF, XMP, GPS); removed by default.",
            "type": "boolean",
        }),
        (Channel, "metrics") => {
            json!({ "description": "Whether to collect engagement figures for this channel.", "type": "boolean" })
        }

        (Mention, "name") => {
            pattern("The plain name (Facebook, blogs, and where no handle is given).", "\\S")
        }
        (Mention, "x") => pattern("The X handle, like \"@acme\".", "^@?[A-Za-z0-9_]{1,15}$"),
        (Mention, "linkedin") => pattern(
            "The LinkedIn URN, like \"urn:li:organization:2414183\".",
            "^urn:li:[^:\\s]+:\\S+$",
        ),
        (Mention, "facebook") => {
            string("The name used on Facebook (apps cannot tag Pages or people).")
        }
        (Mention, "mastodon") => string("The Mastodon account, like \"@acme@mastodon.social\"."),
        (Mention, "bluesky") => string("The Bluesky handle, like \"acme.bsky.social\"."),

        (Policy, "rules") => json!({ "$ref": "#/$defs/rules" }),
        (Policy, "min_gap") => duration("The least time between two posts on a channel."),
        (Policy, "max_per_day") => {
            json!({ "description": "The most posts a day on a channel.", "type": "integer", "minimum": 1 })
        }
        (Policy, "quiet_hours") => pattern(
            "Hours without posts, \"HH:MM-HH:MM\" in the channel's zone (may wrap midnight, like \"22:00-07:00\").",
            &format!("^\\s*{HH_MM}\\s*-\\s*{HH_MM}\\s*$"),
        ),
        (Policy, "max_silence") => duration("The longest a channel may go without a post."),
        (Policy, "duplicate_window") => {
            duration("How far back the same text counts as a duplicate.")
        }
        (Policy, "max_hashtags") => {
            json!({ "description": "The most hashtags in a text.", "type": "integer", "minimum": 0 })
        }
        (Policy, "hashtag_style") => json!({
            "description": "\"CamelCase\" (#DataEngineering) or \"any\".",
            "type": "string",
            "pattern": format!("^({}|{})$", any_case("camelcase"), any_case("any")),
            "examples": ["CamelCase", "any"],
        }),
        (Policy, "banned_hashtags") => json!({
            "description": "Hashtags never to use.",
            "type": "array",
            "items": { "type": "string", "pattern": "^#?\\S+$" },
        }),
        (Policy, "require_link_for") => json!({
            "description": "Categories whose posts must carry a link.",
            "type": "array",
            "items": { "type": "string", "pattern": "\\S" },
        }),
        (Policy, "mix") => json!({
            "description": "The least share of each category over `mix_window`, like { hr = 0.10 }.",
            "type": "object",
            "additionalProperties": { "type": "number", "minimum": 0, "maximum": 1 },
        }),
        (Policy, "mix_window") => duration("The window over which the mix is measured."),
        (Policy, "utm") => json!({
            "description": "UTM tags added to each post's link: false turns them off; a table \
                            changes the templates ({network}, {campaign}, {category}).",
            "anyOf": [ { "type": "boolean" }, { "$ref": "#/$defs/utm" } ],
        }),
        (Policy, "max_length") => {
            json!({ "description": "The longest text, below the network's limit.", "type": "integer", "minimum": 1 })
        }
        (Utm, "source") => string("utm_source (default \"{network}\")."),
        (Utm, "medium") => string("utm_medium (default \"social\")."),
        (Utm, "campaign") => {
            string("utm_campaign (default \"{campaign}\": the post's campaign, else its category).")
        }

        (Post | Article, "id") => pattern(
            "Stable and unique across all files (letters, digits, `_`, `.`, `-`): re-reading never duplicates.",
            "^[A-Za-z0-9_.-]{1,128}$",
        ),
        (Post | Article, "channels") => json!({
            "description": "The channels (names from [channels]) the post goes to.",
            "type": "array",
            "minItems": 1,
            "uniqueItems": true,
            "items": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$" },
        }),
        (Post | Article, "category") => {
            pattern("A free label; policy rules (mix, require_link_for) target it.", "\\S")
        }
        (Post | Article, "campaign") => pattern("The campaign: utm_campaign of the link.", "\\S"),
        (Post | Article | Variant | Thread, "text") => {
            string("The text; `{link}` marks where the link goes.")
        }
        (Post | Article | Variant, "link") => url(
            "A link, tagged with UTM per network; appended on X and LinkedIn, the preview card on Facebook.",
        ),
        (Post | Article, "at") => pattern(
            "A fixed time: \"2026-12-01 09:00\" in each channel's zone, or an instant with offset \
             \"2026-12-01T09:00:00+01:00\". Else the next free slot.",
            "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}",
        ),
        (Post | Article, "priority") => {
            json!({ "description": "Higher goes first into free slots (default 0).", "type": "integer" })
        }
        (Post | Article | Variant, "thread") => json!({
            "description": "Replies, in order ([[post.thread]]): published on X as a thread.",
            "type": "array",
            "items": { "$ref": "#/$defs/thread_item" },
        }),
        (Article, "title") => pattern("The article's title.", "\\S"),
        (Article, "slug") => {
            pattern("The article's slug (default: the file's name).", "^[A-Za-z0-9_.-]{1,128}$")
        }
        (Article, "tags") => {
            json!({ "description": "The article's tags.", "type": "array", "items": { "type": "string" } })
        }
        (Post | Article | Variant | Thread, "media") => json!({
            "description": "Images or a video: { path = \"media/a.jpg\", alt = \"...\" }, path relative to the post file.",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": string("The file, relative to the post file."),
                    "alt": string("What a screen reader reads."),
                },
                "required": ["path"],
            },
        }),
        (Post | Article | Variant, "lang") => pattern(
            "The post's language, like \"fr\" or \"pt-BR\": Mastodon's `language`, Bluesky's `langs`.",
            "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        ),
        (Post | Article | Variant, "card") => json!({
            "description": "The link card sent as written (Bluesky), instead of reading the link's page.",
            "type": "object",
            "properties": { "title": string("The card's title."), "description": string("The card's description.") },
            "required": ["title"],
            "additionalProperties": false,
        }),
        _ => return None,
    })
}

/// The field names of a serde struct, as `#[derive(Deserialize)]` declares them.
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(introspect::Introspect(&mut fields));
    fields
}

mod introspect {
    //! Hand-written because serde offers no other way to list a derived struct's fields: this
    //! deserializer only records the names that `deserialize_struct` is given, then fails.

    use serde::de::{Error as _, Visitor};
    use serde::forward_to_deserialize_any;

    pub(super) struct Introspect<'a>(pub &'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Introspect<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("fields recorded"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
