//! Leases on PostgreSQL: an instance that stops making progress for longer than its lease (a
//! frozen process, a stalled host) loses its claims to another instance, and must not send them
//! when it wakes up.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::mock::{Fault, Net};
use super::world::{PostSpec, World, after};
use crate::common;

fn signal(pid: u32, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_whose_lease_lapsed_while_the_instance_was_frozen_are_not_sent_when_it_wakes() {
    let _lock = common::postgres_lock().await;
    let (url, name) = common::create_database("crieur_lease").await;
    let mut world = World::new(1, Some(url)).await;
    world.env.push(("CRIEUR_LEASE_SECS".into(), "3".into()));
    let t0 = Timestamp::now();
    let mut posts = Vec::new();
    for k in 0..6 {
        let id = format!("frozen-{k}");
        // The first answer takes 2.5 s: the instance claims all six at once and sends them one
        // after the other, so five wait in its queue under its lease while it is frozen.
        if k == 0 {
            world.mock.script(Net::X, &id, &[Fault::Slow(2500)]);
        }
        posts.push(PostSpec { id, channels: vec!["x-1".into()], at: after(t0, 2.0) });
    }
    world.add_posts(posts);

    let mut first = world.spawn("info", &[]);
    first.ready(Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while world.mock.in_flight() == 0 {
        assert!(Instant::now() < deadline, "nothing was sent:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Frozen for twice its lease: its claims lapse, a second instance takes them over.
    signal(first.pid(), "STOP");
    assert!(
        world.mock.in_flight() > 0,
        "frozen while its first request is still unanswered (the others wait in its queue)"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut second = world.spawn("info", &[]);
    second.ready(Duration::from_secs(30)).await;
    let (status, settled) = world.settle(Duration::from_secs(60)).await;
    assert!(settled, "{}\n{}", world.verdict(&status).summary(), second.log());
    // The first instance wakes up with its old claims in memory.
    signal(first.pid(), "CONT");
    tokio::time::sleep(Duration::from_secs(8)).await;
    let status = world.status_now().await;
    let verdict = world.verdict(&status);
    println!("after the frozen instance woke: {}", verdict.summary());
    verdict.assert_holds(false, &format!("frozen instance\n{}", first.log()));
    assert_eq!(verdict.states.get("published"), Some(&6), "{}", verdict.summary());
    assert!(first.log().contains("the lease lapsed before sending"), "{}", first.log());
    for d in [&mut first, &mut second] {
        let exit = d.terminate(Duration::from_secs(30)).await;
        assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}\n{}", d.log());
    }
    drop(world);
    common::drop_database(&name).await;
}
