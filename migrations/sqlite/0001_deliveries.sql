-- crieur's schema on SQLite. Every instant is UTC Unix milliseconds (INTEGER), as in the
-- PostgreSQL schema, so both backends hold the same values.

-- One (post, channel, thread item) to publish. `id` is the stable delivery id given by the
-- scheduler; it is also the `webhook-id` and the key adapters log.
CREATE TABLE deliveries (
    id                 TEXT    PRIMARY KEY NOT NULL,
    post               TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    item               INTEGER NOT NULL CHECK (item >= 0),
    network            TEXT    NOT NULL,
    -- `reconciling` is an `unknown` delivery under a lease while an instance asks the network
    -- whether it went out; `status` shows it as `unknown`.
    state              TEXT    NOT NULL CHECK (state IN ('queued', 'publishing', 'published',
                           'retrying', 'failed', 'unknown', 'reconciling', 'cancelled')),
    due_at             INTEGER NOT NULL,
    text               TEXT    NOT NULL,
    link               TEXT,
    -- JSON object with the rest of the delivery: category, article.
    payload            TEXT    NOT NULL,
    -- SHA-256 (hex) of network, text, link and payload: what `sync` compares.
    content_hash       TEXT    NOT NULL,
    -- Incremented by every claim for sending; with `lease_owner`, the fence of every outcome.
    attempt            INTEGER NOT NULL DEFAULT 0,
    -- `attempt` when the retry budget last started (creation, `resolve --retry`, revival).
    retries_from       INTEGER NOT NULL DEFAULT 0,
    attempt_started_at INTEGER,
    -- Start of the earliest attempt that may have reached the network (set on `unknown`).
    maybe_sent_since   INTEGER,
    lease_owner        TEXT,
    lease_expires_at   INTEGER,
    not_before         INTEGER,
    first_unknown_at   INTEGER,
    remote_id          TEXT,
    url                TEXT,
    error              TEXT,
    -- 'sync' (removed from the post files: revived when it comes back) or 'resolve'.
    cancelled_by       TEXT,
    published_at       INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (post, channel, item)
) STRICT;

-- The claim: claimable states by due time.
CREATE INDEX deliveries_by_state_due ON deliveries (state, due_at);
-- Lease rescue.
CREATE INDEX deliveries_by_lease ON deliveries (lease_expires_at)
    WHERE state IN ('publishing', 'reconciling');
-- History (the duplicate rule).
CREATE INDEX deliveries_by_published_at ON deliveries (published_at)
    WHERE state = 'published';

-- OAuth tokens, sealed with ChaCha20-Poly1305 (associated data: the channel name).
CREATE TABLE tokens (
    channel        TEXT    PRIMARY KEY NOT NULL,
    nonce          BLOB,
    ciphertext     BLOB,
    expires_at     INTEGER,
    revoked_reason TEXT,
    updated_at     INTEGER NOT NULL
) STRICT;

-- Who refreshes a channel's token now; a row whose `expires_at` passed is free.
CREATE TABLE refresh_locks (
    channel    TEXT    PRIMARY KEY NOT NULL,
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- A channel whose deliveries wait (rate limit, endpoint gone) until `until_at`.
CREATE TABLE channel_holds (
    channel    TEXT    PRIMARY KEY NOT NULL,
    until_at   INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
