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
        // Only X, Mastodon and Bluesky have threads: elsewhere the follow-ups are not sent (a
        // per-network variant can carry its own text instead).
        let thread = if matches!(channel.network, Network::X | Network::Mastodon | Network::Bluesky)
        {
            &rendered.thread[..]
        } else {
            &[]
        };
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
                media: crate::media::for_delivery(config, post, channel, item as usize),
                options: post
                    .options_for(&channel.name, channel.network)
                    .for_network(channel.network, item),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_core::Outcome;
    use crieur_scheduler::Prior;
    use crieur_store::RetryPolicy;

    use super::*;
    use crate::testing::{NOW, POSTS, Project, ts};

    fn due(desired: &[DesiredDelivery]) -> Vec<(String, Timestamp)> {
        desired.iter().map(|d| (d.id.clone(), d.due_at)).collect()
    }

    /// Syncs at `NOW`, then publishes `hello` at its slot (23 March, 07:00 UTC).
    async fn hello_published(project: &Project) -> Syncer {
        let syncer = project.syncer(ts(NOW)).await;
        syncer.sync().await.unwrap();
        let at = ts("2026-03-23T07:00:00Z");
        let claimed =
            syncer.store.claim_due("test", at, SignedDuration::from_secs(60), 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        let published = Outcome::Published { remote_id: "1".into(), url: None };
        let d = &claimed[0].delivery;
        syncer
            .store
            .complete("test", &d.id, d.attempt, &published, at, &RetryPolicy::default())
            .await
            .unwrap();
        syncer
    }

    #[test]
    fn posts_become_one_delivery_each_on_the_channels_next_free_slots() {
        let project = Project::new(POSTS);
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let desired = desired(&config, &posts, &StatusReport::default(), ts(NOW)).unwrap();
        assert_eq!(
            due(&desired),
            [
                ("hello:blog:0".to_owned(), ts("2026-03-23T07:00:00Z")),
                // Paris is on summer time from 29 March: 08:00 is 06:00 UTC.
                ("world:blog:0".to_owned(), ts("2026-03-30T06:00:00Z")),
            ]
        );
        assert_eq!(desired[0].text, "Hello");
        assert_eq!(desired[0].network, Network::Webhook);
    }

    #[test]
    fn only_x_sends_the_follow_ups_of_a_thread() {
        let thread = "[[post]]\nid = \"t\"\nchannels = [\"blog\", \"x\"]\ntext = \"One\"\n\n\
                      [[post.thread]]\ntext = \"Two\"\n";
        let project = Project::new(thread);
        let x = "\n[channels.x]\nnetwork = \"x\"\ncadence = [\"Mon 08:00\"]\n\
                 access_token = \"env:X_ACCESS_TOKEN\"\n";
        project.write("crieur.toml", &(project.config_text("Mon 08:00") + x));
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let desired = desired(&config, &posts, &StatusReport::default(), ts(NOW)).unwrap();
        let items: Vec<(&str, &str)> =
            desired.iter().map(|d| (d.id.as_str(), d.text.as_str())).collect();
        assert_eq!(items, [("t:blog:0", "One"), ("t:x:0", "One"), ("t:x:1", "Two")]);
    }

    #[tokio::test]
    async fn a_sync_writes_the_deliveries_once_and_a_second_sync_changes_nothing() {
        let project = Project::new(POSTS);
        let syncer = project.syncer(ts(NOW)).await;
        let first = syncer.sync().await.unwrap();
        assert_eq!(first.inserted, 2);
        let status = syncer.store.status().await.unwrap();
        let states: Vec<(&str, State)> =
            status.deliveries.iter().map(|r| (r.id.as_str(), r.state)).collect();
        assert_eq!(states, [("hello:blog:0", State::Queued), ("world:blog:0", State::Queued)]);
        assert!(syncer.sync().await.unwrap().is_noop());
    }

    #[tokio::test]
    async fn a_published_delivery_is_read_back_as_done_and_keeps_its_instant() {
        let project = Project::new(POSTS);
        let syncer = hello_published(&project).await;
        let later = ts("2026-03-24T12:00:00Z");
        let status = syncer.store.status().await.unwrap();
        let posts = crieur_config::load_posts(&syncer.config).unwrap();
        let history = history(&syncer.config, &posts, &status, later);
        assert_eq!(history.get("hello", "blog"), Some(Prior::Done));
        assert_eq!(history.get("world", "blog"), None);
        let desired = desired(&syncer.config, &posts, &status, later).unwrap();
        assert_eq!(
            due(&desired),
            [
                ("world:blog:0".to_owned(), ts("2026-03-30T06:00:00Z")),
                ("hello:blog:0".to_owned(), ts("2026-03-23T07:00:00Z")),
            ]
        );
        let known = crate::plan::known(&syncer.config, later).await.unwrap();
        let went_out: Vec<(&str, &str)> =
            known.history.iter().map(|h| (h.post.as_str(), h.text.as_str())).collect();
        assert_eq!(went_out, [("hello", "Hello")]);
    }

    #[tokio::test]
    async fn a_slot_missed_while_down_keeps_its_instant_within_max_late_else_the_post_moves_on() {
        let project = Project::new(POSTS);
        let syncer = project.syncer(ts(NOW)).await;
        syncer.sync().await.unwrap();
        let status = syncer.store.status().await.unwrap();
        let posts = crieur_config::load_posts(&syncer.config).unwrap();
        let config = &syncer.config;

        let half_an_hour_late = ts("2026-03-23T07:30:00Z");
        assert_eq!(
            history(config, &posts, &status, half_an_hour_late).get("hello", "blog"),
            Some(Prior::At(ts("2026-03-23T07:00:00Z")))
        );
        let desired_late = desired(config, &posts, &status, half_an_hour_late).unwrap();
        assert_eq!(desired_late[0].due_at, ts("2026-03-23T07:00:00Z"));

        // Past the default `max_late` of two hours: laid afresh on the next free slots.
        let three_hours_late = ts("2026-03-23T10:00:00Z");
        assert_eq!(history(config, &posts, &status, three_hours_late).get("hello", "blog"), None);
        let moved = desired(config, &posts, &status, three_hours_late).unwrap();
        assert_eq!(
            due(&moved),
            [
                ("hello:blog:0".to_owned(), ts("2026-03-30T06:00:00Z")),
                ("world:blog:0".to_owned(), ts("2026-04-06T06:00:00Z")),
            ]
        );
    }

    #[tokio::test]
    async fn an_invalid_post_file_fails_the_sync_and_leaves_the_queue_as_it_was() {
        let project = Project::new(POSTS);
        let syncer = project.syncer(ts(NOW)).await;
        syncer.sync().await.unwrap();
        let before = syncer.store.status().await.unwrap();
        project.write("posts/a.toml", "[[post]]\nid = \"hello\"\nchannels = [\"nowhere\"]\n");
        let err = syncer.sync().await.unwrap_err();
        assert!(matches!(err, Error::Files(_)), "{err:?}");
        let health = crate::health::FilesHealth::default();
        assert!(!crate::supervisor::resync(&syncer, &health).await, "the re-sync reports it");
        assert!(health.is_invalid(crate::health::Files::Posts));
        assert_eq!(syncer.store.status().await.unwrap(), before);
    }
}
