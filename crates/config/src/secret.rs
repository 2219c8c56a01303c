//! Secret references (`env:`, `file:`, `credential:`) and their resolution.
//!
//! The config only ever holds a reference; the value is read when an adapter needs it and goes
//! straight into a [`SecretString`]. No error built here contains a secret value: a literal written
//! where a reference belongs is refused without being echoed.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::types::SecretRef;

/// The largest secret file read: 64 KiB (tokens and keys are far smaller).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Why a secret reference could not be read or resolved. Never contains the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A literal (or unknown prefix) where a reference belongs.
    #[error(
        "a secret is never written in the config: write `env:NAME`, `file:PATH` or `credential:NAME` and put the value there"
    )]
    Literal,
    /// A reference whose name part is empty or malformed.
    #[error("secret reference `{kind}:` {reason}")]
    Malformed {
        /// `env`, `file` or `credential`.
        kind: &'static str,
        /// What is wrong, and an example.
        reason: &'static str,
    },
    /// `env:NAME` and the variable is not set.
    #[error(
        "environment variable {name} is not set (secret reference env:{name}): set it in the service's environment"
    )]
    EnvMissing {
        /// The variable.
        name: String,
    },
    /// `env:NAME` and the variable is not valid Unicode.
    #[error("environment variable {name} is not valid UTF-8")]
    EnvNotUnicode {
        /// The variable.
        name: String,
    },
    /// The secret file (or credential) could not be opened or read.
    #[error("cannot read secret file {path}: {reason}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's explanation.
        reason: String,
    },
    /// `file:PATH` is readable or writable by group or others.
    #[error(
        "secret file {path} is accessible to group or others (mode {mode:04o}): run `chmod 600 {path}`",
        path = .path.display()
    )]
    Mode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The secret file is not a regular file, is too large, or is not UTF-8 text.
    #[error("secret file {path} {reason}", path = .path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// `credential:NAME` outside systemd.
    #[error(
        "credential:{name} needs $CREDENTIALS_DIRECTORY, which systemd sets for LoadCredential= (add `LoadCredential={name}:/path/to/file` to the unit); outside systemd use env: or file:"
    )]
    NoCredentialsDirectory {
        /// The credential.
        name: String,
    },
    /// The reference resolved to an empty value.
    #[error("secret {reference} is empty")]
    Empty {
        /// The reference (never the value).
        reference: String,
    },
}

impl SecretRef {
    /// Reads a reference as written in the config: `env:NAME`, `file:PATH` or `credential:NAME`.
    ///
    /// # Errors
    /// [`SecretError::Literal`] for anything else (the message does not repeat the input, which may
    /// be a real secret), [`SecretError::Malformed`] for an empty or invalid name.
    pub fn parse(s: &str) -> Result<SecretRef, SecretError> {
        if let Some(name) = s.strip_prefix("env:") {
            let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(SecretError::Malformed {
                    kind: "env",
                    reason: "needs a variable name of letters, digits and `_`, like env:X_ACCESS_TOKEN",
                });
            }
            Ok(SecretRef::Env(name.to_owned()))
        } else if let Some(path) = s.strip_prefix("file:") {
            if path.trim().is_empty() {
                return Err(SecretError::Malformed {
                    kind: "file",
                    reason: "needs a path, like file:secrets/x-token (relative to the config's folder)",
                });
            }
            Ok(SecretRef::File(PathBuf::from(path)))
        } else if let Some(name) = s.strip_prefix("credential:") {
            let valid = !name.is_empty()
                && name != "."
                && name != ".."
                && !name.contains(['/', '\\', '\0'])
                && !name.chars().any(char::is_whitespace);
            if !valid {
                return Err(SecretError::Malformed {
                    kind: "credential",
                    reason: "needs a credential name without `/` or spaces, like credential:x-refresh",
                });
            }
            Ok(SecretRef::Credential(name.to_owned()))
        } else {
            Err(SecretError::Literal)
        }
    }

    /// Reads the secret. `file:` paths are relative to `base_dir` (the config's folder); a trailing
    /// newline is trimmed from files and credentials.
    ///
    /// # Errors
    /// [`SecretError`]: an unset variable (named), a missing or unreadable file, a file readable or
    /// writable by group or others (with the `chmod 600` to run), `$CREDENTIALS_DIRECTORY` unset, an
    /// empty value.
    pub fn resolve(&self, base_dir: &Path) -> Result<SecretString, SecretError> {
        self.resolve_with(base_dir, &|name| std::env::var_os(name))
    }

    /// [`SecretRef::resolve`] with the environment given as a function (tests cannot safely change
    /// the process environment).
    pub(crate) fn resolve_with(
        &self,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<SecretString, SecretError> {
        let value = match self {
            SecretRef::Env(name) => env(name)
                .ok_or_else(|| SecretError::EnvMissing { name: name.clone() })?
                .into_string()
                .map_err(|_| SecretError::EnvNotUnicode { name: name.clone() })?,
            SecretRef::File(path) => {
                let path = base_dir.join(path);
                read_secret_file(&path, true)?
            }
            SecretRef::Credential(name) => {
                let dir = env("CREDENTIALS_DIRECTORY")
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| SecretError::NoCredentialsDirectory { name: name.clone() })?;
                // systemd makes credential files private to the service; their mode is its business.
                read_secret_file(&Path::new(&dir).join(name), false)?
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty { reference: self.to_string() });
        }
        Ok(SecretString::from(value))
    }
}

impl std::fmt::Display for SecretRef {
    /// The reference as written in the config (`env:NAME`...); never a value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
            SecretRef::Credential(n) => write!(f, "credential:{n}"),
        }
    }
}

/// Checks that an existing secret file is not accessible to group or others. A file that does not
/// exist yet passes (it is checked again when read): `validate` runs in CI, where secrets are absent.
pub(crate) fn check_file_mode(path: &Path) -> Result<(), SecretError> {
    match std::fs::metadata(path) {
        Ok(meta) => check_mode(path, &meta),
        Err(_) => Ok(()),
    }
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::Mode { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), SecretError> {
    Ok(())
}

fn read_secret_file(path: &Path, check_permissions: bool) -> Result<String, SecretError> {
    let read_err =
        |e: std::io::Error| SecretError::Read { path: path.to_owned(), reason: e.to_string() };
    // Look before opening: opening a FIFO would block until a writer comes.
    if !std::fs::metadata(path).map_err(read_err)?.is_file() {
        return Err(SecretError::Content {
            path: path.to_owned(),
            reason: "is not a regular file",
        });
    }
    let file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(SecretError::Content {
            path: path.to_owned(),
            reason: "is not a regular file",
        });
    }
    if check_permissions {
        check_mode(path, &meta)?;
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_BYTES + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(SecretError::Content {
            path: path.to_owned(),
            reason: "is larger than 64 KiB",
        });
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| SecretError::Content { path: path.to_owned(), reason: "is not UTF-8 text" })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn parse_references_and_refuse_literals_without_echoing_them() {
        assert_eq!(SecretRef::parse("env:X_TOKEN").unwrap(), SecretRef::Env("X_TOKEN".into()));
        assert_eq!(SecretRef::parse("file:s/x").unwrap(), SecretRef::File("s/x".into()));
        assert_eq!(
            SecretRef::parse("credential:x-refresh").unwrap(),
            SecretRef::Credential("x-refresh".into())
        );
        let e = SecretRef::parse("sk-live-abcdef123456").unwrap_err();
        assert_eq!(e, SecretError::Literal);
        assert!(!e.to_string().contains("abcdef"));
        assert!(e.to_string().contains("`env:NAME`, `file:PATH` or `credential:NAME`"));
        for bad in [
            "env:",
            "env:1X",
            "env:A-B",
            "file:",
            "credential:",
            "credential:../x",
            "credential:a b",
        ] {
            assert!(matches!(SecretRef::parse(bad), Err(SecretError::Malformed { .. })), "{bad}");
        }
        assert_eq!(
            SecretRef::parse("credential:x-refresh").unwrap().to_string(),
            "credential:x-refresh"
        );
    }

    #[test]
    fn env_references_resolve_or_name_the_variable() {
        let env = |n: &str| (n == "TOKEN").then(|| OsString::from("s3cr3t"));
        let r = SecretRef::Env("TOKEN".into());
        assert_eq!(r.resolve_with(Path::new("."), &env).unwrap().expose_secret(), "s3cr3t");
        let e = SecretRef::Env("MISSING".into()).resolve_with(Path::new("."), &env).unwrap_err();
        assert_eq!(e, SecretError::EnvMissing { name: "MISSING".into() });
        assert!(e.to_string().contains("MISSING"));
        let empty = |_: &str| Some(OsString::new());
        assert!(matches!(r.resolve_with(Path::new("."), &empty), Err(SecretError::Empty { .. })));
        // The real process environment: PATH is always set in a test run, and its value is returned.
        let path = std::env::var("PATH").unwrap();
        let got = SecretRef::Env("PATH".into()).resolve(Path::new(".")).unwrap();
        assert_eq!(got.expose_secret(), path);
    }

    #[cfg(unix)]
    #[test]
    fn file_references_check_mode_and_trim_one_newline() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "tok-value\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = SecretRef::File("token".into());
        let e = r.resolve_with(dir.path(), &no_env).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&format!("chmod 600 {}", path.display())), "{msg}");
        assert!(msg.contains("0644") && !msg.contains("tok-value"), "{msg}");
        assert!(check_file_mode(&path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_file_mode(&path).is_ok());
        assert_eq!(r.resolve_with(dir.path(), &no_env).unwrap().expose_secret(), "tok-value");
        // A missing file passes the load-time check but not resolution.
        assert!(check_file_mode(&dir.path().join("absent")).is_ok());
        let e = SecretRef::File("absent".into()).resolve_with(dir.path(), &no_env).unwrap_err();
        assert!(matches!(e, SecretError::Read { .. }), "{e}");
        // Too large, and not a regular file.
        std::fs::write(&path, vec![b'a'; 70 * 1024]).unwrap();
        assert!(r.resolve_with(dir.path(), &no_env).unwrap_err().to_string().contains("64 KiB"));
        let e = SecretRef::File(".".into()).resolve_with(dir.path(), &no_env).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn credentials_come_from_the_systemd_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crieur-key"), "a2V5\r\n").unwrap();
        let d = dir.path().as_os_str().to_owned();
        let env = move |n: &str| (n == "CREDENTIALS_DIRECTORY").then(|| d.clone());
        let r = SecretRef::Credential("crieur-key".into());
        assert_eq!(r.resolve_with(Path::new("/elsewhere"), &env).unwrap().expose_secret(), "a2V5");
        let e = r.resolve_with(Path::new("."), &no_env).unwrap_err();
        assert!(e.to_string().contains("LoadCredential="), "{e}");
        let e =
            SecretRef::Credential("other".into()).resolve_with(Path::new("."), &env).unwrap_err();
        assert!(matches!(e, SecretError::Read { .. }));
    }
}
