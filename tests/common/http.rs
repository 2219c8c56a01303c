//! The end-to-end tests' one HTTP/1.1 server on loopback, written on tokio's TCP listener rather
//! than taken from a mock server: the tests need the socket itself (hold an answer, answer late or
//! half, drop or reset the connection, stream 100 MB, count open connections), which mock
//! servers do not give.
//!
//! [`Server`] accepts connections and hands each to the test's service as a [`Conn`], which reads
//! requests ([`Conn::read_request`]) and writes [`Response`]s; what to answer is the service's.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A server on 127.0.0.1 (a free port); it stops accepting when dropped.
pub struct Server {
    addr: SocketAddr,
    open: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Listens on a free port of 127.0.0.1 and runs `serve` on each connection, in its own task.
    pub async fn start<F, Fut>(serve: F) -> Server
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicUsize::new(0));
        let counter = open.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let conn = Conn { stream, buf: Vec::new(), _open: Open(counter.clone()) };
                tokio::spawn(serve(conn));
            }
        });
        Server { addr, open, task }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Connections accepted and not closed yet (a connection is closed once its service is done
    /// with it).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

/// Counts a connection as open until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why no request head could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The peer closed the connection (or it failed) before a whole head.
    Closed,
    /// The head is longer than the limit given.
    TooLong,
    /// Not an HTTP/1.1 request head.
    Malformed,
}

/// One accepted connection.
pub struct Conn {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read and not consumed yet.
    buf: Vec<u8>,
    _open: Open,
}

impl Conn {
    /// Reads the next request head (at most `max` bytes); the body is left to
    /// [`Conn::read_body`].
    pub async fn read_request(&mut self, max: usize) -> Result<Request, HeadError> {
        let end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if self.buf.len() > max {
                return Err(HeadError::TooLong);
            }
            if !self.fill().await {
                return Err(HeadError::Closed);
            }
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        Request::parse(&head).ok_or(HeadError::Malformed)
    }

    /// Reads a body of `len` bytes; `None` when the connection ends first.
    pub async fn read_body(&mut self, len: usize) -> Option<Vec<u8>> {
        while self.buf.len() < len {
            if !self.fill().await {
                return None;
            }
        }
        let rest = self.buf.split_off(len);
        Some(std::mem::replace(&mut self.buf, rest))
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Writes `bytes` and flushes.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Writes a whole response (head with `content-length`, then body).
    pub async fn respond(&mut self, response: &Response) -> std::io::Result<()> {
        let mut out = response.head("", Some(response.body.len()));
        out.extend_from_slice(&response.body);
        self.write(&out).await
    }

    /// Resets the connection (RST rather than FIN) when this value is dropped.
    pub fn reset(&self) {
        let _ = self.stream.set_zero_linger();
    }

    /// Reads and discards whatever comes until the peer closes, for up to `timeout`.
    pub async fn drain(&mut self, timeout: Duration) {
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(timeout, async {
            while let Ok(n) = self.stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
}

/// Name-value pairs (headers, query parameters).
pub type Pairs = Vec<(String, String)>;

/// A request: its head, and its body once read.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line as sent.
    pub line: String,
    pub method: String,
    /// The target's path, without the query.
    pub path: String,
    pub query: Pairs,
    /// Headers, names in lower case, in order.
    pub headers: Pairs,
    pub body: Vec<u8>,
}

impl Request {
    /// Method, path, query and headers of an HTTP/1.1 request head.
    fn parse(head: &[u8]) -> Option<Request> {
        let text = std::str::from_utf8(head).ok()?;
        let mut lines = text.split("\r\n");
        let line = lines.next()?.to_owned();
        let mut first = line.split(' ');
        let method = first.next()?.to_owned();
        let target = first.next()?.to_owned();
        if first.next()? != "HTTP/1.1" {
            return None;
        }
        let mut headers = Vec::new();
        for l in lines.filter(|l| !l.is_empty()) {
            let (n, v) = l.split_once(':')?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let query = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        Some(Request { line, method, path: path.to_owned(), query, headers, body: Vec::new() })
    }

    /// The first header of this name (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first query parameter of this name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The bearer token of `authorization`.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer "))
    }

    /// The body as a form.
    pub fn form(&self) -> Pairs {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The body length `content-length` announces: `None` without one (or when it does not
    /// parse).
    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|l| l.parse().ok())
    }
}

/// An answer to write.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Pairs,
    pub body: Vec<u8>,
}

impl Response {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response::typed(status, "application/json", serde_json::to_vec(body).unwrap())
    }

    /// `status` with this `content-type` and body.
    pub fn typed(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The head: status line, headers, `extra` (whole header lines), `content-length` when
    /// given, and the blank line.
    pub fn head(&self, extra: &str, length: Option<usize>) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str(extra);
        if let Some(len) = length {
            head.push_str(&format!("content-length: {len}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// The reason phrase of a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Other",
    }
}
