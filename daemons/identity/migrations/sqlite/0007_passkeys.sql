-- Passkeys (WebAuthn credentials). `passkey` is webauthn-rs's record of the credential
-- (public key, counter, flags) as JSON; `credential_id` (base64url) finds it at login.
CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX passkeys_user ON passkeys (org_id, user_id);

-- A WebAuthn ceremony between its two requests: one use, five minutes. Only a hash of the
-- id the browser holds is kept; `state` is the server's half (challenge, allowed keys).
CREATE TABLE webauthn_ceremonies (
    id_hash    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
