//! `nexusd-broken`: the real `nexusd` with one more app, `upgrade-probe`, that breaks an
//! upgrade the way real releases break — for the tests of `nexusctl upgrade`'s automatic
//! rollback. Never shipped: `cargo build --workspace --bins` builds it, `nexusctl release
//! build --nexusd target/debug/nexusd-broken` packs it like any release.
//!
//! - Its first migration creates a table and writes a row: the database has changed, and the
//!   old release refuses a schema it does not know, so a rollback must restore the data.
//! - With `UPGRADE_FIXTURE_FAULT=migration` in the environment of `nexusd migrate` its second
//!   migration fails (the "failing migration" case).
//! - Otherwise the daemon starts, reports ready, and its health check always fails (the
//!   "never becomes healthy" case) — unless `UPGRADE_FIXTURE_FAULT=none`: then it is a
//!   healthy release that changed the schema (for `nexusctl rollback --restore-snapshot`).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use nexus_runtime::{App, AppContext, BoxFuture, Health};
use nexus_store::migrate::{AppMigrations, Migration};
use nexus_wire::AppInfo;

const CREATE: Migration = Migration::new(
    1,
    "probe",
    "CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
     INSERT INTO upgrade_probe (id, note) VALUES (1, 'written by the broken release');",
);
const FAIL: Migration = Migration::new(
    2,
    "fails",
    "INSERT INTO upgrade_probe_missing_table (id) VALUES (1);",
);

static HEALTHY_MIGRATIONS: AppMigrations = AppMigrations {
    app: "upgrade-probe",
    sqlite: &[CREATE],
    postgres: &[CREATE],
};
static FAILING_MIGRATIONS: AppMigrations = AppMigrations {
    app: "upgrade-probe",
    sqlite: &[CREATE, FAIL],
    postgres: &[CREATE, FAIL],
};

struct Probe {
    failing_migration: bool,
    healthy: bool,
}

impl App for Probe {
    fn info(&self) -> AppInfo {
        AppInfo {
            id: "upgrade-probe".to_owned(),
            name: "Upgrade probe".to_owned(),
            description: "Breaks upgrades on purpose (tests only)".to_owned(),
            path: "/upgrade-probe".to_owned(),
            icon: "alert".to_owned(),
        }
    }

    fn migrations(&self) -> Option<&'static AppMigrations> {
        Some(if self.failing_migration {
            &FAILING_MIGRATIONS
        } else {
            &HEALTHY_MIGRATIONS
        })
    }

    fn routes(&self, _ctx: &AppContext) -> Result<axum::Router, String> {
        Ok(axum::Router::new())
    }

    fn health(&self, _ctx: &AppContext) -> BoxFuture<Health> {
        let healthy = self.healthy;
        Box::pin(async move {
            if healthy {
                Health::Healthy
            } else {
                Health::Unhealthy("this release is broken on purpose (nexusd-broken)".to_owned())
            }
        })
    }
}

fn main() -> ExitCode {
    let fault = std::env::var("UPGRADE_FIXTURE_FAULT").unwrap_or_default();
    nexusd::apps::add(vec![Arc::new(Probe {
        failing_migration: fault == "migration",
        healthy: fault == "none",
    })]);
    nexusd::commands::run(nexusd::cli::Cli::parse())
}
