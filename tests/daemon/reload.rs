//! A reload that finds an invalid file changes nothing: the daemon keeps publishing the last
//! valid queue, says what is wrong (log and STATUS=), and takes the files again once fixed.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::basics::listen_notify;
use super::harness::{self, Project, fixed_post, webhook_channels};
use super::receiver::{Answer, Receiver};

fn posts(channel: &str, ids: &[(&str, i64)], t0: Timestamp) -> String {
    ids.iter()
        .map(|(id, secs)| fixed_post(id, channel, t0 + SignedDuration::from_secs(*secs)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_then_sighup_changes_nothing_and_the_fix_is_taken() {
    let rx = Receiver::start(&harness::secret()).await;
    rx.set(|_| Answer::OK);
    let channels = webhook_channels(&rx, &["a", "b"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    let t0 = Timestamp::now();
    project.write("posts/a.toml", &posts("a", &[("a0", 2), ("a1", 5), ("a2", 8)], t0));
    let b_valid = posts("b", &[("b0", 2), ("b1", 6)], t0);
    project.write("posts/b.toml", &b_valid);
    let socket = project.path().join("notify.sock");
    let messages = listen_notify(&socket);
    let mut daemon = project.spawn_with(&[], |cmd| {
        cmd.env("NOTIFY_SOCKET", &socket);
    });
    daemon.ready(Duration::from_secs(10)).await;
    assert!(rx.wait_for(Duration::from_secs(8), |r| r.len() == 2).await, "{}", daemon.log());

    // A syntax error in one post file, then SIGHUP.
    project.write("posts/b.toml", &format!("{b_valid}[[post]\nid = \"broken\n"));
    daemon.signal("HUP");
    // The posts already queued (of both files) still go out, and the process stays up.
    let rest = rx
        .wait_for(Duration::from_secs(12), |r| {
            ["a1", "a2", "b1"].iter().all(|p| r.iter().any(|q| q.post == *p))
        })
        .await;
    assert!(rest, "the last valid queue goes on: {:?}\n{}", rx.requests(), daemon.log());
    assert!(daemon.running(), "the daemon never exits on a broken file\n{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("b.toml:"), "the problem's place is logged:\n{log}");
    assert!(log.contains("nothing changed"), "{log}");
    let statuses: Vec<String> = messages
        .try_iter()
        .flat_map(|(_, m)| m.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|l| l.strip_prefix("STATUS=").map(str::to_owned))
        .collect();
    let invalid = statuses
        .iter()
        .find(|s| s.starts_with("config invalid since ") && s.contains("b.toml:"))
        .unwrap_or_else(|| panic!("STATUS= names the broken file: {statuses:?}"));
    println!("while broken: STATUS={invalid}");

    // Fixed, with a post added, then SIGHUP: the new post goes out.
    project
        .write("posts/b.toml", &format!("{b_valid}{}", fixed_post("b-new", "b", Timestamp::now())));
    let hup = Instant::now();
    daemon.signal("HUP");
    assert!(
        rx.wait_for(Duration::from_secs(5), |r| r.iter().any(|q| q.post == "b-new")).await,
        "the fixed file is taken\n{}",
        daemon.log()
    );
    println!("the post added in the fixed file went out {:?} after SIGHUP", hup.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = messages
        .try_iter()
        .flat_map(|(_, m)| m.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|l| l.strip_prefix("STATUS=").map(str::to_owned))
        .last()
        .expect("a STATUS= line after the fix");
    assert!(!last.contains("invalid"), "STATUS= is clear again: {last}");
    assert!(daemon.log().contains("valid again"), "{}", daemon.log());

    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), 6, "{per_id:?}");
    assert!(per_id.values().all(|n| *n == 1), "each sent once: {per_id:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_storage_url_on_sighup_is_logged_as_needing_a_restart_and_not_applied() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    project.write("posts/queue.toml", &fixed_post("first", "blog", Timestamp::now()));
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    assert!(rx.wait_for(Duration::from_secs(5), |r| r.len() == 1).await, "{}", daemon.log());
    project.write("crieur.toml", &harness::config("sqlite://other.db", harness::QUEUE, &channels));
    project.write(
        "posts/queue.toml",
        &format!(
            "{}{}",
            fixed_post("first", "blog", Timestamp::now()),
            fixed_post("second", "blog", Timestamp::now())
        ),
    );
    daemon.signal("HUP");
    assert!(rx.wait_for(Duration::from_secs(5), |r| r.len() == 2).await, "{}", daemon.log());
    assert!(daemon.log().contains("[storage] changed"), "{}", daemon.log());
    assert!(!project.path().join("other.db").exists(), "the new database is not opened");
    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    let per_id = rx.check_traffic();
    assert!(per_id.values().all(|n| *n == 1), "nothing sent twice: {per_id:?}");
}
