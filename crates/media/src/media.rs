//! A media file ready to send.

use sha2::{Digest, Sha256};

use crate::strip::strip_kind;
use crate::{Kind, MediaError, Removed, sniff};

/// A media file as it will be sent: its bytes after metadata removal and what describes them (the
/// fields of a webhook event's `media` entry, less `path` and `alt`, which the post file gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The kind the bytes are.
    pub kind: Kind,
    /// The MIME type (`content_type` in a webhook event).
    pub content_type: &'static str,
    /// The width in pixels as shown, when the headers say it.
    pub width: Option<u32>,
    /// The height in pixels as shown, when the headers say it.
    pub height: Option<u32>,
    /// Whether a GIF, PNG or WebP is animated.
    pub animated: bool,
    /// The size of [`Media::data`] in bytes.
    pub bytes: u64,
    /// The SHA-256 of [`Media::data`], in lower-case hexadecimal.
    pub sha256: String,
    /// The bytes to send.
    pub data: Vec<u8>,
    /// The metadata removed from the original (empty with `keep_metadata`).
    pub removed: Vec<Removed>,
}

impl Media {
    /// Reads `original` (a file's bytes), refuses what crieur cannot send, and removes its
    /// metadata unless `keep_metadata`.
    ///
    /// # Errors
    ///
    /// [`MediaError::NotMedia`] when the bytes are not JPEG, PNG, GIF, WebP or MP4 (it says what
    /// they look like), [`MediaError::Damaged`] when their structure is broken.
    pub fn prepare(original: &[u8], keep_metadata: bool) -> Result<Media, MediaError> {
        let sniffed = sniff(original);
        let stripped = strip_kind(sniffed.kind, original, keep_metadata)?;
        let digest = Sha256::digest(&stripped.bytes);
        let sha256 = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Ok(Media {
            kind: sniffed.kind,
            content_type: sniffed.kind.content_type(),
            width: sniffed.width,
            height: sniffed.height,
            animated: sniffed.animated,
            bytes: stripped.bytes.len() as u64,
            sha256,
            data: stripped.bytes,
            removed: stripped.removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sha256_describes_the_bytes_sent() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";
        let media = Media::prepare(gif, true).expect("a valid GIF");
        assert_eq!(media.data, gif);
        let expected: String =
            Sha256::digest(gif).iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(media.sha256, expected);
        assert_eq!(media.sha256.len(), 64);
    }

    #[test]
    fn text_named_like_a_photo_is_refused_as_text() {
        let error = Media::prepare(b"just some notes\n", true).expect_err("text is refused");
        assert_eq!(
            error.to_string(),
            "not an image or video crieur can send: the bytes look like text; \
             use a JPEG, PNG, GIF, WebP or MP4 file"
        );
    }
}
