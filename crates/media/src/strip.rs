//! Metadata removal, dispatched on the kind the bytes are.

use crate::{Kind, MediaError, Sniffed, gif, jpeg, mp4, png, sniff, webp};

/// One block of metadata that [`strip`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// What it was, for a log line or a test: `"APP1 EXIF"`, `"APP1 XMP"`, `"APP13 IPTC"`,
    /// `"PNG tEXt"`, `"WebP EXIF"`, `"MP4 udta"`, `"data after the end of the image"`...
    pub what: String,
    /// How many bytes of the file it took, headers included.
    pub bytes: usize,
}

impl Removed {
    pub(crate) fn new(what: impl Into<String>, bytes: usize) -> Removed {
        Removed { what: what.into(), bytes }
    }
}

/// The bytes to send and what was taken out of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripped {
    /// The kind the bytes are.
    pub kind: Kind,
    /// The file without its metadata (or as it was, when kept).
    pub bytes: Vec<u8>,
    /// What was removed, in file order; empty when there was nothing or metadata was kept.
    pub removed: Vec<Removed>,
    /// The orientation written back in a minimal EXIF block (see the crate documentation), when
    /// the original asked for one other than upright.
    pub kept_orientation: Option<u16>,
}

/// Removes the metadata from `bytes` without re-encoding the picture; with `keep` (a channel's or
/// post's `keep_metadata = true`) returns them as they are.
///
/// # Errors
///
/// [`MediaError::NotMedia`] when the bytes are not a kind crieur sends (checked even with
/// `keep`), [`MediaError::Damaged`] when their structure is broken.
pub fn strip(bytes: &[u8], keep: bool) -> Result<Stripped, MediaError> {
    let kind = sniff(bytes).kind;
    strip_kind(kind, bytes, keep)
}

/// [`strip`] for bytes already sniffed as `kind`.
pub(crate) fn strip_kind(kind: Kind, bytes: &[u8], keep: bool) -> Result<Stripped, MediaError> {
    if kind == Kind::Unknown {
        return Err(MediaError::NotMedia { looks_like: Sniffed::looks_like(bytes) });
    }
    if keep {
        return Ok(Stripped {
            kind,
            bytes: bytes.to_vec(),
            removed: Vec::new(),
            kept_orientation: None,
        });
    }
    let damaged = |problem| MediaError::Damaged { kind, problem };
    let (bytes, removed, kept_orientation) = match kind {
        Kind::Jpeg => jpeg::strip(bytes).map_err(damaged)?,
        Kind::Png => png::strip(bytes).map_err(damaged)?,
        Kind::WebP => webp::strip(bytes).map_err(damaged)?,
        Kind::Gif => {
            let (bytes, removed) = gif::strip(bytes).map_err(damaged)?;
            (bytes, removed, None)
        }
        Kind::Mp4 => {
            let (bytes, removed) = mp4::strip(bytes).map_err(damaged)?;
            (bytes, removed, None)
        }
        Kind::Unknown => unreachable_unknown(bytes)?,
    };
    Ok(Stripped { kind, bytes, removed, kept_orientation })
}

/// `Unknown` was refused above; answering the same refusal keeps this total without a panic.
fn unreachable_unknown(bytes: &[u8]) -> Result<Stripping, MediaError> {
    Err(MediaError::NotMedia { looks_like: Sniffed::looks_like(bytes) })
}

/// What a format's stripper returns: the bytes, what was removed, the orientation kept.
pub(crate) type Stripping = (Vec<u8>, Vec<Removed>, Option<u16>);
