//! X's media upload v2: initialize, append in chunks, finalize, the status poll while X
//! processes, then the alt text through the metadata endpoint.
//!
//! Uploading is not publishing: nothing is on X until `POST /2/tweets`. So every failure here
//! ends the attempt with an outcome that may be retried ([`Outcome::Retry`]), except what no retry
//! fixes: bytes X refuses (`Rejected`), and a token without `media.write` (`Unauthorized`, which
//! holds the channel until `crieur auth` is run again).

use crieur_net_http::{UploadKey, upload_once};
use std::time::Duration;

use crieur_core::{Attachment, Delivery, Outcome, RejectKind, UploadedMedia};
use crieur_net_http::reqwest::header::CONTENT_TYPE;
use crieur_net_http::reqwest::multipart::{Form, Part};
use crieur_net_http::reqwest::{Method, StatusCode};
use crieur_net_http::{Response, error_chain, retry_after};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::XRateLimits;
use crate::publisher::{Sent, XPublisher, problem_detail};

/// Default size of one `append` chunk: 4 MiB (X takes segments up to 5 MB).
pub const DEFAULT_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// How long before its expiry a recorded media id stops being reused: the post that carries it
/// must reach X before then.
const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_mins(15);

/// The lifetime assumed when X's answer gives no `expires_after_secs`: one hour.
const ASSUMED_LIFETIME: SignedDuration = SignedDuration::from_hours(1);

/// How media are uploaded to X.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XMediaSettings {
    /// Bytes per `append` request (default [`DEFAULT_CHUNK_BYTES`]).
    pub chunk_bytes: usize,
    /// How long to wait in total for X to process one media item (GIF, video) before the attempt
    /// ends in `Retry` (default 10 minutes).
    pub processing_wait: Duration,
    /// Longest pause between two status polls, whatever `check_after_secs` says (default 30 s).
    pub max_poll_interval: Duration,
}

impl Default for XMediaSettings {
    fn default() -> Self {
        Self {
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            processing_wait: Duration::from_secs(600),
            max_poll_interval: Duration::from_secs(30),
        }
    }
}

/// The key under which an X upload is recorded in the ledger: the digest of the bytes and of the
/// alt text (the alt text belongs to the media id on X, so new alt text means a new upload).
pub fn ledger_key(attachment: &Attachment) -> String {
    let alt = Sha256::digest(attachment.alt.as_bytes());
    let alt: String = alt.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{}-alt-{alt}", attachment.sha256)
}

/// X's `media_category` for a content type.
fn category(content_type: &str) -> &'static str {
    match content_type {
        "image/gif" => "tweet_gif",
        t if t.starts_with("video/") => "tweet_video",
        _ => "tweet_image",
    }
}

/// A numeric id X gave back.
fn numeric_id(v: Option<&Value>) -> Option<String> {
    let id = match v? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

impl XPublisher {
    /// The media ids of every attachment of `delivery`, in order: reused from the ledger while
    /// valid, uploaded otherwise (and then recorded).
    pub(crate) async fn media_ids(&self, delivery: &Delivery) -> Result<Vec<String>, Outcome> {
        let mut ids = Vec::with_capacity(delivery.media.len());
        for attachment in &delivery.media {
            ids.push(self.media_id(delivery, attachment).await?);
        }
        Ok(ids)
    }

    async fn media_id(&self, delivery: &Delivery, a: &Attachment) -> Result<String, Outcome> {
        let key = ledger_key(a);
        let at =
            UploadKey { channel: &self.channel, key: &key, delivery: &delivery.id, path: &a.path };
        upload_once(self.ledger.as_deref(), at, self.clock.now(), EXPIRY_MARGIN, || {
            self.upload(delivery, a)
        })
        .await
    }

    /// Uploads one attachment: initialize, append, finalize, wait for processing, alt text.
    async fn upload(&self, d: &Delivery, a: &Attachment) -> Result<UploadedMedia, Outcome> {
        tracing::debug!(channel = %self.channel, delivery = %d.id, media = %a.path, bytes = a.data.len(), "uploading media to X");
        let init = json!({
            "media_type": a.content_type,
            "total_bytes": a.data.len(),
            "media_category": category(&a.content_type),
        });
        let answer = self.post_json(d, a, "initialize", "2/media/upload/initialize", &init).await?;
        let id = numeric_id(answer.pointer("/data/id"))
            .ok_or_else(|| self.unreadable(a, "initialize", "no data.id"))?;
        let mut expires = answer.pointer("/data/expires_after_secs").and_then(Value::as_i64);

        let chunk = self.media.chunk_bytes.max(1);
        for (index, part) in a.data.chunks(chunk).enumerate() {
            let url = self.endpoint(a, &format!("2/media/upload/{id}/append"))?;
            let bytes = part.to_vec();
            let build = || {
                let media = Part::bytes(bytes.clone())
                    .file_name("media")
                    .mime_str("application/octet-stream")
                    .unwrap_or_else(|_| Part::bytes(bytes.clone()));
                let form =
                    Form::new().text("segment_index", index.to_string()).part("media", media);
                self.http.request(Method::POST, url.clone()).multipart(form)
            };
            self.answer(d, a, "append", build).await?;
        }

        let url = self.endpoint(a, &format!("2/media/upload/{id}/finalize"))?;
        let mut answer =
            self.answer(d, a, "finalize", || self.http.request(Method::POST, url.clone())).await?;
        let started = std::time::Instant::now();
        loop {
            if let Some(secs) = answer.pointer("/data/expires_after_secs").and_then(Value::as_i64) {
                expires = Some(secs);
            }
            let Some(info) = answer.pointer("/data/processing_info") else { break };
            match info.get("state").and_then(Value::as_str) {
                Some("succeeded") => break,
                Some("failed") => {
                    let why = info
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given");
                    return Err(Outcome::Rejected {
                        kind: RejectKind::Invalid,
                        reason: format!(
                            "X could not process {} ({}); nothing was posted",
                            a.path,
                            why.chars().take(300).collect::<String>()
                        ),
                    });
                }
                _ => {}
            }
            if started.elapsed() >= self.media.processing_wait {
                return Err(Outcome::Retry {
                    reason: format!(
                        "X was still processing {} after {} s; nothing was posted",
                        a.path,
                        self.media.processing_wait.as_secs()
                    ),
                    not_before: None,
                });
            }
            let wait = info
                .get("check_after_secs")
                .and_then(Value::as_u64)
                .map_or(Duration::from_secs(1), Duration::from_secs)
                .min(self.media.max_poll_interval);
            tokio::time::sleep(wait).await;
            let mut url = self.endpoint(a, "2/media/upload")?;
            url.query_pairs_mut().append_pair("command", "STATUS").append_pair("media_id", &id);
            answer =
                self.answer(d, a, "status", || self.http.request(Method::GET, url.clone())).await?;
        }

        let alt = json!({ "id": id, "metadata": { "alt_text": { "text": a.alt } } });
        self.post_json(d, a, "metadata", "2/media/metadata", &alt).await?;

        let now = self.clock.now();
        let lifetime = expires.map_or(ASSUMED_LIFETIME, SignedDuration::from_secs);
        Ok(UploadedMedia {
            remote_id: id,
            expires_at: now.checked_add(lifetime).ok(),
            uploaded_at: now,
        })
    }

    fn endpoint(
        &self,
        a: &Attachment,
        path: &str,
    ) -> Result<crieur_net_http::reqwest::Url, Outcome> {
        self.url(path).map_err(|reason| Outcome::Rejected {
            kind: RejectKind::Other,
            reason: format!("uploading {}: {reason}", a.path),
        })
    }

    async fn post_json(
        &self,
        d: &Delivery,
        a: &Attachment,
        step: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, Outcome> {
        let url = self.endpoint(a, path)?;
        let body = body.to_string();
        let build = || {
            self.http
                .request(Method::POST, url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        };
        self.answer(d, a, step, build).await
    }

    fn unreadable(&self, a: &Attachment, step: &str, what: &str) -> Outcome {
        Outcome::Retry {
            reason: format!(
                "uploading {} to X ({step}): the answer has {what}; nothing was posted",
                a.path
            ),
            not_before: None,
        }
    }

    /// Sends one step of the upload and reads its JSON answer (an empty 2xx body reads as
    /// `null`), or the outcome that ends the attempt.
    async fn answer(
        &self,
        d: &Delivery,
        a: &Attachment,
        step: &str,
        build: impl Fn() -> crieur_net_http::reqwest::RequestBuilder,
    ) -> Result<Value, Outcome> {
        let response = match self.send_authorized(&d.id, build).await {
            Sent::Answer(r) => r,
            Sent::Auth(outcome) => return Err(outcome),
            Sent::Failed(e) => {
                tracing::warn!(channel = %self.channel, delivery = %d.id, media = %a.path, step, error = %error_chain(&e), "the X upload request failed");
                return Err(Outcome::Retry {
                    reason: format!(
                        "uploading {} to X ({step}) failed: {e}; nothing was posted",
                        a.path
                    ),
                    not_before: None,
                });
            }
        };
        if response.status.is_success() {
            return match &response.body {
                Ok(body) if body.iter().all(u8::is_ascii_whitespace) => Ok(Value::Null),
                Ok(_) => {
                    response.json::<Value>().ok_or_else(|| self.unreadable(a, step, "no JSON"))
                }
                Err(e) => Err(self.unreadable(a, step, &format!("an unreadable body ({e})"))),
            };
        }
        Err(self.upload_refused(a, step, &response))
    }

    /// What a refused upload step means (the step was not done; nothing was posted).
    fn upload_refused(&self, a: &Attachment, step: &str, response: &Response) -> Outcome {
        let code = response.status.as_u16();
        let detail = problem_detail(response);
        let what = format!("X refused the upload of {} ({step}, {code})", a.path);
        match response.status {
            StatusCode::UNAUTHORIZED => {
                Outcome::Unauthorized { reason: format!("{what}: {detail}") }
            }
            StatusCode::FORBIDDEN => Outcome::Unauthorized {
                reason: format!(
                    "{what}: {detail}. The token was probably granted without the `media.write` \
                     scope: run `crieur auth {}` again to allow media uploads",
                    self.channel
                ),
            },
            StatusCode::TOO_MANY_REQUESTS => {
                let now = self.clock.now();
                let limits = XRateLimits::from_headers(&response.headers);
                let not_before: Option<Timestamp> =
                    limits.endpoint.reset.or_else(|| retry_after(&response.headers, now));
                if let Some(until) = not_before {
                    let mut hold = self.hold.lock().unwrap_or_else(|e| e.into_inner());
                    *hold = Some(hold.map_or(until, |h| h.max(until)));
                }
                Outcome::Retry { reason: format!("{what}: rate limited: {detail}"), not_before }
            }
            StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY => Outcome::Rejected {
                kind: RejectKind::Invalid,
                reason: format!("{what}: {detail}; nothing was posted"),
            },
            // The upload session is gone, or X failed: a later attempt starts a new upload.
            _ => Outcome::Retry {
                reason: format!("{what}: {detail}; nothing was posted"),
                not_before: None,
            },
        }
    }
}
