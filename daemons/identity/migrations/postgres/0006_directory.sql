-- Groups of users, custom roles (named sets of permissions) and who holds them, and each
-- organization's branding. Every row carries its organization; the joins below filter on it.
CREATE TABLE org_groups (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE group_members (
    org_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    group_id UUID NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    user_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (org_id, user_id);

-- Permissions are space-separated names from the catalogue in `authz.rs`.
CREATE TABLE org_roles (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE user_roles (
    org_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_id UUID NOT NULL REFERENCES org_roles (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, user_id)
);
CREATE INDEX user_roles_user ON user_roles (org_id, user_id);

CREATE TABLE group_roles (
    org_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_id  UUID NOT NULL REFERENCES org_roles (id) ON DELETE CASCADE,
    group_id UUID NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, group_id)
);
CREATE INDEX group_roles_group ON group_roles (org_id, group_id);

-- Branding: an accent colour (`#rrggbb`, empty for the default) and an optional logo.
ALTER TABLE organizations ADD COLUMN brand_color TEXT NOT NULL DEFAULT '';
CREATE TABLE org_logos (
    org_id       UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
