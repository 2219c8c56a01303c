//! The terminal table: one block per day, one line per slot, readable in 100 columns.

use std::fmt::Write as _;

use super::{Entry, Preview};

/// Width the table is laid out for.
const WIDTH: usize = 100;

/// Renders `preview` as text for a terminal of at least 100 columns.
///
/// Days and times are in the config's zone; a channel in another zone shows its own local time
/// in parentheses. Each line: time, channel, post id (or `(empty)`), the first line of the text,
/// and a marker: `E<n>` for errors, `W<n>` for warnings. Diagnostics follow, indented.
pub fn render(preview: &Preview) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "crieur preview: {} to {}", preview.from, preview.to);
    let chan_w = preview
        .entries
        .iter()
        .map(|e| e.channel.chars().count() + if e.when(&preview.zone).2.is_some() { 8 } else { 0 })
        .max()
        .unwrap_or(7)
        .clamp(7, 26);
    let post_w = preview
        .entries
        .iter()
        .filter_map(|e| e.post.as_ref())
        .map(|p| p.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 24);
    let mut day = String::new();
    for e in &preview.entries {
        let (date, time, local) = e.when(&preview.zone);
        if date != day {
            day = date;
            let _ = writeln!(out, "\n{}", day_header(&day));
        }
        let marker = marker(e);
        let post = e.post.as_deref().unwrap_or("(empty)");
        let channel = match &local {
            Some(l) => format!("{} ({l})", clip(&e.channel, chan_w.saturating_sub(8))),
            None => clip(&e.channel, chan_w),
        };
        let head = format!("  {time}  {channel:<chan_w$}  {:<post_w$}  ", clip(post, post_w));
        let used = head.chars().count() + marker.chars().count() + 1;
        let room = WIDTH.saturating_sub(used);
        let first_line = e.text.as_deref().and_then(|t| t.lines().find(|l| !l.trim().is_empty()));
        let text = clip(first_line.unwrap_or(""), room);
        let _ = writeln!(out, "{}", format!("{head}{text:<room$} {marker}").trim_end());
        if let Some(line) = crate::media::summary(&e.media) {
            let _ = writeln!(out, "{}", clip(&format!("      {line}"), WIDTH));
        }
        for d in &e.diagnostics {
            let _ = writeln!(
                out,
                "{}",
                clip(&format!("      {}[{}]: {}", d.severity, d.rule, d.message), WIDTH)
            );
        }
    }
    if !preview.diagnostics.is_empty() {
        let _ = writeln!(out, "\nWindow:");
        for d in &preview.diagnostics {
            let chan = d.channel.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            let _ = writeln!(out, "  {}[{}]: {}{chan}", d.severity, d.rule, d.message);
        }
    }
    let filled = preview.entries.iter().filter(|e| e.post.is_some()).count();
    let errors = all_diags(preview).filter(|d| d.is_error()).count();
    let warnings = all_diags(preview).filter(|d| !d.is_error()).count();
    let _ = writeln!(
        out,
        "\n{} slots, {filled} filled, {} empty; {errors} errors, {warnings} warnings",
        preview.entries.len(),
        preview.entries.len() - filled,
    );
    out
}

fn all_diags(p: &Preview) -> impl Iterator<Item = &super::Diag> {
    p.entries.iter().flat_map(|e| &e.diagnostics).chain(&p.diagnostics)
}

fn day_header(date: &str) -> String {
    let weekday =
        date.parse::<jiff::civil::Date>().map(|d| d.strftime("%A").to_string()).unwrap_or_default();
    format!("{weekday} {date}")
}

fn marker(e: &Entry) -> String {
    let errors = e.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = e.diagnostics.len() - errors;
    match (errors, warnings) {
        (0, 0) => "  ".into(),
        (0, w) => format!("W{w}"),
        (e, 0) => format!("E{e}"),
        (e, w) => format!("E{e}W{w}"),
    }
}

/// `s` cut to `width` characters, with an ellipsis when cut.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}
