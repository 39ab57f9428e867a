-- Named leases for work that one replica at a time may do (issue 23: only the holder of the
-- `publish` lease commits into the site's git repository). `until_at` is in Unix seconds of the
-- database's clock; a lease past it is free for anyone to take.
CREATE TABLE IF NOT EXISTS leases (
    name     TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    until_at INTEGER NOT NULL
);
