//! Small thumbnails of post images for the HTML page, embedded as `data:` URIs, so the page stays
//! one self-contained file that makes no request.
//!
//! The picture is decoded with the `image` crate (JPEG, PNG, GIF, WebP only; decoding bounded by
//! [`image::Limits`]), turned upright as its EXIF orientation says, scaled down to fit
//! [`MAX_WIDTH`] × [`MAX_HEIGHT`], and encoded again: JPEG when it is opaque, PNG when it has
//! transparency. A picture already that small is embedded as it is (after metadata removal). An
//! animated GIF or WebP shows its first frame.

use std::io::Cursor;

use base64::Engine as _;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The widest thumbnail, in pixels (twice the width the page gives it, for sharp screens).
pub const MAX_WIDTH: u32 = 240;

/// The tallest thumbnail, in pixels.
pub const MAX_HEIGHT: u32 = 160;

/// The largest file a thumbnail is made of; a larger one is shown by name.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

/// The most memory one decode may take.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// A `data:` URI of a thumbnail of `bytes` (a picture of type `content_type`), or `None` when the
/// picture cannot be decoded (damaged, too large, not a still image crieur reads).
pub fn data_uri(content_type: &str, bytes: &[u8]) -> Option<String> {
    if bytes.len() > MAX_INPUT_BYTES {
        return None;
    }
    let format = match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        _ => return None,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let (width, height) = decoder.dimensions();
    let upright = orientation == image::metadata::Orientation::NoTransforms;
    if upright && width <= MAX_WIDTH && height <= MAX_HEIGHT {
        // Small already: the bytes themselves, once the browser can decode them.
        drop(decoder);
        return Some(encode_uri(content_type, bytes));
    }
    let mut picture = DynamicImage::from_decoder(decoder).ok()?;
    picture.apply_orientation(orientation);
    let small = if picture.width() > MAX_WIDTH || picture.height() > MAX_HEIGHT {
        picture.thumbnail(MAX_WIDTH, MAX_HEIGHT)
    } else {
        picture
    };
    let mut out = Vec::new();
    if small.color().has_alpha() {
        small.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).ok()?;
        Some(encode_uri("image/png", &out))
    } else {
        let rgb = DynamicImage::ImageRgb8(small.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
        rgb.write_with_encoder(encoder).ok()?;
        Some(encode_uri("image/jpeg", &out))
    }
}

fn encode_uri(content_type: &str, bytes: &[u8]) -> String {
    format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode(uri: &str) -> (String, DynamicImage) {
        let (head, data) = uri.split_once(";base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        let picture = image::load_from_memory(&bytes).unwrap();
        (head.trim_start_matches("data:").to_owned(), picture)
    }

    fn encoded(picture: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        picture.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    #[test]
    fn a_large_photo_becomes_a_small_jpeg_with_its_proportions() {
        let photo = DynamicImage::ImageRgb8(image::RgbImage::from_fn(1600, 1000, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        }));
        let png = encoded(&photo, ImageFormat::Png);
        let uri = data_uri("image/png", &png).unwrap();
        let (kind, thumb) = decode(&uri);
        assert_eq!(kind, "image/jpeg", "opaque: JPEG");
        assert_eq!((thumb.width(), thumb.height()), (240, 150));
        assert!(uri.len() < 20_000, "{} bytes of URI", uri.len());
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let logo = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(800, 800, |x, _| {
            image::Rgba([200, 30, 30, (x % 256) as u8])
        }));
        let uri = data_uri("image/png", &encoded(&logo, ImageFormat::Png)).unwrap();
        let (kind, thumb) = decode(&uri);
        assert_eq!(kind, "image/png");
        assert_eq!((thumb.width(), thumb.height()), (160, 160));
        assert!(thumb.color().has_alpha());
    }

    #[test]
    fn a_small_picture_is_embedded_as_it_is() {
        let dot = DynamicImage::ImageRgb8(image::RgbImage::new(20, 10));
        let gif = encoded(&dot, ImageFormat::Gif);
        let uri = data_uri("image/gif", &gif).unwrap();
        assert_eq!(uri, encode_uri("image/gif", &gif));
    }

    #[test]
    fn damaged_or_unknown_bytes_give_no_thumbnail() {
        assert_eq!(data_uri("image/jpeg", b"\xff\xd8\xff\xe0 not really a photo"), None);
        assert_eq!(data_uri("video/mp4", b"\0\0\0\x18ftypmp42"), None);
        assert_eq!(data_uri("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), None, "truncated");
    }
}
