//! crieur's media core: what an image or video file is, read from its bytes alone, and the same
//! bytes with the metadata a camera or phone wrote into them removed, ready to upload.
//!
//! Design, in short:
//! - Everything here reads untrusted bytes, so nothing panics and nothing decodes a picture.
//!   [`sniff`] tells the [`Kind`] from the bytes (never the file name), and the width and height
//!   from the headers (`imagesize`; the `tkhd` box for MP4), the orientation an EXIF block asks
//!   for, and whether a GIF or WebP is animated.
//! - [`strip`] removes metadata by cutting whole segments, chunks or boxes and copying every other
//!   byte as it was: the picture is never re-encoded, so its quality and its colours are
//!   unchanged. It keeps what rendering needs (the ICC profile, Adobe's colour transform, PNG's
//!   colour chunks, animation control) and removes the rest: EXIF (with the GPS position), XMP,
//!   IPTC, comments, text chunks, thumbnails, extra pictures after the end of a JPEG. An allow
//!   list decides, so a metadata block crieur has never heard of is removed too.
//! - Orientation: a phone often stores a portrait photo sideways with an EXIF Orientation tag
//!   saying how to turn it. Removing that tag would show the picture sideways, and applying it
//!   would mean re-encoding, so when the EXIF said an orientation other than 1 (upright), crieur
//!   writes back a minimal EXIF block that holds the Orientation tag and nothing else.
//! - MP4 metadata (`udta`, `meta` and `uuid` boxes, where a phone writes the position) is
//!   overwritten in place by `free` boxes of the same size, so no sample offset moves.
//! - [`Media::prepare`] puts it together: sniff, refuse what crieur cannot send with a
//!   [`MediaError`] that says what to do, strip (unless `keep_metadata`), and describe the bytes
//!   that will be sent (content type, size, SHA-256) for an upload or a webhook event.
//!
//! ```
//! use crieur_media::{Kind, Media};
//!
//! // A 1x1 GIF with a comment extension ("secret").
//! let gif: &[u8] = b"GIF89a\x01\x00\x01\x00\x00\x00\x00\
//!     \x21\xfe\x06secret\x00\
//!     \x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";
//! let media = Media::prepare(gif, false)?;
//! assert_eq!(media.kind, Kind::Gif);
//! assert_eq!(media.content_type, "image/gif");
//! assert_eq!((media.width, media.height), (Some(1), Some(1)));
//! assert!(!media.data.windows(6).any(|w| w == b"secret"));
//! assert_eq!(media.bytes, media.data.len() as u64);
//! assert_eq!(media.removed[0].what, "GIF comment");
//!
//! // A ".jpg" that is really text is refused, saying so.
//! let error = Media::prepare(b"Hello, this is not a photo.\n", false).unwrap_err();
//! assert!(error.to_string().contains("the bytes look like text"));
//! # Ok::<(), crieur_media::MediaError>(())
//! ```

mod error;
mod exif;
mod gif;
mod jpeg;
mod media;
mod mp4;
mod png;
mod sniff;
mod strip;
mod webp;

pub use error::MediaError;
pub use media::Media;
pub use sniff::{Kind, Sniffed, sniff};
pub use strip::{Removed, Stripped, strip};
