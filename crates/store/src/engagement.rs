//! Engagement snapshots: the SQL (the same on both backends) and the reading of its rows. The
//! [`Store`](crate::Store) methods that run it live in the transaction shell.
//!
//! Snapshots live in their own tables (`snapshots`, `snapshot_failures`, migration 0005): taking
//! one, or failing to, never touches a delivery's state, attempts or lease.

use jiff::{SignedDuration, Timestamp};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::StoreError;
use crate::machine::{network, ts};
use crieur_core::engagement::{Metrics, Snapshot, SnapshotDue};

/// Published posts of channel `$1` whose snapshot may be due at `$2`: published at least `$3`
/// ms ago (the smallest offset), no failure asking to wait past `$2`, and no snapshot yet at the
/// largest offset `$4`. `taken` is the largest offset already taken.
pub(crate) const CANDIDATES: &str = "SELECT d.id, d.channel, d.network, d.remote_id, d.url,
        d.published_at, t.taken, COALESCE(f.failures, 0) AS failures
    FROM deliveries d
    LEFT JOIN (SELECT delivery, MAX(after_ms) AS taken FROM snapshots GROUP BY delivery) t
           ON t.delivery = d.id
    LEFT JOIN snapshot_failures f ON f.delivery = d.id
    WHERE d.channel = $1 AND d.state = 'published' AND d.item = 0
      AND d.remote_id IS NOT NULL AND d.published_at IS NOT NULL
      AND d.published_at <= $2 - $3
      AND COALESCE(f.not_before, 0) <= $2
      AND COALESCE(t.taken, -1) < $4
    ORDER BY d.published_at, d.id";

/// Upserts one snapshot.
pub(crate) const SAVE: &str = "INSERT INTO snapshots
        (delivery, after_ms, fetched_at, likes, reposts, replies, quotes, impressions, clicks)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (delivery, after_ms) DO UPDATE SET fetched_at = excluded.fetched_at,
        likes = excluded.likes, reposts = excluded.reposts, replies = excluded.replies,
        quotes = excluded.quotes, impressions = excluded.impressions, clicks = excluded.clicks";

/// Forgets the failures of delivery `$1`.
pub(crate) const FORGET_FAILURE: &str = "DELETE FROM snapshot_failures WHERE delivery = $1";

/// Records one more failure of delivery `$1`: not due before `$2`, reason `$3`, at `$4`.
pub(crate) const FAILED: &str = "INSERT INTO snapshot_failures
        (delivery, failures, not_before, error, updated_at) VALUES ($1, 1, $2, $3, $4)
    ON CONFLICT (delivery) DO UPDATE SET failures = snapshot_failures.failures + 1,
        not_before = excluded.not_before, error = excluded.error,
        updated_at = excluded.updated_at";

/// The latest snapshot of every delivery.
pub(crate) const LATEST: &str = "SELECT s.delivery, s.after_ms, s.fetched_at, s.likes,
        s.reposts, s.replies, s.quotes, s.impressions, s.clicks
    FROM snapshots s
    WHERE s.after_ms = (SELECT MAX(x.after_ms) FROM snapshots x WHERE x.delivery = s.delivery)
    ORDER BY s.delivery";

fn get<'r, R, T>(row: &'r R, col: &'static str) -> Result<T, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(col).map_err(crate::error::db("reading a snapshot"))
}

fn count(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

/// A stored figure: a count beyond `i64` is stored as the largest one.
pub(crate) fn figure(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// A row of [`LATEST`].
pub(crate) fn snapshot<'r, R>(row: &'r R) -> Result<Snapshot, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Snapshot {
        delivery: get(row, "delivery")?,
        after: SignedDuration::from_millis(get(row, "after_ms")?),
        fetched_at: ts(get(row, "fetched_at")?)?,
        metrics: Metrics {
            likes: count(get(row, "likes")?),
            reposts: count(get(row, "reposts")?),
            replies: count(get(row, "replies")?),
            quotes: count(get(row, "quotes")?),
            impressions: count(get(row, "impressions")?),
            clicks: count(get(row, "clicks")?),
        },
    })
}

/// A row of [`CANDIDATES`], as a due snapshot when one is due at `now` with offsets `after`.
pub(crate) fn due<'r, R>(
    row: &'r R,
    now: Timestamp,
    after: &[SignedDuration],
) -> Result<Option<SnapshotDue>, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let published_at = ts(get(row, "published_at")?)?;
    let age = published_at.duration_until(now);
    let Some(offset) = after.iter().copied().filter(|a| *a <= age).max() else {
        return Ok(None);
    };
    let taken: Option<i64> = get(row, "taken")?;
    if taken.is_some_and(|t| t >= i64::try_from(offset.as_millis()).unwrap_or(i64::MAX)) {
        return Ok(None);
    }
    let net: String = get(row, "network")?;
    let failures: i64 = get(row, "failures")?;
    Ok(Some(SnapshotDue {
        delivery: get(row, "id")?,
        channel: get(row, "channel")?,
        network: network(&net)?,
        remote_id: get(row, "remote_id")?,
        url: get(row, "url")?,
        published_at,
        after: offset,
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
    }))
}
