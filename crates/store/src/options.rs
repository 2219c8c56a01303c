use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use crieur_core::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretBox};

use crate::StoreError;

/// The 32-byte key that seals tokens at rest (ChaCha20-Poly1305). Never printed.
pub struct Key(SecretBox<[u8; 32]>);

impl Key {
    /// Reads a key written as standard base64 (what `openssl rand -base64 32` prints;
    /// surrounding whitespace is ignored).
    ///
    /// # Errors
    /// [`StoreError::BadKey`] when the text is not base64 or does not decode to 32 bytes. The
    /// message never repeats the text.
    pub fn from_base64(text: &str) -> Result<Key, StoreError> {
        let bytes = secrecy::zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| {
                StoreError::BadKey(
                    "it is not standard base64: make one with `openssl rand -base64 32`".to_owned(),
                )
            })?,
        );
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            StoreError::BadKey(format!(
                "it decodes to {} bytes, not 32: make one with `openssl rand -base64 32`",
                bytes.len()
            ))
        })?;
        Ok(Key::from_bytes(array))
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(SecretBox::new(Box::new(bytes)))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Key::from_bytes(*self.0.expose_secret())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// How [`open`](crate::open) opens a store.
#[derive(Clone)]
pub struct OpenOptions {
    /// Open for reading only (`validate`, `status`): no migrations, no instance lock, no start-up
    /// rescue; every write method fails with [`StoreError::ReadOnly`]. Default false.
    pub read_only: bool,
    /// Apply the embedded migrations on a read-write open. Default true.
    pub migrate: bool,
    /// SQLite: take the instance lock and rescue orphaned `publishing` rows at start. Default
    /// true: the daemon. False (see [`OpenOptions::for_command`]) opens read-write beside a
    /// running daemon for short commands (`resolve`, `auth`); such a store refuses to claim
    /// (only the lock holder dispatches). Ignored on PostgreSQL, where every instance may
    /// dispatch.
    pub exclusive: bool,
    /// The key that seals tokens. Without it, deliveries work, but saving or loading tokens fails
    /// with [`StoreError::NoKey`].
    pub key: Option<Key>,
    /// Pool size (PostgreSQL default 8, SQLite default 4).
    pub max_connections: Option<u32>,
    /// How long SQLite waits for a lock held by another connection. Default 5 s.
    pub busy_timeout: std::time::Duration,
    /// The clock of the token vault (its `updated_at` and refresh-lock expiry). Default: the
    /// system clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            read_only: false,
            migrate: true,
            exclusive: true,
            key: None,
            max_connections: None,
            busy_timeout: std::time::Duration::from_secs(5),
            clock: Arc::new(SystemClock),
        }
    }
}

impl OpenOptions {
    /// Read-write, migrating, without a key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read-only: for `status` and `validate`.
    pub fn read_only() -> Self {
        OpenOptions { read_only: true, migrate: false, ..Self::default() }
    }

    /// Read-write without the SQLite instance lock: for `crieur resolve` and `crieur auth`,
    /// which may run while the daemon holds the file. Writes wait for the daemon's transactions
    /// (busy timeout); claims are refused.
    pub fn for_command() -> Self {
        OpenOptions { exclusive: false, ..Self::default() }
    }

    /// Sets the token key.
    pub fn with_key(mut self, key: Key) -> Self {
        self.key = Some(key);
        self
    }
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("read_only", &self.read_only)
            .field("migrate", &self.migrate)
            .field("exclusive", &self.exclusive)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("max_connections", &self.max_connections)
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

/// A database URL, parsed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (kept whole: the driver parses it).
    Postgres(String),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            Target::Postgres(u) => write!(f, "Postgres({})", mask_url(u)),
        }
    }
}

impl Target {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, `postgres://...` or `postgresql://...`.
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let bad =
            |reason: &str| StoreError::BadUrl { url: mask_url(url), reason: reason.to_owned() };
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest.contains('?') {
                return Err(bad(
                    "SQLite URL options are not supported: crieur sets its own; write sqlite://PATH",
                ));
            }
            if rest.is_empty() || rest == ":memory:" || rest.starts_with(":memory") {
                return Err(bad(
                    "crieur needs a database file, not an in-memory database: write sqlite://PATH",
                ));
            }
            Ok(Target::Sqlite(PathBuf::from(rest)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_owned()))
        } else {
            Err(bad(
                "use sqlite://PATH (one instance) or postgres://USER@HOST/DB (several instances)",
            ))
        }
    }
}

/// The URL with its password (if any) replaced by `***`, for messages and `Debug`.
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            if parsed.set_password(Some("***")).is_ok() {
                parsed.to_string()
            } else {
                "[unprintable URL]".to_owned()
            }
        }
        Ok(_) => url.to_owned(),
        // Unparsable: print nothing after the scheme, since it may hold a secret.
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://[hidden]"),
            None => "[hidden]".to_owned(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            Target::parse("sqlite://data/crieur.db").unwrap(),
            Target::Sqlite("data/crieur.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///var/lib/crieur/db").unwrap(),
            Target::Sqlite("/var/lib/crieur/db".into())
        );
        assert_eq!(Target::parse("sqlite:crieur.db").unwrap(), Target::Sqlite("crieur.db".into()));
        assert!(matches!(Target::parse("postgres://u@h/db").unwrap(), Target::Postgres(_)));
        assert!(matches!(Target::parse("postgresql://u@h/db").unwrap(), Target::Postgres(_)));
        for bad in ["mysql://h/db", "sqlite::memory:", "sqlite://", "sqlite://x.db?mode=ro", "db"] {
            let err = Target::parse(bad).unwrap_err().to_string();
            assert!(err.contains("sqlite://"), "{bad}: {err}");
        }
    }

    #[test]
    fn passwords_never_print() {
        let url = "postgres://crieur:s3cr3t@db.example:5432/crieur";
        assert_eq!(mask_url(url), "postgres://crieur:***@db.example:5432/crieur");
        let target = Target::parse(url).unwrap();
        assert!(!format!("{target:?}").contains("s3cr3t"));
        let err = Target::parse("mysql://root:s3cr3t@h/db").unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn keys_decode_from_base64_and_never_print() {
        let key = Key::from_base64(" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
        assert_eq!(key.bytes()[31], 31);
        assert_eq!(format!("{key:?}"), "Key([redacted])");
        let opts = OpenOptions::new().with_key(key);
        assert!(format!("{opts:?}").contains("[redacted]"));
        let short = Key::from_base64("AAEC").unwrap_err().to_string();
        assert!(short.contains("3 bytes, not 32") && short.contains("openssl rand"), "{short}");
        let junk = Key::from_base64("not base64 at all!").unwrap_err().to_string();
        assert!(junk.contains("base64") && !junk.contains("at all"), "{junk}");
    }
}
