//! Images on LinkedIn: `POST /rest/images?action=initializeUpload` for an upload URL and an
//! image URN, `PUT` the bytes there, then the post names the URN with its alt text
//! (`content.media` for one image, `content.multiImage` for 2 to 20).
//!
//! Uploading is not publishing: a failed upload ends the attempt in `Retry` (or `Rejected` for
//! bytes LinkedIn refuses, `Unauthorized` for a refused token), never `Unknown`. LinkedIn gives no
//! expiry for an uploaded image, so a recorded URN is reused by every later attempt.

use crieur_core::{Attachment, Delivery, Outcome, RejectKind, UploadedMedia};
use crieur_net_http::reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use crieur_net_http::reqwest::{Method, StatusCode, Url};
use crieur_net_http::{Response, bearer_header, retry_after};
use crieur_net_http::{UploadKey, upload_once};
use serde_json::{Value, json};

use crate::publisher::{LinkedinPublisher, RESTLI_PROTOCOL_VERSION};
use crate::tokens::Access;

/// The most images one LinkedIn post takes (`multiImage`).
pub const MAX_IMAGES: usize = 20;

impl LinkedinPublisher {
    /// The post's `content` for `delivery`'s images, uploading those not recorded yet.
    pub(crate) async fn media_content(
        &self,
        delivery: &Delivery,
        access: &Access,
    ) -> Result<Option<Value>, Outcome> {
        let media = &delivery.media;
        if media.is_empty() {
            return Ok(None);
        }
        if media.len() > MAX_IMAGES || media.iter().any(Attachment::is_video) {
            return Err(Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!(
                    "LinkedIn takes 1 to {MAX_IMAGES} images on a post (videos are not sent by \
                     crieur yet); this one has {} media; nothing was sent",
                    media.len()
                ),
            });
        }
        let mut images = Vec::with_capacity(media.len());
        for a in media {
            let urn = self.image_urn(delivery, access, a).await?;
            images.push(json!({ "id": urn, "altText": a.alt }));
        }
        Ok(Some(match images.as_slice() {
            [one] => json!({ "media": one }),
            _ => json!({ "multiImage": { "images": images } }),
        }))
    }

    async fn image_urn(
        &self,
        d: &Delivery,
        access: &Access,
        a: &Attachment,
    ) -> Result<String, Outcome> {
        let at =
            UploadKey { channel: &self.channel, key: &a.sha256, delivery: &d.id, path: &a.path };
        upload_once(
            self.ledger.as_deref(),
            at,
            self.clock.now(),
            jiff::SignedDuration::ZERO,
            || self.upload(d, access, a),
        )
        .await
    }

    async fn upload(
        &self,
        d: &Delivery,
        access: &Access,
        a: &Attachment,
    ) -> Result<UploadedMedia, Outcome> {
        let bearer = bearer_header(&access.token).map_err(|e| Outcome::Unauthorized {
            reason: format!("channel {}: {e}; {}", self.channel, self.auth_hint()),
        })?;
        let mut url = self.endpoint.join("images").map_err(|e| Outcome::Rejected {
            kind: RejectKind::Other,
            reason: format!("cannot build the images URL: {e}"),
        })?;
        url.set_query(Some("action=initializeUpload"));
        let body = json!({ "initializeUploadRequest": { "owner": self.author.to_string() } });
        let request = self
            .http
            .request(Method::POST, url)
            .header(AUTHORIZATION, bearer.clone())
            .header("LinkedIn-Version", self.version.as_str())
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let response = self.exchange(d, a, "initializeUpload", request).await?;
        let answer: Option<Value> = response.json();
        let value = answer.as_ref().and_then(|v| v.get("value"));
        let upload_url = value
            .and_then(|v| v.get("uploadUrl"))
            .and_then(Value::as_str)
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        let image = value
            .and_then(|v| v.get("image"))
            .and_then(Value::as_str)
            .filter(|urn| urn.starts_with("urn:li:image:") && urn.len() > 13);
        let (Some(upload_url), Some(image)) = (upload_url, image) else {
            return Err(Outcome::Retry {
                reason: format!(
                    "uploading {} to LinkedIn: the initializeUpload answer has no usable \
                     value.uploadUrl and value.image; nothing was posted",
                    a.path
                ),
                not_before: None,
            });
        };
        let image = image.to_owned();
        let put = self
            .http
            .request(Method::PUT, upload_url)
            .header(AUTHORIZATION, bearer)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(a.data.to_vec());
        self.exchange(d, a, "upload", put).await?;
        let now = self.clock.now();
        Ok(UploadedMedia { remote_id: image, expires_at: None, uploaded_at: now })
    }

    /// Sends one upload request; a non-2xx answer is the outcome that ends the attempt.
    async fn exchange(
        &self,
        d: &Delivery,
        a: &Attachment,
        step: &str,
        request: crieur_net_http::reqwest::RequestBuilder,
    ) -> Result<Response, Outcome> {
        let response = match self.http.send(&d.id, request).await {
            Ok(r) => r,
            Err(e) => {
                return Err(Outcome::Retry {
                    reason: format!(
                        "uploading {} to LinkedIn ({step}) failed: {e}; nothing was posted",
                        a.path
                    ),
                    not_before: None,
                });
            }
        };
        if response.status.is_success() {
            return Ok(response);
        }
        let code = response.status.as_u16();
        let said = response.snippet(300);
        let what = format!("LinkedIn refused the upload of {} ({step}, {code}): {said}", a.path);
        Err(match response.status {
            StatusCode::UNAUTHORIZED => {
                Outcome::Unauthorized { reason: format!("{what}; {}", self.auth_hint()) }
            }
            StatusCode::FORBIDDEN => Outcome::Rejected {
                kind: RejectKind::Forbidden,
                reason: format!("{what}; the token may lack w_organization_social/w_member_social"),
            },
            StatusCode::TOO_MANY_REQUESTS => {
                let not_before = retry_after(&response.headers, self.clock.now())
                    .or_else(|| crate::publisher::next_midnight_utc(self.clock.now()));
                self.set_hold(not_before);
                Outcome::Retry { reason: what, not_before }
            }
            s if s.is_client_error() && s != StatusCode::NOT_FOUND => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("{what}; nothing was posted"),
            },
            _ => Outcome::Retry { reason: format!("{what}; nothing was posted"), not_before: None },
        })
    }
}
