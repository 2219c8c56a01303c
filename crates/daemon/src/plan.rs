//! The plan: the queue laid on the calendar, rendered for each channel, and judged by the policy.
//!
//! `preview`, `validate` and the daemon's sync all go through here, so what the preview shows is
//! what the daemon schedules and sends: same slots, same rendered bytes, same rules.

use std::collections::{HashMap, HashSet};

use crieur_config::Config;
use crieur_core::{Channel, Diagnostic, Post, Severity};
use crieur_policy::{Effective, RenderContext, Rendered};
use crieur_scheduler::{Calendar, History};
use jiff::{Timestamp, Zoned};

use crate::Error;

/// The config's channels as domain values, in name order.
pub fn channels(config: &Config) -> Vec<Channel> {
    config.channels.values().map(|c| c.channel.clone()).collect()
}

/// The start of the default preview window: the next Monday 00:00 after `now`, in `config`'s zone.
///
/// # Errors
/// When the dates run out of jiff's range.
pub fn next_monday(config: &Config, now: Timestamp) -> Result<Zoned, Error> {
    let today = now.to_zoned(config.timezone.clone()).date();
    let mut day = today.tomorrow()?;
    while day.weekday() != jiff::civil::Weekday::Monday {
        day = day.tomorrow()?;
    }
    start_of(config, day)
}

/// 00:00 of `date` in the config's zone (or the first instant of that day, if midnight is in a
/// daylight-saving gap).
///
/// # Errors
/// [`Error::StartOfDay`] when the day cannot be placed in the zone (out of jiff's range).
pub fn start_of(config: &Config, date: jiff::civil::Date) -> Result<Zoned, Error> {
    date.to_zoned(config.timezone.clone()).map_err(|source| Error::StartOfDay { date, source })
}

/// Everything the policy and the renderer need about each channel, computed once.
pub struct Judge<'a> {
    config: &'a Config,
    effective: HashMap<String, Effective>,
}

impl<'a> Judge<'a> {
    /// Resolves the policy layers of every channel of `config`.
    pub fn new(config: &'a Config) -> Self {
        let effective = config
            .channels
            .iter()
            .map(|(name, c)| (name.clone(), crieur_policy::effective(&config.policy, &c.channel)))
            .collect();
        Self { config, effective }
    }

    /// The effective policy of `channel` (resolved once per channel, then borrowed).
    pub fn effective(&self, channel: &Channel) -> std::borrow::Cow<'_, Effective> {
        match self.effective.get(&channel.name) {
            Some(eff) => std::borrow::Cow::Borrowed(eff),
            None => std::borrow::Cow::Owned(crieur_policy::effective(&self.config.policy, channel)),
        }
    }

    /// `post` rendered for `channel`: the exact bytes the adapter will send.
    pub fn render(&self, post: &Post, channel: &Channel) -> Rendered {
        let eff = self.effective(channel);
        let ctx = RenderContext::new(&self.config.mentions, &eff);
        crieur_policy::render(post, channel, &ctx)
    }
}

/// Lays `posts` on the calendar of `channels` for the window [`from`, `to`).
///
/// # Errors
/// When a cadence is too dense to lay (more than one slot a minute).
pub fn lay(
    channels: &[Channel],
    posts: &[Post],
    history: &History,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Calendar, Error> {
    Ok(crieur_scheduler::lay(channels, posts, history, from, to, now)?)
}

/// Keeps only `diagnostics` that are not `off`.
pub fn shown(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.into_iter().filter(|d| d.severity != crieur_core::Severity::Off).collect()
}

/// Why an `error` rule blocks sending `delivery` right now, if one does: the text rules run again
/// on the exact text the adapter is about to send.
///
/// On X, Facebook and webhooks rendering leaves the text's words as they are, so every text rule
/// is run on the rendered text as is. LinkedIn's rendered text is escaped little text, which the
/// rules cannot read again without unescaping: there the bytes are judged by `length` and
/// `empty`, the rules that depend on nothing else (the others ran on the same rendering at sync
/// time and in `validate`).
pub fn blocking(
    config: &Config,
    channel: &Channel,
    eff: &Effective,
    delivery: &crieur_core::Delivery,
) -> Option<String> {
    let diagnostics = if channel.network == crieur_core::Network::Linkedin {
        let mut d = Vec::new();
        let length = crieur_policy::measure(channel.network, &delivery.text, eff.max_length);
        if !length.fits() && eff.severity("length") == Severity::Error {
            d.push((
                "length",
                format!("{} characters, over the limit of {:?}", length.used, length.limit),
            ));
        }
        if delivery.text.trim().is_empty() && eff.severity("empty") == Severity::Error {
            d.push(("empty", "no text".to_owned()));
        }
        d.into_iter().map(|(r, m)| (r.to_owned(), m)).collect::<Vec<_>>()
    } else {
        crieur_policy::check_one(
            &delivery.text,
            channel.network,
            Some(channel),
            &config.policy,
            &config.mentions,
        )
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.rule, d.message))
        .collect()
    };
    let media =
        crate::media::judge_attachments(&delivery.media, eff, &delivery.post, &delivery.channel)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.rule, d.message));
    diagnostics
        .into_iter()
        .chain(media)
        .next()
        .map(|(rule, message)| format!("policy rule {rule}: {message}"))
}

/// What the database says already happened, read without writing (empty when there is no
/// database yet): the scheduler's history and the policy's publication history.
#[derive(Debug, Default)]
pub struct Known {
    /// Every delivery the store holds.
    pub status: crieur_store::StatusReport,
    /// What went out (the last 90 days), for the duplicate, regularity and mix rules.
    pub history: Vec<crieur_store::HistoryEntry>,
    /// The limits each channel's server announced, by channel (laid over the config by
    /// [`assess`]).
    pub server_limits: std::collections::BTreeMap<String, crieur_core::store::ServerLimits>,
}

/// Reads what the database knows, read-only. A missing or never-migrated database is an empty
/// history (`validate` and `preview` need no database).
///
/// # Errors
/// When the database exists but cannot be read; callers report it and go on with
/// [`Known::default`].
pub async fn known(config: &Config, now: Timestamp) -> Result<Known, crieur_store::StoreError> {
    let read = async {
        let store =
            crieur_store::open(&config.storage.url, crieur_store::OpenOptions::read_only()).await?;
        let status = store.status().await;
        let history = store.history(now - jiff::SignedDuration::from_hours(24 * 90)).await;
        let server_limits = store.server_limits().await;
        store.close().await;
        Ok::<_, crieur_store::StoreError>((status?, history?, server_limits?))
    };
    match read.await {
        Ok((status, history, server_limits)) => Ok(Known { status, history, server_limits }),
        Err(crieur_store::StoreError::Missing { .. } | crieur_store::StoreError::NoSchema(_)) => {
            Ok(Known::default())
        }
        Err(e) => Err(e),
    }
}

/// The calendar of a window with every post rendered and judged.
pub struct Assessment {
    /// The laid calendar.
    pub calendar: Calendar,
    /// Each (post index, channel) laid in the window, rendered.
    pub rendered: HashMap<(usize, String), Rendered>,
    /// Text-rule diagnostics by (post index, channel); a pair without any has no entry.
    pub text: HashMap<(usize, String), Vec<Diagnostic>>,
    /// Calendar-rule diagnostics (with a post: about that entry; without: about the window).
    pub calendar_rules: Vec<Diagnostic>,
    /// Every media file read for the judgement, prepared as it would be sent.
    pub media: crate::media::Catalog,
}

impl Assessment {
    /// Every diagnostic (text and calendar rules), each with a place (its own, else its
    /// channel's, else the config file's start), sorted by place, rule, post and channel, without
    /// duplicates: what `validate` prints.
    pub fn diagnostics(self, config: &Config) -> Vec<Diagnostic> {
        let mut all: Vec<Diagnostic> = self.text.into_values().flatten().collect();
        all.extend(self.calendar_rules);
        for d in &mut all {
            if d.location.is_none() {
                d.location =
                    Some(d.channel.as_ref().and_then(|c| config.channels.get(c)).map_or_else(
                        || crieur_core::Location::new(&config.path, 1, 1),
                        |c| c.channel.location.clone(),
                    ));
            }
        }
        sorted_once(all)
    }
}

/// `all` sorted by location, rule, post and channel (the order of `validate`'s output), without
/// duplicates.
fn sorted_once(all: Vec<Diagnostic>) -> Vec<Diagnostic> {
    // Sorted by location (path, line, column) as `Location` orders them, but with each path
    // compared once: the few distinct paths (found by their bytes) are ranked in path order,
    // and thousands of diagnostics compare ranks instead of walking path components.
    let keys: Vec<Option<(usize, u32, u32)>> = {
        let distinct: HashSet<&std::ffi::OsStr> =
            all.iter().filter_map(|d| d.location.as_ref()).map(|l| l.path.as_os_str()).collect();
        let mut ordered: Vec<&std::path::Path> =
            distinct.into_iter().map(std::path::Path::new).collect();
        ordered.sort_unstable();
        let mut rank_of: HashMap<&std::ffi::OsStr, usize> = HashMap::new();
        let mut rank = 0;
        for (i, p) in ordered.iter().enumerate() {
            // Paths equal as paths (`a//b`, `a/b`) but not as bytes share a rank.
            if i > 0 && ordered[i - 1] != *p {
                rank += 1;
            }
            rank_of.insert(p.as_os_str(), rank);
        }
        all.iter()
            .map(|d| d.location.as_ref().map(|l| (rank_of[l.path.as_os_str()], l.line, l.col)))
            .collect()
    };
    let mut keyed: Vec<_> = keys.into_iter().zip(all).collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        ka.cmp(kb).then_with(|| (&a.rule, &a.post, &a.channel).cmp(&(&b.rule, &b.post, &b.channel)))
    });
    let mut sorted: Vec<Diagnostic> = keyed.into_iter().map(|(_, d)| d).collect();
    sorted.dedup();
    sorted
}

/// Lays `posts` over [`from`, `to`), renders and judges them. With `every_post`, the text rules
/// also run on every (post, channel) of the queue, laid in the window or not (`validate`).
///
/// # Errors
/// When a cadence cannot be laid.
#[allow(clippy::too_many_arguments)]
pub fn assess(
    config: &Config,
    posts: &[Post],
    known: &Known,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
    every_post: bool,
) -> Result<Assessment, Error> {
    let limited;
    let config = if known.server_limits.is_empty() {
        config
    } else {
        let mut c = config.clone();
        crate::server_limits::apply(&mut c, &known.server_limits);
        limited = c;
        &limited
    };
    let channels = channels(config);
    let history = crate::sync::history(config, posts, &known.status, now);
    let calendar = lay(&channels, posts, &history, from, to, now)?;
    let judge = Judge::new(config);
    let by_name: HashMap<&str, &Channel> = channels.iter().map(|c| (c.name.as_str(), c)).collect();
    // Each (post, channel) once.
    let mut pairs: Vec<(usize, &Channel)> = Vec::new();
    if every_post {
        for (i, p) in posts.iter().enumerate() {
            for (k, c) in p.channels.iter().enumerate() {
                if let Some(ch) = by_name.get(c.as_str())
                    && !p.channels[..k].contains(c)
                {
                    pairs.push((i, ch));
                }
            }
        }
    } else {
        let mut seen = HashSet::new();
        for e in &calendar.entries {
            if let (Some(i), Some(ch)) = (e.post, by_name.get(e.channel.as_str()))
                && seen.insert((i, ch.name.as_str()))
            {
                pairs.push((i, ch));
            }
        }
    }
    // Judged on every core; only what the calendar lays keeps its rendering (the rest is
    // dropped as soon as it is judged: `validate` renders every post), boxed so that the
    // results moved between threads stay small.
    let laid: HashSet<(usize, &str)> =
        calendar.entries.iter().filter_map(|e| Some((e.post?, e.channel.as_str()))).collect();
    let media = crate::media::Catalog::default();
    let judged = crieur_core::map_parallel(&pairs, 64, |&(i, ch)| {
        let r = judge.render(&posts[i], ch);
        let eff = judge.effective(ch);
        let mut diags = crieur_policy::check_post(&posts[i], ch, &r, &eff);
        diags.extend(crate::media::judge(config, &media, &posts[i], ch, &eff));
        (shown(diags), laid.contains(&(i, ch.name.as_str())).then(|| Box::new(r)))
    });
    let mut rendered = HashMap::new();
    let mut text = HashMap::new();
    for (&(i, ch), (diags, r)) in pairs.iter().zip(judged) {
        if let Some(r) = r {
            rendered.insert((i, ch.name.clone()), *r);
        }
        if !diags.is_empty() {
            text.insert((i, ch.name.clone()), diags);
        }
    }
    let mut scheduled = Vec::new();
    for e in &calendar.entries {
        let Some(i) = e.post else { continue };
        let Some(ch) = by_name.get(e.channel.as_str()) else { continue };
        let key = (i, ch.name.clone());
        if !rendered.contains_key(&key) {
            let r = judge.render(&posts[i], ch);
            rendered.insert(key.clone(), r);
        }
        let r = &rendered[&key];
        scheduled.push(crieur_policy::Scheduled {
            post_id: posts[i].id.clone(),
            channel: ch.name.clone(),
            at: e.at.clone(),
            text: r.text.clone(),
            category: posts[i].category.clone(),
            location: Some(posts[i].location.clone()),
        });
    }
    // Only the published history needs the categories of the queue's posts.
    let category: HashMap<&str, Option<&String>> = if known.history.is_empty() {
        HashMap::new()
    } else {
        posts.iter().map(|p| (p.id.as_str(), p.category.as_ref())).collect()
    };
    let published: Vec<crieur_policy::Published> = known
        .history
        .iter()
        .filter(|h| h.item == 0)
        .map(|h| crieur_policy::Published {
            post_id: h.post.clone(),
            channel: h.channel.clone(),
            at: h.published_at,
            text: h.text.clone(),
            category: category.get(h.post.as_str()).copied().flatten().cloned(),
        })
        .collect();
    let refs: Vec<&Channel> = channels.iter().collect();
    let calendar_rules = shown(crieur_policy::check_calendar(
        &scheduled,
        &published,
        (from, to),
        &refs,
        &config.policy,
    ));
    Ok(Assessment { calendar, rendered, text, calendar_rules, media })
}

/// An instant as RFC 3339 with its zone's offset, to the second (`2026-12-01T09:15:00+01:00`):
/// the shape of every time in the JSON outputs.
pub fn rfc3339(at: &jiff::Zoned) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{NOW, POSTS, Project, ts};

    proptest::proptest! {
        /// The ranked sort gives what sorting by (location, rule, post, channel) gives, for paths
        /// that order differently as bytes and as paths (`a.b` and `a/b`) or are equal only as
        /// paths (`a//b` and `a/b`).
        #[test]
        fn ranked_sort_is_the_plain_sort(picks in proptest::collection::vec(
            (0usize..6, 1u32..4, 1u32..3, 0usize..3, proptest::option::of(0usize..2), proptest::option::of(0usize..2)),
            0..40,
        )) {
            const PATHS: [&str; 6] = ["a/b", "a.b", "a//b", "posts/x.toml", "posts/x.toml/", "b"];
            let all: Vec<Diagnostic> = picks
                .iter()
                .map(|&(p, line, col, rule, post, channel)| Diagnostic {
                    rule: ["length", "empty", "hashtags.max"][rule].to_owned(),
                    severity: crieur_core::Severity::Error,
                    message: "m".to_owned(),
                    post: post.map(|i| format!("p{i}")),
                    channel: channel.map(|i| format!("c{i}")),
                    location: (p < 5).then(|| crieur_core::Location::new(PATHS[p], line, col)),
                })
                .collect();
            let mut plain = all.clone();
            plain.sort_by(|a, b| {
                (&a.location, &a.rule, &a.post, &a.channel)
                    .cmp(&(&b.location, &b.rule, &b.post, &b.channel))
            });
            plain.dedup();
            proptest::prop_assert_eq!(sorted_once(all), plain);
        }
    }

    #[tokio::test]
    async fn a_database_that_does_not_exist_yet_is_an_empty_history() {
        let project = Project::new(POSTS);
        let known = known(&project.config(), ts(NOW)).await.unwrap();
        assert!(known.status.deliveries.is_empty());
        assert!(known.history.is_empty());
        assert!(!project.path("crieur.db").exists(), "reading creates no database");
    }

    #[test]
    fn the_default_preview_starts_at_midnight_of_the_next_monday_in_the_configs_zone() {
        let config = Project::new(POSTS).config();
        let monday = next_monday(&config, ts(NOW)).unwrap();
        assert_eq!(monday.timestamp(), ts("2026-03-22T23:00:00Z"));
        // On a Monday, the next one is a week later.
        assert_eq!(next_monday(&config, monday.timestamp()).unwrap().date().day(), 30);
    }

    #[test]
    fn validate_gets_every_diagnostic_placed_sorted_and_once() {
        let posts = "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntext = \"   \"\n\n\
                     [[post]]\nid = \"b\"\nchannels = [\"blog\"]\ntext = \"   \"\n";
        let project = Project::new(posts);
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let to = ts(NOW) + jiff::SignedDuration::from_hours(24 * 28);
        let assessed =
            assess(&config, &posts, &Known::default(), ts(NOW), to, ts(NOW), true).unwrap();
        let all = assessed.diagnostics(&config);
        let empty: Vec<(Option<&str>, u32)> = all
            .iter()
            .filter(|d| d.rule == "empty")
            .map(|d| (d.post.as_deref(), d.location.as_ref().map_or(0, |l| l.line)))
            .collect();
        assert_eq!(empty, [(Some("a"), 4), (Some("b"), 9)], "at each text, in file order");
        assert!(all.iter().all(|d| d.location.is_some()), "{all:?}");
        let mut deduped = all.clone();
        deduped.dedup();
        assert_eq!(deduped, all);
    }
}
