//! The HTML calendar page: one self-contained file, a week grid with one column per day.
//!
//! Built with maud, so every text is escaped by construction. The page carries its CSS inline and
//! a Content-Security-Policy that forbids every request (pictures come inline as `data:` URIs), so
//! opening it never leaves the machine.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Diag, Entry, Preview};

/// Distinct colours for channels, in order of first appearance (sorted by name).
const PALETTE: [&str; 10] = [
    "#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#c2410c",
    "#6d28d9", "#334155",
];

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1rem;color:#111;background:#f8fafc}
h1{font-size:1.2rem;margin:0 0 .5rem}
.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:middle}
.week{display:grid;grid-auto-flow:column;grid-auto-columns:minmax(12rem,1fr);gap:.5rem;overflow-x:auto;margin-top:.8rem}
.day h2{font-size:.95rem;margin:0 0 .4rem;padding:.3rem;background:#e2e8f0;border-radius:4px}
.slot{border-left:4px solid var(--c);background:#fff;border-radius:4px;padding:.4rem;margin-bottom:.4rem;box-shadow:0 1px 2px #0002}
.slot.empty{background:transparent;border:1px dashed var(--c);border-left-width:4px;color:#64748b;box-shadow:none}
.slot header{font-size:.8rem;display:flex;justify-content:space-between;gap:.3rem}
.slot .chan{color:var(--c);font-weight:600}
.slot .post{font-size:.75rem;color:#475569;overflow-wrap:anywhere}
.slot details{font-size:.75rem;color:#475569}
.slot pre{white-space:pre-wrap;word-break:break-word;font:inherit;margin:.3rem 0 0}
.slot .thread{border-top:1px dotted #cbd5e1;margin-top:.3rem;padding-top:.2rem}
.diag{font-size:.8rem;margin:.3rem 0 0;padding:.2rem .3rem;border-radius:3px}
.diag.error{background:#fee2e2;color:#991b1b}
.diag.warning{background:#fef3c7;color:#92400e}
.window{margin-top:1rem}
.media{display:flex;flex-wrap:wrap;gap:.3rem;align-items:flex-start;margin:.3rem 0 0;font-size:.75rem}
.media img{max-width:6rem;max-height:4rem;border-radius:3px}
.media figcaption{flex:1 1 6rem;color:#475569}
"#;

/// Renders `preview` as one HTML page with no external assets.
pub fn render(preview: &Preview) -> String {
    let colours = channel_colours(preview);
    let days = by_day(preview);
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "crieur: " (range_in_words(&preview.from, &preview.to)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "Calendar, " (range_in_words(&preview.from, &preview.to)) }
                p.legend {
                    @for (name, colour) in &colours {
                        span { i style={ "background:" (colour) } {} (name) }
                    }
                }
                div.week {
                    @for (date, entries) in &days {
                        section.day data-date=(date) {
                            h2 { (weekday(date)) " " (date) }
                            @for e in entries { (slot(e, &colours, &preview.zone)) }
                        }
                    }
                }
                @if !preview.diagnostics.is_empty() {
                    section.window {
                        h2 { "About the whole window" }
                        @for d in &preview.diagnostics { (diag(d)) }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn slot(e: &Entry, colours: &BTreeMap<String, &'static str>, zone: &jiff::tz::TimeZone) -> Markup {
    let (_, time, local) = e.when(zone);
    let colour = colours.get(&e.channel).copied().unwrap_or(PALETTE[0]);
    let class = if e.post.is_some() { "slot filled" } else { "slot empty" };
    html! {
        article class=(class) style={ "--c:" (colour) } data-channel=(e.channel) data-at=(e.at) data-post=[e.post.as_deref()] {
            header {
                span.chan { (e.channel) }
                time datetime=(e.at) { (time) @if let Some(l) = &local { " (" (l) " local)" } }
            }
            @match (&e.post, &e.text) {
                (Some(post), Some(text)) => {
                    div.post { (post) @if let Some(l) = &e.length { " · " (l.used) @if let Some(limit) = l.limit { "/" (limit) } } }
                    @if e.network == "linkedin" {
                        pre.text { (crieur_policy::display_little_text(text)) }
                        details { summary { "exact payload" } pre.payload { (text) } }
                    } @else {
                        pre.text { (text) }
                    }
                    @for item in &e.thread { pre.thread { (item) } }
                    @if let Some(link) = &e.link { div.post { "link: " (link) } }
                    @for m in &e.media { (media(m, &e.diagnostics)) }
                    @for d in e.diagnostics.iter().filter(|d| !d.rule.starts_with("media.")) { (diag(d)) }
                }
                _ => { div.post { "free slot" } }
            }
        }
    }
}

/// One media entry: its thumbnail (alt text as `alt` and on hover), or its name, and the media
/// findings placed on it beside.
fn media(m: &crate::media::MediaView, diags: &[Diag]) -> Markup {
    let alt = m.alt.as_deref().unwrap_or("");
    let mine = diags.iter().filter(|d| {
        d.rule.starts_with("media.") && d.location.as_deref() == Some(m.location.as_str())
    });
    html! {
        figure.media data-path=(m.path) {
            @if let Some(src) = &m.thumbnail { img src=(src) alt=(alt) title=(alt); } @else { span.file title=(alt) { (m.file_name()) } }
            figcaption { @if m.has_alt() { (alt) } @else { "no alt text" } }
            @for d in mine { (diag(d)) }
        }
    }
}

fn diag(d: &Diag) -> Markup {
    let class = if d.is_error() { "diag error" } else { "diag warning" };
    html! {
        p class=(class) data-rule=(d.rule) {
            strong { (d.severity) " [" (d.rule) "]" } " " (d.message)
            @if let Some(c) = &d.channel { " (" (c) ")" }
        }
    }
}

fn channel_colours(preview: &Preview) -> BTreeMap<String, &'static str> {
    let mut names: Vec<&str> = preview.entries.iter().map(|e| e.channel.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().zip(PALETTE.iter().cycle()).map(|(n, c)| (n.to_owned(), *c)).collect()
}

/// Every day of the window, in order, with its entries (days without a slot included).
fn by_day(preview: &Preview) -> Vec<(String, Vec<&Entry>)> {
    let mut days: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    if let (Some(from), Some(to)) = (date_of(&preview.from), date_of(&preview.to)) {
        let mut d = from;
        while d < to {
            days.insert(d.to_string(), Vec::new());
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
    }
    for e in &preview.entries {
        days.entry(e.when(&preview.zone).0).or_default().push(e);
    }
    days.into_iter().collect()
}

fn date_of(rfc3339: &str) -> Option<jiff::civil::Date> {
    rfc3339.get(..10)?.parse().ok()
}

/// The window in words: `7–13 December 2026`, `28 November – 4 December 2026`, or with both
/// years when they differ; `to` is the first instant after the window.
fn range_in_words(from: &str, to: &str) -> String {
    let (Some(first), Some(last)) = (date_of(from), date_of(to).and_then(|d| d.yesterday().ok()))
    else {
        return format!("{from} to {to}");
    };
    let day_month_year = |d: jiff::civil::Date| d.strftime("%-d %B %Y").to_string();
    match (first.year() == last.year(), first.month() == last.month()) {
        _ if first >= last => day_month_year(first),
        (true, true) => format!("{}–{}", first.day(), day_month_year(last)),
        (true, false) => format!("{} – {}", first.strftime("%-d %B"), day_month_year(last)),
        (false, _) => format!("{} – {}", day_month_year(first), day_month_year(last)),
    }
}

fn weekday(date: &str) -> String {
    date.parse::<jiff::civil::Date>().map(|d| d.strftime("%a").to_string()).unwrap_or_default()
}
