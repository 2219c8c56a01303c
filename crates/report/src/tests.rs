//! The report on a real SQLite store whose history is known by hand (see `fixture`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::fixture::{Fixture, some_metrics};
use crate::{ChannelSummary, Report};

fn channel<'a>(r: &'a Report, name: &str) -> &'a ChannelSummary {
    r.channels.iter().find(|c| c.channel == name).unwrap()
}

#[tokio::test]
async fn the_blog_kept_three_slots_missed_one_and_lost_two() {
    let f = Fixture::new().await;
    let r = f.report(&BTreeMap::new(), &[]);
    let blog = channel(&r, "blog");
    assert_eq!(
        (blog.slots, blog.published, blog.failed, blog.skipped, blog.unknown, blog.cancelled),
        (6, 3, 1, 1, 0, 1)
    );
    assert_eq!(blog.pending, 0);
    assert_eq!(blog.late_p50_s, Some(4.0));
    assert_eq!(blog.late_max_s, Some(10.0));
    assert_eq!(blog.longest_silence_h, Some(168.0));
    assert_eq!(blog.max_silence_h, 120.0);
    assert_eq!(blog.silences.len(), 1);
    assert_eq!(blog.silences[0].from, "2026-11-04T09:00:10+01:00");
    assert_eq!(blog.silences[0].to, "2026-11-11T09:00:04+01:00");
}

#[tokio::test]
async fn on_x_a_fixed_time_is_a_slot_and_a_thread_reply_is_not() {
    let f = Fixture::new().await;
    let r = f.report(&BTreeMap::new(), &[]);
    let x = channel(&r, "company-x");
    assert_eq!(x.network, "x");
    assert_eq!((x.slots, x.published, x.unknown, x.pending, x.skipped), (3, 1, 1, 1, 0));
    assert_eq!(x.late_p50_s, Some(1.0));
    assert_eq!(x.longest_silence_h, Some(302.0));
    assert_eq!(x.silences[0].from, "2026-11-03T10:00:01+01:00");
    assert_eq!(x.silences[0].to, "2026-11-16T00:00:00+01:00");
}

#[tokio::test]
async fn every_channels_counts_add_up_to_its_slots_and_the_posts_listed() {
    let f = Fixture::new().await;
    let r = f.report(&BTreeMap::new(), &[]);
    for c in &r.channels {
        let sum = c.published + c.failed + c.skipped + c.unknown + c.cancelled + c.pending;
        assert_eq!(sum, c.slots, "{}", c.channel);
        let listed = r.posts.iter().filter(|p| p.channel == c.channel).count() as u64;
        assert_eq!(listed + c.skipped, c.slots, "{}", c.channel);
    }
    assert!(r.posts.iter().all(|p| p.post != "before"), "outside the window");
}

#[tokio::test]
async fn the_mix_counts_each_published_post_once_against_its_targets() {
    let f = Fixture::new().await;
    let r = f.report(&BTreeMap::new(), &[]);
    let got: Vec<(&str, u64, f64, Option<f64>, bool)> = r
        .mix
        .iter()
        .map(|m| (m.category.as_str(), m.posts, m.share, m.target, m.below_target))
        .collect();
    assert_eq!(
        got,
        vec![
            ("expertise", 1, 0.3333, Some(0.5), true),
            ("hr", 2, 0.6667, Some(0.1), false),
            ("news", 0, 0.0, Some(0.2), true),
        ]
    );
}

#[tokio::test]
async fn a_channel_filter_keeps_only_that_channel_and_an_unknown_name_is_refused() {
    let f = Fixture::new().await;
    let r = f.report(&BTreeMap::new(), &["company-x".to_owned()]);
    assert_eq!(r.channels.len(), 1);
    assert!(r.posts.iter().all(|p| p.channel == "company-x"));
    // Only p1 was published on X: hr is the whole mix there.
    assert_eq!(r.mix.iter().find(|m| m.category == "hr").unwrap().share, 1.0);
    let window = f.window();
    let err = crate::build(&crate::Input {
        config: &f.config,
        posts: &f.posts,
        deliveries: &f.deliveries,
        metrics: &BTreeMap::new(),
        window: &window,
        channels: &["nope".to_owned()],
        now: f.now(),
    })
    .unwrap_err();
    assert!(err.to_string().contains("unknown channel \"nope\""), "{err}");
}

#[tokio::test]
async fn the_latest_figures_show_per_post_and_add_up_per_category_keeping_unknowns_null() {
    let f = Fixture::new().await;
    let r = f.report(&some_metrics(), &[]);
    let p1x = r.posts.iter().find(|p| p.post == "p1" && p.channel == "company-x").unwrap();
    let m = p1x.metrics.unwrap();
    assert_eq!((m.likes, m.impressions, m.clicks), (Some(12), Some(1830), None));
    let hr = r.categories.iter().find(|t| t.name.as_deref() == Some("hr")).unwrap();
    assert_eq!((hr.deliveries, hr.published), (3, 3));
    assert_eq!(hr.metrics.likes, Some(17));
    assert_eq!(hr.metrics.impressions, Some(1830));
    assert_eq!(hr.metrics.clicks, None, "nobody gave clicks: null, not 0");
    let careers = r.campaigns.iter().find(|t| t.name.as_deref() == Some("careers")).unwrap();
    assert_eq!(careers.published, 3);
    let p2 = r.posts.iter().find(|p| p.post == "p2").unwrap();
    assert_eq!(p2.metrics, None);
}

#[tokio::test]
async fn the_json_has_the_keys_of_the_cli_contract() {
    let f = Fixture::new().await;
    let r = f.report(&some_metrics(), &[]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["from"], "2026-11-02T00:00:00+01:00");
    assert_eq!(json["to"], "2026-11-16T00:00:00+01:00");
    let c = &json["channels"][0];
    for key in [
        "channel",
        "network",
        "slots",
        "published",
        "failed",
        "skipped",
        "unknown",
        "cancelled",
        "late_p50_s",
        "longest_silence_h",
    ] {
        assert!(c.get(key).is_some(), "channels[].{key}");
    }
    for key in ["category", "share", "target"] {
        assert!(json["mix"][0].get(key).is_some(), "mix[].{key}");
    }
    let p = json["posts"].as_array().unwrap().iter().find(|p| p["channel"] == "company-x").unwrap();
    for key in ["post", "channel", "category", "campaign", "at", "state", "url", "metrics"] {
        assert!(p.get(key).is_some(), "posts[].{key}");
    }
    assert_eq!(p["metrics"]["clicks"], serde_json::Value::Null);
    assert_eq!(p["metrics"]["fetched_at"], "2026-11-10T09:00:00Z");
    insta::assert_json_snapshot!("report_json", json);
}

#[tokio::test]
async fn the_table_fits_100_columns() {
    let f = Fixture::new().await;
    let text = crate::table(&f.report(&some_metrics(), &[]));
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "{} columns: {line}", line.chars().count());
    }
    insta::assert_snapshot!("report_table", text);
}

#[tokio::test]
async fn the_csv_has_one_row_per_post_and_channel_and_empty_cells_for_unknown_figures() {
    let f = Fixture::new().await;
    let r = f.report(&some_metrics(), &[]);
    let text = crate::csv(&r).unwrap();
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.posts.len());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let p1x = rows.iter().find(|r| &r[0] == "p1" && &r[1] == "company-x").unwrap();
    assert_eq!(&p1x[col("impressions")], "1830");
    assert_eq!(&p1x[col("clicks")], "");
    insta::assert_snapshot!("report_csv", text);
}

#[tokio::test]
async fn the_html_page_is_self_contained_with_labelled_charts() {
    let f = Fixture::new().await;
    let page = crate::html(&f.report(&some_metrics(), &[]));
    assert!(page.contains("default-src 'none'"));
    assert!(!page.contains("<script"));
    assert!(!page.contains("src=\"http"));
    for id in ["posts-per-week", "mix", "engagement-category", "engagement-network"] {
        assert!(page.contains(&format!("<svg id=\"{id}\"")), "chart {id}");
    }
    assert!(page.contains("<title>Share of posts per category; the mark is the target</title>"));
    assert!(page.contains("2026-11-02 blog"), "a week bar is labelled");
}

#[test]
fn a_figure_the_network_does_not_give_is_a_dash_on_the_line_and_null_in_json() {
    let snapshot = crieur_core::engagement::Snapshot {
        delivery: "d".into(),
        after: jiff::SignedDuration::from_hours(24),
        fetched_at: "2026-11-04T08:00:00Z".parse().unwrap(),
        metrics: crieur_core::engagement::Metrics {
            likes: Some(12),
            reposts: Some(0),
            replies: Some(2),
            ..Default::default()
        },
    };
    let row = crate::MetricsRow::from(&snapshot);
    assert_eq!(
        row.line(),
        "likes 12 · reposts 0 · replies 2 · quotes - · impressions - · clicks - \
         (read 2026-11-04 08:00 UTC)"
    );
    let json = serde_json::to_value(row).unwrap();
    assert_eq!(json["impressions"], serde_json::Value::Null);
    assert_eq!(json["reposts"], 0);
    assert_eq!(json["fetched_at"], "2026-11-04T08:00:00Z");
}
