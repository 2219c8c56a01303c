//! Hand-written: crieur needs one tag (Orientation) from IFD0 and a 26-byte block holding only it;
//! a full EXIF parser would read every IFD (GPS included) of untrusted bytes for nothing.

/// The prefix of an EXIF block inside a JPEG APP1 segment (and, from some writers, inside a WebP
/// or PNG EXIF chunk).
pub(crate) const JPEG_PREFIX: &[u8] = b"Exif\0\0";

/// The EXIF tag that says how to turn the stored picture to show it upright.
const ORIENTATION_TAG: u16 = 0x0112;

/// The TIFF type SHORT (an unsigned 16-bit value).
const SHORT: u16 = 3;

/// Reads the Orientation (1 to 8) from IFD0 of a TIFF-structured EXIF block, with or without the
/// `Exif\0\0` prefix. `None` when there is none or the block is malformed.
pub(crate) fn orientation(block: &[u8]) -> Option<u16> {
    let tiff = block.strip_prefix(JPEG_PREFIX).unwrap_or(block);
    let little = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = u16_at(ifd)?;
    for i in 0..usize::from(entries) {
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if u16_at(entry)? == ORIENTATION_TAG {
            if u16_at(entry.checked_add(2)?)? != SHORT || u32_at(entry.checked_add(4)?)? != 1 {
                return None;
            }
            let value = u16_at(entry.checked_add(8)?)?;
            return (1..=8).contains(&value).then_some(value);
        }
    }
    None
}

/// A big-endian TIFF block whose IFD0 holds the Orientation tag alone, without the `Exif\0\0`
/// prefix (what a PNG eXIf or WebP EXIF chunk holds).
pub(crate) fn orientation_only(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2a"); // big-endian TIFF
    tiff.extend_from_slice(&8u32.to_be_bytes()); // IFD0 right after the header
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&ORIENTATION_TAG.to_be_bytes());
    tiff.extend_from_slice(&SHORT.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // the value field is 4 bytes
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    tiff
}

/// Whether `orientation` shows the picture turned a quarter, so width and height swap on screen.
pub(crate) fn swaps_sides(orientation: Option<u16>) -> bool {
    matches!(orientation, Some(5..=8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orientation_only_block_reads_back_its_orientation() {
        for value in 1..=8 {
            assert_eq!(orientation(&orientation_only(value)), Some(value));
            let mut prefixed = JPEG_PREFIX.to_vec();
            prefixed.extend(orientation_only(value));
            assert_eq!(orientation(&prefixed), Some(value));
        }
    }

    #[test]
    fn a_little_endian_block_is_read_too() {
        let tiff = [
            b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0,
            0,
        ];
        assert_eq!(orientation(&tiff), Some(6));
    }

    #[test]
    fn a_malformed_block_has_no_orientation() {
        assert_eq!(orientation(b""), None);
        assert_eq!(orientation(b"MM\0\x2a\xff\xff\xff\xff"), None);
        let mut out_of_range = orientation_only(1);
        out_of_range[19] = 9;
        assert_eq!(orientation(&out_of_range), None);
    }
}
