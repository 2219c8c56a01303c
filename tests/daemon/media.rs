//! Images end to end: a post with two pictures goes out through the real binary to a webhook; the
//! receiver gets each picture's bytes without the metadata a phone wrote (GPS position, EXIF,
//! XMP, text chunks), with its alt text, size and SHA-256.

use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;

use super::harness::{
    self, DESK, DESK_ALT, PHOTO_TEXT, Project, TEAM, TEAM_ALT, contains, soon, webhook_channels,
};
use super::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pictures_reach_the_webhook_without_their_metadata_and_with_their_alt() {
    // The fixtures carry what must not leave the machine, so the checks below can fail.
    assert!(
        contains(TEAM, b"Exif\0\0") && contains(TEAM, b"Phone\0") && contains(TEAM, b"xmpmeta")
    );
    assert!(contains(DESK, b"eXIf") && contains(DESK, b"tEXt"));

    let rx = Receiver::start(&harness::secret()).await;
    let channels = webhook_channels(&rx, &["blog"], "Mon 08:00");
    let project = Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &channels));
    project.write_pictures();
    let at = soon(2);
    project.write(
        "posts/photo.toml",
        &format!(
            "[[post]]\nid = \"lyon-office-photo\"\nchannels = [\"blog\"]\n\
             text = \"{PHOTO_TEXT}\"\nat = \"{at}\"\n\
             media = [\n  {{ path = \"media/lyon-team.jpg\", alt = \"{TEAM_ALT}\" }},\n  \
             {{ path = \"media/lyon-desk.png\", alt = \"{DESK_ALT}\" }},\n]\n"
        ),
    );
    let validate = project.run(&["validate"]).await;
    assert!(validate.status.success(), "{}", String::from_utf8_lossy(&validate.stdout));

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    assert!(
        rx.wait_for(Duration::from_secs(15), |r| !r.is_empty()).await,
        "the post arrives\n{}",
        daemon.log()
    );
    let request = &rx.requests()[0];
    assert!(request.signature_ok, "the media travel inside the signed body");
    let media = request.body["data"]["media"].as_array().unwrap().clone();
    assert_eq!(media.len(), 2, "{media:?}");
    let expect = [
        ("media/lyon-team.jpg", "image/jpeg", TEAM_ALT, 48, 32),
        ("media/lyon-desk.png", "image/png", DESK_ALT, 32, 24),
    ];
    let mut received = Vec::new();
    for (m, (path, content_type, alt, width, height)) in media.iter().zip(expect) {
        assert_eq!(m["path"], path);
        assert_eq!(m["content_type"], content_type);
        assert_eq!(m["alt"], alt);
        assert_eq!((m["width"].as_u64(), m["height"].as_u64()), (Some(width), Some(height)));
        let data =
            base64::engine::general_purpose::STANDARD.decode(m["data"].as_str().unwrap()).unwrap();
        assert_eq!(m["bytes"].as_u64(), Some(data.len() as u64));
        let sha: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(m["sha256"], sha);
        received.push(data);
    }
    let (team, desk) = (&received[0], &received[1]);
    for needle in [&b"Exif"[..], b"Phone\0", b"xmpmeta", b"Jeanne", b"rue de la Paix"] {
        assert!(
            !contains(team, needle),
            "the JPEG still holds {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    assert!(team.starts_with(&[0xFF, 0xD8]) && team.ends_with(&[0xFF, 0xD9]), "still a JPEG");
    assert!(team.len() < TEAM.len());
    for needle in [&b"eXIf"[..], b"tEXt", b"Exif"] {
        assert!(
            !contains(desk, needle),
            "the PNG still holds {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    assert!(desk.starts_with(b"\x89PNG\r\n\x1a\n"), "still a PNG");
    // The post is published once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.check_traffic().values().copied().collect::<Vec<_>>(), [1]);
    drop(daemon);
}
