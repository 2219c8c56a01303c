//! The loopback redirect of the login: a one-shot HTTP listener on 127.0.0.1 that takes the
//! authorization code from the browser's `GET /callback?code=...&state=...`.
//!
//! Written here rather than with a web framework: it reads one bounded request head per
//! connection and answers one short page, which a server crate would only wrap.

use std::time::Duration;

use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The path the browser is sent back to.
pub const CALLBACK_PATH: &str = "/callback";
/// The longest request head the listener reads.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long one browser connection may take to send its request.
const READ_WAIT: Duration = Duration::from_secs(10);

/// The browser did not come back with a usable code.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    /// The port could not be listened on.
    #[error(
        "cannot listen on 127.0.0.1:{port} for the login redirect ({reason}); free the port or \
         choose another one (and list http://127.0.0.1:PORT/callback in the app's Valid OAuth \
         Redirect URIs)"
    )]
    Bind {
        /// The port.
        port: u16,
        /// The system's reason.
        reason: String,
    },
    /// The login was declined or failed on Facebook's side.
    #[error("the login did not grant access: {reason}")]
    Denied {
        /// Facebook's `error`, `error_reason` and `error_description`.
        reason: String,
    },
    /// The `state` that came back is not the one sent: the redirect did not come from this
    /// login (another tab, or a forged request). Nothing was exchanged.
    #[error(
        "the login redirect carried a different state than the one crieur sent; nothing was \
         exchanged: run `crieur auth` again and finish the login in the tab it opens"
    )]
    StateMismatch,
    /// The browser did not come back in time.
    #[error("no login came back within {} s; run `crieur auth` again", .waited.as_secs())]
    TimedOut {
        /// How long crieur waited.
        waited: Duration,
    },
    /// The listener failed.
    #[error("the login redirect listener failed: {0}")]
    Io(String),
}

/// What the browser brought back.
pub(crate) struct Callback {
    /// The authorization code.
    pub(crate) code: SecretString,
}

/// A listener on `127.0.0.1:{port}`.
pub(crate) struct Listener {
    listener: TcpListener,
    port: u16,
}

impl Listener {
    /// Listens on `127.0.0.1:port` (0: any free port).
    pub(crate) async fn bind(port: u16) -> Result<Self, LoopbackError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| LoopbackError::Bind { port, reason: e.to_string() })?;
        let port = listener
            .local_addr()
            .map_err(|e| LoopbackError::Bind { port, reason: e.to_string() })?
            .port();
        Ok(Self { listener, port })
    }

    /// `http://127.0.0.1:{port}/callback`.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Answers connections until one brings `/callback` with `state`, or `wait` runs out.
    /// Other paths (a browser's `/favicon.ico`) get a 404 and the wait goes on.
    pub(crate) async fn wait(self, state: &str, wait: Duration) -> Result<Callback, LoopbackError> {
        let deadline = Instant::now() + wait;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept())
                .await
                .map_err(|_| LoopbackError::TimedOut { waited: wait })?;
            let (mut stream, _) = accepted.map_err(|e| LoopbackError::Io(e.to_string()))?;
            let Some(target) = read_target(&mut stream).await else {
                respond(&mut stream, 400, "crieur could not read this request.").await;
                continue;
            };
            let Some(query) = target
                .strip_prefix(CALLBACK_PATH)
                .and_then(|rest| if rest.is_empty() { Some("") } else { rest.strip_prefix('?') })
            else {
                respond(&mut stream, 404, "Not found.").await;
                continue;
            };
            let mut code = None;
            let mut got_state = None;
            let mut error = Vec::new();
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                match key.as_ref() {
                    "code" => code = Some(SecretString::from(value.into_owned())),
                    "state" => got_state = Some(value.into_owned()),
                    "error" | "error_reason" | "error_description" => {
                        let value: String =
                            value.chars().take(200).filter(|c| !c.is_control()).collect();
                        error.push(format!("{key}={value}"));
                    }
                    _ => {}
                }
            }
            if got_state.as_deref() != Some(state) {
                respond(&mut stream, 400, "This login is not the one crieur started.").await;
                return Err(LoopbackError::StateMismatch);
            }
            if !error.is_empty() {
                respond(&mut stream, 200, "crieur was not authorized. You can close this tab.")
                    .await;
                return Err(LoopbackError::Denied { reason: error.join(", ") });
            }
            let Some(code) = code else {
                respond(&mut stream, 400, "The login came back without a code.").await;
                return Err(LoopbackError::Denied {
                    reason: "the redirect carried no code".into(),
                });
            };
            respond(&mut stream, 200, "crieur is authorized. You can close this tab.").await;
            return Ok(Callback { code });
        }
    }
}

/// The request target of a `GET` head, read within [`MAX_HEAD_BYTES`] and [`READ_WAIT`].
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if head.len() > MAX_HEAD_BYTES {
                return None;
            }
        }
    };
    tokio::time::timeout(READ_WAIT, read).await.ok()??;
    let line_end = head.iter().position(|&b| b == b'\r')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.split(' ');
    if parts.next()? != "GET" {
        return None;
    }
    Some(parts.next()?.to_owned())
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body =
        format!("<!doctype html><meta charset=\"utf-8\"><title>crieur</title><p>{text}</p>\n");
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    // The browser may already have gone; nothing to do about a failed write.
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A fresh `state`: 32 random bytes from the OS-seeded generator, as hex.
pub(crate) fn random_state() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn takes_the_code_after_ignoring_other_paths() {
        let l = Listener::bind(0).await.unwrap();
        let port = l.port;
        let waiting = tokio::spawn(async move { l.wait("s1", Duration::from_secs(5)).await });
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        assert!(get(port, "/callback?code=abc&state=s1").await.starts_with("HTTP/1.1 200"));
        let cb = waiting.await.unwrap().unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&cb.code), "abc");
    }

    #[tokio::test]
    async fn wrong_state_and_denial_and_timeout_are_errors() {
        let l = Listener::bind(0).await.unwrap();
        let port = l.port;
        let waiting = tokio::spawn(async move { l.wait("s1", Duration::from_secs(5)).await });
        assert!(get(port, "/callback?code=abc&state=evil").await.starts_with("HTTP/1.1 400"));
        assert!(matches!(waiting.await.unwrap(), Err(LoopbackError::StateMismatch)));

        let l = Listener::bind(0).await.unwrap();
        let port = l.port;
        let waiting = tokio::spawn(async move { l.wait("s2", Duration::from_secs(5)).await });
        get(port, "/callback?error=access_denied&error_reason=user_denied&state=s2").await;
        let Err(LoopbackError::Denied { reason }) = waiting.await.unwrap() else { panic!() };
        assert!(reason.contains("user_denied"), "{reason}");

        let l = Listener::bind(0).await.unwrap();
        let err = l.wait("s3", Duration::from_millis(50)).await.err().unwrap();
        assert!(matches!(err, LoopbackError::TimedOut { .. }));
    }

    #[test]
    fn states_are_random_hex() {
        let a = random_state();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_state());
    }
}
