//! Tenancy: every row belongs to an organization.
//!
//! Storage traits take an [`OrgId`] as the first argument of every method that touches
//! tenant data, and every table carries an `org_id` column that the query filters on. An
//! `OrgId` comes from the database (a session, an API token, an admin command) — the web layer
//! never builds one from user input, so a handler cannot name another tenant's rows.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
pub struct OrgId(Uuid);

impl OrgId {
    /// A new, random organization id (UUIDv7: time-ordered, index friendly).
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an id read from trusted storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
