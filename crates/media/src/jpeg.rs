//! Hand-written: img-parts keeps everything after the first scan verbatim, so APPn segments between
//! progressive scans and pictures appended after the end marker (MPF, phone trailers, each with
//! its own EXIF and GPS) would survive; this walker reads the whole file.
//!
//! A JPEG is a list of segments (`FF xx` marker, big-endian length that counts itself, payload);
//! a scan (SOS) is followed by entropy-coded data, in which `FF` is always followed by `00`
//! (a stuffed byte) or a restart marker `D0`-`D7`. The output is the kept segments and scans
//! copied byte for byte, in order, ending at the first end-of-image marker.

use crate::exif;
use crate::strip::{Removed, Stripping};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const COM: u8 = 0xFE;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP13: u8 = 0xED;
const APP14: u8 = 0xEE;
const APP15: u8 = 0xEF;

/// One marker segment: its marker and where it lies in the file.
struct Segment<'a> {
    marker: u8,
    /// The whole segment, `FF` marker and length included.
    all: &'a [u8],
    /// The payload after the length.
    payload: &'a [u8],
}

/// Reads the segment whose marker byte is at `at - 1` (`at` points at its length), or a standalone
/// marker (no length).
fn segment_at(
    bytes: &[u8],
    start: usize,
    marker: u8,
    at: usize,
) -> Result<Segment<'_>, &'static str> {
    if is_standalone(marker) {
        return Ok(Segment {
            marker,
            all: bytes.get(start..at).ok_or("a marker is cut short")?,
            payload: &[],
        });
    }
    let length = bytes
        .get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or("a segment is cut short")?;
    if length < 2 {
        return Err("a segment has an impossible length");
    }
    let end = at + length;
    Ok(Segment {
        marker,
        all: bytes.get(start..end).ok_or("a segment runs past the end of the file")?,
        payload: bytes.get(at + 2..end).ok_or("a segment runs past the end of the file")?,
    })
}

/// Markers that carry no length: restart markers and TEM.
fn is_standalone(marker: u8) -> bool {
    matches!(marker, 0xD0..=0xD7 | 0x01)
}

/// Finds the next marker at or after `at`: skips stray bytes and fill bytes. Returns the position
/// of its first `FF`, the marker and the position after it.
fn next_marker(bytes: &[u8], at: usize) -> Option<(usize, u8, usize)> {
    let start = at + bytes.get(at..)?.iter().position(|&b| b == 0xFF)?;
    let mut i = start;
    while bytes.get(i) == Some(&0xFF) {
        i += 1;
    }
    let marker = *bytes.get(i)?;
    // The last FF of a run of fill bytes belongs to the marker.
    Some((i - 1, marker, i + 1))
}

/// The end of the entropy-coded data that starts at `at`: the position of the next marker that is
/// neither a stuffed `FF 00` nor a restart marker.
fn entropy_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at += bytes.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match bytes.get(at + 1)? {
            0x00 | 0xD0..=0xD7 => at += 2,
            0xFF => at += 1,
            _ => return Some(at),
        }
    }
}

/// The orientation the first EXIF block before the first scan asks for.
pub(crate) fn orientation(bytes: &[u8]) -> Option<u16> {
    let mut at = 2;
    if bytes.get(0..2)? != [0xFF, SOI] {
        return None;
    }
    loop {
        let (start, marker, after) = next_marker(bytes, at)?;
        if marker == SOS || marker == EOI {
            return None;
        }
        let segment = segment_at(bytes, start, marker, after).ok()?;
        if marker == APP1
            && segment.payload.starts_with(exif::JPEG_PREFIX)
            && let Some(orientation) = exif::orientation(segment.payload)
        {
            return Some(orientation);
        }
        at = start + segment.all.len();
    }
}

/// What to do with one segment.
enum Decision {
    Keep,
    /// Keep these bytes instead (a JFIF header without its thumbnail).
    Replace(Vec<u8>, &'static str),
    Drop(&'static str),
}

fn decide(segment: &Segment<'_>) -> Decision {
    let payload = segment.payload;
    match segment.marker {
        APP0 if payload.starts_with(b"JFIF\0") => {
            // JFIF: version (2), units (1), densities (4), thumbnail width and height (1 + 1).
            match payload.get(12..14) {
                Some([0, 0]) | None => Decision::Keep,
                Some(_) => {
                    let mut header = vec![0xFF, APP0, 0, 16];
                    header.extend_from_slice(&payload[..12]);
                    header.extend_from_slice(&[0, 0]);
                    Decision::Replace(header, "APP0 JFIF thumbnail")
                }
            }
        }
        APP0 if payload.starts_with(b"JFXX\0") => Decision::Drop("APP0 JFXX thumbnail"),
        APP1 if payload.starts_with(exif::JPEG_PREFIX) => Decision::Drop("APP1 EXIF"),
        APP1 if payload.starts_with(b"http://ns.adobe.com/xap/1.0/\0") => {
            Decision::Drop("APP1 XMP")
        }
        APP1 if payload.starts_with(b"http://ns.adobe.com/xmp/extension/\0") => {
            Decision::Drop("APP1 extended XMP")
        }
        APP2 if payload.starts_with(b"ICC_PROFILE\0") => Decision::Keep,
        APP2 if payload.starts_with(b"MPF\0") => Decision::Drop("APP2 MPF"),
        APP13 => Decision::Drop("APP13 IPTC"),
        APP14 if payload.starts_with(b"Adobe") => Decision::Keep,
        APP0..=APP15 => Decision::Drop(app_label(segment.marker)),
        COM => Decision::Drop("COM comment"),
        _ => Decision::Keep,
    }
}

fn app_label(marker: u8) -> &'static str {
    const LABELS: [&str; 16] = [
        "APP0", "APP1", "APP2", "APP3", "APP4", "APP5", "APP6", "APP7", "APP8", "APP9", "APP10",
        "APP11", "APP12", "APP13", "APP14", "APP15",
    ];
    LABELS.get(usize::from(marker.wrapping_sub(APP0))).copied().unwrap_or("APPn")
}

/// Removes every segment but those the picture and its colours need, and everything after the
/// end-of-image marker; writes back the orientation alone (see the crate documentation).
pub(crate) fn strip(bytes: &[u8]) -> Result<Stripping, &'static str> {
    if bytes.get(0..2) != Some(&[0xFF, SOI]) {
        return Err("it does not start with a JPEG start marker");
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut removed = Vec::new();
    let mut kept_orientation = None;
    let mut orientation_written = false;
    let mut at = 2;
    loop {
        let (start, marker, after) =
            next_marker(bytes, at).ok_or("it ends before its end-of-image marker")?;
        if start > at {
            removed.push(Removed::new("stray or fill bytes between segments", start - at));
        }
        match marker {
            EOI => {
                out.extend_from_slice(&bytes[start..after]);
                if after < bytes.len() {
                    removed
                        .push(Removed::new("data after the end of the image", bytes.len() - after));
                }
                return Ok((out, removed, kept_orientation));
            }
            SOI => return Err("a second start marker comes before the end of the image"),
            0x00 => return Err("a stuffed byte stands outside the picture data"),
            _ => {}
        }
        let segment = segment_at(bytes, start, marker, after)?;
        let end = start + segment.all.len();
        match decide(&segment) {
            Decision::Keep => out.extend_from_slice(segment.all),
            Decision::Replace(replacement, what) => {
                removed.push(Removed::new(what, segment.all.len() - replacement.len()));
                out.extend_from_slice(&replacement);
            }
            Decision::Drop(what) => {
                removed.push(Removed::new(what, segment.all.len()));
                if marker == APP1 && !orientation_written && what == "APP1 EXIF" {
                    orientation_written = true;
                    if let Some(orientation) = exif::orientation(segment.payload)
                        && orientation != 1
                    {
                        out.extend_from_slice(&minimal_exif_segment(orientation));
                        kept_orientation = Some(orientation);
                    }
                }
            }
        }
        at = end;
        if marker == SOS {
            let data_end = entropy_end(bytes, end).ok_or("its picture data is cut short")?;
            out.extend_from_slice(&bytes[end..data_end]);
            at = data_end;
        }
    }
}

/// An APP1 segment holding an EXIF block with the Orientation tag alone.
fn minimal_exif_segment(orientation: u16) -> Vec<u8> {
    let tiff = exif::orientation_only(orientation);
    let length = 2 + exif::JPEG_PREFIX.len() + tiff.len();
    let mut segment = vec![0xFF, APP1];
    segment.extend_from_slice(&(length as u16).to_be_bytes());
    segment.extend_from_slice(exif::JPEG_PREFIX);
    segment.extend_from_slice(&tiff);
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, the given segments, a tiny SOF0/SOS with entropy bytes, EOI.
    fn jpeg(segments: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0xFF, SOI];
        for segment in segments {
            out.extend_from_slice(segment);
        }
        out.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        out.extend_from_slice(&[0xFF, SOS, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
        out.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        out.extend_from_slice(&[0xFF, EOI]);
        out
    }

    fn app(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_comment_and_an_iptc_block_are_removed_and_the_scan_kept_byte_for_byte() {
        let com = app(COM, b"shot at home");
        let iptc = app(APP13, b"Photoshop 3.0\0...");
        let icc = app(APP2, b"ICC_PROFILE\0\x01\x01profile");
        let input = jpeg(&[&com, &icc, &iptc]);
        let (out, removed, orientation) = strip(&input).expect("a valid JPEG");
        assert_eq!(out, jpeg(&[&icc]));
        let what: Vec<_> = removed.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(what, ["COM comment", "APP13 IPTC"]);
        assert_eq!(removed[0].bytes, com.len());
        assert_eq!(orientation, None);
    }

    #[test]
    fn data_after_the_end_marker_is_removed() {
        let mut input = jpeg(&[]);
        input.extend_from_slice(b"\xFF\xD8 a second picture with its own EXIF");
        let (out, removed, _) = strip(&input).expect("a valid JPEG");
        assert_eq!(out, jpeg(&[]));
        assert_eq!(removed[0].what, "data after the end of the image");
    }

    #[test]
    fn a_jfif_thumbnail_is_removed_and_the_jfif_header_kept() {
        let mut jfif = b"JFIF\0\x01\x02\x00\x00\x48\x00\x48\x01\x01".to_vec();
        jfif.extend_from_slice(&[1, 2, 3]); // a 1x1 RGB thumbnail
        let (out, removed, _) = strip(&jpeg(&[&app(APP0, &jfif)])).expect("a valid JPEG");
        let header = app(APP0, b"JFIF\0\x01\x02\x00\x00\x48\x00\x48\x00\x00");
        assert_eq!(out, jpeg(&[&header]));
        assert_eq!(removed[0].bytes, 3);
    }

    #[test]
    fn an_upright_orientation_is_not_written_back() {
        let mut exif_block = exif::JPEG_PREFIX.to_vec();
        exif_block.extend(exif::orientation_only(1));
        let (out, _, orientation) = strip(&jpeg(&[&app(APP1, &exif_block)])).expect("a JPEG");
        assert_eq!(out, jpeg(&[]));
        assert_eq!(orientation, None);
    }

    #[test]
    fn a_file_cut_inside_its_picture_data_is_refused() {
        let input = jpeg(&[]);
        assert!(strip(&input[..input.len() - 2]).is_err());
        assert!(strip(&input[..20]).is_err());
    }
}
