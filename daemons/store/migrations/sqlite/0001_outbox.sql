CREATE TABLE nexus_outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      BLOB    NOT NULL UNIQUE,
    org_id        BLOB    NOT NULL,
    app           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    dispatched_at TEXT
);
CREATE INDEX nexus_outbox_pending ON nexus_outbox (seq) WHERE dispatched_at IS NULL;
