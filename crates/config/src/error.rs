//! Load errors: each one names its place (`path:line:col`) and says what to change.

use std::fmt;

use crieur_core::Location;

/// One problem found in a config or post file.
///
/// Shown as `path:line:col: error: message`, or `error: message` when no place applies (a missing
/// file, a glob that matched nothing readable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where the problem is, when it has a place in a file.
    pub location: Option<Location>,
    /// What is wrong and what to write instead. Never contains a secret value.
    pub message: String,
}

impl ConfigError {
    /// An error at `location`.
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Self { location: Some(location), message: message.into() }
    }

    /// An error without a place in a file.
    pub fn general(message: impl Into<String>) -> Self {
        Self { location: None, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: error: {}", self.message),
            None => write!(f, "error: {}", self.message),
        }
    }
}

/// Every problem found while loading, in file order. Loading goes on after a problem where it can,
/// so one run reports as much as possible.
///
/// Shown one [`ConfigError`] per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    /// The errors, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// How many errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one.
    pub fn push(&mut self, error: ConfigError) {
        self.0.push(error);
    }

    /// `Ok(value)` when no error was collected, else `Err(self)`.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, Errors> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl From<ConfigError> for Errors {
    fn from(error: ConfigError) -> Self {
        Errors(vec![error])
    }
}

impl IntoIterator for Errors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
