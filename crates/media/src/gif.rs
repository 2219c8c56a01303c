//! Hand-written: imagesize and infer do not count frames and img-parts does not read GIF; the
//! block structure is simple enough to walk without decoding a pixel.
//!
//! A GIF is a header, a logical screen descriptor (with an optional colour table), then blocks:
//! images (`2C`), extensions (`21` + label) and the trailer (`3B`); images and extensions end in
//! a chain of length-prefixed sub-blocks closed by a zero length.

use crate::strip::Removed;

/// Application extensions kept: animation looping (Netscape, AnimExts) and the ICC profile.
const KEPT_APPLICATIONS: [&[u8; 11]; 3] = [b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"];

/// One block of the file and what it is.
enum Block {
    Image,
    Comment,
    Application([u8; 11]),
    OtherExtension,
    Trailer,
}

/// Walks the blocks, calling `each` with every block and its byte range, until the trailer or
/// `each` answers `false`.
fn walk(
    bytes: &[u8],
    mut each: impl FnMut(Block, std::ops::Range<usize>) -> bool,
) -> Result<usize, &'static str> {
    if !matches!(bytes.get(0..6), Some(b"GIF87a" | b"GIF89a")) {
        return Err("it does not start with a GIF signature");
    }
    let packed = *bytes.get(10).ok_or("its header is cut short")?;
    let mut at = 13 + colour_table_len(packed);
    loop {
        let start = at;
        let block = match bytes.get(at).ok_or("it ends before its trailer")? {
            0x2C => {
                let packed = *bytes.get(at + 9).ok_or("an image header is cut short")?;
                at += 10 + colour_table_len(packed) + 1; // header, table, LZW code size
                at = skip_sub_blocks(bytes, at)?;
                Block::Image
            }
            0x21 => {
                let label = *bytes.get(at + 1).ok_or("an extension is cut short")?;
                let block = match label {
                    0xFE => Block::Comment,
                    0xFF => {
                        let id = bytes
                            .get(at + 3..at + 14)
                            .and_then(|id| <[u8; 11]>::try_from(id).ok())
                            .ok_or("an application extension is cut short")?;
                        Block::Application(id)
                    }
                    _ => Block::OtherExtension,
                };
                at = skip_sub_blocks(bytes, at + 2)?;
                block
            }
            0x3B => {
                at += 1;
                Block::Trailer
            }
            _ => return Err("an unknown block stands between the images"),
        };
        let trailer = matches!(block, Block::Trailer);
        if !each(block, start..at) || trailer {
            return Ok(at);
        }
    }
}

/// The size of a colour table a packed field announces.
fn colour_table_len(packed: u8) -> usize {
    if packed & 0x80 == 0 { 0 } else { 3 << ((packed & 0x07) + 1) }
}

fn skip_sub_blocks(bytes: &[u8], mut at: usize) -> Result<usize, &'static str> {
    loop {
        let len = *bytes.get(at).ok_or("a data block is cut short")?;
        at += 1 + usize::from(len);
        if len == 0 {
            return Ok(at);
        }
    }
}

/// Counts the frames (image blocks), stopping at `limit`; a damaged file counts what was read.
pub(crate) fn frames(bytes: &[u8], limit: usize) -> usize {
    let mut frames = 0;
    let _ = walk(bytes, |block, _| {
        if matches!(block, Block::Image) {
            frames += 1;
        }
        frames < limit
    });
    frames
}

/// Removes comments, application extensions other than looping and colour, and anything after
/// the trailer.
pub(crate) fn strip(bytes: &[u8]) -> Result<(Vec<u8>, Vec<Removed>), &'static str> {
    let packed = *bytes.get(10).ok_or("its header is cut short")?;
    let head = 13 + colour_table_len(packed);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..head).ok_or("its colour table is cut short")?);
    let mut removed = Vec::new();
    let end = walk(bytes, |block, range| {
        let dropped = match block {
            Block::Comment => Some("GIF comment"),
            Block::Application(id) if !KEPT_APPLICATIONS.contains(&&id) => {
                Some(if id == *b"XMP DataXMP" { "GIF XMP" } else { "GIF application extension" })
            }
            _ => None,
        };
        match dropped {
            Some(what) => removed.push(Removed::new(what, range.len())),
            None => out.extend_from_slice(&bytes[range]),
        }
        true
    })?;
    if end < bytes.len() {
        removed.push(Removed::new("data after the end of the image", bytes.len() - end));
    }
    Ok((out, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &[u8] = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00";

    fn gif(blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        for block in blocks {
            out.extend_from_slice(block);
        }
        out.push(0x3B);
        out
    }

    #[test]
    fn two_frames_make_an_animation_and_one_does_not() {
        assert_eq!(frames(&gif(&[FRAME]), 2), 1);
        assert_eq!(frames(&gif(&[FRAME, FRAME, FRAME]), 2), 2);
    }

    #[test]
    fn xmp_is_removed_and_the_looping_extension_kept() {
        let looping = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00";
        let xmp = b"\x21\xff\x0bXMP DataXMP\x05<x:x>\x00";
        let (out, removed) = strip(&gif(&[looping, xmp, FRAME, FRAME])).expect("a valid GIF");
        assert_eq!(out, gif(&[looping, FRAME, FRAME]));
        assert_eq!(removed, [Removed::new("GIF XMP", xmp.len())]);
    }

    #[test]
    fn a_gif_cut_short_is_refused() {
        let whole = gif(&[FRAME]);
        assert!(strip(&whole[..whole.len() - 3]).is_err());
    }
}
