-- Outside OpenID Connect providers an organization's people sign in through. The client
-- secret is needed in clear at the provider's token endpoint and never returned by the API.
CREATE TABLE identity_providers (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    create_users  BOOLEAN NOT NULL,
    trust_email   BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);

-- Which account a provider's subject (its stable `sub` for a person) signs in to. One account
-- per subject, and one subject per account and provider. `by_address`: linked because the
-- provider vouched for the account's e-mail address (not by the account's holder), which
-- holds only while the account has no more than a member's rights.
CREATE TABLE external_logins (
    provider_id   UUID NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    org_id        UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    by_address    BOOLEAN NOT NULL,
    PRIMARY KEY (provider_id, subject),
    UNIQUE (provider_id, user_id)
);
CREATE INDEX external_logins_user ON external_logins (org_id, user_id);

-- Pending sign-ins and passkey ceremonies are swept by expiry as new ones start.
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
