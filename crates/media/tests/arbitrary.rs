//! Untrusted bytes never make crieur panic: random bytes, and valid pictures with bytes changed or
//! cut off, go through the sniffer and the stripper; whatever is accepted strips to a fixed point.

mod support;

use std::sync::OnceLock;

use crieur_media::{Media, sniff, strip};
use proptest::prelude::*;

/// One valid file of each kind, with metadata to remove.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let pixels = support::picture(8, 6, true);
        vec![
            support::phone_jpeg(&support::plain_jpeg(&pixels, 75), 6),
            support::phone_png(&pixels, 8),
            support::phone_webp(&pixels, 3),
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x03abc\x00\
              \x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b"
                .to_vec(),
            support::tiny_mp4(),
        ]
    })
}

/// Runs every entry point; when stripping succeeds, stripping its output changes nothing more.
fn check(bytes: &[u8]) {
    let sniffed = sniff(bytes);
    assert_eq!(sniffed.bytes, bytes.len() as u64);
    let _ = strip(bytes, true);
    let _ = Media::prepare(bytes, false);
    if let Ok(stripped) = strip(bytes, false) {
        assert_eq!(sniff(&stripped.bytes).kind, sniffed.kind);
        let again = strip(&stripped.bytes, false).expect("stripped bytes strip again");
        assert_eq!(again.bytes, stripped.bytes, "stripping is idempotent");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn damaged_pictures_never_panic(
        seed in 0usize..5,
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = seeds()[seed].clone();
        for (at, value) in changes {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check(&bytes);
    }
}

#[test]
fn every_seed_strips_cleanly() {
    for seed in seeds() {
        let stripped = strip(seed, false).expect("a valid seed");
        assert!(!stripped.removed.is_empty(), "each seed carries metadata");
        check(seed);
    }
}
