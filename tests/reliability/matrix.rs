//! The fault matrix: every kind of fault on every network (Mastodon and Bluesky included, exactly
//! once through their own keys), one post each, through one daemon that keeps running until every
//! delivery is settled (reconciled, retried).

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::mock::{Fault, Net};
use super::world::{PostSpec, World, after};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_on_every_network_ends_published_exactly_once() {
    let started = Instant::now();
    let mut world = World::new(2, None).await;
    // Facebook throttles the realistic way: error 32 with a wait of one minute.
    world.mock.facebook_regain_minutes(Some(1));
    let t0 = Timestamp::now();
    let mut posts = Vec::new();
    let mut expected_faults = Vec::new();
    for net in Net::ALL {
        let channels = world.on(net);
        for (k, fault) in Fault::matrix(net).into_iter().enumerate() {
            let id = format!("m-{}-{k:02}", net.name());
            // The rate limit (index 0) and the 30 s timeout (index 7) land on different
            // channels, so the one-minute Facebook hold and the timeout overlap.
            let channel = channels[k % 2].clone();
            if fault == Fault::ResetBeforeBody {
                world.mock.arm_resets(net, 1);
            } else {
                world.mock.script(net, &id, &[fault]);
            }
            expected_faults.push(format!("{}:{}", net.name(), fault.name()));
            posts.push(PostSpec { id, channels: vec![channel], at: after(t0, 2.0) });
        }
    }
    // Posts on every channel at once, answered normally.
    let all: Vec<String> = world.channels.iter().map(|c| c.name.clone()).collect();
    for k in 0..2 {
        posts.push(PostSpec {
            id: format!("m-all-{k}"),
            channels: all.clone(),
            at: after(t0, 2.5),
        });
    }
    world.add_posts(posts);

    let mut daemon = world.spawn("info", &[]);
    daemon.ready(Duration::from_secs(20)).await;
    let (status, settled) = world.settle(Duration::from_secs(200)).await;
    let verdict = world.verdict(&status);
    println!("fault matrix after {:?}: {}", started.elapsed(), verdict.summary());
    assert!(settled, "not settled: {}\n{}", verdict.summary(), daemon.log());
    verdict.assert_holds(false, "fault matrix");
    let total = world.expected().len();
    assert_eq!(
        verdict.states.get("published"),
        Some(&total),
        "every fault of the matrix is recoverable: all {total} end published\n{}",
        verdict.summary()
    );
    for kind in &expected_faults {
        assert!(
            verdict.faults.contains_key(kind),
            "fault {kind} was never injected: {:?}",
            verdict.faults
        );
    }
    assert!(world.mock.unused_script().is_empty(), "{:?}", world.mock.unused_script());
    let (refreshes, reused) = world.mock.refresh_counts();
    assert!(refreshes >= 2, "the 401s on X and LinkedIn were followed by refreshes");
    assert_eq!(reused, 0, "a spent refresh token was never presented again");
    // Logins are rate-limited on Bluesky: one per account for the whole run, faults or not.
    assert_eq!(world.mock.bluesky_logins(), 2, "one Bluesky login per channel");

    // Nothing more goes out, and a clean stop keeps the same picture.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let exit = daemon.terminate(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}\n{}", daemon.log());
    let status = world.status_now().await;
    world.verdict(&status).assert_holds(false, "fault matrix, after SIGTERM");
    assert_eq!(world.verdict(&status).states.get("published"), Some(&total));
}
