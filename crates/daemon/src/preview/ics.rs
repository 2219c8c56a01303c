//! The iCalendar (RFC 5545) export: one VEVENT per filled slot. In the daemon's live feed, an
//! event also says its state, and a published post carries its `URL`.
//!
//! Written by hand rather than with the `icalendar` crate: that crate brings chrono beside jiff,
//! and the subset needed here (UTC times, text escaping, line folding, CRLF) is small. Times are
//! UTC (`...Z`), so no VTIMEZONE is needed; calendar apps show them in the reader's zone. UIDs are
//! derived from (post, channel), so re-importing or a subscription updates events instead of
//! duplicating them.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::Preview;

/// Renders the filled slots of `preview` as an iCalendar file. `stamp` is the DTSTAMP of every
/// event (when the file was generated).
pub fn render(preview: &Preview, stamp: Timestamp) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, &format!("PRODID:-//crieur//crieur {}//EN", env!("CARGO_PKG_VERSION")));
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "X-WR-CALNAME:crieur");
    for e in &preview.entries {
        let Some(post) = &e.post else { continue };
        let text = e.text.as_deref().unwrap_or("");
        let Ok(at) = e.at.parse::<Timestamp>() else { continue };
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", escape(&format!("{post}.{}@crieur", e.channel))));
        line(&mut out, &format!("DTSTAMP:{}", utc(stamp)));
        line(&mut out, &format!("DTSTART:{}", utc(at)));
        line(&mut out, "DURATION:PT15M");
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        line(&mut out, &format!("SUMMARY:{}", escape(&format!("[{}] {first}", e.channel))));
        let mut description = match &e.status {
            Some(st) => {
                let mut head = st.state.clone();
                if let Some(url) = &st.url {
                    let _ = write!(head, ": {url}");
                }
                if let Some(reason) = &st.reason {
                    let _ = write!(head, " ({reason})");
                }
                format!("{head}\n\n{text}")
            }
            None => text.to_owned(),
        };
        for item in &e.thread {
            let _ = write!(description, "\n\n{item}");
        }
        for d in &e.diagnostics {
            let _ = write!(description, "\n\n{}[{}]: {}", d.severity, d.rule, d.message);
        }
        line(&mut out, &format!("DESCRIPTION:{}", escape(&description)));
        line(&mut out, &format!("CATEGORIES:{}", escape(&e.network)));
        if let Some(st) = &e.status {
            if let Some(url) = &st.url {
                let url: String = url.chars().filter(|c| !c.is_control()).collect();
                line(&mut out, &format!("URL:{url}"));
            }
            let status = if st.state == "cancelled" { "CANCELLED" } else { "CONFIRMED" };
            line(&mut out, &format!("STATUS:{status}"));
        }
        line(&mut out, "TRANSP:TRANSPARENT");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT escaping of RFC 5545 section 3.3.11.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded at 75 octets (never inside a UTF-8 sequence), CRLF-terminated.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_long_lines_without_splitting_characters() {
        let mut out = String::new();
        line(&mut out, &"é".repeat(100));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{}\r\n", "é".repeat(100)));
    }

    #[test]
    fn escapes_text_values() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
