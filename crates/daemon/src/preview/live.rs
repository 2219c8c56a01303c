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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_core::Network;
    use crieur_store::{ChannelStatus, HistoryEntry};

    use super::*;
    use crate::testing::{NOW, POSTS, Project, ts};

    fn row(post: &str, state: State, due: &str, url: Option<&str>) -> StatusRow {
        StatusRow {
            id: crate::sync::delivery_id(post, "blog", 0),
            post: post.into(),
            channel: "blog".into(),
            item: 0,
            network: Network::Webhook,
            state,
            reconciling: false,
            due_at: ts(due),
            not_before: None,
            published_at: url.map(|_| ts(due) + jiff::SignedDuration::from_millis(3)),
            remote_id: url.map(|_| "r1".into()),
            url: url.map(Into::into),
            attempts: u32::from(url.is_some()),
            error: None,
        }
    }

    #[test]
    fn what_went_out_takes_back_its_slot_and_a_held_channel_says_so() {
        let project = Project::new(POSTS);
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let (from, to) = window(&config, ts(NOW), 2).unwrap();
        assert_eq!(
            (from.date().to_string(), to.date().to_string()),
            ("2026-03-16".into(), "2026-03-30".into())
        );
        let url = "https://blog.example.com/old";
        let mut known = Known::default();
        known.status.deliveries = vec![
            row("old", State::Published, "2026-03-16T07:00:00Z", Some(url)),
            row("hello", State::Queued, "2026-03-23T07:00:00Z", None),
        ];
        known.status.channels = vec![ChannelStatus {
            channel: "blog".into(),
            token_expires_at: None,
            has_tokens: false,
            revoked: None,
            hold: Some((ts("2026-03-25T00:00:00Z"), "the endpoint is gone".into())),
        }];
        known.history = vec![HistoryEntry {
            post: "old".into(),
            channel: "blog".into(),
            item: 0,
            network: Network::Webhook,
            published_at: ts("2026-03-16T07:00:00Z"),
            text: "Old news".into(),
            remote_id: Some("r1".into()),
            url: Some(url.into()),
        }];
        let preview = build(&config, &posts, &known, &from, &to, ts(NOW)).unwrap();
        let shown: Vec<(&str, Option<&str>, Option<&str>)> = preview
            .entries
            .iter()
            .map(|e| {
                (e.at.as_str(), e.post.as_deref(), e.status.as_ref().map(|s| s.state.as_str()))
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("2026-03-16T08:00:00+01:00", Some("old"), Some("published")),
                ("2026-03-23T08:00:00+01:00", Some("hello"), Some("held")),
            ],
            "the empty slot of 16 March gives way to what went out there"
        );
        let old = preview.entries[0].status.as_ref().unwrap();
        assert_eq!(old.url.as_deref(), Some(url));
        assert_eq!(preview.entries[0].text.as_deref(), Some("Old news"));
        let held = preview.entries[1].status.as_ref().unwrap();
        assert!(held.reason.as_deref().unwrap().starts_with("the endpoint is gone"), "{held:?}");

        // Without the hold, and without the row: queued, then planned.
        known.status.channels.clear();
        let preview = build(&config, &posts, &known, &from, &to, ts(NOW)).unwrap();
        assert_eq!(preview.entries[1].status.as_ref().unwrap().state, "queued");
        known.status.deliveries.truncate(1);
        let preview = build(&config, &posts, &known, &from, &to, ts(NOW)).unwrap();
        assert_eq!(preview.entries[1].status.as_ref().unwrap().state, "planned");
    }
}
