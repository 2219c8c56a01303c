//! Wrapping the driver's errors into [`StoreError`], whose cause is returned by `source()`.

use crieur_core::store::StoreError;

/// Wraps a driver error met while doing `context`.
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source: Box::new(source) }
}

/// Wraps a failed migration.
pub(crate) fn migrate(source: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migrate(Box::new(source))
}
