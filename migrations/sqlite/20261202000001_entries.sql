-- The entry as parsed (issue 22), beside each post and skipped entry, so `feedsmith reprocess`
-- can normalize it again with the current configuration: rules, taxonomy, collection,
-- normalization code. `data` is the entry and the feed-level fields normalization reads, as
-- compact JSON compressed with DEFLATE (src/store/entries.rs); see docs/rules.md for its size.
CREATE TABLE entries (
    feed_id       INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key     TEXT    NOT NULL,
    -- The poll that first stored the entry: an undated entry's post date, kept by reprocess.
    first_seen_at TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
