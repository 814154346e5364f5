-- Personal access tokens: the token itself is a signed JWT the user keeps; this row is its
-- record (name, scopes, expiry) and the place revocation is written.
CREATE TABLE api_tokens (
    id         BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (org_id, user_id);
CREATE INDEX api_tokens_revoked ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

-- OAuth 2.0 clients of an organization (client credentials; OIDC relying parties later).
CREATE TABLE oauth_clients (
    id          TEXT    PRIMARY KEY,
    org_id      BLOB    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL,
    scopes      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    disabled    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oauth_clients_org ON oauth_clients (org_id);
