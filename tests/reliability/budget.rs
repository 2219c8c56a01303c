//! The attempt budget against networks that cannot be read back. LinkedIn and webhook
//! receivers are "reconciled" by sending again (LinkedIn refuses a duplicate and names the
//! post, a receiver deduplicates on `webhook-id`), so their "not found" proves nothing. When the
//! budget runs out right after an attempt whose outcome is unknown, the delivery may be on the
//! network: it must end `unknown` for a person, never `failed` ("provably not sent").

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::mock::{Fault, Net};
use super::world::{PostSpec, World, after, rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_attempts_after_an_unknown_outcome_on_linkedin_or_a_webhook_is_unknown_not_failed() {
    let mut world = World::new(1, None).await;
    // Eight attempts in a couple of seconds.
    world.env.retain(|(k, _)| k != "CRIEUR_RETRY_BASE_MS");
    world.env.push(("CRIEUR_RETRY_BASE_MS".into(), "20".into()));
    let t0 = Timestamp::now();
    let mut posts = Vec::new();
    for (net, channel, refused, accepted) in [
        (Net::Linkedin, "li-1", Fault::Status(503), Fault::StatusAfterAccept(503)),
        (Net::Webhook, "blog-1", Fault::Status(500), Fault::StatusAfterAccept(500)),
        (Net::X, "x-1", Fault::Status(503), Fault::Status(503)),
    ] {
        // Seven attempts refused before processing, the eighth (the last the budget allows)
        // taken and answered with an error: the network has the post, crieur cannot know.
        let id = format!("b-{}", net.name());
        let mut faults = vec![refused; 7];
        faults.push(accepted);
        world.mock.script(net, &id, &faults);
        posts.push(PostSpec { id, channels: vec![channel.into()], at: after(t0, 1.0) });
    }
    world.add_posts(posts);
    let mut daemon = world.spawn("info", &[]);
    daemon.ready(Duration::from_secs(30)).await;

    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let status = world.status_now().await;
        let r = rows(&status);
        let done = r.values().all(|row| {
            let error = row["error"].as_str().unwrap_or("");
            row["attempts"].as_u64() >= Some(8) && error.starts_with("gave up")
        });
        if done && r.len() == 3 {
            break status;
        }
        assert!(Instant::now() < deadline, "{status:#}\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let verdict = world.verdict(&status);
    println!("{}", verdict.summary());
    verdict.assert_holds(true, "budget exhausted after an unknown outcome");
    let r = rows(&status);
    for channel in ["li-1", "blog-1"] {
        let post = if channel == "li-1" { "b-linkedin" } else { "b-webhook" };
        let row = &r[&(post.to_owned(), channel.to_owned())];
        assert_eq!(row["state"], "unknown", "{row:#}");
        assert!(row["error"].as_str().unwrap().contains("crieur resolve"), "{row:#}");
    }
    // X can be read back: its reconciliation proved the post absent, so `failed` is the truth.
    let row = &r[&("b-x".to_owned(), "x-1".to_owned())];
    assert_eq!(row["state"], "failed", "{row:#}");
    let exit = daemon.terminate(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}");
}
