-- The article queue (full content), kept in the store so a restart, or the next one-shot
-- `fetch`, continues it: one row per linked page waiting to be fetched, with the entry as
-- parsed and its feed's document fields (JSON), to normalize the post again when the page
-- arrives. Attempts and the next try time live in `articles` (the page cache).
CREATE TABLE article_jobs (
    url       TEXT PRIMARY KEY,
    -- The configured feed URL (feeds.url): the job is dropped when the feed is.
    feed_url  TEXT NOT NULL,
    entry     TEXT NOT NULL,
    meta      TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
