CREATE TABLE nexus_outbox (
    seq           BIGSERIAL   PRIMARY KEY,
    event_id      UUID        NOT NULL UNIQUE,
    org_id        UUID        NOT NULL,
    app           TEXT        NOT NULL,
    kind          TEXT        NOT NULL,
    payload       JSONB       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    dispatched_at TIMESTAMPTZ
);
CREATE INDEX nexus_outbox_pending ON nexus_outbox (seq) WHERE dispatched_at IS NULL;
