-- Full article content (issue: fetch the linked page and extract the main text). One row per
-- linked URL, so a page is fetched once whichever feed or poll asks for it; failures are kept
-- with a retry time so a broken page is not fetched on every poll.
CREATE TABLE articles (
    url             TEXT    PRIMARY KEY,
    status          TEXT    NOT NULL, -- ok | failed | removed
    extractor       TEXT    NOT NULL, -- readability | css:<selector> | reddit-json
    content_html    TEXT,
    etag            TEXT,
    last_modified   TEXT,
    http_status     INTEGER,
    error           TEXT,
    failures        INTEGER NOT NULL DEFAULT 0,
    fetched_at      TEXT    NOT NULL,
    next_attempt_at TEXT
);
