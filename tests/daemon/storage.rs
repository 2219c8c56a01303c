//! Storage faults under a running daemon: a SQLite database whose file system fills up, and a
//! PostgreSQL server stopped and started again. While the database cannot commit an intent,
//! nothing is sent; the fault is logged once; the loop stops pinging the watchdog once it has
//! been stuck for longer than the watchdog interval; publishing resumes by itself when writes
//! succeed again, and nothing is sent twice.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::basics::listen_notify;
use super::harness::{self, Project, fixed_post, webhook_channels};
use super::receiver::Receiver;
use crate::common;

/// Posts on the one channel `blog`, due every second.
const POSTS: usize = 22;

/// A tmpfs of `size` mounted at `path`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs (this test needs root, as CI runs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with a file `filler` until it is full.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let mut byte = [0u8; 512];
    while file.write_all(&byte[..1]).is_ok() {
        byte[0] = 1;
    }
    path
}

fn statuses_and_pings(messages: &mpsc::Receiver<(Instant, String)>) -> Vec<(Instant, String)> {
    messages.try_iter().collect()
}

/// Runs a daemon on `project` (posts due every second from `t0`), calls `fault` once the first
/// post went out, checks that nothing is sent while it lasts, that the watchdog stops being
/// pinged, then calls `heal` and checks that every post goes out once. Returns how long after
/// `heal` the last of the posts due during the fault went out.
async fn ride_out(
    project: &Project,
    rx: &Receiver,
    t0: Timestamp,
    quiet: Duration,
    fault: impl FnOnce(),
    heal: impl FnOnce(),
) -> Duration {
    let socket = project.path().join("notify.sock");
    let messages = listen_notify(&socket);
    // A 2 s watchdog: a loop stuck longer than that stops pinging.
    let mut daemon = project.spawn_with(&[], |cmd| {
        cmd.env("NOTIFY_SOCKET", &socket).env("WATCHDOG_USEC", "2000000");
    });
    daemon.ready(Duration::from_secs(20)).await;
    assert!(rx.wait_for(Duration::from_secs(10), |r| !r.is_empty()).await, "{}", daemon.log());

    fault();
    let faulted = Instant::now();
    // A request whose intent was committed just before may still go out; then nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = rx.requests().len();
    tokio::time::sleep(quiet).await;
    assert_eq!(
        rx.requests().len(),
        sent,
        "nothing is sent while the database cannot commit\n{}",
        daemon.log()
    );
    assert!(sent < POSTS, "posts were due during the fault");
    assert!(daemon.running(), "the daemon stays up\n{}", daemon.log());
    let during = statuses_and_pings(&messages);
    let pings: Vec<Duration> = during
        .iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(t, _)| t.saturating_duration_since(faulted))
        .collect();
    assert!(
        pings.iter().all(|t| *t < Duration::from_millis(3500)),
        "no watchdog ping once the loop has been stuck past the watchdog: {pings:?}"
    );

    heal();
    let healed = Instant::now();
    let overdue: Vec<String> =
        (0..POSTS).filter(|i| due(t0, *i) < Timestamp::now()).map(|i| format!("s{i}")).collect();
    let caught_up = rx
        .wait_for(Duration::from_secs(15), |r| {
            overdue.iter().all(|p| r.iter().any(|q| &q.post == p && q.stored))
        })
        .await;
    let took = healed.elapsed();
    assert!(caught_up, "the posts due during the fault went out\n{}", daemon.log());
    let all = rx.wait_for(Duration::from_secs(20), |_| rx.stored_count() == POSTS).await;
    assert!(all, "{} of {POSTS} stored after the fault\n{}", rx.stored_count(), daemon.log());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = statuses_and_pings(&messages);
    assert!(
        after.iter().any(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1")),
        "the watchdog is pinged again"
    );
    let log = daemon.log();
    // Once per episode, not once per retry. SQLite can fit a commit into WAL space a checkpoint
    // freed while the disk is still full, which ends an episode early and starts another: each
    // is then logged once, and each ends with the line saying writes are accepted again.
    let faults = log.matches("the database cannot commit").count();
    assert!(faults >= 1, "the fault is logged:\n{log}");
    assert_eq!(
        faults,
        log.matches("the database accepts writes again").count(),
        "logged once for each episode, and each episode ended:\n{log}"
    );
    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(20)).await.and_then(|s| s.code()), Some(0), "{log}");
    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), POSTS);
    assert!(per_id.values().all(|n| *n == 1), "each sent once: {per_id:?}");
    took
}

/// When post `i` is due: every second from `t0` + 2 s, in whole seconds.
fn due(t0: Timestamp, i: usize) -> Timestamp {
    let at = t0 + SignedDuration::from_secs(i64::try_from(i).unwrap() + 2);
    Timestamp::from_second(at.as_second()).unwrap()
}

fn posts(t0: Timestamp) -> String {
    (0..POSTS).map(|i| fixed_post(&format!("s{i}"), "blog", due(t0, i))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite_sends_nothing_and_publishing_resumes_once_space_is_back() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project =
        Project::new(&harness::config("sqlite://db/crieur.db", harness::QUEUE, &channels));
    let db = project.path().join("db");
    let _tmpfs = Tmpfs::mount(&db, "4m");
    let t0 = Timestamp::now();
    project.write("posts/queue.toml", &posts(t0));
    let filler = std::cell::RefCell::new(None);
    let took = ride_out(
        &project,
        &rx,
        t0,
        Duration::from_secs(5),
        || *filler.borrow_mut() = Some(fill(&db)),
        || std::fs::remove_file(filler.borrow().as_ref().unwrap()).unwrap(),
    )
    .await;
    println!(
        "SQLite on a full tmpfs: the posts due during the fault published {took:?} after space came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_a_running_daemon_sends_nothing_and_publishing_resumes() {
    let _pg = common::postgres_lock().await;
    let rx = Receiver::start(&harness::secret()).await;
    // A server of its own: it is stopped below.
    let cluster = crieur_testkit::postgres::Cluster::start();
    let (url, _name) = common::create_database_on(&cluster.url(), "crieur_fault").await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config(&url, harness::QUEUE, &channels));
    let t0 = Timestamp::now();
    project.write("posts/queue.toml", &posts(t0));
    // Longer than the pool's 10 s wait for a connection, so claims fail rather than wait.
    let quiet = Duration::from_secs(12);
    let took = ride_out(&project, &rx, t0, quiet, || cluster.stop(), || cluster.resume()).await;
    println!(
        "PostgreSQL stopped for 13 s: the posts due meanwhile published {took:?} after it came back"
    );
}
