//! The post-file watcher and the daemon's own reads. Found by the long PostgreSQL run: every
//! sync opens the post files, the watcher took the open for a change and synced again, forever
//! (three instances on 1,000 posts re-read them several times a second and stopped converging).

use std::time::Duration;

use jiff::Timestamp;

use super::world::{PostSpec, World, after, rows};

fn changes(log: &str) -> usize {
    log.matches("post files changed").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_post_files_is_not_taken_for_a_change() {
    let mut world = World::new(1, None).await;
    let t0 = Timestamp::now();
    world.add_posts(vec![PostSpec {
        id: "w-1".into(),
        channels: vec!["blog-1".into()],
        at: after(t0, 1.0),
    }]);
    let mut daemon = world.spawn("info", &[]);
    daemon.ready(Duration::from_secs(30)).await;
    let (_, settled) = world.settle(Duration::from_secs(30)).await;
    assert!(settled, "{}", daemon.log());
    // Others read the files too (validate, preview): still no change.
    let out = world.command(&["validate"], "warn").output().unwrap();
    assert!(out.status.code().is_some(), "validate ran");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(changes(&daemon.log()), 0, "nothing changed the files:\n{}", daemon.log());

    // A real change is still seen, and synced.
    world.add_posts(vec![PostSpec {
        id: "w-2".into(),
        channels: vec!["blog-1".into()],
        at: after(Timestamp::now(), 1.0),
    }]);
    let (status, settled) = world.settle(Duration::from_secs(30)).await;
    assert!(settled, "{}", daemon.log());
    assert_eq!(rows(&status)[&("w-2".to_owned(), "blog-1".to_owned())]["state"], "published");
    let seen = changes(&daemon.log());
    assert!(
        (1..=3).contains(&seen),
        "one change seen about once, not in a loop: {seen}\n{}",
        daemon.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(changes(&daemon.log()), seen, "and not again:\n{}", daemon.log());
    let exit = daemon.terminate(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}");
}
