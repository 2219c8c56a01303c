//! Upload once: what every adapter that uploads media does around its own upload protocol.

use std::future::Future;

use crieur_core::{MediaLedger, Outcome, UploadedMedia};
use jiff::{SignedDuration, Timestamp};

use crate::error_chain;

/// Where an upload is recorded and for whom, for [`upload_once`].
#[derive(Debug, Clone, Copy)]
pub struct UploadKey<'a> {
    /// The channel the ledger keeps the upload under.
    pub channel: &'a str,
    /// The adapter's key for "the same upload" (a digest of the bytes, and whatever else the
    /// network ties to the media id).
    pub key: &'a str,
    /// The delivery, for the log.
    pub delivery: &'a str,
    /// The attachment's path, for the log.
    pub path: &'a str,
}

/// The network's id of one attachment: reused from `ledger` while it is still usable `margin`
/// before its expiry at `now`, uploaded by `upload` otherwise and then recorded, so an attempt
/// after a crash or an unknown outcome does not upload again. Without a ledger it always uploads.
///
/// # Errors
/// What `upload` returns; [`Outcome::Retry`] when the ledger cannot be read (nothing was sent).
/// A failed record only logs a warning: the upload worked, only its reuse is lost.
pub async fn upload_once<F, Fut>(
    ledger: Option<&dyn MediaLedger>,
    at: UploadKey<'_>,
    now: Timestamp,
    margin: SignedDuration,
    upload: F,
) -> Result<String, Outcome>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<UploadedMedia, Outcome>>,
{
    let UploadKey { channel, key, delivery, path } = at;
    if let Some(ledger) = ledger {
        match ledger.lookup(channel, key).await {
            Ok(Some(m)) if m.usable_at(now, margin) => {
                tracing::debug!(channel, delivery, media = path, remote_id = %m.remote_id, "reusing the media uploaded earlier");
                return Ok(m.remote_id);
            }
            Ok(Some(m)) => {
                tracing::info!(channel, delivery, media = path, remote_id = %m.remote_id, "the media uploaded earlier expired; uploading it again");
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Outcome::Retry {
                    reason: format!("channel {channel}: nothing was sent: {}", error_chain(&e)),
                    not_before: None,
                });
            }
        }
    }
    let uploaded = upload().await?;
    if let Some(ledger) = ledger
        && let Err(e) = ledger.record(channel, key, &uploaded).await
    {
        tracing::warn!(channel, delivery, media = path, error = %error_chain(&e), "could not record the upload");
    }
    Ok(uploaded.remote_id)
}
