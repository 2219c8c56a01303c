//! Reading files defensively, and turning TOML spans into `path:line:col`.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::Path;

use crieur_core::Location;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{ConfigError, Errors};

/// The largest config or post file crieur reads: 8 MiB. Real files are a few kilobytes; the bound
/// keeps a mistaken glob (a video, a database) from being loaded into memory.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads `path` as UTF-8 text, refusing files over [`MAX_FILE_BYTES`], invalid UTF-8 and NUL bytes.
///
/// The size is checked before reading, and the read is bounded too (the file may grow, or be a
/// device that reports no size).
pub(crate) fn read_source(path: &Path) -> Result<String, ConfigError> {
    let shown = path.display();
    // Look before opening: opening a FIFO (or a device) would block until a writer comes.
    let kind = std::fs::metadata(path)
        .map_err(|e| ConfigError::general(format!("cannot open {shown}: {e}")))?;
    if kind.is_dir() {
        return Err(ConfigError::general(format!("{shown} is a folder, not a file")));
    }
    if !kind.is_file() {
        return Err(ConfigError::general(format!(
            "{shown} is not a regular file (a pipe, socket or device): point crieur at a text file"
        )));
    }
    let file =
        File::open(path).map_err(|e| ConfigError::general(format!("cannot open {shown}: {e}")))?;
    let meta =
        file.metadata().map_err(|e| ConfigError::general(format!("cannot read {shown}: {e}")))?;
    let too_big = || {
        ConfigError::general(format!(
            "{shown} is larger than {} MiB: crieur refuses it; config and post files are small text files, \
             so check that this path is the one you meant",
            MAX_FILE_BYTES / (1024 * 1024)
        ))
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::general(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    decode(path, bytes)
}

/// Checks that `bytes` are UTF-8 text without NUL bytes; the error names the first bad byte's place.
pub(crate) fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, ConfigError> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            // The prefix up to `at` is valid by construction.
            let prefix = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
            return Err(ConfigError::at(
                Location::from_offset(path, prefix, at),
                format!(
                    "not UTF-8 text (invalid byte at offset {at}): save the file as UTF-8, or check that \
                     it is a text file"
                ),
            ));
        }
    };
    if let Some(at) = text.find('\0') {
        return Err(ConfigError::at(
            Location::from_offset(path, &text, at),
            format!(
                "NUL byte at offset {at}: this looks like a binary file, not TOML or Markdown text"
            ),
        ));
    }
    Ok(text)
}

/// Byte offset to line and column in bounded time.
///
/// `Location::from_offset` scans from the start of the text, which is quadratic over the many
/// spans of a large file (100,000 posts). This index keeps a checkpoint (offset, line, column) every
/// [`LineIndex::STEP`] bytes, so each lookup walks at most that far; it gives the same answer.
pub(crate) struct LineIndex {
    checkpoints: Vec<(usize, u32, u32)>,
}

impl LineIndex {
    const STEP: usize = 64;

    pub fn new(text: &str) -> Self {
        let mut checkpoints = vec![(0, 1, 1)];
        let (mut at, mut line, mut col) = (0, 1, 1);
        loop {
            let mut next = at + Self::STEP;
            if next >= text.len() {
                break;
            }
            while !text.is_char_boundary(next) {
                next += 1;
            }
            (line, col) = Self::advance(&text[at..next], line, col);
            checkpoints.push((next, line, col));
            at = next;
        }
        Self { checkpoints }
    }

    /// Line and column (1-based, columns in characters) of byte `offset` of `text`, clamped to
    /// the text and to a character boundary before it.
    pub fn line_col(&self, text: &str, offset: usize) -> (u32, u32) {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let i = self.checkpoints.partition_point(|c| c.0 <= end).saturating_sub(1);
        let (start, line, col) = self.checkpoints.get(i).copied().unwrap_or((0, 1, 1));
        Self::advance(text.get(start..end).unwrap_or_default(), line, col)
    }

    /// Line and column after `segment`, from `line` and `col` at its start: whole-slice counts
    /// (newline bytes, then the characters after the last one) rather than a step per character.
    fn advance(segment: &str, line: u32, col: u32) -> (u32, u32) {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        match segment.rfind('\n') {
            Some(last) => {
                let newlines = segment.bytes().filter(|&b| b == b'\n').count();
                (
                    line.saturating_add(count(newlines)),
                    count(segment[last + 1..].chars().count()).saturating_add(1),
                )
            }
            None => (line, col.saturating_add(count(segment.chars().count()))),
        }
    }
}

/// A text being parsed: turns byte spans into locations. `base` is added to every span (Markdown
/// front matter is parsed on its own but located in the whole file).
#[derive(Clone, Copy)]
pub(crate) struct Src<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub base: usize,
    pub index: &'a LineIndex,
}

impl<'a> Src<'a> {
    pub fn new(path: &'a Path, text: &'a str, index: &'a LineIndex) -> Self {
        Self { path, text, base: 0, index }
    }

    /// The location of the start of `span`.
    pub fn loc(&self, span: &Range<usize>) -> Location {
        let (line, col) = self.index.line_col(self.text, self.base + span.start);
        Location::new(self.path, line, col)
    }

    /// An error at the start of `span`.
    pub fn err(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.loc(span), message)
    }

    /// A TOML syntax or shape error, placed at its span (or `fallback`), with `context` in front.
    pub fn toml_err(
        &self,
        e: &toml::de::Error,
        fallback: Option<&Range<usize>>,
        context: &str,
    ) -> ConfigError {
        let message = e
            .message()
            .trim()
            .replacen("unknown field", "unknown key", 1)
            .replacen("missing field", "missing key", 1)
            .replace(", expected", "; expected");
        let message = if context.is_empty() { message } else { format!("{context}: {message}") };
        match e.span().as_ref().or(fallback) {
            Some(span) => self.err(span, message),
            None => ConfigError::general(format!(
                "{}: {message} (the TOML nests too deeply, or is malformed)",
                self.path.display()
            )),
        }
    }

    /// Parses the text (from `base`) as a TOML document.
    pub fn parse_document(&self, input: &'a str) -> Result<Spanned<DeTable<'a>>, ConfigError> {
        DeTable::parse(input).map_err(|e| self.toml_err(&e, None, "invalid TOML"))
    }

    /// Deserializes `value` into `T`; shape errors (unknown keys, wrong types) go to `errors`.
    pub fn de<T: DeserializeOwned>(
        &self,
        value: Spanned<DeValue<'_>>,
        context: &str,
        errors: &mut Errors,
    ) -> Option<T> {
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(self.toml_err(&e, Some(&span), context));
                None
            }
        }
    }

    /// `value` as a table; otherwise an error saying that `what` must be a table.
    pub fn table<'i>(
        &self,
        value: Spanned<DeValue<'i>>,
        what: &str,
        errors: &mut Errors,
    ) -> Option<(Range<usize>, DeTable<'i>)> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(t) => Some((span, t)),
            other => {
                errors.push(
                    self.err(&span, format!("{what} must be a table, not a {}", other.type_str())),
                );
                None
            }
        }
    }
}

/// A table wrapped back into a value, for [`Src::de`].
pub(crate) fn as_value<'i>(span: Range<usize>, table: DeTable<'i>) -> Spanned<DeValue<'i>> {
    Spanned::new(span, DeValue::Table(table))
}

/// A list of names for messages: "`a`, `b`, `c`".
pub(crate) fn list(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = names.into_iter().map(|n| format!("`{}`", n.as_ref())).collect();
    if v.is_empty() { "(none)".to_owned() } else { v.join(", ") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_nul_errors_name_the_place() {
        let e = decode(Path::new("p.toml"), b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        assert_eq!(e.location.unwrap().to_string(), "p.toml:2:6");
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        let e = decode(Path::new("p.toml"), b"a = 1\n\n  \0\0".to_vec()).unwrap_err();
        assert_eq!(e.location.unwrap().to_string(), "p.toml:3:3");
        assert!(e.message.contains("binary"), "{}", e.message);
        assert_eq!(decode(Path::new("p"), "é = 1".into()).unwrap(), "é = 1");
    }

    proptest::proptest! {
        #[test]
        fn line_index_agrees_with_from_offset(text in "(?s)(.|\n|é|ab c){0,700}", offsets in proptest::collection::vec(0usize..800, 1..20)) {
            let index = LineIndex::new(&text);
            let src = Src::new(Path::new("f"), &text, &index);
            for o in offsets {
                proptest::prop_assert_eq!(src.loc(&(o..o)), Location::from_offset("f", &text, o));
            }
        }
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        let f = File::create(&path).unwrap();
        // A sparse file: large on paper, nothing to read.
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read_source(&path).unwrap_err();
        assert!(e.message.contains("larger than 8 MiB"), "{}", e.message);
        assert!(e.to_string().contains("big.toml"));
        f.set_len(MAX_FILE_BYTES).unwrap();
        // Exactly the limit is read, and then refused as binary (all NUL bytes).
        let e = read_source(&path).unwrap_err();
        assert!(e.message.contains("NUL byte at offset 0"), "{}", e.message);
    }

    #[test]
    fn missing_files_and_folders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_source(&dir.path().join("nope.toml")).unwrap_err();
        assert!(e.message.starts_with("cannot open ") && e.message.contains("nope.toml"));
        let e = read_source(dir.path()).unwrap_err();
        assert!(e.message.contains("is a folder"), "{}", e.message);
    }
}
