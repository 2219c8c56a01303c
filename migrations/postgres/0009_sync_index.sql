-- What the last sync read of the post files, so the next one parses only the files whose bytes
-- changed: one row per post file (a hash of its bytes and what the calendar needs of its posts,
-- as compact JSON), and the fingerprint of the config they were synced with.
CREATE TABLE sync_files (
    path  TEXT PRIMARY KEY NOT NULL,
    hash  TEXT NOT NULL,
    posts TEXT NOT NULL
);

CREATE TABLE sync_state (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
