//! crieur's configuration (`crieur.toml`) and queue files (`posts/*.toml`, `posts/*.md`).
//!
//! This crate turns files into domain values and nothing else: it reads TOML with spans so that
//! every error names `path:line:col` and says what to change, rejects unknown keys, and refuses
//! hostile input (huge, binary, invalid UTF-8, deeply nested) with an error instead of a panic.
//! Secrets stay references ([`SecretRef`]) until an adapter needs them.

mod types;

pub use types::*;
