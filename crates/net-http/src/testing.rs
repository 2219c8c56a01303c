//! Test support shared by the adapters' tests (feature `test-util`): capture everything the
//! process logs, at TRACE level, including reqwest's and hyper's own `log` records, to prove that
//! no secret reaches a log; and read back the multipart bodies of media uploads
//! ([`parse_multipart`]).
//!
//! tracing caches per call site, process-wide, whether anyone listens, so a subscriber scoped to
//! one test races with the other tests of its binary. [`capture_all_logs`] therefore installs one
//! global subscriber: call it once, from a test binary of its own.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything logged since [`capture_all_logs`], as written (no colours).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// The text logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide subscriber (TRACE, and `log` records bridged into tracing) and
/// returns the buffer it writes to.
///
/// # Panics
/// When a global subscriber or logger is already installed: call it once per test binary.
#[allow(clippy::expect_used)]
pub fn capture_all_logs() -> CapturedLogs {
    tracing_log::LogTracer::init().expect("no logger installed yet in this test binary");
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("no subscriber installed yet in this test binary");
    captured
}

/// One part of a `multipart/form-data` body, as a mock network reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename`, when it has one.
    pub filename: Option<String>,
    /// Its `Content-Type`, when given.
    pub content_type: Option<String>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Reads a `multipart/form-data` body the way a strict server would: the boundary from
/// `content_type`, every part with a `Content-Disposition: form-data; name=...`, the closing
/// delimiter present. Hand-written (a few lines) because mocks only need to read back what
/// reqwest wrote, and the parser crates want a stream and a runtime.
///
/// # Errors
/// A message saying what is malformed.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<FormPart>, String> {
    let (kind, params) = content_type.split_once(';').ok_or("no boundary parameter")?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!("content type {kind:?} is not multipart/form-data"));
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .ok_or("no boundary parameter")?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
    };
    let mut parts = Vec::new();
    let mut at = find(body, &delimiter, 0).ok_or("no opening delimiter")? + delimiter.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err("a delimiter is not followed by CRLF".into());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or("a part has no blank line")?;
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let mut close = b"\r\n".to_vec();
        close.extend_from_slice(&delimiter);
        let end = find(body, &close, head_end + 4).ok_or("no closing delimiter")?;
        let (mut name, mut filename, mut content_type) = (None, None, None);
        for line in head.split("\r\n") {
            let (key, value) = line.split_once(':').ok_or("a header line has no colon")?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for p in value.split(';').skip(1) {
                        if let Some((k, v)) = p.trim().split_once('=') {
                            let v = v.trim_matches('"').to_owned();
                            match k {
                                "name" => name = Some(v),
                                "filename" => filename = Some(v),
                                _ => {}
                            }
                        }
                    }
                }
                "content-type" => content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        parts.push(FormPart {
            name: name.ok_or("a part has no name")?,
            filename,
            content_type,
            data: body[head_end + 4..end].to_vec(),
        });
        at = end + close.len();
    }
}
