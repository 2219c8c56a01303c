-- Engagement snapshots: the figures of a published delivery, read from its network at the
-- offsets of `[metrics] after`. A figure the network does not give is NULL, never 0.
CREATE TABLE snapshots (
    delivery    TEXT    NOT NULL,
    -- The offset after publication, in milliseconds (`[metrics] after`).
    after_ms    INTEGER NOT NULL CHECK (after_ms >= 0),
    fetched_at  INTEGER NOT NULL,
    likes       INTEGER,
    reposts     INTEGER,
    replies     INTEGER,
    quotes      INTEGER,
    impressions INTEGER,
    clicks      INTEGER,
    PRIMARY KEY (delivery, after_ms)
) STRICT;

-- Fetches that failed: the delivery's snapshot is not due again before `not_before`. Kept apart
-- from `deliveries`, so a metrics failure never touches a delivery's state or attempts.
CREATE TABLE snapshot_failures (
    delivery   TEXT    PRIMARY KEY NOT NULL,
    failures   INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    error      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
