//! X and Facebook after `kill -9`: the restart reconciles every delivery the crash interrupted
//! (the timeline, the Page's `published_posts`); what the network has is recorded as published,
//! what it has not is sent at once, once, without waiting out a retry backoff.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::mock::{Fault, Net};
use super::world::{PostSpec, World, after};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_and_facebook_posts_interrupted_by_a_crash_go_out_at_once_after_the_restart() {
    let mut world = World::new(1, None).await;
    // The default backoff (15 minutes for a first retry): a post that waited for it would fail.
    world.env.retain(|(k, _)| k != "CRIEUR_RETRY_BASE_MS");
    let t0 = Timestamp::now();
    let mut posts = Vec::new();
    for (net, channel) in [(Net::X, "x-1"), (Net::Facebook, "fb-1")] {
        for k in 0..4 {
            let id = format!("{channel}-crash-{k}");
            // The first of each channel is created, then answered too late: it is in flight at
            // the kill. The other three are claimed behind it and never sent.
            if k == 0 {
                world.mock.script(net, &id, &[Fault::Slow(20_000)]);
            }
            posts.push(PostSpec { id, channels: vec![channel.into()], at: after(t0, 1.0) });
        }
    }
    world.add_posts(posts);

    let mut first = world.spawn("info", &[]);
    first.ready(Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while world.mock.in_flight() < 2 {
        assert!(Instant::now() < deadline, "not both in flight:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill9();
    assert_eq!(world.mock.accepted().len(), 2, "only the two slow ones reached the networks");

    let restarted = Instant::now();
    let mut second = world.spawn("info", &[]);
    second.ready(Duration::from_secs(30)).await;
    let (status, settled) = world.settle(Duration::from_secs(10)).await;
    let took = restarted.elapsed();
    let verdict = world.verdict(&status);
    assert!(settled, "{}\n{}", verdict.summary(), second.log());
    verdict.assert_holds(false, &second.log());
    assert_eq!(verdict.states.get("published"), Some(&8), "{}", verdict.summary());
    assert_eq!(world.mock.accepted().len(), 8, "each post accepted once");
    println!("X and Facebook: the eight interrupted posts settled {took:?} after the restart");
    assert!(took < Duration::from_secs(8), "settled {took:?} after the restart");
    let exit = second.terminate(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}\n{}", second.log());
}
