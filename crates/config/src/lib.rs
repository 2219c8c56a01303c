//! crieur's configuration (`crieur.toml`) and queue files (`posts/*.toml`, `posts/*.md`).
//!
//! This crate turns files into domain values and nothing else: it reads TOML with spans so that
//! every error names `path:line:col` and says what to change, rejects unknown keys, and refuses
//! hostile input (huge, binary, invalid UTF-8, deeply nested) with an error instead of a panic.
//! Secrets stay references ([`SecretRef`]) until an adapter needs them.
//!
//! Design: each file is parsed once into toml's spanned document tree; each table is then checked
//! key by key (so one run reports every unknown key, with its place) and deserialized into private
//! raw structs (`deny_unknown_fields`, `Spanned` values) that are converted, with checks, into the
//! public types of [`types`](crate::Config). Loading collects every problem into [`Errors`] rather
//! than stopping at the first.
//!
//! The `[policy]` and `[mentions]` settings ([`PolicyConfig`], [`Mention`]) and the rule ids
//! ([`RULE_IDS`]) belong to the policy crate, which gives them their meaning: this crate parses
//! into them and re-exports them.

mod bluesky;
mod compose;
mod config;
mod duration;
mod error;
mod http;
mod mastodon;
mod metrics;
mod policy;
mod posts;
mod schema;
mod secret;
mod source;
mod types;

#[cfg(test)]
mod tests;

pub use compose::{Added, NewPost, NewPostError, add_post, default_file, slug, unique_id};
pub use config::{find_config, load_config};
pub use crieur_policy::RULE_IDS;
pub use duration::{DurationError, parse_duration};
pub use error::{ConfigError, Errors};
pub use http::HttpSettings;
pub use posts::{
    MAX_POST_FILES, MAX_POSTS, PostSource, load_posts, post_sources, queue_files, read_post_file,
    read_posts,
};
pub use schema::{DIALECT, SchemaKind, config_schema, posts_schema};
pub use secret::SecretError;
pub use source::MAX_FILE_BYTES;
pub use types::*;
