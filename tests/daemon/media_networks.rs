//! Media on X, LinkedIn and Facebook through the real binary, against the strict mocks of
//! `uploads.rs`: one post with two pictures (a phone's JPEG with its GPS position in EXIF, a
//! PNG with text chunks) goes out once per network, each picture uploaded without its metadata
//! and with its alt text as that network takes it; after a crash between the uploads and the
//! post, the restart posts once and uploads again only the X media id that expired. Also: an MP4
//! on X (chunked, processed), the video rules of `validate`, an X token without `media.write`,
//! and an X thread whose items carry their own pictures.

use std::time::{Duration, Instant};

use serde_json::json;

use super::harness::{
    self, DESK, DESK_ALT, PHOTO_TEXT, Project, TEAM, TEAM_ALT, contains, soon, wait_status,
};
use super::uploads::{FB_PAGE, FB_TOKEN, LI_AUTHOR, LI_TOKEN, Networks, X_TOKEN};

/// Whether an EXIF reader independent of crieur's finds EXIF in `bytes`, and a GPS position in
/// it.
fn exif_gps(bytes: &[u8]) -> Option<bool> {
    let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)).ok()?;
    Some(exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).is_some())
}

/// The picture reached the network as a picture of its kind, without a trace of what the phone
/// wrote.
fn assert_clean_picture(what: &str, bytes: &[u8], jpeg: bool) {
    if jpeg {
        assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]), "{what}");
        assert!(bytes.len() < TEAM.len(), "{what}: nothing was removed");
    } else {
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{what}");
        assert!(bytes.len() < DESK.len(), "{what}: nothing was removed");
    }
    assert_eq!(exif_gps(bytes), None, "{what}: an EXIF reader finds EXIF");
    for needle in [
        &b"Exif\0\0"[..],
        b"eXIf",
        b"tEXt",
        b"GPS",
        b"xmpmeta",
        b"Phone\0",
        b"Jeanne",
        b"rue de la Paix",
    ] {
        assert!(
            !contains(bytes, needle),
            "{what} still holds {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}

/// A project whose channels `{prefix}-x`, `-li` and `-fb` point at `net`, with the networks'
/// credentials in its environment and an empty `posts/media` folder.
fn networks_project(net: &Networks, prefix: &str) -> Project {
    let mut project =
        Project::new(&harness::config("sqlite://crieur.db", harness::QUEUE, &net.channels(prefix)));
    for (name, value) in Networks::envs() {
        project = project.with_env(name, value);
    }
    std::fs::create_dir_all(project.path().join("posts/media")).unwrap();
    project
}

/// A project with the three channels `m-x`, `m-li`, `m-fb` on `net`, the two pictures, and one
/// post on all three due in two seconds.
fn project(net: &Networks) -> Project {
    // The fixtures carry what must not leave the machine, so the checks can fail.
    assert_eq!(exif_gps(TEAM), Some(true), "the JPEG fixture has a GPS position");
    assert!(contains(DESK, b"eXIf") && contains(DESK, b"tEXt"));
    let project = networks_project(net, "m");
    project.write_pictures();
    let at = soon(2);
    project.write(
        "posts/photo.toml",
        &format!(
            "[[post]]\nid = \"lyon-office-photo\"\nchannels = [\"m-x\", \"m-li\", \"m-fb\"]\n\
             text = \"{PHOTO_TEXT}\"\nat = \"{at}\"\n\
             media = [\n  {{ path = \"media/lyon-team.jpg\", alt = \"{TEAM_ALT}\" }},\n  \
             {{ path = \"media/lyon-desk.png\", alt = \"{DESK_ALT}\" }},\n]\n"
        ),
    );
    project
}

const KEYS: [&str; 3] =
    ["lyon-office-photo@m-x", "lyon-office-photo@m-li", "lyon-office-photo@m-fb"];

async fn wait_published(project: &Project, log: &dyn Fn() -> String) {
    let rows = wait_status(project, Duration::from_secs(40), |rows| {
        KEYS.iter().all(|k| rows.get(*k).is_some_and(|r| r["state"] == "published"))
    })
    .await;
    for k in KEYS {
        assert_eq!(rows[k]["state"], "published", "{k}: {:#}\n{}", rows[k], log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pictures_reach_x_linkedin_and_facebook_without_metadata_each_with_its_alt() {
    let net = Networks::start().await;
    net.state().x_processing = true;
    let project = project(&net);
    let validate = project.run(&["validate"]).await;
    assert!(validate.status.success(), "{}", String::from_utf8_lossy(&validate.stdout));

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    wait_published(&project, &|| daemon.log()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    net.assert_clean();
    let s = net.state();

    // X: two uploads, each polled until processed and described, then one post naming both.
    assert_eq!(s.x_posts.len(), 1, "one post on X");
    let post = &s.x_posts[0];
    assert_eq!(post.text, PHOTO_TEXT);
    assert_eq!(post.media_ids.len(), 2);
    assert_eq!(s.count("x initialize"), 2, "{:#?}", s.log);
    let mut x_bytes = Vec::new();
    for (id, (jpeg, alt, category)) in
        post.media_ids.iter().zip([(true, TEAM_ALT, "image/jpeg"), (false, DESK_ALT, "image/png")])
    {
        let m = &s.x_media[id];
        assert_eq!(m.media_type, category);
        assert_eq!(m.category, "tweet_image");
        assert_eq!(m.alt.as_deref(), Some(alt), "alt text through the metadata endpoint");
        assert!(m.status_polls >= 1 && m.processed, "STATUS was polled until it succeeded");
        assert_clean_picture(&format!("X media {id}"), &m.bytes(), jpeg);
        x_bytes.push(m.bytes());
    }
    // Each upload goes initialize, append, finalize, status, metadata, in that order.
    for id in &post.media_ids {
        let steps: Vec<&str> = s
            .log
            .iter()
            .filter(|l| l.ends_with(id.as_str()))
            .map(|l| l.split(' ').nth(1).unwrap())
            .collect();
        let first_status = steps.iter().position(|s| *s == "status").unwrap();
        assert_eq!(&steps[..first_status], ["append", "finalize"], "{id}: {steps:?}");
        assert_eq!(steps.last(), Some(&"metadata"), "{id}: {steps:?}");
    }
    let x_post_at = s.log.iter().position(|l| l == "x post").unwrap();
    assert_eq!(s.log.iter().skip(x_post_at).filter(|l| l.starts_with("x ")).count(), 1);

    // LinkedIn: two images initialized and PUT, one post with content.multiImage and altText.
    assert_eq!(s.li_posts.len(), 1, "one post on LinkedIn");
    let post = &s.li_posts[0];
    assert_eq!(post.shape, "multiImage");
    assert!(post.commentary.starts_with("Our Lyon office, day one."), "{}", post.commentary);
    assert_eq!((s.count("li initialize"), s.count("li put")), (2, 2));
    let alts: Vec<&str> = post.images.iter().map(|(_, alt)| alt.as_str()).collect();
    assert_eq!(alts, [TEAM_ALT, DESK_ALT]);
    for ((urn, _), (jpeg, x)) in post.images.iter().zip([(true, &x_bytes[0]), (false, &x_bytes[1])])
    {
        let data = s.li_images[urn].data.clone().unwrap();
        assert_clean_picture(&format!("LinkedIn image {urn}"), &data, jpeg);
        assert_eq!(&data, x, "the same bytes on every network");
    }

    // Facebook: two unpublished photos with alt_text_custom, then one feed post attaching both.
    assert_eq!(s.fb_posts.len(), 1, "one post on Facebook");
    let post = &s.fb_posts[0];
    assert_eq!(post.message, PHOTO_TEXT);
    assert_eq!(s.count("fb photo"), 2);
    for (id, (jpeg, alt, content_type, x)) in post.attached.iter().zip([
        (true, TEAM_ALT, "image/jpeg", &x_bytes[0]),
        (false, DESK_ALT, "image/png", &x_bytes[1]),
    ]) {
        let photo = &s.fb_photos[id];
        assert_eq!(photo.alt.as_deref(), Some(alt));
        assert_eq!(photo.content_type.as_deref(), Some(content_type));
        assert_eq!(photo.attached_to.as_deref(), Some(post.id.as_str()));
        assert_clean_picture(&format!("Facebook photo {id}"), &photo.data, jpeg);
        assert_eq!(&photo.data, x, "the same bytes on every network");
    }
    drop(s);
    assert!(!daemon.log().contains(X_TOKEN), "a token in the log");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_upload_and_post_posts_once_and_uploads_again_only_the_expired_x_media() {
    let net = Networks::start().await;
    {
        let mut s = net.state();
        s.hold_posts = true;
        // X says the JPEG's id lives a day and the PNG's 4 seconds: after the crash the PNG's is
        // of no use (crieur keeps a 15-minute margin) and X refuses it once expired.
        s.x_lifetimes = [86_400, 4].into();
    }
    let project = project(&net);
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    // Every upload is done and recorded before the post requests, which the mocks hold open.
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.state().held < 3 {
        assert!(Instant::now() < deadline, "{:#?}\n{}", net.state().log, daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.kill9();
    let (x_first, li_first, fb_first) = {
        let s = net.state();
        assert_eq!(
            (s.count("x initialize"), s.count("li put"), s.count("fb photo")),
            (2, 2, 2),
            "{:#?}",
            s.log
        );
        assert!(s.x_posts.is_empty() && s.li_posts.is_empty() && s.fb_posts.is_empty());
        let mut x: Vec<(String, Instant)> =
            s.x_media.iter().map(|(id, m)| (id.clone(), m.expires_at)).collect();
        x.sort();
        let mut li: Vec<String> = s.li_images.keys().cloned().collect();
        li.sort();
        let mut fb: Vec<String> = s.fb_photos.keys().cloned().collect();
        fb.sort();
        (x, li, fb)
    };
    // Wait until X has let the PNG's id expire, so reusing it would be refused.
    let expired = x_first.iter().map(|(_, at)| *at).min().unwrap();
    tokio::time::sleep(expired.saturating_duration_since(Instant::now())).await;
    let before_restart = net.state().log.len();
    net.state().hold_posts = false;

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    wait_published(&project, &|| daemon.log()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    net.assert_clean();
    let s = net.state();
    assert_eq!((s.x_posts.len(), s.li_posts.len(), s.fb_posts.len()), (1, 1, 1), "once each");
    let after: Vec<&String> = s.log[before_restart..].iter().collect();

    // X: the JPEG's id is reused; the PNG alone is uploaded again (initialize to metadata).
    assert_eq!(after.iter().filter(|l| l.starts_with("x initialize")).count(), 1, "{after:#?}");
    let ids = &s.x_posts[0].media_ids;
    let (jpeg_id, png_id) = (&x_first[0].0, &x_first[1].0);
    assert_eq!(&ids[0], jpeg_id, "the still-valid id is reused");
    assert_ne!(&ids[1], png_id, "the expired id is not");
    assert_eq!(s.x_media[&ids[1]].media_type, "image/png");
    assert_eq!(s.x_media[&ids[1]].alt.as_deref(), Some(DESK_ALT));
    assert!(
        daemon.log().contains("the media uploaded earlier expired; uploading it again"),
        "{}",
        daemon.log()
    );
    // LinkedIn and Facebook give no expiry: nothing is uploaded again.
    assert!(
        !after.iter().any(|l| l.starts_with("li initialize")
            || l.starts_with("li put")
            || l.starts_with("fb photo")),
        "{after:#?}"
    );
    let mut li: Vec<String> = s.li_posts[0].images.iter().map(|(urn, _)| urn.clone()).collect();
    li.sort();
    assert_eq!(li, li_first);
    let mut fb = s.fb_posts[0].attached.clone();
    fb.sort();
    assert_eq!(fb, fb_first);
    drop(s);
    drop(daemon);
}

/// The mocks refuse what the networks refuse (so the tests above can fail): uploads out of
/// order, a post naming an unknown, unfinished or expired media id, media without alt text.
#[tokio::test]
async fn the_upload_mocks_refuse_what_the_networks_refuse() {
    crieur_net_http::install_crypto_provider();
    let net = Networks::start().await;
    let http = reqwest::Client::new();
    let x = |path: &str| http.post(net.url(&format!("x/{path}"))).bearer_auth(X_TOKEN);
    let status = |r: reqwest::Response| r.status().as_u16();
    let refusals = |n: usize| {
        let s = net.state();
        assert_eq!(s.refusals.len(), n, "{:#?}", s.refusals);
        assert!(s.violations.is_empty(), "{:#?}", s.violations);
    };

    // X: append and finalize before initialize, metadata before finalize, a post naming an
    // unknown id, then one not described and one expired.
    let seg = |id: &str| {
        let form = reqwest::multipart::Form::new()
            .text("segment_index", "0")
            .part("media", reqwest::multipart::Part::bytes(b"\xff\xd8bytes".to_vec()));
        x(&format!("2/media/upload/{id}/append")).multipart(form)
    };
    assert_eq!(status(seg("123").send().await.unwrap()), 400);
    refusals(1);
    let init =
        json!({"media_type": "image/jpeg", "total_bytes": 7, "media_category": "tweet_image"});
    let answer: serde_json::Value =
        x("2/media/upload/initialize").json(&init).send().await.unwrap().json().await.unwrap();
    let id = answer["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(status(x(&format!("2/media/upload/{id}/finalize")).send().await.unwrap()), 400);
    let alt = json!({"id": id, "metadata": {"alt_text": {"text": "A door"}}});
    assert_eq!(status(x("2/media/metadata").json(&alt).send().await.unwrap()), 400);
    refusals(3);
    assert_eq!(status(seg(&id).send().await.unwrap()), 200);
    assert_eq!(status(x(&format!("2/media/upload/{id}/finalize")).send().await.unwrap()), 200);
    let post =
        |ids: &[&str]| x("2/tweets").json(&json!({"text": "t", "media": {"media_ids": ids}}));
    assert_eq!(status(post(&[&id]).send().await.unwrap()), 400, "no alt text yet");
    assert_eq!(status(post(&["999"]).send().await.unwrap()), 400, "unknown id");
    refusals(5);
    assert_eq!(status(x("2/media/metadata").json(&alt).send().await.unwrap()), 200);
    net.state().x_media.get_mut(&id).unwrap().expires_at = Instant::now();
    assert_eq!(status(post(&[&id]).send().await.unwrap()), 400, "expired");
    net.state().x_media.get_mut(&id).unwrap().expires_at = Instant::now() + Duration::from_secs(60);
    assert_eq!(status(post(&[&id]).send().await.unwrap()), 201);
    refusals(6);

    // LinkedIn: a post naming an image initialized but never PUT, one image as multiImage, and
    // an image without altText.
    let li = |path: &str| {
        http.post(net.url(&format!("li/{path}")))
            .bearer_auth(LI_TOKEN)
            .header("LinkedIn-Version", "202609")
            .header("X-Restli-Protocol-Version", "2.0.0")
    };
    let init = json!({"initializeUploadRequest": {"owner": LI_AUTHOR}});
    let answer: serde_json::Value = li("rest/images?action=initializeUpload")
        .json(&init)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let urn = answer["value"]["image"].as_str().unwrap().to_owned();
    let upload = answer["value"]["uploadUrl"].as_str().unwrap().to_owned();
    let li_post = |content: serde_json::Value| {
        li("rest/posts").json(&json!({
            "author": LI_AUTHOR, "commentary": "c", "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "content": content, "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false
        }))
    };
    let one = json!({"media": {"id": urn, "altText": "A door"}});
    assert_eq!(status(li_post(one.clone()).send().await.unwrap()), 422, "not uploaded yet");
    let put = http.put(&upload).bearer_auth(LI_TOKEN).body(b"\xff\xd8bytes".to_vec());
    assert_eq!(status(put.send().await.unwrap()), 201);
    let multi = json!({"multiImage": {"images": [{"id": urn, "altText": "A door"}]}});
    assert_eq!(status(li_post(multi).send().await.unwrap()), 422, "multiImage of one");
    let no_alt = json!({"media": {"id": urn}});
    assert_eq!(status(li_post(no_alt).send().await.unwrap()), 422, "no altText");
    let unknown = json!({"media": {"id": "urn:li:image:C4D10AQHnope", "altText": "A door"}});
    assert_eq!(status(li_post(unknown).send().await.unwrap()), 422, "unknown image");
    refusals(10);
    assert_eq!(status(li_post(one).send().await.unwrap()), 201);
    refusals(10);

    // Facebook: a feed post attaching an unknown photo, a photo without alt text, and a photo
    // already attached to a post.
    let fb = |edge: &str| {
        http.post(net.url(&format!("fb/v25.0/{FB_PAGE}/{edge}"))).bearer_auth(FB_TOKEN)
    };
    let photo = |alt: Option<&str>| {
        let mut form = reqwest::multipart::Form::new().text("published", "false").part(
            "source",
            reqwest::multipart::Part::bytes(b"\xff\xd8bytes".to_vec())
                .file_name("a.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
        if let Some(alt) = alt {
            form = form.text("alt_text_custom", alt.to_owned());
        }
        fb("photos").multipart(form)
    };
    let id_of = |v: serde_json::Value| v["id"].as_str().unwrap().to_owned();
    let described = id_of(photo(Some("A door")).send().await.unwrap().json().await.unwrap());
    let bare = id_of(photo(None).send().await.unwrap().json().await.unwrap());
    let feed = |ids: &[&str]| {
        let list: Vec<_> = ids.iter().map(|id| json!({"media_fbid": id})).collect();
        fb("feed").form(&[("message", "m".to_owned()), ("attached_media", json!(list).to_string())])
    };
    assert_eq!(status(feed(&["42"]).send().await.unwrap()), 400, "unknown photo");
    assert_eq!(status(feed(&[&bare]).send().await.unwrap()), 400, "no alt text");
    assert_eq!(status(feed(&[&described]).send().await.unwrap()), 200);
    assert_eq!(status(feed(&[&described]).send().await.unwrap()), 400, "already attached");
    refusals(13);
}

/// A small MP4 as a phone writes it: `ftyp`, `moov` (a 320x240 track, `udta` with the `©xyz`
/// position), then `payload` bytes of `mdat`.
fn phone_mp4(payload: usize) -> Vec<u8> {
    fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(8 + payload.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }
    let matrix: Vec<u8> = [0x10000u32, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    let mut tkhd = vec![0u8; 4 + 20 + 8 + 8];
    tkhd.extend_from_slice(&matrix);
    tkhd.extend_from_slice(&(320u32 << 16).to_be_bytes());
    tkhd.extend_from_slice(&(240u32 << 16).to_be_bytes());
    let mut mvhd = vec![0u8; 4 + 8];
    mvhd.extend_from_slice(&[0, 0, 0x03, 0xe8, 0, 0, 0x27, 0x10, 0, 1, 0, 0, 1, 0]);
    mvhd.extend_from_slice(&[0; 10]);
    mvhd.extend_from_slice(&matrix);
    mvhd.extend_from_slice(&[0; 24]);
    mvhd.extend_from_slice(&2u32.to_be_bytes());
    let xyz = mp4_box(b"\xa9xyz", b"\x00\x12\x15\xc7+45.7601+004.8400/");
    let moov = [
        mp4_box(b"mvhd", &mvhd),
        mp4_box(b"trak", &mp4_box(b"tkhd", &tkhd)),
        mp4_box(b"udta", &xyz),
    ]
    .concat();
    let mut state: u32 = 0x2545_F491;
    let data: Vec<u8> = (0..payload)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    [
        mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41"),
        mp4_box(b"moov", &moov),
        mp4_box(b"mdat", &data),
    ]
    .concat()
}

/// An MP4 goes to X in 4 MiB `append` segments as `tweet_video`, is polled until X has processed
/// it, gets its alt text, and is posted once; its `udta` position is blanked in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_goes_to_x_in_segments_and_is_posted_once_processed() {
    const ALT: &str = "Thirty seconds of the Lyon office on its first morning";
    let video = phone_mp4(9 * 1024 * 1024 + 12_345);
    assert!(contains(&video, b"+45.7601"));
    let net = Networks::start().await;
    let project = networks_project(&net, "v");
    std::fs::write(project.path().join("posts/media/first-morning.mp4"), &video).unwrap();
    let at = soon(2);
    project.write(
        "posts/video.toml",
        &format!(
            "[[post]]\nid = \"first-morning\"\nchannels = [\"v-x\"]\ntext = \"{PHOTO_TEXT}\"\nat = \"{at}\"\n\
             media = [{{ path = \"media/first-morning.mp4\", alt = \"{ALT}\" }}]\n"
        ),
    );
    let validate = project.run(&["validate"]).await;
    assert!(validate.status.success(), "{}", String::from_utf8_lossy(&validate.stdout));

    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let rows = wait_status(&project, Duration::from_secs(40), |rows| {
        rows.get("first-morning@v-x").is_some_and(|r| r["state"] == "published")
    })
    .await;
    assert_eq!(rows["first-morning@v-x"]["state"], "published", "{}", daemon.log());
    tokio::time::sleep(Duration::from_millis(300)).await;
    net.assert_clean();
    let s = net.state();
    assert_eq!(s.x_posts.len(), 1, "one post");
    assert_eq!(s.count("x initialize"), 1);
    let id = &s.x_posts[0].media_ids[0];
    assert_eq!(s.x_posts[0].media_ids.len(), 1);
    let m = &s.x_media[id];
    assert_eq!((m.media_type.as_str(), m.category.as_str()), ("video/mp4", "tweet_video"));
    assert_eq!(m.total_bytes, video.len());
    let sizes: Vec<usize> = m.segments.values().map(Vec::len).collect();
    let chunk = 4 * 1024 * 1024;
    assert_eq!(sizes, [chunk, chunk, video.len() - 2 * chunk], "segments 0, 1, 2 in order");
    assert!(m.status_polls >= 1 && m.processed, "posted only once X had processed it");
    assert_eq!(m.alt.as_deref(), Some(ALT));
    let sent = m.bytes();
    assert_eq!(sent.len(), video.len(), "blanked in place: no offset moves");
    assert!(!contains(&sent, b"+45.7601") && !contains(&sent, b"udta"), "the position is gone");
    let differ = sent.iter().zip(&video).filter(|(a, b)| a != b).count();
    assert!(differ > 0 && differ <= 40, "only the udta box changed ({differ} bytes)");
    // Each step in order: initialize, the segments, finalize, status, metadata, then the post.
    let steps: Vec<&str> = s.log.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(
        steps.iter().filter(|s| **s != "status").copied().collect::<Vec<_>>(),
        ["initialize", "append", "append", "append", "finalize", "metadata", "post"],
        "{:#?}",
        s.log
    );
    drop(s);
    drop(daemon);
}

/// `validate` applies the video rules of policy.md per network, each finding on its `media`
/// entry: X takes one video alone (no second one, no image beside it), Facebook and LinkedIn no
/// video from crieur.
#[tokio::test]
async fn validate_places_the_video_rules_on_their_media_entries() {
    let net = Networks::start().await;
    let project = networks_project(&net, "v");
    std::fs::write(project.path().join("posts/media/clip.mp4"), phone_mp4(4096)).unwrap();
    std::fs::write(project.path().join("posts/media/team.jpg"), TEAM).unwrap();
    project.write(
        "posts/video.toml",
        "[[post]]\nid = \"mixed\"\nchannels = [\"v-x\"]\ntext = \"Mixed\"\nmedia = [\n  \
         { path = \"media/clip.mp4\", alt = \"A clip\" },\n  \
         { path = \"media/team.jpg\", alt = \"A team\" },\n]\n\n\
         [[post]]\nid = \"two-clips\"\nchannels = [\"v-x\"]\ntext = \"Two\"\nmedia = [\n  \
         { path = \"media/clip.mp4\", alt = \"A clip\" },\n  \
         { path = \"media/clip.mp4\", alt = \"The same clip\" },\n]\n\n\
         [[post]]\nid = \"clip-on-facebook\"\nchannels = [\"v-fb\"]\ntext = \"Clip\"\n\
         media = [{ path = \"media/clip.mp4\", alt = \"A clip\" }]\n\n\
         [[post]]\nid = \"clip-alone\"\nchannels = [\"v-x\"]\ntext = \"Alone\"\n\
         media = [{ path = \"media/clip.mp4\", alt = \"A clip\" }]\n\n\
         [[post]]\nid = \"clip-on-linkedin\"\nchannels = [\"v-li\"]\ntext = \"Clip\"\n\
         media = [{ path = \"media/clip.mp4\", alt = \"A clip\" }]\n",
    );
    let out = project.run(&["validate", "--format", "json"]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut found: Vec<(String, String, u64, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().is_some_and(|r| r.starts_with("media.")))
        .map(|f| {
            assert!(f["path"].as_str().unwrap().ends_with("posts/video.toml"), "{f}");
            (
                f["post"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    let want = [
        ("clip-on-facebook", "media.unreadable", 23, 10),
        ("clip-on-linkedin", "media.unreadable", 35, 10),
        ("mixed", "media.mixed", 6, 3),
        ("two-clips", "media.count", 15, 3),
    ]
    .map(|(p, r, l, c)| (p.to_owned(), r.to_owned(), l, c));
    assert_eq!(found, want, "{text}");
}

/// A token granted before crieur asked for `media.write` gets 403 on the first upload: nothing is
/// posted, the delivery waits (it does not fail), and the channel is held with a reason that says
/// to run `crieur auth` again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_x_token_without_media_write_holds_the_channel_and_says_to_run_auth_again() {
    let net = Networks::start().await;
    net.state().x_no_media_scope = true;
    let project = networks_project(&net, "m");
    std::fs::write(project.path().join("posts/media/lyon-team.jpg"), TEAM).unwrap();
    let at = soon(2);
    project.write(
        "posts/photo.toml",
        &format!(
            "[[post]]\nid = \"scope\"\nchannels = [\"m-x\"]\ntext = \"{PHOTO_TEXT}\"\nat = \"{at}\"\n\
             media = [{{ path = \"media/lyon-team.jpg\", alt = \"{TEAM_ALT}\" }}]\n"
        ),
    );
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let hold = loop {
        let status = project.status().await;
        let channel = status["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"] == "m-x")
            .cloned()
            .unwrap();
        if let Some(reason) = channel["hold_reason"].as_str() {
            break reason.to_owned();
        }
        assert!(Instant::now() < deadline, "no hold: {status:#}\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(hold.contains("media.write") && hold.contains("crieur auth m-x"), "{hold}");
    let rows = project.states().await;
    let state = rows["scope@m-x"]["state"].as_str().unwrap().to_owned();
    assert!(state == "retrying" || state == "queued", "the post waits: {:#}", rows["scope@m-x"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = net.state();
    assert!(s.x_posts.is_empty(), "nothing posted");
    assert_eq!(s.log, ["x forbidden 2/media/upload/initialize"], "one refused upload, then held");
    drop(s);
    drop(daemon);
}

/// A thread on X carries each item's own media: the post its picture, the reply (to the post X
/// created) its own, each uploaded once with its alt text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_item_of_an_x_thread_carries_its_own_pictures() {
    let net = Networks::start().await;
    let project = networks_project(&net, "t");
    project.write_pictures();
    let at = soon(2);
    project.write(
        "posts/thread.toml",
        &format!(
            "[[post]]\nid = \"thread\"\nchannels = [\"t-x\"]\ntext = \"{PHOTO_TEXT}\"\nat = \"{at}\"\n\
             media = [{{ path = \"media/lyon-team.jpg\", alt = \"{TEAM_ALT}\" }}]\n\n\
             [[post.thread]]\ntext = \"2/ And the desk by the window.\"\n\
             media = [{{ path = \"media/lyon-desk.png\", alt = \"{DESK_ALT}\" }}]\n"
        ),
    );
    let mut daemon = project.spawn(&[]);
    daemon.ready(Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.state().x_posts.len() < 2 {
        assert!(Instant::now() < deadline, "{:#?}\n{}", net.state().log, daemon.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    net.assert_clean();
    let s = net.state();
    assert_eq!(s.x_posts.len(), 2);
    let (post, reply) = (&s.x_posts[0], &s.x_posts[1]);
    assert_eq!((post.reply_to.as_deref(), reply.reply_to.as_deref()), (None, Some(&*post.id)));
    assert_eq!(reply.text, "2/ And the desk by the window.");
    assert_eq!((post.media_ids.len(), reply.media_ids.len()), (1, 1));
    let (first, second) = (&s.x_media[&post.media_ids[0]], &s.x_media[&reply.media_ids[0]]);
    assert_eq!((first.media_type.as_str(), first.alt.as_deref()), ("image/jpeg", Some(TEAM_ALT)));
    assert_eq!((second.media_type.as_str(), second.alt.as_deref()), ("image/png", Some(DESK_ALT)));
    assert_clean_picture("the post's picture", &first.bytes(), true);
    assert_clean_picture("the reply's picture", &second.bytes(), false);
    assert_eq!(s.count("x initialize"), 2, "each picture uploaded once");
    drop(s);
    drop(daemon);
}
