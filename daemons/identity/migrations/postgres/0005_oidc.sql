-- OpenID Connect: where a client may send users back to (space-separated absolute URLs;
-- empty for clients that only use client credentials).
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';

-- Authorization codes: one use, one minute. Only an HMAC of the code is kept.
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    org_id         UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);

-- Refresh tokens, rotated on every use. A family is every token descended from one login;
-- presenting a spent token again revokes the whole family (it was stolen or replayed).
CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family     UUID NOT NULL,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    auth_time  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX oauth_refresh_family ON oauth_refresh_tokens (family);
CREATE INDEX oauth_refresh_user ON oauth_refresh_tokens (org_id, user_id);
