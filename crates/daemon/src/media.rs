//! Media between the files and the store: each file read once for `validate` and `preview`
//! (judged by the policy's `media.*` rules on its bytes), and the list each delivery carries.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crieur_config::Config;
use crieur_core::store::DeliveryMedia;
use crieur_core::{Attachment, Channel, Diagnostic, Location, MediaRef, Post};
use crieur_media::{Kind, Media};
use crieur_policy::{Effective, MediaFile, MediaKind, MediaMeta};

/// Whether `post`'s media go out on `channel` with their metadata (`keep_metadata = true` on the
/// post or on the channel).
pub fn keep_metadata(config: &Config, post: &Post, channel: &str) -> bool {
    post.keep_metadata || config.channels.get(channel).is_some_and(|c| c.keep_metadata)
}

/// What the policy reads of a prepared file.
pub fn media_file(media: &Media) -> MediaFile {
    MediaFile {
        kind: kind(media.kind),
        content_type: media.content_type.to_owned(),
        width: media.width,
        height: media.height,
        bytes: media.bytes,
    }
}

fn kind(k: Kind) -> MediaKind {
    match k {
        Kind::Gif => MediaKind::Gif,
        Kind::Mp4 => MediaKind::Video,
        _ => MediaKind::Image,
    }
}

/// A file prepared as it would be sent, or why it cannot be.
pub type Read = Result<Arc<Media>, String>;

/// Every media file a plan needs, each read and prepared once (per metadata choice), kept for
/// the plan's life. Shared by the threads that judge a plan's posts.
#[derive(Default)]
pub struct Catalog {
    files: Mutex<HashMap<(PathBuf, bool), Read>>,
}

impl Catalog {
    /// The file of `entry`, prepared as it would be sent, or why it cannot be.
    ///
    /// Locks the catalog while a file not yet in it is read, so each file is read once even when
    /// several threads ask for it (posts with pictures are few; the others never lock).
    pub fn get(&self, entry: &MediaRef, keep_metadata: bool) -> Read {
        let key = (entry.file.clone(), keep_metadata);
        let mut files = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        files
            .entry(key)
            .or_insert_with(|| {
                crieur_scheduler::media::read_media(&entry.file, keep_metadata)
                    .map(Arc::new)
                    .map_err(|e| e.reason())
            })
            .clone()
    }
}

/// The `media.*` rules on `post` as sent on `channel`.
pub fn judge(
    config: &Config,
    catalog: &Catalog,
    post: &Post,
    channel: &Channel,
    eff: &Effective,
) -> Vec<Diagnostic> {
    let parts = post.media_for(&channel.name, channel.network);
    if parts.iter().all(|p| p.is_empty()) {
        return Vec::new();
    }
    let keep = keep_metadata(config, post, &channel.name);
    let read = |e: &MediaRef| catalog.get(e, keep).map(|m| media_file(&m));
    crieur_policy::check_media(
        &parts,
        &read,
        eff,
        MediaMeta { post: &post.id, channel: &channel.name },
    )
}

/// The media list of thread item `item` (0: the post) of `post` on `channel`, as the store keeps
/// it. A missing alt is kept empty: the policy refuses it before anything is sent.
pub fn for_delivery(
    config: &Config,
    post: &Post,
    channel: &Channel,
    item: usize,
) -> Vec<DeliveryMedia> {
    let parts = post.media_for(&channel.name, channel.network);
    let keep = keep_metadata(config, post, &channel.name);
    parts
        .get(item)
        .map(|entries| {
            entries
                .iter()
                .map(|e| DeliveryMedia {
                    path: e.path.clone(),
                    file: e.file.clone(),
                    alt: e.alt.clone().unwrap_or_default(),
                    keep_metadata: keep,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `media.*` rules on what is about to be sent: the attachments read from the files just
/// now. Each becomes an entry placed nowhere (the delivery is out of the files' reach here).
pub fn judge_attachments(
    attachments: &[Attachment],
    eff: &Effective,
    post: &str,
    channel: &str,
) -> Vec<Diagnostic> {
    if attachments.is_empty() {
        return Vec::new();
    }
    let entries: Vec<MediaRef> = attachments
        .iter()
        .map(|a| MediaRef {
            path: a.path.clone(),
            file: a.path.clone().into(),
            alt: Some(a.alt.clone()),
            location: Location::new("", 0, 0),
        })
        .collect();
    let by_path: HashMap<&str, &Attachment> =
        attachments.iter().map(|a| (a.path.as_str(), a)).collect();
    let read = |e: &MediaRef| {
        let a = by_path.get(e.path.as_str()).ok_or_else(|| "not read".to_owned())?;
        let kind = match a.content_type.as_str() {
            "image/gif" => MediaKind::Gif,
            t if t.starts_with("video/") => MediaKind::Video,
            _ => MediaKind::Image,
        };
        Ok(MediaFile {
            kind,
            content_type: a.content_type.clone(),
            width: (a.width > 0).then_some(a.width),
            height: (a.height > 0).then_some(a.height),
            bytes: a.data.len() as u64,
        })
    };
    crieur_policy::check_media(&[&entries], &read, eff, MediaMeta { post, channel })
}

/// One media entry as `preview` shows it (JSON: `{ path, type, alt, width, height, bytes }`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MediaView {
    /// The path as written in the post file.
    pub path: String,
    /// The MIME type sniffed from the bytes; `null` when the file cannot be sent.
    #[serde(rename = "type")]
    pub content_type: Option<String>,
    /// The alt text; `null` when missing.
    pub alt: Option<String>,
    /// Width in pixels as shown, when known.
    pub width: Option<u32>,
    /// Height in pixels as shown, when known.
    pub height: Option<u32>,
    /// The size of the bytes that would be sent, when the file can be sent.
    pub bytes: Option<u64>,
    /// The picture as it would be sent (an image the preview page shows as a thumbnail); `None`
    /// for a video or a file that cannot be sent.
    #[serde(skip)]
    pub picture: Option<Arc<Media>>,
    /// Where the entry is written (`path:line:col`), to put its diagnostics beside it.
    #[serde(skip)]
    pub location: String,
}

impl MediaView {
    /// The file name alone, for short listings.
    pub fn file_name(&self) -> &str {
        self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path)
    }

    /// A `data:` URI of a small thumbnail of the picture (see [`crate::preview::thumbnail`]), made
    /// on demand: only the HTML page pays for decoding.
    pub fn thumbnail(&self) -> Option<String> {
        let m = self.picture.as_ref()?;
        crate::preview::thumbnail::data_uri(m.content_type, &m.data)
    }

    /// Whether the entry has alt text.
    pub fn has_alt(&self) -> bool {
        self.alt.as_deref().is_some_and(|a| !a.trim().is_empty())
    }
}

/// The media of `post` itself (not its thread items) as sent on `channel`, read through
/// `catalog`.
pub fn views(config: &Config, catalog: &Catalog, post: &Post, channel: &Channel) -> Vec<MediaView> {
    let keep = keep_metadata(config, post, &channel.name);
    let parts = post.media_for(&channel.name, channel.network);
    let entries = parts.first().copied().unwrap_or(&[]);
    entries
        .iter()
        .map(|e| {
            let read = catalog.get(e, keep).ok();
            let picture = read.as_ref().filter(|m| m.kind.is_image()).cloned();
            MediaView {
                path: e.path.clone(),
                content_type: read.as_ref().map(|m| m.content_type.to_owned()),
                alt: e.alt.clone(),
                width: read.as_ref().and_then(|m| m.width),
                height: read.as_ref().and_then(|m| m.height),
                bytes: read.as_ref().map(|m| m.bytes),
                picture,
                location: e.location.to_string(),
            }
        })
        .collect()
}

/// One line about `views` for the table: `2 images: lyon-team.jpg (alt ✓), lyon-desk.png (alt ✓)`
/// (`alt ✗` when missing, `unreadable` when the file cannot be sent); `None` without media.
pub fn summary(views: &[MediaView]) -> Option<String> {
    if views.is_empty() {
        return None;
    }
    let n = views.len();
    let of = |kind: &str| {
        views.iter().all(|v| v.content_type.as_deref().is_some_and(|t| t.starts_with(kind)))
    };
    let noun = match (of("image/"), of("video/"), n) {
        (true, _, 1) => "1 image".to_owned(),
        (true, _, _) => format!("{n} images"),
        (_, true, 1) => "1 video".to_owned(),
        (_, true, _) => format!("{n} videos"),
        _ => format!("{n} media"),
    };
    let items: Vec<String> = views
        .iter()
        .map(|v| {
            let alt = if v.has_alt() { "alt ✓" } else { "alt ✗" };
            let state = if v.content_type.is_some() { "" } else { ", unreadable" };
            format!("{} ({alt}{state})", v.file_name())
        })
        .collect();
    Some(format!("{noun}: {}", items.join(", ")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_core::Severity;
    use crieur_store::StatusReport;

    use super::*;
    use crate::plan::{Known, assess};
    use crate::testing::{NOW, Project, ts};

    /// A 1×1 GIF.
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";

    const POSTS: &str = r#"[[post]]
id = "photos"
channels = ["blog"]
text = "Day one"
media = [
  { path = "media/dot.gif", alt = "A dot" },
  { path = "media/dot.gif" },
  { path = "media/notes.jpg", alt = "Notes" },
  { path = "media/gone.png", alt = "Gone" },
]
"#;

    fn project() -> Project {
        let project = Project::new(POSTS);
        std::fs::create_dir_all(project.path("posts/media")).unwrap();
        std::fs::write(project.path("posts/media/dot.gif"), GIF).unwrap();
        project.write("posts/media/notes.jpg", "Hello, this is not a photo.\n");
        project
    }

    #[test]
    fn validate_judges_each_entry_by_its_bytes_at_its_place() {
        let project = project();
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let to = ts(NOW) + jiff::SignedDuration::from_hours(24 * 28);
        let all = assess(&config, &posts, &Known::default(), ts(NOW), to, ts(NOW), true)
            .unwrap()
            .diagnostics(&config);
        let all: Vec<_> = all.into_iter().filter(|d| d.rule.starts_with("media.")).collect();
        let found: Vec<(&str, String)> = all
            .iter()
            .map(|d| (d.rule.as_str(), d.location.as_ref().unwrap().to_string()))
            .collect();
        let at = |line: u32| format!("{}:{line}:3", project.path("posts/a.toml").display());
        assert_eq!(
            found,
            [
                ("media.alt_missing", at(7)),
                ("media.unreadable", at(8)),
                ("media.unreadable", at(9)),
            ],
            "{all:#?}"
        );
        assert!(all[1].message.contains("the bytes look like text"), "{}", all[1].message);
        assert!(
            all[2].message.starts_with("media/gone.png: the file is missing"),
            "{}",
            all[2].message
        );
        assert!(all.iter().all(|d| d.severity == Severity::Error));
    }

    #[test]
    fn each_delivery_keeps_its_media_list_with_paths_resolved() {
        let project = project();
        let mut config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let desired =
            crate::sync::desired(&config, &posts, &StatusReport::default(), ts(NOW)).unwrap();
        let media = &desired[0].media;
        assert_eq!(media.len(), 4);
        assert_eq!(media[0].path, "media/dot.gif");
        assert_eq!(media[0].file, project.path("posts/media/dot.gif"));
        assert_eq!((media[0].alt.as_str(), media[1].alt.as_str()), ("A dot", ""));
        assert!(!media[0].keep_metadata);
        config.channels.get_mut("blog").unwrap().keep_metadata = true;
        let desired =
            crate::sync::desired(&config, &posts, &StatusReport::default(), ts(NOW)).unwrap();
        assert!(desired[0].media.iter().all(|m| m.keep_metadata), "the channel keeps metadata");
    }

    #[test]
    fn the_preview_lists_each_entry_with_its_facts_and_a_thumbnail() {
        let project = project();
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let catalog = Catalog::default();
        let views = views(&config, &catalog, &posts[0], &config.channels["blog"].channel);
        assert_eq!(views.len(), 4);
        let dot = &views[0];
        assert_eq!(dot.content_type.as_deref(), Some("image/gif"));
        assert_eq!((dot.width, dot.height, dot.bytes), (Some(1), Some(1), Some(GIF.len() as u64)));
        assert!(dot.thumbnail().unwrap().starts_with("data:image/gif;base64,R0lGOD"));
        let json = serde_json::to_value(dot).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"path": "media/dot.gif", "type": "image/gif", "alt": "A dot",
                               "width": 1, "height": 1, "bytes": GIF.len()})
        );
        assert!(views[2].content_type.is_none() && views[2].thumbnail().is_none());
        assert_eq!(
            summary(&views).unwrap(),
            "4 media: dot.gif (alt ✓), dot.gif (alt ✗), notes.jpg (alt ✓, unreadable), \
             gone.png (alt ✓, unreadable)"
        );
        assert_eq!(summary(&views[..1]).unwrap(), "1 image: dot.gif (alt ✓)");
        assert_eq!(summary(&[]), None);
    }

    #[test]
    fn what_is_about_to_be_sent_is_judged_again() {
        let attachment = |alt: &str| Attachment {
            path: "media/dot.gif".into(),
            alt: alt.into(),
            content_type: "image/gif".into(),
            width: 1,
            height: 1,
            sha256: String::new(),
            data: Arc::from(GIF),
        };
        let config = project().config();
        let eff = crieur_policy::effective(&config.policy, &config.channels["blog"].channel);
        assert!(judge_attachments(&[attachment("A dot")], &eff, "p", "blog").is_empty());
        let d = judge_attachments(&[attachment(" ")], &eff, "p", "blog");
        assert_eq!(d[0].rule, "media.alt_missing");
        let many: Vec<_> = (0..21).map(|_| attachment("A dot")).collect();
        assert_eq!(judge_attachments(&many, &eff, "p", "blog")[0].rule, "media.count");
    }
}
