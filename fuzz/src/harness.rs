//! The entry points of crieur's fuzz targets, one function per target.
//!
//! Each function takes arbitrary bytes, runs them through the parser concerned the way crieur
//! does, and panics only when an invariant of the result is broken (a panic, hang or unbounded
//! allocation inside crieur is what the fuzzer looks for). The same file is compiled into the
//! main workspace's tests, which replay `fuzz/corpus/<target>/` through these functions.
//!
//! The network-answer targets read a small text format, so corpus files stay readable:
//!
//! ```text
//! 201 [sent] [unread] [reconcile]
//! header-name: value
//! x-fuzz-text: the delivery's text (optional, not sent as a header)
//!
//! body bytes...
//! ```
//!
//! `sent` sets `may_have_been_sent`, `unread` makes the body a read error (too large),
//! `reconcile` feeds the answer to the adapter's reconciliation instead of its publish outcome.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crieur_config::{Config, load_config, load_posts, parse_duration};
use crieur_core::{
    Cadence, Channel, Delivery, Location, ManualClock, Network, Outcome, Reconciled,
};
use crieur_net_facebook::{FacebookPublisher, FacebookPublisherConfig, FacebookUsage, PageToken};
use crieur_net_http::reqwest::StatusCode;
use crieur_net_http::reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use crieur_net_http::{BodyError, Response, retry_after};
use crieur_net_linkedin::{LinkedinPublisher, LinkedinPublisherConfig, LinkedinTokens};
use crieur_net_webhook::{StaticLookup, WebhookConfig, WebhookPublisher};
use crieur_net_x::{XAuth, XPublisher, XPublisherConfig, XRateLimits};
use crieur_scheduler::{MAX_SLOTS_PER_DAY, Schedule, slots_per_day};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;

/// The example configuration shipped in `config/`, the context of every post file fuzzed.
const EXAMPLE_CONFIG: &str = include_str!("../../config/crieur.toml");

/// The instant the network answers are read at.
fn now() -> Timestamp {
    Timestamp::from_second(1_793_786_400).unwrap_or(Timestamp::UNIX_EPOCH) // 2026-11-03T10:00:00Z
}

/// A folder for the files of one process, kept for its whole life (files are rewritten in place,
/// one input at a time).
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// The example config, loaded once, with `queue.files` pointing into `posts/`.
    example: Option<Config>,
}

fn scratch() -> &'static Mutex<Scratch> {
    static SCRATCH: OnceLock<Mutex<Scratch>> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().to_owned();
        std::fs::create_dir_all(root.join("posts")).expect("posts folder");
        let example_dir = root.join("example");
        std::fs::create_dir_all(example_dir.join("posts")).expect("example folder");
        let path = example_dir.join("crieur.toml");
        std::fs::write(&path, EXAMPLE_CONFIG).expect("example config written");
        let example = load_config(&path).ok();
        Mutex::new(Scratch { _dir: dir, root, example })
    })
}

/// Writes `bytes` to `path`, replacing what was there.
fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("scratch file written");
}

/// Reads the posts of the one file `posts/<name>` under `config`'s folder.
fn posts_of(config: &Config, name: &str, bytes: &[u8]) {
    let mut config = config.clone();
    let folder = config.dir.join("posts");
    // Only the file written here: a fuzzed `queue.files` could glob the whole disk.
    for entry in std::fs::read_dir(&folder).expect("posts folder").flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
    write(&folder.join(name), bytes);
    config.queue.files = vec![format!("posts/{name}")];
    if let Ok(posts) = load_posts(&config) {
        for post in &posts {
            assert!(!post.id.is_empty(), "a post was loaded without an id");
        }
    }
}

/// `config`: the bytes up to the first NUL are a `crieur.toml`, the bytes after it (if any) a
/// `posts/*.toml` file. The config is loaded with `load_config`; the post file is loaded with
/// `load_posts` against the fuzzed config when it loads, else against the example config.
pub fn config(data: &[u8]) {
    let (config_bytes, post_bytes) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let scratch = scratch().lock().unwrap_or_else(|e| e.into_inner());
    let path = scratch.root.join("crieur.toml");
    write(&path, config_bytes);
    let loaded = load_config(&path);
    if let Err(errors) = &loaded {
        // Every problem is reported as text naming its place; formatting must not panic.
        let _ = errors.to_string();
    }
    if let Some(post_bytes) = post_bytes {
        match loaded.as_ref().ok().or(scratch.example.as_ref()) {
            Some(config) => posts_of(config, "fuzz.toml", post_bytes),
            None => panic!("the example config does not load"),
        }
    }
}

/// `front_matter`: the bytes are a Markdown post (`posts/*.md`), loaded with `load_posts`
/// against the example config.
pub fn front_matter(data: &[u8]) {
    let scratch = scratch().lock().unwrap_or_else(|e| e.into_inner());
    let example = scratch.example.as_ref().expect("the example config loads");
    posts_of(example, "fuzz.md", data);
}

/// The zones every fuzzed cadence is laid in: UTC, two with daylight saving on different dates,
/// one with a 30-minute shift and one with a 45-minute offset.
const ZONES: [&str; 5] =
    ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"];

/// Weeks around daylight-saving changes (US and EU spring, EU and US autumn) and a plain one.
const WEEKS: [&str; 4] = [
    "2026-03-05T00:00:00Z",
    "2026-03-26T00:00:00Z",
    "2026-10-22T00:00:00Z",
    "2026-11-16T00:00:00Z",
];

/// `cadence`: each line (up to four) is a cadence string; those that parse are laid as one
/// channel's cadence over a week in each of a few zones. Checks that every slot is in the range,
/// strictly increasing, and that a cadence reads back from its display form.
pub fn cadence(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut cadences = Vec::new();
    for line in text.lines().take(4) {
        if let Ok(c) = line.parse::<Cadence>() {
            let shown = c.to_string();
            let again = shown.parse::<Cadence>();
            assert!(again.is_ok(), "{line:?} displays as {shown:?}, which does not parse");
            if let Ok(again) = again {
                assert_eq!(again.to_string(), shown, "display of {line:?} is not stable");
            }
            cadences.push(c);
        }
    }
    if cadences.is_empty() {
        return;
    }
    let dense = cadences.iter().any(|c| slots_per_day(c) > MAX_SLOTS_PER_DAY);
    for zone in ZONES {
        let Ok(tz) = TimeZone::get(zone) else {
            panic!("zone {zone} is missing from the system's database");
        };
        let channel = Channel {
            name: "fuzz".into(),
            network: Network::Webhook,
            timezone: tz,
            cadence: cadences.clone(),
            max_length: None,
            location: Location::new("crieur.toml", 1, 1),
        };
        let schedule = match Schedule::new(&channel) {
            Ok(s) => s,
            Err(_) => {
                assert!(dense, "a cadence of at most one slot a minute was refused");
                return;
            }
        };
        let per_day: usize = cadences.iter().map(slots_per_day).sum();
        for week in WEEKS {
            let from: Timestamp = week.parse().expect("a week start");
            let to = from + SignedDuration::from_hours(7 * 24);
            let mut last: Option<Timestamp> = None;
            let mut count = 0usize;
            for slot in schedule.slots(from, to) {
                let at = slot.timestamp();
                assert!(from <= at && at < to, "slot {at} outside [{from}, {to})");
                assert!(last.is_none_or(|l| l < at), "slots not strictly increasing at {at}");
                last = Some(at);
                count += 1;
            }
            // A week spans at most 8 local dates, and a slot moved by a gap may come from a 9th.
            assert!(count <= per_day * 9, "{count} slots in a week for {per_day} a day");
        }
    }
}

/// `duration`: a config duration string (`"1h30m"`).
pub fn duration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_duration(text) {
        Ok(d) => {
            assert!(!d.is_negative(), "{text:?} gave a negative duration");
            assert!(d <= SignedDuration::from_hours(100 * 366 * 24), "{text:?} is over a century");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// `secret_ref`: a secret reference as written in the config. A reference that parses reads
/// back from its display form; a literal is refused without being echoed.
pub fn secret_ref(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crieur_config::SecretRef::parse(text) {
        Ok(r) => {
            let shown = r.to_string();
            let again = crieur_config::SecretRef::parse(&shown);
            assert_eq!(again.as_ref().ok(), Some(&r), "{text:?} displays as {shown:?}");
        }
        Err(e) => {
            // A literal may be a real secret: the message must not depend on it.
            if matches!(e, crieur_config::SecretError::Literal) {
                let other = crieur_config::SecretRef::parse("x").map_err(|e| e.to_string());
                assert_eq!(Err(e.to_string()), other, "the refusal of a literal depends on it");
            }
        }
    }
}

/// What an adapter made of an answer: a publish outcome, or what reconciliation learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// The answer to a publish request.
    Outcome(Outcome),
    /// The answer to a reconciliation request.
    Reconciled(Reconciled),
}

/// A network answer decoded from the text format of the module docs.
struct Answer {
    response: Response,
    text: Option<String>,
    sent: bool,
    reconcile: bool,
}

/// Decodes an answer; `None` when the first line has no status code.
fn answer(data: &[u8]) -> Option<Answer> {
    let line_end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let first = std::str::from_utf8(&data[..line_end]).ok()?;
    let mut words = first.split_whitespace();
    let status = StatusCode::from_u16(words.next()?.parse().ok()?).ok()?;
    let (mut sent, mut unread, mut reconcile) = (false, false, false);
    for w in words {
        match w {
            "sent" => sent = true,
            "unread" => unread = true,
            "reconcile" => reconcile = true,
            _ => {}
        }
    }
    let mut rest = data.get(line_end + 1..).unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut text = None;
    loop {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or_default();
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"x-fuzz-text") {
            text = Some(String::from_utf8_lossy(value).replace("\\n", "\n"));
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let body =
        if unread { Err(BodyError::TooLarge { limit: 1024 * 1024 }) } else { Ok(rest.to_vec()) };
    Some(Answer { response: Response { status, headers, body }, text, sent, reconcile })
}

/// The delivery an answer is about: the example's first X post, or the given text.
fn delivery(network: Network, channel: &str, answer: &Answer) -> Delivery {
    Delivery {
        id: format!("2026-w49-pipelines.{channel}.0"),
        post: "2026-w49-pipelines".into(),
        channel: channel.into(),
        network,
        text: answer.text.clone().unwrap_or_else(|| {
            "Pipelines fail quietly. Sève tells you before your dashboards do: \
             https://seve.example.com/?utm_source=x #DataEngineering"
                .into()
        }),
        link: Some("https://seve.example.com/?utm_source=x".into()),
        category: Some("product".into()),
        article: None,
        item: 0,
        reply_to: None,
        attempt: 2,
        attempt_started_at: now() - SignedDuration::from_mins(5),
        may_have_been_sent: answer.sent,
        media: Vec::new(),
        options: Default::default(),
    }
}

/// Checks what every outcome must hold, whatever the network said.
fn outcome(outcome: Outcome, status: StatusCode) -> Answered {
    match &outcome {
        Outcome::Published { remote_id, url } => {
            assert!(status.is_success() || status.as_u16() == 422, "{status} published");
            assert!(!remote_id.is_empty(), "published without an id");
            if let Some(url) = url {
                assert!(url.starts_with("https://") || url.starts_with("http://"), "url {url}");
            }
        }
        Outcome::Retry { reason, not_before } => {
            assert!(!reason.is_empty());
            if let Some(at) = not_before {
                assert!(*at >= now() - SignedDuration::from_hours(24 * 366 * 100), "{at}");
            }
        }
        Outcome::Rejected { reason, .. }
        | Outcome::Unauthorized { reason }
        | Outcome::Unknown { reason } => assert!(!reason.is_empty(), "an outcome without reason"),
    }
    Answered::Outcome(outcome)
}

/// Checks what every reconciliation must hold.
fn reconciled(found: Reconciled) -> Answered {
    match &found {
        Reconciled::Found { remote_id, .. } => assert!(!remote_id.is_empty()),
        Reconciled::NotFound => {}
        Reconciled::CannotTell { reason } => assert!(!reason.is_empty()),
    }
    Answered::Reconciled(found)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

/// `x_response`: an answer of X to `POST /2/tweets`, or (`reconcile`) to the listing of the
/// user's recent posts.
pub fn x_response(data: &[u8]) -> Option<Answered> {
    static X: OnceLock<XPublisher> = OnceLock::new();
    let a = answer(data)?;
    let publisher = X.get_or_init(|| {
        let mut config = XPublisherConfig::new(
            "company-x",
            XAuth::Static(SecretString::from("fuzz-access-token")),
        );
        config.clock = clock();
        XPublisher::new(config).expect("an X publisher")
    });
    let d = delivery(Network::X, "company-x", &a);
    if a.reconcile {
        Some(reconciled(crieur_net_x::reconcile_answer(&d, &a.response)))
    } else {
        Some(outcome(publisher.answer_outcome(&d, &a.response, now()), a.response.status))
    }
}

/// `linkedin_response`: an answer of LinkedIn to `POST /rest/posts` (LinkedIn's reconciliation
/// is a resend, so every answer goes through the publish outcome; `sent` marks the resend).
pub fn linkedin_response(data: &[u8]) -> Option<Answered> {
    static LINKEDIN: OnceLock<LinkedinPublisher> = OnceLock::new();
    let a = answer(data)?;
    let publisher = LINKEDIN.get_or_init(|| {
        let mut config = LinkedinPublisherConfig::new(
            "company-linkedin",
            "urn:li:organization:2414183",
            LinkedinTokens::fixed(SecretString::from("fuzz-access-token")),
        );
        config.clock = clock();
        LinkedinPublisher::new(config).expect("a LinkedIn publisher")
    });
    let d = delivery(Network::Linkedin, "company-linkedin", &a);
    let answered = publisher.answer_outcome(&d, &a.response, now());
    if let Outcome::Published { remote_id, .. } = &answered {
        assert!(remote_id.starts_with("urn:li:"), "LinkedIn id {remote_id}");
    }
    Some(outcome(answered, a.response.status))
}

/// `facebook_response`: an answer of the Graph API to `POST /{page}/feed`, or (`reconcile`) to
/// `GET /{page}/published_posts`.
pub fn facebook_response(data: &[u8]) -> Option<Answered> {
    static FACEBOOK: OnceLock<FacebookPublisher> = OnceLock::new();
    let a = answer(data)?;
    let publisher = FACEBOOK.get_or_init(|| {
        let mut config = FacebookPublisherConfig::new(
            "company-facebook",
            "104857600123",
            PageToken::Static(SecretString::from("fuzz-page-token")),
        );
        config.clock = clock();
        FacebookPublisher::new(config).expect("a Facebook publisher")
    });
    let d = delivery(Network::Facebook, "company-facebook", &a);
    if a.reconcile {
        Some(reconciled(crieur_net_facebook::reconcile_answer(&d, &a.response)))
    } else {
        Some(outcome(publisher.answer_outcome(&d, &a.response, now()), a.response.status))
    }
}

/// `webhook_response`: a receiver's answer to the signed event (reconciliation of a webhook is
/// always a resend, so there is no reconciliation answer to read).
pub fn webhook_response(data: &[u8]) -> Option<Answered> {
    static WEBHOOK: OnceLock<WebhookPublisher> = OnceLock::new();
    let a = answer(data)?;
    let publisher = WEBHOOK.get_or_init(|| {
        let mut config = WebhookConfig::new(
            "blog",
            "https://blog.example.com/hooks/crieur",
            // 32 bytes of key, base64.
            SecretString::from("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        );
        config.clock = clock();
        config.lookup = Arc::new(StaticLookup::one(
            "blog.example.com",
            vec![std::net::IpAddr::from([93, 184, 215, 14])],
        ));
        WebhookPublisher::new(config).expect("a webhook publisher")
    });
    let d = delivery(Network::Webhook, "blog", &a);
    Some(outcome(publisher.answer_outcome(&d, &a.response, now()), a.response.status))
}

/// `webhook_metrics`: the body of a receiver's 200 answer to a `crieur.metrics` event. Nothing
/// known only for a blank body, figures only from a JSON object, and a reason for every refusal.
pub fn webhook_metrics(data: &[u8]) {
    match crieur_net_webhook::answer_figures(data) {
        Ok(None) => assert!(data.iter().all(u8::is_ascii_whitespace), "figures ignored"),
        Ok(Some(_)) => {
            let first = data.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(first, Some(&b'{'), "figures read from something not an object");
        }
        Err(reason) => assert!(!reason.is_empty(), "a refusal without a reason"),
    }
}

/// `rate_limit_headers`: the header lines of an answer (the status line is still needed), read
/// as `Retry-After`, X's rate-limit windows and Facebook's usage headers.
pub fn rate_limit_headers(data: &[u8]) {
    let Some(a) = answer(data) else {
        return;
    };
    let headers = &a.response.headers;
    if let Some(at) = retry_after(headers, now()) {
        assert!(at >= now(), "Retry-After in the past: {at}");
    }
    let x = XRateLimits::from_headers(headers);
    if let Some(until) = x.hold_until() {
        assert!(x.retry_at() == Some(until), "retry_at differs from an exhausted window's reset");
    }
    let fb = FacebookUsage::from_headers(headers, now());
    if let Some(p) = fb.max_percent {
        assert!(p.is_finite(), "usage {p}");
        assert!(fb.is_at_least(p));
    }
    if let Some(at) = fb.regain_at {
        assert!(at > now(), "regain_at {at} not after now");
    }
}

/// `media_sniff`: the bytes are a media file as a post names it (any bytes at all), read by
/// `crieur_media::sniff` for its kind, size and shape.
pub fn media_sniff(data: &[u8]) {
    let sniffed = crieur_media::sniff(data);
    assert_eq!(sniffed.bytes, data.len() as u64, "the size is not the input's");
    if let Some(o) = sniffed.orientation {
        assert!((1..=8).contains(&o), "orientation {o} out of 1..=8");
    }
    if sniffed.kind == crieur_media::Kind::Unknown {
        assert!(!sniffed.animated, "an unknown kind is said to be animated");
    }
}

/// `media_strip`: the bytes are a media file about to be uploaded, run through
/// `crieur_media::strip` (metadata removed, and kept) and `Media::prepare`. What it accepts keeps
/// its kind and strips again to the same bytes (nothing it writes is metadata it would remove).
pub fn media_strip(data: &[u8]) {
    if let Ok(kept) = crieur_media::strip(data, true) {
        assert_eq!(kept.bytes, data, "keep_metadata changed the bytes");
        assert!(kept.removed.is_empty(), "keep_metadata removed something");
    }
    let Ok(stripped) = crieur_media::strip(data, false) else {
        return;
    };
    assert_eq!(stripped.kind, crieur_media::sniff(data).kind, "strip read another kind");
    let again = crieur_media::strip(&stripped.bytes, false).expect("stripped bytes strip again");
    assert_eq!(again.bytes, stripped.bytes, "stripping twice changes the bytes");
    assert_eq!(again.kind, stripped.kind, "the stripped bytes read as another kind");
    let prepared =
        crieur_media::Media::prepare(data, false).expect("prepare takes what strip takes");
    assert_eq!(prepared.data, stripped.bytes, "prepare sends other bytes than strip gives");
    assert_eq!(prepared.bytes, prepared.data.len() as u64);
}
