//! The HTML calendar page: one self-contained file, a week grid with one column per day and an
//! hour axis, so each post sits at its hour.
//!
//! Built with maud, so every text is escaped by construction. The page carries its CSS inline and
//! a Content-Security-Policy that forbids every request (pictures come inline as `data:` URIs), so
//! opening it never leaves the machine. Each post shows as its network displays it (LinkedIn's
//! little text unescaped, the exact payload one click away), with its links, hashtags and
//! mentions highlighted, a bar of its length against the network's limit, its thumbnails, and the
//! rules it breaks beside it (the card outlined in the colour of the worst). Days and times are in
//! the config's zone, in words, with the channel's local time where it differs. In the daemon's
//! live page, each post also says its state (and links to what was published). Print styles and a
//! dark scheme (`prefers-color-scheme`) are built in.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Diag, Entry, Preview};

/// Distinct colours for channels, in order of first appearance (sorted by name); each reads at
/// 4.5:1 or better on white.
const PALETTE: [&str; 10] = [
    "#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#c2410c",
    "#6d28d9", "#334155",
];

/// The hours shown when the window has no slot at all.
const DEFAULT_HOURS: (u8, u8) = (9, 17);

const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#f8fafc;--fg:#111827;--card:#fff;--muted:#475569;--line:#cbd5e1;--head:#e2e8f0;--err-bg:#fee2e2;--err:#991b1b;--warn-bg:#fef3c7;--warn:#92400e;--ok:#166534;--ok-bg:#dcfce7;--tag:#1e40af;--tag-bg:#dbeafe}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1rem;color:var(--fg);background:var(--bg)}
h1{font-size:1.25rem;margin:0 0 .3rem}
.summary{margin:0 0 .5rem;color:var(--muted)}
.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:middle}
.week{display:grid;gap:0 .5rem;overflow-x:auto;margin-top:.8rem}
.axis,.day{grid-row:1/-1;display:grid;grid-template-rows:subgrid}
.axis .hour{font-size:.75rem;color:var(--muted);text-align:right;padding-right:.3rem;border-top:1px solid var(--line)}
.day h2{font-size:.95rem;margin:0 0 .4rem;padding:.3rem;background:var(--head);border-radius:4px}
.day .hour{border-top:1px solid var(--line);padding-top:.3rem;min-height:1.6rem}
.slot{--c:#1d4ed8;border-left:4px solid var(--c);background:var(--card);border-radius:4px;padding:.4rem;margin-bottom:.4rem;box-shadow:0 1px 2px #0002}
.slot.empty{background:transparent;border:1px dashed var(--c);border-left-width:4px;color:var(--muted);box-shadow:none}
.slot.flagged-error{outline:2px solid var(--err);outline-offset:1px}
.slot.flagged-warning{outline:2px dashed var(--warn);outline-offset:1px}
.slot header{font-size:.8rem;display:flex;justify-content:space-between;gap:.3rem}
.slot .chan{color:var(--c);font-weight:600}
.slot .post{font-size:.75rem;color:var(--muted);overflow-wrap:anywhere}
.slot details{font-size:.75rem;color:var(--muted)}
.slot pre{white-space:pre-wrap;word-break:break-word;font:inherit;margin:.3rem 0 0}
.slot .thread{border-top:1px dotted var(--line);margin-top:.3rem;padding-top:.2rem}
.text .tag,.text .mention{color:var(--tag);background:var(--tag-bg);border-radius:3px}
.text .link{color:var(--tag);text-decoration:underline}
.bar{height:4px;background:var(--line);border-radius:2px;margin-top:.2rem;overflow:hidden}
.bar span{display:block;height:100%;background:var(--ok)}
.bar.over span{background:var(--err)}
.badge{display:inline-block;font-size:.7rem;font-weight:600;border-radius:3px;padding:0 .3rem;margin-left:.2rem}
.badge.error{background:var(--err-bg);color:var(--err)}
.badge.warning{background:var(--warn-bg);color:var(--warn)}
.state{font-size:.75rem;margin:.3rem 0 0;padding:.1rem .3rem;border-radius:3px;background:var(--head)}
.state.published{background:var(--ok-bg);color:var(--ok)}
.state.failed,.state.unknown,.state.held{background:var(--err-bg);color:var(--err)}
.state.retrying{background:var(--warn-bg);color:var(--warn)}
.state a{color:inherit}
.diag{font-size:.8rem;margin:.3rem 0 0;padding:.2rem .3rem;border-radius:3px}
.diag.error{background:var(--err-bg);color:var(--err)}
.diag.warning{background:var(--warn-bg);color:var(--warn)}
.window{margin-top:1rem}
.media{display:flex;flex-wrap:wrap;gap:.3rem;align-items:flex-start;margin:.3rem 0 0;font-size:.75rem}
.media img{max-width:7.5rem;max-height:5rem;border-radius:3px}
.media figcaption{flex:1 1 6rem;color:var(--muted)}
@media (prefers-color-scheme:dark){
:root{--bg:#0f172a;--fg:#e5e7eb;--card:#1e293b;--muted:#cbd5e1;--line:#475569;--head:#334155;--err-bg:#450a0a;--err:#fecaca;--warn-bg:#451a03;--warn:#fde68a;--ok:#bbf7d0;--ok-bg:#14532d;--tag:#bfdbfe;--tag-bg:#1e3a8a}
.slot .chan{color:color-mix(in srgb,var(--c) 35%,white)}
.slot{border-left-color:color-mix(in srgb,var(--c) 60%,white)}
}
@media print{
body{background:#fff;color:#000;margin:0}
.week{display:block;overflow:visible}
.axis{display:none}
.day{display:block;break-inside:avoid-page;margin-bottom:.6rem}
.day .hour{border:0;min-height:0;padding:0}
.slot{box-shadow:none;break-inside:avoid}
.slot.empty{display:none}
details{display:none}
}
"#;

/// Renders `preview` as one HTML page with no external assets.
pub fn render(preview: &Preview) -> String {
    let colours = channel_colours(preview);
    let days = by_day(preview);
    let (first, last) = hour_span(preview);
    let hours: Vec<u8> = (first..=last).collect();
    let range = range_in_words(&preview.from, &preview.to);
    let layout = format!(
        "grid-template-columns:3.5rem repeat({},minmax(11rem,1fr));grid-template-rows:auto repeat({},minmax(1.6rem,auto))",
        days.len().max(1),
        hours.len()
    );
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "crieur: " (range) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    h1 { "Calendar, " (range) }
                    p.summary { (summary(preview)) }
                    p.legend {
                        @for (name, colour) in &colours {
                            span { i style={ "background:" (colour) } {} (name) }
                        }
                    }
                    div.week style=(layout) role="region" aria-label={ "The week of " (range) ", hour by hour" } tabindex="0" {
                        div.axis aria-hidden="true" {
                            span {}
                            @for h in &hours { span.hour { (format!("{h:02}:00")) } }
                        }
                        @for (date, entries) in &days {
                            section.day data-date=(date) aria-label=(day_in_words(date)) {
                                h2 { (day_in_words(date)) }
                                @for h in &hours {
                                    div.hour data-hour=(format!("{h:02}")) {
                                        @for e in entries.iter().filter(|e| hour_of(e, &preview.zone) == *h) {
                                            (slot(e, &colours, &preview.zone))
                                        }
                                    }
                                }
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
        }
    };
    page.into_string()
}

/// `12 posts, 3 free slots; 1 error, 2 warnings`.
fn summary(preview: &Preview) -> String {
    let filled = preview.entries.iter().filter(|e| e.post.is_some()).count();
    let free = preview.entries.len() - filled;
    let all = preview.entries.iter().flat_map(|e| &e.diagnostics).chain(&preview.diagnostics);
    let (errors, warnings) =
        all.fold((0, 0), |(e, w), d| if d.is_error() { (e + 1, w) } else { (e, w + 1) });
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}; {}, {}",
        plural(filled, "post", "posts"),
        plural(free, "free slot", "free slots"),
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings")
    )
}

fn slot(e: &Entry, colours: &BTreeMap<String, &'static str>, zone: &jiff::tz::TimeZone) -> Markup {
    let (_, time, local) = e.when(zone);
    let colour = colours.get(&e.channel).copied().unwrap_or(PALETTE[0]);
    let errors = e.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = e.diagnostics.len() - errors;
    let mut class = String::from(if e.post.is_some() { "slot filled" } else { "slot empty" });
    if errors > 0 {
        class.push_str(" flagged-error");
    } else if warnings > 0 {
        class.push_str(" flagged-warning");
    }
    html! {
        article class=(class) style={ "--c:" (colour) } data-channel=(e.channel) data-at=(e.at) data-post=[e.post.as_deref()] data-state=[e.status.as_ref().map(|s| s.state.as_str())] {
            header {
                span.chan { (e.channel) }
                time datetime=(e.at) { (time) @if let Some(l) = &local { " (" (l) " local)" } }
            }
            @match &e.post {
                Some(post) => {
                    div.post {
                        (post)
                        @if let Some(l) = &e.length { " · " (l.used) @if let Some(limit) = l.limit { "/" (limit) } }
                        @if errors > 0 { span.badge.error { (errors) @if errors == 1 { " error" } @else { " errors" } } }
                        @if warnings > 0 { span.badge.warning { (warnings) @if warnings == 1 { " warning" } @else { " warnings" } } }
                    }
                    @if let Some(l) = &e.length && let Some(limit) = l.limit && limit > 0 {
                        @let pct = (l.used.saturating_mul(100) / limit).min(100);
                        div class=(if l.used > limit { "bar over" } else { "bar" }) title={ (l.used) " of " (limit) } {
                            span style={ "width:" (pct) "%" } {}
                        }
                    }
                    @if let Some(text) = &e.text {
                        @if e.network == "linkedin" {
                            pre.text { (highlighted(&crieur_policy::display_little_text(text))) }
                            details { summary { "exact payload" } pre.payload { (text) } }
                        } @else {
                            pre.text { (highlighted(text)) }
                        }
                    }
                    @for item in &e.thread { pre.thread { (highlighted(item)) } }
                    @if let Some(link) = &e.link { div.post { "link: " (link) } }
                    @for m in &e.media { (media(m, &e.diagnostics)) }
                    @for d in e.diagnostics.iter().filter(|d| !d.rule.starts_with("media.")) { (diag(d)) }
                    @if let Some(st) = &e.status { (state(st)) }
                }
                None => { div.post { "free slot" } }
            }
        }
    }
}

/// What the store says of the post (the daemon's live page).
fn state(st: &super::live::Status) -> Markup {
    html! {
        p class={ "state " (st.state) } {
            strong { (st.state) }
            @if let Some(at) = &st.published_at { " at " (at.get(11..16).unwrap_or(at)) }
            @if let Some(url) = &st.url { " · " a href=(url) rel="noreferrer" { "view the post" } }
            @if let Some(reason) = &st.reason { ": " (reason) }
        }
    }
}

/// `text` with its links, hashtags and mentions wrapped in spans, the rest as it is.
fn highlighted(text: &str) -> Markup {
    let mut pieces: Vec<(Option<&'static str>, &str)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
        if start > 0 {
            pieces.push((None, &rest[..start]));
        }
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word.is_empty() {
            continue;
        }
        let core = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        let kind = if core.starts_with("https://") || core.starts_with("http://") {
            Some("link")
        } else if core.len() > 1 && core.starts_with('#') {
            Some("tag")
        } else if core.len() > 1 && core.starts_with('@') {
            Some("mention")
        } else {
            None
        };
        match kind {
            Some(k) => {
                pieces.push((Some(k), core));
                if core.len() < word.len() {
                    pieces.push((None, &word[core.len()..]));
                }
            }
            None => pieces.push((None, word)),
        }
    }
    html! {
        @for (kind, piece) in pieces {
            @match kind { Some(k) => { span class=(k) { (piece) } } None => { (piece) } }
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
            @if let Some(src) = m.thumbnail() { img src=(src) alt=(alt) title=(alt); } @else { span.file title=(alt) { (m.file_name()) } }
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

/// The hour of `e` in `zone` (0–23).
fn hour_of(e: &Entry, zone: &jiff::tz::TimeZone) -> u8 {
    e.when(zone).1.get(..2).and_then(|h| h.parse().ok()).unwrap_or(0)
}

/// The first and last hour that hold a slot, in the config's zone.
fn hour_span(preview: &Preview) -> (u8, u8) {
    let hours = preview.entries.iter().map(|e| hour_of(e, &preview.zone));
    match (hours.clone().min(), hours.max()) {
        (Some(first), Some(last)) => (first, last),
        _ => DEFAULT_HOURS,
    }
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

/// `Monday 30 November`.
fn day_in_words(date: &str) -> String {
    date.parse::<jiff::civil::Date>()
        .map(|d| d.strftime("%A %-d %B").to_string())
        .unwrap_or_else(|_| date.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_hashtags_and_mentions_are_marked_and_the_text_is_kept() {
        let out = highlighted("Join us! #Hiring, @acme\nhttps://example.com/x.").into_string();
        assert_eq!(
            out,
            "Join us! <span class=\"tag\">#Hiring</span>, <span class=\"mention\">@acme</span>\n\
             <span class=\"link\">https://example.com/x</span>."
        );
        assert_eq!(highlighted("a # b <i>").into_string(), "a # b &lt;i&gt;");
    }

    #[test]
    fn windows_and_days_read_in_words() {
        let r = |a: &str, b: &str| range_in_words(a, b);
        assert_eq!(
            r("2026-12-07T00:00:00+01:00", "2026-12-14T00:00:00+01:00"),
            "7–13 December 2026"
        );
        assert_eq!(
            r("2026-11-30T00:00:00+01:00", "2026-12-07T00:00:00+01:00"),
            "30 November – 6 December 2026"
        );
        assert_eq!(
            r("2026-12-28T00:00:00+01:00", "2027-01-04T00:00:00+01:00"),
            "28 December 2026 – 3 January 2027"
        );
        assert_eq!(day_in_words("2026-11-30"), "Monday 30 November");
    }
}
