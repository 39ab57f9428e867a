-- feedsmith schema (PostgreSQL): the same tables and semantics as migrations/sqlite.

CREATE TABLE feeds (
    id                   BIGSERIAL PRIMARY KEY,
    url                  TEXT        NOT NULL UNIQUE,
    fetch_url            TEXT,
    name                 TEXT        NOT NULL,
    collection           TEXT        NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_polled_at       TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_status          BIGINT,
    last_outcome         TEXT,
    last_error           TEXT,
    consecutive_failures BIGINT      NOT NULL DEFAULT 0,
    retry_after          TIMESTAMPTZ,
    gone                 BOOLEAN     NOT NULL DEFAULT FALSE,
    config_hash          TEXT,
    next_due_at          TIMESTAMPTZ,
    -- The replica polling the feed now, and until when its claim holds (see docs/cluster.md).
    lease_owner          TEXT,
    lease_until          TIMESTAMPTZ,
    ttl_minutes          BIGINT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE INDEX feeds_due ON feeds (next_due_at) WHERE NOT gone;

CREATE TABLE posts (
    id               BIGSERIAL PRIMARY KEY,
    feed_id          BIGINT      NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key        TEXT        NOT NULL,
    canonical_url    TEXT        NOT NULL UNIQUE,
    path             TEXT        NOT NULL UNIQUE,
    collection       TEXT        NOT NULL,
    slug             TEXT        NOT NULL,
    date             TIMESTAMPTZ NOT NULL,
    title            TEXT        NOT NULL,
    description      TEXT        NOT NULL,
    author           TEXT        NOT NULL,
    viewing_mode     TEXT        NOT NULL,
    feed_name        TEXT        NOT NULL,
    feed_url         TEXT        NOT NULL,
    categories       TEXT        NOT NULL,
    tags             TEXT        NOT NULL,
    tags_normalized  TEXT        NOT NULL,
    excerpt          TEXT        NOT NULL,
    content_markdown TEXT        NOT NULL,
    youtube_id       TEXT,
    reddit_segment   TEXT,
    content_hash     TEXT        NOT NULL,
    first_seen_at    TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (feed_id, entry_key)
);

CREATE INDEX posts_by_date ON posts (date DESC, id DESC);
CREATE INDEX posts_by_feed ON posts (feed_id, date DESC);
CREATE INDEX posts_by_reddit_segment ON posts (collection, reddit_segment) WHERE reddit_segment IS NOT NULL;

CREATE TABLE skipped_entries (
    feed_id      BIGINT      NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key    TEXT        NOT NULL,
    content_hash TEXT        NOT NULL,
    reason       TEXT        NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
