//! Hand-written: the MP4 crates parse every box of a file; crieur needs the `tkhd` sizes and to
//! blank the metadata boxes, which a walk over box headers does without reading any sample.
//!
//! An MP4 is a tree of boxes: a big-endian 32-bit size (1: a 64-bit size follows the type; 0: to
//! the end of the parent), a four-letter type, the payload.

use std::ops::Range;

use crate::strip::Removed;

/// One box: its type, its whole range, its payload range.
struct Mp4Box {
    kind: [u8; 4],
    all: Range<usize>,
    payload: Range<usize>,
}

/// The boxes inside `range` of `bytes`, stopping at the first malformed header.
fn boxes(bytes: &[u8], range: Range<usize>) -> impl Iterator<Item = Result<Mp4Box, &'static str>> {
    let mut at = range.start;
    let end = range.end;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let result = read_box(bytes, at, end);
        at = match &result {
            Ok(found) => found.all.end,
            Err(_) => end,
        };
        Some(result)
    })
}

fn read_box(bytes: &[u8], at: usize, end: usize) -> Result<Mp4Box, &'static str> {
    let header = bytes.get(at..at + 8).ok_or("a box header is cut short")?;
    let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let kind = [header[4], header[5], header[6], header[7]];
    let (size, header_len) = match size {
        0 => (end - at, 8),
        1 => {
            let large = bytes.get(at + 8..at + 16).ok_or("a box header is cut short")?;
            let mut word = [0; 8];
            word.copy_from_slice(large);
            let size =
                usize::try_from(u64::from_be_bytes(word)).map_err(|_| "a box is too large")?;
            (size, 16)
        }
        size => (size as usize, 8),
    };
    if size < header_len {
        return Err("a box has an impossible size");
    }
    let box_end = at.checked_add(size).filter(|&e| e <= end).ok_or("a box runs past its parent")?;
    Ok(Mp4Box { kind, all: at..box_end, payload: at + header_len..box_end })
}

/// The first box of type `kind` directly inside `range`.
fn child(bytes: &[u8], range: Range<usize>, kind: &[u8; 4]) -> Option<Mp4Box> {
    boxes(bytes, range).map_while(Result::ok).find(|found| found.kind == *kind)
}

/// The width and height of the first visual track, as shown (a quarter-turn matrix swaps them).
pub(crate) fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let moov = child(bytes, 0..bytes.len(), b"moov")?;
    boxes(bytes, moov.payload)
        .map_while(Result::ok)
        .filter(|found| found.kind == *b"trak")
        .filter_map(|trak| child(bytes, trak.payload, b"tkhd"))
        .find_map(|tkhd| track_size(bytes.get(tkhd.payload)?))
}

/// Reads a `tkhd` payload: version 0 or 1, then times, the matrix, and 16.16 width and height.
fn track_size(tkhd: &[u8]) -> Option<(u32, u32)> {
    let times = match tkhd.first()? {
        0 => 20,
        1 => 32,
        _ => return None,
    };
    // version and flags, times and track id, reserved, layer, group, volume, reserved
    let matrix = 4 + times + 8 + 8;
    let word = |at: usize| -> Option<u32> {
        let b = tkhd.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (a, b) = (word(matrix)?, word(matrix + 4)?);
    let width = word(matrix + 36)? >> 16;
    let height = word(matrix + 40)? >> 16;
    if width == 0 || height == 0 {
        return None;
    }
    Some(if a == 0 && b != 0 { (height, width) } else { (width, height) })
}

/// Boxes that hold metadata: user data, metadata (Apple keys, `©xyz` position), XMP (`uuid`).
const METADATA: [&[u8; 4]; 3] = [b"udta", b"meta", b"uuid"];

/// Overwrites every metadata box at the top level, in `moov` and in each `trak` with a `free` box
/// of the same size and zero bytes, so no offset in the file moves.
pub(crate) fn strip(bytes: &[u8]) -> Result<(Vec<u8>, Vec<Removed>), &'static str> {
    let mut blanked = Vec::new();
    let mut parents: Vec<Range<usize>> = Vec::new();
    parents.push(0..bytes.len());
    let mut top = true;
    while let Some(parent) = parents.pop() {
        for found in boxes(bytes, parent) {
            let found = found?;
            if METADATA.contains(&&found.kind) {
                blanked.push(found);
            } else if (top && found.kind == *b"moov") || found.kind == *b"trak" {
                parents.push(found.payload.clone());
            }
        }
        top = false;
    }
    let mut out = bytes.to_vec();
    let mut removed = Vec::with_capacity(blanked.len());
    blanked.sort_by_key(|found| found.all.start);
    for found in blanked {
        let header_start = found.payload.start - 4;
        out[header_start..found.payload.start].copy_from_slice(b"free");
        out[found.payload.clone()].fill(0);
        removed.push(Removed::new(
            format!("MP4 {}", String::from_utf8_lossy(&found.kind)),
            found.all.len(),
        ));
    }
    Ok((out, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    fn tkhd(width: u32, height: u32, quarter_turn: bool) -> Vec<u8> {
        let mut payload = vec![0; 4 + 20 + 16];
        let matrix: [u32; 9] = if quarter_turn {
            [0, 0x10000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000]
        } else {
            [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000]
        };
        for value in matrix {
            payload.extend_from_slice(&value.to_be_bytes());
        }
        payload.extend_from_slice(&(width << 16).to_be_bytes());
        payload.extend_from_slice(&(height << 16).to_be_bytes());
        mp4_box(b"tkhd", &payload)
    }

    fn movie(quarter_turn: bool) -> Vec<u8> {
        let mut file = mp4_box(b"ftyp", b"isom\0\0\0\0isomavc1");
        let audio = mp4_box(b"trak", &tkhd(0, 0, false));
        let mut video = tkhd(1920, 1080, quarter_turn);
        video.extend(mp4_box(b"udta", b"\0\0\0\x10\xa9xyz+45.76+004.84/"));
        let video = mp4_box(b"trak", &video);
        let mut moov = audio;
        moov.extend(video);
        moov.extend(mp4_box(b"meta", b"com.apple.quicktime.location.ISO6709"));
        file.extend(mp4_box(b"moov", &moov));
        file.extend(mp4_box(b"mdat", b"samples"));
        file
    }

    #[test]
    fn the_video_track_gives_the_dimensions_and_a_quarter_turn_swaps_them() {
        assert_eq!(dimensions(&movie(false)), Some((1920, 1080)));
        assert_eq!(dimensions(&movie(true)), Some((1080, 1920)));
    }

    #[test]
    fn metadata_boxes_become_free_boxes_of_the_same_size() {
        let input = movie(false);
        let (out, removed) = strip(&input).expect("a valid MP4");
        assert_eq!(out.len(), input.len());
        assert!(!out.windows(4).any(|w| w == b"+45."));
        assert!(!out.windows(7).any(|w| w == b"ISO6709"));
        let what: Vec<_> = removed.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(what, ["MP4 udta", "MP4 meta"]);
        assert!(out.ends_with(&mp4_box(b"mdat", b"samples")));
    }

    #[test]
    fn a_box_running_past_the_file_is_refused() {
        let mut input = movie(false);
        input.truncate(input.len() - 3);
        assert!(strip(&input).is_err());
    }
}
