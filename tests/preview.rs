//! `crieur preview` on the shipped example, in every format, pinned by snapshots.

use serde_json::Value;

use crate::common;

fn preview(format: &str) -> String {
    let config = common::example_config();
    let out = common::run(&[
        "preview",
        "--config",
        config.to_str().unwrap(),
        "--now",
        common::NOW,
        "--format",
        format,
    ]);
    assert!(out.status.success(), "preview --format {format}: {}", common::stderr(&out));
    common::stdout(&out)
}

#[test]
fn table_snapshot_fits_100_columns() {
    let table = preview("table");
    for line in table.lines() {
        assert!(line.chars().count() <= 100, "line wider than 100 columns: {line:?}");
    }
    insta::assert_snapshot!("preview_table", table);
}

#[test]
fn json_snapshot_and_contract_keys() {
    let json = preview("json");
    let doc: Value = serde_json::from_str(&json).unwrap();
    for key in ["from", "to", "entries", "diagnostics"] {
        assert!(doc.get(key).is_some(), "top-level key {key} missing");
    }
    assert_eq!(doc["from"], "2026-11-30T00:00:00+01:00", "the next Monday in the config's zone");
    assert_eq!(doc["to"], "2026-12-07T00:00:00+01:00");
    let entries = doc["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    let mut previous: Option<(String, String)> = None;
    for e in entries {
        for key in ["at", "channel", "network", "post", "text", "length", "media", "diagnostics"] {
            assert!(e.get(key).is_some(), "entry key {key} missing in {e}");
        }
        let at = e["at"].as_str().unwrap();
        at.parse::<jiff::Timestamp>().unwrap();
        if e["post"].is_null() {
            assert!(e["text"].is_null() && e["length"].is_null(), "an empty slot has no text: {e}");
        } else {
            assert!(e["length"]["used"].is_u64(), "{e}");
            assert!(e["text"].is_string(), "{e}");
        }
        let key = (
            at.parse::<jiff::Timestamp>().unwrap().to_string(),
            e["channel"].as_str().unwrap().to_owned(),
        );
        if let Some(p) = &previous {
            assert!(p <= &key, "entries sorted by at then channel: {p:?} then {key:?}");
        }
        previous = Some(key);
    }
    insta::assert_snapshot!("preview_json", json);
}

#[test]
fn html_snapshot_is_self_contained() {
    let html = preview("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in ["src=\"http", "href=\"http", "url(http", "@import", "<script"] {
        assert!(!html.contains(external), "the page must not load anything: found {external}");
    }
    insta::assert_snapshot!("preview_html", html);
}

#[test]
fn ics_snapshot_has_one_event_per_filled_slot_with_stable_uids() {
    let ics = preview("ics");
    let json: Value = serde_json::from_str(&preview("json")).unwrap();
    let filled =
        json["entries"].as_array().unwrap().iter().filter(|e| !e["post"].is_null()).count();
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), filled);
    assert!(ics.lines().all(|l| l.len() <= 76), "lines are folded at 75 octets");
    assert!(ics.contains("\r\n"), "CRLF line ends");
    assert_eq!(ics, preview("ics"), "the same queue gives the same file (stable UIDs)");
    insta::assert_snapshot!("preview_ics", ics.replace("\r\n", "\n"));
}

#[test]
fn channel_filter_and_days() {
    let config = common::example_config();
    let out = common::run(&[
        "preview",
        "--config",
        config.to_str().unwrap(),
        "--now",
        common::NOW,
        "--format",
        "json",
        "--from",
        "2026-12-01",
        "--days",
        "2",
        "--channel",
        "company-linkedin",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["from"], "2026-12-01T00:00:00+01:00");
    assert_eq!(doc["to"], "2026-12-03T00:00:00+01:00");
    let entries = doc["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["channel"] == "company-linkedin"));
}
