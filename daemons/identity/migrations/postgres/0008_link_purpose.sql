-- A one-use password link is either a reset link (mailed on request) or the first-login
-- setup link (printed by `nexusctl init`). Issuing one replaces only older links of the
-- same kind, so a reset request from anybody cannot cancel an unused setup link.
ALTER TABLE password_resets ADD COLUMN purpose TEXT NOT NULL DEFAULT 'reset';
