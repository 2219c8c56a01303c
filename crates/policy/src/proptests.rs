//! Properties over arbitrary text: rendering and checking never panic and are deterministic,
//! and X's count adds up where nothing joins across the cut.

use proptest::prelude::*;

use crieur_core::{Network, Variant};

use crate::effective::effective;
use crate::render::{RenderContext, render};
use crate::settings::PolicyConfig;
use crate::testing::{channel, mentions, post, thread_item};
use crate::x::count_x;
use crate::{check_one, check_post};

/// Text biased towards what the parsers look at: links, tags, mentions, emoji, escapes.
fn tricky() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("#".to_owned()),
        Just("@".to_owned()),
        Just("@acme".to_owned()),
        Just(".com".to_owned()),
        Just("https://".to_owned()),
        Just("{link}".to_owned()),
        Just("\\".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("👨‍👩‍👧‍👦".to_owned()),
        Just("\u{FE0F}".to_owned()),
        Just("\u{301}".to_owned()),
        "[a-z]{1,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Letters, CJK and spaces: no link (no dot), no emoji, nothing NFC would merge.
fn safe() -> impl Strategy<Value = String> {
    "[a-zA-Z 日本語中文字]{0,60}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn render_and_check_never_panic_and_are_deterministic(
        text in prop_oneof![any::<String>(), tricky()],
        link in proptest::option::of(prop_oneof![any::<String>(), tricky()]),
        reply in tricky(),
    ) {
        let policy = PolicyConfig::default();
        let m = mentions();
        for network in Network::ALL {
            let ch = channel("c", network);
            let eff = effective(&policy, &ch);
            let mut p = post("p", &text);
            p.link = link.clone();
            p.category = Some("hr".into());
            p.thread = vec![thread_item(&reply, 9)];
            p.variants.insert("x".into(), Variant { text: Some(reply.clone()), ..Default::default() });
            let ctx = RenderContext::new(&m, &eff);
            let a = render(&p, &ch, &ctx);
            let b = render(&p, &ch, &ctx);
            prop_assert_eq!(&a, &b);
            let d1 = check_post(&p, &ch, &a, &eff);
            let d2 = check_post(&p, &ch, &b, &eff);
            prop_assert_eq!(d1, d2);
            let one = check_one(&text, network, None, &policy, &m);
            prop_assert_eq!(one, check_one(&text, network, None, &policy, &m));
        }
    }

    #[test]
    fn x_count_never_panics(text in prop_oneof![any::<String>(), tricky()], max in 0u32..400) {
        let c = count_x(&text, max);
        if max > 0 {
            prop_assert_eq!(u64::from(c.permillage), u64::from(c.weighted_length) * 1000 / u64::from(max));
        }
        prop_assert_eq!(c.valid, c.weighted_length > 0 && c.weighted_length <= max && !text.chars().any(|ch| matches!(ch, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')));
    }

    #[test]
    fn x_length_adds_up_over_safe_text(a in safe(), b in safe()) {
        let joined = format!("{a}{b}");
        prop_assert_eq!(
            count_x(&joined, 280).weighted_length,
            count_x(&a, 280).weighted_length + count_x(&b, 280).weighted_length
        );
    }
}
