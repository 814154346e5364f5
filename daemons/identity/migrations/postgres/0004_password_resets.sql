-- Password reset links sent by e-mail. Only an HMAC of the link's token is kept; a link
-- works once, until it expires, and a newer link replaces older ones.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX password_resets_user ON password_resets (org_id, user_id);
