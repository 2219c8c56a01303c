//! A throwaway PostgreSQL cluster for tests, from the system's `initdb` and `pg_ctl`.
//!
//! Hand-written rather than taken from a crate (`pgtemp` and the like): they stop their cluster
//! on `Drop`, which a test binary's shared `static` never runs, and they cannot run `initdb` as
//! the `postgres` user when the tests run as root (initdb refuses root).
//!
//! [`server_url`] is what most tests want: `CRIEUR_TEST_DATABASE_URL` when it is set, else the
//! test binary's [`shared`] cluster. Tests that restart the server start a [`Cluster`] of their
//! own, whatever `CRIEUR_TEST_DATABASE_URL` says, so that no other server is ever bounced.

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable that points the tests at a given server instead.
pub const URL_VAR: &str = "CRIEUR_TEST_DATABASE_URL";

/// The Debian package that provides `initdb` and `pg_ctl`.
pub const PACKAGE: &str = "postgresql";

/// The admin URL of the server tests create their databases on: `CRIEUR_TEST_DATABASE_URL` when
/// set, else the [`shared`] throwaway cluster (started on first use).
///
/// # Panics
/// When no cluster can be started (the message names what to install).
pub fn server_url() -> String {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => shared().url(),
    }
}

/// The test binary's own cluster, started on first use and shared by every test of the binary.
/// It is stopped, and its folder removed, once the test process is gone.
///
/// # Panics
/// When the cluster cannot be started.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(Cluster::start)
}

/// A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 on a free port (trust
/// authentication, superuser `postgres`). Stopped and removed when dropped, or when the process
/// that started it is gone.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
    /// The server's options (`pg_ctl -o`), given again by [`Cluster::resume`].
    options: String,
    /// The watcher's stdin: when it closes (this value dropped, or the process gone), the
    /// watcher stops the cluster and removes the folder.
    watcher: Option<Child>,
}

impl Cluster {
    /// Makes a cluster with `initdb` and starts it with `pg_ctl`.
    ///
    /// # Panics
    /// When `initdb` or `pg_ctl` cannot be found (the message names the Debian package), or
    /// when they fail (the message holds their output).
    pub fn start() -> Cluster {
        let bin = binaries();
        let dir = tempfile::Builder::new()
            .prefix("crieur-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a folder for a PostgreSQL cluster: {e}"))
            .keep();
        let as_postgres = std::fs::metadata(&dir).map(|m| m.uid() == 0).unwrap_or(false);
        if as_postgres {
            let (uid, gid) = postgres_user();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", dir.display()));
        }
        let mut cluster =
            Cluster { dir, port: 0, bin, as_postgres, options: String::new(), watcher: None };
        cluster.watcher = Some(cluster.watch());
        let initdb = "-D data -U postgres -A trust -E UTF8 --locale=C --no-sync";
        cluster.run("initdb", &initdb.split(' ').collect::<Vec<_>>());
        // The port is free when picked, but may be taken before the server binds it: try again.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            let options = format!(
                "-p {} -h 127.0.0.1 -k {} -c max_connections=200 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off",
                cluster.port,
                cluster.dir.display()
            );
            match cluster
                .try_run("pg_ctl", &["-D", "data", "-l", "log", "-w", "-o", &options, "start"])
            {
                Ok(()) => {
                    cluster.options = options;
                    return cluster;
                }
                Err(e) => last = e,
            }
        }
        panic!("pg_ctl start failed five times; last:\n{last}")
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin URL: `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Restarts the server (`pg_ctl restart -m fast`, waiting until it accepts connections
    /// again); returns how long it took.
    ///
    /// # Panics
    /// When `pg_ctl` fails.
    pub fn restart(&self) -> Duration {
        let began = Instant::now();
        self.run("pg_ctl", &["-D", "data", "-l", "log", "-w", "-m", "fast", "restart"]);
        began.elapsed()
    }

    /// Stops the server (`pg_ctl stop -m fast`, waiting until it is down): connections are
    /// refused until [`Cluster::resume`].
    ///
    /// # Panics
    /// When `pg_ctl` fails.
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", "data", "-l", "log", "-w", "-m", "fast", "stop"]);
    }

    /// Starts a server stopped by [`Cluster::stop`] again, on the same port, waiting until it
    /// accepts connections.
    ///
    /// # Panics
    /// When `pg_ctl` fails.
    pub fn resume(&self) {
        self.run("pg_ctl", &["-D", "data", "-l", "log", "-w", "-o", &self.options, "start"]);
    }

    /// `program` of the PostgreSQL binaries, run in the cluster's folder (as `postgres` when
    /// this process is root), its output to a file of the folder.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // Its own process group: a Ctrl-C meant for the tests does not stop the server early.
        cmd.current_dir(&self.dir).stdin(Stdio::null()).process_group(0);
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) {
        if let Err(e) = self.try_run(program, args) {
            panic!("{e}")
        }
    }

    /// Runs `program ARGS`; on failure, the error holds its output and the server log.
    fn try_run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let out_path = self.dir.join(format!("{program}.out"));
        let out = std::fs::File::create(&out_path)
            .map_err(|e| format!("creating {}: {e}", out_path.display()))?;
        let err = out.try_clone().map_err(|e| format!("{}: {e}", out_path.display()))?;
        // Output to a file, not a pipe: the server started by pg_ctl would hold a pipe open.
        let status = self
            .command(program)
            .args(args)
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| format!("running {}: {e}", self.bin.join(program).display()))?;
        if status.success() {
            return Ok(());
        }
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        Err(format!(
            "{program} {} exited with {status}:\n{output}\nserver log:\n{log}",
            args.join(" ")
        ))
    }

    /// Starts the watcher: a shell that ignores the terminal's signals and waits for its stdin
    /// to close, then stops the server and removes the folder.
    fn watch(&self) -> Child {
        let stop = self.command("pg_ctl");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                "trap '' INT HUP TERM QUIT; cat >/dev/null; dir=$1; shift; \
                 \"$@\" -D \"$dir/data\" -m immediate -w stop >/dev/null 2>&1; rm -rf \"$dir\"",
            )
            .arg("crieur-pg-watcher")
            .arg(&self.dir)
            .arg(stop.get_program())
            .args(stop.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        cmd.spawn().unwrap_or_else(|e| panic!("starting the cluster's watcher (sh): {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut watcher) = self.watcher.take() {
            if let Some(mut stdin) = watcher.stdin.take() {
                let _ = stdin.flush();
            }
            let _ = watcher.wait();
        }
    }
}

/// The folder holding `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/*/bin` (Debian),
/// else the first folder of `PATH` that has both.
fn binaries() -> PathBuf {
    let both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| both(bin))
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return bin;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(bin) = std::env::split_paths(&path).find(|dir| both(dir)) {
        return bin;
    }
    panic!(
        "these tests start a throwaway PostgreSQL cluster, but initdb and pg_ctl are neither under \
         /usr/lib/postgresql/*/bin nor on PATH: install the Debian package `{PACKAGE}` \
         (apt-get install {PACKAGE})"
    )
}

/// The uid and gid of the `postgres` system user.
fn postgres_user() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap_or_else(|e| panic!("running id {flag} postgres: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        match (out.status.success(), text.trim().parse()) {
            (true, Ok(n)) => n,
            _ => panic!(
                "running as root: initdb refuses root and there is no `postgres` user to run it \
                 as (the Debian package `{PACKAGE}` creates it): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    };
    (id("-u"), id("-g"))
}

/// A port of 127.0.0.1 free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("finding a free port on 127.0.0.1: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn accepts_connections(port: u16) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }

    #[test]
    fn a_cluster_listens_restarts_and_is_gone_once_dropped() {
        let cluster = Cluster::start();
        let (port, dir) = (cluster.port(), cluster.dir.clone());
        assert!(accepts_connections(port));
        assert!(dir.join("data/PG_VERSION").is_file());
        assert_eq!(cluster.url(), format!("postgres://postgres@127.0.0.1:{port}/postgres"));
        cluster.restart();
        assert!(accepts_connections(port));
        cluster.stop();
        assert!(!accepts_connections(port), "stopped");
        cluster.resume();
        assert!(accepts_connections(port), "resumed on the same port");
        drop(cluster);
        assert!(!accepts_connections(port), "the server is stopped");
        assert!(!dir.exists(), "the folder is removed");
    }

    #[test]
    fn the_shared_cluster_is_started_once() {
        assert_eq!(shared().port(), shared().port());
        assert!(accepts_connections(shared().port()));
    }
}
