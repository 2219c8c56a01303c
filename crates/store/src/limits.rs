//! The `server_limits` table: what each channel's server says about its own limits. The same SQL
//! on both backends.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::StoreError;
use crate::machine::ts;
use crieur_core::store::ServerLimits;

/// Upserts one channel's limits: `$1` channel, `$2` instance, `$3` max characters, `$4`
/// characters per URL, `$5` max media, `$6` when read (ms).
pub(crate) const SAVE: &str = "INSERT INTO server_limits
        (channel, instance, max_characters, characters_per_url, max_media, fetched_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (channel) DO UPDATE SET instance = excluded.instance,
        max_characters = excluded.max_characters,
        characters_per_url = excluded.characters_per_url,
        max_media = excluded.max_media, fetched_at = excluded.fetched_at";

/// Every row.
pub(crate) const ALL: &str = "SELECT channel, instance, max_characters, characters_per_url,
        max_media, fetched_at
    FROM server_limits ORDER BY channel";

/// A number the server gave, as a column value.
pub(crate) fn column(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

/// One row of [`ALL`].
pub(crate) fn row<'r, R>(row: &'r R) -> Result<(String, ServerLimits), StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let read = || crate::error::db("reading server limits");
    let channel: String = row.try_get("channel").map_err(read())?;
    let number = |col: &'static str| -> Result<Option<u32>, StoreError> {
        let v: Option<i64> = row.try_get(col).map_err(read())?;
        v.map(|v| {
            u32::try_from(v).map_err(|_| {
                StoreError::Corrupt(format!("server_limits.{col} of {channel} is {v}"))
            })
        })
        .transpose()
    };
    let limits = ServerLimits {
        instance: row.try_get("instance").map_err(read())?,
        max_characters: number("max_characters")?,
        characters_per_url: number("characters_per_url")?,
        max_media: number("max_media")?,
        fetched_at: ts(row.try_get("fetched_at").map_err(read())?)?,
    };
    Ok((channel, limits))
}
