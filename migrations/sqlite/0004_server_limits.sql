-- What each channel's server says about its own limits (Mastodon's /api/v2/instance), read when
-- the daemon starts; validate and preview use them instead of the network's defaults.
CREATE TABLE server_limits (
    channel            TEXT    PRIMARY KEY NOT NULL,
    instance           TEXT    NOT NULL,
    max_characters     INTEGER,
    characters_per_url INTEGER,
    max_media          INTEGER,
    fetched_at         INTEGER NOT NULL
) STRICT;
