//! What `validate` found, for machines: one JSON object per finding (`--format json`), or a GitHub
//! Actions workflow command (`--format github`) so that a pull request shows each one on its line.

use crieur_config::ConfigError;
use crieur_core::{Diagnostic, Severity};
use serde::Serialize;

/// One finding of `validate`: a policy diagnostic, or a config or post-file error (rule `load`).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The file, as crieur names it (relative when `--config` is); `null` when it has none.
    pub path: Option<String>,
    /// 1-based line; `null` without a place.
    pub line: Option<u32>,
    /// 1-based column, in characters; `null` without a place.
    pub column: Option<u32>,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The rule id (`length`, `hashtags.max`, ...), or `load` for a file that cannot be read.
    pub rule: String,
    /// What is wrong and what to change.
    pub message: String,
    /// The post concerned, if any.
    pub post: Option<String>,
    /// The channel concerned, if any.
    pub channel: Option<String>,
}

impl Finding {
    /// A policy diagnostic.
    pub fn diagnostic(d: &Diagnostic) -> Self {
        let severity = if d.severity == Severity::Error { "error" } else { "warning" };
        Finding {
            path: d.location.as_ref().map(|l| l.path.display().to_string()),
            line: d.location.as_ref().map(|l| l.line),
            column: d.location.as_ref().map(|l| l.col),
            severity,
            rule: d.rule.clone(),
            message: d.message.clone(),
            post: d.post.clone(),
            channel: d.channel.clone(),
        }
    }

    /// A config or post-file error.
    pub fn load(e: &ConfigError) -> Self {
        Finding {
            path: e.location.as_ref().map(|l| l.path.display().to_string()),
            line: e.location.as_ref().map(|l| l.line),
            column: e.location.as_ref().map(|l| l.col),
            severity: "error",
            rule: "load".to_owned(),
            message: e.message.clone(),
            post: None,
            channel: None,
        }
    }

    /// The GitHub Actions workflow command:
    /// `::error file=PATH,line=L,col=C,title=RULE::MESSAGE (post ID on CHANNEL)`.
    pub fn github(&self) -> String {
        let mut props = Vec::new();
        if let Some(p) = &self.path {
            props.push(format!("file={}", property(p)));
        }
        if let Some(l) = self.line {
            props.push(format!("line={l}"));
        }
        if let Some(c) = self.column {
            props.push(format!("col={c}"));
        }
        props.push(format!("title={}", property(&self.rule)));
        let about = match (&self.post, &self.channel) {
            (Some(p), Some(c)) => format!(" (post {p} on {c})"),
            (Some(p), None) => format!(" (post {p})"),
            (None, Some(c)) => format!(" (channel {c})"),
            (None, None) => String::new(),
        };
        format!(
            "::{} {}::{}",
            self.severity,
            props.join(","),
            data(&format!("{}{about}", self.message))
        )
    }
}

/// The JSON document of `validate --format json`: `{ "diagnostics": [...], "errors": N,
/// "warnings": N }`.
pub fn json_document(findings: &[Finding]) -> serde_json::Value {
    let count = |s: &str| findings.iter().filter(|f| f.severity == s).count();
    serde_json::json!({
        "diagnostics": findings,
        "errors": count("error"),
        "warnings": count("warning"),
    })
}

/// A workflow command's message, escaped as the runner reads it back.
fn data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value, escaped as the runner reads it back.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_command_escapes_what_the_runner_would_misread() {
        let f = Finding {
            path: Some("posts/a,b.toml".into()),
            line: Some(3),
            column: Some(8),
            severity: "error",
            rule: "length".into(),
            message: "100% too long:\nshorten it".into(),
            post: Some("p".into()),
            channel: Some("company-x".into()),
        };
        assert_eq!(
            f.github(),
            "::error file=posts/a%2Cb.toml,line=3,col=8,title=length::100%25 too long:%0Ashorten it (post p on company-x)"
        );
    }
}
