-- The optional language-model step ([enrich] endpoint/model): the validated answer for a post's
-- source entry (content hash) and model, so a post is enriched once, whatever polls or replicas
-- see it again.
CREATE TABLE enrichments (
    content_hash TEXT        NOT NULL,
    model        TEXT        NOT NULL,
    result       TEXT        NOT NULL, -- the validated JSON answer
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (content_hash, model)
);
