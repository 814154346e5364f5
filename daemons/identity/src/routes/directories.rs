//! `/api/admin/directories`: the outside LDAP / Active Directory directories an
//! organization syncs users and groups from. The bind password goes in, never out.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use nexus_runtime::{ApiError, ApiJson, ApiPath};
use serde_json::{Value, json};

use super::{Authorized, RouteState, need};
use crate::model::Directory;
use crate::service::federation::DirectoryInput;

pub(super) fn routes() -> Router<RouteState> {
    Router::new()
        .route(
            "/api/admin/directories",
            get(list_directories).post(create_directory),
        )
        .route(
            "/api/admin/directories/{id}",
            get(directory)
                .patch(update_directory)
                .delete(delete_directory),
        )
        .route("/api/admin/directories/{id}/sync", post(sync_directory))
}

fn directory_json(d: &Directory) -> Value {
    let s = &d.settings;
    json!({
        "id": d.id,
        "name": d.name,
        "url": s.url,
        "bind_dn": s.bind_dn,
        "user_base": s.user_base,
        "user_filter": s.user_filter,
        "email_attribute": s.email_attribute,
        "name_attribute": s.name_attribute,
        "group_base": s.group_base,
        "group_filter": s.group_filter,
        "member_attribute": s.member_attribute,
        "starttls": s.starttls,
        "created_at": d.created_at,
        "last_sync_at": d.last_sync_at,
        "last_sync": d.last_sync,
        "last_error": d.last_error,
    })
}

async fn list_directories(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
) -> Result<ApiJson<Value>, ApiError> {
    let all = state.service.directories(&access).await?;
    Ok(ApiJson(
        json!({ "directories": all.iter().map(directory_json).collect::<Vec<_>>() }),
    ))
}

/// Adds a directory after binding to it with the service account given.
async fn create_directory(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiJson(req): ApiJson<DirectoryInput>,
) -> Result<Response, ApiError> {
    let d = state.service.create_directory(&access, &req).await?;
    Ok((StatusCode::CREATED, ApiJson(directory_json(&d))).into_response())
}

async fn directory(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<ApiJson<Value>, ApiError> {
    let d = state.service.directory(&access, id).await?;
    Ok(ApiJson(directory_json(&d)))
}

async fn update_directory(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(req): ApiJson<DirectoryInput>,
) -> Result<ApiJson<Value>, ApiError> {
    let d = state.service.update_directory(&access, id, &req).await?;
    Ok(ApiJson(directory_json(&d)))
}

/// Removes a directory; the users it brought are disabled, its groups deleted.
async fn delete_directory(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state.service.delete_directory(&access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Syncs now (the daemon also syncs every directory every 15 minutes).
async fn sync_directory(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<ApiJson<Value>, ApiError> {
    let report = state.service.sync_directory(&access, id).await?;
    Ok(ApiJson(json!(report)))
}
