//! The live calendar that the daemon's endpoint serves (`/calendar.ics` and `/`): the plan of a
//! window as `preview` builds it, each post with its state in the store, and what already went
//! out (with its URL) in the slot it was due at.
//!
//! Built from the same [`plan::assess`] and [`super::build`] as `preview`, so the feed shows the
//! same slots and the same texts; the store only adds states. A delivery the store holds and the
//! plan no longer lays (published, failed, cancelled: they take no slot) is put back at its due
//! instant, in place of the empty slot the plan shows there.

use std::collections::HashMap;

use crieur_config::Config;
use crieur_core::Post;
use crieur_store::{State, StatusRow};
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use super::{Entry, Preview};
use crate::plan::{self, Known};

/// What the store says of one entry of the live calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// One of `status`'s states (`queued`, `publishing`, `published`, `retrying`, `failed`,
    /// `unknown`, `cancelled`), `held` for a queued post whose channel is held (credentials
    /// refused, rate limited, endpoint gone), or `planned` for a post the store does not hold
    /// yet (beyond the sync horizon, or a file saved since the last sync).
    pub state: String,
    /// The public URL, once published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was published, RFC 3339 in the channel's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Why it failed, waits, or is held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The live calendar of [`from`, `to`) at `now`: [`plan::assess`] and [`super::build`] over the
/// posts, with [`Entry::status`] filled from `known` (the store's deliveries, history and server
/// limits).
///
/// # Errors
/// When a cadence cannot be laid.
pub fn build(
    config: &Config,
    posts: &[Post],
    known: &Known,
    from: &Zoned,
    to: &Zoned,
    now: Timestamp,
) -> Result<Preview, crate::Error> {
    let assessed =
        plan::assess(config, posts, known, from.timestamp(), to.timestamp(), now, false)?;
    let mut preview = super::build(config, posts, &assessed, from, to, &[]);
    let rows: HashMap<(&str, &str), &StatusRow> = known
        .status
        .deliveries
        .iter()
        .filter(|r| r.item == 0)
        .map(|r| ((r.post.as_str(), r.channel.as_str()), r))
        .collect();
    let held: HashMap<&str, String> = known
        .status
        .channels
        .iter()
        .filter_map(|c| {
            let hold = c.hold.as_ref().filter(|(until, _)| *until > now);
            match (hold, &c.revoked) {
                (Some((until, why)), _) => {
                    Some((c.channel.as_str(), format!("{why} (until {until})")))
                }
                (None, Some(why)) => {
                    Some((c.channel.as_str(), format!("{why}; run `crieur auth {}`", c.channel)))
                }
                (None, None) => None,
            }
        })
        .collect();
    let zone_of = |channel: &str| {
        config
            .channels
            .get(channel)
            .map_or_else(|| config.timezone.clone(), |c| c.channel.timezone.clone())
    };
    let mut shown: Vec<(String, String)> = Vec::new();
    for entry in &mut preview.entries {
        let Some(post) = &entry.post else { continue };
        shown.push((post.clone(), entry.channel.clone()));
        let row = rows.get(&(post.as_str(), entry.channel.as_str())).copied();
        entry.status = Some(match row {
            Some(row) => status_of(row, held.get(entry.channel.as_str()), &zone_of(&entry.channel)),
            None => Status { state: "planned".into(), url: None, published_at: None, reason: None },
        });
    }
    // What the plan does not lay any more: it went out, failed or was cancelled.
    let texts: HashMap<(&str, &str), &str> = known
        .history
        .iter()
        .filter(|h| h.item == 0)
        .map(|h| ((h.post.as_str(), h.channel.as_str()), h.text.as_str()))
        .collect();
    let by_id: HashMap<&str, &Post> = posts.iter().map(|p| (p.id.as_str(), p)).collect();
    let judge = plan::Judge::new(config);
    let mut past = Vec::new();
    for row in known.status.deliveries.iter().filter(|r| r.item == 0) {
        if row.due_at < from.timestamp() || row.due_at >= to.timestamp() {
            continue;
        }
        if shown.iter().any(|(p, c)| *p == row.post && *c == row.channel) {
            continue;
        }
        let Some(channel) = config.channels.get(&row.channel) else { continue };
        let at = row.due_at.to_zoned(channel.channel.timezone.clone());
        let text =
            texts.get(&(row.post.as_str(), row.channel.as_str())).map(|t| (*t).to_owned()).or_else(
                || by_id.get(row.post.as_str()).map(|p| judge.render(p, &channel.channel).text),
            );
        past.push(Entry {
            at: plan::rfc3339(&at),
            channel: row.channel.clone(),
            network: row.network.to_string(),
            post: Some(row.post.clone()),
            text,
            length: None,
            media: by_id
                .get(row.post.as_str())
                .map(|p| crate::media::views(config, &assessed.media, p, &channel.channel))
                .unwrap_or_default(),
            diagnostics: Vec::new(),
            thread: Vec::new(),
            link: None,
            fixed: false,
            source: by_id.get(row.post.as_str()).map(|p| p.location.to_string()),
            status: Some(status_of(row, held.get(row.channel.as_str()), &at.time_zone().clone())),
        });
    }
    // A delivery back in its slot takes the place of the empty slot the plan shows there.
    preview.entries.retain(|e| {
        e.post.is_some() || !past.iter().any(|p| p.channel == e.channel && p.at == e.at)
    });
    preview.entries.extend(past);
    preview.entries.sort_by_cached_key(|e| (e.at.parse::<Timestamp>().ok(), e.channel.clone()));
    Ok(preview)
}

fn status_of(row: &StatusRow, held: Option<&String>, zone: &jiff::tz::TimeZone) -> Status {
    let state = match row.state {
        State::Queued | State::Retrying if held.is_some() => "held".to_owned(),
        s => s.as_str().to_owned(),
    };
    let reason = match row.state {
        State::Queued | State::Retrying if held.is_some() => held.cloned(),
        State::Published | State::Queued => None,
        _ => row.error.clone(),
    };
    Status {
        state,
        url: row.url.clone(),
        published_at: row.published_at.map(|t| plan::rfc3339(&t.to_zoned(zone.clone()))),
        reason,
    }
}

/// The window the endpoint shows: from 00:00 of the Monday of `now`'s week in the config's zone,
/// `weeks` weeks long.
///
/// # Errors
/// When the dates run out of jiff's range.
pub fn window(config: &Config, now: Timestamp, weeks: i64) -> Result<(Zoned, Zoned), crate::Error> {
    let today = now.to_zoned(config.timezone.clone()).date();
    let back = i64::from(today.weekday().to_monday_zero_offset());
    let monday = today.checked_sub(jiff::Span::new().days(back))?;
    let from = plan::start_of(config, monday)?;
    let to = plan::start_of(config, monday.checked_add(jiff::Span::new().weeks(weeks))?)?;
    Ok((from, to))
}
