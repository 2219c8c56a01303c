//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' own entry points
//! (`fuzz/src/harness.rs`, compiled in here), so an input that once crashed a parser, or that
//! reached new code, fails CI if it regresses. Runs on stable in a few seconds; the fuzzing
//! itself is in `fuzz/README.md`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

#[path = "../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 13] = [
    ("config", harness::config),
    ("front_matter", harness::front_matter),
    ("cadence", harness::cadence),
    ("duration", harness::duration),
    ("secret_ref", harness::secret_ref),
    ("x_response", |d| drop(harness::x_response(d))),
    ("linkedin_response", |d| drop(harness::linkedin_response(d))),
    ("facebook_response", |d| drop(harness::facebook_response(d))),
    ("webhook_response", |d| drop(harness::webhook_response(d))),
    ("webhook_metrics", harness::webhook_metrics),
    ("rate_limit_headers", harness::rate_limit_headers),
    ("media_sniff", harness::media_sniff),
    ("media_strip", harness::media_strip),
];

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_runs_clean_through_its_target() {
    for (target, run) in TARGETS {
        let files = corpus_files(target);
        assert!(files.len() >= 3, "the corpus of {target} holds only {} files", files.len());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "fuzz target {target} fails on {}", file.display());
        }
    }
}

#[test]
fn recorded_answers_decode_to_the_outcomes_the_adapters_give() {
    use crieur_core::{Outcome, Reconciled, RejectKind};
    use harness::Answered;
    // The seeds are real answers, so the replay above does reach each adapter's mapping.
    let seed = |target: &str, name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target)
            .join(format!("seed-{name}"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    assert_eq!(
        harness::x_response(&seed("x_response", "created")),
        Some(Answered::Outcome(Outcome::Published {
            remote_id: "1861".into(),
            url: Some("https://x.com/i/web/status/1861".into())
        }))
    );
    assert_eq!(
        harness::x_response(&seed("x_response", "timeline-found")),
        Some(Answered::Reconciled(Reconciled::Found {
            remote_id: "500".into(),
            url: Some("https://x.com/i/web/status/500".into())
        }))
    );
    let share = "urn:li:share:7012345678901234567";
    assert_eq!(
        harness::linkedin_response(&seed("linkedin_response", "duplicate-sent")),
        Some(Answered::Outcome(Outcome::Published {
            remote_id: share.into(),
            url: Some(format!("https://www.linkedin.com/feed/update/{share}/"))
        }))
    );
    assert_eq!(
        harness::facebook_response(&seed("facebook_response", "reconcile-found")),
        Some(Answered::Reconciled(Reconciled::Found {
            remote_id: "104857600123_902".into(),
            url: Some("https://www.facebook.com/104857600123_902".into())
        }))
    );
    assert!(matches!(
        harness::webhook_response(&seed("webhook_response", "gone")),
        Some(Answered::Outcome(Outcome::Rejected { kind: RejectKind::Gone, .. }))
    ));
    assert_eq!(harness::webhook_response(b"not a status line\n\n"), None);
}

#[test]
fn the_media_seeds_are_read_as_the_kinds_they_are_and_lose_their_metadata() {
    use crieur_media::Kind;
    let seed = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/media_strip").join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    // The seeds reach each format's stripper, not only the refusal of unknown bytes.
    for (name, kind, secret) in [
        ("seed-lyon-team.jpg", Kind::Jpeg, &b"Exif\0\0"[..]),
        ("seed-orientation-6.jpg", Kind::Jpeg, b"Phone\0"),
        ("seed-lyon-desk.png", Kind::Png, b"eXIf"),
        ("seed-itxt-ztxt.png", Kind::Png, b"iTXt"),
        ("seed-comment.gif", Kind::Gif, b"secret"),
        ("seed-animated-xmp.gif", Kind::Gif, b"xmpmeta"),
        ("seed-exif-xmp.webp", Kind::WebP, b"GPSLatitude"),
        ("seed-udta-meta.mp4", Kind::Mp4, b"+45.7601"),
    ] {
        let data = seed(name);
        assert!(data.windows(secret.len()).any(|w| w == secret), "{name} lost its metadata");
        let stripped = crieur_media::strip(&data, false)
            .unwrap_or_else(|e| panic!("{name} is not stripped: {e}"));
        assert_eq!(stripped.kind, kind, "{name}");
        assert!(!stripped.removed.is_empty(), "{name}: nothing removed");
        let left = stripped.bytes.windows(secret.len()).any(|w| w == secret);
        assert!(!left, "{name} still holds {:?}", String::from_utf8_lossy(secret));
    }
    assert_eq!(crieur_media::sniff(&seed("seed-orientation-6.jpg")).orientation, Some(6));
    for name in ["seed-text.txt", "seed-not-a-photo.jpg"] {
        assert!(crieur_media::strip(&seed(name), false).is_err(), "{name} is refused");
    }
}
