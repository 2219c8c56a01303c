//! The receiver sketch of RECEIVER.md works against the real publisher: it is extracted from the
//! document, run with python3 on loopback, and sent the same delivery twice (with an image, whose
//! sha256 the receiver checks), a forged one, one whose image does not match its sha256, and a
//! request for a post's figures.

#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crieur_core::engagement::{Engagement, MetricsRequest};
use crieur_core::{
    Article, Attachment, Delivery, ManualClock, Network, Outcome, Publisher, RejectKind,
};
use crieur_net_webhook::{WebhookConfig, WebhookPublisher};
use jiff::Timestamp;
use secrecy::SecretString;

const SECRET: &str = "whsec_Y3JpZXVyLXJlY2VpdmVyLWRvYy1rZXktMDEyMzQ1Njc4OQ==";
const OTHER_SECRET: &str = "whsec_b3RoZXItc2VjcmV0LW5vdC10aGUtcmVjZWl2ZXJzLWtleQ==";

/// Kills the receiver when the test ends, pass or fail.
struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python_sketch() -> String {
    let doc = include_str!("../RECEIVER.md");
    let start = doc.find("```python\n").unwrap() + "```python\n".len();
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

fn start_receiver() -> (Receiver, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("python3")
        .arg("-c")
        .arg(python_sketch())
        .env("CRIEUR_WEBHOOK_SECRET", SECRET)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs the receiver sketch (CPython is part of the build machine)");
    let receiver = Receiver(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the receiver sketch did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (receiver, port)
}

fn publisher(port: u16, secret: &str) -> WebhookPublisher {
    let mut c = WebhookConfig::new(
        "blog",
        format!("http://127.0.0.1:{port}/hooks/crieur"),
        SecretString::from(secret.to_owned()),
    );
    c.allow_private = true;
    c.clock = Arc::new(ManualClock::new(Timestamp::now()));
    WebhookPublisher::new(c).unwrap()
}

#[tokio::test]
async fn the_documented_receiver_verifies_and_deduplicates() {
    let (_receiver, port) = start_receiver();
    let delivery = Delivery {
        id: "why-rust/blog/0".into(),
        post: "why-rust".into(),
        channel: "blog".into(),
        network: Network::Webhook,
        text: "Why we write crieur in Rust".into(),
        link: None,
        category: None,
        article: Some(Article {
            title: "Why Rust".into(),
            slug: "why-rust".into(),
            tags: vec![],
            body_markdown: "Because.".into(),
        }),
        item: 0,
        reply_to: None,
        attempt: 1,
        attempt_started_at: Timestamp::now(),
        may_have_been_sent: false,
        media: vec![attachment(b"GIF89a, a picture's bytes", None)],
        options: Default::default(),
    };
    let want = Outcome::Published {
        remote_id: "why-rust".into(),
        url: Some("https://blog.example.com/why-rust".into()),
    };
    let good = publisher(port, SECRET);
    assert_eq!(good.publish(&delivery).await, want);
    // A resend of the same delivery gets the same answer.
    assert_eq!(good.publish(&delivery).await, want);
    // A sender with the wrong secret is refused.
    let forged = publisher(port, OTHER_SECRET);
    let outcome = forged.publish(&delivery).await;
    assert!(
        matches!(outcome, Outcome::Rejected { kind: RejectKind::Forbidden, .. }),
        "{outcome:?}"
    );
    // Media whose bytes do not match their sha256 are refused.
    let damaged = Delivery {
        id: "why-rust/blog/1".into(),
        media: vec![attachment(b"GIF89a, changed on the way", Some(b"GIF89a, the original"))],
        ..delivery
    };
    let outcome = good.publish(&damaged).await;
    let Outcome::Rejected { kind: RejectKind::Invalid, reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("does not match its sha256"), "{reason}");
    // A request for the post's figures: the sketch keeps none, so it answers 204 (nothing
    // known), which is no failure.
    let asked = MetricsRequest {
        remote_id: "why-rust".into(),
        url: Some("https://blog.example.com/why-rust".into()),
        published_at: Timestamp::now(),
    };
    let figures = good.fetch(&[asked], Timestamp::now()).await;
    assert_eq!(figures, Ok(std::collections::BTreeMap::new()));
}

/// An attachment of `data`, its sha256 computed over `hashed` (default: `data` itself).
fn attachment(data: &[u8], hashed: Option<&[u8]>) -> Attachment {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(hashed.unwrap_or(data));
    Attachment {
        path: "media/cover.gif".into(),
        alt: "The cover".into(),
        content_type: "image/gif".into(),
        width: 1,
        height: 1,
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        data: Arc::from(data),
    }
}
