-- What each channel's server says about its own limits (Mastodon's /api/v2/instance), read when
-- the daemon starts; validate and preview use them instead of the network's defaults.
CREATE TABLE server_limits (
    channel            text   PRIMARY KEY NOT NULL,
    instance           text   NOT NULL,
    max_characters     bigint,
    characters_per_url bigint,
    max_media          bigint,
    fetched_at         bigint NOT NULL
);
