#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

/// The repository's `config/` folder: the example files and the committed schemas.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// TOML as the JSON an editor checks against the schema (date-times become strings, as Taplo
/// does).
fn to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}

fn toml_json(text: &str) -> Value {
    to_json(toml::Value::Table(toml::from_str(text).unwrap()))
}

/// A compiled schema: `kind`'s, or one of its `$defs`.
struct Checker {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Checker {
    fn new(kind: SchemaKind, def: Option<&str>) -> Self {
        let schema = kind.schema();
        let id = schema["$id"].as_str().unwrap().to_owned();
        let mut compiler = boon::Compiler::new();
        compiler.add_resource(&id, schema).unwrap();
        let mut schemas = boon::Schemas::new();
        let location = match def {
            Some(d) => format!("{id}#/$defs/{d}"),
            None => id,
        };
        let index = compiler.compile(&location, &mut schemas).unwrap();
        Checker { schemas, index }
    }

    fn check(&self, instance: &Value) -> Result<(), String> {
        self.schemas.validate(instance, self.index).map_err(|e| format!("{e:#}"))
    }
}

#[test]
fn every_key_the_parser_takes_has_a_schema_entry() {
    let missing = missing_specs();
    assert!(
        missing.is_empty(),
        "these keys are read by the parser but have no entry in schema.rs `spec` (add one, then \
         regenerate the committed schemas): {missing:?}"
    );
}

#[test]
fn the_field_names_of_a_raw_struct_are_read_from_its_derive() {
    assert_eq!(fields_of::<RawStorage>(), ["url", "key"]);
    assert_eq!(fields_of::<RawQueue>(), ["files", "missed", "max_late", "claim_lead_ms"]);
    assert!(fields_of::<RawThreadItem>().contains(&"text"));
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    // `CRIEUR_UPDATE_SCHEMAS=1 cargo test -p crieur-config` rewrites them (or
    // `cargo run -- schema config > config/schema/crieur.schema.json`, and `posts`).
    let update = std::env::var_os("CRIEUR_UPDATE_SCHEMAS").is_some_and(|v| v == "1");
    for kind in [SchemaKind::Config, SchemaKind::Posts] {
        let path = examples().join("schema").join(kind.file_name());
        let generated = kind.render();
        if update {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: the parser's keys changed. Regenerate it with \
             `CRIEUR_UPDATE_SCHEMAS=1 cargo test -p crieur-config schema` and commit it",
            path.display()
        );
    }
}

#[test]
fn both_schemas_are_valid_draft_2020_12() {
    for kind in [SchemaKind::Config, SchemaKind::Posts] {
        assert_eq!(kind.schema()["$schema"], DIALECT);
        // Compiling checks the schema against the draft's meta-schema.
        let _ = Checker::new(kind, None);
    }
}

#[test]
fn every_example_file_is_valid_against_its_schema_and_carries_the_directive() {
    let config = Checker::new(SchemaKind::Config, None);
    let text = std::fs::read_to_string(examples().join("crieur.toml")).unwrap();
    assert!(
        text.starts_with("#:schema ./schema/crieur.schema.json\n"),
        "config/crieur.toml starts with the Taplo directive"
    );
    config.check(&toml_json(&text)).unwrap();

    let posts = Checker::new(SchemaKind::Posts, None);
    let article = Checker::new(SchemaKind::Posts, Some("article"));
    let mut seen = 0;
    for entry in std::fs::read_dir(examples().join("posts")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // `posts/media/`: the pictures the posts carry.
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let result = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => {
                assert!(
                    text.starts_with("#:schema ../schema/posts.schema.json\n"),
                    "{} starts with the Taplo directive",
                    path.display()
                );
                posts.check(&toml_json(&text))
            }
            Some("md") => {
                let front = text.strip_prefix("+++\n").unwrap().split("\n+++\n").next().unwrap();
                article.check(&toml_json(front))
            }
            _ => continue,
        };
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 4, "every example post file was checked ({seen})");
}

const CONFIG: &str = r#"
timezone = "Europe/Paris"
[channels.company-x]
network = "x"
cadence = ["Mon-Fri 09:15", "tue,THU 10:00", "daily 8:00", "cron:0 9 * * MON-FRI"]
access_token = "env:X_TOKEN"
[channels.blog]
network = "webhook"
url = "https://blog.example.com/h"
secret = "file:secrets/blog"
[policy]
min_gap = "1h 30m"
rules = { "hashtags.max" = "off", regularity.min_gap = "warning", length = "error" }
[policy.channels.blog]
utm = false
"#;

#[test]
fn a_misspelt_key_and_a_wrong_type_are_refused_in_the_config() {
    let config = Checker::new(SchemaKind::Config, None);
    config.check(&toml_json(CONFIG)).unwrap();
    // The parser takes it too.
    crate::config::parse_config(Path::new("c.toml"), CONFIG, &Default::default()).unwrap();

    let refused = |text: &str, wanted: &str| {
        let e = config.check(&toml_json(text)).unwrap_err();
        assert!(e.contains(wanted), "{wanted:?} in {e}");
        assert!(
            crate::config::parse_config(Path::new("c.toml"), text, &Default::default()).is_err(),
            "the parser refuses it as well: {text}"
        );
    };
    refused(&CONFIG.replace("timezone =", "timezon ="), "timezon");
    refused(&CONFIG.replace("cadence =", "cadense ="), "cadense");
    refused(&CONFIG.replace("min_gap =", "min_gapp ="), "min_gapp");
    refused(&format!("{CONFIG}max_hashtags = \"three\"\n"), "want integer");
    refused(
        &CONFIG.replace("network = \"x\"", "network = \"myspace\""),
        "/channels/company-x/network",
    );
    refused(&CONFIG.replace("env:X_TOKEN", "AAAA-plain-token"), "AAAA-plain-token");
    refused(&CONFIG.replace("Mon-Fri 09:15", "Mo 09:15"), "Mo 09:15");
    refused(&CONFIG.replace("\"1h 30m\"", "\"90 minutes\""), "90 minutes");
    refused(&CONFIG.replace("\"off\"", "\"fatal\""), "/policy/rules/hashtags.max");
    // A key of another network.
    refused(&CONFIG.replace("secret = \"file:", "page_id = \"1\"\nsecret = \"file:"), "page_id");
}

#[test]
fn a_misspelt_key_and_a_wrong_type_are_refused_in_a_post_file() {
    let posts = Checker::new(SchemaKind::Posts, None);
    let post = "[[post]]\nid = \"a\"\nchannels = [\"company-x\"]\ntext = \"Hello\"\nat = 2026-12-01T09:00:00+01:00\n\
                [post.x]\ntext = \"Hi\"\n[[post.thread]]\ntext = \"2/\"\n";
    posts.check(&toml_json(post)).unwrap();
    let refused = |text: &str, wanted: &str| {
        let e = posts.check(&toml_json(text)).unwrap_err();
        assert!(e.contains(wanted), "{wanted:?} in {e}");
    };
    refused(&post.replace("text = \"Hello\"", "txt = \"Hello\""), "txt");
    refused(&post.replace("channels = [\"company-x\"]", "channels = \"company-x\""), "want array");
    refused(&post.replace("id = \"a\"", "id = \"a b\""), "a b");
    refused(&post.replace("id = \"a\"\n", "id = \"a\"\npriority = \"high\"\n"), "want integer");
    refused(&format!("posts = 1\n{post}"), "posts");
    refused(&post.replace("[post.x]\ntext", "[post.x]\ntexte"), "texte");
}

#[test]
fn the_cadence_and_duration_patterns_agree_with_the_parsers() {
    let cadence = regex_of(&cadence_pattern());
    for s in ["Mon-Fri 09:15", "tue,thu 10:00", "DAILY 8:00", "Sat-Mon 23:59", "cron:0 9 * * *"] {
        assert!(cadence(s), "{s}");
        assert!(s.parse::<crieur_core::Cadence>().is_ok(), "{s}");
    }
    for s in ["Mo 09:15", "Mon 24:00", "Mon 9:5", "Mon-Fri", "daily 08:00 extra", "cron:"] {
        assert!(!cadence(s), "{s}");
        assert!(s.parse::<crieur_core::Cadence>().is_err(), "{s}");
    }
    let pattern = duration("")["pattern"].as_str().unwrap().to_owned();
    let dur = regex_of(&pattern);
    for s in ["90s", "1h30m", "1h 30m", "7d", "0s", "1d2h3m4s"] {
        assert!(dur(s), "{s}");
        assert!(crate::parse_duration(s).is_ok(), "{s}");
    }
    for s in ["", "2", "2 hours", "30m1h", "1h1h", "-1h"] {
        assert!(!dur(s), "{s}");
        assert!(crate::parse_duration(s).is_err(), "{s}");
    }
}

/// Whether `s` matches `pattern`, checked by the validator itself.
fn regex_of(pattern: &str) -> impl Fn(&str) -> bool + use<> {
    let schema = serde_json::json!({ "$schema": DIALECT, "type": "string", "pattern": pattern });
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("urn:pattern", schema).unwrap();
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile("urn:pattern", &mut schemas).unwrap();
    move |s: &str| schemas.validate(&Value::String(s.to_owned()), index).is_ok()
}
