//! Post files: `[[post]]` tables in `*.toml`, and Markdown articles with TOML front matter.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crieur_core::{Article, Location, Network, Post, PostTime, ThreadItem, Variant};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{http_url, take_keys};
use crate::error::{ConfigError, Errors};
use crate::source::{Src, as_value, list, read_source};
use crate::types::Config;

/// The most posts crieur reads across all files.
pub const MAX_POSTS: usize = 100_000;
/// The most post files crieur reads.
pub const MAX_POST_FILES: usize = 10_000;

/// Reads every post of the queue: the files matching `config.queue.files` (relative to the
/// config's folder), sorted by path and each read once, posts in file order.
///
/// Checks every key (unknown keys, ids, channels known to the config, links, fixed times,
/// overrides, threads) and that ids are unique across all files; every problem is returned with
/// its `path:line:col`.
///
/// # Errors
/// [`Errors`] with every problem found; also a file that cannot be read, over 8 MiB, not UTF-8 or
/// binary, more than [`MAX_POST_FILES`] files or [`MAX_POSTS`] posts.
pub fn load_posts(config: &Config) -> Result<Vec<Post>, Errors> {
    let mut errors = Errors::default();
    let files = queue_files(config, &mut errors);
    let ctx = Ctx { channels: config.channels.keys().cloned().collect() };
    let mut reader = Reader { posts: Vec::new(), ids: BTreeMap::new(), errors };
    for (file_index, path) in files.iter().enumerate() {
        if reader.posts.len() > MAX_POSTS {
            break;
        }
        match read_source(path) {
            Ok(text) => reader.file(path, &text, file_index, &ctx),
            Err(e) => reader.errors.push(e),
        }
    }
    let Reader { posts, mut errors, .. } = reader;
    if posts.len() > MAX_POSTS {
        errors.push(ConfigError::general(format!(
            "more than {MAX_POSTS} posts in the queue files: crieur refuses to load so many; archive \
             published posts into files outside `queue.files`"
        )));
    }
    errors.into_result(posts)
}

/// The queue files: globs expanded against the config's folder, files only, sorted, deduplicated.
fn queue_files(config: &Config, errors: &mut Errors) -> Vec<PathBuf> {
    let mut files = BTreeSet::new();
    for pattern in &config.queue.files {
        let full = if config.dir == Path::new(".") || Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            config.dir.join(pattern)
        };
        let Some(full) = full.to_str() else {
            errors.push(ConfigError::general(format!(
                "queue file pattern {pattern:?} under {} is not UTF-8",
                config.dir.display()
            )));
            continue;
        };
        let paths = match glob::glob(full) {
            Ok(paths) => paths,
            Err(e) => {
                errors.push(ConfigError::general(format!(
                    "[queue] files: {pattern:?} is not a valid glob: {}",
                    e.msg
                )));
                continue;
            }
        };
        for entry in paths {
            match entry {
                Ok(p) if p.is_file() => {
                    files.insert(p);
                }
                Ok(_) => {}
                Err(e) => errors.push(ConfigError::general(format!(
                    "cannot read {} while expanding {pattern:?}: {}",
                    e.path().display(),
                    e.error()
                ))),
            }
            if files.len() > MAX_POST_FILES {
                errors.push(ConfigError::general(format!(
                    "[queue] files match more than {MAX_POST_FILES} files: narrow the globs"
                )));
                return Vec::new();
            }
        }
    }
    files.into_iter().collect()
}

/// What the post reader needs from the config.
pub(crate) struct Ctx {
    pub channels: BTreeSet<String>,
}

pub(crate) struct Reader {
    pub posts: Vec<Post>,
    /// First place of each id.
    pub ids: BTreeMap<String, Location>,
    pub errors: Errors,
}

const POST_KEYS: &[&str] =
    &["id", "channels", "category", "campaign", "text", "link", "at", "priority", "thread"];
const ARTICLE_KEYS: &[&str] = &["title", "slug", "tags"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPost {
    id: Option<Spanned<String>>,
    channels: Option<Spanned<Vec<Spanned<String>>>>,
    category: Option<Spanned<String>>,
    campaign: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    priority: Option<i64>,
    thread: Option<Vec<RawThreadItem>>,
    title: Option<Spanned<String>>,
    slug: Option<Spanned<String>>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreadItem {
    text: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    text: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    thread: Option<Vec<RawThreadItem>>,
}

/// The text of a TOML string as a post: the newlines a multi-line string leaves at either end go.
fn post_text(s: &str) -> String {
    s.trim_start_matches(['\n', '\r']).trim_end_matches(['\n', '\r']).to_owned()
}

/// Whether `s` is a post id: `[A-Za-z0-9_.-]{1,128}`.
fn is_post_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl Reader {
    /// Reads one file's posts by its extension.
    pub fn file(&mut self, path: &Path, text: &str, file_index: usize, ctx: &Ctx) {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => self.toml_file(path, text, file_index, ctx),
            Some("md" | "markdown") => self.markdown_file(path, text, file_index, ctx),
            _ => self.errors.push(ConfigError::general(format!(
                "{}: a post file must end in .toml ([[post]] tables) or .md (a Markdown article); \
                 fix [queue] files",
                path.display()
            ))),
        }
    }

    fn toml_file(&mut self, path: &Path, text: &str, file_index: usize, ctx: &Ctx) {
        let src = Src::new(path, text);
        let doc = match src.parse_document(text) {
            Ok(doc) => doc.into_inner(),
            Err(e) => return self.errors.push(e),
        };
        for (key, value) in doc {
            if key.get_ref() != "post" {
                self.errors.push(src.err(
                    &key.span(),
                    format!(
                        "unknown key `{}`: a post file holds only `[[post]]` tables",
                        key.get_ref()
                    ),
                ));
                continue;
            }
            let vspan = value.span();
            let DeValue::Array(items) = value.into_inner() else {
                self.errors.push(src.err(
                    &vspan,
                    "`post` must be an array of tables: write each post under `[[post]]`",
                ));
                continue;
            };
            for (index_in_file, item) in items.into_iter().enumerate() {
                if self.posts.len() > MAX_POSTS {
                    return;
                }
                if let Some((span, table)) = src.table(item, "each [[post]]", &mut self.errors) {
                    self.post(&src, span, table, file_index, index_in_file, ctx, None);
                }
            }
        }
    }

    fn markdown_file(&mut self, path: &Path, text: &str, file_index: usize, ctx: &Ctx) {
        let src = Src::new(path, text);
        let start = Location::new(path, 1, 1);
        let Some(after_open) = strip_fence_line(text) else {
            return self.errors.push(ConfigError::at(
                start,
                "a Markdown post starts with TOML front matter between two `+++` lines (the keys \
                 of a [[post]], plus title, slug, tags)",
            ));
        };
        let fm_start = text.len() - after_open.len();
        // Find the closing `+++` line.
        let mut offset = fm_start;
        let mut close = None;
        for line in after_open.split_inclusive('\n') {
            if line.trim_end() == "+++" {
                close = Some((offset, offset + line.len()));
                break;
            }
            offset += line.len();
        }
        let Some((fm_end, body_start)) = close else {
            return self.errors.push(ConfigError::at(
                start,
                "the front matter is not closed: add a line `+++` after its TOML keys",
            ));
        };
        let front = &text[fm_start..fm_end];
        let fsrc = Src { path, text, base: fm_start };
        let table = match toml::de::DeTable::parse(front) {
            Ok(t) => t.into_inner(),
            Err(e) => {
                return self.errors.push(fsrc.toml_err(
                    &e,
                    None,
                    "invalid TOML in the front matter",
                ));
            }
        };
        let body = text[body_start..].trim_start_matches(['\n', '\r']).trim_end().to_owned();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        // The post's place is the opening `+++`.
        self.post_with(&src, &fsrc, 0..0, table, file_index, 0, ctx, Some((body, stem)));
    }

    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        src: &Src<'_>,
        span: Range<usize>,
        table: DeTable<'_>,
        file_index: usize,
        index_in_file: usize,
        ctx: &Ctx,
        article: Option<(String, String)>,
    ) {
        self.post_with(src, src, span, table, file_index, index_in_file, ctx, article);
    }

    /// One post. `head` places the post itself; `src` places its keys (they differ for front
    /// matter, parsed apart from the file). `article` is `(body, file stem)` for Markdown.
    #[allow(clippy::too_many_arguments)]
    fn post_with(
        &mut self,
        head: &Src<'_>,
        src: &Src<'_>,
        span: Range<usize>,
        mut table: DeTable<'_>,
        file_index: usize,
        index_in_file: usize,
        ctx: &Ctx,
        article: Option<(String, String)>,
    ) {
        let errors = &mut self.errors;
        let location = head.loc(&span);
        let is_article = article.is_some();
        let what = if is_article { "the front matter" } else { "[[post]]" };

        // Sort the keys: fixed ones, overrides by network or channel name, mistakes.
        let mut variants_raw = Vec::new();
        let mut bad = Vec::new();
        for (key, value) in table.iter() {
            let k = key.get_ref().as_ref();
            if POST_KEYS.contains(&k) || (is_article && ARTICLE_KEYS.contains(&k)) {
                continue;
            }
            let is_target = Network::from_str(k).is_ok() || ctx.channels.contains(k);
            if ARTICLE_KEYS.contains(&k) {
                errors.push(src.err(
                    &key.span(),
                    format!("`{k}` is only for Markdown articles (posts/*.md front matter)"),
                ));
            } else if is_target && !value.get_ref().is_table() {
                errors.push(src.err(
                    &key.span(),
                    format!(
                        "`{k}` names a network or channel, so it must be an override table \
                         ([post.{k}]) with text, link or thread"
                    ),
                ));
            } else if is_target {
                variants_raw.push(k.to_owned());
                continue;
            } else {
                let mut keys: Vec<&str> = POST_KEYS.to_vec();
                if is_article {
                    keys.extend(ARTICLE_KEYS);
                }
                errors.push(src.err(
                    &key.span(),
                    format!(
                        "unknown key `{k}` in {what}; expected one of {}, or an override table \
                         named after a network ({}) or a channel ({})",
                        list(keys),
                        list(Network::ALL.map(|n| n.as_str())),
                        list(&ctx.channels)
                    ),
                ));
            }
            bad.push(k.to_owned());
        }
        for k in &bad {
            table.remove(k.as_str());
        }
        let variant_names: Vec<&str> = variants_raw.iter().map(String::as_str).collect();
        let taken_variants = take_keys(&mut table, &variant_names);
        let at_raw = take_keys(&mut table, &["at"]).remove("at");

        let Some(raw) =
            src.de::<RawPost>(as_value(span.clone(), table), &format!("in {what}"), errors)
        else {
            return;
        };

        // id
        let id = match &raw.id {
            None => {
                errors.push(head.err(
                    &span,
                    format!(
                        "{what} has no `id`: add a stable one, like id = \"lyon-office-welcome\""
                    ),
                ));
                None
            }
            Some(id) if !is_post_id(id.get_ref()) => {
                errors.push(src.err(
                    &id.span(),
                    format!(
                        "post id {:?} may only hold letters, digits, `_`, `.` and `-` (1 to 128)",
                        id.get_ref()
                    ),
                ));
                None
            }
            Some(id) => {
                let here = src.loc(&id.span());
                match self.ids.get(id.get_ref()) {
                    Some(first) => {
                        errors.push(ConfigError::at(
                            here,
                            format!(
                                "duplicate post id `{}`: first used at {first}; ids must be unique across all post files",
                                id.get_ref()
                            ),
                        ));
                        None
                    }
                    None => {
                        self.ids.insert(id.get_ref().clone(), here);
                        Some(id.get_ref().clone())
                    }
                }
            }
        };
        let shown = id.clone().unwrap_or_else(|| "?".to_owned());
        let pctx = format!("post `{shown}`");

        // channels
        let mut channels = Vec::new();
        match &raw.channels {
            None => errors.push(head.err(
                &span,
                format!("{pctx} has no `channels`: add channels = [\"NAME\", ...] with names from [channels]"),
            )),
            Some(list_) if list_.get_ref().is_empty() => errors.push(src.err(
                &list_.span(),
                format!("{pctx}: `channels` is empty; known channels: {}", list(&ctx.channels)),
            )),
            Some(list_) => {
                for c in list_.get_ref() {
                    if !ctx.channels.contains(c.get_ref()) {
                        errors.push(src.err(
                            &c.span(),
                            format!(
                                "{pctx}: unknown channel `{}`; known channels: {}",
                                c.get_ref(),
                                list(&ctx.channels)
                            ),
                        ));
                    } else if channels.contains(c.get_ref()) {
                        errors.push(src.err(&c.span(), format!("{pctx}: channel `{}` is listed twice", c.get_ref())));
                    } else {
                        channels.push(c.get_ref().clone());
                    }
                }
            }
        }

        let label = |v: &Option<Spanned<String>>, key: &str, errors: &mut Errors| {
            v.as_ref().and_then(|v| {
                if v.get_ref().trim().is_empty() {
                    errors.push(src.err(&v.span(), format!("{pctx}: `{key}` is empty")));
                    None
                } else {
                    Some(v.get_ref().clone())
                }
            })
        };
        let category = label(&raw.category, "category", errors);
        let campaign = label(&raw.campaign, "campaign", errors);
        let link = raw
            .link
            .as_ref()
            .and_then(|l| http_url(src, l, &format!("{pctx}: link"), false, errors));
        let at = at_raw.and_then(|(_, v)| post_time(src, v, &pctx, errors));
        let thread = raw.thread.map(|items| thread_items(src, items)).unwrap_or_default();

        let mut variants = BTreeMap::new();
        for (name, (_, value)) in taken_variants {
            let vctx = format!("{pctx} override [{}{name}]", if is_article { "" } else { "post." });
            let vspan = value.span();
            if let Some(rv) = src.de::<RawVariant>(value, &format!("in {vctx}"), errors) {
                let link = rv
                    .link
                    .as_ref()
                    .and_then(|l| http_url(src, l, &format!("{vctx}: link"), false, errors));
                variants.insert(
                    name,
                    Variant {
                        text: rv.text.map(|t| post_text(t.get_ref())),
                        link,
                        thread: rv.thread.map(|items| thread_items(src, items)),
                        location: src.loc(&vspan),
                    },
                );
            }
        }

        let (text, text_location, article) = match article {
            None => match &raw.text {
                Some(t) => (post_text(t.get_ref()), src.loc(&t.span()), None),
                None => (String::new(), location.clone(), None),
            },
            Some((body, stem)) => {
                let Some(title) = raw.title.as_ref().filter(|t| !t.get_ref().trim().is_empty())
                else {
                    errors.push(head.err(
                        &span,
                        format!("{pctx}: an article needs `title = \"...\"` in its front matter"),
                    ));
                    return;
                };
                let slug = match &raw.slug {
                    Some(s) if !is_post_id(s.get_ref()) => {
                        errors.push(src.err(
                            &s.span(),
                            format!(
                                "{pctx}: slug {:?} may only hold letters, digits, `_`, `.` and `-`",
                                s.get_ref()
                            ),
                        ));
                        String::new()
                    }
                    Some(s) => s.get_ref().clone(),
                    None => stem,
                };
                let (text, text_location) = match &raw.text {
                    Some(t) => (post_text(t.get_ref()), src.loc(&t.span())),
                    None => (title.get_ref().trim().to_owned(), src.loc(&title.span())),
                };
                let article = Article {
                    title: title.get_ref().trim().to_owned(),
                    slug,
                    tags: raw.tags.clone().unwrap_or_default(),
                    body_markdown: body,
                };
                (text, text_location, Some(article))
            }
        };

        if let Some(id) = id {
            self.posts.push(Post {
                id,
                location,
                text_location,
                file_index,
                index_in_file,
                channels,
                category,
                campaign,
                text,
                link,
                at,
                priority: raw.priority.unwrap_or(0),
                variants,
                thread,
                article,
            });
        }
    }
}

fn thread_items(src: &Src<'_>, items: Vec<RawThreadItem>) -> Vec<ThreadItem> {
    items
        .into_iter()
        .map(|i| ThreadItem {
            text: post_text(i.text.get_ref()),
            location: src.loc(&i.text.span()),
        })
        .collect()
}

/// The first line is exactly `+++`: the rest of the text after it.
fn strip_fence_line(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("+++")?;
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))
}

/// `at`: a civil time (`"2026-12-01 09:00"`, in each channel's zone) or an RFC 3339 instant with
/// offset. A TOML date-time written without quotes is taken the same way.
fn post_time(
    src: &Src<'_>,
    value: Spanned<DeValue<'_>>,
    pctx: &str,
    errors: &mut Errors,
) -> Option<PostTime> {
    let span = value.span();
    let s =
        match value.into_inner() {
            DeValue::String(s) => s.into_owned(),
            DeValue::Datetime(d) => d.to_string(),
            other => {
                errors.push(src.err(
                    &span,
                    format!("{pctx}: `at` must be a string, not a {}", other.type_str()),
                ));
                return None;
            }
        };
    if let Some(t) = parse_post_time(&s) {
        return Some(t);
    }
    errors.push(src.err(
        &span,
        format!(
            "{pctx}: `at = {s:?}` is not a time crieur reads: write a local time \"2026-12-01 09:00\" \
             (in each channel's zone) or an instant with offset \"2026-12-01T09:00:00+01:00\""
        ),
    ));
    None
}

fn parse_post_time(s: &str) -> Option<PostTime> {
    let s = s.trim();
    // A date alone, or a time zone annotation, is not one of the two forms.
    if s.len() < 16 || s.contains('[') {
        return None;
    }
    let has_offset = {
        let tail = &s[16..];
        tail.contains(['+', 'Z', 'z']) || tail.contains('-')
    };
    if has_offset {
        return jiff::Timestamp::from_str(s).ok().map(PostTime::Instant);
    }
    jiff::civil::DateTime::from_str(s).ok().map(PostTime::Civil)
}
