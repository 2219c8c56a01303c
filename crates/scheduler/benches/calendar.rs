//! Laying a large queue on a four-week calendar.
//!
//! 10,000 posts on 10 channels (weekly and cron cadences, several slots a day, zones with and
//! without daylight saving, a window across the European and American spring transitions): far
//! more posts than slots, so most stay unplaced, which must not make laying quadratic.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;

use crieur_core::{Cadence, Channel, Location, Network, Post, PostTime};
use crieur_scheduler::{History, lay};
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;

fn channel(name: &str, network: Network, zone: &str, cadence: &[&str]) -> Channel {
    Channel {
        name: name.to_owned(),
        network,
        timezone: TimeZone::get(zone).unwrap(),
        cadence: cadence.iter().map(|c| c.parse::<Cadence>().unwrap()).collect(),
        max_length: None,
        location: Location::default(),
    }
}

fn channels() -> Vec<Channel> {
    vec![
        channel(
            "x-paris",
            Network::X,
            "Europe/Paris",
            &["Mon-Fri 09:15", "Mon-Fri 17:30", "daily 02:30"],
        ),
        channel(
            "x-ny",
            Network::X,
            "America/New_York",
            &["daily 08:00", "daily 12:00", "cron:30 2 * * *"],
        ),
        channel(
            "li-paris",
            Network::Linkedin,
            "Europe/Paris",
            &["Tue,Thu 10:00", "cron:0 8,12,16 * * MON-FRI"],
        ),
        channel("li-tokyo", Network::Linkedin, "Asia/Tokyo", &["daily 09:00", "daily 18:00"]),
        channel("fb-sydney", Network::Facebook, "Australia/Sydney", &["cron:0 */6 * * *"]),
        channel(
            "fb-london",
            Network::Facebook,
            "Europe/London",
            &["Wed 12:30", "daily 01:30", "daily 19:00"],
        ),
        channel("blog", Network::Webhook, "UTC", &["Mon 08:00", "Thu 08:00"]),
        channel(
            "x-santiago",
            Network::X,
            "America/Santiago",
            &["daily 00:00", "daily 23:30", "cron:15 9-17/2 * * *"],
        ),
        channel(
            "li-kolkata",
            Network::Linkedin,
            "Asia/Kolkata",
            &["Mon-Sat 11:00", "Mon-Sat 15:00"],
        ),
        channel(
            "x-la",
            Network::X,
            "America/Los_Angeles",
            &["cron:*/30 9-11 * * MON-FRI", "Sat,Sun 10:00"],
        ),
    ]
}

fn posts(channels: &[Channel]) -> Vec<Post> {
    (0..10_000usize)
        .map(|i| {
            // A deterministic spread: one to three channels, a few priorities, a few fixed times.
            let n = channels.len();
            let mut names = vec![channels[i % n].name.clone()];
            if i % 3 == 0 {
                names.push(channels[(i * 7 + 3) % n].name.clone());
            }
            if i % 5 == 0 {
                names.push(channels[(i * 11 + 5) % n].name.clone());
            }
            let at = (i % 97 == 0).then(|| {
                let day = i8::try_from(1 + i % 28).unwrap();
                PostTime::Civil(date(2026, 3, day).at(10, 0, 0, 0))
            });
            Post {
                id: format!("post-{i}"),
                location: Location::default(),
                text_location: Location::default(),
                file_index: i / 100,
                index_in_file: i % 100,
                channels: names,
                category: None,
                campaign: None,
                text: format!("Post number {i}"),
                link: None,
                at,
                priority: i64::try_from(i % 4).unwrap(),
                variants: BTreeMap::new(),
                thread: Vec::new(),
                article: None,
                media: Vec::new(),
                keep_metadata: false,
                options: Default::default(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let channels = channels();
    let posts = posts(&channels);
    let history = History::new();
    let now: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    let from: Timestamp = "2026-03-09T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2026-04-06T00:00:00Z".parse().unwrap();
    let calendar = lay(&channels, &posts, &history, from, to, now).unwrap();
    // Far more posts than slots: every slot of the window is filled.
    assert!(calendar.entries.len() > 500, "{} entries", calendar.entries.len());
    assert!(calendar.entries.iter().all(|e| e.post.is_some()));
    eprintln!("{} entries in the window", calendar.entries.len());
    c.bench_function("lay 10k posts, 10 channels, 4 weeks", |b| {
        b.iter(|| lay(black_box(&channels), black_box(&posts), &history, from, to, now).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
