//! A Prometheus-like scraper for the `scraped` scenario: the daemon's `[http]` endpoint turned
//! on, and `GET /metrics` asked every second while the latency run goes, to see what scraping
//! costs the dispatch loop.
//!
//! The scraper is a plain thread speaking HTTP/1.1 over a fresh loopback connection each time
//! (as Prometheus does without keep-alive), so it shares nothing with the daemon but the socket.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::BenchError;

/// Turns on the daemon's endpoint in the config at `config`: appends `[http] listen` on
/// 127.0.0.1:`port`.
///
/// # Errors
/// [`BenchError::Io`] when the config cannot be read or written.
pub fn add_endpoint(config: &Path, port: u16) -> Result<SocketAddr, BenchError> {
    let mut text = std::fs::read_to_string(config).map_err(BenchError::io("reading", config))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _ = write!(text, "\n[http]\nlisten = \"{addr}\"\n");
    std::fs::write(config, text).map_err(BenchError::io("writing", config))?;
    Ok(addr)
}

/// A free port on loopback (bound, read, released).
///
/// # Errors
/// [`BenchError::Io`] when no port can be bound.
pub fn free_port() -> Result<u16, BenchError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(BenchError::io("binding", "127.0.0.1:0"))?;
    let port = listener.local_addr().map_err(BenchError::io("reading", "127.0.0.1:0"))?.port();
    Ok(port)
}

/// What the scraper saw.
#[derive(Debug, Clone, Default)]
pub struct Scrapes {
    /// Answers 200 with a whole OpenMetrics text (ending `# EOF`).
    pub ok: usize,
    /// Anything else: no connection, another status, a cut text.
    pub failed: usize,
    /// The time of each good scrape, connection to last byte, in milliseconds.
    pub millis: Vec<f64>,
    /// The size of the last good answer's body, in bytes.
    pub bytes: usize,
}

/// A thread that scrapes `GET /metrics` at a fixed interval until stopped.
pub struct Scraper {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Scrapes>,
}

impl Scraper {
    /// Starts scraping `addr` every `every` (the first scrape at once).
    pub fn start(addr: SocketAddr, every: Duration) -> Scraper {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Scrapes::default();
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    let started = Instant::now();
                    match scrape(addr) {
                        Some(bytes) => {
                            seen.ok += 1;
                            seen.bytes = bytes;
                            seen.millis.push(started.elapsed().as_secs_f64() * 1000.0);
                        }
                        None => seen.failed += 1,
                    }
                    next += every;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        });
        Scraper { stop, thread }
    }

    /// Stops the thread and returns what it saw.
    pub fn stop(self) -> Scrapes {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// One `GET /metrics`; the body's size when it is a whole OpenMetrics text answered 200.
fn scrape(addr: SocketAddr) -> Option<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8(answer).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.1 200") && body.ends_with("# EOF\n")).then_some(body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_listening_is_a_failed_scrape() {
        let port = free_port().unwrap_or(9);
        let scraper =
            Scraper::start(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(70));
        let seen = scraper.stop();
        assert_eq!(seen.ok, 0);
        assert!(seen.failed >= 2, "{seen:?}");
    }
}
