//! `crieur validate` on a queue with deliberate mistakes: each is reported with its place, and
//! the exit code is 1.

use crate::common;

#[test]
fn every_deliberate_mistake_is_reported_with_its_place() {
    let out = common::run(&[
        "validate",
        "--config",
        "tests/fixtures/mistakes/crieur.toml",
        "--now",
        common::NOW,
    ]);
    let stdout = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 on policy errors\n{stdout}{}",
        common::stderr(&out)
    );
    let posts = "tests/fixtures/mistakes/posts/week.toml";
    let expect = [
        // (place, rule, post)
        (format!("{posts}:4:8:"), "warning[hashtags.max]", "three-hashtags"),
        (format!("{posts}:9:8:"), "error[mentions.unresolved]", "unknown-mention"),
        (format!("{posts}:17:1:"), "error[regularity.min_gap]", "twenty-minutes-later"),
        (format!("{posts}:26:8:"), "error[hashtags.invalid]", "literal-number-tag"),
    ];
    for (place, rule, post) in &expect {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(place.as_str()) && l.contains(rule) && l.contains(post)),
            "expected `{place} {rule} ... {post}` in:\n{stdout}"
        );
    }
    assert!(stdout.contains("(post unknown-mention on company-linkedin)"), "{stdout}");
}

#[test]
fn the_example_validates_clean() {
    let out = common::run(&["validate", "--config", "config/crieur.toml", "--now", common::NOW]);
    let stdout = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", common::stderr(&out));
    assert!(!stdout.contains("error["), "{stdout}");
}

#[test]
fn check_agrees_with_the_x_counter_and_needs_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::crieur()
        .current_dir(dir.path())
        .args(["check", "--network", "x", "--format", "json", "Hello test.com 🐱 日本"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // "Hello " 6 + URL 23 + " " 1 + emoji 2 + " " 1 + two CJK 2 each = 37
    assert_eq!(doc["length"]["used"], 37, "{doc}");
    assert_eq!(doc["length"]["limit"], 280);
    assert_eq!(doc["valid"], true);
    let long = "a".repeat(281);
    let out = common::crieur()
        .current_dir(dir.path())
        .args(["check", "--network", "x", &long])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "too long is an error");
}

#[test]
fn every_media_rule_is_reported_on_its_media_entry() {
    let team: &[u8] = include_bytes!("fixtures/media/lyon-team.jpg");
    // The same picture, grown past X's 5 MB by comment segments kept with `keep_metadata`.
    let mut big = team[..2].to_vec();
    for _ in 0..90 {
        big.extend_from_slice(&[0xFF, 0xFE, 0xFF, 0xFF]);
        big.extend(std::iter::repeat_n(b'c', 0xFFFD));
    }
    big.extend_from_slice(&team[2..]);
    let long = "a".repeat(1_001);
    let posts = format!(
        r#"[[post]]
id = "alts"
channels = ["company-x"]
text = "Alt texts"
media = [
  {{ path = "media/team.jpg" }},
  {{ path = "media/team.jpg", alt = "{long}" }},
]

[[post]]
id = "files"
channels = ["company-x"]
text = "Files"
media = [
  {{ path = "media/not-a-photo.jpg", alt = "Notes" }},
  {{ path = "media/gone.png", alt = "Gone" }},
]

[[post]]
id = "five"
channels = ["company-x"]
text = "Five"
media = [
  {{ path = "media/team.jpg", alt = "1" }}, {{ path = "media/team.jpg", alt = "2" }},
  {{ path = "media/team.jpg", alt = "3" }}, {{ path = "media/team.jpg", alt = "4" }},
  {{ path = "media/team.jpg", alt = "5" }},
]

[[post]]
id = "big"
channels = ["company-x"]
text = "Big"
keep_metadata = true
media = [{{ path = "media/big.jpg", alt = "Big" }}]
"#
    );
    let config = "timezone = \"Europe/Paris\"\n[queue]\nfiles = [\"posts/*.toml\"]\n\
                  [channels.company-x]\nnetwork = \"x\"\naccess_token = \"env:X_TOKEN\"\n\
                  cadence = [\"daily 09:00\"]\n";
    let dir = common::project(&[("crieur.toml", config), ("posts/media.toml", &posts)]);
    common::write(dir.path(), "posts/media/team.jpg", team);
    common::write(dir.path(), "posts/media/big.jpg", &big);
    common::write(dir.path(), "posts/media/not-a-photo.jpg", b"Hello, this is not a photo.\n");
    let out = common::crieur()
        .args(["validate", "--config"])
        .arg(dir.path().join("crieur.toml"))
        .args(["--now", common::NOW])
        .env("X_TOKEN", "t")
        .output()
        .unwrap();
    let stdout = common::stdout(&out).replace(&format!("{}/", dir.path().display()), "");
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", common::stderr(&out));
    let file = "posts/media.toml";
    for (place, rule) in [
        ("6:3", "error[media.alt_missing]"),
        ("7:3", "error[media.alt_length]"),
        (
            "15:3",
            "error[media.unreadable]: media/not-a-photo.jpg: not an image or video crieur can send: the bytes look like text",
        ),
        ("16:3", "error[media.unreadable]: media/gone.png: the file is missing"),
        ("26:3", "error[media.count]: the post has 5 media, x takes at most 4"),
        (
            "34:10",
            "error[media.too_large]: media/big.jpg weighs 5.6 MB, over the 5.0 MB x takes for an image",
        ),
    ] {
        let want = format!("{file}:{place}: {rule}");
        assert!(stdout.lines().any(|l| l.starts_with(&want)), "expected `{want}` in:\n{stdout}");
    }
}
