//! Time: slots across daylight-saving changes, and slots missed while the daemon was down. The
//! daemon's clock is moved with the hidden `--now` (it starts at that instant and runs on at real
//! speed), so a night in March or October takes seconds.

use std::time::Duration;

use jiff::Timestamp;

use super::harness::{self, Daemon, Project, queued_post, webhook_channels};
use super::receiver::Receiver;
use crate::common;

/// Starts a daemon whose clock reads `now`, on a channel with `cadence` and two queued posts.
async fn dst_night(rx: &Receiver, now: &str, cadence: &str) -> (Project, Daemon) {
    let project = Project::new(&harness::config(
        "sqlite://crieur.db",
        harness::QUEUE,
        &webhook_channels(rx, &["night"], cadence),
    ));
    project.write(
        "posts/queue.toml",
        &format!("{}{}", queued_post("first", &["night"]), queued_post("second", &["night"])),
    );
    let mut daemon = project.spawn(&["--now", now]);
    daemon.ready(Duration::from_secs(10)).await;
    (project, daemon)
}

/// The request for `post` arrived `secs` seconds after the daemon started (its clock starts a
/// little after the spawn, never before), within 2 s; its signed timestamp is `expected`.
fn assert_sent_at(
    rx: &Receiver,
    daemon: &Daemon,
    post: &str,
    secs: u64,
    expected: &str,
) -> Duration {
    let reqs: Vec<_> = rx.requests().into_iter().filter(|r| r.post == post).collect();
    assert_eq!(reqs.len(), 1, "{post} sent once: {reqs:?}\n{}", daemon.log());
    let after = reqs[0].at - daemon.spawned;
    let due = Duration::from_secs(secs);
    assert!(
        after + Duration::from_millis(50) >= due && after < due + Duration::from_secs(2),
        "{post} sent {after:?} after the start, due {due:?}\n{}",
        daemon.log()
    );
    let expected: Timestamp = expected.parse().unwrap();
    assert!(
        (reqs[0].timestamp - expected.as_second()).abs() <= 1,
        "webhook-timestamp {} for {expected}",
        reqs[0].timestamp
    );
    after - due
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_across_daylight_saving_changes_leave_at_the_right_instant() {
    let spring = Receiver::start(&harness::secret()).await;
    let autumn = Receiver::start(&harness::secret()).await;
    // 29 March 2026: 02:00 -> 03:00 in Paris; 02:30 does not exist and takes place at 03:30.
    let (spring_project, mut spring_daemon) =
        dst_night(&spring, "2026-03-29T03:29:52+02:00", "daily 02:30").await;
    // 25 October 2026: 03:00 -> 02:00; 02:30 happens twice and takes place at the first.
    let (autumn_project, mut autumn_daemon) =
        dst_night(&autumn, "2026-10-25T02:29:52+02:00", "daily 02:30").await;
    let spring_rows = spring_project.states().await;
    assert_eq!(spring_rows["first@night"]["at"], "2026-03-29T03:30:00+02:00");
    assert_eq!(spring_rows["second@night"]["at"], "2026-03-30T02:30:00+02:00");
    let autumn_rows = autumn_project.states().await;
    assert_eq!(autumn_rows["first@night"]["at"], "2026-10-25T02:30:00+02:00", "{autumn_rows:#?}");
    assert_eq!(autumn_rows["second@night"]["at"], "2026-10-26T02:30:00+01:00");

    assert!(spring.wait_for(Duration::from_secs(15), |r| !r.is_empty()).await);
    assert!(autumn.wait_for(Duration::from_secs(15), |r| !r.is_empty()).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spring_late = assert_sent_at(&spring, &spring_daemon, "first", 8, "2026-03-29T01:30:00Z");
    let autumn_late = assert_sent_at(&autumn, &autumn_daemon, "first", 8, "2026-10-25T00:30:00Z");
    println!("DST slots left {spring_late:?} (gap) and {autumn_late:?} (fold) after their instant");
    // Just after the second 02:29 of that night, the 02:30 slot already took place: the next
    // one is the next day's.
    let again = Receiver::start(&harness::secret()).await;
    let project = Project::new(&harness::config(
        "sqlite://crieur.db",
        harness::QUEUE,
        &webhook_channels(&again, &["night"], "daily 02:30"),
    ));
    project.write("posts/queue.toml", &queued_post("first", &["night"]));
    let out = project.run(&["run", "--once", "--now", "2026-10-25T02:29:59+01:00"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let rows = project.states().await;
    assert_eq!(rows["first@night"]["at"], "2026-10-26T02:30:00+01:00");
    assert!(again.requests().is_empty());

    for (rx, project, daemon) in [
        (&spring, &spring_project, &mut spring_daemon),
        (&autumn, &autumn_project, &mut autumn_daemon),
    ] {
        rx.check_traffic();
        assert_eq!(rx.requests().len(), 1, "only the first post is due that night");
        let rows = project.states().await;
        assert_eq!(rows["first@night"]["state"], "published");
        assert_eq!(rows["second@night"]["state"], "queued");
        daemon.signal("TERM");
        assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    }
}

/// A project where, at 05:00 on 1 December 2026 (Paris), post `slot` is queued for the 08:10
/// slot of channel `slots` and post `old` for the 05:40 slot of channel `old`; the daemon then
/// starts at 08:40, after a post `fixed` with the fixed time 08:10 was added (channel `fixed`,
/// slots at 12:00). So `slot` and `fixed` are 30 minutes late, `old` three hours.
async fn missed(rx: &Receiver, policy: &str) -> (Project, Daemon) {
    let queue = format!("files = [\"posts/*.toml\"]\nmissed = \"{policy}\"\nmax_late = \"2h\"\n");
    let channels = format!(
        "{}{}{}",
        webhook_channels(rx, &["slots"], "daily 08:10"),
        webhook_channels(rx, &["old"], "daily 05:40"),
        webhook_channels(rx, &["fixed"], "daily 12:00"),
    );
    let project = Project::new(&harness::config("sqlite://crieur.db", &queue, &channels));
    project.write(
        "posts/queue.toml",
        &format!("{}{}", queued_post("slot", &["slots"]), queued_post("old", &["old"])),
    );
    let out = project.run(&["run", "--once", "--now", "2026-12-01T05:00:00+01:00"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let rows = project.states().await;
    assert_eq!(rows["slot@slots"]["at"], "2026-12-01T08:10:00+01:00");
    assert_eq!(rows["old@old"]["at"], "2026-12-01T05:40:00+01:00");
    assert!(rx.requests().is_empty());
    project.write(
        "posts/fixed.toml",
        "[[post]]\nid = \"fixed\"\nchannels = [\"fixed\"]\ntext = \"A fixed time, read late.\"\n\
         at = \"2026-12-01T08:10:00+01:00\"\n",
    );
    let mut daemon = project.spawn(&["--now", "2026-12-01T08:40:00+01:00"]);
    daemon.ready(Duration::from_secs(10)).await;
    (project, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_slots_are_published_late_or_skipped_as_configured() {
    let late_rx = Receiver::start(&harness::secret()).await;
    let skip_rx = Receiver::start(&harness::secret()).await;
    let (late, mut late_daemon) = missed(&late_rx, "publish-late").await;
    let (skip, mut skip_daemon) = missed(&skip_rx, "skip").await;

    // publish-late: the two posts 30 minutes late go out at once; the one 3 hours late (over
    // max_late) goes to its channel's next slot.
    assert!(
        late_rx.wait_for(Duration::from_secs(5), |r| r.len() >= 2).await,
        "{}",
        late_daemon.log()
    );
    let mut sent: Vec<(String, Duration)> =
        late_rx.requests().iter().map(|r| (r.post.clone(), r.at - late_daemon.spawned)).collect();
    sent.sort();
    assert_eq!(sent.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["fixed", "slot"]);
    for (post, after) in &sent {
        assert!(*after < Duration::from_secs(2), "{post} sent {after:?} after the start");
    }
    println!("missed slots published late, {sent:?} after the daemon started");

    // skip: nothing goes out now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(skip_rx.requests().len(), 0, "{}", skip_daemon.log());
    assert_eq!(late_rx.requests().len(), 2);
    late_rx.check_traffic();

    let rows = late.states().await;
    assert_eq!(rows["slot@slots"]["state"], "published");
    assert_eq!(rows["slot@slots"]["at"], "2026-12-01T08:10:00+01:00", "keeps its slot");
    assert_eq!(rows["fixed@fixed"]["state"], "published");
    assert_eq!(rows["fixed@fixed"]["at"], "2026-12-01T08:10:00+01:00");
    assert_eq!(rows["old@old"]["state"], "queued");
    assert_eq!(rows["old@old"]["at"], "2026-12-02T05:40:00+01:00", "over max_late: next slot");

    let rows = skip.states().await;
    for (key, next) in [
        ("slot@slots", "2026-12-02T08:10:00+01:00"),
        ("fixed@fixed", "2026-12-01T12:00:00+01:00"),
        ("old@old", "2026-12-02T05:40:00+01:00"),
    ] {
        assert_eq!(rows[key]["state"], "queued", "{key}: {:#}", rows[key]);
        assert_eq!(rows[key]["at"], next, "{key} goes to its channel's next slot");
    }
    for daemon in [&mut late_daemon, &mut skip_daemon] {
        daemon.signal("TERM");
        assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    }
}
