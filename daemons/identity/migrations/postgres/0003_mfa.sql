-- Second factors. A TOTP secret must be readable to check codes, so it is stored as is
-- (like Keycloak and Entra do); it is useless without the password it goes with.
CREATE TABLE mfa_totp (
    user_id      UUID        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id       UUID        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    secret       BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    -- NULL until the user proves their authenticator app produces the codes.
    confirmed_at TIMESTAMPTZ,
    -- The newest 30-second step accepted: a code is never accepted twice (RFC 6238 §5.2).
    last_step    BIGINT      NOT NULL DEFAULT 0
);

-- One-use recovery codes, stored as HMACs (they are long random strings, not passwords).
CREATE TABLE mfa_recovery_codes (
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
