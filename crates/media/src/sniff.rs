//! The kind, size and shape of a media file, read from its bytes.

use std::fmt;

use crate::{exif, gif, jpeg, mp4, webp};

/// What a file is, from its bytes (never its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A JPEG image.
    Jpeg,
    /// A PNG image (animated PNG included).
    Png,
    /// A GIF image, still or animated.
    Gif,
    /// A WebP image, still or animated.
    WebP,
    /// An MP4 video.
    Mp4,
    /// Anything else: crieur does not send it.
    Unknown,
}

impl Kind {
    /// The MIME type a network or a webhook receiver is told (`application/octet-stream` for
    /// [`Kind::Unknown`]).
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Gif => "image/gif",
            Kind::WebP => "image/webp",
            Kind::Mp4 => "video/mp4",
            Kind::Unknown => "application/octet-stream",
        }
    }

    /// Whether this is a still or animated image (JPEG, PNG, GIF, WebP).
    pub fn is_image(self) -> bool {
        matches!(self, Kind::Jpeg | Kind::Png | Kind::Gif | Kind::WebP)
    }

    /// Whether this is a video (MP4).
    pub fn is_video(self) -> bool {
        self == Kind::Mp4
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Gif => "GIF",
            Kind::WebP => "WebP",
            Kind::Mp4 => "MP4",
            Kind::Unknown => "unknown",
        })
    }
}

/// What [`sniff`] read from a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The kind the bytes are.
    pub kind: Kind,
    /// The width in pixels as shown (after the EXIF orientation, or an MP4 track's quarter turn),
    /// when the headers say it.
    pub width: Option<u32>,
    /// The height in pixels as shown, when the headers say it.
    pub height: Option<u32>,
    /// The size of the file in bytes.
    pub bytes: u64,
    /// Whether a GIF has more than one frame, or a WebP or PNG is animated.
    pub animated: bool,
    /// The EXIF Orientation (1 to 8) a JPEG, PNG or WebP carries, if any.
    pub orientation: Option<u16>,
}

impl Sniffed {
    /// The number of pixels (width × height), what LinkedIn limits; `None` when a side is unknown.
    pub fn pixels(&self) -> Option<u64> {
        Some(u64::from(self.width?) * u64::from(self.height?))
    }

    /// For an [`Kind::Unknown`] file, what the bytes look like instead, in words a person
    /// understands ("text", "a PDF document", "nothing: the file is empty"...).
    pub fn looks_like(bytes: &[u8]) -> String {
        if bytes.is_empty() {
            return "nothing: the file is empty".to_owned();
        }
        if let Some(found) = infer::get(bytes) {
            let article = match found.extension().chars().next() {
                Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
                _ => "a",
            };
            return format!(
                "{article} {} file ({})",
                found.extension().to_uppercase(),
                found.mime_type()
            );
        }
        let is_text = std::str::from_utf8(bytes).is_ok_and(|text| {
            text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        });
        if is_text { "text".to_owned() } else { "unrecognised binary data".to_owned() }
    }
}

/// Reads what `bytes` are: kind, size, shape. Reads headers only, never decodes a picture, and
/// never fails: bytes it does not recognise are [`Kind::Unknown`], and a side it cannot read is
/// `None`.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    let kind = kind_of(bytes);
    let mut sniffed = Sniffed {
        kind,
        width: None,
        height: None,
        bytes: bytes.len() as u64,
        animated: false,
        orientation: None,
    };
    if kind.is_image()
        && let Ok(size) = imagesize::blob_size(bytes)
    {
        sniffed.width = u32::try_from(size.width).ok();
        sniffed.height = u32::try_from(size.height).ok();
    }
    match kind {
        Kind::Jpeg => sniffed.orientation = jpeg::orientation(bytes),
        Kind::Png => {
            sniffed.orientation = crate::png::orientation(bytes);
            sniffed.animated = crate::png::is_animated(bytes);
        }
        Kind::WebP => {
            sniffed.orientation = webp::orientation(bytes);
            sniffed.animated = webp::is_animated(bytes);
        }
        Kind::Gif => sniffed.animated = gif::frames(bytes, 2) > 1,
        Kind::Mp4 => {
            if let Some((width, height)) = mp4::dimensions(bytes) {
                sniffed.width = Some(width);
                sniffed.height = Some(height);
            }
        }
        Kind::Unknown => {}
    }
    if exif::swaps_sides(sniffed.orientation) {
        std::mem::swap(&mut sniffed.width, &mut sniffed.height);
    }
    sniffed
}

/// The kind from the magic numbers (`infer`), narrowed to what crieur sends.
fn kind_of(bytes: &[u8]) -> Kind {
    match infer::get(bytes).map(|found| found.mime_type()) {
        Some("image/jpeg") => Kind::Jpeg,
        Some("image/png" | "image/apng") => Kind::Png,
        Some("image/gif") => Kind::Gif,
        Some("image/webp") => Kind::WebP,
        Some("video/mp4") => Kind::Mp4,
        _ => Kind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_unknown_and_described_as_text() {
        let text = b"<not a picture>\nJust some words.\n";
        assert_eq!(sniff(text).kind, Kind::Unknown);
        assert_eq!(Sniffed::looks_like(text), "text");
    }

    #[test]
    fn a_known_other_kind_is_named() {
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj";
        assert_eq!(sniff(pdf).kind, Kind::Unknown);
        assert_eq!(Sniffed::looks_like(pdf), "a PDF file (application/pdf)");
    }

    #[test]
    fn empty_bytes_are_described_as_an_empty_file() {
        assert_eq!(sniff(b"").kind, Kind::Unknown);
        assert_eq!(sniff(b"").bytes, 0);
        assert_eq!(Sniffed::looks_like(b""), "nothing: the file is empty");
    }

    #[test]
    fn a_png_header_gives_its_dimensions() {
        let header = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0,
            0, 0, 123, 0, 0, 1, 65, 8, 6, 0, 0, 0, 0x9A, 0x38, 0xC4,
        ];
        let sniffed = sniff(&header);
        assert_eq!(sniffed.kind, Kind::Png);
        assert_eq!((sniffed.width, sniffed.height), (Some(123), Some(321)));
        assert_eq!(sniffed.pixels(), Some(123 * 321));
        assert!(!sniffed.animated);
    }
}
