//! Photos on a Facebook Page: each uploaded unpublished (`POST /{page-id}/photos`, multipart
//! `source`, `published=false`, `alt_text_custom`), then attached to the feed post with
//! `attached_media=[{"media_fbid": ID}, ...]`.
//!
//! Uploading is not publishing: an unpublished photo shows nowhere, so a failed upload ends the
//! attempt in `Retry` (or `Rejected` for a photo Facebook refuses, `Unauthorized` for a refused
//! token), never `Unknown`.

use crieur_core::{Attachment, Delivery, Outcome, RejectKind, UploadedMedia};
use crieur_net_http::reqwest::Method;
use crieur_net_http::reqwest::header::{AUTHORIZATION, HeaderValue};
use crieur_net_http::reqwest::multipart::{Form, Part};
use crieur_net_http::retry_after;
use crieur_net_http::{UploadKey, upload_once};
use serde_json::{Value, json};

use crate::graph::{Refusal, refusal_outcome};
use crate::publisher::{FacebookPublisher, graph_error};
use crate::usage::FacebookUsage;

/// The most photos one Page post takes.
pub const MAX_PHOTOS: usize = 10;

impl FacebookPublisher {
    /// The `attached_media` form value for `delivery`'s photos (`None` for a text post),
    /// uploading those not recorded yet for this delivery.
    pub(crate) async fn attached_media(
        &self,
        delivery: &Delivery,
        auth: &HeaderValue,
    ) -> Result<Option<String>, Outcome> {
        let media = &delivery.media;
        if media.is_empty() {
            return Ok(None);
        }
        if media.len() > MAX_PHOTOS || media.iter().any(Attachment::is_video) {
            return Err(Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "a Facebook Page post takes 1 to {MAX_PHOTOS} photos (videos are not sent by \
                     crieur yet); this one has {} media; nothing was sent",
                    media.len()
                ),
            });
        }
        let mut attached = Vec::with_capacity(media.len());
        for a in media {
            let id = self.photo_id(delivery, auth, a).await?;
            attached.push(json!({ "media_fbid": id }));
        }
        Ok(Some(Value::Array(attached).to_string()))
    }

    async fn photo_id(
        &self,
        d: &Delivery,
        auth: &HeaderValue,
        a: &Attachment,
    ) -> Result<String, Outcome> {
        let key = format!("{}/{}", a.sha256, d.id);
        let at = UploadKey { channel: &self.channel, key: &key, delivery: &d.id, path: &a.path };
        upload_once(
            self.ledger.as_deref(),
            at,
            self.clock.now(),
            jiff::SignedDuration::ZERO,
            || self.upload(d, auth, a),
        )
        .await
    }

    async fn upload(
        &self,
        d: &Delivery,
        auth: &HeaderValue,
        a: &Attachment,
    ) -> Result<UploadedMedia, Outcome> {
        let source = Part::bytes(a.data.to_vec())
            .file_name(file_name(&a.path))
            .mime_str(&a.content_type)
            .map_err(|e| Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("{}: content type {:?}: {e}", a.path, a.content_type),
            })?;
        let form = Form::new()
            .text("published", "false")
            .text("alt_text_custom", a.alt.clone())
            .part("source", source);
        let request = self
            .http
            .request(Method::POST, self.photos_url.clone())
            .header(AUTHORIZATION, auth.clone())
            .multipart(form);
        let now = self.clock.now();
        let response = match self.http.send(&d.id, request).await {
            Ok(r) => r,
            Err(e) => {
                return Err(Outcome::Retry {
                    reason: format!(
                        "uploading {} to Facebook failed: {e}; nothing was posted",
                        a.path
                    ),
                    not_before: None,
                });
            }
        };
        let error = graph_error(&response);
        self.note_usage(&response, now, error.as_ref());
        if response.status.is_success() {
            let id = response
                .json::<Value>()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
            return match id {
                Some(remote_id) => {
                    Ok(UploadedMedia { remote_id, expires_at: None, uploaded_at: now })
                }
                None => Err(Outcome::Retry {
                    reason: format!(
                        "uploading {} to Facebook: the answer has no photo id; nothing was posted",
                        a.path
                    ),
                    not_before: None,
                }),
            };
        }
        let status = response.status.as_u16();
        self.log_refusal(&d.id, "the photo upload", status, error.as_ref());
        let snippet = if error.is_none() { response.snippet(300) } else { String::new() };
        let remedy = self.token_remedy();
        let usage = FacebookUsage::from_headers(&response.headers, now);
        let outcome = refusal_outcome(&Refusal {
            channel: &self.channel,
            status,
            error: error.as_ref(),
            snippet: &snippet,
            regain_at: usage.regain_at,
            retry_after: retry_after(&response.headers, now),
            token_remedy: &remedy,
        });
        Err(match outcome {
            // An upload that may or may not have been stored posted nothing: upload again later.
            Outcome::Unknown { reason } => Outcome::Retry {
                reason: format!("uploading {}: {reason}; nothing was posted", a.path),
                not_before: None,
            },
            Outcome::Rejected { kind, reason } => Outcome::Rejected {
                kind,
                reason: format!("uploading {}: {reason}; nothing was posted", a.path),
            },
            other => other,
        })
    }
}

/// The last component of a post file's media path, for the multipart file name.
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().filter(|n| !n.is_empty()).unwrap_or("photo").to_owned()
}
