-- Hosts, not feeds, are the unit of politeness (src/fetch/hosts.rs): each host's pace and pause,
-- shared by every process on this database, so a `fetch` right after a 429 sends nothing to
-- that host and `hosts list` shows the pause.
CREATE TABLE hosts (
    -- The host name, lowercase, without the port.
    host              TEXT PRIMARY KEY,
    -- The GCRA's theoretical arrival time: when the host's token bucket is full again.
    next_request_at   TIMESTAMPTZ,
    -- No request to the host before this time (Retry-After, a block page, connect failures).
    paused_until      TIMESTAMPTZ,
    -- The HTTP status and reason of the last pause (0: connect failures).
    pause_status      BIGINT,
    pause_reason      TEXT,
    -- The last 429 (or 503 with Retry-After).
    last_throttled_at TIMESTAMPTZ,
    -- Paced requests reserved through this table.
    requests          BIGINT NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL
);
