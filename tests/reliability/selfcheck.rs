//! The invariant check itself: fed a network that got a post twice, a status that lies and a
//! status that forgets, it must say so (so a scenario that passes means something).

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

use super::world::{CANARY, PostSpec, World, text_of};

#[tokio::test]
async fn the_invariant_check_catches_duplicates_lies_and_gaps() {
    let mut world = World::new(1, None).await;
    let t = jiff::Timestamp::now();
    world.add_posts(
        ["twice", "lied", "forgot", "silent"]
            .iter()
            .map(|id| PostSpec { id: (*id).into(), channels: vec!["x-1".into()], at: t })
            .collect(),
    );
    crieur_net_http::install_crypto_provider();
    let client = reqwest::Client::new();
    let send = |text: String| {
        client
            .post(format!("{}/2/tweets", world.mock.base("x")))
            .header(AUTHORIZATION, format!("Bearer {CANARY}-x1-access-initial"))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({ "text": text }).to_string())
            .send()
    };
    for _ in 0..2 {
        assert_eq!(send(text_of("twice")).await.unwrap().status(), 201);
    }
    let accepted = world.mock.accepted();
    let status = json!({
        "posts": [
            {"post": "twice", "channel": "x-1", "item": 0, "state": "published",
             "remote_id": accepted[0].id, "error": null},
            {"post": "lied", "channel": "x-1", "item": 0, "state": "published",
             "remote_id": "1", "error": null},
            {"post": "silent", "channel": "x-1", "item": 0, "state": "retrying",
             "remote_id": null, "error": null}
        ],
        "channels": [{"channel": "x-1", "revoked": null}]
    });
    let v = world.verdict(&status);
    assert_eq!(v.duplicates.len(), 1, "{v:#?}");
    assert!(v.duplicates[0].contains("twice"));
    assert_eq!(v.missing.len(), 1, "{v:#?}");
    assert!(v.missing[0].contains("forgot"));
    assert_eq!(v.wrong.len(), 2, "{v:#?}");
    assert!(v.wrong.iter().any(|w| w.contains("lied") && w.contains("never accepted")));
    assert!(v.wrong.iter().any(|w| w.contains("silent") && w.contains("without a reason")));
    let panicked = std::panic::catch_unwind(|| v.assert_holds(true, "self-check"));
    assert!(panicked.is_err(), "assert_holds fails on a broken invariant");
}
