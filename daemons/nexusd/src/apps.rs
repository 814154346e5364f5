//! Every app this binary carries, in launcher order.

use std::sync::Arc;

use nexus_runtime::App;

pub fn all() -> Vec<Arc<dyn App>> {
    vec![
        Arc::new(nexus_hub::HubApp),
        Arc::new(nexus_identity::IdentityApp::default()),
    ]
}
