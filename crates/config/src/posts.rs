//! Post files: `[[post]]` tables in `*.toml`, and Markdown articles with TOML front matter.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crieur_core::{
    Article, LinkCard, Location, MediaRef, Network, Post, PostOptions, PostTime, ThreadItem,
    Variant, Visibility, is_language_tag,
};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{http_url, take_keys};
use crate::error::{ConfigError, Errors};
use crate::source::{LineIndex, Src, as_value, list, read_source};
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
    load_posts_up_to(config, MAX_POSTS)
}

pub(crate) fn load_posts_up_to(config: &Config, limit: usize) -> Result<Vec<Post>, Errors> {
    let mut errors = Errors::default();
    let files: Vec<(usize, PathBuf)> =
        queue_files_into(config, &mut errors).into_iter().enumerate().collect();
    // Read on every core too: the files are many and small.
    let sources = crieur_core::map_parallel(&files, 16, |(file_index, path)| {
        read_source(path).map(|text| PostSource {
            file_index: *file_index,
            path: path.clone(),
            text,
        })
    });
    read_posts_into(config, sources.into_iter(), limit, errors)
}

/// The text of one post file, with its place in the queue: what [`read_posts`] reads.
#[derive(Debug, Clone)]
pub struct PostSource {
    /// Index of the file among the sorted queue files ([`queue_files`]): its posts' queue order.
    pub file_index: usize,
    /// The file's path, as the queue globs found it.
    pub path: PathBuf,
    /// Its text, as [`read_post_file`] returned it.
    pub text: String,
}

/// The queue files of `config`: the matches of `queue.files` (relative to the config's
/// folder), files only, sorted by path, deduplicated; the files [`load_posts`] reads, in its
/// order.
///
/// # Errors
/// A glob that is not valid or not UTF-8, a folder that cannot be read, more than
/// [`MAX_POST_FILES`] files.
pub fn queue_files(config: &Config) -> Result<Vec<PathBuf>, Errors> {
    let mut errors = Errors::default();
    let files = queue_files_into(config, &mut errors);
    errors.into_result(files)
}

/// Every queue file ([`queue_files`]) with its text, in queue order: what [`read_posts`] takes.
///
/// # Errors
/// As [`queue_files`] and [`read_post_file`], every file's problem listed.
pub fn post_sources(config: &Config) -> Result<Vec<PostSource>, Errors> {
    let mut errors = Errors::default();
    let files = queue_files_into(config, &mut errors);
    let mut sources = Vec::with_capacity(files.len());
    for (file_index, path) in files.into_iter().enumerate() {
        match read_source(&path) {
            Ok(text) => sources.push(PostSource { file_index, path, text }),
            Err(e) => errors.push(e),
        }
    }
    errors.into_result(sources)
}

/// One post file's text, read as [`load_posts`] reads it.
///
/// # Errors
/// A file that cannot be read, over 8 MiB, not UTF-8 or binary.
pub fn read_post_file(path: &Path) -> Result<String, Errors> {
    read_source(path).map_err(Errors::from)
}

/// The posts of `sources`, checked as [`load_posts`] checks them (ids unique across `sources`),
/// in the order of `sources`, each post keeping its source's `file_index`.
///
/// # Errors
/// [`Errors`] with every problem found, as [`load_posts`]; more than [`MAX_POSTS`] posts.
pub fn read_posts(config: &Config, sources: &[PostSource]) -> Result<Vec<Post>, Errors> {
    let sources = sources.iter().map(Ok::<_, ConfigError>);
    read_posts_into(config, sources, MAX_POSTS, Errors::default())
}

/// Reads `sources` in order (each a file's text, or why it could not be read) until more than
/// `limit` posts are read.
fn read_posts_into<S>(
    config: &Config,
    sources: impl Iterator<Item = Result<S, ConfigError>>,
    limit: usize,
    errors: Errors,
) -> Result<Vec<Post>, Errors>
where
    S: std::borrow::Borrow<PostSource> + Sync,
{
    let ctx = Ctx { channels: config.channels.keys().cloned().collect() };
    let sources: Vec<Result<S, ConfigError>> = sources.collect();
    // Each file is parsed and checked on its own, on every core; ids are checked for
    // uniqueness afterwards, in queue order, with the errors in the order one reader would
    // have found them.
    let parsed = parse_apart(&sources, &ctx, limit);
    let total = parsed.iter().flatten().map(|f| f.posts.len()).sum::<usize>().min(limit + 1);
    // First, with the ids borrowed: which posts repeat an id seen before them (their error,
    // naming the first place), and after which file the limit stops the reading.
    let mut repeated: Vec<Vec<Option<ConfigError>>> = Vec::with_capacity(parsed.len());
    {
        let mut seen: HashMap<&str, &Location> = HashMap::with_capacity(total);
        for file in &parsed {
            if seen.len() > limit {
                break;
            }
            let Some(file) = file else {
                repeated.push(Vec::new());
                continue;
            };
            let checks = file.deferred.as_deref().unwrap_or_default();
            let mut of_file = Vec::with_capacity(file.posts.len());
            for (post, (here, _)) in file.posts.iter().zip(checks) {
                match seen.get(post.id.as_str()) {
                    Some(first) => of_file.push(Some(ConfigError::at(
                        here.clone(),
                        format!(
                            "duplicate post id `{}`: first used at {first}; ids must be unique across all post files",
                            post.id
                        ),
                    ))),
                    None => {
                        seen.insert(&post.id, here);
                        of_file.push(None);
                    }
                }
            }
            repeated.push(of_file);
        }
    }
    // Then the posts are moved out in queue order, each file's errors in the order one reader
    // would have found them.
    let mut errors = errors;
    let mut posts = Vec::with_capacity(total);
    for ((source, file), repeats) in sources.into_iter().zip(parsed).zip(repeated) {
        let Some(file) = file else {
            if let Err(e) = source {
                errors.push(e);
            }
            continue;
        };
        let mut file_errors = file.errors.0.into_iter();
        let mut taken = 0;
        let checks = file.deferred.unwrap_or_default();
        for ((post, (_, before)), repeat) in file.posts.into_iter().zip(checks).zip(repeats) {
            errors.0.extend(file_errors.by_ref().take(before - taken));
            taken = before;
            match repeat {
                Some(error) => errors.push(error),
                None => posts.push(post),
            }
        }
        errors.0.extend(file_errors);
    }
    if posts.len() > limit {
        errors.push(ConfigError::general(format!(
            "more than {limit} posts in the queue files: crieur refuses to load so many; archive \
             published posts into files outside `queue.files`"
        )));
    }
    errors.into_result(posts)
}

/// The queue files: globs expanded against the config's folder, files only, sorted, deduplicated.
fn queue_files_into(config: &Config, errors: &mut Errors) -> Vec<PathBuf> {
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
        // Hidden files (editor lock files like `.#a.toml`) are not posts.
        let options =
            glob::MatchOptions { require_literal_leading_dot: true, ..Default::default() };
        let paths = match glob::glob_with(full, options) {
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

/// Parses each readable source on its own (ids not checked across posts), spread over the
/// machine's cores; `None` for a source that could not be read.
fn parse_apart<S>(
    sources: &[Result<S, ConfigError>],
    ctx: &Ctx,
    limit: usize,
) -> Vec<Option<Reader>>
where
    S: std::borrow::Borrow<PostSource> + Sync,
{
    let one = |source: &Result<S, ConfigError>| {
        let source = source.as_ref().ok()?.borrow();
        let mut reader = Reader {
            posts: Vec::new(),
            ids: HashMap::new(),
            errors: Errors::default(),
            limit,
            deferred: Some(Vec::new()),
        };
        reader.file(&source.path, &source.text, source.file_index, ctx);
        Some(reader)
    };
    crieur_core::map_parallel(sources, 1, one)
}

/// What the post reader needs from the config.
pub(crate) struct Ctx {
    pub channels: BTreeSet<String>,
}

pub(crate) struct Reader {
    pub posts: Vec<Post>,
    /// First place of each id.
    pub ids: HashMap<String, Location>,
    pub errors: Errors,
    /// The most posts to read.
    pub limit: usize,
    /// When set, ids are not checked for uniqueness here: each post's id, its place and how
    /// many errors came before its check are recorded, one per post read, and checked when
    /// the files read apart are put together in queue order ([`read_posts_into`]).
    pub deferred: Option<Vec<(Location, usize)>>,
}

pub(crate) const POST_KEYS: &[&str] = &[
    "id",
    "channels",
    "category",
    "campaign",
    "text",
    "link",
    "at",
    "priority",
    "thread",
    "media",
    "keep_metadata",
    "lang",
    "visibility",
    "card",
];
pub(crate) const ARTICLE_KEYS: &[&str] = &["title", "slug", "tags"];

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
    title: Option<Spanned<String>>,
    slug: Option<Spanned<String>>,
    tags: Option<Vec<String>>,
    media: Option<Vec<Spanned<RawMedia>>>,
    keep_metadata: Option<bool>,
    lang: Option<Spanned<String>>,
    visibility: Option<Spanned<String>>,
    card: Option<Spanned<RawCard>>,
}

/// `card = { title, description }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCard {
    title: Spanned<String>,
    description: Option<String>,
}

/// One `media = [{ path, alt }]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    path: Spanned<String>,
    alt: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThreadItem {
    text: Spanned<String>,
    media: Option<Vec<Spanned<RawMedia>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVariant {
    text: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    thread: Option<Vec<RawThreadItem>>,
    media: Option<Vec<Spanned<RawMedia>>>,
    lang: Option<Spanned<String>>,
    visibility: Option<Spanned<String>>,
    card: Option<Spanned<RawCard>>,
}

/// The text of a TOML string as a post: the newlines a multi-line string leaves at either end go.
fn post_text(s: &str) -> String {
    s.trim_start_matches(['\n', '\r']).trim_end_matches(['\n', '\r']).to_owned()
}

/// Whether `s` is a post id: `[A-Za-z0-9_.-]{1,128}`.
pub(crate) fn is_post_id(s: &str) -> bool {
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
        let index = LineIndex::new(text);
        let src = Src::new(path, text, &index);
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
                if self.posts.len() > self.limit {
                    return;
                }
                if let Some((span, table)) = src.table(item, "each [[post]]", &mut self.errors) {
                    self.post(&src, span, table, file_index, index_in_file, ctx, None);
                }
            }
        }
    }

    fn markdown_file(&mut self, path: &Path, text: &str, file_index: usize, ctx: &Ctx) {
        let index = LineIndex::new(text);
        let src = Src::new(path, text, &index);
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
        let fsrc = Src { base: fm_start, ..src };
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
                         ([post.{k}]) with text, link, thread or media"
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
        let mut taken = take_keys(&mut table, &["at", "thread"]);
        let at_raw = taken.remove("at");
        let thread_raw = taken.remove("thread");
        // The id as written, to name the post in messages before it is checked.
        let shown = match table.get("id").map(|v| v.get_ref()) {
            Some(DeValue::String(s)) => s.to_string(),
            _ => "?".to_owned(),
        };
        let pctx = format!("post `{shown}`");
        let prefix = if is_article { "" } else { "post." };

        // The parts are checked apart, so one mistake does not hide the others.
        let thread = thread_raw.and_then(|(_, v)| {
            let ctx = format!("in {pctx} [[{prefix}thread]]");
            src.de::<Vec<RawThreadItem>>(v, &ctx, errors)
                .map(|items| thread_items(src, items, &pctx, errors))
        });
        let mut variants = BTreeMap::new();
        for (name, (_, value)) in taken_variants {
            let vctx = format!("{pctx} override [{prefix}{name}]");
            let vspan = value.span();
            if let Some(rv) = src.de::<RawVariant>(value, &format!("in {vctx}"), errors) {
                let link = rv
                    .link
                    .as_ref()
                    .and_then(|l| http_url(src, l, &format!("{vctx}: link"), false, errors));
                let thread = rv.thread.map(|items| thread_items(src, items, &vctx, errors));
                let media = rv.media.map(|m| media_list(src, m, &vctx, errors));
                let options = post_options(src, rv.lang, rv.visibility, rv.card, &vctx, errors);
                variants.insert(
                    name,
                    Variant {
                        text: rv.text.map(|t| post_text(t.get_ref())),
                        link,
                        thread,
                        media,
                        options,
                        location: src.loc(&vspan),
                    },
                );
            }
        }
        let at = at_raw.and_then(|(_, v)| post_time(src, v, &pctx, errors));

        let Some(mut raw) =
            src.de::<RawPost>(as_value(span.clone(), table), &format!("in {what}"), errors)
        else {
            return;
        };

        // id
        let id = match raw.id.take() {
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
            Some(id) if self.deferred.is_some() => {
                let here = src.loc(&id.span());
                let before = errors.len();
                self.deferred.get_or_insert_default().push((here, before));
                Some(id.into_inner())
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
                        Some(id.into_inner())
                    }
                }
            }
        };
        // channels
        let mut channels = Vec::new();
        match raw.channels.take() {
            None => errors.push(head.err(
                &span,
                format!("{pctx} has no `channels`: add channels = [\"NAME\", ...] with names from [channels]"),
            )),
            Some(list_) if list_.get_ref().is_empty() => errors.push(src.err(
                &list_.span(),
                format!("{pctx}: `channels` is empty; known channels: {}", list(&ctx.channels)),
            )),
            Some(list_) => {
                let list_ = list_.into_inner();
                channels.reserve(list_.len());
                for c in list_ {
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
                        channels.push(c.into_inner());
                    }
                }
            }
        }

        let label = |v: Option<Spanned<String>>, key: &str, errors: &mut Errors| {
            v.and_then(|v| {
                if v.get_ref().trim().is_empty() {
                    errors.push(src.err(&v.span(), format!("{pctx}: `{key}` is empty")));
                    None
                } else {
                    Some(v.into_inner())
                }
            })
        };
        let category = label(raw.category.take(), "category", errors);
        let campaign = label(raw.campaign.take(), "campaign", errors);
        let link = raw
            .link
            .as_ref()
            .and_then(|l| http_url(src, l, &format!("{pctx}: link"), false, errors));
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
                    tags: raw.tags.take().unwrap_or_default(),
                    body_markdown: body,
                };
                (text, text_location, Some(article))
            }
        };

        let media = raw.media.map(|m| media_list(src, m, &pctx, errors)).unwrap_or_default();
        let options = post_options(src, raw.lang, raw.visibility, raw.card, &pctx, errors);
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
                thread: thread.unwrap_or_default(),
                article,
                media,
                keep_metadata: raw.keep_metadata.unwrap_or(false),
                options,
            });
        }
    }
}

fn thread_items(
    src: &Src<'_>,
    items: Vec<RawThreadItem>,
    pctx: &str,
    errors: &mut Errors,
) -> Vec<ThreadItem> {
    items
        .into_iter()
        .map(|i| ThreadItem {
            text: post_text(i.text.get_ref()),
            location: src.loc(&i.text.span()),
            media: i.media.map(|m| media_list(src, m, pctx, errors)).unwrap_or_default(),
        })
        .collect()
}

/// A `media` list: each path checked and resolved against the post file's folder. Whether the
/// file exists and what it holds is the policy's business (`media.unreadable`), so `validate`
/// names every problem of a post at once.
fn media_list(
    src: &Src<'_>,
    entries: Vec<Spanned<RawMedia>>,
    pctx: &str,
    errors: &mut Errors,
) -> Vec<MediaRef> {
    let dir = src.path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let location = src.loc(&entry.span());
        let RawMedia { path, alt } = entry.into_inner();
        let written = path.get_ref().trim();
        if written.is_empty() {
            errors.push(src.err(
                &path.span(),
                format!(
                    "{pctx}: a media `path` is empty: write the file's path, relative to the post \
                     file, like \"media/lyon-team.jpg\""
                ),
            ));
            continue;
        }
        out.push(MediaRef { path: written.to_owned(), file: dir.join(written), alt, location });
    }
    out
}

/// `lang`, `visibility` and `card` of a post or an override, each checked where it is written.
fn post_options(
    src: &Src<'_>,
    lang: Option<Spanned<String>>,
    visibility: Option<Spanned<String>>,
    card: Option<Spanned<RawCard>>,
    pctx: &str,
    errors: &mut Errors,
) -> PostOptions {
    let lang = lang.and_then(|l| {
        let tag = l.get_ref().trim();
        if is_language_tag(tag) {
            Some(tag.to_owned())
        } else {
            errors.push(src.err(
                &l.span(),
                format!(
                    "{pctx}: lang {:?} is not a language tag: write the ISO 639-1 code of the \
                     post's language, like \"fr\" (or a tag like \"pt-BR\")",
                    l.get_ref()
                ),
            ));
            None
        }
    });
    let visibility = visibility.and_then(|v| {
        let parsed = Visibility::parse(v.get_ref());
        if parsed.is_none() {
            errors.push(src.err(
                &v.span(),
                format!(
                    "{pctx}: visibility {:?} must be \"public\", \"unlisted\" or \"private\" \
                     (crieur does not send direct messages)",
                    v.get_ref()
                ),
            ));
        }
        parsed
    });
    let card = card.and_then(|c| {
        let RawCard { title, description } = c.into_inner();
        if title.get_ref().trim().is_empty() {
            errors.push(src.err(
                &title.span(),
                format!("{pctx}: the card's `title` is empty: write the title the card shows"),
            ));
            return None;
        }
        Some(LinkCard {
            title: title.get_ref().trim().to_owned(),
            description: description.map(|d| d.trim().to_owned()).unwrap_or_default(),
        })
    });
    PostOptions { lang, visibility, card }
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
    // After "YYYY-MM-DD HH:MM", an offset shows as `+`, `-` or `Z`.
    let tail = s.get(16..)?;
    let has_offset = tail.contains(['+', '-', 'Z', 'z']);
    if has_offset {
        return jiff::Timestamp::from_str(s).ok().map(PostTime::Instant);
    }
    jiff::civil::DateTime::from_str(s).ok().map(PostTime::Civil)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Env, parse_config};

    const CONFIG: &str = r#"timezone = "Europe/Paris"
[channels.company-x]
network = "x"
access_token = "env:X"
[channels.company-linkedin]
network = "linkedin"
author = "urn:li:organization:1"
access_token = "env:L"
[channels.blog]
network = "webhook"
url = "https://blog.example.com/h"
secret = "env:S"
"#;

    /// A config in a fresh folder, with `files` written under it.
    struct Fixture {
        dir: tempfile::TempDir,
        config: Config,
    }

    impl Fixture {
        fn new(files: &[(&str, &[u8])]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("posts")).unwrap();
            for (name, content) in files {
                std::fs::write(dir.path().join(name), content).unwrap();
            }
            let path = dir.path().join("crieur.toml");
            let config = parse_config(&path, CONFIG, &Env::default()).unwrap();
            Fixture { dir, config }
        }

        fn posts(&self) -> Result<Vec<Post>, Errors> {
            load_posts(&self.config)
        }

        /// The errors, with the temporary folder replaced by `D`.
        fn errors(&self) -> String {
            let out = self.posts().unwrap_err().to_string();
            out.replace(&self.dir.path().display().to_string(), "D")
        }
    }

    fn one(name: &str, content: &str) -> Fixture {
        Fixture::new(&[(name, content.as_bytes())])
    }

    #[track_caller]
    fn assert_has(out: &str, wanted: &str) {
        assert!(
            out.lines().any(|l| l.starts_with(wanted)),
            "wanted a line starting with\n  {wanted}\ngot\n{out}"
        );
    }

    #[test]
    fn a_full_post_fills_every_field() {
        let f = one(
            "posts/a.toml",
            r#"# queue
[[post]]
id = "lyon-office-welcome"
channels = ["company-x", "company-linkedin"]
category = "hr"
campaign = "careers"
text = """
Welcome to the six people who joined our Lyon office! #Hiring
"""
link = "https://example.com/careers"
at = "2026-12-01 09:00"
priority = 10

[post.x]
text = "Six new faces in Lyon. #Hiring"

[post.company-linkedin]
link = "https://example.com/careers/lyon"

[[post.company-linkedin.thread]]
text = "more"

[[post.thread]]
text = """
2/ What they will work on
"""

[[post]]
id = "second"
channels = ["company-x"]
text = "two"
at = "2026-12-01T09:00:00+01:00"
"#,
        );
        let posts = f.posts().unwrap();
        assert_eq!(posts.len(), 2);
        let p = &posts[0];
        assert_eq!(p.id, "lyon-office-welcome");
        assert!(p.location.to_string().ends_with("posts/a.toml:2:1"), "{}", p.location);
        assert!(p.text_location.to_string().ends_with("posts/a.toml:7:8"), "{}", p.text_location);
        assert_eq!((p.file_index, p.index_in_file), (0, 0));
        assert_eq!(p.channels, ["company-x", "company-linkedin"]);
        assert_eq!(p.category.as_deref(), Some("hr"));
        assert_eq!(p.campaign.as_deref(), Some("careers"));
        assert_eq!(p.text, "Welcome to the six people who joined our Lyon office! #Hiring");
        assert_eq!(p.link.as_deref(), Some("https://example.com/careers"));
        assert_eq!(p.at, Some(PostTime::Civil(jiff::civil::date(2026, 12, 1).at(9, 0, 0, 0))));
        assert_eq!(p.priority, 10);
        assert_eq!(p.variants.len(), 2);
        assert_eq!(p.variants["x"].text.as_deref(), Some("Six new faces in Lyon. #Hiring"));
        assert!(p.variants["x"].location.to_string().ends_with("a.toml:14:1"));
        let li = p.variant_for("company-linkedin", Network::Linkedin).unwrap();
        assert_eq!(li.link.as_deref(), Some("https://example.com/careers/lyon"));
        assert_eq!(li.thread.as_ref().unwrap()[0].text, "more");
        assert_eq!(p.thread.len(), 1);
        assert_eq!(p.thread[0].text, "2/ What they will work on");
        assert!(p.article.is_none());
        let q = &posts[1];
        assert_eq!((q.file_index, q.index_in_file, q.priority), (0, 1, 0));
        assert_eq!(q.at, Some(PostTime::Instant("2026-12-01T08:00:00Z".parse().unwrap())));
        assert!(q.variants.is_empty() && q.thread.is_empty());
    }

    #[test]
    fn media_lists_on_posts_variants_threads_and_front_matter() {
        let f = Fixture::new(&[
            (
                "posts/a.toml",
                br#"[[post]]
id = "photo"
channels = ["company-x", "blog"]
text = "Day one"
keep_metadata = true
media = [
  { path = "media/lyon-team.jpg", alt = "Six people smiling" },
  { path = "../shared/desk.png" },
]

[post.company-x]
media = []

[post.webhook]
media = [{ path = "media/small.jpg", alt = "Small" }]

[[post.thread]]
text = "2/"
media = [{ path = "media/map.png", alt = "A map" }]
"#,
            ),
            (
                "posts/b.md",
                b"+++\nid = \"art\"\nchannels = [\"blog\"]\ntitle = \"T\"\nmedia = [{ path = \"cover.webp\", alt = \"Cover\" }]\n+++\nBody\n",
            ),
        ]);
        let posts = f.posts().unwrap();
        let p = &posts[0];
        assert!(p.keep_metadata);
        assert_eq!(p.media.len(), 2);
        assert_eq!(p.media[0].path, "media/lyon-team.jpg");
        assert_eq!(p.media[0].file, f.dir.path().join("posts/media/lyon-team.jpg"));
        assert_eq!(p.media[0].alt.as_deref(), Some("Six people smiling"));
        assert_eq!(p.media[0].file_name(), "lyon-team.jpg");
        assert!(
            p.media[0].location.to_string().ends_with("posts/a.toml:7:3"),
            "{}",
            p.media[0].location
        );
        assert_eq!(p.media[1].alt, None);
        assert!(p.media[1].location.to_string().ends_with("posts/a.toml:8:3"));
        // The channel's empty list wins over the post's; the network's list applies elsewhere.
        let on_x = p.media_for("company-x", Network::X);
        assert_eq!(on_x.len(), 2, "the post and its thread item");
        assert!(on_x[0].is_empty());
        assert_eq!(on_x[1][0].path, "media/map.png");
        let on_blog = p.media_for("blog", Network::Webhook);
        assert_eq!(on_blog[0][0].path, "media/small.jpg");
        assert!(!posts[1].keep_metadata);
        assert_eq!(posts[1].media[0].file, f.dir.path().join("posts/cover.webp"));
        assert!(
            posts[1].media[0].location.to_string().ends_with("posts/b.md:5:10"),
            "{}",
            posts[1].media[0].location
        );
    }

    #[test]
    fn media_mistakes_are_placed_on_the_entry() {
        let out = one(
            "posts/a.toml",
            "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\nmedia = [{ path = \"a.jpg\", alt = \"A\", title = \"t\" }]\n[[post]]\nid = \"b\"\nchannels = [\"blog\"]\nmedia = [{ alt = \"no path\" }]\n[[post]]\nid = \"c\"\nchannels = [\"blog\"]\nmedia = [{ path = \" \" }]\n[[post]]\nid = \"d\"\nchannels = [\"blog\"]\nmedia = \"a.jpg\"\n",
        )
        .errors();
        assert_has(
            &out,
            "D/posts/a.toml:4:39: error: in [[post]]: unknown key `title`; expected `path` or `alt`",
        );
        assert_has(&out, "D/posts/a.toml:8:10: error: in [[post]]: missing key `path`");
        assert_has(&out, "D/posts/a.toml:12:19: error: post `c`: a media `path` is empty");
        assert_has(
            &out,
            "D/posts/a.toml:16:9: error: in [[post]]: invalid type: string \"a.jpg\"; expected a sequence",
        );
    }

    #[test]
    fn files_are_sorted_deduplicated_and_indexed() {
        let mut f = Fixture::new(&[
            ("posts/b.toml", b"[[post]]\nid = \"b1\"\nchannels = [\"blog\"]\ntext = \"b\"\n"),
            ("posts/a.toml", b"[[post]]\nid = \"a1\"\nchannels = [\"blog\"]\ntext = \"a\"\n[[post]]\nid = \"a2\"\nchannels = [\"blog\"]\ntext = \"a\"\n"),
            ("posts/notes.txt", b"not a post file"),
            ("posts/.hidden.toml", b"not read"),
        ]);
        f.config.queue.files = vec!["posts/*.toml".into(), "posts/a.*".into(), "posts/*.md".into()];
        let posts = f.posts().unwrap();
        let order: Vec<_> =
            posts.iter().map(|p| (p.id.as_str(), p.file_index, p.index_in_file)).collect();
        assert_eq!(order, [("a1", 0, 0), ("a2", 0, 1), ("b1", 1, 0)]);
        // A glob that picks a file of another kind is an error naming it.
        f.config.queue.files = vec!["posts/*".into()];
        let out = f.errors();
        assert!(out.contains("D/posts/notes.txt: a post file must end in .toml"), "{out}");
    }

    #[test]
    fn markdown_articles() {
        let f = one(
            "posts/2026-12-data-contracts.md",
            "+++\nid = \"blog-dc\"\nchannels = [\"blog\", \"company-x\"]\ncategory = \"expertise\"\ntitle = \"Data contracts in practice\"\ntags = [\"data\", \"contracts\"]\n\n[x]\ntext = \"Short teaser\"\n+++\n\n# Heading\n\nBody text.\n",
        );
        let posts = f.posts().unwrap();
        let p = &posts[0];
        assert_eq!(p.id, "blog-dc");
        assert!(p.location.to_string().ends_with("2026-12-data-contracts.md:1:1"));
        // No `text`: the title is the teaser, and its place is the title's.
        assert_eq!(p.text, "Data contracts in practice");
        assert!(p.text_location.to_string().ends_with(".md:5:9"), "{}", p.text_location);
        assert_eq!(p.variants["x"].text.as_deref(), Some("Short teaser"));
        let a = p.article.as_ref().unwrap();
        assert_eq!(a.title, "Data contracts in practice");
        assert_eq!(a.slug, "2026-12-data-contracts");
        assert_eq!(a.tags, ["data", "contracts"]);
        assert_eq!(a.body_markdown, "# Heading\n\nBody text.");
    }

    #[test]
    fn bad_front_matter_is_placed() {
        let out = one("posts/a.md", "# Title\n\nno front matter\n").errors();
        assert_has(
            &out,
            "D/posts/a.md:1:1: error: a Markdown post starts with TOML front matter between two `+++` lines",
        );
        let out = one("posts/a.md", "+++\nid = \"a\"\n\nbody\n").errors();
        assert_has(&out, "D/posts/a.md:1:1: error: the front matter is not closed");
        let out = one(
            "posts/a.md",
            "+++\nid = \"a\"\nchannels = [\"blog\"]\ntitle = = \"x\"\n+++\nbody\n",
        )
        .errors();
        assert_has(&out, "D/posts/a.md:4:9: error: invalid TOML in the front matter");
        let out = one(
            "posts/a.md",
            "+++\nid = \"a\"\nchannels = [\"blog\"]\ntitle = \"T\"\nauthor = \"me\"\n+++\nbody\n",
        )
        .errors();
        assert_has(
            &out,
            "D/posts/a.md:5:1: error: unknown key `author` in the front matter; expected one of `id`",
        );
        let out = one("posts/a.md", "+++\nid = \"a\"\nchannels = [\"blog\"]\n+++\nbody\n").errors();
        assert_has(&out, "D/posts/a.md:1:1: error: post `a`: an article needs `title = \"...\"`");
        let out =
            one("posts/a.toml", "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntitle = \"T\"\n")
                .errors();
        assert_has(&out, "D/posts/a.toml:4:1: error: `title` is only for Markdown articles");
    }

    #[test]
    fn unknown_keys_in_posts_overrides_and_threads() {
        let out = one(
            "posts/a.toml",
            "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntxt = \"typo\"\n[post.x]\ntext = \"t\"\nlnk = \"l\"\n[[post.thread]]\ntext = \"2/\"\nwhen = 1\n[[post]]\nid = \"b\"\nchannels = [\"blog\"]\n[post.threads]\ntext = \"t\"\n",
        )
        .errors();
        assert_has(
            &out,
            "D/posts/a.toml:4:1: error: unknown key `txt` in [[post]]; expected one of `id`, `channels`",
        );
        assert_has(
            &out,
            "D/posts/a.toml:7:1: error: in post `a` override [post.x]: unknown key `lnk`; expected one of `text`, `link`, `thread`",
        );
        assert_has(
            &out,
            "D/posts/a.toml:10:1: error: in post `a` [[post.thread]]: unknown key `when`; expected `text`",
        );
        assert_has(&out, "D/posts/a.toml:14:7: error: unknown key `threads` in [[post]]");
        let out = one("posts/a.toml", "post = 3\nextra = 1\n").errors();
        assert_has(
            &out,
            "D/posts/a.toml:2:1: error: unknown key `extra`: a post file holds only `[[post]]` tables",
        );
        assert_has(&out, "D/posts/a.toml:1:8: error: `post` must be an array of tables");
        let out =
            one("posts/a.toml", "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\nx = \"text\"\n")
                .errors();
        assert_has(
            &out,
            "D/posts/a.toml:4:1: error: `x` names a network or channel, so it must be an override table",
        );
    }

    #[test]
    fn unknown_channels_are_placed_and_the_known_ones_listed() {
        let out = one(
            "posts/a.toml",
            "[[post]]\nid = \"a\"\nchannels = [\"blog\", \"company-fb\"]\ntext = \"t\"\n",
        )
        .errors();
        assert_has(
            &out,
            "D/posts/a.toml:3:21: error: post `a`: unknown channel `company-fb`; known channels: `blog`, `company-linkedin`, `company-x`",
        );
        let out = one(
            "posts/a.toml",
            "[[post]]\nid = \"a\"\ntext = \"t\"\n[[post]]\nid = \"b\"\nchannels = []\n",
        )
        .errors();
        assert_has(&out, "D/posts/a.toml:1:1: error: post `a` has no `channels`");
        assert_has(&out, "D/posts/a.toml:6:12: error: post `b`: `channels` is empty");
    }

    #[test]
    fn duplicate_ids_across_files_name_the_first() {
        let f = Fixture::new(&[
            ("posts/a.toml", b"[[post]]\nid = \"same\"\nchannels = [\"blog\"]\ntext = \"a\"\n"),
            ("posts/b.toml", b"\n[[post]]\nchannels = [\"blog\"]\nid = \"same\"\ntext = \"b\"\n"),
        ]);
        let out = f.errors();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_has(
            &out,
            "D/posts/b.toml:4:6: error: duplicate post id `same`: first used at D/posts/a.toml:2:6",
        );
    }

    /// Files are parsed apart (on several cores) and their ids checked together afterwards:
    /// the errors still come in the order one reader finds them, each duplicate naming the
    /// first use in queue order, and the posts stay in queue order.
    #[test]
    fn files_read_apart_report_as_one_reader_would() {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        files.push((
            "posts/a.toml".into(),
            b"[[post]]\nid = \"same\"\nchannels = [\"blog\"]\ntext = \"a\"\n".to_vec(),
        ));
        files.push((
            "posts/b.toml".into(),
            b"[[post]]\nid = \"same\"\nchannels = [\"blog\"]\ntext = \"b\"\n\n\
              [[post]]\nid = \"bad\"\nchannels = [\"nowhere\"]\ntext = \"c\"\n\n\
              [[post]]\nid = \"same\"\nchannels = [\"blog\"]\ntext = \"d\"\n"
                .to_vec(),
        ));
        for n in 0..12 {
            let text = format!("[[post]]\nid = \"p{n}\"\nchannels = [\"blog\"]\ntext = \"{n}\"\n");
            files.push((format!("posts/c{n:02}.toml"), text.into_bytes()));
        }
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, t)| (n.as_str(), &t[..])).collect();
        let out = Fixture::new(&refs).errors();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("D/posts/b.toml:2:6: error: duplicate post id `same`: first used at D/posts/a.toml:2:6"), "{out}");
        assert!(
            lines[1].starts_with("D/posts/b.toml:8:"),
            "the unknown channel, in between: {out}"
        );
        assert!(lines[2].starts_with("D/posts/b.toml:12:6: error: duplicate post id `same`: first used at D/posts/a.toml:2:6"), "{out}");

        let good: Vec<(String, Vec<u8>)> =
            files.into_iter().filter(|(n, _)| n != "posts/b.toml").collect();
        let refs: Vec<(&str, &[u8])> = good.iter().map(|(n, t)| (n.as_str(), &t[..])).collect();
        let posts = Fixture::new(&refs).posts().unwrap();
        let ids: Vec<&str> = posts.iter().map(|p| p.id.as_str()).collect();
        let mut wanted = vec!["same".to_owned()];
        wanted.extend((0..12).map(|n| format!("p{n}")));
        assert_eq!(ids, wanted);
        assert!(posts.windows(2).all(|w| w[0].file_index < w[1].file_index));
    }

    #[test]
    fn ids_are_required_and_checked() {
        let out = one("posts/a.toml", "[[post]]\nchannels = [\"blog\"]\n[[post]]\nid = \"has space\"\nchannels = [\"blog\"]\n").errors();
        assert_has(&out, "D/posts/a.toml:1:1: error: [[post]] has no `id`");
        assert_has(&out, "D/posts/a.toml:4:6: error: post id \"has space\" may only hold letters");
    }

    #[test]
    fn fixed_times_in_two_forms() {
        let post = |at: &str| {
            let f = one(
                "posts/a.toml",
                &format!("[[post]]\nid = \"a\"\nchannels = [\"blog\"]\nat = {at}\n"),
            );
            (f.posts().map(|p| p[0].at), f)
        };
        let civil = PostTime::Civil(jiff::civil::date(2026, 12, 1).at(9, 0, 0, 0));
        assert_eq!(post("\"2026-12-01 09:00\"").0.unwrap(), Some(civil));
        assert_eq!(post("\"2026-12-01T09:00\"").0.unwrap(), Some(civil));
        assert_eq!(post("2026-12-01T09:00:00").0.unwrap(), Some(civil));
        let instant = PostTime::Instant("2026-12-01T08:00:00Z".parse().unwrap());
        assert_eq!(post("\"2026-12-01T09:00:00+01:00\"").0.unwrap(), Some(instant));
        assert_eq!(post("2026-12-01T08:00:00Z").0.unwrap(), Some(instant));
        assert_eq!(post("\"2026-12-01T03:00:00-05:00\"").0.unwrap(), Some(instant));
        for bad in [
            "\"tomorrow 9am\"",
            "\"2026-12-01\"",
            "\"2026-13-01 09:00\"",
            "\"01/12/2026 09:00\"",
            "\"2026-12-01 09:00[Europe/Paris]\"",
        ] {
            let (r, f) = post(bad);
            assert!(r.is_err(), "{bad}");
            let out = f.errors();
            assert_has(&out, "D/posts/a.toml:4:6: error: post `a`: `at = ");
            assert!(out.contains("write a local time \"2026-12-01 09:00\" (in each channel's zone) or an instant with offset \"2026-12-01T09:00:00+01:00\""), "{out}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_time_parser_never_panics(s in "(?s)[0-9: TZ+-]{0,10}.{0,20}") {
            let _ = parse_post_time(&s);
        }
    }

    #[test]
    fn times_with_multibyte_characters_are_refused_not_sliced() {
        assert_eq!(parse_post_time("2026-12-01 09:0é+01:00"), None);
        assert_eq!(parse_post_time("éééééééééééééééééé"), None);
    }

    #[test]
    fn links_must_be_http_urls() {
        for bad in ["example.com/careers", "ftp://example.com/x", "https://", "javascript:alert(1)"]
        {
            let f = one(
                "posts/a.toml",
                &format!("[[post]]\nid = \"a\"\nchannels = [\"blog\"]\nlink = \"{bad}\"\n"),
            );
            let out = f.errors();
            assert_has(&out, &format!("D/posts/a.toml:4:8: error: post `a`: link \"{bad}\""));
        }
        let f = one(
            "posts/a.toml",
            "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\n[post.x]\nlink = \"nope\"\n",
        );
        assert_has(
            &f.errors(),
            "D/posts/a.toml:5:8: error: post `a` override [post.x]: link \"nope\" is not a URL",
        );
    }

    #[test]
    fn hostile_files_are_refused_with_their_place() {
        let out = Fixture::new(&[("posts/a.toml", b"[[post]]\nid = \"a\xff\"\n")]).errors();
        assert_has(&out, "D/posts/a.toml:2:8: error: not UTF-8 text (invalid byte at offset 16)");
        let out = Fixture::new(&[("posts/a.toml", b"[[post]]\n\x00\x01\x02binary")]).errors();
        assert_has(
            &out,
            "D/posts/a.toml:2:1: error: NUL byte at offset 9: this looks like a binary file",
        );
        let out = Fixture::new(&[("posts/a.md", b"+++\n\x00")]).errors();
        assert_has(&out, "D/posts/a.md:2:1: error: NUL byte");
        // Over 8 MiB: refused from its size, before reading.
        let f = Fixture::new(&[]);
        let big = std::fs::File::create(f.dir.path().join("posts/big.toml")).unwrap();
        big.set_len(MAX_FILE_BYTES_FOR_TEST + 1).unwrap();
        let out = f.errors();
        assert_has(&out, "error: D/posts/big.toml is larger than 8 MiB: crieur refuses it");
        // Deep nesting in a post file and in front matter.
        let deep =
            format!("[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntext = {}", "[".repeat(10_000));
        let out = one("posts/a.toml", &deep).errors();
        assert_has(&out, "D/posts/a.toml:4:");
        assert!(out.contains("recurse"), "{out}");
        let deep = format!("+++\n{} = 1\n+++\n", vec!["k"; 10_000].join("."));
        assert!(one("posts/a.md", &deep).posts().is_err());
    }

    const MAX_FILE_BYTES_FOR_TEST: u64 = crate::source::MAX_FILE_BYTES;

    #[test]
    fn too_many_posts_are_refused() {
        let mut text = String::new();
        for i in 0..6 {
            text.push_str(&format!("[[post]]\nid = \"p{i}\"\nchannels = [\"blog\"]\n"));
        }
        let f = one("posts/a.toml", &text);
        assert_eq!(load_posts_up_to(&f.config, 6).unwrap().len(), 6);
        let e = load_posts_up_to(&f.config, 5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error: more than 5 posts in the queue files: crieur refuses to load so many; archive published posts into files outside `queue.files`"
        );
    }

    #[test]
    fn texts_lose_the_newlines_of_multiline_strings_only() {
        let f = one(
            "posts/a.toml",
            "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntext = \"\"\"\n\n  Indented line\nsecond line\n\n\"\"\"\n",
        );
        assert_eq!(f.posts().unwrap()[0].text, "  Indented line\nsecond line");
    }

    #[test]
    fn lang_visibility_and_card_are_read_on_a_post_and_its_overrides() {
        let f = one(
            "posts/a.toml",
            r#"[[post]]
id = "a"
channels = ["company-x", "blog"]
text = "Bonjour"
link = "https://example.com/a"
lang = "fr"
visibility = "unlisted"
card = { title = " Lyon ", description = "Six new faces" }

[post.x]
lang = "en-GB"
card = { title = "X card" }
"#,
        );
        let posts = f.posts().unwrap();
        let p = &posts[0];
        assert_eq!(p.options.lang.as_deref(), Some("fr"));
        assert_eq!(p.options.visibility, Some(crieur_core::Visibility::Unlisted));
        assert_eq!(
            p.options.card,
            Some(LinkCard { title: "Lyon".into(), description: "Six new faces".into() })
        );
        let on_x = p.options_for("company-x", Network::X);
        assert_eq!(on_x.lang.as_deref(), Some("en-GB"));
        assert_eq!(on_x.visibility, Some(crieur_core::Visibility::Unlisted), "from the post");
        assert_eq!(
            on_x.card.map(|c| (c.title, c.description)),
            Some(("X card".into(), String::new()))
        );
        assert_eq!(p.options_for("blog", Network::Webhook), p.options);
    }

    #[test]
    fn a_bad_lang_visibility_or_card_is_named_where_it_is_written() {
        let f = one(
            "posts/a.toml",
            r#"[[post]]
id = "a"
channels = ["blog"]
text = "x"
lang = "French"
visibility = "direct"
card = { title = "", description = "d" }

[post.blog]
card = { title = "t", image = "a.png" }
"#,
        );
        let out = f.errors();
        assert_has(
            &out,
            "D/posts/a.toml:5:8: error: post `a`: lang \"French\" is not a language tag",
        );
        assert_has(&out, "D/posts/a.toml:6:14: error: post `a`: visibility \"direct\" must be");
        assert_has(&out, "D/posts/a.toml:7:18: error: post `a`: the card's `title` is empty");
        assert!(out.contains("D/posts/a.toml:10:") && out.contains("image"), "{out}");
    }
}
