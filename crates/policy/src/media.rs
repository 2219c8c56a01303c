//! The `media.*` rules: what each network takes as images and videos on one post.
//!
//! The policy does no I/O, so the caller reads each file first (its kind from the bytes, never
//! the name; its size after metadata removal) and hands the facts in as [`MediaFile`]s, or the
//! reason it could not. Every diagnostic is placed on the `media` entry it is about.

use crieur_core::{Diagnostic, MediaRef, Network, Severity};

use crate::effective::Effective;
use crate::rules::rule;

/// What an image or video is, for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A still image (JPEG, PNG, WebP; a PNG or WebP animation counts as an image).
    Image,
    /// A GIF, still or animated: X takes one alone, under its own size limit.
    Gif,
    /// A video (MP4).
    Video,
}

/// What the caller read from one media file: the bytes that will be sent, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The kind, sniffed from the bytes.
    pub kind: MediaKind,
    /// The MIME type sniffed from the bytes (`image/jpeg`...).
    pub content_type: String,
    /// Width in pixels as shown, when the headers say it.
    pub width: Option<u32>,
    /// Height in pixels as shown, when the headers say it.
    pub height: Option<u32>,
    /// The size of the bytes that will be sent (after metadata removal).
    pub bytes: u64,
}

/// The most media bytes (after metadata removal, before base64) one webhook event carries: 20
/// MiB, so an event stays under about 27 MiB on the wire.
pub const WEBHOOK_MAX_MEDIA_BYTES: u64 = 20 * 1024 * 1024;

const MB: u64 = 1024 * 1024;

/// The longest alt text `network` keeps, in characters (`None`: no limit crieur knows).
pub fn max_alt_length(network: Network) -> Option<usize> {
    match network {
        Network::X => Some(1_000),
        Network::Linkedin => Some(4_086),
        Network::Mastodon => Some(1_500),
        Network::Bluesky => Some(2_000),
        Network::Facebook | Network::Webhook => None,
    }
}

/// Whether crieur sends a video to `network`: X (chunked upload), Mastodon and webhooks do;
/// LinkedIn's multi-part video upload, Facebook's video endpoint and Bluesky's video service are
/// not built, so `validate` refuses a video there rather than the publish failing.
pub fn sends_video(network: Network) -> bool {
    match network {
        Network::X | Network::Mastodon | Network::Webhook => true,
        Network::Linkedin | Network::Facebook | Network::Bluesky => false,
    }
}

/// The most media `network` takes on one post.
pub fn max_media_count(network: Network) -> usize {
    match network {
        Network::X | Network::Mastodon | Network::Bluesky => 4,
        Network::Linkedin | Network::Webhook => 20,
        Network::Facebook => 10,
    }
}

/// The largest file of `kind` `network` takes, in bytes (`None`: no per-file byte limit).
pub fn max_file_bytes(network: Network, kind: MediaKind) -> Option<u64> {
    match (network, kind) {
        (Network::X, MediaKind::Image) => Some(5 * MB),
        (Network::X, MediaKind::Gif) => Some(15 * MB),
        (Network::X, MediaKind::Video) => Some(512 * MB),
        (Network::Facebook, MediaKind::Image | MediaKind::Gif) => Some(10 * MB),
        (Network::Bluesky, MediaKind::Image | MediaKind::Gif) => Some(1_000_000),
        (Network::Mastodon, MediaKind::Image | MediaKind::Gif) => Some(16 * MB),
        (Network::Mastodon, MediaKind::Video) => Some(99 * MB),
        _ => None,
    }
}

/// LinkedIn's largest image, in pixels (width × height).
pub const LINKEDIN_MAX_PIXELS: u64 = 36_152_320;

/// Who the media belong to, for the diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct MediaMeta<'a> {
    /// The post id.
    pub post: &'a str,
    /// The channel name.
    pub channel: &'a str,
}

struct Out<'e> {
    eff: &'e Effective,
    meta: MediaMeta<'e>,
    diags: Vec<Diagnostic>,
}

impl Out<'_> {
    fn push(&mut self, id: &str, entry: &MediaRef, message: String) {
        let severity = self.eff.severity(id);
        if severity == Severity::Off {
            return;
        }
        self.diags.push(Diagnostic {
            rule: id.to_owned(),
            severity,
            message,
            post: Some(self.meta.post.to_owned()),
            channel: Some(self.meta.channel.to_owned()),
            location: Some(entry.location.clone()),
        });
    }
}

/// Runs the `media.*` rules on the media of each part sent on one channel: `parts[0]` is the
/// post's list, then one per thread item (only X sends thread items; elsewhere they are not
/// judged). `read` gives what the caller read from each entry's file, or why it could not.
///
/// Diagnostics come by part, then by entry, then by rule.
pub fn check_media(
    parts: &[&[MediaRef]],
    read: &dyn Fn(&MediaRef) -> Result<MediaFile, String>,
    eff: &Effective,
    meta: MediaMeta<'_>,
) -> Vec<Diagnostic> {
    let network = eff.network;
    let mut out = Out { eff, meta, diags: Vec::new() };
    let threads = matches!(network, Network::X | Network::Mastodon | Network::Bluesky);
    let sent = if threads { parts.len() } else { parts.len().min(1) };
    for (index, entries) in parts.iter().take(sent).enumerate() {
        let part = if index == 0 { "the post".to_owned() } else { format!("thread item {index}") };
        let mut files = Vec::with_capacity(entries.len());
        for entry in entries.iter() {
            alt_rules(&mut out, entry, network);
            match read(entry) {
                Ok(file) => {
                    if file.kind == MediaKind::Video && !sends_video(network) {
                        out.push(
                            rule::MEDIA_UNREADABLE,
                            entry,
                            format!(
                                "{} is a video, and crieur sends only images to {network}: use \
                                 an image, or give [post.{}] its own media",
                                entry.path,
                                network.as_str()
                            ),
                        );
                        continue;
                    }
                    too_large_rule(&mut out, entry, &file, network);
                    files.push((entry, file));
                }
                Err(why) => {
                    out.push(rule::MEDIA_UNREADABLE, entry, format!("{}: {why}", entry.path))
                }
            }
        }
        count_rules(&mut out, &part, entries, &files, network);
        if network == Network::Webhook {
            let total: u64 = files.iter().map(|(_, f)| f.bytes).sum();
            if total > WEBHOOK_MAX_MEDIA_BYTES
                && let Some(first) = entries.first()
            {
                out.push(
                    rule::MEDIA_TOO_LARGE,
                    first,
                    format!(
                        "the media of {part} weigh {} together, over the {} one webhook event \
                         carries: send fewer or smaller files",
                        human(total),
                        human(WEBHOOK_MAX_MEDIA_BYTES)
                    ),
                );
            }
        }
    }
    out.diags
}

/// `media.alt_missing` and `media.alt_length`.
fn alt_rules(out: &mut Out<'_>, entry: &MediaRef, network: Network) {
    match entry.alt.as_deref().map(str::trim) {
        None | Some("") => out.push(
            rule::MEDIA_ALT_MISSING,
            entry,
            format!(
                "{} has no alt text, so a screen reader reads nothing: add alt = \"...\" saying \
                 what the picture shows",
                entry.path
            ),
        ),
        Some(alt) => {
            let used = alt.chars().count();
            if let Some(max) = max_alt_length(network)
                && used > max
            {
                out.push(
                    rule::MEDIA_ALT_LENGTH,
                    entry,
                    format!(
                        "the alt text of {} is {used} characters, {network} keeps {max}: shorten \
                         it by {}",
                        entry.path,
                        used - max
                    ),
                );
            }
        }
    }
}

/// `media.too_large`: one file over the network's limit.
fn too_large_rule(out: &mut Out<'_>, entry: &MediaRef, file: &MediaFile, network: Network) {
    if let Some(max) = max_file_bytes(network, file.kind)
        && file.bytes > max
    {
        let what = match file.kind {
            MediaKind::Image => "an image",
            MediaKind::Gif => "a GIF",
            MediaKind::Video => "a video",
        };
        out.push(
            rule::MEDIA_TOO_LARGE,
            entry,
            format!(
                "{} weighs {}, over the {} {network} takes for {what}: make it smaller",
                entry.path,
                human(file.bytes),
                human(max)
            ),
        );
    }
    if network == Network::Linkedin
        && let (Some(w), Some(h)) = (file.width, file.height)
        && u64::from(w) * u64::from(h) > LINKEDIN_MAX_PIXELS
    {
        out.push(
            rule::MEDIA_TOO_LARGE,
            entry,
            format!(
                "{} is {w}×{h} pixels, over the {LINKEDIN_MAX_PIXELS} pixels LinkedIn takes: \
                 scale it down",
                entry.path
            ),
        );
    }
}

/// `media.count` and `media.mixed`, on the files that could be read.
fn count_rules(
    out: &mut Out<'_>,
    part: &str,
    entries: &[MediaRef],
    files: &[(&MediaRef, MediaFile)],
    network: Network,
) {
    let Some(first) = entries.first() else { return };
    let max = max_media_count(network);
    if entries.len() > max {
        let extra = &entries[max];
        out.push(
            rule::MEDIA_COUNT,
            extra,
            format!(
                "{part} has {} media, {network} takes at most {max} on one post: remove {}",
                entries.len(),
                entries.len() - max
            ),
        );
    }
    let videos = files.iter().filter(|(_, f)| f.kind == MediaKind::Video).count();
    let gifs = files.iter().filter(|(_, f)| f.kind == MediaKind::Gif).count();
    let images = files.len() - videos;
    let mixing_forbidden =
        matches!(network, Network::X | Network::Facebook | Network::Mastodon | Network::Bluesky);
    if videos > 0 && images > 0 && mixing_forbidden {
        out.push(
            rule::MEDIA_MIXED,
            first,
            format!(
                "{part} mixes images and a video, which {network} does not take on one post: \
                 keep the video alone, or the images"
            ),
        );
        return;
    }
    let alone = |what: &str| {
        format!(
            "{part} has {} media with {what}, and {network} takes {what} alone: keep only it",
            entries.len()
        )
    };
    if matches!(network, Network::X | Network::Linkedin | Network::Bluesky)
        && videos > 0
        && files.len() > 1
    {
        out.push(rule::MEDIA_COUNT, first, alone("a video"));
    } else if network == Network::X && gifs > 0 && files.len() > 1 {
        out.push(rule::MEDIA_COUNT, first, alone("a GIF"));
    }
}

/// A byte count in KB or MB (powers of 1024), for messages.
fn human(bytes: u64) -> String {
    if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else {
        format!("{:.0} KB", (bytes as f64 / 1024.0).ceil())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use crieur_core::Location;

    use super::*;
    use crate::PolicyConfig;
    use crate::effective::effective_for_network;

    fn entry(path: &str, alt: Option<&str>, line: u32) -> MediaRef {
        MediaRef {
            path: path.to_owned(),
            file: path.into(),
            alt: alt.map(str::to_owned),
            location: Location::new("posts/a.toml", line, 3),
        }
    }

    fn file(kind: MediaKind, bytes: u64, w: u32, h: u32) -> MediaFile {
        let content_type = match kind {
            MediaKind::Image => "image/jpeg",
            MediaKind::Gif => "image/gif",
            MediaKind::Video => "video/mp4",
        };
        MediaFile {
            kind,
            content_type: content_type.to_owned(),
            width: Some(w),
            height: Some(h),
            bytes,
        }
    }

    /// The rules' findings as (rule, line) on `network`, the files described by `files`.
    fn run(
        network: Network,
        parts: &[&[MediaRef]],
        files: &HashMap<&str, MediaFile>,
    ) -> Vec<(String, u32)> {
        let eff = effective_for_network(&PolicyConfig::default(), network);
        let read = |e: &MediaRef| {
            files.get(e.path.as_str()).cloned().ok_or_else(|| "the file is missing".to_owned())
        };
        check_media(parts, &read, &eff, MediaMeta { post: "p", channel: "c" })
            .into_iter()
            .map(|d| {
                assert_eq!(d.severity, Severity::Error, "{d:?}");
                (d.rule, d.location.unwrap().line)
            })
            .collect()
    }

    fn photos(n: usize) -> HashMap<&'static str, MediaFile> {
        let names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"];
        names.iter().take(n).map(|p| (*p, file(MediaKind::Image, 1000, 10, 10))).collect()
    }

    #[test]
    fn clean_media_pass_everywhere() {
        let entries = [entry("a.jpg", Some("A"), 1), entry("b.jpg", Some("B"), 2)];
        for network in Network::ALL {
            assert!(run(network, &[&entries], &photos(2)).is_empty(), "{network}");
        }
    }

    #[test]
    fn a_missing_or_blank_alt_is_an_error_on_the_entry() {
        let entries = [entry("a.jpg", None, 4), entry("b.jpg", Some("  "), 5)];
        let found = run(Network::Webhook, &[&entries], &photos(2));
        assert_eq!(
            found,
            [("media.alt_missing".to_owned(), 4), ("media.alt_missing".to_owned(), 5)]
        );
    }

    #[test]
    fn alt_text_is_measured_against_each_networks_limit() {
        let long = "a".repeat(1_001);
        let entries = [entry("a.jpg", Some(&long), 7)];
        assert_eq!(run(Network::X, &[&entries], &photos(1)), [("media.alt_length".to_owned(), 7)]);
        assert!(run(Network::Linkedin, &[&entries], &photos(1)).is_empty());
        let longer = "é".repeat(4_087);
        let entries = [entry("a.jpg", Some(&longer), 7)];
        assert_eq!(run(Network::Linkedin, &[&entries], &photos(1)).len(), 1);
    }

    #[test]
    fn an_unreadable_file_says_why_and_where() {
        let entries = [entry("gone.jpg", Some("A"), 9)];
        let eff = effective_for_network(&PolicyConfig::default(), Network::X);
        let read = |_: &MediaRef| Err("the file is missing".to_owned());
        let d = check_media(&[&entries], &read, &eff, MediaMeta { post: "p", channel: "c" });
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].rule, "media.unreadable");
        assert_eq!(d[0].message, "gone.jpg: the file is missing");
        assert_eq!(d[0].location.as_ref().unwrap().to_string(), "posts/a.toml:9:3");
    }

    #[test]
    fn counts_follow_each_network() {
        let names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"];
        let five: Vec<MediaRef> =
            names.iter().enumerate().map(|(i, n)| entry(n, Some("x"), i as u32 + 1)).collect();
        // X takes 4: the fifth entry is the one to remove.
        assert_eq!(run(Network::X, &[&five], &photos(5)), [("media.count".to_owned(), 5)]);
        assert!(run(Network::Linkedin, &[&five], &photos(5)).is_empty());
        // A GIF or a video goes alone on X; a video alone on LinkedIn.
        let mut files = photos(1);
        files.insert("b.jpg", file(MediaKind::Gif, 1000, 1, 1));
        let two = [entry("a.jpg", Some("x"), 1), entry("b.jpg", Some("x"), 2)];
        assert_eq!(run(Network::X, &[&two], &files), [("media.count".to_owned(), 1)]);
        assert!(run(Network::Linkedin, &[&two], &files).is_empty());
        let video = [entry("v.mp4", Some("x"), 1), entry("w.mp4", Some("x"), 2)];
        let videos: HashMap<_, _> = [
            ("v.mp4", file(MediaKind::Video, 1000, 1, 1)),
            ("w.mp4", file(MediaKind::Video, 1000, 1, 1)),
        ]
        .into();
        // crieur sends no video to LinkedIn: each is refused where it is written.
        assert_eq!(
            run(Network::Linkedin, &[&video], &videos),
            [("media.unreadable".to_owned(), 1), ("media.unreadable".to_owned(), 2)]
        );
    }

    #[test]
    fn images_and_a_video_do_not_mix_on_x_and_facebook() {
        let mut files = photos(1);
        files.insert("v.mp4", file(MediaKind::Video, 1000, 1, 1));
        let mixed = [entry("a.jpg", Some("x"), 1), entry("v.mp4", Some("x"), 2)];
        assert_eq!(run(Network::X, &[&mixed], &files), [("media.mixed".to_owned(), 1)]);
        assert!(run(Network::Webhook, &[&mixed], &files).is_empty());
        // Facebook takes no video from crieur at all.
        assert_eq!(run(Network::Facebook, &[&mixed], &files), [("media.unreadable".to_owned(), 2)]);
    }

    #[test]
    fn sizes_follow_each_network() {
        let files: HashMap<_, _> = [
            ("big.jpg", file(MediaKind::Image, 6 * MB, 100, 100)),
            ("huge.png", file(MediaKind::Image, 15 * MB, 8000, 6000)),
            ("anim.gif", file(MediaKind::Gif, 14 * MB, 10, 10)),
        ]
        .into();
        let big = [entry("big.jpg", Some("x"), 3)];
        assert_eq!(run(Network::X, &[&big], &files), [("media.too_large".to_owned(), 3)]);
        assert!(run(Network::Facebook, &[&big], &files).is_empty());
        let huge = [entry("huge.png", Some("x"), 3)];
        assert_eq!(run(Network::Facebook, &[&huge], &files).len(), 1);
        assert_eq!(run(Network::Linkedin, &[&huge], &files).len(), 1, "48 megapixels");
        let gif = [entry("anim.gif", Some("x"), 3)];
        assert!(run(Network::X, &[&gif], &files).is_empty(), "a GIF may weigh 15 MB on X");
        // A webhook event carries at most 20 MiB of media in all.
        let two = [entry("huge.png", Some("x"), 3), entry("big.jpg", Some("x"), 4)];
        assert_eq!(run(Network::Webhook, &[&two], &files), [("media.too_large".to_owned(), 3)]);
    }

    #[test]
    fn thread_items_are_judged_on_x_only() {
        let item = [entry("gone.jpg", None, 12)];
        let parts: [&[MediaRef]; 2] = [&[], &item];
        assert_eq!(run(Network::X, &parts, &photos(0)).len(), 2);
        assert!(run(Network::Linkedin, &parts, &photos(0)).is_empty());
    }

    #[test]
    fn severities_come_from_the_policy_layers() {
        let mut policy = PolicyConfig::default();
        policy.base.rules.insert(rule::MEDIA_ALT_MISSING.to_owned(), Severity::Warning);
        let eff = effective_for_network(&policy, Network::X);
        let entries = [entry("a.jpg", None, 1)];
        let read = |_: &MediaRef| Ok(file(MediaKind::Image, 10, 1, 1));
        let d = check_media(&[&entries], &read, &eff, MediaMeta { post: "p", channel: "c" });
        assert_eq!(d[0].severity, Severity::Warning);
    }
}
