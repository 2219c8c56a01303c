//! Generated projects: a `crieur.toml` and post files in a folder, written as a team would write
//! them (many post files, TOML and Markdown), so that loading them exercises the real parsers.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::BenchError;

/// The environment variable the generated webhook channels read their secret from.
pub const SECRET_ENV: &str = "CRIEUR_BENCH_WEBHOOK_SECRET";

/// The Standard Webhooks secret of the generated channels: `whsec_` + base64 of 32 bytes. A
/// benchmark value, signing requests to a receiver on loopback only.
pub const SECRET: &str = "whsec_Y3JpZXVyLWJlbmNoLXNpZ25pbmcta2V5LTMyYnl0ZXM=";

/// How many posts go in one generated post file.
const POSTS_PER_FILE: usize = 250;

/// One post with a fixed instant on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The post id.
    pub post: String,
    /// The channel name.
    pub channel: String,
    /// The instant it is due.
    pub at: Timestamp,
}

impl Due {
    /// The delivery id crieur gives the post (and sends as `webhook-id`): `post:channel:0`.
    pub fn delivery_id(&self) -> String {
        format!("{}:{}:0", self.post, self.channel)
    }
}

/// `count` channel names: `hook-000`, `hook-001`...
pub fn channel_names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("hook-{i:03}")).collect()
}

/// `count` posts spread evenly over [`start`, `start + window`), round-robin over `channels`,
/// with ids `{prefix}-000000`...
///
/// # Errors
/// [`BenchError::Invalid`] when `channels` is empty or an instant overflows.
pub fn spread(
    prefix: &str,
    start: Timestamp,
    window: SignedDuration,
    count: usize,
    channels: &[String],
) -> Result<Vec<Due>, BenchError> {
    if channels.is_empty() {
        return Err(BenchError::Invalid("at least one channel is needed".into()));
    }
    let step_ns = if count == 0 { 0 } else { window.as_nanos() / count as i128 };
    (0..count)
        .map(|i| {
            let offset = i64::try_from(step_ns * i as i128)
                .map(SignedDuration::from_nanos)
                .map_err(|_| BenchError::Invalid("the window is too long".into()))?;
            // Whole milliseconds: the store keeps instants in milliseconds.
            let at = (start + offset)
                .round(jiff::Unit::Millisecond)
                .map_err(|e| BenchError::Invalid(format!("instant out of range: {e}")))?;
            Ok(Due {
                post: format!("{prefix}-{i:06}"),
                channel: channels[i % channels.len()].clone(),
                at,
            })
        })
        .collect()
}

/// `count` posts all due at `at`, round-robin over `channels`.
///
/// # Errors
/// [`BenchError::Invalid`] when `channels` is empty.
pub fn same_instant(
    prefix: &str,
    at: Timestamp,
    count: usize,
    channels: &[String],
) -> Result<Vec<Due>, BenchError> {
    spread(prefix, at, SignedDuration::ZERO, count, channels)
}

/// Writes `crieur.toml` and `posts/*.toml` into `dir`: one webhook channel per name in
/// `channels` (`allow_private = true`, POSTing to `http://{receiver}/{channel}`, secret from
/// [`SECRET_ENV`]), storage at `storage_url`, and `posts` at their fixed instants. Returns the
/// config's path.
///
/// # Errors
/// [`BenchError::Io`] when a file cannot be written.
pub fn write_webhook_project(
    dir: &Path,
    storage_url: &str,
    receiver: SocketAddr,
    channels: &[String],
    posts: &[Due],
    claim_lead_ms: Option<u32>,
) -> Result<PathBuf, BenchError> {
    let mut config = String::new();
    let _ = writeln!(config, "timezone = \"UTC\"\n\n[storage]\nurl = {}\n", quoted(storage_url));
    let _ = writeln!(
        config,
        "[queue]\nfiles = [\"posts/*.toml\"]\nmissed = \"publish-late\"\nmax_late = \"2h\""
    );
    if let Some(lead) = claim_lead_ms {
        let _ = writeln!(config, "claim_lead_ms = {lead}");
    }
    config.push('\n');
    for name in channels {
        let _ = writeln!(
            config,
            "[channels.{name}]\nnetwork = \"webhook\"\nurl = \"http://{receiver}/{name}\"\n\
             secret = \"env:{SECRET_ENV}\"\nallow_private = true\n"
        );
    }
    let path = dir.join("crieur.toml");
    write(&path, &config)?;
    let posts_dir = dir.join("posts");
    std::fs::create_dir_all(&posts_dir).map_err(BenchError::io("creating", &posts_dir))?;
    for (n, chunk) in posts.chunks(POSTS_PER_FILE).enumerate() {
        let mut text = String::new();
        for d in chunk {
            let _ = writeln!(
                text,
                "[[post]]\nid = \"{}\"\nchannels = [\"{}\"]\ntext = \"Load test post {} on {}.\"\nat = \"{}\"\n",
                d.post, d.channel, d.post, d.channel, d.at
            );
        }
        write(&posts_dir.join(format!("queue-{n:04}.toml")), &text)?;
    }
    Ok(path)
}

/// Writes the `validate` project into `dir`: 10 channels of the four networks in six zones with
/// weekly and cron cadences, the example's policy (gaps, quiet hours, hashtags, mix, UTM), a
/// mentions table, and `posts` posts in files of 100 (one in 50 a Markdown article for the blog,
/// one in 97 at a fixed time, some with per-network variants and threads). Returns the config's
/// path.
///
/// # Errors
/// [`BenchError::Io`] when a file cannot be written.
pub fn write_validate_project(dir: &Path, posts: usize) -> Result<PathBuf, BenchError> {
    write_validate_project_with(dir, posts, false)
}

/// [`write_validate_project`], with every `[[post]]` on exactly two channels when `two_each`
/// (the articles stay on the blog and X).
///
/// # Errors
/// [`BenchError::Io`] when a file cannot be written.
pub fn write_validate_project_with(
    dir: &Path,
    posts: usize,
    two_each: bool,
) -> Result<PathBuf, BenchError> {
    write(&dir.join("crieur.toml"), VALIDATE_CONFIG)?;
    let posts_dir = dir.join("posts");
    std::fs::create_dir_all(&posts_dir).map_err(BenchError::io("creating", &posts_dir))?;
    let mut file = String::new();
    let mut file_no = 0usize;
    for i in 0..posts {
        if i % 50 == 49 {
            write(&posts_dir.join(format!("article-{i:05}.md")), &article(i))?;
        } else {
            file.push_str(&toml_post(i, two_each));
        }
        if i % 100 == 99 || i + 1 == posts {
            write(&posts_dir.join(format!("queue-{file_no:04}.toml")), &file)?;
            file.clear();
            file_no += 1;
        }
    }
    Ok(dir.join("crieur.toml"))
}

const SOCIAL: [&str; 9] = [
    "x-paris",
    "x-ny",
    "li-paris",
    "li-tokyo",
    "fb-sydney",
    "fb-london",
    "x-santiago",
    "li-kolkata",
    "x-la",
];

const CATEGORIES: [&str; 4] = ["product", "hr", "expertise", "community"];

const TEXTS: [&str; 6] = [
    "Our pipeline monitor now names the upstream job that broke a table. #DataEngineering",
    "Welcome to the people who joined the Lyon office this month, with @acme cheering! #Hiring",
    "How we cut a nightly batch from four hours to twenty minutes: partitioning, not magic. #DataQuality",
    "See you at the Lyon Data Meetup on Thursday, talk by @ines on data contracts. #Community",
    "Column-level lineage across dbt, Airflow and plain SQL, in under a second on 10,000 tables.",
    "Five questions to ask before you buy a data catalog (the fifth one matters most). #DataEngineering",
];

fn toml_post(i: usize, two_each: bool) -> String {
    let mut names = vec![SOCIAL[i % SOCIAL.len()]];
    if two_each {
        // Another of the channels: an offset of 1 to 8 never lands on the first.
        names.push(SOCIAL[(i + 1 + (i / SOCIAL.len()) % (SOCIAL.len() - 1)) % SOCIAL.len()]);
    } else {
        if i.is_multiple_of(3) {
            names.push(SOCIAL[(i * 7 + 3) % SOCIAL.len()]);
        }
        if i.is_multiple_of(5) {
            names.push(SOCIAL[(i * 11 + 5) % SOCIAL.len()]);
        }
    }
    names.dedup();
    let channels: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let category = CATEGORIES[i % CATEGORIES.len()];
    let mut s = format!(
        "[[post]]\nid = \"post-{i:05}\"\nchannels = [{}]\ncategory = \"{category}\"\ncampaign = \"c{}\"\n\
         text = \"{} (n. {i})\"\n",
        channels.join(", "),
        i % 12,
        TEXTS[i % TEXTS.len()]
    );
    if category == "expertise" || i % 4 == 1 {
        let _ = writeln!(s, "link = \"https://verveine.example.com/notes/{i}\"");
    }
    if i.is_multiple_of(97) {
        let day = 1 + i % 28;
        let _ = writeln!(s, "at = \"2026-12-{day:02} 10:00\"");
    }
    if i.is_multiple_of(4) {
        let _ = writeln!(s, "priority = {}", i % 7);
    }
    if i.is_multiple_of(6) {
        let _ =
            writeln!(s, "\n[post.x]\ntext = \"Short version for X of post {i}. #DataEngineering\"");
    }
    if i.is_multiple_of(10) {
        let _ =
            writeln!(s, "\n[[post.thread]]\ntext = \"2/ The details of post {i}, with numbers.\"");
    }
    s.push('\n');
    s
}

fn article(i: usize) -> String {
    format!(
        "+++\nid = \"article-{i:05}\"\nchannels = [\"blog\", \"x-paris\"]\ncategory = \"expertise\"\n\
         title = \"Notes from the field, part {i}\"\nslug = \"notes-{i}\"\ntags = [\"data\", \"notes\"]\n\
         text = \"New on the blog: notes from the field, part {i}. #DataEngineering\"\n\
         link = \"https://blog.example.com/notes-{i}\"\n+++\n\n\
         Every data team we meet has had the same Monday morning.\n\n## What we did\n\n\
         We listed the consumers of the **forty** most-read tables, then wrote the checks.\n\n\
         | table | readers |\n|---|---|\n| orders | 12 |\n| invoices | 7 |\n"
    )
}

const VALIDATE_CONFIG: &str = r##"timezone = "Europe/Paris"

[queue]
files = ["posts/*.toml", "posts/*.md"]
missed = "publish-late"
max_late = "2h"

[channels.x-paris]
network = "x"
cadence = ["Mon-Fri 09:15", "Mon-Fri 17:30", "daily 12:30"]
access_token = "env:X_PARIS_TOKEN"

[channels.x-ny]
network = "x"
timezone = "America/New_York"
cadence = ["daily 08:00", "daily 12:00", "cron:30 15 * * *"]
access_token = "env:X_NY_TOKEN"

[channels.li-paris]
network = "linkedin"
author = "urn:li:organization:2414183"
cadence = ["Tue,Thu 10:00", "cron:0 8,12,16 * * MON-FRI"]
access_token = "env:LI_PARIS_TOKEN"

[channels.li-tokyo]
network = "linkedin"
author = "urn:li:organization:2414184"
timezone = "Asia/Tokyo"
cadence = ["daily 09:00", "daily 18:00"]
access_token = "env:LI_TOKYO_TOKEN"

[channels.fb-sydney]
network = "facebook"
page_id = "104857600123"
timezone = "Australia/Sydney"
cadence = ["cron:0 8-20/6 * * *"]
access_token = "env:FB_SYDNEY_TOKEN"

[channels.fb-london]
network = "facebook"
page_id = "104857600124"
timezone = "Europe/London"
cadence = ["Wed 12:30", "daily 09:30", "daily 19:00"]
access_token = "env:FB_LONDON_TOKEN"

[channels.blog]
network = "webhook"
url = "https://blog.example.com/hooks/crieur"
secret = "env:BLOG_WEBHOOK_SECRET"
cadence = ["Mon 08:00", "Thu 08:00"]

[channels.x-santiago]
network = "x"
timezone = "America/Santiago"
cadence = ["daily 07:30", "daily 20:30", "cron:15 9-17/2 * * *"]
access_token = "env:X_SANTIAGO_TOKEN"

[channels.li-kolkata]
network = "linkedin"
author = "urn:li:organization:2414185"
timezone = "Asia/Kolkata"
cadence = ["Mon-Sat 11:00", "Mon-Sat 15:00"]
access_token = "env:LI_KOLKATA_TOKEN"

[channels.x-la]
network = "x"
timezone = "America/Los_Angeles"
cadence = ["cron:*/30 9-11 * * MON-FRI", "Sat,Sun 10:00"]
access_token = "env:X_LA_TOKEN"

[mentions.acme]
name = "Acme Logistics"
x = "@acme"
linkedin = "urn:li:organization:1337420"

[mentions.ines]
name = "Inès Marchand"
linkedin = "urn:li:person:4bX9q2LmZt"

[policy]
min_gap = "1h"
quiet_hours = "22:00-07:00"
max_silence = "7d"
duplicate_window = "30d"
max_hashtags = 3
hashtag_style = "CamelCase"
banned_hashtags = ["#FollowForFollow", "#Like4Like"]
require_link_for = ["expertise"]
mix = { hr = 0.10, expertise = 0.30 }
mix_window = "28d"
utm = { source = "{network}", medium = "social", campaign = "{campaign}" }

[policy.x]
max_hashtags = 2

[policy.channels.blog]
max_silence = "35d"
mix = {}
"##;

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(BenchError::io("writing", path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spread_covers_the_window_in_whole_milliseconds() {
        let start: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let posts =
            spread("lat", start, SignedDuration::from_secs(60), 1000, &channel_names(10)).unwrap();
        assert_eq!(posts.len(), 1000);
        assert_eq!(posts[0].at, start);
        assert_eq!(posts[1].at, "2026-11-26T10:00:00.06Z".parse::<Timestamp>().unwrap());
        assert_eq!(posts[999].at, "2026-11-26T10:00:59.94Z".parse::<Timestamp>().unwrap());
        assert_eq!(posts[13].channel, "hook-003");
        assert_eq!(posts[13].delivery_id(), "lat-000013:hook-003:0");
        assert!(spread("x", start, SignedDuration::ZERO, 1, &[]).is_err());
    }

    #[test]
    fn the_secret_is_a_standard_webhooks_secret() {
        use base64::Engine as _;
        let key = SECRET.strip_prefix("whsec_").unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(key).unwrap().len(), 32);
    }

    #[test]
    fn webhook_projects_load_with_every_post_at_its_instant() {
        let dir = tempfile::tempdir().unwrap();
        let start: Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let channels = channel_names(3);
        let posts = spread("p", start, SignedDuration::from_secs(2), 600, &channels).unwrap();
        let path = write_webhook_project(
            dir.path(),
            "sqlite://crieur.db",
            "127.0.0.1:9".parse().unwrap(),
            &channels,
            &posts,
            Some(0),
        )
        .unwrap();
        let config = crieur_config::load_config(&path).unwrap();
        assert_eq!(config.channels.len(), 3);
        assert_eq!(config.queue.claim_lead, std::time::Duration::ZERO);
        let loaded = crieur_config::load_posts(&config).unwrap();
        assert_eq!(loaded.len(), 600);
        let p = loaded.iter().find(|p| p.id == "p-000007").unwrap();
        assert_eq!(p.channels, vec!["hook-001".to_owned()]);
        assert_eq!(
            p.at,
            Some(crieur_core::PostTime::Instant("2026-11-26T10:00:00.023Z".parse().unwrap()))
        );
    }

    #[test]
    fn the_validate_project_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_validate_project(dir.path(), 300).unwrap();
        let config = crieur_config::load_config(&path).unwrap();
        assert_eq!(config.channels.len(), 10);
        let loaded = crieur_config::load_posts(&config).unwrap();
        assert_eq!(loaded.len(), 300);
        assert_eq!(loaded.iter().filter(|p| p.article.is_some()).count(), 6);
        assert!(loaded.iter().any(|p| !p.thread.is_empty()));
    }
}
