//! A `crieur run` child process for the end-to-end tests: its stderr in a log file, waits for its
//! "ready" line, signals, and a kill when dropped.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `crieur run`; killed when dropped.
pub struct Daemon {
    child: Child,
    /// Its pid.
    pub pid: u32,
    /// When it was spawned.
    pub spawned: Instant,
    /// The file its stderr goes to.
    pub log: PathBuf,
    exited: Option<ExitStatus>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    /// Spawns `cmd` (a `crieur ... run` command) with stdout discarded and stderr written to
    /// `log`; `f` makes last changes to the command.
    pub fn spawn(mut cmd: Command, log: PathBuf, f: impl FnOnce(&mut Command)) -> Daemon {
        cmd.stdout(Stdio::null()).stderr(Stdio::from(File::create(&log).unwrap()));
        f(&mut cmd);
        let spawned = Instant::now();
        let child = cmd.spawn().unwrap();
        Daemon { pid: child.id(), child, spawned, log, exited: None }
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the "ready" log line; panics (with the log) if it exits or takes longer than
    /// `timeout`. Returns the time from spawn to ready.
    pub async fn ready(&mut self, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains("ready_in_ms") {
                return self.spawned.elapsed();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                self.exited = Some(status);
                panic!("crieur run exited with {status} before ready:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "not ready within {timeout:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait().unwrap() {
            Some(s) => {
                self.exited = Some(s);
                false
            }
            None => true,
        }
    }

    /// SIGKILL, and reap it (nothing when it already exited).
    pub fn kill9(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().unwrap());
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`...).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {}", self.pid);
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exited {
                return Some(s);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                self.exited = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit.
    pub async fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.exited {
            return Some(s);
        }
        self.signal("TERM");
        self.exit(timeout).await
    }
}
