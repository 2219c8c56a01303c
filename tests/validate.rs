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
