//! The real `crieur` binary as a child process: the daemon with a systemd notify socket of its
//! own, its memory and CPU time read from `/proc`, and one-shot commands.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::BenchError;
use crate::project::{SECRET, SECRET_ENV};

/// The malloc settings `deploy/crieur.service` gives crieur (its `Environment=GLIBC_TUNABLES=`
/// line; a test keeps the two equal): the bench measures crieur as the unit runs it.
pub const UNIT_GLIBC_TUNABLES: &str = "glibc.malloc.arena_max=2";

/// A `crieur` command for `config`, with the bench secret and the unit's malloc settings in its
/// environment, and nothing inherited that would change where it looks for its config or state.
pub fn command(crieur: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(crieur);
    cmd.arg("--config")
        .arg(config)
        .env(SECRET_ENV, SECRET)
        .env("GLIBC_TUNABLES", UNIT_GLIBC_TUNABLES)
        .env_remove("CRIEUR_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null());
    cmd
}

/// Runs `crieur --config CONFIG ARGS...` to completion.
///
/// # Errors
/// [`BenchError::Process`] when it cannot be started.
pub fn run(crieur: &Path, config: &Path, args: &[&str]) -> Result<Output, BenchError> {
    command(crieur, config).args(args).output().map_err(|source| BenchError::Process {
        what: format!("running {} {}", crieur.display(), args.join(" ")),
        source,
    })
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size so far.
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/{pid}/status`.
///
/// # Errors
/// [`BenchError::Io`] when the process is gone; [`BenchError::Invalid`] when a field is missing.
pub fn memory(pid: u32) -> Result<Memory, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(BenchError::io("reading", &path))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| BenchError::Invalid(format!("{path} has no {name}")))
    };
    Ok(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// User plus system CPU time of a process so far (`utime + stime` of `/proc/{pid}/stat`).
///
/// # Errors
/// [`BenchError::Io`] when the process is gone; [`BenchError::Invalid`] when the line does not
/// parse.
pub fn cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(BenchError::io("reading", &path))?;
    // The command name may hold spaces and parentheses: fields are counted after the last `)`.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(BenchError::Invalid(format!("{path} does not parse")));
    };
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_nanos((utime + stime).saturating_mul(1_000_000_000) / hz))
}

struct Notified {
    ready: Mutex<Option<Instant>>,
    cond: Condvar,
    stop: AtomicBool,
}

/// A running `crieur run`. Killed if dropped while running.
pub struct Daemon {
    child: Child,
    started: Instant,
    notified: Arc<Notified>,
    listener: Option<std::thread::JoinHandle<()>>,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("pid", &self.child.id()).field("log", &self.log).finish()
    }
}

impl Daemon {
    /// Starts `crieur --config CONFIG run` with `NOTIFY_SOCKET` set to a datagram socket bound at
    /// `socket` (a thread reads it and timestamps the first `READY=1`), `RUST_LOG=log_level`,
    /// and stderr appended to `log`.
    ///
    /// # Errors
    /// [`BenchError::Io`] when the socket or log cannot be opened; [`BenchError::Process`] when
    /// the binary cannot be started.
    pub fn spawn(
        crieur: &Path,
        config: &Path,
        socket: &Path,
        log: &Path,
        log_level: &str,
    ) -> Result<Daemon, BenchError> {
        let _ = std::fs::remove_file(socket);
        let sock = UnixDatagram::bind(socket).map_err(BenchError::io("binding", socket))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(BenchError::io("setting a timeout on", socket))?;
        let notified = Arc::new(Notified {
            ready: Mutex::new(None),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let n = notified.clone();
        let listener = std::thread::spawn(move || {
            // Keep reading until stopped: a full socket queue would block the daemon's sends.
            let mut buf = [0u8; 4096];
            while !n.stop.load(Ordering::Relaxed) {
                let Ok(len) = sock.recv(&mut buf) else { continue };
                let at = Instant::now();
                let text = String::from_utf8_lossy(&buf[..len]);
                if text.lines().any(|l| l == "READY=1") {
                    let mut ready = n.ready.lock().unwrap_or_else(|e| e.into_inner());
                    if ready.is_none() {
                        *ready = Some(at);
                        n.cond.notify_all();
                    }
                }
            }
        });
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(BenchError::io("opening", log))?;
        let started = Instant::now();
        let child = command(crieur, config)
            .arg("run")
            .env("NOTIFY_SOCKET", socket)
            .env("RUST_LOG", log_level)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| BenchError::Process {
                what: format!("starting {} run", crieur.display()),
                source,
            });
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                notified.stop.store(true, Ordering::Relaxed);
                let _ = listener.join();
                return Err(e);
            }
        };
        Ok(Daemon {
            child,
            started,
            notified,
            listener: Some(listener),
            log: log.to_owned(),
            exited: None,
        })
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its log goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Waits for READY=1 and returns the time from spawn to READY=1.
    ///
    /// # Errors
    /// [`BenchError::Timeout`] after `timeout`; [`BenchError::Invalid`] when the daemon exited
    /// first (the message points at its log).
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, BenchError> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let ready = self.notified.ready.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(at) = *ready {
                    return Ok(at.saturating_duration_since(self.started));
                }
                let _ = self
                    .notified
                    .cond
                    .wait_timeout(ready, Duration::from_millis(20))
                    .unwrap_or_else(|e| e.into_inner());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Err(BenchError::Invalid(format!(
                    "crieur run exited ({status}) before READY=1; see {}",
                    self.log.display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout {
                    what: format!("READY=1 from crieur run (log: {})", self.log.display()),
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }

    /// Its memory now ([`memory`]).
    ///
    /// # Errors
    /// As [`memory`].
    pub fn memory(&self) -> Result<Memory, BenchError> {
        memory(self.pid())
    }

    /// Its CPU time so far ([`cpu_time`]).
    ///
    /// # Errors
    /// As [`cpu_time`].
    pub fn cpu_time(&self) -> Result<Duration, BenchError> {
        cpu_time(self.pid())
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; kills it after that.
    ///
    /// # Errors
    /// [`BenchError::Process`] when the signal cannot be sent; [`BenchError::Timeout`] when it
    /// had to be killed.
    pub fn stop(mut self, timeout: Duration) -> Result<ExitStatus, BenchError> {
        let result = self.terminate(timeout);
        self.finish_listener();
        result
    }

    fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus, BenchError> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        if let Ok(Some(status)) = self.child.try_wait() {
            self.exited = Some(status);
            return Ok(status);
        }
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.pid()).unwrap_or(i32::MAX))
            .ok_or_else(|| BenchError::Invalid("pid 0".into()))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(|e| {
            BenchError::Process { what: "sending SIGTERM to crieur run".into(), source: e.into() }
        })?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.exited = Some(status);
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    let _ = self.child.kill();
                    if let Ok(status) = self.child.wait() {
                        self.exited = Some(status);
                    }
                    return Err(BenchError::Timeout {
                        what: format!(
                            "crieur run to stop after SIGTERM (log: {})",
                            self.log.display()
                        ),
                        secs: timeout.as_secs_f64(),
                    });
                }
            }
        }
    }

    fn finish_listener(&mut self) {
        self.notified.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.listener.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited.is_none() && !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.finish_listener();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_run_with_the_units_malloc_settings() {
        let unit = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/crieur.service"
        ))
        .unwrap();
        let line = format!("Environment=GLIBC_TUNABLES={UNIT_GLIBC_TUNABLES}");
        assert!(unit.lines().any(|l| l == line), "deploy/crieur.service lacks `{line}`");
    }

    #[test]
    fn reads_its_own_memory_and_cpu() {
        let me = std::process::id();
        let m = memory(me).unwrap();
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib, "{m:?}");
        let before = cpu_time(me).unwrap();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_time(me).unwrap() > before);
        assert!(memory(u32::MAX).is_err());
    }
}
