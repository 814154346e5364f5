-- Password reset links sent by e-mail. Only an HMAC of the link's token is kept; a link
-- works once, until it expires, and a newer link replaces older ones.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX password_resets_user ON password_resets (org_id, user_id);
