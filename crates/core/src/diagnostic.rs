use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Location;

/// How much a diagnostic matters. `error` blocks publishing and fails `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule is disabled.
    Off,
    /// Shown, does not block.
    Warning,
    /// Blocks publishing and fails `validate`.
    Error,
}

impl Severity {
    /// The name used in config files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding of a policy rule, about a post on a channel or about the window as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The stable rule id (`length`, `hashtags.max`, ...).
    pub rule: String,
    /// The severity after configuration.
    pub severity: Severity,
    /// What is wrong and what to change.
    pub message: String,
    /// The post concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    /// The channel concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where in the files the problem is, when known.
    #[serde(skip)]
    pub location: Option<Location>,
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: severity[rule]: message (post ID on CHANNEL)`, as `validate` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.rule, self.message)?;
        match (&self.post, &self.channel) {
            (Some(p), Some(c)) => write!(f, " (post {p} on {c})"),
            (Some(p), None) => write!(f, " (post {p})"),
            (None, Some(c)) => write!(f, " (channel {c})"),
            (None, None) => Ok(()),
        }
    }
}
