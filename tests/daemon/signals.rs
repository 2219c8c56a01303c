//! SIGHUP, the post-file watcher, SIGTERM with a request in flight, and `--once` exit codes.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::harness::{self, Project, fixed_post, queued_post, webhook_channels};
use super::receiver::{Answer, Receiver};
use crate::common;

/// CPU time (user + system) the process has used, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_the_config_and_the_files() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    project.write("posts/queue.toml", &fixed_post("first", "blog", Timestamp::now()));
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    assert!(rx.wait_for(Duration::from_secs(5), |r| r.len() == 1).await, "{}", daemon.log());

    // A post in a folder the queue does not list yet (so the file watcher does not see it), and a
    // config that lists it: neither is read before SIGHUP.
    project.write("extra/more.toml", &fixed_post("second", "blog", Timestamp::now()));
    let queue = "files = [\"posts/*.toml\", \"extra/*.toml\"]\nmissed = \"publish-late\"\nmax_late = \"2h\"\n";
    project.write("crieur.toml", &harness::config("sqlite://crieur.db", queue, &channels));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.requests().len(), 1, "nothing new before SIGHUP");

    let hup = Instant::now();
    daemon.signal("HUP");
    assert!(
        rx.wait_for(Duration::from_secs(5), |r| r.len() == 2).await,
        "the post is read after SIGHUP\n{}",
        daemon.log()
    );
    let took = rx.requests()[1].at - hup;
    assert_eq!(rx.requests()[1].post, "second");
    assert!(took < Duration::from_secs(2), "sent {took:?} after SIGHUP");

    // After the reload the daemon idles: no task left spinning from the previous round.
    let cpu = cpu_time(daemon.pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_time(daemon.pid) - cpu;
    assert!(used < Duration::from_millis(300), "{used:?} of CPU in 2 s of idling after SIGHUP");
    println!("SIGHUP to request: {took:?}; CPU while idle after the reload: {used:?} in 2 s");

    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    rx.check_traffic();
    let rows = project.states().await;
    assert_eq!(rows["second@blog"]["state"], "published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_file_edit_alone_resyncs_within_two_seconds() {
    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    let base = queued_post("waiting", &["blog"]);
    project.write("posts/queue.toml", &base);
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // An edit in place (truncate and write, as many editors do) adding a post due now.
    let edited = Instant::now();
    std::fs::write(
        project.path().join("posts/queue.toml"),
        format!("{base}{}", fixed_post("edited", "blog", Timestamp::now())),
    )
    .unwrap();
    assert!(
        rx.wait_for(Duration::from_secs(5), |r| r.iter().any(|r| r.post == "edited")).await,
        "{}",
        daemon.log()
    );
    let edit_took = rx.requests()[0].at - edited;

    // A new file, written beside and renamed in (as git and other editors do).
    let added = Instant::now();
    project.write("posts/new.toml", &fixed_post("added", "blog", Timestamp::now()));
    assert!(
        rx.wait_for(Duration::from_secs(5), |r| r.iter().any(|r| r.post == "added")).await,
        "{}",
        daemon.log()
    );
    let add_took = rx.requests()[1].at - added;
    println!("file change to request: {edit_took:?} (edit in place), {add_took:?} (new file)");
    assert!(edit_took < Duration::from_secs(2), "edit seen after {edit_took:?}");
    assert!(add_took < Duration::from_secs(2), "new file seen after {add_took:?}");

    // Removing the queued post from the files cancels it.
    project.write("posts/queue.toml", &fixed_post("edited", "blog", Timestamp::now()));
    let rows = harness::wait_status(&project, Duration::from_secs(3), |rows| {
        rows["waiting@blog"]["state"] == "cancelled"
    })
    .await;
    assert_eq!(rows["waiting@blog"]["state"], "cancelled");
    daemon.signal("TERM");
    assert_eq!(daemon.exit(Duration::from_secs(10)).await.and_then(|s| s.code()), Some(0));
    let per_id = rx.check_traffic();
    assert_eq!(per_id.len(), 2);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_the_request_in_flight_and_records_it() {
    let rx = Receiver::start(&harness::secret()).await;
    rx.set(|_| Answer::ok_after(Duration::from_secs(2)));
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    project.write("posts/queue.toml", &fixed_post("slow", "blog", Timestamp::now()));
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    assert!(rx.wait_for(Duration::from_secs(5), |r| r.len() == 1).await);
    let term = Instant::now();
    daemon.signal("TERM");
    let exit = daemon.exit(Duration::from_secs(10)).await;
    let took = term.elapsed();
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", daemon.log());
    let answered = rx.requests()[0].answered.expect("the receiver answered") - term;
    assert!(took >= answered, "exited {took:?} after SIGTERM, before the answer ({answered:?})");
    assert!(took < Duration::from_secs(4), "exited {took:?} after SIGTERM");
    println!(
        "SIGTERM with a 2 s request in flight: answered after {answered:?}, exited after {took:?}"
    );
    let rows = project.states().await;
    assert_eq!(rows["slow@blog"]["state"], "published", "{:#}", rows["slow@blog"]);
    assert_eq!(rows["slow@blog"]["attempts"], 1);
    assert_eq!(rows["slow@blog"]["url"], rx.post_url("slow", "blog"));
    rx.check_traffic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_0_when_all_due_were_published_and_1_when_one_was_rejected() {
    let rx = Receiver::start(&harness::secret()).await;
    rx.set(|r| if r.post == "bad" { Answer::status(400) } else { Answer::OK });
    let channels = webhook_channels(&rx, &["blog", "news"], "Mon 08:00");
    let due = Timestamp::now() - SignedDuration::from_mins(1);

    // All published: exit 0; what is not due stays queued.
    let good = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    good.write(
        "posts/queue.toml",
        &format!(
            "{}{}{}",
            fixed_post("one", "blog", due),
            fixed_post("two", "news", due),
            queued_post("later", &["blog"])
        ),
    );
    let started = Instant::now();
    let out = good.run(&["run", "--once"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let once_took = started.elapsed();
    let rows = good.states().await;
    assert_eq!(rows["one@blog"]["state"], "published");
    assert_eq!(rows["two@news"]["state"], "published");
    assert_eq!(rows["later@blog"]["state"], "queued");
    assert_eq!(rx.requests().len(), 2);

    // Nothing due: exit 0 at once, nothing sent.
    let out = good.run(&["run", "--once"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert_eq!(rx.requests().len(), 2);

    // One rejected (400): exit 1, the other still published.
    let bad = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    bad.write(
        "posts/queue.toml",
        &format!("{}{}", fixed_post("bad", "blog", due), fixed_post("fine", "news", due)),
    );
    let out = bad.run(&["run", "--once"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let rows = bad.states().await;
    assert_eq!(rows["fine@news"]["state"], "published");
    assert_eq!(rows["bad@blog"]["state"], "failed", "{:#}", rows["bad@blog"]);
    let error = rows["bad@blog"]["error"].as_str().unwrap();
    assert!(error.contains("400"), "the reason names the answer: {error}");
    assert_eq!(rx.requests().iter().filter(|r| r.post == "bad").count(), 1, "not retried");
    rx.check_traffic();
    println!("--once publishing two posts took {once_took:?}");
}
