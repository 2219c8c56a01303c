use std::fmt;
use std::path::PathBuf;

/// A place in a file, 1-based, shown as `path:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    /// The file, as the user named it (relative paths stay relative).
    pub path: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
}

impl Location {
    /// A location at `line:col` of `path`.
    pub fn new(path: impl Into<PathBuf>, line: u32, col: u32) -> Self {
        Self { path: path.into(), line, col }
    }

    /// The location of byte `offset` in `text`, the contents of `path`.
    ///
    /// Offsets past the end, or inside a UTF-8 sequence, are clamped to the nearest character
    /// boundary before them, so this never panics.
    pub fn from_offset(path: impl Into<PathBuf>, text: &str, offset: usize) -> Self {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Self::new(path, saturate(line), saturate(col))
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_line_and_column() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(Location::from_offset("f.toml", text, 0).to_string(), "f.toml:1:1");
        assert_eq!(Location::from_offset("f.toml", text, 6).to_string(), "f.toml:2:1");
        // 'é' is two bytes but one column.
        assert_eq!(Location::from_offset("f.toml", text, 9).to_string(), "f.toml:2:3");
        // Inside a UTF-8 sequence and past the end: clamped, no panic.
        assert_eq!(Location::from_offset("f.toml", text, 8).to_string(), "f.toml:2:2");
        assert_eq!(Location::from_offset("f.toml", text, 999).to_string(), "f.toml:3:1");
    }
}
