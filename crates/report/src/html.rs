//! The report as one self-contained HTML page, its charts drawn as inline SVG.
//!
//! Built with maud, so every text is escaped by construction. The page carries its CSS inline and
//! a Content-Security-Policy that forbids every request (no script, no image, no font), so opening
//! it never leaves the machine; it prints readably (black text, bars with their numbers written).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::Report;

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1rem;color:#111;background:#fff}
h1{font-size:1.3rem;margin:0 0 .5rem}
h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border-bottom:1px solid #cbd5e1;padding:.2rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.below{color:#991b1b;font-weight:600}
svg text{font:12px system-ui,sans-serif;fill:#111}
.url{overflow-wrap:anywhere}
@media print{body{margin:0}h2{break-after:avoid}}
"#;

/// One bar of a chart.
struct Bar {
    label: String,
    value: f64,
    shown: String,
    target: Option<f64>,
}

/// Renders the report as one HTML page with no external assets.
pub fn html(report: &Report) -> String {
    let weekly: Vec<Bar> = report
        .weeks
        .iter()
        .map(|w| Bar {
            label: format!("{} {}", w.week, w.channel),
            value: w.published as f64,
            shown: w.published.to_string(),
            target: None,
        })
        .collect();
    let mix: Vec<Bar> = report
        .mix
        .iter()
        .map(|m| Bar {
            label: m.category.clone(),
            value: m.share,
            shown: match m.target {
                Some(t) => format!("{:.0}% (target {:.0}%)", m.share * 100.0, t * 100.0),
                None => format!("{:.0}%", m.share * 100.0),
            },
            target: m.target,
        })
        .collect();
    let engagement = |totals: &[crate::Total]| -> Vec<Bar> {
        totals
            .iter()
            .filter_map(|t| {
                let m = &t.metrics;
                let sum = [m.likes, m.reposts, m.replies, m.quotes]
                    .into_iter()
                    .flatten()
                    .reduce(|a, b| a.saturating_add(b))?;
                Some(Bar {
                    label: t.name.clone().unwrap_or_else(|| "(none)".to_owned()),
                    value: sum as f64,
                    shown: sum.to_string(),
                    target: None,
                })
            })
            .collect()
    };
    let by_category = engagement(&report.categories);
    let by_network = engagement(&report.networks);
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "crieur report: " (report.from) " to " (report.to) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "Report from " (report.from) " to " (report.to) }
                h2 { "Channels against the plan" }
                table id="channels" {
                    tr { th { "channel" } th { "network" } th { "slots" } th { "published" } th { "failed" }
                         th { "skipped" } th { "unknown" } th { "cancelled" } th { "pending" }
                         th { "median lateness" } th { "longest silence" } }
                    @for c in &report.channels {
                        tr {
                            td { (c.channel) } td { (c.network) } td.n { (c.slots) } td.n { (c.published) }
                            td.n { (c.failed) } td.n { (c.skipped) } td.n { (c.unknown) }
                            td.n { (c.cancelled) } td.n { (c.pending) }
                            td.n { (c.late_p50_s.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"))) }
                            td.n class=[(!c.silences.is_empty()).then_some("below")] {
                                (c.longest_silence_h.map_or_else(|| "-".to_owned(), |h| format!("{h:.1} h")))
                            }
                        }
                    }
                }
                h2 { "Posts per week per channel" }
                (chart("posts-per-week", "Posts published per week and channel", &weekly))
                h2 { "Share per category against its target" }
                (chart("mix", "Share of posts per category; the mark is the target", &mix))
                h2 { "Engagement per category" }
                (chart("engagement-category", "Likes, reposts, replies and quotes per category", &by_category))
                h2 { "Engagement per network" }
                (chart("engagement-network", "Likes, reposts, replies and quotes per network", &by_network))
                h2 { "Posts" }
                table id="posts" {
                    tr { th { "due" } th { "channel" } th { "post" } th { "category" } th { "campaign" }
                         th { "state" } th { "likes" } th { "reposts" } th { "replies" }
                         th { "impressions" } th { "clicks" } th { "URL" } }
                    @for p in &report.posts {
                        @let m = p.metrics.unwrap_or_default();
                        @let f = |v: Option<u64>| if p.metrics.is_none() { String::new() } else { v.map_or_else(|| "-".to_owned(), |v| v.to_string()) };
                        tr {
                            td { (p.at) } td { (p.channel) } td { (p.post) }
                            td { (p.category.as_deref().unwrap_or("")) }
                            td { (p.campaign.as_deref().unwrap_or("")) }
                            td { (p.state) }
                            td.n { (f(m.likes)) } td.n { (f(m.reposts)) } td.n { (f(m.replies)) }
                            td.n { (f(m.impressions)) } td.n { (f(m.clicks)) }
                            td.url { (p.url.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

/// A horizontal bar chart as inline SVG, each bar labelled with its name and value, with an
/// optional target mark. An empty chart says so in words.
fn chart(id: &str, title: &str, bars: &[Bar]) -> Markup {
    const LABEL: f64 = 220.0;
    const WIDTH: f64 = 360.0;
    const ROW: f64 = 22.0;
    if bars.is_empty() {
        return html! { p id=(id) { "Nothing to draw yet." } };
    }
    let max = bars
        .iter()
        .flat_map(|b| [b.value, b.target.unwrap_or(0.0)])
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = ROW * bars.len() as f64 + 4.0;
    let total = LABEL + WIDTH + 160.0;
    html! {
        svg id=(id) role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg"
            width=(total) height=(height) viewBox={ "0 0 " (total) " " (height) } {
            title { (title) }
            @for (i, b) in bars.iter().enumerate() {
                @let y = ROW * i as f64 + 2.0;
                @let w = (b.value / max * WIDTH).max(0.0);
                g class="bar" {
                    text x=(LABEL - 6.0) y=(y + 14.0) text-anchor="end" { (b.label) }
                    rect x=(LABEL) y=(y + 2.0) width=(format!("{w:.1}")) height=(ROW - 6.0) fill="#1d4ed8" {}
                    @if let Some(t) = b.target {
                        @let tx = LABEL + t / max * WIDTH;
                        line x1=(format!("{tx:.1}")) x2=(format!("{tx:.1}")) y1=(y) y2=(y + ROW - 2.0)
                            stroke="#b91c1c" stroke-width="2" {}
                    }
                    text x=(format!("{:.1}", LABEL + w + 6.0)) y=(y + 14.0) { (b.shown) }
                }
            }
        }
    }
}
