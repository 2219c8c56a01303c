//! Helpers shared by the end-to-end tests.

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
