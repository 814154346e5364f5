//! Hub: the portal. Lists the installed apps for the launcher; the web shell draws it.

use axum::Router;
use axum::routing::get;
use nexus_runtime::{App, AppContext};
use nexus_wire::{AppInfo, AppsResponse, ProductInfo};

#[derive(Debug, Default)]
pub struct HubApp;

impl App for HubApp {
    fn info(&self) -> AppInfo {
        AppInfo {
            id: "hub".to_owned(),
            name: "Hub".to_owned(),
            description: "Your start page: every app in one place".to_owned(),
            path: "/".to_owned(),
            icon: "grid".to_owned(),
        }
    }

    fn routes(&self, ctx: &AppContext) -> Result<Router, String> {
        // The list is fixed for the life of the process: serialize it once, answer with the
        // bytes. This route is the hot path of the launcher and of the benchmark.
        let body = apps_response(&ctx.apps);
        let bytes = serde_json_bytes(&body)?;
        Ok(Router::new().route(
            "/api/apps",
            get(move || {
                let bytes = bytes.clone();
                async move {
                    (
                        [
                            (axum::http::header::CONTENT_TYPE, "application/json"),
                            (axum::http::header::CACHE_CONTROL, "no-cache"),
                        ],
                        bytes,
                    )
                }
            }),
        ))
    }
}

/// The launcher's answer for a set of apps.
pub fn apps_response(apps: &[AppInfo]) -> AppsResponse {
    AppsResponse {
        product: ProductInfo {
            name: "NEXUS".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        apps: apps.to_vec(),
    }
}

fn serde_json_bytes(v: &AppsResponse) -> Result<axum::body::Bytes, String> {
    serde_json::to_vec(v)
        .map(axum::body::Bytes::from)
        .map_err(|e| format!("cannot encode the app list: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_lists_the_apps_in_order() {
        let r = apps_response(&[HubApp.info()]);
        assert_eq!(r.product.name, "NEXUS");
        assert_eq!(r.apps[0].id, "hub");
        assert!(serde_json_bytes(&r).is_ok());
    }
}
