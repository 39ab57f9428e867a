-- feedsmith schema (SQLite). Times are RFC 3339 UTC text, as sqlx encodes chrono::DateTime<Utc>.

CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    -- The configured URL identifies the feed (interface.md); it never changes.
    url                  TEXT    NOT NULL UNIQUE,
    -- Where the feed is fetched now: differs from `url` after a permanent redirect or autodiscovery.
    fetch_url            TEXT,
    name                 TEXT    NOT NULL,
    collection           TEXT    NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_polled_at       TEXT,
    last_success_at      TEXT,
    last_status          INTEGER,
    last_outcome         TEXT,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- Not before this time (Retry-After on 429/503).
    retry_after          TEXT,
    -- 410 Gone: not polled again until the configuration changes (config_hash differs).
    gone                 INTEGER NOT NULL DEFAULT 0,
    -- Hash of the feed's [[feeds]] table, to notice configuration changes.
    config_hash          TEXT,
    -- The earliest time the scheduler may poll the feed again (scheduler/policy.rs).
    next_due_at          TEXT,
    -- Who is polling the feed right now, and until when the claim holds (scheduler leases).
    lease_owner          TEXT,
    lease_until          TEXT,
    -- RSS <ttl> in minutes, from the last successful parse.
    ttl_minutes          INTEGER,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);

CREATE TABLE posts (
    id               INTEGER PRIMARY KEY,
    feed_id          INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key        TEXT    NOT NULL,
    canonical_url    TEXT    NOT NULL UNIQUE,
    -- `_collection/yyyy-MM-dd-slug.md`; unique so two posts never share a file.
    path             TEXT    NOT NULL UNIQUE,
    collection       TEXT    NOT NULL,
    slug             TEXT    NOT NULL,
    date             TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    author           TEXT    NOT NULL,
    viewing_mode     TEXT    NOT NULL,
    feed_name        TEXT    NOT NULL,
    feed_url         TEXT    NOT NULL,
    categories       TEXT    NOT NULL, -- JSON array
    tags             TEXT    NOT NULL, -- JSON array
    tags_normalized  TEXT    NOT NULL, -- JSON array
    excerpt          TEXT    NOT NULL,
    content_markdown TEXT    NOT NULL,
    youtube_id       TEXT,
    reddit_segment   TEXT,
    content_hash     TEXT    NOT NULL,
    first_seen_at    TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    UNIQUE (feed_id, entry_key)
);

CREATE INDEX posts_by_date ON posts (date DESC, id DESC);
CREATE INDEX posts_by_feed ON posts (feed_id, date DESC);
CREATE INDEX posts_by_reddit_segment ON posts (collection, reddit_segment) WHERE reddit_segment IS NOT NULL;

-- Entries normalization decided not to publish (too short, no URL): remembered with their hash so
-- an unchanged entry is not re-processed on every poll, and a changed one is looked at again.
CREATE TABLE skipped_entries (
    feed_id      INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key    TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    seen_at      TEXT    NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
