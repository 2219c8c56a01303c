-- The upload ledger: media a channel already uploaded, so that a retry after a crash or an
-- `unknown` outcome reuses what the network still accepts instead of uploading it again.
-- `media_key` is chosen by the adapter (the SHA-256 of the bytes, with the delivery id where a
-- network's media belongs to one post). Instants are UTC Unix milliseconds.
CREATE TABLE media_uploads (
    channel     TEXT    NOT NULL,
    media_key   TEXT    NOT NULL,
    remote_id   TEXT    NOT NULL,
    expires_at  INTEGER,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (channel, media_key)
) STRICT;
