//! What can go wrong with a media file's bytes, said so that the person who chose the file knows
//! what to do.

use crate::Kind;

/// Why crieur refuses a media file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The bytes are none of the kinds crieur sends (JPEG, PNG, GIF, WebP, MP4), whatever the
    /// file's name says.
    #[error(
        "not an image or video crieur can send: the bytes look like {looks_like}; \
         use a JPEG, PNG, GIF, WebP or MP4 file"
    )]
    NotMedia {
        /// What the bytes look like instead ("text", "a PDF document", "nothing: the file is
        /// empty"...).
        looks_like: String,
    },
    /// The bytes start like a file of `kind` but its structure is broken, so crieur cannot tell
    /// its metadata from its picture.
    #[error("the {kind} file is damaged ({problem}); export it again from the original")]
    Damaged {
        /// The kind the bytes start as.
        kind: Kind,
        /// What is broken, in a few words.
        problem: &'static str,
    },
}
