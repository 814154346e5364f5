//! Every app this binary carries, in launcher order.

use std::sync::{Arc, OnceLock};

use nexus_runtime::App;

/// Apps a build adds to the standard set before it runs the commands (the upgrade tests'
/// deliberately broken release is `nexusd` plus one such app).
static MORE: OnceLock<Vec<Arc<dyn App>>> = OnceLock::new();

pub fn all() -> Vec<Arc<dyn App>> {
    let mut apps: Vec<Arc<dyn App>> = vec![
        Arc::new(nexus_hub::HubApp),
        Arc::new(nexus_identity::IdentityApp::default()),
    ];
    apps.extend(MORE.get().into_iter().flatten().cloned());
    apps
}

/// Adds `more` to [`all`] for the rest of the process; only the first call counts.
pub fn add(more: Vec<Arc<dyn App>>) {
    let _ = MORE.set(more);
}
