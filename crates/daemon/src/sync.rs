//! Files -> deliveries: what the daemon asks the store to hold, computed like the preview.
//!
//! The store's state becomes the scheduler's [`History`]: published and failed deliveries take no
//! slot; deliveries in flight keep their instant; a queued delivery whose slot passed while the
//! daemon was down keeps it when `[queue] missed = "publish-late"` and it is within `max_late`
//! (it goes out now), else its post goes to the channel's next free slot. Everything else is laid
//! afresh from now, so editing the files reorders what has not gone out yet.

use std::collections::HashMap;
use std::sync::Arc;

use crieur_config::{Config, Missed};
use crieur_core::{Clock, Network, Post};
use crieur_scheduler::{History, Prior};
use crieur_store::{DesiredDelivery, State, StatusReport, Store, SyncReport};
use jiff::{SignedDuration, Timestamp};

use crate::Error;
use crate::plan::{self, Judge};

/// How far ahead deliveries are written to the store. Posts beyond it are added by a later sync
/// (the daemon syncs hourly and at every change).
pub const HORIZON: SignedDuration = SignedDuration::from_hours(24 * 7 * 12);

/// How late a slot may be and still go out under `missed = "skip"`.
pub const SKIP_GRACE: SignedDuration = SignedDuration::from_secs(60);

/// The history the scheduler needs, from what the store knows.
pub fn history(config: &Config, posts: &[Post], status: &StatusReport, now: Timestamp) -> History {
    let mut history = History::new();
    let fixed: HashMap<&str, bool> =
        posts.iter().map(|p| (p.id.as_str(), p.at.is_some())).collect();
    // With "skip", a slot a few seconds past is not a missed one: a sync that lands just after a
    // slot (a file saved at 09:15:00.2) must not push the post due at 09:15 to the next slot.
    let earliest_late = match config.queue.missed {
        Missed::PublishLate => now - config.queue.max_late,
        Missed::Skip => now - SKIP_GRACE,
    };
    for row in status.deliveries.iter().filter(|r| r.item == 0) {
        let prior = match row.state {
            State::Published | State::Failed => Some(Prior::Done),
            State::Publishing | State::Unknown | State::Retrying => Some(Prior::At(row.due_at)),
            State::Queued if row.due_at < now => {
                if row.due_at >= earliest_late {
                    Some(Prior::At(row.due_at))
                } else if fixed.get(row.post.as_str()).copied().unwrap_or(false) {
                    Some(Prior::Requeue)
                } else {
                    None
                }
            }
            State::Queued | State::Cancelled => None,
        };
        if let Some(prior) = prior {
            history.record(&row.post, &row.channel, prior);
        }
    }
    // A fixed time already past when the post is first read follows the same rule.
    let channels: HashMap<&str, &crieur_core::Channel> =
        config.channels.iter().map(|(n, c)| (n.as_str(), &c.channel)).collect();
    for post in posts {
        let Some(at) = post.at else { continue };
        for name in &post.channels {
            let Some(channel) = channels.get(name.as_str()) else { continue };
            if history.get(&post.id, name).is_some() {
                continue;
            }
            let Some(instant) = crieur_scheduler::fixed_instant(at, &channel.timezone) else {
                continue;
            };
            if instant.timestamp() < earliest_late {
                history.record(&post.id, name, Prior::Requeue);
            }
        }
    }
    history
}

/// The stable id of the delivery of thread item `item` of `post` on `channel`.
pub fn delivery_id(post: &str, channel: &str, item: u32) -> String {
    format!("{post}:{channel}:{item}")
}

/// Every delivery the files ask for over [`HORIZON`] from `now`, given what the store knows.
///
/// Posts already settled (published or failed) keep their instant, so the rest of their thread
/// stays queued behind them instead of being cancelled.
///
/// # Errors
/// When a cadence cannot be laid.
pub fn desired(
    config: &Config,
    posts: &[Post],
    status: &StatusReport,
    now: Timestamp,
) -> Result<Vec<DesiredDelivery>, Error> {
    let history = history(config, posts, status, now);
    let channels = plan::channels(config);
    let mut placements = crieur_scheduler::assign(&channels, posts, &history, now, now + HORIZON)?;
    let index: HashMap<&str, usize> =
        posts.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    for row in status.deliveries.iter().filter(|r| r.item == 0) {
        if !matches!(row.state, State::Published | State::Failed) {
            continue;
        }
        let (Some(&post), Some(channel)) =
            (index.get(row.post.as_str()), channels.iter().find(|c| c.name == row.channel))
        else {
            continue;
        };
        if !posts[post].channels.contains(&row.channel) {
            continue;
        }
        placements.push(crieur_scheduler::Placement {
            post,
            channel: row.channel.clone(),
            at: row.due_at.to_zoned(channel.timezone.clone()),
            fixed: false,
        });
    }
    let by_name: HashMap<&str, &crieur_core::Channel> =
        channels.iter().map(|c| (c.name.as_str(), c)).collect();
    let judge = Judge::new(config);
    let mut out = Vec::with_capacity(placements.len());
    for p in placements {
        let (Some(post), Some(channel)) = (posts.get(p.post), by_name.get(p.channel.as_str()))
        else {
            continue;
        };
        let rendered = judge.render(post, channel);
        // Only X has threads: elsewhere the follow-ups are not sent (a per-network variant can
        // carry its own text instead).
        let thread = if channel.network == Network::X { &rendered.thread[..] } else { &[] };
        let items = std::iter::once(rendered.text.clone()).chain(thread.iter().cloned());
        for (item, text) in items.enumerate() {
            let item = u32::try_from(item).unwrap_or(u32::MAX);
            out.push(DesiredDelivery {
                id: delivery_id(&post.id, &channel.name, item),
                post: post.id.clone(),
                channel: channel.name.clone(),
                item,
                network: channel.network,
                due_at: p.at.timestamp(),
                text,
                link: if item == 0 { rendered.link.clone() } else { None },
                category: post.category.clone(),
                article: if item == 0 { post.article.clone() } else { None },
            });
        }
    }
    Ok(out)
}

/// Re-reads the post files and makes the store match: one daemon's config, store and clock.
pub struct Syncer {
    /// The config whose queue is read.
    pub config: Config,
    /// The store that holds the deliveries.
    pub store: Arc<dyn Store>,
    /// The daemon's clock.
    pub clock: Arc<dyn Clock>,
}

impl Syncer {
    /// Reads the post files, computes the [`desired`] deliveries from the store's state, and
    /// writes them; logs what changed and every edit that comes too late to be sent.
    ///
    /// # Errors
    /// When a post file is invalid (the store is left as it was), a cadence cannot be laid, or
    /// the store fails.
    pub async fn sync(&self) -> Result<SyncReport, Error> {
        let posts = crieur_config::load_posts(&self.config)?;
        let now = self.clock.now();
        let status = self.store.status().await?;
        let desired = desired(&self.config, &posts, &status, now)?;
        let report = self.store.sync(&desired, now).await?;
        for id in &report.edited_after_publish {
            tracing::warn!(delivery = %id, "a published post was edited in the files; it is not republished");
        }
        for id in &report.edited_in_flight {
            tracing::warn!(delivery = %id, "a post being sent was edited; the edit applies only if it is sent again");
        }
        if !report.is_noop() {
            tracing::info!(
                inserted = report.inserted,
                updated = report.updated,
                revived = report.revived,
                cancelled = report.cancelled,
                "queue synced from the post files"
            );
        }
        Ok(report)
    }
}
