//! The report as CSV: one row per (post, channel), figures of the latest snapshot.

use crate::{Report, ReportError};

/// The CSV columns, in order.
pub const COLUMNS: [&str; 18] = [
    "post",
    "channel",
    "network",
    "category",
    "campaign",
    "at",
    "state",
    "published_at",
    "late_s",
    "url",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "impressions",
    "clicks",
    "fetched_at",
    "interactions",
];

/// Renders the report's posts as CSV (RFC 4180, a header line first). A figure the network does
/// not give is an empty cell, never 0.
///
/// # Errors
/// [`ReportError::Csv`] if the writer fails (it writes to memory, so only on a bug).
pub fn csv(report: &Report) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for p in &report.posts {
        let m = p.metrics.unwrap_or_default();
        let metrics = crieur_core::engagement::Metrics {
            likes: m.likes,
            reposts: m.reposts,
            replies: m.replies,
            quotes: m.quotes,
            impressions: m.impressions,
            clicks: m.clicks,
        };
        w.write_record([
            p.post.clone(),
            p.channel.clone(),
            p.network.clone(),
            p.category.clone().unwrap_or_default(),
            p.campaign.clone().unwrap_or_default(),
            p.at.clone(),
            p.state.clone(),
            p.published_at.clone().unwrap_or_default(),
            p.late_s.map(|s| s.to_string()).unwrap_or_default(),
            p.url.clone().unwrap_or_default(),
            opt(m.likes),
            opt(m.reposts),
            opt(m.replies),
            opt(m.quotes),
            opt(m.impressions),
            opt(m.clicks),
            m.fetched_at.map(|t| t.to_string()).unwrap_or_default(),
            opt(metrics.interactions()),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| ReportError::Csv(e.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
