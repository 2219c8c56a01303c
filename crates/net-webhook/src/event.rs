//! The JSON event a webhook receives.

use base64::Engine as _;
use crieur_core::{Attachment, Delivery};
use jiff::Timestamp;
use pulldown_cmark::{Options, Parser, html};
use serde::Serialize;

/// The event `type` crieur sends.
pub const EVENT_TYPE: &str = "post.published";

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    id: &'a str,
    channel: &'a str,
    title: Option<&'a str>,
    slug: Option<&'a str>,
    text: &'a str,
    body_markdown: Option<&'a str>,
    body_html: Option<String>,
    tags: Option<&'a [String]>,
    link: Option<&'a str>,
    category: Option<&'a str>,
    media: Vec<MediaEntry<'a>>,
}

/// One image or video of the event, its bytes inline.
#[derive(Serialize)]
struct MediaEntry<'a> {
    path: &'a str,
    content_type: &'a str,
    alt: &'a str,
    width: u32,
    height: u32,
    bytes: usize,
    sha256: &'a str,
    data: String,
}

impl<'a> MediaEntry<'a> {
    fn new(a: &'a Attachment) -> Self {
        MediaEntry {
            path: &a.path,
            content_type: &a.content_type,
            alt: &a.alt,
            width: a.width,
            height: a.height,
            bytes: a.data.len(),
            sha256: &a.sha256,
            data: base64::engine::general_purpose::STANDARD.encode(&a.data),
        }
    }
}

/// The most media bytes one event carries (after metadata removal, before base64: 20 MiB, about
/// 27 MiB once encoded). A delivery over it is refused before any request; the policy rule
/// `media.too_large` says so at `validate` time.
pub const MAX_MEDIA_BYTES: u64 = 20 * 1024 * 1024;

/// The media bytes `delivery` carries in all.
pub fn media_bytes(delivery: &Delivery) -> u64 {
    delivery.media.iter().map(|a| a.data.len() as u64).sum()
}

/// The event `type` of the ping `crieur doctor` sends to check a receiver.
pub const PING_TYPE: &str = "crieur.ping";

/// The body of a ping: `{"type":"crieur.ping","timestamp":"...","data":{"channel":"blog"}}`.
/// A receiver answers it with any 2xx and publishes nothing.
///
/// # Errors
/// Only if serialization fails, which plain strings cannot make it do.
pub fn ping_body(channel: &str, at: Timestamp) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::json!({
        "type": PING_TYPE,
        "timestamp": at.to_string(),
        "data": { "channel": channel },
    }))
}

/// The event body for one attempt at `at` (whole seconds, the same instant as the
/// `webhook-timestamp` header), serialized once: these bytes are signed and sent as they are.
///
/// ```json
/// {"type":"post.published","timestamp":"2026-11-03T08:00:00Z",
///  "data":{"id":"<post id>","channel":"blog","title":"...","slug":"...","text":"...",
///          "body_markdown":"...","body_html":"<p>...</p>","tags":["..."],"link":"...",
///          "category":"...",
///          "media":[{"path":"media/lyon-team.jpg","content_type":"image/jpeg","alt":"...",
///                    "width":1600,"height":1067,"bytes":412345,"sha256":"<hex>",
///                    "data":"<base64>"}]}}
/// ```
/// `title`, `slug`, `body_markdown`, `body_html` and `tags` are `null` for a post that is not an
/// article; `link` and `category` are `null` when the post has none. `media` is `[]` for a text
/// post; each entry's `data` is the file's bytes after metadata removal in base64 (standard
/// alphabet, padded), and `bytes` and `sha256` (lower-case hex) describe those bytes, so a
/// receiver can check what it decoded.
///
/// `body_html` is the Markdown rendered by pulldown-cmark (CommonMark with tables, footnotes,
/// strikethrough and task lists). Raw HTML written in the Markdown passes through unchanged, as
/// CommonMark says: the receiver owns the sanitizing of what it publishes.
///
/// # Errors
/// Only if serialization fails, which plain strings cannot make it do.
pub fn event_body(delivery: &Delivery, at: Timestamp) -> Result<Vec<u8>, serde_json::Error> {
    let article = delivery.article.as_ref();
    let event = Event {
        kind: EVENT_TYPE,
        timestamp: at.to_string(),
        data: Data {
            id: &delivery.post,
            channel: &delivery.channel,
            title: article.map(|a| a.title.as_str()),
            slug: article.map(|a| a.slug.as_str()),
            text: &delivery.text,
            body_markdown: article.map(|a| a.body_markdown.as_str()),
            body_html: article.map(|a| markdown_to_html(&a.body_markdown)),
            tags: article.map(|a| a.tags.as_slice()),
            link: delivery.link.as_deref(),
            category: delivery.category.as_deref(),
            media: delivery.media.iter().map(MediaEntry::new).collect(),
        },
    };
    serde_json::to_vec(&event)
}

/// Renders Markdown to HTML (see [`event_body`] for the options and the raw-HTML rule).
pub fn markdown_to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut out = String::with_capacity(markdown.len() * 5 / 4);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crieur_core::{Article, Network};

    use super::*;

    fn delivery(article: Option<Article>) -> Delivery {
        Delivery {
            id: "post-1/blog/0".into(),
            post: "post-1".into(),
            channel: "blog".into(),
            network: Network::Webhook,
            text: "New article: \"Rust\" & more".into(),
            link: None,
            category: None,
            article,
            item: 0,
            reply_to: None,
            attempt: 1,
            attempt_started_at: "2026-11-03T08:00:00Z".parse().unwrap(),
            may_have_been_sent: false,
            media: Vec::new(),
            options: Default::default(),
        }
    }

    #[test]
    fn non_article_has_nulls() {
        let body = event_body(&delivery(None), "2026-11-03T08:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"type":"post.published","timestamp":"2026-11-03T08:00:00Z","data":{"id":"post-1","channel":"blog","title":null,"slug":null,"text":"New article: \"Rust\" & more","body_markdown":null,"body_html":null,"tags":null,"link":null,"category":null,"media":[]}}"#
        );
    }

    #[test]
    fn media_travel_inline_in_base64_described_by_size_and_hash() {
        let mut d = delivery(None);
        d.media = vec![Attachment {
            path: "media/dot.gif".into(),
            alt: "A dot".into(),
            content_type: "image/gif".into(),
            width: 1,
            height: 2,
            sha256: "ab".repeat(32),
            data: std::sync::Arc::from(&b"GIF89a"[..]),
        }];
        let body = event_body(&d, "2026-11-03T08:00:00Z".parse().unwrap()).unwrap();
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            event["data"]["media"],
            serde_json::json!([{
                "path": "media/dot.gif", "content_type": "image/gif", "alt": "A dot",
                "width": 1, "height": 2, "bytes": 6, "sha256": "ab".repeat(32),
                "data": "R0lGODlh"
            }])
        );
        assert_eq!(media_bytes(&d), 6);
    }

    #[test]
    fn markdown_renders_with_tables_and_keeps_raw_html() {
        let html =
            markdown_to_html("# Hi\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~x~~ <b>raw</b>\n");
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<del>x</del>"), "{html}");
        assert!(html.contains("<b>raw</b>"), "{html}");
    }
}
