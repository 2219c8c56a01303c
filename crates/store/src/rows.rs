//! Reading rows, once for both backends: the column names and types are the same in both
//! schemas (integers are 64-bit, instants are milliseconds).

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::machine::{Current, Existing, RawClaim, count, network, state_from_db, ts, ts_opt};
use crate::{ChannelStatus, HistoryEntry, Placed, State, StatusRow, StoreError};

fn get<'r, R, T>(row: &'r R, col: &'static str) -> Result<T, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(col).map_err(crate::error::db("reading a row"))
}

/// A claimed delivery (`reply_to` read when the statement returns it).
pub(crate) fn raw_claim<'r, R>(row: &'r R, with_reply_to: bool) -> Result<RawClaim, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(RawClaim {
        id: get(row, "id")?,
        post: get(row, "post")?,
        channel: get(row, "channel")?,
        item: get(row, "item")?,
        network: get(row, "network")?,
        text: get(row, "text")?,
        link: get(row, "link")?,
        payload: get(row, "payload")?,
        media: get(row, "media")?,
        attempt: get(row, "attempt")?,
        due_at: get(row, "due_at")?,
        attempt_started_at: get(row, "attempt_started_at")?,
        maybe_sent_since: get(row, "maybe_sent_since")?,
        first_unknown_at: get(row, "first_unknown_at")?,
        lease_expires_at: get(row, "lease_expires_at")?,
        reply_to: if with_reply_to { get(row, "reply_to")? } else { None },
    })
}

/// A row as a completion reads it.
pub(crate) fn current<'r, R>(row: &'r R) -> Result<Current, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Current {
        id: get(row, "id")?,
        network: get(row, "network")?,
        state: get(row, "state")?,
        attempt: get(row, "attempt")?,
        retries_from: get(row, "retries_from")?,
        lease_owner: get(row, "lease_owner")?,
        attempt_started_at: get(row, "attempt_started_at")?,
        maybe_sent_since: get(row, "maybe_sent_since")?,
        first_unknown_at: get(row, "first_unknown_at")?,
        error: get(row, "error")?,
    })
}

/// A row as `sync` compares it.
pub(crate) fn existing<'r, R>(row: &'r R) -> Result<Existing, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Existing {
        id: get(row, "id")?,
        state: get(row, "state")?,
        content_hash: get(row, "content_hash")?,
        due_at: get(row, "due_at")?,
        cancelled_by: get(row, "cancelled_by")?,
    })
}

/// A `status` row.
pub(crate) fn status_row<'r, R>(row: &'r R) -> Result<StatusRow, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let state: String = get(row, "state")?;
    Ok(StatusRow {
        id: get(row, "id")?,
        post: get(row, "post")?,
        channel: get(row, "channel")?,
        item: count(get(row, "item")?, "thread item")?,
        network: network(&get::<R, String>(row, "network")?)?,
        state: state_from_db(&state)?,
        reconciling: state == "reconciling",
        due_at: ts(get(row, "due_at")?)?,
        not_before: ts_opt(get(row, "not_before")?)?,
        published_at: ts_opt(get(row, "published_at")?)?,
        remote_id: get(row, "remote_id")?,
        url: get(row, "url")?,
        attempts: count(get(row, "attempt")?, "attempt")?,
        error: get(row, "error")?,
    })
}

/// Item 0 of a (post, channel), for laying the calendar.
pub(crate) fn placed<'r, R>(row: &'r R) -> Result<Placed, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Placed {
        post: get(row, "post")?,
        channel: get(row, "channel")?,
        state: state_from_db(&get::<R, String>(row, "state")?)?,
        due_at: ts(get(row, "due_at")?)?,
    })
}

/// A channel of `status`.
pub(crate) fn channel_status<'r, R>(row: &'r R) -> Result<ChannelStatus, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let hold_until: Option<i64> = get(row, "hold_until")?;
    let hold_reason: Option<String> = get(row, "hold_reason")?;
    Ok(ChannelStatus {
        channel: get(row, "channel")?,
        token_expires_at: ts_opt(get(row, "token_expires_at")?)?,
        has_tokens: get(row, "has_tokens")?,
        revoked: get(row, "revoked_reason")?,
        hold: match hold_until {
            Some(until) => Some((ts(until)?, hold_reason.unwrap_or_default())),
            None => None,
        },
    })
}

/// A `history` entry.
pub(crate) fn history_entry<'r, R>(row: &'r R) -> Result<HistoryEntry, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(HistoryEntry {
        post: get(row, "post")?,
        channel: get(row, "channel")?,
        item: count(get(row, "item")?, "thread item")?,
        network: network(&get::<R, String>(row, "network")?)?,
        published_at: ts(get(row, "published_at")?)?,
        text: get(row, "text")?,
        remote_id: get(row, "remote_id")?,
        url: get(row, "url")?,
    })
}

/// The row `resolve` acts on: the earliest unknown, reconciling or failed item.
pub(crate) struct Resolvable {
    pub id: String,
    pub item: u32,
    pub state: State,
}

/// Picks the row to resolve among the (post, channel) rows `(id, item, state)`, by item.
pub(crate) fn resolvable<R>(post: &str, channel: &str, rows: &[R]) -> Result<Resolvable, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    if rows.is_empty() {
        return Err(StoreError::NotFound { post: post.to_owned(), channel: channel.to_owned() });
    }
    let mut states = Vec::new();
    for row in rows {
        let state: String = get(row, "state")?;
        if matches!(state.as_str(), "unknown" | "reconciling" | "failed") {
            return Ok(Resolvable {
                id: get(row, "id")?,
                item: count(get(row, "item")?, "thread item")?,
                state: state_from_db(&state)?,
            });
        }
        let shown = state_from_db(&state)?.as_str();
        if !states.contains(&shown) {
            states.push(shown);
        }
    }
    Err(StoreError::NotResolvable {
        post: post.to_owned(),
        channel: channel.to_owned(),
        state: states.join(", "),
    })
}
