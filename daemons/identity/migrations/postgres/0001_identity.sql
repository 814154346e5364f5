CREATE TABLE organizations (
    id         UUID        PRIMARY KEY,
    slug       TEXT        NOT NULL UNIQUE,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id                   UUID        PRIMARY KEY,
    org_id               UUID        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email                TEXT        NOT NULL,
    display_name         TEXT        NOT NULL,
    role                 TEXT        NOT NULL,
    password_hash        TEXT        NOT NULL,
    must_change_password BOOLEAN     NOT NULL DEFAULT FALSE,
    disabled             BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE sessions (
    token_hash TEXT        PRIMARY KEY,
    org_id     UUID        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    client     TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (org_id, user_id);
