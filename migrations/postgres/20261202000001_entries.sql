-- The entry as parsed (issue 22); the same table as migrations/sqlite.
CREATE TABLE entries (
    feed_id       BIGINT      NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key     TEXT        NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    data          BYTEA       NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
