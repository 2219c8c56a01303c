//! Test pictures built in code: a photo-like JPEG with the EXIF a phone writes (GPS position,
//! orientation), XMP, IPTC and a comment; a PNG with text and eXIf chunks; a WebP with EXIF and XMP.

#![allow(dead_code)]

use image::{ImageEncoder, RgbImage};

/// The latitude written in the GPS tags: 45° 45' 36.12" N (Lyon).
pub const LATITUDE: [(u32, u32); 3] = [(45, 1), (45, 1), (3612, 100)];
/// The longitude written in the GPS tags: 4° 50' 24.00" E.
pub const LONGITUDE: [(u32, u32); 3] = [(4, 1), (50, 1), (2400, 100)];

/// A picture with smooth gradients and, with `noise`, pseudo-random grain (which makes a JPEG as
/// large as a phone photo).
pub fn picture(width: u32, height: u32, noise: bool) -> RgbImage {
    let mut state: u32 = 0x9E37_79B9;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let grain = if noise { (state % 64) as u8 } else { 0 };
        image::Rgb([
            ((x * 255 / width.max(1)) as u8).wrapping_add(grain),
            ((y * 255 / height.max(1)) as u8).wrapping_add(grain / 2),
            (((x + y) * 127 / (width + height).max(1)) as u8).wrapping_add(grain / 3),
        ])
    })
}

/// A big-endian TIFF block as a phone writes it: IFD0 with Make, Orientation and a pointer to a
/// GPS IFD holding latitude and longitude.
pub fn phone_exif_tiff(orientation: u16) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&value);
    }
    fn rationals(out: &mut Vec<u8>, values: [(u32, u32); 3]) {
        for (n, d) in values {
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(&d.to_be_bytes());
        }
    }
    // Layout: header 0..8, IFD0 8..50, "Phone\0" 50..56, GPS IFD 56..122, latitude 122..146,
    // longitude 146..170.
    let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
    t.extend_from_slice(&3u16.to_be_bytes());
    entry(&mut t, 0x010F, 2, 6, 50u32.to_be_bytes()); // Make
    let o = orientation.to_be_bytes();
    entry(&mut t, 0x0112, 3, 1, [o[0], o[1], 0, 0]); // Orientation
    entry(&mut t, 0x8825, 4, 1, 56u32.to_be_bytes()); // GPS IFD pointer
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(b"Phone\0");
    t.extend_from_slice(&5u16.to_be_bytes());
    entry(&mut t, 0x0000, 1, 4, [2, 3, 0, 0]); // GPSVersionID
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0"); // GPSLatitudeRef
    entry(&mut t, 0x0002, 5, 3, 122u32.to_be_bytes()); // GPSLatitude
    entry(&mut t, 0x0003, 2, 2, *b"E\0\0\0"); // GPSLongitudeRef
    entry(&mut t, 0x0004, 5, 3, 146u32.to_be_bytes()); // GPSLongitude
    t.extend_from_slice(&0u32.to_be_bytes());
    rationals(&mut t, LATITUDE);
    rationals(&mut t, LONGITUDE);
    assert_eq!(t.len(), 170);
    t
}

/// The XMP packet a photo editor writes, with a position and a creator.
pub const XMP: &[u8] = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description \
    exif:GPSLatitude='45,45.602N' dc:creator='Jeanne Martin'/></rdf:RDF></x:xmpmeta>";

/// A JPEG segment with `marker` and `payload`.
pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(
        &u16::try_from(payload.len() + 2).expect("a small segment").to_be_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// A baseline JPEG of `picture` as the `image` crate encodes it.
pub fn plain_jpeg(picture: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(picture)
        .expect("encoding a JPEG");
    out
}

/// The metadata segments a phone and a photo editor add: EXIF with GPS and `orientation`, XMP,
/// IPTC, a comment.
pub fn phone_segments(orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(phone_exif_tiff(orientation));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(XMP);
    let mut out = segment(0xE1, &exif);
    out.extend(segment(0xE1, &xmp));
    out.extend(segment(0xED, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0c\x1c\x02\x50\0\x07Jeanne"));
    out.extend(segment(0xFE, b"Taken at 12 rue de la Paix"));
    out
}

/// `plain` with [`phone_segments`] inserted right after its start marker.
pub fn phone_jpeg(plain: &[u8], orientation: u16) -> Vec<u8> {
    let mut out = plain[..2].to_vec();
    out.extend(phone_segments(orientation));
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PNG chunk with a correct CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len()).expect("a small chunk").to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    out.extend_from_slice(&hasher.finalize().to_be_bytes());
    out
}

/// The chunks of a PNG (type, data), checking each CRC; panics on a malformed file.
pub fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    let mut chunks = Vec::new();
    let mut at = 8;
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().expect("4 bytes");
        let data = &png[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().expect("4 bytes"));
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&kind);
        hasher.update(data);
        assert_eq!(hasher.finalize(), crc, "the CRC of {}", String::from_utf8_lossy(&kind));
        chunks.push((kind, data.to_vec()));
        at += 12 + len;
    }
    chunks
}

/// A PNG of `picture` with text, eXIf (GPS and `orientation`) and tIME chunks before its data.
pub fn phone_png(picture: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut plain = Vec::new();
    image::codecs::png::PngEncoder::new(&mut plain)
        .write_image(picture, picture.width(), picture.height(), image::ExtendedColorType::Rgb8)
        .expect("encoding a PNG");
    let ihdr_end = 8 + 12 + 13;
    let mut out = plain[..ihdr_end].to_vec();
    out.extend(png_chunk(b"tEXt", b"Author\0Jeanne Martin"));
    out.extend(png_chunk(b"zTXt", b"Comment\0\0x\x9c\x0b\x49\x2d\x2e\x01\0\x03\xdd\x01\xa1"));
    out.extend(png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>"));
    out.extend(png_chunk(b"eXIf", &phone_exif_tiff(orientation)));
    out.extend(png_chunk(b"tIME", b"\x07\xea\x0b\x03\x0a\x00\x00"));
    out.extend_from_slice(&plain[ihdr_end..]);
    out
}

/// A RIFF chunk (padded to an even size).
pub fn riff_chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).expect("a small chunk").to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// The chunks of a WebP (id, data) after checking the RIFF header and its size.
pub fn webp_chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&webp[..4], b"RIFF");
    assert_eq!(&webp[8..12], b"WEBP");
    let size = u32::from_le_bytes(webp[4..8].try_into().expect("4 bytes")) as usize;
    assert_eq!(size, webp.len() - 8, "the RIFF size counts every byte after it");
    let mut chunks = Vec::new();
    let mut at = 12;
    while at < webp.len() {
        let id: [u8; 4] = webp[at..at + 4].try_into().expect("4 bytes");
        let len = u32::from_le_bytes(webp[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        chunks.push((id, webp[at + 8..at + 8 + len].to_vec()));
        at += 8 + len + len % 2;
    }
    chunks
}

/// A lossless WebP of `picture` in the extended format, with EXIF (GPS and `orientation`) and XMP
/// chunks and the VP8X flags saying so.
pub fn phone_webp(picture: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut plain = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut plain)
        .write_image(picture, picture.width(), picture.height(), image::ExtendedColorType::Rgb8)
        .expect("encoding a WebP");
    let image_chunks = &plain[12..];
    let mut vp8x = vec![0b0000_1100, 0, 0, 0];
    vp8x.extend_from_slice(&(picture.width() - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(picture.height() - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend_from_slice(image_chunks);
    body.extend(riff_chunk(b"EXIF", &phone_exif_tiff(orientation)));
    body.extend(riff_chunk(b"XMP ", XMP));
    riff_chunk(b"RIFF", &body)
}

/// An MP4 box.
pub fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len() + 8).expect("a small box").to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// A small MP4: `ftyp`, a `moov` with one 640x360 track and a `udta` position, an `mdat`.
pub fn tiny_mp4() -> Vec<u8> {
    let mut tkhd = vec![0; 4 + 20 + 16];
    for value in [0x10000u32, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000, 640 << 16, 360 << 16] {
        tkhd.extend_from_slice(&value.to_be_bytes());
    }
    let trak = mp4_box(b"trak", &mp4_box(b"tkhd", &tkhd));
    let mut moov = trak;
    moov.extend(mp4_box(b"udta", b"\0\0\0\x1a\xa9xyz+45.7600+004.8400/"));
    let mut file = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
    file.extend(mp4_box(b"moov", &moov));
    file.extend(mp4_box(b"mdat", &[7; 64]));
    file
}
