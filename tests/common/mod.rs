//! Helpers shared by the end-to-end tests.

pub mod daemon;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example config shipped in `config/`, relative to [`root`] (the working directory of
/// [`crieur`]), so that places in the output read `config/posts/...` on every machine.
pub fn example_config() -> PathBuf {
    PathBuf::from("config/crieur.toml")
}

/// A fixed "now" for reproducible output: Thursday 2026-11-26, 10:00 in Paris.
pub const NOW: &str = "2026-11-26T09:00:00Z";

/// A `crieur` command with a clean environment for config lookup.
pub fn crieur() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crieur"));
    cmd.env_remove("CRIEUR_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env("RUST_LOG", "warn")
        .current_dir(root());
    cmd
}

/// Runs `crieur` with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    crieur().args(args).output().expect("the crieur binary runs")
}

/// Stdout as UTF-8.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Stderr as UTF-8.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Writes `files` (relative path, contents) under a new temporary folder and returns it.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, contents) in files {
        write(dir.path(), rel, contents.as_bytes());
    }
    dir
}

/// Writes `bytes` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Serializes the tests of this binary that use PostgreSQL: the load is heavy, and some restart
/// a server. Hold the guard for the whole test.
pub async fn postgres_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// A fresh, empty PostgreSQL database for one test (dropped by [`drop_database`]) on the tests'
/// server: `CRIEUR_TEST_DATABASE_URL`, else this binary's throwaway cluster.
pub async fn create_database(prefix: &str) -> (String, String) {
    create_database_on(&crieur_testkit::postgres::server_url(), prefix).await
}

/// As [`create_database`], on the server of the admin URL `admin`.
pub async fn create_database_on(admin: &str, prefix: &str) -> (String, String) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is not reachable ({e}); these tests need it: check CRIEUR_TEST_DATABASE_URL, or unset it to use a throwaway cluster")
    });
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE template0")))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    (format!("{base}/{name}"), name)
}

/// Drops a database made by [`create_database`] (its connections are closed by force).
pub async fn drop_database(name: &str) {
    use sqlx::Connection as _;
    let admin = crieur_testkit::postgres::server_url();
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}
