//! `crieur migrate`: apply the database migrations.

use crate::Outcome;
use crate::commands::Context;

/// Applies the migrations of the configured database.
///
/// # Errors
/// When the config is invalid or the database cannot be reached or migrated.
pub fn run(ctx: &Context) -> anyhow::Result<Outcome> {
    let config = ctx.load_config()?;
    let rt = crate::commands::runtime()?;
    rt.block_on(crieur_store::migrate(&config.storage.url))?;
    eprintln!("database at {} is up to date", crieur_store::mask_url(&config.storage.url));
    Ok(Outcome::Success)
}
