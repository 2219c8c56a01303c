//! The link card of a post: the page's title and description, read at send time through
//! crieur's public-address guard (the webhooks' own, in `crieur-net-http`), with a size cap and a
//! short timeout.
//!
//! Hand-written meta-tag reading: crieur needs two values from a page's head, and an HTML parser
//! crate would bring a DOM for them.

use std::sync::Arc;
use std::time::Duration;

use crieur_net_http::reqwest::{Method, Url};
use crieur_net_http::{GuardedResolver, HttpClient, Lookup, SystemLookup, check_url};

/// What the guard calls a card's page in its refusals.
const WHAT: &str = "link page";

/// The most of a page read for its card.
pub const MAX_PAGE_BYTES: usize = 512 * 1024;

/// The time allowed to fetch a page for its card.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// A card's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The page's title.
    pub title: String,
    /// The page's description (may be empty).
    pub description: String,
}

/// How pages are fetched for cards.
#[derive(Clone)]
pub struct CardFetcher {
    /// Lifts the guard's https-only and no-private-address rules (tests, intranets).
    pub allow_private: bool,
    /// How host names are resolved before the guard checks them.
    pub lookup: Arc<dyn Lookup>,
}

impl std::fmt::Debug for CardFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardFetcher").field("allow_private", &self.allow_private).finish()
    }
}

impl Default for CardFetcher {
    fn default() -> Self {
        Self { allow_private: false, lookup: Arc::new(SystemLookup) }
    }
}

impl CardFetcher {
    /// The card of the page at `link`.
    ///
    /// # Errors
    /// Why there is no card (the guard refused the address, the page failed, took too long, was
    /// too large or has no title), for the warning.
    pub async fn fetch(&self, link: &str, log_id: &str) -> Result<Card, String> {
        let url = Url::parse(link).map_err(|e| format!("{link:?} is not a URL: {e}"))?;
        check_url(&url, self.allow_private, WHAT).map_err(|e| e.to_string())?;
        let http = HttpClient::builder()
            .connect_timeout(PAGE_TIMEOUT)
            .timeout(PAGE_TIMEOUT)
            .max_body_bytes(MAX_PAGE_BYTES)
            .dns_resolver(Arc::new(GuardedResolver::new(
                self.lookup.clone(),
                self.allow_private,
                &url,
                WHAT,
            )))
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let response =
            http.send(log_id, http.request(Method::GET, url)).await.map_err(|e| e.to_string())?;
        if !response.status.is_success() {
            return Err(format!("the page answered {}", response.status.as_u16()));
        }
        let body = response.body.as_ref().map_err(|e| e.to_string())?;
        let html = String::from_utf8_lossy(body);
        parse_card(&html).ok_or_else(|| "the page has no title".to_owned())
    }
}

/// `og:title` (else `<title>`) and `og:description` (else `description`) of an HTML page.
pub fn parse_card(html: &str) -> Option<Card> {
    let title = meta(html, "og:title").or_else(|| title_tag(html))?;
    let description =
        meta(html, "og:description").or_else(|| meta(html, "description")).unwrap_or_default();
    let title = clip(&title, 300);
    (!title.is_empty()).then(|| Card { title, description: clip(&description, 1000) })
}

fn clip(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s.chars().take(max).collect()
}

/// The `content` of the `<meta>` whose `property` or `name` is `key`.
fn meta(html: &str, key: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(n) = lower[from..].find("<meta") {
        let start = from + n;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &html[start..end];
        let named = attr(tag, "property").or_else(|| attr(tag, "name"));
        if named.is_some_and(|v| v.eq_ignore_ascii_case(key)) {
            return attr(tag, "content").map(|c| unescape(&c));
        }
        from = end;
    }
    None
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(n) = lower[from..].find(name) {
        let at = from + n;
        let before = lower[..at].chars().next_back();
        let rest = lower[at + name.len()..].trim_start();
        if before.is_some_and(char::is_whitespace) && rest.starts_with('=') {
            let offset = tag.len() - rest.len() + 1;
            let value = tag[offset..].trim_start();
            let quote = value.chars().next()?;
            return if quote == '"' || quote == '\'' {
                value[1..].split(quote).next().map(str::to_owned)
            } else {
                value.split(|c: char| c.is_whitespace() || c == '/').next().map(str::to_owned)
            };
        }
        from = at + name.len();
    }
    None
}

fn title_tag(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    Some(unescape(&html[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graph_tags_win_over_the_title() {
        let html = r#"<html><head><title>Plain</title>
            <meta property="og:title" content="Rich &amp; bold">
            <meta name="description" content='Short one'></head></html>"#;
        assert_eq!(
            parse_card(html),
            Some(Card { title: "Rich & bold".into(), description: "Short one".into() })
        );
    }

    #[test]
    fn a_page_without_a_title_has_no_card() {
        assert_eq!(parse_card("<html><body>hi</body></html>"), None);
        assert_eq!(
            parse_card("<TITLE>  Just\n a title </TITLE>"),
            Some(Card { title: "Just a title".into(), description: String::new() })
        );
    }
}
