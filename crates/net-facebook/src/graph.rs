//! Graph API error objects and what each one means for a delivery.

use crieur_core::{Outcome, RejectKind};
use jiff::Timestamp;

/// How much of Facebook's error message goes into a reason, in characters.
const MESSAGE_CHARS: usize = 300;

/// The `error` object of a Graph API answer:
/// `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
///
/// Read leniently: codes may come as numbers or numeric strings; a missing field is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    /// `message`, made printable and cut to 300 characters.
    pub message: String,
    /// `type` (`OAuthException`, `GraphMethodException`...).
    pub kind: Option<String>,
    /// `code`.
    pub code: Option<i64>,
    /// `error_subcode`.
    pub subcode: Option<i64>,
    /// `fbtrace_id`: the id Facebook support asks for.
    pub fbtrace_id: Option<String>,
}

impl GraphError {
    /// Parses a Graph answer body; `None` when it holds no `error` object.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let error = value.get("error")?.as_object()?;
        let text = |key: &str| error.get(key).and_then(serde_json::Value::as_str).map(printable);
        let number = |key: &str| {
            error.get(key).and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
        };
        Some(Self {
            message: text("message").unwrap_or_default(),
            kind: text("type"),
            code: number("code"),
            subcode: number("error_subcode"),
            fbtrace_id: text("fbtrace_id").map(|t| t.chars().take(64).collect()),
        })
    }

    /// `code 190, subcode 463, fbtrace_id AbC: message`, the parts that are known.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(code) = self.code {
            parts.push(format!("code {code}"));
        }
        if let Some(subcode) = self.subcode {
            parts.push(format!("subcode {subcode}"));
        }
        if let Some(trace) = &self.fbtrace_id {
            parts.push(format!("fbtrace_id {trace}"));
        }
        let head = parts.join(", ");
        match (head.is_empty(), self.message.is_empty()) {
            (true, true) => "no details".to_owned(),
            (true, false) => self.message.clone(),
            (false, true) => head,
            (false, false) => format!("{head}: {}", self.message),
        }
    }
}

/// Control characters replaced by spaces, cut to [`MESSAGE_CHARS`] characters.
fn printable(text: &str) -> String {
    let mut out: String =
        text.chars().take(MESSAGE_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().nth(MESSAGE_CHARS).is_some() {
        out.push('…');
    }
    out.trim().to_owned()
}

/// The codes Facebook uses for rate limiting: 4 (app), 17 (user), 32 (Page), 613 (custom),
/// 80001 (Page business use case).
pub const RATE_LIMIT_CODES: [i64; 5] = [4, 17, 32, 613, 80001];

/// True when `code` is one of [`RATE_LIMIT_CODES`].
pub fn is_rate_limit(code: i64) -> bool {
    RATE_LIMIT_CODES.contains(&code)
}

/// What an `OAuthException` subcode says about the token, for 190 and 102.
pub fn token_subcode_meaning(subcode: Option<i64>) -> &'static str {
    match subcode {
        Some(458) => "the app is not installed: the account that authorized crieur removed it",
        Some(459) => "the account is checkpointed: log in to facebook.com in a browser first",
        Some(460) => "the account's password changed, which revokes its tokens",
        Some(463) => "the token expired",
        Some(464) => "the account is not confirmed",
        Some(467) => "the session is invalid (logged out, or the token was revoked)",
        Some(492) => "the account is no longer allowed to act for this Page",
        _ => "the token is invalid or was revoked",
    }
}

/// Everything that decides an outcome from a Graph answer that is not a success.
pub struct Refusal<'a> {
    /// The channel, for the remedies named in reasons.
    pub channel: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// The parsed `error` object, if the body held one.
    pub error: Option<&'a GraphError>,
    /// The start of the body, for answers without an `error` object.
    pub snippet: &'a str,
    /// When access comes back (`estimated_time_to_regain_access`), from the usage headers.
    pub regain_at: Option<Timestamp>,
    /// `Retry-After`, when given.
    pub retry_after: Option<Timestamp>,
    /// What to do when the token is refused (it depends on where the token comes from).
    pub token_remedy: &'a str,
}

/// Maps a Graph refusal to an [`Outcome`]:
///
/// | code | outcome |
/// |---|---|
/// | 190, 102 | `Unauthorized`, the subcode's meaning named (458, 459, 460, 463, 464, 467, 492) |
/// | 4, 17, 32, 613, 80001 | `Retry`, `not_before` = `estimated_time_to_regain_access` when given |
/// | 1, 2 | `Retry` without a time (Facebook's "temporary, retry" codes) |
/// | 368 | `Rejected(Forbidden)`: blocked for policy |
/// | 506 | `Rejected(Duplicate)` |
/// | 10, 200-299 | `Rejected(Forbidden)`, naming `pages_manage_posts` and `pages_read_engagement` |
/// | 100 | `Rejected(Invalid)`: a parameter was refused |
/// | another code, or no `error` object | by status: 429 `Retry` (`Retry-After`), 3xx and 4xx `Rejected(Other)`, 5xx and others `Unknown` |
pub fn refusal_outcome(r: &Refusal<'_>) -> Outcome {
    let status = r.status;
    let Some(error) = r.error else {
        let detail = if r.snippet.is_empty() { String::new() } else { format!(": {}", r.snippet) };
        return by_status(
            status,
            format!("Facebook answered {status} without an error object{detail}"),
            r,
        );
    };
    let said = format!("Facebook answered {status} ({})", error.describe());
    match error.code {
        Some(190 | 102) => Outcome::Unauthorized {
            reason: format!(
                "{said}: the Page token of channel {} was refused: {}; {}",
                r.channel,
                token_subcode_meaning(error.subcode),
                r.token_remedy
            ),
        },
        Some(code) if is_rate_limit(code) => Outcome::Retry {
            reason: format!(
                "{said}: rate limited; crieur waits {}",
                if r.regain_at.is_some() {
                    "until Facebook's estimated time to regain access"
                } else {
                    "and tries again later"
                }
            ),
            not_before: r.regain_at,
        },
        Some(1 | 2) => Outcome::Retry {
            reason: format!("{said}: a temporary Facebook error; crieur tries again later"),
            not_before: None,
        },
        Some(368) => Outcome::Rejected {
            kind: RejectKind::Forbidden,
            reason: format!(
                "{said}: Facebook blocked this post for its policies; the Page may be restricted \
                 (see the Page's Support Inbox); crieur does not retry it"
            ),
        },
        Some(506) => Outcome::Rejected {
            kind: RejectKind::Duplicate,
            reason: format!(
                "{said}: Facebook refused a duplicate of a recent post on this Page; change the \
                 text to post it again"
            ),
        },
        Some(code) if code == 10 || (200..=299).contains(&code) => Outcome::Rejected {
            kind: RejectKind::Forbidden,
            reason: format!(
                "{said}: the Page token of channel {} lacks a permission: crieur needs \
                 pages_manage_posts (to publish) and pages_read_engagement (to read the Page's \
                 posts), granted by a Page admin; run `crieur auth {}` and grant both (an app in \
                 Live mode needs them approved in App Review)",
                r.channel, r.channel
            ),
        },
        Some(100) => Outcome::Rejected {
            kind: RejectKind::Invalid,
            reason: format!("{said}: Facebook refused a parameter of the post (text or link)"),
        },
        _ => by_status(status, said, r),
    }
}

fn by_status(status: u16, said: String, r: &Refusal<'_>) -> Outcome {
    match status {
        429 => Outcome::Retry {
            reason: format!("{said}: rate limited"),
            not_before: r.retry_after.or(r.regain_at),
        },
        300..=499 => Outcome::Rejected { kind: RejectKind::Other, reason: said },
        _ => Outcome::Unknown {
            reason: format!(
                "{said}; the post may have been created: crieur reconciles before retrying"
            ),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_error_object_leniently() {
        let e = GraphError::parse(
            br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":"463","fbtrace_id":"AbCdEf123"}}"#,
        )
        .unwrap();
        assert_eq!(e.code, Some(190));
        assert_eq!(e.subcode, Some(463));
        assert_eq!(e.kind.as_deref(), Some("OAuthException"));
        assert_eq!(e.fbtrace_id.as_deref(), Some("AbCdEf123"));
        assert_eq!(
            e.describe(),
            "code 190, subcode 463, fbtrace_id AbCdEf123: Error validating access token: Session \
             has expired"
        );
        assert_eq!(GraphError::parse(b"<html>"), None);
        assert_eq!(GraphError::parse(br#"{"error":"nope"}"#), None);
        assert_eq!(GraphError::parse(br#"{"data":[]}"#), None);
        let bare = GraphError::parse(br#"{"error":{}}"#).unwrap();
        assert_eq!(bare.describe(), "no details");
    }

    #[test]
    fn long_or_control_laden_messages_are_cut_and_cleaned() {
        let long = format!(r#"{{"error":{{"message":"a\nb{}","code":1}}}}"#, "x".repeat(1000));
        let e = GraphError::parse(long.as_bytes()).unwrap();
        assert!(e.message.starts_with("a b"));
        assert!(e.message.ends_with('…'));
        assert!(e.message.chars().count() <= MESSAGE_CHARS + 1);
    }
}
