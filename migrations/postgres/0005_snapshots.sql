-- Engagement snapshots: the figures of a published delivery, read from its network at the
-- offsets of `[metrics] after`. A figure the network does not give is NULL, never 0.
CREATE TABLE snapshots (
    delivery    TEXT   NOT NULL,
    -- The offset after publication, in milliseconds (`[metrics] after`).
    after_ms    BIGINT NOT NULL CHECK (after_ms >= 0),
    fetched_at  BIGINT NOT NULL,
    likes       BIGINT,
    reposts     BIGINT,
    replies     BIGINT,
    quotes      BIGINT,
    impressions BIGINT,
    clicks      BIGINT,
    PRIMARY KEY (delivery, after_ms)
);

-- Fetches that failed: the delivery's snapshot is not due again before `not_before`. Kept apart
-- from `deliveries`, so a metrics failure never touches a delivery's state or attempts.
CREATE TABLE snapshot_failures (
    delivery   TEXT   PRIMARY KEY NOT NULL,
    failures   BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    error      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
