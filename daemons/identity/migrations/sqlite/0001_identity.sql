CREATE TABLE organizations (
    id         BLOB PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id                   BLOB    PRIMARY KEY,
    org_id               BLOB    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email                TEXT    NOT NULL,
    display_name         TEXT    NOT NULL,
    role                 TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled             INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT    NOT NULL,
    UNIQUE (org_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    client     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (org_id, user_id);
