//! Metadata removal on pictures as phones and editors write them, checked from the outside: by
//! parsing the output with an independent EXIF reader, walking its segments and chunks, and
//! decoding it with the `image` crate.

mod support;

use crieur_media::{Kind, Media, MediaError, sniff, strip};
use support::*;

/// Where the first segment with `marker` starts in a JPEG (scanning the marker segments).
fn position_of(jpeg: &[u8], marker: u8) -> usize {
    let mut at = 2;
    loop {
        assert_eq!(jpeg[at], 0xFF, "a marker at byte {at}");
        if jpeg[at + 1] == marker {
            return at;
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
}

/// The payloads of every APP1 segment before the picture data.
fn app1_payloads(jpeg: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut at = 2;
    while jpeg[at + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if jpeg[at + 1] == 0xE1 {
            found.push(jpeg[at + 4..at + 2 + len].to_vec());
        }
        at += 2 + len;
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_phone_photo_fixture_really_carries_gps_tags() {
    let photo = phone_jpeg(&plain_jpeg(&picture(64, 48, true), 90), 6);
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&photo))
        .expect("the fixture's EXIF parses");
    let latitude =
        exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).expect("a GPS latitude");
    assert_eq!(latitude.display_value().to_string(), "45 deg 45 min 36.12 sec");
    assert_eq!(
        exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY).and_then(|f| f.value.get_uint(0)),
        Some(6)
    );
}

#[test]
fn a_phone_jpeg_loses_gps_xmp_iptc_and_comment_and_keeps_its_orientation_alone() {
    let plain = plain_jpeg(&picture(64, 48, true), 90);
    let photo = phone_jpeg(&plain, 6);
    let stripped = strip(&photo, false).expect("a valid JPEG");

    let what: Vec<_> = stripped.removed.iter().map(|r| r.what.as_str()).collect();
    assert_eq!(what, ["APP1 EXIF", "APP1 XMP", "APP13 IPTC", "COM comment"]);
    assert_eq!(stripped.kept_orientation, Some(6));

    // One APP1 left: an EXIF block with the Orientation tag and nothing else.
    let app1 = app1_payloads(&stripped.bytes);
    assert_eq!(app1.len(), 1);
    let exif =
        exif::Reader::new().read_raw(app1[0][6..].to_vec()).expect("the EXIF block left parses");
    let tags: Vec<_> = exif.fields().map(|f| f.tag).collect();
    assert_eq!(tags, [exif::Tag::Orientation]);
    assert_eq!(
        exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY).and_then(|f| f.value.get_uint(0)),
        Some(6)
    );

    for secret in [&b"Phone"[..], b"Jeanne", b"45,45", b"xmpmeta", b"Photoshop", b"rue de la Paix"]
    {
        assert!(!contains(&stripped.bytes, secret), "{} is gone", String::from_utf8_lossy(secret));
    }

    // Everything from the quantisation tables to the end marker is the encoder's, byte for byte.
    let dqt = 0xDB;
    assert_eq!(
        stripped.bytes[position_of(&stripped.bytes, dqt)..],
        photo[position_of(&photo, dqt)..]
    );
    let original = image::load_from_memory(&photo).expect("decoding the original").to_rgb8();
    let sent =
        image::load_from_memory(&stripped.bytes).expect("decoding the stripped JPEG").to_rgb8();
    assert_eq!(original, sent);
}

#[test]
fn an_upright_phone_jpeg_keeps_no_exif_at_all() {
    let photo = phone_jpeg(&plain_jpeg(&picture(16, 16, false), 80), 1);
    let stripped = strip(&photo, false).expect("a valid JPEG");
    assert!(app1_payloads(&stripped.bytes).is_empty());
    assert_eq!(stripped.kept_orientation, None);
}

#[test]
fn a_sideways_photo_is_measured_as_shown() {
    let photo = phone_jpeg(&plain_jpeg(&picture(64, 48, false), 80), 6);
    let sniffed = sniff(&photo);
    assert_eq!(sniffed.kind, Kind::Jpeg);
    assert_eq!((sniffed.width, sniffed.height), (Some(48), Some(64)));
    assert_eq!(sniffed.orientation, Some(6));
    let media = Media::prepare(&photo, false).expect("a valid JPEG");
    assert_eq!((media.width, media.height), (Some(48), Some(64)));
    assert_eq!(media.content_type, "image/jpeg");
    assert_eq!(sniff(&media.data).orientation, Some(6));
}

#[test]
fn keep_metadata_sends_the_bytes_as_they_are() {
    let photo = phone_jpeg(&plain_jpeg(&picture(16, 16, false), 80), 6);
    let media = Media::prepare(&photo, true).expect("a valid JPEG");
    assert_eq!(media.data, photo);
    assert!(media.removed.is_empty());
    assert_eq!(media.bytes, photo.len() as u64);
}

#[test]
fn a_png_loses_its_text_exif_and_time_chunks_and_stays_valid() {
    let pixels = picture(20, 10, true);
    let png = phone_png(&pixels, 1);
    let stripped = strip(&png, false).expect("a valid PNG");
    let what: Vec<_> = stripped.removed.iter().map(|r| r.what.as_str()).collect();
    assert_eq!(what, ["PNG tEXt", "PNG zTXt", "PNG iTXt", "PNG eXIf", "PNG tIME"]);

    let kinds: Vec<_> = png_chunks(&stripped.bytes).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds.first(), Some(b"IHDR"));
    assert_eq!(kinds.last(), Some(b"IEND"));
    assert!(kinds.iter().all(|kind| matches!(kind, b"IHDR" | b"IDAT" | b"IEND")), "{kinds:?}");
    let data = |png: &[u8]| -> Vec<Vec<u8>> {
        png_chunks(png).into_iter().filter(|(k, _)| k == b"IDAT").map(|(_, d)| d).collect()
    };
    assert_eq!(data(&stripped.bytes), data(&png));
    let decoded = image::load_from_memory(&stripped.bytes).expect("decoding the PNG").to_rgb8();
    assert_eq!(decoded, pixels);
}

#[test]
fn a_png_turned_sideways_keeps_an_exif_chunk_with_the_orientation_alone() {
    let png = phone_png(&picture(20, 10, false), 8);
    let stripped = strip(&png, false).expect("a valid PNG");
    let exif_chunks: Vec<_> =
        png_chunks(&stripped.bytes).into_iter().filter(|(kind, _)| kind == b"eXIf").collect();
    assert_eq!(exif_chunks.len(), 1);
    let exif = exif::Reader::new().read_raw(exif_chunks[0].1.clone()).expect("an EXIF block");
    assert_eq!(exif.fields().map(|f| f.tag).collect::<Vec<_>>(), [exif::Tag::Orientation]);
    assert_eq!((sniff(&stripped.bytes).width, sniff(&stripped.bytes).height), (Some(10), Some(20)));
}

#[test]
fn a_webp_loses_exif_and_xmp_with_its_flags_and_riff_size_fixed() {
    let pixels = picture(12, 9, true);
    let webp = phone_webp(&pixels, 1);
    let stripped = strip(&webp, false).expect("a valid WebP");
    let what: Vec<_> = stripped.removed.iter().map(|r| r.what.as_str()).collect();
    assert_eq!(what, ["WebP EXIF", "WebP XMP"]);

    let chunks = webp_chunks(&stripped.bytes); // checks the RIFF size
    let ids: Vec<_> = chunks.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [b"VP8X", b"VP8L"]);
    assert_eq!(chunks[0].1[0] & 0b0000_1100, 0, "no EXIF or XMP flag left");
    assert_eq!(chunks[1], webp_chunks(&webp)[1], "the bitstream is unchanged");
    let decoded = image::load_from_memory(&stripped.bytes).expect("decoding the WebP").to_rgb8();
    assert_eq!(decoded, pixels);
    assert_eq!((sniff(&stripped.bytes).width, sniff(&stripped.bytes).height), (Some(12), Some(9)));
}

#[test]
fn a_webp_turned_sideways_keeps_an_exif_chunk_and_its_flag() {
    let webp = phone_webp(&picture(12, 9, false), 6);
    let stripped = strip(&webp, false).expect("a valid WebP");
    let chunks = webp_chunks(&stripped.bytes);
    let ids: Vec<_> = chunks.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [b"VP8X", b"VP8L", b"EXIF"]);
    assert_eq!(chunks[0].1[0] & 0b0000_1100, 0b0000_1000, "the EXIF flag alone");
    let exif = exif::Reader::new().read_raw(chunks[2].1.clone()).expect("an EXIF block");
    assert_eq!(exif.fields().map(|f| f.tag).collect::<Vec<_>>(), [exif::Tag::Orientation]);
    assert!(!contains(&stripped.bytes, b"Phone"));
}

#[test]
fn a_jpg_that_is_really_text_is_refused_as_text() {
    let bytes = include_bytes!("data/not-a-photo.jpg");
    assert_eq!(sniff(bytes).kind, Kind::Unknown);
    let error = Media::prepare(bytes, false).expect_err("text is not a picture");
    assert_eq!(error, MediaError::NotMedia { looks_like: "text".to_owned() });
    assert!(strip(bytes, true).is_err(), "refused even when metadata is kept");
}

#[test]
fn a_truncated_jpeg_is_refused_as_damaged() {
    let photo = phone_jpeg(&plain_jpeg(&picture(16, 16, true), 80), 1);
    let error = Media::prepare(&photo[..photo.len() / 2], false).expect_err("cut in half");
    assert!(matches!(error, MediaError::Damaged { kind: Kind::Jpeg, .. }), "{error}");
    assert!(error.to_string().starts_with("the JPEG file is damaged ("), "{error}");
}
