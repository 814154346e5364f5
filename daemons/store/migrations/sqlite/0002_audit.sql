-- The append-only, hash-chained audit log (see src/audit/mod.rs). Every value that goes into
-- a record's hash is stored as text exactly as it was hashed, so verification needs nothing
-- but these columns.
CREATE TABLE nexus_audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    org_id    TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    source    TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE INDEX nexus_audit_org ON nexus_audit (org_id, seq);

-- Append-only for every code path: changing or removing a record takes deliberately
-- dropping these triggers first, and `audit verify` detects the result either way.
CREATE TRIGGER nexus_audit_no_update BEFORE UPDATE ON nexus_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER nexus_audit_no_delete BEFORE DELETE ON nexus_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
