//! PNG metadata removal with img-parts: every critical chunk and the ancillary chunks that
//! rendering needs are kept, every other chunk (text, eXIf, time, private chunks) is removed.

use img_parts::Bytes;
use img_parts::png::{Png, PngChunk};

use crate::exif;
use crate::strip::{Removed, Stripping};

/// Ancillary chunks that change how the picture looks: transparency, colour, pixel size,
/// animation (APNG).
const KEPT_ANCILLARY: [&[u8; 4]; 16] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"mDCv", b"cLLI", b"cLLi",
    b"sBIT", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn parse(bytes: &[u8]) -> Result<Png, &'static str> {
    Png::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|error| match error {
        img_parts::Error::BadCRC => "a chunk's checksum is wrong",
        img_parts::Error::Truncated => "a chunk is cut short",
        img_parts::Error::WrongSignature => "it does not start with the PNG signature",
    })
}

/// The orientation an eXIf chunk asks for.
pub(crate) fn orientation(bytes: &[u8]) -> Option<u16> {
    let png = parse(bytes).ok()?;
    exif::orientation(png.chunk_by_type(*b"eXIf")?.contents())
}

/// Whether the PNG is animated (has an APNG animation control chunk).
pub(crate) fn is_animated(bytes: &[u8]) -> bool {
    parse(bytes).is_ok_and(|png| png.chunk_by_type(*b"acTL").is_some())
}

fn is_kept(kind: [u8; 4]) -> bool {
    // A chunk whose first letter is upper case is critical: a decoder cannot skip it.
    kind[0].is_ascii_uppercase() || KEPT_ANCILLARY.iter().any(|kept| **kept == kind)
}

/// Removes every chunk but the critical ones and [`KEPT_ANCILLARY`], and anything after IEND;
/// an eXIf chunk whose orientation is not upright is replaced by one holding only it.
pub(crate) fn strip(bytes: &[u8]) -> Result<Stripping, &'static str> {
    let mut png = parse(bytes)?;
    if png.chunk_by_type(*b"IEND").is_none() {
        return Err("it ends before its IEND chunk");
    }
    let parsed_len = png.len();
    let mut removed = Vec::new();
    let mut kept_orientation = None;
    let mut chunks = Vec::with_capacity(png.chunks().len());
    for chunk in png.chunks_mut().drain(..) {
        if is_kept(chunk.kind()) {
            chunks.push(chunk);
            continue;
        }
        removed.push(Removed::new(
            format!("PNG {}", String::from_utf8_lossy(&chunk.kind())),
            chunk.len(),
        ));
        if chunk.kind() == *b"eXIf"
            && kept_orientation.is_none()
            && let Some(orientation) = exif::orientation(chunk.contents())
            && orientation != 1
        {
            kept_orientation = Some(orientation);
            let tiff = Bytes::from(exif::orientation_only(orientation));
            chunks.push(PngChunk::new(*b"eXIf", tiff));
        }
    }
    *png.chunks_mut() = chunks;
    if bytes.len() > parsed_len {
        removed.push(Removed::new("data after the end of the image", bytes.len() - parsed_len));
    }
    Ok((png.encoder().bytes().to_vec(), removed, kept_orientation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_time_chunks_are_removed_and_colour_chunks_kept() {
        assert!(!is_kept(*b"tIME"));
        assert!(!is_kept(*b"prVt"));
        assert!(!is_kept(*b"zTXt"));
        assert!(is_kept(*b"iCCP"));
        assert!(is_kept(*b"IDAT"));
        assert!(is_kept(*b"fdAT"));
    }
}
