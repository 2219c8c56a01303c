//! WebP metadata removal with img-parts: the image chunks are kept, EXIF, XMP and unknown chunks
//! are removed, and the VP8X flags are set again by hand (img-parts leaves the XMP flag as it was).

use img_parts::Bytes;
use img_parts::riff::{RiffChunk, RiffContent};
use img_parts::webp::WebP;

use crate::exif;
use crate::strip::{Removed, Stripping};

/// The chunks that make the picture: the header, the bitstreams, alpha, animation, ICC profile.
const KEPT: [&[u8; 4]; 7] = [b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];

/// VP8X flag bits (first byte of its payload).
const FLAG_EXIF: u8 = 0b0000_1000;
const FLAG_XMP: u8 = 0b0000_0100;
const FLAG_ANIMATION: u8 = 0b0000_0010;

fn parse(bytes: &[u8]) -> Result<WebP, &'static str> {
    WebP::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|error| match error {
        img_parts::Error::Truncated => "a chunk is cut short",
        img_parts::Error::WrongSignature | img_parts::Error::BadCRC => {
            "it does not start with a RIFF WEBP header"
        }
    })
}

/// The orientation an EXIF chunk asks for.
pub(crate) fn orientation(bytes: &[u8]) -> Option<u16> {
    let webp = parse(bytes).ok()?;
    exif::orientation(webp.chunk_by_id(*b"EXIF")?.content().data()?)
}

/// Whether the WebP is animated: the VP8X animation flag, or animation chunks.
pub(crate) fn is_animated(bytes: &[u8]) -> bool {
    let Ok(webp) = parse(bytes) else {
        return false;
    };
    let flagged = webp
        .chunk_by_id(*b"VP8X")
        .and_then(|chunk| chunk.content().data())
        .and_then(|data| data.first())
        .is_some_and(|flags| flags & FLAG_ANIMATION != 0);
    flagged || webp.has_chunk(*b"ANIM") || webp.has_chunk(*b"ANMF")
}

/// Removes EXIF, XMP and unknown chunks and anything after the RIFF chunk; an EXIF chunk whose
/// orientation is not upright is replaced by one holding only it; the VP8X flags say what is left.
pub(crate) fn strip(bytes: &[u8]) -> Result<Stripping, &'static str> {
    let mut webp = parse(bytes)?;
    let parsed_len = webp.len() as usize;
    let mut removed = Vec::new();
    let mut kept_orientation = None;
    let mut chunks = Vec::with_capacity(webp.chunks().len());
    for chunk in webp.chunks_mut().drain(..) {
        if KEPT.iter().any(|kept| **kept == chunk.id()) {
            chunks.push(chunk);
            continue;
        }
        removed.push(Removed::new(
            format!("WebP {}", String::from_utf8_lossy(&chunk.id()).trim_end()),
            chunk.len() as usize,
        ));
        if chunk.id() == *b"EXIF"
            && kept_orientation.is_none()
            && let Some(orientation) = chunk.content().data().and_then(|d| exif::orientation(d))
            && orientation != 1
        {
            kept_orientation = Some(orientation);
        }
    }
    if !chunks.iter().any(|chunk| chunk.id() == *b"VP8X") {
        // Only the extended format (VP8X) may carry an EXIF chunk.
        kept_orientation = None;
    }
    if let Some(orientation) = kept_orientation {
        let tiff = Bytes::from(exif::orientation_only(orientation));
        chunks.push(RiffChunk::new(*b"EXIF", RiffContent::Data(tiff)));
    }
    let has_exif = kept_orientation.is_some();
    for chunk in &mut chunks {
        if chunk.id() == *b"VP8X"
            && let RiffContent::Data(data) = chunk.content_mut()
            && let Some(&flags) = data.first()
        {
            let mut header = data.to_vec();
            header[0] = (flags & !(FLAG_EXIF | FLAG_XMP)) | if has_exif { FLAG_EXIF } else { 0 };
            *data = Bytes::from(header);
        }
    }
    *webp.chunks_mut() = chunks;
    if bytes.len() > parsed_len {
        removed.push(Removed::new("data after the end of the image", bytes.len() - parsed_len));
    }
    Ok((webp.encoder().bytes().to_vec(), removed, kept_orientation))
}
