//! The report as text for people, at most 100 columns wide.

use std::fmt::Write as _;

use crate::{MetricsRow, Report};

/// Renders the report as a table: channels, mix, then every post with its latest figures.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Report from {} to {} ({})", report.from, report.to, report.timezone);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<20} {:<8} {:>5} {:>4} {:>4} {:>4} {:>4} {:>4} {:>4} {:>10} {:>14}",
        "CHANNEL",
        "NETWORK",
        "SLOTS",
        "PUB",
        "FAIL",
        "SKIP",
        "UNKN",
        "CANC",
        "PEND",
        "LATE P50",
        "LONGEST SILENT"
    );
    for c in &report.channels {
        let _ = writeln!(
            out,
            "{:<20} {:<8} {:>5} {:>4} {:>4} {:>4} {:>4} {:>4} {:>4} {:>10} {:>14}",
            cut(&c.channel, 20),
            cut(&c.network, 8),
            c.slots,
            c.published,
            c.failed,
            c.skipped,
            c.unknown,
            c.cancelled,
            c.pending,
            c.late_p50_s.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}s")),
            c.longest_silence_h.map_or_else(|| "-".to_owned(), |h| format!("{h:.1}h")),
        );
        for s in &c.silences {
            let _ = writeln!(
                out,
                "  silent {:.1}h from {} to {} (longest allowed {:.0}h)",
                s.hours, s.from, s.to, c.max_silence_h
            );
        }
    }
    if !report.mix.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{:<20} {:>5} {:>6} {:>6}", "CATEGORY", "POSTS", "SHARE", "TARGET");
        for m in &report.mix {
            let _ = writeln!(
                out,
                "{:<20} {:>5} {:>6} {:>6}{}",
                cut(&m.category, 20),
                m.posts,
                percent(m.share),
                m.target.map_or_else(|| "-".to_owned(), percent),
                if m.below_target { "  below target" } else { "" }
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:<16} {:<10} {:<21} {:>6} {:>5} {:>5} {:>7} {:>6}",
        "DUE", "CHANNEL", "STATE", "POST", "LIKES", "REPO", "REPL", "IMPR", "CLICKS"
    );
    for p in &report.posts {
        let m = p.metrics.unwrap_or_default();
        let shown = p.metrics.is_some();
        let _ = writeln!(
            out,
            "{:<16} {:<16} {:<10} {:<21} {:>6} {:>5} {:>5} {:>7} {:>6}",
            p.at.replace('T', " ").chars().take(16).collect::<String>(),
            cut(&p.channel, 16),
            p.state,
            cut(&p.post, 21),
            figure(shown, m.likes),
            figure(shown, m.reposts),
            figure(shown, m.replies),
            figure(shown, m.impressions),
            figure(shown, m.clicks),
        );
    }
    if report.posts.is_empty() {
        let _ = writeln!(out, "nothing was due in this window");
    }
    let with_figures: Vec<&MetricsRow> =
        report.categories.iter().map(|t| &t.metrics).filter(|m| m.fetched_at.is_some()).collect();
    if !with_figures.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<20} {:>5} {:>5} {:>6} {:>5} {:>5} {:>7} {:>6}",
            "CATEGORY TOTAL", "DUE", "PUB", "LIKES", "REPO", "REPL", "IMPR", "CLICKS"
        );
        for t in &report.categories {
            let m = &t.metrics;
            let _ = writeln!(
                out,
                "{:<20} {:>5} {:>5} {:>6} {:>5} {:>5} {:>7} {:>6}",
                cut(t.name.as_deref().unwrap_or("(none)"), 20),
                t.deliveries,
                t.published,
                figure(true, m.likes),
                figure(true, m.reposts),
                figure(true, m.replies),
                figure(true, m.impressions),
                figure(true, m.clicks),
            );
        }
    }
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// A figure: blank when no snapshot was taken, `-` when the network does not give it.
fn figure(shown: bool, v: Option<u64>) -> String {
    match (shown, v) {
        (false, _) => String::new(),
        (true, None) => "-".to_owned(),
        (true, Some(v)) => v.to_string(),
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// At most `width` characters, with `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}
