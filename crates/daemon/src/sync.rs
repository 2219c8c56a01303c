//! Files -> deliveries: what the daemon asks the store to hold, computed like the preview.
//!
//! The store's state becomes the scheduler's [`History`]: published and failed deliveries take no
//! slot; deliveries in flight keep their instant; a queued delivery whose slot passed while the
//! daemon was down keeps it when `[queue] missed = "publish-late"` and it is within `max_late`
//! (it goes out now), else its post goes to the channel's next free slot. Everything else is laid
//! afresh from now, so editing the files reorders what has not gone out yet.
//!
//! A sync costs what changed, not the size of the queue. The store keeps a file index (a hash
//! of each post file's bytes and a compact form of its posts: id, channels, fixed time, priority,
//! place in the file) and the fingerprint of the config it was synced with. A sync hashes the
//! files, parses only those whose bytes changed, lays the whole queue from the compact forms (the
//! calendar needs every post), renders only the posts of the changed files (and of any file
//! holding a placement the store lacks), and for the other posts writes only due-time moves and
//! cancellations. A new config fingerprint (channels, cadences, policy, or another crieur
//! version), a file that cannot be read or parsed, or an index that cannot be read leads to a
//! full sync, which is what the incremental one must equal (a property test checks it).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crieur_config::{Config, Missed, PostSource};
use crieur_core::{Channel, Clock, Network, Post, PostTime};
use crieur_scheduler::{History, Placement, Prior};
use crieur_store::{
    DesiredDelivery, DueMove, FileIndex, FileSync, IndexedFile, Placed, State, StatusReport, Store,
    SyncReport,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::plan::{self, Judge};

/// How far ahead deliveries are written to the store. Posts beyond it are added by a later sync
/// (the daemon syncs hourly and at every change).
pub const HORIZON: SignedDuration = SignedDuration::from_hours(24 * 7 * 12);

/// How late a slot may be and still go out under `missed = "skip"`.
pub const SKIP_GRACE: SignedDuration = SignedDuration::from_secs(60);

/// Item 0 of a (post, channel) as the store holds it: what laying needs of the history.
#[derive(Debug, Clone, Copy)]
struct Row<'a> {
    post: &'a str,
    channel: &'a str,
    state: State,
    due_at: Timestamp,
}

impl<'a> From<&'a Placed> for Row<'a> {
    fn from(p: &'a Placed) -> Self {
        Row { post: &p.post, channel: &p.channel, state: p.state, due_at: p.due_at }
    }
}

/// The history the scheduler needs, from what the store knows.
pub fn history(config: &Config, posts: &[Post], status: &StatusReport, now: Timestamp) -> History {
    let rows: Vec<Row<'_>> = status
        .deliveries
        .iter()
        .filter(|r| r.item == 0)
        .map(|r| Row { post: &r.post, channel: &r.channel, state: r.state, due_at: r.due_at })
        .collect();
    history_of(config, posts, &rows, now)
}

fn history_of(config: &Config, posts: &[Post], rows: &[Row<'_>], now: Timestamp) -> History {
    let mut history = History::new();
    let fixed: HashMap<&str, bool> =
        posts.iter().map(|p| (p.id.as_str(), p.at.is_some())).collect();
    // With "skip", a slot a few seconds past is not a missed one: a sync that lands just after a
    // slot (a file saved at 09:15:00.2) must not push the post due at 09:15 to the next slot.
    let earliest_late = match config.queue.missed {
        Missed::PublishLate => now - config.queue.max_late,
        Missed::Skip => now - SKIP_GRACE,
    };
    for row in rows {
        let prior = match row.state {
            State::Published | State::Failed => Some(Prior::Done),
            State::Publishing | State::Unknown | State::Retrying => Some(Prior::At(row.due_at)),
            State::Queued if row.due_at < now => {
                if row.due_at >= earliest_late {
                    Some(Prior::At(row.due_at))
                } else if fixed.get(row.post).copied().unwrap_or(false) {
                    Some(Prior::Requeue)
                } else {
                    None
                }
            }
            State::Queued | State::Cancelled => None,
        };
        if let Some(prior) = prior {
            history.record(row.post, row.channel, prior);
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
    let rows: Vec<Row<'_>> = status
        .deliveries
        .iter()
        .filter(|r| r.item == 0 && r.state != State::Cancelled)
        .map(|r| Row { post: &r.post, channel: &r.channel, state: r.state, due_at: r.due_at })
        .collect();
    let (channels, placements) = lay_out(config, posts, &rows, now)?;
    let mut out = Vec::with_capacity(placements.len());
    render(
        config,
        &channels,
        placements.iter().filter_map(|p| Some((posts.get(p.post)?, p))),
        &mut out,
    );
    Ok(out)
}

/// The queue laid over [`HORIZON`] from `now`: the config's channels, and every placement (the
/// scheduler's, plus the instant kept by each published or failed (post, channel) of `rows`).
fn lay_out(
    config: &Config,
    posts: &[Post],
    rows: &[Row<'_>],
    now: Timestamp,
) -> Result<(Vec<Channel>, Vec<Placement>), Error> {
    let history = history_of(config, posts, rows, now);
    let channels = plan::channels(config);
    let mut placements = crieur_scheduler::assign(&channels, posts, &history, now, now + HORIZON)?;
    let index: HashMap<&str, usize> =
        posts.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    for row in rows {
        if !matches!(row.state, State::Published | State::Failed) {
            continue;
        }
        let (Some(&post), Some(channel)) =
            (index.get(row.post), channels.iter().find(|c| c.name == row.channel))
        else {
            continue;
        };
        if !posts[post].channels.iter().any(|c| c == row.channel) {
            continue;
        }
        placements.push(Placement {
            post,
            channel: row.channel.to_owned(),
            at: row.due_at.to_zoned(channel.timezone.clone()),
            fixed: false,
        });
    }
    Ok((channels, placements))
}

/// Renders each (post, placement) of `placed` for its channel into `out`: one delivery per item.
fn render<'p>(
    config: &Config,
    channels: &[Channel],
    placed: impl Iterator<Item = (&'p Post, &'p Placement)>,
    out: &mut Vec<DesiredDelivery>,
) {
    let by_name: HashMap<&str, &Channel> = channels.iter().map(|c| (c.name.as_str(), c)).collect();
    let judge = Judge::new(config);
    for (post, p) in placed {
        let Some(channel) = by_name.get(p.channel.as_str()) else { continue };
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
}

/// What laying needs of one post, as the file index keeps it between syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Skeleton {
    id: String,
    #[serde(rename = "c")]
    channels: Vec<String>,
    /// `c:` and a civil time, or `i:` and an instant.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    #[serde(rename = "p", default, skip_serializing_if = "is_zero")]
    priority: i64,
    /// The post's index among the file's entries.
    #[serde(rename = "n", default, skip_serializing_if = "is_zero_usize")]
    index_in_file: usize,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

impl Skeleton {
    fn of(post: &Post) -> Self {
        Skeleton {
            id: post.id.clone(),
            channels: post.channels.clone(),
            at: post.at.map(|at| match at {
                PostTime::Civil(dt) => format!("c:{dt}"),
                PostTime::Instant(ts) => format!("i:{ts}"),
            }),
            priority: post.priority,
            index_in_file: post.index_in_file,
        }
    }

    /// The post as laying sees it (no text, no media), at `file_index` in the queue; `None`
    /// when its fixed time cannot be read back.
    fn post(self, path: &Path, file_index: usize) -> Option<Post> {
        let at = match self.at.as_deref() {
            None => None,
            Some(s) => Some(match s.split_at_checked(2)? {
                ("c:", dt) => PostTime::Civil(dt.parse().ok()?),
                ("i:", ts) => PostTime::Instant(ts.parse().ok()?),
                _ => return None,
            }),
        };
        Some(Post {
            id: self.id,
            location: crieur_core::Location::new(path, 1, 1),
            file_index,
            index_in_file: self.index_in_file,
            channels: self.channels,
            at,
            priority: self.priority,
            ..Post::default()
        })
    }
}

/// The lower-case hex SHA-256 of `bytes`.
fn hex_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of everything besides the post files that shapes the deliveries: the config
/// as loaded (channels, cadences, zones, policy, mentions, queue rules, server limits) and
/// crieur's version. A change forces a full sync.
pub fn fingerprint(config: &Config) -> String {
    hex_hash(format!("{}\n{config:?}", env!("CARGO_PKG_VERSION")).as_bytes())
}

/// The index entry of a file holding `posts`. (Writing the JSON cannot fail; if it did, the
/// entry would be empty, unreadable, and the next sync a full one.)
fn indexed(path: String, hash: String, posts: &[&Post]) -> IndexedFile {
    let skeletons: Vec<Skeleton> = posts.iter().map(|p| Skeleton::of(p)).collect();
    IndexedFile { path, hash, posts: serde_json::to_string(&skeletons).unwrap_or_default() }
}

/// A queue file in an incremental sync.
struct Entry {
    path: std::path::PathBuf,
    key: String,
    hash: String,
    /// The text, when the bytes changed since the index (or the file is new).
    text: Option<String>,
    /// The posts the index holds for this path.
    old: Option<Vec<Skeleton>>,
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
    /// Reads what changed in the post files, computes the deliveries from the store's state,
    /// and writes them; logs what changed and every edit that comes too late to be sent. Parses
    /// and renders only the files whose bytes changed since the last sync (see the module's
    /// documentation); the result is the one [`Syncer::sync_full`] gives.
    ///
    /// # Errors
    /// When a post file is invalid (the store is left as it was), a cadence cannot be laid, or
    /// the store fails.
    pub async fn sync(&self) -> Result<SyncReport, Error> {
        let now = self.clock.now();
        let fingerprint = fingerprint(&self.config);
        let index = self.store.file_index().await?;
        let report = if index.config.as_deref() == Some(fingerprint.as_str()) {
            match self.incremental(index, &fingerprint, now).await? {
                Some(report) => report,
                None => self.full(fingerprint, now).await?,
            }
        } else {
            drop(index);
            self.full(fingerprint, now).await?
        };
        log(&report);
        Ok(report)
    }

    /// Reads every post file, renders every (post, channel) and makes the store match.
    ///
    /// # Errors
    /// As [`Syncer::sync`].
    pub async fn sync_full(&self) -> Result<SyncReport, Error> {
        let report = self.full(fingerprint(&self.config), self.clock.now()).await?;
        log(&report);
        Ok(report)
    }

    async fn full(&self, fingerprint: String, now: Timestamp) -> Result<SyncReport, Error> {
        let config = &self.config;
        let loaded = crieur_config::post_sources(config)
            .and_then(|sources| Ok((crieur_config::read_posts(config, &sources)?, sources)));
        let (posts, sources) = match loaded {
            Ok(loaded) => loaded,
            // The errors exactly as `load_posts` reports them (every file, in order).
            Err(e) => return Err(crieur_config::load_posts(config).err().unwrap_or(e).into()),
        };
        let mut files = Vec::with_capacity(sources.len());
        let mut by_file: Vec<Vec<&Post>> = vec![Vec::new(); sources.len()];
        for post in &posts {
            if let Some(list) = by_file.get_mut(post.file_index) {
                list.push(post);
            }
        }
        for (source, posts) in sources.into_iter().zip(by_file) {
            let Some(key) = source.path.to_str() else { continue };
            files.push(indexed(key.to_owned(), hex_hash(source.text.as_bytes()), &posts));
        }
        let placed = self.store.placed().await?;
        let rows: Vec<Row<'_>> = placed.iter().map(Row::from).collect();
        let (channels, placements) = lay_out(config, &posts, &rows, now)?;
        let mut desired = Vec::with_capacity(placements.len());
        let pairs = placements.iter().filter_map(|p| Some((posts.get(p.post)?, p)));
        render(config, &channels, pairs, &mut desired);
        drop(rows);
        drop(placed);
        let sync =
            FileSync { desired, scope: None, config: fingerprint, files, ..FileSync::default() };
        Ok(self.store.sync_files(&sync, now).await?)
    }

    /// The sync of what changed since `index`; `None` when only a full sync can tell (a file
    /// unreadable or invalid, an id now in two files, an index entry that cannot be read).
    async fn incremental(
        &self,
        index: FileIndex,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Option<SyncReport>, Error> {
        let config = &self.config;
        let Ok(paths) = crieur_config::queue_files(config) else { return Ok(None) };
        let mut known: HashMap<String, IndexedFile> =
            index.files.into_iter().map(|f| (f.path.clone(), f)).collect();
        let mut entries = Vec::with_capacity(paths.len());
        for path in paths {
            let Some(key) = path.to_str().map(str::to_owned) else { return Ok(None) };
            let Ok(text) = crieur_config::read_post_file(&path) else { return Ok(None) };
            let hash = hex_hash(text.as_bytes());
            let (old, unchanged) = match known.remove(&key) {
                Some(f) => match serde_json::from_str::<Vec<Skeleton>>(&f.posts) {
                    Ok(old) => (Some(old), f.hash == hash),
                    Err(_) => return Ok(None),
                },
                None => (None, false),
            };
            entries.push(Entry { path, key, hash, text: (!unchanged).then_some(text), old });
        }
        let mut removed: Vec<(String, Vec<Skeleton>)> = Vec::with_capacity(known.len());
        for (path, f) in known {
            let Ok(old) = serde_json::from_str::<Vec<Skeleton>>(&f.posts) else { return Ok(None) };
            removed.push((path, old));
        }

        // Parse the changed files (ids unique among them; checked against the others below).
        let sources: Vec<PostSource> = entries
            .iter_mut()
            .enumerate()
            .filter_map(|(i, e)| {
                let text = e.text.take()?;
                Some(PostSource { file_index: i, path: e.path.clone(), text })
            })
            .collect();
        let changed: HashSet<usize> = sources.iter().map(|s| s.file_index).collect();
        let Ok(fresh) = crieur_config::read_posts(config, &sources) else { return Ok(None) };
        drop(sources);

        // The whole queue as laying sees it, in queue order, and the file of each post.
        // Sized once: growing ten thousand posts by doubling held two copies at the start's peak.
        let count = fresh.len()
            + entries
                .iter()
                .enumerate()
                .filter(|(i, _)| !changed.contains(i))
                .map(|(_, e)| e.old.as_ref().map_or(0, Vec::len))
                .sum::<usize>();
        let mut posts: Vec<Post> = Vec::with_capacity(count);
        let mut file_of: Vec<usize> = Vec::with_capacity(count);
        let mut full: HashMap<usize, Post> = HashMap::new();
        let mut fresh = fresh.into_iter().peekable();
        for (i, entry) in entries.iter_mut().enumerate() {
            if changed.contains(&i) {
                while let Some(post) = fresh.next_if(|p| p.file_index == i) {
                    let skeleton = Skeleton::of(&post).post(&entry.path, i);
                    let Some(skeleton) = skeleton else { return Ok(None) };
                    full.insert(posts.len(), post);
                    posts.push(skeleton);
                    file_of.push(i);
                }
            } else {
                for s in entry.old.clone().unwrap_or_default() {
                    let Some(post) = s.post(&entry.path, i) else { return Ok(None) };
                    posts.push(post);
                    file_of.push(i);
                }
            }
        }
        let mut ids = HashSet::with_capacity(posts.len());
        if posts.len() > crieur_config::MAX_POSTS || !posts.iter().all(|p| ids.insert(&p.id)) {
            return Ok(None);
        }
        drop(ids);

        let placed = self.store.placed().await?;
        let rows: Vec<Row<'_>> = placed.iter().map(Row::from).collect();
        let (channels, placements) = lay_out(config, &posts, &rows, now)?;
        let stored: HashMap<(&str, &str), Timestamp> =
            rows.iter().map(|r| ((r.post, r.channel), r.due_at)).collect();

        // Files to render: the changed ones, and any holding a placement the store lacks.
        let mut render_file: Vec<bool> = (0..entries.len()).map(|i| changed.contains(&i)).collect();
        for p in &placements {
            if !stored.contains_key(&(posts[p.post].id.as_str(), p.channel.as_str())) {
                render_file[file_of[p.post]] = true;
            }
        }
        let reread: Vec<PostSource> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| render_file[*i] && !changed.contains(i))
            .map(|(i, e)| {
                let text = crieur_config::read_post_file(&e.path).ok()?;
                (hex_hash(text.as_bytes()) == e.hash).then(|| PostSource {
                    file_index: i,
                    path: e.path.clone(),
                    text,
                })
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        if reread.len()
            != render_file.iter().enumerate().filter(|(i, r)| **r && !changed.contains(i)).count()
        {
            return Ok(None);
        }
        if !reread.is_empty() {
            let Ok(again) = crieur_config::read_posts(config, &reread) else { return Ok(None) };
            let mut again = again.into_iter().peekable();
            for (at, post) in posts.iter().enumerate() {
                let i = file_of[at];
                if !render_file[i] || changed.contains(&i) {
                    continue;
                }
                match again.next_if(|p| p.file_index == i) {
                    Some(read) if read.id == post.id => _ = full.insert(at, read),
                    _ => return Ok(None),
                }
            }
        }

        // Posts whose deliveries are compared in full: those of the files rendered now, as they
        // were and as they are, and those of the removed files.
        let mut scope: HashSet<&str> = HashSet::new();
        for (i, entry) in entries.iter().enumerate() {
            if render_file[i] {
                scope.extend(entry.old.iter().flatten().map(|s| s.id.as_str()));
            }
        }
        scope.extend(removed.iter().flat_map(|(_, old)| old.iter().map(|s| s.id.as_str())));
        for (at, post) in posts.iter().enumerate() {
            if render_file[file_of[at]] {
                scope.insert(post.id.as_str());
            }
        }

        // The others: a new due time, or no slot any more.
        let mut moves = Vec::new();
        let mut laid: HashSet<(&str, &str)> = HashSet::with_capacity(placements.len());
        for p in &placements {
            let id = posts[p.post].id.as_str();
            laid.insert((id, p.channel.as_str()));
            if render_file[file_of[p.post]] {
                continue;
            }
            let due_at = p.at.timestamp();
            if stored.get(&(id, p.channel.as_str())).is_some_and(|d| *d != due_at) {
                moves.push(DueMove { post: id.to_owned(), channel: p.channel.clone(), due_at });
            }
        }
        let drops: Vec<(String, String)> = rows
            .iter()
            .filter(|r| matches!(r.state, State::Queued | State::Retrying | State::Failed))
            .filter(|r| !scope.contains(r.post) && !laid.contains(&(r.post, r.channel)))
            .map(|r| (r.post.to_owned(), r.channel.to_owned()))
            .collect();

        let mut desired = Vec::new();
        let pairs = placements.iter().filter_map(|p| Some((full.get(&p.post)?, p)));
        render(config, &channels, pairs, &mut desired);
        if desired.is_empty()
            && moves.is_empty()
            && drops.is_empty()
            && changed.is_empty()
            && removed.is_empty()
        {
            return Ok(Some(SyncReport::default()));
        }
        let mut files = Vec::with_capacity(changed.len());
        for (i, entry) in entries.iter().enumerate() {
            if changed.contains(&i) {
                let held: Vec<&Post> = (0..posts.len())
                    .filter(|&at| file_of[at] == i)
                    .filter_map(|at| full.get(&at))
                    .collect();
                files.push(indexed(entry.key.clone(), entry.hash.clone(), &held));
            }
        }
        let sync = FileSync {
            desired,
            scope: Some(scope.into_iter().map(str::to_owned).collect()),
            moves,
            drops,
            config: fingerprint.to_owned(),
            files,
            removed: removed.into_iter().map(|(path, _)| path).collect(),
        };
        drop(rows);
        Ok(Some(self.store.sync_files(&sync, now).await?))
    }
}

/// Logs what a sync changed, and every edit that comes too late to be sent.
fn log(report: &SyncReport) {
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
