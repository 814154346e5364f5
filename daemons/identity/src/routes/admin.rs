//! `/api/admin/…`: the organization's directory (users, groups, custom roles) and branding,
//! for the admin console and for API clients. Every handler asks the one permission check
//! ([`IdentityService::authorize`](crate::IdentityService::authorize)) first; the service
//! checks the finer rules (owners, not handing out more than one holds).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use nexus_runtime::{ApiError, ApiJson, ApiPath};
use nexus_wire::codes;
use serde_json::{Value, json};

use super::{Authenticated, Authorized, RouteState, need, no_store};
use crate::authz::{Permission, Permissions};
use crate::model::{CustomRole, Grantee, Group, Role, User, UserId};
use crate::service::directory::{MAX_LOGO_BYTES, UserDetail};

pub(super) fn routes() -> Router<RouteState> {
    Router::new()
        .route("/api/admin/permissions", get(permissions))
        .route("/api/admin/users", get(list_users).post(add_user))
        .route("/api/admin/users/{id}", get(user).patch(update_user))
        .route("/api/admin/users/{id}/reset-password", post(reset_password))
        .route("/api/admin/users/{id}/reset-mfa", post(reset_mfa))
        .route("/api/admin/groups", get(list_groups).post(create_group))
        .route(
            "/api/admin/groups/{id}",
            get(group).patch(update_group).delete(delete_group),
        )
        .route(
            "/api/admin/groups/{id}/members/{user}",
            put(member).delete(member),
        )
        .route("/api/admin/roles", get(list_roles).post(create_role))
        .route(
            "/api/admin/roles/{id}",
            get(role).patch(update_role).delete(delete_role),
        )
        .route(
            "/api/admin/roles/{id}/users/{user}",
            put(user_grant).delete(user_grant),
        )
        .route(
            "/api/admin/roles/{id}/groups/{group}",
            put(group_grant).delete(group_grant),
        )
        .route("/api/admin/org", get(org).patch(update_org))
        .route("/api/admin/org/logo", put(set_logo).delete(remove_logo))
        .route("/api/org/logo", get(logo))
}

fn perms_json(p: Permissions) -> Vec<&'static str> {
    p.iter().map(Permission::as_str).collect()
}

/// The organization's outside directories by id, to name where a user or group comes from.
struct DirectoryNames(std::collections::HashMap<uuid::Uuid, String>);

impl DirectoryNames {
    async fn of(state: &RouteState, org: nexus_store::OrgId) -> Result<Self, ApiError> {
        let all = state.service.store().directories(org).await?;
        Ok(Self(all.into_iter().map(|d| (d.id, d.name)).collect()))
    }

    fn json(&self, id: Option<uuid::Uuid>) -> Value {
        id.map_or(
            Value::Null,
            |id| json!({ "id": id, "name": self.0.get(&id).cloned().unwrap_or_default() }),
        )
    }
}

fn user_json(u: &User, dirs: &DirectoryNames) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "role": u.role.as_str(),
        "disabled": u.disabled,
        "must_change_password": u.must_change_password,
        "created_at": u.created_at,
        "directory": dirs.json(u.directory),
    })
}

fn group_json(g: &Group, dirs: &DirectoryNames) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "member_count": g.member_count,
        "created_at": g.created_at,
        "directory": dirs.json(g.directory),
    })
}

fn role_json(r: &CustomRole) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "permissions": perms_json(r.permissions),
        "created_at": r.created_at,
    })
}

fn detail_json(d: &UserDetail, dirs: &DirectoryNames) -> Value {
    let mut v = user_json(&d.user, dirs);
    v["groups"] = json!(d.groups);
    v["roles"] = d.roles.iter().map(role_json).collect();
    v["permissions"] = json!(perms_json(d.permissions));
    v
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    Role::parse(role).ok_or_else(|| {
        ApiError::bad_request(
            codes::VALIDATION_FAILED,
            format!("`{role}` is not a built-in role; use owner, admin, member or guest"),
        )
    })
}

/// The permission catalogue and what each built-in role holds.
async fn permissions(_: Authorized<need::UsersRead>) -> Result<ApiJson<Value>, ApiError> {
    let catalogue: Vec<Value> = Permission::ALL
        .iter()
        .map(|p| json!({ "name": p.as_str(), "description": p.description() }))
        .collect();
    let builtin: Vec<Value> = [Role::Owner, Role::Admin, Role::Member, Role::Guest]
        .iter()
        .map(|r| json!({ "name": r.as_str(), "permissions": perms_json(Permissions::of_role(*r)) }))
        .collect();
    Ok(ApiJson(
        json!({ "permissions": catalogue, "builtin_roles": builtin }),
    ))
}

async fn list_users(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersRead>,
) -> Result<ApiJson<Value>, ApiError> {
    let users = state.service.store().list_users(access.org).await?;
    let dirs = DirectoryNames::of(&state, access.org).await?;
    Ok(ApiJson(
        json!({ "users": users.iter().map(|u| user_json(u, &dirs)).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserRequest {
    email: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default = "member_role")]
    role: String,
}

fn member_role() -> String {
    "member".into()
}

/// Adds a user with a one-time password, in this answer only; they choose their own at
/// first login.
async fn add_user(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> Result<Response, ApiError> {
    let role = parse_role(&req.role)?;
    let (user, otp) = state
        .service
        .add_user_by_admin(&access, &req.email, req.display_name.as_deref(), role)
        .await?;
    let mut body = user_json(&user, &DirectoryNames::of(&state, access.org).await?);
    body["one_time_password"] = Value::String(otp);
    Ok(no_store((StatusCode::CREATED, ApiJson(body))))
}

async fn user(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersRead>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<ApiJson<Value>, ApiError> {
    let detail = state.service.user_detail(access.org, UserId(id)).await?;
    let dirs = DirectoryNames::of(&state, access.org).await?;
    Ok(ApiJson(detail_json(&detail, &dirs)))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUserRequest {
    role: Option<String>,
    disabled: Option<bool>,
}

async fn update_user(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<ApiJson<Value>, ApiError> {
    let id = UserId(id);
    if let Some(role) = &req.role {
        state
            .service
            .set_user_role(&access, id, parse_role(role)?)
            .await?;
    }
    if let Some(disabled) = req.disabled {
        state
            .service
            .set_disabled_by_admin(&access, id, disabled)
            .await?;
    }
    let detail = state.service.user_detail(access.org, id).await?;
    let dirs = DirectoryNames::of(&state, access.org).await?;
    Ok(ApiJson(detail_json(&detail, &dirs)))
}

async fn reset_password(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Response, ApiError> {
    let otp = state
        .service
        .reset_password_by_admin(&access, UserId(id))
        .await?;
    Ok(no_store(ApiJson(json!({ "one_time_password": otp }))))
}

async fn reset_mfa(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .reset_mfa_by_admin(&access, UserId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersRead>,
) -> Result<ApiJson<Value>, ApiError> {
    let groups = state.service.list_groups(&access).await?;
    let dirs = DirectoryNames::of(&state, access.org).await?;
    Ok(ApiJson(
        json!({ "groups": groups.iter().map(|g| group_json(g, &dirs)).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRequest {
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_group(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiJson(req): ApiJson<GroupRequest>,
) -> Result<Response, ApiError> {
    let g = state
        .service
        .create_group(&access, &req.name, &req.description)
        .await?;
    let dirs = DirectoryNames::of(&state, access.org).await?;
    Ok((StatusCode::CREATED, ApiJson(group_json(&g, &dirs))).into_response())
}

async fn group(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersRead>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<ApiJson<Value>, ApiError> {
    let (g, members) = state.service.group_detail(&access, id).await?;
    let dirs = DirectoryNames::of(&state, access.org).await?;
    let mut body = group_json(&g, &dirs);
    body["members"] = members.iter().map(|u| user_json(u, &dirs)).collect();
    Ok(ApiJson(body))
}

async fn update_group(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(req): ApiJson<GroupRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .update_group(&access, id, &req.name, &req.description)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_group(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state.service.delete_group(&access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT` adds the user to the group, `DELETE` removes them.
async fn member(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    method: Method,
    ApiPath((group, user)): ApiPath<(uuid::Uuid, uuid::Uuid)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .set_group_member(&access, group, UserId(user), method == Method::PUT)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_roles(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersRead>,
) -> Result<ApiJson<Value>, ApiError> {
    let roles = state.service.list_roles(&access).await?;
    Ok(ApiJson(
        json!({ "roles": roles.iter().map(role_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRequest {
    name: String,
    #[serde(default)]
    description: String,
    permissions: Vec<String>,
}

async fn create_role(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::RolesManage>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<Response, ApiError> {
    let r = state
        .service
        .create_role(&access, &req.name, &req.description, &req.permissions)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(role_json(&r))).into_response())
}

async fn role(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersRead>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<ApiJson<Value>, ApiError> {
    let (r, grants) = state.service.role_detail(&access, id).await?;
    let mut body = role_json(&r);
    body["users"] = grants
        .iter()
        .filter_map(|g| match g {
            Grantee::User(u) => Some(json!(u)),
            Grantee::Group(_) => None,
        })
        .collect();
    body["groups"] = grants
        .iter()
        .filter_map(|g| match g {
            Grantee::Group(id) => Some(json!(id)),
            Grantee::User(_) => None,
        })
        .collect();
    Ok(ApiJson(body))
}

async fn update_role(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::RolesManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<ApiJson<Value>, ApiError> {
    let r = state
        .service
        .update_role(&access, id, &req.name, &req.description, &req.permissions)
        .await?;
    Ok(ApiJson(role_json(&r)))
}

async fn delete_role(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::RolesManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state.service.delete_role(&access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT` grants the role to the user, `DELETE` takes it back.
async fn user_grant(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    method: Method,
    ApiPath((role, user)): ApiPath<(uuid::Uuid, uuid::Uuid)>,
) -> Result<StatusCode, ApiError> {
    let to = Grantee::User(UserId(user));
    state
        .service
        .set_role_grant(&access, role, to, method == Method::PUT)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT` grants the role to the group's members, `DELETE` takes it back.
async fn group_grant(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::UsersManage>,
    method: Method,
    ApiPath((role, group)): ApiPath<(uuid::Uuid, uuid::Uuid)>,
) -> Result<StatusCode, ApiError> {
    let to = Grantee::Group(group);
    state
        .service
        .set_role_grant(&access, role, to, method == Method::PUT)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn org_json(state: &RouteState, org: nexus_store::OrgId) -> Result<Value, ApiError> {
    let o = state
        .service
        .store()
        .org(org)
        .await?
        .ok_or_else(|| ApiError::not_found("organization not found"))?;
    let has_logo = state.service.store().has_logo(org).await?;
    Ok(json!({
        "id": o.id,
        "slug": o.slug,
        "name": o.name,
        "brand_color": o.brand_color,
        "has_logo": has_logo,
        "created_at": o.created_at,
    }))
}

async fn org(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
) -> Result<ApiJson<Value>, ApiError> {
    Ok(ApiJson(org_json(&state, access.org).await?))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandingRequest {
    name: String,
    #[serde(default)]
    brand_color: String,
}

async fn update_org(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiJson(req): ApiJson<BrandingRequest>,
) -> Result<ApiJson<Value>, ApiError> {
    state
        .service
        .set_branding(&access, &req.name, &req.brand_color)
        .await?;
    Ok(ApiJson(org_json(&state, access.org).await?))
}

/// Uploads the logo as the raw request body (PNG, JPEG or WebP).
async fn set_logo(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("a logo must be at most {} KiB", MAX_LOGO_BYTES / 1024),
        )
    })?;
    state.service.set_logo(&access, body.to_vec()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_logo(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
) -> Result<StatusCode, ApiError> {
    state.service.remove_logo(&access).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's organization's logo, for the web shell (any member may see it).
async fn logo(State(state): State<RouteState>, auth: Authenticated) -> Result<Response, ApiError> {
    let Some(logo) = state.service.store().logo(auth.org.id).await? else {
        return Err(ApiError::not_found("this organization has no logo"));
    };
    Ok((
        [
            (header::CONTENT_TYPE, logo.content_type),
            (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        logo.data,
    )
        .into_response())
}
