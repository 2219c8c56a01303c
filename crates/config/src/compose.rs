//! `crieur new`: a post appended to a queue file, the file's own bytes left as they were.
//!
//! The new `[[post]]` is rendered by `toml_edit` (so quoting and escaping are TOML's own) and
//! appended after the file's last byte: comments, blank lines and layout above it stay byte for
//! byte. Before anything is written, the whole new text is read back by the same post reader as
//! `validate` (the new post must be well formed, its channels known, its `at` readable); then it
//! goes to a temporary file beside the target, which is renamed over it, so a crash never leaves
//! a half-written file.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crieur_core::{Location, Post};
use unicode_normalization::UnicodeNormalization as _;

use crate::error::Errors;
use crate::posts::{Ctx, Reader, is_post_id};
use crate::source::read_source;
use crate::types::Config;

/// What `crieur new` adds.
#[derive(Debug, Clone, Default)]
pub struct NewPost {
    /// The id to use; `None` makes one from the text.
    pub id: Option<String>,
    /// The channels (at least one).
    pub channels: Vec<String>,
    /// `category`.
    pub category: Option<String>,
    /// `at`, as written on the command line.
    pub at: Option<String>,
    /// The text.
    pub text: String,
}

/// Where the post went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Its id.
    pub id: String,
    /// The file it was appended to, at the line of its `[[post]]`.
    pub location: Location,
}

/// Why a post could not be added. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NewPostError {
    /// No channel given.
    #[error("a post needs at least one channel: add --channel NAME")]
    NoChannel,
    /// The text is empty.
    #[error("the text is empty: give the post's text (or `-` to read it from standard input)")]
    EmptyText,
    /// `--id` is not an id.
    #[error("post id {0:?} may only hold letters, digits, `_`, `.` and `-` (1 to 128)")]
    BadId(String),
    /// `--id` names a post that exists.
    #[error("post id `{id}` is already used at {at}: choose another --id, or leave it out")]
    IdExists {
        /// The id.
        id: String,
        /// Where it is used.
        at: Location,
    },
    /// The target is not a `.toml` file.
    #[error("{}: posts are added to a .toml file; give --file posts/NAME.toml", .0.display())]
    NotToml(PathBuf),
    /// The queue's first glob matches nothing and cannot name a file.
    #[error(
        "no file matches [queue] files {0:?} and it cannot name one: give --file posts/NAME.toml"
    )]
    NoFile(String),
    /// The target file cannot be read.
    #[error("cannot read the post file")]
    Read(#[source] Errors),
    /// The post (or the file with it) would not load.
    #[error("the post would not be valid, so nothing was written:\n{0}")]
    Invalid(Errors),
    /// The file cannot be written.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The readable id a text gets: its first words, lower case, accents removed, joined by `-` (at
/// most 6 words and 48 characters); `post` when the text has no letter or digit.
pub fn slug(text: &str) -> String {
    let plain: String =
        text.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect();
    let mut out = String::new();
    let words = plain
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        // Hashtags and mentions lose their sign but keep their word; URLs' pieces are noise.
        .filter(|w| !matches!(*w, "http" | "https" | "www"))
        .take(6);
    for w in words {
        if !out.is_empty() && out.len() + 1 + w.len() > 48 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w.to_ascii_lowercase().chars().take(48).collect::<String>());
    }
    if out.is_empty() { "post".to_owned() } else { out }
}

/// `base`, or `base-2`, `base-3`... : the first not in `taken`.
pub fn unique_id(base: &str, taken: &BTreeSet<&str>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !taken.contains(id.as_str())).unwrap_or_default()
}

/// The file `crieur new` writes to without `--file`: the last file (by path) that the queue's
/// first glob matches, else the file that glob names with `*` read as `queue`
/// (`posts/*.toml` -> `posts/queue.toml`).
///
/// # Errors
/// [`NewPostError::NoFile`] when no file matches and the glob cannot name one.
pub fn default_file(config: &Config) -> Result<PathBuf, NewPostError> {
    let first = config.queue.files.first().cloned().unwrap_or_default();
    let full = config.dir.join(&first);
    let mut matches: Vec<PathBuf> = full
        .to_str()
        .and_then(|p| glob::glob(p).ok())
        .map(|paths| paths.flatten().filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    matches.sort();
    if let Some(last) = matches.pop() {
        return Ok(last);
    }
    let named = first.replacen('*', "queue", 1);
    if named.contains(['*', '?', '[', ']', '{', '}']) || !named.ends_with(".toml") {
        return Err(NewPostError::NoFile(first));
    }
    Ok(config.dir.join(named))
}

/// Appends `new` to `file` (created when missing) as a `[[post]]`, checked first; `posts` is the
/// queue as loaded (for the ids in use).
///
/// # Errors
/// [`NewPostError`]: a bad or taken id, no channel, an empty text, a target that is not `.toml`,
/// a post that would not load (an unknown channel, an unreadable `at`: nothing is written then),
/// or a file that cannot be read or written.
pub fn add_post(
    config: &Config,
    posts: &[Post],
    file: &Path,
    new: &NewPost,
) -> Result<Added, NewPostError> {
    if new.channels.is_empty() {
        return Err(NewPostError::NoChannel);
    }
    let text = new.text.trim_end_matches(['\n', '\r']);
    if text.trim().is_empty() {
        return Err(NewPostError::EmptyText);
    }
    if file.extension().and_then(|e| e.to_str()) != Some("toml") {
        return Err(NewPostError::NotToml(file.to_owned()));
    }
    let taken: BTreeSet<&str> = posts.iter().map(|p| p.id.as_str()).collect();
    let id = match &new.id {
        Some(id) if !is_post_id(id) => return Err(NewPostError::BadId(id.clone())),
        Some(id) => {
            if let Some(p) = posts.iter().find(|p| &p.id == id) {
                return Err(NewPostError::IdExists { id: id.clone(), at: p.location.clone() });
            }
            id.clone()
        }
        None => unique_id(&slug(text), &taken),
    };

    let before = if file.exists() {
        read_source(file).map_err(|e| NewPostError::Read(e.into()))?
    } else {
        String::new()
    };
    let rendered = render(&id, new, text);
    let separator = match before.as_str() {
        "" => "",
        s if s.ends_with("\n\n") => "",
        s if s.ends_with('\n') => "\n",
        _ => "\n\n",
    };
    let after = format!("{before}{separator}{rendered}");
    let line = after[..before.len() + separator.len()].lines().count() + 1;

    // Read back as `validate` would: every post of the file, the new one included.
    let ctx = Ctx { channels: config.channels.keys().cloned().collect() };
    let mut reader = Reader {
        posts: Vec::new(),
        ids: Default::default(),
        errors: Errors::default(),
        limit: crate::MAX_POSTS,
        deferred: None,
    };
    reader.file(file, &after, 0, &ctx);
    if !reader.errors.is_empty() {
        return Err(NewPostError::Invalid(reader.errors));
    }
    write_atomically(file, after.as_bytes())
        .map_err(|source| NewPostError::Write { path: file.to_owned(), source })?;
    Ok(Added { id, location: Location::new(file, u32::try_from(line).unwrap_or(u32::MAX), 1) })
}

/// The `[[post]]` table, as toml_edit writes it.
fn render(id: &str, new: &NewPost, text: &str) -> String {
    use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
    let mut t = Table::new();
    t["id"] = value(id);
    t["channels"] = value(new.channels.iter().map(String::as_str).collect::<toml_edit::Array>());
    if let Some(c) = &new.category {
        t["category"] = value(c.as_str());
    }
    if let Some(at) = &new.at {
        t["at"] = value(at.as_str());
    }
    t["text"] = value(text);
    let mut posts = ArrayOfTables::new();
    posts.push(t);
    let mut doc = DocumentMut::new();
    doc.insert("post", Item::ArrayOfTables(posts));
    doc.to_string()
}

/// Writes `bytes` to a temporary file beside `path`, flushed to disk, then renames it over
/// `path` (keeping an existing file's permissions): readers see the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".crieur-new-").tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    match std::fs::metadata(path) {
        Ok(m) => tmp.as_file().set_permissions(m.permissions())?,
        Err(_) => new_file_mode(tmp.as_file())?,
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A new post file is readable by all, like any file an editor creates (a temporary file is
/// private).
#[cfg(unix)]
fn new_file_mode(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_mode(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_is_the_first_words_plain_and_lower_case() {
        assert_eq!(
            slug("Sève 3.0 is out: column-level lineage, and more"),
            "seve-3-0-is-out-column"
        );
        assert_eq!(slug("Welcome to the six people who joined!"), "welcome-to-the-six-people-who");
        assert_eq!(slug("#Hiring @acme https://x.example/a"), "hiring-acme-x-example-a");
        assert_eq!(slug("🎉 !!!"), "post");
        assert!(slug(&"a".repeat(300)).len() <= 48);
        assert!(is_post_id(&slug("Überraschung für alle, ça va?")));
    }

    #[test]
    fn an_id_in_use_gets_the_next_free_number() {
        let taken: BTreeSet<&str> = ["hello", "hello-2"].into_iter().collect();
        assert_eq!(unique_id("hello", &taken), "hello-3");
        assert_eq!(unique_id("bye", &taken), "bye");
    }

    #[test]
    fn the_rendered_post_is_well_formed_toml_whatever_the_text() {
        let new = NewPost {
            channels: vec!["company-x".into()],
            at: Some("2026-12-01 09:00".into()),
            text: "Quotes \" and \\ and\nnew lines \"\"\" too".into(),
            ..NewPost::default()
        };
        let out = render("an-id", &new, &new.text);
        let back: toml::Table = toml::from_str(&out).unwrap();
        let post = &back["post"][0];
        assert_eq!(post["text"].as_str(), Some(new.text.as_str()));
        assert_eq!(post["id"].as_str(), Some("an-id"));
        assert_eq!(post["at"].as_str(), Some("2026-12-01 09:00"));
    }
}
