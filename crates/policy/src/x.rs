//! X's weighted length (twitter-text configuration v3), written out so it needs no C++ toolchain.
//!
//! Why not the `twitter-text` crate: its default parser counts bare domains at their real length,
//! and the backend that gets them right pins `cxx` and needs a C++ compiler. The counter is small;
//! the hard part is finding links exactly as X does, which [`extract_urls`] does by following the
//! shape of X's link pattern (protocol, sub-domains, domain, TLD from X's list, port, path with
//! balanced parentheses, query) with the same preferences a backtracking matcher has.
//!
//! The count, after NFC normalisation: every link weighs 23; every emoji (see the `emoji`
//! module) weighs 2; every other code point weighs 1 in U+0000-U+10FF, U+2000-U+200D,
//! U+2010-U+201F and U+2032-U+2037, and 2 elsewhere. U+FFFE, U+FEFF and U+FFFF make the text
//! invalid. Ranges are reported in UTF-16 units, like X's own libraries.

use serde::Serialize;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::emoji::emoji_len;
use crate::tld::{CCTLDS, GTLDS};

/// X's default limit, in weighted characters.
pub const X_MAX_LENGTH: u32 = 280;
/// What every link weighs on X.
pub const X_URL_WEIGHT: u32 = 23;

const SCALE: u64 = 100;
const MAX_URL_LENGTH: usize = 4096;
const MAX_TCO_SLUG: usize = 40;
const MAX_LABEL: usize = 63;

/// The result of counting a text as X does (the fields of twitter-text's `parseTweet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XCount {
    /// The weighted length.
    pub weighted_length: u32,
    /// Fits the limit, is not empty and holds no invalid character.
    pub valid: bool,
    /// Weighted length per thousand of the limit, rounded down.
    pub permillage: u32,
    /// Start of the displayable text (always 0).
    pub display_range_start: i64,
    /// Last UTF-16 index of the text (0 when empty).
    pub display_range_end: i64,
    /// Start of the part that fits (always 0).
    pub valid_range_start: i64,
    /// Last UTF-16 index of the part that fits the limit.
    pub valid_range_end: i64,
}

/// Whether a code point weighs 1 (in X's weight ranges) rather than 2.
pub(crate) fn light_weight(c: char) -> bool {
    matches!(c as u32, 0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037)
}

const fn is_invalid(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

/// Counts `text` as X does, against the limit `max` (280 unless the account has more).
///
/// Never panics; works in time linear in the text for ordinary input.
pub fn count_x(text: &str, max: u32) -> XCount {
    if text.is_ascii() { count_ascii(text, max) } else { count_any(text, max) }
}

/// [`count_x`] for ASCII text, which is most of what a queue holds: already NFC, free of emoji
/// and of invalid characters, one UTF-16 unit per byte, every character weighing 1, so only the
/// links change the sum and no table per character is needed.
fn count_ascii(text: &str, max: u32) -> XCount {
    let n = text.len();
    // One character per byte: the links' character indices are byte offsets too.
    let urls = find_links(text);
    let max_scaled = u64::from(max) * SCALE;
    let mut weighted: u64 = 0;
    let mut valid_display: usize = 0;
    let mut next_url = 0;
    let mut i = 0;
    while i < n {
        while next_url < urls.len() && urls[next_url].start < i {
            next_url += 1;
        }
        // Of several links found at one index, the last one counts (as in `count_any`).
        let mut at_i = None;
        while next_url < urls.len() && urls[next_url].start == i {
            at_i = Some(urls[next_url].skip16);
            next_url += 1;
        }
        let next = if let Some(skip16) = at_i {
            weighted += u64::from(X_URL_WEIGHT) * SCALE;
            (i + skip16).min(n).max(i + 1)
        } else {
            weighted += SCALE;
            i + 1
        };
        if weighted <= max_scaled {
            valid_display = next - 1;
        }
        i = next;
    }
    finish(weighted, max, n, n, valid_display, true)
}

/// [`count_x`] for any text.
fn count_any(text: &str, max: u32) -> XCount {
    let original16 = text.encode_utf16().count();
    // Most texts are NFC already: the quick check saves composing them again.
    let cs: Vec<char> = if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        text.chars().collect()
    } else {
        text.nfc().collect()
    };
    let mut off16 = Vec::with_capacity(cs.len() + 1);
    let mut acc = 0usize;
    for &c in &cs {
        off16.push(acc);
        acc += c.len_utf16();
    }
    off16.push(acc);
    let normalized16 = acc;

    let urls = if may_hold_link(cs.iter().copied()) { extract_in(&cs) } else { Vec::new() };
    let mut url_at = vec![None; cs.len()];
    for u in &urls {
        if let Some(slot) = url_at.get_mut(u.start) {
            *slot = Some(u.skip16);
        }
    }
    let mut emoji_at = vec![0usize; cs.len()];
    let mut i = 0;
    while i < cs.len() {
        let n = emoji_len(&cs, i, light_weight);
        if n > 0 {
            emoji_at[i] = n;
            i += n;
        } else {
            i += 1;
        }
    }

    let max_scaled = u64::from(max) * SCALE;
    let mut weighted: u64 = 0;
    let mut valid = true;
    let mut valid_display: usize = 0;
    let mut i = 0;
    while i < cs.len() {
        let next = if let Some(skip16) = url_at[i] {
            weighted += u64::from(X_URL_WEIGHT) * SCALE;
            let target = off16[i] + skip16;
            let mut j = i + 1;
            while j < cs.len() && off16[j] < target {
                j += 1;
            }
            j
        } else if emoji_at[i] > 0 {
            weighted += 2 * SCALE;
            i + emoji_at[i]
        } else {
            weighted += if light_weight(cs[i]) { SCALE } else { 2 * SCALE };
            i + 1
        };
        let last16 = off16[next] - 1;
        if valid && is_invalid(cs[next - 1]) {
            valid = false;
        }
        if valid && weighted <= max_scaled {
            valid_display = last16;
        }
        i = next;
    }

    finish(weighted, max, original16, normalized16, valid_display, valid)
}

/// The count's fields from the weighted sum (scaled), the text's UTF-16 lengths before and
/// after normalisation, the last UTF-16 index that fits, and whether every character is valid.
fn finish(
    weighted: u64,
    max: u32,
    original16: usize,
    normalized16: usize,
    valid_display: usize,
    valid: bool,
) -> XCount {
    let weighted_length = weighted / SCALE;
    let valid = valid && weighted_length > 0 && weighted_length <= u64::from(max);
    let permillage = if max == 0 {
        0
    } else {
        // The same floating-point steps as X's libraries, so rounding agrees.
        ((weighted_length as f64 / f64::from(max)) * 1000.0).floor() as u64
    };
    let offset = original16 as i64 - normalized16 as i64;
    XCount {
        weighted_length: saturate(weighted_length),
        valid,
        permillage: saturate(permillage),
        display_range_start: 0,
        display_range_end: if original16 > 0 { original16 as i64 - 1 } else { 0 },
        valid_range_start: 0,
        valid_range_end: valid_display as i64 + offset,
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A link found in a text, as byte offsets into that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlSpan {
    /// First byte of the link.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
}

/// The links X would see in `text` (with or without `http(s)://`), in order.
///
/// The text is taken as is (no normalisation), so the spans index into it.
pub fn extract_urls(text: &str) -> Vec<UrlSpan> {
    let found = find_links(text);
    if found.is_empty() || text.is_ascii() {
        // One byte per character: the indices are the byte offsets.
        return found
            .into_iter()
            .map(|u| UrlSpan { start: u.start, end: u.end.min(text.len()) })
            .collect();
    }
    let bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).chain([text.len()]).collect();
    let last = bytes.len() - 1;
    found
        .into_iter()
        .map(|u| UrlSpan { start: bytes[u.start], end: bytes[u.end.min(last)] })
        .collect()
}

/// The links of `text` as it is (no normalisation), in character indices; a text that cannot
/// hold one is answered without collecting its characters.
fn find_links(text: &str) -> Vec<Found> {
    if !may_hold_link(text.chars()) {
        return Vec::new();
    }
    let cs: Vec<char> = text.chars().collect();
    extract_in(&cs)
}

/// A link in character indices; `skip16` is how many UTF-16 units X's counter jumps over.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    skip16: usize,
}

/// One match of the link pattern.
struct Match {
    before: Option<char>,
    url_start: usize,
    protocol_len: usize,
    domain: (usize, usize),
    has_path: bool,
    end: usize,
}

/// Whether `text` may hold a link: every link holds a label, a `.` and a TLD, so some `.` sits
/// between a label character and a domain character. A text without one (prose: "It works.
/// Really.") has no link, and is answered without building the scanner.
fn may_hold_link(mut chars: impl Iterator<Item = char>) -> bool {
    let label_char = |c: char| c == '_' || c == '-' || is_domain_char(c);
    let (Some(mut a), Some(mut b)) = (chars.next(), chars.next()) else { return false };
    for c in chars {
        if b == '.' && label_char(a) && is_domain_char(c) {
            return true;
        }
        (a, b) = (b, c);
    }
    false
}

fn extract_in(cs: &[char]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut scan = Scanner::new(cs);
    let mut from = 0;
    while let Some(m) = scan.find_match(from) {
        from = m.end;
        let url = &cs[m.url_start..m.end];
        let domain = &cs[m.domain.0..m.domain.1];
        let protocol16 = if m.protocol_len > 0 { m.protocol_len } else { "https://".len() };
        if protocol16 + len16(url) > MAX_URL_LENGTH || !valid_host(domain) {
            continue;
        }
        if m.protocol_len == 0 {
            if m.before.is_some_and(|b| matches!(b, '-' | '_' | '.' | '/')) {
                continue;
            }
            let asciis = ascii_domains(domain);
            let Some((&(last_s, last_e), others)) = asciis.split_last() else { continue };
            for &(s, e) in others {
                if m.has_path || linked_without_path(&domain[s..e]) {
                    let (a, b) = (m.domain.0 + s, m.domain.0 + e);
                    out.push(Found { start: a, end: b, skip16: len16(&cs[a..b]) });
                }
            }
            let d = &domain[last_s..last_e];
            let a = m.domain.0 + last_s;
            if m.has_path {
                // The last bare domain takes the path and query with it.
                let rest = len16(url) - len16(domain);
                out.push(Found { start: a, end: m.end, skip16: len16(d) + rest });
            } else if linked_without_path(d) {
                let b = m.domain.0 + last_e;
                out.push(Found { start: a, end: b, skip16: len16(d) });
            }
        } else {
            let mut end = m.end;
            if let Some(slug_end) = tco_end(url) {
                match slug_end {
                    None => continue,
                    Some(n) => end = m.url_start + n,
                }
            }
            out.push(Found { start: m.url_start, end, skip16: len16(&cs[m.url_start..end]) });
        }
    }
    out
}

/// A bare domain X links even without a path: not `name.cc` with a country TLD, except `.co`
/// and `.tv`.
fn linked_without_path(d: &[char]) -> bool {
    is_short_domain(d, &["co", "tv"]) || !is_short_domain(d, CCTLDS)
}

fn len16(cs: &[char]) -> usize {
    cs.iter().map(|c| c.len_utf16()).sum()
}

/// For `https://t.co/SLUG...`: `Some(None)` when the slug is too long (not a link), else
/// `Some(Some(n))` with the length of the link X keeps; `None` when not a t.co link.
fn tco_end(url: &[char]) -> Option<Option<usize>> {
    let p = if starts_with_ci(url, 0, "https://t.co/") {
        13
    } else if starts_with_ci(url, 0, "http://t.co/") {
        12
    } else {
        return None;
    };
    let mut j = p;
    while j < url.len() && url[j].is_ascii_alphanumeric() {
        j += 1;
    }
    if j == p {
        return None;
    }
    if j - p > MAX_TCO_SLUG {
        return Some(None);
    }
    Some(Some(query_end(url, j)))
}

fn is_preceding(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || matches!(c, '@' | '＠' | '$' | '#' | '＃') || is_invalid(c))
}

fn starts_with_ci(cs: &[char], at: usize, pat: &str) -> bool {
    let mut i = at;
    for p in pat.chars() {
        match cs.get(i) {
            Some(c) if c.to_ascii_lowercase() == p => i += 1,
            _ => return false,
        }
    }
    true
}

/// Punctuation that cannot be part of a host name.
const fn is_punct(c: char) -> bool {
    matches!(
        c,
        '!' | '\''
            | '#'
            | '%'
            | '&'
            | '('
            | ')'
            | '*'
            | '+'
            | ','
            | '\\'
            | '-'
            | '.'
            | '/'
            | ':'
            | ';'
            | '<'
            | '='
            | '>'
            | '?'
            | '@'
            | '['
            | ']'
            | '^'
            | '_'
            | '{'
            | '|'
            | '}'
            | '~'
            | '$'
    )
}

const fn is_space(c: char) -> bool {
    matches!(
        c,
        '\u{09}'..='\u{0D}'
            | ' '
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{180E}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

const fn is_directional(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2066}'..='\u{2069}')
}

/// A character allowed in a host label (anything but punctuation, spaces and markers).
fn is_domain_char(c: char) -> bool {
    match u8::try_from(c) {
        Ok(b) if b.is_ascii() => ASCII_DOMAIN_CHARS[usize::from(b)],
        _ => domain_char(c),
    }
}

/// [`is_domain_char`] for each ASCII character, worked out at compile time: most text is ASCII,
/// and the scanner asks about every character.
const ASCII_DOMAIN_CHARS: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0u8;
    while b < 128 {
        table[b as usize] = domain_char(b as char);
        b += 1;
    }
    table
};

const fn domain_char(c: char) -> bool {
    !(is_punct(c) || is_space(c) || is_invalid(c) || is_directional(c))
}

/// The link matcher over one text, with what it has learnt about the text's labels so that a
/// long text is scanned in linear time.
struct Scanner<'a> {
    cs: &'a [char],
    /// For a character that may sit in a label (domain characters, `_`, `-`): the end of the
    /// run of such characters it belongs to.
    run_end: Vec<usize>,
    /// Number of `_` before each index.
    underscores: Vec<usize>,
    /// For a position right after a `.`: the TLD end reached by the longest chain of labels
    /// starting there (memoised; `None` inside means none).
    best: Vec<Option<Option<usize>>>,
}

impl<'a> Scanner<'a> {
    fn new(cs: &'a [char]) -> Self {
        let n = cs.len();
        let mut run_end = vec![0; n];
        let mut end = n;
        for i in (0..n).rev() {
            let c = cs[i];
            if c == '_' || c == '-' || is_domain_char(c) {
                if i + 1 == n
                    || !(cs[i + 1] == '_' || cs[i + 1] == '-' || is_domain_char(cs[i + 1]))
                {
                    end = i + 1;
                }
                run_end[i] = end;
            } else {
                run_end[i] = i;
            }
        }
        let mut underscores = Vec::with_capacity(n + 1);
        let mut count = 0;
        for &c in cs {
            underscores.push(count);
            if c == '_' {
                count += 1;
            }
        }
        underscores.push(count);
        Scanner { cs, run_end, underscores, best: vec![None; n + 1] }
    }

    /// The next match of the link pattern at or after `from`.
    fn find_match(&mut self, from: usize) -> Option<Match> {
        for s in from..self.cs.len() {
            let c = self.cs[s];
            if is_preceding(c)
                && let Some(m) = self.url_at(s + 1, Some(c))
            {
                return Some(m);
            }
            if s == 0
                && let Some(m) = self.url_at(0, None)
            {
                return Some(m);
            }
        }
        None
    }

    fn url_at(&mut self, u: usize, before: Option<char>) -> Option<Match> {
        let cs = self.cs;
        if u >= cs.len() {
            return None;
        }
        let protocol_len = if starts_with_ci(cs, u, "https://") {
            8
        } else if starts_with_ci(cs, u, "http://") {
            7
        } else {
            0
        };
        let d = u + protocol_len;
        let de = self.domain_end(d)?;
        let mut pos = de;
        if cs.get(pos) == Some(&':') && cs.get(pos + 1).is_some_and(|c| c.is_ascii_digit()) {
            pos += 1;
            while cs.get(pos).is_some_and(|c| c.is_ascii_digit()) {
                pos += 1;
            }
        }
        let mut has_path = false;
        if cs.get(pos) == Some(&'/') {
            has_path = true;
            pos = path_end(cs, pos + 1);
        }
        pos = query_end(cs, pos);
        Some(Match { before, url_start: u, protocol_len, domain: (d, de), has_path, end: pos })
    }

    /// The label starting at `i`: its end (at a `.`), whether it holds `_`, and whether it is
    /// well formed (starts and ends with a domain character).
    fn label(&self, i: usize) -> Option<(usize, bool, bool)> {
        let end = *self.run_end.get(i)?;
        if end == i || self.cs.get(end) != Some(&'.') {
            return None;
        }
        let underscore = self.underscores[end] > self.underscores[i];
        let well_formed = is_domain_char(self.cs[i]) && is_domain_char(self.cs[end - 1]);
        Some((end, underscore, well_formed))
    }

    /// Sub-domains, a domain name and a TLD from `d`: the end of the TLD.
    ///
    /// The pattern takes as many well-formed labels as it can, then gives them back one by one
    /// until the last one kept (the domain name, without `_`) is followed by a TLD; so the
    /// answer is the rightmost such label of the chain.
    fn domain_end(&mut self, d: usize) -> Option<usize> {
        let (end0, underscore0, ok0) = self.label(d)?;
        if !ok0 {
            return None;
        }
        if let Some(end) = self.best_after(end0 + 1) {
            return Some(end);
        }
        if underscore0 { None } else { tld_end(self.cs, end0 + 1, self.cs.len()) }
    }

    /// For the chain of well-formed labels starting at `p` (right after a `.`): the TLD end
    /// after its rightmost label that can be a domain name.
    fn best_after(&mut self, p: usize) -> Option<usize> {
        // Walk the chain forward until a known answer, then fill answers backward.
        let mut chain = Vec::new();
        let mut q = p;
        let mut known = None;
        loop {
            if let Some(answer) = self.best.get(q).copied().flatten() {
                known = answer;
                break;
            }
            match self.label(q) {
                Some((end, underscore, true)) => {
                    chain.push((q, end, underscore));
                    q = end + 1;
                }
                _ => break,
            }
        }
        let mut answer = known;
        for &(start, end, underscore) in chain.iter().rev() {
            if answer.is_none() && !underscore {
                answer = tld_end(self.cs, end + 1, self.cs.len());
            }
            if let Some(slot) = self.best.get_mut(start) {
                *slot = Some(answer);
            }
        }
        answer
    }
}

fn lower(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn tld_lookahead_ok(cs: &[char], at: usize, limit: usize) -> bool {
    at >= limit || !(cs[at].is_ascii_alphanumeric() || matches!(cs[at], '@' | '+' | '-'))
}

/// The end of a TLD from X's lists (longest first, generic before country code) or of a
/// punycode TLD starting at `t`; `limit` is where the text ends for the lookahead.
fn tld_end(cs: &[char], t: usize, limit: usize) -> Option<usize> {
    for list in [GTLDS, CCTLDS] {
        if let Some(end) = list_tld_end(cs, t, limit, list) {
            return Some(end);
        }
    }
    if t + 4 < limit && starts_with_ci(cs, t, "xn--") {
        let mut j = t + 4;
        while j < limit && (cs[j].is_ascii_alphanumeric() || cs[j] == '-') {
            j += 1;
        }
        if j > t + 4 {
            return Some(j);
        }
    }
    None
}

const LONGEST_TLD: usize = 24;

fn list_tld_end(cs: &[char], t: usize, limit: usize, list: &[&str]) -> Option<usize> {
    let mut candidate = String::new();
    let mut ends = Vec::new();
    let mut j = t;
    while j < limit && j - t < LONGEST_TLD {
        let c = cs[j];
        if is_punct(c) || is_space(c) {
            break;
        }
        candidate.push(lower(c));
        j += 1;
        ends.push((candidate.len(), j));
    }
    ends.into_iter()
        .rev()
        .find(|&(bytes, end)| {
            list.binary_search(&&candidate[..bytes]).is_ok() && tld_lookahead_ok(cs, end, limit)
        })
        .map(|(_, end)| end)
}

fn is_latin_accent(c: char) -> bool {
    matches!(
        c,
        '\u{C0}'..='\u{D6}'
            | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{FF}'
            | '\u{100}'..='\u{24F}'
            | '\u{253}'
            | '\u{254}'
            | '\u{256}'
            | '\u{257}'
            | '\u{259}'
            | '\u{25B}'
            | '\u{263}'
            | '\u{268}'
            | '\u{26F}'
            | '\u{272}'
            | '\u{289}'
            | '\u{28B}'
            | '\u{2BB}'
            | '\u{300}'..='\u{36F}'
            | '\u{1E00}'..='\u{1EFF}'
    )
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{400}'..='\u{4FF}')
}

/// Characters allowed anywhere in a path.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '*'
                | '\''
                | ';'
                | ':'
                | '='
                | '+'
                | ','
                | '.'
                | '$'
                | '/'
                | '%'
                | '#'
                | '['
                | ']'
                | '-'
                | '\u{2013}'
                | '_'
                | '~'
                | '@'
                | '|'
                | '&'
        )
        || is_cyrillic(c)
        || is_latin_accent(c)
}

/// Characters a path may end with (so a trailing `.` or `,` stays outside the link).
fn is_path_ending(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '+' | '-' | '=' | '_' | '#' | '/')
        || is_cyrillic(c)
        || is_latin_accent(c)
}

/// Balanced parentheses in a path (one level of nesting): the end after `)`.
fn balanced(cs: &[char], x: usize) -> Option<usize> {
    if cs.get(x) != Some(&'(') {
        return None;
    }
    let run = |mut j: usize| {
        while cs.get(j).is_some_and(|&c| is_path_char(c)) {
            j += 1;
        }
        j
    };
    let z = run(x + 1);
    if z > x + 1 && cs.get(z) == Some(&')') {
        return Some(z + 1);
    }
    if cs.get(z) == Some(&'(') {
        let z1 = run(z + 1);
        if z1 > z + 1 && cs.get(z1) == Some(&')') {
            let z2 = run(z1 + 1);
            if cs.get(z2) == Some(&')') {
                return Some(z2 + 1);
            }
        }
    }
    None
}

/// The end of a path whose first character (after `/`) is at `p`.
fn path_end(cs: &[char], p: usize) -> usize {
    let mut end = p;
    let mut x = p;
    while x < cs.len() {
        if is_path_char(cs[x]) {
            if is_path_ending(cs[x]) {
                end = x + 1;
            }
            x += 1;
        } else if let Some(e) = balanced(cs, x) {
            end = e;
            x = e;
        } else {
            break;
        }
    }
    end
}

fn is_query_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '?'
                | '*'
                | '\''
                | '@'
                | '('
                | ')'
                | ';'
                | ':'
                | '&'
                | '='
                | '+'
                | '$'
                | '/'
                | '%'
                | '#'
                | '['
                | ']'
                | '-'
                | '_'
                | '.'
                | ','
                | '~'
                | '|'
        )
}

fn is_query_ending(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '&' | '=' | '#' | '/')
}

/// After an optional `?query` at `pos`: the end of the query, or `pos` when there is none.
fn query_end(cs: &[char], pos: usize) -> usize {
    if cs.get(pos) != Some(&'?') {
        return pos;
    }
    let mut end = None;
    let mut j = pos + 1;
    while j < cs.len() && is_query_char(cs[j]) {
        if is_query_ending(cs[j]) {
            end = Some(j + 1);
        }
        j += 1;
    }
    end.unwrap_or(pos)
}

fn is_ascii_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || is_latin_accent(lower(c)) || is_latin_accent(c)
}

/// The bare (ASCII and Latin) domains inside a host, as index ranges into `domain`.
fn ascii_domains(domain: &[char]) -> Vec<(usize, usize)> {
    let n = domain.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        // Labels of ASCII and Latin letters, digits and '-', each followed by '.'.
        let mut starts = Vec::new();
        let mut j = i;
        loop {
            let mut k = j;
            while k < n && is_ascii_label_char(domain[k]) {
                k += 1;
            }
            if k == j || k >= n || domain[k] != '.' {
                break;
            }
            starts.push(j);
            j = k + 1;
        }
        let mut found = None;
        for m in (1..=starts.len()).rev() {
            let t = if m < starts.len() { starts[m] } else { j };
            if let Some(end) = tld_end(domain, t, n) {
                found = Some(end);
                break;
            }
        }
        match found {
            Some(end) => {
                out.push((i, end));
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// `label.TLD` with one well-formed label and a TLD from `tlds` (a domain X does not link
/// without a path, unless the TLD is `co` or `tv`).
fn is_short_domain(d: &[char], tlds: &[&str]) -> bool {
    let Some(dot) = d.iter().position(|&c| c == '.') else { return false };
    let (name, tld) = (&d[..dot], &d[dot + 1..]);
    if name.is_empty()
        || !name.iter().all(|&c| c == '-' || is_domain_char(c))
        || !is_domain_char(name[0])
        || !is_domain_char(name[name.len() - 1])
    {
        return false;
    }
    let tld: String = tld.iter().map(|&c| lower(c)).collect();
    if tlds.len() > 2 {
        tlds.binary_search(&tld.as_str()).is_ok()
    } else {
        tlds.contains(&tld.as_str())
    }
}

/// X's check of a host: punycode-encoded labels of 1 to 63 characters.
fn valid_host(domain: &[char]) -> bool {
    if domain.len() >= 4 && domain[..4] == ['x', 'n', '-', '-'] && ascii_domains(domain).is_empty()
    {
        return false;
    }
    let host: String = domain.iter().collect();
    host.split('.').all(|label| {
        let mut total = 0usize;
        let mut parts = 0usize;
        for part in label.split(['\u{3002}', '\u{FF0E}', '\u{FF61}']) {
            parts += 1;
            if part.chars().any(|c| c as u32 > 0x7E) {
                match idna::punycode::encode_str(part) {
                    Some(encoded) => total += 4 + encoded.len(),
                    None => return false,
                }
            } else {
                total += part.len();
            }
        }
        total += parts - 1;
        (1..=MAX_LABEL).contains(&total)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<&str> {
        extract_urls(text).into_iter().map(|s| &text[s.start..s.end]).collect()
    }

    /// `extract_urls` without its shortcuts: every text through the character scanner.
    fn urls_by_the_scanner(text: &str) -> Vec<UrlSpan> {
        let cs: Vec<char> = text.chars().collect();
        let byte = |i: usize| text.char_indices().nth(i).map_or(text.len(), |(b, _)| b);
        extract_in(&cs)
            .into_iter()
            .map(|u| UrlSpan { start: byte(u.start), end: byte(u.end) })
            .collect()
    }

    mod shortcuts {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn the_ascii_shortcut_counts_as_the_general_counter(
                text in "([a-z]{1,6}|[A-Z0-9]{1,3}|[ ._/:?#=&()-]|https?://|www\\.|\\.(com|co|fr|tv|io)|t\\.co/|\n){0,40}",
                max in prop_oneof![Just(280u32), 0u32..40],
            ) {
                proptest::prop_assert_eq!(count_ascii(&text, max), count_any(&text, max));
                proptest::prop_assert_eq!(extract_urls(&text), urls_by_the_scanner(&text));
            }

            #[test]
            fn the_link_prefilter_only_skips_texts_without_links(text in "(.|[a-z]{1,4}|\\.|é|\u{301}|https://|\\.com){0,20}") {
                proptest::prop_assert_eq!(extract_urls(&text), urls_by_the_scanner(&text));
            }
        }
    }

    #[test]
    fn finds_links_as_x_does() {
        assert_eq!(urls("Hi http://test.co"), ["http://test.co"]);
        assert_eq!(urls("see test.com now"), ["test.com"]);
        assert_eq!(urls("see example.fr now"), Vec::<&str>::new());
        assert_eq!(urls("see example.fr/x now"), ["example.fr/x"]);
        assert_eq!(urls("t.co is short"), ["t.co"]);
        assert_eq!(
            urls("https://example.com/a_(b)?q=1&r=2. Next"),
            ["https://example.com/a_(b)?q=1&r=2"]
        );
        assert_eq!(
            urls("(https://example.com/wiki/Foo_(bar))"),
            ["https://example.com/wiki/Foo_(bar)"]
        );
        assert_eq!(urls("mail me@example.com"), Vec::<&str>::new());
        assert_eq!(urls("a.b.c.example.co.uk:8080/x."), ["a.b.c.example.co.uk:8080/x"]);
        assert_eq!(urls("version 1.2.3"), Vec::<&str>::new());
        assert_eq!(
            urls("https://www.twitter.com/aloha https://x.org"),
            ["https://www.twitter.com/aloha", "https://x.org"]
        );
        assert_eq!(urls("日本example.com"), ["example.com"]);
        assert_eq!(urls("https://t.co/abc123?x=1 more"), ["https://t.co/abc123?x=1"]);
    }

    #[test]
    fn counts_simple_texts() {
        assert_eq!(count_x("", 280).weighted_length, 0);
        assert!(!count_x("", 280).valid);
        assert_eq!(count_x("hello", 280).weighted_length, 5);
        assert_eq!(count_x("日本", 280).weighted_length, 4);
        assert_eq!(count_x("go to test.com", 280).weighted_length, 6 + 23);
        assert!(!count_x("a\u{FFFF}", 280).valid);
        // Combining accent composes under NFC: one code point of weight 1.
        assert_eq!(count_x("e\u{301}", 280).weighted_length, 1);
    }

    /// The two sections of twitter-text's `validate.yml` that concern counting.
    #[derive(serde::Deserialize)]
    struct Suite {
        tests: Sections,
    }

    #[derive(serde::Deserialize)]
    struct Sections {
        #[serde(rename = "WeightedTweetsWithDiscountedEmojiCounterTest")]
        weighted_with_discounted_emoji: Vec<Case>,
        #[serde(rename = "UnicodeDirectionalMarkerCounterTest")]
        unicode_directional_marker: Vec<Case>,
    }

    #[derive(serde::Deserialize, Debug)]
    struct Case {
        description: String,
        text: String,
        expected: Expected,
    }

    #[derive(serde::Deserialize, Debug, PartialEq, Eq)]
    #[serde(rename_all = "camelCase")]
    struct Expected {
        weighted_length: u32,
        valid: bool,
        permillage: u32,
        display_range_start: Option<i64>,
        display_range_end: Option<i64>,
        valid_range_start: Option<i64>,
        valid_range_end: Option<i64>,
    }

    /// twitter-text's conformance file, kept in the crate (see `NOTE.md` beside it).
    const CONFORMANCE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/twitter-text/validate.yml");

    fn suite() -> Sections {
        let raw = std::fs::read_to_string(CONFORMANCE)
            .unwrap_or_else(|e| panic!("cannot read {CONFORMANCE}: {e}"));
        serde_saphyr::from_str::<Suite>(&raw).unwrap().tests
    }

    fn check_section(section: &str, cases: &[Case]) {
        assert!(!cases.is_empty(), "section {section} has no case");
        let mut failures = Vec::new();
        for case in cases {
            let got = count_x(&case.text, X_MAX_LENGTH);
            let want = &case.expected;
            let ok = got.weighted_length == want.weighted_length
                && got.valid == want.valid
                && got.permillage == want.permillage
                && want.display_range_start.is_none_or(|v| v == got.display_range_start)
                && want.display_range_end.is_none_or(|v| v == got.display_range_end)
                && want.valid_range_start.is_none_or(|v| v == got.valid_range_start)
                && want.valid_range_end.is_none_or(|v| v == got.valid_range_end);
            if !ok {
                failures.push(format!("{}: expected {want:?}, got {got:?}", case.description));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn conformance_weighted_tweets_with_discounted_emoji() {
        let cases = suite().weighted_with_discounted_emoji;
        check_section("WeightedTweetsWithDiscountedEmojiCounterTest", &cases);
    }

    #[test]
    fn conformance_unicode_directional_markers() {
        let cases = suite().unicode_directional_marker;
        check_section("UnicodeDirectionalMarkerCounterTest", &cases);
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    /// Long texts shaped to make a naive matcher quadratic finish quickly.
    #[test]
    fn long_hostile_texts_are_counted() {
        let texts = [
            "a.".repeat(30_000),
            "字.".repeat(30_000),
            format!("{}com", "a.".repeat(30_000)),
            format!("https://{}", "x".repeat(60_000)),
            "(".repeat(60_000),
            format!("a.com/{}", "((a)".repeat(15_000)),
            "👍\u{200D}".repeat(20_000),
            "#a".repeat(30_000),
        ];
        for t in &texts {
            let c = count_x(t, 280);
            assert!(c.weighted_length > 280 && !c.valid, "{c:?}");
            let _ = extract_urls(t);
        }
    }
}
