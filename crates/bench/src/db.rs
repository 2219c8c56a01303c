//! Databases for the runs: scratch PostgreSQL databases (created, then dropped) and a counter of
//! published deliveries that reads the daemon's database beside it.

use std::path::Path;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

use crate::BenchError;

/// The PostgreSQL server runs use: `CRIEUR_TEST_DATABASE_URL`, else
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn admin_url() -> String {
    std::env::var("CRIEUR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one run on the server of `admin_url`, with a name no other run uses.
#[derive(Debug)]
pub struct ScratchDb {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDb {
    /// Creates `crieur_bench_{pid}_{n}` (dropping a leftover of the same name first).
    ///
    /// # Errors
    /// [`BenchError::Invalid`] for an admin URL that does not parse; [`BenchError::Database`]
    /// when the server is unreachable or refuses.
    pub async fn create(admin_url: &str, n: usize) -> Result<ScratchDb, BenchError> {
        let name = format!("crieur_bench_{}_{n}", std::process::id());
        let mut url = url::Url::parse(admin_url)
            .map_err(|e| BenchError::Invalid(format!("the PostgreSQL URL does not parse: {e}")))?;
        url.set_path(&format!("/{name}"));
        let admin = connect_admin(admin_url).await?;
        let result = async {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&admin)
            .await
            .map_err(|source| BenchError::Database { what: "dropping a leftover", source })?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .map_err(|source| BenchError::Database { what: "creating a database", source })
        }
        .await;
        admin.close().await;
        result?;
        Ok(ScratchDb { admin_url: admin_url.to_owned(), name, url: url.to_string() })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops it (closing the connections still open to it).
    ///
    /// # Errors
    /// [`BenchError::Database`].
    pub async fn drop_now(self) -> Result<(), BenchError> {
        let admin = connect_admin(&self.admin_url).await?;
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&admin)
        .await
        .map_err(|source| BenchError::Database { what: "dropping a database", source });
        admin.close().await;
        r.map(|_| ())
    }
}

async fn connect_admin(url: &str) -> Result<PgPool, BenchError> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|source| BenchError::Database {
            what: "connecting to PostgreSQL (set CRIEUR_TEST_DATABASE_URL)",
            source,
        })
}

/// Counts deliveries by state in a daemon's database, read-only, with one connection.
#[derive(Debug, Clone)]
pub enum Counter {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

const PUBLISHED: &str = "SELECT count(*) FROM deliveries WHERE state = 'published'";
const ALL: &str = "SELECT count(*) FROM deliveries";

impl Counter {
    /// Opens the SQLite file at `path` read-only.
    ///
    /// # Errors
    /// [`BenchError::Database`].
    pub async fn sqlite(path: &Path) -> Result<Counter, BenchError> {
        let opts = SqliteConnectOptions::new().filename(path).read_only(true);
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map(Counter::Sqlite)
            .map_err(|source| BenchError::Database { what: "opening the SQLite file", source })
    }

    /// Connects to the PostgreSQL database at `url`.
    ///
    /// # Errors
    /// [`BenchError::Database`].
    pub async fn postgres(url: &str) -> Result<Counter, BenchError> {
        PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map(Counter::Postgres)
            .map_err(|source| BenchError::Database { what: "connecting to the database", source })
    }

    async fn count(&self, sql: &'static str) -> Result<i64, BenchError> {
        let r = match self {
            Counter::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
            Counter::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        };
        r.map_err(|source| BenchError::Database { what: "counting deliveries", source })
    }

    /// How many deliveries are `published`.
    ///
    /// # Errors
    /// [`BenchError::Database`].
    pub async fn published(&self) -> Result<u64, BenchError> {
        self.count(PUBLISHED).await.map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// How many deliveries there are in all.
    ///
    /// # Errors
    /// [`BenchError::Database`].
    pub async fn total(&self) -> Result<u64, BenchError> {
        self.count(ALL).await.map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            Counter::Sqlite(p) => p.close().await,
            Counter::Postgres(p) => p.close().await,
        }
    }
}
