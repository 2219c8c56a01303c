//! A delivery's media files, read when it is sent.
//!
//! The store keeps where each file is (`DeliveryMedia`), not its bytes: just before a delivery
//! goes to its adapter the dispatcher reads every file, refuses what crieur cannot send (sniffed
//! from the bytes by `crieur-media`, never from the name), removes the metadata unless the
//! channel or post keeps it, and fills [`Delivery::media`](crieur_core::Delivery::media). A file
//! gone, or changed into something crieur cannot send, by then is a rejection that names it.
//! `validate` and `preview` read the files through [`read_media`] too, so they judge the bytes
//! the daemon would send.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crieur_core::Attachment;
use crieur_core::store::DeliveryMedia;
use crieur_media::{Media, MediaError};

/// The largest media file crieur reads: more than any network takes (X's 512 MB videos).
pub const MAX_MEDIA_FILE_BYTES: u64 = 600 * 1024 * 1024;

/// Why a media file cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum MediaFileError {
    /// No file at that place.
    #[error("the file is missing (looked for {})", .file.display())]
    Missing {
        /// Where crieur looked.
        file: PathBuf,
    },
    /// The file exists but cannot be read (permissions, a folder...).
    #[error("the file cannot be read ({})", .file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Larger than any network takes.
    #[error(
        "the file weighs {bytes} bytes, more than any network takes ({} MiB): use a smaller one",
        MAX_MEDIA_FILE_BYTES / 1024 / 1024
    )]
    TooLarge {
        /// Its size.
        bytes: u64,
    },
    /// Its bytes are not an image or video crieur can send, or are damaged.
    #[error(transparent)]
    Invalid(#[from] MediaError),
}

impl MediaFileError {
    /// The message with its causes, on one line (for a diagnostic or a delivery's error).
    pub fn reason(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

/// Reads `file` and prepares it for sending: kind and size from its bytes, metadata removed
/// unless `keep_metadata`.
///
/// # Errors
/// [`MediaFileError`]: the file is missing, unreadable, over [`MAX_MEDIA_FILE_BYTES`], or its
/// bytes are not an image or video crieur can send.
pub fn read_media(file: &Path, keep_metadata: bool) -> Result<Media, MediaFileError> {
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            MediaFileError::Missing { file: file.to_owned() }
        } else {
            MediaFileError::Io { file: file.to_owned(), source }
        }
    };
    let f = std::fs::File::open(file).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len > MAX_MEDIA_FILE_BYTES {
        return Err(MediaFileError::TooLarge { bytes: len });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // Read one byte past the limit, so a file that grew since `metadata` is still refused.
    f.take(MAX_MEDIA_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_MEDIA_FILE_BYTES {
        return Err(MediaFileError::TooLarge { bytes: bytes.len() as u64 });
    }
    Ok(Media::prepare(&bytes, keep_metadata)?)
}

/// One stored media entry, read and ready to upload.
///
/// # Errors
/// As [`read_media`].
pub fn attachment(entry: &DeliveryMedia) -> Result<Attachment, MediaFileError> {
    let media = read_media(&entry.file, entry.keep_metadata)?;
    Ok(Attachment {
        path: entry.path.clone(),
        alt: entry.alt.clone(),
        content_type: media.content_type.to_owned(),
        width: media.width.unwrap_or(0),
        height: media.height.unwrap_or(0),
        sha256: media.sha256,
        data: Arc::from(media.data),
    })
}

/// Every entry of `media` read (off the async threads), in order; the first that cannot be sent
/// stops it, with a reason that names the entry.
///
/// # Errors
/// The reason, ready to record as the delivery's rejection.
pub async fn attachments(media: &[DeliveryMedia]) -> Result<Vec<Attachment>, String> {
    let media = media.to_vec();
    let read = tokio::task::spawn_blocking(move || {
        media
            .iter()
            .map(|m| {
                attachment(m).map_err(|e| {
                    format!(
                        "media {}: {}; fix the file, then `crieur resolve --retry`",
                        m.path,
                        e.reason()
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
    });
    match read.await {
        Ok(result) => result,
        Err(e) => Err(format!("reading the media stopped: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A 1×1 GIF with a comment extension ("secret").
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x06secret\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";

    fn entry(dir: &Path, name: &str, keep: bool) -> DeliveryMedia {
        DeliveryMedia {
            path: format!("media/{name}"),
            file: dir.join(name),
            alt: "A dot".into(),
            keep_metadata: keep,
        }
    }

    #[tokio::test]
    async fn files_are_read_stripped_and_described() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dot.gif"), GIF).unwrap();
        let got = attachments(&[entry(dir.path(), "dot.gif", false)]).await.unwrap();
        assert_eq!(got.len(), 1);
        let a = &got[0];
        assert_eq!((a.path.as_str(), a.alt.as_str()), ("media/dot.gif", "A dot"));
        assert_eq!((a.content_type.as_str(), a.width, a.height), ("image/gif", 1, 1));
        assert!(!a.data.windows(6).any(|w| w == b"secret"), "the comment is removed");
        assert_eq!(a.sha256.len(), 64);
        let kept = attachments(&[entry(dir.path(), "dot.gif", true)]).await.unwrap();
        assert_eq!(&kept[0].data[..], GIF, "keep_metadata sends the file as it is");
    }

    #[tokio::test]
    async fn a_missing_file_or_text_named_like_a_photo_is_a_reason_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.jpg"), "just some notes\n").unwrap();
        let gone = attachments(&[entry(dir.path(), "gone.png", false)]).await.unwrap_err();
        assert!(
            gone.starts_with("media media/gone.png: the file is missing (looked for "),
            "{gone}"
        );
        assert!(gone.ends_with("then `crieur resolve --retry`"), "{gone}");
        let text = attachments(&[entry(dir.path(), "notes.jpg", false)]).await.unwrap_err();
        assert!(text.contains("the bytes look like text"), "{text}");
        let folder = read_media(dir.path(), false).unwrap_err();
        assert!(matches!(folder, MediaFileError::Io { .. }), "{folder:?}");
        assert!(folder.reason().contains("cannot be read"), "{}", folder.reason());
    }
}
