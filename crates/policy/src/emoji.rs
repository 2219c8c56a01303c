//! Emoji sequences, as X counts them: one emoji weighs 2 however many code points it takes.
//!
//! X's counter finds emoji with a generated regular expression listing every sequence of its
//! emoji set. This module recognises the same shapes from the Unicode emoji properties instead
//! (UTR #51, through `unicode-properties`), so it needs no regeneration when Unicode grows:
//!
//! - a keycap: `#`, `*` or a digit, an optional U+FE0F, then U+20E3;
//! - a flag: two regional indicators (a lone one is an emoji too);
//! - an emoji character, unless U+FE0E (text presentation) follows it; then an optional U+FE0F
//!   and, after a modifier base, an optional skin tone; a black flag may carry a tag sequence
//!   (`🏴` + tags + U+E007F, the subdivision flags); then up to three U+200D + another such
//!   element (family, profession and other ZWJ sequences, which join at most four emoji);
//! - a stray U+FE0F.
//!
//! Where the two can differ (a ZWJ sequence outside X's list, which X counts piece by piece) this
//! module counts the whole sequence as one emoji. Characters whose own weight is 1 (`©`, `®`)
//! are emoji only with U+FE0F, as in X's list; for every other character the distinction does
//! not change the weight of a lone code point.

use unicode_properties::{EmojiStatus, UnicodeEmoji};

const VS15: char = '\u{FE0E}';
const VS16: char = '\u{FE0F}';
const ZWJ: char = '\u{200D}';
const KEYCAP: char = '\u{20E3}';
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';
/// The longest ZWJ sequences Unicode recommends (families, kisses) join 4 emoji; longer
/// chains are counted in pieces, so a chain of joined emoji cannot pass for one.
const MAX_ZWJ_ELEMENTS: usize = 4;

fn is_regional_indicator(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

fn is_tag_spec(c: char) -> bool {
    matches!(c, '\u{E0020}'..='\u{E007E}')
}

fn is_keycap_base(c: char) -> bool {
    matches!(c, '#' | '*' | '0'..='9')
}

fn is_modifier_base(c: char) -> bool {
    matches!(
        c.emoji_status(),
        EmojiStatus::EmojiModifierBase | EmojiStatus::EmojiPresentationAndModifierBase
    )
}

fn has_emoji_presentation(c: char) -> bool {
    matches!(
        c.emoji_status(),
        EmojiStatus::EmojiPresentation
            | EmojiStatus::EmojiPresentationAndModifierBase
            | EmojiStatus::EmojiPresentationAndEmojiComponent
            | EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
    )
}

/// An emoji character that can start or continue a sequence (not a keycap base).
fn is_emoji(c: char) -> bool {
    !is_keycap_base(c) && c.is_emoji_char()
}

/// The end of one element: the character, an optional U+FE0F, an optional skin tone.
fn element_end(cs: &[char], i: usize) -> usize {
    let mut j = i + 1;
    if cs.get(j) == Some(&VS16) {
        j += 1;
    }
    if cs.get(j).is_some_and(|&c| is_skin_tone(c)) && is_modifier_base(cs[i]) {
        j += 1;
    }
    j
}

/// The number of characters of the emoji starting at `cs[i]`, 0 when none starts there.
///
/// `light_weight(c)` says whether `c` weighs 1 on its own: such a character (`©`, `®`) is an
/// emoji only when U+FE0F follows it.
pub(crate) fn emoji_len(cs: &[char], i: usize, light_weight: impl Fn(char) -> bool) -> usize {
    let Some(&c) = cs.get(i) else { return 0 };
    let next = cs.get(i + 1).copied();
    if is_keycap_base(c) {
        let j = if next == Some(VS16) { i + 2 } else { i + 1 };
        return if cs.get(j) == Some(&KEYCAP) { j + 1 - i } else { 0 };
    }
    // Past the keycap bases, no ASCII character starts an emoji (the common case, decided
    // without a table lookup).
    if c.is_ascii() {
        return 0;
    }
    if c == VS16 {
        return 1;
    }
    if is_regional_indicator(c) {
        return if next.is_some_and(is_regional_indicator) { 2 } else { 1 };
    }
    if !is_emoji(c) || next == Some(VS15) {
        return 0;
    }
    if !has_emoji_presentation(c) && light_weight(c) && next != Some(VS16) {
        return 0;
    }
    let mut j = element_end(cs, i);
    if c == BLACK_FLAG {
        let mut k = j;
        while cs.get(k).is_some_and(|&t| is_tag_spec(t)) {
            k += 1;
        }
        if k > j && cs.get(k) == Some(&CANCEL_TAG) {
            j = k + 1;
        }
    }
    let mut elements = 1;
    while elements < MAX_ZWJ_ELEMENTS
        && cs.get(j) == Some(&ZWJ)
        && cs.get(j + 1).is_some_and(|&n| is_emoji(n))
    {
        j = element_end(cs, j + 1);
        elements += 1;
    }
    j - i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(s: &str) -> usize {
        let cs: Vec<char> = s.chars().collect();
        emoji_len(&cs, 0, |c| (c as u32) < 0x1100)
    }

    #[test]
    fn sequences_are_one_emoji() {
        assert_eq!(len("👨‍👩‍👧‍👦"), 7);
        assert_eq!(len("🙋🏽x"), 2);
        assert_eq!(len("🇫🇷"), 2);
        assert_eq!(len("🏴󠁧󠁢󠁥󠁮󠁧󠁿"), 7);
        assert_eq!(len("1⃣"), 2);
        assert_eq!(len("#️⃣"), 3);
        assert_eq!(len("🏳️‍🌈"), 4);
        assert_eq!(len("☺️"), 2);
        assert_eq!(len("©️"), 2);
    }

    #[test]
    fn text_presentation_and_plain_characters_are_not() {
        assert_eq!(len("☺\u{FE0E}"), 0);
        assert_eq!(len("©"), 0);
        assert_eq!(len("1"), 0);
        assert_eq!(len("a"), 0);
        assert_eq!(len("👍\u{200D}"), 1);
        // Five joined emoji: the first four are one sequence, the rest is counted apart.
        assert_eq!(len("👍\u{200D}👍\u{200D}👍\u{200D}👍\u{200D}👍"), 7);
    }
}
