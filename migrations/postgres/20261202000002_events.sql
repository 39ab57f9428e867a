-- The outbox (docs/events.md): every event is written in the same transaction as the change that
-- caused it, and webhooks are delivered from here, at least once, across restarts.
-- Times are Unix milliseconds (BIGINT): compared and ordered as numbers by both backends.
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY, -- never reused: receivers page by it
    type        TEXT    NOT NULL,                  -- post.created, feed.failing, ...
    feed_id     BIGINT,
    post_id     BIGINT,
    created_at  BIGINT  NOT NULL,
    data        TEXT    NOT NULL                   -- JSON: what the event says beyond the ids
);
CREATE INDEX events_created_at ON events (created_at);

-- A feed's health when it is not plainly ok (failing, blocked, gone, stale), or while a failure
-- streak is counted (state 'ok' with failing_since). No row: healthy.
CREATE TABLE feed_health (
    feed_id       BIGINT  PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    state         TEXT    NOT NULL,
    failing_since BIGINT,
    changed_at    BIGINT  NOT NULL
);

-- How far each webhook's deliveries have been created from the outbox.
CREATE TABLE webhook_cursors (
    webhook       TEXT    PRIMARY KEY,
    last_event_id BIGINT  NOT NULL
);

-- One row per event x webhook. A replica claims a due row with a lease (lease_owner,
-- lease_until) before sending it; delivered only after a 2xx, dead after max_attempts.
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    event_id        BIGINT  NOT NULL,
    webhook         TEXT    NOT NULL,
    delivery_id     TEXT    NOT NULL UNIQUE,       -- X-Feedsmith-Delivery
    order_key       TEXT    NOT NULL,              -- post:ID or feed:ID: sent in event order
    status          TEXT    NOT NULL,              -- pending, delivered, dead
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT,
    UNIQUE (event_id, webhook)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_order ON deliveries (webhook, order_key, status);
