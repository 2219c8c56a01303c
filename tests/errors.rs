//! Bad config and post files through the real binary: each gets its own `path:line:col` message
//! and exit 2, never a panic.

use crate::common;

const GOOD_CONFIG: &str = r#"timezone = "Europe/Paris"

[channels.blog]
network = "webhook"
url = "https://blog.example.com/hooks/crieur"
secret = "env:BLOG_SECRET"
cadence = ["Mon 08:00"]
"#;

const GOOD_POSTS: &str = r#"[[post]]
id = "hello"
channels = ["blog"]
text = "Hello"
"#;

/// Runs `validate` on a project and returns (exit code, stderr).
fn validate(files: &[(&str, &str)]) -> (i32, String) {
    let dir = common::project(files);
    let config = dir.path().join("crieur.toml");
    let out = common::crieur()
        .args(["validate", "--config", config.to_str().unwrap(), "--now", common::NOW])
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(!err.contains("panicked"), "no panic: {err}");
    (out.status.code().unwrap_or(-1), err)
}

fn assert_error_at(files: &[(&str, &str)], place: &str, words: &str) {
    let (code, err) = validate(files);
    assert_eq!(code, 2, "exit 2 for an invalid file; stderr: {err}");
    assert!(err.contains(place), "expected the place {place} in: {err}");
    assert!(err.to_lowercase().contains(&words.to_lowercase()), "expected {words:?} in: {err}");
}

#[test]
fn the_good_project_validates() {
    let (code, err) = validate(&[("crieur.toml", GOOD_CONFIG), ("posts/a.toml", GOOD_POSTS)]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn unknown_key_in_config() {
    let config = GOOD_CONFIG.replace("cadence", "cadense");
    assert_error_at(
        &[("crieur.toml", &config), ("posts/a.toml", GOOD_POSTS)],
        "crieur.toml:7:1",
        "cadense",
    );
}

#[test]
fn bad_time_zone() {
    let config = GOOD_CONFIG.replace("Europe/Paris", "Europe/Pariss");
    assert_error_at(
        &[("crieur.toml", &config), ("posts/a.toml", GOOD_POSTS)],
        "crieur.toml:1:12",
        "Europe/Pariss",
    );
}

#[test]
fn bad_cadence() {
    let config = GOOD_CONFIG.replace("Mon 08:00", "Mon 8h");
    assert_error_at(
        &[("crieur.toml", &config), ("posts/a.toml", GOOD_POSTS)],
        "crieur.toml:7:",
        "HH:MM",
    );
}

#[test]
fn literal_secret() {
    let config = GOOD_CONFIG.replace("env:BLOG_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let (code, err) = validate(&[("crieur.toml", &config), ("posts/a.toml", GOOD_POSTS)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("crieur.toml:6:"), "{err}");
    assert!(err.contains("env:"), "says how to fix it: {err}");
    assert!(!err.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "the secret is not echoed: {err}");
}

#[test]
fn unknown_channel_in_post() {
    let posts = GOOD_POSTS.replace("[\"blog\"]", "[\"blgo\"]");
    assert_error_at(&[("crieur.toml", GOOD_CONFIG), ("posts/a.toml", &posts)], "a.toml:3:", "blgo");
}

#[test]
fn duplicate_post_id_across_files() {
    assert_error_at(
        &[("crieur.toml", GOOD_CONFIG), ("posts/a.toml", GOOD_POSTS), ("posts/b.toml", GOOD_POSTS)],
        "b.toml:",
        "hello",
    );
}

#[test]
fn unknown_key_in_post() {
    let posts = GOOD_POSTS.replace("text =", "txt =");
    assert_error_at(&[("crieur.toml", GOOD_CONFIG), ("posts/a.toml", &posts)], "a.toml:4:1", "txt");
}

#[test]
fn invalid_utf8_and_binary_files() {
    let dir = common::project(&[("crieur.toml", GOOD_CONFIG)]);
    common::write(dir.path(), "posts/a.toml", b"[[post]]\nid = \"x\xff\xfe\"\n");
    let out = common::crieur()
        .args(["validate", "--config", dir.path().join("crieur.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("a.toml:2:"), "{err}");
    assert!(err.to_lowercase().contains("utf-8"), "{err}");

    common::write(dir.path(), "posts/a.toml", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00");
    let out = common::crieur()
        .args(["validate", "--config", dir.path().join("crieur.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("a.toml:1:"), "{}", common::stderr(&out));
}

#[test]
fn deeply_nested_and_huge_files_are_refused_quickly() {
    let nested = format!("x = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_error_at(&[("crieur.toml", GOOD_CONFIG), ("posts/a.toml", &nested)], "a.toml:1:", "");
    let huge = format!("# {}\n", "a".repeat(20 * 1024 * 1024));
    let (code, err) = validate(&[("crieur.toml", GOOD_CONFIG), ("posts/a.toml", &huge)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a.toml"), "{err}");
}

#[test]
fn missing_config_file_says_where_it_looked() {
    let out = common::crieur()
        .args(["validate", "--config", "/nonexistent/crieur.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("/nonexistent/crieur.toml"));
}
