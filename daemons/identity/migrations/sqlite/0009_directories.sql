-- Outside directories (LDAP / Active Directory) an organization syncs users and groups from.
-- `settings` is JSON (server URL, bind DN, bases, filters, attributes); `bind_password` is the
-- service account's password, needed in clear to bind, never returned by the API.
CREATE TABLE directories (
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    settings      TEXT NOT NULL,
    bind_password TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_sync_at  TEXT,
    last_sync     TEXT,
    last_error    TEXT,
    UNIQUE (org_id, name)
);

-- A user or group brought in by a directory names it and the entry's stable id there
-- (entryUUID, or objectGUID on Active Directory).
ALTER TABLE users ADD COLUMN directory_id BLOB REFERENCES directories (id) ON DELETE SET NULL;
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external ON users (directory_id, external_id);
ALTER TABLE org_groups ADD COLUMN directory_id BLOB REFERENCES directories (id) ON DELETE CASCADE;
ALTER TABLE org_groups ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX org_groups_external ON org_groups (directory_id, external_id);
