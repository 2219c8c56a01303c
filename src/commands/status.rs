//! `crieur status`: what the database knows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::ValueEnum;
use crieur_core::engagement::Snapshot;
use crieur_store::{OpenOptions, StatusReport, StoreError};
use serde::Serialize;

use crate::Outcome;
use crate::commands::Context;

/// Output format of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// The JSON document of the CLI contract.
    Json,
}

/// `crieur status` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, Serialize)]
struct Doc {
    posts: Vec<PostRow>,
    channels: Vec<ChannelRow>,
}

#[derive(Debug, Serialize)]
struct PostRow {
    post: String,
    channel: String,
    item: u32,
    state: String,
    at: String,
    remote_id: Option<String>,
    url: Option<String>,
    attempts: u32,
    error: Option<String>,
    published_at: Option<String>,
    not_before: Option<String>,
    /// The latest engagement snapshot (`null` before the first; a figure the network does not
    /// give is `null`, never 0).
    metrics: Option<crieur_report::MetricsRow>,
}

#[derive(Debug, Serialize)]
struct ChannelRow {
    channel: String,
    network: String,
    token_expires_at: Option<String>,
    revoked: Option<String>,
    held_until: Option<String>,
    hold_reason: Option<String>,
}

/// Prints every delivery and channel the database knows.
///
/// # Errors
/// When the config is invalid or the database cannot be read.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let config = ctx.load_config()?;
    let rt = crate::commands::runtime()?;
    let report = rt.block_on(async {
        let store = crieur_store::open(
            &config.storage.url,
            OpenOptions { read_only: true, migrate: false, ..OpenOptions::default() },
        )
        .await;
        let store = match store {
            Ok(store) => store,
            Err(StoreError::Missing { .. } | StoreError::NoSchema(_)) => return anyhow::Ok(None),
            Err(e) => return Err(e.into()),
        };
        let report = store.status().await;
        let latest = store.latest_snapshots().await;
        store.close().await;
        let latest = latest.unwrap_or_else(|e| {
            eprintln!("warning: the engagement figures cannot be read: {e}");
            Vec::new()
        });
        anyhow::Ok(Some((report?, latest)))
    })?;
    let fresh = report.is_none();
    let doc = match report {
        Some((report, latest)) => {
            let mut doc = document(&config, &report, ctx.now());
            let figures: BTreeMap<&str, &Snapshot> =
                latest.iter().map(|s| (s.delivery.as_str(), s)).collect();
            for (row, d) in doc.posts.iter_mut().zip(&report.deliveries) {
                row.metrics =
                    figures.get(d.id.as_str()).map(|s| crieur_report::MetricsRow::from(*s));
            }
            doc
        }
        None => queue(ctx, &config)?,
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        Format::Table if fresh => {
            print!("nothing has been published yet (no database yet)\n\n{}", table(&doc))
        }
        Format::Table => print!("{}", table(&doc)),
    }
    let bad = doc.posts.iter().any(|p| p.state == "failed" || p.state == "unknown");
    Ok(if bad { Outcome::Problems } else { Outcome::Success })
}

/// Without a database: what the files queue over the next four weeks, each `queued`.
fn queue(ctx: &Context, config: &crieur_config::Config) -> anyhow::Result<Doc> {
    let (_, posts) = ctx.load()?;
    let (now, known) = (ctx.now(), crieur_daemon::plan::Known::default());
    let to = now + jiff::SignedDuration::from_hours(24 * 28);
    let plan = crieur_daemon::plan::assess(config, &posts, &known, now, to, now, false)?;
    let posts = plan.calendar.entries.iter().filter_map(|e| {
        Some(PostRow {
            post: posts.get(e.post?)?.id.clone(),
            channel: e.channel.clone(),
            item: 0,
            state: "queued".into(),
            at: crate::commands::rfc3339(&e.at),
            remote_id: None,
            url: None,
            attempts: 0,
            error: None,
            published_at: None,
            not_before: None,
            metrics: None,
        })
    });
    let report = StatusReport::default();
    Ok(Doc { posts: posts.collect(), ..document(config, &report, now) })
}

fn document(config: &crieur_config::Config, report: &StatusReport, now: jiff::Timestamp) -> Doc {
    let zone = |channel: &str| {
        config
            .channels
            .get(channel)
            .map_or_else(|| config.timezone.clone(), |c| c.channel.timezone.clone())
    };
    let posts = report
        .deliveries
        .iter()
        .map(|r| PostRow {
            post: r.post.clone(),
            channel: r.channel.clone(),
            item: r.item,
            state: r.state.as_str().to_owned(),
            at: crate::commands::rfc3339(&r.due_at.to_zoned(zone(&r.channel))),
            remote_id: r.remote_id.clone(),
            url: r.url.clone(),
            attempts: r.attempts,
            error: r.error.clone(),
            published_at: r
                .published_at
                .map(|t| crate::commands::rfc3339(&t.to_zoned(zone(&r.channel)))),
            not_before: r.not_before.map(|t| t.to_string()),
            metrics: None,
        })
        .collect();
    let known: BTreeMap<&str, &crieur_store::ChannelStatus> =
        report.channels.iter().map(|c| (c.channel.as_str(), c)).collect();
    let channels = config
        .channels
        .iter()
        .map(|(name, c)| {
            let st = known.get(name.as_str());
            let hold = st.and_then(|s| s.hold.clone()).filter(|(until, _)| *until > now);
            ChannelRow {
                channel: name.clone(),
                network: c.channel.network.to_string(),
                token_expires_at: st.and_then(|s| s.token_expires_at).map(|t| t.to_string()),
                revoked: st.and_then(|s| s.revoked.clone()),
                held_until: hold.as_ref().map(|(t, _)| t.to_string()),
                hold_reason: hold.map(|(_, r)| r),
            }
        })
        .collect();
    Doc { posts, channels }
}

fn table(doc: &Doc) -> String {
    let mut out = String::new();
    let _ =
        writeln!(out, "{:<10} {:<25} {:<18} {:<28} URL / ERROR", "STATE", "AT", "CHANNEL", "POST");
    for p in &doc.posts {
        let post = if p.item == 0 { p.post.clone() } else { format!("{} #{}", p.post, p.item) };
        let detail = match (&p.url, &p.error) {
            (Some(url), _) => url.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        let _ =
            writeln!(out, "{:<10} {:<25} {:<18} {:<28} {detail}", p.state, p.at, p.channel, post);
        if let Some(m) = &p.metrics {
            let _ = writeln!(out, "{:<10} {}", "", m.line());
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &doc.posts {
        *counts.entry(p.state.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let _ = writeln!(
        out,
        "\n{}",
        if summary.is_empty() { "nothing yet".into() } else { summary.join(", ") }
    );
    for c in &doc.channels {
        let mut notes = Vec::new();
        if let Some(t) = &c.token_expires_at {
            notes.push(format!("token expires {t}"));
        }
        if let Some(r) = &c.revoked {
            notes.push(format!("needs `crieur auth {}`: {r}", c.channel));
        }
        if let (Some(u), Some(r)) = (&c.held_until, &c.hold_reason) {
            notes.push(format!("held until {u}: {r}"));
        }
        if !notes.is_empty() {
            let _ = writeln!(out, "{}: {}", c.channel, notes.join("; "));
        }
    }
    out
}
