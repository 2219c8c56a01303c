use std::path::PathBuf;

/// The cause a backend wraps: its driver's error, boxed so this contract names no database.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the store. Messages say what happened and what to do; none
/// carries a token, a key or a database password. A wrapped cause is returned by
/// [`source()`](std::error::Error::source) and never repeated in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not one crieur understands.
    #[error("database URL {url:?}: {reason}")]
    BadUrl {
        /// The URL, with any password masked.
        url: String,
        /// What is wrong and what to write instead.
        reason: String,
    },

    /// Another process holds the SQLite database's instance lock.
    #[error(
        "another crieur instance is using {} (pid {}?): stop it first, or use PostgreSQL to run several instances",
        path.display(),
        pid.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// The pid the holder wrote into the lock file, when readable.
        pid: Option<u32>,
    },

    /// A read-only open found no database file.
    #[error("no database at {}: run `crieur migrate` (or `crieur run`) to create it", path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },

    /// A file next to the database (the lock file) could not be used.
    #[error("cannot use {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The database refused or failed an operation.
    #[error("database error while {context}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: Cause,
    },

    /// Applying the migrations failed.
    #[error("applying database migrations")]
    Migrate(#[source] Cause),

    /// The database has no crieur schema (read-only opens do not migrate).
    #[error("the database {0} has no crieur tables: run `crieur migrate` first")]
    NoSchema(String),

    /// A write was asked of a store opened read-only.
    #[error(
        "the database was opened read-only (for status or validate); {0} needs a read-write open"
    )]
    ReadOnly(&'static str),

    /// A SQLite store opened without the instance lock (`OpenOptions::for_command` in
    /// `crieur-store`) was asked to dispatch.
    #[error(
        "{0} needs the SQLite instance lock: only the daemon's store (opened exclusive) dispatches"
    )]
    NotExclusive(&'static str),

    /// The caller passed something the store cannot record.
    #[error("invalid input: {0}")]
    Invalid(String),

    /// No delivery matches the (post, channel) given.
    #[error(
        "no delivery of post {post:?} on channel {channel:?}: check both names with `crieur status`"
    )]
    NotFound {
        /// The post id.
        post: String,
        /// The channel name.
        channel: String,
    },

    /// `resolve` was asked for a delivery that is neither `unknown` nor `failed`.
    #[error(
        "post {post:?} on channel {channel:?} is {state}: `crieur resolve` only settles unknown or failed deliveries"
    )]
    NotResolvable {
        /// The post id.
        post: String,
        /// The channel name.
        channel: String,
        /// Its current state(s), as `status` shows them.
        state: String,
    },

    /// A row holds a value the store never writes (the database was edited by hand, or is newer
    /// than this crieur).
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),

    /// No encryption key is configured, and tokens must be sealed or opened.
    #[error(
        "no key to encrypt tokens at rest: make one with `openssl rand -base64 32`, store it as a secret \
         (for example a systemd credential) and point `[storage] key` at it, e.g. `key = \"credential:crieur-key\"`"
    )]
    NoKey,

    /// The encryption key is malformed.
    #[error("the token key is not valid: {0}")]
    BadKey(String),

    /// Stored tokens could not be decrypted (wrong key, or altered row).
    #[error(
        "the stored tokens of channel {channel:?} cannot be decrypted with the configured key: \
         was `[storage] key` changed? restore it, or run `crieur auth {channel}` again"
    )]
    Decrypt {
        /// The channel.
        channel: String,
    },
}

/// A vault error carries text only: the message and each of its causes, joined once.
impl From<StoreError> for crate::VaultError {
    fn from(e: StoreError) -> Self {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        crate::VaultError(text)
    }
}

/// A ledger error keeps the store's error, with its causes, as its source.
impl From<StoreError> for crate::LedgerError {
    fn from(e: StoreError) -> Self {
        crate::LedgerError(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::StoreError;

    fn cause() -> super::Cause {
        Box::new(std::io::Error::other("connection reset by peer"))
    }

    #[test]
    fn a_wrapped_cause_is_returned_by_source_and_not_repeated_in_the_message() {
        let e = StoreError::Database { context: "claiming deliveries", source: cause() };
        assert_eq!(e.to_string(), "database error while claiming deliveries");
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("connection reset by peer")
        );
        let io =
            StoreError::Io { path: "/db.lock".into(), source: std::io::Error::other("denied") };
        assert!(!io.to_string().contains("denied"), "{io}");
        assert!(io.source().is_some());
        let m = StoreError::Migrate(cause());
        assert!(!m.to_string().contains("reset"), "{m}");
        assert!(m.source().is_some());
    }

    #[test]
    fn a_vault_error_keeps_the_message_and_its_cause_once() {
        let e = StoreError::Database { context: "reading tokens", source: cause() };
        let vault = crate::VaultError::from(e);
        assert_eq!(vault.0, "database error while reading tokens: connection reset by peer");
    }
}
